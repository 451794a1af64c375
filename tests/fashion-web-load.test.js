// fashion-web-load.test.js — the pages' loading path without a browser (Node has the same streams):
// readInto() (web/loading.js) fills one buffer from a byte stream or a plain one, and refuses a
// body longer or shorter than stated.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { requireBuilt, root } from './helpers.js';

const dist = (f) => path.join(root, 'dist', f);
requireBuilt(dist('loading.js'));
const { readInto } = await import(pathToFileURL(dist('loading.js')).href);

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
