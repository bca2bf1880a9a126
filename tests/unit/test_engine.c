/* Tests of the engine: exact participation timelines, deadline and over-selection outcomes,
 * dropouts, pacing, identical results for any thread count, and the server policy table
 * (checkpoints only from a policy whose entry says it can). */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs_array.h"
#include "fs_clock.h"
#include "fs_device.h"
#include "fs_energy.h"
#include "fs_engine.h"
#include "fs_engine_int.h"
#include "fs_mix.h"
#include "fs_run.h"
#include "fs_server.h"
#include "fs_test.h"
#include "fs_test_scn.h"

#define MAX_ROUNDS 64
#define MAX_PARTS 4096

typedef struct capture {
    fs_db_round rounds[MAX_ROUNDS];
    fs_db_part parts[MAX_PARTS];
    int part_round[MAX_PARTS];
    size_t n_rounds, n_parts;
    double accuracy[MAX_ROUNDS];
    uint64_t mix_digest[MAX_ROUNDS]; /* of the round's participation_mix counts, in order */
} capture;

/* The count of (grp, level, stage) among a round's participation_mix rows; 0 when absent. */
static int64_t mix_n(const fs_db_round *r, const char *grp, const char *level, const char *stage)
{
    for (size_t i = 0; i < r->n_mix; i++)
        if (!strcmp(r->mix[i].grp, grp) && !strcmp(r->mix[i].level, level) &&
            !strcmp(r->mix[i].stage, stage))
            return r->mix[i].n;
    return 0;
}

/* Every round of every engine test: per group column and level, reported <= selected <= online
 * (<= consenting <= population in round 1), and each group's selected and reported add up to
 * the round row's (every client of these scenarios has rows, so a level). */
static void check_mix(const fs_db_round *r)
{
    ck_assert_ptr_nonnull(r->mix);
    for (size_t i = 0; i < r->n_mix; i++) {
        const fs_db_mix *m = &r->mix[i];
        ck_assert_int_ge(m->n, 0);
        int64_t on = mix_n(r, m->grp, m->level, "online"),
                sel = mix_n(r, m->grp, m->level, "selected"),
                rep = mix_n(r, m->grp, m->level, "reported");
        ck_assert_int_le(rep, sel);
        ck_assert_int_le(sel, on);
        if (r->round == 1) {
            int64_t cons = mix_n(r, m->grp, m->level, "consenting");
            ck_assert_int_le(on, cons);
            ck_assert_int_le(cons, mix_n(r, m->grp, m->level, "population"));
        }
        int64_t sel_total = 0, rep_total = 0;
        for (size_t j = 0; j < r->n_mix; j++) {
            if (strcmp(r->mix[j].grp, m->grp) || r->mix[j].round != r->round) continue;
            sel_total += strcmp(r->mix[j].stage, "selected") ? 0 : r->mix[j].n;
            rep_total += strcmp(r->mix[j].stage, "reported") ? 0 : r->mix[j].n;
        }
        ck_assert_int_eq(sel_total, r->selected);
        ck_assert_int_eq(rep_total, r->reported);
    }
    ck_assert(isnan(r->jain) || (r->jain > 0 && r->jain <= 1 + 1e-12));
    ck_assert(r->never_selected >= 0 && r->never_selected <= 1);
}

static int collect(void *ctx, fs_round_result *res, fs_err *err)
{
    capture *c = ctx;
    ck_assert_uint_lt(c->n_rounds, MAX_ROUNDS);
    check_mix(&res->row);
    c->accuracy[c->n_rounds] = res->accuracy;
    c->rounds[c->n_rounds] = res->row;
    c->rounds[c->n_rounds].mix = NULL; /* borrowed for the callback only */
    c->mix_digest[c->n_rounds] = 0;
    for (size_t i = 0; i < res->row.n_mix; i++)
        c->mix_digest[c->n_rounds] =
            c->mix_digest[c->n_rounds] * 1000003 + (uint64_t)res->row.mix[i].n * 31 + i;
    c->n_rounds++;
    for (size_t i = 0; i < res->n_parts; i++) {
        ck_assert_uint_lt(c->n_parts, MAX_PARTS);
        c->part_round[c->n_parts] = res->row.round;
        c->parts[c->n_parts++] = res->parts[i];
    }
    return FS_OK;
}

/* Runs a scenario text through the engine into *cap; returns the final model (caller frees). */
static fs_real *run(const char *text, int threads, capture *cap)
{
    memset(cap, 0, sizeof *cap);
    return fs_test_run_engine(text, threads, collect, cap, NULL);
}

#define SYNTH(clients, extra) \
    "{\"name\":\"t\",\"seed\":3,\"data\":{\"source\":\"synthetic\",\"clients\":" #clients "," \
    "\"synthetic\":{\"max_samples_per_client\":200}}," extra "}"

START_TEST(engine_timeline_matches_time_model)
{
    /* one client, constant device: every stage time follows from the time model exactly */
    capture *cap = malloc(sizeof *cap);
    free(run(SYNTH(1, "\"train\":{\"epochs\":1,\"batch_size\":10},"
                      "\"server\":{\"rounds\":2,\"clients_per_round\":1,\"over_selection\":1,"
                      "\"deadline_s\":1000,\"round_interval_s\":0},"
                      "\"devices\":{\"gflops\":0.001,\"uplink_mbps\":1,\"downlink_mbps\":4,"
                      "\"latency_ms\":50}"),
             1, cap));
    ck_assert_uint_eq(cap->n_parts, 2);
    const fs_db_part *p = &cap->parts[0];
    double bytes = 4.0 * (60 * 10 + 10); /* softmax 60 features x 10 classes + biases, float32 */
    int64_t t_dl = 50000 + llround(bytes * 8 / 4);
    int64_t t_tr = t_dl + llround(3.0 * p->n_samples * 2 * 60 * 10 / (0.001 * 1e3));
    int64_t t_rep = t_tr + 50000 + llround(bytes * 8 / 1);
    ck_assert_str_eq(p->outcome, "reported");
    ck_assert_int_eq(p->t_selected, 0);
    ck_assert_int_eq(p->t_downloaded, t_dl);
    ck_assert_int_eq(p->t_trained, t_tr);
    ck_assert_int_eq(p->t_reported, t_rep);
    ck_assert_int_eq(p->bytes_down, (int64_t)bytes);
    ck_assert_int_eq(p->bytes_up, (int64_t)bytes);
    ck_assert_int_eq(cap->rounds[0].t_end, t_rep);
    /* the second round starts when the first closed */
    ck_assert_int_eq(cap->rounds[1].t_start, t_rep);
    ck_assert_int_eq(cap->parts[1].t_selected, t_rep);
    free(cap);
}
END_TEST

