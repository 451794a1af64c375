// fashion-web-cache.test.js — the Fashion page's feature delivery (web/fashion-pool.js) without a
// browser, on a cache in memory: fine-tuning's rows (the ':block' entries) stay in the cache while
// the features are delivered, and putBlockRows() delivers exactly the ones the sink lacks when
// fine-tuning starts; a missing entry or no cache gives a clear reason. (In Node the cache worker
// cannot start, so the cache itself is used, as the page does when that worker fails.) ModelStore keeps a
// trained classifier's file a part at a time (keepParts: no whole copy is ever asked for) and reads it
// back whole; a failed write or no cache keeps the whole bytes instead; keep() stores bytes the same way and
// moves the original away. FeatureCacheWorker (over fake workers) replaces its worker every RECYCLE_BYTES
// moved, the next one started beforehand, and ends them all on close().
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireBuilt, root } from './helpers.js';

const dist = (f) => path.join(root, 'dist', f);
requireBuilt(dist('fashion-pool.js'));
const { extractFeatures, putBlockRows } = await import(pathToFileURL(dist('fashion-pool.js')).href);
const { cacheKey, FeatureCacheWorker, ModelStore, RECYCLE_BYTES } = await import(pathToFileURL(dist('fashion-cache.js')).href);
const { batchRanges, blockFloats } = await import(pathToFileURL(dist('experiment.js')).href);

const CHECKSUM = 0xabc, SIZE = 32, BATCH = 256, N = 600, M = 300, D = 1024, BLOCK = blockFloats(SIZE);
const splits = [['train', N], ['test', M]];

// Every batch's entries: the features and fine-tuning's rows, each filled with a value naming it.
function entries({ block = true } = {}) {
  const out = new Map();
  for (const [split, count] of splits) {
    for (const range of batchRanges(count, BATCH)) {
      const rows = range[1] - range[0], key = cacheKey(CHECKSUM, SIZE, split, range);
      out.set(key, new Float32Array(rows * D).fill(range[0] + 1));
      if (block) out.set(`${key}:block`, new Float32Array(rows * BLOCK).fill(-(range[0] + 1)));
    }
  }
  return out;
}

class MemoryCache {
  constructor(map) { Object.assign(this, { db: true, map }); }
  async has(key) { return this.map.has(key); }
  async get(key, length) { const f = this.map.get(key); return f && f.length === length ? f.slice() : null; }
  async put(key, floats) { this.map.set(key, floats.slice()); }
}

// A sink that records what it is given ({ split, start, rows, isBlock }).
function recordingSink({ have = [], haveBlock = [] } = {}) {
  const puts = [];
  return {
    puts, have: new Set(have), haveBlock: new Set(haveBlock),
    put: async (split, start, floats, isBlock) => { puts.push({ split, start, rows: floats.length / (isBlock ? BLOCK : D), isBlock, first: floats[0] }); },
  };
}

const run = (cache, sink) => extractFeatures({
  splits: null, n: N, m: M, size: SIZE, workers: 1, batch: BATCH, cache, modelChecksum: CHECKSUM, sink, block: true,
  onPool: () => assert.fail('no batch needs computing'), onProgress: () => {}, onCacheError: (e) => assert.fail(e),
});

test('extraction with fine-tuning chosen delivers the features only: its rows wait in the cache', async () => {
  const sink = recordingSink();
  const r = await run(new MemoryCache(entries()), sink);
  assert.equal(r.cached, N + M);
  assert.equal(r.computed, 0);
  assert.equal(r.cacheComplete, true);
  assert.deepEqual(sink.puts.map((p) => [p.split, p.start, p.isBlock]), [['train', 0, false], ['train', 256, false], ['train', 512, false], ['test', 0, false], ['test', 256, false]]);
  assert.deepEqual(sink.puts.map((p) => p.first), [1, 257, 513, 1, 257], 'each batch is its own entry');
});

test('a batch whose rows are in the sink but not in the cache is not computed again, and the cache is not complete', async () => {
  const map = entries();
  map.delete(`${cacheKey(CHECKSUM, SIZE, 'test', [256, 300])}:block`);
  const sink = recordingSink({ have: ['test:256'], haveBlock: ['test:256'] });
  const r = await run(new MemoryCache(map), sink);
  assert.equal(r.cacheComplete, false);
  assert.equal(sink.puts.length, 4);
  assert.ok(!sink.puts.some((p) => p.split === 'test' && p.start === 256));
});

