/* ops.c — per-channel affine + clamp, pooling, softmax.
 *
 * The _wasmsimd variants do 4 channels at a time and hand the remaining
 * channels (channels % 4) to the _scalar reference on a narrower slice. */
#include "kernels/kernels.h"
#include "kernels/simd128.h"
#include <math.h>

static inline float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- scale/shift ------------------------------------------------------- */

void f32_scale_shift_nhwc_scalar(size_t pixels, size_t channels, const float *in, size_t in_stride,
                                 const float *scale, const float *shift, float *out, size_t out_stride,
                                 float output_min, float output_max) {
    for (size_t p = 0; p < pixels; p++, in += in_stride, out += out_stride)
        for (size_t c = 0; c < channels; c++)
            out[c] = clampf(in[c] * scale[c] + shift[c], output_min, output_max);
}

void f32_scale_shift_nhwc_wasmsimd(size_t pixels, size_t channels, const float *in, size_t in_stride,
                                   const float *scale, const float *shift, float *out, size_t out_stride,
                                   float output_min, float output_max) {
    const size_t c4 = channels & ~(size_t)3;
    const v128_t vlo = wasm_f32x4_splat(output_min), vhi = wasm_f32x4_splat(output_max);
    for (size_t p = 0; p < pixels; p++) {
        const float *x = in + p * in_stride;
        float *y = out + p * out_stride;
        for (size_t c = 0; c < c4; c += 4) {
            v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + c), wasm_v128_load(scale + c)),
                                      wasm_v128_load(shift + c));
            wasm_v128_store(y + c, wasm_f32x4_pmin(vhi, wasm_f32x4_pmax(vlo, v)));
        }
    }
    if (c4 < channels)
        f32_scale_shift_nhwc_scalar(pixels, channels - c4, in + c4, in_stride, scale + c4, shift + c4,
                                    out + c4, out_stride, output_min, output_max);
}

void f32_scale_shift_nhwc(size_t pixels, size_t channels, const float *in, size_t in_stride,
                          const float *scale, const float *shift, float *out, size_t out_stride,
                          float output_min, float output_max) {
    f32_scale_shift_nhwc_wasmsimd(pixels, channels, in, in_stride, scale, shift, out, out_stride,
                                  output_min, output_max);
}

/* ---- 2-D pooling ------------------------------------------------------- */

static size_t pool_out(size_t in, size_t pool, size_t stride) {
    return (pool == 0 || stride == 0 || in < pool) ? 0 : (in - pool) / stride + 1;
}

/* One scalar body for max and average. */
static void pool2d_scalar(const f32_pool2d_shape *s, int is_max, const float *in, size_t in_stride,
                          float *out, size_t out_stride) {
    const size_t oh = pool_out(s->in_h, s->pool_h, s->stride_h), ow = pool_out(s->in_w, s->pool_w, s->stride_w);
    const float count = (float)(s->pool_h * s->pool_w);
    for (size_t b = 0; b < s->batch; b++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++) {
                float *o = out + ((b * oh + oy) * ow + ox) * out_stride;
                for (size_t c = 0; c < s->channels; c++) {
                    float acc = is_max ? -INFINITY : 0.0f;
                    for (size_t ky = 0; ky < s->pool_h; ky++)
                        for (size_t kx = 0; kx < s->pool_w; kx++) {
                            float x = in[((b * s->in_h + oy * s->stride_h + ky) * s->in_w +
                                          ox * s->stride_w + kx) * in_stride + c];
                            acc = is_max ? (acc < x ? x : acc) : acc + x;
                        }
                    o[c] = is_max ? acc : acc / count;
                }
            }
}

