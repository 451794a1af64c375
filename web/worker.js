// DenseLab inference worker (module worker): owns the WASM instance so the page never freezes.
// Messages in:  { id, cmd, ...args }     Messages out: { id, ok: true, result } | { id, ok: false, error }
//   start    {}                              -> { heapBytes }   (compiles the WASM core)
//   init     { model: ArrayBuffer (.dlm), labels: string (class index JSON) } -> { heapBytes }
//   build    { options: { includeTop, weights, inputShape, pooling, classes } } -> model description
//   summary  {}                              -> net.summary() of the current model
//   classify { bytes: ArrayBuffer (image file) } -> input, output, top-5, feature map (include_top=False)
// Requests are handled strictly one at a time, in arrival order.
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';

const DEFAULT_SIZE = 224; // Keras' default_size for DenseNet when input_shape leaves h, w open
let lab = null;
let file = null;
let net = null;          // the model as the user configured it
let featureNet = null;   // include_top=False with pooling: the same model without pooling, to show the feature map
let options = null;

function freeNets() {
  if (net) net.free();
  if (featureNet) featureNet.free();
  net = featureNet = null;
}

function keyOf(o) {
  return JSON.stringify([o.includeTop, o.weights, o.inputShape, o.pooling, o.classes]);
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
    const n = lab.buildNet(file, o);
    const f = !o.includeTop && o.pooling ? lab.buildNet(file, { ...o, pooling: null }) : null;
    freeNets();
    net = n;
    featureNet = f;
    options = o;
  }
  const s = net.summary();
  return {
    options,
    inputShape: net.inputShape,
    inputChannels: net.inputChannels ?? net.inputShape[2],
    outputShape: net.outputShape,
    totalParams: s.totalParams,
    trainableParams: s.trainableParams,
    nonTrainableParams: s.nonTrainableParams,
  };
}

function summary() {
  const s = net.summary();
  return { text: s.text, rows: s.rows, totalParams: s.totalParams };
}

// DenseNet121's spatial downsampling (conv 7x7/2 pad 3, maxpool 3x3/2 pad 1, three 2x2/2 avg pools),
// used only when the model leaves h or w open (None).
function outSide(n) {
  let x = Math.floor((n - 1) / 2) + 1;
  x = Math.floor((x - 1) / 2) + 1;
  return Math.floor(Math.floor(Math.floor(x / 2) / 2) / 2);
}

function concreteShape(shape, h, w) {
  const s = shape.slice(1).map((d, i) => (d == null ? (i === 0 ? outSide(h) : i === 1 ? outSide(w) : d) : d));
  return [1, ...s];
}

function toNetInput(rgb, channels) {
  const x = lab.preprocessInput(rgb);
  if (channels !== 1) return x;
  // A 1-channel model gets the mean of the three preprocessed channels.
  const g = new Float32Array(x.length / 3);
  for (let i = 0; i < g.length; i++) g[i] = (x[3 * i] + x[3 * i + 1] + x[3 * i + 2]) / 3;
  return g;
}

function classify(bytes) {
  if (!net) throw new Error('no model built yet');
  const t0 = performance.now();
  const u8 = new Uint8Array(bytes);
  const [ih, iw] = net.inputShape;
  const h = ih ?? DEFAULT_SIZE;
  const w = iw ?? DEFAULT_SIZE;
  const img = lab.loadImg(u8, [h, w]);
  const channels = net.inputChannels ?? net.inputShape[2] ?? 3;
  const x = toNetInput(img.rgb, channels);
  const t1 = performance.now();
  const output = net.predict(x, 1);
  const t2 = performance.now();
  const outputShape = concreteShape(net.outputShape, h, w);

  let predictions = null;
  let formatted = null;
  if (options.includeTop) {
    if (output.length === 1000) {
      predictions = lab.decodePredictions(output, 5);
      formatted = lab.formatPredictions(output, 5); // takes the probabilities (as wasm/denselab.js does)
    } else {
      // A custom head has no ImageNet labels: rank class indices.
      predictions = Array.from(output, (prob, index) => ({ index, prob }))
        .sort((a, b) => b.prob - a.prob).slice(0, 5)
        .map((p) => ({ ...p, wnid: '', label: `class ${p.index}` }));
    }
  }

  let featureMap = null;
  let pooled = null;
  let featureMs = 0;
  if (!options.includeTop) {
    let fm = output;
    let fshape = outputShape;
    if (featureNet) {
      const t3 = performance.now();
      fm = featureNet.predict(x, 1);
      featureMs = performance.now() - t3;
      fshape = concreteShape(featureNet.outputShape, h, w);
    }
    featureMap = { h: fshape[1], w: fshape[2], c: fshape[3], data: fm };
    if (options.pooling) {
      pooled = output;
    } else {
      // What pooling='avg' would return: the mean over all positions, per channel.
      const { h: fh, w: fw, c } = featureMap;
      pooled = new Float32Array(c);
      for (let i = 0; i < fh * fw; i++) for (let k = 0; k < c; k++) pooled[k] += fm[i * c + k];
      for (let k = 0; k < c; k++) pooled[k] /= fh * fw;
    }
  }

  return {
    input: { rgb: img.rgb, width: img.width, height: img.height, channels,
      originalWidth: img.originalWidth, originalHeight: img.originalHeight },
    outputShape,
    predictions,
    formatted,
    featureMap,
    pooled,
    prepMs: t1 - t0,
    inferenceMs: t2 - t1,
    featureMs,
    totalMs: performance.now() - t0,
    heapBytes: lab.heapBytes(),
  };
}

// Compiles the WASM core; the page sends this first so it overlaps the model download.
async function start() {
  if (!lab) {
    const resp = await fetch(new URL('./denselab_core.wasm', import.meta.url));
    if (!resp.ok) throw new Error(`could not load denselab_core.wasm: HTTP ${resp.status}`);
    lab = await createDenseLab({ wasmBinary: new Uint8Array(await resp.arrayBuffer()) });
  }
  return { heapBytes: lab.heapBytes() };
}

async function init({ model, labels }) {
  await start();
  if (file) {
    freeNets();
    file.free();
    file = null;
  }
  file = lab.loadModelFile(new Uint8Array(model));
  lab.loadClassIndex(labels);
  options = null;
  return { heapBytes: lab.heapBytes() };
}

const handlers = { start, init, build: (m) => build(m.options), summary, classify: (m) => classify(m.bytes) };

// Big typed arrays go back by transfer, not by copy.
function transferables(result) {
  const list = [];
  const add = (a) => { if (a && a.buffer instanceof ArrayBuffer && !list.includes(a.buffer)) list.push(a.buffer); };
  if (result && typeof result === 'object') {
    if (result.input) add(result.input.rgb);
    if (result.featureMap) add(result.featureMap.data);
    add(result.pooled);
  }
  return list;
}

serve(handlers, { setup: ['init', 'start'], isReady: () => !!lab, notReady: 'the model is not loaded yet', transfer: transferables });
