/* export.c — see export.h. Field numbers from onnx/onnx.proto (IR version 8);
 * the network's ops follow its Keras layers (models/model.h dl_net_layer_at),
 * the classifier's follow its kind (one row per kind in `heads` below). */
#include "onnx/export.h"
#include "onnx/protobuf.h"
#include "common/checked.h"
#include "common/reason.h"
#include "learn/experiment.h"
#include "learn/finetune.h"
#include "learn/kernel_svm.h"
#include "learn/linear_svm.h"
#include "learn/softmax_head.h"
#include "models/format.h"
#include "models/image.h"
#include "models/pyformat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IR_VERSION = 8, OPSET = 13, ML_OPSET = 1 };
/* ModelProto, OperatorSetIdProto, StringStringEntryProto */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER = 2, MODEL_GRAPH = 7, MODEL_OPSET = 8, MODEL_METADATA = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2, ENTRY_KEY = 1, ENTRY_VALUE = 2 };
/* GraphProto, NodeProto, AttributeProto */
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP = 4, NODE_ATTRIBUTE = 5, NODE_DOMAIN = 7 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_FLOATS = 7, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_STRING = 3, ATTR_TYPE_FLOATS = 6, ATTR_TYPE_INTS = 7 };
/* TensorProto and its data types; ValueInfoProto -> TypeProto.Tensor -> TensorShapeProto.Dimension */
enum { TENSOR_DIMS = 1, TENSOR_TYPE = 2, TENSOR_STRINGS = 6, TENSOR_NAME = 8, TENSOR_RAW = 9 };
enum { T_FLOAT = 1, T_INT64 = 7, T_STRING = 8 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2, TYPE_TENSOR = 1, TENSOR_ELEM = 1, TENSOR_SHAPE = 2, SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2 };

/* Names of values built from a layer's name ("conv1/conv/kernel"). */
#define NAME_CAP 512
#define LAYER_NAME_MAX 400

/* ---- nodes, attributes, initializers --------------------------------------- */

static void node_begin(dl_pb *g, const char *op, const char *const *in, int n_in, const char *out) {
    dl_pb_begin(g, GRAPH_NODE);
    for (int i = 0; i < n_in; i++) dl_pb_string(g, NODE_INPUT, in[i]);
    dl_pb_string(g, NODE_OUTPUT, out);
    dl_pb_string(g, NODE_NAME, out);
    dl_pb_string(g, NODE_OP, op);
}

/* A node without attributes: op(in...) -> out. */
static void node(dl_pb *g, const char *op, const char *const *in, int n_in, const char *out) {
    node_begin(g, op, in, n_in, out);
    dl_pb_end(g);
}

static void node1(dl_pb *g, const char *op, const char *in, const char *out) { node(g, op, &in, 1, out); }

static void node2(dl_pb *g, const char *op, const char *a, const char *b, const char *out) {
    const char *in[2] = { a, b };
    node(g, op, in, 2, out);
}

static void attr_begin(dl_pb *g, const char *name) {
    dl_pb_begin(g, NODE_ATTRIBUTE);
    dl_pb_string(g, ATTR_NAME, name);
}

static void attr_end(dl_pb *g, int type) {
    dl_pb_varint(g, ATTR_TYPE, (uint64_t)type);
    dl_pb_end(g);
}

static void attr_int(dl_pb *g, const char *name, int64_t v) { attr_begin(g, name); dl_pb_varint(g, ATTR_I, (uint64_t)v); attr_end(g, ATTR_TYPE_INT); }
static void attr_float(dl_pb *g, const char *name, float v) { attr_begin(g, name); dl_pb_float(g, ATTR_F, v); attr_end(g, ATTR_TYPE_FLOAT); }
static void attr_string(dl_pb *g, const char *name, const char *s) { attr_begin(g, name); dl_pb_string(g, ATTR_S, s); attr_end(g, ATTR_TYPE_STRING); }

static void attr_ints(dl_pb *g, const char *name, const int64_t *v, size_t n) {
    attr_begin(g, name);
    dl_pb_ints(g, ATTR_INTS, v, n);
    attr_end(g, ATTR_TYPE_INTS);
}

/* Floats computed for the file (a transposed kernel, converted coefficients) are staged in
 * an aligned buffer and copied in: the file's bytes have no alignment. NULL: out of memory. */
static float *staged(dl_pb *g, size_t count) {
    float *v = count > (size_t)-1 / 4 ? NULL : malloc(count ? count * 4 : 1);
    if (!v) g->out.failed = 1;
    return v;
}

static void put_staged(dl_pb *g, int field, float *v, size_t count) {
    if (v) dl_pb_bytes(g, field, v, count * 4);
    free(v);
}

/* A float list attribute: the caller fills the count staged floats, then attr_floats_end. */
static float *attr_floats_begin(dl_pb *g, const char *name, size_t count) {
    attr_begin(g, name);
    return staged(g, count);
}

