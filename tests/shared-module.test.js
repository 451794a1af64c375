// shared-module.test.js — createDenseLab({ wasmModule }): a page compiles the core once and
// posts the WebAssembly.Module to its workers, which instantiate it without compiling their own
// code (web/fashion.js, web/worker-features.js). Two instances from one module are independent
// and give the bytes-instance's answers; a wrong module or argument is a reason, never a hang.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { requireBuilt } from './helpers.js';
import { wasmCore } from './reliability/cases.js';
import { idxImages } from './fuzz/make_seeds.js';
import { createDenseLab } from '../wasm/denselab.js';

test('instances from one compiled module are independent and answer as one from the bytes', async () => {
  requireBuilt(wasmCore);
  const coreUrl = pathToFileURL(wasmCore.replace(/\.wasm$/, '.mjs')).href, bytes = fs.readFileSync(wasmCore);
  const wasmModule = await WebAssembly.compile(bytes);
  const [a, b] = await Promise.all([createDenseLab({ wasmModule, coreUrl }), createDenseLab({ wasmModule, coreUrl })]);
  const ref = await createDenseLab({ wasmBinary: bytes, coreUrl });
  const idx = idxImages(3, 5, 7);
  const parsed = [a, b, ref].map((lab) => lab.parseIdx(idx));
  assert.deepEqual(parsed[0], parsed[2]);
  assert.deepEqual(parsed[1], parsed[2]);
  const big = a.heapFloats(24 << 20, 'test');     // 96 MB: a's heap grows past its 64, b's does not: separate memories
  assert.ok(a.heapBytes() > b.heapBytes());
  big.free();

  await assert.rejects(createDenseLab({ wasmModule: bytes, coreUrl }), /wasmModule must be a WebAssembly.Module/);
  const empty = await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  await assert.rejects(createDenseLab({ wasmModule: empty, coreUrl }), /not this core's module/);
  assert.deepEqual((await createDenseLab({ wasmModule, coreUrl })).parseIdx(idx), parsed[2]);
});
