/* fs_engine: synchronous rounds over the event queue.
 *
 * Why plan whole participations up front: every random quantity of a participation (when the
 * client goes offline, whether and when it crashes) comes from its own (client, round) stream,
 * so its timeline is known at dispatch. That lets the engine train the clients that will finish
 * training all at once, in parallel, and still replay the round as discrete events (download
 * done, training done, report arrived, dropped, deadline) in exact virtual-time order. */
#include "fs_clock.h"
#include "fs_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_device.h"
#include "fs_rng.h"

/* Event kinds double as tie-break classes: at one instant a drop is seen before progress, and a
 * report arriving exactly at the deadline still counts. */
enum { EV_DROPPED, EV_DOWNLOADED, EV_TRAINED, EV_ARRIVED, EV_DEADLINE };

enum { ST_DOWNLOADING, ST_TRAINING, ST_UPLOADING, ST_REPORTED, ST_DROPPED, ST_LATE, ST_ABORTED };

#define WAIT_LIMIT_US (30 * 24 * FS_US_PER_H)

typedef struct part {
    uint32_t client;
    int stage;
    int progress;          /* stages completed: 1 downloaded, 2 trained, 3 reported */
    bool offline_drop;     /* the planned drop is the client going offline (not a crash) */
    int64_t t_sel, t_dl, t_tr, t_rep, t_drop, t_end;
    int64_t t_off;         /* when the client goes offline (INT64_MAX: not during this round) */
    double crash_at;       /* crash at this fraction of the participation; < 0: no crash */
    double bytes_up;       /* size of its update on the wire */
    uint64_t handle;       /* pending event, 0 when none */
} part;

typedef struct engine {
    const fs_engine_cfg *cfg;
    const fs_scenario *s;
    fs_evq q;
    fs_avail avail;
    fs_trainer trainer;
    gsl_rng *r_sel, *r_cli;
    size_t n_params, max_sel, n_sel;
    double *w, *acc;
    fs_update *updates;    /* max_sel slots, one per in-flight client */
    part *parts;
    fs_train_job *jobs;
    fs_db_part *rows;
    uint32_t *ids;
    const fs_update **agg_u;
    double *agg_n;
    double model_bytes;
    int64_t now;
    uint64_t pass;
    /* the round being played */
    int round, reported, n_final;
    bool closed, by_deadline;
    int64_t t_close;
    uint64_t deadline_handle;
    fs_evaluator own_eval, *eval;
    double last_accuracy;
} engine;

static int engine_init(engine *e, const fs_engine_cfg *cfg, fs_err *err)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->s = cfg->scn;
    fs_evq_init(&e->q);
    fs_avail_init(&e->avail, e->s);
    const fs_model *m = cfg->world->model;
    e->n_params = m->n_params;
    e->model_bytes = fs_world_model_bytes(cfg->world);
    e->max_sel = (size_t)ceil((double)e->s->server.clients_per_round * e->s->server.over_selection);
    if (e->max_sel > cfg->pop->n) e->max_sel = cfg->pop->n;
    e->last_accuracy = NAN;
    int rc = fs_trainer_init(&e->trainer, cfg->world, e->s, cfg->n_threads, err);
    if (rc) return rc;
    e->eval = cfg->eval;
    if (!e->eval) {
        if ((rc = fs_evaluator_init(&e->own_eval, cfg->world, e->s, cfg->n_threads, err))) return rc;
        e->eval = &e->own_eval;
    }
    e->r_sel = fs_rng_new();
    e->r_cli = fs_rng_new();
    e->w = malloc(e->n_params * sizeof *e->w);
    e->acc = malloc(e->n_params * sizeof *e->acc);
    e->updates = calloc(e->max_sel, sizeof *e->updates);
    e->parts = calloc(e->max_sel, sizeof *e->parts);
    e->jobs = calloc(e->max_sel, sizeof *e->jobs);
    e->rows = calloc(e->max_sel, sizeof *e->rows);
    e->ids = calloc(e->max_sel, sizeof *e->ids);
    e->agg_u = calloc(e->max_sel, sizeof *e->agg_u);
    e->agg_n = calloc(e->max_sel, sizeof *e->agg_n);
    bool ok = e->r_sel && e->r_cli && e->w && e->acc && e->updates && e->parts && e->jobs &&
              e->rows && e->ids && e->agg_u && e->agg_n;
    for (size_t i = 0; ok && i < e->max_sel; i++)
        ok = fs_update_init(&e->updates[i], e->n_params, cfg->world->sparse_updates,
                                cfg->world->model->n_personal) == FS_OK;
    if (!ok) {
        fs_err_add(err, NULL, "out of memory for %zu in-flight clients of %zu parameters",
                   e->max_sel, e->n_params);
        return FS_ENOMEM;
    }
    fs_rng_reseed(e->r_sel, e->s->seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, e->w, e->r_sel);
    return FS_OK;
}

