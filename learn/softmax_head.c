/* softmax_head.c — see softmax_head.h. */
#include "learn/softmax_head.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dl_softmax_default_params(dl_softmax_params *p) {
    p->hidden = 128; p->epochs = 10; p->batch_size = 32; p->lr = 1e-3;
    p->beta1 = 0.9; p->beta2 = 0.999; p->epsilon = 1e-7;
    p->standardize = 1; p->seed = 1;
}

/* Layers are trained in [out][in] layout ("wt") so that both the forward
 * pass (dots over in) and the weight gradient (axpys over in) run along
 * contiguous rows; the classifier stores Keras' [in][out] layout. */
static void transpose(const float *a, int rows, int cols, float *t) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) t[(size_t)j * rows + i] = a[(size_t)i * cols + j];
}

/* Y[b][out] = X[b][in] . Wt[out][in]^T + bias, optionally relu. */
static void dense_forward(const float *X, int B, int in, const float *Wt, const float *bias,
                          int out, float *Y, int relu) {
    for (int i = 0; i < B; i++) {
        const float *x = X + (size_t)i * in;
        float *y = Y + (size_t)i * out;
        for (int o = 0; o < out; o++) {
            float v = dl_dot_f32(x, Wt + (size_t)o * in, (size_t)in) + bias[o];
            y[o] = relu && v < 0 ? 0 : v;
        }
    }
}

/* dWt += dY^T X, db += column sums of dY. */
static void dense_grad_w(const float *X, int B, int in, const float *dY, int out, float *dWt, float *db) {
    for (int i = 0; i < B; i++) {
        const float *x = X + (size_t)i * in, *dy = dY + (size_t)i * out;
        for (int o = 0; o < out; o++)
            if (dy[o] != 0.0f) { dl_axpy_f32(dy[o], x, dWt + (size_t)o * in, (size_t)in); db[o] += dy[o]; }
    }
}

/* Row-wise softmax in place; returns sum of -log p[label] if labels given. */
static double softmax_rows(float *z, int B, int k, const int *labels) {
    double loss = 0;
    for (int i = 0; i < B; i++) {
        float *r = z + (size_t)i * k;
        float m = r[0];
        for (int j = 1; j < k; j++) if (r[j] > m) m = r[j];
        double s = 0;
        for (int j = 0; j < k; j++) s += exp((double)r[j] - m);
        if (labels) loss += log(s) - ((double)r[labels[i]] - m);
        for (int j = 0; j < k; j++) r[j] = (float)(exp((double)r[j] - m) / s);
    }
    return loss;
}

static int argmax(const float *r, int k) {
    int b = 0;
    for (int j = 1; j < k; j++) if (r[j] > r[b]) b = j;
    return b;
}

const char *dl_softmax_head_forward(const dl_classifier *c, const float *x, int n, float *probs) {
    int d = c->num_features, k = c->num_classes, h = c->hidden, in2 = h ? h : d;
    float *w2t = dl_learn_alloc((size_t)in2 * k, sizeof(float));
    float *w1t = h ? dl_learn_alloc((size_t)d * h, sizeof(float)) : NULL;
    float *a = h ? dl_learn_alloc((size_t)n * h, sizeof(float)) : NULL;
    if (!w2t || (h && (!w1t || !a))) { free(w2t); free(w1t); free(a); return "out of memory"; }
    transpose(c->w2, in2, k, w2t);
    if (h) {
        transpose(c->w1, d, h, w1t);
        dense_forward(x, n, d, w1t, c->b1, h, a, 1);
        x = a;
    }
    dense_forward(x, n, in2, w2t, c->b2, k, probs, 0);
    softmax_rows(probs, n, k, NULL);
    free(w2t); free(w1t); free(a);
    return NULL;
}

static void glorot_uniform(dl_rng *rng, float *w, int fan_in, int fan_out) {
    double limit = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < (size_t)fan_in * fan_out; i++) w[i] = (float)((2 * dl_rng_uniform(rng) - 1) * limit);
}

