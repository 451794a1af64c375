// rbf-parallel.test.js — the RBF SVM's one-vs-one pairs as independent units (wasm/rbf-pairs.js
// over learn/kernel_svm.h's train_pair/assemble): the model trained pair by pair on 1 and on 3
// worker threads is byte-for-byte the serial lab.fit's; a cancelled fit keeps its finished pairs
// and a second run resumes from them to the same bytes; bad pair ids and truncated or foreign
// pair results give reasons and leave the instance working; float16 rows (HeapHalves) train, on 1
// to 3 pthreads, the model of float32 rows holding the same values. Small and cheap: 1,500 Fashion-MNIST
// images as 14x14 pixels (2x2 means), 10 classes -> 45 pairs.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';
import { fitRbfPairs, pairKey, PairsCancelled, classIndex, gatherRows, rbfPairs, schedulePairs, trainPairAt, trainPairsHere } from '../wasm/rbf-pairs.js';
import { nodePairWorkers } from '../wasm/rbf-pair-worker.js';
import { fashionDir, requireBuilt, root, runChecked } from './helpers.js';

const N = 1500, SIDE = 14, D = SIDE * SIDE;

function fashionImages(n) {
  const dir = fashionDir();
  const im = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte.gz')));
  const lb = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz')));
  const x = new Float32Array(n * D), y = Int32Array.from(lb.subarray(8, 8 + n));
  for (let i = 0; i < n; i++)
    for (let r = 0; r < SIDE; r++)
      for (let c = 0; c < SIDE; c++) {
        const p = (dr, dc) => im[16 + i * 784 + (2 * r + dr) * 28 + 2 * c + dc];
        x[i * D + r * SIDE + c] = (p(0, 0) + p(0, 1) + p(1, 0) + p(1, 1)) / (4 * 255);
      }
  return { x, y };
}

const files = { wasm: paths.wasm, core: pathToFileURL(paths.core).href };
let lab, data, serial;
const options = { C: 1, cacheMb: 8 };   // a small cache: eviction and recomputation on the way

test.before(async () => {
  requireBuilt(paths.wasm, paths.core);
  lab = await createDenseLab({ wasmBinary: fs.readFileSync(paths.wasm), coreUrl: pathToFileURL(paths.core).href });
  data = fashionImages(N);
  const clf = lab.fit('rbf-svm', data.x, data.y, N, D, options);
  serial = clf.save();
  clf.free();
});

async function pairsModel(workers, extra = {}) {
  const pool = nodePairWorkers(workers, files);
  try {
    const clf = await fitRbfPairs(lab, data.x, data.y, N, D, options, { runners: pool.runners, ...extra });
    try { return clf.save(); } finally { clf.free(); }
  } finally { await pool.close(); }
}

test('pairs on 1 and on 3 worker threads: the same DLCLASS1 bytes as the serial fit', async () => {
  const seen = [];
  const one = await pairsModel(1, { onPair: (p) => seen.push(p) });
  assert.deepEqual(Buffer.from(one), Buffer.from(serial), '1 worker');
  assert.equal(seen.length, 45);
  assert.deepEqual(seen.map((p) => p.done), Array.from({ length: 45 }, (_, i) => i + 1));
  assert.ok(seen.every((p) => p.total === 45 && p.eta >= 0 && p.seconds >= 0));
  assert.equal(seen.at(-1).eta, 0);
  assert.deepEqual(Buffer.from(await pairsModel(3)), Buffer.from(serial), '3 workers');
});

test('a cancelled fit keeps its finished pairs; a second run resumes from them to the same bytes', async () => {
  const done = new Map();
  let finished = 0;
  await assert.rejects(pairsModel(2, { done, onPair: () => finished++, isCancelled: () => finished >= 5 }),
    (e) => e instanceof PairsCancelled && /cancelled: \d+ of 45 pairs finished and kept/.test(e.message));
  assert.ok(done.size >= 5 && done.size < 45, `${done.size} pairs kept`);
  const kept = new Map(done);
  let trained = 0;
  const resumed = await pairsModel(2, { done, onPair: () => trained++ });
  assert.equal(trained, 45 - kept.size, 'only the missing pairs trained again');
  for (const [k, v] of kept) assert.equal(done.get(k), v, `pair ${k} kept as it was`);
  assert.deepEqual(Buffer.from(resumed), Buffer.from(serial));
});

