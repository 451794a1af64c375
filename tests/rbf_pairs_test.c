/* rbf_pairs_test.c — learn/kernel_svm_pairs.h: the pairs trained together on
 * 1, 2 and 3 threads give, pair by pair, the bytes dl_rbf_svm_train_pair_at
 * gives alone; every finished pair is told to the caller once; a cancel
 * keeps the finished pairs and a second call on the rest completes the set;
 * a pair out of memory gives a reason naming it, keeps the others and
 * leaves the pool working; bad arguments give reasons. Float16 rows (read in
 * place) give, on 1, 2 and 3 threads, the bytes dl_rbf_svm_train_pair_at
 * gives on float32 rows holding the same values. A workspace kept between
 * pairs (dl_rbf_svm_workspace) gives every pair its own-buffer bytes. Float16
 * pairs run on float16 panels here (dl_rbf_svm_f16_panels_from(0)).
 * Small: 5 classes of different sizes (10 pairs), 24 features.
 * Prints one line per failed check and "rbf_pairs_test: N checks, M failed". */
#include "common/parallel.h"
#include "common/reason.h"
#include "common/rng.h"
#include "kernels/kernels.h"
#include "learn/kernel_svm_pairs.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

enum { K = 5, D = 24, PAIRS = K * (K - 1) / 2 };
static const int class_size[K] = {90, 140, 60, 170, 110};

static float *x;
static int n, *rows_of[K], counts[K];
static dl_rbf_pair pairs[PAIRS];
static uint8_t *expected[PAIRS], *expected_f16[PAIRS];   /* from float32 rows: x, and x rounded to float16 */
static size_t expected_size[PAIRS], expected_f16_size[PAIRS];
static uint16_t *halves;                                  /* x as float16 */
static double gamma_scale;
static dl_rbf_svm_params params;

/* Overlapping Gaussian-ish clusters, the classes interleaved in training-set order. */
static void make_data(void) {
    dl_rng r;
    dl_rng_seed(&r, 11);
    for (int c = 0; c < K; c++) n += class_size[c];
    x = malloc(sizeof(float) * (size_t)n * D);
    int *y = malloc(sizeof(int) * (size_t)n);
    for (int c = 0; c < K; c++) { rows_of[c] = malloc(sizeof(int) * class_size[c]); counts[c] = 0; }
    for (int i = 0; i < n; i++) {
        int c;
        do c = (int)dl_rng_below(&r, K); while (counts[c] == class_size[c]);
        y[i] = c;
        rows_of[c][counts[c]++] = i;
        for (int f = 0; f < D; f++) {
            double noise = dl_rng_uniform(&r) + dl_rng_uniform(&r) + dl_rng_uniform(&r) - 1.5;
            x[(size_t)i * D + f] = (float)((f % K == c ? 0.8 : 0.0) + noise);
        }
    }
    dl_rbf_svm_default_params(&params);
    params.cache_mb = 0.05;   /* a small cache: eviction on the way, as at 60,000 */
    int k;
    CHECK_OK(dl_rbf_svm_prepare(x, y, n, D, &params, &k, &gamma_scale, NULL, NULL));
    CHECK(k == K, "%d classes", k);
    free(y);
    halves = malloc(sizeof(uint16_t) * (size_t)n * D);
    float *rounded = malloc(sizeof(float) * (size_t)n * D);
    f16_from_f32((size_t)n * D, x, halves);
    f32_from_f16((size_t)n * D, halves, rounded);
    for (int ci = 0, p = 0; ci < K; ci++)
        for (int cj = ci + 1; cj < K; cj++, p++) {
            pairs[p] = (dl_rbf_pair){ci, cj};
            CHECK_OK(dl_rbf_svm_train_pair_at(x, n, D, rows_of[ci], counts[ci], rows_of[cj], counts[cj], ci, cj, gamma_scale,
                                              NULL, NULL, &params, NULL, NULL, &expected[p], &expected_size[p]));
            CHECK_OK(dl_rbf_svm_train_pair_at(rounded, n, D, rows_of[ci], counts[ci], rows_of[cj], counts[cj], ci, cj, gamma_scale,
                                              NULL, NULL, &params, NULL, NULL, &expected_f16[p], &expected_f16_size[p]));
        }
    free(rounded);
    int moved = 0;   /* the rounding changes some pair, or the float16 case would prove nothing */
    for (int p = 0; p < PAIRS; p++) moved |= expected_size[p] != expected_f16_size[p] || memcmp(expected[p], expected_f16[p], expected_size[p]);
    CHECK(moved, "float16 rounding changed no pair");
}

typedef struct { int told[PAIRS], calls, cancel_after, last_done; } listener;

static int listen(void *user, const dl_rbf_pairs_progress *p) {
    listener *l = user;
    l->calls++;
    if (p->finished >= 0 && p->finished < PAIRS) {
        l->told[p->finished]++;
        CHECK(p->pairs_done == l->last_done + 1, "pair %d told as done %d after %d", p->finished, p->pairs_done, l->last_done);
        l->last_done = p->pairs_done;
    }
    CHECK(p->pairs_done >= 0 && p->pairs_done <= p->pairs, "pairs_done %d of %d", p->pairs_done, p->pairs);
    return l->cancel_after && p->pairs_done >= l->cancel_after;
}

