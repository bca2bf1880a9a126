/* Tests of fs_secagg: fixed-point round trips, exact cancellation of pairwise masks, recovery
 * after dropouts, order independence, and the cost formula. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_rng.h"
#include "fs_secagg.h"
#include "fs_test.h"

enum { N_CLIENTS = 10, DIM = 1000 };

static uint64_t modmask(int bits)
{
    return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* Client ids deliberately not 0..9, so the (min, max) pair ordering is exercised on ids. */
static const uint32_t ids[N_CLIENTS] = {17, 3, 250, 4, 99, 1000, 8, 42, 7, 123456};

static double *random_inputs(uint64_t seed)
{
    double *x = malloc(sizeof(double) * N_CLIENTS * DIM);
    gsl_rng *r = fs_rng_new();
    ck_assert(x && r);
    fs_rng_reseed(r, seed, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < N_CLIENTS * DIM; i++)
        x[i] = 2.0 * gsl_rng_uniform(r) - 1.0;
    gsl_rng_free(r);
    return x;
}

/* Client k masks x[k] with every other client in `ids`, as after AdvertiseKeys with nobody
 * gone yet. out holds N_CLIENTS rows of DIM words. */
static uint64_t *mask_all(const fs_secagg_cfg *c, uint64_t round, const double *x)
{
    uint64_t *out = malloc(sizeof(uint64_t) * N_CLIENTS * DIM);
    ck_assert(out);
    for (size_t k = 0; k < N_CLIENTS; k++) {
        uint32_t peers[N_CLIENTS - 1];
        size_t np = 0;
        for (size_t j = 0; j < N_CLIENTS; j++)
            if (j != k) peers[np++] = ids[j];
        fs_secagg_mask(c, round, ids[k], peers, np, x + k * DIM, DIM, out + k * DIM);
    }
    return out;
}

/* Sum of rows `rows[0..n_rows)` of v mod 2^bits, either masked words or plain encodings. */
static void sum_rows(const fs_secagg_cfg *c, const uint64_t *v, const size_t *rows, size_t n_rows,
                     uint64_t *out)
{
    memset(out, 0, sizeof(uint64_t) * DIM);
    for (size_t r = 0; r < n_rows; r++)
        for (size_t i = 0; i < DIM; i++)
            out[i] += v[rows[r] * DIM + i];
    for (size_t i = 0; i < DIM; i++)
        out[i] &= modmask(c->bits);
}

static void plain_sum(const fs_secagg_cfg *c, const double *x, const size_t *rows, size_t n_rows,
                      uint64_t *out)
{
    memset(out, 0, sizeof(uint64_t) * DIM);
    for (size_t r = 0; r < n_rows; r++)
        for (size_t i = 0; i < DIM; i++)
            out[i] += fs_secagg_encode(c, x[rows[r] * DIM + i]);
    for (size_t i = 0; i < DIM; i++)
        out[i] &= modmask(c->bits);
}

START_TEST(secagg_encode_decode_round_trip)
{
    const fs_secagg_cfg cfgs[] = {{32, 16, 1}, {64, 24, 1}, {20, 8, 1}};
    const double xs[] = {0.0, 1.0, -1.0, 0.123456789, -0.987654321, 3.14159, -2.71828, 100.5};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        const fs_secagg_cfg *c = &cfgs[k];
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            uint64_t v = fs_secagg_encode(c, xs[i]);
            ck_assert_uint_eq(v & ~modmask(c->bits), 0);
            double back = fs_secagg_decode(c, v);
            ck_assert(fabs(back - xs[i]) <= ldexp(1.0, -c->frac_bits - 1));
        }
    }
    /* Pinned: -1 at 16 fractional bits in 32 bits is 2^32 - 2^16. */
    const fs_secagg_cfg c32 = {32, 16, 1};
    ck_assert_uint_eq(fs_secagg_encode(&c32, -1.0), UINT64_C(0xffff0000));
    ck_assert_uint_eq(fs_secagg_encode(&c32, 0.5), UINT64_C(0x8000));
}
END_TEST

START_TEST(secagg_mask_prg_is_pinned)
{
    /* The mask between ids 3 and 17 is SplitMix64 started at fs_rng_seed(seed, 101,
     * 3 << 32 | 17, round); the smaller id adds it, the larger subtracts it. */
    const fs_secagg_cfg c = {64, 16, 77};
    double zero[8] = {0};
    uint64_t lo[8], hi[8];
    uint32_t p17 = 17, p3 = 3;
    fs_secagg_mask(&c, 5, 3, &p17, 1, zero, 8, lo);
    fs_secagg_mask(&c, 5, 17, &p3, 1, zero, 8, hi);
    uint64_t st = fs_rng_seed(77, 101, (UINT64_C(3) << 32) | 17, 5);
    for (int i = 0; i < 8; i++) {
        uint64_t w = fs_splitmix64(&st);
        ck_assert_uint_eq(lo[i], w);
        ck_assert_uint_eq(hi[i], (uint64_t)0 - w);
    }
}
END_TEST