test('bad pair ids and bad pair results give reasons; the instance keeps working', () => {
  const rows = classIndex(data.y, N, 10);
  const x0 = gatherRows(data.x, D, rows[0]), x1 = gatherRows(data.x, D, rows[1]);
  const { gamma } = lab.rbfPrepare(data.x, data.y, N, D, options);
  const pair = (ci, cj, extra = {}) => lab.rbfTrainPair(x0, rows[0].length, x1, rows[1].length, D, ci, cj, { gamma, ...extra }, options);
  assert.throws(() => pair(1, 1), /cj must be an integer from 2 to 255, got 1/);
  assert.throws(() => pair(-1, 3), /ci must be an integer from 0 to 254, got -1/);
  assert.throws(() => pair(0, 1, { gamma: 0 }), /gamma must be a positive number/);
  assert.throws(() => pair(0, 1, { mean: new Float32Array(D) }), /both mean and std/);
  assert.throws(() => lab.rbfTrainPair(x0, rows[0].length + 1, x1, rows[1].length, D, 0, 1, { gamma }, options), /values, expected/);

  // every pair's result, then broken copies of one of them
  const results = [];
  for (let ci = 0; ci < 10; ci++)
    for (let cj = ci + 1; cj < 10; cj++)
      results.push(lab.rbfTrainPair(gatherRows(data.x, D, rows[ci]), rows[ci].length, gatherRows(data.x, D, rows[cj]), rows[cj].length, D, ci, cj, { gamma }, options));
  const assemble = (rs, o = options) => lab.rbfAssemble(data.x, data.y, N, D, o, rs);
  const with3 = (r) => results.map((v, i) => (i === 3 ? r : v));
  assert.throws(() => assemble(results.slice(1)), /44 pair results for 10 classes, need 45/);
  assert.throws(() => assemble(with3(results[3].subarray(0, results[3].length - 7))), /rbf-svm pair result \(0, 4\): \d+ bytes, expected \d+ \(truncated\?\)/);
  assert.throws(() => assemble(with3(results[3].subarray(0, 20))), /truncated \(20 bytes\)/);
  assert.throws(() => assemble(with3(results[4])), /pair \(0, 5\) given twice/);
  const flipped = results[3].slice(); flipped[flipped.length - 12] ^= 0x40;
  assert.throws(() => assemble(with3(flipped)), /CRC mismatch/);
  const magic = results[3].slice(); magic[0] = 0;
  assert.throws(() => assemble(with3(magic)), /bad magic/);
  assert.throws(() => assemble(results, { ...options, C: 2 }), /trained with gamma .*, C 1; this fit uses gamma .*, C 2/);
  assert.throws(() => assemble(with3('bytes')), /pair result 3 must be an ArrayBuffer or a typed array/);
  assert.throws(() => assemble('results'), /pair results must be an array/);

  const clf = assemble(results);   // the instance still works: the right results give the serial model
  try { assert.deepEqual(Buffer.from(clf.save()), Buffer.from(serial)); } finally { clf.free(); }
});

test('pairs read in place by row index from the heap, the model\'s SVs too (the page\'s classifier worker): the serial bytes and predictions; bad indices refused', async () => {
  const heap = lab.heapFloats(N * D, 'features');
  try {
    heap.view().set(data.x);
    const shared = lab.rbfPrepare(heap, data.y, N, D, options);
    const rows = classIndex(data.y, N, shared.numClasses);
    const before = lab.heapBytes();
    const results = await schedulePairs({
      classSizes: rows.map((r) => r.length), makeTask: (ci, cj) => ({ ci, cj }),
      runners: [async ({ ci, cj }) => trainPairAt(lab, heap, N, D, rows, ci, cj, shared, options)],
    });
    const clf = lab.rbfAssemble(heap, data.y, N, D, options, results);
    const copied = clf.evaluate(heap.subarray(0, 300 * D), data.y.subarray(0, 300), 300);
    try { assert.deepEqual(Buffer.from(clf.save()), Buffer.from(serial)); } finally { clf.free(); }
    // its support vectors read in place from the heap (the page's worker): the same bytes and predictions
    const borrowed = lab.rbfAssemble(heap, data.y, N, D, options, results, { borrow: true });
    try {
      assert.deepEqual(Buffer.from(borrowed.save()), Buffer.from(serial), 'borrowed: the same bytes');
      assert.deepEqual(borrowed.evaluate(heap.subarray(0, 300 * D), data.y.subarray(0, 300), 300), copied, 'borrowed: the same predictions');
    } finally { borrowed.free(); }
    assert.throws(() => lab.rbfAssemble(data.x, data.y, N, D, options, results, { borrow: true }), /borrow needs the features as HeapFloats/);
    assert.equal(lab.heapBytes(), before, 'the heap did not grow: no pair\'s rows were copied');
    const at = (ri, rj, n = N) => lab.rbfTrainPairAt(heap, n, D, ri, rj, 0, 1, shared, options);
    assert.throws(() => at([0, N], rows[1]), new RegExp(`row index ${N} outside 0..${N - 1}`));
    assert.throws(() => at([-1], rows[1]), /row index -1 outside/);
    assert.throws(() => at([], rows[1]), /class ci rows must be a non-empty array/);
    assert.throws(() => at(rows[0], 'rows'), /class cj rows must be a non-empty array/);
    assert.throws(() => at(rows[0], rows[1], N + 1), /values, expected|rows|holds/);
    assert.deepEqual(at(rows[0], rows[1]), results[0], 'the instance still works');
  } finally { heap.free(); }
});

