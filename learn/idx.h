/* idx.h — IDX (MNIST / Fashion-MNIST) file parser.
 *
 * Input: the already-decompressed file bytes in memory (gunzip is the
 * platform's job). Only unsigned-byte data is accepted: images are magic
 * 0x00000803 (count, rows, cols), labels 0x00000801 (count). The parsed
 * struct points into the caller's buffer (no copy): keep it alive.
 * Every function returns NULL on success or a reason string. */
#ifndef DENSELAB_IDX_H
#define DENSELAB_IDX_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int ndims;             /* 3 for images, 1 for labels */
    uint32_t count;        /* number of images / labels */
    uint32_t rows, cols;   /* image size (1, 1 for labels) */
    const uint8_t *data;   /* count * rows * cols bytes, inside the buffer */
} dl_idx;

/* Parse an IDX images file (magic 0x00000803). */
const char *dl_idx_parse_images(const uint8_t *buf, size_t size, dl_idx *out);
/* Parse an IDX labels file (magic 0x00000801). */
const char *dl_idx_parse_labels(const uint8_t *buf, size_t size, dl_idx *out);
/* Images and labels describe the same number of items. */
const char *dl_idx_check_pair(const dl_idx *images, const dl_idx *labels);
/* Number of classes = max label + 1 (10 for Fashion-MNIST); 0 if empty.
 * Checking it (e.g. == 10) is the caller's business. */
int dl_idx_num_classes(const dl_idx *labels);
/* Images [first, first+n) as floats: pixel * scale (scale 1/255 -> [0,1]). */
const char *dl_idx_images_to_f32(const dl_idx *images, uint32_t first, uint32_t n,
                                 float scale, float *out);
/* Labels [first, first+n) as ints. */
const char *dl_idx_labels_to_int(const dl_idx *labels, uint32_t first, uint32_t n, int *out);

#ifdef __cplusplus
}
#endif
#endif
