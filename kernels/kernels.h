/* kernels.h — f32 compute micro-kernels for DenseLab.
 *
 * Layout: activations are NHWC float32. A "pixel stride" (in floats) lets a
 * kernel read or write a channel slice of a wider buffer, which is how
 * DenseNet's concatenations are done without copies.
 *
 * Every kernel has a plain scalar reference (suffix _scalar) and a SIMD128
 * variant (suffix _wasmsimd; WASM SIMD128, and natively the same source
 * through kernels/simd128.h). The unsuffixed entry points below dispatch to
 * the fastest variant built in; tests compare each variant to its reference.
 *
 * Clamping: every producer takes output_min/output_max (fused activation:
 * relu = [0, +inf), none = [-inf, +inf)), as in XNNPACK.
 */
#ifndef DENSELAB_KERNELS_H
#define DENSELAB_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- GEMM with packed weights ------------------------------------------
 * C[m][n] = clamp(sum_k A[m][k] * W[k][n] + bias[n])
 * A: m rows of k floats, row stride lda (>= k).
 * W: k x n row-major (Keras Dense kernel [in,out]; a Conv2D kernel
 *    [kh,kw,cin,cout] is the same thing with k = kh*kw*cin).
 * bias may be NULL (zeros). Packing is done once at model build time.
 * The *_size functions return SIZE_MAX when the size does not fit in size_t
 * (32-bit in WebAssembly): callers refuse it rather than allocate. */
size_t f32_gemm_packed_size(size_t k, size_t n);            /* in floats */
/* The packed weights are panels of F32_GEMM_NR columns, each on its own: a
 * GEMM over columns [col, n) (col a multiple of F32_GEMM_NR) reads the packed
 * weights from f32_gemm_packed_offset(k, col) floats on, and panels can be
 * packed one at a time there (f32_gemm_pack with n = F32_GEMM_NR). */
#define F32_GEMM_NR 8
static inline size_t f32_gemm_packed_offset(size_t k, size_t col) {
    return col / F32_GEMM_NR * (F32_GEMM_NR * (k + 1));
}
void   f32_gemm_pack(size_t k, size_t n, const float *w, const float *bias, float *packed);
void   f32_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda,
                const float *packed, float *c, size_t ldc,
                float output_min, float output_max);
/* Reference on unpacked weights (what the tests compare against). */
void   f32_gemm_ref(size_t m, size_t n, size_t k, const float *a, size_t lda,
                    const float *w, const float *bias, float *c, size_t ldc,
                    float output_min, float output_max);

/* ---- 2-D convolution, NHWC ---------------------------------------------
 * Weights packed with f32_conv2d_pack (from Keras [kh,kw,cin,cout]).
 * Padding is explicit per side (Keras 'same' and ZeroPadding2D both map
 * onto it); padded taps read zeros. */
typedef struct {
    size_t batch, in_h, in_w, in_c;
    size_t out_c;
    size_t kh, kw, stride_h, stride_w;
    size_t pad_top, pad_left, pad_bottom, pad_right;
} f32_conv2d_shape;

size_t f32_conv2d_out_h(const f32_conv2d_shape *s);
size_t f32_conv2d_out_w(const f32_conv2d_shape *s);
size_t f32_conv2d_packed_size(const f32_conv2d_shape *s);   /* in floats */
void   f32_conv2d_pack(const f32_conv2d_shape *s, const float *w, const float *bias, float *packed);
size_t f32_conv2d_scratch_size(const f32_conv2d_shape *s);  /* in bytes, may be 0 */
void   f32_conv2d_nhwc(const f32_conv2d_shape *s,
                       const float *in, size_t in_stride,
                       const float *packed,
                       float *out, size_t out_stride,
                       float output_min, float output_max, void *scratch);
void   f32_conv2d_nhwc_ref(const f32_conv2d_shape *s,
                           const float *in, size_t in_stride,
                           const float *w, const float *bias,
                           float *out, size_t out_stride,
                           float output_min, float output_max);

/* ---- Per-channel affine + clamp (inference BatchNorm, fused ReLU) -------
 * out[p][c] = clamp(in[p][c] * scale[c] + shift[c]) for p < pixels. */
void f32_scale_shift_nhwc(size_t pixels, size_t channels,
                          const float *in, size_t in_stride,
                          const float *scale, const float *shift,
                          float *out, size_t out_stride,
                          float output_min, float output_max);

/* ---- Pooling, NHWC (valid padding, as DenseNet uses) --------------------- */
typedef struct {
    size_t batch, in_h, in_w, channels;
    size_t pool_h, pool_w, stride_h, stride_w;
} f32_pool2d_shape;   /* out = (in - pool) / stride + 1 */

