/* learn_test.c — unit tests of learn/: IDX parsing and its corruptions, the
 * classifier file format and its corruptions (hostile sizes included), the
 * kinds table, input validation, small separable problems for every
 * classifier, the softmax head's gradients against finite differences,
 * determinism and cancellation.
 * Prints one line per failed check and "learn_test: N checks, M failed". */
#include "common/checked.h"
#include "common/crc32.h"
#include "kernels/kernels.h"
#include "learn/experiment.h"
#include "learn/idx.h"
#include "learn/kernel_svm.h"
#include "learn/linear_svm.h"
#include "learn/metrics.h"
#include "learn/softmax_head.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; \
    printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)
/* err must be non-NULL and contain `part`. */
#define CHECK_ERR(err, part) do { const char *e_ = (err); \
    CHECK(e_ && strstr(e_, part), "expected error containing \"%s\", got \"%s\"", part, e_ ? e_ : "(success)"); } while (0)
#define CHECK_OK(err) do { const char *e_ = (err); CHECK(!e_, "unexpected error: %s", e_); } while (0)

/* ---- IDX ---------------------------------------------------------------- */

static size_t make_idx(uint8_t *b, int dims, uint32_t count, uint32_t rows, uint32_t cols) {
    size_t p = 0;
    b[p++] = 0; b[p++] = 0; b[p++] = 0x08; b[p++] = (uint8_t)dims;
    uint32_t v[3] = {count, rows, cols};
    for (int i = 0; i < dims; i++) { b[p++] = v[i] >> 24; b[p++] = v[i] >> 16; b[p++] = v[i] >> 8; b[p++] = v[i]; }
    size_t data = (size_t)count * (dims == 3 ? rows * cols : 1);
    for (size_t i = 0; i < data; i++) b[p++] = (uint8_t)(i * 37 % (dims == 3 ? 256 : 10));
    return p;
}

static void test_idx(void) {
    uint8_t im[64], lb[64];
    size_t ni = make_idx(im, 3, 3, 2, 2), nl = make_idx(lb, 1, 3, 0, 0);
    dl_idx a, l;
    CHECK_OK(dl_idx_parse_images(im, ni, &a));
    CHECK(a.count == 3 && a.rows == 2 && a.cols == 2 && a.data == im + 16, "images header");
    CHECK_OK(dl_idx_parse_labels(lb, nl, &l));
    CHECK(l.count == 3 && l.data == lb + 8, "labels header");
    CHECK_OK(dl_idx_check_pair(&a, &l));
    CHECK(dl_idx_num_classes(&l) == 8, "num_classes %d", dl_idx_num_classes(&l));   /* labels 0, 7, 4 */
    float f[12]; int y[3];
    CHECK_OK(dl_idx_images_to_f32(&a, 1, 2, 1.0f / 255, f));
    CHECK(fabsf(f[0] - im[16 + 4] / 255.0f) < 1e-7f, "pixel scaling");
    CHECK_ERR(dl_idx_images_to_f32(&a, 2, 2, 1, f), "outside");
    CHECK_OK(dl_idx_labels_to_int(&l, 0, 3, y));
    CHECK(y[1] == 7, "label value");

    CHECK_ERR(dl_idx_parse_images(im, 3, &a), "too short");
    uint8_t gz[20] = {0x1F, 0x8B, 8, 0};
    CHECK_ERR(dl_idx_parse_images(gz, sizeof gz, &a), "bad magic");
    uint8_t t[64];
    memcpy(t, im, ni); t[2] = 0x0D;
    CHECK_ERR(dl_idx_parse_images(t, ni, &a), "unsupported data type float32");
    CHECK_ERR(dl_idx_parse_images(lb, nl, &a), "swapped");
    CHECK_ERR(dl_idx_parse_labels(im, ni, &l), "swapped");
    CHECK_ERR(dl_idx_parse_images(im, 10, &a), "truncated header");
    CHECK_ERR(dl_idx_parse_images(im, ni - 1, &a), "truncated: header declares 3 images of 2x2 (12 bytes) but only 11");
    CHECK_ERR(dl_idx_parse_labels(lb, nl - 1, &l), "truncated");
    memcpy(t, im, ni); t[ni] = 0;
    CHECK_ERR(dl_idx_parse_images(t, ni + 1, &a), "1 trailing bytes");
    memcpy(t, im, ni); t[7] = 0;   /* count 0 */
    CHECK_ERR(dl_idx_parse_images(t, ni, &a), "0 items");
    memcpy(t, im, ni); t[11] = 0;   /* rows 0 */
    CHECK_ERR(dl_idx_parse_images(t, ni, &a), "bad image size");
    memcpy(t, im, ni); t[4] = 0x7F;   /* absurd count: truncated */
    CHECK_ERR(dl_idx_parse_images(t, ni, &a), "truncated");
    memcpy(t, im, ni); t[8] = 0xFF;   /* absurd rows */
    CHECK_ERR(dl_idx_parse_images(t, ni, &a), "absurd");
    dl_idx l2;
    uint8_t lb2[64];
    size_t nl2 = make_idx(lb2, 1, 4, 0, 0);
    CHECK_OK(dl_idx_parse_labels(lb2, nl2, &l2));
    CHECK_OK(dl_idx_parse_images(im, ni, &a));
    CHECK_ERR(dl_idx_check_pair(&a, &l2), "3 images but 4 labels");
    /* Every truncation of a good file is an error, never a crash. */
    for (size_t k = 0; k < ni; k++) CHECK(dl_idx_parse_images(im, k, &a) != NULL, "prefix %zu accepted", k);
}

/* ---- data sets ---------------------------------------------------------- */

/* k well-separated Gaussian-ish blobs in d dimensions (deterministic). */
static void blobs(int n, int d, int k, float spread, uint64_t seed, float *x, int *y) {
    dl_rng r; dl_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = i % k;
        for (int j = 0; j < d; j++) {
            double u = dl_rng_uniform(&r) + dl_rng_uniform(&r) + dl_rng_uniform(&r) - 1.5;
            x[(size_t)i * d + j] = (float)((j % k == y[i] ? 4.0 : 0.0) + 10.0 * (j == d - 1) + spread * u);
        }
    }
}

static double train_accuracy(const dl_classifier *c, const float *x, const int *y, int n) {
    int *p = malloc(sizeof(int) * n);
    const char *err = dl_classifier_predict(c, x, n, p, NULL);
    double acc = err ? -1 : dl_accuracy(y, p, n);
    free(p);
    return acc;
}

typedef const char *(*train_fn)(const float *, const int *, int, int, dl_classifier **, dl_train_report *);
static const char *train_linear(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    return dl_linear_svm_train(x, y, n, d, NULL, NULL, NULL, c, r);
}
static const char *train_linear_l1(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    dl_linear_svm_params p; dl_linear_svm_default_params(&p);
    p.loss = 1; p.standardize = 0;
    return dl_linear_svm_train(x, y, n, d, &p, NULL, NULL, c, r);
}
static const char *train_rbf(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    return dl_rbf_svm_train(x, y, n, d, NULL, NULL, NULL, c, r);
}
static const char *train_rbf_std(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    dl_rbf_svm_params p; dl_rbf_svm_default_params(&p);
    p.standardize = 1; p.cache_mb = 0.01;   /* tiny cache: exercises eviction */
    return dl_rbf_svm_train(x, y, n, d, &p, NULL, NULL, c, r);
}
static const char *train_softmax0(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    dl_softmax_params p; dl_softmax_default_params(&p);
    p.hidden = 0; p.epochs = 20; p.lr = 1e-2;
    return dl_softmax_train(x, y, n, d, x, y, n, &p, NULL, NULL, c, r);
}
static const char *train_softmax16(const float *x, const int *y, int n, int d, dl_classifier **c, dl_train_report *r) {
    dl_softmax_params p; dl_softmax_default_params(&p);
    p.hidden = 16; p.epochs = 10; p.batch_size = 16;
    return dl_softmax_train(x, y, n, d, NULL, NULL, 0, &p, NULL, NULL, c, r);
}

