/* graph_test.c — the graph builder's rewrites against a naive evaluation, and
 * model files and arguments an attacker could state.
 *
 * Each case builds a small model file in memory (valid CRC, models/format.h),
 * builds the network (every rewrite applied), runs it, and compares with a
 * plain evaluation of the same layers, one at a time, in double precision.
 * The nodes the network runs (dl_net_plan) show that the rewrite happened.
 * Hostile cases must give the expected reason, never a crash (this program
 * also runs under ASan/UBSan and as 32-bit WebAssembly).
 * Prints one line per failure; exit status 0 when all checks pass. */
#include "models/model_internal.h"
#include "common/crc32.h"
#include "common/parallel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

static void check(int ok, const char *what, const char *detail) {
    checks++;
    if (!ok && failures++ < 50) printf("FAIL %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

static void check_reason(const char *err, const char *want, const char *what) {
    check(err && strstr(err, want), what, err ? err : "(succeeded)");
}

/* ---- a tiny model-file builder ----------------------------------------------- */

#define MAX_LAYERS 64
#define MAX_TENSORS 64

typedef struct {
    int type, act;
    const char *name;
    int n_in;
    const int *in;
    int in_store[4];
    int ip[8];
    float fp[2];
    int n_t, t[4];
} blayer;

typedef struct {
    char name[64];
    int ndim;
    uint32_t dims[4];
    float *data;                /* NULL: stated but not stored (hostile sizes) */
    size_t count;
    uint64_t offset_override;   /* nonzero: write this data offset instead */
} btensor;

typedef struct {
    blayer l[MAX_LAYERS];
    int nl;
    btensor t[MAX_TENSORS];
    int nt;
    unsigned rng;
} builder;

static float frand(builder *b) {   /* uniform in [-1, 1) */
    b->rng ^= b->rng << 13; b->rng ^= b->rng >> 17; b->rng ^= b->rng << 5;
    return (float)(b->rng >> 8) / (float)(1u << 23) - 1.0f;
}

static int add_layer(builder *b, int type, int act, const char *name, int n_in, const int *in) {
    blayer *l = &b->l[b->nl];
    memset(l, 0, sizeof *l);
    l->type = type; l->act = act; l->name = name; l->n_in = n_in;
    if (n_in <= 4) { if (n_in) memcpy(l->in_store, in, sizeof(int) * (size_t)n_in); l->in = l->in_store; }
    else l->in = in;
    return b->nl++;
}

static int one(builder *b, int type, int act, const char *name, int in) { return add_layer(b, type, act, name, in >= 0, &in); }

/* A tensor of random values (lo..hi), attached to layer li. */
static void add_tensor(builder *b, int li, const char *suffix, int ndim, const uint32_t *dims, float lo, float hi) {
    btensor *t = &b->t[b->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s/%s", b->l[li].name, suffix);
    t->ndim = ndim;
    t->count = 1;
    for (int k = 0; k < ndim; k++) { t->dims[k] = dims[k]; t->count *= dims[k]; }
    t->data = malloc(t->count * sizeof(float));
    for (size_t i = 0; i < t->count; i++) t->data[i] = lo + (hi - lo) * (frand(b) + 1) / 2;
    b->l[li].t[b->l[li].n_t++] = b->nt++;
}

static int input(builder *b, int h, int w) {
    int i = add_layer(b, DL_INPUT, DL_LINEAR, "input", 0, NULL);
    b->l[i].ip[DL_INPUT_H] = h; b->l[i].ip[DL_INPUT_W] = w; b->l[i].ip[DL_INPUT_C] = 3;
    return i;
}

static int conv(builder *b, const char *name, int in, int in_c, int filters, int k, int stride, int same, int bias, int act) {
    int i = one(b, DL_CONV2D, act, name, in);
    int *ip = b->l[i].ip;
    ip[DL_CONV_FILTERS] = filters; ip[DL_CONV_KH] = ip[DL_CONV_KW] = k;
    ip[DL_CONV_STRIDE_H] = ip[DL_CONV_STRIDE_W] = stride;
    ip[DL_CONV_SAME_PADDING] = same; ip[DL_CONV_USE_BIAS] = bias;
    uint32_t d[4] = { (uint32_t)k, (uint32_t)k, (uint32_t)in_c, (uint32_t)filters };
    add_tensor(b, i, "kernel", 4, d, -0.5f, 0.5f);
    if (bias) add_tensor(b, i, "bias", 1, &d[3], -0.5f, 0.5f);
    return i;
}

static int batch_norm(builder *b, const char *name, int in, int c) {
    int i = one(b, DL_BATCH_NORM, DL_LINEAR, name, in);
    b->l[i].fp[DL_BN_EPSILON] = 1e-3f;
    uint32_t d = (uint32_t)c;
    add_tensor(b, i, "gamma", 1, &d, 0.5f, 1.5f);
    add_tensor(b, i, "beta", 1, &d, -0.5f, 0.5f);
    add_tensor(b, i, "moving_mean", 1, &d, -0.5f, 0.5f);
    add_tensor(b, i, "moving_variance", 1, &d, 0.5f, 2.0f);
    return i;
}

static int pad(builder *b, const char *name, int in, int top, int bottom, int left, int right) {
    int i = one(b, DL_ZERO_PADDING2D, DL_LINEAR, name, in);
    int *ip = b->l[i].ip;
    ip[DL_PAD_TOP] = top; ip[DL_PAD_BOTTOM] = bottom; ip[DL_PAD_LEFT] = left; ip[DL_PAD_RIGHT] = right;
    return i;
}

static int pool(builder *b, int type, const char *name, int in, int size, int stride) {
    int i = one(b, type, DL_LINEAR, name, in);
    int *ip = b->l[i].ip;
    ip[DL_POOL_H] = ip[DL_POOL_W] = size; ip[DL_POOL_STRIDE_H] = ip[DL_POOL_STRIDE_W] = stride;
    return i;
}

static int dense(builder *b, const char *name, int in, int in_c, int units, int bias, int act) {
    int i = one(b, DL_DENSE, act, name, in);
    b->l[i].ip[DL_DENSE_UNITS] = units; b->l[i].ip[DL_DENSE_USE_BIAS] = bias;
    uint32_t d[2] = { (uint32_t)in_c, (uint32_t)units };
    add_tensor(b, i, "kernel", 2, d, -0.5f, 0.5f);
    if (bias) add_tensor(b, i, "bias", 1, &d[1], -0.5f, 0.5f);
    return i;
}

static int concat2(builder *b, const char *name, int x, int y) { int in[2] = { x, y }; return add_layer(b, DL_CONCATENATE, DL_LINEAR, name, 2, in); }

typedef struct { uint8_t *p; size_t len, cap; } bytes;

static void put(bytes *o, const void *src, size_t n) {
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->p = realloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, src, n);
    o->len += n;
}
static void put_u(bytes *o, uint64_t v, int n) { uint8_t b[8]; for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i)); put(o, b, (size_t)n); }
static void put_f32(bytes *o, float f) { uint32_t u; memcpy(&u, &f, 4); put_u(o, u, 4); }
static void put_str(bytes *o, const char *s) { put_u(o, strlen(s), 2); put(o, s, strlen(s)); }

