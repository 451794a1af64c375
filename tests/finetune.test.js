// finetune.test.js — fine-tuning the last dense block (learn/finetune.h):
//  - the C unit test (tests/finetune_test.c: the whole block's gradient against finite
//    differences, frozen statistics, early stopping, the DLCLASS1 round trip), native and WASM;
//  - the frozen part (models/finetune_split.h) equals Keras's intermediate output at the cut
//    (TF.js running the same DenseNet121 to pool4_pool);
//  - ONE Adam step of the whole unfrozen part (conv5 with DenseNet121's weights, BatchNorm in
//    inference mode, a new head) on a fixed batch equals TF.js's: a layers model made of the
//    same Keras layers, BN statistics non-trainable, gradients by tf.variableGrads, and Keras's
//    Adam update (tf.train.adam puts epsilon on the bias-corrected sqrt(v), Keras on sqrt(v):
//    for gradients below ~1e-5 they differ, so the test applies Keras's formula to TF.js's
//    gradients) — within 1e-4 relative on the updated weights.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { model, requireBuilt, root } from './helpers.js';
import { createDenseLab } from '../wasm/denselab.js';
import { loadDenseNetTfjs, tf } from './tfjs_peer.js';

const core = path.join(root, 'build/wasm/wasm/denselab_core.mjs');
const wasm = path.join(root, 'build/wasm/wasm/denselab_core.wasm');

function runUnitTest(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /finetune_test: all \d+ checks passed/);
}

test('finetune_test native: block gradient vs finite differences, early stopping, file round trip', () => {
  const exe = path.join(root, 'build/native/learn/finetune_test');
  requireBuilt(exe);
  runUnitTest(exe, []);
});

test('finetune_test under ASan + UBSan', () => {
  const exe = path.join(root, 'build/asan/learn/finetune_test');
  requireBuilt(exe);
  runUnitTest(exe, []);
});

test('finetune_test wasm', () => {
  const js = path.join(root, 'build/wasm/learn/finetune_test.js');
  requireBuilt(js);
  runUnitTest(process.execPath, [js]);
});

let ctx;
async function setup() {
  if (ctx) return ctx;
  requireBuilt(core, wasm, model);
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
  const file = lab.loadModelFile(fs.readFileSync(model));
  // The CPU backend: it has every gradient kernel. 64x64 inputs: conv5 sees 2x2 pixels,
  // so its 3x3 convolutions use their padding (at 32x32 only the centre tap would).
  const keras = await loadDenseNetTfjs({ backend: 'cpu', includeTop: false, pooling: null, inputShape: [64, 64, 3] });
  ctx = { lab, file, keras };
  return ctx;
}

// Seeded uniform numbers in [lo, hi) (xorshift32).
function uniform(n, lo, hi, seed) {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  });
}

function relErr(got, want) {
  let scale = 1e-30, err = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]) / scale);
  return err;
}

test('the frozen part equals Keras\'s output at conv5_block1\'s input (TF.js, pool4_pool)', async () => {
  const { lab, file, keras } = await setup();
  const cut = tf.model({ inputs: keras.inputs, outputs: keras.getLayer('pool4_pool').output });
  const x = uniform(2 * 64 * 64 * 3, -2, 2, 7);
  const want = tf.tidy(() => cut.predict(tf.tensor(x, [2, 64, 64, 3])).dataSync().slice());
  const net = lab.buildFrozenNet(file, { inputShape: [64, 64, 3] });
  try {
    assert.deepEqual(net.outputShape, [null, 2, 2, 512]);
    const got = net.predict(x, 2);
    const err = relErr(got, want);
    assert.ok(err < 1e-4, `relative error ${err}`);
  } finally { net.free(); }
});

