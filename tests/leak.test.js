// leak.test.js — one WASM instance (wasm/denselab.js) does the same work over
// and over; the malloc'ed bytes in use (lab.heapUsed(), mallinfo) and the
// memory size (lab.heapBytes()) are read after every iteration and must not
// grow after the first few. Failing calls must not leak either and must leave
// the instance working. The figures go to build/reliability/leak.json for
// docs/reliability.md (tests/reliability/report.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { model, requireBuilt, root, shared } from './helpers.js';
import { createDenseLab } from '../wasm/denselab.js';
import { png, tinyModel } from './fuzz/make_seeds.js';

const core = path.join(root, 'build/wasm/wasm/denselab_core.mjs');
const wasm = path.join(root, 'build/wasm/wasm/denselab_core.wasm');
const labels = path.join(root, 'build/models/imagenet_class_index.json');
const WARMUP = 5;
const figures = {};

let ctx;
async function lab() {
  if (ctx) return ctx;
  requireBuilt(core, wasm, model, labels);
  const l = await createDenseLab({ wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
  l.loadClassIndex(fs.readFileSync(labels, 'utf8'));
  const file = l.loadModelFile(fs.readFileSync(model));
  ctx = { lab: l, file };
  return ctx;
}

// Runs fn(i) n times, sampling the heap after each; asserts it is flat after WARMUP.
function flat(name, l, n, fn) {
  const used = [], bytes = [];
  for (let i = 0; i < n; i++) {
    fn(i);
    used.push(l.heapUsed());
    bytes.push(l.heapBytes());
  }
  const base = used[WARMUP - 1], maxUsed = Math.max(...used.slice(WARMUP));
  figures[name] = {
    iterations: n, heap_used_first: used[0], heap_used_after_warmup: base, heap_used_last: used.at(-1),
    heap_used_max_after_warmup: maxUsed, memory_bytes_first: bytes[0], memory_bytes_last: bytes.at(-1),
  };
  const firstGrowth = used.findIndex((u, i) => i >= WARMUP && u > base);
  assert.equal(firstGrowth, -1, `${name}: bytes in use grew from ${base} to ${used[firstGrowth]} at iteration ${firstGrowth} (last ${used.at(-1)})`);
  assert.equal(bytes.at(-1), bytes[WARMUP - 1], `${name}: the memory grew from ${bytes[WARMUP - 1]} to ${bytes.at(-1)} bytes`);
}

function classify(l, net, bytes, size) {
  const x = l.preprocessInput(l.loadImg(bytes, size).rgb);
  return l.decodePredictions(net.predict(x), 5);
}

const sharedImages = ['cat_285.png', 'dog_207.png', 'zebra_340.png', 'cat.bmp', 'grace_hopper.bmp', 'hot_dog.jpg', 'face.jpg']
  .map((f) => fs.readFileSync(path.join(shared, 'images', f)));

test('1,000 classifications (decode, load_img, preprocess, predict, decode_predictions) keep the heap flat', async () => {
  const { lab: l, file } = await lab();
  // Same code paths as the 224x224 ImageNet network, 49x cheaper: random weights, 32x32 input.
  const net = l.buildNet(file, { weights: null, classes: 1000, includeTop: true, inputShape: [32, 32, 3] });
  const small = [png({ width: 40, height: 30 }), png({ width: 17, height: 61, colorType: 4 })];
  const inputs = [...sharedImages, ...small];
  try {
    flat('classify_32x32_random_weights', l, 1000, (i) => {
      const p = classify(l, net, inputs[i % inputs.length], [32, 32]);
      assert.equal(p.length, 5);
    });
  } finally { net.free(); }
});

test('20 ImageNet classifications at 224x224 keep the heap flat and stay correct', async () => {
  const { lab: l, file } = await lab();
  const net = l.buildNet(file);
  try {
    flat('classify_224x224_imagenet', l, 20, (i) => {
      const p = classify(l, net, sharedImages[i % 3], [224, 224]);
      assert.equal(p[0].label, ['tabby', 'golden_retriever', 'zebra'][i % 3]);
    });
  } finally { net.free(); }
});

test('repeated feature-extraction batches (grayFeatures, 32x32, pooling avg) keep the heap flat', async () => {
  const { lab: l, file } = await lab();
  const net = l.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const gray = Uint8Array.from({ length: 6 * 28 * 28 }, (_, i) => (i * 31 + (i >> 5)) & 255);
  let first;
  try {
    flat('gray_features_batches', l, 25, () => {
      const f = l.grayFeatures(net, gray, 28, 28, 6, { batch: 4 });
      assert.equal(f.length, 6 * 1024);
      first ??= f;
      assert.deepEqual(f, first);
    });
  } finally { net.free(); }
});

test('repeated fit / evaluate / save / load / free of a linear SVM keep the heap flat', async () => {
  const { lab: l } = await lab();
  const n = 120, d = 16;
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) + (y[Math.floor(i / d)] === i % d % 3 ? 2 : 0));
  flat('linear_svm_fit_evaluate', l, 60, () => {
    const c = l.fit('linear-svm', x, y, n, d, { C: 1 });
    const { accuracy } = c.evaluate(x, y, n);
    const again = l.loadClassifier(c.save());
    assert.deepEqual(again.predict(x, n).labels, c.predict(x, n).labels);
    again.free(); c.free();
    assert.ok(accuracy > 0.9, String(accuracy));
  });
});

