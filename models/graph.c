/* graph.c — build a network from a model file and the Keras Applications
 * arguments, plan its memory, run it.
 *
 * dl_net_build, in order:
 *   1. layers:  the Keras layers of the requested model (the file's, minus the
 *               top, plus a pooling layer...) with output shapes and
 *               parameter counts — what model.summary() lists;
 *   2. nodes:   the operations actually executed (one table, dispatched in
 *               one place: run_node), built by one small function per
 *               rewrite: ZeroPadding2D absorbed into the next convolution,
 *               average pooling moved before a 1x1 convolution, BatchNorm
 *               folded into a convolution, ReLU folded into a clamp,
 *               BatchNorm -> ReLU as one scale-shift, softmax in place;
 *   3. storage: concatenations alias their inputs into one buffer (each conv
 *               writes its new channels straight into the block's buffer, so
 *               DenseNet's concats copy nothing; an input that cannot alias is
 *               copied), and buffers whose lifetimes do not overlap share
 *               memory in one arena;
 *   4. memory:  activations + packed weights + scratch, in checked
 *               arithmetic, against the max_memory limit — before anything
 *               large is allocated;
 *   5. weights: packed for the kernels (BatchNorm folded in); the file's, or
 *               Keras's initializers for weights=None.
 */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime (per-layer timing) under -std=c11 */
