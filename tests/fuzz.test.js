// fuzz.test.js — replays the committed seed corpora (tests/fuzz/corpus/*:
// valid files of every kind plus the inputs of fixed crashes) through the
// libFuzzer harnesses built with -fsanitize=fuzzer,address,undefined. The
// long fuzzing runs are tests/fuzz/fuzz.sh's job, not the suite's.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireBuilt, root } from './helpers.js';

const HARNESSES = ['image', 'model', 'idx', 'classifier'];
const bin = (h) => path.join(root, 'build/fuzz', `fuzz_${h}`);

test('fuzz harnesses are up to date with the sources', () => {
  requireBuilt(...HARNESSES.map(bin));   // built by ./build.sh (tests/fuzz/fuzz.sh build)
  // Incremental: recompiles only what changed, so the replay below tests the current code.
  const r = spawnSync('make', ['-s', '-f', 'tests/fuzz/Makefile', '-j2'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `rebuilding the fuzz harnesses failed:\n${r.stdout}${r.stderr}`);
});

for (const h of HARNESSES) {
  test(`fuzz_${h}: every seed and regression input runs clean under ASan + UBSan`, () => {
    requireBuilt(bin(h));
    const corpus = path.join(root, 'tests/fuzz/corpus', h);
    const files = fs.readdirSync(corpus);
    assert.ok(files.length >= 3, `${corpus}: expected a seed corpus (node tests/fuzz/make_seeds.js)`);
    // A failing input is written under build/fuzz/replay-crashes/, not into the project root.
    const crashes = path.join(root, 'build/fuzz/replay-crashes', h);
    fs.mkdirSync(crashes, { recursive: true });
    const r = spawnSync(bin(h), [corpus, '-runs=0', '-rss_limit_mb=2048', '-timeout=20', `-artifact_prefix=${crashes}/`],
      { encoding: 'utf8', maxBuffer: 16 << 20 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.signal, null, `fuzz_${h} killed by ${r.signal}\n${r.stderr.slice(-3000)}`);
    assert.equal(r.status, 0, `fuzz_${h} found a problem in the committed corpus:\n${r.stderr.slice(-3000)}`);
    assert.match(r.stderr, /INITED/);
  });
}

test('tests/fuzz/results.json records a fuzzing run of every harness', () => {
  const results = JSON.parse(fs.readFileSync(path.join(root, 'tests/fuzz/results.json'), 'utf8'));
  for (const h of HARNESSES) {
    assert.ok(results[h]?.executions > 0, `no fuzzing run recorded for ${h} (tests/fuzz/fuzz.sh ${h} SECONDS)`);
  }
});
