/* Tests of fs_rdp: TF Privacy's published DP-SGD budgets, the closed form at q = 1, values from
 * an independent numerical integral, the accountant's algebra, and the `fedsim epsilon` command;
 * and of the server noise the accountant charges for (fs_dp_noise). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_dp.h"
#include "fs_epsilon.h"
#include "fs_rdp.h"
#include "fs_test.h"

#define MNIST_Q (256.0 / 60000.0)

static double epsilon_after(double q, double sigma, uint64_t steps, double delta,
                            enum fs_rdp_conversion conv, double *out_order)
{
    fs_rdp a;
    fs_rdp_init(&a);
    fs_rdp_add(&a, q, sigma, steps);
    return fs_rdp_epsilon(&a, delta, conv, out_order);
}

START_TEST(rdp_reproduces_tf_privacy_mnist_tutorial)
{
    /* TF Privacy's MNIST DP-SGD tutorial table: batch 256 of 60000, delta 1e-5, sigma 1.1 for
     * 60 epochs, 0.7 for 45, 1.3 for 15 (steps = epochs * 60000 / 256, rounded down). */
    static const struct {
        double sigma;
        uint64_t steps;
        double eps, order;
    } cases[] = {{1.1, 14062, 3.01, 8.8}, {0.7, 10546, 7.10, 3.8}, {1.3, 3515, 1.19, 17}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double order;
        double eps =
            epsilon_after(MNIST_Q, cases[i].sigma, cases[i].steps, 1e-5, FS_RDP_CLASSIC, &order);
        ck_assert_double_eq_tol(eps, cases[i].eps, 0.005);
        ck_assert_double_eq(order, cases[i].order);
    }
}
END_TEST

START_TEST(rdp_improved_conversion_pinned_on_tutorial)
{
    /* Our own values (not published by TF Privacy), pinned so a change shows up in review. */
    ck_assert_double_eq_tol(epsilon_after(MNIST_Q, 1.1, 14062, 1e-5, FS_RDP_IMPROVED, NULL), 2.5966,
                            5e-5);
    ck_assert_double_eq_tol(epsilon_after(MNIST_Q, 0.7, 10546, 1e-5, FS_RDP_IMPROVED, NULL), 6.3181,
                            5e-5);
    ck_assert_double_eq_tol(epsilon_after(MNIST_Q, 1.3, 3515, 1e-5, FS_RDP_IMPROVED, NULL), 0.9544,
                            5e-5);
}
END_TEST

START_TEST(rdp_full_batch_equals_gaussian_closed_form)
{
    static const double sigmas[] = {0.3, 1.0, 4.0};
    fs_rdp a;
    fs_rdp_init(&a);
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < a.n_orders; i++) {
            double alpha = a.orders[i];
            ck_assert_double_eq_tol(fs_rdp_step(1.0, sigmas[s], alpha),
                                    alpha / (2.0 * sigmas[s] * sigmas[s]), 1e-12 * alpha);
        }
}
END_TEST