/* The model file (float32), CRC included. */
static bytes write_model(const builder *b) {
    bytes g = {0}, out = {0};
    for (int i = 0; i < b->nl; i++) {
        const blayer *l = &b->l[i];
        put_u(&g, (uint32_t)l->type, 4); put_u(&g, (uint32_t)l->act, 4); put_str(&g, l->name);
        put_u(&g, (uint32_t)l->n_in, 4);
        for (int k = 0; k < l->n_in; k++) put_u(&g, (uint32_t)l->in[k], 4);
        for (int k = 0; k < 8; k++) put_u(&g, (uint32_t)l->ip[k], 4);
        for (int k = 0; k < 2; k++) put_f32(&g, l->fp[k]);
        put_u(&g, (uint32_t)l->n_t, 4);
        for (int k = 0; k < l->n_t; k++) put_u(&g, (uint32_t)l->t[k], 4);
    }
    uint64_t data = 0;
    for (int i = 0; i < b->nt; i++) {
        const btensor *t = &b->t[i];
        put_str(&g, t->name);
        put_u(&g, (uint32_t)t->ndim, 4);
        for (int k = 0; k < t->ndim; k++) put_u(&g, t->dims[k], 4);
        put_u(&g, t->offset_override ? t->offset_override : data, 8);
        if (t->data) data += (t->count * 4 + 15) / 16 * 16;
    }
    size_t graph_bytes = g.len;
    while (g.len % 64) put_u(&g, 0, 1);
    for (int i = 0; i < b->nt; i++) {
        const btensor *t = &b->t[i];
        if (!t->data) continue;
        for (size_t k = 0; k < t->count; k++) put_f32(&g, t->data[k]);
        while ((g.len - (graph_bytes + 63) / 64 * 64) % 16) put_u(&g, 0, 1);
    }
    put(&out, "DENSELAB", 8);
    put_u(&out, DL_VERSION, 4); put_u(&out, 0, 4);
    put_u(&out, (uint32_t)b->nl, 4); put_u(&out, (uint32_t)b->nt, 4);
    put_u(&out, graph_bytes, 8); put_u(&out, data, 8);
    put_u(&out, dl_crc32(g.p, g.len), 4); put_u(&out, 0, 4);
    put(&out, "graph_test\0\0\0\0\0\0", 16);
    put(&out, g.p, g.len);
    free(g.p);
    return out;
}

static void free_builder(builder *b) { for (int i = 0; i < b->nt; i++) free(b->t[i].data); }

/* ---- the naive evaluation ------------------------------------------------------ */

typedef struct { int rank, h, w, c; double *v; } value;

static const float *weight(const builder *b, const blayer *l, int k) { return b->t[l->t[k]].data; }

static void activate(value *x, int act) {
    size_t n = (size_t)x->h * x->w * x->c;
    if (act == DL_RELU) for (size_t i = 0; i < n; i++) x->v[i] = x->v[i] > 0 ? x->v[i] : 0;
    if (act == DL_SOFTMAX) {
        double m = -INFINITY, s = 0;
        for (size_t i = 0; i < n; i++) m = fmax(m, x->v[i]);
        for (size_t i = 0; i < n; i++) s += (x->v[i] = exp(x->v[i] - m));
        for (size_t i = 0; i < n; i++) x->v[i] /= s;
    }
}

static value make(int rank, int h, int w, int c) {
    value x = { rank, h, w, c, calloc((size_t)h * w * c, sizeof(double)) };
    return x;
}

