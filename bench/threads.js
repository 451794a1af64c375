#!/usr/bin/env node
// threads.js — issue 12: DenseNet121 224x224 batch 1, our latency on 1 vs N threads,
// in Node (the single-threaded build vs denselab_core_mt, worker_threads) and in
// headless Chromium (the photo page served by web/serve.js, so crossOriginIsolated;
// one page per thread setting; the "Inference N ms" it reports, and the time from
// choosing the photo to its result). Runs alternate between the thread counts so
// that load from other processes hits both alike.
//
//   node bench/threads.js [--runs 10] [--threads 1,2] [--browser [--pause MS]] [--estimate [--sync-us 20]]
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';

v8.setFlagsFromString('--no-liftoff');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const photos = ['cat_285.png', 'dog_207.png'].map((f) => path.join(root, '..', 'shared', 'images', f));
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

// One page per thread count (the setting is read when a page starts), runs alternating.
async function browserLatency(counts, runs) {
  const { startServer } = await import('../web/serve.js');
  const { launchChromium } = await import('../tests/helpers.js');
  const server = await startServer({ root: path.join(root, 'dist'), port: 0 });
  const chrome = await launchChromium('denselab-threads-bench-');
  const pages = [];
  try {
    for (const t of counts) {
      const page = await chrome.context.newPage();
      await page.goto(server.url);
      await page.evaluate((v) => localStorage.setItem('denselab-threads', String(v)), t);
      await page.reload();
      await page.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('[data-testid=status]').textContent), null, { timeout: 300_000 });
      pages.push({ t, page, mode: await page.textContent('[data-testid=threads-mode]'), ms: [], total: [] });
    }
    for (let r = -2; r < runs; r++) {
      for (const p of pages) {
        await p.page.bringToFront();
        const photo = photos[(r + 2) % 2];
        const shown = p.page.evaluate(photoToResult, path.basename(photo));
        await p.page.setInputFiles('[data-testid=image-input]', photo);
        const totalMs = await shown;
        const text = await p.page.textContent('[data-testid=timing]');
        if (pauseMs) await p.page.waitForTimeout(pauseMs);   // a person looking at the result
        if (r >= 0) { p.ms.push(Number(/Inference (\d+) ms/.exec(text)[1])); p.total.push(totalMs); }
      }
    }
  } finally {
    await chrome.close();
    await server.close();
  }
  return pages.map((p) => ({ threads: p.t, median: median(p.ms), min: Math.min(...p.ms), mode: p.mode, total: median(p.total) }));
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
if (process.argv.includes('--browser')) print('Chromium', await browserLatency(counts, runs));
if (process.argv.includes('--estimate')) await estimate(runs, Number(option('sync-us', '20')));
