/* linear_svm.h — one-vs-rest linear SVM trained by LIBLINEAR's dual
 * coordinate descent (solve_l2r_l1l2_svc of LIBLINEAR 2.3):
 *   loss 2: L2-regularised squared-hinge loss (LIBLINEAR -s 1, default)
 *   loss 1: L2-regularised hinge loss          (LIBLINEAR -s 3)
 * with LIBLINEAR's bias handling (-B b: an extra feature of value b whose
 * weight is regularised too), random permutation of the active set every
 * outer iteration, shrinking with the previous PGmax/PGmin, and the stop
 * rule PGmax - PGmin <= eps.
 *
 * Features are standardised on the training set (mean/std per feature, in
 * double; std 0 -> 1) unless params.standardize = 0. The training matrix
 * is never copied (60,000 x 1,024 floats is 245 MB): the solver works on
 * w / std and folds the mean into one scalar (see linear_svm.c), so a
 * standardised pass costs about what a raw one does. The stored weights
 * are in the standardised space; dl_classifier_predict standardises. */
#ifndef DENSELAB_LINEAR_SVM_H
#define DENSELAB_LINEAR_SVM_H
#include <stdint.h>
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double C;          /* > 0; default 1 */
    int loss;          /* 2 = squared hinge (-s 1, default), 1 = hinge (-s 3) */
    double eps;        /* stopping tolerance; default 0.1 */
    int max_iter;      /* outer iterations per class; default 1000 */
    double bias;       /* value of the bias feature (-B); default 1; <= 0: none */
    int standardize;   /* default 1 */
    uint64_t seed;     /* permutation RNG seed; default 1 */
} dl_linear_svm_params;

void dl_linear_svm_default_params(dl_linear_svm_params *p);

/* The model: decision_k = w[k][0..d) . x + w[k][d]. */
typedef struct {
    float *w;          /* [num_classes][num_features + 1] */
} dl_linear_svm_model;

extern const dl_classifier_kind dl_linear_svm_kind;

/* x: n rows of d floats, y: labels 0..K-1 (every class present, K >= 2).
 * progress (may be NULL) is called after every outer iteration, step =
 * class. report (may be NULL) gets one entry per class: iterations,
 * objective (= LIBLINEAR's printed "Objective value", the dual objective
 * in minimisation form; the dual maximum is -objective), primal, nsv.
 * Free with dl_train_report_free. */
const char *dl_linear_svm_train(const float *x, const int *y, int n, int d,
                                const dl_linear_svm_params *params,
                                dl_learn_progress_fn progress, void *user,
                                dl_classifier **out, dl_train_report *report);

/* The same over stored rows (float32 or float16, learn_common.h): float16 rows
 * train the same model as float32 rows holding the same values. */
const char *dl_linear_svm_train_rows(const dl_rows *x, const int *y, const dl_linear_svm_params *params,
                                     dl_learn_progress_fn progress, void *user,
                                     dl_classifier **out, dl_train_report *report);

#ifdef __cplusplus
}
#endif
#endif
