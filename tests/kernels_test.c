/* kernels_test.c — every kernel variant against its reference, and the
 * references against naive double-precision computations.
 * Prints one line per group; exit status 0 when all checks pass. */
#include "kernels/kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
static double worst_wino[2];   /* max relative error of Winograd 2x2, 4x4 */

static unsigned rng_state = 12345u;
static float frand(void) {   /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 17; rng_state ^= rng_state << 5;
    return (float)(rng_state >> 8) / (float)(1u << 23) - 1.0f;
}
static float *rand_buf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

/* Relative error against the reference's largest magnitude (a GEMM's rounding
 * scales with its terms, not with each possibly cancelled-out result). */
static double rel_err(const float *got, const float *ref, size_t n, size_t stride, size_t cols) {
    double scale = 1e-30, err = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cols; j++) scale = fmax(scale, fabs(ref[i * stride + j]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cols; j++) {
            double d = fabs((double)got[i * stride + j] - ref[i * stride + j]);
            if (isnan(got[i * stride + j]) != isnan(ref[i * stride + j])) d = INFINITY;
            err = fmax(err, d / scale);
        }
    return err;
}

static int check(double err, double tol, const char *what) {
    checks++;
    if (err <= tol) return 1;
    if (failures++ < 20) printf("FAIL %s: relative error %.3g > %.3g\n", what, err, tol);
    return 0;
}

/* Padding columns past the written channels must stay untouched. */
static int check_untouched(const float *buf, size_t rows, size_t stride, size_t from, const char *what) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = from; j < stride; j++)
            if (buf[i * stride + j] != 777.0f) return check(INFINITY, 0, what);
    checks++;
    return 1;
}

static float *sentinel_buf(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 777.0f;
    return p;
}

/* ---- GEMM ---------------------------------------------------------------- */

static void test_gemm_shape(size_t m, size_t n, size_t k, size_t lda, size_t ldc,
                            int with_bias, float lo, float hi) {
    char what[160];
    float *a = rand_buf(m * lda), *w = rand_buf(k * n), *bias = with_bias ? rand_buf(n) : NULL;
    float *packed = malloc(f32_gemm_packed_size(k, n) * sizeof(float));
    float *ref = sentinel_buf(m * ldc), *got = sentinel_buf(m * ldc);
    f32_gemm_pack(k, n, w, bias, packed);
    f32_gemm_ref(m, n, k, a, lda, w, bias, ref, ldc, lo, hi);

    /* reference against a naive double computation */
    double maxd = 1e-30, err = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0;
            for (size_t kk = 0; kk < k; kk++) s += (double)a[i * lda + kk] * w[kk * n + j];
            s = s < lo ? lo : (s > hi ? hi : s);
            maxd = fmax(maxd, fabs(s));
            err = fmax(err, fabs(s - ref[i * ldc + j]));
        }
    snprintf(what, sizeof what, "gemm_ref vs naive m=%zu n=%zu k=%zu", m, n, k);
    check(err / maxd, 1e-5, what);

    struct { const char *name; f32_gemm_ukernel uk; size_t mr; } uks[] = {
        {"4x8_scalar", f32_gemm_4x8_scalar, 4}, {"4x8_wasmsimd", f32_gemm_4x8_wasmsimd, 4},
        {"5x8_wasmsimd", f32_gemm_5x8_wasmsimd, 5}, {"6x8_wasmsimd", f32_gemm_6x8_wasmsimd, 6},
    };
    for (size_t u = 0; u < sizeof uks / sizeof uks[0]; u++) {
        for (size_t i = 0; i < m * ldc; i++) got[i] = 777.0f;
        f32_gemm_with(uks[u].uk, uks[u].mr, m, n, k, a, lda, packed, got, ldc, lo, hi);
        snprintf(what, sizeof what, "gemm %s m=%zu n=%zu k=%zu lda=%zu ldc=%zu", uks[u].name, m, n, k, lda, ldc);
        check(rel_err(got, ref, m, ldc, n), 1e-5, what);
        check_untouched(got, m, ldc, n, what);
    }
    for (size_t i = 0; i < m * ldc; i++) got[i] = 777.0f;
    f32_gemm(m, n, k, a, lda, packed, got, ldc, lo, hi);
    snprintf(what, sizeof what, "f32_gemm m=%zu n=%zu k=%zu", m, n, k);
    check(rel_err(got, ref, m, ldc, n), 1e-5, what);
    free(a); free(w); free(bias); free(packed); free(ref); free(got);
}

static void test_gemm(void) {
    int before = failures, c0 = checks;
    for (size_t m = 1; m <= 17; m++)
        for (size_t n = 1; n <= 17; n++)
            for (size_t k = 1; k <= 17; k++)
                test_gemm_shape(m, n, k, k + (m % 3), n + (k % 2) * 3, (m + n) % 4 != 0,
                                (n % 3 == 0) ? 0.0f : -INFINITY, (m % 5 == 0) ? 0.5f : INFINITY);
    test_gemm_shape(3, 5, 0, 1, 5, 1, -INFINITY, INFINITY);          /* k = 0: bias only */
    test_gemm_shape(37, 1000, 64, 64, 1000, 1, -INFINITY, INFINITY); /* dense-like */
    test_gemm_shape(61, 40, 1152, 1160, 48, 1, 0.0f, INFINITY);      /* long k, panel blocking */
    test_gemm_shape(13, 520, 300, 300, 520, 1, 0.0f, 6.0f);          /* several panel blocks */
    printf("gemm: %d checks, %d failures\n", checks - c0, failures - before);
}

/* ---- convolution ----------------------------------------------------------- */

static const char *algo_name[] = {"gemm", "im2col", "winograd2x2", "winograd4x4"};

static void expect(int ok, const char *what) {
    checks++;
    if (!ok && failures++ < 20) printf("FAIL %s\n", what);
}

/* The convolution split by output channels (threads: models/graph.c) gives the
 * whole call's bits: every panel alone, then two halves at a panel boundary. */
static void same_by_channels(const f32_conv2d_shape *s, f32_conv2d_algo algo, f32_variant v, const float *in,
                             size_t in_stride, const float *packed, const float *whole, size_t out_stride,
                             float lo, float hi, void *scratch, const char *what) {
    const size_t opix = s->batch * f32_conv2d_out_h(s) * f32_conv2d_out_w(s), mid = s->out_c / 16 * 8;
    float *got = sentinel_buf(opix * out_stride);
    char w2[360];
    for (int halves = 0; halves < 2; halves++) {
        for (size_t i = 0; i < opix * out_stride; i++) got[i] = 777.0f;
        const char *err = NULL;
        for (size_t c0 = 0; c0 < s->out_c && !err;) {
            size_t c1 = halves ? (c0 < mid ? mid : s->out_c) : (c0 + 8 < s->out_c ? c0 + 8 : s->out_c);
            err = f32_conv2d_nhwc_channels(s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch, c0, c1);
            c0 = c1;
        }
        int same = !err;
        for (size_t p = 0; p < opix && same; p++) same = !memcmp(got + p * out_stride, whole + p * out_stride, s->out_c * sizeof(float));
        snprintf(w2, sizeof w2, "%s by %s", what, halves ? "two channel halves" : "channel panels");
        expect(same, w2);
        check_untouched(got, opix, out_stride, s->out_c, w2);
    }
    snprintf(w2, sizeof w2, "%s: channel ranges off the panels or past the end refused", what);
    expect(f32_conv2d_nhwc_channels(s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch, 4, s->out_c) != NULL &&
           f32_conv2d_nhwc_channels(s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch, 0, s->out_c + 1) != NULL &&
           f32_conv2d_nhwc_channels(s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch, 8, 0) != NULL, w2);
    free(got);
}