void f32_maxpool2d_nhwc(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                        float *out, size_t out_stride);
void f32_avgpool2d_nhwc(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                        float *out, size_t out_stride);
/* Global pooling: per image, pixels x channels -> channels. out is batch x channels. */
void f32_global_avgpool_nhwc(size_t batch, size_t pixels, size_t channels,
                             const float *in, size_t in_stride, float *out);
void f32_global_maxpool_nhwc(size_t batch, size_t pixels, size_t channels,
                             const float *in, size_t in_stride, float *out);

/* ---- Softmax over rows of n (numerically stable, in place allowed) ------- */
void f32_softmax(size_t rows, size_t n, const float *in, float *out);

/* ---- Dot product and y += alpha x over n floats ----------------------------- */
float f32_dot(size_t n, const float *a, const float *b);
void  f32_axpy(size_t n, float alpha, const float *x, float *y);

/* ---- Variants, for tests and benchmarks ---------------------------------
 * The entry points above pick the fastest variant; these name one. */
typedef enum { F32_SCALAR = 0, F32_WASMSIMD = 1 } f32_variant;

/* GEMM micro-kernel: one tile of C, mr <= MR rows by nc <= 8 columns, from one
 * packed panel w (8 biases, then kc rows of 8 weights). */
typedef void (*f32_gemm_ukernel)(size_t mr, size_t nc, size_t kc,
                                 const float *a, size_t lda, const float *w,
                                 float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_4x8_scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                         const float *w, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_4x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                           const float *w, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_5x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                           const float *w, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_6x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                           const float *w, float *c, size_t ldc, float output_min, float output_max);
/* Whole GEMM driven by one micro-kernel of MR rows. */
void f32_gemm_with(f32_gemm_ukernel ukernel, size_t mr_max,
                   size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const float *packed, float *c, size_t ldc,
                   float output_min, float output_max);
void f32_gemm_variant(f32_variant v, size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const float *packed, float *c, size_t ldc,
                      float output_min, float output_max);

/* Convolution algorithms. F32_CONV_GEMM: 1x1, stride 1, no padding, pixels
 * are GEMM rows. F32_CONV_IM2COL: any shape, im2col in L2-sized row blocks.
 * F32_CONV_WINOGRAD_2X2 / _4X4: 3x3 stride 1 only, Winograd F(2x2,3x3) or
 * F(4x4,3x3): 2.25x / 4x fewer multiplies, rounding error up to ~1e-6 /
 * ~1e-5 of the largest output (vs ~1e-7 direct).
 * f32_conv2d_choose (what the unsuffixed entry points use): GEMM for 1x1,
 * F(4x4) for 3x3 stride 1 with >= 16 input and >= 8 output channels when
 * the output is large enough for whole 4x4 tiles to pay, else IM2COL.
 * The packed weights depend on the algorithm. f32_conv2d_pack_algo and
 * f32_conv2d_nhwc_algo return a reason (and write nothing) if the algorithm
 * does not support the shape, NULL otherwise. */
typedef enum {
    F32_CONV_GEMM = 0, F32_CONV_IM2COL = 1, F32_CONV_WINOGRAD_2X2 = 2, F32_CONV_WINOGRAD_4X4 = 3
} f32_conv2d_algo;
f32_conv2d_algo f32_conv2d_choose(const f32_conv2d_shape *s);
/* A convolution of one input pixel to one output pixel (DenseNet's 3x3
 * 'same' convolutions on 1x1 maps at 32x32 inputs) reads one tap of its
 * kernel, the rest being padding: it is the 1x1 convolution (F32_CONV_GEMM)
 * on that tap's weights, kh*kw times fewer multiplies, and sums the same
 * non-zero terms in the same order as im2col. Returns 1 and writes that
 * shape and where the tap starts in the Keras [kh][kw][cin][cout] kernel (in
 * floats: pack from w + *tap_offset), or 0 for any other shape. */
int f32_conv2d_single_tap(const f32_conv2d_shape *s, f32_conv2d_shape *pointwise, size_t *tap_offset);
int    f32_conv2d_algo_supports(const f32_conv2d_shape *s, f32_conv2d_algo algo);
size_t f32_conv2d_packed_size_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo);
const char *f32_conv2d_pack_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo,
                                 const float *w, const float *bias, float *packed);
size_t f32_conv2d_scratch_size_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo);
const char *f32_conv2d_nhwc_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo, f32_variant v,
                                 const float *in, size_t in_stride, const float *packed,
                                 float *out, size_t out_stride,
                                 float output_min, float output_max, void *scratch);
