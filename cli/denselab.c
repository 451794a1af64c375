/* denselab — the native command line (the same subcommands as `node wasm/cli.js`).
 *
 *   denselab classify IMAGE... [--top K] [--json]
 *   denselab summary [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]
 *   denselab preprocess IMAGE [--size H,W] --out FILE.npy
 *   denselab predict IMAGE... --out FILE.npy [Keras arguments as for summary]
 *   denselab features --size S [--train N] [--test M] --out FILE.npy
 *   denselab fashion --size S --train N --test M --classifier linear-svm|rbf-svm|softmax|finetune|pixels-linear-svm|all [--C 1] [--json]
 *                    [--feature-type f16|f32]   (default: float16 features for the two SVMs, float32 for the others)
 *   denselab bench [--runs R] [--batch B] [Keras arguments as for summary] [--json]   (whole-network latency)
 *   denselab train DIR [--cv auto|loo|K | --holdout F] [--out FILE.dlproj] [--json]   (your own classes)
 *   denselab classify --classifier FILE.dlproj IMAGE... [--json]   (with a classifier trained by train or the page)
 *   common: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N  --max-memory BYTES|512MB|2GB
 *
 * Exit status 0 on success; otherwise one line on stderr saying why.
 */
#define _DEFAULT_SOURCE  /* readlink */
#include "common/checked.h"
#include "common/parallel.h"
#include "common/reason.h"
#include "learn/experiment.h"
#include "learn/report.h"
#include "learn/metrics.h"
#include "learn/train.h"
#include "learn/idx.h"
#include "models/features.h"
#include "models/finetune_split.h"
#include "learn/finetune.h"
#include "onnx/export.h"
#include "kernels/kernels.h"
#include "models/image.h"
#include "models/model.h"
#include "models/predictions.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("denselab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* What one file read may bring into memory (the same limits as wasm/cli.js):
 * an endless or huge input fails at once with a reason instead of filling memory. */
#define MB ((size_t)1 << 20)
#define LIMIT_IMAGE (256 * MB)        /* an image file */
#define LIMIT_MODEL (1024 * MB)       /* a .dlm model file (must be a regular file) */
#define LIMIT_LABELS (64 * MB)        /* the class index */
#define LIMIT_DATASET (256 * MB)      /* a Fashion-MNIST file, inflated */

/* Whole file into memory (gz: inflated), at most limit bytes; NULL with a
 * reason in *why. regular_only: refuse devices, pipes and directories. */
static unsigned char *read_file_limited(const char *path, int gz, size_t limit, int regular_only, size_t *n, const char **why) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { *why = strerror(errno); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) { *why = strerror(errno); close(fd); return NULL; }
    if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) { *why = S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file"; close(fd); return NULL; }
    const char *reason = dl_errorf("%slarger than the %zu MB limit", gz ? "inflated data " : "", limit / MB);
    if (!gz && S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) { *why = reason; close(fd); return NULL; }
    gzFile g = gz ? gzdopen(fd, "rb") : NULL;
    FILE *f = gz ? NULL : fdopen(fd, "rb");
    if (!g && !f) { *why = "cannot open"; close(fd); return NULL; }
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    long got;
    do {
        if (len == cap) {
            if (cap > limit) { *why = reason; goto fail; }
            size_t grow = cap ? 2 * cap : 1 << 16;
            cap = grow > limit + 1 ? limit + 1 : grow;
            unsigned char *bigger = realloc(buf, cap);
            if (!bigger) { *why = "out of memory"; goto fail; }
            buf = bigger;
        }
        got = gz ? (long)gzread(g, buf + len, (unsigned)(cap - len > INT_MAX ? INT_MAX : cap - len)) : (long)fread(buf + len, 1, cap - len, f);
        if (got > 0) len += (size_t)got;
    } while (got > 0);
    if (len > limit) { *why = reason; goto fail; }
    if (gz) {
        int errnum;
        const char *msg = gzerror(g, &errnum);
        if (got < 0 || errnum != Z_OK) {     /* Z_BUF_ERROR: the stream ended early (no gzip trailer) */
            *why = dl_errorf("corrupt or truncated gzip (%s)", msg);
            goto fail;
        }
        gzclose(g);
    } else {
        int err = ferror(f);
        fclose(f);
        if (err) { free(buf); *why = "read error"; return NULL; }
    }
    *n = len;
    return buf;
fail:
    free(buf);
    if (g) gzclose(g); else fclose(f);
    return NULL;
}

/* Defaults live in the build tree: <root>/build/models/, the binary is <root>/build/native/denselab. */
static void default_path(char *out, size_t cap, const char *file) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) { snprintf(out, cap, "build/models/%s", file); return; }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(out, cap, "%s/../models/%s", exe, file);
}

typedef struct {
    const char *model, *labels;
    size_t max_pixels;
    int top, json;
    const char *out, *size;
    const char *data, *classifier;
    const char *project, *cv;         /* train / classify --project */
    const char *holdout;              /* train --holdout F */
    const char *feature_type;         /* fashion --feature-type f32|f16 (NULL: learn/report.h's) */
    int with_images;
    long train, test, batch, rbf_max, runs;
    int batch_given;
    int threads, layers;        /* --threads N (default: the cores), bench --layers */
    dl_fit_params fit;
    dl_net_options net;
    const char *files[256];
    int n_files;
} args;

static const char *opt_keys[][2] = {
    { "--include-top", "include_top" }, { "--weights", "weights" }, { "--input-shape", "input_shape" },
    { "--pooling", "pooling" }, { "--classes", "classes" }, { "--seed", "seed" },
    { "--max-memory", "max_memory" },
};

/* Numeric options are parsed strictly and alike on both CLIs (wasm/cli.js):
 * an integer is digits only ("32abc", " 32", "0x20" are refused), and a value
 * out of range is reported as given, however long. */
static int int_option(const char *name, const char *v, long long lo, long long hi, long long *out) {
    const char *p = v + (*v == '-');
    int digits = *p != 0;
    for (; *p; p++) digits &= *p >= '0' && *p <= '9';
    if (!digits) return fail("%s must be an integer, got '%s'", name, v);
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    if (*v == '-' ? errno == ERANGE || x < lo : x < lo) return fail("%s must be at least %lld, got %s", name, lo, v);
    if (errno == ERANGE || x > hi) return fail("%s must be at most %lld, got %s", name, hi, v);
    *out = x;
    return 0;
}

/* --NAME VALUE for a parameter of a classifier kind (learn/experiment.c's
 * table), in the same words as wasm/experiment.js's classifierOptions. */
