/* api.c — the Emscripten entry points behind wasm/denselab.js.
 *
 * Plain C functions over handles and heap pointers; the JS side copies data
 * in and out. A function that fails returns 0 (or NULL) and leaves its
 * reason in dl_api_last_error().
 *
 * The JS side validates every argument first, but nothing here trusts it:
 * every buffer that JS hands over comes with its size in bytes, and every
 * size computed here from counts goes through common/checked.h, because
 * size_t is 32 bits in WebAssembly and a wrapped product would write past a
 * small allocation into whatever the instance holds next. */
#include "common/checked.h"
#include "common/parallel.h"
#include "common/reason.h"
#include "learn/experiment.h"
#include "learn/finetune.h"
#include "learn/idx.h"
#include "learn/kernel_svm.h"
#include "learn/kernel_svm_pairs.h"
#include "learn/report.h"
#include "learn/train.h"
#include "kernels/kernels.h"
#include "models/features.h"
#include "models/finetune_split.h"
#include "models/image.h"
#include "models/model.h"
#include "models/predictions.h"
#include "onnx/export.h"
#include <emscripten.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The reason of the last failure: a string literal or the one dl_errorf
 * buffer, read by JS right after the failing call (nothing runs between). */
static const char *last_error = "";

static int failed(const char *why) {
    last_error = why;
    return 0;
}

EMSCRIPTEN_KEEPALIVE const char *dl_api_last_error(void) { return last_error; }
EMSCRIPTEN_KEEPALIVE size_t dl_api_heap_used(void) { return mallinfo().uordblks; }

/* 1 if count elements of elem bytes fit in a buffer of have bytes; else a reason. */
static int fits(size_t count, size_t elem, size_t have, const char *what) {
    size_t need;
    if (!dl_mul(count, elem, &need)) return failed(dl_errorf("%s: %zu x %zu bytes overflows the address space", what, count, elem));
    if (need > have) return failed(dl_errorf("%s: needs %zu bytes, the buffer holds %zu", what, need, have));
    return 1;
}

/* ---- model file and network ---------------------------------------------- */

EMSCRIPTEN_KEEPALIVE dl_model *dl_api_model_load(const void *bytes, size_t n) {
    dl_model *m = NULL;
    const char *err = dl_model_load(bytes, n, &m);
    return err ? (failed(err), NULL) : m;
}
EMSCRIPTEN_KEEPALIVE void dl_api_model_free(dl_model *m) { dl_model_free(m); }
EMSCRIPTEN_KEEPALIVE uint32_t dl_api_model_checksum(const dl_model *m) { return dl_model_checksum(m); }

/* options: n bytes of "key=value" lines with the Keras argument names
 * (models/model.h). A NUL, a line without '=', or an empty key is an error:
 * a NUL must never silently end the list and drop the options after it. */
static const char *net_options(char *options, size_t n, dl_net_options *o) {
    if (memchr(options, 0, n)) return "options: a NUL character inside the options";
    options[n] = 0;
    dl_net_options_default(o);
    for (char *line = options, *next; *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0; else next = line + strlen(line);
        char *eq = strchr(line, '=');
        if (!eq || eq == line) return "options: malformed line (expected key=value)";
        *eq = 0;
        const char *err = dl_net_options_set(o, line, eq + 1);
        if (err) return err;
    }
    return NULL;
}

EMSCRIPTEN_KEEPALIVE dl_net *dl_api_net_build(const dl_model *m, char *options, size_t n) {
    dl_net_options o;
    const char *opt_err = net_options(options, n, &o);
    if (opt_err) return failed(opt_err), NULL;
    dl_net *net = NULL;
    const char *err = dl_net_build(m, &o, &net);
    /* max_memory above what the instance can grow to fails in malloc: say why. */
    if (err && !strncmp(err, "out of memory", 13)) err = dl_errorf("%s (a WebAssembly instance holds at most 2 GB; lower max_memory)", err);
    return err ? (failed(err), NULL) : net;
}
EMSCRIPTEN_KEEPALIVE void dl_api_net_free(dl_net *net) { dl_net_free(net); }

/* input: in_bytes bytes, output: out_bytes bytes, both checked against batch. */
EMSCRIPTEN_KEEPALIVE int dl_api_net_run(dl_net *net, const float *input, size_t in_bytes, size_t batch,
                                        float *output, size_t out_bytes) {
    int shape[3];
    dl_net_input_shape(net, shape);
    size_t in_count, out_count;
    if (!dl_mul3((size_t)shape[0], (size_t)shape[1], (size_t)shape[2], &in_count) || !dl_mul(in_count, batch, &in_count) ||
        !dl_mul(dl_net_output_size(net), batch, &out_count))
        return failed(dl_errorf("batch of %zu overflows the address space", batch));
    if (!fits(in_count, sizeof(float), in_bytes, "input") || !fits(out_count, sizeof(float), out_bytes, "output")) return 0;
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
    size_t n = dl_net_summary(net, NULL, 0), size;
    char *text = dl_add(n, 1, &size) ? malloc(size) : NULL;
    if (!text) return failed("out of memory for the summary"), NULL;
    dl_net_summary(net, text, size);
    return text;
}

EMSCRIPTEN_KEEPALIVE double dl_api_net_params(const dl_net *net, int trainable) {
    size_t total, train;
    dl_net_param_counts(net, &total, &train);
    return (double)(trainable ? train : total);
}

