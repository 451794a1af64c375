/* kernel_svm.c — see kernel_svm.h. A C port of LIBSVM 3.24's Cache, SVC_Q
 * and Solver (C-SVC only: p_i = -1, y_i = +-1, Cp = Cn = C); names follow
 * LIBSVM so the two can be read side by side. */
#include "learn/kernel_svm.h"
#include "common/checked.h"
#include "common/crc32.h"
#include "kernels/kernels.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAU 1e-12

/* Over the rows as the SVM sees them: standardised on the fly if mean is
 * given (one row at a time, no copy of the matrix); element order as numpy. */
static const char *gamma_scale(const dl_rows *x, const float *mean, const float *std, double *gamma) {
    int n = x->n, d = x->d;
    float *row = dl_learn_alloc((size_t)d, sizeof(float));
    if (!row) return "out of memory";
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        dl_standardize_row(dl_rows_row(x, i, row), mean, std, d, row);
        for (int j = 0; j < d; j++) s += row[j];
    }
    double N = (double)n * d, m = s / N;
    for (int i = 0; i < n; i++) {
        dl_standardize_row(dl_rows_row(x, i, row), mean, std, d, row);
        for (int j = 0; j < d; j++) { double t = row[j] - m; s2 += t * t; }
    }
    free(row);
    double var = s2 / N;
    *gamma = var > 0 ? 1.0 / (d * var) : 1.0;
    return NULL;
}

/* ---- LRU cache of kernel columns (LIBSVM's Cache) ------------------------ */

typedef struct head { struct head *prev, *next; float *data; int len; } head_t;
typedef struct {
    int l;
    long size;          /* free space, in floats */
    long capacity;      /* all of it */
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
    c->capacity = c->size;
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
    const void **x;      /* rows (permuted by shrinking), float32 or float16 (f16) */
    int f16;
    int panels_f16;      /* packed holds halves (f16 rows only: choose_panels) */
    float *x_square;     /* ||x_i||^2 */
    signed char *y;
    char *alpha_status;
    double *alpha, *G, *G_bar, *QD;
    int *active_set;
    cache_t cache;
    int oom;
    /* The rows again as GEMM weight panels of F32_GEMM_NR points each, in the
     * solver's (shrinking-permuted) order: a kernel column is then one
     * f32_gemm streaming the panels instead of one f32_dot per point. Float16
     * rows may be packed as halves (panels_f16: f32_gemm_f16w, the same bits
     * from half the bytes; off by default, choose_panels_f16). */
    void *packed;
    dl_rbf_svm_workspace *ws;   /* where packed lives if given (kept between pairs), else NULL: its own */
    float *scratch;      /* GEMM_ROWS rows of A then their dot products; or a transposed panel */
    unsigned char *dirty;   /* [panels]: rows swapped since packing */
} solver;

#define is_upper_bound(i) (s->alpha_status[i] == UPPER_BOUND)
#define is_lower_bound(i) (s->alpha_status[i] == LOWER_BOUND)
#define is_free(i) (s->alpha_status[i] == FREE)

/* The packed GEMM layout cuts n into independent panels of F32_GEMM_NR
 * columns (kernels/kernels.h), so panel p can be packed, and multiplied, on
 * its own. */
#define GEMM_ROWS 4      /* rows of A per micro-kernel pass (f32_gemm's 4x8) */

/* Row k as float32: in place, or converted into scratch (d floats). */
static const float *solver_row(const solver *s, int k, float *scratch) { return dl_row_f32(s->x[k], s->f16, s->d, scratch); }

static void pack_panel(solver *s, int p) {
    float *t = s->scratch, *converted = s->scratch + (size_t)s->d * F32_GEMM_NR;
    size_t first = (size_t)p * F32_GEMM_NR;
    if (s->panels_f16) {   /* halves stay halves: the panel holds exactly the rows' values */
        uint16_t *th = (uint16_t *)s->scratch;
        for (int c = 0; c < F32_GEMM_NR; c++) {
            size_t r = first + (size_t)c;
            const uint16_t *row = r < (size_t)s->l ? s->x[r] : NULL;
            for (int f = 0; f < s->d; f++) th[(size_t)f * F32_GEMM_NR + c] = row ? row[f] : 0;
        }
        f16_gemm_pack((size_t)s->d, F32_GEMM_NR, th, NULL, (uint16_t *)s->packed + f32_gemm_packed_offset((size_t)s->d, first));
        s->dirty[p] = 0;
        return;
    }
    for (int c = 0; c < F32_GEMM_NR; c++) {
        size_t r = first + (size_t)c;
        const float *row = r < (size_t)s->l ? solver_row(s, (int)r, converted) : NULL;
        for (int f = 0; f < s->d; f++) t[(size_t)f * F32_GEMM_NR + c] = row ? row[f] : 0.0f;
    }
    f32_gemm_pack((size_t)s->d, F32_GEMM_NR, t, NULL, (float *)s->packed + f32_gemm_packed_offset((size_t)s->d, first));
    s->dirty[p] = 0;
}

static int num_panels(int l) { return (l + F32_GEMM_NR - 1) / F32_GEMM_NR; }

/* The points the next working sets will most likely pick: the largest
 * violations (-y G over I_up, y G over I_low), not cached up to len. */
static int likely_next(solver *s, int i, int len, int *out, int want) {
    double best[GEMM_ROWS];
    int n = 0;
    for (int t = 0; t < s->active_size; t++) {
        if (t == i || s->cache.head[t].len >= len) continue;
        double yG = s->y[t] * s->G[t], v = -INFINITY;
        int up = s->y[t] == +1 ? !is_upper_bound(t) : !is_lower_bound(t);
        int low = s->y[t] == +1 ? !is_lower_bound(t) : !is_upper_bound(t);
        if (up) v = -yG;
        if (low && yG > v) v = yG;
        if (v == -INFINITY || (n == want && v <= best[n - 1])) continue;
        int k = n < want ? n++ : n - 1;
        for (; k > 0 && best[k - 1] < v; k--) { best[k] = best[k - 1]; out[k] = out[k - 1]; }
        best[k] = v; out[k] = t;
    }
    return n;
}