static const struct { const char *name; train_fn fn; } trainers[] = {
    {"linear-svm (L2 loss)", train_linear}, {"linear-svm (L1 loss)", train_linear_l1},
    {"rbf-svm", train_rbf}, {"rbf-svm (standardised, tiny cache)", train_rbf_std},
    {"softmax (hidden 0)", train_softmax0}, {"softmax (hidden 16)", train_softmax16},
};
#define NTRAINERS (int)(sizeof trainers / sizeof trainers[0])

/* ---- round trip and corruption of the file format ------------------------- */

static void test_roundtrip(const char *name, dl_classifier *c, const float *x, int n) {
    uint8_t *buf, *buf2; size_t size, size2;
    CHECK_OK(dl_classifier_save(c, &buf, &size));
    dl_classifier *c2 = NULL;
    CHECK_OK(dl_classifier_load(buf, size, &c2));
    if (!c2) { free(buf); return; }
    CHECK_OK(dl_classifier_save(c2, &buf2, &size2));
    CHECK(size == size2 && memcmp(buf, buf2, size) == 0, "%s: save(load(save)) differs", name);
    free(buf2);
    int k = c->num_classes;
    float *s1 = malloc(sizeof(float) * n * k), *s2 = malloc(sizeof(float) * n * k);
    int *p1 = malloc(sizeof(int) * n), *p2 = malloc(sizeof(int) * n);
    CHECK_OK(dl_classifier_predict(c, x, n, p1, s1));
    CHECK_OK(dl_classifier_predict(c2, x, n, p2, s2));
    CHECK(memcmp(p1, p2, sizeof(int) * n) == 0 && memcmp(s1, s2, sizeof(float) * n * k) == 0,
          "%s: reloaded classifier predicts differently", name);
    free(s1); free(s2); free(p1); free(p2);
    dl_classifier_free(c2);

    /* Corruptions: every byte flipped, every truncation, a trailing byte. */
    uint8_t *t = malloc(size + 1);
    int accepted = 0;
    for (size_t i = 0; i < size; i++) {
        memcpy(t, buf, size);
        t[i] ^= 0x5A;
        dl_classifier *bad = NULL;
        if (!dl_classifier_load(t, size, &bad)) { accepted++; dl_classifier_free(bad); }
        CHECK(bad == NULL || !accepted, "out set on failure");
    }
    CHECK(accepted == 0, "%s: %d corrupted files accepted", name, accepted);
    accepted = 0;
    for (size_t len = 0; len < size; len += 1 + len / 8) {
        dl_classifier *bad = NULL;
        if (!dl_classifier_load(buf, len, &bad)) { accepted++; dl_classifier_free(bad); }
    }
    CHECK(accepted == 0, "%s: %d truncated files accepted", name, accepted);
    memcpy(t, buf, size); t[size] = 0;
    dl_classifier *bad = NULL;
    CHECK_ERR(dl_classifier_load(t, size + 1, &bad), "trailing");
    CHECK_ERR(dl_classifier_load(buf, size - 1, &bad), "truncated");
    memcpy(t, buf, size); t[0] = 'X';
    CHECK_ERR(dl_classifier_load(t, size, &bad), "bad magic");
    memcpy(t, buf, size); t[8] = 2;
    CHECK_ERR(dl_classifier_load(t, size, &bad), "unsupported version 2");
    memcpy(t, buf, size); t[size - 10] ^= 1;
    CHECK_ERR(dl_classifier_load(t, size, &bad), "checksum");
    memcpy(t, buf, size); t[32] += 4;
    CHECK_ERR(dl_classifier_load(t, size, &bad), "payload size");
    free(t);
    free(buf);
}

/* ---- error paths ---------------------------------------------------------- */

static int cancel_after(void *user, const dl_learn_progress *p) {
    int *left = user;
    return --*left <= 0;
}

/* DL_FIT_STOP at epoch *user (the page's Stop during an Adam-trained fit). */
static int stop_at(void *user, const dl_learn_progress *p) {
    return p->step >= *(int *)user ? DL_FIT_STOP : 0;
}

