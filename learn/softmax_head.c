/* softmax_head.c — see softmax_head.h. Every matrix product is one
 * f32_gemm over packed weights:
 *   forward   a1 = relu(x w1 + b1), p = softmax(a1 w2 + b2)
 *   backward  dz = (p - onehot) / m, dw2 = a1^T dz, da = (dz w2^T) * [a1 > 0],
 *             dw1 = x^T da, db = column sums. */
#include "learn/softmax_head.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HIDDEN 65536
#define MAX_PARAMS (1u << 26)   /* 256 MB of weights, 768 MB with Adam's moments */

/* f32_gemm_packed_size(k, n) floats, refusing sizes whose packing would wrap
 * (the packed size is below (k + 1) * (n + 8)). */
static int packed_floats(size_t k, size_t n, size_t *out) {
    size_t bound;
    if (!dl_mul(k + 1, n + 8, &bound)) return 0;
    *out = f32_gemm_packed_size(k, n);
    return 1;
}

/* ---- the model ----------------------------------------------------------- */

static void model_free(void *model) {
    dl_softmax_model *m = model;
    free(m->params); free(m->packed1); free(m->packed2);
    free(m);
}

/* Parameter count of a head, checked and limited: d*h + h + in2*k + k. */
static int count_params(size_t d, size_t h, size_t k, size_t *n1, size_t *n2) {
    size_t in2 = h ? h : d, total;
    return dl_mul(d, h, n1) && dl_add(*n1, h, n1) && dl_mul(in2, k, n2) && dl_add(*n2, k, n2) &&
           dl_add(*n1, *n2, &total) && total <= MAX_PARAMS;
}

static dl_softmax_model *model_new(int k, int d, int h) {
    size_t n1, n2, total, p1 = 0, p2, in2 = h ? (size_t)h : (size_t)d;
    if (!count_params((size_t)d, (size_t)h, (size_t)k, &n1, &n2) || !dl_add(n1, n2, &total) ||
        (h && !packed_floats((size_t)d, (size_t)h, &p1)) || !packed_floats(in2, (size_t)k, &p2))
        return NULL;
    dl_softmax_model *m = dl_learn_alloc(1, sizeof *m);
    if (!m) return NULL;
    m->hidden = h;
    m->num_params = total;
    m->params = dl_learn_alloc(total, sizeof(float));
    m->packed1 = h ? dl_learn_alloc(p1, sizeof(float)) : NULL;
    m->packed2 = dl_learn_alloc(p2, sizeof(float));
    if (!m->params || (h && !m->packed1) || !m->packed2) { model_free(m); return NULL; }
    m->w1 = h ? m->params : NULL;
    m->b1 = h ? m->params + (size_t)d * h : NULL;
    m->w2 = m->params + n1;
    m->b2 = m->w2 + in2 * k;
    return m;
}

static void repack(dl_softmax_model *m, int d, int k) {
    int h = m->hidden;
    if (h) f32_gemm_pack((size_t)d, (size_t)h, m->w1, m->b1, m->packed1);
    f32_gemm_pack((size_t)(h ? h : d), (size_t)k, m->w2, m->b2, m->packed2);
}

void dl_softmax_repack(dl_classifier *c) { repack(c->model, c->num_features, c->num_classes); }

/* ---- forward and backward ------------------------------------------------- */

/* Scratch of one batch of up to B rows. */
typedef struct {
    int B;
    float *a1;      /* [B][H] hidden activations */
    float *z;       /* [B][K] logits, then probabilities, then dLoss/dlogits */
    float *da;      /* [B][H] */
    float *xt;      /* [max(d, H)][B]: the layer input, transposed */
    float *gpack;   /* packed [B][max(K, H)] output gradient */
    float *w2t;     /* [K][H] */
    float *w2tpack; /* packed w2t */
} work;

static void work_free(work *w) {
    free(w->a1); free(w->z); free(w->da); free(w->xt); free(w->gpack); free(w->w2t); free(w->w2tpack);
    memset(w, 0, sizeof *w);
}