/* Kernel entries [start, len) of point i's column (Q is symmetric), computed
 * as one GEMM over the packed panels together with the columns the next
 * steps will likely ask for: the micro-kernel computes GEMM_ROWS rows per
 * pass over the panels either way, so the extra columns cost little. */
static void kernel_column(solver *s, int i, int start, int len, float *data) {
    int col[GEMM_ROWS] = {i}, from[GEMM_ROWS] = {start}, m = 1, lo = start;
    float *out[GEMM_ROWS] = {data};
    if (len == s->active_size && s->cache.capacity >= 4L * GEMM_ROWS * len) {
        int more[GEMM_ROWS - 1];
        int k = likely_next(s, i, len, more, GEMM_ROWS - 1);
        for (int t = 0; t < k; t++) {
            int f = cache_get(&s->cache, more[t], &out[m], len);
            if (f < 0 || f >= len) continue;
            col[m] = more[t]; from[m] = f; m++;
            if (f < lo) lo = f;
        }
    }
    int first = lo / F32_GEMM_NR * F32_GEMM_NR;
    size_t n = (size_t)(len - first), d = (size_t)s->d;
    float *a = s->scratch, *dots = s->scratch + GEMM_ROWS * d;
    for (int r = 0; r < m; r++) dl_row_to_f32(s->x[col[r]], s->f16, (int)d, a + r * d);
    size_t at = f32_gemm_packed_offset(d, (size_t)first);
    if (s->panels_f16) f32_gemm_f16w((size_t)m, n, d, a, d, (const uint16_t *)s->packed + at, dots, n, -INFINITY, INFINITY);
    else f32_gemm((size_t)m, n, d, a, d, (const float *)s->packed + at, dots, n, -INFINITY, INFINITY);
    for (int r = 0; r < m; r++) {
        int c = col[r];
        double sqc = s->x_square[c];
        for (int j = from[r]; j < len; j++) {
            double dist = sqc + s->x_square[j] - 2.0 * dots[r * n + (size_t)(j - first)];
            out[r][j] = (float)(s->y[c] * s->y[j] * exp(-s->gamma * dist));
        }
    }
}

static float *get_Q(solver *s, int i, int len) {
    float *data;
    int start = cache_get(&s->cache, i, &data, len);
    if (start < 0) { s->oom = 1; return NULL; }
    if (start < len) kernel_column(s, i, start, len, data);
    return data;
}

static void update_alpha_status(solver *s, int i) {
    s->alpha_status[i] = s->alpha[i] >= s->C ? UPPER_BOUND : s->alpha[i] <= 0 ? LOWER_BOUND : FREE;
}
#define SWAP(T, a, b) do { T t_ = (a); (a) = (b); (b) = t_; } while (0)

static void swap_index(solver *s, int i, int j) {
    cache_swap_index(&s->cache, i, j);
    SWAP(const void *, s->x[i], s->x[j]);
    SWAP(float, s->x_square[i], s->x_square[j]);
    SWAP(signed char, s->y[i], s->y[j]);
    SWAP(double, s->QD[i], s->QD[j]);
    SWAP(char, s->alpha_status[i], s->alpha_status[j]);
    SWAP(double, s->alpha[i], s->alpha[j]);
    SWAP(double, s->G[i], s->G[j]);
    SWAP(double, s->G_bar[i], s->G_bar[j]);
    SWAP(int, s->active_set[i], s->active_set[j]);
    s->dirty[i / F32_GEMM_NR] = s->dirty[j / F32_GEMM_NR] = 1;
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
    for (int p = 0; p < num_panels(s->l); p++) if (s->dirty[p]) pack_panel(s, p);
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
    free(m->sv_count); free(m->sv); free(m->sv_at); free(m->sv_sq); free(m->sv_coef); free(m->rho);
    free(m);
}

/* Support vector t as float32: its copy, or the training-set row it borrows (converted into scratch if float16). */
static const float *sv_row(const dl_rbf_svm_model *m, int t, int d, float *scratch) {
    return m->sv_at ? dl_row_f32(m->sv_at[t], m->sv_f16, d, scratch) : m->sv + (size_t)t * d;
}

/* Sizes come from a file header too: callers have checked them with
 * payload_size (below), which bounds every product here. */
/* |sv|^2 of every support vector, once per model (prediction reads it for every row). */
static const char *fill_sv_sq(dl_rbf_svm_model *m, int d) {
    float *scratch = m->sv_f16 ? dl_learn_alloc((size_t)d, sizeof(float)) : NULL;
    if (m->sv_f16 && !scratch) return "out of memory";
    for (int t = 0; t < m->total_sv; t++) {
        const float *sv = sv_row(m, t, d, scratch);
        m->sv_sq[t] = f32_dot((size_t)d, sv, sv);
    }
    free(scratch);
    return NULL;
}

/* borrow: the SVs will be rows of the training set (sv_at), not copies (sv). */
static dl_rbf_svm_model *model_new(int k, int d, int total_sv, int borrow) {
    dl_rbf_svm_model *m = dl_learn_alloc(1, sizeof *m);
    if (!m) return NULL;
    m->total_sv = total_sv;
    m->sv_count = dl_learn_alloc((size_t)k, sizeof(int));
    m->rho = dl_learn_alloc((size_t)k * (k - 1) / 2, sizeof(double));
    m->sv_coef = dl_learn_alloc((size_t)(k - 1) * total_sv, sizeof(double));
    if (borrow) m->sv_at = dl_learn_alloc((size_t)total_sv, sizeof(void *));
    else m->sv = dl_learn_alloc((size_t)total_sv * d, sizeof(float));
    m->sv_sq = dl_learn_alloc((size_t)total_sv, sizeof(float));
    if (!m->sv_count || !m->rho || !m->sv_coef || !(m->sv || m->sv_at) || !m->sv_sq) { model_free(m); return NULL; }
    return m;
}

/* ---- one pair (LIBSVM svm_train_one for C-SVC) ---------------------------- */

static const char *check_params(const dl_rbf_svm_params *P) {
    if (!(P->C > 0) || !isfinite(P->C)) return dl_errorf("rbf-svm: C must be > 0 (got %g)", P->C);
    if (!isfinite(P->gamma)) return "rbf-svm: gamma must be finite";
    if (!(P->tol > 0)) return dl_errorf("rbf-svm: tol must be > 0 (got %g)", P->tol);
    if (!(P->cache_mb > 0)) return dl_errorf("rbf-svm: cache_mb must be > 0 (got %g)", P->cache_mb);
    return NULL;
}

