// threads.test.js — one image on several threads (issue 12): the output is
// bit-identical for 1, 2, 3 and 4 threads, natively (build/native/denselab
// --threads N) and in Node on the threaded WASM build (createDenseLab({ threads })),
// equal to the single-threaded WASM build; a thread that runs out of memory is
// the caller's error and the next run is whole again; bench --layers prints the
// per-layer table. (The synthetic odd-size graphs: tests/graph_test.c, test_threads.)
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import { images, model, nativeCli, requireBuilt, root, run, tmpDir } from './helpers.js';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';

v8.setFlagsFromString('--no-liftoff');

const photo = images.find((f) => f.endsWith('cat_285.png'));
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const THREADS = [1, 2, 3, 4];

test('native: predict is bit-identical on 1, 2, 3 and 4 threads', () => {
  requireBuilt(nativeCli, model);
  const dir = tmpDir();
  const hashes = THREADS.map((t) => {
    const out = path.join(dir, `t${t}.npy`);
    const r = run('native', ['predict', photo, '--out', out, '--threads', String(t)]);
    assert.equal(r.status, 0, r.stderr);
    return sha256(fs.readFileSync(out));
  });
  assert.deepEqual(hashes, THREADS.map(() => hashes[0]));
  const bad = run('native', ['predict', photo, '--out', path.join(dir, 'x.npy'), '--threads', '0']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--threads must be at least 1, got 0/);
});

test('native: --max-memory counts each thread\'s convolution scratch', () => {
  requireBuilt(nativeCli, model);
  const need = (t) => {
    const r = run('native', ['predict', photo, '--out', path.join(tmpDir(), 'x.npy'), '--threads', String(t), '--max-memory', '1MB']);
    assert.equal(r.status, 1, r.stderr);
    const m = /needs ([\d.]+) MB of memory for one image/.exec(r.stderr);
    assert.ok(m, r.stderr);
    return Number(m[1]);
  };
  const [one, two, four] = [1, 2, 4].map(need);
  assert.ok(two > one && four > two, `${one} < ${two} < ${four} MB`);
  // 1 thread: none; 2 threads: two buffers; 4 threads: four
  assert.ok(Math.abs((four - two) - (two - one)) <= 0.15, `the same scratch per thread: ${one}, ${two}, ${four} MB`);
});

