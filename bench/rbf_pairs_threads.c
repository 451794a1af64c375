/* rbf_pairs_threads.c — the RBF SVM's 45 pairs with dl_rbf_svm_train_pairs_at
 * (learn/kernel_svm_pairs.h) on 1 and on T threads, natively, on the first N
 * rows of a features .npy (float32, rows x d; labels in FILE.labels.npy, int32).
 * Prints wall seconds and the critical path (common/parallel.h: each thread's
 * CPU time, the slowest one's), which a machine loaded by other jobs does not
 * inflate as it does the wall time; and checks that T threads give the
 * 1-thread bytes.
 *   build/native/learn/rbf_pairs_threads build/bench/features32.npy 10000 2 [cache_mb] */
#include "common/parallel.h"
#include "learn/kernel_svm_pairs.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A little-endian .npy of `want` ('<f4' or '<i4') with at least `rows` rows: the first rows x *cols
 * values (shape (rows,) gives *cols = 1: sscanf stops at the ')'). */
static void *read_npy(const char *file, const char *want, long rows, long *cols) {
    FILE *f = fopen(file, "rb");
    char head[512] = {0};
    unsigned char pre[10];
    if (!f || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) { fprintf(stderr, "%s: not a .npy file\n", file); exit(1); }
    size_t len = pre[8] | pre[9] << 8;
    long have = 0;
    *cols = 1;
    if (len >= sizeof head || fread(head, 1, len, f) != len || !strstr(head, want) || !strstr(head, "(") ||
        sscanf(strstr(head, "(") + 1, "%ld, %ld", &have, cols) < 1 || have < rows) {
        fprintf(stderr, "%s: need %s with at least %ld rows (header %s)\n", file, want, rows, head); exit(1);
    }
    size_t count = (size_t)rows * (size_t)*cols;
    void *out = malloc(count * 4);
    if (!out || fread(out, 4, count, f) != count) { fprintf(stderr, "%s: short\n", file); exit(1); }
    fclose(f);
    return out;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s FEATURES.npy N THREADS [CACHE_MB]\n", argv[0]); return 1; }
    long n = atol(argv[2]), d, one = 0;
    int threads = atoi(argv[3]);
    char labels[1024];
    snprintf(labels, sizeof labels, "%.*s.labels.npy", (int)(strlen(argv[1]) - 4), argv[1]);
    float *x = read_npy(argv[1], "<f4", n, &d);
    int *y = read_npy(labels, "<i4", n, &one);
    dl_rbf_svm_params params;
    dl_rbf_svm_default_params(&params);
    params.cache_mb = argc > 4 ? atof(argv[4]) : 32;   /* the page's pairCacheMb */
    int K;
    double gamma;
    const char *err = dl_rbf_svm_prepare(x, y, (int)n, (int)d, &params, &K, &gamma, NULL, NULL);
    if (err) { fprintf(stderr, "%s\n", err); return 1; }
    int *rows = malloc(sizeof(int) * (size_t)n), counts[256] = {0}, start[257] = {0};
    const int *rows_of[256];
    for (long i = 0; i < n; i++) counts[y[i]]++;
    for (int c = 0; c < K; c++) { start[c + 1] = start[c] + counts[c]; rows_of[c] = rows + start[c]; counts[c] = 0; }
    for (long i = 0; i < n; i++) rows[start[y[i]] + counts[y[i]]++] = (int)i;
    int npairs = K * (K - 1) / 2;
    dl_rbf_pair *pairs = malloc(sizeof *pairs * (size_t)npairs);
    for (int ci = 0, p = 0; ci < K; ci++) for (int cj = ci + 1; cj < K; cj++) pairs[p++] = (dl_rbf_pair){ci, cj};
    uint8_t **results[2];
    size_t *sizes[2];
    double wall[2], critical[2];
    int counts_t[2] = {1, threads};
    for (int r = 0; r < 2; r++) {
        results[r] = calloc((size_t)npairs, sizeof(uint8_t *));
        sizes[r] = calloc((size_t)npairs, sizeof(size_t));
        if ((err = dl_parallel_set_threads(counts_t[r]))) { fprintf(stderr, "%s\n", err); return 1; }
        dl_parallel_measure_start();
        double t0 = now_seconds();
        err = dl_rbf_svm_train_pairs_at(x, (int)n, (int)d, rows_of, counts, K, pairs, npairs, gamma, NULL, NULL, &params,
                                        NULL, NULL, results[r], sizes[r]);
        wall[r] = now_seconds() - t0;
        critical[r] = dl_parallel_critical_seconds();
        if (err) { fprintf(stderr, "%s\n", err); return 1; }
    }
    int same = 1;
    for (int p = 0; p < npairs; p++)
        same &= sizes[0][p] == sizes[1][p] && !memcmp(results[0][p], results[1][p], sizes[0][p]);
    printf("{\"train\": %ld, \"d\": %ld, \"cache_mb\": %g, \"threads\": %d, \"wall_1\": %.2f, \"wall_%d\": %.2f, "
           "\"critical_1\": %.2f, \"critical_%d\": %.2f, \"critical_ratio\": %.3f, \"wall_ratio\": %.3f, \"same_bytes\": %s}\n",
           n, d, params.cache_mb, threads, wall[0], threads, wall[1], critical[0], threads, critical[1],
           critical[1] / critical[0], wall[1] / wall[0], same ? "true" : "false");
    return same ? 0 : 1;
}