#include "models/model_internal.h"
#include "common/checked.h"
#include "common/parallel.h"
#include "common/rng.h"
#include "common/text.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Any height, width or channel count of a value; keeps every int product and
 * sum below in range (the file's tensor dimensions have the same bound). */
#define MAX_DIM (1 << 24)

/* ---- 1. layers ------------------------------------------------------------ */

typedef struct {
    int type, activation;
    const char *name;
    const char *class_name;
    int n_inputs;
    const int *inputs;
    int own_input;              /* storage for the input of an appended layer */
    int ip[8];                  /* named by models/format.h (DL_CONV_FILTERS...) */
    float fp[2];
    const float *w[4];          /* kernel [, bias] | gamma, beta, mean, variance; NULL: weights=None */
    int rank, h, w_, c;         /* output shape: rank 3 (h, w, c) or rank 1 (c) */
    int pad[4];                 /* conv 'same' padding: top, bottom, left, right */
    size_t params, trainable;
    int n_consumers, consumer;  /* consumer: the last one (the only one when n_consumers == 1) */
} layer;

/* ---- 2. nodes ------------------------------------------------------------- */

enum op { OP_INPUT, OP_PAD, OP_CONV, OP_SCALE_SHIFT, OP_MAX_POOL, OP_AVG_POOL, OP_CONCAT,
          OP_GLOBAL_AVG_POOL, OP_GLOBAL_MAX_POOL, OP_DENSE, OP_SOFTMAX };

typedef struct {
    int op;
    int in, out;                /* layer indices of the values read / written */
    f32_conv2d_shape conv;      /* OP_CONV, OP_DENSE (kh = kw = 1, in_c = k, out_c = n) */
    f32_pool2d_shape pool;
    int pad[4];                 /* OP_PAD: top, bottom, left, right */
    int layer;                  /* OP_CONV / OP_DENSE / OP_SCALE_SHIFT: whose weights */
    int folded_bn;              /* OP_CONV: BatchNorm folded into the weights, or -1 */
    size_t weight_floats;       /* packed weights, or scale + shift */
    float *packed;              /* OP_CONV / OP_DENSE weights, packed */
    float *scale, *shift;       /* OP_SCALE_SHIFT */
    float out_min, out_max;
    f32_conv2d_algo algo;       /* OP_CONV: f32_conv2d_choose's, once at build */
    size_t tap_offset;          /* OP_CONV: where the packed taps start in the kernel (f32_conv2d_single_tap) */
    int split, unit_rows;       /* threads: SPLIT_*, output rows per unit (plan_regions) */
    int region_end;             /* threads: the node's region is [its first node, region_end) */
} node;

enum { SPLIT_NONE, SPLIT_ROWS, SPLIT_CHANNELS };
static void plan_regions(dl_net *net);

/* ---- 3. storage ----------------------------------------------------------- */

typedef struct {
    int root;                   /* layer whose buffer holds this value (itself unless aliased) */
    size_t channel_offset;
    int copy_into_concat;       /* OP_CONCAT must copy this input (could not alias) */
    int first, last;            /* root only: node indices of first write and last read */
    size_t floats;              /* root only: floats per image */
    size_t offset;              /* root only: arena offset per image, in floats */
} storage;

struct dl_net {
    int n_layers, n_nodes;
    int n_keras;                /* layers[0, n_keras) are the Keras layers; internal values follow */
    layer *layers;
    node *nodes;
    storage *st;
    int output;                 /* layer index of the network output */
    int input_h, input_w, input_c;
    int model_c;                /* channels of the InputLayer: input_c, or 3 when gray_to_rgb repeats a gray input */
    int spatial_none;           /* Keras's height and width are None (include_top=False, input_shape=None) */
    const char *model_name;
    float **blocks;             /* owned: packed weights, scale/shift */
    int n_blocks, cap_blocks;
    size_t arena_floats;        /* per image */
    size_t weight_bytes;        /* packed weights and scale/shift, allocated at build */
    uint64_t max_memory;        /* bytes: weights + arena + scratch for a batch */
    float *arena;
    size_t arena_batch;
    void *scratch;
    int threads_checked;        /* the thread count memory_need last checked (each thread keeps scratch) */
    double *node_seconds;       /* dl_net_profile: wall time per node, summed over runs */
    int tap;                    /* dl_net_tap_input: the layer copied out by dl_net_run_tapped (0: none) */
    double *node_critical;      /* dl_net_profile: critical-path CPU time per node (dl_parallel_critical_seconds) */
    double *node_busy;          /* dl_net_profile: the caller thread's time per node in the current region */
};

static float *own(dl_net *net, size_t n) {
    size_t bytes;
    if (!dl_mul(n ? n : 1, sizeof(float), &bytes)) return NULL;
    if (net->n_blocks == net->cap_blocks) {
        int cap = net->cap_blocks ? 2 * net->cap_blocks : 256;
        float **b = realloc(net->blocks, sizeof *b * (size_t)cap);
        if (!b) return NULL;
        net->blocks = b; net->cap_blocks = cap;
    }
    float *p = malloc(bytes);
    if (p) net->blocks[net->n_blocks++] = p;
    return p;
}

#define DL_CLASS_NAME(name, value, keras) [name] = keras,
static const char *class_names[DL_LAYER_TYPE_COUNT] = { DL_LAYER_TYPES(DL_CLASS_NAME) };
#undef DL_CLASS_NAME

/* a * b, or SIZE_MAX when it does not fit (only ever compared or printed). */
static size_t product(size_t a, size_t b) { size_t r; return dl_mul(a, b, &r) ? r : SIZE_MAX; }

static const char *set_shape(layer *l, int rank, long long h, long long w, long long c) {
    if (h < 1 || w < 1 || c < 1 || h > MAX_DIM || w > MAX_DIM || c > MAX_DIM)
        return dl_errorf("layer %s: output shape (%lld, %lld, %lld) is out of range", l->name, h, w, c);
    l->rank = rank; l->h = (int)h; l->w_ = (int)w; l->c = (int)c;
    return NULL;
}

/* The file's tensors of a layer from `first` on (biases, BatchNorm's four)
 * must be vectors of n: the kernels read n values from each. */
static const char *check_vectors(const dl_model *m, const layer *l, int model_layer, int first, int n) {
    if (model_layer < 0) return NULL;
    const dl_layer *ml = &m->layers[model_layer];
    for (int k = first; k < ml->n_tensors; k++) {
        const dl_tensor *t = &m->tensors[ml->tensors[k]];
        if (t->ndim != 1 || t->dims[0] != n)
            return dl_errorf("model file: %s of %s has %zu values, the layer needs %d", t->name, l->name, t->count, n);
    }
    return NULL;
}

/* Output shape of layer i from its inputs; checks the file's tensors agree. */
static const char *infer_shape(const dl_model *m, dl_net *net, int i, int model_layer) {
    layer *l = &net->layers[i];
    const layer *in = l->n_inputs ? &net->layers[l->inputs[0]] : NULL;
    const dl_tensor *t = model_layer >= 0 && m->layers[model_layer].n_tensors ? &m->tensors[m->layers[model_layer].tensors[0]] : NULL;
    const char *err = NULL;
    if (in && l->type != DL_DENSE && l->type != DL_ACTIVATION && in->rank != 3) return dl_errorf("layer %s expects a 4-D input", l->name);
    switch (l->type) {
    case DL_INPUT:
        return set_shape(l, 3, net->input_h, net->input_w, net->model_c);
    case DL_ZERO_PADDING2D:
        return set_shape(l, 3, (long long)in->h + l->ip[DL_PAD_TOP] + l->ip[DL_PAD_BOTTOM],
                         (long long)in->w_ + l->ip[DL_PAD_LEFT] + l->ip[DL_PAD_RIGHT], in->c);
    case DL_CONV2D: {
        int f = l->ip[DL_CONV_FILTERS], kh = l->ip[DL_CONV_KH], kw = l->ip[DL_CONV_KW];
        int sh = l->ip[DL_CONV_STRIDE_H], sw = l->ip[DL_CONV_STRIDE_W];
        /* weights=None reads no kernel: its input channels follow input_shape (Keras builds any count then) */
        int file_c = t && !l->w[0] && t->ndim == 4 ? t->dims[2] : in->c;
        if (t && (t->ndim != 4 || t->dims[0] != kh || t->dims[1] != kw || t->dims[2] != file_c || t->dims[3] != f))
            return dl_errorf("model file: kernel of %s has shape (%d, %d, %d, %d), the graph needs (%d, %d, %d, %d)", l->name,
                             t->dims[0], t->ndim > 1 ? t->dims[1] : 0, t->ndim > 2 ? t->dims[2] : 0, t->ndim > 3 ? t->dims[3] : 0, kh, kw, file_c, f);
        long long oh, ow;
        if (l->ip[DL_CONV_SAME_PADDING]) {     /* 'same': TF puts the extra padding row/column at the end */
            oh = ((long long)in->h + sh - 1) / sh; ow = ((long long)in->w_ + sw - 1) / sw;
            long long ph = (oh - 1) * sh + kh - in->h, pw = (ow - 1) * sw + kw - in->w_;
            if (ph < 0) ph = 0;
            if (pw < 0) pw = 0;
            l->pad[0] = (int)(ph / 2); l->pad[1] = (int)(ph - ph / 2); l->pad[2] = (int)(pw / 2); l->pad[3] = (int)(pw - pw / 2);
        } else {
            if (in->h < kh || in->w_ < kw) return dl_errorf("layer %s: input %dx%d is smaller than its %dx%d kernel; use a larger input_shape", l->name, in->h, in->w_, kh, kw);
            oh = (in->h - kh) / sh + 1; ow = (in->w_ - kw) / sw + 1;
        }
        if ((err = check_vectors(m, l, model_layer, 1, f))) return err;
        l->params = product(product(product(kh, kw), (size_t)in->c), (size_t)f);
        if (l->ip[DL_CONV_USE_BIAS] && l->params != SIZE_MAX) l->params += (size_t)f;
        l->trainable = l->params;
        return set_shape(l, 3, oh, ow, f);
    }
    case DL_BATCH_NORM:
        if (t && (t->ndim != 1 || t->dims[0] != in->c)) return dl_errorf("model file: %s has %d channels of parameters, its input has %d", l->name, t->dims[0], in->c);
        if ((err = check_vectors(m, l, model_layer, 1, in->c))) return err;
        l->params = 4 * (size_t)in->c; l->trainable = 2 * (size_t)in->c;
        return set_shape(l, 3, in->h, in->w_, in->c);
    case DL_ACTIVATION:
        l->rank = in->rank; l->h = in->h; l->w_ = in->w_; l->c = in->c;
        return NULL;
    case DL_MAX_POOL2D: case DL_AVG_POOL2D: {
        int ph = l->ip[DL_POOL_H], pw = l->ip[DL_POOL_W];
        if (in->h < ph || in->w_ < pw) return dl_errorf("layer %s: input %dx%d is smaller than the %dx%d pool; use a larger input_shape", l->name, in->h, in->w_, ph, pw);
        return set_shape(l, 3, (in->h - ph) / l->ip[DL_POOL_STRIDE_H] + 1, (in->w_ - pw) / l->ip[DL_POOL_STRIDE_W] + 1, in->c);
    }
    case DL_CONCATENATE: {
        long long c = 0;      /* at most 4096 inputs of at most MAX_DIM channels: no overflow */
        for (int k = 0; k < l->n_inputs; k++) {
            const layer *x = &net->layers[l->inputs[k]];
            if (x->rank != 3 || x->h != in->h || x->w_ != in->w_) return dl_errorf("layer %s: inputs have different spatial shapes", l->name);
            c += x->c;
        }
        return set_shape(l, 3, in->h, in->w_, c);
    }
    case DL_GLOBAL_AVG_POOL2D: case DL_GLOBAL_MAX_POOL2D:
        l->rank = 1; l->c = in->c;
        return NULL;
    case DL_DENSE:
        if (in->rank != 1) return dl_errorf("layer %s expects a flat input", l->name);
        if (t && (t->ndim != 2 || t->dims[0] != in->c || t->dims[1] != l->ip[DL_DENSE_UNITS]))
            return dl_errorf("model file: kernel of %s does not match its input of %d features", l->name, in->c);
        if ((err = check_vectors(m, l, model_layer, 1, l->ip[DL_DENSE_UNITS]))) return err;
        l->params = product((size_t)in->c, (size_t)l->ip[DL_DENSE_UNITS]);
        if (l->ip[DL_DENSE_USE_BIAS] && l->params != SIZE_MAX) l->params += (size_t)l->ip[DL_DENSE_UNITS];
        l->trainable = l->params;
        return set_shape(l, 1, 1, 1, l->ip[DL_DENSE_UNITS]);
    }
    return dl_errorf("layer %s: unsupported layer type", l->name);
}

/* Keras's checks in Keras's order (densenet.py, then imagenet_utils.obtain_input_shape),
 * with Keras's messages; DenseLab's own limits follow. *model_c: the InputLayer's channels. */
static const char *check_options(const dl_model *m, const dl_net_options *o, int *h, int *w, int *c, int *model_c) {
    const dl_layer *in = &m->layers[0];
    int dh = in->ip[DL_INPUT_H] > 0 ? in->ip[DL_INPUT_H] : 224, dw = in->ip[DL_INPUT_W] > 0 ? in->ip[DL_INPUT_W] : 224;
    const dl_layer *top = &m->layers[m->n_layers - 1];
    int top_units = top->type == DL_DENSE ? top->ip[DL_DENSE_UNITS] : 0;
    if (o->imagenet_weights && o->include_top && top_units && o->classes != top_units)
        return dl_errorf("If using `weights` as `\"imagenet\"` with `include_top` as true, `classes` should be %d. Received: classes=%d", top_units, o->classes);
    if (o->classes < 1) return dl_errorf("classes must be a positive integer; Received: classes=%d", o->classes);
    *h = o->input_shape_set ? o->input_h : dh;
    *w = o->input_shape_set ? o->input_w : dw;
    *c = o->input_shape_set ? o->input_c : 3;
    *model_c = o->gray_to_rgb && *c == 1 ? 3 : *c;     /* the extension: Keras itself never repeats */
    /* Messages show the shape Keras is given: with the extension, the repeated (h, w, 3). */
    if (o->input_shape_set && o->include_top && o->imagenet_weights && (*h != dh || *w != dw || *model_c != 3))
        return dl_errorf("When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be (%d, %d, 3).  Received: input_shape=(%d, %d, %d)", dh, dw, *h, *w, *model_c);
    if (o->imagenet_weights && *model_c != 3)
        return dl_errorf("The input must have 3 channels; Received `input_shape=(%d, %d, %d)`", *h, *w, *model_c);
    if (*h < 32 || *w < 32)
        return dl_errorf("Input size must be at least 32x32; Received: input_shape=(%d, %d, %d)", *h, *w, *model_c);
    if (*h > 4096 || *w > 4096)
        return dl_errorf("Input size must be at most 4096x4096; Received: input_shape=(%d, %d, %d)", *h, *w, *model_c);
    if (*c < 1 || *c > 4096)      /* weights=None takes any count; Keras fails later on 0 */
        return dl_errorf("The input must have from 1 to 4096 channels; Received: input_shape=(%d, %d, %d)", *h, *w, *c);
    if (o->pooling < DL_POOLING_NONE || o->pooling > DL_POOLING_MAX) return "pooling must be None, 'avg' or 'max'";
    if (o->max_memory == 0) return "max_memory must be positive";
    return NULL;
}

/* The last layer with a 4-D output ends the convolutional base. */
static int feature_end(const dl_net *net) {
    int end = 0;
    for (int i = 0; i < net->n_layers; i++) if (net->layers[i].rank == 3) end = i;
    return end;
}

/* include_top=False: cut at the convolutional base, append the pooling layer. */
static const char *cut_top(const dl_model *m, dl_net *net, int pooling) {
    net->n_layers = feature_end(net) + 1;
    if (!pooling) return NULL;
    layer *p = &net->layers[net->n_layers];
    memset(p, 0, sizeof *p);
    p->type = pooling == DL_POOLING_AVG ? DL_GLOBAL_AVG_POOL2D : DL_GLOBAL_MAX_POOL2D;
    p->name = pooling == DL_POOLING_AVG ? "avg_pool" : "max_pool";
    p->own_input = net->n_layers - 1;
    p->inputs = &p->own_input; p->n_inputs = 1;
    net->n_layers++;
    return infer_shape(m, net, net->n_layers - 1, -1);
}

/* weights=None with the top: the classifier gets `classes` units. */
static void set_classes(dl_net *net, int classes) {
    layer *d = &net->layers[net->n_layers - 1];
    d->ip[DL_DENSE_UNITS] = classes;
    d->c = classes;
    d->params = product((size_t)net->layers[d->inputs[0]].c, (size_t)classes);
    if (d->ip[DL_DENSE_USE_BIAS] && d->params != SIZE_MAX) d->params += (size_t)classes;
    d->trainable = d->params;
}

static const char *build_layers(const dl_model *m, const dl_net_options *o, dl_net *net) {
    net->layers = calloc(2 * (size_t)m->n_layers + 2, sizeof *net->layers);   /* room for internal values */
    if (!net->layers) return "out of memory";
    if (m->layers[0].type != DL_INPUT) return "model file: the first layer is not an InputLayer";
    for (int i = 0; i < m->n_layers; i++) {
        const dl_layer *ml = &m->layers[i];
        layer *l = &net->layers[i];
        l->type = ml->type; l->activation = ml->activation; l->name = ml->name;
        l->n_inputs = ml->n_inputs; l->inputs = ml->inputs;
        memcpy(l->ip, ml->ip, sizeof l->ip); memcpy(l->fp, ml->fp, sizeof l->fp);
        if (o->imagenet_weights)
            for (int k = 0; k < ml->n_tensors; k++) l->w[k] = m->tensors[ml->tensors[k]].data;
        if (i > 0 && ml->type == DL_INPUT) return "model file: more than one InputLayer";
        net->n_layers = i + 1;
        const char *err = infer_shape(m, net, i, i);
        if (err) return err;
    }
    if (!o->include_top) {
        const char *err = cut_top(m, net, o->pooling);
        if (err) return err;
    } else if (!o->imagenet_weights && net->layers[net->n_layers - 1].type == DL_DENSE) {
        set_classes(net, o->classes);
    }
    for (int i = 0; i < net->n_layers; i++) net->layers[i].class_name = class_names[net->layers[i].type];
    for (int i = 0; i < net->n_layers; i++)
        for (int k = 0; k < net->layers[i].n_inputs; k++) {
            layer *x = &net->layers[net->layers[i].inputs[k]];
            x->n_consumers++;
            x->consumer = i;
        }
    net->output = net->n_layers - 1;
    net->n_keras = net->n_layers;
    net->layers[net->output].n_consumers++;     /* the caller reads it */
    net->layers[net->output].consumer = -1;
    return NULL;
}

/* ---- 2. nodes: one function per rewrite ----------------------------------- */

static int sole_consumer(const dl_net *net, int i, int type) {
    const layer *l = &net->layers[i];
    if (l->n_consumers != 1 || l->consumer < 0) return -1;
    return net->layers[l->consumer].type == type ? l->consumer : -1;
}

static int sole_relu(const dl_net *net, int i) {
    int a = sole_consumer(net, i, DL_ACTIVATION);
    return a >= 0 && net->layers[a].activation == DL_RELU ? a : -1;
}

static node *emit(dl_net *net, int in, int out) {
    node *n = &net->nodes[net->n_nodes++];
    memset(n, 0, sizeof *n);
    n->in = in; n->out = out;
    n->layer = n->folded_bn = -1;
    n->out_min = -INFINITY; n->out_max = INFINITY;
    return n;
}

/* ZeroPadding2D read only by a convolution: the convolution pads instead. */
static int padding_absorbed(const dl_net *net, int i) { return sole_consumer(net, i, DL_CONV2D) >= 0; }

/* The convolution reading *in adds that padding to its own pad[] and reads
 * the padding's input instead. */
static void absorb_padding(const dl_net *net, int *in, int pad[4]) {
    const layer *p = &net->layers[*in];
    if (p->type != DL_ZERO_PADDING2D || !padding_absorbed(net, *in)) return;
    pad[0] += p->ip[DL_PAD_TOP]; pad[1] += p->ip[DL_PAD_BOTTOM];
    pad[2] += p->ip[DL_PAD_LEFT]; pad[3] += p->ip[DL_PAD_RIGHT];
    *in = p->inputs[0];
}

/* A linear 1x1 stride-1 unpadded convolution read only by average pooling
 * (DenseNet's transitions): both are linear, so pool first and convolve a
 * quarter of the pixels. Emits the pooling node into an internal value,
 * which *in becomes; returns the pooling layer (absorbed), or -1. */
static int pool_before_pointwise_conv(dl_net *net, int i, const int pad[4], int *in) {
    const layer *l = &net->layers[i];
    int pointwise = l->ip[DL_CONV_KH] == 1 && l->ip[DL_CONV_KW] == 1 && l->ip[DL_CONV_STRIDE_H] == 1 &&
                    l->ip[DL_CONV_STRIDE_W] == 1 && !pad[0] && !pad[1] && !pad[2] && !pad[3];
    int pool = pointwise && l->activation == DL_LINEAR ? sole_consumer(net, i, DL_AVG_POOL2D) : -1;
    if (pool < 0) return -1;
    const layer *pl = &net->layers[pool], *src = &net->layers[*in];
    int e = net->n_layers++;
    layer *pooled = &net->layers[e];
    memset(pooled, 0, sizeof *pooled);
    pooled->type = DL_AVG_POOL2D; pooled->name = "(pooled input)";
    pooled->rank = 3; pooled->h = pl->h; pooled->w_ = pl->w_; pooled->c = src->c;
    node *n = emit(net, *in, e);
    n->op = OP_AVG_POOL;
    n->pool = (f32_pool2d_shape){ 1, (size_t)src->h, (size_t)src->w_, (size_t)src->c,
        (size_t)pl->ip[DL_POOL_H], (size_t)pl->ip[DL_POOL_W], (size_t)pl->ip[DL_POOL_STRIDE_H], (size_t)pl->ip[DL_POOL_STRIDE_W] };
    *in = e;
    return pool;
}

/* A linear convolution read only by a BatchNorm: the BatchNorm is folded
 * into its weights and bias at packing time. Returns the BatchNorm, or -1. */
static int fold_batch_norm(const dl_net *net, int conv) {
    return net->layers[conv].activation == DL_LINEAR ? sole_consumer(net, conv, DL_BATCH_NORM) : -1;
}

/* ReLU as the clamp of the node that produced `end` (layer i's own
 * activation, or a ReLU layer that is the sole reader). Returns the value the
 * node now produces. */
static int fold_relu(const dl_net *net, node *n, int i, int end, char *absorbed) {
    const layer *l = &net->layers[i];
    int relu = l->activation == DL_RELU ? i : l->activation == DL_LINEAR ? sole_relu(net, end) : -1;
    if (relu < 0) return end;
    n->out_min = 0;
    if (relu == i) return end;
    absorbed[relu] = 1;
    return relu;
}

/* Softmax runs in place on the value just produced. */
static void softmax_in_place(dl_net *net, int value) {
    node *s = emit(net, value, value);
    s->op = OP_SOFTMAX;
}

static void conv_or_dense_node(dl_net *net, int i, char *absorbed) {
    const layer *l = &net->layers[i];
    int conv = l->type == DL_CONV2D, pad[4] = { l->pad[0], l->pad[1], l->pad[2], l->pad[3] };
    int in = l->inputs[0], end = i;
    if (conv) absorb_padding(net, &in, pad);
    int pool = conv ? pool_before_pointwise_conv(net, i, pad, &in) : -1;
    if (pool >= 0) { absorbed[pool] = 1; end = pool; }
    const layer *src = &net->layers[in];
    node *n = emit(net, in, i);
    n->op = conv ? OP_CONV : OP_DENSE;
    n->layer = i;
    n->conv = (f32_conv2d_shape){ 1, conv ? (size_t)src->h : 1, conv ? (size_t)src->w_ : 1, (size_t)src->c, (size_t)l->c,
        conv ? (size_t)l->ip[DL_CONV_KH] : 1, conv ? (size_t)l->ip[DL_CONV_KW] : 1,
        conv ? (size_t)l->ip[DL_CONV_STRIDE_H] : 1, conv ? (size_t)l->ip[DL_CONV_STRIDE_W] : 1,
        (size_t)pad[0], (size_t)pad[2], (size_t)pad[1], (size_t)pad[3] };
    n->algo = conv ? f32_conv2d_choose(&n->conv) : F32_CONV_GEMM;
    if (conv && f32_conv2d_single_tap(&n->conv, &n->conv, &n->tap_offset)) n->algo = F32_CONV_GEMM;
    n->weight_floats = conv ? f32_conv2d_packed_size_algo(&n->conv, n->algo) : f32_gemm_packed_size(src->c, (size_t)l->c);
    int bn = conv ? fold_batch_norm(net, i) : -1;
    if (bn >= 0) { n->folded_bn = bn; absorbed[bn] = 1; end = bn; }
    n->out = end = fold_relu(net, n, i, end, absorbed);
    if (l->activation == DL_SOFTMAX) softmax_in_place(net, end);
}

/* BatchNorm (and a ReLU reading only it), ReLU, or linear: one scale-shift. */
static void scale_shift_node(dl_net *net, int i, char *absorbed) {
    const layer *l = &net->layers[i];
    node *n = emit(net, l->inputs[0], i);
    n->op = OP_SCALE_SHIFT;
    n->layer = i;
    n->weight_floats = 2 * (size_t)l->c;
    int relu = l->type == DL_ACTIVATION ? (l->activation == DL_RELU ? i : -1) : sole_relu(net, i);
    if (relu < 0) return;
    n->out_min = 0;
    if (relu != i) { absorbed[relu] = 1; n->out = relu; }
}

static const char *build_nodes(dl_net *net) {
    net->nodes = calloc((size_t)net->n_keras * 2, sizeof *net->nodes);   /* at most 2 per layer */
    char *absorbed = calloc((size_t)net->n_keras, 1);
    if (!net->nodes || !absorbed) { free(absorbed); return "out of memory"; }
    for (int i = 0; i < net->n_keras; i++) {
        if (absorbed[i]) continue;
        const layer *l = &net->layers[i];
        int in = l->n_inputs ? l->inputs[0] : -1;
        switch (l->type) {
        case DL_INPUT: emit(net, -1, i)->op = OP_INPUT; break;
        case DL_ZERO_PADDING2D: {
            if (padding_absorbed(net, i)) break;
            node *n = emit(net, in, i);
            n->op = OP_PAD;
            memcpy(n->pad, &l->ip[DL_PAD_TOP], sizeof n->pad);
            break;
        }
        case DL_CONV2D: case DL_DENSE: conv_or_dense_node(net, i, absorbed); break;
        case DL_ACTIVATION:
            if (l->activation == DL_SOFTMAX) { emit(net, in, i)->op = OP_SOFTMAX; break; }
            scale_shift_node(net, i, absorbed);
            break;
        case DL_BATCH_NORM: scale_shift_node(net, i, absorbed); break;
        case DL_MAX_POOL2D: case DL_AVG_POOL2D: {
            const layer *src = &net->layers[in];
            node *p = emit(net, in, i);
            p->op = l->type == DL_MAX_POOL2D ? OP_MAX_POOL : OP_AVG_POOL;
            p->pool = (f32_pool2d_shape){ 1, (size_t)src->h, (size_t)src->w_, (size_t)src->c,
                (size_t)l->ip[DL_POOL_H], (size_t)l->ip[DL_POOL_W], (size_t)l->ip[DL_POOL_STRIDE_H], (size_t)l->ip[DL_POOL_STRIDE_W] };
            break;
        }
        case DL_CONCATENATE: emit(net, in, i)->op = OP_CONCAT; break;
        case DL_GLOBAL_AVG_POOL2D: emit(net, in, i)->op = OP_GLOBAL_AVG_POOL; break;
        case DL_GLOBAL_MAX_POOL2D: emit(net, in, i)->op = OP_GLOBAL_MAX_POOL; break;
        }
    }
    free(absorbed);
    return NULL;
}

/* ---- 3. storage ---------------------------------------------------------- */

/* Memory sizes in reasons (storage and memory phases). */
static void format_bytes(char *buf, size_t cap, uint64_t bytes) {
    if (bytes >= (1ull << 30)) snprintf(buf, cap, "%.1f GB", (double)bytes / (1ull << 30));
    else snprintf(buf, cap, "%.1f MB", (double)bytes / (1ull << 20));
}

static const char *too_much_memory(uint64_t need, uint64_t limit, const char *what) {
    char a[32], b[32];
    format_bytes(b, sizeof b, limit);
    if (need == UINT64_MAX) return dl_errorf("this network needs more memory than this platform can address %s; the limit is %s (max_memory)", what, b);
    format_bytes(a, sizeof a, need);
    return dl_errorf("this network needs %s of memory %s; the limit is %s (max_memory)", a, what, b);
}

static int writes_strided(int op) { return op == OP_INPUT || op == OP_PAD || op == OP_CONV || op == OP_SCALE_SHIFT || op == OP_MAX_POOL || op == OP_AVG_POOL || op == OP_CONCAT; }

/* Concatenations, last first, so a concat aliased into a later one passes its
 * place on. An input that another concat already holds, or whose producer
 * cannot write a channel slice, is copied instead. */
static void alias_concat_inputs(dl_net *net, const int *producer, char *aliased) {
    for (int j = net->n_nodes - 1; j >= 0; j--) {
        const node *n = &net->nodes[j];
        if (n->op != OP_CONCAT) continue;
        const layer *l = &net->layers[n->out];
        size_t off = net->st[n->out].channel_offset;
        for (int k = 0; k < l->n_inputs; k++) {
            int x = l->inputs[k];
            if (!aliased[x] && producer[x] >= 0 && producer[x] < j && writes_strided(net->nodes[producer[x]].op) && x != n->out) {
                net->st[x].root = net->st[n->out].root;
                net->st[x].channel_offset = off;
                aliased[x] = 1;
            } else {
                net->st[x].copy_into_concat = 1;
            }
            off += (size_t)net->layers[x].c;
        }
    }
}

/* Lifetimes of each root buffer, in node order; a read lasts to the end of
 * the reader's parallel region (plan_regions), whatever the thread count. */
static void lifetimes(dl_net *net) {
    for (int j = 0; j < net->n_nodes; j++) {
        const node *n = &net->nodes[j];
        storage *w = &net->st[net->st[n->out].root];
        if (j < w->first) w->first = j;
        if (j > w->last) w->last = j;
        const layer *l = &net->layers[n->out];
        int reads_all = n->op == OP_CONCAT;
        for (int k = 0; k < (reads_all ? l->n_inputs : (n->in >= 0)); k++) {
            int x = reads_all ? l->inputs[k] : n->in;
            storage *r = &net->st[net->st[x].root];
            int until = n->region_end - 1;    /* read until the end of the node's parallel region */
            if (until > r->last) r->last = until;
        }
    }
    net->st[net->st[net->output].root].last = net->n_nodes;     /* read by the caller */
}

/* Greedy by size: biggest buffers first, each at the lowest offset free for
 * its lifetime. Fails only when the arena does not fit in size_t. */
static int place_buffers(dl_net *net, int *order) {
    int count = 0;
    for (int i = 0; i < net->n_layers; i++) if (net->st[i].root == i && net->st[i].last >= 0) order[count++] = i;
    for (int a = 1; a < count; a++)
        for (int b = a; b > 0 && net->st[order[b]].floats > net->st[order[b - 1]].floats; b--) {
            int t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
        }
    net->arena_floats = 0;
    for (int a = 0; a < count; a++) {
        storage *s = &net->st[order[a]];
        size_t off = 0, end;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int b = 0; b < a; b++) {
                const storage *p = &net->st[order[b]];
                int overlap_time = p->first <= s->last && s->first <= p->last;
                if (overlap_time && p->offset < off + s->floats && off < p->offset + p->floats) {
                    off = (p->offset + p->floats + 15) & ~(size_t)15;   /* placed buffers fit: no wrap */
                    moved = 1;
                }
            }
        }
        if (!dl_add(off, s->floats, &end) || end > SIZE_MAX - 16) return 0;
        s->offset = off;
        if (end > net->arena_floats) net->arena_floats = end;
    }
    return 1;
}

