/* winograd.c — 3x3 stride-1 convolution by Winograd F(TxT,3x3), T = 2 or 4.
 *
 * Per block of output tiles: input transform V = B^T d B of each
 * (T+2)x(T+2) input patch, then one GEMM per transform point
 * (tiles x cin) * (cin x cout) with the pre-transformed weights
 * U = G g G^T, then the output transform A^T M A, bias and clamp.
 * Transforms work on 4 channels at a time (SIMD128); channels are padded to
 * a multiple of 4 in the scratch buffers. Matrices as in Lavin & Gray 2015. */
#include "kernels/winograd.h"
#include "kernels/internal.h"
#include <string.h>

#define MAX_ALPHA 6

int f32_conv3x3_winograd_supports(const f32_conv2d_shape *s) {
    return s->kh == 3 && s->kw == 3 && s->stride_h == 1 && s->stride_w == 1 &&
           f32_conv2d_out_h(s) > 0 && f32_conv2d_out_w(s) > 0;
}

static size_t round4(size_t x) { return x > SIZE_MAX - 3 ? SIZE_MAX : (x + 3) & ~(size_t)3; }

/* ---- 1-D transforms (x, y strided by xs, ys vectors) -------------------- */

static inline __attribute__((always_inline))
void input_1d(const int T, const v128_t *x, size_t xs, v128_t *y, size_t ys) {
#define X(i) x[(i) * xs]
#define Y(i) y[(i) * ys]
    if (T == 2) {   /* B^T rows: [1 0 -1 0] [0 1 1 0] [0 -1 1 0] [0 1 0 -1] */
        Y(0) = wasm_f32x4_sub(X(0), X(2));
        Y(1) = wasm_f32x4_add(X(1), X(2));
        Y(2) = wasm_f32x4_sub(X(2), X(1));
        Y(3) = wasm_f32x4_sub(X(1), X(3));
    } else {
        const v128_t c4 = wasm_f32x4_splat(4.0f), c5 = wasm_f32x4_splat(5.0f),
                     c2 = wasm_f32x4_splat(2.0f);
        const v128_t x12 = wasm_f32x4_add(X(1), X(2)), x1m2 = wasm_f32x4_sub(X(1), X(2));
        const v128_t x34 = wasm_f32x4_add(X(3), X(4)), x4m3 = wasm_f32x4_sub(X(4), X(3));
        const v128_t x4m2 = wasm_f32x4_sub(X(4), X(2)), x3m1 = wasm_f32x4_sub(X(3), X(1));
        Y(0) = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(c4, X(0)), wasm_f32x4_mul(c5, X(2))), X(4));
        Y(1) = wasm_f32x4_sub(x34, wasm_f32x4_mul(c4, x12));
        Y(2) = wasm_f32x4_add(x4m3, wasm_f32x4_mul(c4, x1m2));
        Y(3) = wasm_f32x4_add(x4m2, wasm_f32x4_mul(c2, x3m1));
        Y(4) = wasm_f32x4_sub(x4m2, wasm_f32x4_mul(c2, x3m1));
        Y(5) = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(c4, X(1)), wasm_f32x4_mul(c5, X(3))), X(5));
    }
}

static inline __attribute__((always_inline))
void output_1d(const int T, const v128_t *x, size_t xs, v128_t *y, size_t ys) {
    if (T == 2) {   /* A^T rows: [1 1 1 0] [0 1 -1 -1] */
        Y(0) = wasm_f32x4_add(wasm_f32x4_add(X(0), X(1)), X(2));
        Y(1) = wasm_f32x4_sub(wasm_f32x4_sub(X(1), X(2)), X(3));
    } else {
        const v128_t c2 = wasm_f32x4_splat(2.0f), c4 = wasm_f32x4_splat(4.0f),
                     c8 = wasm_f32x4_splat(8.0f);
        const v128_t x12 = wasm_f32x4_add(X(1), X(2)), x1m2 = wasm_f32x4_sub(X(1), X(2));
        const v128_t x34 = wasm_f32x4_add(X(3), X(4)), x3m4 = wasm_f32x4_sub(X(3), X(4));
        Y(0) = wasm_f32x4_add(wasm_f32x4_add(X(0), x12), x34);
        Y(1) = wasm_f32x4_add(x1m2, wasm_f32x4_mul(c2, x3m4));
        Y(2) = wasm_f32x4_add(x12, wasm_f32x4_mul(c4, x34));
        Y(3) = wasm_f32x4_add(wasm_f32x4_add(x1m2, wasm_f32x4_mul(c8, x3m4)), X(5));
    }
#undef X
#undef Y
}