static int fit_param(args *a, const char *arg, const char *v) {
    const dl_param_spec *p = dl_fit_param_find(arg + 2);
    char *end;
    double x = strtod(v, &end);
    int number = end != v && !*end && strspn(v, "0123456789.eE+-") == strlen(v);
    int in_range = number && (p->min_exclusive ? x > p->min : x >= p->min) && x <= p->max &&
                   (p->type == DL_PARAM_REAL || x == (double)(long long)x);
    if (!in_range) {
        /* Bounds as JavaScript prints them: integers in full, others shortest. */
        char lo[32], hi[32];
        snprintf(lo, sizeof lo, p->min == (double)(long long)p->min ? "%.0f" : "%g", p->min);
        snprintf(hi, sizeof hi, p->max == (double)(long long)p->max ? "%.0f" : "%g", p->max);
        if (!number) return fail("%s must be a number, got '%s'", arg, v);
        if (p->type == DL_PARAM_INT) return fail("%s must be an integer from %s to %s, got '%s'", arg, lo, hi, v);
        if (p->min_exclusive && p->min == 0) return fail("%s must be a positive number up to %s, got '%s'", arg, hi, v);
        return fail("%s must be a number %s %s up to %s, got '%s'", arg, p->min_exclusive ? "above" : "from", lo, hi, v);
    }
    const char *err = dl_fit_params_set(&a->fit, arg + 2, x);
    return err ? fail("%s", err) : 0;
}

/* The kinds and their parameters with defaults, for --help. */
static void print_classifier_params(FILE *f) {
    fputs("classifier parameters (fashion; each applies to the kinds that have it):\n", f);
    for (int i = 0; i < dl_classifier_kind_count(); i++) {
        const dl_classifier_kind *k = dl_classifier_kind_at(i);
        fprintf(f, "  %-11s", k->name);
        for (int j = 0; j < k->num_params; j++) fprintf(f, " [--%s %g]", k->params[j].name, k->params[j].def);
        fputs("\n", f);
    }
}

static int parse_args(int argc, char **argv, args *a) {
    static char model_path[PATH_MAX + 32], labels_path[PATH_MAX + 32];
    default_path(model_path, sizeof model_path, "densenet121.dlm");
    default_path(labels_path, sizeof labels_path, "imagenet_class_index.json");
    a->model = model_path; a->labels = labels_path; a->top = 5;
    a->train = 60000; a->test = 10000; a->batch = 32; a->rbf_max = 1000000;   /* all: the RBF SVM trains on every image unless capped */ a->runs = 10; a->classifier = "all";
    dl_net_options_default(&a->net);
    dl_fit_default_params(&a->fit);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] != '-') {
            if (a->n_files == 256) return fail("too many files (at most 256)");
            a->files[a->n_files++] = arg;
            continue;
        }
        if (!strcmp(arg, "--json")) { a->json = 1; continue; }
        if (!strcmp(arg, "--gray-to-rgb")) { dl_net_options_set(&a->net, "gray_to_rgb", "true"); continue; }  /* DenseLab's extension */
        if (!strcmp(arg, "--with-images")) { a->with_images = 1; continue; }
        if (!strcmp(arg, "--layers")) { a->layers = 1; continue; }
        if (i + 1 >= argc) return fail("%s needs a value", arg);
        const char *v = argv[++i];
        if (!strcmp(arg, "--model")) a->model = v;
        else if (!strcmp(arg, "--labels")) a->labels = v;
        else if (!strcmp(arg, "--out")) a->out = v;
        else if (!strcmp(arg, "--size")) a->size = v;
        else if (!strcmp(arg, "--data")) a->data = v;
        else if (!strcmp(arg, "--classifier")) a->classifier = v;
        else if (!strcmp(arg, "--project") || !strcmp(arg, "--save")) a->project = v;
        else if (!strcmp(arg, "--cv")) a->cv = v;
        else if (!strcmp(arg, "--holdout")) a->holdout = v;
        else if (!strcmp(arg, "--feature-type")) a->feature_type = v;
        else if (!strcmp(arg, "--train") || !strcmp(arg, "--test") || !strcmp(arg, "--batch") || !strcmp(arg, "--rbf-max") ||
                   !strcmp(arg, "--runs")) {
            long long x;
            if (int_option(arg, v, 1, 1000000, &x)) return 1;
            if (!strcmp(arg, "--train")) a->train = (long)x;
            else if (!strcmp(arg, "--test")) a->test = (long)x;
            else if (!strcmp(arg, "--batch")) { a->batch = (long)x; a->batch_given = 1; }
            else if (!strcmp(arg, "--runs")) a->runs = (long)x;
            else a->rbf_max = (long)x;
        } else if (!strcmp(arg, "--top")) {
            long long x;
            if (int_option(arg, v, 1, 100000, &x)) return 1;
            a->top = (int)x;
        } else if (!strcmp(arg, "--threads")) {
            long long x;
            if (int_option(arg, v, 1, DL_MAX_THREADS, &x)) return 1;
            a->threads = (int)x;
        } else if (!strcmp(arg, "--max-pixels")) {
            long long x;       /* the same range on both CLIs (models/image.h) */
            if (int_option(arg, v, 1, (long long)DL_IMAGE_MAX_PIXELS_LIMIT, &x)) return 1;
            a->max_pixels = (size_t)x;
        } else {
            size_t k = 0;
            while (k < sizeof opt_keys / sizeof *opt_keys && strcmp(arg, opt_keys[k][0])) k++;
            if (k == sizeof opt_keys / sizeof *opt_keys) {
                if (dl_fit_param_find(arg + 2)) { if (fit_param(a, arg, v)) return 1; continue; }
                return fail("unknown option %s", arg);
            }
            const char *err = dl_net_options_set(&a->net, opt_keys[k][1], v);
            if (err) return fail("%s", err);
        }
    }
    return 0;
}

static int load_model(const args *a, dl_model **m) {
    const char *why;
    size_t n;
    unsigned char *bytes = read_file_limited(a->model, 0, LIMIT_MODEL, 1, &n, &why);
    if (!bytes) return fail("cannot read model file %s: %s (run ./build.sh, or pass --model)", a->model, why);
    const char *err = dl_model_load(bytes, n, m);
    free(bytes);
    if (err) return fail("%s: %s", a->model, err);
    return 0;
}

/* The model and its network for options o (the Keras arguments: &a->net); 1 after saying why. */
static int load_net(const args *a, const dl_net_options *o, dl_model **m, dl_net **net) {
    if (load_model(a, m)) return 1;
    const char *err = dl_net_build(*m, o, net);
    if (err) { dl_model_free(*m); return fail("%s", err); }
    return 0;
}

/* Keras load_img(path, target_size=(h, w)) + densenet.preprocess_input -> h*w*3 floats. */
static int image_input(const args *a, const char *path, int h, int w, float *x) {
    const char *why;
    size_t n;
    unsigned char *bytes = read_file_limited(path, 0, LIMIT_IMAGE, 0, &n, &why);
    if (!bytes) return fail("cannot read %s: %s", path, why);
    dl_image resized;
    const char *err = dl_image_load(bytes, n, a->max_pixels, h, w, &resized, NULL, NULL);
    free(bytes);
    if (err) return fail("%s: %s", path, err);
    dl_preprocess_torch(resized.rgb, (size_t)w * h, x);
    dl_image_free(&resized);
    return 0;
}

/* A file name as a JSON string, byte for byte what wasm/cli.js prints with
 * JSON.stringify of the name Node decoded from argv: each maximal invalid
 * UTF-8 subsequence becomes U+FFFD (the WHATWG decoder), so the JSON stays
 * valid; quotes, backslashes and control characters are escaped. */
