/* classifier.c — allocation, prediction dispatch and the DLCLASS1 format. */
#include "learn/classifier.h"
#include "common/crc32.h"
#include "learn/kernel_svm.h"
#include "learn/softmax_head.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLF_MAGIC "DLCLASS1"
#define CLF_VERSION 1u
#define CLF_HEADER 40u
#define CLF_MAX_FEATURES (1 << 24)
#define CLF_MAX_CLASSES 256
#define CLF_MAX_HIDDEN (1 << 16)

const char *dl_classifier_kind_name(dl_classifier_kind kind) {
    switch (kind) {
    case DL_CLF_LINEAR_SVM: return "linear-svm";
    case DL_CLF_RBF_SVM: return "rbf-svm";
    case DL_CLF_SOFTMAX: return "softmax";
    }
    return "unknown";
}

void dl_classifier_free(dl_classifier *c) {
    if (!c) return;
    free(c->mean); free(c->std); free(c->w);
    free(c->sv_count); free(c->sv); free(c->sv_coef); free(c->rho);
    free(c->w1); free(c->b1); free(c->w2); free(c->b2);
    free(c);
}

void dl_train_report_free(dl_train_report *r) {
    if (!r) return;
    free(r->iterations); free(r->objective); free(r->primal); free(r->nsv); free(r->nbsv);
    free(r->loss); free(r->train_acc); free(r->val_acc);
    memset(r, 0, sizeof *r);
}

dl_classifier *dl_classifier_alloc(dl_classifier_kind kind, int k, int d, int standardised, int kind_param) {
    dl_classifier *c = dl_learn_alloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = kind; c->num_classes = k; c->num_features = d;
    int ok = 1;
    if (standardised) {
        c->mean = dl_learn_alloc((size_t)d, sizeof(float));
        c->std = dl_learn_alloc((size_t)d, sizeof(float));
        ok = c->mean && c->std;
    }
    size_t pairs = (size_t)k * (k - 1) / 2;
    switch (kind) {
    case DL_CLF_LINEAR_SVM:
        ok = ok && (c->w = dl_learn_alloc((size_t)k * (d + 1), sizeof(float)));
        break;
    case DL_CLF_RBF_SVM:
        c->total_sv = kind_param;
        ok = ok && (c->sv_count = dl_learn_alloc((size_t)k, sizeof(int)))
                && (c->rho = dl_learn_alloc(pairs, sizeof(double)))
                && (c->sv_coef = dl_learn_alloc((size_t)(k - 1) * kind_param, sizeof(double)))
                && (c->sv = dl_learn_alloc((size_t)kind_param * d, sizeof(float)));
        break;
    case DL_CLF_SOFTMAX: {
        int h = kind_param;
        c->hidden = h;
        if (h > 0)
            ok = ok && (c->w1 = dl_learn_alloc((size_t)d * h, sizeof(float)))
                    && (c->b1 = dl_learn_alloc((size_t)h, sizeof(float)));
        ok = ok && (c->w2 = dl_learn_alloc((size_t)(h > 0 ? h : d) * k, sizeof(float)))
                && (c->b2 = dl_learn_alloc((size_t)k, sizeof(float)));
        break;
    }
    default: ok = 0;
    }
    if (!ok) { dl_classifier_free(c); return NULL; }
    return c;
}

/* ---- prediction --------------------------------------------------------- */

static void linear_scores(const dl_classifier *c, const float *x, int n, float *scores) {
    int d = c->num_features, k = c->num_classes;
    for (int i = 0; i < n; i++)
        for (int m = 0; m < k; m++) {
            const float *w = c->w + (size_t)m * (d + 1);
            scores[(size_t)i * k + m] = dl_dot_f32(w, x + (size_t)i * d, (size_t)d) + w[d];
        }
}

