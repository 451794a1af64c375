// graph.test.js — tests/graph_test.c (the graph rewrites against a naive
// evaluation; hostile model files and arguments) natively, under ASan + UBSan,
// and as 32-bit WebAssembly; and the one definition of the file format's
// tables (models/format.h) as models/convert.js reads it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireBuilt, root } from './helpers.js';
import { LAYER, ACTIVATION, P, readFormat } from '../models/convert.js';

const programs = {
  native: [path.join(root, 'build/native/models/graph_test')],
  'ASan + UBSan': [path.join(root, 'build/asan/models/graph_test')],
  'wasm (32-bit size_t)': [process.execPath, path.join(root, 'build/wasm/models/graph_test.js')],
};
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:halt_on_error=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};

function runGraphTest(cmd) {
  requireBuilt(cmd.at(-1));
  const r = spawnSync(cmd[0], cmd.slice(1), { env, encoding: 'utf8', maxBuffer: 16 << 20 });
  assert.equal(r.error, undefined, String(r.error));
  const out = `${r.stdout}\n${r.stderr}`;
  assert.doesNotMatch(out, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, out.slice(-4000));
  assert.equal(r.signal, null, out.slice(-4000));
  assert.equal(r.status, 0, out.slice(-4000));
  assert.match(r.stdout, /^graph_test: \d+ checks, 0 failures$/m);
  return r.stdout;
}

for (const [name, cmd] of Object.entries(programs)) {
  test(`graph_test ${name}: rewrites match the naive graph; hostile files and arguments give reasons`, () => {
    runGraphTest(cmd);
  });
}

test('models/convert.js reads the layer table and parameter slots that the C code compiles', () => {
  const out = runGraphTest(programs.native);
  const compiled = JSON.parse(/^format: (.*)$/m.exec(out)[1]);
  for (const [key, value] of Object.entries(compiled)) {
    assert.equal(key.startsWith('DL_') ? P[key] : LAYER[key], value, key);
  }
  assert.equal(Object.keys(LAYER).length, Object.keys(compiled).filter((k) => !k.startsWith('DL_')).length);
  assert.deepEqual(ACTIVATION, { linear: 0, relu: 1, softmax: 2 });
  // A table the parser cannot find is an error, not an empty converter.
  assert.throws(() => readFormat('enum nothing { A = 1 };'), /table not found/);
  const header = fs.readFileSync(path.join(root, 'models/format.h'), 'utf8');
  assert.doesNotMatch(fs.readFileSync(path.join(root, 'models/convert.js'), 'utf8'), /InputLayer: 1/,
    'convert.js must not keep its own copy of the layer table');
  assert.match(header, /X\(DL_DENSE,\s+11, "Dense"\)/);
});
