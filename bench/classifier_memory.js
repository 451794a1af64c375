// classifier_memory.js — the WASM memory of the page's classifier worker (web/worker-train.js)
// per phase, measured in Node on the same code: one lab holds the features once ((n + m) x 1,024,
// train rows then test rows, as the worker's `features-begin`), then the classifiers run in the
// page's order, each on experiment.js's classifierInputs in place, and the heap's size (a WASM
// memory never shrinks: its size after a phase is its peak so far) is printed after each, with the
// bytes in use then (lab.heapUsed()).
//   nice -n 19 node bench/classifier_memory.js --features build/bench/features32.npy [--train N] [--test M]
//        [--threads 2] [--type f16|f32] [--linear 1|0] [--rbf 1|0] [--pairs here|workers] [--borrow 1|0]
//        [--cache-mb 32] [--after 1|0] [--ft-epochs E] [--ft 0|1]
// --threads T (default 2: the page's classifier worker on a cross-origin isolated page): the threaded
// core with T pthreads, the features' room in the SVMs' type (--type, default the page's f16:
// lab.heapHalves), the RBF SVM's pairs on its threads with rows read in place (rbfTrainPairsAt, the
// worker's rbfPairsHere), the model assembled with borrowed support vectors, tested, saved into the
// heap (saveInHeap, read 4 MB at a time as the page stores it) and freed, each step printed; then the
// softmax head's float32 room in place of the halves (the page reads them back from its cache).
// --threads 0: the single-threaded core and float32 features throughout, as before issue 11's
// fourth round: --pairs here: the RBF SVM's pairs in this lab, their rows read in place by index (the worker's
// rbfPairHere); workers: as the page did before, each pair's rows gathered and trained in a second
// lab (a pair worker: its heap is printed too). --borrow 1: the assembled model's support vectors
// read in place from the features (the worker's rbfAssemble), 0: copied. --after 0 stops after the
// RBF SVM. Fine-tuning (--ft 1) trains on conv5_block1-sized
// rows (512 floats per image at S=32: here the first 512 features of each row, which gives the same
// memory, not a meaningful accuracy) after the features are dropped, as the page does before the
// pixel baseline; the page's own default parameters (web/defaults.js) otherwise.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';
import { classifierInputs, rbfAssembledRow, runClassifier, parseSplit, FASHION_FILES } from '../wasm/experiment.js';
import { classIndex, pairTask, schedulePairs, trainPairAt, trainPairTask, trainPairsHere } from '../wasm/rbf-pairs.js';
import { FASHION } from '../web/defaults.js';
import { fashionDir, model, readNpy } from '../tests/helpers.js';
import zlib from 'node:zlib';
import path from 'node:path';

const opts = { features: null, train: '60000', test: '10000', pairs: 'here', 'ft-epochs': '1', ft: '1', borrow: '1', rbf: '1',
  threads: '2', type: 'f16', linear: '1', after: '1', 'cache-mb': String(FASHION.classifiers['rbf-svm'].pairCacheMb) };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) throw new Error(`usage: see the head of bench/classifier_memory.js (bad option ${argv[i]})`);
  opts[k] = argv[i + 1];
}
if (!opts.features) throw new Error('--features FILE.npy (from `node wasm/cli.js features --size 32 --out FILE.npy`) is needed');
const n = +opts.train, m = +opts.test;
const MiB = (b) => Math.round(b / 1048576);
const threads = +opts.threads, page = threads > 0, type = page ? opts.type : 'f32';
const wasmBinary = fs.readFileSync(paths.wasm), coreUrl = pathToFileURL(paths.core).href;
const lab = page ? await createDenseLab({ threads, wasmBinary: fs.readFileSync(paths.wasmThreads), coreUrl: pathToFileURL(paths.coreThreads).href })
  : await createDenseLab({ wasmBinary, coreUrl });
