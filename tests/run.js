#!/usr/bin/env node
// Runs every tests/*.test.js (sorted) with node's test runner and ends with its
// summary (ℹ tests / ℹ pass / ℹ fail). Exit status is non-zero on any failure.
//   node tests/run.js [FILTER...]   only files whose name contains one of the FILTERs
// DENSELAB_TEST_CONCURRENCY sets how many test files run at once (default 2:
// the machine has 2 cores and the tests spawn heavy processes).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const testsDir = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = fs.readdirSync(testsDir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => path.join('tests', f));

if (files.length === 0) {
  console.error(`run.js: no test files match ${filters.length ? filters.join(', ') : 'tests/*.test.js'}`);
  process.exit(1);
}

const concurrency = process.env.DENSELAB_TEST_CONCURRENCY || '2';
const args = ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`,
  '--test-timeout=600000', ...files];
const child = spawn(process.execPath, args, { cwd: path.join(testsDir, '..'), stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(signal ? 1 : code));
