/* Tests of fs_evq: ordering by (t, class, seq), ties, lazy cancellation, growth, the pop's hole,
 * extreme times, and long random runs (narrow and wide times, peeks, pushes before the last popped
 * time) against a reference that scans for the earliest (t, class, insertion) event. */
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

/* How a run against the reference draws its pushes. */
typedef struct ref_run {
    int ops;
    size_t max_live;
    uint32_t n_cls;
    int max_delay_bits; /* a push is at now + U[0, 2^bits) with bits from U[0, max_delay_bits] */
    bool fixed_window;  /* instead: now + U[0, window) */
    int64_t window;
    double p_peek;  /* of the pops, this share are peeks that must see the same event */
    double p_early; /* of the pushes, this share go before now (the last popped time) */
    bool radix_from_start; /* the radix buckets from the first push, not from FS_EVQ_RADIX_MIN */
    size_t prefill;        /* pushes before the mixed run */
} ref_run;

static int64_t ref_push_time(gsl_rng *r, const ref_run *run, int64_t now)
{
    if (run->fixed_window) return now + (int64_t)gsl_rng_uniform_int(r, (unsigned long)run->window);
    int bits = (int)gsl_rng_uniform_int(r, (unsigned long)run->max_delay_bits + 1);
    int64_t d = (int64_t)(gsl_rng_get(r) & ((UINT64_C(1) << bits) - 1));
    if (run->p_early > 0 && gsl_rng_uniform(r) < run->p_early) return now - 1 - d;
    return now + d;
}

static void ref_push(fs_evq *q, gsl_rng *r, const ref_run *run, int64_t now, ref_ev *ref,
                     size_t *n, uint32_t *next_id)
{
    fs_event e = {.t = ref_push_time(r, run, now),
                  .cls = (uint32_t)gsl_rng_uniform_int(r, run->n_cls),
                  .kind = 7,
                  .client = *next_id,
                  .slot = ~*next_id};
    (*next_id)++;
    uint64_t h = fs_evq_push(q, &e);
    ck_assert_uint_ne(h, 0);
    ref[(*n)++] = (ref_ev){e, h};
}

/* Random pushes, cancels and pops (or peeks) against the reference; returns the pops that broke
 * a tie of time. */
static size_t ref_check(const ref_run *run, int64_t t0, size_t *out_pops)
{
    fs_evq q;
    fs_evq_init(&q);
    gsl_rng *r = fs_rng_new();
    ref_ev *ref = malloc(run->max_live * sizeof *ref);
    size_t n = 0;
    uint32_t next_id = 0;
    int64_t now = t0;
    size_t ties = 0, pops = 0;
    if (run->radix_from_start) q.radix_min = 0;
    while (n < run->prefill) ref_push(&q, r, run, now, ref, &n, &next_id);
    for (int op = 0; op < run->ops; op++) {
        double u = gsl_rng_uniform(r);
        if (n < run->max_live && (u < 0.5 || n == 0)) {
            ref_push(&q, r, run, now, ref, &n, &next_id);
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
            bool peek = run->p_peek > 0 && gsl_rng_uniform(r) < run->p_peek;
            fs_event e;
            ck_assert(peek ? fs_evq_peek(&q, &e) : fs_evq_pop(&q, &e));
            ck_assert_uint_eq(e.client, ref[i].ev.client);
            ck_assert_int_eq(e.t, ref[i].ev.t);
            ck_assert_uint_eq(e.cls, ref[i].ev.cls);
            ck_assert_uint_eq(e.kind, 7);
            ck_assert_uint_eq(e.slot, ~ref[i].ev.client);
            if (!peek) {
                ties += tie;
                pops++;
                ck_assert(!fs_evq_cancel(&q, ref[i].handle)); /* fired: its handle is stale */
                now = e.t;
                ref_remove(ref, &n, i);
            }
        }
        ck_assert_uint_eq(fs_evq_size(&q), n);
    }
    while (n) {
        size_t i = ref_earliest(ref, n);
        fs_event e;
        ck_assert(fs_evq_pop(&q, &e));
        ck_assert_uint_eq(e.client, ref[i].ev.client);
        ref_remove(ref, &n, i);
        ck_assert_uint_eq(fs_evq_size(&q), n);
    }
    fs_event e;
    ck_assert(!fs_evq_pop(&q, &e));
    ck_assert(!fs_evq_peek(&q, &e));
    gsl_rng_free(r);
    free(ref);
    fs_evq_fini(&q);
    *out_pops = pops;
    return ties;
}

START_TEST(evq_matches_reference_with_ties_and_cancels)
{
    /* times from a window of 40 us and 3 classes: most pops break a tie, so a queue that
     * compared the wrong field, or broke ties by anything but insertion, pops another client */
    ref_run run = {.ops = 60000, .max_live = 3000, .n_cls = 3, .fixed_window = true, .window = 40};
    size_t pops, ties = ref_check(&run, 0, &pops);
    ck_assert_uint_gt(2 * ties, pops); /* the run really was about ties */
}
END_TEST

START_TEST(evq_radix_matches_reference_with_ties_and_cancels)
{
    /* the same with the radix buckets in use from the start (a queue this small keeps to the
     * heap otherwise): ties of one instant meet in the heap from different buckets */
    ref_run run = {.ops = 60000, .max_live = 3000, .n_cls = 3, .fixed_window = true, .window = 40,
                   .radix_from_start = true};
    size_t pops, ties = ref_check(&run, 0, &pops);
    ck_assert_uint_gt(2 * ties, pops);
}
END_TEST

