/* f16.c — IEEE half precision (binary16, as uint16_t bits) <-> float32.
 *
 * f32_from_f16 is exact (every half is a float); f16_from_f32 rounds to
 * nearest, ties to even, overflows to infinity, keeps NaN a NaN (0x7E00 with
 * its sign). The _scalar references work on the bit fields one value at a
 * time; the _wasmsimd variants are XNNPACK's f16-f32-vcvt / f32-f16-vcvt
 * (the float unit does the exponent rebias and the rounding), 8 values per
 * step, the tail handed to the reference. */
#include "kernels/kernels.h"
#include "kernels/simd128.h"
#include <math.h>
#include <string.h>

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 0x3FFu;
    if (e == 31) return float_of(sign | 0x7F800000u | m << 13 | (m ? 0x400000u : 0));   /* inf; NaN made quiet */
    if (e) return float_of(sign | (e + 112) << 23 | m << 13);
    float v = ldexpf((float)m, -24);   /* zero or subnormal: m units of 2^-24 */
    return sign ? -v : v;
}

/* m >> s rounded to nearest, ties to even (1 <= s <= 31). */
static uint32_t shift_round_even(uint32_t m, unsigned s) {
    uint32_t q = m >> s, r = m & ((1u << s) - 1), half = 1u << (s - 1);
    return q + (r > half || (r == half && (q & 1)));
}

static uint16_t float_to_half(float f) {
    uint32_t x = bits_of(f), a = x & 0x7FFFFFFFu;
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    if (a > 0x7F800000u) return sign | 0x7E00u;                /* NaN */
    if (a >= 0x477FF000u) return sign | 0x7C00u;               /* >= 65520 (65504 + half an ulp): infinity */
    if (a >= 0x38800000u)                                      /* >= 2^-14: normal; a carry out of the mantissa bumps the exponent */
        return sign | (uint16_t)shift_round_even(a - (112u << 23), 13);
    unsigned e = a >> 23;                                      /* subnormal half: units of 2^-24 */
    if (e < 102) return sign;                                  /* below 2^-25 (2^-25 itself ties to 0) */
    return sign | (uint16_t)shift_round_even((a & 0x7FFFFFu) | 0x800000u, 126 - e);
}

void f32_from_f16_scalar(size_t n, const uint16_t *in, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = half_to_float(in[i]);
}

void f16_from_f32_scalar(size_t n, const float *in, uint16_t *out) {
    for (size_t i = 0; i < n; i++) out[i] = float_to_half(in[i]);
}

/* Four halves (zero-extended in 32-bit lanes) -> four floats. A normal half's
 * exponent and mantissa, shifted into place, are a float 2^112 too small:
 * one multiply rebias it (and keeps inf / NaN); a subnormal one is its
 * mantissa put under the exponent of 0.5, minus 0.5. */
static v128_t halves_to_floats(v128_t h) {
    const v128_t w = wasm_i32x4_shl(h, 16);
    const v128_t sign = wasm_v128_and(w, wasm_i32x4_splat((int32_t)0x80000000u));
    const v128_t nonsign = wasm_v128_and(w, wasm_i32x4_splat(0x7FFFFFFF));
    const v128_t normal = wasm_f32x4_mul(wasm_i32x4_add(wasm_u32x4_shr(nonsign, 3), wasm_i32x4_splat(0x70000000)),
                                         wasm_f32x4_splat(0x1.0p-112f));
    const v128_t subnormal = wasm_f32x4_sub(wasm_v128_or(wasm_u32x4_shr(nonsign, 16), wasm_i32x4_splat(126 << 23)),
                                            wasm_f32x4_splat(0.5f));
    const v128_t is_subnormal = wasm_i32x4_lt(nonsign, wasm_i32x4_splat(1 << 26));
    return wasm_v128_or(sign, wasm_v128_bitselect(subnormal, normal, is_subnormal));
}

