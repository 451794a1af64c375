/* classifier.h — the trained-classifier object shared by the linear SVM, the
 * RBF SVM and the softmax head, its prediction, and its file format.
 *
 * Labels are ints 0..num_classes-1. Features are float32 rows of
 * num_features. If mean/std are set, every input row is standardised
 * ((x - mean) / std) before use; the stored parameters live in that space.
 *
 * File format (little-endian), "DLCLASS1":
 *   0  char[8]  "DLCLASS1"
 *   8  u32      version (1)
 *   12 u32      kind (dl_classifier_kind)
 *   16 u32      num_classes
 *   20 u32      num_features
 *   24 u32      flags (bit 0: standardised)
 *   28 u32      kind parameter: rbf-svm total_sv, softmax hidden, else 0
 *   32 u64      payload bytes
 *   40 payload  [mean f32[d], std f32[d]] then per kind:
 *               linear-svm: w f32[K][d+1] (last column: bias weight * bias)
 *               rbf-svm:    gamma f64, sv_count u32[K], rho f64[K(K-1)/2],
 *                           sv_coef f64[K-1][total_sv], sv f32[total_sv][d]
 *               softmax:    hidden>0: w1 f32[d][h], b1 f32[h], w2 f32[h][K], b2 f32[K]
 *                           hidden=0: w2 f32[d][K], b2 f32[K]
 *   end-4 u32   CRC-32 (IEEE) of every preceding byte
 */
#ifndef DENSELAB_CLASSIFIER_H
#define DENSELAB_CLASSIFIER_H
#include <stddef.h>
#include <stdint.h>
#include "learn/learn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DL_CLF_LINEAR_SVM = 1,
    DL_CLF_RBF_SVM = 2,
    DL_CLF_SOFTMAX = 3,
} dl_classifier_kind;

typedef struct {
    dl_classifier_kind kind;
    int num_classes, num_features;
    float *mean, *std;        /* [num_features] each, or both NULL */

    /* linear-svm, one-vs-rest: decision_k = w[k][0..d) . x + w[k][d] */
    float *w;                 /* [num_classes][num_features + 1] */

    /* rbf-svm, one-vs-one, LIBSVM's model layout: support vectors grouped
     * by class; pair (i<j) decision = sum coef * K(sv, x) - rho > 0 -> i. */
    double gamma;
    int total_sv;
    int *sv_count;            /* [num_classes] */
    float *sv;                /* [total_sv][num_features] */
    double *sv_coef;          /* [num_classes - 1][total_sv] */
    double *rho;              /* [num_classes * (num_classes - 1) / 2] */

    /* softmax head: [Dense(hidden, relu) ->] Dense(num_classes, softmax) */
    int hidden;               /* 0: softmax regression */
    float *w1, *b1;           /* [num_features][hidden], [hidden] */
    float *w2, *b2;           /* [hidden or num_features][num_classes], [num_classes] */
} dl_classifier;

/* What training reports, per binary problem (linear: one per class;
 * rbf: one per class pair, in LIBSVM's order (0,1),(0,2)..(1,2)..). */
typedef struct {
    int num_problems;
    long *iterations;         /* solver outer iterations (linear) / SMO steps (rbf) */
    double *objective;        /* as LIBLINEAR prints "Objective value" / LIBSVM "obj" */
    double *primal;           /* linear only: primal objective value */
    int *nsv, *nbsv;          /* alphas > 0 / alphas at the upper bound */
    double gamma;             /* rbf: gamma used */
    /* softmax: per-epoch history */
    int epochs;
    double *loss, *train_acc, *val_acc;
} dl_train_report;
void dl_train_report_free(dl_train_report *r);

/* n rows -> labels[n] (may be NULL) and scores[n][num_classes] (may be NULL):
 * linear-svm decision values, rbf-svm votes, softmax probabilities.
 * Non-finite features fail with the row/column named. */
const char *dl_classifier_predict(const dl_classifier *c, const float *x, int n,
                                  int *labels, float *scores);

/* Serialise into a new malloc'd buffer (caller free()s it). */
const char *dl_classifier_save(const dl_classifier *c, uint8_t **buf, size_t *size);
/* Parse and fully validate a buffer; *out is a new classifier. */
const char *dl_classifier_load(const uint8_t *buf, size_t size, dl_classifier **out);
void dl_classifier_free(dl_classifier *c);

/* Internal: a zeroed classifier with the arrays of its kind allocated. */
dl_classifier *dl_classifier_alloc(dl_classifier_kind kind, int num_classes, int num_features,
                                   int standardised, int kind_param);
const char *dl_classifier_kind_name(dl_classifier_kind kind);

#ifdef __cplusplus
}
#endif
#endif
