/* api.c — the Emscripten entry points behind wasm/denselab.js.
 *
 * Plain C functions over handles and heap pointers; the JS side copies data
 * in and out. A function that fails returns 0 (or NULL) and leaves its
 * reason in dl_api_last_error(). */
#include "learn/experiment.h"
#include "learn/idx.h"
#include "models/features.h"
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
    for (char *line = options, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
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

/* ---- the transfer-learning experiment --------------------------------------- */

/* Progress goes to Module.onProgress(phase, step, steps, loss, trainAcc); a true return cancels. */
EM_JS(int, js_progress, (const char *phase, double step, double steps, double loss, double train_acc), {
    return Module.onProgress ? (Module.onProgress(UTF8ToString(phase), step, steps, loss, train_acc) ? 1 : 0) : 0;
});

static int features_progress(size_t done, size_t total, void *user) {
    return js_progress("features", (double)done, (double)total, 0, 0);
}

static int learn_progress(void *user, const dl_learn_progress *p) {
    return js_progress(p->phase, p->step, p->steps, p->loss, p->train_acc);
}

EMSCRIPTEN_KEEPALIVE int dl_api_gray_features(dl_net *net, const unsigned char *gray, int w, int h, size_t count,
                                              size_t batch, float *out) {
    const char *err = dl_gray_features(net, gray, w, h, count, batch, out, features_progress, NULL);
    return err ? failed(err) : 1;
}

/* IDX bytes -> info [ndims, count, rows, cols]; returns the offset of the data, or -1. */
EMSCRIPTEN_KEEPALIVE int dl_api_idx_parse(const uint8_t *bytes, size_t n, int labels, int *info) {
    dl_idx idx;
    const char *err = labels ? dl_idx_parse_labels(bytes, n, &idx) : dl_idx_parse_images(bytes, n, &idx);
    if (err) return failed(err), -1;
    info[0] = idx.ndims; info[1] = (int)idx.count; info[2] = (int)idx.rows; info[3] = (int)idx.cols;
    return (int)(idx.data - bytes);
}

/* info: kind, classes, features */
EMSCRIPTEN_KEEPALIVE void dl_api_classifier_info(const dl_classifier *c, int *info) {
    info[0] = (int)c->kind->id; info[1] = c->num_classes; info[2] = c->num_features;
}

EMSCRIPTEN_KEEPALIVE int dl_api_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                                         double *accuracy, int *confusion, int *pred) {
    const char *err = dl_evaluate(c, x, y, n, accuracy, confusion, pred);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_classifier_predict(const dl_classifier *c, const float *x, int n, int *labels, float *scores) {
    const char *err = dl_classifier_predict(c, x, n, labels, scores);
    return err ? failed(err) : 1;
}

/* Serialised classifier, malloc'ed; its size in *size. */
EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_classifier_save(const dl_classifier *c, size_t *size) {
    uint8_t *buf = NULL;
    const char *err = dl_classifier_save(c, &buf, size);
    return err ? (failed(err), NULL) : buf;
}

EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_classifier_load(const uint8_t *bytes, size_t n) {
    dl_classifier *c = NULL;
    const char *err = dl_classifier_load(bytes, n, &c);
    return err ? (failed(err), NULL) : c;
}

EMSCRIPTEN_KEEPALIVE void dl_api_classifier_free(dl_classifier *c) { dl_classifier_free(c); }

/* ---- classifier kinds: learn/experiment.c's table (owner: learn/) ---------- */

/* The table as JSON (static string: do not free). */
EMSCRIPTEN_KEEPALIVE const char *dl_api_classifier_kinds_json(void) {
    const char *json = dl_classifier_kinds_json();
    return json ? json : (failed("the classifier table outgrew its JSON buffer (learn/experiment.c)"), NULL);
}

/* values[count]: every parameter of the kind, in the table's order. */
EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_fit(const char *kind, const float *x, const int *y, int n, int d,
                                               const double *values, int count) {
    dl_classifier *c = NULL;
    const char *err = dl_fit_values(kind, x, y, n, d, values, count, learn_progress, NULL, &c, NULL);
    return err ? (failed(err), NULL) : c;
}