const params = (name) => FASHION.classifiers[name].params;
const rows = [];
const phase = (what, extra = '') => {
  rows.push({ what, mib: MiB(lab.heapBytes()), used_mib: MiB(lab.heapUsed()), extra });
  console.log(`${what}: classifier-worker WASM memory ${MiB(lab.heapBytes())} MiB, in use ${MiB(lab.heapUsed())} MiB${extra ? ` (${extra})` : ''}`);
};

// The data as the worker has it: labels (parsed in another instance, as the page does), and the
// features in its heap.
const parser = await createDenseLab({ wasmBinary, coreUrl });
const split = (name, count) => {
  const [im, lb] = FASHION_FILES[name].map((f) => zlib.gunzipSync(fs.readFileSync(path.join(fashionDir(), f))));
  const s = parseSplit(parser, name, im, lb);
  return { ...s, labels: s.labels.subarray(0, count) };
};
const train = split('train', n), test = split('test', m);
const npy = readNpy(opts.features), d = npy.shape[1], fileTrain = npy.shape[0] - 10000;
// As the worker's features-begin: conv5's pretrained weights first (the model file read once and
// freed), then the room for the features.
if (opts.ft === '1') {
  const file = lab.loadModelFile(fs.readFileSync(model));
  try { lab.setFinetuneBase(file); } finally { file.free(); }
}
phase('start');
// The features' room in a type, filled as the page's read-back does (HeapHalves: converted by the C kernel).
const room = (t) => {
  const h = t === 'f16' ? lab.heapHalves((n + m) * d, 'features') : lab.heapFloats((n + m) * d, 'features');
  h.put(0, npy.data.subarray(0, n * d));
  h.put(n * d, npy.data.subarray(fileTrain * d, (fileTrain + m) * d));
  return h;
};
let heap = room(type);
const parts = () => ({ train: heap.subarray(0, n * d), test: heap.subarray(n * d, (n + m) * d), d });
phase(`features in the heap (${type})`);

const inputs = (name, features, extra) => classifierInputs(lab, name, train, test, n, m, features, n, extra);
const row = (r) => `${(r.test_accuracy * 100).toFixed(2)} %, ${r.train_seconds.toFixed(1)} s`;

let r;
if (opts.linear === '1') {
  r = (() => { const { train: tr, test: te } = inputs('linear-svm', parts()); return runClassifier(lab, 'linear-svm', tr, te, params('linear-svm')); })();
  phase('linear SVM', row(r));
}

