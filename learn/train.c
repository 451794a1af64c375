/* train.c — see train.h. */
#include "learn/train.h"
#include "common/checked.h"
#include "common/crc32.h"
#include "common/reason.h"
#include "common/rng.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cross-validation ---------------------------------------------------- */

/* count[c] = images of class c; every label in 0..k-1 and every class with 2 or more. */
static const char *class_counts(const int *y, int n, int k, const char *why, int *count) {
    if (k < 2 || k > DL_PROJECT_MAX_CLASSES) return dl_errorf("need 2 to %d classes, got %d", DL_PROJECT_MAX_CLASSES, k);
    memset(count, 0, sizeof(int) * (size_t)k);
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= k) return dl_errorf("image %d: class %d is not in 0..%d", i, y[i], k - 1);
        count[y[i]]++;
    }
    for (int c = 0; c < k; c++)
        if (count[c] < 2) return dl_errorf("class %d has %d image%s: every class needs at least 2 for %s", c, count[c], count[c] == 1 ? "" : "s", why);
    return NULL;
}

const char *dl_cv_folds(const int *y, int n, int k, int cv, int *fold, int *folds) {
    if (cv < 0) return dl_errorf("cv must be 0 (auto), 1 (leave-one-out) or a number of folds, got %d", cv);
    int count[DL_PROJECT_MAX_CLASSES] = { 0 }, smallest = n;
    const char *err = class_counts(y, n, k, "cross-validation", count);
    if (err) return err;
    for (int c = 0; c < k; c++) if (count[c] < smallest) smallest = count[c];
    int f = cv == DL_CV_AUTO ? (smallest < DL_CV_DEFAULT_FOLDS ? n : DL_CV_DEFAULT_FOLDS) : cv == DL_CV_LEAVE_ONE_OUT ? n : cv;
    if (f > n) return dl_errorf("%d folds need at least %d images, got %d", f, f, n);
    if (f == n) {
        for (int i = 0; i < n; i++) fold[i] = i;
    } else {
        int next[DL_PROJECT_MAX_CLASSES], start = 0;
        for (int c = 0; c < k; c++) { next[c] = start; start = (start + count[c]) % f; }
        for (int i = 0; i < n; i++) { fold[i] = next[y[i]]; next[y[i]] = (next[y[i]] + 1) % f; }
    }
    *folds = f;
    return NULL;
}

const char *dl_holdout_folds(const int *y, int n, int k, double holdout, uint64_t seed, int *fold, int *folds) {
    if (!(holdout > 0 && holdout < 1)) return dl_errorf("the held-out fraction must be above 0 and below 1, got %g", holdout);
    int count[DL_PROJECT_MAX_CLASSES] = { 0 };
    const char *err = class_counts(y, n, k, "a held-out evaluation", count);
    if (err) return err;
    size_t bytes;
    int *rows = n > 0 && dl_mul((size_t)n, sizeof(int), &bytes) ? malloc(bytes) : NULL;
    if (!rows) return n > 0 ? "out of memory" : "no images";
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    for (int c = 0; c < k; c++) {
        int m = 0, out = (int)(holdout * count[c] + 0.5);
        for (int i = 0; i < n; i++) if (y[i] == c) rows[m++] = i;
        out = out < 1 ? 1 : out > m - 1 ? m - 1 : out;
        dl_rng_shuffle(&rng, rows, m);
        for (int j = 0; j < m; j++) fold[rows[j]] = j < out ? 0 : DL_FOLD_TRAIN_ONLY;
    }
    free(rows);
    *folds = 1;
    return NULL;
}