/* A one-client run on a one-interval trace ending at end_s: how its participation ends. */
static void trace_outcome(const char *end_s, const char *want)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "engine_trace_%d.csv", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# fedsim-avail v1\na,0,%s\n", end_s);
    fclose(f);
    snprintf(text, sizeof text,
             SYNTH(1, "\"train\":{\"epochs\":1,\"batch_size\":10},"
                      "\"server\":{\"rounds\":1,\"clients_per_round\":1,\"over_selection\":1,"
                      "\"deadline_s\":1000,\"round_interval_s\":0},"
                      "\"devices\":{\"gflops\":0.001,\"uplink_mbps\":1,\"downlink_mbps\":4,"
                      "\"latency_ms\":50,\"availability\":{\"trace\":{\"path\":\"%s\"}}}"),
             path);
    capture *cap = malloc(sizeof *cap);
    free(run(text, 1, cap));
    ck_assert_uint_eq(cap->n_parts, 1);
    ck_assert_str_eq(cap->parts[0].outcome, want);
    free(cap);
    remove(path);
}

START_TEST(engine_trace_interval_end_drops_a_straddling_participation)
{
    /* the participation takes about 0.2 s (engine_timeline_matches_time_model's device) */
    trace_outcome("0.1", "dropped");
    trace_outcome("100", "reported");
}
END_TEST

/* Two identical devices (1 Mbit/s... 100 Mbit/s own links, 50 ms latency) behind a shared
 * egress of 1/256 byte/us and a shared ingress of 1/512 byte/us (exact binary fractions, so the
 * processor-sharing schedule is exact). Downloads: both join at 50 ms and split the egress, each
 * at 1/512 byte/us: B * 512 us after joining. Uploads: a joins at j_a, b at j_b = j_a + d (d >
 * 0, less than a's lone time T = B * 512 us): a runs alone for d, then both at half speed until a
 * finishes at j_a + 2T - d, then b alone; the ingress never idles, so b finishes at j_a + 2T. */
START_TEST(engine_shared_link_follows_processor_sharing)
{
    capture *cap = malloc(sizeof *cap);
    free(run(SYNTH(2, "\"train\":{\"epochs\":1,\"batch_size\":10},"
                      "\"server\":{\"rounds\":1,\"clients_per_round\":2,\"over_selection\":1,"
                      "\"deadline_s\":1000,\"round_interval_s\":0,"
                      "\"egress_mbps\":0.03125,\"ingress_mbps\":0.015625},"
                      "\"devices\":{\"gflops\":0.001,\"uplink_mbps\":100,\"downlink_mbps\":4,"
                      "\"latency_ms\":50}"),
             1, cap));
    ck_assert_uint_eq(cap->n_parts, 2);
    const double bytes = 4.0 * (60 * 10 + 10);
    const int64_t T = llround(bytes * 512);
    const fs_db_part *a = &cap->parts[0], *b = &cap->parts[1];
    for (int i = 0; i < 2; i++) {
        const fs_db_part *p = &cap->parts[i];
        ck_assert_str_eq(p->outcome, "reported");
        ck_assert_int_eq(p->t_downloaded, 50000 + T);
        /* training keeps its planned length after the shared download */
        ck_assert_int_eq(p->t_trained - p->t_downloaded,
                         llround(3.0 * p->n_samples * 2 * 60 * 10 / (0.001 * 1e3)));
        ck_assert_int_eq(p->bytes_down, (int64_t)bytes);
        ck_assert_int_eq(p->bytes_up, (int64_t)bytes);
    }
    if (a->t_trained > b->t_trained) {
        const fs_db_part *t = a;
        a = b;
        b = t;
    }
    int64_t j_a = a->t_trained + 50000, d = b->t_trained - a->t_trained;
    ck_assert_int_gt(d, 0);
    ck_assert_int_lt(d, T);
    ck_assert_int_eq(a->t_reported, j_a + 2 * T - d);
    ck_assert_int_eq(b->t_reported, j_a + 2 * T);
    ck_assert_int_eq(cap->rounds[0].t_end, j_a + 2 * T);
    free(cap);
}
END_TEST

/* One client alone on an ingress of 1/512 byte/us, its deadline 512,000 us after its upload
 * joined the link: the deadline cuts it after exactly 1,000 bytes, recorded as sent. */
static void link_cut_scenario(char *text, size_t size, double deadline_s)
{
    snprintf(text, size,
             SYNTH(1, "\"train\":{\"epochs\":1,\"batch_size\":10},"
                      "\"server\":{\"rounds\":1,\"clients_per_round\":1,\"over_selection\":1,"
                      "\"deadline_s\":%.6f,\"round_interval_s\":0,\"ingress_mbps\":0.015625},"
                      "\"devices\":{\"gflops\":0.001,\"uplink_mbps\":100,\"downlink_mbps\":4,"
                      "\"latency_ms\":50}"),
             deadline_s);
}

START_TEST(engine_shared_link_cut_records_bytes_sent)
{
    char text[1024];
    capture *cap = malloc(sizeof *cap);
    link_cut_scenario(text, sizeof text, 1000);
    free(run(text, 1, cap));
    ck_assert_str_eq(cap->parts[0].outcome, "reported");
    int64_t join = cap->parts[0].t_trained + 50000;
    ck_assert_int_eq(cap->parts[0].t_reported, join + 2440 * 512);
    link_cut_scenario(text, sizeof text, (double)(join + 512000) / 1e6);
    free(run(text, 1, cap));
    ck_assert_str_eq(cap->parts[0].outcome, "late");
    ck_assert_int_eq(cap->parts[0].t_reported, -1);
    ck_assert_int_eq(cap->parts[0].bytes_up, 1000);
    ck_assert_int_eq(cap->rounds[0].bytes_up, 1000);
    free(cap);
}
END_TEST

/* The case, 1,000 phones uploading 1 MB each through 100 Mbit/s, scaled to the engine's
 * small update (softmax, 2,440 bytes; 1,000 dense 1 MB updates in flight would need 1 GB of
 * slots): the same ratio of bytes to capacity, 2,440 bytes through 0.244 Mbit/s, gives the same
 * 80 s. Alone each upload takes 2 ms, so the round would close within a second without the
 * link. */
