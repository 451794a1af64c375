/* experiment.h — the classifiers of the transfer-learning experiment behind
 * one table: fit one by name, evaluate it on a test set. Used by the native
 * CLI, the WASM API (Node CLI and the page) alike. */
#ifndef DENSELAB_EXPERIMENT_H
#define DENSELAB_EXPERIMENT_H
#include "learn/classifier.h"

typedef struct {
    double C;                  /* linear and RBF SVM; default 1 */
    double gamma;              /* RBF; <= 0: 'scale' */
    double cache_mb;           /* RBF kernel cache cap; default 200 */
    int epochs, hidden, batch_size;   /* softmax head; defaults 10, 128, 32 */
    double lr;                 /* softmax head; default 1e-3 */
    uint64_t seed;
} dl_fit_params;

void dl_fit_default_params(dl_fit_params *p);

/* kind: "linear-svm" | "rbf-svm" | "softmax" (report may be NULL). */
const char *dl_fit(const char *kind, const float *x, const int *y, int n, int d,
                   const dl_fit_params *p, dl_learn_progress_fn progress, void *user,
                   dl_classifier **out, dl_train_report *report);

/* Test accuracy (0..1) and the num_classes x num_classes confusion matrix
 * (rows: truth, columns: prediction). pred (n ints) may be NULL. */
const char *dl_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                        double *accuracy, int *confusion, int *pred);

#endif
