// experiment.js — the Fashion-MNIST transfer-learning experiment (Ex. 6.2.1/6.2.2)
// on the JS API: shared by the Node CLI (`node wasm/cli.js fashion`) and the page's workers.
// All computation is the C core's; this file only sequences it.
import { fitRbfPairs } from './rbf-pairs.js';

export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const FASHION_FILES = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
};
// The linear SVM on raw pixels: the baseline row of the comparison table.
export const PIXEL_BASELINE = 'pixels-linear-svm';

// The comparison table's rows (learn/report.h): every kind of the C core's table, then the pixel baseline.
export const classifierNames = (lab) => lab.reportRows().map((r) => r.name);

// The classifier parameters among a CLI's --NAME VALUE options (names of the kinds table, '-' for
// '_'; other keys are left alone) as { name: number }, checked in the native CLI's words
// (cli/denselab.c fit_param).
export function classifierOptions(lab, options) {
  const specs = new Map();
  for (const k of lab.classifierKinds()) for (const p of k.params) if (!specs.has(p.name)) specs.set(p.name, p);
  const out = {};
  for (const [key, text] of Object.entries(options)) {
    const p = specs.get(key.replace(/-/g, '_'));
    if (!p) continue;
    const x = Number(text), flag = `--${key}`;
    if (!/^[0-9.eE+-]+$/.test(text) || !Number.isFinite(x)) throw new Error(`${flag} must be a number, got '${text}'`);
    if (!((p.min_exclusive ? x > p.min : x >= p.min) && x <= p.max && (p.type === 'real' || Number.isInteger(x)))) {
      if (p.type === 'int') throw new Error(`${flag} must be an integer from ${p.min} to ${p.max}, got '${text}'`);
      if (p.min_exclusive && p.min === 0) throw new Error(`${flag} must be a positive number up to ${p.max}, got '${text}'`);
      throw new Error(`${flag} must be a number ${p.min_exclusive ? 'above' : 'from'} ${p.min} up to ${p.max}, got '${text}'`);
    }
    out[p.name] = x;
  }
  return out;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now()) / 1000;

// Decompressed IDX image + label files -> { images: Uint8Array, labels: Int32Array, count, rows, cols }.
export function parseSplit(lab, name, imageBytes, labelBytes) {
  const images = lab.parseIdx(imageBytes);
  const labels = lab.parseIdx(labelBytes, { labels: true });
  if (images.count !== labels.count) throw new Error(`${name}: ${images.count} images but ${labels.count} labels`);
  return { images: images.data, labels: Int32Array.from(labels.data), count: images.count, rows: images.rows, cols: images.cols };
}

// DenseNet121(include_top=False, weights='imagenet', pooling='avg', input_shape=(S, S, 3)).
export function featureNet(lab, modelFile, size) {
  if (!Number.isInteger(size) || size < 32 || size > 1024) throw new Error(`size must be an integer from 32 to 1024, got ${size}`);
  return lab.buildNet(modelFile, { includeTop: false, weights: 'imagenet', pooling: 'avg', inputShape: [size, size, 3] });
}

// Fine-tuning's input: DenseNet121 up to conv5_block1's input (the frozen part), S x S x 3.
export function blockNet(lab, modelFile, size) {
  if (!Number.isInteger(size) || size < 32 || size > 1024) throw new Error(`size must be an integer from 32 to 1024, got ${size}`);
  return lab.buildFrozenNet(modelFile, { inputShape: [size, size, 3] });
}

// Floats per image of fine-tuning's rows (conv5_block1's input, h x w x 512) at S x S: DenseNet121's
// stem halves the side twice (rounding up: 'same'-like paddings), its three transitions floor-halve it.
export function blockFloats(size) {
  const side = Math.floor(Math.ceil(Math.ceil(size / 2) / 2) / 8);
  return side * side * 512;
}

