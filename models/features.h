/* features.h — DenseNet features of small gray images (the Fashion-MNIST path).
 *
 * Each w x h gray image -> bilinear resize to the net's input size ->
 * gray replicated to 3 channels -> densenet preprocess_input -> the net
 * (typically include_top=False, pooling='avg': one 1024-vector per image). */
#ifndef DENSELAB_FEATURES_H
#define DENSELAB_FEATURES_H
#include "models/model.h"

/* Called after each batch with images done so far; nonzero return cancels. */
typedef int (*dl_features_progress)(size_t done, size_t total, void *user);

/* gray: count images of w*h bytes; out: count * dl_net_output_size(net) floats.
 * batch: images per network run (memory grows with it). */
const char *dl_gray_features(dl_net *net, const unsigned char *gray, int w, int h, size_t count,
                             size_t batch, float *out, dl_features_progress progress, void *user);
/* The same, with the feature map tapped by dl_net_tap_input (tap_floats per image) into
 * tapped (count * tap_floats floats) from the same runs. */
const char *dl_gray_features_tapped(dl_net *net, const unsigned char *gray, int w, int h, size_t count, size_t batch,
                                    float *out, float *tapped, size_t tap_floats, dl_features_progress progress, void *user);

#endif
