// DenseLab classifier worker (module worker): trains and tests the Fashion-MNIST classifiers
// off the page's main thread, with the same sequencing as `node wasm/cli.js fashion`.
// Messages in: { id, cmd, ... }; out: { id, ok, result | error } and, while training,
// { id, progress: { phase, step, steps, loss, trainAcc, valAcc (-1: no validation set) } }.
//   start   { wasm, threads }           -> { threads, why, featureTypes: { name: 'f16' | 'f32' } (how each
//                                          classifier kind stores its features: learn/experiment.c's table, as the CLIs) }
//   data    { train: {labels, rows, cols}, test: {...}, n, m } (labels only: the images come with a pixel fit)
//   features-begin { key, n, m, d, blockD, modelUrl, checksum, type } -> { have: ['train:0', ...], haveBlock }: room for the
//                    features of key (train rows then test rows) in this worker's WASM heap (type 'f16': as float16,
//                    each put batch converted; default 'f32'; testRows false: no room for the test rows, whose batches are
//                    then not kept: a fit reads them from the cache, testFrom), and the batches already there; blockD > 0: fine-tuning's rows may come too (blockD floats each; their room is
//                    taken at their first batch; the model at modelUrl, checked against checksum, gives the conv5
//                    weights fine-tuning starts from: fetched here, read once and freed)
//   block-begin    { key, n, m, blockD, modelUrl, checksum } -> { have }: fine-tuning's rows only (put with block:
//                    the page fills them from the cache when fine-tuning starts), and those already here
//   features-put   { split, start, floats: Float32Array (rows x d, or x blockD with block), block, transferred } -> { spent: the same
//                  floats, transferred back (copied into the heap; see featuresPut) }
//   features-end   -> { checksum } (experiment.js checksum(train, test)), after every row was put; float32 rooms
//                    only (the page takes the checksum of float16 rooms from the float32 batches as they pass)
//   features-drop  { keepBlock } -> {}: keepBlock: only the features go (their room then holds fine-tuning's
//                    working memory); fine-tuning's rows stay, for a fit of 'finetune' only
//   fit     { name, params, rbfMax, images: { train, test } (the pixel baseline's, transferred), stopFlag, testFrom (the
//           cache's test entries [{ key, start, rows }], for a room without test rows, read through port: a
//           cache worker serves them, as features-from-cache; without port, read here) }
//           -> the comparison-table row (+ predictions, and model: { held, length }, the trained file left in
//           this worker's heap; the pixel baseline's images, transferred back); stopFlag (Int32Array on a
//           SharedArrayBuffer): set to 1, fine-tuning ends after its epoch, keeping the best epoch's weights
//   pixels-room {}                     -> {}: room in the heap for the pixel baseline's training floats; then
//   pixels-put { start, bytes }        -> { spent: bytes, transferred back }: stored training images, a part at a
//                                         time, converted into that room (no whole JS copy of their 47 MB); a
//                                         pixel fit with images.train null takes the room
//   features-from-cache { entries: [{ key, split, range, floats (per row), isBlock }], rows, port } -> { rows }: the
//                    entries, read by a cache worker at the other end of port (fashion-cache.js PortReader, serveReads),
//                    put into the room as features-put would; rows: a RowsChecksum state (experiment.js) continued over
//                    the features' batches; a missing entry fails with fashion-cache.js readBackError, those before it put
//   pixels-from-cache { handle: { key, length, parts }, port } -> { complete }: the stored training images, read so a
//                    part at a time, into the pixel room as pixels-put; complete false: a part is missing
//   model-part { held, start, end } -> { bytes }: a part of a held file (copied, transferred), so the page
//                                     stores it a few MB at a time and no whole JS copy of it exists
//   model-free { held } -> {}: the page has it stored (or as bytes)
//   predict { model: Uint8Array (DLCLASS1), x: Float32Array } -> { label, scores, kind, numFeatures }
//   inspect { model }                  -> { kind, numClasses, numFeatures }
//   the RBF SVM's pairs (wasm/rbf-pairs.js; the page schedules them over several of these workers):
//   rbfPrepare  { params, rbfMax }     -> { classSizes } (the worker holding the data)
//   rbfTask     { ci, cj }             -> one pair's task: only its two classes' rows
//   rbfPair     { ...task }            -> { bytes } (any worker, no data needed)
//   rbfPairHere { ci, cj }             -> { bytes } (the worker holding the data: the pair's rows read in
//                                         place, no copy and no other worker; the same bytes as rbfPair)
//   rbfPairsHere { done, threads, stopFlag } -> { pairs, threads } (the worker holding the data, started
//                                         threaded: every pair not in done on its pthreads, rows in place;
//                                         each pair's bytes come as progress as it finishes)
//   rbfAssemble { results, seconds, testFrom, port } -> the comparison-table row, as fit's (its model held likewise)
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { fetchModelFile } from './fetch-model.js';
import { RowsChecksum, checksum, classifierInputs, pixelsInto, rbfAssembledRow, runClassifier } from './experiment.js';
import { FeatureCache, PortReader, ScratchReader, readBackError, readEntries, streamParts } from './fashion-cache.js';
import { classIndex, pairKey, pairTask, trainPairAt, trainPairTask, trainPairsHere } from './rbf-pairs.js';