/* Output channels [c_begin, c_end) only (c_begin a multiple of 8), for splitting
 * one convolution over threads by channels: each value is computed exactly as
 * in the whole call (bit-identical); the im2col rows or Winograd input
 * transforms are done whole by every part. A reason for a bad range. */
const char *f32_conv2d_nhwc_channels(const f32_conv2d_shape *s, f32_conv2d_algo algo, f32_variant v,
                                     const float *in, size_t in_stride, const float *packed,
                                     float *out, size_t out_stride,
                                     float output_min, float output_max, void *scratch,
                                     size_t c_begin, size_t c_end);

void f32_scale_shift_nhwc_scalar(size_t pixels, size_t channels, const float *in, size_t in_stride,
                                 const float *scale, const float *shift, float *out, size_t out_stride,
                                 float output_min, float output_max);
void f32_scale_shift_nhwc_wasmsimd(size_t pixels, size_t channels, const float *in, size_t in_stride,
                                   const float *scale, const float *shift, float *out, size_t out_stride,
                                   float output_min, float output_max);
void f32_maxpool2d_nhwc_scalar(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                               float *out, size_t out_stride);
void f32_maxpool2d_nhwc_wasmsimd(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                                 float *out, size_t out_stride);
void f32_avgpool2d_nhwc_scalar(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                               float *out, size_t out_stride);
void f32_avgpool2d_nhwc_wasmsimd(const f32_pool2d_shape *s, const float *in, size_t in_stride,
                                 float *out, size_t out_stride);
void f32_global_avgpool_nhwc_scalar(size_t batch, size_t pixels, size_t channels,
                                    const float *in, size_t in_stride, float *out);
void f32_global_avgpool_nhwc_wasmsimd(size_t batch, size_t pixels, size_t channels,
                                      const float *in, size_t in_stride, float *out);
void f32_global_maxpool_nhwc_scalar(size_t batch, size_t pixels, size_t channels,
                                    const float *in, size_t in_stride, float *out);
void f32_global_maxpool_nhwc_wasmsimd(size_t batch, size_t pixels, size_t channels,
                                      const float *in, size_t in_stride, float *out);
void f32_softmax_scalar(size_t rows, size_t n, const float *in, float *out);
void f32_softmax_wasmsimd(size_t rows, size_t n, const float *in, float *out);
float f32_dot_scalar(size_t n, const float *a, const float *b);
float f32_dot_wasmsimd(size_t n, const float *a, const float *b);
void  f32_axpy_scalar(size_t n, float alpha, const float *x, float *y);
void  f32_axpy_wasmsimd(size_t n, float alpha, const float *x, float *y);

/* ---- Backward passes (kernels/backward.c), for fine-tuning ---------------
 * Matrix products of backward passes, on the packed GEMM (v picks its
 * micro-kernel); scratch holds f32_matmul_scratch_size(m, k, n) floats:
 *   f32_matmul_tn: C[k][n] = A^T B   (A [m][k] stride lda, B [m][n] stride ldb)
 *   f32_matmul_nt: C[m][k] = A B^T   (A [m][n] stride lda, B [k][n] stride ldb) */
size_t f32_matmul_scratch_size(size_t m, size_t k, size_t n);   /* floats; SIZE_MAX if too large */
void f32_matmul_tn(f32_variant v, size_t m, size_t k, size_t n, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc, float *scratch);
void f32_matmul_nt(f32_variant v, size_t m, size_t k, size_t n, const float *a, size_t lda,
                   const float *b, size_t ldb, float *c, size_t ldc, float *scratch);
/* Convolution gradients; w and dw are unpacked Keras [kh][kw][in_c][out_c];
 * dy is the output's gradient (pixels of out_c, stride dy_stride). Scratch:
 * f32_conv2d_backward_scratch_size floats. _weights writes dw and db (column
 * sums of dy; may be NULL); _input ADDS the input's gradient into dx (a
 * DenseNet block's inputs are slices of one buffer, read by several layers). */
size_t f32_conv2d_backward_scratch_size(const f32_conv2d_shape *s);
void f32_conv2d_backward_weights(f32_variant v, const f32_conv2d_shape *s, const float *x, size_t x_stride,
                                 const float *dy, size_t dy_stride, float *dw, float *db, float *scratch);
void f32_conv2d_backward_input(f32_variant v, const f32_conv2d_shape *s, const float *dy, size_t dy_stride,
                               const float *w, float *dx, size_t dx_stride, float *scratch);
/* ReLU: dx = y > 0 ? dy : 0, from the ReLU's output y (in place allowed). */
void f32_relu_backward(size_t pixels, size_t channels, const float *y, size_t y_stride,
                       const float *dy, size_t dy_stride, float *dx, size_t dx_stride);