/* Keras semantics, one layer at a time; input: one h x w x 3 image. */
static value evaluate(const builder *b, const float *image) {
    value *v = calloc((size_t)b->nl, sizeof *v);
    for (int i = 0; i < b->nl; i++) {
        const blayer *l = &b->l[i];
        const value *x = l->n_in ? &v[l->in[0]] : NULL;
        value y = {0};
        switch (l->type) {
        case DL_INPUT:
            y = make(3, l->ip[DL_INPUT_H], l->ip[DL_INPUT_W], 3);
            for (size_t k = 0; k < (size_t)y.h * y.w * 3; k++) y.v[k] = image[k];
            break;
        case DL_ZERO_PADDING2D:
            y = make(3, x->h + l->ip[DL_PAD_TOP] + l->ip[DL_PAD_BOTTOM], x->w + l->ip[DL_PAD_LEFT] + l->ip[DL_PAD_RIGHT], x->c);
            for (int r = 0; r < x->h; r++)
                for (int q = 0; q < x->w; q++)
                    for (int c = 0; c < x->c; c++)
                        y.v[((size_t)(r + l->ip[DL_PAD_TOP]) * y.w + q + l->ip[DL_PAD_LEFT]) * y.c + c] = x->v[((size_t)r * x->w + q) * x->c + c];
            break;
        case DL_CONV2D: {
            int k = l->ip[DL_CONV_KH], s = l->ip[DL_CONV_STRIDE_H], f = l->ip[DL_CONV_FILTERS], pt = 0, pl = 0, oh, ow;
            if (l->ip[DL_CONV_SAME_PADDING]) {     /* TensorFlow: the odd padding goes at the end */
                oh = (x->h + s - 1) / s; ow = (x->w + s - 1) / s;
                int ph = (oh - 1) * s + k - x->h, pw = (ow - 1) * s + k - x->w;
                pt = ph > 0 ? ph / 2 : 0; pl = pw > 0 ? pw / 2 : 0;
            } else {
                oh = (x->h - k) / s + 1; ow = (x->w - k) / s + 1;
            }
            y = make(3, oh, ow, f);
            const float *wk = weight(b, l, 0), *bias = l->ip[DL_CONV_USE_BIAS] ? weight(b, l, 1) : NULL;
            for (int r = 0; r < oh; r++)
                for (int q = 0; q < ow; q++)
                    for (int o = 0; o < f; o++) {
                        double acc = bias ? bias[o] : 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = r * s + ky - pt, ix = q * s + kx - pl;
                                if (iy < 0 || ix < 0 || iy >= x->h || ix >= x->w) continue;
                                for (int c = 0; c < x->c; c++)
                                    acc += x->v[((size_t)iy * x->w + ix) * x->c + c] * wk[((size_t)(ky * k + kx) * x->c + c) * f + o];
                            }
                        y.v[((size_t)r * ow + q) * f + o] = acc;
                    }
            break;
        }
        case DL_BATCH_NORM:
            y = make(3, x->h, x->w, x->c);
            for (size_t p = 0; p < (size_t)x->h * x->w; p++)
                for (int c = 0; c < x->c; c++)
                    y.v[p * x->c + c] = (x->v[p * x->c + c] - weight(b, l, 2)[c]) / sqrt(weight(b, l, 3)[c] + (double)l->fp[DL_BN_EPSILON]) *
                                        weight(b, l, 0)[c] + weight(b, l, 1)[c];
            break;
        case DL_ACTIVATION:
            y = make(x->rank, x->h, x->w, x->c);
            memcpy(y.v, x->v, sizeof(double) * (size_t)x->h * x->w * x->c);
            break;
        case DL_MAX_POOL2D: case DL_AVG_POOL2D: {
            int k = l->ip[DL_POOL_H], s = l->ip[DL_POOL_STRIDE_H];
            y = make(3, (x->h - k) / s + 1, (x->w - k) / s + 1, x->c);
            for (int r = 0; r < y.h; r++)
                for (int q = 0; q < y.w; q++)
                    for (int c = 0; c < x->c; c++) {
                        double acc = l->type == DL_MAX_POOL2D ? -INFINITY : 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                double e = x->v[((size_t)(r * s + ky) * x->w + q * s + kx) * x->c + c];
                                acc = l->type == DL_MAX_POOL2D ? fmax(acc, e) : acc + e;
                            }
                        y.v[((size_t)r * y.w + q) * y.c + c] = l->type == DL_MAX_POOL2D ? acc : acc / (k * k);
                    }
            break;
        }
        case DL_CONCATENATE: {
            int c = 0, off = 0;
            for (int k = 0; k < l->n_in; k++) c += v[l->in[k]].c;
            y = make(3, x->h, x->w, c);
            for (int k = 0; k < l->n_in; k++) {
                const value *z = &v[l->in[k]];
                for (size_t p = 0; p < (size_t)x->h * x->w; p++)
                    for (int j = 0; j < z->c; j++) y.v[p * c + off + j] = z->v[p * z->c + j];
                off += z->c;
            }
            break;
        }
        case DL_GLOBAL_AVG_POOL2D: case DL_GLOBAL_MAX_POOL2D:
            y = make(1, 1, 1, x->c);
            for (int c = 0; c < x->c; c++) {
                double acc = l->type == DL_GLOBAL_MAX_POOL2D ? -INFINITY : 0;
                for (size_t p = 0; p < (size_t)x->h * x->w; p++)
                    acc = l->type == DL_GLOBAL_MAX_POOL2D ? fmax(acc, x->v[p * x->c + c]) : acc + x->v[p * x->c + c];
                y.v[c] = l->type == DL_GLOBAL_MAX_POOL2D ? acc : acc / ((double)x->h * x->w);
            }
            break;
        case DL_DENSE: {
            int units = l->ip[DL_DENSE_UNITS];
            y = make(1, 1, 1, units);
            const float *wk = weight(b, l, 0), *bias = l->ip[DL_DENSE_USE_BIAS] ? weight(b, l, 1) : NULL;
            for (int o = 0; o < units; o++) {
                double acc = bias ? bias[o] : 0;
                for (int c = 0; c < x->c; c++) acc += x->v[c] * wk[(size_t)c * units + o];
                y.v[o] = acc;
            }
            break;
        }
        }
        activate(&y, l->act);
        v[i] = y;
    }
    value out = v[b->nl - 1];
    for (int i = 0; i < b->nl - 1; i++) free(v[i].v);
    free(v);
    return out;
}

/* ---- running one case ------------------------------------------------------------- */

/* Threaded runs (common/parallel.h) give the single-threaded bits for 2, 3
 * and 4 threads; with inject_thread_failure, a worker that runs out of
 * memory is the caller's error and the next run is whole again. */
static int inject_thread_failure;

