// "Your own classes" (issue 13) on the command line: `train DIR` on a small real data set made at
// test time (Fashion-MNIST classes as PNG/BMP + the shared photos), the same bytes from the
// native and the Node CLI, the project file (save, classify --project, damaged and foreign
// files), the cross-validation folds, and the JS API's project object.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createDenseLab } from '../wasm/denselab.js';
import { crossValidate, openTrainedClassifier } from '../wasm/train.js';
import { model, nativeCli, requireBuilt, root, run, tmpDir } from './helpers.js';
import { crc32, fashionImages, grayPng, makeTrainingSet, TRAIN_CLASSES } from './train-data.js';

const SIZE = '96';     // the features are size-independent in what is tested; 96 keeps it fast
const tmp = tmpDir('denselab-train-');
const data = makeTrainingSet(path.join(tmp, 'set'));
// One file stb cannot read (WebP): listed with its reason and skipped.
fs.writeFileSync(path.join(data.dir, 'bag', 'bag-99.webp'), Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00', 'latin1'));
const wasmCore = path.join(root, 'build/wasm/wasm/denselab_core.wasm');
const trainedProject = path.join(tmp, 'clothes.dlproj.native');   // written by the second test

function both(args) {
  const r = { native: run('native', args), wasm: run('wasm', args) };
  assert.equal(r.wasm.stdout, r.native.stdout, 'the two CLIs print the same bytes');
  assert.equal(r.wasm.status, r.native.status);
  return r.native;
}

test('train: both CLIs, same report; cross-validated accuracy, per class, confusion', () => {
  requireBuilt(nativeCli, model, wasmCore);
  const text = both(['train', data.dir, '--size', SIZE]);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^cross-validation: stratified 5-fold, 31 images, 4 classes\naccuracy: /);
  assert.match(text.stderr, /bag-99\.webp: .*\ndenselab: skipped .*bag-99\.webp/);
  const r = both(['train', data.dir, '--size', SIZE, '--json']);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.per_class.map((c) => c.class), ['bag', 'photos', 'sneaker', 'trouser']);
  assert.deepEqual(j.per_class.map((c) => c.images), [8, 7, 8, 8]);
  assert.equal(j.folds, 5);
  assert.ok(j.accuracy >= 0.8, `accuracy ${j.accuracy}`);
  assert.equal(j.confusion.flat().reduce((a, b) => a + b, 0), 31);
});