static void print_json_name(const char *name) {
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)name;
    putchar('"');
    while (*p) {
        unsigned c = *p, lo = 0x80, hi = 0xBF;
        size_t need = 0, k = 1;
        if (c < 0x80) {
            const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f" :
                              c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
            if (esc) fputs(esc, stdout);
            else if (c < 0x20) printf("\\u%04x", c);
            else putchar((int)c);
            p++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; lo = c == 0xE0 ? 0xA0 : 0x80; hi = c == 0xED ? 0x9F : 0xBF; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; lo = c == 0xF0 ? 0x90 : 0x80; hi = c == 0xF4 ? 0x8F : 0xBF; }
        while (need && k <= need && p[k] >= lo && p[k] <= hi) { lo = 0x80; hi = 0xBF; k++; }
        if (need && k == need + 1) fwrite(p, 1, k, stdout);
        else fputs(replacement, stdout);
        p += k;      /* a byte that broke a sequence is read again */
    }
    putchar('"');
}

static int cmd_classify_project(const args *a, const char *where);

/* --classifier FILE: a trained classifier file (a DLPROJ01 project: class names, input size,
 * classifier); --project FILE is the same. NULL when neither is given. */
static const char *trained_classifier_path(const args *a) {
    return a->project ? a->project : strcmp(a->classifier, "all") ? a->classifier : NULL;
}

static int cmd_classify(const args *a) {
    const char *trained = trained_classifier_path(a);
    if (trained) return cmd_classify_project(a, trained);
    if (!a->n_files) return fail("classify needs at least one image");
    size_t n;
    const char *why;
    char *json = (char *)read_file_limited(a->labels, 0, LIMIT_LABELS, 0, &n, &why);
    if (!json) return fail("cannot read class index %s: %s", a->labels, why);
    dl_class_index *ci;
    const char *err = dl_class_index_parse(json, n, &ci);
    free(json);
    if (err) return fail("%s: %s", a->labels, err);
    dl_model *m;
    dl_net *net = NULL;
    if (load_model(a, &m)) { dl_class_index_free(ci); return 1; }
    err = dl_net_build(m, &a->net, &net);
    int shape[3], status = 0;
    if (!err && dl_net_output_shape(net, shape) != 1) err = "classify needs a network with a classification top (include_top=true)";
    if (!err && (size_t)shape[0] != dl_class_index_count(ci) && a->net.imagenet_weights)
        err = "the class index does not match the network's number of classes";
    if (!err) err = dl_decode_predictions_check(1, (size_t)shape[0]);     /* Keras's error for classes != 1000 */
    if (err) { dl_net_free(net); dl_model_free(m); dl_class_index_free(ci); return fail("%s", err); }
    if ((size_t)a->top > (size_t)shape[0]) {
        dl_net_free(net); dl_model_free(m); dl_class_index_free(ci);
        return fail("--top must be at most the number of classes (%d), got %d", shape[0], a->top);
    }
    dl_net_input_shape(net, shape);
    float *x = malloc(sizeof(float) * (size_t)shape[0] * shape[1] * 3);
    float *probs = malloc(sizeof(float) * dl_net_output_size(net));
    dl_prediction *top = malloc(sizeof *top * (size_t)a->top);
    char *text = NULL;
    if (!x || !probs || !top) { status = fail("out of memory"); a = NULL; }
    if (a && a->json) fputs("[", stdout);
    int printed = 0;
    for (int i = 0; a && i < a->n_files; i++) {
        if (image_input(a, a->files[i], shape[0], shape[1], x)) { status = 1; continue; }
        if ((err = dl_net_run(net, x, 1, probs))) { status = fail("%s: %s", a->files[i], err); continue; }
        size_t k = dl_top_k(probs, dl_net_output_size(net), (size_t)a->top, top);
        size_t len = (a->json ? dl_format_predictions_json : dl_format_predictions_python)(ci, top, k, NULL, 0);
        char *t = realloc(text, len + 1);
        if (!t) { status = fail("out of memory"); break; }
        text = t;
        (a->json ? dl_format_predictions_json : dl_format_predictions_python)(ci, top, k, text, len + 1);
        if (a->json) {
            fputs(printed ? ", " : "", stdout);
            fputs("{\"image\": ", stdout);
            print_json_name(a->files[i]);
            printf(", \"predictions\": %s}", text);
        } else if (a->n_files > 1) {
            printf("%s: %s\n", a->files[i], text);
        } else {
            printf("%s\n", text);
        }
        printed++;
    }
    if (a && a->json) fputs("]\n", stdout);
    free(text); free(top); free(probs); free(x);
    dl_net_free(net); dl_model_free(m); dl_class_index_free(ci);
    return status;
}

static int cmd_summary(const args *a) {
    dl_model *m;
    dl_net *net;
    if (load_net(a, &a->net, &m, &net)) return 1;
    size_t len = dl_net_summary(net, NULL, 0);
    char *text = malloc(len + 1);
    if (text) { dl_net_summary(net, text, len + 1); fputs(text, stdout); }
    free(text);
    dl_net_free(net); dl_model_free(m);
    return text ? 0 : fail("out of memory");
}

/* numpy .npy v1.0, little-endian 4-byte elements ('<f4' or '<i4'), C order. */
static int write_npy(const char *path, const char *descr, const void *data, const int *shape, int rank) {
    char header[128], dims[64] = "";
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        size_t l = strlen(dims);
        snprintf(dims + l, sizeof dims - l, rank == 1 ? "%d," : i ? ", %d" : "%d", shape[i]);
        count *= (size_t)shape[i];
    }
    int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    while ((10 + len + 1) % 64) header[len++] = ' ';
    header[len++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) return fail("cannot write %s: %s", path, strerror(errno));
    unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff), (unsigned char)(len >> 8) };
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len &&
             fwrite(data, 4, count, f) == count;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : fail("cannot write %s", path);
}

static int cmd_preprocess(const args *a) {
    if (a->n_files != 1) return fail("preprocess needs exactly one image");
    if (!a->out) return fail("preprocess needs --out FILE.npy");
    int h = 224, w = 224;
    if (a->size) {
        const char *comma = strchr(a->size, ',');
        char *end;
        int digits = comma && comma > a->size && comma[1] && strspn(a->size, "0123456789,") == strlen(a->size) && !strchr(comma + 1, ',');
        long long hh = digits ? strtoll(a->size, &end, 10) : 0, ww = digits ? strtoll(comma + 1, &end, 10) : 0;
        if (!digits || hh < 1 || ww < 1 || hh > 8192 || ww > 8192 || strlen(a->size) > 11)
            return fail("--size must be H,W (1..8192), got '%s'", a->size);
        h = (int)hh; w = (int)ww;
    }
    float *x = malloc(sizeof(float) * (size_t)h * w * 3);
    if (!x) return fail("out of memory");
    int status = image_input(a, a->files[0], h, w, x);
    int shape[4] = { 1, h, w, 3 };
    if (!status) status = write_npy(a->out, "<f4", x, shape, 4);
    free(x);
    return status;
}

