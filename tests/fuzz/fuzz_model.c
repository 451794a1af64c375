/* fuzz_model.c — libFuzzer harness for the model-file loader and the network
 * builder, with a structure-aware mutator.
 *
 * The mutator (LLVMFuzzerCustomMutator) parses the .dlm layout of
 * models/format.h into layers and tensors, changes what a hostile file would
 * change — tensor dimensions and offsets, layer and tensor counts, layer
 * parameters, the graph (inputs, types, activations, concatenations of many
 * inputs, inserted and deleted layers) — optionally re-derives every weight
 * tensor from the changed graph so the file stays coherent, and writes the
 * file back with the header's sizes and CRC-32 recomputed: the loader's
 * checksum never hides the interesting paths. An input it cannot parse gets
 * libFuzzer's byte mutations and a recomputed CRC.
 *
 * The harness loads the input (as is, and with its header made consistent),
 * then builds networks from it with several Keras arguments, all on small
 * inputs and a 256 MB memory limit, and runs each one whose size stays small.
 * Inputs of reported, still open defects can be skipped (known_open(), at the end). */
#include "models/format.h"
#include "models/model.h"
#include "common/crc32.h"
#include "tests/fuzz/mutate.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the harness ----------------------------------------------------------- */

enum { RUN_MAX_INPUT = 64 * 64 * 3, RUN_MAX_PARAMS = 1 << 14 };
#define RUN_MAX_ARENA ((size_t)4 << 20)

/* options: NULL-terminated key, value pairs of Keras arguments on top of the defaults. */
static void build_and_run(const dl_model *m, const char *const *options) {
    dl_net_options o;
    dl_net_options_default(&o);
    /* The engine's memory limit where it has one (issue 10; an older engine
     * refuses the unknown key and the option stays unset). */
    dl_net_options_set(&o, "max_memory", "256MB");
    for (; options[0]; options += 2)
        if (dl_net_options_set(&o, options[0], options[1])) abort();   /* the harness's own options are valid */
    dl_net *net;
    if (dl_net_build(m, &o, &net)) return;
    char text[256];
    dl_net_summary(net, text, sizeof text);
    int in[3], out_shape[3];
    dl_net_input_shape(net, in);
    dl_net_output_shape(net, out_shape);
    size_t n_in = (size_t)in[0] * in[1] * in[2], n_out = dl_net_output_size(net), params, trainable;
    dl_net_param_counts(net, &params, &trainable);
    /* Run only small networks: the time of one input stays in milliseconds. */
    if (n_in <= RUN_MAX_INPUT && params <= RUN_MAX_PARAMS && dl_net_arena_bytes(net) <= RUN_MAX_ARENA && n_out <= RUN_MAX_ARENA) {
        float *x = calloc(2 * n_in, sizeof(float)), *y = malloc(2 * (n_out ? n_out : 1) * sizeof(float));
        for (size_t i = 0; x && i < 2 * n_in; i++) x[i] = (float)(i % 255) - 127.5f;
        if (x && y) dl_net_run(net, x, 2, y);
        free(x); free(y);
    }
    dl_net_free(net);
}

static int top_units(const uint8_t *data, size_t size);

static void try_load(const uint8_t *data, size_t size) {
    dl_model *m;
    if (dl_model_load(data, size, &m)) return;
    dl_model_checksum(m);
    dl_model_name(m);
    /* The file's own top: weights='imagenet' needs classes to match it. */
    char classes[16];
    snprintf(classes, sizeof classes, "%d", top_units(data, size));
    const char *const file_top[] = { "classes", classes, NULL };
    static const char *const features[] = { "include_top", "false", "input_shape", "32,33,3", "pooling", "avg", NULL };
    static const char *const gray[] = { "include_top", "false", "input_shape", "40,32,1", "pooling", "max", "gray_to_rgb", "true", NULL };
    static const char *const four_channels[] = { "weights", "none", "include_top", "false", "input_shape", "32,32,4", NULL };
    static const char *const random_top[] = { "weights", "none", "classes", "5", "input_shape", "32,32,3", NULL };
    build_and_run(m, file_top);
    build_and_run(m, features);
    build_and_run(m, gray);
    build_and_run(m, random_top);
    build_and_run(m, four_channels);
    dl_model_free(m);
}

