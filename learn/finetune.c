/* finetune.c — see finetune.h. One batch, forward:
 *   x[:, 0:c0] = input; for each layer i (c = c_i):
 *     a_i = relu(bn1(x[:, 0:c]))      z_i = a_i conv1      b_i = relu(bn2(z_i))
 *     x[:, c:c+growth] = b_i conv2    (the concatenation: one buffer, as graph.c)
 *   f = relu(bn(x)), g = avgpool(f), h = relu(g w1 + b1), p = softmax(h w2 + b2)
 * backward walks it in reverse on kernels/backward.c: a layer's output
 * gradient (its slice of dx) is complete once every later layer has added
 * its input gradient into dx[:, 0:c_j]. The head, Adam and the epoch loop
 * are learn/head.h's (shared with the softmax head). Every weight is packed
 * once per weight update (pack_weights), not once per batch it serves. */
#include "learn/finetune.h"
#include "learn/head.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPSILON 1.001e-5f          /* DenseNet's BatchNormalization */
#define MAX_FLOATS ((size_t)1 << 27)  /* 512 MB of parameters (x3 with Adam's moments) */
#define MAX_HIDDEN 65536
#define PREDICT_BATCH 64

dl_dense_block_shape dl_densenet121_conv5(int height, int width) {
    return (dl_dense_block_shape){512, 16, 32, 128, height, width};
}

static int shape_ok(const dl_dense_block_shape *s) {
    return s && s->channels >= 1 && s->channels <= 65536 && s->layers >= 1 && s->layers <= 256 &&
           s->growth >= 1 && s->growth <= 4096 && s->bottleneck >= 1 && s->bottleneck <= 4096 &&
           s->height >= 1 && s->height <= 4096 && s->width >= 1 && s->width <= 4096;
}

static size_t in_channels(const dl_dense_block_shape *s, int i) { return (size_t)s->channels + (size_t)i * s->growth; }

/* Where each parameter tensor starts (floats); a BatchNorm's four vectors follow each other. */
typedef struct { size_t bn1, conv1, bn2, conv2; } layer_at;
typedef struct {
    layer_at *layer;
    size_t final_bn, w1, b1, w2, b2, block, total;
} layout;

/* Offsets of every tensor, in checked arithmetic; 0 if too large. at may be NULL (sizes only). */
static int lay_out(const dl_dense_block_shape *s, int hidden, int k, layer_at *at, layout *L) {
    size_t pos = 0, bn = (size_t)s->bottleneck, t;
    if (!shape_ok(s)) return 0;
#define TAKE(field, count) do { field = pos; if (!(count) || !dl_add(pos, t, &pos)) return 0; } while (0)
    for (int i = 0; i < s->layers; i++) {
        size_t c = in_channels(s, i), b1 = 0, c1 = 0, b2 = 0, c2 = 0;
        TAKE(b1, dl_mul(4, c, &t));
        TAKE(c1, dl_mul(c, bn, &t));
        TAKE(b2, dl_mul(4, bn, &t));
        TAKE(c2, dl_mul3(9, bn, (size_t)s->growth, &t));
        if (at) at[i] = (layer_at){b1, c1, b2, c2};
    }
    size_t c = in_channels(s, s->layers), h = (size_t)(hidden > 0 ? hidden : 0);
    TAKE(L->final_bn, dl_mul(4, c, &t));
    L->block = pos;
    TAKE(L->w1, dl_mul(c, h, &t));
    TAKE(L->b1, (t = h, 1));
    TAKE(L->w2, dl_mul(h, (size_t)k, &t));
    TAKE(L->b2, (t = (size_t)k, 1));
#undef TAKE
    L->total = pos;
    L->layer = at;
    return L->total <= MAX_FLOATS;
}

size_t dl_finetune_block_floats(const dl_dense_block_shape *s) {
    layout L;
    return lay_out(s, 0, 0, NULL, &L) ? L.block : 0;
}

size_t dl_finetune_param_floats(const dl_dense_block_shape *s, int hidden, int k) {
    layout L;
    return hidden >= 1 && hidden <= MAX_HIDDEN && k >= 1 && k <= 256 && lay_out(s, hidden, k, NULL, &L) ? L.total : 0;
}

/* ---- the pretrained block ------------------------------------------------ */

static float *base_block;
static size_t base_count;

