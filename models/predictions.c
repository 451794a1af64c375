// ImageNet class index (small dedicated JSON parser), top-k, and the
// Python/JSON renderings of decode_predictions.
#include "models/predictions.h"
#include "common/reason.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dl_class_index {
    size_t count;
    char **wnid, **label; // count each, owned
};


// ---------------------------------------------------------------------------
// UTF-8

// Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
// surrogates, at most U+10FFFF), 0 if invalid; the code point in *cp.
static size_t utf8_decode(const unsigned char *p, size_t left, uint32_t *cp) {
    if (left == 0) return 0;
    unsigned char c = p[0];
    size_t len;
    uint32_t min, v;
    if (c < 0x80) { *cp = c; return 1; }
    else if ((c & 0xE0) == 0xC0) { len = 2; min = 0x80; v = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; min = 0x800; v = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; min = 0x10000; v = c & 0x07; }
    else return 0;
    if (left < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// ---------------------------------------------------------------------------
// The JSON subset of the class index: one object of string keys whose values
// are arrays of two strings.

typedef struct {
    const unsigned char *s;
    size_t n, pos;
    const char *err;
} json;

static void skip_ws(json *j) {
    while (j->pos < j->n && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' || j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

static int expect(json *j, char c, const char *what) {
    skip_ws(j);
    if (j->pos < j->n && j->s[j->pos] == (unsigned char)c) {
        j->pos++;
        return 1;
    }
    if (j->pos >= j->n) j->err = dl_errorf("class index: truncated JSON: expected %s at the end of the data", what);
    else j->err = dl_errorf("class index: expected %s at byte %zu", what, j->pos);
    return 0;
}

static int hex4(const unsigned char *p, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        *v = *v << 4 | (uint32_t)d;
    }
    return 1;
}

// Returns a malloc'd NUL-terminated UTF-8 string, or NULL with j->err set.
static char *parse_string(json *j) {
    if (!expect(j, '"', "a string")) return NULL;
    size_t start = j->pos;
    // Decoded text is never longer than its escaped form.
    char *out = malloc(j->n - start + 1);
    if (!out) {
        j->err = "class index: out of memory";
        return NULL;
    }
    size_t len = 0;
    while (1) {
        if (j->pos >= j->n) {
            j->err = dl_errorf("class index: truncated JSON: string starting at byte %zu never ends", start - 1);
            break;
        }
        unsigned char c = j->s[j->pos];
        if (c == '"') {
            j->pos++;
            out[len] = 0;
            return out;
        }
        if (c < 0x20) {
            j->err = dl_errorf("class index: control character 0x%02x in a string at byte %zu", c, j->pos);
            break;
        }
        if (c != '\\') {
            uint32_t cp;
            size_t k = utf8_decode(j->s + j->pos, j->n - j->pos, &cp);
            if (k == 0) {
                j->err = dl_errorf("class index: invalid UTF-8 at byte %zu", j->pos);
                break;
            }
            memcpy(out + len, j->s + j->pos, k);
            len += k;
            j->pos += k;
            continue;
        }
        size_t esc = j->pos++;
        if (j->pos >= j->n) {
            j->err = dl_errorf("class index: truncated JSON: escape at byte %zu never ends", esc);
            break;
        }
        c = j->s[j->pos++];
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c && simple) {
            out[len++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            continue;
        }
        if (c != 'u') {
            j->err = dl_errorf("class index: invalid escape '\\%c' at byte %zu", c >= 0x20 && c < 0x7F ? c : '?', esc);
            break;
        }
        uint32_t cp, lo;
        if (j->n - j->pos < 4 || !hex4(j->s + j->pos, &cp)) {
            j->err = dl_errorf("class index: invalid \\u escape at byte %zu (needs 4 hex digits)", esc);
            break;
        }
        j->pos += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            j->err = dl_errorf("class index: lone low surrogate \\u%04X at byte %zu", (unsigned)cp, esc);
            break;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by \uDC00..\uDFFF.
            if (j->n - j->pos < 6 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u' ||
                !hex4(j->s + j->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                j->err = dl_errorf("class index: unpaired surrogate \\u%04X at byte %zu", (unsigned)cp, esc);
                break;
            }
            j->pos += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) {
            j->err = dl_errorf("class index: \\u0000 in a string at byte %zu", esc);
            break;
        }
        len += utf8_encode(cp, out + len);
    }
    free(out);
    return NULL;
}

typedef struct {
    size_t key;
    char *wnid, *label;
} entry;

// "0" or a decimal without leading zeros, below 10^9.
static int parse_key(const char *s, size_t *key) {
    size_t n = strlen(s);
    if (n == 0 || n > 9 || (n > 1 && s[0] == '0')) return 0;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *key = v;
    return 1;
}

void dl_class_index_free(dl_class_index *ci) {
    if (!ci) return;
    for (size_t i = 0; i < ci->count; i++) {
        free(ci->wnid[i]);
        free(ci->label[i]);
    }
    free(ci->wnid);
    free(ci->label);
    free(ci);
}

// Parses the object into entries; returns the count, or sets j->err.
static size_t parse_entries(json *j, entry **entries) {
    size_t count = 0, cap = 0;
    *entries = NULL;
    if (!expect(j, '{', "'{'")) return 0;
    skip_ws(j);
    if (j->pos < j->n && j->s[j->pos] == '}') {
        j->err = "class index: the JSON object is empty";
        return 0;
    }
    for (;;) {
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            entry *grown = realloc(*entries, cap * sizeof **entries);
            if (!grown) {
                j->err = "class index: out of memory";
                return count;
            }
            *entries = grown;
        }
        entry *e = &(*entries)[count];
        e->wnid = e->label = NULL;
        skip_ws(j);
        size_t key_at = j->pos;
        char *key = parse_string(j);
        if (!key) return count;
        int ok = parse_key(key, &e->key);
        if (!ok) j->err = dl_errorf("class index: key \"%.40s\" at byte %zu is not a class number", key, key_at);
        free(key);
        if (!ok) return count;
        count++; // from here on e owns what it holds
        if (!expect(j, ':', "':'") || !expect(j, '[', "'[' (a [wnid, label] pair)")) return count;
        if (!(e->wnid = parse_string(j))) return count;
        if (!expect(j, ',', "',' between wnid and label")) return count;
        if (!(e->label = parse_string(j))) return count;
        if (!expect(j, ']', "']' after the label (a [wnid, label] pair)")) return count;
        skip_ws(j);
        if (j->pos < j->n && j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (!expect(j, '}', "',' or '}'")) return count;
        skip_ws(j);
        if (j->pos < j->n) j->err = dl_errorf("class index: unexpected data after the JSON object at byte %zu", j->pos);
        return count;
    }
}

const char *dl_class_index_parse(const char *text, size_t n, dl_class_index **out) {
    if (!out) return "class index: no output";
    *out = NULL;
    if (!text || n == 0) return "class index: empty input";
    json j = {(const unsigned char *)text, n, 0, NULL};
    entry *entries;
    size_t count = parse_entries(&j, &entries);

    dl_class_index *ci = NULL;
    if (!j.err) {
        ci = calloc(1, sizeof *ci);
        if (ci) {
            ci->wnid = calloc(count, sizeof *ci->wnid);
            ci->label = calloc(count, sizeof *ci->label);
        }
        if (!ci || !ci->wnid || !ci->label) j.err = "class index: out of memory";
    }
    // Keys must be exactly 0..count-1: with no duplicates and none out of
    // range, every slot gets filled.
    size_t outside = SIZE_MAX;
    for (size_t i = 0; i < count && !j.err; i++) {
        size_t k = entries[i].key;
        if (k >= count) {
            if (outside == SIZE_MAX) outside = k;
        } else if (ci->wnid[k]) {
            j.err = dl_errorf("class index: duplicate key \"%zu\"", k);
        } else {
            ci->wnid[k] = entries[i].wnid;
            ci->label[k] = entries[i].label;
            entries[i].wnid = entries[i].label = NULL;
        }
    }
    if (!j.err && outside != SIZE_MAX) {
        size_t missing = 0;
        while (ci->wnid[missing]) missing++;
        j.err = dl_errorf("class index: key \"%zu\" is missing (keys must be 0..%zu for %zu entries, found \"%zu\")",
                     missing, count - 1, count, outside);
    }
    for (size_t i = 0; i < count; i++) {
        free(entries[i].wnid);
        free(entries[i].label);
    }
    free(entries);
    if (j.err) {
        if (ci) {
            if (ci->wnid && ci->label) ci->count = count; // frees what was moved in
            dl_class_index_free(ci);
        }
        return j.err;
    }
    ci->count = count;
    *out = ci;
    return NULL;
}

size_t dl_class_index_count(const dl_class_index *ci) { return ci ? ci->count : 0; }

const char *dl_class_index_wnid(const dl_class_index *ci, size_t i) {
    return ci && i < ci->count ? ci->wnid[i] : NULL;
}

const char *dl_class_index_label(const dl_class_index *ci, size_t i) {
    return ci && i < ci->count ? ci->label[i] : NULL;
}

// ---------------------------------------------------------------------------
// Top-k by insertion into the sorted prefix: k and n are small (1000).

static int ranks_before(dl_prediction a, dl_prediction b) {
    int an = isnan(a.prob), bn = isnan(b.prob);
    if (an != bn) return bn;
    if (!an && a.prob != b.prob) return a.prob > b.prob;
    return a.index < b.index;
}

size_t dl_top_k(const float *probs, size_t n, size_t k, dl_prediction *out) {
    if (k > n) k = n;
    if (!probs || !out || k == 0) return 0;
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        dl_prediction p = {(int)i, probs[i]};
        if (have == k && !ranks_before(p, out[k - 1])) continue;
        size_t at = have < k ? have++ : k - 1;
        while (at > 0 && ranks_before(p, out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = p;
    }
    return k;
}

// ---------------------------------------------------------------------------
// Output into a caller buffer, snprintf style.

typedef struct {
    char *buf;
    size_t cap, len;
} sink;

static void put_bytes(sink *s, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++, s->len++)
        if (s->len + 1 < s->cap) s->buf[s->len] = p[i];
    if (s->cap) s->buf[s->len < s->cap ? s->len : s->cap - 1] = 0;
}

static void put(sink *s, const char *p) { put_bytes(s, p, strlen(p)); }

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

size_t dl_format_float32(float v, char *buf, size_t cap) {
    sink s = {buf, cap, 0};
    if (cap) buf[0] = 0;
    if (isnan(v)) {
        put(&s, "nan");
        return s.len;
    }
    if (signbit(v)) put(&s, "-");
    if (isinf(v)) {
        put(&s, "inf");
        return s.len;
    }
    float a = fabsf(v);
    if (a == 0) {
        put(&s, "0.0");
        return s.len;
    }
    char d[16];
    int point, n = shortest_digits(a, d, &point);
    char tmp[64];
    // numpy compares the float32 against the double constants 1e-4 and 1e16.
    if ((double)a >= 1e-4 && (double)a < 1e16) {
        if (point <= 0) {
            put(&s, "0.");
            for (int i = 0; i < -point; i++) put(&s, "0");
            put(&s, d);
        } else {
            for (int i = 0; i < point; i++) put_bytes(&s, i < n ? d + i : "0", 1);
            put(&s, ".");
            put(&s, point < n ? d + point : "0");
        }
    } else {
        put_bytes(&s, d, 1);
        if (n > 1) {
            put(&s, ".");
            put(&s, d + 1);
        }
        int e = point - 1;
        snprintf(tmp, sizeof tmp, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        put(&s, tmp);
    }
    return s.len;
}

static void put_float(sink *s, float v) {
    char tmp[48];
    dl_format_float32(v, tmp, sizeof tmp);
    put(s, tmp);
}

// Python's str repr: single quotes unless the text has a ' and no ".
// Non-printable ASCII, C1 controls, U+00A0 and U+00AD are \x-escaped as
// Python does; other non-ASCII is printed as is (Python would also escape
// other non-printable code points, which labels do not contain).
static void put_python_str(sink *s, const char *str) {
    char q = strchr(str, '\'') && !strchr(str, '"') ? '"' : '\'';
    char tmp[16];
    put_bytes(s, &q, 1);
    const unsigned char *p = (const unsigned char *)str;
    size_t left = strlen(str);
    while (left) {
        uint32_t cp;
        size_t k = utf8_decode(p, left, &cp);
        if (k == 0) { // not UTF-8 (cannot come from the parser): show the byte
            snprintf(tmp, sizeof tmp, "\\x%02x", *p++);
            put(s, tmp);
            left--;
            continue;
        }
        if (cp == '\\' || cp == (uint32_t)q) {
            put_bytes(s, "\\", 1);
            put_bytes(s, (const char *)p, 1);
        } else if (cp == '\n') put(s, "\\n");
        else if (cp == '\r') put(s, "\\r");
        else if (cp == '\t') put(s, "\\t");
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) {
            snprintf(tmp, sizeof tmp, "\\x%02x", (unsigned)cp);
            put(s, tmp);
        } else {
            put_bytes(s, (const char *)p, k);
        }
        p += k;
        left -= k;
    }
    put_bytes(s, &q, 1);
}

static void put_json_str(sink *s, const char *str) {
    char tmp[8];
    put(s, "\"");
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        }
        if (!esc && *p < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
            esc = tmp;
        }
        if (esc) put(s, esc);
        else put_bytes(s, (const char *)p, 1);
    }
    put(s, "\"");
}

static const char *or_empty(const char *s) { return s ? s : ""; }

size_t dl_format_predictions_python(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                    char *buf, size_t cap) {
    sink s = {buf, cap, 0};
    if (cap) buf[0] = 0;
    put(&s, "[");
    for (size_t i = 0; i < k; i++) {
        if (i) put(&s, ", ");
        put(&s, "(");
        put_python_str(&s, or_empty(dl_class_index_wnid(ci, (size_t)preds[i].index)));
        put(&s, ", ");
        put_python_str(&s, or_empty(dl_class_index_label(ci, (size_t)preds[i].index)));
        put(&s, ", ");
        put_float(&s, preds[i].prob);
        put(&s, ")");
    }
    put(&s, "]");
    return s.len;
}

size_t dl_format_predictions_json(const dl_class_index *ci, const dl_prediction *preds, size_t k,
                                  char *buf, size_t cap) {
    sink s = {buf, cap, 0};
    char tmp[32];
    if (cap) buf[0] = 0;
    put(&s, "[");
    for (size_t i = 0; i < k; i++) {
        if (i) put(&s, ", ");
        snprintf(tmp, sizeof tmp, "{\"index\": %d, \"wnid\": ", preds[i].index);
        put(&s, tmp);
        put_json_str(&s, or_empty(dl_class_index_wnid(ci, (size_t)preds[i].index)));
        put(&s, ", \"label\": ");
        put_json_str(&s, or_empty(dl_class_index_label(ci, (size_t)preds[i].index)));
        put(&s, ", \"prob\": ");
        if (isfinite(preds[i].prob)) put_float(&s, preds[i].prob);
        else put(&s, "null");
        put(&s, "}");
    }
    put(&s, "]");
    return s.len;
}
