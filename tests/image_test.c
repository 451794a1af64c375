// Tests for models/image.c and decode_predictions (models/class_index.c,
// topk.c, pyformat.c, predictions.c).
//
//   image_test IMAGES_DIR CLASS_INDEX_JSON FIXTURES_DIR
//
// IMAGES_DIR is ../shared/images, CLASS_INDEX_JSON ../shared/labels/
// imagenet_class_index.json, FIXTURES_DIR tests/fixtures/images. Most test
// images are generated here, in memory, so their expected pixels are known.
#include "models/image.h"
#include "models/predictions.h"
#include "models/pyformat.h"

#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

static const char *or_ok(const char *e) { return e ? e : "(no error)"; }

// ---------------------------------------------------------------------------
// Byte buffers and files

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void buf_put(buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void buf_byte(buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}

static void buf_be32(buf *b, uint32_t v) {
    unsigned char c[4] = {v >> 24, v >> 16, v >> 8, v};
    buf_put(b, c, 4);
}

static void buf_le16(buf *b, unsigned v) {
    buf_byte(b, v & 255);
    buf_byte(b, v >> 8);
}

static void buf_le32(buf *b, uint32_t v) {
    buf_le16(b, v & 0xFFFF);
    buf_le16(b, v >> 16);
}

static buf read_file(const char *path) {
    buf b = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    unsigned char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_put(&b, tmp, k);
    fclose(f);
    return b;
}

// ---------------------------------------------------------------------------
// A minimal PNG writer (stored deflate blocks) for every color type and bit
// depth, which stb_image_write cannot produce.

static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void png_chunk(buf *b, const char *type, const unsigned char *data, size_t n) {
    buf_be32(b, (uint32_t)n);
    size_t at = b->n;
    buf_put(b, type, 4);
    if (n) buf_put(b, data, n);
    buf_be32(b, crc32_of(b->p + at, n + 4));
}

// rows: height rows of row_bytes packed samples each (big-endian 16-bit).
static buf png_make(int w, int h, int color_type, int depth, const unsigned char *rows, size_t row_bytes,
                    const unsigned char *plte, int plte_n, const unsigned char *trns, int trns_n) {
    buf b = {0}, raw = {0}, z = {0};
    buf_put(&b, "\x89PNG\r\n\x1A\n", 8);
    unsigned char ihdr[13] = {w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h, depth, color_type, 0, 0, 0};
    png_chunk(&b, "IHDR", ihdr, 13);
    if (plte) png_chunk(&b, "PLTE", plte, (size_t)plte_n * 3);
    if (trns) png_chunk(&b, "tRNS", trns, (size_t)trns_n);
    for (int y = 0; y < h && rows; y++) {
        buf_byte(&raw, 0); // filter: none
        buf_put(&raw, rows + (size_t)y * row_bytes, row_bytes);
    }
    buf_byte(&z, 0x78);
    buf_byte(&z, 0x01);
    size_t off = 0;
    do {
        size_t k = raw.n - off > 65535 ? 65535 : raw.n - off;
        buf_byte(&z, off + k == raw.n);
        buf_le16(&z, (unsigned)k);
        buf_le16(&z, (unsigned)~k & 0xFFFF);
        if (k) buf_put(&z, raw.p + off, k);
        off += k;
    } while (off < raw.n);
    uint32_t a = 1, s = 0;
    for (size_t i = 0; i < raw.n; i++) {
        a = (a + raw.p[i]) % 65521;
        s = (s + a) % 65521;
    }
    buf_be32(&z, s << 16 | a);
    if (rows) png_chunk(&b, "IDAT", z.p, z.n);
    png_chunk(&b, "IEND", NULL, 0);
    free(raw.p);
    free(z.p);
    return b;
}

// A 24-bit BMP (BITMAPINFOHEADER), rows padded to 4 bytes; top-down ones
// state a negative height and store the first row first.
static buf bmp_make(int w, int h, const unsigned char *rgb, int top_down) {
    buf b = {0};
    uint32_t stride = ((uint32_t)w * 3 + 3) & ~3u, size = 54 + stride * (uint32_t)h;
    buf_put(&b, "BM", 2);
    buf_le32(&b, size);
    buf_le32(&b, 0);
    buf_le32(&b, 54);
    buf_le32(&b, 40);
    buf_le32(&b, (uint32_t)w);
    buf_le32(&b, top_down ? (uint32_t)-h : (uint32_t)h);
    buf_le16(&b, 1);
    buf_le16(&b, 24);
    for (int i = 0; i < 6; i++) buf_le32(&b, 0);
    for (int row = 0; row < h; row++) {
        int y = top_down ? row : h - 1 - row;
        for (int x = 0; x < w; x++) {
            const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            unsigned char bgr[3] = {p[2], p[1], p[0]};
            buf_put(&b, bgr, 3);
        }
        for (uint32_t k = (uint32_t)w * 3; k < stride; k++) buf_byte(&b, 0);
    }
    return b;
}

// ---------------------------------------------------------------------------
// A minimal GIF writer: LZW with a clear code before the table would grow,
// so every code is a literal of min_code_size + 1 bits.

typedef struct {
    buf *b;
    unsigned char block[255];
    int nblock;
    uint32_t acc;
    int nacc;
} gif_bits;

static void gif_flush_block(gif_bits *g) {
    if (!g->nblock) return;
    buf_byte(g->b, (unsigned)g->nblock);
    buf_put(g->b, g->block, (size_t)g->nblock);
    g->nblock = 0;
}

static void gif_code(gif_bits *g, unsigned code, int width) {
    g->acc |= (uint32_t)code << g->nacc;
    g->nacc += width;
    while (g->nacc >= 8) {
        g->block[g->nblock++] = g->acc & 255;
        g->acc >>= 8;
        g->nacc -= 8;
        if (g->nblock == 255) gif_flush_block(g);
    }
}

static void gif_frame(buf *b, int x0, int y0, int w, int h, const unsigned char *idx, int bits, int transparent) {
    if (transparent >= 0) {
        unsigned char gce[8] = {0x21, 0xF9, 4, 1, 0, 0, (unsigned char)transparent, 0};
        buf_put(b, gce, 8);
    }
    buf_byte(b, 0x2C);
    buf_le16(b, (unsigned)x0);
    buf_le16(b, (unsigned)y0);
    buf_le16(b, (unsigned)w);
    buf_le16(b, (unsigned)h);
    buf_byte(b, 0);
    buf_byte(b, (unsigned)bits);
    gif_bits g = {b, {0}, 0, 0, 0};
    unsigned clear = 1u << bits, width = (unsigned)bits + 1, run = 0;
    gif_code(&g, clear, (int)width);
    for (int i = 0; i < w * h; i++) {
        if (run == clear - 2) {
            gif_code(&g, clear, (int)width);
            run = 0;
        }
        gif_code(&g, idx[i], (int)width);
        run++;
    }
    gif_code(&g, clear + 1, (int)width);
    if (g.nacc) gif_code(&g, 0, 8 - g.nacc);
    gif_flush_block(&g);
    buf_byte(b, 0);
}

static void gif_header(buf *b, int w, int h, const unsigned char *pal, int bits, int bg) {
    buf_put(b, "GIF89a", 6);
    buf_le16(b, (unsigned)w);
    buf_le16(b, (unsigned)h);
    buf_byte(b, 0x80 | (unsigned)(bits - 1));
    buf_byte(b, (unsigned)bg);
    buf_byte(b, 0);
    buf_put(b, pal, (size_t)3 << bits);
}

// ---------------------------------------------------------------------------

static uint32_t rng_state = 12345;
static unsigned rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 16;
}

// Decodes and compares with expected RGB; returns 1 when equal.
static int decodes_to(const char *what, const buf *file, int w, int h, const unsigned char *rgb) {
    dl_image im;
    const char *err = dl_image_decode(file->p, file->n, 0, &im);
    int ok = !err && im.width == w && im.height == h;
    if (!ok) {
        printf("  %s: %s, %dx%d (expected %dx%d)\n", what, or_ok(err), im.width, im.height, w, h);
    } else {
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            if (im.rgb[i] != rgb[i]) {
                printf("  %s: byte %zu is %d, expected %d\n", what, i, im.rgb[i], rgb[i]);
                ok = 0;
                break;
            }
        }
    }
    dl_image_free(&im);
    return ok;
}