const char *dl_finetune_set_base(const float *block, size_t count) {
    free(base_block);
    base_block = NULL;
    base_count = 0;
    if (!block) return NULL;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(block[i])) return dl_errorf("finetune: the pretrained block has a non-finite weight at %zu", i);
    size_t bytes;
    if (!dl_mul(count, sizeof(float), &bytes) || !(base_block = malloc(bytes ? bytes : 1))) return "out of memory";
    memcpy(base_block, block, bytes);
    base_count = count;
    return NULL;
}

/* ---- the model ------------------------------------------------------------ */

typedef struct {
    dl_dense_block_shape s;
    int hidden, k;
    layout L;
    float *params;
} ft_model;

static void model_free(void *p) {
    ft_model *m = p;
    if (!m) return;
    free(m->L.layer); free(m->params); free(m);
}

static ft_model *model_new(const dl_dense_block_shape *s, int hidden, int k) {
    if (!dl_finetune_param_floats(s, hidden, k)) return NULL;
    ft_model *m = calloc(1, sizeof *m);
    layer_at *at = m ? calloc((size_t)s->layers, sizeof *at) : NULL;
    if (!at || !lay_out(s, hidden, k, at, &m->L)) { free(at); free(m); return NULL; }
    m->s = *s; m->hidden = hidden; m->k = k;
    if (!(m->params = calloc(m->L.total, sizeof(float)))) { model_free(m); return NULL; }
    return m;
}

/* ---- one batch's buffers ------------------------------------------------- */

typedef struct {
    size_t rows;                 /* images */
    float *x, *f, *dx;           /* [M][c_out]: concatenation, relu(bn(x)) then its gradient, dx */
    float *a, *z, *b;            /* every layer's a_i [M][c_i], z_i and b_i [M][bottleneck] */
    float *dz, *db, *da;         /* [M][bottleneck], [M][bottleneck], [M][c_max] */
    float *g, *dg, *h, *p;       /* [B][c_out], [B][c_out], [B][hidden], [B][k] */
    float *scale, *shift;        /* every BatchNorm's affine, in layout order */
    float *dscale, *dshift;      /* [c_out] */
    float *packed, *scratch;     /* every weight packed (pack_weights), scratch */
    size_t *packed_at;           /* where layer i's conv1 (2i) and conv2 (2i+1) and the head (2L) start */
} work;

static void work_free(work *w) {
    float *all[] = {w->x, w->f, w->dx, w->a, w->z, w->b, w->dz, w->db, w->da, w->g, w->dg, w->h, w->p,
                    w->scale, w->shift, w->dscale, w->dshift, w->packed, w->scratch};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    free(w->packed_at);
    memset(w, 0, sizeof *w);
}

static f32_conv2d_shape conv1_shape(const dl_dense_block_shape *s, size_t rows, int i) {
    return (f32_conv2d_shape){rows, (size_t)s->height, (size_t)s->width, in_channels(s, i), (size_t)s->bottleneck,
                              1, 1, 1, 1, 0, 0, 0, 0};
}
/* The 3x3 'same' convolution. At 1 x 1 pixels (S = 32) it reads only its
 * centre tap (f32_conv2d_single_tap): a 1x1 convolution on that tap's
 * weights, *tap floats into the kernel (else 0; tap may be NULL), 9 times
 * less work. */