static dl_rbf_svm_params params_or_default(const dl_rbf_svm_params *params) {
    dl_rbf_svm_params P;
    if (params) P = *params; else dl_rbf_svm_default_params(&P);
    return P;
}

static void solver_free(solver *s) {
    free(s->x); free(s->x_square); free(s->y); free(s->alpha_status); free(s->alpha);
    free(s->G); free(s->G_bar); free(s->QD); free(s->active_set);
    if (!s->ws) free(s->packed);
    free(s->scratch); free(s->dirty);
    cache_free(&s->cache);
}

/* Float16 rows are packed as halves (f32_gemm_f16w) when their float32 panels
 * would take f16_panels_from bytes or more, or (then) more than the thread's
 * workspace holds: half the bytes (the RBF phase's heap at 60,000: 2 x 24 MiB
 * of panels instead of 2 x 47, 331 -> 284 MiB), the same bits, but converting
 * every weight of every kernel column cost 1.66x (20,000) to 2.07x (48,000)
 * the critical-path CPU time on the page's path, so it is off by default. */
static size_t f16_panels_from = SIZE_MAX;   /* off: measured 1.7-2x the CPU time on the page's path (docs/benchmarks.md) */

void dl_rbf_svm_f16_panels_from(size_t bytes) { f16_panels_from = bytes; }

static int choose_panels_f16(int f16, size_t packed, const dl_rbf_svm_workspace *ws) {
    size_t f32_bytes;
    if (!f16) return 0;
    if (!dl_mul(packed, sizeof(float), &f32_bytes)) return 1;
    return f32_bytes >= f16_panels_from || (f16_panels_from != SIZE_MAX && ws && ws->bytes && ws->bytes < f32_bytes);
}

/* The solver over l = ni + nj rows (the first ni are +1; float16 if f16), packed. */
static const char *solver_init(solver *s, const void *const *rows, int f16, int ni, int nj, int d, double gamma,
                               const dl_rbf_svm_params *P) {
    int l = ni + nj;
    size_t l1 = (size_t)l;
    s->l = l; s->d = d; s->f16 = f16; s->C = P->C; s->eps = P->tol; s->gamma = gamma;
    size_t packed = f32_gemm_packed_size((size_t)d, l1);
    if (packed == SIZE_MAX)
        return dl_errorf("rbf-svm: a pair of %d points of %d features is too large for this platform", l, d);
    s->x = dl_learn_alloc(l1, sizeof(void *));
    s->x_square = dl_learn_alloc(l1, sizeof(float));
    s->y = dl_learn_alloc(l1, 1);
    s->alpha_status = dl_learn_alloc(l1, 1);
    s->alpha = dl_learn_alloc(l1, sizeof(double));
    s->G = dl_learn_alloc(l1, sizeof(double));
    s->G_bar = dl_learn_alloc(l1, sizeof(double));
    s->QD = dl_learn_alloc(l1, sizeof(double));
    s->active_set = dl_learn_alloc(l1, sizeof(int));
    s->panels_f16 = choose_panels_f16(f16, packed, s->ws);
    size_t elem = s->panels_f16 ? sizeof(uint16_t) : sizeof(float);
    if (!s->ws) s->packed = dl_learn_alloc(packed, elem);
    else if (s->ws->bytes / elem >= packed) s->packed = s->ws->panels;
    else {   /* a larger pair than this workspace has held: its room is taken anew */
        dl_rbf_svm_workspace_free(s->ws);
        if ((s->ws->panels = s->packed = dl_learn_alloc(packed, elem))) s->ws->bytes = packed * elem;
    }
    size_t scratch;   /* GEMM_ROWS rows of A then GEMM_ROWS columns; or one transposed panel and one row (< 4 rows + 4 columns) */
    if (!dl_mul(l1 + (size_t)d, GEMM_ROWS, &scratch) || !dl_add(scratch, (size_t)d * F32_GEMM_NR, &scratch))
        return "rbf-svm: pair too large for this platform";
    s->scratch = dl_learn_alloc(scratch, sizeof(float));
    s->dirty = dl_learn_alloc((size_t)num_panels(l), 1);
    if (!s->x || !s->x_square || !s->y || !s->alpha_status || !s->alpha || !s->G || !s->G_bar || !s->QD ||
        !s->active_set || !s->packed || !s->scratch || !s->dirty || !cache_init(&s->cache, l, P->cache_mb * 1048576.0))
        return dl_errorf("out of memory (rbf-svm pair of %d points)", l);
    for (int k = 0; k < l; k++) {
        s->x[k] = rows[k];
        const float *row = solver_row(s, k, s->scratch);
        s->x_square[k] = f32_dot((size_t)d, row, row);
        s->y[k] = k < ni ? 1 : -1;
        s->QD[k] = 1.0;   /* K(x, x) = 1 for RBF */
    }
    for (int p = 0; p < num_panels(l); p++) pack_panel(s, p);
    return NULL;
}

/* A pair's result, serialised little-endian:
 *   0  char[8] "DLRBFPR1"
 *   8  u32 ci, cj, ni, nj, d, nsv, nbsv; u32 iterations low, high
 *   44 f64 gamma, C, rho, obj
 *   76 u32 index[nsv]   (0..ni+nj-1, increasing; < ni: class ci's rows)
 *      f64 coef[nsv]    (alpha * y: > 0 for class ci, < 0 for cj)
 *   end-4 u32 CRC-32 of every preceding byte */
#define PAIR_MAGIC "DLRBFPR1"
enum { PAIR_HEAD = 76 };
typedef struct {
    uint32_t ci, cj, ni, nj, d, nsv, nbsv;
    uint64_t iter;
    double gamma, C, rho, obj;
} pair_head;

