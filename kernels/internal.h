/* internal.h — small helpers shared by the kernels (not part of the API). */
#ifndef DENSELAB_KERNELS_INTERNAL_H
#define DENSELAB_KERNELS_INTERNAL_H
#include "kernels/simd128.h"
#include <stddef.h>

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
