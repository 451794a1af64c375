/* bench_xnnpack.c — kernels_bench_xnnpack (native only): the same DenseNet121
 * convolution shapes as kernels_bench, through the system XNNPACK
 * (xnn_create_convolution2d_nhwc_f32 / setup / run, single thread), next to
 * our f32_conv2d_nhwc, to compare per-shape GFLOP/s.
 *   kernels_bench_xnnpack [--json] [--quick] [--cpu]
 * Note: natively XNNPACK picks its best ISA here (AVX2/FMA if present), while
 * our kernels are the SSE2 mapping of the SIMD128 source, so this compares
 * against XNNPACK's native ceiling, not its WASM build.
 * --json: one line; layers[] carry XNNPACK's ms/gflops (ours in ours_*), in
 * the same layer/shape naming as kernels_bench --json. */
#include "kernels/kernels.h"
#include "kernels/bench_common.h"
#include <stdio.h>
#include <string.h>
#include <xnnpack.h>

int main(int argc, char **argv) {
    int json = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--cpu")) use_cpu_time = 1;
        else {
            fprintf(stderr, "usage: kernels_bench_xnnpack [--json] [--quick] [--cpu]\n");
            return 2;
        }
    }
    if (xnn_initialize(NULL) != xnn_status_success) {
        fprintf(stderr, "kernels_bench_xnnpack: xnn_initialize failed (unsupported CPU?)\n");
        return 1;
    }
    bench_layer layers[80];
    const int nl = densenet121_layers(layers, quick);
    double total_ours = 0, total_xnn = 0, total_flop = 0;
    if (json) printf("{\"layers\":[");
    else printf("%-16s %-22s %5s %8s %10s %10s\n", "layer", "shape (HxWxCin->Cout)", "count", "MFLOP",
                "ours GF/s", "XNNPACK GF/s");
    for (int l = 0; l < nl; l++) {
        const f32_conv2d_shape *s = &layers[l].s;
        const size_t oh = f32_conv2d_out_h(s), ow = f32_conv2d_out_w(s);
        const double flop = bench_conv_flop(s);
        float *in = bench_rand(s->in_h * s->in_w * s->in_c), *w = bench_rand(s->kh * s->kw * s->in_c * s->out_c);
        float *bias = bench_rand(s->out_c), *out = malloc(oh * ow * s->out_c * sizeof(float));
        float *packed = malloc(f32_conv2d_packed_size(s) * sizeof(float));
        void *scratch = malloc(f32_conv2d_scratch_size(s) + 1);
        f32_conv2d_pack(s, w, bias, packed);
        double t_ours, t_xnn = 0;
        TIME_BEST(t_ours, f32_conv2d_nhwc(s, in, s->in_c, packed, out, s->out_c, 0.0f, 1e30f, scratch));

        /* XNNPACK wants OHWI weights; values do not matter for timing, so
         * the same buffer is reused. */
        xnn_operator_t op = NULL;
        enum xnn_status st = xnn_create_convolution2d_nhwc_f32(
            s->pad_top, s->pad_right, s->pad_bottom, s->pad_left, s->kh, s->kw, s->stride_h, s->stride_w,
            1, 1, 1, s->in_c, s->out_c, s->in_c, s->out_c, w, bias, 0.0f, 1e30f, 0, &op);
        if (st == xnn_status_success)
            st = xnn_setup_convolution2d_nhwc_f32(op, 1, s->in_h, s->in_w, in, out, NULL);
        if (st == xnn_status_success)
            TIME_BEST(t_xnn, xnn_run_operator(op, NULL));
        else
            fprintf(stderr, "kernels_bench_xnnpack: XNNPACK failed on layer %d (status %d)\n", l, (int)st);
        if (op) xnn_delete_operator(op);

        total_ours += t_ours * layers[l].count;
        total_xnn += t_xnn * layers[l].count;
        total_flop += flop * layers[l].count;
        char shape[64];
        snprintf(shape, sizeof shape, "%zux%zux%zu->%zu", s->in_h, s->in_w, s->in_c, s->out_c);
        double g_xnn = t_xnn > 0 ? flop / t_xnn / 1e9 : 0;
        if (json)
            printf("%s{\"layer\":\"%s\",\"shape\":\"%s\",\"count\":%d,\"mflop\":%.1f,\"ms\":%.3f,\"gflops\":%.2f,"
                   "\"ours_ms\":%.3f,\"ours_gflops\":%.2f}",
                   l ? "," : "", layers[l].what, shape, layers[l].count, flop / 1e6, t_xnn * 1e3, g_xnn,
                   t_ours * 1e3, flop / t_ours / 1e9);
        else
            printf("%-16s %-22s %5d %8.1f %10.2f %10.2f\n", layers[l].what, shape, layers[l].count, flop / 1e6,
                   flop / t_ours / 1e9, g_xnn);
        free(in); free(w); free(bias); free(out); free(packed); free(scratch);
    }
    if (json)
        printf("],\"conv_total_ms\":%.2f,\"ours_conv_total_ms\":%.2f,\"conv_total_gflop\":%.3f,\"quick\":%s}\n",
               total_xnn * 1e3, total_ours * 1e3, total_flop / 1e9, quick ? "true" : "false");
    else if (!quick)
        printf("\nAll DenseNet121 convolutions (%.2f GFLOP): ours %.1f ms, XNNPACK %.1f ms\n",
               total_flop / 1e9, total_ours * 1e3, total_xnn * 1e3);
    xnn_deinitialize();
    return 0;
}
