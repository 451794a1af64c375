// peers_page.js — DenseNet121 224x224, batch 1 at ?threads=T: DenseLab in a module worker
// (createDenseLab({ threads: T })) vs ONNX Runtime Web (wasm EP, numThreads T, on this thread;
// model.onnx written by DenseLab's ONNX export, bench/onnx_model.js) vs TF.js-wasm (setThreadsCount(T), on this thread),
// alternating; each page load is one thread count (the peers fix theirs when they start).
/* global tf */
import * as ort from './ort.wasm.min.mjs';
import { fetchOk, workerCall } from './site_util.js';

const q = new URLSearchParams(location.search);
const threads = +(q.get('threads') ?? 1), warmup = +(q.get('warmup') ?? 2), runs = +(q.get('runs') ?? 5);
const out = document.getElementById('out');

const call = workerCall();

async function main() {
  tf.wasm.setThreadsCount(threads);
  tf.wasm.setWasmPaths('./');
  if (!await tf.setBackend('wasm')) throw new Error('TF.js wasm backend failed to initialise');
  await tf.ready();
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL('./', location.href).href;
  const session = await ort.InferenceSession.create(new Uint8Array(await (await fetchOk('./model.onnx')).arrayBuffer()),
    { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const ours = await call({ cmd: 'init', threads });
  const x = new Float32Array(await (await fetchOk('./input224.bin')).arrayBuffer());
  const model = await tf.loadLayersModel('./tfjs/top.json');
  const xt = tf.tensor(x, [1, 224, 224, 3]);
  const rgb = new Float32Array(await (await fetchOk('./rgb224.bin')).arrayBuffer());   // the graph preprocesses
  const feeds = { image: new ort.Tensor('float32', rgb, [1, 224, 224, 3]) };
  const ms = { ours: [], ort: [], tfjs: [] }, outputs = {};
  const timed = async (fn) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };
  for (let i = 0; i < warmup + runs; i++) {
    const r = await call({ cmd: 'run', which: 'top', input: x, batch: 1 });   // the worker times its own predict
    outputs.ours = r.output;
    const tOrt = await timed(async () => { outputs.ort = (await session.run(feeds)).output.data; });
    const tTf = await timed(async () => { const y = model.predict(xt); outputs.tfjs = await y.data(); y.dispose(); });
    if (i >= warmup) { ms.ours.push(r.ms); ms.ort.push(tOrt); ms.tfjs.push(tTf); }
  }
  xt.dispose(); model.dispose(); await session.release();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return {
    threads, userAgent: navigator.userAgent, crossOriginIsolated, ms,
    outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, Array.from(v)])),
    effective: { ours: ours.threads ?? 1, ort: ort.env.wasm.numThreads, tfjs: tf.wasm.getThreadsCount() },
    versions: { tfjs: tf.version.tfjs, ort: ort.env.versions?.web ?? '', tfjs_simd: simd },
  };
}

main().then((r) => { window.benchResult = r; out.textContent = 'done'; },
  (e) => { window.benchResult = { error: e.message ?? String(e) }; out.textContent = `error: ${e.message}`; });
