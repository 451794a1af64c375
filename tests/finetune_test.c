/* finetune_test.c — the fine-tuned block's gradient (every BatchNorm, ReLU,
 * 1x1 and 3x3 convolution, concatenation, pooling, dense and softmax
 * cross-entropy together) against central differences on a small block; the
 * frozen statistics get no gradient; a short training run with validation
 * and early stopping; the classifier file round trip.
 * Prints one line per group; exit status 0 when all checks pass. */
#include "learn/experiment.h"
#include "learn/finetune.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;
static void check(int ok, const char *what) {
    checks++;
    if (!ok && failures++ < 20) printf("FAIL %s\n", what);
}

static unsigned state = 2024u;
static float frand(void) {   /* uniform in [-1, 1) */
    state ^= state << 13; state ^= state >> 17; state ^= state << 5;
    return (float)(state >> 8) / (float)(1u << 23) - 1.0f;
}

/* A BatchNorm of c channels at p: variances positive; its moving statistics
 * marked in frozen (may be NULL). */
static void fill_bn(float *p, size_t c, char *frozen) {
    for (size_t j = 0; j < c; j++) p[3 * c + j] = 1.0f + 0.5f * frand();
    if (frozen) memset(frozen, 1, 2 * c);
}

/* Random parameters (layout of finetune.h). */
static void fill_params(const dl_dense_block_shape *s, float *p, size_t count, char *frozen) {
    for (size_t i = 0; i < count; i++) p[i] = 0.5f * frand();
    if (frozen) memset(frozen, 0, count);
    size_t at = 0, bn = (size_t)s->bottleneck;
    for (int i = 0; i < s->layers; i++) {
        size_t c = (size_t)s->channels + (size_t)i * s->growth;
        fill_bn(p + at, c, frozen ? frozen + at + 2 * c : NULL);
        at += 4 * c + c * bn;
        fill_bn(p + at, bn, frozen ? frozen + at + 2 * bn : NULL);
        at += 4 * bn + 9 * bn * s->growth;
    }
    size_t c = (size_t)s->channels + (size_t)s->layers * s->growth;
    fill_bn(p + at, c, frozen ? frozen + at + 2 * c : NULL);
}

static double mean_loss(const dl_classifier *c, const float *x, const int *y, int m, float *grad) {
    double sum = 0;
    const char *err = dl_finetune_loss_grad(c, x, y, m, &sum, grad);
    if (err) printf("loss_grad: %s\n", err);
    return sum / m;
}

/* s: a block of 5 input channels at most 3 x 2 pixels. */
static void test_gradient(dl_dense_block_shape s) {
    int before = failures;
    const int hidden = 6, k = 4, m = 3;
    size_t count = dl_finetune_param_floats(&s, hidden, k), d = (size_t)s.height * s.width * 5;
    float *p = malloc(count * sizeof(float)), *grad = malloc(count * sizeof(float)), *tmp = malloc(count * sizeof(float));
    char *frozen = malloc(count);
    float x[3 * 30];
    int y[3] = {1, 3, 0};
    fill_params(&s, p, count, frozen);
    for (size_t i = 0; i < m * d; i++) x[i] = 2.0f * frand();
    dl_classifier *c = NULL;
    check(!dl_finetune_from_params(&s, hidden, k, p, count, &c), "from_params");
    float *w = dl_finetune_params_of(c, NULL);
    mean_loss(c, x, y, m, grad);
    double scale = 1e-30, err = 0;
    size_t bad = 0, stats_nonzero = 0;
    for (size_t i = 0; i < count; i++) scale = fmax(scale, fabs(grad[i]));
    const float h = 3e-4f;   /* small enough to cross few ReLU kinks */
    for (size_t i = 0; i < count; i++) {
        float keep = w[i];
        w[i] = keep + h;
        double up = mean_loss(c, x, y, m, tmp);
        w[i] = keep - h;
        double down = mean_loss(c, x, y, m, tmp);
        w[i] = keep;
        double e = fabs((up - down) / (2.0 * h) - grad[i]) / scale;
        if (frozen[i]) stats_nonzero += grad[i] != 0.0f;   /* frozen: the loss depends on them, no gradient */
        else if (s.height == 1 && s.width == 1 && grad[i] == 0.0f && up == down) continue;   /* padding-only 3x3 taps */
        else if (e > 2e-3) bad++;                         /* a ReLU kink inside [-h, h] */
        else err = fmax(err, e);
    }
    printf("finetune gradient at %dx%d: %zu parameters, max relative error %.3g, %zu across a kink\n", s.height, s.width, count, err, bad);
    check(err < 2e-3, "block gradient vs finite differences");
    check(bad <= count / 100, "few finite differences across ReLU kinks");
    check(stats_nonzero == 0, "moving means and variances get no gradient");
    dl_classifier_free(c);
    free(p); free(grad); free(tmp); free(frozen);
    printf("gradient: %s\n", failures == before ? "ok" : "FAILED");
}