static f32_conv2d_shape conv2_shape(const dl_dense_block_shape *s, size_t rows, size_t *tap) {
    f32_conv2d_shape c = {rows, (size_t)s->height, (size_t)s->width, (size_t)s->bottleneck, (size_t)s->growth,
                          3, 3, 1, 1, 1, 1, 1, 1};
    size_t offset = 0;
    (void)f32_conv2d_single_tap(&c, &c, &offset);
    if (tap) *tap = offset;
    return c;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* The head over a block laid out as the parameters (params or a gradient). */
static dl_head head_of(const ft_model *m, float *block) {
    return (dl_head){in_channels(&m->s, m->s.layers), (size_t)m->hidden, (size_t)m->k,
                     block + m->L.w1, block + m->L.b1, block + m->L.w2, block + m->L.b2};
}

/* Where each packed weight goes in w->packed (packed_at may be NULL: the
 * total only); SIZE_MAX if it does not fit. The algorithm a convolution is
 * packed for does not depend on the batch, so a pack serves any rows. */
static size_t packed_layout(const ft_model *m, size_t rows, size_t *packed_at) {
    const dl_dense_block_shape *s = &m->s;
    f32_conv2d_shape c2 = conv2_shape(s, rows, NULL);
    dl_head head = head_of(m, m->params);
    size_t total = 0, size;
    for (int i = 0; i <= 2 * s->layers; i++) {
        if (i == 2 * s->layers) size = dl_head_packed_floats(&head);
        else if (i % 2) size = f32_conv2d_packed_size(&c2);
        else { f32_conv2d_shape c1 = conv1_shape(s, rows, i / 2); size = f32_conv2d_packed_size(&c1); }
        if (packed_at) packed_at[i] = total;
        if (size == SIZE_MAX || !dl_add(total, size, &total)) return SIZE_MAX;
    }
    return total;
}

static float *alloc_floats(size_t n, int *ok) {
    float *p = n < SIZE_MAX / sizeof(float) ? malloc((n ? n : 1) * sizeof(float)) : NULL;
    if (!p) *ok = 0;
    return p;
}

static const char *work_alloc(work *w, const ft_model *m, size_t rows) {
    const dl_dense_block_shape *s = &m->s;
    size_t pixels = (size_t)s->height * s->width, M, c_out = in_channels(s, s->layers), bn = (size_t)s->bottleneck;
    size_t sum_c = 0, packed = packed_layout(m, rows, NULL), scratch = 0, xs, as, zs, bnf, hs;
    memset(w, 0, sizeof *w);
    f32_conv2d_shape c2 = conv2_shape(s, rows, NULL);
    dl_head head = head_of(m, m->params);
    for (int i = 0; i < s->layers; i++) {
        f32_conv2d_shape c1 = conv1_shape(s, rows, i);
        sum_c += in_channels(s, i);
        scratch = max_size(scratch, max_size(f32_conv2d_backward_scratch_size(&c1), f32_conv2d_scratch_size(&c1) / sizeof(float) + 1));
    }
    scratch = max_size(scratch, max_size(f32_conv2d_backward_scratch_size(&c2), f32_conv2d_scratch_size(&c2) / sizeof(float) + 1));
    scratch = max_size(scratch, dl_head_scratch_floats(&head, rows));
    if (!dl_mul(rows, pixels, &M) || !dl_mul(M, c_out, &xs) || !dl_mul(M, sum_c, &as) || !dl_mul3(M, bn, (size_t)s->layers, &zs) ||
        !dl_add(sum_c + c_out, bn * (size_t)s->layers, &bnf) || !dl_mul(rows, max_size(c_out, (size_t)m->hidden), &hs) ||
        packed == SIZE_MAX || scratch == SIZE_MAX)
        return "finetune: a batch this large does not fit this platform";
    int ok = 1;
    w->rows = rows;
    w->x = alloc_floats(xs, &ok); w->f = alloc_floats(xs, &ok); w->dx = alloc_floats(xs, &ok);
    w->a = alloc_floats(as, &ok); w->z = alloc_floats(zs, &ok); w->b = alloc_floats(zs, &ok);
    w->dz = alloc_floats(M * bn, &ok); w->db = alloc_floats(M * bn, &ok); w->da = alloc_floats(xs, &ok);
    w->g = alloc_floats(hs, &ok); w->dg = alloc_floats(hs, &ok); w->h = alloc_floats(hs, &ok);
    w->p = alloc_floats(rows * (size_t)m->k, &ok);
    w->scale = alloc_floats(bnf, &ok); w->shift = alloc_floats(bnf, &ok);
    w->dscale = alloc_floats(c_out, &ok); w->dshift = alloc_floats(c_out, &ok);
    w->packed = alloc_floats(packed, &ok); w->scratch = alloc_floats(scratch, &ok);
    if (!ok || !(w->packed_at = malloc(((size_t)s->layers * 2 + 1) * sizeof(size_t)))) {
        work_free(w);
        return "out of memory for a fine-tuning batch";
    }
    packed_layout(m, rows, w->packed_at);
    return NULL;
}

/* scale = gamma / sqrt(var + eps), shift = beta - mean * scale (Keras' inference BatchNorm). */
static void bn_affine(const float *bn, size_t c, float *scale, float *shift) {
    for (size_t j = 0; j < c; j++) {
        scale[j] = bn[j] / sqrtf(bn[3 * c + j] + BN_EPSILON);
        shift[j] = bn[c + j] - bn[2 * c + j] * scale[j];
    }
}

/* gamma and beta from the affine's gradients; the moving statistics stay frozen (0). */
static void bn_grads(const float *bn, size_t c, const float *dscale, const float *dshift, float *grad) {
    for (size_t j = 0; j < c; j++) {
        float r = 1.0f / sqrtf(bn[3 * c + j] + BN_EPSILON);
        grad[j] = r * (dscale[j] - bn[2 * c + j] * dshift[j]);
        grad[c + j] = dshift[j];
        grad[2 * c + j] = grad[3 * c + j] = 0.0f;
    }
}

/* After the parameters changed: every BatchNorm's affine, every weight packed. */
static void pack_weights(const ft_model *m, work *w) {
    const dl_dense_block_shape *s = &m->s;
    size_t at = 0, bn = (size_t)s->bottleneck, c_out = in_channels(s, s->layers);
    size_t tap;
    f32_conv2d_shape c2 = conv2_shape(s, w->rows, &tap);
    for (int i = 0; i < s->layers; i++) {
        const layer_at *L = &m->L.layer[i];
        size_t c = in_channels(s, i);
        f32_conv2d_shape c1 = conv1_shape(s, w->rows, i);
        bn_affine(m->params + L->bn1, c, w->scale + at, w->shift + at);
        at += c;
        bn_affine(m->params + L->bn2, bn, w->scale + at, w->shift + at);
        at += bn;
        f32_conv2d_pack(&c1, m->params + L->conv1, NULL, w->packed + w->packed_at[2 * i]);
        f32_conv2d_pack(&c2, m->params + L->conv2 + tap, NULL, w->packed + w->packed_at[2 * i + 1]);
    }
    bn_affine(m->params + m->L.final_bn, c_out, w->scale + at, w->shift + at);
    dl_head head = head_of(m, m->params);
    dl_head_pack(&head, w->packed + w->packed_at[2 * s->layers]);
}

/* Probabilities of rows images (x: rows of pixels * channels floats) into w->p. */
static void forward(const ft_model *m, work *w, const float *x, size_t rows) {
    const dl_dense_block_shape *s = &m->s;
    size_t pixels = (size_t)s->height * s->width, M = rows * pixels, C = in_channels(s, s->layers);
    size_t bn = (size_t)s->bottleneck, c0 = (size_t)s->channels;
    for (size_t r = 0; r < M; r++) memcpy(w->x + r * C, x + r * c0, c0 * sizeof(float));
    const float *scale = w->scale, *shift = w->shift;
    float *a = w->a;
    f32_conv2d_shape c2 = conv2_shape(s, rows, NULL);
    for (int i = 0; i < s->layers; i++) {
        size_t c = in_channels(s, i);
        float *z = w->z + (size_t)i * M * bn, *b = w->b + (size_t)i * M * bn;
        f32_conv2d_shape c1 = conv1_shape(s, rows, i);
        f32_scale_shift_nhwc(M, c, w->x, C, scale, shift, a, c, 0.0f, INFINITY);
        scale += c; shift += c;
        f32_conv2d_nhwc(&c1, a, c, w->packed + w->packed_at[2 * i], z, bn, -INFINITY, INFINITY, w->scratch);
        f32_scale_shift_nhwc(M, bn, z, bn, scale, shift, b, bn, 0.0f, INFINITY);
        scale += bn; shift += bn;
        f32_conv2d_nhwc(&c2, b, bn, w->packed + w->packed_at[2 * i + 1], w->x + c, C, -INFINITY, INFINITY, w->scratch);
        a += M * c;
    }
    f32_scale_shift_nhwc(M, C, w->x, C, scale, shift, w->f, C, 0.0f, INFINITY);
    f32_global_avgpool_nhwc(rows, pixels, C, w->f, C, w->g);
    dl_head head = head_of(m, m->params);
    dl_head_forward(&head, w->packed + w->packed_at[2 * s->layers], w->g, rows, w->h, w->p);
}

/* After forward(): the summed loss, and grad (layout order) of the mean loss. */
static double backward(const ft_model *m, work *w, const int *y, size_t rows, float *grad) {
    const dl_dense_block_shape *s = &m->s;
    const f32_variant v = F32_WASMSIMD;
    const float *P = m->params;
    size_t pixels = (size_t)s->height * s->width, M = rows * pixels, C = in_channels(s, s->layers);
    size_t bn = (size_t)s->bottleneck;
    dl_head head = head_of(m, m->params), ghead = head_of(m, grad);
    double loss = dl_head_backward(&head, &ghead, w->g, w->h, w->p, y, rows, w->dg, w->scratch);
    f32_global_avgpool_backward(rows, pixels, C, w->dg, w->dx, C);
    f32_relu_backward(M, C, w->f, C, w->dx, C, w->f, C);   /* w->f: now the gradient of relu(bn(x)) */
    memset(w->dx, 0, M * C * sizeof(float));
    /* Walk the BatchNorm affines backwards from the final one. */
    size_t at = 0;
    for (int i = 0; i < s->layers; i++) at += in_channels(s, i) + bn;
    f32_affine_backward(M, C, w->x, C, w->f, C, w->scale + at, w->dx, C, w->dscale, w->dshift);
    bn_grads(P + m->L.final_bn, C, w->dscale, w->dshift, grad + m->L.final_bn);
    size_t tap;
    f32_conv2d_shape c2 = conv2_shape(s, rows, &tap);
    size_t a_end = 0;
    for (int i = 0; i < s->layers; i++) a_end += M * in_channels(s, i);
    for (int i = s->layers - 1; i >= 0; i--) {
        size_t c = in_channels(s, i);
        const layer_at *L = &m->L.layer[i];
        const float *a = w->a + (a_end -= M * c), *z = w->z + (size_t)i * M * bn, *b = w->b + (size_t)i * M * bn;
        f32_conv2d_shape c1 = conv1_shape(s, rows, i);
        /* conv2 (3x3), whose output is this layer's slice of the concatenation */
        if (tap) memset(grad + L->conv2, 0, 9 * bn * s->growth * sizeof(float));
        f32_conv2d_backward_weights(v, &c2, b, bn, w->dx + c, C, grad + L->conv2 + tap, NULL, w->scratch);
        memset(w->db, 0, M * bn * sizeof(float));
        f32_conv2d_backward_input(v, &c2, w->dx + c, C, P + L->conv2 + tap, w->db, bn, w->scratch);
        /* relu(bn2) */
        at -= bn;
        f32_relu_backward(M, bn, b, bn, w->db, bn, w->db, bn);
        memset(w->dz, 0, M * bn * sizeof(float));
        f32_affine_backward(M, bn, z, bn, w->db, bn, w->scale + at, w->dz, bn, w->dscale, w->dshift);
        bn_grads(P + L->bn2, bn, w->dscale, w->dshift, grad + L->bn2);
        /* conv1 (1x1) */
        f32_conv2d_backward_weights(v, &c1, a, c, w->dz, bn, grad + L->conv1, NULL, w->scratch);
        memset(w->da, 0, M * c * sizeof(float));
        f32_conv2d_backward_input(v, &c1, w->dz, bn, P + L->conv1, w->da, c, w->scratch);
        /* relu(bn1), into the gradient of the concatenation's first c channels
         * (the frozen input's gradient, layer 0's, is not needed) */
        at -= c;
        f32_relu_backward(M, c, a, c, w->da, c, w->da, c);
        f32_affine_backward(M, c, w->x, C, w->da, c, w->scale + at, i ? w->dx : NULL, C, w->dscale, w->dshift);
        bn_grads(P + L->bn1, c, w->dscale, w->dshift, grad + L->bn1);
    }
    return loss;
}

/* ---- classifier kind: scores and file ------------------------------------ */

/* The block shape of a feature row: d = h * w * 512 with h = w (square inputs). */
static const char *shape_of_row(size_t d, dl_dense_block_shape *s) {
    size_t pixels = d / 512, side = (size_t)sqrt((double)pixels);
    while (side * side < pixels) side++;
    if (d == 0 || d % 512 || side * side != pixels || side > 4096)
        return dl_errorf("finetune: a row of %zu floats is not a square h x w x 512 input of conv5_block1", d);
    *s = dl_densenet121_conv5((int)side, (int)side);
    return NULL;
}

/* Scores of n rows in batches of up to PREDICT_BATCH, with the loss if y is given. */
static const char *predict_rows(const ft_model *m, const float *x, const int *y, int n, float *scores,
                                double *loss, long *correct) {
    work w;
    size_t B = (size_t)(n < PREDICT_BATCH ? n : PREDICT_BATCH), d = (size_t)m->s.height * m->s.width * m->s.channels;
    const char *err = work_alloc(&w, m, B ? B : 1);
    if (err) return err;
    pack_weights(m, &w);
    if (loss) *loss = 0;
    if (correct) *correct = 0;
    for (size_t r0 = 0; r0 < (size_t)n; r0 += B) {
        size_t rows = (size_t)n - r0 < B ? (size_t)n - r0 : B;
        forward(m, &w, x + r0 * d, rows);
        if (scores) memcpy(scores + r0 * m->k, w.p, rows * m->k * sizeof(float));
        if (y) {
            *correct += dl_head_correct(w.p, y + r0, rows, (size_t)m->k);
            *loss += f32_softmax_cross_entropy_backward(rows, (size_t)m->k, w.p, y + r0, w.p);
        }
    }
    work_free(&w);
    return NULL;
}

static const char *finetune_scores(const dl_classifier *c, const float *x, int n, float *scores) {
    return predict_rows(c->model, x, NULL, n, scores, NULL, NULL);
}

static uint32_t finetune_file_param(const dl_classifier *c) { return (uint32_t)((const ft_model *)c->model)->hidden; }

/* Payload: every parameter in the layout of finetune.h, f32. */
static const char *finetune_payload_size(size_t k, size_t d, uint32_t hidden, size_t *bytes) {
    dl_dense_block_shape s;
    const char *err = shape_of_row(d, &s);
    if (err) return err;
    size_t n = hidden <= MAX_HIDDEN && k <= 256 ? dl_finetune_param_floats(&s, (int)hidden, (int)k) : 0;
    if (!n || !dl_mul(n, sizeof(float), bytes))
        return dl_errorf("finetune: a head of %u units over %zu classes is too large", hidden, k);
    return NULL;
}

static const char *finetune_read(dl_classifier *c, uint32_t hidden, dl_clf_bytes *in) {
    dl_dense_block_shape s;
    const char *err = shape_of_row((size_t)c->num_features, &s);
    if (err) return err;
    ft_model *m = model_new(&s, (int)hidden, c->num_classes);
    if (!m) return "out of memory";
    c->model = m;
    return dl_clf_get_f32s(in, m->params, m->L.total) ? NULL : "non-finite weights";
}

static void finetune_write(const dl_classifier *c, dl_clf_bytes *out) {
    const ft_model *m = c->model;
    dl_clf_put_f32s(out, m->params, m->L.total);
}

/* ---- training ------------------------------------------------------------ */

/* Keras' Adam defaults. */
#define BETA1 0.9
#define BETA2 0.999
#define ADAM_EPSILON 1e-7

static dl_classifier *new_classifier(const dl_dense_block_shape *s, int hidden, int k) {
    size_t d = (size_t)s->height * s->width * s->channels;
    if (d > 0x7fffffff) return NULL;
    dl_classifier *c = dl_classifier_new(&dl_finetune_kind, k, (int)d, 0);
    if (c && !(c->model = model_new(s, hidden, k))) { dl_classifier_free(c); c = NULL; }
    return c;
}

static const char *check_rows(const ft_model *m, const float *x, const int *y, int n) {
    size_t d = (size_t)m->s.height * m->s.width * m->s.channels;
    if (!x || !y || n < 1) return "finetune: no rows";
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= m->k) return dl_errorf("finetune: label %d at row %d outside 0..%d", y[i], i, m->k - 1);
    return dl_learn_check_xy(x, NULL, n, (int)d, NULL);
}

