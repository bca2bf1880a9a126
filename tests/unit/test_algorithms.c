/* Tests of the federated algorithms and privacy machinery as the engine runs them: FedProx,
 * SCAFFOLD, FedNova, DP-FedAvg's accounting and denominator, secure aggregation, consent,
 * compression and selection. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_algo.h"
#include "fs_engine.h"
#include "fs_rdp.h"
#include "fs_test.h"
#include "fs_test_scn.h"

#define MAX_PARTS 8192

typedef struct capture {
    fs_db_round rounds[64];
    fs_db_part parts[MAX_PARTS];
    size_t n_rounds, n_parts;
} capture;

static int collect(void *ctx, fs_round_result *res, fs_err *err)
{
    capture *c = ctx;
    c->rounds[c->n_rounds++] = res->row;
    for (size_t i = 0; i < res->n_parts && c->n_parts < MAX_PARTS; i++)
        c->parts[c->n_parts++] = res->parts[i];
    return FS_OK;
}

/* Runs a scenario; returns the final model (caller frees), fills *cap when not NULL. */
static fs_real *run(const char *text, capture *cap, size_t *out_n_params)
{
    if (cap) memset(cap, 0, sizeof *cap);
    return fs_test_run_engine(text, 2, cap ? collect : NULL, cap, out_n_params);
}