/* Makes the header's data size and CRC-32 agree with a byte-mutated file. */
static void make_header_consistent(uint8_t *b, size_t size) {
    if (size < DL_HEADER_BYTES || memcmp(b, DL_MAGIC, 8)) return;
    uint64_t graph_bytes = get_le(b + 24, 8), data_start = (DL_HEADER_BYTES + graph_bytes + 63) / 64 * 64;
    if (graph_bytes < size && data_start <= size) put_le(b + 32, size - data_start, 8);
    put_le(b + 40, dl_crc32(b + DL_HEADER_BYTES, size - DL_HEADER_BYTES), 4);
}

static int known_open(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (known_open(data, size)) return 0;
    try_load(data, size);
    if (size < DL_HEADER_BYTES || memcmp(data, DL_MAGIC, 8)) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data, size);
    make_header_consistent(b, size);
    if (memcmp(b, data, size)) try_load(b, size);
    free(b);
    return 0;
}

/* ---- the model file as structs --------------------------------------------- */

enum { MAX_INPUTS = 4096, MAX_LAYER_TENSORS = 16, MAX_NAME = 255, MAX_RANK = 8 };
/* The smallest records: what the graph section can hold at most. */
enum { MIN_LAYER_RECORD = 4 + 4 + 2 + 4 + 32 + 8 + 4, MIN_TENSOR_RECORD = 2 + 4 + 8 };

typedef struct { uint16_t len; char s[MAX_NAME]; } name;

typedef struct {
    uint32_t type, activation;
    name name;
    uint32_t n_inputs, *inputs;
    int32_t ip[8];
    uint32_t fp[2];                          /* float bits: NaNs stay as they are */
    uint32_t n_tensors, tensors[MAX_LAYER_TENSORS];
} mlayer;

typedef struct {
    name name;
    uint32_t ndim, dims[MAX_RANK];
    uint64_t offset;
} mtensor;

typedef struct {
    uint8_t header[DL_HEADER_BYTES];         /* version, flags and model name are kept from here */
    uint32_t n_layers, n_tensors, cap_layers, cap_tensors;
    uint32_t tensors_read;                   /* of n_tensors, before the parse ended (or failed) */
    mlayer *layers;                          /* [cap_layers]: room for a few inserted layers */
    mtensor *tensors;                        /* [cap_tensors]: room for 4 per layer */
    uint8_t *data;
    size_t data_bytes;
} mmodel;

static void model_free(mmodel *m) {
    for (uint32_t i = 0; m->layers && i < m->n_layers; i++) free(m->layers[i].inputs);
    free(m->layers); free(m->tensors); free(m->data);
}

static size_t elem_bytes(const mmodel *m) { return get_le(m->header + 12, 4) & DL_FLAG_FLOAT16 ? 2 : 4; }

typedef struct { const uint8_t *p, *end; int bad; } reader;

static uint64_t rd(reader *r, int bytes) {
    if (r->bad || r->end - r->p < bytes) { r->bad = 1; return 0; }
    uint64_t v = get_le(r->p, bytes);
    r->p += bytes;
    return v;
}
static void rd_name(reader *r, name *n) {
    n->len = (uint16_t)rd(r, 2);
    if (r->bad || n->len > MAX_NAME || r->end - r->p < n->len) { r->bad = 1; return; }
    memcpy(n->s, r->p, n->len);
    r->p += n->len;
}

