/* Tests of fs_evq: ordering by (t, class, seq), ties, lazy cancellation, growth. */
#include <gsl/gsl_rng.h>

#include "fs_evq.h"
#include "fs_rng.h"
#include "fs_test.h"

static fs_event ev_at(int64_t t, uint32_t cls, uint32_t client)
{
    return (fs_event){.t = t, .cls = cls, .client = client};
}

START_TEST(evq_pops_in_time_order)
{
    fs_evq q;
    fs_evq_init(&q);
    gsl_rng *r = fs_rng_new();
    for (int i = 0; i < 5000; i++) {
        fs_event e = ev_at((int64_t)gsl_rng_uniform_int(r, 1000000), 0, (uint32_t)i);
        ck_assert_uint_ne(fs_evq_push(&q, &e), 0);
    }
    fs_event e;
    int64_t last = -1;
    int n = 0;
    while (fs_evq_pop(&q, &e)) {
        ck_assert_int_ge(e.t, last);
        last = e.t;
        n++;
    }
    ck_assert_int_eq(n, 5000);
    gsl_rng_free(r);
    fs_evq_fini(&q);
}
END_TEST

START_TEST(evq_ties_fire_by_class_then_insertion_order)
{
    fs_evq q;
    fs_evq_init(&q);
    fs_event evs[] = {ev_at(10, 2, 0), ev_at(10, 1, 1), ev_at(5, 9, 2), ev_at(10, 1, 3),
                      ev_at(10, 2, 4), ev_at(10, 1, 5)};
    for (size_t i = 0; i < 6; i++) fs_evq_push(&q, &evs[i]);
    const uint32_t expect[] = {2, 1, 3, 5, 0, 4};
    fs_event e;
    for (size_t i = 0; i < 6; i++) {
        ck_assert(fs_evq_pop(&q, &e));
        ck_assert_uint_eq(e.client, expect[i]);
    }
    ck_assert(!fs_evq_pop(&q, &e));
    fs_evq_fini(&q);
}
END_TEST

START_TEST(evq_cancelled_events_are_skipped)
{
    fs_evq q;
    fs_evq_init(&q);
    uint64_t h[100];
    for (uint32_t i = 0; i < 100; i++) {
        fs_event e = ev_at(i, 0, i);
        h[i] = fs_evq_push(&q, &e);
    }
    for (uint32_t i = 0; i < 100; i += 3) ck_assert(fs_evq_cancel(&q, h[i]));
    ck_assert_uint_eq(fs_evq_size(&q), 100 - 34);
    fs_event e;
    ck_assert(fs_evq_peek(&q, &e));
    ck_assert_uint_eq(e.client, 1);
    uint32_t n = 0;
    while (fs_evq_pop(&q, &e)) {
        ck_assert_uint_ne(e.client % 3, 0);
        n++;
    }
    ck_assert_uint_eq(n, 66);
    ck_assert_uint_eq(q.n_skipped, 34);
    ck_assert_uint_eq(fs_evq_size(&q), 0);
    fs_evq_fini(&q);
}
END_TEST

START_TEST(evq_cancel_interleaved_with_pushes)
{
    /* Tombstone set must survive growth and backward-shift deletion under churn. */
    fs_evq q;
    fs_evq_init(&q);
    gsl_rng *r = fs_rng_new();
    uint64_t live = 0;
    int64_t now = 0;
    for (int round = 0; round < 200; round++) {
        uint64_t hs[50];
        for (int i = 0; i < 50; i++) {
            fs_event e = ev_at(now + 1 + (int64_t)gsl_rng_uniform_int(r, 1000), 0, 1);
            hs[i] = fs_evq_push(&q, &e);
        }
        for (int i = 0; i < 50; i += 2) fs_evq_cancel(&q, hs[i]);
        live += 25;
        fs_event e;
        for (int i = 0; i < 20 && fs_evq_pop(&q, &e); i++) {
            ck_assert_int_ge(e.t, now);
            now = e.t;
            live--;
        }
    }
    ck_assert_uint_eq(fs_evq_size(&q), live);
    fs_event e;
    while (fs_evq_pop(&q, &e)) live--;
    ck_assert_uint_eq(live, 0);
    gsl_rng_free(r);
    fs_evq_fini(&q);
}
END_TEST

static Suite *evq_suite(void)
{
    Suite *s = suite_create("evq");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, evq_pops_in_time_order);
    tcase_add_test(tc, evq_ties_fire_by_class_then_insertion_order);
    tcase_add_test(tc, evq_cancelled_events_are_skipped);
    tcase_add_test(tc, evq_cancel_interleaved_with_pushes);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(evq_suite)
