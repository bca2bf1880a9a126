/* test_compress: top-k against a sort-based reference (ties included), random-k's distinct
 * indices and unbiasedness, QSGD quantization's unbiasedness and level bounds, error feedback's
 * exact bookkeeping, and the encoded sizes, on dense and sparse updates. */
#include <check.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_compress.h"
#include "fs_model.h"
#include "fs_rng.h"
#include "fs_test.h"

static double f32(double x)
{
    return (double)(float)x;
}

/* Values in {-2.5, -2, ..., 2.5}: many ties and zeros. */
static double tie_value(gsl_rng *r)
{
    return ((double)gsl_rng_uniform_int(r, 11) - 5.0) * 0.5;
}

static void dense_update(fs_update *u, const fs_real *x, size_t n)
{
    ck_assert_int_eq(fs_update_init(u, n, false, 0), FS_OK);
    memcpy(u->dense, x, n * sizeof *x);
}

/* A sparse update over n_params with the given ascending indices and values. */
static void sparse_update(fs_update *u, size_t n_params, const uint32_t *idx, const fs_real *val,
                          size_t nnz)
{
    ck_assert_int_eq(fs_update_init(u, n_params, true, 0), FS_OK);
    u->idx = malloc((nnz ? nnz : 1) * sizeof *u->idx);
    u->val = malloc((nnz ? nnz : 1) * sizeof *u->val);
    ck_assert(u->idx && u->val);
    memcpy(u->idx, idx, nnz * sizeof *idx);
    memcpy(u->val, val, nnz * sizeof *val);
    u->nnz = u->cap = nnz;
}

/* nnz distinct ascending indices of 0..n_params-1 (selection sampling). */
static void random_support(gsl_rng *r, size_t n_params, size_t nnz, uint32_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n_params && m < nnz; i++)
        if (gsl_rng_uniform(r) * (double)(n_params - i) < (double)(nnz - m)) idx[m++] = (uint32_t)i;
    ck_assert_uint_eq(m, nnz);
}

/* The dense view of an update (n_params values). */
static void densify(const fs_update *u, double *out)
{
    if (!u->sparse) {
        for (size_t i = 0; i < u->n_params; i++)
            out[i] = u->dense[i];
        return;
    }
    memset(out, 0, u->n_params * sizeof *out);
    for (size_t j = 0; j < u->nnz; j++)
        out[u->idx[j]] = u->val[j];
}

static void assert_ascending(const fs_update *u)
{
    ck_assert(u->sparse);
    for (size_t j = 1; j < u->nnz; j++)
        ck_assert_uint_lt(u->idx[j - 1], u->idx[j]);
    if (u->nnz) ck_assert_uint_lt(u->idx[u->nnz - 1], u->n_params);
}

/* ---- sort-based top-k reference ---- */

static const fs_real *g_ref_x;

static int cmp_rank(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    double fi = fabs(g_ref_x[i]), fj = fabs(g_ref_x[j]);
    if (fi != fj) return fi > fj ? -1 : 1;
    return (i > j) - (i < j);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Positions of the k largest |x| (ties to the lower position), ascending, into out[0..k). */
static void ref_topk(const fs_real *x, size_t n, size_t k, uint32_t *out)
{
    uint32_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    g_ref_x = x;
    qsort(order, n, sizeof *order, cmp_rank);
    memcpy(out, order, k * sizeof *out);
    qsort(out, k, sizeof *out, cmp_u32);
    free(order);
}

static size_t expected_k(double fraction, size_t n)
{
    size_t k = (size_t)ceil(fraction * (double)n - 1e-9);
    return k < 1 ? 1 : k > n ? n : k;
}

/* ---- top-k ---- */

START_TEST(topk_keeps_k_largest_magnitudes_with_ties)
{
    static const size_t sizes[] = {1, 2, 7, 100, 1000, 5003};
    static const double fractions[] = {0.001, 0.01, 0.1, 0.37, 0.5, 1.0};
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 11, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
        for (size_t b = 0; b < sizeof fractions / sizeof *fractions; b++) {
            size_t n = sizes[a];
            fs_real *x = malloc(n * sizeof *x);
            for (size_t i = 0; i < n; i++)
                x[i] = tie_value(r) + (b % 2 ? 1e-3 * (double)i : 0);
            fs_update u;
            dense_update(&u, x, n);
            fs_compress_cfg cfg = {.kind = FS_COMP_TOPK, .fraction = fractions[b]};
            double bytes;
            ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, NULL, &bytes), FS_OK);
            size_t k = expected_k(fractions[b], n);
            ck_assert_uint_eq(u.nnz, k);
            assert_ascending(&u);
            uint32_t *want = malloc(k * sizeof *want);
            ref_topk(x, n, k, want);
            for (size_t j = 0; j < k; j++) {
                ck_assert_uint_eq(u.idx[j], want[j]);
                ck_assert(u.val[j] == f32(x[want[j]]));
            }
            ck_assert(bytes == 8.0 * (double)k);
            free(want);
            free(x);
            fs_update_fini(&u);
        }
    }
    gsl_rng_free(r);
}
END_TEST