START_TEST(rdp_matches_numerical_integral)
{
    /* log E_{z~N(0,s^2)} [((1-q) + q exp((2z-1)/(2s^2)))^alpha] / (alpha - 1), integrated with
     * mpmath at 30 digits: an independent check of both the integer and fractional series. */
    static const struct {
        double q, sigma, alpha, rdp;
    } cases[] = {
        {0.01, 1.0, 2.5, 0.00021757533228188046},
        {0.01, 1.0, 3.0, 0.00026463757458466136},
        {0.01, 1.0, 1.1, 0.000092414710846869586},
        {MNIST_Q, 0.7, 10.5, 4.6829514143972249},
        {MNIST_Q, 1.1, 8.8, 0.00010896430075952502},
        {0.3, 2.0, 5.5, 0.088198733602606838},
        {0.9, 1.5, 4.25, 0.84130201428869224},
        {0.01, 0.1, 256.0, 12795.376770323085}, /* exact sum, 40 digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double r = fs_rdp_step(cases[i].q, cases[i].sigma, cases[i].alpha);
        ck_assert_double_eq_tol(r, cases[i].rdp, 1e-7 * cases[i].rdp);
    }
}
END_TEST

START_TEST(rdp_adds_up_over_steps)
{
    fs_rdp once, split;
    fs_rdp_init(&once);
    fs_rdp_init(&split);
    fs_rdp_add(&once, 0.02, 0.9, 1000);
    fs_rdp_add(&split, 0.02, 0.9, 400);
    fs_rdp_add(&split, 0.02, 0.9, 600);
    fs_rdp_add(&split, 0.02, 0.9, 0);
    for (size_t i = 0; i < once.n_orders; i++) {
        ck_assert_double_eq(once.rdp[i], 1000.0 * fs_rdp_step(0.02, 0.9, once.orders[i]));
        ck_assert_double_eq_tol(split.rdp[i], once.rdp[i], 1e-12 * once.rdp[i] + 1e-300);
    }
}
END_TEST

START_TEST(rdp_improved_conversion_never_exceeds_classic)
{
    static const double qs[] = {0.001, 0.01, 0.1, 0.5, 1.0}, sigmas[] = {0.5, 1.0, 3.0};
    static const uint64_t steps[] = {1, 100, 10000};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 3; j++)
            for (size_t k = 0; k < 3; k++) {
                double c = epsilon_after(qs[i], sigmas[j], steps[k], 1e-5, FS_RDP_CLASSIC, NULL);
                double b = epsilon_after(qs[i], sigmas[j], steps[k], 1e-5, FS_RDP_IMPROVED, NULL);
                ck_assert(b >= 0.0 && b <= c);
            }
}
END_TEST

START_TEST(rdp_no_sampling_costs_nothing)
{
    double order;
    ck_assert_double_eq(fs_rdp_step(0.0, 1.0, 7.5), 0.0);
    ck_assert_double_eq(fs_rdp_step(0.0, 0.0, 7.0), 0.0);
    ck_assert_double_eq(epsilon_after(0.0, 1.0, 1000, 1e-5, FS_RDP_IMPROVED, NULL), 0.0);
    /* The classic bound cannot reach 0: its floor is log(1/delta) / (max order - 1). */
    double eps = epsilon_after(0.0, 1.0, 1000, 1e-5, FS_RDP_CLASSIC, &order);
    ck_assert_double_eq_tol(eps, log(1e5) / 62.0, 1e-12);
    ck_assert_double_eq(order, 63.0);
}
END_TEST

START_TEST(rdp_epsilon_grows_with_steps_and_shrinks_with_noise)
{
    for (int conv = FS_RDP_CLASSIC; conv <= FS_RDP_IMPROVED; conv++) {
        double prev = 0.0;
        for (uint64_t t = 10; t <= 100000; t *= 10) {
            double eps = epsilon_after(MNIST_Q, 1.0, t, 1e-5, conv, NULL);
            ck_assert(eps > prev);
            prev = eps;
        }
        prev = INFINITY;
        for (double sigma = 0.5; sigma <= 8.0; sigma *= 2.0) {
            double eps = epsilon_after(MNIST_Q, sigma, 5000, 1e-5, conv, NULL);
            ck_assert(eps < prev);
            prev = eps;
        }
    }
}
END_TEST

START_TEST(rdp_fractional_and_integer_orders_agree)
{
    /* The two series meet at integer orders: RDP must be continuous and increasing there. */
    static const double params[][2] = {{0.01, 1.0}, {MNIST_Q, 0.7}, {0.3, 2.0}, {0.5, 0.8}};
    static const double alphas[] = {2.9, 2.99, 2.9999, 3.0, 3.0001, 3.01, 3.1};
    for (size_t p = 0; p < 4; p++) {
        double q = params[p][0], sigma = params[p][1], at3 = fs_rdp_step(q, sigma, 3.0);
        for (size_t i = 1; i < 7; i++)
            ck_assert(fs_rdp_step(q, sigma, alphas[i]) > fs_rdp_step(q, sigma, alphas[i - 1]));
        ck_assert_double_eq_tol(fs_rdp_step(q, sigma, 2.9999), at3, 1e-3 * at3);
        ck_assert_double_eq_tol(fs_rdp_step(q, sigma, 3.0001), at3, 1e-3 * at3);
    }
    fs_rdp a;
    fs_rdp_init(&a);
    fs_rdp_add(&a, MNIST_Q, 0.7, 1);
    for (size_t i = 1; i < a.n_orders; i++)
        ck_assert(a.rdp[i] > a.rdp[i - 1]);
}
END_TEST

START_TEST(rdp_edge_cases)
{
    ck_assert(isinf(fs_rdp_step(0.1, 0.0, 2.0)));
    ck_assert(isinf(fs_rdp_step(0.1, 1.0, INFINITY)));
    ck_assert(isnan(fs_rdp_step(1.5, 1.0, 2.0)));
    ck_assert(isnan(fs_rdp_step(0.1, -1.0, 2.0)));
    ck_assert(isnan(fs_rdp_step(0.1, 1.0, 1.0)));
    /* Large orders and little noise: A_alpha is far beyond a double, the RDP is not, and
     * subsampling never costs more than the full batch. */
    static const double alphas[] = {256.0, 256.5, 1000.0, 1000.5};
    for (size_t i = 0; i < 4; i++) {
        double r = fs_rdp_step(0.01, 0.1, alphas[i]);
        ck_assert(isfinite(r) && r > 0.0 && r < alphas[i] / (2.0 * 0.1 * 0.1));
    }
    ck_assert(isinf(epsilon_after(0.1, 0.0, 10, 1e-5, FS_RDP_CLASSIC, NULL)));
    ck_assert(isinf(epsilon_after(0.1, 0.0, 10, 1e-5, FS_RDP_IMPROVED, NULL)));
    ck_assert_double_eq(epsilon_after(0.1, 0.0, 0, 1e-5, FS_RDP_IMPROVED, NULL), 0.0);
}
END_TEST

/* ---- the command ---- */

static char cli_out[4096], cli_err[4096];

/* Runs fs_epsilon_cli with stdout and stderr captured into cli_out and cli_err. */
static int run_cli(int argc, char **argv)
{
    return fs_test_capture(fs_epsilon_cli, argc, argv, cli_out, sizeof cli_out, cli_err,
                           sizeof cli_err);
}

#define RUN_CLI(...)                                                                               \
    run_cli((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)), (char *[]){__VA_ARGS__})