/* A one-pixel-to-one-pixel convolution as a 1x1 on its one tap
 * (f32_conv2d_single_tap): the reference's result, and im2col's to the bit. */
static void test_single_tap(const f32_conv2d_shape *s, const float *in, size_t in_stride, const float *w,
                            const float *bias, const float *ref, size_t out_stride, float lo, float hi, const char *what) {
    f32_conv2d_shape one;
    size_t tap;
    if (!f32_conv2d_single_tap(s, &one, &tap)) return;
    const size_t rows = s->batch;
    float *packed = malloc(f32_conv2d_packed_size_algo(&one, F32_CONV_GEMM) * sizeof(float));
    float *full = malloc(f32_conv2d_packed_size_algo(s, F32_CONV_IM2COL) * sizeof(float));
    void *scratch = malloc(f32_conv2d_scratch_size_algo(s, F32_CONV_IM2COL) + 1);
    float *got = sentinel_buf(rows * out_stride), *im2col = sentinel_buf(rows * out_stride);
    expect(one.kh == 1 && one.kw == 1 && one.in_h == 1 && one.in_w == 1 && one.batch == s->batch && one.out_c == s->out_c &&
           f32_conv2d_choose(&one) == F32_CONV_GEMM && tap == (s->pad_top * s->kw + s->pad_left) * s->in_c * s->out_c,
           "single tap: a pointwise shape, the tap at the padding's corner");
    expect(!f32_conv2d_pack_algo(&one, F32_CONV_GEMM, w + tap, bias, packed) &&
           !f32_conv2d_pack_algo(s, F32_CONV_IM2COL, w, bias, full), "single tap: packed");
    for (int v = F32_SCALAR; v <= F32_WASMSIMD; v++) {
        char w2[300];
        snprintf(w2, sizeof w2, "single tap %s %s", v ? "wasmsimd" : "scalar", what);
        expect(!f32_conv2d_nhwc_algo(&one, F32_CONV_GEMM, v, in, in_stride, packed, got, out_stride, lo, hi, NULL) &&
               !f32_conv2d_nhwc_algo(s, F32_CONV_IM2COL, v, in, in_stride, full, im2col, out_stride, lo, hi, scratch), w2);
        check(rel_err(got, ref, rows, out_stride, s->out_c), 1e-5, w2);
        int same = 1;
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < s->out_c; c++) same &= got[r * out_stride + c] == im2col[r * out_stride + c];
        expect(same, w2);
    }
    free(packed); free(full); free(scratch); free(got); free(im2col);
}

static void test_conv_shape(f32_conv2d_shape s, size_t in_stride, size_t out_stride, float lo, float hi,
                            int naive_check) {
    char what[256];
    const size_t oh = f32_conv2d_out_h(&s), ow = f32_conv2d_out_w(&s), opix = s.batch * oh * ow;
    const size_t wsize = s.kh * s.kw * s.in_c * s.out_c;
    float *in = rand_buf(s.batch * s.in_h * s.in_w * in_stride), *w = rand_buf(wsize), *bias = rand_buf(s.out_c);
    float *ref = sentinel_buf(opix * out_stride), *got = sentinel_buf(opix * out_stride);
    f32_conv2d_nhwc_ref(&s, in, in_stride, w, bias, ref, out_stride, lo, hi);
    snprintf(what, sizeof what, "b=%zu %zux%zux%zu->%zu k=%zux%zu s=%zux%zu pad=%zu,%zu,%zu,%zu strides=%zu,%zu",
             s.batch, s.in_h, s.in_w, s.in_c, s.out_c, s.kh, s.kw, s.stride_h, s.stride_w,
             s.pad_top, s.pad_left, s.pad_bottom, s.pad_right, in_stride, out_stride);

    if (naive_check) {   /* reference against naive double, padding done by hand */
        double maxd = 1e-30, err = 0;
        for (size_t b = 0; b < s.batch; b++)
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++)
                    for (size_t co = 0; co < s.out_c; co++) {
                        double acc = bias[co];
                        for (size_t ky = 0; ky < s.kh; ky++)
                            for (size_t kx = 0; kx < s.kw; kx++) {
                                long iy = (long)(oy * s.stride_h + ky) - (long)s.pad_top;
                                long ix = (long)(ox * s.stride_w + kx) - (long)s.pad_left;
                                if (iy < 0 || ix < 0 || iy >= (long)s.in_h || ix >= (long)s.in_w) continue;
                                for (size_t ci = 0; ci < s.in_c; ci++)
                                    acc += (double)in[((b * s.in_h + iy) * s.in_w + ix) * in_stride + ci] *
                                           w[((ky * s.kw + kx) * s.in_c + ci) * s.out_c + co];
                            }
                        acc = acc < lo ? lo : (acc > hi ? hi : acc);
                        maxd = fmax(maxd, fabs(acc));
                        err = fmax(err, fabs(acc - ref[((b * oh + oy) * ow + ox) * out_stride + co]));
                    }
        char w2[300];
        snprintf(w2, sizeof w2, "conv_ref vs naive %s", what);
        check(err / maxd, 1e-5, w2);
    }

    for (int algo = F32_CONV_GEMM; algo <= F32_CONV_WINOGRAD_4X4; algo++) {
        if (!f32_conv2d_algo_supports(&s, algo)) continue;
        float *packed = malloc(f32_conv2d_packed_size_algo(&s, algo) * sizeof(float));
        void *scratch = malloc(f32_conv2d_scratch_size_algo(&s, algo) + 1);
        const char *unpacked = f32_conv2d_pack_algo(&s, algo, w, bias, packed);
        int wino = algo >= F32_CONV_WINOGRAD_2X2;
        for (int v = F32_SCALAR; v <= F32_WASMSIMD; v++) {
            for (size_t i = 0; i < opix * out_stride; i++) got[i] = 777.0f;
            const char *refused = f32_conv2d_nhwc_algo(&s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch);
            char w2[300];
            snprintf(w2, sizeof w2, "conv %s %s %s", algo_name[algo], v ? "wasmsimd" : "scalar", what);
            double e = rel_err(got, ref, opix, out_stride, s.out_c);
            if (wino) worst_wino[algo - F32_CONV_WINOGRAD_2X2] = fmax(worst_wino[algo - F32_CONV_WINOGRAD_2X2], e);
            check(refused || unpacked ? INFINITY : e, wino ? 1e-4 : 1e-5, w2);
            check_untouched(got, opix, out_stride, s.out_c, w2);
            same_by_channels(&s, algo, v, in, in_stride, packed, got, out_stride, lo, hi, scratch, w2);
        }
        free(packed); free(scratch);
    }
    test_single_tap(&s, in, in_stride, w, bias, ref, out_stride, lo, hi, what);
    /* the public dispatching entry point */
    float *packed = malloc(f32_conv2d_packed_size(&s) * sizeof(float));
    void *scratch = malloc(f32_conv2d_scratch_size(&s) + 1);
    f32_conv2d_pack(&s, w, bias, packed);
    for (size_t i = 0; i < opix * out_stride; i++) got[i] = 777.0f;
    f32_conv2d_nhwc(&s, in, in_stride, packed, got, out_stride, lo, hi, scratch);
    char w2[300];
    snprintf(w2, sizeof w2, "f32_conv2d_nhwc %s", what);
    check(rel_err(got, ref, opix, out_stride, s.out_c), 1e-4, w2);
    free(packed); free(scratch);
    free(in); free(w); free(bias); free(ref); free(got);
}

