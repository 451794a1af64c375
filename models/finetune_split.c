/* finetune_split.c — see finetune_split.h. */
#include "models/finetune_split.h"
#include "models/model_internal.h"
#include "common/checked.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dl_frozen {
    dl_model truncated;   /* the model's first layers; shares the model's names and weights */
    dl_net *net;
};

static int find_layer(const dl_model *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++) if (!strcmp(m->layers[i].name, name)) return i;
    return -1;
}

const char *dl_frozen_build(const dl_model *m, const dl_net_options *o, dl_frozen **out) {
    if (!m || !o || !out) return "frozen part: bad arguments";
    *out = NULL;
    int cut = find_layer(m, DL_FINETUNE_FIRST_LAYER);
    if (cut < 1) return "model file: no " DL_FINETUNE_FIRST_LAYER " layer (fine-tuning needs DenseNet121)";
    const dl_layer *first = &m->layers[cut];
    if (first->n_inputs != 1 || first->inputs[0] != cut - 1)
        return "model file: " DL_FINETUNE_FIRST_LAYER " does not read the layer before it";
    dl_frozen *f = calloc(1, sizeof *f);
    if (!f) return "out of memory";
    f->truncated = *m;
    f->truncated.n_layers = cut;
    dl_net_options opt = *o;
    opt.include_top = 0;
    opt.pooling = DL_POOLING_NONE;
    const char *err = dl_net_build(&f->truncated, &opt, &f->net);
    if (err) { free(f); return err; }
    *out = f;
    return NULL;
}

dl_net *dl_frozen_net(const dl_frozen *f) { return f ? f->net : NULL; }

void dl_frozen_free(dl_frozen *f) {
    if (!f) return;
    dl_net_free(f->net);
    free(f);
}

/* The layer's tensors, checked: a BatchNorm has 4 of c values, a convolution
 * one kernel [kh][kw][c][filters] without bias. */
static const char *layer_tensors(const dl_model *m, const char *name, int type, int *layer) {
    *layer = find_layer(m, name);
    if (*layer < 0) return dl_errorf("model file: no layer %s (fine-tuning needs DenseNet121)", name);
    const dl_layer *l = &m->layers[*layer];
    if (l->type != type || l->n_tensors != (type == DL_BATCH_NORM ? 4 : 1))
        return dl_errorf("model file: %s is not a %s", name, type == DL_BATCH_NORM ? "BatchNormalization" : "Conv2D without bias");
    return NULL;
}

/* The names in layout order; with out == NULL only counts. */
static const char *walk(const dl_model *m, float *out, size_t *count) {
    char name[64];
    size_t n = 0;
    for (int i = 1;; i++) {
        snprintf(name, sizeof name, "conv5_block%d_0_bn", i);
        if (find_layer(m, name) < 0) { if (i == 1) return "model file: no conv5_block1_0_bn layer"; break; }
        for (int part = 0; part < 4; part++) {
            static const char *suffix[4] = {"0_bn", "1_conv", "1_bn", "2_conv"};
            snprintf(name, sizeof name, "conv5_block%d_%s", i, suffix[part]);
            int layer;
            const char *err = layer_tensors(m, name, part % 2 ? DL_CONV2D : DL_BATCH_NORM, &layer);
            if (err) return err;
            const dl_layer *l = &m->layers[layer];
            for (int t = 0; t < l->n_tensors; t++) {
                const dl_tensor *x = &m->tensors[l->tensors[t]];
                if (out) memcpy(out + n, x->data, x->count * sizeof(float));
                if (!dl_add(n, x->count, &n)) return "model file: conv5 too large";
            }
        }
    }
    int layer;
    const char *err = layer_tensors(m, "bn", DL_BATCH_NORM, &layer);
    if (err) return err;
    for (int t = 0; t < 4; t++) {
        const dl_tensor *x = &m->tensors[m->layers[layer].tensors[t]];
        if (out) memcpy(out + n, x->data, x->count * sizeof(float));
        if (!dl_add(n, x->count, &n)) return "model file: conv5 too large";
    }
    *count = n;
    return NULL;
}

const char *dl_finetune_block_weights(const dl_model *m, float **out, size_t *count) {
    if (!m || !out || !count) return "block weights: bad arguments";
    size_t n, bytes;
    const char *err = walk(m, NULL, &n);
    if (err) return err;
    float *w = dl_mul(n ? n : 1, sizeof(float), &bytes) ? malloc(bytes) : NULL;
    if (!w) return "out of memory";
    walk(m, w, &n);
    *out = w;
    *count = n;
    return NULL;
}
