/* Tests of fs_evq: ordering by (t, class, seq), ties, lazy cancellation, growth, and a long
 * random run against a reference that scans for the earliest (t, class, insertion) event. */
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

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

/* The reference queue: live events in insertion order; the earliest by (t, class), the first
 * inserted among equals, is found by a scan. */
typedef struct ref_ev {
    fs_event ev;
    uint64_t handle;
} ref_ev;

static size_t ref_earliest(const ref_ev *ref, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++) {
        const fs_event *a = &ref[i].ev, *b = &ref[best].ev;
        if (a->t < b->t || (a->t == b->t && a->cls < b->cls)) best = i;
    }
    return best;
}

static void ref_remove(ref_ev *ref, size_t *n, size_t i)
{
    memmove(ref + i, ref + i + 1, (*n - i - 1) * sizeof *ref);
    (*n)--;
}

START_TEST(evq_matches_reference_with_ties_and_cancels)
{
    /* times from a window of 40 us and 3 classes: most pops break a tie, so a queue that
     * compared the wrong field, or broke ties by anything but insertion, pops another client */
    enum { OPS = 60000, MAX_LIVE = 3000 };
    fs_evq q;
    fs_evq_init(&q);
    gsl_rng *r = fs_rng_new();
    ref_ev *ref = malloc(MAX_LIVE * sizeof *ref);
    size_t n = 0;
    uint32_t next_id = 0;
    int64_t now = 0;
    size_t ties = 0, pops = 0;
    for (int op = 0; op < OPS; op++) {
        double u = gsl_rng_uniform(r);
        if (n < MAX_LIVE && (u < 0.5 || n == 0)) {
            fs_event e = {.t = now + (int64_t)gsl_rng_uniform_int(r, 40),
                          .cls = (uint32_t)gsl_rng_uniform_int(r, 3),
                          .kind = 7,
                          .client = next_id,
                          .slot = ~next_id};
            next_id++;
            uint64_t h = fs_evq_push(&q, &e);
            ck_assert_uint_ne(h, 0);
            ref[n++] = (ref_ev){e, h};
        } else if (u < 0.6) {
            size_t i = gsl_rng_uniform_int(r, n);
            ck_assert(fs_evq_cancel(&q, ref[i].handle));
            ck_assert(!fs_evq_cancel(&q, ref[i].handle)); /* a second cancel is refused */
            ref_remove(ref, &n, i);
        } else {
            size_t i = ref_earliest(ref, n);
            bool tie = false;
            for (size_t j = 0; j < n; j++)
                tie |= j != i && ref[j].ev.t == ref[i].ev.t;
            ties += tie;
            pops++;
            fs_event e;
            ck_assert(fs_evq_pop(&q, &e));
            ck_assert_uint_eq(e.client, ref[i].ev.client);
            ck_assert_int_eq(e.t, ref[i].ev.t);
            ck_assert_uint_eq(e.cls, ref[i].ev.cls);
            ck_assert_uint_eq(e.kind, 7);
            ck_assert_uint_eq(e.slot, ~ref[i].ev.client);
            ck_assert(!fs_evq_cancel(&q, ref[i].handle)); /* fired: its handle is stale */
            now = e.t;
            ref_remove(ref, &n, i);
        }
        ck_assert_uint_eq(fs_evq_size(&q), n);
    }
    ck_assert_uint_gt(2 * ties, pops); /* the run really was about ties */
    while (n) {
        size_t i = ref_earliest(ref, n);
        fs_event e;
        ck_assert(fs_evq_pop(&q, &e));
        ck_assert_uint_eq(e.client, ref[i].ev.client);
        ref_remove(ref, &n, i);
    }
    fs_event e;
    ck_assert(!fs_evq_pop(&q, &e));
    gsl_rng_free(r);
    free(ref);
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
    tcase_add_test(tc, evq_matches_reference_with_ties_and_cancels);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(evq_suite)
