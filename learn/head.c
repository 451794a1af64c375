/* head.c — see head.h. */
#include "learn/head.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the head ------------------------------------------------------------- */

static size_t layer2_in(const dl_head *h) { return h->hidden ? h->hidden : h->in; }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* SIZE_MAX on overflow (the kernels' *_size convention). */
static size_t add_sizes(size_t a, size_t b) { size_t r; return dl_add(a, b, &r) ? r : SIZE_MAX; }

size_t dl_head_packed_floats(const dl_head *h) {
    size_t p2 = f32_gemm_packed_size(layer2_in(h), h->k);
    return h->hidden ? add_sizes(f32_gemm_packed_size(h->in, h->hidden), p2) : p2;
}

size_t dl_head_scratch_floats(const dl_head *h, size_t rows) {
    size_t dhid, mm2 = f32_matmul_scratch_size(rows, layer2_in(h), h->k);
    if (!h->hidden) return mm2;
    if (!dl_mul(rows, h->hidden, &dhid)) return SIZE_MAX;
    return add_sizes(dhid, max_size(mm2, f32_matmul_scratch_size(rows, h->in, h->hidden)));
}

void dl_head_pack(const dl_head *h, float *packed) {
    if (h->hidden) {
        f32_gemm_pack(h->in, h->hidden, h->w1, h->b1, packed);
        packed += f32_gemm_packed_size(h->in, h->hidden);
    }
    f32_gemm_pack(layer2_in(h), h->k, h->w2, h->b2, packed);
}

void dl_head_forward(const dl_head *h, const float *packed, const float *x, size_t rows, float *hid, float *p) {
    if (h->hidden) {
        f32_gemm(rows, h->hidden, h->in, x, h->in, packed, hid, h->hidden, 0.0f, INFINITY);
        packed += f32_gemm_packed_size(h->in, h->hidden);
        x = hid;
    }
    size_t in2 = layer2_in(h);
    f32_gemm(rows, h->k, in2, x, in2, packed, p, h->k, -INFINITY, INFINITY);
    f32_softmax(rows, h->k, p, p);
}

double dl_head_backward(const dl_head *h, const dl_head *grad, const float *x, const float *hid, float *p,
                        const int *y, size_t rows, float *dx, float *scratch) {
    const f32_variant v = F32_WASMSIMD;
    double loss = f32_softmax_cross_entropy_backward(rows, h->k, p, y, p);
    if (!h->hidden) {
        f32_dense_backward(v, rows, h->in, h->k, x, p, h->w2, dx, grad->w2, grad->b2, scratch);
        return loss;
    }
    float *dhid = scratch, *mm = scratch + rows * h->hidden;
    f32_dense_backward(v, rows, h->hidden, h->k, hid, p, h->w2, dhid, grad->w2, grad->b2, mm);
    f32_relu_backward(rows, h->hidden, hid, h->hidden, dhid, h->hidden, dhid, h->hidden);
    f32_dense_backward(v, rows, h->in, h->hidden, x, dhid, h->w1, dx, grad->w1, grad->b1, mm);
    return loss;
}

long dl_head_correct(const float *p, const int *y, size_t rows, size_t k) {
    long ok = 0;
    for (size_t i = 0; i < rows; i++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
        ok += (int)best == y[i];
    }
    return ok;
}

/* ---- Adam ----------------------------------------------------------------- */

const char *dl_adam_init(dl_adam *a, size_t n, double beta1, double beta2, double epsilon) {
    *a = (dl_adam){n, NULL, NULL, NULL, 0, beta1, beta2, epsilon};
    a->grad = dl_learn_alloc(n, sizeof(float));
    a->m = dl_learn_alloc(n, sizeof(float));
    a->v = dl_learn_alloc(n, sizeof(float));
    if (a->grad && a->m && a->v) return NULL;
    dl_adam_free(a);
    return "out of memory for Adam's moments";
}

void dl_adam_step(dl_adam *a, float *params, double lr) {
    a->t++;
    double lr_t = lr * sqrt(1 - pow(a->beta2, (double)a->t)) / (1 - pow(a->beta1, (double)a->t));
    f32_adam_update(a->n, params, a->grad, a->m, a->v, (float)lr_t, (float)a->beta1, (float)a->beta2, (float)a->epsilon);
}

void dl_adam_free(dl_adam *a) {
    free(a->grad); free(a->m); free(a->v);
    a->grad = a->m = a->v = NULL;
}

/* ---- Keras' fit() --------------------------------------------------------- */

static int all_finite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(p[i])) return 0;
    return 1;
}

