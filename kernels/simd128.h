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
#include <stdint.h>
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
/* Integer lanes (the float16 conversions, kernels/f16.c): the same register seen as 4 x i32 or 8 x i16. */
#define DL_I(v) _mm_castps_si128(v)
#define DL_F(v) _mm_castsi128_ps(v)
static inline v128_t wasm_i32x4_splat(int32_t x) { return DL_F(_mm_set1_epi32(x)); }
static inline v128_t wasm_i32x4_add(v128_t a, v128_t b) { return DL_F(_mm_add_epi32(DL_I(a), DL_I(b))); }
static inline v128_t wasm_v128_and(v128_t a, v128_t b) { return _mm_and_ps(a, b); }
static inline v128_t wasm_v128_or(v128_t a, v128_t b) { return _mm_or_ps(a, b); }
static inline v128_t wasm_v128_xor(v128_t a, v128_t b) { return _mm_xor_ps(a, b); }
/* mask ? a : b, bit by bit */
static inline v128_t wasm_v128_bitselect(v128_t a, v128_t b, v128_t mask) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }
static inline v128_t wasm_i32x4_shl(v128_t a, uint32_t n) { return DL_F(_mm_sll_epi32(DL_I(a), _mm_cvtsi32_si128((int)n))); }
static inline v128_t wasm_u32x4_shr(v128_t a, uint32_t n) { return DL_F(_mm_srl_epi32(DL_I(a), _mm_cvtsi32_si128((int)n))); }
static inline v128_t wasm_i32x4_shr(v128_t a, uint32_t n) { return DL_F(_mm_sra_epi32(DL_I(a), _mm_cvtsi32_si128((int)n))); }
static inline v128_t wasm_i32x4_gt(v128_t a, v128_t b) { return DL_F(_mm_cmpgt_epi32(DL_I(a), DL_I(b))); }
static inline v128_t wasm_i32x4_lt(v128_t a, v128_t b) { return DL_F(_mm_cmplt_epi32(DL_I(a), DL_I(b))); }
static inline v128_t wasm_i32x4_max(v128_t a, v128_t b) { return wasm_v128_bitselect(a, b, wasm_i32x4_gt(a, b)); }
static inline v128_t wasm_u32x4_extend_low_u16x8(v128_t a) { return DL_F(_mm_unpacklo_epi16(DL_I(a), _mm_setzero_si128())); }
static inline v128_t wasm_u32x4_extend_high_u16x8(v128_t a) { return DL_F(_mm_unpackhi_epi16(DL_I(a), _mm_setzero_si128())); }
static inline v128_t wasm_i16x8_narrow_i32x4(v128_t a, v128_t b) { return DL_F(_mm_packs_epi32(DL_I(a), DL_I(b))); }
#undef DL_I
#undef DL_F

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
/* Integer lanes (kernels/f16.c), on the float lanes' bits. */
#include <stdint.h>
typedef struct { uint32_t u[4]; } dl_u32x4;
static inline dl_u32x4 dl_bits(v128_t v) { dl_u32x4 r; memcpy(r.u, v.f, 16); return r; }
static inline v128_t dl_from_bits(dl_u32x4 r) { v128_t v; memcpy(v.f, r.u, 16); return v; }
#define DL_LANEWISE_U32(name, expr) \
    static inline v128_t name(v128_t va, v128_t vb) { \
        dl_u32x4 a = dl_bits(va), b = dl_bits(vb), r; for (int i = 0; i < 4; i++) { uint32_t x = a.u[i], y = b.u[i]; r.u[i] = (expr); } return dl_from_bits(r); }
DL_LANEWISE_U32(wasm_i32x4_add, x + y)
DL_LANEWISE_U32(wasm_v128_and, x & y)
DL_LANEWISE_U32(wasm_v128_or, x | y)
DL_LANEWISE_U32(wasm_v128_xor, x ^ y)
DL_LANEWISE_U32(wasm_i32x4_gt, (int32_t)x > (int32_t)y ? ~0u : 0u)
DL_LANEWISE_U32(wasm_i32x4_lt, (int32_t)x < (int32_t)y ? ~0u : 0u)
DL_LANEWISE_U32(wasm_i32x4_max, (int32_t)x > (int32_t)y ? x : y)
#undef DL_LANEWISE_U32
static inline v128_t wasm_i32x4_splat(int32_t x) { dl_u32x4 r = {{(uint32_t)x, (uint32_t)x, (uint32_t)x, (uint32_t)x}}; return dl_from_bits(r); }
static inline v128_t wasm_v128_bitselect(v128_t a, v128_t b, v128_t mask) {
    return wasm_v128_or(wasm_v128_and(mask, a), wasm_v128_and(wasm_v128_xor(mask, wasm_i32x4_splat(-1)), b));
}
static inline v128_t wasm_i32x4_shl(v128_t a, uint32_t n) { dl_u32x4 r = dl_bits(a); for (int i = 0; i < 4; i++) r.u[i] <<= n; return dl_from_bits(r); }
static inline v128_t wasm_u32x4_shr(v128_t a, uint32_t n) { dl_u32x4 r = dl_bits(a); for (int i = 0; i < 4; i++) r.u[i] >>= n; return dl_from_bits(r); }
static inline v128_t wasm_i32x4_shr(v128_t a, uint32_t n) {
    dl_u32x4 r = dl_bits(a);
    for (int i = 0; i < 4; i++) r.u[i] = (uint32_t)((int32_t)r.u[i] < 0 ? ~(~(int32_t)r.u[i] >> n) : (int32_t)r.u[i] >> n);
    return dl_from_bits(r);
}
static inline v128_t dl_u16_lanes_to_u32(v128_t a, int high) {
    uint16_t h[8]; dl_u32x4 r; memcpy(h, a.f, 16);
    for (int i = 0; i < 4; i++) r.u[i] = h[i + 4 * high];
    return dl_from_bits(r);
}
static inline v128_t wasm_u32x4_extend_low_u16x8(v128_t a) { return dl_u16_lanes_to_u32(a, 0); }
static inline v128_t wasm_u32x4_extend_high_u16x8(v128_t a) { return dl_u16_lanes_to_u32(a, 1); }
static inline v128_t wasm_i16x8_narrow_i32x4(v128_t a, v128_t b) {
    dl_u32x4 x[2] = {dl_bits(a), dl_bits(b)}; int16_t h[8]; v128_t r;
    for (int i = 0; i < 8; i++) { int32_t v = (int32_t)x[i / 4].u[i % 4]; h[i] = (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v); }
    memcpy(r.f, h, 16);
    return r;
}
#endif

#endif
