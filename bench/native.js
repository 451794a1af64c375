// native.js — row 4 of the benchmark: the native build.
//   build/native/kernels/kernels_bench --json --cpu           every distinct DenseNet121 conv shape (224x224),
//                                                            GEMM micro-kernels, measured SIMD mul+add peak
//   build/native/kernels/kernels_bench_xnnpack --json --cpu   the same shapes through XNNPACK (if built)
//   build/native/denselab bench --runs N --json               the whole network, 224x224, batch 1
// Kernel figures are CPU time of the benchmark thread (--cpu: robust on a shared machine;
// equal to wall time on an idle one). Whole-network XNNPACK is the sum of its per-shape
// times (a proxy: no XNNPACK subgraph of the full network is built).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NATIVE = {
  kernels: path.join(root, 'build/native/kernels/kernels_bench'),
  xnnpack: path.join(root, 'build/native/kernels/kernels_bench_xnnpack'),
  denselab: path.join(root, 'build/native/denselab'),
};

function runJson(exe, args) {
  const r = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.error) throw new Error(`${path.relative(root, exe)}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${path.relative(root, exe)} ${args.join(' ')} failed: ${r.stderr.trim().split('\n').pop()}`);
  try { return JSON.parse(r.stdout.trim().split('\n').pop()); } catch { throw new Error(`${path.relative(root, exe)}: no JSON on stdout`); }
}

const key = (l) => `${l.layer} ${l.shape}`;

// -> rows { what, unit, ours, peer, target, detail } (numbers; ratio = ours / peer).
export async function runNative({ quick = false, runs = quick ? 2 : 5, log = () => {} } = {}) {
  for (const exe of [NATIVE.kernels, NATIVE.denselab]) {
    if (!fs.existsSync(exe)) throw new Error(`${path.relative(root, exe)} is missing: run ./build.sh`);
  }
  const flags = ['--json', '--cpu', ...(quick ? ['--quick'] : [])];
  log('bench: native kernels_bench...\n');
  const ours = runJson(NATIVE.kernels, flags);
  let xnn = null, xnnNote = null;
  if (fs.existsSync(NATIVE.xnnpack)) {
    log('bench: native kernels_bench_xnnpack...\n');
    xnn = runJson(NATIVE.xnnpack, flags);
  } else xnnNote = `${path.relative(root, NATIVE.xnnpack)} not built (kernels/bench_xnnpack.c): no XNNPACK figures`;
  log('bench: native denselab bench...\n');
  const net = runJson(NATIVE.denselab, ['bench', '--runs', String(runs), '--threads', '1', '--json']);   // one thread, as the XNNPACK sum

  const rows = [];
  const best = ours.ukernels.filter((u) => u.name.endsWith('wasmsimd')).sort((a, b) => b.gflops - a.gflops)[0];
  rows.push({
    what: `GEMM micro-kernel ${best.name} (${ours.simd}, L1-resident, k=256) vs measured SIMD mul+add peak`, unit: 'GFLOP/s',
    ours: best.gflops, peer: ours.peak_gflops, target: { op: '>=', value: 0.7 },
    detail: { ukernels: ours.ukernels, peak_method: 'kernels_bench: 6 independent f32x4 multiply chains + 6 add chains in registers, best of 200 runs; 1 mul + 1 add = 8 flops' },
  });
  const peerLayers = new Map((xnn?.layers ?? []).map((l) => [key(l), l]));
  const shapes = ours.layers.map((l) => ({ layer: l.layer, shape: l.shape, count: l.count, mflop: l.mflop, algo: l.algo,
    ms: l.ms, gflops: l.gflops, xnnpack_ms: peerLayers.get(key(l))?.ms ?? null, xnnpack_gflops: peerLayers.get(key(l))?.gflops ?? null }));
  rows.push({
    what: `Native convolutions, ${quick ? 'one shape per block (--quick)' : 'all DenseNet121 224x224 convs'}: sum of per-shape times x count vs XNNPACK`, unit: 'ms',
    ours: ours.conv_total_ms, peer: xnn?.conv_total_ms ?? null, target: null,
    detail: { shapes, conv_total_gflop: ours.conv_total_gflop, clock: 'cpu', note: xnnNote ?? 'per-shape table in the details' },
  });
  rows.push({
    what: 'Native whole network 224x224 batch 1 (denselab bench) vs XNNPACK per-shape sum (proxy)', unit: 'ms',
    ours: { min: net.cpu_min_ms, median: net.cpu_median_ms, max: net.cpu_max_ms, n: net.runs }, peer: xnn?.conv_total_ms ?? null, target: { op: '<=', value: 2.0 },
    detail: { clock: 'cpu', wall: { min: net.min_ms, median: net.median_ms, max: net.max_ms }, cpu: { min: net.cpu_min_ms, median: net.cpu_median_ms, max: net.cpu_max_ms }, runs: net.runs,
      note: xnnNote ?? 'XNNPACK whole network = sum of its per-shape convolution times (no BN/concat/pool), so the ratio flatters XNNPACK' },
  });
  return rows;
}
