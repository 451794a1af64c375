/* rng.h — the one random generator (splitmix64: tiny, seedable, identical on
 * every platform) and the Keras initializer built on it. */
#ifndef DENSELAB_RNG_H
#define DENSELAB_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t s; } dl_rng;
void     dl_rng_seed(dl_rng *r, uint64_t seed);
uint64_t dl_rng_next(dl_rng *r);
uint32_t dl_rng_below(dl_rng *r, uint32_t n);   /* uniform in [0, n), n > 0 */
double   dl_rng_uniform(dl_rng *r);             /* [0, 1) */
void     dl_rng_shuffle(dl_rng *r, int *a, int n);

/* Keras's glorot_uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)). */
void dl_glorot_uniform(dl_rng *r, float *w, size_t n, size_t fan_in, size_t fan_out);

#endif