/* 0 if the input is not a model file this mutator can take apart. */
static int model_parse(const uint8_t *b, size_t size, mmodel *m) {
    memset(m, 0, sizeof *m);
    if (size < DL_HEADER_BYTES || memcmp(b, DL_MAGIC, 8)) return 0;
    memcpy(m->header, b, DL_HEADER_BYTES);
    m->n_layers = (uint32_t)get_le(b + 16, 4);
    m->n_tensors = (uint32_t)get_le(b + 20, 4);
    uint64_t graph_bytes = get_le(b + 24, 8);
    if (graph_bytes > size - DL_HEADER_BYTES || m->n_layers > graph_bytes / MIN_LAYER_RECORD) return 0;
    /* A header may state more tensors than the section holds: the loader reads
     * those that are there first, and so does this (known_open() looks at them). */
    uint32_t tensors_held = (uint32_t)(graph_bytes / MIN_TENSOR_RECORD);
    m->cap_layers = m->n_layers + 8;
    m->cap_tensors = (m->n_tensors < tensors_held ? m->n_tensors : tensors_held) + 4 * m->cap_layers;
    m->layers = calloc(m->cap_layers, sizeof *m->layers);
    m->tensors = calloc(m->cap_tensors, sizeof *m->tensors);
    if (!m->layers || !m->tensors) return 0;
    reader r = { b + DL_HEADER_BYTES, b + DL_HEADER_BYTES + graph_bytes, 0 };
    for (uint32_t i = 0; i < m->n_layers && !r.bad; i++) {
        mlayer *l = &m->layers[i];
        l->type = (uint32_t)rd(&r, 4);
        l->activation = (uint32_t)rd(&r, 4);
        rd_name(&r, &l->name);
        l->n_inputs = (uint32_t)rd(&r, 4);
        if (r.bad || l->n_inputs > MAX_INPUTS || !(l->inputs = malloc(sizeof(uint32_t) * (l->n_inputs + 1)))) { l->n_inputs = 0; return 0; }
        for (uint32_t k = 0; k < l->n_inputs; k++) l->inputs[k] = (uint32_t)rd(&r, 4);
        for (int k = 0; k < 8; k++) l->ip[k] = (int32_t)rd(&r, 4);
        for (int k = 0; k < 2; k++) l->fp[k] = (uint32_t)rd(&r, 4);
        l->n_tensors = (uint32_t)rd(&r, 4);
        if (l->n_tensors > MAX_LAYER_TENSORS) { l->n_tensors = 0; return 0; }
        for (uint32_t k = 0; k < l->n_tensors; k++) l->tensors[k] = (uint32_t)rd(&r, 4);
    }
    for (uint32_t i = 0; i < m->n_tensors && i < tensors_held && !r.bad; i++) {
        mtensor *t = &m->tensors[i];
        rd_name(&r, &t->name);
        t->ndim = (uint32_t)rd(&r, 4);
        if (t->ndim > MAX_RANK) return 0;
        for (uint32_t k = 0; k < t->ndim; k++) t->dims[k] = (uint32_t)rd(&r, 4);
        t->offset = rd(&r, 8);
        if (!r.bad) m->tensors_read = i + 1;
    }
    if (r.bad || m->n_tensors > tensors_held) return 0;
    size_t data_start = (DL_HEADER_BYTES + (size_t)graph_bytes + 63) / 64 * 64;
    m->data_bytes = data_start < size ? size - data_start : 0;
    if (!(m->data = malloc(m->data_bytes + 1))) return 0;
    if (m->data_bytes) memcpy(m->data, b + data_start, m->data_bytes);
    return 1;
}

static size_t graph_bytes_of(const mmodel *m) {
    size_t n = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const mlayer *l = &m->layers[i];
        n += 4 + 4 + 2 + l->name.len + 4 + 4 * (size_t)l->n_inputs + 32 + 8 + 4 + 4 * (size_t)l->n_tensors;
    }
    for (uint32_t i = 0; i < m->n_tensors; i++) n += 2 + m->tensors[i].name.len + 4 + 4 * (size_t)m->tensors[i].ndim + 8;
    return n;
}

/* Writes the file with consistent sizes and CRC; 0 if it does not fit in cap. */
static size_t model_write(const mmodel *m, uint8_t *out, size_t cap) {
    size_t graph = graph_bytes_of(m), data_start = (DL_HEADER_BYTES + graph + 63) / 64 * 64, total = data_start + m->data_bytes;
    if (total > cap) return 0;
    memset(out, 0, data_start);
    memcpy(out, m->header, DL_HEADER_BYTES);
    put_le(out + 16, m->n_layers, 4);
    put_le(out + 20, m->n_tensors, 4);
    put_le(out + 24, graph, 8);
    put_le(out + 32, m->data_bytes, 8);
    uint8_t *p = out + DL_HEADER_BYTES;
#define PUT(v, n) (put_le(p, (v), (n)), p += (n))
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const mlayer *l = &m->layers[i];
        PUT(l->type, 4); PUT(l->activation, 4);
        PUT(l->name.len, 2); memcpy(p, l->name.s, l->name.len); p += l->name.len;
        PUT(l->n_inputs, 4);
        for (uint32_t k = 0; k < l->n_inputs; k++) PUT(l->inputs[k], 4);
        for (int k = 0; k < 8; k++) PUT((uint32_t)l->ip[k], 4);
        for (int k = 0; k < 2; k++) PUT(l->fp[k], 4);
        PUT(l->n_tensors, 4);
        for (uint32_t k = 0; k < l->n_tensors; k++) PUT(l->tensors[k], 4);
    }
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const mtensor *t = &m->tensors[i];
        PUT(t->name.len, 2); memcpy(p, t->name.s, t->name.len); p += t->name.len;
        PUT(t->ndim, 4);
        for (uint32_t k = 0; k < t->ndim; k++) PUT(t->dims[k], 4);
        PUT(t->offset, 8);
    }
