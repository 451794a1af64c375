// The Fashion-MNIST features cached in IndexedDB: one entry per batch, keyed by
// "model checksum:size:split:start-end", so a reload does not recompute them.
const DB = 'denselab-fashion';
const STORE = 'features';

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

  async get(key) {
    const buf = await done(this.store('readonly').get(key));
    return buf instanceof ArrayBuffer ? new Float32Array(buf) : null;
  }

  // Resolves once the entry is committed.
  put(key, floats) {
    const tx = this.db.transaction(STORE, 'readwrite');
    const whole = floats.byteOffset === 0 && floats.byteLength === floats.buffer.byteLength;
    tx.objectStore(STORE).put(whole ? floats.buffer : floats.buffer.slice(floats.byteOffset, floats.byteOffset + floats.byteLength), key);
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () => reject(tx.error || new Error('IndexedDB write failed (storage full?)'));
    });
  }

  clear() { return done(this.store('readwrite').clear()); }
}
