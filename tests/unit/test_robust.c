/* Tests of server.robust (sim/aggregation/fs_robust*) through the aggregator production runs
 * (fs_agg_round) on constructed updates: the order statistics with implicit zeros, median,
 * trimmed mean and Krum against hand-computed results (dense, sparse and mixed, odd and even
 * counts), Krum reducing to FedAvg, a short Krum round skipped, norm_bound's exact scaling (also
 * under secure aggregation), sign-flip attackers that move the plain mean far from the honest one
 * while the robust rules stay close, and norm_bound blunting a model-replacement update. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "fs_agg.h"
#include "fs_rng.h"
#include "fs_robust.h"
#include "fs_robust_coord.h"
#include "fs_test.h"
#include "fs_test_scn.h"

/* clients_per_round 5: Krum with f = 1 needs n > 4 */
#define SERVER(extra)                                                                              \
    "{\"name\":\"robust\",\"data\":{\"source\":\"synthetic\",\"clients\":40},"                     \
    "\"server\":{\"rounds\":1,\"clients_per_round\":5" extra "}}"
#define ROBUST(r) SERVER(",\"robust\":" r)
#define FEDAVG SERVER("")

/* One server step of the aggregator production runs: w moves by the aggregate of the reports.
 * Returns the rounds the robust rule skipped (0 or 1). */
static size_t aggregate(const char *text, fs_real *w, size_t np, const fs_agg_report *r, size_t n)
{
    fs_scenario s;
    fs_test_scenario(text, &s);
    fs_aggregator a;
    fs_agg_cfg cfg = {.n_params = np, .n_eligible = 40, .dp_denominator = 5};
    ck_assert_int_eq(fs_agg_init(&a, &s, &cfg, NULL), FS_OK);
    ck_assert_int_eq(fs_agg_round(&a, w, r, n, NULL, 0, 1, NULL), FS_OK);
    size_t skipped = a.robust_skipped;
    fs_agg_fini(&a);
    fs_scn_fini(&s);
    return skipped;
}

static fs_agg_report report(const fs_update *u, uint32_t client, double n_samples)
{
    return (fs_agg_report){.client = client, .update = u, .n_samples = n_samples, .scale = 1};
}

static fs_update dense(fs_real *v, size_t np)
{
    return (fs_update){.n_params = np, .dense = v};
}

/* The sparse form of a dense vector: its nonzero coordinates, ascending (storage in idx, val). */
static fs_update sparse_of(const fs_real *v, size_t np, uint32_t *idx, fs_real *val)
{
    fs_update u = {.n_params = np, .sparse = true, .idx = idx, .val = val};
    for (size_t j = 0; j < np; j++)
        if (v[j] != 0) idx[u.nnz] = (uint32_t)j, val[u.nnz++] = v[j];
    return u;
}

START_TEST(order_statistics_count_implicit_zeros)
{
    const double v[] = {-3, -1, 2, 5};
    ck_assert_double_eq(fs_robust_median(v, 4, 4), 0.5);   /* -3 -1 | 2 5 */
    ck_assert_double_eq(fs_robust_median(v, 4, 5), 0);     /* -3 -1 0 2 5 */
    ck_assert_double_eq(fs_robust_median(v, 4, 6), 0);     /* -3 -1 0 0 2 5 */
    ck_assert_double_eq(fs_robust_median(v + 2, 2, 3), 2); /* 0 2 5 */
    ck_assert_double_eq(fs_robust_median(v + 2, 2, 4), 1); /* 0 0 | 2 5 */
    ck_assert_double_eq(fs_robust_median(v, 2, 3), -1);    /* -3 -1 0 */
    ck_assert_double_eq(fs_robust_median(NULL, 0, 7), 0);
    const double t[] = {-10, 1, 2, 3, 100};
    ck_assert_double_eq(fs_robust_trimmed_mean(t, 5, 5, 0.2), 2);   /* drops -10 and 100 */
    ck_assert_double_eq(fs_robust_trimmed_mean(t, 5, 6, 0.2), 1.5); /* -10 [0 1 2 3] 100 */
    ck_assert_double_eq(fs_robust_trimmed_mean(t, 5, 6, 0), 96.0 / 6);
    /* -10 0 0 [0 0 0 1] 2 3 100 */
    ck_assert_double_eq(fs_robust_trimmed_mean(t, 5, 10, 0.3), 0.25);
    /* 0.29 x 100 is 28.999... in binary: still 29 trimmed at each end, so the mean of i^2 over
     * i = 29..70 (sum 109081), not over 28..71 */
    double many[100];
    for (int i = 0; i < 100; i++)
        many[i] = (double)i * i;
    ck_assert_double_eq_tol(fs_robust_trimmed_mean(many, 100, 100, 0.29), 109081.0 / 42, 1e-9);
}
END_TEST