static void test_shared_images(const char *dir) {
    static const struct { const char *name; int w, h; } known[] = {
        {"cat_285.png", 224, 224},  {"dog_207.png", 224, 224}, {"zebra_340.png", 224, 224},
        {"cat.bmp", 512, 341},      {"grace_hopper.bmp", 512, 600},
        {"hot_dog.jpg", 512, 384},  {"face.jpg", 512, 355},
    };
    char path[4096];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, known[i].name);
        buf f = read_file(path);
        CHECK(f.n > 0, "cannot read %s", path);
        dl_image im;
        const char *err = dl_image_decode(f.p, f.n, 0, &im);
        CHECK(!err && im.width == known[i].w && im.height == known[i].h, "%s: %s %dx%d", known[i].name, or_ok(err),
              im.width, im.height);
        if (!err) {
            dl_image r;
            err = dl_image_resize_nearest(&im, 224, 224, &r);
            CHECK(!err && r.width == 224 && r.height == 224, "%s resize: %s", known[i].name, or_ok(err));
            dl_image_free(&r);
            dl_image_free(&im);
            // One pixel less than the image is refused: the limit is
            // checked for this format too.
            err = dl_image_decode(f.p, f.n, (size_t)known[i].w * known[i].h - 1, &im);
            CHECK(err && strstr(err, "too large"), "%s with a limit: %s", known[i].name, or_ok(err));
        }
        dl_image_free(&im);
        free(f.p);
    }
    // Every file in the folder decodes (new images get covered too).
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot list %s", dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        buf f = read_file(path);
        dl_image im;
        const char *err = dl_image_decode(f.p, f.n, 0, &im);
        CHECK(!err && im.width > 0 && im.rgb, "%s: %s", e->d_name, or_ok(err));
        dl_image_free(&im);
        free(f.p);
        count++;
    }
    if (d) closedir(d);
    CHECK(count >= 7, "only %d images in %s", count, dir);
}

// Generated PNGs of every color type, with pixels known in advance.
static void test_png_variants(void) {
    enum { W = 5, H = 3 };
    unsigned char rgb[W * H * 3], rgba[W * H * 4], gray[W * H], ga[W * H * 2], expect[W * H * 3];
    unsigned char rgb16[W * H * 6], rgba16[W * H * 8], gray16[W * H * 2];
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (unsigned char)rnd();
        for (int c = 0; c < 4; c++) rgba[i * 4 + c] = (unsigned char)rnd();
        rgba[0 * 4 + 3] = 0; // fully transparent but colored: must not turn black
        gray[i] = (unsigned char)rnd();
        ga[i * 2] = (unsigned char)rnd();
        ga[i * 2 + 1] = (unsigned char)(i * 17);
        for (int c = 0; c < 6; c++) rgb16[i * 6 + c] = (unsigned char)rnd();
        for (int c = 0; c < 8; c++) rgba16[i * 8 + c] = (unsigned char)rnd();
        gray16[i * 2] = (unsigned char)rnd();
        gray16[i * 2 + 1] = (unsigned char)rnd();
    }
    buf f;

    f = png_make(W, H, 2, 8, rgb, W * 3, NULL, 0, NULL, 0);
    CHECK(decodes_to("RGB PNG", &f, W, H, rgb), "RGB PNG");
    free(f.p);

    // RGBA: alpha dropped without compositing (PIL convert('RGB')).
    f = png_make(W, H, 6, 8, rgba, W * 4, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H; i++) memcpy(expect + i * 3, rgba + i * 4, 3);
    CHECK(decodes_to("RGBA PNG", &f, W, H, expect), "RGBA PNG: alpha must be dropped, not composited");
    free(f.p);

    f = png_make(W, H, 0, 8, gray, W, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H * 3; i++) expect[i] = gray[i / 3];
    CHECK(decodes_to("gray PNG", &f, W, H, expect), "gray PNG");
    free(f.p);

    f = png_make(W, H, 4, 8, ga, W * 2, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H * 3; i++) expect[i] = ga[i / 3 * 2];
    CHECK(decodes_to("gray+alpha PNG", &f, W, H, expect), "gray+alpha PNG");
    free(f.p);

    // 16-bit: the high byte (stb; PIL does the same for RGB/RGBA).
    f = png_make(W, H, 2, 16, rgb16, W * 6, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H * 3; i++) expect[i] = rgb16[i * 2];
    CHECK(decodes_to("RGB16 PNG", &f, W, H, expect), "16-bit RGB PNG");
    free(f.p);

    f = png_make(W, H, 6, 16, rgba16, W * 8, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H; i++)
        for (int c = 0; c < 3; c++) expect[i * 3 + c] = rgba16[i * 8 + c * 2];
    CHECK(decodes_to("RGBA16 PNG", &f, W, H, expect), "16-bit RGBA PNG");
    free(f.p);

    f = png_make(W, H, 0, 16, gray16, W * 2, NULL, 0, NULL, 0);
    for (int i = 0; i < W * H * 3; i++) expect[i] = gray16[i / 3 * 2];
    CHECK(decodes_to("gray16 PNG", &f, W, H, expect), "16-bit gray PNG");
    free(f.p);

    // Palette, 8-bit and 4-bit, with a tRNS chunk that must be ignored.
    unsigned char plte[16 * 3], idx8[W * H], idx4[H * 3];
    for (int i = 0; i < 16 * 3; i++) plte[i] = (unsigned char)rnd();
    memset(idx4, 0, sizeof idx4);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = (int)(rnd() % 16);
            idx8[y * W + x] = (unsigned char)v;
            idx4[y * 3 + x / 2] |= (unsigned char)(x % 2 ? v : v << 4);
            memcpy(expect + (y * W + x) * 3, plte + v * 3, 3);
        }
    unsigned char trns[4] = {0, 10, 128, 255};
    f = png_make(W, H, 3, 8, idx8, W, plte, 16, trns, 4);
    CHECK(decodes_to("palette PNG", &f, W, H, expect), "8-bit palette PNG with tRNS");
    free(f.p);
    f = png_make(W, H, 3, 4, idx4, 3, plte, 16, NULL, 0);
    CHECK(decodes_to("4-bit palette PNG", &f, W, H, expect), "4-bit palette PNG");
    free(f.p);

    // 1-bit gray: 0 -> 0, 1 -> 255 (PIL mode "1" converts the same way).
    unsigned char bits1[H] = {0xA8, 0x50, 0xF8}; // 10101, 01010, 11111
    f = png_make(W, H, 0, 1, bits1, 1, NULL, 0, NULL, 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memset(expect + (y * W + x) * 3, bits1[y] >> (7 - x) & 1 ? 255 : 0, 3);
    CHECK(decodes_to("1-bit PNG", &f, W, H, expect), "1-bit gray PNG");
    free(f.p);

    // 1x1.
    unsigned char one[3] = {1, 2, 3};
    f = png_make(1, 1, 2, 8, one, 3, NULL, 0, NULL, 0);
    CHECK(decodes_to("1x1 PNG", &f, 1, 1, one), "1x1 PNG");
    free(f.p);
}

