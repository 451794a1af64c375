/* format.h — the DenseLab model file (.dlm): one file, graph + named tensors.
 *
 * All integers little-endian. Layout:
 *   [header 64 bytes][graph section: layer records, then tensor records]
 *   [zero padding to a 64-byte boundary][tensor data]
 * The file ends exactly at the end of the tensor data (trailing bytes are an
 * error). The CRC-32 covers every byte after the header.
 *
 * Layer record:  u32 type, u32 activation, str name, u32 n_inputs,
 *                u32 inputs[n_inputs] (indices of earlier layers),
 *                i32 iparams[8], f32 fparams[2], u32 n_tensors, u32 tensors[n]
 * Tensor record: str name, u32 ndim (1..4), u32 dims[ndim], u64 data offset
 *                (bytes from the start of the data section, 16-aligned)
 * str = u16 length + bytes (no terminator).
 * Tensor data is float32, or IEEE float16 when DL_FLAG_FLOAT16 is set
 * (half the download; widened to float32 on load, computed in float32).
 */
#ifndef DENSELAB_FORMAT_H
#define DENSELAB_FORMAT_H

#define DL_MAGIC          "DENSELAB"
#define DL_VERSION        1
#define DL_HEADER_BYTES   64
#define DL_FLAG_FLOAT16   1u

/* Header: magic[8], u32 version, u32 flags, u32 n_layers, u32 n_tensors,
 * u64 graph_bytes, u64 data_bytes, u32 crc32, u32 reserved, char name[16]. */

/* The layer types: enum value, Keras class name. This table is the one
 * definition: models/convert.js reads it from this file (the converter's
 * LAYER), and graph.c's class names come from it. Append only: the values
 * are in every model file. */
#define DL_LAYER_TYPES(X) \
    X(DL_INPUT,              1, "InputLayer") \
    X(DL_ZERO_PADDING2D,     2, "ZeroPadding2D") \
    X(DL_CONV2D,             3, "Conv2D") \
    X(DL_BATCH_NORM,         4, "BatchNormalization") \
    X(DL_ACTIVATION,         5, "Activation") \
    X(DL_MAX_POOL2D,         6, "MaxPooling2D") \
    X(DL_AVG_POOL2D,         7, "AveragePooling2D") \
    X(DL_CONCATENATE,        8, "Concatenate") \
    X(DL_GLOBAL_AVG_POOL2D,  9, "GlobalAveragePooling2D") \
    X(DL_GLOBAL_MAX_POOL2D, 10, "GlobalMaxPooling2D") \
    X(DL_DENSE,             11, "Dense")

#define DL_LAYER_TYPE_ENUM(name, value, keras) name = value,
enum dl_layer_type { DL_LAYER_TYPES(DL_LAYER_TYPE_ENUM) DL_LAYER_TYPE_COUNT };
#undef DL_LAYER_TYPE_ENUM

/* What each of a layer record's iparams[8] / fparams[2] slots means, per
 * layer type (unnamed slots are 0). Tensors, in order: Conv2D and Dense
 * kernel [, bias]; BatchNormalization gamma, beta, moving_mean,
 * moving_variance. Concatenate is over the channel axis only; Activation
 * uses the record's activation field. */
enum dl_input_param   { DL_INPUT_H = 0, DL_INPUT_W = 1, DL_INPUT_C = 2 };   /* -1: any */
enum dl_padding_param { DL_PAD_TOP = 0, DL_PAD_BOTTOM = 1, DL_PAD_LEFT = 2, DL_PAD_RIGHT = 3 };
enum dl_conv_param {
    DL_CONV_FILTERS = 0, DL_CONV_KH = 1, DL_CONV_KW = 2, DL_CONV_STRIDE_H = 3, DL_CONV_STRIDE_W = 4,
    DL_CONV_SAME_PADDING = 5, DL_CONV_USE_BIAS = 6
};
enum dl_pool_param {   /* MaxPooling2D and AveragePooling2D ('valid' padding) */
    DL_POOL_H = 0, DL_POOL_W = 1, DL_POOL_STRIDE_H = 2, DL_POOL_STRIDE_W = 3
};
enum dl_dense_param   { DL_DENSE_UNITS = 0, DL_DENSE_USE_BIAS = 1 };
enum dl_bn_fparam     { DL_BN_EPSILON = 0 };

enum dl_activation { DL_LINEAR = 0, DL_RELU = 1, DL_SOFTMAX = 2 };

#endif
