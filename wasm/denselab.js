// denselab.js — the ES-module JS API over the WASM core (browser main thread,
// Web Worker, or Node). See README.md for the API; every method throws an
// Error whose message is the reason.
//
//   const lab = await createDenseLab({ wasmBinary });      // Node: pass the bytes
//   const file = lab.loadModelFile(bytes);
//   const net = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
//   const out = net.predict(input, batch);
//
// The guard: every method checks its arguments (types, integer ranges,
// lengths, typed-array types) before anything touches the WASM heap, and
// every size computed here before _malloc is checked against what one
// 32-bit instance can hold, so a bad call throws and leaves the instance as
// it was. A freed object's methods throw. A network keeps its model file
// alive: file.free() while networks use it frees it when the last one is
// freed. Should the WASM code ever trap all the same, the instance is
// marked unusable and every later call says so, rather than answering from a
// heap in an unknown state.

// wasmModule: a compiled WebAssembly.Module of the same core (a page compiles it once and posts it to
// its workers, which then share its code instead of each compiling its own).
export async function createDenseLab({ wasmBinary, wasmModule, coreUrl, threads = 1 } = {}) {
  integer('threads', threads, 1, MAX_THREADS);
  if (wasmModule !== undefined && (!(wasmModule instanceof WebAssembly.Module) || threads > 1)) throw new Error('wasmModule must be a WebAssembly.Module of the single-threaded core');
  // threads > 1: the threaded build (denselab_core_mt: pthreads on one shared
  // memory; the page must be crossOriginIsolated); wasmBinary / coreUrl name it.
  const url = coreUrl ?? new URL(threads > 1 ? './denselab_core_mt.mjs' : './denselab_core.mjs', import.meta.url).href;
  if (threads > 1) await nodeGlobalsForThreads(url);
  const { default: createCore } = await import(url);
  if (!wasmBinary && !wasmModule) {
    const wasmUrl = new URL(url.replace(/\.mjs$/, '.wasm'), import.meta.url);
    const res = await fetch(wasmUrl);
    if (!res.ok) throw new Error(`cannot load ${wasmUrl}: HTTP ${res.status}`);
    wasmBinary = await res.arrayBuffer();
  }
  // Emscripten's hook for an instance made elsewhere: a failure must reject here, not hang its ready promise.
  let instantiateFailed;
  const failed = new Promise((resolve, reject) => { instantiateFailed = reject; });
  const instantiateWasm = (imports, receive) => {
    WebAssembly.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule))
      .catch((e) => instantiateFailed(new Error(`wasmModule is not this core's module (${e.message})`)));
    return {};
  };
  // dlThreadPool: the workers started with the module (wasm/CMakeLists.txt), so
  // that starting a thread never waits for this thread's event loop.
  const core = await Promise.race([failed, createCore({ wasmBinary, ...(wasmModule ? { instantiateWasm } : {}), print: () => {}, printErr: () => {}, dlThreadPool: threads - 1 })]);
  if (threads > 1) {
    liveHeapViews(core);
    // Node: the pool's worker_threads must not keep the process alive.
    for (const w of [...core.PThread.unusedWorkers, ...core.PThread.runningWorkers]) w.unref?.();
    if (!core._dl_api_set_threads(threads)) throw new Error(core.UTF8ToString(core._dl_api_last_error()));
  }
  return new DenseLab(core);
}

// A thread count for one image: 1..64 (common/parallel.h's DL_MAX_THREADS).
export const MAX_THREADS = 64;

// The number of cores this JS runs on (the default of the CLI and the page).
export async function availableThreads() {
  if (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) return Math.min(navigator.hardwareConcurrency, MAX_THREADS);
  if (typeof process === 'object' && process.versions?.node) {
    const os = await import('node:os');
    return Math.min(os.availableParallelism?.() ?? os.cpus().length, MAX_THREADS);
  }
  return 1;
}

// Frees the memory of typed arrays now: their buffers are detached, and a detached buffer's
// memory goes at once, not at some later garbage collection (for data copied into a heap or
// already sent on). Where ArrayBuffer.prototype.transfer is missing (Node 20) it does nothing.
export function release(...arrays) {
  for (const a of arrays) if (a?.buffer?.byteLength && typeof a.buffer.transfer === 'function') a.buffer.transfer(0);
}

// Emscripten 3.1.6's threaded module, under Node, expects CommonJS's require
// and __dirname even as an ES module (its pthreads are worker_threads).
async function nodeGlobalsForThreads(url) {
  if (typeof process !== 'object' || !process.versions?.node || typeof window !== 'undefined') return;
  const { createRequire } = await import('node:module');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  globalThis.require ??= createRequire(url);
  globalThis.__dirname ??= path.dirname(fileURLToPath(url));
}

// Another thread may grow the shared memory: the HEAP views this thread
// reads are re-made whenever the memory's buffer changed.
function liveHeapViews(core) {
  const kinds = { HEAP8: Int8Array, HEAPU8: Uint8Array, HEAP16: Int16Array, HEAPU16: Uint16Array, HEAP32: Int32Array,
    HEAPU32: Uint32Array, HEAPF32: Float32Array, HEAPF64: Float64Array };
  const views = {};
  for (const [name, Kind] of Object.entries(kinds)) {
    Object.defineProperty(core, name, {
      get() {
        const buffer = core.wasmMemory.buffer;
        if (views[name]?.buffer !== buffer) views[name] = new Kind(buffer);
        return views[name];
      },
      set() {},                 // Emscripten's own refresh: the getter does it
      configurable: true,
    });
  }
}

// The Keras Applications arguments, plus DenseLab's memory limit (bytes, or '512MB'; models/model.h).
// grayToRgb is DenseLab's extension (not Keras): a 1-channel inputShape with the gray channel repeated 3x.
const KERAS_OPTIONS = { includeTop: 'include_top', weights: 'weights', inputShape: 'input_shape', pooling: 'pooling', classes: 'classes', seed: 'seed', maxMemory: 'max_memory', grayToRgb: 'gray_to_rgb' };

// What one instance can hold (-sMAXIMUM_MEMORY=2GB in wasm/CMakeLists.txt): no
// single buffer can be larger, and C's 32-bit size_t must never see more.
export const MAX_BUFFER_BYTES = 2 ** 31 - 1;
const MAX_INT = 2 ** 31 - 1;          // C int
export const MAX_PIXELS = 536870911;  // DL_IMAGE_MAX_PIXELS_LIMIT (models/image.h)
const MAX_SIDE = 16384;               // DL_IMAGE_MAX_SIDE: an image side (load_img target size, gray images)

// ---- argument checks (each throws an Error naming the argument) ----

