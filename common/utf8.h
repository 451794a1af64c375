// UTF-8 (RFC 3629) code points: what the class index parser checks and
// decodes, and what the Python repr walks to decide what to escape.
#ifndef DL_UTF8_H
#define DL_UTF8_H

#include <stddef.h>
#include <stdint.h>

// Length of the valid UTF-8 sequence at p (no overlongs, no surrogates, at
// most U+10FFFF), 0 if invalid or cut by left; the code point in *cp.
size_t dl_utf8_decode(const unsigned char *p, size_t left, uint32_t *cp);

// Writes cp (at most U+10FFFF, no surrogate) as 1..4 bytes; returns the count.
size_t dl_utf8_encode(uint32_t cp, char out[4]);

#endif
