// Image decoding (stb_image) and Keras-compatible resize/preprocessing.
#include "models/image.h"
#include "common/checked.h"
#include "common/reason.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Only the formats we promise (stb's TGA has no magic number and would claim
// random bytes); no stdio (we decode from memory), no float/HDR paths.
#define STBI_NO_STDIO
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_LINEAR
#define STBI_NO_HDR
// stb 2.27 asserts on some corrupt progressive JPEGs (fixed in 2.28); a bad file must
// give an error, never abort the program.
#define STBI_ASSERT(x) ((void)0)
#define STB_IMAGE_IMPLEMENTATION
// The JPEG rows a resize will read (models/stb_image.cmake puts this test in stb's
// colour-conversion loop); NULL: every row. Set by decode() around one stb call
// (jpeg_rows_count bounds the lookup should the pixels disagree with the header: an error).
static _Thread_local const unsigned char *jpeg_rows_needed;
static _Thread_local size_t jpeg_rows_count;
#define STBI_JPEG_ROW_NEEDED(j) (!jpeg_rows_needed || ((size_t)(j) < jpeg_rows_count && jpeg_rows_needed[j]))
// stb turns its SSE2 JPEG kernels (IDCT, YCbCr to RGB, 2x2 chroma upsampling) on for x86
// only. They give the same bits as its scalar ones (stb's own promise, and the native CLI,
// which uses them, equals the WASM one), and Emscripten's emmintrin.h maps SSE2 onto
// WebAssembly SIMD (models/CMakeLists.txt compiles this file with -msse2): a 12 MP
// phone photo decodes in much less time than with the scalar kernels.
#if defined(__EMSCRIPTEN__) && defined(__SSE2__)
#include <emmintrin.h>
#define STBI_SSE2
#define STBI_SIMD_ALIGN(type, name) type name __attribute__((aligned(16)))
static int stbi__sse2_available(void) { return 1; }
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb/stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif


// stb decodes a truncated JPEG, BMP or GIF without complaint (it reads zeros
// past the end), while PIL refuses it. Feeding stb through callbacks lets us
// see whether it asked for bytes after the end of the data.
typedef struct {
    const unsigned char *data;
    size_t n, pos;
    int overrun;
} reader;

static int reader_read(void *user, char *dst, int size) {
    reader *r = user;
    size_t left = r->n - r->pos, k = size > 0 ? (size_t)size : 0;
    if (k > left) k = left;
    if (k == 0 && size > 0) r->overrun = 1;
    memcpy(dst, r->data + r->pos, k);
    r->pos += k;
    return (int)k;
}

static void reader_skip(void *user, int k) {
    reader *r = user;
    // stb handles negative skips itself; only forward ones reach us.
    if (k < 0) return;
    if ((size_t)k > r->n - r->pos) {
        r->overrun = 1;
        r->pos = r->n;
    } else {
        r->pos += (size_t)k;
    }
}

static int reader_eof(void *user) {
    reader *r = user;
    return r->pos >= r->n;
}

// stb 2.27 (Debian's libstb-dev) does not check that a JPEG Huffman table
// (DHT) has at most 256 codes, and writes past its tables when one has more
// (fixed upstream in 2.28). Walk the markers, including those between the
// scans of a progressive JPEG, and refuse such tables before stb parses them.
static int jpeg_huffman_tables_ok(const unsigned char *b, size_t n) {
    size_t pos = 2; // after SOI
    while (pos + 4 <= n) {
        unsigned m = b[pos + 1];
        if (b[pos] != 0xFF || m == 0xFF) { // entropy-coded data or fill bytes
            pos++;
            continue;
        }
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { // stuffing, TEM, RSTn: no length
            pos += 2;
            continue;
        }
        if (m == 0xD9) return 1; // EOI
        size_t end = pos + 2 + ((size_t)b[pos + 2] << 8 | b[pos + 3]);
        if (m == 0xC4) {
            // As stb: another table starts while any segment byte is left, and
            // its counts may run past the segment (bytes past the data read as 0).
            for (size_t t = pos + 4; t < end && t < n;) {
                size_t codes = 0;
                for (int i = 1; i <= 16 && t + i < n; i++) codes += b[t + i];
                if (codes > 256) return 0;
                t += 17 + codes;
            }
        }
        pos = end;
    }
    return 1;
}

