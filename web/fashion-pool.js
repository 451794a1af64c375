// The one pool of feature-extraction workers, one WASM instance each (web/worker-features.js for
// Fashion-MNIST; web/train-worker.js for the own-classes page, through `worker` and `request`),
// and extractFeatures(), which fills the features of a run from the cache and the pool. No DOM.
// A worker that throws, dies or stalls is replaced and its batch re-run on the new one, so
// nothing is lost. No SharedArrayBuffer: the images go to the worker and the features come
// back as transferred buffers, which extractFeatures hands on (transferred again) to a sink:
// the page keeps no copy of them.
import { batchRanges, blockFloats } from './experiment.js';
import { cacheKey, readBackError, withCacheWorker } from './fashion-cache.js';
import { WorkerClient } from './worker-client.js';
import { release } from './denselab.js';

export const FEATURE_DIMS = 1024;    // DenseNet121's pooled features per image
const IMAGE_PIXELS = 28 * 28;
const MAX_ATTEMPTS = 3;

// A Fashion-MNIST job -> the worker-features.js request that computes it.
const batchRequest = (job, pool) => {
  const images = job.images.slice();
  return { cmd: 'batch', args: { images, w: 28, h: 28, count: job.count, block: pool.block }, transfer: [images.buffer] };
};

export class FeaturePool {
  // stallMs: a worker silent that long during a batch (it reports progress every few images) is dead.
  // block: each batch also returns fine-tuning's rows (conv5_block1's input) from the same runs.
  // worker: the worker script; request(job, pool) -> { cmd, args, transfer }.
  // wasm: the core, as bytes (each worker gets a copy and compiles it) or as a compiled WebAssembly.Module
  // (shared: the workers instantiate it without compiling their own code).
  // modelUrl: each worker fetches the model itself and checks it against modelChecksum (web/fetch-model.js;
  // undefined for the first pool, which learns it): the page keeps no copy.
  constructor({ size, count, wasm, modelUrl, modelChecksum, block = false, stallMs = 90000, initMs = 180000,
    worker = new URL('./worker-features.js', import.meta.url), request = batchRequest }) {
    Object.assign(this, { size, target: count, wasm, modelUrl, modelChecksum, block, stallMs, initMs, worker, request });
    this.configured = new Map();   // cmd -> args every worker gets after init, a replacement too
    this.slots = [];
    this.replaced = 0;
    this.heapBytes = { first: 0, max: 0 };   // a worker's WASM memory after its first batch, and the most seen
    this.running = false;
    this.cancelled = false;
    for (let i = 0; i < count; i++) this.slots.push(this.spawn());
  }

  // A slot: a worker client, its init request, and the job it runs.
  spawn() {
    const client = new WorkerClient(this.worker, { name: 'a feature worker', stallMs: this.stallMs });
    const wasm = this.wasm instanceof ArrayBuffer ? this.wasm.slice(0) : this.wasm;
    const settings = [...this.configured];
    const ready = client.call('init', { wasm, modelUrl: this.modelUrl, checksum: this.modelChecksum, size: this.size }, { transfer: wasm instanceof ArrayBuffer ? [wasm] : [], timeoutMs: this.initMs })
      .then(async (r) => { for (const [cmd, args] of settings) await client.call(cmd, args); return r; });
    ready.catch(() => {});
    return { client, ready, job: null };
  }

  // cmd(args) on every worker now and on every replacement later (a setting, such as the classifier).
  async configure(cmd, args) {
    this.configured.set(cmd, args);
    await Promise.all(this.slots.map((slot) => slot.ready.then(() => slot.client.call(cmd, args))));
  }

  replace(slot) {
    slot.client.kill('was replaced');
    const fresh = this.spawn();
    this.slots[this.slots.indexOf(slot)] = fresh;
    this.replaced++;
    return fresh;
  }