static const char *plan_storage(dl_net *net) {
    int nl = net->n_layers, nn = net->n_nodes;
    net->st = calloc((size_t)nl, sizeof *net->st);
    int *producer = malloc(sizeof(int) * (size_t)nl), *order = malloc(sizeof(int) * (size_t)nl);
    char *aliased = calloc((size_t)nl, 1);
    const char *err = NULL;
    if (!net->st || !producer || !order || !aliased) { err = "out of memory"; goto done; }
    for (int i = 0; i < nl; i++) {
        const layer *l = &net->layers[i];
        storage *s = &net->st[i];
        s->root = i; s->first = nn; s->last = -1; producer[i] = -1;
        s->floats = l->rank == 3 ? product(product((size_t)l->h, (size_t)l->w_), (size_t)l->c) : (size_t)l->c;
        if (s->floats == SIZE_MAX) { err = too_much_memory(UINT64_MAX, net->max_memory, "for one image"); goto done; }
    }
    for (int j = 0; j < nn; j++) if (producer[net->nodes[j].out] < 0) producer[net->nodes[j].out] = j;
    alias_concat_inputs(net, producer, aliased);
    plan_regions(net);
    lifetimes(net);
    if (!place_buffers(net, order)) err = too_much_memory(UINT64_MAX, net->max_memory, "for one image");
done:
    free(order); free(producer); free(aliased);
    return err;
}