static void same_on_threads(dl_net *net, const float *x, size_t batch, const float *y, size_t out_floats, const char *what) {
    static int said;
    if (!dl_parallel_available()) {
        if (!said++) printf("graph_test: this build runs one thread: the threaded cases (2, 3 and 4 threads) are NOT run\n");
        return;
    }
    float *y2 = malloc(sizeof(float) * out_floats * batch);
    for (int t = 2; t <= 4 && y2; t++) {
        char detail[96];
        check(!dl_parallel_set_threads(t), what, "dl_parallel_set_threads");
        for (size_t b = 1; b <= batch; b += batch - 1) {     /* one image, then the batch */
            const char *err = dl_net_run(net, x, b, y2);
            snprintf(detail, sizeof detail, "%d threads, batch %zu: %s", t, b, err ? err : "output differs from 1 thread");
            check(!err && !memcmp(y, y2, sizeof(float) * out_floats * b), what, detail);
            dl_parallel_delay_next_call(t - 1, 2000);     /* the others take most of its share */
            err = dl_net_run(net, x, b, y2);
            snprintf(detail, sizeof detail, "%d threads, batch %zu, a late thread: %s", t, b, err ? err : "output differs from 1 thread");
            check(!err && !memcmp(y, y2, sizeof(float) * out_floats * b), what, detail);
            if (batch == 1) break;
        }
        if (inject_thread_failure) {
            dl_parallel_fail_next_scratch(t - 1);
            const char *err = dl_net_run(net, x, batch, y2);
            snprintf(detail, sizeof detail, "%d threads, thread %d out of memory: got %s", t, t, err ? err : "no error");
            check(err && strstr(err, "out of memory"), what, detail);
            err = dl_net_run(net, x, batch, y2);
            check(!err && !memcmp(y, y2, sizeof(float) * out_floats * batch), what, "the run after a failed thread");
        }
    }
    dl_parallel_set_threads(1);
    free(y2);
}

/* Build the network from the file (ImageNet-style: the file's weights, with
 * the top), run `batch` images, compare every image with the naive result;
 * the plan must contain each of the space-separated words of `want_plan` in
 * order, and none of `refuse` (a word list too). */
static void run_case(builder *b, const char *what, const char *want_plan, const char *refuse) {
    bytes f = write_model(b);
    dl_model *m = NULL;
    dl_net *net = NULL;
    const char *err = dl_model_load(f.p, f.len, &m);
    if (!err) {
        dl_net_options o;
        dl_net_options_default(&o);
        const blayer *top = &b->l[b->nl - 1];
        if (top->type == DL_DENSE) o.classes = top->ip[DL_DENSE_UNITS];
        err = dl_net_build(m, &o, &net);
    }
    check(!err, what, err);
    if (!err) {
        char plan[1024], word[64];
        dl_net_plan(net, plan, sizeof plan);
        const char *at = plan;
        for (const char *p = want_plan; *p;) {
            int n = 0;
            while (*p == ' ') p++;
            while (*p && *p != ' ' && n < 63) word[n++] = *p++;
            word[n] = 0;
            if (!n) break;
            const char *hit = strstr(at, word);
            char detail[1200];
            snprintf(detail, sizeof detail, "plan \"%s\" lacks \"%s\" in order", plan, word);
            check(hit != NULL, what, detail);
            if (hit) at = hit + n;
        }
        if (refuse) {
            char detail[1200];
            snprintf(detail, sizeof detail, "plan \"%s\" has \"%s\"", plan, refuse);
            check(!strstr(plan, refuse), what, detail);
        }
        int shape[3];
        dl_net_input_shape(net, shape);
        size_t in_floats = (size_t)shape[0] * shape[1] * 3, out_floats = dl_net_output_size(net);
        const int batch = 3;
        float *x = malloc(sizeof(float) * in_floats * batch), *y = malloc(sizeof(float) * out_floats * batch);
        for (size_t i = 0; i < in_floats * batch; i++) x[i] = frand(b);
        err = dl_net_run(net, x, batch, y);
        check(!err, what, err);
        if (!err) same_on_threads(net, x, batch, y, out_floats, what);
        for (int img = 0; img < batch && !err; img++) {
            value ref = evaluate(b, x + img * in_floats);
            double scale = 1e-6, diff = 0;
            check((size_t)ref.h * ref.w * ref.c == out_floats, what, "output size differs from the naive evaluation");
            for (size_t i = 0; i < out_floats; i++) {
                scale = fmax(scale, fabs(ref.v[i]));
                diff = fmax(diff, fabs(ref.v[i] - y[img * out_floats + i]));
            }
            char detail[128];
            snprintf(detail, sizeof detail, "image %d: max |fused - naive| = %.3g (scale %.3g)", img, diff, scale);
            check(diff <= 1e-4 * scale, what, detail);
            free(ref.v);
        }
        free(x); free(y);
    }
    dl_net_free(net);
    dl_model_free(m);
    free(f.p);
    free_builder(b);
}

/* ---- the rewrites -------------------------------------------------------------------- */

