#!/usr/bin/env node
// cli.js — the DenseLab command line on the WASM build (the same subcommands
// and output as the native build/native/denselab; both run the same C code).
//
//   node wasm/cli.js classify IMAGE... [--top K] [--json]
//   node wasm/cli.js summary [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]
//   node wasm/cli.js preprocess IMAGE [--size H,W] --out FILE.npy
//   node wasm/cli.js predict IMAGE... --out FILE.npy [Keras arguments as for summary]
//   node wasm/cli.js features --size S [--train N] [--test M] --out FILE.npy
//   node wasm/cli.js fashion --size S --train N --test M --classifier linear-svm|rbf-svm|softmax|finetune|pixels-linear-svm|all [--C 1] [--json] [--feature-type f16|f32]
//   node wasm/cli.js train DIR [--cv auto|loo|K | --holdout F] [--out FILE.dlproj] [--json]   (your own classes)
//   node wasm/cli.js classify --classifier FILE.dlproj IMAGE... [--json]
//   node wasm/cli.js bench [--json] [--quick] [--only 1,2,...] (DenseLab vs TF.js-wasm, LIBLINEAR, LIBSVM: see bench/bench.js)
//   common: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N
import fs from 'node:fs';
import v8 from 'node:v8';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { availableThreads, MAX_PIXELS, MAX_THREADS } from './denselab.js';
import { files, openDenseLab, VERSION } from './node.js';
import { crossValidate, imageFeatures, openTrainedClassifier, trainProject } from './train.js';
import { blockNet, classifierNames, classifierOptions, FASHION_FILES, classifierInputs, featureNet, parseSplit, runClassifier, runRbfPairs } from './experiment.js';
import { nodePairWorkers } from './rbf-pair-worker.js';
import os from 'node:os';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const paths = files;

export class UsageError extends Error {}

// A file system error in the words the native CLI prints (strerror).
const errnoText = (e) => ({ ENOENT: 'No such file or directory', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EACCES: 'Permission denied' }[e.code] ?? e.message);

// V8 starts wasm in its baseline tier (Liftoff) and does not swap a running call to
// optimized code: a long network run could stay ~4x slower. Compile optimized at once.
v8.setFlagsFromString('--no-liftoff');

// threads: as given (--threads N), else every core when the threaded build is there.
export async function openLab(threads) {
  threads ??= fs.existsSync(files.wasmThreads) ? await availableThreads() : 1;
  try { return await openDenseLab({ threads }); } catch (e) { throw new UsageError(e.message); }
}

// What one file read may bring into memory (the same limits as cli/denselab.c):
// an endless or huge input (/dev/zero) fails at once with a reason.
const MB = 1 << 20;
export const LIMITS = { image: 256 * MB, model: 1024 * MB, labels: 64 * MB, dataset: 256 * MB };

// The whole file, at most limit bytes; regularOnly refuses devices, pipes, directories.
function readOrFail(file, what, limit = LIMITS.image, regularOnly = false) {
  const tooLarge = () => new UsageError(`cannot read ${what}${file}: larger than the ${limit / MB} MB limit`);
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (regularOnly && !st.isFile()) throw new UsageError(`cannot read ${what}${file}: not a regular file`);
    if (st.isFile() && st.size > limit) throw tooLarge();
    const chunks = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.isFile() ? st.size : 0, MB), limit + 1 - total));
      const got = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      chunks.push(got === chunk.length ? chunk : chunk.subarray(0, got));
      total += got;
      if (total > limit) throw tooLarge();
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${what}${file}: ${errnoText(e)}`);
  } finally { if (fd !== undefined) fs.closeSync(fd); }
}

// Numeric options are parsed strictly and alike on both CLIs (cli/denselab.c): an
// integer is digits only ('32abc', ' 32', '0x20' are refused), and a value out of
// range is reported as given, however long.
export function intArg(name, v, lo, hi) {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} must be an integer, got '${v}'`);
  const x = BigInt(v);
  if (x < BigInt(lo)) throw new UsageError(`${name} must be at least ${lo}, got ${v}`);
  if (x > BigInt(hi)) throw new UsageError(`${name} must be at most ${hi}, got ${v}`);
  return Number(x);
}