  // Runs jobs {split, range, images (count x 28 x 28), count}; resolves when all are done,
  // rejects when cancelled or when a batch failed MAX_ATTEMPTS times.
  run(jobs, { onProgress, onResult, onRetry }) {
    this.running = true;
    const queue = jobs.slice();
    let remaining = jobs.length;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err) => {
        if (settled) return;
        settled = true;
        this.running = false;
        this.abort = null;
        if (err) reject(err); else resolve();
      };
      this.abort = finish;
      if (!remaining) { finish(); return; }
      const pump = (slot) => {
        if (!this.running) return;
        const job = queue.shift();
        if (!job) return;
        slot.job = job;
        slot.ready
          .then(() => {
            const { cmd, args, transfer } = this.request(job, this);
            return slot.client.call(cmd, args, { transfer, onProgress: (done) => onProgress?.(job, done) });
          })
          .then((result) => {
            slot.job = null;
            if (result.heapBytes) {
              this.heapBytes.first ||= result.heapBytes;
              this.heapBytes.max = Math.max(this.heapBytes.max, result.heapBytes);
            }
            if (!this.running) return;
            onResult(job, result.features, result);
            if (--remaining === 0) finish(); else pump(slot);
          })
          .catch((e) => {
            slot.job = null;
            if (!this.running) return;
            job.attempts = (job.attempts || 0) + 1;
            onRetry?.(job);
            if (job.attempts >= MAX_ATTEMPTS) {
              finish(new Error(`${job.split} images ${job.range[0]}–${job.range[1] - 1} failed ${MAX_ATTEMPTS} times: ${e.message}`));
              return;
            }
            queue.unshift(job);               // re-run it first, on a fresh worker
            pump(this.replace(slot));
          });
      };
      for (const slot of this.slots.slice()) pump(slot);
    });
  }

  // An open-ended stream: every worker runs one request from next() ({ cmd, args, transfer }, or
  // null to stop) at a time, so at most `count` are in flight; onResult(request, result) as each
  // comes back. A worker that dies is replaced and its request dropped (the next one is fresher);
  // resolves when next() has said stop in every worker, rejects after MAX_ATTEMPTS deaths in a row.
  stream(next, onResult) {
    let deaths = 0;
    return Promise.all(this.slots.map(async (slot) => {
      for (;;) {
        try {
          await slot.ready;               // the request is made once the worker can take it
          const req = next();
          if (!req) return;
          const result = await slot.client.call(req.cmd, req.args, { transfer: req.transfer ?? [] });
          deaths = 0;
          onResult(req, result);
        } catch (e) {
          if (this.cancelled || !slot.client.dead || ++deaths >= MAX_ATTEMPTS) throw e;
          slot = this.replace(slot);
        }
      }
    }));
  }

  // One request on the first worker (the photo path), replacing it if it died.
  async call(cmd, args) {
    if (this.slots[0].client.dead) this.slots[0] = this.spawn();
    const slot = this.slots[0];
    await slot.ready;
    return slot.client.call(cmd, args);
  }

  cancel() {
    this.cancelled = true;
    this.abort?.(new Error('cancelled'));
    this.terminate();
  }

  terminate() {
    this.running = false;
    for (const slot of this.slots) slot.client.kill('was stopped');
  }

  // Test hook: kills a worker in the middle of a batch, as a crash would.
  killOne() {
    const slot = this.slots.find((s) => s.job && !s.client.dead);
    if (!slot) return false;
    slot.client.kill('was killed');
    return true;
  }
}

// The features of the first n training and m test images at size x size, delivered to sink
// ({ have: Set of 'split:start' already there, haveBlock: the same for fine-tuning's rows,
// put(split, start, floats, isBlock) -> Promise, which may transfer the floats away, and optionally
// fromCache(entries) -> Promise of true when it read those cache entries itself (readBack) }); with block,
// fine-tuning's rows too (isBlock: true), computed in the same runs and cached beside the features
// (cache key + ':block'): those in the cache stay there until fine-tuning starts (putBlockRows), so
// they are not in the sink next to the features meanwhile. The batches missing from the cache are
// computed (the images from splitImages('train' | 'test') -> Promise of all the split's) by a new pool of
// `workers` workers (handed to onPool, so the page can cancel it) and written to the cache as
// they come; once the pool is gone, the sink reads every batch it lacks from the cache. So the
// workers' heaps and the whole feature set are never in memory together (the peak of the tab);
// without a cache, or when a write fails, a batch goes to the sink at once. onProgress({ done,
// total, cached, rate, workers, replaced }) after each step. Resolves to { cached, computed,
// workers, replaced, heapBytes, cacheComplete (every batch is in the cache) }, or to
// { cancelled: true, done, total } when the pool was cancelled. The cache is used through a worker
// ended with the run (FeatureCacheWorker: IndexedDB's copies of the values go with it).
export const extractFeatures = ({ cache, ...run }) => withCacheWorker(cache, (store) => extractWith({ ...run, cache: store }));

// sink.put, then what the sink hands back (the batch, once copied) to the cache worker, to die with it.
const putSpent = (cache, sink, split, start, f, isBlock) => Promise.resolve(sink.put(split, start, f, isBlock)).then((r) => { if (r?.spent) cache.discard?.(r.spent); });

// Cache entries ({ key, split, range, floats per image, isBlock }) into the sink: read by the sink itself
// when it can (sink.fromCache(entries) -> true: the classifier worker reads IndexedDB straight into its
// heap, fashion-cache.js readEntries), else one batch at a time (1 MB at S=32) through the cache worker:
// the sink is filled without a second copy piling up.
async function readBack(cache, sink, entries) {
  if (!entries.length || await sink.fromCache?.(entries)) return;
  for (const entry of entries) {
    const { key, split, range, floats, isBlock } = entry, f = await cache.get(key, (range[1] - range[0]) * floats);
    if (!f) throw readBackError(entry);
    await putSpent(cache, sink, split, range[0], f, isBlock);
  }
}

