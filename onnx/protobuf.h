/* protobuf.h — the protobuf wire format, written into one growable buffer:
 * just what an ONNX file needs (varints, length-delimited fields, packed
 * floats and integers), no schema, no dependency.
 *
 *   dl_pb w = {0};
 *   dl_pb_begin(&w, 7);                      // a nested message: field 7
 *   dl_pb_string(&w, 2, "densenet121");
 *   dl_pb_end(&w);                           // its length goes in front of it
 *   if (w.out.failed) ... out of memory ...; else w.out.buf, w.out.len
 *   dl_text_free(&w.out);
 *
 * A nested message is written in place; dl_pb_end moves it up by the few
 * bytes its length takes, so a 32 MB graph is never copied into a second
 * buffer. Output is the same bytes on every platform (little-endian floats). */
#ifndef DENSELAB_PROTOBUF_H
#define DENSELAB_PROTOBUF_H
#include <stddef.h>
#include <stdint.h>
#include "common/text.h"

#define DL_PB_MAX_DEPTH 8

typedef struct {
    dl_text out;                       /* the bytes; out.failed: out of memory or misuse */
    size_t open[DL_PB_MAX_DEPTH];      /* where each open message's body starts */
    int depth;
} dl_pb;

void dl_pb_varint(dl_pb *w, int field, uint64_t v);
void dl_pb_float(dl_pb *w, int field, float v);
void dl_pb_bytes(dl_pb *w, int field, const void *p, size_t n);
void dl_pb_string(dl_pb *w, int field, const char *s);
void dl_pb_floats(dl_pb *w, int field, const float *v, size_t n);        /* packed */
void dl_pb_ints(dl_pb *w, int field, const int64_t *v, size_t n);       /* packed varints */
void dl_pb_begin(dl_pb *w, int field);
void dl_pb_end(dl_pb *w);

#endif