static double max_abs_diff(const fs_real *a, const fs_real *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

#define SYNX(extra_train, extra_server, extra)                                                     \
    "{\"name\":\"a\",\"seed\":4,\"data\":{\"source\":\"synthetic\",\"clients\":40,"                \
    "\"synthetic\":{\"max_samples_per_client\":100}},"                                             \
    "\"train\":{\"epochs\":2,\"lr\":0.05" extra_train "},"                                         \
    "\"server\":{\"rounds\":4,\"clients_per_round\":10" extra_server "}" extra "}"
#define SYN(extra_server, extra) SYNX("", extra_server, extra)
/* the same with a whole server object */
#define SYNS(server, extra)                                                                        \
    "{\"name\":\"a\",\"seed\":4,\"data\":{\"source\":\"synthetic\",\"clients\":40,"                \
    "\"synthetic\":{\"max_samples_per_client\":100}},\"train\":{\"epochs\":2,\"lr\":0.05},"        \
    "\"server\":{\"rounds\":4" server "}" extra "}"

START_TEST(fedprox_with_mu_0_equals_fedavg)
{
    size_t np;
    fs_real *avg = run(SYN(",\"deadline_s\":1e6", ""), NULL, &np);
    fs_real *prox =
        run(SYN(",\"deadline_s\":1e6,\"algorithm\":\"fedprox\",\"mu\":0", ""), NULL, NULL);
    ck_assert_mem_eq(avg, prox, np * sizeof *avg);
    fs_real *prox1 =
        run(SYN(",\"deadline_s\":1e6,\"algorithm\":\"fedprox\",\"mu\":1", ""), NULL, NULL);
    ck_assert_double_gt(max_abs_diff(avg, prox1, np), 1e-6); /* mu > 0 does change training */
    free(avg), free(prox), free(prox1);
}
END_TEST

START_TEST(fedprox_keeps_stragglers_partial_work)
{
    /* slow devices and a tight deadline: FedAvg's stragglers arrive late, FedProx's report the
     * steps they managed */
    const char *dev = ",\"devices\":{\"gflops\":{\"uniform\":{\"min\":0.00001,\"max\":0.0002}},"
                      "\"latency_ms\":10}";
    capture *a = malloc(sizeof *a), *p = malloc(sizeof *p);
    char t1[1024], t2[1024];
    snprintf(t1, sizeof t1, SYN(",\"deadline_s\":5,\"over_selection\":1", "%s"), dev);
    snprintf(
        t2, sizeof t2,
        SYN(",\"deadline_s\":5,\"over_selection\":1,\"algorithm\":\"fedprox\",\"mu\":0.1", "%s"),
        dev);
    free(run(t1, a, NULL));
    free(run(t2, p, NULL));
    int late_avg = 0, late_prox = 0, partial = 0;
    for (size_t r = 0; r < a->n_rounds; r++)
        late_avg += a->rounds[r].late;
    for (size_t r = 0; r < p->n_rounds; r++)
        late_prox += p->rounds[r].late;
    for (size_t i = 0; i < p->n_parts; i++) {
        const fs_db_part *q = &p->parts[i];
        uint32_t full = 2 * ((q->n_samples + 9) / 10);
        if (!strcmp(q->outcome, "reported") && q->steps < full) partial++;
        if (!strcmp(q->outcome, "reported"))
            ck_assert_int_le(q->t_reported, 5000000 + q->t_selected);
    }
    ck_assert_int_gt(late_avg, 10);
    ck_assert_int_lt(late_prox, late_avg);
    ck_assert_int_gt(partial, 5);
    free(a), free(p);
}
END_TEST

START_TEST(dp_epsilon_follows_the_accountant)
{
    capture *c = malloc(sizeof *c);
    free(run(SYN(",\"deadline_s\":1e6",
                 ",\"privacy\":{\"dp\":{\"clip\":0.5,\"noise_multiplier\":1.1,\"delta\":1e-5}}"),
             c, NULL));
    fs_rdp acc;
    fs_rdp_init(&acc);
    for (size_t r = 0; r < c->n_rounds; r++) {
        /* q = clients aggregated / consenting clients (all 40 consent) */
        fs_rdp_add(&acc, c->rounds[r].reported / 40.0, 1.1, 1);
        double want = fs_rdp_epsilon(&acc, 1e-5, FS_RDP_IMPROVED, NULL);
        ck_assert_double_eq_tol(c->rounds[r].epsilon, want, 1e-12);
        if (r) ck_assert_double_gt(c->rounds[r].epsilon, c->rounds[r - 1].epsilon);
    }
    free(c);
}
END_TEST

START_TEST(dp_clips_and_noises_the_model)
{
    size_t np;
    fs_real *plain = run(SYN(",\"deadline_s\":1e6", ""), NULL, &np);
    fs_real *noisy = run(
        SYN(",\"deadline_s\":1e6", ",\"privacy\":{\"dp\":{\"clip\":0.5,\"noise_multiplier\":1}}"),
        NULL, NULL);
    fs_real *again = run(
        SYN(",\"deadline_s\":1e6", ",\"privacy\":{\"dp\":{\"clip\":0.5,\"noise_multiplier\":1}}"),
        NULL, NULL);
    ck_assert_double_gt(max_abs_diff(plain, noisy, np), 1e-3);
    ck_assert_mem_eq(noisy, again, np * sizeof *noisy); /* the noise is a derived stream */
    free(plain), free(noisy), free(again);
}
END_TEST

START_TEST(secure_aggregation_matches_plain_sum_and_verifies_masks)
{
    size_t np;
    capture *c = malloc(sizeof *c);
    fs_real *plain = run(SYN("", ",\"devices\":{\"failure_prob\":0.2}"), NULL, &np);
    fs_real *sec = run(SYN("", ",\"devices\":{\"failure_prob\":0.2},\"privacy\":{"
                               "\"secure_aggregation\":{\"verify_masks\":true}}"),
                       c, NULL);
    /* fixed point with 24 fractional bits: the models agree to rounding */
    ck_assert_double_lt(max_abs_diff(plain, sec, np), 1e-5);
    int dropped = 0;
    for (size_t r = 0; r < c->n_rounds; r++)
        dropped += c->rounds[r].dropped;
    ck_assert_int_gt(dropped, 0); /* masks of dropped clients were recovered */
    /* the masked vector replaces the update: every report uploads at least n_params * 8 bytes */
    for (size_t i = 0; i < c->n_parts; i++)
        if (!strcmp(c->parts[i].outcome, "reported"))
            ck_assert_int_ge(c->parts[i].bytes_up, (int64_t)(8 * np));
    free(plain), free(sec), free(c);
}
END_TEST

START_TEST(consent_opted_out_clients_never_participate)
{
    capture *c = malloc(sizeof *c);
    free(run(SYN(",\"deadline_s\":1e6", ",\"privacy\":{\"consent\":{\"share\":0.5}}"), c, NULL));
    /* the opted-out half is drawn from the clients' own streams: recompute it */
    fs_scenario s;
    fs_test_scenario(SYN("", ",\"privacy\":{\"consent\":{\"share\":0.5}}"), &s);
    size_t sizes[40] = {0};
    fs_pop pop;
    ck_assert_int_eq(fs_pop_init(&pop, &s, sizes, NULL, NULL, NULL), FS_OK);
    int consenting = 0;
    for (size_t i = 0; i < 40; i++)
        consenting += pop.clients[i].consent;
    ck_assert_int_gt(consenting, 8);
    ck_assert_int_lt(consenting, 32);
    for (size_t i = 0; i < c->n_parts; i++)
        ck_assert(pop.clients[c->parts[i].client_id].consent);
    fs_pop_fini(&pop);
    fs_scn_fini(&s);
    free(c);
}
END_TEST

START_TEST(compression_shrinks_uploads)
{
    capture *plain = malloc(sizeof *plain), *topk = malloc(sizeof *topk), *q4 = malloc(sizeof *q4);
    free(run(SYN(",\"deadline_s\":1e6", ""), plain, NULL));
    free(run(SYNX(",\"compression\":{\"topk\":{\"fraction\":0.1}}", ",\"deadline_s\":1e6", ""),
             topk, NULL));
    free(run(SYNX(",\"compression\":{\"quantize\":{\"bits\":4}}", ",\"deadline_s\":1e6", ""), q4,
             NULL));
    /* softmax on 60 features x 10 classes: 610 float32 = 2440 bytes plain */
    const fs_db_part *a = &plain->parts[0], *b = &topk->parts[0], *d = &q4->parts[0];
    ck_assert_int_eq(a->bytes_up, 2440);
    ck_assert_int_eq(b->bytes_up, 61 * 8);                /* 61 (index, value) pairs */
    ck_assert_int_eq(d->bytes_up, 4 + (610 * 4 + 7) / 8); /* norm + 4-bit codes */
    /* a smaller upload arrives sooner */
    ck_assert_int_lt(b->t_reported - b->t_trained, a->t_reported - a->t_trained);
    free(plain), free(topk), free(q4);
}
END_TEST

START_TEST(topk_keeping_everything_equals_no_compression)
{
    /* over several rounds (slots reused after a dense update became sparse), top-k with
     * fraction 1 only rounds values to float32 */
    size_t np;
    const char *srv = ",\"deadline_s\":1e6,\"over_selection\":1"; /* same clients aggregated */
    char a[1024], b[1024];
    snprintf(a, sizeof a, SYN("%s", ""), srv);
    snprintf(
        b, sizeof b,
        SYNX(",\"compression\":{\"topk\":{\"fraction\":1,\"error_feedback\":false}}", "%s", ""),
        srv);
    fs_real *plain = run(a, NULL, &np);
    fs_real *all = run(b, NULL, NULL);
    ck_assert_double_lt(max_abs_diff(plain, all, np), 1e-5);
    free(plain), free(all);
}
END_TEST

START_TEST(fastest_selection_prefers_quick_devices)
{
    capture *u = malloc(sizeof *u), *f = malloc(sizeof *f);
    const char *dev = ",\"devices\":{\"uplink_mbps\":{\"lognormal\":{\"mu\":-4,\"sigma\":1.5}}}";
    char a[1024], b[1024];
    snprintf(a, sizeof a, SYN(",\"deadline_s\":1e6", "%s"), dev);
    snprintf(b, sizeof b, SYN(",\"deadline_s\":1e6,\"selection\":{\"fastest\":{\"pool\":3}}", "%s"),
             dev);
    free(run(a, u, NULL));
    free(run(b, f, NULL));
    double tu = 0, tf = 0;
    for (size_t r = 0; r < u->n_rounds; r++)
        tu += (double)(u->rounds[r].t_end - u->rounds[r].t_start);
    for (size_t r = 0; r < f->n_rounds; r++)
        tf += (double)(f->rounds[r].t_end - f->rounds[r].t_start);
    ck_assert_double_lt(tf, 0.7 * tu);
    free(u), free(f);
}
END_TEST

/* SCAFFOLD's correction c - c_i vanishes when every client holds the same data and all take part:
 * it must then train exactly like FedAvg (up to the summation order of full-batch gradients). */
START_TEST(scaffold_with_identical_clients_equals_fedavg)
{
    char dir[] = "/tmp/fs_scaffoldXXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/same.csv", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "client,x1,x2,x3,y\n");
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 12; i++)
            fprintf(f, "c%d,%d,%g,%g,%d\n", k, i % 5, 0.1 * i, 1.0 - 0.07 * i, i % 3);
    fclose(f);
    char base[1024], scaf[1024];
    /* test_fraction 0 is refused; 0.001 of 96 rows rounds to none, so clients stay identical */
    const char *fmt =
        "{\"name\":\"s\",\"data\":{\"source\":\"csv\",\"clients\":8,\"csv\":{\"path\":\"%s\","
        "\"label\":\"y\",\"groups\":[\"client\"],\"test_fraction\":0.001},"
        "\"partition\":{\"natural\":{\"group\":\"client\"}}},"
        "\"train\":{\"epochs\":3,\"batch_size\":12,\"lr\":0.1},"
        "\"server\":{\"rounds\":5,\"clients_per_round\":8,\"over_selection\":1,"
        "\"deadline_s\":1e6%s},\"eval\":{\"worst_clients\":false}}";
    snprintf(base, sizeof base, fmt, path, "");
    snprintf(scaf, sizeof scaf, fmt, path, ",\"algorithm\":\"scaffold\"");
    size_t np;
    fs_real *avg = run(base, NULL, &np), *sc = run(scaf, NULL, NULL);
    double norm = 0;
    for (size_t i = 0; i < np; i++)
        norm = fmax(norm, fabs(avg[i]));
    /* the server's c is double and each c_i fs_real, so c - c_i is a rounding of c rather than
     * 0: float32 measured 3.7e-9 at norm 0.06, 10 FS_REAL_EPS norm is a 20x margin */
    ck_assert_double_lt(max_abs_diff(avg, sc, np), 1e-9 + 10 * FS_REAL_EPS * norm);
    ck_assert_double_gt(norm, 0.01);
    remove(path);
    rmdir(dir);
    free(avg), free(sc);
}
END_TEST