// The first n images of a split as [0, 1] pixels (the raw-pixel baseline), into out if given
// (a Float32Array, or HeapFloats: lab.heapFloats, filled where the C core reads them).
export function pixels(split, n, out = new Float32Array(n * split.rows * split.cols)) {
  // A split without images: its floats are in out already, put a part at a time (pixelsInto).
  if (split.images) pixelsInto(out.view ? out.view() : out, 0, split.images.subarray(0, n * split.rows * split.cols));
  return out;
}

// Pixel bytes as [0, 1] floats, into x from value at on (as many as fit): the one conversion, for a
// whole split and for its parts.
export function pixelsInto(x, at, bytes) {
  const count = Math.max(0, Math.min(bytes.length, x.length - at));
  for (let i = 0; i < count; i++) x[at + i] = bytes[i] / 255;
}

// Train one classifier and test it: the row of the comparison table.
export function runClassifier(lab, name, train, test, params = {}, onProgress) {
  const kind = rowKind(lab, name);
  const t0 = now();
  return testRow(name, train, test, lab.fit(kind, train.x, train.y, train.n, train.d, params, onProgress), now() - t0);
}

// The RBF SVM's row with its pairs spread over workers (wasm/rbf-pairs.js: pairs.runners, and
// pairs.done / onPair / isCancelled): the same model bytes as runClassifier's.
export async function runRbfPairs(lab, train, test, params, pairs) {
  const t0 = now();
  const clf = await fitRbfPairs(lab, train.x, train.y, train.n, train.d, params, pairs);
  return testRow('rbf-svm', train, test, clf, now() - t0);
}

// The RBF SVM's row from its pairs' results (trained elsewhere, in seconds). borrow: the model's
// support vectors read in place from train.x (HeapFloats; lab.rbfAssemble), freed before it.
export const rbfAssembledRow = (lab, train, test, params, results, seconds, borrow = false) =>
  testRow('rbf-svm', train, test, lab.rbfAssemble(train.x, train.y, train.n, train.d, params, results, { borrow }), seconds);

function rowKind(lab, name) {
  const row = lab.reportRows().find((r) => r.name === name);
  if (!row) throw new Error(`unknown classifier '${name}' (expected ${classifierNames(lab).join(', ')})`);
  return row.kind;
}

// The row of a trained classifier: tested on test ({ x, y, n }; or, with test.chunks, its rows a chunk
// at a time: then a Promise of the row), saved, freed.
function testRow(name, train, test, clf, trainSeconds) {
  const row = ({ accuracy, confusion, predictions }) => ({ classifier: name, train: train.n, train_seconds: trainSeconds, test_accuracy: accuracy, confusion, predictions, model: clf.save() });
  if (test.chunks) return evaluateChunks(clf, test).then(row).finally(() => clf.free());
  try { return row(clf.evaluate(test.x, test.y, test.n)); } finally { clf.free(); }
}

// clf.evaluate over test.chunks (an async iterable of { x, start, n }: rows start..start+n-1 of the
// test set, e.g. read back from a cache one batch at a time, so that no room holds them all): the same
// result as evaluating them whole (each row's prediction is its own; tests/fashion-web-features.test.js).
export async function evaluateChunks(clf, { y, n, chunks }) {
  const k = clf.numClasses, predictions = new Int32Array(n), confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  let rows = 0, correct = 0;
  for await (const c of chunks) {
    if (c.start !== rows || c.n < 1 || c.start + c.n > n) throw new Error(`test rows ${c.start}-${c.start + c.n - 1} do not follow row ${rows - 1} of ${n}`);
    const r = clf.evaluate(c.x, y.subarray(c.start, c.start + c.n), c.n);
    predictions.set(r.predictions, c.start);
    r.confusion.forEach((line, i) => line.forEach((v, j) => { confusion[i][j] += v; }));
    for (let i = 0; i < k; i++) correct += r.confusion[i][i];
    rows += c.n;
  }
  if (rows !== n) throw new Error(`only ${rows} of the ${n} test rows came`);
  return { accuracy: correct / n, confusion, predictions };
}