static void test_rewrites(void) {
    builder b = { .rng = 7 };
    /* ZeroPadding2D absorbed into a strided 'valid' convolution; BN + ReLU folded into it. */
    int x = input(&b, 37, 35);
    x = pad(&b, "pad", x, 3, 2, 1, 3);
    x = conv(&b, "conv", x, 3, 8, 7, 2, 0, 0, DL_LINEAR);
    x = batch_norm(&b, "bn", x, 8);
    one(&b, DL_ACTIVATION, DL_RELU, "relu", x);
    run_case(&b, "padding absorbed, BatchNorm and ReLU folded into conv", "input conv+bn+relu", "pad");

    /* A padding read by a pooling layer stays a node. */
    b = (builder){ .rng = 8 };
    x = input(&b, 33, 32);
    x = pad(&b, "pad", x, 1, 1, 1, 1);
    pool(&b, DL_MAX_POOL2D, "max_pool", x, 3, 2);
    run_case(&b, "padding before a pool is kept", "input pad max_pool", NULL);

    /* DenseNet's transition: BN -> ReLU -> 1x1 conv -> 2x2 average pool; the pool moves first. */
    b = (builder){ .rng = 9 };
    x = input(&b, 34, 36);
    x = batch_norm(&b, "bn", x, 3);
    x = one(&b, DL_ACTIVATION, DL_RELU, "relu", x);
    x = conv(&b, "conv", x, 3, 5, 1, 1, 0, 0, DL_LINEAR);
    pool(&b, DL_AVG_POOL2D, "pool", x, 2, 2);
    run_case(&b, "average pool moved before a 1x1 conv; BN->ReLU as one scale-shift", "input scale_shift+relu avg_pool conv", NULL);

    /* The same with a ReLU on the conv: not linear, no swap. */
    b = (builder){ .rng = 10 };
    x = input(&b, 32, 32);
    x = conv(&b, "conv", x, 3, 5, 1, 1, 0, 1, DL_RELU);
    pool(&b, DL_AVG_POOL2D, "pool", x, 2, 2);
    run_case(&b, "no pool swap across a ReLU", "input conv+relu avg_pool", NULL);

    /* 'same' convolutions: 3x3 stride 1 big enough for Winograd, odd sizes, stride 2, even kernel. */
    b = (builder){ .rng = 11 };
    x = input(&b, 40, 33);
    x = conv(&b, "c1", x, 3, 16, 3, 1, 1, 1, DL_RELU);
    x = conv(&b, "c2", x, 16, 9, 3, 1, 1, 0, DL_LINEAR);
    x = conv(&b, "c3", x, 9, 7, 3, 2, 1, 1, DL_LINEAR);
    x = conv(&b, "c4", x, 7, 6, 2, 2, 1, 1, DL_LINEAR);
    conv(&b, "c5", x, 6, 5, 3, 2, 0, 0, DL_RELU);
    run_case(&b, "conv 'same'/'valid' with strides", "input conv+relu conv conv conv conv+relu", NULL);

    /* 'same' convolutions on a 1x1 map read one tap each (S = 32's conv5): a 1x1 on that tap's
     * weights, BatchNorm folded; the corner tap of an even kernel; a 3x3 on 2x2 keeps all. */
    b = (builder){ .rng = 17 };
    x = input(&b, 32, 32);
    x = pool(&b, DL_MAX_POOL2D, "pool", x, 32, 32);
    x = conv(&b, "c1", x, 3, 16, 3, 1, 1, 0, DL_LINEAR);
    x = batch_norm(&b, "bn", x, 16);
    x = one(&b, DL_ACTIVATION, DL_RELU, "relu", x);
    x = conv(&b, "c2", x, 16, 9, 5, 1, 1, 1, DL_LINEAR);
    conv(&b, "c3", x, 9, 7, 2, 1, 1, 1, DL_RELU);
    run_case(&b, "single-tap convolutions on 1x1 maps", "max_pool conv(one tap)+bn+relu conv(one tap) conv(one tap)+relu", NULL);
    b = (builder){ .rng = 18 };
    x = input(&b, 32, 32);
    x = pool(&b, DL_MAX_POOL2D, "pool", x, 16, 16);
    conv(&b, "c1", x, 3, 8, 3, 1, 1, 1, DL_RELU);
    run_case(&b, "a 3x3 on a 2x2 map reads every tap", "max_pool conv+relu", "tap");

    /* Multiple consumers: the conv output feeds a BN and a concat, so the BN is not folded. */
    b = (builder){ .rng = 12 };
    x = input(&b, 32, 33);
    int c = conv(&b, "conv", x, 3, 6, 3, 1, 1, 0, DL_LINEAR);
    int n = batch_norm(&b, "bn", c, 6);
    int r = one(&b, DL_ACTIVATION, DL_RELU, "relu", n);
    concat2(&b, "concat", c, r);
    run_case(&b, "a value with several consumers is not folded", "input conv scale_shift+relu concat", "+bn");

    /* Copy into concat: the input feeds two concatenations; only one can hold it in place. */
    b = (builder){ .rng = 13 };
    x = input(&b, 32, 32);
    c = conv(&b, "conv", x, 3, 4, 1, 1, 0, 1, DL_LINEAR);
    int k1 = concat2(&b, "concat1", x, c);
    int k2 = concat2(&b, "concat2", c, x);
    int m = conv(&b, "mix", k1, 7, 5, 3, 1, 1, 0, DL_LINEAR);
    int k3 = concat2(&b, "concat3", k2, m);
    pool(&b, DL_MAX_POOL2D, "pool", k3, 2, 2);
    run_case(&b, "copy-into-concat fallback", "input conv concat(copy concat(copy conv concat max_pool", NULL);

    /* A concat of concats (DenseNet blocks), aliased throughout, then a global pool. */
    b = (builder){ .rng = 14 };
    x = input(&b, 32, 32);
    c = conv(&b, "conv1", x, 3, 4, 3, 1, 1, 0, DL_RELU);
    k1 = concat2(&b, "concat1", x, c);
    c = conv(&b, "conv2", k1, 7, 4, 3, 1, 1, 0, DL_RELU);
    k2 = concat2(&b, "concat2", k1, c);
    one(&b, DL_GLOBAL_MAX_POOL2D, DL_LINEAR, "gmp", k2);
    run_case(&b, "nested concatenations alias in place", "input conv+relu concat conv+relu concat global_max_pool", "copy");

    /* Dense with and without bias, ReLU and softmax. */
    b = (builder){ .rng = 15 };
    x = input(&b, 32, 32);
    x = conv(&b, "conv", x, 3, 12, 3, 2, 1, 1, DL_RELU);
    x = one(&b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "gap", x);
    x = dense(&b, "fc1", x, 12, 9, 0, DL_RELU);
    x = dense(&b, "fc2", x, 9, 7, 1, DL_LINEAR);
    dense(&b, "fc3", x, 7, 5, 1, DL_SOFTMAX);
    run_case(&b, "Dense with/without bias, ReLU, softmax", "conv+relu global_avg_pool dense+relu dense dense softmax", NULL);

    /* Standalone activations: linear and softmax layers, ReLU after a pool. */
    b = (builder){ .rng = 16 };
    x = input(&b, 32, 32);
    x = pool(&b, DL_AVG_POOL2D, "pool", x, 3, 3);
    x = one(&b, DL_ACTIVATION, DL_RELU, "relu", x);
    x = one(&b, DL_ACTIVATION, DL_LINEAR, "linear", x);
    x = one(&b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "gap", x);
    one(&b, DL_ACTIVATION, DL_SOFTMAX, "softmax", x);
    run_case(&b, "standalone activations", "avg_pool scale_shift+relu scale_shift global_avg_pool softmax", NULL);
}

/* ---- hostile files and arguments -------------------------------------------------------- */

typedef struct { dl_model *model; dl_net *net; } built;   /* a net points into its model */

static void free_built(built *x) { dl_net_free(x->net); dl_model_free(x->model); x->net = NULL; x->model = NULL; }

