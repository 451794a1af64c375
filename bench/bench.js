// bench.js — `node wasm/cli.js bench [--json] [--quick] [--only 1,2,5]`: DenseLab side by
// side with its peers, on this machine, in one run (issue 6). The CLI imports this module
// only for its bench subcommand. Rows:
//   1  DenseNet121 224x224 batch 1 latency, Node, vs TF.js tfjs-backend-wasm (XNNPACK, SIMD, 1 thread)
//   2  features (include_top=False, pooling='avg') at 32x32, batch 64, images/s, vs TF.js-wasm
//   3  rows 1 and 2 in headless Chromium (browser.js)
//   4  native: per-shape convolutions vs XNNPACK, GEMM vs SIMD peak, whole network (native.js)
//   5  linear SVM on 60,000 x 1,024 features (S=32) vs liblinear-train (peers.js)
//   6  RBF SVM on 10,000 features vs svm-train
//   7  feature-extraction scaling over worker_threads (scaling.js)
//   8  DenseNet121 224x224 batch 1 at 1 and 2 threads vs ONNX Runtime Web and TF.js-wasm, Node (net_peers.js)
//   9  row 8 in headless Chromium (browser.js runPeersBrowser)
// Every timing is min/median/max over repeated runs after warm-up; ratio = ours / peer of the
// medians. Our runs and the peer's alternate, so load from other processes hits both alike.
// --quick: rows 1, 2, 5, 6 only, few runs, small synthetic SVM problems (the smoke test).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { FASHION } from '../web/defaults.js';
import { maxAbsDiff } from '../tests/helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(root, 'build', 'bench');
export const FEATURES = path.join(benchDir, 'features32.npy');
const QUICK_ROWS = ['1', '2', '5', '6'];
// The linear SVM's default C on the Fashion-MNIST page (web/defaults.js, which the page
// reads too; --page-c overrides); C=1 is scikit-learn's default.
export function pageDefaultC() {
  return { C: FASHION.classifiers['linear-svm'].params.C, source: 'web/defaults.js' };
}

// ---- statistics and timing ----

export function stats(values) {
  const s = [...values].sort((a, b) => a - b), n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { min: s[0], median, max: s[n - 1], n };
}

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

// Calls each of fns ({ name: async fn }) in turn per round: warmup rounds, then runs timed
// rounds -> wall ms arrays per name, and this process's CPU ms in cpu[name].
export async function timeRounds(fns, { warmup, runs }) {
  const names = Object.keys(fns), t = { cpu: {} };
  for (const k of names) { t[k] = []; t.cpu[k] = []; }
  for (let i = 0; i < warmup + runs; i++) {
    for (const k of names) {
      const t0 = performance.now(), c0 = cpuMs();
      await fns[k]();
      if (i >= warmup) { t[k].push(performance.now() - t0); t.cpu[k].push(cpuMs() - c0); }
    }
  }
  return t;
}

// Alternates our call and the peer's -> { ours, peer, cpu: { ours, peer } } (ms arrays).
export function timePair(ours, peer, cfg) { return timeRounds({ ours, peer }, cfg); }

// The timings a row reports: wall clock, or with --clock cpu this process's CPU time
// (robust when other work shares the cores); the other one goes in the details.
function pick(t, clock, map = (v) => v) {
  const wall = { ours: stats(t.ours.map(map)), peer: stats(t.peer.map(map)) };
  const cpu = { ours: stats(t.cpu.ours.map(map)), peer: stats(t.cpu.peer.map(map)) };
  const [main, other] = clock === 'cpu' ? [cpu, wall] : [wall, cpu];
  return { ...main, other: { clock: clock === 'cpu' ? 'wall' : 'cpu', ...other, ratio: other.ours.median / other.peer.median } };
}

// A small seeded PRNG (mulberry32): uniform in [0, 1). Also drives tests/api-guard.test.js.
export function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniformInput(n, seed = 1) {
  const r = mulberry32(seed), x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = r() * 4 - 2;       // the range of preprocess_input
  return x;
}

export function topK(p, k) { return [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, k); }

