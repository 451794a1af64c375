/* bench.c — kernels_bench: GFLOP/s of every distinct DenseNet121 (224x224)
 * convolution shape and the dense 1024->1000 layer, with our kernels, plus a
 * measured SIMD mul+add peak and the GEMM micro-kernel's share of it.
 *   kernels_bench [--json] [--quick] [--cpu] [--algo gemm|im2col|wino2|wino4]
 * --quick times fewer shapes (one per block); --algo forces an algorithm for
 * the 3x3 shapes where it applies; --cpu measures CPU time instead of wall
 * time (use on a loaded machine). Times are the best of several runs. */
#include "kernels/kernels.h"
#include "kernels/simd128.h"
#include "kernels/bench_common.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Peak: a register-resident loop of 6 independent f32x4 multiply chains
 * (p *= m) and 6 independent add chains (s += a), m and a unknown to the
 * compiler (read from volatiles; m = 1, a = 0 keep values finite and normal).
 * 6 chains per unit cover a 3-cycle latency on 2 mul + 2 add pipes, and
 * 12 + 2 vectors fit the 16 x86 XMM registers (also under V8).
 * One mul + one add count as 8 flops, as in a GEMM. */
/* A separate function, called several times: V8 runs a wasm function's first
 * calls in its baseline compiler (Liftoff) and only later calls get the
 * optimized code (no on-stack replacement), so one long call would measure
 * Liftoff. */
static __attribute__((noinline)) float peak_loop(long steps, float mv, float av) {
    const v128_t m = wasm_f32x4_splat(mv), a = wasm_f32x4_splat(av);
    v128_t p0 = wasm_f32x4_splat(1), p1 = p0, p2 = p0, p3 = p0, p4 = p0, p5 = p0;
    v128_t s0 = wasm_f32x4_splat(2), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
    for (long i = 0; i < steps; i++) {
#define STEP(k) p##k = wasm_f32x4_mul(p##k, m); s##k = wasm_f32x4_add(s##k, a);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
#undef STEP
    }
    v128_t t = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3)), wasm_f32x4_add(p4, p5));
    t = wasm_f32x4_add(t, wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)), wasm_f32x4_add(s4, s5)));
    float sink[4];
    wasm_v128_store(sink, t);
    return sink[0];
}

