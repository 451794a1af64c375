// Packs the static site (dist/) for people who serve it themselves:
//   node web/build-release.js [--out DIR]     (default build/release) -> DIR/denselab-site-VERSION.zip
// The zip holds one folder, denselab-site-VERSION/, with the site, a README.txt (how to serve
// it) and SHA256SUMS (every file, checkable with `sha256sum -c SHA256SUMS`).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(msg) {
  console.error(`build-release: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let out = path.join(root, 'build/release');
if (args[0] === '--out' && args[1] && args.length === 2) out = path.resolve(args[1]);
else if (args.length) fail('usage: node web/build-release.js [--out DIR]');

const dist = path.join(root, 'dist');
if (!fs.existsSync(path.join(dist, 'index.html'))) fail('dist/ is missing: run ./build.sh first');
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const name = `denselab-site-${version}`;
const stage = path.join(root, 'build/site-release');
fs.rmSync(stage, { recursive: true, force: true });
fs.cpSync(dist, path.join(stage, name), { recursive: true });

const files = [];
(function walk(dir, rel) {
  for (const f of fs.readdirSync(dir).sort()) {
    const p = path.join(dir, f), r = rel ? `${rel}/${f}` : f;
    if (fs.statSync(p).isDirectory()) walk(p, r); else files.push(r);
  }
})(path.join(stage, name), '');
const sha = (rel) => crypto.createHash('sha256').update(fs.readFileSync(path.join(stage, name, rel))).digest('hex');
const model = sha('models/densenet121.dlm');

fs.writeFileSync(path.join(stage, name, 'README.txt'), `DenseLab ${version}: the static site
=====================================

DenseNet121 with the Keras ImageNet weights, and the Fashion-MNIST transfer-learning
lab, running in the browser. Nothing is sent anywhere: every file the pages need is in
this folder, and after one visit they work offline.

Serve this folder with any static web server, then open the address it prints.
Browsers do not run the pages from file:// (modules and workers are blocked there).

    python3 -m http.server 8080 --bind 127.0.0.1
    # then open http://127.0.0.1:8080/

Any sub-path works too (the site uses relative URLs only).

Check the files:    sha256sum -c SHA256SUMS
Model (float32):    models/densenet121.dlm, SHA-256 ${model}
`);
files.push('README.txt');
fs.writeFileSync(path.join(stage, name, 'SHA256SUMS'), files.sort().map((f) => `${sha(f)}  ${f}\n`).join(''));

fs.mkdirSync(out, { recursive: true });
const zip = path.join(out, `${name}.zip`);
fs.rmSync(zip, { force: true });
// -X: no extra file attributes, so the same site gives the same zip.
execFileSync('zip', ['-q', '-X', '-r', zip, name], { cwd: stage, stdio: 'inherit' });
console.log(`build-release: wrote ${path.relative(root, zip)} (${(fs.statSync(zip).size / 1e6).toFixed(1)} MB, ${files.length + 1} files)`);