// stb refuses PNGs of more than 2^30 bytes of pixels with a bare "too
// large"; reading the IHDR size first lets the max_pixels message say more.
static int png_header_size(const unsigned char *b, size_t n, uint32_t *w, uint32_t *h) {
    if (n < 24 || memcmp(b + 12, "IHDR", 4) != 0) return 0;
    *w = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    *h = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    return 1;
}

// What PIL shows where stb's first GIF frame has no color: transparent
// pixels keep the palette color of the transparent index (no compositing),
// and pixels outside the frame's rectangle get the transparent index too, or
// index 0 (PIL ignores the background index on the first frame; stb uses it).
typedef struct {
    int x0, y0, x1, y1;      // the frame's rectangle
    int keyed;               // has a transparent index
    unsigned char key[3];    // its color
    unsigned char fill[3];   // color outside the rectangle
} gif_frame_info;

static int gif_first_frame(const unsigned char *b, size_t n, gif_frame_info *g) {
    memset(g, 0, sizeof *g);
    if (n < 13) return 0;
    const unsigned char *pal = NULL;
    size_t pal_len = 0, pos = 13;
    if (b[10] & 0x80) {
        pal = b + 13;
        pal_len = (size_t)2 << (b[10] & 7);
        pos += 3 * pal_len;
    }
    int transparent = -1;
    while (pos + 1 < n && b[pos] == 0x21) { // extensions before the image
        size_t data = pos + 2;
        if (b[pos + 1] == 0xF9 && data + 5 <= n && b[data] >= 4) transparent = b[data + 1] & 1 ? b[data + 4] : -1;
        for (pos = data; pos < n && b[pos]; pos += 1 + (size_t)b[pos]) {} // sub-blocks
        pos++;
    }
    if (pos + 10 > n || b[pos] != 0x2C) return 0;
    const unsigned char *d = b + pos + 1;
    g->x0 = d[0] | d[1] << 8;
    g->y0 = d[2] | d[3] << 8;
    g->x1 = g->x0 + (d[4] | d[5] << 8);
    g->y1 = g->y0 + (d[6] | d[7] << 8);
    if (d[8] & 0x80) {
        pal = b + pos + 10;
        pal_len = (size_t)2 << (d[8] & 7);
    }
    if (pal && (size_t)(pal - b) + 3 * pal_len > n) pal = NULL; // a palette past the end
    if (pal && transparent >= 0 && (size_t)transparent < pal_len) {
        g->keyed = 1;
        memcpy(g->key, pal + 3 * transparent, 3);
    }
    if (pal) memcpy(g->fill, g->keyed ? g->key : pal, 3);
    return 1;
}

// stb gives the first frame as RGBA; PIL's colors (above) replace what
// stb made of transparent and uncovered pixels, and RGBA becomes RGB in place.
static void gif_finish(const unsigned char *b, size_t n, unsigned char *px, int w, int h) {
    gif_frame_info g;
    gif_first_frame(b, n, &g);
    size_t i = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++, i++) {
            int inside = x >= g.x0 && x < g.x1 && y >= g.y0 && y < g.y1;
            const unsigned char *src = !inside ? g.fill : g.keyed && px[i * 4 + 3] == 0 ? g.key : px + i * 4;
            memmove(px + i * 3, src, 3);
        }
}

// ---------------------------------------------------------------------------
// The formats: each recognised by its magic number (to name it in messages,
// and to call common formats we do not decode by their name rather than "not
// an image"); the decoded ones with their stb header reader, the checks that
// must run before stb parses the file, and the pixels asked from stb.

typedef int (*stb_info_fn)(stbi__context *s, int *w, int *h, int *comp);

typedef struct {
    const char *name;
    const char *magic;
    size_t magic_len;
    const char *tag8;     // also at byte 8 (WebP's "WEBP" in a RIFF), or NULL
    stb_info_fn info;     // NULL: recognised, not decoded
    const char *(*check)(const unsigned char *b, size_t n, size_t max_pixels); // or NULL
    int channels;         // asked from stb
    void (*finish)(const unsigned char *b, size_t n, unsigned char *px, int w, int h); // or NULL
} image_format;