test('train --out, classify --project: the same labels and scores from both CLIs; held-out images', () => {
  const project = path.join(tmp, 'clothes.dlproj');
  for (const cli of ['native', 'wasm']) {
    const r = run(cli, ['train', data.dir, '--size', SIZE, '--classifier', 'softmax', '--epochs', '30', '--out', project, '--with-images']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /wrote .*\(4 classes, 31 images included\)/);
    fs.renameSync(project, `${project}.${cli}`);
  }
  assert.ok(fs.readFileSync(`${project}.native`).equals(fs.readFileSync(`${project}.wasm`)), 'the same project file, byte for byte');
  // Held-out Fashion-MNIST images (after the ones trained on).
  const held = fashionImages(2, 20), files = [];
  for (const [name, label] of Object.entries(TRAIN_CLASSES)) held[label].forEach((px, i) => { const f = path.join(tmp, `${name}-new${i}.png`); fs.writeFileSync(f, grayPng(px)); files.push([name, f]); });
  const r = both(['classify', '--project', `${project}.native`, ...files.map(([, f]) => f), '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const right = out.filter((o, i) => o.label === files[i][0]).length;
  assert.ok(right >= 5, `${right}/6 held-out images right: ${r.stdout}`);
  for (const o of out) {
    assert.equal(o.scores.length, 4);
    assert.ok(Math.abs(o.scores.reduce((a, [, s]) => a + s, 0) - 1) < 1e-4, 'softmax probabilities');
  }
  const t = both(['classify', '--project', `${project}.native`, files[0][1]]);
  assert.match(t.stdout, /^.*trouser-new0\.png: \S+ \((\S+ -?\d\.\d{6}(, )?){4}\)\n$/);
});

test('project files: damaged, truncated, foreign and classifier files are refused with a reason', () => {
  const good = path.join(tmp, 'good.dlproj');
  assert.equal(run('native', ['train', data.dir, '--size', SIZE, '--cv', '2', '--out', good]).status, 0);
  const bytes = fs.readFileSync(good), cases = [
    ['damaged', Buffer.from(bytes).fill(7, 40, 41), /damaged \(CRC-32 mismatch\)/],
    ['truncated', bytes.subarray(0, 30), /truncated/],
    ['foreign', fs.readFileSync(path.join(data.dir, 'bag', 'bag-00.png')), /not a DenseLab project file/],
    ['empty', Buffer.alloc(0), /not a DenseLab project file/],
  ];
  for (const [name, b, why] of cases) {
    const f = path.join(tmp, `${name}.dlproj`);
    fs.writeFileSync(f, b);
    const r = both(['classify', '--project', f, path.join(data.dir, 'bag', 'bag-00.png')]);
    assert.equal(r.status, 1, name);
    assert.match(r.stderr, why, name);
  }
});

test('cross-validation: leave-one-out under 5 images a class; errors for a 1-image class and bad --cv', () => {
  const small = makeTrainingSet(path.join(tmp, 'small'), { perClass: 3, photos: false });
  const r = both(['train', small.dir, '--size', SIZE]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^cross-validation: leave-one-out, 9 images, 3 classes\n/);
  for (const f of fs.readdirSync(path.join(small.dir, 'bag')).slice(1)) fs.rmSync(path.join(small.dir, 'bag', f));
  const one = both(['train', small.dir, '--size', SIZE]);
  assert.equal(one.status, 1);
  assert.match(one.stderr, /class 0 has 1 image: every class needs at least 2/);
  const bad = both(['train', small.dir, '--cv', '1']);
  assert.match(bad.stderr, /--cv must be at least 2, got 1/);
  assert.match(both(['train', small.dir, '--classifier', 'tree']).stderr, /unknown classifier 'tree'/);
  assert.match(both(['train', path.join(small.dir, 'bag')]).stderr, /holds 0 class folders/);
  const many = path.join(tmp, 'many');   // one folder more than the C core's DL_PROJECT_MAX_CLASSES
  for (let c = 0; c <= 50; c++) fs.mkdirSync(path.join(many, `class${c}`), { recursive: true });
  for (const cli of ['native', 'wasm']) assert.match(run(cli, ['train', many]).stderr, /holds 51 class folders \(2 to 50 needed\)/, cli);
});

test('JS API: stratified folds, a project round trip, the same CV as the CLI', async () => {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasmCore), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
  const p = lab.newProject({ size: 96, cv: 4, kind: 'linear-svm', params: { C: 0.5 }, classes: ['a', 'b', 'c'] });
  const y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2];
  const { fold, folds } = p.cvFolds(y);
  assert.equal(folds, 4);
  for (let c = 0; c < 3; c++) {
    const per = [0, 0, 0, 0];
    y.forEach((l, i) => { if (l === c) per[fold[i]]++; });
    assert.ok(Math.max(...per) - Math.min(...per) <= 1, `class ${c} spread ${per}`);
  }
  const sizes = [0, 0, 0, 0];
  fold.forEach((f) => sizes[f]++);
  assert.deepEqual(sizes, [5, 5, 5, 5]);
  assert.throws(() => p.addClass('a'), /two classes are named 'a'/);
  assert.throws(() => p.addClass('x\ny'), /control character/);
  p.addImage(1, 'one.png', new Uint8Array([1, 2, 3]));
  const copy = lab.loadProject(p.save());
  const info = copy.info();
  assert.deepEqual([info.size, info.cv, info.kind, info.params, info.classes, info.imageNames, info.trained], [96, 4, 'linear-svm', { C: 0.5 }, ['a', 'b', 'c'], ['one.png'], false]);
  assert.deepEqual(Array.from(copy.bytes(0).bytes), [1, 2, 3]);
  assert.throws(() => lab.loadProject(new Uint8Array(10)), /not a DenseLab project file/);
  // Separable toy features: CV through the JS API equals the C core's confusion count.
  const d = 3, x = new Float32Array(y.length * d);
  y.forEach((l, i) => { x[i * d + l] = 1 + (i % 3) * 0.1; });
  const r = crossValidate(p, x, y, d);
  assert.equal(r.accuracy, 1);
  assert.match(p.formatReport({ confusion: r.confusion, n: y.length, folds: r.folds }), /^cross-validation: stratified 4-fold, 20 images, 3 classes\naccuracy: 1\.0000 \(20\/20\)/);
  p.free(); copy.free();
  assert.throws(() => p.info(), /this project was freed/);
});

test('train --holdout F: a seeded, stratified held-out fraction, the same report from both CLIs; classify --classifier FILE', () => {
  const small = makeTrainingSet(path.join(tmp, 'holdout'), { perClass: 4, photos: false });
  const text = both(['train', small.dir, '--size', SIZE, '--holdout', '0.5']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^held-out evaluation: 50% of each class \(seed 1\), 6 of 12 images held out, 3 classes\naccuracy: \S+ \(\d\/6\)\n/);
  const r = both(['train', small.dir, '--size', SIZE, '--holdout', '0.5', '--json']);
  const j = JSON.parse(r.stdout);
  assert.deepEqual([j.images, j.holdout, j.held_out, j.folds, j.leave_one_out], [12, 0.5, 6, 1, false]);
  assert.deepEqual(j.per_class.map((c) => c.images), [2, 2, 2]);
  assert.equal(j.confusion.flat().reduce((a, b) => a + b, 0), 6);
  for (const [args, why] of [[['--holdout', '1'], /--holdout must be a fraction above 0 and below 1, got '1'/],
    [['--holdout', 'x'], /--holdout must be a fraction above 0 and below 1, got 'x'/],
    [['--holdout', '0.2', '--cv', '3'], /--holdout and --cv: choose one way to evaluate/]]) {
    const bad = both(['train', small.dir, ...args]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, why);
  }
  // classify --classifier FILE (the spelling) = --project FILE, text and JSON, both CLIs.
  const photo = path.join(data.dir, 'trouser', 'trouser-00.png');
  for (const json of [[], ['--json']]) {
    const byClassifier = both(['classify', '--classifier', trainedProject, photo, ...json]);
    assert.equal(byClassifier.status, 0, byClassifier.stderr);
    assert.equal(byClassifier.stdout, run('native', ['classify', '--project', trainedProject, photo, ...json]).stdout);
  }
});