START_TEST(topk_matches_reference_on_sorted_and_constant_inputs)
{
    /* Ascending magnitudes make every coordinate a candidate; a constant vector is all ties
     * (the k lowest indices win); alternating signs check that magnitude, not value, ranks. */
    enum { N = 20000 };
    fs_real *x = malloc(N * sizeof *x);
    for (int shape = 0; shape < 4; shape++) {
        for (size_t i = 0; i < N; i++) {
            double v = shape == 0 ? (double)i : shape == 1 ? (double)(N - i) : 1.5;
            x[i] = shape == 3 && i % 2 ? -(double)i : v;
        }
        fs_update u;
        dense_update(&u, x, N);
        fs_compress_cfg cfg = {.kind = FS_COMP_TOPK, .fraction = 0.01};
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, NULL, NULL), FS_OK);
        uint32_t want[200];
        ref_topk(x, N, 200, want);
        ck_assert_uint_eq(u.nnz, 200);
        for (size_t j = 0; j < 200; j++)
            ck_assert_uint_eq(u.idx[j], want[j]);
        if (shape == 2) ck_assert_uint_eq(u.idx[199], 199);
        fs_update_fini(&u);
    }
    free(x);
}
END_TEST

START_TEST(topk_sparse_selects_among_nonzeros)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 12, FS_RNG_DATA, 0, FS_RNG_NONE);
    const size_t n_params = 100000, nnz = 777;
    uint32_t *idx = malloc(nnz * sizeof *idx);
    fs_real *val = malloc(nnz * sizeof *val);
    random_support(r, n_params, nnz, idx);
    for (size_t j = 0; j < nnz; j++)
        val[j] = tie_value(r);
    fs_update u;
    sparse_update(&u, n_params, idx, val, nnz);
    fs_compress_cfg cfg = {.kind = FS_COMP_TOPK, .fraction = 0.05};
    double bytes;
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, NULL, &bytes), FS_OK);
    size_t k = expected_k(0.05, nnz);
    ck_assert_uint_eq(u.nnz, k);
    assert_ascending(&u);
    uint32_t *want = malloc(k * sizeof *want);
    ref_topk(val, nnz, k, want);
    for (size_t j = 0; j < k; j++) {
        ck_assert_uint_eq(u.idx[j], idx[want[j]]);
        ck_assert(u.val[j] == f32(val[want[j]]));
    }
    ck_assert(bytes == 8.0 * (double)k);
    /* Workspace stays O(nnz), never O(n_params). */
    ck_assert_uint_le(u.cap, nnz + 2 * k);
    free(want);
    free(idx);
    free(val);
    fs_update_fini(&u);
    gsl_rng_free(r);
}
END_TEST

START_TEST(topk_reused_update_stops_growing)
{
    /* A dense update turned sparse keeps its dense buffer; the next round reuses idx/val. */
    const size_t n = 4000;
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 13, FS_RNG_DATA, 0, FS_RNG_NONE);
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, n, false, 0), FS_OK);
    fs_compress_cfg cfg = {.kind = FS_COMP_TOPK, .fraction = 0.01};
    uint32_t *idx_before = NULL;
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < n; i++)
            u.dense[i] = gsl_ran_gaussian(r, 1.0);
        u.sparse = false;
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, NULL, NULL), FS_OK);
        ck_assert_uint_eq(u.nnz, 40);
        if (round > 0) ck_assert_ptr_eq(u.idx, idx_before);
        idx_before = u.idx;
    }
    fs_update_fini(&u);
    gsl_rng_free(r);
}
END_TEST

/* ---- random-k ---- */

START_TEST(randk_keeps_k_distinct_ascending_indices)
{
    gsl_rng *r = fs_rng_new(), *c = fs_rng_new();
    fs_rng_reseed(r, 21, FS_RNG_DATA, 0, FS_RNG_NONE);
    const size_t n = 1000;
    fs_real *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_ran_gaussian(r, 1.0);
    static const double fractions[] = {0.001, 0.03, 0.5, 1.0};
    for (size_t b = 0; b < 4; b++) {
        for (uint64_t rep = 0; rep < 20; rep++) {
            fs_update u;
            dense_update(&u, x, n);
            fs_rng_reseed(c, 5, FS_RNG_TRAIN, rep, b);
            fs_compress_cfg cfg = {.kind = FS_COMP_RANDK, .fraction = fractions[b]};
            double bytes;
            ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, c, &bytes), FS_OK);
            size_t k = expected_k(fractions[b], n);
            ck_assert_uint_eq(u.nnz, k);
            assert_ascending(&u); /* strictly ascending: distinct */
            for (size_t j = 0; j < k; j++)
                ck_assert(u.val[j] == f32(x[u.idx[j]] * ((double)n / (double)k)));
            ck_assert(bytes == 8.0 + 4.0 * (double)k);
            fs_update_fini(&u);
        }
    }
    free(x);
    gsl_rng_free(r);
    gsl_rng_free(c);
}
END_TEST

