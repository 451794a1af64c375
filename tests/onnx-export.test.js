// The ONNX export (onnx/export.h, issue 13): a project trained on a small real data set (Fashion-
// MNIST PNG/BMP + the shared photos, made at test time) is exported by both CLIs (the same bytes),
// then run by ONNX Runtime (onnxruntime-node, CPU) and ONNX Runtime Web (its WASM backend, in
// Node) on held-out images: scores equal `classify --project`'s within 1e-4, the same labels and
// class names, for the linear SVM, the softmax head and the RBF SVM (ai.onnx.ml SVMClassifier).
// The sanitizer builds (64- and 32-bit) write the same bytes.
// A small input size (64) keeps it cheap.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openDenseLab } from '../wasm/node.js';
import { model, nativeCli, requireBuilt, root, run, shared, tmpDir } from './helpers.js';
import { fashionImages, grayPng, makeTrainingSet, TRAIN_CLASSES } from './train-data.js';

const SIZE = 64;
const wasmCore = path.join(root, 'build/wasm/wasm/denselab_core.wasm');
const tmp = tmpDir('denselab-onnx-');
const data = makeTrainingSet(path.join(tmp, 'set'), { perClass: 6 });

// Held out: two shared photos (taken out of the training set) and two new Fashion-MNIST images per class.
const photos = fs.readdirSync(path.join(data.dir, 'photos')).sort();
const heldOut = photos.slice(0, 2).map((f) => {
  const to = path.join(tmp, f);
  fs.renameSync(path.join(data.dir, 'photos', f), to);
  return { file: to, truth: 'photos' };
});
const newImages = fashionImages(2, 20);
for (const [name, label] of Object.entries(TRAIN_CLASSES)) {
  newImages[label].forEach((px, i) => {
    const file = path.join(tmp, `${name}-new${i}.png`);
    fs.writeFileSync(file, grayPng(px));
    heldOut.push({ file, truth: name });
  });
}

// The top-level metadata_props (ModelProto field 14) of an .onnx file: { key: value }.
function metadataProps(bytes) {
  let at = 0;
  const varint = () => { let v = 0n, s = 0n, b; do { b = bytes[at++]; v |= BigInt(b & 0x7f) << s; s += 7n; } while (b & 0x80); return Number(v); };
  const props = {};
  while (at < bytes.length) {
    const tag = varint(), field = tag >> 3, wire = tag & 7;
    if (wire === 0) { varint(); continue; }
    if (wire === 5) { at += 4; continue; }
    const len = varint(), body = bytes.subarray(at, at + len);
    at += len;
    if (field !== 14) continue;
    const entry = {};
    for (let k = 0; k < body.length;) {
      const t = body[k++], n = body[k++];     // short keys and values: one-byte tags
      let m = n, shift = 7;
      if (n & 0x80) { m = n & 0x7f; let b; do { b = body[k++]; m |= (b & 0x7f) << shift; shift += 7; } while (b & 0x80); }
      entry[t >> 3] = Buffer.from(body.subarray(k, k + m)).toString('utf8');
      k += m;
    }
    props[entry[1]] = entry[2];
  }
  return props;
}

let lab, rgb;
test.before(async () => {
  requireBuilt(nativeCli, model, wasmCore);
  lab = await openDenseLab();
  // What load_img(target_size=(64, 64)) gives, as float32 NHWC: the ONNX input.
  rgb = new Float32Array(heldOut.length * SIZE * SIZE * 3);
  heldOut.forEach(({ file }, i) => rgb.set(lab.loadImg(fs.readFileSync(file), [SIZE, SIZE]).rgb, i * SIZE * SIZE * 3));
});

async function runtimes() {
  const node = await import('onnxruntime-node');
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  web.env.wasm.proxy = false;
  return {
    'onnxruntime-node': (bytes) => node.InferenceSession.create(bytes),
    'onnxruntime-web (wasm)': (bytes) => web.InferenceSession.create(bytes, { executionProviders: ['wasm'] }),
    tensor: { 'onnxruntime-node': node.Tensor, 'onnxruntime-web (wasm)': web.Tensor },
  };
}

