// keras-args.test.js — the Keras Applications arguments say what Keras says (issue 14): Keras's
// exact errors in Keras's order, Keras's symbolic shapes (None where the base takes any size),
// weights=None with any channel count, decode_predictions' error for classes != 1000, and
// DenseLab's one extension (gray_to_rgb), on both CLIs (same bytes) and in the JS API.
// The browser side is in web.test.js.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { model, nativeCli, requireBuilt, run, shared } from './helpers.js';
import { openLab, wasmCore } from './reliability/cases.js';

const cat = path.join(shared, 'images/cat_285.png');
// A line of a long text matches (the failure names the pattern, not the whole text).
const has = (text, re) => assert.ok(re.test(text), `no line matching ${re}`);

// [args, exit status, exact stderr (errors) or a check of stdout]
const CHANNELS_28 = 'denselab: The input must have 3 channels; Received `input_shape=(28, 28, 1)`\n';
const cases = [
  [['summary', '--include-top', 'false', '--input-shape', '28,28,1'], 1, CHANNELS_28],
  [['summary', '--include-top', 'false', '--input-shape', '32,32,1'], 1, 'denselab: The input must have 3 channels; Received `input_shape=(32, 32, 1)`\n'],
  // Keras checks the channels before the size; with the extension the size check speaks (of the 3-channel shape).
  [['summary', '--include-top', 'false', '--input-shape', '28,28,1', '--gray-to-rgb'], 1, 'denselab: Input size must be at least 32x32; Received: input_shape=(28, 28, 3)\n'],
  [['summary', '--input-shape', '28,28,1'], 1,
    'denselab: When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be (224, 224, 3).  Received: input_shape=(28, 28, 1)\n'],
  [['classify', cat, '--weights', 'none', '--classes', '10', '--input-shape', '32,32,3'], 1,
    'denselab: `decode_predictions` expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). Received array with shape: (1, 10)\n'],
  [['summary', '--include-top', 'false', '--input-shape', '32,32,1', '--gray-to-rgb'], 0, (out) => {
    has(out, /^ input_1 \(InputLayer\) +\(None, 32, 32, 3\) +0 *$/m);
    has(out, /Total params: 7,037,504\n/);
  }],
  // weights=None: Keras builds any channel count (conv1/conv gets a (7, 7, 4, 64) kernel).
  [['summary', '--weights', 'none', '--include-top', 'false', '--input-shape', '32,32,4'], 0, (out) => {
    has(out, /^ conv1\/conv \(Conv2D\) +\(None, 16, 16, 64\) +12,544 /m);
    has(out, /Total params: 7,040,640\n/);
  }],
  // include_top=False, input_shape=None: Keras's summary has None heights and widths.
  [['summary', '--include-top', 'false'], 0, (out) => {
    const rows = out.split('\n').filter((l) => l.startsWith(' ') && l.includes('(None'));
    assert.equal(rows.length, 427);
    assert.ok(rows.every((l) => l.includes('(None, None, None, ')), 'every row has None spatial sizes');
    has(rows[0], /^ input_1 \(InputLayer\) +\(None, None, None, 3\) +0 *$/);
    has(rows.at(-1), /^ relu \(Activation\) +\(None, None, None, 1024\) +0 +bn$/);
    has(out, /^ Layer \(type\) +Output Shape {15}Param # +Connected to$/m);
  }],
  [['summary', '--include-top', 'false', '--pooling', 'avg'], 0, (out) => has(out, /^ avg_pool \(GlobalAveragePooling2D\) +\(None, 1024\) +0 +relu$/m)],
];

test('Keras errors and shapes: exact text, Keras\'s order, the same bytes on both CLIs', () => {
  requireBuilt(nativeCli, wasmCore, model);
  for (const [args, status, want] of cases) {
    const native = run('native', args), wasm = run('wasm', args);
    const what = args.join(' ');
    assert.equal(native.status, status, `native ${what}: ${native.stderr}`);
    if (typeof want === 'string') assert.equal(native.stderr, want, `native ${what}`);
    else want(native.stdout);
    assert.deepEqual({ status: wasm.status, stdout: wasm.stdout, stderr: wasm.stderr },
      { status: native.status, stdout: native.stdout, stderr: native.stderr }, `wasm ${what}: same bytes as native`);
  }
});

test('the JS API: kerasOutputShape, gray_to_rgb equals repeating the channel, 4 channels run, decode_predictions refuses 10 classes', async () => {
  requireBuilt(wasmCore, model);
  const { lab, file } = await openLab();
  const open = lab.buildNet(file, { includeTop: false });
  assert.deepEqual(open.kerasOutputShape, [null, null, null, 1024]);
  assert.deepEqual(open.outputShape, [null, 7, 7, 1024], 'the network itself runs at 224x224');
  open.free();
  const pooled = lab.buildNet(file, { includeTop: false, pooling: 'max' });
  assert.deepEqual(pooled.kerasOutputShape, [null, 1024]);
  pooled.free();

  assert.throws(() => lab.buildNet(file, { includeTop: false, inputShape: [32, 32, 1] }),
    { message: 'The input must have 3 channels; Received `input_shape=(32, 32, 1)`' });
  const gray = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 1], grayToRgb: true });
  const rgb = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const g = Float32Array.from({ length: 32 * 32 }, (_, i) => Math.sin(i * 0.37) * 2);
  const repeated = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => g[Math.floor(i / 3)]);
  assert.deepEqual(gray.predict(g), rgb.predict(repeated), 'gray_to_rgb is Keras with np.repeat(x, 3, axis=-1)');
  assert.deepEqual(gray.inputShape, [32, 32, 1]);
  gray.free(); rgb.free();

  const four = lab.buildNet(file, { weights: null, includeTop: false, pooling: 'avg', inputShape: [32, 32, 4] });
  const y = four.predict(Float32Array.from({ length: 32 * 32 * 4 }, (_, i) => (i % 7) / 7));
  assert.equal(y.length, 1024);
  assert.ok(y.every(Number.isFinite));
  assert.equal(four.summary().totalParams, 7040640);
  four.free();

  assert.throws(() => lab.decodePredictions(new Float32Array(10).fill(0.1), 5),
    { message: '`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). Received array with shape: (1, 10)' });
  assert.doesNotThrow(() => lab.checkDecodePredictions(3, 1000));
  assert.throws(() => lab.buildNet(file, { includeTop: false, inputShape: [32, 32, 1], grayToRgb: 'yes' }), /gray_to_rgb must be true or false/);
  file.free();
});