/* Mean of T decodes of x (dense or sparse with support idx) against x, within 5 standard errors
 * of rand-k's per-coordinate variance x_i^2 (n/k - 1); every coordinate is chosen about k/n of
 * the time. */
static void check_randk_unbiased(const fs_real *x, const uint32_t *idx, size_t nnz, size_t n_params)
{
    enum { T = 20000 };
    const double fraction = 0.1;
    size_t k = expected_k(fraction, nnz);
    double *sum = calloc(n_params, sizeof *sum), *dec = malloc(n_params * sizeof *dec);
    size_t *hits = calloc(n_params, sizeof *hits);
    gsl_rng *c = fs_rng_new();
    fs_compress_cfg cfg = {.kind = FS_COMP_RANDK, .fraction = fraction};
    fs_update u;
    if (idx)
        sparse_update(&u, n_params, idx, x, nnz);
    else
        dense_update(&u, x, nnz);
    for (uint64_t t = 0; t < T; t++) {
        if (idx) {
            memcpy(u.idx, idx, nnz * sizeof *idx), memcpy(u.val, x, nnz * sizeof *x);
            u.nnz = nnz;
        } else {
            memcpy(u.dense, x, nnz * sizeof *x);
            u.sparse = false;
        }
        fs_rng_reseed(c, 7, FS_RNG_TRAIN, t, 0);
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, c, NULL), FS_OK);
        ck_assert_uint_eq(u.nnz, k);
        densify(&u, dec);
        for (size_t j = 0; j < u.nnz; j++)
            hits[u.idx[j]]++;
        for (size_t i = 0; i < n_params; i++)
            sum[i] += dec[i];
    }
    double ratio = (double)nnz / (double)k, p = (double)k / (double)nnz;
    for (size_t j = 0; j < nnz; j++) {
        size_t i = idx ? idx[j] : j;
        double se = fabs(x[j]) * sqrt((ratio - 1) / T);
        ck_assert_double_le(fabs(sum[i] / T - x[j]), 5 * se + 1e-6 * fabs(x[j]));
        ck_assert_double_le(fabs((double)hits[i] - T * p), 5 * sqrt(T * p * (1 - p)));
    }
    fs_update_fini(&u);
    gsl_rng_free(c);
    free(sum), free(dec), free(hits);
}

START_TEST(randk_scaled_is_unbiased_dense_and_sparse)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 22, FS_RNG_DATA, 0, FS_RNG_NONE);
    enum { N = 60, NP = 5000 };
    fs_real x[N];
    uint32_t idx[N];
    for (size_t i = 0; i < N; i++)
        x[i] = gsl_ran_gaussian(r, 1.0);
    check_randk_unbiased(x, NULL, N, N);
    random_support(r, NP, N, idx);
    check_randk_unbiased(x, idx, N, NP);
    gsl_rng_free(r);
}
END_TEST

START_TEST(randk_with_error_feedback_is_unscaled)
{
    const size_t n = 500;
    fs_real x[500], res[500] = {0};
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i - 250.25;
    fs_update u;
    dense_update(&u, x, n);
    gsl_rng *c = fs_rng_new();
    fs_rng_reseed(c, 3, FS_RNG_TRAIN, 0, 0);
    fs_compress_cfg cfg = {.kind = FS_COMP_RANDK, .fraction = 0.1, .error_feedback = true};
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, res, c, NULL), FS_OK);
    ck_assert_uint_eq(u.nnz, 50);
    for (size_t j = 0; j < u.nnz; j++)
        ck_assert(u.val[j] == f32(x[u.idx[j]]));
    fs_update_fini(&u);
    gsl_rng_free(c);
}
END_TEST

/* ---- quantization ---- */

/* Mean of T decodes of a fixed vector within 5 standard errors per coordinate, the variance
 * being (norm/s)^2 f (1 - f) for f the fractional part of |x_i| / norm * s. */
