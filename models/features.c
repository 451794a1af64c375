/* features.c — gray images -> DenseNet features, batched. */
#include "models/features.h"
#include "models/image.h"
#include "common/checked.h"
#include "common/reason.h"
#include <stdlib.h>

const char *dl_gray_features(dl_net *net, const unsigned char *gray, int w, int h, size_t count,
                             size_t batch, float *out, dl_features_progress progress, void *user) {
    return dl_gray_features_tapped(net, gray, w, h, count, batch, out, NULL, 0, progress, user);
}

const char *dl_gray_features_tapped(dl_net *net, const unsigned char *gray, int w, int h, size_t count, size_t batch,
                                    float *out, float *tapped, size_t tap_floats, dl_features_progress progress, void *user) {
    int shape[3];
    dl_net_input_shape(net, shape);
    if (shape[2] != 3) return "the feature network must take 3-channel input (gray is replicated before preprocess_input)";
    if (w < 1 || h < 1) return "images must be at least 1x1";
    if (!gray || !out) return "missing images or output";
    batch = dl_net_max_batch(net, batch);    /* big inputs: smaller batches, within max_memory */
    /* The caller's buffers hold count images and outputs: those sizes must fit too. */
    size_t in_floats = (size_t)shape[0] * shape[1] * 3, out_floats = dl_net_output_size(net);
    size_t gray_bytes, out_total, x_bytes;
    if (!dl_mul3((size_t)w, (size_t)h, count, &gray_bytes) || !dl_bytes(out_floats, count, sizeof(float), 0, &out_total) ||
        !dl_bytes(in_floats, batch < count ? batch : count ? count : 1, sizeof(float), 0, &x_bytes))
        return dl_errorf("%zu images of %dx%d are too many for this platform", count, w, h);
    if (tapped && !dl_bytes(tap_floats, count, sizeof(float), 0, &out_total))
        return dl_errorf("%zu images' tapped feature maps are too many for this platform", count);
    float *x = malloc(x_bytes);
    if (!x) return "out of memory for the feature batch";
    const char *err = NULL;
    for (size_t done = 0; done < count && !err;) {
        size_t b = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < b; i++) {
            float *xi = x + i * in_floats;
            dl_gray_resize_bilinear_to_rgb(gray + (done + i) * (size_t)w * h, w, h, shape[1], shape[0], xi);
            dl_preprocess_torch_f32(xi, (size_t)shape[0] * shape[1], xi);
        }
        err = dl_net_run_tapped(net, x, b, out + done * out_floats, tapped ? tapped + done * tap_floats : NULL);
        done += b;
        if (!err && progress && progress(done, count, user)) err = DL_CANCELLED;
    }
    free(x);
    return err;
}
