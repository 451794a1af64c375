/* fuzz_model.c — libFuzzer harness for the model-file loader.
 *
 * A mutated file almost never keeps its CRC-32 or its exact length, so most
 * inputs would stop at those two checks. The harness first makes the header
 * agree with the input (data_bytes = rest of the file, CRC recomputed) so the
 * graph and tensor parsers see the mutations; the unmodified input is tried
 * too. A model that loads is built (default options, include_top=false 32x32x3
 * with avg pooling, weights=None classes=5) and run once on zeros: the graph checks are part of the surface. */
#include "models/format.h"
#include "models/model.h"
#include "common/crc32.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_le(uint8_t *p, uint64_t v, int bytes) { for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << 8 * i;
    return v;
}

/* keys[i], values[i]: Keras arguments on top of the defaults. */
static void build_and_run(const dl_model *m, const char *const *keys, const char *const *values, int n) {
    dl_net_options o;
    dl_net_options_default(&o);
    for (int i = 0; i < n; i++) dl_net_options_set(&o, keys[i], values[i]);
    dl_net *net;
    if (dl_net_build(m, &o, &net)) return;
    char text[256];
    dl_net_summary(net, text, sizeof text);
    int in[3];
    dl_net_input_shape(net, in);
    size_t n_in = (size_t)in[0] * in[1] * in[2], n_out = dl_net_output_size(net);
    /* Keep each input cheap: run only small networks (the fuzzer can make huge ones). */
    if (n_in <= (size_t)64 * 64 * 3 && dl_net_arena_bytes(net) <= ((size_t)64 << 20)) {
        float *x = calloc(n_in, sizeof(float)), *y = malloc((n_out ? n_out : 1) * sizeof(float));
        if (x && y) dl_net_run(net, x, 1, y);
        free(x); free(y);
    }
    dl_net_free(net);
}

static void try_load(const uint8_t *data, size_t size) {
    dl_model *m;
    if (dl_model_load(data, size, &m)) return;
    dl_model_checksum(m);
    static const char *const keys[] = { "include_top", "input_shape", "pooling" };
    static const char *const features[] = { "false", "32,32,3", "avg" };
    static const char *const random_top[] = { "none", "5" }, *const random_keys[] = { "weights", "classes" };
    build_and_run(m, keys, features, 0);                 /* DenseNet121() */
    build_and_run(m, keys, features, 3);                 /* include_top=False, 32x32, pooling='avg' */
    build_and_run(m, random_keys, random_top, 2);        /* weights=None, classes=5 */
    dl_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size < DL_HEADER_BYTES || memcmp(data, DL_MAGIC, 8)) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data, size);
    uint64_t graph_bytes = get_le(b + 24, 8);
    uint64_t data_start = (DL_HEADER_BYTES + graph_bytes + 63) / 64 * 64;
    if (graph_bytes < size && data_start <= size) put_le(b + 32, size - data_start, 8);
    put_le(b + 40, dl_crc32(b + DL_HEADER_BYTES, size - DL_HEADER_BYTES), 4);
    if (memcmp(b, data, size)) try_load(b, size);
    free(b);
    return 0;
}