// The worker's RBF SVM on its threads, step by step (rbfPrepare, rbfPairsHere, rbfAssemble with the
// model held in the heap, the page reading it 4 MB at a time, model-free).
if (opts.rbf === '1' && page) {
  const { train: tr, test: te } = inputs('rbf-svm', parts());
  const p = { ...params('rbf-svm'), cacheMb: +opts['cache-mb'] };
  const t0 = Date.now();
  const shared = lab.rbfPrepare(tr.x, tr.y, tr.n, tr.d, p);
  phase('RBF SVM rows in (prepared)', `gamma ${shared.gamma.toPrecision(6)}`);
  const results = trainPairsHere(lab, tr.x, tr.n, tr.d, classIndex(tr.y, tr.n, shared.numClasses), shared, p, {
    onPair: (q) => process.stderr.write(`\rpairs: ${q.done}/${q.total}, heap ${MiB(lab.heapBytes())} MiB   `),
  });
  process.stderr.write('\n');
  const seconds = (Date.now() - t0) / 1000;
  phase('RBF SVM pairs trained', `${threads} threads, cache ${p.cacheMb} MiB per thread, ${seconds.toFixed(1)} s`);
  const clf = lab.rbfAssemble(tr.x, tr.y, tr.n, tr.d, p, results, { borrow: true });
  phase('RBF SVM assembled (borrowed support vectors)');
  const { accuracy } = clf.evaluate(te.x, te.y, te.n);
  phase('RBF SVM tested', `${(accuracy * 100).toFixed(2)} %`);
  const file = clf.saveInHeap();
  phase('RBF SVM saved into the heap', `${MiB(file.length)} MiB file, ${new DataView(file.bytes(28, 32).buffer).getUint32(0, true)} support vectors`);
  for (let s = 0; s < file.length; s += 4 << 20) file.bytes(s, Math.min(file.length, s + (4 << 20)));   // the page's 4 MB parts
  phase('RBF SVM file read in 4 MB parts');
  file.free(); clf.free();
  phase('RBF SVM model and file freed');
} else if (opts.rbf === '1') {
  const { train: tr, test: te } = inputs('rbf-svm', parts());
  const p = { ...params('rbf-svm'), cacheMb: FASHION.classifiers['rbf-svm'].pairCacheMb };
  const shared = lab.rbfPrepare(tr.x, tr.y, tr.n, tr.d, p);
  const idx = classIndex(tr.y, tr.n, shared.numClasses);
  const pairLab = opts.pairs === 'workers' ? await createDenseLab({ wasmBinary, coreUrl }) : null;
  const t0 = Date.now();
  const results = await schedulePairs({
    classSizes: idx.map((c) => c.length),
    makeTask: (ci, cj) => (pairLab ? pairTask(tr.x, tr.d, idx, ci, cj, shared, p) : { ci, cj }),
    runners: [async (t) => (pairLab ? trainPairTask(pairLab, t) : trainPairAt(lab, tr.x, tr.n, tr.d, idx, t.ci, t.cj, shared, p))],
  });
  phase('RBF SVM pairs', `${opts.pairs}${pairLab ? `, the pair worker's WASM memory ${MiB(pairLab.heapBytes())} MiB` : ''}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  r = rbfAssembledRow(lab, tr, te, p, results, (Date.now() - t0) / 1000, opts.borrow === '1');
  phase('RBF SVM assembled, tested, saved', `${row(r)}, model ${MiB(r.model.length)} MiB`);
}

if (opts.after !== '1') { console.log(JSON.stringify({ n, m, threads, type, phases: rows })); process.exit(0); }
if (type !== 'f32') {   // the page drops the halves and reads the features back as float32 for the softmax head
  heap.free();
  heap = room('f32');
  phase('features in the heap again (f32, for the softmax head)');
}
r = (() => { const { train: tr, test: te } = inputs('softmax', parts()); return runClassifier(lab, 'softmax', tr, te, params('softmax')); })();
phase('softmax head', row(r));

if (opts.ft === '1') {
  const blockD = 512;   // conv5_block1's input at S=32: 1 x 1 x 512
  const block = npy.data;   // stand-in rows: the first 512 features of each image
  heap.free(); heap = null;   // the features dropped first (the cache holds them)
  const bh = lab.heapFloats((n + m) * blockD, 'fine-tuning rows'), v = bh.view();
  for (let i = 0; i < n + m; i++) {
    const src = i < n ? i : fileTrain + i - n;
    v.set(block.subarray(src * d, src * d + blockD), i * blockD);
  }
  const { train: tr, test: te } = inputs('finetune', { train: bh.subarray(0, n * blockD), test: bh.subarray(n * blockD, (n + m) * blockD), d: blockD });
  r = runClassifier(lab, 'finetune', tr, te, { ...params('finetune'), epochs: +opts['ft-epochs'] });
  phase('fine-tuning (features dropped first)', `${opts['ft-epochs']} epoch(s), ${r.train_seconds.toFixed(1)} s`);
  bh.free();
} else {
  heap.free(); heap = null;
}

{
  const owned = [];
  const { train: tr, test: te } = inputs('pixels-linear-svm', null, (count) => { const h = lab.heapFloats(count, 'pixels'); owned.push(h); return h; });
  try { r = runClassifier(lab, 'pixels-linear-svm', tr, te, params('pixels-linear-svm')); } finally { owned.forEach((h) => h.free()); }
  phase('pixel baseline (features dropped)', row(r));
}
console.log(JSON.stringify({ n, m, threads, type, pairs: opts.pairs, phases: rows }));