const char *dl_classifier_predict(const dl_classifier *c, const float *x, int n, int *labels, float *scores) {
    if (!c) return "predict: no classifier";
    if (n < 0) return "predict: negative row count";
    if (n == 0) return NULL;
    const char *err = dl_learn_check_xy(x, NULL, n, c->num_features, NULL);
    if (err) return err;
    enum { CHUNK = 64 };
    int d = c->num_features, k = c->num_classes;
    float *xs = dl_learn_alloc((size_t)CHUNK * d, sizeof(float));
    float *sc = dl_learn_alloc((size_t)CHUNK * k, sizeof(float));
    if (!xs || !sc) { free(xs); free(sc); return "out of memory"; }
    for (int i0 = 0; i0 < n && !err; i0 += CHUNK) {
        int m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int i = 0; i < m; i++)
            dl_standardize_row(x + (size_t)(i0 + i) * d, c->mean, c->std, d, xs + (size_t)i * d);
        switch (c->kind) {
        case DL_CLF_LINEAR_SVM: linear_scores(c, xs, m, sc); break;
        case DL_CLF_RBF_SVM: err = dl_rbf_svm_votes(c, xs, m, sc); break;
        case DL_CLF_SOFTMAX: err = dl_softmax_head_forward(c, xs, m, sc); break;
        default: err = "predict: unknown classifier kind";
        }
        if (err) break;
        for (int i = 0; i < m; i++) {
            const float *s = sc + (size_t)i * k;
            int best = 0;   /* first maximum wins, as LIBLINEAR and LIBSVM */
            for (int j = 1; j < k; j++) if (s[j] > s[best]) best = j;
            if (labels) labels[i0 + i] = best;
        }
        if (scores) memcpy(scores + (size_t)i0 * k, sc, sizeof(float) * (size_t)m * k);
    }
    free(xs); free(sc);
    return err;
}

/* ---- serialisation ------------------------------------------------------ */

typedef struct { uint8_t *p; size_t pos, size; } wbuf;   /* or reader */

static void put_u32(wbuf *b, uint32_t v) { for (int i = 0; i < 4; i++) b->p[b->pos++] = (uint8_t)(v >> 8 * i); }
static void put_u64(wbuf *b, uint64_t v) { for (int i = 0; i < 8; i++) b->p[b->pos++] = (uint8_t)(v >> 8 * i); }
static void put_f32s(wbuf *b, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint32_t u; memcpy(&u, v + i, 4); put_u32(b, u); }
}
static void put_f64s(wbuf *b, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint64_t u; memcpy(&u, v + i, 8); put_u64(b, u); }
}
static uint32_t get_u32(wbuf *b) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b->p[b->pos++] << 8 * i;
    return v;
}
static uint64_t get_u64(wbuf *b) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b->p[b->pos++] << 8 * i;
    return v;
}
static void get_f32s(wbuf *b, float *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint32_t u = get_u32(b); memcpy(v + i, &u, 4); }
}
static void get_f64s(wbuf *b, double *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint64_t u = get_u64(b); memcpy(v + i, &u, 8); }
}

/* Payload size implied by the header; 0 on an impossible header. */
static uint64_t payload_bytes(dl_classifier_kind kind, uint64_t k, uint64_t d, int standardised, uint64_t param) {
    uint64_t s = standardised ? 8 * d : 0;
    switch (kind) {
    case DL_CLF_LINEAR_SVM: return s + 4 * k * (d + 1);
    case DL_CLF_RBF_SVM: return s + 8 + 4 * k + 8 * (k * (k - 1) / 2) + 8 * (k - 1) * param + 4 * param * d;
    case DL_CLF_SOFTMAX:
        return s + (param ? 4 * (d * param + param + param * k) : 4 * d * k) + 4 * k;
    }
    return 0;
}

static uint32_t kind_param(const dl_classifier *c) {
    return c->kind == DL_CLF_RBF_SVM ? (uint32_t)c->total_sv : c->kind == DL_CLF_SOFTMAX ? (uint32_t)c->hidden : 0;
}

