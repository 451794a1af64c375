/* fuzz_classifier.c — libFuzzer harness for the classifier file (DLCLASS1)
 * loader. As for model files, a mutated file rarely keeps its CRC-32, so the
 * CRC is recomputed in a copy (the unmodified input is tried too). A loaded
 * classifier predicts a zero row and is saved and reloaded. */
#include "learn/classifier.h"
#include "common/crc32.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void try_load(const uint8_t *data, size_t size) {
    dl_classifier *c;
    if (dl_classifier_load(data, size, &c)) return;
    float *x = calloc((size_t)c->num_features, sizeof(float)), *scores = malloc(sizeof(float) * (size_t)c->num_classes);
    int label;
    if (x && scores) dl_classifier_predict(c, x, 1, &label, scores);
    uint8_t *buf;
    size_t n;
    if (!dl_classifier_save(c, &buf, &n)) {
        dl_classifier *again;
        if (!dl_classifier_load(buf, n, &again)) dl_classifier_free(again);
        else abort();                    /* what we save must load */
        free(buf);
    }
    free(x); free(scores);
    dl_classifier_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size < 44) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data, size);
    uint32_t crc = dl_crc32(b, size - 4);
    for (int i = 0; i < 4; i++) b[size - 4 + i] = (uint8_t)(crc >> 8 * i);
    if (memcmp(b, data, size)) try_load(b, size);
    free(b);
    return 0;
}
