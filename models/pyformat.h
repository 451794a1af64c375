// Python's way of printing values, for decode_predictions' text: numpy's
// float32 repr and Python's str repr. Each appends to a dl_text
// (common/text.h, which also writes the JSON strings of --json).
#ifndef DL_PYFORMAT_H
#define DL_PYFORMAT_H

#include "common/text.h"
#include <stddef.h>

// numpy's repr of a float32 (numpy 1.x): shortest digits that round-trip,
// positional for 1e-4 <= |v| < 1e16 ("0.78923416", "1.0", "123456790.0"),
// else scientific ("1e-05", "3.4028235e+38"); "nan", "inf", "-inf".
void dl_text_float32(dl_text *t, float v);

// Python's repr of a str: single quotes unless the text has a ' and no ".
// Non-printable ASCII, C1 controls, U+00A0 and U+00AD are \x-escaped as
// Python does; other non-ASCII is printed as is (Python would also escape
// other non-printable code points, which labels do not contain). Bytes that
// are not UTF-8 print as \xNN.
void dl_text_python_str(dl_text *t, const char *s);

// snprintf's contract for a text already built: copies what fits into buf
// (capacity cap, NUL-terminated when cap > 0) and returns len.
size_t dl_copy_bounded(const char *s, size_t len, char *buf, size_t cap);

// dl_text_float32 into a caller buffer, snprintf style.
size_t dl_format_float32(float v, char *buf, size_t cap);

#endif
