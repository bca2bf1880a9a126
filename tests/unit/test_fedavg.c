/* Tests of the server's averaging as production runs it (fs_agg): FedAvg's weighted average,
 * FedNova's normalization, DP's fixed denominator, and the whole engine reducing to plain SGD when
 * one client takes part in every round. */
#include <math.h>
#include <string.h>

#include "fs_agg.h"
#include "fs_clock.h"
#include "fs_engine.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_scn.h"

#define SERVER(extra)                                                                              \
    "{\"name\":\"agg\",\"data\":{\"source\":\"synthetic\",\"clients\":4},"                         \
    "\"server\":{\"rounds\":1,\"clients_per_round\":2" extra "}}"

/* One server step of the aggregator production runs, for a scenario's server object: w moves by
 * the aggregate of the reports (each a dense or sparse delta with its sample count). */
static void aggregate(const char *text, fs_real *w, size_t np, const fs_agg_report *r, size_t n)
{
    fs_scenario s;
    fs_test_scenario(text, &s);
    fs_aggregator a;
    fs_agg_cfg cfg = {.n_params = np, .n_eligible = 4, .dp_denominator = 2};
    ck_assert_int_eq(fs_agg_init(&a, &s, &cfg, NULL), FS_OK);
    ck_assert_int_eq(fs_agg_round(&a, w, r, n, NULL, 0, 1, NULL), FS_OK);
    fs_agg_fini(&a);
    fs_scn_fini(&s);
}

static fs_agg_report report(const fs_update *u, double n_samples, double steps)
{
    return (fs_agg_report){.update = u, .n_samples = n_samples, .scale = 1, .steps = steps};
}

START_TEST(fedavg_weights_by_sample_count)
{
    fs_real a[3] = {1, 2, 3}, b[3] = {4, 8, -3}, w[3] = {10, 20, 30};
    fs_update ua = {.n_params = 3, .dense = a}, ub = {.n_params = 3, .dense = b};
    fs_agg_report r[] = {report(&ua, 1, 5), report(&ub, 3, 5)};
    aggregate(SERVER(""), w, 3, r, 2);
    ck_assert_double_eq_tol(w[0], 10 + 0.25 * 1 + 0.75 * 4, 1e-14);
    ck_assert_double_eq_tol(w[1], 20 + 0.25 * 2 + 0.75 * 8, 1e-14);
    ck_assert_double_eq_tol(w[2], 30 + 0.25 * 3 + 0.75 * -3, 1e-14);
}
END_TEST

START_TEST(fedavg_sparse_equals_dense)
{
    /* the same deltas stored sparse and dense aggregate to the same model */
    fs_real d1[6] = {0, 1.5, 0, 0, -2, 0}, d2[6] = {3, 0, 0, 0.25, 0, 0};
    uint32_t i1[] = {1, 4}, i2[] = {0, 3};
    fs_real v1[] = {1.5, -2}, v2[] = {3, 0.25};
    fs_update dense1 = {.n_params = 6, .dense = d1}, dense2 = {.n_params = 6, .dense = d2};
    fs_update sp1 = {.n_params = 6, .sparse = true, .idx = i1, .val = v1, .nnz = 2};
    fs_update sp2 = {.n_params = 6, .sparse = true, .idx = i2, .val = v2, .nnz = 2};
    fs_agg_report dense[] = {report(&dense1, 2, 1), report(&dense2, 5, 1)};
    fs_agg_report sparse[] = {report(&sp1, 2, 1), report(&sp2, 5, 1)};
    fs_real wd[6] = {1, 2, 3, 4, 5, 6}, ws[6] = {1, 2, 3, 4, 5, 6};
    aggregate(SERVER(""), wd, 6, dense, 2);
    aggregate(SERVER(""), ws, 6, sparse, 2);
    ck_assert_mem_eq(wd, ws, sizeof wd);
    ck_assert_double_eq(ws[2], 3);
    ck_assert_double_eq(fs_update_bytes(&sp1), 16);
    ck_assert_double_eq(fs_update_bytes(&dense1), 24);
}
END_TEST

