// tab_probe.js — where a Chromium tab's memory is, for bench/tab_experiment.js:
//  - targetHeaps(): per target (the page and each of its dedicated workers) V8's Runtime.getHeapUsage
//    (JS heap used / total, and the ArrayBuffer backing stores, WASM memories included), through a
//    DevTools connection of our own (--remote-debugging-port=0 beside playwright's pipe; flat
//    sessions, so the workers are auto-attached to the page's session);
//  - smapsByKind(pid): a process's anonymous memory summed by kind of mapping from /proc/PID/smaps;
//  - browserPids(userDir), processKind(pid), browserMemory(userDir): the browser's process tree and its
//    PSS / RSS sums from /proc/PID/smaps_rollup.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (x) => Math.round(x / 2 ** 20);

// A breakdown (TargetProbe.breakdown) as text lines.
export const breakdownLines = (name, b) => [`${name}: PSS ${b.pss} MB (anon ${b.pssAnon}); ${Object.entries(b.processes).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `  renderer by mapping: ${Object.entries(b.renderer).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  `  JS heaps used/total, backing stores: ${b.targets.map((t) => `${t.target} ${t.used}/${t.total}, ${t.backing}`).join('; ')}`].join('\n');

// A flat-session DevTools client on the browser's own endpoint.
export class TargetProbe {
  static async connect(userDir) {
    const file = path.join(userDir, 'DevToolsActivePort');
    for (let i = 0; i < 100 && !fs.existsSync(file); i++) await sleep(100);
    const [port, wsPath] = fs.readFileSync(file, 'utf8').trim().split('\n');
    const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const probe = new TargetProbe(ws, userDir);
    await probe.send('Target.setDiscoverTargets', { discover: true });
    return probe;
  }

  constructor(ws, userDir) {
    Object.assign(this, { ws, userDir, nextId: 1, calls: new Map(), sessions: new Map() });   // sessionId -> { type, url }
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.id) {
        const c = this.calls.get(msg.id);
        this.calls.delete(msg.id);
        if (c) (msg.error ? c.reject(new Error(msg.error.message)) : c.resolve(msg.result));
      } else if (msg.method === 'Target.attachedToTarget') {
        const { sessionId, targetInfo } = msg.params;
        this.sessions.set(sessionId, { type: targetInfo.type, url: targetInfo.url });
        // Its workers (dedicated workers are not top-level targets: only their page's session sees them).
        this.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, sessionId).catch(() => {});
      } else if (msg.method === 'Target.detachedFromTarget') {
        this.sessions.delete(msg.params.sessionId);
      } else if (msg.method === 'Target.targetCreated' && msg.params.targetInfo.type === 'page') {
        this.send('Target.attachToTarget', { targetId: msg.params.targetInfo.targetId, flatten: true }).catch(() => {});
      }
    });
  }

  send(method, params = {}, sessionId = undefined, timeoutMs = 5000) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.calls.delete(id); reject(new Error(`${method}: no answer`)); }, timeoutMs);
      this.calls.set(id, { resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    });
  }

  // [{ target: 'page' | 'worker <script>', used, total, backing (MiB) }]: a worker busy in a long
  // WASM call answers after the call, so those that do not answer within timeoutMs are left out.
  async targetHeaps(timeoutMs = 3000) {
    const mib = (x) => Math.round((x ?? 0) / 2 ** 20);
    const out = await Promise.all([...this.sessions].map(async ([sessionId, { type, url }]) => {
      try {
        const h = await this.send('Runtime.getHeapUsage', {}, sessionId, timeoutMs);
        return { target: type === 'page' ? 'page' : `${type} ${url.split('/').pop()}`, used: mib(h.usedSize), total: mib(h.totalSize), backing: mib(h.backingStorageSize) };
      } catch { return null; }
    }));
    return out.filter(Boolean).sort((a, b) => a.target.localeCompare(b.target));
  }

  // The memory at a moment, in MiB: the PSS sum, the renderer's PSS by kind of mapping, and each
  // target's JS heap (with gc: after a full collection in every target, so what is left is retained).
  async breakdown({ gc = false } = {}) {
    if (gc) await Promise.all([...this.sessions.keys()].map((s) => this.send('HeapProfiler.collectGarbage', {}, s, 10000).catch(() => {})));
    const renderer = {};
    for (const pid of rendererPids(this.userDir)) for (const [k, v] of Object.entries(smapsByKind(pid))) renderer[k] = (renderer[k] ?? 0) + v;
    const targets = await this.targetHeaps();
    const now = browserMemory(this.userDir);
    return { pss: mb(now.pss), pssAnon: mb(now.pssAnon), processes: Object.fromEntries(Object.entries(now.byKind).map(([k, v]) => [k, mb(v)])), renderer, targets };
  }

  // Settled (2 s after the page's last step): as is, then what a full collection frees in each
  // target in turn (the renderer's anonymous PSS before and after it), then after all of them.
  async settled(page) {
    await page.waitForTimeout(2000);
    const asIs = await this.breakdown(), gcFrees = {};
    const rendererAnon = () => rendererPids(this.userDir)
      .reduce((sum, pid) => sum + Object.entries(smapsByKind(pid)).filter(([k]) => k !== 'file-backed').reduce((a, [, v]) => a + v, 0), 0);
    for (const [sessionId, { type, url }] of this.sessions) {
      const before = rendererAnon();
      await this.send('HeapProfiler.collectGarbage', {}, sessionId, 10000).catch(() => {});
      await page.waitForTimeout(300);
      gcFrees[type === 'page' ? 'page' : `${type} ${url.split('/').pop()}`] = before - rendererAnon();
    }
    return { asIs, gcFrees, afterGc: await this.breakdown({ gc: true }) };
  }

  close() { this.ws.close(); }
}

