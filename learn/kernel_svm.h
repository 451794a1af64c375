/* kernel_svm.h — RBF-kernel C-SVC, one-vs-one, as LIBSVM 3.24 / scikit-learn
 * SVC(kernel='rbf') train it: SMO with the second-order working-set selection
 * of Fan, Chen & Lin (2005, "WSS3"), shrinking, an LRU cache of kernel
 * columns capped in bytes, stopping tolerance tol on the maximal violating
 * pair. A prediction is the class with most pair votes, ties going to the
 * first such class (LIBSVM).
 *
 * gamma <= 0 means scikit-learn's gamma='scale': 1 / (d * X.var()) over the
 * training matrix as the SVC sees it (after standardisation if enabled,
 * which it is not by default: SVC uses the features it is given).
 * Kernel columns are GEMMs over the pair's rows packed as weight panels;
 * each of the K(K-1)/2 pairs is an independent unit (dl_rbf_svm_train_pair),
 * so hosts can train them on several workers and assemble the model. */
#ifndef DENSELAB_KERNEL_SVM_H
#define DENSELAB_KERNEL_SVM_H
#include "learn/classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double C;          /* > 0; default 1 */
    double gamma;      /* > 0, or <= 0 for 'scale' (default) */
    double tol;        /* default 1e-3 (LIBSVM -e) */
    int shrinking;     /* default 1 (LIBSVM -h) */
    double cache_mb;   /* kernel cache cap in MiB; default 200 (LIBSVM -m) */
    int standardize;   /* default 0 */
    long max_iter;     /* SMO steps per pair; <= 0: LIBSVM's max(1e7, 100 l) */
} dl_rbf_svm_params;

void dl_rbf_svm_default_params(dl_rbf_svm_params *p);
/* From the kind's parameter values in table order (checked by the caller:
 * dl_fit_check_values("rbf-svm", ...)). */
void dl_rbf_svm_params_from_values(const double *values, dl_rbf_svm_params *p);

/* x: n x d, y: labels 0..K-1 (every class present). progress (may be NULL)
 * is called every 1,000 SMO steps and after each pair (step = pairs done,
 * steps = K(K-1)/2, iter = steps of the current pair). report (may be
 * NULL): per pair iterations, objective ("obj" as LIBSVM prints it), nsv,
 * nbsv, and gamma. The classifier holds total_sv and sv_count per class. */
const char *dl_rbf_svm_train(const float *x, const int *y, int n, int d,
                             const dl_rbf_svm_params *params,
                             dl_learn_progress_fn progress, void *user,
                             dl_classifier **out, dl_train_report *report);

/* The model, LIBSVM's layout: support vectors grouped by class; pair (i<j)
 * decision = sum coef * K(sv, x) - rho > 0 -> i. Scores are pair votes. */
typedef struct {
    double gamma;
    int total_sv;
    int *sv_count;            /* [num_classes] */
    float *sv;                /* [total_sv][num_features], or NULL when sv_at is set */
    const void **sv_at;       /* [total_sv]: the SVs as rows of the training set, not copied
                                 (dl_rbf_svm_assemble_borrowed), or NULL */
    int sv_f16;               /* the rows sv_at points to are float16 (saved as float32: exact) */
    float *sv_sq;             /* [total_sv]: |sv|^2, for the kernel rows of prediction (derived, not saved) */
    double *sv_coef;          /* [num_classes - 1][total_sv] */
    double *rho;              /* [num_classes * (num_classes - 1) / 2] */
} dl_rbf_svm_model;

extern const dl_classifier_kind dl_rbf_svm_kind;

/* ---- the one-vs-one pairs as independent units ---------------------------
 * dl_rbf_svm_train == prepare, train_pair for every (ci < cj), assemble: the
 * model's bytes are the same whoever trains the pairs, in whatever order.
 *
 * prepare: checks x, y and params like dl_rbf_svm_train; gives the number of
 * classes, gamma (gamma='scale' resolved over all n rows) and, if
 * params->standardize, the training mean/std (d floats each; else untouched,
 * may be NULL). */
const char *dl_rbf_svm_prepare(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                               int *num_classes, double *gamma, float *mean, float *std);

/* Pair (ci < cj): xi = the ni rows of class ci, xj = the nj rows of class
 * cj, each in the order they have in the training set. gamma from prepare;
 * mean/std from prepare if standardising, else NULL. progress: every 1,000
 * SMO steps (step 0 of 1, iter). *result: a new malloc'd byte string (alphas
 * as support vector indices and coefficients, rho, iterations, objective;
 * CRC-checked), for dl_rbf_svm_assemble. */
const char *dl_rbf_svm_train_pair(const float *xi, int ni, const float *xj, int nj, int d, int ci, int cj,
                                  double gamma, const float *mean, const float *std,
                                  const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                  uint8_t **result, size_t *size);