// ---- the pairs on one instance's pthreads (learn/kernel_svm_pairs.h, lab.rbfTrainPairsAt) ----

test('C: the pairs on 1, 2 and 3 threads are dl_rbf_svm_train_pair_at\'s bytes; cancel, out of memory (native, ASan if built, single-threaded WASM)', () => {
  const native = path.join(root, 'build/native/learn/rbf_pairs_test');
  requireBuilt(native);
  assert.match(runChecked(native, [], 'rbf_pairs_test'), /rbf_pairs_test: \d+ checks, 0 failed \(threads 1..3\)/);
  const asan = path.join(root, 'build/asan/learn/rbf_pairs_test');
  if (fs.existsSync(asan)) assert.match(runChecked(asan, [], 'rbf_pairs_test (ASan)'), /0 failed \(threads 1..3\)/);
  const wasm = path.join(root, 'build/wasm/learn/rbf_pairs_test.js');
  requireBuilt(wasm);
  assert.match(runChecked(process.execPath, [wasm], 'rbf_pairs_test (wasm)'), /0 failed \(threads 1..1\)/);
});

async function threadedLab(threads) {
  requireBuilt(paths.coreThreads, paths.wasmThreads);
  return createDenseLab({ threads, wasmBinary: fs.readFileSync(paths.wasmThreads), coreUrl: pathToFileURL(paths.coreThreads).href });
}

test('WASM threaded build: all 45 pairs on 1, 2 and 3 pthreads, rows in place: each pair the bytes of rbfTrainPairAt, the model the serial fit\'s', async () => {
  const mt = await threadedLab(3);
  const heap = mt.heapFloats(N * D, 'features');
  try {
    heap.view().set(data.x);
    const shared = mt.rbfPrepare(heap, data.y, N, D, options), rows = classIndex(data.y, N, 10), pairs = rbfPairs(10);
    const alone = pairs.map(([ci, cj]) => trainPairAt(lab, data.x, N, D, rows, ci, cj, shared, options));
    for (const threads of [1, 2, 3]) {
      mt.setThreads(threads);
      const told = [];
      const results = mt.rbfTrainPairsAt(heap, N, D, rows, pairs, shared, options, (p) => { if (p.pair) told.push(p); });
      results.forEach((r, k) => assert.deepEqual(Buffer.from(r), Buffer.from(alone[k]), `${threads} threads: pair ${pairs[k]}`));
      assert.equal(told.length, 45, `${threads} threads: every pair told once`);
      assert.deepEqual(told.map((p) => p.done), Array.from({ length: 45 }, (_, i) => i + 1));
      assert.equal(new Set(told.map((p) => pairKey(...p.pair))).size, 45);
      const clf = mt.rbfAssemble(heap, data.y, N, D, options, results);
      try { assert.deepEqual(Buffer.from(clf.save()), Buffer.from(serial), `${threads} threads: the model`); } finally { clf.free(); }
    }
  } finally { heap.free(); }
});

test('WASM threaded build: float16 rows in place (HeapHalves) on 1, 2 and 3 pthreads: the model of float32 rows holding the same values', async () => {
  const mt = await threadedLab(3);
  const halves = mt.heapHalves(N * D, 'features');
  try {
    halves.put(0, data.x);
    const rounded = halves.floats();
    const clf32 = lab.fit('rbf-svm', rounded, data.y, N, D, options), expected = clf32.save();
    clf32.free();
    assert.notDeepEqual(Buffer.from(expected), Buffer.from(serial), 'the rounding moved the model (or this test proves nothing)');
    const shared = mt.rbfPrepare(halves, data.y, N, D, options), rows = classIndex(data.y, N, 10);
    for (const threads of [1, 2, 3]) {
      mt.setThreads(threads);
      let told = 0;
      const results = trainPairsHere(mt, halves, N, D, rows, shared, options, { onPair: () => told++ });
      assert.equal(told, 45, `${threads} threads: every pair told once`);
      const clf = mt.rbfAssemble(halves, data.y, N, D, options, results, { borrow: true });
      try { assert.deepEqual(Buffer.from(clf.save()), Buffer.from(expected), `${threads} threads: the model`); } finally { clf.free(); }
    }
    assert.throws(() => mt.rbfTrainPairsAt(halves.subarray(0, D), N, D, rows, [[0, 1]], shared, options), /has 196 values, expected 294000/);
  } finally { halves.free(); }
});