const char *dl_cross_validate(const char *kind, const float *x, const int *y, int n, int d,
                              const dl_fit_params *p, const int *fold, int folds,
                              dl_learn_progress_fn progress, void *user, int *pred) {
    size_t bytes;
    if (n < 2 || d < 1 || !dl_bytes((size_t)n, (size_t)d, sizeof(float), 0, &bytes)) return "cross-validation: bad sizes";
    for (int i = 0; i < n; i++) if (fold[i] < DL_FOLD_TRAIN_ONLY || fold[i] >= folds) return "cross-validation: a fold out of range";
    float *xtr = malloc(bytes), *xte = malloc(bytes);
    int *ytr = malloc(sizeof(int) * (size_t)n), *rows = malloc(sizeof(int) * (size_t)n);
    const char *err = xtr && xte && ytr && rows ? NULL : "out of memory";
    for (int f = 0; f < folds && !err; f++) {
        int ntr = 0, nte = 0;
        for (int i = 0; i < n; i++) {
            if (f == 0 && fold[i] == DL_FOLD_TRAIN_ONLY) pred[i] = -1;
            const float *row = x + (size_t)i * d;
            if (fold[i] == f) { memcpy(xte + (size_t)nte * d, row, sizeof(float) * d); rows[nte++] = i; }
            else { memcpy(xtr + (size_t)ntr * d, row, sizeof(float) * d); ytr[ntr++] = y[i]; }
        }
        if (!nte) continue;
        dl_classifier *c = NULL;
        err = dl_fit(kind, xtr, ytr, ntr, d, p, NULL, NULL, &c, NULL);
        int *labels = ytr;     /* the training labels are no longer needed */
        if (!err) err = dl_classifier_predict(c, xte, nte, labels, NULL);
        for (int j = 0; !err && j < nte; j++) pred[rows[j]] = labels[j];
        dl_classifier_free(c);
        dl_learn_progress pr = { "cross-validation", f + 1, folds, 0, 0, 0, -1, -1 };
        if (!err && progress && progress(user, &pr)) err = DL_CANCELLED;
    }
    free(xtr); free(xte); free(ytr); free(rows);
    return err;
}

/* ---- reports ------------------------------------------------------------- */

const char *dl_train_confusion(const int *y, const int *pred, int n, int k, int *confusion) {
    memset(confusion, 0, sizeof(int) * (size_t)k * k);
    for (int i = 0; i < n; i++) {
        if (pred[i] < 0) continue;
        if (y[i] < 0 || y[i] >= k || pred[i] >= k) return dl_errorf("image %d: class %d or prediction %d is not in 0..%d", i, y[i], pred[i], k - 1);
        confusion[y[i] * k + pred[i]]++;
    }
    return NULL;
}

void dl_train_report_format(dl_text *t, int json, int k, const char *const *class_names,
                            const int *confusion, int n, int folds, double holdout) {
    int correct = 0, evaluated = 0;
    for (int c = 0; c < k * k; c++) evaluated += confusion[c];
    for (int c = 0; c < k; c++) correct += confusion[c * k + c];
    double accuracy = evaluated ? (double)correct / evaluated : 0;
    if (json) {
        dl_text_printf(t, "{\"images\": %d, \"classes\": %d, \"folds\": %d, \"leave_one_out\": %s, ",
                       n, k, folds, !holdout && folds == n ? "true" : "false");
        if (holdout) dl_text_printf(t, "\"holdout\": %g, \"held_out\": %d, ", holdout, evaluated);
        dl_text_printf(t, "\"accuracy\": %.4f, \"per_class\": [", accuracy);
    } else {
        if (holdout) dl_text_printf(t, "held-out evaluation: %g%% of each class (seed %d), %d of %d images held out, %d classes\n", holdout * 100, DL_HOLDOUT_SEED, evaluated, n, k);
        else if (folds == n) dl_text_printf(t, "cross-validation: leave-one-out, %d images, %d classes\n", n, k);
        else dl_text_printf(t, "cross-validation: stratified %d-fold, %d images, %d classes\n", folds, n, k);
        dl_text_printf(t, "accuracy: %.4f (%d/%d)\nper class:\n", accuracy, correct, evaluated);
    }
    for (int c = 0; c < k; c++) {
        int images = 0;
        for (int j = 0; j < k; j++) images += confusion[c * k + j];
        double a = images ? (double)confusion[c * k + c] / images : 0;
        if (json) {
            dl_text_puts(t, c ? ", {\"class\": " : "{\"class\": ");
            dl_text_json_str(t, class_names[c]);
            dl_text_printf(t, ", \"images\": %d, \"accuracy\": %.4f}", images, a);
        } else {
            dl_text_printf(t, "  %-24s %5d images  accuracy %.4f\n", class_names[c], images, a);
        }
    }
    dl_text_puts(t, json ? "], \"confusion\": [" : "confusion (rows: truth, columns: prediction, in the order above):\n");
    for (int c = 0; c < k; c++) {
        dl_text_puts(t, json ? (c ? ", [" : "[") : " ");
        for (int j = 0; j < k; j++) dl_text_printf(t, json ? (j ? ", %d" : "%d") : " %5d", confusion[c * k + j]);
        dl_text_puts(t, json ? "]" : "\n");
    }
    if (json) dl_text_puts(t, "]}\n");
}