/* The same pair, its rows read in place by index: rows_i[0..ni) of class ci
 * and rows_j[0..nj) of class cj, each an index into x (n x d), in
 * training-set order. The result is the same bytes as dl_rbf_svm_train_pair
 * on those rows gathered: a host holding the whole training set trains pairs
 * without copying their rows (only the solver's packed panels and cache). */
const char *dl_rbf_svm_train_pair_at(const float *x, int n, int d, const int *rows_i, int ni, const int *rows_j, int nj,
                                     int ci, int cj, double gamma, const float *mean, const float *std,
                                     const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                     uint8_t **result, size_t *size);

/* The model from all K(K-1)/2 pair results (any order) over the same x, y
 * and params: every result is checked (pair ids, row counts, gamma, C,
 * size, CRC, indices, coefficients) and a reason names the first bad one. */
const char *dl_rbf_svm_assemble(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                                const uint8_t *const *results, const size_t *sizes, int count,
                                dl_classifier **out, dl_train_report *report);

/* The same model (the same bytes when saved, the same predictions) whose
 * support vectors stay rows of x instead of copies: the model is valid only
 * while x lives unchanged, so a host frees it first. For a host that holds
 * the training set anyway and only tests and saves the model (the page's
 * classifier worker: 22,604 SVs of 1,024 floats are 92 MB at 60,000). With
 * params->standardize the SVs are copied (standardised) as usual. */
const char *dl_rbf_svm_assemble_borrowed(const float *x, const int *y, int n, int d, const dl_rbf_svm_params *params,
                                         const uint8_t *const *results, const size_t *sizes, int count_results,
                                         dl_classifier **out);

/* ---- the same over stored rows (float32 or float16, learn_common.h) -------
 * Float16 rows train the same pairs and model (the same bytes) as float32
 * rows holding the same values: each row is converted when read (a pair's
 * packed panels and kernel columns are float32 as before), never the whole
 * matrix; gamma='scale' and standardisation are over the values as stored.
 * assemble_rows with borrow = 1 is assemble_borrowed (SVs may be float16
 * rows; the saved model is float32, exact), else assemble (report too). */
const char *dl_rbf_svm_train_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                  dl_learn_progress_fn progress, void *user,
                                  dl_classifier **out, dl_train_report *report);
const char *dl_rbf_svm_prepare_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                    int *num_classes, double *gamma, float *mean, float *std);
const char *dl_rbf_svm_train_pair_at_rows(const dl_rows *x, const int *rows_i, int ni, const int *rows_j, int nj,
                                          int ci, int cj, double gamma, const float *mean, const float *std,
                                          const dl_rbf_svm_params *params, dl_learn_progress_fn progress, void *user,
                                          uint8_t **result, size_t *size);
/* A pair's largest buffer (its packed panels: 47 MiB for the largest pair at
 * 60,000, 24 as float16 panels) kept between the pairs one thread trains: taken at
 * the first pair's size (the largest first: kernel_svm_pairs.c) and reused,
 * so that a run of pairs leaves no holes in the heap that the next pair's
 * panels do not fit (a WASM memory never shrinks: the page's heap grew by
 * 16 MiB over the pairs). Zero-initialise; dl_rbf_svm_workspace_free at the end.
 * train_pair_at_rows_in: train_pair_at_rows (the same bytes) in ws, or in its
 * own buffer if ws is NULL. */
typedef struct { void *panels; size_t bytes; } dl_rbf_svm_workspace;
void dl_rbf_svm_workspace_free(dl_rbf_svm_workspace *ws);
const char *dl_rbf_svm_train_pair_at_rows_in(dl_rbf_svm_workspace *ws, const dl_rows *x, const int *rows_i, int ni,
                                             const int *rows_j, int nj, int ci, int cj, double gamma,
                                             const float *mean, const float *std, const dl_rbf_svm_params *params,
                                             dl_learn_progress_fn progress, void *user, uint8_t **result, size_t *size);
/* Float16 rows are packed as float16 panels (half the bytes, the same bits,
 * but 1.7-2x the CPU time) from this size of their float32 panels on (and
 * then also when the thread's workspace is smaller); as float32 panels below.
 * Default SIZE_MAX: never. 0 packs every float16 pair as halves (tests);
 * 32 MiB gives the page's RBF phase 284 MiB instead of 331 at 60,000. */
void dl_rbf_svm_f16_panels_from(size_t bytes);
const char *dl_rbf_svm_assemble_rows(const dl_rows *x, const int *y, const dl_rbf_svm_params *params,
                                     const uint8_t *const *results, const size_t *sizes, int count_results, int borrow,
                                     dl_classifier **out, dl_train_report *report);

#ifdef __cplusplus
}
#endif
#endif
