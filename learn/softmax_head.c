/* softmax_head.c — see softmax_head.h. The model is a dl_head over one
 * block of parameters; training is dl_fit_loop_run (learn/head.h) with the
 * rows standardised as they are gathered into each batch. */
#include "learn/softmax_head.h"
#include "learn/head.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HIDDEN 65536
#define MAX_PARAMS (1u << 26)   /* 256 MB of weights, 768 MB with Adam's moments */

/* ---- the model ----------------------------------------------------------- */

static void model_free(void *model) {
    dl_softmax_model *m = model;
    free(m->params); free(m->packed);
    free(m);
}

/* Parameter count of a head, checked and limited: d*h + h + in2*k + k. */
static int count_params(size_t d, size_t h, size_t k, size_t *n1, size_t *n2) {
    size_t in2 = h ? h : d, total;
    return dl_mul(d, h, n1) && dl_add(*n1, h, n1) && dl_mul(in2, k, n2) && dl_add(*n2, k, n2) &&
           dl_add(*n1, *n2, &total) && total <= MAX_PARAMS;
}

/* The model's parameters as a head (grad: the same layout over another block). */
static dl_head head_of(const dl_softmax_model *m, size_t d, size_t k, float *params) {
    size_t h = (size_t)m->hidden, in2 = h ? h : d;
    float *w2 = params + (h ? d * h + h : 0);
    return (dl_head){d, h, k, h ? params : NULL, h ? params + d * h : NULL, w2, w2 + in2 * k};
}

static dl_softmax_model *model_new(int k, int d, int h) {
    size_t n1, n2, total, packed;
    if (!count_params((size_t)d, (size_t)h, (size_t)k, &n1, &n2) || !dl_add(n1, n2, &total)) return NULL;
    dl_softmax_model *m = dl_learn_alloc(1, sizeof *m);
    if (!m) return NULL;
    m->hidden = h;
    m->num_params = total;
    if (!(m->params = dl_learn_alloc(total, sizeof(float)))) { model_free(m); return NULL; }
    dl_head H = head_of(m, (size_t)d, (size_t)k, m->params);
    if ((packed = dl_head_packed_floats(&H)) == SIZE_MAX || !(m->packed = dl_learn_alloc(packed, sizeof(float)))) {
        model_free(m);
        return NULL;
    }
    m->w1 = H.w1; m->b1 = H.b1; m->w2 = H.w2; m->b2 = H.b2;
    return m;
}

static void repack(dl_softmax_model *m, int d, int k) {
    dl_head H = head_of(m, (size_t)d, (size_t)k, m->params);
    dl_head_pack(&H, m->packed);
}

void dl_softmax_repack(dl_classifier *c) { repack(c->model, c->num_features, c->num_classes); }

/* ---- forward and backward ------------------------------------------------- */

/* A batch of up to B rows: the head's hidden units, probabilities, scratch. */
typedef struct {
    const dl_classifier *c;
    dl_head head;
    float *hid, *p, *scratch;
} batch_work;

static void work_free(batch_work *w) { free(w->hid); free(w->p); free(w->scratch); }

static const char *work_alloc(batch_work *w, const dl_classifier *c, int B) {
    const dl_softmax_model *M = c->model;
    size_t d = (size_t)c->num_features, k = (size_t)c->num_classes, hid, p, scratch;
    *w = (batch_work){c, head_of(M, d, k, M->params), NULL, NULL, NULL};
    if (!dl_mul((size_t)B, (size_t)(M->hidden ? M->hidden : 1), &hid) || !dl_mul((size_t)B, k, &p) ||
        (scratch = dl_head_scratch_floats(&w->head, (size_t)B)) == SIZE_MAX)
        return "softmax: batch too large for this platform";
    w->hid = dl_learn_alloc(hid, sizeof(float));
    w->p = dl_learn_alloc(p, sizeof(float));
    w->scratch = dl_learn_alloc(scratch, sizeof(float));
    if (!w->hid || !w->p || !w->scratch) { work_free(w); return "out of memory"; }
    return NULL;
}

/* One batch of m standardised rows: the summed loss, the correct count, and
 * grad (the model's parameter order) of the mean loss. */
static double loss_grad(void *self, const float *x, const int *y, int m, long *correct, float *grad) {
    batch_work *w = self;
    const dl_softmax_model *M = w->c->model;
    dl_head G = head_of(M, w->head.in, w->head.k, grad);
    dl_head_forward(&w->head, M->packed, x, (size_t)m, w->hid, w->p);
    *correct += dl_head_correct(w->p, y, (size_t)m, w->head.k);
    return dl_head_backward(&w->head, &G, x, w->hid, w->p, y, (size_t)m, NULL, w->scratch);
}

const char *dl_softmax_loss_grad(const dl_classifier *c, const float *x, const int *y, int m,
                                 double *loss_sum, float *grad) {
    if (!c || c->kind != &dl_softmax_kind || m < 1) return "softmax: bad arguments";
    batch_work w;
    const char *err = work_alloc(&w, c, m);
    if (err) return err;
    long correct = 0;
    *loss_sum = loss_grad(&w, x, y, m, &correct, grad);
    work_free(&w);
    return NULL;
}

static const char *softmax_scores(const dl_classifier *c, const float *x, int n, float *probs) {
    const dl_softmax_model *M = c->model;
    dl_head H = head_of(M, (size_t)c->num_features, (size_t)c->num_classes, M->params);
    size_t hid_floats;
    if (!dl_mul((size_t)n, (size_t)M->hidden, &hid_floats)) return "softmax: too many rows for this platform";
    float *hid = M->hidden ? dl_learn_alloc(hid_floats, sizeof(float)) : NULL;
    if (M->hidden && !hid) return "out of memory";
    dl_head_forward(&H, M->packed, x, (size_t)n, hid, probs);
    free(hid);
    return NULL;
}