/* ---- images ---------------------------------------------------------------- */

/* Keras load_img(target_size=(h, w)); h = w = 0: the original size. Returns
 * malloc'ed RGB bytes; wh[0..1] = the original width and height, wh[2..3] =
 * the width and height of what is returned (JS slices exactly wh[2]*wh[3]*3).
 * Sizes arrive as doubles so that nothing is truncated on the way in; the
 * checks and their reasons are models/image.h's. */
EMSCRIPTEN_KEEPALIVE unsigned char *dl_api_load_img(const unsigned char *bytes, size_t n, double h, double w,
                                                    double max_pixels, int *wh) {
    size_t limit;
    int th, tw;
    dl_image out;
    const char *err = dl_image_max_pixels_from_double(max_pixels, &limit);
    if (!err) err = dl_image_target_size(h, w, &th, &tw);
    if (!err) err = dl_image_load(bytes, n, limit, th, tw, &out, &wh[0], &wh[1]);
    if (err) return failed(err), NULL;
    wh[2] = out.width; wh[3] = out.height;
    return out.rgb;
}

/* rgb: in_bytes bytes of interleaved RGB (a multiple of 3); out: out_bytes. */
EMSCRIPTEN_KEEPALIVE int dl_api_preprocess(const unsigned char *rgb, size_t in_bytes, float *out, size_t out_bytes) {
    if (in_bytes % 3) return failed(dl_errorf("RGB data must be a multiple of 3 bytes, got %zu", in_bytes));
    if (!fits(in_bytes, sizeof(float), out_bytes, "preprocess_input output")) return 0;
    dl_preprocess_torch(rgb, in_bytes / 3, out);
    return 1;
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
    const char *err = dl_decode_predictions_check(1, n);
    if (err) return failed(err), NULL;
    size_t bytes, len, size;
    dl_prediction *top = dl_mul(k, sizeof *top, &bytes) ? malloc(bytes) : NULL;
    if (!top) return failed("out of memory"), NULL;
    k = dl_top_k(probs, n, k, top);
    size_t (*format)(const dl_class_index *, const dl_prediction *, size_t, char *, size_t) =
        json ? dl_format_predictions_json : dl_format_predictions_python;
    len = format(ci, top, k, NULL, 0);
    char *text = dl_add(len, 1, &size) ? malloc(size) : NULL;
    if (text) format(ci, top, k, text, size);
    free(top);
    return text ? text : (failed("out of memory"), NULL);
}

/* ---- the transfer-learning experiment --------------------------------------- */

/* Progress goes to Module.onProgress(phase, step, steps, loss, trainAcc, valAcc, valLoss); a true return cancels,
 * 'stop' ends an Adam-trained fit keeping the best epoch (DL_FIT_STOP). */
EM_JS(int, js_progress, (const char *phase, double step, double steps, double loss, double train_acc, double val_acc, double val_loss), {
    var r = Module.onProgress ? Module.onProgress(UTF8ToString(phase), step, steps, loss, train_acc, val_acc, val_loss) : 0;
    return r === 'stop' ? 2 : r ? 1 : 0;   /* 2: DL_FIT_STOP */
});

static int features_progress(size_t done, size_t total, void *user) {
    return js_progress("features", (double)done, (double)total, 0, 0, -1, -1);
}

static int learn_progress(void *user, const dl_learn_progress *p) {
    return js_progress(p->phase, p->step, p->steps, p->loss, p->train_acc, p->val_acc, p->val_loss);
}

/* dl_api_gray_features, and (block not NULL) conv5_block1's input from the same runs into
 * block (block_bytes; dl_api_net_tap_block_input's floats per image). */
EMSCRIPTEN_KEEPALIVE int dl_api_gray_features_tapped(dl_net *net, const unsigned char *gray, size_t gray_bytes, int w, int h,
                                                     size_t count, size_t batch, float *out, size_t out_bytes,
                                                     float *block, size_t block_bytes) {
    if (w < 1 || h < 1) return failed(dl_errorf("images must be at least 1x1, got %dx%d", w, h));
    size_t pixels, outputs, block_floats = 0, blocks;
    if (!dl_mul3((size_t)w, (size_t)h, count, &pixels) || !dl_mul(dl_net_output_size(net), count, &outputs))
        return failed(dl_errorf("%zu images of %dx%d overflow the address space", count, w, h));
    if (!fits(pixels, 1, gray_bytes, "gray images") || !fits(outputs, sizeof(float), out_bytes, "features")) return 0;
    if (block) {
        const char *err = dl_net_tap_input(net, DL_FINETUNE_FIRST_LAYER, &block_floats);
        if (err) return failed(err);
        if (!dl_mul(block_floats, count, &blocks)) return failed(dl_errorf("%zu images' block inputs overflow the address space", count));
        if (!fits(blocks, sizeof(float), block_bytes, "block inputs")) return 0;
    }
    const char *err = dl_gray_features_tapped(net, gray, w, h, count, batch, out, block, block_floats, features_progress, NULL);
    return err ? failed(err) : 1;
}

