// cases.js — the bad inputs of issue 5 as data, shared by tests/badinput.test.js
// (which asserts them) and tests/reliability/report.js (which records what
// happens for docs/reliability.md). Files are made at run time in a temporary
// folder: crafted here or cut from ../shared/images.
//
// A case: { group, input, expect, ... } plus how to run it:
//   image: FILE          native `preprocess FILE --size 32,32` (+ maxPixels), JS API loadImg,
//                        wasm CLI in one batched `classify` (see badinput.test.js)
//   args: [...]          the same arguments on both CLIs (nativeOnly: only native)
//   api(lab, ctx)        a JS API call (ctx: { file } — the ImageNet model loaded)
// expect: a RegExp the error must match, 'ok' (must succeed; check(img) may verify
// pixels), or 'clean' (either outcome, as long as it is clean).
// elsewhere: the test file that already asserts the case (the report still runs it).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { crc32 } from '../../models/convert.js';
import { createDenseLab } from '../../wasm/denselab.js';
import { parseSplit } from '../../wasm/experiment.js';
import { gif, idxImages, idxLabels, png, tinyModel } from '../fuzz/make_seeds.js';
import { model, root, run, shared } from '../helpers.js';

const sharedImage = (f) => fs.readFileSync(path.join(shared, 'images', f));
const fixture = (f) => path.join(root, 'tests/fixtures/images', f);
export const wasmCore = path.join(root, 'build/wasm/wasm/denselab_core.wasm');

export async function openLab() {
  const lab = await createDenseLab({ wasmBinary: fs.readFileSync(wasmCore), coreUrl: pathToFileURL(wasmCore.replace(/\.wasm$/, '.mjs')).href });
  const file = fs.existsSync(model) ? lab.loadModelFile(fs.readFileSync(model)) : null;
  const classIndex = path.join(path.dirname(model), 'imagenet_class_index.json');
  if (fs.existsSync(classIndex)) lab.loadClassIndex(fs.readFileSync(classIndex, 'utf8'));
  return { lab, file };
}

// A JPEG whose frame header (SOF0/1/2) claims w x h.
function jpegClaiming(bytes, w, h) {
  const b = Buffer.from(bytes);
  for (let p = 2; p + 9 < b.length;) {
    if (b[p] !== 0xff) { p++; continue; }
    const m = b[p + 1];
    if (m >= 0xc0 && m <= 0xc2) { b.writeUInt16BE(h, p + 5); b.writeUInt16BE(w, p + 7); return b; }
    p += 2 + b.readUInt16BE(p + 2);
  }
  throw new Error('no SOF marker');
}

// The model file of a fuzzing finding, with its header made consistent
// (data size, CRC) as the harness does, so the loader's parser sees it.
function fuzzModelFinding() {
  const b = Buffer.from(fs.readFileSync(path.join(root, 'tests/fuzz/corpus/model/regress-indices-past-graph.dlm')));
  const dataStart = Math.ceil((64 + Number(b.readBigUInt64LE(24))) / 64) * 64;
  b.writeBigUInt64LE(BigInt(b.length - dataStart), 32);
  b.writeUInt32LE(crc32(b.subarray(64)), 40);
  return b;
}

