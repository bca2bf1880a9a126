/* test_skew: the shards, quantity, natural and feature-skew partitioners: coverage (each row
 * exactly once), the statistical property that defines each one, determinism per seed, and
 * argument errors. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_data.h"
#include "fs_rng.h"
#include "fs_test.h"

/* n rows, d features (zero), labels i % n_classes (balanced). */
static void labelled(fs_dataset *ds, size_t n, size_t d, int n_classes)
{
    ck_assert_int_eq(fs_dataset_alloc(ds, n, d, n_classes), FS_OK);
    for (size_t i = 0; i < n; i++) ds->y[i] = (int32_t)(i % (size_t)n_classes);
}

static void assert_covers_once(const fs_partition *p, size_t n)
{
    ck_assert_uint_eq(p->offset[0], 0);
    ck_assert_uint_eq(p->offset[p->n_clients], n);
    unsigned char *seen = calloc(n, 1);
    for (size_t k = 0; k < p->n_clients; k++) ck_assert_uint_le(p->offset[k], p->offset[k + 1]);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(p->rows[i], n);
        ck_assert_uint_eq(seen[p->rows[i]], 0);
        seen[p->rows[i]] = 1;
    }
    free(seen);
}

static bool same_partition(const fs_partition *a, const fs_partition *b)
{
    return a->n_clients == b->n_clients &&
           memcmp(a->offset, b->offset, (a->n_clients + 1) * sizeof *a->offset) == 0 &&
           memcmp(a->rows, b->rows, a->offset[a->n_clients] * sizeof *a->rows) == 0;
}

static size_t distinct_labels(const fs_dataset *ds, const fs_partition *p, size_t k)
{
    bool seen[64] = {false};
    size_t n = 0;
    for (size_t i = p->offset[k]; i < p->offset[k + 1]; i++)
        if (!seen[ds->y[p->rows[i]]]) seen[ds->y[p->rows[i]]] = true, n++;
    return n;
}

/* ---- shards */