static void test_errors(void) {
    float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    int y[4] = {0, 1, 0, 1}, y1[4] = {1, 1, 1, 1}, yskip[4] = {0, 2, 0, 2}, yneg[4] = {0, -1, 0, 1};
    dl_classifier *c = NULL;
    dl_linear_svm_params lp; dl_linear_svm_default_params(&lp);
    CHECK_ERR(dl_linear_svm_train(x, y, 0, 3, NULL, NULL, NULL, &c, NULL), "n = 0");
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 0, NULL, NULL, NULL, &c, NULL), "d = 0");
    CHECK_ERR(dl_linear_svm_train(x, y1, 4, 3, NULL, NULL, NULL, &c, NULL), "single class");
    CHECK_ERR(dl_rbf_svm_train(x, y1, 4, 3, NULL, NULL, NULL, &c, NULL), "single class");
    CHECK_ERR(dl_softmax_train(x, y1, 4, 3, NULL, NULL, 0, NULL, NULL, NULL, &c, NULL), "single class");
    CHECK_ERR(dl_linear_svm_train(x, yskip, 4, 3, NULL, NULL, NULL, &c, NULL), "class 1 has no training samples");
    CHECK_ERR(dl_linear_svm_train(x, yneg, 4, 3, NULL, NULL, NULL, &c, NULL), "label -1 at row 1");
    x[5] = NAN;
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 3, NULL, NULL, NULL, &c, NULL), "NaN at row 1, column 2");
    CHECK_ERR(dl_rbf_svm_train(x, y, 4, 3, NULL, NULL, NULL, &c, NULL), "NaN at row 1, column 2");
    x[5] = INFINITY;
    CHECK_ERR(dl_softmax_train(x, y, 4, 3, NULL, NULL, 0, NULL, NULL, NULL, &c, NULL), "infinite at row 1, column 2");
    x[5] = 5;
    lp.C = 0;
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 3, &lp, NULL, NULL, &c, NULL), "C must be > 0");
    lp.C = -1;
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 3, &lp, NULL, NULL, &c, NULL), "C must be > 0");
    lp.C = NAN;
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 3, &lp, NULL, NULL, &c, NULL), "C must be > 0");
    dl_linear_svm_default_params(&lp); lp.loss = 3;
    CHECK_ERR(dl_linear_svm_train(x, y, 4, 3, &lp, NULL, NULL, &c, NULL), "loss must be");
    dl_rbf_svm_params rp; dl_rbf_svm_default_params(&rp); rp.C = -2;
    CHECK_ERR(dl_rbf_svm_train(x, y, 4, 3, &rp, NULL, NULL, &c, NULL), "C must be > 0");
    dl_rbf_svm_default_params(&rp); rp.tol = 0;
    CHECK_ERR(dl_rbf_svm_train(x, y, 4, 3, &rp, NULL, NULL, &c, NULL), "tol must be > 0");
    dl_softmax_params sp; dl_softmax_default_params(&sp); sp.epochs = 0;
    CHECK_ERR(dl_softmax_train(x, y, 4, 3, NULL, NULL, 0, &sp, NULL, NULL, &c, NULL), "epochs");
    dl_softmax_default_params(&sp); sp.lr = -1;
    CHECK_ERR(dl_softmax_train(x, y, 4, 3, NULL, NULL, 0, &sp, NULL, NULL, &c, NULL), "learning rate");
    int yv[2] = {0, 5};
    CHECK_ERR(dl_softmax_train(x, y, 4, 3, x, yv, 2, NULL, NULL, NULL, &c, NULL), "validation label 5 at row 1");
    CHECK(c == NULL, "classifier set on failure");

    /* Prediction input validation and the metrics helpers. */
    CHECK_OK(dl_linear_svm_train(x, y, 4, 3, NULL, NULL, NULL, &c, NULL));
    if (c) {
        float q[6] = {1, 2, 3, 4, NAN, 6};
        int p[2];
        CHECK_ERR(dl_classifier_predict(c, q, 2, p, NULL), "NaN at row 1, column 1");
        CHECK_ERR(dl_classifier_predict(c, q, -1, p, NULL), "negative");
        CHECK_OK(dl_classifier_predict(c, q, 0, p, NULL));
        dl_classifier_free(c);
        c = NULL;
    }
    int t[5] = {0, 1, 2, 2, 1}, pr[5] = {0, 2, 2, 2, 1}, cm[9];
    CHECK(fabs(dl_accuracy(t, pr, 5) - 0.8) < 1e-12, "accuracy");
    CHECK_OK(dl_confusion_matrix(t, pr, 5, 3, cm));
    CHECK(cm[0] == 1 && cm[1 * 3 + 2] == 1 && cm[1 * 3 + 1] == 1 && cm[2 * 3 + 2] == 2, "confusion matrix");
    pr[3] = 3;
    CHECK_ERR(dl_confusion_matrix(t, pr, 5, 3, cm), "predicted label 3 at row 3");

    /* Cancellation from the progress callback, for every trainer. */
    enum { N = 60, D = 4 };
    float bx[N * D]; int by[N];
    blobs(N, D, 3, 1.0f, 7, bx, by);
    int left = 1;
    CHECK(dl_linear_svm_train(bx, by, N, D, NULL, cancel_after, &left, &c, NULL) == DL_CANCELLED, "linear cancel");
    left = 2;
    CHECK(dl_rbf_svm_train(bx, by, N, D, NULL, cancel_after, &left, &c, NULL) == DL_CANCELLED, "rbf cancel");
    left = 1;
    CHECK(dl_softmax_train(bx, by, N, D, NULL, NULL, 0, NULL, cancel_after, &left, &c, NULL) == DL_CANCELLED, "softmax cancel");
    CHECK(c == NULL, "classifier set after cancel");

    /* DL_FIT_STOP ends the fit after that epoch with a classifier (the best epoch's weights), not a cancel. */
    int stop = 2;
    dl_train_report rep;
    CHECK_OK(dl_softmax_train(bx, by, 50, D, bx + 50 * D, by + 50, 10, NULL, stop_at, &stop, &c, &rep));
    CHECK(c && rep.epochs == 2, "DL_FIT_STOP: a classifier after 2 epochs (got %d)", c ? rep.epochs : -1);
    if (c) { dl_classifier_free(c); dl_train_report_free(&rep); c = NULL; }
    /* An absurd learning rate overflows the weights: a clear error, no classifier. */
    dl_softmax_default_params(&sp); sp.lr = 1e30;
    CHECK_ERR(dl_softmax_train(bx, by, N, D, NULL, NULL, 0, &sp, NULL, NULL, &c, NULL), "loss diverged");
    CHECK(c == NULL, "classifier set after divergence");
}

/* ---- small problems ------------------------------------------------------ */

static void test_problems(void) {
    enum { N = 150, D = 6, K = 3 };
    static float x[N * D];
    static int y[N];
    blobs(N, D, K, 1.0f, 42, x, y);
    for (int t = 0; t < NTRAINERS; t++) {
        dl_classifier *c = NULL;
        dl_train_report rep;
        const char *err = trainers[t].fn(x, y, N, D, &c, &rep);
        CHECK(!err, "%s: %s", trainers[t].name, err);
        if (err) continue;
        double acc = train_accuracy(c, x, y, N);
        CHECK(acc == 1.0, "%s: separable blobs, train accuracy %.3f", trainers[t].name, acc);
        test_roundtrip(trainers[t].name, c, x, N);
        /* Same inputs, same seed -> byte-identical classifier. */
        dl_classifier *c2 = NULL;
        dl_train_report rep2;
        CHECK_OK(trainers[t].fn(x, y, N, D, &c2, &rep2));
        uint8_t *b1, *b2; size_t s1, s2;
        if (c2 && !dl_classifier_save(c, &b1, &s1) && !dl_classifier_save(c2, &b2, &s2)) {
            CHECK(s1 == s2 && memcmp(b1, b2, s1) == 0, "%s: not deterministic", trainers[t].name);
            free(b1); free(b2);
        }
        if (c->kind == &dl_linear_svm_kind) {
            CHECK(rep.num_problems == K, "linear report size");
            for (int k = 0; k < K; k++) {   /* strong duality: primal ~ -dual at the optimum */
                double gap = rep.primal[k] + rep.objective[k];
                CHECK(rep.objective[k] < 0 && gap >= -1e-3 && gap <= 0.05 * fabs(rep.objective[k]) + 0.1,
                      "%s class %d: primal %g dual %g", trainers[t].name, k, rep.primal[k], -rep.objective[k]);
                CHECK(rep.iterations[k] >= 1 && rep.nsv[k] >= 1, "linear iterations/nsv");
            }
        }
        if (c->kind == &dl_rbf_svm_kind) {
            const dl_rbf_svm_model *m = c->model;
            int sum = 0;
            for (int k = 0; k < K; k++) sum += m->sv_count[k];
            CHECK(rep.num_problems == K * (K - 1) / 2 && sum == m->total_sv && m->total_sv > 0, "rbf sv counts");
            for (int p = 0; p < rep.num_problems; p++) CHECK(rep.objective[p] < 0, "rbf objective sign");
            CHECK(rep.gamma > 0, "gamma");
        }
        if (c->kind == &dl_softmax_kind) {
            CHECK(rep.epochs > 0 && rep.loss[rep.epochs - 1] < rep.loss[0], "%s: loss did not decrease", trainers[t].name);
            float pr[K];
            CHECK_OK(dl_classifier_predict(c, x, 1, NULL, pr));
            CHECK(fabsf(pr[0] + pr[1] + pr[2] - 1) < 1e-5f, "probabilities sum to 1");
        }
        dl_train_report_free(&rep); dl_train_report_free(&rep2);
        dl_classifier_free(c); dl_classifier_free(c2);
    }

    /* XOR: a linear model cannot separate it, the RBF SVM must. */
    enum { NX = 200 };
    static float xx[NX * 2];
    static int yx[NX];
    dl_rng r; dl_rng_seed(&r, 3);
    for (int i = 0; i < NX; i++) {
        float a = (float)(dl_rng_uniform(&r) * 2 - 1), b = (float)(dl_rng_uniform(&r) * 2 - 1);
        if (fabsf(a) < 0.1f) a += a < 0 ? -0.1f : 0.1f;
        if (fabsf(b) < 0.1f) b += b < 0 ? -0.1f : 0.1f;
        xx[2 * i] = a; xx[2 * i + 1] = b; yx[i] = (a > 0) != (b > 0);
    }
    dl_classifier *c = NULL;
    dl_rbf_svm_params rp; dl_rbf_svm_default_params(&rp); rp.C = 100;
    CHECK_OK(dl_rbf_svm_train(xx, yx, NX, 2, &rp, NULL, NULL, &c, NULL));
    if (c) { double acc = train_accuracy(c, xx, yx, NX); CHECK(acc >= 0.98, "rbf xor accuracy %.3f", acc); dl_classifier_free(c); }
    CHECK_OK(dl_linear_svm_train(xx, yx, NX, 2, NULL, NULL, NULL, &c, NULL));
    if (c) { double acc = train_accuracy(c, xx, yx, NX); CHECK(acc < 0.8, "linear xor accuracy %.3f", acc); dl_classifier_free(c); }

    /* gamma='scale' (the default) as scikit-learn: 1 / (d * var(X)), as training resolves it. */
    float g[4] = {0, 2, 4, 6}, z[4] = {1, 1, 1, 1};   /* g: mean 3, var 5, d 2 */
    int gy[2] = {0, 1};
    double gamma = 0;
    CHECK_OK(dl_rbf_svm_prepare(g, gy, 2, 2, NULL, NULL, &gamma, NULL, NULL));
    CHECK(fabs(gamma - 0.1) < 1e-12, "gamma scale %g", gamma);
    CHECK_OK(dl_rbf_svm_prepare(z, gy, 2, 2, NULL, NULL, &gamma, NULL, NULL));
    CHECK(gamma == 1.0, "gamma scale of constant data %g", gamma);

    /* A constant feature standardises to 0 (std 0 -> 1), not NaN. */
    float cx[8] = {1, 5, 2, 5, 3, 5, 4, 5};
    int cy[4] = {0, 0, 1, 1};
    CHECK_OK(dl_linear_svm_train(cx, cy, 4, 2, NULL, NULL, NULL, &c, NULL));
    if (c) { CHECK(c->std[1] == 1.0f && c->mean[1] == 5.0f, "constant feature std"); dl_classifier_free(c); }
}

