/* features.c — gray images -> DenseNet features, batched. */
#include "models/features.h"
#include "models/image.h"
#include <stdlib.h>

const char *dl_gray_features(dl_net *net, const unsigned char *gray, int w, int h, size_t count,
                             size_t batch, float *out, dl_features_progress progress, void *user) {
    int shape[3];
    dl_net_input_shape(net, shape);
    if (shape[2] != 3) return "the feature network must take 3-channel input (gray is replicated before preprocess_input)";
    if (w < 1 || h < 1) return "images must be at least 1x1";
    if (batch < 1) batch = 1;
    size_t in_floats = (size_t)shape[0] * shape[1] * 3, out_floats = dl_net_output_size(net);
    float *x = malloc(sizeof(float) * in_floats * (batch < count ? batch : count ? count : 1));
    if (!x) return "out of memory for the feature batch";
    const char *err = NULL;
    for (size_t done = 0; done < count && !err;) {
        size_t b = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < b; i++) {
            float *xi = x + i * in_floats;
            dl_gray_resize_bilinear_to_rgb(gray + (done + i) * (size_t)w * h, w, h, shape[1], shape[0], xi);
            dl_preprocess_torch_f32(xi, (size_t)shape[0] * shape[1], xi);
        }
        err = dl_net_run(net, x, b, out + done * out_floats);
        done += b;
        if (!err && progress && progress(done, count, user)) err = "cancelled";
    }
    free(x);
    return err;
}
