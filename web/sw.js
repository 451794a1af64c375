// DenseLab service worker: keeps a verified copy of the site so the lab works offline.
// web/build-dist.js fills in VERSION (content hash) and ASSETS ({path, size, sha256, lazy}).
// - install: caches the app shell (small files); large files (model, data) are cached
//   as the page downloads them, or when the page asks for "complete" with the files it uses
//   (each page caches only its own: the photo page never fetches Fashion-MNIST).
// - messages from a page: complete (shell + that page's files; answers with the bytes
//   stored), clear (removes every DenseLab cache).
// - every cached response is checked: HTTP ok, exact size and SHA-256 as built, so a
//   partial or failed download is never cached or served.
// - activate: deletes caches of other versions (after reusing identical files from them).
const VERSION = 'dev'; // @build:version
const ASSETS = []; // @build:assets

const PREFIX = 'denselab-';
const CACHE = PREFIX + VERSION;
const HASH_HEADER = 'x-denselab-sha256';
const scope = self.registration.scope;
const byUrl = new Map(ASSETS.map((a) => [new URL(a.path, scope).href, a]));
const storing = new Map(); // url -> promise of a background cache.put in progress

function assetFor(url) {
  const u = new URL(url);
  u.search = '';
  u.hash = '';
  if (u.href === scope || u.href.endsWith('/')) u.pathname += 'index.html';
  return byUrl.get(u.href) || null;
}

// SHA-256 fed chunk by chunk (WebCrypto digests only a whole buffer: a large file would then be
// held here in full, twice, until this idle worker's next garbage collection).
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

function sha256() {
  // Int32 words with | 0 after each sum: V8 keeps them small integers (no doubles, no iterators).
  const H = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Int32Array(64), block = new Uint8Array(64);
  let fill = 0, length = 0;
  const ror = (x, n) => (x >>> n) | (x << (32 - n));
  function compress(bytes, at) {
    for (let i = 0; i < 16; i++) w[i] = (bytes[at + 4 * i] << 24) | (bytes[at + 4 * i + 1] << 16) | (bytes[at + 4 * i + 2] << 8) | bytes[at + 4 * i + 3];
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      w[i] = (w[i - 16] + (ror(x, 7) ^ ror(x, 18) ^ (x >>> 3)) + w[i - 7] + (ror(y, 17) ^ ror(y, 19) ^ (y >>> 10))) | 0;
    }
    let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }
  return {
    update(bytes) {
      let i = 0;
      length += bytes.length;
      if (fill) {
        i = Math.min(64 - fill, bytes.length);
        block.set(bytes.subarray(0, i), fill);
        fill += i;
        if (fill < 64) return;
        compress(block, 0);
        fill = 0;
      }
      for (; i + 64 <= bytes.length; i += 64) compress(bytes, i);
      block.set(bytes.subarray(i), 0);
      fill = bytes.length - i;
    },
    hex() {   // the padding: 0x80, zeros, then the length in bits (64 bits, big-endian)
      block.fill(0, fill);
      block[fill] = 0x80;
      if (fill >= 56) { compress(block, 0); block.fill(0); }
      const tail = new DataView(block.buffer);
      tail.setUint32(56, Math.floor(length / 2 ** 29));
      tail.setUint32(60, (length * 8) >>> 0);
      compress(block, 0);
      return Array.from(H, (x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
    },
  };
}

// A network response as a cacheable one, or null: its body streams into the cache, counted and
// hashed on the way; when the bytes are not the manifest's (size, SHA-256) the stream ends in an
// error, so cache.put() fails and stores nothing. No copy of the file is held here.
// WebKit's cache stores a response whose body is a stream as empty: there the whole file is read,
// checked and cached as one buffer (held here until a collection), as before.
const READ_WHOLE = /AppleWebKit\//.test(navigator.userAgent) && !/Chrome\//.test(navigator.userAgent);

async function verified(asset, response) {
  if (!response || !response.ok || response.status !== 200 || !response.body) return null;
  const headers = new Headers(response.headers);
  headers.set(HASH_HEADER, asset.sha256);
  headers.set('Content-Length', String(asset.size));
  if (READ_WHOLE) {
    const buf = await response.arrayBuffer(), whole = sha256();
    whole.update(new Uint8Array(buf));
    return buf.byteLength === asset.size && whole.hex() === asset.sha256 ? new Response(buf, { status: 200, statusText: 'OK', headers }) : null;
  }
  const hash = sha256();
  let size = 0;
  const check = new TransformStream({
    transform(chunk, controller) {
      size += chunk.length;
      if (size > asset.size) throw new Error(`${asset.path}: longer than ${asset.size} bytes`);
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      if (size !== asset.size || hash.hex() !== asset.sha256) throw new Error(`${asset.path}: not the file this version was built with`);
    },
  });
  return new Response(response.body.pipeThrough(check), { status: 200, statusText: 'OK', headers });
}

// A file with the same hash cached by an older version of the site.
async function fromOldCaches(asset) {
  const url = new URL(asset.path, scope).href;
  for (const name of await caches.keys()) {
    if (!name.startsWith(PREFIX) || name === CACHE) continue;
    const hit = await (await caches.open(name)).match(url);
    if (hit && hit.headers.get(HASH_HEADER) === asset.sha256) return hit;
  }
  return null;
}

// Makes sure `asset` is in this version's cache; returns true if it is.
async function ensure(cache, asset, { download = true } = {}) {
  const url = new URL(asset.path, scope).href;
  if (storing.has(url)) await storing.get(url);
  if (await cache.match(url)) return true;
  const old = await fromOldCaches(asset);
  if (old) {
    await cache.put(url, old);
    return true;
  }
  if (!download) return false;
  const job = fetch(url, { cache: 'no-cache' })
    .then((r) => verified(asset, r))
    .then((r) => r && cache.put(url, r))
    .catch(() => {})
    .finally(() => storing.delete(url));
  storing.set(url, job);
  await job;
  return !!(await cache.match(url));
}

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    for (const a of ASSETS) {
      const ok = await ensure(cache, a, { download: !a.lazy });
      if (!ok && !a.lazy) throw new Error(`could not cache ${a.path}`);
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// Cross-origin isolation for static hosts that cannot send headers: every
// response this worker serves carries COOP/COEP, so from the second visit on
// (the first one that this worker serves) the page is crossOriginIsolated and
// may use the threaded build (web/app.js says so). The body streams through.
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};
// Only documents and workers need them (same-origin subresources pass COEP as they are); the
// rest is served untouched, so large downloads stream as they came (Firefox refuses a re-wrapped
// body that is also being cached: NS_ERROR_INTERCEPTION_FAILED).
const needsIsolation = (req) => req.mode === 'navigate' || ['document', 'iframe', 'worker', 'sharedworker'].includes(req.destination);
function isolated(req, response) {
  if (!needsIsolation(req) || !response || response.type === 'opaque' || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(ISOLATION_HEADERS)) headers.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  const asset = assetFor(req.url);
  if (!asset) return; // not part of the site: plain network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(new URL(asset.path, scope).href);
    if (hit) return isolated(req, hit);
    const response = await fetch(req);
    // Cache a verified copy in the background; the page streams the original.
    const url = new URL(asset.path, scope).href;
    if (response.ok && !storing.has(url)) {
      const copy = response.clone();
      const job = verified(asset, copy)
        .then((r) => r && cache.put(url, r))
        .catch(() => {})
        .finally(() => storing.delete(url));
      storing.set(url, job);
      event.waitUntil(job);
    }
    return isolated(req, response);
  })());
});

