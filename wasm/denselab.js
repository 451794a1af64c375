// denselab.js — the ES-module JS API over the WASM core (browser main thread,
// Web Worker, or Node). See README.md for the API; every method throws an
// Error whose message is the reason.
//
//   const lab = await createDenseLab({ wasmBinary });      // Node: pass the bytes
//   const file = lab.loadModelFile(bytes);
//   const net = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
//   const out = net.predict(input, batch);

export async function createDenseLab({ wasmBinary, coreUrl } = {}) {
  const url = coreUrl ?? new URL('./denselab_core.mjs', import.meta.url).href;
  const { default: createCore } = await import(url);
  if (!wasmBinary) {
    const wasmUrl = new URL(url.replace(/\.mjs$/, '.wasm'), import.meta.url);
    const res = await fetch(wasmUrl);
    if (!res.ok) throw new Error(`cannot load ${wasmUrl}: HTTP ${res.status}`);
    wasmBinary = await res.arrayBuffer();
  }
  const core = await createCore({ wasmBinary, print: () => {}, printErr: () => {} });
  return new DenseLab(core);
}

const KERAS_OPTIONS = { includeTop: 'include_top', weights: 'weights', inputShape: 'input_shape', pooling: 'pooling', classes: 'classes', seed: 'seed' };

class DenseLab {
  constructor(core) {
    this.core = core;
    this.classIndex = 0;
  }

  error() { return new Error(this.core.UTF8ToString(this.core._dl_api_last_error())); }