/* ---- 4. memory ----------------------------------------------------------- */

/* Taps of a layer's whole kernel (a single-tap node packs only one of them). */
static size_t kernel_taps(const layer *l) {
    return l->type == DL_CONV2D ? product((size_t)l->ip[DL_CONV_KH], (size_t)l->ip[DL_CONV_KW]) : 1;
}

/* Floats of temporary weights while packing node n (an unpacked kernel for
 * weights=None or BatchNorm folding, plus bias and scale/shift). */
static size_t packing_floats(const dl_net *net, const node *n) {
    const layer *l = &net->layers[n->layer];
    if (n->op != OP_CONV && n->op != OP_DENSE) return 0;
    if (n->folded_bn < 0 && l->w[0]) return 0;
    size_t k = product(kernel_taps(l), n->conv.in_c);
    return k > SIZE_MAX - 3 ? SIZE_MAX : product(k + 3, n->conv.out_c);
}

/* Conv scratch in bytes for a batch (SIZE_MAX: does not fit). */
static size_t scratch_bytes(const dl_net *net, size_t batch) {
    size_t most = 0;
    for (int j = 0; j < net->n_nodes; j++)
        if (net->nodes[j].op == OP_CONV) {
            f32_conv2d_shape s = net->nodes[j].conv;
            s.batch = batch;
            size_t b = f32_conv2d_scratch_size_algo(&s, net->nodes[j].algo);
            if (b > most) most = b;
        }
    return most;
}

/* The scratch that `threads` threads keep (dl_parallel_scratch: one buffer per
 * thread, grown to its biggest part), in bytes; SIZE_MAX: does not fit. A part
 * of a node split by rows is a convolution of one image's rows, no bigger than
 * the whole image's; a part split by channels covers the batch. 0 on one thread. */
static size_t thread_scratch_bytes(const dl_net *net, size_t batch, int threads) {
    if (threads <= 1) return 0;
    size_t most = 0, all;
    for (int j = 0; j < net->n_nodes; j++) {
        const node *n = &net->nodes[j];
        if (n->op != OP_CONV || n->split == SPLIT_NONE) continue;
        f32_conv2d_shape s = n->conv;
        s.batch = n->split == SPLIT_ROWS ? 1 : batch;
        size_t b = f32_conv2d_scratch_size_algo(&s, n->algo);
        if (b > most) most = b;
    }
    return most == SIZE_MAX || !dl_mul(most, (size_t)threads, &all) ? SIZE_MAX : all;
}

/* Bytes for packed weights + a batch of activations + scratch, the threads'
 * included (+ extra), or UINT64_MAX when it does not fit in size_t. */
static uint64_t memory_need(const dl_net *net, size_t weight_bytes, size_t batch, size_t extra) {
    size_t arena, scratch = scratch_bytes(net, batch), total;
    size_t threads_scratch = thread_scratch_bytes(net, batch, dl_parallel_threads());
    if (scratch == SIZE_MAX || threads_scratch == SIZE_MAX || !dl_mul3(net->arena_floats, batch, sizeof(float), &arena) ||
        !dl_add(arena, weight_bytes, &total) || !dl_add(total, scratch, &total) ||
        !dl_add(total, threads_scratch, &total) || !dl_add(total, extra, &total))
        return UINT64_MAX;
    return total;
}

static const char *check_memory(dl_net *net) {
    size_t weights = 0, packing = 0;
    for (int j = 0; j < net->n_nodes; j++) {
        const node *n = &net->nodes[j];
        size_t t = packing_floats(net, n);
        if (n->weight_floats == SIZE_MAX || t == SIZE_MAX || !dl_add(weights, n->weight_floats, &weights))
            return too_much_memory(UINT64_MAX, net->max_memory, "for one image");
        if (t > packing) packing = t;
    }
    size_t packing_bytes;
    if (!dl_mul(weights, sizeof(float), &net->weight_bytes) || !dl_mul(packing, sizeof(float), &packing_bytes))
        return too_much_memory(UINT64_MAX, net->max_memory, "for one image");
    uint64_t need = memory_need(net, net->weight_bytes, 1, packing_bytes);
    if (need > net->max_memory) return too_much_memory(need, net->max_memory, "for one image");
    net->threads_checked = dl_parallel_threads();
    return NULL;
}

/* ---- 5. weights ------------------------------------------------------------ */

/* Inference BatchNorm as scale and shift; Keras's initial values (gamma 1,
 * beta 0, mean 0, variance 1) for weights=None. */