static f32_conv2d_shape conv_shape(size_t batch, size_t h, size_t w, size_t cin, size_t cout,
                                   size_t kh, size_t kw, size_t sh, size_t sw,
                                   size_t pt, size_t pl, size_t pb, size_t pr) {
    f32_conv2d_shape s = {batch, h, w, cin, cout, kh, kw, sh, sw, pt, pl, pb, pr};
    return s;
}


/* Sizes that do not fit in size_t saturate to SIZE_MAX (callers refuse them);
 * an algorithm asked for a shape it does not support says so, writes nothing. */
static void test_conv_refusals(void) {
    expect(f32_gemm_packed_size(5, 9) == 2 * 8 * 6, "gemm packed size");
    expect(f32_gemm_packed_size(SIZE_MAX - 3, 9) == SIZE_MAX, "gemm packed size: k + 1 overflows");
    expect(f32_gemm_packed_size(SIZE_MAX / 8, SIZE_MAX / 8) == SIZE_MAX, "gemm packed size: product overflows");
    expect(f32_gemm_packed_size((size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)) == SIZE_MAX,
           "gemm packed size: 2^(bits/2) squared");
    f32_conv2d_shape huge = conv_shape(1, 8, 8, SIZE_MAX / 4, 8, 3, 3, 1, 1, 1, 1, 1, 1);
    for (int algo = F32_CONV_GEMM; algo <= F32_CONV_WINOGRAD_4X4; algo++)
        expect(f32_conv2d_packed_size_algo(&huge, algo) == SIZE_MAX, "conv packed size of a huge shape");
    expect(f32_conv2d_scratch_size_algo(&huge, F32_CONV_IM2COL) == SIZE_MAX, "im2col scratch of a huge shape");
    expect(f32_conv2d_scratch_size_algo(&huge, F32_CONV_WINOGRAD_4X4) == SIZE_MAX, "winograd scratch of a huge shape");
    f32_conv2d_shape wide = conv_shape(1, SIZE_MAX - 1, 4, 3, 4, 3, 3, 1, 1, 2, 0, 2, 0);
    expect(f32_conv2d_out_h(&wide) == 0, "out_h when the padded input overflows");

    for (size_t col = 0; col <= 24; col += 8)
        expect(f32_gemm_packed_offset(5, col) == f32_gemm_packed_size(5, col), "gemm packed offset of a panel");
    f32_conv2d_shape one, not_one[] = {
        conv_shape(1, 2, 2, 3, 4, 3, 3, 1, 1, 1, 1, 1, 1),     /* four output pixels */
        conv_shape(1, 1, 1, 3, 4, 3, 3, 1, 1, 1, 1, 1, 2),     /* two output columns */
        conv_shape(1, 1, 1, 3, 4, 1, 1, 1, 1, 0, 0, 0, 0),     /* already pointwise */
        conv_shape(1, 1, 1, 3, 4, 3, 3, 2, 1, 3, 1, 0, 1),     /* reads only padding */
        conv_shape(1, 1, 1, SIZE_MAX / 4, 8, 3, 3, 1, 1, 1, 1, 1, 1),   /* the tap's offset overflows */
    };
    size_t tap = 777;
    for (size_t i = 0; i < sizeof not_one / sizeof *not_one; i++)
        expect(!f32_conv2d_single_tap(&not_one[i], &one, &tap) && tap == 777, "no single tap");

    f32_conv2d_shape s = conv_shape(1, 6, 6, 3, 4, 5, 5, 1, 1, 0, 0, 0, 0);
    float in[6 * 6 * 3] = {0}, packed[1024] = {0}, out[4 * 4] = {0}, scratch[4096];
    for (size_t i = 0; i < 16; i++) out[i] = 777.0f;
    expect(f32_conv2d_nhwc_algo(&s, F32_CONV_WINOGRAD_4X4, F32_SCALAR, in, 3, packed, out, 4, -INFINITY, INFINITY, scratch) != NULL,
           "winograd refuses a 5x5 convolution");
    expect(f32_conv2d_nhwc_algo(&s, F32_CONV_GEMM, F32_WASMSIMD, in, 3, packed, out, 4, -INFINITY, INFINITY, scratch) != NULL,
           "the pointwise GEMM refuses a 5x5 convolution");
    packed[0] = 777.0f;
    expect(f32_conv2d_pack_algo(&s, F32_CONV_WINOGRAD_2X2, in, NULL, packed) != NULL && packed[0] == 777.0f,
           "winograd packing refuses a 5x5 kernel");
    int untouched = 1;
    for (size_t i = 0; i < 16; i++) untouched &= out[i] == 777.0f;
    expect(untouched, "a refused convolution writes nothing");
}

