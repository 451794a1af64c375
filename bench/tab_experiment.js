#!/usr/bin/env node
// tab_experiment.js — the whole Fashion-MNIST experiment in a headless Chromium tab
// (dist/fashion.html): wall time of each phase, test accuracies, and the peak memory of
// the browser's processes (sums of PSS and of RSS from /proc/PID/smaps_rollup over the
// browser's process tree, sampled every 250 ms; the peak per phase too, and per classifier,
// with each phase's peak split by kind of process (browser, renderer, GPU, utilities) and the
// WASM memory of every live worker then: where the memory goes; printed at the end).
//   node bench/tab_experiment.js [--train 60000] [--test 10000] [--size 32] [--workers auto|N]
//                                [--rbf-points 5000] [--epochs 10] [--finetune-epochs N (0: no fine-tuning row;
//                                default: the page's)] [--out build/bench/tab_experiment.json]
//                                [--dist dist] (another build's dist/, e.g. to measure the code before a change)
//                                [--probe-ms 3000] (the pause between two breakdowns: smaller catches a short peak)
//                                [--classifiers linear-svm,rbf-svm,softmax,finetune,pixels-linear-svm] (those to train; default: all)
//                                [--profile DIR] (the browser profile kept there, on a fixed --port [8937]: a second run
//                                 reads the features from the first one's IndexedDB cache instead of extracting them)
// Where the renderer's memory is (bench/tab_probe.js): every few seconds, and once settled after
// loading and after the features, each target's JS heap and ArrayBuffer backing stores (the page,
// every worker) and the renderer's PSS by kind of mapping; each phase keeps the sample of its peak,
// and a sample above its phase's largest breakdown so far starts one at once. The short peaks: a
// timeline of the PSS sum (every 250 ms) with events (workers started and ended, steps), and per
// phase its median, its peak and what happened around the peak (tab_probe.js transients()).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium } from '../tests/helpers.js';
import { TAB_JSON, writeTabSection } from './tab_section.js';
import { TargetProbe, breakdownLines, browserMemory, transientLines, transients } from './tab_probe.js';
import { FASHION } from '../web/defaults.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const opts = { train: '60000', test: '10000', size: '32', workers: 'auto', 'rbf-points': '5000', epochs: '10', 'finetune-epochs': String(FASHION.classifiers.finetune.params.epochs), out: path.join(root, 'build/bench/tab_experiment.json'), dist: path.join(root, 'dist'), 'probe-ms': '3000', profile: '', port: '8937', classifiers: 'linear-svm,rbf-svm,softmax,finetune,pixels-linear-svm' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) { console.error(`tab_experiment: unknown or incomplete option ${argv[i]}`); process.exit(1); }
  opts[key] = argv[i + 1];
}
if (!fs.existsSync(path.join(opts.dist, 'fashion.html'))) { console.error(`tab_experiment: ${opts.dist}/fashion.html is missing: run ./build.sh`); process.exit(1); }