test('putBlockRows delivers the rows the sink lacks, from the cache, and nothing else', async () => {
  const sink = recordingSink({ have: ['train:256'] });
  await putBlockRows({ cache: new MemoryCache(entries()), n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink });
  assert.deepEqual(sink.puts.map((p) => [p.split, p.start, p.rows, p.isBlock, p.first]),
    [['train', 0, 256, true, -1], ['train', 512, 88, true, -513], ['test', 0, 256, true, -1], ['test', 256, 44, true, -257]]);
  const none = recordingSink({ have: ['train:0', 'train:256', 'train:512', 'test:0', 'test:256'] });
  await putBlockRows({ cache: { db: null }, n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink: none });
  assert.equal(none.puts.length, 0, 'all there: no cache needed');
});

test('putBlockRows: a missing entry, or no cache, is a clear reason', async () => {
  const map = entries();
  map.delete(`${cacheKey(CHECKSUM, SIZE, 'train', [512, 600])}:block`);
  await assert.rejects(putBlockRows({ cache: new MemoryCache(map), n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink: recordingSink() }),
    /the cached fine-tuning rows of train images 512–599 could not be read back: extract again/);
  await assert.rejects(putBlockRows({ cache: { db: null }, n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink: recordingSink() }),
    /no cache: extract the features again/);
});

// keepParts' source: a file whose byte i is i % 251, recording the ranges asked for.
function partSource(length) {
  const file = Uint8Array.from({ length }, (_, i) => i % 251), asked = [];
  return { file, asked, source: { length, part: async (start, end) => { asked.push([start, end]); return file.slice(start, end); } } };
}

// The store as the page makes it (ModelStore listens for pagehide: absent in Node), over a cache in memory
// whose keep() stores bytes (or, failing, hands them back) and getBytes() reads them.
function modelStore(cache) {
  globalThis.addEventListener ??= () => {};
  Object.assign(cache, {
    keep: async (key, bytes) => (cache.fail ? bytes : (cache.map.set(key, bytes.slice()), null)),
    getBytes: async (key, length) => { const b = cache.map.get(key); return b && b.length === length ? b.slice() : null; },
    value: async (key) => cache.map.get(key)?.slice().buffer ?? null,   // ModelStore.bytes reads the stored parts itself
    deleteModels: async () => {},
  });
  return new ModelStore(cache);
}

