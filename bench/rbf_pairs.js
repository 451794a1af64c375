#!/usr/bin/env node
// rbf_pairs.js — the RBF SVM (SVC() defaults: C=1, gamma='scale', tol 1e-3) with its 45
// one-vs-one pairs on worker threads (wasm/rbf-pairs.js), against Debian's svm-train on the
// same rows, in the same run. Outside CI (long); prints one JSON object.
//
//   nice -n 19 node bench/rbf_pairs.js [--features build/bench/features32.npy | pixels]
//        [--train 60000] [--test 10000] [--workers 2] [--serial 1] [--peer 1] [--cache-mb 200]
//        [--threads 1] [--pool 0] [--f16 1] [--core-before OLD/denselab_core_mt.mjs]
//
// --features: a .npy from `node wasm/cli.js features --size 32 --out FILE.npy` (N train rows
// then M test rows, with FILE.labels.npy); without it, Fashion-MNIST's [0, 1] pixels (d = 784).
// --serial 1 also times lab.fit('rbf-svm') in one thread (the same bytes: checked).
// --threads 1: the pairs on one threaded instance's pthreads instead (rbf-pairs.js trainPairsHere,
// rows in place: the page's classifier worker on a cross-origin isolated page), on 1 and on
// --workers threads in the same run: wall times and the busiest thread's CPU seconds (the
// critical path, /proc/self/task), their ratios, the same bytes checked. --pool 0 skips
// the worker-pool fit (and then the docs/benchmarks.md section is not rewritten).
// --f16 1: the pairs on --workers threads of one threaded instance with the rows stored as float32
// (HeapFloats) and as float16 (HeapHalves, converted per use: the page's classifier worker, the
// default since issue 11 §3), in the same run (f32, f16, f32 again: the first f32 run grows the heap):
// wall and critical-path CPU seconds, the f16/f32 ratios, the support vectors of each.
// --core-before FILE: the page's path (float16 rows in place, --workers threads) on another build of
// the threaded core (FILE and the .wasm beside it: e.g. main's) and on this one, alternated in the same
// run (before, now, before, now: the first two grow the heaps and warm the code, the last two are
// timed; --warm 0: only the timed two, for 60,000; --first now: this build's run first): wall and
// critical-path CPU seconds, their ratios, and whether the models are the same bytes.
// Ours: wall time of the whole pair-parallel fit (prepare, pairs, assemble) in Node.
// Peer: `svm-train -s 0 -t 2 -c 1 -g GAMMA -e 0.001 -m CACHE`, timed from the close() of its
// training file to the open() of its model file (bench/peers.js), GAMMA our gamma='scale'.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';
import { classIndex, fitRbfPairs, trainPairsHere } from '../wasm/rbf-pairs.js';
import { nodePairWorkers } from '../wasm/rbf-pair-worker.js';
import { libsvm, writeLibsvm } from './peers.js';
import { RBF_JSON, writeRbfSection } from './rbf_section.js';
import { readNpy, root } from '../tests/helpers.js';

const opts = { features: null, train: '60000', test: '10000', workers: '2', serial: '0', peer: '1', 'cache-mb': '200', threads: '0', pool: '1', f16: '0', 'core-before': '', warm: '1', first: 'before' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) throw new Error(`usage: see the head of bench/rbf_pairs.js (bad option ${argv[i]})`);
  opts[k] = argv[i + 1];
}
const n = +opts.train, m = +opts.test, workers = +opts.workers;

function pixels() {
  const dir = '/usr/share/datasets/fashion-mnist';
  const read = (f) => zlib.gunzipSync(fs.readFileSync(path.join(dir, f)));
  const split = (im, lb, k) => ({ x: Float32Array.from(read(im).subarray(16, 16 + k * 784), (v) => v / 255), y: Int32Array.from(read(lb).subarray(8, 8 + k)) });
  const tr = split('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', n), te = split('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', m);
  return { d: 784, what: `Fashion-MNIST pixels / 255 (784)`, train: tr, test: te };
}

function features(file) {
  const x = readNpy(file), y = readNpy(file.replace(/\.npy$/, '.labels.npy'));
  const [rows, d] = x.shape, total = rows - 10000;   // the file holds N train then 10,000 test rows when made with the defaults
  if (n > total || m > rows - total) throw new Error(`${file} has ${total} + ${rows - total} rows`);
  const xs = x.data, ys = y.data;
  return {
    d, what: `DenseNet121 features (${d}) from ${path.relative(root, file)}`,
    train: { x: xs.subarray(0, n * d), y: Int32Array.from(ys.subarray(0, n)) },
    test: { x: xs.subarray(total * d, (total + m) * d), y: Int32Array.from(ys.subarray(total, total + m)) },
  };
}

