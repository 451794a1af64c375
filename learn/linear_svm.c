/* linear_svm.c — see linear_svm.h. Variable names follow LIBLINEAR's
 * solve_l2r_l1l2_svc so the two can be read side by side. */
#include "learn/linear_svm.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Standardisation without a standardised copy of X: with r = 1/std the
 * solver keeps u = w * r (elementwise) and c = u . mean, so that
 *   w . ((x - mean) * r) = u . x - c        (a plain dot product), and
 *   w += delta (x - mean) r  <=>  u += delta (x - mean) r^2,
 *                                 c += delta s_i,  s_i = sum_j (x_j - mean_j) r_j^2 mean_j.
 * c is recomputed exactly at every outer iteration; w = u * std at the end. */
typedef struct {
    dl_rows x;                 /* raw rows, float32 or float16 */
    float *scratch;            /* one row as float32 (float16 rows are converted into it) */
    int n, d;
    float bias;                /* 0: no bias feature */
    const float *r2, *mr2;     /* r^2 and mean * r^2, or NULL: no standardisation */
    const double *s;           /* s_i (see above) */
} lin_data;

/* Row i as float32 (read once per coordinate step: the dot product and the update share it). */
static const float *row(const lin_data *D, int i) { return dl_rows_row(&D->x, i, D->scratch); }

static void prefetch_row(const lin_data *D, int i) {
#if defined(__GNUC__) && !defined(__wasm__)
    const char *p = dl_rows_at(&D->x, i);
    for (size_t b = 0; b < (size_t)D->d * (D->x.f16 ? 2 : sizeof(float)); b += 64) __builtin_prefetch(p + b);
#else
    (void)D; (void)i;
#endif
}

/* u has d + 1 entries: the feature part, then the bias weight. */
static double wx(const lin_data *D, const float *u, double c, const float *xi) {
    return (double)f32_dot((size_t)D->d, u, xi) - c + (double)u[D->d] * D->bias;
}

static void update(const lin_data *D, float *u, double *c, int i, const float *xi, float delta) {
    if (D->r2) {
        for (int j = 0; j < D->d; j++) u[j] += delta * (xi[j] * D->r2[j] - D->mr2[j]);
        *c += delta * D->s[i];
    } else {
        f32_axpy((size_t)D->d, delta, xi, u);
    }
    u[D->d] += delta * D->bias;
}

/* c = u . mean, recomputed exactly (the incremental updates drift in float). */
static double offset(const lin_data *D, const float *u, const float *mean) {
    double c = 0;
    if (mean) for (int j = 0; j < D->d; j++) c += (double)u[j] * mean[j];
    return c;
}

