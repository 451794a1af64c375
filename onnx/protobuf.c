/* protobuf.c — see protobuf.h. */
#include "onnx/protobuf.h"
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "protobuf.c writes floats in memory order: little-endian hosts only (x86, ARM, WebAssembly)"
#endif

enum { WIRE_VARINT = 0, WIRE_LEN = 2, WIRE_FIXED32 = 5 };

static size_t varint_bytes(uint64_t v, uint8_t *out) {
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

static void put_varint(dl_pb *w, uint64_t v) {
    uint8_t b[10];
    dl_text_put(&w->out, (const char *)b, varint_bytes(v, b));
}

static void tag(dl_pb *w, int field, int wire) { put_varint(w, ((uint64_t)field << 3) | (uint64_t)wire); }

void dl_pb_varint(dl_pb *w, int field, uint64_t v) { tag(w, field, WIRE_VARINT); put_varint(w, v); }

void dl_pb_float(dl_pb *w, int field, float v) {
    tag(w, field, WIRE_FIXED32);
    dl_text_put(&w->out, (const char *)&v, 4);
}

/* A length-delimited field of n bytes, their room returned (NULL when out of memory). */
static uint8_t *reserve(dl_pb *w, int field, size_t n) {
    tag(w, field, WIRE_LEN);
    put_varint(w, n);
    size_t at = w->out.len;
    if (n > (size_t)-1 - at - 1) { w->out.failed = 1; return NULL; }
    /* grow by n bytes (dl_text has no resize: put n bytes of whatever is there) */
    while (!w->out.failed && w->out.len < at + n) {
        static const char zeros[4096];
        size_t k = at + n - w->out.len;
        dl_text_put(&w->out, zeros, k < sizeof zeros ? k : sizeof zeros);
    }
    return w->out.failed ? NULL : (uint8_t *)w->out.buf + at;
}

void dl_pb_bytes(dl_pb *w, int field, const void *p, size_t n) {
    uint8_t *dst = reserve(w, field, n);
    if (dst && n) memcpy(dst, p, n);
}

void dl_pb_string(dl_pb *w, int field, const char *s) { dl_pb_bytes(w, field, s, strlen(s)); }

void dl_pb_floats(dl_pb *w, int field, const float *v, size_t n) {
    if (n > (size_t)-1 / 4) { w->out.failed = 1; return; }
    dl_pb_bytes(w, field, v, n * 4);
}

void dl_pb_ints(dl_pb *w, int field, const int64_t *v, size_t n) {
    size_t len = 0;
    uint8_t b[10];
    for (size_t i = 0; i < n; i++) len += varint_bytes((uint64_t)v[i], b);
    tag(w, field, WIRE_LEN);
    put_varint(w, len);
    for (size_t i = 0; i < n; i++) put_varint(w, (uint64_t)v[i]);
}

void dl_pb_begin(dl_pb *w, int field) {
    if (w->depth == DL_PB_MAX_DEPTH) { w->out.failed = 1; return; }
    tag(w, field, WIRE_LEN);
    w->open[w->depth++] = w->out.len;
}

/* The body written since dl_pb_begin moves up to make room for its length. */
void dl_pb_end(dl_pb *w) {
    if (w->depth == 0) { w->out.failed = 1; return; }
    size_t start = w->open[--w->depth], body = w->out.len - start;
    uint8_t len[10];
    size_t k = varint_bytes(body, len);
    dl_text_put(&w->out, (const char *)len, k);          /* k more bytes at the end */
    if (w->out.failed) return;
    memmove(w->out.buf + start + k, w->out.buf + start, body);
    memcpy(w->out.buf + start, len, k);
}