static void attr_floats_end(dl_pb *g, float *v, size_t count) {
    put_staged(g, ATTR_FLOATS, v, count);
    attr_end(g, ATTR_TYPE_FLOATS);
}

/* A float32 initializer's header; returns its element count (0 on overflow). */
static size_t tensor_header(dl_pb *g, const char *name, const int64_t *dims, int ndim) {
    size_t count = 1;
    dl_pb_begin(g, GRAPH_INITIALIZER);
    for (int i = 0; i < ndim; i++) {
        dl_pb_varint(g, TENSOR_DIMS, (uint64_t)dims[i]);
        if (!dl_mul(count, (size_t)dims[i], &count)) { g->out.failed = 1; return 0; }
    }
    dl_pb_varint(g, TENSOR_TYPE, T_FLOAT);
    dl_pb_string(g, TENSOR_NAME, name);
    return count;
}

/* A float32 initializer the caller fills (the staged floats returned), then tensor_end. */
static float *tensor_begin(dl_pb *g, const char *name, const int64_t *dims, int ndim, size_t *count) {
    *count = tensor_header(g, name, dims, ndim);
    return staged(g, *count);
}

static void tensor_end(dl_pb *g, float *v, size_t count) {
    put_staged(g, TENSOR_RAW, v, count);
    dl_pb_end(g);
}

static void tensor_f32(dl_pb *g, const char *name, const int64_t *dims, int ndim, const float *v, size_t count) {
    if (tensor_header(g, name, dims, ndim) == count) dl_pb_bytes(g, TENSOR_RAW, v, count * sizeof(float));
    else g->out.failed = 1;
    dl_pb_end(g);
}

static void tensor_int64(dl_pb *g, const char *name, const int64_t *v, int64_t n) {
    dl_pb_begin(g, GRAPH_INITIALIZER);
    dl_pb_varint(g, TENSOR_DIMS, (uint64_t)n);
    dl_pb_varint(g, TENSOR_TYPE, T_INT64);
    dl_pb_string(g, TENSOR_NAME, name);
    dl_pb_bytes(g, TENSOR_RAW, v, (size_t)n * sizeof(int64_t));   /* little-endian, as the floats */
    dl_pb_end(g);
}

/* "prefix/suffix" into buf[NAME_CAP] (names are checked against LAYER_NAME_MAX first). */
static const char *join(char *buf, const char *prefix, const char *suffix) {
    snprintf(buf, NAME_CAP, "%s/%s", prefix, suffix);
    return buf;
}

/* ---- graph inputs and outputs ---------------------------------------------- */

typedef struct {
    const char *name;
    int type;               /* T_FLOAT, T_INT64, T_STRING */
    int rank;
    int64_t dims[4];        /* -1: the batch, "N" */
    char what[160];
} io;

static void value_info(dl_pb *g, int field, const io *v) {
    dl_pb_begin(g, field);
    dl_pb_string(g, VALUE_NAME, v->name);
    dl_pb_begin(g, VALUE_TYPE);
    dl_pb_begin(g, TYPE_TENSOR);
    dl_pb_varint(g, TENSOR_ELEM, (uint64_t)v->type);
    dl_pb_begin(g, TENSOR_SHAPE);
    for (int i = 0; i < v->rank; i++) {
        dl_pb_begin(g, SHAPE_DIM);
        if (v->dims[i] < 0) dl_pb_string(g, DIM_PARAM, "N");
        else dl_pb_varint(g, DIM_VALUE, (uint64_t)v->dims[i]);
        dl_pb_end(g);
    }
    dl_pb_end(g); dl_pb_end(g); dl_pb_end(g); dl_pb_end(g);
}

static const char *type_name(int type) { return type == T_FLOAT ? "float32" : type == T_INT64 ? "int64" : "string"; }

/* ["name", ...]: the project's class names as a JSON array. */
static void json_class_names(dl_text *t, const dl_project *p) {
    dl_text_puts(t, "[");
    for (int i = 0; i < p->num_classes; i++) { if (i) dl_text_puts(t, ", "); dl_text_json_str(t, p->class_names[i]); }
    dl_text_puts(t, "]");
}

/* One line "input  image  float32 [N, 96, 96, 3]  what", or a JSON object. */
static void describe_io(dl_text *t, int json, const char *dir, const io *v) {
    if (json) {
        dl_text_puts(t, "{\"name\": ");
        dl_text_json_str(t, v->name);
        dl_text_printf(t, ", \"type\": \"%s\", \"shape\": [", type_name(v->type));
    } else {
        dl_text_printf(t, "%-7s %-16s %-8s [", dir, v->name, type_name(v->type));
    }
    for (int i = 0; i < v->rank; i++) {
        if (v->dims[i] < 0) dl_text_printf(t, "%s%s", i ? ", " : "", json ? "\"N\"" : "N");
        else dl_text_printf(t, "%s%lld", i ? ", " : "", (long long)v->dims[i]);
    }
    if (json) { dl_text_puts(t, "], \"what\": "); dl_text_json_str(t, v->what); dl_text_puts(t, "}"); }
    else dl_text_printf(t, "]  %s\n", v->what);
}

