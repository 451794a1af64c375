// fashion-web-features.test.js — the features' checksum taken batch by batch (wasm/experiment.js
// Checksum, RowsChecksum), as the Fashion page takes it while it reads the features back once, into the
// type of the first classifier: the same value as checksum(train, test) over the whole arrays (today's
// figures, fixed below), for batches of odd sizes; a batch out of order, repeated, missing, or not whole
// rows gives no checksum (the page then takes it from a float32 room). And evaluateChunks: a classifier
// tested a batch at a time, as the page's worker does when its room holds no test rows. No browser.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Checksum, RowsChecksum, checksum } from '../wasm/experiment.js';

const D = 7, N = 23, M = 11;
const rowsOf = (count, first) => Float32Array.from({ length: count * D }, (_, i) => ((first * D + i) * 37 % 101) / 7 - 5);
const train = rowsOf(N, 0), test2 = rowsOf(M, N);

// The batches of one split: [start, end) runs of `batch` rows.
const batches = (split, rows, batch) => {
  const out = [];
  for (let s = 0; s < rows.length / D; s += batch) out.push([split, s, rows.subarray(s * D, Math.min(rows.length, (s + batch) * D))]);
  return out;
};
const all = (batch) => [...batches('train', train, batch), ...batches('test', test2, batch)];

test('checksum() gives the figures it gave before Checksum (FNV-1a over the bytes, in order)', () => {
  const a = Float32Array.from({ length: 1000 }, (_, i) => (i * 37 % 101) / 7 - 5);
  assert.equal(checksum(a.subarray(0, 600), a.subarray(600)), 'ce2fce80');
  assert.equal(checksum(a), 'ce2fce80');
  assert.equal(checksum(new Float32Array(0)), '811c9dc5');
  assert.equal(checksum(new Uint8Array([1, 2, 3])), '56cf37ab');
  for (const cut of [0, 1, 333, 999, 1000]) assert.equal(new Checksum().add(a.subarray(0, cut)).add(a.subarray(cut)).hex(), 'ce2fce80', `cut at ${cut}`);
});

test('RowsChecksum over batches of any size, in order, equals checksum(train, test)', () => {
  const want = checksum(train, test2);
  for (const batch of [1, 2, 5, 11, 256]) {
    const rows = new RowsChecksum(N, M, D);
    for (const [split, start, floats] of all(batch)) assert.equal(rows.add(split, start, floats), true);
    assert.equal(rows.result(), want, `batches of ${batch}`);
  }
});

test('RowsChecksum: a batch out of order, repeated, missing, of other splits or not whole rows gives no checksum', () => {
  const cases = {
    'two batches swapped': (b) => [b[1], b[0], ...b.slice(2)],
    'the test rows first': (b) => [...b.slice(5), ...b.slice(0, 5)],
    'a batch twice': (b) => [b[0], ...b],
    'the last batch missing': (b) => b.slice(0, -1),
    'a batch missing in the middle': (b) => [...b.slice(0, 2), ...b.slice(3)],
    'not whole rows': (b) => [[b[0][0], b[0][1], b[0][2].subarray(1)], ...b.slice(1)],
    'a train batch past n': (b) => [...b.slice(0, 4), ['train', 20, rowsOf(5, 20)], ...b.slice(5)],
    'an unknown split': (b) => b.map(([s, ...r]) => [s === 'test' ? 'val' : s, ...r]),
  };
  for (const [what, reorder] of Object.entries(cases)) {
    const rows = new RowsChecksum(N, M, D);
    for (const [split, start, floats] of reorder(all(5))) rows.add(split, start, floats);
    assert.equal(rows.result(), null, what);
  }
});

