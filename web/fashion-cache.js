// The Fashion-MNIST features cached in IndexedDB: one entry per batch, keyed by
// "model checksum:size:split:start-end" (cacheKey), so a reload does not recompute them.
// An entry is also kept in memory until IndexedDB has committed it, so a cancel, a failed
// write or a browser without IndexedDB (new FeatureCache(null): memory only) loses nothing.
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

  constructor(db) {
    this.db = db;
    this.unsaved = new Map();   // key -> Float32Array not yet committed
  }

  store(mode) { return this.db.transaction(STORE, mode).objectStore(STORE); }

  // The entry, or null (absent, unreadable, or not `length` floats long).
  async get(key, length) {
    let f = this.unsaved.get(key) ?? null;
    if (!f && this.db) {
      const buf = await done(this.store('readonly').get(key)).catch(() => null);
      f = buf instanceof ArrayBuffer ? new Float32Array(buf) : null;
    }
    return f && f.length === length ? f : null;
  }

  // Resolves once the entry is committed (memory only: at once); rejects if the write failed,
  // the entry staying in memory.
  put(key, floats) {
    this.unsaved.set(key, floats);
    if (!this.db) return Promise.resolve();
    const tx = this.db.transaction(STORE, 'readwrite');
    const whole = floats.byteOffset === 0 && floats.byteLength === floats.buffer.byteLength;
    tx.objectStore(STORE).put(whole ? floats.buffer : floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength), key);
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => { this.unsaved.delete(key); resolve(); };
      tx.onabort = tx.onerror = () => reject(tx.error || new Error('IndexedDB write failed (storage full?)'));
    });
  }

  async clear() {
    this.unsaved.clear();
    if (this.db) await done(this.store('readwrite').clear());
  }
}