function show(v) {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v == null) return String(v);
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${v.length ?? v.byteLength}`;
  return Array.isArray(v) ? `an array of length ${v.length}` : `a ${typeof v}`;
}

function integer(name, v, lo, hi) {
  if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new Error(`${name} must be an integer from ${lo} to ${hi}, got ${show(v)}`);
  return v;
}

// ArrayBuffer or any typed array / DataView -> a Uint8Array view of its bytes.
function byteView(name, data) {
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer)) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new Error(`${name} must be an ArrayBuffer or a typed array, got ${show(data)}`);
}

// Float32Array, or an array / typed array of numbers -> Float32Array of exactly n values.
function floats(name, x, n) {
  if (!(x instanceof Float32Array) && !Array.isArray(x) && !(ArrayBuffer.isView(x) && !(x instanceof DataView) && typeof x[0] !== 'bigint'))
    throw new Error(`${name} must be a Float32Array or an array of numbers, got ${show(x)}`);
  if (n !== undefined && x.length !== n) throw new Error(`${name} has ${x.length} values, expected ${n}`);
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

// Bytes of a buffer of count elements of elem bytes, refused beyond one instance's memory.
function bufferBytes(name, count, elem) {
  const bytes = count * elem;
  if (!Number.isSafeInteger(bytes) || bytes > MAX_BUFFER_BYTES) throw new Error(`${name}: ${count} x ${elem} bytes is more than the ${MAX_BUFFER_BYTES + 1}-byte limit of one WebAssembly instance`);
  return bytes;
}

function keyValue(key, text) {
  if (/[\0\n=]/.test(text)) throw new Error(`${key}: invalid value ${show(text)} (NUL, newline and '=' are not allowed)`);
  return text;
}

function checkRows(name, x, n, d) {
  integer(`${name}: number of rows`, n, 1, MAX_INT);
  bufferBytes(name, n, d * 4);
  floats(name, x, n * d);
}

function checkLabels(y, n) {
  if (!Array.isArray(y) && !(ArrayBuffer.isView(y) && !(y instanceof DataView) && typeof y[0] !== 'bigint')) throw new Error(`labels must be an Int32Array or an array of integers, got ${show(y)}`);
  if (y.length !== n) throw new Error(`expected ${n} labels, got ${y.length}`);
}

// ---- the guard around every method ----

class InstanceError extends Error {}

// Wraps each method of cls: a lab that trapped refuses everything, a freed
// object refuses everything but free() (a no-op), and a trap inside the call
// marks the lab unusable and becomes an Error.
function guard(cls, what) {
  for (const name of Object.getOwnPropertyNames(cls.prototype)) {
    const method = cls.prototype[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    cls.prototype[name] = function guarded(...args) {
      const lab = this.lab ?? this;
      if (lab.unusable) throw new InstanceError(`the WebAssembly instance is no longer usable; reload (${lab.unusable})`);
      if (what && this.freed) {
        if (name === 'free') return undefined;
        throw new Error(`this ${what} was freed`);
      }
      try {
        return method.apply(this, args);
      } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) {
          lab.unusable = `it trapped: ${e.message}`;
          throw new InstanceError(`the WebAssembly instance is no longer usable; reload (${lab.unusable})`);
        }
        throw e;
      }
    };
  }
}

// Keras arguments { includeTop, inputShape, ... } -> the "key=value" lines the core reads.
function kerasOptionLines(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new Error(`options must be an object, got ${show(options)}`);
  const lines = [];
  for (const [key, value] of Object.entries(options)) {
    const name = KERAS_OPTIONS[key];
    if (!name) throw new Error(`unknown argument ${key} (expected ${Object.keys(KERAS_OPTIONS).join(', ')})`);
    if (value === undefined) continue;
    if (Array.isArray(value) ? !value.every((v) => typeof v === 'number' || typeof v === 'string') : !['string', 'number', 'boolean'].includes(typeof value) && value !== null)
      throw new Error(`${key}: invalid value ${show(value)}`);
    const text = value === null ? 'none' : Array.isArray(value) ? value.map((v) => keyValue(key, String(v))).join(',') : String(value);
    lines.push(`${name}=${keyValue(key, text)}`);
  }
  return lines.join('\n');
}

class DenseLab {
  constructor(core) {
    this.core = core;
    this.classIndex = 0;
    this.unusable = null;       // why, once the WASM code trapped
  }

  error() { return new Error(this.core.UTF8ToString(this.core._dl_api_last_error())); }

  // Threads that run one image (createDenseLab({ threads })).
  threadCount() { return this.core._dl_api_threads(); }

  // Fewer (or again more) threads, up to the count this instance was created with:
  // its workers were started then (a thread started later would wait for this
  // thread's event loop).
  setThreads(threads) {
    integer('threads', threads, 1, this.core.dlThreadPool + 1);
    if (!this.core._dl_api_set_threads(threads)) throw this.error();
  }

  // n bytes of heap, or an Error (never a 0 pointer handed on).
  alloc(name, bytes) {
    const p = this.core._malloc(Math.max(bytes, 1));
    if (!p) throw new Error(`${name}: out of memory for ${bytes} bytes`);
    return p;
  }

  // Copy bytes (Uint8Array/ArrayBuffer/typed array) into the WASM heap; caller frees.
  copyIn(data, name = 'data') {
    const bytes = byteView(name, data);
    const ptr = this.alloc(name, bufferBytes(name, bytes.length, 1));
    this.core.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  string(ptr) {            // a malloc'ed C string -> JS string, freed
    const s = this.core.UTF8ToString(ptr);
    this.core._free(ptr);
    return s;
  }

  withBytes(data, fn, name) {
    const ptr = this.copyIn(data, name);
    try { return fn(ptr, byteView(name, data).length); } finally { this.core._free(ptr); }
  }

  withString(str, fn) {
    const n = this.core.lengthBytesUTF8(str) + 1;
    const ptr = this.alloc('string', bufferBytes('string', n, 1));
    this.core.stringToUTF8(str, ptr, n);
    try { return fn(ptr, n - 1); } finally { this.core._free(ptr); }
  }

  // Heap room for count elements of elem bytes, given to fn(ptr, bytes), freed after.
  withHeap(name, count, elem, fn) {
    const bytes = bufferBytes(name, count, elem), p = this.alloc(name, bytes);
    try { return fn(p, bytes); } finally { this.core._free(p); }
  }

  owned(obj, cls, what) {
    if (!(obj instanceof cls)) throw new Error(`expected a ${what} of this DenseLab, got ${show(obj)}`);
    if (obj.lab !== this) throw new Error(`the ${what} belongs to another DenseLab instance`);
    if (obj.freed) throw new Error(`this ${what} was freed`);
    return obj;
  }

  loadModelFile(bytes) {
    const m = this.withBytes(bytes, (p, n) => this.core._dl_api_model_load(p, n), 'model file');
    if (!m) throw this.error();
    return new ModelFile(this, m);
  }

  loadClassIndex(jsonText) {
    if (typeof jsonText !== 'string') throw new Error(`the class index must be a string of JSON, got ${show(jsonText)}`);
    const ci = this.withString(jsonText, (p, n) => this.core._dl_api_class_index_parse(p, n));
    if (!ci) throw this.error();
    if (this.classIndex) this.core._dl_api_class_index_free(this.classIndex);
    this.classIndex = ci;
  }

  buildNet(file, options = {}) {
    this.owned(file, ModelFile, 'model file');
    const net = this.withString(kerasOptionLines(options), (p, n) => this.core._dl_api_net_build(file.handle, p, n));
    if (!net) throw this.error();
    return new Net(this, net, file);
  }

  // Keras load_img(bytes, target_size=[h, w]) -> RGB bytes as the network sees them.
  // maxPixels: 0 (the decoder's default, 100 million) or a positive integer up to MAX_PIXELS.
  loadImg(bytes, size = null, { maxPixels = 0 } = {}) {
    let h = 0, w = 0;
    if (size !== null && size !== undefined) {
      if (!Array.isArray(size) || size.length !== 2) throw new Error(`target size must be [height, width], got ${show(size)}`);
      h = integer('target height', size[0], 1, MAX_SIDE);
      w = integer('target width', size[1], 1, MAX_SIDE);
    }
    integer('maxPixels', maxPixels, 0, MAX_PIXELS);
    return this.withHeap('image size', 4, 4, (wh) => this.withBytes(bytes, (p, n) => {
      const rgb = this.core._dl_api_load_img(p, n, h, w, maxPixels, wh);
      if (!rgb) throw this.error();
      const [originalWidth, originalHeight, width, height] = this.core.HEAP32.slice(wh >> 2, (wh >> 2) + 4);
      const out = this.core.HEAPU8.slice(rgb, rgb + width * height * 3);
      this.core._free(rgb);
      return { rgb: out, width, height, originalWidth, originalHeight };
    }, 'image'));
  }

  decodeImage(bytes, opts) {
    const { originalWidth: width, originalHeight: height } = this.loadImg(bytes, [1, 1], opts);
    return { width, height };
  }

  // densenet.preprocess_input on RGB bytes (Uint8Array or Uint8ClampedArray, a multiple of 3).
  preprocessInput(rgb) {
    if (!(rgb instanceof Uint8Array || rgb instanceof Uint8ClampedArray)) throw new Error(`preprocessInput needs RGB bytes (Uint8Array or Uint8ClampedArray), got ${show(rgb)}`);
    if (rgb.length % 3) throw new Error(`preprocessInput needs whole RGB pixels: ${rgb.length} bytes is not a multiple of 3`);
    return this.withHeap('preprocess_input output', rgb.length, 4, (out, outBytes) => {
      this.withBytes(rgb, (p, n) => { if (!this.core._dl_api_preprocess(p, n, out, outBytes)) throw this.error(); }, 'RGB');
      return this.core.HEAPF32.slice(out >> 2, (out >> 2) + rgb.length);
    });
  }

  formatTopK(probs, top, json) {
    if (!this.classIndex) throw new Error('no class index loaded (call loadClassIndex first)');
    const f = floats('probabilities', probs);
    if (!f.length) throw new Error('probabilities must not be empty');
    if (!Number.isInteger(top) || top < 1 || top > f.length) throw new Error(`top must be between 1 and ${f.length}, got ${show(top)}`);
    return this.withBytes(f, (p) => {
      const s = this.core._dl_api_decode_predictions(this.classIndex, p, f.length, top, json ? 1 : 0);
      if (!s) throw this.error();
      return this.string(s);
    }, 'probabilities');
  }

  // Keras decode_predictions for one image: [{index, wnid, label, prob}].
  decodePredictions(probs, top = 5) { return JSON.parse(this.formatTopK(probs, top, true)); }

  // What Python prints for decode_predictions' list of tuples.
  formatPredictions(probs, top = 5) { return this.formatTopK(probs, top, false); }

  // Keras's decode_predictions refuses anything but rows of 1000 classes: throws Keras's error.
  checkDecodePredictions(rows, classes) {
    integer('rows', rows, 0, MAX_INT);
    integer('classes', classes, 0, MAX_INT);
    if (!this.core._dl_api_decode_predictions_check(rows, classes)) throw this.error();
  }

  // ---- the transfer-learning experiment ----

  // Run fn with Module.onProgress set (C calls it; a true return cancels). An
  // exception in onProgress cancels the C job, which then unwinds normally
  // (throwing through the WASM frames would skip its cleanup), and is rethrown.
  withProgress(onProgress, fn) {
    if (onProgress != null && typeof onProgress !== 'function') throw new Error(`onProgress must be a function, got ${show(onProgress)}`);
    let thrown = null;
    this.core.onProgress = onProgress ? (...a) => {
      if (thrown) return true;
      try { return onProgress(...a); } catch (e) { thrown = { e }; return true; }
    } : null;
    let result;
    try { result = fn(); } catch (e) { if (!thrown) throw e; } finally { this.core.onProgress = null; }
    if (thrown) throw thrown.e;
    return result;
  }

  // Decompressed IDX bytes -> { count, rows, cols, data: Uint8Array } (labels: rows = cols = 1).
  parseIdx(bytes, { labels = false } = {}) {
    return this.withHeap('IDX header', 4, 4, (info) => this.withBytes(bytes, (p, n) => {
      const off = this.core._dl_api_idx_parse(p, n, labels ? 1 : 0, info);
      if (off < 0) throw this.error();
      const [, count, rows, cols] = this.core.HEAP32.slice(info >> 2, (info >> 2) + 4);
      const size = count * rows * cols;
      if (off + size > n) throw new Error(`IDX: ${count} x ${rows} x ${cols} bytes run past the ${n}-byte file`);
      return { count, rows, cols, data: this.core.HEAPU8.slice(p + off, p + off + size) };
    }, 'IDX file'));
  }

  // count gray w x h images -> net outputs (Float32Array count x outputSize), in batches.
  // Keras's GlobalAveragePooling2D / GlobalMaxPooling2D of one positions x channels map
  // (how: 'avg' | 'max'), by the same kernel a network with pooling runs.
  globalPool(map, positions, channels, how = 'avg') {
    integer('positions', positions, 1, MAX_INT);
    integer('channels', channels, 1, MAX_INT);
    if (how !== 'avg' && how !== 'max') throw new Error(`pooling must be 'avg' or 'max', got ${show(how)}`);
    const x = floats('feature map', map, positions * channels);
    const p = this.copyIn(x);
    try {
      return this.withHeap('pooled', channels, 4, (out) => {
        if (!this.core._dl_api_global_pool(p, positions, channels, how === 'max' ? 1 : 0, out)) throw this.error();
        return this.core.HEAPF32.slice(out >> 2, (out >> 2) + channels);
      });
    } finally { this.core._free(p); }
  }

  grayFeatures(net, gray, w, h, count, options = {}) {
    return this.grayRun(net, gray, w, h, count, options, false).features;
  }

  // grayFeatures and, from the same network runs, each image's input of conv5_block1 (fine-tuning's
  // rows, learn/finetune.h; net: featureNet's) -> { features, block (count x blockSize), blockSize }.
  grayFeaturesAndBlock(net, gray, w, h, count, options = {}) {
    return this.grayRun(net, gray, w, h, count, options, true);
  }

  grayRun(net, gray, w, h, count, { batch = 32, onProgress } = {}, withBlock) {
    this.owned(net, Net, 'network');
    if (!(gray instanceof Uint8Array || gray instanceof Uint8ClampedArray)) throw new Error(`gray images must be a Uint8Array, got ${show(gray)}`);
    integer('image width', w, 1, MAX_SIDE);
    integer('image height', h, 1, MAX_SIDE);
    integer('count', count, 0, MAX_INT);
    integer('batch', batch, 1, MAX_INT);
    const pixels = bufferBytes('gray images', count, w * h);
    if (gray.length < pixels) throw new Error(`expected ${count} images of ${w}x${h} bytes, got ${gray.length} bytes`);
    let blockSize = 0;
    if (withBlock && !(blockSize = this.core._dl_api_net_tap_block_input(net.handle))) throw this.error();
    return this.withHeap('features', count * net.outputSize, 4, (out, outBytes) => this.withHeap('block inputs', count * blockSize, 4, (pb, blockBytes) => {
      this.withBytes(gray.subarray(0, pixels), (p, n) => this.withProgress(onProgress, () => {
        if (!this.core._dl_api_gray_features_tapped(net.handle, p, n, w, h, count, batch, out, outBytes, withBlock ? pb : 0, blockBytes)) throw this.error();
      }), 'gray images');
      const floats = (q, k) => this.core.HEAPF32.slice(q >> 2, (q >> 2) + k);
      return { features: floats(out, count * net.outputSize), block: withBlock ? floats(pb, count * blockSize) : null, blockSize };
    }));
  }

  // The classifier kinds and their parameters: the C core's table (learn/experiment.c), as
  // [{ name, id, help, params: [{ name, type: 'int'|'real', default, min, max, min_exclusive, help }] }].
  classifierKinds() {
    if (!this.kinds) {
      const p = this.core._dl_api_classifier_kinds_json();
      if (!p) throw this.error();
      this.kinds = JSON.parse(this.core.UTF8ToString(p));
    }
    return this.kinds;
  }

  // The Fashion-MNIST comparison's rows (learn/report.h): [{ name, kind, blockInput, params }], every kind
  // of the table, then the linear SVM on raw pixels; blockInput: the row trains on the frozen
  // part's output (buildFrozenNet), not the pooled features; params: the experiment's values where
  // they differ from the kind's defaults (the CLI's flags override them); trainRows(name, n, rbfMax): how
  // many images a row trains on.
  reportRows() {
    if (!this.rows) {
      const p = this.core._dl_api_report_rows();
      if (!p) throw this.error();
      this.rows = this.string(p).trim().split('\n').map((line) => {
        const [name, kind, block, f16, ...params] = line.split(' ');
        return { name, kind, blockInput: block === '1', featureType: f16 === '1' ? 'f16' : 'f32', params: Object.fromEntries(params.map((kv) => { const [k, v] = kv.split('='); return [k, Number(v)]; })) };
      });
    }
    return this.rows;
  }

  report(p) {
    if (!p) throw this.error();
    return this.string(p);
  }

  // rbfMax: a positive integer, or Infinity (no cap).
  reportTrainRows(name, n, rbfMax) {
    integer('n', n, 1, MAX_INT);
    if (rbfMax !== Infinity) integer('rbfMax', rbfMax, 1, MAX_INT);
    return this.withString(String(name), (p) => this.core._dl_api_report_row_train(p, n, Math.min(rbfMax, n)));
  }

  // The comparison as both CLIs print it (learn/report.h): head (text: the features line, only
  // when haveFeatures), one row per result, tail. json: the one-object layout.
  formatReportHead({ json, size, n, m, featureSeconds, haveFeatures }) {
    return this.report(this.core._dl_api_report(0, json ? 1 : 0, haveFeatures ? 1 : 0, 0, size, n, m, featureSeconds, 0, 0, 0));
  }

  formatReportRow({ json, first, name, n, seconds, accuracy, confusion }) {
    const k = confusion.length;
    return this.withHeap('confusion', k * k, 4, (pc) => {
      this.core.HEAP32.set(confusion.flat(), pc >> 2);
      return this.withString(String(name), (pn) => this.report(this.core._dl_api_report(1, json ? 1 : 0, first ? 1 : 0, pn, 0, n, 0, seconds, accuracy, pc, k)));
    });
  }

  formatReportTail({ json }) { return this.report(this.core._dl_api_report(2, json ? 1 : 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); }

  // kind: a name from classifierKinds(); x: n x d Float32Array; y: n labels.
  // options: the kind's parameters by name (cacheMb or cache_mb), the table's defaults for the
  // rest. A parameter of another kind is ignored (one options object can drive several kinds);
  // a name that no kind has is an error.
  fit(kind, x, y, n, d, options = {}, onProgress) {
    if (typeof kind !== 'string') throw new Error(`the classifier kind must be a string, got ${show(kind)}`);
    const kinds = this.classifierKinds(), spec = kinds.find((k) => k.name === kind);
    if (!spec) throw new Error(`unknown classifier '${kind}' (expected ${kinds.map((k) => k.name).join(', ')})`);
    integer('number of features', d, 1, MAX_INT);
    if (!(x instanceof HeapFloats)) checkRows('features', x, n, d);
    checkLabels(y, n);
    if (options === null || typeof options !== 'object') throw new Error(`fit parameters must be an object, got ${show(options)}`);
    const values = classifierParams(kinds, spec, options);
    const rows = this.rowsIn('features', x, n, d), px = rows.ptr;
    const pv = this.copyIn(values);
    const py = this.copyIn(Int32Array.from(y));
    try {
      const c = this.withString(kind, (pk) => this.withProgress(onProgress, () => this.core._dl_api_fit_rows(pk, px, rows.bytes, rows.f16, py, n, d, pv, values.length)));
      if (!c) throw this.error();
      return new Classifier(this, c);
    } finally { this.core._free(pv); this.freeRows(rows); this.core._free(py); }
  }

  // ---- the RBF SVM's one-vs-one pairs as independent units (learn/kernel_svm.h) ----
  // rbfPrepare -> { gamma, numClasses, mean, std } (mean/std: Float32Arrays if options.standardize,
  // else null); rbfTrainPair for each (ci < cj) on only those two classes' rows, anywhere (another
  // worker's instance); rbfAssemble: the Classifier, the same bytes as fit('rbf-svm', ...).
  rbfValues(options) {
    if (options === null || typeof options !== 'object') throw new Error(`rbf-svm parameters must be an object, got ${show(options)}`);
    const kinds = this.classifierKinds();
    return classifierParams(kinds, kinds.find((k) => k.name === 'rbf-svm'), options);
  }

  rbfPrepare(x, y, n, d, options = {}) {
    integer('number of features', d, 1, MAX_INT);
    checkLabels(y, n);
    const values = this.rbfValues(options), standardize = values[this.classifierKinds().find((k) => k.name === 'rbf-svm').params.findIndex((p) => p.name === 'standardize')] === 1;
    const rows = this.rowsIn('features', x, n, d);   // a HeapFloats is used in place
    const ptrs = [this.copyIn(values), this.copyIn(Int32Array.from(y)), this.alloc('info', 16), this.alloc('mean', d * 4), this.alloc('std', d * 4)];
    const [pv, py, info, mean, std] = ptrs;
    try {
      if (!this.core._dl_api_rbf_prepare_rows(rows.ptr, rows.bytes, rows.f16, py, n * 4, n, d, pv, values.length, info, mean, std)) throw this.error();
      const f = (p) => (standardize ? this.core.HEAPF32.slice(p >> 2, (p >> 2) + d) : null);
      return { gamma: this.core.HEAPF64[info >> 3], numClasses: this.core.HEAPF64[(info >> 3) + 1], mean: f(mean), std: f(std) };
    } finally { ptrs.forEach((p) => this.core._free(p)); this.freeRows(rows); }
  }

  // xi: the ni rows of class ci, xj: the nj rows of class cj (each in training-set order);
  // { gamma, mean, std } from rbfPrepare. onProgress('rbf-svm pair', iterations) every 1,000
  // SMO steps; a true return cancels. -> the pair's result bytes (Uint8Array).
  // xi, xj may be HeapFloats of this lab (used in place, as rbfPrepare's x).
  rbfTrainPair(xi, ni, xj, nj, d, ci, cj, shared = {}, options = {}, onProgress) {
    if (!(xi instanceof HeapFloats)) checkRows('class ci rows', xi, ni, d);
    if (!(xj instanceof HeapFloats)) checkRows('class cj rows', xj, nj, d);
    const rows = [];
    try {
      rows.push(this.rowsIn('class ci rows', xi, ni, d));
      rows.push(this.rowsIn('class cj rows', xj, nj, d));
      const [pi, pj] = rows.map((r) => r.ptr);
      return this.trainPair(d, ci, cj, shared, options, onProgress, (pm, ps, pv, count, size) =>
        this.core._dl_api_rbf_train_pair(pi, ni * d * 4, ni, pj, nj * d * 4, nj, d, ci, cj, shared.gamma, pm, ps, pv, count, size));
    } finally { rows.forEach((r) => this.freeRows(r)); }
  }

  // The same pair with its rows read in place from x (n x d: HeapFloats, or a Float32Array copied
  // in) by index: rowsI, rowsJ (the row numbers of class ci's and cj's rows, in training-set
  // order, as rbf-pairs.js classIndex gives them). The same bytes as rbfTrainPair on those rows
  // gathered, without the copy: the worker holding the features trains its pairs where they are.
  rbfTrainPairAt(x, n, d, rowsI, rowsJ, ci, cj, shared = {}, options = {}, onProgress) {
    integer('number of features', d, 1, MAX_INT);
    if (!(x instanceof HeapFloats)) checkRows('features', x, n, d);
    const index = (name, r) => {
      if (!(Array.isArray(r) || r instanceof Int32Array) || r.length < 1) throw new Error(`${name} must be a non-empty array of row numbers, got ${show(r)}`);
      return Int32Array.from(r);
    };
    const [ri, rj] = [index('class ci rows', rowsI), index('class cj rows', rowsJ)];
    const rows = this.rowsIn('features', x, n, d), ptrs = [];
    try {
      ptrs.push(this.copyIn(ri, 'class ci rows'), this.copyIn(rj, 'class cj rows'));
      return this.trainPair(d, ci, cj, shared, options, onProgress, (pm, ps, pv, count, size) =>
        this.core._dl_api_rbf_train_pair_at_rows(rows.ptr, rows.bytes, rows.f16, n, d, ptrs[0], ri.length * 4, ri.length, ptrs[1], rj.length * 4, rj.length,
          ci, cj, shared.gamma, pm, ps, pv, count, size));
    } finally { ptrs.forEach((p) => this.core._free(p)); this.freeRows(rows); }
  }

  // What both ways of training a pair share: the checks of d, the classes and rbfPrepare's
  // { gamma, mean, std }, the parameters and mean/std in the heap, progress, and the result's
  // bytes out. call(mean, std, values, count, size) -> the C core's result pointer.
  trainPair(d, ci, cj, shared, options, onProgress, call) {
    integer('ci', ci, 0, 254);
    integer('cj', cj, ci + 1, 255);
    const values = this.rbfValues(options);
    const ptrs = [];
    try {
      ptrs.push(this.copyIn(values));
      ptrs.push(this.alloc('size', 8));
      ptrs.push(...this.sharedIn(d, shared));   // checked before anything is copied in
      const [pv, size, pm = 0, ps = 0] = ptrs;
      const r = this.withProgress(onProgress, () => call(pm, ps, pv, values.length, size));
      if (!r) throw this.error();
      const bytes = this.core.HEAPU8.slice(r, r + this.core.HEAPU32[size >> 2]);
      this.core._free(r);
      return bytes;
    } finally { ptrs.forEach((p) => this.core._free(p)); }
  }

  // rbfPrepare's { gamma, mean, std } checked; mean/std copied into the heap ([] when not
  // standardising; the caller frees them).
  sharedIn(d, { gamma, mean = null, std = null }) {
    integer('number of features', d, 1, MAX_INT);
    if (typeof gamma !== 'number' || !(gamma > 0) || !Number.isFinite(gamma)) throw new Error(`gamma must be a positive number (from rbfPrepare), got ${show(gamma)}`);
    if ((mean === null) !== (std === null)) throw new Error('give both mean and std (from rbfPrepare), or neither');
    if (mean === null) return [];
    floats('mean', mean, d); floats('std', std, d);
    const pm = this.copyIn(floats('mean', mean));
    try { return [pm, this.copyIn(floats('std', std))]; } catch (e) { this.core._free(pm); throw e; }
  }

  // Several pairs at once on this instance's threads (createDenseLab({ threads }); the single-
  // threaded build trains them one after another), every pair's rows read in place from x (n x d:
  // HeapFloats or HeapHalves, or a Float32Array copied in): rows[c] the row numbers of class c (rbf-pairs.js
  // classIndex), pairs [[ci, cj], ...]; the largest pairs go first, each thread taking the next.
  // onProgress({ done, total, pair, bytes, iter }) on this thread: after each pair that finished
  // (pair [ci, cj], bytes its result; done: of these pairs) and, with pair null, every 1,000 SMO
  // steps of the pair this thread trains (iter) or every 50 ms while it waits for the others; a
  // true return cancels (every thread abandons its pair). -> the results in the order of pairs,
  // each the bytes rbfTrainPairAt gives. Cancelled or failed: an Error with .finished (the
  // results, null for the pairs that did not finish; none is lost) and .cancelled.
  rbfTrainPairsAt(x, n, d, rows, pairs, shared = {}, options = {}, onProgress) {
    integer('number of features', d, 1, MAX_INT);
    if (!(x instanceof HeapFloats)) checkRows('features', x, n, d);
    if (!Array.isArray(rows) || rows.length < 2 || rows.length > 256) throw new Error(`rows must be an array of 2 to 256 classes' row numbers, got ${show(rows)}`);
    rows.forEach((r, c) => { if (!(Array.isArray(r) || r instanceof Int32Array) || r.length < 1) throw new Error(`rows[${c}] must be a non-empty array of row numbers, got ${show(r)}`); });
    if (!Array.isArray(pairs)) throw new Error(`pairs must be an array of [ci, cj], got ${show(pairs)}`);
    pairs.forEach((p, k) => {
      if (!Array.isArray(p) || p.length !== 2) throw new Error(`pairs[${k}] must be [ci, cj], got ${show(p)}`);
      integer(`pairs[${k}][0]`, p[0], 0, rows.length - 2);
      integer(`pairs[${k}][1]`, p[1], p[0] + 1, rows.length - 1);
    });
    if (onProgress != null && typeof onProgress !== 'function') throw new Error(`onProgress must be a function, got ${show(onProgress)}`);
    const values = this.rbfValues(options), count = pairs.length;
    const data = this.rowsIn('features', x, n, d), ptrs = [];
    const finished = new Array(count).fill(null);
    try {
      const counts = Int32Array.from(rows, (r) => r.length), flat = new Int32Array(counts.reduce((a, b) => a + b, 0));
      rows.reduce((at, r) => { flat.set(r, at); return at + r.length; }, 0);
      for (const make of [() => this.copyIn(values), () => this.copyIn(flat, 'class rows'), () => this.copyIn(counts, 'class counts'),
        () => this.copyIn(Int32Array.from(pairs.flat()), 'pairs'), () => this.alloc('pair results', Math.max(count, 1) * 8)]) ptrs.push(make());
      ptrs.push(...this.sharedIn(d, shared));
      const [pv, pr, pc, pp, table, pm = 0, ps = 0] = ptrs;
      this.core.HEAPU32.fill(0, table >> 2, (table >> 2) + 2 * count);
      const result = (k) => { const p = this.core.HEAPU32[(table >> 2) + k]; return this.core.HEAPU8.slice(p, p + this.core.HEAPU32[(table >> 2) + count + k]); };
      const progress = (phase, done, total, k, iter) => {
        if (k >= 0) finished[k] = result(k);
        return onProgress ? onProgress({ done, total, pair: k >= 0 ? pairs[k] : null, bytes: k >= 0 ? finished[k] : null, iter }) : false;
      };
      let ok = 0;
      try {
        ok = this.withProgress(progress, () => this.core._dl_api_rbf_train_pairs_at_rows(data.ptr, data.bytes, data.f16, n, d, pr, flat.length * 4, pc, counts.length * 4,
          counts.length, pp, count * 8, count, shared.gamma, pm, ps, pv, values.length, table, table + count * 4, count * 4));
      } finally {   // every finished pair's bytes are kept, whatever happened
        for (let k = 0; k < count; k++) {
          const p = this.core.HEAPU32[(table >> 2) + k];
          if (p) { finished[k] ??= result(k); this.core._free(p); }
        }
      }
      if (!ok) { const e = this.error(); throw Object.assign(e, { finished, cancelled: e.message === 'cancelled' }); }
      return finished;
    } catch (e) {
      e.finished ??= finished;
      throw e;
    } finally { ptrs.forEach((p) => this.core._free(p)); this.freeRows(data); }
  }

  // results: every pair's bytes from rbfTrainPair, in any order. borrow (x a HeapFloats of this
  // lab): the model's support vectors stay rows of x instead of copies (92 MB at 60,000 features):
  // the same bytes and predictions, but free the Classifier before x.
  rbfAssemble(x, y, n, d, options, results, { borrow = false } = {}) {
    if (borrow && !(x instanceof HeapFloats)) throw new Error('rbfAssemble: borrow needs the features as HeapFloats of this lab (the model reads them in place)');
    integer('number of features', d, 1, MAX_INT);
    checkLabels(y, n);
    if (!Array.isArray(results)) throw new Error(`pair results must be an array of byte arrays, got ${show(results)}`);
    const values = this.rbfValues(options ?? {});
    const rows = this.rowsIn('features', x, n, d);   // a HeapFloats is used in place
    const ptrs = [this.copyIn(values), rows.ptr, this.copyIn(Int32Array.from(y))];
    try {
      results.forEach((r, i) => ptrs.push(this.copyIn(r, `pair result ${i}`)));
      const table = this.alloc('pair results', Math.max(results.length, 1) * 8);
      ptrs.push(table);
      results.forEach((r, i) => {
        this.core.HEAPU32[(table >> 2) + i] = ptrs[3 + i];
        this.core.HEAPU32[(table >> 2) + results.length + i] = byteView(`pair result ${i}`, r).length;
      });
      const c = this.core._dl_api_rbf_assemble_rows(ptrs[1], rows.bytes, rows.f16, ptrs[2], n * 4, n, d, ptrs[0], values.length, table, table + results.length * 4, results.length, borrow ? 1 : 0);
      if (!c) throw this.error();
      return new Classifier(this, c);
    } finally { ptrs.forEach((p, i) => { if (i !== 1) this.core._free(p); }); this.freeRows(rows); }
  }

  loadClassifier(bytes) {
    const c = this.withBytes(bytes, (p, n) => this.core._dl_api_classifier_load(p, n), 'classifier file');
    if (!c) throw this.error();
    return new Classifier(this, c);
  }

  // Fine-tuning (learn/finetune.h): the frozen part of DenseNet121 (every layer before
  // conv5_block1) as a Net whose output is conv5_block1's input (h x w x 512 per image), for
  // grayFeatures/predict; then setFinetuneBase(file) before fit('finetune', those rows, ...).
  buildFrozenNet(file, { inputShape = [224, 224, 3], maxMemory = 0 } = {}) {
    this.owned(file, ModelFile, 'model file');
    if (!Array.isArray(inputShape) || inputShape.length !== 3) throw new Error(`inputShape must be [h, w, c], got ${show(inputShape)}`);
    inputShape.forEach((v, i) => integer(['height', 'width', 'channels'][i], v, 1, MAX_SIDE));
    if (typeof maxMemory !== 'number' || !(maxMemory >= 0) || !Number.isFinite(maxMemory)) throw new Error(`maxMemory must be a number of bytes, got ${show(maxMemory)}`);
    const f = this.core._dl_api_frozen_build(file.handle, inputShape[0], inputShape[1], inputShape[2], maxMemory);
    if (!f) throw this.error();
    const net = new Net(this, this.core._dl_api_frozen_net(f), file);
    net.frozen = f;
    return net;
  }

  setFinetuneBase(file) {
    this.owned(file, ModelFile, 'model file');
    if (!this.core._dl_api_finetune_set_base(file.handle)) throw this.error();
  }

  // For the TF.js comparison: `steps` Keras Adam steps (moments from zero) of a dense block
  // { channels, layers, growth, bottleneck, height, width } with a head (hidden, classes) whose
  // parameters (learn/finetune.h's layout) are `params`, on n rows x with labels y.
  // Returns the updated parameters; steps 0: the gradient of the mean loss instead.
  finetuneSteps({ shape, hidden, classes, params, x, y, n, lr, steps = 1 }) {
    const dims = ['channels', 'layers', 'growth', 'bottleneck', 'height', 'width'].map((k) => integer(`shape.${k}`, shape?.[k], 1, 65536));
    integer('hidden', hidden, 1, MAX_INT);
    integer('classes', classes, 1, 256);
    integer('n', n, 1, MAX_INT);
    integer('steps', steps, 0, 1e6);
    if (typeof lr !== 'number' || !(lr > 0)) throw new Error(`lr must be a positive number, got ${show(lr)}`);
    checkRows('rows', x, n, dims[0] * dims[4] * dims[5]);
    checkLabels(y, n);
    const p = Float32Array.from(params), ptrs = [];
    const copy = (a) => { const q = this.copyIn(a); ptrs.push(q); return q; };
    try {
      const ps = copy(Int32Array.from(dims)), pp = copy(p), px = copy(Float32Array.from(x)), py = copy(Int32Array.from(y));
      return this.withHeap('parameters', p.length, 4, (out, outBytes) => {
        if (!this.core._dl_api_finetune_steps(ps, hidden, classes, pp, p.length * 4, px, n * dims[0] * dims[4] * dims[5] * 4, py, n, lr, steps, out, outBytes)) throw this.error();
        return this.core.HEAPF32.slice(out >> 2, (out >> 2) + p.length);
      });
    } finally { ptrs.forEach((q) => this.core._free(q)); }
  }

  // Room for n int32s for fill(ptr) to write; returns them.
  ints(n, fill) {
    return this.withHeap('ints', n, 4, (p) => { fill(p); return Array.from(this.core.HEAP32.subarray(p >> 2, (p >> 2) + n)); });
  }

  // ---- your own classes (learn/train.h) ----

  // How many classes a project may have (learn/train.h DL_PROJECT_MAX_CLASSES); at least 2.
  projectMaxClasses() { return this.core._dl_api_project_max_classes(); }

  // A new project: the settings (input size, cv: 0 auto | 1 leave-one-out | k folds, classifier
  // kind and its parameters by name) and the class names, in order. holdout (0 < h < 1) evaluates
  // by that fraction of each class held out instead of cross-validation.
  newProject({ size = 224, cv = 0, kind = 'linear-svm', params = {}, classes = [], holdout = 0 } = {}) {
    integer('size', size, 32, 1024);
    integer('cv', cv, 0, 100000);
    if (typeof kind !== 'string') throw new Error(`the classifier kind must be a string, got ${show(kind)}`);
    if (!Array.isArray(classes)) throw new Error(`classes must be an array of names, got ${show(classes)}`);
    const h = this.withString(kind, (pk) => this.core._dl_api_project_new(size, cv, pk));
    if (!h) throw this.error();
    const project = new Project(this, h);
    try {
      for (const [name, value] of Object.entries(params ?? {})) {
        if (typeof value !== 'number') throw new Error(`classifier parameter ${name} must be a number, got ${show(value)}`);
        const known = this.classifierKinds().some((k) => k.params.some((p) => p.name === name));
        const key = known ? name : name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);   // cacheMb -> cache_mb, as fit()
        if (!this.withString(key, (pn) => this.core._dl_api_project_set_param(h, pn, value))) throw this.error();
      }
      if (typeof holdout !== 'number') throw new Error(`holdout must be a number, got ${show(holdout)}`);
      if (!this.core._dl_api_project_set_holdout(h, holdout)) throw this.error();
      for (const name of classes) project.addClass(name);
    } catch (e) { project.free(); throw e; }
    return project;
  }

  // A DLPROJ01 file -> Project (fully validated; a damaged or foreign file throws why).
  loadProject(bytes) {
    const h = this.withBytes(bytes, (p, n) => this.core._dl_api_project_load(p, n), 'project file');
    if (!h) throw this.error();
    return new Project(this, h);
  }

  // DenseNet121 and a trained project's classifier as one ONNX file (onnx/export.h; README "ONNX"):
  // { project } -> input image [N, S, S, 3] RGB 0..255, outputs scores, label, class_name, features.
  // Without a project: the network of the Keras options (as buildNet), input image, output output.
  // -> { bytes: Uint8Array (the .onnx file), about: what it computes (text, or JSON members with json: true) }
  exportOnnx(file, { project = null, json = false, ...options } = {}) {
    this.owned(file, ModelFile, 'model file');
    if (project !== null) this.owned(project, Project, 'project');
    const core = this.core;
    return this.withHeap('export info', 2, 4, (info) => this.withString(kerasOptionLines(options), (po, n) => {
      const buf = core._dl_api_onnx_export(file.handle, po, n, project ? project.handle : 0, json ? 1 : 0, info, info + 4);
      if (!buf) throw this.error();
      const bytes = core.HEAPU8.slice(buf, buf + core.HEAPU32[info >> 2]);
      core._free(buf);
      return { bytes, about: this.string(core.HEAPU32[(info >> 2) + 1]) };
    }));
  }

  heapBytes() { return this.core.HEAPU8.length; }
  heapUsed() { return this.core._dl_api_heap_used() >>> 0; }

  // count floats of room inside this instance's heap, as HeapFloats (data as large as the
  // features of a whole data set is kept there once and used in place by fit, evaluate, predict).
  heapFloats(count, name = 'floats') {
    integer(`${name}: count`, count, 0, MAX_INT);
    return new HeapFloats(this, this.alloc(name, bufferBytes(name, count, 4)), count, null);
  }

  // The same room as float16 values (HeapHalves: half the bytes): fit, evaluate, predict and the
  // RBF SVM's entry points take it wherever they take HeapFloats (the same models as float32 rows
  // holding the same values); put(at, floats) fills it, rounded to nearest even by the C kernel.
  heapHalves(count, name = 'halves') {
    integer(`${name}: count`, count, 0, MAX_INT);
    return new HeapHalves(this, this.alloc(name, bufferBytes(name, count, 2)), count, null);
  }

  // The float32 value of every half (Float32Array(65536), indexed by the bits), from the C kernel,
  // made once: JS reads halves as floats through it.
  halfValues() {
    if (!this.halfTable) {
      const h = this.heapHalves(65536, 'half table');
      try {
        h.view().set(Uint16Array.from({ length: 65536 }, (_, i) => i));
        this.halfTable = h.floats();
      } finally { h.free(); }
    }
    return this.halfTable;
  }

  // How the experiment stores the features of a row of the report (learn/report.h's
  // dl_report_row_features_f16): 'f16' for the two SVMs, 'f32' for the others (reportRows()'s
  // featureType).
  reportFeatureType(row) {
    const r = this.reportRows().find((x) => x.name === row);
    if (!r) throw new Error(`reportFeatureType: unknown row ${show(row)} (expected ${this.reportRows().map((x) => x.name).join(', ')})`);
    return r.featureType;
  }

  // n x d rows for the C core: { ptr, owned } (a HeapFloats of this lab: used where it is; any
  // other array: copied in, owned, for the caller to free).
  // bytes: their size, f16: 1 for HeapHalves (rows of halves), else 0.
  rowsIn(name, x, n, d) {
    if (!(x instanceof HeapFloats)) {
      checkRows(name, x, n, d);
      return { ptr: this.copyIn(x instanceof Float32Array ? x : Float32Array.from(x), name), owned: true, bytes: n * d * 4, f16: 0 };
    }
    integer(`${name}: number of rows`, n, 1, MAX_INT);
    if (x.lab !== this || !x.live) throw new Error(`${name}: heap ${x.what} of another DenseLab instance, or freed`);
    if (x.length !== bufferBytes(name, n, d * 4) / 4) throw new Error(`${name} has ${x.length} values, expected ${n * d}`);
    return { ptr: x.ptr, owned: false, bytes: x.length * x.bytesPer, f16: x.bytesPer === 2 ? 1 : 0 };
  }

  freeRows(rows) { if (rows.owned) this.core._free(rows.ptr); }
}

