/* fs_run: wiring of world, population, recorder and engine for one run. */
#include "fs_run.h"
#include "fs_clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_attack.h"
#include "fs_blas.h"
#include "fs_ckpt.h"
#include "fs_crc32.h"
#include "fs_db.h"
#include "fs_device.h"
#include "fs_engine.h"
#include "fs_metrics.h"
#include "fs_mix.h"
#include "fs_mpi.h"
#include "fs_pop.h"
#include "fs_server.h"
#include "fs_db_writer.h"
#include "fs_world.h"

#ifndef FEDSIM_VERSION
#define FEDSIM_VERSION "unknown"
#endif

typedef struct run_ctx {
    const fs_scenario *s;
    const fs_run_opts *opts;
    fs_db *db;
    int64_t run_id;
    fs_run_summary *sum;
    double wall_start;
    double wall_progress; /* when the progress line was last drawn */
    int64_t t_session_start; /* virtual time when this session's first round began */
    int resume_round;     /* the checkpoint's round when resuming, else 0 */
    bool claimed;         /* a resumed run was taken over (truncated, marked running) */
    fs_db_writer *writer; /* the database's rows go through it while it runs (rank 0) */
    bool write_direct;    /* no writer thread could be started: rows are written here */
    /* across ranks the engine reads this, never the signal flag itself: a signal reaches the
     * ranks at different moments, and one rank stopping at a round the others play leaves
     * them waiting in its broadcasts (MPI_ERR_TRUNCATE, seen in CI). Set only by agree(). */
    volatile sig_atomic_t agreed_stop;
} run_ctx;

double fs_run_eta(double elapsed, int done, int resumed_from, int total, int64_t t_start,
                  int64_t t_now, double max_virtual_us)
{
    int now_done = done - resumed_from;
    if (now_done <= 0) return NAN;
    double eta = elapsed / now_done * (total - done);
    double t = (double)t_now, t0 = (double)t_start;
    if (max_virtual_us > 0 && t > t0) {
        double by_time = elapsed / (t - t0) * (max_virtual_us - t);
        if (by_time < eta) eta = by_time > 0 ? by_time : 0;
    }
    return eta;
}

static double eta_seconds(const run_ctx *c, const fs_round_result *res, double elapsed)
{
    return fs_run_eta(elapsed, res->row.round, c->sum->resumed_from, c->s->server.rounds,
                      c->t_session_start, res->row.t_end,
                      c->s->server.max_virtual_hours * (double)FS_US_PER_H);
}