const char *dl_classifier_save(const dl_classifier *c, uint8_t **out, size_t *out_size) {
    if (!c || !out || !out_size) return "save: NULL argument";
    int k = c->num_classes, d = c->num_features;
    uint64_t pay = payload_bytes(c->kind, (uint64_t)k, (uint64_t)d, c->mean != NULL, kind_param(c));
    if (!pay) return "save: unknown classifier kind";
    uint64_t total = CLF_HEADER + pay + 4;
    if (total > SIZE_MAX) return "save: classifier too large";
    wbuf b = {malloc((size_t)total), 0, (size_t)total};
    if (!b.p) return "out of memory";
    memcpy(b.p, CLF_MAGIC, 8); b.pos = 8;
    put_u32(&b, CLF_VERSION); put_u32(&b, (uint32_t)c->kind);
    put_u32(&b, (uint32_t)k); put_u32(&b, (uint32_t)d);
    put_u32(&b, c->mean ? 1u : 0u); put_u32(&b, kind_param(c));
    put_u64(&b, pay);
    if (c->mean) { put_f32s(&b, c->mean, (size_t)d); put_f32s(&b, c->std, (size_t)d); }
    size_t pairs = (size_t)k * (k - 1) / 2;
    switch (c->kind) {
    case DL_CLF_LINEAR_SVM: put_f32s(&b, c->w, (size_t)k * (d + 1)); break;
    case DL_CLF_RBF_SVM:
        put_f64s(&b, &c->gamma, 1);
        for (int i = 0; i < k; i++) put_u32(&b, (uint32_t)c->sv_count[i]);
        put_f64s(&b, c->rho, pairs);
        put_f64s(&b, c->sv_coef, (size_t)(k - 1) * c->total_sv);
        put_f32s(&b, c->sv, (size_t)c->total_sv * d);
        break;
    case DL_CLF_SOFTMAX: {
        int h = c->hidden;
        if (h > 0) { put_f32s(&b, c->w1, (size_t)d * h); put_f32s(&b, c->b1, (size_t)h); }
        put_f32s(&b, c->w2, (size_t)(h > 0 ? h : d) * k); put_f32s(&b, c->b2, (size_t)k);
        break;
    }
    }
    put_u32(&b, dl_crc32(b.p, b.pos));
    *out = b.p; *out_size = b.pos;
    return NULL;
}

static int all_finite_f32(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(v[i])) return 0;
    return 1;
}
static int all_finite_f64(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) if (!isfinite(v[i])) return 0;
    return 1;
}

