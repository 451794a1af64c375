#!/usr/bin/env node
// report.js — runs the whole benchmark and writes docs/benchmarks.md (issue 6).
//   node bench/report.js [--out docs/benchmarks.md] [any `node wasm/cli.js bench` option, e.g. --clock cpu, --quick]
// The document is generated: date, machine, tool versions, the commands, the table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatRow, machine, pageDefaultC } from './bench.js';
import { tabSection } from './tab_section.js';
import { rbfSection } from './rbf_section.js';
import { peersSection } from './peers_section.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function firstLine(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0] : 'not available';
}

function debVersion(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout ? r.stdout : 'not installed';
}

function versions() {
  const pkg = (name) => { try { return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version; } catch { return 'not installed'; } };
  return {
    node: process.version,
    chromium: firstLine('/usr/bin/chromium', ['--version']),
    emcc: firstLine('emcc', ['--version'], { NODE_PATH: '/usr/share/nodejs' }),
    gcc: firstLine('gcc', ['--version']),
    '@tensorflow/tfjs': pkg('@tensorflow/tfjs'),
    '@tensorflow/tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm'),
    'playwright-core': pkg('playwright-core'),
    liblinear: debVersion('liblinear-tools'),
    libsvm: debVersion('libsvm-tools'),
    xnnpack: debVersion('libxnnpack-dev'),
  };
}

const cell = (s) => String(s).replace(/\|/g, '\\|');

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

function shapesTable(shapes) {
  const f = (v, d = 2) => (v == null ? '-' : v.toFixed(d));
  return table(['layer', 'shape (HxWxCin->Cout)', 'count', 'MFLOP', 'algo', 'ours ms', 'ours GFLOP/s', 'XNNPACK ms', 'XNNPACK GFLOP/s', 'ratio (time)'],
    shapes.map((s) => [s.layer, s.shape, s.count, f(s.mflop, 1), s.algo, f(s.ms, 3), f(s.gflops), f(s.xnnpack_ms, 3), f(s.xnnpack_gflops), s.xnnpack_ms ? f(s.ms / s.xnnpack_ms) : '-']));
}

function detailLines(r) {
  const d = r.detail, out = [];
  if (d.peer_name) out.push(`peer: ${d.peer_name}`);
  if (d.clock) out.push(`clock: ${d.clock}`);
  if ('top5_identical' in d) out.push(`top-5 identical: **${d.top5_identical}** (ours ${d.top5.join(', ')}; peer ${d.peer_top5.join(', ')}), max |prob diff| ${d.max_prob_diff.toExponential(2)}`);
  if ('max_feature_diff' in d) out.push(`max |feature diff| ${d.max_feature_diff.toExponential(2)}`);
  if (d.other) out.push(`${d.other.clock} time: ours ${d.other.ours.median.toFixed(2)} [${d.other.ours.min.toFixed(2)}-${d.other.ours.max.toFixed(2)}], peer ${d.other.peer.median.toFixed(2)} [${d.other.peer.min.toFixed(2)}-${d.other.peer.max.toFixed(2)}], ratio ${d.other.ratio.toFixed(2)}`);
  if ('accuracy' in d) out.push(`test accuracy (${d.test} images): ours ${(100 * d.accuracy).toFixed(2)}%, peer ${(100 * d.peer_accuracy).toFixed(2)}% (difference ${d.accuracy_diff_points} points; target within 0.3: ${d.accuracy_target_met ? 'met' : 'missed'})`);
  if ('total_iterations' in d) out.push(`iterations to convergence per class: ours [${d.iterations.join(', ')}] (sum ${d.total_iterations}); liblinear [${d.peer_iterations.join(', ')}] (sum ${d.peer_total_iterations})`);
  if ('peer_total_sv' in d) out.push(`LIBSVM: ${d.peer_iterations_total} SMO iterations over 45 pairs, ${d.peer_total_sv} support vectors`);
  if (d.data) out.push(`data: ${d.data}`);
  if (d.peer_command) out.push(`peer command: \`${d.peer_command}\``);
  if (d.ukernels) out.push(`micro-kernels: ${d.ukernels.map((u) => `${u.name} ${u.gflops} GFLOP/s`).join(', ')}; peak: ${d.peak_method}`);
  if (d.wall) out.push(`wall time: median ${d.wall.median.toFixed(1)} ms [${d.wall.min.toFixed(1)}-${d.wall.max.toFixed(1)}] over ${d.runs} runs`);
  if (d.peers) out.push(`the whole matrix (1 and 2 threads, both peers, top-5 agreement): the section below, from \`node bench/net_peers.js --report\``);
  if (d.note) out.push(d.note);
  return out.map((l) => `  - ${l}`).join('\n');
}