/* ---- the kinds table ----------------------------------------------------- */

static void test_kinds(void) {
    CHECK(dl_classifier_kind_count() == 4, "kind count %d", dl_classifier_kind_count());
    CHECK(dl_classifier_kind_find("softmax") == &dl_softmax_kind && dl_classifier_kind_find("nope") == NULL, "find by name");
    CHECK(dl_classifier_kind_by_id(2) == &dl_rbf_svm_kind && dl_classifier_kind_by_id(99) == NULL, "find by id");
    CHECK(!strcmp(dl_classifier_kind_names(), "linear-svm, rbf-svm, softmax or finetune"), "names: %s", dl_classifier_kind_names());
    for (int i = 0; i < dl_classifier_kind_count(); i++) {
        const dl_classifier_kind *k = dl_classifier_kind_at(i);
        for (int j = 0; j < i; j++)
            CHECK(dl_classifier_kind_at(j)->id != k->id && strcmp(dl_classifier_kind_at(j)->name, k->name), "duplicate kind");
        for (int j = 0; j < k->num_params; j++) {
            const dl_param_spec *p = &k->params[j];
            int ok = (p->min_exclusive ? p->def > p->min : p->def >= p->min) && p->def <= p->max &&
                     (p->type == DL_PARAM_REAL || p->def == floor(p->def));
            CHECK(ok, "%s: default of %s outside its own range", k->name, p->name);
        }
    }
    CHECK(dl_classifier_kind_at(4) == NULL && dl_classifier_kind_at(-1) == NULL, "kind_at range");
    const char *json = dl_classifier_kinds_json();
    CHECK(json && json[0] == '[' && strstr(json, "{\"name\": \"linear-svm\", \"id\": 1,") &&
          strstr(json, "{\"name\": \"cache_mb\", \"type\": \"real\", \"default\": 200, \"min\": 0, \"max\": 1000000, \"min_exclusive\": true,") &&
          strstr(json, "{\"name\": \"lr\", \"type\": \"real\", \"default\": 0.001, \"min\": 0, \"max\": 10,"), "kinds json: %s", json ? json : "(null)");

    dl_fit_params fp;
    dl_fit_default_params(&fp);
    CHECK_ERR(dl_fit_params_set(&fp, "nope", 1), "unknown classifier parameter 'nope'");
    CHECK_ERR(dl_fit_params_set(&fp, "C", -1), "C must be > 0 (got -1)");
    CHECK_ERR(dl_fit_params_set(&fp, "epochs", 1.5), "epochs must be an integer (got 1.5)");
    CHECK_ERR(dl_fit_params_set(&fp, "hidden", NAN), "hidden must be a finite number");
    CHECK_ERR(dl_fit_params_set(&fp, "hidden", 65537), "hidden must be <= 65536");
    CHECK_OK(dl_fit_params_set(&fp, "cache-mb", 100));
    CHECK(fp.count == 1 && !strcmp(fp.item[0].name, "cache_mb"), "dashes become underscores");
    CHECK_OK(dl_fit_params_set(&fp, "hidden", 4));
    CHECK_OK(dl_fit_params_set(&fp, "epochs", 3));
    CHECK_OK(dl_fit_params_set(&fp, "C", 10));   /* softmax has no C: ignored when fitting it */
    CHECK_OK(dl_fit_params_set(&fp, "hidden", 5));
    CHECK(fp.count == 4 && fp.item[1].value == 5, "setting again replaces");

    float x[16] = {0, 0, 0, 1, 1, 0, 1, 1, 0, 0.1f, 0.9f, 1, 1, 0.1f, 0.9f, 0.9f};
    int y[8] = {0, 1, 1, 0, 0, 1, 1, 0};
    dl_classifier *c = NULL;
    dl_train_report rep;
    CHECK_OK(dl_fit("softmax", x, y, 8, 2, &fp, NULL, NULL, &c, &rep));
    if (c) {
        CHECK(c->kind == &dl_softmax_kind && ((dl_softmax_model *)c->model)->hidden == 5 && rep.epochs == 3, "named parameters used");
        dl_classifier_free(c);
        dl_train_report_free(&rep);
    }
    CHECK_ERR(dl_fit("nope", x, y, 8, 2, NULL, NULL, NULL, &c, NULL), "unknown classifier 'nope' (expected linear-svm, rbf-svm, softmax or finetune)");
    double v[7] = {1, 2, 0.1, 1000, 1, 1, 1};
    CHECK_ERR(dl_fit_values("linear-svm", x, y, 8, 2, v, 6, NULL, NULL, &c, NULL), "linear-svm takes 7 parameters (got 6)");
    v[1] = 3;
    CHECK_ERR(dl_fit_values("linear-svm", x, y, 8, 2, v, 7, NULL, NULL, &c, NULL), "linear-svm: loss must be <= 2 (got 3)");
    v[1] = 2; v[0] = 0;
    CHECK_ERR(dl_fit_values("linear-svm", x, y, 8, 2, v, 7, NULL, NULL, &c, NULL), "linear-svm: C must be > 0 (got 0)");
    v[0] = 1;
    CHECK_OK(dl_fit_values("linear-svm", x, y, 8, 2, v, 7, NULL, NULL, &c, NULL));
    dl_classifier_free(c);
}

