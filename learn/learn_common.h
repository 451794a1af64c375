/* learn_common.h — shared plumbing of learn/: progress reports, input
 * validation and feature standardisation (vector kernels: kernels/kernels.h).
 *
 * Errors follow the project style: functions return a reason string, NULL on
 * success. Formatted reasons (naming a row/column) live in one static buffer,
 * valid until the next failing call (the library is single-threaded). */
#ifndef DENSELAB_LEARN_COMMON_H
#define DENSELAB_LEARN_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include "common/reason.h"
#include "common/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress report shared by every trainer. The callback returns nonzero to
 * cancel; the trainer then frees what it allocated and fails with
 * DL_CANCELLED. */
typedef struct {
    const char *phase;     /* "linear-svm", "rbf-svm", "softmax" */
    int step, steps;       /* classes / class pairs / epochs finished, and total */
    long iter;             /* solver iterations of the current step so far */
    double loss;           /* softmax: mean train loss of the epoch */
    double train_acc;      /* softmax: train accuracy of the epoch */
    double val_acc;        /* softmax: validation accuracy, or -1 if none */
    double val_loss;       /* finetune: mean validation loss, or -1 if none */
} dl_learn_progress;
typedef int (*dl_learn_progress_fn)(void *user, const dl_learn_progress *p);
/* What progress returns to end an Adam-trained fit after this epoch as EarlyStopping would
 * (the best epoch's weights kept; with no validation rows, this epoch's); any other nonzero cancels. */
#define DL_FIT_STOP 2

/* Checks sizes, finite features (error names the row/column) and labels in
 * [0, 255]; counts classes (max label + 1) and requires every class
 * 0..K-1 to be present and at least two of them. y may be NULL (features
 * only; then *num_classes is untouched). */
const char *dl_learn_check_xy(const float *x, const int *y, int n, int d, int *num_classes);

/* Per-feature mean and standard deviation (population, in double; std 0 -> 1)
 * over n rows of d floats. */
const char *dl_standardize_fit(const float *x, int n, int d, float *mean, float *std);
/* out[j] = (x[j] - mean[j]) / std[j]; out may equal x. mean NULL = copy. */
void dl_standardize_row(const float *x, const float *mean, const float *std, int d, float *out);

void *dl_learn_alloc(size_t count, size_t size);   /* calloc with overflow check */

#ifdef __cplusplus
}
#endif
#endif
