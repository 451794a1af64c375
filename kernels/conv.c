/* conv.c — 2-D convolution, NHWC, on top of the packed GEMM.
 *
 * 1x1 stride-1 unpadded convolutions are a GEMM over pixels as they lie.
 * Others go through im2col, one block of output pixels at a time so the
 * im2col rows stay in L2 (measured faster than one big buffer). 3x3
 * stride-1 ones may use Winograd (winograd.c). */
#include "kernels/kernels.h"
#include "kernels/winograd.h"
#include "kernels/internal.h"

static size_t out_dim(size_t in, size_t pad0, size_t pad1, size_t kernel, size_t stride) {
    size_t padded = sat_add(sat_add(in, pad0), pad1);
    if (kernel == 0 || stride == 0 || padded == SIZE_MAX || padded < kernel) return 0;
    return (padded - kernel) / stride + 1;
}
size_t f32_conv2d_out_h(const f32_conv2d_shape *s) {
    return out_dim(s->in_h, s->pad_top, s->pad_bottom, s->kh, s->stride_h);
}
size_t f32_conv2d_out_w(const f32_conv2d_shape *s) {
    return out_dim(s->in_w, s->pad_left, s->pad_right, s->kw, s->stride_w);
}

static int is_pointwise(const f32_conv2d_shape *s) {
    return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_top == 0 && s->pad_left == 0 && s->pad_bottom == 0 && s->pad_right == 0;
}

static int wino_tile(f32_conv2d_algo algo) { return algo == F32_CONV_WINOGRAD_2X2 ? 2 : 4; }

/* Winograd computes whole output tiles: skip it when padding the output up to
 * tiles wastes too much, or channels are too few for the transforms to pay. */
static int winograd_worth_it(const f32_conv2d_shape *s) {
    size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
    size_t tiles = sat_mul(oh / 4 + (oh % 4 != 0), ow / 4 + (ow % 4 != 0));
    return s->in_c >= 16 && s->out_c >= 8 && sat_mul(tiles, 36 * 2) <= sat_mul(sat_mul(oh, ow), 9);
}

int f32_conv2d_algo_supports(const f32_conv2d_shape *s, f32_conv2d_algo algo) {
    switch (algo) {
    case F32_CONV_GEMM: return is_pointwise(s);
    case F32_CONV_IM2COL: return 1;
    case F32_CONV_WINOGRAD_2X2:
    case F32_CONV_WINOGRAD_4X4: return f32_conv3x3_winograd_supports(s);
    }
    return 0;
}

int f32_conv2d_single_tap(const f32_conv2d_shape *s, f32_conv2d_shape *pointwise, size_t *tap_offset) {
    if (s->in_h != 1 || s->in_w != 1 || f32_conv2d_out_h(s) != 1 || f32_conv2d_out_w(s) != 1 ||
        is_pointwise(s) || s->pad_top >= s->kh || s->pad_left >= s->kw)
        return 0;
    size_t offset = sat_mul(sat_mul(sat_add(sat_mul(s->pad_top, s->kw), s->pad_left), s->in_c), s->out_c);
    if (offset == SIZE_MAX) return 0;
    *tap_offset = offset;
    *pointwise = (f32_conv2d_shape){ s->batch, 1, 1, s->in_c, s->out_c, 1, 1, 1, 1, 0, 0, 0, 0 };
    return 1;
}

f32_conv2d_algo f32_conv2d_choose(const f32_conv2d_shape *s) {
    if (is_pointwise(s)) return F32_CONV_GEMM;
    if (f32_conv3x3_winograd_supports(s) && winograd_worth_it(s)) return F32_CONV_WINOGRAD_4X4;
    return F32_CONV_IM2COL;
}

size_t f32_conv2d_packed_size_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo) {
    if (algo >= F32_CONV_WINOGRAD_2X2) return f32_conv3x3_winograd_packed_size(s, wino_tile(algo));
    return f32_gemm_packed_size(sat_mul(sat_mul(s->kh, s->kw), s->in_c), s->out_c);
}