static void pool2d_wasmsimd(const f32_pool2d_shape *s, int is_max, const float *in, size_t in_stride,
                            float *out, size_t out_stride) {
    const size_t oh = pool_out(s->in_h, s->pool_h, s->stride_h), ow = pool_out(s->in_w, s->pool_w, s->stride_w);
    const size_t c4 = s->channels & ~(size_t)3;
    const v128_t vcount = wasm_f32x4_splat((float)(s->pool_h * s->pool_w));
    for (size_t b = 0; b < s->batch; b++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++) {
                float *o = out + ((b * oh + oy) * ow + ox) * out_stride;
                const float *base = in + ((b * s->in_h + oy * s->stride_h) * s->in_w + ox * s->stride_w) * in_stride;
                for (size_t c = 0; c < c4; c += 4) {
                    v128_t acc = wasm_f32x4_splat(is_max ? -INFINITY : 0.0f);
                    for (size_t ky = 0; ky < s->pool_h; ky++)
                        for (size_t kx = 0; kx < s->pool_w; kx++) {
                            v128_t x = wasm_v128_load(base + (ky * s->in_w + kx) * in_stride + c);
                            acc = is_max ? wasm_f32x4_pmax(acc, x) : wasm_f32x4_add(acc, x);
                        }
                    wasm_v128_store(o + c, is_max ? acc : wasm_f32x4_div(acc, vcount));
                }
            }
    if (c4 < s->channels) {
        f32_pool2d_shape rest = *s;
        rest.channels = s->channels - c4;
        pool2d_scalar(&rest, is_max, in + c4, in_stride, out + c4, out_stride);
    }
}

void f32_maxpool2d_nhwc_scalar(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                               float *out, size_t out_stride) { pool2d_scalar(s, 1, in, in_stride, out, out_stride); }
void f32_maxpool2d_nhwc_wasmsimd(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                                 float *out, size_t out_stride) { pool2d_wasmsimd(s, 1, in, in_stride, out, out_stride); }
void f32_avgpool2d_nhwc_scalar(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                               float *out, size_t out_stride) { pool2d_scalar(s, 0, in, in_stride, out, out_stride); }
void f32_avgpool2d_nhwc_wasmsimd(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                                 float *out, size_t out_stride) { pool2d_wasmsimd(s, 0, in, in_stride, out, out_stride); }
void f32_maxpool2d_nhwc(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                        float *out, size_t out_stride) { pool2d_wasmsimd(s, 1, in, in_stride, out, out_stride); }
void f32_avgpool2d_nhwc(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                        float *out, size_t out_stride) { pool2d_wasmsimd(s, 0, in, in_stride, out, out_stride); }

/* ---- global pooling: out[b][c] over all pixels of image b ---------------- */

static void global_pool_scalar(size_t batch, size_t pixels, size_t channels, int is_max,
                               const float *in, size_t in_stride, float *out, size_t out_stride) {
    for (size_t b = 0; b < batch; b++)
        for (size_t c = 0; c < channels; c++) {
            float acc = is_max ? -INFINITY : 0.0f;
            for (size_t p = 0; p < pixels; p++) {
                float x = in[(b * pixels + p) * in_stride + c];
                acc = is_max ? (acc < x ? x : acc) : acc + x;
            }
            out[b * out_stride + c] = is_max ? acc : (pixels ? acc / (float)pixels : 0.0f);
        }
}

static void global_pool_wasmsimd(size_t batch, size_t pixels, size_t channels, int is_max,
                                 const float *in, size_t in_stride, float *out) {
    const size_t c4 = channels & ~(size_t)3;
    const v128_t vcount = wasm_f32x4_splat((float)pixels);
    for (size_t b = 0; b < batch; b++)
        for (size_t c = 0; c < c4; c += 4) {
            v128_t acc = wasm_f32x4_splat(is_max ? -INFINITY : 0.0f);
            for (size_t p = 0; p < pixels; p++) {
                v128_t x = wasm_v128_load(in + (b * pixels + p) * in_stride + c);
                acc = is_max ? wasm_f32x4_pmax(acc, x) : wasm_f32x4_add(acc, x);
            }
            if (!is_max) acc = pixels ? wasm_f32x4_div(acc, vcount) : wasm_f32x4_splat(0.0f);
            wasm_v128_store(out + b * channels + c, acc);
        }
    if (c4 < channels)
        global_pool_scalar(batch, pixels, channels - c4, is_max, in + c4, in_stride, out + c4, channels);
}