const { startServer } = await import('../web/serve.js');
// A kept profile's IndexedDB belongs to the page's origin, so its port must not change between runs.
const server = await startServer({ root: opts.dist, port: opts.profile ? Number(opts.port) : 0 });
// The last run's DevTools port, and its service worker with its offline copy of the pages (of another
// --dist perhaps: it would serve those files); IndexedDB, with the features, stays.
for (const f of opts.profile ? ['DevToolsActivePort', 'Default/Service Worker'] : []) fs.rmSync(path.join(opts.profile, f), { recursive: true, force: true });
const browser = await launchChromium('denselab-tab-', { args: ['--remote-debugging-port=0'], keepDir: opts.profile || null });
const { context, userDir } = browser;
const probe = await TargetProbe.connect(userDir);
const peak = { rss: 0, pss: 0, pssAnon: 0, pssFile: 0 };   // each the largest sample
let phase = 'load', step = null;   // step: the classifier training now (its row's label); phase null: the run is over
// phase -> { rss, pss, pssAnon, pssFile: each its largest sample; atPeak: the PSS sample with
// the largest sum, per process kind, and the workers' WASM memories then }.
const phasePeak = {};
const mb = (x) => Math.round(x / 2 ** 20);
const phaseBreakdown = {};   // phase -> the breakdown sample with the largest PSS sum in it
const t0Run = Date.now(), since = () => Math.round((Date.now() - t0Run) / 100) / 10;   // s since the start, 0.1 s
const timeline = [], events = [];   // { t, pss, anon (MiB), key }, { t, what }
const event = (what) => events.push({ t: since(), what });
let kickBreakdown = () => {};       // starts the next breakdown at once
// The workers' WASM memories (they never shrink): each worker reports its own through
// self.__denselabMemory (web/worker-features.js, web/worker-train.js); a worker busy in a long
// WASM call answers later, with the same or a larger figure.
const workers = new Map();   // playwright Worker -> { name, wasm (bytes, largest seen), live }
function workerWasm() {
  return [...workers.values()].filter((w) => w.live).map((w) => ({ name: w.role ? `${w.name} (${w.role})` : w.name, mb: Math.round(w.wasm / 2 ** 20) }));
}
const sampler = setInterval(() => {
  const now = browserMemory(userDir);
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], now[k]);
  const key = phase && (step ? `${phase}: ${step}` : phase);
  if (key) {
    timeline.push({ t: since(), pss: mb(now.pss), anon: mb(now.pssAnon), key });
    if (mb(now.pss) > (phaseBreakdown[key]?.pss ?? 0) + 4) kickBreakdown();
  }
  for (const key of !phase ? [] : step ? [phase, `${phase}: ${step}`] : [phase]) {
    const p = (phasePeak[key] ??= { rss: 0, pss: 0, pssAnon: 0, pssFile: 0, atPeak: null });
    for (const k of Object.keys(peak)) p[k] = Math.max(p[k], now[k]);
    if (!p.atPeak || now.pss >= p.atPeak.pss) p.atPeak = { pss: now.pss, byKind: now.byKind, wasm: workerWasm() };
  }
}, 250);
let polling = true;
const seen = new Map();   // worker script -> how many so far (names: "worker-train.js #2")
function addWorker(w) {   // on the page's 'worker' event too: a cache worker may live less than a poll
  if (workers.has(w)) return;
  const file = new URL(w.url()).pathname.split('/').pop(), k = (seen.get(file) ?? 0) + 1;
  seen.set(file, k);
  const entry = { name: `${file} #${k}`, wasm: 0, live: true };
  workers.set(w, entry);
  event(`${entry.name} started`);
  w.on('close', () => { entry.live = false; event(`${entry.name} ended`); });
}
async function pollWorkers(page) {
  page.on('worker', addWorker);
  while (polling) {
    page.workers().forEach(addWorker);
    await Promise.all([...workers].filter(([, e]) => e.live).map(([w, e]) => Promise.race([
      w.evaluate(() => self.__denselabMemory?.() ?? null).then((m) => { if (m) { e.wasm = Math.max(e.wasm, m.wasmBytes); e.role ||= m.role; } }, () => {}),
      new Promise((r) => setTimeout(r, 300)),
    ])));
    await new Promise((r) => setTimeout(r, 500));
  }
}
const page = context.pages()[0] || await context.newPage();
const polled = pollWorkers(page);
// The classifier being trained, from the page's progress line ("Linear SVM: training on ...").
async function watchSteps() {
  while (phase === 'classifiers') {
    const text = await page.textContent('[data-testid=train-text]').catch(() => '');
    const label = /^([^:]+):/.exec(text ?? '')?.[1];
    if (label && label !== step) { process.stderr.write(`tab_experiment: ${label} (${new Date().toISOString()})\n`); event(`step ${label}`); }
    if (label) step = label;
    await page.waitForTimeout(250);
  }
  step = null;
}
// phasePeak in MiB: { phase: { rss, pss, pssAnon, pssFile, at_peak: { processes: { kind: pss }, wasm: [{ name, mb }] } } }
const phasesMb = () => Object.fromEntries(Object.entries(phasePeak).map(([k, v]) => [k, {
  rss: mb(v.rss), pss: mb(v.pss), pssAnon: mb(v.pssAnon), pssFile: mb(v.pssFile),
  at_peak: { processes: Object.fromEntries(Object.entries(v.atPeak.byKind).sort((a, b) => b[1] - a[1]).map(([kind, x]) => [kind, mb(x)])), wasm: v.atPeak.wasm },
}]));
// The breakdown as text: one line per phase.
function breakdownText(phases) {
  return Object.entries(phases).map(([k, v]) => `${k.padEnd(40)} PSS ${String(v.pss).padStart(5)} MB (anon ${v.pssAnon}, RSS ${v.rss}) at its peak: ${
    Object.entries(v.at_peak.processes).map(([kind, x]) => `${kind} ${x}`).join(', ')}${v.at_peak.wasm.length ? `; WASM memories: ${v.at_peak.wasm.map((w) => `${w.name} ${w.mb}`).join(', ')}` : ''}`).join('\n');
}
const breakdown = (options) => probe.breakdown(options);
const settledBreakdown = {}; // 'after loading' etc. -> { asIs, afterGc }
const breakdowns = (async () => {
  while (polling) {
    const key = phase, stepKey = step && `${phase}: ${step}`;
    if (key) {
      const b = await breakdown().catch(() => null);
      for (const k of b ? [key, stepKey].filter(Boolean) : []) if (!phaseBreakdown[k] || b.pss >= phaseBreakdown[k].pss) phaseBreakdown[k] = b;
    }
    await new Promise((r) => { const timer = setTimeout(r, Number(opts['probe-ms'])); kickBreakdown = () => { clearTimeout(timer); r(); }; });
    kickBreakdown = () => {};
  }
})();
async function settle(name) { settledBreakdown[name] = await probe.settled(page); }

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
  await settle('after loading');
  await page.selectOption('[data-testid=train-size]', opts.train);
  await page.selectOption('[data-testid=test-size]', opts.test);
  await page.selectOption('[data-testid=image-size]', opts.size);
  if (opts.workers !== 'auto') await page.selectOption('[data-testid=workers]', opts.workers);
  await page.fill('[data-testid=epochs]', opts.epochs);
  await page.fill('[data-testid=rbf-max]', opts['rbf-points']);
  const chosen = opts.classifiers.split(',');
  for (const name of ['linear-svm', 'rbf-svm', 'softmax', 'pixels-linear-svm']) await page.setChecked(`[data-testid=use-${name}]`, chosen.includes(name));
  const finetuneEpochs = chosen.includes('finetune') ? Number(opts['finetune-epochs']) : 0;
  await page.setChecked('[data-testid=use-finetune]', finetuneEpochs > 0);   // before extracting: its rows come with the features
  if (finetuneEpochs > 0) await page.fill('[data-testid=ft-epochs]', String(finetuneEpochs));
  phase = 'features';
  event('phase features');
  process.stderr.write(`tab_experiment: loaded in ${loadSeconds.toFixed(1)} s; features (${new Date().toISOString()})\n`);
  const t1 = Date.now();
  await page.click('[data-testid=extract]');
  await waitFor(['done'], 'features');
  const featureSeconds = (Date.now() - t1) / 1000;
  const featureText = await page.textContent('[data-testid=features-text]');
  const workerHeap = await page.evaluate(() => window.__denselabTest.featureWorkerHeap?.() ?? null);
  await settle('after the features');
  phase = 'classifiers';
  event('phase classifiers');
  const steps = watchSteps();
  const t2 = Date.now();
  await page.click('[data-testid=train]');
  await waitFor(['done'], 'training');
  phase = null;   // the results are read: no more phases
  await steps;
  const trainSeconds = (Date.now() - t2) / 1000;
  // Each read-back from IndexedDB: who read it, and its seconds (pages that note them: web/fashion.js).
  const readBacks = await page.evaluate(() => window.__denselabTest.readBackTimes?.() ?? null);
  const rows = await page.$$eval('[data-testid=results-row]', (trs) => trs.map((tr) => ({
    classifier: tr.dataset.classifier, accuracy: Number(tr.dataset.accuracy), cells: [...tr.cells].map((c) => c.textContent.trim()).slice(0, 5),
  })));
  const result = {
    date: new Date().toISOString(), options: opts, cores: os.cpus().length,
    load_seconds: loadSeconds, feature_seconds: featureSeconds, feature_progress: featureText,
    classifiers_seconds: trainSeconds, read_backs: readBacks, results: rows, peak_browser_rss_mb: Math.round(peak.rss / 2 ** 20), peak_browser_pss_mb: Math.round(peak.pss / 2 ** 20),
    peak_browser_pss_anon_mb: Math.round(peak.pssAnon / 2 ** 20), peak_browser_pss_file_mb: Math.round(peak.pssFile / 2 ** 20),
    peak_by_phase_mb: phasesMb(),
    transients: { pss: transients(timeline, events), anon: transients(timeline, events, { field: 'anon' }) }, timeline, events,
    breakdown_mb: { at_phase_peak: phaseBreakdown, settled: settledBreakdown },
    workers_wasm_mb: [...workers.values()].map((w) => ({ name: w.role ? `${w.name} (${w.role})` : w.name, mb: mb(w.wasm) })),
    feature_worker_wasm_mb: workerHeap ? `${(workerHeap.first / 2 ** 20).toFixed(0)} MB after its first batch, ${(workerHeap.max / 2 ** 20).toFixed(0)} MB at most` : null,
    lesson: await page.textContent('[data-testid=lesson]').catch(() => null),
    rbf_pair_bytes_on_page: await page.evaluate(() => window.__denselabTest.rbfPairBytes?.() ?? null),   // the 45 pairs' results kept for a resume
    load_average: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    chromium: execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim(),
  };
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result, null, 1));
  console.log(`\nPeak memory per phase (MiB; PSS summed per kind of process at the phase's peak sample):\n${breakdownText(result.peak_by_phase_mb)}`);
  console.log(`\nWhere it is (MiB):\n${[...Object.entries(phaseBreakdown).map(([k, b]) => breakdownLines(`${k} (largest breakdown sample)`, b)),
    ...Object.entries(settledBreakdown).flatMap(([k, b]) => [breakdownLines(`${k}, settled`, b.asIs), `  a full GC frees in turn (renderer anonymous MiB): ${JSON.stringify(b.gcFrees)}`, breakdownLines(`${k}, after a full GC`, b.afterGc)])].join('\n')}`);
  console.log(`\nShort peaks (per phase: the median, the peak, and what happened from 3 s before it to 1 s after), of the PSS sum:\n${transientLines(result.transients.pss)}`);
  console.log(`of its anonymous part (the tab's own; the file-backed part moves with the machine's other browsers):\n${transientLines(result.transients.anon)}`);
  if (opts.out === TAB_JSON) writeTabSection(path.join(root, 'docs/benchmarks.md'));
} finally {
  clearInterval(sampler);
  polling = false;
  await polled;
  await breakdowns;
  probe.close();
  await browser.close();
  await server.close();
}