static void bn_scale_shift(const layer *bn, float *scale, float *shift) {
    for (int c = 0; c < bn->c; c++) {
        double gamma = bn->w[0] ? bn->w[0][c] : 1, beta = bn->w[1] ? bn->w[1][c] : 0;
        double mean = bn->w[2] ? bn->w[2][c] : 0, var = bn->w[3] ? bn->w[3][c] : 1;
        double s = gamma / sqrt(var + bn->fp[DL_BN_EPSILON]);
        scale[c] = (float)s;
        shift[c] = (float)(beta - mean * s);
    }
}

static void fill(float *w, size_t n, float v) { for (size_t i = 0; i < n; i++) w[i] = v; }

static const char *pack_conv_or_dense(dl_net *net, node *n, dl_rng *rng) {
    const layer *l = &net->layers[n->layer];
    int has_bias = l->type == DL_CONV2D ? l->ip[DL_CONV_USE_BIAS] : l->ip[DL_DENSE_USE_BIAS];
    size_t taps = kernel_taps(l), k = taps * n->conv.in_c, co = n->conv.out_c;
    const float *w = l->w[0], *b = has_bias ? l->w[1] : NULL;   /* NULL for weights=None */
    float *tmp = NULL;
    if (packing_floats(net, n)) {
        if (!(tmp = malloc(packing_floats(net, n) * sizeof(float)))) return "out of memory";
        float *tw = tmp, *tb = tw + k * co;
        if (!w) {                            /* Keras: glorot_uniform kernel, zero bias */
            dl_glorot_uniform(rng, tw, k * co, k, taps * co);
            w = tw;
        }
        if (n->folded_bn >= 0) {             /* fold inference BatchNorm into the weights */
            float *s = tb + co, *t = s + co;
            bn_scale_shift(&net->layers[n->folded_bn], s, t);
            for (size_t r = 0; r < k; r++)
                for (size_t c = 0; c < co; c++) tw[r * co + c] = w[r * co + c] * s[c];
            for (size_t c = 0; c < co; c++) tb[c] = (b ? b[c] * s[c] : 0) + t[c];
            w = tw; b = tb;
        }
    }
    if (!(n->packed = own(net, n->weight_floats))) { free(tmp); return "out of memory"; }
    if (n->op == OP_CONV) (void)f32_conv2d_pack_algo(&n->conv, n->algo, w + n->tap_offset, b, n->packed);   /* chosen: supported */
    else f32_gemm_pack(k, co, w, b, n->packed);
    free(tmp);
    return NULL;
}

static const char *pack_weights(dl_net *net, uint32_t seed) {
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    for (int j = 0; j < net->n_nodes; j++) {
        node *n = &net->nodes[j];
        if (n->op == OP_CONV || n->op == OP_DENSE) {
            const char *err = pack_conv_or_dense(net, n, &rng);
            if (err) return err;
        } else if (n->op == OP_SCALE_SHIFT) {
            const layer *l = &net->layers[n->layer];
            if (!(n->scale = own(net, n->weight_floats))) return "out of memory";
            n->shift = n->scale + l->c;
            if (l->type == DL_BATCH_NORM) bn_scale_shift(l, n->scale, n->shift);
            else { fill(n->scale, (size_t)l->c, 1); fill(n->shift, (size_t)l->c, 0); }
        }
    }
    return NULL;
}

const char *dl_net_build(const dl_model *m, const dl_net_options *o, dl_net **out) {
    int h = 0, w = 0, c = 0, model_c = 0;
    const char *err = check_options(m, o, &h, &w, &c, &model_c);
    if (err) return err;
    dl_net *net = calloc(1, sizeof *net);
    if (!net) return "out of memory";
    net->input_h = h; net->input_w = w; net->input_c = c; net->model_c = model_c;
    net->spatial_none = !o->include_top && !o->input_shape_set;
    net->model_name = m->name;
    net->max_memory = o->max_memory;
    err = build_layers(m, o, net);
    if (!err) err = build_nodes(net);
    if (!err) err = plan_storage(net);
    if (!err) err = check_memory(net);
    if (!err) err = pack_weights(net, o->seed);
    if (err) { dl_net_free(net); return err; }
    *out = net;
    return NULL;
}

void dl_net_free(dl_net *net) {
    if (!net) return;
    free(net->layers); free(net->nodes); free(net->st);
    for (int i = 0; i < net->n_blocks; i++) free(net->blocks[i]);
    free(net->blocks); free(net->arena); free(net->scratch); free(net->node_seconds);
    free(net);
}

/* ---- running --------------------------------------------------------------- */

typedef struct { float *p; size_t stride; } view;

static view value(const dl_net *net, int i, size_t batch) {
    const storage *s = &net->st[i], *r = &net->st[s->root];
    const layer *root = &net->layers[s->root];
    view v = { net->arena + r->offset * batch + s->channel_offset, (size_t)root->c };
    return v;
}

static void copy_pixels(size_t pixels, size_t channels, const float *in, size_t in_stride, float *out, size_t out_stride) {
    for (size_t p = 0; p < pixels; p++) memcpy(out + p * out_stride, in + p * in_stride, channels * sizeof(float));
}

/* Pixels [p0, p0 + count) of the input value (gray repeated to 3 channels). */
static void input_pixels(const dl_net *net, size_t p0, size_t count, const float *input, view out) {
    float *o = out.p + p0 * out.stride;
    size_t c = (size_t)net->model_c;
    if (net->input_c == net->model_c) copy_pixels(count, c, input + p0 * c, c, o, out.stride);
    else for (size_t p = 0; p < count; p++) o[p * out.stride] = o[p * out.stride + 1] = o[p * out.stride + 2] = input[p0 + p];
}

/* Output rows [y0, y1) of image b of a ZeroPadding2D. */
static void pad_rows(const node *n, const layer *l, const layer *il, view in, view out, size_t b, size_t y0, size_t y1) {
    for (size_t y = y0; y < y1; y++)
        for (int x = 0; x < l->w_; x++) {
            float *o = out.p + ((b * l->h + y) * l->w_ + x) * out.stride;
            long long sy = (long long)y - n->pad[0], sx = (long long)x - n->pad[2];
            if (sy < 0 || sx < 0 || sy >= il->h || sx >= il->w_) memset(o, 0, (size_t)l->c * sizeof(float));
            else memcpy(o, in.p + ((b * il->h + (size_t)sy) * il->w_ + (size_t)sx) * in.stride, (size_t)l->c * sizeof(float));
        }
}

/* Pixels [p0, p0 + count) of the concatenation's inputs that could not alias. */
static void concat_pixels(const dl_net *net, const layer *l, size_t batch, size_t p0, size_t count, view out) {
    size_t off = 0;
    for (int k = 0; k < l->n_inputs; k++) {
        int x = l->inputs[k];
        if (net->st[x].copy_into_concat) {
            view src = value(net, x, batch);
            copy_pixels(count, (size_t)net->layers[x].c, src.p + p0 * src.stride, src.stride, out.p + p0 * out.stride + off, out.stride);
        }
        off += (size_t)net->layers[x].c;
    }
}

static void run_node(dl_net *net, const node *n, size_t batch, const float *input) {
    const layer *l = &net->layers[n->out];
    view out = value(net, n->out, batch);
    view in = n->in >= 0 ? value(net, n->in, batch) : (view){ 0, 0 };
    const layer *il = n->in >= 0 ? &net->layers[n->in] : NULL;
    switch (n->op) {
    case OP_INPUT:
        input_pixels(net, 0, batch * l->h * l->w_, input, out);
        break;
    case OP_PAD:
        for (size_t b = 0; b < batch; b++) pad_rows(n, l, il, in, out, b, 0, (size_t)l->h);
        break;
    case OP_CONV: {
        f32_conv2d_shape s = n->conv;
        s.batch = batch;
        (void)f32_conv2d_nhwc_algo(&s, n->algo, F32_WASMSIMD, in.p, in.stride, n->packed, out.p, out.stride,
                                   n->out_min, n->out_max, net->scratch);   /* chosen: supported */
        break;
    }
    case OP_DENSE:
        f32_gemm(batch, n->conv.out_c, n->conv.in_c, in.p, in.stride, n->packed, out.p, out.stride, n->out_min, n->out_max);
        break;
    case OP_SCALE_SHIFT:
        f32_scale_shift_nhwc(batch * (l->rank == 3 ? (size_t)l->h * l->w_ : 1), (size_t)l->c, in.p, in.stride,
                             n->scale, n->shift, out.p, out.stride, n->out_min, n->out_max);
        break;
    case OP_MAX_POOL: case OP_AVG_POOL: {
        f32_pool2d_shape s = n->pool;
        s.batch = batch;
        (n->op == OP_MAX_POOL ? f32_maxpool2d_nhwc : f32_avgpool2d_nhwc)(&s, in.p, in.stride, out.p, out.stride);
        break;
    }
    case OP_CONCAT:
        concat_pixels(net, l, batch, 0, batch * l->h * l->w_, out);
        break;
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL:
        (n->op == OP_GLOBAL_AVG_POOL ? f32_global_avgpool_nhwc : f32_global_maxpool_nhwc)(batch, (size_t)il->h * il->w_, (size_t)il->c, in.p, in.stride, out.p);
        break;
    case OP_SOFTMAX:
        f32_softmax(batch, (size_t)l->c, in.p, out.p);
        break;
    }
}

/* ---- running one image on several threads ----------------------------------
 * A node's output is cut into units — rows of output pixels (Winograd: rows of
 * whole tiles), or panels of 8 output channels (Dense, and convolutions with
 * fewer than MIN_SPLIT_ROWS output rows: DenseNet's 7x7 layers, whose 7 rows or
 * 2 Winograd tile rows would leave threads idle) — and each thread of
 * common/parallel.h computes a fixed range of units by calling the same kernel
 * on that part alone (a convolution's rows are a convolution of the input rows
 * they read, with the image border as its padding; its channels, the same
 * convolution over fewer output channels). Every output value goes through
 * the same operations in the same order as in the whole-node call, so the
 * result is bit-identical for every thread count.
 *
 * One barrier per region (plan_regions): a node split by rows leads, and the
 * pixelwise nodes after it with the same output size follow on the same rows
 * in the same thread (a dense block's 3x3 convolution, the next BatchNorm-ReLU
 * and the 1x1 convolution reading it: one barrier per block instead of three).
 * A follower reads only pixels its own thread wrote or an earlier region did,
 * and every buffer read in a region lives to the region's end (lifetimes), so
 * no thread writes memory that another one may still read. */