// Fine-tuning's rows (block; else the features) of the first n training and m test images from the
// cache (the ':block' entries extractFeatures left there) into sink ({ have, put }, as extractFeatures'),
// but those it has.
export async function putCachedRows({ cache, n, m, size, batch, modelChecksum, sink, block }) {
  const entries = [['train', n], ['test', m]].flatMap(([split, count]) => batchRanges(count, batch)
    .filter((range) => !sink.have.has(`${split}:${range[0]}`))
    .map((range) => ({ key: `${cacheKey(modelChecksum, size, split, range)}${block ? ':block' : ''}`, split, range, floats: block ? blockFloats(size) : FEATURE_DIMS, isBlock: block })));
  if (!entries.length) return;
  if (!cache.db) throw new Error(`${block ? 'fine-tuning\'s rows are' : 'the features are'} not in the classifier worker and there is no cache: extract the features again`);
  return withCacheWorker(cache, (store) => readBack(store, sink, entries));
}

export const putBlockRows = (args) => putCachedRows({ ...args, block: true });

async function extractWith({ splitImages, n, m, size, workers, batch, cache, modelChecksum, wasm, modelUrl, sink, block = false, onPool, onProgress, onCacheError }) {
  const jobs = [], fromCache = [], writes = [];
  // A batch's cache entries: [key, floats per image, isBlock].
  const parts = (key) => [[key, FEATURE_DIMS, false], ...(block ? [[`${key}:block`, blockFloats(size), true]] : [])];
  let cached = 0, cacheComplete = !!cache.db;
  for (const [split, count] of [['train', n], ['test', m]]) {
    for (const range of batchRanges(count, batch)) {
      const key = cacheKey(modelChecksum, size, split, range), id = `${split}:${range[0]}`;
      const here = [sink.have.has(id), !!sink.haveBlock?.has(id)];   // each part of the batch in the sink
      const inCache = await Promise.all(parts(key).map(([k]) => (cache.db ? cache.has(k) : false)));
      if (inCache.every((c, i) => c || here[i])) {
        if (!inCache.every(Boolean)) cacheComplete = false;   // not computed, so not written either
        if (!here[0]) fromCache.push({ key, split, range });   // the features; fine-tuning's rows wait in the cache
        cached += range[1] - range[0];
      } else {
        jobs.push({ key, split, range, count: range[1] - range[0] });
      }
    }
  }
  for (const split of ['train', 'test']) {   // a split's images only when some batch of it needs computing
    const some = jobs.filter((job) => job.split === split);
    const all = some.length ? await splitImages(split) : null;
    for (const job of some) job.images = all.subarray(job.range[0] * IMAGE_PIXELS, job.range[1] * IMAGE_PIXELS);
  }
  const total = n + m;
  const progress = { done: cached, total, cached, rate: 0, workers: 0, replaced: 0 };
  onProgress(progress);
  let computed = 0, heapBytes = null;
  const direct = [];   // sink.put of the batches that could not wait in the cache
  const deliver = (split, start, f, isBlock = false) => { const p = putSpent(cache, sink, split, start, f, isBlock); p.catch(() => {}); direct.push(p); };
  if (jobs.length) {
    const pool = new FeaturePool({ size, count: Math.min(workers, jobs.length), wasm, modelUrl, modelChecksum, block });
    onPool(pool);
    progress.workers = pool.target;
    const inFlight = new Map();   // job -> images done inside the running batch
    const t0 = performance.now();
    const update = () => {
      const partial = [...inFlight.values()].reduce((a, b) => a + b, 0);
      progress.done = cached + computed + partial;
      const secs = (performance.now() - t0) / 1000;
      progress.rate = secs > 0.5 ? (computed + partial) / secs : 0;
      progress.replaced = pool.replaced;
      onProgress(progress);
    };
    try {
      await pool.run(jobs, {
        onProgress: (job, imagesDone) => { inFlight.set(job, imagesDone); update(); },
        onRetry: (job) => { inFlight.delete(job); update(); },
        onResult: (job, f, { block: b }) => {
          inFlight.delete(job);
          const put = () => { deliver(job.split, job.range[0], f); if (b) deliver(job.split, job.range[0], b, true); };
          if (!cache.db) put();
          else {
            const [, blockPart] = parts(job.key);
            writes.push(Promise.all([cache.put(job.key, f), ...(b ? [cache.put(blockPart[0], b)] : [])]).then(() => { fromCache.push(job); release(f); if (b) release(b); }, (e) => {
              onCacheError(e);
              cacheComplete = false;
              put();
            }));
          }
          computed += job.count;
          update();
        },
      });
    } catch (e) {
      if (pool.cancelled) return { cancelled: true, done: cached + computed, total };
      throw e;
    } finally {
      pool.terminate();            // frees the workers' memory before the sink fills up
    }
    progress.replaced = pool.replaced;
    heapBytes = pool.heapBytes;
  }
  await Promise.all(writes);
  // In the rows' order, whatever order the writes ended in: the page checksums the batches as they pass.
  fromCache.sort((a, b) => (a.split === b.split ? a.range[0] - b.range[0] : a.split === 'train' ? -1 : 1));
  await readBack(cache, sink, fromCache.map(({ key, split, range }) => ({ key, split, range, floats: FEATURE_DIMS, isBlock: false })));
  await Promise.all(direct);
  return { cached, computed, workers: progress.workers, replaced: progress.replaced, heapBytes, cacheComplete };
}