const KERAS_FLAGS = { '--include-top': 'includeTop', '--weights': 'weights', '--input-shape': 'inputShape', '--pooling': 'pooling', '--classes': 'classes', '--seed': 'seed', '--max-memory': 'maxMemory' };

export function parseArgs(argv) {
  const a = { files: [], top: 5, json: false, model: paths.model, labels: paths.labels, maxPixels: 0, net: {}, extra: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) { a.files.push(arg); continue; }
    if (arg === '--json' || arg === '--quick') { a[arg.slice(2)] = true; continue; }
    if (arg === '--gray-to-rgb') { a.net.grayToRgb = true; continue; }   // DenseLab's extension (not Keras)
    if (arg === '--with-images') { a.withImages = true; continue; }
    if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
    const v = argv[++i];
    if (arg === '--model') a.model = v;
    else if (arg === '--labels') a.labels = v;
    else if (arg === '--out') a.out = v;
    else if (arg === '--size') a.size = v;
    else if (arg === '--top') a.top = intArg(arg, v, 1, 100000);
    else if (arg === '--threads') a.threads = intArg(arg, v, 1, MAX_THREADS);
    else if (arg === '--max-pixels') a.maxPixels = intArg(arg, v, 1, MAX_PIXELS);   // the same range natively (models/image.h)
    else if (KERAS_FLAGS[arg]) a.net[KERAS_FLAGS[arg]] = v;
    else if (arg.startsWith('--')) a.extra[arg.slice(2)] = v;
  }
  return a;
}

function loadModel(lab, a) {
  const bytes = readOrFail(a.model, 'model file ', LIMITS.model, true);
  try { return lab.loadModelFile(bytes); } catch (e) { throw new UsageError(`${a.model}: ${e.message}`); }
}

// Keras load_img(target_size) + preprocess_input -> Float32Array; UsageError names the file.
export function imageInput(lab, file, [h, w], maxPixels = 0) {
  const bytes = readOrFail(file, '');
  try { return lab.preprocessInput(lab.loadImg(bytes, [h, w], { maxPixels }).rgb); } catch (e) { throw new UsageError(`${file}: ${e.message}`); }
}

async function classify(lab, a, out, err) {
  // --classifier FILE: a trained classifier file (DLPROJ01); --project FILE is the same.
  if (a.extra.project !== undefined || a.extra.classifier !== undefined) return classifyProject(lab, a, out, err);
  if (!a.files.length) throw new UsageError('classify needs at least one image');
  try { lab.loadClassIndex(readOrFail(a.labels, 'class index ', LIMITS.labels).toString('utf8')); } catch (e) { throw e instanceof UsageError ? e : new UsageError(`${a.labels}: ${e.message}`); }
  const file = loadModel(lab, a);
  let net;
  try { net = lab.buildNet(file, a.net); } catch (e) { file.free(); throw new UsageError(e.message); }
  const classes = net.outputShape[1];
  if (net.outputShape.length !== 2) throw new UsageError('classify needs a network with a classification top (include_top=true)');
  try { lab.checkDecodePredictions(1, classes); } catch (e) { throw new UsageError(e.message); }   // Keras's error for classes != 1000
  if (a.top > classes) throw new UsageError(`--top must be at most the number of classes (${classes}), got ${a.top}`);
  let status = 0;
  const results = [];
  for (const image of a.files) {
    try {
      const probs = net.predict(imageInput(lab, image, net.inputShape, a.maxPixels));
      const text = lab.formatTopK(probs, a.top, a.json);
      if (a.json) results.push(`{"image": ${JSON.stringify(image)}, "predictions": ${text}}`);
      else out(a.files.length > 1 ? `${image}: ${text}\n` : `${text}\n`);
    } catch (e) {
      err(`denselab: ${e instanceof UsageError ? e.message : `${image}: ${e.message}`}\n`);
      status = 1;
    }
  }
  if (a.json) out(`[${results.join(', ')}]\n`);
  net.free(); file.free();
  return status;
}

