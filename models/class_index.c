// The class index parser: the JSON subset Keras writes for it, one object of
// string keys whose values are arrays of two strings. No recursion, so no
// nesting depth to exhaust.
#include "models/class_index.h"
#include "common/checked.h"
#include "common/reason.h"
#include "common/text.h"
#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dl_class_index {
    size_t count;
    char **wnid, **label; // count each, owned
};

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

// The escape at j->pos (after the backslash at byte esc) as a code point,
// or 0 with j->err set.
static uint32_t parse_escape(json *j, size_t esc) {
    if (j->pos >= j->n) {
        j->err = dl_errorf("class index: truncated JSON: escape at byte %zu never ends", esc);
        return 0;
    }
    unsigned char c = j->s[j->pos++];
    const char *simple = strchr("\"\\/bfnrt", c);
    if (c && simple) return (uint32_t)(unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
    if (c != 'u') {
        j->err = dl_errorf("class index: invalid escape '\\%c' at byte %zu", c >= 0x20 && c < 0x7F ? c : '?', esc);
        return 0;
    }
    uint32_t cp, lo;
    if (j->n - j->pos < 4 || !hex4(j->s + j->pos, &cp)) {
        j->err = dl_errorf("class index: invalid \\u escape at byte %zu (needs 4 hex digits)", esc);
        return 0;
    }
    j->pos += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        j->err = dl_errorf("class index: lone low surrogate \\u%04X at byte %zu", (unsigned)cp, esc);
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        // A high surrogate must be followed by \uDC00..\uDFFF.
        if (j->n - j->pos < 6 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u' || !hex4(j->s + j->pos + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF) {
            j->err = dl_errorf("class index: unpaired surrogate \\u%04X at byte %zu", (unsigned)cp, esc);
            return 0;
        }
        j->pos += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0) j->err = dl_errorf("class index: \\u0000 in a string at byte %zu", esc);
    return cp;
}

// Returns a malloc'd NUL-terminated UTF-8 string of exactly its size, or
// NULL with j->err set.
static char *parse_string(json *j) {
    if (!expect(j, '"', "a string")) return NULL;
    size_t start = j->pos;
    dl_text t = {0};
    dl_text_put(&t, "", 0); // an empty string is a string too
    while (!j->err) {
        if (j->pos >= j->n) {
            j->err = dl_errorf("class index: truncated JSON: string starting at byte %zu never ends", start - 1);
            break;
        }
        unsigned char c = j->s[j->pos];
        if (c == '"') {
            j->pos++;
            if (t.failed) break;
            char *exact = realloc(t.buf, t.len + 1); // t grew by doubling
            return exact ? exact : t.buf;
        }
        if (c < 0x20) {
            j->err = dl_errorf("class index: control character 0x%02x in a string at byte %zu", c, j->pos);
            break;
        }
        uint32_t cp;
        if (c != '\\') {
            size_t k = dl_utf8_decode(j->s + j->pos, j->n - j->pos, &cp);
            if (k == 0) {
                j->err = dl_errorf("class index: invalid UTF-8 at byte %zu", j->pos);
                break;
            }
            dl_text_put(&t, (const char *)j->s + j->pos, k);
            j->pos += k;
            continue;
        }
        size_t esc = j->pos++;
        if (!(cp = parse_escape(j, esc))) break;
        char utf8[4];
        dl_text_put(&t, utf8, dl_utf8_encode(cp, utf8));
    }
    if (!j->err) j->err = "class index: out of memory";
    dl_text_free(&t);
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

// Room for one more entry.
static int grow_entries(json *j, entry **entries, size_t count, size_t *cap) {
    if (count < *cap) return 1;
    size_t more = *cap ? *cap * 2 : 1024, bytes;
    entry *grown = dl_mul(more, sizeof **entries, &bytes) ? realloc(*entries, bytes) : NULL;
    if (!grown) {
        j->err = "class index: out of memory";
        return 0;
    }
    *entries = grown;
    *cap = more;
    return 1;
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
        if (!grow_entries(j, entries, count, &cap)) return count;
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
