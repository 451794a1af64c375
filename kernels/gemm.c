/* gemm.c — f32 GEMM on packed weights (XNNPACK-style micro-kernels).
 * The packed layout is described (and indexed) in kernels/internal.h. */
#include "kernels/kernels.h"
#include "kernels/internal.h"
#include <string.h>

#define NR GEMM_NR

const char *f32_simd_name(void) { return DL_SIMD_NAME; }

size_t f32_gemm_packed_size(size_t k, size_t n) {
    size_t panels = n / NR + (n % NR != 0);
    return sat_mul(panels, sat_mul(NR, sat_add(k, 1)));
}

void f32_gemm_pack(size_t k, size_t n, const float *w, const float *bias, float *packed) {
    for (size_t n0 = 0; n0 < n; n0 += NR) {
        size_t nc = n - n0 < NR ? n - n0 : NR;
        for (size_t j = 0; j < NR; j++)
            *packed++ = (j < nc && bias) ? bias[n0 + j] : 0.0f;
        for (size_t kk = 0; kk < k; kk++)
            for (size_t j = 0; j < NR; j++)
                *packed++ = j < nc ? w[kk * n + n0 + j] : 0.0f;
    }
}

static inline float clampf(float x, float lo, float hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

void f32_gemm_ref(size_t m, size_t n, size_t k, const float *a, size_t lda,
                  const float *w, const float *bias, float *c, size_t ldc,
                  float output_min, float output_max) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float acc = bias ? bias[j] : 0.0f;
            for (size_t kk = 0; kk < k; kk++)
                acc += a[i * lda + kk] * w[kk * n + j];
            c[i * ldc + j] = clampf(acc, output_min, output_max);
        }
}

/* ---- micro-kernels ------------------------------------------------------
 * Rows past mr alias the last valid row (as XNNPACK does): they compute the
 * same values and are stored first, so the valid row is written last. */

void f32_gemm_4x8_scalar(size_t mr, size_t nc, size_t kc, const float *a, size_t lda,
                         const float *w, float *c, size_t ldc, float output_min, float output_max) {
    float acc[4][NR];
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < NR; j++) acc[i][j] = w[j];
    w += NR;
    for (size_t kk = 0; kk < kc; kk++, w += NR)
        for (size_t i = 0; i < 4; i++) {
            float ai = a[(i < mr ? i : mr - 1) * lda + kk];
            for (size_t j = 0; j < NR; j++) acc[i][j] += ai * w[j];
        }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < nc; j++)
            c[i * ldc + j] = clampf(acc[i][j], output_min, output_max);
}

/* One body for every MR: with MR a constant the compiler keeps acc[][] in
 * registers (2*MR vectors + 2 weights + 1 broadcast of A). */
static inline __attribute__((always_inline))
void gemm_mrx8_wasmsimd(const size_t MR, size_t mr, size_t nc, size_t kc,
                        const float *a, size_t lda, const float *w,
                        float *c, size_t ldc, float output_min, float output_max) {
    const float *ap[8];
    float *cp[8];
    for (size_t i = 0; i < MR; i++) {
        size_t r = i < mr ? i : mr - 1;
        ap[i] = a + r * lda;
        cp[i] = c + r * ldc;
    }
    v128_t acc[8][2];
    const v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4);
    for (size_t i = 0; i < MR; i++) { acc[i][0] = b0; acc[i][1] = b1; }
    w += NR;
    /* One k step per iteration: measured fastest under V8 (which unrolls
     * small loops itself). Unrolled in C, clang hoists the loads and V8 then
     * spills; packing A into one stream (XNNPACK's ppmm) gained nothing.
     * A is broadcast by load32_splat, a load-port op (vbroadcastss), which
     * leaves the FP pipes to the mul/add (lane shuffles would compete). */
    for (size_t kk = 0; kk < kc; kk++) {
        const v128_t w0 = wasm_v128_load(w), w1 = wasm_v128_load(w + 4);
        w += NR;
        for (size_t i = 0; i < MR; i++) {
            const v128_t ai = wasm_v128_load32_splat(ap[i]++);
            acc[i][0] = wasm_f32x4_add(acc[i][0], wasm_f32x4_mul(ai, w0));
            acc[i][1] = wasm_f32x4_add(acc[i][1], wasm_f32x4_mul(ai, w1));
        }
    }
    const v128_t vmin = wasm_f32x4_splat(output_min), vmax = wasm_f32x4_splat(output_max);
    for (size_t i = MR; i-- > 0;) {
        v128_t lo = wasm_f32x4_pmin(vmax, wasm_f32x4_pmax(vmin, acc[i][0]));
        v128_t hi = wasm_f32x4_pmin(vmax, wasm_f32x4_pmax(vmin, acc[i][1]));
        if (nc == NR) {
            wasm_v128_store(cp[i], lo);
            wasm_v128_store(cp[i] + 4, hi);
        } else {
            float t[NR];
            wasm_v128_store(t, lo);
            wasm_v128_store(t + 4, hi);
            memcpy(cp[i], t, nc * sizeof(float));
        }
    }
}

#define DEFINE_GEMM_WASMSIMD(MR) \
    void f32_gemm_##MR##x8_wasmsimd(size_t mr, size_t nc, size_t kc, const float *a, size_t lda, \
                                    const float *w, float *c, size_t ldc, float lo, float hi) { \
        gemm_mrx8_wasmsimd(MR, mr, nc, kc, a, lda, w, c, ldc, lo, hi); \
    }
DEFINE_GEMM_WASMSIMD(4)
DEFINE_GEMM_WASMSIMD(5)
DEFINE_GEMM_WASMSIMD(6)

/* ---- driver -------------------------------------------------------------
 * Each MR-row tile of A sweeps all panels, so the A tile stays close while
 * the packed weights stream by sequentially (prefetch-friendly). Blocking the
 * panels to stay in L2 (re-reading A per block) measured the same under V8
 * on DenseNet's shapes (best runs within 1%), so the loop stays simple. */
void f32_gemm_with(f32_gemm_ukernel ukernel, size_t mr_max,
                   size_t m, size_t n, size_t k, const float *a, size_t lda,
                   const float *packed, float *c, size_t ldc,
                   float output_min, float output_max) {
    for (size_t i = 0; i < m; i += mr_max) {
        size_t mr = m - i < mr_max ? m - i : mr_max;
        for (size_t n0 = 0; n0 < n; n0 += NR) {
            size_t nc = n - n0 < NR ? n - n0 : NR;
            ukernel(mr, nc, k, a + i * lda, lda, packed + f32_gemm_packed_offset(k, n0),
                    c + i * ldc + n0, ldc, output_min, output_max);
        }
    }
}

#define GEMM_BEST f32_gemm_4x8_wasmsimd
#define GEMM_BEST_MR 4

void f32_gemm_variant(f32_variant v, size_t m, size_t n, size_t k, const float *a, size_t lda,
                      const float *packed, float *c, size_t ldc,
                      float output_min, float output_max) {
    if (v == F32_SCALAR)
        f32_gemm_with(f32_gemm_4x8_scalar, 4, m, n, k, a, lda, packed, c, ldc, output_min, output_max);
    else
        f32_gemm_with(GEMM_BEST, GEMM_BEST_MR, m, n, k, a, lda, packed, c, ldc, output_min, output_max);
}

void f32_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda,
              const float *packed, float *c, size_t ldc,
              float output_min, float output_max) {
    f32_gemm_variant(F32_WASMSIMD, m, n, k, a, lda, packed, c, ldc, output_min, output_max);
}