// Floats inside a lab's heap (lab.heapFloats): view() is a Float32Array over them, made afresh
// each time (a growing heap detaches older views); subarray(start, end) a part of them, which
// does not own it (and dies with it); free() gives the room back.
export class HeapFloats {
  constructor(lab, ptr, length, parent) { Object.assign(this, { lab, ptr, length, owner: parent?.owner ?? this }); }

  get bytesPer() { return 4; }
  get what() { return 'floats'; }

  // x (a Float32Array) copied in from value at on.
  put(at, x) {
    this.checkPut(at, x);
    this.view().set(x, at);
  }

  checkPut(at, x) {
    if (!this.live) throw new Error(`heap ${this.what}: freed`);
    if (!(x instanceof Float32Array)) throw new Error(`heap ${this.what}: put takes a Float32Array, got ${show(x)}`);
    if (!Number.isInteger(at) || at < 0 || at > this.length || x.length > this.length - at) throw new Error(`heap ${this.what}: ${x.length} values at ${at} do not fit in ${this.length}`);
  }

  get live() { return this.owner.ptr !== 0; }

  view() {
    if (!this.live) throw new Error('heap floats: freed');
    return this.lab.core.HEAPF32.subarray(this.ptr >> 2, (this.ptr >> 2) + this.length);
  }

