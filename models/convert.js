#!/usr/bin/env node
// convert.js — TF.js layers export (model.json + shards) -> one DenseLab model file (.dlm).
//
//   node models/convert.js MODEL_DIR OUT.dlm [--f16] [--keep-topology]
//
// The file layout is described in models/format.h. The DenseNet121 export in
// ../shared was made with Keras 2.1.4, which lacks the final ReLU between `bn`
// and `avg_pool` that current Keras (and the trained network) have; unless
// --keep-topology is given, that ReLU is inserted here so the outputs match
// current Keras DenseNet121(weights='imagenet').
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The layer types, activations and parameter slots are defined once, in
// models/format.h; they are read from it here:
//   LAYER      Keras class name -> type  (the DL_LAYER_TYPES table)
//   ACTIVATION 'relu' -> 1 ...           (enum dl_activation)
//   P          DL_CONV_USE_BIAS -> 6 ... (every other named enum value)
export function readFormat(text = fs.readFileSync(new URL('./format.h', import.meta.url), 'utf8')) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '');
  const LAYER = {}, ACTIVATION = {}, P = {};
  for (const [, name, value, keras] of code.matchAll(/X\((DL_\w+),\s*(\d+),\s*"(\w+)"\)/g)) {
    LAYER[keras] = Number(value);
    P[name] = Number(value);
  }
  for (const [, tag, body] of code.matchAll(/enum\s+(\w+)\s*\{([^}]*)\}/g)) {
    for (const [, name, value] of body.matchAll(/(DL_\w+)\s*=\s*(\d+)/g)) {
      if (tag === 'dl_activation') ACTIVATION[name.slice(3).toLowerCase()] = Number(value);
      else P[name] = Number(value);
    }
  }
  if (!Object.keys(LAYER).length || !Object.keys(ACTIVATION).length) fail('models/format.h: layer or activation table not found');
  return { LAYER, ACTIVATION, P };
}
export const { LAYER, ACTIVATION, P } = readFormat();
const WEIGHT_ORDER = {
  Conv2D: ['kernel', 'bias'],
  BatchNormalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'],
  Dense: ['kernel', 'bias'],
};

function fail(msg) { throw new Error(msg); }

// Read model.json and its shards into { layers, weights: Map(name -> {shape, data: Float32Array}) }.
export function readTfjsExport(dir) {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) fail(`no model.json in ${dir}`);
  let model;
  try { model = JSON.parse(fs.readFileSync(jsonPath, 'utf8')); } catch (e) { fail(`${jsonPath}: not valid JSON (${e.message})`); }
  const config = model?.modelTopology?.model_config?.config ?? model?.modelTopology?.config;
  if (!config || !Array.isArray(config.layers)) fail(`${jsonPath}: no Keras functional model topology`);
  const weights = new Map();
  for (const group of model.weightsManifest ?? []) {
    const bytes = Buffer.concat(group.paths.map((p) => {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) fail(`missing weight shard ${p} (listed in model.json)`);
      return fs.readFileSync(file);
    }));
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32') fail(`weight ${w.name}: dtype ${w.dtype} not supported`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > bytes.length) fail(`weight shard for ${w.name} is truncated`);
      const data = new Float32Array(count);
      Buffer.from(data.buffer).set(bytes.subarray(offset, offset + count * 4));
      weights.set(w.name, { shape: w.shape, data });
      offset += count * 4;
    }
    if (offset !== bytes.length) fail(`weight group ${group.paths.join(',')}: ${bytes.length - offset} unexpected trailing bytes`);
  }
  return { name: config.name ?? 'model', layers: config.layers, weights };
}

// Current Keras's DenseNets apply ReLU after the final `bn`; the 2.1.4 export does not.
export function insertFinalRelu(layers, modelName) {
  if (!/^densenet/.test(modelName) || layers.some((l) => l.name === 'relu')) return layers;
  const bn = layers.findIndex((l) => l.name === 'bn' && l.class_name === 'BatchNormalization');
  if (bn < 0) return layers;
  const relu = { name: 'relu', class_name: 'Activation', config: { name: 'relu', activation: 'relu' },
    inbound_nodes: [[['bn', 0, 0, {}]]] };
  const rewired = layers.map((l) => ({
    ...l,
    inbound_nodes: (l.inbound_nodes ?? []).map((node) => node.map((ref) => (ref[0] === 'bn' ? ['relu', ...ref.slice(1)] : ref))),
  }));
  rewired.splice(bn + 1, 0, relu);
  return rewired;
}

function pair(v, what, name) {
  const p = Array.isArray(v) ? v : [v, v];
  if (p.length !== 2 || !p.every(Number.isInteger)) fail(`layer ${name}: bad ${what} ${JSON.stringify(v)}`);
  return p;
}