static const char *encode_pair(const pair_head *h, const double *alpha_y, uint8_t **buf, size_t *size) {
    size_t bytes;
    if (!dl_mul(h->nsv, 12, &bytes) || !dl_add(bytes, PAIR_HEAD + 4, &bytes)) return "rbf-svm: pair result too large for this platform";
    dl_clf_bytes b = {malloc(bytes), 0, bytes};
    if (!b.p) return "out of memory";
    memcpy(b.p, PAIR_MAGIC, 8); b.pos = 8;
    uint32_t u[9] = {h->ci, h->cj, h->ni, h->nj, h->d, h->nsv, h->nbsv, (uint32_t)h->iter, (uint32_t)(h->iter >> 32)};
    for (int i = 0; i < 9; i++) dl_clf_put_u32(&b, u[i]);
    double f[4] = {h->gamma, h->C, h->rho, h->obj};
    dl_clf_put_f64s(&b, f, 4);
    uint32_t l = h->ni + h->nj;
    for (uint32_t k = 0; k < l; k++) if (alpha_y[k] != 0) dl_clf_put_u32(&b, k);
    for (uint32_t k = 0; k < l; k++) if (alpha_y[k] != 0) dl_clf_put_f64s(&b, alpha_y + k, 1);
    dl_clf_put_u32(&b, dl_crc32(b.p, b.pos));
    *buf = b.p;
    *size = bytes;
    return NULL;
}

/* Train pair (ci, cj) on its rows (rows[0..ni) of class ci, then nj of cj; float16 if f16). */
static const char *train_pair_rows(dl_rbf_svm_workspace *ws, const void *const *rows, int f16, int ni, int nj, int d, int ci, int cj, double gamma,
                                   const dl_rbf_svm_params *P, dl_learn_progress_fn progress, void *user,
                                   int step, int steps, uint8_t **buf, size_t *size) {
    int l = ni + nj;
    solver s = {0};
    s.ws = ws;
    double *alpha = dl_learn_alloc((size_t)l, sizeof(double));
    const char *err = alpha ? solver_init(&s, rows, f16, ni, nj, d, gamma, P) : "out of memory";
    solution_info si = {0, 0, 0};
    if (!err) err = solve(&s, alpha, P->max_iter, P->shrinking, progress, user, step, steps, &si);
    solver_free(&s);
    if (!err) {
        pair_head h = {(uint32_t)ci, (uint32_t)cj, (uint32_t)ni, (uint32_t)nj, (uint32_t)d, 0, 0,
                       (uint64_t)si.iter, gamma, P->C, si.rho, si.obj};
        for (int k = 0; k < l; k++) {
            if (alpha[k] > 0) { h.nsv++; if (alpha[k] >= P->C) h.nbsv++; }
            if (k >= ni) alpha[k] = -alpha[k];   /* alpha_k * y_k */
        }
        err = encode_pair(&h, alpha, buf, size);
    }
    free(alpha);
    return err;
}

/* What both ways of giving a pair's rows check first (and *result = NULL). */
static const char *check_pair(int ni, int nj, int d, int ci, int cj, double gamma, const float *mean, const float *std,
                              const dl_rbf_svm_params *params, uint8_t **result, size_t *size) {
    if (!result || !size) return "rbf-svm pair: NULL output";
    *result = NULL; *size = 0;
    dl_rbf_svm_params P = params_or_default(params);
    const char *err = check_params(&P);
    if (err) return err;
    if (ci < 0 || cj <= ci || cj > 255) return dl_errorf("rbf-svm pair: classes must be 0 <= ci < cj <= 255 (got %d, %d)", ci, cj);
    if (ni < 1 || nj < 1 || ni > INT_MAX - nj) return dl_errorf("rbf-svm pair: bad row counts %d + %d", ni, nj);
    if (!(gamma > 0) || !isfinite(gamma)) return dl_errorf("rbf-svm pair: gamma must be > 0 (got %g)", gamma);
    if (!mean != !std) return "rbf-svm pair: give both mean and std, or neither";
    if (d < 1) return dl_errorf("rbf-svm pair: bad feature count %d", d);
    return NULL;
}

/* Trains the pair on rows (malloc'd; freed here), standardised first into a
 * copy of the pair's rows if mean/std are given (the rows as the SVM sees them). */
static const char *train_pair_standardized(dl_rbf_svm_workspace *ws, const void **rows, int f16, int ni, int nj, int d, int ci, int cj, double gamma,
                                           const float *mean, const float *std, const dl_rbf_svm_params *P,
                                           dl_learn_progress_fn progress, void *user, uint8_t **result, size_t *size) {
    int l = ni + nj;
    float *xs = NULL;
    if (mean) {
        xs = dl_learn_alloc((size_t)l * d, sizeof(float));
        if (!xs) { free(rows); return "out of memory (standardised pair rows)"; }
        for (int k = 0; k < l; k++) {
            float *to = xs + (size_t)k * d;
            dl_standardize_row(dl_row_f32(rows[k], f16, d, to), mean, std, d, to);
            rows[k] = to;
        }
        f16 = 0;
    }
    const char *err = train_pair_rows(ws, rows, f16, ni, nj, d, ci, cj, gamma, P, progress, user, 0, 1, result, size);
    free(rows); free(xs);
    return err;
}

const char *dl_rbf_svm_train_pair(const float *xi, int ni, const float *xj, int nj, int d, int ci, int cj,
                                  double gamma, const float *mean, const float *std,
                                  const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                  uint8_t **result, size_t *size) {
    const char *err = check_pair(ni, nj, d, ci, cj, gamma, mean, std, params, result, size);
    dl_rbf_svm_params P = params_or_default(params);
    if (err) return err;
    if ((err = dl_learn_check_xy(xi, NULL, ni, d, NULL)) || (err = dl_learn_check_xy(xj, NULL, nj, d, NULL))) return err;
    int l = ni + nj;
    const void **rows = dl_learn_alloc((size_t)l, sizeof(void *));
    if (!rows) return "out of memory";
    for (int k = 0; k < l; k++) rows[k] = k < ni ? xi + (size_t)k * d : xj + (size_t)(k - ni) * d;
    return train_pair_standardized(NULL, rows, 0, ni, nj, d, ci, cj, gamma, mean, std, &P, progress, user, result, size);
}

const char *dl_rbf_svm_train_pair_at(const float *x, int n, int d, const int *rows_i, int ni, const int *rows_j, int nj,
                                     int ci, int cj, double gamma, const float *mean, const float *std,
                                     const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                     uint8_t **result, size_t *size) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_train_pair_at_rows(&rows, rows_i, ni, rows_j, nj, ci, cj, gamma, mean, std, params, progress, user,
                                         result, size);
}

