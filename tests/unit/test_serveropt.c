/* Tests of fs_serveropt: each server rule against hand-computed steps, the rules' limiting cases
 * (FedAvg, momentum 0), Yogi's additive second moment, and q-FFL's weighting and sparse path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_serveropt.h"
#include "fs_test.h"

#define TOL 1e-12
/* w is fs_real: the server steps in double and rounds w once per step (half an ulp, so
 * FS_REAL_EPS |x| bounds the two steps of any test below) */
#define W_TOL(x) (TOL + FS_REAL_EPS * fabs(x))

static fs_serveropt_cfg cfg_of(enum fs_optimizer kind, double lr, double beta1, double beta2,
                               double tau, double v0)
{
    return (fs_serveropt_cfg){kind, lr, beta1, beta2, tau, v0};
}

static void opt_init(fs_serveropt *o, fs_serveropt_cfg c, size_t n)
{
    ck_assert_int_eq(fs_serveropt_init(o, &c, n), FS_OK);
}

START_TEST(sgd_lr1_equals_fedavg)
{
    /* FedAvg: the new model is the old one plus the mean client delta. */
    fs_serveropt o;
    opt_init(&o, cfg_of(FS_SOPT_SGD, 1.0, 0, 0, 0, 0), 3);
    fs_real w[3] = {1.0, 2.0, 3.0};
    double d[3] = {0.5, -1.0, 0.25};
    fs_serveropt_step(&o, w, d);
    ck_assert_double_eq(w[0], 1.5);
    ck_assert_double_eq(w[1], 1.0);
    ck_assert_double_eq(w[2], 3.25);
    fs_serveropt_fini(&o);
}
END_TEST

START_TEST(momentum_beta0_equals_sgd)
{
    fs_serveropt sgd, mom;
    opt_init(&sgd, cfg_of(FS_SOPT_SGD, 0.7, 0, 0, 0, 0), 4);
    opt_init(&mom, cfg_of(FS_SOPT_MOMENTUM, 0.7, 0.0, 0, 0, 0), 4);
    fs_real w1[4] = {0.1, -0.2, 0.3, 4.0}, w2[4];
    memcpy(w2, w1, sizeof w1);
    for (int t = 0; t < 5; t++) {
        double d[4];
        for (int i = 0; i < 4; i++)
            d[i] = sin(3.0 * t + i) * (i + 1);
        fs_serveropt_step(&sgd, w1, d);
        fs_serveropt_step(&mom, w2, d);
    }
    for (int i = 0; i < 4; i++)
        ck_assert_double_eq(w1[i], w2[i]);
    fs_serveropt_fini(&sgd);
    fs_serveropt_fini(&mom);
}
END_TEST

START_TEST(momentum_accumulates_over_two_steps)
{
    /* beta1 0.9, lr 0.5, w = 0.
     * step 1: d = (1, -2):   m = (1, -2);                        w = (0.5, -1)
     * step 2: d = (0.5, 1):  m = 0.9 (1, -2) + (0.5, 1) = (1.4, -0.8); w = (0.5 + 0.7, -1 - 0.4) */
    fs_serveropt o;
    opt_init(&o, cfg_of(FS_SOPT_MOMENTUM, 0.5, 0.9, 0, 0, 0), 2);
    fs_real w[2] = {0, 0};
    double d1[2] = {1.0, -2.0}, d2[2] = {0.5, 1.0};
    fs_serveropt_step(&o, w, d1);
    ck_assert_double_eq_tol(w[0], 0.5, W_TOL(0.5));
    ck_assert_double_eq_tol(w[1], -1.0, W_TOL(1.0));
    fs_serveropt_step(&o, w, d2);
    ck_assert_double_eq_tol(o.m[0], 1.4, TOL);
    ck_assert_double_eq_tol(o.m[1], -0.8, TOL);
    ck_assert_double_eq_tol(w[0], 1.2, W_TOL(1.2));
    ck_assert_double_eq_tol(w[1], -1.4, W_TOL(1.4));
    fs_serveropt_fini(&o);
}
END_TEST