START_TEST(evq_matches_reference_across_radix_start)
{
    /* 10000 keys pushed first: the buckets start at FS_EVQ_RADIX_MIN with the earlier keys left
     * in the heap, and the pops draw from both */
    ref_run run = {.ops = 30000, .max_live = 11000, .n_cls = 3, .max_delay_bits = 24,
                   .p_peek = 0.1, .prefill = 10000};
    size_t pops;
    ref_check(&run, 0, &pops);
    ck_assert_uint_gt(pops, 8000);
}
END_TEST

START_TEST(evq_matches_reference_over_wide_times_with_peeks)
{
    /* delays of 0 to 2^40 us: keys fall in every radix bucket and move down through many; one
     * delay in 41 is 0, so some pops still break ties of time; peeks move t_last ahead of the
     * pushes that follow them; negative times cross the sign bit */
    ref_run run = {.ops = 60000, .max_live = 2000, .n_cls = 2, .max_delay_bits = 40,
                   .p_peek = 0.3, .radix_from_start = true};
    size_t pops, ties = ref_check(&run, -(INT64_C(1) << 30), &pops);
    ck_assert_uint_gt(100 * ties, pops);
}
END_TEST

START_TEST(evq_matches_reference_with_pushes_before_now)
{
    /* a tenth of the pushes go before the last popped time (the queue's slow path): they still
     * pop first, in (t, class, insertion) order */
    ref_run run = {.ops = 40000, .max_live = 2000, .n_cls = 3, .max_delay_bits = 12,
                   .p_peek = 0.2, .p_early = 0.1, .radix_from_start = true};
    size_t pops;
    ref_check(&run, 0, &pops);
    ck_assert_uint_gt(pops, 5000);
}
END_TEST

START_TEST(evq_pop_then_push_keeps_size_and_order)
{
    /* a pop leaves a hole that the next push fills: every size, peek and cancel in between must
     * see the pop as done */
    fs_evq q;
    fs_evq_init(&q);
    uint64_t h[3];
    for (uint32_t i = 0; i < 3; i++) {
        fs_event e = ev_at(10 * (i + 1), 0, i);
        h[i] = fs_evq_push(&q, &e);
    }
    fs_event e;
    ck_assert(fs_evq_pop(&q, &e));
    ck_assert_uint_eq(e.client, 0);
    ck_assert_uint_eq(fs_evq_size(&q), 2);
    ck_assert(!fs_evq_cancel(&q, h[0]));
    ck_assert(fs_evq_cancel(&q, h[1])); /* the next root, while the hole is open */
    ck_assert_uint_eq(fs_evq_size(&q), 1);
    e = ev_at(10, 1, 3); /* same time as the popped event: the heap's fast path */
    fs_evq_push(&q, &e);
    ck_assert_uint_eq(fs_evq_size(&q), 2);
    ck_assert(fs_evq_pop(&q, &e));
    ck_assert_uint_eq(e.client, 3);
    ck_assert(fs_evq_pop(&q, &e)); /* the hole is closed by the pop, skipping the tombstone */
    ck_assert_uint_eq(e.client, 2);
    ck_assert_uint_eq(fs_evq_size(&q), 0);
    ck_assert(!fs_evq_pop(&q, &e));
    ck_assert_uint_eq(fs_evq_size(&q), 0);
    e = ev_at(5, 0, 4); /* after the queue ran dry, earlier than every time popped */
    fs_evq_push(&q, &e);
    ck_assert_uint_eq(fs_evq_size(&q), 1);
    ck_assert(fs_evq_peek(&q, &e));
    ck_assert_uint_eq(e.client, 4);
    fs_evq_fini(&q);
}
END_TEST

START_TEST(evq_orders_extreme_times)
{
    /* the radix buckets work on times as unsigned bit patterns: the sign bit and both ends of
     * int64_t must keep their order, with the buckets and without */
    const int64_t ts[] = {INT64_MAX, 0, -1, INT64_MIN, 1, INT64_MIN + 1, INT64_MAX - 1, -2};
    const uint32_t expect[] = {3, 5, 7, 2, 1, 4, 6, 0};
    for (int radix = 0; radix < 2; radix++) {
        fs_evq q;
        fs_evq_init(&q);
        if (radix) q.radix_min = 0;
        for (uint32_t i = 0; i < 8; i++) {
            fs_event e = ev_at(ts[i], 0, i);
            fs_evq_push(&q, &e);
        }
        fs_event e;
        for (size_t i = 0; i < 8; i++) {
            ck_assert(fs_evq_pop(&q, &e));
            ck_assert_uint_eq(e.client, expect[i]);
        }
        ck_assert(!fs_evq_pop(&q, &e));
        fs_evq_fini(&q);
    }
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
    tcase_add_test(tc, evq_radix_matches_reference_with_ties_and_cancels);
    tcase_add_test(tc, evq_matches_reference_across_radix_start);
    tcase_add_test(tc, evq_matches_reference_over_wide_times_with_peeks);
    tcase_add_test(tc, evq_matches_reference_with_pushes_before_now);
    tcase_add_test(tc, evq_pop_then_push_keeps_size_and_order);
    tcase_add_test(tc, evq_orders_extreme_times);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(evq_suite)
