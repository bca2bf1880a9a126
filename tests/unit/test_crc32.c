/* test_crc32: fs_crc32 gives zlib's crc32_z, whatever the length, the alignment and how a
 * buffer is split between calls; and the CPU here takes the carry-less path. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fs_crc32.h"
#include "fs_test.h"

enum { BIG = 1 << 20 };

static unsigned char *random_bytes(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
    return b;
}

/* Every length up to 600 at every offset 0..31 (the head, body and tail of the folding and
 * the short runs zlib takes), from 0 and from a running CRC. */
START_TEST(crc32_equals_zlib_for_every_length_and_offset)
{
    unsigned char *b = random_bytes(700, 1);
    for (size_t off = 0; off < 32; off++)
        for (size_t n = 0; off + n <= 632 && n <= 600; n++) {
            uint32_t want = (uint32_t)crc32_z(0, b + off, n);
            ck_assert_uint_eq(fs_crc32(0, b + off, n), want);
            ck_assert_uint_eq(fs_crc32(0x12345678u, b + off, n),
                              (uint32_t)crc32_z(0x12345678u, b + off, n));
        }
    free(b);
}
END_TEST

/* A megabyte, whole and split at odd places, and buffers of all zero and all one bits. */
START_TEST(crc32_equals_zlib_on_big_and_split_buffers)
{
    unsigned char *b = random_bytes(BIG + 64, 2);
    for (size_t off = 0; off < 3; off++) {
        uint32_t want = (uint32_t)crc32_z(0, b + off, BIG);
        ck_assert_uint_eq(fs_crc32(0, b + off, BIG), want);
        size_t cuts[] = {1, 63, 64, 65, 4097, BIG / 2 + 3, BIG - 17};
        for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
            uint32_t c = fs_crc32(0, b + off, cuts[i]);
            ck_assert_uint_eq(fs_crc32(c, b + off + cuts[i], BIG - cuts[i]), want);
        }
    }
    memset(b, 0, BIG);
    ck_assert_uint_eq(fs_crc32(0, b, BIG), (uint32_t)crc32_z(0, b, BIG));
    memset(b, 0xff, BIG);
    ck_assert_uint_eq(fs_crc32(0, b, BIG), (uint32_t)crc32_z(0, b, BIG));
    ck_assert_uint_eq(fs_crc32(0, "123456789", 9), 0xcbf43926u); /* the CRC-32 check value */
    free(b);
}
END_TEST

/* The machines fedsim is benchmarked on have PCLMULQDQ (every x86-64 since 2010): the tests
 * above then checked the multiplying path, not zlib against itself. */
START_TEST(crc32_multiplies_on_x86_64)
{
#if defined(__x86_64__)
    ck_assert(fs_crc32_is_fast());
#endif
}
END_TEST

static Suite *crc32_suite(void)
{
    Suite *s = suite_create("crc32");
    TCase *tc = tcase_create("crc32");
    tcase_add_test(tc, crc32_equals_zlib_for_every_length_and_offset);
    tcase_add_test(tc, crc32_equals_zlib_on_big_and_split_buffers);
    tcase_add_test(tc, crc32_multiplies_on_x86_64);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(crc32_suite)
