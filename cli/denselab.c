/* denselab — the native command line (the same subcommands as `node wasm/cli.js`).
 *
 *   denselab classify IMAGE... [--top K] [--json]
 *   denselab summary [--include-top B] [--weights W] [--input-shape H,W,C] [--pooling P] [--classes N]
 *   denselab preprocess IMAGE [--size H,W] --out FILE.npy
 *   common: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N
 *
 * Exit status 0 on success; otherwise one line on stderr saying why.
 */
#define _DEFAULT_SOURCE  /* readlink */
#include "models/image.h"
#include "models/model.h"
#include "models/predictions.h"
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("denselab: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Whole file into memory; NULL with a reason in *why. */
static unsigned char *read_file(const char *path, size_t *n, const char **why) {
    FILE *f = fopen(path, "rb");
    if (!f) { *why = strerror(errno); return NULL; }
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            unsigned char *b = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!b) { free(buf); fclose(f); *why = "out of memory"; return NULL; }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); *why = "read error"; return NULL; }
    *n = len;
    return buf;
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
    dl_net_options net;
    const char *files[256];
    int n_files;
} args;

static const char *opt_keys[][2] = {
    { "--include-top", "include_top" }, { "--weights", "weights" }, { "--input-shape", "input_shape" },
    { "--pooling", "pooling" }, { "--classes", "classes" }, { "--seed", "seed" },
};

static int parse_args(int argc, char **argv, args *a) {
    static char model_path[PATH_MAX + 32], labels_path[PATH_MAX + 32];
    default_path(model_path, sizeof model_path, "densenet121.dlm");
    default_path(labels_path, sizeof labels_path, "imagenet_class_index.json");
    a->model = model_path; a->labels = labels_path; a->top = 5;
    dl_net_options_default(&a->net);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] != '-') {
            if (a->n_files == 256) return fail("too many files (at most 256)");
            a->files[a->n_files++] = arg;
            continue;
        }
        if (!strcmp(arg, "--json")) { a->json = 1; continue; }
        if (i + 1 >= argc) return fail("%s needs a value", arg);
        const char *v = argv[++i];
        if (!strcmp(arg, "--model")) a->model = v;
        else if (!strcmp(arg, "--labels")) a->labels = v;
        else if (!strcmp(arg, "--out")) a->out = v;
        else if (!strcmp(arg, "--size")) a->size = v;
        else if (!strcmp(arg, "--top") || !strcmp(arg, "--max-pixels")) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || end == v) return fail("%s must be an integer, got '%s'", arg, v);
            if (arg[2] == 't') {
                if (x < 1) return fail("--top must be at least 1, got %ld", x);
                a->top = x > 100000 ? 100000 : (int)x;
            } else {
                if (x < 1) return fail("--max-pixels must be at least 1, got %ld", x);
                a->max_pixels = (size_t)x;
            }
        } else {
            size_t k = 0;
            while (k < sizeof opt_keys / sizeof *opt_keys && strcmp(arg, opt_keys[k][0])) k++;
            if (k == sizeof opt_keys / sizeof *opt_keys) return fail("unknown option %s", arg);
            const char *err = dl_net_options_set(&a->net, opt_keys[k][1], v);
            if (err) return fail("%s", err);
        }
    }
    return 0;
}

static int load_model(const args *a, dl_model **m) {
    const char *why;
    size_t n;
    unsigned char *bytes = read_file(a->model, &n, &why);
    if (!bytes) return fail("cannot read model file %s: %s (run ./build.sh, or pass --model)", a->model, why);
    const char *err = dl_model_load(bytes, n, m);
    free(bytes);
    if (err) return fail("%s: %s", a->model, err);
    return 0;
}

