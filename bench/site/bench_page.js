// bench_page.js — rows 1 and 2 of the benchmark in the browser: DenseLab in a worker vs
// TF.js tfjs-backend-wasm (XNNPACK, SIMD, 1 thread) on the main thread, alternating runs.
// Query: ?warmup=W&runs=R&batch=B. Inputs (input224.bin, input32.bin: float32) and the
// TF.js models (tfjs/top.json, tfjs/feat32.json) are written by bench/browser.js.
/* global tf */
import { fetchOk, workerCall } from './site_util.js';

const q = new URLSearchParams(location.search);
const warmup = +(q.get('warmup') ?? 2), runs = +(q.get('runs') ?? 5), batch = +(q.get('batch') ?? 64);
const out = document.getElementById('out');

const call = workerCall();

async function floats(url) { return new Float32Array(await (await fetchOk(url)).arrayBuffer()); }

// Alternating timed rounds after warm-up; the worker times its own predict.
async function pair(which, input, shape) {
  const model = await tf.loadLayersModel(`./tfjs/${which === 'top' ? 'top' : 'feat32'}.json`, { strict: which === 'top' });
  const xt = tf.tensor(input, shape);
  const t = { ours: [], peer: [] };
  let ours, peer;
  for (let i = 0; i < warmup + runs; i++) {
    const r = await call({ cmd: 'run', which, input, batch: shape[0] });
    ours = r.output;
    const t0 = performance.now();
    const y = model.predict(xt);
    peer = await y.data();
    const ms = performance.now() - t0;
    y.dispose();
    if (i >= warmup) { t.ours.push(r.ms); t.peer.push(ms); }
  }
  xt.dispose();
  model.dispose();
  return { ...t, output: Array.from(ours), peerOutput: Array.from(peer) };
}

async function main() {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);   // 1 thread, like our core
  tf.wasm.setWasmPaths('./');
  if (!await tf.setBackend('wasm')) throw new Error('TF.js wasm backend failed to initialise');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  await call({ cmd: 'init' });
  const top = await pair('top', await floats('./input224.bin'), [1, 224, 224, 3]);
  const feat = await pair('feat', await floats('./input32.bin'), [batch, 32, 32, 3]);
  return { userAgent: navigator.userAgent, crossOriginIsolated, tfjs: tf.version.tfjs, simd, threads: tf.wasm.getThreadsCount?.() ?? 1, top, feat };
}

main().then((r) => { window.benchResult = r; out.textContent = 'done'; },
  (e) => { window.benchResult = { error: e.message ?? String(e) }; out.textContent = `error: ${e.message}`; });
