// bench.test.js — smoke test of the benchmark harness: `node wasm/cli.js bench --quick`
// (tiny rows 1, 2, 5, 6) and the native `denselab bench`. Checks the output's format
// and the agreement figures, never timings.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { maxAbsDiff, model, nativeCli, requireBuilt, root, run, shared } from './helpers.js';

const wasmCore = path.join(root, 'build/wasm/wasm/denselab_core.wasm');

function isStats(s) {
  return s && typeof s === 'object' && [s.min, s.median, s.max].every((v) => Number.isFinite(v) && v > 0) && s.min <= s.median && s.median <= s.max;
}

test('bench --quick --json: rows 1, 2, 5, 6 with ours, peer, ratio and agreement', { timeout: 600000 }, () => {
  requireBuilt(wasmCore, model);
  const r = spawnSync(process.execPath, ['wasm/cli.js', 'bench', '--quick', '--json', '--runs', '1', '--warmup', '1', '--page-c', '0.5'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.quick, true);
  assert.deepEqual(result.errors, []);
  assert.ok(result.machine.nproc >= 1 && result.machine.cpu && result.machine.node);
  assert.deepEqual([...new Set(result.rows.map((x) => x.row))], ['1', '2', '5', '6']);
  for (const x of result.rows) {
    assert.ok(isStats(x.ours) && isStats(x.peer), `row ${x.row}: min <= median <= max`);
    assert.ok(Math.abs(x.ratio - x.ours.median / x.peer.median) < 1e-9, `row ${x.row}: ratio = ours / peer`);
    assert.equal(typeof x.met, 'boolean');
    assert.match(x.what, /\S/);
  }
  const [r1] = result.rows.filter((x) => x.row === '1');
  assert.equal(r1.detail.top5_identical, true, 'top-5 identical to TF.js');
  assert.ok(r1.detail.max_prob_diff < 1e-4, `max prob diff ${r1.detail.max_prob_diff}`);
  for (const x of result.rows.filter((y) => y.row === '5' || y.row === '6')) {
    assert.ok(x.detail.accuracy > 0.1 && x.detail.accuracy <= 1 && x.detail.peer_accuracy > 0.1, `row ${x.row} accuracies`);
    assert.ok(Math.abs(x.detail.accuracy - x.detail.peer_accuracy) <= 0.02, `row ${x.row}: accuracy close to the peer's`);
  }
  const linear = result.rows.filter((x) => x.row === '5');
  assert.deepEqual(linear.map((x) => x.detail.C), [0.5, 1], 'the page default C (here --page-c) and C=1');
  for (const x of linear) assert.ok(x.detail.iterations.length === 10 && x.detail.peer_iterations.length === 10, 'iterations per class');
});

test('bench: a text table by default, clear errors for bad options', () => {
  requireBuilt(wasmCore, model);
  const bad = run('wasm', ['bench', '--only', '99']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--only: unknown row '99'/);
  const clock = run('wasm', ['bench', '--clock', 'sundial']);
  assert.equal(clock.status, 1);
  assert.match(clock.stderr, /--clock must be wall or cpu/);
  const txt = run('wasm', ['bench', '--quick', '--only', '6']);
  assert.equal(txt.status, 0, txt.stderr);
  assert.match(txt.stdout, /^row +what +unit +ours median \[min-max\] +peer median \[min-max\] +ratio +target/);
  assert.match(txt.stdout, /\n6 +RBF SVM .* s +[\d.]+ \[[\d.]+-[\d.]+\] +[\d.]+ \[[\d.]+-[\d.]+\] +[\d.]+ +<= 1: (met|missed)/);
});

test('native denselab bench --json: whole-network latency', () => {
  requireBuilt(nativeCli, model);
  const r = run('native', ['bench', '--runs', '2', '--include-top', 'false', '--pooling', 'avg', '--input-shape', '32,32,3', '--batch', '2', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.input_shape, [32, 32, 3]);
  assert.equal(j.batch, 2);
  assert.equal(j.runs, 2);
  for (const k of ['min_ms', 'median_ms', 'max_ms', 'cpu_median_ms', 'load_ms']) assert.ok(Number.isFinite(j[k]) && j[k] >= 0, k);
  assert.ok(j.min_ms <= j.median_ms && j.median_ms <= j.max_ms);
  const bad = run('native', ['bench', '--runs', 'x']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--runs must be an integer/);
});

// bench/onnx_model.js: the graph DenseLab's ONNX export writes (the network alone), run by ONNX
// Runtime Web (1 thread), gives our top-5 on a photo and our pooled features (rows 8-9 rely on it).
test('ONNX Runtime Web on the exported network: our top-5 and our features', { timeout: 300000 }, async () => {
  requireBuilt(wasmCore, model);
  const ort = await import('onnxruntime-web');
  const { buildDenseNetOnnx } = await import('../bench/onnx_model.js');
  const { agreement, openLab, ortFeeds, ortSession } = await import('../bench/net_peers.js');
  const lab = await openLab(1);
  const file = lab.loadModelFile(fs.readFileSync(model));
  const photo = path.join(shared, 'images', 'cat_285.png');
  const { rgb } = lab.loadImg(fs.readFileSync(photo), [224, 224]);
  const top = lab.buildNet(file, {});
  const ours = top.predict(lab.preprocessInput(rgb));
  const session = await ortSession(ort, 1, (await buildDenseNetOnnx({}, lab)).bytes);
  const theirs = (await session.run(ortFeeds(ort, rgb, [1, 224, 224, 3]))).output;
  assert.deepEqual(theirs.dims, [1, 1000]);
  const a = agreement({ ours, ort: theirs.data });
  assert.equal(a.ort.top5_identical, true, `top-5 ${a.ort.top5} vs ours ${a.ours.top5}`);
  assert.equal(a.ours.top5[0], 281, 'tabby first (the final ReLU is in the graph)');
  assert.ok(a.ort.max_prob_diff < 1e-4, `max prob diff ${a.ort.max_prob_diff}`);
  await session.release();
  // include_top=False, pooling='avg', 32x32, batch 2: the GlobalAveragePool + Flatten output.
  const opts = { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] };
  const feat = lab.buildNet(file, opts);
  const rgb32 = Uint8Array.from({ length: 2 * 32 * 32 * 3 }, (_, i) => (Math.sin(i * 0.37) + 1) * 127.5);
  const ourFeatures = feat.predict(lab.preprocessInput(rgb32), 2);
  const fs32 = await ortSession(ort, 1, (await buildDenseNetOnnx(opts, lab)).bytes);
  const theirFeatures = (await fs32.run(ortFeeds(ort, rgb32, [2, 32, 32, 3]))).output;
  assert.deepEqual(theirFeatures.dims, [2, 1024]);
  assert.ok(maxAbsDiff(ourFeatures, theirFeatures.data) < 1e-3, `max feature diff ${maxAbsDiff(ourFeatures, theirFeatures.data)}`);
  await fs32.release();
  feat.free(); top.free(); file.free();
});
