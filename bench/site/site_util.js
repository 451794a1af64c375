// site_util.js — what the benchmark pages share: DenseLab's module worker (bench_worker.js)
// as an async call, a fetch that fails on HTTP errors, and the NHWC -> NCHW copy for the
// ONNX graph (bench/net_peers.js uses it in Node too).

// -> call(msg): posts msg to the worker and resolves with its result (one call at a time).
export function workerCall(url = './bench_worker.js') {
  const worker = new Worker(url, { type: 'module' });
  let pending = null;
  worker.onmessage = ({ data }) => { const p = pending; pending = null; data.ok ? p.resolve(data.result) : p.reject(new Error(data.error)); };
  worker.onerror = (e) => { if (pending) pending.reject(new Error(`worker: ${e.message}`)); };
  return (msg) => new Promise((resolve, reject) => { pending = { resolve, reject }; worker.postMessage(msg); });
}

export async function fetchOk(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}