void dl_rbf_svm_workspace_free(dl_rbf_svm_workspace *w) {
    if (!w) return;
    free(w->panels);
    w->panels = NULL;
    w->bytes = 0;
}

const char *dl_rbf_svm_train_pair_at_rows(const dl_rows *x, const int *rows_i, int ni, const int *rows_j, int nj,
                                          int ci, int cj, double gamma, const float *mean, const float *std,
                                          const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                          uint8_t **result, size_t *size) {
    return dl_rbf_svm_train_pair_at_rows_in(NULL, x, rows_i, ni, rows_j, nj, ci, cj, gamma, mean, std, params, progress, user,
                                            result, size);
}

const char *dl_rbf_svm_train_pair_at_rows_in(dl_rbf_svm_workspace *ws, const dl_rows *x, const int *rows_i, int ni,
                                             const int *rows_j, int nj, int ci, int cj, double gamma,
                                             const float *mean, const float *std, const dl_rbf_svm_params *params,
                                             dl_learn_progress_fn progress, void *user, uint8_t **result, size_t *size) {
    int n = x->n, d = x->d;
    const char *err = check_pair(ni, nj, d, ci, cj, gamma, mean, std, params, result, size);
    dl_rbf_svm_params P = params_or_default(params);
    if (err) return err;
    if (!x->data || !rows_i || !rows_j || n < 1) return "rbf-svm pair: NULL rows or no training set";
    size_t bytes;
    if (!dl_bytes((size_t)n, (size_t)d, x->f16 ? 2 : sizeof(float), 0, &bytes))
        return dl_errorf("rbf-svm pair: %d x %d %s is too large for this platform", n, d, x->f16 ? "halves" : "floats");
    int l = ni + nj;
    const void **rows = dl_learn_alloc((size_t)l, sizeof(void *));
    if (!rows) return "out of memory";
    for (int k = 0; k < l; k++) {   /* only the pair's rows are read, so only they are checked */
        int r = k < ni ? rows_i[k] : rows_j[k - ni], is_nan, f;
        if (r < 0 || r >= n) { free(rows); return dl_errorf("rbf-svm pair: row index %d outside 0..%d", r, n - 1); }
        rows[k] = dl_rows_at(x, r);
        if ((f = dl_rows_nonfinite(x, r, &is_nan)) >= 0) { free(rows); return dl_errorf("rbf-svm pair: feature is not finite at row %d, column %d", r, f); }
    }
    return train_pair_standardized(ws, rows, x->f16, ni, nj, d, ci, cj, gamma, mean, std, &P, progress, user, result, size);
}

/* ---- what every pair shares, and the model from the pairs ---------------- */

const char *dl_rbf_svm_prepare(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                               int *num_classes, double *gamma, float *mean, float *std) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_prepare_rows(&rows, y, params, num_classes, gamma, mean, std);
}

const char *dl_rbf_svm_prepare_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                    int *num_classes, double *gamma, float *mean, float *std) {
    dl_rbf_svm_params P = params_or_default(params);
    const char *err = check_params(&P);
    int K;
    if (err || (err = dl_learn_check_rows(x, y, &K))) return err;
    if (P.standardize && (!mean || !std)) return "rbf-svm: standardize needs mean and std buffers";
    if (P.standardize && (err = dl_standardize_fit_rows(x, mean, std))) return err;
    *gamma = P.gamma;
    if (!(P.gamma > 0) && (err = gamma_scale(x, P.standardize ? mean : NULL, P.standardize ? std : NULL, gamma))) return err;
    if (num_classes) *num_classes = K;
    return NULL;
}

static int pair_index(int K, int ci, int cj) { return ci * K - ci * (ci + 1) / 2 + (cj - ci - 1); }

/* Decodes and checks one pair result against the training set's classes. */
static const char *decode_pair(const uint8_t *buf, size_t size, int K, const int *count, int d, double gamma,
                               double C, pair_head *h, dl_clf_bytes *body) {
    if (!buf || size < PAIR_HEAD + 4) return dl_errorf("rbf-svm pair result: truncated (%zu bytes)", size);
    if (memcmp(buf, PAIR_MAGIC, 8)) return "rbf-svm pair result: bad magic";
    dl_clf_bytes b = {(uint8_t *)buf, 8, size};
    uint32_t u[9];
    for (int i = 0; i < 9; i++) u[i] = dl_clf_get_u32(&b);
    *h = (pair_head){u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7] | (uint64_t)u[8] << 32, 0, 0, 0, 0};
    double f[4];
    int finite = dl_clf_get_f64s(&b, f, 4);
    h->gamma = f[0]; h->C = f[1]; h->rho = f[2]; h->obj = f[3];
    if (h->ci >= (uint32_t)K || h->cj >= (uint32_t)K || h->ci >= h->cj)
        return dl_errorf("rbf-svm pair result: bad pair (%u, %u) for %d classes", h->ci, h->cj, K);
    if (h->ni != (uint32_t)count[h->ci] || h->nj != (uint32_t)count[h->cj] || h->d != (uint32_t)d)
        return dl_errorf("rbf-svm pair result (%u, %u): trained on %u + %u rows of %u features, the training set has %d + %d of %d",
                         h->ci, h->cj, h->ni, h->nj, h->d, count[h->ci], count[h->cj], d);
    uint32_t l = h->ni + h->nj;
    if (h->nsv > l || h->nbsv > h->nsv) return dl_errorf("rbf-svm pair result (%u, %u): bad support vector counts", h->ci, h->cj);
    size_t want;
    if (!dl_mul(h->nsv, 12, &want) || !dl_add(want, PAIR_HEAD + 4, &want) || want != size)
        return dl_errorf("rbf-svm pair result (%u, %u): %zu bytes, expected %zu (truncated?)", h->ci, h->cj, size, want);
    uint32_t crc = (uint32_t)buf[size - 4] | (uint32_t)buf[size - 3] << 8 | (uint32_t)buf[size - 2] << 16 | (uint32_t)buf[size - 1] << 24;
    if (crc != dl_crc32(buf, size - 4)) return dl_errorf("rbf-svm pair result (%u, %u): CRC mismatch", h->ci, h->cj);
    if (!finite) return "rbf-svm pair result: non-finite values";
    if (h->gamma != gamma || h->C != C)
        return dl_errorf("rbf-svm pair result (%u, %u): trained with gamma %g, C %g; this fit uses gamma %g, C %g",
                         h->ci, h->cj, h->gamma, h->C, gamma, C);
    *body = b;
    return NULL;
}

