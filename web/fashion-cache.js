// The Fashion-MNIST features cached in IndexedDB: one entry per batch, keyed by
// "model checksum:size:split:start-end" (cacheKey), so a reload does not recompute them.
// The cache keeps no copy in memory (the features go from the cache to the classifier worker,
// which holds the tab's one copy); each entry is written in its own small transaction (one
// batch, 1 MB at S=32), so IndexedDB never holds the whole set in flight. new FeatureCache(null): no cache
// (a browser without IndexedDB).
import { WorkerClient } from './worker-client.js';

const DB = 'denselab-fashion';
const STORE = 'features';
const MODEL_PREFIX = 'model:';   // ModelStore's keys: they sort after every feature key (those start with a hex checksum)
const KEEP_MS = 24 * 3600 * 1000;

export const cacheKey = (modelChecksum, size, split, [start, end]) => `${modelChecksum.toString(16)}:s${size}:${split}:${start}-${end}`;

// The longest the browser's storage may keep a request (or one read of a stored Blob) unanswered:
// then it is an error with a reason, not a page that waits for ever (a request can queue behind a
// transaction the browser never ends). An object so that tests can shorten it.
export const storageSilence = { ms: 60000 };

// A catch handler giving `value` for any failure but a silent storage's, which goes on.
const unlessSilent = (value) => (e) => { if (e?.silent) throw e; return value; };

// promise, or a rejection (error.silent) once it has been pending storageSilence.ms.
export function withinStorageTime(promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    const ms = storageSilence.ms;
    timer = setTimeout(() => reject(Object.assign(new Error(`the browser's storage gave no answer for ${ms / 1000} s (${what})`), { silent: true })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const done = (req, what = 'an IndexedDB request') => withinStorageTime(new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error || new Error('IndexedDB request failed'));
}), what);

export class FeatureCache {
  static async open() {
    if (!('indexedDB' in self)) throw new Error('this browser has no IndexedDB');
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    return new FeatureCache(await done(req, 'opening the cache'));
  }

  constructor(db) { this.db = db; }

  store(mode) { return this.db.transaction(STORE, mode).objectStore(STORE); }

  // The entry, or null (absent, unreadable, or not `length` floats long; Type: Uint8Array for bytes).
  async get(key, length, Type = Float32Array) {
    const value = await this.value(key), bytes = length * Type.BYTES_PER_ELEMENT;
    const buf = value instanceof Blob ? (value.size === bytes ? await value.arrayBuffer().catch(() => null) : null) : value;
    return buf instanceof ArrayBuffer && buf.byteLength === bytes ? new Type(buf) : null;
  }

  // The stored value as it is: a Blob (written by put), an ArrayBuffer (caches written before values
  // were Blobs), or null (absent, or a failed request); a storage that stays silent throws.
  async value(key) {
    return this.db ? done(this.store('readonly').get(key), `reading ${key}`).catch(unlessSilent(null)) : null;
  }

  getBytes(key, length) { return this.get(key, length, Uint8Array); }

  // Whether an entry is there (false on any error).
  async has(key) {
    if (!this.db) return false;
    return (await done(this.store('readonly').count(key)).catch(() => 0)) > 0;
  }

  // Resolves once the entry is committed (no cache: at once); rejects if the write failed. The
  // floats are copied when put() returns: the caller may transfer them away at once. Stored as a
  // Blob: the record is a small handle and the bytes stay in IndexedDB's blob file until read
  // (readEntries streams them into one reused buffer; an ArrayBuffer value came back as a new
  // deserialized copy, and a native one, at every read).
  put(key, floats) {
    if (!this.db) return Promise.resolve();
    const tx = this.db.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put(new Blob([floats]), key);
    return withinStorageTime(new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = tx.onerror = () => reject(tx.error || new Error('IndexedDB write failed (storage full?)'));
    }), `writing ${key}`);
  }

  // The features (the trained classifiers of ModelStore stay: their keys sort after every feature key).
  // The bytes stored (resolves to null), or handed back (resolves to them) when the write failed.
  keep(key, bytes) { return this.put(key, bytes).then(() => null, () => bytes); }

  async clear() {
    if (this.db) await done(this.store('readwrite').delete(IDBKeyRange.upperBound(MODEL_PREFIX, true)));
  }

  // ModelStore's entries of a session (or all those of sessions started before `before`, ms).
  async deleteModels({ session = null, before = 0 }) {
    const range = session ? IDBKeyRange.bound(`${MODEL_PREFIX}${session}:`, `${MODEL_PREFIX}${session}:\uffff`)
      : IDBKeyRange.bound(MODEL_PREFIX, `${MODEL_PREFIX}${before}`);
    if (this.db) await done(this.store('readwrite').delete(range)).catch(() => {});
  }
}