let lab = null;
let data = null;
// The trained classifiers' files (DLCLASS1) left in the heap until the page has stored them: held id ->
// saveInHeap()'s { length, bytes(start, end), free }. The RBF SVM's is 90 MB at 60,000; as one JS copy
// moved to the page and cloned by IndexedDB, it was the tab's peak (a 296 MB spike in the renderer).
const held = new Map();
let heldCount = 0;

// lab, except that the classifiers it trains save into the heap: experiment.js's row then has
// model: { held, length } instead of bytes.
const holdingModels = (core) => new Proxy(core, {
  get(target, key) {
    const v = target[key];
    if (key !== 'fit' && key !== 'rbfAssemble') return typeof v === 'function' ? v.bind(target) : v;
    return (...args) => {
      const clf = v.apply(target, args);
      clf.save = () => { const file = clf.saveInHeap(), id = ++heldCount; held.set(id, file); return { held: id, length: file.length }; };
      return clf;
    };
  },
});

function heldFile(id) {
  const file = held.get(id);
  if (!file) throw new Error(`no trained classifier ${id} in the classifier worker (freed, or the worker was restarted)`);
  return file;
}

const modelPart = ({ held: id, start, end }) => ({ bytes: heldFile(id).bytes(start, end) });

function modelFree({ held: id }) {
  held.get(id)?.free();
  held.delete(id);
  return {};
}
// The one copy of the features in the tab: { key, n, m, d, type, heap ((n + m) x d: HeapFloats, or
// HeapHalves with type 'f16'), have, and
// fine-tuning's rows: blockD, block (HeapFloats, (n + m) x blockD) and haveBlock }.
// The page puts the batches in (read back from the cache once the feature workers are gone);
// the classifiers read it in place.
let features = null;

// threads (the page's Workers setting) > 1 on a cross-origin isolated page: the threaded core
// (denselab_core_mt, fetched from beside this worker), whose pthreads train the RBF SVM's pairs
// here (rbfPairsHere); else the single-threaded core the page sent. -> { threads, why }.
let mode = { threads: 1, why: '' };

// Each classifier kind's feature storage, from the core's table ('f32' when the core does not say).
const featureTypes = () => Object.fromEntries(lab.reportRows().map((r) => [r.name, r.featureType ?? 'f32']));

async function start(args) {
  await startCore(args);
  return { ...mode, featureTypes: featureTypes() };
}

