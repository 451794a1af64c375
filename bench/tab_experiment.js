#!/usr/bin/env node
// tab_experiment.js — the whole Fashion-MNIST experiment in a headless Chromium tab
// (dist/fashion.html): wall time of each phase, test accuracies, and the peak memory of
// the browser's processes (sums of PSS and of RSS from /proc/PID/smaps_rollup over the
// browser's process tree, sampled every 250 ms; the peak per phase too).
//   node bench/tab_experiment.js [--train 60000] [--test 10000] [--size 32] [--workers auto|N]
//                                [--rbf-points 5000] [--epochs 10] [--out build/bench/tab_experiment.json]
//                                [--dist dist] (another build's dist/, e.g. to measure the code before a change)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium } from '../tests/helpers.js';
import { TAB_JSON, writeTabSection } from './tab_section.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const opts = { train: '60000', test: '10000', size: '32', workers: 'auto', 'rbf-points': '5000', epochs: '10', out: path.join(root, 'build/bench/tab_experiment.json'), dist: path.join(root, 'dist') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) { console.error(`tab_experiment: unknown or incomplete option ${argv[i]}`); process.exit(1); }
  opts[key] = argv[i + 1];
}
if (!fs.existsSync(path.join(opts.dist, 'fashion.html'))) { console.error(`tab_experiment: ${opts.dist}/fashion.html is missing: run ./build.sh`); process.exit(1); }

// The browser's processes: those whose command line names this profile, and all their
// descendants (renderers, workers' processes, GPU, network service). Only the tree of this
// browser: other Chromium instances on the machine are not counted.
function browserPids(userDir) {
  const children = new Map(), roots = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(pid);
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(userDir)) roots.push(pid);
    } catch { /* the process ended */ }
  }
  const out = new Set();
  const visit = (pid) => { if (out.has(pid)) return; out.add(pid); for (const c of children.get(pid) ?? []) visit(c); };
  roots.forEach(visit);
  return [...out];
}

// { rss, pss, pssAnon, pssFile } (bytes) summed over the browser's processes. RSS counts a page
// shared by k processes k times; PSS counts 1/k of it in each, so the PSS sum is the memory the
// browser really holds. Its file part (Chromium's own code, shared with every other Chromium
// on the machine) shrinks when other browsers run; the anonymous part (heaps, WASM memory) does not.
const SMAPS = { rss: 'Rss', pss: 'Pss', pssAnon: 'Pss_Anon', pssFile: 'Pss_File' };
function browserMemory(userDir) {
  const sum = Object.fromEntries(Object.keys(SMAPS).map((k) => [k, 0]));
  for (const pid of browserPids(userDir)) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
      for (const [key, field] of Object.entries(SMAPS)) {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
        if (m) sum[key] += Number(m[1]) * 1024;
      }
    } catch { /* the process ended */ }
  }
  return sum;
}

const { startServer } = await import('../web/serve.js');
const server = await startServer({ root: opts.dist, port: 0 });
const browser = await launchChromium('denselab-tab-');
const { context, userDir } = browser;
const peak = { rss: 0, pss: 0, pssAnon: 0, pssFile: 0 };   // each the largest sample
let phase = 'load';
const phasePeak = {};   // phase -> the same: where the peak is
const sampler = setInterval(() => {
  const now = browserMemory(userDir), p = (phasePeak[phase] ??= { rss: 0, pss: 0, pssAnon: 0, pssFile: 0 });
  for (const k of Object.keys(peak)) { peak[k] = Math.max(peak[k], now[k]); p[k] = Math.max(p[k], now[k]); }
}, 250);
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
  phase = 'features';
  const t1 = Date.now();
  await page.click('[data-testid=extract]');
  await waitFor(['done'], 'features');
  const featureSeconds = (Date.now() - t1) / 1000;
  const featureText = await page.textContent('[data-testid=features-text]');
  const workerHeap = await page.evaluate(() => window.__denselabTest.featureWorkerHeap?.() ?? null);
  phase = 'classifiers';
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
    classifiers_seconds: trainSeconds, results: rows, peak_browser_rss_mb: Math.round(peak.rss / 2 ** 20), peak_browser_pss_mb: Math.round(peak.pss / 2 ** 20),
    peak_browser_pss_anon_mb: Math.round(peak.pssAnon / 2 ** 20), peak_browser_pss_file_mb: Math.round(peak.pssFile / 2 ** 20),
    peak_by_phase_mb: Object.fromEntries(Object.entries(phasePeak).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).map(([f, x]) => [f, Math.round(x / 2 ** 20)]))])),
    feature_worker_wasm_mb: workerHeap ? `${(workerHeap.first / 2 ** 20).toFixed(0)} MB after its first batch, ${(workerHeap.max / 2 ** 20).toFixed(0)} MB at most` : null,
    lesson: await page.textContent('[data-testid=lesson]').catch(() => null),
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
