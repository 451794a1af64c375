// peers_section.js — the docs/benchmarks.md section for DenseNet121 at 1 and 2 threads against
// ONNX Runtime Web and TF.js-wasm (issue 12). `node bench/net_peers.js --report` measures and
// writes build/bench/peers.json; report.js and net_peers.js put this section between its markers.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from './tab_section.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PEERS_JSON = path.join(root, 'build/bench/peers.json');
const BEGIN = '<!-- peers -->', END = '<!-- /peers -->';

const ms = (s) => `${s.median.toFixed(0)} [${s.min.toFixed(0)}-${s.max.toFixed(0)}]`;

// One environment's table: a line per engine, a column per thread count.
function envTable(e) {
  const threads = Object.keys(e.summary.cells).map(Number).sort((a, b) => a - b);
  // Node also has the process's CPU time per run: about wall x threads when the threads really work.
  const cpu = threads.every((n) => Object.values(e.summary.cells[n]).every((x) => x.cpu_median != null));
  const head = ['engine', ...threads.map((n) => `${n} thread${n > 1 ? 's' : ''}: ms median [min-max]`), ...threads.map((n) => `ratio at ${n}`), 'threads used',
    ...(cpu ? threads.map((n) => `CPU ms at ${n}`) : [])];
  const lines = Object.keys(e.engines).map((k) => {
    const c = threads.map((n) => e.summary.cells[n][k]);
    return [e.engines[k], ...c.map(ms), ...c.map((x) => x.ratio.toFixed(2)), c.map((x) => x.threads).join(' / '), ...(cpu ? c.map((x) => x.cpu_median.toFixed(0)) : [])];
  });
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l.join(' | ')} |`)].join('\n');
}

function agreementLine(e) {
  const a = e.agreement[e.summary.most];
  return Object.entries(a).filter(([k]) => k !== 'ours').map(([k, x]) =>
    `${e.engines[k]} top-5 ${x.top5_identical ? 'identical to ours' : `**differs** (${x.top5.join(', ')} vs ours ${a.ours.top5.join(', ')})`}, max |prob diff| ${x.max_prob_diff.toExponential(2)}`).join('; ');
}

export function peersSection() {
  if (!fs.existsSync(PEERS_JSON)) return `${BEGIN}\n${END}\n`;
  const r = JSON.parse(fs.readFileSync(PEERS_JSON, 'utf8'));
  const envs = r.environments.map((e) => `### ${e.env}

${envTable(e)}

- ratio = median / the faster peer's median at ${e.summary.most} threads (${e.engines[e.summary.fastest]}, ${e.summary.ref.toFixed(0)} ms). **Ours at ${e.summary.most} threads: ${e.summary.ours_vs_fastest.toFixed(2)}x the faster peer** (target <= 0.5); ours ${e.summary.most} threads / ours 1 thread: ${e.summary.ours_scaling?.toFixed(2) ?? '-'} (target <= 0.55).${e.summary.cells[e.summary.most].ours.threads < e.summary.most ? ` **Ours ran ${e.summary.cells[e.summary.most].ours.threads} thread when ${e.summary.most} were asked: this build has no threads, so our 2-thread column is a second 1-thread run.**` : ''}
- ${agreementLine(e)} (photo ${e.image}, ${e.summary.most} threads).
- At ${e.summary.most} threads: ${Object.values(e.names[e.summary.most]).join('; ')}${e.crossOriginIsolated === undefined ? '' : `; crossOriginIsolated: ${e.crossOriginIsolated}`}.`).join('\n\n');
  return `${BEGIN}
## DenseNet121 224x224, batch 1, at 1 and 2 threads: ONNX Runtime Web and TF.js-wasm (rows 8-9, issue 12)

\`${r.command}\` — ${r.date}, ${r.machine.nproc} logical CPUs, ${r.machine.cpu}; load average before ${r.load_before.join(' / ')}, after ${r.load_after.join(' / ')}${r.load_before[0] > r.machine.nproc ? ' — **the machine was busy (other engineers building and testing): the figures are noisy; the lead re-measures on a quiet machine**' : ''}. ${r.warmup} warm-up + ${r.runs} timed rounds per thread count, the three engines alternating in each round; wall clock. Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.

${envs}

On a loaded machine (load far above the 2 cores) a 2-thread run can be slower than a 1-thread one: a multi-threaded engine waits at the end of every layer for the thread the OS has descheduled. Read the 2-thread columns only from a quiet run.

How the peers are set up (bench/net_peers.js, bench/site/peers_page.js):
- ONNX Runtime Web runs the graph that DenseLab's ONNX export writes at benchmark time from our model file (bench/onnx_model.js: \`lab.exportOnnx\`, onnx/export.h; converted from the same TF.js export, its missing final ReLU restored; NHWC RGB input with preprocess_input as the graph's first ops, then NCHW; softmax head), on its WASM SIMD + threads build (wasm execution provider, graph optimisation 'all'), with \`env.wasm.numThreads\` = the thread count, on the calling thread (\`proxy: false\`). Its thread pool is fixed when its WASM module starts, so every thread count is a fresh Node process or page load.
- TF.js-wasm in Chromium: it takes half of \`navigator.hardwareConcurrency\` by default, so peers.html reports 2 x the asked threads before tf-backend-wasm loads (a getter on Navigator.prototype) and calls \`tf.wasm.setThreadsCount(T)\`; "threads used" is \`tf.wasm.getThreadsCount()\`. In Node TF.js-wasm runs one thread whatever is asked: its WASM_HAS_MULTITHREAD_SUPPORT flag is false under Node (tfjs issue 3830), and setting it fails because worker_threads cannot start its pthread workers from the blob: URL it makes.
- Ours: in Node wasm/cli.js's \`openLab(T)\` (as \`--threads T\`), in Chromium \`createDenseLab({ threads: T })\` inside a module worker that times its own \`predict\`; "threads used" is \`lab.threadCount()\`, or 1 for a build without threads (which then runs one thread whatever is asked).
${END}
`;
}

export function writePeersSection(doc) { writeSection(doc, BEGIN, END, peersSection()); }
