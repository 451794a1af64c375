#!/usr/bin/env node
// rbf_pair_cache.js — one RBF SVM pair (rbfTrainPair) against the kernel cache size (LIBSVM's -m):
// CPU seconds and a hash of the pair's bytes for each size, so that the page's smaller pair cache
// (web/defaults.js: FASHION.classifiers['rbf-svm'].pairCacheMb) is seen to give the same model.
//   node bench/rbf_pair_cache.js [--features build/bench/features32.npy] [--cache-mb 16,40,200] [--pairs "0,6;1,3"]
// The .npy: `node wasm/cli.js features --size 32 --out build/bench/features32.npy` (60,000 train rows first).
import fs from 'node:fs';
import v8 from 'node:v8';
import { pathToFileURL } from 'node:url';
import { createDenseLab } from '../wasm/denselab.js';
import { paths } from '../wasm/cli.js';
import { classIndex, pairTask, trainPairTask } from '../wasm/rbf-pairs.js';
import { crc32 } from 'node:zlib';
import { readNpy } from '../tests/helpers.js';

v8.setFlagsFromString('--no-liftoff');
const opts = { features: 'build/bench/features32.npy', 'cache-mb': '16,40,200', pairs: '0,6' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) throw new Error(`usage: see the head of bench/rbf_pair_cache.js (bad option ${argv[i]})`);
  opts[k] = argv[i + 1];
}
const n = 60000, x = readNpy(opts.features), d = x.shape[1];
const y = Int32Array.from(readNpy(opts.features.replace(/\.npy$/, '.labels.npy')).data.subarray(0, n));
const lab = await createDenseLab({ wasmBinary: fs.readFileSync(paths.wasm), coreUrl: pathToFileURL(paths.core).href });
const train = x.data.subarray(0, n * d), shared = lab.rbfPrepare(train, y, n, d, { C: 1 });
const rows = classIndex(y, n, shared.numClasses);
const pairs = opts.pairs.split(';').map((p) => p.split(',').map(Number));
for (const cacheMb of opts['cache-mb'].split(',').map(Number)) {
  let seconds = 0;
  const hashes = pairs.map(([ci, cj]) => {
    const task = pairTask(train, d, rows, ci, cj, shared, { C: 1, cacheMb });
    const c0 = process.cpuUsage(), bytes = trainPairTask(lab, task), c = process.cpuUsage(c0);
    seconds += (c.user + c.system) / 1e6;
    return crc32(bytes).toString(16);
  });
  console.log(JSON.stringify({ cache_mb: cacheMb, pairs: opts.pairs, cpu_seconds: +seconds.toFixed(1), crc32: hashes }));
}
