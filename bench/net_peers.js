// net_peers.js — DenseNet121 224x224, batch 1, at 1 and 2 threads (issue 12): DenseLab vs
// ONNX Runtime Web (WASM SIMD + threads; its graph written by DenseLab's ONNX export from our
// model file, bench/onnx_model.js) vs TF.js tfjs-backend-wasm, on the same photo, in Node and in Chromium.
// A thread count is fixed when each engine starts (ORT's pthread pool when its WASM module
// loads, TF.js's when its backend starts), so each thread count gets its own Node process
// (here) or page load (browser.js runPeersBrowser); inside it the three engines alternate.
//   node bench/net_peers.js --report [--runs R] [--warmup W] [--out docs/benchmarks.md]
//     both environments; writes build/bench/peers.json and the document's section (peers_section.js)
//   node bench/net_peers.js --child THREADS WARMUP RUNS   (internal: prints one JSON line)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sampleImage, stats, timeRounds, topK } from './bench.js';
import { maxAbsDiff } from '../tests/helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const THREADS = [1, 2];
export const ENGINE_NAMES = { ours: 'DenseLab', ort: 'ONNX Runtime Web', tfjs: 'TF.js-wasm' };
const PHOTO = 'zebra_340.png';

// Each engine's top-5 and max |prob diff| against ours (the agreement check).
export function agreement(outputs) {
  const ours = outputs.ours, top5 = topK(ours, 5), out = {};
  for (const [k, p] of Object.entries(outputs)) {
    const t = topK(p, 5);
    out[k] = { top5: t, top5_identical: t.join() === top5.join(), max_prob_diff: maxAbsDiff(ours, p) };
  }
  return out;
}

// The ORT session on the same weights; numThreads must be set before the first session.
export async function ortSession(ort, threads, bytes) {
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
}

// The graph's feeds: the images' RGB 0..255, NHWC [n, h, w, c] (the graph preprocesses).
export function ortFeeds(ort, rgb, [n, h, w, c]) {
  return { image: new ort.Tensor('float32', Float32Array.from(rgb), [n, h, w, c]) };
}

// Our engine as the CLI opens it with --threads (importing cli.js also turns off V8's baseline
// tier, for every engine of the process); a build without threads runs 1 whatever is asked.
export async function openLab(threads) {
  const cli = await import('../wasm/cli.js');
  return cli.openLab(threads);
}

// Threads our engine really uses (lab.threadCount() where the build has it).
export const ourThreads = (lab) => lab.threadCount?.() ?? 1;

// One thread count in this process -> { threads, engines: { name: { ms, cpu, threads, name } }, agreement }.
async function child(threads, warmup, runs) {
  const ort = await import('onnxruntime-web');
  const { buildDenseNetOnnx } = await import('./onnx_model.js');
  const peer = await import('../tests/tfjs_peer.js');
  const lab = await openLab(threads);
  const file = lab.loadModelFile(fs.readFileSync(path.join(root, 'build', 'models', 'densenet121.dlm')));
  const net = lab.buildNet(file, {});
  const { rgb } = lab.loadImg(fs.readFileSync(sampleImage()), [224, 224]);
  const x = lab.preprocessInput(rgb);
  const session = await ortSession(ort, threads, (await buildDenseNetOnnx({}, lab)).bytes);
  const feeds = ortFeeds(ort, rgb, [1, 224, 224, 3]);
  // TF.js runs one thread under Node whatever is asked: its WASM_HAS_MULTITHREAD_SUPPORT flag is
  // false there (tfjs issue 3830), and forcing it fails: worker_threads cannot start the pthread
  // workers from the blob: URL TF.js makes.
  const model = await peer.loadDenseNetTfjs({ backend: 'wasm' });
  const xt = peer.tf.tensor(x, [1, 224, 224, 3]);
  const outputs = {};
  const t = await timeRounds({
    ours: () => { outputs.ours = net.predict(x); },
    ort: async () => { outputs.ort = (await session.run(feeds)).output.data; },
    tfjs: async () => { const y = model.predict(xt); outputs.tfjs = await y.data(); y.dispose(); },
  }, { warmup, runs });
  const effective = { ours: ourThreads(lab), ort: ort.env.wasm.numThreads, tfjs: 1 };
  const names = {
    ours: `DenseLab (wasm/cli.js openLab), ${effective.ours} thread(s)`,
    ort: `onnxruntime-web ${ort.env.versions?.web ?? ''} wasm EP (SIMD + threads build), numThreads ${threads}`,
    tfjs: `TF.js ${peer.tf.version.tfjs} tfjs-backend-wasm (XNNPACK, SIMD), 1 thread in Node`,
  };
  const engines = {};
  for (const k of Object.keys(ENGINE_NAMES)) engines[k] = { ms: t[k], cpu: t.cpu[k], threads: effective[k], name: names[k] };
  await session.release(); xt.dispose(); model.dispose(); net.free(); file.free();
  return { threads, image: PHOTO, engines, agreement: agreement(outputs) };
}