static void test_bmp_gif_pnm_jpeg(const char *fixtures) {
    enum { W = 7, H = 4 };
    unsigned char rgb[W * H * 3], expect[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned char)rnd();

    buf f = bmp_make(W, H, rgb, 0);
    CHECK(decodes_to("BMP", &f, W, H, rgb), "24-bit BMP");
    for (size_t cut = 1; cut < f.n; cut++) {
        dl_image im;
        const char *err = dl_image_decode(f.p, cut, 0, &im);
        CHECK(err != NULL, "BMP cut at %zu of %zu bytes decoded", cut, f.n);
        if (err && cut > 60) CHECK(strstr(err, "truncated") != NULL, "BMP cut at %zu: %s", cut, err);
    }
    free(f.p);

    // GIF: 2 frames; the first is what we get. Colors come from a palette.
    unsigned char pal[16 * 3], idx[W * H], idx2[W * H];
    for (int i = 0; i < 16 * 3; i++) pal[i] = (unsigned char)rnd();
    for (int i = 0; i < W * H; i++) {
        idx[i] = (unsigned char)(rnd() % 16);
        idx2[i] = (unsigned char)(15 - idx[i]);
        memcpy(expect + i * 3, pal + idx[i] * 3, 3);
    }
    f = (buf){0};
    gif_header(&f, W, H, pal, 4, 0);
    gif_frame(&f, 0, 0, W, H, idx, 4, -1);
    size_t first_frame_end = f.n;
    gif_frame(&f, 0, 0, W, H, idx2, 4, -1);
    buf_byte(&f, 0x3B);
    CHECK(decodes_to("GIF", &f, W, H, expect), "GIF first frame");
    for (size_t cut = 1; cut < first_frame_end; cut++) {
        dl_image im;
        const char *err = dl_image_decode(f.p, cut, 0, &im);
        CHECK(err != NULL, "GIF cut at %zu of %zu bytes decoded", cut, f.n);
    }
    free(f.p);

    // GIF with a transparent index: PIL's convert('RGB') shows the palette
    // color of that index (no compositing), and so must we.
    f = (buf){0};
    gif_header(&f, W, H, pal, 4, 0);
    gif_frame(&f, 0, 0, W, H, idx, 4, idx[0]);
    buf_byte(&f, 0x3B);
    CHECK(decodes_to("GIF transparent", &f, W, H, expect), "GIF with transparency");
    free(f.p);

    // A first frame smaller than the screen: PIL fills the rest with the
    // transparent index, else index 0, ignoring the background index (5).
    for (int t = -1; t <= 2; t += 3) {
        f = (buf){0};
        gif_header(&f, W + 3, H + 2, pal, 4, 5);
        gif_frame(&f, 1, 2, W, H, idx, 4, t);
        buf_byte(&f, 0x3B);
        unsigned char big[(W + 3) * (H + 2) * 3];
        for (int y = 0; y < H + 2; y++)
            for (int x = 0; x < W + 3; x++) {
                int inside = x >= 1 && x < W + 1 && y >= 2 && y < H + 2;
                int v = inside ? idx[(y - 2) * W + x - 1] : t >= 0 ? t : 0;
                memcpy(big + (y * (W + 3) + x) * 3, pal + v * 3, 3);
            }
        CHECK(decodes_to("partial GIF", &f, W + 3, H + 2, big), "GIF first frame smaller than the screen, t=%d", t);
        free(f.p);
    }

    // Binary PNM.
    f = (buf){0};
    char head[64];
    snprintf(head, sizeof head, "P6\n%d %d\n255\n", W, H);
    buf_put(&f, head, strlen(head));
    buf_put(&f, rgb, sizeof rgb);
    CHECK(decodes_to("PPM", &f, W, H, rgb), "PPM (P6)");
    {
        dl_image im;
        const char *err = dl_image_decode(f.p, f.n - 1, 0, &im);
        CHECK(err != NULL, "truncated PPM decoded");
    }
    free(f.p);
    f = (buf){0};
    snprintf(head, sizeof head, "P5 %d %d 255\n", W, H);
    buf_put(&f, head, strlen(head));
    buf_put(&f, rgb, W * H);
    for (int i = 0; i < W * H * 3; i++) expect[i] = rgb[i / 3];
    CHECK(decodes_to("PGM", &f, W, H, expect), "PGM (P5)");
    free(f.p);
    {
        const char *p16 = "P5 2 1 65535\n\x12\x34\xff\x00";
        dl_image im;
        const char *err = dl_image_decode((const unsigned char *)p16, strlen(p16), 0, &im);
        CHECK(err && strstr(err, "16-bit PNM"), "16-bit PGM: %s", or_ok(err));
    }

    // Committed fixtures made by libjpeg (PIL) from the same 16x16 gradient:
    // baseline, progressive (same coefficients, so identical pixels) and
    // Adobe CMYK (stb converts it to RGB much as PIL does).
    char path[4096];
    dl_image base = {0}, prog = {0}, cmyk = {0};
    snprintf(path, sizeof path, "%s/gradient_baseline.jpg", fixtures);
    buf fb = read_file(path);
    snprintf(path, sizeof path, "%s/gradient_progressive.jpg", fixtures);
    buf fp = read_file(path);
    snprintf(path, sizeof path, "%s/gradient_cmyk.jpg", fixtures);
    buf fc = read_file(path);
    CHECK(fb.n && fp.n && fc.n, "missing fixtures in %s", fixtures);
    const char *e1 = dl_image_decode(fb.p, fb.n, 0, &base);
    const char *e2 = dl_image_decode(fp.p, fp.n, 0, &prog);
    CHECK(!e1 && !e2 && base.width == 16 && prog.width == 16 && prog.height == 16, "baseline/progressive: %s %s",
          or_ok(e1), or_ok(e2));
    CHECK(!e1 && !e2 && memcmp(base.rgb, prog.rgb, 16 * 16 * 3) == 0, "progressive JPEG differs from baseline");
    const char *e3 = dl_image_decode(fc.p, fc.n, 0, &cmyk);
    CHECK(!e3 && cmyk.width == 16 && cmyk.height == 16, "CMYK JPEG: %s", or_ok(e3));
    int worst = 0;
    for (int y = 0; !e3 && !e1 && y < 16; y++)
        for (int x = 0; x < 16; x++)
            for (int c = 0; c < 3; c++) {
                int want = c == 0 ? x * 16 : c == 1 ? y * 16 : 255 - (x + y) * 8;
                int d1 = abs(cmyk.rgb[(y * 16 + x) * 3 + c] - want), d2 = abs(base.rgb[(y * 16 + x) * 3 + c] - want);
                if (d1 > worst) worst = d1;
                if (d2 > worst) worst = d2;
            }
    CHECK(worst <= 16, "fixture JPEGs differ from the gradient by %d", worst);
    // Every truncation of a JPEG is refused (stb alone would fill in gray).
    for (size_t cut = 1; cut < fb.n; cut++) {
        dl_image im;
        const char *err = dl_image_decode(fb.p, cut, 0, &im);
        CHECK(err != NULL, "JPEG cut at %zu of %zu bytes decoded", cut, fb.n);
        if (err && cut > 400) CHECK(strstr(err, "truncated") != NULL, "JPEG cut at %zu: %s", cut, err);
        dl_image_free(&im);
    }
    for (size_t cut = 1; cut < fp.n; cut += 3) {
        dl_image im;
        CHECK(dl_image_decode(fp.p, cut, 0, &im) != NULL, "progressive JPEG cut at %zu decoded", cut);
        dl_image_free(&im);
    }
    // A Huffman table claiming more than 256 codes (stb 2.27 would write
    // past its tables) is refused.
    for (size_t i = 2; i + 21 < fb.n; i++) {
        if (fb.p[i] != 0xFF || fb.p[i + 1] != 0xC4) continue;
        unsigned char *bad = malloc(fb.n);
        memcpy(bad, fb.p, fb.n);
        memset(bad + i + 5, 0xFF, 16); // 16 code lengths x 255 codes
        dl_image im;
        const char *err = dl_image_decode(bad, fb.n, 0, &im);
        CHECK(err && strstr(err, "DHT"), "oversized Huffman table: %s", or_ok(err));
        dl_image_free(&im);
        free(bad);
        break;
    }
    snprintf(path, sizeof path, "%s/one_pixel.jpg", fixtures);
    buf f1 = read_file(path);
    dl_image one;
    const char *e4 = dl_image_decode(f1.p, f1.n, 0, &one);
    CHECK(!e4 && one.width == 1 && one.height == 1 && abs(one.rgb[0] - 200) < 4 && abs(one.rgb[1] - 100) < 4 &&
              abs(one.rgb[2] - 50) < 4,
          "1x1 JPEG: %s", or_ok(e4));
    dl_image_free(&one);
    free(f1.p);
    dl_image_free(&base);
    dl_image_free(&prog);
    dl_image_free(&cmyk);
    free(fb.p);
    free(fp.p);
    free(fc.p);
}