START_TEST(cli_epsilon_prints_both_conversions)
{
    int rc = RUN_CLI("epsilon", "--q", "0.0042666666666666667", "--sigma", "1.1", "--steps",
                     "14062", "--delta=1e-5");
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cli_out, "epsilon (classic RDP conversion):  3.0083 at order 8.8\n"
                              "epsilon (improved conversion):     2.5966 at order 8.1\n");
    ck_assert_str_eq(cli_err, "");
}
END_TEST

START_TEST(cli_epsilon_reports_every_bad_option)
{
    int rc = RUN_CLI("epsilon", "--q", "x", "--sigma", "-1", "--steps", "-3", "--delta", "1");
    ck_assert_int_eq(rc, 2);
    ck_assert_str_eq(cli_out, "");
    ck_assert_str_eq(cli_err, "fedsim: error: --q: expected a number in [0, 1], found \"x\"\n"
                              "fedsim: error: --sigma: expected a number > 0, found \"-1\"\n"
                              "fedsim: error: --steps: expected an integer >= 0, found \"-3\"\n"
                              "fedsim: error: --delta: expected a number in (0, 1), found \"1\"\n"
                              "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D\n");
}
END_TEST

START_TEST(cli_epsilon_rejects_missing_unknown_and_repeated_options)
{
    int rc = RUN_CLI("epsilon", "--q", "0.1", "--q", "0.2", "--sigmma", "1", "--steps");
    ck_assert_int_eq(rc, 2);
    ck_assert_str_eq(cli_err, "fedsim: error: --q: expected once, found twice\n"
                              "fedsim: error: epsilon: expected --q, --sigma, --steps or --delta, "
                              "found \"--sigmma\"\n"
                              "fedsim: error: epsilon: expected --q, --sigma, --steps or --delta, "
                              "found \"1\"\n"
                              "fedsim: error: --sigma: expected a number > 0, found nothing\n"
                              "fedsim: error: --steps: expected an integer >= 0, found nothing\n"
                              "fedsim: error: --delta: expected a number in (0, 1), found nothing\n"
                              "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D\n");
    ck_assert_int_eq(RUN_CLI("epsilon"), 2);
    ck_assert_int_eq(
        RUN_CLI("epsilon", "--q", "nan", "--sigma", "1", "--steps", "1", "--delta", "1e-5"), 2);
    ck_assert_int_eq(RUN_CLI("epsilon", "--help"), 0);
    ck_assert_str_eq(strtok(cli_out, "\n"),
                     "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D");
}
END_TEST