async function startCore({ wasm, threads = 1 }) {
  if (lab) return mode;
  const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  // Firefox: the threaded build breaks the offline cache's downloads there (web/worker.js).
  const firefox = typeof navigator !== 'undefined' && /Firefox\//.test(navigator.userAgent);
  mode.why = threads <= 1 ? 'one worker was asked for' : !isolated ? 'the page is not cross-origin isolated' : firefox ? 'Firefox' : '';
  if (!mode.why) {
    try {
      const resp = await fetch(new URL('./denselab_core_mt.wasm', import.meta.url));
      if (!resp.ok) throw new Error(`could not load denselab_core_mt.wasm: HTTP ${resp.status}`);
      lab = await createDenseLab({ wasmBinary: new Uint8Array(await resp.arrayBuffer()), threads });
      mode = { threads, why: 'the page is cross-origin isolated' };
      return mode;
    } catch (e) {      // e.g. no memory for the threads: the single-threaded core still works
      mode.why = `the threaded core failed to start (${e.message})`;
    }
  }
  lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  return mode;
}

function setData(msg) {
  const split = (s) => ({ labels: s.labels, rows: s.rows, cols: s.cols, count: s.labels.length });
  data = { train: split(msg.train), test: split(msg.test), n: msg.n, m: msg.m };
  return { n: data.n, m: data.m };
}

function dropFeatures({ keepBlock = false } = {}) {
  rbf = null;       // its train/test rows are views into features.heap
  features?.heap?.free();
  if (keepBlock && features) {     // fine-tuning's rows (or their room, taken at their first batch) stay
    Object.assign(features, { heap: null, have: new Set() });
    return {};
  }
  features?.block?.free();
  features = null;
  return {};
}

let baseModel = null;   // the checksum of the model whose conv5 weights fine-tuning starts from

// The conv5 weights fine-tuning starts from, from the model at modelUrl (read once and freed).
async function finetuneBase(modelUrl, modelChecksum) {
  if (!modelUrl || baseModel === modelChecksum) return;
  const file = await fetchModelFile(lab, modelUrl, modelChecksum);
  try { lab.setFinetuneBase(file); baseModel = file.checksum; } finally { file.free(); }
}

async function featuresBegin({ key, n, m, d, blockD = 0, modelUrl, checksum: modelChecksum, type = 'f32', testRows = true }) {
  // Before the features' room is taken: the model's heap space is free again for it.
  if (blockD) await finetuneBase(modelUrl, modelChecksum);
  if (features?.key !== key || !features.heap || features.type !== type || features.testRows !== testRows) {
    dropFeatures();
    const rows = n + (testRows ? m : 0);
    const heap = type === 'f16' ? lab.heapHalves(rows * d, 'features') : lab.heapFloats(rows * d, 'features');
    features = { key, n, m, d, type, testRows, heap, have: new Set(), blockD: 0, block: null, haveBlock: new Set() };
  }
  if (blockD && features.blockD !== blockD) {
    features.block?.free();
    Object.assign(features, { blockD, block: null, haveBlock: new Set() });   // its room: at its first batch (blockRoom)
  }
  return { have: [...features.have], haveBlock: [...features.haveBlock] };
}

// Fine-tuning's rows only, for when fine-tuning starts (the features may have been dropped: the page
// puts the rows from the cache, so they are not in the heap next to the features through the other
// classifiers): the batches already here.
async function blockBegin({ key, n, m, blockD, modelUrl, checksum: modelChecksum }) {
  await finetuneBase(modelUrl, modelChecksum);
  if (features?.key !== key || features.blockD !== blockD) {
    dropFeatures();
    features = { key, n, m, d: 0, heap: null, have: new Set(), blockD, block: null, haveBlock: new Set() };
  }
  return { have: [...features.haveBlock] };
}

// The room of fine-tuning's rows, taken at their first batch: with the cache, only when fine-tuning
// starts (blockBegin); without it, during the extraction.
function blockRoom() {
  if (!features?.blockD) throw new Error('features-put: no room for fine-tuning rows (features-begin without blockD)');
  features.block ??= lab.heapFloats((features.n + features.m) * features.blockD, 'fine-tuning rows');
  return features.block;
}

