#!/usr/bin/env node
// f16_accuracy.js — issue 11 §3: may the classifiers' features be stored as float16? Each classifier
// the Fashion-MNIST page runs, with the page's parameters (web/defaults.js), trained once on the
// float32 features and once on the same features rounded to float16 (round to nearest even), in the
// same run; prints the table of docs/benchmarks.md ("Float16 feature storage") and one JSON line.
// Outside CI (the RBF SVM on 60,000 takes minutes).
//
//   nice -n 19 node bench/f16_accuracy.js --features build/bench/features32.npy [--train 60000] [--test 10000]
//        [--workers 2] [--classifiers linear-svm,rbf-svm,softmax,pixels-linear-svm] [--halves js|heap] [--seed S]
//        [--rows all|experiment]
//
// --features: a .npy from `node wasm/cli.js features --size 32 --out FILE.npy` (N train rows then
// 10,000 test rows, with FILE.labels.npy). --halves js: the float16 values rounded here in JS and
// trained as float32 (Step 0 of the work: the values alone); heap: stored as halves by the C kernel
// (lab.heapHalves) and trained on those rows, as the page and both CLIs do.
// The pixel baseline rounds pixels / 255 the same way. The RBF SVM's pairs run on --workers threads.
// --seed S: the classifiers' seed parameter (softmax: initial weights and shuffling; linear SVMs: the
// permutations) instead of the page's 1, to see how much a seed alone moves an accuracy.
// --rows experiment: the second column is the experiment's default (learn/report.h,
// lab.reportFeatureType: float16 for the two SVMs only; a float32 row is not trained twice);
// all (the default): every row on float16.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';
import { pixels, runClassifier, rbfAssembledRow } from '../wasm/experiment.js';
import { classIndex, pairTask, schedulePairs, trainPairTask } from '../wasm/rbf-pairs.js';
import { nodePairWorkers } from '../wasm/rbf-pair-worker.js';
import { FASHION } from '../web/defaults.js';
import { fashionDir, readNpy } from '../tests/helpers.js';

const opts = { features: null, train: '60000', test: '10000', workers: '2', classifiers: 'linear-svm,rbf-svm,softmax,pixels-linear-svm', halves: 'js', seed: '', rows: 'all' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) throw new Error(`usage: see the head of bench/f16_accuracy.js (bad option ${argv[i]})`);
  opts[k] = argv[i + 1];
}
if (!opts.features) throw new Error('--features FILE.npy is needed (see the head of bench/f16_accuracy.js)');
const n = +opts.train, m = +opts.test, workers = +opts.workers;

// Round to the nearest float16 (ties to even; beyond 65,504 to infinity), back as a float32:
// exact in doubles, since every step scales by a power of two.
const bits = new Uint32Array(1), asFloat = new Float32Array(bits.buffer);
export function roundToHalf(x) {
  if (!Number.isFinite(x) || x === 0) return x;
  asFloat[0] = x;
  const e = ((bits[0] >>> 23) & 255) - 127;
  const ulp = 2 ** (Math.max(e, -14) - 10);   // below 2^-14: the subnormals' fixed step 2^-24
  const v = Math.abs(x) / ulp;
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 === 1) r -= 1;   // Math.round takes ties up: to even instead
  const h = r * ulp;
  return Math.sign(x) * (h > 65504 ? Infinity : h);
}
const roundedCopy = (x) => Float32Array.from(x, roundToHalf);

const x = readNpy(opts.features), labels = readNpy(opts.features.replace(/\.npy$/, '.labels.npy'));
const [rows, d] = x.shape, fileTrain = rows - 10000;
if (n > fileTrain || m > 10000) throw new Error(`${opts.features} has ${fileTrain} + 10000 rows`);
const readSplit = (im, lb, count) => {
  const [images, y] = [im, lb].map((f) => zlib.gunzipSync(fs.readFileSync(path.join(fashionDir(), f))));
  return { images: images.subarray(16), rows: 28, cols: 28, labels: Int32Array.from(y.subarray(8, 8 + count)) };
};
const fashion = { train: readSplit('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', n), test: readSplit('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', m) };
const ys = { train: Int32Array.from(labels.data.subarray(0, n)), test: Int32Array.from(labels.data.subarray(fileTrain, fileTrain + m)) };
for (const [s, y] of Object.entries(ys)) if (!y.every((v, i) => v === fashion[s].labels[i])) throw new Error(`${opts.features}: its ${s} labels are not Fashion-MNIST's`);

