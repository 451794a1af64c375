// Images that stb_image cannot read (WebP, AVIF) but the browser can: the browser decodes them
// (createImageBitmap), and the pixels go on as a binary PPM, a format stb does read, so the
// resize and preprocessing after it are the same C code as for every other photo.
// Works in a page and in a worker (OffscreenCanvas).

// stb's refusals that the browser may be able to fix; a damaged JPEG or PNG is not one of them.
// (AVIF has no entry in models/image.c's format table: "unknown format".)
const NOT_STB = /^unsupported image format: (WebP|TIFF|ICO) |^not an image: unknown format/;

function browserMayDecode(error) {
  return NOT_STB.test(error.message) && typeof createImageBitmap === 'function' && typeof OffscreenCanvas === 'function';
}

// The name of the format, from its magic number (for the note beside the result).
function formatName(bytes) {
  const b = (ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes)).subarray(0, 16);
  const ascii = (from, to) => String.fromCharCode(...b.subarray(from, to));
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(4, 8) === 'ftyp') return /^(avif|avis)$/.test(ascii(8, 12)) ? 'AVIF' : 'HEIF';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'TIFF';
  return 'a format stb_image does not read';
}

// Decoded RGB as a binary PPM (P6); maxPixels as the C decoder's default limit.
async function decodeToPpm(bytes, { maxPixels = 100_000_000 } = {}) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch (e) {
    throw new Error(`this browser cannot decode it either (${e.message || e.name})`);
  }
  const { width, height } = bitmap;
  if (width * height > maxPixels) {
    bitmap.close();
    throw new Error(`image too large: ${width}x${height} = ${width * height} pixels, the limit is ${maxPixels}`);
  }
  const ctx = new OffscreenCanvas(width, height).getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const head = new TextEncoder().encode(`P6\n${width} ${height}\n255\n`);
  const ppm = new Uint8Array(head.length + width * height * 3);
  ppm.set(head);
  // Alpha is dropped, as Pillow's convert('RGB') does.
  for (let i = 0, o = head.length; i < rgba.length; i += 4, o += 3) {
    ppm[o] = rgba[i]; ppm[o + 1] = rgba[i + 1]; ppm[o + 2] = rgba[i + 2];
  }
  return ppm;
}

// decode(bytes) with stb; where stb cannot read the format and the browser can, decode(ppm) with
// the browser's pixels instead. -> { result, decodedBy: null | the format's name }.
export async function withBrowserFallback(bytes, decode) {
  try {
    return { result: decode(new Uint8Array(bytes)), decodedBy: null };
  } catch (e) {
    if (!browserMayDecode(e)) throw e;
    let ppm;
    try {
      ppm = await decodeToPpm(bytes);
    } catch (e2) {
      throw new Error(`${e.message}; ${e2.message}`);
    }
    return { result: decode(ppm), decodedBy: formatName(bytes) };
  }
}

// The note shown beside a result the browser decoded.
export const decodedNote = (format) => `Decoded by this browser (${format}): stb_image, which DenseLab uses like Keras's Pillow for JPEG, PNG, BMP and GIF, cannot read it.`;