/* Keras load_img(path, target_size=(h, w)) + densenet.preprocess_input -> h*w*3 floats. */
static int image_input(const args *a, const char *path, int h, int w, float *x) {
    const char *why;
    size_t n;
    unsigned char *bytes = read_file(path, &n, &why);
    if (!bytes) return fail("cannot read %s: %s", path, why);
    dl_image img, resized;
    const char *err = dl_image_decode(bytes, n, a->max_pixels, &img);
    free(bytes);
    if (err) return fail("%s: %s", path, err);
    err = dl_image_resize_nearest(&img, w, h, &resized);
    dl_image_free(&img);
    if (err) return fail("%s: %s", path, err);
    dl_preprocess_torch(resized.rgb, (size_t)w * h, x);
    dl_image_free(&resized);
    return 0;
}

static int cmd_classify(const args *a) {
    if (!a->n_files) return fail("classify needs at least one image");
    size_t n;
    const char *why;
    char *json = (char *)read_file(a->labels, &n, &why);
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
            fputs("{\"image\": \"", stdout);
            for (const char *c = a->files[i]; *c; c++) {     /* JSON-escape the path */
                if (*c == '"' || *c == '\\') printf("\\%c", *c);
                else if ((unsigned char)*c < 0x20) printf("\\u%04x", *c);
                else putchar(*c);
            }
            printf("\", \"predictions\": %s}", text);
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
    if (load_model(a, &m)) return 1;
    const char *err = dl_net_build(m, &a->net, &net);
    if (err) { dl_model_free(m); return fail("%s", err); }
    size_t len = dl_net_summary(net, NULL, 0);
    char *text = malloc(len + 1);
    if (text) { dl_net_summary(net, text, len + 1); fputs(text, stdout); }
    free(text);
    dl_net_free(net); dl_model_free(m);
    return text ? 0 : fail("out of memory");
}

/* numpy .npy v1.0, little-endian float32, C order. */
static int write_npy(const char *path, const float *data, const int *shape, int rank) {
    char header[128], dims[64] = "";
    size_t count = 1;
    for (int i = 0; i < rank; i++) {
        size_t l = strlen(dims);
        snprintf(dims + l, sizeof dims - l, rank == 1 ? "%d," : i ? ", %d" : "%d", shape[i]);
        count *= (size_t)shape[i];
    }
    int len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    while ((10 + len + 1) % 64) header[len++] = ' ';
    header[len++] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) return fail("cannot write %s: %s", path, strerror(errno));
    unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 0xff), (unsigned char)(len >> 8) };
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)len, f) == (size_t)len &&
             fwrite(data, sizeof(float), count, f) == count;
    if (fclose(f) != 0) ok = 0;
    return ok ? 0 : fail("cannot write %s", path);
}

static int cmd_preprocess(const args *a) {
    if (a->n_files != 1) return fail("preprocess needs exactly one image");
    if (!a->out) return fail("preprocess needs --out FILE.npy");
    int h = 224, w = 224;
    if (a->size && (sscanf(a->size, "%d,%d", &h, &w) != 2 || h < 1 || w < 1 || h > 8192 || w > 8192))
        return fail("--size must be H,W (1..8192), got '%s'", a->size);
    float *x = malloc(sizeof(float) * (size_t)h * w * 3);
    if (!x) return fail("out of memory");
    int status = image_input(a, a->files[0], h, w, x);
    int shape[4] = { 1, h, w, 3 };
    if (!status) status = write_npy(a->out, x, shape, 4);
    free(x);
    return status;
}

int main(int argc, char **argv) {
    static const char *usage =
        "usage: denselab classify IMAGE... [--top K] [--json]\n"
        "       denselab summary [--include-top true|false] [--weights imagenet|none] [--input-shape H,W,C] [--pooling none|avg|max] [--classes N]\n"
        "       denselab preprocess IMAGE [--size H,W] --out FILE.npy\n"
        "options: --model FILE.dlm  --labels imagenet_class_index.json  --max-pixels N\n";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2;
    }
    static args a;
    if (parse_args(argc, argv, &a)) return 1;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "classify")) return cmd_classify(&a);
    if (!strcmp(cmd, "summary")) return cmd_summary(&a);
    if (!strcmp(cmd, "preprocess")) return cmd_preprocess(&a);
    return fail("unknown command '%s' (try --help)", cmd);
}