static const char *solve_one(const lin_data *D, const float *mean, const int *label, int cls, const double *xnorm,
                             const dl_linear_svm_params *P, dl_rng *rng, float *u,
                             double *alpha, int *index, signed char *yy,
                             dl_learn_progress_fn progress, void *user, int num_classes,
                             long *out_iter, double *out_obj, double *out_primal, int *out_nsv) {
    int l = D->n, d = D->d;
    double C = P->C;
    /* L2 loss: diag = 0.5/C, no upper bound; L1 loss: diag 0, upper bound C. */
    double diag = P->loss == 2 ? 0.5 / C : 0.0;
    double upper = P->loss == 2 ? INFINITY : C;
    double PGmax_old = INFINITY, PGmin_old = -INFINITY;
    int active_size = l, iter = 0;

    memset(u, 0, sizeof(float) * (size_t)(d + 1));
    double c = 0;
    for (int i = 0; i < l; i++) {
        alpha[i] = 0;
        yy[i] = label[i] == cls ? 1 : -1;
        index[i] = i;
    }
    while (iter < P->max_iter) {
        double PGmax_new = -INFINITY, PGmin_new = INFINITY;
        for (int i = 0; i < active_size; i++) {
            int j = i + (int)dl_rng_below(rng, (uint32_t)(active_size - i));
            int t = index[i]; index[i] = index[j]; index[j] = t;
        }
        c = offset(D, u, mean);
        for (int s = 0; s < active_size; s++) {
            int i = index[s];
            int yi = yy[i];
            if (s + 1 < active_size) prefetch_row(D, index[s + 1]);
            const float *xi = row(D, i);
            double G = yi * wx(D, u, c, xi) - 1 + alpha[i] * diag;
            double PG = 0;
            if (alpha[i] == 0) {
                if (G > PGmax_old) {
                    active_size--;
                    index[s] = index[active_size]; index[active_size] = i;
                    s--;
                    continue;
                } else if (G < 0) PG = G;
            } else if (alpha[i] == upper) {
                if (G < PGmin_old) {
                    active_size--;
                    index[s] = index[active_size]; index[active_size] = i;
                    s--;
                    continue;
                } else if (G > 0) PG = G;
            } else PG = G;
            if (PG > PGmax_new) PGmax_new = PG;
            if (PG < PGmin_new) PGmin_new = PG;
            if (fabs(PG) > 1.0e-12) {
                double alpha_old = alpha[i];
                double a = alpha[i] - G / (xnorm[i] + diag);
                alpha[i] = a < 0 ? 0 : a > upper ? upper : a;
                update(D, u, &c, i, xi, (float)((alpha[i] - alpha_old) * yi));
            }
        }
        iter++;
        if (progress) {
            dl_learn_progress pr = {"linear-svm", cls, num_classes, iter, 0, 0, -1, -1};
            if (progress(user, &pr)) return DL_CANCELLED;
        }
        if (PGmax_new - PGmin_new <= P->eps) {
            if (active_size == l) break;
            active_size = l;   /* re-check every variable before stopping */
            PGmax_old = INFINITY;
            PGmin_old = -INFINITY;
            continue;
        }
        PGmax_old = PGmax_new;
        PGmin_old = PGmin_new;
        if (PGmax_old <= 0) PGmax_old = INFINITY;
        if (PGmin_old >= 0) PGmin_old = -INFINITY;
    }

    /* LIBLINEAR's "Objective value": 0.5 w'w + 0.5 diag a'a - sum a, with w
     * in the standardised space (w_j = u_j / r_j). */
    double ww = (double)u[d] * u[d], v = 0, loss = 0;
    int nsv = 0;
    for (int j = 0; j < d; j++) ww += D->r2 ? (double)u[j] * u[j] / D->r2[j] : (double)u[j] * u[j];
    for (int i = 0; i < l; i++) {
        v += alpha[i] * (alpha[i] * diag - 2);
        if (alpha[i] > 0) nsv++;
    }
    c = offset(D, u, mean);
    for (int i = 0; i < l; i++) {
        double m = 1 - yy[i] * wx(D, u, c, row(D, i));
        if (m > 0) loss += P->loss == 2 ? m * m : m;
    }
    *out_iter = iter;
    *out_obj = (ww + v) / 2;
    *out_primal = ww / 2 + C * loss;
    *out_nsv = nsv;
    return NULL;
}

static void model_free(void *model) {
    dl_linear_svm_model *m = model;
    free(m->w);
    free(m);
}

static dl_linear_svm_model *model_new(int k, int d) {
    dl_linear_svm_model *m = dl_learn_alloc(1, sizeof *m);
    if (m && !(m->w = dl_learn_alloc((size_t)k * ((size_t)d + 1), sizeof(float)))) { free(m); m = NULL; }
    return m;
}

const char *dl_linear_svm_train(const float *x, const int *y, int n, int d,
                                const dl_linear_svm_params *params,
                                dl_learn_progress_fn progress, void *user,
                                dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_linear_svm_train_rows(&rows, y, params, progress, user, out, report);
}

