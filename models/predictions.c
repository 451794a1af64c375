// decode_predictions' renderings: see predictions.h.
#include "models/predictions.h"
#include "models/pyformat.h"

#include "common/reason.h"
#include <math.h>

const char *dl_decode_predictions_check(size_t rows, size_t classes) {
    if (classes == 1000) return NULL;
    return dl_errorf("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape (samples, 1000)). "
                     "Received array with shape: (%zu, %zu)", rows, classes);
}

static const char *or_empty(const char *s) { return s ? s : ""; }

void dl_text_predictions_python(dl_text *t, const dl_class_index *ci, const dl_prediction *preds, size_t k) {
    dl_text_puts(t, "[");
    for (size_t i = 0; i < k; i++) {
        dl_text_puts(t, i ? ", (" : "(");
        dl_text_python_str(t, or_empty(dl_class_index_wnid(ci, (size_t)preds[i].index)));
        dl_text_puts(t, ", ");
        dl_text_python_str(t, or_empty(dl_class_index_label(ci, (size_t)preds[i].index)));
        dl_text_puts(t, ", ");
        dl_text_float32(t, preds[i].prob);
        dl_text_puts(t, ")");
    }
    dl_text_puts(t, "]");
}

void dl_text_predictions_json(dl_text *t, const dl_class_index *ci, const dl_prediction *preds, size_t k) {
    dl_text_puts(t, "[");
    for (size_t i = 0; i < k; i++) {
        dl_text_printf(t, "%s{\"index\": %d, \"wnid\": ", i ? ", " : "", preds[i].index);
        dl_text_json_str(t, or_empty(dl_class_index_wnid(ci, (size_t)preds[i].index)));
        dl_text_puts(t, ", \"label\": ");
        dl_text_json_str(t, or_empty(dl_class_index_label(ci, (size_t)preds[i].index)));
        dl_text_puts(t, ", \"prob\": ");
        if (isfinite(preds[i].prob)) dl_text_float32(t, preds[i].prob);
        else dl_text_puts(t, "null");
        dl_text_puts(t, "}");
    }
    dl_text_puts(t, "]");
}

typedef void (*render_fn)(dl_text *, const dl_class_index *, const dl_prediction *, size_t);

static size_t render_bounded(render_fn render, const dl_class_index *ci, const dl_prediction *preds, size_t k,
                             char *buf, size_t cap) {
    dl_text t = {0};
    render(&t, ci, preds, k);
    size_t len = t.failed ? 0 : t.len;
    dl_copy_bounded(t.buf && !t.failed ? t.buf : "", len, buf, cap);
    dl_text_free(&t);
    return len;
}

size_t dl_format_predictions_python(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                    char *buf, size_t cap) {
    return render_bounded(dl_text_predictions_python, ci, preds, k, buf, cap);
}

size_t dl_format_predictions_json(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                  char *buf, size_t cap) {
    return render_bounded(dl_text_predictions_json, ci, preds, k, buf, cap);
}