/* ---- the network ------------------------------------------------------------ */

/* The value a layer writes: its name, or the preprocessed input for the InputLayer. */
static const char *value_of(const dl_net *net, int i, const char *input) {
    dl_net_layer l;
    dl_net_layer_at(net, i, &l);
    return l.type == DL_INPUT ? input : l.name;
}

/* The layer's own activation applied to `linear`, written as `out`. */
static void activation(dl_pb *g, int act, const char *linear, const char *out) {
    if (act == DL_SOFTMAX) {          /* NCHW or (N, C): the channels are axis 1 */
        node_begin(g, "Softmax", &linear, 1, out);
        attr_int(g, "axis", 1);
        dl_pb_end(g);
    } else {
        node1(g, act == DL_RELU ? "Relu" : "Identity", linear, out);
    }
}

static void conv(dl_pb *g, const dl_net_layer *l, const char *x, int in_c) {
    char kname[NAME_CAP], bname[NAME_CAP], lin[NAME_CAP];
    int kh = l->ip[DL_CONV_KH], kw = l->ip[DL_CONV_KW], co = l->c, bias = l->ip[DL_CONV_USE_BIAS];
    int64_t dims[4] = { co, in_c, kh, kw };
    size_t count;
    float *k = tensor_begin(g, join(kname, l->name, "kernel"), dims, 4, &count);
    for (int y = 0; k && y < kh; y++)               /* Keras HWIO -> ONNX OIHW */
        for (int xx = 0; xx < kw; xx++)
            for (int i = 0; i < in_c; i++)
                for (int c = 0; c < co; c++)
                    k[(((size_t)c * in_c + i) * kh + y) * kw + xx] = l->w[0][(((size_t)y * kw + xx) * in_c + i) * co + c];
    tensor_end(g, k, count);
    if (bias) { int64_t n = co; tensor_f32(g, join(bname, l->name, "bias"), &n, 1, l->w[1], (size_t)co); }
    const char *in[3] = { x, kname, bname }, *out = l->activation == DL_LINEAR ? l->name : join(lin, l->name, "linear");
    int same = l->ip[DL_CONV_SAME_PADDING];
    int64_t kernel[2] = { kh, kw }, strides[2] = { l->ip[DL_CONV_STRIDE_H], l->ip[DL_CONV_STRIDE_W] };
    int64_t pads[4] = { same ? l->pad[0] : 0, same ? l->pad[2] : 0, same ? l->pad[1] : 0, same ? l->pad[3] : 0 };
    node_begin(g, "Conv", in, bias ? 3 : 2, out);
    attr_ints(g, "kernel_shape", kernel, 2);
    attr_ints(g, "strides", strides, 2);
    attr_ints(g, "pads", pads, 4);
    dl_pb_end(g);
    if (l->activation != DL_LINEAR) activation(g, l->activation, out, l->name);
}

static void dense(dl_pb *g, const dl_net_layer *l, const char *x, int in_c) {
    char kname[NAME_CAP], bname[NAME_CAP], lin[NAME_CAP];
    int units = l->c, bias = l->ip[DL_DENSE_USE_BIAS];
    int64_t dims[2] = { in_c, units }, n = units;
    tensor_f32(g, join(kname, l->name, "kernel"), dims, 2, l->w[0], (size_t)in_c * units);
    if (bias) tensor_f32(g, join(bname, l->name, "bias"), &n, 1, l->w[1], (size_t)units);
    const char *in[3] = { x, kname, bname }, *out = l->activation == DL_LINEAR ? l->name : join(lin, l->name, "linear");
    node(g, "Gemm", in, bias ? 3 : 2, out);
    if (l->activation != DL_LINEAR) activation(g, l->activation, out, l->name);
}

static void batch_norm(dl_pb *g, const dl_net_layer *l, const char *x) {
    static const char *const slot[4] = { "gamma", "beta", "moving_mean", "moving_variance" };
    char names[4][NAME_CAP];
    int64_t n = l->c;
    for (int k = 0; k < 4; k++) tensor_f32(g, join(names[k], l->name, slot[k]), &n, 1, l->w[k], (size_t)l->c);
    const char *in[5] = { x, names[0], names[1], names[2], names[3] };
    node_begin(g, "BatchNormalization", in, 5, l->name);
    attr_float(g, "epsilon", l->fp[DL_BN_EPSILON]);
    dl_pb_end(g);
}

