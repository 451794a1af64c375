// Browser tests of where and how the pages open (Chromium, playwright-core): opened as a file
// (the page says how to serve it); a plain static server under a sub-path without COOP/COEP
// headers, online and offline after one visit; each page caches only its own files, says how
// much, and removes them; ?model=f16 caches and uses only the float16 file, offline too; a WebP
// photo through the browser's decoder; an argument's error beside its control; the header does
// not jump; the pills' contrast; a "new version" notice; the Fashion page's inputs and headings; a
// damaged Fashion-MNIST file refused with a reason and not cached.
import { describe, it as test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { launchChromium, root, shared } from './helpers.js';
import { MIME } from '../web/serve.js';

const dist = path.join(root, 'dist');
const imagesDir = path.join(shared, 'images');
const PHOTO = 'cat_285.png';
const SUB = '/some/sub/path/';
const SLOW = 180_000;
const TOL = 1e-4;

// The service worker's manifest as built (dist/sw.js): [{ path, size, sha256, lazy }].
function manifest() {
  const m = /^const ASSETS = (\[[\s\S]*?\]);$/m.exec(fs.readFileSync(path.join(dist, 'sw.js'), 'utf8'));
  assert.ok(m, 'dist/sw.js has no asset list: run node web/build-dist.js');
  return JSON.parse(m[1]);
}

// What a page's offline copy holds: the shell (not lazy) and the page's own large files.
function cachedBytes(files) {
  return manifest().filter((a) => !a.lazy || files.includes(a.path)).reduce((s, a) => s + a.size, 0);
}
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

// A plain static server (any host's): dist/ under SUB, a Content-Type and nothing else (no
// COOP/COEP, no CSP header). overrides: URL path -> body, to serve a changed file.
function plainServer() {
  const overrides = new Map();
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(req.url.split('?')[0]);
    if (!p.startsWith(SUB) || p.includes('..')) { res.writeHead(404); return res.end(); }
    const rel = p.slice(SUB.length) || 'index.html';
    const body = overrides.get(rel) ?? (fs.existsSync(path.join(dist, rel)) && fs.statSync(path.join(dist, rel)).isFile()
      ? fs.readFileSync(path.join(dist, rel)) : null);
    if (body === null) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': MIME[path.extname(rel)] || 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}${SUB}`, overrides,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}

function cliTop5(file) {
  return new Promise((resolve, reject) => execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'classify', '--json', file],
    { cwd: root }, (err, stdout, stderr) => (err ? reject(new Error(`node wasm/cli.js classify failed: ${stderr || err.message}`))
      : resolve(JSON.parse(stdout)[0].predictions))));
}

function sameTop5(what, got, want) {
  assert.deepEqual(got.map((p) => p.wnid), want.map((p) => p.wnid), `${what}: top-5 classes differ from the CLI`);
  got.forEach((p, i) => assert.ok(Math.abs(p.prob - want[i].prob) <= TOL, `${what}: rank ${i + 1} ${p.prob} vs CLI ${want[i].prob}`));
}

// Waits for the photo page's status to be one of states; fails with the page's error otherwise.
async function waitStatus(page, states, what, testid = 'status') {
  const sel = `[data-testid=${testid}]`;
  await page.waitForFunction(([s, q]) => [...s, 'error'].includes(document.querySelector(q).textContent), [states, sel], { timeout: SLOW })
    .catch(() => {});
  const s = await page.textContent(sel);
  if (!states.includes(s)) {
    const err = await page.$$eval('[role=alert]', (els) => els.map((e) => e.textContent).join(' | '));
    assert.fail(`${what}: status "${s}" (${err})`);
  }
}