const wasmBinary = fs.readFileSync(paths.wasm), coreUrl = pathToFileURL(paths.core).href;
const lab = await createDenseLab({ wasmBinary, coreUrl });
const totalSv = (bytes) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(28, true);   // DLCLASS1 kind parameter

// One classifier's inputs as { train: { x, y, n, d }, test } with x float32 arrays, or halves in the heap.
function inputs(name, type) {
  const px = name === 'pixels-linear-svm', dd = px ? 784 : d;
  const f32 = {
    train: px ? pixels(fashion.train, n) : x.data.subarray(0, n * d),
    test: px ? pixels(fashion.test, m) : x.data.subarray(fileTrain * d, (fileTrain + m) * d),
  };
  const store = (a) => {
    if (type === 'f32') return a;
    if (opts.halves === 'js') return roundedCopy(a);
    const h = lab.heapHalves(a.length, 'f16 accuracy rows');
    h.put(0, a);
    return h;
  };
  return { train: { x: store(f32.train), y: ys.train, n, d: dd }, test: { x: store(f32.test), y: ys.test, n: m, d: dd } };
}
const freeInputs = (io) => [io.train.x, io.test.x].forEach((a) => a.free?.());

async function rbf(io) {
  const p = { ...FASHION.classifiers['rbf-svm'].params, cacheMb: FASHION.classifiers['rbf-svm'].pairCacheMb };
  const t0 = Date.now();
  const shared = lab.rbfPrepare(io.train.x, io.train.y, n, io.train.d, p);
  const idx = classIndex(io.train.y, n, shared.numClasses);
  const pool = nodePairWorkers(workers, { wasm: paths.wasm, core: coreUrl });
  try {
    const results = await schedulePairs({
      classSizes: idx.map((c) => c.length),
      makeTask: (ci, cj) => pairTask(io.train.x, io.train.d, idx, ci, cj, shared, p),
      runners: pool.runners,
      onPair: (q) => process.stderr.write(`\r  pairs ${q.done}/${q.total}, ${q.seconds.toFixed(0)} s   `),
    });
    process.stderr.write('\n');
    return rbfAssembledRow(lab, io.train, io.test, p, results, (Date.now() - t0) / 1000);
  } finally { await pool.close(); }
}

const paramsOf = (name) => ({ ...FASHION.classifiers[name].params, ...(opts.seed !== '' && name !== 'rbf-svm' ? { seed: +opts.seed } : {}) });
const table = [];
for (const name of opts.classifiers.split(',')) {
  const row = { classifier: name, params: paramsOf(name) };
  for (const type of ['f32', 'f16']) {
    if (type === 'f16' && opts.rows === 'experiment' && lab.reportFeatureType(name) === 'f32') { row.f16 = row.f32; continue; }
    process.stderr.write(`${name} on ${type}...\n`);
    const io = inputs(name, type);
    try {
      const r = name === 'rbf-svm' ? await rbf(io) : runClassifier(lab, name, io.train, io.test, row.params);
      row[type] = { accuracy: r.test_accuracy, seconds: r.train_seconds, ...(name === 'rbf-svm' ? { support_vectors: totalSv(r.model) } : {}) };
    } finally { freeInputs(io); }
  }
  row.difference_points = (row.f16.accuracy - row.f32.accuracy) * 100;
  table.push(row);
  const pct = (a) => `${(a * 100).toFixed(2)} %`;
  console.log(`| ${name} | ${pct(row.f32.accuracy)} | ${pct(row.f16.accuracy)} | ${row.difference_points >= 0 ? '+' : ''}${row.difference_points.toFixed(2)} | ${row.f32.support_vectors ?? '—'} | ${row.f16.support_vectors ?? '—'} | ${row.f32.seconds.toFixed(1)} / ${row.f16.seconds.toFixed(1)} s |`);
}
const within = table.every((r) => Math.abs(r.difference_points) <= 0.1);
console.log(JSON.stringify({ features: path.basename(opts.features), train: n, test: m, halves: opts.halves, rows: opts.rows, within_0_1_points: within, table }));