/* G g for one 3-vector, in double (done once at pack time). */
static void weight_1d(int T, const double g[3], double *y) {
    if (T == 2) {
        y[0] = g[0];
        y[1] = (g[0] + g[1] + g[2]) / 2;
        y[2] = (g[0] - g[1] + g[2]) / 2;
        y[3] = g[2];
    } else {
        y[0] = g[0] / 4;
        y[1] = -(g[0] + g[1] + g[2]) / 6;
        y[2] = -(g[0] - g[1] + g[2]) / 6;
        y[3] = g[0] / 24 + g[1] / 12 + g[2] / 6;
        y[4] = g[0] / 24 - g[1] / 12 + g[2] / 6;
        y[5] = g[2];
    }
}

/* ---- packing: alpha^2 GEMM-packed (cin x cout) matrices, then cout biases */

size_t f32_conv3x3_winograd_packed_size(const f32_conv2d_shape *s, int tile) {
    size_t alpha = tile + 2;
    return sat_add(sat_mul(alpha * alpha, f32_gemm_packed_size(s->in_c, s->out_c)), s->out_c);
}

void f32_conv3x3_winograd_pack(const f32_conv2d_shape *s, int tile,
                               const float *w, const float *bias, float *packed) {
    const size_t alpha = tile + 2, cin = s->in_c, cout = s->out_c;
    const size_t per_point = f32_gemm_packed_size(cin, cout);
    memset(packed, 0, alpha * alpha * per_point * sizeof(float));
    for (size_t ci = 0; ci < cin; ci++)
        for (size_t co = 0; co < cout; co++) {
            double g[3][3], t[MAX_ALPHA][3], u[MAX_ALPHA][MAX_ALPHA];
            for (size_t ky = 0; ky < 3; ky++)
                for (size_t kx = 0; kx < 3; kx++)
                    g[ky][kx] = w[((ky * 3 + kx) * cin + ci) * cout + co];
            for (size_t kx = 0; kx < 3; kx++) {          /* G g: columns */
                double col[3] = {g[0][kx], g[1][kx], g[2][kx]}, y[MAX_ALPHA];
                weight_1d(tile, col, y);
                for (size_t i = 0; i < alpha; i++) t[i][kx] = y[i];
            }
            for (size_t i = 0; i < alpha; i++) weight_1d(tile, t[i], u[i]);  /* (G g) G^T */
            for (size_t p = 0; p < alpha * alpha; p++)
                packed[p * per_point + gemm_packed_weight_index(cin, ci, co)] = (float)u[p / alpha][p % alpha];
        }
    float *b = packed + alpha * alpha * per_point;
    for (size_t co = 0; co < cout; co++) b[co] = bias ? bias[co] : 0.0f;
}

/* ---- blocking ------------------------------------------------------------ */

static size_t tiles_total(const f32_conv2d_shape *s, int tile) {
    size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
    return sat_mul(s->batch, sat_mul(oh / tile + (oh % tile != 0), ow / tile + (ow % tile != 0)));
}

/* Tiles per block: the transformed inputs and GEMM outputs of a block are
 * kept around 256 KB, so they are still in L2 for the GEMMs and the output
 * transform; at least 12 tiles (3 micro-kernel rows) per GEMM. For DenseNet's
 * 128->32 that is 12 tiles. Measured under V8: 64..1024 KB blocks about
 * equal, and this beats larger balanced blocks (one block of 16 at 14x14). */
static size_t block_tiles(const f32_conv2d_shape *s, int tile) {
    size_t alpha = tile + 2;
    size_t per_tile = sat_mul(alpha * alpha * sizeof(float), sat_add(round4(s->in_c), round4(s->out_c)));
    size_t tb = 256 * 1024 / per_tile;
    tb = tb / 4 * 4;   /* whole micro-kernel tiles */
    if (tb < 12) tb = 12;
    size_t total = tiles_total(s, tile);
    return tb < total ? tb : total;
}

size_t f32_conv3x3_winograd_scratch_size(const f32_conv2d_shape *s, int tile) {
    size_t alpha = tile + 2, tb = block_tiles(s, tile);
    size_t floats = sat_mul(alpha * alpha * tb, sat_add(round4(s->in_c), round4(s->out_c)));
    return sat_add(sat_mul(floats, sizeof(float)), 16);   /* + room to align to 16 */
}

/* ---- the convolution ----------------------------------------------------- */