static void test_errors(void) {
    dl_image im;
    const char *err;

    err = dl_image_decode((const unsigned char *)"", 0, 0, &im);
    CHECK(err && strstr(err, "empty"), "0 bytes: %s", or_ok(err));
    CHECK(im.rgb == NULL && im.width == 0, "output not zeroed on error");

    const char *text = "This is a text file that someone named photo.jpg.\n";
    err = dl_image_decode((const unsigned char *)text, strlen(text), 0, &im);
    CHECK(err && strstr(err, "not an image: unknown format"), "text: %s", or_ok(err));

    unsigned char junk[4096];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rnd();
        err = dl_image_decode(junk, sizeof junk, 0, &im);
        CHECK(err != NULL, "random bytes (round %d) decoded", round);
        dl_image_free(&im);
    }
    // Random bytes behind each real magic number.
    static const char *magics[] = {"\xFF\xD8\xFF", "\x89PNG\r\n\x1A\n", "GIF89a", "BM", "P6"};
    for (size_t m = 0; m < sizeof magics / sizeof magics[0]; m++) {
        for (int round = 0; round < 50; round++) {
            for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rnd();
            memcpy(junk, magics[m], strlen(magics[m]));
            err = dl_image_decode(junk, sizeof junk, 0, &im);
            dl_image_free(&im); // some random BMP/PNM headers can be valid
        }
    }
    CHECK(1, "random data after magic numbers did not crash");

    unsigned char tiff[8] = {'I', 'I', '*', 0, 8, 0, 0, 0};
    err = dl_image_decode(tiff, sizeof tiff, 0, &im);
    CHECK(err && strstr(err, "unsupported image format: TIFF"), "TIFF: %s", or_ok(err));

    // A PNG header claiming 60000x60000 (3.6 gigapixels, 10.8 GB as RGB) and
    // no pixel data: refused from the header, before any allocation.
    buf f = png_make(60000, 60000, 2, 8, NULL, 0, NULL, 0, NULL, 0);
    err = dl_image_decode(f.p, f.n, 0, &im);
    CHECK(err && strstr(err, "too large") && strstr(err, "60000x60000"), "60000x60000: %s", or_ok(err));
    err = dl_image_decode(f.p, f.n, (size_t)60000 * 60000, &im);
    CHECK(err != NULL, "60000x60000 within the limit but without pixels decoded");
    free(f.p);
    // Sizes beyond what stb accepts, and 2^31-1 on both axes (overflow).
    f = png_make(0x7FFFFFFF, 0x7FFFFFFF, 2, 8, NULL, 0, NULL, 0, NULL, 0);
    err = dl_image_decode(f.p, f.n, (size_t)-1, &im);
    CHECK(err != NULL, "2^31-1 square decoded");
    free(f.p);

    // Configured limit on a real image: 100x100 = 10000 pixels.
    unsigned char *px = calloc(100 * 100, 3);
    f = png_make(100, 100, 2, 8, px, 300, NULL, 0, NULL, 0);
    err = dl_image_decode(f.p, f.n, 9999, &im);
    CHECK(err && strstr(err, "too large"), "limit 9999: %s", or_ok(err));
    err = dl_image_decode(f.p, f.n, 10000, &im);
    CHECK(!err && im.width == 100, "limit 10000: %s", or_ok(err));
    dl_image_free(&im);

    // Truncated PNG: every cut before the IEND chunk is refused.
    for (size_t cut = 1; cut + 12 <= f.n; cut += cut < 100 ? 1 : 97) {
        err = dl_image_decode(f.p, cut, 0, &im);
        CHECK(err != NULL, "PNG cut at %zu of %zu bytes decoded", cut, f.n);
        dl_image_free(&im);
    }
    // Corrupt checksum-free damage: flipped bytes in the compressed data.
    for (size_t at = 45; at < f.n - 12; at += 1000) {
        f.p[at] ^= 0x5A;
        err = dl_image_decode(f.p, f.n, 0, &im);
        dl_image_free(&im);
        f.p[at] ^= 0x5A;
    }
    free(f.p);
    free(px);

    err = dl_image_decode(NULL, 10, 0, &im);
    CHECK(err != NULL, "NULL input accepted");
    CHECK(dl_image_decode(NULL, 0, 0, NULL) != NULL, "NULL output accepted");
    dl_image_free(NULL);
    dl_image_free(&im);
}

// Top-down BMPs (negative height), which PIL and so Keras read: the
// committed pair holds the same 30x40 image in both row orders (pixel (x, y)
// = (8x, 6y, 3xy + 7) mod 256), and generated ones round-trip.
static void test_bmp_top_down(const char *fixtures) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bmp_top_down_30x40.bmp", fixtures);
    buf td = read_file(path);
    snprintf(path, sizeof path, "%s/bmp_bottom_up_30x40.bmp", fixtures);
    buf bu = read_file(path);
    CHECK(td.n && bu.n, "missing BMP fixtures in %s", fixtures);
    unsigned char want[30 * 40 * 3];
    for (int y = 0, i = 0; y < 40; y++)
        for (int x = 0; x < 30; x++, i += 3) {
            want[i] = (unsigned char)(x * 8);
            want[i + 1] = (unsigned char)(y * 6);
            want[i + 2] = (unsigned char)(x * y * 3 + 7);
        }
    CHECK(decodes_to("bottom-up BMP fixture", &bu, 30, 40, want), "bottom-up fixture");
    CHECK(decodes_to("top-down BMP fixture", &td, 30, 40, want), "top-down fixture equals the bottom-up one");
    for (size_t cut = 1; cut < td.n; cut += 37) {
        dl_image im;
        const char *err = dl_image_decode(td.p, cut, 0, &im);
        CHECK(err != NULL, "top-down BMP cut at %zu of %zu bytes decoded", cut, td.n);
    }
    dl_image im;
    const char *err = dl_image_decode(td.p, td.n, 30 * 40 - 1, &im);
    CHECK(err && strstr(err, "too large") && strstr(err, "30x40"), "top-down limit: %s", or_ok(err));

    // Heights that have no positive counterpart, or exceed what stb decodes.
    static const int32_t heights[] = {INT32_MIN, -(1 << 24) - 1, -2000000000};
    for (size_t i = 0; i < sizeof heights / sizeof heights[0]; i++) {
        memcpy(td.p + 22, &heights[i], 4); // little-endian host, like the file
        err = dl_image_decode(td.p, td.n, 0, &im);
        CHECK(err != NULL, "height %d decoded", (int)heights[i]);
        dl_image_free(&im);
    }
    free(td.p);
    free(bu.p);

    enum { W = 5, H = 3 };
    unsigned char rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned char)rnd();
    buf f = bmp_make(W, H, rgb, 1);
    CHECK(decodes_to("generated top-down BMP", &f, W, H, rgb), "generated top-down BMP");
    free(f.p);
}

// The pixel limit: 0 is the default, values above DL_IMAGE_MAX_PIXELS_LIMIT
// are refused (never replaced by the default), as are bad doubles.
static void test_max_pixels(void) {
    unsigned char px[4 * 3] = {0};
    buf f = png_make(2, 2, 2, 8, px, 6, NULL, 0, NULL, 0);
    dl_image im;
    const char *err = dl_image_decode(f.p, f.n, DL_IMAGE_MAX_PIXELS_LIMIT, &im);
    CHECK(!err && im.width == 2, "limit at the maximum: %s", or_ok(err));
    dl_image_free(&im);
    static const size_t refused[] = {DL_IMAGE_MAX_PIXELS_LIMIT + 1, (size_t)UINT32_MAX, (size_t)-1};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        err = dl_image_decode(f.p, f.n, refused[i], &im);
        CHECK(err && strstr(err, "max_pixels must be an integer from 0 (the default 100000000) to 536870911") && im.rgb == NULL, "max_pixels %zu: %s",
              refused[i], or_ok(err));
        char shown[32];
        snprintf(shown, sizeof shown, "got %zu", refused[i]); // the value as given, not rounded
        CHECK(strstr(or_ok(err), shown) && dl_image_check_max_pixels(refused[i]) != NULL, "%s", or_ok(err));
    }
    CHECK(dl_image_check_max_pixels(0) == NULL && dl_image_check_max_pixels(1) == NULL, "0 and 1 refused");
    free(f.p);

    size_t mp = 7;
    err = dl_image_max_pixels_from_double(0, &mp);
    CHECK(!err && mp == 0, "0: %s", or_ok(err));
    err = dl_image_max_pixels_from_double(50176, &mp);
    CHECK(!err && mp == 50176, "50176: %s", or_ok(err));
    err = dl_image_max_pixels_from_double((double)DL_IMAGE_MAX_PIXELS_LIMIT, &mp);
    CHECK(!err && mp == DL_IMAGE_MAX_PIXELS_LIMIT, "limit: %s", or_ok(err));
    static const struct { double v; const char *shown; } bad[] = {
        {-1, "got -1"}, {NAN, "got nan"}, {INFINITY, "got inf"}, {-INFINITY, "got -inf"}, {0.5, "got 0.5"},
        {4294967296.0, "got 4294967296"}, {4294967296.0 + 100, "got 4294967396"}, {536870912, "got 536870912"},
        {1e300, "e+300"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mp = 7;
        err = dl_image_max_pixels_from_double(bad[i].v, &mp);
        CHECK(err && strstr(err, "max_pixels must be an integer") && strstr(err, bad[i].shown) && mp == 7,
              "max_pixels %g: %s", bad[i].v, or_ok(err));
    }
}

