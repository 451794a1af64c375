/* graph.c — build a network from a model file and the Keras Applications
 * arguments, plan its memory, run it.
 *
 * Build, in order:
 *   1. layers:  the Keras layers of the requested model (the file's, minus the
 *               top, plus a pooling layer...) with output shapes — what
 *               model.summary() lists;
 *   2. nodes:   the operations actually executed (one table, dispatched in
 *               one place: run_node). Conv -> BatchNorm -> ReLU chains fold
 *               into one convolution with bias and a fused clamp, BatchNorm ->
 *               ReLU into one scale-shift, ZeroPadding2D into the next conv;
 *   3. storage: concatenations alias their inputs into one buffer (each conv
 *               writes its new channels straight into the block's buffer, so
 *               DenseNet's concats copy nothing), and buffers whose lifetimes
 *               do not overlap share memory in one arena.
 */
#include "models/model_internal.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 1. layers ------------------------------------------------------------ */

typedef struct {
    int type, activation;
    const char *name;
    const char *class_name;
    int n_inputs;
    const int *inputs;
    int own_input;              /* storage for the input of an appended layer */
    int ip[8];
    float fp[2];
    const float *w[4];          /* kernel [, bias] | gamma, beta, mean, variance */
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
    float *packed;              /* OP_CONV / OP_DENSE weights, packed */
    float *scale, *shift;       /* OP_SCALE_SHIFT */
    float out_min, out_max;
} node;

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
    const char *model_name;
    float **blocks;             /* owned: random weights, packed weights, BN scale/shift */
    int n_blocks, cap_blocks;
    size_t arena_floats;        /* per image */
    float *arena;
    size_t arena_batch;
    void *scratch;
    size_t scratch_bytes;
};

static float *own(dl_net *net, size_t n) {
    if (net->n_blocks == net->cap_blocks) {
        int cap = net->cap_blocks ? 2 * net->cap_blocks : 256;
        float **b = realloc(net->blocks, sizeof *b * (size_t)cap);
        if (!b) return NULL;
        net->blocks = b; net->cap_blocks = cap;
    }
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (p) net->blocks[net->n_blocks++] = p;
    return p;
}

static const char *class_names[DL_LAYER_TYPE_COUNT] = {
    [DL_INPUT] = "InputLayer", [DL_ZERO_PADDING2D] = "ZeroPadding2D", [DL_CONV2D] = "Conv2D",
    [DL_BATCH_NORM] = "BatchNormalization", [DL_ACTIVATION] = "Activation",
    [DL_MAX_POOL2D] = "MaxPooling2D", [DL_AVG_POOL2D] = "AveragePooling2D",
    [DL_CONCATENATE] = "Concatenate", [DL_GLOBAL_AVG_POOL2D] = "GlobalAveragePooling2D",
    [DL_GLOBAL_MAX_POOL2D] = "GlobalMaxPooling2D", [DL_DENSE] = "Dense",
};

static const char *shape_str(const layer *l, char *buf, size_t cap) {
    if (l->rank == 3) snprintf(buf, cap, "(None, %d, %d, %d)", l->h, l->w_, l->c);
    else snprintf(buf, cap, "(None, %d)", l->c);
    return buf;
}

/* Keras initializers for weights=None: glorot_uniform kernels, zero biases,
 * BatchNormalization gamma=1, beta=0, moving mean 0, variance 1. */
static uint32_t rng_next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t x = (uint32_t)(((*s >> 18) ^ *s) >> 27), rot = (uint32_t)(*s >> 59);
    return (x >> rot) | (x << ((32 - rot) & 31));
}

static void glorot_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, uint64_t *rng) {
    float limit = sqrtf(6.0f / (float)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++) w[i] = ((float)(rng_next(rng) >> 8) / 16777216.0f * 2 - 1) * limit;
}

static void fill(float *w, size_t n, float v) { for (size_t i = 0; i < n; i++) w[i] = v; }

