/* text.c — see text.h. */
#include "common/text.h"
#include "common/utf8.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(dl_text *t, size_t extra) {
    if (t->failed) return 0;
    if (extra > (size_t)-1 - t->len - 1) { t->failed = 1; return 0; }
    size_t need = t->len + extra + 1;
    if (need <= t->cap) return 1;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    char *b = realloc(t->buf, cap);
    if (!b) { t->failed = 1; return 0; }
    t->buf = b; t->cap = cap;
    return 1;
}

void dl_text_put(dl_text *t, const char *s, size_t n) {
    if (!reserve(t, n)) return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

void dl_text_puts(dl_text *t, const char *s) { dl_text_put(t, s, strlen(s)); }

void dl_text_printf(dl_text *t, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && reserve(t, (size_t)n)) {
        vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap2);
        t->len += (size_t)n;
    } else if (n < 0) {
        t->failed = 1;
    }
    va_end(ap2);
}

void dl_text_free(dl_text *t) { free(t->buf); t->buf = NULL; t->len = t->cap = 0; }

void dl_text_json_str(dl_text *t, const char *str) {
    dl_text_puts(t, "\"");
    const unsigned char *p = (const unsigned char *)str;
    size_t left = strlen(str);
    while (left) {
        uint32_t cp;
        size_t k = dl_utf8_decode(p, left, &cp);
        const char *esc = NULL;
        switch (k ? cp : 0xFFFD) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case 0xFFFD: esc = "\\ufffd"; break;
        }
        if (esc) dl_text_puts(t, esc);
        else if (cp < 0x20) dl_text_printf(t, "\\u%04x", (unsigned)cp);
        else dl_text_put(t, (const char *)p, k);
        k = k ? k : 1;   /* a byte that is not UTF-8 became U+FFFD */
        p += k;
        left -= k;
    }
    dl_text_puts(t, "\"");
}