/* What the fit loop's callbacks (learn/head.h) see: the model, the training
 * batch's buffers, and the validation rows. */
typedef struct {
    ft_model *m;
    work w;
    const float *xv;
    const int *yv;
    int nv;
} fit_state;

static void fit_updated(void *self) {
    fit_state *st = self;
    pack_weights(st->m, &st->w);
}

static double fit_batch(void *self, const float *xb, const int *yb, int rows, long *correct, float *grad) {
    fit_state *st = self;
    forward(st->m, &st->w, xb, (size_t)rows);
    *correct += dl_head_correct(st->w.p, yb, (size_t)rows, (size_t)st->m->k);
    return backward(st->m, &st->w, yb, (size_t)rows, grad);
}

static const char *fit_validate(void *self, double *val_acc, double *val_loss) {
    fit_state *st = self;
    long ok;
    const char *err = predict_rows(st->m, st->xv, st->yv, st->nv, NULL, val_loss, &ok);
    if (err) return err;
    *val_loss /= st->nv;
    *val_acc = (double)ok / st->nv;
    return NULL;
}

const char *dl_finetune_train(const dl_dense_block_shape *s, const float *block, const float *x, const int *y, int n,
                              const dl_finetune_params *P, dl_learn_progress_fn progress, void *user,
                              dl_classifier **out, dl_train_report *report) {
    if (!out) return "finetune: NULL output";
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    dl_finetune_params p;
    if (P) p = *P; else dl_finetune_default_params(&p);
    if (!block && !base_block) return "finetune: no pretrained block (load a model first)";
    if (!block && base_count != dl_finetune_block_floats(s))
        return dl_errorf("finetune: the pretrained block has %zu weights, this input needs %zu", base_count, dl_finetune_block_floats(s));
    if (p.hidden < 1 || p.hidden > MAX_HIDDEN) return dl_errorf("finetune: hidden must be 1..%d (got %d)", MAX_HIDDEN, p.hidden);
    if (p.epochs < 1 || p.batch_size < 1 || p.patience < 1 || !(p.lr > 0) || !(p.val >= 0 && p.val < 1))
        return "finetune: epochs, batch_size and patience must be >= 1, lr > 0, 0 <= val < 1";
    size_t d = (size_t)s->height * s->width * s->channels;
    if (d > 0x7fffffff) return "finetune: input rows too large";
    int K;
    const char *err = dl_learn_check_xy(x, y, n, (int)d, &K);
    if (err) return err;
    /* Keras' validation_split: the last rows, before any shuffling. */
    int n_train = (int)ceil((double)n * (1.0 - p.val)), n_val = n - n_train;
    if (n_train < 1) return "finetune: no training rows left after the validation split";
    dl_classifier *c = new_classifier(s, p.hidden, K);
    if (!c) return dl_errorf("finetune: out of memory for a model of %d hidden units", p.hidden);
    ft_model *m = c->model;
    fit_state st = {m, {0}, x + (size_t)n_train * d, y + n_train, n_val};
    if ((err = work_alloc(&st.w, m, (size_t)(p.batch_size < n_train ? p.batch_size : n_train)))) goto done;

    memcpy(m->params, block ? block : base_block, m->L.block * sizeof(float));
    dl_rng rng;
    dl_rng_seed(&rng, p.seed);
    size_t C = in_channels(s, s->layers);
    dl_glorot_uniform(&rng, m->params + m->L.w1, C * p.hidden, C, (size_t)p.hidden);
    dl_glorot_uniform(&rng, m->params + m->L.w2, (size_t)p.hidden * K, (size_t)p.hidden, (size_t)K);
    dl_fit_loop loop = {
        .phase = "finetune", .params = m->params, .num_params = m->L.total,
        .epochs = p.epochs, .batch_size = p.batch_size, .patience = p.patience,
        .lr = p.lr, .beta1 = BETA1, .beta2 = BETA2, .epsilon = ADAM_EPSILON,
        .mean = NULL, .std = NULL, .self = &st,
        .batch = fit_batch, .updated = fit_updated, .validate = n_val > 0 ? fit_validate : NULL,
    };
    err = dl_fit_loop_run(&loop, x, y, n_train, (int)d, &rng, progress, user, report);
done:
    work_free(&st.w);
    return dl_fit_finish(err, c, out, report);
}

