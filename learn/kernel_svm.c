/* kernel_svm.c — see kernel_svm.h. A C port of LIBSVM 3.24's Cache, SVC_Q
 * and Solver (C-SVC only: p_i = -1, y_i = +-1, Cp = Cn = C); names follow
 * LIBSVM so the two can be read side by side. */
#include "learn/kernel_svm.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAU 1e-12

double dl_rbf_gamma_scale(const float *x, int n, int d) {
    size_t N = (size_t)n * d;
    double s = 0, s2 = 0;
    for (size_t i = 0; i < N; i++) s += x[i];
    double mean = s / N;
    for (size_t i = 0; i < N; i++) { double t = x[i] - mean; s2 += t * t; }
    double var = s2 / N;
    return var > 0 ? 1.0 / (d * var) : 1.0;
}

/* ---- LRU cache of kernel columns (LIBSVM's Cache) ------------------------ */

typedef struct head { struct head *prev, *next; float *data; int len; } head_t;
typedef struct {
    int l;
    long size;          /* free space, in floats */
    head_t *head;
    head_t lru_head;
} cache_t;

static int cache_init(cache_t *c, int l, double bytes) {
    c->l = l;
    c->head = dl_learn_alloc((size_t)l, sizeof(head_t));
    if (!c->head) return 0;
    double sz = bytes / sizeof(float) - (double)l * sizeof(head_t) / sizeof(float);
    if (sz > (double)(LONG_MAX / 4)) sz = (double)(LONG_MAX / 4);   /* long is 32-bit in WASM */
    c->size = (long)sz;
    if (c->size < 2L * l) c->size = 2L * l;   /* room for two columns at least */
    c->lru_head.next = c->lru_head.prev = &c->lru_head;
    return 1;
}

static void cache_free(cache_t *c) {
    if (!c->head) return;
    for (head_t *h = c->lru_head.next; h != &c->lru_head; h = h->next) free(h->data);
    free(c->head);
    c->head = NULL;
}

static void lru_delete(head_t *h) { h->prev->next = h->next; h->next->prev = h->prev; }
static void lru_insert(cache_t *c, head_t *h) {
    h->next = &c->lru_head; h->prev = c->lru_head.prev;
    h->prev->next = h; h->next->prev = h;
}

/* Column `index`, entries [0, len): returns where filling must start
 * (>= len if all cached), or -1 if out of memory. */
static int cache_get(cache_t *c, int index, float **data, int len) {
    head_t *h = &c->head[index];
    if (h->len) lru_delete(h);
    int more = len - h->len;
    if (more > 0) {
        while (c->size < more) {
            head_t *old = c->lru_head.next;
            lru_delete(old);
            free(old->data);
            c->size += old->len;
            old->data = NULL; old->len = 0;
        }
        float *p = realloc(h->data, sizeof(float) * (size_t)len);
        if (!p) { if (h->len) lru_insert(c, h); return -1; }
        h->data = p;
        c->size -= more;
        int t = h->len; h->len = len; len = t;
    }
    lru_insert(c, h);
    *data = h->data;
    return len;
}

static void cache_swap_index(cache_t *c, int i, int j) {
    if (i == j) return;
    head_t *hi = &c->head[i], *hj = &c->head[j];
    if (hi->len) lru_delete(hi);
    if (hj->len) lru_delete(hj);
    float *td = hi->data; hi->data = hj->data; hj->data = td;
    int tl = hi->len; hi->len = hj->len; hj->len = tl;
    if (hi->len) lru_insert(c, hi);
    if (hj->len) lru_insert(c, hj);
    if (i > j) { int t = i; i = j; j = t; }
    for (head_t *h = c->lru_head.next; h != &c->lru_head;) {
        head_t *next = h->next;
        if (h->len > i) {
            if (h->len > j) { float t = h->data[i]; h->data[i] = h->data[j]; h->data[j] = t; }
            else {   /* give up on a column that holds i but not j */
                lru_delete(h);
                free(h->data);
                c->size += h->len;
                h->data = NULL; h->len = 0;
            }
        }
        h = next;
    }
}

/* ---- Solver (LIBSVM's Solver + SVC_Q for the RBF kernel) ---------------- */

enum { LOWER_BOUND, UPPER_BOUND, FREE };

typedef struct {
    int l, d, active_size, unshrink;
    double C, eps, gamma;
    const float **x;     /* rows (permuted by shrinking) */
    float *x_square;     /* ||x_i||^2 */
    signed char *y;
    char *alpha_status;
    double *alpha, *G, *G_bar, *QD;
    int *active_set;
    cache_t cache;
    int oom;
} solver;