function main() {
  const argv = process.argv.slice(2);
  let out = path.join(root, 'docs', 'benchmarks.md');
  const i = argv.indexOf('--out');
  if (i >= 0) { out = path.resolve(argv[i + 1]); argv.splice(i, 2); }
  const benchArgs = ['wasm/cli.js', 'bench', '--json', ...argv];
  const load0 = os.loadavg();
  const t0 = Date.now();
  const r = spawnSync(process.execPath, benchArgs, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  let result;
  try { result = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { console.error(`report: the benchmark printed no result (status ${r.status})`); process.exit(1); }
  const minutes = ((Date.now() - t0) / 60000).toFixed(1);
  const m = { ...machine(), ...result.machine };
  const v = versions();
  const rows = result.rows.map(formatRow);
  const nativeShapes = result.rows.find((x) => x.detail?.shapes)?.detail.shapes;
  const md = `# DenseLab benchmarks

Generated by \`node bench/report.js${argv.length ? ` ${argv.join(' ')}` : ''}\` — do not edit by hand.

- Date: ${result.date}
- Machine: ${m.nproc} logical CPUs, ${m.cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}
- Load average (1/5/15 min) before: ${load0.map((x) => x.toFixed(2)).join(' / ')}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}${load0[0] > m.nproc ? ` — **the machine was busy (load above ${m.nproc}): wall-clock figures are noisy; CPU-time figures in the details are steadier**` : ''}
- Versions: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join('; ')}
- Benchmark command: \`node ${benchArgs.join(' ')}\` (took ${minutes} min)${result.quick ? ' — **--quick: tiny sizes, a smoke run, not the real figures**' : ''}

Each timing is median [min-max] over the repeated runs after warm-up (rows 1-3: ${result.config.net.warmup} warm-up + ${result.config.net.runs} timed runs; SVM rows: ${result.config.svmRuns} run${result.config.svmRuns > 1 ? 's' : ''} each); our run and the peer's alternate so that load from other processes hits both.
**ratio = ours / peer** (medians): below 1 is faster for times, above 1 is faster for throughputs. Clock: ${result.config.clock} (rows 1-2; \`--clock cpu\` switches to this process's CPU time).

${table(['row', 'what', 'unit', 'ours median [min-max]', 'peer median [min-max]', 'ratio', 'target (issue 6)'], rows)}
${result.errors.length ? `\nRows that failed: ${result.errors.map((e) => `row ${e.row}: ${e.error}`).join('; ')}\n` : ''}
## Details

${result.rows.map((x) => `- **Row ${x.row}** ${x.what}\n${detailLines(x)}`).join('\n')}
${nativeShapes ? `\n## Native convolutions per shape (row 4, CPU time of the benchmark thread)\n\n${shapesTable(nativeShapes)}\n` : ''}
## How each row is measured

1. \`net.predict\` of DenseLab (wasm/denselab.js, build/wasm/wasm/denselab_core.wasm) vs \`model.predict\` + \`await data()\` of TF.js tfjs-backend-wasm (single-threaded in Node, SIMD) on the same preprocessed photo (../shared/images/zebra_340.png), models loaded from the same ../shared TF.js export (tests/tfjs_peer.js, with the export's missing final ReLU restored).
2. DenseNet121(include_top=False, pooling='avg', input_shape=(32, 32, 3)) on one fixed random batch; images/s = batch / time per call.
3. bench/browser.js assembles a temporary site (bench/site/ + dist/ + TF.js dist bundles), serves it with bench/server.js (COOP/COEP, no CSP: tf.min.js evaluates strings, which the product's CSP forbids) and runs it in /usr/bin/chromium (headless, playwright-core). DenseLab runs in a module worker and times its own \`predict\`; TF.js-wasm (1 thread, SIMD) runs on the main thread.
4. bench/native.js: \`build/native/kernels/kernels_bench --json --cpu\` (per-shape GFLOP/s, micro-kernels, SIMD mul+add peak), \`kernels_bench_xnnpack --json --cpu\` when built, \`build/native/denselab bench --json\` (whole network, CPU time). The XNNPACK whole-network figure is the sum of its per-shape convolution times (a proxy).
5. Features: \`node wasm/cli.js features --size 32 --out build/bench/features32.npy\` (computed once, cached). Ours: \`lab.fit('linear-svm', ...)\` (standardises internally; iterations counted from its per-iteration progress calls) then \`evaluate\` on the 10,000 test images. Peer: the same features standardised with the training mean/std, written as LIBSVM text; \`liblinear-train -s 1 -c C -e 0.1 -B 1\` timed from the close() of the training file to the open() of the model file (strace --seccomp-bpf), so parsing and writing are excluded; \`liblinear-predict\` for the accuracy. Both the page's default C (${pageDefaultC().C}, from ${pageDefaultC().source}; one row if it is 1) and C=1 are run.
6. First 10,000 training features (raw), gamma = 1 / (d * X.var()) computed in JS and passed to both; \`lab.fit('rbf-svm', {C: 1, gamma, cacheMb: 200})\` vs \`svm-train -s 0 -t 2 -c 1 -g GAMMA -e 0.001 -m 200\`, timed as in row 5; accuracy on the 10,000 test images.
7. bench/scaling.js: feature extraction at S=32 of Fashion-MNIST training images with 1 vs ${m.nproc} Node worker_threads, each worker its own WASM instance taking an equal share; peak RSS of the process sampled every 50 ms. The page itself: bench/tab_experiment.js (below, when it has been run).
8. bench/net_peers.js: DenseNet121 224x224 batch 1 on the row-1 photo at 1 and 2 threads, one Node process per thread count: ours (\`createDenseLab({ threads })\`), ONNX Runtime Web (graph written by DenseLab's ONNX export, bench/onnx_model.js) and TF.js-wasm alternating; the peer column is the faster peer at 2 threads.
9. Row 8 in Chromium: bench/site/peers.html, one page load per thread count (browser.js runPeersBrowser).

${tabSection()}
${rbfSection()}
${peersSection()}`;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, md);
  console.error(`report: wrote ${path.relative(process.cwd(), out)}`);
  process.exit(r.status === 0 ? 0 : 1);
}

main();