/* ---- for tests: a model from given parameters, its gradient, Adam steps ---- */

const char *dl_finetune_from_params(const dl_dense_block_shape *s, int hidden, int k, const float *params,
                                    size_t count, dl_classifier **out) {
    size_t want = dl_finetune_param_floats(s, hidden, k);
    if (!out || !params) return "finetune: bad arguments";
    *out = NULL;
    if (!want || count != want) return dl_errorf("finetune: %zu parameters given, this shape has %zu", count, want);
    for (size_t i = 0; i < count; i++) if (!isfinite(params[i])) return "finetune: non-finite parameter";
    dl_classifier *c = new_classifier(s, hidden, k);
    if (!c) return "out of memory";
    memcpy(((ft_model *)c->model)->params, params, count * sizeof(float));
    *out = c;
    return NULL;
}

float *dl_finetune_params_of(const dl_classifier *c, size_t *count) {
    if (!c || c->kind != &dl_finetune_kind) return NULL;
    ft_model *m = c->model;
    if (count) *count = m->L.total;
    return m->params;
}

/* forward + backward of m rows into grad; loss summed. */
static const char *batch_grad(ft_model *m, const float *x, const int *y, int n, double *loss, float *grad) {
    work w;
    const char *err = check_rows(m, x, y, n);
    if (!err) err = work_alloc(&w, m, (size_t)n);
    if (err) return err;
    pack_weights(m, &w);
    forward(m, &w, x, (size_t)n);
    *loss = backward(m, &w, y, (size_t)n, grad);
    work_free(&w);
    return NULL;
}

