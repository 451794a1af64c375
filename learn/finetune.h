/* finetune.h — fine-tuning the last dense block of DenseNet121 with a new
 * head, as Keras does it:
 *
 *   base = DenseNet121(include_top=False, weights='imagenet', input_shape=(S, S, 3), pooling='avg')
 *   every layer before conv5_block1 frozen; the rest trainable, but every
 *   BatchNormalization in inference mode (moving statistics frozen: a
 *   per-channel affine whose gamma and beta train);
 *   head: Dense(hidden, relu) -> Dense(10, softmax); Adam (Keras defaults,
 *   a small lr), categorical cross-entropy, mini-batches, seeded shuffling,
 *   validation_split (the last fraction of the rows, as Keras takes it),
 *   EarlyStopping(monitor='val_loss', patience, restore_best_weights=True).
 *
 * The frozen part runs once per image: a row of x is the input of
 * conv5_block1 (h x w x 512, NHWC; 1 x 1 x 512 at S = 32), computed by the
 * host with models/finetune_split.h. So learn/ still sees only feature rows;
 * the block's pretrained weights come from dl_finetune_set_base.
 *
 * Parameter layout (one float array; the gradient and the classifier file
 * use it too), in Keras layer order, for each layer i of the block with
 * c_i = channels + i * growth input channels:
 *   bn1 gamma, beta, moving_mean, moving_variance [c_i]; conv1 kernel
 *   [1][1][c_i][bottleneck]; bn2 gamma, beta, mean, variance [bottleneck];
 *   conv2 kernel [3][3][bottleneck][growth];
 * then the final bn [c_L] x 4 (the block's output, c_L = channels + layers
 * * growth), then the head: w1 [c_L][hidden], b1 [hidden], w2 [hidden][K], b2 [K].
 * Convolutions have no bias (as in DenseNet); BatchNorm epsilon is 1.001e-5. */
#ifndef DENSELAB_FINETUNE_H
#define DENSELAB_FINETUNE_H
#include <stddef.h>
#include <stdint.h>
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int channels;      /* input channels of the block (DenseNet121 conv5: 512) */
    int layers;        /* conv blocks (16) */
    int growth;        /* channels each layer adds (32) */
    int bottleneck;    /* the 1x1 convolution's filters (4 * growth = 128) */
    int height, width; /* spatial size of the block's input */
} dl_dense_block_shape;

/* DenseNet121's conv5 at h x w. */
dl_dense_block_shape dl_densenet121_conv5(int height, int width);

/* Floats of the block's parameters alone (no head), and with a head of
 * hidden units and k classes; 0 if the count does not fit in size_t or is
 * beyond the limit (a few hundred MB). */
size_t dl_finetune_block_floats(const dl_dense_block_shape *s);
size_t dl_finetune_param_floats(const dl_dense_block_shape *s, int hidden, int k);

/* The pretrained block (layout above, no head) that fit() starts from: a
 * copy is kept (one per process) until the next call; NULL clears it. */
const char *dl_finetune_set_base(const float *block, size_t count);

typedef struct {
    int hidden, epochs, batch_size, patience;
    double lr, val;               /* val: fraction held out (0: none) */
    uint64_t seed;
} dl_finetune_params;
void dl_finetune_default_params(dl_finetune_params *p);

/* x: n rows of h * w * channels floats (s->height, s->width), labels y.
 * block: the starting block parameters (NULL: dl_finetune_set_base's).
 * progress per epoch: loss, train_acc, val_acc, val_loss. report: per-epoch
 * history of the epochs run. */
const char *dl_finetune_train(const dl_dense_block_shape *s, const float *block, const float *x, const int *y, int n,
                              const dl_finetune_params *p, dl_learn_progress_fn progress, void *user,
                              dl_classifier **out, dl_train_report *report);

/* A fine-tune classifier from every parameter (layout above, head
 * included), for tests and the TF.js comparison. */
const char *dl_finetune_from_params(const dl_dense_block_shape *s, int hidden, int k, const float *params,
                                    size_t count, dl_classifier **out);
/* Its parameters (count floats, layout above); NULL if c is not one. */
float *dl_finetune_params_of(const dl_classifier *c, size_t *count);
/* Summed loss over m rows (*loss_sum) and the mean loss's gradient
 * (grad[count]; the moving statistics' entries are 0: frozen). */
const char *dl_finetune_loss_grad(const dl_classifier *c, const float *x, const int *y, int m,
                                  double *loss_sum, float *grad);
/* steps Keras Adam steps (beta 0.9, 0.999, epsilon 1e-7, moments from 0)
 * on the same m rows: what the TF.js step test compares. */
const char *dl_finetune_adam_steps(dl_classifier *c, const float *x, const int *y, int m, double lr, int steps);

extern const dl_classifier_kind dl_finetune_kind;

#ifdef __cplusplus
}
#endif
#endif