static const char *run(const dl_rbf_pair *list, int count, listener *l, uint8_t **res, size_t *sizes) {
    return dl_rbf_svm_train_pairs_at(x, n, D, (const int *const *)rows_of, counts, K, list, count, gamma_scale, NULL, NULL,
                                     &params, l ? listen : NULL, l, res, sizes);
}

/* res[k] for list[k] is expected's bytes; returns how many finished. */
static int check_results(const dl_rbf_pair *list, int count, uint8_t **res, const size_t *sizes, const char *what) {
    int finished = 0;
    for (int k = 0; k < count; k++) {
        if (!res[k]) continue;
        finished++;
        int p = 0;
        while (pairs[p].ci != list[k].ci || pairs[p].cj != list[k].cj) p++;
        CHECK(sizes[k] == expected_size[p] && !memcmp(res[k], expected[p], sizes[k]),
              "%s: pair (%d, %d) differs from dl_rbf_svm_train_pair_at's", what, list[k].ci, list[k].cj);
    }
    return finished;
}

static void free_results(uint8_t **res, int count) { for (int k = 0; k < count; k++) { free(res[k]); res[k] = NULL; } }

static void test_threads(int threads) {
    CHECK_OK(dl_parallel_set_threads(threads));
    uint8_t *res[PAIRS]; size_t sizes[PAIRS];
    listener l = {{0}, 0, 0, 0};
    CHECK_OK(run(pairs, PAIRS, &l, res, sizes));
    CHECK(check_results(pairs, PAIRS, res, sizes, "all") == PAIRS, "%d threads: not every pair finished", threads);
    for (int k = 0; k < PAIRS; k++) CHECK(l.told[k] == 1, "%d threads: pair %d told %d times", threads, k, l.told[k]);
    free_results(res, PAIRS);

    /* Cancel once two pairs are done: those (and any that finished meanwhile) are kept, the rest resumed.
     * Only the caller hears the cancel, between its own SMO steps and pairs: on a loaded machine the
     * other threads may finish every pair first, so only one thread must stop at exactly 2. */
    listener c = {{0}, 0, 2, 0};
    const char *err = run(pairs, PAIRS, &c, res, sizes);
    CHECK(err == DL_CANCELLED, "%d threads: cancel gave \"%s\"", threads, err ? err : "(success)");
    int kept = check_results(pairs, PAIRS, res, sizes, "cancelled");
    CHECK(kept >= 2 && (threads > 1 || kept == 2), "%d threads: %d pairs kept after a cancel at 2", threads, kept);
    for (int k = 0; k < PAIRS; k++) CHECK(c.told[k] == (res[k] != NULL), "%d threads: pair %d told %d times, finished %d", threads, k, c.told[k], res[k] != NULL);
    dl_rbf_pair rest[PAIRS];
    int left = 0;
    for (int k = 0; k < PAIRS; k++) if (!res[k]) rest[left++] = pairs[k];
    uint8_t *res2[PAIRS]; size_t sizes2[PAIRS];
    listener r = {{0}, 0, 0, 0};
    CHECK_OK(run(rest, left, &r, res2, sizes2));
    CHECK(check_results(rest, left, res2, sizes2, "resumed") == left, "%d threads: the resumed call left pairs", threads);
    free_results(res, PAIRS);
    free_results(res2, left);

    /* A pair out of memory in its thread: a reason naming it, the other finished pairs kept; then a whole run. */
    dl_rbf_svm_pairs_fail_pair(4);
    err = run(pairs, PAIRS, NULL, res, sizes);
    CHECK_ERR(err, "out of memory");
    char want[64];
    snprintf(want, sizeof want, "rbf-svm pair (%d, %d)", pairs[4].ci, pairs[4].cj);
    CHECK_ERR(err, want);
    CHECK(res[4] == NULL, "%d threads: the failed pair has a result", threads);
    check_results(pairs, PAIRS, res, sizes, "after a failure");
    free_results(res, PAIRS);
    CHECK_OK(run(pairs, PAIRS, NULL, res, sizes));
    CHECK(check_results(pairs, PAIRS, res, sizes, "after a failure, again") == PAIRS, "%d threads: the run after a failure", threads);
    free_results(res, PAIRS);
}