test('JS API: held-out folds are stratified and seeded; the holdout survives a project round trip; openTrainedClassifier', async () => {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasmCore), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
  const y = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2];
  const p = lab.newProject({ size: 64, holdout: 0.3, classes: ['a', 'b', 'c'] });
  const { fold, folds } = p.cvFolds(y);
  assert.equal(folds, 1);
  const held = [0, 1, 2].map((c) => y.filter((l, i) => l === c && fold[i] === 0).length);
  assert.deepEqual(held, [2, 3, 1], 'round(0.3 x count), at least 1 and 1 left to train on');
  assert.ok(fold.every((f) => f === 0 || f === -1));
  assert.deepEqual(Array.from(lab.newProject({ size: 64, holdout: 0.3, classes: ['a', 'b', 'c'] }).cvFolds(y).fold), Array.from(fold), 'seeded: the same images');
  const copy = lab.loadProject(p.save());
  assert.equal(copy.info().holdout, 0.3);
  assert.deepEqual(Array.from(copy.cvFolds(y).fold), Array.from(fold));
  assert.equal(lab.loadProject(lab.newProject({ classes: ['a', 'b'] }).save()).info().holdout, 0, 'cross-validation projects stay version 1');
  const d = 3, x = new Float32Array(y.length * d);
  y.forEach((l, i) => { x[i * d + l] = 1 + (i % 3) * 0.1; });
  const r = crossValidate(p, x, y, d);
  assert.equal(r.evaluated, 6);
  assert.equal(r.accuracy, 1);
  assert.deepEqual(Array.from(r.predictions).filter((q) => q < 0).length, 11, 'images only trained on are not predicted');
  assert.match(p.formatReport({ confusion: r.confusion, n: y.length, folds: r.folds }), /^held-out evaluation: 30% of each class \(seed 1\), 6 of 17 images held out, 3 classes\naccuracy: 1\.0000 \(6\/6\)/);
  for (const bad of [1, -0.1, NaN]) assert.throws(() => lab.newProject({ holdout: bad }), /held-out fraction must be above 0 and below 1/);
  assert.throws(() => lab.newProject({ holdout: '0.2' }), /holdout must be a number/);
  p.free(); copy.free();
  // The JS API's classify with a trained classifier file: the CLI's labels and scores.
  const project = trainedProject;
  const file = lab.loadModelFile(fs.readFileSync(model));
  const own = openTrainedClassifier(lab, fs.readFileSync(project), file);
  const photo = path.join(data.dir, 'bag', 'bag-03.png');
  const { label, scores } = own.classify(fs.readFileSync(photo));
  const cliOut = JSON.parse(run('native', ['classify', '--classifier', project, photo, '--json']).stdout)[0];
  assert.equal(label, cliOut.label);
  assert.deepEqual(JSON.parse(`{"image": ${JSON.stringify(photo)}${own.format(scores, true)}}`), cliOut);
  own.free(); file.free();
});

// Mutated projects, CRC re-signed so that the parser itself meets the damage: each is refused with
// a reason or loads whole; the instance keeps working.
test('project loader: 300 mutated files (CRC re-signed) never crash the instance', async () => {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasmCore), coreUrl: new URL('../build/wasm/wasm/denselab_core.mjs', import.meta.url).href });
  const p = lab.newProject({ size: 64, kind: 'softmax', params: { hidden: 8 }, classes: ['left', 'right', 'middle'] });
  p.addImage(2, 'x.png', new Uint8Array(40).fill(9));
  const good = p.save();
  p.free();
  const resign = (b) => { new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true); return b; };
  let seed = 7, refused = 0;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let i = 0; i < 300; i++) {
    const b = good.slice();
    for (let k = 1 + rand(3); k > 0; k--) b[8 + rand(b.length - 12)] = rand(4) ? rand(256) : 0xff;
    try { lab.loadProject(resign(b)).free(); } catch (e) { refused++; assert.ok(e.message.length > 5 && !/trapped|no longer usable/.test(e.message), e.message); }
  }
  assert.ok(refused > 100, `${refused} refused`);
  const again = lab.loadProject(good);
  assert.deepEqual(again.info().classes, ['left', 'right', 'middle']);
  again.free();
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
