/* learn_tool.c — trains and evaluates one classifier on LIBSVM-format text
 * files (or raw IDX files) and prints the results as one JSON object; used
 * by tests/learn.test.js to compare against liblinear-train / svm-train.
 *
 *   learn_tool KIND TRAIN TEST [options]
 *     KIND: a kind of learn/experiment.c's table (linear-svm, rbf-svm, softmax, finetune)
 *     TRAIN/TEST: LIBSVM text ("label index:value ..."), or
 *                 idx:IMAGES,LABELS[,N] (uncompressed IDX, pixels / 255, first N)
 *     --PARAM VALUE  any parameter of the kind, as in the table (--C 0.1,
 *                    --max-iter 50, --standardize 0, --cache-mb 100, --batch-size 16)
 *     --save FILE (write the DLCLASS1 model, reload it, predict with the copy)
 *     --predictions FILE (one predicted label per line)
 *     --progress (progress lines on stderr)
 */
#include "learn/experiment.h"
#include "learn/idx.h"
#include "learn/kernel_svm.h"
#include "learn/metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { float *x; int *y; int n, d; } dataset;

static double now(void) {
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int die(const char *what, const char *why) {
    fprintf(stderr, "learn_tool: %s: %s\n", what, why);
    return 1;
}

static const char *read_file(const char *path, uint8_t **buf, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return "cannot open file";
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) { fclose(f); return "out of memory"; }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(b, cap *= 2);
        if (!nb) free(b);
        b = nb;
    }
    fclose(f);
    *buf = b; *size = n;
    return NULL;
}

/* LIBSVM text -> dense rows. d_fixed > 0: use that width (ignore larger
 * indices, as LIBLINEAR does for test data); else the largest index. */
static const char *read_libsvm(const char *path, int d_fixed, dataset *ds) {
    uint8_t *buf; size_t size;
    const char *err = read_file(path, &buf, &size);
    if (err) return err;
    char *text = realloc(buf, size + 1);
    if (!text) { free(buf); return "out of memory"; }
    text[size] = 0;
    int n = 0, d = 0;
    for (char *p = text; *p;) {   /* pass 1: rows and width */
        char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        if (eol > p) n++;
        for (char *q = p; q < eol; q++)
            if (*q == ':') {
                char *s = q;
                while (s > p && s[-1] >= '0' && s[-1] <= '9') s--;
                int idx = atoi(s);
                if (idx > d) d = idx;
            }
        p = *eol ? eol + 1 : eol;
    }
    if (d_fixed > 0) d = d_fixed;
    if (n == 0 || d == 0) { free(text); return "no data"; }
    ds->n = n; ds->d = d;
    ds->x = calloc((size_t)n * d, sizeof(float));
    ds->y = calloc((size_t)n, sizeof(int));
    if (!ds->x || !ds->y) { free(text); return "out of memory"; }
    int i = 0;
    for (char *p = text; *p && i < n;) {
        char *eol = strchr(p, '\n');
        if (!eol) eol = p + strlen(p);
        if (eol == p) { p++; continue; }
        *eol = 0;
        char *q;
        ds->y[i] = (int)strtol(p, &q, 10);
        for (;;) {
            long idx = strtol(q, &q, 10);
            if (*q != ':') break;
            float v = strtof(q + 1, &q);
            if (idx >= 1 && idx <= d) ds->x[(size_t)i * d + idx - 1] = v;
        }
        i++;
        p = eol + 1;
    }
    free(text);
    return NULL;
}

static const char *read_idx(const char *spec, dataset *ds) {
    char paths[2][1024];
    long limit = 0;
    const char *a = spec + 4, *c1 = strchr(a, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (!c1 || c1 - a >= 1024) return "expected idx:IMAGES,LABELS[,N]";
    memcpy(paths[0], a, c1 - a); paths[0][c1 - a] = 0;
    size_t l2 = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    if (l2 >= 1024) return "path too long";
    memcpy(paths[1], c1 + 1, l2); paths[1][l2] = 0;
    if (c2) limit = atol(c2 + 1);
    uint8_t *ib, *lb; size_t is, ls;
    const char *err;
    if ((err = read_file(paths[0], &ib, &is))) return err;
    if ((err = read_file(paths[1], &lb, &ls))) { free(ib); return err; }
    dl_idx im, lab;
    if (!(err = dl_idx_parse_images(ib, is, &im)) && !(err = dl_idx_parse_labels(lb, ls, &lab)) &&
        !(err = dl_idx_check_pair(&im, &lab))) {
        uint32_t n = limit > 0 && limit < (long)im.count ? (uint32_t)limit : im.count;
        ds->n = (int)n; ds->d = (int)(im.rows * im.cols);
        ds->x = malloc(sizeof(float) * (size_t)n * ds->d);
        ds->y = malloc(sizeof(int) * n);
        if (!ds->x || !ds->y) err = "out of memory";
        else if (!(err = dl_idx_images_to_f32(&im, 0, n, 1.0f / 255, ds->x)))
            err = dl_idx_labels_to_int(&lab, 0, n, ds->y);
    }
    free(ib); free(lb);
    return err;
}

static const char *load(const char *spec, int d_fixed, dataset *ds) {
    return strncmp(spec, "idx:", 4) == 0 ? read_idx(spec, ds) : read_libsvm(spec, d_fixed, ds);
}

static void print_doubles(const char *name, const double *v, int n) {
    printf(",\"%s\":[", name);
    for (int i = 0; i < n; i++) printf("%s%.10g", i ? "," : "", v[i]);
    printf("]");
}
static void print_ints(const char *name, const int *v, int n) {
    printf(",\"%s\":[", name);
    for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", v[i]);
    printf("]");
}

static int show_progress;
static int on_progress(void *user, const dl_learn_progress *p) {
    if (show_progress)
        fprintf(stderr, "%s %d/%d iter %ld loss %.4f acc %.4f val %.4f\n", p->phase, p->step, p->steps,
                p->iter, p->loss, p->train_acc, p->val_acc);
    return 0;
}

/* --NAME VALUE for a parameter of the kind (NAME as in the table, '-' for '_'). */
static const char *set_param(const dl_classifier_kind *kind, const char *flag, const char *value, dl_fit_params *p) {
    char name[32];
    snprintf(name, sizeof name, "%s", flag + 2);
    for (char *q = name; *q; q++) if (*q == '-') *q = '_';
    int known = 0;
    for (int j = 0; j < kind->num_params; j++) known |= !strcmp(kind->params[j].name, name);
    if (!known) return "not a parameter of this classifier (see learn/experiment.c's table)";
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end) return "expected a number";
    return dl_fit_params_set(p, name, v);
}

