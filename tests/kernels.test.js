// kernels/ tests: the C unit test (every kernel variant against its scalar
// reference, references against naive double computations), natively and as
// wasm under node.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { built as need, root, runChecked as run } from './helpers.js';

const nativeTest = path.join(root, 'build', 'native', 'kernels', 'kernels_test');
const wasmTest = path.join(root, 'build', 'wasm', 'kernels', 'kernels_test.js');

function checkOutput(out, simd) {
  assert.match(out, new RegExp(`SIMD: ${simd}`), 'the SIMD variant under test is not the expected one');
  assert.match(out, /^gemm: \d+ checks, 0 failures$/m);
  assert.match(out, /^conv: \d+ checks, 0 failures/m);
  assert.match(out, /^ops: \d+ checks, 0 failures$/m);
  assert.match(out, /^f16: \d+ checks, 0 failures$/m);
  assert.match(out, /kernels_test: all \d+ checks passed/);
}

test('kernels_test native (SSE2 shim): all variants match the references', () => {
  checkOutput(run(need(nativeTest), [], 'kernels_test (native)'), '(sse2|scalar-emulation)');
});

test('kernels_test wasm (SIMD128, node): all variants match the references', () => {
  checkOutput(run(process.execPath, [need(wasmTest)], 'kernels_test (wasm)'), 'wasm-simd128');
});