// A process's PSS by kind of mapping (MiB, the larger ones first): Chromium names some anonymous
// mappings ([anon:partition_alloc] ...); unnamed ones by permissions and region size (a WASM
// memory or a big ArrayBuffer is one large region; V8's and the allocators' heaps are many small
// ones); file mappings are summed as one kind.
export function smapsByKind(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/smaps`, 'latin1'); } catch { return {}; }
  const sums = {};
  let kind = null;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const size = (parseInt(head[2], 16) - parseInt(head[1], 16)) / 2 ** 30, perms = head[3], name = head[4].trim();
      kind = name.startsWith('/') || name.startsWith('memfd:') ? 'file-backed'
        : name.startsWith('[anon:') || name === '[heap]' || name === '[stack]' ? name
          : name ? name : `anonymous ${perms} ${size >= 1 / 64 ? '>=' : '<'} 16 MiB regions`;
      continue;
    }
    const pss = /^Pss:\s+(\d+) kB/.exec(line);
    if (pss && kind) sums[kind] = (sums[kind] ?? 0) + Number(pss[1]) / 1024;
  }
  return Object.fromEntries(Object.entries(sums).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)]));
}

// The browser's processes: those whose command line names this profile, and all their
// descendants (renderers, workers' processes, GPU, network service). Only the tree of this
// browser: other Chromium instances on the machine are not counted.
export function browserPids(userDir) {
  const children = new Map(), roots = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(pid);
      // The browser's own flag, not any mention of the folder: this bench's command line names it too
      // with --profile, and its Node process (the bench itself, 150-250 MB) is no part of the browser.
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(`--user-data-dir=${userDir}`)) roots.push(pid);
    } catch { /* the process ended */ }
  }
  const out = new Set();
  const visit = (pid) => { if (out.has(pid)) return; out.add(pid); for (const c of children.get(pid) ?? []) visit(c); };
  roots.forEach(visit);
  return [...out];
}

// What a browser process is, from its command line: 'browser', 'renderer', 'gpu-process',
// 'zygote', or a utility process by its service ('network', 'storage', ...).
const kinds = new Map();   // pid -> kind (a pid's command line does not change)
export function processKind(pid) {
  if (!kinds.has(pid)) {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    const type = /--type=([\w-]+)/.exec(cmd)?.[1], sub = /--utility-sub-type=(?:\w+\.mojom\.)?(\w+)/.exec(cmd)?.[1];
    kinds.set(pid, !type ? (cmd.includes('crashpad') ? 'crashpad' : 'browser') : sub ? sub.replace(/Service$/, '').toLowerCase() : type);
  }
  return kinds.get(pid);
}

// { rss, pss, pssAnon, pssFile, byKind: { kind: pss } } (bytes) summed over the browser's
// processes. RSS counts a page shared by k processes k times; PSS counts 1/k of it in each, so
// the PSS sum is the memory the browser really holds. Its file part (Chromium's own code,
// shared with every other Chromium on the machine) shrinks when other browsers run; the
// anonymous part (heaps, WASM memory) does not.
const SMAPS = { rss: 'Rss', pss: 'Pss', pssAnon: 'Pss_Anon', pssFile: 'Pss_File' };
export function browserMemory(userDir) {
  const sum = { ...Object.fromEntries(Object.keys(SMAPS).map((k) => [k, 0])), byKind: {} };
  for (const pid of browserPids(userDir)) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1'), kind = processKind(pid);
      for (const [key, field] of Object.entries(SMAPS)) {
        const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
        if (m) sum[key] += Number(m[1]) * 1024;
        if (m && key === 'pss') sum.byKind[kind] = (sum.byKind[kind] ?? 0) + Number(m[1]) * 1024;
      }
    } catch { /* the process ended */ }
  }
  return sum;
}

// The browser's renderer processes.
const rendererPids = (userDir) => browserPids(userDir).filter((pid) => { try { return processKind(pid) === 'renderer'; } catch { return false; } });

// The short peaks of a run: timeline [{ t (s), pss, anon (MiB), key: the phase or 'phase: step' }] and
// events [{ t, what }] (workers started and ended, steps) -> per key, for field ('pss', or 'anon': the
// anonymous part, the tab's own memory; the file-backed part moves with the machine's other browsers),
// { steady: its median, peak, at: the peak's time, rise: peak - steady, near: the events from `before`
// s before the peak to `after` s after it }, the keys in the order they first appear. A rise of tens of
// MB above the median is a transient: what was happening then is in `near`.
export function transients(timeline, events, { field = 'pss', before = 3, after = 1 } = {}) {
  const byKey = new Map();
  for (const s of timeline) {
    if (!byKey.has(s.key)) byKey.set(s.key, []);
    byKey.get(s.key).push(s);
  }
  return [...byKey].map(([key, samples]) => {
    const sorted = samples.map((s) => s[field]).sort((a, b) => a - b), steady = sorted[Math.floor((sorted.length - 1) / 2)];
    const top = samples.reduce((a, b) => (b[field] > a[field] ? b : a));
    const near = events.filter((e) => e.t >= top.t - before && e.t <= top.t + after).map((e) => `${(e.t - top.t).toFixed(1)} s ${e.what}`);
    return { key, steady, peak: top[field], at: top.t, rise: top[field] - steady, near };
  });
}

export const transientLines = (list) => list.map((x) => `${x.key.padEnd(40)} median ${String(x.steady).padStart(4)} MB, peak ${String(x.peak).padStart(4)} MB (+${x.rise}) at ${x.at.toFixed(1)} s${x.near.length ? `; around it: ${x.near.join('; ')}` : ''}`).join('\n');