START_TEST(fedadam_first_step_matches_hand_computation)
{
    /* lr 0.1, beta1 0.9, beta2 0.99, tau 0.01, v0 0; w = (1, -1, 0.5), d = (0.1, -0.3, 0).
     * m = 0.1 d = (0.01, -0.03, 0)
     * v = 0.01 d^2 = (1e-4, 9e-4, 0), sqrt v = (0.01, 0.03, 0)
     * step = 0.1 m / (sqrt v + 0.01) = 0.1 (0.01/0.02, -0.03/0.04, 0/0.01) = (0.05, -0.075, 0)
     * w = (1.05, -1.075, 0.5) */
    fs_serveropt o;
    opt_init(&o, cfg_of(FS_SOPT_ADAM, 0.1, 0.9, 0.99, 0.01, 0.0), 3);
    fs_real w[3] = {1.0, -1.0, 0.5};
    double d[3] = {0.1, -0.3, 0.0};
    fs_serveropt_step(&o, w, d);
    ck_assert_double_eq_tol(o.m[0], 0.01, TOL);
    ck_assert_double_eq_tol(o.m[1], -0.03, TOL);
    ck_assert_double_eq_tol(o.v[0], 1e-4, TOL);
    ck_assert_double_eq_tol(o.v[1], 9e-4, TOL);
    ck_assert_double_eq(o.v[2], 0.0);
    ck_assert_double_eq_tol(w[0], 1.05, W_TOL(1.05));
    ck_assert_double_eq_tol(w[1], -1.075, W_TOL(1.075));
    ck_assert_double_eq(w[2], 0.5);
    fs_serveropt_fini(&o);
}
END_TEST

START_TEST(fedyogi_first_two_steps_match_hand_computation)
{
    /* lr 1, beta1 0.5, beta2 0.75, tau 0.1, v0 0.09; coordinate 0 sees d = 0.8 then 0.28,
     * coordinate 1 sees d = 0 twice.
     * step 1: d^2 = 0.64 > v: v = 0.09 + 0.25 * 0.64 = 0.25 (sqrt 0.5); m = 0.4;
     *         w += 0.4 / 0.6
     * step 2: d^2 = 0.0784 < v: v = 0.25 - 0.25 * 0.0784 = 0.2304 (sqrt 0.48);
     *         m = 0.5 * 0.4 + 0.5 * 0.28 = 0.34; w += 0.34 / 0.58
     * coordinate 1: sign(0.09 - 0) * 0 = 0, v stays 0.09, m and w stay 0. */
    fs_serveropt o;
    opt_init(&o, cfg_of(FS_SOPT_YOGI, 1.0, 0.5, 0.75, 0.1, 0.09), 2);
    fs_real w[2] = {0, 0};
    double d1[2] = {0.8, 0.0}, d2[2] = {0.28, 0.0};
    fs_serveropt_step(&o, w, d1);
    ck_assert_double_eq_tol(o.v[0], 0.25, TOL);
    ck_assert_double_eq_tol(o.m[0], 0.4, TOL);
    ck_assert_double_eq_tol(w[0], 0.4 / 0.6, W_TOL(0.4 / 0.6));
    fs_serveropt_step(&o, w, d2);
    ck_assert_double_eq_tol(o.v[0], 0.2304, TOL);
    ck_assert_double_eq_tol(o.m[0], 0.34, TOL);
    ck_assert_double_eq_tol(w[0], 0.4 / 0.6 + 0.34 / 0.58, W_TOL(0.4 / 0.6 + 0.34 / 0.58));
    ck_assert_double_eq(o.v[1], 0.09);
    ck_assert_double_eq(w[1], 0.0);
    fs_serveropt_fini(&o);
}
END_TEST

