/* model.c — read and verify a DenseLab model file (format in models/format.h),
 * and the Keras Applications arguments. */
#include "models/model_internal.h"
#include "common/checked.h"
#include "common/crc32.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounds-checked little-endian reader over the graph section. */
typedef struct { const uint8_t *p, *end; int bad; const char *why; } reader;

static uint64_t rd(reader *r, int bytes) {
    if (r->bad || (size_t)(r->end - r->p) < (size_t)bytes) { r->bad = 1; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}
static float rd_f32(reader *r) { uint32_t u = (uint32_t)rd(r, 4); float f; memcpy(&f, &u, 4); return f; }

/* Copy a length-prefixed string into the string arena. */
static char *rd_str(reader *r, char **arena) {
    size_t n = (size_t)rd(r, 2);
    if (r->bad || (size_t)(r->end - r->p) < n) { r->bad = 1; return NULL; }
    /* Keras names are ASCII identifiers; anything else (control characters,
     * terminal escapes, invalid UTF-8) would reach error messages and summaries. */
    for (size_t i = 0; i < n; i++)
        if (r->p[i] < 0x20 || r->p[i] > 0x7e) { r->bad = 1; r->why = "model file: a layer or tensor name has characters other than printable ASCII"; return NULL; }
    char *s = *arena;
    memcpy(s, r->p, n);
    s[n] = 0;
    *arena += n + 1;
    r->p += n;
    return s;
}

static int *rd_indices(reader *r, int n, char **arena) {
    /* The arena is sized from the graph section: never write more than it holds. */
    if (r->bad || (size_t)(r->end - r->p) / 4 < (size_t)n) { r->bad = 1; return NULL; }
    int *v = (int *)*arena;
    for (int i = 0; i < n; i++) v[i] = (int)rd(r, 4);
    *arena += (size_t)n * sizeof(int);
    return v;
}

static float half_to_float(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Tensor dimensions and layer sizes are at most this. */
#define DL_MAX_TENSOR_DIM (1 << 24)

static int in_range(const int *ip, int first, int last, int lo, int hi) {
    for (int k = first; k <= last; k++)
        if (ip[k] < lo || ip[k] > hi) return 0;
    return 1;
}

static const char *check_layer(const dl_model *m, int i) {
    const dl_layer *l = &m->layers[i];
    if (l->type < DL_INPUT || l->type >= DL_LAYER_TYPE_COUNT)
        return dl_errorf("model file: layer %s has unknown layer type %d", l->name, l->type);
    if (l->activation < DL_LINEAR || l->activation > DL_SOFTMAX)
        return dl_errorf("model file: layer %s has unknown activation %d", l->name, l->activation);
    for (int k = 0; k < l->n_inputs; k++)
        if (l->inputs[k] < 0 || l->inputs[k] >= i)
            return dl_errorf("model file: layer %s reads a layer that does not come before it", l->name);
    int want_inputs = l->type == DL_INPUT ? 0 : l->type == DL_CONCATENATE ? -1 : 1;
    if ((want_inputs >= 0 && l->n_inputs != want_inputs) || (want_inputs < 0 && l->n_inputs < 1))
        return dl_errorf("model file: layer %s has %d inputs", l->name, l->n_inputs);
    for (int k = 0; k < l->n_tensors; k++)
        if (l->tensors[k] < 0 || l->tensors[k] >= m->n_tensors)
            return dl_errorf("model file: layer %s names a tensor that does not exist", l->name);
    int want = l->type == DL_BATCH_NORM ? 4
             : l->type == DL_CONV2D ? 1 + (l->ip[DL_CONV_USE_BIAS] != 0)
             : l->type == DL_DENSE ? 1 + (l->ip[DL_DENSE_USE_BIAS] != 0) : 0;
    if (l->n_tensors != want)
        return dl_errorf("model file: layer %s has %d weight tensors, expected %d", l->name, l->n_tensors, want);
    switch (l->type) {
    case DL_CONV2D:
        if (!in_range(l->ip, DL_CONV_FILTERS, DL_CONV_STRIDE_W, 1, DL_MAX_TENSOR_DIM))
            return dl_errorf("model file: layer %s has an invalid convolution shape", l->name);
        break;
    case DL_MAX_POOL2D: case DL_AVG_POOL2D:
        if (!in_range(l->ip, DL_POOL_H, DL_POOL_STRIDE_W, 1, DL_MAX_TENSOR_DIM))
            return dl_errorf("model file: layer %s has an invalid pooling shape", l->name);
        break;
    case DL_ZERO_PADDING2D:
        if (!in_range(l->ip, DL_PAD_TOP, DL_PAD_RIGHT, 0, 1024))
            return dl_errorf("model file: layer %s has invalid padding", l->name);
        break;
    case DL_DENSE:
        if (!in_range(l->ip, DL_DENSE_UNITS, DL_DENSE_UNITS, 1, DL_MAX_TENSOR_DIM))
            return dl_errorf("model file: layer %s has no units or too many", l->name);
        break;
    case DL_BATCH_NORM:
        if (!(l->fp[DL_BN_EPSILON] >= 0)) return dl_errorf("model file: layer %s has an invalid epsilon", l->name);
        break;
    }
    return NULL;
}

const char *dl_model_load(const void *bytes, size_t n, dl_model **out) {
    const uint8_t *b = bytes;
    if (!b || n == 0) return "model file: empty";
    if (n < DL_HEADER_BYTES) return "model file: truncated (shorter than its header)";
    if (memcmp(b, DL_MAGIC, 8) != 0) return "model file: not a DenseLab model (wrong magic)";
    reader h = { b + 8, b + DL_HEADER_BYTES, 0, NULL };
    uint32_t version = (uint32_t)rd(&h, 4), flags = (uint32_t)rd(&h, 4);
    uint32_t n_layers = (uint32_t)rd(&h, 4), n_tensors = (uint32_t)rd(&h, 4);
    uint64_t graph_bytes = rd(&h, 8), data_bytes = rd(&h, 8);
    uint32_t crc = (uint32_t)rd(&h, 4);
    if (version != DL_VERSION)
        return dl_errorf("model file: version %u is not supported (this build reads version %d)", version, DL_VERSION);
    if (flags & ~DL_FLAG_FLOAT16) return dl_errorf("model file: unknown flags 0x%x", flags);
    if (n_layers == 0 || n_layers > 100000 || n_tensors > 100000) return "model file: implausible layer or tensor count";
    /* Both sizes are at most n (a size_t), so the sums below fit in 64 bits. */
    if (graph_bytes > n || data_bytes > n)
        return "model file: truncated (sizes in the header exceed the file)";
    uint64_t data_start = (DL_HEADER_BYTES + graph_bytes + 63) / 64 * 64;
    if (data_start + data_bytes > n)
        return dl_errorf("model file: truncated (%zu bytes, header says %llu)", n, (unsigned long long)(data_start + data_bytes));
    if (data_start + data_bytes < n)
        return dl_errorf("model file: %llu bytes of trailing garbage after the tensor data", (unsigned long long)(n - data_start - data_bytes));
    if (dl_crc32(b + DL_HEADER_BYTES, n - DL_HEADER_BYTES) != crc)
        return "model file: checksum mismatch (the file is corrupted)";

    /* Everything variable-sized goes in one arena no larger than the graph
     * section allows; float16 data doubles when widened. */
    size_t elem = flags & DL_FLAG_FLOAT16 ? 2 : 4, arena_bytes, records, weight_bytes;
    if (!dl_mul((size_t)n_layers + n_tensors, 16, &records) || !dl_mul((size_t)graph_bytes, 2, &arena_bytes) ||
        !dl_add(arena_bytes, records, &arena_bytes) || !dl_add(arena_bytes, 64, &arena_bytes) ||
        !dl_mul((size_t)data_bytes, 4 / elem, &weight_bytes))
        return "model file: too large for this platform";
    dl_model *m = calloc(1, sizeof *m);
    if (m) {
        m->layers = calloc(n_layers, sizeof *m->layers);
        m->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *m->tensors);
        m->strings = malloc(arena_bytes);
        m->weights = malloc(weight_bytes ? weight_bytes : 1);
    }
    if (!m || !m->layers || !m->tensors || !m->strings || !m->weights) { dl_model_free(m); return "out of memory loading the model"; }
    memcpy(m->name, b + 48, 16);
    m->crc = crc;
    m->n_layers = (int)n_layers;
    m->n_tensors = (int)n_tensors;

    reader r = { b + DL_HEADER_BYTES, b + DL_HEADER_BYTES + graph_bytes, 0, NULL };
    char *arena = m->strings;
    const char *err = NULL;
    for (uint32_t i = 0; i < n_layers && !r.bad; i++) {
        dl_layer *l = &m->layers[i];
        l->type = (int)rd(&r, 4);
        l->activation = (int)rd(&r, 4);
        l->name = rd_str(&r, &arena);
        uint32_t ni = (uint32_t)rd(&r, 4);
        if (ni > 4096 || r.bad) { r.bad = 1; break; }
        arena = (char *)(((uintptr_t)arena + 3) & ~(uintptr_t)3);
        l->n_inputs = (int)ni;
        l->inputs = rd_indices(&r, l->n_inputs, &arena);
        for (int k = 0; k < 8; k++) l->ip[k] = (int32_t)rd(&r, 4);
        for (int k = 0; k < 2; k++) l->fp[k] = rd_f32(&r);
        uint32_t nt = (uint32_t)rd(&r, 4);
        if (nt > 16 || r.bad) { r.bad = 1; break; }
        l->n_tensors = (int)nt;
        l->tensors = rd_indices(&r, l->n_tensors, &arena);
        if ((size_t)(arena - m->strings) > arena_bytes - 64) { r.bad = 1; break; }
    }
    for (uint32_t i = 0; i < n_tensors && !r.bad; i++) {
        dl_tensor *t = &m->tensors[i];
        t->name = rd_str(&r, &arena);
        t->ndim = (int)rd(&r, 4);
        if (t->ndim < 1 || t->ndim > 4) { err = "model file: a tensor has an invalid rank"; break; }
        t->count = 1;
        for (int k = 0; k < t->ndim && !err; k++) {
            uint32_t d = (uint32_t)rd(&r, 4);
            if (d < 1 || d > DL_MAX_TENSOR_DIM || !dl_mul(t->count, d, &t->count))
                err = dl_errorf("model file: tensor %s has an invalid shape", t->name ? t->name : "?");
            t->dims[k] = (int)d;
        }
        if (err) break;
        uint64_t off = rd(&r, 8);
        size_t bytes;   /* off <= data_bytes <= n, a size_t */
        if (off % 16 || off > data_bytes || !dl_mul(t->count, elem, &bytes) || bytes > (size_t)(data_bytes - off)) {
            err = dl_errorf("model file: tensor %s lies outside the data section", t->name ? t->name : "?");
            break;
        }
        float *dst = m->weights + off / elem;
        const uint8_t *src = b + data_start + off;
        if (elem == 4) memcpy(dst, src, bytes);
        else for (size_t k = 0; k < t->count; k++) dst[k] = half_to_float((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
        t->data = dst;
        if ((size_t)(arena - m->strings) > arena_bytes - 64) { r.bad = 1; break; }
    }
    if (!err && r.bad) err = r.why ? r.why : "model file: the graph section is truncated or malformed";
    if (!err && r.p != r.end) err = "model file: unexpected bytes at the end of the graph section";
    for (int i = 0; i < m->n_layers && !err; i++) err = check_layer(m, i);
    if (err) { dl_model_free(m); return err; }
    *out = m;
    return NULL;
}

void dl_model_free(dl_model *m) {
    if (!m) return;
    free(m->layers);
    free(m->tensors);
    free(m->strings);
    free(m->weights);
    free(m);
}

uint32_t dl_model_checksum(const dl_model *m) { return m->crc; }
const char *dl_model_name(const dl_model *m) { return m->name; }

/* ---- Keras Applications arguments ---------------------------------------- */

void dl_net_options_default(dl_net_options *o) {
    memset(o, 0, sizeof *o);
    o->include_top = 1;
    o->imagenet_weights = 1;
    o->classes = 1000;
    o->seed = 1;
    o->max_memory = DL_DEFAULT_MAX_MEMORY;
}

/* "1610612736", "1536MB", "1.5GB" (units of 1024) -> bytes. */
static int parse_bytes(const char *s, uint64_t *v) {
    char *end;
    double x = strtod(s, &end);
    if (end == s || !(x > 0)) return 0;
    double unit = 1;
    if (!strcmp(end, "KB") || !strcmp(end, "kB") || !strcmp(end, "K")) unit = 1024;
    else if (!strcmp(end, "MB") || !strcmp(end, "M")) unit = 1024.0 * 1024;
    else if (!strcmp(end, "GB") || !strcmp(end, "G")) unit = 1024.0 * 1024 * 1024;
    else if (*end && strcmp(end, "B")) return 0;
    x *= unit;
    if (!(x >= 1 && x < 18446744073709551616.0)) return 0;
    *v = (uint64_t)x;
    return 1;
}

static int parse_int(const char *s, int *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || *end || x < -(1L << 30) || x > (1L << 30)) return 0;
    *v = (int)x;
    return 1;
}

static int parse_bool(const char *s, int *v) {
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "1")) *v = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "0")) *v = 0;
    else return 0;
    return 1;
}

