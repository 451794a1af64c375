/* text.h — the one growable text writer (summaries, predictions, JSON strings).
 *
 *   dl_text t = {0};
 *   dl_text_printf(&t, "%d", 42); dl_text_put(&t, "abc", 3);
 *   if (t.failed) ... out of memory ...; else use t.buf (NUL-terminated, t.len bytes)
 *   free(t.buf);
 */
#ifndef DENSELAB_TEXT_H
#define DENSELAB_TEXT_H
#include <stddef.h>

typedef struct {
    char *buf;      /* NUL-terminated once anything was written */
    size_t len, cap;
    int failed;     /* an allocation failed: the text is incomplete */
} dl_text;

void dl_text_put(dl_text *t, const char *s, size_t n);
void dl_text_puts(dl_text *t, const char *s);
void dl_text_printf(dl_text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void dl_text_free(dl_text *t);
/* A JSON string: quotes, backslash and control characters escaped; a byte
 * that is not UTF-8 (a file name, say) becomes \ufffd, so the JSON stays valid. */
void dl_text_json_str(dl_text *t, const char *s);

#endif
