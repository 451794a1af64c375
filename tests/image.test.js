// Runs the image/predictions C tests natively and as WebAssembly.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = [
  path.join(root, '..', 'shared', 'images'),
  path.join(root, '..', 'shared', 'labels', 'imagenet_class_index.json'),
  path.join(root, 'tests', 'fixtures', 'images'),
];

function run(file, command, commandArgs) {
  assert.ok(existsSync(file), `${path.relative(root, file)} is missing: run ./build.sh first`);
  for (const a of args.slice(0, 2)) assert.ok(existsSync(a), `${a} is missing (the shared data folder ../shared)`);
  const r = spawnSync(command, commandArgs, { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.error, undefined, `${command} could not run: ${r.error}`);
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, `image_test failed (exit ${r.status}):\n${out}`);
  assert.match(out, /image_test: \d+ passed, 0 failed/);
}

test('image decode/preprocess/predictions: native', () => {
  const exe = path.join(root, 'build', 'native', 'models', 'image_test');
  run(exe, exe, args);
});

test('image decode/preprocess/predictions: wasm', () => {
  const js = path.join(root, 'build', 'wasm', 'models', 'image_test.js');
  run(js, process.execPath, [js, ...args]);
});
