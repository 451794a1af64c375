/* model.h — load a DenseLab model file, build a network from it with the
 * Keras Applications arguments, run it.
 *
 *   dl_model *m;  const char *err = dl_model_load(bytes, n, &m);
 *   dl_net_options o; dl_net_options_default(&o);
 *   dl_net_options_set(&o, "include_top", "false");      // Keras argument names and values
 *   dl_net *net;  err = dl_net_build(m, &o, &net);
 *   err = dl_net_run(net, input, batch, output);          // NHWC float32 in, float32 out
 *
 * Every function that can fail returns NULL on success or a reason string
 * (valid until the next failing call) and leaves its outputs untouched.
 */
#ifndef DENSELAB_MODEL_H
#define DENSELAB_MODEL_H
#include <stddef.h>
#include <stdint.h>

typedef struct dl_model dl_model;
typedef struct dl_net dl_net;

/* ---- model file ---------------------------------------------------------- */
const char *dl_model_load(const void *bytes, size_t n, dl_model **out);
void        dl_model_free(dl_model *m);
uint32_t    dl_model_checksum(const dl_model *m);   /* the file's CRC-32 */
const char *dl_model_name(const dl_model *m);

/* ---- Keras Applications arguments --------------------------------------- */
enum dl_pooling { DL_POOLING_NONE = 0, DL_POOLING_AVG, DL_POOLING_MAX };

typedef struct {
    int include_top;          /* 1 */
    int imagenet_weights;     /* 1: the file's weights; 0: Keras initializers (seeded) */
    int input_shape_set;      /* 0: the model's default (224, 224, 3); 1: input_h, input_w, input_c */
    int input_h, input_w, input_c;
    int pooling;              /* enum dl_pooling, only without the top */
    int classes;              /* 1000 */
    uint32_t seed;            /* for weights=None */
    uint64_t max_memory;      /* bytes: packed weights + activations + scratch (DL_DEFAULT_MAX_MEMORY) */
    int gray_to_rgb;          /* DenseLab extension, not Keras: a 1-channel input_shape feeds the 3-channel
                                 model with the gray channel repeated 3x (else Keras's rules: imagenet needs 3) */
} dl_net_options;

/* 1.5 GB: fits WebAssembly's 2 GB with room for the model file and images. */
#define DL_DEFAULT_MAX_MEMORY (1536ull << 20)

void        dl_net_options_default(dl_net_options *o);
/* key: include_top | weights | input_shape | pooling | classes | seed | max_memory | gray_to_rgb;
 * value as a user types it ("false", "imagenet", "none", "32,32,3", "avg",
 * max_memory in bytes or with a unit: "1536MB", "2GB"). */
const char *dl_net_options_set(dl_net_options *o, const char *key, const char *value);

/* ---- network -------------------------------------------------------------- */
const char *dl_net_build(const dl_model *m, const dl_net_options *o, dl_net **out);
void        dl_net_free(dl_net *net);
/* input: batch x H x W x C (C = input_shape's channels); output: batch x dl_net_output_size.
 * A batch whose memory exceeds max_memory is refused (nothing allocated). */
const char *dl_net_run(dl_net *net, const float *input, size_t batch, float *output);
/* A second output of the same run: the input of Keras layer `name` (the feature map it
 * reads; *floats per image, h x w x c), e.g. DenseNet121's conv5_block1 input next to the
 * pooled features; then dl_net_run_tapped copies it into tapped (batch x *floats) as it is
 * computed. One tap per network; a reason if the layer is absent or its input is not a
 * separately computed feature map. */
const char *dl_net_tap_input(dl_net *net, const char *name, size_t *floats);
const char *dl_net_run_tapped(dl_net *net, const float *input, size_t batch, float *output, float *tapped);
void        dl_net_input_shape(const dl_net *net, int shape[3]);
/* Output shape without the batch axis: rank 1 ([units]) or 3 ([h, w, c]). */
int         dl_net_output_shape(const dl_net *net, int shape[3]);
size_t      dl_net_output_size(const dl_net *net);
/* Keras's symbolic output shape (without the batch axis): as dl_net_output_shape, but
 * height and width are -1 (None) when the model takes any size (include_top=False,
 * input_shape=None); the network itself runs at the default size. */
int         dl_net_keras_output_shape(const dl_net *net, int shape[3]);
/* The largest batch up to want (halving from want, at least 1) whose memory
 * fits max_memory: callers that batch for speed use it to stay under the limit. */
size_t      dl_net_max_batch(const dl_net *net, size_t want);
/* Keras model.summary()-like table. Returns the length needed (snprintf style). */
size_t      dl_net_summary(const dl_net *net, char *buf, size_t cap);
void        dl_net_param_counts(const dl_net *net, size_t *total, size_t *trainable);
/* Bytes of activation memory planned for one image (arena, buffers reused). */
size_t      dl_net_arena_bytes(const dl_net *net);
/* Per-layer timing (`denselab bench --layers`): while on, every dl_net_run
 * adds each executed node's wall time (turning it on clears the sums). The
 * table lists the `rows` slowest nodes (all: 0) with the Keras layer each
 * computes, its output shape, how the threads split it, and ms per run
 * (`runs` runs summed), then the time per kind of operation. snprintf style. */
const char *dl_net_profile(dl_net *net, int on);
size_t      dl_net_profile_table(const dl_net *net, int runs, int rows, char *buf, size_t cap);

/* ---- for exporters (onnx/): the network's Keras layers, in order ---------- */
/* What dl_net_build made of the file and the Keras arguments (the top cut, the
 * pooling layer appended): layer i reads layers inputs[] < i. Pointers stay
 * valid while the network and its model live. */
typedef struct {
    int type, activation;       /* models/format.h: enum dl_layer_type, enum dl_activation */
    const char *name;
    int n_inputs;
    const int *inputs;
    const int *ip;              /* iparams[8], named by format.h (DL_CONV_FILTERS...) */
    const float *fp;            /* fparams[2] (DL_BN_EPSILON) */
    const float *const *w;      /* the file's kernel [, bias] | gamma, beta, mean, variance; NULL for weights=None */
    int rank, h, w_, c;         /* output shape: rank 3 (h, w, c) or rank 1 (c) */
    const int *pad;             /* Conv2D 'same': top, bottom, left, right */
} dl_net_layer;
int         dl_net_layer_count(const dl_net *net);
void        dl_net_layer_at(const dl_net *net, int i, dl_net_layer *out);

#endif