  // Copy bytes (Uint8Array/ArrayBuffer/Float32Array) into the WASM heap; caller frees.
  copyIn(data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength);
    const ptr = this.core._malloc(Math.max(bytes.length, 1));
    if (!ptr) throw new Error(`out of memory copying ${bytes.length} bytes`);
    this.core.HEAPU8.set(bytes, ptr);
    return ptr;
  }

  string(ptr) {            // a malloc'ed C string -> JS string, freed
    const s = this.core.UTF8ToString(ptr);
    this.core._free(ptr);
    return s;
  }

  withBytes(data, fn) {
    const ptr = this.copyIn(data);
    try { return fn(ptr, data.byteLength); } finally { this.core._free(ptr); }
  }

  withString(str, fn) {
    const n = this.core.lengthBytesUTF8(str) + 1;
    const ptr = this.core._malloc(n);
    this.core.stringToUTF8(str, ptr, n);
    try { return fn(ptr, n - 1); } finally { this.core._free(ptr); }
  }

  loadModelFile(bytes) {
    const m = this.withBytes(bytes, (p, n) => this.core._dl_api_model_load(p, n));
    if (!m) throw this.error();
    const core = this.core;
    return { handle: m, checksum: core._dl_api_model_checksum(m) >>> 0, free() { if (this.handle) core._dl_api_model_free(this.handle); this.handle = 0; } };
  }

  loadClassIndex(jsonText) {
    const ci = this.withString(jsonText, (p, n) => this.core._dl_api_class_index_parse(p, n));
    if (!ci) throw this.error();
    if (this.classIndex) this.core._dl_api_class_index_free(this.classIndex);
    this.classIndex = ci;
  }

  buildNet(file, options = {}) {
    if (!file?.handle) throw new Error('the model file was freed or not loaded');
    const lines = [];
    for (const [key, value] of Object.entries(options)) {
      const name = KERAS_OPTIONS[key];
      if (!name) throw new Error(`unknown argument ${key} (expected ${Object.keys(KERAS_OPTIONS).join(', ')})`);
      if (value === undefined) continue;
      const text = value === null ? 'none' : Array.isArray(value) ? value.join(',') : String(value);
      if (text.includes('\n')) throw new Error(`${key}: invalid value`);
      lines.push(`${name}=${text}`);
    }
    const net = this.withString(lines.join('\n'), (p) => this.core._dl_api_net_build(file.handle, p));
    if (!net) throw this.error();
    return new Net(this, net);
  }

  // Keras load_img(bytes, target_size=[h, w]) -> RGB bytes as the network sees them.
  loadImg(bytes, size = null, { maxPixels = 0 } = {}) {
    const [h, w] = size ?? [0, 0];
    const wh = this.core._malloc(8);
    try {
      const rgb = this.withBytes(bytes, (p, n) => this.core._dl_api_load_img(p, n, h, w, maxPixels, wh));
      if (!rgb) throw this.error();
      const originalWidth = this.core.HEAP32[wh >> 2], originalHeight = this.core.HEAP32[(wh >> 2) + 1];
      const width = w || originalWidth, height = h || originalHeight;
      const out = this.core.HEAPU8.slice(rgb, rgb + width * height * 3);
      this.core._free(rgb);
      return { rgb: out, width, height, originalWidth, originalHeight };
    } finally { this.core._free(wh); }
  }

  decodeImage(bytes, opts) {
    const { originalWidth: width, originalHeight: height } = this.loadImg(bytes, [1, 1], opts);
    return { width, height };
  }

  preprocessInput(rgb) {
    const pixels = rgb.length / 3;
    const out = this.core._malloc(rgb.length * 4);
    try {
      this.withBytes(rgb, (p) => this.core._dl_api_preprocess(p, pixels, out));
      return this.core.HEAPF32.slice(out >> 2, (out >> 2) + rgb.length);
    } finally { this.core._free(out); }
  }

  formatTopK(probs, top, json) {
    if (!this.classIndex) throw new Error('no class index loaded (call loadClassIndex first)');
    if (!Number.isInteger(top) || top < 1 || top > probs.length) throw new Error(`top must be between 1 and ${probs.length}, got ${top}`);
    const f = Float32Array.from(probs);
    const text = this.withBytes(f, (p) => {
      const s = this.core._dl_api_decode_predictions(this.classIndex, p, f.length, top, json ? 1 : 0);
      if (!s) throw this.error();
      return this.string(s);
    });
    return text;
  }

  // Keras decode_predictions for one image: [{index, wnid, label, prob}].
  decodePredictions(probs, top = 5) { return JSON.parse(this.formatTopK(probs, top, true)); }

  // What Python prints for decode_predictions' list of tuples.
  formatPredictions(probs, top = 5) { return this.formatTopK(probs, top, false); }

  // ---- the transfer-learning experiment ----

  // Run fn with Module.onProgress set (C calls it; a true return cancels).
  withProgress(onProgress, fn) {
    this.core.onProgress = onProgress ?? null;
    try { return fn(); } finally { this.core.onProgress = null; }
  }

  // Decompressed IDX bytes -> { count, rows, cols, data: Uint8Array } (labels: rows = cols = 1).
  parseIdx(bytes, { labels = false } = {}) {
    const info = this.core._malloc(16);
    try {
      return this.withBytes(bytes, (p, n) => {
        const off = this.core._dl_api_idx_parse(p, n, labels ? 1 : 0, info);
        if (off < 0) throw this.error();
        const [, count, rows, cols] = this.core.HEAP32.slice(info >> 2, (info >> 2) + 4);
        return { count, rows, cols, data: this.core.HEAPU8.slice(p + off, p + off + count * rows * cols) };
      });
    } finally { this.core._free(info); }
  }

  // count gray w x h images -> net outputs (Float32Array count x outputSize), in batches.
  grayFeatures(net, gray, w, h, count, { batch = 32, onProgress } = {}) {
    if (gray.length < count * w * h) throw new Error(`expected ${count} images of ${w}x${h} bytes, got ${gray.length} bytes`);
    const out = this.core._malloc(count * net.outputSize * 4);
    if (!out) throw new Error('out of memory for the features');
    try {
      this.withBytes(gray.subarray(0, count * w * h), (p) => this.withProgress(onProgress, () => {
        if (!this.core._dl_api_gray_features(net.handle, p, w, h, count, batch, out)) throw this.error();
      }));
      return this.core.HEAPF32.slice(out >> 2, (out >> 2) + count * net.outputSize);
    } finally { this.core._free(out); }
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

  // kind: a name from classifierKinds(); x: n x d Float32Array; y: n labels.
  // options: the kind's parameters by name (cacheMb or cache_mb), the table's defaults for the
  // rest. A parameter of another kind is ignored (one options object can drive several kinds);
  // a name that no kind has is an error.
  fit(kind, x, y, n, d, options = {}, onProgress) {
    const kinds = this.classifierKinds(), spec = kinds.find((k) => k.name === kind);
    if (!spec) throw new Error(`unknown classifier '${kind}' (expected ${kinds.map((k) => k.name).join(', ')})`);
    const values = classifierParams(kinds, spec, options);
    if (!Number.isSafeInteger(n) || n < 1 || !Number.isSafeInteger(d) || d < 1) throw new Error(`n and d must be positive integers, got ${n} and ${d}`);
    if (n * d * 4 > 2 ** 31) throw new Error(`${n} x ${d} features do not fit in the 2 GB heap`);
    if (x.length !== n * d || y.length !== n) throw new Error(`expected ${n} x ${d} features and ${n} labels, got ${x.length} values and ${y.length} labels`);
    const pv = this.copyIn(values);
    const px = this.copyIn(x instanceof Float32Array ? x : Float32Array.from(x));
    const py = this.copyIn(Int32Array.from(y));
    try {
      const c = this.withString(kind, (pk) => this.withProgress(onProgress, () => this.core._dl_api_fit(pk, px, py, n, d, pv, values.length)));
      if (!c) throw this.error();
      return new Classifier(this, c);
    } finally { this.core._free(pv); this.core._free(px); this.core._free(py); }
  }

  loadClassifier(bytes) {
    const c = this.withBytes(bytes, (p, n) => this.core._dl_api_classifier_load(p, n));
    if (!c) throw this.error();
    return new Classifier(this, c);
  }

  // Room for n int32s for fill(ptr) to write; returns them.
  ints(n, fill) {
    const p = this.core._malloc(4 * n);
    try { fill(p); return Array.from(this.core.HEAP32.subarray(p >> 2, (p >> 2) + n)); } finally { this.core._free(p); }
  }

  heapBytes() { return this.core.HEAPU8.length; }
  heapUsed() { return this.core._dl_api_heap_used() >>> 0; }
}

