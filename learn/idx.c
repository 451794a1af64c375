/* idx.c — see idx.h. IDX layout: 2 zero bytes, a type byte (0x08 =
 * unsigned byte), the number of dimensions, then one big-endian u32 per
 * dimension, then the data, row-major. */
#include "learn/idx.h"
#include "learn/learn_common.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *type_name(uint8_t t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

static const char *parse(const uint8_t *buf, size_t size, int want_dims, dl_idx *out) {
    const char *what = want_dims == 3 ? "images" : "labels";
    uint32_t want_magic = want_dims == 3 ? 0x00000803u : 0x00000801u;
    if (!buf || !out) return "IDX: NULL argument";
    if (size < 4) return dl_errorf("IDX %s: file too short (%zu bytes) for the 4-byte magic", what, size);
    uint32_t magic = be32(buf);
    if (magic != want_magic) {
        const char *tn = type_name(buf[2]);
        if (buf[0] != 0 || buf[1] != 0 || !tn)
            return dl_errorf("IDX %s: bad magic 0x%08X (expected 0x%08X); not an IDX file "
                                   "(gzip-compressed? magic 0x1F8B...)", what, magic, want_magic);
        if (buf[2] != 0x08)
            return dl_errorf("IDX %s: unsupported data type %s (0x%02X); only unsigned byte (0x08)",
                                   what, tn, buf[2]);
        return dl_errorf("IDX %s: has %d dimensions (magic 0x%08X), expected %d (magic 0x%08X)%s",
                               what, buf[3], magic, want_dims, want_magic,
                               buf[3] == (want_dims == 3 ? 1 : 3) ? "; images and labels swapped?" : "");
    }
    size_t header = 4 + 4 * (size_t)want_dims;
    if (size < header)
        return dl_errorf("IDX %s: truncated header (%zu bytes, need %zu)", what, size, header);
    out->ndims = want_dims;
    out->count = be32(buf + 4);
    out->rows = want_dims == 3 ? be32(buf + 8) : 1;
    out->cols = want_dims == 3 ? be32(buf + 12) : 1;
    out->data = buf + header;
    if (out->count == 0) return dl_errorf("IDX %s: declares 0 items", what);
    if (out->rows == 0 || out->cols == 0)
        return dl_errorf("IDX %s: bad image size %ux%u", what, out->rows, out->cols);
    /* rows, cols < 2^16 keeps count * rows * cols below 2^64. */
    if (out->rows > 65535 || out->cols > 65535)
        return dl_errorf("IDX %s: absurd dimensions %u x %u x %u", what, out->count, out->rows, out->cols);
    uint64_t need = (uint64_t)out->count * out->rows * out->cols;
    uint64_t have = size - header;
    if (have < need) {
        if (want_dims == 3)
            return dl_errorf("IDX images: truncated: header declares %u images of %ux%u (%llu bytes) "
                                   "but only %llu data bytes are present", out->count, out->rows, out->cols,
                                   (unsigned long long)need, (unsigned long long)have);
        return dl_errorf("IDX labels: truncated: header declares %u labels but only %llu are present",
                               out->count, (unsigned long long)have);
    }
    if (have > need)
        return dl_errorf("IDX %s: %llu trailing bytes after the %llu data bytes the header declares",
                               what, (unsigned long long)(have - need), (unsigned long long)need);
    return NULL;
}

const char *dl_idx_parse_images(const uint8_t *buf, size_t size, dl_idx *out) { return parse(buf, size, 3, out); }
const char *dl_idx_parse_labels(const uint8_t *buf, size_t size, dl_idx *out) { return parse(buf, size, 1, out); }

const char *dl_idx_check_pair(const dl_idx *images, const dl_idx *labels) {
    if (!images || !labels || images->ndims != 3 || labels->ndims != 1)
        return "IDX: need an images file and a labels file";
    if (images->count != labels->count)
        return dl_errorf("IDX: %u images but %u labels", images->count, labels->count);
    return NULL;
}

int dl_idx_num_classes(const dl_idx *labels) {
    int m = -1;
    for (uint32_t i = 0; i < labels->count; i++) if (labels->data[i] > m) m = labels->data[i];
    return m + 1;
}

const char *dl_idx_images_to_f32(const dl_idx *images, uint32_t first, uint32_t n, float scale, float *out) {
    if (images->ndims != 3) return "IDX: not an images file";
    if (first > images->count || n > images->count - first)
        return dl_errorf("IDX images: range [%u, %u) outside the %u images", first, first + n, images->count);
    size_t px = (size_t)images->rows * images->cols;
    const uint8_t *p = images->data + (size_t)first * px;
    for (size_t i = 0; i < (size_t)n * px; i++) out[i] = p[i] * scale;
    return NULL;
}

const char *dl_idx_labels_to_int(const dl_idx *labels, uint32_t first, uint32_t n, int *out) {
    if (labels->ndims != 1) return "IDX: not a labels file";
    if (first > labels->count || n > labels->count - first)
        return dl_errorf("IDX labels: range [%u, %u) outside the %u labels", first, first + n, labels->count);
    for (uint32_t i = 0; i < n; i++) out[i] = labels->data[first + i];
    return NULL;
}