#undef PUT
    if (m->data_bytes) memcpy(out + data_start, m->data, m->data_bytes);
    put_le(out + 40, dl_crc32(out + DL_HEADER_BYTES, total - DL_HEADER_BYTES), 4);
    return total;
}

/* ---- graph mutations ---------------------------------------------------------- */

static int has_weights(uint32_t type) { return type == DL_CONV2D || type == DL_BATCH_NORM || type == DL_DENSE; }

static void set_name(name *n, const char *s) { n->len = (uint16_t)strlen(s); memcpy(n->s, s, n->len); }

static uint32_t random_earlier(fuzz_rng *r, uint32_t i) { return i ? rng_below(r, i) : 0; }

/* Inserts a copy of layer `from` at position `at`; later references shift. */
static int insert_layer(mmodel *m, uint32_t at, uint32_t from) {
    if (m->n_layers >= m->cap_layers || at > m->n_layers || from >= m->n_layers) return 0;
    mlayer copy = m->layers[from];
    if (!(copy.inputs = malloc(sizeof(uint32_t) * (copy.n_inputs + 1)))) return 0;
    memcpy(copy.inputs, m->layers[from].inputs, sizeof(uint32_t) * copy.n_inputs);
    memmove(&m->layers[at + 1], &m->layers[at], sizeof *m->layers * (m->n_layers - at));
    m->layers[at] = copy;
    m->n_layers++;
    for (uint32_t i = at + 1; i < m->n_layers; i++)
        for (uint32_t k = 0; k < m->layers[i].n_inputs; k++)
            if (m->layers[i].inputs[k] >= at) m->layers[i].inputs[k]++;
    return 1;
}

/* Removes layer `at`; its readers read its first input instead. */
static int delete_layer(mmodel *m, uint32_t at) {
    if (m->n_layers < 2 || at >= m->n_layers) return 0;
    uint32_t replacement = m->layers[at].n_inputs ? m->layers[at].inputs[0] : 0;
    free(m->layers[at].inputs);
    memmove(&m->layers[at], &m->layers[at + 1], sizeof *m->layers * (m->n_layers - at - 1));
    m->n_layers--;
    for (uint32_t i = at; i < m->n_layers; i++)
        for (uint32_t k = 0; k < m->layers[i].n_inputs; k++) {
            uint32_t *x = &m->layers[i].inputs[k];
            if (*x == at) *x = replacement < at ? replacement : (at ? at - 1 : 0);
            else if (*x > at && *x != UINT32_MAX) (*x)--;
        }
    return 1;
}

static int set_inputs(mlayer *l, uint32_t n, uint32_t value) {
    uint32_t *v = realloc(l->inputs, sizeof(uint32_t) * (n + 1));
    if (!v) return 0;
    l->inputs = v;
    for (uint32_t k = l->n_inputs; k < n; k++) v[k] = value;
    l->n_inputs = n;
    return 1;
}

/* A layer that concatenates `fan` copies of earlier layers: channel sums that
 * grow by that factor per concatenation and overflow after a few of them. */
static int concat_fan(mmodel *m, fuzz_rng *r) {
    static const uint32_t fans[] = { 2, 3, 17, 256, 1024, 4096 };
    uint32_t i = 1 + random_earlier(r, m->n_layers - 1);
    if (m->n_layers < 2) return 0;
    mlayer *l = &m->layers[i];
    uint32_t fan = fans[rng_below(r, sizeof fans / sizeof fans[0])], from = random_earlier(r, i);
    l->n_inputs = 0;
    if (!set_inputs(l, fan, from)) return 0;
    if (rng_chance(r, 2)) for (uint32_t k = 0; k < fan; k++) l->inputs[k] = i - 1 - (k % (i < 4 ? i : 4));
    l->type = DL_CONCATENATE;
    l->n_tensors = 0;
    return 1;
}

/* Kernel dimensions that are powers of two whose product times the element
 * size is a multiple of 2^(bits of size_t): a tensor byte count (or element
 * count) that wraps to 0. 'same' padding, so the kernel may exceed the input. */