test('one Adam step of conv5 + head equals TF.js\'s (same weights, BN in inference mode, same batch)', async () => {
  const { lab, keras } = await setup();
  const B = 8, H = 2, W = 2, C0 = 512, hidden = 16, K = 10, lr = 1e-4;
  const shape = { channels: C0, layers: 16, growth: 32, bottleneck: 128, height: H, width: W };
  const x = uniform(B * H * W * C0, -1, 3, 11);
  const y = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
  const head = [uniform(1024 * hidden, -0.1, 0.1, 13), uniform(hidden, -0.05, 0.05, 17), uniform(hidden * K, -0.3, 0.3, 19), uniform(K, -0.05, 0.05, 23)];

  // The same Keras layers applied to a new input: conv5_block1..16, bn, relu; then the new head.
  const input = tf.input({ shape: [H, W, C0] });
  let v = input;
  for (let i = 1; i <= 16; i++) {
    const L = (s) => keras.getLayer(`conv5_block${i}_${s}`);
    let u = L('0_bn').apply(v);
    u = L('1_conv').apply(L('0_relu').apply(u));
    u = L('2_conv').apply(L('1_relu').apply(L('1_bn').apply(u)));
    v = L('concat').apply([v, u]);
  }
  v = keras.getLayer('relu').apply(keras.getLayer('bn').apply(v));
  v = tf.layers.globalAveragePooling2d({}).apply(v);
  const d1 = tf.layers.dense({ units: hidden, activation: 'relu' }), d2 = tf.layers.dense({ units: K });   // logits
  const out = d2.apply(d1.apply(v));
  const ft = tf.model({ inputs: input, outputs: out });
  d1.setWeights([tf.tensor(head[0], [1024, hidden]), tf.tensor(head[1])]);
  d2.setWeights([tf.tensor(head[2], [hidden, K]), tf.tensor(head[3])]);

  // The parameters in learn/finetune.h's layout: every weight of those layers in Keras order.
  const blockLayers = [];
  for (let i = 1; i <= 16; i++) for (const s of ['0_bn', '1_conv', '1_bn', '2_conv']) blockLayers.push(keras.getLayer(`conv5_block${i}_${s}`));
  blockLayers.push(keras.getLayer('bn'));
  const tensors = [...blockLayers.flatMap((l) => l.weights.map((w) => w.read())), ...[d1, d2].flatMap((l) => l.weights.map((w) => w.read()))];
  const params0 = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of tensors) { params0.set(t.dataSync(), at); at += t.size; }

  // C: one step.
  const got = lab.finetuneSteps({ shape, hidden, classes: K, params: params0, x, y, n: B, lr, steps: 1 });

  // TF.js: gradients of the mean categorical cross-entropy over the trainable weights (BN
  // moving statistics are non-trainable), BN in inference mode; then Keras's Adam at t = 1.
  // Keras computes the cross-entropy of a softmax output from its logits (no clipping, so a
  // row whose p(label) is below 1e-7 still has a gradient); TF.js's categoricalCrossentropy
  // clips, hence softmaxCrossEntropy on the logits here.
  const trainable = new Set(ft.trainableWeights.map((w) => w.read().id));
  const xs = tf.tensor(x, [B, H, W, C0]), onehot = tf.oneHot(tf.tensor1d(y, 'int32'), K);
  const vars = ft.trainableWeights.map((w) => w.read());
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(onehot, ft.apply(xs, { training: false })), vars);
  const beta1 = 0.9, beta2 = 0.999, eps = 1e-7, lrT = lr * Math.sqrt(1 - beta2) / (1 - beta1);
  const want = new Float32Array(params0.length);
  at = 0;
  let frozenCount = 0, nonzeroGrads = 0;
  for (const t of tensors) {
    const w = t.dataSync();
    if (!trainable.has(t.id)) { want.set(w, at); frozenCount += t.size; at += t.size; continue; }
    const g = grads[t.name].dataSync();
    for (let i = 0; i < g.length; i++) nonzeroGrads += g[i] !== 0;
    for (let i = 0; i < w.length; i++) {
      const m = (1 - beta1) * g[i], vv = (1 - beta2) * g[i] * g[i];
      want[at + i] = Math.fround(w[i] - lrT * m / (Math.sqrt(vv) + eps));
    }
    at += t.size;
  }
  assert.equal(frozenCount, 2 * blockLayers.reduce((n, l) => n + (l.weights.length === 4 ? l.weights[0].shape[0] : 0), 0), 'moving statistics are the frozen weights');

  // Per tensor: max |C - TF.js| relative to the tensor's largest weight; and the step moved
  // the weights that have a gradient (on random 2x2 inputs many ReLUs are off: zero gradients;
  // a gradient near zero moves a weight by less than its float spacing).
  at = 0;
  let worst = 0, moved = 0;
  for (const t of tensors) {
    const a = got.subarray(at, at + t.size), b = want.subarray(at, at + t.size), w0 = params0.subarray(at, at + t.size);
    worst = Math.max(worst, relErr(a, b));
    for (let i = 0; i < t.size; i++) moved += a[i] !== w0[i];
    at += t.size;
  }
  assert.ok(worst <= 1e-4, `updated weights differ from TF.js's by ${worst} (relative)`);
  assert.ok(moved >= 0.98 * nonzeroGrads && nonzeroGrads > 100000, `${moved} weights moved, ${nonzeroGrads} have a gradient`);
  tf.dispose([xs, onehot, ...Object.values(grads)]);
});

test('JS API: fit(\'finetune\') needs the base and conv5_block1-shaped rows; trains, saves, loads, predicts alike', async () => {
  const { lab, file } = await setup();
  const n = 40, d = 512;
  const x = uniform(n * d, -1, 2, 29), y = Int32Array.from({ length: n }, (_, i) => i % 10);
  for (let i = 0; i < n; i++) x[i * d + y[i]] += 4;   // a learnable signal
  assert.throws(() => lab.fit('finetune', x.subarray(0, n * 100), y, n, 100, { epochs: 1 }), /not a square h x w x 512 input of conv5_block1/);
  assert.throws(() => lab.fit('finetune', x, y, n, d, { epochs: 1 }), /no pretrained block/);
  lab.setFinetuneBase(file);
  const epochs = [];
  const c = lab.fit('finetune', x, y, n, d, { epochs: 2, hidden: 8, lr: 1e-3, batchSize: 8 }, (...p) => { epochs.push(p); return false; });
  try {
    assert.equal(c.kind, 'finetune');
    assert.equal(epochs.length, 2);
    const [phase, step, steps, loss, trainAcc, valAcc, valLoss] = epochs[1];
    assert.deepEqual([phase, step, steps], ['finetune', 2, 2]);
    for (const v of [loss, trainAcc, valAcc, valLoss]) assert.ok(Number.isFinite(v) && v >= 0, `progress value ${v}`);
    const back = lab.loadClassifier(c.save());
    try {
      assert.deepEqual(back.predict(x, n).scores, c.predict(x, n).scores);
    } finally { back.free(); }
    const bytes = c.save();
    bytes[50] ^= 0x40;
    assert.throws(() => lab.loadClassifier(bytes), /CRC|checksum/i);
  } finally { c.free(); }
  assert.throws(() => lab.finetuneSteps({ shape: { channels: 0 }, hidden: 1, classes: 2, params: [], x: [], y: [], n: 1, lr: 1 }), /shape\.channels/);
});
