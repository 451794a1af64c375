// learn/ tests: the C unit tests (native + wasm), then a reference comparison
// of learn_tool against Debian's LIBLINEAR (liblinear-train/-predict) and
// LIBSVM (svm-train/-predict) on a small Fashion-MNIST problem: the first
// 2,000 training images and 500 test images, pixels / 255, in LIBSVM text.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { classifierNames } from '../wasm/experiment.js';
import { built as need, fashionDir, root, runChecked } from './helpers.js';

const bin = {
  nativeTest: path.join(root, 'build', 'native', 'learn', 'learn_test'),
  nativeTool: path.join(root, 'build', 'native', 'learn', 'learn_tool'),
  wasmTest: path.join(root, 'build', 'wasm', 'learn', 'learn_test.js'),
  wasmTool: path.join(root, 'build', 'wasm', 'learn', 'learn_tool.js'),
  core: path.join(root, 'build', 'wasm', 'wasm', 'denselab_core.mjs'),
  coreWasm: path.join(root, 'build', 'wasm', 'wasm', 'denselab_core.wasm'),
};
const N_TRAIN = 2000, N_TEST = 500;

const run = (cmd, args, what) => runChecked(cmd, args, what, ' (install liblinear-tools and libsvm-tools)');

// learn_tool natively or as wasm; returns its JSON.
function tool(kind, args) {
  const out = kind === 'native'
    ? run(need(bin.nativeTool), args, 'learn_tool (native)')
    : run(process.execPath, [need(bin.wasmTool), ...args], 'learn_tool (wasm)');
  return JSON.parse(out);
}

// The first n images of a split as rows of [0,1] floats (exactly what the
// text files hold) and labels.
function loadSplit(split, n) {
  const dir = fashionDir();
  const im = zlib.gunzipSync(fs.readFileSync(path.join(dir, `${split}-images-idx3-ubyte.gz`)));
  const lb = zlib.gunzipSync(fs.readFileSync(path.join(dir, `${split}-labels-idx1-ubyte.gz`)));
  assert.equal(im.readUInt32BE(0), 0x803);
  assert.equal(lb.readUInt32BE(0), 0x801);
  const rows = [], labels = [];
  for (let i = 0; i < n; i++) {
    const x = new Float64Array(784);
    for (let j = 0; j < 784; j++) x[j] = Math.fround(Number((im[16 + i * 784 + j] / 255).toPrecision(7)));
    rows.push(x);
    labels.push(lb[8 + i]);
  }
  return { rows, labels };
}

function writeLibsvm(file, { rows, labels }, map = (v) => v) {
  const lines = rows.map((x, i) => {
    const parts = [String(labels[i])];
    for (let j = 0; j < x.length; j++) {
      const v = map(x[j], j);
      if (v !== 0) parts.push(`${j + 1}:${+v.toPrecision(7)}`);
    }
    return parts.join(' ');
  });
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

let data;   // built once: { dir, train, test, files }
function problem() {
  if (data) return data;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-learn-'));
  const train = loadSplit('train', N_TRAIN), test = loadSplit('t10k', N_TEST);
  const files = { train: path.join(dir, 'train.svm'), test: path.join(dir, 'test.svm') };
  writeLibsvm(files.train, train);
  writeLibsvm(files.test, test);
  data = { dir, train, test, files };
  return data;
}
test.after(() => { if (data) fs.rmSync(data.dir, { recursive: true, force: true }); });

const objectives = (out, re) => [...out.matchAll(re)].map((m) => Number(m[1]));
const modelLine = (file, key) => fs.readFileSync(file, 'utf8').split('\n')
  .find((l) => l.startsWith(key + ' ')).split(' ').slice(1).map(Number);
const accuracyOf = (out) => Number(/Accuracy = ([\d.]+)%/.exec(out)[1]) / 100;
const relDiff = (a, b) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);