static float *get_Q(solver *s, int i, int len) {
    float *data;
    int start = cache_get(&s->cache, i, &data, len);
    if (start < 0) { s->oom = 1; return NULL; }
    const float *xi = s->x[i];
    double sqi = s->x_square[i];
    for (int j = start; j < len; j++) {
        double dist = sqi + s->x_square[j] - 2.0 * f32_dot((size_t)s->d, xi, s->x[j]);
        data[j] = (float)(s->y[i] * s->y[j] * exp(-s->gamma * dist));
    }
    return data;
}

static void update_alpha_status(solver *s, int i) {
    s->alpha_status[i] = s->alpha[i] >= s->C ? UPPER_BOUND : s->alpha[i] <= 0 ? LOWER_BOUND : FREE;
}
#define is_upper_bound(i) (s->alpha_status[i] == UPPER_BOUND)
#define is_lower_bound(i) (s->alpha_status[i] == LOWER_BOUND)
#define is_free(i) (s->alpha_status[i] == FREE)
#define SWAP(T, a, b) do { T t_ = (a); (a) = (b); (b) = t_; } while (0)

static void swap_index(solver *s, int i, int j) {
    cache_swap_index(&s->cache, i, j);
    SWAP(const float *, s->x[i], s->x[j]);
    SWAP(float, s->x_square[i], s->x_square[j]);
    SWAP(signed char, s->y[i], s->y[j]);
    SWAP(double, s->QD[i], s->QD[j]);
    SWAP(char, s->alpha_status[i], s->alpha_status[j]);
    SWAP(double, s->alpha[i], s->alpha[j]);
    SWAP(double, s->G[i], s->G[j]);
    SWAP(double, s->G_bar[i], s->G_bar[j]);
    SWAP(int, s->active_set[i], s->active_set[j]);
}

static void reconstruct_gradient(solver *s) {
    /* reconstruct inactive elements of G from G_bar and free variables */
    int l = s->l, as = s->active_size, nr_free = 0;
    if (as == l) return;
    for (int j = as; j < l; j++) s->G[j] = s->G_bar[j] - 1.0;
    for (int j = 0; j < as; j++) if (is_free(j)) nr_free++;
    if ((double)nr_free * l > 2.0 * as * (l - as)) {
        for (int i = as; i < l; i++) {
            const float *Q_i = get_Q(s, i, as);
            if (!Q_i) return;
            for (int j = 0; j < as; j++) if (is_free(j)) s->G[i] += s->alpha[j] * Q_i[j];
        }
    } else {
        for (int i = 0; i < as; i++)
            if (is_free(i)) {
                const float *Q_i = get_Q(s, i, l);
                if (!Q_i) return;
                double alpha_i = s->alpha[i];
                for (int j = as; j < l; j++) s->G[j] += alpha_i * Q_i[j];
            }
    }
}

/* WSS3: returns 1 if optimal (within eps), else the pair in *out_i, *out_j. */
static int select_working_set(solver *s, int *out_i, int *out_j) {
    double Gmax = -INFINITY, Gmax2 = -INFINITY, obj_diff_min = INFINITY;
    int Gmax_idx = -1, Gmin_idx = -1;
    for (int t = 0; t < s->active_size; t++)
        if (s->y[t] == +1) {
            if (!is_upper_bound(t) && -s->G[t] >= Gmax) { Gmax = -s->G[t]; Gmax_idx = t; }
        } else {
            if (!is_lower_bound(t) && s->G[t] >= Gmax) { Gmax = s->G[t]; Gmax_idx = t; }
        }
    int i = Gmax_idx;
    const float *Q_i = NULL;
    if (i != -1) { Q_i = get_Q(s, i, s->active_size); if (!Q_i) return 1; }
    for (int j = 0; j < s->active_size; j++) {
        if (s->y[j] == +1) {
            if (!is_lower_bound(j)) {
                double grad_diff = Gmax + s->G[j];
                if (s->G[j] >= Gmax2) Gmax2 = s->G[j];
                if (grad_diff > 0) {
                    double quad_coef = s->QD[i] + s->QD[j] - 2.0 * s->y[i] * Q_i[j];
                    double obj_diff = -(grad_diff * grad_diff) / (quad_coef > 0 ? quad_coef : TAU);
                    if (obj_diff <= obj_diff_min) { Gmin_idx = j; obj_diff_min = obj_diff; }
                }
            }
        } else {
            if (!is_upper_bound(j)) {
                double grad_diff = Gmax - s->G[j];
                if (-s->G[j] >= Gmax2) Gmax2 = -s->G[j];
                if (grad_diff > 0) {
                    double quad_coef = s->QD[i] + s->QD[j] + 2.0 * s->y[i] * Q_i[j];
                    double obj_diff = -(grad_diff * grad_diff) / (quad_coef > 0 ? quad_coef : TAU);
                    if (obj_diff <= obj_diff_min) { Gmin_idx = j; obj_diff_min = obj_diff; }
                }
            }
        }
    }
    if (Gmax + Gmax2 < s->eps || Gmin_idx == -1) return 1;
    *out_i = Gmax_idx;
    *out_j = Gmin_idx;
    return 0;
}