START_TEST(fedbuff_buffer_1_applies_updates_one_by_one)
{
    /* FedBuff with one client in flight, a buffer of 1 and no staleness discount applies each
     * update as it arrives: exactly synchronous FedAvg with one client per round */
    size_t np;
    capture *a = malloc(sizeof *a), *s = malloc(sizeof *s);
    fs_real *sync =
        run(SYNS(",\"clients_per_round\":1,\"over_selection\":1,\"deadline_s\":1e6", ""), s, &np);
    fs_real *fb = run(SYNS(",\"clients_per_round\":1,\"mode\":\"async\",\"async\":{"
                           "\"concurrency\":1,\"buffer_size\":1,\"staleness\":\"constant\"}",
                           ""),
                      a, NULL);
    ck_assert_mem_eq(sync, fb, np * sizeof *sync);
    ck_assert_uint_eq(a->n_rounds, 4);
    for (size_t r = 0; r < 4; r++) {
        ck_assert_int_eq(a->rounds[r].reported, 1);
        ck_assert_int_eq(a->rounds[r].t_end, s->rounds[r].t_end);
        ck_assert_int_eq(a->parts[r].client_id, s->parts[r].client_id);
        ck_assert_int_eq(a->parts[r].staleness, 0);
    }
    free(sync), free(fb), free(a), free(s);
}
END_TEST

