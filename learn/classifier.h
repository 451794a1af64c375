/* classifier.h — the trained-classifier object every kind shares (its
 * prediction and its file format), and what a kind must provide to plug in
 * (dl_classifier_kind). The kinds themselves are listed in learn/experiment.c.
 *
 * Labels are ints 0..num_classes-1. Features are float32 rows of
 * num_features. If mean/std are set, every input row is standardised
 * ((x - mean) / std) before use; the stored parameters live in that space.
 *
 * File format (little-endian), "DLCLASS1":
 *   0  char[8]  "DLCLASS1"
 *   8  u32      version (1)
 *   12 u32      kind id (dl_classifier_kind.id)
 *   16 u32      num_classes
 *   20 u32      num_features
 *   24 u32      flags (bit 0: standardised)
 *   28 u32      kind parameter (dl_classifier_kind.file_param)
 *   32 u64      payload bytes
 *   40 payload  [mean f32[d], std f32[d]] then the kind's own (see its file)
 *   end-4 u32   CRC-32 (IEEE) of every preceding byte
 */
#ifndef DENSELAB_CLASSIFIER_H
#define DENSELAB_CLASSIFIER_H
#include <stddef.h>
#include <stdint.h>
#include "learn/learn_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_classifier_kind dl_classifier_kind;

typedef struct {
    const dl_classifier_kind *kind;
    int num_classes, num_features;
    float *mean, *std;        /* [num_features] each, or both NULL */
    void *model;              /* the kind's own parameters */
} dl_classifier;

/* What training reports, per binary problem (linear: one per class;
 * rbf: one per class pair, in LIBSVM's order (0,1),(0,2)..(1,2)..). */
typedef struct {
    int num_problems;
    long *iterations;         /* solver outer iterations (linear) / SMO steps (rbf) */
    double *objective;        /* as LIBLINEAR prints "Objective value" / LIBSVM "obj" */
    double *primal;           /* linear only: primal objective value */
    int *nsv, *nbsv;          /* alphas > 0 / alphas at the upper bound */
    double gamma;             /* rbf: gamma used */
    /* softmax: per-epoch history */
    int epochs;
    double *loss, *train_acc, *val_acc;
} dl_train_report;
void dl_train_report_free(dl_train_report *r);

/* n rows -> labels[n] (may be NULL) and scores[n][num_classes] (may be NULL):
 * the kind's scores (SVM decision values or votes, probabilities); the label
 * is the first maximum, as LIBLINEAR and LIBSVM pick it. Non-finite
 * features fail with the row/column named. */
const char *dl_classifier_predict(const dl_classifier *c, const float *x, int n,
                                  int *labels, float *scores);

/* The same over stored rows (float32 or float16; x->d must be num_features):
 * float16 rows predict as float32 rows holding the same values. */
const char *dl_classifier_predict_rows(const dl_classifier *c, const dl_rows *x, int *labels, float *scores);

/* Serialise into a new malloc'd buffer (caller free()s it). */
const char *dl_classifier_save(const dl_classifier *c, uint8_t **buf, size_t *size);
/* Parse and fully validate a buffer; *out is a new classifier. Every size in
 * the header is checked against the platform's size_t (32-bit in WASM) and
 * against the bytes present before anything is allocated. (In experiment.c: it
 * looks the kind id up in the table.) */
const char *dl_classifier_load(const uint8_t *buf, size_t size, dl_classifier **out);
void dl_classifier_free(dl_classifier *c);

/* ---- for the kinds ------------------------------------------------------- */

/* A typed parameter of a kind: what dl_fit checks, the CLI prints and the JS
 * API fills in. Values are doubles; DL_PARAM_INT ones must be integers. */
typedef enum { DL_PARAM_INT, DL_PARAM_REAL } dl_param_type;
typedef struct {
    const char *name;         /* snake_case: "C", "cache_mb" */
    dl_param_type type;
    double def, min, max;     /* min..max inclusive, unless min_exclusive */
    int min_exclusive;
    const char *help;
} dl_param_spec;

/* v[i] = spec[i].def for i < n. */
void dl_param_defaults(const dl_param_spec *spec, int n, double *v);

/* Little-endian payload reader/writer over a buffer whose size the caller
 * has already checked (the loader compares the file's payload size with
 * the kind's payload_size before reading). */
typedef struct { uint8_t *p; size_t pos, size; } dl_clf_bytes;
void dl_clf_put_u32(dl_clf_bytes *b, uint32_t v);
void dl_clf_put_f32s(dl_clf_bytes *b, const float *v, size_t n);
void dl_clf_put_f64s(dl_clf_bytes *b, const double *v, size_t n);
uint32_t dl_clf_get_u32(dl_clf_bytes *b);
/* Reads n values; returns 0 if one of them is not finite. */
int dl_clf_get_f32s(dl_clf_bytes *b, float *v, size_t n);
int dl_clf_get_f64s(dl_clf_bytes *b, double *v, size_t n);

/* One classifier kind. Its file defines it; learn/experiment.c lists it. */
struct dl_classifier_kind {
    const char *name;         /* "linear-svm" */
    uint32_t id;              /* in the file header; never reuse one */
    const char *help;
    const dl_param_spec *params;
    int num_params;
    /* values[i] is params[i], already checked against its spec. */
    const char *(*fit)(const float *x, const int *y, int n, int d, const double *values,
                       dl_learn_progress_fn progress, void *user,
                       dl_classifier **out, dl_train_report *report);
    /* scores[n][num_classes] of n already standardised rows. */
    const char *(*scores)(const dl_classifier *c, const float *x, int n, float *scores);
    /* The header's kind parameter (e.g. support vector count, hidden units). */
    uint32_t (*file_param)(const dl_classifier *c);
    /* Bytes of the kind's payload for a header (k >= 2, d >= 1), computed
     * with checked size_t arithmetic; a reason if impossible or too large. */
    const char *(*payload_size)(size_t k, size_t d, uint32_t param, size_t *bytes);
    /* c->model from exactly payload_size bytes; validates the values. */
    const char *(*read)(dl_classifier *c, uint32_t param, dl_clf_bytes *in);
    void (*write)(const dl_classifier *c, dl_clf_bytes *out);
    void (*free_model)(void *model);
    /* fit over stored rows (float32 or float16; learn_common.h), or NULL: the kind
     * takes float32 rows only (fit). */
    const char *(*fit_rows)(const dl_rows *x, const int *y, const double *values,
                            dl_learn_progress_fn progress, void *user,
                            dl_classifier **out, dl_train_report *report);
};

/* A classifier of kind with no model yet (c->model = NULL), mean/std
 * allocated if standardised; NULL when out of memory or too large. */
dl_classifier *dl_classifier_new(const dl_classifier_kind *kind, int num_classes, int num_features,
                                 int standardised);

/* How every trainer ends: on err, frees c and the report's arrays and
 * returns err; otherwise *out = c and NULL. */
const char *dl_fit_finish(const char *err, dl_classifier *c, dl_classifier **out, dl_train_report *report);

/* dl_classifier_load with the kind table given as its lookup (the table
 * lives above this file: experiment.c depends on the kinds, they on this). */
const char *dl_classifier_decode(const uint8_t *buf, size_t size,
                                 const dl_classifier_kind *(*kind_by_id)(uint32_t id),
                                 dl_classifier **out);

#ifdef __cplusplus
}
#endif
#endif