static void pool(dl_pb *g, const dl_net_layer *l, const char *x) {
    int64_t kernel[2] = { l->ip[DL_POOL_H], l->ip[DL_POOL_W] }, strides[2] = { l->ip[DL_POOL_STRIDE_H], l->ip[DL_POOL_STRIDE_W] };
    node_begin(g, l->type == DL_MAX_POOL2D ? "MaxPool" : "AveragePool", &x, 1, l->name);
    attr_ints(g, "kernel_shape", kernel, 2);
    attr_ints(g, "strides", strides, 2);
    dl_pb_end(g);
}

/* Does the layer have the file's tensors it needs (kernel [, bias] | BatchNorm's four)? */
static int has_weights(const dl_net_layer *l) {
    int need = l->type == DL_BATCH_NORM ? 4 : l->type == DL_CONV2D ? 1 + !!l->ip[DL_CONV_USE_BIAS] :
               l->type == DL_DENSE ? 1 + !!l->ip[DL_DENSE_USE_BIAS] : 0;
    for (int k = 0; k < need; k++) if (!l->w[k]) return 0;
    return 1;
}

/* Every Keras layer after the InputLayer (whose value is `input`, NCHW), the last one's value as `output`. */
static const char *write_network(dl_pb *g, const dl_net *net, const char *input, const char *output) {
    int n = dl_net_layer_count(net);
    char name[NAME_CAP];
    for (int i = 1; i < n; i++) {
        dl_net_layer l, src;
        dl_net_layer_at(net, i, &l);
        if (strlen(l.name) > LAYER_NAME_MAX) return dl_errorf("layer name of %zu bytes: too long for the ONNX export", strlen(l.name));
        if (!has_weights(&l)) return "the ONNX export needs the file's weights (weights='imagenet'), not weights=None";
        if (l.n_inputs < 1) return dl_errorf("layer %s has no input", l.name);
        dl_net_layer_at(net, l.inputs[0], &src);
        const char *x = value_of(net, l.inputs[0], input);
        switch (l.type) {
        case DL_ZERO_PADDING2D: {
            int64_t pads[8] = { 0, 0, l.ip[DL_PAD_TOP], l.ip[DL_PAD_LEFT], 0, 0, l.ip[DL_PAD_BOTTOM], l.ip[DL_PAD_RIGHT] };
            tensor_int64(g, join(name, l.name, "pads"), pads, 8);
            node2(g, "Pad", x, name, l.name);
            break;
        }
        case DL_CONV2D: conv(g, &l, x, src.c); break;
        case DL_DENSE: dense(g, &l, x, src.c); break;
        case DL_BATCH_NORM: batch_norm(g, &l, x); break;
        case DL_ACTIVATION: activation(g, l.activation, x, l.name); break;
        case DL_MAX_POOL2D: case DL_AVG_POOL2D: pool(g, &l, x); break;
        case DL_CONCATENATE: {
            const char *in[64];
            if (l.n_inputs > 64) return dl_errorf("layer %s: %d inputs (the export takes 64)", l.name, l.n_inputs);
            for (int k = 0; k < l.n_inputs; k++) in[k] = value_of(net, l.inputs[k], input);
            node_begin(g, "Concat", in, l.n_inputs, l.name);
            attr_int(g, "axis", 1);
            dl_pb_end(g);
            break;
        }
        case DL_GLOBAL_AVG_POOL2D: case DL_GLOBAL_MAX_POOL2D:
            node1(g, l.type == DL_GLOBAL_MAX_POOL2D ? "GlobalMaxPool" : "GlobalAveragePool", x, join(name, l.name, "nc11"));
            node_begin(g, "Flatten", (const char *const[]){ name }, 1, l.name);
            attr_int(g, "axis", 1);
            dl_pb_end(g);
            break;
        default: return dl_errorf("layer %s: no ONNX export for its type", l.name);
        }
    }
    dl_net_layer last;
    dl_net_layer_at(net, n - 1, &last);
    const char *y = value_of(net, n - 1, input);
    if (last.rank == 3) {                 /* back to our NHWC */
        static const int64_t nhwc[4] = { 0, 2, 3, 1 };
        node_begin(g, "Transpose", &y, 1, output);
        attr_ints(g, "perm", nhwc, 4);
        dl_pb_end(g);
    } else {
        node1(g, "Identity", y, output);
    }
    return NULL;
}

/* image (NHWC, 0..255) -> preprocess_input('torch') -> NCHW as `out`, the same float32 ops as dl_preprocess_torch. */
static void preprocess(dl_pb *g, const char *image, const char *out) {
    static const float scale = 255.0f;
    static const int64_t channels = 3, nchw[4] = { 0, 3, 1, 2 };
    const char *normalised = "preprocess/normalised";
    tensor_f32(g, "preprocess/255", NULL, 0, &scale, 1);
    tensor_f32(g, "preprocess/mean", &channels, 1, dl_torch_mean, 3);
    tensor_f32(g, "preprocess/std", &channels, 1, dl_torch_std, 3);
    node2(g, "Div", image, "preprocess/255", "preprocess/scaled");
    node2(g, "Sub", "preprocess/scaled", "preprocess/mean", "preprocess/centred");
    node2(g, "Div", "preprocess/centred", "preprocess/std", normalised);
    node_begin(g, "Transpose", &normalised, 1, out);
    attr_ints(g, "perm", nchw, 4);
    dl_pb_end(g);
}

