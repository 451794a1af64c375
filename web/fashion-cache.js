// The Fashion-MNIST features cached in IndexedDB: one entry per batch, keyed by
// "model checksum:size:split:start-end" (cacheKey), so a reload does not recompute them.
// The cache keeps no copy in memory (the features go from the cache to the classifier worker,
// which holds the tab's one copy); each entry is written in its own small transaction (one
// batch, 1 MB at S=32), so IndexedDB never holds the whole set in flight. new FeatureCache(null): no cache
// (a browser without IndexedDB).
import { WorkerClient } from './worker-client.js';

const DB = 'denselab-fashion';
const STORE = 'features';

export const cacheKey = (modelChecksum, size, split, [start, end]) => `${modelChecksum.toString(16)}:s${size}:${split}:${start}-${end}`;

const done = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error || new Error('IndexedDB request failed'));
});

export class FeatureCache {
  static async open() {
    if (!('indexedDB' in self)) throw new Error('this browser has no IndexedDB');
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    return new FeatureCache(await done(req));
  }

  constructor(db) { this.db = db; }

  store(mode) { return this.db.transaction(STORE, mode).objectStore(STORE); }

  // The entry, or null (absent, unreadable, or not `length` floats long).
  async get(key, length) {
    if (!this.db) return null;
    const buf = await done(this.store('readonly').get(key)).catch(() => null);
    const f = buf instanceof ArrayBuffer ? new Float32Array(buf) : null;
    return f && f.length === length ? f : null;
  }

  // Whether an entry is there (false on any error).
  async has(key) {
    if (!this.db) return false;
    return (await done(this.store('readonly').count(key)).catch(() => 0)) > 0;
  }

  // Resolves once the entry is committed (no cache: at once); rejects if the write failed. The
  // floats are copied when put() returns: the caller may transfer them away at once.
  put(key, floats) {
    if (!this.db) return Promise.resolve();
    const tx = this.db.transaction(STORE, 'readwrite');
    const whole = floats.byteOffset === 0 && floats.byteLength === floats.buffer.byteLength;
    tx.objectStore(STORE).put(whole ? floats.buffer : floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength), key);
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () => reject(tx.error || new Error('IndexedDB write failed (storage full?)'));
    });
  }

  async clear() {
    if (this.db) await done(this.store('readwrite').clear());
  }
}

// The same cache through a worker of its own (web/worker-cache.js), for one extraction run: close()
// ends the worker, and with it IndexedDB's copies of what the run wrote and read back (otherwise
// garbage that an idle tab keeps until some later collection). put() sends a copy, so the caller
// keeps its floats, as with FeatureCache.
export class FeatureCacheWorker {
  static async open() {
    const client = new WorkerClient(new URL('./worker-cache.js', import.meta.url), { name: 'the cache worker' });
    try { await client.call('open'); } catch (e) { client.kill('failed'); throw e; }
    return new FeatureCacheWorker(client);
  }

  constructor(client) { this.client = client; this.db = true; }

  has(key) { return this.client.call('has', { key }).catch(() => false); }

  get(key, length) { return this.client.call('get', { key, length }).then((r) => r.floats, () => null); }

  put(key, floats) {
    const copy = floats.slice();
    return this.client.call('put', { key, floats: copy }, { transfer: [copy.buffer] });
  }

  close() { this.client.kill('finished'); }
}