const data = opts.features ? features(opts.features) : pixels();
const { d } = data;
const lab = await createDenseLab({ wasmBinary: fs.readFileSync(paths.wasm), coreUrl: pathToFileURL(paths.core).href });
const options = { C: 1, cacheMb: +opts['cache-mb'] };
const totalSv = (bytes) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(28, true);   // DLCLASS1 kind parameter
const evaluate = (clf) => clf.evaluate(data.test.x, data.test.y, m).accuracy;
const out = { data: data.what, train: n, test: m, d, workers, cores: os.availableParallelism(), load_average: os.loadavg(), note: 'machine shared with other jobs: see load_average' };

const onPair = (p) => process.stderr.write(`\rpairs: ${p.done}/${p.total}, ${p.seconds.toFixed(0)} s, ETA ${p.eta.toFixed(0)} s   `);
let t0 = Date.now(), model = null;
if (opts.pool === '1') {
  const pool = nodePairWorkers(workers, { wasm: paths.wasm, core: pathToFileURL(paths.core).href });
  const clf = await fitRbfPairs(lab, data.train.x, data.train.y, n, d, options, { runners: pool.runners, onPair });
  await pool.close();
  out.ours = { workers, train_seconds: (Date.now() - t0) / 1000 };
  model = clf.save();
  Object.assign(out.ours, { total_sv: totalSv(model), accuracy: evaluate(clf) });
  clf.free();
  process.stderr.write('\n');
}

// CPU seconds of each of this process's threads (Linux: /proc/self/task/TID/stat, utime + stime):
// a WASM pthread is a worker_thread, so each one's CPU is there, which a loaded machine does not
// inflate as it does the wall time.
function threadCpu() {
  const tick = 100, cpu = new Map();   // USER_HZ
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const f = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      cpu.set(tid, (Number(f[11]) + Number(f[12])) / tick);
    } catch { /* a thread that ended */ }
  }
  return cpu;
}
// The busiest thread's CPU seconds between two threadCpu() samples: the wall time on idle cores.
const busiest = (a, b) => Math.max(...[...b].map(([tid, s]) => s - (a.get(tid) ?? 0)));
const allThreads = (a, b) => [...b].reduce((sum, [tid, s]) => sum + s - (a.get(tid) ?? 0), 0);

// The pairs on one threaded instance: 1 thread, then `workers` threads, the rows in its heap once.
if (opts.threads === '1') {
  const mt = await createDenseLab({ threads: workers, wasmBinary: fs.readFileSync(paths.wasmThreads), coreUrl: pathToFileURL(paths.coreThreads).href });
  const heap = mt.heapFloats(n * d, 'features');
  heap.view().set(data.train.x);
  const shared = mt.rbfPrepare(heap, data.train.y, n, d, options), rows = classIndex(data.train.y, n, shared.numClasses);
  out.threads_in_one_instance = {};
  // A first, untimed run on `workers` threads grows the heap to its peak and warms the code.
  for (const [k, t] of [workers, 1, workers].entries()) {
    mt.setThreads(t);
    t0 = Date.now();
    const cpu0 = threadCpu();
    const results = trainPairsHere(mt, heap, n, d, rows, shared, options, { onPair });
    const cpu1 = threadCpu(), critical = busiest(cpu0, cpu1), cpu = allThreads(cpu0, cpu1);
    const seconds = (Date.now() - t0) / 1000, clf = mt.rbfAssemble(heap, data.train.y, n, d, options, results);
    const bytes = clf.save();
    model ??= bytes;
    if (k > 0) out.threads_in_one_instance[`threads_${t}`] = { train_seconds: seconds, critical_cpu_seconds: critical, cpu_seconds: cpu, same_bytes: Buffer.from(bytes).equals(Buffer.from(model)), total_sv: totalSv(bytes), accuracy: evaluate(clf) };
    clf.free();
    process.stderr.write('\n');
  }
  const r = out.threads_in_one_instance;
  r[`ratio_threads_${workers}_over_1`] = r[`threads_${workers}`].train_seconds / r.threads_1.train_seconds;
  r[`critical_ratio_threads_${workers}_over_1`] = r[`threads_${workers}`].critical_cpu_seconds / r.threads_1.critical_cpu_seconds;
  heap.free();
}