static const char *too_large(const char *fmt, uint64_t w, uint64_t h, size_t max_pixels) {
    return dl_errorf("%s image too large: %llux%llu = %llu pixels, the limit is %zu", fmt, (unsigned long long)w,
                     (unsigned long long)h, (unsigned long long)(w * h), max_pixels);
}

static const char *jpeg_check(const unsigned char *b, size_t n, size_t max_pixels) {
    (void)max_pixels;
    if (!jpeg_huffman_tables_ok(b, n))
        return "cannot decode JPEG image: bad DHT header (a Huffman table with more than 256 codes)";
    return NULL;
}

// stb 2.27 skips a chunk by adding its stated length to a pointer: with a
// 32-bit address space (WASM, -m32) a length near 2^31 wraps the pointer
// back inside memory and stb reads wherever it lands. Every chunk must lie
// inside the file (IEND ends the walk; what follows it is ignored, as stb does).
static const char *png_chunks_check(const unsigned char *b, size_t n) {
    size_t at = 8;
    while (at + 8 <= n) {
        uint32_t len = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 | (uint32_t)b[at + 2] << 8 | b[at + 3];
        if ((uint64_t)len + 12 > (uint64_t)(n - at))
            return dl_errorf("truncated PNG image: a chunk of %u bytes runs past the end of the file", len);
        if (!memcmp(b + at + 4, "IEND", 4)) return NULL;
        at += (size_t)len + 12;
    }
    return "truncated PNG image: no IEND chunk";
}

static const char *png_check(const unsigned char *b, size_t n, size_t max_pixels) {
    uint32_t w, h;
    if (png_header_size(b, n, &w, &h) && (uint64_t)w * h > max_pixels) return too_large("PNG", w, h, max_pixels);
    return png_chunks_check(b, n);
}

// stb 2.27 reads 16-bit PNM samples in the wrong byte order and converts
// their channels past its buffer; its PNM info returns 16 for them.
static const char *pnm_check(const unsigned char *b, size_t n, size_t max_pixels) {
    (void)max_pixels;
    stbi__context s;
    int w, h, comp;
    stbi__start_mem(&s, b, (int)n);
    if (stbi__pnm_info(&s, &w, &h, &comp) == 16) return "unsupported image format: 16-bit PNM (maxval above 255)";
    return NULL;
}

// A negative height is a top-down BMP: stb's loader reads it (and PIL does),
// but its info reports the height as stored.
static int bmp_info(stbi__context *s, int *w, int *h, int *comp) {
    int ok = stbi__bmp_info(s, w, h, comp);
    if (ok && *h < 0 && *h != INT_MIN) *h = -*h;
    return ok;
}

static const image_format formats[] = {
    {"JPEG", "\xFF\xD8\xFF", 3, NULL, stbi__jpeg_info, jpeg_check, 3, NULL},
    {"PNG", "\x89PNG\r\n\x1A\n", 8, NULL, stbi__png_info, png_check, 3, NULL},
    {"GIF", "GIF87a", 6, NULL, stbi__gif_info, NULL, 4, gif_finish},
    {"GIF", "GIF89a", 6, NULL, stbi__gif_info, NULL, 4, gif_finish},
    {"BMP", "BM", 2, NULL, bmp_info, NULL, 3, NULL},
    {"PNM", "P5", 2, NULL, stbi__pnm_info, pnm_check, 3, NULL},
    {"PNM", "P6", 2, NULL, stbi__pnm_info, pnm_check, 3, NULL},
    {"PNM (ASCII or bitmap)", "P1", 2, NULL, NULL, NULL, 0, NULL},
    {"PNM (ASCII or bitmap)", "P2", 2, NULL, NULL, NULL, 0, NULL},
    {"PNM (ASCII or bitmap)", "P3", 2, NULL, NULL, NULL, 0, NULL},
    {"PNM (ASCII or bitmap)", "P4", 2, NULL, NULL, NULL, 0, NULL},
    {"TIFF", "II*\0", 4, NULL, NULL, NULL, 0, NULL},
    {"TIFF", "MM\0*", 4, NULL, NULL, NULL, 0, NULL},
    {"WebP", "RIFF", 4, "WEBP", NULL, NULL, 0, NULL},
    {"ICO", "\0\0\1\0", 4, NULL, NULL, NULL, 0, NULL},
};