/* ---- softmax gradients against central differences ------------------------- */

static void test_gradients(int hidden) {
    enum { N = 6, D = 4, K = 3 };
    float x[N * D];
    int y[N];
    blobs(N, D, K, 2.0f, 11, x, y);
    dl_softmax_params sp;
    dl_softmax_default_params(&sp);
    sp.hidden = hidden; sp.epochs = 2; sp.batch_size = 2; sp.lr = 0.05; sp.standardize = 0;
    dl_classifier *c = NULL;
    CHECK_OK(dl_softmax_train(x, y, N, D, NULL, NULL, 0, &sp, NULL, NULL, &c, NULL));
    if (!c) return;
    dl_softmax_model *m = c->model;
    float *grad = malloc(sizeof(float) * m->num_params), *unused = malloc(sizeof(float) * m->num_params);
    double loss, plus, minus, worst = 0;
    CHECK_OK(dl_softmax_loss_grad(c, x, y, N, &loss, grad));
    int bad = 0;
    const float eps = 1e-2f;
    for (size_t i = 0; i < m->num_params; i++) {
        float keep = m->params[i];
        m->params[i] = keep + eps; dl_softmax_repack(c);
        dl_softmax_loss_grad(c, x, y, N, &plus, unused);
        m->params[i] = keep - eps; dl_softmax_repack(c);
        dl_softmax_loss_grad(c, x, y, N, &minus, unused);
        m->params[i] = keep;
        double numeric = (plus - minus) / (2.0 * eps) / N, err = fabs(numeric - grad[i]);
        if (err > 2e-3 + 2e-2 * fabs(numeric)) bad++;
        if (err > worst) worst = err;
    }
    dl_softmax_repack(c);
    CHECK(bad == 0, "softmax hidden %d: %d of %zu gradients differ from central differences (worst %g)",
          hidden, bad, m->num_params, worst);
    CHECK(loss > 0 && isfinite(loss), "softmax loss %g", loss);
    free(grad); free(unused);
    dl_classifier_free(c);
}

/* ---- hostile classifier files: sizes that wrap, valid CRC ---------------- */

static void put_le32(uint8_t *b, uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> 8 * i); }

static void recrc(uint8_t *b, size_t size) { put_le32(b + size - 4, dl_crc32(b, size - 4)); }

/* A header with the given fields, payload_len zero bytes, a valid CRC. */
static uint8_t *craft(uint32_t id, uint32_t k, uint32_t d, uint32_t param, uint64_t payload_field,
                      size_t payload_len, size_t *size) {
    *size = 40 + payload_len + 4;
    uint8_t *b = calloc(*size, 1);
    memcpy(b, "DLCLASS1", 8);
    put_le32(b + 8, 1); put_le32(b + 12, id); put_le32(b + 16, k); put_le32(b + 20, d);
    put_le32(b + 24, 0); put_le32(b + 28, param);
    put_le32(b + 32, (uint32_t)payload_field); put_le32(b + 36, (uint32_t)(payload_field >> 32));
    recrc(b, *size);
    return b;
}

static const char *load_crafted(uint32_t id, uint32_t k, uint32_t d, uint32_t param, uint64_t field, size_t len) {
    size_t size;
    uint8_t *b = craft(id, k, d, param, field, len, &size);
    dl_classifier *c = NULL;
    const char *err = dl_classifier_load(b, size, &c);
    CHECK(err || c, "load returned neither");
    dl_classifier_free(c);
    free(b);
    return err;
}

static void test_hostile_files(void) {
    const int wasm32 = SIZE_MAX <= UINT32_MAX;
    const char *wrapped = wasm32 ? "too large for this platform" : "does not match the header";
    /* A healthy classifier, to check that it still answers the same afterwards. */
    enum { N = 40, D = 5, K = 3 };
    float x[N * D], before[N * K], after[N * K];
    int y[N];
    blobs(N, D, K, 1.0f, 5, x, y);
    dl_classifier *good = NULL;
    CHECK_OK(dl_rbf_svm_train(x, y, N, D, NULL, NULL, NULL, &good, NULL));
    if (!good) return;
    CHECK_OK(dl_classifier_predict(good, x, N, NULL, before));

    /* linear-svm 256 x (2^24 + 1) floats: 2^34 + 1024 bytes, 1024 in 32 bits. */
    CHECK_ERR(load_crafted(1, 256, 1u << 24, 0, 1024, 1024), wrapped);
    CHECK_ERR(load_crafted(1, 256, 1u << 24, 0, 4ull * 256 * ((1u << 24) + 1), 0), wasm32 ? wrapped : "truncated");
    CHECK_ERR(load_crafted(1, 3, 4, 7, 60, 60), "bad linear-svm parameter 7");
    /* rbf-svm, 33 classes, 2^24 support vectors of 256 features: sv and
     * sv_coef are multiples of 2^32 bytes; what is left is 4,364 bytes. */
    CHECK_ERR(load_crafted(2, 33, 256, 1u << 24, 4364, 4364), wrapped);
    CHECK_ERR(load_crafted(2, 3, 4, 0, 0, 0), "support vector count 0");
    CHECK_ERR(load_crafted(2, 3, 4, (1u << 24) + 1, 0, 0), "support vector count");
    /* softmax 2^14 x 65536 x 2: d*h*4 bytes = 2^32; refused by its size. */
    CHECK_ERR(load_crafted(3, 2, 1u << 14, 65536, 786440, 786440), "more than 67108864 parameters");
    CHECK_ERR(load_crafted(3, 2, 4, 65537, 0, 0), "bad softmax hidden size 65537");
    CHECK_ERR(load_crafted(9, 2, 4, 0, 0, 0), "unknown kind 9");
    CHECK_ERR(load_crafted(1, 257, 4, 0, 0, 0), "bad number of classes 257");
    CHECK_ERR(load_crafted(1, 2, (1u << 24) + 1, 0, 0, 0), "bad number of features");
    CHECK_ERR(load_crafted(1, 2, 4, 0, 1ull << 40, 0), "does not match");

    /* Semantic checks behind a valid CRC, on a real file. */
    uint8_t *buf; size_t size;
    CHECK_OK(dl_classifier_save(good, &buf, &size));
    if (buf) {
        uint8_t *t = malloc(size);
        size_t counts = 40 + 8;   /* rbf payload: gamma f64, then sv_count u32[K] */
        dl_classifier *bad = NULL;
        memcpy(t, buf, size); put_le32(t + counts, 0xFFFFFFFFu); recrc(t, size);
        CHECK_ERR(dl_classifier_load(t, size, &bad), "do not add up");
        memcpy(t, buf, size); t[counts] ^= 1; recrc(t, size);
        CHECK_ERR(dl_classifier_load(t, size, &bad), "do not add up");
        memcpy(t, buf, size); memset(t + 40, 0xFF, 8); recrc(t, size);   /* gamma NaN */
        CHECK_ERR(dl_classifier_load(t, size, &bad), "non-finite");
        memcpy(t, buf, size); memset(t + 40, 0, 8); recrc(t, size);      /* gamma 0 */
        CHECK_ERR(dl_classifier_load(t, size, &bad), "bad gamma");
        CHECK(bad == NULL, "classifier set on failure");
        free(t); free(buf);
    }
    CHECK_OK(dl_classifier_predict(good, x, N, NULL, after));
    CHECK(memcmp(before, after, sizeof before) == 0, "a healthy classifier answers differently after hostile files");
    dl_classifier_free(good);
}