/* Rounds of overlapping sparse reports take the aggregator's sparse path (only the touched
 * coordinates are visited); the same deltas stored dense take the dense one. Over several rounds
 * of one aggregator (its sums must be untouched again after each, and after the dense round it
 * is given in between, which writes them all) both give the same model, bit for bit, and a
 * sparse step that overflows still fails the round. */
START_TEST(fedavg_sparse_rounds_equal_dense_rounds)
{
    enum { NP = 40, REPORTS = 5, ROUNDS = 4, NNZ = 12 };
    fs_scenario s;
    fs_test_scenario(SERVER(""), &s);
    fs_aggregator as, ad;
    fs_agg_cfg cfg = {.n_params = NP, .n_eligible = 4, .dp_denominator = 2};
    ck_assert_int_eq(fs_agg_init(&as, &s, &cfg, NULL), FS_OK);
    ck_assert_int_eq(fs_agg_init(&ad, &s, &cfg, NULL), FS_OK);
    fs_real ws[NP], wd[NP], dense[REPORTS][NP], val[REPORTS][NNZ];
    uint32_t idx[REPORTS][NNZ];
    fs_update us[REPORTS], ud[REPORTS];
    fs_agg_report rs[REPORTS], rd[REPORTS];
    gsl_rng *r = fs_rng_new();
    for (int j = 0; j < NP; j++) ws[j] = wd[j] = (fs_real)(j % 7) - 3.0f;
    for (int round = 1; round <= ROUNDS; round++) {
        fs_rng_reseed(r, 8, FS_RNG_DATA, FS_RNG_NONE, (uint64_t)round);
        for (int k = 0; k < REPORTS; k++) {
            memset(dense[k], 0, sizeof dense[k]);
            /* ascending distinct coordinates from a start that moves with the round */
            size_t nnz = 0;
            for (uint32_t j = (uint32_t)gsl_rng_uniform_int(r, 6) + (uint32_t)(round * 3 % 10);
                 j < NP && nnz < NNZ; j += 1 + (uint32_t)gsl_rng_uniform_int(r, 2), nnz++) {
                idx[k][nnz] = j;
                val[k][nnz] = dense[k][j] = (fs_real)(gsl_rng_uniform(r) - 0.5);
            }
            us[k] = (fs_update){.n_params = NP, .sparse = true, .idx = idx[k], .val = val[k],
                                .nnz = nnz};
            ud[k] = (fs_update){.n_params = NP, .dense = dense[k]};
            rs[k] = report(&us[k], 1 + k, 1);
            rd[k] = report(&ud[k], 1 + k, 1);
        }
        bool dense_round = round == 2;
        ck_assert_int_eq(fs_agg_round(&as, ws, dense_round ? rd : rs, REPORTS, NULL, 0, round,
                                      NULL),
                         FS_OK);
        ck_assert_int_eq(fs_agg_round(&ad, wd, rd, REPORTS, NULL, 0, round, NULL), FS_OK);
        if (dense_round)
            ck_assert_uint_eq(as.n_touched, SIZE_MAX);
        else
            ck_assert_uint_lt(as.n_touched, NP); /* the sparse path ran, and skipped some */
        ck_assert_uint_eq(ad.n_touched, SIZE_MAX);
        ck_assert_mem_eq(ws, wd, sizeof ws);
    }
    /* an update that overflows float32 on a touched coordinate fails the round */
    fs_real huge = 3e38f;
    uint32_t one = 7;
    ws[7] = 3e38f;
    fs_update big = {.n_params = NP, .sparse = true, .idx = &one, .val = &huge, .nnz = 1};
    fs_agg_report rb = report(&big, 1, 1);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_agg_round(&as, ws, &rb, 1, NULL, 0, ROUNDS + 1, &err), FS_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "the global model is not finite"));
    gsl_rng_free(r);
    fs_agg_fini(&as);
    fs_agg_fini(&ad);
    fs_scn_fini(&s);
}
END_TEST

/* A round large enough for the threaded sparse sum (coordinate ranges, each thread finding its
 * part of every report by bisection) gives the single thread's model bit for bit, and the dense
 * path's, on 3 threads as on 1, round after round; the touched count is the same. */
