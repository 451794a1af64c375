// DenseLab classifier worker (module worker): trains and tests the Fashion-MNIST classifiers
// off the page's main thread, with the same sequencing as `node wasm/cli.js fashion`.
// Messages in: { id, cmd, ... }; out: { id, ok, result | error } and, while training,
// { id, progress: { phase, step, steps, loss, trainAcc, valAcc (-1: no validation set) } }.
//   data    { train: {labels, rows, cols}, test: {...}, n, m } (labels only: the images come with a pixel fit)
//   features-begin { key, n, m, d, blockD, modelUrl, checksum } -> { have: ['train:0', ...] }: room for the
//                    features of key (train rows then test rows) in this worker's WASM heap, and the batches
//                    already there; blockD > 0: fine-tuning's rows too (blockD floats each; the model at
//                    modelUrl, checked against checksum, gives the conv5 weights fine-tuning starts from:
//                    fetched here, read once and freed)
//   features-put   { split, start, floats: Float32Array (rows x d, or x blockD with block), block, transferred } -> { spent: the same
//                  floats, transferred back (copied into the heap; see featuresPut) }
//   features-end   -> { checksum } (experiment.js checksum(train, test)), after every row was put
//   features-drop  { keepBlock } -> {}: keepBlock: only the features go (their room then holds fine-tuning's
//                    working memory); fine-tuning's rows stay, for a fit of 'finetune' only
//   fit     { name, params, rbfMax, images: { train, test } (the pixel baseline's, transferred), stopFlag }
//           -> the comparison-table row (+ model bytes, predictions); stopFlag (Int32Array on a
//           SharedArrayBuffer): set to 1, fine-tuning ends after its epoch, keeping the best epoch's weights
//   predict { model: Uint8Array (DLCLASS1), x: Float32Array } -> { label, scores, kind, numFeatures }
//   inspect { model }                  -> { kind, numClasses, numFeatures }
//   the RBF SVM's pairs (wasm/rbf-pairs.js; the page schedules them over several of these workers):
//   rbfPrepare  { params, rbfMax }     -> { classSizes } (the worker holding the data)
//   rbfTask     { ci, cj }             -> one pair's task: only its two classes' rows
//   rbfPair     { ...task }            -> { bytes } (any worker, no data needed)
//   rbfPairHere { ci, cj }             -> { bytes } (the worker holding the data: the pair's rows read in
//                                         place, no copy and no other worker; the same bytes as rbfPair)
//   rbfAssemble { results, seconds }   -> the comparison-table row, as fit's
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { fetchModelFile } from './fetch-model.js';
import { checksum, classifierInputs, rbfAssembledRow, runClassifier } from './experiment.js';
import { classIndex, pairTask, trainPairAt, trainPairTask } from './rbf-pairs.js';

let lab = null;
let data = null;
// The one copy of the features in the tab: { key, n, m, d, heap (HeapFloats, (n + m) x d), have, and
// fine-tuning's rows: blockD, block (HeapFloats, (n + m) x blockD) and haveBlock }.
// The page puts the batches in (read back from the cache once the feature workers are gone);
// the classifiers read it in place.
let features = null;

async function start({ wasm }) {
  if (!lab) lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  return {};
}

function setData(msg) {
  const split = (s) => ({ labels: s.labels, rows: s.rows, cols: s.cols, count: s.labels.length });
  data = { train: split(msg.train), test: split(msg.test), n: msg.n, m: msg.m };
  return { n: data.n, m: data.m };
}

function dropFeatures({ keepBlock = false } = {}) {
  rbf = null;       // its train/test rows are views into features.heap
  features?.heap?.free();
  if (keepBlock && features?.block) {
    Object.assign(features, { heap: null, have: new Set() });
    return {};
  }
  features?.block?.free();
  features = null;
  return {};
}

let baseModel = null;   // the checksum of the model whose conv5 weights fine-tuning starts from

