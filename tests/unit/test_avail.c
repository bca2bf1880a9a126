/* Tests of fs_avail: the lazy two-state Markov process has the long-run share, the transition
 * probabilities and the online durations its parameters say; diurnal follows its day curve. */
#include <math.h>
#include <string.h>

#include "fs_avail.h"
#include "fs_device.h"
#include "fs_rng.h"
#include "fs_test.h"

static fs_avail markov(double on_min, double off_min)
{
    fs_scenario s;
    memset(&s, 0, sizeof s);
    s.devices.availability = FS_AVAIL_MARKOV;
    s.devices.mean_on_min = on_min;
    s.devices.mean_off_min = off_min;
    fs_avail a;
    fs_avail_init(&a, &s);
    return a;
}

START_TEST(markov_long_run_share_matches_parameters)
{
    fs_avail a = markov(30, 90); /* share = 30 / (30 + 90) = 0.25 */
    ck_assert_double_eq_tol(fs_avail_share(&a, 0, 0), 0.25, 1e-12);
    fs_avail_state st = {.t_known = INT64_MIN};
    gsl_rng *r = fs_rng_new();
    const int n = 200000;
    int on = 0;
    for (int i = 0; i < n; i++) {
        fs_rng_reseed(r, 1, FS_RNG_AVAIL, 0, (uint64_t)i);
        on += fs_avail_query(&a, &st, (int64_t)i * 10 * 60 * FS_US_PER_S, r);
    }
    ck_assert_double_eq_tol((double)on / n, 0.25, 0.01);
    gsl_rng_free(r);
}
END_TEST

START_TEST(markov_short_gaps_follow_transition_probability)
{
    fs_avail a = markov(30, 90);
    const double rate = 1.0 / 30 + 1.0 / 90; /* per minute */
    const double expect = 0.25 + 0.75 * exp(-rate * 5); /* P(on at +5 min | on) */
    gsl_rng *r = fs_rng_new();
    int stayed = 0, trials = 0;
    for (int i = 0; i < 100000; i++) {
        fs_avail_state st = {.t_known = 0, .online = 1};
        fs_rng_reseed(r, 2, FS_RNG_AVAIL, (uint64_t)i, 0);
        stayed += fs_avail_query(&a, &st, 5 * 60 * FS_US_PER_S, r);
        trials++;
    }
    ck_assert_double_eq_tol((double)stayed / trials, expect, 0.01);
    gsl_rng_free(r);
}
END_TEST

START_TEST(markov_online_duration_is_exponential_with_mean_on)
{
    fs_avail a = markov(30, 90);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 3, FS_RNG_FAILURE, 0, 0);
    double sum = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) sum += (double)fs_avail_online_left(&a, &(fs_avail_state){0}, 0, r);
    ck_assert_double_eq_tol(sum / n / (60.0 * FS_US_PER_S), 30.0, 0.5);
    gsl_rng_free(r);
}
END_TEST

/* Diurnal availability peaking at 21:00 local, 5% to 40% online, 30-minute sessions. */
static void diurnal_avail(fs_avail *a)
{
    fs_scenario s;
    memset(&s, 0, sizeof s);
    s.devices.availability = FS_AVAIL_DIURNAL;
    s.devices.peak_hour = 21;
    s.devices.min_share = 0.05;
    s.devices.max_share = 0.4;
    s.devices.mean_session_min = 30;
    fs_avail_init(a, &s);
}

START_TEST(diurnal_share_follows_day_curve)
{
    fs_avail a;
    diurnal_avail(&a);
    ck_assert_double_eq_tol(fs_avail_share(&a, 0, 21 * FS_US_PER_H), 0.4, 1e-12);
    ck_assert_double_eq_tol(fs_avail_share(&a, 0, 9 * FS_US_PER_H), 0.05, 1e-12);
    /* a client at UTC+3 peaks at 18:00 UTC */
    ck_assert_double_eq_tol(fs_avail_share(&a, 12, 18 * FS_US_PER_H), 0.4, 1e-12);
    /* many clients observed at 21:00 UTC after a day of hourly queries */
    gsl_rng *r = fs_rng_new();
    int on = 0;
    const int n = 20000;
    for (int c = 0; c < n; c++) {
        fs_avail_state st = {.t_known = INT64_MIN};
        bool last = false;
        for (int h = 0; h <= 21; h++) {
            fs_rng_reseed(r, 4, FS_RNG_AVAIL, (uint64_t)c, (uint64_t)h);
            last = fs_avail_query(&a, &st, h * FS_US_PER_H, r);
        }
        on += last;
    }
    ck_assert_double_eq_tol((double)on / n, 0.4, 0.03);
    gsl_rng_free(r);
}
END_TEST

/* The memo gives exactly fs_avail_share's doubles, whatever order zones come in, including zones
 * that share a slot (q and q + FS_AVAIL_MEMO_SLOTS) and negative offsets. */
START_TEST(memo_share_is_the_share_bit_for_bit)
{
    fs_avail a;
    diurnal_avail(&a);
    int64_t t = 37 * FS_US_PER_H + 12345;
    fs_avail_memo m;
    fs_avail_memo_init(&m, &a, t);
    gsl_rng *r = fs_rng_new();
    for (int i = 0; i < 2000; i++) {
        int q = (int)gsl_rng_uniform_int(r, 113) - 56;
        if (i % 3 == 0) q = (i % 2 ? 4 : 4 + FS_AVAIL_MEMO_SLOTS); /* a slot's two tenants */
        double want = fs_avail_share(&a, q, t), got = fs_avail_memo_share(&m, q);
        ck_assert_msg(memcmp(&want, &got, sizeof want) == 0, "q %d: %a, not %a", q, got, want);
    }
    /* the query given that share draws and answers as the plain one does */
    for (int c = 0; c < 500; c++) {
        fs_avail_state s1 = {.t_known = INT64_MIN, .utc_offset_q = c % 40 - 20}, s2 = s1;
        fs_rng_reseed(r, 9, FS_RNG_AVAIL, (uint64_t)c, 0);
        bool on1 = fs_avail_query(&a, &s1, t, r);
        fs_rng_reseed(r, 9, FS_RNG_AVAIL, (uint64_t)c, 0);
        bool on2 = fs_avail_query_share(&a, &s2, t, fs_avail_memo_share(&m, s2.utc_offset_q), r);
        ck_assert_int_eq(on1, on2);
        ck_assert(memcmp(&s1, &s2, sizeof s1) == 0);
    }
    gsl_rng_free(r);
}
END_TEST

START_TEST(always_is_always_online)
{
    fs_scenario s;
    memset(&s, 0, sizeof s);
    s.devices.availability = FS_AVAIL_ALWAYS;
    fs_avail a;
    fs_avail_init(&a, &s);
    fs_avail_state st = {.t_known = INT64_MIN};
    gsl_rng *r = fs_rng_new();
    for (int i = 0; i < 100; i++) ck_assert(fs_avail_query(&a, &st, i, r));
    ck_assert_int_eq(fs_avail_online_left(&a, &(fs_avail_state){0}, 0, r), INT64_MAX);
    gsl_rng_free(r);
}
END_TEST

static Suite *avail_suite(void)
{
    Suite *s = suite_create("avail");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, markov_long_run_share_matches_parameters);
    tcase_add_test(tc, markov_short_gaps_follow_transition_probability);
    tcase_add_test(tc, markov_online_duration_is_exponential_with_mean_on);
    tcase_add_test(tc, diurnal_share_follows_day_curve);
    tcase_add_test(tc, always_is_always_online);
    tcase_add_test(tc, memo_share_is_the_share_bit_for_bit);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(avail_suite)
