// DenseLab inference worker (module worker): owns the WASM instance so the page never freezes.
// Messages in:  { id, cmd, ...args }     Messages out: { id, ok: true, result } | { id, ok: false, error }
//   start    { threads }                     -> { threads, why } (compiles the WASM core: the threaded
//                                               build when crossOriginIsolated and threads > 1)
//   init     { model: ArrayBuffer (.dlm), labels: string (class index JSON) } -> {}
//   build    { options: { includeTop, weights, inputShape, pooling, classes, grayToRgb } } -> model description
//   summary  {}                              -> { text }: model.summary() of the current model
//   prepare  { photoId, bytes: ArrayBuffer (image file) } -> {}: decodes and preprocesses it ahead
//   classify { photoId, bytes } -> input, output, top-5, feature map (include_top=False); the input
//                                               prepared for photoId if the network is the same one
//                                               (else bytes are decoded now)
//   warmUp   {}                              -> { ms }: one inference on a blank image (see warmUp)
// Requests are handled strictly one at a time, in arrival order.
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { withBrowserFallback } from './browser-decode.js';

let lab = null;
let file = null;
// The one network in memory. With include_top=False and pooling, it is built without the
// pooling layer: its output is the feature map the page shows, and lab.globalPool() gives the
// configured model's output from it, so the image runs once.
let net = null;
let options = null;      // the model as the user configured it
let model = null;        // ... and its description: shapes, parameters, summary text
let prepared = null;     // the input of photo prepared.photoId for this network, decoded ahead (prepare)

const keyOf = (o) => JSON.stringify([o.includeTop, o.weights, o.inputShape, o.pooling, o.classes, o.grayToRgb]);

function describe(n, o) {
  const s = n.summary();
  return {
    options: o,
    outputShape: n.outputShape,
    kerasOutputShape: n.kerasOutputShape,   // None (null) where the model takes any size
    totalParams: s.totalParams,
    trainableParams: s.trainableParams,
    nonTrainableParams: s.nonTrainableParams,
    text: s.text,
  };
}

function freeNet() {
  if (net) net.free();
  net = null;
  options = model = prepared = null;   // a prepared input is for the network it was made for
}

function build(opts) {
  const o = {
    includeTop: !!opts.includeTop,
    weights: opts.weights === 'imagenet' ? 'imagenet' : null,
    inputShape: opts.inputShape || null,
    pooling: opts.pooling || null,
    classes: opts.classes ?? 1000,
    grayToRgb: !!opts.grayToRgb,
    seed: 1,
  };
  if (!options || keyOf(options) !== keyOf(o)) {
    // Build first, so an invalid combination leaves the previous model in place.
    let n = lab.buildNet(file, o);
    freeNet();
    const described = describe(n, o);
    if (!o.includeTop && o.pooling) {
      // The configured model was built only to be checked and described: one copy of the
      // packed weights at a time.
      n.free();
      n = lab.buildNet(file, { ...o, pooling: null });
    }
    net = n;
    options = o;
    model = described;
  }
  const { text, ...info } = model;
  return info;
}

function summary() {
  if (!model) throw new Error('no model built yet');
  return { text: model.text };
}

// (None, ...) -> the shape of one image's output, (1, ...). The C core builds every network at a
// concrete input size (Keras's 224 where input_shape leaves it open), so no dimension is None.
const oneImage = (shape) => [1, ...shape.slice(1)];

// A 1-channel model gets the mean of the three preprocessed channels; other counts (weights=None
// builds any) get the preprocessed channels, then constant 1s (an opaque alpha channel).
function toNetInput(rgb, channels) {
  const x = lab.preprocessInput(rgb);
  if (channels === 3) return x;
  const n = x.length / 3, out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < channels; k++) {
      out[i * channels + k] = channels === 1 ? (x[3 * i] + x[3 * i + 1] + x[3 * i + 2]) / 3 : k < 3 ? x[3 * i + k] : 1;
    }
  }
  return out;
}

// decode_predictions, or Keras's error when it would raise one (a head of other than 1000 classes).
function topPredictions(output) {
  try {
    lab.checkDecodePredictions(1, output.length);
  } catch (e) {
    return { predictions: null, formatted: null, decodeError: e.message };
  }
  return { predictions: lab.decodePredictions(output, 5), formatted: lab.formatPredictions(output, 5), decodeError: null };
}

// The network's input from an image file, for the network built now.
async function netInput(bytes) {
  const t0 = performance.now();
  const [h, w, channels] = net.inputShape;
  // load_img through stb; what stb cannot read (WebP, AVIF) the browser decodes.
  const { result: img, decodedBy } = await withBrowserFallback(bytes, (b) => lab.loadImg(b, [h, w]));
  const x = toNetInput(img.rgb, channels);
  const t1 = performance.now();
  // User Timing: a DevTools or CDP trace shows it beside the page's own work.
  performance.measure('denselab: decode + resize + preprocess', { start: t0, end: t1 });
  return { img, x, decodedBy, prepMs: t1 - t0 };
}

