// bench_worker.js — DenseLab in a module worker (as the page runs it): builds the two
// benchmark networks and times net.predict on inputs handed over by the page.
//   { cmd: 'init', threads? } -> { threads: the thread count the engine uses (1 for a build without threads) }
//   { cmd: 'run', which: 'top'|'feat', input, batch } -> { ms, output }
import { createDenseLab } from './denselab.js';

let lab, file;
const nets = {};

async function init({ threads } = {}) {
  lab = await createDenseLab(threads ? { threads } : {});   // a build without threads ignores the option
  const res = await fetch('./densenet121.dlm');
  if (!res.ok) throw new Error(`densenet121.dlm: HTTP ${res.status}`);
  file = lab.loadModelFile(new Uint8Array(await res.arrayBuffer()));
  nets.top = lab.buildNet(file, {});
  nets.feat = lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  return { threads: lab.threadCount?.() ?? 1 };
}

function run({ which, input, batch }) {
  const t0 = performance.now();
  const output = nets[which].predict(input, batch);
  return { ms: performance.now() - t0, output };
}

self.onmessage = async ({ data }) => {
  try {
    const result = data.cmd === 'init' ? await init(data) : run(data);
    self.postMessage({ ok: true, result });
  } catch (e) {
    self.postMessage({ ok: false, error: e.message ?? String(e) });
  }
};