// A batch's floats copied into the room (features-put's and features-from-cache's one copy-in).
function putRows({ split, start, floats, block }) {
  if (!(block ? features : features?.heap)) throw new Error('features-put before features-begin');
  const { n, m } = features, d = block ? features.blockD : features.d, rows = floats.length / d, end = split === 'train' ? n : m;
  if ((split !== 'train' && split !== 'test') || !Number.isInteger(rows) || !Number.isInteger(start) || start < 0 || start + rows > end) {
    throw new Error(`features-put: ${floats.length} floats at ${split} row ${start} do not fit ${n} + ${m} rows of ${d}`);
  }
  // A room without test rows: they are read from the cache when a classifier is tested (cachedTestRows).
  if (!block && split === 'test' && !features.testRows) return;
  const room = block ? blockRoom() : features.heap, at = ((split === 'test' ? n : 0) + start) * d;
  room.put(at, floats);   // halves: converted by the C kernel
  (block ? features.haveBlock : features.have).add(`${split}:${start}`);
}

function featuresPut(msg) {
  putRows(msg);
  // The heap holds them now. Handed back rather than released: a detached buffer's memory is
  // freed only by a garbage collection, which this idle worker puts off (410 MB at 70,000
  // images); the page gives it to the cache worker, which is ended with it.
  return { spent: msg.floats };
}

// fn(a PortReader on port: the cache entries it asks for come from a cache worker, not through the page;
// null without a port), the reader closed after whatever happens (its cache worker waits for that), read or not.
async function withReader(port, fn) {
  const reader = port ? new PortReader(port) : null;
  try { return await fn(reader); } finally { reader?.close(); }
}

// Cache entries into the room as a cache worker reads them (port), with features-put's copy-in. rows:
// the page's RowsChecksum state, continued over the features' batches (in the entries' order) and returned.
function featuresFromCache({ entries, rows, port }) {
  const sum = rows ? RowsChecksum.from(rows) : null;
  return withReader(port, (reader) => readEntries(null, entries, ({ split, range, isBlock }, floats) => {
    if (!isBlock) sum?.add(split, range[0], floats);
    putRows({ split, start: range[0], floats, block: isBlock });
  }, reader)).then(() => ({ rows: sum?.state() ?? null }));
}

// The features (block: fine-tuning's rows) as experiment.js's { train, test, d }, in place; test null
// when the room has no test rows.
function featureParts(block = false) {
  const { n, m } = features, d = block ? features.blockD : features.d, heap = block ? features.block : features.heap;
  return { train: heap.subarray(0, n * d), test: block || features.testRows ? heap.subarray(n * d, (n + m) * d) : null, d };
}

// A classifier's test set when the features' room has no test rows (the page's cache holds them all:
// 40 MB at the full size that no room needs to keep, which lowers the heap's peak, set by the
// softmax head's float32 room): test (classifierInputs') with chunks instead of x, each batch of
// testFrom ([{ key, start, rows }], the cache's test entries in order; the page checked they are there)
// read with reader (a PortReader: a cache worker serves them, as features-from-cache) into one small room
// of the features' type, so the rows are those the room would have held (float16 ones rounded alike).
// Without a port, this worker reads IndexedDB itself (what that leaves stays here until the fit returns).
let ownCache = null;

async function cachedTest(test, testFrom, reader) {
  if (test.x) return test;
  if (!testFrom?.length) throw new Error('the test rows are not in the classifier worker and no cache entries were given for them');
  const cache = reader ? null : (ownCache ??= await FeatureCache.open());
  return { ...test, chunks: cachedTestRows(testFrom, test.d, cache, reader ?? new ScratchReader()) };
}

// Where a fit's test rows were: 'cache' or 'room' (for the page's tests).
const testRowsFrom = (test) => (test.chunks ? 'cache' : 'room');

