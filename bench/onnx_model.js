// onnx_model.js — builds the ONNX graph of Keras DenseNet121 from the TF.js export
// (../shared/models/densenet121-tfjs), for the ONNX Runtime peer of the benchmark.
// Same weights, same topology edits as tests/tfjs_peer.js (final ReLU restored,
// include_top / pooling / input_shape), laid out NCHW:
//   input 'input' [N, 3, H, W] float32 -> output 'output' [N, 1000] (softmax) or [N, 1024] (pooled).
// The protobuf is written by the small encoder below (only the ModelProto fields the graph
// uses, field numbers from onnx/onnx.proto), so no ONNX package is needed.
import { editTopology, readTfjsModel } from '../tests/tfjs_peer.js';

// ---- protobuf wire format: varint (0), length-delimited (2), 32-bit float (5) ----

function varint(out, v) {
  let x = BigInt.asUintN(64, BigInt(v));
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
}

// A message is an array of [field, value] where value is a number (varint), a string,
// a Uint8Array, a nested message (array), or { f32: x } (32-bit float). Returns bytes.
function encode(fields) {
  const out = [], chunks = [];
  const flush = () => { if (out.length) { chunks.push(Uint8Array.from(out)); out.length = 0; } };
  for (const [field, value] of fields) {
    if (value == null) continue;
    if (typeof value === 'number' || typeof value === 'bigint') { varint(out, field << 3); varint(out, value); continue; }
    if (value.f32 !== undefined) {
      varint(out, (field << 3) | 5);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setFloat32(0, value.f32, true);
      out.push(...b);
      continue;
    }
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : encode(value);
    varint(out, (field << 3) | 2); varint(out, bytes.length);
    flush();
    chunks.push(bytes);
  }
  flush();
  const total = chunks.reduce((s, c) => s + c.length, 0), all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) { all.set(c, o); o += c.length; }
  return all;
}

// onnx.proto messages (field numbers) as encoder input.
const FLOAT = 1, INT64 = 7;                               // TensorProto.DataType
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7;        // AttributeProto.AttributeType

function attribute(name, v) {
  if (Array.isArray(v)) return [[1, name], ...v.map((i) => [8, i]), [20, ATTR_INTS]];
  if (Number.isInteger(v)) return [[1, name], [3, v], [20, ATTR_INT]];
  return [[1, name], [2, { f32: v }], [20, ATTR_FLOAT]];
}

function node(op, inputs, outputs, name, attrs = {}) {
  return [...inputs.map((i) => [1, i]), ...outputs.map((o) => [2, o]), [3, name], [4, op],
    ...Object.entries(attrs).map(([k, v]) => [5, attribute(k, v)])];
}

function tensor(name, dims, dataType, raw) {
  return [...dims.map((d) => [1, d]), [2, dataType], [8, name], [9, raw]];
}

// ValueInfoProto of a float tensor; dims are numbers or names (symbolic).
function valueInfo(name, dims) {
  const dim = (d) => [typeof d === 'number' ? [1, d] : [2, d]];
  return [[1, name], [2, [[1, [[1, FLOAT], [2, dims.map((d) => [1, dim(d)])]]]]]];
}

const bytesOf = (f32) => new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);

// Keras [kh, kw, cin, cout] -> ONNX [cout, cin, kh, kw].
function convKernelOIHW(w, [kh, kw, cin, cout]) {
  const o = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let c = 0; c < cout; c++) {
    o[((c * cin + i) * kh + y) * kw + x] = w[((y * kw + x) * cin + i) * cout + c];
  }
  return o;
}

// Padding of Keras 'same' for stride 1 (the only 'same' DenseNet121 has): [begin, end] per axis.
function samePads(kernel, strides, layer) {
  if (strides.some((s) => s !== 1)) throw new Error(`${layer}: padding 'same' with stride > 1 is not supported`);
  const begin = kernel.map((k) => (k - 1) >> 1);
  return [...begin, ...kernel.map((k, i) => k - 1 - begin[i])];
}