test('ModelStore.keepParts stores a file a part at a time and reads it back whole', async () => {
  const MB = 1 << 20, cache = new MemoryCache(new Map()), store = modelStore(cache);
  const { file, asked, source } = partSource(9 * MB + 5);
  const handle = await store.keepParts(source);
  assert.deepEqual(asked, [[0, 4 * MB], [4 * MB, 8 * MB], [8 * MB, 9 * MB + 5]], 'parts of 4 MB, never the whole file');
  assert.equal(handle.bytes, undefined, 'stored, not held');
  assert.equal(handle.parts, 3);
  assert.deepEqual([...cache.map.values()].map((b) => b.length), [4 * MB, 4 * MB, MB + 5]);
  assert.deepEqual(await store.bytes(handle), file);
  cache.map.delete(`${handle.key}:1`);
  await assert.rejects(store.bytes(handle), /no longer in the browser's storage: train it again/);
});

test('ModelStore.eachPart hands over a stored file a part at a time, in order, and says when a part is missing', async () => {
  const MB = 1 << 20, cache = new MemoryCache(new Map()), store = modelStore(cache);
  const { file, source } = partSource(9 * MB + 5);
  const handle = await store.keepParts(source), seen = [], back = [];
  cache.discard = (b) => back.push(b.length);
  assert.equal(await store.eachPart(handle, async (start, b) => { seen.push([start, b.length]); assert.deepEqual(b, file.subarray(start, start + b.length)); return b; }), true);
  assert.deepEqual(seen, [[0, 4 * MB], [4 * MB, 4 * MB], [8 * MB, MB + 5]]);
  assert.deepEqual(back, [4 * MB, 4 * MB, MB + 5], 'each part handed back goes to the cache (worker) to be freed');
  cache.map.delete(`${handle.key}:2`);
  seen.length = 0;
  assert.equal(await store.eachPart(handle, async (start) => { seen.push(start); }), false);
  assert.deepEqual(seen, [0, 4 * MB], 'the parts before the missing one');
});

test('ModelStore.keepParts: a failed write, or no cache, keeps the whole bytes', async () => {
  const failing = Object.assign(new MemoryCache(new Map()), { fail: true });
  for (const cache of [failing, { db: null }]) {
    const store = cache.db ? modelStore(cache) : new ModelStore(cache);
    const { file, source } = partSource(1000);
    const handle = await store.keepParts(source);
    assert.deepEqual(handle.bytes, file);
    assert.deepEqual(await store.bytes(handle), file);
  }
});

test('ModelStore.keep stores the bytes a part at a time, then moves the original to a worker ended at once', async () => {
  const MB = 1 << 20, cache = new MemoryCache(new Map()), store = modelStore(cache), discarded = [];
  cache.discard = (bytes) => { discarded.push(bytes.length); };
  const bytes = Uint8Array.from({ length: 9 * MB + 5 }, (_, i) => i % 251), copy = bytes.slice();
  const handle = await store.keep(bytes);
  assert.equal(handle.parts, 3);
  assert.deepEqual([...cache.map.values()].map((b) => b.length), [4 * MB, 4 * MB, MB + 5], 'parts, never the whole in one write');
  assert.deepEqual(discarded, [9 * MB + 5], 'the original goes to the cache worker');
  assert.deepEqual(await store.bytes(handle), copy);
  const failing = Object.assign(new MemoryCache(new Map()), { fail: true }), view = copy.subarray(1, 11);
  assert.equal((await modelStore(failing).keep(view)).bytes, view, 'a failed write hands back the same bytes, not a copy');
});

// Fake cache workers: each records the bytes it was asked to move and whether it was killed.
function fakeWorkers() {
  const opened = [];
  const opener = async () => {
    const c = {
      calls: new Map(), moved: 0, killed: false, n: opened.length,
      call(cmd, args) {
        const id = Symbol(cmd);
        c.calls.set(id, cmd);
        c.moved += cmd === 'get' ? args.length * 4 : args.floats?.byteLength ?? 0;
        return new Promise((resolve) => setTimeout(() => { c.calls.delete(id); resolve(cmd === 'get' ? { floats: new Float32Array(args.length) } : {}); }, 0));
      },
      kill() { c.killed = true; },
    };
    opened.push(c);
    return c;
  };
  return { opened, opener };
}

test('FeatureCacheWorker replaces its worker every RECYCLE_BYTES, with the next one started beforehand, and ends them all', async () => {
  const { opened, opener } = fakeWorkers(), batch = 256 * 1024, batchBytes = batch * 4;   // 1 MB of floats
  const cache = await FeatureCacheWorker.open(opener);
  const total = 3 * RECYCLE_BYTES + batchBytes;
  for (let moved = 0; moved < total; moved += 2 * batchBytes) {   // a read back: get, then the spent buffer discarded
    const f = await cache.get('k', batch);
    assert.equal(f.length, batch);
    cache.discard(f);
  }
  await new Promise((r) => setTimeout(r, 10));
  const used = opened.filter((c) => c.moved > 0);
  assert.ok(used.length >= 3, `${used.length} workers for ${total / 2 ** 20} MB`);
  for (const c of used) assert.ok(c.moved <= RECYCLE_BYTES + 2 * batchBytes, `worker ${c.n} moved ${c.moved / 2 ** 20} MB`);
  assert.ok(opened.length <= used.length + 1, 'at most one spare beyond those used');
  cache.close();
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(opened.every((c) => c.killed), 'every worker, the spare too, is ended');
});

// The cache's own reads and writes over a fake IndexedDB (a Map behind transaction/objectStore/get/put):
// put() stores a Blob, get() reads Blobs and the ArrayBuffers of caches written before, a wrong length is
// null; the classifier worker's direct reads (readEntries, streamParts) go through one reused buffer.
const { FeatureCache, ScratchReader, readEntries, streamParts } = await import(pathToFileURL(dist('fashion-cache.js')).href);

function fakeDb(map) {
  const later = (fn) => setTimeout(fn, 0);
  const request = (result) => { const r = {}; later(() => { r.result = result; r.onsuccess?.(); }); return r; };
  return {
    transaction: () => {
      const tx = { objectStore: () => ({ get: (k) => request(map.get(k)), put: (v, k) => { map.set(k, v); later(() => tx.oncomplete?.()); } }) };
      return tx;
    },
  };
}

test('a storage that stays silent (a request, or a Blob read, never answered) is an error with that reason, through a PortReader too; the next reads work', async () => {
  const { PortReader, serveReads, storageSilence } = await import(pathToFileURL(dist('fashion-cache.js')).href);
  const map = new Map(), db = fakeDb(map), cache = new FeatureCache(db), saved = storageSilence.ms;
  await cache.put('good', Float32Array.of(1, 2, 3));
  map.set('stuck-blob', new (class extends Blob { stream() { return new ReadableStream({ type: 'bytes', pull: () => new Promise(() => {}) }); } })([new Uint8Array(12)]));
  const transaction = db.transaction;
  db.transaction = (...a) => { const tx = transaction(...a), store = tx.objectStore(); return { ...tx, objectStore: () => ({ ...store, get: (k) => (k === 'stuck' ? {} : store.get(k)) }) }; };
  storageSilence.ms = 50;
  try {
    const entry = (key) => ({ key, split: 'train', range: [0, 3], floats: 1, isBlock: false });
    const silent = /^Error: the browser's storage gave no answer for 0\.05 s \((reading stuck|reading a stored Blob)\)$/;
    for (const key of ['stuck', 'stuck-blob']) {
      await assert.rejects(readEntries(cache, [entry(key)], () => {}), silent, `${key}: read here`);
      const { port1, port2 } = new MessageChannel(), served = serveReads(cache, port1), reader = new PortReader(port2);
      await assert.rejects(readEntries(null, [entry(key)], () => {}, reader), silent, `${key}: through a port`);
      const got = [];
      await readEntries(null, [entry('good')], (e, f) => { got.push(...f); }, reader);
      assert.deepEqual(got, [1, 2, 3], 'the same reader reads on');
      reader.close();
      await served;
    }
    assert.equal(await cache.get('absent', 1), null, 'an absent entry is still null, at once');
  } finally { storageSilence.ms = saved; }
});

test('FeatureCache stores Blobs and reads them, and the ArrayBuffers of an older cache; a wrong length is null', async () => {
  const map = new Map(), cache = new FeatureCache(fakeDb(map));
  const floats = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
  await cache.put('a', floats.subarray(10, 510));
  assert.ok(map.get('a') instanceof Blob, 'stored as a Blob');
  assert.equal(map.get('a').size, 500 * 4, 'the view\'s bytes only');
  assert.deepEqual(await cache.get('a', 500), floats.subarray(10, 510));
  assert.equal(await cache.get('a', 499), null);
  assert.deepEqual(await cache.getBytes('a', 2000), new Uint8Array(floats.buffer, 40, 2000));
  map.set('old', floats.buffer.slice(0, 400));
  assert.deepEqual(await cache.get('old', 100), floats.subarray(0, 100));
  assert.equal(await cache.get('old', 101), null);
  assert.equal(await cache.get('absent', 1), null);
  assert.equal(await new FeatureCache(null).get('a', 500), null, 'no IndexedDB: nothing');
});

test('readEntries: Blobs and old ArrayBuffers through one reused buffer, in order; a missing entry is readBackError after the ones before', async () => {
  const map = new Map(), cache = new FeatureCache(fakeDb(map)), d = 3;
  const entry = (split, start, end) => ({ key: `${split}:${start}`, split, range: [start, end], floats: d, isBlock: false });
  const rows = (e) => Float32Array.from({ length: (e.range[1] - e.range[0]) * d }, (_, i) => e.range[0] * 10 + i);
  const entries = [entry('train', 0, 5), entry('train', 5, 7), entry('test', 0, 4)];
  await cache.put(entries[0].key, rows(entries[0]));
  map.set(entries[1].key, rows(entries[1]).buffer);   // written before values were Blobs
  await cache.put(entries[2].key, rows(entries[2]));
  const scratch = new ScratchReader(), seen = [];
  await readEntries(cache, entries, (e, f) => { seen.push(e.key); assert.deepEqual(f, rows(e)); }, scratch);
  assert.deepEqual(seen, entries.map((e) => e.key));
  assert.equal(scratch.buffer.byteLength, 5 * d * 4, 'one buffer, as large as the largest Blob read');
  map.delete(entries[1].key);
  seen.length = 0;
  await assert.rejects(readEntries(cache, entries, (e) => { seen.push(e.key); }, scratch),
    /^Error: the cached features of train images 5–6 could not be read back: extract again$/);
  assert.deepEqual(seen, [entries[0].key], 'the entries before the missing one were handed over');
  await cache.put(entries[1].key, rows(entries[1]).subarray(1));   // one float short
  await assert.rejects(readEntries(cache, [{ ...entries[1], isBlock: true }], () => {}), /fine-tuning rows of train images 5–6 could not be read back/);
});

test('ScratchReader: a Blob without a byte stream is read whole; streamParts says when a part is missing', async () => {
  class PlainStreamBlob extends Blob {
    stream() { const b = this; return new ReadableStream({ async start(c) { c.enqueue(new Uint8Array(await b.arrayBuffer())); c.close(); } }); }
  }
  const map = new Map([['k', new PlainStreamBlob([new Uint8Array([1, 2, 3])])]]), cache = new FeatureCache(fakeDb(map));
  assert.deepEqual(await new ScratchReader().read(cache, 'k', 3), new Uint8Array([1, 2, 3]));
  const MB = 1 << 20, file = Uint8Array.from({ length: 9 * MB + 5 }, (_, i) => i % 251), handle = { key: 'model:s:0', length: file.length, parts: 3 };
  for (let i = 0; i < 3; i++) await cache.put(`${handle.key}:${i}`, file.subarray(i * 4 * MB, Math.min(file.length, (i + 1) * 4 * MB)));
  const out = new Uint8Array(file.length);
  assert.equal(await streamParts(cache, handle, (start, b) => { out.set(b, start); }), true);
  assert.deepEqual(out, file);
  map.delete(`${handle.key}:1`);
  const starts = [];
  assert.equal(await streamParts(cache, handle, (start) => { starts.push(start); }), false);
  assert.deepEqual(starts, [0]);
});

test('readBack: a sink that reads the cache itself (fromCache) gets the entries, or, when it cannot, puts as before', async () => {
  const lists = [], direct = { ...recordingSink(), fromCache: async (entries) => { lists.push(entries.map((e) => [e.split, e.range[0], e.isBlock])); return true; } };
  await putBlockRows({ cache: new MemoryCache(entries()), n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink: direct });
  assert.deepEqual(lists, [[['train', 0, true], ['train', 256, true], ['train', 512, true], ['test', 0, true], ['test', 256, true]]]);
  assert.equal(direct.puts.length, 0);
  const unable = { ...recordingSink(), fromCache: async () => false };
  await putBlockRows({ cache: new MemoryCache(entries()), n: N, m: M, size: SIZE, batch: BATCH, modelChecksum: CHECKSUM, sink: unable });
  assert.equal(unable.puts.length, 5, 'put one batch at a time through the cache');
});

test('PortReader: the entries read by another side of a MessageChannel (serveReads), one buffer going there and back; a missing one is null', async () => {
  const { PortReader, serveReads } = await import(pathToFileURL(dist('fashion-cache.js')).href);
  const map = new Map(), cache = new FeatureCache(fakeDb(map)), d = 4;
  const entry = (start, end) => ({ key: `train:${start}`, split: 'train', range: [start, end], floats: d, isBlock: false });
  const rows = (e) => Float32Array.from({ length: (e.range[1] - e.range[0]) * d }, (_, i) => e.range[0] + i / 8);
  const entries = [entry(0, 3), entry(3, 6), entry(6, 7)];
  for (const e of entries) await cache.put(e.key, rows(e));
  const { port1, port2 } = new MessageChannel(), served = serveReads(cache, port1), reader = new PortReader(port2);
  const seen = [];
  await readEntries(null, entries, (e, f) => { seen.push(e.key); assert.deepEqual(f, rows(e)); }, reader);
  assert.deepEqual(seen, entries.map((e) => e.key));
  assert.equal(await reader.read(null, 'absent', 16), null);
  assert.equal(await reader.read(null, entries[0].key, 12 * 4 + 1), null, 'a wrong length');
  reader.close();
  await served;   // resolves once the reader closed
});
