// DenseLab feature-extraction worker (module worker, one WASM instance): the Fashion-MNIST
// page runs a pool of these. Messages in: { id, cmd, ... }; out: { id, ok: true, result } |
// { id, ok: false, error } and, during a batch, { id, progress: imagesDone }.
//   init  { wasm: ArrayBuffer, model: ArrayBuffer (.dlm), size: S } -> { checksum }
//   batch { images: Uint8Array (count x h x w gray), w, h, count, block }  -> { features: Float32Array(count x 1024)
//         (transferred), heapBytes: this worker's WASM memory after it (bounded: it does not grow with the batches);
//         block: also each image's conv5_block1 input from the same runs (fine-tuning's rows), transferred }
//   photo { bytes: ArrayBuffer (image file), invert, block }       -> { features, block, gray28 (28x28 pixels), width, height, decodedBy }
// A batch runs to completion: the page cancels by terminating the worker.
import { serve } from './worker-rpc.js';
import { createDenseLab } from './denselab.js';
import { featureNet, rgbToGray } from './experiment.js';
import { withBrowserFallback } from './browser-decode.js';

let lab = null, file = null, net = null;

async function init({ wasm, model, size: s }) {
  if (!lab) lab = await createDenseLab({ wasmBinary: new Uint8Array(wasm) });
  if (net) net.free();
  if (file) file.free();
  net = null;
  file = lab.loadModelFile(new Uint8Array(model));
  net = featureNet(lab, file, s);
  return { checksum: file.checksum };
}

// The features (and with block, conv5_block1's input) of count images: one network run each.
const run = (images, w, h, count, options, block) => (block
  ? lab.grayFeaturesAndBlock(net, images, w, h, count, options)
  : { features: lab.grayFeatures(net, images, w, h, count, options), block: null });

function batch({ id, images, w, h, count, block }) {
  let last = 0;
  const onProgress = (phase, done) => {
    if (done - last >= 8 || done === count) { last = done; self.postMessage({ id, progress: done }); }
    return false;
  };
  const r = run(images, w, h, count, { batch: 32, onProgress }, block);
  return { features: r.features, block: r.block, heapBytes: lab.heapBytes() };
}

// A photo of clothing through the experiment's path: decode -> gray (PIL 'L') -> (inverted
// if asked: Fashion-MNIST items are light on a dark background) -> features at S x S;
// and the same gray photo at 28 x 28 for the raw-pixel classifier.
// What stb cannot read (WebP, AVIF) the browser decodes (decodedBy names the format).
async function photo({ bytes, invert, block }) {
  const { result: [full, small], decodedBy } = await withBrowserFallback(bytes, (b) => [lab.loadImg(b), lab.loadImg(b, [28, 28])]);
  const gray = rgbToGray(full.rgb), gray28 = rgbToGray(small.rgb);
  if (invert) { for (const g of [gray, gray28]) for (let i = 0; i < g.length; i++) g[i] = 255 - g[i]; }
  const r = run(gray, full.width, full.height, 1, { batch: 1 }, block);
  return { features: r.features, block: r.block, gray28, width: full.width, height: full.height, decodedBy };
}

const handlers = { init, batch, photo };

serve(handlers, {
  setup: ['init'], isReady: () => !!net, notReady: 'the feature worker is not initialised',
  transfer: (r) => [r?.features?.buffer, r?.block?.buffer].filter(Boolean),
});