// -> { bytes: Uint8Array (the .onnx file), inputShape: [h, w, 3] }.
// opts: as tests/tfjs_peer.js editTopology (includeTop, pooling, inputShape); batch stays symbolic.
export function buildDenseNetOnnx(opts = {}, model = readTfjsModel()) {
  const topology = editTopology(model.json.modelTopology, opts);
  const weights = new Map();
  let offset = 0;
  for (const s of model.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.dtype !== 'float32') throw new Error(`weight ${s.name}: dtype ${s.dtype} (float32 expected)`);
    weights.set(s.name, { shape: s.shape, data: new Float32Array(model.weightData, offset, n) });
    offset += 4 * n;
  }
  const weight = (layer, w) => {
    const v = weights.get(`${layer}/${w}`);
    if (!v) throw new Error(`weight ${layer}/${w} not in the export`);
    return v;
  };
  const nodes = [], inits = [];
  const init = (name, dims, f32) => { inits.push(tensor(name, dims, FLOAT, bytesOf(f32))); return name; };
  const initInt64 = (name, values) => {
    inits.push(tensor(name, [values.length], INT64, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer))); return name;
  };
  const cfg = topology.model_config.config;
  let input = null, flat = false;
  for (const l of cfg.layers) {
    const c = l.config, name = l.name, from = (l.inbound_nodes[0] ?? []).map((n) => n[0]);
    switch (l.class_name) {
      case 'InputLayer': input = { name, shape: c.batch_input_shape.slice(1) }; break;
      case 'ZeroPadding2D': {
        const [[t, b], [lf, r]] = c.padding;
        nodes.push(node('Pad', [from[0], initInt64(`${name}/pads`, [0, 0, t, lf, 0, 0, b, r])], [name], name));
        break;
      }
      case 'Conv2D': {
        if (c.use_bias || c.activation !== 'linear' || c.dilation_rate.some((d) => d !== 1)) throw new Error(`${name}: only bias-free, linear, undilated Conv2D is supported`);
        const k = weight(name, 'kernel');
        const pads = c.padding === 'same' ? samePads(c.kernel_size, c.strides, name) : [0, 0, 0, 0];
        const [kh, kw, cin, cout] = k.shape;
        nodes.push(node('Conv', [from[0], init(`${name}/W`, [cout, cin, kh, kw], convKernelOIHW(k.data, k.shape))], [name], name,
          { kernel_shape: c.kernel_size, strides: c.strides, pads }));
        break;
      }
      case 'BatchNormalization': {
        const n = weight(name, 'gamma').shape[0];
        const params = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => init(`${name}/${w}`, [n], weight(name, w).data));
        nodes.push(node('BatchNormalization', [from[0], ...params], [name], name, { epsilon: c.epsilon }));
        break;
      }
      case 'Activation':
        if (c.activation !== 'relu') throw new Error(`${name}: activation ${c.activation} is not supported`);
        nodes.push(node('Relu', from, [name], name));
        break;
      case 'Concatenate': nodes.push(node('Concat', from, [name], name, { axis: 1 })); break;
      case 'AveragePooling2D':
      case 'MaxPooling2D':
        if (c.padding !== 'valid') throw new Error(`${name}: only 'valid' pooling is supported`);
        nodes.push(node(l.class_name === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', from, [name], name, { kernel_shape: c.pool_size, strides: c.strides }));
        break;
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const op = l.class_name === 'GlobalMaxPooling2D' ? 'GlobalMaxPool' : 'GlobalAveragePool';
        nodes.push(node(op, from, [`${name}/nc11`], `${name}/pool`), node('Flatten', [`${name}/nc11`], [name], name, { axis: 1 }));
        flat = true;
        break;
      }
      case 'Dense': {
        const k = weight(name, 'kernel'), b = weight(name, 'bias');
        const linear = c.activation === 'softmax' ? `${name}/logits` : name;
        nodes.push(node('Gemm', [from[0], init(`${name}/W`, k.shape, k.data), init(`${name}/b`, b.shape, b.data)], [linear], `${name}/gemm`));
        if (c.activation === 'softmax') nodes.push(node('Softmax', [linear], [name], name, { axis: 1 }));
        else if (c.activation !== 'linear') throw new Error(`${name}: activation ${c.activation} is not supported`);
        break;
      }
      default: throw new Error(`${name}: layer ${l.class_name} is not supported`);
    }
  }
  const last = cfg.output_layers[0][0];
  if (!input) throw new Error('the topology has no InputLayer');
  if (!flat) throw new Error('only pooled or classifier outputs are supported (pooling avg/max or include_top)');
  nodes.push(node('Identity', [last], ['output'], 'output'));
  for (const n of nodes) for (const f of n) if (f[0] === 1 && f[1] === input.name) f[1] = 'input';
  const [h, w, ch] = input.shape;
  const graph = [...nodes.map((n) => [1, n]), [2, 'densenet121'], ...inits.map((t) => [5, t]),
    [11, valueInfo('input', ['N', ch, h, w])], [12, valueInfo('output', ['N', 'D'])]];
  const bytes = encode([[1, 8], [2, 'denselab bench/onnx_model.js'], [7, graph], [8, [[1, ''], [2, 13]]]]);  // IR 8, opset 13
  return { bytes, inputShape: [h, w, ch] };
}
