// fashion-web-cache.test.js — the Fashion page's feature delivery (web/fashion-pool.js) without a
// browser, on a cache in memory: fine-tuning's rows (the ':block' entries) stay in the cache while
// the features are delivered, and putBlockRows() delivers exactly the ones the sink lacks when
// fine-tuning starts; a missing entry or no cache gives a clear reason. (In Node the cache worker
// cannot start, so the cache itself is used, as the page does when that worker fails.)
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireBuilt, root } from './helpers.js';

const dist = (f) => path.join(root, 'dist', f);
requireBuilt(dist('fashion-pool.js'));
const { extractFeatures, putBlockRows } = await import(pathToFileURL(dist('fashion-pool.js')).href);
const { cacheKey } = await import(pathToFileURL(dist('fashion-cache.js')).href);
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