const char *dl_finetune_loss_grad(const dl_classifier *c, const float *x, const int *y, int m,
                                  double *loss_sum, float *grad) {
    if (!dl_finetune_params_of(c, NULL) || !loss_sum || !grad) return "finetune: bad arguments";
    return batch_grad(c->model, x, y, m, loss_sum, grad);
}

const char *dl_finetune_adam_steps(dl_classifier *c, const float *x, const int *y, int n, double lr, int steps) {
    if (!dl_finetune_params_of(c, NULL) || !(lr > 0) || steps < 1) return "finetune: bad arguments";
    ft_model *m = c->model;
    dl_adam adam;
    const char *err = dl_adam_init(&adam, m->L.total, BETA1, BETA2, ADAM_EPSILON);
    double loss;
    for (int i = 0; i < steps && !err; i++)
        if (!(err = batch_grad(m, x, y, n, &loss, adam.grad))) dl_adam_step(&adam, m->params, lr);
    dl_adam_free(&adam);
    return err;
}

/* ---- the kind ------------------------------------------------------------ */

enum { P_HIDDEN, P_EPOCHS, P_BATCH_SIZE, P_LR, P_VAL, P_PATIENCE, P_SEED, NUM_PARAMS };
static const dl_param_spec finetune_params[NUM_PARAMS] = {
    [P_HIDDEN] = {"hidden", DL_PARAM_INT, 128, 1, MAX_HIDDEN, 0, "units of the head's relu layer"},
    [P_EPOCHS] = {"epochs", DL_PARAM_INT, 10, 1, 1e6, 0, "most passes over the training rows"},
    [P_BATCH_SIZE] = {"batch_size", DL_PARAM_INT, 32, 1, 4096, 0, "rows per Adam step"},
    [P_LR] = {"lr", DL_PARAM_REAL, 1e-4, 0, 10, 1, "Adam learning rate"},
    [P_VAL] = {"val", DL_PARAM_REAL, 0.1, 0, 0.9, 0, "fraction held out for validation (the last rows); 0: none"},
    [P_PATIENCE] = {"patience", DL_PARAM_INT, 3, 1, 1e6, 0, "epochs without a lower validation loss before stopping"},
    [P_SEED] = {"seed", DL_PARAM_INT, 1, 0, 9007199254740991.0, 0, "seed of the head's weights and the shuffling"},
};