export function machine() {
  const cpu = fs.existsSync('/proc/cpuinfo') ? /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] : os.cpus()[0]?.model;
  return { nproc: os.availableParallelism?.() ?? os.cpus().length, cpu: cpu ?? 'unknown', node: process.version, loadavg: os.loadavg().map((v) => +v.toFixed(2)) };
}

// A result row. ratio = ours / peer (medians); target: { op: '<=' | '>=', value }.
function row(id, what, unit, ours, peer, target, detail = {}) {
  const o = typeof ours === 'number' ? ours : ours?.median, p = typeof peer === 'number' ? peer : peer?.median;
  const ratio = o != null && p ? o / p : null;
  const met = target && ratio != null ? (target.op === '<=' ? ratio <= target.value : ratio >= target.value) : null;
  return { row: id, what, unit, ours, peer, ratio, target: target ?? null, met, detail, loadavg: os.loadavg()[0] };
}

// ---- rows 1 and 2: the network in Node ----

async function tfjsPeer() {
  try { return await import('../tests/tfjs_peer.js'); } catch (e) { throw new Error(`TF.js peer unavailable (${e.message}): run npm ci`); }
}

export function sampleImage() {
  const file = path.join(root, '..', 'shared', 'images', 'zebra_340.png');
  if (!fs.existsSync(file)) throw new Error(`${path.relative(root, file)} not found (see ../shared/README.md)`);
  return file;
}

function loadModelFile(lab, a) {
  if (!fs.existsSync(a.model)) throw new Error(`${path.relative(root, a.model)} is missing: run ./build.sh`);
  return lab.loadModelFile(fs.readFileSync(a.model));
}

async function rowNet224(lab, a, cfg) {
  const peer = await tfjsPeer();
  const file = loadModelFile(lab, a), net = lab.buildNet(file, {});
  try {
    const x = lab.preprocessInput(lab.loadImg(fs.readFileSync(sampleImage()), [224, 224]).rgb);
    const model = await peer.loadDenseNetTfjs({ backend: 'wasm' });
    const xt = peer.tf.tensor(x, [1, 224, 224, 3]);
    let ours, theirs;
    const t = await timePair(() => { ours = net.predict(x); }, async () => {
      const y = model.predict(xt);
      theirs = await y.data();
      y.dispose();
    }, cfg.net);
    xt.dispose(); model.dispose();
    const top5 = topK(ours, 5), peerTop5 = topK(theirs, 5);
    const m = pick(t, cfg.clock);
    return [row('1', 'DenseNet121 224x224, batch 1, single thread, Node (latency)', 'ms', m.ours, m.peer, { op: '<=', value: 0.8 }, {
      clock: cfg.clock, other: m.other,
      peer_name: `TF.js ${peer.tf.version.tfjs} tfjs-backend-wasm (XNNPACK, SIMD, 1 thread)`,
      image: 'zebra_340.png', top5_identical: top5.join() === peerTop5.join(), top5, peer_top5: peerTop5,
      max_prob_diff: maxAbsDiff(ours, theirs),
    })];
  } finally { net.free(); file.free(); }
}