static void test_conv(void) {
    int before = failures, c0 = checks;
    /* small odd shapes: every kernel size/stride/padding combination here */
    size_t ks[][2] = {{1, 1}, {3, 3}, {2, 3}, {5, 5}, {7, 7}, {1, 3}};
    int n = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t stride = 1; stride <= 3; stride++)
            for (size_t pad = 0; pad <= 3; pad++) {
                n++;
                size_t h = 1 + (n * 7) % 11, w = 1 + (n * 5) % 9;
                size_t cin = 1 + (n * 3) % 17, cout = 1 + (n * 11) % 17;
                size_t pt = pad, pl = pad ? pad - 1 : 0, pb = pad / 2, pr = pad;   /* asymmetric */
                f32_conv2d_shape s = conv_shape(1 + n % 2, h, w, cin, cout, ks[ki][0], ks[ki][1],
                                                stride, stride == 3 ? 2 : stride, pt, pl, pb, pr);
                if (f32_conv2d_out_h(&s) == 0 || f32_conv2d_out_w(&s) == 0) continue;
                test_conv_shape(s, cin + n % 3, cout + (n % 4) * 5, n % 3 ? -INFINITY : 0.0f, INFINITY, n % 4 == 0);
            }
    /* 1x1 pointwise with strided slices, batch 2 */
    for (size_t c = 1; c <= 17; c += 4)
        test_conv_shape(conv_shape(2, 5, 3, c, 18 - c, 1, 1, 1, 1, 0, 0, 0, 0), c + 7, 40, 0.0f, INFINITY, 1);
    /* Winograd: 3x3 stride 1, all small output sizes and paddings */
    for (size_t h = 1; h <= 9; h++)
        for (size_t pad = 0; pad <= 2; pad++) {
            size_t cin = 1 + (h * 5 + pad) % 13, cout = 1 + (h * 3 + pad * 7) % 13;
            f32_conv2d_shape s = conv_shape(1 + h % 2, h + 2 - 2 * (pad > 0) , h + (h % 3), cin, cout,
                                            3, 3, 1, 1, pad, pad, pad == 2 ? 1 : pad, pad);
            if (f32_conv2d_out_h(&s) == 0 || f32_conv2d_out_w(&s) == 0) continue;
            test_conv_shape(s, cin + (pad == 1) * 3, cout + 32, pad == 1 ? 0.0f : -INFINITY, INFINITY, 0);
        }
    /* DenseNet-like shapes, reduced spatially to keep the test fast */
    test_conv_shape(conv_shape(1, 14, 14, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1), 160, 256, -INFINITY, INFINITY, 0);
    test_conv_shape(conv_shape(2, 7, 7, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1), 128, 64, -INFINITY, INFINITY, 0);
    test_conv_shape(conv_shape(1, 2, 2, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1), 128, 32, -INFINITY, INFINITY, 0);
    test_conv_shape(conv_shape(1, 1, 1, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1), 128, 32, -INFINITY, INFINITY, 0);
    /* one pixel to one pixel: a single tap (DenseNet's conv5 at 32x32 inputs, batch 5; others) */
    test_conv_shape(conv_shape(5, 1, 1, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1), 131, 37, 0.0f, INFINITY, 1);
    test_conv_shape(conv_shape(3, 1, 1, 13, 11, 5, 5, 2, 2, 2, 2, 2, 2), 13, 11, -INFINITY, INFINITY, 1);
    test_conv_shape(conv_shape(2, 1, 1, 7, 9, 2, 3, 1, 1, 0, 2, 1, 0), 9, 9, -INFINITY, INFINITY, 1);
    test_conv_shape(conv_shape(1, 36, 36, 3, 64, 7, 7, 2, 2, 0, 0, 0, 0), 3, 64, -INFINITY, INFINITY, 1);
    test_conv_shape(conv_shape(1, 31, 31, 3, 64, 7, 7, 2, 2, 3, 3, 3, 3), 3, 64, -INFINITY, INFINITY, 0);
    test_conv_shape(conv_shape(2, 8, 8, 96, 128, 1, 1, 1, 1, 0, 0, 0, 0), 256, 128, 0.0f, INFINITY, 1);
    /* degenerate: kernel larger than the padded input gives an empty output, no crash */
    f32_conv2d_shape e = conv_shape(1, 2, 2, 3, 4, 5, 5, 1, 1, 0, 0, 0, 0);
    checks++;
    if (f32_conv2d_out_h(&e) != 0) { failures++; printf("FAIL empty conv output\n"); }
    e.stride_h = 0;
    checks++;
    if (f32_conv2d_out_h(&e) != 0) { failures++; printf("FAIL stride 0 conv output\n"); }
    test_conv_refusals();
    printf("conv: %d checks, %d failures (winograd max rel error: 2x2 %.2g, 4x4 %.2g)\n",
           checks - c0, failures - before, worst_wino[0], worst_wino[1]);
}

/* ---- elementwise, pooling, softmax ----------------------------------------- */

static void test_ops(void) {
    int before = failures, c0 = checks;
    char what[160];
    for (size_t c = 1; c <= 17; c++) {
        size_t pixels = 1 + c % 5, is = c + 3, os = c + 1 + c % 2;
        float *in = rand_buf(pixels * is), *scale = rand_buf(c), *shift = rand_buf(c);
        float *ref = sentinel_buf(pixels * os), *got = sentinel_buf(pixels * os);
        float lo = c % 2 ? 0.0f : -INFINITY, hi = c % 3 ? INFINITY : 0.25f;
        f32_scale_shift_nhwc_scalar(pixels, c, in, is, scale, shift, ref, os, lo, hi);
        double err = 0;
        for (size_t p = 0; p < pixels; p++)
            for (size_t j = 0; j < c; j++) {
                double y = (double)in[p * is + j] * scale[j] + shift[j];
                y = y < lo ? lo : (y > hi ? hi : y);
                err = fmax(err, fabs(y - ref[p * os + j]));
            }
        snprintf(what, sizeof what, "scale_shift scalar vs naive c=%zu", c);
        check(err, 1e-6, what);
        snprintf(what, sizeof what, "scale_shift wasmsimd c=%zu", c);
        f32_scale_shift_nhwc_wasmsimd(pixels, c, in, is, scale, shift, got, os, lo, hi);
        check(rel_err(got, ref, pixels, os, c), 1e-6, what);
        check_untouched(got, pixels, os, c, what);
        f32_scale_shift_nhwc(pixels, c, in, is, scale, shift, got, os, lo, hi);
        check(rel_err(got, ref, pixels, os, c), 1e-6, what);
        free(in); free(scale); free(shift); free(ref); free(got);
    }

    for (int n = 0; n < 24; n++) {
        f32_pool2d_shape s = {1 + n % 2, 3 + n % 7, 2 + n % 5, 1 + (n * 5) % 17,
                              1 + n % 3, 1 + (n / 3) % 3, 1 + n % 2, 1 + (n / 2) % 3};
        if (s.in_h < s.pool_h || s.in_w < s.pool_w) continue;
        size_t oh = (s.in_h - s.pool_h) / s.stride_h + 1, ow = (s.in_w - s.pool_w) / s.stride_w + 1;
        size_t is = s.channels + n % 4, os = s.channels + 2, opix = s.batch * oh * ow;
        float *in = rand_buf(s.batch * s.in_h * s.in_w * is);
        float *ref = sentinel_buf(opix * os), *got = sentinel_buf(opix * os);
        for (int is_max = 0; is_max <= 1; is_max++) {
            (is_max ? f32_maxpool2d_nhwc_scalar : f32_avgpool2d_nhwc_scalar)(&s, in, is, ref, os);
            double err = 0;   /* scalar vs naive */
            for (size_t b = 0; b < s.batch; b++)
                for (size_t oy = 0; oy < oh; oy++)
                    for (size_t ox = 0; ox < ow; ox++)
                        for (size_t c = 0; c < s.channels; c++) {
                            double acc = is_max ? -1e30 : 0;
                            for (size_t ky = 0; ky < s.pool_h; ky++)
                                for (size_t kx = 0; kx < s.pool_w; kx++) {
                                    double x = in[((b * s.in_h + oy * s.stride_h + ky) * s.in_w + ox * s.stride_w + kx) * is + c];
                                    acc = is_max ? fmax(acc, x) : acc + x;
                                }
                            if (!is_max) acc /= s.pool_h * s.pool_w;
                            err = fmax(err, fabs(acc - ref[((b * oh + oy) * ow + ox) * os + c]));
                        }
            snprintf(what, sizeof what, "%spool scalar vs naive #%d", is_max ? "max" : "avg", n);
            check(err, 1e-6, what);
            snprintf(what, sizeof what, "%spool wasmsimd #%d", is_max ? "max" : "avg", n);
            (is_max ? f32_maxpool2d_nhwc_wasmsimd : f32_avgpool2d_nhwc_wasmsimd)(&s, in, is, got, os);
            check(rel_err(got, ref, opix, os, s.channels), 1e-6, what);
            check_untouched(got, opix, os, s.channels, what);
            (is_max ? f32_maxpool2d_nhwc : f32_avgpool2d_nhwc)(&s, in, is, got, os);
            check(rel_err(got, ref, opix, os, s.channels), 1e-6, what);
        }
        free(in); free(ref); free(got);
    }

    for (size_t c = 1; c <= 17; c += 2) {
        size_t batch = 1 + c % 2, pixels = 1 + (c * 7) % 13, is = c + c % 3;
        float *in = rand_buf(batch * pixels * is), *ref = malloc(batch * c * 4), *got = malloc(batch * c * 4);
        for (int is_max = 0; is_max <= 1; is_max++) {
            (is_max ? f32_global_maxpool_nhwc_scalar : f32_global_avgpool_nhwc_scalar)(batch, pixels, c, in, is, ref);
            double err = 0;
            for (size_t b = 0; b < batch; b++)
                for (size_t j = 0; j < c; j++) {
                    double acc = is_max ? -1e30 : 0;
                    for (size_t p = 0; p < pixels; p++) {
                        double x = in[(b * pixels + p) * is + j];
                        acc = is_max ? fmax(acc, x) : acc + x;
                    }
                    if (!is_max) acc /= pixels;
                    err = fmax(err, fabs(acc - ref[b * c + j]));
                }
            snprintf(what, sizeof what, "global %spool scalar vs naive c=%zu", is_max ? "max" : "avg", c);
            check(err, 1e-6, what);
            (is_max ? f32_global_maxpool_nhwc_wasmsimd : f32_global_avgpool_nhwc_wasmsimd)(batch, pixels, c, in, is, got);
            snprintf(what, sizeof what, "global %spool wasmsimd c=%zu", is_max ? "max" : "avg", c);
            check(rel_err(got, ref, batch, c, c), 1e-6, what);
            (is_max ? f32_global_maxpool_nhwc : f32_global_avgpool_nhwc)(batch, pixels, c, in, is, got);
            check(rel_err(got, ref, batch, c, c), 1e-6, what);
        }
        free(in); free(ref); free(got);
    }

    for (size_t n = 1; n <= 1000; n += (n < 17 ? 1 : 331)) {
        size_t rows = 1 + n % 3;
        float *in = rand_buf(rows * n), *ref = malloc(rows * n * 4), *got = malloc(rows * n * 4);
        for (size_t i = 0; i < rows * n; i++) in[i] *= 30.0f;   /* large logits: stability matters */
        f32_softmax_scalar(rows, n, in, ref);
        double err = 0;
        for (size_t r = 0; r < rows; r++) {
            double mx = -1e30, sum = 0;
            for (size_t i = 0; i < n; i++) mx = fmax(mx, in[r * n + i]);
            for (size_t i = 0; i < n; i++) sum += exp(in[r * n + i] - mx);
            for (size_t i = 0; i < n; i++) {
                double y = exp(in[r * n + i] - mx) / sum;
                err = fmax(err, fabs(y - ref[r * n + i]) / fmax(y, 1e-30) * (y > 1e-30));
            }
        }
        snprintf(what, sizeof what, "softmax scalar vs naive n=%zu", n);
        check(err, 1e-5, what);
        f32_softmax_wasmsimd(rows, n, in, got);
        snprintf(what, sizeof what, "softmax wasmsimd n=%zu", n);
        check(rel_err(got, ref, rows, n, n), 1e-6, what);
        memcpy(got, in, rows * n * 4);
        f32_softmax(rows, n, got, got);   /* in place */
        check(rel_err(got, ref, rows, n, n), 1e-6, what);
        free(in); free(ref); free(got);
    }
    printf("ops: %d checks, %d failures\n", checks - c0, failures - before);
}