static const char *work_alloc(work *w, int B, int d, int h, int k) {
    size_t H = (size_t)(h ? h : 1), wide = (size_t)(d > h ? d : h), out = (size_t)(k > h ? k : h);
    size_t gp, wp, xt, bh, bk;
    memset(w, 0, sizeof *w);
    if (!dl_mul(wide, (size_t)B, &xt) || !dl_mul((size_t)B, H, &bh) || !dl_mul((size_t)B, (size_t)k, &bk) ||
        !packed_floats((size_t)B, out, &gp) || !packed_floats((size_t)k, H, &wp))
        return "softmax: batch too large for this platform";
    w->B = B;
    w->a1 = dl_learn_alloc(bh, sizeof(float));
    w->z = dl_learn_alloc(bk, sizeof(float));
    w->da = dl_learn_alloc(bh, sizeof(float));
    w->xt = dl_learn_alloc(xt, sizeof(float));
    w->gpack = dl_learn_alloc(gp, sizeof(float));
    w->w2t = dl_learn_alloc((size_t)k * H, sizeof(float));
    w->w2tpack = dl_learn_alloc(wp, sizeof(float));
    if (!w->a1 || !w->z || !w->da || !w->xt || !w->gpack || !w->w2t || !w->w2tpack) {
        work_free(w);
        return "out of memory";
    }
    return NULL;
}

/* Probabilities of m <= B standardised rows into w->z (hidden units in w->a1). */
static void forward(const dl_softmax_model *M, int d, int k, const float *x, int m, work *w) {
    int h = M->hidden;
    const float *in = x;
    if (h) {
        f32_gemm((size_t)m, (size_t)h, (size_t)d, x, (size_t)d, M->packed1, w->a1, (size_t)h, 0.0f, INFINITY);
        in = w->a1;
    }
    int in2 = h ? h : d;
    f32_gemm((size_t)m, (size_t)k, (size_t)in2, in, (size_t)in2, M->packed2, w->z, (size_t)k, -INFINITY, INFINITY);
    f32_softmax((size_t)m, (size_t)k, w->z, w->z);
}

static void transpose(const float *a, size_t rows, size_t cols, float *t) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
}

/* dW[in][out] = X^T dY over m rows (X [m][in], dY [m][out]), db = column sums of dY. */
static void weight_grad(const float *X, int m, int in, const float *dY, int out, work *w, float *dW, float *db) {
    transpose(X, (size_t)m, (size_t)in, w->xt);
    f32_gemm_pack((size_t)m, (size_t)out, dY, NULL, w->gpack);
    f32_gemm((size_t)in, (size_t)out, (size_t)m, w->xt, (size_t)m, w->gpack, dW, (size_t)out, -INFINITY, INFINITY);
    memset(db, 0, sizeof(float) * (size_t)out);
    for (int i = 0; i < m; i++)
        for (int o = 0; o < out; o++) db[o] += dY[(size_t)i * out + o];
}

/* Keras' categorical cross-entropy clips probabilities to [1e-7, 1 - 1e-7]. */
static double cross_entropy(float p) {
    const double eps = 1e-7;
    return -log(p < eps ? eps : p > 1 - eps ? 1 - eps : p);
}

/* One batch: loss summed over the rows, accuracy count, and grad (the
 * model's parameter order) of the mean loss. */
static void loss_grad(const dl_softmax_model *M, int d, int k, const float *x, const int *y, int m, work *w,
                      double *loss_sum, long *correct, float *grad) {
    int h = M->hidden, in2 = h ? h : d;
    forward(M, d, k, x, m, w);
    for (int i = 0; i < m; i++) {
        float *g = w->z + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++) if (g[j] > g[best]) best = j;
        *correct += best == y[i];
        *loss_sum += cross_entropy(g[y[i]]);
        g[y[i]] -= 1.0f;   /* d(mean loss)/dlogits = (p - onehot) / m */
        for (int j = 0; j < k; j++) g[j] /= (float)m;
    }
    float *gw2 = grad + (M->w2 - M->params), *gb2 = grad + (M->b2 - M->params);
    weight_grad(h ? w->a1 : x, m, in2, w->z, k, w, gw2, gb2);
    if (!h) return;
    /* da = dz w2^T, masked where relu was off. */
    transpose(M->w2, (size_t)h, (size_t)k, w->w2t);
    f32_gemm_pack((size_t)k, (size_t)h, w->w2t, NULL, w->w2tpack);
    f32_gemm((size_t)m, (size_t)h, (size_t)k, w->z, (size_t)k, w->w2tpack, w->da, (size_t)h, -INFINITY, INFINITY);
    for (size_t i = 0; i < (size_t)m * h; i++) if (!(w->a1[i] > 0)) w->da[i] = 0;
    weight_grad(x, m, d, w->da, h, w, grad, grad + (M->b1 - M->params));
}