// One Keras layer config -> the record fields of models/format.h.
function encodeLayer(layer, index, layerIndex) {
  const { name, class_name: cls, config = {} } = layer;
  const type = LAYER[cls];
  if (!type) fail(`layer ${name}: unsupported layer type ${cls}`);
  const nodes = layer.inbound_nodes ?? [];
  if (nodes.length > 1) fail(`layer ${name}: shared layers are not supported`);
  const inputs = (nodes[0] ?? []).map((ref) => {
    const i = layerIndex.get(ref[0]);
    if (i === undefined || i >= index) fail(`layer ${name}: input ${ref[0]} is not an earlier layer`);
    return i;
  });
  if (config.data_format && config.data_format !== 'channels_last') fail(`layer ${name}: only channels_last is supported`);
  const act = ACTIVATION[config.activation ?? 'linear'];
  if (act === undefined) fail(`layer ${name}: unsupported activation ${config.activation}`);
  const ip = [0, 0, 0, 0, 0, 0, 0, 0];
  const fp = [0, 0];
  switch (cls) {
    case 'InputLayer': {
      const s = config.batch_input_shape ?? config.batch_shape;
      if (!Array.isArray(s) || s.length !== 4) fail(`layer ${name}: input must be (batch, h, w, c)`);
      ip[P.DL_INPUT_H] = s[1] ?? -1; ip[P.DL_INPUT_W] = s[2] ?? -1; ip[P.DL_INPUT_C] = s[3] ?? -1;
      break;
    }
    case 'ZeroPadding2D': {
      let p = config.padding;
      if (Number.isInteger(p)) p = [[p, p], [p, p]];
      else if (Number.isInteger(p[0])) p = [[p[0], p[0]], [p[1], p[1]]];
      [ip[P.DL_PAD_TOP], ip[P.DL_PAD_BOTTOM]] = p[0]; [ip[P.DL_PAD_LEFT], ip[P.DL_PAD_RIGHT]] = p[1];
      break;
    }
    case 'Conv2D': {
      const d = pair(config.dilation_rate ?? 1, 'dilation_rate', name);
      if (d[0] !== 1 || d[1] !== 1) fail(`layer ${name}: dilated convolution is not supported`);
      if ((config.groups ?? 1) !== 1) fail(`layer ${name}: grouped convolution is not supported`);
      ip[P.DL_CONV_FILTERS] = config.filters;
      [ip[P.DL_CONV_KH], ip[P.DL_CONV_KW]] = pair(config.kernel_size, 'kernel_size', name);
      [ip[P.DL_CONV_STRIDE_H], ip[P.DL_CONV_STRIDE_W]] = pair(config.strides ?? 1, 'strides', name);
      ip[P.DL_CONV_SAME_PADDING] = config.padding === 'same' ? 1 : 0;
      ip[P.DL_CONV_USE_BIAS] = config.use_bias ? 1 : 0;
      break;
    }
    case 'BatchNormalization': {
      const axis = Array.isArray(config.axis) ? config.axis : [config.axis];
      if (axis.length !== 1 || (axis[0] !== 3 && axis[0] !== -1)) fail(`layer ${name}: BatchNormalization must be over the channel axis`);
      if (config.center === false || config.scale === false) fail(`layer ${name}: BatchNormalization without center/scale is not supported`);
      fp[P.DL_BN_EPSILON] = config.epsilon ?? 1e-3;
      break;
    }
    case 'MaxPooling2D': case 'AveragePooling2D': {
      [ip[P.DL_POOL_H], ip[P.DL_POOL_W]] = pair(config.pool_size ?? 2, 'pool_size', name);
      [ip[P.DL_POOL_STRIDE_H], ip[P.DL_POOL_STRIDE_W]] = pair(config.strides ?? config.pool_size ?? 2, 'strides', name);
      if (config.padding === 'same') fail(`layer ${name}: 'same' padding for pooling is not supported`);
      break;
    }
    case 'Concatenate':
      if (config.axis !== -1 && config.axis !== 3) fail(`layer ${name}: only channel concatenation is supported`);
      break;
    case 'Dense':
      ip[P.DL_DENSE_UNITS] = config.units; ip[P.DL_DENSE_USE_BIAS] = config.use_bias ? 1 : 0;
      break;
    default: break;
  }
  return { type, act, name, inputs, ip, fp };
}

