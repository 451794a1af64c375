// rbf-pairs.js — the RBF SVM's K(K-1)/2 one-vs-one pairs as independent units, spread over
// workers (learn/kernel_svm.h: prepare, train_pair, assemble). No host APIs here: the Node CLI
// (wasm/rbf-pair-worker.js: worker_threads) and the page (web/worker-train.js's pool) each give
// the workers; this file orders the pairs, sends each only its two classes' rows, keeps every
// finished pair (a cancelled fit resumes from them) and assembles the model, whose bytes are the
// same as lab.fit('rbf-svm', ...) whatever the number of workers or the order pairs finish.
import { release } from './denselab.js';

// LIBSVM's pair order: (0,1), (0,2), ..., (1,2), ...
export function rbfPairs(numClasses) {
  const out = [];
  for (let ci = 0; ci < numClasses; ci++) for (let cj = ci + 1; cj < numClasses; cj++) out.push([ci, cj]);
  return out;
}

export const pairKey = (ci, cj) => `${ci},${cj}`;

// Row indices of each class, in training-set order.
export function classIndex(y, n, numClasses) {
  const rows = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < n; i++) rows[y[i]].push(i);
  return rows;
}

// The rows of one class as a new Float32Array (its buffer can be transferred to a worker).
// x: a Float32Array, or a lab's HeapFloats (read through a fresh view), or HeapHalves (the
// values they stand for: exact, so a pair trains the same as on the halves in place).
export function gatherRows(x, d, indices) {
  const out = new Float32Array(indices.length * d), src = typeof x.view === 'function' ? x.view() : x;
  const value = src instanceof Uint16Array ? x.lab.halfValues() : null;
  if (value) indices.forEach((r, k) => { for (let j = 0; j < d; j++) out[k * d + j] = value[src[r * d + j]]; });
  else indices.forEach((r, k) => out.set(src.subarray(r * d, (r + 1) * d), k * d));
  return out;
}

export class PairsCancelled extends Error {
  constructor(done, total) {
    super(`cancelled: ${done} of ${total} pairs finished and kept (a second run resumes from them)`);
    this.done = done;
    this.total = total;
  }
}

// Trains the pairs of numClasses classes not yet in `done` (a Map pairKey -> result bytes, filled
// as pairs finish) on `runners`: functions task -> Promise<Uint8Array>, one per worker, each
// running one task at a time; makeTask(ci, cj) gives the task (or a Promise of it: the page asks
// the worker that holds the data). A runner may be { run, makeTask, prefetch } instead: its own
// tasks, and with prefetch its next task is asked for as soon as its current one is in hand (the
// page's pair workers get their rows from the classifier worker, busy with pairs of its own). classSizes[k]: rows of class k. The largest pairs go first
// (better balance at the end). onPair({ ci, cj, done, total, seconds, eta }) after each pair;
// isCancelled() is asked before each new pair: then PairsCancelled, with `done` kept.
export async function schedulePairs({ classSizes, makeTask, runners, done = new Map(), onPair, isCancelled = () => false }) {
  if (!Array.isArray(runners) || !runners.length) throw new Error('the RBF SVM pairs need at least one worker');
  const all = rbfPairs(classSizes.length), total = all.length;
  const queue = pairsToTrain(classSizes, done), clock = pairClock(classSizes, queue);
  let failure = null;
  const take = (make) => {   // the next pair and its task (started now)
    if (!queue.length || failure || isCancelled()) return null;
    const pair = queue.shift(), task = Promise.resolve().then(() => make(...pair));
    task.catch(() => {});   // awaited below: a failure there is not unhandled
    return { pair, task };
  };
  const worker = async ({ run, makeTask: make = makeTask, prefetch = false }) => {
    for (let next = take(make); next;) {
      const { pair: [ci, cj], task } = next;
      try {
        const t = await task;
        if (prefetch) next = take(make);   // its next task is made while this pair trains
        done.set(pairKey(ci, cj), await run(t));
      } catch (e) { failure ??= e; return; }
      if (!prefetch) next = take(make);
      onPair?.({ ci, cj, done: done.size, total, ...clock(ci, cj) });
    }
  };
  await Promise.all(runners.map((r) => worker(typeof r === 'function' ? { run: r } : r)));
  if (failure) throw failure;
  if (done.size < total) throw new PairsCancelled(done.size, total);
  return all.map(([ci, cj]) => done.get(pairKey(ci, cj)));
}

// The pairs not yet in `done`, the largest first (better balance at the end).
export function pairsToTrain(classSizes, done) {
  const size = ([ci, cj]) => classSizes[ci] + classSizes[cj];
  return rbfPairs(classSizes.length).filter(([ci, cj]) => !done.has(pairKey(ci, cj))).sort((a, b) => size(b) - size(a));
}