/* Float16 rows in place: every pair the bytes of float32 rows holding the same values. */
static void test_halves(int threads) {
    CHECK_OK(dl_parallel_set_threads(threads));
    dl_rows rows = dl_rows_f16(halves, n, D);
    uint8_t *res[PAIRS]; size_t sizes[PAIRS];
    listener l = {{0}, 0, 0, 0};
    CHECK_OK(dl_rbf_svm_train_pairs_at_rows(&rows, (const int *const *)rows_of, counts, K, pairs, PAIRS, gamma_scale, NULL, NULL,
                                            &params, listen, &l, res, sizes));
    for (int k = 0; k < PAIRS; k++) {
        CHECK(res[k] && sizes[k] == expected_f16_size[k] && !memcmp(res[k], expected_f16[k], sizes[k]),
              "%d threads, float16 rows: pair (%d, %d) differs from float32 rows of the same values", threads, pairs[k].ci, pairs[k].cj);
        CHECK(l.told[k] == 1, "%d threads, float16 rows: pair %d told %d times", threads, k, l.told[k]);
    }
    free_results(res, PAIRS);
    CHECK_ERR(dl_rbf_svm_train_pairs_at_rows(NULL, (const int *const *)rows_of, counts, K, pairs, 1, gamma_scale, NULL, NULL,
                                             &params, NULL, NULL, res, sizes), "NULL rows");
}

/* One workspace through pairs of both row types and growing and shrinking
 * sizes (a float32 pair after a float16 one needs twice the bytes): every
 * pair the bytes of its own-buffer training; the room grows only when a
 * pair does not fit, and is kept otherwise. */
static void test_workspace(void) {
    dl_rbf_svm_workspace ws = {0};
    dl_rows r32 = dl_rows_f32(x, n, D), r16 = dl_rows_f16(halves, n, D);
    const int order[] = {9, 0, 5, 2, 9, 7};   /* pair indices: small, large, ... */
    size_t before = 0;
    for (int t = 0; t < 2 * (int)(sizeof order / sizeof *order); t++) {
        int p = order[t / 2], f16 = t % 2 == 0, ci = pairs[p].ci, cj = pairs[p].cj;
        uint8_t *res = NULL;
        size_t size = 0;
        CHECK_OK(dl_rbf_svm_train_pair_at_rows_in(&ws, f16 ? &r16 : &r32, rows_of[ci], counts[ci], rows_of[cj], counts[cj], ci, cj,
                                                  gamma_scale, NULL, NULL, &params, NULL, NULL, &res, &size));
        const uint8_t *want = f16 ? expected_f16[p] : expected[p];
        CHECK(res && size == (f16 ? expected_f16_size[p] : expected_size[p]) && !memcmp(res, want, size),
              "workspace: pair (%d, %d) %s rows: not the bytes of its own buffer", ci, cj, f16 ? "float16" : "float32");
        size_t need = f32_gemm_packed_size(D, (size_t)(counts[ci] + counts[cj])) * (f16 ? 2 : 4);
        CHECK(ws.panels && ws.bytes >= need && (ws.bytes == before || ws.bytes == need),
              "workspace: %zu bytes after a pair needing %zu (before %zu)", ws.bytes, need, before);
        before = ws.bytes;
        free(res);
    }
    dl_rbf_svm_workspace_free(&ws);
    CHECK(!ws.panels && !ws.bytes, "workspace freed");
    dl_rbf_svm_workspace_free(NULL);
}

static void test_bad_arguments(void) {
    uint8_t *res[PAIRS]; size_t sizes[PAIRS];
    dl_rbf_pair bad[2] = {{0, 1}, {2, 2}};
    CHECK_ERR(run(bad, 2, NULL, res, sizes), "pair 1 is (2, 2)");
    bad[1] = (dl_rbf_pair){1, K};
    CHECK_ERR(run(bad, 2, NULL, res, sizes), "need 0 <= ci < cj < 5");
    CHECK_ERR(run(bad, -1, NULL, res, sizes), "NULL pairs");
    CHECK_ERR(run(pairs, 1, NULL, NULL, sizes), "NULL pairs or results");
    int zero[K] = {0};
    CHECK_ERR(dl_rbf_svm_train_pairs_at(x, n, D, (const int *const *)rows_of, zero, K, pairs, 1, gamma_scale, NULL, NULL,
                                        &params, NULL, NULL, res, sizes), "class 0 has no rows");
    CHECK_ERR(dl_rbf_svm_train_pairs_at(x, n, D, (const int *const *)rows_of, counts, 1, pairs, 1, gamma_scale, NULL, NULL,
                                        &params, NULL, NULL, res, sizes), "bad class count 1");
    /* A bad row index is the pair's own reason, with the pair named. */
    int saved = rows_of[2][0];
    rows_of[2][0] = n;
    dl_rbf_pair one = {1, 2};
    CHECK_ERR(run(&one, 1, NULL, res, sizes), "rbf-svm pair (1, 2): rbf-svm pair: row index");
    rows_of[2][0] = saved;
    CHECK_OK(run(pairs, 0, NULL, res, sizes));
}

int main(void) {
    dl_rbf_svm_f16_panels_from(0);   /* every float16 pair on float16 panels (the default: only large ones) */
    make_data();
    test_bad_arguments();
    test_workspace();
    int most = dl_parallel_available() ? 3 : 1;
    for (int t = 1; t <= most; t++) { test_threads(t); test_halves(t); }
    printf("rbf_pairs_test: %d checks, %d failed (threads 1..%d)\n", checks, failures, most);
    return failures ? 1 : 0;
}
