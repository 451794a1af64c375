// DenseLab feature-extraction worker (module worker, one WASM instance): the Fashion-MNIST
// page runs a pool of these. Messages in: { id, cmd, ... }; out: { id, ok: true, result } |
// { id, ok: false, error } and, during a batch, { id, progress: imagesDone }.
//   init  { wasm: ArrayBuffer, modelUrl (.dlm, fetched here: the page keeps no copy), checksum (the
//         page's, checked), size: S } -> { checksum }
//   batch { images: Uint8Array (count x h x w gray), w, h, count }  -> { features: Float32Array(count x 1024)
//         (transferred), heapBytes: this worker's WASM memory after it (bounded: it does not grow with the batches) }
//   photo { bytes: ArrayBuffer (image file), invert }              -> { features, gray28 (28x28 pixels), width, height, decodedBy }
//   open  { wasm, model: ArrayBuffer (.dlm), idx: [train images, train labels, test images, test labels] (gunzipped) }
//         -> { checksum (the model's), splits: { train, test } (parseSplit's, transferred) }: the page's loading
//         step, in a worker it ends afterwards, so that the heap it took (the model and the files copied in) goes
// A batch runs to completion: the page cancels by terminating the worker.
import { serve } from './worker-rpc.js';
import { createDenseLab, release } from './denselab.js';
import { featureNet, parseSplit, rgbToGray } from './experiment.js';
import { withBrowserFallback } from './browser-decode.js';

let lab = null, file = null, net = null;

// The model's JS copy goes as soon as it is in the heap: this worker holds the model once.
async function init({ wasm, modelUrl, checksum, size: s }) {
  if (!lab) lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  if (net) net.free();
  if (file) file.free();
  net = null;
  const response = await fetch(modelUrl);
  if (!response.ok) throw new Error(`could not download ${modelUrl}: HTTP ${response.status}`);
  const model = new Uint8Array(await response.arrayBuffer());
  file = lab.loadModelFile(model);
  release(model);
  if (checksum !== undefined && file.checksum !== checksum) throw new Error(`${modelUrl} changed on the server since the page loaded it: reload the page`);
  net = featureNet(lab, file, s);
  return { checksum: file.checksum };
}

function batch({ id, images, w, h, count }) {
  let last = 0;
  const onProgress = (phase, done) => {
    if (done - last >= 8 || done === count) { last = done; self.postMessage({ id, progress: done }); }
    return false;
  };
  const features = lab.grayFeatures(net, images, w, h, count, { batch: 32, onProgress });
  return { features, heapBytes: lab.heapBytes() };
}

// A photo of clothing through the experiment's path: decode -> gray (PIL 'L') -> (inverted
// if asked: Fashion-MNIST items are light on a dark background) -> features at S x S;
// and the same gray photo at 28 x 28 for the raw-pixel classifier.
// What stb cannot read (WebP, AVIF) the browser decodes (decodedBy names the format).
async function photo({ bytes, invert }) {
  const { result: [full, small], decodedBy } = await withBrowserFallback(bytes, (b) => [lab.loadImg(b), lab.loadImg(b, [28, 28])]);
  const gray = rgbToGray(full.rgb), gray28 = rgbToGray(small.rgb);
  if (invert) { for (const g of [gray, gray28]) for (let i = 0; i < g.length; i++) g[i] = 255 - g[i]; }
  const features = lab.grayFeatures(net, gray, full.width, full.height, 1, { batch: 1 });
  return { features, gray28, width: full.width, height: full.height, decodedBy };
}

async function open({ wasm, model, idx }) {
  lab ??= await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  const f = lab.loadModelFile(new Uint8Array(model));   // verifies the model's checksum
  f.free();
  const [trainImages, trainLabels, testImages, testLabels] = idx.map((b) => new Uint8Array(b));
  const splits = { train: parseSplit(lab, 'train', trainImages, trainLabels), test: parseSplit(lab, 'test', testImages, testLabels) };
  return { checksum: f.checksum, splits };
}

const handlers = { init, batch, photo, open };

// For bench/tab_experiment.js's memory breakdown: this worker's WASM memory (it never shrinks).
self.__denselabMemory = () => ({ wasmBytes: lab ? lab.heapBytes() : 0, role: 'features' });

serve(handlers, {
  setup: ['init', 'open'], isReady: () => !!net, notReady: 'the feature worker is not initialised',
  transfer: (r) => (r?.features ? [r.features.buffer] : r?.splits ? Object.values(r.splits).flatMap((s) => [s.images.buffer, s.labels.buffer]) : []),
});