/* ---- the classifier: one function per kind ------------------------------------ */

static void gemm(dl_pb *g, const char *x, const char *w, const char *b, int trans_b, const char *out) {
    const char *in[3] = { x, w, b };
    node_begin(g, "Gemm", in, 3, out);
    if (trans_b) attr_int(g, "transB", 1);
    dl_pb_end(g);
}

/* w[k][d+1] (bias last): Gemm(x, W[K, d]^T, b[K]). */
static const char *linear_head(dl_pb *g, const dl_classifier *c, const char *x, io *extra) {
    const float *w = ((const dl_linear_svm_model *)c->model)->w;
    int k = c->num_classes, d = c->num_features;
    int64_t dims[2] = { k, d }, nk = k;
    size_t count;
    float *W = tensor_begin(g, "linear_svm/w", dims, 2, &count);
    for (int m = 0; W && m < k; m++) memcpy(W + (size_t)m * d, w + (size_t)m * (d + 1), sizeof(float) * (size_t)d);
    tensor_end(g, W, count);
    float *b = tensor_begin(g, "linear_svm/b", &nk, 1, &count);
    for (int m = 0; b && m < k; m++) b[m] = w[(size_t)m * (d + 1) + d];
    tensor_end(g, b, count);
    gemm(g, x, "linear_svm/w", "linear_svm/b", 1, "scores");
    return NULL;
}

/* [Dense(hidden, relu) ->] Dense(K) -> Softmax, Keras's [in, out] kernels. */
static const char *softmax_head(dl_pb *g, const dl_classifier *c, const char *x, io *extra) {
    const dl_softmax_model *M = c->model;
    int k = c->num_classes, d = c->num_features, h = M->hidden, in2 = h ? h : d;
    if (h) {
        int64_t dims[2] = { d, h }, nh = h;
        tensor_f32(g, "head/w1", dims, 2, M->w1, (size_t)d * h);
        tensor_f32(g, "head/b1", &nh, 1, M->b1, (size_t)h);
        gemm(g, x, "head/w1", "head/b1", 0, "head/hidden_linear");
        node1(g, "Relu", "head/hidden_linear", "head/hidden");
        x = "head/hidden";
    }
    int64_t dims[2] = { in2, k }, nk = k;
    tensor_f32(g, "head/w2", dims, 2, M->w2, (size_t)in2 * k);
    tensor_f32(g, "head/b2", &nk, 1, M->b2, (size_t)k);
    gemm(g, x, "head/w2", "head/b2", 0, "head/logits");
    activation(g, DL_SOFTMAX, "head/logits", "scores");
    return NULL;
}

/* ai.onnx.ml SVMClassifier gives the pairs' decision values (ONNX adds rho
 * where LIBSVM subtracts it; for two classes it gives [-v, v]); our score is
 * LIBSVM's votes: pair (i, j) votes i if its value is > 0, else j, so
 * votes = (values > 0) . V + base with V[p][i] = 1, V[p][j] = -1, base[j] += 1. */
