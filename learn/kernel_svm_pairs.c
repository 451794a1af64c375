/* kernel_svm_pairs.c — see kernel_svm_pairs.h. One dl_parallel_for with one
 * item per thread; each thread loops taking pairs from a shared counter, so
 * the pairs (of very different sizes) balance themselves. The caller's
 * thread trains pairs too, and between SMO steps and pairs it is the one
 * that reports progress and hears a cancel. */
#define _POSIX_C_SOURCE 200809L   /* nanosleep under -std=c11 */
#include "learn/kernel_svm_pairs.h"
#include "common/checked.h"
#include "common/parallel.h"
#include "common/reason.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAIR_WAITING, PAIR_FINISHED, PAIR_SETTLED };   /* PAIR_SETTLED: finished and told */

typedef struct {
    const dl_rows *x;
    const int *const *class_rows; const int *class_counts;
    const dl_rbf_pair *pairs; int count;
    const int *order;                 /* pair indices, largest first */
    double gamma; const float *mean, *std;
    const dl_rbf_svm_params *params;
    dl_rbf_pairs_progress_fn progress; void *user;
    uint8_t **results; size_t *sizes;
    int fail_pair;                    /* dl_rbf_svm_pairs_fail_pair's, for this call */
    dl_rbf_svm_workspace *ws;         /* [threads]: each thread's panels, kept from its first (largest) pair on */

    atomic_int next;                  /* the next place in order to take */
    atomic_int settled;               /* pairs taken and ended (finished, failed or abandoned) */
    atomic_int cancel;                /* the caller's progress said stop: abandon the running pairs */
    atomic_int stop_taking;           /* a pair failed: finish the running pairs, take no more */
    atomic_int *state;                /* [count] PAIR_WAITING / PAIR_FINISHED / PAIR_SETTLED */
    atomic_flag failure_taken;
    char failure[512];                /* the first failing pair's reason */
    long caller_iter;                 /* SMO steps of the caller's current pair */
    int told;                         /* finished pairs told to progress (the caller's thread only) */
} pairs_job;

static int fail_next_pair = -1;

void dl_rbf_svm_pairs_fail_pair(int index) { fail_next_pair = index; }

/* The caller's thread only: tells `progress` about every pair finished since
 * the last time (even after a cancel: the caller keeps them), then the step
 * report. 1 = cancel (remembered for every thread). */
static int report(pairs_job *job) {
    if (!job->progress) return atomic_load(&job->cancel);
    dl_rbf_pairs_progress p = {0, job->count, -1, job->caller_iter};
    for (int k = 0; k < job->count; k++) {
        if (atomic_load_explicit(&job->state[k], memory_order_acquire) != PAIR_FINISHED) continue;
        atomic_store(&job->state[k], PAIR_SETTLED);
        p.pairs_done = ++job->told;
        p.finished = k;
        if (job->progress(job->user, &p)) atomic_store(&job->cancel, 1);
    }
    p.pairs_done = job->told;
    p.finished = -1;
    if (!atomic_load(&job->cancel) && job->progress(job->user, &p)) atomic_store(&job->cancel, 1);
    return atomic_load(&job->cancel);
}

/* What kernel_svm's solver asks every 1,000 SMO steps. */
static int caller_steps(void *user, const dl_learn_progress *p) {
    pairs_job *job = user;
    job->caller_iter = p->iter;
    return report(job);
}

static int helper_steps(void *user, const dl_learn_progress *p) {
    return atomic_load(&((pairs_job *)user)->cancel);
}

static void fail(pairs_job *job, int k, const char *err) {
    atomic_store(&job->stop_taking, 1);
    if (atomic_flag_test_and_set(&job->failure_taken)) return;
    snprintf(job->failure, sizeof job->failure, "rbf-svm pair (%d, %d): %s", job->pairs[k].ci, job->pairs[k].cj, err);
}

static const char *train_one(pairs_job *job, int k, int thread) {
    int ci = job->pairs[k].ci, cj = job->pairs[k].cj;
    if (k == job->fail_pair)
        return dl_errorf("out of memory (rbf-svm pair of %d points)", job->class_counts[ci] + job->class_counts[cj]);
    return dl_rbf_svm_train_pair_at_rows_in(&job->ws[thread], job->x, job->class_rows[ci], job->class_counts[ci],
                                         job->class_rows[cj], job->class_counts[cj], ci, cj, job->gamma, job->mean, job->std,
                                         job->params, thread ? helper_steps : caller_steps, job,
                                         &job->results[k], &job->sizes[k]);
}

