/* experiment.c — the table of classifier kinds, and everything that looks
 * a kind up in it. */
#include "learn/experiment.h"
#include "learn/finetune.h"
#include "learn/kernel_svm.h"
#include "learn/linear_svm.h"
#include "learn/metrics.h"
#include "learn/softmax_head.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the table: one line per kind --------------------------------------- */

static const dl_classifier_kind *const kinds[] = {
    &dl_linear_svm_kind,
    &dl_rbf_svm_kind,
    &dl_softmax_kind,
    &dl_finetune_kind,
};
enum { NUM_KINDS = sizeof kinds / sizeof *kinds };

int dl_classifier_kind_count(void) { return NUM_KINDS; }

const dl_classifier_kind *dl_classifier_kind_at(int i) { return i >= 0 && i < NUM_KINDS ? kinds[i] : NULL; }

const dl_classifier_kind *dl_classifier_kind_find(const char *name) {
    for (int i = 0; name && i < NUM_KINDS; i++) if (!strcmp(kinds[i]->name, name)) return kinds[i];
    return NULL;
}

const dl_classifier_kind *dl_classifier_kind_by_id(uint32_t id) {
    for (int i = 0; i < NUM_KINDS; i++) if (kinds[i]->id == id) return kinds[i];
    return NULL;
}

const char *dl_classifier_kind_names(void) {
    static char names[256];
    if (!names[0]) {
        size_t len = 0;
        for (int i = 0; i < NUM_KINDS; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i == 0 ? "" : i + 1 < NUM_KINDS ? ", " : " or ",
                                    kinds[i]->name);
    }
    return names;
}

const char *dl_classifier_load(const uint8_t *buf, size_t size, dl_classifier **out) {
    return dl_classifier_decode(buf, size, dl_classifier_kind_by_id, out);
}

/* ---- the table as JSON --------------------------------------------------- */

/* Built once into a static buffer (no heap: the WASM instance's memory
 * accounting stays flat). Names and help texts are ours: plain ASCII, no
 * quotes or backslashes. */
static char json[8192];
static size_t json_len;

static void json_add(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void json_add(const char *fmt, ...) {
    if (json_len >= sizeof json) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json + json_len, sizeof json - json_len, fmt, ap);
    va_end(ap);
    json_len = n < 0 ? sizeof json : json_len + (size_t)n;
}

/* The shortest %g that reads back exactly (0.001, not 0.00100...02). */
static void json_number(double v) {
    char s[32];
    if (v == floor(v) && fabs(v) <= 9007199254740992.0) { json_add("%.0f", v); return; }
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(s, sizeof s, "%.*g", digits, v);
        if (strtod(s, NULL) == v) break;
    }
    json_add("%s", s);
}

const char *dl_classifier_kinds_json(void) {
    if (json_len) return json_len < sizeof json ? json : NULL;
    json_add("[");
    for (int i = 0; i < NUM_KINDS; i++) {
        const dl_classifier_kind *k = kinds[i];
        json_add("%s{\"name\": \"%s\", \"id\": %u, \"help\": \"%s\", \"params\": [", i ? ", " : "", k->name, k->id, k->help);
        for (int j = 0; j < k->num_params; j++) {
            const dl_param_spec *s = &k->params[j];
            json_add("%s{\"name\": \"%s\", \"type\": \"%s\", \"default\": ", j ? ", " : "", s->name,
                     s->type == DL_PARAM_INT ? "int" : "real");
            json_number(s->def);
            json_add(", \"min\": ");
            json_number(s->min);
            json_add(", \"max\": ");
            json_number(s->max);
            json_add(", \"min_exclusive\": %s, \"help\": \"%s\"}", s->min_exclusive ? "true" : "false", s->help);
        }
        json_add("]}");
    }
    json_add("]");
    return json_len < sizeof json ? json : NULL;
}

/* ---- fitting by name ----------------------------------------------------- */

static const char *check_value(const char *kind, const dl_param_spec *s, double v) {
    const char *who = kind ? kind : "", *sep = kind ? ": " : "";
    if (!isfinite(v)) return dl_errorf("%s%s%s must be a finite number (got %g)", who, sep, s->name, v);
    if (s->type == DL_PARAM_INT && v != floor(v)) return dl_errorf("%s%s%s must be an integer (got %g)", who, sep, s->name, v);
    if (s->min_exclusive ? !(v > s->min) : !(v >= s->min))
        return dl_errorf("%s%s%s must be %s %g (got %g)", who, sep, s->name, s->min_exclusive ? ">" : ">=", s->min, v);
    if (v > s->max) return dl_errorf("%s%s%s must be <= %g (got %g)", who, sep, s->name, s->max, v);
    return NULL;
}

static const dl_param_spec *find_param(const dl_classifier_kind *k, const char *name) {
    for (int j = 0; j < k->num_params; j++) if (!strcmp(k->params[j].name, name)) return &k->params[j];
    return NULL;
}

void dl_fit_default_params(dl_fit_params *p) { memset(p, 0, sizeof *p); }

