/* api.c — the Emscripten entry points behind wasm/denselab.js.
 *
 * Plain C functions over handles and heap pointers; the JS side copies data
 * in and out. A function that fails returns 0 (or NULL) and leaves its
 * reason in dl_api_last_error(). */
#include "models/image.h"
#include "models/model.h"
#include "models/predictions.h"
#include <emscripten.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

static char last_error[512];

static int failed(const char *why) {
    strncpy(last_error, why, sizeof last_error - 1);
    return 0;
}

EMSCRIPTEN_KEEPALIVE const char *dl_api_last_error(void) { return last_error; }
EMSCRIPTEN_KEEPALIVE size_t dl_api_heap_used(void) { return mallinfo().uordblks; }

/* ---- model file and network ---------------------------------------------- */

EMSCRIPTEN_KEEPALIVE dl_model *dl_api_model_load(const void *bytes, size_t n) {
    dl_model *m = NULL;
    const char *err = dl_model_load(bytes, n, &m);
    return err ? (failed(err), NULL) : m;
}
EMSCRIPTEN_KEEPALIVE void dl_api_model_free(dl_model *m) { dl_model_free(m); }
EMSCRIPTEN_KEEPALIVE uint32_t dl_api_model_checksum(const dl_model *m) { return dl_model_checksum(m); }

/* options: "key=value" lines with the Keras argument names (models/model.h). */
EMSCRIPTEN_KEEPALIVE dl_net *dl_api_net_build(const dl_model *m, char *options) {
    dl_net_options o;
    dl_net_options_default(&o);
    for (char *line = strtok(options, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        if (!eq) return failed("malformed options"), NULL;
        *eq = 0;
        const char *err = dl_net_options_set(&o, line, eq + 1);
        if (err) return failed(err), NULL;
    }
    dl_net *net = NULL;
    const char *err = dl_net_build(m, &o, &net);
    return err ? (failed(err), NULL) : net;
}
EMSCRIPTEN_KEEPALIVE void dl_api_net_free(dl_net *net) { dl_net_free(net); }

EMSCRIPTEN_KEEPALIVE int dl_api_net_run(dl_net *net, const float *input, size_t batch, float *output) {
    const char *err = dl_net_run(net, input, batch, output);
    return err ? failed(err) : 1;
}

/* shape[0..2] = input h, w, c; shape[3] = output rank; shape[4..6] = output dims. */
EMSCRIPTEN_KEEPALIVE void dl_api_net_shapes(const dl_net *net, int *shape) {
    dl_net_input_shape(net, shape);
    shape[3] = dl_net_output_shape(net, shape + 4);
}

/* The model.summary() text, malloc'ed (the caller frees it). */
EMSCRIPTEN_KEEPALIVE char *dl_api_net_summary(const dl_net *net) {
    size_t n = dl_net_summary(net, NULL, 0);
    char *text = malloc(n + 1);
    if (text) dl_net_summary(net, text, n + 1);
    return text;
}

EMSCRIPTEN_KEEPALIVE double dl_api_net_params(const dl_net *net, int trainable) {
    size_t total, train;
    dl_net_param_counts(net, &total, &train);
    return (double)(trainable ? train : total);
}

/* ---- images ---------------------------------------------------------------- */

/* Keras load_img(target_size=(h, w)): malloc'ed h*w*3 RGB bytes; the original size in wh[0..1]. */
EMSCRIPTEN_KEEPALIVE unsigned char *dl_api_load_img(const unsigned char *bytes, size_t n, int h, int w,
                                                    double max_pixels, int *wh) {
    dl_image img, out;
    const char *err = dl_image_decode(bytes, n, (size_t)max_pixels, &img);
    if (err) return failed(err), NULL;
    wh[0] = img.width; wh[1] = img.height;
    if (h <= 0 || w <= 0) { h = img.height; w = img.width; }
    err = dl_image_resize_nearest(&img, w, h, &out);
    dl_image_free(&img);
    if (err) return failed(err), NULL;
    return out.rgb;
}

EMSCRIPTEN_KEEPALIVE void dl_api_preprocess(const unsigned char *rgb, size_t pixels, float *out) {
    dl_preprocess_torch(rgb, pixels, out);
}

/* ---- decode_predictions --------------------------------------------------- */

EMSCRIPTEN_KEEPALIVE dl_class_index *dl_api_class_index_parse(const char *json, size_t n) {
    dl_class_index *ci = NULL;
    const char *err = dl_class_index_parse(json, n, &ci);
    return err ? (failed(err), NULL) : ci;
}
EMSCRIPTEN_KEEPALIVE void dl_api_class_index_free(dl_class_index *ci) { dl_class_index_free(ci); }

/* Top-k of probs as text, malloc'ed: json != 0 -> JSON list, else the Python repr. */
EMSCRIPTEN_KEEPALIVE char *dl_api_decode_predictions(const dl_class_index *ci, const float *probs, size_t n,
                                                     size_t k, int json) {
    if (k < 1 || k > n) return failed("top must be between 1 and the number of classes"), NULL;
    dl_prediction *top = malloc(k * sizeof *top);
    if (!top) return failed("out of memory"), NULL;
    k = dl_top_k(probs, n, k, top);
    size_t (*format)(const dl_class_index *, const dl_prediction *, size_t, char *, size_t) =
        json ? dl_format_predictions_json : dl_format_predictions_python;
    size_t len = format(ci, top, k, NULL, 0);
    char *text = malloc(len + 1);
    if (text) format(ci, top, k, text, len + 1);
    free(top);
    return text ? text : (failed("out of memory"), NULL);
}
