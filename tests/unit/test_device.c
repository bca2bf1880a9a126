/* Tests of fs_device: exact transfer and compute times, distribution draws. */
#include <math.h>

#include "fs_device.h"
#include "fs_rng.h"
#include "fs_test.h"

START_TEST(transfer_time_is_latency_plus_bytes_over_bandwidth)
{
    /* 1 MB over 8 Mbit/s = 1 s, plus 80 ms latency */
    ck_assert_int_eq(fs_time_transfer_us(1e6, 8.0, 80.0), 1080000);
    /* softmax 7850 params * 4 B = 31400 B over 2.5 Mbit/s = 100480 us, + 35 ms */
    ck_assert_int_eq(fs_time_transfer_us(31400, 2.5, 35.0), 135480);
    ck_assert_int_eq(fs_time_transfer_us(0, 1.0, 0.0), 0);
}
END_TEST

START_TEST(compute_time_from_flops_and_device_speed)
{
    /* one epoch of 60 samples, forward 15700 FLOPs each: 3 * 60 * 15700 = 2.826 MFLOP at
     * 2 GFLOP/s = 1413 us */
    double flops = fs_train_flops(1, 60 * 15700.0);
    ck_assert_double_eq(flops, 2826000.0);
    ck_assert_int_eq(fs_time_compute_us(flops, 2.0), 1413);
    ck_assert_int_eq(fs_time_train_us(1, 60 * 15700.0, 2.0), 1413);
    ck_assert_int_eq(fs_time_compute_us(1e9, 1.0), 1000000);
    /* epochs multiply the forward cost first: the engine's order of operations, to the bit */
    double fwd = 0.1 + 1e6 / 3.0;
    ck_assert_double_eq(fs_train_flops(3, fwd), 3.0 * (3.0 * fwd));
    ck_assert_int_eq(fs_time_train_us(3, fwd, 0.5), llround(3.0 * (3.0 * fwd) / 500.0));
}
END_TEST

START_TEST(trace_train_time_is_three_times_ms_per_sample)
{
    /* FedScale: 3x the inference latency per sample. 40 samples, 2 epochs at 12.5 ms:
     * 3 * 12.5 * 40 * 2 = 3000 ms */
    ck_assert_int_eq(fs_time_train_trace_us(2, 40, 12.5), 3000000);
    ck_assert_int_eq(fs_time_train_trace_us(1, 27, 20.51), llround(3 * 20.51 * 27 * 1e3));
    ck_assert_int_eq(fs_time_train_trace_us(0.5, 3, 1.0), 4500);
    ck_assert_int_eq(fs_time_train_trace_us(1, 0, 9.0), 0);
}
END_TEST

START_TEST(dist_draws_match_their_parameters)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_DEVICE, 0, 0);
    fs_dist c = {FS_DIST_CONST, 12.5, 0}, u = {FS_DIST_UNIFORM, 2, 4},
            ln = {FS_DIST_LOGNORMAL, 1.0, 0.5};
    ck_assert_double_eq(fs_dist_draw(&c, r), 12.5);
    double su = 0, sl = 0;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double x = fs_dist_draw(&u, r);
        ck_assert(x >= 2 && x < 4);
        su += x;
        sl += log(fs_dist_draw(&ln, r));
    }
    ck_assert_double_eq_tol(su / n, 3.0, 0.01);
    ck_assert_double_eq_tol(sl / n, 1.0, 0.01);
    gsl_rng_free(r);
}
END_TEST

static Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, transfer_time_is_latency_plus_bytes_over_bandwidth);
    tcase_add_test(tc, compute_time_from_flops_and_device_speed);
    tcase_add_test(tc, trace_train_time_is_three_times_ms_per_sample);
    tcase_add_test(tc, dist_draws_match_their_parameters);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(device_suite)
