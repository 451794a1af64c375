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
dist/fashion.html driven by playwright-core: page load to "ready" ${r.load_seconds.toFixed(1)} s; features ${r.feature_seconds.toFixed(1)} s (${r.feature_progress}); all four classifiers ${r.classifiers_seconds.toFixed(1)} s; **peak memory of the browser's processes ${r.peak_browser_rss_mb} MB** (sum of RSS, sampled every 250 ms).

| classifier | features | train size | train time | test accuracy |
|---|---|---|---|---|
${rows}
${END}
`;
}

// Replace the section between begin and end in an existing document (or append it).
export function replaceSection(doc, begin, end, section) {
  const text = fs.existsSync(doc) ? fs.readFileSync(doc, 'utf8') : '';
  const a = text.indexOf(begin), b = text.indexOf(end);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length + 1) : `${text}\n${section}`;
  fs.writeFileSync(doc, next);
}

export const writeTabSection = (doc) => replaceSection(doc, BEGIN, END, tabSection());
