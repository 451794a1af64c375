// The page's side of web/worker-rpc.js, for every DenseLab worker: one module worker,
// requests matched to answers by id, buffers transferred, progress events, the worker's
// errors as Error objects, an optional stall timeout, and termination.
// Messages out: { id, cmd, ...args }; in: { id, ok, result | error } or { id, progress }.
const live = new Set();   // clients not yet killed: openCalls() lists what they are waiting for

export class WorkerClient {
  // Every request still waiting for an answer, oldest first: [{ worker, cmd, ms }] (what a stuck page waits on).
  static openCalls() {
    const now = performance.now();
    return [...live].flatMap((c) => [...c.calls.values()].map(({ cmd, since }) => ({ worker: c.name, cmd, ms: Math.round(now - since) })))
      .sort((a, b) => b.ms - a.ms);
  }

  // name: how messages call the worker ("the classifier worker"). stallMs: a worker silent that
  // long while a request is open is taken for dead (any message, progress too, proves it alive);
  // 0 waits for ever. onDeath(error) runs once when the worker fails or is killed.
  constructor(url, { name = 'the worker', stallMs = 0, onDeath = null } = {}) {
    Object.assign(this, { name, stallMs, onDeath });
    this.calls = new Map();
    this.nextId = 1;
    this.dead = null;          // the reason, once dead
    this.timer = 0;
    this.timeoutMs = stallMs;
    this.worker = new Worker(url, { type: 'module' });
    live.add(this);
    this.worker.onmessage = (e) => this.receive(e.data || {});
    this.worker.onerror = (e) => { e.preventDefault(); this.kill(`failed: ${e.message || 'it could not start or ran out of memory'}`); };
    this.worker.onmessageerror = () => this.kill('sent a message that could not be read');
  }

  // Resolves to the command's result; rejects with the worker's error, or when it dies.
  call(cmd, args = {}, { transfer = [], onProgress, timeoutMs = this.stallMs } = {}) {
    if (this.dead) return Promise.reject(new Error(`${this.name} ${this.dead}`));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      try {
        this.worker.postMessage({ id, cmd, ...args }, transfer);
      } catch (e) {               // an argument that cannot be cloned or transferred
        reject(new Error(`${this.name}: could not send ${cmd}: ${e.message}`));
        return;
      }
      this.calls.set(id, { resolve, reject, onProgress, cmd, since: performance.now() });
      this.timeoutMs = timeoutMs;
      this.arm();
    });
  }

  // (Re)starts the stall timer while a request is open.
  arm() {
    clearTimeout(this.timer);
    if (this.calls.size && this.timeoutMs > 0) {
      this.timer = setTimeout(() => this.kill(`gave no answer for ${Math.round(this.timeoutMs / 1000)} s`), this.timeoutMs);
    }
  }

  receive(d) {
    const c = this.calls.get(d.id);
    if (!c) return;
    if ('progress' in d) { this.arm(); c.onProgress?.(d.progress); return; }
    this.calls.delete(d.id);
    this.arm();
    if (d.ok) c.resolve(d.result); else c.reject(new Error(d.error));
  }

  // Ends the worker at once; every open request rejects with "<name> <reason>".
  kill(reason = 'was stopped') {
    if (this.dead) return;
    this.dead = reason;
    live.delete(this);
    clearTimeout(this.timer);
    this.worker.terminate();
    const error = new Error(`${this.name} ${reason}`);
    for (const c of this.calls.values()) c.reject(error);
    this.calls.clear();
    this.onDeath?.(error);
  }
}