  subarray(start, end = this.length) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > this.length) throw new Error(`heap ${this.what}: bad range ${start}..${end} of ${this.length}`);
    return new this.constructor(this.lab, this.ptr + this.bytesPer * start, end - start, this);
  }

  free() {
    if (this.owner !== this) return;   // a part: its owner frees
    if (this.ptr) this.lab.core._free(this.ptr);
    this.ptr = 0;
  }
}

// Float16 values inside a lab's heap (lab.heapHalves): a HeapFloats whose view() is the
// halves' bits (Uint16Array); put(at, floats) stores floats from value at on, converted by the
// C kernel (f16_from_f32) in pieces of 1 MB; floats(start, end) reads values back as float32
// (exact).
export class HeapHalves extends HeapFloats {
  get bytesPer() { return 2; }
  get what() { return 'halves'; }

  view() {
    if (!this.live) throw new Error('heap halves: freed');
    return this.lab.core.HEAPU16.subarray(this.ptr >> 1, (this.ptr >> 1) + this.length);
  }

  put(at, x) {
    this.checkPut(at, x);
    const lab = this.lab, piece = 1 << 18;
    for (let s = 0; s < x.length; s += piece) {
      const part = x.subarray(s, Math.min(x.length, s + piece));
      lab.withHeap('floats to convert', part.length, 4, (p) => {
        lab.core.HEAPF32.set(part, p >> 2);
        if (!lab.core._dl_api_f16_from_f32(p, part.length, this.ptr, this.length, at + s)) throw lab.error();
      });
    }
  }