START_TEST(engine_shared_ingress_bounds_the_round)
{
    capture *cap = malloc(sizeof *cap);
    free(run("{\"name\":\"t\",\"seed\":3,\"data\":{\"source\":\"synthetic\","
             "\"clients\":1000,\"synthetic\":{\"max_samples_per_client\":20}},"
             "\"train\":{\"epochs\":1,\"batch_size\":10},"
             "\"server\":{\"rounds\":1,\"clients_per_round\":1000,\"over_selection\":1,"
             "\"deadline_s\":1e5,\"round_interval_s\":0,\"ingress_mbps\":0.244},"
             "\"devices\":{\"gflops\":10,\"uplink_mbps\":10,\"downlink_mbps\":10,"
             "\"latency_ms\":50}}",
             2, cap));
    ck_assert_uint_eq(cap->n_rounds, 1);
    const fs_db_round *row = &cap->rounds[0];
    ck_assert_int_eq(row->reported, 1000);
    ck_assert_int_eq(row->bytes_up, 1000 * 2440);
    /* 1,000 x 2,440 bytes x 8 bit / 0.244 Mbit/s = 80 s, as 1,000 x 1 MB through 100 Mbit/s */
    ck_assert_int_ge(row->t_end - row->t_start, 80000000);
    /* and not much more: the ingress is busy from the first join to the last finish */
    ck_assert_int_lt(row->t_end - row->t_start, 81000000);
    free(cap);
}
END_TEST

START_TEST(engine_deadline_makes_clients_late)
{
    capture *cap = malloc(sizeof *cap);
    free(run(SYNTH(20, "\"server\":{\"rounds\":3,\"clients_per_round\":5,\"deadline_s\":0.01},"
                       "\"devices\":{\"latency_ms\":100}"),
             2, cap));
    for (size_t r = 0; r < cap->n_rounds; r++) {
        ck_assert_int_eq(cap->rounds[r].reported, 0);
        ck_assert_int_eq(cap->rounds[r].late, cap->rounds[r].selected);
        ck_assert_int_eq(cap->rounds[r].t_end - cap->rounds[r].t_start, 10000);
        ck_assert(isnan(cap->rounds[r].train_loss));
    }
    for (size_t i = 0; i < cap->n_parts; i++) {
        ck_assert_str_eq(cap->parts[i].outcome, "late");
        ck_assert_int_eq(cap->parts[i].t_downloaded, -1);
        ck_assert_int_eq(cap->parts[i].bytes_down, 0); /* still in latency */
    }
    free(cap);
}
END_TEST

START_TEST(engine_over_selection_aggregates_first_reports)
{
    capture *cap = malloc(sizeof *cap);
    free(run(SYNTH(40, "\"server\":{\"rounds\":4,\"clients_per_round\":5,\"over_selection\":2,"
                       "\"deadline_s\":1e5}"),
             2, cap));
    for (size_t r = 0; r < cap->n_rounds; r++) {
        const fs_db_round *row = &cap->rounds[r];
        ck_assert_int_eq(row->selected, 10);
        ck_assert_int_eq(row->reported, 5);
        ck_assert_int_eq(row->aborted, 5);
        int64_t last_report = -1;
        for (size_t i = 0; i < cap->n_parts; i++) {
            if (cap->part_round[i] != row->round) continue;
            const fs_db_part *p = &cap->parts[i];
            if (!strcmp(p->outcome, "reported")) {
                ck_assert_int_le(p->t_reported, row->t_end);
                if (p->t_reported > last_report) last_report = p->t_reported;
            } else {
                ck_assert_str_eq(p->outcome, "aborted");
                ck_assert_int_eq(p->t_reported, -1);
            }
        }
        ck_assert_int_eq(last_report, row->t_end); /* closed at the 5th report */
    }
    free(cap);
}
END_TEST

START_TEST(engine_counts_dropouts_and_conserves_participants)
{
    capture *cap = malloc(sizeof *cap);
    free(run(SYNTH(200, "\"server\":{\"rounds\":10,\"clients_per_round\":20,\"deadline_s\":120,"
                        "\"round_interval_s\":600},"
                        "\"devices\":{\"failure_prob\":0.3,\"availability\":{\"markov\":"
                        "{\"mean_on_min\":0.05,\"mean_off_min\":0.05}}}"),
             2, cap));
    int dropped = 0;
    for (size_t r = 0; r < cap->n_rounds; r++) {
        const fs_db_round *row = &cap->rounds[r];
        ck_assert_int_eq(row->reported + row->dropped + row->late + row->aborted, row->selected);
        dropped += row->dropped;
        if (r > 0) ck_assert_int_eq(row->t_start, cap->rounds[r - 1].t_start + 600000000);
    }
    ck_assert_int_gt(dropped, 10);
    for (size_t i = 0; i < cap->n_parts; i++) {
        const fs_db_part *p = &cap->parts[i];
        if (strcmp(p->outcome, "dropped")) continue;
        ck_assert_int_eq(p->t_reported, -1);
        ck_assert(p->bytes_down <= 4 * 610);
    }
    free(cap);
}
END_TEST

/* Runs text through the engine, training at launch or when due, into *cap and *st. */
static fs_real *run_training(const char *text, bool at_launch, capture *cap, fs_engine_stats *st)
{
    memset(cap, 0, sizeof *cap);
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    fs_real *w = calloc(t.w.model->n_params, sizeof *w);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 2,
                         .on_round = collect, .ctx = cap, .train_at_launch = at_launch};
    ck_assert_int_eq(fs_engine_run(&cfg, w, st, NULL), FS_OK);
    fs_test_setup_fini(&t);
    return w;
}

/* Over-selection's surplus is cut off mostly before its training ends: a sync round trains a
 * participation only when that is due, and the run is the one that trains everybody at
 * launch, bit for bit (crashes, which need the upload size early, train at launch either way). */
