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

async function hex(buf) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', buf));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Checks a network response against the manifest; returns a cacheable copy or null.
async function verified(asset, response) {
  if (!response || !response.ok || response.status !== 200) return null;
  const buf = await response.arrayBuffer();
  if (buf.byteLength !== asset.size) return null;
  if ((await hex(buf)) !== asset.sha256) return null;
  const headers = new Headers(response.headers);
  headers.set(HASH_HEADER, asset.sha256);
  headers.set('Content-Length', String(buf.byteLength));
  return new Response(buf, { status: 200, statusText: 'OK', headers });
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