// The same cache through a worker of its own (web/worker-cache.js), for one extraction run: close()
// ends the worker, and with it IndexedDB's copies of what the run wrote and read back (otherwise
// garbage that an idle tab keeps until some later collection). The worker is also replaced whenever
// it has moved RECYCLE_BYTES and has nothing in flight, so those copies never pile up over a whole run
// (548 MB of reads at the full size): each batch read back leaves about twice its size there (IndexedDB's
// copy of the value, and the spent buffer discarded), so 64 MB made short peaks of 50-100 MB in the tab;
// but an ended worker leaves a little behind, so 16 MB (4 times the workers) raised the steady level by 10-20 MB
// (bench/tab_experiment.js, docs/benchmarks.md). Its replacement (the spare) is started as soon as it
// moves bytes, so a switch does not wait for a worker's start-up. put() sends a copy, so the caller keeps its floats,
// as with FeatureCache. Reads for the classifier worker are served from here straight to it (serveReads: the
// Blobs read into one buffer, no page in between; replaced between runs of RECYCLE_BYTES); get() remains for
// the page's own fallback. The writes (the extraction's 1 MB batches, ModelStore's parts) recycle as before.
export const RECYCLE_BYTES = 32 << 20;
const openCacheWorker = async () => {
  const client = new WorkerClient(new URL('./worker-cache.js', import.meta.url), { name: 'the cache worker' });
  try { await client.call('open'); } catch (e) { client.kill('failed'); throw e; }
  return client;
};

export class FeatureCacheWorker {
  // opener() -> Promise of an open WorkerClient of worker-cache.js (tests give their own).
  static async open(opener = openCacheWorker) { return new FeatureCacheWorker(await opener(), opener); }

  constructor(client, opener = openCacheWorker) { Object.assign(this, { client, opener, db: true, moved: 0, restarting: null, spare: null }); }

  // fn(client) on the current worker, replaced first when it is due (checked and called in one go:
  // nothing else can start a call on the old worker in between).
  use(bytes, fn) {
    if (!this.restarting && this.moved >= RECYCLE_BYTES && this.client.calls.size === 0) {
      this.client.kill('finished');
      const next = this.spare ?? this.opener();
      this.spare = null;
      this.restarting = next.then((c) => { this.client = c; this.moved = 0; this.restarting = null; });
    }
    this.moved += bytes;
    if (!this.spare && !this.restarting && this.moved > 0) {
      this.spare = this.opener();
      this.spare.catch(() => {});   // its failure shows at the switch
    }
    return this.restarting ? this.restarting.then(() => fn(this.client)) : fn(this.client);
  }

  has(key) { return this.use(0, (c) => c.call('has', { key })).catch(() => false); }

  get(key, length) { return this.use(length * 4, (c) => c.call('get', { key, length })).then((r) => r.floats, () => null); }

  put(key, floats) {
    const copy = floats.slice();
    return this.use(copy.byteLength, (c) => c.call('put', { key, floats: copy }, { transfer: [copy.buffer] }));
  }

  // As FeatureCache's, but the bytes (a whole buffer) are moved, not copied: handed back when the write failed.
  keep(key, bytes) { return this.use(bytes.byteLength, (c) => c.call('keep', { key, bytes }, { transfer: [bytes.buffer] })).then((r) => r.bytes ?? null); }

  getBytes(key, length) { return this.use(length, (c) => c.call('get', { key, length, bytes: true })).then((r) => r.floats, () => null); }

  // Serves a PortReader's reads (another worker's: about `bytes` of them) through port until it closes.
  serveReads(port, bytes = 0) { return this.use(bytes, (c) => c.call('serve-reads', { port }, { transfer: [port] })); }

  // A buffer nobody needs, moved here so that its memory goes when this worker is ended (or
  // replaced), not at some later garbage collection of the worker it came from.
  discard(floats) {
    this.use(floats.byteLength, (c) => c.call('discard', { floats }, { transfer: [floats.buffer] })).catch(() => {});
  }

  close() {
    this.client.kill('finished');
    this.restarting?.then(() => this.client.kill('finished'), () => {});   // the replacement too
    this.spare?.then((c) => c.kill('finished'), () => {});
    this.spare = null;
  }
}

// Bytes the page needs only now and then — trained classifiers (DLCLASS1; the RBF SVM's is 90 MB at
// the full size), the training images (47 MB) — in the same store rather than in the page's memory:
// each goes through a cache worker ended right after (IndexedDB's copies go with it) and is read back
// when needed (a download, a photo, an extraction, a pixel fit). keep() -> a handle,
// { key, length, parts } or, without IndexedDB or when the write failed, { bytes } (held here, as before).
// The keys name the session (its start time first): this session's go when the page is hidden for
// good, and those of sessions older than KEEP_MS at the next start.