/* ---- dot and axpy: odd sizes, against double sums and the scalar reference -- */

static void test_dot_axpy(void) {
    int before = failures, c0 = checks;
    char what[160];
    for (size_t n = 0; n <= 70; n += (n < 37 ? 1 : 11)) {
        float *a = rand_buf(n + 1), *b = rand_buf(n + 1), *ref = rand_buf(n + 1), *got = malloc((n + 1) * 4);
        double exact = 0, scale = 1e-30;
        for (size_t i = 0; i < n; i++) { exact += (double)a[i] * b[i]; scale += fabs((double)a[i] * b[i]); }
        snprintf(what, sizeof what, "dot scalar n=%zu", n);
        check(fabs(f32_dot_scalar(n, a, b) - exact) / scale, 1e-6, what);
        snprintf(what, sizeof what, "dot wasmsimd n=%zu", n);
        check(fabs(f32_dot_wasmsimd(n, a, b) - exact) / scale, 1e-6, what);
        check(f32_dot(n, a, b) == f32_dot_wasmsimd(n, a, b) ? 0 : 1, 0.5, what);
        memcpy(got, ref, (n + 1) * 4);
        f32_axpy_scalar(n, 0.75f, a, ref);
        f32_axpy_wasmsimd(n, 0.75f, a, got);
        snprintf(what, sizeof what, "axpy wasmsimd vs scalar n=%zu (and y[n] untouched)", n);
        check(memcmp(got, ref, (n + 1) * 4) ? 1 : 0, 0.5, what);
        f32_axpy(n, -0.75f, a, got);
        f32_axpy_scalar(n, -0.75f, a, ref);
        check(memcmp(got, ref, (n + 1) * 4) ? 1 : 0, 0.5, what);
        free(a); free(b); free(ref); free(got);
    }
    printf("dot/axpy: %d checks, %d failures\n", checks - c0, failures - before);
}

/* ---- float16 conversions -------------------------------------------------
 * f32_from_f16 on all 65,536 halves against the reference (NaN for NaN: a
 * NaN's payload is not pinned down in WebAssembly), and the reference against
 * its definition: each half is the value it stands for. f16_from_f32 on
 * every half's float (exact), the midpoints between neighbouring halves (ties
 * to even) and one float either side of them, beyond the largest half, NaN,
 * and random floats over odd sizes: wasmsimd == scalar bit for bit. */

static uint32_t float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* The value of a half from its definition, in double. */
static double half_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 0x3FF;
    double v = e == 31 ? INFINITY : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);   /* e 31: inf (NaN handled by callers) */
    return h & 0x8000 ? -v : v;
}

static void check_f16_from_f32(const float *x, size_t n, const char *what) {
    uint16_t *ref = malloc((n + 1) * 2), *got = malloc((n + 1) * 2);
    ref[n] = got[n] = 0xBEEF;
    f16_from_f32_scalar(n, x, ref);
    f16_from_f32_wasmsimd(n, x, got);
    check(memcmp(got, ref, (n + 1) * 2) ? 1 : 0, 0.5, what);
    f16_from_f32(n, x, got);
    check(memcmp(got, ref, (n + 1) * 2) ? 1 : 0, 0.5, what);
    free(ref); free(got);
}