/* model.predict on images (load_img at the network's input size + preprocess_input) -> .npy */
static int cmd_predict(const args *a) {
    if (!a->n_files) return fail("predict needs at least one image");
    if (!a->out) return fail("predict needs --out FILE.npy");
    dl_model *m;
    dl_net *net;
    if (load_net(a, &a->net, &m, &net)) return 1;
    int in[3], shape[4] = { a->n_files }, rank = 1 + dl_net_output_shape(net, shape + 1), status = 0;
    dl_net_input_shape(net, in);
    size_t per = dl_net_output_size(net);
    float *x = malloc(sizeof(float) * (size_t)in[0] * in[1] * 3), *y = malloc(sizeof(float) * per * (size_t)a->n_files);
    if (in[2] != 3) status = fail("predict on images needs a 3-channel input_shape");
    else if (!x || !y) status = fail("out of memory");
    for (int i = 0; !status && i < a->n_files; i++) {
        status = image_input(a, a->files[i], in[0], in[1], x);
        const char *err = status ? NULL : dl_net_run(net, x, 1, y + per * (size_t)i);
        if (err) status = fail("%s: %s", a->files[i], err);
    }
    if (!status) status = write_npy(a->out, "<f4", y, shape, rank);
    free(x); free(y); dl_net_free(net); dl_model_free(m);
    return status;
}

/* ---- Fashion-MNIST ------------------------------------------------------------ */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct { unsigned char *bytes[2]; dl_idx images, labels; } fashion_split;

static int load_split(const args *a, const char *name, long want, fashion_split *s) {
    static char downloads[PATH_MAX + 64];
    default_path(downloads, sizeof downloads, "../downloads/fashion-mnist");     /* build.sh's fallback */
    const char *dirs[] = { "/usr/share/datasets/fashion-mnist", downloads };
    const char *dir = a->data;
    char path[2][PATH_MAX + 128];
    for (size_t k = 0; !dir && k < 2; k++) {
        snprintf(path[0], sizeof path[0], "%s/%s-images-idx3-ubyte.gz", dirs[k], name);
        if (access(path[0], R_OK) == 0) dir = dirs[k];
    }
    if (!dir) return fail("Fashion-MNIST not found (install Debian's dataset-fashion-mnist, run ./build.sh, or pass --data DIR)");
    snprintf(path[0], sizeof path[0], "%s/%s-images-idx3-ubyte.gz", dir, name);
    snprintf(path[1], sizeof path[1], "%s/%s-labels-idx1-ubyte.gz", dir, name);
    for (int k = 0; k < 2; k++) {
        size_t n;
        const char *why = "unknown error";
        s->bytes[k] = read_file_limited(path[k], 1, LIMIT_DATASET, 0, &n, &why);
        if (!s->bytes[k]) return fail("%s: %s", path[k], why);
        const char *err = k ? dl_idx_parse_labels(s->bytes[k], n, &s->labels) : dl_idx_parse_images(s->bytes[k], n, &s->images);
        if (err) return fail("%s: %s", path[k], err);
    }
    const char *err = dl_idx_check_pair(&s->images, &s->labels);
    if (err) return fail("%s: %s", dir, err);
    if (want > (long)s->images.count) return fail("--%s %ld: the %s set has only %u images", !strcmp(name, "train") ? "train" : "test", want, name, s->images.count);
    return 0;
}

static void free_split(fashion_split *s) { free(s->bytes[0]); free(s->bytes[1]); }

/* Progress on stderr: one line, rewritten at most about once a second. */
static void progress_line(const char *what, size_t done, size_t total) {
    static double last;
    double t = now_seconds();
    if (done < total && t - last < 1) return;
    last = t;
    fprintf(stderr, "\r%s: %zu/%zu%s", what, done, total, done == total ? "\n" : "");
}

static int features_progress(size_t done, size_t total, void *user) {
    (void)user;
    progress_line("features", done, total);
    return 0;
}

/* --size S of features and fashion (default 32); 0 after printing why. */
static int fashion_size(const args *a) {
    long long s = 32;
    return a->size && int_option("--size", a->size, 32, 1024, &s) ? 0 : (int)s;
}

/* DenseNet121(include_top=False, weights='imagenet', pooling='avg', input_shape=(S,S,3)). */
static int feature_net(const args *a, int s, dl_model **m, dl_net **net) {
    if (!s) return 1;
    char shape[32];
    snprintf(shape, sizeof shape, "%d,%d,3", s, s);
    dl_net_options o;
    dl_net_options_default(&o);
    dl_net_options_set(&o, "include_top", "false");
    dl_net_options_set(&o, "pooling", "avg");
    dl_net_options_set(&o, "input_shape", shape);
    return load_net(a, &o, m, net);
}

/* Features of the first n images of a split, appended at out. */
static int split_features(const args *a, dl_net *net, const fashion_split *s, long n, float *out) {
    const char *err = dl_gray_features(net, s->images.data, (int)s->images.cols, (int)s->images.rows, (size_t)n,
                                       (size_t)a->batch, out, a->json ? NULL : features_progress, NULL);
    return err ? fail("features: %s", err) : 0;
}

static int cmd_features(const args *a) {
    if (!a->out) return fail("features needs --out FILE.npy");
    fashion_split tr = { 0 }, te = { 0 };
    dl_model *m = NULL;
    dl_net *net = NULL;
    float *x = NULL;
    int *y = NULL, status = load_split(a, "train", a->train, &tr) || load_split(a, "t10k", a->test, &te) || feature_net(a, fashion_size(a), &m, &net);
    long n = a->train + a->test;
    size_t d = net ? dl_net_output_size(net) : 0;
    if (!status && (!(x = malloc(sizeof(float) * (size_t)n * d)) || !(y = malloc(sizeof(int) * (size_t)n)))) status = fail("out of memory");
    if (!status) status = split_features(a, net, &tr, a->train, x) || split_features(a, net, &te, a->test, x + (size_t)a->train * d);
    if (!status) {
        dl_idx_labels_to_int(&tr.labels, 0, (uint32_t)a->train, y);
        dl_idx_labels_to_int(&te.labels, 0, (uint32_t)a->test, y + a->train);
        char labels_path[1024];
        snprintf(labels_path, sizeof labels_path, "%.*s.labels.npy", (int)(strlen(a->out) > 4 && !strcmp(a->out + strlen(a->out) - 4, ".npy") ? strlen(a->out) - 4 : strlen(a->out)), a->out);
        int fshape[2] = { (int)n, (int)d }, lshape[1] = { (int)n };
        status = write_npy(a->out, "<f4", x, fshape, 2) || write_npy(labels_path, "<i4", y, lshape, 1);
        if (!status) fprintf(stderr, "wrote %s (%ld x %zu float32: %ld train then %ld test) and %s (int32 labels)\n", a->out, n, d, a->train, a->test, labels_path);
    }
    free(x); free(y); dl_net_free(net); dl_model_free(m); free_split(&tr); free_split(&te);
    return status;
}

static int learn_progress(void *user, const dl_learn_progress *p) {
    (void)user;
    static int last_step = -1;
    if (p->step == last_step) return 0;
    last_step = p->step;
    if (!strcmp(p->phase, "softmax")) fprintf(stderr, "%s: epoch %d/%d loss %.4f train accuracy %.4f\n", p->phase, p->step, p->steps, p->loss, p->train_acc);
    else if (!strcmp(p->phase, "finetune"))
        fprintf(stderr, "%s: epoch %d/%d loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f\n", p->phase, p->step, p->steps,
                p->loss, p->train_acc, p->val_loss, p->val_acc);
    else progress_line(p->phase, (size_t)p->step, (size_t)p->steps);
    return 0;
}

