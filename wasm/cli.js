#!/usr/bin/env node
// cli.js — the DenseLab command line on the WASM build (the same subcommands
// and output as the native build/native/denselab; both run the same C code).
//
//   node wasm/cli.js classify IMAGE... [--top K] [--json]
//   node wasm/cli.js summary [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]
//   node wasm/cli.js preprocess IMAGE [--size H,W] --out FILE.npy
//   common: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDenseLab } from './denselab.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const paths = {
  core: path.join(root, 'build/wasm/wasm/denselab_core.mjs'),
  wasm: path.join(root, 'build/wasm/wasm/denselab_core.wasm'),
  model: path.join(root, 'build/models/densenet121.dlm'),
  labels: path.join(root, 'build/models/imagenet_class_index.json'),
};

export class UsageError extends Error {}

export async function openLab() {
  if (!fs.existsSync(paths.wasm)) throw new UsageError(`${path.relative(process.cwd(), paths.wasm)} is missing: run ./build.sh`);
  return createDenseLab({ wasmBinary: fs.readFileSync(paths.wasm), coreUrl: pathToFileURL(paths.core).href });
}

function readOrFail(file, what) {
  try { return fs.readFileSync(file); } catch (e) { throw new UsageError(`cannot read ${what}${file}: ${e.code === 'ENOENT' ? 'No such file or directory' : e.message}`); }
}

const KERAS_FLAGS = { '--include-top': 'includeTop', '--weights': 'weights', '--input-shape': 'inputShape', '--pooling': 'pooling', '--classes': 'classes', '--seed': 'seed' };

export function parseArgs(argv) {
  const a = { files: [], top: 5, json: false, model: paths.model, labels: paths.labels, maxPixels: 0, net: {}, extra: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) { a.files.push(arg); continue; }
    if (arg === '--json') { a.json = true; continue; }
    if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
    const v = argv[++i];
    if (arg === '--model') a.model = v;
    else if (arg === '--labels') a.labels = v;
    else if (arg === '--out') a.out = v;
    else if (arg === '--size') a.size = v;
    else if (arg === '--top' || arg === '--max-pixels') {
      if (!/^-?\d+$/.test(v)) throw new UsageError(`${arg} must be an integer, got '${v}'`);
      const x = Number(v);
      if (x < 1) throw new UsageError(`${arg} must be at least 1, got ${x}`);
      if (arg === '--top') a.top = Math.min(x, 100000); else a.maxPixels = x;
    } else if (KERAS_FLAGS[arg]) a.net[KERAS_FLAGS[arg]] = v;
    else if (arg.startsWith('--')) a.extra[arg.slice(2)] = v;
  }
  return a;
}

function loadModel(lab, a) {
  const bytes = readOrFail(a.model, 'model file ');
  try { return lab.loadModelFile(bytes); } catch (e) { throw new UsageError(`${a.model}: ${e.message}`); }
}

// Keras load_img(target_size) + preprocess_input -> Float32Array; UsageError names the file.
export function imageInput(lab, file, [h, w], maxPixels = 0) {
  const bytes = readOrFail(file, '');
  try { return lab.preprocessInput(lab.loadImg(bytes, [h, w], { maxPixels }).rgb); } catch (e) { throw new UsageError(`${file}: ${e.message}`); }
}

async function classify(lab, a, out, err) {
  if (!a.files.length) throw new UsageError('classify needs at least one image');
  try { lab.loadClassIndex(readOrFail(a.labels, 'class index ').toString('utf8')); } catch (e) { throw e instanceof UsageError ? e : new UsageError(`${a.labels}: ${e.message}`); }
  const file = loadModel(lab, a);
  let net;
  try { net = lab.buildNet(file, a.net); } catch (e) { file.free(); throw new UsageError(e.message); }
  const classes = net.outputShape[1];
  if (net.outputShape.length !== 2) throw new UsageError('classify needs a network with a classification top (include_top=true)');
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
export function npyBytes(data, shape) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
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
    const m = /^(\d+),(\d+)$/.exec(a.size);
    if (!m || +m[1] < 1 || +m[2] < 1 || +m[1] > 8192 || +m[2] > 8192) throw new UsageError(`--size must be H,W (1..8192), got '${a.size}'`);
    [h, w] = [+m[1], +m[2]];
  }
  const x = imageInput(lab, a.files[0], [h, w], a.maxPixels);
  try { fs.writeFileSync(a.out, npyBytes(x, [1, h, w, 3])); } catch (e) { throw new UsageError(`cannot write ${a.out}: ${e.message}`); }
  return 0;
}

const USAGE = `usage: node wasm/cli.js classify IMAGE... [--top K] [--json]
       node wasm/cli.js summary [--include-top true|false] [--weights imagenet|none] [--input-shape H,W,C] [--pooling none|avg|max] [--classes N]
       node wasm/cli.js preprocess IMAGE [--size H,W] --out FILE.npy
options: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N
`;

export const COMMANDS = { classify, summary, preprocess };

export async function main(argv, out = (s) => process.stdout.write(s), err = (s) => process.stderr.write(s)) {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') { (cmd ? out : err)(USAGE); return cmd ? 0 : 1; }
  try {
    if (!COMMANDS[cmd]) throw new UsageError(`unknown command '${cmd}' (try --help)`);
    const a = parseArgs(rest);
    const unknown = Object.keys(a.extra).filter((k) => !(COMMANDS[cmd].options ?? []).includes(k));
    if (unknown.length) throw new UsageError(`unknown option --${unknown[0]}`);
    const lab = await openLab();
    return await COMMANDS[cmd](lab, a, out, err);
  } catch (e) {
    err(`denselab: ${e instanceof UsageError ? e.message : e.stack ?? e}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