/* Load the file and build the net (o NULL: defaults); keep both in *out, if given. */
static const char *load_and_build(const builder *b, const dl_net_options *o, built *out) {
    bytes f = write_model(b);
    built x = {0};
    const char *err = dl_model_load(f.p, f.len, &x.model);
    if (!err) {
        dl_net_options d;
        dl_net_options_default(&d);
        err = dl_net_build(x.model, o ? o : &d, &x.net);
    }
    free(f.p);
    if (out && !err) *out = x;
    else free_built(&x);
    return err;
}

/* A model whose only tensor is stated with these dims (no data stored). */
static const char *stated_tensor(uint32_t d0, uint32_t d1, uint32_t d2, uint32_t d3, uint64_t offset) {
    builder b = { .rng = 1 };
    int x = input(&b, 32, 32);
    one(&b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "gap", x);
    int d = dense(&b, "fc", 1, 3, 2, 0, DL_LINEAR);
    (void)d;
    free(b.t[0].data);
    b.t[0].data = NULL;
    b.t[0].ndim = 4;
    b.t[0].dims[0] = d0; b.t[0].dims[1] = d1; b.t[0].dims[2] = d2; b.t[0].dims[3] = d3;
    b.t[0].offset_override = offset;
    return load_and_build(&b, NULL, NULL);
}

static void test_hostile_files(void) {
    /* 2^24 * 2^24 * 2^16: the element count wraps to 0 in 64 bits. */
    check_reason(stated_tensor(1u << 24, 1u << 24, 1u << 16, 1, 0), "has an invalid shape", "dims whose product wraps to 0 (64-bit)");
    /* 2^16 * 2^16 wraps to 0 in 32 bits; 2^15 * 2^15 * 4 bytes wraps to 0 in 32 bits. */
    /* (natively "lies outside the data section", in 32-bit WebAssembly "invalid shape") */
    check_reason(stated_tensor(1u << 16, 1u << 16, 1, 1, 0), "model file: tensor fc/kernel", "dims whose product wraps to 0 (32-bit)");
    check_reason(stated_tensor(1u << 15, 1u << 15, 1, 1, 0), "model file: tensor fc/kernel", "count * 4 wraps to 0 (32-bit)");
    check_reason(stated_tensor(1, 1, 1, 4, (uint64_t)1 << 63), "lies outside the data section", "offset near 2^63");
    check_reason(stated_tensor(1, 1, 1, 4, UINT64_MAX - 15), "lies outside the data section", "offset near 2^64");

    /* Concatenations whose channel count would overflow an int (UBSan), and one within int
     * range whose activations would need terabytes: refused with reasons, before allocating. */
    static int wide[4096], wider[4096], widest[4096];
    builder b = { .rng = 2 };
    int x = input(&b, 32, 32);
    for (int k = 0; k < 4096; k++) wide[k] = x;
    int a = add_layer(&b, DL_CONCATENATE, DL_LINEAR, "wide", 4096, wide);          /* 12288 channels */
    for (int k = 0; k < 4096; k++) wider[k] = a;
    int w2 = add_layer(&b, DL_CONCATENATE, DL_LINEAR, "wider", 4096, wider);       /* 5e7 */
    for (int k = 0; k < 4096; k++) widest[k] = w2;
    add_layer(&b, DL_CONCATENATE, DL_LINEAR, "widest", 4096, widest);              /* 2e11 > INT_MAX */
    check_reason(load_and_build(&b, NULL, NULL), "is out of range", "concat channel sum beyond int");
    b.nl = 2;
    static int some[1200];
    for (int k = 0; k < 1200; k++) some[k] = a;
    add_layer(&b, DL_CONCATENATE, DL_LINEAR, "big", 1200, some);
    check_reason(load_and_build(&b, NULL, NULL), "for one image; the limit is 1.5 GB (max_memory)", "activations beyond the memory limit");
    free_builder(&b);

    /* A bias or BatchNorm vector shorter than the channels: refused (the kernels would read past it). */
    b = (builder){ .rng = 6 };
    x = input(&b, 32, 32);
    int c = conv(&b, "conv", x, 3, 4, 3, 1, 1, 1, DL_LINEAR);
    b.t[1].dims[0] = 1; b.t[1].count = 1;
    check_reason(load_and_build(&b, NULL, NULL), "model file: conv/bias of conv has 1 values, the layer needs 4", "short conv bias");
    free_builder(&b);
    b = (builder){ .rng = 6 };
    x = input(&b, 32, 32);
    c = batch_norm(&b, "bn", x, 3);
    b.t[3].dims[0] = 1; b.t[3].count = 1;
    check_reason(load_and_build(&b, NULL, NULL), "model file: bn/moving_variance of bn has 1 values, the layer needs 3", "short BatchNorm variance");
    free_builder(&b);
    b = (builder){ .rng = 6 };
    x = one(&b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "gap", input(&b, 32, 32));
    one(&b, DL_ACTIVATION, DL_LINEAR, "out", dense(&b, "fc", x, 3, 5, 1, DL_LINEAR));   /* not a classifier top */
    b.t[1].ndim = 2; b.t[1].dims[1] = 1;
    check_reason(load_and_build(&b, NULL, NULL), "model file: fc/bias of fc has 5 values, the layer needs 5", "Dense bias of rank 2");
    free_builder(&b);

    /* Layer parameters out of range. */
    b = (builder){ .rng = 3 };
    x = input(&b, 32, 32);
    c = conv(&b, "conv", x, 3, 4, 3, 1, 1, 0, DL_LINEAR);
    b.l[c].ip[DL_CONV_STRIDE_H] = 0x7fffffff;
    check_reason(load_and_build(&b, NULL, NULL), "invalid convolution shape", "huge stride");
    free_builder(&b);
}

/* A tiny DenseNet-like classifier: 1024 features, like DenseNet121's. */
static void tiny_classifier(builder *b) {
    *b = (builder){ .rng = 4 };
    int x = input(b, 32, 32);
    x = conv(b, "conv", x, 3, 1024, 1, 1, 0, 0, DL_RELU);
    x = one(b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "avg_pool", x);
    dense(b, "predictions", x, 1024, 10, 1, DL_SOFTMAX);
}