// The lazy files a page names (relative paths) that are part of the site.
function filesOf(paths) {
  const wanted = new Set((Array.isArray(paths) ? paths : []).map((p) => new URL(p, scope).href));
  return ASSETS.filter((a) => a.lazy && wanted.has(new URL(a.path, scope).href));
}

// Bytes of this site held in all DenseLab caches (sizes as built; older versions counted too).
async function usage() {
  let bytes = 0, files = 0;
  for (const name of await caches.keys()) {
    if (!name.startsWith(PREFIX)) continue;
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const a = byUrl.get(req.url);
      bytes += a ? a.size : Number((await cache.match(req))?.headers.get('Content-Length')) || 0;
      files++;
    }
  }
  return { bytes, files };
}

const MESSAGES = {
  // {files}: cache the shell and those files (downloading what is missing), then say whether
  // the page that asked can work offline.
  async complete(data) {
    const cache = await caches.open(CACHE);
    const missing = [];
    for (const a of [...ASSETS.filter((x) => !x.lazy), ...filesOf(data.files)]) {
      if (!(await ensure(cache, a))) missing.push(a.path);
    }
    return { version: VERSION, ready: missing.length === 0, missing, ...(await usage()) };
  },
  async clear() {
    const before = await usage();
    await Promise.all([...storing.values()]);
    for (const name of await caches.keys()) if (name.startsWith(PREFIX)) await caches.delete(name);
    return { version: VERSION, removed: before.bytes, ...(await usage()) };
  },
};

// A page asks {type, ...} with a MessagePort; the answer goes back on that port.
self.addEventListener('message', (event) => {
  const data = event.data || {};
  const port = event.ports && event.ports[0];
  const handle = Object.hasOwn(MESSAGES, data.type) ? MESSAGES[data.type] : null;
  if (!port || !handle) return;
  event.waitUntil(handle(data).then((r) => port.postMessage(r), (e) => port.postMessage({ error: e.message })));
});