/* Output shape of layer i from its inputs; checks the file's tensors agree. */
static const char *infer_shape(const dl_model *m, dl_net *net, int i, int model_layer) {
    layer *l = &net->layers[i];
    const layer *in = l->n_inputs ? &net->layers[l->inputs[0]] : NULL;
    const dl_tensor *t = model_layer >= 0 && m->layers[model_layer].n_tensors ? &m->tensors[m->layers[model_layer].tensors[0]] : NULL;
    if (in && l->type != DL_DENSE && in->rank != 3) return dl_errorf("layer %s expects a 4-D input", l->name);
    switch (l->type) {
    case DL_INPUT:
        l->rank = 3; l->h = net->input_h; l->w_ = net->input_w; l->c = 3;
        break;
    case DL_ZERO_PADDING2D:
        l->rank = 3; l->h = in->h + l->ip[0] + l->ip[1]; l->w_ = in->w_ + l->ip[2] + l->ip[3]; l->c = in->c;
        break;
    case DL_CONV2D: {
        int f = l->ip[0], kh = l->ip[1], kw = l->ip[2], sh = l->ip[3], sw = l->ip[4];
        if (t && (t->ndim != 4 || t->dims[0] != kh || t->dims[1] != kw || t->dims[2] != in->c || t->dims[3] != f))
            return dl_errorf("model file: kernel of %s has shape (%d, %d, %d, %d), the graph needs (%d, %d, %d, %d)", l->name,
                             t->dims[0], t->ndim > 1 ? t->dims[1] : 0, t->ndim > 2 ? t->dims[2] : 0, t->ndim > 3 ? t->dims[3] : 0, kh, kw, in->c, f);
        l->rank = 3; l->c = f;
        if (l->ip[5]) {            /* 'same': TF puts the extra padding row/column at the end */
            l->h = (in->h + sh - 1) / sh; l->w_ = (in->w_ + sw - 1) / sw;
            int ph = (l->h - 1) * sh + kh - in->h, pw = (l->w_ - 1) * sw + kw - in->w_;
            if (ph < 0) ph = 0;
            if (pw < 0) pw = 0;
            l->pad[0] = ph / 2; l->pad[1] = ph - ph / 2; l->pad[2] = pw / 2; l->pad[3] = pw - pw / 2;
        } else {
            if (in->h < kh || in->w_ < kw) return dl_errorf("layer %s: input %dx%d is smaller than its %dx%d kernel; use a larger input_shape", l->name, in->h, in->w_, kh, kw);
            l->h = (in->h - kh) / sh + 1; l->w_ = (in->w_ - kw) / sw + 1;
        }
        l->params = (size_t)kh * kw * in->c * f + (l->ip[6] ? (size_t)f : 0);
        l->trainable = l->params;
        break;
    }
    case DL_BATCH_NORM:
        if (t && (t->ndim != 1 || t->dims[0] != in->c)) return dl_errorf("model file: %s has %d channels of parameters, its input has %d", l->name, t->dims[0], in->c);
        l->rank = 3; l->h = in->h; l->w_ = in->w_; l->c = in->c;
        l->params = 4 * (size_t)in->c; l->trainable = 2 * (size_t)in->c;
        break;
    case DL_ACTIVATION:
        l->rank = in->rank; l->h = in->h; l->w_ = in->w_; l->c = in->c;
        break;
    case DL_MAX_POOL2D: case DL_AVG_POOL2D:
        if (in->h < l->ip[0] || in->w_ < l->ip[1]) return dl_errorf("layer %s: input %dx%d is smaller than the %dx%d pool; use a larger input_shape", l->name, in->h, in->w_, l->ip[0], l->ip[1]);
        l->rank = 3; l->h = (in->h - l->ip[0]) / l->ip[2] + 1; l->w_ = (in->w_ - l->ip[1]) / l->ip[3] + 1; l->c = in->c;
        break;
    case DL_CONCATENATE:
        l->rank = 3; l->h = in->h; l->w_ = in->w_; l->c = 0;
        for (int k = 0; k < l->n_inputs; k++) {
            const layer *x = &net->layers[l->inputs[k]];
            if (x->rank != 3 || x->h != in->h || x->w_ != in->w_) return dl_errorf("layer %s: inputs have different spatial shapes", l->name);
            l->c += x->c;
        }
        break;
    case DL_GLOBAL_AVG_POOL2D: case DL_GLOBAL_MAX_POOL2D:
        l->rank = 1; l->c = in->c;
        break;
    case DL_DENSE:
        if (in->rank != 1) return dl_errorf("layer %s expects a flat input", l->name);
        if (t && (t->ndim != 2 || t->dims[0] != in->c || t->dims[1] != l->ip[0]))
            return dl_errorf("model file: kernel of %s does not match its input of %d features", l->name, in->c);
        l->rank = 1; l->c = l->ip[0];
        l->params = (size_t)in->c * l->c + (l->ip[1] ? (size_t)l->c : 0);
        l->trainable = l->params;
        break;
    default:
        return dl_errorf("layer %s: unsupported layer type", l->name);
    }
    return NULL;
}

