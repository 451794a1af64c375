/* finetune_split.h — DenseNet121 cut at conv5_block1 for fine-tuning
 * (learn/finetune.h): the frozen part as a network of its own, and the
 * weights of what follows it.
 *
 *   dl_frozen *f;  err = dl_frozen_build(model, &options, &f);
 *   dl_gray_features(dl_frozen_net(f), ...)    // conv5_block1's input, h x w x 512 per image
 *   float *w; size_t n;  err = dl_finetune_block_weights(model, &w, &n);   // then dl_finetune_set_base(w, n)
 */
#ifndef DENSELAB_FINETUNE_SPLIT_H
#define DENSELAB_FINETUNE_SPLIT_H
#include "models/model.h"

/* The layer whose input is the cut: everything before it is frozen. */
#define DL_FINETUNE_FIRST_LAYER "conv5_block1_0_bn"

typedef struct dl_frozen dl_frozen;

/* Every layer of the model file before DL_FINETUNE_FIRST_LAYER, built by
 * graph.c like any network with the caller's options (input_shape,
 * max_memory; include_top and pooling are forced to False and None), so
 * its output is Keras's intermediate output at the cut. The model must
 * outlive it. */
const char *dl_frozen_build(const dl_model *m, const dl_net_options *o, dl_frozen **out);
dl_net     *dl_frozen_net(const dl_frozen *f);
void        dl_frozen_free(dl_frozen *f);

/* Copies the weights of conv5_block1..16 and the final bn into a new
 * malloc'd array (caller frees) in learn/finetune.h's layout: per block i,
 * conv5_block<i>_0_bn (gamma, beta, moving mean, moving variance),
 * _1_conv kernel, _1_bn, _2_conv kernel; then bn. */
const char *dl_finetune_block_weights(const dl_model *m, float **out, size_t *count);

#endif
