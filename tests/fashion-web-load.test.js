// fashion-web-load.test.js — the pages' loading path without a browser (Node has the same streams):
// readInto() (web/loading.js) fills one buffer from a byte stream or a plain one, and refuses a body longer or shorter than stated; the service worker's verification (web/sw.js)
// hashes a response as it streams into the cache, equal to SHA-256, and errors the stream (so
// cache.put() stores nothing) when a byte or the length differs.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireBuilt, root } from './helpers.js';

const dist = (f) => path.join(root, 'dist', f);
requireBuilt(dist('loading.js'));
const { readInto } = await import(pathToFileURL(dist('loading.js')).href);

// sha256() and verified() from the service worker's source (it is a classic script of the site,
// so it is not imported: its top level needs a registration).
const sw = fs.readFileSync(path.join(root, 'web/sw.js'), 'utf8');
const part = sw.slice(sw.indexOf('const K256'), sw.indexOf('// A file with the same hash cached by an older version'));
const { sha256, verified } = new Function(`const HASH_HEADER = 'x-denselab-sha256', navigator = { userAgent: 'Node' };\n${part}\nreturn { sha256, verified };`)();

const bytesOf = (n, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) >>> 24);

// A stream of data in chunks of `chunk` bytes: a byte stream (BYOB readers allowed) or a plain one.
function streamOf(data, chunk, { bytes = true } = {}) {
  let at = 0;
  return new ReadableStream({
    type: bytes ? 'bytes' : undefined,
    pull(c) {
      if (at >= data.length) { c.close(); c.byobRequest?.respond(0); return; }
      const n = Math.min(chunk, data.length - at);
      const view = c.byobRequest?.view;
      if (view) {
        const k = Math.min(n, view.byteLength);
        view.set(data.subarray(at, at + k));
        at += k;
        c.byobRequest.respond(k);
      } else {
        c.enqueue(data.slice(at, at + n));
        at += n;
      }
    },
  });
}

test('readInto fills one buffer from a byte stream or a plain one, with progress, for odd sizes', async () => {
  for (const n of [1, 63, 1000, 65537]) {
    for (const bytes of [true, false]) {
      const data = bytesOf(n), seen = [];
      const out = await readInto(streamOf(data, 4099, { bytes }), new Uint8Array(n), 'test', (got, total) => seen.push([got, total]));
      assert.deepEqual(out, data, `${n} bytes, ${bytes ? 'byte stream' : 'plain stream'}`);
      assert.deepEqual(seen.at(-1), [n, n]);
    }
  }
});

test('readInto refuses a body longer or shorter than stated, with a reason', async () => {
  for (const bytes of [true, false]) {
    await assert.rejects(readInto(streamOf(bytesOf(101), 50, { bytes }), new Uint8Array(100), 'download of x'), /download of x is longer than its 100 bytes/);
    await assert.rejects(readInto(streamOf(bytesOf(99), 50, { bytes }), new Uint8Array(100), 'download of x'), /download of x incomplete: 99 of 100 bytes/);
  }
});

test('the service worker\'s streamed SHA-256 equals SHA-256 for odd sizes and chunkings', () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 70001]) {
    const data = bytesOf(n, n), want = crypto.createHash('sha256').update(data).digest('hex');
    for (const chunk of [1, 7, 64, 1000, 1 << 20]) {
      const h = sha256();
      for (let i = 0; i < n; i += chunk) h.update(data.subarray(i, i + chunk));
      assert.equal(h.hex(), want, `${n} bytes in chunks of ${chunk}`);
    }
  }
});

test('the service worker caches a response only when its bytes are the manifest\'s', async () => {
  const data = bytesOf(300000), asset = { path: 'models/x.dlm', size: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') };
  const body = (bytes) => new Response(streamOf(bytes, 65536), { status: 200, headers: { 'Content-Type': 'application/octet-stream' } });
  const ok = await verified(asset, body(data));
  assert.equal(ok.headers.get('x-denselab-sha256'), asset.sha256);
  assert.equal(ok.headers.get('Content-Length'), String(data.length));
  assert.deepEqual(new Uint8Array(await ok.arrayBuffer()), data);
  const flipped = data.slice();
  flipped[123456] ^= 1;
  await assert.rejects((await verified(asset, body(flipped))).arrayBuffer(), 'one byte changed: the stream (so cache.put) fails');
  await assert.rejects((await verified(asset, body(data.subarray(1)))).arrayBuffer(), 'one byte short');
  await assert.rejects((await verified(asset, body(Uint8Array.from([...data, 0])))).arrayBuffer(), 'one byte long');
  assert.equal(await verified(asset, new Response('x', { status: 404 })), null);
});