static void check_masked_sum(int bits)
{
    const fs_secagg_cfg c = {bits, 16, 2024};
    double *x = random_inputs(11);
    uint64_t *masked = mask_all(&c, 3, x);
    size_t all[N_CLIENTS];
    for (size_t k = 0; k < N_CLIENTS; k++)
        all[k] = k;
    uint64_t got[DIM], want[DIM];
    sum_rows(&c, masked, all, N_CLIENTS, got);
    plain_sum(&c, x, all, N_CLIENTS, want);
    for (size_t i = 0; i < DIM; i++)
        ck_assert_uint_eq(got[i], want[i]);
    free(masked);
    free(x);
}

START_TEST(secagg_masked_sum_equals_plain_fixed_point_sum)
{
    check_masked_sum(32);
    check_masked_sum(64);
    check_masked_sum(20);
}
END_TEST

START_TEST(secagg_masked_vector_spreads_over_modulus)
{
    /* A masked vector of small inputs is (close to) uniform on [0, 2^32): mean near 2^31, both
     * ends reached, and no coordinate equals its plain encoding. */
    const fs_secagg_cfg c = {32, 16, 9};
    double *x = random_inputs(12);
    uint64_t *masked = mask_all(&c, 0, x);
    double mean = 0, lo = 1, hi = 0;
    size_t same = 0;
    for (size_t i = 0; i < DIM; i++) {
        double u = ldexp((double)masked[i], -32);
        mean += u / DIM;
        lo = fmin(lo, u), hi = fmax(hi, u);
        same += masked[i] == fs_secagg_encode(&c, x[i]);
        ck_assert_uint_lt(masked[i], UINT64_C(1) << 32);
    }
    ck_assert_double_eq_tol(mean, 0.5, 0.05);
    ck_assert(lo < 0.01 && hi > 0.99);
    ck_assert_uint_eq(same, 0);
    free(masked);
    free(x);
}
END_TEST

START_TEST(secagg_masks_change_with_round_and_seed)
{
    const fs_secagg_cfg c = {64, 16, 9}, c2 = {64, 16, 10};
    double zero[4] = {0};
    uint64_t a[4], b[4], d[4];
    uint32_t peer = 2;
    fs_secagg_mask(&c, 0, 1, &peer, 1, zero, 4, a);
    fs_secagg_mask(&c, 1, 1, &peer, 1, zero, 4, b);
    fs_secagg_mask(&c2, 0, 1, &peer, 1, zero, 4, d);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_ne(a[i], 0);
        ck_assert_uint_ne(a[i], b[i]);
        ck_assert_uint_ne(a[i], d[i]);
    }
}
END_TEST

/* Clients at rows 2, 5 and 7 mask (with all 9 peers) but drop before sending. */
static const size_t survivors7[] = {0, 1, 3, 4, 6, 8, 9};
static const size_t dropped3[] = {2, 5, 7};

static void unmask_rows(const fs_secagg_cfg *c, const size_t *surv, size_t n_surv,
                        const size_t *drop, size_t n_drop, uint64_t *sum)
{
    uint32_t s_ids[N_CLIENTS], d_ids[N_CLIENTS];
    for (size_t k = 0; k < n_surv; k++)
        s_ids[k] = ids[surv[k]];
    for (size_t k = 0; k < n_drop; k++)
        d_ids[k] = ids[drop[k]];
    fs_secagg_unmask(c, 3, s_ids, n_surv, d_ids, n_drop, sum, DIM);
}

static void check_dropout(int bits)
{
    const fs_secagg_cfg c = {bits, 16, 31337};
    double *x = random_inputs(13);
    uint64_t *masked = mask_all(&c, 3, x);
    uint64_t got[DIM], want[DIM];
    sum_rows(&c, masked, survivors7, 7, got);
    plain_sum(&c, x, survivors7, 7, want);
    size_t before = 0;
    for (size_t i = 0; i < DIM; i++)
        before += got[i] == want[i];
    ck_assert_uint_eq(before, 0); /* the dropped clients' masks have not cancelled */
    unmask_rows(&c, survivors7, 7, dropped3, 3, got);
    for (size_t i = 0; i < DIM; i++)
        ck_assert_uint_eq(got[i], want[i]);
    free(masked);
    free(x);
}

START_TEST(secagg_dropout_recovery)
{
    check_dropout(32);
    check_dropout(64);
}
END_TEST