test('WASM threaded build: a cancel keeps the finished pairs and a second run resumes to the serial bytes; a pair out of memory names itself, keeps the rest, and the pool works on; bad arguments refused', async () => {
  const mt = await threadedLab(3);
  const shared = mt.rbfPrepare(data.x, data.y, N, D, options), rows = classIndex(data.y, N, 10), pairs = rbfPairs(10);
  const done = new Map();
  let told = 0;
  assert.throws(() => trainPairsHere(mt, data.x, N, D, rows, shared, options, { done, onPair: () => told++, isCancelled: () => told >= 5 }),
    (e) => e instanceof PairsCancelled && /cancelled: \d+ of 45 pairs finished and kept/.test(e.message));
  // only this thread hears the cancel (between its SMO steps and pairs): the other threads may
  // have finished more meanwhile, on a loaded machine even all of them
  assert.ok(done.size >= 5, `${done.size} pairs kept`);
  assert.equal(told, done.size, 'every kept pair was told');
  const kept = new Map(done);
  let again = 0;
  const results = trainPairsHere(mt, data.x, N, D, rows, shared, options, { done, onPair: () => again++ });
  assert.equal(again, 45 - kept.size, 'only the missing pairs trained again');
  for (const [k, v] of kept) assert.equal(done.get(k), v, `pair ${k} kept as it was`);
  const clf = mt.rbfAssemble(data.x, data.y, N, D, options, results);
  try { assert.deepEqual(Buffer.from(clf.save()), Buffer.from(serial)); } finally { clf.free(); }

  const heapBefore = mt.heapUsed();
  mt.core._dl_api_rbf_pairs_fail_pair(2);
  let failure;
  assert.throws(() => mt.rbfTrainPairsAt(data.x, N, D, rows, pairs, shared, options), (e) => { failure = e; return true; });
  assert.match(failure.message, new RegExp(`rbf-svm pair \\(${pairs[2][0]}, ${pairs[2][1]}\\): out of memory`));
  assert.equal(failure.cancelled, false);
  assert.equal(failure.finished[2], null, 'the failed pair has no result');
  failure.finished.forEach((r, k) => { if (r) assert.deepEqual(Buffer.from(r), Buffer.from(results[k]), `pair ${pairs[k]} kept after the failure`); });
  const whole = mt.rbfTrainPairsAt(data.x, N, D, rows, pairs.slice(0, 3), shared, options);
  whole.forEach((r, k) => assert.deepEqual(Buffer.from(r), Buffer.from(results[k]), 'the run after a failure'));

  const call = (r = rows, p = pairs.slice(0, 2), s = shared) => mt.rbfTrainPairsAt(data.x, N, D, r, p, s, options);
  assert.throws(() => call(rows, [[1, 1]]), /pairs\[0\]\[1\] must be an integer from 2 to 9, got 1/);
  assert.throws(() => call(rows, [[0, 10]]), /pairs\[0\]\[1\] must be an integer from 1 to 9, got 10/);
  assert.throws(() => call(rows, 'pairs'), /pairs must be an array of \[ci, cj\]/);
  assert.throws(() => call([rows[0]]), /rows must be an array of 2 to 256 classes/);
  assert.throws(() => call(rows.map((r, c) => (c === 4 ? [] : r))), /rows\[4\] must be a non-empty array/);
  assert.throws(() => call(rows.map((r, c) => (c === 4 ? [N] : r)), [[3, 4]]), new RegExp(`rbf-svm pair \\(3, 4\\): rbf-svm pair: row index ${N} outside`));
  assert.throws(() => call(rows, pairs.slice(0, 1), { gamma: -1 }), /gamma must be a positive number/);
  assert.deepEqual(call(rows, [[0, 1]])[0], results[0], 'the instance still works');
  assert.deepEqual(mt.rbfTrainPairsAt(data.x, N, D, rows, [], shared, options), [], 'no pairs: nothing to do');
  assert.ok(mt.heapUsed() <= heapBefore + 65536, `bytes in use grew from ${heapBefore} to ${mt.heapUsed()}: a failed call leaked`);
});