void dl_train_prediction_format(dl_text *t, int json, int k, const char *const *class_names, const float *scores) {
    int order[DL_PROJECT_MAX_CLASSES], best = 0;
    for (int j = 1; j < k; j++) if (scores[j] > scores[best]) best = j;   /* first maximum, as predict */
    for (int j = 0; j < k; j++) order[j] = j;
    for (int i = 1; i < k; i++)          /* stable insertion sort, by score descending */
        for (int j = i; j > 0 && scores[order[j]] > scores[order[j - 1]]; j--) { int s = order[j]; order[j] = order[j - 1]; order[j - 1] = s; }
    if (json) {
        dl_text_puts(t, ", \"label\": ");
        dl_text_json_str(t, class_names[best]);
        dl_text_puts(t, ", \"scores\": [");
    } else {
        dl_text_printf(t, " %s (", class_names[best]);
    }
    for (int i = 0; i < k; i++) {
        int j = order[i];
        if (json) { dl_text_puts(t, i ? ", [" : "["); dl_text_json_str(t, class_names[j]); dl_text_printf(t, ", %.6f]", (double)scores[j]); }
        else dl_text_printf(t, "%s%s %.6f", i ? ", " : "", class_names[j], (double)scores[j]);
    }
    dl_text_puts(t, json ? "]" : ")");
}

/* ---- the project --------------------------------------------------------- */

#define PROJECT_MAGIC "DLPROJ01"
#define PROJECT_VERSION 1u
#define PROJECT_VERSION_HOLDOUT 2u   /* version 1 + the held-out fraction */
#define PROJECT_MAX_IMAGES 100000

const char *dl_project_check_name(const char *what, const char *name, size_t len) {
    if (len < 1 || len > DL_PROJECT_MAX_NAME) return dl_errorf("%s must be 1 to %d bytes, got %zu", what, DL_PROJECT_MAX_NAME, len);
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 4;
        if (c < 0x20 || c == 0x7F) return dl_errorf("%s contains a control character", what);
        if (need == 4 || need >= len - i) return dl_errorf("%s is not UTF-8", what);
        for (size_t j = 1; j <= need; j++) if ((s[i + j] & 0xC0) != 0x80) return dl_errorf("%s is not UTF-8", what);
        i += need + 1;
    }
    return NULL;
}

static char *copy_name(const char *name, size_t len) {
    char *s = malloc(len + 1);
    if (s) { memcpy(s, name, len); s[len] = 0; }
    return s;
}