START_TEST(shards_give_few_labels_per_client)
{
    fs_dataset ds;
    labelled(&ds, 6000, 1, 10);
    fs_partition p;
    ck_assert_int_eq(fs_partition_shards(&ds, 100, 2, 1, &p, NULL), FS_OK);
    ck_assert_uint_eq(p.n_clients, 100);
    assert_covers_once(&p, 6000);
    size_t few = 0;
    for (size_t k = 0; k < 100; k++) {
        ck_assert_uint_eq(fs_partition_size(&p, k), 60);
        size_t nl = distinct_labels(&ds, &p, k);
        ck_assert_uint_le(nl, 2); /* shards of 30 align with class blocks of 600 */
        few += nl <= 2;
    }
    ck_assert_uint_ge(few, 90);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(shards_uneven_sizes_cover_rows_and_are_deterministic)
{
    fs_dataset ds;
    labelled(&ds, 1003, 1, 7);
    fs_partition a, b, c;
    ck_assert_int_eq(fs_partition_shards(&ds, 13, 3, 42, &a, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_shards(&ds, 13, 3, 42, &b, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_shards(&ds, 13, 3, 43, &c, NULL), FS_OK);
    assert_covers_once(&a, 1003);
    ck_assert(same_partition(&a, &b));
    ck_assert(!same_partition(&a, &c));
    /* 39 shards of 25 or 26 rows; a client's three shards: 75 .. 78 rows, <= 3 + 3 labels
     * (a shard can straddle one class boundary). */
    for (size_t k = 0; k < 13; k++) {
        ck_assert_uint_ge(fs_partition_size(&a, k), 75);
        ck_assert_uint_le(fs_partition_size(&a, k), 78);
        ck_assert_uint_le(distinct_labels(&ds, &a, k), 6);
    }
    fs_partition_fini(&a), fs_partition_fini(&b), fs_partition_fini(&c);
    /* One shard per row is the limit. */
    ck_assert_int_eq(fs_partition_shards(&ds, 1003, 1, 42, &a, NULL), FS_OK);
    assert_covers_once(&a, 1003);
    fs_partition_fini(&a);
    fs_dataset_fini(&ds);
}
END_TEST

/* ---- quantity */

static double size_cv(const fs_partition *p)
{
    double mean = 0, var = 0, n = (double)p->n_clients;
    for (size_t k = 0; k < p->n_clients; k++) mean += (double)fs_partition_size(p, k) / n;
    for (size_t k = 0; k < p->n_clients; k++) {
        double e = (double)fs_partition_size(p, k) - mean;
        var += e * e / n;
    }
    return sqrt(var) / mean;
}

static size_t min_size(const fs_partition *p)
{
    size_t lo = SIZE_MAX;
    for (size_t k = 0; k < p->n_clients; k++)
        lo = fs_partition_size(p, k) < lo ? fs_partition_size(p, k) : lo;
    return lo;
}

static size_t max_size(const fs_partition *p)
{
    size_t hi = 0;
    for (size_t k = 0; k < p->n_clients; k++)
        hi = fs_partition_size(p, k) > hi ? fs_partition_size(p, k) : hi;
    return hi;
}

START_TEST(quantity_lognormal_spread_grows_with_sigma)
{
    fs_dataset ds;
    labelled(&ds, 20000, 1, 10);
    fs_partition lo, hi;
    ck_assert_int_eq(fs_partition_quantity(&ds, 100, FS_QUANTITY_LOGNORMAL, 0.1, 10, 7, &lo,
                                           NULL),
                     FS_OK);
    ck_assert_int_eq(fs_partition_quantity(&ds, 100, FS_QUANTITY_LOGNORMAL, 1.5, 10, 7, &hi,
                                           NULL),
                     FS_OK);
    assert_covers_once(&lo, 20000);
    assert_covers_once(&hi, 20000);
    ck_assert_uint_ge(min_size(&lo), 10);
    ck_assert_uint_ge(min_size(&hi), 10);
    double cv_lo = size_cv(&lo), cv_hi = size_cv(&hi);
    printf("quantity lognormal: CV %.3f at sigma 0.1, %.3f at sigma 1.5\n", cv_lo, cv_hi);
    /* CV of lognormal(0, s) weights is sqrt(exp(s^2) - 1): 0.10 and 2.9. */
    ck_assert_double_lt(cv_lo, 0.2);
    ck_assert_double_gt(cv_hi, 1.0);
    fs_partition_fini(&lo), fs_partition_fini(&hi);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(quantity_powerlaw_has_heavy_tail_and_respects_min)
{
    fs_dataset ds;
    labelled(&ds, 10000, 1, 10);
    fs_partition p;
    ck_assert_int_eq(fs_partition_quantity(&ds, 50, FS_QUANTITY_POWERLAW, 1.0, 20, 3, &p, NULL),
                     FS_OK);
    assert_covers_once(&p, 10000);
    ck_assert_uint_ge(min_size(&p), 20);
    /* Pareto(1) has infinite mean: the largest of 50 weights is typically ~50x the median,
     * and its share far exceeds 1 / 50. */
    double top_share = (double)max_size(&p) / 10000;
    printf("quantity powerlaw(1): largest client share %.3f (1/n_clients = 0.02)\n", top_share);
    ck_assert_double_gt(top_share, 5 * 0.02);
    fs_partition_fini(&p);
    /* Tiny exponents would overflow U^(-1/a) without the log-space draw. */
    ck_assert_int_eq(fs_partition_quantity(&ds, 50, FS_QUANTITY_POWERLAW, 0.001, 1, 3, &p, NULL),
                     FS_OK);
    assert_covers_once(&p, 10000);
    ck_assert_uint_ge(min_size(&p), 1);
    fs_partition_fini(&p);
    /* min_per_client * n_clients == n leaves nothing to skew: equal sizes. */
    ck_assert_int_eq(fs_partition_quantity(&ds, 50, FS_QUANTITY_POWERLAW, 2, 200, 3, &p, NULL),
                     FS_OK);
    ck_assert_uint_eq(min_size(&p), 200);
    ck_assert_uint_eq(max_size(&p), 200);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(quantity_deterministic_per_seed)
{
    fs_dataset ds;
    labelled(&ds, 3000, 1, 10);
    for (int kind = 0; kind < 2; kind++) {
        fs_partition a, b, c;
        ck_assert_int_eq(fs_partition_quantity(&ds, 30, kind, 1.2, 5, 9, &a, NULL), FS_OK);
        ck_assert_int_eq(fs_partition_quantity(&ds, 30, kind, 1.2, 5, 9, &b, NULL), FS_OK);
        ck_assert_int_eq(fs_partition_quantity(&ds, 30, kind, 1.2, 5, 10, &c, NULL), FS_OK);
        ck_assert(same_partition(&a, &b));
        ck_assert(!same_partition(&a, &c));
        fs_partition_fini(&a), fs_partition_fini(&b), fs_partition_fini(&c);
    }
    fs_dataset_fini(&ds);
}
END_TEST

/* ---- natural */

START_TEST(natural_client_is_level_in_dataset_order)
{
    fs_dataset ds;
    labelled(&ds, 100, 1, 2);
    size_t g;
    ck_assert_int_eq(fs_dataset_add_group(&ds, "region", 5, &g), FS_OK);
    /* Level 3 stays empty. */
    for (size_t i = 0; i < 100; i++) {
        uint32_t l = (uint32_t)((i * i) % 7 % 5);
        ds.groups[g].level[i] = l == 3 ? 4 : l;
    }
    fs_partition a, b;
    ck_assert_int_eq(fs_partition_natural(&ds, g, &a, NULL), FS_OK);
    ck_assert_uint_eq(a.n_clients, 5);
    assert_covers_once(&a, 100);
    ck_assert_uint_eq(fs_partition_size(&a, 3), 0);
    for (size_t c = 0; c < 5; c++) {
        size_t at = a.offset[c];
        for (uint32_t i = 0; i < 100; i++)
            if (ds.groups[g].level[i] == c) ck_assert_uint_eq(a.rows[at++], i);
        ck_assert_uint_eq(at, a.offset[c + 1]);
    }
    ck_assert_int_eq(fs_partition_natural(&ds, g, &b, NULL), FS_OK);
    ck_assert(same_partition(&a, &b));
    fs_partition_fini(&a), fs_partition_fini(&b);
    fs_dataset_fini(&ds);
}
END_TEST

/* ---- feature skew */

/* Rows alternate between features all 0 and all 1, so each client's a_k and b_k[j] can be read
 * back exactly: x0 -> b, x1 -> a + b. */
static void constant_rows(fs_dataset *ds, size_t n, size_t d)
{
    labelled(ds, n, d, 2);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) ds->x[i * d + j] = (float)(i % 2);
}

START_TEST(feature_skew_applies_documented_affine_map)
{
    enum { N = 400, D = 3, K = 8 };
    fs_dataset ds;
    constant_rows(&ds, N, D);
    fs_partition p;
    ck_assert_int_eq(fs_partition_iid(&ds, K, 1, &p, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_feature_skew(&ds, &p, 0.5, 2.0, 77, NULL), FS_OK);
    gsl_rng *r = fs_rng_new();
    for (size_t k = 0; k < K; k++) {
        /* The stream and draw order in fs_data.h: a_k, then b_k[0 .. d). */
        fs_rng_reseed(r, 77, FS_RNG_PARTITION, k, FS_RNG_NONE);
        double a = gsl_ran_lognormal(r, 0, 0.5), b[D];
        for (int j = 0; j < D; j++) b[j] = gsl_ran_gaussian(r, 2.0);
        for (size_t i = p.offset[k]; i < p.offset[k + 1]; i++) {
            uint32_t row = p.rows[i];
            for (int j = 0; j < D; j++) {
                double want = a * (row % 2) + b[j];
                ck_assert_double_eq_tol(ds.x[row * D + j], want, 1e-5 * (1 + fabs(want)));
            }
        }
    }
    gsl_rng_free(r);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

/* Over many clients, log a_k has standard deviation scale_sigma and b_k[j] shift_sigma. */
START_TEST(feature_skew_spread_matches_sigmas)
{
    enum { K = 2000, D = 2 };
    fs_dataset ds;
    constant_rows(&ds, 2 * K, D);
    fs_partition p = {.n_clients = K};
    p.offset = malloc((K + 1) * sizeof *p.offset);
    p.rows = malloc(2 * K * sizeof *p.rows);
    for (size_t k = 0; k <= K; k++) p.offset[k] = 2 * k;
    for (uint32_t i = 0; i < 2 * K; i++) p.rows[i] = i; /* client k: a 0-row and a 1-row */
    ck_assert_int_eq(fs_partition_feature_skew(&ds, &p, 0.3, 1.5, 5, NULL), FS_OK);
    double s_loga = 0, ss_loga = 0, s_b = 0, ss_b = 0;
    for (size_t k = 0; k < K; k++) {
        for (int j = 0; j < D; j++) {
            double b = ds.x[2 * k * D + j], a = ds.x[(2 * k + 1) * D + j] - b;
            if (j == 0) s_loga += log(a), ss_loga += log(a) * log(a);
            s_b += b, ss_b += b * b;
        }
    }
    double sd_loga = sqrt(ss_loga / K - pow(s_loga / K, 2));
    double sd_b = sqrt(ss_b / (K * D) - pow(s_b / (K * D), 2));
    printf("feature skew: sd(log a) %.3f (want 0.3), sd(b) %.3f (want 1.5)\n", sd_loga, sd_b);
    ck_assert_double_eq_tol(sd_loga, 0.3, 0.03);
    ck_assert_double_eq_tol(sd_b, 1.5, 0.1);
    ck_assert_double_eq_tol(s_loga / K, 0, 0.03);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(feature_skew_leaves_other_rows_untouched_and_is_deterministic)
{
    enum { N = 300, D = 4 };
    fs_dataset a, b;
    constant_rows(&a, N, D);
    constant_rows(&b, N, D);
    /* Two clients over rows 0 .. 199 only; rows 200 .. 299 belong to nobody. */
    fs_partition p = {.n_clients = 2};
    size_t off[3] = {0, 120, 200};
    uint32_t rows[200];
    for (uint32_t i = 0; i < 200; i++) rows[i] = 199 - i;
    p.offset = off, p.rows = rows;
    ck_assert_int_eq(fs_partition_feature_skew(&a, &p, 1.0, 1.0, 3, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_feature_skew(&b, &p, 1.0, 1.0, 3, NULL), FS_OK);
    ck_assert_mem_eq(a.x, b.x, N * D * sizeof *a.x);
    for (size_t i = 200; i < N; i++)
        for (size_t j = 0; j < D; j++) ck_assert_float_eq(a.x[i * D + j], (float)(i % 2));
    size_t changed = 0;
    for (size_t i = 0; i < 200 * D; i++) changed += a.x[i] != (float)(i / D % 2);
    ck_assert_uint_gt(changed, 190 * D);
    /* Another seed, another map. */
    fs_dataset_fini(&b);
    constant_rows(&b, N, D);
    ck_assert_int_eq(fs_partition_feature_skew(&b, &p, 1.0, 1.0, 4, NULL), FS_OK);
    ck_assert(memcmp(a.x, b.x, N * D * sizeof *a.x) != 0);
    fs_dataset_fini(&a);
    fs_dataset_fini(&b);
}
END_TEST

/* ---- errors */

START_TEST(bad_arguments_are_escenario)
{
    fs_dataset ds;
    labelled(&ds, 50, 1, 10);
    fs_partition p;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_partition_shards(&ds, 0, 2, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_shards(&ds, 5, 0, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_shards(&ds, 51, 1, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_shards(&ds, 10, 6, 1, &p, &err), FS_ESCENARIO);
    ck_assert_ptr_null(p.rows);
    ck_assert_int_eq(err.n_msgs, 4);
    ck_assert_str_eq(err.msgs[1], "partition.shards_per_client: expected an integer >= 1, "
                                  "found 0");
    ck_assert_str_eq(err.msgs[3], "partition.shards_per_client: expected n_clients * "
                                  "shards_per_client <= 50 (the number of rows), found 10 * 6");
    fs_err_clear(&err);
    ds.y[7] = 10;
    ck_assert_int_eq(fs_partition_shards(&ds, 5, 2, 1, &p, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition: row 7: expected a label in 0 .. 9, found 10");
    ds.y[7] = 7;

    fs_err_clear(&err);
    ck_assert_int_eq(fs_partition_quantity(&ds, 5, FS_QUANTITY_LOGNORMAL, 0, 1, 1, &p, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_quantity(&ds, 5, FS_QUANTITY_POWERLAW, -1, 1, 1, &p, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_quantity(&ds, 5, FS_QUANTITY_POWERLAW, 1, 11, 1, &p, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_quantity(&ds, 0, FS_QUANTITY_POWERLAW, 1, 1, 1, &p, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_quantity(&ds, 5, (enum fs_quantity_kind)7, 1, 1, 1, &p, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(err.n_msgs, 5);
    ck_assert_str_eq(err.msgs[0], "partition.param: expected a finite number > 0, found 0");
    ck_assert_str_eq(err.msgs[2], "partition.min_per_client: expected n_clients * "
                                  "min_per_client <= 50 (the number of rows), found 5 * 11");

    fs_err_clear(&err);
    size_t g;
    ck_assert_int_eq(fs_partition_natural(&ds, 0, &p, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition.group: expected a group column index below 0, "
                                  "found 0");
    ck_assert_int_eq(fs_dataset_add_group(&ds, "device", 3, &g), FS_OK);
    ds.groups[g].level[4] = 3;
    ck_assert_int_eq(fs_partition_natural(&ds, g, &p, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[1], "partition.group: group 'device': row 4: expected a level in "
                                  "0 .. 2, found 3");
    ck_assert_int_eq(fs_dataset_add_group(&ds, "none", 0, &g), FS_OK);
    ck_assert_int_eq(fs_partition_natural(&ds, g, &p, &err), FS_ESCENARIO);

    fs_err_clear(&err);
    fs_partition q;
    ck_assert_int_eq(fs_partition_iid(&ds, 5, 1, &q, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_feature_skew(&ds, &q, -1, 1, 1, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_feature_skew(&ds, &q, 1, NAN, 1, &err), FS_ESCENARIO);
    q.rows[3] = q.rows[4];
    ck_assert_int_eq(fs_partition_feature_skew(&ds, &q, 1, 1, 1, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition.scale_sigma: expected a finite number >= 0, "
                                  "found -1");
    fs_partition_fini(&q);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(feature_skew_rejects_sparse_and_regression_shards)
{
    fs_dataset sp;
    ck_assert_int_eq(fs_dataset_alloc_sparse(&sp, 20, 5, 0, 2), FS_OK);
    fs_partition p;
    ck_assert_int_eq(fs_partition_iid(&sp, 4, 1, &p, NULL), FS_OK);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_partition_feature_skew(&sp, &p, 1, 1, 1, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition: feature skew needs dense features, found a sparse "
                                  "dataset");
    fs_partition_fini(&p);
    fs_dataset_fini(&sp);
    fs_dataset reg;
    ck_assert_int_eq(fs_dataset_alloc_sparse(&reg, 20, 5, 0, 0), FS_OK);
    ck_assert_int_eq(fs_partition_shards(&reg, 4, 2, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_quantity(&reg, 4, FS_QUANTITY_LOGNORMAL, 1, 1, 1, &p, NULL),
                     FS_OK); /* quantity skew needs no labels */
    assert_covers_once(&p, 20);
    fs_partition_fini(&p);
    fs_dataset_fini(&reg);
}
END_TEST

static Suite *skew_suite(void)
{
    Suite *su = suite_create("skew");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, shards_give_few_labels_per_client);
    tcase_add_test(tc, shards_uneven_sizes_cover_rows_and_are_deterministic);
    tcase_add_test(tc, quantity_lognormal_spread_grows_with_sigma);
    tcase_add_test(tc, quantity_powerlaw_has_heavy_tail_and_respects_min);
    tcase_add_test(tc, quantity_deterministic_per_seed);
    tcase_add_test(tc, natural_client_is_level_in_dataset_order);
    tcase_add_test(tc, feature_skew_applies_documented_affine_map);
    tcase_add_test(tc, feature_skew_spread_matches_sigmas);
    tcase_add_test(tc, feature_skew_leaves_other_rows_untouched_and_is_deterministic);
    tcase_add_test(tc, bad_arguments_are_escenario);
    tcase_add_test(tc, feature_skew_rejects_sparse_and_regression_shards);
    suite_add_tcase(su, tc);
    return su;
}

FS_TEST_MAIN(skew_suite)
