// rbf-pair-worker.js — the RBF SVM's pairs on Node worker_threads (wasm/rbf-pairs.js): each
// worker loads its own WASM instance and trains the pairs it is sent, one at a time.
//   const pool = nodePairWorkers(2, { wasm, core });  ...fitRbfPairs(lab, ..., { runners: pool.runners });  pool.close();
import v8 from 'node:v8';
import fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createDenseLab } from './denselab.js';
import { trainPairTask } from './rbf-pairs.js';

// count workers over the build's WASM files ({ wasm: path, core: file URL }).
export function nodePairWorkers(count, files) {
  const workers = Array.from({ length: count }, () => new Worker(new URL(import.meta.url), { workerData: files }));
  const runners = workers.map((w) => (task) => new Promise((resolve, reject) => {
    const fail = (e) => { cleanup(); reject(e); };
    const done = (m) => { cleanup(); if (m.error) reject(new Error(m.error)); else resolve(m.bytes); };
    const cleanup = () => { w.off('message', done); w.off('error', fail); };
    w.on('message', done);
    w.on('error', fail);
    w.postMessage(task, [task.xi.buffer, task.xj.buffer]);
  }));
  return { runners, close: () => Promise.all(workers.map((w) => w.terminate())) };
}

if (!isMainThread && parentPort) {
  v8.setFlagsFromString('--no-liftoff');   // as wasm/cli.js: optimized code from the first call
  const lab = createDenseLab({ wasmBinary: fs.readFileSync(workerData.wasm), coreUrl: workerData.core });
  parentPort.on('message', async (t) => {
    try {
      const bytes = trainPairTask(await lab, t);
      parentPort.postMessage({ bytes }, [bytes.buffer]);
    } catch (e) { parentPort.postMessage({ error: String(e?.message ?? e) }); }
  });
}
