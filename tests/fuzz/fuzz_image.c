/* fuzz_image.c — libFuzzer harness: image bytes -> dl_image_decode (4M pixel
 * limit) -> load_img resize to 224x224 (PIL NEAREST) -> preprocess_input. */
#include "models/image.h"
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dl_image img, resized;
    if (dl_image_decode(data, size, (size_t)4 << 20, &img)) return 0;
    if (!dl_image_resize_nearest(&img, 224, 224, &resized)) {
        float *x = malloc(sizeof(float) * 224 * 224 * 3);
        if (x) dl_preprocess_torch(resized.rgb, (size_t)224 * 224, x);
        free(x);
        dl_image_free(&resized);
    }
    dl_image_free(&img);
    return 0;
}