// load_img target sizes: validated, never truncated; the produced size is
// what the caller gets back.
static void test_target_sizes(void) {
    int h = -1, w = -1;
    const char *err = dl_image_target_size(0, 0, &h, &w);
    CHECK(!err && h == 0 && w == 0, "no target: %s", or_ok(err));
    err = dl_image_target_size(224, 300, &h, &w);
    CHECK(!err && h == 224 && w == 300, "224x300: %s", or_ok(err));
    err = dl_image_target_size(DL_IMAGE_MAX_SIDE, DL_IMAGE_MAX_SIDE, &h, &w);
    CHECK(!err && h == DL_IMAGE_MAX_SIDE, "max side: %s", or_ok(err));
    static const struct { double h, w; const char *needle; } bad[] = {
        {4294967298.0, 2, "target height must be an integer from 1 to 16384, got 4294967298"},
        {2, 4294967298.0, "target width must be an integer from 1 to 16384, got 4294967298"},
        {0, 5, "target height"}, {5, 0, "target width"}, {-1, 5, "got -1"}, {5, -224, "got -224"},
        {1.5, 5, "got 1.5"}, {5, 224.25, "got 224.25"}, {NAN, 5, "got nan"}, {5, INFINITY, "got inf"},
        {16385, 5, "got 16385"}, {65536, 65536, "got 65536"}, {-4294967296.0, 1, "got -4294967296"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = w = -1;
        err = dl_image_target_size(bad[i].h, bad[i].w, &h, &w);
        CHECK(err && strstr(err, bad[i].needle) && h == 0 && w == 0, "target %g x %g: %s", bad[i].h, bad[i].w,
              or_ok(err));
    }

    // Resize refuses the same sides; 16384 x 16384 x 3 does not overflow.
    unsigned char px[3] = {1, 2, 3};
    dl_image in = {1, 1, px}, out;
    static const int sides[][2] = {{0, 1}, {1, 0}, {-1, 5}, {INT_MIN, 1}, {16385, 1}, {1, INT_MAX}, {65536, 65536}};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        err = dl_image_resize_nearest(&in, sides[i][0], sides[i][1], &out);
        CHECK(err && strstr(err, "must be an integer from 1 to 16384") && out.rgb == NULL, "resize %dx%d: %s",
              sides[i][0], sides[i][1], or_ok(err));
    }

    // load_img: decode + resize in one call, with the sizes it produced.
    enum { W = 6, H = 4 };
    unsigned char rgb[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned char)rnd();
    buf f = png_make(W, H, 2, 8, rgb, W * 3, NULL, 0, NULL, 0);
    int dw = -1, dh = -1;
    err = dl_image_load(f.p, f.n, 0, 0, 0, &out, &dw, &dh);
    CHECK(!err && out.width == W && out.height == H && dw == W && dh == H && !memcmp(out.rgb, rgb, sizeof rgb),
          "load_img without target: %s", or_ok(err));
    dl_image_free(&out);
    err = dl_image_load(f.p, f.n, 0, 2, 3, &out, &dw, &dh); // target_size=(2, 3): height 2, width 3
    CHECK(!err && out.width == 3 && out.height == 2 && dw == W && dh == H, "load_img 2x3: %s %dx%d", or_ok(err),
          out.width, out.height);
    if (!err) { // PIL NEAREST: columns 1, 3, 5 of rows 1, 3
        CHECK(!memcmp(out.rgb, rgb + (1 * W + 1) * 3, 3) && !memcmp(out.rgb + 5 * 3, rgb + (3 * W + 5) * 3, 3),
              "load_img 2x3 pixels");
    }
    dl_image_free(&out);
    err = dl_image_load(f.p, f.n, 0, 2, 0, &out, &dw, &dh);
    CHECK(err && strstr(err, "target width") && out.rgb == NULL && dw == 0, "load_img 2x0: %s", or_ok(err));
    err = dl_image_load(f.p, f.n, 0, 16385, 16385, &out, NULL, NULL);
    CHECK(err && strstr(err, "16385") && out.rgb == NULL, "load_img 16385: %s", or_ok(err));
    err = dl_image_load(f.p, f.n, 5, 2, 2, &out, NULL, NULL);
    CHECK(err && strstr(err, "too large") && out.rgb == NULL, "load_img limit: %s", or_ok(err));
    err = dl_image_load(f.p, f.n, DL_IMAGE_MAX_PIXELS_LIMIT + 1, 2, 2, &out, NULL, NULL);
    CHECK(err && strstr(err, "max_pixels") && out.rgb == NULL, "load_img bad limit: %s", or_ok(err));
    CHECK(dl_image_load(f.p, f.n, 0, 2, 2, NULL, NULL, NULL) != NULL, "NULL output accepted");
    free(f.p);
}

