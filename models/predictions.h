// Keras decode_predictions: the ImageNet class index, top-k, and the text
// both CLIs print (native `denselab classify` and `node wasm/cli.js classify`
// share these functions so their output is byte-identical).
#ifndef DL_PREDICTIONS_H
#define DL_PREDICTIONS_H

#include <stddef.h>

typedef struct dl_class_index dl_class_index;

// Parses Keras' imagenet_class_index.json: {"0": ["n01440764", "tench"], ...}.
// Keys must be the decimals 0..N-1, each exactly once (any order); values
// [wnid, label] string pairs. Strings are UTF-8 (\uXXXX escapes decoded).
// Returns NULL and sets *out, or a reason (thread-local storage) and *out = NULL.
const char *dl_class_index_parse(const char *json, size_t n, dl_class_index **out);
size_t dl_class_index_count(const dl_class_index *ci);
// NULL when i is out of range.
const char *dl_class_index_wnid(const dl_class_index *ci, size_t i);
const char *dl_class_index_label(const dl_class_index *ci, size_t i);
void dl_class_index_free(dl_class_index *ci);

typedef struct {
    int index;
    float prob;
} dl_prediction;

// The k best of probs[0..n) into out, by descending probability, ties by
// lower index, NaN last. Returns min(k, n). The caller validates k.
size_t dl_top_k(const float *probs, size_t n, size_t k, dl_prediction *out);

// The formatters write into buf (capacity cap, always NUL-terminated when
// cap > 0) and return the length of the full text, like snprintf: call with
// cap 0 to size the buffer. ci may be NULL, or not know an index; wnid and
// label are then empty strings.

// numpy's repr of a float32 (numpy 1.x): shortest digits that round-trip,
// positional for 1e-4 <= |v| < 1e16 ("0.78923416", "1.0", "123456790.0"),
// else scientific ("1e-05", "3.4028235e+38"); "nan", "inf", "-inf".
size_t dl_format_float32(float v, char *buf, size_t cap);

// What Python prints for decode_predictions' list of tuples:
// [('n02123045', 'tabby', 0.78923416), ('n02123159', 'tiger_cat', 0.0123)]
size_t dl_format_predictions_python(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                    char *buf, size_t cap);

// [{"index": 281, "wnid": "n02123045", "label": "tabby", "prob": 0.78923416}, ...]
// Non-finite probabilities print as null.
size_t dl_format_predictions_json(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                  char *buf, size_t cap);

#endif
