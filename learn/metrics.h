/* metrics.h — accuracy and confusion matrix. */
#ifndef DENSELAB_METRICS_H
#define DENSELAB_METRICS_H
#ifdef __cplusplus
extern "C" {
#endif

/* Fraction of i with pred[i] == truth[i]; 0 if n <= 0. */
double dl_accuracy(const int *truth, const int *pred, int n);
/* cm[t * k + p] = number of samples with truth t predicted p. Labels outside
 * 0..k-1 are an error (named with the row). */
const char *dl_confusion_matrix(const int *truth, const int *pred, int n, int k, int *cm);

#ifdef __cplusplus
}
#endif
#endif