test('errors do not leak: 1,000 failing decodes, 1,000 failing buildNet / loadModelFile; the instance still classifies', async () => {
  const { lab: l, file } = await lab();
  const cat = sharedImages[0];
  const junk = [
    Buffer.from('definitely not an image'),
    Buffer.from(Array.from({ length: 999 }, (_, i) => (i * 7919) & 255)),
    cat.subarray(0, 3000),                                  // truncated PNG: fails inside the decoder
    sharedImages[5].subarray(0, 6000),                      // truncated JPEG
    png({ width: 4, height: 4, declaredWidth: 60000, declaredHeight: 60000 }),
    Buffer.alloc(0),
  ];
  flat('failing_decodes', l, 1000, (i) => {
    assert.throws(() => l.loadImg(junk[i % junk.length], [32, 32]), /image|empty|truncated/);
  });
  const badArgs = [     // each with the reason it must give (Keras's words)
    [{ inputShape: [31, 32, 3], includeTop: false }, /Input size must be at least 32x32/],
    [{ classes: 10 }, /`classes` should be 1000/],
    [{ pooling: 'mean', includeTop: false }, /pooling must be None, 'avg' or 'max'/],
    [{ inputShape: [32, 32, 3] }, /should be \(224, 224, 3\)/],
    [{ weights: 'foo.h5' }, /The `weights` argument should be either/],
    [{ inputShape: [64, 64, 2], includeTop: false }, /must have 3 channels/],
  ];
  const tiny = tinyModel();
  const badTiny = Buffer.from(tiny);
  badTiny.writeUInt32LE(99, 64);                             // unknown layer type (checksum wrong too)
  const truncatedTiny = tiny.subarray(0, tiny.length - 100);
  flat('failing_build_and_load', l, 1000, (i) => {
    if (i % 3 === 0) assert.throws(() => l.loadModelFile(i % 2 ? badTiny : truncatedTiny), /model file/);
    else assert.throws(() => l.buildNet(file, badArgs[i % badArgs.length][0]), badArgs[i % badArgs.length][1]);
  });
  const net = l.buildNet(file);
  try {
    assert.equal(classify(l, net, cat, [224, 224])[0].label, 'tabby');
  } finally { net.free(); }
});

test.after(() => {
  if (!Object.keys(figures).length) return;
  const out = path.join(root, 'build/reliability/leak.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), warmup: WARMUP, runs: figures }, null, 2)}\n`);
  ctx?.file.free();
});