START_TEST(fedadagrad_first_two_steps_match_hand_computation)
{
    /* lr 1, beta1 0.5 (Algorithm 2 keeps momentum), tau 0.1, v0 0.09; d = 0.4 then 1.2
     * (coordinate 1 mirrors it with the opposite sign).
     * step 1: v = 0.09 + 0.16 = 0.25 (sqrt 0.5); m = 0.2;             w += 0.2 / 0.6
     * step 2: v = 0.25 + 1.44 = 1.69 (sqrt 1.3); m = 0.1 + 0.6 = 0.7; w += 0.7 / 1.4 = 0.5 */
    fs_serveropt o;
    opt_init(&o, cfg_of(FS_SOPT_ADAGRAD, 1.0, 0.5, 0.0, 0.1, 0.09), 2);
    fs_real w[2] = {0, 0};
    double d1[2] = {0.4, -0.4}, d2[2] = {1.2, -1.2};
    fs_serveropt_step(&o, w, d1);
    ck_assert_double_eq_tol(o.v[0], 0.25, TOL);
    ck_assert_double_eq_tol(w[0], 0.2 / 0.6, W_TOL(0.2 / 0.6));
    ck_assert_double_eq_tol(w[1], -0.2 / 0.6, W_TOL(0.2 / 0.6));
    fs_serveropt_step(&o, w, d2);
    ck_assert_double_eq_tol(o.v[0], 1.69, TOL);
    ck_assert_double_eq_tol(o.v[1], 1.69, TOL);
    ck_assert_double_eq_tol(o.m[0], 0.7, TOL);
    ck_assert_double_eq_tol(w[0], 0.2 / 0.6 + 0.5, W_TOL(0.2 / 0.6 + 0.5));
    ck_assert_double_eq_tol(w[1], -(0.2 / 0.6 + 0.5), W_TOL(0.2 / 0.6 + 0.5));
    fs_serveropt_fini(&o);
}
END_TEST

START_TEST(yogi_v_never_increases_when_delta_sq_below_v)
{
    /* Yogi's defining difference from Adam: v moves by exactly (1 - beta2) d^2 toward d^2, so
     * small deltas barely erode a large v, while Adam's v decays geometrically toward d^2. */
    fs_serveropt yogi, adam;
    opt_init(&yogi, cfg_of(FS_SOPT_YOGI, 0.01, 0.9, 0.99, 1e-3, 1.0), 1);
    opt_init(&adam, cfg_of(FS_SOPT_ADAM, 0.01, 0.9, 0.99, 1e-3, 1.0), 1);
    fs_real wy = 0, wa = 0;
    for (int t = 0; t < 50; t++) {
        double d = 0.5 * sin(t + 1.0), v_before = yogi.v[0];
        fs_serveropt_step(&yogi, &wy, &d);
        fs_serveropt_step(&adam, &wa, &d);
        ck_assert(yogi.v[0] <= v_before);
        ck_assert_double_eq_tol(v_before - yogi.v[0], 0.01 * d * d, 1e-15);
    }
    ck_assert(yogi.v[0] > 0.9); /* 1 - 0.01 * sum d^2, about 0.94 */
    ck_assert(adam.v[0] < 0.7); /* about 0.99^50 + ..., 0.65 */
    /* Growth is additive too: from v = 0.01 with d = 1, Yogi adds 0.01 * 1 -> 0.02, Adam moves
     * 1% of the way: 0.99 * 0.01 + 0.01 = 0.0199. */
    yogi.v[0] = adam.v[0] = 0.01;
    double one = 1.0;
    fs_serveropt_step(&yogi, &wy, &one);
    fs_serveropt_step(&adam, &wa, &one);
    ck_assert_double_eq_tol(yogi.v[0], 0.02, TOL);
    ck_assert_double_eq_tol(adam.v[0], 0.0199, TOL);
    fs_serveropt_fini(&yogi);
    fs_serveropt_fini(&adam);
}
END_TEST

/* A dense update of n values (fs_update_init owns the storage). */
static void dense_of(fs_update *u, const fs_real *d, size_t n)
{
    ck_assert_int_eq(fs_update_init(u, n, false, 0), FS_OK);
    memcpy(u->dense, d, n * sizeof *d);
}

/* The same delta as a sparse update: its non-zeros, ascending (malloc'd as a producer would). */
static void sparse_of(fs_update *u, const fs_real *d, size_t n)
{
    ck_assert_int_eq(fs_update_init(u, n, true, 0), FS_OK);
    u->cap = n;
    u->idx = malloc(n * sizeof *u->idx);
    u->val = malloc(n * sizeof *u->val);
    ck_assert(u->idx && u->val);
    for (size_t j = 0; j < n; j++)
        if (d[j] != 0.0) u->idx[u->nnz] = (uint32_t)j, u->val[u->nnz++] = d[j];
}