/* name with '-' as '_' into key[32]; 0 if empty or too long. */
static int param_key(const char *name, char key[32]) {
    size_t len = name ? strlen(name) : 0;
    if (!len || len >= 32) return 0;
    for (size_t i = 0; i <= len; i++) key[i] = name[i] == '-' ? '_' : name[i];
    return 1;
}

const dl_param_spec *dl_fit_param_find(const char *name) {
    char key[32];
    const dl_param_spec *spec = NULL;
    for (int i = 0; i < NUM_KINDS && !spec && param_key(name, key); i++) spec = find_param(kinds[i], key);
    return spec;
}

const char *dl_fit_params_set(dl_fit_params *p, const char *name, double value) {
    const dl_param_spec *spec = dl_fit_param_find(name);
    if (!spec) return dl_errorf("unknown classifier parameter '%s'", name ? name : "");
    const char *err = check_value(NULL, spec, value);
    if (err) return err;
    int at = 0;
    while (at < p->count && strcmp(p->item[at].name, spec->name)) at++;
    if (at == DL_FIT_MAX_PARAMS) return "too many classifier parameters";
    if (at == p->count) p->count++;
    snprintf(p->item[at].name, sizeof p->item[at].name, "%s", spec->name);
    p->item[at].value = value;
    return NULL;
}

static const char *find_kind(const char *name, const dl_classifier_kind **kind) {
    *kind = dl_classifier_kind_find(name);
    return *kind ? NULL : dl_errorf("unknown classifier '%s' (expected %s)", name ? name : "", dl_classifier_kind_names());
}

const char *dl_fit_check_values(const char *name, const double *values, int count) {
    const dl_classifier_kind *kind;
    const char *err = find_kind(name, &kind);
    if (err) return err;
    if (count != kind->num_params || (count && !values))
        return dl_errorf("%s takes %d parameters (got %d)", kind->name, kind->num_params, count);
    for (int j = 0; j < count; j++)
        if ((err = check_value(kind->name, &kind->params[j], values[j]))) return err;
    return NULL;
}

/* The checks every fit starts with; *kind and *values (all parameters) on success. */
static const char *fit_setup(const char *name, const dl_fit_params *p, const dl_classifier_kind **kind, double *values) {
    const char *err = find_kind(name, kind);
    if (err) return err;
    if ((*kind)->num_params > DL_FIT_MAX_PARAMS) return "fit: too many parameters";
    dl_param_defaults((*kind)->params, (*kind)->num_params, values);
    for (int i = 0; p && i < p->count; i++)
        for (int j = 0; j < (*kind)->num_params; j++)
            if (!strcmp((*kind)->params[j].name, p->item[i].name)) values[j] = p->item[i].value;
    return NULL;
}

const char *dl_fit_values_rows(const char *name, const dl_rows *x, const int *y, const double *values, int count,
                               dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    if (!out) return "fit: NULL output";
    *out = NULL;
    const char *err = dl_fit_check_values(name, values, count);
    if (err) return err;
    const dl_classifier_kind *kind = dl_classifier_kind_find(name);
    if (kind->fit_rows) return kind->fit_rows(x, y, values, progress, user, out, report);
    if (x->f16) return dl_errorf("%s takes float32 rows only, not float16", kind->name);
    return kind->fit(x->data, y, x->n, x->d, values, progress, user, out, report);
}

const char *dl_fit_values(const char *name, const float *x, const int *y, int n, int d,
                          const double *values, int count, dl_learn_progress_fn progress, void *user,
                          dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_fit_values_rows(name, &rows, y, values, count, progress, user, out, report);
}

const char *dl_fit_rows(const char *name, const dl_rows *x, const int *y, const dl_fit_params *p,
                        dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report) {
    const dl_classifier_kind *kind;
    double values[DL_FIT_MAX_PARAMS];
    const char *err = fit_setup(name, p, &kind, values);
    if (err) return err;
    return dl_fit_values_rows(name, x, y, values, kind->num_params, progress, user, out, report);
}

const char *dl_fit(const char *name, const float *x, const int *y, int n, int d,
                   const dl_fit_params *p, dl_learn_progress_fn progress, void *user,
                   dl_classifier **out, dl_train_report *report) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_fit_rows(name, &rows, y, p, progress, user, out, report);
}

/* ---- evaluation ---------------------------------------------------------- */

const char *dl_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                        double *accuracy, int *confusion, int *pred) {
    dl_rows rows = dl_rows_f32(x, n, c ? c->num_features : 0);
    return dl_evaluate_rows(c, &rows, y, accuracy, confusion, pred);
}

const char *dl_evaluate_rows(const dl_classifier *c, const dl_rows *x, const int *y,
                             double *accuracy, int *confusion, int *pred) {
    int n = x->n;
    if (n < 1) return "the test set is empty";
    int *p = pred ? pred : dl_learn_alloc((size_t)n, sizeof(int));
    if (!p) return "out of memory";
    const char *err = dl_classifier_predict_rows(c, x, p, NULL);
    if (!err) err = dl_confusion_matrix(y, p, n, c->num_classes, confusion);
    if (!err) *accuracy = dl_accuracy(y, p, n);
    if (!pred) free(p);
    return err;
}