static void test_memory_limit_and_arguments(void) {
    builder b;
    dl_net_options o;
    /* weights=None, classes=1048576: a 4 GB classifier, refused before any allocation. */
    tiny_classifier(&b);
    dl_net_options_default(&o);
    check(!dl_net_options_set(&o, "weights", "none") && !dl_net_options_set(&o, "classes", "1048576"), "options", NULL);
    check_reason(load_and_build(&b, &o, NULL), "for one image; the limit is 1.5 GB (max_memory)", "classes=1048576");
    check(!dl_net_options_set(&o, "max_memory", "1MB"), "max_memory=1MB", NULL);
    check(!dl_net_options_set(&o, "classes", "10"), "classes=10", NULL);
    check_reason(load_and_build(&b, &o, NULL), "the limit is 1.0 MB (max_memory)", "max_memory=1MB");

    /* weights=None builds and runs (Keras initializers), and is reproducible. */
    check(!dl_net_options_set(&o, "max_memory", "64MB"), "max_memory=64MB", NULL);
    built k = {0};
    const char *err = load_and_build(&b, &o, &k);
    dl_net *net = k.net;
    check(!err, "weights=None", err);
    if (net) {
        float *x = calloc(32 * 32 * 3, sizeof(float)), y[10], y2[10];
        for (int i = 0; i < 32 * 32 * 3; i++) x[i] = (float)(i % 7) - 3;
        check(!dl_net_run(net, x, 1, y), "weights=None runs", NULL);
        double s = 0;
        for (int i = 0; i < 10; i++) s += y[i];
        check(fabs(s - 1) < 1e-5, "weights=None: softmax sums to 1", NULL);
        /* batches: overflowing, over the limit, NULL buffers: reasons, then still working */
        check_reason(dl_net_run(net, x, SIZE_MAX / 2, y), "more memory than this platform can address for a batch of", "batch that overflows");
        check_reason(dl_net_run(net, x, 100000, y), "for a batch of 100000; the limit is 64.0 MB (max_memory)", "batch over the limit");
        size_t most = dl_net_max_batch(net, 100000);
        check(most >= 1 && most < 100000 && dl_net_max_batch(net, 2) == 2, "dl_net_max_batch halves down to what fits", NULL);
        check(most == 1 || dl_net_max_batch(net, most) == most, "dl_net_max_batch keeps a batch that fits", NULL);
        check_reason(dl_net_run(net, NULL, 1, y), "missing", "NULL input");
        check_reason(dl_net_run(net, x, 1, NULL), "missing", "NULL output");
        check_reason(dl_net_run(net, x, 0, y), "at least 1", "batch 0");
        check(!dl_net_run(net, x, 1, y2) && !memcmp(y, y2, sizeof y), "the network still works after refusals", NULL);
        dl_model *m = NULL;   /* same seed, same weights */
        dl_net *again = NULL;
        bytes f = write_model(&b);
        if (!dl_model_load(f.p, f.len, &m) && !dl_net_build(m, &o, &again)) {
            check(!dl_net_run(again, x, 1, y2) && !memcmp(y, y2, sizeof y), "weights=None is reproducible", NULL);
        } else check(0, "weights=None rebuild", NULL);
        dl_net_free(again); dl_model_free(m); free(f.p);
        free(x);
    }
    free_built(&k);
    free_builder(&b);

    /* input_shape: explicit zeros and negatives are not "not given". */
    struct { const char *value, *reason; } shapes[] = {
        { "0,64,3", "Input size must be at least 32x32; Received: input_shape=(0, 64, 3)" },
        { "64,-1,3", "Input size must be at least 32x32; Received: input_shape=(64, -1, 3)" },
        { "32,32,0", "The input must have 3 channels" },
        { "32,32,-3", "The input must have 3 channels" },
        { "4097,32,3", "Input size must be at most 4096x4096" },
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        tiny_classifier(&b);
        dl_net_options_default(&o);
        check(!dl_net_options_set(&o, "include_top", "false") && !dl_net_options_set(&o, "input_shape", shapes[i].value), shapes[i].value, NULL);
        check_reason(load_and_build(&b, &o, NULL), shapes[i].reason, shapes[i].value);
        free_builder(&b);
    }
    dl_net_options_default(&o);
    check_reason(dl_net_options_set(&o, "max_memory", "-5"), "max_memory must be a positive number", "max_memory=-5");
    check_reason(dl_net_options_set(&o, "max_memory", "12parsecs"), "max_memory must be a positive number", "max_memory=12parsecs");
    check(!dl_net_options_set(&o, "max_memory", "1.5GB") && o.max_memory == (1536ull << 20), "max_memory=1.5GB", NULL);
    check(!dl_net_options_set(&o, "max_memory", "1000") && o.max_memory == 1000, "max_memory=1000", NULL);
    check(!dl_net_options_set(&o, "input_shape", "None") && !o.input_shape_set, "input_shape=None", NULL);
}

/* Names reach error messages and summaries: control characters (terminal
 * escapes) and non-ASCII bytes are refused when the file is loaded. */
static void test_names_refused(void) {
    const char *names[] = { "in\x07put", "gap\x1b[31m", "c\xffnv1", "new\nline" };
    for (int i = 0; i < 4; i++) {
        builder b = { .rng = 5 };
        int x = input(&b, 32, 32);
        one(&b, DL_GLOBAL_AVG_POOL2D, DL_LINEAR, "gap", x);
        b.l[i % 2 ? 1 : 0].name = names[i];
        check_reason(load_and_build(&b, NULL, NULL), "name has characters other than printable ASCII", names[i]);
        free_builder(&b);
    }
}

/* The layer-type table and parameter slots, as models/convert.js must read them. */
static void print_format(void) {
#define PRINT_TYPE(name, value, keras) printf("%s\"%s\": %d", value > 1 ? ", " : "", keras, name);
    printf("format: {");
    DL_LAYER_TYPES(PRINT_TYPE)
    printf(", \"DL_CONV_USE_BIAS\": %d, \"DL_DENSE_USE_BIAS\": %d, \"DL_BN_EPSILON\": %d, \"DL_POOL_STRIDE_W\": %d, \"DL_PAD_RIGHT\": %d, \"DL_INPUT_C\": %d}\n",
           DL_CONV_USE_BIAS, DL_DENSE_USE_BIAS, DL_BN_EPSILON, DL_POOL_STRIDE_W, DL_PAD_RIGHT, DL_INPUT_C);
#undef PRINT_TYPE
}

