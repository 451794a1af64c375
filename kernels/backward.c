/* backward.c — gradients of the forward kernels, for fine-tuning.
 *
 * The heavy parts (convolution and dense weight / input gradients) are
 * matrix products run on the packed GEMM: the operand that must be
 * transposed is transposed into scratch and packed like weights, so the
 * scalar / SIMD choice is the GEMM micro-kernel's (f32_variant). The
 * per-channel affine backward has a _scalar reference and a _wasmsimd
 * variant (4 channels at a time; per-channel sums keep the scalar order,
 * so both give the same bits). */
#include "kernels/kernels.h"
#include "kernels/internal.h"
#include <math.h>
#include <string.h>

/* ---- matrix products --------------------------------------------------- */

/* t[j][i] = a[i][j] for a rows x cols (row stride lda). */
static void transpose(size_t rows, size_t cols, const float *a, size_t lda, float *t) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) t[j * rows + i] = a[i * lda + j];
}

size_t f32_matmul_scratch_size(size_t m, size_t k, size_t n) {
    size_t tn = sat_add(sat_add(sat_mul(k, m), sat_mul(m, n)), f32_gemm_packed_size(m, n));
    size_t nt = sat_add(sat_mul(n, k), f32_gemm_packed_size(n, k));
    return tn > nt ? tn : nt;
}

void f32_matmul_tn(f32_variant v, size_t m, size_t k, size_t n, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc, float *scratch) {
    float *at = scratch, *bc = at + k * m, *packed = bc + m * n;
    transpose(m, k, a, lda, at);
    for (size_t i = 0; i < m; i++) copy_floats(bc + i * n, b + i * ldb, n);
    f32_gemm_pack(m, n, bc, NULL, packed);
    f32_gemm_variant(v, k, n, m, at, m, packed, c, ldc, -INFINITY, INFINITY);
}

void f32_matmul_nt(f32_variant v, size_t m, size_t k, size_t n, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc, float *scratch) {
    float *bt = scratch, *packed = bt + n * k;
    transpose(k, n, b, ldb, bt);
    f32_gemm_pack(n, k, bt, NULL, packed);
    f32_gemm_variant(v, m, k, n, a, lda, packed, c, ldc, -INFINITY, INFINITY);
}

/* ---- convolution ------------------------------------------------------- */

/* A 1x1, stride-1, unpadded convolution reads its input as the GEMM's rows. */
static int pointwise(const f32_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           !s->pad_top && !s->pad_left && !s->pad_bottom && !s->pad_right;
}

static size_t conv_rows(const f32_conv2d_shape *s) {
    return sat_mul(s->batch, sat_mul(f32_conv2d_out_h(s), f32_conv2d_out_w(s)));
}

size_t f32_conv2d_backward_scratch_size(const f32_conv2d_shape *s) {
    size_t m = conv_rows(s), k = sat_mul(sat_mul(s->kh, s->kw), s->in_c);
    return sat_add(sat_mul(m, k), f32_matmul_scratch_size(m, k, s->out_c));
}

/* The column (patch) matrix, or with add_back its transpose: col2im adds
 * each patch value back into the input pixel it came from. */
static void im2col(const f32_conv2d_shape *s, float *x, size_t x_stride, float *col, int add_back) {
    const size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s), cin = s->in_c;
    for (size_t b = 0; b < s->batch; b++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++)
                for (size_t ky = 0; ky < s->kh; ky++)
                    for (size_t kx = 0; kx < s->kw; kx++, col += cin) {
                        size_t iy = oy * s->stride_h + ky, ix = ox * s->stride_w + kx;
                        int inside = iy >= s->pad_top && iy - s->pad_top < s->in_h &&
                                     ix >= s->pad_left && ix - s->pad_left < s->in_w;
                        float *px = inside ? x + ((b * s->in_h + iy - s->pad_top) * s->in_w + ix - s->pad_left) * x_stride : NULL;
                        if (add_back) { if (px) f32_axpy(cin, 1.0f, col, px); }
                        else if (px) copy_floats(col, px, cin);
                        else zero_floats(col, cin);
                    }
}