static int be_shrunk(solver *s, int i, double Gmax1, double Gmax2) {
    if (is_upper_bound(i)) return s->y[i] == +1 ? -s->G[i] > Gmax1 : -s->G[i] > Gmax2;
    if (is_lower_bound(i)) return s->y[i] == +1 ? s->G[i] > Gmax2 : s->G[i] > Gmax1;
    return 0;
}

static void do_shrinking(solver *s) {
    double Gmax1 = -INFINITY;   /* max { -y_i * grad(f)_i | i in I_up(alpha) } */
    double Gmax2 = -INFINITY;   /* max { y_i * grad(f)_i | i in I_low(alpha) } */
    for (int i = 0; i < s->active_size; i++) {
        if (s->y[i] == +1) {
            if (!is_upper_bound(i) && -s->G[i] >= Gmax1) Gmax1 = -s->G[i];
            if (!is_lower_bound(i) && s->G[i] >= Gmax2) Gmax2 = s->G[i];
        } else {
            if (!is_upper_bound(i) && -s->G[i] >= Gmax2) Gmax2 = -s->G[i];
            if (!is_lower_bound(i) && s->G[i] >= Gmax1) Gmax1 = s->G[i];
        }
    }
    if (!s->unshrink && Gmax1 + Gmax2 <= s->eps * 10) {
        s->unshrink = 1;
        reconstruct_gradient(s);
        s->active_size = s->l;
    }
    for (int i = 0; i < s->active_size; i++)
        if (be_shrunk(s, i, Gmax1, Gmax2)) {
            s->active_size--;
            while (s->active_size > i) {
                if (!be_shrunk(s, s->active_size, Gmax1, Gmax2)) { swap_index(s, i, s->active_size); break; }
                s->active_size--;
            }
        }
}

static double calculate_rho(solver *s) {
    int nr_free = 0;
    double ub = INFINITY, lb = -INFINITY, sum_free = 0;
    for (int i = 0; i < s->active_size; i++) {
        double yG = s->y[i] * s->G[i];
        if (is_upper_bound(i)) {
            if (s->y[i] == -1) ub = fmin(ub, yG); else lb = fmax(lb, yG);
        } else if (is_lower_bound(i)) {
            if (s->y[i] == +1) ub = fmin(ub, yG); else lb = fmax(lb, yG);
        } else { nr_free++; sum_free += yG; }
    }
    return nr_free > 0 ? sum_free / nr_free : (ub + lb) / 2;
}

typedef struct { double obj, rho; long iter; } solution_info;

/* LIBSVM Solver::Solve for C-SVC from alpha = 0. On return alpha_out[k]
 * holds alpha of the k-th input point (unpermuted). */