/* Train one row's classifier, evaluate it, print its result (learn/report.h). */
static int run_classifier(const args *a, const char *name, const dl_rows *xtr, const int *ytr,
                          const dl_rows *xte, const int *yte, int first) {
    int n = xtr->n;
    dl_classifier *c = NULL;
    dl_fit_params params;   /* the experiment's values for this row, then the user's flags */
    dl_report_row_params(name, &params);
    const char *err = NULL;
    for (int i = 0; i < a->fit.count && !err; i++) err = dl_fit_params_set(&params, a->fit.item[i].name, a->fit.item[i].value);
    double t0 = now_seconds(), acc = 0;
    if (!err) err = dl_fit_rows(dl_report_row_kind(name), xtr, ytr, &params, a->json ? NULL : learn_progress, NULL, &c, NULL);
    double seconds = now_seconds() - t0;
    int *cm = calloc((size_t)(c ? c->num_classes * c->num_classes : 1), sizeof(int));
    if (!err && !cm) err = "out of memory";
    if (!err) err = dl_evaluate_rows(c, xte, yte, &acc, cm, NULL);
    if (!err) {
        dl_text t = { 0 };
        dl_report_row(&t, a->json, first, name, n, seconds, acc, cm, c->num_classes);
        if (t.failed) err = "out of memory";
        else fputs(t.buf, stdout);
        dl_text_free(&t);
    }
    free(cm);
    dl_classifier_free(c);
    return err ? fail("%s: %s", name, err) : 0;
}

/* The fine-tuning rows' data: every image through the frozen part (the
 * input of conv5_block1), and the pretrained block set as fit()'s start. */
static int block_features(const args *a, const dl_model *m, const fashion_split *tr, const fashion_split *te, int n, int t,
                          float **btr, float **bte, int *d) {
    char shape[32];
    snprintf(shape, sizeof shape, "%d,%d,3", fashion_size(a), fashion_size(a));
    dl_net_options o = a->net;   /* --max-memory; dl_frozen_build sets the rest */
    dl_net_options_set(&o, "input_shape", shape);
    dl_frozen *f = NULL;
    float *block = NULL;
    size_t count = 0;
    const char *err = dl_frozen_build(m, &o, &f);
    if (!err) err = dl_finetune_block_weights(m, &block, &count);
    if (!err) err = dl_finetune_set_base(block, count);
    free(block);
    if (err) { dl_frozen_free(f); return fail("finetune: %s", err); }
    *d = (int)dl_net_output_size(dl_frozen_net(f));
    *btr = malloc(sizeof(float) * (size_t)n * *d);
    *bte = malloc(sizeof(float) * (size_t)t * *d);
    int status = (!*btr || !*bte) ? fail("out of memory")
                                  : split_features(a, dl_frozen_net(f), tr, n, *btr) || split_features(a, dl_frozen_net(f), te, t, *bte);
    dl_frozen_free(f);
    return status;
}

/* A row's features as float16 (1) or float32 (0): --feature-type for every
 * row, else the experiment's table (learn/report.h: float16 for the SVMs). */
static int row_features_f16(const args *a, const char *row) {
    return a->feature_type ? !strcmp(a->feature_type, "f16") : dl_report_row_features_f16(row);
}

static int cmd_fashion(const args *a) {
    enum { MAX_ROWS = 16 };
    int rows = dl_report_row_count() < MAX_ROWS ? dl_report_row_count() : MAX_ROWS, chosen[MAX_ROWS] = { 0 }, any = 0;
    int pixels = -1, need_features = 0, need_block = 0;
    for (int k = 0; k < rows; k++) {
        const char *name = dl_report_row_name(k);
        any |= chosen[k] = !strcmp(a->classifier, "all") || !strcmp(a->classifier, name);
        if (!strcmp(name, DL_PIXEL_BASELINE)) pixels = k;
        else if (dl_report_row_block_input(name)) need_block |= chosen[k];
        else need_features |= chosen[k];
    }
    if (!any) {
        dl_text names = { 0 };
        for (int k = 0; k < rows; k++) dl_text_printf(&names, k ? ", %s" : "%s", dl_report_row_name(k));
        fail("--classifier must be %s or all, got '%s'", names.buf ? names.buf : "", a->classifier);
        dl_text_free(&names);
        return 1;
    }
    int size = fashion_size(a);
    if (!size) return 1;
    if (a->feature_type && strcmp(a->feature_type, "f32") && strcmp(a->feature_type, "f16"))
        return fail("--feature-type must be f32 or f16, got '%s'", a->feature_type);
    int need_f16 = 0, need_f32 = 0;   /* which copies of the pooled features the chosen rows read */
    for (int k = 0; k < rows; k++) {
        const char *name = dl_report_row_name(k);
        if (!chosen[k] || k == pixels || dl_report_row_block_input(name)) continue;
        if (row_features_f16(a, name)) need_f16 = 1; else need_f32 = 1;
    }
    fashion_split tr = { 0 }, te = { 0 };
    dl_model *m = NULL;
    dl_net *net = NULL;
    int status = load_split(a, "train", a->train, &tr) || load_split(a, "t10k", a->test, &te);
    int n = (int)a->train, t = (int)a->test;
    if (!status && need_features) status = feature_net(a, fashion_size(a), &m, &net);
    if (!status && need_block && !m) status = load_model(a, &m);
    int d = net ? (int)dl_net_output_size(net) : 0, px = (int)(tr.images.rows * tr.images.cols);
    float *ftr = NULL, *fte = NULL, *ptr = NULL, *pte = NULL;
    int *ytr = malloc(sizeof(int) * (size_t)n), *yte = malloc(sizeof(int) * (size_t)t);
    double feature_seconds = 0;
    if (!status && (!ytr || !yte)) status = fail("out of memory");
    if (!status) { dl_idx_labels_to_int(&tr.labels, 0, (uint32_t)n, ytr); dl_idx_labels_to_int(&te.labels, 0, (uint32_t)t, yte); }
    if (!status && need_features) {
        ftr = malloc(sizeof(float) * (size_t)n * d);
        fte = malloc(sizeof(float) * (size_t)t * d);
        double t0 = now_seconds();
        status = (!ftr || !fte) ? fail("out of memory") : split_features(a, net, &tr, n, ftr) || split_features(a, net, &te, t, fte);
        feature_seconds = now_seconds() - t0;
    }
    if (!status && pixels >= 0 && chosen[pixels]) {
        ptr = malloc(sizeof(float) * (size_t)n * px);
        pte = malloc(sizeof(float) * (size_t)t * px);
        if (!ptr || !pte) status = fail("out of memory");
        else { dl_idx_images_to_f32(&tr.images, 0, (uint32_t)n, 1.0f / 255, ptr); dl_idx_images_to_f32(&te.images, 0, (uint32_t)t, 1.0f / 255, pte); }
    }
    uint16_t *htr = NULL, *hte = NULL;   /* the features as float16; the float32 ones freed if no row reads them */
    if (!status && need_f16) {
        htr = malloc(sizeof(uint16_t) * (size_t)n * d);
        hte = malloc(sizeof(uint16_t) * (size_t)t * d);
        if (!htr || !hte) status = fail("out of memory");
        else { f16_from_f32((size_t)n * d, ftr, htr); f16_from_f32((size_t)t * d, fte, hte); }
    }
    if (!need_f32) {
        free(ftr); free(fte);
        ftr = fte = NULL;
    }
    float *btr = NULL, *bte = NULL;
    int bd = 0;
    if (!status && need_block) {
        double t0 = now_seconds();
        status = block_features(a, m, &tr, &te, n, t, &btr, &bte, &bd);
        feature_seconds += now_seconds() - t0;
    }
    dl_text head = { 0 }, tail = { 0 };
    dl_report_head(&head, a->json, size, n, t, feature_seconds, need_features || need_block);
    dl_report_tail(&tail, a->json);
    if (!status && head.len) fputs(head.buf, stdout);
    int first = 1;
    for (int k = 0; k < rows && !status; k++) {
        if (!chosen[k]) continue;
        const char *name = dl_report_row_name(k);
        dl_rows xtr, xte;
        if (k == pixels) { xtr = dl_rows_f32(ptr, n, px); xte = dl_rows_f32(pte, t, px); }
        else if (dl_report_row_block_input(name)) { xtr = dl_rows_f32(btr, n, bd); xte = dl_rows_f32(bte, t, bd); }
        else {
            int rn = dl_report_row_train(name, n, (int)a->rbf_max), f16 = row_features_f16(a, name);
            xtr = f16 ? dl_rows_f16(htr, rn, d) : dl_rows_f32(ftr, rn, d);
            xte = f16 ? dl_rows_f16(hte, t, d) : dl_rows_f32(fte, t, d);
        }
        status = run_classifier(a, name, &xtr, ytr, &xte, yte, first);
        first = 0;
    }
    if (!status && tail.len) fputs(tail.buf, stdout);
    dl_text_free(&head); dl_text_free(&tail);
    free(ftr); free(fte); free(htr); free(hte); free(ptr); free(pte); free(ytr); free(yte); free(btr); free(bte);
    dl_net_free(net); dl_model_free(m); free_split(&tr); free_split(&te);
    dl_finetune_set_base(NULL, 0);
    return status;
}