static int conv_wrap(mmodel *m, fuzz_rng *r, size_t elem) {
    uint32_t i = 1 + random_earlier(r, m->n_layers - 1);
    if (m->n_layers < 2) return 0;
    mlayer *l = &m->layers[i];
    int need = SIZE_T_BITS - (rng_chance(r, 2) ? (elem == 4 ? 2 : 1) : 0), e[3] = { 0, 0, 0 };
    while (need > 0) {                           /* 3 x 24 bits hold the 64 needed */
        int k = (int)rng_below(r, 3), step = 1 + (int)rng_below(r, 8);
        if (step > need) step = need;
        if (step > 24 - e[k]) step = 24 - e[k];
        e[k] += step; need -= step;
    }
    l->type = DL_CONV2D;
    if (l->n_inputs != 1) { l->n_inputs = 0; set_inputs(l, 1, i - 1); }
    l->ip[0] = 1 << e[0]; l->ip[1] = 1 << e[1]; l->ip[2] = 1 << e[2];
    l->ip[3] = l->ip[4] = 1; l->ip[5] = 1; l->ip[6] = (int)rng_below(r, 2);
    return 1;
}

static void mutate_graph(mmodel *m, fuzz_rng *r, size_t elem) {
    if (!m->n_layers) return;
    uint32_t i = rng_below(r, m->n_layers);
    mlayer *l = &m->layers[i];
    switch (rng_below(r, 14)) {
    case 0: case 1: l->ip[rng_below(r, 8)] = (int32_t)interesting_u32(r); break;
    case 2: l->fp[rng_below(r, 2)] = f32_bits(interesting_f32(r)); break;
    case 3: l->type = rng_below(r, DL_LAYER_TYPE_COUNT + 1); break;
    case 4: l->activation = rng_chance(r, 4) ? interesting_u32(r) : rng_below(r, 3); break;
    case 5:                                      /* rewire one input */
        if (l->n_inputs) l->inputs[rng_below(r, l->n_inputs)] = rng_chance(r, 4) ? interesting_u32(r) : random_earlier(r, i + 1);
        break;
    case 6:                                      /* one input more or fewer */
        if (rng_chance(r, 2) && l->n_inputs) l->n_inputs--;
        else set_inputs(l, l->n_inputs + 1, random_earlier(r, i));
        break;
    case 7: concat_fan(m, r); break;
    case 8: insert_layer(m, 1 + random_earlier(r, m->n_layers), rng_below(r, m->n_layers)); break;
    case 9: delete_layer(m, rng_below(r, m->n_layers)); break;
    case 10: conv_wrap(m, r, elem); break;
    case 11:                                     /* the input layer's default size */
        m->layers[0].ip[rng_below(r, 3)] = rng_chance(r, 2) ? (int32_t)(32 + rng_below(r, 40)) : (int32_t)interesting_u32(r);
        break;
    case 12:                                     /* names: empty, control characters, invalid UTF-8 */
        if (rng_chance(r, 2)) l->name.len = (uint16_t)rng_below(r, MAX_NAME + 1);
        if (l->name.len) l->name.s[rng_below(r, l->name.len)] = (char)rng_below(r, 256);
        break;
    default: {                                   /* layer count in the graph vs. the header */
        uint32_t keep = rng_below(r, m->n_layers + 1);
        while (m->n_layers > keep && m->n_layers > 1) delete_layer(m, m->n_layers - 1);
        break;
    }
    }
}

/* ---- tensors ------------------------------------------------------------------- */

/* Channels of every layer as the builder infers them. */
static void channels(const mmodel *m, uint64_t *c) {
    for (uint32_t i = 0; i < m->n_layers; i++) {
        const mlayer *l = &m->layers[i];
        uint64_t in = l->n_inputs && l->inputs[0] < i ? c[l->inputs[0]] : 3;
        switch (l->type) {
        case DL_INPUT: c[i] = 3; break;
        case DL_CONV2D: case DL_DENSE: c[i] = (uint32_t)l->ip[0]; break;
        case DL_CONCATENATE:             /* saturating at 2^40: 4096 inputs cannot wrap 64 bits */
            c[i] = 0;
            for (uint32_t k = 0; k < l->n_inputs; k++) c[i] += l->inputs[k] < i ? c[l->inputs[k]] : 0;
            if (c[i] > (uint64_t)1 << 40) c[i] = (uint64_t)1 << 40;
            break;
        default: c[i] = in;
        }
    }
}

/* Rebuilds the tensor table and the data section from the graph: each layer
 * gets tensors of the shapes its parameters and inputs need, with the old
 * values where there were some. A tensor too large for `budget` keeps its
 * shape but points at offset 0 (a wrapped byte count then slips through). */
