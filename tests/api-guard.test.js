// api-guard.test.js — the JS API guard (issue 10): one WASM instance takes a long,
// seeded random sequence of valid and invalid calls (bogus sizes, freed objects,
// garbage bytes, bad options, huge counts, valid classifications...). Every invalid
// call must throw an Error with a one-line reason, every valid one must give the
// right answer, and every few calls the golden photo must still give exactly the
// output it gave at the start (which matches TF.js's golden, tests/golden/).
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { model, requireBuilt, root, shared } from './helpers.js';
import { openLab, wasmCore } from './reliability/cases.js';
import { idxImages, png, tinyModel } from './fuzz/make_seeds.js';
import { mulberry32 } from '../bench/bench.js';

v8.setFlagsFromString('--no-liftoff');      // as wasm/cli.js: the 224x224 runs at full speed

const golden = JSON.parse(fs.readFileSync(path.join(root, 'tests/golden/densenet121.json'), 'utf8'));
const PHOTO = 'cat_285.png';
const goldenPhoto = golden.images.find((g) => g.file === PHOTO);
const STEPS = 400, CHECK_EVERY = 8, SEED = 20261130;

const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const top5 = (p) => [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 5);

// fn must throw a plain Error with a one-line reason matching re; never a trap.
function refuses(what, fn, re = /\S/) {
  let thrown = null;
  try { fn(); } catch (e) { thrown = e; }
  assert.ok(thrown, `${what}: should throw`);
  assert.ok(thrown instanceof Error, `${what}: threw a non-Error ${thrown}`);
  assert.doesNotMatch(thrown.message, /no longer usable/, `${what}: the instance trapped`);
  assert.ok(!thrown.message.includes('\n'), `${what}: message on several lines: ${thrown.message}`);
  assert.match(thrown.message, re, what);
}

