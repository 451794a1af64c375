// scaling.js — row 7 of the benchmark: feature extraction (S=32, Fashion-MNIST images)
// over 1 worker vs one worker per core, each worker its own WASM instance taking an
// equal share of the images (what the page's worker pool does). Measured in Node with
// worker_threads (the page with its own pool is measured by bench/tab_experiment.js).
// Peak memory = the process's peak resident set size while extracting (all workers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = ['/usr/share/datasets/fashion-mnist', path.join(root, 'build/downloads/fashion-mnist')];

function trainImages(count) {
  const dir = DATA.find((d) => fs.existsSync(path.join(d, 'train-images-idx3-ubyte.gz')));
  if (!dir) throw new Error('Fashion-MNIST not found (install dataset-fashion-mnist or run ./build.sh)');
  return new Uint8Array(zlib.gunzipSync(fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'))).subarray(16, 16 + count * 784));
}

function startWorker(workerData) {
  const w = new Worker(new URL('./scaling_worker.js', import.meta.url), { workerData });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => (m.ready ? resolve(w) : reject(new Error('worker did not start'))));
    w.once('error', reject);
  });
}

function job(w, gray, count) {
  return new Promise((resolve, reject) => {
    w.once('message', (m) => (m.ok ? resolve(m) : reject(new Error(m.error))));
    w.once('error', reject);
    w.postMessage({ gray, count });
  });
}

// One configuration: k workers, images split evenly -> { seconds, imagesPerSecond, peakRssMb }.
async function measure(k, gray, count, paths) {
  const workers = await Promise.all(Array.from({ length: k }, () => startWorker(paths)));
  try {
    await Promise.all(workers.map((w) => job(w, gray.subarray(0, 32 * 784), 32)));   // warm-up
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
    const t0 = performance.now();
    const per = Math.ceil(count / k);
    await Promise.all(workers.map((w, i) => {
      const n = Math.min(per, count - i * per);
      return job(w, gray.subarray(i * per * 784, (i * per + n) * 784), n);
    }));
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    return { workers: k, seconds, imagesPerSecond: count / seconds, peakRssMb: Math.round(peak / 2 ** 20) };
  } finally { await Promise.all(workers.map((w) => w.terminate())); }
}

export async function runScaling({ quick = false, model, log = () => {} } = {}) {
  const paths = { core: path.join(root, 'build/wasm/wasm/denselab_core.mjs'), wasm: path.join(root, 'build/wasm/wasm/denselab_core.wasm'), model };
  for (const f of Object.values(paths)) if (!fs.existsSync(f)) throw new Error(`${path.relative(root, f)} is missing: run ./build.sh`);
  const cores = os.availableParallelism?.() ?? os.cpus().length, count = quick ? 128 : 2048;
  const gray = trainImages(count);
  log(`bench: feature extraction of ${count} images, 1 worker...\n`);
  const one = await measure(1, gray, count, paths);
  log(`bench: ... ${cores} workers...\n`);
  const all = await measure(cores, gray, count, paths);
  return [{
    what: `Feature extraction scaling (S=32, ${count} Fashion-MNIST images, Node worker_threads): ${cores} workers vs 1`, unit: 'images/s',
    ours: all.imagesPerSecond, peer: one.imagesPerSecond, target: { op: '>=', value: 1.8 },
    detail: { one, all, cores, projected_feature_seconds_70000: { one: 70000 / one.imagesPerSecond, all: 70000 / all.imagesPerSecond },
      note: `peak RSS ${one.peakRssMb} MB (1 worker) vs ${all.peakRssMb} MB (${cores} workers); 70,000 images would take ${(70000 / one.imagesPerSecond).toFixed(0)} s vs ${(70000 / all.imagesPerSecond).toFixed(0)} s; measured in Node worker_threads (the page: bench/tab_experiment.js, below)` },
  }];
}