/* Odd sizes for the threaded split: Winograd tile rows that do not divide
 * among threads, im2col with padding at both ends, pooling, a dense layer of
 * panels that are not a multiple of 8. */
static void test_threads(void) {
    builder b = { .rng = 21 };
    int x = input(&b, 37, 35);
    x = conv(&b, "conv1", x, 3, 17, 3, 1, 1, 1, DL_RELU);
    x = conv(&b, "conv2", x, 17, 9, 3, 1, 1, 0, DL_LINEAR);      /* Winograd: 3x3 stride 1, >= 16 in */
    x = batch_norm(&b, "bn", x, 9);
    x = one(&b, DL_ACTIVATION, DL_RELU, "relu", x);
    int y = conv(&b, "conv3", x, 9, 7, 3, 2, 0, 1, DL_RELU);     /* strided, im2col */
    x = pool(&b, DL_MAX_POOL2D, "pool", x, 3, 2);
    x = concat2(&b, "concat", x, y);
    x = conv(&b, "conv4", x, 16, 13, 1, 1, 0, 1, DL_RELU);       /* 1x1: GEMM rows */
    x = pool(&b, DL_AVG_POOL2D, "avg", x, 2, 2);
    inject_thread_failure = 1;
    run_case(&b, "threads: odd sizes", "input conv", NULL);

    /* A dense block's pattern: a 3x3 convolution into a concatenation, its
     * BatchNorm-ReLU and a 1x1 convolution in one region; then layers with
     * fewer than 8 rows, split by output channels (im2col, GEMM, Winograd;
     * panels of 8 that do not divide 24 or 17 evenly among threads). */
    builder c = { .rng = 22 };
    int c1 = conv(&c, "c1", input(&c, 55, 57), 3, 16, 3, 2, 1, 1, DL_RELU);    /* 28x29 */
    int c2 = conv(&c, "c2", c1, 16, 20, 3, 1, 1, 1, DL_RELU);                  /* Winograd, leads the region */
    x = batch_norm(&c, "bn1", concat2(&c, "cat1", c1, c2), 36);
    x = conv(&c, "c3", one(&c, DL_ACTIVATION, DL_RELU, "relu1", x), 36, 24, 1, 1, 0, 1, DL_RELU);
    int c4 = conv(&c, "c4", x, 24, 20, 3, 2, 1, 1, DL_RELU);                   /* 14x15 */
    int c5 = conv(&c, "c5", c4, 20, 24, 3, 2, 1, 1, DL_RELU);                  /* 7x8: im2col by channels */
    x = batch_norm(&c, "bn2", concat2(&c, "cat2", c5, pool(&c, DL_MAX_POOL2D, "p", c4, 1, 2)), 44);
    x = conv(&c, "c6", one(&c, DL_ACTIVATION, DL_RELU, "relu2", x), 44, 24, 1, 1, 0, 1, DL_RELU);
    conv(&c, "c7", x, 24, 17, 3, 1, 1, 1, DL_RELU);                            /* Winograd by channels */
    run_case(&c, "threads: a dense block, 7x8 layers by channels", "input conv conv concat scale_shift+relu conv", NULL);
    inject_thread_failure = 0;
}

/* dl_parallel_for_balanced: every item runs exactly once; a thread that starts
 * late runs its first chunk, and the others take the rest of its share; a
 * failing range is the call's error and the next call is whole again. Then a
 * graph whose worker starts late gives the same bits. */
typedef struct { unsigned char *runs; int *by_thread; size_t fail_at; } balanced_job;

static const char *count_items(void *ctx, size_t begin, size_t end, int thread) {
    balanced_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        if (i == j->fail_at) return "item failed on purpose";
        j->runs[i]++;
        j->by_thread[i] = thread;
    }
    return NULL;
}

static void test_balanced_parallel_for(void) {
    if (!dl_parallel_available()) return;     /* said by same_on_threads */
    enum { ITEMS = 1000 };
    unsigned char runs[ITEMS];
    int by_thread[ITEMS];
    balanced_job j = { runs, by_thread, (size_t)-1 };
    for (int t = 2; t <= 4; t++) {
        char what[64];
        snprintf(what, sizeof what, "balanced parallel for, %d threads", t);
        check(!dl_parallel_set_threads(t), what, "dl_parallel_set_threads");
        memset(runs, 0, sizeof runs);
        dl_parallel_delay_next_call(t - 1, 20000);           /* the last thread wakes 20 ms late */
        check(!dl_parallel_for_balanced(ITEMS, count_items, &j), what, "an error");
        int once = 1, taken = 0;
        size_t last_share = (size_t)ITEMS * (size_t)(t - 1) / (size_t)t;
        for (size_t i = 0; i < ITEMS; i++) once &= runs[i] == 1;
        for (size_t i = last_share; i < ITEMS; i++) taken += by_thread[i] != t - 1;
        check(once, what, "an item ran other than once");
        check(by_thread[last_share] == t - 1, what, "the late thread's first chunk ran elsewhere");
        check(taken > 0, what, "nobody took items from the late thread's share");
        j.fail_at = ITEMS / 2;
        const char *err = dl_parallel_for_balanced(ITEMS, count_items, &j);
        check(err && strstr(err, "on purpose"), what, "a failing range was not the call's error");
        j.fail_at = (size_t)-1;
        memset(runs, 0, sizeof runs);
        once = !dl_parallel_for_balanced(ITEMS, count_items, &j);
        for (size_t i = 0; i < ITEMS; i++) once &= runs[i] == 1;
        check(once, what, "the call after a failure");
    }
    dl_parallel_set_threads(1);
}

int main(void) {
    print_format();
    test_rewrites();
    test_hostile_files();
    test_memory_limit_and_arguments();
    test_names_refused();
    test_threads();
    test_balanced_parallel_for();
    printf("graph_test: %d checks, %d failures\n", checks, failures);
    return failures != 0;
}
