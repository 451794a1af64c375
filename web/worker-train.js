// DenseLab classifier worker (module worker): trains and tests the Fashion-MNIST classifiers
// off the page's main thread, with the same sequencing as `node wasm/cli.js fashion`.
// Messages in: { id, cmd, ... }; out: { id, ok, result | error } and, while training,
// { id, progress: { phase, step, steps, loss, trainAcc } }.
//   data    { train: {images, labels, rows, cols}, test: {...}, n, m, features: {train, test, d} | null }
//   fit     { name, params, rbfMax }   -> the comparison-table row (+ model bytes, predictions)
//   predict { model: Uint8Array (DLCLASS1), x: Float32Array } -> { label, scores, kind, numFeatures }
//   inspect { model }                  -> { kind, numClasses, numFeatures }
//   the RBF SVM's pairs (wasm/rbf-pairs.js; the page schedules them over several of these workers):
//   rbfPrepare  { params, rbfMax }     -> { classSizes } (the worker holding the data)
//   rbfTask     { ci, cj }             -> one pair's task: only its two classes' rows
//   rbfPair     { ...task }            -> { bytes } (any worker, no data needed)
//   rbfAssemble { results, seconds }   -> the comparison-table row, as fit's
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { classifierInputs, rbfAssembledRow, runClassifier } from './experiment.js';
import { classIndex, pairTask, trainPairTask } from './rbf-pairs.js';

let lab = null;
let data = null;

async function start({ wasm }) {
  if (!lab) lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  return {};
}

function setData(msg) {
  const split = (s) => ({ images: s.images, labels: s.labels, rows: s.rows, cols: s.cols, count: s.labels.length });
  data = { train: split(msg.train), test: split(msg.test), n: msg.n, m: msg.m, features: msg.features };
  return { n: data.n, m: data.m, hasFeatures: !!data.features };
}

function fit({ id, name, params, rbfMax }) {
  if (!data) throw new Error('no data sent to the classifier worker');
  if (name !== 'pixels-linear-svm' && !data.features) throw new Error(`${name} needs the DenseNet features: extract them first`);
  const { train, test } = classifierInputs(lab, name, data.train, data.test, data.n, data.m, data.features, rbfMax);
  let lastStep = -1, lastTime = 0;
  const onProgress = (phase, step, steps, loss, trainAcc) => {
    const now = performance.now();
    if ((phase === 'softmax' && step !== lastStep) || now - lastTime > 250 || step === steps) {
      lastStep = step; lastTime = now;
      self.postMessage({ id, progress: { phase, step, steps, loss, trainAcc } });
    }
    return false;
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
  if (!data?.features) throw new Error('rbf-svm needs the DenseNet features: extract them first');
  const { train, test } = classifierInputs(lab, 'rbf-svm', data.train, data.test, data.n, data.m, data.features, rbfMax);
  const shared = lab.rbfPrepare(train.x, train.y, train.n, train.d, params);
  rbf = { train, test, params, shared, rows: classIndex(train.y, train.n, shared.numClasses) };
  return { classSizes: rbf.rows.map((r) => r.length) };
}

function rbfTask({ ci, cj }) {
  if (!rbf) throw new Error('rbfTask before rbfPrepare');
  return pairTask(rbf.train.x, rbf.train.d, rbf.rows, ci, cj, rbf.shared, rbf.params);
}

const rbfPair = (task) => ({ bytes: trainPairTask(lab, task) });

function rbfAssemble({ results, seconds }) {
  if (!rbf) throw new Error('rbfAssemble before rbfPrepare');
  return rbfAssembledRow(lab, rbf.train, rbf.test, rbf.params, results, seconds);
}

const handlers = { start, data: setData, fit, predict, inspect, rbfPrepare, rbfTask, rbfPair, rbfAssemble };

serve(handlers, {
  setup: ['start'], isReady: () => !!lab, notReady: 'the classifier worker is not started',
  transfer: (r) => [r?.model?.buffer, r?.predictions?.buffer, r?.xi?.buffer, r?.xj?.buffer, r?.bytes?.buffer].filter(Boolean),
});
