/* kernel_svm.h — RBF-kernel C-SVC, one-vs-one, as LIBSVM 3.24 / scikit-learn
 * SVC(kernel='rbf') train it: SMO with the second-order working-set selection
 * of Fan, Chen & Lin (2005, "WSS3"), shrinking, an LRU cache of kernel
 * columns capped in bytes, stopping tolerance tol on the maximal violating
 * pair. A prediction is the class with most pair votes, ties going to the
 * first such class (LIBSVM).
 *
 * gamma <= 0 means scikit-learn's gamma='scale': 1 / (d * X.var()) over the
 * training matrix as the SVC sees it (after standardisation if enabled,
 * which it is not by default: SVC uses the features it is given).
 * Practical up to ~20,000 training points (10 classes -> 45 problems). */
#ifndef DENSELAB_KERNEL_SVM_H
#define DENSELAB_KERNEL_SVM_H
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double C;          /* > 0; default 1 */
    double gamma;      /* > 0, or <= 0 for 'scale' (default) */
    double tol;        /* default 1e-3 (LIBSVM -e) */
    int shrinking;     /* default 1 (LIBSVM -h) */
    double cache_mb;   /* kernel cache cap in MiB; default 200 (LIBSVM -m) */
    int standardize;   /* default 0 */
    long max_iter;     /* SMO steps per pair; <= 0: LIBSVM's max(1e7, 100 l) */
} dl_rbf_svm_params;

void dl_rbf_svm_default_params(dl_rbf_svm_params *p);

/* x: n x d, y: labels 0..K-1 (every class present). progress (may be NULL)
 * is called every 1,000 SMO steps and after each pair (step = pairs done,
 * steps = K(K-1)/2, iter = steps of the current pair). report (may be
 * NULL): per pair iterations, objective ("obj" as LIBSVM prints it), nsv,
 * nbsv, and gamma. The classifier holds total_sv and sv_count per class. */
const char *dl_rbf_svm_train(const float *x, const int *y, int n, int d,
                             const dl_rbf_svm_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report);

/* sklearn gamma='scale' of an n x d matrix: 1 / (d * var(all elements)), 1 if var is 0. */
double dl_rbf_gamma_scale(const float *x, int n, int d);

/* The model, LIBSVM's layout: support vectors grouped by class; pair (i<j)
 * decision = sum coef * K(sv, x) - rho > 0 -> i. Scores are pair votes. */
typedef struct {
    double gamma;
    int total_sv;
    int *sv_count;            /* [num_classes] */
    float *sv;                /* [total_sv][num_features] */
    double *sv_coef;          /* [num_classes - 1][total_sv] */
    double *rho;              /* [num_classes * (num_classes - 1) / 2] */
} dl_rbf_svm_model;

extern const dl_classifier_kind dl_rbf_svm_kind;

#ifdef __cplusplus
}
#endif
#endif
