// The "your own classes" page measured (not a test): extract + train 3 classes x PER photos at
// S (default 224 x 224) from a folder of class folders; the peer in the same run: the native CLI
// `denselab train` on the same folder and settings (--peer 0 skips it). Prints one JSON line.
// (The camera's frame rate: bench/camera_fps.js.)
//   node bench/train_page.js [--per 50] [--size 224] [--workers auto] [--peer 1]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { launchChromium, nativeCli, root } from '../tests/helpers.js';
import { makeTrainingSet } from '../tests/train-data.js';

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const per = Number(arg('per', '50')), size = arg('size', '224'), workers = arg('workers', 'auto'), peer = arg('peer', '1') !== '0';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-train-bench-'));
try {
  const set = makeTrainingSet(path.join(tmp, 'set'), { perClass: per, photos: false });
  const { startServer } = await import('../web/serve.js');
  const server = await startServer({ root: path.join(root, 'dist'), port: 0 });
  const browser = await launchChromium('denselab-train-bench-');
  const { context } = browser;
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
  const result = { classes: 3, per_class: per, size: Number(size), workers, cores: os.cpus().length,
    extract_and_train_seconds: trainSeconds, progress: await page.textContent('[data-testid=progress-text]'), accuracy: await page.textContent('[data-testid=accuracy]') };
  await browser.close(); await server.close();
  if (peer) {
    const t1 = Date.now(), cli = JSON.parse(execFileSync(nativeCli, ['train', set.dir, '--size', size, '--json'], { encoding: 'utf8' }));
    Object.assign(result, { native_cli_seconds: (Date.now() - t1) / 1000, native_cli_accuracy: cli.accuracy.toFixed(4) });
    result.page_over_native_cli = +(trainSeconds / result.native_cli_seconds).toFixed(2);
  }
  console.log(JSON.stringify({ ...result, load_average: os.loadavg().map((x) => +x.toFixed(2)) }));
} finally { fs.rmSync(tmp, { recursive: true, force: true }); }