const char *f32_conv2d_pack_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo,
                                 const float *w, const float *bias, float *packed) {
    if (!f32_conv2d_algo_supports(s, algo)) return "this convolution algorithm does not support the shape";
    if (algo >= F32_CONV_WINOGRAD_2X2) f32_conv3x3_winograd_pack(s, wino_tile(algo), w, bias, packed);
    else f32_gemm_pack(s->kh * s->kw * s->in_c, s->out_c, w, bias, packed);
    return NULL;
}

/* im2col block: rows of output pixels per block, so that a block is ~128 KB
 * (a multiple of every micro-kernel's MR, 60 = lcm(4,5,6)). */
static size_t im2col_rows(const f32_conv2d_shape *s) {
    size_t k = sat_mul(sat_mul(s->kh, s->kw), s->in_c);
    size_t rows = (128 * 1024 / sizeof(float)) / (k ? k : 1);
    rows = rows / 60 * 60;
    if (rows < 60) rows = 60;
    size_t m = sat_mul(s->batch, sat_mul(f32_conv2d_out_h(s), f32_conv2d_out_w(s)));
    return rows < m ? rows : m;
}

size_t f32_conv2d_scratch_size_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo) {
    switch (algo) {
    case F32_CONV_GEMM: return 0;
    case F32_CONV_IM2COL:
        return sat_mul(sat_mul(im2col_rows(s), sat_mul(sat_mul(s->kh, s->kw), s->in_c)), sizeof(float));
    case F32_CONV_WINOGRAD_2X2:
    case F32_CONV_WINOGRAD_4X4: return f32_conv3x3_winograd_scratch_size(s, wino_tile(algo));
    }
    return 0;
}

/* Output channels [c_begin, c_end) of the convolution; packed and out already
 * point at channel c_begin (packed: at its panel). */
static void conv_im2col(const f32_conv2d_shape *s, f32_variant v,
                        const float *in, size_t in_stride, const float *packed,
                        float *out, size_t out_stride, float lo, float hi, float *buf, size_t channels) {
    const size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
    const size_t cin = s->in_c, k = s->kh * s->kw * cin;
    const size_t m = s->batch * oh * ow, rows = im2col_rows(s);
    const int dense_rows = in_stride == cin;
    for (size_t p0 = 0; p0 < m; p0 += rows) {
        size_t mb = m - p0 < rows ? m - p0 : rows;
        for (size_t r = 0; r < mb; r++) {
            size_t p = p0 + r, b = p / (oh * ow), oy = p / ow % oh, ox = p % ow;
            float *row = buf + r * k;
            const size_t ix0 = ox * s->stride_w - s->pad_left;   /* may wrap: see below */
            for (size_t ky = 0; ky < s->kh; ky++) {
                /* unsigned wrap-around makes iy huge when it is in the top padding */
                size_t iy = oy * s->stride_h + ky - s->pad_top;
                if (dense_rows && iy < s->in_h && ox * s->stride_w >= s->pad_left && ix0 + s->kw <= s->in_w) {
                    /* whole kernel row inside and pixels contiguous: one copy */
                    copy_floats(row, in + ((b * s->in_h + iy) * s->in_w + ix0) * cin, s->kw * cin);
                    row += s->kw * cin;
                    continue;
                }
                for (size_t kx = 0; kx < s->kw; kx++, row += cin) {
                    size_t ix = ox * s->stride_w + kx - s->pad_left;
                    if (iy < s->in_h && ix < s->in_w)
                        copy_floats(row, in + ((b * s->in_h + iy) * s->in_w + ix) * in_stride, cin);
                    else
                        zero_floats(row, cin);
                }
            }
        }
        f32_gemm_variant(v, mb, channels, k, buf, k, packed, out + p0 * out_stride, out_stride, lo, hi);
    }
}

