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

/* ---- feature rows stored as float32 or float16 ----------------------------
 * n rows of d features, row after row: float32, or float16 (IEEE binary16
 * bits, kernels/kernels.h f16_from_f32), which halves the memory of a large
 * feature matrix. A reader asks for a row as float32: float32 data is read in
 * place, float16 is converted into the reader's scratch (d floats), so no
 * float32 copy of the matrix is ever made. */
typedef struct {
    const void *data;
    int n, d;
    int f16;          /* 0: float32, 1: float16 */
} dl_rows;

dl_rows dl_rows_f32(const float *x, int n, int d);
dl_rows dl_rows_f16(const uint16_t *x, int n, int d);
/* Rows [first, first + count) of x (in range: the caller checks). */
dl_rows dl_rows_slice(const dl_rows *x, int first, int count);
/* Where row i starts in x->data. */
const void *dl_rows_at(const dl_rows *x, int i);
/* One stored row (d features, f16 or not) as float32: row itself, or scratch filled. */
const float *dl_row_f32(const void *row, int f16, int d, float *scratch);
/* Row i as float32 (dl_row_f32 of dl_rows_at). */
const float *dl_rows_row(const dl_rows *x, int i, float *scratch);
/* One stored row into out (d floats): copied, or converted from float16. */
void dl_row_to_f32(const void *row, int f16, int d, float *out);
/* The column of row i's first infinite or NaN feature (*is_nan says which), or -1. */
int dl_rows_nonfinite(const dl_rows *x, int i, int *is_nan);
/* dl_learn_check_xy and dl_standardize_fit over stored rows (the same
 * reasons and the same values for float32 rows). */
const char *dl_learn_check_rows(const dl_rows *x, const int *y, int *num_classes);
const char *dl_standardize_fit_rows(const dl_rows *x, float *mean, float *std);

#ifdef __cplusplus
}
#endif
#endif