  floats(start = 0, end = this.length) {
    if (!this.live) throw new Error('heap halves: freed');
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > this.length) throw new Error(`heap halves: bad range ${start}..${end} of ${this.length}`);
    const lab = this.lab;
    return lab.withHeap('floats', Math.max(end - start, 1), 4, (p) => {
      if (!lab.core._dl_api_f32_from_f16(this.ptr, this.length, start, end - start, p)) throw lab.error();
      return lab.core.HEAPF32.slice(p >> 2, (p >> 2) + end - start);
    });
  }
}

// A loaded model file. Networks built from it point into it, so free() while
// networks use it only marks it freed; the memory goes when the last one does.
class ModelFile {
  constructor(lab, handle) {
    this.lab = lab;
    this.handle = handle;
    this.freed = false;
    this.users = 0;
    this.checksum = lab.core._dl_api_model_checksum(handle) >>> 0;
  }

  free() { this.freed = true; releaseFile(this); }
}

function releaseFile(file) {
  if (file.freed && file.users === 0 && file.handle) { file.lab.core._dl_api_model_free(file.handle); file.handle = 0; }
}

class Net {
  constructor(lab, handle, file) {
    this.lab = lab;
    this.handle = handle;
    this.file = file;
    this.freed = false;
    file.users++;
    const s = lab.ints(7, (p) => lab.core._dl_api_net_shapes(handle, p));
    this.inputShape = [s[0], s[1], s[2]];
    this.outputShape = [null, ...s.slice(4, 4 + s[3])];
    this.outputSize = this.outputShape.slice(1).reduce((a, b) => a * b, 1);
    // What Keras reports: height and width None when the model takes any size (include_top=False,
    // input_shape=None); outputShape above is what this network computes (at the default size).
    const k = lab.ints(4, (p) => lab.core._dl_api_net_keras_output_shape(handle, p));
    this.kerasOutputShape = [null, ...k.slice(1, 1 + k[0]).map((d) => (d < 0 ? null : d))];
  }