async function featuresBegin({ key, n, m, d, blockD = 0, modelUrl, checksum: modelChecksum }) {
  if (blockD && modelUrl && baseModel !== modelChecksum) {
    // Before the features' room is taken: the model's heap space is free again for it.
    const file = await fetchModelFile(lab, modelUrl, modelChecksum);
    try { lab.setFinetuneBase(file); baseModel = file.checksum; } finally { file.free(); }
  }
  if (features?.key !== key || !features.heap) {
    dropFeatures();
    features = { key, n, m, d, heap: lab.heapFloats((n + m) * d, 'features'), have: new Set(), blockD: 0, block: null, haveBlock: new Set() };
  }
  if (blockD && features.blockD !== blockD) {
    features.block?.free();
    Object.assign(features, { blockD, block: lab.heapFloats((n + m) * blockD, 'fine-tuning rows'), haveBlock: new Set() });
  }
  return { have: [...features.have].filter((b) => !blockD || features.haveBlock.has(b)) };
}

function featuresPut({ split, start, floats, block }) {
  if (!features?.heap) throw new Error('features-put before features-begin');
  if (block && !features.block) throw new Error('features-put: no room for fine-tuning rows (features-begin without blockD)');
  const { n, m } = features, d = block ? features.blockD : features.d, rows = floats.length / d, end = split === 'train' ? n : m;
  if ((split !== 'train' && split !== 'test') || !Number.isInteger(rows) || !Number.isInteger(start) || start < 0 || start + rows > end) {
    throw new Error(`features-put: ${floats.length} floats at ${split} row ${start} do not fit ${n} + ${m} rows of ${d}`);
  }
  (block ? features.block : features.heap).view().set(floats, ((split === 'test' ? n : 0) + start) * d);
  (block ? features.haveBlock : features.have).add(`${split}:${start}`);
  // The heap holds them now. Handed back rather than released: a detached buffer's memory is
  // freed only by a garbage collection, which this idle worker puts off (410 MB at 70,000
  // images); the page gives it to the cache worker, which is ended with it.
  return { spent: floats };
}

// The features (block: fine-tuning's rows) as experiment.js's { train, test, d }, in place.
function featureParts(block = false) {
  const { n, m } = features, d = block ? features.blockD : features.d, heap = block ? features.block : features.heap;
  return { train: heap.subarray(0, n * d), test: heap.subarray(n * d, (n + m) * d), d };
}

function featuresEnd() {
  if (!features?.heap) throw new Error('features-end before features-begin');
  const { train, test } = featureParts();
  return { checksum: checksum(train.view(), test.view()) };
}

function fit({ id, name, params, rbfMax, images, stopFlag }) {
  if (!data) throw new Error('no data sent to the classifier worker');
  const px = name === 'pixels-linear-svm', block = lab.reportRows().find((r) => r.name === name)?.blockInput;
  if (!px && !(block ? features : features?.heap)) throw new Error(`${name} needs the DenseNet features: extract them first`);
  if (block && (!features.block || !baseModel)) throw new Error(`${name} needs conv5_block1's input: extract the features with it chosen`);
  if (px && !images) throw new Error('the pixel baseline needs the images');
  const withImages = (s, split) => ({ ...s, images: px ? images[split] : null });
  // The pixel baseline's [0, 1] floats go into the heap, freed after the run (and that room is
  // reused by the next classifier): no JS copy of them.
  const owned = [];
  const heapFloats = (count) => { const h = lab.heapFloats(count, 'pixels'); owned.push(h); return h; };
  try {
    return fitOn(id, name, params, classifierInputs(lab, name, withImages(data.train, 'train'), withImages(data.test, 'test'),
      data.n, data.m, px ? null : featureParts(block), rbfMax, heapFloats), stopFlag);
  } finally {
    owned.forEach((h) => h.free());
  }
}