static void sleep_ms(int ms) {
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

static const char *pairs_share(void *ctx, size_t begin, size_t end, int thread) {
    pairs_job *job = ctx;
    while (!atomic_load(&job->cancel) && !atomic_load(&job->stop_taking)) {
        int at = atomic_fetch_add(&job->next, 1);
        if (at >= job->count) break;
        int k = job->order[at];
        if (thread == 0) job->caller_iter = 0;
        const char *err = atomic_load(&job->cancel) ? DL_CANCELLED : train_one(job, k, thread);
        if (!err) {
            atomic_store_explicit(&job->state[k], PAIR_FINISHED, memory_order_release);
        } else if (err != DL_CANCELLED) {
            fail(job, k, err);
        }
        atomic_fetch_add(&job->settled, 1);
        if (thread == 0) report(job);
    }
    /* The caller, out of pairs, keeps reporting (and hearing a cancel) until
     * every pair taken by the others has ended. */
    if (thread == 0) {
        job->caller_iter = 0;
        for (;;) {
            int taken = atomic_load(&job->next);
            if (atomic_load(&job->settled) >= (taken < job->count ? taken : job->count)) break;
            report(job);
            sleep_ms(50);
        }
    }
    return NULL;
}

/* Largest pair first (SMO's time grows faster than its rows), ties in the caller's order. */
static const dl_rbf_pair *sort_pairs;
static const int *sort_counts;
static int larger_first(const void *a, const void *b) {
    int ka = *(const int *)a, kb = *(const int *)b;
    long sa = (long)sort_counts[sort_pairs[ka].ci] + sort_counts[sort_pairs[ka].cj];
    long sb = (long)sort_counts[sort_pairs[kb].ci] + sort_counts[sort_pairs[kb].cj];
    return sa != sb ? (sa < sb ? 1 : -1) : (ka > kb) - (ka < kb);
}

static const char *check_pairs(const int *const *class_rows, const int *class_counts, int num_classes,
                               const dl_rbf_pair *pairs, int count, uint8_t **results, size_t *sizes) {
    if (count < 0 || (count && (!pairs || !results || !sizes))) return "rbf-svm pairs: NULL pairs or results";
    if (num_classes < 2 || num_classes > 256 || !class_rows || !class_counts)
        return dl_errorf("rbf-svm pairs: bad class count %d (or NULL class rows)", num_classes);
    for (int c = 0; c < num_classes; c++)
        if (class_counts[c] < 1 || !class_rows[c]) return dl_errorf("rbf-svm pairs: class %d has no rows", c);
    for (int k = 0; k < count; k++)
        if (pairs[k].ci < 0 || pairs[k].cj <= pairs[k].ci || pairs[k].cj >= num_classes)
            return dl_errorf("rbf-svm pairs: pair %d is (%d, %d); need 0 <= ci < cj < %d", k, pairs[k].ci, pairs[k].cj, num_classes);
    return NULL;
}

const char *dl_rbf_svm_train_pairs_at(const float *x, int n, int d,
                                      const int *const *class_rows, const int *class_counts, int num_classes,
                                      const dl_rbf_pair *pairs, int count,
                                      double gamma, const float *mean, const float *std,
                                      const dl_rbf_svm_params *params,
                                      dl_rbf_pairs_progress_fn progress, void *user,
                                      uint8_t **results, size_t *sizes) {
    dl_rows rows = dl_rows_f32(x, n, d);
    return dl_rbf_svm_train_pairs_at_rows(&rows, class_rows, class_counts, num_classes, pairs, count, gamma, mean, std,
                                          params, progress, user, results, sizes);
}

const char *dl_rbf_svm_train_pairs_at_rows(const dl_rows *x,
                                           const int *const *class_rows, const int *class_counts, int num_classes,
                                           const dl_rbf_pair *pairs, int count,
                                           double gamma, const float *mean, const float *std,
                                           const dl_rbf_svm_params *params,
                                           dl_rbf_pairs_progress_fn progress, void *user,
                                           uint8_t **results, size_t *sizes) {
    int fail_pair = fail_next_pair;
    fail_next_pair = -1;
    const char *err = x ? check_pairs(class_rows, class_counts, num_classes, pairs, count, results, sizes) : "rbf-svm pairs: NULL rows";
    if (err) return err;
    for (int k = 0; k < count; k++) { results[k] = NULL; sizes[k] = 0; }
    if (!count) return NULL;
    size_t state_bytes, order_bytes;
    if (!dl_mul((size_t)count, sizeof(atomic_int), &state_bytes) || !dl_mul((size_t)count, sizeof(int), &order_bytes))
        return "rbf-svm pairs: too many pairs for this platform";
    int threads = dl_parallel_threads();
    pairs_job *job = calloc(1, sizeof *job);
    atomic_int *state = calloc(1, state_bytes);
    int *order = malloc(order_bytes);
    dl_rbf_svm_workspace *ws = calloc((size_t)threads, sizeof *ws);
    if (!job || !state || !order || !ws) { free(job); free(state); free(order); free(ws); return "out of memory (rbf-svm pairs)"; }
    for (int k = 0; k < count; k++) { atomic_init(&state[k], PAIR_WAITING); order[k] = k; }
    sort_pairs = pairs; sort_counts = class_counts;   /* qsort has no context; one call at a time (parallel.h) */
    qsort(order, (size_t)count, sizeof *order, larger_first);

    *job = (pairs_job){ .x = x, .class_rows = class_rows, .class_counts = class_counts,
                        .pairs = pairs, .count = count, .order = order, .gamma = gamma, .mean = mean, .std = std,
                        .params = params, .progress = progress, .user = user, .results = results, .sizes = sizes,
                        .fail_pair = fail_pair, .state = state, .ws = ws };
    atomic_init(&job->next, 0); atomic_init(&job->settled, 0);
    atomic_init(&job->cancel, 0); atomic_init(&job->stop_taking, 0);
    atomic_flag_clear(&job->failure_taken);

    /* One item per thread, even with fewer pairs than threads: parallel.h skips a thread's empty
     * range, and thread 0 (the caller) must run to report progress and hear a cancel. */
    err = dl_parallel_for((size_t)threads, pairs_share, job);
    report(job);   /* the pairs that finished after the caller's last report */
    if (!err && job->failure[0]) err = dl_errorf("%s", job->failure);
    else if (!err && atomic_load(&job->cancel)) err = DL_CANCELLED;
    for (int t = 0; t < threads; t++) dl_rbf_svm_workspace_free(&ws[t]);
    free(job); free(state); free(order); free(ws);
    return err;
}