const char *dl_softmax_loss_grad(const dl_classifier *c, const float *x, const int *y, int m,
                                 double *loss_sum, float *grad) {
    if (!c || c->kind != &dl_softmax_kind || m < 1) return "softmax: bad arguments";
    const dl_softmax_model *M = c->model;
    work w;
    const char *err = work_alloc(&w, m, c->num_features, M->hidden, c->num_classes);
    if (err) return err;
    long correct = 0;
    *loss_sum = 0;
    loss_grad(M, c->num_features, c->num_classes, x, y, m, &w, loss_sum, &correct, grad);
    work_free(&w);
    return NULL;
}

static const char *softmax_scores(const dl_classifier *c, const float *x, int n, float *probs) {
    const dl_softmax_model *M = c->model;
    int h = M->hidden, k = c->num_classes;
    float *a1 = h ? dl_learn_alloc((size_t)n * h, sizeof(float)) : NULL;
    if (h && !a1) return "out of memory";
    /* forward() on a view of the caller's buffers: probabilities land in probs. */
    work w = {.B = n, .a1 = a1, .z = probs};
    forward(M, c->num_features, k, x, n, &w);
    free(a1);
    return NULL;
}

/* ---- training ------------------------------------------------------------ */

/* One Keras Adam step on every parameter. */
static void adam(float *w, const float *g, float *m, float *v, size_t n, double lr_t, const dl_softmax_params *P) {
    float b1 = (float)P->beta1, b2 = (float)P->beta2, eps = (float)P->epsilon, lr = (float)lr_t;
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] -= lr * m[i] / (sqrtf(v[i]) + eps);
    }
}