async function* cachedTestRows(testFrom, d, cache, reader) {
  const most = Math.max(...testFrom.map((e) => e.rows));
  const room = features.type === 'f16' ? lab.heapHalves(most * d, 'test rows') : lab.heapFloats(most * d, 'test rows');
  try {
    for (const { key, start, rows } of testFrom) {
      const b = await reader.read(cache, key, rows * d * 4);
      if (!b) throw readBackError({ split: 'test', range: [start, start + rows], isBlock: false });
      room.put(0, new Float32Array(b.buffer, b.byteOffset, rows * d));
      yield { x: room.subarray(0, rows * d), start, n: rows };
    }
  } finally { room.free(); }
}

function featuresEnd() {
  if (!features?.heap) throw new Error('features-end before features-begin');
  if (features.type !== 'f32') throw new Error('features-end: the checksum is of the float32 features, and this room holds them as float16');
  if (!features.testRows) throw new Error('features-end: the checksum is of the train and test rows, and this room holds no test rows');
  const { train, test } = featureParts();
  return { checksum: checksum(train.view(), test.view()) };
}

const fit = ({ port, ...args }) => withReader(port, (reader) => fitTested(args, reader));

async function fitTested({ id, name, params, rbfMax, images, stopFlag, testFrom }, reader) {
  if (!data) throw new Error('no data sent to the classifier worker');
  const px = name === 'pixels-linear-svm', block = lab.reportRows().find((r) => r.name === name)?.blockInput;
  if (!px && !(block ? features : features?.heap)) throw new Error(`${name} needs the DenseNet features: extract them first`);
  if (block && (!features.block || !baseModel)) throw new Error(`${name} needs conv5_block1's input: extract the features with it chosen`);
  if (!px && !block && features.type === 'f16' && featureTypes()[name] !== 'f16') throw new Error(`${name} needs the features as float32, not the float16 ones here: the page reads them back first`);
  if (px && !(images?.test && (images.train || pixelRoom))) throw new Error('the pixel baseline needs the images');
  const withImages = (s, split) => ({ ...s, images: px ? images[split] : null });
  // The pixel baseline's [0, 1] floats go into the heap, freed after the run (and that room is
  // reused by the next classifier): no JS copy of them.
  const owned = [];
  if (px && images?.train) { pixelRoom?.free(); pixelRoom = null; }   // parts that failed midway: the whole images came instead
  const heapFloats = (count) => {
    let h = px && !images.train ? pixelRoom : null;   // the training floats, put a part at a time
    if (h && h.length !== count) throw new Error(`the pixel baseline's room holds ${h.length} floats, not ${count}: put the images again`);
    pixelRoom = null;
    h ??= lab.heapFloats(count, 'pixels');
    owned.push(h);
    return h;
  };
  try {
    const { train, test } = classifierInputs(lab, name, withImages(data.train, 'train'), withImages(data.test, 'test'),
      data.n, data.m, px ? null : featureParts(block), rbfMax, heapFloats);
    const tested = await cachedTest(test, testFrom, reader);
    const row = { ...await fitOn(id, name, params, { train, test: tested }, stopFlag), testRowsFrom: testRowsFrom(tested) };
    return px ? { ...row, images } : row;   // the page's images, moved back (nothing left here for a late GC)
  } finally {
    owned.forEach((h) => h.free());
  }
}

let pixelRoom = null;   // the pixel baseline's training floats, filled by pixels-put before its fit

function pixelsRoom() {
  if (!data) throw new Error('no data sent to the classifier worker');
  const { train, n } = data, name = 'pixels-linear-svm';
  pixelRoom?.free();
  pixelRoom = null;
  pixelRoom = lab.heapFloats(lab.reportTrainRows(name, n, Infinity) * train.rows * train.cols, 'pixels');
  return {};
}

// A part of the training images converted into the pixel room (pixels-put's and pixels-from-cache's one copy-in).
function putPixels(start, bytes) {
  if (!pixelRoom) throw new Error('pixels-put before pixels-room');
  if (!(bytes instanceof Uint8Array) || !Number.isInteger(start) || start < 0) throw new Error('pixels-put: bytes must be a Uint8Array at a whole start');
  pixelsInto(pixelRoom.view(), start, bytes);   // bytes past the rows the fit takes are not needed
}