// The training and test inputs of one classifier, as `node wasm/cli.js fashion` builds them:
// DenseNet features (d per image) or [0, 1] pixels, the RBF SVM on the first rbfMax points.
// features: { train: Float32Array(n x d), test: Float32Array(m x d), d } (unused by the pixel baseline;
// HeapFloats too). newFloats(count): where the pixels go (the page's worker: lab.heapFloats, freed by
// the caller after the run).
export function classifierInputs(lab, name, train, test, n, m, features, rbfMax = 10000, newFloats = (count) => new Float32Array(count)) {
  const px = name === PIXEL_BASELINE, d = px ? train.rows * train.cols : features.d;
  const rn = lab.reportTrainRows(name, n, rbfMax);
  return {
    train: { x: px ? pixels(train, rn, newFloats(rn * d)) : features.train.subarray(0, rn * d), y: train.labels.subarray(0, rn), n: rn, d },
    // features.test null: the test rows are elsewhere (the page's classifier worker reads them from its cache).
    test: { x: px ? pixels(test, m, newFloats(m * d)) : features.test?.subarray(0, m * d) ?? null, y: test.labels.subarray(0, m), n: m, d },
  };
}

// Feature extraction in batches: [start, end) index ranges of `batch` images (the page's
// workers and its IndexedDB cache use them; the sub-batches inside stay aligned with the CLI's).
export function batchRanges(count, batch = 256) {
  const out = [];
  for (let s = 0; s < count; s += batch) out.push([s, Math.min(count, s + batch)]);
  return out;
}

// RGB -> gray as PIL's Image.convert('L') (ITU-R 601-2 luma, PIL's fixed-point rounding).
export function rgbToGray(rgb) {
  const g = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < g.length; i++) g[i] = (rgb[3 * i] * 19595 + rgb[3 * i + 1] * 38470 + rgb[3 * i + 2] * 7471 + 0x8000) >>> 16;
  return g;
}

// A short fingerprint of the exact bits of one or more typed arrays, in order (FNV-1a, 32-bit,
// 8 hex digits): feature arrays with the same checksum are, in practice, bit-identical.
export const checksum = (...arrays) => arrays.reduce((sum, a) => sum.add(a), new Checksum()).hex();

// The same fingerprint fed one array at a time (the bytes as one stream): checksum(a, b) ===
// new Checksum().add(a).add(b).hex().
export class Checksum {
  h = 0x811c9dc5;

  add(a) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let h = this.h;
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
    this.h = h;
    return this;
  }

  hex() { return (this.h >>> 0).toString(16).padStart(8, '0'); }
}

// The features' checksum (n train rows then m test rows of d floats: checksum(train, test)) taken
// from batches as they pass, so that no array of them all is needed. A batch out of order (or not
// whole rows) spoils it: result() is then null and the caller takes the checksum from the whole array.
export class RowsChecksum {
  constructor(n, m, d) { Object.assign(this, { n, m, d, next: 0, sum: new Checksum(), spoiled: false }); }

  // split 'train' | 'test', its first row start, the batch's floats; -> whether it was taken.
  add(split, start, floats) {
    const rows = floats.length / this.d, first = (split === 'test' ? this.n : 0) + start;
    const fits = Number.isInteger(rows) && first === this.next && (split === 'test' ? start + rows <= this.m : split === 'train' && start + rows <= this.n);
    if (this.spoiled || !fits) { this.spoiled = true; return false; }
    this.sum.add(floats);
    this.next += rows;
    return true;
  }

  // The checksum once every row came, in order; else null.
  result() { return !this.spoiled && this.next === this.n + this.m ? this.sum.hex() : null; }

  // Its state as plain data, continued elsewhere by RowsChecksum.from (the page's classifier worker
  // hashes the batches it reads from the cache itself, in the same order).
  state() { return { n: this.n, m: this.m, d: this.d, next: this.next, spoiled: this.spoiled, h: this.sum.h }; }

  static from({ n, m, d, next, spoiled, h }) { return Object.assign(new RowsChecksum(n, m, d), { next, spoiled, sum: Object.assign(new Checksum(), { h }) }); }
}
