// peers.js — the LIBLINEAR / LIBSVM side of the SVM benchmark rows: writes
// LIBSVM text files, runs Debian's liblinear-train / svm-train timing only the
// training, and their *-predict for the test accuracy.
//
// Timing: both trainers read the whole text file, fclose() it, train, then
// fopen() the model file for writing. We run them under
// `strace --seccomp-bpf -ttt -e trace=openat,close` (only those two syscalls
// stop the process; training makes neither) and take
//   train seconds = time of openat(model file) - time of close() of the training file,
// so parsing the text file and writing the model are excluded.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';

// Per-feature mean and population std over n training rows, in double; std 0 -> 1
// (what learn/ does before the linear SVM, so both solvers see the same numbers).
export function standardizer(x, n, d) {
  const mean = new Float64Array(d), m2 = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0, o = i * d; j < d; j++) mean[j] += x[o + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) for (let j = 0, o = i * d; j < d; j++) { const v = x[o + j] - mean[j]; m2[j] += v * v; }
  const std = m2.map((v) => Math.sqrt(v / n) || 1);
  return { mean, std };
}

// Rows of x (n x d float32) as LIBSVM text "label 1:v 2:v ...", zeros omitted;
// values standardised with s = {mean, std} if given. Written in chunks (the
// 60,000 x 1,024 file is close to 1 GB).
export function writeLibsvm(file, x, y, n, d, s = null) {
  const fd = fs.openSync(file, 'w');
  try {
    let chunk = [];
    for (let i = 0; i < n; i++) {
      const parts = [String(y[i])];
      for (let j = 0, o = i * d; j < d; j++) {
        const v = s ? (x[o + j] - s.mean[j]) / s.std[j] : x[o + j];
        if (v !== 0) parts.push(`${j + 1}:${Math.fround(v).toPrecision(7)}`);
      }
      chunk.push(parts.join(' '));
      if (chunk.length === 2000 || i === n - 1) { fs.writeSync(fd, chunk.join('\n') + '\n'); chunk = []; }
    }
  } finally { fs.closeSync(fd); }
}

function need(program) {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${program} not found (apt-get install ${program.startsWith('liblinear') ? 'liblinear-tools' : program === 'strace' ? 'strace' : 'libsvm-tools'})`);
}

// Runs TRAINER [args] TRAIN MODEL under strace; -> { seconds, stdout, wallSeconds }.
export function timedTrain(trainer, args, trainFile, modelFile) {
  need(trainer); need('strace');
  const log = `${modelFile}.strace`;
  const t0 = Date.now();
  const r = spawnSync('strace', ['-f', '--seccomp-bpf', '-ttt', '-e', 'trace=openat,close', '-o', log, trainer, ...args, trainFile, modelFile],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  const wallSeconds = (Date.now() - t0) / 1000;
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${trainer} failed (status ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const lines = fs.readFileSync(log, 'utf8').split('\n');
  fs.rmSync(log, { force: true });
  // fd of the training file, then its close(), then the model's openat.
  let fd = null, start = null, end = null;
  for (const line of lines) {
    const m = /^\d+\s+([\d.]+)\s+(openat|close)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
    if (!m) continue;
    const [, t, call, argText, ret] = m;
    if (call === 'openat' && argText.includes(JSON.stringify(trainFile))) fd = ret;
    else if (call === 'close' && fd !== null && start === null && argText === fd) start = +t;
    else if (call === 'openat' && start !== null && argText.includes(JSON.stringify(modelFile))) { end = +t; break; }
  }
  if (start === null || end === null) throw new Error(`${trainer}: could not find the training interval in strace's log`);
  return { seconds: end - start, wallSeconds, stdout: r.stdout };
}

// "optimization finished, #iter = N" lines (one per binary problem).
export function iterations(stdout) {
  return [...stdout.matchAll(/#iter = (\d+)/g)].map((m) => +m[1]);
}

// PREDICTOR TEST MODEL OUT -> accuracy in [0, 1] (from "Accuracy = 92.5% (9250/10000)").
export function predictAccuracy(predictor, testFile, modelFile) {
  need(predictor);
  const out = `${modelFile}.predictions`;
  const r = spawnSync(predictor, [testFile, modelFile, out], { encoding: 'utf8', maxBuffer: 1 << 26 });
  fs.rmSync(out, { force: true });
  const m = /Accuracy = [\d.]+% \((\d+)\/(\d+)\)/.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new Error(`${predictor} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
  return +m[1] / +m[2];
}

// liblinear-train -s 1 -c C -e EPS -B 1 (L2-regularised squared hinge, dual CD, one-vs-rest).
export function liblinear(trainFile, testFile, modelFile, { C, eps = 0.1 }) {
  const args = ['-s', '1', '-c', String(C), '-e', String(eps), '-B', '1'];
  const t = timedTrain('liblinear-train', args, trainFile, modelFile);
  const accuracy = predictAccuracy('liblinear-predict', testFile, modelFile);
  return { command: `liblinear-train ${args.join(' ')}`, seconds: t.seconds, wallSeconds: t.wallSeconds, iterations: iterations(t.stdout), accuracy };
}

// svm-train -c C -g GAMMA -e TOL -m CACHE (C-SVC, RBF kernel, one-vs-one).
export function libsvm(trainFile, testFile, modelFile, { C, gamma, tol = 1e-3, cacheMb = 200 }) {
  const args = ['-s', '0', '-t', '2', '-c', String(C), '-g', String(gamma), '-e', String(tol), '-m', String(cacheMb)];
  const t = timedTrain('svm-train', args, trainFile, modelFile);
  const accuracy = predictAccuracy('svm-predict', testFile, modelFile);
  const nsv = /Total nSV = (\d+)/.exec(t.stdout);
  return { command: `svm-train ${args.join(' ')}`, seconds: t.seconds, wallSeconds: t.wallSeconds, iterations: iterations(t.stdout), totalSv: nsv ? +nsv[1] : null, accuracy };
}
