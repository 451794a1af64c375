// Top-k by insertion into the sorted prefix: k and n are small (1000).
#include "models/topk.h"
#include "common/checked.h"
#include "common/reason.h"

#include <math.h>
#include <string.h>

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

// The reasons read as the CLIs' option messages once prefixed with "--".
const char *dl_top_k_parse(const char *text, size_t classes, size_t *k) {
    if (!text || !k) return "top: no value";
    const char *more = strlen(text) > 40 ? "..." : ""; // quote at most 40 bytes
    size_t v = 0;
    int too_large = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return dl_errorf("top must be an integer, got '%.40s%s'", text, more);
        too_large |= !dl_mul(v, 10, &v) || !dl_add(v, (size_t)(*c - '0'), &v);
    }
    if (!*text) return "top must be an integer, got ''";
    if (!too_large && v == 0) return dl_errorf("top must be at least 1, got %.40s%s", text, more);
    if (classes && (too_large || v > classes))
        return dl_errorf("top must be at most the number of classes (%zu), got %.40s%s", classes, text, more);
    if (too_large) return dl_errorf("top is too large: %.40s%s", text, more);
    *k = v;
    return NULL;
}