const char *dl_project_init(dl_project *p, int size, int cv, const char *kind, const dl_fit_params *params) {
    memset(p, 0, sizeof *p);
    if (size < 32 || size > 1024) return dl_errorf("the input size must be from 32 to 1024, got %d", size);
    if (cv < 0 || cv > PROJECT_MAX_IMAGES) return dl_errorf("cv must be 0 (auto), 1 (leave-one-out) or a number of folds, got %d", cv);
    const dl_classifier_kind *k = dl_classifier_kind_find(kind);
    if (!k) return dl_errorf("unknown classifier '%s' (expected %s)", kind ? kind : "", dl_classifier_kind_names());
    p->size = size; p->cv = cv;
    snprintf(p->kind, sizeof p->kind, "%s", k->name);
    dl_fit_default_params(&p->params);
    for (int i = 0; params && i < params->count; i++) {
        const char *err = dl_fit_params_set(&p->params, params->item[i].name, params->item[i].value);
        if (err) return err;
    }
    return NULL;
}

const char *dl_project_set_holdout(dl_project *p, double holdout) {
    if (holdout != 0 && !(holdout > 0 && holdout < 1)) return dl_errorf("the held-out fraction must be above 0 and below 1 (0: cross-validation), got %g", holdout);
    p->holdout = holdout;
    return NULL;
}

const char *dl_project_folds(const dl_project *p, const int *y, int n, int *fold, int *folds) {
    return p->holdout ? dl_holdout_folds(y, n, p->num_classes, p->holdout, DL_HOLDOUT_SEED, fold, folds)
                      : dl_cv_folds(y, n, p->num_classes, p->cv, fold, folds);
}

const char *dl_project_add_class(dl_project *p, const char *name, size_t len) {
    if (p->num_classes == DL_PROJECT_MAX_CLASSES) return dl_errorf("at most %d classes", DL_PROJECT_MAX_CLASSES);
    const char *err = dl_project_check_name("a class name", name, len);
    if (err) return err;
    for (int c = 0; c < p->num_classes; c++)
        if (strlen(p->class_names[c]) == len && !memcmp(p->class_names[c], name, len)) return dl_errorf("two classes are named '%s'", p->class_names[c]);
    if (!(p->class_names[p->num_classes] = copy_name(name, len))) return "out of memory";
    p->num_classes++;
    return NULL;
}

const char *dl_project_set_classifier(dl_project *p, const uint8_t *bytes, size_t size) {
    dl_classifier *c = NULL;
    const char *err = dl_classifier_load(bytes, size, &c);
    if (err) return dl_errorf("classifier: %s", err);
    int k = c->num_classes;
    dl_classifier_free(c);
    if (k != p->num_classes) return dl_errorf("the classifier has %d classes, the project %d", k, p->num_classes);
    uint8_t *copy = malloc(size);
    if (!copy) return "out of memory";
    memcpy(copy, bytes, size);
    free(p->classifier);
    p->classifier = copy; p->classifier_size = size;
    return NULL;
}

const char *dl_project_add_image(dl_project *p, int label, const char *name, size_t name_len,
                                 const uint8_t *bytes, size_t size) {
    if (label < 0 || label >= p->num_classes) return dl_errorf("image class %d is not in 0..%d", label, p->num_classes - 1);
    if (p->num_images == PROJECT_MAX_IMAGES) return dl_errorf("at most %d images", PROJECT_MAX_IMAGES);
    if (size > UINT32_MAX - 64) return "an image file is too large";
    const char *err = dl_project_check_name("an image name", name, name_len);
    if (err) return err;
    size_t room;
    if (!dl_mul((size_t)p->num_images + 1, sizeof *p->images, &room)) return "too many images";
    dl_project_image *grown = realloc(p->images, room), *im;
    if (!grown) return "out of memory";
    p->images = grown;
    im = &p->images[p->num_images];
    im->label = label; im->size = size;
    im->name = copy_name(name, name_len);
    im->bytes = malloc(size ? size : 1);
    if (!im->name || !im->bytes) { free(im->name); free(im->bytes); return "out of memory"; }
    memcpy(im->bytes, bytes, size);
    p->num_images++;
    return NULL;
}

