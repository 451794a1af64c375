/* metrics.c — see metrics.h. */
#include "learn/metrics.h"
#include "learn/learn_common.h"
#include <string.h>

double dl_accuracy(const int *truth, const int *pred, int n) {
    if (n <= 0) return 0.0;
    int ok = 0;
    for (int i = 0; i < n; i++) ok += truth[i] == pred[i];
    return (double)ok / n;
}

const char *dl_confusion_matrix(const int *truth, const int *pred, int n, int k, int *cm) {
    if (k <= 0) return "confusion matrix: no classes";
    memset(cm, 0, sizeof(int) * (size_t)k * k);
    for (int i = 0; i < n; i++) {
        if (truth[i] < 0 || truth[i] >= k) return dl_errorf("confusion matrix: true label %d at row %d outside 0..%d", truth[i], i, k - 1);
        if (pred[i] < 0 || pred[i] >= k) return dl_errorf("confusion matrix: predicted label %d at row %d outside 0..%d", pred[i], i, k - 1);
        cm[truth[i] * k + pred[i]]++;
    }
    return NULL;
}