/* Steps are written like scenario integers (1e4); no noise at all is no privacy, not inf. */
START_TEST(cli_epsilon_takes_integral_numbers_and_refuses_sigma_0)
{
    int rc = RUN_CLI("epsilon", "--q", "0.0042666666666666667", "--sigma", "1.1", "--steps",
                     "1.4062e4", "--delta=1e-5");
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(cli_out, "epsilon (classic RDP conversion):  3.0083 at order 8.8\n"
                              "epsilon (improved conversion):     2.5966 at order 8.1\n");
    rc = RUN_CLI("epsilon", "--q", "0.01", "--sigma", "0", "--steps", "1.5", "--delta", "1e-5");
    ck_assert_int_eq(rc, 2);
    ck_assert_str_eq(cli_out, "");
    ck_assert_str_eq(cli_err, "fedsim: error: --sigma: expected a number > 0, found \"0\"\n"
                              "fedsim: error: --steps: expected an integer >= 0, found \"1.5\"\n"
                              "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D\n");
}
END_TEST

/* Huge noise multipliers (sigma >= ~1e77 made GSL's log erfc NaN and the fractional series run
 * to its 10^7-term cap: ~60 s a round at 1e100): a bounded number of terms at every order, a
 * finite, tiny RDP, and the epsilon of an RDP of ~0. Moderate sigmas keep their term count. */
START_TEST(rdp_huge_sigma_is_cheap_and_tiny)
{
    static const double sigmas[] = {1e50, 1e77, 1e78, 1e100, 1e160, 1e200, 1e300, 1.7e308};
    fs_rdp a;
    fs_rdp_init(&a);
    for (size_t k = 0; k < sizeof sigmas / sizeof *sigmas; k++) {
        for (size_t i = 0; i < a.n_orders; i++) {
            size_t terms = 12345;
            double alpha = a.orders[i];
            double r = fs_rdp_step_terms(0.05, sigmas[k], alpha, &terms);
            ck_assert_msg(terms <= 100, "sigma %g alpha %g: %zu terms", sigmas[k], alpha, terms);
            ck_assert(isfinite(r) && r >= 0.0);
            ck_assert(r < 1e-12); /* true value ~ q^2 alpha / sigma^2; log-space rounding */
        }
        double order;
        ck_assert_double_eq(epsilon_after(0.05, sigmas[k], 1000, 1e-5, FS_RDP_IMPROVED, NULL), 0);
        double eps = epsilon_after(0.05, sigmas[k], 1000, 1e-5, FS_RDP_CLASSIC, &order);
        ck_assert_double_eq_tol(eps, log(1e5) / 62.0, 1e-12); /* rdp ~ 0: log(1/delta)/(a - 1) */
        ck_assert_double_eq(order, 63.0);
    }
    size_t terms;
    fs_rdp_step_terms(MNIST_Q, 1.1, 2.5, &terms);
    ck_assert(terms > 1 && terms <= 100);
    fs_rdp_step_terms(MNIST_Q, 1.1, 7.0, &terms);
    ck_assert_uint_eq(terms, 8);
}
END_TEST

