/* head.h — what the softmax head (softmax_head.c) and fine-tuning
 * (finetune.c) share, so that each idea is written once:
 *
 *   - the classification head [Dense(hidden, relu) ->] Dense(k, softmax),
 *     forward on the packed GEMM and backward on kernels/backward.c;
 *   - Keras' Adam (bias-corrected step size; the update is f32_adam_update);
 *   - Keras' fit() loop: the order reshuffled every epoch, mini-batches,
 *     one Adam step per batch, per-epoch loss / accuracy (running averages
 *     over the batches, as fit() prints them), validation, progress and
 *     cancel, divergence, and EarlyStopping(restore_best_weights=True). */
#ifndef DENSELAB_HEAD_H
#define DENSELAB_HEAD_H
#include <stddef.h>
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the head -------------------------------------------------------------
 * Keras layouts: w1 [in][hidden], b1 [hidden], w2 [hidden or in][k], b2 [k];
 * hidden 0: Dense(k, softmax) alone (w1, b1 unused). A gradient has the same
 * layout, so it is a dl_head too. */
typedef struct {
    size_t in, hidden, k;
    float *w1, *b1, *w2, *b2;
} dl_head;

/* Floats of the packed weights, and of the scratch forward + backward need
 * for rows rows; SIZE_MAX if they do not fit in size_t. */
size_t dl_head_packed_floats(const dl_head *h);
size_t dl_head_scratch_floats(const dl_head *h, size_t rows);
/* packed = f32_gemm_pack of (w1, b1), then of (w2, b2). */
void dl_head_pack(const dl_head *h, float *packed);
/* x [rows][in] -> hid [rows][hidden] (after relu; unused if hidden is 0) and
 * p [rows][k] (probabilities). */
void dl_head_forward(const dl_head *h, const float *packed, const float *x, size_t rows, float *hid, float *p);
/* After dl_head_forward on the same rows, with labels y: the summed
 * cross-entropy (Keras' clipping), grad (the mean loss's gradient, written)
 * and dx [rows][in] (written, unless NULL). p is overwritten (dlogits). */
double dl_head_backward(const dl_head *h, const dl_head *grad, const float *x, const float *hid, float *p,
                        const int *y, size_t rows, float *dx, float *scratch);
/* Rows whose largest probability (the first, on ties) is at their label. */
long dl_head_correct(const float *p, const int *y, size_t rows, size_t k);

/* ---- Adam ----------------------------------------------------------------- */

typedef struct {
    size_t n;
    float *grad, *m, *v;         /* the gradient to apply, the moments (from 0) */
    long t;                      /* steps taken */
    double beta1, beta2, epsilon;
} dl_adam;

const char *dl_adam_init(dl_adam *a, size_t n, double beta1, double beta2, double epsilon);
/* params -= Keras' Adam step of a->grad, lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t). */
void dl_adam_step(dl_adam *a, float *params, double lr);
void dl_adam_free(dl_adam *a);

/* ---- Keras' fit() --------------------------------------------------------- */

typedef struct {
    const char *phase;           /* progress phase and error prefix: "softmax", "finetune" */
    float *params;               /* what Adam trains */
    size_t num_params;
    int epochs, batch_size;
    int patience;                /* EarlyStopping on val_loss; 0: none */
    double lr, beta1, beta2, epsilon;
    const float *mean, *std;     /* rows are standardised into the batch; NULL: copied */
    void *self;
    /* Forward + backward of the m rows xb (d floats each), labels yb: the
     * summed loss, *correct += right predictions, grad of the mean loss. */
    double (*batch)(void *self, const float *xb, const int *yb, int m, long *correct, float *grad);
    /* params changed: before the first batch, after every step, after
     * restoring the best epoch. May be NULL. */
    void (*updated)(void *self);
    /* After every epoch (NULL: no validation): accuracy and mean loss (-1:
     * not computed) on the validation rows. */
    const char *(*validate)(void *self, double *val_acc, double *val_loss);
} dl_fit_loop;

/* Trains f->params on n rows of d floats (x) with labels y, shuffling with
 * rng. report (may be NULL; cleared by the caller): the epochs run and their
 * loss, train_acc, val_acc. On error the caller frees what it owns. */
const char *dl_fit_loop_run(const dl_fit_loop *f, const float *x, const int *y, int n, int d, dl_rng *rng,
                            dl_learn_progress_fn progress, void *user, dl_train_report *report);
/* The same over stored rows (float32 or float16, learn_common.h). */
const char *dl_fit_loop_run_rows(const dl_fit_loop *f, const dl_rows *x, const int *y, dl_rng *rng,
                                 dl_learn_progress_fn progress, void *user, dl_train_report *report);

#ifdef __cplusplus
}
#endif
#endif
