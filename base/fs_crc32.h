/* fs_crc32: zlib's CRC-32, fast (see fs_crc32.c). */
#ifndef FS_CRC32_H
#define FS_CRC32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* crc32_z(crc, data, n), the same value (0 starts a checksum; a checksum of a then b is
 * fs_crc32(fs_crc32(0, a, na), b, nb)), by carry-less multiplication where the CPU has it. */
uint32_t fs_crc32(uint32_t crc, const void *data, size_t n);

/* Whether fs_crc32 multiplies (else it is zlib's): for tests and benchmarks. */
bool fs_crc32_is_fast(void);

#endif