async function lab(threads) {
  const [core, wasm] = threads > 1 ? [paths.coreThreads, paths.wasmThreads] : [paths.core, paths.wasm];
  requireBuilt(core, wasm);
  return createDenseLab({ threads, wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
}

test('WASM in Node: DenseNet121 224x224 is bit-identical on 1 (single-threaded build), 2, 3 and 4 threads', async () => {
  requireBuilt(model);
  const modelBytes = fs.readFileSync(model);
  const outputs = [];
  for (const l of [await lab(1), await lab(4)]) {
    const x = l.preprocessInput(l.loadImg(fs.readFileSync(photo), [224, 224]).rgb);
    const file = l.loadModelFile(modelBytes), net = l.buildNet(file, {});
    // lab(4) must really be the threaded build with 4 threads, or the loop below tests nothing.
    const threaded = outputs.length > 0;
    if (threaded) assert.equal(l.threadCount(), 4, 'the threaded build did not start 4 threads');
    for (const t of threaded ? [2, 3, 4] : [1]) {
      l.setThreads(t);
      assert.equal(l.threadCount(), t);
      const y = net.predict(x);
      outputs.push(y);
      assert.equal(sha256(y), sha256(outputs[0]), `${t} threads`);
      if (t === 2) {
        // A worker that cannot get its scratch memory: a clear error, then a whole run.
        l.core._dl_api_fail_next_thread_scratch(1);
        assert.throws(() => net.predict(x), /thread 2: out of memory/);
        assert.equal(sha256(net.predict(x)), sha256(outputs[0]), 'the run after a failed thread');
      }
    }
    assert.throws(() => l.setThreads(l.threadCount() === 1 ? 2 : 5), /threads must be an integer from 1 to \d, got/);
    net.free(); file.free();
  }
});

test('the single-threaded build refuses threads > 1 with a reason; createDenseLab checks the count', async () => {
  const single = await lab(1);
  assert.equal(single.core._dl_api_set_threads(2), 0);
  assert.match(single.core.UTF8ToString(single.core._dl_api_last_error()), /this build runs one thread/);
  await assert.rejects(createDenseLab({ threads: 0 }), /threads must be an integer from 1 to 64, got 0/);
});

test('wasm/cli.js --threads 2 classifies like the native CLI; bench --layers prints the per-layer table', () => {
  requireBuilt(paths.wasmThreads, nativeCli);
  const w = run('wasm', ['classify', photo, '--threads', '2', '--top', '3']);
  const n = run('native', ['classify', photo, '--threads', '1', '--top', '3']);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(w.stdout, n.stdout);
  const b = run('native', ['bench', '--runs', '1', '--threads', '2', '--layers', '--input-shape', '64,64,3', '--include-top', 'false']);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /batch 1, 2 threads: wall/);
  // the slowest node: its split (rows, Winograd tile rows or panels of 8 channels), wall and critical-path ms
  // (on a loaded machine the slowest may be any node of a region: its time is shared by the caller's busy time;
  // some names have a space: '(pooled input)')
  assert.match(b.stdout, /^\| 1 \| [^|]+ \| [a-z_]+( (gemm|im2col|winograd4))? \| \d+x\d+x\d+ \| (\d+ (rows|tile rows|x 8 channels)|whole) \| [\d.]+ \| [\d.]+% \| [\d.]+ \|$/m, b.stdout);
  assert.match(b.stdout, /^\| \d+ \| \S+ \| conv winograd4 \| \d+x\d+x\d+ \| \d+ tile rows \|/m, b.stdout);
  assert.match(b.stdout, /^\| all \| \d+ \| [\d.]+ \| 100% \| [\d.]+ \|$/m);
  assert.match(b.stdout, /^critical path: CPU median [\d.]+ ms/m);
  assert.match(b.stdout, /^On several threads: \d+ parallel regions \(one barrier each\) for \d+ nodes\.$/m);
});

// A static host that cannot send headers: dist/ as plain files, exact MIME types.
async function plainServer(dir) {
  const http = await import('node:http');
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
    '.json': 'application/json', '.css': 'text/css', '.svg': 'image/svg+xml' };
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html');
    const file = path.join(dir, path.normalize(rel));
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('Chromium: a plain static server is single-threaded on the first visit and threaded (web/sw.js headers) on the second; serve mode at once', { timeout: 600_000 }, async () => {
  const dist = path.join(root, 'dist');
  requireBuilt(path.join(dist, 'index.html'), path.join(dist, 'denselab_core_mt.wasm'));
  const { launchChromium } = await import('./helpers.js');
  const { startServer } = await import('../web/serve.js');
  const plain = await plainServer(dist), served = await startServer({ root: dist, port: 0 });
  const chrome = await launchChromium('denselab-threads-');
  const page = chrome.context.pages()[0] || await chrome.context.newPage();
  const ready = async (what) => {
    await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid=status]').textContent), null, { timeout: 300_000 });
    assert.equal(await page.textContent('[data-testid=status]'), 'ready', `${what}: ${await page.textContent('[data-testid=error]')}`);
    return { threads: await page.getAttribute('[data-testid=threads-mode]', 'data-threads'), text: await page.textContent('[data-testid=threads-mode]') };
  };
  try {
    await page.goto(plain.url);
    await page.evaluate(() => localStorage.setItem('denselab-threads', '2'));   // whatever the cores
    let mode = await ready('first visit');
    assert.equal(mode.threads, '1', mode.text);
    assert.match(mode.text, /^Single thread: the page is not cross-origin isolated/);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.reload();
    mode = await ready('second visit');
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    assert.equal(mode.threads, '2', mode.text);
    assert.match(mode.text, /^Multi-threaded: 2 threads per image \(the page is cross-origin isolated\)/);
    // the worker's warm-up inference (web/worker.js warmUp) ran on the threaded build, before any photo
    const warm = await page.waitForFunction(() => document.querySelector('[data-testid=status]').dataset.warmUpMs, null, { timeout: 120_000, polling: 100 });
    assert.ok(Number(await warm.jsonValue()) > 0, 'warm-up ms');
    await page.setInputFiles('[data-testid=image-input]', photo);
    await page.waitForFunction(() => document.querySelector('[data-testid=status]').textContent === 'done', null, { timeout: 120_000 });
    assert.equal(await page.getAttribute('[data-testid=prediction]', 'data-wnid'), 'n02123045');   // tabby, as the CLIs
    await page.goto(served.url);                 // serve mode: COOP/COEP from the first response
    await page.evaluate(() => localStorage.setItem('denselab-threads', '2'));
    await page.reload();
    mode = await ready('./build.sh serve');
    assert.equal(mode.threads, '2', mode.text);
  } finally {
    await chrome.close();
    await plain.close();
    await served.close();
  }
});