static void test_f16(void) {
    int before = failures, c0 = checks;
    enum { ALL = 65536 };
    uint16_t *h = malloc(ALL * 2), *back = malloc(ALL * 2);
    float *ref = malloc(ALL * 4), *got = malloc(ALL * 4), *mid = malloc(3 * ALL * 4);
    for (int i = 0; i < ALL; i++) h[i] = (uint16_t)i;
    f32_from_f16_scalar(ALL, h, ref);
    f32_from_f16_wasmsimd(ALL, h, got);
    int bad_ref = 0, bad_simd = 0;
    for (int i = 0; i < ALL; i++) {
        int is_nan = (i & 0x7C00) == 0x7C00 && (i & 0x3FF);
        if (is_nan ? !isnan(ref[i]) : ((double)ref[i] != half_value((uint16_t)i) || !!signbit(ref[i]) != !!(i & 0x8000))) bad_ref++;
        if (is_nan ? !isnan(got[i]) : float_bits(got[i]) != float_bits(ref[i])) bad_simd++;
    }
    check(bad_ref, 0, "f32_from_f16_scalar: every half is its value");
    check(bad_simd, 0, "f32_from_f16_wasmsimd == scalar on all 65,536 halves");
    f16_from_f32_scalar(ALL, ref, back);   /* exact: every non-NaN half comes back */
    int bad_back = 0;
    for (int i = 0; i < ALL; i++) {
        int is_nan = (i & 0x7C00) == 0x7C00 && (i & 0x3FF);
        if (is_nan ? back[i] != ((i & 0x8000) | 0x7E00) : back[i] != i) bad_back++;
    }
    check(bad_back, 0, "f16_from_f32_scalar(f32_from_f16(h)) == h (NaN: 0x7E00)");
    check_f16_from_f32(ref, ALL, "f16_from_f32 wasmsimd == scalar on every half's float");
    /* Ties: the midpoint m of halves h, h+1 (exact in float), and its neighbours. */
    size_t count = 0;
    int bad_tie = 0;
    for (int i = 0; i < 0x7C00; i++) {
        double a = half_value((uint16_t)i), b = i + 1 == 0x7C00 ? 65536.0 : half_value((uint16_t)(i + 1));   /* 65536: where the next half would be */
        float m = (float)((a + b) / 2);
        uint16_t r;
        f16_from_f32_scalar(1, &m, &r);
        if (r != ((i & 1) ? i + 1 : i)) bad_tie++;
        mid[count++] = m;
        mid[count++] = bits_float(float_bits(m) + 1);
        mid[count++] = bits_float(float_bits(m) - (m > 0));
    }
    check(bad_tie, 0, "f16_from_f32_scalar: ties to even (0x7BFF..0x7C00: 65520 -> inf)");
    for (size_t i = 0; i < count; i++) mid[i] = (i & 1) ? -mid[i] : mid[i];
    check_f16_from_f32(mid, count, "f16_from_f32 wasmsimd == scalar around the midpoints");
    float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e30f, 3e38f,
                       0x1.0p-25f, 0x1.8p-25f, 0x1.0p-26f, 1e-45f, -1e-40f, 0x1.0p-14f, 0x1.ff8p-15f};
    uint16_t want[] = {0, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7BFF, 0x7BFF, 0x7C00, 0xFC00, 0x7C00, 0x7C00,
                       0, 1, 0, 0, 0x8000, 0x400, 0x3FF};
    enum { NS = sizeof special / sizeof *special };
    uint16_t out[NS];
    f16_from_f32_scalar(NS, special, out);
    int bad_special = 0;
    for (int i = 0; i < NS; i++) if (out[i] != want[i]) { bad_special++; printf("  f16_from_f32(%a) = 0x%04X, want 0x%04X\n", special[i], out[i], want[i]); }
    check(bad_special, 0, "f16_from_f32_scalar: zeros, infinities, NaN, overflow, subnormals");
    check_f16_from_f32(special, NS, "f16_from_f32 wasmsimd == scalar on special values");
    char what[96];
    for (size_t n = 0; n <= 70; n += (n < 37 ? 1 : 11)) {
        float *x = rand_buf(n + 1);
        for (size_t i = 0; i < n; i++) x[i] *= (float)ldexp(1.0, (int)(i % 40) - 26);   /* subnormal halves to overflow */
        snprintf(what, sizeof what, "f16_from_f32 wasmsimd == scalar n=%zu", n);
        check_f16_from_f32(x, n, what);
        uint16_t *hh = malloc((n + 1) * 2);
        f16_from_f32_scalar(n, x, hh);
        float *r = sentinel_buf(n + 1), *g = sentinel_buf(n + 1);
        f32_from_f16_scalar(n, hh, r);
        f32_from_f16(n, hh, g);
        snprintf(what, sizeof what, "f32_from_f16 == scalar n=%zu (and out[n] untouched)", n);
        check(memcmp(g, r, (n + 1) * 4) ? 1 : 0, 0.5, what);
        free(x); free(hh); free(r); free(g);
    }
    free(h); free(back); free(ref); free(got); free(mid);
    printf("f16: %d checks, %d failures\n", checks - c0, failures - before);
}

/* GEMM on float16 packed weights: the same bits as f32_gemm_variant (variant
 * for variant) on the weights as floats, over odd shapes, with halves from
 * subnormal to large, and nothing written past n. */
static void test_gemm_f16w_shape(size_t m, size_t n, size_t k, size_t lda, size_t ldc, int with_bias, float lo, float hi) {
    char what[160];
    float *a = rand_buf(m * lda), *wf = rand_buf(k * n + n), *bf = with_bias ? wf + k * n : NULL;
    for (size_t i = 0; i < k * n + n; i++) wf[i] *= (float)ldexp(1.0, (int)(i % 29) - 20);
    uint16_t *wh = malloc((k * n + n) * 2), *packed_h = malloc(f32_gemm_packed_size(k, n) * 2);
    f16_from_f32_scalar(k * n + n, wf, wh);
    f32_from_f16_scalar(k * n + n, wh, wf);   /* the floats the halves stand for */
    float *packed = malloc(f32_gemm_packed_size(k, n) * sizeof(float));
    f32_gemm_pack(k, n, wf, bf, packed);
    f16_gemm_pack(k, n, wh, with_bias ? wh + k * n : NULL, packed_h);
    float *ref = sentinel_buf(m * ldc), *got = sentinel_buf(m * ldc);
    for (int v = F32_SCALAR; v <= F32_WASMSIMD; v++) {
        for (size_t i = 0; i < m * ldc; i++) ref[i] = got[i] = 777.0f;
        f32_gemm_variant((f32_variant)v, m, n, k, a, lda, packed, ref, ldc, lo, hi);
        f32_gemm_f16w_variant((f32_variant)v, m, n, k, a, lda, packed_h, got, ldc, lo, hi);
        snprintf(what, sizeof what, "gemm_f16w %s == f32_gemm bits m=%zu n=%zu k=%zu lda=%zu ldc=%zu",
                 v == F32_SCALAR ? "scalar" : "wasmsimd", m, n, k, lda, ldc);
        check(memcmp(got, ref, m * ldc * sizeof(float)) ? 1 : 0, 0.5, what);
    }
    for (size_t i = 0; i < m * ldc; i++) got[i] = 777.0f;
    f32_gemm_f16w(m, n, k, a, lda, packed_h, got, ldc, lo, hi);
    snprintf(what, sizeof what, "f32_gemm_f16w == f32_gemm bits m=%zu n=%zu k=%zu", m, n, k);
    check(memcmp(got, ref, m * ldc * sizeof(float)) ? 1 : 0, 0.5, what);
    check_untouched(got, m, ldc, n, what);
    free(a); free(wf); free(wh); free(packed_h); free(packed); free(ref); free(got);
}