static const char *solve(solver *s, double *alpha_out, long max_iter, int shrinking,
                         dl_learn_progress_fn progress, void *user, int step, int steps, solution_info *si) {
    int l = s->l;
    for (int i = 0; i < l; i++) {
        s->alpha[i] = 0; update_alpha_status(s, i);
        s->active_set[i] = i;
        s->G[i] = -1.0; s->G_bar[i] = 0;   /* alpha = 0: G = p = -1 */
    }
    s->active_size = l;
    s->unshrink = 0;
    long iter = 0;
    if (max_iter <= 0) max_iter = l > 100000 ? 100L * l : 10000000L;
    int counter = (l < 1000 ? l : 1000) + 1;
    const char *err = NULL;
    while (iter < max_iter) {
        if (--counter == 0) {
            counter = l < 1000 ? l : 1000;
            if (shrinking) do_shrinking(s);
            if (progress) {
                dl_learn_progress pr = {"rbf-svm", step, steps, iter, 0, 0, -1, -1};
                if (progress(user, &pr)) { err = DL_CANCELLED; break; }
            }
        }
        int i, j;
        if (select_working_set(s, &i, &j)) {
            if (s->oom) break;
            reconstruct_gradient(s);   /* reconstruct the whole gradient, check again */
            s->active_size = l;
            if (select_working_set(s, &i, &j)) break;
            counter = 1;   /* do shrinking next iteration */
        }
        ++iter;
        const float *Q_i = get_Q(s, i, s->active_size);
        const float *Q_j = Q_i ? get_Q(s, j, s->active_size) : NULL;
        if (!Q_j) break;
        double C = s->C, old_alpha_i = s->alpha[i], old_alpha_j = s->alpha[j];
        double *a = s->alpha, *G = s->G;
        if (s->y[i] != s->y[j]) {
            double quad_coef = s->QD[i] + s->QD[j] + 2 * Q_i[j];
            if (quad_coef <= 0) quad_coef = TAU;
            double delta = (-G[i] - G[j]) / quad_coef;
            double diff = a[i] - a[j];
            a[i] += delta; a[j] += delta;
            if (diff > 0) { if (a[j] < 0) { a[j] = 0; a[i] = diff; } }
            else { if (a[i] < 0) { a[i] = 0; a[j] = -diff; } }
            if (diff > 0) { if (a[i] > C) { a[i] = C; a[j] = C - diff; } }   /* C_i - C_j = 0 */
            else { if (a[j] > C) { a[j] = C; a[i] = C + diff; } }
        } else {
            double quad_coef = s->QD[i] + s->QD[j] - 2 * Q_i[j];
            if (quad_coef <= 0) quad_coef = TAU;
            double delta = (G[i] - G[j]) / quad_coef;
            double sum = a[i] + a[j];
            a[i] -= delta; a[j] += delta;
            if (sum > C) { if (a[i] > C) { a[i] = C; a[j] = sum - C; } }
            else { if (a[j] < 0) { a[j] = 0; a[i] = sum; } }
            if (sum > C) { if (a[j] > C) { a[j] = C; a[i] = sum - C; } }
            else { if (a[i] < 0) { a[i] = 0; a[j] = sum; } }
        }
        double delta_alpha_i = a[i] - old_alpha_i, delta_alpha_j = a[j] - old_alpha_j;
        for (int k = 0; k < s->active_size; k++) G[k] += Q_i[k] * delta_alpha_i + Q_j[k] * delta_alpha_j;
        int ui = is_upper_bound(i), uj = is_upper_bound(j);
        update_alpha_status(s, i);
        update_alpha_status(s, j);
        if (ui != is_upper_bound(i)) {
            Q_i = get_Q(s, i, l);
            if (!Q_i) break;
            double f = ui ? -C : C;
            for (int k = 0; k < l; k++) s->G_bar[k] += f * Q_i[k];
        }
        if (uj != is_upper_bound(j)) {
            Q_j = get_Q(s, j, l);
            if (!Q_j) break;
            double f = uj ? -C : C;
            for (int k = 0; k < l; k++) s->G_bar[k] += f * Q_j[k];
        }
    }
    if (s->oom) return "out of memory (kernel cache)";
    if (err) return err;
    if (s->active_size < l) {   /* stopped by max_iter: whole gradient for the objective */
        reconstruct_gradient(s);
        s->active_size = l;
        if (s->oom) return "out of memory (kernel cache)";
    }
    si->rho = calculate_rho(s);
    double v = 0;
    for (int i = 0; i < l; i++) v += s->alpha[i] * (s->G[i] - 1.0);
    si->obj = v / 2;
    si->iter = iter;
    for (int i = 0; i < l; i++) alpha_out[s->active_set[i]] = s->alpha[i];
    return NULL;
}

/* ---- the model ----------------------------------------------------------- */

static void model_free(void *model) {
    dl_rbf_svm_model *m = model;
    free(m->sv_count); free(m->sv); free(m->sv_coef); free(m->rho);
    free(m);
}

/* Sizes come from a file header too: callers have checked them with
 * payload_size (below), which bounds every product here. */