/* fit() arguments whose sizes would overflow are refused before allocating. */
static void test_fit_sizes(void) {
    enum { D = 1 << 13 };
    float *x = calloc(2 * (size_t)D, sizeof(float));
    int y[2] = {0, 1};
    x[0] = 1;
    dl_fit_params fp;
    dl_fit_default_params(&fp);
    CHECK_OK(dl_fit_params_set(&fp, "hidden", 65536));   /* 2^29 weights in the first layer */
    dl_classifier *c = NULL;
    CHECK_ERR(dl_fit("softmax", x, y, 2, D, &fp, NULL, NULL, &c, NULL), "more than 67108864 parameters");
    CHECK(c == NULL, "classifier set on failure");
    if (SIZE_MAX <= UINT32_MAX) {   /* n x d x 4 wraps in 32 bits: refused before x is read */
        CHECK_ERR(dl_fit("linear-svm", x, y, 1 << 20, 1 << 12, NULL, NULL, NULL, &c, NULL), "feature matrix of 1048576 x 4096 floats is too large for this platform");
        CHECK_ERR(dl_classifier_predict(NULL, x, 1 << 20, NULL, NULL), "no classifier");
    }
    free(x);
}

/* ---- RBF SVM pairs as independent units ----------------------------------- */

enum { PAIR_HEAD_BYTES = 76 };   /* learn/kernel_svm.c: where the SV indices start */

/* Kernel rows as the solver computes them (f32_gemm over weight panels of 8
 * rows, packed one panel at a time, starting at any panel) equal the
 * dot-product rows within float rounding. */
static void test_rbf_gemm_rows(void) {
    static const int shapes[][2] = {{1, 1}, {7, 3}, {9, 17}, {23, 37}, {64, 5}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        int l = shapes[t][0], d = shapes[t][1], panels = (l + 7) / 8;
        size_t panel = f32_gemm_packed_size((size_t)d, 8);
        float *x = malloc(sizeof(float) * l * d), *packed = calloc(panel * panels, sizeof(float));
        float *tr = calloc((size_t)8 * d, sizeof(float)), *dots = malloc(sizeof(float) * l);
        dl_rng r; dl_rng_seed(&r, 7 + t);
        for (int i = 0; i < l * d; i++) x[i] = (float)(dl_rng_uniform(&r) * 2 - 1);
        for (int p = 0; p < panels; p++) {
            for (int c = 0; c < 8; c++)
                for (int f = 0; f < d; f++) tr[f * 8 + c] = p * 8 + c < l ? x[(p * 8 + c) * d + f] : 0;
            f32_gemm_pack((size_t)d, 8, tr, NULL, packed + p * panel);
        }
        double worst = 0;
        for (int i = 0; i < l; i++)
            for (int p0 = 0; p0 < panels; p0++) {   /* a column from panel p0 on, as after shrinking */
                f32_gemm(1, (size_t)(l - p0 * 8), (size_t)d, x + i * d, (size_t)d, packed + p0 * panel, dots, (size_t)(l - p0 * 8), -INFINITY, INFINITY);
                for (int j = p0 * 8; j < l; j++) {
                    double ref = f32_dot((size_t)d, x + i * d, x + j * d);
                    worst = fmax(worst, fabs(dots[j - p0 * 8] - ref) / (1 + fabs(ref)));
                }
            }
        CHECK(worst < 1e-5, "GEMM kernel rows %dx%d differ from f32_dot rows by %g", l, d, worst);
        free(x); free(packed); free(tr); free(dots);
    }
}

/* Rows of class k in input order (what a host sends a pair's worker). */
static float *class_rows(const float *x, const int *y, int n, int d, int k, int *count) {
    float *out = malloc(sizeof(float) * n * d);
    *count = 0;
    for (int i = 0; i < n; i++) if (y[i] == k) memcpy(out + (size_t)(*count)++ * d, x + (size_t)i * d, sizeof(float) * d);
    return out;
}

/* All pairs through train_pair (in reverse order, as workers may finish),
 * results[p] in pair order. */
static const char *train_pairs(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *P,
                               uint8_t **results, size_t *sizes, int *npairs) {
    int K; double gamma;
    float mean[64], std[64];
    const char *err = dl_rbf_svm_prepare(x, y, n, d, P, &K, &gamma, mean, std);
    if (err) return err;
    *npairs = K * (K - 1) / 2;
    for (int ci = K - 2, p = *npairs - 1; ci >= 0; ci--)
        for (int cj = K - 1; cj > ci; cj--, p--) {
            int ni, nj;
            float *xi = class_rows(x, y, n, d, ci, &ni), *xj = class_rows(x, y, n, d, cj, &nj);
            err = dl_rbf_svm_train_pair(xi, ni, xj, nj, d, ci, cj, gamma, P->standardize ? mean : NULL,
                                        P->standardize ? std : NULL, P, NULL, NULL, &results[p], &sizes[p]);
            free(xi); free(xj);
            if (err) return err;
        }
    return NULL;
}

/* The pairs trained on their rows read in place by index give the same
 * result bytes; a model whose SVs are borrowed rows of x saves the same
 * bytes and predicts the same as the serial one; bad indices give reasons. */
static void check_rows_in_place(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *P,
                                uint8_t *const *results, const size_t *sizes, const dl_classifier *serial) {
    int K; double gamma;
    float mean[64], std[64];
    CHECK_OK(dl_rbf_svm_prepare(x, y, n, d, P, &K, &gamma, mean, std));
    int *rows = malloc(sizeof(int) * (size_t)n), start[17] = {0};
    for (int i = 0; i < n; i++) start[y[i] + 1]++;
    for (int k = 0; k < K; k++) start[k + 1] += start[k];
    int fill[16] = {0};
    for (int i = 0; i < n; i++) rows[start[y[i]] + fill[y[i]]++] = i;
    for (int ci = 0, p = 0; ci < K; ci++)
        for (int cj = ci + 1; cj < K; cj++, p++) {
            uint8_t *r = NULL; size_t rs = 0;
            CHECK_OK(dl_rbf_svm_train_pair_at(x, n, d, rows + start[ci], start[ci + 1] - start[ci], rows + start[cj],
                                              start[cj + 1] - start[cj], ci, cj, gamma, P->standardize ? mean : NULL,
                                              P->standardize ? std : NULL, P, NULL, NULL, &r, &rs));
            CHECK(r && rs == sizes[p] && !memcmp(r, results[p], rs), "pair (%d, %d) in place differs from its gathered rows", ci, cj);
            free(r);
        }
    uint8_t *r = NULL; size_t rs = 0;
    int bad_row = n;
    CHECK_ERR(dl_rbf_svm_train_pair_at(x, n, d, &bad_row, 1, rows, 1, 0, 1, gamma, NULL, NULL, P, NULL, NULL, &r, &rs), "row index");
    CHECK_ERR(dl_rbf_svm_train_pair_at(x, n, d, rows, 0, rows, 1, 0, 1, gamma, NULL, NULL, P, NULL, NULL, &r, &rs), "bad row counts");
    CHECK_ERR(dl_rbf_svm_train_pair_at(NULL, n, d, rows, 1, rows, 1, 0, 1, gamma, NULL, NULL, P, NULL, NULL, &r, &rs), "NULL rows");
    CHECK(r == NULL, "a result from bad indices");
    free(rows);

    dl_classifier *borrowed = NULL;
    CHECK_OK(dl_rbf_svm_assemble_borrowed(x, y, n, d, P, (const uint8_t *const *)results, sizes, K * (K - 1) / 2, &borrowed));
    uint8_t *a = NULL, *b = NULL; size_t an = 0, bn = 0;
    if (borrowed && serial) {
        CHECK(((const dl_rbf_svm_model *)borrowed->model)->sv_at != NULL || P->standardize, "borrowed SVs");
        CHECK_OK(dl_classifier_save(serial, &a, &an));
        CHECK_OK(dl_classifier_save(borrowed, &b, &bn));
        CHECK(a && b && an == bn && !memcmp(a, b, an), "the borrowed model saves other bytes (standardize %d)", P->standardize);
        float s1[8 * 16], s2[8 * 16];
        int l1[8], l2[8];
        CHECK_OK(dl_classifier_predict(serial, x, 8, l1, s1));
        CHECK_OK(dl_classifier_predict(borrowed, x, 8, l2, s2));
        CHECK(!memcmp(l1, l2, sizeof l1) && !memcmp(s1, s2, sizeof(float) * 8 * K), "the borrowed model predicts otherwise");
    }
    free(a); free(b);
    dl_classifier_free(borrowed);
}

