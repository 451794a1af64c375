// Browser tests of the "your own classes" page (dist/train.html) in Debian's headless Chromium:
// a folder of class folders (Fashion-MNIST PNG/BMP + the shared photos, made at test time) at
// S=96 gives the same cross-validated accuracy and confusion matrix as `node wasm/cli.js train`;
// paste and the file chooser add images, a WebP is decoded by the browser and an unreadable file
// is listed with its reason; the camera (Chromium's fake capture fed a Y4M made from real images)
// captures into a class and live predictions follow the video; a saved project gives the CLI's
// scores, and after an offline reload the loaded project gives the same predictions.
import { describe, it as test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createDenseLab } from '../wasm/denselab.js';
import { launchChromium, root, shared, tmpDir } from './helpers.js';
import { fashionImages, grayPng, makeTrainingSet, TRAIN_CLASSES, y4m } from './train-data.js';

const dist = path.join(root, 'dist');
const SLOW = 300_000, SIZE = '96';
const tmp = tmpDir('denselab-train-web-');
let server, browser, context, page;

const text = (id) => page.textContent(`[data-testid=${id}]`);
const cli = (...args) => execFileSync(process.execPath, [path.join(root, 'wasm/cli.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });

async function waitStatus(states, what) {
  try {
    await page.waitForFunction((s) => [...s, 'error'].includes(document.querySelector('[data-testid=train-status]').textContent), states, { timeout: SLOW });
  } catch { assert.fail(`${what}: timed out with status "${await text('train-status')}" (${await text('progress-text')})`); }
  const s = await text('train-status');
  if (!states.includes(s)) assert.fail(`${what}: status "${s}", error shown: ${await text('train-error')}`);
}

async function trainAndWait(what) {
  await page.click('[data-testid=train]');
  await waitStatus(['trained'], what);
}

// A real drop of files or folders from the disk, as the OS would deliver it (CDP
// Input.dispatchDragEvent with the paths: a folder arrives as a directory entry to walk).
async function dropPaths(locator, paths) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox(), cdp = await context.newCDPSession(page);
  const at = { x: box.x + box.width / 2, y: box.y + Math.min(box.height / 2, 12) }, data = { items: [], files: paths, dragOperationsMask: 1 };
  try {
    for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  } finally { await cdp.detach(); }
}

const classNames = () => page.$$eval('[data-testid=class-name]', (els) => els.map((e) => e.value));
const imageCounts = () => page.$$eval('[data-testid=class-card]', (cards) => cards.map((c) => c.querySelectorAll('img').length));

async function confusion() {
  return page.$$eval('[data-testid=confusion] tr', (rows) => rows.slice(1).map((r) => [...r.querySelectorAll('button')].map((b) => Number(b.textContent))));
}

describe('the "your own classes" page in Chromium', () => {
  let setupError = null, data;
  const ready = () => { if (setupError) throw setupError; };

  before(async () => {
    try {
      for (const f of ['train.html', 'train.js', 'train-worker.js', 'train-lib.js', 'models/densenet121.dlm'])
        if (!fs.existsSync(path.join(dist, f))) throw new Error(`dist/${f} is missing: run ./build.sh (it runs node web/build-dist.js)`);
      data = makeTrainingSet(path.join(tmp, 'set'), { perClass: 6 });
      // The video: a trouser (Fashion-MNIST, light on dark) then the zebra photo, 2 s each, looping.
      const lab = await createDenseLab({ wasmBinary: fs.readFileSync(path.join(root, 'build/wasm/wasm/denselab_core.wasm')), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
      const trouser = grayPng(fashionImages(1, 30)[TRAIN_CLASSES.trouser][0]);
      const zebra = fs.readFileSync(path.join(shared, 'images', 'zebra_340.png'));
      fs.writeFileSync(path.join(tmp, 'camera.y4m'), y4m([trouser, zebra].map((b) => lab.loadImg(b, [240, 240]).rgb)));
      const { startServer } = await import('../web/serve.js');
      server = await startServer({ root: dist, port: 0 });
      browser = await launchChromium('denselab-train-web-', { acceptDownloads: true,
        args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${path.join(tmp, 'camera.y4m')}`] });
      ({ context } = browser);
      await context.grantPermissions(['camera'], { origin: new URL(server.url).origin });
      page = context.pages()[0] || await context.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      await page.goto(new URL('train.html', server.url).href);
      await page.waitForFunction(() => document.body.dataset.ready === '1' || document.querySelector('[data-testid=train-status]').textContent === 'error', null, { timeout: SLOW });
    } catch (e) { setupError = e; }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a folder of class folders dropped on the page; cross-validation equals the CLI on the same files and settings', async () => {
    ready();
    await page.selectOption('[data-testid=size]', SIZE);
    await page.selectOption('[data-testid=workers]', '2');
    // The two empty starting classes go; the dropped folder makes the four of the data set.
    for (let i = 0; i < 2; i++) await page.locator('[data-testid=class-card] button', { hasText: 'Delete' }).first().click();
    await dropPaths(page.locator('#classes-title'), [data.dir]);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=class-card] img').length === 25);
    assert.deepEqual(await classNames(), ['bag', 'photos', 'sneaker', 'trouser']);
    assert.deepEqual(await imageCounts(), [6, 7, 6, 6]);
    await trainAndWait('training from the folder');
    const want = JSON.parse(cli('train', data.dir, '--size', SIZE, '--json'));
    assert.equal(await text('accuracy'), want.accuracy.toFixed(4));
    assert.deepEqual(await confusion(), want.confusion);
    assert.match(await text('cv-text'), /stratified 5-fold, 25 images/);
  });

  test('the folder chooser (webkitdirectory) makes the same classes; several files dropped on a class join it', async () => {
    ready();
    while (await page.locator('[data-testid=class-card]').count()) await page.locator('[data-testid=class-card] button', { hasText: 'Delete' }).first().click();
    await page.setInputFiles('[data-testid=top-folder]', data.dir);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=class-card] img').length === 25);
    assert.deepEqual(await classNames(), ['bag', 'photos', 'sneaker', 'trouser']);
    assert.deepEqual(await imageCounts(), [6, 7, 6, 6]);
    const extra = ['cat_285.png', 'dog_207.png'];
    const bag = page.locator('[data-testid=class-card]').first();
    await dropPaths(bag.locator('.class-head .count'), extra.map((f) => path.join(shared, 'images', f)));
    await page.waitForFunction(() => document.querySelector('[data-testid=class-card]').querySelectorAll('img').length === 8);
    for (const f of extra) await bag.locator(`button[aria-label="remove ${f}"]`).click();
    assert.deepEqual(await imageCounts(), [6, 7, 6, 6]);
  });

  test('a held-out fraction: the same accuracy and confusion matrix as the CLI --holdout', async () => {
    ready();
    await page.selectOption('[data-testid=cv]', 'holdout:0.3');
    await trainAndWait('training with 30 % held out');
    const want = JSON.parse(cli('train', data.dir, '--size', SIZE, '--holdout', '0.3', '--json'));
    assert.equal(await text('accuracy'), want.accuracy.toFixed(4));
    assert.deepEqual(await confusion(), want.confusion);
    assert.match(await text('cv-text'), new RegExp(`30% of each class held out: ${want.held_out} of 25 images`));
    await page.selectOption('[data-testid=cv]', '0');
  });

  test('cancel stops the feature extraction; the page trains again afterwards', async () => {
    ready();
    await page.selectOption('[data-testid=size]', '128');       // not cached: the workers must run
    await page.click('[data-testid=train]');
    await page.waitForFunction(() => /Features: \d+\/25/.test(document.querySelector('[data-testid=progress-text]').textContent));
    await page.click('[data-testid=cancel]');
    await waitStatus(['cancelled'], 'cancelling');
    assert.match(await text('progress-text'), /^Cancelled/);
    await page.selectOption('[data-testid=size]', SIZE);
    await trainAndWait('training after the cancel');
    assert.match(await text('cv-text'), /25 images/);
  });

  test('paste and the file chooser add images; WebP comes from the browser decoder; unreadable files are listed', async () => {
    ready();
    const webp = await page.evaluate(async () => {
      const c = new OffscreenCanvas(64, 64), ctx = c.getContext('2d');
      ctx.fillStyle = '#000'; ctx.fillRect(0, 0, 64, 64); ctx.fillStyle = '#ddd'; ctx.fillRect(24, 4, 16, 56);
      return Array.from(new Uint8Array(await (await c.convertToBlob({ type: 'image/webp', quality: 1 })).arrayBuffer()));
    });
    fs.writeFileSync(path.join(tmp, 'drawn.webp'), Buffer.from(webp));
    fs.writeFileSync(path.join(tmp, 'notes.png'), 'not an image');
    const trouserCard = page.locator('[data-testid=class-card]').nth(3);
    await trouserCard.locator('.class-head .count').click();
    await trouserCard.locator('input[type=file]').first().setInputFiles([path.join(tmp, 'drawn.webp'), path.join(tmp, 'notes.png')]);
    const png = [...fs.readFileSync(path.join(data.dir, 'trouser', 'trouser-00.png'))];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
    }, png);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=class-card]')[3].querySelectorAll('img').length === 9);
    await trainAndWait('training with the added images');
    assert.match(await text('skipped'), /notes\.png: /);
    assert.equal(await trouserCard.locator('.thumb[title="drawn.webp"] .tag').textContent(), 'browser');
    assert.match(await text('cv-text'), /27 images/);
  });

  test('camera: hold to capture into a class, train, live predictions follow the video', async () => {
    ready();
    await page.click('[data-testid=camera-start]');
    await page.waitForFunction(() => document.querySelector('video').videoWidth > 0, null, { timeout: 30000 });
    await page.click('[data-testid=add-class]');           // a fifth class, selected below, for the frames
    const cameraCard = page.locator('[data-testid=class-card]').nth(4);
    await cameraCard.locator('.class-head .count').click();
    await page.fill('[data-testid=capture-ms]', '100');
    await page.hover('[data-testid=capture]');
    await page.mouse.down();
    await page.waitForTimeout(1500);
    await page.mouse.up();
    // The last frames' PNGs are still being encoded (long after the release on a loaded machine):
    // the count is read once it has stopped changing.
    let captured = -1;
    for (let now = Number((await text('capture-count')).split(' ')[0]); now !== captured;) {
      captured = now;
      await page.waitForTimeout(500);
      now = Number((await text('capture-count')).split(' ')[0]);
    }
    assert.ok(captured >= 3, `${captured} frames captured`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=class-card]')[4].querySelectorAll('img').length === n, captured);
    await trainAndWait('training with the camera frames');
    assert.match(await text('cv-text'), new RegExp(`${27 + captured} images`));
    // The frames show both pictures of the video; without them, the classes tell the pictures apart.
    await cameraCard.locator('button', { hasText: 'Delete' }).click();
    await trainAndWait('training without the camera frames');
    await page.check('[data-testid=live]');
    const seen = new Set();
    const t0 = Date.now();
    while (Date.now() - t0 < 12000 && seen.size < 2) {
      const top = await page.$$eval('[data-testid=live-bars] .bar', (bars) => bars.map((b) => [b.children[0].textContent, b.children[1].value]).sort((a, b) => b[1] - a[1])[0]?.[0]);
      if (top) seen.add(top);
      await page.waitForTimeout(200);
    }
    await page.uncheck('[data-testid=live]');
    assert.deepEqual([...seen].sort(), ['photos', 'trouser'], `live predictions seen: ${[...seen]}`);
  });

  test('save the project; the CLI gives the same scores; reload offline, open it, same predictions', async () => {
    ready();
    const photo = path.join(shared, 'images', 'hot_dog.jpg');
    const predict = async () => {
      await page.setInputFiles('[data-testid=predict-files]', photo);
      await page.waitForFunction(() => document.querySelector('[data-testid=prediction]')?.dataset.scores);
      const r = await page.$eval('[data-testid=prediction]', (e) => ({ label: e.dataset.label, scores: JSON.parse(e.dataset.scores) }));
      await page.evaluate(() => document.querySelector('[data-testid=predictions]').replaceChildren());
      return r;
    };
    const before = await predict();
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=save]')]);
    const project = path.join(tmp, 'saved.dlproj');
    await download.saveAs(project);
    const out = JSON.parse(cli('classify', '--project', project, photo, '--json'))[0];
    assert.equal(out.label, before.label);
    const names = await page.$$eval('[data-testid=class-name]', (els) => els.map((e) => e.value));
    for (const [name, score] of out.scores) assert.equal(score.toFixed(6), before.scores[names.indexOf(name)].toFixed(6), name);
    // Export ONNX: the page writes the same .onnx file as the CLI from the saved project.
    const [onnx] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-onnx]')]);
    await onnx.saveAs(path.join(tmp, 'page.onnx'));
    cli('export-onnx', '--project', project, '--out', path.join(tmp, 'cli.onnx'));
    assert.ok(fs.readFileSync(path.join(tmp, 'page.onnx')).equals(fs.readFileSync(path.join(tmp, 'cli.onnx'))), 'the page exports the CLI\'s .onnx');
    await context.setOffline(true);
    try {
      await page.reload();
      await page.waitForFunction(() => document.body.dataset.ready === '1' || document.querySelector('[data-testid=train-status]').textContent === 'error', null, { timeout: SLOW });
      assert.equal(await text('train-status'), 'ready', await text('train-error'));
      await page.setInputFiles('[data-testid=open]', project);
      await waitStatus(['trained'], 'opening the project offline');
      assert.equal(await page.locator('[data-testid=class-card] img').count(), 27, 'the images came back with the project');
      assert.deepEqual(await predict(), before);
    } finally { await context.setOffline(false); }
  });
});