static dl_rbf_svm_model *model_new(int k, int d, int total_sv) {
    dl_rbf_svm_model *m = dl_learn_alloc(1, sizeof *m);
    if (!m) return NULL;
    m->total_sv = total_sv;
    m->sv_count = dl_learn_alloc((size_t)k, sizeof(int));
    m->rho = dl_learn_alloc((size_t)k * (k - 1) / 2, sizeof(double));
    m->sv_coef = dl_learn_alloc((size_t)(k - 1) * total_sv, sizeof(double));
    m->sv = dl_learn_alloc((size_t)total_sv * d, sizeof(float));
    if (!m->sv_count || !m->rho || !m->sv_coef || !m->sv) { model_free(m); return NULL; }
    return m;
}

/* ---- one-vs-one training (LIBSVM svm_train for C-SVC) ------------------- */

const char *dl_rbf_svm_train(const float *x, const int *y, int n, int d,
                             const dl_rbf_svm_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report) {
    dl_rbf_svm_params P;
    if (params) P = *params; else dl_rbf_svm_default_params(&P);
    if (!out) return "rbf-svm: NULL output";
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (!(P.C > 0) || !isfinite(P.C)) return dl_errorf("rbf-svm: C must be > 0 (got %g)", P.C);
    if (!isfinite(P.gamma)) return "rbf-svm: gamma must be finite";
    if (!(P.tol > 0)) return dl_errorf("rbf-svm: tol must be > 0 (got %g)", P.tol);
    if (!(P.cache_mb > 0)) return dl_errorf("rbf-svm: cache_mb must be > 0 (got %g)", P.cache_mb);
    int K;
    const char *err = dl_learn_check_xy(x, y, n, d, &K);
    if (err) return err;

    int npairs = K * (K - 1) / 2;
    float *xs = NULL;              /* standardised copy, if asked */
    dl_classifier *c = NULL;
    int *count = dl_learn_alloc((size_t)K, sizeof(int)), *start = dl_learn_alloc((size_t)K + 1, sizeof(int));
    int *perm = dl_learn_alloc((size_t)n, sizeof(int));
    int *nonzero = dl_learn_alloc((size_t)n, sizeof(int));
    double *pair_alpha = dl_learn_alloc((size_t)(K - 1) * n, sizeof(double));   /* sum over pairs of ci + cj */
    double *pair_rho = dl_learn_alloc((size_t)npairs, sizeof(double));
    float *mean = NULL, *std = NULL;
    solver s = {0};
    s.x = dl_learn_alloc((size_t)n, sizeof(float *));
    s.x_square = dl_learn_alloc((size_t)n, sizeof(float));
    s.y = dl_learn_alloc((size_t)n, 1);
    s.alpha_status = dl_learn_alloc((size_t)n, 1);
    s.alpha = dl_learn_alloc((size_t)n, sizeof(double));
    s.G = dl_learn_alloc((size_t)n, sizeof(double));
    s.G_bar = dl_learn_alloc((size_t)n, sizeof(double));
    s.QD = dl_learn_alloc((size_t)n, sizeof(double));
    s.active_set = dl_learn_alloc((size_t)n, sizeof(int));
    float *sq = dl_learn_alloc((size_t)n, sizeof(float));
    if (report) {
        report->num_problems = npairs;
        report->iterations = dl_learn_alloc((size_t)npairs, sizeof(long));
        report->objective = dl_learn_alloc((size_t)npairs, sizeof(double));
        report->nsv = dl_learn_alloc((size_t)npairs, sizeof(int));
        report->nbsv = dl_learn_alloc((size_t)npairs, sizeof(int));
    }
    if (!count || !start || !perm || !nonzero || !pair_alpha || !pair_rho || !s.x || !s.x_square || !s.y ||
        !s.alpha_status || !s.alpha || !s.G || !s.G_bar || !s.QD || !s.active_set || !sq ||
        (report && (!report->iterations || !report->objective || !report->nsv || !report->nbsv))) {
        err = "out of memory";
        goto done;
    }
    const float *X = x;
    if (P.standardize) {
        mean = dl_learn_alloc((size_t)d, sizeof(float));
        std = dl_learn_alloc((size_t)d, sizeof(float));
        xs = dl_learn_alloc((size_t)n * d, sizeof(float));
        if (!mean || !std || !xs) { err = "out of memory (standardised copy of the training set)"; goto done; }
        if ((err = dl_standardize_fit(x, n, d, mean, std))) goto done;
        for (int i = 0; i < n; i++) dl_standardize_row(x + (size_t)i * d, mean, std, d, xs + (size_t)i * d);
        X = xs;
    }
    double gamma = P.gamma > 0 ? P.gamma : dl_rbf_gamma_scale(X, n, d);
    if (report) report->gamma = gamma;

    /* Group the points by class (LIBSVM svm_group_classes; classes in label order). */
    for (int i = 0; i < n; i++) count[y[i]]++;
    for (int k = 0; k < K; k++) start[k + 1] = start[k] + count[k];
    {
        int *fill = dl_learn_alloc((size_t)K, sizeof(int));
        if (!fill) { err = "out of memory"; goto done; }
        for (int i = 0; i < n; i++) perm[start[y[i]] + fill[y[i]]++] = i;
        free(fill);
    }
    for (int i = 0; i < n; i++) sq[i] = f32_dot((size_t)d, X + (size_t)perm[i] * d, X + (size_t)perm[i] * d);

    s.d = d; s.C = P.C; s.eps = P.tol; s.gamma = gamma;
    size_t aoff = 0;
    int p = 0;
    for (int ci = 0; ci < K; ci++)
        for (int cj = ci + 1; cj < K; cj++, p++) {
            int l = count[ci] + count[cj];
            s.l = l;
            for (int k = 0; k < l; k++) {
                int g = k < count[ci] ? start[ci] + k : start[cj] + k - count[ci];
                s.x[k] = X + (size_t)perm[g] * d;
                s.x_square[k] = sq[g];
                s.y[k] = k < count[ci] ? 1 : -1;
                s.QD[k] = 1.0;   /* K(x, x) = 1 for RBF */
            }
            if (!cache_init(&s.cache, l, P.cache_mb * 1048576.0)) { err = "out of memory"; goto done; }
            solution_info si = {0, 0, 0};
            double *alpha = pair_alpha + aoff;
            err = solve(&s, alpha, P.max_iter, P.shrinking, progress, user, p, npairs, &si);
            cache_free(&s.cache);
            if (err) goto done;
            int nsv = 0, nbsv = 0;
            for (int k = 0; k < l; k++) {
                if (alpha[k] > 0) {
                    nsv++;
                    if (alpha[k] >= P.C) nbsv++;
                    int g = k < count[ci] ? start[ci] + k : start[cj] + k - count[ci];
                    nonzero[g] = 1;
                }
                if (k >= count[ci]) alpha[k] = -alpha[k];   /* alpha_k * y_k */
            }
            pair_rho[p] = si.rho;
            if (report) {
                report->iterations[p] = si.iter; report->objective[p] = si.obj;
                report->nsv[p] = nsv; report->nbsv[p] = nbsv;
            }
            aoff += (size_t)l;
            if (progress) {
                dl_learn_progress pr = {"rbf-svm", p + 1, npairs, si.iter, 0, 0, -1, -1};
                if (progress(user, &pr)) { err = DL_CANCELLED; goto done; }
            }
        }

    /* Build the model exactly as LIBSVM lays it out. */
    int total_sv = 0;
    for (int i = 0; i < n; i++) total_sv += nonzero[i];
    if (total_sv == 0) { err = "rbf-svm: no support vectors (degenerate problem)"; goto done; }
    c = dl_classifier_new(&dl_rbf_svm_kind, K, d, P.standardize);
    if (!c || !(c->model = model_new(K, d, total_sv))) { err = "out of memory"; goto done; }
    dl_rbf_svm_model *M = c->model;
    M->gamma = gamma;
    if (P.standardize) { memcpy(c->mean, mean, sizeof(float) * d); memcpy(c->std, std, sizeof(float) * d); }
    {
        int *nz_start = dl_learn_alloc((size_t)K + 1, sizeof(int));
        if (!nz_start) { err = "out of memory"; goto done; }
        int q = 0;
        for (int k = 0; k < K; k++) {   /* SVs grouped by class, in input order */
            for (int t = 0; t < count[k]; t++)
                if (nonzero[start[k] + t])
                    memcpy(M->sv + (size_t)q++ * d, X + (size_t)perm[start[k] + t] * d, sizeof(float) * d);
            nz_start[k + 1] = q;
            M->sv_count[k] = q - nz_start[k];
        }
        aoff = 0;
        p = 0;
        for (int ci = 0; ci < K; ci++)
            for (int cj = ci + 1; cj < K; cj++, p++) {
                /* pair (ci,cj): coefficients of ci's SVs go in row cj-1, of cj's in row ci */
                const double *alpha = pair_alpha + aoff;
                int q2 = nz_start[ci];
                for (int t = 0; t < count[ci]; t++)
                    if (nonzero[start[ci] + t]) M->sv_coef[(size_t)(cj - 1) * total_sv + q2++] = alpha[t];
                q2 = nz_start[cj];
                for (int t = 0; t < count[cj]; t++)
                    if (nonzero[start[cj] + t]) M->sv_coef[(size_t)ci * total_sv + q2++] = alpha[count[ci] + t];
                M->rho[p] = pair_rho[p];
                aoff += (size_t)count[ci] + count[cj];
            }
        free(nz_start);
    }
done:
    free(count); free(start); free(perm); free(nonzero); free(pair_alpha); free(pair_rho);
    free(xs); free(mean); free(std); free(sq);
    free(s.x); free(s.x_square); free(s.y); free(s.alpha_status); free(s.alpha);
    free(s.G); free(s.G_bar); free(s.QD); free(s.active_set);
    if (err) {
        dl_classifier_free(c);
        dl_train_report_free(report);
        return err;
    }
    *out = c;
    return NULL;
}