export class ModelStore {
  constructor(cache) {
    Object.assign(this, { cache, session: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, count: 0 });
    if (!cache.db) return;
    cache.deleteModels({ before: Date.now() - KEEP_MS });
    addEventListener('pagehide', (e) => { if (!e.persisted) cache.deleteModels({ session: this.session }); });
  }

  // The bytes, stored a part at a time as keepParts does (IndexedDB's copies of one part are in memory,
  // not of the whole: the training images' 47 MB in one write made a peak of about 100 MB), then, a whole
  // buffer, moved to a cache worker ended at once (discard): the caller keeps the handle only.
  async keep(bytes) {
    const handle = await this.storeParts(bytes.length, async (start, end) => bytes.slice(start, end));
    if (!handle) return { bytes };
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) await this.discard(bytes).catch(() => {});
    return handle;
  }

  // A file read a part at a time (part(start, end) -> Promise of a Uint8Array the store may move), stored
  // as parts of PART_BYTES, each in its own transaction, awaited: the trained classifiers, left in the
  // classifier worker's heap (worker-train.js model-part), so no whole JS copy of them exists anywhere
  // (the RBF SVM's is 90 MB at the full size). -> { key, length, parts }, or, without IndexedDB or when a
  // write failed, { bytes } (the whole file, held here, as before).
  async keepParts({ length, part }) {
    return (await this.storeParts(length, part)) ?? { bytes: await part(0, length) };
  }

  // keepParts' storing: { key, length, parts }, or null (no IndexedDB, or a write failed).
  async storeParts(length, part) {
    if (!this.cache.db) return null;
    const key = `${MODEL_PREFIX}${this.session}:${this.count++}`, parts = Math.ceil(length / PART_BYTES);
    const stored = await withCacheWorker(this.cache, async (w) => {
      for (let i = 0; i < parts; i++) {
        if (await w.keep(`${key}:${i}`, await part(i * PART_BYTES, Math.min(length, (i + 1) * PART_BYTES)))) return false;
      }
      return true;
    }).catch(() => false);
    return stored ? { key, length, parts } : null;
  }

  // Bytes the caller no longer needs (a copy of stored ones), moved to a cache worker ended at once:
  // freed now, not at some later garbage collection of the page.
  discard(bytes) { return withCacheWorker(this.cache, (w) => w.discard?.(bytes)); }

  // The bytes of a handle, the caller's to move: a copy of those held here, or the stored parts read
  // straight into one array (streamParts: no buffer per part, no cache worker).
  async bytes(handle) {
    if (handle.bytes) return handle.bytes.slice();
    const out = new Uint8Array(handle.length);
    if (!(await streamParts(this.cache, handle, (start, part) => { out.set(part, start); }))) throw new Error('the trained classifier is no longer in the browser\'s storage: train it again');
    return out;
  }

  // The bytes of a stored handle a part at a time: each(start, part) awaited in order, the part the
  // callee's to move (a pixel fit converts them in the classifier worker: no whole JS copy); a part
  // each() returns goes back to the cache worker, freed with it. false: a part is missing.
  eachPart(handle, each) {
    return withCacheWorker(this.cache, (w) => forParts(w, handle, async (start, b) => {
      const spent = await each(start, b);
      if (spent) w.discard?.(spent);
    }));
  }
}

const PART_BYTES = 4 << 20;

// each(start, part) for a keepParts handle's parts in order, awaited; false when a part is missing.
// store: anything with getBytes(key, length) (a cache, its worker, or streamParts' scratch reader).
async function forParts(store, { key, length, parts }, each) {
  for (let i = 0; i < parts; i++) {
    const start = i * PART_BYTES, b = await store.getBytes(`${key}:${i}`, Math.min(length, start + PART_BYTES) - start);
    if (!b) return false;
    await each(start, b);
  }
  return true;
}

// fn(the cache through a worker of its own, ended afterwards; the cache itself when that worker cannot start).
export async function withCacheWorker(cache, fn) {
  const store = cache.db ? await FeatureCacheWorker.open().catch(() => cache) : cache;
  try {
    return await fn(store);
  } finally {
    store.close?.();
  }
}

// Why a cache entry ({ split, range, isBlock }, as readEntries takes them) could not be read back: the
// same words whoever reads it (the page through the cache worker, or the classifier worker itself).
export const readBackError = ({ split, range, isBlock }) => new Error(`the cached ${isBlock ? 'fine-tuning rows' : 'features'} of ${split} images ${range[0]}–${range[1] - 1} could not be read back: extract again`);

