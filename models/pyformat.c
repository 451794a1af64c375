// numpy float32 repr, Python str repr and JSON strings: see pyformat.h.
#include "models/pyformat.h"
#include "common/utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Shortest decimal digits of v > 0 (finite) that read back as v with
// strtof; the closest such when several have that length, as numpy's
// Dragon4 picks. value = 0.d1d2d3... * 10^(*point). Returns digit count.
static int shortest_digits(float v, char digits[16], int *point) {
    for (int p = 1; p <= 9; p++) {
        char tmp[48];
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)v); // correctly rounded p digits
        uint64_t m = 0;
        const char *c = tmp;
        for (; *c && *c != 'e'; c++)
            if (*c >= '0' && *c <= '9') m = m * 10 + (uint64_t)(*c - '0');
        int e = atoi(c + 1) - (p - 1); // v ~= m * 10^e
        // The closest p-digit decimal can miss the round-trip interval when it
        // is lopsided (v a power of two) while a neighbour fits.
        const int64_t deltas[3] = {0, -1, 1};
        for (int d = 0; d < 3; d++) {
            uint64_t cand = m + (uint64_t)deltas[d];
            if (cand == 0) continue;
            snprintf(tmp, sizeof tmp, "%llue%d", (unsigned long long)cand, e);
            if (strtof(tmp, NULL) != v) continue;
            int n = snprintf(digits, 16, "%llu", (unsigned long long)cand);
            *point = e + n;
            while (n > 1 && digits[n - 1] == '0') digits[--n] = 0;
            return n;
        }
    }
    // Unreachable: 9 significant digits always round-trip a float32.
    strcpy(digits, "0");
    *point = 1;
    return 1;
}

void dl_text_float32(dl_text *t, float v) {
    if (isnan(v)) {
        dl_text_puts(t, "nan");
        return;
    }
    if (signbit(v)) dl_text_puts(t, "-");
    if (isinf(v)) {
        dl_text_puts(t, "inf");
        return;
    }
    float a = fabsf(v);
    if (a == 0) {
        dl_text_puts(t, "0.0");
        return;
    }
    char d[16];
    int point, n = shortest_digits(a, d, &point);
    // numpy compares the float32 against the double constants 1e-4 and 1e16.
    if ((double)a >= 1e-4 && (double)a < 1e16) {
        if (point <= 0) {
            dl_text_puts(t, "0.");
            for (int i = 0; i < -point; i++) dl_text_puts(t, "0");
            dl_text_puts(t, d);
        } else {
            for (int i = 0; i < point; i++) dl_text_put(t, i < n ? d + i : "0", 1);
            dl_text_puts(t, ".");
            dl_text_puts(t, point < n ? d + point : "0");
        }
    } else {
        dl_text_put(t, d, 1);
        if (n > 1) {
            dl_text_puts(t, ".");
            dl_text_puts(t, d + 1);
        }
        int e = point - 1;
        dl_text_printf(t, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

void dl_text_python_str(dl_text *t, const char *str) {
    char q = strchr(str, '\'') && !strchr(str, '"') ? '"' : '\'';
    dl_text_put(t, &q, 1);
    const unsigned char *p = (const unsigned char *)str;
    size_t left = strlen(str);
    while (left) {
        uint32_t cp;
        size_t k = dl_utf8_decode(p, left, &cp);
        if (k == 0) { // not UTF-8 (cannot come from the parser): show the byte
            dl_text_printf(t, "\\x%02x", *p++);
            left--;
            continue;
        }
        if (cp == '\\' || cp == (uint32_t)q) {
            dl_text_puts(t, "\\");
            dl_text_put(t, (const char *)p, 1);
        } else if (cp == '\n') dl_text_puts(t, "\\n");
        else if (cp == '\r') dl_text_puts(t, "\\r");
        else if (cp == '\t') dl_text_puts(t, "\\t");
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) dl_text_printf(t, "\\x%02x", (unsigned)cp);
        else dl_text_put(t, (const char *)p, k);
        p += k;
        left -= k;
    }
    dl_text_put(t, &q, 1);
}

size_t dl_copy_bounded(const char *s, size_t len, char *buf, size_t cap) {
    if (cap) {
        size_t k = len < cap ? len : cap - 1;
        if (k) memcpy(buf, s, k);
        buf[k] = 0;
    }
    return len;
}

size_t dl_format_float32(float v, char *buf, size_t cap) {
    dl_text t = {0};
    dl_text_float32(&t, v);
    size_t len = t.failed ? 0 : t.len;
    dl_copy_bounded(t.buf && !t.failed ? t.buf : "", len, buf, cap);
    dl_text_free(&t);
    return len;
}
