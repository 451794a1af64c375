/* bench_common.h — shared by kernels_bench and kernels_bench_xnnpack: the
 * DenseNet121 (224x224) convolution shapes and a best-of timer. */
#ifndef DENSELAB_BENCH_COMMON_H
#define DENSELAB_BENCH_COMMON_H
#include "kernels/kernels.h"
#include <stdlib.h>
#include <time.h>

typedef struct { const char *what; f32_conv2d_shape s; int count; } bench_layer;

/* conv1 (on the ZeroPadding2D'd 230x230 input), then per dense block the 1x1
 * bottlenecks (cin grows by 32 per layer), the 3x3 growth convs (all alike,
 * timed once, counted nlay times) and the transition. --quick keeps only the
 * first and last bottleneck of each block. Returns the number of layers
 * (at most 80). */
static int densenet121_layers(bench_layer *layers, int quick) {
    int nl = 0;
    layers[nl++] = (bench_layer){"conv1 7x7/2", {1, 230, 230, 3, 64, 7, 7, 2, 2, 0, 0, 0, 0}, 1};
    const size_t res[4] = {56, 28, 14, 7}, c0[4] = {64, 128, 256, 512}, nlay[4] = {6, 12, 24, 16};
    for (int b = 0; b < 4; b++) {
        for (size_t i = 0; i < nlay[b]; i++) {
            if (quick && i != 0 && i != nlay[b] - 1) continue;
            layers[nl++] = (bench_layer){"1x1 bottleneck", {1, res[b], res[b], c0[b] + 32 * i, 128, 1, 1, 1, 1, 0, 0, 0, 0}, 1};
        }
        layers[nl++] = (bench_layer){"3x3 growth", {1, res[b], res[b], 128, 32, 3, 3, 1, 1, 1, 1, 1, 1}, (int)nlay[b]};
        if (b < 3) {
            size_t c = c0[b] + 32 * nlay[b];
            layers[nl++] = (bench_layer){"1x1 transition", {1, res[b], res[b], c, c / 2, 1, 1, 1, 1, 0, 0, 0, 0}, 1};
        }
    }
    return nl;
}

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
EM_JS(double, js_cpu_seconds, (void), {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
});
#endif

/* --cpu: time by CPU time consumed (this thread natively, the node process
 * in wasm) instead of wall time, for a machine shared with other work. */
static int use_cpu_time;

static double now(void) {
#ifdef __EMSCRIPTEN__
    if (use_cpu_time) return js_cpu_seconds();
#endif
    struct timespec ts;
#ifndef __EMSCRIPTEN__
    if (use_cpu_time) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec + ts.tv_nsec * 1e-9;
    }
#endif
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *bench_rand(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    unsigned s = 42;
    for (size_t i = 0; i < n && p; i++) { s = s * 1664525u + 1013904223u; p[i] = (float)(s >> 9) / (1 << 23) - 0.5f; }
    return p;
}

static double bench_conv_flop(const f32_conv2d_shape *s) {
    return 2.0 * s->batch * f32_conv2d_out_h(s) * f32_conv2d_out_w(s) * s->out_c * s->kh * s->kw * s->in_c;
}

/* Best time of a call, repeated until ~0.15 s in total (at least 3 runs). */
#define TIME_BEST(best, stmt) do { \
        double t_total = 0; best = 1e9; \
        for (int r_ = 0; r_ < 3 || t_total < 0.15; r_++) { \
            double t0_ = now(); stmt; double dt_ = now() - t0_; \
            t_total += dt_; if (dt_ < best) best = dt_; if (r_ > 200) break; } \
    } while (0)
#endif