static const char *rbf_head(dl_pb *g, const dl_classifier *c, const char *x, io *extra) {
    const dl_rbf_svm_model *M = c->model;
    int k = c->num_classes, d = c->num_features, L = M->total_sv, P = k * (k - 1) / 2;
    size_t sv_floats, coef_floats;
    if (!dl_mul((size_t)L, (size_t)d, &sv_floats) || !dl_mul((size_t)(k - 1), (size_t)L, &coef_floats) ||
        sv_floats > (size_t)-1 / 4 || coef_floats > (size_t)-1 / 4)
        return dl_errorf("rbf-svm with %d support vectors of %d features: too large to export on this platform", L, d);
    int64_t labels[DL_PROJECT_MAX_CLASSES], per_class[DL_PROJECT_MAX_CLASSES];
    if (k > DL_PROJECT_MAX_CLASSES) return dl_errorf("rbf-svm with %d classes: the export takes %d", k, DL_PROJECT_MAX_CLASSES);
    for (int i = 0; i < k; i++) { labels[i] = i; per_class[i] = M->sv_count[i]; }
    dl_pb_begin(g, GRAPH_NODE);
    dl_pb_string(g, NODE_INPUT, x);
    dl_pb_string(g, NODE_OUTPUT, "svm/label");
    dl_pb_string(g, NODE_OUTPUT, "svm/scores");
    dl_pb_string(g, NODE_NAME, "svm");
    dl_pb_string(g, NODE_OP, "SVMClassifier");
    dl_pb_string(g, NODE_DOMAIN, "ai.onnx.ml");
    attr_ints(g, "classlabels_ints", labels, (size_t)k);
    attr_ints(g, "vectors_per_class", per_class, (size_t)k);
    attr_string(g, "kernel_type", "RBF");
    attr_string(g, "post_transform", "NONE");
    float *f = attr_floats_begin(g, "kernel_params", 3);    /* gamma, coef0, degree */
    if (f) { f[0] = (float)M->gamma; f[1] = 0; f[2] = 3; }
    attr_floats_end(g, f, 3);
    f = attr_floats_begin(g, "rho", (size_t)P);
    for (int p = 0; f && p < P; p++) f[p] = (float)-M->rho[p];
    attr_floats_end(g, f, (size_t)P);
    f = attr_floats_begin(g, "coefficients", coef_floats);
    for (size_t i = 0; f && i < coef_floats; i++) f[i] = (float)M->sv_coef[i];
    attr_floats_end(g, f, coef_floats);
    attr_begin(g, "support_vectors");
    dl_pb_floats(g, ATTR_FLOATS, M->sv, sv_floats);
    attr_end(g, ATTR_TYPE_FLOATS);
    dl_pb_end(g);
    if (k == 2) {                         /* [-v, v] -> v */
        static const int64_t one = 1, two = 2;
        tensor_int64(g, "svm/start", &one, 1);
        tensor_int64(g, "svm/end", &two, 1);
        const char *in[4] = { "svm/scores", "svm/start", "svm/end", "svm/start" };   /* axes [1] */
        node(g, "Slice", in, 4, "decision_values");
    } else {
        node1(g, "Identity", "svm/scores", "decision_values");
    }
    static const float zero = 0;
    tensor_f32(g, "svm/zero", NULL, 0, &zero, 1);
    node2(g, "Greater", "decision_values", "svm/zero", "svm/wins");
    node_begin(g, "Cast", (const char *const[]){ "svm/wins" }, 1, "svm/wins_f");
    attr_int(g, "to", T_FLOAT);
    dl_pb_end(g);
    int64_t dims[2] = { P, k }, nk = k;
    size_t count;
    float *V = tensor_begin(g, "svm/votes", dims, 2, &count);
    if (V) memset(V, 0, sizeof(float) * count);
    for (int i = 0, p = 0; V && i < k; i++)
        for (int j = i + 1; j < k; j++, p++) { V[(size_t)p * k + i] = 1; V[(size_t)p * k + j] = -1; }
    tensor_end(g, V, count);
    float *base = tensor_begin(g, "svm/vote_base", &nk, 1, &count);
    for (int j = 0; base && j < k; j++) base[j] = (float)j;     /* class j is the second of j pairs */
    tensor_end(g, base, count);
    gemm(g, "svm/wins_f", "svm/votes", "svm/vote_base", 0, "scores");
    *extra = (io){ "decision_values", T_FLOAT, 2, { -1, P }, "" };
    snprintf(extra->what, sizeof extra->what, "each class pair's decision value, pairs (0,1), (0,2) .. (1,2) .., > 0 votes the first");
    return NULL;
}

typedef const char *(*head_writer)(dl_pb *g, const dl_classifier *c, const char *x, io *extra);

/* Every kind of the table (learn/experiment.c): how it exports, or why it does not. */
static const struct {
    const dl_classifier_kind *kind;
    head_writer write;
    const char *scores;     /* what `scores` holds; when write is NULL: why there is no export */
} heads[] = {
    { &dl_linear_svm_kind, linear_head, "one-vs-rest decision values w . x + b (LIBLINEAR)" },
    { &dl_rbf_svm_kind, rbf_head, "one-vs-one votes (LIBSVM); the label is the first class with most votes" },
    { &dl_softmax_kind, softmax_head, "softmax probabilities of the new head" },
    { &dl_finetune_kind, NULL, "it retrains conv5 and reads conv5_block1's input, not the pooled features a project's classifier reads" },
};

