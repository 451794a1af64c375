// Browser tests of the static lab page (dist/), in Debian's headless Chromium via playwright-core:
// the page's top-5 equals `node wasm/cli.js classify --json` for every photo in ../shared/images,
// the Applications API controls, a Keras error shown in the page, offline use after one visit,
// and no request outside the page's origin. Saves build/screenshots/web*.png.
import { describe, it as test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, readNpy, root, shared } from './helpers.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { execFile } from 'node:child_process';

const dist = path.join(root, 'dist');
const imagesDir = path.join(shared, 'images');
const shotDir = path.join(root, 'build', 'screenshots');
const TOL = 1e-4;
const SLOW = 120_000; // generous per-step limit; the whole file takes well under a minute normally

let server = null;
let context = null;
let page = null;
let userDir = null;
let browser = null;
let origin = null;
let cliPromise = null;
const requests = [];

const images = fs.existsSync(imagesDir)
  ? fs.readdirSync(imagesDir).filter((n) => /\.(png|jpe?g|bmp|gif)$/i.test(n)).sort()
  : [];

// The CLI's reference top-5 for each image, in one run.
function runCli() {
  return new Promise((resolve, reject) => {
    const files = images.map((n) => path.join(imagesDir, n));
    execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'classify', '--json', ...files],
      { cwd: root, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`node wasm/cli.js classify --json failed: ${stderr || err.message}`));
        resolve(parseCli(stdout, files));
      });
  });
}

// The CLI prints [{"image": PATH, "predictions": [{index, wnid, label, prob}, ...]}, ...].
function parseCli(stdout, files) {
  let docs;
  try {
    docs = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`node wasm/cli.js classify --json printed no JSON (${e.message}): ${stdout.slice(0, 200)}`);
  }
  assert.equal(docs.length, files.length, `CLI printed ${docs.length} results for ${files.length} images`);
  return new Map(docs.map((d) => [path.basename(d.image), d.predictions]));
}

async function status() {
  return page.textContent('[data-testid=status]');
}

async function waitStatus(states, what) {
  try {
    await page.waitForFunction((s) => s.includes(document.querySelector('[data-testid=status]').textContent),
      states, { timeout: SLOW });
  } catch {
    const err = await page.textContent('[data-testid=error]').catch(() => '');
    assert.fail(`${what}: status stayed "${await status()}" (error shown: "${err}")`);
  }
}

// Waits for pred(arg) in the page, or fails at once when the page shows an error.
async function waitPage(pred, arg, what) {
  const opts = { timeout: SLOW };
  const failed = page.waitForFunction(() => document.querySelector('[data-testid=status]').textContent === 'error',
    null, opts).then(() => 'error', () => 'timeout');
  const r = await Promise.race([page.waitForFunction(pred, arg, opts).then(() => 'ok', () => 'timeout'), failed]);
  if (r !== 'ok') {
    const err = await page.textContent('[data-testid=error]').catch(() => '');
    assert.fail(`${what}: ${r === 'error' ? `page shows an error: ${err}` : `timed out, status "${await status()}"`}`);
  }
}

async function classifyInPage(name) {
  await page.setInputFiles('[data-testid=image-input]', path.join(imagesDir, name));
  await waitPage((n) => document.querySelector('[data-testid=status]').textContent === 'done'
    && document.getElementById('results').dataset.file === n, name, name);
  // the worker decoded the photo while the page showed it (web/app.js prepare), not after
  assert.match(await page.textContent('[data-testid=timing]'), /preprocess \d+ ms, done while the page showed the photo\)/, name);
  return page.$$eval('[data-testid=prediction]', (els) => els.map((e) => ({
    wnid: e.dataset.wnid, label: e.dataset.label, prob: Number(e.dataset.prob),
  })));
}

function sameTop5(name, got, want) {
  assert.ok(Array.isArray(want) && want.length === 5, `${name}: CLI gave no top-5`);
  assert.deepEqual(got.map((p) => p.wnid), want.map((p) => p.wnid), `${name}: top-5 classes differ from the CLI`);
  for (let i = 0; i < 5; i++) {
    assert.ok(Math.abs(got[i].prob - want[i].prob) <= TOL,
      `${name}: rank ${i + 1} (${got[i].label}) prob ${got[i].prob} vs CLI ${want[i].prob}`);
  }
}