void f32_conv2d_backward_weights(f32_variant v, const f32_conv2d_shape *s, const float *x, size_t x_stride,
                                 const float *dy, size_t dy_stride, float *dw, float *db, float *scratch) {
    size_t m = conv_rows(s), k = s->kh * s->kw * s->in_c, n = s->out_c;
    const float *col = x;
    size_t ldcol = x_stride;
    if (!pointwise(s)) {
        im2col(s, (float *)x, x_stride, scratch, 0);   /* reads x only */
        col = scratch;
        ldcol = k;
    }
    f32_matmul_tn(v, m, k, n, col, ldcol, dy, dy_stride, dw, n, scratch + m * k);
    if (db) {
        memset(db, 0, n * sizeof *db);
        for (size_t i = 0; i < m; i++) f32_axpy(n, 1.0f, dy + i * dy_stride, db);
    }
}

void f32_conv2d_backward_input(f32_variant v, const f32_conv2d_shape *s, const float *dy, size_t dy_stride,
                               const float *w, float *dx, size_t dx_stride, float *scratch) {
    size_t m = conv_rows(s), k = s->kh * s->kw * s->in_c, n = s->out_c;
    f32_matmul_nt(v, m, k, n, dy, dy_stride, w, n, scratch, k, scratch + m * k);
    if (pointwise(s))
        for (size_t i = 0; i < m; i++) f32_axpy(k, 1.0f, scratch + i * k, dx + i * dx_stride);
    else
        im2col(s, dx, dx_stride, scratch, 1);
}

/* ---- element-wise and per-channel ops ---------------------------------- */

void f32_relu_backward(size_t pixels, size_t channels, const float *y, size_t y_stride,
                       const float *dy, size_t dy_stride, float *dx, size_t dx_stride) {
    for (size_t p = 0; p < pixels; p++, y += y_stride, dy += dy_stride, dx += dx_stride)
        for (size_t c = 0; c < channels; c++) dx[c] = y[c] > 0 ? dy[c] : 0.0f;
}

void f32_affine_backward_scalar(size_t pixels, size_t channels, const float *x, size_t x_stride,
                                const float *dy, size_t dy_stride, const float *scale,
                                float *dx, size_t dx_stride, float *dscale, float *dshift) {
    for (size_t c = 0; c < channels; c++) dscale[c] = dshift[c] = 0.0f;
    for (size_t p = 0; p < pixels; p++)
        for (size_t c = 0; c < channels; c++) {
            float g = dy[p * dy_stride + c];
            dscale[c] += g * x[p * x_stride + c];
            dshift[c] += g;
            if (dx) dx[p * dx_stride + c] += g * scale[c];
        }
}

void f32_affine_backward_wasmsimd(size_t pixels, size_t channels, const float *x, size_t x_stride,
                                  const float *dy, size_t dy_stride, const float *scale,
                                  float *dx, size_t dx_stride, float *dscale, float *dshift) {
    const size_t c4 = channels & ~(size_t)3;
    for (size_t c = 0; c < c4; c += 4) {
        v128_t ds = wasm_f32x4_splat(0.0f), dh = ds, sc = wasm_v128_load(scale + c);
        for (size_t p = 0; p < pixels; p++) {
            v128_t g = wasm_v128_load(dy + p * dy_stride + c);
            ds = wasm_f32x4_add(ds, wasm_f32x4_mul(g, wasm_v128_load(x + p * x_stride + c)));
            dh = wasm_f32x4_add(dh, g);
            if (dx) {
                float *d = dx + p * dx_stride + c;
                wasm_v128_store(d, wasm_f32x4_add(wasm_v128_load(d), wasm_f32x4_mul(g, sc)));
            }
        }
        wasm_v128_store(dscale + c, ds);
        wasm_v128_store(dshift + c, dh);
    }
    if (c4 < channels)
        f32_affine_backward_scalar(pixels, channels - c4, x + c4, x_stride, dy + c4, dy_stride, scale + c4,
                                   dx ? dx + c4 : NULL, dx_stride, dscale + c4, dshift + c4);
}