void f32_global_avgpool_nhwc_scalar(size_t batch, size_t pixels, size_t channels,
                                    const float *in, size_t in_stride, float *out) {
    global_pool_scalar(batch, pixels, channels, 0, in, in_stride, out, channels);
}
void f32_global_avgpool_nhwc_wasmsimd(size_t batch, size_t pixels, size_t channels,
                                      const float *in, size_t in_stride, float *out) {
    global_pool_wasmsimd(batch, pixels, channels, 0, in, in_stride, out);
}
void f32_global_maxpool_nhwc_scalar(size_t batch, size_t pixels, size_t channels,
                                    const float *in, size_t in_stride, float *out) {
    global_pool_scalar(batch, pixels, channels, 1, in, in_stride, out, channels);
}
void f32_global_maxpool_nhwc_wasmsimd(size_t batch, size_t pixels, size_t channels,
                                      const float *in, size_t in_stride, float *out) {
    global_pool_wasmsimd(batch, pixels, channels, 1, in, in_stride, out);
}
void f32_global_avgpool_nhwc(size_t batch, size_t pixels, size_t channels,
                             const float *in, size_t in_stride, float *out) {
    global_pool_wasmsimd(batch, pixels, channels, 0, in, in_stride, out);
}
void f32_global_maxpool_nhwc(size_t batch, size_t pixels, size_t channels,
                             const float *in, size_t in_stride, float *out) {
    global_pool_wasmsimd(batch, pixels, channels, 1, in, in_stride, out);
}

/* ---- softmax: y = exp(x - max) / sum, as Keras/TF ------------------------ */

void f32_softmax_scalar(size_t rows, size_t n, const float *in, float *out) {
    for (size_t r = 0; r < rows; r++, in += n, out += n) {
        if (n == 0) continue;
        float mx = in[0], sum = 0.0f;
        for (size_t i = 1; i < n; i++) mx = mx < in[i] ? in[i] : mx;
        for (size_t i = 0; i < n; i++) sum += out[i] = expf(in[i] - mx);
        for (size_t i = 0; i < n; i++) out[i] /= sum;
    }
}

/* SIMD for the max and the division; exp stays libm's expf for accuracy
 * (softmax is ~1000 values once per image, not worth an approximation). */
void f32_softmax_wasmsimd(size_t rows, size_t n, const float *in, float *out) {
    const size_t n4 = n & ~(size_t)3;
    for (size_t r = 0; r < rows; r++, in += n, out += n) {
        if (n == 0) continue;
        float mx = in[0], sum = 0.0f;
        if (n4) {
            v128_t vmx = wasm_v128_load(in);
            for (size_t i = 4; i < n4; i += 4) vmx = wasm_f32x4_pmax(vmx, wasm_v128_load(in + i));
            float l[4];
            wasm_v128_store(l, vmx);
            mx = l[0];
            for (int j = 1; j < 4; j++) mx = mx < l[j] ? l[j] : mx;
        }
        for (size_t i = n4; i < n; i++) mx = mx < in[i] ? in[i] : mx;
        for (size_t i = 0; i < n; i++) sum += out[i] = expf(in[i] - mx);
        const v128_t vsum = wasm_f32x4_splat(sum);
        for (size_t i = 0; i < n4; i += 4) wasm_v128_store(out + i, wasm_f32x4_div(wasm_v128_load(out + i), vsum));
        for (size_t i = n4; i < n; i++) out[i] /= sum;
    }
}

void f32_softmax(size_t rows, size_t n, const float *in, float *out) {
    f32_softmax_wasmsimd(rows, n, in, out);
}

/* ---- dot product and axpy (the SVM solvers' inner loops) ----------------- */

float f32_dot_scalar(size_t n, const float *a, const float *b) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Four accumulators of 4 lanes hide the add latency; the summation order is
 * fixed (the SVMs' results depend on it bit for bit). */
float f32_dot_wasmsimd(size_t n, const float *a, const float *b) {
    size_t i = 0;
    v128_t s0 = wasm_f32x4_splat(0.0f), s1 = s0, s2 = s0, s3 = s0;
    for (; i + 16 <= n; i += 16) {
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
        s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8)));
        s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4) s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    float t[4];
    wasm_v128_store(t, wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
    float s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float f32_dot(size_t n, const float *a, const float *b) { return f32_dot_wasmsimd(n, a, b); }

void f32_axpy_scalar(size_t n, float alpha, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void f32_axpy_wasmsimd(size_t n, float alpha, const float *x, float *y) {
    size_t i = 0;
    const v128_t va = wasm_f32x4_splat(alpha);
    for (; i + 8 <= n; i += 8) {
        wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
        wasm_v128_store(y + i + 4, wasm_f32x4_add(wasm_v128_load(y + i + 4), wasm_f32x4_mul(va, wasm_v128_load(x + i + 4))));
    }
    f32_axpy_scalar(n - i, alpha, x + i, y + i);
}

void f32_axpy(size_t n, float alpha, const float *x, float *y) { f32_axpy_wasmsimd(n, alpha, x, y); }