/* The classifier on `features`: standardisation, the kind's ops -> scores, then label and class_name. */
static const char *write_classifier(dl_pb *g, const dl_classifier *c, int row, const dl_project *p, io *extra) {
    char mean[] = "classifier/mean", std[] = "classifier/std";
    const char *x = "features";
    if (c->mean) {
        int64_t d = c->num_features;
        tensor_f32(g, mean, &d, 1, c->mean, (size_t)d);
        tensor_f32(g, std, &d, 1, c->std, (size_t)d);
        node2(g, "Sub", x, mean, "classifier/centred");
        node2(g, "Div", "classifier/centred", std, "classifier/input");
        x = "classifier/input";
    }
    const char *err = heads[row].write(g, c, x, extra);
    if (err) return err;
    node_begin(g, "ArgMax", (const char *const[]){ "scores" }, 1, "label");     /* the first maximum, as ours */
    attr_int(g, "axis", 1);
    attr_int(g, "keepdims", 0);
    dl_pb_end(g);
    dl_pb_begin(g, GRAPH_INITIALIZER);
    dl_pb_varint(g, TENSOR_DIMS, (uint64_t)p->num_classes);
    dl_pb_varint(g, TENSOR_TYPE, T_STRING);
    dl_pb_string(g, TENSOR_NAME, "classes");
    for (int i = 0; i < p->num_classes; i++) dl_pb_string(g, TENSOR_STRINGS, p->class_names[i]);
    dl_pb_end(g);
    node2(g, "Gather", "classes", "label", "class_name");
    return NULL;
}

/* ---- the file ------------------------------------------------------------------ */

static void metadata(dl_pb *w, const char *key, const char *value) {
    dl_pb_begin(w, MODEL_METADATA);
    dl_pb_string(w, ENTRY_KEY, key);
    dl_pb_string(w, ENTRY_VALUE, value);
    dl_pb_end(w);
}

static void opset(dl_pb *w, const char *domain, int version) {
    dl_pb_begin(w, MODEL_OPSET);
    dl_pb_string(w, OPSET_DOMAIN, domain);
    dl_pb_varint(w, OPSET_VERSION, (uint64_t)version);
    dl_pb_end(w);
}

/* The row of heads[] for c, or -1 with the reason. */
static int head_row(const dl_classifier *c, const char **why) {
    for (int i = 0; i < (int)(sizeof heads / sizeof *heads); i++) {
        if (heads[i].kind != c->kind) continue;
        if (heads[i].write) return i;
        *why = dl_errorf("a %s classifier has no ONNX export: %s", c->kind->name, heads[i].scores);
        return -1;
    }
    *why = dl_errorf("a %s classifier has no ONNX export", c->kind->name);
    return -1;
}

typedef struct {
    const dl_project *p;
    const dl_classifier *c;
    int row;                  /* heads[] */
    io in, out[5];
    int n_out;
} plan;

static const char *write_file(dl_pb *w, const dl_model *m, const dl_net *net, plan *pl) {
    int shape[3], out_shape[3], out_rank = dl_net_output_shape(net, out_shape);
    dl_net_input_shape(net, shape);
    pl->in = (io){ "image", T_FLOAT, 4, { -1, shape[0], shape[1], 3 }, "" };
    snprintf(pl->in.what, sizeof pl->in.what, "RGB 0..255 (NHWC) after load_img(target_size=(%d, %d)); preprocess_input is in the graph", shape[0], shape[1]);
    dl_pb_varint(w, MODEL_IR_VERSION, IR_VERSION);
    dl_pb_string(w, MODEL_PRODUCER, "DenseLab");
    dl_pb_begin(w, MODEL_GRAPH);
    dl_pb_string(w, GRAPH_NAME, pl->p ? "densenet121_classifier" : "densenet121");
    dl_net_layer first;
    dl_net_layer_at(net, 0, &first);
    preprocess(w, pl->in.name, first.name);
    const char *err = write_network(w, net, first.name, pl->p ? "features" : "output");
    if (err) return err;
    if (pl->p) {
        int k = pl->p->num_classes;
        pl->out[0] = (io){ "scores", T_FLOAT, 2, { -1, k }, "" };
        snprintf(pl->out[0].what, sizeof pl->out[0].what, "%s: %s", pl->c->kind->name, heads[pl->row].scores);
        pl->out[1] = (io){ "label", T_INT64, 1, { -1 }, "the class index: the first maximum score" };
        pl->out[2] = (io){ "class_name", T_STRING, 1, { -1 }, "the label's class name" };
        pl->out[3] = (io){ "features", T_FLOAT, 2, { -1, out_shape[0] }, "DenseNet121(include_top=False, pooling='avg')" };
        pl->n_out = 4;
        if ((err = write_classifier(w, pl->c, pl->row, pl->p, &pl->out[4]))) return err;
        if (pl->out[4].name) pl->n_out = 5;
    } else {
        pl->out[0] = (io){ "output", T_FLOAT, out_rank + 1, { -1, out_shape[0], out_shape[1], out_shape[2] }, "the network's output (NHWC when 4-D)" };
        pl->n_out = 1;
    }
    value_info(w, GRAPH_INPUT, &pl->in);
    for (int i = 0; i < pl->n_out; i++) value_info(w, GRAPH_OUTPUT, &pl->out[i]);
    dl_pb_end(w);                         /* the graph */
    opset(w, "", OPSET);
    if (pl->p && pl->row >= 0 && heads[pl->row].kind == &dl_rbf_svm_kind) opset(w, "ai.onnx.ml", ML_OPSET);
    char text[256];
    snprintf(text, sizeof text, "%s, DenseLab model file CRC-32 %08x", dl_model_name(m), dl_model_checksum(m));
    metadata(w, "model", text);
    snprintf(text, sizeof text, "%d", shape[0]);
    metadata(w, "input_size", text);
    metadata(w, "input", pl->in.what);
    metadata(w, "preprocessing", "keras.applications.densenet.preprocess_input (mode 'torch'): x / 255, then "
                                 "(x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], in the graph");
    if (pl->p) {
        dl_text classes = { 0 };
        json_class_names(&classes, pl->p);
        if (classes.failed) w->out.failed = 1;
        else metadata(w, "classes", classes.buf);
        dl_text_free(&classes);
        metadata(w, "classifier", pl->c->kind->name);
        metadata(w, "scores", pl->out[0].what);
    }
    return NULL;
}