START_TEST(median_dense_odd_and_even)
{
    fs_real a[3] = {1, -2, 0}, b[3] = {4, 0, 3}, c[3] = {-1, 5, 3}, d[3] = {2, 2, 2};
    fs_update ua = dense(a, 3), ub = dense(b, 3), uc = dense(c, 3), ud = dense(d, 3);
    /* unweighted: the sample counts do not matter */
    fs_agg_report r[] = {report(&ua, 0, 1), report(&ub, 1, 100), report(&uc, 2, 7),
                         report(&ud, 3, 3)};
    fs_real w[3] = {10, 20, 30};
    aggregate(ROBUST("{\"median\":{}}"), w, 3, r, 3);
    ck_assert_double_eq(w[0], 11);
    ck_assert_double_eq(w[1], 20);
    ck_assert_double_eq(w[2], 33);
    fs_real w4[3] = {10, 20, 30};
    aggregate(ROBUST("{\"median\":{}}"), w4, 3, r, 4);
    ck_assert_double_eq(w4[0], 11.5); /* -1 1 | 2 4 */
    ck_assert_double_eq(w4[1], 21);   /* -2 0 | 2 5 */
    ck_assert_double_eq(w4[2], 32.5); /* 0 2 | 3 3 */
}
END_TEST

START_TEST(trimmed_mean_dense)
{
    fs_real a[3] = {1, -2, 0}, b[3] = {4, 0, 3}, c[3] = {-1, 5, 3}, d[3] = {2, 2, 2},
            e[3] = {10, -10, 1};
    fs_update u[] = {dense(a, 3), dense(b, 3), dense(c, 3), dense(d, 3), dense(e, 3)};
    fs_agg_report r[5];
    for (int k = 0; k < 5; k++)
        r[k] = report(&u[k], (uint32_t)k, 1 + 10 * k);
    fs_real w[3] = {0, 0, 0};
    aggregate(ROBUST("{\"trimmed_mean\":{\"beta\":0.2}}"), w, 3, r, 5);
    ck_assert_double_eq_tol(w[0], 7.0 / 3, 1e-6); /* -1 [1 2 4] 10 */
    ck_assert_double_eq(w[1], 0);                 /* -10 [-2 0 2] 5 */
    ck_assert_double_eq(w[2], 2);                 /* 0 [1 2 3] 3 */
    /* beta = 0: the unweighted mean of every value */
    fs_real m[3] = {0, 0, 0};
    aggregate(ROBUST("{\"trimmed_mean\":{\"beta\":0}}"), m, 3, r, 5);
    ck_assert_double_eq_tol(m[0], 16.0 / 5, 1e-6);
    ck_assert_double_eq_tol(m[1], -5.0 / 5, 1e-6);
}
END_TEST

/* Five reports over 8 coordinates, most of them zero: coordinate 6 is touched by nobody, 0 by
 * everyone, the others by some. */
