/* kernel_svm_pairs.h — several of the RBF SVM's one-vs-one pairs at once, on
 * the threads of common/parallel.h, every pair's rows read in place from the
 * one copy of the training set (no per-pair copies, no second instance).
 *
 *   const dl_rbf_pair pairs[] = {{0, 1}, {0, 2}, ...};   // the ones still to train
 *   err = dl_rbf_svm_train_pairs_at(x, n, d, class_rows, class_counts, K, pairs, count,
 *                                   gamma, NULL, NULL, &params, progress, user, results, sizes);
 *
 * Each thread takes the next pair (largest first) from a shared counter and
 * trains it with dl_rbf_svm_train_pair_at, with its own kernel cache of
 * params->cache_mb and its own packed panels, taken at its first (largest)
 * pair and reused for the next ones (dl_rbf_svm_workspace): results[k] is the same bytes as that function gives for
 * pairs[k], whatever the number of threads. Only the calling thread calls
 * `progress` (in WebAssembly a pthread must not call into JS), when it can:
 * every 1,000 SMO steps of its own pair, after each of its pairs, and every
 * 50 ms once it has none left; each time it first tells, one call each, the
 * pairs any thread finished since. A true return cancels: every thread
 * abandons its pair, and the call returns DL_CANCELLED. On cancel or
 * failure the pairs that finished stay in results (NULL for the others) —
 * a cancelled fit loses no finished pair — and the pool stays usable. */
#ifndef DENSELAB_KERNEL_SVM_PAIRS_H
#define DENSELAB_KERNEL_SVM_PAIRS_H
#include "learn/kernel_svm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { int ci, cj; } dl_rbf_pair;

typedef struct {
    int pairs_done;    /* of this call's pairs, finished (by any thread) and told so far */
    int pairs;         /* this call's pairs */
    int finished;      /* a pair (index into pairs) whose result is ready, told once; -1 in a step report */
    long iter;         /* SMO steps of the caller's own pair so far (0 while it waits) */
} dl_rbf_pairs_progress;

typedef int (*dl_rbf_pairs_progress_fn)(void *user, const dl_rbf_pairs_progress *p);

/* x: n x d; class_rows[c][0..class_counts[c]) the rows of class c in
 * training-set order (c < num_classes); pairs[count] with ci < cj <
 * num_classes; gamma, mean/std, params as for dl_rbf_svm_train_pair_at.
 * results[count], sizes[count]: each result malloc'd (the caller frees it),
 * NULL where the pair did not finish. A failing pair stops the taking of
 * new ones (the running ones finish and are kept) and its reason names it. */
const char *dl_rbf_svm_train_pairs_at(const float *x, int n, int d,
                                      const int *const *class_rows, const int *class_counts, int num_classes,
                                      const dl_rbf_pair *pairs, int count,
                                      double gamma, const float *mean, const float *std,
                                      const dl_rbf_svm_params *params,
                                      dl_rbf_pairs_progress_fn progress, void *user,
                                      uint8_t **results, size_t *sizes);

/* The same over stored rows (float32 or float16, learn_common.h): float16
 * rows are read in place and converted per use, as in
 * dl_rbf_svm_train_pair_at_rows; results[k] is the same bytes as that
 * function gives for pairs[k] (and as float32 rows holding the same values),
 * whatever the number of threads. */
const char *dl_rbf_svm_train_pairs_at_rows(const dl_rows *x,
                                           const int *const *class_rows, const int *class_counts, int num_classes,
                                           const dl_rbf_pair *pairs, int count,
                                           double gamma, const float *mean, const float *std,
                                           const dl_rbf_svm_params *params,
                                           dl_rbf_pairs_progress_fn progress, void *user,
                                           uint8_t **results, size_t *sizes);

/* For tests: in the next call, pairs[index] fails in its thread as if out
 * of memory (a negative index: none). */
void dl_rbf_svm_pairs_fail_pair(int index);

#ifdef __cplusplus
}
#endif
#endif