/* ---- bench: whole-network latency (the native row of the benchmark) ---------- */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* One warm-up run, then --runs timed dl_net_run calls on a fixed pseudo-random
 * input (values in [-2, 2], the range of preprocess_input). Wall time and this
 * process's CPU time (the robust figure on a machine shared with other work). */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static double sorted_median(double *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int cmd_bench(const args *a) {
    double t0 = now_seconds();
    dl_model *m;
    dl_net *net;
    if (load_model(a, &m)) return 1;
    double load_ms = (now_seconds() - t0) * 1e3;
    const char *err = dl_net_build(m, &a->net, &net);
    if (err) { dl_model_free(m); return fail("%s", err); }
    int in[3];
    dl_net_input_shape(net, in);
    size_t batch = a->batch_given ? (size_t)a->batch : 1, nin = batch * in[0] * in[1] * in[2];
    float *x = malloc(sizeof(float) * nin), *y = malloc(sizeof(float) * batch * dl_net_output_size(net));
    double *ms = malloc(sizeof(double) * (size_t)a->runs * 3), *cpu = ms + a->runs, *critical = cpu + a->runs;
    int status = 0;
    if (!x || !y || !ms) status = fail("out of memory");
    unsigned s = 1;
    for (size_t i = 0; !status && i < nin; i++) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / (1 << 24) * 4 - 2; }
    for (long r = -1; !status && r < a->runs; r++) {
        if (r == 0 && a->layers && (err = dl_net_profile(net, 1))) status = fail("%s", err);   /* after the warm-up */
        double t = now_seconds(), c = cpu_seconds();
        dl_parallel_measure_start();
        if ((err = dl_net_run(net, x, batch, y))) status = fail("%s", err);
        else if (r >= 0) { ms[r] = (now_seconds() - t) * 1e3; cpu[r] = (cpu_seconds() - c) * 1e3; critical[r] = dl_parallel_critical_seconds() * 1e3; }
    }
    if (!status) {
        double cpu_med = sorted_median(cpu, a->runs), med = sorted_median(ms, a->runs);
        if (a->json)
            printf("{\"input_shape\": [%d, %d, %d], \"batch\": %zu, \"threads\": %d, \"runs\": %ld, \"load_ms\": %.1f, \"min_ms\": %.3f, \"median_ms\": %.3f, \"max_ms\": %.3f, "
                   "\"cpu_min_ms\": %.3f, \"cpu_median_ms\": %.3f, \"cpu_max_ms\": %.3f}\n",
                   in[0], in[1], in[2], batch, dl_parallel_threads(), a->runs, load_ms, ms[0], med, ms[a->runs - 1], cpu[0], cpu_med, cpu[a->runs - 1]);
        else
            printf("%dx%dx%d batch %zu, %d thread%s: wall min %.1f / median %.1f / max %.1f ms, CPU median %.1f ms over %ld runs (model load %.0f ms)\n",
                   in[0], in[1], in[2], batch, dl_parallel_threads(), dl_parallel_threads() == 1 ? "" : "s", ms[0], med, ms[a->runs - 1], cpu_med, a->runs, load_ms);
        double crit_med = sorted_median(critical, a->runs);
        if (!a->json && crit_med >= 0)    /* what a loaded machine cannot hide (common/parallel.h) */
            printf("critical path: CPU median %.1f ms (the caller's work outside parallel calls + each call's slowest thread)\n", crit_med);
        if (a->layers) {       /* markdown, for docs/benchmarks.md */
            size_t n = dl_net_profile_table(net, (int)a->runs, 0, NULL, 0);
            char *table = malloc(n + 1);
            if (table) { dl_net_profile_table(net, (int)a->runs, 0, table, n + 1); fputs(table, stdout); free(table); }
        }
    }
    free(x); free(y); free(ms); dl_net_free(net); dl_model_free(m);
    return status;
}

/* ---- train: your own classes (learn/train.h) ----------------------------------- */

#define LIMIT_PROJECT (1024 * MB)

static int compare_names(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* The entries of dir that are directories (dirs) or regular files, hidden ones
 * (".name") skipped, in byte order (as wasm/cli.js lists them); NULL on failure. */
static char **list_dir(const char *dir, int dirs, int *count) {
    DIR *d = opendir(dir);
    if (!d) { fail("cannot read folder %s: %s", dir, strerror(errno)); return NULL; }
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || stat(path, &st)) continue;
        if (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) continue;
        char **grown = realloc(names, sizeof *names * (size_t)(n + 1));
        if (!grown || !(grown[n] = strdup(e->d_name))) { names = grown ? grown : names; break; }
        names = grown; n++;
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, compare_names);
    *count = n;
    return names ? names : calloc(1, sizeof *names);
}

static void free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* --size of train (default 224); 0 after printing why. */
static int train_size(const args *a) {
    long long s = 224;
    return a->size && int_option("--size", a->size, 32, 1024, &s) ? 0 : (int)s;
}