#define MIN_SPLIT_ROWS 8

static int is_pixelwise(const node *n) {     /* output pixel p reads input pixel p only */
    return n->op == OP_INPUT || n->op == OP_SCALE_SHIFT || n->op == OP_CONCAT ||
           (n->op == OP_CONV && n->algo == F32_CONV_GEMM);
}

static int concat_copies(const dl_net *net, const node *n) {
    const layer *l = &net->layers[n->out];
    int copies = 0;
    for (int k = 0; k < l->n_inputs; k++) copies += net->st[l->inputs[k]].copy_into_concat;
    return copies;
}

/* A concatenation whose inputs all alias it: nothing to run. */
static int is_noop(const dl_net *net, const node *n) { return n->op == OP_CONCAT && !concat_copies(net, n); }

/* How node n splits (after alias_concat_inputs, which decides the concatenations' copies). */
static void plan_split(const dl_net *net, node *n) {
    const layer *l = &net->layers[n->out];
    n->split = SPLIT_NONE;
    n->unit_rows = 1;
    if (n->op == OP_DENSE) { n->split = SPLIT_CHANNELS; return; }
    if (l->rank != 3 || is_noop(net, n) || n->op == OP_SOFTMAX) return;
    n->split = SPLIT_ROWS;
    if (n->op != OP_CONV) return;
    n->unit_rows = n->algo == F32_CONV_WINOGRAD_4X4 ? 4 : n->algo == F32_CONV_WINOGRAD_2X2 ? 2 : 1;
    if (l->h < MIN_SPLIT_ROWS && n->conv.out_c > 8) n->split = SPLIT_CHANNELS;
}

/* The units of node n: per image (SPLIT_ROWS) or in all (SPLIT_CHANNELS). */
static size_t split_units(const dl_net *net, const node *n) {
    if (n->split == SPLIT_CHANNELS) return (n->conv.out_c + 7) / 8;
    return ((size_t)net->layers[n->out].h + (size_t)n->unit_rows - 1) / (size_t)n->unit_rows;
}

/* Regions: nodes [j, region_end) run in one parallel call (see above). */
static void plan_regions(dl_net *net) {
    for (int j = 0; j < net->n_nodes; j++) plan_split(net, &net->nodes[j]);
    for (int j = 0; j < net->n_nodes;) {
        const node *lead = &net->nodes[j];
        const layer *ll = &net->layers[lead->out];
        int end = j + 1;
        for (; lead->split == SPLIT_ROWS && end < net->n_nodes; end++) {
            const node *f = &net->nodes[end];
            const layer *fl = &net->layers[f->out];
            if (is_noop(net, f)) continue;
            if (f->split != SPLIT_ROWS || !is_pixelwise(f) || fl->h != ll->h || fl->w_ != ll->w_) break;
        }
        for (int k = j; k < end; k++) net->nodes[k].region_end = end;
        j = end;
    }
}

typedef struct {
    dl_net *net;
    int first, end;             /* the region's nodes */
    size_t batch, units;        /* units per image (SPLIT_ROWS) or in all (SPLIT_CHANNELS) */
    const float *input;
} region_job;

/* Output rows [r0, r1) of image b of a convolution, as a convolution of its own. */
static const char *conv_rows(const node *n, size_t b, size_t r0, size_t r1, view in, view out, int thread) {
    const f32_conv2d_shape *f = &n->conv;
    f32_conv2d_shape s = *f;
    size_t oh = f32_conv2d_out_h(f), ow = f32_conv2d_out_w(f);
    long long lo = (long long)(r0 * f->stride_h) - (long long)f->pad_top;          /* first input row read */
    long long hi = (long long)((r1 - 1) * f->stride_h + f->kh) - (long long)f->pad_top; /* one past the last */
    long long first = lo < 0 ? 0 : lo, end = hi > (long long)f->in_h ? (long long)f->in_h : hi;
    if (end < first) end = first;
    s.batch = 1;
    s.in_h = (size_t)(end - first);
    s.pad_top = (size_t)(first - lo);
    s.pad_bottom = (size_t)(hi - end);
    size_t bytes = f32_conv2d_scratch_size_algo(&s, n->algo);
    void *scratch = bytes ? dl_parallel_scratch(thread, bytes) : NULL;
    if (bytes && !scratch) return dl_errorf("thread %d: out of memory for %zu bytes of convolution scratch", thread + 1, bytes);
    return f32_conv2d_nhwc_algo(&s, n->algo, F32_WASMSIMD,
                                in.p + (b * f->in_h + (size_t)first) * f->in_w * in.stride, in.stride, n->packed,
                                out.p + (b * oh + r0) * ow * out.stride, out.stride, n->out_min, n->out_max, scratch);
}

/* Output rows [r0, r1) of image b of node n. */
static const char *run_rows(const region_job *j, const node *n, size_t b, size_t r0, size_t r1, int thread) {
    dl_net *net = j->net;
    const layer *l = &net->layers[n->out];
    view out = value(net, n->out, j->batch);
    view in = n->in >= 0 ? value(net, n->in, j->batch) : (view){ 0, 0 };
    const layer *il = n->in >= 0 ? &net->layers[n->in] : NULL;
    size_t w = (size_t)l->w_, p0 = (b * (size_t)l->h + r0) * w, count = (r1 - r0) * w;   /* pixelwise */
    switch (n->op) {
    case OP_INPUT: input_pixels(net, p0, count, j->input, out); return NULL;
    case OP_PAD: pad_rows(n, l, il, in, out, b, r0, r1); return NULL;
    case OP_SCALE_SHIFT:
        f32_scale_shift_nhwc(count, (size_t)l->c, in.p + p0 * in.stride, in.stride, n->scale, n->shift,
                             out.p + p0 * out.stride, out.stride, n->out_min, n->out_max);
        return NULL;
    case OP_CONCAT: concat_pixels(net, l, j->batch, p0, count, out); return NULL;
    case OP_CONV:
        if (!is_pixelwise(n)) return conv_rows(n, b, r0, r1, in, out, thread);
        f32_gemm(count, n->conv.out_c, n->conv.in_c, in.p + p0 * in.stride, in.stride, n->packed,
                 out.p + p0 * out.stride, out.stride, n->out_min, n->out_max);
        return NULL;
    case OP_MAX_POOL: case OP_AVG_POOL: {
        f32_pool2d_shape s = n->pool;
        s.batch = 1;
        s.in_h = (r1 - r0 - 1) * s.stride_h + s.pool_h;
        const float *src = in.p + (b * il->h + r0 * n->pool.stride_h) * il->w_ * in.stride;
        (n->op == OP_MAX_POOL ? f32_maxpool2d_nhwc : f32_avgpool2d_nhwc)(&s, src, in.stride, out.p + p0 * out.stride, out.stride);
        return NULL;
    }
    }
    return "run_rows: this operation does not split by rows";   /* plan_split does not split it so */
}

/* Output channels [c0, c1) (c0 a multiple of 8) of every image of node n. */
static const char *run_channels(const region_job *j, const node *n, size_t c0, size_t c1, int thread) {
    view out = value(j->net, n->out, j->batch), in = value(j->net, n->in, j->batch);
    if (n->op == OP_DENSE) {
        f32_gemm(j->batch, c1 - c0, n->conv.in_c, in.p, in.stride, n->packed + f32_gemm_packed_offset(n->conv.in_c, c0),
                 out.p + c0, out.stride, n->out_min, n->out_max);
        return NULL;
    }
    f32_conv2d_shape s = n->conv;
    s.batch = j->batch;
    size_t bytes = f32_conv2d_scratch_size_algo(&s, n->algo);
    void *scratch = bytes ? dl_parallel_scratch(thread, bytes) : NULL;
    if (bytes && !scratch) return dl_errorf("thread %d: out of memory for %zu bytes of convolution scratch", thread + 1, bytes);
    return f32_conv2d_nhwc_channels(&s, n->algo, F32_WASMSIMD, in.p, in.stride, n->packed, out.p, out.stride,
                                    n->out_min, n->out_max, scratch, c0, c1);
}

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Units [begin, end) of the region: the leader's, then each follower's on the same rows.
 * With profiling on, the caller's thread adds each node's busy time to node_busy. */
static const char *run_region_units(void *ctx, size_t begin, size_t end, int thread) {
    const region_job *j = ctx;
    const node *lead = &j->net->nodes[j->first];
    double *busy = thread == 0 ? j->net->node_busy : NULL;
    if (lead->split == SPLIT_CHANNELS) {
        size_t c1 = end * 8 < lead->conv.out_c ? end * 8 : lead->conv.out_c;
        return run_channels(j, lead, begin * 8, c1, thread);
    }
    size_t h = (size_t)j->net->layers[lead->out].h;
    for (size_t i = begin; i < end;) {
        size_t b = i / j->units, base = b * j->units;
        size_t u1 = end - base < j->units ? end - base : j->units;
        size_t r0 = (i - base) * (size_t)lead->unit_rows, r1 = u1 * (size_t)lead->unit_rows;
        for (int k = j->first; k < j->end; k++) {
            const node *n = &j->net->nodes[k];
            if (is_noop(j->net, n)) continue;
            double t0 = busy ? seconds_now() : 0;
            const char *err = run_rows(j, n, b, r0, r1 < h ? r1 : h, thread);
            if (err) return err;
            if (busy) busy[k] += seconds_now() - t0;
        }
        i = base + u1;
    }
    return NULL;
}

/* A region runs on the caller alone when its node does not split, or when it is
 * one small node that is not a convolution (DenseNet's 7x7 BatchNorm-ReLUs: 50k
 * floats, tens of microseconds, about what waking the threads and the barrier cost). */
