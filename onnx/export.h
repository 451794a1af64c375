/* export.h — DenseNet121 and a project's trained classifier as one ONNX file,
 * so that the model runs wherever ONNX Runtime runs and gives our scores.
 *
 * The file (ONNX IR 8, opset 13, and ai.onnx.ml 1 for the RBF SVM):
 *   input  image    float32 [N, S, S, 3]: RGB 0..255 in NHWC, what Keras's
 *                   load_img(target_size=(S, S)) gives (PIL nearest resize);
 *                   preprocess_input ('torch') is the graph's first three ops
 *   project outputs scores [N, K] float32 (what `classify --project` prints:
 *                   linear-svm decision values, softmax probabilities, rbf-svm
 *                   one-vs-one votes), label [N] int64 (the first maximum),
 *                   class_name [N] string, features [N, 1024] float32 (the
 *                   pooled DenseNet121 features); rbf-svm also decision_values
 *                   [N, K(K-1)/2] (LIBSVM's pair order (0,1), (0,2) .. (1,2) ..)
 *   network alone   output: the network's output (NHWC for a 4-D output)
 * metadata_props: classes (a JSON array), input_size, input, preprocessing,
 * classifier, scores, model. Native and WebAssembly write the same bytes.
 *
 * Laid out as the Keras layers are (NCHW inside: one Transpose after the
 * preprocessing); the file's own weights, BatchNorm unfolded (the runtime
 * folds it). The network alone needs the ImageNet weights and a 3-channel
 * input (weights=None and --gray-to-rgb are refused with the reason). */
#ifndef DENSELAB_ONNX_EXPORT_H
#define DENSELAB_ONNX_EXPORT_H
#include <stddef.h>
#include <stdint.h>
#include "common/text.h"
#include "learn/train.h"
#include "models/model.h"

typedef struct {
    uint8_t *bytes;           /* the .onnx file (malloc'ed) */
    size_t size;
    dl_text about;            /* what it computes, as both CLIs print it: text lines, or JSON members */
} dl_onnx_file;

/* p NULL: the network as o asks; else the project's network
 * (include_top=False, pooling='avg', input_shape=(S, S, 3); o's max_memory)
 * and its classifier. On failure *out is left empty. */
const char *dl_onnx_export(const dl_model *m, const dl_net_options *o, const dl_project *p, int json, dl_onnx_file *out);
void dl_onnx_file_free(dl_onnx_file *f);

#endif