static void engine_fini(engine *e)
{
    fs_evq_fini(&e->q);
    fs_trainer_fini(&e->trainer);
    if (e->eval == &e->own_eval) fs_evaluator_fini(&e->own_eval);
    gsl_rng_free(e->r_sel);
    gsl_rng_free(e->r_cli);
    free(e->w);
    free(e->acc);
    for (size_t i = 0; e->updates && i < e->max_sel; i++) fs_update_fini(&e->updates[i]);
    free(e->updates);
    free(e->parts);
    free(e->jobs);
    free(e->rows);
    free(e->ids);
    free(e->agg_u);
    free(e->agg_n);
}

/* ---- planning a participation ---- */

/* Everything of a participation that is known before training: download and compute times and
 * the random events (going offline, crashing). The upload, whose size may depend on the trained
 * update, is planned by finish_plan. Draw order is fixed: online time, crash?, crash point. */
static void plan_part(engine *e, part *p, uint32_t id, int64_t t0)
{
    const fs_client *c = &e->cfg->pop->clients[id];
    double flops = (double)e->s->train.epochs * fs_world_client_flops(e->cfg->world, id);
    *p = (part){.client = id, .stage = ST_DOWNLOADING, .t_sel = t0, .crash_at = -1};
    p->t_dl = t0 + fs_time_transfer_us(e->model_bytes, c->downlink_mbps, c->latency_ms);
    p->t_tr = p->t_dl + fs_time_compute_us(3.0 * flops, c->gflops);

    gsl_rng *r = e->r_cli;
    fs_rng_reseed(r, e->s->seed, FS_RNG_FAILURE, id, (uint64_t)e->round);
    int64_t left = fs_avail_online_left(&e->avail, r);
    p->t_off = left == INT64_MAX ? INT64_MAX : t0 + left;
    if (gsl_rng_uniform(r) < e->s->devices.failure_prob) p->crash_at = gsl_rng_uniform(r);
}

/* Upload time from the update's real size, then the drop time (a crash falls at its fraction of
 * the whole participation). */
static void finish_plan(engine *e, part *p, const fs_update *u, bool trained)
{
    const fs_client *c = &e->cfg->pop->clients[p->client];
    p->bytes_up = trained ? fs_update_bytes(u) : e->model_bytes;
    p->t_rep = p->t_tr + fs_time_transfer_us(p->bytes_up, c->uplink_mbps, c->latency_ms);
    int64_t t_crash = INT64_MAX;
    if (p->crash_at >= 0) t_crash = p->t_sel + (int64_t)(p->crash_at * (double)(p->t_rep - p->t_sel));
    p->offline_drop = p->t_off <= t_crash;
    p->t_drop = p->t_off < t_crash ? p->t_off : t_crash;
    if (p->t_drop >= p->t_rep) p->t_drop = INT64_MAX;
}

static int push_event(engine *e, int kind, int64_t t, uint32_t slot, fs_err *err)
{
    fs_event ev = {.t = t, .cls = (uint32_t)kind, .kind = (uint32_t)kind, .slot = slot};
    uint64_t h = fs_evq_push(&e->q, &ev);
    if (!h) {
        fs_err_add(err, NULL, "out of memory in the event queue");
        return FS_ENOMEM;
    }
    if (kind == EV_DEADLINE) e->deadline_handle = h;
    else e->parts[slot].handle = h;
    return FS_OK;
}

