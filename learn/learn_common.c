/* learn_common.c — see learn_common.h. */
#include "learn/learn_common.h"
#include "common/checked.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DL_LEARN_MAX_CLASSES 256

/* The feature matrix's size and finiteness; reasons name the first bad value. */
static const char *check_features(const dl_rows *x) {
    int n = x->n, d = x->d;
    if (n <= 0) return "no training samples (n = 0)";
    if (d <= 0) return "no features (d = 0)";
    if (!x->data) return "feature matrix is NULL";
    size_t bytes;
    if (!dl_bytes((size_t)n, (size_t)d, x->f16 ? 2 : sizeof(float), 0, &bytes))
        return dl_errorf("feature matrix of %d x %d %s is too large for this platform", n, d, x->f16 ? "halves" : "floats");
    for (int i = 0; i < n; i++) {
        int is_nan, j = dl_rows_nonfinite(x, i, &is_nan);
        if (j >= 0) return dl_errorf("feature is %s at row %d, column %d", is_nan ? "NaN" : "infinite", i, j);
    }
    return NULL;
}

const char *dl_learn_check_xy(const float *x, const int *y, int n, int d, int *num_classes) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_learn_check_rows(&rows, y, num_classes);
}

const char *dl_learn_check_rows(const dl_rows *x, const int *y, int *num_classes) {
    const char *err = check_features(x);
    if (err || !y) return err;
    int n = x->n;
    int maxl = -1;
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= DL_LEARN_MAX_CLASSES)
            return dl_errorf("label %d at row %d is out of range (0..%d)", y[i], i,
                                   DL_LEARN_MAX_CLASSES - 1);
        if (y[i] > maxl) maxl = y[i];
    }
    int k = maxl + 1;
    if (k < 2) return "training set has a single class (need at least 2)";
    int seen[DL_LEARN_MAX_CLASSES] = {0}, distinct = 0;
    for (int i = 0; i < n; i++) if (!seen[y[i]]++) distinct++;
    if (distinct < 2) return dl_errorf("training set has a single class (%d); need at least 2", maxl);
    for (int c = 0; c < k; c++)
        if (!seen[c])
            return dl_errorf("class %d has no training samples (labels must be 0..%d, each present)", c, k - 1);
    *num_classes = k;
    return NULL;
}

const char *dl_standardize_fit(const float *x, int n, int d, float *mean, float *std) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_standardize_fit_rows(&rows, mean, std);
}

const char *dl_standardize_fit_rows(const dl_rows *x, float *mean, float *std) {
    int n = x->n, d = x->d;
    double *s = dl_learn_alloc((size_t)d * 2, sizeof(double));
    float *scratch = dl_learn_alloc((size_t)d, sizeof(float));
    if (!s || !scratch) { free(s); free(scratch); return "out of memory"; }
    double *s2 = s + d;
    /* Two passes (mean, then centred squares) keep the variance accurate
     * for features with a large offset. */
    for (int i = 0; i < n; i++) {
        const float *r = dl_rows_row(x, i, scratch);
        for (int j = 0; j < d; j++) s[j] += r[j];
    }
    for (int j = 0; j < d; j++) s[j] /= n;
    for (int i = 0; i < n; i++) {
        const float *r = dl_rows_row(x, i, scratch);
        for (int j = 0; j < d; j++) { double t = r[j] - s[j]; s2[j] += t * t; }
    }
    for (int j = 0; j < d; j++) {
        double sd = sqrt(s2[j] / n);
        mean[j] = (float)s[j];
        std[j] = (sd > 0 && (float)sd > 0) ? (float)sd : 1.0f;
    }
    free(s); free(scratch);
    return NULL;
}

void dl_standardize_row(const float *x, const float *mean, const float *std, int d, float *out) {
    if (!mean) { if (out != x) memcpy(out, x, (size_t)d * sizeof(float)); return; }
    for (int j = 0; j < d; j++) out[j] = (x[j] - mean[j]) / std[j];
}

void *dl_learn_alloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

/* ---- feature rows stored as float32 or float16 --------------------------- */

dl_rows dl_rows_f32(const float *x, int n, int d) { return (dl_rows){x, n, d, 0}; }
dl_rows dl_rows_f16(const uint16_t *x, int n, int d) { return (dl_rows){x, n, d, 1}; }

const void *dl_rows_at(const dl_rows *x, int i) {
    return (const char *)x->data + (size_t)i * (size_t)x->d * (x->f16 ? 2 : sizeof(float));
}

dl_rows dl_rows_slice(const dl_rows *x, int first, int count) {
    return (dl_rows){count ? dl_rows_at(x, first) : NULL, count, x->d, x->f16};
}

const float *dl_row_f32(const void *row, int f16, int d, float *scratch) {
    if (!f16) return row;
    f32_from_f16((size_t)d, row, scratch);
    return scratch;
}

const float *dl_rows_row(const dl_rows *x, int i, float *scratch) {
    return dl_row_f32(dl_rows_at(x, i), x->f16, x->d, scratch);
}

int dl_rows_nonfinite(const dl_rows *x, int i, int *is_nan) {
    const float *r = x->f16 ? NULL : dl_rows_at(x, i);
    const uint16_t *h = x->f16 ? dl_rows_at(x, i) : NULL;
    for (int j = 0; j < x->d; j++)
        if (r ? !isfinite(r[j]) : (h[j] & 0x7C00) == 0x7C00) {   /* a half's exponent bits all ones: inf or NaN */
            *is_nan = r ? isnan(r[j]) != 0 : (h[j] & 0x3FF) != 0;
            return j;
        }
    return -1;
}

void dl_row_to_f32(const void *row, int f16, int d, float *out) {
    if (f16) f32_from_f16((size_t)d, row, out);
    else memcpy(out, row, (size_t)d * sizeof(float));
}