static int epochs_seen;
static int on_epoch(void *user, const dl_learn_progress *p) {
    (void)user;
    epochs_seen++;
    check(p->val_acc >= 0 && p->val_loss > 0 && isfinite(p->loss), "progress has validation loss and accuracy");
    return 0;
}

static void test_train_and_file(void) {
    int before = failures;
    dl_dense_block_shape s = {6, 2, 3, 4, 2, 2};
    size_t block = dl_finetune_block_floats(&s), d = 2 * 2 * 6;
    float *base = malloc(block * sizeof(float));
    fill_params(&s, base, block, NULL);
    enum { N = 60 };
    float *x = malloc(N * d * sizeof(float));
    int y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % 3;
        for (size_t j = 0; j < d; j++) x[i * d + j] = frand() + (j % 3 == (size_t)y[i] ? 1.5f : 0.0f);
    }
    dl_finetune_params p;
    dl_finetune_default_params(&p);
    p.hidden = 8; p.epochs = 30; p.batch_size = 8; p.lr = 1e-2; p.patience = 2; p.val = 0.2;
    dl_classifier *c = NULL;
    dl_train_report r;
    const char *err = dl_finetune_train(&s, base, x, y, N, &p, on_epoch, NULL, &c, &r);
    check(!err, err ? err : "train");
    if (c) {
        check(r.epochs == epochs_seen && epochs_seen >= 1, "report matches the epochs run");
        double acc;
        int conf[9];
        check(!dl_evaluate(c, x, y, N, &acc, conf, NULL) && acc > 0.8, "learns a separable problem");
        printf("train: %d epochs run (early stopping: patience 2), training-set accuracy %.3f\n", r.epochs, acc);
        dl_train_report_free(&r);
    }
    /* The DLCLASS1 round trip, through the kind table (DenseNet121's conv5 at 1x1). */
    dl_dense_block_shape s5 = dl_densenet121_conv5(1, 1);
    size_t count = dl_finetune_param_floats(&s5, 16, 10);
    float *params = malloc(count * sizeof(float)), *xr = malloc(4 * 512 * sizeof(float));
    fill_params(&s5, params, count, NULL);
    for (size_t i = 0; i < 4 * 512; i++) xr[i] = frand();
    dl_classifier *c5 = NULL, *back = NULL;
    uint8_t *buf = NULL;
    size_t size = 0;
    float s1[40], s2[40];
    check(!dl_finetune_from_params(&s5, 16, 10, params, count, &c5), "conv5 model");
    check(!dl_classifier_save(c5, &buf, &size) && !dl_classifier_load(buf, size, &back), "save and load");
    check(back && !dl_classifier_predict(c5, xr, 4, NULL, s1) && !dl_classifier_predict(back, xr, 4, NULL, s2) &&
          !memcmp(s1, s2, sizeof s1), "loaded classifier gives the same scores");
    if (buf) {
        buf[size - 5] ^= 1;   /* a flipped payload byte: the CRC refuses it */
        dl_classifier *bad = NULL;
        check(dl_classifier_load(buf, size, &bad) != NULL && !bad, "a damaged file is refused");
    }
    /* No pretrained block set: fit() says so. */
    dl_classifier *none = NULL;
    check(dl_fit("finetune", xr, (int[]){0, 1, 0, 1}, 4, 512, NULL, NULL, NULL, &none, NULL) != NULL, "fit needs the block");
    dl_classifier_free(c); dl_classifier_free(c5); dl_classifier_free(back);
    free(buf); free(params); free(xr); free(base); free(x);
    printf("train and file: %s\n", failures == before ? "ok" : "FAILED");
}

int main(void) {
    test_gradient((dl_dense_block_shape){5, 2, 3, 4, 3, 2});
    test_gradient((dl_dense_block_shape){5, 2, 3, 4, 1, 1});   /* 3x3 as its centre tap */
    test_train_and_file();
    if (failures) {
        printf("finetune_test: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("finetune_test: all %d checks passed\n", checks);
    return 0;
}
