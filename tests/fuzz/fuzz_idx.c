/* fuzz_idx.c — libFuzzer harness for the IDX parser. The input is split in
 * two at a position given by its first two bytes: an images file and a
 * labels file, parsed, paired and converted as the Fashion-MNIST loader does. */
#include "learn/idx.h"
#include <stdint.h>
#include <stdlib.h>

static void convert(const dl_idx *images, const dl_idx *labels) {
    uint32_t n = images->count < 4 ? images->count : 4;      /* a few items, cheaply */
    float *x = malloc(sizeof(float) * (size_t)n * images->rows * images->cols + 1);
    int *y = malloc(sizeof(int) * ((size_t)n + 1));
    if (x && y) {
        dl_idx_images_to_f32(images, 0, n, 1.0f / 255, x);
        dl_idx_images_to_f32(images, images->count - n, n, 1.0f / 255, x);
        dl_idx_images_to_f32(images, images->count, 1, 1.0f, x);       /* out of range: refused */
        dl_idx_labels_to_int(labels, 0, n, y);
        dl_idx_labels_to_int(labels, labels->count - n, n + 1, y);    /* out of range: refused */
        dl_idx_num_classes(labels);
    }
    free(x); free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t cut = ((size_t)data[0] << 8 | data[1]) % (size - 1);
    const uint8_t *a = data + 2, *b = a + cut;
    size_t na = cut, nb = size - 2 - cut;
    dl_idx images, labels, x;
    /* Copies with no slack, so a read past the end is caught by ASan. */
    uint8_t *ia = malloc(na ? na : 1), *ib = malloc(nb ? nb : 1);
    if (!ia || !ib) { free(ia); free(ib); return 0; }
    for (size_t i = 0; i < na; i++) ia[i] = a[i];
    for (size_t i = 0; i < nb; i++) ib[i] = b[i];
    const char *ei = dl_idx_parse_images(ia, na, &images);
    const char *el = dl_idx_parse_labels(ib, nb, &labels);
    dl_idx_parse_labels(ia, na, &x);                    /* the wrong kind: refused or parsed */
    dl_idx_parse_images(ib, nb, &x);
    if (!ei && !el && !dl_idx_check_pair(&images, &labels)) convert(&images, &labels);
    free(ia); free(ib);
    return 0;
}