/* What assemble and train start from: the parameters, the training mean/std
 * (if standardising), the classes and gamma; *out and *report cleared. */
typedef struct { dl_rbf_svm_params P; float *mean, *std; int K; double gamma; } fit_setup;

static void fit_setup_free(fit_setup *f) { free(f->mean); free(f->std); f->mean = f->std = NULL; }

static const char *fit_setup_init(fit_setup *f, const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                  dl_classifier **out, dl_train_report *report) {
    int d = x->d;
    *f = (fit_setup){params_or_default(params), NULL, NULL, 0, 0};
    if (!out) return "rbf-svm: NULL output";
    *out = NULL;
    if (report) memset(report, 0, sizeof *report);
    if (f->P.standardize && d > 0) {
        f->mean = dl_learn_alloc((size_t)d, sizeof(float));
        f->std = dl_learn_alloc((size_t)d, sizeof(float));
        if (!f->mean || !f->std) { fit_setup_free(f); return "out of memory"; }
    }
    const char *err = dl_rbf_svm_prepare_rows(x, y, &f->P, &f->K, &f->gamma, f->mean, f->std);
    if (err) fit_setup_free(f);
    return err;
}

/* The rows grouped by class (LIBSVM svm_group_classes; classes in label
 * order, rows in input order): count[K], start[K + 1], perm[n] (grouped
 * position -> row); 0 if out of memory. */
typedef struct { int *count, *start, *perm; } class_groups;

static void groups_free(class_groups *g) { free(g->count); free(g->start); free(g->perm); }

static int group_classes(const int *y, int n, int K, class_groups *g) {
    g->count = dl_learn_alloc((size_t)K, sizeof(int));
    g->start = dl_learn_alloc((size_t)K + 1, sizeof(int));
    g->perm = dl_learn_alloc((size_t)n, sizeof(int));
    int *fill = dl_learn_alloc((size_t)K, sizeof(int));
    int ok = g->count && g->start && g->perm && fill;
    if (ok) {
        for (int i = 0; i < n; i++) g->count[y[i]]++;
        for (int k = 0; k < K; k++) g->start[k + 1] = g->start[k] + g->count[k];
        for (int i = 0; i < n; i++) g->perm[g->start[y[i]] + fill[y[i]]++] = i;
    }
    free(fill);
    return ok;
}

/* dl_rbf_svm_assemble after the setup (which dl_rbf_svm_train has already run). */
static const char *assemble(const fit_setup *f, const dl_rows *x, const int *y,
                            const uint8_t *const *results, const size_t *sizes, int count_results, int borrow,
                            dl_classifier **out, dl_train_report *report) {
    int n = x->n, d = x->d;
    const dl_rbf_svm_params P = f->P;
    const float *mean = f->mean, *std = f->std;
    int K = f->K, npairs = K * (K - 1) / 2;
    double gamma = f->gamma;
    if (!results || !sizes || count_results != npairs)
        return dl_errorf("rbf-svm: %d pair results for %d classes, need %d", count_results, K, npairs);
    const char *err = NULL;
    dl_classifier *c = NULL;
    class_groups groups = {0};
    int ok = group_classes(y, n, K, &groups);
    const int *count = groups.count, *start = groups.start, *perm = groups.perm;
    int *svpos = dl_learn_alloc((size_t)n, sizeof(int));   /* grouped row -> model SV index + 1, or 0 */
    int *by_pair = dl_learn_alloc((size_t)npairs, sizeof(int));   /* pair index -> result index + 1 */
    pair_head *heads = dl_learn_alloc((size_t)npairs, sizeof(pair_head));
    dl_clf_bytes *bodies = dl_learn_alloc((size_t)npairs, sizeof(dl_clf_bytes));
    if (report) {
        report->num_problems = npairs;
        report->gamma = gamma;
        report->iterations = dl_learn_alloc((size_t)npairs, sizeof(long));
        report->objective = dl_learn_alloc((size_t)npairs, sizeof(double));
        report->nsv = dl_learn_alloc((size_t)npairs, sizeof(int));
        report->nbsv = dl_learn_alloc((size_t)npairs, sizeof(int));
    }
    if (!ok || !svpos || !by_pair || !heads || !bodies ||
        (report && (!report->iterations || !report->objective || !report->nsv || !report->nbsv))) {
        err = "out of memory";
        goto done;
    }
    /* Check every result, each pair exactly once; mark the support vectors. */
    for (int r = 0; r < npairs; r++) {
        pair_head h;
        dl_clf_bytes b;
        if ((err = decode_pair(results[r], sizes[r], K, count, d, gamma, P.C, &h, &b))) goto done;
        int p = pair_index(K, (int)h.ci, (int)h.cj);
        if (by_pair[p]) { err = dl_errorf("rbf-svm: pair (%u, %u) given twice", h.ci, h.cj); goto done; }
        by_pair[p] = r + 1;
        heads[p] = h;
        bodies[p] = b;
        uint32_t prev = 0;
        for (uint32_t t = 0; t < h.nsv; t++) {
            uint32_t k = dl_clf_get_u32(&b);
            if (k >= h.ni + h.nj || (t && k <= prev)) { err = dl_errorf("rbf-svm pair result (%u, %u): bad support vector index %u", h.ci, h.cj, k); goto done; }
            prev = k;
            svpos[k < h.ni ? start[h.ci] + (int)k : start[h.cj] + (int)(k - h.ni)] = 1;
        }
    }
    int total_sv = 0;
    for (int g = 0; g < n; g++) if (svpos[g]) svpos[g] = ++total_sv;
    if (total_sv == 0) { err = "rbf-svm: no support vectors (degenerate problem)"; goto done; }

    /* Build the model exactly as LIBSVM lays it out: SVs grouped by class, in input order. */
    c = dl_classifier_new(&dl_rbf_svm_kind, K, d, P.standardize);
    borrow = borrow && !P.standardize;   /* a standardised SV is not a row of x */
    if (!c || !(c->model = model_new(K, d, total_sv, borrow))) { err = "out of memory"; goto done; }
    dl_rbf_svm_model *M = c->model;
    M->gamma = gamma;
    M->sv_f16 = borrow && x->f16;
    if (P.standardize) { memcpy(c->mean, mean, sizeof(float) * d); memcpy(c->std, std, sizeof(float) * d); }
    for (int g = 0; g < n; g++) {
        if (!svpos[g]) continue;
        if (borrow) { M->sv_at[svpos[g] - 1] = dl_rows_at(x, perm[g]); continue; }
        float *to = M->sv + (size_t)(svpos[g] - 1) * d;   /* float32 copies: exact for float16 rows */
        dl_standardize_row(dl_rows_row(x, perm[g], to), mean, std, d, to);
    }
    if ((err = fill_sv_sq(M, d))) goto done;
    for (int k = 0; k < K; k++) {
        M->sv_count[k] = 0;
        for (int g = start[k]; g < start[k + 1]; g++) M->sv_count[k] += svpos[g] != 0;
    }
    for (int p = 0; p < npairs; p++) {
        const pair_head *h = &heads[p];
        int ci = (int)h->ci, cj = (int)h->cj;
        /* pair (ci,cj): coefficients of ci's SVs go in row cj-1, of cj's in row ci (-0 where not
         * an SV of this pair, as alpha_k * y_k of a zero alpha with y = -1 is) */
        double *row_i = M->sv_coef + (size_t)(cj - 1) * total_sv, *row_j = M->sv_coef + (size_t)ci * total_sv;
        for (int g = start[cj]; g < start[cj + 1]; g++) if (svpos[g]) row_j[svpos[g] - 1] = -0.0;
        dl_clf_bytes ib = bodies[p], cb = bodies[p];
        cb.pos += (size_t)h->nsv * 4;
        for (uint32_t t = 0; t < h->nsv; t++) {
            uint32_t k = dl_clf_get_u32(&ib);
            double v;
            dl_clf_get_f64s(&cb, &v, 1);
            int in_i = k < h->ni;
            if (v == 0 || (in_i ? v < 0 : v > 0) || fabs(v) > P.C) {
                err = dl_errorf("rbf-svm pair result (%d, %d): bad coefficient %g", ci, cj, v);
                goto done;
            }
            if (in_i) row_i[svpos[start[ci] + (int)k] - 1] = v;
            else row_j[svpos[start[cj] + (int)(k - h->ni)] - 1] = v;
        }
        M->rho[p] = h->rho;
        if (report) {
            report->iterations[p] = (long)h->iter; report->objective[p] = h->obj;
            report->nsv[p] = (int)h->nsv; report->nbsv[p] = (int)h->nbsv;
        }
    }
done:
    groups_free(&groups);
    free(svpos); free(by_pair); free(heads); free(bodies);
    return dl_fit_finish(err, c, out, report);
}

