// Keras decode_predictions as text: what both CLIs print (native `denselab
// classify` and `node wasm/cli.js classify` share these functions so their
// output is byte-identical). The parts: class_index.h (the ImageNet class
// index), topk.h (the k best), pyformat.h (Python's way of printing).
#ifndef DL_PREDICTIONS_H
#define DL_PREDICTIONS_H

#include "common/text.h"
#include "models/class_index.h"
#include "models/topk.h"
#include <stddef.h>

// ci may be NULL, or not know an index; wnid and label are then empty strings.

// What Python prints for decode_predictions' list of tuples:
// [('n02123045', 'tabby', 0.78923416), ('n02123159', 'tiger_cat', 0.0123)]
void dl_text_predictions_python(dl_text *t, const dl_class_index *ci, const dl_prediction *preds, size_t k);

// [{"index": 281, "wnid": "n02123045", "label": "tabby", "prob": 0.78923416}, ...]
// Non-finite probabilities print as null.
void dl_text_predictions_json(dl_text *t, const dl_class_index *ci, const dl_prediction *preds, size_t k);

// The same into a caller buffer (capacity cap, always NUL-terminated when
// cap > 0), returning the length of the full text like snprintf: call with
// cap 0 to size the buffer. Returns 0 (an empty text) when out of memory.
size_t dl_format_predictions_python(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                    char *buf, size_t cap);
size_t dl_format_predictions_json(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                  char *buf, size_t cap);

// Keras's decode_predictions takes only a batch of ImageNet rows: NULL for rows x 1000,
// else Keras's error, word for word ("... Received array with shape: (1, 10)").
const char *dl_decode_predictions_check(size_t rows, size_t classes);

#endif
