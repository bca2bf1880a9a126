/* fs_link: processor-sharing finish times against hand-computed schedules (capacity 10 bytes/us
 * unless said otherwise). */
#include <check.h>
#include <math.h>

#include "fs_err.h"
#include "fs_link.h"
#include "fs_test.h"

/* Pops the next finishing transfer, checks its id and time, and takes it off at that time. */
static void expect_next(fs_link *l, uint32_t id, int64_t t)
{
    int64_t tf;
    uint32_t got;
    ck_assert(fs_link_next(l, &tf, &got));
    ck_assert_uint_eq(got, id);
    ck_assert_int_eq(tf, t);
    ck_assert(fs_link_remove(l, tf, got) == 0);
}

START_TEST(link_equal_transfers_share_equally)
{
    fs_link l;
    ck_assert_int_eq(fs_link_init(&l, 10, 4), FS_OK);
    fs_link_add(&l, 0, 1, 100, 8); /* caps 8 + 8 > 10: 5 each, 20 us */
    fs_link_add(&l, 0, 0, 100, 8);
    expect_next(&l, 0, 20); /* a tie goes to the lowest id */
    expect_next(&l, 1, 20);
    int64_t t;
    uint32_t id;
    ck_assert(!fs_link_next(&l, &t, &id));
    fs_link_fini(&l);
}
END_TEST

/* A alone at 10/us; B joins at 5 when A has 50 left: 5 each, A done at 15, then B alone moves
 * its last 50 at 10/us: done at 20 (200 bytes through 10/us, work-conserving). */
START_TEST(link_transfer_joining_slows_the_others)
{
    fs_link l;
    ck_assert_int_eq(fs_link_init(&l, 10, 4), FS_OK);
    fs_link_add(&l, 0, 0, 100, 100);
    int64_t t;
    uint32_t id;
    ck_assert(fs_link_next(&l, &t, &id));
    ck_assert_int_eq(t, 10);
    fs_link_add(&l, 5, 1, 100, 100);
    expect_next(&l, 0, 15);
    expect_next(&l, 1, 20);
    fs_link_fini(&l);
}
END_TEST

/* A's own cap 2 is below C/3: water-filling gives A 2 and B, C (10 - 2) / 2 = 4 each, so B and
 * C finish at 25 (min(own, C/n) would give them 3.33 and 30); A, with 50 left, then moves at its
 * cap alone: 25 + 50 / 2 = 50. */
START_TEST(link_capped_transfer_leaves_its_share_to_others)
{
    fs_link l;
    ck_assert_int_eq(fs_link_init(&l, 10, 4), FS_OK);
    fs_link_add(&l, 0, 0, 100, 2);
    fs_link_add(&l, 0, 1, 100, 100);
    fs_link_add(&l, 0, 2, 100, 100);
    expect_next(&l, 1, 25);
    expect_next(&l, 2, 25);
    expect_next(&l, 0, 50);
    fs_link_fini(&l);
}
END_TEST

/* As above, but B drops at 10 with 60 left: A keeps 2, C gets min(100, 10 - 2) = 8 and moves
 * its 60 in 7.5 us, rounded up to 18; A: 80 left at 10, 2/us, alone after 18 too: 16 moved by
 * 18, 64 left: 18 + 32 = 50. */
START_TEST(link_removed_transfer_speeds_up_the_others)
{
    fs_link l;
    ck_assert_int_eq(fs_link_init(&l, 10, 4), FS_OK);
    fs_link_add(&l, 0, 0, 100, 2);
    fs_link_add(&l, 0, 1, 100, 100);
    fs_link_add(&l, 0, 2, 100, 100);
    ck_assert(fabs(fs_link_remove(&l, 10, 1) - 60) < 1e-9);
    expect_next(&l, 2, 18);
    expect_next(&l, 0, 50);
    fs_link_fini(&l);
}
END_TEST

/* Caps that fit in the capacity are not shared: each moves at its own rate. */
START_TEST(link_unsaturated_transfers_move_at_their_own_rate)
{
    fs_link l;
    ck_assert_int_eq(fs_link_init(&l, 10, 4), FS_OK);
    fs_link_add(&l, 0, 0, 100, 4);
    fs_link_add(&l, 0, 1, 100, 5);
    expect_next(&l, 1, 20);
    expect_next(&l, 0, 25);
    fs_link_fini(&l);
}
END_TEST

/* The figure: 1,000 phones (10 Mbit/s each) upload 1 MB through 100 Mbit/s = 12.5
 * bytes/us: 1e9 bytes take 80 s, whatever the phones' own speed. */
START_TEST(link_thousand_uploads_take_eighty_seconds)
{
    fs_link l;
    enum { N = 1000 };
    ck_assert_int_eq(fs_link_init(&l, 12.5, N), FS_OK);
    for (uint32_t i = 0; i < N; i++)
        fs_link_add(&l, 0, i, 1e6, 1.25);
    int64_t t, last = 0;
    uint32_t id;
    while (fs_link_next(&l, &t, &id)) {
        ck_assert_int_ge(t, last);
        fs_link_remove(&l, t, id);
        last = t;
    }
    ck_assert_int_ge(last, 80000000);
    ck_assert_int_le(last, 80000001);
    fs_link_fini(&l);
}
END_TEST

static Suite *link_suite(void)
{
    Suite *s = suite_create("link");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, link_equal_transfers_share_equally);
    tcase_add_test(tc, link_transfer_joining_slows_the_others);
    tcase_add_test(tc, link_capped_transfer_leaves_its_share_to_others);
    tcase_add_test(tc, link_removed_transfer_speeds_up_the_others);
    tcase_add_test(tc, link_unsaturated_transfers_move_at_their_own_rate);
    tcase_add_test(tc, link_thousand_uploads_take_eighty_seconds);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(link_suite)
