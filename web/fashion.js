// DenseLab Fashion-MNIST page: downloads the data and the model, extracts DenseNet121
// features with a pool of workers (cached in IndexedDB), trains the classifiers in another
// worker and shows the comparison. The computing is the C core's (see experiment.js).
// This file is the page's DOM and sequencing; the features come from fashion-pool.js (workers)
// and fashion-cache.js (IndexedDB), the drawings from fashion-render.js, the defaults of
// every field from defaults.js.
import { FASHION_CLASSES, FASHION_FILES, RowsChecksum, batchRanges, blockFloats } from './experiment.js';
import { FEATURE_DIMS as DIMS, FeaturePool, extractFeatures, putBlockRows, putCachedRows } from './fashion-pool.js';
import { FeatureCache, ModelStore, RECYCLE_BYTES, cacheKey, readEntries, withCacheWorker } from './fashion-cache.js';
import { bestRow, drawCurve, drawGray, lessonSentence, renderConfusion, renderGallery } from './fashion-render.js';
import { FASHION as DEFAULTS } from './defaults.js';
import { download, keepOfflineCopy, registerServiceWorker } from './loading.js';
import { clearError, clearFieldErrors, showError, showFieldError, wireErrorClose } from './page-errors.js';
import { decodedNote } from './browser-decode.js';
import { WorkerClient } from './worker-client.js';
import { pairKey, rbfPairs, schedulePairs } from './rbf-pairs.js';

const MODEL_URL = 'models/densenet121.dlm';
const modelUrl = () => new URL(MODEL_URL, location.href).href;
const WASM_URL = 'denselab_core.wasm';
const DATA_DIR = 'data/fashion-mnist/';
const DATA_URLS = [...FASHION_FILES.train, ...FASHION_FILES.test].map((f) => DATA_DIR + f);
const SPLIT_SIZE = { train: 60000, test: 10000 };   // Fashion-MNIST's: "(all)" in the selects

const $ = (id) => document.getElementById(id);
const fmt = (n) => Number(n).toLocaleString('en-US');
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

const state = {
  wasm: null, modelChecksum: 0,
  splits: null,          // { train, test } parsed IDX (all images)
  pool: null,            // FeaturePool at one size
  cache: null,           // FeatureCache (IndexedDB, or memory only)
  models: null,          // ModelStore: the trained classifiers' bytes (each result row and state.active hold a handle)
  trainImages: null,     // the training images' ModelStore handle, once stored (splitImages)
  features: null,        // { size, n, m, block, checksum, fromCache, replaced, heapBytes, cacheComplete, dropped, blockPut }: the
                         // features themselves are only in the classifier worker's WASM heap (the tab's one copy)
  trainer: null, trainerData: null, trainCall: null,
  featureTypesUsed: [],  // 'classifier:f16' or ':f32' as each fit found the features (a test hook)
  pixelFits: [],         // how each pixel fit got its training images: 'parts' (stored) or 'whole' (a test hook)
  testRowsFrom: [],      // 'name:cache' or 'name:room': where each fit's test rows were (a test hook)
  extractions: [],       // { type: the room the features were read into ('none': only hashed), checksum: how } (a test hook)
  streamChecksum: true,  // tests: false takes the checksum from a float32 room, as before
  rbfPairs: null,        // { key, done: Map } the RBF SVM's finished pairs: a stopped fit resumes from them
  rbfPool: [],           // the pair workers of the RBF SVM fit running now
  rbfStopFlag: null,     // its stop request when its pairs run on the classifier worker's threads (SharedArrayBuffer)
  stopAfterPairs: 0,     // tests: stop the RBF SVM after this many finished pairs (0: never)
  results: [], active: null, photoWorker: null,
  stopFlag: null,        // fine-tuning's stop request (Int32Array on a SharedArrayBuffer: crossOriginIsolated pages)
  stopAfterEpochs: 0,    // tests: stop fine-tuning after this many epochs (0: never)
  nextFitParams: null,   // tests: parameters the next fit takes over the form's (a bad one makes it fail in the worker)
  blockBatchesPut: 0,    // tests: batches of fine-tuning's rows sent to (or read by) the classifier worker
  readBacks: [],         // tests, bench: each read-back from the cache, { what: 'features' | 'block' | 'pixels': who read them, seconds }
  workerReads: true,     // tests: false sends every read-back through the page, as when the worker has no IndexedDB
  busy: false, cancelled: false,
  steps: [],             // the last steps of extract() and train(), { ms, what }: where a stuck page waits (tests print them)
};

// A step of a run noted (the last 40 kept), so that a page that waits for ever says where.
function step(what) {
  state.steps.push({ ms: Math.round(performance.now()), what });
  if (state.steps.length > 40) state.steps.shift();
}

// ---------- status and errors ----------

function setStatus(s) {
  $('status').textContent = s;
  $('status').dataset.state = s === 'ready' || s === 'done' ? s : s === 'error' ? 'error' : 'working';
}

function setBusy(busy) {
  state.busy = busy;
  const ready = !!state.splits;
  $('extract').disabled = busy || !ready;
  $('train').disabled = busy || !ready;
  $('cancel').disabled = !busy || !state.pool;
  $('resume').disabled = busy || !state.cancelled;
  $('stop-train').disabled = !state.trainCall;
  for (const id of ['train-size', 'test-size', 'image-size', 'workers']) $(id).disabled = busy;
}

// ---------- loading ----------

// The model, downloaded and checked, and the IDX files, downloaded, unpacked and parsed, in a
// worker ended right after: its heap (the model and the files copied in, never shrinking) and
// every download buffer (an idle tab frees garbage late) go with it; the page gets the parsed
// splits only. The feature workers fetch the model themselves (cached by then).
async function loadSplits(onProgress) {
  const loader = new WorkerClient(new URL('./worker-features.js', import.meta.url), { name: 'the loading worker' });
  try {
    const href = (u) => new URL(u, location.href).href;
    return await loader.call('open', { wasm: state.wasm, modelUrl: href(MODEL_URL), idxUrls: DATA_URLS.map(href) }, { onProgress });
  } finally { loader.kill('finished'); }
}

async function load() {
  setStatus('loading');
  const reg = await registerServiceWorker();   // on a first visit, the downloads below are cached as they stream in
  const urls = [WASM_URL, MODEL_URL, ...DATA_URLS];
  const got = new Map(), totals = new Map();
  const progress = (u, g, t) => {
    got.set(u, g);
    totals.set(u, t);
    const gs = [...got.values()].reduce((a, b) => a + b, 0), ts = [...totals.values()].reduce((a, b) => a + b, 0);
    const bar = $('load-progress');
    if (ts && totals.size === urls.length) { bar.max = ts; bar.value = gs; } else bar.removeAttribute('value');
    $('load-label').textContent = `Downloading the model and the data: ${mb(gs)}${ts && totals.size === urls.length ? ` of ${mb(ts)}` : ''}`;
  };
  state.wasm = (await download(WASM_URL, (g, t) => progress(WASM_URL, g, t))).buffer;
  const r = await loadSplits((p) => {
    if (p.unpacking) $('load-label').textContent = 'Unpacking and checking the data…';
    else progress(urls[p.file + 1], p.got, p.total);
  });
  state.modelChecksum = r.checksum;
  state.splits = r.splits;
  state.cache = await FeatureCache.open().catch((e) => { showError(`features will not be cached: ${e.message}`); return new FeatureCache(null); });
  state.models = new ModelStore(state.cache);
  $('loadbar').classList.add('loaded');
  $('load-label').textContent = `Ready: ${fmt(state.splits.train.count)} training and ${fmt(state.splits.test.count)} test images, model checksum ${state.modelChecksum.toString(16)}.`;
  setStatus('ready');
  setBusy(false);
  keepOfflineCopy(reg, urls);   // this page's files only
}