static const char *check_options(const dl_model *m, const dl_net_options *o, int *h, int *w, int *c) {
    const dl_layer *in = &m->layers[0];
    int dh = in->ip[0] > 0 ? in->ip[0] : 224, dw = in->ip[1] > 0 ? in->ip[1] : 224;
    int top_units = m->layers[m->n_layers - 1].type == DL_DENSE ? m->layers[m->n_layers - 1].ip[0] : 0;
    if (o->imagenet_weights && o->include_top && top_units && o->classes != top_units)
        return dl_errorf("If using `weights` as `\"imagenet\"` with `include_top` as true, `classes` should be %d. Received: classes=%d", top_units, o->classes);
    if (o->classes < 1) return dl_errorf("classes must be a positive integer; Received: classes=%d", o->classes);
    *h = o->input_h ? o->input_h : dh;
    *w = o->input_w ? o->input_w : dw;
    *c = o->input_c ? o->input_c : 3;
    if (o->input_h && o->include_top && o->imagenet_weights && (*h != dh || *w != dw || *c != 3))
        return dl_errorf("When setting `include_top=True` and loading `imagenet` weights, `input_shape` should be (%d, %d, 3). Received: input_shape=(%d, %d, %d)", dh, dw, *h, *w, *c);
    if (*c != 3 && *c != 1)
        return dl_errorf("The input must have 3 channels (or 1, which DenseLab repeats to 3); Received `input_shape=(%d, %d, %d)`", *h, *w, *c);
    if (*h < 32 || *w < 32)
        return dl_errorf("Input size must be at least 32x32; Received: input_shape=(%d, %d, %d)", *h, *w, *c);
    if (*h > 4096 || *w > 4096)
        return dl_errorf("Input size must be at most 4096x4096; Received: input_shape=(%d, %d, %d)", *h, *w, *c);
    if (o->pooling < DL_POOLING_NONE || o->pooling > DL_POOLING_MAX) return "pooling must be None, 'avg' or 'max'";
    return NULL;
}

/* The last layer with a 4-D output ends the convolutional base. */
static int feature_end(const dl_net *net) {
    int end = 0;
    for (int i = 0; i < net->n_layers; i++) if (net->layers[i].rank == 3) end = i;
    return end;
}

