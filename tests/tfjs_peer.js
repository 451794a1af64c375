// TF.js peer: the same Keras DenseNet121 run by TensorFlow.js in Node, used to
// make the golden outputs (tests/golden/) and as the benchmark reference.
// Everything is loaded from local files: no network.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';

export { tf };
export const tfjsWasmVersion = tfwasm.version_wasm;
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// ../shared relative to the project root; DENSELAB_SHARED overrides it (as in build.sh).
export function sharedDir() {
  return process.env.DENSELAB_SHARED ? path.resolve(process.env.DENSELAB_SHARED) : path.join(root, '..', 'shared');
}

// Model dir as build.sh resolves it: ../shared copy first, else build.sh's download.
export function modelDir() {
  const candidates = [
    path.join(sharedDir(), 'models', 'densenet121-tfjs'),
    path.join(root, 'build', 'downloads', 'densenet121-tfjs'),
  ];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'model.json'))) return dir;
  throw new Error(`DenseNet121 TF.js model not found in ${candidates.join(' or ')}: run ./build.sh`);
}

let backendReady = null;
// Selects the backend once per process. The wasm backend runs single-threaded
// in Node (tfjs disables its threaded build there); its .wasm files are read
// from node_modules with fs by Emscripten's Node loader.
export async function setBackend(name = 'wasm') {
  if (backendReady && tf.getBackend() === name) return;
  if (name === 'wasm') {
    const dist = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + path.sep;
    tfwasm.setWasmPaths(dist); // a file-system prefix: Node's Emscripten loader uses fs.readFileSync
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js backend '${name}' failed to initialize`);
  await tf.ready();
  backendReady = name;
}

// Rewrites the Keras 2.1.4 topology of the export into the current Keras
// DenseNet121(include_top, pooling, input_shape). Returns a new topology.
export function editTopology(topology, { insertFinalRelu = true, includeTop = true, pooling = null, inputShape = null } = {}) {
  const t = structuredClone(topology);
  const cfg = t.model_config.config;
  let layers = cfg.layers;
  const byName = (n) => layers.find((l) => l.name === n);
  // Known defect of the export: no ReLU between 'bn' and 'avg_pool' (current Keras has it).
  let last = 'bn';
  if (insertFinalRelu && !byName('relu')) {
    const relu = {
      name: 'relu', class_name: 'Activation',
      config: { name: 'relu', trainable: true, dtype: 'float32', activation: 'relu' },
      inbound_nodes: [[['bn', 0, 0, {}]]],
    };
    layers.splice(layers.indexOf(byName('bn')) + 1, 0, relu);
    byName('avg_pool').inbound_nodes = [[['relu', 0, 0, {}]]];
  }
  if (byName('relu')) last = 'relu';
  if (inputShape) {
    const input = layers.find((l) => l.class_name === 'InputLayer');
    input.config.batch_input_shape = [null, ...inputShape];
  }
  if (!includeTop) {
    layers = layers.filter((l) => l.name !== 'fc1000');
    if (pooling === 'avg') {
      cfg.output_layers = [['avg_pool', 0, 0]];
    } else if (pooling === 'max') {
      const pool = byName('avg_pool');
      Object.assign(pool, { name: 'max_pool', class_name: 'GlobalMaxPooling2D' });
      pool.config.name = 'max_pool';
      cfg.output_layers = [['max_pool', 0, 0]];
    } else if (pooling == null) {
      layers = layers.filter((l) => l.name !== 'avg_pool');
      cfg.output_layers = [[last, 0, 0]];
    } else {
      throw new Error(`pooling must be null, 'avg' or 'max', got ${pooling}`);
    }
    cfg.layers = layers;
  }
  return t;
}

// Reads model.json and its shards (manifest order) from disk.
export function readTfjsModel(dir = modelDir()) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const specs = [];
  const parts = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) parts.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return { json, weightSpecs: specs, weightData };
}

// Loads Keras DenseNet121 in TF.js from local files.
// opts: backend ('wasm'|'cpu'), insertFinalRelu (default true), includeTop, pooling, inputShape [h,w,c].
export async function loadDenseNetTfjs(opts = {}) {
  const { backend = 'wasm', dir = modelDir(), ...edit } = opts;
  await setBackend(backend);
  const { json, weightSpecs, weightData } = readTfjsModel(dir);
  const modelTopology = editTopology(json.modelTopology, edit);
  const handler = tf.io.fromMemory({ modelTopology, weightSpecs, weightData });
  // strict: false because a truncated model (no fc1000) leaves the head's weights unused.
  return tf.loadLayersModel(handler, { strict: edit.includeTop !== false });
}

// Runs the model on a float32 NHWC input and returns a Float32Array.
export function predict(model, input, shape) {
  return tf.tidy(() => model.predict(tf.tensor(input, shape)).dataSync().slice());
}

// Times model.predict() (including reading the result back) on a random input.
// Returns per-run milliseconds and their median; warmup runs are excluded.
export async function timePredict(model, { batch = 1, runs = 5, warmup = 1, seed = 1 } = {}) {
  const shape = [batch, ...model.inputs[0].shape.slice(1)];
  const x = tf.randomUniform(shape, -2, 2, 'float32', seed);
  const ms = [];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      const t0 = performance.now();
      const y = model.predict(x);
      await y.data();
      y.dispose();
      if (i >= warmup) ms.push(performance.now() - t0);
    }
  } finally {
    x.dispose();
  }
  const sorted = [...ms].sort((a, b) => a - b);
  return { backend: tf.getBackend(), batch, runs: ms, medianMs: sorted[Math.floor(sorted.length / 2)] };
}
