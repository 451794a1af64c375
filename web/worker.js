// DenseLab inference worker (module worker): owns the WASM instance so the page never freezes.
// Messages in:  { id, cmd, ...args }     Messages out: { id, ok: true, result } | { id, ok: false, error }
//   start    { threads }                     -> { threads, why } (compiles the WASM core: the threaded
//                                               build when crossOriginIsolated and threads > 1)
//   init     { model: ArrayBuffer (.dlm), labels: string (class index JSON) } -> {}
//   build    { options: { includeTop, weights, inputShape, pooling, classes } } -> model description
//   summary  {}                              -> { text }: model.summary() of the current model
//   classify { bytes: ArrayBuffer (image file) } -> input, output, top-5, feature map (include_top=False)
// Requests are handled strictly one at a time, in arrival order.
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';

let lab = null;
let file = null;
// The one network in memory. With include_top=False and pooling, it is built without the
// pooling layer: its output is the feature map the page shows, and lab.globalPool() gives the
// configured model's output from it, so the image runs once.
let net = null;
let options = null;      // the model as the user configured it
let model = null;        // ... and its description: shapes, parameters, summary text

const keyOf = (o) => JSON.stringify([o.includeTop, o.weights, o.inputShape, o.pooling, o.classes]);

function describe(n, o) {
  const s = n.summary();
  return {
    options: o,
    outputShape: n.outputShape,
    totalParams: s.totalParams,
    trainableParams: s.trainableParams,
    nonTrainableParams: s.nonTrainableParams,
    text: s.text,
  };
}

function freeNet() {
  if (net) net.free();
  net = null;
  options = model = null;
}

function build(opts) {
  const o = {
    includeTop: !!opts.includeTop,
    weights: opts.weights === 'imagenet' ? 'imagenet' : null,
    inputShape: opts.inputShape || null,
    pooling: opts.pooling || null,
    classes: opts.classes ?? 1000,
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

function toNetInput(rgb, channels) {
  const x = lab.preprocessInput(rgb);
  if (channels !== 1) return x;
  // A 1-channel model gets the mean of the three preprocessed channels.
  const g = new Float32Array(x.length / 3);
  for (let i = 0; i < g.length; i++) g[i] = (x[3 * i] + x[3 * i + 1] + x[3 * i + 2]) / 3;
  return g;
}

function topPredictions(output) {
  if (output.length === 1000) {
    // formatPredictions takes the probabilities, as wasm/denselab.js does.
    return { predictions: lab.decodePredictions(output, 5), formatted: lab.formatPredictions(output, 5) };
  }
  // A custom head has no ImageNet labels: rank class indices.
  const predictions = Array.from(output, (prob, index) => ({ index, prob }))
    .sort((a, b) => b.prob - a.prob).slice(0, 5)
    .map((p) => ({ ...p, wnid: '', label: `class ${p.index}` }));
  return { predictions, formatted: null };
}

function classify(bytes) {
  if (!net) throw new Error('no model built yet');
  const t0 = performance.now();
  const [h, w, channels] = net.inputShape;
  const img = lab.loadImg(new Uint8Array(bytes), [h, w]);
  const x = toNetInput(img.rgb, channels);
  const t1 = performance.now();
  const output = net.predict(x, 1);
  const t2 = performance.now();

  let top = { predictions: null, formatted: null }, featureMap = null, pooled = null;
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
    prepMs: t1 - t0,
    inferenceMs: t2 - t1,
  };
}

// Threads for one image: the threaded build needs shared memory, which only a
// crossOriginIsolated page (and its workers) has; otherwise one thread.
let mode = { threads: 1, why: '' };

// Compiles the WASM core; the page sends this first so it overlaps the model download.
async function start({ threads = 1 } = {}) {
  if (!lab) {
    const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
    let t = isolated ? Math.max(1, Math.min(threads | 0, 64)) : 1;
    const wasm = t > 1 ? 'denselab_core_mt.wasm' : 'denselab_core.wasm';
    const resp = await fetch(new URL(`./${wasm}`, import.meta.url));
    if (!resp.ok) throw new Error(`could not load ${wasm}: HTTP ${resp.status}`);
    const wasmBinary = new Uint8Array(await resp.arrayBuffer());
    let why = !isolated ? 'the page is not cross-origin isolated (no COOP/COEP headers yet), so there is no shared memory for threads'
      : t === 1 ? 'one thread was asked for' : 'the page is cross-origin isolated';
    try {
      lab = await createDenseLab({ wasmBinary, threads: t });
    } catch (e) {      // e.g. no memory for the workers: the single-threaded build still works
      if (t === 1) throw e;
      why = `the threaded build failed to start (${e.message})`;
      t = 1;
      const r = await fetch(new URL('./denselab_core.wasm', import.meta.url));
      lab = await createDenseLab({ wasmBinary: new Uint8Array(await r.arrayBuffer()) });
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

const handlers = { start: (m) => start(m), init, build: (m) => build(m.options), summary, classify: (m) => classify(m.bytes) };

// Big typed arrays go back by transfer, not by copy.
const transfer = (r) => [r?.input?.rgb?.buffer, r?.featureMap?.data?.buffer, r?.pooled?.buffer].filter(Boolean);

serve(handlers, { setup: ['init', 'start'], isReady: () => !!lab, notReady: 'the model is not loaded yet', transfer });