/* The next event of a participation: its next stage, or its drop if that comes first. */
static int push_next(engine *e, uint32_t slot, fs_err *err)
{
    part *p = &e->parts[slot];
    static const int kinds[] = {EV_DOWNLOADED, EV_TRAINED, EV_ARRIVED};
    const int64_t t_next[] = {p->t_dl, p->t_tr, p->t_rep};
    if (p->t_drop < t_next[p->stage]) return push_event(e, EV_DROPPED, p->t_drop, slot, err);
    return push_event(e, kinds[p->stage], t_next[p->stage], slot, err);
}

/* ---- playing a round ---- */

static void close_round(engine *e, int64_t t, bool by_deadline)
{
    e->closed = true;
    e->by_deadline = by_deadline;
    e->t_close = t;
    if (!by_deadline && e->deadline_handle) fs_evq_cancel(&e->q, e->deadline_handle);
    e->deadline_handle = 0;
    for (size_t i = 0; i < e->n_sel; i++) {
        part *p = &e->parts[i];
        if (p->stage > ST_UPLOADING) continue;
        fs_evq_cancel(&e->q, p->handle);
        p->handle = 0;
        p->stage = by_deadline ? ST_LATE : ST_ABORTED;
        p->t_end = t;
    }
}

static void finish_part(engine *e, part *p, int stage, int64_t t)
{
    p->stage = stage;
    p->t_end = t;
    p->handle = 0;
    e->n_final++;
}

/* The device keeps what it learnt about itself once its training finished (in virtual time),
 * whatever becomes of the upload. */
static void keep_personal(engine *e, uint32_t slot)
{
    const fs_world *w = e->cfg->world;
    size_t k = w->model->n_personal;
    if (!k) return;
    memcpy(w->personal + e->parts[slot].client * k, e->updates[slot].personal,
           k * sizeof *w->personal);
}

static int handle_event(engine *e, const fs_event *ev, fs_err *err)
{
    part *p = ev->kind == EV_DEADLINE ? NULL : &e->parts[ev->slot];
    switch (ev->kind) {
    case EV_TRAINED:
        keep_personal(e, ev->slot);
        /* fall through */
    case EV_DOWNLOADED:
        p->stage++;
        p->progress++;
        return push_next(e, ev->slot, err);
    case EV_ARRIVED:
        p->progress++;
        finish_part(e, p, ST_REPORTED, ev->t);
        if (++e->reported == (int)e->s->server.clients_per_round) close_round(e, ev->t, false);
        break;
    case EV_DROPPED:
        finish_part(e, p, ST_DROPPED, ev->t);
        if (p->offline_drop)
            fs_avail_observe(&e->cfg->pop->clients[p->client].avail, false, ev->t);
        break;
    case EV_DEADLINE:
        e->deadline_handle = 0;
        close_round(e, ev->t, true);
        break;
    }
    if (!e->closed && e->n_final == (int)e->n_sel) close_round(e, ev->t, false);
    return FS_OK;
}

static int play_round(engine *e, fs_err *err)
{
    e->reported = e->n_final = 0;
    e->closed = false;
    int64_t deadline = e->now + llround(e->s->server.deadline_s * 1e6);
    int rc = push_event(e, EV_DEADLINE, deadline, 0, err);
    for (uint32_t i = 0; i < e->n_sel && !rc; i++) rc = push_next(e, i, err);
    fs_event ev;
    while (!rc && !e->closed && fs_evq_pop(&e->q, &ev)) {
        fs_assert(ev.t >= e->now);
        e->now = ev.t;
        rc = handle_event(e, &ev, err);
    }
    fs_assert(rc || (e->closed && fs_evq_size(&e->q) == 0));
    return rc;
}

/* ---- dispatch: select, plan, train eagerly ---- */

/* Selects clients at e->now, waiting server.retry_s at a time while nobody is available.
 * Returns FS_OK with n_sel == 0 only when the campaign's time limit was reached. */