function liblinear(trainFile, testFile, C) {
  const model = trainFile + `.C${C}.liblinear`;
  const out = run('liblinear-train', ['-s', '1', '-c', String(C), '-e', '0.1', '-B', '1', trainFile, model], 'liblinear-train');
  const obj = objectives(out, /Objective value = (-?[\d.]+)/g);
  const labels = modelLine(model, 'label');
  const pred = run('liblinear-predict', [testFile, model, model + '.pred'], 'liblinear-predict');
  const byClass = [];   // LIBLINEAR orders classes by first appearance
  labels.forEach((l, k) => { byClass[l] = obj[k]; });
  return { objective: byClass, accuracy: accuracyOf(pred) };
}

function compareLinear(mine, ref, what) {
  assert.equal(mine.classes, 10);
  assert.ok(Math.abs(mine.accuracy - ref.accuracy) <= 0.01,
    `${what}: accuracy ${mine.accuracy} vs liblinear ${ref.accuracy}`);
  for (let k = 0; k < 10; k++)
    assert.ok(relDiff(mine.objective[k], ref.objective[k]) <= 1e-2,
      `${what}: class ${k} objective ${mine.objective[k]} vs liblinear ${ref.objective[k]}`);
  for (let k = 0; k < 10; k++)   // at the optimum the primal is minus the dual minimum
    assert.ok(mine.primal[k] >= -mine.objective[k] - 1e-3 && relDiff(mine.primal[k], -mine.objective[k]) < 0.05,
      `${what}: class ${k} primal ${mine.primal[k]} vs dual ${-mine.objective[k]}`);
}

for (const [kind, file, args] of [['native', () => bin.nativeTest, []], ['wasm', () => process.execPath, () => [need(bin.wasmTest)]]]) {
  test(`learn_test (${kind}): IDX, file format, errors, small problems, determinism`, () => {
    const exe = kind === 'native' ? need(file()) : file();
    const out = run(exe, typeof args === 'function' ? args() : args, `learn_test (${kind})`);
    assert.match(out, /learn_test: \d+ checks, 0 failed/);
  });
}

test('linear SVM (raw pixels, C=0.1) matches liblinear-train -s 1 -B 1, native and wasm', () => {
  const { files, dir } = problem();
  const ref = liblinear(files.train, files.test, 0.1);
  const args = ['linear-svm', files.train, files.test, '--C', '0.1', '--standardize', '0'];
  const nat = tool('native', [...args, '--save', path.join(dir, 'linear.dlclass')]);
  compareLinear(nat, ref, 'native');
  const wasm = tool('wasm', args);
  compareLinear(wasm, ref, 'wasm');
  assert.equal(wasm.accuracy, nat.accuracy);
  for (let k = 0; k < 10; k++) assert.ok(relDiff(wasm.objective[k], nat.objective[k]) < 1e-4, 'wasm vs native objective');
  assert.equal(fs.readFileSync(path.join(dir, 'linear.dlclass')).subarray(0, 8).toString(), 'DLCLASS1');
});

test('linear SVM standardisation (C=0.01) matches liblinear on standardised data', () => {
  const { files, dir, train, test: te } = problem();
  // Population mean/std per feature over the training rows, std 0 -> 1.
  const d = 784, mean = new Float64Array(d), sd = new Float64Array(d);
  for (const x of train.rows) for (let j = 0; j < d; j++) mean[j] += x[j];
  for (let j = 0; j < d; j++) mean[j] /= train.rows.length;
  for (const x of train.rows) for (let j = 0; j < d; j++) sd[j] += (x[j] - mean[j]) ** 2;
  for (let j = 0; j < d; j++) { sd[j] = Math.sqrt(sd[j] / train.rows.length) || 1; }
  const std = (v, j) => (v - mean[j]) / sd[j];
  const stdFiles = { train: path.join(dir, 'train-std.svm'), test: path.join(dir, 'test-std.svm') };
  writeLibsvm(stdFiles.train, train, std);
  writeLibsvm(stdFiles.test, te, std);
  const ref = liblinear(stdFiles.train, stdFiles.test, 0.01);
  // learn_tool standardises the raw file itself (the default).
  compareLinear(tool('native', ['linear-svm', files.train, files.test, '--C', '0.01']), ref, 'native standardised');
});

