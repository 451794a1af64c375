/* model_internal.h — the loaded model file as structs that mirror it
 * (shared by models/model.c, which reads the file, and models/graph.c,
 * which builds and runs networks from it). */
#ifndef DENSELAB_MODEL_INTERNAL_H
#define DENSELAB_MODEL_INTERNAL_H
#include "common/reason.h"
#include "models/format.h"
#include "models/model.h"

typedef struct {
    char *name;
    int ndim, dims[4];
    size_t count;
    const float *data;
} dl_tensor;

typedef struct {
    int type, activation;
    char *name;
    int n_inputs, *inputs;      /* indices of earlier layers */
    int ip[8];
    float fp[2];
    int n_tensors, *tensors;    /* indices into dl_model.tensors */
} dl_layer;

struct dl_model {
    char name[17];
    uint32_t crc;
    int n_layers, n_tensors;
    dl_layer *layers;
    dl_tensor *tensors;
    float *weights;             /* owned float32 copy of the tensor data */
    char *strings;              /* owned: names, input and tensor index arrays */
};

/* The nodes a network executes, one word each ("input conv+bn+relu concat(copy 1)
 * ..."), snprintf style: what tests check the graph rewrites against. */
size_t dl_net_plan(const dl_net *net, char *buf, size_t cap);

#endif