function fitOn(id, name, params, { train, test }, stopFlag) {
  let lastStep = -1, lastTime = 0;
  const onProgress = (phase, step, steps, loss, trainAcc, valAcc, valLoss) => {
    const now = performance.now(), perEpoch = phase === 'softmax' || phase === 'finetune';
    if ((perEpoch && step !== lastStep) || now - lastTime > 250 || step === steps) {
      lastStep = step; lastTime = now;
      self.postMessage({ id, progress: { phase, step, steps, loss, trainAcc, valAcc, valLoss } });
    }
    return phase === 'finetune' && stopFlag && Atomics.load(stopFlag, 0) ? 'stop' : false;
  };
  return runClassifier(lab, name, train, test, params, onProgress);
}

function withClassifier(model, fn) {
  const c = lab.loadClassifier(new Uint8Array(model));
  try { return fn(c); } finally { c.free(); }
}

const inspect = ({ model }) => withClassifier(model, (c) => ({ kind: c.kind, numClasses: c.numClasses, numFeatures: c.numFeatures }));

function predict({ model, x }) {
  return withClassifier(model, (c) => {
    const { labels, scores } = c.predict(x, 1);
    return { label: labels[0], scores: Array.from(scores), kind: c.kind, numFeatures: c.numFeatures };
  });
}

let rbf = null;   // the RBF SVM fit being scheduled: its inputs, class rows, gamma (and mean/std)

function rbfPrepare({ params, rbfMax }) {
  if (!data) throw new Error('no data sent to the classifier worker');
  if (!features?.heap) throw new Error('rbf-svm needs the DenseNet features: extract them first');
  // In place: train.x and test.x are parts of the one copy (HeapFloats).
  const { train, test } = classifierInputs(lab, 'rbf-svm', data.train, data.test, data.n, data.m, featureParts(), rbfMax);
  const shared = lab.rbfPrepare(train.x, train.y, train.n, train.d, params);
  rbf = { train, test, params, shared, rows: classIndex(train.y, train.n, shared.numClasses) };
  return { classSizes: rbf.rows.map((r) => r.length) };
}

function rbfTask({ ci, cj }) {
  if (!rbf) throw new Error('rbfTask before rbfPrepare');
  return pairTask(rbf.train.x, rbf.train.d, rbf.rows, ci, cj, rbf.shared, rbf.params);
}

let pairsTrained = 0;
const rbfPair = (task) => { pairsTrained++; return { bytes: trainPairTask(lab, task) }; };

function rbfPairHere({ ci, cj }) {
  if (!rbf) throw new Error('rbfPairHere before rbfPrepare');
  const { x, n, d } = rbf.train;
  return { bytes: trainPairAt(lab, x, n, d, rbf.rows, ci, cj, rbf.shared, rbf.params) };
}

function rbfAssemble({ results, seconds }) {
  if (!rbf) throw new Error('rbfAssemble before rbfPrepare');
  try {
    // The model's support vectors read in place from the features (tested, saved and freed here).
    return rbfAssembledRow(lab, rbf.train, rbf.test, rbf.params, results, seconds, true);
  } finally {
    rbf = null;     // one fit: its rows are views into features.heap, freed by dropFeatures()
  }
}

const handlers = {
  start, data: setData, fit, predict, inspect, rbfPrepare, rbfTask, rbfPair, rbfPairHere, rbfAssemble,
  'features-begin': featuresBegin, 'features-put': featuresPut, 'features-end': featuresEnd, 'features-drop': dropFeatures,
};

// For bench/tab_experiment.js's memory breakdown: this worker's WASM memory (it never shrinks).
self.__denselabMemory = () => ({ wasmBytes: lab ? lab.heapBytes() : 0, role: data || features ? 'classifier' : pairsTrained ? 'RBF pairs' : null });

serve(handlers, {
  setup: ['start'], isReady: () => !!lab, notReady: 'the classifier worker is not started',
  transfer: (r) => [r?.model?.buffer, r?.predictions?.buffer, r?.xi?.buffer, r?.xj?.buffer, r?.bytes?.buffer, r?.spent?.buffer].filter(Boolean),
});