const char *dl_classifier_load(const uint8_t *buf, size_t size, dl_classifier **out) {
    if (!buf || !out) return "load: NULL argument";
    *out = NULL;
    if (size < 8 || memcmp(buf, CLF_MAGIC, 8) != 0) return "classifier file: bad magic (expected \"DLCLASS1\")";
    if (size < CLF_HEADER + 4)
        return dl_errorf("classifier file: truncated (%zu bytes, header needs %u)", size, CLF_HEADER + 4);
    wbuf b = {(uint8_t *)buf, 8, size};
    uint32_t version = get_u32(&b), kind = get_u32(&b), k = get_u32(&b), d = get_u32(&b);
    uint32_t flags = get_u32(&b), param = get_u32(&b);
    uint64_t pay = get_u64(&b);
    if (version != CLF_VERSION) return dl_errorf("classifier file: unsupported version %u (expected %u)", version, CLF_VERSION);
    if (kind < DL_CLF_LINEAR_SVM || kind > DL_CLF_SOFTMAX) return dl_errorf("classifier file: unknown kind %u", kind);
    if (k < 2 || k > CLF_MAX_CLASSES) return dl_errorf("classifier file: bad number of classes %u", k);
    if (d < 1 || d > CLF_MAX_FEATURES) return dl_errorf("classifier file: bad number of features %u", d);
    if (flags > 1) return dl_errorf("classifier file: unknown flags 0x%X", flags);
    if ((kind == DL_CLF_LINEAR_SVM && param != 0) || (kind == DL_CLF_SOFTMAX && param > CLF_MAX_HIDDEN) ||
        (kind == DL_CLF_RBF_SVM && (param < 1 || param > (1u << 24))))
        return dl_errorf("classifier file: bad %s parameter %u", dl_classifier_kind_name(kind), param);
    uint64_t want = payload_bytes(kind, k, d, flags & 1, param);
    if (pay != want)
        return dl_errorf("classifier file: payload size %llu does not match the header (%llu expected)",
                               (unsigned long long)pay, (unsigned long long)want);
    uint64_t total = CLF_HEADER + want + 4;
    if (size < total)
        return dl_errorf("classifier file: truncated (%zu bytes, expected %llu)", size, (unsigned long long)total);
    if (size > total)
        return dl_errorf("classifier file: %llu trailing bytes", (unsigned long long)(size - total));
    uint32_t crc = dl_crc32(buf, (size_t)total - 4);
    b.pos = (size_t)total - 4;
    if (get_u32(&b) != crc) return "classifier file: checksum mismatch (corrupted)";
    b.pos = CLF_HEADER;

    dl_classifier *c = dl_classifier_alloc((dl_classifier_kind)kind, (int)k, (int)d, flags & 1, (int)param);
    if (!c) return "out of memory";
    const char *err = NULL;
    size_t pairs = (size_t)k * (k - 1) / 2;
    if (c->mean) {
        get_f32s(&b, c->mean, d); get_f32s(&b, c->std, d);
        for (uint32_t j = 0; j < d && !err; j++)
            if (!isfinite(c->mean[j]) || !isfinite(c->std[j]) || !(c->std[j] > 0))
                err = dl_errorf("classifier file: bad standardisation for feature %u", j);
    }
    switch (kind) {
    case DL_CLF_LINEAR_SVM:
        get_f32s(&b, c->w, (size_t)k * (d + 1));
        if (!err && !all_finite_f32(c->w, (size_t)k * (d + 1))) err = "classifier file: non-finite weights";
        break;
    case DL_CLF_RBF_SVM: {
        get_f64s(&b, &c->gamma, 1);
        uint64_t sum = 0;
        for (uint32_t i = 0; i < k; i++) { c->sv_count[i] = (int)get_u32(&b); sum += (uint32_t)c->sv_count[i]; }
        get_f64s(&b, c->rho, pairs);
        get_f64s(&b, c->sv_coef, (size_t)(k - 1) * param);
        get_f32s(&b, c->sv, (size_t)param * d);
        if (err) break;
        if (!(c->gamma > 0) || !isfinite(c->gamma)) err = "classifier file: bad gamma";
        else if (sum != param) err = "classifier file: per-class support vector counts do not add up";
        else if (!all_finite_f64(c->rho, pairs) || !all_finite_f64(c->sv_coef, (size_t)(k - 1) * param) ||
                 !all_finite_f32(c->sv, (size_t)param * d))
            err = "classifier file: non-finite model values";
        break;
    }
    case DL_CLF_SOFTMAX: {
        size_t h = param, in = h ? h : d;
        if (h) { get_f32s(&b, c->w1, (size_t)d * h); get_f32s(&b, c->b1, h); }
        get_f32s(&b, c->w2, in * k); get_f32s(&b, c->b2, k);
        if (!err && ((h && (!all_finite_f32(c->w1, (size_t)d * h) || !all_finite_f32(c->b1, h))) ||
                     !all_finite_f32(c->w2, in * k) || !all_finite_f32(c->b2, k)))
            err = "classifier file: non-finite weights";
        break;
    }
    }
    if (err) { dl_classifier_free(c); return err; }
    *out = c;
    return NULL;
}