enum { NP = 6, NC = 3 };
/* fs_real, as updates are: the expectations below see the very values the server sums */
static const fs_real deltas[NC][NP] = {
    {0.5, 0, 0, -1.25, 0, 2.0}, {0, 0.75, -0.5, 0, 0, 0}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}};

static void qffl_run(bool sparse, double q, const double *losses, fs_real *w)
{
    fs_update u[NC];
    const fs_update *ptr[NC];
    for (int k = 0; k < NC; k++) {
        if (sparse)
            sparse_of(&u[k], deltas[k], NP);
        else
            dense_of(&u[k], deltas[k], NP);
        ptr[k] = &u[k];
    }
    double acc[NP];
    fs_qffl_step(w, ptr, losses, NC, q, 10.0, acc);
    for (int k = 0; k < NC; k++)
        fs_update_fini(&u[k]);
}

START_TEST(qffl_q0_equals_mean_of_deltas)
{
    const double losses[NC] = {0.5, 2.0, 0.0}; /* ignored at q = 0, zero included */
    fs_real w[NP] = {1, 2, 3, 4, 5, 6};
    qffl_run(false, 0.0, losses, w);
    for (int j = 0; j < NP; j++) {
        double mean = ((double)deltas[0][j] + deltas[1][j] + deltas[2][j]) / NC;
        ck_assert_double_eq_tol(w[j], (j + 1) + mean, W_TOL((j + 1) + mean));
    }
}
END_TEST

/* The step q-FFL takes from w = 0 with orthogonal deltas e0 (loss 0.5) and e1 (loss 2). */
static void qffl_two_clients(double q, fs_real step[2])
{
    const fs_real d0[2] = {1, 0}, d1[2] = {0, 1};
    const double losses[2] = {0.5, 2.0};
    fs_update u0, u1;
    dense_of(&u0, d0, 2);
    dense_of(&u1, d1, 2);
    const fs_update *ptr[2] = {&u0, &u1};
    double acc[2];
    step[0] = step[1] = 0.0;
    fs_qffl_step(step, ptr, losses, 2, q, 10.0, acc);
    fs_update_fini(&u0);
    fs_update_fini(&u1);
}

START_TEST(qffl_q_positive_weights_high_loss_client_more)
{
    fs_real s0[2], s2[2];
    qffl_two_clients(0.0, s0);
    qffl_two_clients(2.0, s2);
    ck_assert_double_eq_tol(s0[0], 0.5, W_TOL(0.5));
    ck_assert_double_eq_tol(s0[1], 0.5, W_TOL(0.5));
    /* Weights F^q: (2 / 0.5)^2 = 16 times more of the high-loss client's delta (each step
     * rounded to fs_real: the ratio is off by up to 16 FS_REAL_EPS) */
    ck_assert_double_eq_tol((double)s2[1] / s2[0], 16.0, 1e-9 + 16 * FS_REAL_EPS);
    double cos0 = s0[1] / hypot(s0[0], s0[1]), cos2 = s2[1] / hypot(s2[0], s2[1]);
    ck_assert(cos2 > cos0);
}
END_TEST

START_TEST(qffl_sparse_and_dense_identical)
{
    const double losses[NC] = {0.3, 1.2, 0.0};
    const double qs[] = {0.0, 0.5, 1.0, 1.5, 5.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        fs_real wd[NP] = {1, -1, 2, -2, 3, -3}, ws[NP];
        memcpy(ws, wd, sizeof wd);
        qffl_run(false, qs[i], losses, wd);
        qffl_run(true, qs[i], losses, ws);
        for (int j = 0; j < NP; j++)
            ck_assert_double_eq(wd[j], ws[j]);
    }
}
END_TEST

START_TEST(qffl_zero_loss_is_finite)
{
    const double qs[] = {0.25, 0.5, 1.0, 2.0};
    const double some_zero[NC] = {0.0, 1.0, 0.0}, all_zero[NC] = {0.0, 0.0, 0.0};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        fs_real w[NP] = {0};
        qffl_run(false, qs[i], some_zero, w);
        for (int j = 0; j < NP; j++)
            ck_assert(isfinite(w[j]));
        /* Only client 1 carries weight: the step is a positive multiple of its delta. */
        ck_assert(w[1] > 0 && w[2] < 0 && w[0] == 0.0);
    }
    /* Every loss zero with q > 1: nothing to weigh, w stays put. */
    fs_real w[NP] = {1, 2, 3, 4, 5, 6};
    qffl_run(false, 2.0, all_zero, w);
    for (int j = 0; j < NP; j++)
        ck_assert_double_eq(w[j], j + 1);
}
END_TEST

