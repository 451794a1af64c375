#!/usr/bin/env node
// tab_load.js — the Fashion page's loading phase alone (dist/fashion.html on a fresh profile: the
// service worker's first install, the model and Fashion-MNIST downloaded, unpacked and parsed),
// sampled as often as the probe can: the peak of the browser's PSS sum (every 50 ms) and the
// breakdown with the most anonymous memory (bench/tab_probe.js: the renderer's PSS by kind of mapping and each
// target's JS heap + ArrayBuffers, so which workers are alive at the peak), then settled and
// after a full GC. A few seconds a run: before / after a change in one session.
//   node bench/tab_load.js [--runs 3] [--dist dist] [--out build/bench/tab_load.json]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../tests/helpers.js';
import { TargetProbe, breakdownLines, browserMemory } from './tab_probe.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opts = { runs: '3', dist: path.join(root, 'dist'), out: path.join(root, 'build/bench/tab_load.json') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) { console.error(`tab_load: unknown or incomplete option ${argv[i]}`); process.exit(1); }
  opts[key] = argv[i + 1];
}
const mb = (x) => Math.round(x / 2 ** 20);
const { startServer } = await import('../web/serve.js');

// One load on a fresh profile -> { seconds, peak: { pss, pssAnon, rss, processes }, atPeak (the
// largest breakdown), settled: { asIs, gcFrees, afterGc } } (MiB).
async function oneLoad(server) {
  const browser = await launchChromium('denselab-tab-load-', { args: ['--remote-debugging-port=0'] });
  const probe = await TargetProbe.connect(browser.userDir);
  const peak = { pss: 0, pssAnon: 0, rss: 0, at: 0, processes: {} };
  let loading = true, atPeak = null;
  const sampler = setInterval(() => {
    const now = browserMemory(browser.userDir);
    if (now.pss > peak.pss) Object.assign(peak, { pss: now.pss, pssAnon: now.pssAnon, rss: now.rss, at: Date.now(), processes: now.byKind });
  }, 50);
  // Breakdowns back to back while loading: the one with the most anonymous memory (the tab's own) is kept.
  const breakdowns = (async () => {
    while (loading) {
      const t = Date.now(), b = await probe.breakdown().catch(() => null);
      if (b && (!atPeak || b.pssAnon > atPeak.b.pssAnon)) atPeak = { t, b };
      await new Promise((r) => setTimeout(r, 20));   // lets the driver's messages in
    }
  })();
  try {
    const page = browser.context.pages()[0] || await browser.context.newPage();
    const t0 = Date.now();
    await page.goto(new URL('fashion.html', server.url).href);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid=fashion-status]').dataset.state), null, { timeout: 300_000 });
    if (await page.getAttribute('[data-testid=fashion-status]', 'data-state') === 'error') throw new Error(`loading: ${await page.textContent('[data-testid=fashion-error]')}`);
    const seconds = (Date.now() - t0) / 1000;
    loading = false;
    await breakdowns;
    clearInterval(sampler);
    return {
      seconds, peak: { pss: mb(peak.pss), pssAnon: mb(peak.pssAnon), rss: mb(peak.rss), processes: Object.fromEntries(Object.entries(peak.processes).map(([k, v]) => [k, mb(v)])) },
      atPeak: atPeak && { msFromPeak: atPeak.t - peak.at, ...atPeak.b }, settled: await probe.settled(page),
    };
  } finally {
    loading = false;
    clearInterval(sampler);
    await breakdowns;
    probe.close();
    await browser.close();
  }
}

const server = await startServer({ root: opts.dist, port: 0 });
const runs = [];
try {
  for (let i = 0; i < Number(opts.runs); i++) {
    const r = await oneLoad(server);
    runs.push(r);
    console.log(`run ${i + 1}: ready in ${r.seconds.toFixed(1)} s; peak PSS ${r.peak.pss} MB (anon ${r.peak.pssAnon}, RSS ${r.peak.rss}): ${Object.entries(r.peak.processes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (r.atPeak) console.log(breakdownLines(`  largest breakdown (${r.atPeak.msFromPeak} ms after the PSS peak)`, r.atPeak).replace(/^/gm, '  '));
    console.log(breakdownLines('  settled', r.settled.asIs).replace(/^/gm, '  '));
    console.log(`    a full GC frees in turn (renderer anonymous MiB): ${JSON.stringify(r.settled.gcFrees)}`);
    console.log(breakdownLines('  after a full GC', r.settled.afterGc).replace(/^/gm, '  '));
  }
} finally {
  await server.close();
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = { pss: median(runs.map((r) => r.peak.pss)), pssAnon: median(runs.map((r) => r.peak.pssAnon)), rss: median(runs.map((r) => r.peak.rss)),
  settledPss: median(runs.map((r) => r.settled.asIs.pss)), afterGcPss: median(runs.map((r) => r.settled.afterGc.pss)) };
console.log(`median of ${runs.length}: peak PSS ${summary.pss} MB (anon ${summary.pssAnon}, RSS ${summary.rss}); settled ${summary.settledPss}; after a full GC ${summary.afterGcPss}`);
fs.mkdirSync(path.dirname(opts.out), { recursive: true });
fs.writeFileSync(opts.out, `${JSON.stringify({ date: new Date().toISOString(), options: opts, load_average: os.loadavg().map((x) => x.toFixed(2)).join(' '), summary, runs }, null, 1)}\n`);
