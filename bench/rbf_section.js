// rbf_section.js — the docs/benchmarks.md section for the RBF SVM's pairs on worker threads
// (bench/rbf_pairs.js keeps its runs in build/bench/rbf_pairs.json, one per data/size/workers;
// report.js and rbf_pairs.js both put this section between its markers).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSection } from './tab_section.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const RBF_JSON = path.join(root, 'build/bench/rbf_pairs.json');
const BEGIN = '<!-- rbf-pairs -->', END = '<!-- /rbf-pairs -->';

const pct = (v) => `${(100 * v).toFixed(2)} %`;
const row = (r) => {
  const peer = r.peer ? [`${r.peer.train_seconds.toFixed(1)} s`, r.ratio_ours_over_peer.toFixed(2), pct(r.peer.accuracy), r.peer.total_sv, `${r.accuracy_points_diff.toFixed(2)} / ${r.sv_count_diff_percent.toFixed(2)} %`] : ['—', '—', '—', '—', '—'];
  return `| ${r.data} | ${r.train} / ${r.test} | ${r.workers} | ${r.ours.train_seconds.toFixed(1)} s | ${r.ours_serial ? `${r.ours_serial.train_seconds.toFixed(1)} s (${r.ours.speedup_vs_serial.toFixed(2)}x, same bytes: ${r.ours_serial.same_bytes})` : '—'} | ${pct(r.ours.accuracy)} | ${r.ours.total_sv} | ${peer.join(' | ')} | ${r.load_average.map((v) => v.toFixed(1)).join(' ')} |`;
};

export function rbfSection() {
  const runs = fs.existsSync(RBF_JSON) ? JSON.parse(fs.readFileSync(RBF_JSON, 'utf8')) : [];
  if (!runs.length) return `${BEGIN}\n${END}\n`;
  return `${BEGIN}
## The RBF SVM's 45 pairs on worker threads (issue 11, section 1)

\`nice -n 19 node bench/rbf_pairs.js [--features build/bench/features32_10k.npy] --train N --test M --workers W --serial 1 --peer 1\`: ours = the whole fit (\`lab.rbfPrepare\`, the 45 pairs on W Node worker_threads each with its own WASM instance and only its pair's rows, \`lab.rbfAssemble\`), wall clock; serial = \`lab.fit('rbf-svm')\` in one thread (the same model bytes: checked); peer = Debian's \`svm-train -s 0 -t 2 -c 1 -g GAMMA -e 0.001 -m 200\` on the same rows as LIBSVM text, GAMMA our gamma='scale', timed between its input's close() and its model's open() (bench/peers.js). **The machine was shared with six other engineers' builds and tests while these ran (load average in the last column, 2 cores): every time here is noisy and inflated; the ratios measured in one run are steadier.**

| data | train / test | workers | ours | ours serial (speed-up) | ours accuracy | ours SVs | svm-train | ours / svm-train | svm-train accuracy | svm-train SVs | accuracy diff (points) / SV diff | load average |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
${runs.map(row).join('\n')}

Load average: at the start of the run. In the first features row the 2-worker fit ran while a full test suite (browser tests included) ran at a higher priority, and the serial fit after it: its speed-up figure says nothing about the pairs. In the second (lighter load) the 2-worker fit was slower than the serial one on this small problem (8 s of work): each worker compiles the WASM module for itself, the main thread gathers each pair's rows and prepare/assemble read the whole matrix, and the other jobs left less than two cores; how it scales on 60,000 (45 pairs of about 12,000 rows) is not measured yet. For scale: the serial fit on the same 10,000 features took 24.2 s in row 6 (the code before, a quieter machine) and 8.4 s here.
Ours and svm-train run one after the other in each row, not interleaved: svm-train's time includes whatever load came during its run (other engineers' test suites, in the rows above), so the "ours / svm-train" ratio is not a fair speed figure; accuracy and support vectors are exact.
Not measured here yet: the issue's 60,000 / 10,000 run at S=32 (target <= 5 min with 2 workers). On the shared machine, extracting the 70,000 features alone ran at 5-30 images/s (483 images/s in the quiet tab run above), so it did not fit. Reference figures from issue 11 (this machine, S=32 features): \`svm-train -s 0 -t 2 -c 1 -g <scale> -e 0.001 -m 1000\` 3,370 s, 22,606 support vectors, 87.66 %; ours before the pairs, natively on one core, 682 s, 87.68 %. To reproduce: \`node wasm/cli.js features --size 32 --out build/bench/features32.npy\`, then \`nice -n 19 node bench/rbf_pairs.js --features build/bench/features32.npy --workers 2 --serial 0 --peer 1\`.
Kernel columns by GEMM (learn/kernel_svm.c: 4 columns per pass over the packed rows, the one asked for and the 3 likeliest next) vs one f32_dot per point (the code before): \`perf stat -e task-clock build/native/learn/learn_tool rbf-svm idx:train-images,train-labels,8000 idx:t10k-images,t10k-labels,500\` (pixels, native, one thread, same load) 3.29 s vs 4.69 s of CPU (0.70), the same accuracy (88.0 %).
${END}
`;
}

export function writeRbfSection(doc) { writeSection(doc, BEGIN, END, rbfSection()); }