#define MIN_PARALLEL_FLOATS ((size_t)1 << 16)
static int runs_on_caller(const dl_net *net, int first, size_t batch) {
    const node *lead = &net->nodes[first];
    const layer *l = &net->layers[lead->out];
    if (lead->split == SPLIT_NONE) return 1;
    if (lead->op == OP_CONV || lead->op == OP_DENSE || lead->region_end != first + 1) return 0;
    return (size_t)l->h * (size_t)l->w_ * (size_t)l->c < MIN_PARALLEL_FLOATS / batch;
}

/* 1 when a region led by a Winograd convolution runs better as two parallel calls
 * on `threads` threads: the lead on its tile rows, then the followers (most of the
 * work: the 1x1 convolution) on rows of their own, because whole tile rows share
 * unevenly (28x28: 7 tile rows, 16 and 12 rows on 2 threads; rows alone: 14 and 14).
 * One more barrier; the same values (only the regions' boundaries move). */
static int cut_after_lead(const dl_net *net, int first, size_t batch, int threads) {
    const node *lead = &net->nodes[first];
    if (threads < 2 || lead->split != SPLIT_ROWS || lead->unit_rows == 1 || lead->region_end == first + 1) return 0;
    size_t t = (size_t)threads, tile_rows = batch * split_units(net, lead), rows = batch * (size_t)net->layers[lead->out].h;
    return (tile_rows + t - 1) / t * (size_t)lead->unit_rows > (rows + t - 1) / t;
}

/* A region's units on the threads: balanced (a thread that is done takes chunks of
 * a slower one's share), except the channel parts of a convolution that is not
 * pixelwise: each part redoes the input transform of every tile (the 7x7
 * Winograd layers: 1.25 -> 1.6 ms per image in quarters), so they keep fixed shares. */
static const char *parallel_units(const node *lead, size_t items, region_job *j) {
    if (lead->split == SPLIT_CHANNELS && lead->op == OP_CONV && !is_pixelwise(lead))
        return dl_parallel_for(items, run_region_units, j);
    return dl_parallel_for_balanced(items, run_region_units, j);
}

/* Region [first, region_end) on the threads (or on the caller: runs_on_caller). */
static const char *run_region_threaded(dl_net *net, int first, size_t batch, const float *input) {
    const node *lead = &net->nodes[first];
    region_job j = { net, first, lead->region_end, batch, 0, input };
    if (runs_on_caller(net, first, batch)) { run_node(net, lead, batch, input); return NULL; }
    j.units = split_units(net, lead);
    if (cut_after_lead(net, first, batch, dl_parallel_threads())) {
        region_job followers = j;
        j.end = first + 1;
        const char *err = parallel_units(lead, batch * j.units, &j);
        if (err) return err;
        followers.first = first + 1;     /* pixelwise: one row per unit */
        followers.units = (size_t)net->layers[lead->out].h;
        return parallel_units(lead, batch * followers.units, &followers);
    }
    return parallel_units(lead, lead->split == SPLIT_ROWS ? batch * j.units : j.units, &j);
}

/* Profiling: a region's wall and critical-path times, shared among its nodes
 * as the caller's thread was busy with each (a node alone gets all of it). */
static void charge_seconds(dl_net *net, int first, int end, double seconds, double critical) {
    double busy = 0;
    for (int k = first; k < end; k++) busy += net->node_busy[k];
    for (int k = first; k < end; k++) {
        double share = end - first == 1 || busy <= 0 ? 1.0 / (end - first) : net->node_busy[k] / busy;
        net->node_seconds[k] += seconds * share;
        net->node_critical[k] += critical * share;
        net->node_busy[k] = 0;
    }
}

size_t dl_net_max_batch(const dl_net *net, size_t want) {
    size_t b = want ? want : 1;
    while (b > 1 && memory_need(net, net->weight_bytes, b, 0) > net->max_memory) b /= 2;
    return b;
}

const char *dl_net_run(dl_net *net, const float *input, size_t batch, float *output) {
    return dl_net_run_tapped(net, input, batch, output, NULL);
}

/* batch images of a value into out, packed (c floats per pixel). */
static void copy_value(const dl_net *net, int i, size_t batch, float *out) {
    const layer *l = &net->layers[i];
    view v = value(net, i, batch);
    copy_pixels(batch * (l->rank == 3 ? (size_t)l->h * l->w_ : 1), (size_t)l->c, v.p, v.stride, out, (size_t)l->c);
}

const char *dl_net_run_tapped(dl_net *net, const float *input, size_t batch, float *output, float *tapped) {
    if (!net || !input || !output) return "dl_net_run: missing network, input or output";
    if (tapped && !net->tap) return "dl_net_run: no tapped layer (dl_net_tap_input first)";
    if (batch == 0) return "batch must be at least 1";
    if (dl_parallel_threads() > net->threads_checked && batch <= net->arena_batch) {   /* more threads' scratch */
        uint64_t need = memory_need(net, net->weight_bytes, net->arena_batch, 0);
        if (need > net->max_memory) return too_much_memory(need, net->max_memory, "on this many threads");
    }
    if (batch > net->arena_batch) {
        char what[48];
        snprintf(what, sizeof what, "for a batch of %zu", batch);
        uint64_t need = memory_need(net, net->weight_bytes, batch, 0);
        if (need > net->max_memory) return too_much_memory(need, net->max_memory, what);
        size_t arena = net->arena_floats * batch * sizeof(float), scratch = scratch_bytes(net, batch);  /* checked above */
        float *a = malloc(arena ? arena : 1);
        void *scr = scratch ? malloc(scratch) : NULL;
        if (!a || (scratch && !scr)) { free(a); free(scr); return dl_errorf("out of memory for a batch of %zu", batch); }
        free(net->arena); free(net->scratch);
        net->arena = a; net->scratch = scr;
        net->arena_batch = batch;
    }
    if (dl_parallel_threads() > net->threads_checked) net->threads_checked = dl_parallel_threads();
    int threaded = dl_parallel_threads() > 1;
    for (int j = 0; j < net->n_nodes;) {
        int end = threaded ? net->nodes[j].region_end : j + 1;
        double t0 = net->node_seconds ? seconds_now() : 0, c0 = net->node_seconds ? dl_parallel_critical_seconds() : 0;
        const char *err = NULL;
        if (threaded) err = run_region_threaded(net, j, batch, input);
        else run_node(net, &net->nodes[j], batch, input);
        if (err) return err;
        if (net->node_seconds) charge_seconds(net, j, end, seconds_now() - t0, dl_parallel_critical_seconds() - c0);
        /* now, before a later region may reuse its buffer (a region keeps what it reads alive to its end) */
        for (int k = j; tapped && k < end; k++)
            if (net->nodes[k].out == net->tap) copy_value(net, net->tap, batch, tapped);
        j = end;
    }
    copy_value(net, net->output, batch, output);
    return NULL;
}

const char *dl_net_tap_input(dl_net *net, const char *name, size_t *floats) {
    if (!net || !name) return "dl_net_tap_input: bad arguments";
    for (int i = 0; i < net->n_keras; i++) {
        const layer *l = &net->layers[i];
        if (strcmp(l->name, name)) continue;
        if (l->n_inputs != 1) return dl_errorf("layer %s does not read exactly one layer", name);
        int in = l->inputs[0];
        int written = 0;
        for (int j = 0; j < net->n_nodes; j++) written |= net->nodes[j].out == in;
        if (!written || in == 0 || net->layers[in].rank != 3) return dl_errorf("the input of layer %s is not a computed feature map", name);
        net->tap = in;
        const layer *t = &net->layers[in];
        if (floats) *floats = product(product((size_t)t->h, (size_t)t->w_), (size_t)t->c);
        return NULL;
    }
    return dl_errorf("this network has no layer %s", name);
}

void dl_net_input_shape(const dl_net *net, int shape[3]) {
    shape[0] = net->input_h; shape[1] = net->input_w; shape[2] = net->input_c;
}

int dl_net_output_shape(const dl_net *net, int shape[3]) {
    const layer *o = &net->layers[net->output];
    if (o->rank == 3) { shape[0] = o->h; shape[1] = o->w_; shape[2] = o->c; }
    else shape[0] = o->c;
    return o->rank;
}

int dl_net_keras_output_shape(const dl_net *net, int shape[3]) {
    int rank = dl_net_output_shape(net, shape);
    if (rank == 3 && net->spatial_none) shape[0] = shape[1] = -1;
    return rank;
}

size_t dl_net_output_size(const dl_net *net) { return net->st[net->output].floats; }
size_t dl_net_arena_bytes(const dl_net *net) { return net->arena_floats * sizeof(float); }

void dl_net_param_counts(const dl_net *net, size_t *total, size_t *trainable) {
    *total = *trainable = 0;
    for (int i = 0; i < net->n_keras; i++) { *total += net->layers[i].params; *trainable += net->layers[i].trainable; }
}

/* ---- model.summary() --------------------------------------------------------- */

/* Hand a finished text to an snprintf-style caller; frees it. */
static size_t text_out(dl_text *t, char *buf, size_t cap) {
    size_t len = t->failed ? 0 : t->len;
    if (cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n) memcpy(buf, t->buf, n);
        buf[n] = 0;
    }
    dl_text_free(t);
    return len;
}

/* The model name (16 bytes of the header) is not checked at load (layer names are):
 * control characters are shown as \xNN. */
static void put_escaped(dl_text *t, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f) dl_text_printf(t, "\\x%02x", ch);
        else dl_text_put(t, s, 1);
    }
}

/* s left-aligned in a column of width bytes, as printf's %-Ns. */
static void put_column(dl_text *t, const dl_text *s, size_t width) {
    dl_text_put(t, s->buf ? s->buf : "", s->len);
    for (size_t n = s->len; n < width; n++) dl_text_put(t, " ", 1);
}

static void put_count(dl_text *t, size_t v) {      /* 8062504 -> 8,062,504 */
    char d[32];
    int n = snprintf(d, sizeof d, "%zu", v);
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) dl_text_put(t, ",", 1);
        dl_text_put(t, &d[i], 1);
    }
}

