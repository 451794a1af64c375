// fuzz.test.js — the libFuzzer harnesses (tests/fuzz/, -fsanitize=fuzzer,address,undefined),
// each in the 64-bit build (build/fuzz) and the 32-bit one (build/fuzz32: -m32, a 32-bit
// size_t as in the WebAssembly build):
//   - every committed seed (tests/fuzz/corpus/H) and every fixed finding
//     (tests/fuzz/regressions/H) runs clean;
//   - a short fuzzing run from those seeds (a fixed number of mutations, structure-aware for
//     model and classifier files, fixed random seed) finds nothing;
//   - every finding still open (tests/fuzz/regressions/open.json: builds, the class of inputs
//     the harness skips while it is open, the signature its failure prints) still fails as
//     reported, so a fix shows up here as "delete its entry" and its class is fuzzed again.
// The long runs are tests/fuzz/fuzz.sh's job (counts in tests/fuzz/results.json).
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireBuilt, root, tmpDir } from './helpers.js';

const HARNESSES = ['image', 'model', 'idx', 'classifier'];
const BUILDS = { 64: 'build/fuzz', 32: 'build/fuzz32' };
// Mutations per short run: a few seconds each on a busy machine.
const RUNS = { image: 800, model: 2500, idx: 4000, classifier: 4000 };
// -timeout only catches hangs (no timed assertions): a slow machine must not fail the suite.
const LIMITS = ['-rss_limit_mb=2048', '-malloc_limit_mb=2048', '-timeout=300', '-max_len=65536'];
const open = JSON.parse(fs.readFileSync(path.join(root, 'tests/fuzz/regressions/open.json'), 'utf8'));
const tmp = tmpDir('denselab-fuzz-');
// Inputs that fail are kept here (not in the project root, not in the temporary directory).
const crashes = path.join(root, 'build/fuzz/test-crashes');
fs.mkdirSync(crashes, { recursive: true });

const bin = (h, bits) => path.join(root, BUILDS[bits], `fuzz_${h}`);
const list = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => !f.endsWith('.json')).sort() : []);
const isOpen = (h, f, bits) => open[`${h}/${f}`]?.builds.includes(bits);
// Every committed input of harness h that must run clean in this build.
function cleanInputs(h, bits) {
  const corpus = path.join(root, 'tests/fuzz/corpus', h), regressions = path.join(root, 'tests/fuzz/regressions', h);
  return [...list(corpus).map((f) => path.join(corpus, f)),
    ...list(regressions).filter((f) => !isOpen(h, f, bits)).map((f) => path.join(regressions, f))];
}
// The classes of open findings a short run skips (see known_open() in the harnesses).
const skipClasses = (bits) => [...new Set(Object.values(open).filter((o) => o.builds.includes(bits)).map((o) => o.class))].join(',') || 'none';

function fuzzer(h, bits, args, { skipOpen = true } = {}) {
  const r = spawnSync(bin(h, bits), [...args, ...LIMITS], {
    encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, DENSELAB_FUZZ_SKIP_KNOWN: skipOpen ? skipClasses(bits) : 'none' },
  });
  assert.equal(r.error, undefined, String(r.error));
  return r;
}

test('fuzz harnesses (64- and 32-bit) are up to date with the sources', () => {
  requireBuilt(...Object.keys(BUILDS).flatMap((bits) => HARNESSES.map((h) => bin(h, bits))));   // ./build.sh builds them
  // Incremental: recompiles only what changed, so the runs below test the current code.
  for (const bits of Object.keys(BUILDS)) {
    const r = spawnSync('make', ['-s', '-f', 'tests/fuzz/Makefile', '-j2', `BITS=${bits}`], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `rebuilding the ${bits}-bit fuzz harnesses failed:\n${r.stdout}${r.stderr}`);
  }
});

for (const bits of [64, 32]) {
  for (const h of HARNESSES) {
    test(`fuzz_${h} (${bits}-bit): every seed and fixed finding runs clean under ASan + UBSan`, () => {
      const files = cleanInputs(h, bits);
      assert.ok(files.length >= 3, `tests/fuzz/corpus/${h}: expected a seed corpus (node tests/fuzz/make_seeds.js)`);
      const r = fuzzer(h, bits, [...files, `-artifact_prefix=${crashes}/`]);
      assert.equal(r.signal, null, `fuzz_${h} killed by ${r.signal}\n${r.stderr.slice(-3000)}`);
      assert.equal(r.status, 0, `fuzz_${h} (${bits}-bit) fails on a committed input:\n${r.stderr.slice(-3000)}`);
      assert.equal(r.stderr.match(/^Executed /gm)?.length, files.length, r.stderr.slice(-2000));
    });

    test(`fuzz_${h} (${bits}-bit): ${RUNS[h]} mutations of the seeds run clean`, () => {
      // New units go to a fresh directory; the committed inputs are copied next to them.
      const corpus = path.join(tmp, `corpus-${h}-${bits}`);
      fs.mkdirSync(corpus);
      const seeds = cleanInputs(h, bits);
      seeds.forEach((f, i) => fs.copyFileSync(f, path.join(corpus, `${i}-${path.basename(f)}`)));
      const r = fuzzer(h, bits, [corpus, `-runs=${RUNS[h]}`, '-seed=1', `-artifact_prefix=${crashes}/`]);
      assert.equal(r.signal, null, `fuzz_${h} killed by ${r.signal}\n${r.stderr.slice(-3000)}`);
      assert.equal(r.status, 0, `fuzz_${h} (${bits}-bit) found a problem (input saved in ${crashes}):\n${r.stderr.slice(-4000)}`);
      assert.match(r.stderr, new RegExp(`Done ${RUNS[h]} runs`));
      // The mutations reach new code: the corpus grows (a broken mutator would add nothing).
      assert.ok(list(corpus).length > seeds.length, `no new coverage in ${RUNS[h]} runs\n${r.stderr.slice(-2000)}`);
    });
  }
}

for (const [name, finding] of Object.entries(open)) {
  for (const bits of finding.builds) {
    test(`open finding ${name} (${bits}-bit) still fails as reported: ${finding.stack}`, () => {
      const [h] = name.split('/');
      const r = fuzzer(h, bits, [path.join(root, 'tests/fuzz/regressions', name)], { skipOpen: false });
      assert.notEqual(r.status, 0, `tests/fuzz/regressions/${name} now runs clean in the ${bits}-bit build: `
        + 'the defect is fixed; delete its entry in tests/fuzz/regressions/open.json (the file stays as a regression seed)');
      assert.match(r.stderr, new RegExp(finding.signature), `${name}: fails differently than reported (${finding.stack}):\n${r.stderr.slice(-3000)}`);
    });
  }
}

after(() => fs.rmSync(tmp, { recursive: true, force: true }));