describe('the lab page in Chromium', () => {
  // A setup failure (no dist/, no browser) fails every test below with its message.
  let setupError = null;
  let loaded = false; // the first test saw the model load
  const ready = (needLoaded = true) => {
    if (setupError) throw setupError;
    if (needLoaded && !loaded) throw new Error('the page never loaded the model (see the first test)');
  };

  before(async () => {
    try {
      await setup();
    } catch (e) {
      setupError = e;
    }
  });

  async function setup() {
    if (!fs.existsSync(path.join(dist, 'index.html')) || !fs.existsSync(path.join(dist, 'models', 'densenet121.dlm'))) {
      throw new Error('dist/ is missing or incomplete: run ./build.sh (it runs node web/build-dist.js)');
    }
    if (images.length === 0) throw new Error(`no test photos in ${imagesDir}`);
    cliPromise = runCli();
    cliPromise.catch(() => {}); // reported by the test that awaits it
    const { startServer } = await import('../web/serve.js');
    server = await startServer({ root: dist, port: 0 });
    origin = new URL(server.url).origin;
    browser = await launchChromium('denselab-chromium-');
    ({ context, userDir } = browser);
    context.on('request', (r) => requests.push(r.url()));
    page = context.pages()[0] || await context.newPage();
  }

  after(async () => {
    if (browser) await browser.close();
    if (server) await server.close();
  });

  test('the page loads the model and reports ready', { timeout: SLOW }, async (t) => {
    ready(false);
    await page.goto(server.url);
    assert.equal(await status(), 'loading…');
    await waitStatus(['ready', 'error'], 'loading the model');
    assert.equal(await status(), 'ready', await page.textContent('[data-testid=error]'));
    loaded = true;
    t.diagnostic(`first visit: model ready ${await page.getAttribute('[data-testid=status]', 'data-load-ms')} ms after start`);
  });

  test('every photo gets the same top-5 as node wasm/cli.js classify --json', { timeout: 3 * SLOW }, async () => {
    ready();
    const cli = await cliPromise;
    for (const name of images) sameTop5(name, await classifyInPage(name), cli.get(name));
    // The literal decode_predictions line is shown too.
    assert.match(await page.textContent('[data-testid=decode-predictions]'), /^\[\('n\d{8}', '[^']+', [0-9.e-]+\)/);
    fs.mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: path.join(shotDir, 'web.png'), fullPage: true });
  });

  test('include_top=False, pooling=avg gives a (1, 1024) output and shows the feature map', { timeout: SLOW }, async () => {
    ready();
    await page.uncheck('[data-testid=include-top]');
    await page.selectOption('[data-testid=pooling]', 'avg');
    await waitPage(() => document.querySelector('[data-testid=status]').textContent === 'done'
      && document.querySelector('[data-testid=code-line]').textContent.includes("pooling='avg'")
      && !document.getElementById('features').hidden, null, 'include_top=False, pooling=avg');
    assert.equal(await page.textContent('[data-testid=output-shape]'), '(1, 1024)');
    assert.equal(await page.textContent('[data-testid=model-shape]'), '(None, 1024)');
    assert.equal(await page.locator('[data-testid=feature-map] canvas').count(), 6);
    assert.equal(await page.locator('[data-testid=prediction]').count(), 0);
    await page.screenshot({ path: path.join(shotDir, 'web-features.png'), fullPage: true });
  });

  // The page builds one network without the pooling layer (its output is the feature map it
  // shows) and pools that in the worker: the result must be the pooled model's output.
  test("include_top=False with pooling 'avg' and 'max' equals node wasm/cli.js predict's pooled output", { timeout: 2 * SLOW }, async () => {
    ready();
    const name = await page.getAttribute('#results', 'data-file');
    assert.ok(images.includes(name), `no photo shown (${name})`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-pooled-'));
    try {
      for (const pooling of ['avg', 'max']) {
        await page.selectOption('[data-testid=pooling]', pooling);
        await waitPage((p) => document.querySelector('[data-testid=status]').textContent === 'done'
          && document.querySelector('[data-testid=code-line]').textContent.includes(`pooling='${p}'`)
          && !document.getElementById('features').hidden, pooling, `pooling=${pooling}`);
        const got = await page.evaluate(() => window.__denselabTest.pooled());
        const out = path.join(dir, `${pooling}.npy`);
        await new Promise((resolve, reject) => execFile(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'predict',
          path.join(imagesDir, name), '--out', out, '--include-top', 'false', '--pooling', pooling], { cwd: root },
        (err, stdout, stderr) => (err ? reject(new Error(`node wasm/cli.js predict failed: ${stderr || err.message}`)) : resolve())));
        const want = readNpy(out);
        assert.deepEqual(want.shape, [1, 1024]);
        assert.equal(got.length, 1024, `pooling=${pooling}: the page pooled ${got.length} values`);
        let worst = 0;
        for (let i = 0; i < 1024; i++) worst = Math.max(worst, Math.abs(got[i] - want.data[i]));
        assert.ok(worst <= 1e-6, `pooling=${pooling}: the page's pooled output differs from the CLI's by ${worst}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.selectOption('[data-testid=pooling]', 'avg');
    }
  });

  test("an invalid combination shows Keras's error, and the page still classifies afterwards", { timeout: SLOW }, async () => {
    ready();
    await page.check('[data-testid=include-top]');
    await page.selectOption('[data-testid=weights]', 'imagenet');
    await page.fill('[data-testid=classes]', '10');
    await waitStatus(['error'], 'classes=10 with ImageNet weights');
    // next to the classes field (issue 14), in Keras's words
    const msg = await page.textContent('[data-testid=arg-error-classes]');
    assert.ok(await page.isVisible('[data-testid=arg-error-classes]'), 'error message not visible');
    assert.match(msg, /`classes` should be 1000/);
    // A size the WASM heap cannot hold never reaches the core (issue: classes=1048576 trapped).
    await page.fill('[data-testid=classes]', '1048576');
    await page.waitForFunction(() => /classes must be a whole number from 1 to 100000, got "1048576"/
      .test(document.querySelector('[data-testid=arg-error-classes]').textContent), null, { timeout: SLOW });
    await page.click('[data-testid=reset]');
    await waitStatus(['done'], 'after reset');
    assert.ok(!(await page.isVisible('[data-testid=error]')), 'error still shown after reset');
    assert.ok(!(await page.isVisible('[data-testid=arg-error-classes]')), 'argument error still shown after reset');
    const cli = await cliPromise;
    sameTop5(images[0], await classifyInPage(images[0]), cli.get(images[0]));
  });

  // The worker's early decode (prepare) fails on such a file too; classify says why, and nothing stays behind.
  test('a file that is not an image shows the reason, and the next photo is classified', { timeout: SLOW }, async () => {
    ready();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-notimage-'));
    try {
      const bad = path.join(dir, 'notes.png');
      fs.writeFileSync(bad, 'shopping list: milk, bread\n');
      await page.setInputFiles('[data-testid=image-input]', bad);
      await waitStatus(['error'], 'a text file as a photo');
      assert.match(await page.textContent('[data-testid=error]'), /^notes\.png: not an image: unknown format \(supported: JPEG, PNG, BMP, GIF, binary PNM\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    sameTop5(images[0], await classifyInPage(images[0]), (await cliPromise).get(images[0]));
  });

  // Issue 14: the Applications API panel says what Keras says; each error shows next to its control.
  test("the Applications API panel: Keras's None shapes, Keras's first error, the gray extension, decode_predictions' error", { timeout: 3 * SLOW }, async () => {
    ready();
    const text = (id) => page.textContent(`[data-testid=${id}]`);
    const shown = (id) => page.isVisible(`[data-testid=${id}]`);
    // Waits for the page to settle on a built model (status done) whose code line has all of `has`.
    const settled = async (has, what) => {
      try {
        await page.waitForFunction((h) => document.querySelector('[data-testid=status]').textContent === 'done'
          && h.every((x) => document.querySelector('[data-testid=code-line]').textContent.includes(x)), has, { timeout: SLOW });
      } catch {
        assert.fail(`${what}: status "${await status()}", errors: ${await page.$$eval('.arg-error, #error', (els) => els.map((e) => e.textContent).join(' | '))}`);
      }
    };
    const argError = async (arg, want) => {
      await page.waitForFunction(([a, w]) => document.querySelector(`[data-testid=arg-error-${a}]`)?.textContent === w, [arg, want], { timeout: SLOW })
        .catch(async () => assert.fail(`wanted "${want}" next to ${arg}, got "${await text(`arg-error-${arg}`)}"`));
      assert.ok(await shown(`arg-error-${arg}`), `the ${arg} error is not visible`);
      assert.equal(await status(), 'error');
      assert.ok(!(await shown('error')), 'an argument error belongs next to its control, not in the toast');
    };
    const name = await page.getAttribute('#results', 'data-file');
    assert.ok(images.includes(name), `no photo shown (${name})`);

    // include_top=False, input_shape=None: Keras's shape has None; this photo's has numbers; one line says why.
    await page.uncheck('[data-testid=include-top]');
    await page.selectOption('[data-testid=pooling]', '');
    await settled(['include_top=False', 'input_shape=None', 'pooling=None'], 'include_top=False');
    assert.equal(await text('model-shape'), '(None, None, None, 1024)');
    assert.ok(await shown('output-shape'), 'the photo\'s output shape is not shown');
    assert.equal(await text('output-shape'), '(1, 7, 7, 1024)');
    assert.match(await text('shape-lesson'), /^Keras says None for height and width .* 224×224, gives a 7×7 grid .* global pooling/);
    const summary = await page.textContent('[data-testid=summary]');
    assert.match(summary, /^ input_1 \(InputLayer\) +\(None, None, None, 3\) /m);
    assert.match(summary, /^ relu \(Activation\) +\(None, None, None, 1024\) /m);
    assert.ok(!/\(None, \d/.test(summary.replace(/\(None, \d+\)/g, '')), 'a spatial size in the summary');
    assert.ok(!(await page.isVisible('#top-heading')), '"Top 5" without a classifier');
    await page.screenshot({ path: path.join(shotDir, 'web-keras-shapes.png'), fullPage: true });

    // (28, 28, 1) and (32, 32, 1) with ImageNet weights: Keras's first error (channels, before the size).
    await page.check('[data-testid=input-shape-set]');
    for (const [id, v] of [['input-h', '28'], ['input-w', '28'], ['input-c', '1']]) await page.fill(`[data-testid=${id}]`, v);
    await argError('input-shape', 'The input must have 3 channels; Received `input_shape=(28, 28, 1)`');
    await page.screenshot({ path: path.join(shotDir, 'web-keras-error.png'), fullPage: true });
    assert.ok(await shown('extension-badge'), 'the extension is not marked as such');
    assert.match(await text('extension-badge'), /DenseLab extension — Keras has no such option/);
    await page.check('[data-testid=gray-to-rgb]');
    await argError('input-shape', 'Input size must be at least 32x32; Received: input_shape=(28, 28, 3)');
    await page.uncheck('[data-testid=gray-to-rgb]');
    for (const id of ['input-h', 'input-w']) await page.fill(`[data-testid=${id}]`, '32');
    await argError('input-shape', 'The input must have 3 channels; Received `input_shape=(32, 32, 1)`');

    // DenseLab's fix, a separate choice: the gray channel repeated 3x.
    await page.check('[data-testid=gray-to-rgb]');
    await settled(['np.repeat(x, 3, axis=-1)', 'input_shape=(32, 32, 3)'], 'the gray extension');
    assert.ok(!(await shown('arg-error-input-shape')), 'the error stayed after the fix');
    assert.equal(await text('model-shape'), '(None, 1, 1, 1024)');
    assert.equal(await text('output-shape'), '(1, 1, 1, 1024)');

    // weights=None with 4 channels: Keras builds it, so does DenseLab.
    await page.uncheck('[data-testid=gray-to-rgb]');
    await page.selectOption('[data-testid=weights]', 'random');
    await page.fill('[data-testid=input-c]', '4');
    await settled(['weights=None', 'input_shape=(32, 32, 4)'], 'weights=None, 4 channels');
    assert.match(await text('params'), /^7,040,640 /);

    // classes=10 (weights=None): decode_predictions raises Keras's error; no "Top 5".
    await page.check('[data-testid=include-top]');
    await page.fill('[data-testid=classes]', '10');
    await settled(['include_top=True', 'classes=10'], 'classes=10');
    assert.equal(await text('model-shape'), '(None, 10)');
    assert.equal(await text('output-shape'), '(1, 10)');
    assert.ok(await shown('decode-predictions'), 'the decode_predictions box is hidden');
    assert.equal(await text('decode-predictions'),
      'ValueError: `decode_predictions` expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). Received array with shape: (1, 10)');
    assert.ok(!(await page.isVisible('#top-heading')), '"Top 5" shown without decode_predictions');
    assert.ok(!(await shown('shape-lesson')), 'the None lesson with a fixed input_shape');
    await page.screenshot({ path: path.join(shotDir, 'web-keras-decode.png'), fullPage: true });

    await page.click('[data-testid=reset]');
    await settled(['include_top=True', "weights='imagenet'", 'classes=1000'], 'back to the defaults');
    assert.ok(await page.isVisible('#top-heading'), '"Top 5" hidden with the ImageNet classifier');
    assert.equal(await text('model-shape'), '(None, 1000)');
    assert.match(await text('decode-predictions'), /^\[\('n\d{8}'/);
  });

  test('a dropped and a pasted photo are classified like a chosen one', { timeout: SLOW }, async () => {
    ready();
    const name = images.find((n) => n.startsWith('dog')) || images[0];
    const want = (await cliPromise).get(name);
    const b64 = fs.readFileSync(path.join(imagesDir, name)).toString('base64');
    for (const how of ['drop', 'paste']) {
      await page.evaluate(([data, n, kind]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], n, { type: 'image/png' }));
        const ev = kind === 'drop'
          ? new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true })
          : new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
        document.getElementById('dropzone').dispatchEvent(ev);
        document.getElementById('results').dataset.file = ''; // wait for this photo's result below
      }, [b64, `${how}-${name}`, how]);
      await waitPage((n) => document.getElementById('results').dataset.file === n
        && document.querySelector('[data-testid=status]').textContent === 'done', `${how}-${name}`, `${how}ped photo`);
      const got = await page.$$eval('[data-testid=prediction]', (els) => els.map((e) => ({
        wnid: e.dataset.wnid, label: e.dataset.label, prob: Number(e.dataset.prob) })));
      sameTop5(`${name} (${how})`, got, want);
    }
  });

  test('after one visit the page works with the network off', { timeout: 2 * SLOW }, async (t) => {
    ready();
    await waitPage(() => !document.getElementById('offline').hidden, null, 'the "available offline" indicator');
    await context.setOffline(true);
    try {
      await page.reload();
      await waitStatus(['ready', 'error'], 'loading offline');
      assert.equal(await status(), 'ready', await page.textContent('[data-testid=error]'));
      t.diagnostic(`cached visit (offline): model ready ${await page.getAttribute('[data-testid=status]', 'data-load-ms')} ms after start`);
      const name = images.find((n) => n.startsWith('zebra')) || images[0];
      sameTop5(name, await classifyInPage(name), (await cliPromise).get(name));
      await page.screenshot({ path: path.join(shotDir, 'web-offline.png'), fullPage: true });
    } finally {
      await context.setOffline(false);
    }
  });

  test('?model=f16 loads the 16 MB float16 file and gives the same top-1', { timeout: 2 * SLOW }, async () => {
    ready();
    const f16 = path.join(dist, 'models', 'densenet121-f16.dlm');
    assert.ok(fs.statSync(f16).size <= 17e6, `float16 model is ${fs.statSync(f16).size} bytes`);
    const since = requests.length;
    await page.goto(new URL('index.html?model=f16', server.url).href);
    await waitStatus(['ready', 'error'], 'loading the float16 model');
    assert.equal(await status(), 'ready', await page.textContent('[data-testid=error]'));
    assert.ok(requests.slice(since).some((u) => u.endsWith('models/densenet121-f16.dlm')), 'the float16 file was not requested');
    const name = images.find((n) => n.startsWith('cat_285')) || images[0];
    const got = await classifyInPage(name), want = (await cliPromise).get(name);
    assert.equal(got[0].wnid, want[0].wnid, `${name}: top-1 with float16 weights`);
    assert.ok(Math.abs(got[0].prob - want[0].prob) < 5e-3, `${name}: ${got[0].prob} vs ${want[0].prob}`);
  });

  test('no request left the origin', () => {
    ready(false);
    assert.ok(requests.length > 0, 'no requests recorded');
    const foreign = requests.filter((u) => {
      const url = new URL(u);
      // blob: URLs (the photo shown in an <img>) carry the page's origin.
      const o = url.protocol === 'blob:' ? new URL(url.pathname).origin : url.origin;
      return o !== origin;
    });
    assert.deepEqual(foreign, [], 'requests outside the page origin');
  });
});

// ---------- web/serve.js on its own (no dist/ needed) ----------

function get(port, rawPath, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('web/serve.js', () => {
  let tmp;
  let srv;
  before(async () => {
    const { startServer } = await import('../web/serve.js');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-serve-'));
    const site = path.join(tmp, 'site');
    fs.mkdirSync(path.join(site, 'models'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'secret.txt'), 'SECRET');
    for (const f of ['index.html', 'a.js', 'b.mjs', 'c.wasm', 'd.json', 'e.gz', 'models/m.dlm']) {
      fs.writeFileSync(path.join(site, f), f);
    }
    fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(site, 'link.txt'));
    srv = await startServer({ root: site, port: 0 });
  });
  after(async () => {
    if (srv) await srv.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('serves files with exact MIME types and isolation + CSP headers', async () => {
    const want = {
      '/': 'text/html; charset=utf-8', '/a.js': 'text/javascript; charset=utf-8',
      '/b.mjs': 'text/javascript; charset=utf-8', '/c.wasm': 'application/wasm',
      '/d.json': 'application/json; charset=utf-8', '/e.gz': 'application/gzip',
      '/models/m.dlm': 'application/octet-stream',
    };
    for (const [p, type] of Object.entries(want)) {
      const r = await get(srv.port, p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['content-type'], type, p);
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal(Number(r.headers['content-length']), r.body.length);
      const csp = r.headers['content-security-policy'];
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|'unsafe-eval'/);
    }
  });

  test('refuses directory traversal, symlinks out of the root, and other methods', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt',
      '/models/../../secret.txt', '/models/%2e%2e/%2e%2e/secret.txt', '/..\\secret.txt', '/%5c..%5csecret.txt',
      '/index.html%00.js', '/link.txt', '/%E0%A4%A']) {
      const r = await get(srv.port, p);
      assert.ok(r.status >= 400, `${p} answered ${r.status}`);
      assert.ok(!r.body.includes('SECRET'), `${p} leaked a file outside the root`);
    }
    assert.equal((await get(srv.port, '/nope.js')).status, 404);
    assert.equal((await get(srv.port, '/a.js', 'POST')).status, 405);
    assert.equal((await get(srv.port, '/models')).status, 301);
  });

  test('a folder redirects to a path on this host, never to a scheme-relative URL', async () => {
    const want = { '/models': '/models/', '//models': '/models/', '///models': '/models/',
      '//models//': null, '/models//': null, '/./models': undefined };
    for (const [p, location] of Object.entries(want)) {
      const r = await get(srv.port, p);
      if (location === undefined) { assert.ok(r.status >= 400, `${p} answered ${r.status}`); continue; }
      if (location === null) { assert.notEqual(r.status, 301, `${p} redirected to ${r.headers.location}`); continue; }
      assert.equal(r.status, 301, p);
      assert.equal(r.headers.location, location, p);
      // What a browser does with it: the same host, the folder's path.
      const followed = new URL(r.headers.location, `http://127.0.0.1:${srv.port}${p}`);
      assert.equal(followed.host, `127.0.0.1:${srv.port}`, `${p} sends the browser to ${followed.host}`);
    }
    // An absolute-form request target is not a path of this site.
    assert.equal((await get(srv.port, 'http://models/models')).status, 400);
  });

  test('a port in use and a missing folder give clear errors', async () => {
    const { startServer } = await import('../web/serve.js');
    await assert.rejects(startServer({ root: path.join(tmp, 'site'), port: srv.port }), /port \d+ is already in use/);
    await assert.rejects(startServer({ root: path.join(tmp, 'none'), port: 0 }), /folder not found/);
  });
});