/* The configuration a run gets from server.optimizer: the schema's defaults (Reddi et al.'s
 * table in fs_scn_tables.c) or the scenario's values, v0 = tau^2. */
static fs_serveropt_cfg scenario_cfg(const char *optimizer)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\": \"t\", \"data\": {\"source\": \"synthetic\", \"clients\": 20},"
             " \"server\": {\"rounds\": 1, \"clients_per_round\": 5, \"optimizer\": %s}}",
             optimizer);
    fs_scenario sc;
    fs_err err;
    fs_err_init(&err, "t.json");
    ck_assert_int_eq(fs_scn_parse(json, NULL, 0, &sc, &err), FS_OK);
    fs_serveropt_cfg c = fs_serveropt_cfg_of(&sc);
    fs_scn_fini(&sc);
    return c;
}

START_TEST(scenario_defaults_follow_reddi_table)
{
    fs_serveropt_cfg c = scenario_cfg("\"sgd\"");
    ck_assert(c.kind == FS_SOPT_SGD && c.lr == 1.0);
    c = scenario_cfg("{\"momentum\": {}}");
    ck_assert(c.kind == FS_SOPT_MOMENTUM && c.lr == 1.0 && c.beta1 == 0.9);
    c = scenario_cfg("{\"adam\": {}}");
    ck_assert(c.kind == FS_SOPT_ADAM && c.lr == 0.01 && c.beta1 == 0.9 && c.beta2 == 0.99 &&
              c.tau == 1e-3);
    ck_assert_double_eq_tol(c.v0, 1e-6, 1e-18);
    c = scenario_cfg("{\"yogi\": {}}");
    ck_assert(c.kind == FS_SOPT_YOGI && c.lr == 0.01 && c.beta2 == 0.99 && c.tau == 1e-3);
    c = scenario_cfg("{\"adagrad\": {\"tau\": 0.01}}");
    ck_assert(c.kind == FS_SOPT_ADAGRAD && c.lr == 0.01 && c.beta1 == 0.0 && c.tau == 0.01);
    ck_assert_double_eq(c.v0, 0.01 * 0.01);

    /* State is allocated as the kind needs it, v filled with v0. */
    fs_serveropt o;
    ck_assert_int_eq(fs_serveropt_init(&o, &c, 5), FS_OK);
    ck_assert(o.m && o.v);
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(o.v[i], c.v0);
    fs_serveropt_fini(&o);
    c = scenario_cfg("\"sgd\"");
    ck_assert_int_eq(fs_serveropt_init(&o, &c, 5), FS_OK);
    ck_assert(!o.m && !o.v);
    fs_serveropt_fini(&o);
    fs_serveropt_fini(&o); /* fini is idempotent */
}
END_TEST

static Suite *serveropt_suite(void)
{
    Suite *s = suite_create("serveropt");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, sgd_lr1_equals_fedavg);
    tcase_add_test(tc, momentum_beta0_equals_sgd);
    tcase_add_test(tc, momentum_accumulates_over_two_steps);
    tcase_add_test(tc, fedadam_first_step_matches_hand_computation);
    tcase_add_test(tc, fedyogi_first_two_steps_match_hand_computation);
    tcase_add_test(tc, fedadagrad_first_two_steps_match_hand_computation);
    tcase_add_test(tc, yogi_v_never_increases_when_delta_sq_below_v);
    tcase_add_test(tc, qffl_q0_equals_mean_of_deltas);
    tcase_add_test(tc, qffl_q_positive_weights_high_loss_client_more);
    tcase_add_test(tc, qffl_sparse_and_dense_identical);
    tcase_add_test(tc, qffl_zero_loss_is_finite);
    tcase_add_test(tc, scenario_defaults_follow_reddi_table);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(serveropt_suite)