const gz = (b) => zlib.gzipSync(b);
function fashionDir(tmp, name, { trainImages, trainLabels, testImages = idxImages(10, 28, 28), testLabels = idxLabels([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }) {
  const dir = path.join(tmp, `fashion-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  const files = { 'train-images-idx3-ubyte.gz': trainImages, 'train-labels-idx1-ubyte.gz': trainLabels,
    't10k-images-idx3-ubyte.gz': gz(testImages), 't10k-labels-idx1-ubyte.gz': gz(testLabels) };
  for (const [f, b] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), b);
  return dir;
}
const labels30 = idxLabels(Array.from({ length: 30 }, (_, i) => i % 10));
const fashionArgs = (dir) => ['fashion', '--data', dir, '--train', '20', '--test', '10', '--classifier', 'pixels-linear-svm'];

export function makeCases(tmp) {
  const write = (name, bytes) => { const f = path.join(tmp, name); fs.writeFileSync(f, bytes); return f; };
  const jpg = sharedImage('hot_dog.jpg'), pngBytes = sharedImage('cat_285.png');
  const pal = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
  const rgbAt = (img, i) => Array.from(img.rgb.subarray(3 * i, 3 * i + 3));
  const allPixels = (img, rgb) => { for (let i = 0; i < img.width * img.height; i++) if (rgbAt(img, i).join() !== rgb.join()) return false; return true; };
  const cases = [
    // ---- images ----
    { group: 'Images', input: '0-byte file (empty.jpg)', image: write('empty.jpg', Buffer.alloc(0)), expect: /not an image: empty input/ },
    { group: 'Images', input: '4 KB of random bytes (random.png)', image: write('random.png', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24))), expect: /not an image: unknown format/ },
    { group: 'Images', input: 'text file named .jpg (README.md copied to text.jpg)', image: write('text.jpg', fs.readFileSync(path.join(root, 'README.md'))), expect: /not an image/, elsewhere: 'tests/model.test.js' },
    ...[20, 0.25, 0.5, 0.9].map((cut) => {
      const n = cut < 1 ? Math.floor(jpg.length * cut) : cut;
      return { group: 'Images', input: `truncated JPEG: hot_dog.jpg cut to ${n} of ${jpg.length} bytes`, image: write(`trunc-${n}.jpg`, jpg.subarray(0, n)), expect: /truncated|cannot decode JPEG/ };
    }),
    { group: 'Images', input: `JPEG without its final EOI marker (hot_dog.jpg minus 2 bytes)`, image: write('no-eoi.jpg', jpg.subarray(0, jpg.length - 2)), expect: 'clean' },
    ...[30, 0.3, 0.7].map((cut) => {
      const n = cut < 1 ? Math.floor(pngBytes.length * cut) : cut;
      return { group: 'Images', input: `truncated PNG: cat_285.png cut to ${n} of ${pngBytes.length} bytes`, image: write(`trunc-${n}.png`, pngBytes.subarray(0, n)), expect: /truncated|cannot decode PNG/ };
    }),
    { group: 'Images', input: 'PNG without its IEND chunk (cat_285.png minus 12 bytes)', image: write('no-iend.png', pngBytes.subarray(0, pngBytes.length - 12)), expect: 'clean' },
    { group: 'Images', input: 'PNG header claiming 60000x60000 (tiny IDAT)', image: write('huge.png', png({ width: 4, height: 4, declaredWidth: 60000, declaredHeight: 60000 })), expect: /PNG image too large: 60000x60000 = 3600000000 pixels, the limit is 100000000/ },
    { group: 'Images', input: 'JPEG header claiming 60000x60000 (hot_dog.jpg with its SOF patched)', image: write('huge.jpg', jpegClaiming(jpg, 60000, 60000)), expect: /JPEG image too large: 60000x60000 = 3600000000 pixels, the limit is 100000000/ },
    { group: 'Images', input: 'cat_285.png (224x224 = 50,176 px) with --max-pixels 50000', image: path.join(shared, 'images/cat_285.png'), maxPixels: 50000, expect: /PNG image too large: 224x224 = 50176 pixels, the limit is 50000/ },
    { group: 'Images', input: 'cat_285.png with --max-pixels 50176 (exactly its size)', image: path.join(shared, 'images/cat_285.png'), maxPixels: 50176, expect: 'ok' },
    { group: 'Images', input: '1x1 PNG (200,100,50)', image: write('one.png', png({ width: 1, height: 1, sample: (x, y, c) => [200, 100, 50][c] })), expect: 'ok', check: (img) => allPixels(img, [200, 100, 50]) },
    { group: 'Images', input: 'animated GIF, 2 frames (green, then blue): first frame', image: write('anim.gif', gif({ width: 4, height: 4, palette: pal, frames: [{ width: 4, height: 4, pixels: new Array(16).fill(1) }, { width: 4, height: 4, pixels: new Array(16).fill(2) }] })), expect: 'ok', check: (img) => allPixels(img, [0, 255, 0]) },
    { group: 'Images', input: 'CMYK (Adobe) JPEG (tests/fixtures/images/gradient_cmyk.jpg)', image: fixture('gradient_cmyk.jpg'), expect: 'ok' },
    { group: 'Images', input: 'progressive JPEG (tests/fixtures/images/gradient_progressive.jpg)', image: fixture('gradient_progressive.jpg'), expect: 'ok' },
    { group: 'Images', input: '16-bit RGB PNG (0xAB12, 0x3456, 0xCDEF): high bytes kept', image: write('rgb16.png', png({ width: 3, height: 3, bitDepth: 16, sample: (x, y, c) => [0xab12, 0x3456, 0xcdef][c] })), expect: 'ok', check: (img) => allPixels(img, [0xab, 0x34, 0xcd]) },
    { group: 'Images', input: 'palette PNG (2-bit, 4 colors)', image: write('palette.png', png({ width: 4, height: 1, colorType: 3, bitDepth: 2, sample: (x) => x, palette: pal })), expect: 'ok', check: (img) => img.width === 4 && [0, 1, 2, 3].every((i) => rgbAt(img, i).join() === pal[i].join()) },
    { group: 'Images', input: 'gray + alpha PNG (gray 77, alpha 0): alpha dropped, not composited', image: write('gray-alpha.png', png({ width: 2, height: 2, colorType: 4, sample: (x, y, c) => (c ? 0 : 77) })), expect: 'ok', check: (img) => allPixels(img, [77, 77, 77]) },
    { group: 'Images', input: 'fuzzing finding: corrupt JPEG that drives stb 2.27\'s bit reader negative (UB shift in stb)', image: path.join(root, 'tests/fuzz/corpus/image/regress-stb-negative-code-bits.jpg'), expect: /cannot decode JPEG image/ },
    { group: 'Images', input: 'fuzzing finding: PGM header with a 100-digit maxval (int overflow in stb 2.27)', image: path.join(root, 'tests/fuzz/corpus/image/regress-stb-pnm-integer-overflow.pgm'), expect: /cannot decode PNM image/ },
    { group: 'Images', input: 'fuzzing finding: PNG whose first IDAT chunk is empty (NULL + 0 in stb 2.27)', image: path.join(root, 'tests/fuzz/corpus/image/regress-stb-png-empty-first-idat.png'), expect: /PNG image/ },
    { group: 'Images', input: 'fuzzing finding (stb 2.27, assert disabled): progressive JPEG giving a negative Huffman symbol index', image: path.join(root, 'tests/fuzz/corpus/image/regress-stb-huff-decode-negative-index.jpg'), expect: /JPEG image/ },
    { group: 'Images', input: 'fuzzing finding (32-bit only): PNG chunk length near 2^31 (wrapped stb 2.27\'s pointer)', image: path.join(root, 'tests/fuzz/regressions/image/png-chunk-length-wraps-32bit.png'), expect: /truncated PNG image: a chunk of \d+ bytes runs past the end of the file/ },
    { group: 'Images', input: 'top-down BMP (negative height, as Pillow reads it)', image: fixture('bmp_top_down_30x40.bmp'), expect: 'ok', check: (img) => img.width === 30 && img.height === 40 },
    { group: 'Images', input: 'fuzzing finding: JPEG whose Huffman table runs past its DHT segment (>256 codes)', image: path.join(root, 'tests/fuzz/corpus/image/regress-dht-table-past-segment.jpg'), expect: /bad DHT header/ },

    // ---- model files (tiny model made by the converter) ----
    ...modelCases(write),

    // ---- arguments ----
    ...[
      [['summary', '--input-shape', '31,32,3', '--include-top', 'false'], /Input size must be at least 32x32/, { inputShape: [31, 32, 3], includeTop: false }],
      [['summary', '--input-shape', '32,32,2', '--include-top', 'false'], /must have 3 channels/, { inputShape: [32, 32, 2], includeTop: false }],
      [['summary', '--input-shape', '32,32,4', '--include-top', 'false'], /must have 3 channels/, { inputShape: [32, 32, 4], includeTop: false }],
      [['summary', '--classes', '10'], /`classes` should be 1000/, { classes: 10 }],
      [['summary', '--pooling', 'mean', '--include-top', 'false'], /pooling must be None, 'avg' or 'max'/, { pooling: 'mean', includeTop: false }],
      [['summary', '--classes', '-3', '--weights', 'none'], /classes must be a positive integer/, { classes: -3, weights: null }, 'new'],
    ].map(([args, expect, options, isNew]) => ({ group: 'Arguments', input: args.slice(1).join(' '), args, expect, elsewhere: isNew ? undefined : 'tests/model.test.js',
      api: (lab, { file }) => lab.buildNet(file, options).free() })),
    { group: 'Arguments', input: 'fashion --C -1', args: ['fashion', '--C', '-1', '--train', '10', '--test', '10'], expect: /--C must be a positive number|C must be > 0 \(got -1\)/, elsewhere: 'tests/model.test.js',
      api: (lab) => lab.fit('linear-svm', new Float32Array([0, 1, 1, 0]), [0, 1], 2, 2, { C: -1 }).free() },
    { group: 'Arguments', input: 'classify --top 0', args: ['classify', path.join(shared, 'images/cat_285.png'), '--top', '0'], expect: /--top must be at least 1|top must be between 1 and 1000/, elsewhere: 'tests/model.test.js',
      api: (lab) => lab.decodePredictions(new Float32Array(1000), 0) },
    { group: 'Arguments', input: 'classify --top 1001', args: ['classify', path.join(shared, 'images/cat_285.png'), '--top', '1001'], expect: /--top must be at most the number of classes \(1000\)|top must be between 1 and 1000/, elsewhere: 'tests/model.test.js',
      api: (lab) => lab.decodePredictions(new Float32Array(1000), 1001) },

    // ---- Fashion-MNIST ----
    ...fashionCases(tmp),

    // ---- hostile inputs (issue 10): endless files, sizes that wrap, freed objects ----
    ...hostileCases(write, tmp),
  ];
  return cases;
}

function modelCases(write) {
  const tiny = tinyModel();
  const resign = (b) => { b.writeUInt32LE(crc32(b.subarray(64)), 40); return b; };
  const mutate = (fn) => { const b = Buffer.from(tiny); return fn(b) ?? b; };
  const items = [
    ['truncated (last 100 bytes missing)', (b) => b.subarray(0, b.length - 100), /truncated/],
    ['wrong magic', (b) => { b.write('NOTDENSE', 0); }, /wrong magic/],
    ['wrong version (7)', (b) => { b.writeUInt32LE(7, 8); }, /version 7 is not supported/],
    ['checksum mismatch (one weight bit flipped)', (b) => { b[b.length - 5] ^= 0x40; }, /checksum mismatch/],
    ['unknown layer type (99)', (b) => { b.writeUInt32LE(99, 64); resign(b); }, /unknown layer type 99/],
    ['trailing garbage (7 bytes)', (b) => Buffer.concat([b, Buffer.from('garbage')]), /trailing garbage/],
  ];
  const cases = items.map(([what, fn, expect]) => {
    const bytes = mutate(fn);
    return { group: 'Model file', input: `tiny model: ${what}`, args: ['summary', '--model', write(`model-${what.replace(/\W+/g, '-')}.dlm`, bytes)], expect, elsewhere: 'tests/model.test.js',
      api: (lab) => lab.loadModelFile(bytes).free() };
  });
  const finding = fuzzModelFinding();
  cases.push({ group: 'Model file', input: 'fuzzing finding: a layer with more input indices than the graph section holds (valid CRC)', args: ['summary', '--model', write('model-fuzz-indices.dlm', finding)],
    expect: /graph section is truncated or malformed/, api: (lab) => lab.loadModelFile(finding).free() });
  // The fuzzers' findings (valid CRC-32; tests/fuzz/regressions/model): each is refused with a reason.
  const findings = [
    ['tensor-count-wrap-f16.dlm', 'float16 tensor whose element count wraps size_t (count x 2 bytes = 0)', /tensor conv1\/kernel has an invalid shape/],
    ['tensor-count-wrap-f16-32bit.dlm', 'float16 tensor whose byte size wraps a 32-bit size_t', /tensor conv1\/kernel (lies outside the data section|has an invalid shape)/],
    ['tensor-count-wrap-conv-pack.dlm', 'conv kernel whose element count wraps (read past it when packing)', /tensor 1\/w0 has an invalid shape/],
    ['concat-channels-overflow.dlm', 'concatenations whose int channel sum overflows', /output shape \(32, 32, 50331648\) is out of range/],
    ['huge-activation.dlm', 'activations of 8 GB for one image', /output shape \(32, 32, 50331648\) is out of range/],
    ['activation-size-wrap-32bit-concat.dlm', 'activation size that wraps a 32-bit size_t', /output shape \(32, 32, 50331648\) is out of range/],
    ['conv-same-huge-stride.dlm', "'same' convolution with stride 2^31 - 2 (int overflow)", /invalid convolution shape/],
  ];
  for (const [file, what, expect] of findings) {
    const f = path.join(root, 'tests/fuzz/regressions/model', file), bytes = fs.readFileSync(f);
    cases.push({ group: 'Model file', input: `fuzzing finding: ${what}`, args: ['predict', path.join(shared, 'images/cat_285.png'), '--model', f, '--include-top', 'false', '--input-shape', '32,32,3', '--out', write('finding.npy', Buffer.alloc(0))], expect,
      api: (lab) => { const m = lab.loadModelFile(bytes); try { lab.buildNet(m, { includeTop: false, inputShape: [32, 32, 3] }).free(); } finally { m.free(); } } });
  }
  cases.push({ group: 'Model file', input: 'tensor shape that does not match the graph; unknown Keras layer; TF.js export with a missing shard', expect: /converter/, elsewhere: 'tests/model.test.js', note: 'asserted on the converter in tests/model.test.js' });
  return cases;
}

function fashionCases(tmp) {
  const trainImages = idxImages(30, 28, 28);
  const full = gz(trainImages);
  const dirs = {
    magic: fashionDir(tmp, 'magic', { trainImages: gz(idxImages(30, 28, 28, { magic: 0x00000804 })), trainLabels: gz(labels30) }),
    count: fashionDir(tmp, 'count', { trainImages: full, trainLabels: gz(idxLabels(Array.from({ length: 29 }, (_, i) => i % 10))) }),
    gzip: fashionDir(tmp, 'gzip', { trainImages: full.subarray(0, Math.floor(full.length / 2)), trainLabels: gz(labels30) }),
    trailer: fashionDir(tmp, 'trailer', { trainImages: full.subarray(0, full.length - 8), trainLabels: gz(labels30) }),
    single: fashionDir(tmp, 'single', { trainImages: full, trainLabels: gz(idxLabels(new Array(30).fill(3))) }),
  };
  const x = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), y = Array.from({ length: 10 }, (_, i) => i % 2);
  const withValue = (v, at) => { const c = Float32Array.from(x); c[at] = v; return c; };
  const idxApi = (bytes, labels) => (lab) => lab.parseIdx(bytes, { labels });
  return [
    { group: 'Fashion-MNIST', input: 'wrong IDX magic (train images 0x00000804)', args: fashionArgs(dirs.magic), expect: /IDX images: has 4 dimensions \(magic 0x00000804\)/,
      api: idxApi(idxImages(3, 28, 28, { magic: 0x00000804 }), false) },
    { group: 'Fashion-MNIST', input: 'labels file given as images (magic 0x00000801)', expect: /IDX images: has 1 dimensions.*images and labels swapped\?/, api: idxApi(labels30, false) },
    { group: 'Fashion-MNIST', input: 'count mismatch: 30 train images, 29 labels', args: fashionArgs(dirs.count), expect: /30 images but 29 labels/,
      api: (lab) => parseSplit(lab, 'train', trainImages, idxLabels(new Array(29).fill(0))) },
    // The native CLI's zlib reports a cut stream as the IDX data being short (see the report).
    { group: 'Fashion-MNIST', input: 'truncated gzip (train images .gz cut in half)', args: fashionArgs(dirs.gzip), expect: /corrupt or truncated gzip|IDX images: truncated/ },
    { group: 'Fashion-MNIST', input: 'gzip without its 8-byte trailer (CRC-32, size): data complete', args: fashionArgs(dirs.trailer), expect: 'clean' },
    { group: 'Fashion-MNIST', input: 'truncated IDX data (header says 30 images, 10 present)', expect: /IDX images: truncated: header declares 30 images of 28x28/, api: idxApi(trainImages.subarray(0, 16 + 10 * 784), false) },
    { group: 'Fashion-MNIST', input: 'training set with a single class (all labels 3)', args: fashionArgs(dirs.single), expect: /single class/,
      api: (lab) => lab.fit('linear-svm', x, new Array(10).fill(3), 10, 4).free() },
    ...[['NaN', NaN, 13], ['+Infinity', Infinity, 0], ['-Infinity', -Infinity, 39]].map(([what, v, at]) => ({
      group: 'Fashion-MNIST', input: `${what} feature at row ${Math.floor(at / 4)}, column ${at % 4} (fit, linear SVM)`,
      expect: new RegExp(`feature is ${v !== v ? 'NaN' : 'infinite'} at row ${Math.floor(at / 4)}, column ${at % 4}`),
      api: (lab) => lab.fit('linear-svm', withValue(v, at), y, 10, 4).free() })),
    ...['rbf-svm', 'softmax'].map((kind) => ({ group: 'Fashion-MNIST', input: `NaN feature (fit, ${kind})`, expect: /feature is NaN at row 0, column 2/,
      api: (lab) => lab.fit(kind, withValue(NaN, 2), y, 10, 4, { epochs: 1, hidden: 4 }).free() })),
    { group: 'Fashion-MNIST', input: 'NaN feature at prediction time (evaluate)', expect: /feature is NaN at row 1, column 1/,
      api: (lab) => { const c = lab.fit('linear-svm', x, y, 10, 4); try { c.evaluate(withValue(NaN, 5), y, 10); } finally { c.free(); } } },
  ];
}

// Issue 10's defects on the CLIs (file reads, numeric options) and the JS API (the guard).
function hostileCases(write, tmp) {
  const cat = path.join(shared, 'images/cat_285.png');
  const G = 'Hostile inputs';
  const net32 = (lab, file) => lab.buildNet(file, { includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const withNet = (fn) => (lab, { file }) => { const net = net32(lab, file); try { return fn(lab, net); } finally { net.free(); } };
  const catBytes = () => fs.readFileSync(cat);
  return [
    { group: G, input: 'classify /dev/zero (endless image file)', args: ['classify', '/dev/zero'], expect: /\/dev\/zero: larger than the 256 MB limit/ },
    { group: G, input: 'summary --model /dev/urandom (endless model file)', args: ['summary', '--model', '/dev/urandom'], expect: /cannot read model file \/dev\/urandom: not a regular file/ },
    { group: G, input: 'summary --model DIR (a directory)', args: ['summary', '--model', path.dirname(cat)], expect: /cannot read model file .*: (is a directory|not a regular file)/i },
    { group: G, input: 'classify --max-pixels 4294967296 (2^32: wraps size_t in WASM)', args: ['classify', cat, '--max-pixels', '4294967296'], expect: /--max-pixels must be at most 536870911, got 4294967296/ },
    { group: G, input: 'classify --top 99999999999999999999', args: ['classify', cat, '--top', '99999999999999999999'], expect: /--top must be at most 100000, got 99999999999999999999/ },
    { group: G, input: 'fashion --size 32abc', args: ['fashion', '--size', '32abc', '--train', '10', '--test', '10'], expect: /--size must be an integer, got '32abc'/ },
    { group: G, input: 'fashion --json --size \'32}, "x": {"y": 1\' (JSON injection)', args: ['fashion', '--json', '--size', '32}, "x": {"y": 1', '--train', '10', '--test', '10'], expect: /--size must be an integer, got '32\}, "x": \{"y": 1'/ },
    { group: G, input: 'fashion --train 1e3 (integers are digits only, on both CLIs)', args: ['fashion', '--train', '1e3'], expect: /--train must be an integer, got '1e3'/ },
    { group: G, input: 'fashion --C 0x10', args: ['fashion', '--C', '0x10', '--train', '10', '--test', '10'], expect: /--C must be a number, got '0x10'/ },
    { group: G, input: 'fashion --classifier bogus (the rows come from the C table on both CLIs)', args: ['fashion', '--classifier', 'bogus'], expect: /^denselab: --classifier must be linear-svm, rbf-svm, softmax, finetune, pixels-linear-svm or all, got 'bogus'$/m },
    { group: G, input: 'summary --weights none --classes 262144 --max-memory 100MB (a stated memory limit)', args: ['summary', '--weights', 'none', '--classes', '262144', '--max-memory', '100MB'], expect: /needs 2\.1 GB of memory for one image; the limit is 100\.0 MB \(max_memory\)/ },
    { group: G, input: 'summary --max-memory 12parsecs', args: ['summary', '--max-memory', '12parsecs'], expect: /max_memory must be a positive number of bytes/ },
    { group: G, input: 'preprocess --size 32,32abc', args: ['preprocess', cat, '--size', '32,32abc', '--out', path.join(tmp, 'x.npy')], expect: /--size must be H,W \(1\.\.8192\), got '32,32abc'/ },
    { group: G, input: 'predict on a file that is not an image (WASM: one line, no stack trace)', args: ['predict', write('not-image.png', 'hello'), '--out', path.join(tmp, 'p.npy')], expect: /not-image\.png: not an image/ },
    { group: G, input: 'loadImg(photo, [2**32 + 2, 2]): a target size C would truncate', expect: /target height must be an integer from 1 to 16384, got 4294967298/,
      api: (lab) => lab.loadImg(catBytes(), [2 ** 32 + 2, 2]) },
    ...[[1.5, 'fractional'], [-1, 'negative'], [0, 'zero']].map(([v, what]) => ({ group: G, input: `loadImg(photo, [${v}, 3]): ${what} target size`, expect: /target height must be an integer from 1 to 16384/,
      api: (lab) => lab.loadImg(catBytes(), [v, 3]) })),
    ...[-1, NaN, 2 ** 32].map((v) => ({ group: G, input: `loadImg(photo, null, { maxPixels: ${v} })`, expect: /maxPixels must be an integer from 0 to 536870911/,
      api: (lab) => lab.loadImg(catBytes(), null, { maxPixels: v }) })),
    { group: G, input: 'net.summary() after net.free()', expect: /this network was freed/, api: (lab, { file }) => { const net = net32(lab, file); net.free(); net.summary(); } },
    { group: G, input: 'net.predict() after file.free() and other loads (the file lives while the network does)', expect: 'ok',
      api: (lab, { file }) => {
        const own = lab.loadModelFile(fs.readFileSync(model)), net = net32(lab, own), x = new Float32Array(32 * 32 * 3);
        const before = net.predict(x);
        own.free();
        lab.loadModelFile(tinyModel()).free();
        const after = net.predict(x);
        net.free();
        if (after.some((v, i) => v !== before[i])) throw new Error('the output changed after file.free()');
      } },
    { group: G, input: 'buildNet(file, { includeTop: \'False\\0\', pooling: \'avg\' }): NUL inside an option value', expect: /includeTop: invalid value .* \(NUL, newline and '=' are not allowed\)/,
      api: (lab, { file }) => lab.buildNet(file, { includeTop: 'False\0', pooling: 'avg', inputShape: [32, 32, 3] }).free() },
    { group: G, input: 'preprocessInput(Float32Array)', expect: /preprocessInput needs RGB bytes \(Uint8Array or Uint8ClampedArray\), got a Float32Array/, api: (lab) => lab.preprocessInput(new Float32Array(12)) },
    { group: G, input: 'preprocessInput(4 bytes): not whole pixels', expect: /4 bytes is not a multiple of 3/, api: (lab) => lab.preprocessInput(new Uint8Array(4)) },
    { group: G, input: 'grayFeatures(net, gray, 1, 1, 2**20): count x 1024 x 4 wraps in 32 bits', expect: /features: \d+ x \d+ bytes is more than the 2147483648-byte limit of one WebAssembly instance/,
      api: withNet((lab, net) => lab.grayFeatures(net, new Uint8Array(2 ** 20), 1, 1, 2 ** 20)) },
    { group: G, input: 'classify --json IMAGE whose file name is not UTF-8', expect: 'clean', note: 'tests/badinput.test.js (native: valid JSON, invalid bytes as U+FFFD; WASM: Node cannot open the name, one line)' },
    { group: G, input: 'fashion --json on both CLIs', expect: 'clean', note: 'tests/badinput.test.js (the same bytes, timings aside; --size printed as the number parsed)' },
    { group: G, input: 'a long random sequence of valid and invalid API calls in one instance', expect: 'clean', note: 'tests/api-guard.test.js (the golden photo gives exactly its first output every 8 calls)' },
    { group: G, input: 'buildNet(file, { weights: null, classes: 1048576 })', expect: 'clean', note: 'tests/api-guard.test.js (an Error; a trap in the core marks the instance unusable: every later call says so)' },
    { group: G, input: 'net.predict(x, 2**32 + 1): a batch C would truncate to 1', expect: /batch must be an integer from 1 to 2147483647/,
      api: withNet((lab, net) => net.predict(new Float32Array(32 * 32 * 3), 2 ** 32 + 1)) },
  ];
}

// ---- runners (shared by the test and the report) ----

export function firstLine(s) { return (s ?? '').trim().split('\n')[0] ?? ''; }

export function runNative(c, tmp) {
  const args = c.image ? ['preprocess', c.image, '--size', '32,32', '--out', path.join(tmp, 'out.npy'), ...(c.maxPixels ? ['--max-pixels', String(c.maxPixels)] : [])] : c.args;
  return run('native', args);
}

export function runWasm(c) { return run('wasm', c.args); }

// -> { ok: true, img? } or { ok: false, message }
export function runApi(c, ctx) {
  try {
    if (c.image) return { ok: true, img: ctx.lab.loadImg(fs.readFileSync(c.image), null, { maxPixels: c.maxPixels ?? 0 }) };
    c.api(ctx.lab, ctx);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof Error)) return { ok: false, message: `threw a non-Error: ${e}` };
    return { ok: false, message: e.message };
  }
}