const char *dl_softmax_train(const float *x, const int *y, int n, int d,
                             const float *xv, const int *yv, int nv,
                             const dl_softmax_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report) {
    dl_softmax_params P;
    if (params) P = *params; else dl_softmax_default_params(&P);
    if (!out) return "softmax: NULL output";
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (P.hidden < 0 || P.hidden > MAX_HIDDEN) return dl_errorf("softmax: hidden must be 0..%d (got %d)", MAX_HIDDEN, P.hidden);
    if (P.epochs < 1) return dl_errorf("softmax: epochs must be >= 1 (got %d)", P.epochs);
    if (P.batch_size < 1) return dl_errorf("softmax: batch_size must be >= 1 (got %d)", P.batch_size);
    if (!(P.lr > 0) || !isfinite(P.lr)) return dl_errorf("softmax: learning rate must be > 0 (got %g)", P.lr);
    if (!(P.beta1 >= 0 && P.beta1 < 1) || !(P.beta2 >= 0 && P.beta2 < 1) || !(P.epsilon > 0))
        return "softmax: Adam needs 0 <= beta1, beta2 < 1 and epsilon > 0";
    int K;
    const char *err = dl_learn_check_xy(x, y, n, d, &K);
    if (err) return err;
    if (nv < 0 || (nv > 0 && (!xv || !yv))) return "softmax: bad validation set";
    if (nv > 0) {
        if ((err = dl_learn_check_xy(xv, NULL, nv, d, NULL))) return dl_errorf("softmax: validation set: %s", err);
        for (int i = 0; i < nv; i++)
            if (yv[i] < 0 || yv[i] >= K)
                return dl_errorf("softmax: validation label %d at row %d outside 0..%d", yv[i], i, K - 1);
    }
    int H = P.hidden, B = P.batch_size < n ? P.batch_size : n;
    size_t n1, n2, xb_floats;
    if (!count_params((size_t)d, (size_t)H, (size_t)K, &n1, &n2) || !dl_mul((size_t)B, (size_t)d, &xb_floats))
        return dl_errorf("softmax: a head of %d x %d x %d has more than %u parameters", d, H, K, MAX_PARAMS);

    dl_classifier *c = dl_classifier_new(&dl_softmax_kind, K, d, P.standardize);
    dl_softmax_model *M = c ? (c->model = model_new(K, d, H)) : NULL;
    work w = {0};
    float *grad = NULL, *mom = NULL, *xb = NULL;
    int *order = NULL, *yb = NULL, *pv = NULL;
    if (!M) { err = dl_errorf("out of memory for a softmax head of %d x %d x %d", d, H, K); goto done; }
    if ((err = work_alloc(&w, B, d, H, K))) goto done;
    grad = dl_learn_alloc(M->num_params, sizeof(float));
    mom = dl_learn_alloc(M->num_params, 2 * sizeof(float));   /* m then v */
    xb = dl_learn_alloc(xb_floats, sizeof(float));
    order = dl_learn_alloc((size_t)n, sizeof(int));
    yb = dl_learn_alloc((size_t)B, sizeof(int));
    pv = dl_learn_alloc((size_t)(nv ? nv : 1), sizeof(int));
    if (report) {
        report->epochs = P.epochs;
        report->loss = dl_learn_alloc((size_t)P.epochs, sizeof(double));
        report->train_acc = dl_learn_alloc((size_t)P.epochs, sizeof(double));
        report->val_acc = dl_learn_alloc((size_t)P.epochs, sizeof(double));
    }
    if (!grad || !mom || !xb || !order || !yb || !pv ||
        (report && (!report->loss || !report->train_acc || !report->val_acc))) {
        err = "out of memory";
        goto done;
    }
    if (P.standardize && (err = dl_standardize_fit(x, n, d, c->mean, c->std))) goto done;

    dl_rng rng;
    dl_rng_seed(&rng, P.seed);
    int in2 = H ? H : d;
    if (H) dl_glorot_uniform(&rng, M->w1, (size_t)d * H, (size_t)d, (size_t)H);
    dl_glorot_uniform(&rng, M->w2, (size_t)in2 * K, (size_t)in2, (size_t)K);
    repack(M, d, K);
    for (int i = 0; i < n; i++) order[i] = i;
    long t = 0;
    for (int ep = 0; ep < P.epochs; ep++) {
        dl_rng_shuffle(&rng, order, n);
        double loss_sum = 0;
        long correct = 0;
        for (int b0 = 0; b0 < n; b0 += B) {
            int m = n - b0 < B ? n - b0 : B;
            for (int i = 0; i < m; i++) {
                int r = order[b0 + i];
                dl_standardize_row(x + (size_t)r * d, c->mean, c->std, d, xb + (size_t)i * d);
                yb[i] = y[r];
            }
            loss_grad(M, d, K, xb, yb, m, &w, &loss_sum, &correct, grad);
            t++;
            double lr_t = P.lr * sqrt(1 - pow(P.beta2, (double)t)) / (1 - pow(P.beta1, (double)t));
            adam(M->params, grad, mom, mom + M->num_params, M->num_params, lr_t, &P);
            repack(M, d, K);
        }
        double val_acc = -1;
        if (nv > 0) {
            if ((err = dl_classifier_predict(c, xv, nv, pv, NULL))) goto done;
            long ok = 0;
            for (int i = 0; i < nv; i++) ok += pv[i] == yv[i];
            val_acc = (double)ok / nv;
        }
        dl_learn_progress pr = {"softmax", ep + 1, P.epochs, t, loss_sum / n, (double)correct / n, val_acc};
        if (!isfinite(pr.loss) || !isfinite(M->params[0])) {
            err = dl_errorf("softmax: loss diverged at epoch %d (lower the learning rate)", ep + 1);
            goto done;
        }
        if (report) { report->loss[ep] = pr.loss; report->train_acc[ep] = pr.train_acc; report->val_acc[ep] = val_acc; }
        if (progress && progress(user, &pr)) { err = DL_CANCELLED; goto done; }
    }
done:
    work_free(&w);
    free(grad); free(mom); free(xb); free(order); free(yb); free(pv);
    if (err) {
        dl_classifier_free(c);
        dl_train_report_free(report);
        return err;
    }
    *out = c;
    return NULL;
}

/* ---- the kind: file payload, parameters ----------------------------------- */

static uint32_t softmax_file_param(const dl_classifier *c) {
    return (uint32_t)((const dl_softmax_model *)c->model)->hidden;
}

/* Payload: the parameters in the model's order (hidden > 0: w1 f32[d][h],
 * b1 f32[h]; then w2 f32[h or d][K], b2 f32[K]). */