// ---------- settings ----------

function settings() {
  const n = Number($('train-size').value), m = Number($('test-size').value), size = Number($('image-size').value);
  const w = $('workers').value;
  const workers = w === 'auto' ? Math.min(DEFAULTS.maxAutoWorkers, Math.max(1, navigator.hardwareConcurrency || 1)) : Number(w);
  return { n, m, size, workers };
}

function updateCode() {
  const s = Number($('image-size').value);
  $('feature-code').textContent = `DenseNet121(include_top=False, weights='imagenet', pooling='avg', input_shape=(${s}, ${s}, 3))`;
}

// ---------- feature extraction ----------

function progressText(p) {
  const parts = [`${fmt(p.done)} of ${fmt(p.total)} images`];
  if (p.rate > 0) parts.push(`${p.rate.toFixed(1)} images/s`);
  if (p.rate > 0 && p.done < p.total) parts.push(`about ${formatSeconds((p.total - p.done) / p.rate)} left`);
  if (p.cached) parts.push(`${fmt(p.cached)} from the cache`);
  if (p.workers) parts.push(`${p.workers} worker${p.workers > 1 ? 's' : ''}`);
  if (p.replaced) parts.push(`${p.replaced} worker${p.replaced > 1 ? 's' : ''} replaced`);
  return parts.join(' · ');
}

