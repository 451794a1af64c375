/* fuzz_classifier.c — libFuzzer harness for the classifier file (DLCLASS1,
 * learn/classifier.h), with a structure-aware mutator.
 *
 * The mutator changes the header's kind, class and feature counts, flags and
 * kind parameter; most of the time it then resizes the payload to what the
 * new header implies (filled with plausible values: positive deviations,
 * support vector counts that add up), so the loader's size check passes and
 * the arrays behind it are exercised; it also pokes NaNs, infinities and
 * hostile counts into the payload. The CRC-32 at the end is always rewritten.
 *
 * The harness loads the input (as is, and with its CRC recomputed); a loaded
 * classifier predicts a zero row and a varied one, and saving it must give
 * back exactly the bytes that were loaded. */
#include "learn/classifier.h"
#include "learn/experiment.h"
#include "common/crc32.h"
#include "tests/fuzz/mutate.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { HEADER = 40, TRAILER = 4 };

static void try_load(const uint8_t *data, size_t size) {
    dl_classifier *c;
    if (dl_classifier_load(data, size, &c)) return;
    size_t d = (size_t)c->num_features, k = (size_t)c->num_classes;
    float *x = calloc(2 * d, sizeof(float)), *scores = malloc(2 * k * sizeof(float));
    int labels[2];
    for (size_t j = 0; x && j < d; j++) x[d + j] = (float)j - (float)d / 2;
    if (x && scores && !dl_classifier_predict(c, x, 2, labels, scores))
        for (int i = 0; i < 2; i++) if (labels[i] < 0 || (size_t)labels[i] >= k) abort();
    uint8_t *saved;
    size_t n;
    if (!dl_classifier_save(c, &saved, &n)) {
        if (n != size || memcmp(saved, data, size)) abort();   /* load -> save gives the file back */
        free(saved);
    }
    free(x); free(scores);
    dl_classifier_free(c);
}

static void fix_crc(uint8_t *b, size_t size) {
    if (size >= HEADER + TRAILER) put_le(b + size - 4, dl_crc32(b, size - 4), 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_load(data, size);
    if (size < HEADER + TRAILER) return 0;
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data, size);
    fix_crc(b, size);
    if (memcmp(b, data, size)) try_load(b, size);
    free(b);
    return 0;
}

/* ---- the mutator ------------------------------------------------------------- */

typedef struct { uint32_t kind, k, d, flags, param; } header;

static header read_header(const uint8_t *b) {
    return (header){ (uint32_t)get_le(b + 12, 4), (uint32_t)get_le(b + 16, 4), (uint32_t)get_le(b + 20, 4),
                     (uint32_t)get_le(b + 24, 4), (uint32_t)get_le(b + 28, 4) };
}

/* The payload layout of learn/classifier.h as (element size, count) runs, in order. */
typedef struct { int bytes; uint64_t count; int role; } run;
enum { R_MEAN, R_STD, R_WEIGHT, R_GAMMA, R_SV_COUNT };

static int layout(const header *h, run *runs) {
    uint64_t k = h->k, d = h->d, p = h->param;
    int n = 0;
    if (h->flags & 1) { runs[n++] = (run){ 4, d, R_MEAN }; runs[n++] = (run){ 4, d, R_STD }; }
    /* The kinds' payloads as their files (learn/linear_svm.c, kernel_svm.c, softmax_head.c) write them. */
    const dl_classifier_kind *kind = dl_classifier_kind_by_id(h->kind);
    const char *name = kind ? kind->name : "";
    if (!strcmp(name, "linear-svm")) {
        runs[n++] = (run){ 4, k * (d + 1), R_WEIGHT };
    } else if (!strcmp(name, "rbf-svm")) {
        runs[n++] = (run){ 8, 1, R_GAMMA }; runs[n++] = (run){ 4, k, R_SV_COUNT };
        runs[n++] = (run){ 8, k * (k - 1) / 2, R_WEIGHT }; runs[n++] = (run){ 8, (k - 1) * p, R_WEIGHT };
        runs[n++] = (run){ 4, p * d, R_WEIGHT };
    } else if (!strcmp(name, "softmax")) {
        if (p) { runs[n++] = (run){ 4, d * p, R_WEIGHT }; runs[n++] = (run){ 4, p, R_WEIGHT }; }
        runs[n++] = (run){ 4, (p ? p : d) * k, R_WEIGHT }; runs[n++] = (run){ 4, k, R_WEIGHT };
    }
    return n;
}

/* Payload bytes the header implies, saturated (0 if it overflows 64 bits). */
static uint64_t payload_bytes(const header *h) {
    run runs[8];
    uint64_t total = 0, b;
    for (int i = 0, n = layout(h, runs); i < n; i++)
        if (__builtin_mul_overflow(runs[i].count, (uint64_t)runs[i].bytes, &b) || __builtin_add_overflow(total, b, &total)) return 0;
    return total;
}

