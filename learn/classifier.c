/* classifier.c — the kind-independent part of a classifier: allocation,
 * prediction (standardise, score, argmax) and the DLCLASS1 container. */
#include "learn/classifier.h"
#include "common/checked.h"
#include "common/crc32.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLF_MAGIC "DLCLASS1"
#define CLF_VERSION 1u
#define CLF_HEADER 40u
#define CLF_MAX_FEATURES (1u << 24)
#define CLF_MAX_CLASSES 256u

dl_classifier *dl_classifier_new(const dl_classifier_kind *kind, int k, int d, int standardised) {
    if (!kind || k < 2 || d < 1) return NULL;
    dl_classifier *c = dl_learn_alloc(1, sizeof *c);
    if (!c) return NULL;
    c->kind = kind; c->num_classes = k; c->num_features = d;
    if (standardised) {
        c->mean = dl_learn_alloc((size_t)d, sizeof(float));
        c->std = dl_learn_alloc((size_t)d, sizeof(float));
        if (!c->mean || !c->std) { dl_classifier_free(c); return NULL; }
    }
    return c;
}

void dl_classifier_free(dl_classifier *c) {
    if (!c) return;
    if (c->model) c->kind->free_model(c->model);
    free(c->mean); free(c->std);
    free(c);
}

void dl_train_report_free(dl_train_report *r) {
    if (!r) return;
    free(r->iterations); free(r->objective); free(r->primal); free(r->nsv); free(r->nbsv);
    free(r->loss); free(r->train_acc); free(r->val_acc);
    memset(r, 0, sizeof *r);
}

void dl_param_defaults(const dl_param_spec *spec, int n, double *v) {
    for (int i = 0; i < n; i++) v[i] = spec[i].def;
}

/* ---- prediction --------------------------------------------------------- */

const char *dl_classifier_predict(const dl_classifier *c, const float *x, int n, int *labels, float *scores) {
    dl_rows rows = dl_rows_f32(x, n, c ? c->num_features : 0);
    return dl_classifier_predict_rows(c, &rows, labels, scores);
}

const char *dl_classifier_predict_rows(const dl_classifier *c, const dl_rows *x, int *labels, float *scores) {
    if (!c || !c->model) return "predict: no classifier";
    int n = x->n;
    if (n < 0) return "predict: negative row count";
    if (n == 0) return NULL;
    if (x->d != c->num_features) return dl_errorf("predict: rows of %d features, the classifier takes %d", x->d, c->num_features);
    const char *err = dl_learn_check_rows(x, NULL, NULL);
    if (err) return err;
    enum { CHUNK = 64 };
    int d = c->num_features, k = c->num_classes;
    float *xs = dl_learn_alloc((size_t)CHUNK * d, sizeof(float));
    float *sc = dl_learn_alloc((size_t)CHUNK * k, sizeof(float));
    if (!xs || !sc) { free(xs); free(sc); return "out of memory"; }
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        int m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int i = 0; i < m; i++) {
            float *row = xs + (size_t)i * d;   /* float16: converted here, then standardised in place */
            dl_standardize_row(dl_rows_row(x, i0 + i, row), c->mean, c->std, d, row);
        }
        if ((err = c->kind->scores(c, xs, m, sc))) break;
        for (int i = 0; labels && i < m; i++) {
            const float *s = sc + (size_t)i * k;
            int best = 0;   /* first maximum wins, as LIBLINEAR and LIBSVM */
            for (int j = 1; j < k; j++) if (s[j] > s[best]) best = j;
            labels[i0 + i] = best;
        }
        if (scores) memcpy(scores + (size_t)i0 * k, sc, sizeof(float) * (size_t)m * k);
    }
    free(xs); free(sc);
    return err;
}

/* ---- payload bytes ------------------------------------------------------ */

void dl_clf_put_u32(dl_clf_bytes *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b->p[b->pos++] = (uint8_t)(v >> 8 * i);
}
static void put_u64(dl_clf_bytes *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b->p[b->pos++] = (uint8_t)(v >> 8 * i);
}
void dl_clf_put_f32s(dl_clf_bytes *b, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint32_t u; memcpy(&u, v + i, 4); dl_clf_put_u32(b, u); }
}
void dl_clf_put_f64s(dl_clf_bytes *b, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) { uint64_t u; memcpy(&u, v + i, 8); put_u64(b, u); }
}
static uint64_t get_le(dl_clf_bytes *b, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)b->p[b->pos++] << 8 * i;
    return v;
}
uint32_t dl_clf_get_u32(dl_clf_bytes *b) { return (uint32_t)get_le(b, 4); }

/* n little-endian IEEE values of 4 or 8 bytes into floats or doubles; 0 if any is not finite. */
static int get_reals(dl_clf_bytes *b, float *f, double *d, size_t n) {
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = get_le(b, f ? 4 : 8);
        uint32_t u32 = (uint32_t)u;
        if (f) { memcpy(f + i, &u32, 4); finite &= isfinite(f[i]) != 0; }
        else { memcpy(d + i, &u, 8); finite &= isfinite(d[i]) != 0; }
    }
    return finite;
}
int dl_clf_get_f32s(dl_clf_bytes *b, float *v, size_t n) { return get_reals(b, v, NULL, n); }
int dl_clf_get_f64s(dl_clf_bytes *b, double *v, size_t n) { return get_reals(b, NULL, v, n); }