// The pairs of the training set on mt's threads, its rows stored in type ('f16': HeapHalves) and read
// in place, timed: { train_seconds, critical_cpu_seconds, cpu_seconds, total_sv, model (the file's bytes) }.
function pairsInPlace(mt, type) {
  const rows = type === 'f16' ? mt.heapHalves(n * d, 'features') : mt.heapFloats(n * d, 'features');
  try {
    rows.put(0, data.train.x);
    const shared = mt.rbfPrepare(rows, data.train.y, n, d, options), index = classIndex(data.train.y, n, shared.numClasses);
    t0 = Date.now();
    const cpu0 = threadCpu();
    const results = trainPairsHere(mt, rows, n, d, index, shared, options, { onPair });
    const cpu1 = threadCpu(), seconds = (Date.now() - t0) / 1000;
    const clf = mt.rbfAssemble(rows, data.train.y, n, d, options, results, { borrow: true }), bytes = clf.save();
    clf.free();
    process.stderr.write('\n');
    return { train_seconds: seconds, critical_cpu_seconds: busiest(cpu0, cpu1), cpu_seconds: allThreads(cpu0, cpu1), total_sv: totalSv(bytes), model: bytes };
  } finally { rows.free(); }
}
const threadedLab = async (core = paths.coreThreads, wasm = paths.wasmThreads) => {
  const mt = await createDenseLab({ threads: workers, wasmBinary: fs.readFileSync(wasm), coreUrl: pathToFileURL(core).href });
  mt.setThreads(workers);
  return mt;
};
const withoutModel = ({ model, ...rest }) => rest;

if (opts.f16 === '1') {
  const mt = await threadedLab();
  const r = out.f16_vs_f32_rows = { threads: workers };
  for (const type of ['f32', 'f16', 'f32']) r[type] = withoutModel(pairsInPlace(mt, type));
  r.ratio_f16_over_f32 = r.f16.train_seconds / r.f32.train_seconds;
  r.critical_ratio_f16_over_f32 = r.f16.critical_cpu_seconds / r.f32.critical_cpu_seconds;
}

if (opts['core-before']) {
  const core = path.resolve(opts['core-before']);
  const labs = { before: await threadedLab(core, core.replace(/\.mjs$/, '.wasm')), now: await threadedLab() };
  const r = out.before_vs_now = { core_before: core, threads: workers, rows: 'f16' }, model = {};
  const order = opts.first === 'now' ? ['now', 'before'] : ['before', 'now'];
  for (const which of [...(opts.warm === '1' ? order : []), ...order]) {
    const run = pairsInPlace(labs[which], 'f16');
    model[which] = run.model;
    r[which] = withoutModel(run);
  }
  r.ratio_now_over_before = r.now.train_seconds / r.before.train_seconds;
  r.critical_ratio_now_over_before = r.now.critical_cpu_seconds / r.before.critical_cpu_seconds;
  r.same_bytes = Buffer.from(model.now).equals(Buffer.from(model.before));
}

if (opts.serial === '1') {
  t0 = Date.now();
  const one = lab.fit('rbf-svm', data.train.x, data.train.y, n, d, options);
  out.ours_serial = { train_seconds: (Date.now() - t0) / 1000, same_bytes: Buffer.from(one.save()).equals(Buffer.from(model)) };
  one.free();
  out.ours.speedup_vs_serial = out.ours_serial.train_seconds / out.ours.train_seconds;
}

if (opts.peer === '1') {
  const { gamma } = lab.rbfPrepare(data.train.x, data.train.y, n, d, options);
  const dir = path.join(root, 'build/bench'), base = path.join(dir, `rbf_pairs_${opts.features ? 'features' : 'pixels'}_${n}_${m}`);
  fs.mkdirSync(dir, { recursive: true });
  writeLibsvm(`${base}.train.svm`, data.train.x, data.train.y, n, d);
  writeLibsvm(`${base}.test.svm`, data.test.x, data.test.y, m, d);
  const p = libsvm(`${base}.train.svm`, `${base}.test.svm`, `${base}.model`, { C: 1, gamma, tol: 1e-3, cacheMb: +opts['cache-mb'] });
  out.peer = { command: `${p.command} (gamma='scale' computed by lab.rbfPrepare)`, train_seconds: p.seconds, total_sv: p.totalSv, accuracy: p.accuracy };
  out.ratio_ours_over_peer = out.ours.train_seconds / p.seconds;
  out.accuracy_points_diff = 100 * (out.ours.accuracy - p.accuracy);
  out.sv_count_diff_percent = 100 * (out.ours.total_sv - p.totalSv) / p.totalSv;
}
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);

// Kept per data / size / workers, and the docs/benchmarks.md section rewritten from them.
if (!out.ours) process.exit(0);
const runs = fs.existsSync(RBF_JSON) ? JSON.parse(fs.readFileSync(RBF_JSON, 'utf8')) : [];
const same = (r) => r.data === out.data && r.train === n && r.test === m && r.workers === workers;
fs.mkdirSync(path.dirname(RBF_JSON), { recursive: true });
fs.writeFileSync(RBF_JSON, JSON.stringify([...runs.filter((r) => !same(r)), { date: new Date().toISOString(), ...out }], null, 1));
writeRbfSection(path.join(root, 'docs/benchmarks.md'));