const char *f32_conv2d_nhwc_channels(const f32_conv2d_shape *s, f32_conv2d_algo algo, f32_variant v,
                                     const float *in, size_t in_stride, const float *packed,
                                     float *out, size_t out_stride,
                                     float output_min, float output_max, void *scratch,
                                     size_t c_begin, size_t c_end) {
    if (!f32_conv2d_algo_supports(s, algo)) return "this convolution algorithm does not support the shape";
    if (c_begin % GEMM_NR || c_begin > c_end || c_end > s->out_c)
        return "output channels: the range must lie within the convolution's and begin at a multiple of 8";
    const size_t m = s->batch * f32_conv2d_out_h(s) * f32_conv2d_out_w(s);
    if (m == 0 || c_begin == c_end) return NULL;
    /* GEMM and im2col: the packed panels from c_begin's on, written from channel c_begin on */
    const size_t k = s->kh * s->kw * s->in_c;
    const float *panels = packed + f32_gemm_packed_offset(k, c_begin);
    switch (algo) {
    case F32_CONV_GEMM:
        f32_gemm_variant(v, m, c_end - c_begin, s->in_c, in, in_stride, panels, out + c_begin, out_stride,
                         output_min, output_max);
        break;
    case F32_CONV_IM2COL:
        conv_im2col(s, v, in, in_stride, panels, out + c_begin, out_stride, output_min, output_max, scratch,
                    c_end - c_begin);
        break;
    case F32_CONV_WINOGRAD_2X2:
    case F32_CONV_WINOGRAD_4X4:
        f32_conv3x3_winograd(s, wino_tile(algo), v, in, in_stride, packed, out, out_stride,
                             output_min, output_max, scratch, c_begin, c_end);
        break;
    }
    return NULL;
}

const char *f32_conv2d_nhwc_algo(const f32_conv2d_shape *s, f32_conv2d_algo algo, f32_variant v,
                                 const float *in, size_t in_stride, const float *packed,
                                 float *out, size_t out_stride,
                                 float output_min, float output_max, void *scratch) {
    return f32_conv2d_nhwc_channels(s, algo, v, in, in_stride, packed, out, out_stride,
                                    output_min, output_max, scratch, 0, s->out_c);
}

size_t f32_conv2d_packed_size(const f32_conv2d_shape *s) {
    return f32_conv2d_packed_size_algo(s, f32_conv2d_choose(s));
}
void f32_conv2d_pack(const f32_conv2d_shape *s, const float *w, const float *bias, float *packed) {
    (void)f32_conv2d_pack_algo(s, f32_conv2d_choose(s), w, bias, packed);   /* chosen: supported */
}
size_t f32_conv2d_scratch_size(const f32_conv2d_shape *s) {
    return f32_conv2d_scratch_size_algo(s, f32_conv2d_choose(s));
}
void f32_conv2d_nhwc(const f32_conv2d_shape *s, const float *in, size_t in_stride,
                     const float *packed, float *out, size_t out_stride,
                     float output_min, float output_max, void *scratch) {
    /* f32_conv2d_choose only picks algorithms that support the shape */
    (void)f32_conv2d_nhwc_algo(s, f32_conv2d_choose(s), F32_WASMSIMD, in, in_stride, packed,
                               out, out_stride, output_min, output_max, scratch);
}

void f32_conv2d_nhwc_ref(const f32_conv2d_shape *s, const float *in, size_t in_stride,
                         const float *w, const float *bias, float *out, size_t out_stride,
                         float output_min, float output_max) {
    const size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
    const size_t cin = s->in_c, cout = s->out_c;
    for (size_t b = 0; b < s->batch; b++)
        for (size_t oy = 0; oy < oh; oy++)
            for (size_t ox = 0; ox < ow; ox++) {
                float *o = out + ((b * oh + oy) * ow + ox) * out_stride;
                for (size_t co = 0; co < cout; co++) {
                    float acc = bias ? bias[co] : 0.0f;
                    for (size_t ky = 0; ky < s->kh; ky++) {
                        size_t iy = oy * s->stride_h + ky - s->pad_top;
                        if (iy >= s->in_h) continue;
                        for (size_t kx = 0; kx < s->kw; kx++) {
                            size_t ix = ox * s->stride_w + kx - s->pad_left;
                            if (ix >= s->in_w) continue;
                            const float *x = in + ((b * s->in_h + iy) * s->in_w + ix) * in_stride;
                            const float *wk = w + (ky * s->kw + kx) * cin * cout + co;
                            for (size_t ci = 0; ci < cin; ci++) acc += x[ci] * wk[ci * cout];
                        }
                    }
                    o[co] = acc < output_min ? output_min : (acc > output_max ? output_max : acc);
                }
            }
}
