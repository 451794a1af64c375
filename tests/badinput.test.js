// badinput.test.js — issue 5's bad inputs (tests/reliability/cases.js) on the
// native CLI, the WASM CLI and the JS API: one clear message, a non-zero exit
// (CLI) or a thrown Error (API), never a crash; valid-but-unusual images
// decode as PIL would; and everything keeps working afterwards. CLI cases
// already asserted in tests/model.test.js are not repeated here (their API
// counterparts are).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { model, nativeCli, requireBuilt, root, run, shared, tmpDir } from './helpers.js';
import { firstLine, makeCases, openLab, runApi, runNative, runWasm, wasmCore } from './reliability/cases.js';

const tmp = tmpDir('denselab-badinput-');
const cases = makeCases(tmp);
const label = (c) => `[${c.group}] ${c.input}`;

// A CLI result that is a clean failure (or success) as the case expects.
function checkCli(c, r, cli) {
  const what = `${cli}: ${label(c)}`;
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |Aborted|Segmentation/, `${what}: a crash or stack trace\n${r.stderr}`);
  if (c.expect === 'ok' || (c.expect === 'clean' && r.status === 0)) {
    assert.equal(r.status, 0, `${what}: should succeed\n${r.stderr}`);
    return;
  }
  assert.equal(r.status, 1, `${what}: exit ${r.status}\n${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: expected one line on stderr\n${r.stderr}`);
  assert.match(r.stderr, /^denselab: /, what);
  if (c.expect instanceof RegExp) assert.match(r.stderr, c.expect, what);
}

function checkApi(c, r) {
  if (c.expect === 'ok' || (c.expect === 'clean' && r.ok)) {
    assert.ok(r.ok, `API: ${label(c)}: should succeed, threw ${r.message}`);
    if (c.check) assert.ok(c.check(r.img), `API: ${label(c)}: wrong pixels ${Array.from(r.img.rgb.subarray(0, 12))}`);
    return;
  }
  assert.ok(!r.ok, `API: ${label(c)}: should throw`);
  assert.ok(r.message && !r.message.includes('\n'), `API: ${label(c)}: unclear message ${JSON.stringify(r.message)}`);
  if (c.expect instanceof RegExp) assert.match(r.message, c.expect, `API: ${label(c)}`);
}

const cliCases = cases.filter((c) => (c.image || c.args) && !c.elsewhere);

test('native CLI: each bad input gives one clear line and exit 1; unusual valid images decode', () => {
  requireBuilt(nativeCli, model);
  for (const c of cliCases) checkCli(c, runNative(c, tmp), 'native');
});

test('WASM CLI: the same for arguments, model files and Fashion-MNIST', () => {
  requireBuilt(wasmCore, model);
  for (const c of cliCases.filter((x) => x.args)) checkCli(c, runWasm(c), 'wasm');
});

