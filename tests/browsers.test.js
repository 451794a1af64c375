// The photo page and a small Fashion-MNIST run in the two other browser engines users have
// (Chromium's own tests are web.test.js, fashion-web.test.js and pages.test.js):
//   Firefox: Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi;
//   WebKit:  Debian's WebKitWebDriver driving WebKitGTK's MiniBrowser (plain W3C WebDriver over
//            HTTP), on a virtual X display (xvfb-run).
// Same expected numbers as Chromium: every photo's top-5 equals `node wasm/cli.js classify
// --json`, include_top=False gives (1, 1024), an argument error is shown beside its control, a
// WebP photo goes through the browser's decoder, and the linear SVM on 500 / 200 images at
// S=32 scores what `node wasm/cli.js fashion` scores. The two engines run at the same time.
import { describe, it as test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { images, root, tmpDir } from './helpers.js';
import { FASHION } from '../web/defaults.js';

const dist = path.join(root, 'dist');
const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const XVFB_RUN = '/usr/bin/xvfb-run';
const MINIBROWSER = ['/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser', '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser']
  .find((p) => fs.existsSync(p)) || '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const SLOW = 300_000;
const TOL = 1e-4;
// Smaller than the page's smallest choice (2,000 / 500, Chromium's run): the test adds these
// sizes to the selects, which the page reads as numbers like any other choice.
const N = 500, M = 200, SIZE = 32;
// One photo per format that stb decodes here (Chromium's tests take every photo).
const photos = ['cat_285.png', 'hot_dog.jpg', 'grace_hopper.bmp'].map((n) => images.find((f) => path.basename(f) === n)).filter(Boolean);

function node(args) {
  return new Promise((resolve, reject) => execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), ...args],
    { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`node wasm/cli.js ${args[0]} failed: ${stderr || err.message}`))
      : resolve(JSON.parse(stdout)))));
}

// ---------- one small driver interface over both protocols ----------
// run(fn, ...args): fn's source runs in the page (it may return a promise); the value comes back
// as JSON. goto(url). close().