const char *dl_rbf_svm_assemble_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                     const uint8_t *const *results, const size_t *sizes, int count_results, int borrow,
                                     dl_classifier **out, dl_train_report *report) {
    fit_setup f;
    const char *err = fit_setup_init(&f, x, y, params, out, report);
    if (!err) err = assemble(&f, x, y, results, sizes, count_results, borrow, out, report);
    fit_setup_free(&f);
    return err;
}

const char *dl_rbf_svm_assemble(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                                const uint8_t *const *results, const size_t *sizes, int count_results,
                                dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_assemble_rows(&rows, y, params, results, sizes, count_results, 0, out, report);
}

const char *dl_rbf_svm_assemble_borrowed(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                                         const uint8_t *const *results, const size_t *sizes, int count_results,
                                         dl_classifier **out) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_assemble_rows(&rows, y, params, results, sizes, count_results, 1, out, NULL);
}

/* ---- one-vs-one training, all pairs here in turn ------------------------- */

const char *dl_rbf_svm_train(const float *x, const int *y, int n, int d,
                             const dl_rbf_svm_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_train_rows(&rows, y, params, progress, user, out, report);
}

const char *dl_rbf_svm_train_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                  dl_learn_progress_fn progress, void *user,
                                  dl_classifier **out, dl_train_report *report) {
    int n = x->n, d = x->d;
    fit_setup f;
    const char *err = fit_setup_init(&f, x, y, params, out, report);
    if (err) return err;
    const dl_rbf_svm_params P = f.P;
    int K = f.K, npairs = K * (K - 1) / 2;
    class_groups groups = {0};
    int ok = group_classes(y, n, K, &groups);
    const int *count = groups.count, *start = groups.start;
    const void **grouped = dl_learn_alloc((size_t)n, sizeof(void *));
    uint8_t **results = dl_learn_alloc((size_t)npairs, sizeof(uint8_t *));
    size_t *sizes = dl_learn_alloc((size_t)npairs, sizeof(size_t));
    float *xs = NULL;              /* standardised copy, if asked */
    if (!ok || !grouped || !results || !sizes) { err = "out of memory"; goto done; }
    dl_rows X = *x;
    if (P.standardize) {
        xs = dl_learn_alloc((size_t)n * d, sizeof(float));
        if (!xs) { err = "out of memory (standardised copy of the training set)"; goto done; }
        for (int i = 0; i < n; i++) {
            float *to = xs + (size_t)i * d;
            dl_standardize_row(dl_rows_row(x, i, to), f.mean, f.std, d, to);
        }
        X = dl_rows_f32(xs, n, d);
    }
    for (int g = 0; g < n; g++) grouped[g] = dl_rows_at(&X, groups.perm[g]);
    for (int ci = 0, p = 0; ci < K; ci++)
        for (int cj = ci + 1; cj < K; cj++, p++) {
            /* the pair's rows: class ci's then class cj's, each in input order */
            int ni = count[ci], nj = count[cj];
            const void **rows = dl_learn_alloc((size_t)ni + nj, sizeof(void *));
            if (!rows) { err = "out of memory"; goto done; }
            memcpy(rows, grouped + start[ci], sizeof(void *) * ni);
            memcpy(rows + ni, grouped + start[cj], sizeof(void *) * nj);
            err = train_pair_rows(NULL, rows, X.f16, ni, nj, d, ci, cj, f.gamma, &P, progress, user, p, npairs, &results[p], &sizes[p]);
            free(rows);
            if (err) goto done;
            if (progress) {
                dl_learn_progress pr = {"rbf-svm", p + 1, npairs, 0, 0, 0, -1, -1};
                if (progress(user, &pr)) { err = DL_CANCELLED; goto done; }
            }
        }
    err = assemble(&f, x, y, (const uint8_t *const *)results, sizes, npairs, 0, out, report);
done:
    for (int p = 0; results && p < npairs; p++) free(results[p]);
    free(results); free(sizes); groups_free(&groups); free(grouped); free(xs);
    fit_setup_free(&f);
    if (err) dl_train_report_free(report);
    return err;
}