START_TEST(engine_training_when_due_equals_training_at_launch)
{
    const char *text =
        SYNTH(600, "\"server\":{\"rounds\":6,\"clients_per_round\":100,\"over_selection\":1.6,"
                   "\"deadline_s\":600},"
                   "\"devices\":{\"failure_prob\":0.1,\"availability\":"
                   "{\"diurnal\":{\"utc_offsets_h\":[0,5]}},"
                   "\"downlink_mbps\":{\"lognormal\":{\"mu\":0,\"sigma\":1.5}}}");
    capture *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    fs_engine_stats sa, sb;
    fs_real *wa = run_training(text, true, a, &sa), *wb = run_training(text, false, b, &sb);
    ck_assert_mem_eq(wa, wb, (60 * 10 + 10) * sizeof *wa);
    ck_assert_uint_eq(a->n_rounds, b->n_rounds);
    int aborted = 0;
    for (size_t r = 0; r < a->n_rounds; r++) {
        a->rounds[r].wall_s = b->rounds[r].wall_s = 0;
        ck_assert_mem_eq(&a->rounds[r], &b->rounds[r], sizeof a->rounds[r]);
        ck_assert(a->accuracy[r] == b->accuracy[r]);
        aborted += a->rounds[r].aborted;
    }
    ck_assert_uint_eq(a->n_parts, b->n_parts);
    for (size_t i = 0; i < a->n_parts; i++) {
        fs_db_part *x = &a->parts[i], *y = &b->parts[i];
        ck_assert_str_eq(x->outcome, y->outcome);
        ck_assert(x->local_loss == y->local_loss || (isnan(x->local_loss) && isnan(y->local_loss)));
        ck_assert(x->update_norm == y->update_norm ||
                  (isnan(x->update_norm) && isnan(y->update_norm)));
        x->local_loss = y->local_loss = x->update_norm = y->update_norm = 0;
        ck_assert_mem_eq(x, y, sizeof *x);
    }
    ck_assert_int_gt(aborted, 20);
    ck_assert_int_eq(sa.events, sb.events);
    ck_assert_int_lt(sb.trained_here, sa.trained_here); /* the surplus was never trained */
    free(wa), free(wb), free(a), free(b);
}
END_TEST

/* The engine's three timed parts (fs_engine_stats) are measured under both policies: each is
 * positive, and with training and evaluation they fit in the run's own wall time. */
START_TEST(engine_times_its_parts)
{
    const char *texts[] = {
        SYNTH(300, "\"server\":{\"rounds\":4,\"clients_per_round\":30}"),
        SYNTH(300, "\"server\":{\"rounds\":4,\"clients_per_round\":30,\"mode\":\"async\","
                   "\"async\":{\"concurrency\":20,\"buffer_size\":10}}")};
    for (int k = 0; k < 2; k++) {
        fs_test_setup t;
        fs_test_setup_init(&t, texts[k]);
        fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 2};
        fs_engine_stats st;
        double t0 = fs_wall_seconds();
        ck_assert_int_eq(fs_engine_run(&cfg, NULL, &st, NULL), FS_OK);
        double wall = fs_wall_seconds() - t0;
        ck_assert_int_eq(st.rounds, 4);
        ck_assert(st.select_s > 0 && st.aggregate_s > 0 && st.record_s > 0);
        ck_assert(st.select_s + st.aggregate_s + st.record_s + st.train_s + st.eval_s < wall);
        fs_test_setup_fini(&t);
    }
}
END_TEST

START_TEST(engine_identical_with_1_and_2_threads)
{
    const char *text = SYNTH(300, "\"server\":{\"rounds\":8,\"clients_per_round\":30},"
                                  "\"devices\":{\"failure_prob\":0.1,\"availability\":"
                                  "{\"diurnal\":{\"utc_offsets_h\":[0,5]}}}");
    capture *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    fs_real *wa = run(text, 1, a), *wb = run(text, 2, b);
    ck_assert_mem_eq(wa, wb, (60 * 10 + 10) * sizeof *wa);
    ck_assert_uint_eq(a->n_parts, b->n_parts);
    for (size_t r = 0; r < a->n_rounds; r++) {
        a->rounds[r].wall_s = b->rounds[r].wall_s = 0;
        ck_assert_mem_eq(&a->rounds[r], &b->rounds[r], sizeof a->rounds[r]);
        ck_assert(a->accuracy[r] == b->accuracy[r]);
        ck_assert_uint_eq(a->mix_digest[r], b->mix_digest[r]);
    }
    for (size_t i = 0; i < a->n_parts; i++) {
        ck_assert_uint_eq(a->parts[i].client_id, b->parts[i].client_id);
        ck_assert(a->parts[i].local_loss == b->parts[i].local_loss ||
                  (isnan(a->parts[i].local_loss) && isnan(b->parts[i].local_loss)));
    }
    free(wa);
    free(wb);
    free(a);
    free(b);
}
END_TEST

START_TEST(engine_personal_factors_change_only_when_trained)
{
    /* matrix factorization: a user's factors live on the device; they change exactly for the
     * clients that finished training (in virtual time) and are never part of what is uploaded */
    fs_test_setup t;
    fs_test_setup_fixture(&t, "engine_mf_personal");
    size_t k = t.w.model->n_personal, n = t.s.data.clients;
    ck_assert_uint_eq(k, 5);
    fs_real *before = malloc(n * k * sizeof *before);
    memcpy(before, t.w.personal, n * k * sizeof *before);
    capture *cap = malloc(sizeof *cap);
    memset(cap, 0, sizeof *cap);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 2,
                         .on_round = collect, .ctx = cap};
    ck_assert_int_eq(fs_engine_run(&cfg, NULL, NULL, NULL), FS_OK);
    bool *trained = calloc(n, sizeof *trained);
    int untrained_participants = 0;
    for (size_t i = 0; i < cap->n_parts; i++) {
        const fs_db_part *p = &cap->parts[i];
        if (p->t_trained >= 0) trained[p->client_id] = true;
        else untrained_participants++;
        /* the upload is the items' factors only: 8 bytes per (k + 1) values per item + mu */
        if (p->t_trained >= 0) ck_assert_int_le(p->bytes_up, 8 * (int64_t)(p->n_samples * k + 1));
    }
    ck_assert_int_gt(untrained_participants, 0);
    for (size_t c = 0; c < n; c++) {
        bool same = !memcmp(before + c * k, t.w.personal + c * k, k * sizeof *before);
        ck_assert_msg(same != trained[c], "client %zu: trained %d, factors changed %d", c,
                      trained[c], !same);
    }
    free(trained);
    free(cap);
    free(before);
    fs_test_setup_fini(&t);
}
END_TEST