/* ---- prediction (LIBSVM svm_predict_values) ----------------------------- */

static const char *rbf_votes(const dl_classifier *c, const float *x, int n, float *votes) {
    const dl_rbf_svm_model *M = c->model;
    int K = c->num_classes, d = c->num_features, L = M->total_sv;
    double *kvalue = dl_learn_alloc((size_t)L * n, sizeof(double));
    float *xsq = dl_learn_alloc((size_t)n, sizeof(float));
    int *start = dl_learn_alloc((size_t)K, sizeof(int));
    if (!kvalue || !xsq || !start) { free(kvalue); free(xsq); free(start); return "out of memory"; }
    for (int k = 1; k < K; k++) start[k] = start[k - 1] + M->sv_count[k - 1];
    for (int r = 0; r < n; r++) xsq[r] = f32_dot((size_t)d, x + (size_t)r * d, x + (size_t)r * d);
    /* SV-major loop: each support vector is read once per batch of rows. */
    for (int t = 0; t < L; t++) {
        const float *sv = M->sv + (size_t)t * d;
        double svsq = f32_dot((size_t)d, sv, sv);
        for (int r = 0; r < n; r++) {
            double dist = xsq[r] + svsq - 2.0 * f32_dot((size_t)d, x + (size_t)r * d, sv);
            kvalue[(size_t)r * L + t] = exp(-M->gamma * dist);
        }
    }
    for (int r = 0; r < n; r++) {
        const double *kv = kvalue + (size_t)r * L;
        float *vote = votes + (size_t)r * K;
        for (int k = 0; k < K; k++) vote[k] = 0;
        int p = 0;
        for (int i = 0; i < K; i++)
            for (int j = i + 1; j < K; j++, p++) {
                double sum = 0;
                const double *coef1 = M->sv_coef + (size_t)(j - 1) * L, *coef2 = M->sv_coef + (size_t)i * L;
                for (int k = 0; k < M->sv_count[i]; k++) sum += coef1[start[i] + k] * kv[start[i] + k];
                for (int k = 0; k < M->sv_count[j]; k++) sum += coef2[start[j] + k] * kv[start[j] + k];
                sum -= M->rho[p];
                if (sum > 0) vote[i] += 1; else vote[j] += 1;
            }
    }
    free(kvalue); free(xsq); free(start);
    return NULL;
}

