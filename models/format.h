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

enum dl_layer_type {
    DL_INPUT = 1,
    DL_ZERO_PADDING2D,   /* iparams: top, bottom, left, right */
    DL_CONV2D,           /* iparams: filters, kh, kw, stride_h, stride_w, same_padding, use_bias; tensors: kernel [, bias] */
    DL_BATCH_NORM,       /* fparams[0]: epsilon; tensors: gamma, beta, moving_mean, moving_variance */
    DL_ACTIVATION,       /* activation field */
    DL_MAX_POOL2D,       /* iparams: pool_h, pool_w, stride_h, stride_w, same_padding */
    DL_AVG_POOL2D,       /* as max pool */
    DL_CONCATENATE,      /* channels axis only */
    DL_GLOBAL_AVG_POOL2D,
    DL_GLOBAL_MAX_POOL2D,
    DL_DENSE,            /* iparams: units, use_bias; tensors: kernel [in,out] [, bias] */
    DL_LAYER_TYPE_COUNT
};

enum dl_activation { DL_LINEAR = 0, DL_RELU = 1, DL_SOFTMAX = 2 };

#endif