void dl_project_free(dl_project *p) {
    for (int c = 0; c < p->num_classes; c++) free(p->class_names[c]);
    for (int i = 0; i < p->num_images; i++) { free(p->images[i].name); free(p->images[i].bytes); }
    free(p->images); free(p->classifier);
    memset(p, 0, sizeof *p);
}

/* ---- the file ---- */

static void put_u32(dl_text *t, uint32_t v) {
    char b[4] = { (char)v, (char)(v >> 8), (char)(v >> 16), (char)(v >> 24) };
    dl_text_put(t, b, 4);
}
static void put_blob(dl_text *t, const void *bytes, size_t n) { put_u32(t, (uint32_t)n); dl_text_put(t, bytes, n); }
static void put_f64(dl_text *t, double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u32(t, (uint32_t)u); put_u32(t, (uint32_t)(u >> 32));
}

const char *dl_project_save(const dl_project *p, uint8_t **buf, size_t *size) {
    dl_text t = { 0 };
    dl_text_put(&t, PROJECT_MAGIC, 8);
    uint32_t head[6] = { p->holdout ? PROJECT_VERSION_HOLDOUT : PROJECT_VERSION, (uint32_t)p->size, (uint32_t)p->cv, (uint32_t)p->num_classes, (uint32_t)p->num_images, (uint32_t)p->params.count };
    for (int i = 0; i < 6; i++) put_u32(&t, head[i]);
    if (p->holdout) put_f64(&t, p->holdout);
    put_blob(&t, p->kind, strlen(p->kind));
    for (int i = 0; i < p->params.count; i++) {
        put_blob(&t, p->params.item[i].name, strlen(p->params.item[i].name));
        put_f64(&t, p->params.item[i].value);
    }
    for (int c = 0; c < p->num_classes; c++) put_blob(&t, p->class_names[c], strlen(p->class_names[c]));
    put_blob(&t, p->classifier, p->classifier_size);
    for (int i = 0; i < p->num_images; i++) {
        put_u32(&t, (uint32_t)p->images[i].label);
        put_blob(&t, p->images[i].name, strlen(p->images[i].name));
        put_blob(&t, p->images[i].bytes, p->images[i].size);
    }
    if (t.failed || t.len > UINT32_MAX) { dl_text_free(&t); return "the project is too large to save"; }
    put_u32(&t, dl_crc32((const uint8_t *)t.buf, t.len));
    if (t.failed) { dl_text_free(&t); return "out of memory"; }
    *buf = (uint8_t *)t.buf; *size = t.len;
    return NULL;
}

/* A bounds-checked reader over the file's bytes (before the CRC). */
typedef struct { const uint8_t *p; size_t pos, end; } reader;

static int get_u32(reader *r, uint32_t *v) {
    if (r->end - r->pos < 4) return 0;
    const uint8_t *b = r->p + r->pos;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->pos += 4;
    return 1;
}
static int get_f64(reader *r, double *v) {
    uint32_t lo, hi;
    if (!get_u32(r, &lo) || !get_u32(r, &hi)) return 0;
    uint64_t u = (uint64_t)hi << 32 | lo;
    memcpy(v, &u, 8);
    return 1;
}
/* A u32 length and that many bytes, at most max: *bytes points into the file. */
static int get_blob(reader *r, size_t max, const uint8_t **bytes, size_t *n) {
    uint32_t len;
    if (!get_u32(r, &len) || len > max || r->end - r->pos < len) return 0;
    *bytes = r->p + r->pos; *n = len;
    r->pos += len;
    return 1;
}

