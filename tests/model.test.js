// model.test.js — the engine end to end, on both builds (native and WASM):
// goldens from TF.js (tests/golden/make_goldens.js), the CLI contract, the
// Keras Applications arguments, and the model-file loader's refusals.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { images, maxAbsDiff, model, nativeCli, readNpy, requireBuilt, root, run, shared, tmpDir } from './helpers.js';
import { convert, crc32, insertFinalRelu, readTfjsExport } from '../models/convert.js';

const golden = JSON.parse(fs.readFileSync(path.join(root, 'tests/golden/densenet121.json'), 'utf8'));
const goldenImages = golden.images.map((g) => path.join(shared, 'images', g.file));
const wasmCore = path.join(root, 'build/wasm/wasm/denselab_core.wasm');
const tmp = tmpDir();

function predict(cli, extra) {
  const out = path.join(tmp, `${cli}-${extra.join('_').replace(/[^\w]/g, '')}.npy`);
  const r = run(cli, ['predict', ...goldenImages, '--out', out, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return readNpy(out);
}

function top5(probs) {
  return Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, 5);
}

for (const cli of ['native', 'wasm']) {
  test(`${cli}: ImageNet probabilities match TF.js (top-5 identical, every probability within 1e-4)`, () => {
    requireBuilt(nativeCli, wasmCore, model);
    const { shape, data } = predict(cli, []);
    assert.deepEqual(shape, [golden.images.length, 1000]);
    golden.images.forEach((g, i) => {
      const p = data.subarray(i * 1000, (i + 1) * 1000);
      assert.deepEqual(top5(p), g.top5.map((t) => t.index), `${g.file}: top-5`);
      assert.ok(maxAbsDiff(p, g.probs) <= 1e-4, `${g.file}: max |p - TF.js| = ${maxAbsDiff(p, g.probs)}`);
    });
  });

  test(`${cli}: include_top=False, pooling='avg' features match TF.js at 224x224 and 32x32`, () => {
    requireBuilt(nativeCli, wasmCore, model);
    for (const [extra, field] of [[[], 'features'], [['--input-shape', '32,32,3'], 'features32']]) {
      const { shape, data } = predict(cli, ['--include-top', 'false', '--pooling', 'avg', ...extra]);
      assert.deepEqual(shape, [golden.images.length, 1024]);
      golden.images.forEach((g, i) => {
        const f = data.subarray(i * 1024, (i + 1) * 1024);
        const scale = Math.max(...g[field].map(Math.abs));
        const err = maxAbsDiff(f, g[field]);
        assert.ok(err <= 1e-4 * Math.max(1, scale), `${g.file} ${field}: max abs diff ${err} (scale ${scale})`);
      });
    }
  });
}

test('native and WASM builds give bit-identical outputs', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const a = predict('native', ['--include-top', 'false', '--input-shape', '64,48,3']);
  const b = predict('wasm', ['--include-top', 'false', '--input-shape', '64,48,3']);
  assert.deepEqual(a.shape, [golden.images.length, 2, 1, 1024]);
  assert.equal(maxAbsDiff(a.data, b.data), 0);
});