void f32_affine_backward(size_t pixels, size_t channels, const float *x, size_t x_stride,
                         const float *dy, size_t dy_stride, const float *scale,
                         float *dx, size_t dx_stride, float *dscale, float *dshift) {
    f32_affine_backward_wasmsimd(pixels, channels, x, x_stride, dy, dy_stride, scale, dx, dx_stride, dscale, dshift);
}

void f32_global_avgpool_backward(size_t batch, size_t pixels, size_t channels, const float *dy,
                                 float *dx, size_t dx_stride) {
    const float inv = 1.0f / (float)pixels;
    for (size_t b = 0; b < batch; b++)
        for (size_t p = 0; p < pixels; p++, dx += dx_stride)
            for (size_t c = 0; c < channels; c++) dx[c] = dy[b * channels + c] * inv;
}

void f32_dense_backward(f32_variant v, size_t m, size_t in, size_t out, const float *x, const float *dy,
                        const float *w, float *dx, float *dw, float *db, float *scratch) {
    f32_matmul_tn(v, m, in, out, x, in, dy, out, dw, out, scratch);
    memset(db, 0, out * sizeof *db);
    for (size_t i = 0; i < m; i++) f32_axpy(out, 1.0f, dy + i * out, db);
    if (dx) f32_matmul_nt(v, m, in, out, dy, out, w, out, dx, in, scratch);
}

double f32_softmax_cross_entropy_backward(size_t rows, size_t n, const float *probs, const int *labels,
                                          float *dlogits) {
    const double eps = 1e-7;   /* Keras clips probabilities to [eps, 1 - eps] */
    double loss = 0;
    for (size_t i = 0; i < rows; i++) {
        const float *p = probs + i * n;
        float *g = dlogits + i * n;
        double py = p[labels[i]];
        loss -= log(py < eps ? eps : py > 1 - eps ? 1 - eps : py);
        for (size_t j = 0; j < n; j++) g[j] = (p[j] - (j == (size_t)labels[i])) / (float)rows;
    }
    return loss;
}

/* Adam: every parameter of a step (fine-tuning: 2.2 million) does a square
 * root and a division, slow one at a time; four lanes do the same IEEE
 * operations in the same order, so both variants give the same bits. */
void f32_adam_update_scalar(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                            float beta1, float beta2, float epsilon) {
    for (size_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * (1 - beta1);
        v[i] += (g[i] * g[i] - v[i]) * (1 - beta2);
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + epsilon);
    }
}

void f32_adam_update_wasmsimd(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                              float beta1, float beta2, float epsilon) {
    const v128_t c1 = wasm_f32x4_splat(1 - beta1), c2 = wasm_f32x4_splat(1 - beta2);
    const v128_t lr = wasm_f32x4_splat(lr_t), eps = wasm_f32x4_splat(epsilon);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t gi = wasm_v128_load(g + i), mi = wasm_v128_load(m + i), vi = wasm_v128_load(v + i);
        mi = wasm_f32x4_add(mi, wasm_f32x4_mul(wasm_f32x4_sub(gi, mi), c1));
        vi = wasm_f32x4_add(vi, wasm_f32x4_mul(wasm_f32x4_sub(wasm_f32x4_mul(gi, gi), vi), c2));
        v128_t step = wasm_f32x4_div(wasm_f32x4_mul(lr, mi), wasm_f32x4_add(wasm_f32x4_sqrt(vi), eps));
        wasm_v128_store(m + i, mi);
        wasm_v128_store(v + i, vi);
        wasm_v128_store(w + i, wasm_f32x4_sub(wasm_v128_load(w + i), step));
    }
    f32_adam_update_scalar(n - i, w + i, g + i, m + i, v + i, lr_t, beta1, beta2, epsilon);
}

void f32_adam_update(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                     float beta1, float beta2, float epsilon) {
    f32_adam_update_wasmsimd(n, w, g, m, v, lr_t, beta1, beta2, epsilon);
}
