/* simd128.h — one kernel source for WASM SIMD128 and native builds.
 *
 * Under emcc -msimd128 this is just <wasm_simd128.h>. Natively, the small
 * subset of WASM SIMD128 intrinsics the kernels use is mapped onto SSE2 (the
 * x86-64 baseline), or onto plain C for other CPUs, as static inline
 * functions with the same names. Only what the kernels need is here; add a
 * name when a kernel needs it, with the wasm semantics.
 */
#ifndef DENSELAB_SIMD128_H
#define DENSELAB_SIMD128_H

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define DL_SIMD_NAME "wasm-simd128"

#elif defined(__SSE2__)
#include <emmintrin.h>
#define DL_SIMD_NAME "sse2"
typedef __m128 v128_t;

static inline v128_t wasm_v128_load(const void *p) { return _mm_loadu_ps((const float *)p); }
static inline void wasm_v128_store(void *p, v128_t v) { _mm_storeu_ps((float *)p, v); }
static inline v128_t wasm_v128_load32_splat(const void *p) { return _mm_load1_ps((const float *)p); }
static inline v128_t wasm_f32x4_splat(float x) { return _mm_set1_ps(x); }
static inline v128_t wasm_f32x4_add(v128_t a, v128_t b) { return _mm_add_ps(a, b); }
static inline v128_t wasm_f32x4_sub(v128_t a, v128_t b) { return _mm_sub_ps(a, b); }
static inline v128_t wasm_f32x4_mul(v128_t a, v128_t b) { return _mm_mul_ps(a, b); }
static inline v128_t wasm_f32x4_div(v128_t a, v128_t b) { return _mm_div_ps(a, b); }
static inline v128_t wasm_f32x4_sqrt(v128_t a) { return _mm_sqrt_ps(a); }
/* pmin/pmax: wasm "pseudo" min/max, b < a ? b : a (and a < b ? b : a): exactly
 * one minps/maxps with operands swapped, also in V8, hence used for clamps. */
static inline v128_t wasm_f32x4_pmin(v128_t a, v128_t b) { return _mm_min_ps(b, a); }
static inline v128_t wasm_f32x4_pmax(v128_t a, v128_t b) { return _mm_max_ps(b, a); }

#else /* portable scalar fallback */
#define DL_SIMD_NAME "scalar-emulation"
#include <string.h>
typedef struct { float f[4]; } v128_t;

static inline v128_t wasm_v128_load(const void *p) { v128_t v; memcpy(v.f, p, 16); return v; }
static inline void wasm_v128_store(void *p, v128_t v) { memcpy(p, v.f, 16); }
static inline v128_t wasm_f32x4_splat(float x) { v128_t v = {{x, x, x, x}}; return v; }
static inline v128_t wasm_v128_load32_splat(const void *p) { float x; memcpy(&x, p, 4); return wasm_f32x4_splat(x); }
#define DL_LANEWISE(name, expr) \
    static inline v128_t name(v128_t a, v128_t b) { \
        v128_t r; for (int i = 0; i < 4; i++) { float x = a.f[i], y = b.f[i]; r.f[i] = (expr); } return r; }
DL_LANEWISE(wasm_f32x4_add, x + y)
DL_LANEWISE(wasm_f32x4_sub, x - y)
DL_LANEWISE(wasm_f32x4_mul, x * y)
DL_LANEWISE(wasm_f32x4_div, x / y)
DL_LANEWISE(wasm_f32x4_pmin, y < x ? y : x)
DL_LANEWISE(wasm_f32x4_pmax, x < y ? y : x)
#undef DL_LANEWISE
#include <math.h>
static inline v128_t wasm_f32x4_sqrt(v128_t a) { for (int i = 0; i < 4; i++) a.f[i] = sqrtf(a.f[i]); return a; }
#endif

#endif