  predict(input, batch = 1) {
    const [h, w, c] = this.inputShape;
    integer('batch', batch, 1, MAX_INT);
    const inputBytes = bufferBytes('input', batch, h * w * c * 4);
    const x = floats('input', input, inputBytes / 4);
    const core = this.lab.core;
    return this.lab.withHeap('output', batch * this.outputSize, 4, (y, yBytes) => this.lab.withBytes(x, (px, n) => {
      if (!core._dl_api_net_run(this.handle, px, n, batch, y, yBytes)) throw this.lab.error();
      return core.HEAPF32.slice(y >> 2, (y >> 2) + batch * this.outputSize);
    }, 'input'));
  }

  summary() {
    const core = this.lab.core;
    const s = core._dl_api_net_summary(this.handle);
    if (!s) throw this.lab.error();
    const text = this.lab.string(s);
    const rows = [];
    for (const line of text.split('\n')) {       // " name (Class)   (None, ...)   1,234   inputs"
      const m = /^ (\S+) \((\w+)\)\s+(\(None[^)]*\))\s+([\d,]+)\s*(.*)$/.exec(line);
      if (m) rows.push({ name: m[1], className: m[2], outputShape: m[3], params: Number(m[4].replace(/,/g, '')), connectedTo: m[5] ? m[5].split(', ') : [] });
    }
    const totalParams = core._dl_api_net_params(this.handle, 0), trainableParams = core._dl_api_net_params(this.handle, 1);
    return { text, rows, totalParams, trainableParams, nonTrainableParams: totalParams - trainableParams };
  }

  free() {
    if (this.frozen) this.lab.core._dl_api_frozen_free(this.frozen); else this.lab.core._dl_api_net_free(this.handle);
    this.handle = 0;
    this.freed = true;
    this.file.users--;
    releaseFile(this.file);
  }
}

