// tab_section.js — the docs/benchmarks.md section for the whole experiment in a Chromium tab
// (bench/tab_experiment.js writes build/bench/tab_experiment.json; report.js and
// tab_experiment.js both put this section between its markers).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FASHION } from '../web/defaults.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TAB_JSON = path.join(root, 'build/bench/tab_experiment.json');
// The same run on the code before the memory work of issue 11 (measured once, kept in the repo).
const BEFORE_JSON = path.join(root, 'bench/tab_memory_before.json');
const BEGIN = '<!-- tab-experiment -->', END = '<!-- /tab-experiment -->';

export function tabSection() {
  if (!fs.existsSync(TAB_JSON)) return `${BEGIN}\n${END}\n`;
  const r = JSON.parse(fs.readFileSync(TAB_JSON, 'utf8'));
  const rows = r.results.map((x) => `| ${x.cells.join(' | ')} |`).join('\n');
  return `${BEGIN}
## The whole experiment in a Chromium tab (row 7, measured on the page)

\`node bench/tab_experiment.js --train ${r.options.train} --test ${r.options.test} --size ${r.options.size} --workers ${r.options.workers}${r.options['rbf-points'] ? ` --rbf-points ${r.options['rbf-points']}` : ''}${r.options['finetune-epochs'] ? ` --finetune-epochs ${r.options['finetune-epochs']}` : ''}\` — ${r.date}, ${r.chromium}, ${r.cores} cores, load average after: ${r.load_average}.
dist/fashion.html driven by playwright-core: page load to "ready" ${r.load_seconds.toFixed(1)} s; features ${r.feature_seconds.toFixed(1)} s (${r.feature_progress}); all ${r.results.length} classifiers ${r.classifiers_seconds.toFixed(1)} s; **peak memory of the browser's processes ${r.peak_browser_pss_mb ?? '?'} MB as a sum of PSS, ${r.peak_browser_rss_mb} MB as a sum of RSS** (MiB, /proc/PID/smaps_rollup over the browser's process tree, sampled every 250 ms${r.peak_by_phase_mb ? `; PSS peak while loading / extracting / training: ${['load', 'features', 'classifiers'].map((k) => r.peak_by_phase_mb[k]?.pss ?? '?').join(' / ')} MB` : ''}${r.feature_worker_wasm_mb ? `; WASM memory per feature worker ${r.feature_worker_wasm_mb}` : ''}).

| classifier | features | train size | train time | test accuracy |
|---|---|---|---|---|
${rows}
${r.lesson ? `\nThe page's lesson: "${r.lesson}"\n` : ''}${memorySection(r)}${END}
`;
}

const mib = (x) => (x == null ? '?' : `${x} MB`);

// Where the memory is: each phase's peak, split by kind of process at that sample, with the
// workers' WASM memories then (bench/tab_experiment.js's peak_by_phase_mb).
function breakdownTable(r) {
  const phases = Object.entries(r.peak_by_phase_mb ?? {}).filter(([, v]) => v.at_peak);
  if (!phases.length) return '';
  const rows = phases.map(([k, v]) => `| ${k} | ${v.pss} | ${v.pssAnon} | ${v.rss} | ${Object.entries(v.at_peak.processes).map(([kind, x]) => `${kind} ${x}`).join(', ')} | ${v.at_peak.wasm.map((w) => `${w.name.replace(/\.js #/, ' #')} ${w.mb}`).join(', ') || '—'} |`);
  return `
Per phase (MiB; a phase's peak sample, "classifiers: X" while X trains): the PSS sum, its anonymous part, the RSS sum, the PSS of each kind of Chromium process at that sample, and the WASM memory of each live worker then (its size: a WASM memory never shrinks; bench/tab_experiment.js asks each worker).

| phase | PSS | anonymous | RSS | PSS by process | WASM memory per worker |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
}

// Where the renderer's memory is (bench/tab_probe.js): at each phase's largest breakdown sample and
// settled after loading and after the features (as is, then after a full garbage collection in
// every target: what a collection would free is garbage the tab keeps only because it is idle).
function whereTable(r) {
  const b = r.breakdown_mb;
  if (!b) return '';
  const rows = [...Object.entries(b.at_phase_peak).map(([k, v]) => [`${k} (peak)`, v]),
    ...Object.entries(b.settled).flatMap(([k, v]) => [[`${k}, settled`, v.asIs], [`${k}, after a full GC`, v.afterGc]])];
  const heaps = (t) => t.map((x) => `${x.target.replace(/^worker /, '').replace(/\.js$/, '')} ${x.used}/${x.total}${x.backing ? ` + ${x.backing}` : ''}`).join(', ');
  const kinds = [...new Set(rows.flatMap(([, v]) => Object.keys(v.renderer)))];
  return `
Where the renderer's memory is (MiB; \`bench/tab_probe.js\`): the renderer's PSS by kind of mapping from /proc/PID/smaps (a WASM memory or a big ArrayBuffer is one large region; V8's and the allocators' heaps are many small ones), and each target's JS heap used/total + its ArrayBuffer backing stores (V8's Runtime.getHeapUsage through the DevTools protocol; WASM memories are not among them: see the table above). A worker busy in a long WASM call does not answer and is left out.

| sample | PSS sum | anonymous | renderer | ${kinds.join(' | ')} | JS heaps: used/total + ArrayBuffers |
|---|---|---|---|${kinds.map(() => '---|').join('')}---|
${rows.map(([k, v]) => `| ${k} | ${v.pss} | ${v.pssAnon} | ${v.processes.renderer ?? '?'} | ${kinds.map((x) => v.renderer[x] ?? 0).join(' | ')} | ${heaps(v.targets)} |`).join('\n')}
`;
}

// Peak browser memory of this run next to the run before the memory work (issue 11: <= 800 MB PSS).
function memorySection(r) {
  if (!fs.existsSync(BEFORE_JSON) || r.peak_browser_pss_mb == null) return '';
  const b = JSON.parse(fs.readFileSync(BEFORE_JSON, 'utf8'));
  const phase = (x, k) => mib(x.peak_by_phase_mb?.[k]?.pss);
  return `
### Peak memory of the whole run (issue 11, target: at most 800 MB as a sum of PSS)

Before: ${b.measured}. After: the command above (${r.date}), on this machine while other engineers' builds and tests loaded it (load average after: ${r.load_average}); memory hardly depends on the load, times do. The lead can measure both builds in one session: \`node bench/tab_experiment.js --dist OLD/dist --out build/bench/before.json\`, then the same without --dist.

| | sum of PSS | of which anonymous / file-backed | sum of RSS | PSS peak while loading | while extracting | while training |
|---|---|---|---|---|---|---|
| before | ${mib(b.peak_browser_pss_mb)} | ? | ${mib(b.peak_browser_rss_mb)} | ${phase(b, 'load')} | ${phase(b, 'features')} | ${phase(b, 'classifiers')} |
| after | ${mib(r.peak_browser_pss_mb)} | ${mib(r.peak_browser_pss_anon_mb)} / ${mib(r.peak_browser_pss_file_mb)} | ${mib(r.peak_browser_rss_mb)} | ${phase(r, 'load')} | ${phase(r, 'features')} | ${phase(r, 'classifiers')} |

(Each column is its own peak over the run.) The file-backed part of PSS is mostly Chromium's own code, shared with every other Chromium process on the machine: with other engineers' browsers running it is split among them and looks smaller (we saw it jump from 126 MB to 238 MB within 10 s when some of them exited); the anonymous part (JS and WASM heaps) is the tab's own and is what this work changed. So the PSS sum of one run can move by 100 MB with the machine's other browsers; the anonymous peak does not.

Where the copies were, and what is left: the page held all features (287 MB for 70,000 x 1,024 float32) on the main thread, IndexedDB's write queue held them again until committed, then they moved to the classifier worker, which copied them into its WASM heap for each fit and evaluate (a heap never shrinks), next to a JS copy of the raw pixels as floats (219 MB) for the pixel baseline; the main thread also kept the WASM instance it loaded the data with (model and IDX files copied in).
Now the one copy is in the classifier worker's WASM heap, and it is filled only after the feature workers are gone: while they run, each batch (1 MB at S=32) goes from the page to IndexedDB in its own small transaction; then the classifier worker reads the batches back one at a time into its heap (without IndexedDB, or when a write fails, a batch goes there at once). The page keeps only images, labels, progress and a checksum; the classifiers read the features in place (\`lab.heapFloats\`, HeapFloats in wasm/denselab.js); before the pixel baseline (its floats: 219 MB) the worker drops the features when the cache holds them all, and the next run reads them back; the WASM instance that loads the data is not kept.
The features stay float32: the copies, not the element size, were the waste, and float32 keeps the page bit-identical to the CLI (same checksum, same accuracies; tests/fashion-web.test.js). float16 would save another 143 MB at the peak but every classifier would then train on rounded features and need the 0.1-point check against float32: the next step if the 800 MB must hold on a quiet machine.
${breakdownTable(r)}${whereTable(r)}${r.note ? `\n${r.note}\n` : ''}
WASM memory per feature worker: ${r.feature_worker_wasm_mb ?? '?'} (it does not grow with the batches: each batch of ${FASHION.batch} images reuses the same room).
`;
}

// Replace the section between BEGIN and END in an existing document (or append it).
export function writeSection(doc, begin, end, section) {
  const text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '';
  const a = text.indexOf(begin), b = text.indexOf(end);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length + 1) : `${text}\n${section}`;
  fs.writeFileSync(doc, next);
}

export function writeTabSection(doc) { writeSection(doc, BEGIN, END, tabSection()); }
