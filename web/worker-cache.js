// DenseLab feature-cache worker: the IndexedDB cache (fashion-cache.js) for one extraction run,
// in a worker the page ends afterwards (FeatureCacheWorker). IndexedDB keeps native copies of the
// values written and read until the requests are garbage-collected, which an idle tab may put
// off for minutes (100 MB per 11,000 images measured on the page): here they go with the worker, as do
// the buffers it was sent. It imports no more than it needs: a new one is started every RECYCLE_BYTES.
// Messages (worker-rpc.js): open -> {}; has { key } -> boolean; get { key, length, bytes } -> { floats
// (transferred; bytes: a Uint8Array) | null }; put { key, floats (transferred) } -> {} once committed; discard { floats
// (transferred) } -> {}; keep { key, bytes (transferred) } -> {} once committed, or { bytes } (transferred back)
// when the write failed; serve-reads { port (transferred) } -> {} once the PortReader at the other end
// (the classifier worker) closed: the entries it asks for, read here (fashion-cache.js serveReads).
import { serve } from './worker-rpc.js';
import { FeatureCache, serveReads } from './fashion-cache.js';

let cache = null;

// A buffer's memory freed now (denselab.js release, not imported: this worker stays small): once its bytes are
// in a Blob, the copy that came here would otherwise wait for this worker's end (a garbage collection never comes).
const free = (a) => a.buffer.transfer?.(0);

const handlers = {
  async open() { cache ??= await FeatureCache.open(); return {}; },
  has: ({ key }) => cache.has(key),
  async get({ key, length, bytes }) { return { floats: await cache.get(key, length, bytes ? Uint8Array : Float32Array) }; },
  async put({ key, floats }) {
    const stored = cache.put(key, floats);   // the Blob holds a copy once put() returns
    free(floats);
    await stored;
    return {};
  },
  async keep({ key, bytes }) {
    try { await cache.put(key, bytes); } catch { return { bytes }; }   // handed back: the caller keeps them
    free(bytes);
    return {};
  },
  discard: ({ floats }) => { free(floats); return {}; },   // a buffer nobody needs (FeatureCacheWorker.discard)
  'serve-reads': ({ port }) => serveReads(cache, port).then(() => ({})),
};

serve(handlers, {
  setup: ['open'], isReady: () => !!cache, notReady: 'the cache worker is not open',
  transfer: (r) => [r?.floats?.buffer, r?.bytes?.buffer].filter(Boolean),
});
