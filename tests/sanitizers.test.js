// sanitizers.test.js — the native unit-test programs and the native CLI under
// AddressSanitizer + UndefinedBehaviorSanitizer (-DDENSELAB_SANITIZE=ON; the
// first report aborts the run), in two trees that ./build.sh configures:
// build/asan (64-bit) and build/asan32 (-m32: a 32-bit size_t, as in the
// WebAssembly build, where a wrapped size corrupts the heap silently).
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { model, requireBuilt, root, shared, tmpDir } from './helpers.js';

const tmp = tmpDir('denselab-asan-');
// detect_leaks: LeakSanitizer is part of ASan on Linux; a leak fails the run too.
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};

function run(exe, args, what) {
  requireBuilt(exe);
  const r = spawnSync(exe, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.error, undefined, `${what}: ${r.error}`);
  const out = `${r.stdout}\n${r.stderr}`;
  assert.doesNotMatch(out, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/, `${what}: sanitizer report\n${out.slice(-4000)}`);
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${out.slice(-4000)}`);
  return r;
}

const outputs = {};     // tree -> stdout of each good CLI run, compared across the trees at the end
for (const tree of ['asan', 'asan32']) {
  const asan = (p) => path.join(root, 'build', tree, p);
  const cli = asan('denselab');

  test(`${tree}: kernels_test under ASan + UBSan`, () => {
    const r = run(asan('kernels/kernels_test'), [], 'kernels_test');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /kernels_test: all \d+ checks passed/);
  });

  test(`${tree}: image_test under ASan + UBSan`, () => {
    const r = run(asan('models/image_test'), [path.join(shared, 'images'), path.join(shared, 'labels/imagenet_class_index.json'),
      path.join(root, 'tests/fixtures/images')], 'image_test');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /image_test: \d+ passed, 0 failed/);
  });

  test(`${tree}: learn_test under ASan + UBSan`, () => {
    const r = run(asan('learn/learn_test'), [], 'learn_test');
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test(`${tree}: native CLI under ASan + UBSan: good inputs succeed, bad inputs fail cleanly`, () => {
    requireBuilt(cli, model);
    const cat = path.join(shared, 'images/cat_285.png');
    const junk = path.join(tmp, `${tree}-junk.jpg`);
    fs.writeFileSync(junk, Buffer.from('\xff\xd8\xff\xe0 not really a jpeg', 'latin1'));
    const truncated = path.join(tmp, `${tree}-truncated.png`);
    fs.writeFileSync(truncated, fs.readFileSync(cat).subarray(0, 5000));
    const badModel = path.join(tmp, `${tree}-bad.dlm`);
    const m = Buffer.from(fs.readFileSync(model).subarray(0, 4096));
    fs.writeFileSync(badModel, m);
    const good = [
      ['classify', cat, path.join(shared, 'images/hot_dog.jpg'), '--top', '3'],
      ['summary', '--include-top', 'false', '--pooling', 'max', '--input-shape', '40,36,1', '--gray-to-rgb'],
      ['predict', cat, '--out', path.join(tmp, `${tree}-f.npy`), '--include-top', 'false', '--pooling', 'avg', '--input-shape', '32,32,3'],
      ['preprocess', path.join(shared, 'images/grace_hopper.bmp'), '--size', '7,300', '--out', path.join(tmp, `${tree}-p.npy`)],
    ];
    outputs[tree] = [];
    for (const args of good) {
      const r = run(cli, args, args.join(' '));
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      outputs[tree].push(r.stdout);
    }
    for (const f of ['f.npy', 'p.npy']) outputs[tree].push(fs.readFileSync(path.join(tmp, `${tree}-${f}`)).toString('base64'));
    const bad = [
      [['classify', junk, cat], /junk\.jpg: /],
      [['preprocess', truncated, '--out', path.join(tmp, `${tree}-t.npy`)], /truncated/],
      [['classify', cat, '--max-pixels', '1000'], /too large/],
      [['summary', '--model', badModel], /truncated/],
      [['summary', '--input-shape', '16,16,3', '--include-top', 'false'], /at least 32x32/],
    ];
    for (const [args, pattern] of bad) {
      const r = run(cli, args, args.join(' '));
      assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });
}

test('the 32-bit build (build/asan32) gives exactly the outputs of the 64-bit one', () => {
  assert.match(outputs.asan?.[0] ?? '', /tabby/);
  assert.deepEqual(outputs.asan32, outputs.asan);
});