/* --cv auto|loo|K -> DL_CV_AUTO, DL_CV_LEAVE_ONE_OUT or K >= 2; -1 after printing why. */
static int train_cv(const args *a) {
    long long k;
    if (!a->cv || !strcmp(a->cv, "auto")) return DL_CV_AUTO;
    if (!strcmp(a->cv, "loo")) return DL_CV_LEAVE_ONE_OUT;
    return int_option("--cv", a->cv, 2, 100000, &k) ? -1 : (int)k;
}

/* --holdout F: 0 < F < 1, in the same words as wasm/cli.js; 0 when absent, -1 after printing why. */
static double train_holdout(const args *a) {
    if (!a->holdout) return 0;
    char *end;
    double f = strtod(a->holdout, &end);
    int number = end != a->holdout && !*end && strspn(a->holdout, "0123456789.eE+-") == strlen(a->holdout);
    if (!number || !(f > 0 && f < 1)) return fail("--holdout must be a fraction above 0 and below 1, got '%s'", a->holdout), -1;
    if (a->cv) return fail("--holdout and --cv: choose one way to evaluate"), -1;
    return f;
}

/* DenseNet121 features of one image file (load_img at s x s, preprocess_input, pooling avg). */
static int image_features(const args *a, dl_net *net, int s, const char *path, float *x, float *out) {
    if (image_input(a, path, s, s, x)) return 1;
    const char *err = dl_net_run(net, x, 1, out);
    return err ? fail("%s: %s", path, err) : 0;
}