static void test_nearest(void) {
    int idx[4096];
    dl_nearest_indices(512, 224, idx);
    CHECK(idx[3] == 7, "512->224: output 3 reads column %d, Pillow reads 7", idx[3]);
    CHECK(idx[0] == 1 && idx[223] == 510, "512->224 ends: %d %d", idx[0], idx[223]);

    // Against an independent model of Pillow (accumulated double position),
    // and always inside the source.
    int bad = 0, differs_from_floor = 0;
    static const int outs[] = {224, 1, 7, 299, 1000};
    for (size_t o = 0; o < sizeof outs / sizeof outs[0]; o++) {
        int out = outs[o];
        for (int in = 28; in <= 4000; in++) {
            dl_nearest_indices(in, out, idx);
            double scale = (double)in / (double)out, pos = scale * 0.5;
            for (int i = 0; i < out; i++, pos += scale) {
                if (idx[i] != (int)pos || idx[i] < 0 || idx[i] >= in) bad++;
                if (idx[i] != (int)floor((i + 0.5) * scale)) differs_from_floor++;
            }
        }
    }
    CHECK(bad == 0, "%d nearest indices differ from the accumulated model", bad);
    CHECK(differs_from_floor > 0, "accumulation never mattered: the test would not catch floor()");

    // Upscale and a whole image.
    dl_nearest_indices(2, 5, idx);
    CHECK(idx[0] == 0 && idx[1] == 0 && idx[2] == 1 && idx[3] == 1 && idx[4] == 1, "2->5: %d %d %d %d %d", idx[0],
          idx[1], idx[2], idx[3], idx[4]);
    unsigned char px[4 * 2 * 3];
    for (int i = 0; i < 24; i++) px[i] = (unsigned char)i;
    dl_image in = {4, 2, px}, out;
    const char *err = dl_image_resize_nearest(&in, 2, 1, &out);
    // x: scale 2 -> columns 1, 3; y: scale 2 -> row 1.
    CHECK(!err && out.rgb[0] == 15 && out.rgb[3] == 21, "4x2->2x1: %s %d %d", or_ok(err), out.rgb[0], out.rgb[3]);
    dl_image_free(&out);
    err = dl_image_resize_nearest(&in, 4, 2, &out);
    CHECK(!err && memcmp(out.rgb, px, 24) == 0 && out.rgb != px, "same size must copy");
    dl_image_free(&out);
    err = dl_image_resize_nearest(&in, 0, 2, &out);
    CHECK(err != NULL, "0 width accepted");
    err = dl_image_resize_nearest(NULL, 2, 2, &out);
    CHECK(err != NULL, "NULL image accepted");
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_preprocess(void) {
    // Bit patterns from numpy: x = float32 array; x /= 255.; x[..., c] -= mean[c]; x[..., c] /= std[c].
    static const struct { unsigned char v; uint32_t bits[3]; } want[] = {
        {0, {0xc0078bbd, 0xc0024924, 0xbfe6f809}},   {1, {0xc006732b, 0xc0012a4f, 0xbfe4bcea}},
        {127, {0x3d6939a6, 0x3e402de4, 0x3ed170bd}}, {128, {0x3d97af32, 0x3e521b48, 0x3eda5d3c}},
        {255, {0x400fee1d, 0x401b6db7, 0x4028f5c3}},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        unsigned char px[3] = {want[i].v, want[i].v, want[i].v};
        float out[3], outf[3], in[3] = {want[i].v, want[i].v, want[i].v};
        dl_preprocess_torch(px, 1, out);
        dl_preprocess_torch_f32(in, 1, outf);
        for (int c = 0; c < 3; c++) {
            CHECK(bits_of(out[c]) == want[i].bits[c], "value %d channel %d: %08x, numpy %08x", want[i].v, c,
                  bits_of(out[c]), want[i].bits[c]);
            CHECK(bits_of(outf[c]) == want[i].bits[c], "f32 value %d channel %d", want[i].v, c);
        }
    }
    // In place on floats, RGB order.
    float x[6] = {0, 128, 255, 255, 128, 0};
    dl_preprocess_torch_f32(x, 2, x);
    CHECK(bits_of(x[0]) == 0xc0078bbd && bits_of(x[1]) == 0x3e521b48 && bits_of(x[2]) == 0x4028f5c3 &&
              fabsf(x[3] - 2.2489083f) < 1e-6f && fabsf(x[5] + 1.8044444f) < 1e-6f,
          "in-place or channel order wrong");
}

static void test_bilinear(void) {
    // 2x2 -> 4x4: TF half-pixel taps are -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    unsigned char g[4] = {0, 100, 200, 50};
    float out[4 * 4 * 3];
    dl_gray_resize_bilinear_to_rgb(g, 2, 2, 4, 4, out);
    static const float want[16] = {
        0,   25,     75,     100,    // row 0 = source row 0
        50,  59.375, 78.125, 87.5,   // 0.75 * row 0 + 0.25 * row 1
        150, 128.125, 84.375, 62.5,  // 0.25 * row 0 + 0.75 * row 1
        200, 162.5,  87.5,   50,     // row 1
    };
    for (int i = 0; i < 16; i++) {
        CHECK(out[i * 3] == want[i] && out[i * 3 + 1] == want[i] && out[i * 3 + 2] == want[i], "pixel %d: %g, want %g",
              i, out[i * 3], want[i]);
    }
    // 4x4 -> 2x2: taps 0.5 and 2.5, i.e. the mean of each 2x2 block.
    unsigned char g4[16];
    for (int i = 0; i < 16; i++) g4[i] = (unsigned char)(i * 13);
    float o2[2 * 2 * 3];
    dl_gray_resize_bilinear_to_rgb(g4, 4, 4, 2, 2, o2);
    CHECK(o2[0] == (0 + 13 + 52 + 65) / 4.0f && o2[9] == (10 * 13 + 11 * 13 + 14 * 13 + 15 * 13) / 4.0f,
          "4x4->2x2: %g %g", o2[0], o2[9]);
    // Same size is the identity; 28 -> 224 (Fashion-MNIST) stays in range.
    unsigned char g28[28 * 28];
    for (int i = 0; i < 28 * 28; i++) g28[i] = (unsigned char)rnd();
    float *big = malloc(224 * 224 * 3 * sizeof(float)), *same = malloc(28 * 28 * 3 * sizeof(float));
    dl_gray_resize_bilinear_to_rgb(g28, 28, 28, 28, 28, same);
    int ident = 1;
    for (int i = 0; i < 28 * 28; i++) ident &= same[i * 3] == g28[i];
    CHECK(ident, "bilinear at the same size is not the identity");
    dl_gray_resize_bilinear_to_rgb(g28, 28, 28, 224, 224, big);
    int in_range = 1;
    for (int i = 0; i < 224 * 224 * 3; i++) in_range &= big[i] >= 0 && big[i] <= 255;
    CHECK(in_range && big[0] == g28[0] && big[(224 * 224 - 1) * 3] == g28[28 * 28 - 1], "28->224 out of range");
    free(big);
    free(same);
}

// ---------------------------------------------------------------------------

static const char *parse(const char *json, dl_class_index **ci) { return dl_class_index_parse(json, strlen(json), ci); }

static void expect_parse_error(const char *json, const char *needle) {
    dl_class_index *ci = (dl_class_index *)1;
    const char *err = parse(json, &ci);
    CHECK(err && ci == NULL && strstr(err, needle), "%s -> %s (want \"%s\")", json, or_ok(err), needle);
}

static void test_class_index(const char *path) {
    buf f = read_file(path);
    CHECK(f.n > 0, "cannot read %s", path);
    dl_class_index *ci;
    const char *err = dl_class_index_parse((const char *)f.p, f.n, &ci);
    CHECK(!err && dl_class_index_count(ci) == 1000, "real index: %s", or_ok(err));
    if (!err) {
        CHECK(!strcmp(dl_class_index_wnid(ci, 0), "n01440764") && !strcmp(dl_class_index_label(ci, 0), "tench"), "0");
        CHECK(!strcmp(dl_class_index_wnid(ci, 281), "n02123045") && !strcmp(dl_class_index_label(ci, 281), "tabby"),
              "281");
        CHECK(!strcmp(dl_class_index_label(ci, 607), "jack-o'-lantern"), "607: %s", dl_class_index_label(ci, 607));
        CHECK(dl_class_index_label(ci, 1000) == NULL && dl_class_index_wnid(ci, (size_t)-1) == NULL, "out of range");

        // Cut anywhere: an error, never a crash or a partial index.
        for (size_t cut = 0; cut < f.n; cut += cut < 64 ? 1 : 331) {
            dl_class_index *part;
            const char *e = dl_class_index_parse((const char *)f.p, cut, &part);
            CHECK(e != NULL && part == NULL, "index cut at %zu accepted", cut);
        }
        // The Python rendering of the labels with apostrophes.
        dl_prediction p[2] = {{607, 0.5f}, {477, 1e-05f}};
        char out[256];
        dl_format_predictions_python(ci, p, 2, out, sizeof out);
        CHECK(!strcmp(out, "[('n03590841', \"jack-o'-lantern\", 0.5), ('n02966687', \"carpenter's_kit\", 1e-05)]"),
              "%s", out);
        dl_class_index_free(ci);
    }
    free(f.p);

    // Order does not matter; escapes are decoded.
    err = parse(" {\n\"1\" : [\"a\\\"b\", \"\\u00e9\\ud83d\\ude00\\\\\\/\\n\"],\t\"0\":[\"w\",\"\"]}\r\n", &ci);
    CHECK(!err && dl_class_index_count(ci) == 2, "escapes: %s", or_ok(err));
    if (!err) {
        CHECK(!strcmp(dl_class_index_wnid(ci, 1), "a\"b"), "%s", dl_class_index_wnid(ci, 1));
        CHECK(!strcmp(dl_class_index_label(ci, 1), "\xC3\xA9\xF0\x9F\x98\x80\\/\n"), "%s", dl_class_index_label(ci, 1));
        CHECK(!strcmp(dl_class_index_label(ci, 0), ""), "empty label");
        dl_class_index_free(ci);
    }

    expect_parse_error("", "empty");
    expect_parse_error("{}", "empty");
    expect_parse_error("[]", "expected '{'");
    expect_parse_error("{\"0\": [\"a\", \"b\"], \"2\": [\"c\", \"d\"]}", "key \"1\" is missing");
    expect_parse_error("{\"1\": [\"a\", \"b\"]}", "key \"0\" is missing");
    expect_parse_error("{\"0\": [\"a\", \"b\"], \"0\": [\"c\", \"d\"]}", "duplicate key \"0\"");
    expect_parse_error("{\"00\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"-1\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"x\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"0\": [\"a\"]}", "','");
    expect_parse_error("{\"0\": [\"a\", \"b\", \"c\"]}", "']'");
    expect_parse_error("{\"0\": \"a\"}", "'['");
    expect_parse_error("{\"0\": [\"a\", 1]}", "a string");
    expect_parse_error("{\"0\": [\"a\", \"b\"]", "truncated");
    expect_parse_error("{\"0\": [\"a\", \"b", "truncated");
    expect_parse_error("{\"0\": [\"a\", \"b\"],}", "a string");
    expect_parse_error("{\"0\": [\"a\", \"b\"]} x", "unexpected data");
    expect_parse_error("{\"0\": [\"a\\q\", \"b\"]}", "invalid escape");
    expect_parse_error("{\"0\": [\"a\\u12G4\", \"b\"]}", "\\u escape");
    expect_parse_error("{\"0\": [\"a\\u12", "\\u escape");
    expect_parse_error("{\"0\": [\"a\\ud83d\", \"b\"]}", "unpaired surrogate");
    expect_parse_error("{\"0\": [\"a\\ude00\", \"b\"]}", "lone low surrogate");
    expect_parse_error("{\"0\": [\"a\\u0000\", \"b\"]}", "\\u0000");
    expect_parse_error("{\"0\": [\"a\tb\", \"b\"]}", "control character");
    expect_parse_error("{\"0\": [\"\xC3\x28\", \"b\"]}", "invalid UTF-8");
    expect_parse_error("{\"0\": [\"\xED\xA0\x80\", \"b\"]}", "invalid UTF-8");
}

// Bytes of heap in use, where the C library says (0 elsewhere, and under
// ASan, which makes the check below vacuous there but not natively or in WASM).
static size_t heap_in_use(void) {
#if defined(__EMSCRIPTEN__)
    return (size_t)mallinfo().uordblks;
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

// Inputs an attacker would write: every way UTF-8 can be invalid, every
// escape, nesting where a pair should be, numbers of any size; and the
// memory the real index keeps.
static void test_class_index_hostile(const char *path) {
    static const char *bad_utf8[] = {
        "\x80",             // lone continuation byte
        "\xC0\x80",         // overlong NUL
        "\xC1\xBF",         // overlong ASCII
        "\xE0\x80\xAF",     // overlong '/'
        "\xF0\x80\x80\xAF", // overlong, 4 bytes
        "\xF4\x90\x80\x80", // above U+10FFFF
        "\xF5\x80\x80\x80", // lead byte never valid
        "\xF8\x88\x80\x80\x80", // 5-byte form
        "\xFE", "\xFF",
        "\xED\xBF\xBF",     // encoded low surrogate
        "\xE2\x82",         // cut before the closing quote
        "a\xC3",            // cut: 2-byte lead then the quote
    };
    char json[256];
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        snprintf(json, sizeof json, "{\"0\": [\"n0\", \"%s\"]}", bad_utf8[i]);
        expect_parse_error(json, "invalid UTF-8");
        snprintf(json, sizeof json, "{\"%s\": [\"n0\", \"x\"]}", bad_utf8[i]); // in a key too
        expect_parse_error(json, "invalid UTF-8");
    }
    // Invalid UTF-8 as the very last bytes of the input (no closing quote).
    static const char cut[] = "{\"0\": [\"n0\", \"\xF0\x9F\x98";
    dl_class_index *ci = (dl_class_index *)1;
    const char *err = dl_class_index_parse(cut, sizeof cut - 1, &ci);
    CHECK(err && ci == NULL && strstr(err, "invalid UTF-8"), "cut UTF-8 at the end: %s", or_ok(err));

    // Every valid form, escaped and raw; keys may be escaped too ("\u0030" is "0").
    err = parse("{\"\\u0030\": [\"\\b\\f\\r\\t\\/\\\\\\\"\", \"\\uD83D\\uDE00\\u00E9\\u20AC\\u007f\"],"
                " \"1\": [\"\xF4\x8F\xBF\xBF\", \"\xEF\xBF\xBD\xE2\x80\xA8\"]}", &ci);
    CHECK(!err && dl_class_index_count(ci) == 2, "escapes: %s", or_ok(err));
    if (!err) {
        CHECK(!strcmp(dl_class_index_wnid(ci, 0), "\b\f\r\t/\\\""), "simple escapes");
        CHECK(!strcmp(dl_class_index_label(ci, 0), "\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC\x7F"), "\\u escapes: %s",
              dl_class_index_label(ci, 0));
        CHECK(!strcmp(dl_class_index_wnid(ci, 1), "\xF4\x8F\xBF\xBF"), "U+10FFFF");
        dl_class_index_free(ci);
    }
    expect_parse_error("{\"0\": [\"\\uD83D\\u0041\", \"b\"]}", "unpaired surrogate");
    expect_parse_error("{\"0\": [\"\\uD83D\\uD83D\", \"b\"]}", "unpaired surrogate");
    expect_parse_error("{\"0\": [\"\\uD83D\\\\uDE00\", \"b\"]}", "unpaired surrogate");
    expect_parse_error("{\"0\": [\"\\u00\", \"b\"]}", "\\u escape");
    expect_parse_error("{\"0\": [\"\\U0041\", \"b\"]}", "invalid escape");
    expect_parse_error("{\"0\": [\"\\x41\", \"b\"]}", "invalid escape");
    expect_parse_error("{\"0\": [\"\\", "truncated");
    expect_parse_error("{\"\\u0030\\u0030\": [\"a\", \"b\"]}", "not a class number");

    // Deep nesting is not a pair of strings: refused at the first '[', with
    // no recursion to exhaust, however deep.
    size_t depth = 1000000, len = 0;
    char *deep = malloc(2 * depth + 32);
    len += (size_t)sprintf(deep, "{\"0\": ");
    for (size_t i = 0; i < depth; i++) deep[len++] = '[';
    for (size_t i = 0; i < depth; i++) deep[len++] = ']';
    deep[len++] = '}';
    err = dl_class_index_parse(deep, len, &ci);
    CHECK(err && strstr(err, "a string") && ci == NULL, "nesting: %s", or_ok(err));
    memset(deep, '{', 2 * depth);
    err = dl_class_index_parse(deep, 2 * depth, &ci);
    CHECK(err && strstr(err, "a string") && ci == NULL, "nested objects: %s", or_ok(err));
    free(deep);

    // Numbers: keys beyond any index, huge and fractional values.
    expect_parse_error("{\"99999999999999999999\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"4294967296\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"999999999\": [\"a\", \"b\"]}", "key \"0\" is missing");
    expect_parse_error("{\"0\": [\"a\", \"b\"], \"18446744073709551615\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"1e3\": [\"a\", \"b\"]}", "not a class number");
    expect_parse_error("{\"0\": [1e999999, \"b\"]}", "a string");
    expect_parse_error("{\"0\": [\"a\", -99999999999999999999999]}", "a string");
    expect_parse_error("{0: [\"a\", \"b\"]}", "a string");

    // A long label is kept whole, in exactly its bytes.
    size_t big = 100000;
    char *long_json = malloc(big + 64);
    len = (size_t)sprintf(long_json, "{\"0\": [\"n0\", \"");
    memset(long_json + len, 'x', big);
    len += big;
    len += (size_t)sprintf(long_json + len, "\"]}");
    err = dl_class_index_parse(long_json, len, &ci);
    CHECK(!err && strlen(dl_class_index_label(ci, 0)) == big, "long label: %s", or_ok(err));
    dl_class_index_free(ci);
    free(long_json);

    // The real index keeps its strings, not a copy of the rest of the input
    // per string (that was 35 MB).
    buf f = read_file(path);
    size_t before = heap_in_use();
    err = dl_class_index_parse((const char *)f.p, f.n, &ci);
    size_t kept = heap_in_use() - before;
    CHECK(!err && kept < 256 * 1024, "the class index keeps %zu bytes", kept);
    if (!err) dl_class_index_free(ci);
    free(f.p);
}

// A top-k that a user typed: the reason quotes it as given.
static void test_top_k_parse(void) {
    size_t k = 7;
    const char *err = dl_top_k_parse("5", 1000, &k);
    CHECK(!err && k == 5, "5: %s", or_ok(err));
    err = dl_top_k_parse("1000", 1000, &k);
    CHECK(!err && k == 1000, "1000: %s", or_ok(err));
    err = dl_top_k_parse("123456", 0, &k);
    CHECK(!err && k == 123456, "no class count: %s", or_ok(err));
    static const struct { const char *text; size_t classes; const char *reason; } bad[] = {
        {"99999999999999999999", 1000, "top must be at most the number of classes (1000), got 99999999999999999999"},
        {"99999999999999999999", 0, "top is too large: 99999999999999999999"},
        {"18446744073709551616", 0, "top is too large: 18446744073709551616"},
        {"4294967297", 1000, "top must be at most the number of classes (1000), got 4294967297"},
        {"1001", 1000, "top must be at most the number of classes (1000), got 1001"},
        {"0", 1000, "top must be at least 1, got 0"},
        {"000", 1000, "top must be at least 1, got 000"},
        {"", 1000, "top must be an integer, got ''"},
        {"-1", 1000, "top must be an integer, got '-1'"},
        {"5x", 1000, "top must be an integer, got '5x'"},
        {" 5", 1000, "top must be an integer, got ' 5'"},
        {"1e3", 1000, "top must be an integer, got '1e3'"},
        {"1111111111111111111111111111111111111111111111111111111", 1000,
         "got 1111111111111111111111111111111111111111..."},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        k = 7;
        err = dl_top_k_parse(bad[i].text, bad[i].classes, &k);
        CHECK(err && strstr(err, bad[i].reason) && k == 7, "'%s': %s", bad[i].text, or_ok(err));
    }
    CHECK(dl_top_k_parse(NULL, 10, &k) != NULL && dl_top_k_parse("1", 10, NULL) != NULL, "NULL accepted");
}

static void test_top_k(void) {
    float probs[8] = {0.1f, 0.3f, 0.05f, 0.3f, NAN, 0.2f, 0.3f, 0.05f};
    dl_prediction p[8];
    size_t k = dl_top_k(probs, 8, 5, p);
    CHECK(k == 5 && p[0].index == 1 && p[1].index == 3 && p[2].index == 6 && p[3].index == 5 && p[4].index == 0,
          "top 5: %zu: %d %d %d %d %d", k, p[0].index, p[1].index, p[2].index, p[3].index, p[4].index);
    k = dl_top_k(probs, 8, 8, p);
    CHECK(k == 8 && p[5].index == 2 && p[6].index == 7 && p[7].index == 4, "all: %d %d %d", p[5].index, p[6].index,
          p[7].index);
    CHECK(dl_top_k(probs, 8, 20, p) == 8, "k > n");
    CHECK(dl_top_k(probs, 8, 0, p) == 0, "k = 0");
    // A larger case against a simple selection.
    float big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (float)(rnd() % 50) / 50.0f;
    dl_prediction top[1000];
    dl_top_k(big, 1000, 1000, top);
    int sorted = 1;
    for (int i = 1; i < 1000; i++)
        sorted &= top[i - 1].prob > top[i].prob || (top[i - 1].prob == top[i].prob && top[i - 1].index < top[i].index);
    CHECK(sorted, "top-1000 not in order");
}

static void test_format(void) {
    static const struct { float v; const char *s; } floats[] = {
        {0.5f, "0.5"},
        {1e-05f, "1e-05"},
        {0.78923416f, "0.78923416"},
        {1.0f, "1.0"},
        {3.4028235e+38f, "3.4028235e+38"},
        {0.0123f, "0.0123"},
        {1e-4f, "1e-04"}, // float32(1e-4) < 1e-4 in double: numpy goes scientific
        {0.00010001f, "0.00010001"},
        {1.2345e-05f, "1.2345e-05"},
        {123456789.0f, "123456790.0"},
        {1e16f, "1e+16"},
        {1e15f, "1000000000000000.0"},
        {1e-45f, "1e-45"},
        {0.1f, "0.1"},
        {1.0f / 3.0f, "0.33333334"},
        {0.0f, "0.0"},
        {-0.0f, "-0.0"},
        {-2.5f, "-2.5"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {NAN, "nan"},
        {3e10f, "30000000000.0"}, // "3e10" is exactly between two float32s: numpy accepts it
    };
    char out[64];
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        size_t n = dl_format_float32(floats[i].v, out, sizeof out);
        CHECK(!strcmp(out, floats[i].s) && n == strlen(out), "%.9g -> %s, want %s", (double)floats[i].v, out,
              floats[i].s);
    }
    // Every float32 this test draws reads back exactly.
    int roundtrip = 1;
    for (int i = 0; i < 20000; i++) {
        uint32_t u = (uint32_t)rnd() << 16 ^ rnd();
        float f;
        memcpy(&f, &u, 4);
        if (!isfinite(f)) continue;
        dl_format_float32(f, out, sizeof out);
        roundtrip &= strtof(out, NULL) == f;
    }
    CHECK(roundtrip, "a printed float32 does not read back");

    // A fake index with hard labels.
    const char *json = "{\"0\": [\"n0\", \"plain\"], \"1\": [\"n1\", \"it's\"], \"2\": [\"n2\", \"say \\\"hi\\\"\"],"
                       " \"3\": [\"n3\", \"both ' and \\\"\"], \"4\": [\"n4\", \"back\\\\slash\\ttab\\u0001\\u00e9\"]}";
    dl_class_index *ci;
    const char *err = parse(json, &ci);
    CHECK(!err, "fake index: %s", or_ok(err));
    if (err) return;
    dl_prediction p[6] = {{0, 0.78923416f}, {1, 0.5f}, {2, 1e-05f}, {3, 1.0f}, {4, 3.4028235e+38f}, {9, 0.25f}};
    char text[1024];
    size_t n = dl_format_predictions_python(ci, p, 6, text, sizeof text);
    const char *py = "[('n0', 'plain', 0.78923416), ('n1', \"it's\", 0.5), ('n2', 'say \"hi\"', 1e-05), "
                     "('n3', 'both \\' and \"', 1.0), ('n4', 'back\\\\slash\\ttab\\x01\xC3\xA9', 3.4028235e+38), "
                     "('', '', 0.25)]";
    CHECK(!strcmp(text, py) && n == strlen(py), "python:\n  %s\n  %s", text, py);
    n = dl_format_predictions_json(ci, p, 6, text, sizeof text);
    const char *js = "[{\"index\": 0, \"wnid\": \"n0\", \"label\": \"plain\", \"prob\": 0.78923416}, "
                     "{\"index\": 1, \"wnid\": \"n1\", \"label\": \"it's\", \"prob\": 0.5}, "
                     "{\"index\": 2, \"wnid\": \"n2\", \"label\": \"say \\\"hi\\\"\", \"prob\": 1e-05}, "
                     "{\"index\": 3, \"wnid\": \"n3\", \"label\": \"both ' and \\\"\", \"prob\": 1.0}, "
                     "{\"index\": 4, \"wnid\": \"n4\", \"label\": \"back\\\\slash\\ttab\\u0001\xC3\xA9\", "
                     "\"prob\": 3.4028235e+38}, "
                     "{\"index\": 9, \"wnid\": \"\", \"label\": \"\", \"prob\": 0.25}]";
    CHECK(!strcmp(text, js) && n == strlen(js), "json:\n  %s\n  %s", text, js);

    // snprintf contract: the full length whatever the capacity.
    size_t need = dl_format_predictions_json(ci, p, 6, NULL, 0);
    CHECK(need == strlen(js), "cap 0 gives %zu, want %zu", need, strlen(js));
    char small[10];
    n = dl_format_predictions_json(ci, p, 6, small, sizeof small);
    CHECK(n == need && strlen(small) == 9 && !strncmp(small, js, 9), "truncated output: %s", small);
    dl_prediction nan_pred = {0, NAN};
    dl_format_predictions_json(ci, &nan_pred, 1, text, sizeof text);
    CHECK(strstr(text, "\"prob\": null") != NULL, "NaN in JSON: %s", text);
    dl_format_predictions_python(ci, p, 0, text, sizeof text);
    CHECK(!strcmp(text, "[]"), "empty list: %s", text);
    dl_class_index_free(ci);
}

// load_img of a JPEG converts only the rows its NEAREST resize reads (models/stb_image.cmake):
// every target size gives what the whole decode resized gives, byte for byte.
static void test_jpeg_rows(const char *dir) {
    static const char *const names[] = {"hot_dog.jpg", "face.jpg"};
    static const int sizes[][2] = {{224, 224}, {37, 53}, {1, 1}, {384, 512}, {355, 512}, {1000, 7}, {2, 900}};
    char path[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        buf f = read_file(path);
        dl_image whole;
        const char *err = dl_image_decode(f.p, f.n, 0, &whole);
        CHECK(!err, "%s: %s", names[i], or_ok(err));
        for (size_t k = 0; !err && k < sizeof sizes / sizeof sizes[0]; k++) {
            dl_image want, got;
            const char *e1 = dl_image_resize_nearest(&whole, sizes[k][1], sizes[k][0], &want);
            const char *e2 = dl_image_load(f.p, f.n, 0, sizes[k][0], sizes[k][1], &got, NULL, NULL);
            CHECK(!e1 && !e2 && got.width == want.width && got.height == want.height &&
                      !memcmp(got.rgb, want.rgb, (size_t)want.width * (size_t)want.height * 3),
                  "%s at %dx%d: load_img differs from the whole decode resized (%s, %s)", names[i], sizes[k][0],
                  sizes[k][1], or_ok(e1), or_ok(e2));
            dl_image_free(&want);
            dl_image_free(&got);
        }
        dl_image_free(&whole);
        free(f.p);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s IMAGES_DIR CLASS_INDEX_JSON FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    test_shared_images(argv[1]);
    test_jpeg_rows(argv[1]);
    test_png_variants();
    test_bmp_gif_pnm_jpeg(argv[3]);
    test_bmp_top_down(argv[3]);
    test_errors();
    test_max_pixels();
    test_target_sizes();
    test_nearest();
    test_preprocess();
    test_bilinear();
    test_class_index(argv[2]);
    test_class_index_hostile(argv[2]);
    test_top_k();
    test_top_k_parse();
    test_format();
    printf("image_test: %d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
