// The "your own classes" page measured (not a test): extract + train 3 classes x PER photos at
// S (default 224 x 224) from a folder of class folders, then the live camera frame rate at S
// (Chromium's fake capture fed a Y4M of real images). Prints one JSON line.
//   node bench/train_page.js [--per 50] [--size 224] [--workers auto] [--seconds 10]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDenseLab } from '../wasm/denselab.js';
import { CHROMIUM, root, shared } from '../tests/helpers.js';
import { makeTrainingSet, y4m } from '../tests/train-data.js';

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const per = Number(arg('per', '50')), size = arg('size', '224'), workers = arg('workers', 'auto'), seconds = Number(arg('seconds', '10'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-train-bench-'));
try {
  const set = makeTrainingSet(path.join(tmp, 'set'), { perClass: per, photos: false });
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(path.join(root, 'build/wasm/wasm/denselab_core.wasm')), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
  fs.writeFileSync(path.join(tmp, 'camera.y4m'), y4m(['zebra_340.png', 'cat_285.png'].map((f) => lab.loadImg(fs.readFileSync(path.join(shared, 'images', f)), [240, 240]).rgb)));
  const { startServer } = await import('../web/serve.js');
  const server = await startServer({ root: path.join(root, 'dist'), port: 0 });
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
    executablePath: CHROMIUM, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${path.join(tmp, 'camera.y4m')}`],
  });
  await context.grantPermissions(['camera'], { origin: new URL(server.url).origin });
  const page = context.pages()[0] || await context.newPage();
  await page.goto(new URL('train.html', server.url).href);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 300000 });
  await page.selectOption('[data-testid=size]', size);
  await page.selectOption('[data-testid=workers]', workers);
  for (let i = 0; i < 2; i++) await page.locator('[data-testid=class-card] button', { hasText: 'Delete' }).first().click();
  await page.setInputFiles('[data-testid=top-folder]', set.dir);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=class-card] img').length === n, 3 * per);
  const t0 = Date.now();
  await page.click('[data-testid=train]');
  await page.waitForFunction(() => ['trained', 'error'].includes(document.querySelector('[data-testid=train-status]').textContent), null, { timeout: 1800000 });
  const trainSeconds = (Date.now() - t0) / 1000;
  await page.click('[data-testid=camera-start]');
  await page.waitForFunction(() => document.querySelector('video').videoWidth > 0);
  await page.check('[data-testid=live]');
  await page.waitForTimeout(seconds * 1000);
  const fps = Number(await page.evaluate(() => document.body.dataset.fps));
  await page.uncheck('[data-testid=live]');
  console.log(JSON.stringify({ classes: 3, per_class: per, size: Number(size), workers, cores: os.cpus().length, extract_and_train_seconds: trainSeconds, accuracy: await page.textContent('[data-testid=accuracy]'), camera_fps: fps }));
  await context.close(); await server.close();
} finally { fs.rmSync(tmp, { recursive: true, force: true }); }
