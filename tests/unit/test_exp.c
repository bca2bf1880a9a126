/* fs_exp_many against long double expl, rounded to double: within 1 ulp everywhere (almost
 * always the nearest double), and libm's special values at the edges. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs_exp.h"
#include "fs_test.h"

static int64_t ordered_bits(double d) /* monotone in d, so a difference counts ulps */
{
    int64_t i;
    memcpy(&i, &d, sizeof i);
    return i < 0 ? INT64_MIN - i : i;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* n arguments uniform in [lo, hi] through fs_exp_many in one call, each checked. */
static void check_range(double lo, double hi, size_t n, size_t *exact)
{
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    ck_assert(x && y);
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (double)lcg(&s) * 0x1p-53;
    fs_exp_many(x, n, y);
    for (size_t i = 0; i < n; i++) {
        double want = (double)expl((long double)x[i]);
        int64_t ulps = llabs(ordered_bits(y[i]) - ordered_bits(want));
        ck_assert_msg(ulps <= 1, "exp(%a) = %a, want %a (%lld ulps)", x[i], y[i], want,
                      (long long)ulps);
        *exact += ulps == 0;
    }
    free(x);
    free(y);
}

START_TEST(exp_within_one_ulp_of_the_true_value)
{
    size_t exact = 0, n = 400000;
    check_range(-40, 0, n, &exact);        /* softmax: shifted logits */
    check_range(-745, 709.7, n, &exact);   /* the whole finite range */
    check_range(-745.2, -708, n, &exact);  /* subnormal results */
    check_range(-1e-6, 1e-6, n, &exact);   /* near 0 */
    ck_assert_msg(exact > 4 * n * 99 / 100, "%zu of %zu correctly rounded", exact, 4 * n);
}
END_TEST

START_TEST(exp_special_values_and_edges)
{
    double max_ok = 0x1.62e42fefa39efp+9, zero_at = -0x1.74910d52d3052p+9;
    double x[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, max_ok, nextafter(max_ok, INFINITY),
                  zero_at, nextafter(zero_at, 0), -1e300, 1e300, 1.0, -1.0};
    size_t n = sizeof x / sizeof *x;
    double y[sizeof x / sizeof *x];
    fs_exp_many(x, n, y);
    ck_assert(y[0] == 1.0 && y[1] == 1.0);
    ck_assert(y[2] == INFINITY && y[3] == 0.0 && !signbit(y[3]) && isnan(y[4]));
    ck_assert(isfinite(y[5]) && y[5] > 0x1.fffffffffff00p+1023 && y[6] == INFINITY);
    ck_assert(y[7] == 0.0 && y[8] == 0x1p-1074);
    ck_assert(y[9] == 0.0 && y[10] == INFINITY);
    ck_assert(y[11] == exp(1.0) && y[12] == exp(-1.0));
    fs_exp_many(x, n, x); /* in place */
    ck_assert_mem_eq(x, y, 4 * sizeof *x);
}
END_TEST

static Suite *exp_suite(void)
{
    Suite *s = suite_create("exp");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, exp_within_one_ulp_of_the_true_value);
    tcase_add_test(tc, exp_special_values_and_edges);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(exp_suite)
