/* winograd.h — Winograd F(2x2,3x3) and F(4x4,3x3) convolution (internal to
 * kernels/; reached through f32_conv2d_*_algo with F32_CONV_WINOGRAD_*).
 * tile is the output tile size, 2 or 4. f32_conv3x3_winograd computes output
 * channels [c_begin, c_end) (c_begin a multiple of 8): every tile's input
 * transform, only those channels' GEMMs and output transform. */
#ifndef DENSELAB_WINOGRAD_H
#define DENSELAB_WINOGRAD_H
#include "kernels/kernels.h"

int    f32_conv3x3_winograd_supports(const f32_conv2d_shape *s);
size_t f32_conv3x3_winograd_packed_size(const f32_conv2d_shape *s, int tile);
void   f32_conv3x3_winograd_pack(const f32_conv2d_shape *s, int tile,
                                 const float *w, const float *bias, float *packed);
size_t f32_conv3x3_winograd_scratch_size(const f32_conv2d_shape *s, int tile);
void   f32_conv3x3_winograd(const f32_conv2d_shape *s, int tile, f32_variant v,
                            const float *in, size_t in_stride, const float *packed,
                            float *out, size_t out_stride,
                            float output_min, float output_max, void *scratch,
                            size_t c_begin, size_t c_end);
#endif
