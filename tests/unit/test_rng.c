/* Tests of fs_rng: pinned values, independence from call order, GSL compatibility. */
#include <gsl/gsl_randist.h>
#include <math.h>

#include "fs_rng.h"
#include "fs_test.h"

START_TEST(rng_seed_is_pinned)
{
    /* Pinned: changing the derivation silently would change every published run. */
    ck_assert_uint_eq(fs_rng_seed(42, FS_RNG_TRAIN, 7, 3), UINT64_C(11518819319249189862));
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_DATA, 0, FS_RNG_NONE);
    ck_assert_uint_eq(gsl_rng_get(r), 3151253331UL);
    gsl_rng_free(r);
}
END_TEST

START_TEST(xoshiro_matches_reference_sequence)
{
    /* xoshiro256** from state {1, 2, 3, 4} gives 11520, 0, 1509978240, 1215971899390074240
     * (Blackman & Vigna's reference code); our get() exposes the top 32 bits. */
    gsl_rng *r = fs_rng_new();
    uint64_t *st = gsl_rng_state(r);
    st[0] = 1, st[1] = 2, st[2] = 3, st[3] = 4;
    ck_assert_uint_eq(gsl_rng_get(r), 0);
    ck_assert_uint_eq(gsl_rng_get(r), 0);
    ck_assert_uint_eq(gsl_rng_get(r), 0);
    ck_assert_uint_eq(gsl_rng_get(r), UINT64_C(1215971899390074240) >> 32);
    gsl_rng_free(r);
}
END_TEST

START_TEST(rng_streams_differ_by_every_argument)
{
    uint64_t base = fs_rng_seed(1, FS_RNG_TRAIN, 2, 3);
    ck_assert_uint_ne(base, fs_rng_seed(2, FS_RNG_TRAIN, 2, 3));
    ck_assert_uint_ne(base, fs_rng_seed(1, FS_RNG_DATA, 2, 3));
    ck_assert_uint_ne(base, fs_rng_seed(1, FS_RNG_TRAIN, 3, 3));
    ck_assert_uint_ne(base, fs_rng_seed(1, FS_RNG_TRAIN, 2, 4));
    ck_assert_uint_ne(fs_rng_seed(1, FS_RNG_TRAIN, 1, 2), fs_rng_seed(1, FS_RNG_TRAIN, 2, 1));
}
END_TEST

START_TEST(rng_stream_independent_of_order)
{
    /* Draw client streams in two different orders: each client's values must match. */
    enum { N = 50 };
    double fwd[N], bwd[N];
    gsl_rng *r = fs_rng_new();
    for (int c = 0; c < N; c++) {
        fs_rng_reseed(r, 9, FS_RNG_TRAIN, (uint64_t)c, 5);
        gsl_rng_uniform(r);
        fwd[c] = gsl_rng_uniform(r);
    }
    for (int c = N - 1; c >= 0; c--) {
        fs_rng_reseed(r, 9, FS_RNG_TRAIN, (uint64_t)c, 5);
        gsl_rng_uniform(r);
        bwd[c] = gsl_rng_uniform(r);
    }
    for (int c = 0; c < N; c++) ck_assert(fwd[c] == bwd[c]);
    gsl_rng_free(r);
}
END_TEST

/* The inline draws give GSL's values on the same stream, draw for draw, and leave the stream
 * where GSL's leave it: uniforms, integers below n (powers of two, odd, tiny, near 2^32: the
 * rejection loop), and alias tables with zero weights, one column and a heavy head. */
