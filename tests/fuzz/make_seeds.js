#!/usr/bin/env node
// make_seeds.js — writes the small seed corpora of the fuzz harnesses
// (tests/fuzz/corpus/{image,model,idx,classifier}/), and exports the file
// makers it uses (PNG, GIF, BMP, PNM, IDX, DLCLASS1, tiny .dlm models) for
// tests/badinput.test.js. Every seed is made here (or is one of the tiny
// JPEGs in tests/fixtures/images): nothing comes from ../shared.
//
//   node tests/fuzz/make_seeds.js        (re)write the corpora and the made regression seeds
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { convert, crc32 } from '../../models/convert.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

// ---- images -------------------------------------------------------------------

function pngChunk(type, data) {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  data.copy(b, 8);
  b.writeUInt32BE(crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

// PNG of width x height; sample(x, y, c) gives channel c (0..255, or 0..65535 at 16 bits,
// a palette index for color type 3). colorType: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
// Bit depths below 8 are packed MSB first. `chunks` adds e.g. PLTE/tRNS before IDAT.
export function png({ width, height, bitDepth = 8, colorType = 2, sample = (x, y, c) => (x * 37 + y * 91 + c * 53) & 255,
  palette = null, trns = null, declaredWidth = width, declaredHeight = height }) {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const rowBytes = Math.ceil((width * channels * bitDepth) / 8);
  const raw = Buffer.alloc((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) {
      const v = sample(x, y, c), i = x * channels + c;
      if (bitDepth === 16) row.writeUInt16BE(v & 0xffff, 2 * i);
      else if (bitDepth === 8) row[i] = v & 255;
      else row[(i * bitDepth) >> 3] |= (v & ((1 << bitDepth) - 1)) << (8 - bitDepth - ((i * bitDepth) & 7));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(declaredWidth, 0);
  ihdr.writeUInt32BE(declaredHeight, 4);
  ihdr[8] = bitDepth; ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), pngChunk('IHDR', ihdr),
    ...(palette ? [pngChunk('PLTE', Buffer.from(palette.flat()))] : []),
    ...(trns ? [pngChunk('tRNS', Buffer.from(trns))] : []),
    pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

// GIF of frames ([{ width, height, left, top, pixels: indices }]) with a global palette
// (2..128 colors). LZW with 7-bit minimum code size and a clear code before
// every 120 literals keeps every code 8 bits wide: no bit packing needed.
export function gif({ width, height, palette, frames, transparent = -1 }) {
  const bits = Math.max(1, Math.ceil(Math.log2(palette.length)));
  const pal = Buffer.alloc(3 << bits);
  palette.forEach((rgb, i) => pal.set(rgb, 3 * i));
  const parts = [Buffer.from('GIF89a', 'latin1')];
  const lsd = Buffer.alloc(7);
  lsd.writeUInt16LE(width, 0); lsd.writeUInt16LE(height, 2); lsd[4] = 0x80 | 0x70 | (bits - 1);
  parts.push(lsd, pal);
  if (frames.length > 1) parts.push(Buffer.from([0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0'), 3, 1, 0, 0, 0]));
  for (const f of frames) {
    const gce = [0x21, 0xf9, 4, transparent >= 0 ? 1 : 0, 10, 0, Math.max(transparent, 0), 0];
    const desc = Buffer.alloc(10);
    desc[0] = 0x2c;
    desc.writeUInt16LE(f.left ?? 0, 1); desc.writeUInt16LE(f.top ?? 0, 3);
    desc.writeUInt16LE(f.width, 5); desc.writeUInt16LE(f.height, 7);
    const codes = [];
    f.pixels.forEach((p, i) => { if (i % 120 === 0) codes.push(128); codes.push(p); });
    codes.push(129);
    const blocks = [];
    for (let i = 0; i < codes.length; i += 255) { const c = codes.slice(i, i + 255); blocks.push(c.length, ...c); }
    parts.push(Buffer.from(gce), desc, Buffer.from([7, ...blocks, 0]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

// 24-bit BMP (bottom-up), or 8-bit with a palette when `palette` is given.
export function bmp({ width, height, sample = (x, y, c) => (x * 29 + y * 71 + c * 97) & 255, palette = null }) {
  const bpp = palette ? 8 : 24, stride = Math.ceil((width * bpp) / 32) * 4;
  const palBytes = palette ? 4 * palette.length : 0, offset = 54 + palBytes;
  const b = Buffer.alloc(offset + stride * height);
  b.write('BM', 0, 'latin1'); b.writeUInt32LE(b.length, 2); b.writeUInt32LE(offset, 10);
  b.writeUInt32LE(40, 14); b.writeInt32LE(width, 18); b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26); b.writeUInt16LE(bpp, 28); b.writeUInt32LE(stride * height, 34);
  if (palette) { b.writeUInt32LE(palette.length, 46); palette.forEach(([r, g, bl], i) => b.set([bl, g, r, 0], 54 + 4 * i)); }
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const p = offset + (height - 1 - y) * stride;
    if (palette) b[p + x] = sample(x, y, 0) % palette.length;
    else for (let c = 0; c < 3; c++) b[p + 3 * x + 2 - c] = sample(x, y, c);
  }
  return b;
}

// Binary PNM: P5 (gray) or P6 (RGB), maxval 255.
export function pnm({ width, height, gray = false, sample = (x, y, c) => (x * 13 + y * 7 + c * 5) & 255 }) {
  const ch = gray ? 1 : 3, px = Buffer.alloc(width * height * ch);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < ch; c++) px[i * ch + c] = sample(i % width, Math.floor(i / width), c);
  return Buffer.concat([Buffer.from(`${gray ? 'P5' : 'P6'}\n${width} ${height}\n255\n`, 'latin1'), px]);
}

// ---- Fashion-MNIST IDX ------------------------------------------------------------

export function idxImages(count, rows, cols, { magic = 0x00000803, pixel = (i) => (i * 7) & 255 } = {}) {
  const b = Buffer.alloc(16 + count * rows * cols);
  b.writeUInt32BE(magic, 0); b.writeUInt32BE(count, 4); b.writeUInt32BE(rows, 8); b.writeUInt32BE(cols, 12);
  for (let i = 16; i < b.length; i++) b[i] = pixel(i - 16);
  return b;
}

export function idxLabels(labels, { magic = 0x00000801 } = {}) {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(magic, 0); b.writeUInt32BE(labels.length, 4);
  b.set(labels, 8);
  return b;
}

// ---- classifier files (DLCLASS1, learn/classifier.h) --------------------------------

export function classifierFile({ kind, k, d, mean = null, std = null, param = 0, payload }) {
  const body = Buffer.concat([...(mean ? [Buffer.from(Float32Array.from(mean).buffer), Buffer.from(Float32Array.from(std).buffer)] : []), ...payload]);
  const h = Buffer.alloc(40);
  h.write('DLCLASS1', 0, 'latin1');
  h.writeUInt32LE(1, 8); h.writeUInt32LE(kind, 12); h.writeUInt32LE(k, 16); h.writeUInt32LE(d, 20);
  h.writeUInt32LE(mean ? 1 : 0, 24); h.writeUInt32LE(param, 28); h.writeBigUInt64LE(BigInt(body.length), 32);
  const file = Buffer.concat([h, body, Buffer.alloc(4)]);
  file.writeUInt32LE(crc32(file.subarray(0, file.length - 4)), file.length - 4);
  return file;
}

const f32 = (...v) => Buffer.from(Float32Array.from(v).buffer);
const f64 = (...v) => Buffer.from(Float64Array.from(v).buffer);
const u32 = (...v) => Buffer.from(Uint32Array.from(v).buffer);

// ---- tiny model files (models/format.h via models/convert.js) ---------------------

// Every layer type on a 32x32x3 input: pad, strided conv + BN + ReLU, max pool,
// 1x1 'same' conv, concat, average pool, global pooling, dense softmax.
export function tinyModel({ f16 = false, globalPool = 'GlobalAveragePooling2D', classes = 3 } = {}) {
  const w = (shape) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + 1) * 0.5) });
  const ref = (n) => [[[n, 0, 0, {}]]];
  const layers = [
    { name: 'input_1', class_name: 'InputLayer', config: { batch_input_shape: [null, 32, 32, 3] }, inbound_nodes: [] },
    { name: 'pad', class_name: 'ZeroPadding2D', config: { padding: [[1, 1], [1, 1]] }, inbound_nodes: ref('input_1') },
    { name: 'conv1', class_name: 'Conv2D', config: { filters: 4, kernel_size: [3, 3], strides: [2, 2], padding: 'valid', use_bias: true }, inbound_nodes: ref('pad') },
    { name: 'bn', class_name: 'BatchNormalization', config: { axis: [3], epsilon: 1e-3 }, inbound_nodes: ref('conv1') },
    { name: 'relu', class_name: 'Activation', config: { activation: 'relu' }, inbound_nodes: ref('bn') },
    { name: 'pool', class_name: 'MaxPooling2D', config: { pool_size: [2, 2], strides: [2, 2] }, inbound_nodes: ref('relu') },
    { name: 'conv2', class_name: 'Conv2D', config: { filters: 2, kernel_size: [1, 1], strides: [1, 1], padding: 'same', use_bias: false }, inbound_nodes: ref('pool') },
    { name: 'concat', class_name: 'Concatenate', config: { axis: -1 }, inbound_nodes: [[['pool', 0, 0, {}], ['conv2', 0, 0, {}]]] },
    { name: 'avg', class_name: 'AveragePooling2D', config: { pool_size: [2, 2], strides: [2, 2] }, inbound_nodes: ref('concat') },
    { name: 'gpool', class_name: globalPool, config: {}, inbound_nodes: ref('avg') },
    { name: 'fc', class_name: 'Dense', config: { units: classes, use_bias: true, activation: 'softmax' }, inbound_nodes: ref('gpool') },
  ];
  const weights = new Map([
    ['conv1/kernel', w([3, 3, 3, 4])], ['conv1/bias', w([4])], ['bn/gamma', w([4])], ['bn/beta', w([4])],
    ['bn/moving_mean', w([4])], ['bn/moving_variance', { shape: [4], data: new Float32Array(4).fill(1) }],
    ['conv2/kernel', w([1, 1, 4, 2])], ['fc/kernel', w([6, classes])], ['fc/bias', w([classes])],
  ]);
  return convert({ name: 'tiny', layers, weights }, { f16 });
}

// The graph rewrites tinyModel does not reach: a DenseNet-like block whose
// concatenations alias their inputs, an input read by two concatenations (the
// copy-into-concat fallback), a 1x1 convolution before average pooling (the
// pool-first swap), BatchNorm -> ReLU without a convolution, padding before a
// pool (not absorbed), a linear Dense (no softmax).
export function blockModel({ f16 = false } = {}) {
  const w = (shape, v = (i) => Math.cos(i * 0.7) * 0.4) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => v(i)) });
  const bn = (name, c) => [[`${name}/gamma`, w([c])], [`${name}/beta`, w([c])], [`${name}/moving_mean`, w([c])], [`${name}/moving_variance`, w([c], (i) => 1 + (i % 3) * 0.25)]];
  const layer = (name, class_name, config, inputs) => ({ name, class_name, config, inbound_nodes: inputs.length ? [inputs.map((n) => [n, 0, 0, {}])] : [] });
  const conv = (filters, k, padding = 'valid') => ({ filters, kernel_size: [k, k], strides: [1, 1], padding, use_bias: false });
  const layers = [
    layer('input_1', 'InputLayer', { batch_input_shape: [null, 32, 32, 3] }, []),
    layer('conv0', 'Conv2D', conv(4, 3, 'same'), ['input_1']),
    layer('bn0', 'BatchNormalization', { axis: [3], epsilon: 1.001e-5 }, ['conv0']),
    layer('relu0', 'Activation', { activation: 'relu' }, ['bn0']),
    layer('b1_bn', 'BatchNormalization', { axis: [3], epsilon: 1.001e-5 }, ['relu0']),
    layer('b1_relu', 'Activation', { activation: 'relu' }, ['b1_bn']),
    layer('b1_conv', 'Conv2D', conv(2, 1), ['b1_relu']),
    layer('concat1', 'Concatenate', { axis: 3 }, ['relu0', 'b1_conv']),
    layer('concat2', 'Concatenate', { axis: 3 }, ['concat1', 'relu0']),
    layer('trans_conv', 'Conv2D', conv(3, 1), ['concat2']),
    layer('trans_pool', 'AveragePooling2D', { pool_size: [2, 2], strides: [2, 2] }, ['trans_conv']),
    layer('pad', 'ZeroPadding2D', { padding: [[1, 1], [1, 1]] }, ['trans_pool']),
    layer('pool', 'MaxPooling2D', { pool_size: [3, 3], strides: [2, 2] }, ['pad']),
    layer('gpool', 'GlobalMaxPooling2D', {}, ['pool']),
    layer('fc', 'Dense', { units: 4, use_bias: true, activation: 'linear' }, ['gpool']),
  ];
  const weights = new Map([
    ['conv0/kernel', w([3, 3, 3, 4])], ...bn('bn0', 4), ...bn('b1_bn', 4), ['b1_conv/kernel', w([1, 1, 4, 2])],
    ['trans_conv/kernel', w([1, 1, 10, 3])], ['fc/kernel', w([3, 4])], ['fc/bias', w([4])],
  ]);
  return convert({ name: 'block', layers, weights }, { f16 });
}

// Concatenations whose channel counts multiply: 3 -> 3 x 4096 -> x 4096 -> x 64,
// past 2^31 (issue 10, defect 1: the int sum of channels in graph.c overflows).
// No weights: the whole file is 33 KB.
export function concatOverflowModel({ last = 64, relu = false } = {}) {
  const ref = (name, n) => [Array.from({ length: n }, () => [name, 0, 0, {}])];
  const layers = [
    { name: 'input_1', class_name: 'InputLayer', config: { batch_input_shape: [null, 32, 32, 3] }, inbound_nodes: [] },
    { name: 'wide', class_name: 'Concatenate', config: { axis: -1 }, inbound_nodes: ref('input_1', 4096) },
    { name: 'wider', class_name: 'Concatenate', config: { axis: -1 }, inbound_nodes: ref('wide', 4096) },
    { name: 'too_wide', class_name: 'Concatenate', config: { axis: -1 }, inbound_nodes: ref('wider', last) },
    ...(relu ? [{ name: 'relu', class_name: 'Activation', config: { activation: 'relu' }, inbound_nodes: ref('too_wide', 1) }] : []),
  ];
  return convert({ name: 'concat-overflow', layers, weights: new Map() });
}

// The same just below 2^31 channels (3 x 4096 x 4096 x 40), then a ReLU: no
// overflow, but the network needs gigabytes and is accepted (issue 10, defect 2:
// no memory limit; the ReLU's scale and shift alone are 8 GB).
export const hugeActivationModel = () => concatOverflowModel({ last: 40, relu: true });

// ---- the corpora -----------------------------------------------------------------

export function seeds() {
  const fixtures = path.join(root, 'tests/fixtures/images');
  const jpegs = fs.existsSync(fixtures) ? fs.readdirSync(fixtures).filter((f) => f.endsWith('.jpg')).sort() : [];
  const pal = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  const image = {
    'rgb-5x3.png': png({ width: 5, height: 3 }),
    'gray-1x1.png': png({ width: 1, height: 1, colorType: 0 }),
    'gray-alpha-4x4.png': png({ width: 4, height: 4, colorType: 4 }),
    'rgba16-3x2.png': png({ width: 3, height: 2, colorType: 6, bitDepth: 16, sample: (x, y, c) => x * 9000 + y * 300 + c * 7 }),
    'palette2-6x2.png': png({ width: 6, height: 2, colorType: 3, bitDepth: 2, sample: (x) => x % 4, palette: pal, trns: [255, 0] }),
    'anim-4x4.gif': gif({ width: 4, height: 4, palette: pal, transparent: 3, frames: [
      { width: 3, height: 3, left: 1, top: 0, pixels: Array.from({ length: 9 }, (_, i) => i % 4) },
      { width: 4, height: 4, pixels: new Array(16).fill(1) }] }),
    'rgb-7x5.bmp': bmp({ width: 7, height: 5 }),
    'pal-3x3.bmp': bmp({ width: 3, height: 3, palette: pal }),
    'gray-4x3.pgm': pnm({ width: 4, height: 3, gray: true }),
    'rgb-3x2.ppm': pnm({ width: 3, height: 2 }),
  };
  for (const f of jpegs) image[f] = fs.readFileSync(path.join(fixtures, f));

  const withCut = (a, b) => Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a, b]);
  const idx = {
    'pair-3x4x4': withCut(idxImages(3, 4, 4), idxLabels([0, 1, 2])),
    'pair-1x1x1': withCut(idxImages(1, 1, 1), idxLabels([9])),
    'mismatch': withCut(idxImages(2, 2, 3), idxLabels([1, 1, 1])),
    'truncated': withCut(idxImages(4, 3, 3).subarray(0, 40), idxLabels([0, 1, 2, 3]).subarray(0, 10)),
    'swapped': withCut(idxLabels([0, 1]), idxImages(2, 2, 2)),
  };

  const classifier = {
    'linear-std': classifierFile({ kind: 1, k: 2, d: 3, mean: [0, 1, 2], std: [1, 2, 3], payload: [f32(1, -1, 0.5, 0.1, -1, 1, -0.5, -0.1)] }),
    'linear-3class': classifierFile({ kind: 1, k: 3, d: 1, payload: [f32(1, 0, -1, 0, 0.5, 0.5)] }),
    'rbf': classifierFile({ kind: 2, k: 3, d: 2, param: 3, payload: [f64(0.5), u32(1, 1, 1), f64(0.1, -0.2, 0.3),
      f64(1, -1, 0.5, 0.5, 1, -1), f32(0, 0, 1, 1, -1, 2)] }),
    'softmax-hidden': classifierFile({ kind: 3, k: 2, d: 2, param: 2, mean: [0.5, 0.5], std: [1, 1],
      payload: [f32(1, -1, 0.5, 2), f32(0, 0.1), f32(1, -1, -1, 1), f32(0.2, -0.2)] }),
    'softmax-linear': classifierFile({ kind: 3, k: 2, d: 3, payload: [f32(1, -1, 0.5, 2, 0, 1), f32(0, 0.1)] }),
  };

  const model = {
    'tiny.dlm': tinyModel(),
    'tiny-f16.dlm': tinyModel({ f16: true }),
    'tiny-maxpool-10.dlm': tinyModel({ globalPool: 'GlobalMaxPooling2D', classes: 10 }),
    'block.dlm': blockModel(),
    'block-f16.dlm': blockModel({ f16: true }),
  };
  return { image, model, idx, classifier };
}

// Reproducers of reported defects, made rather than found (tests/fuzz/regressions/H/;
// the fuzzers' own findings sit next to them as they were saved).
export function regressionSeeds() {
  return { model: { 'concat-channels-overflow.dlm': concatOverflowModel(), 'huge-activation.dlm': hugeActivationModel() } };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const sets = [...Object.entries(seeds()).map(([h, files]) => ['corpus', h, files]),
    ...Object.entries(regressionSeeds()).map(([h, files]) => ['regressions', h, files])];
  for (const [kind, harness, files] of sets) {
    const dir = path.join(here, kind, harness);
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), bytes);
    const total = Object.values(files).reduce((s, b) => s + b.length, 0);
    console.log(`${path.relative(root, dir)}: ${Object.keys(files).length} files, ${total} bytes`);
  }
}