async function rowFeatures32(lab, a, cfg) {
  const peer = await tfjsPeer();
  const batch = cfg.batch, file = loadModelFile(lab, a);
  const net = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  try {
    const x = uniformInput(batch * 32 * 32 * 3);
    const model = await peer.loadDenseNetTfjs({ backend: 'wasm', includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
    const xt = peer.tf.tensor(x, [batch, 32, 32, 3]);
    let ours, theirs;
    const t = await timePair(() => { ours = net.predict(x, batch); }, async () => {
      const y = model.predict(xt);
      theirs = await y.data();
      y.dispose();
    }, cfg.features);
    xt.dispose(); model.dispose();
    const m = pick(t, cfg.clock, (ms) => batch / (ms / 1000));
    return [row('2', `DenseNet121 features 32x32 (include_top=False, pooling='avg'), batch ${batch}, Node (throughput)`, 'images/s',
      m.ours, m.peer, { op: '>=', value: 1.5 },
      { clock: cfg.clock, other: m.other, batch, peer_name: 'TF.js-wasm (XNNPACK, SIMD, 1 thread)', max_feature_diff: maxAbsDiff(ours, theirs) })];
  } finally { net.free(); file.free(); }
}

// ---- rows 5 and 6: SVMs ----

// Cached DenseNet features at S=32 (computed once with the CLI: 70,000 images take a while).
async function fashionFeatures(err) {
  const labelsFile = FEATURES.replace(/\.npy$/, '.labels.npy');
  if (!fs.existsSync(FEATURES) || !fs.existsSync(labelsFile)) {
    fs.mkdirSync(benchDir, { recursive: true });
    err(`bench: computing ${path.relative(root, FEATURES)} once (70,000 images at 32x32; reused afterwards)\n`);
    const r = spawnSync(process.execPath, [path.join(root, 'wasm', 'cli.js'), 'features', '--size', '32', '--out', FEATURES], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('computing the features failed');
  }
  const { readNpy } = await import('../tests/helpers.js');
  const x = readNpy(FEATURES), y = readNpy(labelsFile);
  const [total, d] = x.shape, nTrain = 60000;
  if (total !== 70000) throw new Error(`${FEATURES}: expected 70,000 rows (60,000 train then 10,000 test), got ${total}; delete it to recompute`);
  return {
    source: `${path.relative(root, FEATURES)} (Fashion-MNIST DenseNet121 features, S=32)`, d,
    train: { x: x.data.subarray(0, nTrain * d), y: y.data.subarray(0, nTrain), n: nTrain },
    test: { x: x.data.subarray(nTrain * d), y: y.data.subarray(nTrain), n: total - nTrain },
  };
}

// Small Gaussian-blob problem for --quick: 10 classes, d dims.
function syntheticProblem(nTrain, nTest, d, seed = 7) {
  const r = mulberry32(seed), gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const centers = Array.from({ length: 10 }, () => Float64Array.from({ length: d }, () => gauss() * 0.6));
  const make = (n) => {
    const x = new Float32Array(n * d), y = new Int32Array(n);
    for (let i = 0; i < n; i++) { y[i] = i % 10; for (let j = 0; j < d; j++) x[i * d + j] = Math.max(0, centers[y[i]][j] + gauss()); }
    return { x, y, n };
  };
  return { source: `synthetic (10 Gaussian classes, d=${d})`, d, train: make(nTrain), test: make(nTest) };
}

// Our solver through the JS API: seconds, iterations per binary problem (from the
// progress calls: the linear solver reports after every outer iteration), accuracy.
function fitOurs(lab, kind, data, params) {
  const iters = [];
  const t0 = performance.now();
  const clf = lab.fit(kind, data.train.x, data.train.y, data.train.n, data.d, params, (phase, step) => {
    if (phase === 'linear-svm') iters[step] = (iters[step] ?? 0) + 1;
    return false;
  });
  const seconds = (performance.now() - t0) / 1000;
  try { return { seconds, iterations: iters, accuracy: clf.evaluate(data.test.x, data.test.y, data.test.n).accuracy }; } finally { clf.free(); }
}

// LIBSVM text files for the peers, cached next to the features (they take a while to write).
function peerFiles(peers, data, name, standardize) {
  fs.mkdirSync(benchDir, { recursive: true });
  const base = path.join(benchDir, `${name}`), key = `${data.source} ${data.train.n} ${data.test.n} ${data.d} ${standardize} ${fs.existsSync(FEATURES) ? fs.statSync(FEATURES).mtimeMs : 0}`;
  const files = { train: `${base}.train.svm`, test: `${base}.test.svm`, model: `${base}.model` };
  if (!fs.existsSync(`${base}.key`) || fs.readFileSync(`${base}.key`, 'utf8') !== key) {
    const s = standardize ? peers.standardizer(data.train.x, data.train.n, data.d) : null;
    peers.writeLibsvm(files.train, data.train.x, data.train.y, data.train.n, data.d, s);
    peers.writeLibsvm(files.test, data.test.x, data.test.y, data.test.n, data.d, s);
    fs.writeFileSync(`${base}.key`, key);
  }
  return files;
}

const sum = (a) => a.reduce((s, v) => s + v, 0);

async function rowLinearSvm(lab, a, cfg, err) {
  const peers = await import('./peers.js');
  const data = cfg.quick ? syntheticProblem(2000, 500, 64) : await fashionFeatures(err);
  const files = peerFiles(peers, data, cfg.quick ? 'quick_linear' : 'linear32', true);
  const out = [], page = a.pageC ? { C: a.pageC, source: '--page-c' } : pageDefaultC();
  const configs = page.C === 1 ? [['page default = scikit-learn default', 1]] : [['page default', page.C], ['scikit-learn default', 1]];
  for (const [label, C] of configs) {
    const ours = [], theirs = [];
    let o, p;
    for (let r = 0; r < cfg.svmRuns; r++) {     // alternate, as in timePair
      o = fitOurs(lab, 'linear-svm', data, { C }); ours.push(o.seconds);
      p = peers.liblinear(files.train, files.test, files.model, { C, eps: 0.1 }); theirs.push(p.seconds);
    }
    out.push(row('5', `Linear SVM (C=${C}, ${label}) on ${data.train.n} x ${data.d}, train time`, 's', stats(ours), stats(theirs), { op: '<=', value: 1.5 }, {
      data: data.source, test: data.test.n, C, page_c: page, eps: 0.1, accuracy: o.accuracy, peer_accuracy: p.accuracy,
      accuracy_diff_points: +(100 * (o.accuracy - p.accuracy)).toFixed(2), accuracy_target_met: Math.abs(o.accuracy - p.accuracy) <= 0.003,
      iterations: o.iterations, peer_iterations: p.iterations, total_iterations: sum(o.iterations), peer_total_iterations: sum(p.iterations),
      peer_command: `${p.command} (standardised features, LIBSVM text; training timed between the input's close() and the model's open(), via strace)`,
    }));
  }
  return out;
}

// scikit-learn's gamma='scale': 1 / (d * X.var()) over every element of the training matrix.
export function gammaScale(x, d) {
  let mean = 0, m2 = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  for (let i = 0; i < x.length; i++) m2 += (x[i] - mean) ** 2;
  return m2 > 0 ? 1 / (d * (m2 / x.length)) : 1;
}

async function rowRbfSvm(lab, a, cfg, err) {
  const peers = await import('./peers.js');
  let data = cfg.quick ? syntheticProblem(600, 300, 32) : await fashionFeatures(err);
  const n = Math.min(data.train.n, cfg.rbfTrain), d = data.d;
  data = { ...data, train: { x: data.train.x.subarray(0, n * d), y: data.train.y.subarray(0, n), n } };
  const gamma = gammaScale(data.train.x, d), C = 1;
  const files = peerFiles(peers, data, cfg.quick ? 'quick_rbf' : `rbf32_${n}`, false);
  const ours = [], theirs = [];
  let o, p;
  for (let r = 0; r < cfg.svmRuns; r++) {
    o = fitOurs(lab, 'rbf-svm', data, { C, gamma, cacheMb: 200 }); ours.push(o.seconds);
    p = peers.libsvm(files.train, files.test, files.model, { C, gamma, tol: 1e-3, cacheMb: 200 }); theirs.push(p.seconds);
  }
  return [row('6', `RBF SVM (C=1, gamma='scale'=${gamma.toPrecision(4)}) on ${n} x ${d}, train time`, 's', stats(ours), stats(theirs), { op: '<=', value: 1.0 }, {
    data: data.source, test: data.test.n, C, gamma, tol: 1e-3, cache_mb: 200, accuracy: o.accuracy, peer_accuracy: p.accuracy,
    accuracy_diff_points: +(100 * (o.accuracy - p.accuracy)).toFixed(2), accuracy_target_met: Math.abs(o.accuracy - p.accuracy) <= 0.003,
    peer_iterations_total: sum(p.iterations), peer_total_sv: p.totalSv,
    peer_command: `${p.command} (raw features, LIBSVM text; training timed via strace as for row 5)`,
  })];
}

// ---- rows 3, 4, 7 live in their own modules ----

// The page's inputs: the photo preprocessed as in Node (and its RGB, the ONNX graph's input), and the random 32x32 batch.
function browserInputs(lab, cfg) {
  const { rgb } = lab.loadImg(fs.readFileSync(sampleImage()), [224, 224]);
  return { x224: lab.preprocessInput(rgb), rgb224: Float32Array.from(rgb), x32: uniformInput(cfg.batch * 32 * 32 * 3) };
}

async function rowBrowser(lab, a, cfg, err) {
  const { runBrowser } = await import('./browser.js');
  const inputs = browserInputs(lab, cfg);
  return (await runBrowser({ net: cfg.net, batch: cfg.batch, inputs, log: err })).map((r) =>
    row('3', r.what, r.unit, stats(r.ours), stats(r.peer), r.target, r.detail));
}

async function rowNative(lab, a, cfg, err) {
  const { runNative } = await import('./native.js');
  return (await runNative({ quick: cfg.quick, log: err })).map((r) => row('4', r.what, r.unit, r.ours, r.peer, r.target, r.detail));
}

async function rowScaling(lab, a, cfg, err) {
  const { runScaling } = await import('./scaling.js');
  return (await runScaling({ quick: cfg.quick, model: a.model, log: err })).map((r) => row('7', r.what, r.unit, r.ours, r.peer, r.target, r.detail));
}

// Rows 8 and 9 (issue 12): per environment, ours at the most threads vs the faster peer at
// the most threads, and vs ours at 1 thread; the whole matrix goes in detail.peers.
async function peerRows(id, env, runs) {
  const { environment, ENGINE_NAMES } = await import('./net_peers.js');
  const peers = environment(env, runs), s = peers.summary, at = (n) => runs.find((r) => r.threads === n);
  const ours = stats(at(s.most).engines.ours.ms);
  const what = `DenseNet121 224x224, batch 1, ${env}, ${s.most} threads`;
  const out = [row(id, `${what}: ours vs the faster peer (${ENGINE_NAMES[s.fastest]}, ${s.most} threads)`, 'ms', ours, stats(at(s.most).engines[s.fastest].ms), { op: '<=', value: 0.5 }, { clock: 'wall', peers })];
  if (at(1) && s.most > 1) out.push(row(id, `${what}: ours vs ours at 1 thread (scaling)`, 'ms', ours, stats(at(1).engines.ours.ms), { op: '<=', value: 0.55 }, { clock: 'wall', note: `our thread counts: ${runs.map((r) => `${r.threads} asked -> ${r.engines.ours.threads} used`).join(', ')}` }));
  return out;
}

async function rowPeersNode(lab, a, cfg, err) {
  const { runPeersNode } = await import('./net_peers.js');
  return peerRows('8', 'Node', runPeersNode({ net: cfg.net, log: err }));
}

async function rowPeersBrowser(lab, a, cfg, err) {
  const { runPeersBrowser } = await import('./browser.js');
  const r = await runPeersBrowser({ net: cfg.net, inputs: browserInputs(lab, cfg), log: err });
  return peerRows('9', r.browser, r.runs);
}

export const ROWS = { 1: rowNet224, 2: rowFeatures32, 3: rowBrowser, 4: rowNative, 5: rowLinearSvm, 6: rowRbfSvm, 7: rowScaling, 8: rowPeersNode, 9: rowPeersBrowser };

// ---- output ----

function fmt(v, unit) {
  if (v == null) return '-';
  if (typeof v === 'number') return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(unit === 's' ? 3 : 2);
  return `${fmt(v.median, unit)} [${fmt(v.min, unit)}-${fmt(v.max, unit)}]`;
}

export function formatRow(r) {
  const target = r.target ? `${r.target.op} ${r.target.value}: ${r.met ? 'met' : 'missed'}` : '';
  return [r.row, r.what, r.unit, fmt(r.ours, r.unit), fmt(r.peer, r.unit), r.ratio == null ? '-' : r.ratio.toFixed(2), target];
}

function details(r) {
  const d = r.detail, parts = [];
  if ('top5_identical' in d) parts.push(`top-5 identical: ${d.top5_identical}, max prob diff ${d.max_prob_diff.toExponential(2)}`);
  if ('max_feature_diff' in d) parts.push(`max feature diff ${d.max_feature_diff.toExponential(2)}`);
  if ('accuracy' in d) parts.push(`test accuracy ${(100 * d.accuracy).toFixed(2)}% vs ${(100 * d.peer_accuracy).toFixed(2)}% (${d.accuracy_diff_points >= 0 ? '+' : ''}${d.accuracy_diff_points} points)`);
  if ('total_iterations' in d) parts.push(`iterations (sum over 10 classes) ${d.total_iterations} vs ${d.peer_total_iterations}`);
  if (d.other) parts.push(`${d.other.clock} time: ${fmt(d.other.ours, r.unit)} vs ${fmt(d.other.peer, r.unit)}, ratio ${d.other.ratio.toFixed(2)}`);
  if (d.note) parts.push(d.note);
  return parts.join('; ');
}

export function formatText(result) {
  const head = ['row', 'what', 'unit', 'ours median [min-max]', 'peer median [min-max]', 'ratio', 'target'];
  const lines = [head, ...result.rows.map(formatRow)];
  const w = head.map((_, i) => Math.max(...lines.map((l) => String(l[i]).length)));
  let s = lines.map((l) => l.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd()).join('\n') + '\n';
  for (const r of result.rows) { const t = details(r); if (t) s += `  ${r.row}: ${t}\n`; }
  for (const e of result.errors) s += `  row ${e.row} failed: ${e.error}\n`;
  return s;
}

// ---- the subcommand ----

function config(a) {
  const quick = !!a.quick, int = (k, def) => (a.extra[k] === undefined ? def : Math.max(1, parseInt(a.extra[k], 10) || def));
  const runs = int('runs', quick ? 2 : 9), warmup = int('warmup', quick ? 1 : 2);
  const clock = a.extra.clock ?? 'wall';
  if (clock !== 'wall' && clock !== 'cpu') throw new Error(`--clock must be wall or cpu, got '${clock}'`);
  return {
    clock, quick, batch: int('batch', quick ? 8 : 64), svmRuns: int('svm-runs', 1), rbfTrain: int('rbf-train', 10000),
    net: { warmup, runs }, features: { warmup, runs },
  };
}

export async function bench(lab, a, out, err) {
  for (const k of ['runs', 'warmup', 'batch', 'svm-runs', 'rbf-train']) {
    if (a.extra[k] !== undefined && !/^\d+$/.test(a.extra[k])) throw new Error(`--${k} must be a positive integer, got '${a.extra[k]}'`);
  }
  if (a.extra['page-c'] !== undefined) {
    a.pageC = Number(a.extra['page-c']);
    if (!(a.pageC > 0)) throw new Error(`--page-c must be a positive number, got '${a.extra['page-c']}'`);
  }
  const cfg = config(a);
  let ids = a.extra.only ? a.extra.only.split(',').map((s) => s.trim()) : cfg.quick ? QUICK_ROWS : Object.keys(ROWS);
  const bad = ids.find((i) => !ROWS[i]);
  if (bad) throw new Error(`--only: unknown row '${bad}' (rows are 1-${Object.keys(ROWS).length})`);
  if (cfg.quick) ids = ids.filter((i) => QUICK_ROWS.includes(i));
  const result = { date: new Date().toISOString(), machine: machine(), quick: cfg.quick, config: cfg, rows: [], errors: [] };
  for (const id of ids) {
    const t0 = performance.now();
    err(`bench: row ${id}...\n`);
    try {
      const rows = await ROWS[id](lab, a, cfg, err);
      result.rows.push(...rows);
      for (const r of rows) err(`bench: ${formatRow(r).join(' | ')}\n`);   // partial results as they come
    } catch (e) {
      result.errors.push({ row: id, error: e.message });
      err(`bench: row ${id} failed: ${e.message}\n`);
    }
    err(`bench: row ${id} took ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  result.machine.loadavg_end = os.loadavg().map((v) => +v.toFixed(2));
  out(a.json ? `${JSON.stringify(result)}\n` : formatText(result));
  return result.errors.length ? 1 : 0;
}