const char *dl_net_options_set(dl_net_options *o, const char *key, const char *value) {
    if (!key || !value) return "missing argument";
    if (!strcmp(key, "include_top")) {
        if (!parse_bool(value, &o->include_top)) return dl_errorf("include_top must be true or false; Received: include_top=%s", value);
    } else if (!strcmp(key, "weights")) {
        if (!strcmp(value, "imagenet")) o->imagenet_weights = 1;
        else if (!strcmp(value, "none") || !strcmp(value, "None") || !strcmp(value, "random") || !*value) o->imagenet_weights = 0;
        else return dl_errorf("The `weights` argument should be either `None` (random initialization), `imagenet` "
                              "(pre-training on ImageNet), or the path to the weights file to be loaded. Received: weights=%s", value);
    } else if (!strcmp(key, "input_shape")) {
        int v[3], k = 0;
        if (!strcmp(value, "none") || !strcmp(value, "None") || !*value) {
            o->input_shape_set = 0; o->input_h = o->input_w = o->input_c = 0;
            return NULL;
        }
        /* "224,224,3", "(224, 224, 3)" or "[224,224,3]" */
        for (const char *p = value; *p;) {
            if (strchr(",()[] ", *p)) { p++; continue; }
            char *end;
            long x = strtol(p, &end, 10);
            if (end == p || k == 3 || x < -(1L << 30) || x > (1L << 30))
                return dl_errorf("input_shape must be three integers like 224,224,3; Received: input_shape=%.64s", value);
            v[k++] = (int)x;
            p = end;
        }
        if (k != 3) return dl_errorf("input_shape must be three integers (height, width, channels); Received: input_shape=%.64s", value);
        o->input_shape_set = 1; o->input_h = v[0]; o->input_w = v[1]; o->input_c = v[2];
    } else if (!strcmp(key, "pooling")) {
        if (!strcmp(value, "none") || !strcmp(value, "None") || !*value) o->pooling = DL_POOLING_NONE;
        else if (!strcmp(value, "avg")) o->pooling = DL_POOLING_AVG;
        else if (!strcmp(value, "max")) o->pooling = DL_POOLING_MAX;
        else return dl_errorf("pooling must be None, 'avg' or 'max'; Received: pooling=%s", value);
    } else if (!strcmp(key, "classes")) {
        if (!parse_int(value, &o->classes) || o->classes < 1) return dl_errorf("classes must be a positive integer; Received: classes=%s", value);
    } else if (!strcmp(key, "seed")) {
        int s;
        if (!parse_int(value, &s) || s < 0) return dl_errorf("seed must be a non-negative integer; Received: seed=%s", value);
        o->seed = (uint32_t)s;
    } else if (!strcmp(key, "max_memory")) {
        if (!parse_bytes(value, &o->max_memory))
            return dl_errorf("max_memory must be a positive number of bytes (or with a unit: 1536MB, 2GB); Received: max_memory=%.64s", value);
    } else if (!strcmp(key, "gray_to_rgb")) {
        if (!parse_bool(value, &o->gray_to_rgb)) return dl_errorf("gray_to_rgb must be true or false; Received: gray_to_rgb=%.64s", value);
    } else {
        return dl_errorf("unknown argument %.64s (expected include_top, weights, input_shape, pooling, classes, seed, max_memory or gray_to_rgb)", key);
    }
    return NULL;
}