const char *dl_fit_loop_run(const dl_fit_loop *f, const float *x, const int *y, int n, int d, dl_rng *rng,
                            dl_learn_progress_fn progress, void *user, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_fit_loop_run_rows(f, &rows, y, rng, progress, user, report);
}

const char *dl_fit_loop_run_rows(const dl_fit_loop *f, const dl_rows *x, const int *y, dl_rng *rng,
                                 dl_learn_progress_fn progress, void *user, dl_train_report *report) {
    int n = x->n, d = x->d;
    int B = f->batch_size < n ? f->batch_size : n;
    int early = f->patience > 0 && f->validate;
    size_t xb_floats, params_bytes;
    if (B < 1 || !dl_mul((size_t)B, (size_t)d, &xb_floats) || !dl_mul(f->num_params, sizeof(float), &params_bytes))
        return dl_errorf("%s: a batch of %d rows of %d features is too large for this platform", f->phase, B, d);
    dl_adam adam;
    const char *err = dl_adam_init(&adam, f->num_params, f->beta1, f->beta2, f->epsilon);
    if (err) return err;
    float *xb = dl_learn_alloc(xb_floats, sizeof(float));
    float *best = early ? dl_learn_alloc(f->num_params, sizeof(float)) : NULL;
    int *order = dl_learn_alloc((size_t)n, sizeof(int)), *yb = dl_learn_alloc((size_t)B, sizeof(int));
    if (report) {
        report->loss = dl_learn_alloc((size_t)f->epochs, sizeof(double));
        report->train_acc = dl_learn_alloc((size_t)f->epochs, sizeof(double));
        report->val_acc = dl_learn_alloc((size_t)f->epochs, sizeof(double));
    }
    if (!xb || (early && !best) || !order || !yb || (report && (!report->loss || !report->train_acc || !report->val_acc))) {
        err = "out of memory";
        goto done;
    }
    for (int i = 0; i < n; i++) order[i] = i;
    if (f->updated) f->updated(f->self);
    if (early) memcpy(best, f->params, params_bytes);
    double best_loss = INFINITY;
    int wait = 0;
    for (int ep = 0; ep < f->epochs; ep++) {
        dl_rng_shuffle(rng, order, n);
        double loss_sum = 0;
        long correct = 0;
        for (int b0 = 0; b0 < n; b0 += B) {
            int m = n - b0 < B ? n - b0 : B;
            for (int i = 0; i < m; i++) {
                int r = order[b0 + i];
                float *row = xb + (size_t)i * d;   /* float16: converted here, then standardised in place */
                dl_standardize_row(dl_rows_row(x, r, row), f->mean, f->std, d, row);
                yb[i] = y[r];
            }
            loss_sum += f->batch(f->self, xb, yb, m, &correct, adam.grad);
            dl_adam_step(&adam, f->params, f->lr);
            if (f->updated) f->updated(f->self);
        }
        dl_learn_progress pr = {f->phase, ep + 1, f->epochs, adam.t, loss_sum / n, (double)correct / n, -1, -1};
        if (f->validate && (err = f->validate(f->self, &pr.val_acc, &pr.val_loss))) goto done;
        if (!isfinite(pr.loss) || !all_finite(f->params, f->num_params)) {
            err = dl_errorf("%s: loss diverged at epoch %d (lower the learning rate)", f->phase, ep + 1);
            goto done;
        }
        if (report) {
            report->epochs = ep + 1;
            report->loss[ep] = pr.loss; report->train_acc[ep] = pr.train_acc; report->val_acc[ep] = pr.val_acc;
        }
        int stop = progress ? progress(user, &pr) : 0;
        if (stop && stop != DL_FIT_STOP) { err = DL_CANCELLED; goto done; }
        if (!early) { if (stop) break; continue; }
        /* EarlyStopping(monitor='val_loss', patience, restore_best_weights=True) */
        if (pr.val_loss < best_loss) {
            best_loss = pr.val_loss;
            wait = 0;
            memcpy(best, f->params, params_bytes);
        } else if (++wait >= f->patience) {
            break;
        }
        if (stop) break;
    }
    if (early) {
        memcpy(f->params, best, params_bytes);
        if (f->updated) f->updated(f->self);
    }
done:
    dl_adam_free(&adam);
    free(xb); free(best); free(order); free(yb);
    return err;
}