START_TEST(fedbuff_discards_updates_staler_than_the_limit)
{
    capture *c = malloc(sizeof *c);
    free(run(SYN(",\"mode\":\"async\",\"async\":{\"concurrency\":8,\"buffer_size\":2,"
                 "\"max_staleness\":1}",
                 ""),
             c, NULL));
    int stale = 0, kept = 0;
    for (size_t i = 0; i < c->n_parts; i++) {
        const fs_db_part *p = &c->parts[i];
        if (!strcmp(p->outcome, "reported")) {
            ck_assert_int_le(p->staleness, 1);
            kept++;
        }
        if (!strcmp(p->outcome, "late")) {
            ck_assert_int_gt(p->staleness, 1);
            stale++;
        }
    }
    ck_assert_int_eq(kept, 4 * 2);
    ck_assert_int_gt(stale, 0);
    free(c);
}
END_TEST

/* 20 Fashion-MNIST clients of 100 rows each (equal sizes, so equal local steps), 8 per round
 * and nobody late; %s takes more server keys. */
static const char equal_clients[] =
    "{\"name\":\"eq\",\"data\":{\"source\":\"fashion-mnist\",\"clients\":20,"
    "\"train_samples\":2000,\"test_samples\":500},"
    "\"train\":{\"epochs\":1,\"batch_size\":20,\"lr\":0.05},"
    "\"server\":{\"rounds\":3,\"clients_per_round\":8,\"over_selection\":1,"
    "\"deadline_s\":1e6%s}}";