static void check_quantize_unbiased(int bits)
{
    enum { N = 24, T = 20000 };
    fs_real x[N], sum[N] = {0};
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 31, FS_RNG_DATA, (uint64_t)bits, FS_RNG_NONE);
    for (size_t i = 0; i < N; i++)
        x[i] = gsl_ran_gaussian(r, 1.0) * (i % 3 ? 1.0 : 0.01);
    x[5] = 0;
    fs_update u;
    dense_update(&u, x, N);
    fs_compress_cfg cfg = {.kind = FS_COMP_QUANTIZE, .bits = bits};
    for (uint64_t t = 0; t < T; t++) {
        memcpy(u.dense, x, sizeof x);
        fs_rng_reseed(r, 8, FS_RNG_TRAIN, t, (uint64_t)bits);
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, r, NULL), FS_OK);
        ck_assert(!u.sparse);
        for (size_t i = 0; i < N; i++)
            sum[i] += u.dense[i];
    }
    double norm = 0, s = (double)((1 << (bits - 1)) - 1);
    for (size_t i = 0; i < N; i++)
        norm += (double)x[i] * x[i];
    norm = sqrt(norm);
    for (size_t i = 0; i < N; i++) {
        double a = fabs(x[i]) / norm * s, f = a - floor(a);
        double se = norm / s * sqrt(f * (1 - f) / T);
        ck_assert_double_le(fabs(sum[i] / T - x[i]), 5 * se + 1e-6 * norm);
    }
    ck_assert(sum[5] == 0);
    fs_update_fini(&u);
    gsl_rng_free(r);
}

START_TEST(quantize_is_unbiased_for_every_width)
{
    for (int bits = FS_COMPRESS_MIN_BITS; bits <= FS_COMPRESS_MAX_BITS; bits++)
        check_quantize_unbiased(bits);
}
END_TEST

START_TEST(quantize_levels_bounded_and_signs_kept)
{
    static const int bits[] = {8, 7, 6, 5, 4, 3, 2};
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 32, FS_RNG_DATA, 0, FS_RNG_NONE);
    enum { N = 3000 };
    fs_real x[N];
    for (size_t b = 0; b < sizeof bits / sizeof *bits; b++) {
        for (size_t i = 0; i < N; i++)
            x[i] = gsl_ran_gaussian(r, 3.0);
        x[17] = 1e3; /* one dominant coordinate reaches the top level */
        double norm = 0;
        for (size_t i = 0; i < N; i++)
            norm += (double)x[i] * x[i];
        norm = sqrt(norm);
        float nf = (float)norm;
        double norm32 = (double)nf < norm ? (double)nextafterf(nf, INFINITY) : (double)nf;
        fs_update u;
        dense_update(&u, x, N);
        fs_compress_cfg cfg = {.kind = FS_COMP_QUANTIZE, .bits = bits[b]};
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, r, NULL), FS_OK);
        /* the decoded value norm level / s is rounded once to fs_real, so the level read back
         * is off by at most s FS_REAL_EPS / 2 */
        double s = (double)((1 << (bits[b] - 1)) - 1), tol = 1e-9 + s * FS_REAL_EPS;
        for (size_t i = 0; i < N; i++) {
            double level = u.dense[i] / norm32 * s;
            ck_assert_double_le(fabs(level - round(level)), tol);
            ck_assert_double_le(fabs(level), s + tol);
            ck_assert(u.dense[i] == 0 || (u.dense[i] > 0) == (x[i] > 0));
            /* Stochastic rounding picks one of the two neighbouring levels. */
            double a = fabs(x[i]) / norm32 * s;
            ck_assert(fabs(round(fabs(level)) - a) < 1 + tol);
        }
        fs_update_fini(&u);
    }
    gsl_rng_free(r);
}
END_TEST

START_TEST(quantize_zero_vector_stays_zero)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 33, FS_RNG_TRAIN, 0, 0);
    fs_real x[64] = {0}, res[1000] = {0};
    fs_update u;
    dense_update(&u, x, 64);
    fs_compress_cfg cfg = {.kind = FS_COMP_QUANTIZE, .bits = 4};
    double bytes;
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, r, &bytes), FS_OK);
    for (size_t i = 0; i < 64; i++)
        ck_assert(u.dense[i] == 0);
    ck_assert(bytes == 4 + 32);
    fs_update_fini(&u);
    uint32_t idx[3] = {5, 70, 999};
    sparse_update(&u, 1000, idx, x, 3);
    cfg.error_feedback = true;
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, res, r, &bytes), FS_OK);
    ck_assert_uint_eq(u.nnz, 3);
    for (size_t j = 0; j < 3; j++)
        ck_assert(u.val[j] == 0 && res[idx[j]] == 0);
    ck_assert(bytes == 4 + 2 + 12);
    fs_update_fini(&u);
    gsl_rng_free(r);
}
END_TEST