static void test_gemm_f16w(void) {
    int before = failures, c0 = checks;
    for (size_t m = 1; m <= 9; m++)
        for (size_t n = 1; n <= 17; n += 2)
            for (size_t k = 1; k <= 13; k += 3)
                test_gemm_f16w_shape(m, n, k, k + (m % 3), n + (k % 2) * 3, (m + n) % 4 != 0,
                                     (n % 3 == 0) ? 0.0f : -INFINITY, (m % 5 == 0) ? 0.5f : INFINITY);
    test_gemm_f16w_shape(3, 5, 0, 1, 5, 1, -INFINITY, INFINITY);      /* k = 0: bias only */
    test_gemm_f16w_shape(4, 203, 1024, 1024, 203, 0, -INFINITY, INFINITY);   /* an RBF kernel column's shape */
    printf("gemm_f16w: %d checks, %d failures\n", checks - c0, failures - before);
}

/* ---- backward passes against finite differences --------------------------
 * Each op's loss is sum(r * op(params)) for a random r (softmax: the mean
 * cross-entropy), computed in double from the forward references; the
 * analytical gradient of every parameter must match central differences. */

typedef double (*loss_fn)(void *ctx);

/* Largest |numeric - analytical| over n parameters, relative to max |analytical|. */
static double fd_error(loss_fn loss, void *ctx, float *param, size_t n, const float *grad, float h) {
    double scale = 1e-30, err = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(grad[i]));
    for (size_t i = 0; i < n; i++) {
        float keep = param[i];
        param[i] = keep + h;
        double up = loss(ctx);
        param[i] = keep - h;
        double down = loss(ctx);
        param[i] = keep;
        err = fmax(err, fabs((up - down) / (2.0 * h) - grad[i]) / scale);
    }
    return err;
}

static double weighted_sum(const float *y, const float *r, size_t rows, size_t cols, size_t stride) {
    double s = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) s += (double)y[i * stride + j] * r[i * cols + j];
    return s;
}

typedef struct { f32_conv2d_shape s; size_t xs; float *x, *w, *r, *y; } conv_case;
static double conv_loss(void *p) {
    conv_case *c = p;
    size_t m = c->s.batch * f32_conv2d_out_h(&c->s) * f32_conv2d_out_w(&c->s);
    f32_conv2d_nhwc_ref(&c->s, c->x, c->xs, c->w, NULL, c->y, c->s.out_c, -INFINITY, INFINITY);
    return weighted_sum(c->y, c->r, m, c->s.out_c, c->s.out_c);
}

static void test_conv_backward_shape(f32_conv2d_shape s) {
    char what[160];
    conv_case c = {s, s.in_c + 2, NULL, NULL, NULL, NULL};
    size_t m = s.batch * f32_conv2d_out_h(&s) * f32_conv2d_out_w(&s), pixels = s.batch * s.in_h * s.in_w;
    size_t nw = s.kh * s.kw * s.in_c * s.out_c, nx = pixels * c.xs;
    c.x = rand_buf(nx); c.w = rand_buf(nw); c.r = rand_buf(m * s.out_c); c.y = malloc(m * s.out_c * sizeof(float));
    float *scratch = malloc(f32_conv2d_backward_scratch_size(&s) * sizeof(float));
    float *dw[2], *db = malloc(s.out_c * sizeof(float)), *dx[2];
    for (int v = 0; v < 2; v++) {
        dw[v] = malloc(nw * sizeof(float));
        dx[v] = calloc(nx, sizeof(float));
        f32_conv2d_backward_weights((f32_variant)v, &s, c.x, c.xs, c.r, s.out_c, dw[v], db, scratch);
        f32_conv2d_backward_input((f32_variant)v, &s, c.r, s.out_c, c.w, dx[v], c.xs, scratch);
    }
    snprintf(what, sizeof what, "conv backward %zux%zu s%zu %zux%zux%zu->%zu", s.kh, s.kw, s.stride_h, s.in_h, s.in_w, s.in_c, s.out_c);
    check(fd_error(conv_loss, &c, c.w, nw, dw[0], 0.05f), 2e-3, what);
    check(fd_error(conv_loss, &c, c.x, nx, dx[0], 0.05f), 2e-3, what);
    check(rel_err(dw[1], dw[0], 1, nw, nw), 1e-5, what);
    check(rel_err(dx[1], dx[0], 1, nx, nx), 1e-5, what);
    for (int v = 0; v < 2; v++) { free(dw[v]); free(dx[v]); }
    free(c.x); free(c.w); free(c.r); free(c.y); free(scratch); free(db);
}

typedef struct { size_t pixels, ch, xs; float *x, *scale, *shift, *r, *y; int relu; } affine_case;
static double affine_loss(void *p) {
    affine_case *c = p;
    f32_scale_shift_nhwc_scalar(c->pixels, c->ch, c->x, c->xs, c->scale, c->shift, c->y, c->ch,
                                c->relu ? 0.0f : -INFINITY, INFINITY);
    return weighted_sum(c->y, c->r, c->pixels, c->ch, c->ch);
}

/* BN affine (scale, shift, input) and, through the same case with relu = 1, ReLU. */
static void test_affine_relu_backward(size_t pixels, size_t ch) {
    affine_case c = {pixels, ch, ch + 3, rand_buf(pixels * (ch + 3)), rand_buf(ch), rand_buf(ch), rand_buf(pixels * ch),
                     malloc(pixels * ch * sizeof(float)), 0};
    for (size_t i = 0; i < ch; i++) c.scale[i] += c.scale[i] < 0 ? -0.5f : 0.5f;   /* keep outputs off the ReLU kink */
    float *dscale[2], *dshift[2], *dx[2], *gy = malloc(pixels * ch * sizeof(float));
    for (int v = 0; v < 2; v++) {
        dscale[v] = malloc(ch * sizeof(float)); dshift[v] = malloc(ch * sizeof(float));
        dx[v] = calloc(pixels * c.xs, sizeof(float));
        (v ? f32_affine_backward_wasmsimd : f32_affine_backward_scalar)(pixels, ch, c.x, c.xs, c.r, ch, c.scale,
                                                                        dx[v], c.xs, dscale[v], dshift[v]);
    }
    check(fd_error(affine_loss, &c, c.scale, ch, dscale[0], 0.05f), 2e-3, "affine backward: scale");
    check(fd_error(affine_loss, &c, c.shift, ch, dshift[0], 0.05f), 2e-3, "affine backward: shift");
    check(fd_error(affine_loss, &c, c.x, pixels * c.xs, dx[0], 0.05f), 2e-3, "affine backward: input");
    check(rel_err(dscale[1], dscale[0], 1, ch, ch) + rel_err(dshift[1], dshift[0], 1, ch, ch) +
          rel_err(dx[1], dx[0], 1, pixels * c.xs, pixels * c.xs), 0, "affine backward: simd == scalar");
    /* ReLU after the affine: the affine's dy is the ReLU's dx. */
    c.relu = 1;
    affine_loss(&c);
    float *dxr = calloc(pixels * c.xs, sizeof(float));
    f32_relu_backward(pixels, ch, c.y, ch, c.r, ch, gy, ch);
    f32_affine_backward(pixels, ch, c.x, c.xs, gy, ch, c.scale, dxr, c.xs, dscale[0], dshift[0]);
    check(fd_error(affine_loss, &c, c.x, pixels * c.xs, dxr, 1e-3f), 2e-3, "relu backward");
    for (int v = 0; v < 2; v++) { free(dscale[v]); free(dshift[v]); free(dx[v]); }
    free(dxr); free(gy); free(c.x); free(c.scale); free(c.shift); free(c.r); free(c.y);
}

