/* learn_common.c — see learn_common.h. */
#include "learn/learn_common.h"
#include "common/checked.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DL_LEARN_MAX_CLASSES 256

const char *dl_learn_check_xy(const float *x, const int *y, int n, int d, int *num_classes) {
    if (n <= 0) return "no training samples (n = 0)";
    if (d <= 0) return "no features (d = 0)";
    if (!x) return "feature matrix is NULL";
    size_t bytes;
    if (!dl_bytes((size_t)n, (size_t)d, sizeof(float), 0, &bytes))
        return dl_errorf("feature matrix of %d x %d floats is too large for this platform", n, d);
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        for (int j = 0; j < d; j++)
            if (!isfinite(r[j]))
                return dl_errorf("feature is %s at row %d, column %d",
                                       isnan(r[j]) ? "NaN" : "infinite", i, j);
    }
    if (!y) return NULL;
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
    double *s = dl_learn_alloc((size_t)d * 2, sizeof(double));
    if (!s) return "out of memory";
    double *s2 = s + d;
    /* Two passes (mean, then centred squares) keep the variance accurate
     * for features with a large offset. */
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        for (int j = 0; j < d; j++) s[j] += r[j];
    }
    for (int j = 0; j < d; j++) s[j] /= n;
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        for (int j = 0; j < d; j++) { double t = r[j] - s[j]; s2[j] += t * t; }
    }
    for (int j = 0; j < d; j++) {
        double sd = sqrt(s2[j] / n);
        mean[j] = (float)s[j];
        std[j] = (sd > 0 && (float)sd > 0) ? (float)sd : 1.0f;
    }
    free(s);
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