/* ---- error feedback ---- */

/* One round: u (dense or sparse) with residual; decoded + new residual == u + old residual, up to
 * the two roundings to fs_real of u + residual and of the new residual (FS_REAL_EPS / 2 each). */
static void check_ef_round(const fs_compress_cfg *cfg, fs_update *u, fs_real *res, gsl_rng *c,
                           double *in, double *dec)
{
    size_t np = u->n_params;
    densify(u, in);
    for (size_t i = 0; i < np; i++)
        in[i] += res[i];
    ck_assert_int_eq(fs_compress_apply(cfg, u, res, c, NULL), FS_OK);
    densify(u, dec);
    for (size_t i = 0; i < np; i++)
        ck_assert_double_le(fabs(dec[i] + res[i] - in[i]),
                            1e-12 + FS_REAL_EPS * (fabs(in[i]) + fabs(dec[i])));
}

START_TEST(error_feedback_decoded_plus_residual_is_input_plus_old_residual)
{
    static const fs_compress_cfg cfgs[] = {
        {.kind = FS_COMP_NONE, .error_feedback = true},
        {.kind = FS_COMP_TOPK, .fraction = 0.05, .error_feedback = true},
        {.kind = FS_COMP_RANDK, .fraction = 0.05, .error_feedback = true},
        {.kind = FS_COMP_QUANTIZE, .bits = 2, .error_feedback = true},
        {.kind = FS_COMP_QUANTIZE, .bits = 8, .error_feedback = true},
    };
    enum { NP = 800, NNZ = 90 };
    gsl_rng *r = fs_rng_new(), *c = fs_rng_new();
    fs_rng_reseed(r, 41, FS_RNG_DATA, 0, FS_RNG_NONE);
    fs_real *res = malloc(NP * sizeof *res), x[NP];
    double in[NP], dec[NP];
    uint32_t idx[NNZ];
    for (size_t a = 0; a < sizeof cfgs / sizeof *cfgs; a++) {
        for (int sparse = 0; sparse < 2; sparse++) {
            memset(res, 0, NP * sizeof *res);
            fs_update u;
            ck_assert_int_eq(fs_update_init(&u, NP, false, 0), FS_OK);
            for (uint64_t round = 0; round < 6; round++) {
                for (size_t i = 0; i < NP; i++)
                    x[i] = gsl_ran_gaussian(r, 1.0);
                if (sparse) {
                    random_support(r, NP, NNZ, idx);
                    fs_update_fini(&u);
                    sparse_update(&u, NP, idx, x, NNZ);
                } else {
                    memcpy(u.dense, x, sizeof x);
                    u.sparse = false;
                }
                fs_rng_reseed(c, 4, FS_RNG_TRAIN, round, a);
                check_ef_round(&cfgs[a], &u, res, c, in, dec);
            }
            fs_update_fini(&u);
        }
    }
    free(res);
    gsl_rng_free(r);
    gsl_rng_free(c);
}
END_TEST

START_TEST(topk_error_feedback_running_sum_tracks_inputs)
{
    /* sum(decoded) = sum(inputs) - residual; top-k is contractive with delta = k/n, so
     * ||e|| <= sqrt(1 - delta) / (1 - sqrt(1 - delta)) * max ||g|| (< 2n/k max ||g||). */
    enum { N = 400, ROUNDS = 300 };
    const double fraction = 0.02;
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 42, FS_RNG_DATA, 0, FS_RNG_NONE);
    fs_real res[N] = {0}, g[N];
    double sum_in[N] = {0}, sum_dec[N] = {0}, dec[N], slack[N] = {0};
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, N, false, 0), FS_OK);
    fs_compress_cfg cfg = {.kind = FS_COMP_TOPK, .fraction = fraction, .error_feedback = true};
    double delta = (double)expected_k(fraction, N) / N, q = sqrt(1 - delta);
    double max_g = 0, max_e = 0;
    for (int t = 0; t < ROUNDS; t++) {
        double gn = 0;
        for (size_t i = 0; i < N; i++)
            g[i] = 0.1 + gsl_ran_gaussian(r, 1.0), gn += g[i] * g[i];
        max_g = fmax(max_g, sqrt(gn));
        memcpy(u.dense, g, sizeof g);
        u.sparse = false;
        /* each round rounds g + residual and the new residual to fs_real: the running sums may
         * drift apart by FS_REAL_EPS |g + residual| a round */
        for (size_t i = 0; i < N; i++)
            slack[i] += FS_REAL_EPS * (fabs(g[i]) + fabs(res[i]));
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, res, NULL, NULL), FS_OK);
        densify(&u, dec);
        double en = 0;
        for (size_t i = 0; i < N; i++) {
            sum_in[i] += g[i], sum_dec[i] += dec[i], en += res[i] * res[i];
            ck_assert_double_le(fabs(sum_in[i] - sum_dec[i] - res[i]), 1e-9 + slack[i]);
        }
        max_e = fmax(max_e, sqrt(en));
        ck_assert_double_le(sqrt(en), q / (1 - q) * max_g);
    }
    /* Tracking: the gap is the residual, far below the accumulated input. */
    double in_norm = 0;
    for (size_t i = 0; i < N; i++)
        in_norm += sum_in[i] * sum_in[i];
    ck_assert_double_lt(max_e, 0.5 * sqrt(in_norm));
    fs_update_fini(&u);
    gsl_rng_free(r);
}
END_TEST