/* gray: gray_bytes bytes holding count w x h images; out: out_bytes. */
EMSCRIPTEN_KEEPALIVE int dl_api_gray_features(dl_net *net, const unsigned char *gray, size_t gray_bytes, int w, int h,
                                              size_t count, size_t batch, float *out, size_t out_bytes) {
    return dl_api_gray_features_tapped(net, gray, gray_bytes, w, h, count, batch, out, out_bytes, NULL, 0);
}

/* Fine-tuning's input from the feature network's own run: conv5_block1's input is tapped
 * (dl_net_tap_input). Returns its floats per image, or 0 with a reason. */
EMSCRIPTEN_KEEPALIVE double dl_api_net_tap_block_input(dl_net *net) {
    size_t floats = 0;
    const char *err = dl_net_tap_input(net, DL_FINETUNE_FIRST_LAYER, &floats);
    return err ? (failed(err), 0) : (double)floats;
}

/* IDX bytes -> info [ndims, count, rows, cols]; returns the offset of the data, or -1. */
EMSCRIPTEN_KEEPALIVE int dl_api_idx_parse(const uint8_t *bytes, size_t n, int labels, int *info) {
    dl_idx idx;
    const char *err = labels ? dl_idx_parse_labels(bytes, n, &idx) : dl_idx_parse_images(bytes, n, &idx);
    if (err) return failed(err), -1;
    if (idx.count > INT32_MAX || idx.rows > INT32_MAX || idx.cols > INT32_MAX) return failed("IDX: dimensions too large"), -1;
    info[0] = idx.ndims; info[1] = (int)idx.count; info[2] = (int)idx.rows; info[3] = (int)idx.cols;
    return (int)(idx.data - bytes);
}

/* info: kind, classes, features */
EMSCRIPTEN_KEEPALIVE void dl_api_classifier_info(const dl_classifier *c, int *info) {
    info[0] = (int)c->kind->id; info[1] = c->num_classes; info[2] = c->num_features;
}

/* 1 if n rows of features and of per-class outputs are sizes at all; else a reason. */
static int rows_fit(const dl_classifier *c, int n) {
    size_t bytes;
    if (n < 1) return failed(dl_errorf("need at least one row, got %d", n));
    if (!dl_bytes((size_t)n, (size_t)c->num_features, sizeof(float), 0, &bytes) ||
        !dl_bytes((size_t)n, (size_t)c->num_classes, sizeof(float), 0, &bytes))
        return failed(dl_errorf("%d rows overflow the address space", n));
    return 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                                         double *accuracy, int *confusion, int *pred) {
    if (!rows_fit(c, n)) return 0;
    const char *err = dl_evaluate(c, x, y, n, accuracy, confusion, pred);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_classifier_predict(const dl_classifier *c, const float *x, int n, int *labels, float *scores) {
    if (!rows_fit(c, n)) return 0;
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

/* ---- the comparison report (learn/report.h), for the Node CLI ------------- */

/* The rows, one per line: "name kind block f16 param=value..." (the kind a
 * row trains; block 1: it trains on the frozen part's output,
 * dl_report_row_block_input; f16 1: its features are stored as float16,
 * dl_report_row_features_f16; then the experiment's parameter values,
 * dl_report_row_params). */
EMSCRIPTEN_KEEPALIVE char *dl_api_report_rows(void) {
    dl_text t = { 0 };
    for (int i = 0; i < dl_report_row_count(); i++) {
        const char *row = dl_report_row_name(i);
        dl_fit_params p;
        dl_report_row_params(row, &p);
        dl_text_printf(&t, "%s %s %d %d", row, dl_report_row_kind(row), dl_report_row_block_input(row), dl_report_row_features_f16(row));
        for (int j = 0; j < p.count; j++) dl_text_printf(&t, " %s=%.17g", p.item[j].name, p.item[j].value);
        dl_text_printf(&t, "\n");
    }
    if (t.failed) { dl_text_free(&t); return failed("out of memory"), NULL; }
    return t.buf;
}

EMSCRIPTEN_KEEPALIVE int dl_api_report_row_train(const char *row, int n, int rbf_max) {
    return dl_report_row_train(row, n, rbf_max);
}

/* what: 0 head, 1 row, 2 tail; the arguments a part does not use are ignored.
 * Returns the text, malloc'ed (the caller frees it). */
EMSCRIPTEN_KEEPALIVE char *dl_api_report(int what, int json, int first, const char *name, int size, int n, int m,
                                         double seconds, double accuracy, const int *confusion, int k) {
    dl_text t = { 0 };
    if (what == 0) dl_report_head(&t, json, size, n, m, seconds, first);
    else if (what == 1) dl_report_row(&t, json, first, name, n, seconds, accuracy, confusion, k);
    else dl_report_tail(&t, json);
    if (t.failed) { dl_text_free(&t); return failed("out of memory"), NULL; }
    if (!t.buf) return calloc(1, 1);
    return t.buf;
}

/* GlobalAverage/MaxPooling2D of one positions x channels map, by the kernel the
 * network itself runs (the page pools the feature map it already has instead
 * of building a second network). */
EMSCRIPTEN_KEEPALIVE int dl_api_global_pool(const float *in, size_t positions, size_t channels, int max, float *out) {
    size_t n;
    if (!positions || !channels || !dl_mul(positions, channels, &n)) return failed("global pooling: empty or too large a map");
    (max ? f32_global_maxpool_nhwc : f32_global_avgpool_nhwc)(1, positions, channels, in, channels, out);
    return 1;
}

/* ---- the RBF SVM's one-vs-one pairs as independent units (learn/kernel_svm.h) ----
 * values[count]: the rbf-svm kind's parameters in table order. Every buffer
 * comes with its bytes. */

static const char *rbf_params(const double *values, int count, dl_rbf_svm_params *p) {
    const char *err = dl_fit_check_values("rbf-svm", values, count);
    if (!err) dl_rbf_svm_params_from_values(values, p);
    return err;
}

/* 1 if x holds n rows of d values of the given type in x_bytes; else a reason. */
static int stored_rows_fit(const void *x, size_t x_bytes, int f16, int n, int d, const char *what) {
    size_t count;
    if (f16 != 0 && f16 != 1) return failed(dl_errorf("%s: bad value type %d (0: float32, 1: float16)", what, f16));
    if (!x || n < 1 || d < 1) return failed(dl_errorf("%s: %d rows of %d features", what, n, d));
    if (!dl_mul((size_t)n, (size_t)d, &count)) return failed(dl_errorf("%s: %d x %d overflows the address space", what, n, d));
    return fits(count, f16 ? 2 : sizeof(float), x_bytes, what);
}

static dl_rows stored_rows(const void *x, int f16, int n, int d) {
    return f16 ? dl_rows_f16(x, n, d) : dl_rows_f32(x, n, d);
}

/* info[0] = gamma, info[1] = number of classes; mean/std (d floats each) filled if standardising. */
EMSCRIPTEN_KEEPALIVE int dl_api_rbf_prepare(const float *x, size_t x_bytes, const int *y, size_t y_bytes, int n, int d,
                                            const double *values, int count, double *info, float *mean, float *std) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err);
    if (!stored_rows_fit(x, x_bytes, 0, n, d, "features") || !fits((size_t)n, sizeof(int), y_bytes, "labels")) return 0;
    int k = 0;
    if ((err = dl_rbf_svm_prepare(x, y, n, d, &p, &k, &info[0], mean, std))) return failed(err);
    info[1] = k;
    return 1;
}