static const image_format *sniff(const unsigned char *b, size_t n) {
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const image_format *f = &formats[i];
        if (n < f->magic_len || memcmp(b, f->magic, f->magic_len) != 0) continue;
        if (f->tag8 && (n < 12 || memcmp(b + 8, f->tag8, 4) != 0)) continue;
        return f;
    }
    return NULL;
}

#define MAX_PIXELS_RANGE "max_pixels must be an integer from 0 (the default %zu) to %zu, got "

const char *dl_image_check_max_pixels(size_t max_pixels) {
    if (max_pixels <= DL_IMAGE_MAX_PIXELS_LIMIT) return NULL;
    return dl_errorf(MAX_PIXELS_RANGE "%zu", DL_IMAGE_DEFAULT_MAX_PIXELS, DL_IMAGE_MAX_PIXELS_LIMIT, max_pixels);
}

const char *dl_image_max_pixels_from_double(double requested, size_t *max_pixels) {
    if (!max_pixels) return "max_pixels: no output";
    if (!(requested >= 0 && requested <= (double)DL_IMAGE_MAX_PIXELS_LIMIT) || requested != floor(requested))
        return dl_errorf(MAX_PIXELS_RANGE "%.17g", DL_IMAGE_DEFAULT_MAX_PIXELS, DL_IMAGE_MAX_PIXELS_LIMIT, requested);
    *max_pixels = (size_t)requested;
    return NULL;
}

// Every row, or (target_h > 0) of a JPEG only the rows that a NEAREST resize to target_h
// rows reads: the others are left unconverted, so the image is only fit for that resize.
static const char *decode(const unsigned char *bytes, size_t n, size_t max_pixels, int target_h, dl_image *out);

const char *dl_image_decode(const unsigned char *bytes, size_t n, size_t max_pixels, dl_image *out) {
    return decode(bytes, n, max_pixels, 0, out);
}

static const char *decode(const unsigned char *bytes, size_t n, size_t max_pixels, int target_h, dl_image *out) {
    if (!out) return "dl_image_decode: no output image";
    memset(out, 0, sizeof *out);
    const char *err = dl_image_check_max_pixels(max_pixels);
    if (err) return err;
    if (max_pixels == 0) max_pixels = DL_IMAGE_DEFAULT_MAX_PIXELS;
    if (!bytes || n == 0) return "not an image: empty input (0 bytes)";
    const image_format *f = sniff(bytes, n);
    if (!f) return "not an image: unknown format (supported: JPEG, PNG, BMP, GIF, binary PNM)";
    const char *fmt = f->name;
    if (!f->info) return dl_errorf("unsupported image format: %s (supported: JPEG, PNG, BMP, GIF, binary PNM)", fmt);
    if (n > INT_MAX) return dl_errorf("%s file too big: %zu bytes (at most %d)", fmt, n, INT_MAX);

    // Header first, so that a huge (or lying) size is refused before stb
    // allocates the pixels.
    if (f->check && (err = f->check(bytes, n, max_pixels))) return err;
    int w = 0, h = 0, comp = 0;
    stbi__context s;
    stbi__start_mem(&s, bytes, (int)n);
    if (!f->info(&s, &w, &h, &comp))
        return dl_errorf("cannot decode %s image: %s (corrupt, truncated or too large)", fmt, stbi_failure_reason());
    if (w <= 0 || h <= 0) return dl_errorf("cannot decode %s image: invalid size %dx%d", fmt, w, h);
    size_t pixels, bytes_out;
    if (!dl_mul((size_t)w, (size_t)h, &pixels) || pixels > max_pixels) return too_large(fmt, (uint64_t)w, (uint64_t)h, max_pixels);
    if (!dl_mul(pixels, (size_t)f->channels, &bytes_out))
        return dl_errorf("%s image too large for this platform: %dx%d", fmt, w, h);

    unsigned char *rows = NULL;    // JPEG: the rows the resize reads (a byte each)
    if (target_h > 0 && f->info == stbi__jpeg_info) {
        size_t lookups;
        int *ys = dl_mul((size_t)target_h, sizeof(int), &lookups) ? malloc(lookups) : NULL;
        if (ys && (rows = calloc((size_t)h, 1))) {
            dl_nearest_indices(h, target_h, ys);
            for (int y = 0; y < target_h; y++) rows[ys[y]] = 1;
        }
        free(ys);                 // out of memory here: every row, as without a target
    }
    reader r = {bytes, n, 0, 0};
    stbi_io_callbacks io = {reader_read, reader_skip, reader_eof};
    int dw = 0, dh = 0;
    jpeg_rows_needed = rows;
    jpeg_rows_count = (size_t)h;
    unsigned char *px = stbi_load_from_callbacks(&io, &r, &dw, &dh, &comp, f->channels);
    jpeg_rows_needed = NULL;
    free(rows);
    if (r.overrun) err = dl_errorf("truncated %s image: the data ends before the image does", fmt);
    else if (!px) err = dl_errorf("cannot decode %s image: %s", fmt, stbi_failure_reason());
    else if (dw != w || dh != h) err = dl_errorf("cannot decode %s image: header says %dx%d, pixels are %dx%d", fmt, w, h, dw, dh);
    if (err) {
        stbi_image_free(px);
        return err;
    }
    if (f->finish) f->finish(bytes, n, px, w, h);
    out->width = w;
    out->height = h;
    out->rgb = px;
    return NULL;
}

