#!/usr/bin/env node
// threads.js — issue 12: DenseNet121 224x224 batch 1, our latency on 1 vs N threads,
// in Node (the single-threaded build vs denselab_core_mt, worker_threads) and in
// headless Chromium (the photo page served by web/serve.js, so crossOriginIsolated;
// one page per thread setting; the "Inference N ms" it reports, and the time from
// choosing the photo to its result). Runs alternate between the thread counts so
// that load from other processes hits both alike. --static: dist/ from a server that
// sends no COOP/COEP (a static host); each page is measured on its second visit, made
// cross-origin isolated by the service worker (web/sw.js).
//
//   node bench/threads.js [--runs 10] [--threads 1,2] [--photos A,B] [--browser [--static] [--pause MS] [--trace]] [--estimate [--sync-us 20]]
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';

v8.setFlagsFromString('--no-liftoff');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// --photos A,B: two image files to alternate (default: two 224x224-class PNGs; a phone photo is
// 12 MP, whose decoding then takes longer than the inference).
const photos = (option('photos', null)?.split(',') ?? ['cat_285.png', 'dog_207.png'].map((f) => path.join(root, '..', 'shared', 'images', f)))
  .map((f) => path.resolve(f));
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

function option(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

async function nodeLatency(counts, runs) {
  const nets = [];
  for (const t of counts) {
    const [core, wasm] = t > 1 ? [paths.coreThreads, paths.wasmThreads] : [paths.core, paths.wasm];
    const lab = await createDenseLab({ threads: t, wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
    const net = lab.buildNet(lab.loadModelFile(fs.readFileSync(paths.model)), {});
    const x = lab.preprocessInput(lab.loadImg(fs.readFileSync(photos[0]), [224, 224]).rgb);
    nets.push({ t, run: () => net.predict(x), ms: [], cpu: [] });
  }
  for (let r = -2; r < runs; r++) {
    for (const n of nets) {
      const t0 = performance.now(), c0 = process.cpuUsage();     // CPU: every thread of this process
      n.run();
      const c = process.cpuUsage(c0);
      if (r >= 0) { n.ms.push(performance.now() - t0); n.cpu.push((c.user + c.system) / 1e3); }
    }
  }
  return nets.map((n) => ({ threads: n.t, median: median(n.ms), min: Math.min(...n.ms), cpu: median(n.cpu) }));
}

// In the page: ms from the photo's input event to the page showing its result. Waits on DOM
// mutations: polling on animation frames (waitForFunction's default) makes Chromium draw 60
// frames a second, whose paint and raster share the cores with the inference being timed.
function photoToResult(name) {
  return new Promise((resolve) => {
    let t0 = 0;
    document.querySelector('[data-testid=image-input]').addEventListener('change', () => { t0 = performance.now(); }, { once: true, capture: true });
    const mo = new MutationObserver(() => {
      if (document.querySelector('[data-testid=status]').textContent !== 'done' || document.getElementById('results').dataset.file !== name) return;
      mo.disconnect();
      resolve(performance.now() - t0);
    });
    mo.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

// --trace: Chromium's trace of the timed runs (CDP Tracing, all processes) -> per page, medians
// per inference of the CPU that other threads spent inside the worker's 'denselab: predict'
// window (web/worker.js marks it): on 2 cores, CPU that a 2-thread inference could not have.
const TRACE_CATEGORIES = ['toplevel', 'blink.user_timing', 'devtools.timeline', 'cc', 'viz', 'v8', 'v8.wasm', 'disabled-by-default-v8.gc'];
const OTHER_GROUPS = [['page main thread', /CrRendererMain/], ['raster, image decode', /ThreadPool.*Renderer|Renderer.*ThreadPool/],
  ['compositor, viz', /Compositor|Viz|GPU/], ['other threads', /./]];

function otherCpu(events) {
  const thread = new Map(), proc = new Map();
  for (const e of events) if (e.ph === 'M') (e.name === 'thread_name' ? thread : e.name === 'process_name' ? proc : new Map()).set(e.name === 'process_name' ? e.pid : `${e.pid}:${e.tid}`, e.args.name);
  const name = (e) => `${proc.get(e.pid) ?? ''} ${thread.get(`${e.pid}:${e.tid}`) ?? ''}`;
  const begins = new Map(), windows = [];
  for (const e of events) {
    if (e.name !== 'denselab: predict') continue;
    if (e.ph === 'b') begins.set(e.id, e);
    else if (e.ph === 'e' && begins.has(e.id)) windows.push({ ts: begins.get(e.id).ts, end: e.ts, worker: `${e.pid}:${e.tid}`, cpu: {} });
  }
  // Each thread's outermost top-level tasks (they nest: RunTask inside ThreadControllerImpl::RunTask),
  // by the thread's kind; then V8's wasm tier-up and GC inside them moved to kinds of their own.
  const outermost = [], ends = new Map();
  for (const e of events.filter((x) => x.ph === 'X' && x.dur > 0 && x.cat?.includes('toplevel')).sort((a, b) => a.ts - b.ts)) {
    const k = `${e.pid}:${e.tid}`;
    if (e.ts < (ends.get(k) ?? -Infinity)) continue;
    ends.set(k, e.ts + e.dur);
    outermost.push({ e, group: OTHER_GROUPS.find(([, re]) => re.test(name(e)))[0] });
  }
  const v8Work = events.filter((e) => e.ph === 'X' && e.dur > 0 && (e.name === 'wasm.TopTierCompilation' || /^(MinorGC|MajorGC)$/.test(e.name)))
    .map((e) => ({ e, group: e.name === 'wasm.TopTierCompilation' ? 'wasm tier-up (V8)' : 'GC', from: OTHER_GROUPS.find(([, re]) => re.test(name(e)))[0] }));
  for (const w of windows) {
    const add = (group, e, sign) => {
      const inside = Math.min(e.ts + e.dur, w.end) - Math.max(e.ts, w.ts);
      if (inside > 0 && `${e.pid}:${e.tid}` !== w.worker) w.cpu[group] = (w.cpu[group] ?? 0) + sign * (e.tdur ?? e.dur) * inside / e.dur / 1e3;
    };
    for (const { e, group } of outermost) add(group, e, 1);
    for (const { e, group, from } of v8Work) {
      add(group, e, 1);
      if (ends.has(`${e.pid}:${e.tid}`)) add(from, e, -1);     // it was counted in its thread's task
    }
  }
  const groups = [...new Set(windows.flatMap((w) => Object.keys(w.cpu)))];
  return { windows: windows.length, ms: median(windows.map((w) => (w.end - w.ts) / 1e3)), total: median(windows.map((w) => Object.values(w.cpu).reduce((a, b) => a + b, 0))),
    groups: Object.fromEntries(groups.map((g) => [g, windows.reduce((a, w) => a + (w.cpu[g] ?? 0), 0) / windows.length])) };
}

// One page per thread count (the setting is read when a page starts), runs alternating.
async function browserLatency(counts, runs) {
  const { startServer } = await import('../web/serve.js');
  const { startBenchServer } = await import('./server.js');
  const { launchChromium } = await import('../tests/helpers.js');
  const dist = path.join(root, 'dist');
  const server = staticHost ? await startBenchServer(dist, { isolate: false }) : await startServer({ root: dist, port: 0 });
  const chrome = await launchChromium('denselab-threads-bench-');
  const pages = [];
  try {
    for (const t of counts) {
      const page = await chrome.context.newPage();
      await page.goto(server.url);
      await page.evaluate((v) => localStorage.setItem('denselab-threads', String(v)), t);
      if (staticHost) await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));   // the second visit is isolated
      await page.reload();
      await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid=status]').textContent), null, { timeout: 300_000 });
      // a person takes a moment to choose a photo: the page's warm-up inference (if it has one) is done
      await page.waitForFunction(() => 'warmUpMs' in document.querySelector('[data-testid=status]').dataset, null, { timeout: 10_000 }).catch(() => {});
      pages.push({ t, page, mode: await page.textContent('[data-testid=threads-mode]'), ms: [], prep: [], total: [], events: [] });
    }
    let cdp = null;
    for (let r = -2; r < runs; r++) {
      if (r === 0 && tracing) {
        cdp = await chrome.context.newCDPSession(pages[0].page);
        cdp.on('Tracing.dataCollected', (e) => pages[0].events.push(...e.value));
        await cdp.send('Tracing.start', { traceConfig: { includedCategories: TRACE_CATEGORIES }, transferMode: 'ReportEvents' });
      }
      for (const p of pages) {
        await p.page.bringToFront();
        const photo = photos[(r + 2) % 2];
        const shown = p.page.evaluate(photoToResult, path.basename(photo));
        await p.page.setInputFiles('[data-testid=image-input]', photo);
        const totalMs = await shown;
        const text = await p.page.textContent('[data-testid=timing]');
        if (pauseMs) await p.page.waitForTimeout(pauseMs);   // a person looking at the result
        const ms = Number(/Inference (\d+) ms/.exec(text)[1]);
        if (r === -2) p.first = ms;
        if (r >= 0) { p.ms.push(ms); p.total.push(totalMs); p.prep.push(Number(/preprocess (\d+) ms/.exec(text)?.[1])); }
      }
    }
    if (cdp) {
      const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      await complete;
    }
  } finally {
    await chrome.close();
    await server.close();
  }
  const events = pages[0].events;   // one trace holds every process: split by the windows' worker thread
  const workers = [...new Set(events.filter((e) => e.name === 'denselab: predict').map((e) => `${e.pid}:${e.tid}`))];
  return pages.map((p, i) => ({ threads: p.t, median: median(p.ms), min: Math.min(...p.ms), mode: p.mode, total: median(p.total), prep: median(p.prep), first: p.first,
    trace: tracing ? otherCpu(events.filter((e) => e.ph !== 'b' && e.ph !== 'e' || e.name !== 'denselab: predict' || `${e.pid}:${e.tid}` === workers[i])) : null }));
}

// The 4- and 8-core estimate from one-thread per-layer times (native `bench --layers`):
// a node split into u units on P threads takes ceil(u / P) / u of its time (whole
// units per thread, as the fixed partition gives them), plus one barrier (syncUs) per
// parallel region; a node that does not split keeps its time. Memory bandwidth, and the
// input transforms that every channel part of a Winograd convolution repeats, are not modelled.
async function estimate(runs, syncUs) {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(path.join(root, 'build/native/denselab'), ['bench', '--runs', String(runs), '--threads', '1', '--layers'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(r.stderr);
  // split: "N rows", "N tile rows", "N x 8 channels" (units), or "whole"
  // and the node's time: its critical-path CPU ms where the table has them (natively: what other
  // processes on the machine do not inflate), else its wall ms
  const nodes = [...r.stdout.matchAll(/^\| \d+ \| [^|]+ \| [^|]+ \| [^|]+ \| (?:(\d+) [^|]*|whole) \| ([\d.]+) \| [\d.]+% \|(?: ([\d.]+) \|)?/gm)]
    .map((m) => ({ units: +(m[1] ?? 1), ms: +(m[3] ?? m[2]) }));
  const regions = +(/(\d+) parallel regions/.exec(r.stdout)?.[1] ?? nodes.length);
  const one = nodes.reduce((a, n) => a + n.ms, 0);
  console.log(`\nEstimate from native per-layer times (1 thread, ${nodes.length} nodes, ${one.toFixed(1)} ms; barrier ${syncUs} us per parallel region, ${regions} regions):`);
  console.log('| threads | estimated ms | speed-up |\n| ---: | ---: | ---: |');
  for (const P of [1, 2, 4, 8]) {
    const ms = nodes.reduce((a, n) => a + (n.units > 1 && P > 1 ? n.ms * Math.ceil(n.units / P) / n.units : n.ms), 0) + (P > 1 ? regions * syncUs / 1e3 : 0);
    console.log(`| ${P} | ${ms.toFixed(1)} | ${(one / ms).toFixed(2)}x |`);
  }
}

const runs = Number(option('runs', '10'));
const tracing = process.argv.includes('--trace');
const staticHost = process.argv.includes('--static');
const pauseMs = Number(option('pause', '0'));
const counts = option('threads', '1,2').split(',').map(Number);
const print = (where, rows) => {
  for (const r of rows) {
    const ratio = r.median / rows[0].median;
    console.log(`| ${where} | ${r.threads} | ${r.median.toFixed(1)} | ${r.min.toFixed(1)} | ${ratio.toFixed(2)}x | ${r.cpu ? r.cpu.toFixed(1) : '—'} |${r.total ? ` ${r.total.toFixed(1)} (${(r.total / rows[0].total).toFixed(2)}x) |` : ''}${r.mode ? ` ${r.mode} |` : ''}`);
  }
};
console.log(`DenseNet121 224x224 batch 1, ${runs} runs each (median, min ms; ratio to ${counts[0]} thread(s))`);
console.log('| where | threads | median ms | min ms | vs first | CPU ms (all threads, median) | page: photo to result ms (median) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
print('Node', await nodeLatency(counts, runs));
if (process.argv.includes('--browser')) {
  const rows = await browserLatency(counts, runs);
  print(staticHost ? 'Chromium, static host (2nd visit)' : 'Chromium', rows);
  console.log(`\nThe page's first photo (before the timed runs), "Inference" ms: ${rows.map((r) => `${r.threads}t ${r.first}`).join(', ')}`);
  console.log(`The page's "decode + resize + preprocess" in the worker, median ms: ${rows.map((r) => `${r.threads}t ${r.prep}`).join(', ')}`);
  for (const r of rows.filter((x) => x.trace)) {
    const t = r.trace;
    console.log(`Trace, ${r.threads} thread(s), ${t.windows} inferences (predict median ${t.ms.toFixed(1)} ms): other threads' CPU inside each predict, median ${t.total.toFixed(1)} ms; mean by kind: ${Object.entries(t.groups).sort((a, b) => b[1] - a[1]).map(([g, v]) => `${g} ${v.toFixed(1)}`).join(', ')}`);
  }
}
if (process.argv.includes('--estimate')) await estimate(runs, Number(option('sync-us', '20')));