START_TEST(fedavg_threaded_sparse_sum_equals_one_thread)
{
    enum { NP = 1 << 16, REPORTS = 40, ROUNDS = 2 };
    fs_scenario s;
    fs_test_scenario(SERVER(""), &s);
    fs_aggregator a1, a3, ad;
    fs_agg_cfg cfg = {.n_params = NP, .n_eligible = 4, .dp_denominator = 2, .n_threads = 1};
    ck_assert_int_eq(fs_agg_init(&a1, &s, &cfg, NULL), FS_OK);
    ck_assert_int_eq(fs_agg_init(&ad, &s, &cfg, NULL), FS_OK);
    cfg.n_threads = 3;
    ck_assert_int_eq(fs_agg_init(&a3, &s, &cfg, NULL), FS_OK);
    fs_real *w1 = malloc(NP * sizeof *w1), *w3 = malloc(NP * sizeof *w3),
            *wd = malloc(NP * sizeof *wd), *dense = calloc((size_t)REPORTS * NP, sizeof *dense),
            *val = malloc((size_t)REPORTS * NP * sizeof *val);
    uint32_t *idx = malloc((size_t)REPORTS * NP * sizeof *idx);
    fs_update us[REPORTS], ud[REPORTS];
    fs_agg_report rs[REPORTS], rd[REPORTS];
    ck_assert(w1 && w3 && wd && dense && val && idx);
    gsl_rng *r = fs_rng_new();
    for (int j = 0; j < NP; j++) w1[j] = w3[j] = wd[j] = (fs_real)(j % 5) - 2.0f;
    for (int round = 1; round <= ROUNDS; round++) {
        fs_rng_reseed(r, 9, FS_RNG_DATA, FS_RNG_NONE, (uint64_t)round);
        size_t entries = 0;
        for (int k = 0; k < REPORTS; k++) {
            fs_real *dk = dense + (size_t)k * NP, *vk = val + (size_t)k * NP;
            uint32_t *ik = idx + (size_t)k * NP;
            memset(dk, 0, NP * sizeof *dk);
            size_t nnz = 0; /* ascending, about one coordinate in 32, both ends included */
            for (uint32_t j = (uint32_t)(k % 2); j < NP;
                 j += 1 + (uint32_t)gsl_rng_uniform_int(r, 62)) {
                ik[nnz] = j;
                vk[nnz++] = dk[j] = (fs_real)(gsl_rng_uniform(r) - 0.5);
            }
            entries += nnz;
            us[k] = (fs_update){.n_params = NP, .sparse = true, .idx = ik, .val = vk, .nnz = nnz};
            ud[k] = (fs_update){.n_params = NP, .dense = dk};
            rs[k] = report(&us[k], 1 + k, 1);
            rd[k] = report(&ud[k], 1 + k, 1);
        }
        ck_assert_uint_ge(entries, 65536); /* the threaded path's threshold */
        ck_assert_int_eq(fs_agg_round(&a1, w1, rs, REPORTS, NULL, 0, round, NULL), FS_OK);
        ck_assert_int_eq(fs_agg_round(&a3, w3, rs, REPORTS, NULL, 0, round, NULL), FS_OK);
        ck_assert_int_eq(fs_agg_round(&ad, wd, rd, REPORTS, NULL, 0, round, NULL), FS_OK);
        ck_assert_uint_eq(a1.n_touched, a3.n_touched);
        ck_assert_uint_lt(a1.n_touched, NP);
        ck_assert_mem_eq(w1, w3, NP * sizeof *w1);
        ck_assert_mem_eq(w1, wd, NP * sizeof *w1);
    }
    gsl_rng_free(r);
    free(w1), free(w3), free(wd), free(dense), free(val), free(idx);
    fs_agg_fini(&a1);
    fs_agg_fini(&a3);
    fs_agg_fini(&ad);
    fs_scn_fini(&s);
}
END_TEST

