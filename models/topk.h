// decode_predictions' top-k: the k most probable classes, in order.
#ifndef DL_TOPK_H
#define DL_TOPK_H

#include <stddef.h>

typedef struct {
    int index;
    float prob;
} dl_prediction;

// The k best of probs[0..n) into out, by descending probability, ties by
// lower index, NaN last. Returns min(k, n). The caller validates k (see
// dl_top_k_parse for a k that a user typed).
size_t dl_top_k(const float *probs, size_t n, size_t k, dl_prediction *out);

// A top-k count as a user typed it ("--top 5"): a decimal integer from 1 to
// classes (classes 0: no upper bound known yet). Returns NULL and sets *k, or
// a reason that quotes the text as given ("top must be between 1 and 1000,
// got '99999999999999999999'"), never a clamped or wrapped value.
const char *dl_top_k_parse(const char *text, size_t classes, size_t *k);

#endif