void f32_from_f16_wasmsimd(size_t n, const uint16_t *in, float *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v128_t h = wasm_v128_load(in + i);
        wasm_v128_store(out + i, halves_to_floats(wasm_u32x4_extend_low_u16x8(h)));
        wasm_v128_store(out + i + 4, halves_to_floats(wasm_u32x4_extend_high_u16x8(h)));
    }
    f32_from_f16_scalar(n - i, in + i, out + i);
}

/* Four floats -> four halves, sign-extended in 32-bit lanes (so that a signed
 * narrowing packs them exactly). |x| * 2^112 * 2^-110 plus a power of two
 * chosen from x's exponent leaves the half's rounded bits at the bottom of
 * the sum: the float add rounds them, to nearest even. */
static v128_t floats_to_halves(v128_t x) {
    const v128_t abs = wasm_v128_and(x, wasm_i32x4_splat(0x7FFFFFFF));
    const v128_t sign = wasm_v128_xor(x, abs);
    const v128_t expw_max = wasm_i32x4_splat(0x7F800000);
    v128_t bias = wasm_v128_and(wasm_i32x4_add(abs, wasm_i32x4_splat(0x07800000)), expw_max);
    bias = wasm_i32x4_max(bias, wasm_i32x4_splat(0x40000000));
    v128_t f = wasm_f32x4_mul(wasm_f32x4_mul(abs, wasm_f32x4_splat(0x1.0p+112f)), wasm_f32x4_splat(0x1.0p-110f));
    f = wasm_f32x4_add(f, bias);
    const v128_t exph = wasm_v128_and(wasm_u32x4_shr(f, 13), wasm_i32x4_splat(0x7C00));
    const v128_t manth = wasm_v128_and(f, wasm_i32x4_splat(0x0FFF));   /* 0x400 and up: a carry into the exponent */
    const v128_t h = wasm_v128_bitselect(wasm_i32x4_splat(0x7E00), wasm_i32x4_add(exph, manth), wasm_i32x4_gt(abs, expw_max));
    return wasm_v128_or(h, wasm_i32x4_shr(sign, 16));
}

void f16_from_f32_wasmsimd(size_t n, const float *in, uint16_t *out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        wasm_v128_store(out + i, wasm_i16x8_narrow_i32x4(floats_to_halves(wasm_v128_load(in + i)),
                                                         floats_to_halves(wasm_v128_load(in + i + 4))));
    f16_from_f32_scalar(n - i, in + i, out + i);
}

void f32_from_f16(size_t n, const uint16_t *in, float *out) { f32_from_f16_wasmsimd(n, in, out); }
void f16_from_f32(size_t n, const float *in, uint16_t *out) { f16_from_f32_wasmsimd(n, in, out); }

/* ---- GEMM on float16 packed weights -----------------------------------------
 * f32_gemm's packed layout with halves in place of floats: half the bytes for
 * weights that are halves already (the RBF SVM's panels of float16 feature
 * rows). Each weight is converted exactly when loaded, then the micro-kernel
 * does f32_gemm's operations in f32_gemm's order: the same bits as f32_gemm
 * over the weights as floats, variant for variant. */

void f16_gemm_pack(size_t k, size_t n, const uint16_t *w, const uint16_t *bias, uint16_t *packed) {
    for (size_t n0 = 0; n0 < n; n0 += F32_GEMM_NR) {
        size_t nc = n - n0 < F32_GEMM_NR ? n - n0 : F32_GEMM_NR;
        for (size_t j = 0; j < F32_GEMM_NR; j++) *packed++ = (j < nc && bias) ? bias[n0 + j] : 0;
        for (size_t kk = 0; kk < k; kk++)
            for (size_t j = 0; j < F32_GEMM_NR; j++) *packed++ = j < nc ? w[kk * n + n0 + j] : 0;
    }
}