/* Per-channel affine y = x * scale + shift (inference BatchNorm): dscale =
 * sum over pixels of dy * x, dshift = sum of dy (both written), and dx +=
 * dy * scale (added; dx may be NULL). */
void f32_affine_backward(size_t pixels, size_t channels, const float *x, size_t x_stride,
                         const float *dy, size_t dy_stride, const float *scale,
                         float *dx, size_t dx_stride, float *dscale, float *dshift);
void f32_affine_backward_scalar(size_t pixels, size_t channels, const float *x, size_t x_stride,
                                const float *dy, size_t dy_stride, const float *scale,
                                float *dx, size_t dx_stride, float *dscale, float *dshift);
void f32_affine_backward_wasmsimd(size_t pixels, size_t channels, const float *x, size_t x_stride,
                                  const float *dy, size_t dy_stride, const float *scale,
                                  float *dx, size_t dx_stride, float *dscale, float *dshift);
/* Global average pooling: dx[b][p][c] = dy[b][c] / pixels (written). The
 * gradient of a channel concatenation is its slices: no kernel. */
void f32_global_avgpool_backward(size_t batch, size_t pixels, size_t channels, const float *dy,
                                 float *dx, size_t dx_stride);
/* Dense y = x w + b over m rows (x [m][in], w [in][out]): dw, db written,
 * dx [m][in] written unless NULL. Scratch: f32_matmul_scratch_size(m, in, out). */
void f32_dense_backward(f32_variant v, size_t m, size_t in, size_t out, const float *x, const float *dy,
                        const float *w, float *dx, float *dw, float *db, float *scratch);
/* Softmax + categorical cross-entropy over rows of n probabilities: returns
 * the summed loss (probabilities clipped to [1e-7, 1 - 1e-7], as Keras prints
 * it) and writes the mean loss's gradient with respect to the logits,
 * (p - onehot) / rows (as Keras trains a softmax output: from its logits,
 * unclipped). dlogits may be probs. */
double f32_softmax_cross_entropy_backward(size_t rows, size_t n, const float *probs, const int *labels,
                                          float *dlogits);
/* One Keras Adam step: m += (g - m)(1 - beta1), v += (g^2 - v)(1 - beta2),
 * w -= lr_t m / (sqrt(v) + epsilon), lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t). */
void f32_adam_update(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                     float beta1, float beta2, float epsilon);
void f32_adam_update_scalar(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                            float beta1, float beta2, float epsilon);
void f32_adam_update_wasmsimd(size_t n, float *w, const float *g, float *m, float *v, float lr_t,
                              float beta1, float beta2, float epsilon);

/* ---- float16 storage (kernels/f16.c) --------------------------------------
 * Halves are IEEE binary16 as uint16_t bits. f32_from_f16 is exact (subnormals,
 * infinities; a NaN stays a NaN); f16_from_f32 rounds to nearest, ties to
 * even, overflows to infinity and keeps NaN a NaN. */
void f32_from_f16(size_t n, const uint16_t *in, float *out);
void f16_from_f32(size_t n, const float *in, uint16_t *out);
void f32_from_f16_scalar(size_t n, const uint16_t *in, float *out);
void f32_from_f16_wasmsimd(size_t n, const uint16_t *in, float *out);
void f16_from_f32_scalar(size_t n, const float *in, uint16_t *out);
void f16_from_f32_wasmsimd(size_t n, const float *in, uint16_t *out);

/* GEMM with float16 packed weights: f32_gemm_pack's layout (same offsets,
 * f32_gemm_packed_offset, counted in halves) holding halves, for weights that
 * are halves already (half the bytes: the RBF SVM's panels of float16 rows).
 * The same bits as f32_gemm (and f32_gemm_variant) on the weights as floats. */
void f16_gemm_pack(size_t k, size_t n, const uint16_t *w, const uint16_t *bias, uint16_t *packed);
void f32_gemm_f16w(size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const uint16_t *packed, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_f16w_variant(f32_variant v, size_t m, size_t n, size_t k, const float *a, size_t lda,
                           const uint16_t *packed, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_f16w_4x8_scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                              const uint16_t *w, float *c, size_t ldc, float output_min, float output_max);
void f32_gemm_f16w_4x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                                const uint16_t *w, float *c, size_t ldc, float output_min, float output_max);

/* Which SIMD the _wasmsimd variants compile to here: "wasm-simd128", "sse2"
 * or "scalar-emulation". */
const char *f32_simd_name(void);

#ifdef __cplusplus
}
#endif
#endif
