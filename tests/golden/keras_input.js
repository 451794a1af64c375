// Keras's network input for DenseNet121, computed independently of the C code:
// load_img(path, target_size) (decode, convert('RGB'), PIL NEAREST resize) then
// preprocess_input (mode 'torch') in float32. PNG and BMP only: those decode
// identically everywhere, unlike JPEG (see ../shared/README.md).
import fs from 'node:fs';
import zlib from 'node:zlib';

function fail(msg) { throw new Error(msg); }

// PNG, 8 bits per sample, not interlaced; any color type. Returns { width, height, rgb }.
export function decodePng(buf) {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (buf.length < 8 || sig.some((b, i) => buf[i] !== b)) fail('not a PNG');
  let pos = 8, ihdr = null, palette = null;
  const idat = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos), type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') ihdr = {
      width: data.readUInt32BE(0), height: data.readUInt32BE(4), depth: data[8], color: data[9], interlace: data[12],
    };
    else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (!ihdr) fail('PNG without IHDR');
  const { width, height, depth, color, interlace } = ihdr;
  if (depth !== 8 || interlace !== 0) fail(`PNG depth ${depth} interlace ${interlace} not supported`);
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[color] ?? fail(`PNG color type ${color}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) fail('PNG data truncated');
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? px.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      let p;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: { // Paeth
          const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
          p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: fail(`PNG filter ${filter}`);
      }
      row[i] = (src[i] + p) & 255;
    }
  }
  // convert('RGB'): alpha is dropped (not composited), gray replicated, palette looked up.
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    let r, g, b;
    if (color === 2 || color === 6) [r, g, b] = [px[i * channels], px[i * channels + 1], px[i * channels + 2]];
    else if (color === 3) { const k = px[i] * 3; [r, g, b] = [palette[k], palette[k + 1], palette[k + 2]]; }
    else r = g = b = px[i * channels];
    rgb.set([r, g, b], i * 3);
  }
  return { width, height, rgb };
}

// BMP, uncompressed 24 or 32 bits per pixel (BI_RGB), bottom-up or top-down.
export function decodeBmp(buf) {
  if (buf.toString('latin1', 0, 2) !== 'BM') fail('not a BMP');
  const offset = buf.readUInt32LE(10), width = buf.readInt32LE(18), h = buf.readInt32LE(22);
  const bpp = buf.readUInt16LE(28), compression = buf.readUInt32LE(30);
  if (compression !== 0 || (bpp !== 24 && bpp !== 32)) fail(`BMP ${bpp} bpp compression ${compression} not supported`);
  const height = Math.abs(h), bytes = bpp / 8, stride = Math.ceil((width * bytes) / 4) * 4;
  if (offset + stride * height > buf.length) fail('BMP data truncated');
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = offset + (h > 0 ? height - 1 - y : y) * stride;
    for (let x = 0; x < width; x++) {
      const s = row + x * bytes, d = (y * width + x) * 3;
      rgb[d] = buf[s + 2]; rgb[d + 1] = buf[s + 1]; rgb[d + 2] = buf[s]; // BGR(X) -> RGB
    }
  }
  return { width, height, rgb };
}

export function decodeImage(file) {
  const buf = fs.readFileSync(file);
  if (buf[0] === 0x89 && buf[1] === 0x50) return decodePng(buf);
  if (buf[0] === 0x42 && buf[1] === 0x4d) return decodeBmp(buf);
  return fail(`${file}: only PNG and BMP are decoded here`);
}

// Source indices of Pillow's NEAREST scale (ImagingScaleAffine): the position is
// accumulated in double precision and truncated, exactly as Pillow does.
export function nearestIndices(inSize, outSize) {
  const scale = inSize / outSize, idx = new Int32Array(outSize);
  let pos = 0.5 * scale;
  for (let i = 0; i < outSize; i++) { idx[i] = Math.min(Math.trunc(pos), inSize - 1); pos += scale; }
  return idx;
}

export function resizeNearest({ width, height, rgb }, outH, outW) {
  if (width === outW && height === outH) return { width, height, rgb };
  const xs = nearestIndices(width, outW), ys = nearestIndices(height, outH);
  const out = new Uint8Array(outW * outH * 3);
  for (let y = 0; y < outH; y++)
    for (let x = 0; x < outW; x++)
      out.set(rgb.subarray((ys[y] * width + xs[x]) * 3, (ys[y] * width + xs[x]) * 3 + 3), (y * outW + x) * 3);
  return { width: outW, height: outH, rgb: out };
}

// preprocess_input(x, mode='torch') as numpy does it on float32 arrays:
// x /= 255; x[..., c] -= mean[c]; x[..., c] /= std[c] — each step rounded to float32.
const MEAN = [0.485, 0.456, 0.406].map(Math.fround), STD = [0.229, 0.224, 0.225].map(Math.fround);
export function preprocessTorch(rgb) {
  const f = Math.fround, out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = f(f(f(rgb[i] / 255) - MEAN[i % 3]) / STD[i % 3]);
  return out;
}

// Reads a little-endian float32 .npy (as `denselab preprocess` writes). Returns { shape, data }.
export function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') fail(`${file}: not a .npy file`);
  const major = buf[6], hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12, header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) fail(`${file}: expected C-order <f4, got ${header}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start + hlen, buf.byteOffset + buf.length));
  if (data.length !== shape.reduce((a, b) => a * b, 1)) fail(`${file}: size does not match shape ${shape}`);
  return { shape, data };
}
