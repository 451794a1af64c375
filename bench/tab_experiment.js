#!/usr/bin/env node
// tab_experiment.js — the whole Fashion-MNIST experiment in a headless Chromium tab
// (dist/fashion.html): wall time of each phase, test accuracies, and the peak memory of
// the browser's processes (sum of RSS, sampled every 250 ms).
//   node bench/tab_experiment.js [--train 60000] [--test 10000] [--size 32] [--workers auto|N]
//                                [--rbf-points 5000] [--epochs 10] [--out build/bench/tab_experiment.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium } from '../tests/helpers.js';
import { TAB_JSON, writeTabSection } from './tab_section.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const opts = { train: '60000', test: '10000', size: '32', workers: 'auto', 'rbf-points': '5000', epochs: '10', out: path.join(root, 'build/bench/tab_experiment.json') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) { console.error(`tab_experiment: unknown or incomplete option ${argv[i]}`); process.exit(1); }
  opts[key] = argv[i + 1];
}
if (!fs.existsSync(path.join(root, 'dist/fashion.html'))) { console.error('tab_experiment: dist/ is missing: run ./build.sh'); process.exit(1); }

// Sum of RSS (bytes) of the Chromium processes started for this profile.
function browserRss(userDir) {
  let sum = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (!cmd.includes('chromium') || !(cmd.includes(userDir) || cmd.includes('--type='))) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m) sum += Number(m[1]) * 1024;
    } catch { /* the process ended */ }
  }
  return sum;
}

const { startServer } = await import('../web/serve.js');
const server = await startServer({ root: path.join(root, 'dist'), port: 0 });
const browser = await launchChromium('denselab-tab-');
const { context, userDir } = browser;
let peak = 0;
const sampler = setInterval(() => { peak = Math.max(peak, browserRss(userDir)); }, 250);
const page = context.pages()[0] || await context.newPage();
const status = () => page.getAttribute('[data-testid=fashion-status]', 'data-state');
async function waitFor(states, what) {
  for (;;) {
    const s = await status();
    if (states.includes(s)) return s;
    if (s === 'error') throw new Error(`${what}: ${await page.textContent('[data-testid=fashion-error]')}`);
    await page.waitForTimeout(500);
  }
}

try {
  const t0 = Date.now();
  await page.goto(new URL('fashion.html', server.url).href);
  await waitFor(['ready'], 'loading');
  const loadSeconds = (Date.now() - t0) / 1000;
  await page.selectOption('[data-testid=train-size]', opts.train);
  await page.selectOption('[data-testid=test-size]', opts.test);
  await page.selectOption('[data-testid=image-size]', opts.size);
  if (opts.workers !== 'auto') await page.selectOption('[data-testid=workers]', opts.workers);
  await page.fill('[data-testid=epochs]', opts.epochs);
  await page.fill('[data-testid=rbf-max]', opts['rbf-points']);
  for (const id of ['use-linear-svm', 'use-rbf-svm', 'use-softmax', 'use-pixels-linear-svm']) await page.setChecked(`[data-testid=${id}]`, true);
  const t1 = Date.now();
  await page.click('[data-testid=extract]');
  await waitFor(['done'], 'features');
  const featureSeconds = (Date.now() - t1) / 1000;
  const featureText = await page.textContent('[data-testid=features-text]');
  const t2 = Date.now();
  await page.click('[data-testid=train]');
  await waitFor(['done'], 'training');
  const trainSeconds = (Date.now() - t2) / 1000;
  const rows = await page.$$eval('[data-testid=results-row]', (trs) => trs.map((tr) => ({
    classifier: tr.dataset.classifier, accuracy: Number(tr.dataset.accuracy), cells: [...tr.cells].map((c) => c.textContent.trim()).slice(0, 5),
  })));
  const result = {
    date: new Date().toISOString(), options: opts, cores: os.cpus().length,
    load_seconds: loadSeconds, feature_seconds: featureSeconds, feature_progress: featureText,
    classifiers_seconds: trainSeconds, results: rows, peak_browser_rss_mb: Math.round(peak / 2 ** 20),
    load_average: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    chromium: execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim(),
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result, null, 1));
  if (opts.out === TAB_JSON) writeTabSection(path.join(root, 'docs/benchmarks.md'));
} finally {
  clearInterval(sampler);
  await browser.close();
  await server.close();
}