static void repair_tensors(mmodel *m, fuzz_rng *r, size_t budget) {
    uint64_t *c = calloc(m->n_layers + 1, sizeof *c);
    mtensor *old = malloc(sizeof *old * (m->n_tensors + 1));
    uint8_t *data = malloc(budget + 16);
    if (!c || !old || !data) { free(c); free(old); free(data); return; }
    channels(m, c);
    memcpy(old, m->tensors, sizeof *old * m->n_tensors);
    uint32_t n_old = m->n_tensors, n = 0;
    size_t elem = elem_bytes(m), used = 0;
    for (uint32_t i = 0; i < m->n_layers; i++) {
        mlayer *l = &m->layers[i];
        if (!has_weights(l->type)) { l->n_tensors = 0; continue; }
        uint64_t in = l->n_inputs && l->inputs[0] < i ? c[l->inputs[0]] : 3, units = (uint32_t)l->ip[0];
        uint32_t shapes[4][4], ranks[4], want = 0;
        if (l->type == DL_CONV2D) {
            shapes[0][0] = (uint32_t)l->ip[1]; shapes[0][1] = (uint32_t)l->ip[2]; shapes[0][2] = (uint32_t)in; shapes[0][3] = (uint32_t)units;
            ranks[want++] = 4;
            if (l->ip[6]) { shapes[want][0] = (uint32_t)units; ranks[want++] = 1; }
        } else if (l->type == DL_DENSE) {
            shapes[0][0] = (uint32_t)in; shapes[0][1] = (uint32_t)units; ranks[want++] = 2;
            if (l->ip[1]) { shapes[want][0] = (uint32_t)units; ranks[want++] = 1; }
        } else {
            for (; want < 4; want++) { shapes[want][0] = (uint32_t)in; ranks[want] = 1; }
        }
        for (uint32_t k = 0; k < want && n < m->cap_tensors; k++) {
            mtensor *t = &m->tensors[n];
            const mtensor *was = k < l->n_tensors && l->tensors[k] < n_old ? &old[l->tensors[k]] : NULL;
            memset(t, 0, sizeof *t);
            if (was) t->name = was->name;
            else { char s[32]; snprintf(s, sizeof s, "%u/w%u", i, k); set_name(&t->name, s); }
            t->ndim = ranks[k];
            uint64_t count = 1;
            int fits = 1;
            for (uint32_t d = 0; d < ranks[k]; d++) {
                t->dims[d] = shapes[k][d];
                fits = fits && !__builtin_mul_overflow(count, (uint64_t)t->dims[d], &count);
            }
            uint64_t bytes = count * elem;
            if (!fits || count > budget || used + bytes > budget) { l->tensors[k] = n++; continue; }
            t->offset = used;
            uint8_t *dst = data + used;
            size_t have = 0;
            if (was && was->offset < m->data_bytes) {
                have = m->data_bytes - (size_t)was->offset;
                if (have > bytes) have = (size_t)bytes;
                memcpy(dst, m->data + was->offset, have);
            }
            for (size_t b = have / elem * elem; b < bytes; b += elem) {
                float v = plausible_f32(r);
                if (l->type == DL_BATCH_NORM && k == 3) v = 1.0f + (v < 0 ? -v : v);   /* a variance */
                if (elem == 4) put_le(dst + b, f32_bits(v), 4);
                else put_le(dst + b, 0x3c00 ^ (rng_below(r, 2) << 15), 2);            /* +-1.0 in float16 */
            }
            used = (used + (size_t)bytes + 15) / 16 * 16;
            l->tensors[k] = n++;
        }
        l->n_tensors = want;
    }
    m->n_tensors = n;
    free(m->data);
    m->data = data;
    m->data_bytes = used;
    free(c); free(old);
}

static void mutate_tensor(mmodel *m, fuzz_rng *r) {
    if (!m->n_tensors) return;
    mtensor *t = &m->tensors[rng_below(r, m->n_tensors)];
    switch (rng_below(r, 5)) {
    case 0: if (t->ndim) t->dims[rng_below(r, t->ndim)] = interesting_u32(r); break;
    case 1: t->ndim = rng_below(r, 6); break;
    case 2: t->offset = interesting_u64(r, m->data_bytes); break;
    case 3: {                                    /* dimensions whose product wraps size_t */
        int need = SIZE_T_BITS - (int)rng_below(r, 3);
        t->ndim = 4;
        for (int d = 0; d < 4; d++) {
            int e = need > 24 ? 24 : need;
            t->dims[d] = 1u << (e < 0 ? 0 : e);
            need -= e;
        }
        break;
    }
    default: {                                   /* a layer reads another (or no) tensor */
        mlayer *l = &m->layers[rng_below(r, m->n_layers)];
        if (l->n_tensors) l->tensors[rng_below(r, l->n_tensors)] = rng_chance(r, 4) ? interesting_u32(r) : rng_below(r, m->n_tensors);
    }
    }
}