static dl_finetune_params params_from(const double *v) {
    return (dl_finetune_params){
        .hidden = (int)v[P_HIDDEN], .epochs = (int)v[P_EPOCHS], .batch_size = (int)v[P_BATCH_SIZE],
        .patience = (int)v[P_PATIENCE], .lr = v[P_LR], .val = v[P_VAL], .seed = (uint64_t)v[P_SEED],
    };
}

void dl_finetune_default_params(dl_finetune_params *p) {
    double v[NUM_PARAMS];
    dl_param_defaults(finetune_params, NUM_PARAMS, v);
    *p = params_from(v);
}

static const char *finetune_fit(const float *x, const int *y, int n, int d, const double *v,
                                dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_dense_block_shape s;
    const char *err = shape_of_row(d > 0 ? (size_t)d : 0, &s);
    if (err) return err;
    dl_finetune_params p = params_from(v);
    return dl_finetune_train(&s, NULL, x, y, n, &p, progress, user, out, report);
}

const dl_classifier_kind dl_finetune_kind = {
    "finetune", 4, "DenseNet121's conv5 block (BatchNorm in inference mode) + Dense(hidden, relu) + Dense(classes, softmax), Adam; rows are conv5_block1's input",
    finetune_params, NUM_PARAMS, finetune_fit, finetune_scores, finetune_file_param,
    finetune_payload_size, finetune_read, finetune_write, model_free, NULL,   /* fit_rows: float32 rows only */
};