test('preprocessing matches the independent JS implementation of load_img + preprocess_input bit for bit', async () => {
  requireBuilt(nativeCli);
  const { createHash } = await import('node:crypto');
  for (const g of golden.images.filter((x) => !x.file.endsWith('.jpg'))) {
    for (const [size, field] of [['224,224', 'input'], ['32,32', 'input32']]) {
      const out = path.join(tmp, `pre-${g.file}-${size}.npy`);
      const r = run('native', ['preprocess', path.join(shared, 'images', g.file), '--size', size, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const { data } = readNpy(out);
      const sha = createHash('sha256').update(Buffer.from(data.buffer)).digest('hex');
      assert.equal(sha, g[field].sha256, `${g.file} ${size}`);
    }
  }
});

test('classify prints decode_predictions as Keras does, the same on both CLIs; --json is machine-readable', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const cat = path.join(shared, 'images/cat_285.png');
  for (const cli of ['native', 'wasm']) {
    const r = run(cli, ['classify', cat, '--top', '3']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\[\('n02123045', 'tabby', 0\.653\d*\), \('n02124075', 'Egyptian_cat', 0\.19\d*\), \('n02123159', 'tiger_cat', 0\.10\d*\)\]\n$/);
  }
  const [n, w] = ['native', 'wasm'].map((cli) => run(cli, ['classify', '--json', ...images]));
  assert.equal(n.status, 0, n.stderr);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(n.stdout, w.stdout);
  const parsed = JSON.parse(n.stdout);
  assert.equal(parsed.length, images.length);
  for (const item of parsed) {
    const g = golden.images.find((x) => item.image.endsWith(x.file));
    assert.deepEqual(item.predictions.map((p) => [p.index, p.wnid, p.label]), g.top5.map((t) => [t.index, t.wnid, t.label]));
  }
});

test('the final ReLU fix: without it (the raw 2.1.4 topology) cat_285 is tabby 0.789, with it 0.653', () => {
  requireBuilt(nativeCli);
  const old = path.join(tmp, 'keep-topology.dlm');
  fs.writeFileSync(old, convert(readTfjsExport(path.join(shared, 'models/densenet121-tfjs'))));
  const cat = path.join(shared, 'images/cat_285.png');
  const r = run('native', ['classify', cat, '--top', '1', '--json', '--model', old]);
  assert.equal(r.status, 0, r.stderr);
  const p = JSON.parse(r.stdout)[0].predictions[0];
  assert.equal(p.label, 'tabby');
  assert.ok(Math.abs(p.prob - golden.selfCheck['cat_285.png tabby without ReLU']) < 1e-4, String(p.prob));
});

test('float16 storage: half the file, same top-5 on every photo', () => {
  const f16 = path.join(root, 'build/models/densenet121-f16.dlm');
  requireBuilt(nativeCli, f16);
  assert.ok(fs.statSync(f16).size < fs.statSync(model).size * 0.51);
  const r = run('native', ['predict', ...goldenImages, '--out', path.join(tmp, 'f16.npy'), '--model', f16]);
  assert.equal(r.status, 0, r.stderr);
  const { data } = readNpy(path.join(tmp, 'f16.npy'));
  golden.images.forEach((g, i) => {
    const p = data.subarray(i * 1000, (i + 1) * 1000);
    assert.equal(top5(p)[0], g.top5[0].index, g.file);
    assert.ok(maxAbsDiff(p, g.probs) < 5e-3, `${g.file}: ${maxAbsDiff(p, g.probs)}`);
  });
});

test('summary: Keras parameter counts for the Applications arguments', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const cases = [
    [[], '8,062,504', '7,978,856', '(None, 1000)'],
    [['--include-top', 'false', '--pooling', 'avg', '--input-shape', '32,32,3'], '7,037,504', '6,953,856', '(None, 1024)'],
    [['--include-top', 'false', '--input-shape', '96,64,3'], '7,037,504', '6,953,856', '(None, 3, 2, 1024)'],
    [['--include-top', 'false', '--input-shape', '64,64,1', '--pooling', 'max', '--gray-to-rgb'], '7,037,504', '6,953,856', '(None, 1024)'],
    [['--weights', 'none', '--classes', '10', '--input-shape', '48,48,3'], '7,047,754', '6,964,106', '(None, 10)'],
  ];
  for (const cli of ['native', 'wasm']) {
    for (const [args, total, trainable, last] of cases) {
      const r = run(cli, ['summary', ...args]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Total params: ${total}\\n`), args.join(' '));
      assert.match(r.stdout, new RegExp(`Trainable params: ${trainable}\\n`));
      const rows = r.stdout.split('\n').filter((l) => l.startsWith(' ') && l.includes('(None'));
      assert.ok(rows.at(-1).includes(last), `${args.join(' ')}: last row ${rows.at(-1)}`);
    }
  }
});

test('bad arguments: one clear line on stderr, non-zero exit, identical on both CLIs', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const cat = path.join(shared, 'images/cat_285.png');
  const cases = [
    [['summary', '--input-shape', '31,32,3', '--include-top', 'false'], /Input size must be at least 32x32/],
    [['summary', '--input-shape', '32,32,2', '--include-top', 'false'], /must have 3 channels/],
    [['summary', '--input-shape', '32,32,4', '--include-top', 'false'], /must have 3 channels/],
    [['summary', '--input-shape', '32,32,3'], /should be \(224, 224, 3\)/],
    [['summary', '--classes', '10'], /`classes` should be 1000/],
    [['summary', '--pooling', 'mean', '--include-top', 'false'], /pooling must be None, 'avg' or 'max'/],
    [['summary', '--weights', 'foo.h5'], /The `weights` argument should be either/],
    [['summary', '--input-shape', 'big'], /input_shape must be three integers/],
    // explicit zeros are not "the default" (issue 10): Keras's errors
    [['summary', '--input-shape', '0,64,3', '--include-top', 'false'], /Input size must be at least 32x32; Received: input_shape=\(0, 64, 3\)/],
    [['summary', '--input-shape', '32,32,0', '--include-top', 'false'], /The input must have 3 channels/],
    // networks beyond the memory limit are refused before allocating (issue 10)
    [['summary', '--weights', 'none', '--classes', '262144'], /this network needs 2\.1 GB of memory for one image; the limit is 1\.5 GB \(max_memory\)/],
    [['predict', cat, '--out', path.join(tmp, 'huge.npy'), '--include-top', 'false', '--input-shape', '4096,4096,3'],
      // 3.1 GB (2.6 before issue 12's parallel regions: a dense block's 1x1 output lives until the next block's 1x1 has run)
      /this network needs 3\.1 GB of memory for one image; the limit is 1\.5 GB \(max_memory\)/],
    [['summary', '--bogus', '1'], /unknown option --bogus/],
    [['classify', cat, '--top', '0'], /--top must be at least 1/],
    [['classify', cat, '--top', '1001'], /--top must be at most the number of classes \(1000\)/],
    [['classify', cat, '--top', 'x'], /--top must be an integer/],
    [['classify', path.join(root, 'README.md')], /not an image/],
    [['classify', path.join(tmp, 'missing.png')], /cannot read .*missing\.png/],
    [['classify'], /needs at least one image/],
    [['fashion', '--C', '-1', '--train', '10', '--test', '10'], /--C must be a positive number/],
    [['fashion', '--feature-type', 'f8', '--train', '10', '--test', '10'], /--feature-type must be f32 or f16, got 'f8'/],
    [['nonsense'], /unknown command/],
  ];
  for (const [args, pattern] of cases) {
    const outs = ['native', 'wasm'].map((cli) => run(cli, args));
    for (const r of outs) {
      assert.equal(r.signal, null, `${args.join(' ')}: killed by ${r.signal}`);
      assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
      assert.match(r.stderr, pattern, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(outs[0].stderr, outs[1].stderr, args.join(' '));
  }
});

test('a bad image among good ones: the good ones are still classified, exit status 1', () => {
  requireBuilt(nativeCli, wasmCore, model);
  const junk = path.join(tmp, 'junk.jpg');
  fs.writeFileSync(junk, 'this is not a jpeg');
  for (const cli of ['native', 'wasm']) {
    const r = run(cli, ['classify', '--json', junk, path.join(shared, 'images/zebra_340.png')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /junk\.jpg: not an image/);
    assert.equal(JSON.parse(r.stdout)[0].predictions[0].label, 'zebra');
  }
});

// ---- the model-file loader refuses damaged files with a reason ----

function corrupt(name, mutate) {
  const bytes = Buffer.from(fs.readFileSync(model));
  const out = mutate(bytes) ?? bytes;
  const file = path.join(tmp, `${name}.dlm`);
  fs.writeFileSync(file, out);
  return file;
}

function resign(b) { b.writeUInt32LE(crc32(b.subarray(64)), 40); return b; }

test('loader rejects truncated, corrupted and mismatched model files with a clear error', () => {
  requireBuilt(nativeCli, wasmCore, model);
  // The first layer record starts at byte 64: u32 type.
  const cases = [
    ['empty', () => Buffer.alloc(0), /model file: empty/],
    ['header-only', (b) => b.subarray(0, 40), /truncated/],
    ['truncated', (b) => b.subarray(0, b.length - 1000), /truncated/],
    ['magic', (b) => { b.write('NOTDENSE', 0); }, /wrong magic/],
    ['version', (b) => { b.writeUInt32LE(7, 8); }, /version 7 is not supported/],
    ['checksum', (b) => { b[b.length - 5] ^= 0x40; }, /checksum mismatch/],
    ['trailing', (b) => Buffer.concat([b, Buffer.from('garbage')]), /trailing garbage/],
    ['layer-type', (b) => { b.writeUInt32LE(99, 64); resign(b); }, /unknown layer type 99/],
    ['graph-size', (b) => { b.writeBigUInt64LE(b.readBigUInt64LE(24) + 4n, 24); resign(b); }, /truncated|malformed|unexpected/],
  ];
  for (const [name, mutate, pattern] of cases) {
    const file = corrupt(name, mutate);
    for (const cli of ['native', 'wasm']) {
      const r = run(cli, ['summary', '--model', file]);
      assert.equal(r.signal, null);
      assert.equal(r.status, 1, `${name}: ${cli} exit ${r.status}`);
      assert.match(r.stderr, pattern, `${name} (${cli})`);
    }
  }
});

// A tiny Keras model in the TF.js layers format, for converter and loader edge cases.
function tinyExport({ kernelShape = [3, 3, 3, 4], layerType = 'Conv2D' } = {}) {
  const w = (shape) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)) });
  const ref = (n) => [[[n, 0, 0, {}]]];
  return {
    name: 'tiny',
    layers: [
      { name: 'input_1', class_name: 'InputLayer', config: { batch_input_shape: [null, 32, 32, 3] }, inbound_nodes: [] },
      { name: 'conv', class_name: layerType, config: { filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same', use_bias: false, activation: 'linear' }, inbound_nodes: ref('input_1') },
      { name: 'bn', class_name: 'BatchNormalization', config: { axis: [3], epsilon: 1e-3 }, inbound_nodes: ref('conv') },
      { name: 'avg_pool', class_name: 'GlobalAveragePooling2D', config: {}, inbound_nodes: ref('bn') },
      { name: 'fc', class_name: 'Dense', config: { units: 3, use_bias: true, activation: 'softmax' }, inbound_nodes: ref('avg_pool') },
    ],
    weights: new Map([['conv/kernel', w(kernelShape)], ['bn/gamma', w([4])], ['bn/beta', w([4])], ['bn/moving_mean', w([4])],
      ['bn/moving_variance', { shape: [4], data: new Float32Array(4).fill(1) }], ['fc/kernel', w([4, 3])], ['fc/bias', w([3])]]),
  };
}

test('loader rejects a tensor whose shape does not match the graph; converter rejects unknown layers', () => {
  requireBuilt(nativeCli, wasmCore);
  const good = path.join(tmp, 'tiny.dlm');
  fs.writeFileSync(good, convert(tinyExport()));
  const ok = run('native', ['summary', '--model', good, '--classes', '3']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /Total params: 139\n/);          // conv 108 + bn 16 + dense 12 + 3, as Keras counts
  const bad = path.join(tmp, 'tiny-bad.dlm');
  fs.writeFileSync(bad, convert(tinyExport({ kernelShape: [3, 3, 2, 4] })));
  for (const cli of ['native', 'wasm']) {
    const r = run(cli, ['summary', '--model', bad, '--classes', '3']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /kernel of conv has shape \(3, 3, 2, 4\), the graph needs \(3, 3, 3, 4\)/);
  }
  assert.throws(() => convert(tinyExport({ layerType: 'SeparableConv2D' })), /unsupported layer type SeparableConv2D/);
  assert.deepEqual(insertFinalRelu(tinyExport().layers, 'tiny').map((l) => l.name), ['input_1', 'conv', 'bn', 'avg_pool', 'fc'],
    'the ReLU fix only applies to DenseNets');
  assert.deepEqual(insertFinalRelu(tinyExport().layers, 'densenet121').map((l) => l.name), ['input_1', 'conv', 'bn', 'relu', 'avg_pool', 'fc']);
});

test('a valid-checksum file whose tensor sizes wrap in 32 bits is refused the same way by both builds (issue 10)', () => {
  requireBuilt(nativeCli, wasmCore);
  const bytes = convert(tinyExport());
  // fc/kernel: u16 length, name, u32 ndim, u32 dims[2]: 32768 x 32768 floats = 2^32 bytes (0 in 32 bits)
  const at = bytes.indexOf('fc/kernel') + 'fc/kernel'.length;
  assert.equal(bytes.readUInt32LE(at), 2);
  bytes.writeUInt32LE(32768, at + 4);
  bytes.writeUInt32LE(32768, at + 8);
  const file = path.join(tmp, 'wrap32.dlm');
  fs.writeFileSync(file, resign(bytes));
  const outs = ['native', 'wasm'].map((cli) => run(cli, ['summary', '--model', file, '--classes', '3']));
  for (const r of outs) {
    assert.equal(r.signal, null);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /model file: tensor fc\/kernel lies outside the data section/);
  }
  assert.equal(outs[0].stderr, outs[1].stderr);
});

test('converter reports a TF.js export with a missing shard', () => {
  const dir = path.join(tmp, 'export');
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(shared, 'models/densenet121-tfjs');
  fs.copyFileSync(path.join(src, 'model.json'), path.join(dir, 'model.json'));
  assert.throws(() => readTfjsExport(dir), /missing weight shard group\d+-shard1of1/);
});