/* Diverging local training (matrix factorization at lr 100: the loss overflows) used to stop
 * the run with FS_ENUMERIC ("lower train.lr", exit 70). Each such update is now rejected: the
 * run completes, rejected participations are counted in their round, nothing of them is
 * aggregated (the global model stays finite) and the device keeps its previous factors. */
START_TEST(engine_rejects_diverging_updates_and_keeps_running)
{
    fs_test_setup t;
    fs_test_setup_fixture(&t, "engine_mf_exploding");
    size_t k = t.w.model->n_personal, n = t.s.data.clients, np = t.w.model->n_params;
    fs_real *before = malloc(n * k * sizeof *before), *w = malloc(np * sizeof *w);
    memcpy(before, t.w.personal, n * k * sizeof *before);
    capture *cap = malloc(sizeof *cap);
    memset(cap, 0, sizeof *cap);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 2,
                         .on_round = collect, .ctx = cap};
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_engine_run(&cfg, w, NULL, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
    ck_assert_uint_eq(cap->n_rounds, 3);
    int rejected = 0;
    for (size_t r = 0; r < cap->n_rounds; r++) {
        const fs_db_round *row = &cap->rounds[r];
        ck_assert_int_eq(row->reported + row->dropped + row->late + row->aborted + row->rejected,
                         row->selected);
        rejected += row->rejected;
    }
    ck_assert_int_gt(rejected, 30);
    bool *kept = calloc(n, sizeof *kept); /* trained and not rejected at least once */
    int n_rejected_parts = 0;
    for (size_t i = 0; i < cap->n_parts; i++) {
        const fs_db_part *p = &cap->parts[i];
        if (!strcmp(p->outcome, "rejected")) {
            n_rejected_parts++;
            ck_assert(p->t_trained >= 0 && p->t_reported >= 0 && p->bytes_up > 0);
        } else if (p->t_trained >= 0) {
            kept[p->client_id] = true;
        }
    }
    ck_assert_int_eq(n_rejected_parts, rejected);
    for (size_t c = 0; c < n; c++)
        if (!kept[c]) ck_assert(!memcmp(before + c * k, t.w.personal + c * k, k * sizeof *before));
    for (size_t j = 0; j < np; j++)
        ck_assert(isfinite(w[j]));
    free(kept);
    free(cap);
    free(before);
    free(w);
    fs_test_setup_fini(&t);
}
END_TEST

/* Generating each client's data when it trains gives the very same campaign as holding
 * everyone's data, when the evaluation sample is the whole population. `text` has one %s for
 * data.on_demand. */
static void check_on_demand_equal(const char *text)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, text, "false");
    snprintf(b, sizeof b, text, "true");
    capture *ca = malloc(sizeof *ca), *cb = malloc(sizeof *cb);
    size_t np;
    memset(ca, 0, sizeof *ca);
    memset(cb, 0, sizeof *cb);
    fs_real *wa = fs_test_run_engine(a, 2, collect, ca, &np);
    fs_real *wb = fs_test_run_engine(b, 2, collect, cb, NULL);
    ck_assert_mem_eq(wa, wb, np * sizeof *wa);
    ck_assert_uint_eq(ca->n_parts, cb->n_parts);
    for (size_t r = 0; r < ca->n_rounds; r++) {
        ca->rounds[r].wall_s = cb->rounds[r].wall_s = 0;
        ck_assert_mem_eq(&ca->rounds[r], &cb->rounds[r], sizeof ca->rounds[r]);
        ck_assert(ca->accuracy[r] == cb->accuracy[r]);
    }
    free(wa), free(wb), free(ca), free(cb);
}

/* The world's per-client figures on demand (the generator's sizes op, no rows kept) equal
 * those of the materialized data: sizes, FLOPs and the consent group's levels. */
static void check_on_demand_world(const char *text)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, text, "false");
    snprintf(b, sizeof b, text, "true");
    fs_test_setup ta, tb;
    fs_test_setup_init(&ta, a);
    fs_test_setup_init(&tb, b);
    ck_assert_ptr_nonnull(tb.w.gen);
    int rc = FS_OK;
    int32_t *la = fs_world_client_levels_new(&ta.w, ta.s.privacy.consent_group, "privacy.consent.group", &rc, NULL);
    int32_t *lb = fs_world_client_levels_new(&tb.w, tb.s.privacy.consent_group, "privacy.consent.group", &rc, NULL);
    ck_assert(la && lb);
    /* the non-zeros the counting pass left out (marketing's heads op), asked for as the engine
     * does, in another order than the clients' */
    size_t n = ta.s.data.clients;
    uint32_t *ids = malloc(n * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)(n - 1 - i);
    ck_assert_int_eq(fs_world_need_nnz(&tb.w, ids, n, NULL), FS_OK);
    free(ids);
    for (size_t c = 0; c < ta.s.data.clients; c++) {
        ck_assert_uint_eq(ta.w.n_train[c], tb.w.n_train[c]);
        ck_assert_uint_eq(ta.w.n_test[c], tb.w.n_test[c]);
        ck_assert(fs_world_client_flops(&ta.w, c) == fs_world_client_flops(&tb.w, c));
        ck_assert_int_eq(la[c], lb[c]);
    }
    free(la), free(lb);
    fs_test_setup_fini(&ta);
    fs_test_setup_fini(&tb);
}

START_TEST(engine_on_demand_data_equal_materialized)
{
    check_on_demand_equal("{\"name\":\"od\",\"seed\":3,\"data\":{\"source\":\"ratings\","
                          "\"clients\":300,\"on_demand\":%s,\"ratings\":{\"items\":150}},"
                          "\"model\":{\"kind\":\"mf\",\"factors\":4},"
                          "\"server\":{\"rounds\":4,\"clients_per_round\":20},"
                          "\"devices\":{\"failure_prob\":0.1},\"eval\":{\"sample_clients\":300}}");
    /* marketing: the generator's sizes op counts rows and non-zeros (the time model's FLOPs; 2^8
     * buckets make collisions common) and gives the consent group's levels (checked on the
     * world: the engine alone does not apply consent); each thread's scratch is reused client
     * after client */
    check_on_demand_equal(
        "{\"name\":\"odm\",\"seed\":5,\"data\":{\"source\":\"marketing\",\"clients\":400,"
        "\"on_demand\":%s,\"marketing\":{\"hash_bits\":8}},\"model\":{\"kind\":\"logreg\"},"
        "\"train\":{\"batch_size\":4},\"server\":{\"rounds\":4,\"clients_per_round\":40},"
        "\"devices\":{\"failure_prob\":0.1},\"privacy\":{\"consent\":{\"group\":\"region\","
        "\"percent_by_level\":[100,50,0,100,100,100,100,100]}},"
        "\"eval\":{\"sample_clients\":400}}");
    check_on_demand_world(
        "{\"name\":\"odw\",\"seed\":5,\"data\":{\"source\":\"marketing\",\"clients\":2000,"
        "\"on_demand\":%s,\"marketing\":{\"hash_bits\":8}},\"model\":{\"kind\":\"logreg\"},"
        "\"server\":{\"rounds\":1,\"clients_per_round\":10},\"privacy\":{\"consent\":"
        "{\"group\":\"age_band\",\"percent_by_level\":[100,50,0,100,100,100]}},"
        "\"eval\":{\"sample_clients\":300}}");
}
END_TEST