static inline float clamp_output(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

void f32_gemm_f16w_4x8_scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                              const uint16_t *w, float *c, size_t ldc, float output_min, float output_max) {
    float acc[4][F32_GEMM_NR], wf[F32_GEMM_NR];
    f32_from_f16_scalar(F32_GEMM_NR, w, wf);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < F32_GEMM_NR; j++) acc[i][j] = wf[j];
    w += F32_GEMM_NR;
    for (size_t kk = 0; kk < kc; kk++, w += F32_GEMM_NR) {
        f32_from_f16_scalar(F32_GEMM_NR, w, wf);
        for (size_t i = 0; i < 4; i++) {
            float ai = a[(i < mr ? i : mr - 1) * lda + kk];
            for (size_t j = 0; j < F32_GEMM_NR; j++) acc[i][j] += ai * wf[j];
        }
    }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nc; j++) c[i * ldc + j] = clamp_output(acc[i][j], output_min, output_max);
}

/* Eight halves of a panel row -> two vectors of floats. */
static inline void load_halves8(const uint16_t *w, v128_t *lo, v128_t *hi) {
    const v128_t h = wasm_v128_load(w);
    *lo = halves_to_floats(wasm_u32x4_extend_low_u16x8(h));
    *hi = halves_to_floats(wasm_u32x4_extend_high_u16x8(h));
}

/* gemm.c's 4x8 body (rows past mr alias the last one, stored first) on converted weights. */
void f32_gemm_f16w_4x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                                const uint16_t *w, float *c, size_t ldc, float output_min, float output_max) {
    const float *ap[4];
    float *cp[4];
    for (size_t i = 0; i < 4; i++) {
        size_t r = i < mr ? i : mr - 1;
        ap[i] = a + r * lda;
        cp[i] = c + r * ldc;
    }
    v128_t acc[4][2], b0, b1;
    load_halves8(w, &b0, &b1);
    for (size_t i = 0; i < 4; i++) { acc[i][0] = b0; acc[i][1] = b1; }
    w += F32_GEMM_NR;
    for (size_t kk = 0; kk < kc; kk++) {
        v128_t w0, w1;
        load_halves8(w, &w0, &w1);
        w += F32_GEMM_NR;
        for (size_t i = 0; i < 4; i++) {
            const v128_t ai = wasm_v128_load32_splat(ap[i]++);
            acc[i][0] = wasm_f32x4_add(acc[i][0], wasm_f32x4_mul(ai, w0));
            acc[i][1] = wasm_f32x4_add(acc[i][1], wasm_f32x4_mul(ai, w1));
        }
    }
    const v128_t vmin = wasm_f32x4_splat(output_min), vmax = wasm_f32x4_splat(output_max);
    for (size_t i = 4; i-- > 0;) {
        float t[F32_GEMM_NR], *to = nc == F32_GEMM_NR ? cp[i] : t;
        wasm_v128_store(to, wasm_f32x4_pmin(vmax, wasm_f32x4_pmax(vmin, acc[i][0])));
        wasm_v128_store(to + 4, wasm_f32x4_pmin(vmax, wasm_f32x4_pmax(vmin, acc[i][1])));
        if (to == t) memcpy(cp[i], t, nc * sizeof(float));
    }
}

void f32_gemm_f16w_variant(f32_variant v, size_t m, size_t n, size_t k, const float *a, size_t lda,
                           const uint16_t *packed, float *c, size_t ldc, float output_min, float output_max) {
    for (size_t i = 0; i < m; i += 4) {
        size_t mr = m - i < 4 ? m - i : 4;
        for (size_t n0 = 0; n0 < n; n0 += F32_GEMM_NR) {
            size_t nc = n - n0 < F32_GEMM_NR ? n - n0 : F32_GEMM_NR;
            (v == F32_SCALAR ? f32_gemm_f16w_4x8_scalar : f32_gemm_f16w_4x8_wasmsimd)(
                mr, nc, k, a + i * lda, lda, packed + f32_gemm_packed_offset(k, n0), c + i * ldc + n0, ldc, output_min, output_max);
        }
    }
}

void f32_gemm_f16w(size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const uint16_t *packed, float *c, size_t ldc, float output_min, float output_max) {
    f32_gemm_f16w_variant(F32_WASMSIMD, m, n, k, a, lda, packed, c, ldc, output_min, output_max);
}