test('WASM CLI: classify on every image case at once reports each bad one on its own line and still classifies the good ones', () => {
  requireBuilt(wasmCore, model);
  const batch = cases.filter((c) => c.image && !c.maxPixels);
  const cat = path.join(shared, 'images/cat_285.png');
  const r = run('wasm', ['classify', ...batch.map((c) => c.image), cat, '--top', '1']);
  assert.equal(r.signal, null);
  assert.equal(r.status, 1, r.stderr);
  const errLines = r.stderr.trim().split('\n'), outLines = r.stdout.trim().split('\n');
  for (const c of batch) {
    const errs = errLines.filter((l) => l.startsWith(`denselab: ${c.image}: `));
    const outs = outLines.filter((l) => l.startsWith(`${c.image}: [(`));
    assert.equal(errs.length + outs.length, 1, `${label(c)}: expected exactly one result line`);
    if (c.expect === 'ok') assert.equal(outs.length, 1, `${label(c)}: ${errs[0]}`);
    else if (c.expect instanceof RegExp) assert.match(errs[0] ?? '(classified)', c.expect, label(c));
  }
  assert.match(outLines.at(-1), /^.*cat_285\.png: \[\('n02123045', 'tabby', /);
  assert.equal(errLines.length + outLines.length, batch.length + 1);
});

test('JS API: every case throws an Error with a clear message (or decodes correctly); the instance keeps working', async () => {
  requireBuilt(wasmCore, model);
  const ctx = await openLab();
  const used = ctx.lab.heapUsed();
  for (const c of cases.filter((x) => x.image || x.api)) checkApi(c, runApi(c, ctx));
  assert.ok(ctx.lab.heapUsed() <= used + 1024, `the failing calls leaked: ${used} -> ${ctx.lab.heapUsed()} bytes in use`);
  const net = ctx.lab.buildNet(ctx.file);
  const x = ctx.lab.preprocessInput(ctx.lab.loadImg(fs.readFileSync(path.join(shared, 'images/zebra_340.png')), [224, 224]).rgb);
  assert.equal(ctx.lab.decodePredictions(net.predict(x), 1)[0].label, 'zebra');
  net.free(); ctx.file.free();
});

test('classify --json with a file name that is not UTF-8: valid JSON natively; WASM (Node cannot open such a name) fails in one line', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const dir = fs.mkdtempSync(path.join(tmp, 'names-'));
  // "café" in Latin-1, a cut 3-byte sequence, a lone 0xff: each becomes U+FFFD, as Node decodes argv.
  const name = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('-'), Buffer.from([0xe2, 0x82]), Buffer.from('-'), Buffer.from([0xff]), Buffer.from('"\\.png')]);
  fs.copyFileSync(path.join(shared, 'images/cat_285.png'), Buffer.concat([Buffer.from(`${dir}/`), name]));
  // A shell glob hands the raw bytes over (spawn's arguments are always UTF-8).
  const [native, wasm] = [[nativeCli], [process.execPath, path.join(root, 'wasm/cli.js')]].map((cmd) =>
    spawnSync('sh', ['-c', 'exec "$@" classify --top 1 --json ./*.png', 'sh', ...cmd], { cwd: dir, encoding: 'utf8' }));
  assert.equal(native.status, 0, native.stderr);
  const parsed = JSON.parse(native.stdout);
  assert.equal(parsed[0].image, './caf\uFFFD-\uFFFD-\uFFFD"\\.png');     // what JSON.stringify of Node's argv gives
  assert.equal(parsed[0].predictions[0].label, 'tabby');
  assert.equal(wasm.status, 1);
  assert.equal(wasm.stdout, '[]\n');
  assert.match(wasm.stderr, /^denselab: cannot read \.\/caf\uFFFD-\uFFFD-\uFFFD"\\\.png: No such file or directory\n$/);
});

test('fashion --json: one object, the same bytes on both CLIs (timings aside), --size printed as the number parsed; --feature-type f32 and f16 too', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const args = ['fashion', '--json', '--size', '032', '--train', '30', '--test', '20', '--classifier', 'all', '--epochs', '2', '--hidden', '8'];
  const both = (extra) => ['native', 'wasm'].map((cli) => {
    const r = run(cli, [...args, ...extra]);
    assert.equal(r.status, 0, `${cli}: ${r.stderr}`);
    return r.stdout.replace(/"(train|feature)_seconds": [\d.]+/g, '"$1_seconds": T');
  });
  const [native, wasm] = both([]);   // the SVMs' features stored as float16, the others' float32 (learn/report.h), as the page stores them
  assert.equal(native, wasm);
  const [native32, wasm32] = both(['--feature-type', 'f32']);
  assert.equal(native32, wasm32, '--feature-type f32: the CLIs differ');
  const [native16, wasm16] = both(['--feature-type', 'f16']);   // every feature row float16 (the softmax head's too)
  assert.equal(native16, wasm16, '--feature-type f16: the CLIs differ');
  assert.deepEqual(JSON.parse(native32.replace(/: T/g, ': 0')).results.map((r) => r.classifier), ['linear-svm', 'rbf-svm', 'softmax', 'finetune', 'pixels-linear-svm']);
  const j = JSON.parse(native.replace(/: T/g, ': 0'));
  assert.equal(j.size, 32);
  assert.deepEqual(Object.keys(j), ['size', 'train', 'test', 'feature_seconds', 'results']);
  assert.deepEqual(j.results.map((r) => r.classifier), ['linear-svm', 'rbf-svm', 'softmax', 'finetune', 'pixels-linear-svm']);
});