// The time since the clock was made and the time left, as pairs of `queue` finish: (ci, cj) ->
// { seconds, eta }. SMO's cost grows about with l^2.
export function pairClock(classSizes, queue) {
  const cost = (ci, cj) => (classSizes[ci] + classSizes[cj]) ** 2;
  const work = queue.reduce((s, [ci, cj]) => s + cost(ci, cj), 0), t0 = Date.now();
  let doneWork = 0;
  return (ci, cj) => {
    doneWork += cost(ci, cj);
    const seconds = (Date.now() - t0) / 1000;
    return { seconds, eta: doneWork < work ? seconds * (work - doneWork) / doneWork : 0 };
  };
}

// The pairs not yet in `done` trained where the training set is, on the threads of lab (a
// threaded instance: createDenseLab({ threads }); lab.rbfTrainPairsAt): no workers, no copies
// of rows. Like schedulePairs: `done` keeps every finished pair (as it finishes, so a cancel or
// a failure loses none), onPair({ ci, cj, done, total, seconds, eta }) after each pair, and
// isCancelled() (asked every 1,000 SMO steps and every 50 ms) ends it with PairsCancelled.
// rows: classIndex's. -> every pair's result, in rbfPairs order.
export function trainPairsHere(lab, x, n, d, rows, shared, options, { done = new Map(), onPair, isCancelled = () => false } = {}) {
  const classSizes = rows.map((r) => r.length), all = rbfPairs(classSizes.length), total = all.length;
  const queue = pairsToTrain(classSizes, done), clock = pairClock(classSizes, queue);
  const keep = ([ci, cj], bytes) => {
    done.set(pairKey(ci, cj), bytes);
    onPair?.({ ci, cj, done: done.size, total, ...clock(ci, cj) });
  };
  try {
    lab.rbfTrainPairsAt(x, n, d, rows, queue, shared, options, (p) => {
      if (p.pair) keep(p.pair, p.bytes);
      return isCancelled();
    });
  } catch (e) {
    e.finished?.forEach((bytes, k) => { if (bytes && !done.has(pairKey(...queue[k]))) keep(queue[k], bytes); });
    if (e.cancelled) throw new PairsCancelled(done.size, total);
    throw e;
  }
  return all.map(([ci, cj]) => done.get(pairKey(ci, cj)));
}

// One pair's task: only its two classes' rows, and what every pair shares (from lab.rbfPrepare).
export function pairTask(x, d, rows, ci, cj, { gamma, mean, std }, options) {
  return { ci, cj, xi: gatherRows(x, d, rows[ci]), ni: rows[ci].length, xj: gatherRows(x, d, rows[cj]), nj: rows[cj].length, d, gamma, mean, std, options };
}

// A task on a lab (what each worker runs). Its rows go into the lab's heap first and their JS
// copies (transferred here) are released before training: a worker holds a pair's rows once.
export function trainPairTask(lab, t) {
  const rows = [];
  try {
    for (const x of [t.xi, t.xj]) {
      const h = lab.heapFloats(x.length, 'pair rows');
      rows.push(h);
      h.view().set(x);
    }
    release(t.xi, t.xj);
    return lab.rbfTrainPair(rows[0], t.ni, rows[1], t.nj, t.d, t.ci, t.cj, { gamma: t.gamma, mean: t.mean, std: t.std }, t.options);
  } finally { rows.forEach((h) => h.free()); }
}

// A pair trained where the training set already is (x: n x d, a HeapFloats of lab; rows from
// classIndex): its rows are read in place by index, not gathered (the same bytes as
// trainPairTask on pairTask's copies). The page's classifier worker runs its pairs this way.
export const trainPairAt = (lab, x, n, d, rows, ci, cj, shared, options) =>
  lab.rbfTrainPairAt(x, n, d, rows[ci], rows[cj], ci, cj, shared, options);

// The whole fit where the data is (the Node CLI, tests): the Classifier. here: the pairs on lab's
// own threads (trainPairsHere) instead of runners.
export async function fitRbfPairs(lab, x, y, n, d, options, { runners, here = false, done, onPair, isCancelled }) {
  const shared = lab.rbfPrepare(x, y, n, d, options);
  const rows = classIndex(y, n, shared.numClasses);
  const results = here ? trainPairsHere(lab, x, n, d, rows, shared, options, { done, onPair, isCancelled }) : await schedulePairs({
    classSizes: rows.map((r) => r.length), makeTask: (ci, cj) => pairTask(x, d, rows, ci, cj, shared, options),
    runners, done, onPair, isCancelled,
  });
  return lab.rbfAssemble(x, y, n, d, options, results);
}