/* ---- prediction (LIBSVM svm_predict_values) ----------------------------- */

/* Kernel values of a chunk of rows against every SV as GEMMs: the rows are
 * packed as the weights (d x n, small), the SVs stream through as A in
 * blocks, so each SV is read once per chunk. */
static const char *rbf_votes(const dl_classifier *c, const float *x, int n, float *votes) {
    enum { SV_BLOCK = 512 };
    const dl_rbf_svm_model *M = c->model;
    int K = c->num_classes, d = c->num_features, L = M->total_sv;
    size_t packed_floats = f32_gemm_packed_size((size_t)d, (size_t)n);
    if (packed_floats == SIZE_MAX) return "rbf-svm: prediction chunk too large for this platform";
    double *kvalue = dl_learn_alloc((size_t)L * n, sizeof(double));
    float *xsq = dl_learn_alloc((size_t)n, sizeof(float));
    int *start = dl_learn_alloc((size_t)K, sizeof(int));
    float *xt = dl_learn_alloc((size_t)d * n, sizeof(float));
    float *packed = dl_learn_alloc(packed_floats, sizeof(float));
    float *dots = dl_learn_alloc((size_t)SV_BLOCK * n, sizeof(float));
    float *block = M->sv_at ? dl_learn_alloc((size_t)SV_BLOCK * d, sizeof(float)) : NULL;   /* borrowed SVs, gathered */
    const char *err = NULL;
    if (!kvalue || !xsq || !start || !xt || !packed || !dots || (M->sv_at && !block)) { err = "out of memory"; goto done; }
    for (int k = 1; k < K; k++) start[k] = start[k - 1] + M->sv_count[k - 1];
    for (int r = 0; r < n; r++) {
        xsq[r] = f32_dot((size_t)d, x + (size_t)r * d, x + (size_t)r * d);
        for (int f = 0; f < d; f++) xt[(size_t)f * n + r] = x[(size_t)r * d + f];
    }
    f32_gemm_pack((size_t)d, (size_t)n, xt, NULL, packed);
    for (int t0 = 0; t0 < L; t0 += SV_BLOCK) {
        int m = L - t0 < SV_BLOCK ? L - t0 : SV_BLOCK;
        const float *sv = M->sv_at ? block : M->sv + (size_t)t0 * d;
        for (int t = 0; M->sv_at && t < m; t++) dl_row_to_f32(M->sv_at[t0 + t], M->sv_f16, d, block + (size_t)t * d);
        f32_gemm((size_t)m, (size_t)n, (size_t)d, sv, (size_t)d, packed, dots, (size_t)n, -INFINITY, INFINITY);
        for (int t = 0; t < m; t++) {
            double svsq = M->sv_sq[t0 + t];
            for (int r = 0; r < n; r++) {
                double dist = xsq[r] + svsq - 2.0 * dots[(size_t)t * n + r];
                kvalue[(size_t)r * L + t0 + t] = exp(-M->gamma * dist);
            }
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
done:
    free(kvalue); free(xsq); free(start); free(xt); free(packed); free(dots); free(block);
    return err;
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
    dl_rbf_svm_model *m = model_new(k, d, (int)total_sv, 0);
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
    return fill_sv_sq(m, d);
}

static void rbf_write(const dl_classifier *c, dl_clf_bytes *out) {
    const dl_rbf_svm_model *m = c->model;
    int k = c->num_classes;
    dl_clf_put_f64s(out, &m->gamma, 1);
    for (int i = 0; i < k; i++) dl_clf_put_u32(out, (uint32_t)m->sv_count[i]);
    dl_clf_put_f64s(out, m->rho, (size_t)k * (k - 1) / 2);
    dl_clf_put_f64s(out, m->sv_coef, (size_t)(k - 1) * m->total_sv);
    if (!m->sv_at) dl_clf_put_f32s(out, m->sv, (size_t)m->total_sv * c->num_features);
    else for (int t = 0; t < m->total_sv; t++) {   /* borrowed rows; float16 ones are written as the float32 they stand for */
        enum { PIECE = 256 };
        float piece[PIECE];
        for (size_t f = 0, d = (size_t)c->num_features; f < d; f += PIECE) {
            size_t len = d - f < PIECE ? d - f : PIECE;
            const void *from = m->sv_f16 ? (const void *)((const uint16_t *)m->sv_at[t] + f) : (const void *)((const float *)m->sv_at[t] + f);
            dl_clf_put_f32s(out, dl_row_f32(from, m->sv_f16, (int)len, piece), len);
        }
    }
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

void dl_rbf_svm_params_from_values(const double *values, dl_rbf_svm_params *p) { *p = params_from(values); }

static const char *rbf_fit(const float *x, const int *y, int n, int d, const double *v,
                           dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_rbf_svm_params p = params_from(v);
    return dl_rbf_svm_train(x, y, n, d, &p, progress, user, out, report);
}

static const char *rbf_fit_rows(const dl_rows *x, const int *y, const double *v,
                                dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    dl_rbf_svm_params p = params_from(v);
    return dl_rbf_svm_train_rows(x, y, &p, progress, user, out, report);
}

const dl_classifier_kind dl_rbf_svm_kind = {
    "rbf-svm", 2, "RBF-kernel SVM, one-vs-one (LIBSVM's SMO)",
    rbf_params, NUM_PARAMS, rbf_fit, rbf_votes, rbf_file_param,
    rbf_payload_size, rbf_read, rbf_write, model_free, rbf_fit_rows,
};
