/* train.h — "your own classes": a classifier trained on the user's images,
 * shared by `denselab train`, `node wasm/cli.js train` and web/train.html so
 * that all three agree on the folds, the report and the project file.
 *
 * Cross-validation. dl_cv_folds assigns every image a fold, stratified: the
 * images of each class, in order, go round-robin over the folds, each class
 * starting where the previous one stopped (fold sizes differ by at most one).
 * cv = DL_CV_AUTO: 5 folds, or leave-one-out when a class has fewer than 5
 * images; cv = DL_CV_LEAVE_ONE_OUT: one fold per image; cv >= 2: cv folds.
 * Every class needs at least 2 images (so that every training fold holds it).
 *
 * Held-out evaluation. dl_holdout_folds holds out round(holdout x count) images
 * of each class (at least 1, and at least 1 left to train on), chosen by a
 * seeded shuffle of the class's images (dl_rng: the same on every platform):
 * fold 0 for them, DL_FOLD_TRAIN_ONLY for the rest, *folds = 1. The project's
 * holdout (0: cross-validation) picks between the two (dl_project_folds).
 *
 * Project file (little-endian), "DLPROJ01":
 *   0  char[8] "DLPROJ01"
 *   8  u32     version (1; 2 when the project evaluates by a held-out fraction)
 *   12 u32     input size S (DenseNet121 features at S x S)
 *   16 u32     cv (as above: 0 auto, 1 leave-one-out, k >= 2)
 *   20 u32     number of classes (2..DL_PROJECT_MAX_CLASSES)
 *   24 u32     number of images
 *   28 u32     number of classifier parameters (<= DL_FIT_MAX_PARAMS)
 *   32  f64    holdout fraction, version 2 only (then everything below starts 8 bytes later)
 *   32         string kind ("linear-svm"); per parameter: string name, f64 value;
 *              per class: string name; u32 classifier bytes + a DLCLASS1 file (0: untrained);
 *              per image: u32 class, string name, u32 bytes + the image file's bytes
 *   end-4 u32  CRC-32 (IEEE) of every preceding byte
 * A string is a u32 length then that many bytes of UTF-8 (no NUL). */
#ifndef DENSELAB_TRAIN_H
#define DENSELAB_TRAIN_H
#include <stddef.h>
#include <stdint.h>
#include "common/text.h"
#include "learn/experiment.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DL_CV_AUTO = 0, DL_CV_LEAVE_ONE_OUT = 1, DL_CV_DEFAULT_FOLDS = 5 };
enum { DL_FOLD_TRAIN_ONLY = -1 };   /* an image always trained on, never predicted */
#define DL_HOLDOUT_SEED 1            /* the held-out images every host picks */
#define DL_PROJECT_MAX_CLASSES 50
#define DL_PROJECT_MAX_NAME 255   /* bytes of a class or image name */

/* fold[n]; *folds = the number of folds used. Labels in 0..k-1. */
const char *dl_cv_folds(const int *y, int n, int k, int cv, int *fold, int *folds);

/* fold[n] (0: held out, DL_FOLD_TRAIN_ONLY: trained on); *folds = 1. 0 < holdout < 1. */
const char *dl_holdout_folds(const int *y, int n, int k, double holdout, uint64_t seed, int *fold, int *folds);

/* Out-of-fold predictions: for each fold, fit kind on the other folds and
 * predict this one into pred[n] (-1 for DL_FOLD_TRAIN_ONLY rows, which are
 * in every training set). progress (may be NULL) sees phase
 * "cross-validation", step = folds done, steps = folds; nonzero cancels. */
const char *dl_cross_validate(const char *kind, const float *x, const int *y, int n, int d,
                              const dl_fit_params *p, const int *fold, int folds,
                              dl_learn_progress_fn progress, void *user, int *pred);

/* The k x k confusion (rows: truth) of the predicted images (pred >= 0). */
const char *dl_train_confusion(const int *y, const int *pred, int n, int k, int *confusion);

/* The result as both CLIs print it: text, or one JSON object. confusion is
 * k x k (rows: truth) of the evaluated images; n images in all; folds as
 * dl_cv_folds gave it (folds == n: leave-one-out); holdout > 0: a held-out evaluation. */
void dl_train_report_format(dl_text *t, int json, int k, const char *const *class_names,
                            const int *confusion, int n, int folds, double holdout);

/* One image's prediction after its file name: text " LABEL (name score, ...)"
 * sorted by score, or JSON ", \"label\": ..., \"scores\": {...}". */
void dl_train_prediction_format(dl_text *t, int json, int k, const char *const *class_names, const float *scores);

typedef struct {
    int label;
    char *name;
    uint8_t *bytes;
    size_t size;
} dl_project_image;

typedef struct {
    int size, cv;
    double holdout;                 /* 0: cross-validation (cv); else the fraction held out */
    char kind[32];
    dl_fit_params params;
    int num_classes;
    char *class_names[DL_PROJECT_MAX_CLASSES];
    uint8_t *classifier;            /* DLCLASS1 bytes, or NULL (untrained) */
    size_t classifier_size;
    int num_images;
    dl_project_image *images;
} dl_project;

/* A class or image name: 1..DL_PROJECT_MAX_NAME bytes of UTF-8, no control characters. */
const char *dl_project_check_name(const char *what, const char *name, size_t len);
/* p zeroed and set; kind must be in the table, size 32..1024. */
const char *dl_project_init(dl_project *p, int size, int cv, const char *kind, const dl_fit_params *params);
/* 0 (cross-validation) or 0 < holdout < 1. */
const char *dl_project_set_holdout(dl_project *p, double holdout);
/* The project's evaluation folds for labels y[n] of its classes (held out or cross-validation). */
const char *dl_project_folds(const dl_project *p, const int *y, int n, int *fold, int *folds);
const char *dl_project_add_class(dl_project *p, const char *name, size_t len);
/* A copy of a DLCLASS1 file; its classes must be the project's. */
const char *dl_project_set_classifier(dl_project *p, const uint8_t *bytes, size_t size);
const char *dl_project_add_image(dl_project *p, int label, const char *name, size_t name_len,
                                 const uint8_t *bytes, size_t size);
const char *dl_project_save(const dl_project *p, uint8_t **buf, size_t *size);
/* Fully validates; on failure *p is left empty. */
const char *dl_project_load(const uint8_t *buf, size_t size, dl_project *p);
void dl_project_free(dl_project *p);

#ifdef __cplusplus
}
#endif
#endif
