/* Tests of fs_stats against values computed by hand (t quantiles from tables): mean, sample sd
 * and 95% t interval, NaN skipping, one replicate, and paired differences. */
#include <math.h>

#include "fs_stats.h"
#include "fs_test.h"

START_TEST(stats_summary_matches_hand_computed_t_interval)
{
    const double x[] = {1, 2, 3, 4, 5};
    fs_stats_summary s = fs_stats_summarize(x, 5);
    ck_assert_uint_eq(s.n, 5);
    ck_assert_double_eq_tol(s.mean, 3.0, 1e-12);
    ck_assert_double_eq_tol(s.sd, sqrt(2.5), 1e-12);
    /* t(0.975, 4) = 2.776445105; half-width = t * sd / sqrt(5) */
    ck_assert_double_eq_tol(s.half_width, 1.9632431614775607, 1e-9);
    ck_assert_double_eq_tol(fs_stats_ci_low(&s), 3.0 - 1.9632431614775607, 1e-9);
    ck_assert_double_eq_tol(fs_stats_ci_high(&s), 3.0 + 1.9632431614775607, 1e-9);
}
END_TEST

START_TEST(stats_t_quantiles_match_tables)
{
    ck_assert_double_eq_tol(fs_stats_t975(1), 12.7062047, 1e-6);
    ck_assert_double_eq_tol(fs_stats_t975(7), 2.36462425, 1e-7);
    ck_assert_double_eq_tol(fs_stats_t975(30), 2.04227246, 1e-7);
    ck_assert(isnan(fs_stats_t975(0)));
}
END_TEST

START_TEST(stats_skip_nan_and_one_value_has_no_spread)
{
    const double x[] = {NAN, 0.5, NAN};
    fs_stats_summary s = fs_stats_summarize(x, 3);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_double_eq(s.mean, 0.5);
    ck_assert(isnan(s.sd) && isnan(s.half_width));
    s = fs_stats_summarize(x, 0);
    ck_assert_uint_eq(s.n, 0);
    ck_assert(isnan(s.mean));
}
END_TEST

START_TEST(stats_paired_difference_and_distinguishability)
{
    const double a[] = {0.70, 0.72, 0.71, 0.69, NAN};
    const double b[] = {0.68, 0.71, 0.70, 0.66, 0.5};
    fs_stats_summary d = fs_stats_paired(a, b, 5);
    ck_assert_uint_eq(d.n, 4);
    ck_assert_double_eq_tol(d.mean, 0.0175, 1e-12);
    ck_assert_double_eq_tol(d.sd, 0.009574271077563331, 1e-12);
    /* t(0.975, 3) = 3.182446305: half-width 0.0152348 < 0.0175, so the difference is real */
    ck_assert_double_eq_tol(d.half_width, 0.015234801808290701, 1e-9);
    ck_assert(!fs_stats_indistinguishable(&d));
    const double c[] = {0.71, 0.70, 0.72, 0.68, 0.5};
    fs_stats_summary e = fs_stats_paired(a, c, 5); /* +-0.01 noise: contains 0 */
    ck_assert(fs_stats_indistinguishable(&e));
    const double same[] = {0.7, 0.7, 0.7};
    const double above[] = {0.8, 0.8, 0.8};
    fs_stats_summary z = fs_stats_paired(same, same, 3), u = fs_stats_paired(above, same, 3);
    ck_assert(fs_stats_indistinguishable(&z));
    ck_assert(!fs_stats_indistinguishable(&u)); /* sd 0, mean 0.1: certainly different */
    fs_stats_summary one = fs_stats_paired(above, same, 1);
    ck_assert(fs_stats_indistinguishable(&one)); /* one pair: no interval */
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, stats_summary_matches_hand_computed_t_interval);
    tcase_add_test(tc, stats_t_quantiles_match_tables);
    tcase_add_test(tc, stats_skip_nan_and_one_value_has_no_spread);
    tcase_add_test(tc, stats_paired_difference_and_distinguishability);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(stats_suite)