static int pair_progress(void *user, const dl_learn_progress *p) {
    return js_progress("rbf-svm pair", (double)p->iter, 0, 0, 0, -1, -1);
}

/* The pair's result bytes (malloc'ed; *size set), or NULL. mean/std: 0 or d floats each. */
EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_rbf_train_pair(const float *xi, size_t xi_bytes, int ni, const float *xj, size_t xj_bytes, int nj,
                                                    int d, int ci, int cj, double gamma, const float *mean, const float *std,
                                                    const double *values, int count, size_t *size) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err), NULL;
    if (!stored_rows_fit(xi, xi_bytes, 0, ni, d, "class ci rows") || !stored_rows_fit(xj, xj_bytes, 0, nj, d, "class cj rows")) return NULL;
    uint8_t *out = NULL;
    err = dl_rbf_svm_train_pair(xi, ni, xj, nj, d, ci, cj, gamma, mean, std, &p, pair_progress, NULL, &out, size);
    return err ? (failed(err), NULL) : out;
}

uint8_t *dl_api_rbf_train_pair_at_rows(const void *x, size_t x_bytes, int f16, int n, int d,
                                       const int *rows_i, size_t rows_i_bytes, int ni, const int *rows_j, size_t rows_j_bytes, int nj,
                                       int ci, int cj, double gamma, const float *mean, const float *std,
                                       const double *values, int count, size_t *size);

/* The same pair with its rows read in place from x (n x d) by index
 * (rows_i: ni ints, rows_j: nj ints): no copy of the pair's rows. */
EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_rbf_train_pair_at(const float *x, size_t x_bytes, int n, int d,
                                                       const int *rows_i, size_t rows_i_bytes, int ni,
                                                       const int *rows_j, size_t rows_j_bytes, int nj,
                                                       int ci, int cj, double gamma, const float *mean, const float *std,
                                                       const double *values, int count, size_t *size) {
    return dl_api_rbf_train_pair_at_rows(x, x_bytes, 0, n, d, rows_i, rows_i_bytes, ni, rows_j, rows_j_bytes, nj, ci, cj, gamma,
                                         mean, std, values, count, size);   /* float32 rows (below) */
}

/* results[count_results] pointers to sizes[count_results] bytes each.
 * borrow: the model's SVs stay rows of x (dl_rbf_svm_assemble_borrowed). */
EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_rbf_assemble_as(const float *x, size_t x_bytes, const int *y, size_t y_bytes, int n, int d,
                                                          const double *values, int count, const uint8_t *const *results,
                                                          const size_t *sizes, int count_results, int borrow) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err), NULL;
    if (!stored_rows_fit(x, x_bytes, 0, n, d, "features") || !fits((size_t)n, sizeof(int), y_bytes, "labels")) return NULL;
    dl_classifier *c = NULL;
    err = borrow ? dl_rbf_svm_assemble_borrowed(x, y, n, d, &p, results, sizes, count_results, &c)
                 : dl_rbf_svm_assemble(x, y, n, d, &p, results, sizes, count_results, &c, NULL);
    return err ? (failed(err), NULL) : c;
}

EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_rbf_assemble(const float *x, size_t x_bytes, const int *y, size_t y_bytes, int n, int d,
                                                        const double *values, int count, const uint8_t *const *results,
                                                        const size_t *sizes, int count_results) {
    return dl_api_rbf_assemble_as(x, x_bytes, y, y_bytes, n, d, values, count, results, sizes, count_results, 0);
}
/* ---- Keras's symbolic shapes and checks (the Applications API panel) ---------- */

/* shape: 4 ints: rank, then the output shape with -1 where Keras says None. */
EMSCRIPTEN_KEEPALIVE void dl_api_net_keras_output_shape(const dl_net *net, int *shape) {
    shape[0] = dl_net_keras_output_shape(net, shape + 1);
}

EMSCRIPTEN_KEEPALIVE int dl_api_decode_predictions_check(size_t rows, size_t classes) {
    const char *err = dl_decode_predictions_check(rows, classes);
    return err ? failed(err) : 1;
}
/* ---- your own classes: cross-validation, report, project (learn/train.h) ---- */

EMSCRIPTEN_KEEPALIVE int dl_api_project_max_classes(void) { return DL_PROJECT_MAX_CLASSES; }

EMSCRIPTEN_KEEPALIVE dl_project *dl_api_project_new(int size, int cv, const char *kind) {
    dl_project *p = malloc(sizeof *p);
    if (!p) return failed("out of memory"), NULL;
    const char *err = dl_project_init(p, size, cv, kind, NULL);
    if (err) { free(p); return failed(err), NULL; }
    return p;
}