/* Output Shape's column: wider when Keras's spatial sizes are None ("(None, None, None, 1024)"). */
static size_t shape_column(const dl_net *net) { return net->spatial_none ? 27 : 23; }

static void summary_row(dl_text *t, const dl_net *net, const layer *l) {
    dl_text cell = {0};
    dl_text_puts(&cell, " ");
    put_escaped(&cell, l->name);
    dl_text_printf(&cell, " (%s)", l->class_name);
    put_column(t, &cell, 43);
    cell.len = 0;
    if (l->rank == 3 && net->spatial_none) dl_text_printf(&cell, " (None, None, None, %d)", l->c);
    else if (l->rank == 3) dl_text_printf(&cell, " (None, %d, %d, %d)", l->h, l->w_, l->c);
    else dl_text_printf(&cell, " (None, %d)", l->c);
    put_column(t, &cell, shape_column(net));
    cell.len = 0;
    dl_text_puts(&cell, " ");
    put_count(&cell, l->params);
    put_column(t, &cell, 12);
    dl_text_free(&cell);
    for (int k = 0; k < l->n_inputs; k++) {
        dl_text_puts(t, k ? ", " : " ");
        put_escaped(t, net->layers[l->inputs[k]].name);
    }
    dl_text_puts(t, "\n");
}

size_t dl_net_summary(const dl_net *net, char *buf, size_t cap) {
    dl_text t = {0};
    const char *rule = "____________________________________________________________________________________________________";
    const char *double_rule = "====================================================================================================";
    dl_text_puts(&t, "Model: \"");
    put_escaped(&t, net->model_name);
    dl_text_printf(&t, "\"\n%s\n", rule);
    dl_text_printf(&t, " %-42s %-*s %-11s %s\n%s\n", "Layer (type)", (int)shape_column(net) - 1, "Output Shape", "Param #", "Connected to", double_rule);
    for (int i = 0; i < net->n_keras; i++) summary_row(&t, net, &net->layers[i]);
    size_t total, trainable;
    dl_net_param_counts(net, &total, &trainable);
    dl_text_printf(&t, "%s\nTotal params: ", double_rule);
    put_count(&t, total);
    dl_text_puts(&t, "\nTrainable params: ");
    put_count(&t, trainable);
    dl_text_puts(&t, "\nNon-trainable params: ");
    put_count(&t, total - trainable);
    dl_text_printf(&t, "\n%s\n", rule);
    return text_out(&t, buf, cap);
}

/* ---- per-layer timing ------------------------------------------------------------ */

const char *dl_net_profile(dl_net *net, int on) {
    free(net->node_seconds);
    net->node_seconds = net->node_critical = net->node_busy = NULL;
    if (!on) return NULL;
    size_t n = (size_t)net->n_nodes;
    if (!(net->node_seconds = calloc(3 * n, sizeof(double)))) return "out of memory";
    net->node_critical = net->node_seconds + n;
    net->node_busy = net->node_critical + n;
    return NULL;
}

static const char *op_name(int op) {
    static const char *names[] = { [OP_INPUT] = "input", [OP_PAD] = "pad", [OP_CONV] = "conv",
        [OP_SCALE_SHIFT] = "scale_shift", [OP_MAX_POOL] = "max_pool", [OP_AVG_POOL] = "avg_pool",
        [OP_CONCAT] = "concat", [OP_GLOBAL_AVG_POOL] = "global_avg_pool", [OP_GLOBAL_MAX_POOL] = "global_max_pool",
        [OP_DENSE] = "dense", [OP_SOFTMAX] = "softmax" };
    return names[op];
}

static const char *conv_algo_name(const node *n) {
    static const char *algos[] = { "gemm", "im2col", "winograd2", "winograd4" };
    return n->op == OP_CONV ? algos[n->algo] : "";
}

static const dl_net *sort_net;       /* qsort has no context argument */
static int slower_first(const void *x, const void *y) {
    double a = sort_net->node_seconds[*(const int *)x], b = sort_net->node_seconds[*(const int *)y];
    return (a < b) - (a > b);
}

size_t dl_net_profile_table(const dl_net *net, int runs, int rows, char *buf, size_t cap) {
    dl_text t = {0};
    int *order = net->node_seconds ? malloc(sizeof(int) * (size_t)net->n_nodes) : NULL;
    if (!order) { dl_text_puts(&t, "no timing (dl_net_profile is off)\n"); return text_out(&t, buf, cap); }
    double total = 0, total_crit = 0, per_op[OP_SOFTMAX + 1] = {0}, per_op_crit[OP_SOFTMAX + 1] = {0};
    int count_op[OP_SOFTMAX + 1] = {0};
    for (int j = 0; j < net->n_nodes; j++) {
        order[j] = j;
        total += net->node_seconds[j];
        total_crit += net->node_critical[j];
        per_op[net->nodes[j].op] += net->node_seconds[j];
        per_op_crit[net->nodes[j].op] += net->node_critical[j];
        count_op[net->nodes[j].op]++;
    }
    sort_net = net;
    qsort(order, (size_t)net->n_nodes, sizeof *order, slower_first);
    double per = runs > 0 ? 1e3 / runs : 1e3;
    int crit = dl_parallel_critical_seconds() >= 0;   /* thread CPU clocks: natively */
    dl_text_printf(&t, "| # | layer | op | output | split | ms | share |%s\n| ---: | --- | --- | --- | ---: | ---: | ---: |%s\n",
                   crit ? " critical ms |" : "", crit ? " ---: |" : "");
    for (int r = 0; r < net->n_nodes && (rows <= 0 || r < rows); r++) {
        const node *n = &net->nodes[order[r]];
        const layer *l = &net->layers[n->out];
        dl_text_printf(&t, "| %d | ", r + 1);
        put_escaped(&t, l->name);
        dl_text_printf(&t, " | %s%s%s | ", op_name(n->op), n->op == OP_CONV ? " " : "", conv_algo_name(n));
        if (l->rank == 3) dl_text_printf(&t, "%dx%dx%d", l->h, l->w_, l->c);
        else dl_text_printf(&t, "%d", l->c);
        int k = order[r], leads = k == 0 || net->nodes[k - 1].region_end == k;
        if (n->split == SPLIT_NONE || (leads && runs_on_caller(net, k, 1))) dl_text_puts(&t, " | whole");
        else dl_text_printf(&t, " | %zu %s", split_units(net, n), n->split == SPLIT_ROWS ? (n->unit_rows > 1 ? "tile rows" : "rows") : "x 8 channels");
        dl_text_printf(&t, " | %.3f | %.1f%% |", net->node_seconds[order[r]] * per,
                       total > 0 ? 100 * net->node_seconds[order[r]] / total : 0);
        if (crit) dl_text_printf(&t, " %.3f |", net->node_critical[order[r]] * per);
        dl_text_puts(&t, "\n");
    }
    dl_text_printf(&t, "\n| op | nodes | ms | share |%s\n| --- | ---: | ---: | ---: |%s\n", crit ? " critical ms |" : "", crit ? " ---: |" : "");
    for (int op = 0; op <= OP_SOFTMAX; op++) {
        if (!count_op[op]) continue;
        dl_text_printf(&t, "| %s | %d | %.3f | %.1f%% |", op_name(op), count_op[op], per_op[op] * per, total > 0 ? 100 * per_op[op] / total : 0);
        if (crit) dl_text_printf(&t, " %.3f |", per_op_crit[op] * per);
        dl_text_puts(&t, "\n");
    }
    dl_text_printf(&t, "| all | %d | %.3f | 100%% |", net->n_nodes, total * per);
    if (crit) dl_text_printf(&t, " %.3f |", total_crit * per);
    dl_text_puts(&t, "\n");
    int regions = 0;
    for (int j = 0; j < net->n_nodes; j = net->nodes[j].region_end) regions += !runs_on_caller(net, j, 1);
    dl_text_printf(&t, "\nOn several threads: %d parallel regions (one barrier each) for %d nodes.\n", regions, net->n_nodes);
    int cuts = 0;
    for (int j = 0; j < net->n_nodes; j = net->nodes[j].region_end) cuts += cut_after_lead(net, j, 1, dl_parallel_threads());
    if (cuts) dl_text_printf(&t, "On %d threads, %d of them run as two (the followers on rows of their own): %d barriers.\n",
                             dl_parallel_threads(), cuts, regions + cuts);
    free(order);
    return text_out(&t, buf, cap);
}

/* ---- for tests: the executed nodes -------------------------------------------- */

size_t dl_net_plan(const dl_net *net, char *buf, size_t cap) {
    dl_text t = {0};
    for (int j = 0; j < net->n_nodes; j++) {
        const node *n = &net->nodes[j];
        dl_text_printf(&t, "%s%s", j ? " " : "", op_name(n->op));
        if (n->op == OP_CONV && n->conv.kh * n->conv.kw < kernel_taps(&net->layers[n->layer])) dl_text_puts(&t, "(one tap)");
        if (n->folded_bn >= 0) dl_text_puts(&t, "+bn");
        if (n->out_min == 0) dl_text_puts(&t, "+relu");
        if (n->op == OP_CONCAT) {
            int copies = 0;
            const layer *l = &net->layers[n->out];
            for (int k = 0; k < l->n_inputs; k++) copies += net->st[l->inputs[k]].copy_into_concat;
            if (copies) dl_text_printf(&t, "(copy %d)", copies);
        }
    }
    return text_out(&t, buf, cap);
}

/* ---- for exporters: the Keras layers ------------------------------------------ */

int dl_net_layer_count(const dl_net *net) { return net->n_keras; }

void dl_net_layer_at(const dl_net *net, int i, dl_net_layer *out) {
    const layer *l = &net->layers[i];
    *out = (dl_net_layer){ l->type, l->activation, l->name, l->n_inputs, l->inputs, l->ip, l->fp, l->w,
                           l->rank, l->h, l->w_, l->c, l->pad };
}
