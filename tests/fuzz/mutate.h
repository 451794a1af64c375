/* mutate.h — what the structure-aware mutators of the file-format harnesses
 * share (fuzz_model.c, fuzz_classifier.c): a seeded random source, the
 * "interesting" integers and floats a hostile file would state, and
 * little-endian field access.
 *
 * The interesting sizes aim at the platform's size_t: a build with -m32 (as
 * the 32-bit WebAssembly build) gets products that wrap at 2^32, a 64-bit
 * build those that wrap at 2^64. */
#ifndef DENSELAB_FUZZ_MUTATE_H
#define DENSELAB_FUZZ_MUTATE_H
#include "common/rng.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* libFuzzer's own byte-level mutator (fallback and payload noise). */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#define SIZE_T_BITS ((int)(8 * sizeof(size_t)))

typedef dl_rng fuzz_rng;     /* common/rng.h's generator, seeded by libFuzzer */

static inline uint64_t rng_u64(fuzz_rng *r) { return dl_rng_next(r); }
/* Uniform in [0, n); n > 0. */
static inline uint32_t rng_below(fuzz_rng *r, uint32_t n) { return (uint32_t)(rng_u64(r) % n); }
static inline int rng_chance(fuzz_rng *r, uint32_t one_in) { return rng_below(r, one_in) == 0; }

/* A count or dimension a hostile file would state: edges of the loaders'
 * limits, powers of two whose products wrap size_t, and small values that
 * keep a file valid. */
static inline uint32_t interesting_u32(fuzz_rng *r) {
    static const uint32_t v[] = {
        0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 100, 127, 128, 255, 256, 257, 1000, 1023, 1024, 1025,
        4095, 4096, 4097, 46340, 46341, 65535, 65536, 65537, 100000, 100001, 1u << 20, (1u << 24) - 1, 1u << 24,
        (1u << 24) + 1, 1u << 28, 1u << 30, 0x7ffffffeu, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu,
    };
    if (rng_chance(r, 4)) return 1 + rng_below(r, 8);               /* small: stays plausible */
    if (rng_chance(r, 4)) return 1u << rng_below(r, 32);           /* a power of two */
    return v[rng_below(r, sizeof v / sizeof v[0])];
}

static inline uint64_t interesting_u64(fuzz_rng *r, uint64_t near) {
    switch (rng_below(r, 8)) {
    case 0: return near;
    case 1: return near - 16;
    case 2: return near + 16;
    case 3: return (uint64_t)1 << rng_below(r, 64);
    case 4: return UINT64_MAX - rng_below(r, 64);
    case 5: return (uint64_t)SIZE_MAX + 1 - 16 * (uint64_t)rng_below(r, 4);  /* wraps size_t in 32-bit builds */
    case 6: return ((uint64_t)1 << 32) + near;
    default: return interesting_u32(r);
    }
}

static inline float interesting_f32(fuzz_rng *r) {
    static const float v[] = { 0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e-3f, 1e-30f, 1e30f, 3.4e38f, -3.4e38f, 1.4e-45f };
    switch (rng_below(r, 4)) {
    case 0: return NAN;
    case 1: return rng_chance(r, 2) ? INFINITY : -INFINITY;
    case 2: return (float)((int)rng_below(r, 2001) - 1000) / 500.0f;
    default: return v[rng_below(r, sizeof v / sizeof v[0])];
    }
}

/* A deterministic small weight: what a tensor or a payload grows with. */
static inline float plausible_f32(fuzz_rng *r) { return (float)((int)rng_below(r, 2001) - 1000) / 1000.0f; }

static inline uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << 8 * i;
    return v;
}
static inline void put_le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t f64_bits(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }

#endif
