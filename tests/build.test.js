// build.sh's asset logic: local copies are verified against build.sh's
// checksums, the download fallback works (exercised with file:// origins, as
// this machine has no network), and bad or missing data (a changed weight
// shard, a changed class index) stops the build with a clear message.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { root, sharedDir } from './tfjs_peer.js';

const shared = sharedDir();
const modelSrc = path.join(shared, 'models', 'densenet121-tfjs');
const fashionSrc = '/usr/share/datasets/fashion-mnist';

function assets(env) {
  const r = spawnSync('bash', [path.join(root, 'build.sh'), 'assets'], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

function tmp(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-build-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// The data against what ../shared/README.md states, independently of build.sh
// (whose own constants the next test checks by accepting these files).
test('the shared data has the checksums ../shared/README.md states', () => {
  const readme = fs.readFileSync(path.join(shared, 'README.md'), 'utf8');
  const stated = (re, what) => { const m = readme.match(re); assert.ok(m, `README states the ${what}`); return m[1]; };
  const modelSha = stated(/SHA-256 of all shards concatenated in manifest order:\s*`([0-9a-f]{64})`/, 'weights SHA-256');
  const indexMd5 = stated(/MD5 `([0-9a-f]{32})`/, 'class index MD5');
  const manifest = JSON.parse(fs.readFileSync(path.join(modelSrc, 'model.json'), 'utf8')).weightsManifest;
  const sha = crypto.createHash('sha256');
  for (const group of manifest) for (const p of group.paths) sha.update(fs.readFileSync(path.join(modelSrc, p)));
  assert.equal(sha.digest('hex'), modelSha, 'weight shards, manifest order');
  const index = fs.readFileSync(path.join(shared, 'labels', 'imagenet_class_index.json'));
  assert.equal(crypto.createHash('md5').update(index).digest('hex'), indexMd5, 'imagenet_class_index.json');
});

test('assets: local copies are found and verified', () => {
  const r = assets({});
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /densenet121-tfjs \(SHA-256 ok\)/);
  assert.match(r.out, /imagenet_class_index\.json \(MD5 ok\)/);
  assert.match(r.out, /fashion-mnist \(MD5 ok\)/);
});

test('assets: without local copies everything is downloaded and verified', (t) => {
  const dir = tmp(t);
  const r = assets({
    DENSELAB_SHARED: path.join(dir, 'no-shared'),
    DENSELAB_DOWNLOADS: path.join(dir, 'dl'),
    DENSELAB_FASHION_DIR: path.join(dir, 'no-fashion'),
    DENSELAB_MODEL_URL: pathToFileURL(modelSrc).href,
    DENSELAB_CLASS_INDEX_URL: pathToFileURL(path.join(shared, 'labels', 'imagenet_class_index.json')).href,
    DENSELAB_FASHION_URL: pathToFileURL(fashionSrc).href,
  });
  assert.equal(r.status, 0, r.out);
  assert.equal(fs.readdirSync(path.join(dir, 'dl', 'densenet121-tfjs')).length, 242);
  assert.equal(fs.readdirSync(path.join(dir, 'dl', 'fashion-mnist')).length, 4);
  assert.match(r.out, /dl\/densenet121-tfjs \(SHA-256 ok\)/);
  assert.match(r.out, /dl\/fashion-mnist \(MD5 ok\)/);
});

test('assets: a corrupted weight shard stops the build', (t) => {
  const dir = tmp(t);
  const model = path.join(dir, 'models', 'densenet121-tfjs');
  fs.mkdirSync(model, { recursive: true });
  for (const f of fs.readdirSync(modelSrc)) fs.symlinkSync(path.join(modelSrc, f), path.join(model, f));
  fs.mkdirSync(path.join(dir, 'labels'));
  fs.symlinkSync(path.join(shared, 'labels', 'imagenet_class_index.json'), path.join(dir, 'labels', 'imagenet_class_index.json'));
  const shard = path.join(model, 'group7-shard1of1');
  const bytes = fs.readFileSync(shard);
  bytes[100] ^= 1;
  fs.rmSync(shard);
  fs.writeFileSync(shard, bytes);
  const r = assets({ DENSELAB_SHARED: dir });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /SHA-256 mismatch/);
  assert.match(r.out, /error in step 'assets: DenseNet121 weights'/);
});

test('assets: a class index with another MD5 stops the build', (t) => {
  const dir = tmp(t);
  fs.symlinkSync(path.join(shared, 'models'), path.join(dir, 'models'));
  fs.mkdirSync(path.join(dir, 'labels'));
  const index = JSON.parse(fs.readFileSync(path.join(shared, 'labels', 'imagenet_class_index.json'), 'utf8'));
  index['281'][1] = 'tabby_cat';           // valid JSON, one label changed
  fs.writeFileSync(path.join(dir, 'labels', 'imagenet_class_index.json'), JSON.stringify(index));
  const r = assets({ DENSELAB_SHARED: dir });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /MD5 mismatch for .*imagenet_class_index\.json/);
  assert.match(r.out, /error in step 'assets: ImageNet class index'/);
});

test('assets: neither local nor downloadable stops with a clear message', (t) => {
  const dir = tmp(t);
  const r = assets({
    DENSELAB_SHARED: path.join(dir, 'no-shared'),
    DENSELAB_DOWNLOADS: path.join(dir, 'dl'),
    DENSELAB_MODEL_URL: pathToFileURL(path.join(dir, 'nowhere')).href,
  });
  assert.notEqual(r.status, 0);
  assert.match(r.out, /model not in .*no-shared and download of .*model\.json failed/);
});