async function firefoxDriver() {
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = tmpDir('denselab-firefox-');
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: FIREFOX, protocol: 'webDriverBiDi', headless: true, userDataDir: profile,
    // A test profile: no updates, telemetry or first-run pages (nothing leaves the machine).
    extraPrefsFirefox: { 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false, 'toolkit.telemetry.enabled': false },
  });
  const page = (await browser.pages())[0] || await browser.newPage();
  return {
    name: 'Firefox',
    goto: (url) => page.goto(url),
    run: (fn, ...args) => page.evaluate(`(${fn})(...${JSON.stringify(args)})`),
    close: async () => { await browser.close(); fs.rmSync(profile, { recursive: true, force: true }); },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function webkitDriver() {
  const port = await freePort();
  const proc = spawn(XVFB_RUN, ['-a', WEBKIT_DRIVER, `--port=${port}`], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, url, body) => {
    const r = await fetch(base + url, { method, headers: { 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
    const json = await r.json();
    if (json.value?.error) throw new Error(`WebKitWebDriver ${url}: ${json.value.error}: ${json.value.message}`);
    return json.value;
  };
  let session = null;
  for (let i = 0; i < 100 && !session; i++) {   // the driver needs a moment to listen
    try {
      session = await call('POST', '/session', { capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } } });
    } catch (e) {
      if (!/fetch failed|ECONNREFUSED/.test(`${e.message} ${e.cause?.code}`)) { try { process.kill(-proc.pid); } catch {} throw e; }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (!session) { try { process.kill(-proc.pid); } catch {} throw new Error(`WebKitWebDriver did not start: ${stderr.slice(-500)}`); }
  const id = session.sessionId;
  await call('POST', `/session/${id}/timeouts`, { script: SLOW });
  return {
    name: 'WebKit',
    goto: (url) => call('POST', `/session/${id}/url`, { url }),
    run: async (fn, ...args) => {
      const r = await call('POST', `/session/${id}/execute/async`, {
        script: `const done = arguments[arguments.length - 1];
          Promise.resolve().then(() => (${fn})(...${JSON.stringify(args)})).then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ error: String(e && e.message || e) }));`,
        args: [],
      });
      if (r && 'error' in r) throw new Error(r.error);
      return r.ok;
    },
    close: async () => {
      await call('DELETE', `/session/${id}`).catch(() => {});
      try { process.kill(-proc.pid); } catch {}
    },
  };
}

// Polls fn(...args) in the page until it returns something truthy; fails with what the page shows.
async function until(d, what, fn, args = [], timeout = SLOW) {
  const t0 = Date.now();
  for (;;) {
    const v = await d.run(fn, ...args);
    if (v) return v;
    if (Date.now() - t0 > timeout) {
      const shown = await d.run(() => [...document.querySelectorAll('[role=alert], .pill')].map((e) => e.textContent).join(' | '));
      assert.fail(`${d.name}: ${what}: timed out (page shows: ${shown})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

// Puts a file into an <input type=file> the way a user's choice does (same in every engine).
function chooseFile(d, testid, name, bytes, type) {
  return d.run((id, n, b64, t) => {
    const input = document.querySelector(`[data-testid=${id}]`);
    const dt = new DataTransfer();
    dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], n, { type: t }));
    input.files = dt.files;
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }, testid, name, bytes.toString('base64'), type);
}

const status = () => document.querySelector('[data-testid=status]').textContent;

async function classifyIn(d, name, bytes, type) {
  await chooseFile(d, 'image-input', name, bytes, type);   // the status turns 'working' at once
  await until(d, `classifying ${name}`, (n) => {
    const s = document.querySelector('[data-testid=status]').textContent;
    return s === 'error' || (s === 'done' && document.getElementById('results').dataset.file === n);
  }, [name]);
  return d.run(() => ({
    file: document.getElementById('results').dataset.file,
    status: document.querySelector('[data-testid=status]').textContent,
    error: document.querySelector('[data-testid=error]').textContent,
    note: document.getElementById('decoder-note').hidden ? null : document.getElementById('decoder-note').textContent,
    top: [...document.querySelectorAll('[data-testid=prediction]')].map((e) => ({ wnid: e.dataset.wnid, prob: Number(e.dataset.prob) })),
  }));
}

function sameTop5(what, got, want) {
  assert.deepEqual(got.map((p) => p.wnid), want.map((p) => p.wnid), `${what}: top-5 classes differ from the CLI`);
  got.forEach((p, i) => assert.ok(Math.abs(p.prob - want[i].prob) <= TOL, `${what}: rank ${i + 1} ${p.prob} vs CLI ${want[i].prob}`));
}

// ---------- the tests, once per engine ----------

function engineTests(engine, launch, binaries) {
  return describe(`the pages in ${engine}`, { concurrency: false }, () => {
    let d = null, server = null, setupError = null;
    const missing = binaries.filter((b) => !fs.existsSync(b));
    const skip = missing.length ? `${missing.join(', ')} not installed (./build.sh installs it)` : false;
    const ready = () => { if (setupError) throw setupError; };

    before(async () => {
      if (skip) return;
      try {
        for (const f of ['index.html', 'fashion.html', 'models/densenet121.dlm', 'data/fashion-mnist/train-images-idx3-ubyte.gz']) {
          if (!fs.existsSync(path.join(dist, f))) throw new Error(`dist/${f} is missing: run ./build.sh`);
        }
        const { startServer } = await import('../web/serve.js');
        server = await startServer({ root: dist, port: 0 });
        d = await launch();
      } catch (e) { setupError = new Error(`${engine} could not be started here: ${e.message}`); }
    });
    after(async () => {
      if (d) await d.close();
      if (server) await server.close();
    });

    test('the photo page: every photo\'s top-5 equals the CLI\'s', { skip, timeout: 2 * SLOW }, async () => {
      ready();
      const cli = new Map((await node(['classify', '--json', ...photos])).map((r) => [path.basename(r.image), r.predictions]));
      await d.goto(server.url);
      await until(d, 'loading the model', () => ['ready', 'error'].includes(document.querySelector('[data-testid=status]').textContent));
      assert.equal(await d.run(status), 'ready', await d.run(() => document.querySelector('[data-testid=error]').textContent));
      for (const file of photos) {
        const name = path.basename(file);
        const r = await classifyIn(d, name, fs.readFileSync(file), 'application/octet-stream');
        assert.equal(r.status, 'done', `${name}: ${r.error}`);
        sameTop5(`${engine}: ${name}`, r.top, cli.get(name));
      }
    });

    test('the photo page: include_top=False gives (1, 1024); an argument error beside its control', { skip, timeout: SLOW }, async () => {
      ready();
      await d.run(() => {
        const set = (id, v) => { const el = document.querySelector(`[data-testid=${id}]`); if (el.type === 'checkbox') el.checked = v; else el.value = v; el.dispatchEvent(new Event('change', { bubbles: true })); };
        set('include-top', false);
        set('pooling', 'avg');
      });
      await until(d, 'include_top=False, pooling=avg', () => document.querySelector('[data-testid=status]').textContent === 'done'
        && document.querySelector('[data-testid=output-shape]').textContent === '(1, 1024)');
      await d.run(() => { const el = document.querySelector('[data-testid=classes]'); el.value = '1048576'; el.dispatchEvent(new Event('input', { bubbles: true })); });
      const err = await until(d, 'the argument error', () => document.querySelector('[data-testid=arg-error-classes]:not([hidden])')?.textContent);
      assert.equal(err, 'classes must be a whole number from 1 to 100000, got "1048576"');
      assert.equal(await d.run(() => document.querySelector('[data-testid=arg-error-classes]').closest('.control').contains(document.getElementById('classes'))), true);
      await d.run(() => document.querySelector('[data-testid=reset]').click());
      await until(d, 'after reset', () => !document.querySelector('.arg-error:not([hidden])') && document.querySelector('[data-testid=status]').textContent === 'done');
    });

    test('the photo page: a WebP photo through the browser\'s decoder (or the page says why not)', { skip, timeout: SLOW }, async (t) => {
      ready();
      // The engine encodes the WebP itself (lossless where it can); where it cannot decode WebP,
      // the page must say so in its error.
      const png = photos.find((f) => path.basename(f) === 'cat_285.png') || photos[0];
      const webp = await d.run(async (b64) => {
        const bmp = await createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' }));
        const canvas = document.createElement('canvas');
        canvas.width = bmp.width; canvas.height = bmp.height;
        canvas.getContext('2d').drawImage(bmp, 0, 0);
        const blob = await new Promise((r) => canvas.toBlob(r, 'image/webp', 1));
        if (!blob || blob.type !== 'image/webp') return null;   // this engine cannot encode WebP
        let s = '';
        for (const b of new Uint8Array(await blob.arrayBuffer())) s += String.fromCharCode(b);
        return btoa(s);
      }, fs.readFileSync(png).toString('base64'));
      const bytes = webp ? Buffer.from(webp, 'base64') : fixedWebp();
      const r = await classifyIn(d, 'photo.webp', bytes, 'image/webp');
      t.diagnostic(`${engine}: ${webp ? 'encoded the WebP itself' : 'cannot encode WebP (fixed 8x8 file used)'}; ${r.status === 'error' ? `cannot decode it: ${r.error}` : 'decoded it'}`);
      if (r.status === 'error') {
        assert.match(r.error, /^photo\.webp: unsupported image format: WebP \(supported: JPEG, PNG, BMP, GIF, binary PNM\); this browser cannot decode it either/);
        return;
      }
      assert.equal(r.note, "Decoded by this browser (WebP): stb_image, which DenseLab uses like Keras's Pillow for JPEG, PNG, BMP and GIF, cannot read it.");
      if (webp && bytes.includes('VP8L')) {
        const want = (await node(['classify', '--json', png]))[0].predictions;
        sameTop5(`${engine}: lossless WebP of ${path.basename(png)}`, r.top, want);
      }
    });

    test(`the Fashion page: the linear SVM on ${N} / ${M} images at S=${SIZE} scores what the CLI scores`, { skip, timeout: 3 * SLOW }, async () => {
      ready();
      const { C } = FASHION.classifiers['linear-svm'].params;
      const cli = node(['fashion', '--size', String(SIZE), '--train', String(N), '--test', String(M), '--classifier', 'linear-svm', '--C', String(C), '--json']);
      cli.catch(() => {});
      await d.goto(new URL('fashion.html', server.url).href);
      const fstatus = () => document.querySelector('[data-testid=fashion-status]').textContent;
      await until(d, 'loading the Fashion page', () => ['ready', 'error'].includes(document.querySelector('[data-testid=fashion-status]').textContent));
      assert.equal(await d.run(fstatus), 'ready', await d.run(() => document.querySelector('[data-testid=fashion-error]').textContent));
      await d.run((n, m, s) => {
        const set = (id, v) => { const el = document.querySelector(`[data-testid=${id}]`); if (el.type === 'checkbox') el.checked = v; else el.value = String(v); el.dispatchEvent(new Event('change', { bubbles: true })); };
        for (const [id, v] of [['train-size', n], ['test-size', m]]) document.querySelector(`[data-testid=${id}]`).add(new Option(String(v), String(v)));
        set('train-size', n); set('test-size', m); set('image-size', s);
        set('use-linear-svm', true); set('use-rbf-svm', false); set('use-softmax', false); set('use-pixels-linear-svm', false);
        document.querySelector('[data-testid=train]').click();
      }, N, M, SIZE);
      await until(d, 'extracting and training', () => ['done', 'error'].includes(document.querySelector('[data-testid=fashion-status]').textContent), [], 3 * SLOW - 30_000);
      const rows = await d.run(() => [...document.querySelectorAll('[data-testid=results-row]')].map((e) => ({ classifier: e.dataset.classifier, accuracy: Number(e.dataset.accuracy) })));
      assert.equal(await d.run(fstatus), 'done', await d.run(() => document.querySelector('[data-testid=fashion-error]').textContent));
      assert.deepEqual(rows.map((r) => r.classifier), ['linear-svm']);
      const want = (await cli).results[0].test_accuracy;
      assert.ok(Math.abs(rows[0].accuracy - want) < 1e-9, `${engine}: accuracy ${rows[0].accuracy} vs the CLI's ${want}`);
    });
  });
}

// An 8x8 lossless WebP (a colour gradient, made by Chromium), for an engine that cannot encode WebP.
function fixedWebp() {
  return Buffer.from('UklGRkYCAABXRUJQVlA4WAoAAAAgAAAABwAABwAASUNDUMgBAAAAAAHIAAAAAAQwAABtbnRyUkdCIFhZWiAH4AABAAEAAAAAAABhY3NwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA9tYAAQAAAADTLQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAlkZXNjAAAA8AAAACRyWFlaAAABFAAAABRnWFlaAAABKAAAABRiWFlaAAABPAAAABR3dHB0AAABUAAAABRyVFJDAAABZAAAAChnVFJDAAABZAAAAChiVFJDAAABZAAAAChjcHJ0AAABjAAAADxtbHVjAAAAAAAAAAEAAAAMZW5VUwAAAAgAAAAcAHMAUgBHAEJYWVogAAAAAAAAb6IAADj1AAADkFhZWiAAAAAAAABimQAAt4UAABjaWFlaIAAAAAAAACSgAAAPhAAAts9YWVogAAAAAAAA9tYAAQAAAADTLXBhcmEAAAAAAAQAAAACZmYAAPKnAAANWQAAE9AAAApbAAAAAAAAAABtbHVjAAAAAAAAAAEAAAAMZW5VUwAAACAAAAAcAEcAbwBvAGcAbABlACAASQBuAGMALgAgADIAMAAxADZWUDhMWAAAAC8HwAEA/yEQSEbJX3WBARnA+W9DBgAAALkAgEEAAESj2bZt24jofwCEYATFcICkaIbleEKUZEXVdMG0bMf1fCOM4iTN8qCs6qbt+mKc5mXd9uG87uf9/gM=', 'base64');
}

describe('Firefox and WebKit', { concurrency: 2 }, () => {
  engineTests('Firefox', firefoxDriver, [FIREFOX]);
  engineTests('WebKit', webkitDriver, [WEBKIT_DRIVER, XVFB_RUN, MINIBROWSER]);
});