/* Payload bytes of a header: standardisation, then the kind's part. */
static const char *payload_size(const dl_classifier_kind *kind, size_t k, size_t d, int standardised,
                                uint32_t param, size_t *bytes) {
    size_t own = 0, stats = 0;
    const char *err = kind->payload_size(k, d, param, &own);
    if (err) return err;
    if ((standardised && !dl_mul(d, 2 * sizeof(float), &stats)) || !dl_add(stats, own, bytes))
        return dl_errorf("%s: too large for this platform", kind->name);
    return NULL;
}

/* ---- the container ------------------------------------------------------ */

/* "classifier file: " + reason (copied first: it may live in dl_errorf's buffer). */
static const char *file_reason(const char *why) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", why);
    return dl_errorf("classifier file: %s", copy);
}

const char *dl_classifier_save(const dl_classifier *c, uint8_t **out, size_t *out_size) {
    if (!c || !c->model || !out || !out_size) return "save: NULL argument";
    int k = c->num_classes, d = c->num_features;
    uint32_t param = c->kind->file_param(c);
    size_t pay = 0, total;
    const char *err = payload_size(c->kind, (size_t)k, (size_t)d, c->mean != NULL, param, &pay);
    if (err) return err;
    if (!dl_add(pay, CLF_HEADER + 4, &total)) return "save: classifier too large";
    dl_clf_bytes b = {malloc(total), 0, total};
    if (!b.p) return "out of memory";
    memcpy(b.p, CLF_MAGIC, 8); b.pos = 8;
    dl_clf_put_u32(&b, CLF_VERSION); dl_clf_put_u32(&b, c->kind->id);
    dl_clf_put_u32(&b, (uint32_t)k); dl_clf_put_u32(&b, (uint32_t)d);
    dl_clf_put_u32(&b, c->mean ? 1u : 0u); dl_clf_put_u32(&b, param);
    put_u64(&b, pay);
    if (c->mean) { dl_clf_put_f32s(&b, c->mean, (size_t)d); dl_clf_put_f32s(&b, c->std, (size_t)d); }
    c->kind->write(c, &b);
    dl_clf_put_u32(&b, dl_crc32(b.p, b.pos));
    *out = b.p; *out_size = b.pos;
    return NULL;
}

const char *dl_classifier_decode(const uint8_t *buf, size_t size,
                                 const dl_classifier_kind *(*kind_by_id)(uint32_t id), dl_classifier **out) {
    if (!buf || !out) return "load: NULL argument";
    *out = NULL;
    if (size < 8 || memcmp(buf, CLF_MAGIC, 8) != 0) return "classifier file: bad magic (expected \"DLCLASS1\")";
    if (size < CLF_HEADER + 4)
        return dl_errorf("classifier file: truncated (%zu bytes, header needs %u)", size, CLF_HEADER + 4);
    dl_clf_bytes b = {(uint8_t *)buf, 8, size};
    uint32_t version = dl_clf_get_u32(&b), id = dl_clf_get_u32(&b), k = dl_clf_get_u32(&b), d = dl_clf_get_u32(&b);
    uint32_t flags = dl_clf_get_u32(&b), param = dl_clf_get_u32(&b);
    uint64_t pay = get_le(&b, 8);
    if (version != CLF_VERSION) return dl_errorf("classifier file: unsupported version %u (expected %u)", version, CLF_VERSION);
    const dl_classifier_kind *kind = kind_by_id(id);
    if (!kind) return dl_errorf("classifier file: unknown kind %u", id);
    if (k < 2 || k > CLF_MAX_CLASSES) return dl_errorf("classifier file: bad number of classes %u", k);
    if (d < 1 || d > CLF_MAX_FEATURES) return dl_errorf("classifier file: bad number of features %u", d);
    if (flags > 1) return dl_errorf("classifier file: unknown flags 0x%X", flags);
    size_t want = 0, total;
    const char *err = payload_size(kind, k, d, flags & 1, param, &want);
    if (err) return file_reason(err);
    if (pay != (uint64_t)want)
        return dl_errorf("classifier file: payload size %llu does not match the header (%zu expected)",
                         (unsigned long long)pay, want);
    if (!dl_add(want, CLF_HEADER + 4, &total) || size < total)
        return dl_errorf("classifier file: truncated (%zu bytes, expected %zu + %u)", size, want, CLF_HEADER + 4);
    if (size > total) return dl_errorf("classifier file: %zu trailing bytes", size - total);
    uint32_t crc = dl_crc32(buf, total - 4);
    b.pos = total - 4;
    if (dl_clf_get_u32(&b) != crc) return "classifier file: checksum mismatch (corrupted)";
    b.pos = CLF_HEADER;

    dl_classifier *c = dl_classifier_new(kind, (int)k, (int)d, flags & 1);
    if (!c) return "out of memory";
    if (c->mean) {
        dl_clf_get_f32s(&b, c->mean, d);
        dl_clf_get_f32s(&b, c->std, d);
        for (uint32_t j = 0; j < d && !err; j++)
            if (!isfinite(c->mean[j]) || !isfinite(c->std[j]) || !(c->std[j] > 0))
                err = dl_errorf("classifier file: bad standardisation for feature %u", j);
    }
    if (!err && (err = kind->read(c, param, &b))) err = file_reason(err);
    if (err) { dl_classifier_free(c); return err; }
    *out = c;
    return NULL;
}

const char *dl_fit_finish(const char *err, dl_classifier *c, dl_classifier **out, dl_train_report *report) {
    if (err) {
        dl_classifier_free(c);
        dl_train_report_free(report);
        return err;
    }
    *out = c;
    return NULL;
}
