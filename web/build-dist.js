// Assembles the self-contained static site dist/ (see notes: build layout):
//   node web/build-dist.js [--out DIR]
// Cleans the output folder, copies the pages and their workers (web/), the JS API, the WASM
// core, the model files and labels (and Fashion-MNIST if present), then writes
// sw.js with a version derived from the content hash of everything it caches.
// All URLs in the site are relative, so dist/ works from any host path.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

// Files of web/ that are tools or templates, not page files.
const NOT_PAGE = new Set(['build-dist.js', 'serve.js', 'sw.js']);
// Large files fetched by the page itself: the service worker caches them as the
// page downloads them (or when that page asks), not during install, so each page
// stores only what it uses (?model=f16 only the float16 file).
const LAZY = (rel) => rel.startsWith('models/') || rel.startsWith('data/');
const FASHION = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

function fail(msg) {
  console.error(`build-dist: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  let out = path.join(root, 'dist');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else fail(`unexpected argument ${argv[i]}\nusage: node web/build-dist.js [--out DIR]`);
  }
  return { out };
}

function need(rel, hint) {
  const p = path.join(root, rel);
  if (!fs.existsSync(p)) fail(`missing input ${rel}${hint ? ` (${hint})` : ''}`);
  return p;
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function main() {
  const { out } = parseArgs(process.argv.slice(2));
  if (out === root || root.startsWith(out + path.sep)) fail(`refusing to clean ${out}: it contains the project`);

  // [source, destination relative to dist/]
  const copies = [];
  const webDir = path.join(root, 'web');
  for (const name of fs.readdirSync(webDir).sort()) {
    const src = path.join(webDir, name);
    if (NOT_PAGE.has(name) || !fs.statSync(src).isFile() || name.startsWith('.')) continue;
    copies.push([src, name]);
  }
  for (const page of ['index.html', 'fashion.html', 'worker.js']) {
    if (!copies.some(([, d]) => d === page)) fail(`missing input web/${page}`);
  }
  need('web/sw.js', 'service worker template');

  // The page and its workers import the JS API from beside them: dist/ is flat.
  const build = 'run ./build.sh first';
  copies.push([need('wasm/denselab.js', 'the JS API'), 'denselab.js']);
  copies.push([need('wasm/experiment.js', 'the experiment module the workers share'), 'experiment.js']);
  copies.push([need('wasm/rbf-pairs.js', 'the RBF SVM pair scheduling experiment.js imports'), 'rbf-pairs.js']);
  copies.push([need('wasm/train.js', "the train page's module (your own classes)"), 'train-lib.js']);
  copies.push([need('build/wasm/wasm/denselab_core.mjs', build), 'denselab_core.mjs']);
  copies.push([need('build/wasm/wasm/denselab_core.wasm', build), 'denselab_core.wasm']);
  // The threaded build (issue 12), used when the page is crossOriginIsolated.
  for (const f of ['denselab_core_mt.mjs', 'denselab_core_mt.wasm', 'denselab_core_mt.worker.js']) {
    copies.push([need(`build/wasm-mt/wasm/${f}`, build), f]);
  }
  for (const m of ['densenet121.dlm', 'densenet121-f16.dlm', 'imagenet_class_index.json']) {
    copies.push([need(`build/models/${m}`, build), `models/${m}`]);
  }
  // Fashion-MNIST is optional: Debian's dataset package, else build.sh's download
  // (same environment overrides as build.sh).
  const fashionDirs = [
    process.env.DENSELAB_FASHION_DIR || '/usr/share/datasets/fashion-mnist',
    path.join(path.resolve(root, process.env.DENSELAB_DOWNLOADS || 'build/downloads'), 'fashion-mnist'),
  ];
  for (const dir of fashionDirs) {
    if (FASHION.every((f) => fs.existsSync(path.join(dir, f)))) {
      for (const f of FASHION) copies.push([path.join(dir, f), `data/fashion-mnist/${f}`]);
      break;
    }
  }

  // The pages' footer names the release: package.json's version and the float32 model's SHA-256.
  const { version: release } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const modelSha = sha256(need('build/models/densenet121.dlm', build));
  const stamp = (html) => html.replaceAll('@build:release', release)
    .replaceAll('@build:model-sha256-short', modelSha.slice(0, 12)).replaceAll('@build:model-sha256', modelSha);

  fs.rmSync(out, { recursive: true, force: true });
  const assets = [];
  for (const [src, rel] of copies) {
    const dst = path.join(out, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (rel.endsWith('.html')) fs.writeFileSync(dst, stamp(fs.readFileSync(src, 'utf8')));
    else fs.copyFileSync(src, dst);
    fs.chmodSync(dst, 0o644); // sources may be read-only (../shared)
    assets.push({ path: rel, size: fs.statSync(dst).size, sha256: sha256(dst), lazy: LAZY(rel) });
  }
  assets.sort((a, b) => (a.path < b.path ? -1 : 1));

  // The version changes whenever any cached file (or the worker template) changes.
  const swSrc = fs.readFileSync(path.join(webDir, 'sw.js'), 'utf8');
  const h = crypto.createHash('sha256').update(swSrc);
  for (const a of assets) h.update(`${a.path} ${a.sha256}\n`);
  const version = h.digest('hex').slice(0, 16);

  const VERSION_LINE = /^const VERSION = 'dev'; \/\/ @build:version$/m;
  const ASSETS_LINE = /^const ASSETS = \[\]; \/\/ @build:assets$/m;
  if (!VERSION_LINE.test(swSrc) || !ASSETS_LINE.test(swSrc)) fail('web/sw.js lacks the @build:version / @build:assets lines');
  const sw = swSrc
    .replace(VERSION_LINE, `const VERSION = '${version}';`)
    .replace(ASSETS_LINE, `const ASSETS = ${JSON.stringify(assets, null, 1)};`);
  fs.writeFileSync(path.join(out, 'sw.js'), sw);

  const total = assets.reduce((s, a) => s + a.size, 0);
  console.log(`build-dist: wrote ${path.relative(root, out) || out}/ (${copies.length + 1} files, ` +
    `${(total / 1e6).toFixed(1)} MB cached offline, version ${version})`);
}

main();
