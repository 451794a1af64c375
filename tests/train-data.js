// train-data.js — a small real data set for "your own classes", made at test time: a few
// Fashion-MNIST classes written as PNG (gray) and BMP (24-bit) files in class folders, plus the
// shared photos as one more class. Encoders here are minimal (stored PNG via zlib, BMP).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { shared } from './helpers.js';

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';
export const TRAIN_CLASSES = { trouser: 1, sneaker: 7, bag: 8 };

// The first `count` test images of each wanted label: { label: [Uint8Array(784) ...] }.
export function fashionImages(perClass, skip = 0) {
  const images = zlib.gunzipSync(fs.readFileSync(path.join(FASHION_DIR, 't10k-images-idx3-ubyte.gz')));
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(FASHION_DIR, 't10k-labels-idx1-ubyte.gz')));
  const out = {}, seen = {};
  for (let i = 0; i < labels.length - 8; i++) {
    const y = labels[8 + i];
    seen[y] = (seen[y] ?? 0) + 1;
    if (seen[y] <= skip) continue;
    (out[y] ??= []);
    if (out[y].length < perClass) out[y].push(images.subarray(16 + i * 784, 16 + (i + 1) * 784));
  }
  return out;
}

const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
export function crc32(buf) { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }

function chunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  len.writeUInt32BE(data.length); crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

// w x h gray pixels -> PNG bytes.
export function grayPng(pixels, w = 28, h = 28) {
  const head = Buffer.alloc(13);
  head.writeUInt32BE(w, 0); head.writeUInt32BE(h, 4); head[8] = 8; head[9] = 0;
  const raw = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) Buffer.from(pixels.subarray(y * w, (y + 1) * w)).copy(raw, y * (w + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', head), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// w x h gray pixels -> 24-bit bottom-up BMP bytes.
export function grayBmp(pixels, w = 28, h = 28) {
  const stride = (w * 3 + 3) & ~3, b = Buffer.alloc(54 + stride * h);
  b.write('BM', 0, 'latin1'); b.writeUInt32LE(b.length, 2); b.writeUInt32LE(54, 10); b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18); b.writeInt32LE(h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28); b.writeUInt32LE(stride * h, 34);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.fill(pixels[(h - 1 - y) * w + x], 54 + y * stride + x * 3, 54 + y * stride + x * 3 + 3);
  return b;
}

// dir/<class>/<files>: perClass images of each Fashion-MNIST class (every third one a BMP),
// and `photos` holding the shared photos. Returns { dir, classes: [names in byte order], files }.
export function makeTrainingSet(dir, { perClass = 8, photos = true } = {}) {
  const images = fashionImages(perClass);
  for (const [name, label] of Object.entries(TRAIN_CLASSES)) {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    images[label].forEach((px, i) => {
      const bmp = i % 3 === 2;
      fs.writeFileSync(path.join(dir, name, `${name}-${String(i).padStart(2, '0')}.${bmp ? 'bmp' : 'png'}`), bmp ? grayBmp(px) : grayPng(px));
    });
  }
  if (photos) {
    fs.mkdirSync(path.join(dir, 'photos'), { recursive: true });
    for (const f of fs.readdirSync(path.join(shared, 'images'))) fs.copyFileSync(path.join(shared, 'images', f), path.join(dir, 'photos', f));
  }
  return { dir, classes: fs.readdirSync(dir).sort() };
}

// Y4M (4:2:0) 320x240 at fps frames/s: `seconds` of each RGB 240x240 picture in turn, centred.
export function y4m(pictures, seconds = 2, fps = 10) {
  const W = 320, H = 240, frames = [];
  for (const rgb of pictures) {
    const y = new Uint8Array(W * H), u = new Uint8Array(W * H / 4).fill(128), v = new Uint8Array(W * H / 4).fill(128);
    for (let r = 0; r < H; r++) for (let c = 0; c < 240; c++) {
      const i = (r * 240 + c) * 3, [R, G, B] = [rgb[i], rgb[i + 1], rgb[i + 2]], x = c + 40;
      y[r * W + x] = Math.round(0.299 * R + 0.587 * G + 0.114 * B);
      if (r % 2 === 0 && x % 2 === 0) {
        u[(r / 2) * (W / 2) + x / 2] = Math.max(0, Math.min(255, Math.round(128 - 0.168736 * R - 0.331264 * G + 0.5 * B)));
        v[(r / 2) * (W / 2) + x / 2] = Math.max(0, Math.min(255, Math.round(128 + 0.5 * R - 0.418688 * G - 0.081312 * B)));
      }
    }
    for (let k = 0; k < seconds * fps; k++) frames.push(Buffer.from('FRAME\n'), y, u, v);
  }
  return Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F${fps}:1 Ip A1:1 C420jpeg\n`), ...frames]);
}

// node tests/train-data.js DIR [PER_CLASS] [--no-photos]: writes the set (for the measurements in docs/benchmarks.md).
if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const [dir, per = '8', flag] = process.argv.slice(2);
  if (!dir) { console.error('usage: node tests/train-data.js DIR [PER_CLASS] [--no-photos]'); process.exit(1); }
  console.log(makeTrainingSet(path.resolve(dir), { perClass: Number(per), photos: flag !== '--no-photos' }).classes.join(' '));
}