/* After writing: a header that disagrees with the body (the CRC still matches). */
static void mutate_header(uint8_t *b, size_t size, fuzz_rng *r) {
    static const int fields[][2] = { { 8, 4 }, { 12, 4 }, { 16, 4 }, { 20, 4 }, { 24, 8 }, { 32, 8 } };
    const int *f = fields[rng_below(r, 6)];
    put_le(b + f[0], f[1] == 8 ? interesting_u64(r, size) : interesting_u32(r), f[1]);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    fuzz_rng r = { seed * 0x9e3779b97f4a7c15ull + size };
    mmodel m = { 0 };
    if (rng_chance(&r, 16) || !model_parse(data, size, &m)) {
        model_free(&m);
        size = LLVMFuzzerMutate(data, size, max_size);
        make_header_consistent(data, size);
        return size;
    }
    if (rng_chance(&r, 8)) put_le(m.header + 12, get_le(m.header + 12, 4) ^ DL_FLAG_FLOAT16, 4);
    for (uint32_t k = 1 + rng_below(&r, 3); k; k--) mutate_graph(&m, &r, elem_bytes(&m));
    if (!rng_chance(&r, 4)) repair_tensors(&m, &r, max_size / 2);
    if (rng_chance(&r, 3)) mutate_tensor(&m, &r);
    if (rng_chance(&r, 8) && m.data_bytes) m.data_bytes = LLVMFuzzerMutate(m.data, m.data_bytes, m.data_bytes);
    uint8_t *out = malloc(max_size);
    size_t n = out ? model_write(&m, out, max_size) : 0;
    if (n) {
        if (rng_chance(&r, 16)) mutate_header(out, n, &r);
        memcpy(data, out, n);
    } else {
        n = LLVMFuzzerMutate(data, size, max_size);   /* grew past max_size: a plain mutation instead */
        make_header_consistent(data, n);
    }
    free(out);
    model_free(&m);
    return n;
}

/* ---- known open defects ---------------------------------------------------------
 * DENSELAB_FUZZ_SKIP_KNOWN names classes of reported, not yet fixed defects
 * (comma-separated; "all" or "1": every class). Inputs of those classes are
 * skipped, so a run explores past them instead of stopping there thousands of
 * times. tests/fuzz.test.js sets it from tests/fuzz/regressions/open.json,
 * whose entries go once the fix is in: then the class is fuzzed again. */

/* A tensor whose element count times its element size overflows size_t
 * (issue 10, defect 1: the loader's count *= dims[k] and count * elem wrap). */
static int tensor_count_wraps(const mmodel *m) {
    for (uint32_t i = 0; i < m->tensors_read; i++) {
        size_t count = 1;
        for (uint32_t k = 0; k < m->tensors[i].ndim; k++)
            if (__builtin_mul_overflow(count, (size_t)m->tensors[i].dims[k], &count)) return 1;
        if (__builtin_mul_overflow(count, (size_t)4, &count)) return 1;
    }
    return 0;
}

/* Units of the last layer if it is a Dense one, else Keras's default of 1000. */
static int top_units(const uint8_t *data, size_t size) {
    mmodel m = { 0 };
    int units = 1000;
    if (model_parse(data, size, &m) && m.n_layers && m.layers[m.n_layers - 1].type == DL_DENSE && m.layers[m.n_layers - 1].ip[0] > 0 &&
        m.layers[m.n_layers - 1].ip[0] <= (1 << 30))
        units = m.layers[m.n_layers - 1].ip[0];
    model_free(&m);
    return units;
}

/* Whether some layer i, with every layer's channel count c[] (graph.c's view),
 * satisfies bad(m, c, i): the walker the open classes below share. */
typedef int (*layer_check)(const mmodel *m, const uint64_t *c, uint32_t i);
static int some_layer(const mmodel *m, layer_check bad) {
    uint64_t *c = m->layers ? calloc(m->n_layers + 1, sizeof *c) : NULL;
    int found = 0;
    if (!c) return 0;
    channels(m, c);
    for (uint32_t i = 0; i < m->n_layers && !found; i++) found = bad(m, c, i);
    free(c);
    return found;
}