// The page sends the photo here as soon as it has the file, so that decoding it (a 12 MP
// photo: longer than the inference) runs while the page decodes and paints it itself.
async function prepare({ photoId, bytes }) {
  if (!net) throw new Error('no model built yet');
  prepared = null;       // a photo that fails to decode leaves none
  prepared = { photoId, ...(await netInput(bytes)) };
  return {};
}

async function classify({ photoId, bytes }) {
  if (!net) throw new Error('no model built yet');
  const ahead = prepared?.photoId === photoId ? prepared : null;
  prepared = null;   // its buffers go to the page below
  const { img, x, decodedBy, prepMs } = ahead ?? await netInput(bytes);
  const channels = net.inputShape[2];
  const t1 = performance.now();
  const output = net.predict(x, 1);
  const t2 = performance.now();
  performance.measure('denselab: predict', { start: t1, end: t2 });
  performance.clearMeasures();     // the trace has them; the worker keeps none

  let top = { predictions: null, formatted: null, decodeError: null }, featureMap = null, pooled = null;
  if (options.includeTop) {
    top = topPredictions(output);
  } else {
    const [, fh, fw, fc] = oneImage(net.outputShape);
    featureMap = { h: fh, w: fw, c: fc, data: output };
    // The configured pooling's output, or what pooling='avg' would give.
    pooled = lab.globalPool(output, fh * fw, fc, options.pooling === 'max' ? 'max' : 'avg');
  }

  return {
    input: { rgb: img.rgb, width: img.width, height: img.height, channels,
      originalWidth: img.originalWidth, originalHeight: img.originalHeight },
    outputShape: oneImage(model.outputShape),
    ...top,
    featureMap,
    pooled,
    decodedBy,
    prepMs,
    preparedAhead: !!ahead,
    inferenceMs: t2 - t1,
  };
}

// V8 first runs WebAssembly as baseline code and compiles a function optimised (TurboFan, on a
// background thread) only once it has run enough: the first photo took 1.4-3x the median, and the
// compile jobs (up to 6 ms of CPU each) fell inside the next few inferences, taking a core from a
// 2-thread run. One inference on a blank image right after loading moves both before the user's photo.
function warmUp() {
  if (!net) return { ms: 0 };
  const t0 = performance.now();
  net.predict(new Float32Array(net.inputShape.reduce((a, b) => a * b, 1)), 1);
  return { ms: performance.now() - t0 };
}

// Threads for one image: the threaded build needs shared memory, which only a
// crossOriginIsolated page (and its workers) has; otherwise one thread.
let mode = { threads: 1, why: '' };

// The bytes of one build of the WASM core, from beside this worker.
async function wasmBytes(name) {
  const resp = await fetch(new URL(`./${name}`, import.meta.url));
  if (!resp.ok) throw new Error(`could not load ${name}: HTTP ${resp.status}`);
  return new Uint8Array(await resp.arrayBuffer());
}

// Compiles the WASM core; the page sends this first so it overlaps the model download.
async function start({ threads = 1 } = {}) {
  if (!lab) {
    const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
    // Firefox (ESR 153 here) fails the page's service-worker fetches (NS_ERROR_INTERCEPTION_FAILED)
    // once the threaded build's workers run: one thread there until that is understood.
    const firefox = typeof navigator !== 'undefined' && /Firefox\//.test(navigator.userAgent);
    let t = isolated && !firefox ? Math.max(1, Math.min(threads | 0, 64)) : 1;
    const wasm = t > 1 ? 'denselab_core_mt.wasm' : 'denselab_core.wasm';
    const wasmBinary = await wasmBytes(wasm);
    let why = !isolated ? 'the page is not cross-origin isolated (no COOP/COEP headers yet), so there is no shared memory for threads'
      : firefox ? 'in Firefox the threaded build breaks the offline cache\'s downloads, so DenseLab uses one thread there'
      : t === 1 ? 'one thread was asked for' : 'the page is cross-origin isolated';
    try {
      lab = await createDenseLab({ wasmBinary, threads: t });
    } catch (e) {      // e.g. no memory for the workers: the single-threaded build still works
      if (t === 1) throw e;
      why = `the threaded build failed to start (${e.message})`;
      t = 1;
      lab = await createDenseLab({ wasmBinary: await wasmBytes('denselab_core.wasm') });
    }
    mode = { threads: t, why };
  }
  return mode;
}

async function init({ model: bytes, labels }) {
  await start({ threads: 1 });          // already started by 'start' (the page sends it first)
  freeNet();
  if (file) file.free();
  file = null;
  file = lab.loadModelFile(new Uint8Array(bytes));
  lab.loadClassIndex(labels);
  return {};
}

const handlers = { start, init, build: (m) => build(m.options), summary, prepare, classify, warmUp };

// Big typed arrays go back by transfer, not by copy.
const transfer = (r) => [r?.input?.rgb?.buffer, r?.featureMap?.data?.buffer, r?.pooled?.buffer].filter(Boolean);

serve(handlers, { setup: ['init', 'start'], isReady: () => !!lab, notReady: 'the model is not loaded yet', transfer });