/* A payload for header h in out (cap bytes), keeping what `old` had where it
 * had something; 0 if it does not fit. */
static size_t fill_payload(const header *h, const uint8_t *old, size_t old_bytes, uint8_t *out, size_t cap, fuzz_rng *r) {
    uint64_t want = payload_bytes(h);
    if (!want || want > cap) return 0;
    run runs[8];
    size_t pos = 0;
    for (int i = 0, n = layout(h, runs); i < n; i++)
        for (uint64_t j = 0; j < runs[i].count; j++, pos += (size_t)runs[i].bytes) {
            if (pos + (size_t)runs[i].bytes <= old_bytes && rng_below(r, 4)) { memcpy(out + pos, old + pos, (size_t)runs[i].bytes); continue; }
            float v = plausible_f32(r);
            if (runs[i].role == R_STD || runs[i].role == R_GAMMA) v = 0.5f + (v < 0 ? -v : v);
            if (runs[i].role == R_SV_COUNT)       /* the kind parameter split over the classes */
                put_le(out + pos, h->param / h->k + (j < h->param % h->k), 4);
            else if (runs[i].bytes == 8) put_le(out + pos, f64_bits(v), 8);
            else put_le(out + pos, f32_bits(v), 4);
        }
    return pos;
}

/* Overwrites one value of the payload with a hostile one. */
static void poke_payload(const header *h, uint8_t *payload, size_t bytes, fuzz_rng *r) {
    run runs[8];
    int n = layout(h, runs);
    if (!n) return;
    uint64_t pos = 0, step;                      /* the header may state anything: stay inside `bytes` */
    int pick = (int)rng_below(r, (uint32_t)n);
    for (int i = 0; i < pick; i++)
        if (__builtin_mul_overflow(runs[i].count, (uint64_t)runs[i].bytes, &step) || (pos += step) > bytes) return;
    if (!runs[pick].count) return;
    pos += (uint64_t)rng_below(r, runs[pick].count > UINT32_MAX ? UINT32_MAX : (uint32_t)runs[pick].count) * (uint64_t)runs[pick].bytes;
    if (pos > bytes || bytes - pos < (uint64_t)runs[pick].bytes) return;
    if (runs[pick].role == R_SV_COUNT) put_le(payload + pos, interesting_u32(r), 4);
    else if (runs[pick].bytes == 8) put_le(payload + pos, f64_bits(interesting_f32(r)), 8);
    else put_le(payload + pos, f32_bits(interesting_f32(r)), 4);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    fuzz_rng r = { seed * 0x9e3779b97f4a7c15ull + size };
    if (size < HEADER + TRAILER || max_size < HEADER + TRAILER || memcmp(data, "DLCLASS1", 8) || rng_chance(&r, 16)) {
        size = LLVMFuzzerMutate(data, size, max_size);
        fix_crc(data, size);
        return size;
    }
    header h = read_header(data);
    size_t old_payload = size - HEADER - TRAILER;
    switch (rng_below(&r, 8)) {
    case 0: h.kind = rng_below(&r, 5); break;
    case 1: h.k = rng_chance(&r, 2) ? 2 + rng_below(&r, 8) : interesting_u32(&r); break;
    case 2: h.d = rng_chance(&r, 2) ? 1 + rng_below(&r, 16) : interesting_u32(&r); break;
    case 3: h.flags = rng_chance(&r, 2) ? h.flags ^ 1 : interesting_u32(&r); break;
    case 4: h.param = rng_chance(&r, 2) ? rng_below(&r, 12) : interesting_u32(&r); break;
    default: break;                              /* values only */
    }
    uint8_t *out = malloc(max_size);
    if (!out) return size;
    memcpy(out, data, HEADER);
    put_le(out + 12, h.kind, 4); put_le(out + 16, h.k, 4); put_le(out + 20, h.d, 4);
    put_le(out + 24, h.flags, 4); put_le(out + 28, h.param, 4);
    size_t payload = rng_chance(&r, 8) ? 0 : fill_payload(&h, data + HEADER, old_payload, out + HEADER, max_size - HEADER - TRAILER, &r);
    if (payload) put_le(out + 32, payload, 8);
    else {                                       /* header and payload disagree: the old payload stays */
        payload = old_payload;
        memcpy(out + HEADER, data + HEADER, payload);
        if (rng_chance(&r, 2)) put_le(out + 32, interesting_u64(&r, payload_bytes(&h)), 8);
    }
    if (rng_chance(&r, 3)) poke_payload(&h, out + HEADER, payload, &r);
    if (rng_chance(&r, 8)) out[rng_below(&r, HEADER)] ^= (uint8_t)(1u << rng_below(&r, 8));
    size = HEADER + payload + TRAILER;
    memcpy(data, out, size);
    free(out);
    fix_crc(data, size);
    return size;
}
