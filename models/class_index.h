// Keras' imagenet_class_index.json: class number -> (WordNet id, label).
#ifndef DL_CLASS_INDEX_H
#define DL_CLASS_INDEX_H

#include <stddef.h>

typedef struct dl_class_index dl_class_index;

// Parses {"0": ["n01440764", "tench"], ...}. Keys must be the decimals
// 0..N-1, each exactly once (any order); values [wnid, label] string pairs.
// Strings must be valid UTF-8; escapes (\uXXXX with surrogate pairs too) are
// decoded; \u0000 is refused. Returns NULL and sets *out, or a reason and
// *out = NULL. Each string is kept in exactly the bytes it needs.
const char *dl_class_index_parse(const char *json, size_t n, dl_class_index **out);
size_t dl_class_index_count(const dl_class_index *ci);
// NULL when ci is NULL or i is out of range.
const char *dl_class_index_wnid(const dl_class_index *ci, size_t i);
const char *dl_class_index_label(const dl_class_index *ci, size_t i);
void dl_class_index_free(dl_class_index *ci);

#endif