static const char *build_layers(const dl_model *m, const dl_net_options *o, dl_net *net, uint64_t *rng) {
    net->layers = calloc(2 * (size_t)m->n_layers + 2, sizeof *net->layers);   /* room for internal values */
    if (!net->layers) return "out of memory";
    if (m->layers[0].type != DL_INPUT) return "model file: the first layer is not an InputLayer";
    for (int i = 0; i < m->n_layers; i++) {
        const dl_layer *ml = &m->layers[i];
        layer *l = &net->layers[i];
        l->type = ml->type; l->activation = ml->activation; l->name = ml->name;
        l->n_inputs = ml->n_inputs; l->inputs = ml->inputs;
        memcpy(l->ip, ml->ip, sizeof l->ip); memcpy(l->fp, ml->fp, sizeof l->fp);
        for (int k = 0; k < ml->n_tensors; k++) l->w[k] = m->tensors[ml->tensors[k]].data;
        if (i > 0 && ml->type == DL_INPUT) return "model file: more than one InputLayer";
        net->n_layers = i + 1;
        const char *err = infer_shape(m, net, i, i);
        if (err) return err;
    }
    if (!o->include_top) {
        net->n_layers = feature_end(net) + 1;
        if (o->pooling) {
            layer *p = &net->layers[net->n_layers];
            memset(p, 0, sizeof *p);
            p->type = o->pooling == DL_POOLING_AVG ? DL_GLOBAL_AVG_POOL2D : DL_GLOBAL_MAX_POOL2D;
            p->name = o->pooling == DL_POOLING_AVG ? "avg_pool" : "max_pool";
            p->own_input = net->n_layers - 1;
            p->inputs = &p->own_input; p->n_inputs = 1;
            net->n_layers++;
            infer_shape(m, net, net->n_layers - 1, -1);
        }
    } else if (!o->imagenet_weights && net->layers[net->n_layers - 1].type == DL_DENSE) {
        layer *d = &net->layers[net->n_layers - 1];
        d->ip[0] = o->classes;
        d->c = o->classes;
        d->params = d->trainable = (size_t)net->layers[d->inputs[0]].c * o->classes + (d->ip[1] ? (size_t)o->classes : 0);
    }
    for (int i = 0; i < net->n_layers; i++) net->layers[i].class_name = class_names[net->layers[i].type];

    if (!o->imagenet_weights) {          /* Keras initializers, seeded */
        for (int i = 0; i < net->n_layers; i++) {
            layer *l = &net->layers[i];
            const layer *in = l->n_inputs ? &net->layers[l->inputs[0]] : NULL;
            if (l->type == DL_CONV2D || l->type == DL_DENSE) {
                size_t taps = l->type == DL_CONV2D ? (size_t)l->ip[1] * l->ip[2] : 1;
                size_t n = taps * in->c * l->c;
                float *k = own(net, n), *b = own(net, l->c);
                if (!k || !b) return "out of memory";
                glorot_uniform(k, n, taps * in->c, taps * l->c, rng);
                fill(b, l->c, 0);
                l->w[0] = k; l->w[1] = b;
            } else if (l->type == DL_BATCH_NORM) {
                float *p = own(net, 4 * (size_t)l->c);
                if (!p) return "out of memory";
                fill(p, l->c, 1); fill(p + l->c, 2 * (size_t)l->c, 0); fill(p + 3 * (size_t)l->c, l->c, 1);
                for (int k = 0; k < 4; k++) l->w[k] = p + (size_t)k * l->c;
            }
        }
    }
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

/* ---- 2. nodes ---------------------------------------------------------- */

static int sole_consumer(const dl_net *net, int i, int type) {
    const layer *l = &net->layers[i];
    if (l->n_consumers != 1 || l->consumer < 0) return -1;
    return net->layers[l->consumer].type == type ? l->consumer : -1;
}

static int sole_relu(const dl_net *net, int i) {
    int a = sole_consumer(net, i, DL_ACTIVATION);
    return a >= 0 && net->layers[a].activation == DL_RELU ? a : -1;
}

static void bn_scale_shift(const layer *bn, float *scale, float *shift) {
    for (int c = 0; c < bn->c; c++) {
        double s = bn->w[0][c] / sqrt((double)bn->w[3][c] + bn->fp[0]);
        scale[c] = (float)s;
        shift[c] = (float)(bn->w[1][c] - bn->w[2][c] * s);
    }
}

static const char *build_nodes(dl_net *net) {
    net->nodes = calloc((size_t)net->n_keras * 2, sizeof *net->nodes);
    char *absorbed = calloc((size_t)net->n_keras * 2, 1);
    if (!net->nodes || !absorbed) { free(absorbed); return "out of memory"; }
    const float inf = INFINITY;
    for (int i = 0; i < net->n_keras; i++) {
        if (absorbed[i]) continue;
        layer *l = &net->layers[i];
        node *n = &net->nodes[net->n_nodes++];
        memset(n, 0, sizeof *n);
        n->in = l->n_inputs ? l->inputs[0] : -1;
        n->out = i;
        n->out_min = -inf; n->out_max = inf;
        switch (l->type) {
        case DL_INPUT: n->op = OP_INPUT; break;
        case DL_ZERO_PADDING2D:
            if (sole_consumer(net, i, DL_CONV2D) >= 0) { absorbed[i] = 1; net->n_nodes--; break; }
            n->op = OP_PAD;
            memcpy(n->pad, l->ip, sizeof n->pad);
            break;
        case DL_CONV2D: case DL_DENSE: {
            int pad[4] = { l->pad[0], l->pad[1], l->pad[2], l->pad[3] };
            if (n->in >= 0 && absorbed[n->in] && net->layers[n->in].type == DL_ZERO_PADDING2D) {
                const layer *p = &net->layers[n->in];
                for (int k = 0; k < 4; k++) pad[k] += p->ip[k];
                n->in = p->inputs[0];
            }
            const layer *in = &net->layers[n->in];
            int conv = l->type == DL_CONV2D;
            /* A 1x1 convolution followed by average pooling (DenseNet's transitions): both are
             * linear, so pool first and convolve a quarter of the pixels. */
            int pool = conv && l->ip[1] == 1 && l->ip[2] == 1 && l->ip[3] == 1 && l->ip[4] == 1 && !pad[0] && !pad[1] &&
                       !pad[2] && !pad[3] && l->activation == DL_LINEAR ? sole_consumer(net, i, DL_AVG_POOL2D) : -1;
            if (pool >= 0) {
                const layer *pl = &net->layers[pool];
                int e = net->n_layers++;         /* an internal value: the pooled input */
                layer *pooled = &net->layers[e];
                memset(pooled, 0, sizeof *pooled);
                pooled->type = DL_AVG_POOL2D; pooled->name = "(pooled input)";
                pooled->rank = 3; pooled->h = pl->h; pooled->w_ = pl->w_; pooled->c = in->c;
                n->op = OP_AVG_POOL; n->out = e;
                n->pool = (f32_pool2d_shape){ 1, (size_t)in->h, (size_t)in->w_, (size_t)in->c,
                    (size_t)pl->ip[0], (size_t)pl->ip[1], (size_t)pl->ip[2], (size_t)pl->ip[3] };
                n = &net->nodes[net->n_nodes++];
                memset(n, 0, sizeof *n);
                n->in = e;
                n->out_min = -inf; n->out_max = inf;
                in = pooled;
                absorbed[pool] = 1;
            }
            n->op = conv ? OP_CONV : OP_DENSE;
            n->conv = (f32_conv2d_shape){ 1, conv ? (size_t)in->h : 1, conv ? (size_t)in->w_ : 1, (size_t)in->c, (size_t)l->c,
                conv ? (size_t)l->ip[1] : 1, conv ? (size_t)l->ip[2] : 1, conv ? (size_t)l->ip[3] : 1, conv ? (size_t)l->ip[4] : 1,
                (size_t)pad[0], (size_t)pad[2], (size_t)pad[1], (size_t)pad[3] };
            size_t k = n->conv.kh * n->conv.kw * n->conv.in_c, co = (size_t)l->c;
            const float *w = l->w[0], *b = (conv ? l->ip[6] : l->ip[1]) ? l->w[1] : NULL;
            int end = pool >= 0 ? pool : i, bn = l->activation == DL_LINEAR && conv ? sole_consumer(net, i, DL_BATCH_NORM) : -1;
            float *folded = NULL;
            if (bn >= 0) {                   /* fold inference BatchNorm into the weights */
                folded = malloc((k * co + 3 * co) * sizeof(float));
                if (!folded) { free(absorbed); return "out of memory"; }
                float *fw = folded, *fb = fw + k * co, *s = fb + co, *t = s + co;
                bn_scale_shift(&net->layers[bn], s, t);
                for (size_t r = 0; r < k; r++)
                    for (size_t c = 0; c < co; c++) fw[r * co + c] = w[r * co + c] * s[c];
                for (size_t c = 0; c < co; c++) fb[c] = (b ? b[c] * s[c] : 0) + t[c];
                w = fw; b = fb;
                absorbed[bn] = 1; end = bn;
            }
            int relu = l->activation == DL_RELU ? i : (l->activation == DL_LINEAR ? sole_relu(net, end) : -1);
            if (relu >= 0) { n->out_min = 0; if (relu != i) { absorbed[relu] = 1; end = relu; } }
            n->out = end;
            size_t packed = conv ? f32_conv2d_packed_size(&n->conv) : f32_gemm_packed_size(k, co);
            if (!(n->packed = own(net, packed))) { free(folded); free(absorbed); return "out of memory"; }
            if (conv) f32_conv2d_pack(&n->conv, w, b, n->packed);
            else f32_gemm_pack(k, co, w, b, n->packed);
            free(folded);
            if (l->activation == DL_SOFTMAX) {   /* softmax runs in place on the dense output */
                node *s = &net->nodes[net->n_nodes++];
                memset(s, 0, sizeof *s);
                s->op = OP_SOFTMAX; s->in = s->out = end;
            }
            break;
        }
        case DL_BATCH_NORM: case DL_ACTIVATION: {
            if (l->type == DL_ACTIVATION && l->activation == DL_SOFTMAX) { n->op = OP_SOFTMAX; break; }
            n->op = OP_SCALE_SHIFT;         /* BatchNorm, ReLU, or linear (identity) */
            n->scale = own(net, (size_t)l->c); n->shift = own(net, (size_t)l->c);
            if (!n->scale || !n->shift) { free(absorbed); return "out of memory"; }
            if (l->type == DL_BATCH_NORM) bn_scale_shift(l, n->scale, n->shift);
            else { fill(n->scale, l->c, 1); fill(n->shift, l->c, 0); }
            int relu = l->type == DL_ACTIVATION ? (l->activation == DL_RELU ? i : -1) : sole_relu(net, i);
            if (relu >= 0) { n->out_min = 0; absorbed[relu] = relu != i; n->out = relu; }
            break;
        }
        case DL_MAX_POOL2D: case DL_AVG_POOL2D: {
            const layer *in = &net->layers[n->in];
            n->op = l->type == DL_MAX_POOL2D ? OP_MAX_POOL : OP_AVG_POOL;
            n->pool = (f32_pool2d_shape){ 1, (size_t)in->h, (size_t)in->w_, (size_t)in->c,
                (size_t)l->ip[0], (size_t)l->ip[1], (size_t)l->ip[2], (size_t)l->ip[3] };
            break;
        }
        case DL_CONCATENATE: n->op = OP_CONCAT; break;
        case DL_GLOBAL_AVG_POOL2D: n->op = OP_GLOBAL_AVG_POOL; break;
        case DL_GLOBAL_MAX_POOL2D: n->op = OP_GLOBAL_MAX_POOL; break;
        }
    }
    free(absorbed);
    return NULL;
}

/* ---- 3. storage ---------------------------------------------------------- */

static int writes_strided(int op) { return op == OP_INPUT || op == OP_PAD || op == OP_CONV || op == OP_SCALE_SHIFT || op == OP_MAX_POOL || op == OP_AVG_POOL || op == OP_CONCAT; }

static const char *plan_storage(dl_net *net) {
    int nl = net->n_layers, nn = net->n_nodes;
    net->st = calloc((size_t)nl, sizeof *net->st);
    int *producer = malloc(sizeof(int) * (size_t)nl);
    char *aliased = calloc((size_t)nl, 1);
    if (!net->st || !producer || !aliased) { free(producer); free(aliased); return "out of memory"; }
    for (int i = 0; i < nl; i++) { net->st[i].root = i; producer[i] = -1; net->st[i].first = nn; net->st[i].last = -1; }
    for (int j = 0; j < nn; j++) if (producer[net->nodes[j].out] < 0) producer[net->nodes[j].out] = j;

    /* Concatenations, last first, so a concat aliased into a later one passes its place on. */
    for (int j = nn - 1; j >= 0; j--) {
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
    /* Lifetimes of each root buffer, in node order. */
    for (int j = 0; j < nn; j++) {
        const node *n = &net->nodes[j];
        storage *w = &net->st[net->st[n->out].root];
        if (j < w->first) w->first = j;
        if (j > w->last) w->last = j;
        const layer *l = &net->layers[n->out];
        int reads_all = n->op == OP_CONCAT;
        for (int k = 0; k < (reads_all ? l->n_inputs : (n->in >= 0)); k++) {
            int x = reads_all ? l->inputs[k] : n->in;
            storage *r = &net->st[net->st[x].root];
            if (j > r->last) r->last = j;
        }
    }
    net->st[net->st[net->output].root].last = nn;     /* read by the caller */
    for (int i = 0; i < nl; i++) {
        const layer *l = &net->layers[i];
        net->st[i].floats = l->rank == 3 ? (size_t)l->h * l->w_ * l->c : (size_t)l->c;
    }
    /* Greedy by size: biggest buffers first, each at the lowest offset free for its lifetime. */
    int *order = malloc(sizeof(int) * (size_t)nl), count = 0;
    if (!order) { free(producer); free(aliased); return "out of memory"; }
    for (int i = 0; i < nl; i++) if (net->st[i].root == i && net->st[i].last >= 0) order[count++] = i;
    for (int a = 1; a < count; a++)
        for (int b = a; b > 0 && net->st[order[b]].floats > net->st[order[b - 1]].floats; b--) {
            int t = order[b]; order[b] = order[b - 1]; order[b - 1] = t;
        }
    net->arena_floats = 0;
    for (int a = 0; a < count; a++) {
        storage *s = &net->st[order[a]];
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int b = 0; b < a; b++) {
                const storage *p = &net->st[order[b]];
                int overlap_time = p->first <= s->last && s->first <= p->last;
                if (overlap_time && p->offset < off + s->floats && off < p->offset + p->floats) {
                    off = (p->offset + p->floats + 15) & ~(size_t)15;
                    moved = 1;
                }
            }
        }
        s->offset = off;
        if (off + s->floats > net->arena_floats) net->arena_floats = off + s->floats;
    }
    free(order); free(producer); free(aliased);
    return NULL;
}