// The pixel baseline's floats put a part at a time (worker-train.js pixels-put) equal the whole split's
// (experiment.js pixels), parts not aligned with the images; bytes past the room are not written.
test('pixels: a part at a time into a room, the same floats as the whole split', async () => {
  const { pixels, pixelsInto } = await import('../wasm/experiment.js');
  const split = { rows: 3, cols: 5, images: Uint8Array.from({ length: 7 * 15 }, (_, i) => (i * 53) % 256) };
  const whole = pixels(split, 6), room = new Float32Array(6 * 15);
  for (let start = 0; start < split.images.length; start += 17) pixelsInto(room, start, split.images.subarray(start, start + 17));
  assert.deepEqual(room, whole);
  assert.deepEqual(pixels({ ...split, images: null }, 6, room), whole, 'no images: the room as it was filled');
});

// The page's classifier worker tests a classifier a batch at a time when its room holds no test rows
// (web/worker-train.js cachedTest): evaluateChunks must give what evaluating the rows whole gives.
test('evaluateChunks: the test rows a chunk at a time give the whole evaluation; chunks out of order or missing are refused', async () => {
  const fs = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const { createDenseLab } = await import('../wasm/denselab.js');
  const { evaluateChunks } = await import('../wasm/experiment.js');
  const { paths } = await import('../wasm/cli.js');
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(paths.wasm), coreUrl: pathToFileURL(paths.core).href });
  const d = 9, n = 120, m = 77, k = 4;
  const rows = (count, seed) => Float32Array.from({ length: count * d }, (_, i) => Math.sin(i * 0.7 + seed) + ((i / d | 0) % k) * (i % d === 0 ? 2 : 0));
  const labels = (count) => Int32Array.from({ length: count }, (_, i) => i % k);
  const x = rows(n, 1), y = labels(n), tx = rows(m, 2), ty = labels(m);
  const chunksOf = async function* (size, order = (s) => s) {
    const starts = [];
    for (let s = 0; s < m; s += size) starts.push(s);
    for (const s of order(starts)) yield { x: tx.subarray(s * d, Math.min(m, s + size) * d), start: s, n: Math.min(m, s + size) - s };
  };
  for (const kind of ['linear-svm', 'softmax', 'rbf-svm']) {
    const clf = lab.fit(kind, x, y, n, d, kind === 'softmax' ? { epochs: 2, hidden: 8 } : {});
    try {
      const whole = clf.evaluate(tx, ty, m);
      for (const size of [1, 10, 32, m]) assert.deepEqual(await evaluateChunks(clf, { y: ty, n: m, chunks: chunksOf(size) }), whole, `${kind}, chunks of ${size}`);
      await assert.rejects(evaluateChunks(clf, { y: ty, n: m, chunks: chunksOf(10, (s) => s.reverse()) }), /test rows 70-76 do not follow row -1 of 77/);
      await assert.rejects(evaluateChunks(clf, { y: ty, n: m, chunks: chunksOf(10, (s) => s.slice(0, 3)) }), /only 30 of the 77 test rows came/);
    } finally { clf.free(); }
  }
});

// The page hands its RowsChecksum to the classifier worker, which hashes the batches it reads from the
// cache itself and hands it back: continued from state() (a structured clone), the same checksum; spoiled stays spoiled.
test('RowsChecksum continued elsewhere from its state() gives the same checksum', () => {
  const want = checksum(train, test2), b = all(5);
  for (const cut of [0, 2, b.length - 1, b.length]) {
    let rows = new RowsChecksum(N, M, D);
    for (const [split, start, floats] of b.slice(0, cut)) rows.add(split, start, floats);
    rows = RowsChecksum.from(structuredClone(rows.state()));
    for (const [split, start, floats] of b.slice(cut)) rows.add(split, start, floats);
    assert.equal(rows.result(), want, `handed over after ${cut} batches`);
  }
  const spoiled = new RowsChecksum(N, M, D);
  spoiled.add(...b[1]);
  const again = RowsChecksum.from(spoiled.state());
  for (const batch of b) again.add(...batch);
  assert.equal(again.result(), null);
});