static int select_clients(engine *e, int64_t t_limit, fs_err *err)
{
    int64_t waited = 0, retry = llround(e->s->server.retry_s * 1e6);
    for (;;) {
        e->n_sel = fs_pop_select(e->cfg->pop, &e->avail, e->s->seed, e->pass++, e->now,
                                 e->max_sel, e->r_sel, e->r_cli, e->ids);
        if (e->n_sel > 0 || e->now >= t_limit) return FS_OK;
        if (waited >= WAIT_LIMIT_US) {
            fs_err_add(err, NULL, "round %d: no client became available in 30 virtual days "
                       "(check devices.availability)", e->round);
            return FS_ESCENARIO;
        }
        e->now += retry;
        waited += retry;
    }
}

static int dispatch(engine *e, fs_err *err)
{
    int64_t deadline = e->now + llround(e->s->server.deadline_s * 1e6);
    for (size_t i = 0; i < e->n_sel; i++) {
        part *p = &e->parts[i];
        plan_part(e, p, e->ids[i], e->now);
        /* train only clients still online when training ends, before the deadline: the others'
         * updates could never be used (a crash found later only wastes wall time) */
        e->jobs[i] = (fs_train_job){.client = p->client,
                                    .train = p->t_off >= p->t_tr && p->t_tr <= deadline,
                                    .update = &e->updates[i]};
        e->cfg->pop->clients[p->client].t_busy_until = INT64_MAX;
    }
    int rc = fs_trainer_run(&e->trainer, e->w, e->jobs, e->n_sel, e->round, err);
    for (size_t i = 0; !rc && i < e->n_sel; i++)
        finish_plan(e, &e->parts[i], &e->updates[i], e->jobs[i].train);
    return rc;
}

/* ---- closing: aggregate, account, evaluate ---- */

static void aggregate(engine *e, fs_db_round *row)
{
    size_t n = 0;
    double loss = 0, samples = 0;
    for (size_t i = 0; i < e->n_sel; i++) {
        if (e->parts[i].stage != ST_REPORTED) continue;
        e->agg_u[n] = e->jobs[i].update;
        e->agg_n[n] = (double)e->cfg->pop->clients[e->parts[i].client].n_train;
        loss += e->agg_n[n] * e->jobs[i].result.mean_loss;
        samples += e->agg_n[n];
        n++;
    }
    row->train_loss = n ? loss / samples : NAN;
    if (n) fs_fedavg(e->w, e->agg_u, e->agg_n, n, e->acc);
}

/* Bytes moved by a transfer of `bytes` over [t_start, t_full) cut at t_stop: the latency
 * moves nothing, then bytes flow at a constant rate. */
static int64_t transferred(double bytes, int64_t t_start, int64_t t_full, int64_t t_stop,
                           double latency_ms)
{
    if (t_stop >= t_full) return llround(bytes);
    double flowing = (double)(t_full - t_start) - latency_ms * 1e3;
    double elapsed = (double)(t_stop - t_start) - latency_ms * 1e3;
    if (elapsed <= 0 || flowing <= 0) return 0;
    return llround(bytes * elapsed / flowing);
}

static const char *outcome_name(int stage)
{
    switch (stage) {
    case ST_REPORTED: return "reported";
    case ST_DROPPED: return "dropped";
    case ST_LATE: return "late";
    default: return "aborted";
    }
}