START_TEST(inline_draws_equal_gsl_draw_for_draw)
{
    gsl_rng *a = fs_rng_new(), *b = fs_rng_new();
    ck_assert(a && b && fs_rng_is_xoshiro(a));
    const unsigned long ns[] = {1, 2, 3, 7, 8, 30, 200, 1000003, 0x80000001UL, 0xfffffffeUL};
    double w[257];
    for (size_t k = 0; k < 257; k++) w[k] = k % 5 == 3 ? 0 : 1.0 / (1.0 + (double)k * k);
    const size_t ks[] = {1, 2, 3, 30, 257};
    gsl_ran_discrete_t *d[5];
    for (size_t t = 0; t < 5; t++) ck_assert(d[t] = gsl_ran_discrete_preproc(ks[t], w));
    for (uint64_t seed = 0; seed < 40; seed++) {
        fs_rng_reseed(a, seed, FS_RNG_DATA, seed * 7, 3);
        fs_rng_reseed(b, seed, FS_RNG_DATA, seed * 7, 3);
        for (int i = 0; i < 20000; i++) {
            int kind = i % 3;
            if (kind == 0) {
                ck_assert(fs_xo_uniform(a) == gsl_rng_uniform(b));
            } else if (kind == 1) {
                unsigned long n = ns[(size_t)i % 10];
                ck_assert_uint_eq(fs_xo_uniform_int(a, n), gsl_rng_uniform_int(b, n));
            } else {
                const gsl_ran_discrete_t *g = d[(size_t)i % 5];
                ck_assert_uint_eq(fs_xo_discrete(a, g), gsl_ran_discrete(b, g));
            }
        }
        ck_assert_uint_eq(gsl_rng_get(a), gsl_rng_get(b)); /* both streams at the same place */
    }
    for (size_t t = 0; t < 5; t++) gsl_ran_discrete_free(d[t]);
    gsl_rng_free(a);
    gsl_rng_free(b);
}
END_TEST

START_TEST(first_uniform_equals_reseed_and_draw)
{
    /* fs_rng_first_uniform is what selection asks every candidate: it must be the stream's
     * first gsl_rng_uniform exactly, for any seed, purpose, client and round (NONE included) */
    gsl_rng *r = fs_rng_new(), *args = fs_rng_new();
    const uint64_t edge[] = {0, 1, UINT64_MAX, FS_RNG_NONE - 1, UINT64_C(1) << 63};
    for (int i = 0; i < 200000; i++) {
        uint64_t seed = i < 5 ? edge[i] : (uint64_t)gsl_rng_get(args) << 32 | gsl_rng_get(args);
        uint32_t purpose = (uint32_t)(i % 19) + 1;
        uint64_t client = i % 3 == 0 ? FS_RNG_NONE : (uint64_t)gsl_rng_uniform_int(args, 2000000);
        uint64_t round = i % 5 == 0 ? FS_RNG_NONE : (uint64_t)i;
        fs_rng_reseed(r, seed, purpose, client, round);
        double want = gsl_rng_uniform(r);
        double got = fs_rng_first_uniform(seed, purpose, client, round);
        if (got != want)
            ck_abort_msg("stream (%llu, %u, %llu, %llu): %.17g, not %.17g",
                         (unsigned long long)seed, purpose, (unsigned long long)client,
                         (unsigned long long)round, got, want);
    }
    gsl_rng_free(r);
    gsl_rng_free(args);
}
END_TEST

START_TEST(rng_uniform_moments_and_gsl_distributions)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 3, FS_RNG_DATA, 0, 0);
    double sum = 0, sq = 0, g = 0, g2 = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = gsl_rng_uniform(r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        sq += u * u;
        double z = gsl_ran_gaussian(r, 2.0);
        g += z;
        g2 += z * z;
    }
    ck_assert_double_eq_tol(sum / n, 0.5, 0.005);
    ck_assert_double_eq_tol(sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
    ck_assert_double_eq_tol(g / n, 0.0, 0.03);
    ck_assert_double_eq_tol(g2 / n, 4.0, 0.06);
    ck_assert_uint_lt(gsl_rng_uniform_int(r, 10), 10);
    gsl_rng_free(r);
}
END_TEST

static Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rng_seed_is_pinned);
    tcase_add_test(tc, xoshiro_matches_reference_sequence);
    tcase_add_test(tc, rng_streams_differ_by_every_argument);
    tcase_add_test(tc, rng_stream_independent_of_order);
    tcase_add_test(tc, rng_uniform_moments_and_gsl_distributions);
    tcase_add_test(tc, inline_draws_equal_gsl_draw_for_draw);
    tcase_add_test(tc, first_uniform_equals_reseed_and_draw);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(rng_suite)
