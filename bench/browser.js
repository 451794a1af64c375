// browser.js — row 3 of the benchmark: rows 1 and 2 in headless Chromium. Assembles a
// temporary site (bench/site/ page + DenseLab from dist/ + TF.js's dist bundles and
// .wasm files + the TF.js model with the same topology edits as tests/tfjs_peer.js +
// the same inputs as Node), serves it with bench/server.js (web/serve.js's COOP/COEP but no
// CSP: the product's CSP forbids the string evaluation tf.min.js does), and drives
// /usr/bin/chromium with playwright-core. Row 9: the same site's peers.html, DenseNet121 at
// 1 and 2 threads against ONNX Runtime Web and TF.js-wasm (runPeersBrowser).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, maxAbsDiff } from '../tests/helpers.js';
import { topK } from './bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function copy(from, dir, name = path.basename(from)) {
  if (!fs.existsSync(from)) throw new Error(`${path.relative(root, from)} is missing: run ./build.sh (and npm ci)`);
  fs.copyFileSync(from, path.join(dir, name));
}

function floatFile(file, x) { fs.writeFileSync(file, Buffer.from(x.buffer, x.byteOffset, x.byteLength)); }

// The site folder; returns its path. inputs: { x224, rgb224, x32 } (Float32Array).
async function assemble(dir, inputs) {
  const dist = path.join(root, 'dist');
  for (const f of fs.readdirSync(path.join(root, 'bench', 'site'))) copy(path.join(root, 'bench', 'site', f), dir);
  for (const f of ['denselab.js', 'denselab_core.mjs', 'denselab_core.wasm']) copy(path.join(dist, f), dir);
  // The threaded build, where dist/ has it (createDenseLab({ threads > 1 }) loads it).
  for (const f of ['denselab_core_mt.mjs', 'denselab_core_mt.wasm', 'denselab_core_mt.worker.js']) if (fs.existsSync(path.join(dist, f))) copy(path.join(dist, f), dir);
  copy(path.join(dist, 'models', 'densenet121.dlm'), dir);
  const tfDist = path.join(root, 'node_modules', '@tensorflow');
  copy(path.join(tfDist, 'tfjs', 'dist', 'tf.min.js'), dir);
  const wasmDist = path.join(tfDist, 'tfjs-backend-wasm', 'dist');
  copy(path.join(wasmDist, 'tf-backend-wasm.min.js'), dir);
  for (const f of fs.readdirSync(wasmDist).filter((f) => f.endsWith('.wasm'))) copy(path.join(wasmDist, f), dir);
  // TF.js models: the export's shards + two edited topologies (final ReLU fixed).
  const peer = await import('../tests/tfjs_peer.js');
  const modelDir = peer.modelDir(), json = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const tfjsDir = path.join(dir, 'tfjs');
  fs.mkdirSync(tfjsDir);
  for (const g of json.weightsManifest) for (const p of g.paths) copy(path.join(modelDir, p), tfjsDir, p);
  const variants = { top: {}, feat32: { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] } };
  for (const [name, edit] of Object.entries(variants)) {
    fs.writeFileSync(path.join(tfjsDir, `${name}.json`), JSON.stringify({ ...json, modelTopology: peer.editTopology(json.modelTopology, edit) }));
  }
  // ONNX Runtime Web (peers.html): its ESM entry, WASM SIMD + threads build, and the graph.
  const ortDist = path.join(root, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) copy(path.join(ortDist, f), dir);
  const { buildDenseNetOnnx } = await import('./onnx_model.js');
  fs.writeFileSync(path.join(dir, 'model.onnx'), (await buildDenseNetOnnx({})).bytes);
  floatFile(path.join(dir, 'input224.bin'), inputs.x224);
  floatFile(path.join(dir, 'rgb224.bin'), inputs.rgb224);
  floatFile(path.join(dir, 'input32.bin'), inputs.x32);
  return dir;
}