/* ---- sizes, rounding of k, identity, determinism, validation ---- */

static double bytes_of(fs_compress_cfg cfg, size_t n, bool dense)
{
    gsl_rng *c = fs_rng_new();
    fs_rng_reseed(c, 1, FS_RNG_TRAIN, 0, 0);
    fs_real *x = malloc(n * sizeof *x);
    double out = -1;
    uint32_t *idx = malloc(n * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        x[i] = (double)i + 1, idx[i] = (uint32_t)(3 * i);
    fs_update u;
    if (dense)
        dense_update(&u, x, n);
    else
        sparse_update(&u, 3 * n, idx, x, n);
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, c, &out), FS_OK);
    ck_assert(out == fs_compress_bytes(&cfg, n, dense));
    fs_update_fini(&u);
    free(x), free(idx);
    gsl_rng_free(c);
    return out;
}

START_TEST(bytes_match_formula_for_every_kind)
{
    fs_compress_cfg none = {.kind = FS_COMP_NONE};
    fs_compress_cfg topk = {.kind = FS_COMP_TOPK, .fraction = 0.01};
    fs_compress_cfg randk = {.kind = FS_COMP_RANDK, .fraction = 0.01};
    fs_compress_cfg q8 = {.kind = FS_COMP_QUANTIZE, .bits = 8};
    fs_compress_cfg q4 = {.kind = FS_COMP_QUANTIZE, .bits = 4};
    fs_compress_cfg q2 = {.kind = FS_COMP_QUANTIZE, .bits = 2};
    ck_assert(bytes_of(none, 1000, true) == 4000);
    ck_assert(bytes_of(none, 1000, false) == 8000);
    ck_assert(bytes_of(topk, 1000, true) == 80);   /* k = 10 */
    ck_assert(bytes_of(topk, 1001, false) == 88);  /* k = ceil(10.01) = 11 */
    ck_assert(bytes_of(randk, 1000, true) == 48);  /* seed + 10 floats */
    ck_assert(bytes_of(randk, 1000, false) == 80); /* indices sent */
    ck_assert(bytes_of(q8, 1000, true) == 1004);
    ck_assert(bytes_of(q4, 1001, true) == 4 + 501);
    ck_assert(bytes_of(q2, 1001, true) == 4 + 251);
    ck_assert(bytes_of(q4, 100, false) == 4 + 50 + 400);
    ck_assert(bytes_of(q2, 7, false) == 4 + 2 + 28);
    for (int bits = 3; bits <= 7; bits += 2) { /* odd widths: codes straddle bytes */
        fs_compress_cfg q = {.kind = FS_COMP_QUANTIZE, .bits = bits};
        ck_assert(bytes_of(q, 1001, true) == 4 + (1001 * bits + 7) / 8);
        ck_assert(bytes_of(q, 13, false) == 4 + (13 * bits + 7) / 8 + 52);
    }
    /* The CNN's update at 1%: k = ceil(16633.7). */
    ck_assert(fs_compress_bytes(&topk, 1663370, true) == 8.0 * 16634);
}
END_TEST

START_TEST(k_rounds_without_float_noise_and_stays_in_1_to_n)
{
    fs_compress_cfg c = {.kind = FS_COMP_TOPK, .fraction = 0.07};
    ck_assert(fs_compress_bytes(&c, 100, true) == 8 * 7); /* 0.07 * 100 = 7.000000000000001 */
    c.fraction = 1e-9;
    ck_assert(fs_compress_bytes(&c, 100, true) == 8);
    c.fraction = 1.0;
    ck_assert(fs_compress_bytes(&c, 100, true) == 800);
    ck_assert(fs_compress_bytes(&c, 0, false) == 0);
    ck_assert(bytes_of(c, 0, false) == 0);
}
END_TEST