function formatSeconds(s) {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function showFeatureProgress(p) {
  const bar = $('features-progress');
  bar.max = p.total || 1;
  bar.value = p.done;
  const text = $('features-text');
  text.textContent = progressText(p);
  text.dataset.done = p.done;
  text.dataset.total = p.total;
}

// block: fine-tuning's rows (conv5_block1's input) are needed too (in the worker or the cache);
// pooled: the features themselves, in the worker (not dropped).
const haveFeatures = ({ n, m, size }, block = false, pooled = true) => { const f = state.features; return !!f && !(pooled && f.dropped) && f.size === size && f.n === n && f.m === m && (f.block || !block); };

// Whether fine-tuning is chosen: the feature workers then also keep conv5_block1's input.
const wantBlock = () => $('use-finetune').checked;

// The features for the current settings, into the classifier worker's heap: those it has, else
// the cache's and the workers' (fashion-pool.js); this part only shows the progress. null when cancelled.
// reader: the first classifier that will read them (none: the "Extract features" button alone). With the
// cache they are read back once, after the feature workers are gone, straight into the type that
// classifier takes (t.mode.featureTypes: float16 for the SVMs), their checksum taken from the float32
// batches as they pass (RowsChecksum); with no reader only the checksum is taken, and the first
// classifier reads them back then. A batch that went to the worker during the extraction (no cache, or
// a failed write) makes it a float32 room, the checksum taken from it (features-end), as before.
async function extract(block = wantBlock(), reader = null) {
  const { n, m, size, workers } = settings();
  if (haveFeatures({ n, m, size }, block)) return state.features;
  state.features = null;       // the worker's room is about to hold other features
  endPhotoWorker();
  clearError();
  state.cancelled = false;
  setStatus('extracting');
  step(`extract: ${n} + ${m} at S=${size}${block ? ', with fine-tuning\'s rows' : ''}, reader ${reader ?? 'none'}`);
  $('features-text').dataset.state = 'running';
  const t0 = performance.now(), blockPut = state.blockBatchesPut;
  let r;
  const key = featuresKey({ n, m, size });
  const blockD = block ? blockFloats(size) : 0;
  // The classifier worker takes room for the features only when the first batch goes there (with
  // the cache, after the feature workers are gone), so the two are not in memory together; unless
  // it already has that room (a resumed run): then the batches it holds are not computed again.
  // Nor is the worker itself started before then (its heap and threads: 64 MB and more).
  // Only a room that took batches during the extraction (float32) is kept for a resume: it may hold
  // batches the cache lacks.
  const room = `${key}:${blockD}`, resumed = state.trainer?.room === room;
  let direct = !state.cache.db, opened = null;     // direct: batches go to the worker during the extraction
  const own = () => direct || resumed;
  const roomType = (t) => (own() ? 'f32' : reader ? t.mode?.featureTypes?.[reader] ?? 'f32' : null);
  const open = () => (opened ??= startedTrainer().then(async (t) => {
    // Read back from the cache (not own()): no room for the test rows, which the worker reads from the cache when it tests.
    const type = roomType(t), r = await t.call('features-begin', { key, n, m, d: DIMS, blockD, modelUrl: modelUrl(), checksum: state.modelChecksum, type, testRows: own() });
    t.room = own() ? room : null;
    return { ...r, t, type };
  }));
  const { have, haveBlock } = resumed ? await open() : { have: [] };
  const rows = new RowsChecksum(n, m, DIMS), toWorker = workerPut(() => open().then((o) => o.t));
  const sink = {
    have: new Set(have), haveBlock: new Set(haveBlock),
    put: (split, start, floats, isBlock) => {
      if (!isBlock) rows.add(split, start, floats);   // before the floats move on
      // No reader: the batch was only hashed; it goes back to the cache worker, to die with it. (Fine-tuning's
      // rows come here only when direct: else they wait in the cache.)
      return direct || reader ? toWorker(split, start, floats, isBlock) : { spent: floats };
    },
    // The read-back after the pool: the classifier worker reads the batches itself, hashing them on from
    // rows; with no reader, the page hashes them, read into one reused buffer (no worker at all).
    fromCache: async (entries) => {
      step(`extract: ${entries.length} batches from the cache into ${direct || reader ? 'the classifier worker' : 'the page\'s checksum'}`);
      if (direct || reader) return readInWorker((await open()).t, entries, rows);
      const t0 = performance.now();
      await readEntries(state.cache, entries, ({ split, range }, floats) => { rows.add(split, range[0], floats); });
      noteReadBack('features: the page (hashed)', t0);
      return true;
    },
  };
  try {
    r = await extractFeatures({
      splitImages, n, m, size, workers, batch: DEFAULTS.batch, cache: state.cache,
      modelChecksum: state.modelChecksum, wasm: state.wasm, modelUrl: modelUrl(), sink, block,
      onPool: (pool) => { state.pool = pool; setBusy(true); },
      onProgress: showFeatureProgress,
      // Called before the batch goes to the worker: every such batch comes before the read-back.
      onCacheError: (e) => { direct = true; showError(`could not cache features: ${e.message}`); },
    });
  } finally {
    state.pool = null;
  }
  step(`extract: ${r.cancelled ? 'cancelled' : `features done (${r.cached} cached, ${r.computed} computed)`}`);
  if (r.cancelled) {
    state.cancelled = true;
    $('features-text').dataset.state = 'cancelled';
    $('features-text').textContent = `Cancelled at ${fmt(r.done)} of ${fmt(r.total)} images: Resume continues from there.`;
    setStatus('cancelled');
    setBusy(false);
    return null;
  }
  const seconds = (performance.now() - t0) / 1000;
  const total = n + m;
  // The rate averages the whole run, worker start-up included.
  const progress = { done: total, total, cached: r.cached, rate: r.computed ? r.computed / seconds : 0, workers: r.workers, replaced: r.replaced };
  let type = opened ? (await opened).type : null, sum = state.streamChecksum ? rows.result() : null;
  const streamed = !!sum;
  if (!sum && type !== 'f32') {      // some batch came out of order: the float32 room, read back again
    await readBackAs(await startedTrainer(), { n, m, size }, 'f32', true);
    type = 'f32';
  }
  sum ??= (await (await startedTrainer()).call('features-end')).checksum;
  if (!type && state.trainer) {      // only hashed: a room of other features there is not needed
    step('extract: the classifier worker drops its room');
    const t = await startedTrainer();
    t.room = null;
    await t.call('features-drop');
  }
  step('extract: the training images stored');
  await stashTrainImages();
  step('extract: done');
  state.features = { size, n, m, block, checksum: sum, fromCache: r.cached, seconds, replaced: r.replaced, heapBytes: r.heapBytes, cacheComplete: r.cacheComplete,
    blockPut: state.blockBatchesPut - blockPut, type: type ?? 'none', dropped: !type };
  state.extractions.push({ type: type ?? 'none', checksum: streamed ? 'as the batches passed' : 'from the float32 room' });
  showFeatureProgress(progress);
  const text = $('features-text');
  text.textContent = `${progressText(progress)} · ${seconds.toFixed(1)} s · checksum ${sum}`;
  text.dataset.rate = progress.rate.toFixed(1);
  text.dataset.state = 'complete';
  text.dataset.checksum = sum;
  text.dataset.seconds = seconds.toFixed(3);
  const pill = $('cached');
  pill.hidden = r.cached === 0;
  pill.textContent = r.cached === total ? 'features cached' : `${fmt(r.cached)} cached`;
  pill.dataset.cached = r.cached;
  return state.features;
}

const featuresKey = ({ n, m, size }) => `${state.modelChecksum}:${size}:${n}:${m}`;

// A sink's put (fashion-pool.js) into the classifier worker that worker() resolves to (once it has its room).
const workerPut = (worker) => (split, start, floats, isBlock) => worker()
  .then((t) => { if (isBlock) state.blockBatchesPut++; return t; })
  .then((t) => t.call('features-put', { split, start, floats, block: isBlock }, { transfer: [floats.buffer] }));

// A sink's fromCache (fashion-pool.js readBack): classifier worker t takes the cache entries straight
// into its room from a cache worker serving them (readsInWorker: not through the page); rows (a
// RowsChecksum) is continued there over the features' batches. -> false when it cannot (no cache
// worker starts, or turned off by a test): the page then sends the batches (features-put), as before.
async function readInWorker(t, entries, rows = null) {
  const what = entries[0].isBlock ? 'block' : 'features', t0 = performance.now();
  const read = await readsInWorker(t, async (call) => {
    for (const group of byBytes(entries, RECYCLE_BYTES)) {
      const r = await call('features-from-cache', { entries: group, rows: rows?.state() ?? null }, group.bytes);
      if (rows) Object.assign(rows, RowsChecksum.from(r.rows));
    }
    return true;
  });
  if (!read) { noteReadBack(`${what}: the page`); return false; }
  state.blockBatchesPut += entries.filter((e) => e.isBlock).length;
  noteReadBack(`${what}: the classifier worker`, t0);
  return true;
}

// fn(call), call(cmd, args, bytes, options) -> cmd(args, options) on classifier worker t, given a port on which a cache worker
// serves the entries it asks for (about `bytes` of them): the page is not in the data path. That worker is
// replaced between calls every RECYCLE_BYTES and ended afterwards, with what reading leaves behind (an ended
// worker's memory goes late: so not all of it at once). null when no cache worker can start (or a test
// turned this off): the page then sends them.
async function readsInWorker(t, fn) {
  if (!state.workerReads) return null;
  return withCacheWorker(state.cache, (w) => (w.serveReads ? fn(async (cmd, args, bytes, options = {}) => {
    const { port1, port2 } = new MessageChannel();
    const call = t.call(cmd, { ...args, port: port2 }, { ...options, transfer: [...(options.transfer ?? []), port2] });
    return (await Promise.all([call, w.serveReads(port1, bytes)]))[0];
  }) : null));
}

// Cache entries ({ range, floats per row }) in runs of at most `most` bytes (one entry at least), each with its .bytes.
function byBytes(entries, most) {
  const runs = [];
  for (const e of entries) {
    const bytes = (e.range[1] - e.range[0]) * e.floats * 4, last = runs.at(-1);
    if (last && last.bytes + bytes <= most) { last.push(e); last.bytes += bytes; } else runs.push(Object.assign([e], { bytes }));
  }
  return runs;
}

// A read-back noted for the tests and bench/tab_experiment.js (seconds: since t0; none when the page
// reads them through the cache worker).
const noteReadBack = (what, t0) => { state.readBacks.push({ what, seconds: t0 === undefined ? null : (performance.now() - t0) / 1000 }); };

// The classifier worker, once started.
const startedTrainer = async () => { const t = trainer(); await t.ready; return t; };

// Fine-tuning's rows into the classifier worker, only when fine-tuning starts: extraction left them in
// the cache (those it could not cache went to the worker at once). So through extraction, the linear
// and the RBF SVM they are not in memory (137 MiB at the full size), and the features' room, dropped
// before when the cache holds them, takes them now.
async function fineTuningRows(t) {
  const { n, m, size } = state.features;
  const { have } = await t.call('block-begin', { key: featuresKey({ n, m, size }), n, m, blockD: blockFloats(size), modelUrl: modelUrl(), checksum: state.modelChecksum });
  await putBlockRows({ cache: state.cache, n, m, size, batch: DEFAULTS.batch, modelChecksum: state.modelChecksum, sink: workerSink(t, have) })
    .catch((e) => { state.features.block = false; throw e; });   // the next run computes what the cache lacks
}

async function runExtract() {
  setBusy(true);
  try {
    const f = await extract();
    if (f) setStatus('done');
  } catch (e) {
    showError(`feature extraction failed: ${e.message}`);
    setStatus('error');
  } finally {
    setBusy(false);
  }
}

function cancel() {
  if (state.pool?.running) state.pool.cancel();
}

// ---------- classifiers ----------

// The classifier worker, started on first use and again after it died or was stopped.
function trainer() {
  if (state.trainer) return state.trainer;
  const t = new WorkerClient(new URL('./worker-train.js', import.meta.url), {
    name: 'the classifier worker',
    // The features died with it: the next run takes them from the cache again.
    onDeath: () => { if (state.trainer === t) { state.trainer = null; state.trainerData = null; state.features = null; } },
  });
  state.trainer = t;
  // threads: the RBF SVM's pairs on the worker's own pthreads when the page is cross-origin isolated.
  t.ready = t.call('start', { wasm: state.wasm.slice(0), threads: settings().workers }).then((mode) => { t.mode = mode; return mode; });
  return t;
}

// An argument's error names its field: it is shown beside that control (a toast could cover
// the field being edited).
const fieldError = (id, message) => Object.assign(new Error(message), { field: id });

function positive(id, what, { integer = false, min = 0, max = Infinity } = {}) {
  const v = Number($(id).value);
  if ($(id).value.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max || (min === 0 && v <= 0 && !integer)) {
    throw fieldError(id, `${what} must be ${integer ? 'a whole number' : 'a number'} ${min === 0 && !integer ? 'above 0' : `from ${min}`}${max < Infinity ? ` to ${max}` : ''}, got "${$(id).value}"`);
  }
  return v;
}

// A number from 0 to max (0 allowed), or an error in the form's words.
function fraction(id, what, max) {
  const v = Number($(id).value);
  if ($(id).value.trim() === '' || !Number.isFinite(v) || v < 0 || v > max) throw fieldError(id, `${what} must be a number from 0 to ${max}, got "${$(id).value}"`);
  return v;
}

const LABELS = { 'linear-svm': 'Linear SVM', 'rbf-svm': 'RBF SVM', softmax: 'New head (softmax)', finetune: 'Fine-tuned (conv5 + head)', 'pixels-linear-svm': 'Linear SVM (pixel baseline)' };
// The classifiers whose loss and accuracy are drawn per epoch: their canvas (fashion.html).
const CURVES = { softmax: 'curve', finetune: 'finetune-curve' };

// The chosen classifiers with their parameters (lab.fit's; those not set keep its defaults,
// the CLI's), or an error per classifier.
function chosenClassifiers() {
  const out = [];
  const add = (name, fn) => {
    try { out.push({ name, ...fn() }); } catch (e) { out.push({ name, error: e.message, field: e.field }); }
  };
  if ($('use-linear').checked) add('linear-svm', () => ({ params: { C: positive('linear-c', 'Linear SVM: C') } }));
  if ($('use-rbf').checked) {
    add('rbf-svm', () => {
      const rbfMax = positive('rbf-max', 'RBF SVM: training points', { integer: true, min: 1 });
      if (rbfMax > DEFAULTS.rbfLimit) throw fieldError('rbf-max', `RBF SVM: ${fmt(rbfMax)} training points is more than the ${fmt(DEFAULTS.rbfLimit)} training images there are`);
      return { params: { C: positive('rbf-c', 'RBF SVM: C') }, rbfMax };
    });
  }
  if ($('use-softmax').checked) {
    add('softmax', () => ({ params: {
      hidden: positive('hidden', 'New head: hidden units', { integer: true, min: 0, max: 4096 }),
      epochs: positive('epochs', 'New head: epochs', { integer: true, min: 1, max: 500 }),
      lr: positive('lr', 'New head: learning rate', { max: 10 }),
      val: fraction('val', 'New head: validation split', 0.5) } }));
  }
  if ($('use-finetune').checked) {
    add('finetune', () => ({ params: {
      hidden: positive('ft-hidden', 'Fine-tuning: hidden units', { integer: true, min: 1, max: 4096 }),
      epochs: positive('ft-epochs', 'Fine-tuning: epochs', { integer: true, min: 1, max: 500 }),
      lr: positive('ft-lr', 'Fine-tuning: learning rate', { max: 10 }),
      val: fraction('ft-val', 'Fine-tuning: validation split', 0.5),
      patience: positive('ft-patience', 'Fine-tuning: patience', { integer: true, min: 1, max: 500 }) } }));
  }
  if ($('use-pixels').checked) add('pixels-linear-svm', () => ({ params: { C: positive('pixels-c', 'Pixel baseline: C') } }));
  return out;
}

// Sends the labels to the worker, once per settings (the features are there already; the
// images go with the pixel baseline's fit, pixelImages).
async function feedTrainer(t) {
  const { n, m } = settings();
  const key = `${n}:${m}`;
  if (state.trainerData === key) return;
  const sp = state.splits;
  const split = (s, k) => ({ labels: s.labels.slice(0, k), rows: s.rows, cols: s.cols });
  await t.call('data', { train: split(sp.train, n), test: split(sp.test, m), n, m });
  state.trainerData = key;
}

// The features in the classifier worker as classifier `name` takes them (t.mode.featureTypes, the
// core's table, as the CLIs): float16 for the two SVMs (143 MB instead of 287 at the full size, so
// their working sets fit beside them), float32 for the softmax head. A switch drops the room and
// reads every batch back from the cache into one of the other type. Without the cache, or when a
// batch could not be cached, they stay float32 throughout (more memory, the accuracies of
// `--feature-type f32`).
async function featuresAs(t, name) {
  const f = state.features, type = t.mode?.featureTypes?.[name] ?? 'f32';
  if (!f?.cacheComplete || (!f.dropped && (f.type ?? 'f32') === type)) return;
  f.dropped = true;   // until every batch is back
  await readBackAs(t, f, type);
  Object.assign(f, { type, dropped: false });
}

// Every batch of the features of { n, m, size } from the cache into a new room of type in the classifier
// worker; the test rows only with testRows (else the worker reads them from the cache when it tests: testFrom).
async function readBackAs(t, { n, m, size }, type, testRows = false) {
  t.room = null;
  await t.call('features-drop', { keepBlock: true });
  const { have } = await t.call('features-begin', { key: featuresKey({ n, m, size }), n, m, d: DIMS, type, testRows });
  await putCachedRows({ cache: state.cache, n, m: testRows ? m : 0, size, batch: DEFAULTS.batch, modelChecksum: state.modelChecksum, block: false, sink: workerSink(t, have) });
}

// A sink (fashion-pool.js) into classifier worker t, which has the batches `have`: it reads the rest from the cache itself.
const workerSink = (t, have) => ({ have: new Set(have), put: workerPut(async () => t), fromCache: (entries) => readInWorker(t, entries) });

// The cache's entries of the test features ([{ key, start, rows }], in order) for a classifier worker whose
// room lacks the test rows (read back from a complete cache), checked to be there, so that a fit does not
// train to find them gone ("extract again": train() then forgets the features, and the next run extracts
// what the cache lacks); undefined without such a cache.
async function testFrom() {
  const f = state.features;
  if (!f?.cacheComplete) return undefined;
  const entries = batchRanges(f.m, DEFAULTS.batch).map((range) => ({ key: cacheKey(state.modelChecksum, f.size, 'test', range), start: range[0], rows: range[1] - range[0] }));
  for (const { key, start, rows } of entries) {
    if (!(await state.cache.has(key))) throw new Error(`the cached features of test images ${start}–${start + rows - 1} are gone: extract again`);
  }
  return entries;
}

// cmd(args, options) on classifier worker t, where args.testFrom (testFrom()) may be read: through a port
// a cache worker serves (readsInWorker), else by the worker itself.
async function callTested(t, cmd, args, options = {}) {
  if (!args.testFrom) return t.call(cmd, args, options);
  const bytes = args.testFrom.reduce((sum, e) => sum + e.rows * DIMS * 4, 0);
  return (await readsInWorker(t, (ask) => ask(cmd, args, bytes, options))) ?? t.call(cmd, args, options);
}
const featureTypeOf = (name) => { const f = state.features; return `${name}:${f?.cacheComplete ? f.type ?? 'f32' : 'f32 (no cache)'}`; };

// The pixel baseline's floats (219 MB at the full size) would sit next to the features (287 MB) in
// the worker's heap: when every batch of the features is safe in IndexedDB, the worker drops them
// first, and the next run that needs them reads them back from the cache (seconds, not minutes).
// keepBlock (before fine-tuning, when no later classifier reads the features): fine-tuning's rows
// (put then from the cache: fineTuningRows) and its working memory (about 60 MB at S=32) go where the
// features were; without it (before the pixel baseline), fine-tuning's rows go too.
async function makeRoomForPixels(t, keepBlock = false) {
  if (!state.features?.cacheComplete || (state.features.dropped && keepBlock)) return;   // a second drop frees fine-tuning's rows
  state.features.dropped = true;     // its checksum stays: the features are the cache's
  await t.call('features-drop', { keepBlock });
}

// The training images (47 MB) are needed only to extract batches the cache lacks and for a pixel fit:
// in between, with IndexedDB, they wait there (state.trainImages, a ModelStore handle), not in the
// page's memory. The test images stay: the misclassified ones are drawn.
async function splitImages(split) {
  const { train } = state.splits;
  if (split === 'train') train.images ??= await state.models.bytes(state.trainImages);
  return state.splits[split].images;
}

async function stashTrainImages() {
  const train = state.splits.train;
  if (!train.images?.byteLength || !state.cache.db) return;
  if (state.trainImages) await state.models.discard(train.images);   // stored already: this copy goes now
  else {
    const handle = await state.models.keep(train.images);
    if (!handle.key) return;          // not stored: they stay here
    state.trainImages = handle;
  }
  train.images = null;
}

// The images for one pixel fit (55 MB at the full size): the page's own, moved to the worker, which
// moves them back with the row (pixelsBack), so there is no copy on the page and none left dead in
// the idle worker. Training images stored in parts (stashTrainImages) go a part at a time into the
// worker's pixel floats instead (pixels-room, pixels-put): no whole JS copy of their 47 MB.
async function pixelImages(t) {
  if (!state.splits.train.images && state.trainImages?.parts) {
    await t.call('pixels-room');
    // The worker reads the parts from IndexedDB itself; where it cannot, the page sends them.
    const t0 = performance.now(), handle = state.trainImages;
    const read = await readsInWorker(t, (call) => call('pixels-from-cache', { handle }, handle.length));
    const put = (start, bytes) => t.call('pixels-put', { start, bytes }, { transfer: [bytes.buffer] }).then((r) => r.spent);
    noteReadBack(`pixels: ${read ? 'the classifier worker' : 'the page'}`, read ? t0 : undefined);
    if (read ? read.complete : await state.models.eachPart(state.trainImages, put)) {
      state.pixelFits.push('parts');
      return { images: { train: null, test: state.splits.test.images }, transfer: [state.splits.test.images.buffer] };
    }
    // A part is gone (storage cleared, or evicted): the files are parsed again, and stored again after the fit.
    state.trainImages = null;
    state.splits = (await loadSplits()).splits;
  }
  state.pixelFits.push('whole');
  const { test } = state.splits;
  const train = await splitImages('train');
  return { images: { train, test: test.images }, transfer: [train.buffer, test.images.buffer] };
}

// The pixel fit's row, once its images are the page's again; when they did not come back (the
// worker was stopped or failed), the splits are parsed again (the loading worker; the files come
// from the offline cache) before the error goes on.
async function pixelsBack(px, fitCall) {
  if (!px.images) return fitCall;
  try {
    const r = await fitCall;
    if (r.images.train) Object.assign(state.splits.train, { images: r.images.train });
    Object.assign(state.splits.test, { images: r.images.test });
    return r;
  } catch (e) {
    state.splits = (await loadSplits()).splits;
    throw e;
  } finally {
    await stashTrainImages();
  }
}

// Whether classifier `name` reads the pooled features (fine-tuning reads its own rows, the pixel baseline pixels).
const readsFeatures = (name) => name !== 'pixels-linear-svm' && name !== 'finetune';

async function train() {
  clearError();
  clearFieldErrors();
  state.stopped = false;
  const chosen = chosenClassifiers();
  if (!chosen.length) { showError('choose at least one classifier'); return; }
  endPhotoWorker();
  setBusy(true);
  const errors = [];
  let tunedStop = null;   // the fine-tuned row a stop ended
  try {
    const reader = chosen.find((c) => readsFeatures(c.name) && !c.error)?.name, needFeatures = !!reader;   // the first that reads them
    const block = chosen.some((c) => c.name === 'finetune' && !c.error);
    const { n, m, size } = settings();
    if ((needFeatures || block) && !haveFeatures({ n, m, size }, block, needFeatures) && !(await extract(block, reader))) return;   // null: cancelled
    setStatus('training');
    step(`train: ${chosen.map((c) => c.name).join(', ')}`);
    const t = trainer();
    await t.ready;
    await feedTrainer(t);
    for (const [i, c] of chosen.entries()) {
      if (c.error && c.field) { showFieldError(c.field, c.error); continue; }
      if (c.error) { errors.push(c.error); showError(errors.join('\n')); continue; }
      // The features go when no later classifier reads them (fine-tuning reads its own rows, kept).
      const later = chosen.slice(i + 1).filter((l) => !l.error).map((l) => l.name);
      const featuresLater = later.some(readsFeatures);
      if (!readsFeatures(c.name) && !featuresLater) await makeRoomForPixels(t, c.name === 'finetune' || later.includes('finetune'));
      const curve = [], canvas = CURVES[c.name] && $(CURVES[c.name]);
      $('train-text').textContent = `${LABELS[c.name]}: training on ${fmt(c.name === 'rbf-svm' ? Math.min(n, c.rbfMax) : n)} images…`;
      if (canvas) { $(`${CURVES[c.name]}-box`).hidden = false; drawCurve(canvas, curve, c.params.epochs); }
      // Fine-tuning keeps the best epoch (EarlyStopping's restore_best_weights): its stop ends the
      // fit after the running epoch, through shared memory (the worker is busy in the C core).
      state.stopFlag = c.name === 'finetune' && self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
      const fitStart = performance.now();
      try {
        state.trainCall = t;
        setBusy(true);
        step(`train: ${c.name}`);
        if (c.name === 'finetune') await fineTuningRows(t);
        else if (readsFeatures(c.name)) { await featuresAs(t, c.name); state.featureTypesUsed.push(featureTypeOf(c.name)); }
        const px = c.name === 'pixels-linear-svm' ? await pixelImages(t) : { images: null, transfer: [] };
        const params = { ...c.params, ...state.nextFitParams };
        state.nextFitParams = null;
        const r = c.name === 'rbf-svm' ? await fitRbf(t, c) : await pixelsBack(px, callTested(t, 'fit', { name: c.name, params, rbfMax: c.rbfMax ?? Infinity, images: px.images, stopFlag: state.stopFlag, testFrom: readsFeatures(c.name) ? await testFrom() : undefined }, {
          transfer: px.transfer,
          onProgress: (p) => {
            if (canvas && p.phase === c.name) {
              curve[p.step - 1] = { loss: p.loss, acc: p.trainAcc, val: p.valAcc, valLoss: p.valLoss };
              const best = c.name === 'finetune' ? bestEpoch(curve) : 0, perEpoch = (performance.now() - fitStart) / 1000 / p.step;
              drawCurve(canvas, curve, p.steps, best);
              Object.assign(canvas.dataset, { epochs: p.step, trainAcc: p.trainAcc, valAcc: p.valAcc, bestEpoch: best, secondsPerEpoch: perEpoch.toFixed(3) });
              $('train-text').textContent = `${LABELS[c.name]}: epoch ${p.step} of ${p.steps}, loss ${p.loss.toFixed(4)}, training accuracy ${p.trainAcc.toFixed(4)}${p.valAcc >= 0 ? `, validation accuracy ${p.valAcc.toFixed(4)}` : ''}${best ? `, best epoch ${best}` : ''} · ${perEpoch.toFixed(1)} s per epoch`;
              if (state.stopFlag && state.stopAfterEpochs && p.step >= state.stopAfterEpochs) stopTraining();
            } else {
              $('train-text').textContent = `${LABELS[c.name]}: ${p.phase} ${fmt(p.step)} of ${fmt(p.steps)}`;
            }
          },
        }));
        state.testRowsFrom.push(`${c.name}:${r.testRowsFrom}`);
        const row = addResult({ ...r, model: await keepModel(t, r.model), name: c.name, size: c.name === 'pixels-linear-svm' ? 28 : size, n, m, curve: canvas ? curve : null, val: c.params.val ?? 0 });
        if (state.stopped) { tunedStop = row; break; }   // a fine-tuning stop kept its row; the rest do not run
      } catch (e) {
        if (state.stopped) break;
        if (/extract again/.test(e.message)) state.features = null;   // the cache lost some: the next run extracts them (reusing what it has)
        errors.push(`${LABELS[c.name]}: ${e.message}`);
        showError(errors.join('\n'));
        if (!state.trainer) break;   // the worker died: the rest would need a new one anyway
      } finally {
        state.trainCall = null;
        state.stopFlag = null;
      }
    }
    if (state.stopped) {
      const kept = state.rbfPairs?.done.size;
      $('train-text').textContent = tunedStop ? `Stopped after epoch ${tunedStop.stoppedAt}: the fine-tuned model keeps epoch ${tunedStop.bestEpoch}'s weights${tunedStop.validated ? ' (lowest validation loss)' : ''}.`
        : kept ? `Stopped. The RBF SVM keeps its ${kept} finished pairs of 45: training it again resumes from them.` : 'Stopped.';
      setStatus('cancelled');
      return;
    }
    $('train-text').textContent = errors.length ? `Finished with ${errors.length} error${errors.length > 1 ? 's' : ''}.` : 'Finished.';
    setStatus(errors.length && !state.results.length ? 'error' : 'done');
  } catch (e) {
    showError(e.message);
    setStatus('error');
  } finally {
    setBusy(false);
  }
}

// A trained classifier's file, left in the classifier worker's heap ({ held, length }), into the
// ModelStore a few MB at a time, then freed there: no whole JS copy of it on the page or in a worker.
const keepModel = (t, { held, length }) => state.models.keepParts({
  length, part: (start, end) => t.call('model-part', { held, start, end }).then((r) => r.bytes),
}).finally(() => t.call('model-free', { held }).catch(() => {}));

// The epoch whose weights EarlyStopping keeps: the first with the lowest validation loss (0: no
// validation set, the last epoch's are kept).
function bestEpoch(curve) {
  let best = 0;
  curve.forEach((p, i) => { if (p && p.valLoss >= 0 && (!best || p.valLoss < curve[best - 1].valLoss)) best = i + 1; });
  return best;
}

function stopTraining() {
  state.stopped = true;
  if (state.rbfStopFlag) {       // the RBF SVM on the classifier worker's threads: its finished pairs stay
    Atomics.store(state.rbfStopFlag, 0, 1);
    $('train-text').textContent = `Stopping; ${LABELS['rbf-svm']} keeps its finished pairs…`;
    return;
  }
  if (state.stopFlag) {          // fine-tuning: ends after this epoch with the best weights
    Atomics.store(state.stopFlag, 0, 1);
    $('train-text').textContent = `Stopping after this epoch; ${LABELS.finetune} keeps its best epoch's weights…`;
    return;
  }
  state.trainer?.kill('was stopped');
  for (const w of state.rbfPool) w.kill('was stopped');
  $('train-text').textContent = 'Stopped.';
}

// The RBF SVM's one-vs-one pairs (wasm/rbf-pairs.js) over the worker pool: the classifier worker
// trains pairs itself on the features where they are (rbfPairHere: rows read in place, no copy),
// and the other workers of the "workers" setting (workers - 1 pair workers) each take a pair's
// rows as a copy (rbfTask then rbfPair: one pair worker is 138 MB of the tab's memory at 60,000,
// so one worker trains them all at the cost of the second core). The finished pairs stay here, so
// a stopped fit (same data and parameters) resumes from them.
async function fitRbf(t, c) {
  const key = `${state.trainerData}|${c.rbfMax}|${JSON.stringify(c.params)}|${state.features?.type ?? 'f32'}`;   // float16 rows train other pairs
  if (state.rbfPairs?.key !== key) state.rbfPairs = { key, done: new Map() };
  const { done } = state.rbfPairs;
  const params = { ...c.params, cacheMb: DEFAULTS.classifiers['rbf-svm'].pairCacheMb };   // the same model, any cache
  const tests = await testFrom();   // checked before the pairs, not after them
  const { classSizes } = await t.call('rbfPrepare', { params, rbfMax: c.rbfMax });
  const pairs = (classSizes.length * (classSizes.length - 1)) / 2;
  if (t.mode?.threads > 1 && !state.rbfPairWorkers) return fitRbfThreaded(t, classSizes.length, done, tests);
  $('train-text').dataset.rbfMode = 'workers';
  const pool = Array.from({ length: Math.max(0, Math.min(settings().workers, pairs - done.size) - 1) }, () => {
    const w = new WorkerClient(new URL('./worker-train.js', import.meta.url), { name: 'an RBF SVM pair worker' });
    w.ready = w.call('start', { wasm: state.wasm.slice(0) });
    return w;
  });
  state.rbfPool = pool;
  const text = $('train-text'), t0 = performance.now();
  text.dataset.resumed = done.size;
  text.textContent = `${LABELS['rbf-svm']}: ${done.size ? `resuming from ${done.size} finished pairs of ${pairs}, ` : ''}${pairs - done.size} pairs on ${pool.length + 1} worker${pool.length ? 's' : ''}…`;
  try {
    await Promise.all(pool.map((w) => w.ready));
    const here = (task) => t.call('rbfPairHere', task).then((r) => r.bytes);
    const copied = (w) => ({
      makeTask: (ci, cj) => t.call('rbfTask', { ci, cj }), prefetch: true,
      run: (rows) => w.call('rbfPair', rows, { transfer: [rows.xi.buffer, rows.xj.buffer] }).then((r) => r.bytes),
    });
    const results = await schedulePairs({
      classSizes, done, isCancelled: () => state.stopped,
      makeTask: (ci, cj) => ({ ci, cj }),
      runners: [here, ...pool.map(copied)],
      onPair: (p) => {
        text.textContent = rbfPairText(p, '');
        text.dataset.pairs = p.done;
        if (state.stopAfterPairs && p.done >= state.stopAfterPairs) stopTraining();
      },
    });
    for (const w of pool) w.kill('finished');   // their heaps go before assembling
    return await callTested(t, 'rbfAssemble', { results, seconds: (performance.now() - t0) / 1000, testFrom: tests });
  } finally {
    for (const w of pool) w.kill('finished');
    state.rbfPool = [];
  }
}

// One finished pair, for the status line: where says where the pairs run.
const rbfPairText = (p, where) => `${LABELS['rbf-svm']}: pair ${FASHION_CLASSES[p.ci]} vs ${FASHION_CLASSES[p.cj]} done · ${p.done} of ${p.total} pairs${where} · ${p.seconds.toFixed(0)} s · about ${p.eta.toFixed(0)} s left`;

// The same fit when the classifier worker runs the threaded core (a cross-origin isolated page):
// every pair trains there on its pthreads (threads = the Workers setting), each reading its rows
// in place from the one copy of the features: no pair worker, no copy of rows. Each finished
// pair's bytes come back as it finishes (kept in `done`); a stop ends the pairs through shared
// memory, keeping the worker and its features.
async function fitRbfThreaded(t, classes, done, tests) {
  const text = $('train-text'), t0 = performance.now(), pairs = (classes * (classes - 1)) / 2;
  const threads = Math.min(settings().workers, t.mode.threads, pairs - done.size);
  text.dataset.resumed = done.size;
  text.dataset.rbfMode = 'threads';
  text.dataset.rbfThreads = threads;
  text.textContent = `${LABELS['rbf-svm']}: ${done.size ? `resuming from ${done.size} finished pairs of ${pairs}, ` : ''}${pairs - done.size} pairs on ${threads} thread${threads > 1 ? 's' : ''} in the classifier worker…`;
  state.rbfStopFlag = new Int32Array(new SharedArrayBuffer(4));
  try {
    if (done.size < pairs) {
      await t.call('rbfPairsHere', { done: [...done.keys()], threads, stopFlag: state.rbfStopFlag }, {
        onProgress: (p) => {
          if (p.phase !== 'rbf-svm pair') return;
          done.set(pairKey(p.ci, p.cj), p.bytes);
          text.textContent = rbfPairText(p, ` on ${threads} thread${threads > 1 ? 's' : ''} in the classifier worker`);
          text.dataset.pairs = p.done;
          if (state.stopAfterPairs && p.done >= state.stopAfterPairs) stopTraining();
        },
      });
    }
    state.rbfStopFlag = null;   // assembling: a stop now ends the worker, as in the pair workers' way
    const results = rbfPairs(classes).map(([ci, cj]) => done.get(pairKey(ci, cj)));
    return await callTested(t, 'rbfAssemble', { results, seconds: (performance.now() - t0) / 1000, testFrom: tests });
  } finally {
    state.rbfStopFlag = null;
  }
}

// ---------- results ----------

function addResult(r) {
  const row = {
    classifier: r.classifier, train: r.train, trainSeconds: r.train_seconds, accuracy: r.test_accuracy,
    confusion: r.confusion, predictions: r.predictions, model: r.model, size: r.size, m: r.m,
    features: r.classifier === 'pixels-linear-svm' ? 'raw pixels (784)'
      : r.classifier === 'finetune' ? `DenseNet121 to conv5_block1 (${fmt(blockFloats(r.size))}) at ${r.size}×${r.size}` : `DenseNet121 (1024) at ${r.size}×${r.size}`,
  };
  if (r.classifier === 'finetune') {   // the epochs run, and the one whose weights were kept
    row.epochs = r.curve.filter(Boolean).length;
    row.validated = bestEpoch(r.curve) > 0;
    row.bestEpoch = bestEpoch(r.curve) || row.epochs;
    row.stoppedAt = state.stopped ? row.epochs : 0;
  }
  state.results.push(row);
  $('results-empty').hidden = true;
  const tr = document.createElement('tr');
  tr.dataset.testid = 'results-row';
  tr.dataset.classifier = row.classifier;
  tr.dataset.accuracy = String(row.accuracy);
  tr.dataset.trainSeconds = row.trainSeconds.toFixed(3);
  tr.dataset.size = row.size;
  if (row.bestEpoch) Object.assign(tr.dataset, { epochs: row.epochs, bestEpoch: row.bestEpoch });
  // Keras' validation_split: the first floor(n (1 - val)) rows train, the rest validate.
  const fitRows = Math.floor(row.train * (1 - (r.val ?? 0)));
  const trainText = fitRows < row.train ? `${fmt(fitRows)} + ${fmt(row.train - fitRows)} validation` : fmt(row.train);
  const cells = [LABELS[row.classifier], row.features, trainText, `${row.trainSeconds.toFixed(2)} s`, `${(row.accuracy * 100).toFixed(2)} %`];
  cells.forEach((text, i) => {
    const td = document.createElement(i === 0 ? 'th' : 'td');
    if (i === 0) td.scope = 'row';
    if (i >= 2) td.className = 'num';
    td.textContent = text;
    tr.append(td);
  });
  const actions = document.createElement('td');
  actions.className = 'row-actions';
  const show = button('Details', () => showDetail(row));
  show.setAttribute('aria-label', `Details of ${LABELS[row.classifier]}`);
  const dl = button('Download', () => downloadClassifier(row));
  dl.setAttribute('aria-label', `Download ${LABELS[row.classifier]}`);
  dl.dataset.testid = 'download';
  actions.append(show, dl);
  tr.append(actions);
  $('results-body').append(tr);
  row.tr = tr;
  showLesson();
  showDetail(row);
  // Photos go to the most accurate classifier trained here, unless a file was loaded.
  const best = bestRow(state.results);
  if (!state.active || (state.active.fromResult && state.active.row !== best)) {
    setActive({ model: best.model, name: best.classifier, size: best.size, numFeatures: inputFloats(best.classifier, best.size), fromResult: true, row: best });
  }
  return row;
}

function showLesson() {
  const lesson = lessonSentence(state.results, LABELS);
  for (const r of state.results) r.tr.classList.toggle('best', r === lesson?.best);
  $('lesson').hidden = !lesson;
  $('lesson').textContent = lesson?.text ?? '';
  $('lesson').dataset.best = lesson?.best.classifier ?? '';
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = 'small';
  b.addEventListener('click', onClick);
  return b;
}

function showDetail(row) {
  $('detail').hidden = false;
  $('detail-title').textContent = `${LABELS[row.classifier]} (${row.features}, ${fmt(row.train)} training images): test accuracy ${(row.accuracy * 100).toFixed(2)} %`;
  renderConfusion($('confusion'), row.confusion, FASHION_CLASSES);
  const test = state.splits.test, wrong = [];
  for (let i = 0; i < row.predictions.length; i++) if (row.predictions[i] !== test.labels[i]) wrong.push(i);
  $('wrong-count').textContent = `(${fmt(wrong.length)} of ${fmt(row.predictions.length)}${wrong.length > 40 ? ', the first 40' : ''})`;
  renderGallery($('gallery'), wrong.slice(0, 40).map((i) => ({
    index: i, pixels: test.images.subarray(i * 784, (i + 1) * 784),
    truth: FASHION_CLASSES[test.labels[i]], predicted: FASHION_CLASSES[row.predictions[i]],
  })));
}

function fileName(name, size) {
  return name === 'pixels-linear-svm' ? `fashion-${name}.dlclass` : `fashion-${name}-s${size}.dlclass`;
}

async function downloadClassifier(row) {
  clearError();
  let bytes;
  try { bytes = await state.models.bytes(row.model); } catch (e) { showError(`${LABELS[row.classifier]}: ${e.message}`); return; }
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName(row.classifier, row.size);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------- a photo of clothing ----------

// Floats per image a classifier of this page reads: pixels, the pooled features, or fine-tuning's rows.
const inputFloats = (name, size) => (name === 'pixels-linear-svm' ? 784 : name === 'finetune' ? blockFloats(size) : DIMS);

function setActive(a) {
  state.active = a;
  const what = a.numFeatures === 784 ? 'raw 28×28 pixels' : a.name === 'finetune' ? `DenseNet121 up to conv5_block1 at ${a.size}×${a.size}` : `DenseNet features at ${a.size}×${a.size}`;
  $('active-classifier').textContent = `Classifying with: ${a.label ?? LABELS[a.name] ?? a.name} on ${what}.`;
  $('active-classifier').dataset.kind = a.name;
}

async function loadClassifierFile(fileObj) {
  clearError();
  try {
    const bytes = new Uint8Array(await fileObj.arrayBuffer());
    const t = trainer();
    await t.ready;
    const info = await t.call('inspect', { model: bytes.slice() });
    const m = /-s(\d+)\.dlclass$/i.exec(fileObj.name);
    const size = info.numFeatures === 784 ? 28 : m ? Number(m[1]) : Number($('image-size').value);
    const name = info.numFeatures === 784 ? 'pixels-linear-svm' : info.kind;
    if (info.numClasses !== 10 || info.numFeatures !== inputFloats(name, size)) {
      throw new Error(`expects ${info.numFeatures} features and ${info.numClasses} classes: not a Fashion-MNIST classifier of this lab${name === 'finetune' ? ` at ${size}×${size}` : ''}`);
    }
    setActive({ model: { bytes }, name, size, numFeatures: info.numFeatures, label: `${LABELS[name] ?? info.kind} from ${fileObj.name}`, fromResult: false });
  } catch (e) {
    showError(`${fileObj.name}: ${e.message}`);
  }
}

// The photo worker's heap (83 MB at S=32) is not kept through an extraction or a training run: the
// next photo starts a new one.
function endPhotoWorker() {
  state.photoWorker?.pool.terminate();
  state.photoWorker = null;
}

function photoWorker(size) {
  const p = state.photoWorker;
  if (p && p.size === size) return p;
  p?.pool.terminate();
  const pool = new FeaturePool({ size, count: 1, wasm: state.wasm, modelUrl: modelUrl(), modelChecksum: state.modelChecksum });
  state.photoWorker = { size, pool };
  return state.photoWorker;
}

async function classifyPhoto(fileObj) {
  clearError();
  if (!state.active) { showError('no classifier yet: train one above or load a .dlclass file'); return; }
  if (!state.splits) { showError('wait until the model is loaded'); return; }
  try {
    const a = state.active;
    const bytes = await fileObj.arrayBuffer();
    const size = a.numFeatures === 784 ? Number($('image-size').value) : a.size;
    const block = a.name === 'finetune';   // fine-tuning reads conv5_block1's input, from the same run
    const r = await photoWorker(size).pool.call('photo', { bytes, invert: $('invert').checked, block });
    const x = a.numFeatures === 784 ? Float32Array.from(r.gray28, (v) => v / 255) : block ? r.block : r.features;
    const t = trainer();
    await t.ready;
    const model = await state.models.bytes(a.model);
    const p = await t.call('predict', { model, x }, { transfer: [model.buffer] });
    $('photo-out').hidden = false;
    drawGray($('photo-canvas'), r.gray28, 28, 28);
    const label = FASHION_CLASSES[p.label];
    $('photo-label').textContent = label;
    $('photo-label').dataset.label = label;
    const ranked = p.scores.map((s, i) => [s, i]).sort((u, v) => v[0] - u[0]).slice(1, 3);
    $('photo-detail').textContent = ` ${r.width}×${r.height} photo${a.numFeatures === 784 ? '' : `, features at ${size}×${size}`}; next: ${ranked.map(([, i]) => FASHION_CLASSES[i]).join(', ')}${r.decodedBy ? `. ${decodedNote(r.decodedBy)}` : ''}`;
  } catch (e) {
    showError(`${fileObj.name}: ${e.message}`);
  }
}

// ---------- wiring ----------

// The form states no value itself: every [data-default="a.b.c"] element gets DEFAULTS.a.b.c
// (a select its choices, a checkbox its state, an input its value, any other element its text).
function fillDefaults() {
  const label = (key, v) => (typeof v !== 'number' ? String(v)
    : key === 'size' ? `${v}×${v}` : `${fmt(v)}${SPLIT_SIZE[key] === v ? ' (all)' : ''}`);
  for (const el of document.querySelectorAll('[data-default]')) {
    const key = el.dataset.default;
    const v = key.split('.').reduce((o, k) => o?.[k], DEFAULTS);
    if (v === undefined) throw new Error(`web/defaults.js has no ${key}`);
    if (el instanceof HTMLSelectElement) {
      el.replaceChildren(...v.choices.map((c) => new Option(label(key, c), String(c), false, c === v.value)));
    } else if (el instanceof HTMLInputElement && el.type === 'checkbox') {
      el.checked = !!v;
    } else if (el instanceof HTMLInputElement) {
      el.value = String(v);
    } else {
      el.textContent = Number.isInteger(v) ? fmt(v) : String(v);
    }
  }
}

fillDefaults();

wireErrorClose();
$('extract').addEventListener('click', runExtract);
$('resume').addEventListener('click', runExtract);
$('cancel').addEventListener('click', cancel);
$('train').addEventListener('click', train);
$('stop-train').addEventListener('click', stopTraining);
$('image-size').addEventListener('change', updateCode);
$('classifier-input').addEventListener('change', (e) => { if (e.target.files[0]) loadClassifierFile(e.target.files[0]); e.target.value = ''; });
$('photo-input').addEventListener('change', (e) => { if (e.target.files[0]) classifyPhoto(e.target.files[0]); e.target.value = ''; });
for (const id of ['train-size', 'test-size', 'image-size']) {
  $(id).addEventListener('change', () => { state.cancelled = false; setBusy(state.busy); });
}
updateCode();

// Hooks for the browser tests (harmless for users).
window.__denselabTest = {
  // Where the page is: its last steps and every worker request still open (printed when a test times out).
  whereWaiting: () => ({ now: Math.round(performance.now()), steps: state.steps, openCalls: WorkerClient.openCalls() }),
  killWorker: () => state.pool?.killOne() ?? false,
  featuresChecksum: () => state.features?.checksum ?? null,
  featureSeconds: () => state.features?.seconds ?? null,
  clearCache: async () => { state.features = null; await state.trainer?.call('features-drop'); await state.cache?.clear(); },
  featureWorkerHeap: () => state.features?.heapBytes ?? null,
  featuresInWorker: () => !!state.features && !state.features.dropped,
  replacedWorkers: () => state.features?.replaced ?? state.pool?.replaced ?? 0,
  stopAfterPairs: (k) => { state.stopAfterPairs = k; },
  stopAfterEpochs: (k) => { state.stopAfterEpochs = k; },
  rbfPairsKept: () => state.rbfPairs?.done.size ?? 0,
  featureTypesUsed: () => state.featureTypesUsed,
  extractions: () => state.extractions,
  pixelFits: () => state.pixelFits,
  testRowsFrom: () => state.testRowsFrom,
  readBacks: () => state.readBacks.map((r) => r.what),
  readBackTimes: () => state.readBacks,
  workerReads: (on) => { state.workerReads = on; },
  // Deletes entries from IndexedDB: the stored training images' part i, or the feature batch whose key ends so.
  dropCacheEntry: async ({ imagePart, keyEnd }) => {
    const ask = (mode, fn) => new Promise((resolve, reject) => { const r = fn(state.cache.store(mode)); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
    const keys = await ask('readonly', (s) => s.getAllKeys());
    const key = imagePart !== undefined ? `${state.trainImages.key}:${imagePart}` : keys.find((k) => k.endsWith(keyEnd));
    if (!keys.includes(key)) return null;
    await ask('readwrite', (s) => s.delete(key));
    return key;
  },
  streamChecksum: (on) => { state.streamChecksum = on; },
  // The next extractions as in a browser without IndexedDB (off), or with it again; the features are forgotten.
  cacheOff: (off) => { state.features = null; state.cacheKept ??= state.cache; state.cache = off ? new FeatureCache(null) : state.cacheKept; },
  rbfPairBytes: () => [...(state.rbfPairs?.done.values() ?? [])].reduce((a, b) => a + (b?.byteLength ?? 0), 0),
  nextFitParams: (p) => { state.nextFitParams = p; },
  imagesOnPage: () => ({ train: state.splits.train.images?.length ?? 0, test: state.splits.test.images?.length ?? 0, stored: !!state.trainImages }),
  modelBytesOnPage: () => state.results.reduce((a, r) => a + (r.model.bytes?.byteLength ?? 0), 0),
  blockBatchesPut: () => ({ total: state.blockBatchesPut, extracting: state.features?.blockPut ?? null }),
  // The RBF SVM's pairs on pair workers even on the threaded classifier worker (what a page that is
  // not cross-origin isolated runs), its kept pairs forgotten; and the SHA-256 of its last model.
  rbfPairWorkers: (on) => { state.rbfPairWorkers = on; state.rbfPairs = null; },
  rbfModelSha256: async () => {
    const row = state.results.findLast((r) => r.classifier === 'rbf-svm');
    return row ? [...new Uint8Array(await crypto.subtle.digest('SHA-256', await state.models.bytes(row.model)))].map((b) => b.toString(16).padStart(2, '0')).join('') : null;
  },
};

// Opened as a file, web/file-check.js explains how to serve the folder: nothing to load here.
if (location.protocol !== 'file:') load().catch((e) => {
  showError(`could not load the lab: ${e.message}`);
  setStatus('error');
  $('load-label').textContent = 'Loading failed.';
});