/* ---- the kind: file payload, parameters ----------------------------------- */

static uint32_t rbf_file_param(const dl_classifier *c) { return (uint32_t)((const dl_rbf_svm_model *)c->model)->total_sv; }

/* Payload: gamma f64, sv_count u32[K], rho f64[K(K-1)/2], sv_coef f64[K-1][total_sv],
 * sv f32[total_sv][d]. */
static const char *rbf_payload_size(size_t k, size_t d, uint32_t total_sv, size_t *bytes) {
    if (total_sv < 1 || total_sv > (1u << 24)) return dl_errorf("bad rbf-svm support vector count %u", total_sv);
    size_t pairs, counts, rho, coef, sv, sum;
    if (!dl_mul(k, k - 1, &pairs) || !dl_mul(k, 4, &counts) || !dl_mul(pairs / 2, 8, &rho) ||
        !dl_bytes(k - 1, total_sv, 8, 0, &coef) || !dl_bytes(total_sv, d, 4, 0, &sv) ||
        !dl_add(8, counts, &sum) || !dl_add(sum, rho, &sum) || !dl_add(sum, coef, &sum) || !dl_add(sum, sv, bytes))
        return dl_errorf("rbf-svm with %u support vectors of %zu features: too large for this platform", total_sv, d);
    return NULL;
}