test('a long random sequence of valid and invalid API calls leaves the golden photo exactly as it was', async () => {
  requireBuilt(wasmCore, model);
  const { lab, file } = await openLab();
  const photo = fs.readFileSync(path.join(shared, 'images', PHOTO));
  const cat = lab.loadImg(photo, [224, 224]);
  assert.equal(sha256(cat.rgb), goldenPhoto.input.rgbSha256, 'the photo decodes to the golden load_img bytes');
  const x224 = lab.preprocessInput(cat.rgb);
  const x32 = lab.preprocessInput(lab.loadImg(photo, [32, 32]).rgb);
  const net224 = lab.buildNet(file), net32 = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const probs = net224.predict(x224), features = net32.predict(x32);
  assert.deepEqual(top5(probs), goldenPhoto.top5.map((t) => t.index), 'golden top-5');
  assert.ok(maxAbsDiff(probs, golden.images.find((g) => g.file === PHOTO).probs) <= 1e-4, 'golden probabilities');
  assert.ok(maxAbsDiff(features, goldenPhoto.features32) <= 1e-4, 'golden 32x32 features');
  const heapAtStart = lab.heapUsed();

  const checkGolden = (full) => {
    assert.equal(lab.unusable, null);
    assert.deepEqual(net32.predict(lab.preprocessInput(lab.loadImg(photo, [32, 32]).rgb)), features, 'the 32x32 features of the golden photo changed');
    if (full) assert.deepEqual(net224.predict(lab.preprocessInput(lab.loadImg(photo, [224, 224]).rgb)), probs, 'the probabilities of the golden photo changed');
  };

  const rand = mulberry32(SEED);
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
  const garbage = (n) => Uint8Array.from({ length: n }, () => int(0, 255));
  const tiny = tinyModel();
  const small = png({ width: 9, height: 7 });
  const trainX = Float32Array.from({ length: 40 * 6 }, (_, i) => Math.sin(i * 0.7) + (i % 6 === Math.floor(i / 6) % 3 ? 2 : 0));
  const trainY = Int32Array.from({ length: 40 }, (_, i) => i % 3);
  const live = { nets: [], files: [], classifiers: [] };

  const actions = [
    // ---- images ----
    () => refuses('loadImg, bogus target size', () => lab.loadImg(photo, pick([[2 ** 32 + 2, 2], [1.5, 3], [-1, 4], [0, 5], ['7', 3], [NaN, 1], [3], 224, [1, 2 ** 31]])), /target|size/),
    () => refuses('loadImg, bogus maxPixels', () => lab.loadImg(photo, [8, 8], { maxPixels: pick([-1, NaN, 2 ** 32, 1.5, '100', Infinity]) }), /maxPixels/),
    () => refuses('loadImg, garbage bytes', () => lab.loadImg(pick([garbage(int(0, 300)), photo.subarray(0, int(8, 2000)), Buffer.from('GIF89a garbage')]), [8, 8]), /image|truncated|empty/),
    () => refuses('loadImg, not bytes', () => lab.loadImg(pick(['cat.png', null, 42, [1, 2, 3], { length: 3 }]), [8, 8]), /ArrayBuffer or a typed array/),
    () => refuses('loadImg, too many pixels', () => lab.loadImg(photo, [8, 8], { maxPixels: 100 }), /too large/),
    () => {
      const [h, w] = [int(1, 40), int(1, 40)], img = lab.loadImg(small, [h, w]);
      assert.equal(img.rgb.length, h * w * 3);
      assert.deepEqual([img.width, img.height, img.originalWidth, img.originalHeight], [w, h, 9, 7]);
    },
    () => { const img = lab.loadImg(small); assert.equal(img.rgb.length, 9 * 7 * 3); },
    () => refuses('preprocessInput, not bytes', () => lab.preprocessInput(pick([new Float32Array(6), [1, 2, 3], 'abc', new Int16Array(3)])), /Uint8Array/),
    () => refuses('preprocessInput, partial pixel', () => lab.preprocessInput(new Uint8Array(pick([1, 2, 4, 3 * 5 + 1]))), /multiple of 3/),
    () => { const x = lab.preprocessInput(new Uint8ClampedArray([255, 0, 128])); assert.equal(x.length, 3); assert.ok(Math.abs(x[0] - (1 - 0.485) / 0.229) < 1e-6); },
    // ---- networks ----
    () => refuses('predict, wrong length', () => net32.predict(new Float32Array(int(0, 5000)).subarray(0, pick([0, 1, 3071, 3073])), 1), /values, expected/),
    () => refuses('predict, bad batch', () => net32.predict(x32, pick([0, -1, 1.5, 2 ** 32, NaN, '1'])), /batch/),
    () => refuses('predict, huge batch', () => net32.predict(x32, 2 ** 20), /limit|expected/),
    () => refuses('predict, not numbers', () => net32.predict(pick(['x', null, new DataView(new ArrayBuffer(12))])), /Float32Array/),
    () => refuses('buildNet, NUL / newline / = inside a value', () => lab.buildNet(file, { includeTop: pick(['false\0', 'false\ninclude_top=true', 'a=b']), pooling: 'avg' }), /not allowed/),
    () => refuses('buildNet, bad Keras arguments', () => lab.buildNet(file, pick([{ inputShape: [31, 32, 3], includeTop: false }, { classes: 10 }, { pooling: 'mean', includeTop: false },
      { inputShape: [2 ** 32 + 32, 32, 3], includeTop: false }, { weights: 'foo.h5' }, { bogus: 1 }, { classes: { n: 3 } }, { inputShape: [32, 32] }]))),
    () => refuses('buildNet, not options', () => lab.buildNet(file, pick(['include_top=false', 3, [1]])), /options must be an object/),
    () => refuses('buildNet, not a model file', () => lab.buildNet(pick([null, {}, { handle: 8 }, net32])), /model file/),
    () => refuses('grayFeatures, a count whose size wraps in 32 bits', () => lab.grayFeatures(net32, new Uint8Array(2 ** 20), 1, 1, 2 ** 20), /limit/),
    () => refuses('grayFeatures, bad sizes', () => lab.grayFeatures(net32, new Uint8Array(64), ...pick([[0, 8, 1], [8, 8, -1], [8, 8, 2], [2 ** 31, 1, 1], [8.5, 8, 1], [8, 8, 1.5]])), /width|height|count|expected/),
    () => refuses('grayFeatures, bad batch', () => lab.grayFeatures(net32, new Uint8Array(64), 8, 8, 1, { batch: pick([0, -3, 2.5, 2 ** 40]) }), /batch/),
    () => refuses('grayFeatures, onProgress throws', () => lab.grayFeatures(net32, new Uint8Array(2 * 28 * 28), 28, 28, 2, { batch: 1, onProgress: () => { throw new Error('stop here'); } }), /^stop here$/),
    () => { const f = lab.grayFeatures(net32, new Uint8Array(2 * 28 * 28).fill(int(0, 255)), 28, 28, 2, { batch: 1 }); assert.equal(f.length, 2048); assert.deepEqual(f.subarray(0, 1024), f.subarray(1024)); },
    () => { const n = lab.buildNet(file, { includeTop: false, inputShape: [32, 32, 3], pooling: pick(['avg', 'max']) }); assert.deepEqual(n.outputShape, [null, 1024]); live.nets.push(n); },
    () => { const n = live.nets.pop(); if (n) { n.free(); refuses('a freed network', () => pick([() => n.predict(x32), () => n.summary()])(), /this network was freed/); n.free(); } },
    () => { const s = net32.summary(); assert.match(s.text, /^Model: "densenet121"/); assert.equal(s.totalParams, 7037504); },
    // ---- model files: reference counting, freed files ----
    () => refuses('loadModelFile, garbage', () => lab.loadModelFile(pick([garbage(int(0, 500)), tiny.subarray(0, int(0, tiny.length - 1)), 'densenet121.dlm'])), /model file|ArrayBuffer/),
    () => { const f = lab.loadModelFile(tiny); live.files.push(f); },
    () => { const f = live.files.pop(); if (f) { f.free(); refuses('a freed model file', () => lab.buildNet(f), /this model file was freed/); f.free(); } },
    () => {     // the file freed while a network uses it: the network keeps working, the file is refused
      const f = lab.loadModelFile(fs.readFileSync(model));
      const n = lab.buildNet(f, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
      f.free();
      refuses('buildNet on a freed file', () => lab.buildNet(f), /this model file was freed/);
      lab.loadModelFile(tiny).free();     // other loads reuse freed memory
      assert.deepEqual(n.predict(x32), features);
      n.free();
    },
    // ---- decode_predictions ----
    () => refuses('decodePredictions, bad top', () => lab.decodePredictions(probs, pick([0, 1001, 1.5, -1, NaN, '5'])), /top must be/),
    () => refuses('decodePredictions, not probabilities', () => lab.decodePredictions(pick(['x', null, {}, new Float32Array(0)]), 5), /probabilities/),
    () => assert.equal(lab.decodePredictions(probs, 3)[0].label, goldenPhoto.top5[0].label),
    // ---- the experiment ----
    () => refuses('parseIdx, garbage', () => lab.parseIdx(garbage(int(0, 64)), { labels: rand() < 0.5 }), /IDX|ArrayBuffer/),
    () => { const s = lab.parseIdx(idxImages(3, 4, 5)); assert.deepEqual([s.count, s.rows, s.cols, s.data.length], [3, 4, 5, 60]); },
    () => refuses('fit, sizes that do not match', () => lab.fit('linear-svm', trainX, trainY, pick([39, 41, 0, -1, 2 ** 32 + 40]), 6), /expected|rows|integer/),
    () => refuses('fit, bad parameters', () => lab.fit('linear-svm', trainX, trainY, 40, 6, pick([{ C: NaN }, { C: -1 }, { C: 'big' }])), /C|parameter/),
    () => refuses('fit, unknown kind', () => lab.fit(pick(['svm', '', 7]), trainX, trainY, 40, 6), /kind|unknown/),
    () => { const c = lab.fit('linear-svm', trainX, trainY, 40, 6); assert.ok(c.evaluate(trainX, trainY, 40).accuracy > 0.9); live.classifiers.push(c); },
    // ---- the RBF SVM's pairs as units (wasm/rbf-pairs.js) ----
    () => refuses('rbfTrainPair, bad pair ids', () => lab.rbfTrainPair(trainX.subarray(0, 12), 2, trainX.subarray(12, 24), 2, 6, ...pick([[1, 1], [-1, 2], [0, 256], [2.5, 3]]), { gamma: 0.5 }), /ci|cj/),
    () => refuses('rbfTrainPair, rows that do not match', () => lab.rbfTrainPair(trainX.subarray(0, 12), pick([3, 0, 2 ** 31]), trainX.subarray(12, 24), 2, 6, 0, 1, { gamma: 0.5 }), /rows/),
    () => refuses('rbfAssemble, bad pair results', () => lab.rbfAssemble(trainX, trainY, 40, 6, {}, pick([[], [garbage(int(0, 90))], [new Uint8Array(0)], 'x', [7]])), /pair result/),
    () => { const c = live.classifiers.at(-1); if (c) refuses('classifier predict, bad n', () => c.predict(trainX, pick([0, 39, 1.5, -40, 2 ** 32 + 40])), /expected|rows|integer/); },
    () => { const c = live.classifiers.at(-1); if (c) { const again = lab.loadClassifier(c.save()); assert.deepEqual(again.predict(trainX, 40).labels, c.predict(trainX, 40).labels); again.free(); } },
    () => { const c = live.classifiers.pop(); if (c) { c.free(); refuses('a freed classifier', () => pick([() => c.predict(trainX, 40), () => c.save(), () => c.evaluate(trainX, trainY, 40)])(), /classifier was freed/); } },
    () => refuses('loadClassifier, garbage', () => lab.loadClassifier(garbage(int(0, 200))), /classifier|DLCLASS|truncated|magic/i),
  ];

  for (let step = 1; step <= STEPS; step++) {
    pick(actions)();
    if (step % CHECK_EVERY === 0) checkGolden(step % (CHECK_EVERY * 25) === 0);
  }
  for (const o of [...live.nets, ...live.files, ...live.classifiers]) o.free();
  checkGolden(true);
  assert.ok(lab.heapUsed() <= heapAtStart + 65536, `bytes in use grew from ${heapAtStart} to ${lab.heapUsed()}`);
  net224.free(); net32.free(); file.free();
});

test('buildNet with weights=None and 1,048,576 classes: an Error; the instance then works, or says it cannot', async () => {
  requireBuilt(wasmCore, model);
  const { lab, file } = await openLab();
  const photo = fs.readFileSync(path.join(shared, 'images', PHOTO));
  const net32 = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const run = () => net32.predict(lab.preprocessInput(lab.loadImg(photo, [32, 32]).rgb));
  const before = run();
  assert.throws(() => lab.buildNet(file, { weights: null, classes: 1048576 }), Error);
  if (lab.unusable) {
    // A trap in the core (before the engine's memory limit refuses such a network): every later call says so.
    assert.throws(run, /the WebAssembly instance is no longer usable; reload/);
    assert.throws(() => lab.loadImg(photo, [8, 8]), /no longer usable/);
  } else {
    assert.deepEqual(run(), before);
  }
});

test('the core checks the sizes it is handed too (wasm/api.c), whatever the JS side let through', async () => {
  requireBuilt(wasmCore, model);
  const { lab, file } = await openLab();
  const core = lab.core, reason = () => core.UTF8ToString(core._dl_api_last_error());
  const net = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const x = new Float32Array(32 * 32 * 3).fill(0.5), before = net.predict(x);
  const buf = core._malloc(64), wh = core._malloc(16);
  const refused = (what, result, re) => { assert.equal(result, 0, `${what}: accepted`); assert.match(reason(), re, what); };
  try {
    refused('net run, a 16-byte input buffer', core._dl_api_net_run(net.handle, buf, 16, 1, buf, 64), /input: needs 12288 bytes, the buffer holds 16/);
    refused('net run, a batch whose size wraps', core._dl_api_net_run(net.handle, buf, 64, 2 ** 30, buf, 64), /overflows the address space|needs/);
    refused('gray features, a count whose size wraps', core._dl_api_gray_features(net.handle, buf, 64, 1, 1, 2 ** 30, 32, buf, 64), /overflow|needs/);
    refused('gray features, a 64-byte output for 2 images', core._dl_api_gray_features(net.handle, buf, 64, 4, 4, 2, 1, buf, 64), /features: needs 8192 bytes, the buffer holds 64/);
    refused('preprocess, not whole pixels', core._dl_api_preprocess(buf, 4, buf, 64), /multiple of 3/);
    refused('preprocess, a short output', core._dl_api_preprocess(buf, 48, buf, 64), /needs 192 bytes, the buffer holds 64/);
    const png = lab.copyIn(fs.readFileSync(path.join(shared, 'images', PHOTO)));
    try {
      refused('load_img, one side zero', core._dl_api_load_img(png, 1000, 5, 0, 0, wh), /target width must be an integer from 1 to 16384, got 0/);
      refused('load_img, max_pixels NaN', core._dl_api_load_img(png, 1000, 5, 5, NaN, wh), /max_pixels must be an integer from 0/);
      refused('load_img, max_pixels 1.5', core._dl_api_load_img(png, 1000, 5, 5, 1.5, wh), /max_pixels must be an integer from 0/);
    } finally { core._free(png); }
    const options = Buffer.from('include_top=false\0pooling=avg\0');
    const opts = lab.copyIn(options);
    try { refused('net build, a NUL inside the options', core._dl_api_net_build(file.handle, opts, options.length - 1), /NUL/); } finally { core._free(opts); }
    const rbf = lab.copyIn(lab.rbfValues({})), count = lab.rbfValues({}).length;   // the rbf-svm kind's defaults
    try {
      refused('rbf pair, 64 bytes for 4 rows of 6', core._dl_api_rbf_train_pair(buf, 64, 4, buf, 64, 1, 6, 0, 1, 0.5, 0, 0, rbf, count, wh), /class ci rows: needs 96 bytes, the buffer holds 64/);
      refused('rbf pair, rows whose size wraps', core._dl_api_rbf_train_pair(buf, 64, 2 ** 30, buf, 64, 1, 2 ** 20, 0, 1, 0.5, 0, 0, rbf, count, wh), /overflows the address space|needs/);
      refused('rbf pair, too few parameters', core._dl_api_rbf_train_pair(buf, 64, 1, buf, 64, 1, 6, 0, 1, 0.5, 0, 0, rbf, count - 1, wh), /rbf-svm takes \d+ parameters/);
      refused('rbf assemble, 64 bytes for 40 labels', core._dl_api_rbf_assemble(buf, 160, buf, 64, 40, 1, rbf, count, buf, buf, 3), /labels: needs 160 bytes, the buffer holds 64/);
      refused('rbf prepare, 64 bytes for 40 rows', core._dl_api_rbf_prepare(buf, 64, buf, 160, 40, 1, rbf, count, wh, 0, 0), /features: needs 160 bytes, the buffer holds 64/);
      // float16 rows (the _rows entry points): sizes in halves, checked for 32-bit overflow
      refused('rbf prepare, 64 bytes for 40 rows of halves', core._dl_api_rbf_prepare_rows(buf, 64, 1, buf, 160, 40, 1, rbf, count, wh, 0, 0), /features: needs 80 bytes, the buffer holds 64/);
      refused('rbf prepare, value type 2', core._dl_api_rbf_prepare_rows(buf, 64, 2, buf, 160, 4, 1, rbf, count, wh, 0, 0), /bad value type 2/);
      refused('rbf pair in place, halves whose size wraps', core._dl_api_rbf_train_pair_at_rows(buf, 64, 1, 2 ** 30, 2 ** 20, buf, 4, 1, buf, 4, 1, 0, 1, 0.5, 0, 0, rbf, count, wh), /overflows the address space|needs/);
      refused('rbf pairs in place, 64 bytes for 40 rows of halves', core._dl_api_rbf_train_pairs_at_rows(buf, 64, 1, 40, 1, buf, 64, buf, 8, 2, buf, 8, 1, 0.5, 0, 0, rbf, count, buf, buf, 8), /features: needs 80 bytes, the buffer holds 64/);
      refused('rbf pairs in place, halves whose size wraps', core._dl_api_rbf_train_pairs_at_rows(buf, 64, 1, 2 ** 30, 2 ** 20, buf, 64, buf, 8, 2, buf, 8, 1, 0.5, 0, 0, rbf, count, buf, buf, 8), /overflows the address space|needs/);
      refused('rbf pairs in place, value type 2', core._dl_api_rbf_train_pairs_at_rows(buf, 64, 2, 4, 1, buf, 64, buf, 8, 2, buf, 8, 1, 0.5, 0, 0, rbf, count, buf, buf, 8), /bad value type 2/);
      refused('rbf assemble, 64 bytes for 40 rows of halves', core._dl_api_rbf_assemble_rows(buf, 64, 1, buf, 160, 40, 1, rbf, count, buf, buf, 3, 1), /features: needs 80 bytes, the buffer holds 64/);
    } finally { core._free(rbf); }
    const kindName = lab.copyIn(Buffer.from('linear-svm\0')), lin = lab.copyIn(Float64Array.from([1, 2, 0.1, 1000, 1, 1, 1]));
    try {
      refused('fit, 64 bytes for 40 rows of halves', core._dl_api_fit_rows(kindName, buf, 64, 1, buf, 40, 1, lin, 7), /features: needs 80 bytes, the buffer holds 64/);
      refused('fit, halves whose size wraps', core._dl_api_fit_rows(kindName, buf, 64, 1, buf, 2 ** 30, 2 ** 20, lin, 7), /overflows the address space|needs/);
    } finally { core._free(kindName); core._free(lin); }
    refused('float16 put beyond the room', core._dl_api_f16_from_f32(buf, 8, buf, 8, 1), /8 values at 1 do not fit in 8/);
    refused('float16 put whose end wraps', core._dl_api_f16_from_f32(buf, 8, buf, 8, 2 ** 32 - 4), /do not fit/);
    refused('float16 read beyond the room', core._dl_api_f32_from_f16(buf, 8, 4, 8, buf), /8 values at 4 are outside 8/);
  } finally { core._free(buf); core._free(wh); }
  assert.deepEqual(net.predict(x), before);
  net.free(); file.free();
});
