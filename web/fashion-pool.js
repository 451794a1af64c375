// A pool of feature-extraction workers (wasm/worker-features.js), one WASM instance each.
// The page hands out batches; a worker that throws, dies or stalls is replaced and its
// batch re-run on the new one, so nothing is lost. No SharedArrayBuffer: the images go
// to the worker and the features come back as transferred buffers.
const MAX_ATTEMPTS = 3;

export class FeaturePool {
  // stallMs: a worker silent that long during a batch (it reports progress every few images) is dead.
  constructor({ size, count, wasm, model, stallMs = 90000, initMs = 180000 }) {
    Object.assign(this, { size, target: count, wasm, model, stallMs, initMs });
    this.slots = [];
    this.replaced = 0;
    this.running = false;
    this.cancelled = false;
    this.nextId = 1;
    for (let i = 0; i < count; i++) this.slots.push(this.spawn());
  }

  spawn() {
    const worker = new Worker(new URL('./worker-features.js', import.meta.url), { type: 'module' });
    const slot = { worker, job: null, calls: new Map(), dead: false, timer: 0, timeoutMs: this.initMs };
    worker.onmessage = (e) => this.message(slot, e.data);
    worker.onerror = (e) => { e.preventDefault(); this.died(slot, e.message || 'it could not start or ran out of memory'); };
    worker.onmessageerror = () => this.died(slot, 'a message could not be read');
    const wasm = this.wasm.slice(0), model = this.model.slice(0);
    slot.ready = this.send(slot, 'init', { wasm, model, size: this.size }, { transfer: [wasm, model], timeoutMs: this.initMs });
    slot.ready.catch(() => {});
    return slot;
  }

  send(slot, cmd, args, { transfer = [], onProgress, timeoutMs = this.stallMs } = {}) {
    if (slot.dead) return Promise.reject(new Error('the worker is gone'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      slot.calls.set(id, { resolve, reject, onProgress });
      slot.timeoutMs = timeoutMs;
      this.arm(slot);
      slot.worker.postMessage({ id, cmd, ...args }, transfer);
    });
  }

  // Any message from the worker proves it alive: restart its stall timer.
  arm(slot) {
    clearTimeout(slot.timer);
    if (slot.calls.size) slot.timer = setTimeout(() => this.died(slot, `no answer for ${Math.round(slot.timeoutMs / 1000)} s`), slot.timeoutMs);
  }

  message(slot, d) {
    const c = slot.calls.get(d.id);
    if (!c) return;
    if (d.progress !== undefined) { this.arm(slot); c.onProgress?.(d.progress); return; }
    slot.calls.delete(d.id);
    this.arm(slot);
    if (d.ok) c.resolve(d.result); else c.reject(new Error(d.error));
  }

  died(slot, reason) {
    if (slot.dead) return;
    slot.dead = true;
    clearTimeout(slot.timer);
    slot.worker.terminate();
    for (const c of slot.calls.values()) c.reject(new Error(`a feature worker died (${reason})`));
    slot.calls.clear();
  }

  replace(slot) {
    this.died(slot, 'replaced');
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
      const pump = (slot) => {
        if (!this.running) return;
        const job = queue.shift();
        if (!job) return;
        slot.job = job;
        slot.ready
          .then(() => {
            const images = job.images.slice();
            return this.send(slot, 'batch', { images, w: 28, h: 28, count: job.count },
              { transfer: [images.buffer], onProgress: (done) => onProgress(job, done) });
          })
          .then((features) => {
            slot.job = null;
            if (!this.running) return;
            onResult(job, features);
            if (--remaining === 0) finish(); else pump(slot);
          })
          .catch((e) => {
            slot.job = null;
            if (!this.running) return;
            job.attempts = (job.attempts || 0) + 1;
            onRetry(job);
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

  // One request on the first worker (the photo path), replacing it if it died.
  async call(cmd, args) {
    if (this.slots[0].dead) this.slots[0] = this.spawn();
    const slot = this.slots[0];
    await slot.ready;
    return this.send(slot, cmd, args);
  }

  cancel() {
    this.cancelled = true;
    this.abort?.(new Error('cancelled'));
    this.terminate();
  }

  terminate() {
    this.running = false;
    for (const slot of this.slots) this.died(slot, 'stopped');
  }

  // Test hook: kills a worker in the middle of a batch, as a crash would.
  killOne() {
    const slot = this.slots.find((s) => s.job && !s.dead);
    if (!slot) return false;
    this.died(slot, 'killed');
    return true;
  }
}
