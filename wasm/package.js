// Lays out the npm package and packs it:
//   node wasm/package.js [--out DIR]      (default build/release) -> DIR/denselab-VERSION.tgz
// The package is flat: the JS API (wasm/*.js and its .d.ts), the WASM cores (one thread, threads), the Node CLI as
// `bin`, and the float32 model with the class index in models/. The float32 model is inside
// (32 MB, about 30 MB packed) rather than fetched from a URL: `npx denselab classify` then works
// offline and prints Keras's numbers, which is the project's promise; the float16 file would
// halve the download but move probabilities by up to about 0.005.
// No dependencies: `npm install denselab-VERSION.tgz --offline` needs no registry.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let out = path.join(root, 'build/release');
if (args[0] === '--out' && args[1] && args.length === 2) out = path.resolve(args[1]);
else if (args.length) fail('usage: node wasm/package.js [--out DIR]');

const project = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const stage = path.join(root, 'build/package');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(path.join(stage, 'models'), { recursive: true });

const copy = (src, rel) => {
  if (!fs.existsSync(src)) fail(`missing ${path.relative(root, src)}: run ./build.sh first`);
  fs.copyFileSync(src, path.join(stage, rel));
  fs.chmodSync(path.join(stage, rel), 0o644);
};
// The JS API and the Node CLI: every module of wasm/ except this tool.
for (const f of fs.readdirSync(here).sort()) {
  if (/\.(js|d\.ts)$/.test(f) && f !== 'package.js') copy(path.join(here, f), f);
}
copy(path.join(root, 'README.md'), 'README.md');
copy(path.join(root, 'CHANGELOG.md'), 'CHANGELOG.md');
// The cores in core/, single-threaded and threaded (build/wasm-mt: denselab_core_mt.{mjs,wasm,worker.js}).
// The threads' worker script is CommonJS (Emscripten 3.1.6), so core/ says so for its .js files,
// as the build trees do.
fs.mkdirSync(path.join(stage, 'core'));
fs.writeFileSync(path.join(stage, 'core/package.json'), '{"type": "commonjs"}\n');
for (const dir of ['build/wasm/wasm', 'build/wasm-mt/wasm']) {
  const cores = fs.existsSync(path.join(root, dir)) ? fs.readdirSync(path.join(root, dir)).filter((f) => f.startsWith('denselab_core')) : [];
  for (const f of cores) copy(path.join(root, dir, f), `core/${f}`);
}
for (const f of ['denselab_core.wasm', 'denselab_core_mt.wasm']) {
  if (!fs.existsSync(path.join(stage, 'core', f))) fail(`missing ${f}: run ./build.sh first`);
}
for (const f of ['densenet121.dlm', 'imagenet_class_index.json']) copy(path.join(root, 'build/models', f), `models/${f}`);
fs.chmodSync(path.join(stage, 'cli.js'), 0o755);

const pkg = {
  name: project.name,
  version: project.version,
  description: project.description,
  license: project.license,
  type: 'module',
  main: './denselab.js',
  types: './denselab.d.ts',
  exports: {
    '.': { types: './denselab.d.ts', default: './denselab.js' },
    './node': { types: './node.d.ts', default: './node.js' },
    './experiment': './experiment.js',
    './train': './train.js',
    './package.json': './package.json',
  },
  bin: { denselab: 'cli.js' },
  engines: project.engines,
};
fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

fs.mkdirSync(out, { recursive: true });
const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', out], { cwd: stage, encoding: 'utf8' }).trim().split('\n').pop();
const size = fs.statSync(path.join(out, name)).size;
console.log(`package: wrote ${path.relative(root, path.join(out, name))} (${(size / 1e6).toFixed(1)} MB)`);
