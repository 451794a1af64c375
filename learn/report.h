/* report.h — the Fashion-MNIST comparison as both CLIs print it: which rows
 * there are, which data each row trains on, and the text and JSON layout.
 * One place, so that `denselab fashion` natively and `node wasm/cli.js
 * fashion` print the same bytes (timings aside): the WASM CLI calls these
 * through wasm/api.c.
 *
 *   dl_text t = {0};
 *   dl_report_head(&t, json, size, n, m, feature_seconds, have_features);
 *   for each row: dl_report_row(&t, json, first, name, n, seconds, accuracy, confusion, k);
 *   dl_report_tail(&t, json);
 */
#ifndef DENSELAB_REPORT_H
#define DENSELAB_REPORT_H
#include "common/text.h"
#include "learn/experiment.h"

/* The comparison's rows: every kind of the classifier table, then the linear
 * SVM on raw [0, 1] pixels (the baseline the features must beat). */
#define DL_PIXEL_BASELINE "pixels-linear-svm"
int dl_report_row_count(void);
const char *dl_report_row_name(int i);        /* NULL outside 0..count-1 */
/* The classifier kind a row trains ("linear-svm" for the baseline), or NULL. */
const char *dl_report_row_kind(const char *row);
/* Training rows of a row: the RBF SVM (kernel SVMs scale with n^2) trains on
 * the first rbf_max images, every other row on all n. */
int dl_report_row_train(const char *row, int n, int rbf_max);
/* The experiment's own parameter values, where they differ from the kind's
 * defaults: both CLIs' `fashion` start from them, then apply the user's
 * flags; the page's fields start with the same (web/defaults.js, a test
 * checks). Clears p first. */
void dl_report_row_params(const char *row, dl_fit_params *p);
/* How the experiment stores a row's pooled features: 1 as float16 (half the
 * memory: 70,000 x 1,024 features are 143 MB instead of 287 MB, which the
 * page's 800 MB budget needs, issue 11), 0 as float32. Float16 only where
 * every accuracy stays within 0.1 points of float32 (docs/benchmarks.md,
 * "Float16 feature storage"): the two SVMs (moved by at most 0.01 points);
 * the softmax head moved 0.23 points, so it, fine-tuning's rows and the
 * pixel baseline stay float32. Both CLIs' `fashion` (--feature-type f32|f16
 * sets every row) and the page read it (the JS API's reportRows). */
int dl_report_row_features_f16(const char *row);
/* 1 if a row trains on the frozen part's output (the input of conv5_block1,
 * models/finetune_split.h) instead of the pooled features: "finetune". */
int dl_report_row_block_input(const char *row);

/* Text: "features: N + M images at SxS in T s" (only with features).
 * JSON: the object's head, {"size": S, "train": N, "test": M, "feature_seconds": T, "results": [ */
void dl_report_head(dl_text *t, int json, int size, int n, int m, double feature_seconds, int have_features);
/* One result: a line, or one object of "results" with its k x k confusion matrix. */
void dl_report_row(dl_text *t, int json, int first, const char *name, int n, double seconds,
                   double accuracy, const int *confusion, int k);
/* JSON: "]}\n"; text: nothing. */
void dl_report_tail(dl_text *t, int json);

#endif