static fs_real sparse_data[5][8] = {
    {0.5, 0, -1, 0, 0, 2, 0, 0}, {1.5, 0.25, 0, 0, 0, -3, 0, 0}, {-2, 0, -1, 0, 4, 0, 0, 1},
    {0.75, 0, 3, 0, 0, 0, 0, 0}, {1, 0, 0, -0.5, 0, 1, 0, 0},
};

/* The robust rule on the same reports stored dense, sparse, and mixed (odd reports sparse): the
 * three models are identical, bit for bit. Returns the model in w. */
static void three_ways(const char *text, size_t n, fs_real *w)
{
    uint32_t idx[5][8];
    fs_real val[5][8];
    fs_update d[5], s[5];
    fs_agg_report rd[5], rs[5], rm[5];
    for (size_t k = 0; k < n; k++) {
        d[k] = dense(sparse_data[k], 8);
        s[k] = sparse_of(sparse_data[k], 8, idx[k], val[k]);
        rd[k] = report(&d[k], (uint32_t)k, 1 + (double)k);
        rs[k] = report(&s[k], (uint32_t)k, 1 + (double)k);
        rm[k] = k % 2 ? rs[k] : rd[k];
    }
    fs_real ws[8] = {0}, wm[8] = {0};
    memset(w, 0, 8 * sizeof *w);
    aggregate(text, w, 8, rd, n);
    aggregate(text, ws, 8, rs, n);
    aggregate(text, wm, 8, rm, n);
    ck_assert_mem_eq(w, ws, 8 * sizeof *w);
    ck_assert_mem_eq(w, wm, 8 * sizeof *w);
}