static void describe(dl_text *t, int json, size_t bytes, const plan *pl) {
    int ml = pl->p && heads[pl->row].kind == &dl_rbf_svm_kind;
    if (json) {
        dl_text_printf(t, "\"bytes\": %zu, \"ir_version\": %d, \"opset\": %d%s, \"input\": ", bytes, IR_VERSION, OPSET,
                       ml ? ", \"ai.onnx.ml\": 1" : "");
        describe_io(t, 1, "input", &pl->in);
        dl_text_puts(t, ", \"outputs\": [");
        for (int i = 0; i < pl->n_out; i++) { if (i) dl_text_puts(t, ", "); describe_io(t, 1, "output", &pl->out[i]); }
        dl_text_puts(t, "]");
        if (pl->p) {
            dl_text_puts(t, ", \"classes\": ");
            json_class_names(t, pl->p);
        }
        return;
    }
    dl_text_printf(t, "ONNX: %zu bytes, IR %d, opset %d%s\n", bytes, IR_VERSION, OPSET, ml ? " + ai.onnx.ml 1" : "");
    describe_io(t, 0, "input", &pl->in);
    for (int i = 0; i < pl->n_out; i++) describe_io(t, 0, "output", &pl->out[i]);
}

const char *dl_onnx_export(const dl_model *m, const dl_net_options *o, const dl_project *p, int json, dl_onnx_file *out) {
    memset(out, 0, sizeof *out);
    dl_net_options opts;
    if (o) opts = *o; else dl_net_options_default(&opts);
    plan pl = { .p = p, .row = -1 };
    dl_classifier *c = NULL;
    const char *err = NULL;
    if (p) {
        if (!p->classifier) return "the project holds no trained classifier";
        if ((err = dl_classifier_load(p->classifier, p->classifier_size, &c))) return err;
        if ((pl.row = head_row(c, &err)) < 0) { dl_classifier_free(c); return err; }
        if (c->num_classes != p->num_classes) { dl_classifier_free(c); return "the classifier's classes are not the project's"; }
        pl.c = c;
        uint64_t max_memory = opts.max_memory;
        dl_net_options_default(&opts);    /* the network the project's features come from */
        opts.include_top = 0; opts.pooling = DL_POOLING_AVG; opts.max_memory = max_memory;
        opts.input_shape_set = 1; opts.input_h = opts.input_w = p->size; opts.input_c = 3;
    }
    if (!opts.imagenet_weights) err = "the ONNX export needs the file's weights (weights='imagenet'), not weights=None";
    dl_net *net = NULL;
    if (!err) err = dl_net_build(m, &opts, &net);
    int shape[3] = { 0, 0, 0 };
    if (net) dl_net_input_shape(net, shape);
    if (!err && shape[2] != 3) err = "the ONNX export takes 3-channel images (not --gray-to-rgb)";
    if (!err && c && (size_t)c->num_features != dl_net_output_size(net))
        err = dl_errorf("the classifier takes %d features, the network gives %zu", c->num_features, dl_net_output_size(net));
    dl_pb w = { 0 };
    if (!err) err = write_file(&w, m, net, &pl);
    if (!err && w.out.failed) err = "out of memory (ONNX export)";
    if (!err && w.out.len > 0x7fffffff) err = dl_errorf("the ONNX file would be %zu bytes; protobuf caps a file at 2 GB", w.out.len);
    if (!err) {
        describe(&out->about, json, w.out.len, &pl);
        if (out->about.failed) err = "out of memory (ONNX export)";
    }
    if (err) { dl_text_free(&w.out); dl_text_free(&out->about); memset(out, 0, sizeof *out); }
    else { out->bytes = (uint8_t *)w.out.buf; out->size = w.out.len; }
    dl_net_free(net);
    dl_classifier_free(c);
    return err;
}

void dl_onnx_file_free(dl_onnx_file *f) {
    free(f->bytes);
    dl_text_free(&f->about);
    memset(f, 0, sizeof *f);
}