START_TEST(run_eta_counts_this_session_and_the_virtual_time_limit)
{
    const int64_t H = 3600000000LL;
    /* 10 s for rounds 1..10 of 100: 90 rounds left at 1 s */
    ck_assert_double_eq_tol(fs_run_eta(10, 10, 0, 100, 0, H, 0), 90, 1e-9);
    /* resumed after round 50: 10 s bought rounds 51..60, not 60 rounds (that said 6.7 s) */
    ck_assert_double_eq_tol(fs_run_eta(10, 60, 50, 100, 50 * H, 60 * H, 0), 40, 1e-9);
    /* max_virtual_hours 2 ends 100,000 rounds early: 10 s per virtual hour, 1 hour left */
    ck_assert_double_eq_tol(fs_run_eta(10, 10, 0, 100000, 0, H, 2.0 * H), 10, 1e-9);
    /* past the limit (the last round overshoots it): nothing left, never negative */
    ck_assert_double_eq(fs_run_eta(10, 10, 0, 100000, 0, 3 * H, 2.0 * H), 0);
    /* no round in this session yet: no estimate */
    ck_assert(isnan(fs_run_eta(10, 50, 50, 100, 0, H, 0)));
}
END_TEST

/* Counts the rounds delivered and the snapshots among them. */
typedef struct snaps {
    int rounds, snapshots;
    unsigned kept;                /* bit r: round r carried a snapshot */
    int stop_at;                  /* > 0: a stop is asked for once this round is recorded */
    volatile sig_atomic_t stop;   /* the engine's stop flag (cfg.stop) */
} snaps;

static int count_snapshots(void *ctx, fs_round_result *res, fs_err *err)
{
    (void)err;
    snaps *c = ctx;
    c->rounds++;
    c->snapshots += res->checkpoint != NULL && res->checkpoint_len > 0;
    if (res->checkpoint && res->row.round < 32) c->kept |= 1u << res->row.round;
    if (c->stop_at && res->row.round == c->stop_at) c->stop = 1; /* as a signal between rounds */
    return FS_OK;
}

#define POLICY_SCN(server)                                                                     \
    "{\"name\":\"t\",\"seed\":3,\"data\":{\"source\":\"synthetic\",\"clients\":40,"           \
    "\"synthetic\":{\"max_samples_per_client\":40}},\"server\":{\"rounds\":6,"                  \
    "\"clients_per_round\":4" server "},\"output\":{\"checkpoint_every\":2}}"

/* checkpoint_every 2 over 6 rounds: rounds 2 and 4 carry a snapshot under sync (the last round
 * never does); the FedBuff entry is not checkpointable, so none, and a resume is refused with
 * the entry's name. */
static void check_policy(const char *text, bool checkpointable)
{
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    const fs_server_ops *ops = fs_server_of(t.s.server.mode);
    ck_assert_int_eq(ops->checkpointable, checkpointable);
    snaps c = {0};
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 1,
                         .on_round = count_snapshots, .ctx = &c, .checkpoint_every = 2};
    ck_assert_int_eq(fs_engine_run(&cfg, NULL, NULL, NULL), FS_OK);
    ck_assert_int_eq(c.rounds, 6);
    ck_assert_int_eq(c.snapshots, (checkpointable ? 2 : 0));
    if (!checkpointable) {
        static const unsigned char junk[64];
        char want[FS_ERR_MSG_LEN];
        snprintf(want, sizeof want,
                 "server.mode: %s runs cannot be resumed yet (no checkpoints)", ops->name);
        cfg.resume_state = junk;
        cfg.resume_len = sizeof junk;
        cfg.resume_round = 2;
        fs_err err;
        fs_err_init(&err, NULL);
        ck_assert_int_eq(fs_engine_run(&cfg, NULL, NULL, &err), FS_ESCENARIO);
        ck_assert_str_eq(err.msgs[0], want);
    }
    fs_test_setup_fini(&t);
}

/* Jain's index over the consenting population's selection counts: (2, 1, 0, 0) gives
 * 3^2 / (4 x 5) = 0.45, half of the clients never selected; the round's counts reset after
 * their rows are taken, the selection counts do not. */
START_TEST(mix_jain_and_never_selected_match_hand_computed)
{
    fs_mix m = {.n_clients = 4, .n_consenting = 4};
    m.times_selected = calloc(4, sizeof *m.times_selected);
    const fs_db_mix *rows;
    size_t n;
    double jain, never;
    ck_assert_int_eq(fs_mix_take_rows(&m, 1, true, &rows, &n, &jain, &never), FS_OK);
    ck_assert(isnan(jain));
    ck_assert_double_eq(never, 1);
    uint32_t ids[] = {0, 1, 0};
    fs_mix_count(&m, FS_MIX_SELECTED, ids, 3);
    ck_assert_int_eq(fs_mix_take_rows(&m, 2, false, &rows, &n, &jain, &never), FS_OK);
    ck_assert_double_eq_tol(jain, 0.45, 1e-15);
    ck_assert_double_eq(never, 0.5);
    /* a checkpoint restores times_selected; the sums are rebuilt from it */
    m.sum1 = m.sum2 = 0, m.n_ever = 0;
    fs_mix_restored(&m);
    ck_assert_int_eq(fs_mix_take_rows(&m, 3, false, &rows, &n, &jain, &never), FS_OK);
    ck_assert_double_eq_tol(jain, 0.45, 1e-15);
    fs_mix_count_one(&m, FS_MIX_SELECTED, 2);
    fs_mix_count_one(&m, FS_MIX_SELECTED, 3);
    fs_mix_count_one(&m, FS_MIX_SELECTED, 1);
    ck_assert_int_eq(fs_mix_take_rows(&m, 4, false, &rows, &n, &jain, &never), FS_OK);
    ck_assert_double_eq_tol(jain, 0.9, 1e-15); /* (2, 2, 1, 1): 6^2 / (4 x 10) */
    ck_assert_double_eq(never, 0);
    fs_mix_fini(&m);
}
END_TEST