const char *dl_net_build(const dl_model *m, const dl_net_options *o, dl_net **out) {
    int h = 0, w = 0, c = 0;
    const char *err = check_options(m, o, &h, &w, &c);
    if (err) return err;
    dl_net *net = calloc(1, sizeof *net);
    if (!net) return "out of memory";
    net->input_h = h; net->input_w = w; net->input_c = c;
    net->model_name = m->name;
    uint64_t rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
    err = build_layers(m, o, net, &rng);
    if (!err) err = build_nodes(net);
    if (!err) err = plan_storage(net);
    if (err) { dl_net_free(net); return err; }
    *out = net;
    return NULL;
}

void dl_net_free(dl_net *net) {
    if (!net) return;
    free(net->layers); free(net->nodes); free(net->st);
    for (int i = 0; i < net->n_blocks; i++) free(net->blocks[i]);
    free(net->blocks); free(net->arena); free(net->scratch);
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

static void run_node(dl_net *net, const node *n, size_t batch, const float *input) {
    const layer *l = &net->layers[n->out];
    view out = value(net, n->out, batch);
    view in = n->in >= 0 ? value(net, n->in, batch) : (view){ 0, 0 };
    const layer *il = n->in >= 0 ? &net->layers[n->in] : NULL;
    switch (n->op) {
    case OP_INPUT: {
        size_t pixels = batch * l->h * l->w_;
        if (net->input_c == 3) copy_pixels(pixels, 3, input, 3, out.p, out.stride);
        else for (size_t p = 0; p < pixels; p++) out.p[p * out.stride] = out.p[p * out.stride + 1] = out.p[p * out.stride + 2] = input[p];
        break;
    }
    case OP_PAD:
        for (size_t b = 0; b < batch; b++)
            for (int y = 0; y < l->h; y++)
                for (int x = 0; x < l->w_; x++) {
                    float *o = out.p + ((b * l->h + y) * l->w_ + x) * out.stride;
                    int sy = y - n->pad[0], sx = x - n->pad[2];
                    if (sy < 0 || sx < 0 || sy >= il->h || sx >= il->w_) memset(o, 0, (size_t)l->c * sizeof(float));
                    else memcpy(o, in.p + ((b * il->h + sy) * il->w_ + sx) * in.stride, (size_t)l->c * sizeof(float));
                }
        break;
    case OP_CONV: {
        f32_conv2d_shape s = n->conv;
        s.batch = batch;
        f32_conv2d_nhwc(&s, in.p, in.stride, n->packed, out.p, out.stride, n->out_min, n->out_max, net->scratch);
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
    case OP_CONCAT: {
        size_t pixels = batch * l->h * l->w_, off = 0;
        for (int k = 0; k < l->n_inputs; k++) {
            int x = l->inputs[k];
            if (net->st[x].copy_into_concat) {
                view src = value(net, x, batch);
                copy_pixels(pixels, (size_t)net->layers[x].c, src.p, src.stride, out.p + off, out.stride);
            }
            off += (size_t)net->layers[x].c;
        }
        break;
    }
    case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_MAX_POOL:
        (n->op == OP_GLOBAL_AVG_POOL ? f32_global_avgpool_nhwc : f32_global_maxpool_nhwc)(batch, (size_t)il->h * il->w_, (size_t)il->c, in.p, in.stride, out.p);
        break;
    case OP_SOFTMAX:
        f32_softmax(batch, (size_t)l->c, in.p, out.p);
        break;
    }
}

const char *dl_net_run(dl_net *net, const float *input, size_t batch, float *output) {
    if (batch == 0) return "batch must be at least 1";
    if (batch > net->arena_batch) {
        if (net->arena_floats > (size_t)-1 / sizeof(float) / batch) return "batch too large";
        size_t scratch = 0;
        for (int j = 0; j < net->n_nodes; j++)
            if (net->nodes[j].op == OP_CONV) {
                f32_conv2d_shape s = net->nodes[j].conv;
                s.batch = batch;
                size_t b = f32_conv2d_scratch_size(&s);
                if (b > scratch) scratch = b;
            }
        float *arena = malloc(net->arena_floats * batch * sizeof(float));
        void *scr = scratch ? malloc(scratch) : NULL;
        if (!arena || (scratch && !scr)) { free(arena); free(scr); return dl_errorf("out of memory for a batch of %zu", batch); }
        free(net->arena); free(net->scratch);
        net->arena = arena; net->scratch = scr; net->scratch_bytes = scratch;
        net->arena_batch = batch;
    }
    for (int j = 0; j < net->n_nodes; j++) run_node(net, &net->nodes[j], batch, input);
    const layer *o = &net->layers[net->output];
    view v = value(net, net->output, batch);
    size_t pixels = batch * (o->rank == 3 ? (size_t)o->h * o->w_ : 1);
    copy_pixels(pixels, (size_t)o->c, v.p, v.stride, output, (size_t)o->c);
    return NULL;
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

size_t dl_net_output_size(const dl_net *net) { return net->st[net->output].floats; }
size_t dl_net_arena_bytes(const dl_net *net) { return net->arena_floats * sizeof(float); }

void dl_net_param_counts(const dl_net *net, size_t *total, size_t *trainable) {
    *total = *trainable = 0;
    for (int i = 0; i < net->n_keras; i++) { *total += net->layers[i].params; *trainable += net->layers[i].trainable; }
}

/* ---- model.summary() --------------------------------------------------------- */

typedef struct { char *buf; size_t cap, len; } sink;

static void put(sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->len < s->cap ? s->buf + s->len : NULL, s->len < s->cap ? s->cap - s->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) s->len += (size_t)n;
}

static void put_count(sink *s, size_t v) {      /* 8062504 -> 8,062,504 */
    char d[32];
    int n = snprintf(d, sizeof d, "%zu", v);
    for (int i = 0; i < n; i++) put(s, (i && (n - i) % 3 == 0) ? ",%c" : "%c", d[i]);
}

size_t dl_net_summary(const dl_net *net, char *buf, size_t cap) {
    sink s = { buf, cap, 0 };
    if (cap) buf[0] = 0;
    const char *rule = "____________________________________________________________________________________________________";
    put(&s, "Model: \"%s\"\n%s\n", net->model_name, rule);
    put(&s, " %-42s %-22s %-11s %s\n", "Layer (type)", "Output Shape", "Param #", "Connected to");
    put(&s, "====================================================================================================\n");
    for (int i = 0; i < net->n_keras; i++) {
        const layer *l = &net->layers[i];
        char name[128], shape[64], count[32];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->class_name);
        sink c = { count, sizeof count, 0 };
        put_count(&c, l->params);
        put(&s, " %-42s %-22s %-11s", name, shape_str(l, shape, sizeof shape), count);
        for (int k = 0; k < l->n_inputs; k++) put(&s, "%s%s", k ? ", " : " ", net->layers[l->inputs[k]].name);
        put(&s, "\n");
    }
    size_t total, trainable;
    dl_net_param_counts(net, &total, &trainable);
    put(&s, "====================================================================================================\nTotal params: ");
    put_count(&s, total);
    put(&s, "\nTrainable params: ");
    put_count(&s, trainable);
    put(&s, "\nNon-trainable params: ");
    put_count(&s, total - trainable);
    put(&s, "\n%s\n", rule);
    return s.len;
}