EMSCRIPTEN_KEEPALIVE int dl_api_project_set_param(dl_project *p, const char *name, double value) {
    const char *err = dl_fit_params_set(&p->params, name, value);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_project_add_class(dl_project *p, const char *name, size_t n) {
    const char *err = dl_project_add_class(p, name, n);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_project_set_classifier(dl_project *p, const uint8_t *bytes, size_t n) {
    const char *err = dl_project_set_classifier(p, bytes, n);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_project_add_image(dl_project *p, int label, const char *name, size_t name_len,
                                                  const uint8_t *bytes, size_t n) {
    const char *err = dl_project_add_image(p, label, name, name_len, bytes, n);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_project_save(const dl_project *p, size_t *size) {
    uint8_t *buf = NULL;
    const char *err = dl_project_save(p, &buf, size);
    return err ? (failed(err), NULL) : buf;
}

EMSCRIPTEN_KEEPALIVE dl_project *dl_api_project_load(const uint8_t *bytes, size_t n) {
    dl_project *p = malloc(sizeof *p);
    if (!p) return failed("out of memory"), NULL;
    const char *err = dl_project_load(bytes, n, p);
    if (err) { free(p); return failed(err), NULL; }
    return p;
}

EMSCRIPTEN_KEEPALIVE void dl_api_project_free(dl_project *p) {
    if (p) dl_project_free(p);
    free(p);
}

/* info: size, cv, classes, images, parameters, classifier bytes. */
EMSCRIPTEN_KEEPALIVE void dl_api_project_info(const dl_project *p, int *info) {
    info[0] = p->size; info[1] = p->cv; info[2] = p->num_classes; info[3] = p->num_images;
    info[4] = p->params.count; info[5] = (int)p->classifier_size;
}

/* what: 0 the kind, 1 class name i, 2 image name i, 3 parameter name i (static: do not free). */
EMSCRIPTEN_KEEPALIVE const char *dl_api_project_string(const dl_project *p, int what, int i) {
    if (what == 0) return p->kind;
    if (what == 1 && i >= 0 && i < p->num_classes) return p->class_names[i];
    if (what == 2 && i >= 0 && i < p->num_images) return p->images[i].name;
    if (what == 3 && i >= 0 && i < p->params.count) return p->params.item[i].name;
    return failed("project: no such string"), NULL;
}

EMSCRIPTEN_KEEPALIVE double dl_api_project_param_value(const dl_project *p, int i) {
    return i >= 0 && i < p->params.count ? p->params.item[i].value : 0;
}

/* Image i's bytes (inside the project); info[0] = class, info[1] = bytes. i < 0: the classifier file. */
EMSCRIPTEN_KEEPALIVE const uint8_t *dl_api_project_bytes(const dl_project *p, int i, int *info) {
    if (i < 0) { info[0] = -1; info[1] = (int)p->classifier_size; return p->classifier; }
    if (i >= p->num_images) return failed("project: no such image"), NULL;
    info[0] = p->images[i].label; info[1] = (int)p->images[i].size;
    return p->images[i].bytes;
}

/* The held-out fraction (0: cross-validation). */
EMSCRIPTEN_KEEPALIVE int dl_api_project_set_holdout(dl_project *p, double holdout) {
    const char *err = dl_project_set_holdout(p, holdout);
    return err ? failed(err) : 1;
}
EMSCRIPTEN_KEEPALIVE double dl_api_project_holdout(const dl_project *p) { return p->holdout; }

/* fold[n] for labels y[n] of the project's classes (held out or cross-validation); returns
 * the number of folds, 0 on failure. */
EMSCRIPTEN_KEEPALIVE int dl_api_cv_folds(const dl_project *p, const int *y, int n, int *fold) {
    int folds = 0;
    const char *err = n < 1 ? "no images" : dl_project_folds(p, y, n, fold, &folds);
    return err ? failed(err) : folds;
}

/* The project's classifier kind and parameters, cross-validated over folds: pred[n]. */
EMSCRIPTEN_KEEPALIVE int dl_api_cross_validate(const dl_project *p, const float *x, const int *y, int n, int d,
                                               const int *fold, int folds, int *pred) {
    const char *err = dl_cross_validate(p->kind, x, y, n, d, &p->params, fold, folds, learn_progress, NULL, pred);
    return err ? failed(err) : 1;
}

/* what 0: the cross-validation report of confusion (k x k) over n images in folds;
 * what 1: one prediction of scores[k]. Returns the text, malloc'ed. */
EMSCRIPTEN_KEEPALIVE char *dl_api_train_format(const dl_project *p, int what, int json, const int *confusion,
                                               const float *scores, int n, int folds) {
    dl_text t = { 0 };
    const char *const *names = (const char *const *)p->class_names;
    if (what == 0) dl_train_report_format(&t, json, p->num_classes, names, confusion, n, folds, p->holdout);
    else dl_train_prediction_format(&t, json, p->num_classes, names, scores);
    if (t.failed) { dl_text_free(&t); return failed("out of memory"), NULL; }
    return t.buf ? t.buf : calloc(1, 1);
}
/* ---- threads (common/parallel.h) -------------------------------------------
 * The threaded build (denselab_core_mt) runs one image on up to `threads`
 * threads; the single-threaded build accepts only 1. Returns 1, or 0 with the reason. */
EMSCRIPTEN_KEEPALIVE int dl_api_set_threads(int threads) {
    const char *err = dl_parallel_set_threads(threads);
    return err ? failed(err) : 1;
}
EMSCRIPTEN_KEEPALIVE int dl_api_threads(void) { return dl_parallel_threads(); }
EMSCRIPTEN_KEEPALIVE int dl_api_threads_available(void) { return dl_parallel_available(); }

/* For tests: the next scratch buffer that thread `thread` (0-based) asks for is refused. */
EMSCRIPTEN_KEEPALIVE void dl_api_fail_next_thread_scratch(int thread) { dl_parallel_fail_next_scratch(thread); }
/* ---- fine-tuning (learn/finetune.h, models/finetune_split.h) --------------- */

/* The frozen part (every layer before conv5_block1) as a network of input
 * h x w x c (c 3 or 1) and max_memory bytes (0: the default).
 * dl_api_frozen_net gives the network to run (dl_api_net_run,
 * dl_api_gray_features); free with dl_api_frozen_free, never dl_api_net_free. */
EMSCRIPTEN_KEEPALIVE dl_frozen *dl_api_frozen_build(const dl_model *m, int h, int w, int c, double max_memory) {
    dl_net_options o;
    dl_net_options_default(&o);
    o.input_shape_set = 1; o.input_h = h; o.input_w = w; o.input_c = c;
    if (max_memory > 0 && max_memory < 18446744073709551616.0) o.max_memory = (uint64_t)max_memory;
    dl_frozen *f = NULL;
    const char *err = dl_frozen_build(m, &o, &f);
    return err ? (failed(err), NULL) : f;
}
EMSCRIPTEN_KEEPALIVE dl_net *dl_api_frozen_net(const dl_frozen *f) { return dl_frozen_net(f); }
EMSCRIPTEN_KEEPALIVE void dl_api_frozen_free(dl_frozen *f) { dl_frozen_free(f); }

/* The model's conv5 block as the starting point of every later fit("finetune"). */
EMSCRIPTEN_KEEPALIVE int dl_api_finetune_set_base(const dl_model *m) {
    float *w = NULL;
    size_t count = 0;
    const char *err = dl_finetune_block_weights(m, &w, &count);
    if (!err) err = dl_finetune_set_base(w, count);
    free(w);
    return err ? failed(err) : 1;
}

/* For the TF.js step test: steps Adam steps of a block of shape[6] (channels,
 * layers, growth, bottleneck, height, width) with a head of hidden units and
 * k classes from params, on n rows x with labels y; the updated parameters
 * into out (out_bytes, as many as params). steps 0: the gradient of the mean
 * loss instead (learn/finetune.h's dl_finetune_loss_grad). */
EMSCRIPTEN_KEEPALIVE int dl_api_finetune_steps(const int *shape, int hidden, int k, const float *params, size_t params_bytes,
                                               const float *x, size_t x_bytes, const int *y, int n, double lr, int steps,
                                               float *out, size_t out_bytes) {
    dl_dense_block_shape s = {shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]};
    size_t count = dl_finetune_param_floats(&s, hidden, k), rows;
    if (!count) return failed("finetune: bad block shape, hidden units or classes");
    if (n < 1 || !dl_mul3((size_t)n, (size_t)s.height * s.width, (size_t)s.channels, &rows)) return failed("finetune: bad row count");
    if (!fits(count, sizeof(float), params_bytes, "parameters") || !fits(count, sizeof(float), out_bytes, "output") ||
        !fits(rows, sizeof(float), x_bytes, "rows"))
        return 0;
    dl_classifier *c = NULL;
    const char *err = dl_finetune_from_params(&s, hidden, k, params, count, &c);
    double loss;
    if (!err) err = steps ? dl_finetune_adam_steps(c, x, y, n, lr, steps) : dl_finetune_loss_grad(c, x, y, n, &loss, out);
    if (!err && steps) memcpy(out, dl_finetune_params_of(c, NULL), count * sizeof(float));
    dl_classifier_free(c);
    return err ? failed(err) : 1;
}
/* ---- ONNX export (onnx/export.h) ------------------------------------------
 * Project p (may be NULL: the network of the options, read as dl_api_net_build
 * reads them) as one .onnx file, malloc'ed; info[0] = its bytes. *about: what
 * it computes (text, or JSON members), malloc'ed. */
EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_onnx_export(const dl_model *m, char *options, size_t n, const dl_project *p, int json,
                                                 size_t *info, char **about) {
    dl_net_options o;
    dl_onnx_file f;
    const char *err = net_options(options, n, &o);
    if (!err) err = dl_onnx_export(m, &o, p, json, &f);
    if (err) return failed(err), NULL;
    info[0] = f.size;
    *about = f.about.buf;
    return f.bytes;
}

/* ---- the RBF SVM's pairs on this instance's threads (learn/kernel_svm_pairs.h) ----
 * x: n x d; class_rows: every class's row numbers one class after another
 * (class_counts[c] of class c, num_classes classes); pairs: count (ci, cj)
 * int pairs. results/sizes: count slots, filled for every pair that finished
 * (0 for the others) even when this fails or is cancelled: the caller frees
 * them. Progress: Module.onProgress('rbf-svm pairs', pairs done, pairs, the
 * index of a pair just finished or -1, the caller's SMO steps). */
static int pairs_progress(void *user, const dl_rbf_pairs_progress *p) {
    return js_progress("rbf-svm pairs", p->pairs_done, p->pairs, p->finished, (double)p->iter, -1, -1);
}

/* x: float32 (f16 = 0) or float16 rows (f16 = 1, read in place, converted per use). */
EMSCRIPTEN_KEEPALIVE int dl_api_rbf_train_pairs_at_rows(const void *x, size_t x_bytes, int f16, int n, int d,
                                                        const int *class_rows, size_t class_rows_bytes,
                                                        const int *class_counts, size_t class_counts_bytes, int num_classes,
                                                        const int *pairs, size_t pairs_bytes, int count,
                                                        double gamma, const float *mean, const float *std,
                                                        const double *values, int value_count,
                                                        uint8_t **results, size_t *sizes, size_t results_bytes) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, value_count, &p);
    if (err) return failed(err);
    if (num_classes < 2 || num_classes > 256 || count < 0) return failed(dl_errorf("rbf-svm pairs: %d classes, %d pairs", num_classes, count));
    if (!stored_rows_fit(x, x_bytes, f16, n, d, "features") || !fits((size_t)num_classes, sizeof(int), class_counts_bytes, "class counts") ||
        !fits((size_t)count, 2 * sizeof(int), pairs_bytes, "pairs") || !fits((size_t)count, sizeof(uint8_t *), results_bytes, "pair results") ||
        !fits((size_t)count, sizeof(size_t), results_bytes, "pair sizes"))
        return 0;
    const int *rows_of[256];
    size_t total = 0;
    for (int c = 0; c < num_classes; c++) {
        if (class_counts[c] < 1) return failed(dl_errorf("rbf-svm pairs: class %d has no rows", c));
        rows_of[c] = class_rows + total;
        if (!dl_add(total, (size_t)class_counts[c], &total)) return failed("rbf-svm pairs: too many rows");
    }
    if (!fits(total, sizeof(int), class_rows_bytes, "class rows")) return 0;
    dl_rows rows = stored_rows(x, f16, n, d);
    err = dl_rbf_svm_train_pairs_at_rows(&rows, rows_of, class_counts, num_classes, (const dl_rbf_pair *)pairs, count,
                                         gamma, mean, std, &p, pairs_progress, NULL, results, sizes);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_rbf_train_pairs_at(const float *x, size_t x_bytes, int n, int d,
                                                   const int *class_rows, size_t class_rows_bytes,
                                                   const int *class_counts, size_t class_counts_bytes, int num_classes,
                                                   const int *pairs, size_t pairs_bytes, int count,
                                                   double gamma, const float *mean, const float *std,
                                                   const double *values, int value_count,
                                                   uint8_t **results, size_t *sizes, size_t results_bytes) {
    return dl_api_rbf_train_pairs_at_rows(x, x_bytes, 0, n, d, class_rows, class_rows_bytes, class_counts, class_counts_bytes,
                                          num_classes, pairs, pairs_bytes, count, gamma, mean, std, values, value_count,
                                          results, sizes, results_bytes);   /* float32 rows */
}

/* For tests: pairs[index] of the next dl_api_rbf_train_pairs_at fails as if out of memory. */
EMSCRIPTEN_KEEPALIVE void dl_api_rbf_pairs_fail_pair(int index) { dl_rbf_svm_pairs_fail_pair(index); }

/* ---- float16 feature storage (kernels/f16.c, learn_common.h dl_rows) -----------
 * Features may be kept in the heap as halves (half the memory of float32): the
 * _rows entry points below take x with x_bytes and f16 (1: halves, 0: floats)
 * and are otherwise the float32 ones above. */

/* count floats from src into halves dst[at .. at + count) of dst_halves (round to nearest even). */
EMSCRIPTEN_KEEPALIVE int dl_api_f16_from_f32(const float *src, size_t count, uint16_t *dst, size_t dst_halves, size_t at) {
    size_t end;
    if (!src || !dst || !dl_add(at, count, &end) || end > dst_halves)
        return failed(dl_errorf("float16: %zu values at %zu do not fit in %zu", count, at, dst_halves));
    f16_from_f32(count, src, dst + at);
    return 1;
}

/* count halves src[at .. at + count) of src_halves as floats into dst (exact). */
EMSCRIPTEN_KEEPALIVE int dl_api_f32_from_f16(const uint16_t *src, size_t src_halves, size_t at, size_t count, float *dst) {
    size_t end;
    if (!src || !dst || !dl_add(at, count, &end) || end > src_halves)
        return failed(dl_errorf("float16: %zu values at %zu are outside %zu", count, at, src_halves));
    f32_from_f16(count, src + at, dst);
    return 1;
}

EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_fit_rows(const char *kind, const void *x, size_t x_bytes, int f16, const int *y, int n, int d,
                                                    const double *values, int count) {
    if (!stored_rows_fit(x, x_bytes, f16, n, d, "features")) return NULL;
    dl_rows rows = stored_rows(x, f16, n, d);
    dl_classifier *c = NULL;
    const char *err = dl_fit_values_rows(kind, &rows, y, values, count, learn_progress, NULL, &c, NULL);
    return err ? (failed(err), NULL) : c;
}

EMSCRIPTEN_KEEPALIVE int dl_api_evaluate_rows(const dl_classifier *c, const void *x, size_t x_bytes, int f16, const int *y, int n,
                                              double *accuracy, int *confusion, int *pred) {
    if (!rows_fit(c, n) || !stored_rows_fit(x, x_bytes, f16, n, c->num_features, "features")) return 0;
    dl_rows rows = stored_rows(x, f16, n, c->num_features);
    const char *err = dl_evaluate_rows(c, &rows, y, accuracy, confusion, pred);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_classifier_predict_rows(const dl_classifier *c, const void *x, size_t x_bytes, int f16, int n,
                                                        int *labels, float *scores) {
    if (!rows_fit(c, n) || !stored_rows_fit(x, x_bytes, f16, n, c->num_features, "features")) return 0;
    dl_rows rows = stored_rows(x, f16, n, c->num_features);
    const char *err = dl_classifier_predict_rows(c, &rows, labels, scores);
    return err ? failed(err) : 1;
}

EMSCRIPTEN_KEEPALIVE int dl_api_rbf_prepare_rows(const void *x, size_t x_bytes, int f16, const int *y, size_t y_bytes, int n, int d,
                                                 const double *values, int count, double *info, float *mean, float *std) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err);
    if (!stored_rows_fit(x, x_bytes, f16, n, d, "features") || !fits((size_t)n, sizeof(int), y_bytes, "labels")) return 0;
    dl_rows rows = stored_rows(x, f16, n, d);
    int k = 0;
    if ((err = dl_rbf_svm_prepare_rows(&rows, y, &p, &k, &info[0], mean, std))) return failed(err);
    info[1] = k;
    return 1;
}

EMSCRIPTEN_KEEPALIVE uint8_t *dl_api_rbf_train_pair_at_rows(const void *x, size_t x_bytes, int f16, int n, int d,
                                                            const int *rows_i, size_t rows_i_bytes, int ni,
                                                            const int *rows_j, size_t rows_j_bytes, int nj,
                                                            int ci, int cj, double gamma, const float *mean, const float *std,
                                                            const double *values, int count, size_t *size) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err), NULL;
    if (ni < 1 || nj < 1) return failed(dl_errorf("rbf-svm pair: bad row counts %d + %d", ni, nj)), NULL;
    if (!stored_rows_fit(x, x_bytes, f16, n, d, "features") ||
        !fits((size_t)ni, sizeof(int), rows_i_bytes, "class ci row indices") ||
        !fits((size_t)nj, sizeof(int), rows_j_bytes, "class cj row indices"))
        return NULL;
    dl_rows rows = stored_rows(x, f16, n, d);
    uint8_t *out = NULL;
    err = dl_rbf_svm_train_pair_at_rows(&rows, rows_i, ni, rows_j, nj, ci, cj, gamma, mean, std, &p, pair_progress, NULL, &out, size);
    return err ? (failed(err), NULL) : out;
}

EMSCRIPTEN_KEEPALIVE dl_classifier *dl_api_rbf_assemble_rows(const void *x, size_t x_bytes, int f16, const int *y, size_t y_bytes, int n, int d,
                                                             const double *values, int count, const uint8_t *const *results,
                                                             const size_t *sizes, int count_results, int borrow) {
    dl_rbf_svm_params p;
    const char *err = rbf_params(values, count, &p);
    if (err) return failed(err), NULL;
    if (!stored_rows_fit(x, x_bytes, f16, n, d, "features") || !fits((size_t)n, sizeof(int), y_bytes, "labels")) return NULL;
    dl_rows rows = stored_rows(x, f16, n, d);
    dl_classifier *c = NULL;
    err = dl_rbf_svm_assemble_rows(&rows, y, &p, results, sizes, count_results, borrow != 0, &c, NULL);
    return err ? (failed(err), NULL) : c;
}