/* The noise is N(0, (z * clip)^2) per coordinate, fresh in every block and round, and the same
 * on 1 and 3 threads (each block its own stream). */
START_TEST(dp_noise_is_gaussian_and_thread_independent)
{
    enum { N = 3 * FS_DP_NOISE_BLOCK + 123 };
    fs_dp_cfg c = {.on = true, .clip = 0.5, .noise_multiplier = 3.0, .seed = 7};
    double sd = 1.5;
    double *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b), *other = calloc(N, sizeof *b);
    ck_assert(a && b && other);
    ck_assert_int_eq(fs_dp_noise(&c, a, N, 4, 1), 0);
    ck_assert_int_eq(fs_dp_noise(&c, b, N, 4, 3), 0);
    ck_assert_int_eq(fs_dp_noise(&c, other, N, 5, 2), 0);
    ck_assert_mem_eq(a, b, N * sizeof *a);
    double sum = 0, sq = 0;
    size_t within = 0, same_next_round = 0, same_next_block = 0;
    for (size_t j = 0; j < N; j++) {
        sum += a[j], sq += a[j] * a[j];
        within += fabs(a[j]) < sd;
        same_next_round += a[j] == other[j];
        if (j < FS_DP_NOISE_BLOCK) same_next_block += a[j] == a[j + FS_DP_NOISE_BLOCK];
    }
    double mean = sum / N, var = sq / N - mean * mean;
    ck_assert_msg(fabs(mean) < 4 * sd / sqrt(N), "mean %g", mean);
    ck_assert_msg(fabs(var / (sd * sd) - 1) < 0.05, "variance %g, expected %g", var, sd * sd);
    ck_assert_msg(fabs((double)within / N - 0.6827) < 0.015, "%zu of %d within 1 sd", within, N);
    ck_assert_uint_eq(same_next_round, 0);
    ck_assert_uint_eq(same_next_block, 0);
    /* DP off: nothing is added */
    c.on = false;
    memcpy(b, a, N * sizeof *a);
    ck_assert_int_eq(fs_dp_noise(&c, b, N, 4, 2), 0);
    ck_assert_mem_eq(a, b, N * sizeof *a);
    free(a), free(b), free(other);
}
END_TEST

static Suite *rdp_suite(void)
{
    Suite *s = suite_create("rdp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rdp_reproduces_tf_privacy_mnist_tutorial);
    tcase_add_test(tc, dp_noise_is_gaussian_and_thread_independent);
    tcase_add_test(tc, cli_epsilon_takes_integral_numbers_and_refuses_sigma_0);
    tcase_add_test(tc, rdp_improved_conversion_pinned_on_tutorial);
    tcase_add_test(tc, rdp_full_batch_equals_gaussian_closed_form);
    tcase_add_test(tc, rdp_matches_numerical_integral);
    tcase_add_test(tc, rdp_adds_up_over_steps);
    tcase_add_test(tc, rdp_improved_conversion_never_exceeds_classic);
    tcase_add_test(tc, rdp_no_sampling_costs_nothing);
    tcase_add_test(tc, rdp_epsilon_grows_with_steps_and_shrinks_with_noise);
    tcase_add_test(tc, rdp_fractional_and_integer_orders_agree);
    tcase_add_test(tc, rdp_edge_cases);
    tcase_add_test(tc, rdp_huge_sigma_is_cheap_and_tiny);
    tcase_add_test(tc, cli_epsilon_prints_both_conversions);
    tcase_add_test(tc, cli_epsilon_reports_every_bad_option);
    tcase_add_test(tc, cli_epsilon_rejects_missing_unknown_and_repeated_options);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(rdp_suite)