/* A concatenation with more than INT_MAX channels (issue 10, defect 1: the
 * int sum of channel counts in graph.c overflows). */
static int concat_too_wide(const mmodel *m, const uint64_t *c, uint32_t i) {
    return m->layers[i].type == DL_CONCATENATE && c[i] > INT32_MAX;
}
static int concat_channels_overflow(const mmodel *m) { return some_layer(m, concat_too_wide); }

/* A layer whose second and later weight tensors (BatchNorm beta, mean,
 * variance; a bias) hold fewer values than its channels: the builder checks
 * only the first tensor's shape (found by this fuzzer). */
static int tensor_short(const mmodel *m, const uint64_t *c, uint32_t i) {
    const mlayer *l = &m->layers[i];
    if (!has_weights(l->type)) return 0;
    uint64_t want = l->type == DL_BATCH_NORM ? (l->n_inputs && l->inputs[0] < i ? c[l->inputs[0]] : 3) : c[i];
    for (uint32_t k = 1; k < l->n_tensors; k++) {
        if (l->tensors[k] >= m->tensors_read) continue;
        const mtensor *t = &m->tensors[l->tensors[k]];
        uint64_t count = 1;
        for (uint32_t d = 0; d < t->ndim; d++) count *= t->dims[d];
        if (count < want) return 1;
    }
    return 0;
}
static int short_layer_tensor(const mmodel *m) { return some_layer(m, tensor_short); }

/* A layer so wide that one 32x32 image of it has more bytes than size_t
 * counts (32-bit builds, as WASM: issue 10, defects 2 and 3; found by this
 * fuzzer): the activation and arena sizes wrap and the run writes past them. */
static int activation_wraps(const mmodel *m, const uint64_t *c, uint32_t i) {
    size_t bytes;
    return c[i] > SIZE_MAX || __builtin_mul_overflow((size_t)c[i], (size_t)32 * 32 * sizeof(float), &bytes);
}
static int activation_size_wraps(const mmodel *m) { return some_layer(m, activation_wraps); }

/* A layer whose activations for one 32x32 image take more than 1 GB: such a
 * network is accepted and fails (or not) only in the allocator, after filling
 * hundreds of megabytes (issue 10, defect 2: no memory limit). */
static int activation_above_1gb(const mmodel *m, const uint64_t *c, uint32_t i) {
    return c[i] * 32 * 32 * sizeof(float) > ((uint64_t)1 << 30);
}
static int activations_above_1gb(const mmodel *m) { return some_layer(m, activation_above_1gb); }

/* A 'same' convolution with a stride near INT_MAX: the output size
 * (h + stride - 1) / stride overflows int (found by this fuzzer). */
static int conv_stride_overflows(const mmodel *m) {
    for (uint32_t i = 0; m->layers && i < m->n_layers; i++) {
        const mlayer *l = &m->layers[i];
        if (l->type == DL_CONV2D && l->ip[5] && (l->ip[3] > INT32_MAX - 8192 || l->ip[4] > INT32_MAX - 8192)) return 1;
    }
    return 0;
}

static const struct { const char *name; int (*reached_by)(const mmodel *); } open_classes[] = {
    { "conv-stride-overflow", conv_stride_overflows },
    { "memory-unbounded", activations_above_1gb },
    { "activation-size-wrap", activation_size_wraps },
    { "tensor-count-wrap", tensor_count_wraps },
    { "concat-channels-overflow", concat_channels_overflow },
    { "short-layer-tensor", short_layer_tensor },
};
enum { N_OPEN_CLASSES = sizeof open_classes / sizeof open_classes[0] };

static int known_open(const uint8_t *data, size_t size) {
    static int active[N_OPEN_CLASSES], any = -1;
    if (any < 0) {
        const char *v = getenv("DENSELAB_FUZZ_SKIP_KNOWN");
        any = 0;
        for (int k = 0; k < N_OPEN_CLASSES; k++)
            any |= active[k] = v && (!strcmp(v, "1") || !strcmp(v, "all") || strstr(v, open_classes[k].name));
    }
    if (!any) return 0;
    mmodel m = { 0 };
    model_parse(data, size, &m);             /* what parses before a failure counts: the loader reads it too */
    int known = 0;
    for (int k = 0; k < N_OPEN_CLASSES && !known; k++) known = active[k] && open_classes[k].reached_by(&m);
    model_free(&m);
    return known;
}