static int cmd_train(const args *a) {
    if (a->n_files != 1) return fail("train needs one folder (one sub-folder of images per class)");
    const char *kind = strcmp(a->classifier, "all") ? a->classifier : "linear-svm";
    int size = train_size(a), cv = train_cv(a), num_classes = 0, n = 0, folds = 0, status = 0;
    double holdout = size && cv >= 0 ? train_holdout(a) : 0;
    if (!size || cv < 0 || holdout < 0) return 1;
    dl_project p;
    const char *err = dl_project_init(&p, size, cv, kind, &a->fit);
    if (!err) err = dl_project_set_holdout(&p, holdout);
    if (err) { dl_project_free(&p); return fail("%s", err); }
    char **classes = list_dir(a->files[0], 1, &num_classes);
    dl_model *m = NULL;
    dl_net *net = NULL;
    float *x = NULL, *features = NULL;
    int *y = NULL, *fold = NULL, *pred = NULL, *confusion = NULL, cap = 0;
    size_t d = 0;
    if (!classes) status = 1;
    else if (num_classes < 2 || num_classes > DL_PROJECT_MAX_CLASSES) status = fail("%s holds %d class folders (2 to %d needed)", a->files[0], num_classes, DL_PROJECT_MAX_CLASSES);
    for (int c = 0; !status && c < num_classes; c++)
        if ((err = dl_project_add_class(&p, classes[c], strlen(classes[c])))) status = fail("%s: %s", classes[c], err);
    if (!status) status = feature_net(a, size, &m, &net);
    if (!status) { d = dl_net_output_size(net); x = malloc(sizeof(float) * (size_t)size * size * 3); if (!x) status = fail("out of memory"); }
    for (int c = 0; !status && c < num_classes; c++) {
        char dir[PATH_MAX], path[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", a->files[0], classes[c]);
        int count = 0;
        char **files = list_dir(dir, 0, &count);
        if (!files) { status = 1; break; }
        for (int i = 0; !status && i < count; i++) {
            if (snprintf(path, sizeof path, "%s/%s", dir, files[i]) >= (int)sizeof path) { fail("%s/%s: path too long", dir, files[i]); continue; }
            if (n == cap) {   /* room for twice as many rows: linear, not quadratic, copying */
                size_t rows = cap ? 2 * (size_t)cap : 64, fbytes;
                if (rows > INT_MAX || !dl_bytes(rows, d, sizeof(float), 0, &fbytes)) { status = fail("too many images"); break; }
                float *grown = realloc(features, fbytes);
                int *labels = realloc(y, sizeof(int) * rows);
                if (grown) features = grown;
                if (labels) y = labels;
                if (!grown || !labels) { status = fail("out of memory"); break; }
                cap = (int)rows;
            }
            if (image_features(a, net, size, path, x, features + d * (size_t)n)) { fprintf(stderr, "denselab: skipped %s\n", path); continue; }
            y[n++] = c;
            if (a->with_images) {
                size_t bytes;
                const char *why;
                unsigned char *data = read_file_limited(path, 0, LIMIT_IMAGE, 0, &bytes, &why);
                err = data ? dl_project_add_image(&p, c, files[i], strlen(files[i]), data, bytes) : why;
                free(data);
                if (err) status = fail("%s: %s", path, err);
            }
        }
        free_names(files, count);
    }
    if (!status && (!(fold = malloc(sizeof(int) * (size_t)n)) || !(pred = malloc(sizeof(int) * (size_t)n)) ||
                    !(confusion = calloc((size_t)num_classes * num_classes, sizeof(int)))))
        status = fail("out of memory");
    if (!status && (err = dl_project_folds(&p, y, n, fold, &folds))) status = fail("%s", err);
    if (!status && (err = dl_cross_validate(kind, features, y, n, (int)d, &a->fit, fold, folds, NULL, NULL, pred))) status = fail("cross-validation: %s", err);
    if (!status && (err = dl_train_confusion(y, pred, n, num_classes, confusion))) status = fail("%s", err);
    if (!status) {
        dl_text t = { 0 };
        dl_train_report_format(&t, a->json, num_classes, (const char *const *)p.class_names, confusion, n, folds, p.holdout);
        if (t.failed) status = fail("out of memory");
        else fputs(t.buf, stdout);
        dl_text_free(&t);
    }
    const char *save = a->project ? a->project : a->out;
    if (!status && save) {
        dl_classifier *c = NULL;
        uint8_t *bytes = NULL, *file = NULL;
        size_t size_c = 0, size_p = 0;
        err = dl_fit(kind, features, y, n, (int)d, &a->fit, NULL, NULL, &c, NULL);
        if (!err) err = dl_classifier_save(c, &bytes, &size_c);
        if (!err) err = dl_project_set_classifier(&p, bytes, size_c);
        if (!err) err = dl_project_save(&p, &file, &size_p);
        FILE *f = err ? NULL : fopen(save, "wb");
        if (!err && (!f || fwrite(file, 1, size_p, f) != size_p)) err = strerror(errno);
        if (f && fclose(f) && !err) err = strerror(errno);
        if (err) status = fail("%s: %s", save, err);
        else fprintf(stderr, "wrote %s (%d classes, %d images%s)\n", save, num_classes, n, a->with_images ? " included" : "");
        dl_classifier_free(c); free(bytes); free(file);
    }
    free(x); free(features); free(y); free(fold); free(pred); free(confusion);
    free_names(classes, num_classes);
    dl_net_free(net); dl_model_free(m); dl_project_free(&p);
    return status;
}

/* The project file at where into *p; nonzero (reported) when it cannot be read or parsed. */
static int load_project(const char *where, dl_project *p) {
    size_t n;
    const char *why;
    unsigned char *bytes = read_file_limited(where, 0, LIMIT_PROJECT, 0, &n, &why);
    if (!bytes) return fail("cannot read project %s: %s", where, why);
    const char *err = dl_project_load(bytes, n, p);
    free(bytes);
    return err ? fail("%s: %s", where, err) : 0;
}

static int cmd_classify_project(const args *a, const char *where) {
    if (!a->n_files) return fail("classify needs at least one image");
    dl_project p;
    if (load_project(where, &p)) return 1;
    const char *err;
    dl_classifier *c = NULL;
    dl_model *m = NULL;
    dl_net *net = NULL;
    float *x = NULL, *features = NULL, *scores = NULL;
    int status = !p.classifier ? fail("%s: the project holds no trained classifier", where) : 0;
    if (!status && (err = dl_classifier_load(p.classifier, p.classifier_size, &c))) status = fail("%s: %s", where, err);
    if (!status) status = feature_net(a, p.size, &m, &net);
    if (!status && (size_t)c->num_features != dl_net_output_size(net)) status = fail("%s: the classifier takes %d features, the network gives %zu", where, c->num_features, dl_net_output_size(net));
    if (!status && (!(x = malloc(sizeof(float) * (size_t)p.size * p.size * 3)) || !(features = malloc(sizeof(float) * dl_net_output_size(net))) ||
                    !(scores = malloc(sizeof(float) * (size_t)p.num_classes))))
        status = fail("out of memory");
    if (!status && a->json) fputs("[", stdout);
    int unreadable = 0;     /* the readable images are still classified */
    for (int i = 0, printed = 0; !status && i < a->n_files; i++) {
        if (image_features(a, net, p.size, a->files[i], x, features)) { unreadable = 1; continue; }
        if ((err = dl_classifier_predict(c, features, 1, NULL, scores))) { unreadable = fail("%s: %s", a->files[i], err); continue; }
        dl_text t = { 0 };
        dl_train_prediction_format(&t, a->json, p.num_classes, (const char *const *)p.class_names, scores);
        if (a->json) { fputs(printed ? ", {\"image\": " : "{\"image\": ", stdout); print_json_name(a->files[i]); printf("%s}", t.buf); }
        else printf("%s:%s\n", a->files[i], t.buf);
        dl_text_free(&t);
        printed++;
    }
    if (!status && a->json) fputs("]\n", stdout);
    free(x); free(features); free(scores);
    dl_classifier_free(c); dl_net_free(net); dl_model_free(m); dl_project_free(&p);
    return status || unreadable;
}

/* export-onnx [--classifier FILE] --out FILE.onnx [--json]: the trained classifier file's network and
 * classifier (--project FILE is the same; without either, the network of the Keras arguments) as one ONNX file (onnx/export.h). */
static int cmd_export_onnx(const args *a) {
    if (!a->out) return fail("export-onnx needs --out FILE.onnx");
    if (a->n_files) return fail("export-onnx takes no file arguments (got %s; the project is --project FILE)", a->files[0]);
    const char *where = trained_classifier_path(a);
    dl_project p;
    if (where && load_project(where, &p)) return 1;
    int have_project = where != NULL;
    dl_model *m = NULL;
    dl_onnx_file f = { 0 };
    int status = load_model(a, &m);
    const char *err = status ? NULL : dl_onnx_export(m, &a->net, have_project ? &p : NULL, a->json, &f);
    if (err) status = where ? fail("%s: %s", where, err) : fail("%s", err);
    FILE *out = status ? NULL : fopen(a->out, "wb");
    if (!status && (!out || fwrite(f.bytes, 1, f.size, out) != f.size)) status = fail("%s: %s", a->out, strerror(errno));
    if (out && fclose(out) && !status) status = fail("%s: %s", a->out, strerror(errno));
    if (!status && a->json) { fputs("{\"out\": ", stdout); print_json_name(a->out); printf(", %s}\n", f.about.buf); }
    else if (!status) printf("wrote %s\n%s", a->out, f.about.buf);
    dl_onnx_file_free(&f);
    dl_model_free(m);
    if (have_project) dl_project_free(&p);
    return status;
}

int main(int argc, char **argv) {
    static const char *usage =
        "usage: denselab classify IMAGE... [--top K] [--json]\n"
        "       denselab summary [--include-top true|false] [--weights imagenet|none] [--input-shape H,W,C] [--pooling none|avg|max] [--classes N]\n"
        "       denselab preprocess IMAGE [--size H,W] --out FILE.npy\n"
        "       denselab predict IMAGE... --out FILE.npy [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]\n"
        "       denselab features --size S [--train N] [--test M] --out FILE.npy [--batch B] [--data DIR]\n"
        "       denselab fashion --size S --train N --test M --classifier linear-svm|rbf-svm|softmax|finetune|pixels-linear-svm|all\n"
        "                        [--PARAM VALUE]... [--rbf-max N (default: all)] [--json] [--data DIR]   (PARAMs below)\n"
        "                        [--feature-type f16|f32]   (how every row's features are stored; default: float16 for the SVMs, float32 for the others)\n"
        "       denselab bench [--runs R] [--batch B] [--threads N] [--layers] [--include-top B] [--input-shape H,W,C] [--pooling P] [--json]\n"
        "       denselab train DIR [--size 224] [--classifier linear-svm|rbf-svm|softmax] [--PARAM VALUE]... [--cv auto|loo|K | --holdout F]\n"
        "                      [--out FILE.dlproj] [--with-images] [--json]   (DIR: one sub-folder of images per class)\n"
        "       denselab classify --classifier FILE.dlproj IMAGE... [--json]   (a file from train --out or the page; --project FILE: the same)\n"
        "       denselab export-onnx --classifier FILE.dlproj --out FILE.onnx [--json]   (without --classifier: the network of the Keras arguments)\n"
        "       denselab --version\n"
        "options: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N  --max-memory BYTES|512MB|2GB\n"
        "         --gray-to-rgb: a 1-channel --input-shape repeats the gray channel 3x for the ImageNet weights (not Keras)\n"
        "         --threads N (threads for one image; default: the number of cores)   bench --layers: per-layer times\n";
    if (argc == 2 && !strcmp(argv[1], "--version")) { printf("denselab %s\n", DL_VERSION); return 0; }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        print_classifier_params(argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    static args a;
    if (parse_args(argc, argv, &a)) return 1;
    if (!a.threads) {           /* default: every core, as os.availableParallelism() in wasm/cli.js */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        a.threads = cores < 1 ? 1 : cores > DL_MAX_THREADS ? DL_MAX_THREADS : (int)cores;
    }
    const char *threads_err = dl_parallel_set_threads(a.threads);
    if (threads_err) return fail("%s", threads_err);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "classify")) return cmd_classify(&a);
    if (!strcmp(cmd, "summary")) return cmd_summary(&a);
    if (!strcmp(cmd, "preprocess")) return cmd_preprocess(&a);
    if (!strcmp(cmd, "features")) return cmd_features(&a);
    if (!strcmp(cmd, "predict")) return cmd_predict(&a);
    if (!strcmp(cmd, "fashion")) return cmd_fashion(&a);
    if (!strcmp(cmd, "bench")) return cmd_bench(&a);
    if (!strcmp(cmd, "train")) return cmd_train(&a);
    if (!strcmp(cmd, "export-onnx")) return cmd_export_onnx(&a);
    return fail("unknown command '%s' (try --help)", cmd);
}