test('RBF SVM (gamma=scale, C=1) matches svm-train -c 1 -g GAMMA -e 0.001, native and wasm', () => {
  const { files, train, dir } = problem();
  const nat = tool('native', ['rbf-svm', files.train, files.test, '--save', path.join(dir, 'rbf.dlclass')]);
  // gamma = 1 / (n_features * X.var()) over the whole training matrix (scikit-learn 'scale').
  let s = 0, s2 = 0, cnt = 0;
  for (const x of train.rows) for (const v of x) { s += v; cnt++; }
  const m = s / cnt;
  for (const x of train.rows) for (const v of x) s2 += (v - m) ** 2;
  const gamma = 1 / (784 * (s2 / cnt));
  assert.ok(relDiff(nat.gamma, gamma) < 1e-6, `gamma ${nat.gamma} vs ${gamma}`);

  const model = path.join(dir, 'model.libsvm');
  const out = run('svm-train', ['-c', '1', '-g', String(nat.gamma), '-e', '0.001', '-m', '200', files.train, model], 'svm-train');
  const pred = run('svm-predict', [files.test, model, model + '.pred'], 'svm-predict');
  const refObj = objectives(out, /obj = (-?[\d.]+)/g);
  const refTotal = Number(/Total nSV = (\d+)/.exec(out)[1]);
  const labels = modelLine(model, 'label'), nrSv = modelLine(model, 'nr_sv');
  const refAcc = accuracyOf(pred);

  for (const [kind, r] of [['native', nat], ['wasm', tool('wasm', ['rbf-svm', files.train, files.test])]]) {
    assert.equal(r.classes, 10);
    assert.ok(Math.abs(r.accuracy - refAcc) <= 0.01, `${kind}: accuracy ${r.accuracy} vs svm-predict ${refAcc}`);
    assert.ok(Math.abs(r.total_sv - refTotal) <= 0.02 * refTotal, `${kind}: total nSV ${r.total_sv} vs ${refTotal}`);
    labels.forEach((l, k) => assert.ok(Math.abs(r.sv_per_class[l] - nrSv[k]) <= Math.max(2, 0.05 * nrSv[k]),
      `${kind}: class ${l} nSV ${r.sv_per_class[l]} vs ${nrSv[k]}`));
    // LIBSVM's pairs follow its label order; ours are (i<j) in class order.
    const pairIndex = (i, j) => i * 10 - (i * (i + 1)) / 2 + (j - i - 1);
    let p = 0;
    for (let a = 0; a < 10; a++)
      for (let b = a + 1; b < 10; b++, p++) {
        const i = Math.min(labels[a], labels[b]), j = Math.max(labels[a], labels[b]);
        const mine = r.objective[pairIndex(i, j)];
        assert.ok(relDiff(mine, refObj[p]) <= 1e-2, `${kind}: pair (${i},${j}) obj ${mine} vs svm-train ${refObj[p]}`);
      }
  }
});

// ---- the JS API's classifier side: the kinds table, fit() parameters, hostile files ----

// A DLCLASS1 header with the given fields, payloadLen zero bytes and a valid CRC.
function craftClassifier(id, k, d, param, payloadField, payloadLen) {
  const b = Buffer.alloc(40 + payloadLen + 4);
  b.write('DLCLASS1', 0);
  [1, id, k, d, 0, param].forEach((v, i) => b.writeUInt32LE(v, 8 + 4 * i));
  b.writeBigUInt64LE(BigInt(payloadField), 32);
  b.writeUInt32LE(zlib.crc32(b.subarray(0, b.length - 4)), b.length - 4);
  return b;
}

