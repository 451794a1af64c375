/* softmax_head.h — the "new head on a frozen base" of the transfer-learning
 * experiment, as Keras would train it:
 *   [Dense(hidden, relu) ->] Dense(num_classes, softmax)   (hidden 0: softmax regression)
 * Glorot-uniform kernels and zero biases (Keras defaults), categorical
 * cross-entropy, mini-batch Adam (Keras: lr 1e-3, beta1 0.9, beta2 0.999,
 * epsilon 1e-7 added to sqrt(v), bias-corrected step size), the training set
 * reshuffled every epoch. Inputs are standardised like the linear SVM
 * (unless standardize = 0). Train loss/accuracy per epoch are the running
 * averages over the epoch's batches, as Keras' fit() prints them.
 * The head, Adam and the epoch loop are learn/head.h's, shared with
 * fine-tuning (forward on the packed GEMM, backward on kernels/backward.c). */
#ifndef DENSELAB_SOFTMAX_HEAD_H
#define DENSELAB_SOFTMAX_HEAD_H
#include <stdint.h>
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int hidden;        /* units of the relu layer; 0 = none. default 128 */
    int epochs;        /* default 10 */
    int batch_size;    /* default 32 (Keras) */
    double lr;         /* default 1e-3 */
    double beta1, beta2, epsilon;   /* 0.9, 0.999, 1e-7 */
    int standardize;   /* default 1 */
    uint64_t seed;     /* init + shuffling; default 1 */
} dl_softmax_params;

void dl_softmax_default_params(dl_softmax_params *p);

/* x: n x d, y: labels 0..K-1 (every class present). xv/yv/nv: optional
 * validation set (NULL/0: none; then val_acc = -1). progress (may be NULL)
 * is called after every epoch with loss, train_acc, val_acc; step = epochs
 * done. report (may be NULL) gets the per-epoch history. */
const char *dl_softmax_train(const float *x, const int *y, int n, int d,
                             const float *xv, const int *yv, int nv,
                             const dl_softmax_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report);

/* The model, Keras' layouts. All parameters live in one block, in the
 * order of the gradient below: [w1 b1] (hidden > 0 only), w2, b2. */
typedef struct {
    int hidden;
    size_t num_params;
    float *params;
    float *w1, *b1;           /* [num_features][hidden], [hidden] */
    float *w2, *b2;           /* [hidden or num_features][num_classes], [num_classes] */
    float *packed;            /* dl_head_pack of the parameters (learn/head.h), kept current */
} dl_softmax_model;

extern const dl_classifier_kind dl_softmax_kind;

/* For tests: the summed cross-entropy over m standardised rows x with labels
 * y (*loss_sum) and the gradient of the mean loss with respect to every
 * parameter (grad[num_params], the model's order). */
const char *dl_softmax_loss_grad(const dl_classifier *c, const float *x, const int *y, int m,
                                 double *loss_sum, float *grad);
/* For tests: after changing model->params, refresh the packed copies. */
void dl_softmax_repack(dl_classifier *c);

/* The same over stored rows (float32 or float16, learn_common.h); xv may be NULL
 * (no validation) or rows of the same type and width as x. */
const char *dl_softmax_train_rows(const dl_rows *x, const int *y, const dl_rows *xv, const int *yv,
                                  const dl_softmax_params *params, dl_learn_progress_fn progress, void *user,
                                  dl_classifier **out, dl_train_report *report);

#ifdef __cplusplus
}
#endif
#endif