static void account_part(engine *e, size_t i, fs_db_round *row)
{
    part *p = &e->parts[i];
    fs_client *c = &e->cfg->pop->clients[p->client];
    const fs_train_job *job = &e->jobs[i];
    bool trained = p->progress >= 2;
    fs_db_part *r = &e->rows[i];
    *r = (fs_db_part){
        .client_id = p->client,
        .outcome = outcome_name(p->stage),
        .t_selected = p->t_sel,
        .t_downloaded = p->progress >= 1 ? p->t_dl : -1,
        .t_trained = trained ? p->t_tr : -1,
        .t_reported = p->progress >= 3 ? p->t_rep : -1,
        .n_samples = c->n_train,
        .steps = trained ? (uint32_t)job->result.steps : 0,
        .local_loss = trained ? job->result.mean_loss : NAN,
        .update_norm = trained ? job->update_norm : NAN,
        .bytes_down = transferred(e->model_bytes, p->t_sel, p->t_dl, p->t_end, c->latency_ms),
        .bytes_up = trained ? transferred(p->bytes_up, p->t_tr, p->t_rep, p->t_end, c->latency_ms)
                            : 0,
    };
    row->bytes_down += r->bytes_down;
    row->bytes_up += r->bytes_up;
    row->reported += p->stage == ST_REPORTED;
    row->dropped += p->stage == ST_DROPPED;
    row->late += p->stage == ST_LATE;
    row->aborted += p->stage == ST_ABORTED;
    /* still busy until the client itself stops: the server's abort reaches it at close */
    c->t_busy_until = p->t_end;
    if (p->stage != ST_DROPPED || !p->offline_drop) fs_avail_observe(&c->avail, true, p->t_end);
}

static int evaluate(engine *e, fs_round_result *res, fs_err *err)
{
    int every = e->s->eval.every_rounds;
    if (e->round % every != 0 && e->round != e->s->server.rounds) return FS_OK;
    return fs_evaluator_run(e->eval, e->w, &res->evals, &res->n_evals, &e->last_accuracy, err);
}

static int close_and_report(engine *e, int64_t t_start, double wall_start, fs_err *err)
{
    fs_round_result res = {.parts = e->rows, .n_parts = e->n_sel};
    fs_db_round *row = &res.row;
    *row = (fs_db_round){.round = e->round, .t_start = t_start, .t_end = e->t_close,
                         .selected = (int)e->n_sel, .epsilon = NAN};
    for (size_t i = 0; i < e->n_sel; i++) account_part(e, i, row);
    aggregate(e, row);
    int rc = evaluate(e, &res, err);
    if (rc) return rc;
    res.accuracy = e->last_accuracy;
    row->wall_s = fs_wall_seconds() - wall_start;
    return e->cfg->on_round ? e->cfg->on_round(e->cfg->ctx, &res, err) : FS_OK;
}

static int64_t time_limit(const fs_scenario *s)
{
    if (s->server.max_virtual_hours <= 0) return INT64_MAX;
    return llround(s->server.max_virtual_hours * (double)FS_US_PER_H);
}

static int run_rounds(engine *e, fs_err *err)
{
    int64_t t_limit = time_limit(e->s);
    for (e->round = 1; e->round <= e->s->server.rounds; e->round++) {
        if (e->cfg->stop && *e->cfg->stop) return FS_EINTERRUPTED;
        if (e->now >= t_limit) break;
        double wall_start = fs_wall_seconds();
        int rc = select_clients(e, t_limit, err);
        if (rc || e->n_sel == 0) return rc;
        int64_t t_start = e->now;
        if ((rc = dispatch(e, err)) || (rc = play_round(e, err)) ||
            (rc = close_and_report(e, t_start, wall_start, err)))
            return rc;
        /* pace steering (Bonawitz et al. 2019, section 2.3): the next round starts no earlier
         * than round_interval_s after this one started */
        int64_t paced = t_start + llround(e->s->server.round_interval_s * 1e6);
        e->now = e->t_close > paced ? e->t_close : paced;
    }
    return FS_OK;
}

int fs_engine_run(const fs_engine_cfg *cfg, double *out_w, fs_engine_stats *out_stats,
                  fs_err *err)
{
    engine e;
    int rc = engine_init(&e, cfg, err);
    if (!rc) rc = run_rounds(&e, err);
    if (out_w && e.w) memcpy(out_w, e.w, e.n_params * sizeof *out_w);
    if (out_stats)
        *out_stats = (fs_engine_stats){.rounds = e.round - 1 < 0 ? 0 : e.round - 1,
                                       .t_end = e.now,
                                       .events = e.q.n_popped,
                                       .final_accuracy = e.last_accuracy};
    engine_fini(&e);
    return rc;
}