test('JS API: classifier kinds from the C table; fit() checks and fills parameters; hostile classifier files give an Error and leave the instance healthy', async () => {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(need(bin.coreWasm)), coreUrl: pathToFileURL(need(bin.core)).href });
  const kinds = lab.classifierKinds();
  assert.deepEqual(kinds.map((k) => [k.name, k.id]), [['linear-svm', 1], ['rbf-svm', 2], ['softmax', 3], ['finetune', 4]]);
  assert.deepEqual(classifierNames(lab), ['linear-svm', 'rbf-svm', 'softmax', 'finetune', 'pixels-linear-svm']);
  const softmax = kinds[2].params.find((p) => p.name === 'hidden');
  assert.deepEqual(softmax, { name: 'hidden', type: 'int', default: 128, min: 0, max: 65536, min_exclusive: false, help: softmax.help });

  const x = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i) + (i % 4 === 0 ? (Math.floor(i / 4) % 2) * 3 : 0));
  const y = Array.from({ length: 10 }, (_, i) => i % 2);
  assert.throws(() => lab.fit('nope', x, y, 10, 4), /unknown classifier 'nope' \(expected linear-svm, rbf-svm, softmax, finetune\)/);
  assert.throws(() => lab.fit('linear-svm', x, y, 10, 4, { Cee: 1 }), /unknown classifier parameter 'Cee'/);
  assert.throws(() => lab.fit('linear-svm', x, y, 10, 4, { C: -1 }), /linear-svm: C must be > 0 \(got -1\)/);
  assert.throws(() => lab.fit('softmax', x, y, 10, 4, { epochs: 1.5 }), /softmax: epochs must be an integer/);
  assert.throws(() => lab.fit('softmax', x, y, 10, 4, { hidden: '8' }), /softmax: hidden must be a finite number/);
  assert.throws(() => lab.fit('rbf-svm', x, y, 10, 4, { cacheMb: 0 }), /rbf-svm: cache_mb must be > 0/);
  assert.throws(() => lab.fit('linear-svm', x, y, 2 ** 20, 2 ** 12), /bytes is more than the 2147483648-byte limit of one WebAssembly instance/);
  assert.throws(() => lab.fit('linear-svm', x, y, 10.5, 4), /number of rows must be an integer from 1/);
  // A head whose first layer alone would need 2^29 weights: refused before allocating.
  const wide = new Float32Array(2 * 8192); wide[0] = 1;
  assert.throws(() => lab.fit('softmax', wide, [0, 1], 2, 8192, { hidden: 65536 }), /more than 67108864 parameters/);

  // One options object for several kinds: each takes its own (C is not the head's, hidden not the SVM's).
  const options = { C: 0.5, hidden: 3, epochs: 2, batchSize: 4, cacheMb: 10 };
  const head = lab.fit('softmax', x, y, 10, 4, options);
  assert.equal(head.kind, 'softmax');
  const svm = lab.fit('rbf-svm', x, y, 10, 4, options);
  assert.equal(svm.kind, 'rbf-svm');
  const before = svm.predict(x, 10).scores;

  // 32-bit WASM: these sizes wrap; each must be a clear Error, never a heap write.
  const hostile = [
    [craftClassifier(1, 256, 2 ** 24, 0, 1024, 1024), /classifier file: linear-svm: too large for this platform/],
    [craftClassifier(1, 256, 2 ** 24, 0, 4 * 256 * (2 ** 24 + 1), 0), /too large for this platform/],
    [craftClassifier(2, 33, 256, 2 ** 24, 4364, 4364), /rbf-svm with 16777216 support vectors of 256 features: too large for this platform/],
    [craftClassifier(3, 2, 2 ** 14, 65536, 786440, 786440), /more than 67108864 parameters/],
    [craftClassifier(9, 2, 4, 0, 0, 0), /unknown kind 9/],
  ];
  for (const [bytes, expect] of hostile) assert.throws(() => lab.loadClassifier(bytes), expect);
  const copy = lab.loadClassifier(svm.save());
  assert.deepEqual(copy.predict(x, 10).scores, before);
  assert.deepEqual(svm.predict(x, 10).scores, before);
  for (const c of [head, svm, copy]) c.free();
});

