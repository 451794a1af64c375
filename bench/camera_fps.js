// The "your own classes" page's live camera predictions measured (a benchmark, not a test):
// headless Chromium's fake capture device fed a Y4M made now from the shared photos (30 frames/s,
// like a webcam), a classifier trained in the page on 3 small classes at S x S, then live
// predictions for --seconds with 1 worker and with --workers workers, one after the other.
// The peers in the same run: the 1-worker rate (so the ratio is the pipelining's speed-up) and
// the bound the workers' own time per frame allows (workers x 1000 / ms a frame; the ratio
// fps / bound is how much of the workers' time goes to frames, whatever the machine's load).
//   node bench/camera_fps.js [--size 224] [--workers 2] [--seconds 15]   (after ./build.sh)
// Prints one JSON line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDenseLab } from '../wasm/denselab.js';
import { launchChromium, root, shared, tmpDir } from '../tests/helpers.js';
import { makeTrainingSet, y4m } from '../tests/train-data.js';

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const size = arg('size', '224'), workers = arg('workers', '2'), seconds = Number(arg('seconds', '15'));
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s.length ? s[s.length >> 1] : 0; };

const tmp = tmpDir('denselab-camera-bench-');
let browser, server;
try {
  const set = makeTrainingSet(path.join(tmp, 'set'), { perClass: 3, photos: false });
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(path.join(root, 'build/wasm/wasm/denselab_core.wasm')), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
  const photos = ['zebra_340.png', 'cat_285.png', 'hot_dog.jpg'].map((f) => lab.loadImg(fs.readFileSync(path.join(shared, 'images', f)), [240, 240]).rgb);
  const video = path.join(tmp, 'camera.y4m');
  fs.writeFileSync(video, y4m(photos, 1, 30));
  const { startServer } = await import('../web/serve.js');
  server = await startServer({ root: path.join(root, 'dist'), port: 0 });
  browser = await launchChromium('denselab-camera-bench-', {
    args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${video}`] });
  await browser.context.grantPermissions(['camera'], { origin: new URL(server.url).origin });
  const page = browser.context.pages()[0] || await browser.context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(new URL('train.html', server.url).href);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 300000 });
  await page.selectOption('[data-testid=size]', size);
  for (let i = 0; i < 2; i++) await page.locator('[data-testid=class-card] button', { hasText: 'Delete' }).first().click();
  await page.setInputFiles('[data-testid=top-folder]', set.dir);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=class-card] img').length === 9);
  await page.click('[data-testid=train]');
  await page.waitForFunction(() => ['trained', 'error'].includes(document.querySelector('[data-testid=train-status]').textContent), null, { timeout: 600000 });
  await page.click('[data-testid=camera-start]');
  await page.waitForFunction(() => document.querySelector('video').videoWidth > 0);

  // Live for `seconds` with `count` workers: the page's per-second rates after the first 2 s.
  const live = async (count) => {
    await page.selectOption('[data-testid=workers]', String(count));
    await page.evaluate(() => { delete document.body.dataset.fps; delete document.body.dataset.liveDropped; });
    await page.check('[data-testid=live]');
    await page.waitForFunction(() => document.body.dataset.fps, null, { timeout: 120000 });
    await page.waitForTimeout(2000);
    const fps = [], ms = [];
    for (let t = 0; t < seconds; t++) {
      await page.waitForTimeout(1000);
      const d = await page.evaluate(() => ({ ...document.body.dataset }));
      fps.push(Number(d.fps)); ms.push(Number(d.frameMs));
    }
    const dropped = Number(await page.evaluate(() => document.body.dataset.liveDropped ?? 0));
    await page.uncheck('[data-testid=live]');
    await page.waitForTimeout(1000);      // the frames in flight come back
    return { fps: median(fps), frame_ms: median(ms), dropped };
  };
  const one = await live(1), many = await live(Number(workers));
  const bound = (Number(workers) * 1000) / many.frame_ms;
  console.log(JSON.stringify({
    size: Number(size), video: '320x240 at 30 frames/s (fake capture)', cores: os.cpus().length, load_average: os.loadavg().map((x) => +x.toFixed(2)),
    workers: Number(workers), fps: +many.fps.toFixed(2), frame_ms: +many.frame_ms.toFixed(1),
    fps_1_worker: +one.fps.toFixed(2), frame_ms_1_worker: +one.frame_ms.toFixed(1),
    stale_results_dropped: many.dropped, speedup_vs_1_worker: +(many.fps / one.fps).toFixed(2), bound_fps: +bound.toFixed(2), fps_over_bound: +(many.fps / bound).toFixed(2),
  }));
} finally {
  await browser?.close();
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