START_TEST(dp_divides_by_the_policy_denominator)
{
    /* DP-FedAvg's mean is sum / K with K fixed by the server policy (here 2, whatever the two
     * reports' sample counts), plus noise: with z = 0 the noise is exactly 0 */
    fs_real a[2] = {0.3, 0}, b[2] = {0, -0.4}, w[2] = {1, 1};
    fs_update ua = {.n_params = 2, .dense = a}, ub = {.n_params = 2, .dense = b};
    fs_agg_report r[] = {report(&ua, 10, 1), report(&ub, 30, 1)};
    aggregate(SERVER("},\"privacy\":{\"dp\":{\"clip\":1,\"noise_multiplier\":0,\"delta\":1e-5}"), w,
              2, r, 2);
    /* the server sums in double and rounds once to fs_real */
    ck_assert_double_eq_tol(w[0], (fs_real)(1 + a[0] / 2.0), 1e-12);
    ck_assert_double_eq_tol(w[1], (fs_real)(1 + b[1] / 2.0), 1e-12);
}
END_TEST

START_TEST(fednova_equal_steps_is_fedavg_bit_for_bit)
{
    /* tau_eff / tau_i is exactly 1 when every client took the same number of steps */
    fs_real a[3] = {0.1, -0.7, 1.3}, b[3] = {0.37, 0.2, -0.9};
    fs_update ua = {.n_params = 3, .dense = a}, ub = {.n_params = 3, .dense = b};
    fs_agg_report r[] = {report(&ua, 7, 13), report(&ub, 11, 13)};
    fs_real wa[3] = {1, 2, 3}, wn[3] = {1, 2, 3};
    aggregate(SERVER(""), wa, 3, r, 2);
    aggregate(SERVER(",\"algorithm\":\"fednova\""), wn, 3, r, 2);
    ck_assert_mem_eq(wa, wn, sizeof wa);
}
END_TEST

START_TEST(fednova_normalizes_by_local_steps)
{
    /* p = (1/4, 3/4), tau = (2, 4): tau_eff = 3.5, w += p_i (tau_eff / tau_i) delta_i */
    fs_real a[3] = {1, 2, 3}, b[3] = {4, 8, -3}, w[3] = {10, 20, 30}, avg[3] = {10, 20, 30};
    fs_update ua = {.n_params = 3, .dense = a}, ub = {.n_params = 3, .dense = b};
    fs_agg_report r[] = {report(&ua, 1, 2), report(&ub, 3, 4)};
    aggregate(SERVER(",\"algorithm\":\"fednova\""), w, 3, r, 2);
    aggregate(SERVER(""), avg, 3, r, 2);
    for (int j = 0; j < 3; j++) {
        double hand = (j + 1) * 10 + 0.25 * (3.5 / 2) * a[j] + 0.75 * (3.5 / 4) * b[j];
        ck_assert_double_eq_tol(w[j], hand, 1e-13);
        ck_assert_double_gt(fabs(w[j] - avg[j]), 0.1); /* FedAvg: 0.25 a + 0.75 b */
    }
}
END_TEST

/* ---- server.aggregation_weights */

#define IPW_SCN(extra)                                                                             \
    "{\"name\":\"ipw\",\"data\":{\"source\":\"marketing\",\"clients\":6},"                   \
    "\"model\":{\"kind\":\"logreg\"},\"eval\":{\"segments\":[\"region\"]},"                     \
    "\"server\":{\"rounds\":1,\"clients_per_round\":2" extra "}}"

/* Six clients in three levels (3, 2 and 1 of them), and a history of 6, 1 and 0 reports:
 * relative rates rho = (reports_l / 7) / (population_l / 6) = 12/7, 3/7 and 0. */
static const int32_t ipw_levels[6] = {0, 0, 0, 1, 1, 2};
static const uint64_t ipw_population[3] = {3, 2, 1};

static void ipw_init(fs_aggregator *a, fs_scenario *s, const char *text, size_t np)
{
    fs_test_scenario(text, s);
    fs_agg_cfg cfg = {.n_params = np, .n_eligible = 6, .dp_denominator = 2};
    ck_assert_int_eq(fs_agg_init(a, s, &cfg, NULL), FS_OK);
    ck_assert_int_eq(fs_agg_set_ipw(a, ipw_levels, ipw_population, 1, 3), FS_OK);
}