const F32 = new Float32Array(1), U32 = new Uint32Array(F32.buffer);
function f32ToF16(f) {
  F32[0] = f;
  const x = U32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {                       // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;   // may carry into the exponent: correct
  return sign | h;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(bytes, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

class Writer {
  constructor() { this.chunks = []; this.length = 0; }
  bytes(b) { this.chunks.push(Buffer.from(b)); this.length += b.length; }
  u16(v) { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.bytes(b); }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.bytes(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.bytes(b); }
  f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.bytes(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
  str(s) { const b = Buffer.from(s, 'utf8'); if (b.length > 65535) fail('name too long'); this.u16(b.length); this.bytes(b); }
  pad(align) { const n = (align - (this.length % align)) % align; if (n) this.bytes(Buffer.alloc(n)); }
  buffer() { return Buffer.concat(this.chunks); }
}

export function convert({ name, layers, weights }, { f16 = false } = {}) {
  const layerIndex = new Map(layers.map((l, i) => [l.name, i]));
  if (layerIndex.size !== layers.length) fail('duplicate layer names');
  const tensors = [];
  const records = layers.map((layer, i) => {
    const rec = encodeLayer(layer, i, layerIndex);
    rec.tensors = [];
    for (const w of WEIGHT_ORDER[layer.class_name] ?? []) {
      const t = weights.get(`${layer.name}/${w}`);
      if (!t) {
        if (w === 'bias' && !rec.ip[layer.class_name === 'Dense' ? P.DL_DENSE_USE_BIAS : P.DL_CONV_USE_BIAS]) continue;
        fail(`layer ${layer.name}: weight ${w} missing from the export`);
      }
      rec.tensors.push(tensors.length);
      tensors.push({ name: `${layer.name}/${w}`, ...t });
    }
    return rec;
  });

  const elem = f16 ? 2 : 4;
  let dataBytes = 0;
  for (const t of tensors) { t.offset = dataBytes; dataBytes += Math.ceil((t.data.length * elem) / 16) * 16; }

  const graph = new Writer();
  for (const r of records) {
    graph.u32(r.type); graph.u32(r.act); graph.str(r.name);
    graph.u32(r.inputs.length); r.inputs.forEach((i) => graph.u32(i));
    r.ip.forEach((v) => graph.i32(v)); r.fp.forEach((v) => graph.f32(v));
    graph.u32(r.tensors.length); r.tensors.forEach((i) => graph.u32(i));
  }
  for (const t of tensors) {
    graph.str(t.name); graph.u32(t.shape.length); t.shape.forEach((d) => graph.u32(d)); graph.u64(t.offset);
  }
  const graphBytes = graph.length;
  graph.pad(64);

  const data = Buffer.alloc(dataBytes);
  for (const t of tensors) {
    if (f16) {
      const half = new Uint16Array(data.buffer, data.byteOffset + t.offset, t.data.length);   // little-endian host assumed (Node on x86/ARM)
      for (let j = 0; j < t.data.length; j++) half[j] = f32ToF16(t.data[j]);
    }
    else Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(data, t.offset);
  }
  const body = Buffer.concat([graph.buffer(), data]);

  const header = Buffer.alloc(64);
  header.write('DENSELAB', 0, 'latin1');
  header.writeUInt32LE(1, 8);
  header.writeUInt32LE(f16 ? 1 : 0, 12);
  header.writeUInt32LE(records.length, 16);
  header.writeUInt32LE(tensors.length, 20);
  header.writeBigUInt64LE(BigInt(graphBytes), 24);
  header.writeBigUInt64LE(BigInt(dataBytes), 32);
  header.writeUInt32LE(crc32(body), 40);
  header.write(name.slice(0, 15), 48, 'utf8');
  return Buffer.concat([header, body]);
}

function main(argv) {
  const args = argv.filter((a) => !a.startsWith('--'));
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  for (const f of flags) if (f !== '--f16' && f !== '--keep-topology') fail(`unknown option ${f}`);
  if (args.length !== 2) fail('usage: node models/convert.js MODEL_DIR OUT.dlm [--f16] [--keep-topology]');
  const exp = readTfjsExport(args[0]);
  if (!flags.has('--keep-topology')) exp.layers = insertFinalRelu(exp.layers, exp.name);
  const out = convert(exp, { f16: flags.has('--f16') });
  fs.mkdirSync(path.dirname(path.resolve(args[1])), { recursive: true });
  const tmp = `${args[1]}.tmp`;
  fs.writeFileSync(tmp, out);
  fs.renameSync(tmp, args[1]);
  console.error(`${args[1]}: ${exp.layers.length} layers, ${exp.weights.size} tensors, ${out.length} bytes${flags.has('--f16') ? ' (float16)' : ''}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try { main(process.argv.slice(2)); } catch (e) { console.error(`convert: ${e.message}`); process.exit(1); }
}
