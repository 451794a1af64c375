// Image decoding and Keras-compatible preprocessing for DenseNet121.
//
// Decoding goes through stb_image and yields what Keras' load_img sees,
// i.e. PIL's Image.open(f).convert('RGB'): 8-bit RGB, alpha dropped without
// compositing. Resizing reproduces PIL NEAREST (load_img's default) exactly,
// and the preprocessing reproduces densenet.preprocess_input ('torch' mode)
// in float32.
//
// Functions that can fail return NULL on success or a reason string
// (static or thread-local storage, valid until the next call); they never
// abort on bad input.
#ifndef DL_IMAGE_H
#define DL_IMAGE_H

#include <stddef.h>

// 8-bit RGB, row-major, width*height*3 bytes.
typedef struct {
    int width, height;
    unsigned char *rgb;
} dl_image;

// The pixel limit: dl_image_decode refuses images of more than max_pixels
// pixels from their header, before any pixel memory is allocated.
// max_pixels 0 means DL_IMAGE_DEFAULT_MAX_PIXELS; otherwise it must be at most
// DL_IMAGE_MAX_PIXELS_LIMIT (INT_MAX / 4: the most stb_image decodes as RGBA,
// and 4 bytes a pixel still fit a 32-bit size_t), the same natively and in
// WebAssembly. A larger value is refused with a reason, never replaced.
#define DL_IMAGE_DEFAULT_MAX_PIXELS ((size_t)100000000)
#define DL_IMAGE_MAX_PIXELS_LIMIT ((size_t)536870911)

// NULL if max_pixels is acceptable (0..DL_IMAGE_MAX_PIXELS_LIMIT), else the reason.
const char *dl_image_check_max_pixels(size_t max_pixels);
// A limit as a caller states it in a double (a JS number, a parsed option):
// an integer from 0 to DL_IMAGE_MAX_PIXELS_LIMIT. NaN, infinities, fractions
// and values outside are refused with a reason quoting them, never truncated
// or wrapped. On success *max_pixels = requested (0 still means the default).
const char *dl_image_max_pixels_from_double(double requested, size_t *max_pixels);

// Decodes JPEG (baseline, progressive, Adobe CMYK/YCCK), PNG (any bit depth
// and color type; 16-bit keeps the high byte), BMP (bottom-up and top-down),
// GIF (first frame, with PIL's colors for transparent and uncovered pixels)
// and 8-bit binary PNM (P5/P6) into 8-bit RGB. max_pixels as above.
// Truncated files are refused. On failure *out is zeroed. Free the result
// with dl_image_free.
const char *dl_image_decode(const unsigned char *bytes, size_t n, size_t max_pixels, dl_image *out);

// Releases the pixels and zeroes *img (safe on a zeroed image).
void dl_image_free(dl_image *img);

// The largest target side a resize accepts: 16384 x 16384 x 3 bytes is
// 805 MB, already more than a browser tab can spare.
#define DL_IMAGE_MAX_SIDE 16384

// Keras load_img(target_size=(out_h, out_w)) resize: PIL NEAREST, bit-exact.
// out_w and out_h must be 1..DL_IMAGE_MAX_SIDE. Equal sizes give a copy.
// *out must be freed with dl_image_free.
const char *dl_image_resize_nearest(const dl_image *in, int out_w, int out_h, dl_image *out);

// A target size as a caller states it, in doubles so that nothing is
// truncated on the way in (a JS number, a parsed option): both 0 means "no
// target" (*out_h = *out_w = 0); otherwise each must be an integer from 1 to
// DL_IMAGE_MAX_SIDE. NaN, fractions, negatives, zero on one side only and
// larger values are refused with a reason quoting them.
const char *dl_image_target_size(double height, double width, int *out_h, int *out_w);

// Keras load_img(bytes, target_size=(target_h, target_w)): dl_image_decode,
// then dl_image_resize_nearest. target_h = target_w = 0 keeps the decoded
// size; otherwise each must be 1..DL_IMAGE_MAX_SIDE (checked before decoding).
// *out holds the pixels and the size actually produced (out->width x
// out->height x 3 bytes); *decoded_w, *decoded_h (either may be NULL) the
// size of the file's image. On failure *out is zeroed.
const char *dl_image_load(const unsigned char *bytes, size_t n, size_t max_pixels, int target_h, int target_w,
                          dl_image *out, int *decoded_w, int *decoded_h);

// Source index of each of the out_size outputs of PIL NEAREST along one axis:
// scale = in/out in double, pos = scale/2, idx = (int)pos, pos += scale
// (accumulated, so exact half-way points may land one pixel lower than
// floor((i + 0.5) * scale)).
void dl_nearest_indices(int in_size, int out_size, int *idx);

// densenet.preprocess_input ('torch' mode) on interleaved RGB, in float32
// and in Keras' order of operations: x / 255, then - mean, then / std.
// pixels = width * height; out holds pixels * 3 floats (HWC, RGB).
void dl_preprocess_torch(const unsigned char *rgb, size_t pixels, float *out);
// Its constants: x / 255, then (x - mean[c]) / std[c] (the ONNX export writes the same ops).
extern const float dl_torch_mean[3], dl_torch_std[3];
// The same on RGB values already in float (0..255), e.g. from a resize.
// out may equal rgb_0_255.
void dl_preprocess_torch_f32(const float *rgb_0_255, size_t pixels, float *out);

// Fashion-MNIST path: tf.image.resize(method='bilinear') of a w x h 8-bit
// gray image to out_w x out_h (half-pixel centers, no antialias, edges
// clamped), gray replicated to 3 channels: out has out_w*out_h*3 floats
// in [0, 255] (HWC), ready for dl_preprocess_torch_f32.
void dl_gray_resize_bilinear_to_rgb(const unsigned char *gray, int w, int h,
                                    int out_w, int out_h, float *out_hw3_0_255);

#endif