async function classify(page, file, name = path.basename(file)) {
  await page.setInputFiles('[data-testid=image-input]', file);
  await page.waitForFunction((n) => document.getElementById('results').dataset.file === n
    && ['done', 'error'].includes(document.querySelector('[data-testid=status]').textContent), name, { timeout: SLOW });
  assert.equal(await page.textContent('[data-testid=status]'), 'done', await page.textContent('[data-testid=error]'));
  return page.$$eval('[data-testid=prediction]', (els) => els.map((e) => ({ wnid: e.dataset.wnid, prob: Number(e.dataset.prob) })));
}

const waitOfflineReady = (page) => page.waitForFunction(() => !document.getElementById('offline').hidden
  && document.querySelector('[data-testid=cache-size]').dataset.bytes, null, { timeout: SLOW });

describe('where the pages open, in Chromium', () => {
  let setupError = null, server = null, cli = null;
  const browsers = [];
  const ready = () => { if (setupError) throw setupError; };

  // A fresh browser profile (no cache, no service worker) with its requests recorded.
  async function fresh(options = {}) {
    const b = await launchChromium('denselab-pages-', options);
    browsers.push(b);
    const requests = [];
    b.context.on('request', (r) => requests.push(r.url()));
    return { ...b, page: b.context.pages()[0] || await b.context.newPage(), requests };
  }

  before(async () => {
    try {
      for (const f of ['index.html', 'fashion.html', 'sw.js', 'file-check.js', 'models/densenet121-f16.dlm']) {
        if (!fs.existsSync(path.join(dist, f))) throw new Error(`dist/${f} is missing: run ./build.sh (it runs node web/build-dist.js)`);
      }
      cli = cliTop5(path.join(imagesDir, PHOTO));
      cli.catch(() => {});
      server = await plainServer();
    } catch (e) { setupError = e; }
  });
  after(async () => {
    for (const b of browsers) await b.close();
    if (server) await server.close();
  });

  test('opened as a file, both pages say how to serve the folder instead of waiting', { timeout: SLOW }, async () => {
    ready();
    const { page } = await fresh();
    for (const name of ['index.html', 'fashion.html']) {
      await page.goto(pathToFileURL(path.join(dist, name)).href);
      await page.waitForSelector('[data-testid=file-notice]', { timeout: 30_000 });
      const commands = await page.$$eval('[data-testid=serve-command]', (els) => els.map((e) => e.textContent));
      assert.deepEqual(commands, ['./build.sh serve', `cd '${dist}/' && python3 -m http.server 8080`], name);
      assert.match(await page.textContent('[data-testid=file-notice]'),
        /^This page was opened as a file \(file:\/\/\), where browsers block the scripts and workers DenseLab needs\. Serve the folder over HTTP instead:/);
      assert.match(await page.textContent('[data-testid=file-notice]'), new RegExp(`then open http://localhost:8080/${name.replace('.', '\\.')}`));
      assert.equal(await page.isVisible('#loadbar'), false, `${name}: the "Downloading" bar is still shown`);
    }
  });

  test('a plain static server under a sub-path (no COOP/COEP): classifies, caches only the photo page\'s files, and works offline', { timeout: 2 * SLOW }, async () => {
    ready();
    const { page, context, requests } = await fresh();
    const resp = await page.goto(server.url);
    assert.equal(resp.headers()['cross-origin-opener-policy'], undefined);
    assert.equal(resp.headers()['cross-origin-embedder-policy'], undefined);
    const top = page.evaluate(() => document.querySelector('.topbar').getBoundingClientRect().height);
    await waitStatus(page, ['ready'], 'first visit under a sub-path');
    sameTop5(PHOTO, await classify(page, path.join(imagesDir, PHOTO)), await cli);

    await waitOfflineReady(page);
    // The pill was there (invisible) from the start: the header kept its height.
    assert.equal(await page.evaluate(() => document.querySelector('.topbar').getBoundingClientRect().height), await top, 'the header jumped');
    const bytes = cachedBytes(['models/densenet121.dlm', 'models/imagenet_class_index.json']);
    assert.equal(await page.textContent('[data-testid=cache-size]'), `Stored in this browser for offline use: ${mb(bytes)}.`);
    assert.equal(Number(await page.getAttribute('[data-testid=cache-size]', 'data-bytes')), bytes);
    const fetched = requests.filter((u) => u.startsWith('http')).map((u) => new URL(u).pathname);   // not the photo's blob: URL
    assert.ok(!fetched.some((p) => p.includes('fashion-mnist')), 'the photo page downloaded Fashion-MNIST');
    assert.ok(!fetched.some((p) => p.endsWith('densenet121-f16.dlm')), 'the photo page downloaded the float16 model');
    assert.ok(fetched.every((p) => p.startsWith(SUB)), `a request outside ${SUB}: ${fetched.find((p) => !p.startsWith(SUB))}`);

    await context.setOffline(true);
    try {
      await page.reload();
      await waitStatus(page, ['ready'], 'offline under a sub-path');
      sameTop5(`${PHOTO} offline`, await classify(page, path.join(imagesDir, PHOTO)), await cli);
    } finally {
      await context.setOffline(false);
    }

    // Remove: the caches are gone and the page says how much it removed.
    await page.click('[data-testid=cache-remove]');
    await page.waitForFunction(() => /^Removed/.test(document.querySelector('[data-testid=cache-size]').textContent), null, { timeout: 30_000 });
    assert.equal(await page.textContent('[data-testid=cache-size]'),
      `Removed ${mb(bytes)} from this browser. The next visit stores this page's files again.`);
    assert.deepEqual(await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('denselab-'))), []);
    assert.equal(await page.isVisible('[data-testid=offline-ready]'), false);
  });

  test('?model=f16 caches and uses only the float16 file, and works offline', { timeout: 2 * SLOW }, async () => {
    ready();
    const { page, context, requests } = await fresh();
    await page.goto(`${server.url}index.html?model=f16`);
    await waitStatus(page, ['ready'], 'first visit with ?model=f16');
    await waitOfflineReady(page);
    const fetched = requests.map((u) => new URL(u).pathname);
    assert.ok(fetched.some((p) => p.endsWith('models/densenet121-f16.dlm')), 'the float16 file was not requested');
    assert.ok(!fetched.some((p) => p.endsWith('models/densenet121.dlm')), 'the float32 file was downloaded too');
    assert.equal(await page.textContent('[data-testid=cache-size]'),
      `Stored in this browser for offline use: ${mb(cachedBytes(['models/densenet121-f16.dlm', 'models/imagenet_class_index.json']))}.`);
    await context.setOffline(true);
    try {
      await page.reload();
      await waitStatus(page, ['ready'], 'offline with ?model=f16');
      const got = await classify(page, path.join(imagesDir, PHOTO)), want = await cli;
      assert.equal(got[0].wnid, want[0].wnid);
      assert.ok(Math.abs(got[0].prob - want[0].prob) < 5e-3, `float16 top-1 ${got[0].prob} vs ${want[0].prob}`);
    } finally {
      await context.setOffline(false);
    }
  });

  test('a WebP photo is decoded by the browser and classified like the PNG it was made from', { timeout: SLOW }, async () => {
    ready();
    const { page } = await fresh();
    await page.goto(server.url);
    await waitStatus(page, ['ready'], 'loading');
    const png = fs.readFileSync(path.join(imagesDir, PHOTO)).toString('base64');
    // Chromium encodes WebP at quality 1 losslessly: the same pixels as the PNG.
    const webp = await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      const canvas = new OffscreenCanvas(bmp.width, bmp.height);
      canvas.getContext('2d').drawImage(bmp, 0, 0);
      const blob = await canvas.convertToBlob({ type: 'image/webp', quality: 1 });
      const out = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const b of out) s += String.fromCharCode(b);
      return btoa(s);
    }, png);
    const buffer = Buffer.from(webp, 'base64');
    assert.equal(buffer.toString('latin1', 8, 12), 'WEBP', 'not a WebP');
    assert.ok(buffer.includes('VP8L'), 'not a lossless WebP');
    await page.setInputFiles('[data-testid=image-input]', { name: 'cat.webp', mimeType: 'image/webp', buffer });
    await page.waitForFunction(() => document.getElementById('results').dataset.file === 'cat.webp'
      && ['done', 'error'].includes(document.querySelector('[data-testid=status]').textContent), null, { timeout: SLOW });
    assert.equal(await page.textContent('[data-testid=status]'), 'done', await page.textContent('[data-testid=error]'));
    assert.equal(await page.textContent('[data-testid=decoder-note]'),
      "Decoded by this browser (WebP): stb_image, which DenseLab uses like Keras's Pillow for JPEG, PNG, BMP and GIF, cannot read it.");
    const got = await page.$$eval('[data-testid=prediction]', (els) => els.map((e) => ({ wnid: e.dataset.wnid, prob: Number(e.dataset.prob) })));
    sameTop5('cat.webp', got, await cli);
    // A PNG afterwards: stb again, no note.
    await classify(page, path.join(imagesDir, PHOTO));
    assert.equal(await page.isVisible('[data-testid=decoder-note]'), false);
  });

  test('an argument\'s error is shown beside its control, Keras\'s under the form; the pills read at 4.5:1', { timeout: SLOW }, async () => {
    ready();
    const { page } = await fresh({ viewport: { width: 390, height: 844 } });
    await page.goto(server.url);
    const header = page.evaluate(() => document.querySelector('.topbar').getBoundingClientRect().height);
    await waitStatus(page, ['ready'], 'loading at phone width');
    await page.fill('[data-testid=classes]', '1048576');
    const err = page.locator('[data-testid=arg-error-classes]');
    await err.waitFor({ timeout: 30_000 });
    assert.equal(await err.textContent(), 'classes must be a whole number from 1 to 100000, got "1048576"');
    assert.equal(await page.evaluate(() => document.querySelector('[data-testid=arg-error-classes]').closest('.control')
      .contains(document.getElementById('classes'))), true, 'the error is not in the classes control');
    assert.equal(await page.isVisible('[data-testid=error]'), false, 'the toast is shown too');
    // Keras's error of the combination (classes=10 with the ImageNet weights), beside classes too.
    await page.fill('[data-testid=classes]', '10');
    await page.waitForFunction(() => /`classes` should be 1000/.test(document.querySelector('[data-testid=arg-error-classes]').textContent),
      null, { timeout: SLOW });
    assert.equal(await page.isVisible('[data-testid=error]'), false, 'the toast is shown too');
    await page.click('[data-testid=reset]');
    await waitStatus(page, ['ready'], 'after reset');
    assert.equal(await page.locator('.arg-error:visible').count(), 0, 'the error stayed after reset');

    // WCAG contrast of the green pills, from the colours the page computes.
    await waitOfflineReady(page);
    assert.equal(await page.evaluate(() => document.querySelector('.topbar').getBoundingClientRect().height), await header,
      'the header jumped when "available offline" appeared');
    const ratios = await page.evaluate(() => {
      const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
      const lum = (c) => {
        const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (el) => {
        const s = getComputedStyle(el), a = lum(s.color), b = lum(s.backgroundColor);
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      };
      return { ready: ratio(document.getElementById('status')), offline: ratio(document.getElementById('offline')) };
    });
    for (const [pill, r] of Object.entries(ratios)) assert.ok(r >= 4.5, `the ${pill} pill's contrast is ${r.toFixed(2)}:1`);
  });

  test('a newer build of the service worker shows a "new version available" notice', { timeout: SLOW }, async () => {
    ready();
    const { page } = await fresh();
    await page.goto(server.url);
    await waitStatus(page, ['ready'], 'loading');
    await waitOfflineReady(page);
    const sw = fs.readFileSync(path.join(dist, 'sw.js'), 'utf8');
    server.overrides.set('sw.js', Buffer.from(sw.replace(/^const VERSION = '([0-9a-f]+)';$/m, "const VERSION = '$1-next';")));
    try {
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
      const notice = page.locator('[data-testid=update-notice]');
      await notice.waitFor({ timeout: 60_000 });
      assert.equal(await notice.textContent(), 'A new version of DenseLab is available.Reload');
      await Promise.all([page.waitForNavigation(), notice.locator('button').click()]);
      await waitStatus(page, ['ready'], 'after the reload');
      assert.equal(await page.locator('[data-testid=update-notice]').count(), 0);
    } finally {
      server.overrides.delete('sw.js');
    }
  });

  test('the Fashion page: styled file inputs, step names instead of course numbers, its own files cached', { timeout: SLOW }, async () => {
    ready();
    const { page, requests } = await fresh({ viewport: { width: 390, height: 844 } });
    await page.goto(`${server.url}fashion.html`);
    await waitStatus(page, ['ready'], 'loading the Fashion page', 'fashion-status');
    for (const id of ['classifier-input', 'photo-input']) {
      const box = await page.locator(`[data-testid=${id}]`).boundingBox();
      assert.ok(!box || box.width <= 1, `${id}: the native file input is shown`);
      assert.ok(await page.isVisible(`label.button[for=${id}]`), `${id}: no button`);
    }
    const text = await page.textContent('main');
    assert.doesNotMatch(text, /Ex\.\s*\d/, 'a course reference is left');
    assert.ok(!requests.some((u) => u.endsWith('densenet121-f16.dlm')), 'the Fashion page downloaded the float16 model');
    await waitOfflineReady(page);
    const files = ['denselab_core.wasm', 'models/densenet121.dlm', ...fs.readdirSync(path.join(dist, 'data', 'fashion-mnist')).map((f) => `data/fashion-mnist/${f}`)];
    assert.equal(await page.textContent('[data-testid=cache-size]'), `Stored in this browser for offline use: ${mb(cachedBytes(files))}.`);
  });

  test('the Fashion page refuses a damaged data file with a reason, and does not cache it', { timeout: SLOW }, async () => {
    ready();
    const { page } = await fresh();
    const file = 'data/fashion-mnist/t10k-labels-idx1-ubyte.gz', gz = fs.readFileSync(path.join(dist, file));
    const labels = zlib.gunzipSync(gz);
    const cases = [   // the file served instead, and the reason the page must give
      [gz.subarray(0, gz.length >> 1), /t10k-labels-idx1-ubyte\.gz: corrupt or truncated gzip/],
      [zlib.gzipSync(Buffer.concat([labels, Buffer.from([0])])), /t10k-labels-idx1-ubyte\.gz: longer than its IDX header says \(10008 bytes\)/],
      [zlib.gzipSync(labels.subarray(0, 5000)), /t10k-labels-idx1-ubyte\.gz: truncated \(5000 of the 10008 bytes its header states\)/],
      [zlib.gzipSync(Buffer.from('not an IDX file')), /t10k-labels-idx1-ubyte\.gz: not an IDX file of unsigned bytes/],
    ];
    try {
      for (const [body, reason] of cases) {
        server.overrides.set(file, body);
        await page.goto(`${server.url}fashion.html`);
        await page.waitForFunction(() => document.querySelector('[data-testid=fashion-status]').textContent === 'error', null, { timeout: SLOW });
        assert.match(await page.textContent('[data-testid=fashion-error]'), reason);
      }
      const cached = await page.evaluate(async (u) => Promise.all((await caches.keys()).map(async (k) => !!(await (await caches.open(k)).match(u)))), `${server.url}${file}`);
      assert.ok(!cached.includes(true), 'a damaged file was cached');
    } finally {
      server.overrides.delete(file);
    }
  });
});