static const char *rbf_read(dl_classifier *c, uint32_t total_sv, dl_clf_bytes *in) {
    int k = c->num_classes, d = c->num_features;
    dl_rbf_svm_model *m = model_new(k, d, (int)total_sv);
    if (!m) return "out of memory";
    c->model = m;
    int finite = dl_clf_get_f64s(in, &m->gamma, 1);
    uint64_t sum = 0;
    for (int i = 0; i < k; i++) { uint32_t v = dl_clf_get_u32(in); m->sv_count[i] = v > total_sv ? -1 : (int)v; sum += v; }
    finite &= dl_clf_get_f64s(in, m->rho, (size_t)k * (k - 1) / 2);
    finite &= dl_clf_get_f64s(in, m->sv_coef, (size_t)(k - 1) * total_sv);
    finite &= dl_clf_get_f32s(in, m->sv, (size_t)total_sv * d);
    if (!finite) return "non-finite model values";
    if (!(m->gamma > 0)) return "bad gamma";
    if (sum != total_sv) return "per-class support vector counts do not add up";
    return NULL;
}

static void rbf_write(const dl_classifier *c, dl_clf_bytes *out) {
    const dl_rbf_svm_model *m = c->model;
    int k = c->num_classes;
    dl_clf_put_f64s(out, &m->gamma, 1);
    for (int i = 0; i < k; i++) dl_clf_put_u32(out, (uint32_t)m->sv_count[i]);
    dl_clf_put_f64s(out, m->rho, (size_t)k * (k - 1) / 2);
    dl_clf_put_f64s(out, m->sv_coef, (size_t)(k - 1) * m->total_sv);
    dl_clf_put_f32s(out, m->sv, (size_t)m->total_sv * c->num_features);
}

enum { P_C, P_GAMMA, P_TOL, P_SHRINKING, P_CACHE_MB, P_STANDARDIZE, P_MAX_ITER, NUM_PARAMS };
static const dl_param_spec rbf_params[NUM_PARAMS] = {
    [P_C] = {"C", DL_PARAM_REAL, 1, 0, 1e12, 1, "regularisation: larger C fits the training set harder"},
    [P_GAMMA] = {"gamma", DL_PARAM_REAL, 0, 0, 1e12, 0, "RBF width exp(-gamma |x - y|^2); 0: scikit-learn's 'scale'"},
    [P_TOL] = {"tol", DL_PARAM_REAL, 1e-3, 0, 1e6, 1, "stopping tolerance (LIBSVM -e)"},
    [P_SHRINKING] = {"shrinking", DL_PARAM_INT, 1, 0, 1, 0, "1: LIBSVM's shrinking heuristic (-h)"},
    [P_CACHE_MB] = {"cache_mb", DL_PARAM_REAL, 200, 0, 1e6, 1, "kernel cache cap in MiB (LIBSVM -m)"},
    [P_STANDARDIZE] = {"standardize", DL_PARAM_INT, 0, 0, 1, 0, "1: standardise features on the training set"},
    [P_MAX_ITER] = {"max_iter", DL_PARAM_INT, 0, 0, 2147483647.0, 0, "SMO steps per pair; 0: LIBSVM's max(1e7, 100 l)"},
};

static dl_rbf_svm_params params_from(const double *v) {
    return (dl_rbf_svm_params){
        .C = v[P_C], .gamma = v[P_GAMMA], .tol = v[P_TOL], .shrinking = (int)v[P_SHRINKING],
        .cache_mb = v[P_CACHE_MB], .standardize = (int)v[P_STANDARDIZE], .max_iter = (long)v[P_MAX_ITER],
    };
}

void dl_rbf_svm_default_params(dl_rbf_svm_params *p) {
    double v[NUM_PARAMS];
    dl_param_defaults(rbf_params, NUM_PARAMS, v);
    *p = params_from(v);
}

static const char *rbf_fit(const float *x, const int *y, int n, int d, const double *v,
                           dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_rbf_svm_params p = params_from(v);
    return dl_rbf_svm_train(x, y, n, d, &p, progress, user, out, report);
}

const dl_classifier_kind dl_rbf_svm_kind = {
    "rbf-svm", 2, "RBF-kernel SVM, one-vs-one (LIBSVM's SMO)",
    rbf_params, NUM_PARAMS, rbf_fit, rbf_votes, rbf_file_param,
    rbf_payload_size, rbf_read, rbf_write, model_free,
};