START_TEST(none_leaves_update_unchanged)
{
    fs_real x[5] = {0x1p-140, -3.3, 0.1, 7, -0.0}; /* a subnormal float32 */
    fs_update u;
    dense_update(&u, x, 5);
    fs_compress_cfg cfg = {.kind = FS_COMP_NONE};
    double bytes;
    ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, NULL, &bytes), FS_OK);
    ck_assert(!u.sparse);
    ck_assert(memcmp(u.dense, x, sizeof x) == 0);
    ck_assert(bytes == 20);
    fs_update_fini(&u);
}
END_TEST

START_TEST(same_stream_gives_same_compression)
{
    enum { N = 3000 };
    fs_real x[N];
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 51, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < N; i++)
        x[i] = gsl_ran_gaussian(r, 1.0);
    static const fs_compress_cfg cfgs[] = {{.kind = FS_COMP_RANDK, .fraction = 0.02},
                                           {.kind = FS_COMP_QUANTIZE, .bits = 4}};
    for (size_t a = 0; a < 2; a++) {
        fs_update u1, u2;
        dense_update(&u1, x, N), dense_update(&u2, x, N);
        fs_rng_reseed(r, 9, FS_RNG_TRAIN, 3, 4);
        ck_assert_int_eq(fs_compress_apply(&cfgs[a], &u1, NULL, r, NULL), FS_OK);
        fs_rng_reseed(r, 9, FS_RNG_TRAIN, 3, 4);
        ck_assert_int_eq(fs_compress_apply(&cfgs[a], &u2, NULL, r, NULL), FS_OK);
        double d1[N], d2[N];
        densify(&u1, d1), densify(&u2, d2);
        ck_assert(memcmp(d1, d2, sizeof d1) == 0);
        fs_update_fini(&u1), fs_update_fini(&u2);
    }
    gsl_rng_free(r);
}
END_TEST

START_TEST(invalid_config_is_rejected_untouched)
{
    fs_real x[4] = {1, 2, 3, 4};
    fs_update u;
    dense_update(&u, x, 4);
    fs_compress_cfg bad[] = {
        {.kind = FS_COMP_TOPK, .fraction = 0.5, .error_feedback = true}, /* no residual */
        {.kind = FS_COMP_QUANTIZE, .bits = 1},                           /* no room for a level */
        {.kind = FS_COMP_QUANTIZE, .bits = 9},
        {.kind = FS_COMP_RANDK, .fraction = 0},
        {.kind = FS_COMP_TOPK, .fraction = 1.5},
    };
    for (size_t a = 0; a < sizeof bad / sizeof *bad; a++)
        ck_assert_int_eq(fs_compress_apply(&bad[a], &u, NULL, NULL, NULL), FS_EINTERNAL);
    ck_assert(!u.sparse && memcmp(u.dense, x, sizeof x) == 0);
    fs_update_fini(&u);
}
END_TEST

START_TEST(nonfinite_update_is_reported)
{
    fs_real x[4] = {1, NAN, NAN, NAN};
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_TRAIN, 0, 0);
    fs_compress_cfg q = {.kind = FS_COMP_QUANTIZE, .bits = 8};
    fs_compress_cfg t = {.kind = FS_COMP_TOPK, .fraction = 0.5};
    fs_update u;
    dense_update(&u, x, 4);
    ck_assert_int_eq(fs_compress_apply(&q, &u, NULL, r, NULL), FS_ENUMERIC);
    memcpy(u.dense, x, sizeof x);
    ck_assert_int_eq(fs_compress_apply(&t, &u, NULL, r, NULL), FS_ENUMERIC);
    fs_update_fini(&u);
    gsl_rng_free(r);
}
END_TEST

/* Every width 1..8 and every length around a byte boundary: pack then unpack gives the codes
 * back, exactly ceil(n bits / 8) bytes are written (a guard byte after them stays untouched),
 * the padding bits of the last byte are 0, and code i sits at stream bits [i bits, (i+1) bits). */
START_TEST(pack_round_trips_every_width_with_exact_byte_count)
{
    enum { N = 67 };
    uint8_t codes[N], back[N];
    unsigned char buf[N + 1];
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 61, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (int bits = 1; bits <= 8; bits++) {
        for (size_t n = 0; n <= N; n++) {
            for (size_t i = 0; i < n; i++)
                codes[i] = (uint8_t)gsl_rng_uniform_int(r, 1ul << bits);
            size_t nb = fs_compress_packed_bytes(n, bits);
            ck_assert_uint_eq(nb, (n * (size_t)bits + 7) / 8);
            memset(buf, 0xA5, sizeof buf);
            fs_compress_pack(codes, n, bits, buf);
            ck_assert_uint_eq(buf[nb], 0xA5);
            if (n * (size_t)bits % 8) ck_assert_uint_eq(buf[nb - 1] >> (n * (size_t)bits % 8), 0);
            for (size_t i = 0; i < n; i++) { /* the documented bit positions */
                unsigned got = 0;
                for (int k = 0; k < bits; k++) {
                    size_t b = i * (size_t)bits + (size_t)k;
                    got |= (unsigned)((buf[b / 8] >> (b % 8)) & 1u) << k;
                }
                ck_assert_uint_eq(got, codes[i]);
            }
            memset(back, 0, sizeof back);
            fs_compress_unpack(buf, n, bits, back);
            ck_assert(memcmp(back, codes, n) == 0);
        }
    }
    /* higher bits than the width are ignored */
    uint8_t wide[3] = {0xFF, 0xF0, 0x0F};
    fs_compress_pack(wide, 3, 3, buf);
    fs_compress_unpack(buf, 3, 3, back);
    ck_assert(back[0] == 7 && back[1] == 0 && back[2] == 7);
    gsl_rng_free(r);
}
END_TEST