static double simd_peak_gflops(void) {
    volatile float mv = 1.0f, av = 0.0f;
    const long steps = 200 * 1000;
    double best = 1e9;
    float sink = 0;
    for (int r = 0; r < 200; r++) {
        double t0 = now();
        sink += peak_loop(steps, mv, av);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    if (sink == 12345.0f) printf(" ");   /* keep the result alive */
    return steps * 6.0 * 8.0 / best / 1e9;
}

/* Micro-kernels alone on L1-resident data (one panel, MR rows, k=256),
 * timed in interleaved short rounds (best of each), so that a busy machine
 * or V8's tiering affects them alike. */
typedef struct { const char *name; f32_gemm_ukernel uk; size_t mr; } ukernel_info;

static void ukernel_gflops(const ukernel_info *uks, int n, double *gflops) {
    const size_t k = 256;
    const int inner = 50;
    float *a = bench_rand(8 * k), *w = bench_rand(8 * (k + 1)), c[8 * 8];
    double best[8];
    for (int u = 0; u < n; u++) best[u] = 1e9;
    for (int r = 0; r < 2000; r++)
        for (int u = 0; u < n; u++) {
            double t0 = now();
            for (int i = 0; i < inner; i++) uks[u].uk(uks[u].mr, 8, k, a, k, w, c, 8, -1e30f, 1e30f);
            double dt = now() - t0;
            if (dt < best[u]) best[u] = dt;
        }
    for (int u = 0; u < n; u++) gflops[u] = inner * 2.0 * uks[u].mr * 8 * k / best[u] / 1e9;
    free(a); free(w);
}

static const char *algo_names[] = {"gemm", "im2col", "wino2x2", "wino4x4"};

int main(int argc, char **argv) {
    int json = 0, quick = 0, force = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--cpu")) use_cpu_time = 1;
        else if (!strcmp(argv[i], "--algo") && i + 1 < argc) {
            const char *a = argv[++i];
            force = !strcmp(a, "gemm") ? 0 : !strcmp(a, "im2col") ? 1 : !strcmp(a, "wino2") ? 2 : !strcmp(a, "wino4") ? 3 : -2;
            if (force == -2) { fprintf(stderr, "kernels_bench: unknown --algo %s\n", a); return 2; }
        } else {
            fprintf(stderr, "usage: kernels_bench [--json] [--quick] [--cpu] [--algo gemm|im2col|wino2|wino4]\n");
            return 2;
        }
    }

    bench_layer layers[80];
    const int nl = densenet121_layers(layers, quick);

    const double peak = simd_peak_gflops();
    const ukernel_info uks[] = {
        {"f32_gemm_4x8_scalar", f32_gemm_4x8_scalar, 4}, {"f32_gemm_4x8_wasmsimd", f32_gemm_4x8_wasmsimd, 4},
        {"f32_gemm_5x8_wasmsimd", f32_gemm_5x8_wasmsimd, 5}, {"f32_gemm_6x8_wasmsimd", f32_gemm_6x8_wasmsimd, 6},
    };
    const int nuk = sizeof uks / sizeof uks[0];
    double ukg[8];
    ukernel_gflops(uks, nuk, ukg);

    if (json) printf("{\"simd\":\"%s\",\"peak_gflops\":%.2f,\"ukernels\":[", f32_simd_name(), peak);
    else {
        printf("SIMD: %s. Measured peak (6 mul + 6 add independent f32x4 chains): %.1f GFLOP/s\n", f32_simd_name(), peak);
        for (int u = 0; u < nuk; u++)
            printf("  %-24s %6.1f GFLOP/s  %5.1f%% of peak (L1-resident, k=256)\n", uks[u].name, ukg[u], 100 * ukg[u] / peak);
        printf("\n%-16s %-22s %5s %8s %9s %9s %8s\n", "layer", "shape (HxWxCin->Cout)", "count", "MFLOP", "ms", "GFLOP/s", "algo");
    }
    if (json)
        for (int u = 0; u < nuk; u++)
            printf("%s{\"name\":\"%s\",\"gflops\":%.2f}", u ? "," : "", uks[u].name, ukg[u]);
    if (json) printf("],\"layers\":[");

    double total_ms = 0, total_flop = 0;
    for (int l = 0; l < nl; l++) {
        f32_conv2d_shape *s = &layers[l].s;
        f32_conv2d_algo algo = f32_conv2d_choose(s);
        if (force >= 0 && f32_conv2d_algo_supports(s, (f32_conv2d_algo)force) && s->kh == 3) algo = force;
        size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
        double flop = bench_conv_flop(s);
        float *in = bench_rand(s->in_h * s->in_w * s->in_c), *w = bench_rand(s->kh * s->kw * s->in_c * s->out_c);
        float *bias = bench_rand(s->out_c), *out = malloc(oh * ow * s->out_c * sizeof(float));
        float *packed = malloc(f32_conv2d_packed_size_algo(s, algo) * sizeof(float));
        void *scratch = malloc(f32_conv2d_scratch_size_algo(s, algo) + 1);
        f32_conv2d_pack_algo(s, algo, w, bias, packed);
        double t;
        TIME_BEST(t, f32_conv2d_nhwc_algo(s, algo, F32_WASMSIMD, in, s->in_c, packed, out, s->out_c,
                                          0.0f, 1e30f, scratch));
        total_ms += t * 1e3 * layers[l].count;
        total_flop += flop * layers[l].count;
        char shape[64];
        snprintf(shape, sizeof shape, "%zux%zux%zu->%zu", s->in_h, s->in_w, s->in_c, s->out_c);
        if (json)
            printf("%s{\"layer\":\"%s\",\"shape\":\"%s\",\"count\":%d,\"mflop\":%.1f,\"ms\":%.3f,\"gflops\":%.2f,\"algo\":\"%s\"}",
                   l ? "," : "", layers[l].what, shape, layers[l].count, flop / 1e6, t * 1e3, flop / t / 1e9, algo_names[algo]);
        else
            printf("%-16s %-22s %5d %8.1f %9.3f %9.2f %8s\n", layers[l].what, shape, layers[l].count,
                   flop / 1e6, t * 1e3, flop / t / 1e9, algo_names[algo]);
        free(in); free(w); free(bias); free(out); free(packed); free(scratch);
    }

    /* dense 1024 -> 1000, one image */
    {
        const size_t k = 1024, n = 1000;
        float *a = bench_rand(k), *w = bench_rand(k * n), *bias = bench_rand(n), *c = malloc(n * sizeof(float));
        float *packed = malloc(f32_gemm_packed_size(k, n) * sizeof(float));
        f32_gemm_pack(k, n, w, bias, packed);
        double t, flop = 2.0 * k * n;
        TIME_BEST(t, f32_gemm(1, n, k, a, k, packed, c, n, -1e30f, 1e30f));
        if (json) printf("],\"dense\":{\"mflop\":%.2f,\"ms\":%.3f,\"gflops\":%.2f}", flop / 1e6, t * 1e3, flop / t / 1e9);
        else printf("%-16s %-22s %5d %8.1f %9.3f %9.2f %8s\n", "dense", "1x1024->1000", 1, flop / 1e6, t * 1e3, flop / t / 1e9, "gemm");
        free(a); free(w); free(bias); free(c); free(packed);
    }
    /* Fine-tuning's backward convolutions (kernels/backward.c) on conv5's shapes, batch 32:
     * at 32x32 inputs (1x1 pixels: the 3x3 runs as its centre tap) and at 224x224 (7x7), each
     * next to the forward convolution of the same shape (the peer, same run). */
    {
        const f32_conv2d_shape shapes[3] = {
            {32, 1, 1, 1008, 128, 1, 1, 1, 1, 0, 0, 0, 0},   /* conv5_block16_1_conv at S=32 */
            {32, 7, 7, 1008, 128, 1, 1, 1, 1, 0, 0, 0, 0},   /* ... at S=224 */
            {32, 7, 7, 128, 32, 3, 3, 1, 1, 1, 1, 1, 1},     /* conv5_block*_2_conv at S=224 */
        };
        if (json) printf(",\"backward\":[");
        else printf("\n%-24s %9s %9s %9s %9s\n", "backward (batch 32)", "fwd ms", "dW ms", "dX ms", "dW/fwd");
        for (int i = 0; i < 3; i++) {
            const f32_conv2d_shape *s = &shapes[i];
            size_t pixels = s->batch * s->in_h * s->in_w, m = s->batch * f32_conv2d_out_h(s) * f32_conv2d_out_w(s);
            float *x = bench_rand(pixels * s->in_c), *w = bench_rand(s->kh * s->kw * s->in_c * s->out_c);
            float *dy = bench_rand(m * s->out_c), *dw = malloc(s->kh * s->kw * s->in_c * s->out_c * sizeof(float));
            float *dx = calloc(pixels * s->in_c, sizeof(float)), *y = malloc(m * s->out_c * sizeof(float));
            float *scratch = malloc(f32_conv2d_backward_scratch_size(s) * sizeof(float));
            float *packed = malloc(f32_conv2d_packed_size(s) * sizeof(float));
            void *fscratch = malloc(f32_conv2d_scratch_size(s) + 1);
            f32_conv2d_pack(s, w, NULL, packed);
            double tf, tw, tx;
            TIME_BEST(tf, f32_conv2d_nhwc(s, x, s->in_c, packed, y, s->out_c, -1e30f, 1e30f, fscratch));
            TIME_BEST(tw, f32_conv2d_backward_weights(F32_WASMSIMD, s, x, s->in_c, dy, s->out_c, dw, NULL, scratch));
            TIME_BEST(tx, f32_conv2d_backward_input(F32_WASMSIMD, s, dy, s->out_c, w, dx, s->in_c, scratch));
            char shape[64];
            snprintf(shape, sizeof shape, "%zux%zu %zux%zux%zu->%zu", s->kh, s->kw, s->in_h, s->in_w, s->in_c, s->out_c);
            if (json) printf("%s{\"shape\":\"%s\",\"forward_ms\":%.3f,\"weights_ms\":%.3f,\"input_ms\":%.3f}", i ? "," : "", shape, tf * 1e3, tw * 1e3, tx * 1e3);
            else printf("%-24s %9.3f %9.3f %9.3f %9.2f\n", shape, tf * 1e3, tw * 1e3, tx * 1e3, tw / tf);
            free(x); free(w); free(dy); free(dw); free(dx); free(y); free(scratch); free(packed); free(fscratch);
        }
        if (json) printf("]");
    }
    /* One Adam step over the parameters of the softmax head (1024 -> 128 -> 10) and of
     * fine-tuning (conv5 + that head): the SIMD variant next to the scalar reference. */
    {
        const size_t sizes[2] = {132490, 2322826};
        const char *names[2] = {"softmax head", "conv5 + head"};
        if (json) printf(",\"adam\":[");
        else printf("\n%-24s %9s %9s %9s %9s\n", "adam step", "params", "scalar ms", "simd ms", "speedup");
        for (int i = 0; i < 2; i++) {
            size_t n = sizes[i];
            float *w = bench_rand(n), *g = bench_rand(n), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
            double ts, tv;
            TIME_BEST(ts, f32_adam_update_scalar(n, w, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-7f));
            TIME_BEST(tv, f32_adam_update_wasmsimd(n, w, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-7f));
            if (json) printf("%s{\"shape\":\"%s\",\"params\":%zu,\"scalar_ms\":%.3f,\"simd_ms\":%.3f}", i ? "," : "", names[i], n, ts * 1e3, tv * 1e3);
            else printf("%-24s %9zu %9.3f %9.3f %9.2f\n", names[i], n, ts * 1e3, tv * 1e3, ts / tv);
            free(w); free(g); free(m); free(v);
        }
        if (json) printf("]");
    }
    /* float16 feature storage: the page's 1 MB batch of features (256 rows of 1,024) to halves and
     * one row back (what a classifier reads per row), the SIMD variant next to the scalar reference. */
    {
        const size_t sizes[2] = {256 * 1024, 1024};
        const char *names[2] = {"f16_from_f32 256x1024", "f32_from_f16 1024"};
        if (json) printf(",\"f16\":[");
        else printf("\n%-24s %9s %9s %9s %9s\n", "float16 conversion", "values", "scalar ms", "simd ms", "speedup");
        for (int i = 0; i < 2; i++) {
            size_t n = sizes[i];
            float *x = bench_rand(n);
            uint16_t *h = malloc(n * sizeof(uint16_t));
            f16_from_f32_scalar(n, x, h);
            double ts, tv;
            if (i == 0) {
                TIME_BEST(ts, f16_from_f32_scalar(n, x, h));
                TIME_BEST(tv, f16_from_f32_wasmsimd(n, x, h));
            } else {
                TIME_BEST(ts, f32_from_f16_scalar(n, h, x));
                TIME_BEST(tv, f32_from_f16_wasmsimd(n, h, x));
            }
            if (json) printf("%s{\"shape\":\"%s\",\"values\":%zu,\"scalar_ms\":%.4f,\"simd_ms\":%.4f}", i ? "," : "", names[i], n, ts * 1e3, tv * 1e3);
            else printf("%-24s %9zu %9.4f %9.4f %9.2f\n", names[i], n, ts * 1e3, tv * 1e3, ts / tv);
            free(x); free(h);
        }
        if (json) printf("]");
    }
    /* The RBF SVM's kernel columns (learn/kernel_svm.c): 4 rows against the panels of the largest
     * one-vs-one pair at 60,000 (12,000 points of 1,024 features), the panels as floats (f32_gemm)
     * and as halves (f32_gemm_f16w, half the bytes streamed), and the latter's scalar reference. */
    {
        const size_t m = 4, n = 12000, k = 1024;
        float *a = bench_rand(m * k), *w = bench_rand(k * n), *c = malloc(m * n * sizeof(float));
        uint16_t *wh = malloc(k * n * sizeof(uint16_t));
        f16_from_f32(k * n, w, wh);
        f32_from_f16(k * n, wh, w);
        float *packed = malloc(f32_gemm_packed_size(k, n) * sizeof(float));
        uint16_t *packed_h = malloc(f32_gemm_packed_size(k, n) * sizeof(uint16_t));
        f32_gemm_pack(k, n, w, NULL, packed);
        f16_gemm_pack(k, n, wh, NULL, packed_h);
        double t32, t16, t16s;
        TIME_BEST(t32, f32_gemm(m, n, k, a, k, packed, c, n, -1e30f, 1e30f));
        TIME_BEST(t16, f32_gemm_f16w(m, n, k, a, k, packed_h, c, n, -1e30f, 1e30f));
        TIME_BEST(t16s, f32_gemm_f16w_variant(F32_SCALAR, m, n, k, a, k, packed_h, c, n, -1e30f, 1e30f));
        if (json) printf(",\"rbf_kernel_column\":{\"shape\":\"4x12000x1024\",\"f32_ms\":%.3f,\"f16w_ms\":%.3f,\"f16w_scalar_ms\":%.3f}", t32 * 1e3, t16 * 1e3, t16s * 1e3);
        else printf("\n%-24s %9s %9s %12s %9s\n%-24s %9.3f %9.3f %12.3f %9.2f\n", "rbf kernel column", "f32 ms", "f16w ms", "f16w scal ms", "f16w/f32",
                    "4x12000x1024", t32 * 1e3, t16 * 1e3, t16s * 1e3, t16 / t32);
        free(a); free(w); free(c); free(wh); free(packed); free(packed_h);
    }
    if (json)
        printf(",\"conv_total_ms\":%.2f,\"conv_total_gflop\":%.3f,\"quick\":%s}\n", total_ms, total_flop / 1e9, quick ? "true" : "false");
    else if (!quick)
        printf("\nAll DenseNet121 convolutions: %.2f GFLOP in %.1f ms = %.2f GFLOP/s (direct-conv FLOPs)\n",
               total_flop / 1e9, total_ms, total_flop / 1e9 / (total_ms / 1e3));
    else
        printf("\n(--quick: block totals not computed; run without --quick for the full-network sum)\n");
    return 0;
}