START_TEST(ipw_weights_equal_hand_computed_ones)
{
    fs_scenario s;
    fs_aggregator a;
    ipw_init(&a, &s, IPW_SCN(",\"aggregation_weights\":\"ipw\""), 1);
    /* no history yet: every weight is the sample count (round 1 is FedAvg) */
    for (uint32_t c = 0; c < 6; c++)
        ck_assert_double_eq(fs_agg_report_weight(&a, c, 10), 10);
    a.ipw_reports[0] = 6, a.ipw_reports[1] = 1, a.ipw_reports[2] = 0;
    ck_assert_double_eq_tol(fs_agg_report_weight(&a, 1, 10), 10 / (12.0 / 7), 1e-12);
    ck_assert_double_eq_tol(fs_agg_report_weight(&a, 4, 10), 10 / (3.0 / 7), 1e-12);
    ck_assert_double_eq_tol(fs_agg_report_weight(&a, 5, 10), 10 / 0.1, 1e-12); /* the floor */
    fs_agg_fini(&a);
    fs_scn_fini(&s);
    ipw_init(&a, &s, IPW_SCN(",\"aggregation_weights\":\"ipw\",\"ipw_floor\":0.5"), 1);
    a.ipw_reports[0] = 6, a.ipw_reports[1] = 1;
    ck_assert_double_eq_tol(fs_agg_report_weight(&a, 4, 10), 10 / 0.5, 1e-12);
    ck_assert_double_eq_tol(fs_agg_report_weight(&a, 5, 10), 10 / 0.5, 1e-12);
    fs_agg_fini(&a);
    fs_scn_fini(&s);
    ipw_init(&a, &s, IPW_SCN(",\"aggregation_weights\":\"uniform\""), 1);
    ck_assert_double_eq(fs_agg_report_weight(&a, 4, 10), 1);
    fs_agg_fini(&a);
    fs_scn_fini(&s);
}
END_TEST

/* A round aggregates with the weights of the history before it, then adds its reports to it. */
START_TEST(ipw_round_uses_the_history_then_records_it)
{
    fs_scenario s;
    fs_aggregator a;
    ipw_init(&a, &s, IPW_SCN(",\"aggregation_weights\":\"ipw\""), 1);
    a.ipw_reports[0] = 6, a.ipw_reports[1] = 1;
    fs_real d0[1] = {1}, d5[1] = {-1}, w[1] = {0};
    fs_update u0 = {.n_params = 1, .dense = d0}, u5 = {.n_params = 1, .dense = d5};
    fs_agg_report r[] = {report(&u0, 10, 1), report(&u5, 10, 1)};
    r[0].client = 0, r[1].client = 5;
    ck_assert_int_eq(fs_agg_round(&a, w, r, 2, NULL, 0, 2, NULL), FS_OK);
    double w0 = 10 / (12.0 / 7), w5 = 10 / 0.1;
    ck_assert_double_eq_tol(w[0], (fs_real)((w0 - w5) / (w0 + w5)), 1e-6);
    ck_assert_uint_eq(a.ipw_reports[0], 7);
    ck_assert_uint_eq(a.ipw_reports[1], 1);
    ck_assert_uint_eq(a.ipw_reports[2], 1);
    fs_agg_fini(&a);
    fs_scn_fini(&s);
}
END_TEST

/* The same training done by hand: R rounds of local SGD on the client's rows, each round on the
 * client's (TRAIN, round) stream, starting from the model's initial parameters. */
static void centralised_sgd(const fs_scenario *s, const fs_world *w, fs_real *out_w)
{
    const fs_model *m = w->model;
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, s->seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, out_w, r);
    size_t n = fs_partition_size(&w->train_part, 0);
    uint32_t *order = malloc(n * sizeof *order);
    fs_real *grad = malloc(m->n_params * sizeof *grad);
    fs_model_scratch *scr = fs_model_scratch_new(m);
    fs_sgd_cfg cfg = {
        .epochs = s->train.epochs, .batch_size = s->train.batch_size, .lr = s->train.lr};
    for (int round = 1; round <= s->server.rounds; round++) {
        fs_rng_reseed(r, s->seed, FS_RNG_TRAIN, 0, (uint64_t)round);
        fs_sgd_result res;
        ck_assert_int_eq(fs_sgd_train(m, out_w, &w->train, w->train_part.rows, n, &cfg, r, order,
                                      grad, scr, &res),
                         FS_OK);
    }
    fs_model_scratch_free(scr);
    free(grad);
    free(order);
    gsl_rng_free(r);
}