/* Every width: the encoded size reported is ceil(n bits / 8) + 4 (dense) or plus 4n (sparse),
 * on lengths whose codes end mid-byte, and the error of each decoded coordinate is below one
 * quantization step norm / s (the error bound of QSGD's stochastic rounding). */
START_TEST(quantize_every_width_bytes_and_error_bound)
{
    enum { N = 1001 };
    fs_real x[N];
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 62, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < N; i++)
        x[i] = gsl_ran_gaussian(r, 1.0);
    double norm = 0;
    for (size_t i = 0; i < N; i++)
        norm += (double)x[i] * x[i];
    norm = sqrt(norm);
    for (int bits = FS_COMPRESS_MIN_BITS; bits <= FS_COMPRESS_MAX_BITS; bits++) {
        fs_compress_cfg cfg = {.kind = FS_COMP_QUANTIZE, .bits = bits};
        double s = (double)((1 << (bits - 1)) - 1), bytes;
        size_t codes = (N * (size_t)bits + 7) / 8;
        fs_update u;
        dense_update(&u, x, N);
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, r, &bytes), FS_OK);
        ck_assert(bytes == 4.0 + (double)codes);
        ck_assert(fs_compress_bytes(&cfg, N, true) == 4.0 + (double)codes);
        for (size_t i = 0; i < N; i++)
            ck_assert_double_lt(fabs(u.dense[i] - x[i]), norm * (1 + 1e-6) / s);
        fs_update_fini(&u);
        uint32_t idx[5] = {3, 9, 100, 200, 999};
        sparse_update(&u, 1000, idx, x, 5);
        ck_assert_int_eq(fs_compress_apply(&cfg, &u, NULL, r, &bytes), FS_OK);
        ck_assert(bytes == 4.0 + (double)((5 * bits + 7) / 8) + 20.0);
        ck_assert_uint_eq(u.nnz, 5);
        for (size_t j = 0; j < 5; j++)
            ck_assert_uint_eq(u.idx[j], idx[j]); /* the packed codes did not overwrite them */
        fs_update_fini(&u);
    }
    gsl_rng_free(r);
}
END_TEST

static Suite *compress_suite(void)
{
    Suite *s = suite_create("compress");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, topk_keeps_k_largest_magnitudes_with_ties);
    tcase_add_test(tc, topk_matches_reference_on_sorted_and_constant_inputs);
    tcase_add_test(tc, topk_sparse_selects_among_nonzeros);
    tcase_add_test(tc, topk_reused_update_stops_growing);
    tcase_add_test(tc, randk_keeps_k_distinct_ascending_indices);
    tcase_add_test(tc, randk_scaled_is_unbiased_dense_and_sparse);
    tcase_add_test(tc, randk_with_error_feedback_is_unscaled);
    tcase_add_test(tc, quantize_is_unbiased_for_every_width);
    tcase_add_test(tc, pack_round_trips_every_width_with_exact_byte_count);
    tcase_add_test(tc, quantize_every_width_bytes_and_error_bound);
    tcase_add_test(tc, quantize_levels_bounded_and_signs_kept);
    tcase_add_test(tc, quantize_zero_vector_stays_zero);
    tcase_add_test(tc, error_feedback_decoded_plus_residual_is_input_plus_old_residual);
    tcase_add_test(tc, topk_error_feedback_running_sum_tracks_inputs);
    tcase_add_test(tc, bytes_match_formula_for_every_kind);
    tcase_add_test(tc, k_rounds_without_float_noise_and_stays_in_1_to_n);
    tcase_add_test(tc, none_leaves_update_unchanged);
    tcase_add_test(tc, same_stream_gives_same_compression);
    tcase_add_test(tc, invalid_config_is_rejected_untouched);
    tcase_add_test(tc, nonfinite_update_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(compress_suite)
