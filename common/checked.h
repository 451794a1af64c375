/* checked.h — size arithmetic that refuses to wrap.
 *
 * Every size that a file or a caller states (tensor dimensions, batch counts,
 * image sides, classifier shapes) goes through these before it reaches
 * malloc, an index or a loop bound. They are correct for the platform's
 * size_t: 64-bit natively, 32-bit in WebAssembly, where a product of two
 * innocent-looking numbers wraps to a small allocation and a heap overwrite.
 *
 *   size_t bytes;
 *   if (!dl_mul3(h, w, c, &bytes) || !dl_mul(bytes, sizeof(float), &bytes))
 *       return "too large";
 *
 * Each returns 1 and stores the result, or returns 0 and leaves *out alone.
 */
#ifndef DENSELAB_CHECKED_H
#define DENSELAB_CHECKED_H
#include <stddef.h>
#include <stdint.h>

static inline int dl_mul(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

static inline int dl_add(size_t a, size_t b, size_t *out) {
    size_t r;
    if (__builtin_add_overflow(a, b, &r)) return 0;
    *out = r;
    return 1;
}

static inline int dl_mul3(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return dl_mul(a, b, &ab) && dl_mul(ab, c, out);
}

/* a * b * elem_size bytes, also refusing anything above limit (0: no limit). */
static inline int dl_bytes(size_t a, size_t b, size_t elem_size, size_t limit, size_t *out) {
    size_t r;
    if (!dl_mul3(a, b, elem_size, &r) || (limit && r > limit)) return 0;
    *out = r;
    return 1;
}

/* A 64-bit count (from a file header) as a size_t, or 0 if it does not fit. */
static inline int dl_size_from_u64(uint64_t v, size_t *out) {
    if (v > (uint64_t)SIZE_MAX) return 0;
    *out = (size_t)v;
    return 1;
}

#endif