/* fs_mix's selection counts come from fs_array_zeroed: every page of a block far above malloc's
 * mmap threshold is resident (written) when it returns, where calloc's would be untouched and
 * map the zero page on a first read; its bytes are zero; an overflowing size is refused. */
START_TEST(array_zeroed_pages_are_written)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = 4096 * page;
    mallopt(M_MMAP_THRESHOLD, 1 << 20); /* fixed: glibc raises it after large frees */
    mallopt(M_PERTURB, 0); /* meson sets MALLOC_PERTURB_, with which calloc writes its blocks */
    unsigned char *p = fs_array_zeroed(n, 1);
    ck_assert_ptr_nonnull(p);
    uintptr_t start = (uintptr_t)p / page * page; /* mincore wants a page-aligned address */
    size_t len = (uintptr_t)p + n - start, pages = (len + page - 1) / page;
    unsigned char *resident = malloc(pages);
    ck_assert_int_eq(mincore((void *)start, len, resident), 0);
    size_t in = 0, nonzero = 0;
    for (size_t i = 0; i < pages; i++) in += resident[i] & 1;
    for (size_t i = 0; i < n; i++) nonzero += p[i] != 0;
    ck_assert_uint_eq(in, pages);
    ck_assert_uint_eq(nonzero, 0);
    free(resident);
    free(p);
    /* volatile: a constant would let GCC inline the refused size into explicit_bzero's path
     * and warn (-Wstringop-overflow, sanitizer build) about a call that never happens */
    volatile size_t huge = SIZE_MAX / 2;
    ck_assert_ptr_null(fs_array_zeroed(huge, 4));
}
END_TEST

START_TEST(engine_server_table_decides_checkpoints)
{
    ck_assert_str_eq(fs_server_of(FS_SERVER_SYNC)->name, "sync");
    ck_assert_str_eq(fs_server_of(FS_SERVER_ASYNC)->name, "async");
    for (int m = 0; fs_server_names[m]; m++) /* the schema's words are the table's names */
        ck_assert_str_eq(fs_server_of((enum fs_server_mode)m)->name, fs_server_names[m]);
    check_policy(POLICY_SCN(""), true);
    check_policy(POLICY_SCN(",\"mode\":\"async\",\"async\":{\"concurrency\":6,\"buffer_size\":3}"),
                 false);
}
END_TEST

/* The rounds of a sync run (rounds, checkpoint_every 2, the given wall interval and virtual
 * time limit, 0 = none) that carried a snapshot, as a bit set; with stop_at > 0 a stop is asked
 * for once round stop_at is recorded, and *played says how many rounds were. */
static unsigned kept_rounds_stopped(int rounds, double interval_s, double max_hours, int stop_at,
                                    int *played)
{
    char text[1024];
    snprintf(text, sizeof text,
             SYNTH(40, "\"server\":{\"rounds\":%d,\"clients_per_round\":4,"
                       "\"max_virtual_hours\":%g}"),
             rounds, max_hours);
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    snaps c = {.stop_at = stop_at};
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 1,
                         .on_round = count_snapshots, .ctx = &c, .stop = &c.stop,
                         .checkpoint_every = 2, .checkpoint_min_interval_s = interval_s};
    ck_assert_int_eq(fs_engine_run(&cfg, NULL, NULL, NULL), stop_at ? FS_EINTERRUPTED : FS_OK);
    *played = c.rounds;
    fs_test_setup_fini(&t);
    return c.kept;
}

static unsigned kept_rounds(int rounds, double interval_s, double max_hours)
{
    int played;
    unsigned kept = kept_rounds_stopped(rounds, interval_s, max_hours, 0, &played);
    ck_assert_int_eq(played, rounds);
    return kept;
}

/* Of the due rounds (every 2nd, never the final one), an interval longer than the run keeps only
 * the last, whatever the machine's speed, so a finished run's file does not depend on it; with
 * a virtual time limit the run may end earlier, no round is known to be the last, and every
 * due round is kept, as with an interval of 0. */
START_TEST(engine_checkpoint_interval_keeps_the_last_due_round)
{
    const unsigned r2 = 1u << 2, r4 = 1u << 4, r6 = 1u << 6, r8 = 1u << 8;
    ck_assert_uint_eq(kept_rounds(9, 0, 0), r2 | r4 | r6 | r8);
    ck_assert_uint_eq(kept_rounds(9, 1e6, 0), r8);
    ck_assert_uint_eq(kept_rounds(8, 1e6, 0), r6);
    ck_assert_uint_eq(kept_rounds(9, 1e6, 1e4), r2 | r4 | r6 | r8);
    ck_assert_uint_eq(kept_rounds(2, 1e6, 0), 0);
}
END_TEST

/* A stop asked for between two rounds, whose first was not kept (round 3, or round 4 with due
 * rounds skipped), plays one more round and keeps it, so that a resume loses nothing; after a
 * kept round (4 with an interval of 0, the last due round 8) or without skipped rounds (interval
 * 0, a time limit) the run stops at once and a resume replays from the last due round. */
START_TEST(engine_stop_keeps_the_round_it_ends)
{
    const unsigned r2 = 1u << 2, r4 = 1u << 4, r8 = 1u << 8;
    int played;
    ck_assert_uint_eq(kept_rounds_stopped(9, 1e6, 0, 3, &played), r4);
    ck_assert_int_eq(played, 4);
    ck_assert_uint_eq(kept_rounds_stopped(9, 1e6, 0, 4, &played), 1u << 5);
    ck_assert_int_eq(played, 5);
    ck_assert_uint_eq(kept_rounds_stopped(9, 1e6, 0, 8, &played), r8);
    ck_assert_int_eq(played, 8);
    ck_assert_uint_eq(kept_rounds_stopped(9, 0, 0, 3, &played), r2);
    ck_assert_int_eq(played, 3);
    ck_assert_uint_eq(kept_rounds_stopped(9, 0, 0, 4, &played), r2 | r4);
    ck_assert_int_eq(played, 4);
    ck_assert_uint_eq(kept_rounds_stopped(9, 1e6, 1e4, 3, &played), r2);
    ck_assert_int_eq(played, 3);
}
END_TEST

