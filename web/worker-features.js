// DenseLab feature-extraction worker (module worker, one WASM instance): the Fashion-MNIST
// page runs a pool of these. Messages in: { id, cmd, ... }; out: { id, ok: true, result } |
// { id, ok: false, error } and, during a batch, { id, progress: imagesDone }.
//   init  { wasm: ArrayBuffer or WebAssembly.Module (compiled once by the page, shared), modelUrl (.dlm, fetched here: the page keeps no copy), checksum (the
//         page's, checked), size: S } -> { checksum }
//   batch { images: Uint8Array (count x h x w gray), w, h, count, block }  -> { features: Float32Array(count x 1024)
//         (transferred), heapBytes: this worker's WASM memory after it (bounded: it does not grow with the batches);
//         block: also each image's conv5_block1 input from the same runs (fine-tuning's rows), transferred }
//   photo { bytes: ArrayBuffer (image file), invert, block }       -> { features, block, gray28 (28x28 pixels), width, height, decodedBy }
//   open  { wasm, modelUrl, idxUrls: [train images, train labels, test images, test labels] (.gz) }
//         -> { checksum (the model's), splits: { train, test } (parseSplit's, transferred) }; during it, progress
//         { file (0: the model, 1..4: idxUrls), got, total } per chunk downloaded, then { unpacking: true }: the page's
//         loading step, in a worker it ends afterwards, so that the heap it took (the model and the files copied in)
//         and the download buffers go
// A batch runs to completion: the page cancels by terminating the worker.
import { serve } from './worker-rpc.js';
import { createDenseLab, release } from './denselab.js';
import { fetchModelFile } from './fetch-model.js';
import { featureNet, parseSplit, rgbToGray } from './experiment.js';
import { withBrowserFallback } from './browser-decode.js';
import { download, fetchOk } from './loading.js';

let lab = null, file = null, net = null;

const startLab = (wasm) => createDenseLab(wasm instanceof WebAssembly.Module ? { wasmModule: wasm } : { wasmBinary: new Uint8Array(wasm) });

async function init({ wasm, modelUrl, checksum, size: s }) {
  lab ??= await startLab(wasm);
  if (net) net.free();
  if (file) file.free();
  net = file = null;
  file = await fetchModelFile(lab, modelUrl, checksum);
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

// The bytes an IDX file of unsigned bytes states in its header (0, 0, 0x08, ndims, then ndims big-endian
// uint32 sizes), or 0 while the header is not all in; at most MAX_IDX_BYTES. Only to size the buffer:
// the C parser checks the file.
const MAX_IDX_BYTES = 2 ** 30;
function idxBytes(head, name) {
  if (head.length < 4) return 0;
  if (head[0] || head[1] || head[2] !== 0x08 || head[3] < 1 || head[3] > 3) throw new Error(`${name}: not an IDX file of unsigned bytes`);
  const header = 4 + 4 * head[3];
  if (head.length < header) return 0;
  let bytes = 1;
  for (let at = 4; at < header; at += 4) bytes *= new DataView(head.buffer, head.byteOffset + at, 4).getUint32(0);
  if (header + bytes > MAX_IDX_BYTES) throw new Error(`${name}: its header states ${header + bytes} bytes, more than ${MAX_IDX_BYTES}`);
  return header + bytes;
}

// An IDX file (.gz) downloaded and unpacked as it streams (DecompressionStream) into one buffer of the
// size its header states: neither the compressed file nor the unpacked chunks are held.
// onBytes(received, total) counts the compressed bytes.
async function downloadIdx(url, onBytes) {
  const resp = await fetchOk(url);
  const total = resp.headers.get('Content-Encoding') ? 0 : Number(resp.headers.get('Content-Length')) || 0;
  let received = 0;
  const counted = new TransformStream({ transform(chunk, c) { received += chunk.length; onBytes(received, total); c.enqueue(chunk); } });
  const reader = resp.body.pipeThrough(counted).pipeThrough(new DecompressionStream('gzip')).getReader();
  let head = new Uint8Array(0), out = null, at = 0;
  const longer = () => new Error(`${url}: longer than its IDX header says (${out.length} bytes)`);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (out) {
        if (at + value.length > out.length) throw longer();
        out.set(value, at);
        at += value.length;
      } else {   // the header may span chunks: the first bytes are kept until it is whole
        const joined = new Uint8Array(head.length + value.length);
        joined.set(head);
        joined.set(value, head.length);
        head = joined;
        const bytes = idxBytes(head, url);
        if (bytes) {
          out = new Uint8Array(bytes);
          if (head.length > bytes) throw longer();
          out.set(head);
          at = head.length;
        }
      }
      release(value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e.message.startsWith(url) ? e : new Error(`${url}: corrupt or truncated gzip (${e.message})`);
  }
  if (!out || at !== out.length) throw new Error(`${url}: truncated (${out ? `${at} of the ${out.length} bytes its header states` : 'not even an IDX header'})`);
  return out;
}

// The page's loading step, in a worker it ends afterwards. One file at a time, each dropped as soon as
// it is used: the model (loaded, which checks it, then freed: the page needs its checksum only), then
// the four IDX files.
async function open({ id, wasm, modelUrl, idxUrls }) {
  lab ??= await startLab(wasm);
  const progress = (file) => (got, total) => self.postMessage({ id, progress: { file, got, total } });
  const model = await download(modelUrl, progress(0));
  const f = lab.loadModelFile(model);   // verifies the model's checksum
  f.free();
  release(model);
  const files = [];
  for (const [i, url] of idxUrls.entries()) files.push(await downloadIdx(url, progress(i + 1)));
  self.postMessage({ id, progress: { unpacking: true } });
  const [trainImages, trainLabels, testImages, testLabels] = files;
  const splits = { train: parseSplit(lab, 'train', trainImages, trainLabels), test: parseSplit(lab, 'test', testImages, testLabels) };
  release(...files);
  return { checksum: f.checksum, splits };
}

const handlers = { init, batch, photo, open };

// For bench/tab_experiment.js's memory breakdown: this worker's WASM memory (it never shrinks).
self.__denselabMemory = () => ({ wasmBytes: lab ? lab.heapBytes() : 0, role: 'features' });

serve(handlers, {
  setup: ['init', 'open'], isReady: () => !!net, notReady: 'the feature worker is not initialised',
  transfer: (r) => (r?.features ? [r.features.buffer, r.block?.buffer].filter(Boolean) : r?.splits ? Object.values(r.splits).flatMap((s) => [s.images.buffer, s.labels.buffer]) : []),
});
