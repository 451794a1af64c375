// tab_section.js — the docs/benchmarks.md section for the whole experiment in a Chromium tab
// (bench/tab_experiment.js writes build/bench/tab_experiment.json; report.js and
// tab_experiment.js both put this section between its markers).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TAB_JSON = path.join(root, 'build/bench/tab_experiment.json');
const BEGIN = '<!-- tab-experiment -->', END = '<!-- /tab-experiment -->';

export function tabSection() {
  if (!fs.existsSync(TAB_JSON)) return `${BEGIN}\n${END}\n`;
  const r = JSON.parse(fs.readFileSync(TAB_JSON, 'utf8'));
  const rows = r.results.map((x) => `| ${x.cells.join(' | ')} |`).join('\n');
  return `${BEGIN}
## The whole experiment in a Chromium tab (row 7, measured on the page)

\`node bench/tab_experiment.js --train ${r.options.train} --test ${r.options.test} --size ${r.options.size} --workers ${r.options.workers}\` — ${r.date}, ${r.chromium}, ${r.cores} cores, load average after: ${r.load_average}.
dist/fashion.html driven by playwright-core: page load to "ready" ${r.load_seconds.toFixed(1)} s; features ${r.feature_seconds.toFixed(1)} s (${r.feature_progress}); all four classifiers ${r.classifiers_seconds.toFixed(1)} s; **peak memory of the browser's processes ${r.peak_browser_pss_mb ?? '?'} MB as a sum of PSS, ${r.peak_browser_rss_mb} MB as a sum of RSS** (MiB, /proc/PID/smaps_rollup over the browser's process tree, sampled every 250 ms${r.peak_by_phase_mb ? `; PSS peak while loading / extracting / training: ${['load', 'features', 'classifiers'].map((k) => r.peak_by_phase_mb[k]?.pss ?? '?').join(' / ')} MB` : ''}${r.feature_worker_wasm_mb ? `; WASM memory per feature worker ${r.feature_worker_wasm_mb} MB` : ''}).

| classifier | features | train size | train time | test accuracy |
|---|---|---|---|---|
${rows}
${END}
`;
}

// Replace the section in an existing document (or append it).
export function writeTabSection(doc) {
  const text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '';
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + tabSection() + text.slice(b + END.length + 1) : `${text}\n${tabSection()}`;
  fs.writeFileSync(doc, next);
}