/* Clients of a run with min_battery (0 = off) whose battery level is no longer the initial one,
 * out of those selected at least once. */
static void battery_changes(double min_battery, size_t *changed, size_t *selected)
{
    char text[1024];
    snprintf(text, sizeof text,
             SYNTH(30, "\"server\":{\"rounds\":6,\"clients_per_round\":5,"
                       "\"round_interval_s\":3600},"
                       "\"devices\":{\"eligibility\":{\"min_battery\":%g}}"),
             min_battery);
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    fs_real *w = calloc(t.w.model->n_params, sizeof *w);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = 1};
    ck_assert_int_eq(fs_engine_run(&cfg, w, NULL, NULL), FS_OK);
    *changed = *selected = 0;
    for (uint32_t i = 0; i < t.pop.n; i++) {
        const fs_client *c = &t.pop.clients[i];
        *selected += c->t_busy_until != 0;
        *changed += c->battery != fs_energy_initial_battery(&t.s, i);
    }
    free(w);
    fs_test_setup_fini(&t);
}

/* The battery level is computed only where eligibility reads it (fs_pop.battery_read): with
 * min_battery on, the phones that took part drained (or recharged) theirs; without it every
 * level stays its initial value, which nothing else reads. */
START_TEST(engine_tracks_battery_only_when_eligibility_reads_it)
{
    size_t changed, selected;
    battery_changes(0.01, &changed, &selected);
    ck_assert_uint_ge(selected, 10);
    ck_assert_uint_ge(changed, selected / 2);
    battery_changes(0, &changed, &selected);
    ck_assert_uint_ge(selected, 10);
    ck_assert_uint_eq(changed, 0);
}
END_TEST

static bool due_less(const fs_due *x, const fs_due *y)
{
    return x->t != y->t ? x->t < y->t : x->slot < y->slot;
}

static int due_cmp(const void *a, const void *b)
{
    return due_less(a, b) ? -1 : due_less(b, a) ? 1 : 0;
}

/* A wave trains the k deferred participations due soonest (fs_engine_train.c): the quickselect
 * must leave exactly those in front, whatever the times' pattern (random, sorted, reversed, all
 * equal so the slots decide, few distinct), and lose or duplicate none. */
START_TEST(engine_keep_earliest_takes_the_k_earliest)
{
    const size_t sizes[] = {2, 3, 17, 18, 100, 649, 5000};
    fs_due *d = malloc(5000 * sizeof *d), *ref = malloc(5000 * sizeof *ref);
    ck_assert(d && ref);
    uint64_t x = 12345;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int pattern = 0; pattern < 5; pattern++) {
            size_t n = sizes[si];
            size_t ks[] = {1, n / 2 ? n / 2 : 1, n - 1};
            for (int ki = 0; ki < 3; ki++) {
                size_t k = ks[ki];
                for (size_t i = 0; i < n; i++) {
                    x = x * 6364136223846793005u + 1442695040888963407u;
                    int64_t t = pattern == 0   ? (int64_t)(x >> 20)
                                : pattern == 1 ? (int64_t)i
                                : pattern == 2 ? (int64_t)(n - i)
                                : pattern == 3 ? 7
                                               : (int64_t)(x >> 62);
                    /* slots in a shuffled order, unique (7919 is a prime above every n) */
                    d[i] = (fs_due){.t = t, .slot = (uint32_t)((i * 7919) % n)};
                }
                memcpy(ref, d, n * sizeof *d);
                fs_engine_keep_earliest(d, n, k);
                /* the front sorted, then the rest sorted, is the whole sorted */
                qsort(ref, n, sizeof *ref, due_cmp);
                fs_due *got = malloc(n * sizeof *got);
                ck_assert_ptr_nonnull(got);
                memcpy(got, d, n * sizeof *d);
                qsort(got, k, sizeof *got, due_cmp);
                qsort(got + k, n - k, sizeof *got, due_cmp);
                for (size_t i = 0; i < n; i++)
                    ck_assert_msg(got[i].t == ref[i].t && got[i].slot == ref[i].slot,
                                  "n %zu k %zu pattern %d: entry %zu", n, k, pattern, i);
                free(got);
            }
        }
    free(d);
    free(ref);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, engine_timeline_matches_time_model);
    tcase_add_test(tc, engine_trace_interval_end_drops_a_straddling_participation);
    tcase_add_test(tc, engine_shared_link_follows_processor_sharing);
    tcase_add_test(tc, mix_jain_and_never_selected_match_hand_computed);
    tcase_add_test(tc, array_zeroed_pages_are_written);
    tcase_add_test(tc, engine_shared_ingress_bounds_the_round);
    tcase_add_test(tc, engine_shared_link_cut_records_bytes_sent);
    tcase_add_test(tc, engine_deadline_makes_clients_late);
    tcase_add_test(tc, engine_over_selection_aggregates_first_reports);
    tcase_add_test(tc, engine_counts_dropouts_and_conserves_participants);
    tcase_add_test(tc, engine_training_when_due_equals_training_at_launch);
    tcase_add_test(tc, engine_keep_earliest_takes_the_k_earliest);
    tcase_add_test(tc, engine_times_its_parts);
    tcase_add_test(tc, engine_identical_with_1_and_2_threads);
    tcase_add_test(tc, engine_personal_factors_change_only_when_trained);
    tcase_add_test(tc, engine_on_demand_data_equal_materialized);
    tcase_add_test(tc, engine_rejects_diverging_updates_and_keeps_running);
    tcase_add_test(tc, engine_server_table_decides_checkpoints);
    tcase_add_test(tc, engine_checkpoint_interval_keeps_the_last_due_round);
    tcase_add_test(tc, engine_stop_keeps_the_round_it_ends);
    tcase_add_test(tc, engine_tracks_battery_only_when_eligibility_reads_it);
    tcase_add_test(tc, run_eta_counts_this_session_and_the_virtual_time_limit);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(engine_suite)