static const char *load_body(reader *r, dl_project *p) {
    const char *truncated = "the project file is truncated or damaged";
    uint32_t h[6];
    for (int i = 0; i < 6; i++) if (!get_u32(r, &h[i])) return truncated;
    if (h[0] != PROJECT_VERSION && h[0] != PROJECT_VERSION_HOLDOUT)
        return dl_errorf("project version %u is not supported (this build reads versions %u and %u)", h[0], PROJECT_VERSION, PROJECT_VERSION_HOLDOUT);
    if (h[3] < 2 || h[3] > DL_PROJECT_MAX_CLASSES) return dl_errorf("the project states %u classes (2 to %d allowed)", h[3], DL_PROJECT_MAX_CLASSES);
    if (h[4] > PROJECT_MAX_IMAGES) return dl_errorf("the project states %u images (at most %d)", h[4], PROJECT_MAX_IMAGES);
    if (h[5] > DL_FIT_MAX_PARAMS) return dl_errorf("the project states %u classifier parameters (at most %d)", h[5], DL_FIT_MAX_PARAMS);
    const uint8_t *s;
    size_t n;
    char name[DL_PROJECT_MAX_NAME + 1];
    dl_fit_params params;
    dl_fit_default_params(&params);
    double holdout = 0;
    if (h[0] == PROJECT_VERSION_HOLDOUT) {
        if (!get_f64(r, &holdout)) return truncated;
        if (!holdout) return "a version 2 project must hold a held-out fraction";
    }
    if (!get_blob(r, 31, &s, &n)) return truncated;
    char kind[32];
    memcpy(kind, s, n); kind[n] = 0;
    for (uint32_t i = 0; i < h[5]; i++) {
        double v;
        if (!get_blob(r, 31, &s, &n) || !get_f64(r, &v)) return truncated;
        memcpy(name, s, n); name[n] = 0;
        const char *err = dl_fit_params_set(&params, name, v);
        if (err) return err;
    }
    const char *err = dl_project_init(p, (int)(h[1] > 1024 ? 0 : h[1]), (int)(h[2] > PROJECT_MAX_IMAGES ? -1 : (int)h[2]), kind, &params);
    if (!err) err = dl_project_set_holdout(p, holdout);
    for (uint32_t c = 0; !err && c < h[3]; c++)
        err = !get_blob(r, DL_PROJECT_MAX_NAME, &s, &n) ? truncated : dl_project_add_class(p, (const char *)s, n);
    if (!err && !get_blob(r, r->end, &s, &n)) err = truncated;
    if (!err && n) err = dl_project_set_classifier(p, s, n);
    for (uint32_t i = 0; !err && i < h[4]; i++) {
        uint32_t label;
        const uint8_t *im;
        size_t im_size;
        if (!get_u32(r, &label) || !get_blob(r, DL_PROJECT_MAX_NAME, &s, &n) || !get_blob(r, r->end, &im, &im_size)) err = truncated;
        else err = dl_project_add_image(p, label >= h[3] ? -1 : (int)label, (const char *)s, n, im, im_size);
    }
    if (!err && r->pos != r->end) err = dl_errorf("%zu unexpected bytes after the images", r->end - r->pos);
    return err;
}

const char *dl_project_load(const uint8_t *buf, size_t size, dl_project *p) {
    memset(p, 0, sizeof *p);
    if (size < 8 || memcmp(buf, PROJECT_MAGIC, 8)) {
        if (size >= 8 && !memcmp(buf, "DLCLASS1", 8)) return "this is a classifier file (DLCLASS1), not a project (DLPROJ01)";
        return "not a DenseLab project file (no DLPROJ01 signature)";
    }
    if (size < 36) return "the project file is truncated";
    reader r = { buf, 8, size - 4 };
    uint32_t crc = (uint32_t)buf[size - 4] | (uint32_t)buf[size - 3] << 8 | (uint32_t)buf[size - 2] << 16 | (uint32_t)buf[size - 1] << 24;
    if (dl_crc32(buf, size - 4) != crc) return "the project file is damaged (CRC-32 mismatch)";
    const char *err = load_body(&r, p);
    if (err) dl_project_free(p);
    return err;
}