/* Finite reports, a server step that overflows float32: the round fails with a message naming
 * the server optimizer (the run would otherwise end `done` with every metric NaN). */
START_TEST(non_finite_global_model_fails_the_round)
{
    fs_real a[2] = {1, -1}, w[2] = {0, 0};
    fs_update ua = {.n_params = 2, .dense = a};
    fs_agg_report r[] = {report(&ua, 1, 1)};
    fs_scenario s;
    fs_test_scenario(SERVER(",\"optimizer\":{\"momentum\":{\"lr\":1e300}}"), &s);
    fs_aggregator ag;
    fs_agg_cfg cfg = {.n_params = 2, .n_eligible = 4, .dp_denominator = 2};
    ck_assert_int_eq(fs_agg_init(&ag, &s, &cfg, NULL), FS_OK);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_agg_round(&ag, w, r, 1, NULL, 0, 3, &err), FS_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "round 3: the global model is not finite"));
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "server.optimizer"));
    fs_agg_fini(&ag);
    fs_scn_fini(&s);
}
END_TEST

START_TEST(fedavg_one_client_equals_sgd)
{
    fs_test_setup t;
    fs_test_setup_fixture(&t, "fedavg_one_client");
    size_t np = t.w.model->n_params;
    fs_real *fed = calloc(np, sizeof *fed), *sgd = calloc(np, sizeof *sgd);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 2};
    fs_engine_stats st;
    double t0 = fs_wall_seconds();
    ck_assert_int_eq(fs_engine_run(&cfg, fed, &st, NULL), FS_OK);
    double wall = fs_wall_seconds() - t0;
    ck_assert_int_eq(st.rounds, 6);
    /* the stats' training and evaluation time are parts of the run's wall time */
    ck_assert_double_gt(st.train_s, 0);
    ck_assert_double_gt(st.eval_s, 0);
    ck_assert_double_le(st.train_s + st.eval_s, wall);
    centralised_sgd(&t.s, &t.w, sgd);
    /* FedAvg applies the delta, w + 1.0 * (w_local - w), which rounds differently from w_local
     * in the last bit at most once per round (measured in float32: 1 ulp in 6 rounds) */
    double norm = 0, worst = 0;
    for (size_t i = 0; i < np; i++) {
        norm = fmax(norm, fabs(sgd[i]));
        worst = fmax(worst, fabs(fed[i] - sgd[i]));
    }
    ck_assert(norm > 0.01); /* training moved the model: the equality is not zeros == zeros */
    ck_assert_double_le(worst, (1e-13 + st.rounds * FS_REAL_EPS) * norm);
    free(fed);
    free(sgd);
    fs_test_setup_fini(&t);
}
END_TEST

static Suite *fedavg_suite(void)
{
    Suite *s = suite_create("fedavg");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fedavg_weights_by_sample_count);
    tcase_add_test(tc, fedavg_sparse_equals_dense);
    tcase_add_test(tc, fedavg_sparse_rounds_equal_dense_rounds);
    tcase_add_test(tc, fedavg_threaded_sparse_sum_equals_one_thread);
    tcase_add_test(tc, dp_divides_by_the_policy_denominator);
    tcase_add_test(tc, fednova_equal_steps_is_fedavg_bit_for_bit);
    tcase_add_test(tc, fednova_normalizes_by_local_steps);
    tcase_add_test(tc, ipw_weights_equal_hand_computed_ones);
    tcase_add_test(tc, ipw_round_uses_the_history_then_records_it);
    tcase_add_test(tc, non_finite_global_model_fails_the_round);
    tcase_add_test(tc, fedavg_one_client_equals_sgd);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(fedavg_suite)