static void test_rbf_pairs(void) {
    enum { N = 90, D = 6, K = 4, PAIRS = K * (K - 1) / 2 };
    float x[N * D]; int y[N];
    blobs(N, D, K, 3.0f, 11, x, y);
    for (int standardize = 0; standardize < 2; standardize++) {
        dl_rbf_svm_params P; dl_rbf_svm_default_params(&P);
        P.standardize = standardize; P.cache_mb = 0.002;
        dl_classifier *serial = NULL, *pairs = NULL;
        CHECK_OK(dl_rbf_svm_train(x, y, N, D, &P, NULL, NULL, &serial, NULL));
        uint8_t *res[PAIRS] = {0}; size_t sz[PAIRS] = {0}; int np = 0;
        CHECK_OK(train_pairs(x, y, N, D, &P, res, sz, &np));
        CHECK(np == PAIRS, "pairs %d", np);
        dl_train_report rep;
        CHECK_OK(dl_rbf_svm_assemble(x, y, N, D, &P, (const uint8_t *const *)res, sz, PAIRS, &pairs, &rep));
        uint8_t *a = NULL, *b = NULL; size_t an = 0, bn = 0;
        if (serial && pairs) {
            CHECK_OK(dl_classifier_save(serial, &a, &an));
            CHECK_OK(dl_classifier_save(pairs, &b, &bn));
            CHECK(a && b && an == bn && !memcmp(a, b, an), "pair-assembled model differs from the serial one (standardize %d)", standardize);
            CHECK(rep.num_problems == PAIRS && rep.nsv[0] > 0 && rep.iterations[0] > 0, "report from the pairs");
            dl_train_report_free(&rep);
        }
        free(a); free(b);
        dl_classifier_free(pairs); pairs = NULL;
        check_rows_in_place(x, y, N, D, &P, res, sz, serial);
        dl_classifier_free(serial);

        /* bad inputs give reasons, never a model */
        const uint8_t *bad[PAIRS]; size_t bsz[PAIRS];
        for (int p = 0; p < PAIRS; p++) { bad[p] = res[p]; bsz[p] = sz[p]; }
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS - 1, &pairs, NULL), "5 pair results for 4 classes, need 6");
        bsz[2] = sz[2] - 5;
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "truncated");
        bsz[2] = 10;
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "truncated (10 bytes)");
        bad[2] = res[1]; bsz[2] = sz[1];
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "given twice");
        bsz[2] = sz[2];
        uint8_t *copy = malloc(sz[2]);
        memcpy(copy, res[2], sz[2]);
        bad[2] = copy;
        copy[sz[2] - 9] ^= 1;
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "CRC mismatch");
        memcpy(copy, res[2], sz[2]);
        put_le32(copy + 8, 7); recrc(copy, sz[2]);   /* class 7 of 4 */
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "bad pair (7,");
        memcpy(copy, res[2], sz[2]);
        put_le32(copy + 12, 0); recrc(copy, sz[2]);   /* (0, 0) */
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "bad pair (0, 0)");
        memcpy(copy, res[2], sz[2]);
        put_le32(copy + 16, 3); recrc(copy, sz[2]);   /* row count */
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "trained on 3 +");
        memcpy(copy, res[2], sz[2]);
        put_le32(copy + PAIR_HEAD_BYTES, 100000); recrc(copy, sz[2]);   /* SV index out of range */
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, bad, bsz, PAIRS, &pairs, NULL), "bad support vector index 100000");
        free(copy);
        CHECK(pairs == NULL, "a model from bad pair results");
        dl_rbf_svm_params other = P; other.C = 2;
        for (int p = 0; p < PAIRS; p++) bad[p] = res[p];
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &other, bad, sz, PAIRS, &pairs, NULL), "this fit uses gamma");
        CHECK_ERR(dl_rbf_svm_assemble(x, y, N, D, &P, NULL, sz, PAIRS, &pairs, NULL), "pair results");
        for (int p = 0; p < PAIRS; p++) free(res[p]);
    }
    /* one pair's own argument checks, and its cancellation */
    uint8_t *r = NULL; size_t rs = 0;
    float nan_row[D] = {0, 0, NAN, 0, 0, 0};
    CHECK_ERR(dl_rbf_svm_train_pair(x, 3, x + 3 * D, 3, D, 2, 2, 0.5, NULL, NULL, NULL, NULL, NULL, &r, &rs), "0 <= ci < cj");
    CHECK_ERR(dl_rbf_svm_train_pair(x, 3, x + 3 * D, 3, D, -1, 2, 0.5, NULL, NULL, NULL, NULL, NULL, &r, &rs), "0 <= ci < cj");
    CHECK_ERR(dl_rbf_svm_train_pair(x, 0, x, 3, D, 0, 1, 0.5, NULL, NULL, NULL, NULL, NULL, &r, &rs), "bad row counts");
    CHECK_ERR(dl_rbf_svm_train_pair(x, 3, x, 3, D, 0, 1, 0, NULL, NULL, NULL, NULL, NULL, &r, &rs), "gamma must be > 0");
    CHECK_ERR(dl_rbf_svm_train_pair(x, 3, nan_row, 1, D, 0, 1, 0.5, NULL, NULL, NULL, NULL, NULL, &r, &rs), "NaN at row 0, column 2");
    CHECK(r == NULL && rs == 0, "a result from a refused pair");
    enum { BIG = 2400 };
    float *bx = malloc(sizeof(float) * BIG * D); int *by = malloc(sizeof(int) * BIG);
    blobs(BIG, D, 2, 12.0f, 5, bx, by);   /* overlapping: thousands of SMO steps */
    int left = 2, n0, n1;
    float *x0 = class_rows(bx, by, BIG, D, 0, &n0), *x1 = class_rows(bx, by, BIG, D, 1, &n1);
    CHECK_ERR(dl_rbf_svm_train_pair(x0, n0, x1, n1, D, 0, 1, 0.1, NULL, NULL, NULL, cancel_after, &left, &r, &rs), "cancelled");
    CHECK(r == NULL, "a result from a cancelled pair");
    free(x0); free(x1); free(bx); free(by);
}