static const char *softmax_payload_size(size_t k, size_t d, uint32_t hidden, size_t *bytes) {
    if (hidden > MAX_HIDDEN) return dl_errorf("bad softmax hidden size %u (at most %d)", hidden, MAX_HIDDEN);
    size_t n1, n2, total;
    if (!count_params(d, hidden, k, &n1, &n2) || !dl_add(n1, n2, &total) || !dl_mul(total, sizeof(float), bytes))
        return dl_errorf("softmax head of %zu x %u x %zu: more than %u parameters", d, hidden, k, MAX_PARAMS);
    return NULL;
}

static const char *softmax_read(dl_classifier *c, uint32_t hidden, dl_clf_bytes *in) {
    dl_softmax_model *m = model_new(c->num_classes, c->num_features, (int)hidden);
    if (!m) return "out of memory";
    c->model = m;
    if (!dl_clf_get_f32s(in, m->params, m->num_params)) return "non-finite weights";
    repack(m, c->num_features, c->num_classes);
    return NULL;
}

static void softmax_write(const dl_classifier *c, dl_clf_bytes *out) {
    const dl_softmax_model *m = c->model;
    dl_clf_put_f32s(out, m->params, m->num_params);
}

enum { P_HIDDEN, P_EPOCHS, P_BATCH_SIZE, P_LR, P_STANDARDIZE, P_SEED, P_VAL, NUM_PARAMS };
static const dl_param_spec softmax_params[NUM_PARAMS] = {
    [P_HIDDEN] = {"hidden", DL_PARAM_INT, 128, 0, MAX_HIDDEN, 0, "units of the relu layer; 0: softmax regression"},
    [P_EPOCHS] = {"epochs", DL_PARAM_INT, 10, 1, 1e6, 0, "passes over the training set"},
    [P_BATCH_SIZE] = {"batch_size", DL_PARAM_INT, 32, 1, 1 << 20, 0, "rows per Adam step"},
    [P_LR] = {"lr", DL_PARAM_REAL, 1e-3, 0, 10, 1, "Adam learning rate"},
    [P_STANDARDIZE] = {"standardize", DL_PARAM_INT, 1, 0, 1, 0, "1: standardise features on the training set"},
    [P_SEED] = {"seed", DL_PARAM_INT, 1, 0, 9007199254740991.0, 0, "seed of the initial weights and the shuffling"},
    [P_VAL] = {"val", DL_PARAM_REAL, 0, 0, 0.5, 0, "fraction of the training rows held out for validation (Keras validation_split: the last ones)"},
};

static dl_softmax_params params_from(const double *v) {
    return (dl_softmax_params){
        .hidden = (int)v[P_HIDDEN], .epochs = (int)v[P_EPOCHS], .batch_size = (int)v[P_BATCH_SIZE], .lr = v[P_LR],
        .beta1 = 0.9, .beta2 = 0.999, .epsilon = 1e-7,   /* Keras' Adam */
        .standardize = (int)v[P_STANDARDIZE], .seed = (uint64_t)v[P_SEED],
    };
}

void dl_softmax_default_params(dl_softmax_params *p) {
    double v[NUM_PARAMS];
    dl_param_defaults(softmax_params, NUM_PARAMS, v);
    *p = params_from(v);
}

static const char *softmax_fit(const float *x, const int *y, int n, int d, const double *v,
                               dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_softmax_params p = params_from(v);
    /* Keras' validation_split: the last rows, before any shuffling; the rest train. */
    int n_train = (int)floor((double)n * (1.0 - v[P_VAL]));
    if (n_train < 1) return dl_errorf("softmax: val %g leaves no training row of %d", v[P_VAL], n);
    int nv = n - n_train;
    return dl_softmax_train(x, y, n_train, d, nv ? x + (size_t)n_train * d : NULL, nv ? y + n_train : NULL, nv,
                            &p, progress, user, out, report);
}

const dl_classifier_kind dl_softmax_kind = {
    "softmax", 3, "[Dense(hidden, relu) ->] Dense(classes, softmax), trained with Adam as Keras does",
    softmax_params, NUM_PARAMS, softmax_fit, softmax_scores, softmax_file_param,
    softmax_payload_size, softmax_read, softmax_write, model_free,
};
