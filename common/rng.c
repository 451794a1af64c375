/* rng.c — see rng.h. */
#include "common/rng.h"
#include <math.h>

void dl_rng_seed(dl_rng *r, uint64_t seed) { r->s = seed; }

uint64_t dl_rng_next(dl_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t dl_rng_below(dl_rng *r, uint32_t n) {
    /* Multiply-shift: unbiased enough for n << 2^32 and cheap. */
    return (uint32_t)(((dl_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

double dl_rng_uniform(dl_rng *r) { return (double)(dl_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

void dl_rng_shuffle(dl_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)dl_rng_below(r, (uint32_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

void dl_glorot_uniform(dl_rng *r, float *w, size_t n, size_t fan_in, size_t fan_out) {
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    for (size_t i = 0; i < n; i++) w[i] = (float)((2 * dl_rng_uniform(r) - 1) * limit);
}