// Node: one child process per thread count -> [{ threads, engines, agreement }].
export function runPeersNode({ threads = THREADS, net = { warmup: 2, runs: 5 }, log = () => {} } = {}) {
  return threads.map((n) => {
    log(`bench: Node peers at ${n} thread(s)\n`);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', String(n), String(net.warmup), String(net.runs)],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`the Node peer run at ${n} thread(s) failed (status ${r.status})`);
    return JSON.parse(r.stdout.trim().split('\n').pop());
  });
}

// The summary of runs [{ threads, engines: { k: { ms } } }] -> the table's numbers: median ms per
// engine and thread count, the faster peer at the most threads, ratios against it and our scaling.
export function summarize(runs) {
  const most = Math.max(...runs.map((r) => r.threads));
  const at = (n) => runs.find((r) => r.threads === n);
  const median = (k, n) => (at(n) ? stats(at(n).engines[k].ms).median : null);
  const peers = Object.keys(ENGINE_NAMES).filter((k) => k !== 'ours');
  const fastest = peers.reduce((a, b) => (median(b, most) < median(a, most) ? b : a));
  const ref = median(fastest, most);
  const cell = (e) => ({ ...stats(e.ms), ratio: stats(e.ms).median / ref, threads: e.threads, cpu_median: e.cpu ? stats(e.cpu).median : null });
  const cells = runs.map((r) => Object.fromEntries(Object.entries(r.engines).map(([k, e]) => [k, cell(e)])));
  return {
    most, fastest, ref, cells: Object.fromEntries(runs.map((r, i) => [r.threads, cells[i]])),
    ours_vs_fastest: median('ours', most) / ref,
    ours_scaling: at(1) ? median('ours', most) / median('ours', 1) : null,
  };
}

// One environment's results (peers_section.js, bench.js rows 8-9).
export function environment(env, runs, extra = {}) {
  return { env, ...extra, image: PHOTO, engines: ENGINE_NAMES, summary: summarize(runs),
    names: Object.fromEntries(runs.map((r) => [r.threads, Object.fromEntries(Object.entries(r.engines).map(([k, e]) => [k, e.name]))])),
    agreement: Object.fromEntries(runs.map((r) => [r.threads, r.agreement])) };
}

async function report(argv) {
  const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
  const net = { warmup: Math.max(0, parseInt(opt('--warmup', '2'), 10) || 0), runs: Math.max(1, parseInt(opt('--runs', '7'), 10) || 1) };
  const out = path.resolve(opt('--out', path.join(root, 'docs', 'benchmarks.md')));
  const log = (s) => process.stderr.write(s);
  const { machine } = await import('./bench.js');
  const { runPeersBrowser } = await import('./browser.js');
  const { PEERS_JSON, writePeersSection } = await import('./peers_section.js');
  const pkg = (name) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const m = machine();
  const loadBefore = os.loadavg().map((v) => +v.toFixed(2));
  const environments = [environment('Node', runPeersNode({ net, log }))];
  const lab = await openLab(1);
  const { rgb } = lab.loadImg(fs.readFileSync(sampleImage()), [224, 224]);
  const b = await runPeersBrowser({ net, inputs: { x224: lab.preprocessInput(rgb), rgb224: Float32Array.from(rgb), x32: new Float32Array(32 * 32 * 3) }, log });
  environments.push(environment(b.browser, b.runs, { crossOriginIsolated: b.runs.every((r) => r.crossOriginIsolated) }));
  const result = {
    command: `node bench/net_peers.js --report --warmup ${net.warmup} --runs ${net.runs}`, date: new Date().toISOString(), machine: m,
    load_before: loadBefore, load_after: os.loadavg().map((v) => +v.toFixed(2)), warmup: net.warmup, runs: net.runs,
    versions: { node: process.version, 'onnxruntime-web': pkg('onnxruntime-web'), '@tensorflow/tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm') },
    environments,
  };
  fs.mkdirSync(path.dirname(PEERS_JSON), { recursive: true });
  fs.writeFileSync(PEERS_JSON, JSON.stringify(result, null, 1));
  writePeersSection(out);
  log(`net_peers: wrote ${path.relative(process.cwd(), PEERS_JSON)} and the section of ${path.relative(process.cwd(), out)}\n`);
}

if (process.argv[2] === '--report') {
  report(process.argv.slice(3)).then(() => process.exit(0), (e) => { process.stderr.write(`net_peers: ${e.stack ?? e}\n`); process.exit(1); });
} else if (process.argv[2] === '--child') {
  const [threads, warmup, runs] = process.argv.slice(3, 6).map(Number);
  child(threads, warmup, runs).then((r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); },
    (e) => { process.stderr.write(`net_peers: ${e.stack ?? e}\n`); process.exit(1); });
}
