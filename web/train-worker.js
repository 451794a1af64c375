// The "your own classes" worker (module worker, one WASM instance); web/train.html runs a pool.
// Messages as web/worker-rpc.js:
//   init     { wasm, modelUrl, checksum, size }    -> { checksum } (the model fetched here: web/fetch-model.js)
//   features { files: [ArrayBuffer] }              -> { features: Float32Array(n x 1024), errors: [reason|null], browser: [bool] }
//   frame    { rgba: ArrayBuffer(S x S x 4) }      -> { scores (the loaded classifier's), ms (this worker's time) }
//   score    { features }                          -> { scores } of the loaded classifier
//   kinds    {}                                    -> lab.classifierKinds()
//   classifier { bytes }                           -> {} (the classifier `frame` scores with; empty bytes: none)
//   train    { x, y, d, settings, classes }        -> { cv: {...}, classifier: Uint8Array (DLCLASS1) }
//   save     { settings, classes, classifier, images: [{ label, name, bytes }] } -> Uint8Array (DLPROJ01)
//   open     { bytes }                             -> { info, classifier, images: [{ label, name, bytes }] }
//   onnx     { settings, classes, classifier }     -> Uint8Array (the .onnx file: lab.exportOnnx)
// An image file stb decodes goes through Keras's load_img as on the CLIs; one it cannot (WebP,
// AVIF...) is decoded by the browser, re-encoded losslessly as PPM and then goes the same way.
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { fetchModelFile } from './fetch-model.js';
import { featureNet } from './experiment.js';
import { withBrowserFallback } from './browser-decode.js';
import { crossValidate, imageFeatures, rgbFeatures, trainProject } from './train-lib.js';

let lab = null, file = null, net = null, classifier = null;

async function init({ wasm, modelUrl, checksum, size }) {
  if (!lab) lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  net?.free(); file?.free();
  net = file = null;
  file = await fetchModelFile(lab, modelUrl, checksum);
  net = featureNet(lab, file, size);
  return { checksum: file.checksum };
}

async function features({ files }) {
  const out = new Float32Array(files.length * net.outputSize), errors = [], browser = [];
  for (const [i, buf] of files.entries()) {
    const bytes = new Uint8Array(buf);
    let f = null, err = null, viaBrowser = false;
    try {
      const r = await withBrowserFallback(bytes, (b) => imageFeatures(lab, net, b));
      f = r.result;
      viaBrowser = !!r.decodedBy;
    } catch (e) { err = e.message; }
    if (f) out.set(f, i * net.outputSize);
    errors.push(err);
    browser.push(viaBrowser);
  }
  return { features: out, errors, browser };
}

function setClassifier({ bytes }) {
  classifier?.free();
  classifier = bytes?.byteLength ? lab.loadClassifier(new Uint8Array(bytes)) : null;
  return {};
}

function score({ features: f }) {
  if (!classifier) throw new Error('no classifier: train or open a project first');
  return { scores: classifier.predict(f, 1).scores };
}

// A camera frame as the page's canvas read it back: the alpha goes here, off the page's thread.
function frame({ rgba }) {
  if (!classifier) throw new Error('no classifier: train or open a project first');
  const t0 = performance.now(), px = new Uint8Array(rgba), rgb = new Uint8Array(px.length / 4 * 3);
  for (let i = 0, j = 0; i < px.length; i += 4, j += 3) { rgb[j] = px[i]; rgb[j + 1] = px[i + 1]; rgb[j + 2] = px[i + 2]; }
  const scores = classifier.predict(rgbFeatures(lab, net, rgb), 1).scores;
  return { scores, ms: performance.now() - t0 };
}

function project(settings, classes) {
  return lab.newProject({ size: settings.size, cv: settings.cv, holdout: settings.holdout ?? 0, kind: settings.kind, params: settings.params, classes });
}

function train({ x, y, d, settings, classes }) {
  const p = project(settings, classes);
  try {
    const cv = crossValidate(p, x, y, d);
    trainProject(lab, p, x, y, d);
    return { cv, classifier: p.bytes(-1).bytes };
  } finally { p.free(); }
}

function save({ settings, classes, classifier: clf, images }) {
  const p = project(settings, classes);
  try {
    if (clf?.byteLength) p.setClassifier(new Uint8Array(clf));
    for (const im of images) p.addImage(im.label, im.name, new Uint8Array(im.bytes));
    return p.save();
  } finally { p.free(); }
}

function onnx({ settings, classes, classifier: clf }) {
  const p = project(settings, classes);
  try {
    p.setClassifier(new Uint8Array(clf));
    return lab.exportOnnx(file, { project: p }).bytes;
  } finally { p.free(); }
}

function open({ bytes }) {
  const p = lab.loadProject(new Uint8Array(bytes));
  try {
    const info = p.info();
    return { info, classifier: p.bytes(-1).bytes, images: info.imageNames.map((name, i) => ({ name, ...p.bytes(i) })) };
  } finally { p.free(); }
}

serve({ init, features, frame, score, classifier: setClassifier, train, save, open, onnx, kinds: () => lab.classifierKinds() }, {
  setup: ['init'], isReady: () => !!net, notReady: 'the worker is not initialised',
  transfer: (r) => (r?.features instanceof Float32Array ? [r.features.buffer] : []),
});