const char *dl_linear_svm_train_rows(const dl_rows *x, const int *y, const dl_linear_svm_params *params,
                                     dl_learn_progress_fn progress, void *user,
                                     dl_classifier **out, dl_train_report *report) {
    int n = x->n, d = x->d;
    dl_linear_svm_params P;
    if (params) P = *params; else dl_linear_svm_default_params(&P);
    if (!out) return "linear-svm: NULL output";
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (!(P.C > 0) || !isfinite(P.C)) return dl_errorf("linear-svm: C must be > 0 (got %g)", P.C);
    if (P.loss != 1 && P.loss != 2) return dl_errorf("linear-svm: loss must be 1 (hinge) or 2 (squared hinge), got %d", P.loss);
    if (!(P.eps > 0)) return dl_errorf("linear-svm: eps must be > 0 (got %g)", P.eps);
    if (P.max_iter < 1) return dl_errorf("linear-svm: max_iter must be >= 1 (got %d)", P.max_iter);
    if (!isfinite(P.bias)) return "linear-svm: bias must be finite";
    int K;
    const char *err = dl_learn_check_rows(x, y, &K);
    if (err) return err;

    dl_classifier *c = dl_classifier_new(&dl_linear_svm_kind, K, d, P.standardize);
    if (c && !(c->model = model_new(K, d))) { dl_classifier_free(c); c = NULL; }
    double *alpha = dl_learn_alloc((size_t)n, sizeof(double));
    double *xnorm = dl_learn_alloc((size_t)n, sizeof(double));
    int *index = dl_learn_alloc((size_t)n, sizeof(int));
    signed char *yy = dl_learn_alloc((size_t)n, 1);
    float *r2 = dl_learn_alloc((size_t)d * 2, sizeof(float)), *mr2 = r2 ? r2 + d : NULL;
    double *srow = dl_learn_alloc((size_t)n, sizeof(double));
    float *xs = dl_learn_alloc((size_t)d, sizeof(float)), *scratch = dl_learn_alloc((size_t)d, sizeof(float));
    if (report) {
        report->num_problems = K;
        report->iterations = dl_learn_alloc((size_t)K, sizeof(long));
        report->objective = dl_learn_alloc((size_t)K, sizeof(double));
        report->primal = dl_learn_alloc((size_t)K, sizeof(double));
        report->nsv = dl_learn_alloc((size_t)K, sizeof(int));
    }
    if (!c || !alpha || !xnorm || !index || !yy || !r2 || !srow || !xs || !scratch ||
        (report && (!report->iterations || !report->objective || !report->primal || !report->nsv))) {
        err = "out of memory";
        goto done;
    }
    if (P.standardize && (err = dl_standardize_fit_rows(x, c->mean, c->std))) goto done;

    lin_data D = {*x, scratch, n, d, P.bias > 0 ? (float)P.bias : 0.0f, NULL, NULL, srow};
    if (P.standardize) {
        for (int j = 0; j < d; j++) {
            double r = 1.0 / c->std[j];
            r2[j] = (float)(r * r);
            mr2[j] = (float)(c->mean[j] * r * r);
        }
        D.r2 = r2; D.mr2 = mr2;
    }
    for (int i = 0; i < n; i++) {   /* QD without the diagonal term: ||x_i||^2 (+ bias^2); and s_i */
        dl_standardize_row(dl_rows_row(x, i, xs), c->mean, c->std, d, xs);
        double q = 0, si = 0;
        for (int j = 0; j < d; j++) q += (double)xs[j] * xs[j];
        if (P.standardize)
            for (int j = 0; j < d; j++) si += (double)xs[j] / c->std[j] * c->mean[j];
        xnorm[i] = q + (double)D.bias * D.bias;
        srow[i] = si;
    }
    dl_rng rng;
    dl_rng_seed(&rng, P.seed);
    for (int k = 0; k < K; k++) {
        long it; double obj, primal; int nsv;
        float *w = ((dl_linear_svm_model *)c->model)->w + (size_t)k * (d + 1);
        err = solve_one(&D, c->mean, y, k, xnorm, &P, &rng, w, alpha, index, yy, progress, user, K,
                        &it, &obj, &primal, &nsv);
        if (err) goto done;
        if (P.standardize)   /* u = w / std -> w */
            for (int j = 0; j < d; j++) w[j] *= c->std[j];
        w[d] *= D.bias;   /* fold the bias feature value into the stored weight */
        if (report) {
            report->iterations[k] = it; report->objective[k] = obj;
            report->primal[k] = primal; report->nsv[k] = nsv;
        }
    }
done:
    free(alpha); free(xnorm); free(index); free(yy); free(r2); free(srow); free(xs); free(scratch);
    return dl_fit_finish(err, c, out, report);
}

/* ---- the kind: decision values, file payload, parameters ----------------- */