START_TEST(fednova_equals_fedavg_with_equal_steps_and_differs_otherwise)
{
    /* equal-size clients take the same number of local steps: FedNova is FedAvg bit for bit */
    const char *fmt = equal_clients;
    char a[1024], b[1024];
    snprintf(a, sizeof a, fmt, "");
    snprintf(b, sizeof b, fmt, ",\"algorithm\":\"fednova\"");
    size_t np, np2;
    fs_real *avg = run(a, NULL, &np), *nova = run(b, NULL, NULL);
    ck_assert_mem_eq(avg, nova, np * sizeof *avg);
    /* synthetic clients hold different amounts of data, hence different steps */
    fs_real *avg2 = run(SYN(",\"deadline_s\":1e6", ""), NULL, &np2);
    fs_real *nova2 = run(SYN(",\"deadline_s\":1e6,\"algorithm\":\"fednova\"", ""), NULL, NULL);
    ck_assert_double_gt(max_abs_diff(avg2, nova2, np2), 1e-6);
    free(avg), free(nova), free(avg2), free(nova2);
}
END_TEST

START_TEST(fedbuff_dp_divides_by_buffer_size)
{
    /* a FedBuff step sums buffer_size clipped updates, so DP divides by buffer_size:
     * clients_per_round, which has no other effect in async mode, must not change the model
     * (it was the denominator before) */
    const char *fmt = SYNS(",\"clients_per_round\":%d,\"mode\":\"async\",\"async\":{"
                           "\"concurrency\":6,\"buffer_size\":3}",
                           ",\"privacy\":{\"dp\":{\"clip\":0.5,\"noise_multiplier\":0,"
                           "\"delta\":1e-5}}");
    char a[1024], b[1024], c[1024];
    snprintf(a, sizeof a, fmt, 3);
    snprintf(b, sizeof b, fmt, 20);
    size_t np;
    fs_real *three = run(a, NULL, &np), *twenty = run(b, NULL, NULL);
    ck_assert_mem_eq(three, twenty, np * sizeof *three);
    /* not vacuous: DP (equal weights, clipping) does change this run */
    snprintf(c, sizeof c,
             SYNS(",\"clients_per_round\":20,\"mode\":\"async\",\"async\":{"
                  "\"concurrency\":6,\"buffer_size\":3}",
                  ""));
    fs_real *plain = run(c, NULL, NULL);
    ck_assert_double_gt(max_abs_diff(three, plain, np), 1e-9);
    free(three), free(twenty), free(plain);
}
END_TEST

START_TEST(algorithm_table_matches_the_scenario_words)
{
    size_t n = 0;
    for (; fs_algo_at(n); n++)
        ck_assert_str_eq(fs_algo_at(n)->name, fs_algo_names[n]);
    ck_assert_ptr_null(fs_algo_names[n]);
    ck_assert_uint_ge(n, 5);
}
END_TEST

START_TEST(qffl_with_q_0_equals_fedavg_on_equal_clients)
{
    /* q = 0 weighs every client equally; with equal-size clients so does FedAvg */
    const char *fmt = equal_clients;
    char a[1024], b[1024];
    snprintf(a, sizeof a, fmt, "");
    snprintf(b, sizeof b, fmt, ",\"algorithm\":\"qffl\",\"q\":0");
    size_t np;
    fs_real *avg = run(a, NULL, &np), *q0 = run(b, NULL, NULL);
    ck_assert_double_lt(max_abs_diff(avg, q0, np), 1e-12);
    snprintf(b, sizeof b, fmt, ",\"algorithm\":\"qffl\",\"q\":2");
    fs_real *q2 = run(b, NULL, NULL);
    ck_assert_double_gt(max_abs_diff(avg, q2, np), 1e-6);
    free(avg), free(q0), free(q2);
}
END_TEST