static inline __attribute__((always_inline))
void winograd_run(const size_t T, const f32_conv2d_shape *s, f32_variant v,
                  const float *in, size_t in_stride, const float *packed,
                  float *out, size_t out_stride, float lo, float hi, void *scratch,
                  size_t c_begin, size_t c_end) {
    const size_t A = T + 2, P = A * A;
    const size_t cin = s->in_c, cout = s->out_c, cinp = round4(cin), coutp = round4(cout);
    const size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
    const size_t th = (oh + T - 1) / T, tw = (ow + T - 1) / T;
    const size_t total = s->batch * th * tw, tb = block_tiles(s, T);
    const size_t per_point = f32_gemm_packed_size(cin, cout);
    const float *bias = packed + P * per_point;
    const size_t panels = f32_gemm_packed_offset(cin, c_begin);   /* skipped: channels before c_begin */

    float *vbuf = (float *)(((size_t)scratch + 15) & ~(size_t)15);   /* [P][tb][cinp] */
    float *mbuf = vbuf + P * tb * cinp;                                /* [P][tb][coutp] */
    const v128_t zero = wasm_f32x4_splat(0.0f);
    const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);

    for (size_t t0 = 0; t0 < total; t0 += tb) {
        const size_t nt = total - t0 < tb ? total - t0 : tb;
        /* input transform, reading pixels in place (NULL: a padding pixel) */
        for (size_t t = 0; t < nt; t++) {
            size_t id = t0 + t, b = id / (th * tw), ty = id / tw % th, tx = id % tw;
            const float *src[MAX_ALPHA * MAX_ALPHA];
            for (size_t i = 0; i < A; i++) {
                size_t iy = ty * T + i - s->pad_top;   /* wraps around when in the padding */
                for (size_t j = 0; j < A; j++) {
                    size_t ix = tx * T + j - s->pad_left;
                    src[i * A + j] = iy < s->in_h && ix < s->in_w
                        ? in + ((b * s->in_h + iy) * s->in_w + ix) * in_stride : NULL;
                }
            }
            for (size_t c = 0; c < cinp; c += 4) {
                v128_t d[MAX_ALPHA * MAX_ALPHA], tmp[MAX_ALPHA * MAX_ALPHA];
                if (c + 4 <= cin) {
                    for (size_t p = 0; p < P; p++) d[p] = src[p] ? wasm_v128_load(src[p] + c) : zero;
                } else {   /* last, partial group of channels */
                    for (size_t p = 0; p < P; p++) {
                        float part[4] = {0, 0, 0, 0};
                        for (size_t q = 0; src[p] && c + q < cin; q++) part[q] = src[p][c + q];
                        d[p] = wasm_v128_load(part);
                    }
                }
                for (size_t j = 0; j < A; j++) input_1d(T, d + j, A, tmp + j, A);      /* columns */
                for (size_t i = 0; i < A; i++) input_1d(T, tmp + i * A, 1, d + i * A, 1); /* rows */
                for (size_t p = 0; p < P; p++) wasm_v128_store(vbuf + (p * tb + t) * cinp + c, d[p]);
            }
        }
        /* one GEMM per transform point, for channels [c_begin, c_end) */
        for (size_t p = 0; p < P; p++)
            f32_gemm_variant(v, nt, c_end - c_begin, cin, vbuf + p * tb * cinp, cinp, packed + p * per_point + panels,
                             mbuf + p * tb * coutp + c_begin, coutp, -__builtin_inff(), __builtin_inff());
        /* output transform, bias, clamp */
        for (size_t t = 0; t < nt; t++) {
            size_t id = t0 + t, b = id / (th * tw), ty = id / tw % th, tx = id % tw;
            for (size_t c = c_begin; c < c_end; c += 4) {
                v128_t m[MAX_ALPHA * MAX_ALPHA], tmp[MAX_ALPHA * MAX_ALPHA], o[16];
                for (size_t p = 0; p < P; p++) m[p] = wasm_v128_load(mbuf + (p * tb + t) * coutp + c);
                for (size_t j = 0; j < A; j++) output_1d(T, m + j, A, tmp + j, A);      /* columns */
                for (size_t i = 0; i < T; i++) output_1d(T, tmp + i * A, 1, o + i * T, 1); /* rows */
                float bb[4] = {0, 0, 0, 0};
                size_t nc = c_end - c < 4 ? c_end - c : 4;
                for (size_t q = 0; q < nc; q++) bb[q] = bias[c + q];
                const v128_t vb = wasm_v128_load(bb);
                for (size_t i = 0; i < T; i++) {
                    size_t y = ty * T + i;
                    if (y >= oh) break;
                    for (size_t j = 0; j < T; j++) {
                        size_t x = tx * T + j;
                        if (x >= ow) break;
                        v128_t r = wasm_f32x4_add(o[i * T + j], vb);
                        r = wasm_f32x4_pmin(vhi, wasm_f32x4_pmax(vlo, r));
                        float *dst = out + ((b * oh + y) * ow + x) * out_stride + c;
                        if (nc == 4) {
                            wasm_v128_store(dst, r);
                        } else {
                            float part[4];
                            wasm_v128_store(part, r);
                            for (size_t q = 0; q < nc; q++) dst[q] = part[q];
                        }
                    }
                }
            }
        }
    }
}

void f32_conv3x3_winograd(const f32_conv2d_shape *s, int tile, f32_variant v,
                          const float *in, size_t in_stride, const float *packed,
                          float *out, size_t out_stride,
                          float output_min, float output_max, void *scratch, size_t c_begin, size_t c_end) {
    if (tile == 2)
        winograd_run(2, s, v, in, in_stride, packed, out, out_stride, output_min, output_max, scratch, c_begin, c_end);
    else
        winograd_run(4, s, v, in, in_stride, packed, out, out_stride, output_min, output_max, scratch, c_begin, c_end);
}