class Net {
  constructor(lab, handle) {
    this.lab = lab;
    this.handle = handle;
    const s = lab.ints(7, (p) => lab.core._dl_api_net_shapes(handle, p));
    this.inputShape = [s[0], s[1], s[2]];
    this.outputShape = [null, ...s.slice(4, 4 + s[3])];
    this.outputSize = this.outputShape.slice(1).reduce((a, b) => a * b, 1);
  }

  predict(input, batch = 1) {
    if (!this.handle) throw new Error('the network was freed');
    const [h, w, c] = this.inputShape;
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
    if (input.length !== batch * h * w * c) throw new Error(`input has ${input.length} values, expected ${batch}x${h}x${w}x${c} = ${batch * h * w * c}`);
    const core = this.lab.core;
    const x = this.lab.copyIn(input instanceof Float32Array ? input : Float32Array.from(input));
    const y = core._malloc(batch * this.outputSize * 4);
    try {
      if (!y) throw new Error('out of memory for the output');
      if (!core._dl_api_net_run(this.handle, x, batch, y)) throw this.lab.error();
      return core.HEAPF32.slice(y >> 2, (y >> 2) + batch * this.outputSize);
    } finally { core._free(x); core._free(y); }
  }

  summary() {
    const core = this.lab.core;
    const text = this.lab.string(core._dl_api_net_summary(this.handle));
    const rows = [];
    for (const line of text.split('\n')) {       // " name (Class)   (None, ...)   1,234   inputs"
      const m = /^ (\S+) \((\w+)\)\s+(\(None[^)]*\))\s+([\d,]+)\s*(.*)$/.exec(line);
      if (m) rows.push({ name: m[1], className: m[2], outputShape: m[3], params: Number(m[4].replace(/,/g, '')), connectedTo: m[5] ? m[5].split(', ') : [] });
    }
    const totalParams = core._dl_api_net_params(this.handle, 0), trainableParams = core._dl_api_net_params(this.handle, 1);
    return { text, rows, totalParams, trainableParams, nonTrainableParams: totalParams - trainableParams };
  }

  free() { if (this.handle) this.lab.core._dl_api_net_free(this.handle); this.handle = 0; }
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

  check(x, n) {
    if (!this.handle) throw new Error('the classifier was freed');
    if (x.length !== n * this.numFeatures) throw new Error(`expected ${n} x ${this.numFeatures} features, got ${x.length} values`);
  }

  // -> { labels: Int32Array(n), scores: Float32Array(n x classes) }
  predict(x, n) {
    this.check(x, n);
    const core = this.lab.core, k = this.numClasses;
    const px = this.lab.copyIn(Float32Array.from(x)), labels = core._malloc(n * 4), scores = core._malloc(n * k * 4);
    try {
      if (!core._dl_api_classifier_predict(this.handle, px, n, labels, scores)) throw this.lab.error();
      return { labels: core.HEAP32.slice(labels >> 2, (labels >> 2) + n), scores: core.HEAPF32.slice(scores >> 2, (scores >> 2) + n * k) };
    } finally { core._free(px); core._free(labels); core._free(scores); }
  }

  // -> { accuracy, confusion: k x k array (rows: truth), predictions: Int32Array }
  evaluate(x, y, n) {
    this.check(x, n);
    const core = this.lab.core, k = this.numClasses;
    const px = this.lab.copyIn(Float32Array.from(x)), py = this.lab.copyIn(Int32Array.from(y));
    const acc = core._malloc(8), cm = core._malloc(k * k * 4), pred = core._malloc(n * 4);
    try {
      if (!core._dl_api_evaluate(this.handle, px, py, n, acc, cm, pred)) throw this.lab.error();
      const flat = core.HEAP32.slice(cm >> 2, (cm >> 2) + k * k);
      return {
        accuracy: core.HEAPF64[acc >> 3],
        confusion: Array.from({ length: k }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k))),
        predictions: core.HEAP32.slice(pred >> 2, (pred >> 2) + n),
      };
    } finally { [px, py, acc, cm, pred].forEach((p) => core._free(p)); }
  }

  // The classifier as a file (DLCLASS1) to download and load again.
  save() {
    const core = this.lab.core, size = core._malloc(8);
    try {
      const buf = core._dl_api_classifier_save(this.handle, size);
      if (!buf) throw this.lab.error();
      const n = core.HEAPU32[size >> 2];
      const bytes = core.HEAPU8.slice(buf, buf + n);
      core._free(buf);
      return bytes;
    } finally { core._free(size); }
  }

  free() { if (this.handle) this.lab.core._dl_api_classifier_free(this.handle); this.handle = 0; }
}