test('JS API: heap halves (float16 rows) train the models float32 rows holding the same values train; bad ones give an Error', async () => {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(need(bin.coreWasm)), coreUrl: pathToFileURL(need(bin.core)).href });
  const n = 30, d = 5;
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.3) + (Math.floor(i / d) % 3) * (i % 2));
  const y = Array.from({ length: n }, (_, i) => i % 3);
  const halves = lab.heapHalves(n * d);
  halves.put(0, x);
  const rounded = halves.floats();   // the values the halves stand for (exact)
  assert.ok(rounded.some((v, i) => v !== x[i]) && rounded.every((v, i) => Math.abs(v - x[i]) <= Math.abs(x[i]) / 2048), 'not rounded to float16');
  assert.equal(halves.view()[0], 0, 'sin(0) = 0 is not the half 0x0000');
  for (const kind of ['linear-svm', 'rbf-svm', 'softmax']) {
    const a = lab.fit(kind, rounded, y, n, d, { epochs: 2, hidden: 3, val: 0.2 }), b = lab.fit(kind, halves, y, n, d, { epochs: 2, hidden: 3, val: 0.2 });
    assert.deepEqual(b.save(), a.save(), `${kind}: float16 rows train another model`);
    assert.deepEqual(b.evaluate(halves, y, n), a.evaluate(rounded, y, n));
    assert.deepEqual(b.predict(halves.subarray(d, 2 * d), 1), a.predict(rounded.subarray(d, 2 * d), 1));
    a.free(); b.free();
  }
  // the RBF SVM's pairs in place on the halves, and assembled borrowing them
  const shared = lab.rbfPrepare(halves, y, n, d, {});
  assert.deepEqual(shared, lab.rbfPrepare(rounded, y, n, d, {}), "gamma='scale' over the halves");
  const rows = [0, 1, 2].map((k) => y.flatMap((v, i) => (v === k ? [i] : [])));
  const results = [[0, 1], [0, 2], [1, 2]].map(([ci, cj]) => lab.rbfTrainPairAt(halves, n, d, rows[ci], rows[cj], ci, cj, shared, {}));
  const whole = lab.fit('rbf-svm', rounded, y, n, d, {}), borrowed = lab.rbfAssemble(halves, y, n, d, {}, results, { borrow: true });
  assert.deepEqual(borrowed.save(), whole.save(), 'the model on borrowed halves saves other bytes');
  borrowed.free(); whole.free();
  assert.throws(() => lab.fit('finetune', halves, y, n, d, {}), /finetune takes float32 rows only, not float16/);
  assert.throws(() => halves.put(n * d - 1, new Float32Array(2)), /2 values at 149 do not fit in 150/);
  assert.throws(() => halves.put(0, [1, 2]), /put takes a Float32Array/);
  assert.throws(() => halves.floats(0, n * d + 1), /bad range/);
  halves.put(3, Float32Array.of(NaN));
  assert.throws(() => lab.fit('linear-svm', halves, y, n, d), /feature is NaN at row 0, column 3/);
  halves.free();
  assert.throws(() => halves.put(0, x), /heap halves: freed/);
  assert.throws(() => lab.fit('linear-svm', halves, y, n, d), /heap halves of another DenseLab instance, or freed/);
  assert.equal(lab.fit('linear-svm', x, y, n, d).kind, 'linear-svm', 'the instance keeps working');
});