/* ---- training ------------------------------------------------------------ */

typedef struct {
    batch_work w;
    dl_classifier *c;
    dl_rows xv;
    const int *yv;
    int nv;
    int *pv;
} fit_state;

static void updated(void *self) {
    fit_state *s = self;
    dl_softmax_repack(s->c);
}

static double fit_batch(void *self, const float *xb, const int *yb, int m, long *correct, float *grad) {
    return loss_grad(&((fit_state *)self)->w, xb, yb, m, correct, grad);
}

static const char *validate(void *self, double *val_acc, double *val_loss) {
    fit_state *s = self;
    const char *err = dl_classifier_predict_rows(s->c, &s->xv, s->pv, NULL);
    if (err) return err;
    long ok = 0;
    for (int i = 0; i < s->nv; i++) ok += s->pv[i] == s->yv[i];
    *val_acc = (double)ok / s->nv;
    *val_loss = -1;
    return NULL;
}

const char *dl_softmax_train(const float *x, const int *y, int n, int d,
                             const float *xv, const int *yv, int nv,
                             const dl_softmax_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d), val = dl_rows_f32(xv, nv, d);
    return dl_softmax_train_rows(&rows, y, &val, yv, params, progress, user, out, report);
}

const char *dl_softmax_train_rows(const dl_rows *x, const int *y, const dl_rows *xv, const int *yv,
                                  const dl_softmax_params *params, dl_learn_progress_fn progress, void *user,
                                  dl_classifier **out, dl_train_report *report) {
    int n = x->n, d = x->d, nv = xv ? xv->n : 0;
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
    const char *err = dl_learn_check_rows(x, y, &K);
    if (err) return err;
    if (nv < 0 || (nv > 0 && (!xv->data || !yv || xv->d != d || xv->f16 != x->f16))) return "softmax: bad validation set";
    if (nv > 0) {
        if ((err = dl_learn_check_rows(xv, NULL, NULL))) return dl_errorf("softmax: validation set: %s", err);
        for (int i = 0; i < nv; i++)
            if (yv[i] < 0 || yv[i] >= K)
                return dl_errorf("softmax: validation label %d at row %d outside 0..%d", yv[i], i, K - 1);
    }
    int H = P.hidden, B = P.batch_size < n ? P.batch_size : n;
    size_t n1, n2;
    if (!count_params((size_t)d, (size_t)H, (size_t)K, &n1, &n2))
        return dl_errorf("softmax: a head of %d x %d x %d has more than %u parameters", d, H, K, MAX_PARAMS);

    dl_classifier *c = dl_classifier_new(&dl_softmax_kind, K, d, P.standardize);
    dl_softmax_model *M = c ? (c->model = model_new(K, d, H)) : NULL;
    fit_state s = {.c = c, .xv = nv ? *xv : dl_rows_slice(x, 0, 0), .yv = yv, .nv = nv};
    if (!M) { err = dl_errorf("out of memory for a softmax head of %d x %d x %d", d, H, K); goto done; }
    if ((err = work_alloc(&s.w, c, B))) goto done;
    if (!(s.pv = dl_learn_alloc((size_t)(nv ? nv : 1), sizeof(int)))) { err = "out of memory"; goto done; }
    if (P.standardize && (err = dl_standardize_fit_rows(x, c->mean, c->std))) goto done;

    dl_rng rng;
    dl_rng_seed(&rng, P.seed);
    int in2 = H ? H : d;
    if (H) dl_glorot_uniform(&rng, M->w1, (size_t)d * H, (size_t)d, (size_t)H);
    dl_glorot_uniform(&rng, M->w2, (size_t)in2 * K, (size_t)in2, (size_t)K);
    dl_fit_loop loop = {
        .phase = "softmax", .params = M->params, .num_params = M->num_params,
        .epochs = P.epochs, .batch_size = P.batch_size, .patience = 0,
        .lr = P.lr, .beta1 = P.beta1, .beta2 = P.beta2, .epsilon = P.epsilon,
        .mean = c->mean, .std = c->std, .self = &s,
        .batch = fit_batch, .updated = updated, .validate = nv > 0 ? validate : NULL,
    };
    err = dl_fit_loop_run_rows(&loop, x, y, &rng, progress, user, report);
done:
    work_free(&s.w);
    free(s.pv);
    return dl_fit_finish(err, c, out, report);
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

static const char *softmax_fit_rows(const dl_rows *x, const int *y, const double *v,
                                    dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_softmax_params p = params_from(v);
    /* Keras' validation_split: the last rows, before any shuffling; the rest train. */
    int n = x->n, n_train = (int)floor((double)n * (1.0 - v[P_VAL]));
    if (n_train < 1) return dl_errorf("softmax: val %g leaves no training row of %d", v[P_VAL], n);
    int nv = n - n_train;
    dl_rows train = dl_rows_slice(x, 0, n_train), val = dl_rows_slice(x, n_train, nv);
    return dl_softmax_train_rows(&train, y, &val, nv ? y + n_train : NULL, &p, progress, user, out, report);
}

static const char *softmax_fit(const float *x, const int *y, int n, int d, const double *v,
                               dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return softmax_fit_rows(&rows, y, v, progress, user, out, report);
}

const dl_classifier_kind dl_softmax_kind = {
    "softmax", 3, "[Dense(hidden, relu) ->] Dense(classes, softmax), trained with Adam as Keras does",
    softmax_params, NUM_PARAMS, softmax_fit, softmax_scores, softmax_file_param,
    softmax_payload_size, softmax_read, softmax_write, model_free, softmax_fit_rows,
};