/* Float16 rows (learn_common.h dl_rows) train the same models, to the byte, as
 * float32 rows holding the same (float16-representable) values: each kind
 * through dl_fit_rows, the RBF pairs in place and assembled on borrowed
 * float16 rows; predictions agree; a non-finite half and a kind without
 * float16 support give reasons. */
static void test_f16_rows(void) {
    enum { N = 90, D = 9, K = 4 };
    float x[N * D], xr[N * D]; int y[N];
    uint16_t h[N * D];
    blobs(N, D, K, 3.0f, 5, x, y);
    f16_from_f32(N * D, x, h);
    f32_from_f16(N * D, h, xr);
    dl_rows r32 = dl_rows_f32(xr, N, D), r16 = dl_rows_f16(h, N, D);
    const char *kinds[3] = {"linear-svm", "rbf-svm", "softmax"};
    dl_classifier *models[3] = {0};
    for (int k = 0; k < 3; k++) {
        dl_fit_params p; dl_fit_default_params(&p);
        CHECK_OK(dl_fit_params_set(&p, "cache_mb", 0.002));
        CHECK_OK(dl_fit_params_set(&p, "epochs", 2));
        CHECK_OK(dl_fit_params_set(&p, "val", 0.1));
        dl_classifier *a = NULL, *b = NULL;
        CHECK_OK(dl_fit_rows(kinds[k], &r32, y, &p, NULL, NULL, &a, NULL));
        CHECK_OK(dl_fit_rows(kinds[k], &r16, y, &p, NULL, NULL, &b, NULL));
        uint8_t *sa = NULL, *sb = NULL; size_t na = 0, nb = 0;
        if (a && b) {
            CHECK_OK(dl_classifier_save(a, &sa, &na));
            CHECK_OK(dl_classifier_save(b, &sb, &nb));
            CHECK(sa && sb && na == nb && !memcmp(sa, sb, na), "%s: float16 rows train another model", kinds[k]);
            int l1[N], l2[N];
            float s1[N * K], s2[N * K];
            CHECK_OK(dl_classifier_predict_rows(a, &r32, l1, s1));
            CHECK_OK(dl_classifier_predict_rows(a, &r16, l2, s2));
            CHECK(!memcmp(l1, l2, sizeof l1) && !memcmp(s1, s2, sizeof s1), "%s: float16 rows predict otherwise", kinds[k]);
        }
        free(sa); free(sb);
        dl_classifier_free(b);
        models[k] = a;
    }
    /* the RBF SVM's pairs in place on float16 rows, assembled on them borrowed */
    dl_rbf_svm_params P; dl_rbf_svm_default_params(&P); P.cache_mb = 0.002;
    int K16, K32; double g16, g32;
    CHECK_OK(dl_rbf_svm_prepare_rows(&r16, y, &P, &K16, &g16, NULL, NULL));
    CHECK_OK(dl_rbf_svm_prepare_rows(&r32, y, &P, &K32, &g32, NULL, NULL));
    CHECK(K16 == K && K32 == K && g16 == g32, "gamma='scale' over float16 rows %g, float32 %g", g16, g32);
    int rows[N], start[K + 1] = {0}, fill[K] = {0};
    for (int i = 0; i < N; i++) start[y[i] + 1]++;
    for (int k = 0; k < K; k++) start[k + 1] += start[k];
    for (int i = 0; i < N; i++) rows[start[y[i]] + fill[y[i]]++] = i;
    uint8_t *res[K * (K - 1) / 2] = {0}; size_t sz[K * (K - 1) / 2] = {0};
    for (int ci = 0, p = 0; ci < K; ci++)
        for (int cj = ci + 1; cj < K; cj++, p++) {
            uint8_t *r = NULL; size_t rs = 0;
            CHECK_OK(dl_rbf_svm_train_pair_at_rows(&r16, rows + start[ci], start[ci + 1] - start[ci], rows + start[cj],
                                                   start[cj + 1] - start[cj], ci, cj, g16, NULL, NULL, &P, NULL, NULL, &res[p], &sz[p]));
            CHECK_OK(dl_rbf_svm_train_pair_at(xr, N, D, rows + start[ci], start[ci + 1] - start[ci], rows + start[cj],
                                              start[cj + 1] - start[cj], ci, cj, g32, NULL, NULL, &P, NULL, NULL, &r, &rs));
            CHECK(r && res[p] && rs == sz[p] && !memcmp(r, res[p], rs), "pair (%d, %d) on float16 rows differs", ci, cj);
            free(r);
        }
    dl_classifier *borrowed = NULL;
    CHECK_OK(dl_rbf_svm_assemble_rows(&r16, y, &P, (const uint8_t *const *)res, sz, K * (K - 1) / 2, 1, &borrowed, NULL));
    uint8_t *sa = NULL, *sb = NULL; size_t na = 0, nb = 0;
    if (borrowed && models[1]) {
        CHECK(((const dl_rbf_svm_model *)borrowed->model)->sv_f16, "float16 SVs borrowed");
        CHECK_OK(dl_classifier_save(models[1], &sa, &na));
        CHECK_OK(dl_classifier_save(borrowed, &sb, &nb));
        CHECK(sa && sb && na == nb && !memcmp(sa, sb, na), "the model on borrowed float16 SVs saves other bytes");
        int l1[N], l2[N];
        CHECK_OK(dl_classifier_predict_rows(models[1], &r16, l1, NULL));
        CHECK_OK(dl_classifier_predict_rows(borrowed, &r16, l2, NULL));
        CHECK(!memcmp(l1, l2, sizeof l1), "the model on borrowed float16 SVs predicts otherwise");
    }
    free(sa); free(sb);
    dl_classifier_free(borrowed);
    for (int p = 0; p < K * (K - 1) / 2; p++) free(res[p]);
    /* reasons */
    uint16_t keep = h[3 * D + 4];
    h[3 * D + 4] = 0x7E00;   /* NaN */
    dl_classifier *c = NULL;
    CHECK_ERR(dl_fit_rows("linear-svm", &r16, y, NULL, NULL, NULL, &c, NULL), "feature is NaN at row 3, column 4");
    h[3 * D + 4] = 0xFC00;   /* -inf */
    CHECK_ERR(dl_classifier_predict_rows(models[0], &r16, NULL, NULL), "feature is infinite at row 3, column 4");
    h[3 * D + 4] = keep;
    CHECK_ERR(dl_fit_rows("finetune", &r16, y, NULL, NULL, NULL, &c, NULL), "float32 rows only");
    dl_rows narrow = dl_rows_f16(h, N, D - 1);
    CHECK_ERR(dl_classifier_predict_rows(models[0], &narrow, NULL, NULL), "rows of 8 features, the classifier takes 9");
    CHECK(c == NULL, "a model from bad float16 rows");
    for (int k = 0; k < 3; k++) dl_classifier_free(models[k]);
}

int main(void) {
    test_idx();
    test_errors();
    test_problems();
    test_kinds();
    test_gradients(0);
    test_gradients(3);
    test_hostile_files();
    test_fit_sizes();
    test_rbf_gemm_rows();
    test_rbf_pairs();
    test_f16_rows();
    printf("learn_test: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