// stb allocates with malloc (STBI_MALLOC default), as do we: one free for both.
void dl_image_free(dl_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

// ---------------------------------------------------------------------------
// PIL NEAREST (ImagingScaleAffine): the position is accumulated in double,
// which is what makes it differ from floor((i + 0.5) * scale).

void dl_nearest_indices(int in_size, int out_size, int *idx) {
    if (in_size <= 0 || out_size <= 0 || !idx) return;
    double scale = (double)in_size / out_size;
    double pos = 0.5 * scale;
    for (int i = 0; i < out_size; i++) {
        int src = (int)pos;
        idx[i] = src < in_size ? src : in_size - 1; // never hit; keeps reads in bounds
        pos += scale;
    }
}

// A target size, height then width; context prefixes the reason.
static const char *check_sides(const char *context, double height, double width) {
    static const char *const what[2] = {"height", "width"};
    const double v[2] = {height, width};
    for (int i = 0; i < 2; i++)
        if (!(v[i] >= 1 && v[i] <= DL_IMAGE_MAX_SIDE) || v[i] != floor(v[i]))
            return dl_errorf("%starget %s must be an integer from 1 to %d, got %.17g", context, what[i],
                             DL_IMAGE_MAX_SIDE, v[i]);
    return NULL;
}

const char *dl_image_target_size(double height, double width, int *out_h, int *out_w) {
    if (!out_h || !out_w) return "target size: no output";
    *out_h = *out_w = 0;
    if (height == 0 && width == 0) return NULL; // no target: keep the decoded size
    const char *err = check_sides("", height, width);
    if (err) return err;
    *out_h = (int)height;
    *out_w = (int)width;
    return NULL;
}

const char *dl_image_resize_nearest(const dl_image *in, int out_w, int out_h, dl_image *out) {
    if (!out) return "resize: no output image";
    memset(out, 0, sizeof *out);
    if (!in || !in->rgb || in->width <= 0 || in->height <= 0) return "resize: empty input image";
    const char *err = check_sides("resize: ", out_h, out_w);
    if (err) return err;
    size_t bytes, lookups;
    if (!dl_mul3((size_t)out_w, (size_t)out_h, 3, &bytes) || !dl_add((size_t)out_w, (size_t)out_h, &lookups) ||
        !dl_mul(lookups, sizeof(int), &lookups))
        return dl_errorf("resize: target size %dx%d too large for this platform", out_w, out_h);
    unsigned char *dst = malloc(bytes);
    if (!dst) return dl_errorf("resize: out of memory for %dx%d", out_w, out_h);

    if (out_w == in->width && out_h == in->height) {
        memcpy(dst, in->rgb, bytes);
    } else {
        int *xs = malloc(lookups);
        if (!xs) {
            free(dst);
            return "resize: out of memory";
        }
        int *ys = xs + out_w;
        dl_nearest_indices(in->width, out_w, xs);
        dl_nearest_indices(in->height, out_h, ys);
        unsigned char *d = dst;
        for (int y = 0; y < out_h; y++) {
            const unsigned char *row = in->rgb + (size_t)ys[y] * (size_t)in->width * 3;
            for (int x = 0; x < out_w; x++, d += 3) memcpy(d, row + (size_t)xs[x] * 3, 3);
        }
        free(xs);
    }
    out->width = out_w;
    out->height = out_h;
    out->rgb = dst;
    return NULL;
}

const char *dl_image_load(const unsigned char *bytes, size_t n, size_t max_pixels, int target_h, int target_w,
                          dl_image *out, int *decoded_w, int *decoded_h) {
    if (!out) return "load_img: no output image";
    memset(out, 0, sizeof *out);
    if (decoded_w) *decoded_w = 0;
    if (decoded_h) *decoded_h = 0;
    const char *err = NULL;
    // Checked before decoding: a bad size costs nothing.
    if ((target_h != 0 || target_w != 0) && (err = check_sides("", target_h, target_w))) return err;
    dl_image img;
    if ((err = decode(bytes, n, max_pixels, target_h, &img))) return err;
    if (decoded_w) *decoded_w = img.width;
    if (decoded_h) *decoded_h = img.height;
    if (target_h == 0 && target_w == 0) {
        *out = img;
        return NULL;
    }
    err = dl_image_resize_nearest(&img, target_w, target_h, out);
    dl_image_free(&img);
    return err;
}

// ---------------------------------------------------------------------------
// densenet.preprocess_input, 'torch' mode. Keras does x /= 255., x -= mean,
// x /= std on a float32 array, each step rounded to float32.

const float dl_torch_mean[3] = {0.485f, 0.456f, 0.406f};
const float dl_torch_std[3] = {0.229f, 0.224f, 0.225f};

static inline float torch_normalize(float v, int channel) {
    v = v / 255.0f;
    v = v - dl_torch_mean[channel];
    return v / dl_torch_std[channel];
}

void dl_preprocess_torch(const unsigned char *rgb, size_t pixels, float *out) {
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) out[i * 3 + c] = torch_normalize((float)rgb[i * 3 + c], c);
}