for (const [kind, extra] of [['linear-svm', []], ['softmax', ['--epochs', '30']], ['rbf-svm', []]]) {
  test(`export-onnx ${kind}: both CLIs write the same file; ONNX Runtime (node, web) gives our scores on held-out images`, { timeout: 600000 }, async () => {
    const project = path.join(tmp, `${kind}.dlproj`);
    const t = run('native', ['train', data.dir, '--size', String(SIZE), '--classifier', kind, ...extra, '--cv', '2', '--out', project]);
    assert.equal(t.status, 0, t.stderr);
    const onnx = { native: path.join(tmp, `${kind}.native.onnx`), wasm: path.join(tmp, `${kind}.wasm.onnx`) };
    const printed = {};
    for (const cli of ['native', 'wasm']) {
      // --classifier FILE (as classify) and its alias --project FILE: the same file
      const r = run(cli, ['export-onnx', cli === 'wasm' ? '--classifier' : '--project', project, '--out', onnx[cli], '--json']);
      assert.equal(r.status, 0, r.stderr);
      printed[cli] = r.stdout.replace(onnx[cli], 'OUT');
    }
    assert.equal(printed.wasm, printed.native, 'both CLIs print the same');
    const bytes = fs.readFileSync(onnx.native);
    assert.ok(bytes.equals(fs.readFileSync(onnx.wasm)), 'native and WASM write the same bytes');
    for (const tree of ['asan', 'asan32']) {     // ASan + UBSan, 64- and 32-bit size_t: clean, the same bytes
      const to = path.join(tmp, `${kind}.${tree}.onnx`);
      const r = spawnSync(path.join(root, 'build', tree, 'denselab'), ['export-onnx', '--project', project, '--out', to], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${tree}: ${r.stderr}`);
      assert.ok(fs.readFileSync(to).equals(bytes), `${tree} writes the same bytes`);
    }
    const about = JSON.parse(printed.native);
    assert.equal(about.bytes, bytes.length);
    assert.deepEqual(about.input.shape, ['N', SIZE, SIZE, 3]);
    assert.deepEqual(about.classes, data.classes);
    assert.deepEqual(about.outputs.map((o) => o.name), ['scores', 'label', 'class_name', 'features', ...(kind === 'rbf-svm' ? ['decision_values'] : [])]);
    const meta = metadataProps(bytes);
    assert.deepEqual(JSON.parse(meta.classes), data.classes);
    assert.equal(meta.input_size, String(SIZE));
    assert.equal(meta.classifier, kind);
    assert.match(meta.preprocessing, /torch/);

    // Ours: classify --project (the same scores natively and in WASM: tests/train.test.js).
    const ours = run('native', ['classify', '--project', project, ...heldOut.map((h) => h.file), '--json']);
    assert.equal(ours.status, 0, ours.stderr);
    const expected = JSON.parse(ours.stdout);
    const rt = await runtimes();
    for (const name of ['onnxruntime-node', 'onnxruntime-web (wasm)']) {
      const session = await rt[name](bytes);
      const input = new rt.tensor[name]('float32', rgb, [heldOut.length, SIZE, SIZE, 3]);
      const out = await session.run({ image: input });
      assert.deepEqual(out.scores.dims, [heldOut.length, data.classes.length]);
      assert.deepEqual(out.features.dims, [heldOut.length, 1024]);
      let worst = 0;
      expected.forEach((e, i) => {
        const score = Object.fromEntries(e.scores);      // [[class, score], ...] as printed (6 decimals)
        data.classes.forEach((c, k) => { worst = Math.max(worst, Math.abs(out.scores.data[i * data.classes.length + k] - score[c])); });
        assert.equal(out.class_name.data[i], e.label, `${name}: image ${i} (${heldOut[i].file})`);
        assert.equal(Number(out.label.data[i]), data.classes.indexOf(e.label));
      });
      assert.ok(worst < 1e-4, `${name}: largest score difference ${worst}`);
      console.log(`# ${kind}, ${name}: ${heldOut.length} held-out images, largest score difference ${worst.toExponential(2)}`);
      await session.release?.();
    }
    const right = expected.filter((e, i) => e.label === heldOut[i].truth).length;
    assert.ok(right >= heldOut.length - 3, `${right}/${heldOut.length} held-out images right`);
  });
}

test('export-onnx refuses what it cannot export, with the reason, on both CLIs', () => {
  const project = path.join(tmp, 'linear-svm.dlproj');
  const good = fs.readFileSync(project);
  const damaged = Buffer.from(good);
  damaged[40] ^= 0xff;
  fs.writeFileSync(path.join(tmp, 'damaged.dlproj'), damaged);
  fs.writeFileSync(path.join(tmp, 'short.dlproj'), good.subarray(0, good.length >> 1));
  for (const cli of ['native', 'wasm']) {
    for (const [file, why] of [['damaged.dlproj', /CRC|checksum|damaged/i], ['short.dlproj', /truncated|short|bytes|damaged/i]]) {
      const r = run(cli, ['export-onnx', '--project', path.join(tmp, file), '--out', path.join(tmp, 'x.onnx')]);
      assert.equal(r.status, 1, `${cli} ${file}`);
      assert.match(r.stderr, why, `${cli} ${file}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').length, 2, 'one line');
    }
    const none = run(cli, ['export-onnx', '--project', project]);
    assert.match(none.stderr, /export-onnx needs --out FILE\.onnx/);
    const weightsNone = run(cli, ['export-onnx', '--weights', 'none', '--out', path.join(tmp, 'x.onnx')]);
    assert.match(weightsNone.stderr, /needs the file's weights/);
  }
  assert.ok(!fs.existsSync(path.join(tmp, 'x.onnx')), 'nothing written on failure');
});

test('JS API exportOnnx: untrained, freed and fine-tuned projects are refused with the reason; the network alone', () => {
  const file = lab.loadModelFile(fs.readFileSync(model));
  const project = lab.newProject({ size: SIZE, classes: ['a', 'b'] });
  assert.throws(() => lab.exportOnnx(file, { project }), /the project holds no trained classifier/);
  assert.throws(() => lab.exportOnnx(file, { project: {} }), /expected a project/);
  assert.throws(() => lab.exportOnnx(file, { inputShape: [16, 16, 3], includeTop: false }), /at least 32x32/);
  project.free();
  assert.throws(() => lab.exportOnnx(file, { project }), /freed/);
  // Every kind of the table exports or says why: a fine-tuned conv5 block is not a project's classifier.
  lab.setFinetuneBase(file);
  const rows = Float32Array.from({ length: 4 * 512 }, (_, i) => Math.abs(Math.sin(i)));   // conv5_block1's input at 32x32
  const tuned = lab.fit('finetune', rows, [0, 1, 0, 1], 4, 512, { epochs: 1, hidden: 4 });
  const ft = lab.newProject({ size: 32, kind: 'finetune', classes: ['a', 'b'] });
  ft.setClassifier(tuned.save());
  assert.throws(() => lab.exportOnnx(file, { project: ft }), /a finetune classifier has no ONNX export: it retrains conv5/);
  ft.free(); tuned.free();
  const { bytes, about } = lab.exportOnnx(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  assert.ok(bytes.length > 25e6 && bytes.length < 40e6, `${bytes.length} bytes`);
  assert.match(about, /^ONNX: \d+ bytes, IR 8, opset 13\ninput +image +float32 +\[N, 32, 32, 3\]/);
  assert.match(about, /output +output +float32 +\[N, 1024\]/);
  file.free();
});