// Assembles the site, serves it, starts Chromium, and runs visit(open, browser) where
// open(query, page) loads PAGE?QUERY and returns its window.benchResult (throws on its error).
async function withSite(inputs, log, timeoutMs, visit) {
  const { startBenchServer } = await import('./server.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-bench-'));
  let server, chrome;
  try {
    const site = path.join(tmp, 'site');
    fs.mkdirSync(site);
    await assemble(site, inputs);
    server = await startBenchServer(site);
    chrome = await launchChromium('denselab-bench-profile-', { viewport: null });
    const { context } = chrome;
    const page = context.pages()[0] || await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    const version = context.browser()?.version() ?? /Chrome\/([\d.]+)/.exec(await page.evaluate(() => navigator.userAgent))?.[1];
    log(`bench: Chromium ${version} on ${server.url}\n`);
    const open = async (query, file = '') => {
      consoleErrors.length = 0;
      await page.goto(`${server.url}${file}?${query}`);
      await page.waitForFunction(() => window.benchResult, null, { timeout: timeoutMs, polling: 500 });
      const r = await page.evaluate(() => window.benchResult);
      if (r.error) throw new Error(`in the page: ${r.error}${consoleErrors.length ? ` (console: ${consoleErrors.slice(0, 3).join(' | ')})` : ''}`);
      return r;
    };
    return await visit(open, `headless Chromium ${version}`);
  } finally {
    if (chrome) await chrome.close().catch(() => {});
    if (server) await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// -> rows { what, unit, ours: ms[] | images/s[], peer: ..., target, detail }.
export async function runBrowser({ net = { warmup: 2, runs: 5 }, batch = 64, inputs, log = () => {}, timeoutMs = 20 * 60 * 1000 } = {}) {
  return withSite(inputs, log, timeoutMs, async (open, browser) => {
    const r = await open(`warmup=${net.warmup}&runs=${net.runs}&batch=${batch}`);
    const peerName = `TF.js ${r.tfjs} tfjs-backend-wasm (XNNPACK, SIMD ${r.simd}, ${r.threads} thread) on the main thread`;
    const top5 = topK(r.top.output, 5), peerTop5 = topK(r.top.peerOutput, 5);
    const perSecond = (ms) => ms.map((v) => batch / (v / 1000));
    return [
      { what: `DenseNet121 224x224, batch 1, ${browser}, DenseLab in a worker (latency)`, unit: 'ms', ours: r.top.ours, peer: r.top.peer, target: { op: '<=', value: 0.8 },
        detail: { clock: 'wall', peer_name: peerName, crossOriginIsolated: r.crossOriginIsolated, top5_identical: top5.join() === peerTop5.join(), top5, peer_top5: peerTop5, max_prob_diff: maxAbsDiff(r.top.output, r.top.peerOutput) } },
      { what: `DenseNet121 features 32x32, batch ${batch}, ${browser}, DenseLab in a worker (throughput)`, unit: 'images/s', ours: perSecond(r.feat.ours), peer: perSecond(r.feat.peer), target: { op: '>=', value: 1.5 },
        detail: { clock: 'wall', peer_name: peerName, batch, max_feature_diff: maxAbsDiff(r.feat.output, r.feat.peerOutput) } },
    ];
  });
}

// DenseNet121 224 batch 1 at each thread count, one load of peers.html each (issue 12)
// -> { browser, runs: [{ threads, engines: { ours|ort|tfjs: { ms, threads, name } }, agreement, crossOriginIsolated }] }.
export async function runPeersBrowser({ threads = [1, 2], net = { warmup: 2, runs: 5 }, inputs, log = () => {}, timeoutMs = 20 * 60 * 1000 } = {}) {
  const { agreement, ENGINE_NAMES } = await import('./net_peers.js');
  return withSite(inputs, log, timeoutMs, async (open, browser) => {
    const runs = [];
    for (const n of threads) {
      log(`bench: Chromium peers at ${n} thread(s)\n`);
      const r = await open(`threads=${n}&warmup=${net.warmup}&runs=${net.runs}`, 'peers.html');
      const names = {
        ours: `DenseLab in a module worker, ${r.effective.ours} thread(s)`,
        ort: `onnxruntime-web ${r.versions.ort} wasm EP (SIMD + threads build), numThreads ${r.effective.ort}, main thread`,
        tfjs: `TF.js ${r.versions.tfjs} tfjs-backend-wasm (XNNPACK, SIMD ${r.versions.tfjs_simd}), ${r.effective.tfjs} thread(s), main thread`,
      };
      const engines = Object.fromEntries(Object.keys(ENGINE_NAMES).map((k) => [k, { ms: r.ms[k], threads: r.effective[k], name: names[k] }]));
      runs.push({ threads: n, engines, agreement: agreement(r.outputs), crossOriginIsolated: r.crossOriginIsolated });
    }
    return { browser, runs };
  });
}