void dl_preprocess_torch_f32(const float *rgb_0_255, size_t pixels, float *out) {
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) out[i * 3 + c] = torch_normalize(rgb_0_255[i * 3 + c], c);
}

// ---------------------------------------------------------------------------
// tf.image.resize(method='bilinear'), TF2: ResizeBilinear with
// half_pixel_centers=True. Same float32 arithmetic as TF's kernel:
// in = (i + 0.5) * scale - 0.5, lower = max(floor(in), 0),
// upper = min(ceil(in), size - 1), lerp = in - floor(in).

typedef struct {
    int lo, hi;
    float lerp;
} bilinear_tap;

static bilinear_tap bilinear_at(int i, int in_size, float scale) {
    float in = ((float)i + 0.5f) * scale - 0.5f;
    float f = floorf(in);
    int lo = (int)f, hi = (int)ceilf(in);
    bilinear_tap t = {lo > 0 ? lo : 0, hi < in_size - 1 ? hi : in_size - 1, in - f};
    return t;
}

void dl_gray_resize_bilinear_to_rgb(const unsigned char *gray, int w, int h,
                                    int out_w, int out_h, float *out) {
    if (!gray || !out || w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0) return;
    float sx = (float)w / (float)out_w, sy = (float)h / (float)out_h;
    for (int y = 0; y < out_h; y++) {
        bilinear_tap ty = bilinear_at(y, h, sy);
        const unsigned char *top = gray + (size_t)ty.lo * w, *bot = gray + (size_t)ty.hi * w;
        for (int x = 0; x < out_w; x++) {
            bilinear_tap tx = bilinear_at(x, w, sx);
            float tl = top[tx.lo], tr = top[tx.hi], bl = bot[tx.lo], br = bot[tx.hi];
            float t = tl + (tr - tl) * tx.lerp;
            float b = bl + (br - bl) * tx.lerp;
            float v = t + (b - t) * ty.lerp;
            float *o = out + ((size_t)y * out_w + x) * 3;
            o[0] = o[1] = o[2] = v;
        }
    }
}