START_TEST(opted_out_clients_test_rows_are_not_evaluated)
{
    fs_test_setup t;
    fs_test_setup_init(&t, SYN("", ",\"privacy\":{\"consent\":{\"share\":0.5}}"));
    fs_evaluator ev;
    ck_assert_int_eq(fs_evaluator_init(&ev, &t.w, &t.s, &t.pop, 1, NULL), FS_OK);
    size_t want = 0;
    for (size_t c = 0; c < t.pop.n; c++)
        if (t.pop.clients[c].consent) want += t.w.n_test[c];
    ck_assert_uint_lt(want, t.w.test.n);
    ck_assert_uint_eq(ev.segments[0].n, want);
    for (size_t i = 0; i < ev.segments[0].n; i++) {
        uint32_t r = ev.segments[0].rows[i];
        bool owner_consents = false;
        for (size_t c = 0; c < t.pop.n; c++)
            for (size_t j = t.w.test_part.offset[c]; j < t.w.test_part.offset[c + 1]; j++)
                if (t.w.test_part.rows[j] == r) owner_consents = t.pop.clients[c].consent;
        ck_assert(owner_consents);
    }
    fs_evaluator_fini(&ev);
    fs_test_setup_fini(&t);
}
END_TEST

START_TEST(hit_rate_skips_opted_out_users)
{
    fs_test_setup t;
    fs_test_setup_init(&t, "{\"name\":\"h\",\"data\":{\"source\":\"ratings\",\"clients\":60,"
                           "\"ratings\":{\"items\":100}},\"model\":{\"kind\":\"mf\",\"factors\":4},"
                           "\"server\":{\"rounds\":1,\"clients_per_round\":5},"
                           "\"privacy\":{\"consent\":{\"share\":0.5}}}");
    fs_evaluator ev;
    ck_assert_int_eq(fs_evaluator_init(&ev, &t.w, &t.s, &t.pop, 1, NULL), FS_OK);
    const fs_partition *ct = &ev.consenting_test;
    ck_assert_ptr_nonnull(ct->offset);
    for (size_t c = 0; c < t.pop.n; c++)
        ck_assert_uint_eq(fs_partition_size(ct, c),
                          t.pop.clients[c].consent ? fs_partition_size(&t.w.test_part, c) : 0);
    fs_evaluator_fini(&ev);
    fs_test_setup_fini(&t);
}
END_TEST

static Suite *algorithms_suite(void)
{
    Suite *s = suite_create("algorithms");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fedprox_with_mu_0_equals_fedavg);
    tcase_add_test(tc, fedprox_keeps_stragglers_partial_work);
    tcase_add_test(tc, dp_epsilon_follows_the_accountant);
    tcase_add_test(tc, dp_clips_and_noises_the_model);
    tcase_add_test(tc, secure_aggregation_matches_plain_sum_and_verifies_masks);
    tcase_add_test(tc, consent_opted_out_clients_never_participate);
    tcase_add_test(tc, compression_shrinks_uploads);
    tcase_add_test(tc, topk_keeping_everything_equals_no_compression);
    tcase_add_test(tc, fastest_selection_prefers_quick_devices);
    tcase_add_test(tc, scaffold_with_identical_clients_equals_fedavg);
    tcase_add_test(tc, fedbuff_buffer_1_applies_updates_one_by_one);
    tcase_add_test(tc, fedbuff_discards_updates_staler_than_the_limit);
    tcase_add_test(tc, qffl_with_q_0_equals_fedavg_on_equal_clients);
    tcase_add_test(tc, fednova_equals_fedavg_with_equal_steps_and_differs_otherwise);
    tcase_add_test(tc, fedbuff_dp_divides_by_buffer_size);
    tcase_add_test(tc, algorithm_table_matches_the_scenario_words);
    tcase_add_test(tc, opted_out_clients_test_rows_are_not_evaluated);
    tcase_add_test(tc, hit_rate_skips_opted_out_users);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(algorithms_suite)
