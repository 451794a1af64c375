/* experiment.c — fit a classifier by name; evaluate it. */
#include "learn/experiment.h"
#include "learn/kernel_svm.h"
#include "learn/linear_svm.h"
#include "learn/metrics.h"
#include "learn/softmax_head.h"
#include <stdlib.h>
#include <string.h>

void dl_fit_default_params(dl_fit_params *p) {
    memset(p, 0, sizeof *p);
    p->C = 1; p->cache_mb = 200;
    p->epochs = 10; p->hidden = 128; p->batch_size = 32; p->lr = 1e-3;
    p->seed = 1;
}

const char *dl_fit(const char *kind, const float *x, const int *y, int n, int d,
                   const dl_fit_params *p, dl_learn_progress_fn progress, void *user,
                   dl_classifier **out, dl_train_report *report) {
    if (!strcmp(kind, "linear-svm")) {
        dl_linear_svm_params lp;
        dl_linear_svm_default_params(&lp);
        lp.C = p->C; lp.seed = p->seed;
        return dl_linear_svm_train(x, y, n, d, &lp, progress, user, out, report);
    }
    if (!strcmp(kind, "rbf-svm")) {
        dl_rbf_svm_params rp;
        dl_rbf_svm_default_params(&rp);
        rp.C = p->C; rp.gamma = p->gamma; rp.cache_mb = p->cache_mb;
        return dl_rbf_svm_train(x, y, n, d, &rp, progress, user, out, report);
    }
    if (!strcmp(kind, "softmax")) {
        dl_softmax_params sp;
        dl_softmax_default_params(&sp);
        sp.epochs = p->epochs; sp.hidden = p->hidden; sp.batch_size = p->batch_size; sp.lr = p->lr; sp.seed = p->seed;
        return dl_softmax_train(x, y, n, d, NULL, NULL, 0, &sp, progress, user, out, report);
    }
    return dl_errorf("unknown classifier '%s' (expected linear-svm, rbf-svm or softmax)", kind);
}

const char *dl_evaluate(const dl_classifier *c, const float *x, const int *y, int n,
                        double *accuracy, int *confusion, int *pred) {
    if (n < 1) return "the test set is empty";
    int *p = pred ? pred : malloc(sizeof(int) * (size_t)n);
    if (!p) return "out of memory";
    const char *err = dl_classifier_predict(c, x, n, p, NULL);
    if (!err) err = dl_confusion_matrix(y, p, n, c->num_classes, confusion);
    if (!err) *accuracy = dl_accuracy(y, p, n);
    if (!pred) free(p);
    return err;
}