// Entries read straight from IndexedDB into one reused buffer, by a reader that copies each where it
// goes at once (a cache worker serving the classifier worker, serveReads; the page into a checksum or a
// download): no buffer allocated per entry.
export class ScratchReader {
  buffer = new ArrayBuffer(0);

  // The entry's bytes (a Uint8Array, valid until the next read), or null: absent, unreadable, not `bytes` long.
  async read(cache, key, bytes) {
    const value = await cache.value(key);
    if (value instanceof ArrayBuffer) return value.byteLength === bytes ? new Uint8Array(value) : null;   // a cache written before Blobs
    if (!(value instanceof Blob) || value.size !== bytes) return null;
    return this.stream(value, bytes).catch(unlessSilent(null));
  }

  // A BYOB read moves the buffer into the stream and hands the same memory back as the value's buffer;
  // where blobs have no byte stream, a copy (blob.arrayBuffer()).
  async stream(blob, bytes) {
    let reader;
    try { reader = blob.stream().getReader({ mode: 'byob' }); } catch { return new Uint8Array(await blob.arrayBuffer()); }
    if (this.buffer.byteLength < bytes) this.buffer = new ArrayBuffer(bytes);
    let buffer = this.buffer, at = 0;
    try {
      while (at < bytes) {
        const { value, done } = await withinStorageTime(reader.read(new Uint8Array(buffer, at, bytes - at)), 'reading a stored Blob');
        if (!value) break;
        buffer = value.buffer;
        if (done) break;
        at += value.byteLength;
      }
    } finally {
      this.buffer = buffer;   // detached if a read failed: the next read takes a new one
      reader.cancel().catch(() => {});
    }
    return at === bytes ? new Uint8Array(buffer, 0, bytes) : null;
  }
}

// Cache entries ({ key, split, range, floats per row, isBlock }) read in order with a ScratchReader,
// each(entry, floats) awaited (the floats valid during the call only); a missing entry throws
// readBackError after every one before it was handed over.
export async function readEntries(cache, entries, each, scratch = new ScratchReader()) {
  for (const entry of entries) {
    const count = (entry.range[1] - entry.range[0]) * entry.floats, b = await scratch.read(cache, entry.key, count * 4);
    if (!b) throw readBackError(entry);
    await each(entry, new Float32Array(b.buffer, b.byteOffset, count));
  }
}

// A keepParts handle's parts read straight from the cache with a ScratchReader: each(start, part) in
// order (the part valid during the call only); false when a part is missing.
export const streamParts = (cache, handle, each, scratch = new ScratchReader()) =>
  forParts({ getBytes: (key, length) => scratch.read(cache, key, length) }, handle, each);

// A ScratchReader whose reads are served by another worker through a MessagePort (serveReads there):
// a cache worker reads the Blobs, ended afterwards with whatever reading them leaves behind (streams,
// pipes: measured, they stayed in a reader busy in a long WASM call until it returned); the bytes come
// here with their buffer moved, and it goes back with the next request: one buffer, no copy on the page.
export class PortReader {
  // silentMs: longer than the serving worker's own limit on the storage, so that its reason comes first.
  constructor(port, silentMs = storageSilence.ms + 30000) {
    Object.assign(this, { port, silentMs, spent: null, reply: null });
    port.onmessage = (e) => this.reply?.(e.data);
  }

  read(_cache, key, bytes) {
    const spent = this.spent;
    this.spent = null;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the cache worker stopped answering')), this.silentMs);
      this.reply = (r) => {
        clearTimeout(timer);
        this.spent = r.bytes?.buffer ?? null;
        if (r.error) reject(new Error(r.error)); else resolve(r.bytes);
      };
      this.port.postMessage({ key, bytes, spent }, spent ? [spent] : []);
    });
  }

  // The last buffer goes back too, to be freed with the serving worker.
  close() {
    const spent = this.spent;
    this.spent = null;
    this.port.postMessage({ end: true, spent }, spent ? [spent] : []);
    this.port.close();
  }
}

// Serves a PortReader from the cache, every entry read into one buffer that travels there and back.
// Resolves when the reader closes.
export function serveReads(cache, port, scratch = new ScratchReader()) {
  return new Promise((resolve) => {
    port.onmessage = async ({ data: { key, bytes, spent, end } }) => {
      if (end) { port.close(); resolve(); return; }
      if (spent) scratch.buffer = spent;
      try {
        const b = await scratch.read(cache, key, bytes);
        port.postMessage({ bytes: b }, b ? [b.buffer] : []);
      } catch (e) {
        port.postMessage({ error: e.message });   // the storage stayed silent: the reader fails with that reason
      }
    };
  });
}