int main(int argc, char **argv) {
    const dl_classifier_kind *kind = argc >= 4 ? dl_classifier_kind_find(argv[1]) : NULL;
    if (!kind) {
        fprintf(stderr, "usage: learn_tool %s TRAIN TEST [--PARAM VALUE]... (see learn_tool.c)\n", dl_classifier_kind_names());
        return 2;
    }
    dl_fit_params fp;
    dl_fit_default_params(&fp);
    const char *save = NULL, *pred_path = NULL, *err;
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--progress")) { show_progress = 1; continue; }
        if (strncmp(a, "--", 2) || i + 1 >= argc) { fprintf(stderr, "learn_tool: bad option %s\n", a); return 2; }
        const char *v = argv[++i];
        if (!strcmp(a, "--save")) save = v;
        else if (!strcmp(a, "--predictions")) pred_path = v;
        else if ((err = set_param(kind, a, v, &fp))) return die(a, err);
    }
    dataset tr = {0}, te = {0};
    double t0 = now();
    if ((err = load(argv[2], 0, &tr))) return die(argv[2], err);
    if ((err = load(argv[3], tr.d, &te))) return die(argv[3], err);
    if (te.d != tr.d) return die(argv[3], "test data has a different number of features");
    double t_load = now() - t0;

    dl_classifier *c = NULL;
    dl_train_report rep;
    t0 = now();
    if ((err = dl_fit(kind->name, tr.x, tr.y, tr.n, tr.d, &fp, on_progress, NULL, &c, &rep))) return die("train", err);
    double t_train = now() - t0;

    if (save) {   /* predict with a reloaded copy: exercises the file format */
        uint8_t *buf; size_t size;
        if ((err = dl_classifier_save(c, &buf, &size))) return die("save", err);
        FILE *f = fopen(save, "wb");
        if (!f || fwrite(buf, 1, size, f) != size) return die(save, "cannot write");
        fclose(f);
        dl_classifier *c2;
        if ((err = dl_classifier_load(buf, size, &c2))) return die("reload", err);
        free(buf);
        dl_classifier_free(c);
        c = c2;
    }
    int *pred = malloc(sizeof(int) * (size_t)te.n);
    t0 = now();
    if ((err = dl_classifier_predict(c, te.x, te.n, pred, NULL))) return die("predict", err);
    double t_pred = now() - t0;
    if (pred_path) {
        FILE *f = fopen(pred_path, "w");
        if (!f) return die(pred_path, "cannot write");
        for (int i = 0; i < te.n; i++) fprintf(f, "%d\n", pred[i]);
        fclose(f);
    }
    printf("{\"kind\":\"%s\",\"n_train\":%d,\"n_test\":%d,\"d\":%d,\"classes\":%d", kind->name, tr.n, te.n, tr.d, c->num_classes);
    printf(",\"accuracy\":%.6f", dl_accuracy(te.y, pred, te.n));
    printf(",\"load_seconds\":%.3f,\"train_seconds\":%.3f,\"predict_seconds\":%.3f", t_load, t_train, t_pred);
    if (rep.num_problems) {
        long *it = rep.iterations;
        printf(",\"iterations\":[");
        for (int i = 0; i < rep.num_problems; i++) printf("%s%ld", i ? "," : "", it[i]);
        printf("]");
        print_doubles("objective", rep.objective, rep.num_problems);
        if (rep.primal) print_doubles("primal", rep.primal, rep.num_problems);
        print_ints("nsv", rep.nsv, rep.num_problems);
    }
    if (c->kind == &dl_rbf_svm_kind) {
        const dl_rbf_svm_model *m = c->model;
        printf(",\"gamma\":%.10g,\"total_sv\":%d", m->gamma, m->total_sv);
        print_ints("sv_per_class", m->sv_count, c->num_classes);
        print_doubles("rho", m->rho, rep.num_problems);
    }
    if (rep.epochs) {
        print_doubles("loss", rep.loss, rep.epochs);
        print_doubles("train_acc", rep.train_acc, rep.epochs);
    }
    printf("}\n");
    dl_train_report_free(&rep);
    dl_classifier_free(c);
    free(pred); free(tr.x); free(tr.y); free(te.x); free(te.y);
    return 0;
}