test('JS API: heap floats are used in place by fit, evaluate and predict (the same results as copies); bad ones give an Error', async () => {
  const load = () => createDenseLab({ wasmBinary: fs.readFileSync(need(bin.coreWasm)), coreUrl: pathToFileURL(need(bin.core)).href });
  const lab = await load(), other = await load();
  const n = 12, d = 4;
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i) + (i % 4 === 0 ? (Math.floor(i / 4) % 3) * 3 : 0));
  const y = Array.from({ length: n }, (_, i) => i % 3);
  const heap = lab.heapFloats(n * d + d);        // one spare row: subarray picks the n rows
  heap.view().set(x, d);
  const rows = heap.subarray(d, d + n * d);
  for (const kind of ['linear-svm', 'softmax']) {
    const copied = lab.fit(kind, x, y, n, d, { epochs: 3, hidden: 3 }), inPlace = lab.fit(kind, rows, y, n, d, { epochs: 3, hidden: 3 });
    assert.deepEqual(inPlace.save(), copied.save(), `${kind}: the model trained in place differs`);
    assert.deepEqual(inPlace.evaluate(rows, y, n), copied.evaluate(x, y, n));
    assert.deepEqual(inPlace.predict(rows.subarray(0, d), 1), copied.predict(x.subarray(0, d), 1));
    copied.free(); inPlace.free();
  }
  assert.throws(() => lab.fit('linear-svm', rows, y.slice(1), n - 1, d), /features has 48 values, expected 44/);
  assert.throws(() => heap.subarray(0, n * d + d + 1), /bad range/);
  assert.throws(() => other.fit('linear-svm', rows, y, n, d), /heap floats of another DenseLab instance, or freed/);
  assert.throws(() => lab.heapFloats(2 ** 30), /limit of one WebAssembly instance/);
  // softmax val: Keras' validation_split, the last rows held out, their accuracy in the progress.
  const val = [];
  const head = lab.fit('softmax', rows, y, n, d, { epochs: 2, hidden: 3, val: 0.25 }, (phase, step, steps, loss, acc, valAcc) => { val.push(valAcc); });
  assert.equal(val.length, 2);
  for (const v of val) assert.ok(v >= 0 && v <= 1 && Number.isInteger(v * 3), `validation accuracy ${v} is not k / 3 (3 held-out rows)`);
  assert.throws(() => lab.fit('softmax', rows, y, n, d, { val: 0.6 }), /softmax: val must be/);
  head.free();
  heap.free();
  assert.throws(() => lab.fit('linear-svm', rows, y, n, d), /or freed/);
  assert.equal(lab.fit('linear-svm', x, y, n, d).kind, 'linear-svm', 'the instance keeps working');
});

// The Fashion page's fields start with its defaults (web/defaults.js); `fashion` in both CLIs
// starts from the experiment's values (learn/report.c) and the kinds' defaults: they must agree,
// so that the page's full run and the CLI without flags give the same table.
test('the Fashion experiment: the page starts with the parameters the CLIs use without flags', async () => {
  const { FASHION } = await import('../web/defaults.js');
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(need(bin.coreWasm)), coreUrl: pathToFileURL(need(bin.core)).href });
  const kinds = new Map(lab.classifierKinds().map((k) => [k.name, k]));
  const rows = lab.reportRows();
  assert.deepEqual(rows.map((r) => r.name).sort(), Object.keys(FASHION.classifiers).sort());
  assert.equal(rows.find((r) => r.name === 'linear-svm').params.C, 0.001);
  // float16 features for the two SVMs only (learn/report.h: the softmax head moved 0.23 points)
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.name, r.featureType])),
    { 'linear-svm': 'f16', 'rbf-svm': 'f16', softmax: 'f32', finetune: 'f32', 'pixels-linear-svm': 'f32' });
  assert.equal(lab.reportFeatureType('rbf-svm'), 'f16');
  assert.throws(() => lab.reportFeatureType('svm'), /reportFeatureType: unknown row "svm"/);
  for (const row of rows) {
    const kind = kinds.get(row.kind);
    for (const [name, value] of Object.entries(FASHION.classifiers[row.name].params)) {
      const cli = row.params[name] ?? kind.params.find((p) => p.name === name)?.default;
      assert.equal(value, cli, `${row.name}: the page starts ${name} at ${value}, the CLI at ${cli}`);
    }
  }
});