static const char *linear_scores(const dl_classifier *c, const float *x, int n, float *scores) {
    const float *W = ((const dl_linear_svm_model *)c->model)->w;
    int d = c->num_features, k = c->num_classes;
    for (int i = 0; i < n; i++)
        for (int m = 0; m < k; m++) {
            const float *w = W + (size_t)m * (d + 1);
            scores[(size_t)i * k + m] = f32_dot((size_t)d, w, x + (size_t)i * d) + w[d];
        }
    return NULL;
}

static uint32_t linear_file_param(const dl_classifier *c) { (void)c; return 0; }

/* Payload: w f32[K][d+1] (last column: bias weight * bias value). */
static const char *linear_payload_size(size_t k, size_t d, uint32_t param, size_t *bytes) {
    if (param != 0) return dl_errorf("bad linear-svm parameter %u (expected 0)", param);
    size_t d1;
    if (!dl_add(d, 1, &d1) || !dl_bytes(k, d1, sizeof(float), 0, bytes)) return "linear-svm: too large for this platform";
    return NULL;
}

static const char *linear_read(dl_classifier *c, uint32_t param, dl_clf_bytes *in) {
    (void)param;
    dl_linear_svm_model *m = model_new(c->num_classes, c->num_features);
    if (!m) return "out of memory";
    c->model = m;
    if (!dl_clf_get_f32s(in, m->w, (size_t)c->num_classes * ((size_t)c->num_features + 1))) return "non-finite weights";
    return NULL;
}

static void linear_write(const dl_classifier *c, dl_clf_bytes *out) {
    dl_clf_put_f32s(out, ((const dl_linear_svm_model *)c->model)->w, (size_t)c->num_classes * ((size_t)c->num_features + 1));
}

enum { P_C, P_LOSS, P_EPS, P_MAX_ITER, P_BIAS, P_STANDARDIZE, P_SEED, NUM_PARAMS };
static const dl_param_spec linear_params[NUM_PARAMS] = {
    [P_C] = {"C", DL_PARAM_REAL, 1, 0, 1e12, 1, "regularisation: larger C fits the training set harder"},
    [P_LOSS] = {"loss", DL_PARAM_INT, 2, 1, 2, 0, "2: squared hinge (LIBLINEAR -s 1), 1: hinge (-s 3)"},
    [P_EPS] = {"eps", DL_PARAM_REAL, 0.1, 0, 1e6, 1, "stopping tolerance (LIBLINEAR -e)"},
    [P_MAX_ITER] = {"max_iter", DL_PARAM_INT, 1000, 1, 1e9, 0, "outer iterations per class"},
    [P_BIAS] = {"bias", DL_PARAM_REAL, 1, 0, 1e6, 0, "value of the bias feature (LIBLINEAR -B); 0: none"},
    [P_STANDARDIZE] = {"standardize", DL_PARAM_INT, 1, 0, 1, 0, "1: standardise features on the training set"},
    [P_SEED] = {"seed", DL_PARAM_INT, 1, 0, 9007199254740991.0, 0, "seed of the random permutations"},
};

static dl_linear_svm_params params_from(const double *v) {
    return (dl_linear_svm_params){
        .C = v[P_C], .loss = (int)v[P_LOSS], .eps = v[P_EPS], .max_iter = (int)v[P_MAX_ITER],
        .bias = v[P_BIAS], .standardize = (int)v[P_STANDARDIZE], .seed = (uint64_t)v[P_SEED],
    };
}

void dl_linear_svm_default_params(dl_linear_svm_params *p) {
    double v[NUM_PARAMS];
    dl_param_defaults(linear_params, NUM_PARAMS, v);
    *p = params_from(v);
}

static const char *linear_fit(const float *x, const int *y, int n, int d, const double *v,
                              dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_linear_svm_params p = params_from(v);
    return dl_linear_svm_train(x, y, n, d, &p, progress, user, out, report);
}

static const char *linear_fit_rows(const dl_rows *x, const int *y, const double *v,
                                   dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_linear_svm_params p = params_from(v);
    return dl_linear_svm_train_rows(x, y, &p, progress, user, out, report);
}

const dl_classifier_kind dl_linear_svm_kind = {
    "linear-svm", 1, "one-vs-rest linear SVM (LIBLINEAR's dual coordinate descent)",
    linear_params, NUM_PARAMS, linear_fit, linear_scores, linear_file_param,
    linear_payload_size, linear_read, linear_write, model_free, linear_fit_rows,
};
