/* experiment.h — the table of classifier kinds and the one place that
 * dispatches on it: fit a kind by name with named parameters, load a
 * classifier file (kind id -> entry), list the kinds and their parameters
 * (as JSON for the JS API and the CLI), evaluate on a test set.
 *
 * Adding a kind: write its file (a dl_classifier_kind, see classifier.h)
 * and add one line to the table in experiment.c. */
#ifndef DENSELAB_EXPERIMENT_H
#define DENSELAB_EXPERIMENT_H
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

int dl_classifier_kind_count(void);
const dl_classifier_kind *dl_classifier_kind_at(int i);              /* NULL outside 0..count-1 */
const dl_classifier_kind *dl_classifier_kind_find(const char *name); /* NULL if unknown */
const dl_classifier_kind *dl_classifier_kind_by_id(uint32_t id);     /* NULL if unknown */
/* "linear-svm, rbf-svm, softmax or finetune" */
const char *dl_classifier_kind_names(void);

/* The table as JSON, built once into a static buffer (NULL if it outgrew it):
 * [{"name": "linear-svm", "id": 1, "help": "...", "params": [{"name": "C",
 *   "type": "real"|"int", "default": 1, "min": 0, "max": 1e12,
 *   "min_exclusive": true, "help": "..."}, ...]}, ...] */
const char *dl_classifier_kinds_json(void);

/* Named parameter overrides, for any kind: a parameter a kind does not have
 * is ignored when fitting that kind (one set drives a comparison of kinds);
 * a name no kind has is refused when set. */
#define DL_FIT_MAX_PARAMS 16
typedef struct {
    int count;
    struct { char name[32]; double value; } item[DL_FIT_MAX_PARAMS];
} dl_fit_params;

void dl_fit_default_params(dl_fit_params *p);   /* no overrides */
/* The first kind's spec of a parameter name ("cache-mb" too), or NULL. */
const dl_param_spec *dl_fit_param_find(const char *name);
/* Checks name and value against the table (name: "cache_mb"; "cache-mb" too). */
const char *dl_fit_params_set(dl_fit_params *p, const char *name, double value);

/* kind by name; p may be NULL (defaults); report may be NULL. */
const char *dl_fit(const char *kind, const float *x, const int *y, int n, int d,
                   const dl_fit_params *p, dl_learn_progress_fn progress, void *user,
                   dl_classifier **out, dl_train_report *report);
/* Checks values[count] (every parameter of the kind, in table order) as
 * dl_fit_values does; NULL if they are all valid. */
const char *dl_fit_check_values(const char *kind, const double *values, int count);
/* The same with every parameter of the kind given, in table order
 * (values[count], count = kind->num_params); each is checked. */
const char *dl_fit_values(const char *kind, const float *x, const int *y, int n, int d,
                          const double *values, int count, dl_learn_progress_fn progress, void *user,
                          dl_classifier **out, dl_train_report *report);

/* Test accuracy (0..1) and the num_classes x num_classes confusion matrix
 * (rows: truth, columns: prediction). pred (n ints) may be NULL. */
const char *dl_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                        double *accuracy, int *confusion, int *pred);

/* dl_fit, dl_fit_values and dl_evaluate over stored rows (float32 or float16,
 * learn_common.h): float16 rows give the model and the accuracy that float32
 * rows holding the same values give. A kind without fit_rows (finetune)
 * refuses float16 rows. */
const char *dl_fit_rows(const char *kind, const dl_rows *x, const int *y, const dl_fit_params *p,
                        dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report);
const char *dl_fit_values_rows(const char *kind, const dl_rows *x, const int *y, const double *values, int count,
                               dl_learn_progress_fn progress, void *user, dl_classifier **out, dl_train_report *report);
const char *dl_evaluate_rows(const dl_classifier *c, const dl_rows *x, const int *y,
                             double *accuracy, int *confusion, int *pred);

#ifdef __cplusplus
}
#endif
#endif
