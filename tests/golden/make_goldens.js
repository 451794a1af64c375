#!/usr/bin/env node
// Generates tests/golden/densenet121.json: TF.js's DenseNet121 outputs on the
// images in ../shared/images, for the tests to compare DenseLab against.
//   node tests/golden/make_goldens.js      (after ./build.sh: JPEG inputs come from build/native/denselab)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { root, sharedDir, loadDenseNetTfjs, predict, tf, tfjsWasmVersion } from '../tfjs_peer.js';
import { decodeImage, resizeNearest, preprocessTorch, readNpy } from './keras_input.js';

const OUT = path.join(root, 'tests', 'golden', 'densenet121.json');
const IMAGES = path.join(sharedDir(), 'images');
const CLI = path.join(root, 'build', 'native', 'denselab');
const BACKEND = 'wasm';

// Shortest decimal that reads back as the same float32.
function f32(v) {
  if (!Number.isFinite(v)) throw new Error(`non-finite value ${v}`);
  for (let p = 1; p < 10; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

// JSON with float32 values in shortest form and arrays of scalars on one line (keeps the file small and diffable).
function toJson(v, indent = '') {
  const inner = indent + ' ';
  if (v instanceof Float32Array) return `[${Array.from(v, f32).join(',')}]`;
  if (typeof v === 'number') return Number.isInteger(v) || Math.fround(v) !== v ? JSON.stringify(v) : f32(v);
  if (Array.isArray(v)) {
    if (v.every((e) => typeof e !== 'object' || e === null)) return `[${v.map((e) => toJson(e)).join(', ')}]`;
    return `[\n${v.map((e) => inner + toJson(e, inner)).join(',\n')}\n${indent}]`;
  }
  if (v && typeof v === 'object') {
    const items = Object.entries(v).map(([k, e]) => `${inner}${JSON.stringify(k)}: ${toJson(e, inner)}`);
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v);
}

const sha256 = (typed) => crypto.createHash('sha256').update(Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength)).digest('hex');

// Summary of a network input, so the C preprocessing can be cross-checked exactly (sha256)
// or, when it differs, located (per-channel sums, sample values).
function inputStats(x, h, w) {
  const sum = [0, 0, 0];
  for (let i = 0; i < x.length; i++) sum[i % 3] += x[i];
  const at = (y, xx) => [0, 1, 2].map((c) => x[(y * w + xx) * 3 + c]);
  const points = [[0, 0], [0, w - 1], [h >> 1, w >> 1], [h - 1, 0], [h - 1, w - 1], [3, 7]];
  return {
    shape: [1, h, w, 3],
    sha256: sha256(x),
    channelSums: sum.map((s) => Number(s.toPrecision(12))),
    samples: points.map(([y, xx]) => ({ y, x: xx, rgb: at(y, xx) })),
  };
}

// The network input for one image at one size, as Keras computes it.
function kerasInput(file, h, w, tmp) {
  if (/\.jpe?g$/i.test(file)) {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} missing: run ./build.sh first (JPEG inputs come from the project's decoder)`);
    const npy = path.join(tmp, `x-${h}x${w}.npy`);
    execFileSync(CLI, ['preprocess', file, '--size', `${h},${w}`, '--out', npy], { stdio: ['ignore', 'ignore', 'inherit'] });
    const { shape, data } = readNpy(npy);
    if (shape.join() !== [1, h, w, 3].join()) throw new Error(`${file}: denselab preprocess gave shape ${shape}`);
    return { x: data, source: 'build/native/denselab preprocess (stb_image)' };
  }
  const img = decodeImage(file);
  const rgb = resizeNearest(img, h, w).rgb;
  return { x: preprocessTorch(rgb), rgb, source: 'tests/golden/keras_input.js', original: [img.height, img.width] };
}

function topK(p, k) {
  return [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
}

async function main() {
  const classIndex = JSON.parse(fs.readFileSync(path.join(sharedDir(), 'labels', 'imagenet_class_index.json'), 'utf8'));
  const full = await loadDenseNetTfjs({ backend: BACKEND });
  const pooled = await loadDenseNetTfjs({ backend: BACKEND, includeTop: false, pooling: 'avg' });
  const pooled32 = await loadDenseNetTfjs({ backend: BACKEND, includeTop: false, pooling: 'avg', inputShape: [32, 32, 3] });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'denselab-golden-'));
  const images = [];
  try {
    for (const name of fs.readdirSync(IMAGES).filter((f) => /\.(png|bmp|jpe?g)$/i.test(f)).sort()) {
      const file = path.join(IMAGES, name);
      const a = kerasInput(file, 224, 224, tmp);
      const b = kerasInput(file, 32, 32, tmp);
      const probs = predict(full, a.x, [1, 224, 224, 3]);
      const top5 = topK(probs, 5);
      const entry = {
        file: name,
        inputSource: a.source,
        input: inputStats(a.x, 224, 224),
        input32: inputStats(b.x, 32, 32),
        top5: top5.map((i) => ({ index: i, wnid: classIndex[i][0], label: classIndex[i][1], prob: probs[i] })),
        probs,
        features: predict(pooled, a.x, [1, 224, 224, 3]),
        features32: predict(pooled32, b.x, [1, 32, 32, 3]),
      };
      if (a.rgb) {
        entry.originalSize = a.original;
        entry.input.rgbSha256 = sha256(a.rgb);   // the resized uint8 RGB image, before preprocess_input
        entry.input32.rgbSha256 = sha256(b.rgb);
      }
      images.push(entry);
      console.log(`${name}: ${top5.map((i) => `${classIndex[i][1]} ${probs[i].toFixed(4)}`).join(', ')}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  // Self-check against the values in ../shared/README.md: tabby 0.653 with the
  // inserted ReLU, 0.789 without it (the raw Keras 2.1.4 export).
  const cat = images.find((e) => e.file === 'cat_285.png');
  const catX = kerasInput(path.join(IMAGES, 'cat_285.png'), 224, 224, tmp).x;
  const noRelu = predict(await loadDenseNetTfjs({ backend: BACKEND, insertFinalRelu: false }), catX, [1, 224, 224, 3]);
  const check = (what, got, want) => {
    if (Math.abs(got - want) > 5e-4) throw new Error(`self-check failed: ${what} = ${got}, expected ≈ ${want}`);
    console.log(`self-check ok: ${what} = ${got.toFixed(4)} (≈ ${want})`);
  };
  check('cat_285.png tabby (281), with ReLU', cat.probs[281], 0.653);
  check('cat_285.png tabby (281), without ReLU', noRelu[281], 0.789);
  if (cat.top5[0].index !== 281) throw new Error('self-check failed: cat_285.png top-1 is not tabby');

  const golden = {
    description: 'TF.js outputs of Keras DenseNet121(weights="imagenet") with the final ReLU inserted, on ../shared/images. ' +
      'Generated by tests/golden/make_goldens.js; do not edit.',
    generator: 'tests/golden/make_goldens.js',
    tfjsVersion: tf.version.tfjs,
    backend: `${tf.getBackend()} (@tensorflow/tfjs-backend-wasm ${tfjsWasmVersion}, Node ${process.version}, single thread)`,
    model: 'densenet121-tfjs (TF.js layers export of Keras 2.1.4 DenseNet121) + Activation("relu", name="relu") between "bn" and "avg_pool"',
    preprocessing: 'keras load_img(target_size) with PIL NEAREST (Pillow ImagingScaleAffine index accumulation), convert("RGB") drops alpha, ' +
      'then preprocess_input mode "torch" in float32: ((x / 255) - mean) / std, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225].',
    inputNotes: 'PNG and BMP inputs are computed by tests/golden/keras_input.js (own decoder, independent of the C code); ' +
      'the C preprocessing should match their sha256 exactly. JPEG inputs come from build/native/denselab preprocess ' +
      '(stb_image), because stb_image and libjpeg-turbo (used by Pillow) differ by up to ±3 levels on a few percent of pixels; ' +
      'real Keras on a JPEG therefore differs from these values by up to ~2e-3 in probability.',
    fields: {
      probs: 'softmax output, 1000 float32 (shortest round-trip decimal)',
      top5: 'indices of the 5 largest probabilities with class index entries',
      features: 'include_top=False, pooling="avg" at 224x224: 1024 float32',
      features32: 'include_top=False, pooling="avg", input_shape=(32, 32, 3), the image resized with NEAREST to 32x32: 1024 float32',
      input: 'network input (1,224,224,3) statistics: sha256 of the float32 bytes (little-endian, NHWC), per-channel sums, sample values',
      input32: 'same for the 32x32 input',
    },
    selfCheck: { 'cat_285.png tabby with ReLU': cat.probs[281], 'cat_285.png tabby without ReLU': noRelu[281] },
    images,
  };
  const text = toJson(golden);
  fs.writeFileSync(OUT, text + '\n');
  console.log(`wrote ${path.relative(root, OUT)} (${(text.length / 1024).toFixed(0)} KiB)`);
}

main().catch((e) => { console.error(`make_goldens: ${e.message}`); process.exit(1); });
