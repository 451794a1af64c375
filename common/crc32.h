/* crc32.h — CRC-32 (IEEE 802.3, as zlib), the checksum of DenseLab's file
 * formats (model files .dlm, classifier files DLCLASS1). */
#ifndef DENSELAB_CRC32_H
#define DENSELAB_CRC32_H
#include <stddef.h>
#include <stdint.h>

static inline uint32_t dl_crc32(const uint8_t *p, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xffffffffu;
    while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

#endif