function summary(lab, a, out) {
  const file = loadModel(lab, a);
  try {
    const net = lab.buildNet(file, a.net);
    out(net.summary().text);
    net.free();
  } catch (e) { throw new UsageError(e.message); } finally { file.free(); }
  return 0;
}

// numpy .npy v1.0, little-endian float32, C order.
export function npyBytes(data, shape, descr = '<f4') {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function preprocess(lab, a) {
  if (a.files.length !== 1) throw new UsageError('preprocess needs exactly one image');
  if (!a.out) throw new UsageError('preprocess needs --out FILE.npy');
  let [h, w] = [224, 224];
  if (a.size) {
    const m = /^(\d{1,5}),(\d{1,5})$/.exec(a.size);
    if (!m || +m[1] < 1 || +m[2] < 1 || +m[1] > 8192 || +m[2] > 8192) throw new UsageError(`--size must be H,W (1..8192), got '${a.size}'`);
    [h, w] = [+m[1], +m[2]];
  }
  const x = imageInput(lab, a.files[0], [h, w], a.maxPixels);
  try { fs.writeFileSync(a.out, npyBytes(x, [1, h, w, 3])); } catch (e) { throw new UsageError(`cannot write ${a.out}: ${e.message}`); }
  return 0;
}

// ---- Fashion-MNIST ----

const FASHION_DIRS = ['/usr/share/datasets/fashion-mnist', path.join(root, 'build/downloads/fashion-mnist')];

function intOption(a, key, def, lo = 1) {
  return a.extra[key] === undefined ? def : intArg(`--${key}`, a.extra[key], lo, 1000000);
}

function loadSplit(lab, a, name, want) {
  const dir = a.extra.data ?? FASHION_DIRS.find((d) => fs.existsSync(path.join(d, FASHION_FILES.train[0])));
  if (!dir) throw new UsageError("Fashion-MNIST not found (install Debian's dataset-fashion-mnist, run ./build.sh, or pass --data DIR)");
  const [img, lbl] = FASHION_FILES[name].map((f) => {
    const file = path.join(dir, f);
    const gz = readOrFail(file, '', LIMITS.dataset);
    try { return zlib.gunzipSync(gz, { maxOutputLength: LIMITS.dataset }); } catch (e) {
      if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new UsageError(`${file}: inflated data larger than the ${LIMITS.dataset / MB} MB limit`);
      throw new UsageError(`${file}: corrupt or truncated gzip (${e.message})`);
    }
  });
  let split;
  try { split = parseSplit(lab, name, img, lbl); } catch (e) { throw new UsageError(`${dir}: ${e.message}`); }
  if (want > split.count) throw new UsageError(`--${name} ${want}: the ${name} set has only ${split.count} images`);
  return split;
}

function progressPrinter(err) {
  let last = 0, lastStep = -1;
  return (phase, step, steps, loss, trainAcc, valAcc, valLoss) => {
    if (phase === 'softmax') { if (step !== lastStep) err(`softmax: epoch ${step}/${steps} loss ${loss.toFixed(4)} train accuracy ${trainAcc.toFixed(4)}\n`); }
    else if (phase === 'finetune') { if (step !== lastStep) err(`finetune: epoch ${step}/${steps} loss ${loss.toFixed(4)} accuracy ${trainAcc.toFixed(4)} val_loss ${valLoss.toFixed(4)} val_accuracy ${valAcc.toFixed(4)}\n`); }
    else if ((step !== lastStep && Date.now() - last > 1000) || step === steps) { last = Date.now(); err(`\r${phase}: ${step}/${steps}${step === steps ? '\n' : ''}`); }
    lastStep = step;
    return false;
  };
}

function sizeOption(a) {
  return a.size === undefined ? 32 : intArg('--size', a.size, 32, 1024);
}

function splitFeatures(lab, net, split, n, a, progress) {
  try { return lab.grayFeatures(net, split.images, split.cols, split.rows, n, { batch: intOption(a, 'batch', 32), onProgress: progress }); } catch (e) { throw new UsageError(`features: ${e.message}`); }
}

async function features(lab, a, out, err) {
  if (!a.out) throw new UsageError('features needs --out FILE.npy');
  const nTrain = intOption(a, 'train', 60000), nTest = intOption(a, 'test', 10000), size = sizeOption(a);
  const train = loadSplit(lab, a, 'train', nTrain), test = loadSplit(lab, a, 'test', nTest);
  const file = loadModel(lab, a);
  const net = featureNet(lab, file, size);
  const progress = a.json ? undefined : progressPrinter(err);
  const d = net.outputSize, x = new Float32Array((nTrain + nTest) * d);
  x.set(splitFeatures(lab, net, train, nTrain, a, progress), 0);
  x.set(splitFeatures(lab, net, test, nTest, a, progress), nTrain * d);
  const y = Int32Array.from([...train.labels.subarray(0, nTrain), ...test.labels.subarray(0, nTest)]);
  const labelsPath = `${a.out.replace(/\.npy$/, '')}.labels.npy`;
  try {
    fs.writeFileSync(a.out, npyBytes(x, [nTrain + nTest, d]));
    fs.writeFileSync(labelsPath, npyBytes(y, [nTrain + nTest], '<i4'));
  } catch (e) { throw new UsageError(`cannot write ${a.out}: ${e.message}`); }
  err(`wrote ${a.out} (${nTrain + nTest} x ${d} float32: ${nTrain} train then ${nTest} test) and ${labelsPath} (int32 labels)\n`);
  net.free(); file.free();
  return 0;
}

async function fashion(lab, a, out, err) {
  const which = a.extra.classifier ?? 'all';
  const names = classifierNames(lab);
  if (which !== 'all' && !names.includes(which)) throw new UsageError(`--classifier must be ${names.join(', ')} or all, got '${which}'`);
  const chosen = which === 'all' ? names : [which];
  const n = intOption(a, 'train', 60000), m = intOption(a, 'test', 10000), size = sizeOption(a), rbfMax = intOption(a, 'rbf-max', 1000000);
  let params;   // the kinds' parameters (learn/experiment.c's table), in the native CLI's words
  try { params = classifierOptions(lab, a.extra); } catch (e) { throw new UsageError(e.message); }
  const featureType = featureTypeOption(lab, a);   // row name -> 'f16' | 'f32'
  const train = loadSplit(lab, a, 'train', n), test = loadSplit(lab, a, 'test', m);
  const progress = a.json ? undefined : progressPrinter(err);
  let featureSeconds = 0, ftr, fte, d = 0;
  const block = new Set(lab.reportRows().filter((r) => r.blockInput).map((r) => r.name)), blockFeatures = {};
  if (chosen.some((c) => c !== 'pixels-linear-svm' && !block.has(c))) {
    const file = loadModel(lab, a);
    const net = featureNet(lab, file, size);
    const t0 = Date.now();
    ftr = splitFeatures(lab, net, train, n, a, progress);
    fte = splitFeatures(lab, net, test, m, a, progress);
    featureSeconds = (Date.now() - t0) / 1000;
    d = net.outputSize;
    net.free(); file.free();
  }
  if (chosen.some((c) => block.has(c))) {   // fine-tuning: the frozen part's output, and conv5's weights
    const file = loadModel(lab, a);
    let net;
    try { net = blockNet(lab, file, size); lab.setFinetuneBase(file); } catch (e) { throw new UsageError(`finetune: ${e.message}`); }
    const t0 = Date.now();
    Object.assign(blockFeatures, { train: splitFeatures(lab, net, train, n, a, progress), test: splitFeatures(lab, net, test, m, a, progress), d: net.outputSize });
    featureSeconds += (Date.now() - t0) / 1000;
    net.free(); file.free();
  }
  const halves = ftr && chosen.some((c) => c !== 'pixels-linear-svm' && !block.has(c) && featureType(c) === 'f16') && storeHalves(lab, { ftr, fte, n, m, d });
  const json = Boolean(a.json);
  out(lab.formatReportHead({ json, size, n, m, featureSeconds, haveFeatures: Boolean(ftr || blockFeatures.train) }));
  const workers = intOption(a, 'workers', os.availableParallelism());
  for (const [i, name] of chosen.entries()) {
    const features = block.has(name) ? blockFeatures : featureType(name) === 'f16' ? { d, train: halves.train, test: halves.test } : { d, train: ftr, test: fte };
    const { train: tr, test: te } = classifierInputs(lab, name, train, test, n, m, features, rbfMax);
    let r;
    try {
      const rowParams = { ...lab.reportRows().find((row) => row.name === name).params, ...params };   // the experiment's values, then the flags
      r = name === 'rbf-svm' ? await rbfRow(lab, tr, te, rowParams, workers, a.json ? null : err) : runClassifier(lab, name, tr, te, rowParams, progress);
    } catch (e) { throw new UsageError(`${name}: ${e.message}`); }
    out(lab.formatReportRow({ json, first: i === 0, name, n: tr.n, seconds: r.train_seconds, accuracy: r.test_accuracy, confusion: r.confusion }));
  }
  out(lab.formatReportTail({ json }));
  if (halves) halves.free();
  return 0;
}

// --feature-type f32|f16: every row's features stored so; without it, each row's as the experiment
// stores them (learn/report.h: float16 for the two SVMs, float32 for the others), as the page does.
// -> row name -> 'f16' | 'f32'.
function featureTypeOption(lab, a) {
  const t = a.extra['feature-type'];
  if (t !== undefined && t !== 'f32' && t !== 'f16') throw new UsageError(`--feature-type must be f32 or f16, got '${t}'`);
  return (row) => t ?? lab.reportFeatureType(row);
}

// The features as halves in the lab's heap (the C kernel rounds them, as the page's worker does),
// for the rows that read float16; -> { train, test, free() }.
function storeHalves(lab, { ftr, fte, n, m, d }) {
  const h = lab.heapHalves((n + m) * d, 'features');
  h.put(0, ftr);
  h.put(n * d, fte);
  return { train: h.subarray(0, n * d), test: h.subarray(n * d), free: () => h.free() };
}

// The RBF SVM's pairs over `workers` worker threads, each its own WASM instance (wasm/rbf-pairs.js);
// on the threaded build with that many threads, on its own threads instead (the rows in place,
// no second instance): the same bytes.
async function rbfRow(lab, train, test, params, workers, err) {
  const threads = Math.min(workers, 45);
  if (threads > 1 && lab.threadCount() > 1 && threads <= lab.core.dlThreadPool + 1) {
    const before = lab.threadCount();
    lab.setThreads(threads);
    try { return await runRbfPairs(lab, train, test, params, { here: true, onPair: rbfPairLine(err) }); } finally { lab.setThreads(before); }
  }
  const pool = nodePairWorkers(threads, { wasm: paths.wasm, core: pathToFileURL(paths.core).href });
  try { return await runRbfPairs(lab, train, test, params, { runners: pool.runners, onPair: rbfPairLine(err) }); } finally { await pool.close(); }
}

const rbfPairLine = (err) => err && ((p) => err(`rbf-svm: pair (${p.ci},${p.cj}) done, ${p.done}/${p.total} pairs, ${p.seconds.toFixed(0)} s, ETA ${p.eta.toFixed(0)} s\n`));

features.options = ['train', 'test', 'batch', 'data'];
// fashion also takes every parameter of the classifier table (learn/experiment.c), as --NAME or --NA-ME.
fashion.options = [...features.options, 'classifier', 'rbf-max', 'workers', 'feature-type'];
fashion.classifierParams = true;

// model.predict on images (load_img at the network's input size + preprocess_input) -> .npy
function predict(lab, a) {
  if (!a.files.length) throw new UsageError('predict needs at least one image');
  if (!a.out) throw new UsageError('predict needs --out FILE.npy');
  const file = loadModel(lab, a);
  try {
    let net;
    try { net = lab.buildNet(file, a.net); } catch (e) { throw new UsageError(e.message); }
    try {
      if (net.inputShape[2] !== 3) throw new UsageError('predict on images needs a 3-channel input_shape');
      const y = new Float32Array(a.files.length * net.outputSize);
      a.files.forEach((image, i) => y.set(net.predict(imageInput(lab, image, net.inputShape, a.maxPixels)), i * net.outputSize));
      try { fs.writeFileSync(a.out, npyBytes(y, [a.files.length, ...net.outputShape.slice(1)])); } catch (e) { throw new UsageError(`cannot write ${a.out}: ${e.message}`); }
    } finally { net.free(); }
  } finally { file.free(); }
  return 0;
}

// ---- train: your own classes (learn/train.h; the same output as cli/denselab.c) ----

LIMITS.project = 1024 * MB;

// Sub-folders (dirs) or regular files of dir, hidden ones skipped, in byte order as natively.
function listDir(dir, dirs) {
  let names;
  try { names = fs.readdirSync(dir); } catch (e) {
    throw new UsageError(`cannot read folder ${dir}: ${errnoText(e)}`);
  }
  return names.filter((name) => {
    if (name.startsWith('.')) return false;
    try { const st = fs.statSync(`${dir}/${name}`); return dirs ? st.isDirectory() : st.isFile(); } catch { return false; }
  }).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
}

// --cv auto|loo|K -> 0 (auto), 1 (leave-one-out) or K >= 2, as natively.
function cvOption(v) {
  if (v === undefined || v === 'auto') return 0;
  return v === 'loo' ? 1 : intArg('--cv', v, 2, 100000);
}

// --holdout F: 0 < F < 1 (0 when absent), in the same words as natively.
function holdoutOption(a) {
  const v = a.extra.holdout;
  if (v === undefined) return 0;
  const f = Number(v);
  if (!/^[0-9.eE+-]+$/.test(v) || !(f > 0 && f < 1)) throw new UsageError(`--holdout must be a fraction above 0 and below 1, got '${v}'`);
  if (a.extra.cv !== undefined) throw new UsageError('--holdout and --cv: choose one way to evaluate');
  return f;
}

async function train(lab, a, out, err) {
  if (a.files.length !== 1) throw new UsageError('train needs one folder (one sub-folder of images per class)');
  const chosen = a.extra.classifier ?? 'all', kind = chosen === 'all' ? 'linear-svm' : chosen;
  const size = a.size === undefined ? 224 : intArg('--size', a.size, 32, 1024), cv = cvOption(a.extra.cv), holdout = holdoutOption(a);
  let project;
  try { project = lab.newProject({ size, cv, holdout, kind, params: classifierOptions(lab, a.extra) }); } catch (e) { throw new UsageError(e.message); }
  let file, net;
  try {
    const dir = a.files[0], classes = listDir(dir, true);
    const most = lab.projectMaxClasses();
    if (classes.length < 2 || classes.length > most) throw new UsageError(`${dir} holds ${classes.length} class folders (2 to ${most} needed)`);
    for (const name of classes) {
      try { project.addClass(name); } catch (e) { throw new UsageError(`${name}: ${e.message}`); }
    }
    file = loadModel(lab, a);
    net = featureNet(lab, file, size);
    const rows = [], y = [];
    classes.forEach((name, c) => {
      for (const image of listDir(`${dir}/${name}`, false)) {
        const where = `${dir}/${name}/${image}`;
        try {
          const bytes = readOrFail(where, '');
          try { rows.push(imageFeatures(lab, net, bytes, a.maxPixels)); } catch (e) { throw new UsageError(`${where}: ${e.message}`); }
          y.push(c);
          if (a.withImages) try { project.addImage(c, image, bytes); } catch (e) { throw Object.assign(new UsageError(`${where}: ${e.message}`), { fatal: true }); }
        } catch (e) {
          if (e.fatal) throw e;
          err(`denselab: ${e.message}\ndenselab: skipped ${where}\n`);
        }
      }
    });
    const d = net.outputSize, x = new Float32Array(y.length * d);
    rows.forEach((r, i) => x.set(r, i * d));
    let cv, result;
    try { cv = project.cvFolds(y); } catch (e) { throw new UsageError(e.message); }
    try { result = crossValidate(project, x, y, d, undefined, cv); } catch (e) { throw new UsageError(`cross-validation: ${e.message}`); }
    out(project.formatReport({ json: Boolean(a.json), confusion: result.confusion, n: y.length, folds: result.folds }));
    const save = a.extra.project ?? a.extra.save ?? a.out;
    if (save) {
      try {
        trainProject(lab, project, x, y, d);
        fs.writeFileSync(save, project.save());
      } catch (e) {
        throw new UsageError(`${save}: ${errnoText(e)}`);
      }
      err(`wrote ${save} (${classes.length} classes, ${y.length} images${a.withImages ? ' included' : ''})\n`);
    }
  } finally { net?.free(); file?.free(); project.free(); }
  return 0;
}
train.options = ['classifier', 'cv', 'holdout', 'project', 'save'];
train.classifierParams = true;

async function classifyProject(lab, a, out, err) {
  if (!a.files.length) throw new UsageError('classify needs at least one image');
  const where = a.extra.project ?? a.extra.classifier, bytes = readOrFail(where, 'project ', LIMITS.project);
  const file = loadModel(lab, a);
  let own, status = 0;
  try {
    try { own = openTrainedClassifier(lab, bytes, file); } catch (e) { throw new UsageError(`${where}: ${e.message}`); }
    const results = [];
    for (const image of a.files) {
      try {
        const imageBytes = readOrFail(image, '');
        let text;
        try { text = own.format(own.classify(imageBytes, { maxPixels: a.maxPixels }).scores, a.json); } catch (e) { throw new UsageError(`${image}: ${e.message}`); }
        if (a.json) results.push(`{"image": ${JSON.stringify(image)}${text}}`);
        else out(`${image}:${text}\n`);
      } catch (e) {
        err(`denselab: ${e.message}\n`);
        status = 1;
      }
    }
    if (a.json) out(`[${results.join(', ')}]\n`);
  } finally { own?.free(); file.free(); }
  return status;
}
classify.options = ['project', 'classifier'];

// ---- export-onnx: DenseNet121 + a project's classifier as one .onnx file (onnx/export.h) ----

async function exportOnnx(lab, a, out) {
  if (!a.out) throw new UsageError('export-onnx needs --out FILE.onnx');
  if (a.files.length) throw new UsageError(`export-onnx takes no file arguments (got ${a.files[0]}; the project is --project FILE)`);
  const where = a.extra.project ?? a.extra.classifier;   // --classifier FILE, as classify; --project FILE is the same
  let project = null, file, onnx;
  if (where !== undefined) {
    const bytes = readOrFail(where, 'project ', LIMITS.project);
    try { project = lab.loadProject(bytes); } catch (e) { throw new UsageError(`${where}: ${e.message}`); }
  }
  try {
    file = loadModel(lab, a);
    try { onnx = lab.exportOnnx(file, { ...a.net, project, json: Boolean(a.json) }); } catch (e) { throw new UsageError(project ? `${where}: ${e.message}` : e.message); }
    try { fs.writeFileSync(a.out, onnx.bytes); } catch (e) {
      throw new UsageError(`${a.out}: ${errnoText(e)}`);
    }
    out(a.json ? `{"out": ${JSON.stringify(a.out)}, ${onnx.about}}\n` : `wrote ${a.out}\n${onnx.about}`);
  } finally { file?.free(); project?.free(); }
  return 0;
}
exportOnnx.options = ['project', 'classifier'];

const USAGE = `usage: node wasm/cli.js classify IMAGE... [--top K] [--json]
       node wasm/cli.js summary [--include-top true|false] [--weights imagenet|none] [--input-shape H,W,C] [--pooling none|avg|max] [--classes N]
       node wasm/cli.js preprocess IMAGE [--size H,W] --out FILE.npy
       node wasm/cli.js predict IMAGE... --out FILE.npy [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]
       node wasm/cli.js features --size S [--train N] [--test M] --out FILE.npy [--batch B] [--data DIR]
       node wasm/cli.js fashion --size S --train N --test M --classifier linear-svm|rbf-svm|softmax|finetune|pixels-linear-svm|all
                                [--rbf-max N (default: all)] [--workers N] [--json] [--data DIR] [--feature-type f16|f32 (default: f16 for the SVMs, f32 for the others)] [classifier parameters: --C 1, --gamma, --epochs 10, ...;
                                 build/native/denselab --help lists them all]
       node wasm/cli.js bench [--json] [--quick] [--only 1,2,...] [--runs N] [--warmup N] [--batch B] [--svm-runs N] [--page-c C] [--clock wall|cpu]
       node wasm/cli.js train DIR [--size 224] [--classifier linear-svm|rbf-svm|softmax] [--PARAM VALUE]... [--cv auto|loo|K | --holdout F]
                             [--out FILE.dlproj] [--with-images] [--json]   (DIR: one sub-folder of images per class)
       node wasm/cli.js classify --classifier FILE.dlproj IMAGE... [--json]   (a file from train --out or the page; --project FILE: the same)
       node wasm/cli.js export-onnx --classifier FILE.dlproj --out FILE.onnx [--json]   (without --classifier: the network of the Keras arguments)
       node wasm/cli.js --version
options: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N  --max-memory BYTES|512MB|2GB
         --gray-to-rgb: a 1-channel --input-shape repeats the gray channel 3x for the ImageNet weights (not Keras)
         --threads N (threads for one image; default: the number of cores, with the threaded build)
`;

// The benchmark harness (bench/bench.js) is loaded only when asked for.
async function bench(lab, a, out, err) {
  let run;
  try { ({ bench: run } = await import('../bench/bench.js')); } catch (e) {
    if (e.code === 'ERR_MODULE_NOT_FOUND' && /bench[/\\]bench\.js/.test(e.message)) throw new UsageError('bench needs the repository (bench/ and its peers); the npm package does not include it');
    throw e;
  }
  try { return await run(lab, a, out, err); } catch (e) { throw new UsageError(e.message); }
}
bench.options = ['clock', 'only', 'runs', 'warmup', 'batch', 'svm-runs', 'rbf-train', 'page-c'];

export const COMMANDS = { classify, summary, preprocess, predict, features, fashion, bench, train };
COMMANDS['export-onnx'] = exportOnnx;

export async function main(argv, out = (s) => process.stdout.write(s), err = (s) => process.stderr.write(s)) {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') { (cmd ? out : err)(USAGE); return cmd ? 0 : 1; }
  if (cmd === '--version') { out(`denselab ${VERSION}\n`); return 0; }
  try {
    if (!COMMANDS[cmd]) throw new UsageError(`unknown command '${cmd}' (try --help)`);
    const a = parseArgs(rest);
    const lab = await openLab(a.threads);
    const params = COMMANDS[cmd].classifierParams ? lab.classifierKinds().flatMap((k) => k.params.map((p) => p.name)) : [];
    const known = (k) => (COMMANDS[cmd].options ?? []).includes(k) || params.includes(k.replace(/-/g, '_'));
    const unknown = Object.keys(a.extra).filter((k) => !known(k));
    if (unknown.length) throw new UsageError(`unknown option --${unknown[0]}`);
    return await COMMANDS[cmd](lab, a, out, err);
  } catch (e) {
    // One line: the reason (an Error from the JS API or the core), never a stack trace.
    err(`denselab: ${String(e?.message ?? e).split('\n')[0]}\n`);
    return 1;
  }
}

// Run as a program (also through npm's bin symlink, hence realpath), not when imported.
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