typedef struct { size_t batch, pixels, ch; float *x, *r, *y; } gap_case;
static double gap_loss(void *p) {
    gap_case *c = p;
    f32_global_avgpool_nhwc_scalar(c->batch, c->pixels, c->ch, c->x, c->ch, c->y);
    return weighted_sum(c->y, c->r, c->batch, c->ch, c->ch);
}

typedef struct { size_t m, in, out; float *x, *w, *b, *r, *y; } dense_case;
static double dense_loss(void *p) {
    dense_case *c = p;
    f32_gemm_ref(c->m, c->out, c->in, c->x, c->in, c->w, c->b, c->y, c->out, -INFINITY, INFINITY);
    return weighted_sum(c->y, c->r, c->m, c->out, c->out);
}

typedef struct { size_t rows, n; float *z, *p; const int *labels; } xent_case;
static double xent_loss(void *p) {
    xent_case *c = p;
    f32_softmax_scalar(c->rows, c->n, c->z, c->p);
    double loss = 0;
    for (size_t i = 0; i < c->rows; i++) loss -= log((double)c->p[i * c->n + c->labels[i]]);
    return loss / (double)c->rows;
}

static void test_gap_dense_xent_backward(void) {
    gap_case g = {3, 5, 7, rand_buf(3 * 5 * 7), rand_buf(3 * 7), malloc(3 * 7 * sizeof(float))};
    float *dgx = malloc(3 * 5 * 7 * sizeof(float));
    f32_global_avgpool_backward(3, 5, 7, g.r, dgx, 7);
    check(fd_error(gap_loss, &g, g.x, 3 * 5 * 7, dgx, 0.05f), 2e-3, "global average pool backward");

    dense_case d = {5, 13, 11, rand_buf(5 * 13), rand_buf(13 * 11), rand_buf(11), rand_buf(5 * 11), malloc(5 * 11 * sizeof(float))};
    float *scratch = malloc(f32_matmul_scratch_size(5, 13, 11) * sizeof(float));
    float *dx[2], *dw[2], *db[2];
    for (int v = 0; v < 2; v++) {
        dx[v] = malloc(5 * 13 * sizeof(float)); dw[v] = malloc(13 * 11 * sizeof(float)); db[v] = malloc(11 * sizeof(float));
        f32_dense_backward((f32_variant)v, 5, 13, 11, d.x, d.r, d.w, dx[v], dw[v], db[v], scratch);
    }
    check(fd_error(dense_loss, &d, d.w, 13 * 11, dw[0], 0.05f), 2e-3, "dense backward: kernel");
    check(fd_error(dense_loss, &d, d.b, 11, db[0], 0.05f), 2e-3, "dense backward: bias");
    check(fd_error(dense_loss, &d, d.x, 5 * 13, dx[0], 0.05f), 2e-3, "dense backward: input");
    check(rel_err(dw[1], dw[0], 1, 143, 143) + rel_err(dx[1], dx[0], 1, 65, 65), 1e-5, "dense backward: simd");

    int labels[4] = {2, 0, 6, 3};
    xent_case x = {4, 7, rand_buf(4 * 7), malloc(4 * 7 * sizeof(float)), labels};
    float *dz = malloc(4 * 7 * sizeof(float));
    xent_loss(&x);
    double sum = f32_softmax_cross_entropy_backward(4, 7, x.p, labels, dz);
    check(fabs(sum / 4 - xent_loss(&x)), 1e-6, "softmax cross-entropy: loss");
    check(fd_error(xent_loss, &x, x.z, 4 * 7, dz, 1e-2f), 2e-3, "softmax cross-entropy backward");

    for (int v = 0; v < 2; v++) { free(dx[v]); free(dw[v]); free(db[v]); }
    free(g.x); free(g.r); free(g.y); free(dgx); free(d.x); free(d.w); free(d.b); free(d.r); free(d.y);
    free(scratch); free(x.z); free(x.p); free(dz);
}

/* Adam over n = 1..37 (every SIMD tail), three steps: the SIMD variant gives
 * the scalar's bits; the scalar follows the formula (in double) to float rounding. */
static void test_adam(void) {
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    for (size_t n = 1; n <= 37; n++) {
        float *g = rand_buf(n), *w[2], *m[2], *v[2];
        double *wr = malloc(n * sizeof(double)), *mr = calloc(n, sizeof(double)), *vr = calloc(n, sizeof(double));
        for (int k = 0; k < 2; k++) { w[k] = rand_buf(n); m[k] = calloc(n, sizeof(float)); v[k] = calloc(n, sizeof(float)); }
        memcpy(w[1], w[0], n * sizeof(float));
        for (size_t i = 0; i < n; i++) wr[i] = w[0][i];
        for (int step = 0; step < 3; step++) {
            for (size_t i = 0; i < n; i++) g[i] = frand();
            f32_adam_update_scalar(n, w[0], g, m[0], v[0], lr, b1, b2, eps);
            f32_adam_update_wasmsimd(n, w[1], g, m[1], v[1], lr, b1, b2, eps);
            for (size_t i = 0; i < n; i++) {
                mr[i] += (g[i] - mr[i]) * (1 - (double)b1);
                vr[i] += ((double)g[i] * g[i] - vr[i]) * (1 - (double)b2);
                wr[i] -= lr * mr[i] / (sqrt(vr[i]) + eps);
            }
        }
        double worst = 0;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(w[0][i] - wr[i]) / fmax(fabs(wr[i]), 1e-3));
        char what[64];
        snprintf(what, sizeof what, "adam scalar vs double n=%zu", n);
        check(worst, 1e-5, what);
        snprintf(what, sizeof what, "adam wasmsimd == scalar n=%zu", n);
        check(rel_err(w[1], w[0], 1, n, n) + rel_err(m[1], m[0], 1, n, n) + rel_err(v[1], v[0], 1, n, n), 0, what);
        for (int k = 0; k < 2; k++) { free(w[k]); free(m[k]); free(v[k]); }
        free(g); free(wr); free(mr); free(vr);
    }
}

static void test_backward(void) {
    int before = failures, c0 = checks;
    /* 1x1 pointwise (DenseNet's bottleneck), 3x3 'same' (its growth conv), a strided padded one. */
    test_conv_backward_shape((f32_conv2d_shape){2, 3, 5, 7, 9, 1, 1, 1, 1, 0, 0, 0, 0});
    test_conv_backward_shape((f32_conv2d_shape){2, 5, 3, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1});
    test_conv_backward_shape((f32_conv2d_shape){1, 7, 6, 3, 4, 3, 3, 2, 2, 1, 0, 1, 1});
    test_conv_backward_shape((f32_conv2d_shape){3, 1, 1, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1});
    test_affine_relu_backward(6, 11);
    test_affine_relu_backward(1, 3);
    test_gap_dense_xent_backward();
    test_adam();
    printf("backward: %d checks, %d failures\n", checks - c0, failures - before);
}

int main(void) {
    printf("kernels_test (SIMD: %s)\n", f32_simd_name());
    test_gemm();
    test_conv();
    test_ops();
    test_dot_axpy();
    test_f16();
    test_gemm_f16w();
    test_backward();
    if (failures) {
        printf("kernels_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("kernels_test: all %d checks passed\n", checks);
    return 0;
}
