// tab_probe.js — where a Chromium tab's memory is, for bench/tab_experiment.js:
//  - targetHeaps(): per target (the page and each of its dedicated workers) V8's Runtime.getHeapUsage
//    (JS heap used / total, and the ArrayBuffer backing stores, WASM memories included), through a
//    DevTools connection of our own (--remote-debugging-port=0 beside playwright's pipe; flat
//    sessions, so the workers are auto-attached to the page's session);
//  - smapsByKind(pid): a process's anonymous memory summed by kind of mapping from /proc/PID/smaps.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A flat-session DevTools client on the browser's own endpoint.
export class TargetProbe {
  static async connect(userDir) {
    const file = path.join(userDir, 'DevToolsActivePort');
    for (let i = 0; i < 100 && !fs.existsSync(file); i++) await sleep(100);
    const [port, wsPath] = fs.readFileSync(file, 'utf8').trim().split('\n');
    const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const probe = new TargetProbe(ws);
    await probe.send('Target.setDiscoverTargets', { discover: true });
    return probe;
  }

  constructor(ws) {
    Object.assign(this, { ws, nextId: 1, calls: new Map(), sessions: new Map() });   // sessionId -> { type, url }
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