START_TEST(secagg_sum_is_order_independent)
{
    const fs_secagg_cfg c = {32, 16, 5};
    double *x = random_inputs(14);
    uint64_t *masked = mask_all(&c, 3, x);
    uint64_t ref[DIM], got[DIM];
    sum_rows(&c, masked, survivors7, 7, ref);
    unmask_rows(&c, survivors7, 7, dropped3, 3, ref);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_SELECT, 0, 0);
    for (int trial = 0; trial < 20; trial++) {
        uint32_t perm[7], dperm[3] = {0, 1, 2};
        for (uint32_t k = 0; k < 7; k++)
            perm[k] = k;
        fs_rng_shuffle_u32(r, perm, 7);
        fs_rng_shuffle_u32(r, dperm, 3);
        size_t surv[7], drop[3];
        for (int k = 0; k < 7; k++)
            surv[k] = survivors7[perm[k]];
        for (int k = 0; k < 3; k++)
            drop[k] = dropped3[dperm[k]];
        sum_rows(&c, masked, surv, 7, got);
        unmask_rows(&c, surv, 7, drop, 3, got);
        ck_assert(memcmp(got, ref, sizeof ref) == 0);
    }
    gsl_rng_free(r);
    free(masked);
    free(x);
}
END_TEST

START_TEST(secagg_decode_negative_sum)
{
    /* Three clients each send -1.25 and +0.5 on two coordinates: sums -3.75 and 1.5. */
    const fs_secagg_cfg c = {32, 16, 8};
    const uint32_t who[3] = {4, 9, 2};
    uint64_t sum[2] = {0, 0};
    for (int k = 0; k < 3; k++) {
        uint32_t peers[2];
        for (int j = 0, np = 0; j < 3; j++)
            if (j != k) peers[np++] = who[j];
        const double x[2] = {-1.25, 0.5};
        uint64_t out[2];
        fs_secagg_mask(&c, 0, who[k], peers, 2, x, 2, out);
        sum[0] += out[0], sum[1] += out[1];
    }
    ck_assert(fs_secagg_decode(&c, sum[0]) == -3.75);
    ck_assert(fs_secagg_decode(&c, sum[1]) == 1.5);
    const fs_secagg_cfg c64 = {64, 20, 8};
    ck_assert(fs_secagg_decode(&c64, fs_secagg_encode(&c64, -7.0) * 3) == -21.0);
}
END_TEST

START_TEST(secagg_cost_matches_formula)
{
    /* n = 10, 1000 coordinates, 32 bits: up 2*32 + 9*100 + 9*32 = 1252; down
     * 10*(4 + 64) + 9*100 + 10*4 = 1620; masked vector 4000 bytes. */
    const fs_secagg_cfg c = {32, 16, 0};
    fs_secagg_cost k = fs_secagg_cost_of(&c, 10, 1000);
    ck_assert(k.extra_bytes_up == 1252.0);
    ck_assert(k.extra_bytes_down == 1620.0);
    ck_assert(k.masked_bytes == 4000.0);
    ck_assert_int_eq(k.extra_round_trips, 3);
}
END_TEST

START_TEST(secagg_cost_is_linear)
{
    const fs_secagg_cfg c = {24, 16, 0};
    fs_secagg_cost a = fs_secagg_cost_of(&c, 100, 1000), b = fs_secagg_cost_of(&c, 200, 1000),
                   d = fs_secagg_cost_of(&c, 300, 3000);
    ck_assert(d.extra_bytes_up - b.extra_bytes_up == b.extra_bytes_up - a.extra_bytes_up);
    ck_assert(d.extra_bytes_down - b.extra_bytes_down == b.extra_bytes_down - a.extra_bytes_down);
    ck_assert(b.extra_bytes_up > a.extra_bytes_up);
    ck_assert(a.masked_bytes == b.masked_bytes); /* independent of the client count */
    ck_assert(d.masked_bytes == 3.0 * a.masked_bytes);
    ck_assert(a.masked_bytes == 3000.0);
}
END_TEST

static Suite *secagg_suite(void)
{
    Suite *s = suite_create("secagg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, secagg_encode_decode_round_trip);
    tcase_add_test(tc, secagg_mask_prg_is_pinned);
    tcase_add_test(tc, secagg_masked_sum_equals_plain_fixed_point_sum);
    tcase_add_test(tc, secagg_masked_vector_spreads_over_modulus);
    tcase_add_test(tc, secagg_masks_change_with_round_and_seed);
    tcase_add_test(tc, secagg_dropout_recovery);
    tcase_add_test(tc, secagg_sum_is_order_independent);
    tcase_add_test(tc, secagg_decode_negative_sum);
    tcase_add_test(tc, secagg_cost_matches_formula);
    tcase_add_test(tc, secagg_cost_is_linear);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(secagg_suite)