START_TEST(sparse_median_and_trimmed_mean_equal_dense)
{
    fs_real w[8];
    three_ways(ROBUST("{\"median\":{}}"), 5, w);
    /* 0: -2 0.5 [0.75] 1 1.5; 2: -1 -1 [0] 0 3; 5: -3 0 [0] 1 2 */
    const fs_real median5[8] = {0.75, 0, 0, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(w, median5, sizeof w);
    three_ways(ROBUST("{\"median\":{}}"), 4, w);
    /* even: 0: -2 0.5 | 0.75 1.5; 2: -1 -1 | 0 3; 5: -3 0 | 0 2 */
    const fs_real median4[8] = {0.625, 0, -0.5, 0, 0, 0, 0, 0};
    ck_assert_mem_eq(w, median4, sizeof w);
    three_ways(ROBUST("{\"trimmed_mean\":{\"beta\":0.2}}"), 5, w);
    /* one value trimmed at each end. 0: -2 [0.5 0.75 1] 1.5; 2: -1 [-1 0 0] 3 */
    ck_assert_double_eq_tol(w[0], 2.25 / 3, 1e-7);
    ck_assert_double_eq_tol(w[2], -1.0 / 3, 1e-7);
    ck_assert_double_eq_tol(w[5], 1.0 / 3, 1e-7); /* -3 [0 0 1] 2 */
    ck_assert_double_eq(w[6], 0);
    ck_assert_double_eq(w[1], 0); /* 0 [0 0 0] 0.25 */
}
END_TEST

/* One dimension, five reports: 0, 1, 2, 3 and an outlier at 100. With f = 1 each is scored
 * against its 2 nearest: 0 -> 1 + 4, 1 -> 1 + 1, 2 -> 1 + 1, 3 -> 1 + 4, 100 -> 97^2 + 98^2. */
static fs_real line[5][1] = {{0}, {1}, {2}, {3}, {100}};
static const uint32_t line_clients[5] = {9, 7, 3, 2, 0};

START_TEST(krum_picks_by_score_then_client_id)
{
    fs_update u[5];
    fs_agg_report r[5];
    for (int k = 0; k < 5; k++)
        u[k] = dense(line[k], 1), r[k] = report(&u[k], line_clients[k], 1 + k);
    fs_real w[1] = {0};
    aggregate(ROBUST("{\"krum\":{\"f\":1}}"), w, 1, r, 5);
    ck_assert_double_eq(w[0], 2); /* 1 and 2 tie at 2: client 3 (value 2) beats client 7 */
    /* Multi-Krum m = 3: 1, 2, then 3 (client 2) before 0 (client 9), weighted 2, 3, 4 */
    w[0] = 0;
    aggregate(ROBUST("{\"krum\":{\"f\":1,\"m\":3}}"), w, 1, r, 5);
    ck_assert_double_eq_tol(w[0], (2 * 1 + 3 * 2 + 4 * 3) / 9.0, 1e-6);
}
END_TEST

START_TEST(krum_m1_is_fedavg_on_its_pick_and_m_n_is_fedavg)
{
    /* f = 0, m = 1: Krum's pick (report 1, the most central: scores over the 2 nearest 0.34,
     * 0.13, 0.29, 0.74) aggregated alone by FedAvg gives the same model bit for bit */
    fs_real a[3] = {0.1f, 0.3f, -0.7f}, b[3] = {0.4f, 0.3f, -0.7f}, c[3] = {0.6f, 0.3f, -0.7f},
            d[3] = {1.1f, 0.3f, -0.7f};
    fs_update u[] = {dense(a, 3), dense(b, 3), dense(c, 3), dense(d, 3)};
    fs_agg_report r[4];
    for (int k = 0; k < 4; k++)
        r[k] = report(&u[k], (uint32_t)k, 3 + k);
    fs_real wk[3] = {0.25f, -1.5f, 2}, wf[3] = {0.25f, -1.5f, 2};
    aggregate(ROBUST("{\"krum\":{\"f\":0}}"), wk, 3, r, 4);
    aggregate(FEDAVG, wf, 3, &r[1], 1);
    ck_assert_mem_eq(wk, wf, sizeof wk);
    ck_assert(wk[0] != 0.25f);
    /* f = 0, m = n: every report, weighted by samples and summed in report order: FedAvg */
    fs_real wm[3] = {0.25f, -1.5f, 2}, wa[3] = {0.25f, -1.5f, 2};
    aggregate(ROBUST("{\"krum\":{\"f\":0,\"m\":4}}"), wm, 3, r, 4);
    aggregate(FEDAVG, wa, 3, r, 4);
    ck_assert_mem_eq(wm, wa, sizeof wm);
}
END_TEST

START_TEST(krum_sparse_equals_dense)
{
    fs_real w[8];
    three_ways(ROBUST("{\"krum\":{\"f\":1,\"m\":2}}"), 5, w);
    /* squared distances by hand: 01 27.0625, 02 27.25, 03 20.0625, 04 2.5, 12 39.3125,
     * 13 18.625, 14 16.5625, 23 40.5625, 24 28.25, 34 10.3125; scores (2 nearest): r0 22.5625,
     * r1 35.1875, r2 55.5, r3 28.9375, r4 12.8125: r4 and r0, averaged with weights 5 and 1 */
    for (int j = 0; j < 8; j++)
        ck_assert_double_eq_tol(w[j], (1 * sparse_data[0][j] + 5 * sparse_data[4][j]) / 6, 1e-7);
}
END_TEST

START_TEST(krum_round_too_short_is_skipped)
{
    /* f = 1 needs more than 4 reports: a round of 4 leaves the model as it was */
    fs_update u[5];
    fs_agg_report r[5];
    for (int k = 0; k < 5; k++)
        u[k] = dense(line[k], 1), r[k] = report(&u[k], line_clients[k], 1);
    fs_real w[1] = {0.5};
    ck_assert_uint_eq(aggregate(ROBUST("{\"krum\":{\"f\":1}}"), w, 1, r, 4), 1);
    ck_assert_double_eq(w[0], 0.5);
    ck_assert_uint_eq(aggregate(ROBUST("{\"krum\":{\"f\":1}}"), w, 1, r, 5), 0);
    ck_assert_double_eq(w[0], 2.5);
}
END_TEST

START_TEST(norm_bound_scales_exactly_to_max_norm)
{
    fs_scenario s;
    fs_test_scenario(ROBUST("{\"norm_bound\":{\"max_norm\":0.7}}"), &s);
    const fs_robust *nb = fs_robust_of(&s);
    ck_assert_ptr_nonnull(nb);
    ck_assert_ptr_nonnull(nb->bound);
    ck_assert_ptr_null(nb->combine);
    fs_real a[4] = {3, 0, -4, 12}, b[4] = {0.1f, 0.2f, 0, 0}; /* norms 13 and 0.22 */
    uint32_t idx[4];
    fs_real val[4];
    fs_update ua = dense(a, 4), ub = dense(b, 4), sa = sparse_of(a, 4, idx, val);
    fs_agg_report r[] = {report(&ua, 0, 1), report(&ub, 1, 1), report(&sa, 2, 1)};
    double scale[3] = {1, 1, 0.5}; /* a staleness discount multiplies on top */
    nb->bound(&s, r, 3, scale);
    ck_assert_double_eq_tol(scale[0] * 13, 0.7, 1e-15);
    ck_assert_double_eq(scale[1], 1); /* shorter: left alone */
    ck_assert_double_eq_tol(scale[2] * 13, 0.5 * 0.7, 1e-15);
    fs_scn_fini(&s);
    /* through the aggregator: FedAvg of the bounded updates, a fixed-point sum under secure
     * aggregation that agrees to its resolution (2^-24 per unit of weight) */
    fs_real w[4] = {0}, ws[4] = {0};
    aggregate(ROBUST("{\"norm_bound\":{\"max_norm\":0.7}}"), w, 4, r, 2);
    aggregate(ROBUST("{\"norm_bound\":{\"max_norm\":0.7}}},\"privacy\":{\"secure_aggregation\":{}"),
              ws, 4, r, 2);
    for (int j = 0; j < 4; j++) {
        double want = (0.7 / 13 * a[j] + (double)b[j]) / 2;
        ck_assert_double_eq_tol(w[j], want, 1e-7);
        ck_assert_double_eq_tol(ws[j], want, 1e-6);
    }
}
END_TEST

/* Sign flip: 20 reports of which the 4 attackers (below every rule's bound: Krum's f = 4,
 * trimmed mean's floor(0.25 x 20) = 5 per side, the median's 10) send -lambda x their honest
 * update. Honest updates are mu + sigma x N(0, 1) per coordinate, mu = 1 everywhere. */
enum { SF_N = 20, SF_BAD = 4, SF_P = 50 };
#define SF_SIGMA 0.1
#define SF_LAMBDA 10.0

static double distance(const fs_real *a, const double *b, size_t n)
{
    double d2 = 0;
    for (size_t j = 0; j < n; j++)
        d2 += (a[j] - b[j]) * (a[j] - b[j]);
    return sqrt(d2);
}

START_TEST(sign_flip_moves_the_mean_not_the_robust_rules)
{
    static fs_real v[SF_N][SF_P];
    double honest[SF_P] = {0};
    gsl_rng *g = fs_rng_new();
    fs_rng_reseed(g, 7, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    fs_update u[SF_N];
    fs_agg_report r[SF_N];
    for (int k = 0; k < SF_N; k++) {
        for (int j = 0; j < SF_P; j++) {
            double h = 1 + gsl_ran_gaussian(g, SF_SIGMA);
            if (k >= SF_BAD) honest[j] += h / (SF_N - SF_BAD);
            v[k][j] = (fs_real)(k < SF_BAD ? -SF_LAMBDA * h : h);
        }
        u[k] = dense(v[k], SF_P);
        r[k] = report(&u[k], (uint32_t)(100 - k), 10);
    }
    gsl_rng_free(g);
    /* the tolerance: one honest update's spread, sigma sqrt(P), twice. A rule that leaves the
     * attackers out lands within about that (median: a shifted quantile of the honest values,
     * ~0.3 sigma per coordinate; Krum: one honest update); the plain mean sits at
     * (1 - (1 + lambda) x 4/20) mu = -1.2 mu, 2.2 ||mu|| = 15.6 away, 11 x the tolerance. */
    double tol = 2 * SF_SIGMA * sqrt(SF_P), mu_norm = sqrt(SF_P);
    const char *rules[] = {
        ROBUST("{\"median\":{}}"),
        ROBUST("{\"trimmed_mean\":{\"beta\":0.25}}"),
        "{\"name\":\"robust\",\"data\":{\"source\":\"synthetic\",\"clients\":40},\"server\":"
        "{\"rounds\":1,\"clients_per_round\":20,\"robust\":{\"krum\":{\"f\":4}}}}",
        "{\"name\":\"robust\",\"data\":{\"source\":\"synthetic\",\"clients\":40},\"server\":"
        "{\"rounds\":1,\"clients_per_round\":20,\"robust\":{\"krum\":{\"f\":4,\"m\":10}}}}",
    };
    fs_real w[SF_P] = {0};
    aggregate(FEDAVG, w, SF_P, r, SF_N);
    ck_assert_double_gt(distance(w, honest, SF_P), 2 * mu_norm);
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        memset(w, 0, sizeof w);
        aggregate(rules[i], w, SF_P, r, SF_N);
        double d = distance(w, honest, SF_P);
        ck_assert_msg(d < tol, "%s: %g from the honest mean (tolerance %g)", rules[i], d, tol);
    }
}
END_TEST

START_TEST(norm_bound_blunts_model_replacement)
{
    /* 20 reports: 19 honest (mu + sigma N(0, 1), norms ~ sqrt(P)), one attacker replacing the
     * model: gamma = n times a push of norm ||mu|| toward a target direction orthogonal to mu.
     * FedAvg lands ~||mu|| along the target (the attacker's push arrives whole); with max_norm at
     * the largest honest norm, the attacker moves the mean by at most max_norm / n plus what its
     * honest share would have been: within 2 max_norm / n of the honest mean. */
    static fs_real v[SF_N][SF_P];
    double honest[SF_P] = {0}, max_honest = 0;
    gsl_rng *g = fs_rng_new();
    fs_rng_reseed(g, 11, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    fs_update u[SF_N];
    fs_agg_report r[SF_N];
    for (int k = 0; k < SF_N; k++) {
        double ss = 0;
        for (int j = 0; j < SF_P; j++) {
            double target = j % 2 ? 1 : -1; /* orthogonal to mu = 1 (P even) */
            double h = 1 + gsl_ran_gaussian(g, SF_SIGMA);
            v[k][j] = (fs_real)(k == 0 ? SF_N * target : h);
            if (k > 0) honest[j] += h / (SF_N - 1), ss += h * h;
        }
        if (k > 0) max_honest = fmax(max_honest, sqrt(ss));
        u[k] = dense(v[k], SF_P);
        r[k] = report(&u[k], (uint32_t)k, 10);
    }
    gsl_rng_free(g);
    fs_real w[SF_P] = {0};
    aggregate(FEDAVG, w, SF_P, r, SF_N);
    double mu_norm = sqrt(SF_P);
    ck_assert_double_gt(distance(w, honest, SF_P), 0.9 * mu_norm);
    char text[512];
    snprintf(text, sizeof text, ROBUST("{\"norm_bound\":{\"max_norm\":%.17g}}"), max_honest);
    memset(w, 0, sizeof w);
    aggregate(text, w, SF_P, r, SF_N);
    double d = distance(w, honest, SF_P);
    ck_assert_msg(d < 2 * max_honest / SF_N, "%g from the honest mean, bound %g", d,
                  2 * max_honest / SF_N);
}
END_TEST

START_TEST(rules_table_names_match_the_scenario_words)
{
    /* fs_robust's row for each variant of server.robust carries that variant's word */
    const char *texts[] = {ROBUST("{\"median\":{}}"), ROBUST("{\"trimmed_mean\":{\"beta\":0.1}}"),
                           ROBUST("{\"krum\":{\"f\":1}}"),
                           ROBUST("{\"norm_bound\":{\"max_norm\":1}}")};
    const char *words[] = {"median", "trimmed_mean", "krum", "norm_bound"};
    for (int i = 0; i < 4; i++) {
        fs_scenario s;
        fs_test_scenario(texts[i], &s);
        ck_assert_str_eq(fs_robust_of(&s)->name, words[i]);
        fs_scn_fini(&s);
    }
    fs_scenario s;
    fs_test_scenario(FEDAVG, &s);
    ck_assert_ptr_null(fs_robust_of(&s));
    fs_scn_fini(&s);
}
END_TEST

START_TEST(scenario_fields_and_effective_json)
{
    fs_scenario s;
    fs_test_scenario(ROBUST("{\"krum\":{\"f\":1}}"), &s);
    ck_assert_int_eq(s.server.robust, FS_ROBUST_KRUM);
    ck_assert(s.server.has_robust);
    ck_assert_uint_eq(s.server.krum_f, 1);
    ck_assert_uint_eq(s.server.krum_m, 1); /* the default */
    ck_assert_ptr_nonnull(strstr(s.json, "\"krum\":\t{\n\t\t\t\t\"f\":\t1,\n\t\t\t\t\"m\":\t1"));
    /* the effective JSON reads back to itself */
    char *first = s.json;
    s.json = NULL;
    fs_scn_fini(&s);
    fs_test_scenario(first, &s);
    ck_assert_str_eq(s.json, first);
    free(first);
    fs_scn_fini(&s);
    fs_test_scenario(ROBUST("{\"trimmed_mean\":{\"beta\":0.125}}"), &s);
    ck_assert_double_eq(s.server.robust_beta, 0.125);
    fs_scn_fini(&s);
    fs_test_scenario(ROBUST("{\"norm_bound\":{\"max_norm\":2.5}}"), &s);
    ck_assert_double_eq(s.server.robust_max_norm, 2.5);
    fs_scn_fini(&s);
    /* "none" (for sweeps over defences) is FedAvg's mean, and is recorded */
    fs_test_scenario(ROBUST("\"none\"},\"privacy\":{\"secure_aggregation\":{}"), &s);
    ck_assert_ptr_null(fs_robust_of(&s));
    ck_assert(s.server.has_robust);
    ck_assert_ptr_nonnull(strstr(s.json, "\"robust\":\t\"none\""));
    fs_scn_fini(&s);
    /* without the key nothing is added to the effective scenario (so runs without it record what
     * they recorded before) */
    fs_test_scenario(FEDAVG, &s);
    ck_assert_int_eq(s.server.robust, FS_ROBUST_NONE);
    ck_assert(!s.server.has_robust);
    ck_assert_ptr_null(strstr(s.json, "\"robust\":"));
    fs_scn_fini(&s);
}
END_TEST

static Suite *robust_suite(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, order_statistics_count_implicit_zeros);
    tcase_add_test(tc, median_dense_odd_and_even);
    tcase_add_test(tc, trimmed_mean_dense);
    tcase_add_test(tc, sparse_median_and_trimmed_mean_equal_dense);
    tcase_add_test(tc, krum_picks_by_score_then_client_id);
    tcase_add_test(tc, krum_m1_is_fedavg_on_its_pick_and_m_n_is_fedavg);
    tcase_add_test(tc, krum_sparse_equals_dense);
    tcase_add_test(tc, krum_round_too_short_is_skipped);
    tcase_add_test(tc, norm_bound_scales_exactly_to_max_norm);
    tcase_add_test(tc, sign_flip_moves_the_mean_not_the_robust_rules);
    tcase_add_test(tc, norm_bound_blunts_model_replacement);
    tcase_add_test(tc, rules_table_names_match_the_scenario_words);
    tcase_add_test(tc, scenario_fields_and_effective_json);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(robust_suite)