/* One Keras Adam step on a parameter array. */
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
    if (P.hidden < 0 || P.hidden > 65536) return dl_errorf("softmax: hidden must be 0..65536 (got %d)", P.hidden);
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
    int in2 = H ? H : d;                             /* inputs of the output layer */
    size_t n1 = H ? (size_t)d * H + H : 0;           /* params of layer 1 (w1, b1) */
    size_t n2 = (size_t)in2 * K + K;                 /* params of layer 2 (w2, b2) */
    dl_classifier *c = dl_classifier_alloc(DL_CLF_SOFTMAX, K, d, P.standardize, H);
    float *grad = dl_learn_alloc(n1 + n2, sizeof(float));
    float *mom = dl_learn_alloc(2 * (n1 + n2), sizeof(float));   /* m then v */
    float *xb = dl_learn_alloc((size_t)B * d, sizeof(float));
    float *a1 = dl_learn_alloc((size_t)B * (H ? H : 1), sizeof(float));
    float *z2 = dl_learn_alloc((size_t)B * K, sizeof(float));
    float *da = dl_learn_alloc((size_t)B * (H ? H : 1), sizeof(float));
    int *order = dl_learn_alloc((size_t)n, sizeof(int)), *yb = dl_learn_alloc((size_t)B, sizeof(int));
    int *pv = dl_learn_alloc((size_t)(nv ? nv : 1), sizeof(int));
    float *w1t = H ? dl_learn_alloc((size_t)d * H, sizeof(float)) : NULL;   /* [H][d] */
    float *w2t = dl_learn_alloc((size_t)in2 * K, sizeof(float));             /* [K][in2] */
    if (report) {
        report->epochs = P.epochs;
        report->loss = dl_learn_alloc((size_t)P.epochs, sizeof(double));
        report->train_acc = dl_learn_alloc((size_t)P.epochs, sizeof(double));
        report->val_acc = dl_learn_alloc((size_t)P.epochs, sizeof(double));
    }
    if (!c || !grad || !mom || !xb || !a1 || !z2 || !da || !order || !yb || !pv || (H && !w1t) || !w2t ||
        (report && (!report->loss || !report->train_acc || !report->val_acc))) {
        err = "out of memory";
        goto done;
    }
    if (P.standardize && (err = dl_standardize_fit(x, n, d, c->mean, c->std))) goto done;

    dl_rng rng;
    dl_rng_seed(&rng, P.seed);
    if (H) glorot_uniform(&rng, c->w1, d, H);
    glorot_uniform(&rng, c->w2, in2, K);
    if (H) transpose(c->w1, d, H, w1t);
    transpose(c->w2, in2, K, w2t);
    /* Gradient and moment arrays are laid out [w1t b1 w2t b2]. */
    float *gw1 = grad, *gb1 = grad + (H ? (size_t)d * H : 0), *gw2 = grad + n1, *gb2 = gw2 + (size_t)in2 * K;
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
            const float *in = xb;
            if (H) { dense_forward(xb, m, d, w1t, c->b1, H, a1, 1); in = a1; }
            dense_forward(in, m, in2, w2t, c->b2, K, z2, 0);
            loss_sum += softmax_rows(z2, m, K, yb);
            for (int i = 0; i < m; i++) {
                float *g = z2 + (size_t)i * K;   /* dLoss/dlogits = (p - onehot) / m */
                correct += argmax(g, K) == yb[i];
                g[yb[i]] -= 1.0f;
                for (int j = 0; j < K; j++) g[j] /= (float)m;
            }
            memset(grad, 0, sizeof(float) * (n1 + n2));
            dense_grad_w(in, m, in2, z2, K, gw2, gb2);
            if (H) {
                for (int i = 0; i < m; i++) {   /* da = dz2 . w2^T, masked by relu */
                    float *dai = da + (size_t)i * H;
                    const float *ai = a1 + (size_t)i * H, *gi = z2 + (size_t)i * K;
                    memset(dai, 0, sizeof(float) * H);
                    for (int o = 0; o < K; o++) dl_axpy_f32(gi[o], w2t + (size_t)o * H, dai, (size_t)H);
                    for (int h = 0; h < H; h++) if (!(ai[h] > 0)) dai[h] = 0;
                }
                dense_grad_w(xb, m, d, da, H, gw1, gb1);
            }
            t++;
            double lr_t = P.lr * sqrt(1 - pow(P.beta2, (double)t)) / (1 - pow(P.beta1, (double)t));
            float *mm = mom, *vv = mom + n1 + n2;
            if (H) {
                adam(w1t, gw1, mm, vv, (size_t)d * H, lr_t, &P);
                adam(c->b1, gb1, mm + (size_t)d * H, vv + (size_t)d * H, (size_t)H, lr_t, &P);
            }
            adam(w2t, gw2, mm + n1, vv + n1, (size_t)in2 * K, lr_t, &P);
            adam(c->b2, gb2, mm + n1 + (size_t)in2 * K, vv + n1 + (size_t)in2 * K, (size_t)K, lr_t, &P);
        }
        if (H) transpose(w1t, H, d, c->w1);   /* back to Keras' [in][out] */
        transpose(w2t, K, in2, c->w2);
        double val_acc = -1;
        if (nv > 0) {
            if ((err = dl_classifier_predict(c, xv, nv, pv, NULL))) goto done;
            long ok = 0;
            for (int i = 0; i < nv; i++) ok += pv[i] == yv[i];
            val_acc = (double)ok / nv;
        }
        dl_learn_progress pr = {"softmax", ep + 1, P.epochs, t, loss_sum / n, (double)correct / n, val_acc};
        if (!isfinite(pr.loss)) { err = dl_errorf("softmax: loss diverged at epoch %d (lower the learning rate)", ep + 1); goto done; }
        if (report) { report->loss[ep] = pr.loss; report->train_acc[ep] = pr.train_acc; report->val_acc[ep] = val_acc; }
        if (progress && progress(user, &pr)) { err = DL_CANCELLED; goto done; }
    }
done:
    free(grad); free(mom); free(xb); free(a1); free(z2); free(da); free(order); free(yb); free(pv); free(w1t); free(w2t);
    if (err) {
        dl_classifier_free(c);
        dl_train_report_free(report);
        return err;
    }
    *out = c;
    return NULL;
}