/* Redrawn at most ten times a second: a fast run must not spend its time on the terminal. */
static void print_progress(run_ctx *c, const fs_round_result *res)
{
    double now = fs_wall_seconds(), elapsed = now - c->wall_start;
    int done = res->row.round, total = c->s->server.rounds;
    if (now - c->wall_progress < 0.1 && done != total) return;
    c->wall_progress = now;
    double eta = eta_seconds(c, res, elapsed);
    char ranks[24] = "";
    if (fs_mpi_size() > 1) snprintf(ranks, sizeof ranks, "  %d ranks", fs_mpi_size());
    fprintf(stderr, "\rround %d/%d  virtual %.2f h  %s %.4f  wall %.0f s  ETA %.0f s%s   ", done,
            total, (double)res->row.t_end / (double)FS_US_PER_H, c->sum->headline, res->accuracy,
            elapsed, isnan(eta) ? 0 : eta, ranks);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

static void tally(fs_run_summary *sum, const fs_round_result *res)
{
    const fs_db_round *r = &res->row;
    sum->rounds = r->round;
    sum->t_end = r->t_end;
    sum->bytes_up += r->bytes_up;
    sum->bytes_down += r->bytes_down;
    sum->selected += r->selected;
    sum->reported += r->reported;
    sum->dropped += r->dropped;
    sum->late += r->late;
    sum->aborted += r->aborted;
    sum->rejected += r->rejected;
    if (!isnan(r->epsilon)) sum->epsilon = r->epsilon;
    if (!isnan(r->compute_s)) sum->compute_s += r->compute_s;
    if (res->n_evals && isnan(sum->first_accuracy)) sum->first_accuracy = res->accuracy;
    sum->final_accuracy = res->accuracy;
}

static int record_round(void *ctx, fs_round_result *res, fs_err *err);

/* Across ranks every decision that ends a run is taken together after each round: a failure of
 * rank 0's database or a stop signal that reached one rank stops all of them before the next
 * round, which would otherwise wait for ranks that left. */
static int agree(run_ctx *c, int rc, fs_err *err)
{
    if (fs_mpi_size() == 1) return rc;
    volatile sig_atomic_t *flag = c->opts->stop;
    int stop = fs_mpi_max_int(flag ? (int)*flag : 0);
    if (stop && flag && !*flag) *flag = stop;
    c->agreed_stop = stop;
    int all = fs_mpi_max_int(rc);
    if (all && !rc)
        fs_err_add(err, NULL, "another MPI rank of the run failed (%s)",
                   fs_strerror(all));
    return all;
}

static int on_round(void *ctx, fs_round_result *res, fs_err *err)
{
    int rc = fs_mpi_rank() == 0 ? record_round(ctx, res, err) : FS_OK;
    return agree(ctx, rc, err);
}

/* A round goes to the writer thread (started here for a resumed run, whose clients rows were
 * only compared), or straight to the database when no thread could be started. */
static int write_round(run_ctx *c, fs_round_result *res, fs_err *err)
{
    bool with_parts = c->s->output.participation;
    if (!c->writer && !c->write_direct &&
        !(c->writer = fs_db_writer_start(c->db, c->run_id, NULL, 0, NULL, FS_DB_WRITER_BYTES_MAX)))
        c->write_direct = true;
    if (c->writer)
        return fs_db_writer_round(c->writer, &res->row, res->parts, res->n_parts, with_parts,
                                  res->evals, res->n_evals, (void **)&res->checkpoint,
                                  res->checkpoint_len, err);
    fs_db_round row = res->row;
    row.energy_parts = res->parts, row.n_energy_parts = res->n_parts;
    return fs_db_write_round_ckpt(c->db, c->run_id, &row, with_parts ? res->parts : NULL,
                                  with_parts ? res->n_parts : 0, res->evals, res->n_evals,
                                  res->checkpoint, res->checkpoint_len, err);
}

static int record_round(void *ctx, fs_round_result *res, fs_err *err)
{
    run_ctx *c = ctx;
    int rc = write_round(c, res, err);
    if (rc) return rc;
    if (c->sum->rounds == 0) /* the session's first round */ c->t_session_start = res->row.t_start;
    tally(c->sum, res);
    if (c->opts->progress) print_progress(c, res);
    return FS_OK;
}

/* The clients table's device: the capacity trace's device_model when its row has one, else the
 * energy model's class. */
static const char *device_class(const fs_pop *pop, uint32_t id)
{
    const char *model = pop->cap_trace ? fs_trace_cap_model(pop->cap_trace, fs_pop_cap_key(pop, id))
                                       : NULL;
    return model ? model : fs_energy_class_names[pop->clients[id].dev_class];
}

/* Client i's time zone name (participation_mix's utc_offset level), formatted once per zone:
 * a million snprintf calls were a visible share of the start. */
static const char *tz_name(char (*tz)[16], int q)
{
    char *name = tz[q + 128];
    if (!name[0]) fs_mix_tz_name(q, name, 16);
    return name;
}

/* The population's clients rows (NULL when out of memory, said in err); their time zones' names
 * are in *out_tz (by utc_offset_q + 128), the rest point into the population. */
static fs_db_client *client_rows_new(const run_ctx *c, const fs_pop *pop, char (**out_tz)[16],
                                     fs_err *err)
{
    fs_db_client *rows = calloc(pop->n ? pop->n : 1, sizeof *rows);
    char(*tz)[16] = calloc(256, sizeof *tz);
    if (!rows || !tz) {
        free(rows);
        free(tz);
        fs_err_add(err, NULL, "out of memory recording %zu clients", pop->n);
        return NULL;
    }
    bool diurnal = c->s->devices.availability == FS_AVAIL_DIURNAL;
    for (size_t i = 0; i < pop->n; i++) {
        const fs_client *cl = &pop->clients[i];
        rows[i] = (fs_db_client){.client_id = (uint32_t)i,
                                    .n_train = cl->n_train,
                                    .n_test = cl->n_test,
                                    .segment = diurnal ? tz_name(tz, cl->avail.utc_offset_q)
                                                       : NULL,
                                    .gflops = cl->gflops,
                                    .uplink_mbps = cl->uplink_mbps,
                                    .downlink_mbps = cl->downlink_mbps,
                                    .latency_ms = cl->latency_ms,
                                    .consent = cl->consent,
                                    .attacker = cl->attacker,
                                    .trace_key = pop->avail_trace ? fs_trace_key_name(
                                                                        pop->avail_trace,
                                                                        cl->avail.trace_key)
                                                                  : NULL,
                                    .device_class = device_class(pop, (uint32_t)i),
                                    .network = cl->home_wifi ? "wifi" : "cellular",
                                    .has_utc_offset = diurnal,
                                    .utc_offset_min = cl->avail.utc_offset_q * 15};
    }
    *out_tz = tz;
    return rows;
}

/* The clients rows of the population: a resumed run compares them now; a new run hands them to
 * the writer thread (fs_db_writer: at a million clients the table takes over a second, the
 * longest serial part of the run), or writes them here when no thread can be started. */
static int client_rows(run_ctx *c, const fs_pop *pop, bool check, fs_err *err)
{
    char(*tz)[16] = NULL;
    fs_db_client *rows = client_rows_new(c, pop, &tz, err);
    if (!rows) return FS_ENOMEM;
    if (!check && (c->writer = fs_db_writer_start(c->db, c->run_id, rows, pop->n, tz,
                                                  FS_DB_WRITER_BYTES_MAX)))
        return FS_OK;
    c->write_direct = !check;
    int rc = check ? fs_db_check_clients(c->db, c->run_id, rows, pop->n, err)
                   : fs_db_write_clients(c->db, c->run_id, rows, pop->n, err);
    free(rows);
    free(tz);
    return rc;
}

/* The engine accepted the checkpoint: only now is the run truncated and marked running. */
static int on_resumed(void *ctx, fs_err *err)
{
    run_ctx *c = ctx;
    int rc = fs_mpi_rank() == 0 ? fs_db_resume_claim(c->db, c->run_id, c->resume_round, err)
                                : FS_OK;
    c->claimed = rc == FS_OK;
    return agree(c, rc, err);
}

/* Resuming: the latest unfinished run of this scenario continues from its checkpoint; without
 * one, a new run starts (said on stderr). *out_state is the checkpoint (caller frees). */
static int try_resume(run_ctx *c, const fs_db_run *meta, void **out_state, size_t *out_len,
                      fs_err *err)
{
    int round = 0;
    int rc = fs_db_resume(c->db, meta, &c->run_id, &round, out_state, out_len, err);
    if (rc) return rc;
    if (*out_state) {
        c->sum->resumed_from = c->resume_round = round;
    } else if (c->run_id > 0) {
        /* deterministic: running it again records what the stopped run would have */
        fprintf(stderr, "fedsim: note: run %lld of \"%s\" in %s stopped before its first "
                        "checkpoint; running it again from round 1\n",
                (long long)c->run_id, meta->name, fs_db_path(c->db));
        rc = fs_db_resume_claim(c->db, c->run_id, 0, err);
        c->claimed = rc == FS_OK;
    } else {
        fprintf(stderr, "fedsim: note: no unfinished run of \"%s\" to resume in %s; "
                        "starting a new run\n", meta->name, fs_db_path(c->db));
    }
    return rc;
}

/* Who trained how many clients and sent how much, for the summary: each rank's figures, from
 * each rank in turn (bytes counted before these broadcasts add their own). */
static void tally_ranks(fs_run_summary *out, long here)
{
    out->ranks = fs_mpi_size();
    double mb = (double)fs_mpi_bytes_out() / 1e6;
    for (int r = 0; r < out->ranks && r < 8; r++) {
        int64_t n = here;
        double m = mb;
        if (fs_mpi_bcast(&n, sizeof n, r, NULL) || fs_mpi_bcast(&m, sizeof m, r, NULL)) break;
        out->trained_by_rank[r] = (long)n;
        out->mb_out_by_rank[r] = m;
    }
}

/* Across ranks: rank 0 read the checkpoint; every rank resumes from the same bytes and round. */
static int share_resume(run_ctx *c, void **state, size_t *len, fs_err *err)
{
    if (fs_mpi_size() == 1) return FS_OK;
    int64_t head[2] = {*state ? (int64_t)*len : -1, c->resume_round};
    int rc = fs_mpi_bcast(head, sizeof head, 0, err);
    if (rc || head[0] < 0) return rc;
    c->resume_round = (int)head[1];
    c->sum->resumed_from = c->resume_round;
    if (fs_mpi_rank() > 0) {
        *len = (size_t)head[0];
        if (!(*state = malloc(*len ? *len : 1))) return fs_mpi_abort(71), FS_ENOMEM;
    }
    return fs_mpi_bcast(*state, *len, 0, err);
}

static int begin(run_ctx *c, const char *db_path, void **out_state, size_t *out_len, fs_err *err)
{
    int rc = fs_db_open_paged(db_path, fs_db_page_size_for(c->s->data.clients), &c->db, err);
    if (rc) return rc;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const typeof(c->s->eval) *ev = &c->s->eval;
    fs_db_run meta = {.name = c->s->name,
                      .scenario_json = c->s->json,
                      .seed = c->s->seed,
                      .population_seed = c->s->population_seed,
                      .replicate = c->opts->replicate,
                      .run_id = c->opts->run_id,
                      .run_id_or_next = c->opts->run_id_or_next,
                      .headline_metric = c->sum->headline,
                      .variant = c->opts->variant ? c->opts->variant : "",
                      .fedsim_version = FEDSIM_VERSION,
                      .precision = FS_REAL_NAME,
                      .threads = c->opts->n_threads,
                      .ranks = c->opts->n_ranks,
                      .host = host,
                      .target_metric = ev->has_target ? ev->target_metric : NULL,
                      .target_value = ev->target_value,
                      .target_sustain = ev->target_sustain,
                      .target_lower_better =
                          ev->has_target &&
                          fs_metric_lower_is_better(fs_metric_from_name(ev->target_metric))};
    if (c->opts->resume) {
        rc = try_resume(c, &meta, out_state, out_len, err);
        if (rc || c->run_id > 0) return rc;
    }
    rc = fs_db_begin_run(c->db, &meta, &c->run_id, err);
    if (!rc && meta.run_id > 0 && c->run_id != meta.run_id)
        fprintf(stderr, "fedsim: note: run_id %lld was taken in %s (another process writes it):"
                        " this run is run %lld\n",
                (long long)meta.run_id, db_path, (long long)c->run_id);
    return rc;
}

static const char *final_status(int rc)
{
    return rc == FS_OK ? "done" : rc == FS_EINTERRUPTED ? "interrupted" : "failed";
}

/* The attackers (fs_attack_pick), among the clients of adversary.segment when given: a level of
 * eval.segments[0] by each client's first training row, as consent levels are. The level's
 * name was checked against the scenario (fs_scn_rules.c) where the generators name the levels;
 * this catches the rest (a CSV file's levels) before any output exists. */
static int pick_attackers(const fs_scenario *s, const fs_world *w, fs_pop *pop, fs_err *err)
{
    if (!s->adversary.on || !s->adversary.segment[0]) {
        fs_attack_pick(pop, s, NULL, -1);
        return FS_OK;
    }
    const char *group = s->eval.segments[0];
    int32_t level = fs_attack_level_index(&w->train, group, s->adversary.segment);
    if (level < 0)
        return fs_scn_bad_key(s, err, "adversary.segment",
                              "expected a level of \"%s\" (eval.segments[0]), found \"%s\"", group,
                              s->adversary.segment);
    int rc = FS_OK;
    int32_t *levels = fs_world_client_levels_new(w, group, "eval.segments[0]", &rc, err);
    if (!levels) return rc;
    fs_attack_pick(pop, s, levels, level);
    free(levels);
    return FS_OK;
}

/* devices.availability.diurnal.utc_offset_by: each client's time zone is that of its level (by
 * its first training row, as consent levels are). Validation checked the offsets' count where
 * the generators name the levels; this catches the rest (a CSV file's levels) before any output
 * exists. */
static int place_time_zones(const fs_scenario *s, const fs_world *w, fs_pop *pop, fs_err *err)
{
    static const char path[] = "devices.availability.diurnal.utc_offset_by";
    const char *group = s->devices.utc_offset_by;
    if (!group[0] || s->devices.availability != FS_AVAIL_DIURNAL) return FS_OK;
    int g = fs_dataset_find_group(&w->train, group);
    if (g >= 0 && fs_scn_check_utc_levels(s, w->train.groups[g].n_levels, err))
        return FS_ESCENARIO;
    int rc = FS_OK;
    int32_t *levels = fs_world_client_levels_new(w, group, path, &rc, err);
    if (!levels) return rc;
    fs_pop_set_utc_offsets(pop, s, levels);
    free(levels);
    return FS_OK;
}

/* The rank whose value differs from rank 0's (the highest such), 0 when none does. */
static int rank_differing(uint64_t mine, uint64_t root)
{
    return fs_mpi_max_int(mine != root ? fs_mpi_rank() : 0);
}

/* Across ranks, rank 0 records a run every rank computes a share of, each from the scenario
 * and data it loaded itself, on its own host: a rank whose effective scenario or data differ
 * from rank 0's would make the database no run at all, so the run is refused before anything
 * is written. Other OpenBLAS kernels only move the last bits of its clients' updates (as on
 * another machine): a warning. */
static int check_ranks_agree(const fs_scenario *s, const fs_world *w, fs_err *err)
{
    if (fs_mpi_size() == 1) return FS_OK;
    char core[32] = {0};
    snprintf(core, sizeof core, "%s", fs_blas_core());
    uint64_t mine[3] = {fs_ckpt_scenario_hash(s), fs_ckpt_fingerprint(s, w),
                        fs_crc32(0, core, sizeof core)};
    uint64_t root[3];
    memcpy(root, mine, sizeof root);
    int rc = fs_mpi_bcast(root, sizeof root, 0, err);
    if (rc) return rc;
    int scn = rank_differing(mine[0], root[0]), data = rank_differing(mine[1], root[1]);
    int blas = rank_differing(mine[2], root[2]);
    if (blas && fs_mpi_rank() == 0)
        fprintf(stderr,
                "fedsim: warning: rank %d uses other OpenBLAS kernels than rank 0's (%s): its "
                "clients' updates may differ in their last bits from a one-process run's\n",
                blas, core);
    if (!scn && !data) return FS_OK;
    fs_err_add(err, NULL,
               "rank %d's %s differs from rank 0's: every rank must load the same scenario "
               "and the same data (nothing was written)",
               scn ? scn : data, scn ? "effective scenario" : "data");
    return FS_ESCENARIO;
}

/* What prepare made, freed (in the reverse order). */
static void release(fs_world *world, fs_pop *pop, fs_evaluator *ev)
{
    fs_evaluator_fini(ev);
    fs_pop_fini(pop);
    fs_world_fini(world);
}

/* Everything a run loads and checks before its database exists, so that bad input leaves no
 * failed run behind and fedsim validate refuses what a run would: the data, the population and
 * its consent, time zones and attackers, the rules that need the data, the evaluator. A run
 * across ranks also compares its scenario and data with rank 0's (a collective: fs_run_check,
 * which a sweep's rank 0 calls alone, does not). On failure nothing is left to free; on success
 * the caller frees the three. */
static int prepare(const fs_scenario *s, int n_threads, bool across_ranks, fs_world *world,
                   fs_pop *pop, fs_evaluator *ev, fs_err *err)
{
    *pop = (fs_pop){0};
    *ev = (fs_evaluator){0};
    int rc = fs_world_init(world, s, err);
    if (rc) return rc;
    int32_t *levels = NULL;
    if (across_ranks && (rc = check_ranks_agree(s, world, err))) goto fail;
    if (s->privacy.consent_group[0] &&
        !(levels = fs_world_client_levels_new(world, s->privacy.consent_group,
                                                   "privacy.consent.group", &rc, err)))
        goto fail;
    rc = fs_pop_init(pop, s, world->n_train, world->n_test, levels, err);
    free(levels);
    if (rc || (rc = place_time_zones(s, world, pop, err)) ||
        (rc = pick_attackers(s, world, pop, err)) || (rc = fs_engine_check(s, world, err)) ||
        (rc = fs_evaluator_init(ev, world, s, pop, n_threads, err)))
        goto fail;
    return FS_OK;
fail:
    release(world, pop, ev);
    return rc;
}

int fs_run_check(const fs_scenario *s, fs_err *err)
{
    fs_world world;
    fs_pop pop;
    fs_evaluator ev;
    int rc = prepare(s, 1, false, &world, &pop, &ev, err);
    if (!rc) release(&world, &pop, &ev);
    return rc;
}

int fs_run_scenario(const fs_scenario *s, const fs_run_opts *opts, fs_run_summary *out, fs_err *err)
{
    fs_world world;
    fs_pop pop;
    fs_evaluator ev;
    run_ctx c = {.s = s, .opts = opts, .sum = out, .wall_start = fs_wall_seconds()};
    *out = (fs_run_summary){.first_accuracy = NAN, .final_accuracy = NAN, .epsilon = NAN};
    c.sum = out;
    int rc = prepare(s, opts->n_threads, true, &world, &pop, &ev, err);
    if (rc) return rc;
    out->headline = fs_metric_name(ev.metrics[0]);
    void *state = NULL;
    size_t state_len = 0;
    rc = fs_mpi_rank() == 0
             ? begin(&c, opts->db_path ? opts->db_path : s->output.db, &state, &state_len, err)
             : FS_OK;
    if ((rc = agree(&c, rc, err)) || (rc = share_resume(&c, &state, &state_len, err))) {
        free(state);
        goto done;
    }
    out->run_id = c.run_id;
    /* a resumed run has its clients rows already: they must be the devices redrawn above */
    rc = fs_mpi_rank() == 0 ? client_rows(&c, &pop, state != NULL, err) : FS_OK;
    rc = agree(&c, rc, err);
    char origin[1100];
    snprintf(origin, sizeof origin, "%s: run %lld", c.db ? fs_db_path(c.db) : "rank 0",
             (long long)c.run_id);
    if (!rc) {
        /* the data's fingerprint is stamped on checkpoints: none from FedBuff, which keeps none */
        bool keeps = s->output.checkpoint_every > 0 && fs_server_of(s->server.mode)->checkpointable;
        fs_engine_cfg cfg = {.scn = s,
                             .world = &world,
                             .pop = &pop,
                             .n_threads = opts->n_threads,
                             .on_round = on_round,
                             .ctx = &c,
                             .stop = fs_mpi_size() > 1 ? &c.agreed_stop : opts->stop,
                             .eval = &ev,
                             .checkpoint_every = s->output.checkpoint_every,
                             /* ranks must agree on which rounds are kept (fs_engine.c) */
                             .checkpoint_min_interval_s =
                                 fs_mpi_size() > 1 ? 0 : s->output.checkpoint_min_interval_s,
                             .resume_state = state,
                             .resume_len = state_len,
                             .resume_round = c.resume_round,
                             .resume_origin = origin,
                             .on_resumed = on_resumed,
                             .data_fingerprint = keeps ? fs_ckpt_fingerprint(s, &world) : 0};
        fs_engine_stats st = {0};
        double t0 = fs_wall_seconds();
        out->setup_s = t0 - c.wall_start;
        rc = fs_engine_run(&cfg, NULL, &st, err);
        out->events = st.events;
        out->train_s = st.train_s;
        out->eval_s = st.eval_s;
        out->engine_s = fs_wall_seconds() - t0 - st.train_s - st.eval_s;
        out->select_s = st.select_s;
        out->aggregate_s = st.aggregate_s;
        out->record_s = st.record_s;
        tally_ranks(out, st.trained_here);
    }
    /* the rounds handed to the writer are the rounds played: written whatever ended the run */
    int rc_writer = fs_db_writer_finish(c.writer, err);
    c.writer = NULL;
    if (!rc) rc = rc_writer;
    out->wall_s = fs_wall_seconds() - c.wall_start;
    if (opts->progress && rc) fputc('\n', stderr);
    /* a refused resume leaves its run exactly as it was (e.g. interrupted), never running */
    if (fs_mpi_rank() == 0 && (!state || c.claimed)) {
        int rc2 = fs_db_finish_run(c.db, c.run_id, final_status(rc), out->wall_s, err);
        if (!rc) rc = rc2;
    }
    free(state);
done:
    fs_db_close(c.db);
    release(&world, &pop, &ev);
    return rc;
}