// Every parameter of kind `spec`, in the table's order, from options by name (checked as the core
// checks them, so a bad value fails here with the same reason).
function classifierParams(kinds, spec, options) {
  const known = new Set(kinds.flatMap((k) => k.params.map((p) => p.name)));
  const given = new Map();
  for (const [key, value] of Object.entries(options ?? {})) {
    const name = known.has(key) ? key : key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    if (!known.has(name)) throw new Error(`unknown classifier parameter '${key}' (known: ${[...known].join(', ')})`);
    given.set(name, value);
  }
  return Float64Array.from(spec.params, (p) => {
    const v = given.get(p.name) ?? p.default;
    const bad = (why) => new Error(`${spec.name}: ${p.name} must be ${why} (got ${v})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('a finite number');
    if (p.type === 'int' && !Number.isInteger(v)) throw bad('an integer');
    if (p.min_exclusive ? !(v > p.min) : !(v >= p.min)) throw bad(`${p.min_exclusive ? '>' : '>='} ${p.min}`);
    if (v > p.max) throw bad(`<= ${p.max}`);
    return v;
  });
}

class Classifier {
  constructor(lab, handle) {
    this.lab = lab;
    this.handle = handle;
    const [id, numClasses, numFeatures] = lab.ints(3, (p) => lab.core._dl_api_classifier_info(handle, p));
    Object.assign(this, { kind: lab.classifierKinds().find((k) => k.id === id).name, numClasses, numFeatures });
  }

  check(x, n, y) {
    if (!(x instanceof HeapFloats)) checkRows('features', x, n, this.numFeatures);
    if (y !== undefined) checkLabels(y, n);
    bufferBytes('scores', n, this.numClasses * 4);
  }

  // -> { labels: Int32Array(n), scores: Float32Array(n x classes) }
  predict(x, n) {
    this.check(x, n);
    const core = this.lab.core, k = this.numClasses;
    const rows = this.lab.rowsIn('features', x, n, this.numFeatures), px = rows.ptr;
    const labels = core._malloc(n * 4), scores = core._malloc(n * k * 4);
    try {
      if (!core._dl_api_classifier_predict_rows(this.handle, px, rows.bytes, rows.f16, n, labels, scores)) throw this.lab.error();
      return { labels: core.HEAP32.slice(labels >> 2, (labels >> 2) + n), scores: core.HEAPF32.slice(scores >> 2, (scores >> 2) + n * k) };
    } finally { this.lab.freeRows(rows); core._free(labels); core._free(scores); }
  }

  // -> { accuracy, confusion: k x k array (rows: truth), predictions: Int32Array }
  evaluate(x, y, n) {
    this.check(x, n, y);
    const core = this.lab.core, k = this.numClasses;
    const rows = this.lab.rowsIn('features', x, n, this.numFeatures), px = rows.ptr, py = this.lab.copyIn(Int32Array.from(y));
    const acc = core._malloc(8), cm = core._malloc(k * k * 4), pred = core._malloc(n * 4);
    try {
      if (!core._dl_api_evaluate_rows(this.handle, px, rows.bytes, rows.f16, py, n, acc, cm, pred)) throw this.lab.error();
      const flat = core.HEAP32.slice(cm >> 2, (cm >> 2) + k * k);
      return {
        accuracy: core.HEAPF64[acc >> 3],
        confusion: Array.from({ length: k }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k))),
        predictions: core.HEAP32.slice(pred >> 2, (pred >> 2) + n),
      };
    } finally { this.lab.freeRows(rows); [py, acc, cm, pred].forEach((p) => core._free(p)); }
  }

  // The classifier as a file (DLCLASS1) to download and load again.
  save() {
    const file = this.saveInHeap();
    try { return file.bytes(0, file.length); } finally { file.free(); }
  }

  // The same file left in this lab's heap: { length, bytes(start, end) (a copy of that part), free() }.
  // A host that stores it a part at a time makes no whole JS copy (the RBF SVM's is 90 MB at 60,000).
  saveInHeap() {
    const core = this.lab.core, size = core._malloc(8);
    try {
      const buf = core._dl_api_classifier_save(this.handle, size);
      if (!buf) throw this.lab.error();
      let ptr = buf;
      const length = core.HEAPU32[size >> 2];
      return {
        length,
        bytes: (start, end) => {
          if (!ptr) throw new Error('saved classifier: freed');
          if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > length) throw new Error(`saved classifier: bad range ${start}..${end} of ${length}`);
          return core.HEAPU8.slice(ptr + start, ptr + end);
        },
        free: () => { if (ptr) core._free(ptr); ptr = 0; },
      };
    } finally { core._free(size); }
  }

  free() { if (this.handle) this.lab.core._dl_api_classifier_free(this.handle); this.handle = 0; }
}

Object.defineProperty(Classifier.prototype, 'freed', { get() { return !this.handle; } });

// A project of "your own classes" (learn/train.h): its settings, class names, the trained
// classifier (DLCLASS1 bytes) and optionally the images; cross-validation and the reports as
// both CLIs print them.
class Project {
  constructor(lab, handle) {
    this.lab = lab;
    this.handle = handle;
  }

  addClass(name) { this.call('class name', name, (p, n) => this.lab.core._dl_api_project_add_class(this.handle, p, n)); }

  // fn(ptr, bytes) with a name string on the heap; throws the core's reason on 0.
  call(what, name, fn) {
    if (typeof name !== 'string') throw new Error(`${what} must be a string, got ${show(name)}`);
    if (!this.lab.withString(name, fn)) throw this.lab.error();
  }

  // [size, cv, numClasses, numImages, numParams, classifierBytes]: the counts alone, no strings.
  counts() { return this.lab.ints(6, (p) => this.lab.core._dl_api_project_info(this.handle, p)); }

  info() {
    const core = this.lab.core, h = this.handle;
    const [size, cv, numClasses, numImages, numParams, classifierBytes] = this.counts();
    const str = (what, i) => core.UTF8ToString(core._dl_api_project_string(h, what, i));
    const params = {};
    for (let i = 0; i < numParams; i++) params[str(3, i)] = core._dl_api_project_param_value(h, i);
    return { size, cv, holdout: core._dl_api_project_holdout(h), kind: str(0, 0), params, classes: Array.from({ length: numClasses }, (_, i) => str(1, i)),
      numImages, imageNames: Array.from({ length: numImages }, (_, i) => str(2, i)), trained: classifierBytes > 0 };
  }

  // i >= 0: { label, bytes } of image i; i = -1: the classifier file (bytes empty if untrained).
  bytes(i) {
    const core = this.lab.core;
    integer('image', i, -1, MAX_INT);
    return this.lab.withHeap('info', 2, 4, (info) => {
      const p = core._dl_api_project_bytes(this.handle, i, info);
      if (!p && i >= 0) throw this.lab.error();
      const [label, n] = core.HEAP32.slice(info >> 2, (info >> 2) + 2);
      return { label, bytes: p ? core.HEAPU8.slice(p, p + n) : new Uint8Array(0) };
    });
  }

  addImage(label, name, bytes) {
    integer('class', label, 0, MAX_INT);
    const p = this.lab.copyIn(bytes, 'image file');
    try { this.call('image name', name, (pn, n) => this.lab.core._dl_api_project_add_image(this.handle, label, pn, n, p, byteView('image file', bytes).length)); } finally { this.lab.core._free(p); }
  }

  setClassifier(bytes) {
    if (!this.lab.withBytes(bytes, (p, n) => this.lab.core._dl_api_project_set_classifier(this.handle, p, n), 'classifier file')) throw this.lab.error();
  }

  save() {
    const core = this.lab.core;
    return this.lab.withHeap('size', 2, 4, (size) => {
      const buf = core._dl_api_project_save(this.handle, size);
      if (!buf) throw this.lab.error();
      const bytes = core.HEAPU8.slice(buf, buf + core.HEAPU32[size >> 2]);
      core._free(buf);
      return bytes;
    });
  }

  // labels y (n) -> { fold: Int32Array(n), folds }: stratified k-fold or leave-one-out (the project's cv),
  // or the held-out images (fold 0; -1: trained on) when the project has a holdout.
  cvFolds(y) {
    const n = y.length;
    integer('number of images', n, 1, MAX_INT);
    checkLabels(y, n);
    const py = this.lab.copyIn(Int32Array.from(y));
    try {
      return this.lab.withHeap('folds', n, 4, (pf) => {
        const folds = this.lab.core._dl_api_cv_folds(this.handle, py, n, pf);
        if (!folds) throw this.lab.error();
        return { fold: this.lab.core.HEAP32.slice(pf >> 2, (pf >> 2) + n), folds };
      });
    } finally { this.lab.core._free(py); }
  }

  // Out-of-fold predictions (Int32Array n; -1 for images only trained on) of the project's kind and parameters.
  crossValidate(x, y, n, d, { fold, folds }, onProgress) {
    integer('number of features', d, 1, MAX_INT);
    checkLabels(y, n);
    if (!(fold instanceof Int32Array) || fold.length !== n) throw new Error(`fold must be an Int32Array of ${n}, got ${show(fold)}`);
    const lab = this.lab, core = lab.core;
    const rows = lab.rowsIn('features', x, n, d);   // a HeapFloats is used in place
    const py = lab.copyIn(Int32Array.from(y)), pf = lab.copyIn(fold);
    try {
      return lab.withHeap('predictions', n, 4, (pp) => {
        lab.withProgress(onProgress, () => { if (!core._dl_api_cross_validate(this.handle, rows.ptr, py, n, d, pf, folds, pp)) throw lab.error(); });
        return core.HEAP32.slice(pp >> 2, (pp >> 2) + n);
      });
    } finally { [py, pf].forEach((p) => core._free(p)); lab.freeRows(rows); }
  }

  // The cross-validation report as both CLIs print it (confusion: k x k, rows: truth).
  formatReport({ json = false, confusion, n, folds }) {
    const k = confusion.length;
    return this.lab.withHeap('confusion', k * k, 4, (pc) => {
      this.lab.core.HEAP32.set(confusion.flat(), pc >> 2);
      return this.lab.report(this.lab.core._dl_api_train_format(this.handle, 0, json ? 1 : 0, pc, 0, n, folds));
    });
  }

  // One image's prediction after its file name (text " LABEL (name score, ...)" or JSON members).
  formatPrediction(scores, json = false) {
    const s = floats('scores', scores, this.counts()[2]);
    return this.lab.withBytes(s, (ps) => this.lab.report(this.lab.core._dl_api_train_format(this.handle, 1, json ? 1 : 0, 0, ps, 0, 0)), 'scores');
  }

  free() { if (this.handle) this.lab.core._dl_api_project_free(this.handle); this.handle = 0; }
}

Object.defineProperty(Project.prototype, 'freed', { get() { return !this.handle; } });

guard(DenseLab, null);
guard(Project, 'project');
guard(ModelFile, 'model file');
guard(Net, 'network');
guard(Classifier, 'classifier');