function pixelsPut({ start, bytes }) {
  putPixels(start, bytes);
  return { spent: bytes };
}

// The stored training images (a ModelStore handle) into the pixel room as a cache worker reads them (port), a part at a time.
const pixelsFromCache = ({ handle, port }) => withReader(port, (reader) => streamParts(null, handle, putPixels, reader)).then((complete) => ({ complete }));

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
  return runClassifier(holdingModels(lab), name, train, test, params, onProgress);
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

// The remaining pairs on this worker's threads (started threaded: mode.threads > 1), rows read
// in place: each finished pair's bytes go to the page at once as progress { phase: 'rbf-svm pair',
// ci, cj, bytes, done, total, seconds, eta }, so a stop (stopFlag, an Int32Array on a
// SharedArrayBuffer, set to 1) or a failure loses none. done: the pairs the page already has.
function rbfPairsHere({ id, done: have = [], threads, stopFlag }) {
  if (!rbf) throw new Error('rbfPairsHere before rbfPrepare');
  if (mode.threads < 2) throw new Error('rbfPairsHere needs the threaded core (the classifier worker runs one thread)');
  lab.setThreads(Math.max(1, Math.min(threads ?? mode.threads, mode.threads)));
  const { x, n, d } = rbf.train, done = new Map(have.map((k) => [k, null]));
  let pairs = 0;
  try {
    trainPairsHere(lab, x, n, d, rbf.rows, rbf.shared, rbf.params, {
      done, isCancelled: () => !!stopFlag && Atomics.load(stopFlag, 0) === 1,
      onPair: (p) => { pairs++; self.postMessage({ id, progress: { phase: 'rbf-svm pair', ...p, bytes: done.get(pairKey(p.ci, p.cj)) } }); },
    });
  } finally {
    pairsTrained += pairs;
  }
  return { pairs, threads: lab.threadCount() };
}

const rbfAssemble = ({ port, ...args }) => withReader(port, (reader) => rbfAssembleTested(args, reader));

async function rbfAssembleTested({ results, seconds, testFrom }, reader) {
  if (!rbf) throw new Error('rbfAssemble before rbfPrepare');
  try {
    // The model's support vectors read in place from the features (tested, saved and freed here).
    const tested = await cachedTest(rbf.test, testFrom, reader);
    return { ...await rbfAssembledRow(holdingModels(lab), rbf.train, tested, rbf.params, results, seconds, true), testRowsFrom: testRowsFrom(tested) };
  } finally {
    rbf = null;     // one fit: its rows are views into features.heap, freed by dropFeatures()
  }
}

const handlers = {
  start, data: setData, fit, predict, inspect, rbfPrepare, rbfTask, rbfPair, rbfPairHere, rbfPairsHere, rbfAssemble,
  'features-begin': featuresBegin, 'features-put': featuresPut, 'features-end': featuresEnd, 'features-drop': dropFeatures,
  'block-begin': blockBegin, 'model-part': modelPart, 'model-free': modelFree, 'pixels-room': pixelsRoom, 'pixels-put': pixelsPut,
  'features-from-cache': featuresFromCache, 'pixels-from-cache': pixelsFromCache,
};

// For bench/tab_experiment.js's memory breakdown: this worker's WASM memory (it never shrinks).
self.__denselabMemory = () => ({ wasmBytes: lab ? lab.heapBytes() : 0, role: data || features ? 'classifier' : pairsTrained ? 'RBF pairs' : null });

serve(handlers, {
  setup: ['start'], isReady: () => !!lab, notReady: 'the classifier worker is not started',
  transfer: (r) => [r?.predictions?.buffer, r?.xi?.buffer, r?.xj?.buffer, r?.bytes?.buffer, r?.spent?.buffer,
    r?.images?.train?.buffer, r?.images?.test?.buffer].filter(Boolean),
});
