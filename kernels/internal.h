/* internal.h — small helpers shared by the kernels (not part of the API). */
#ifndef DENSELAB_KERNELS_INTERNAL_H
#define DENSELAB_KERNELS_INTERNAL_H
#include "kernels/kernels.h"
#include "kernels/simd128.h"
#include <stddef.h>
#include <stdint.h>

/* Size arithmetic for the *_size functions: saturating at SIZE_MAX, so a
 * shape too large for size_t (32-bit in WebAssembly) gives SIZE_MAX, which
 * no caller can allocate, instead of a small wrapped size. */
static inline size_t sat_mul(size_t a, size_t b) {
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t sat_add(size_t a, size_t b) {
    size_t r;
    return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* The packed GEMM weight layout (gemm.c; winograd.c packs into it too):
 * n is cut into panels of GEMM_NR columns, the last one padded with zeros.
 * Each panel is GEMM_NR biases followed by k rows of GEMM_NR weights, so a
 * micro-kernel streams one panel linearly while rows of A are broadcast. */
#define GEMM_NR F32_GEMM_NR
/* Where weight W[row][col] of a k-row matrix goes in the packed buffer. */
static inline size_t gemm_packed_weight_index(size_t k, size_t row, size_t col) {
    return f32_gemm_packed_offset(k, col) + GEMM_NR + row * GEMM_NR + col % GEMM_NR;
}

/* Copy / clear n floats. Inline SIMD instead of memcpy/memset: the copies
 * are short (one pixel's channels) and Emscripten's memcpy hands sizes from
 * 512 bytes up to JavaScript (copyWithin), far too slow per pixel. */
static inline void copy_floats(float *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
    for (; i < n; i++) dst[i] = src[i];
}
static inline void zero_floats(float *dst, size_t n) {
    size_t i = 0;
    const v128_t z = wasm_f32x4_splat(0.0f);
    for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, z);
    for (; i < n; i++) dst[i] = 0.0f;
}
#endif
