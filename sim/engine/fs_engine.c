/* fs_engine: the engine's state, its event loop and the life cycle of one participation. The
 * server policy (fs_server.h: sync rounds, FedBuff) is called through its table entry and
 * decides whom to dispatch and what becomes of the reports; everything a participation does
 * between its dispatch and its end is played here, once for every policy.
 *
 * Why plan whole participations up front: every random quantity of a participation (when the
 * client goes offline, whether and when it crashes) comes from its own (client, round) stream,
 * so its timeline is known at dispatch. That lets the engine train the clients dispatched
 * together at once, in parallel, and still replay what follows as discrete events (download
 * done, training done, report arrived, dropped, policy timers) in exact virtual-time order.
 *
 * The one exception is a shared server link (server.ingress_mbps / egress_mbps, fs_link.h): a
 * transfer's length then depends on who else is on the link, so it is played, not planned: after
 * its latency (EV_JOIN) the transfer's bytes flow on the link, whose next finish is one pending
 * EV_LINK event, re-pushed whenever the link's set of transfers changes; the stages after it move
 * with its finish. Without either key none of that code runs. */
#include "fs_engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_ckpt.h"
#include "fs_clock.h"
#include "fs_device.h"
#include "fs_mpi.h"
#include "fs_rng.h"

static size_t count_consenting(const fs_pop *pop)
{
    size_t n = 0;
    for (size_t i = 0; i < pop->n; i++)
        n += pop->clients[i].consent;
    return n;
}

static bool alloc_slots(fs_engine *e)
{
    const fs_world *w = e->cfg->world;
    size_t ns = e->max_sel, np = e->n_params;
    bool controls = fs_algo_of(e->s)->control_variate;
    bool feedback = e->s->train.compression != FS_COMP_NONE && e->s->train.error_feedback;
    e->w = malloc(np * sizeof *e->w);
    e->updates = calloc(ns, sizeof *e->updates);
    e->parts = calloc(ns, sizeof *e->parts);
    e->jobs = calloc(ns, sizeof *e->jobs);
    e->batch = calloc(ns, sizeof *e->batch);
    e->batch_slot = calloc(ns, sizeof *e->batch_slot);
    e->due = calloc(ns, sizeof *e->due);
    e->rows = calloc(ns, sizeof *e->rows);
    e->ids = calloc(ns, sizeof *e->ids);
    e->reports = calloc(ns, sizeof *e->reports);
    bool ok = e->r_sel && e->r_cli && e->w && e->updates && e->parts && e->jobs && e->batch &&
              e->batch_slot && e->due && e->rows && e->ids && e->reports;
    if (ok && controls)
        ok = (e->ctrl_deltas = malloc(ns * np * sizeof *e->ctrl_deltas)) &&
             fs_cstate_init(&e->client_control, e->cfg->pop->n, np) == FS_OK;
    if (ok && feedback)
        ok = (e->residuals = malloc(ns * np * sizeof *e->residuals)) &&
             fs_cstate_init(&e->client_residual, e->cfg->pop->n, np) == FS_OK;
    for (size_t i = 0; ok && i < ns; i++)
        ok = fs_update_init(&e->updates[i], np, w->sparse_updates, w->model->n_personal) == FS_OK;
    return ok;
}

/* ipw weights by the levels of eval.segments[0], which the participation mix tracks only up to
 * FS_MIX_MAX_LEVELS of them. */
static int ipw_too_many_levels(const fs_scenario *s, fs_err *err)
{
    return fs_scn_bad_key(s, err, "server.aggregation_weights",
                          "expected \"samples\" or \"uniform\" when eval.segments[0] has more "
                          "than %d levels, found \"ipw\"",
                          FS_MIX_MAX_LEVELS);
}

/* The rules live with the scenario's (fs_scn_rules.c); this applies them to the loaded data,
 * and the engine's own limits (init_mix's) before any output exists. */
int fs_engine_check(const fs_scenario *s, const fs_world *w, fs_err *err)
{
    fs_scn_shape shape;
    fs_world_shape(w, &shape);
    int rc = fs_scn_check_shape(s, &shape, err);
    if (rc || s->server.aggregation_weights != FS_AGGW_IPW || !s->eval.segments[0][0]) return rc;
    int k = fs_dataset_find_group(&w->train, s->eval.segments[0]);
    return k >= 0 && w->train.groups[k].n_levels > FS_MIX_MAX_LEVELS ? ipw_too_many_levels(s, err)
                                                                      : FS_OK;
}

/* The engine's part of a snapshot (fs_ckpt.h): what a resumed run needs to continue exactly. */
static fs_ckpt_state ckpt_state(fs_engine *e, int round)
{
    return (fs_ckpt_state){.s = e->s,
                           .pop = e->cfg->pop,
                           .world = e->cfg->world,
                           .agg = &e->agg,
                           .w = e->w,
                           .n_params = e->n_params,
                           .client_control = &e->client_control,
                           .client_residual = &e->client_residual,
                           .now = e->now,
                           .pass = e->pass,
                           .last_accuracy = e->last_accuracy,
                           .round = round,
                           .data_fingerprint = e->cfg->data_fingerprint,
                           .times_selected = e->mix.times_selected};
}

/* Continues from cfg->resume_state, taken after round cfg->resume_round. */
static int restore(fs_engine *e, fs_err *err)
{
    const fs_engine_cfg *cfg = e->cfg;
    fs_ckpt_state st = ckpt_state(e, cfg->resume_round);
    int rc = fs_ckpt_load(&st, cfg->resume_state, cfg->resume_len, cfg->resume_origin, err);
    e->now = st.now;
    e->pass = st.pass;
    e->last_accuracy = st.last_accuracy;
    e->round = cfg->resume_round;
    e->kept_round = cfg->resume_round;
    fs_mix_restored(&e->mix);
    return rc;
}

/* Who trains, and ipw's weighting group: the first eval.segments group (fs_mix lists it first
 * unless it has too many levels to track). */
static int init_mix(fs_engine *e, fs_err *err)
{
    int rc = fs_mix_init(&e->mix, e->s, e->cfg->world, e->cfg->pop, err);
    if (rc || e->s->server.aggregation_weights != FS_AGGW_IPW) return rc;
    const fs_mix_group *g = &e->mix.groups[0];
    if (e->mix.n_groups == 0 || strcmp(g->name, e->s->eval.segments[0]) != 0)
        return ipw_too_many_levels(e->s, err);
    if (fs_agg_set_ipw(&e->agg, g->level, g->count + FS_MIX_POPULATION, FS_MIX_N_STAGES,
                       g->n_levels))
        return fs_err_add(err, NULL, "out of memory for the ipw weights"), FS_ENOMEM;
    return FS_OK;
}

/* The shared links the scenario limits, for up to max_sel concurrent transfers each. */
static int init_links(fs_engine *e, fs_err *err)
{
    const double mbps[N_LINKS] = {[LINK_DOWN] = e->s->server.egress_mbps,
                                  [LINK_UP] = e->s->server.ingress_mbps};
    for (int k = 0; k < N_LINKS; k++) {
        if (!(mbps[k] > 0)) continue;
        e->link_on[k] = true;
        /* mbps * 1e6 bit/s = mbps / 8 bytes/us */
        if (fs_link_init(&e->links[k], mbps[k] / 8.0, e->max_sel) != FS_OK)
            return fs_err_add(err, NULL, "out of memory for the shared server link"), FS_ENOMEM;
    }
    return FS_OK;
}

static int engine_init(fs_engine *e, const fs_engine_cfg *cfg, fs_err *err)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    e->s = cfg->scn;
    /* first, before anything one rank alone may fail at: every rank takes part */
    e->wave_threads = fs_mpi_max_int(cfg->n_threads > 0 ? cfg->n_threads : 1);
    fs_evq_init(&e->q);
    fs_avail_init(&e->avail, e->s);
    e->avail.trace = cfg->pop->avail_trace;
    const fs_model *m = cfg->world->model;
    e->n_params = m->n_params;
    e->model_bytes = fs_world_model_bytes(cfg->world);
    e->ops = fs_server_of(e->s->server.mode);
    e->max_sel = e->ops->slots(e->s);
    if (e->max_sel > cfg->pop->n) e->max_sel = cfg->pop->n;
    e->last_accuracy = NAN;
    e->wall_checkpoint = fs_wall_seconds();
    if (fs_algo_of(e->s)->control_variate) e->model_bytes *= 2; /* model and c */
    if (e->s->privacy.secure_aggregation) {
        fs_secagg_cfg sc = {.bits = e->s->privacy.secagg_bits,
                            .frac_bits = e->s->privacy.secagg_frac_bits,
                            .seed = e->s->seed};
        e->secagg = fs_secagg_cost_of(&sc, e->max_sel, e->n_params + 1);
    }
    int rc = fs_engine_check(e->s, cfg->world, err);
    if (!rc) rc = fs_trainer_init(&e->trainer, cfg->world, e->s, cfg->n_threads, err);
    if (rc) return rc;
    e->eval = cfg->eval;
    if (!e->eval) {
        if ((rc = fs_evaluator_init(&e->own_eval, cfg->world, e->s, cfg->pop, cfg->n_threads, err)))
            return rc;
        e->eval = &e->own_eval;
    }
    e->r_sel = fs_rng_new();
    e->r_cli = fs_rng_new();
    fs_agg_cfg ac = {.n_params = e->n_params,
                     .n_eligible = count_consenting(cfg->pop),
                     .dp_denominator = e->ops->step_reports(e->s),
                     .n_threads = cfg->n_threads};
    if ((rc = fs_agg_init(&e->agg, e->s, &ac, err)) || (rc = init_mix(e, err))) return rc;
    e->trainer.control = e->agg.control;
    e->trainer.client_control = &e->client_control;
    if (!alloc_slots(e)) {
        fs_err_add(err, NULL, "out of memory for %zu in-flight clients of %zu parameters",
                   e->max_sel, e->n_params);
        return FS_ENOMEM;
    }
    if ((rc = init_links(e, err))) return rc;
    fs_rng_reseed(e->r_sel, e->s->seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, e->w, e->r_sel);
    if (!(e->pol = calloc(1, e->ops->size)))
        return fs_err_add(err, NULL, "out of memory for the server"), FS_ENOMEM;
    if ((rc = e->ops->init(e->pol, e, err)) || !cfg->resume_state) return rc;
    if (!e->ops->checkpointable) {
        fs_err_add(err, "server.mode", "%s runs cannot be resumed yet (no checkpoints)",
                   e->ops->name);
        return FS_ESCENARIO;
    }
    if ((rc = restore(e, err))) return rc;
    return cfg->on_resumed ? cfg->on_resumed(cfg->ctx, err) : FS_OK;
}

static void engine_fini(fs_engine *e)
{
    for (int k = 0; k < N_LINKS; k++)
        if (e->link_on[k]) fs_link_fini(&e->links[k]);
    if (e->pol) e->ops->fini(e->pol);
    free(e->pol);
    fs_evq_fini(&e->q);
    fs_trainer_fini(&e->trainer);
    if (e->eval == &e->own_eval) fs_evaluator_fini(&e->own_eval);
    gsl_rng_free(e->r_sel);
    gsl_rng_free(e->r_cli);
    free(e->w);
    for (size_t i = 0; e->updates && i < e->max_sel; i++)
        fs_update_fini(&e->updates[i]);
    free(e->updates);
    free(e->ctrl_deltas);
    free(e->residuals);
    free(e->reports);
    fs_cstate_fini(&e->client_control);
    fs_cstate_fini(&e->client_residual);
    fs_agg_fini(&e->agg);
    fs_mix_fini(&e->mix);
    free(e->parts);
    free(e->jobs);
    free(e->batch);
    free(e->batch_slot);
    free(e->due);
    free(e->rows);
    free(e->ids);
}

/* ---- planning a participation ---- */

/* The network a participation runs on, fixed at selection: the client's Wi-Fi link, or with
 * devices.network and the phone on cellular at t_sel, its cellular link, drawn from its own
 * stream (so the client record stays small). A phone changing network mid-way keeps its link. */
static void pick_link(fs_engine *e, fs_part *p, const fs_client *c)
{
    const fs_pop *pop = e->cfg->pop;
    p->up_mbps = c->uplink_mbps;
    p->down_mbps = c->downlink_mbps;
    p->latency_ms = c->latency_ms;
    if (!e->s->devices.network.on) return;
    unsigned st = pop->state.state_at(pop->state.ctx, p->client, c->avail.utc_offset_q, p->t_sel,
                                      FS_DEVSTATE_WIFI);
    if (st & FS_DEVSTATE_WIFI) return;
    const typeof(e->s->devices) *d = &e->s->devices;
    gsl_rng *r = e->r_cli;
    fs_rng_reseed(r, e->s->population_seed, FS_RNG_CELL_LINK, p->client, FS_RNG_NONE);
    p->cellular = true;
    p->up_mbps = (float)fs_dist_draw(&d->cell_uplink_mbps, r);
    p->down_mbps = (float)fs_dist_draw(&d->cell_downlink_mbps, r);
    p->latency_ms = (float)fs_dist_draw(&d->cell_latency_ms, r);
}

/* A client's training time: from its capacity trace row when it has one, else from its
 * compute speed and the model's FLOPs. */
static int64_t train_us(const fs_engine *e, uint32_t id)
{
    const fs_client *c = &e->cfg->pop->clients[id];
    if (c->train_ms_per_sample > 0)
        return fs_time_train_trace_us(e->s->train.epochs, c->n_train, c->train_ms_per_sample);
    return fs_time_train_us(e->s->train.epochs, fs_world_client_flops(e->cfg->world, id),
                            c->gflops);
}

/* The GFLOP/s a client trains at: for a capacity-trace client, the model's training FLOPs over
 * the trace's time, so energy counts the model's FLOPs (j_per_gflop), never milliseconds. */
static double train_gflops(const fs_engine *e, uint32_t id)
{
    const fs_client *c = &e->cfg->pop->clients[id];
    if (!(c->train_ms_per_sample > 0)) return c->gflops;
    int64_t us = train_us(e, id);
    double flops = fs_train_flops(e->s->train.epochs, fs_world_client_flops(e->cfg->world, id));
    return us > 0 ? flops / ((double)us * 1e3) : 0;
}

/* Everything of a participation that is known before training: download and compute times and
 * the random events (going offline, crashing). The upload, whose size may depend on the trained
 * update, is planned by fs_engine_finish_plan. Draw order is fixed: online time, crash?, crash
 * point. */
static void plan(fs_engine *e, fs_part *p, uint32_t id, int64_t t0)
{
    const fs_client *c = &e->cfg->pop->clients[id];
    *p = (fs_part){.client = id, .stage = ST_DOWNLOADING, .t_sel = t0, .crash_at = -1};
    pick_link(e, p, c);
    /* secure aggregation's key exchange: its bytes and round trips come before training */
    p->t_dl = t0 +
              fs_time_transfer_us(e->model_bytes + e->secagg.extra_bytes_down, p->down_mbps,
                                  p->latency_ms) +
              llround(2e3 * e->secagg.extra_round_trips * p->latency_ms);
    p->t_tr = p->t_dl + train_us(e, id);

    gsl_rng *r = e->r_cli;
    fs_rng_reseed(r, e->s->seed, FS_RNG_FAILURE, id, e->stream_round);
    int64_t left = fs_avail_online_left(&e->avail, &c->avail, t0, r);
    p->t_off = left == INT64_MAX ? INT64_MAX : t0 + left;
    if (gsl_rng_uniform(r) < e->s->devices.failure_prob) p->crash_at = gsl_rng_uniform(r);
}

/* What a client uploads: its encoded update (or, under secure aggregation, the masked dense
 * vector that replaces it, plus the protocol's shares), and its control delta (SCAFFOLD). */
static double upload_bytes(const fs_engine *e, double update_bytes)
{
    double b = e->s->privacy.secure_aggregation ? e->secagg.masked_bytes + e->secagg.extra_bytes_up
                                                : update_bytes;
    if (fs_algo_of(e->s)->control_variate) b += 4.0 * (double)e->n_params;
    return b;
}

/* Upload time from the update's real size, then the drop time (a crash falls at its fraction of
 * the whole participation as planned without sharing). With a shared link the planned times are
 * lower bounds (the real finish can be later), so a drop after the planned report is kept: it
 * happens if the participation is still running then. */
void fs_engine_finish_plan(fs_engine *e, fs_part *p, const fs_update *u, bool trained)
{
    p->bytes_up =
        upload_bytes(e, trained ? e->jobs[p - e->parts].bytes_up : 4.0 * (double)u->n_params);
    p->t_rep = p->t_tr + fs_time_transfer_us(p->bytes_up, p->up_mbps, p->latency_ms);
    int64_t t_crash = INT64_MAX;
    if (p->crash_at >= 0)
        t_crash = p->t_sel + (int64_t)(p->crash_at * (double)(p->t_rep - p->t_sel));
    p->offline_drop = p->t_off <= t_crash;
    p->t_drop = p->t_off < t_crash ? p->t_off : t_crash;
    if (p->t_drop >= p->t_rep && !e->link_on[LINK_DOWN] && !e->link_on[LINK_UP])
        p->t_drop = INT64_MAX;
    p->d_train = p->t_tr - p->t_dl;
    p->d_up = p->t_rep - p->t_tr;
}

static uint64_t push_event(fs_engine *e, int kind, int64_t t, uint32_t slot, fs_err *err)
{
    fs_event ev = {.t = t, .cls = (uint32_t)kind, .kind = (uint32_t)kind, .slot = slot};
    uint64_t h = fs_evq_push(&e->q, &ev);
    if (!h) fs_err_add(err, NULL, "out of memory in the event queue");
    return h;
}

/* ---- shared links ---- */

/* The link the participation's current stage transfers over, or -1 (none, or unlimited). */
static int stage_link(const fs_engine *e, const fs_part *p)
{
    int k = p->stage == ST_DOWNLOADING ? LINK_DOWN : p->stage == ST_UPLOADING ? LINK_UP : -1;
    return k >= 0 && e->link_on[k] ? k : -1;
}

static double link_bytes(const fs_engine *e, const fs_part *p, int k)
{
    return k == LINK_DOWN ? e->model_bytes + e->secagg.extra_bytes_down : p->bytes_up;
}

/* When the transfer's bytes start flowing: its latency after the stage starts. */
static int64_t join_time(const fs_part *p, int k)
{
    return (k == LINK_DOWN ? p->t_sel : p->t_tr) + llround(p->latency_ms * 1e3);
}

/* Link k's set of transfers changed: its pending finish is stale at once (a policy asserting an
 * empty queue after cutting every transfer sees it gone); relink queues the new one. */
static void link_touched(fs_engine *e, int k)
{
    fs_evq_cancel(&e->q, e->link_handle[k]);
    e->link_handle[k] = 0;
    e->link_changed[k] = true;
}

static void link_join(fs_engine *e, uint32_t slot, int64_t t)
{
    fs_part *p = &e->parts[slot];
    int k = stage_link(e, p);
    double own = (k == LINK_DOWN ? p->down_mbps : p->up_mbps) / 8.0; /* bytes/us */
    fs_link_add(&e->links[k], t, slot, link_bytes(e, p, k), own);
    link_touched(e, k);
    p->xfer = XF_ON;
}

/* Takes a participation's transfer off its link at t when it is on one (a drop or an abort):
 * the bytes it moved are what it sent, and the stage's end is t (energy counts the real time). */
static void link_cut(fs_engine *e, uint32_t slot, int64_t t)
{
    fs_part *p = &e->parts[slot];
    int k = stage_link(e, p);
    if (k < 0 || p->xfer != XF_ON) return;
    p->moved[k] = link_bytes(e, p, k) - fs_link_remove(&e->links[k], t, slot);
    link_touched(e, k);
    p->xfer = XF_DONE;
    if (k == LINK_DOWN)
        p->t_dl = t;
    else
        p->t_rep = t;
}

/* After every step: queues the next finish of each link whose set of transfers changed. */
static int relink(fs_engine *e, fs_err *err)
{
    for (int k = 0; k < N_LINKS; k++) {
        if (!e->link_changed[k]) continue;
        e->link_changed[k] = false;
        int64_t t;
        uint32_t id;
        if (fs_link_next(&e->links[k], &t, &id) &&
            !(e->link_handle[k] = push_event(e, EV_LINK, t, (uint32_t)k, err)))
            return FS_ENOMEM;
    }
    return FS_OK;
}

/* The next event of a participation: its next stage, or its drop if that comes first. A stage
 * on a shared link first waits for its latency (EV_JOIN), then only for its drop: the finish is
 * the link's event. */
int fs_engine_push_next(fs_engine *e, uint32_t slot, fs_err *err)
{
    fs_part *p = &e->parts[slot];
    static const int kinds[] = {EV_DOWNLOADED, EV_TRAINED, EV_ARRIVED};
    const int64_t t_next[] = {p->t_dl, p->t_tr, p->t_rep};
    int kind = kinds[p->stage], k = stage_link(e, p);
    int64_t t = t_next[p->stage];
    if (k >= 0 && p->xfer == XF_WAIT) kind = EV_JOIN, t = join_time(p, k);
    if (k >= 0 && p->xfer == XF_ON) kind = EV_DROPPED, t = p->t_drop;
    if (p->t_drop < t) kind = EV_DROPPED, t = p->t_drop;
    p->handle = 0;
    if (t == INT64_MAX) return FS_OK; /* on a link, and never dropped */
    p->handle = push_event(e, kind, t, slot, err);
    return p->handle ? FS_OK : FS_ENOMEM;
}

/* Link k's next finish, now: the transfer's stage ends (a download's secure-aggregation round
 * trips still follow it) and the stages after it move with it. */
static int link_finish(fs_engine *e, int k, fs_err *err)
{
    int64_t t;
    uint32_t slot;
    e->link_handle[k] = 0;
    bool any = fs_link_next(&e->links[k], &t, &slot);
    fs_assert(any && t == e->now);
    fs_part *p = &e->parts[slot];
    p->moved[k] = link_bytes(e, p, k) - fs_link_remove(&e->links[k], t, slot);
    link_touched(e, k);
    p->xfer = XF_DONE;
    fs_evq_cancel(&e->q, p->handle); /* its drop, if any */
    if (k == LINK_DOWN) {
        p->t_dl = t + llround(2e3 * e->secagg.extra_round_trips * p->latency_ms);
        p->t_tr = p->t_dl + p->d_train;
        p->t_rep = p->t_tr + p->d_up;
    } else {
        p->t_rep = t;
    }
    return fs_engine_push_next(e, slot, err);
}

uint64_t fs_engine_push_timer(fs_engine *e, int64_t t, fs_err *err)
{
    return push_event(e, EV_TIMER, t, 0, err);
}

void fs_engine_cancel_timer(fs_engine *e, uint64_t handle)
{
    fs_evq_cancel(&e->q, handle);
}

void fs_engine_wait_until(fs_engine *e, int64_t t)
{
    fs_assert(t >= e->now);
    e->now = t;
}

bool fs_engine_stop_requested(const fs_engine *e)
{
    return e->cfg->stop && *e->cfg->stop;
}

/* ---- dispatch ---- */

void fs_engine_prefetch(const fs_engine *e, size_t slot, uint32_t client)
{
    __builtin_prefetch(&e->cfg->pop->clients[client], 1);
    __builtin_prefetch(&e->parts[slot], 1);
    __builtin_prefetch((const char *)&e->parts[slot] + 64, 1);
    __builtin_prefetch((const char *)&e->parts[slot] + 128, 1);
    fs_world_prefetch_client(e->cfg->world, client);
}

int fs_engine_prepare(fs_engine *e, size_t slot, uint32_t client, int64_t deadline, fs_err *err)
{
    fs_part *p = &e->parts[slot];
    plan(e, p, client, e->now);
    size_t budget = fs_engine_partial_budget(e, p, deadline);
    /* train only clients still online when training ends, before the deadline: the others'
     * updates could never be used (a crash found later only wastes wall time) */
    e->jobs[slot] =
        (fs_train_job){.client = client,
                       .train = p->t_off >= p->t_tr && p->t_tr <= deadline,
                       .max_steps = budget,
                       .attack = e->cfg->pop->clients[client].attacker &&
                                 e->round >= e->s->adversary.start_round,
                       .update = &e->updates[slot],
                       .ctrl_delta = e->ctrl_deltas ? e->ctrl_deltas + slot * e->n_params : NULL,
                       .residual = e->residuals ? e->residuals + slot * e->n_params : NULL};
    fs_client *c = &e->cfg->pop->clients[client];
    if (e->cfg->pop->battery_read) /* as of t_sel */
        c->battery = (float)fs_pop_battery_at(e->cfg->pop, client, e->now);
    c->t_busy_until = INT64_MAX;
    return e->residuals ? fs_engine_load_residual(e, slot, client, err) : FS_OK;
}

/* ---- playing a participation ---- */

static void finish_part(fs_part *p, int stage, int64_t t)
{
    p->stage = stage;
    p->t_end = t;
    p->handle = 0;
    p->deferred = false; /* ended before its training was due: never trained */
}

void fs_engine_abort(fs_engine *e, size_t slot, int stage, int64_t t)
{
    fs_evq_cancel(&e->q, e->parts[slot].handle);
    link_cut(e, (uint32_t)slot, t);
    finish_part(&e->parts[slot], stage, t);
}

/* The device keeps what it learnt about itself once its training finished (in virtual time),
 * whatever becomes of the upload: its personal parameters, SCAFFOLD's c_i, its compression
 * residual. */
static int keep_state(fs_engine *e, uint32_t slot, fs_err *err)
{
    const fs_world *w = e->cfg->world;
    const fs_train_job *job = &e->jobs[slot];
    uint32_t client = e->parts[slot].client;
    size_t k = w->model->n_personal, np = e->n_params;
    if (k) memcpy(w->personal + client * k, e->updates[slot].personal, k * sizeof *w->personal);
    if (job->ctrl_delta) {
        fs_real *ci = fs_cstate_get(&e->client_control, client);
        if (!ci)
            return fs_err_add(err, NULL, "out of memory for client %u's state", client), FS_ENOMEM;
        for (size_t j = 0; j < np; j++)
            ci[j] += job->ctrl_delta[j];
    }
    if (job->residual) {
        fs_real *res = fs_cstate_get(&e->client_residual, client);
        if (!res)
            return fs_err_add(err, NULL, "out of memory for client %u's state", client), FS_ENOMEM;
        memcpy(res, job->residual, np * sizeof *res);
    }
    return FS_OK;
}

/* A participation's event. An arrival ends "late" when the policy no longer accepts it, and
 * "rejected" when its update was poisoned; the policy hears of every end. */
static int handle_event(fs_engine *e, const fs_event *ev, fs_err *err)
{
    if (ev->kind == EV_TIMER) return e->ops->on_timer(e->pol, err);
    if (ev->kind == EV_LINK) return link_finish(e, (int)ev->slot, err);
    fs_part *p = &e->parts[ev->slot];
    int stage = ST_DROPPED;
    switch (ev->kind) {
    case EV_JOIN:
        link_join(e, ev->slot, ev->t);
        return fs_engine_push_next(e, ev->slot, err);
    case EV_DROPPED:
        link_cut(e, ev->slot, ev->t);
        break;
    case EV_TRAINED: {
        int rc = p->deferred ? fs_engine_train_due(e, ev->slot, err) : FS_OK;
        if (!rc) rc = keep_state(e, ev->slot, err);
        if (rc) return rc;
    }
        /* fall through */
    case EV_DOWNLOADED:
        p->stage++;
        p->progress++;
        p->xfer = XF_WAIT;
        return fs_engine_push_next(e, ev->slot, err);
    case EV_ARRIVED:
        p->progress++;
        stage = e->ops->accepts && !e->ops->accepts(e->pol, ev->slot) ? ST_LATE
                : e->jobs[ev->slot].rejected                          ? ST_REJECTED
                                                                      : ST_REPORTED;
        break;
    }
    finish_part(p, stage, ev->t);
    if (stage == ST_DROPPED && p->offline_drop)
        fs_avail_observe(&e->cfg->pop->clients[p->client].avail, false, ev->t);
    return e->ops->on_end(e->pol, ev->slot, err);
}

/* The loop of every policy (fs_server.h), ae.c-style: pop the earliest event, let the engine
 * play it, give the policy its turn; then the links that event or turn changed get their next
 * finish queued (relink) before the next pop. */
static int run_loop(fs_engine *e, fs_err *err)
{
    const fs_server_ops *ops = e->ops;
    int64_t t_limit = fs_engine_time_limit(e->s);
    int rc = ops->step(e->pol, err);
    fs_event ev;
    while (!rc && !(rc = relink(e, err)) && !ops->done(e->pol) && fs_evq_pop(&e->q, &ev)) {
        if (ops->stops_between_events) {
            if (fs_engine_stop_requested(e)) return FS_EINTERRUPTED;
            if (ev.t >= t_limit)
                return ops->on_time_limit ? ops->on_time_limit(e->pol, err) : FS_OK;
        }
        fs_assert(ev.t >= e->now);
        e->now = ev.t;
        rc = handle_event(e, &ev, err);
        if (!rc) rc = ops->step(e->pol, err);
    }
    return rc;
}

/* The duration the server expects from a client's device record: full download, training and
 * upload, ignoring failures. */
static double expected_duration(const fs_engine *e, uint32_t id)
{
    const fs_client *c = &e->cfg->pop->clients[id];
    return (double)(fs_time_transfer_us(e->model_bytes, c->downlink_mbps, c->latency_ms) +
                    train_us(e, id) +
                    fs_time_transfer_us(4.0 * (double)e->n_params, c->uplink_mbps, c->latency_ms));
}

/* n found clients, timed only once their non-zeros are known (fs_world_need_nnz); 0, said in
 * err, when they cannot be: as when the candidates' memory cannot be had. */
static size_t timeable(fs_engine *e, const uint32_t *ids, size_t n, fs_err *err)
{
    return fs_world_need_nnz(e->cfg->world, ids, n, err) == FS_OK ? n : 0;
}

typedef struct candidate {
    double duration;
    uint32_t id, order;
} candidate;

static int by_duration(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->duration != y->duration) return x->duration < y->duration ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* "fastest" selection (in the spirit of Oort's systems utility, Lai et al. 2021, without its
 * statistical term): draw pool x as many available clients as wanted, uniformly, and keep the
 * ones expected to finish soonest. */
static size_t select_fastest(fs_engine *e, size_t want, fs_err *err)
{
    size_t pool = (size_t)ceil((double)want * e->s->server.fastest_pool);
    if (pool > e->cfg->pop->n) pool = e->cfg->pop->n;
    uint32_t *ids = malloc(pool * sizeof *ids);
    candidate *cand = malloc(pool * sizeof *cand);
    size_t found = 0, q = 0;
    if (ids && cand)
        found = timeable(e, ids,
                         fs_pop_select(e->cfg->pop, &e->avail, e->s->seed, e->pass, e->now, pool,
                                       e->r_sel, ids, &q),
                         err);
    else
        fs_err_add(err, NULL, "out of memory selecting %zu candidates", pool);
    e->queried += q;
    e->online += found;
    fs_mix_count(&e->mix, FS_MIX_ONLINE, ids, found);
    for (size_t i = 0; i < found; i++)
        cand[i] = (candidate){expected_duration(e, ids[i]), ids[i], (uint32_t)i};
    qsort(cand, found, sizeof *cand, by_duration);
    size_t n = found < want ? found : want;
    for (size_t i = 0; i < n; i++)
        e->ids[i] = cand[i].id;
    free(ids);
    free(cand);
    return n;
}

/* fs_engine_select's work, timed there. */
static size_t select_clients(fs_engine *e, size_t want, fs_err *err)
{
    size_t n, q = 0;
    if (e->s->server.selection == FS_SELECT_FASTEST) {
        n = select_fastest(e, want, err); /* counts its own queries */
    } else {
        n = timeable(e, e->ids,
                     fs_pop_select(e->cfg->pop, &e->avail, e->s->seed, e->pass, e->now, want,
                                   e->r_sel, e->ids, &q),
                     err);
        e->queried += q;
        e->online += n;
        /* every client found online is selected: the candidates are examined in random order
         * until enough are found */
        fs_mix_count(&e->mix, FS_MIX_ONLINE, e->ids, n);
    }
    fs_mix_count(&e->mix, FS_MIX_SELECTED, e->ids, n);
    e->pass++;
    return n;
}

size_t fs_engine_select(fs_engine *e, size_t want, fs_err *err)
{
    double t0 = fs_wall_seconds();
    size_t n = select_clients(e, want, err);
    e->select_s += fs_wall_seconds() - t0;
    return n;
}

/* Algorithms that keep a straggler's partial work (FedProx, Li et al. 2020; FedNova): a client
 * that cannot finish all its local steps before the deadline does as many as fit and reports in
 * time. Others drop stragglers (their reports arrive late), and so do sparse models, whose
 * trainers have no step budget. Returns the step budget, 0 = all steps. */
size_t fs_engine_partial_budget(fs_engine *e, fs_part *p, int64_t deadline)
{
    if (!fs_algo_of(e->s)->partial_work || e->cfg->world->sparse_updates) return 0;
    const fs_client *c = &e->cfg->pop->clients[p->client];
    size_t n = c->n_train, b = e->s->train.batch_size;
    double steps = (double)e->s->train.epochs * (double)((n + b - 1) / b);
    int64_t upload = fs_time_transfer_us(upload_bytes(e, 4.0 * (double)e->n_params), p->up_mbps,
                                         p->latency_ms);
    if (steps <= 0 || p->t_tr + upload <= deadline) return 0;
    double per_step = (double)(p->t_tr - p->t_dl) / steps;
    double fit = per_step > 0 ? floor((double)(deadline - upload - p->t_dl) / per_step) : steps;
    if (fit < 1) return 0; /* not even one step: it stays a straggler */
    p->t_tr = p->t_dl + llround(fit * per_step);
    return (size_t)fit;
}

/* The client's error-feedback residual, copied into the slot (committed when training ends). */
int fs_engine_load_residual(fs_engine *e, size_t slot, uint32_t client, fs_err *err)
{
    fs_real *res = fs_cstate_get(&e->client_residual, client);
    if (!res)
        return fs_err_add(err, NULL, "out of memory for client %u's state", client), FS_ENOMEM;
    memcpy(e->jobs[slot].residual, res, e->n_params * sizeof *res);
    return FS_OK;
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

/* The participation's energy until it ended (fs_energy.h's formula: the training done, the
 * seconds its transfers ran, one cellular tail per transfer that ran), and the battery it
 * leaves when something reads it: the level at selection, refilled while charging, less the
 * energy, never below 0. */
static void account_energy(fs_engine *e, const fs_part *p, fs_client *c, fs_db_part *r,
                           fs_db_round *row)
{
    const fs_pop *pop = e->cfg->pop;
    int64_t end = p->t_end;
    double s_down = (double)((end < p->t_dl ? end : p->t_dl) - p->t_sel) / 1e6;
    double s_train = 0, s_up = 0;
    if (p->progress >= 1 && end > p->t_dl)
        s_train = (double)((end < p->t_tr ? end : p->t_tr) - p->t_dl) / 1e6;
    if (p->progress >= 2 && end > p->t_tr)
        s_up = (double)((end < p->t_rep ? end : p->t_rep) - p->t_tr) / 1e6;
    const fs_energy_class *k = &e->s->devices.classes[c->dev_class];
    double gflop = s_train * train_gflops(e, p->client);
    r->energy_j = fs_energy_part_j(k, p->cellular, gflop, s_down, s_up, (s_down > 0) + (s_up > 0));
    row->energy_j += r->energy_j;
    if (!pop->battery_read) return;
    double level = fs_energy_battery_at(&pop->state, e->s, p->client, c->avail.utc_offset_q,
                                        c->battery, p->t_sel, end);
    if (k->battery_wh > 0) level -= r->energy_j / (k->battery_wh * 3600.0);
    c->battery = (float)(level > 0 ? level : 0);
}

static const char *outcome_name(int stage)
{
    switch (stage) {
    case ST_REPORTED:
        return "reported";
    case ST_DROPPED:
        return "dropped";
    case ST_LATE:
        return "late";
    case ST_REJECTED:
        return "rejected";
    default:
        return "aborted";
    }
}

void fs_engine_prefetch_account(const fs_engine *e, size_t i)
{
    const fs_part *p = &e->parts[i];
    __builtin_prefetch(&e->cfg->pop->clients[p->client], 1);
    if (p->stage == ST_REPORTED) fs_mix_prefetch(&e->mix, FS_MIX_REPORTED, p->client);
}

void fs_engine_account_part(fs_engine *e, size_t i, fs_db_round *row)
{
    fs_part *p = &e->parts[i];
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
        .bytes_down = e->link_on[LINK_DOWN]
                          ? llround(p->moved[LINK_DOWN])
                          : transferred(e->model_bytes + e->secagg.extra_bytes_down, p->t_sel,
                                        p->t_dl, p->t_end, p->latency_ms),
        .bytes_up = !trained             ? 0
                    : e->link_on[LINK_UP] ? llround(p->moved[LINK_UP])
                                          : transferred(p->bytes_up, p->t_tr, p->t_rep, p->t_end,
                                                        p->latency_ms),
        .network = p->cellular ? "cellular" : "wifi",
    };
    account_energy(e, p, c, r, row);
    row->bytes_down += r->bytes_down;
    row->bytes_up += r->bytes_up;
    /* device time spent training, whether or not the work was used */
    if (p->progress >= 1 && p->t_end > p->t_dl)
        row->compute_s += (double)((p->t_end < p->t_tr ? p->t_end : p->t_tr) - p->t_dl) / 1e6;
    row->reported += p->stage == ST_REPORTED;
    row->dropped += p->stage == ST_DROPPED;
    row->late += p->stage == ST_LATE;
    row->aborted += p->stage == ST_ABORTED;
    row->rejected += p->stage == ST_REJECTED;
    if (p->stage == ST_REPORTED) fs_mix_count_one(&e->mix, FS_MIX_REPORTED, p->client);
    /* still busy until the client itself stops: the server's abort reaches it at close */
    c->t_busy_until = p->t_end;
    if (p->stage != ST_DROPPED || !p->offline_drop) fs_avail_observe(&c->avail, true, p->t_end);
}

/* The measured online share since the last round row: clients found available among the
 * consenting, idle clients whose availability the server queried. */
double fs_engine_take_online_share(fs_engine *e)
{
    double share = e->queried ? (double)e->online / (double)e->queried : NAN;
    e->queried = e->online = 0;
    return share;
}

/* The last round whose state is kept when a run plays all its rounds: the last multiple of
 * checkpoint_every before the final round; 0 when there is none, or when the run may end
 * earlier (server.max_virtual_hours), so that which round it is cannot be known. */
static int last_kept_round(const fs_engine *e)
{
    int every = e->cfg->checkpoint_every, rounds = e->s->server.rounds;
    if (every <= 0 || rounds <= 1 || fs_engine_time_limit(e->s) != INT64_MAX) return 0;
    return (rounds - 1) / every * every;
}

/* Whether due rounds may go unkept: an interval, and a last kept round to fall back on. */
static bool skips_due_rounds(const fs_engine *e)
{
    return e->cfg->checkpoint_min_interval_s > 0 && last_kept_round(e) > 0;
}

bool fs_engine_stops_before(const fs_engine *e, int round)
{
    if (!fs_engine_stop_requested(e)) return false;
    return !skips_due_rounds(e) || round - 1 >= last_kept_round(e) || e->kept_round == round - 1;
}

/* Whether this round's state is kept. A state is only ever needed to resume an unfinished run,
 * and a run of a million clients writes 33 MB a checkpoint (the shipped ctr_regions took 14 of
 * 4.25 MB in about a second of wall, and about a tenth of that second): of the rounds due every
 * checkpoint_every, one is kept per checkpoint_min_interval_s of wall. Two more rules keep the
 * results file a function of the scenario and a resume lossless:
 *  - the last due round (last_kept_round) is always kept, so a finished run holds the same
 *    checkpoint whatever the machine's speed; when it cannot be known (a time limit), every due
 *    round is kept, as with an interval of 0;
 *  - while due rounds may go unkept (skips_due_rounds), a round that ends after a stop was asked
 *    for (SIGINT, SIGTERM, SIGHUP) is kept, so that --resume continues from it, when it comes
 *    before the last due round (whose checkpoint then replaces it, as in an uninterrupted run);
 *    a stop asked for between two rounds plays one more to keep it (fs_engine_stops_before).
 *    With an interval of 0 a stop ends the run at once, as before there was an interval: a
 *    resume replays at most checkpoint_every - 1 rounds.
 * Across MPI ranks the interval is 0 (fs_run.c): the ranks agree on a stop only once a round is
 * recorded (fs_run.c's agree), after its checkpoint was decided, and every rank must take the
 * same decisions. */
static bool checkpoint_due(fs_engine *e)
{
    int every = e->cfg->checkpoint_every, round = e->round, last = last_kept_round(e);
    if (!e->ops->checkpointable || every <= 0 || round >= e->s->server.rounds) return false;
    if (round == last) return true;
    bool skips = skips_due_rounds(e);
    if (skips && round < last && fs_engine_stop_requested(e)) return true;
    if (round % every != 0) return false;
    return !skips || fs_wall_seconds() - e->wall_checkpoint >= e->cfg->checkpoint_min_interval_s;
}

/* fs_engine_deliver's work, timed there. */
static int deliver(fs_engine *e, fs_round_result *res, fs_err *err)
{
    res->accuracy = e->last_accuracy;
    fs_db_round *row = &res->row;
    /* the population's counts go with the first round (a resumed run has them already) */
    if (fs_mix_take_rows(&e->mix, e->round, e->round == 1, &row->mix, &row->n_mix, &row->jain,
                         &row->never_selected))
        return fs_err_add(err, NULL, "out of memory recording the participation mix"), FS_ENOMEM;
    res->checkpoint = NULL;
    if (checkpoint_due(e)) {
        e->wall_checkpoint = fs_wall_seconds();
        e->kept_round = e->round;
        fs_ckpt_state st = ckpt_state(e, e->round);
        if (!(res->checkpoint = fs_ckpt_save(&st, &res->checkpoint_len)))
            return fs_err_add(err, NULL, "out of memory saving a checkpoint"), FS_ENOMEM;
    }
    int rc = e->cfg->on_round ? e->cfg->on_round(e->cfg->ctx, res, err) : FS_OK;
    free(res->checkpoint); /* unless the callback took it */
    res->checkpoint = NULL;
    return rc;
}

int fs_engine_deliver(fs_engine *e, fs_round_result *res, fs_err *err)
{
    double t0 = fs_wall_seconds();
    int rc = deliver(e, res, err);
    e->record_s += fs_wall_seconds() - t0;
    return rc;
}

int fs_engine_aggregate(fs_engine *e, const fs_agg_report *reports, size_t n,
                        const uint32_t *selected, size_t n_sel, fs_err *err)
{
    double t0 = fs_wall_seconds();
    int rc = fs_agg_round(&e->agg, e->w, reports, n, selected, n_sel, e->round, err);
    e->aggregate_s += fs_wall_seconds() - t0;
    return rc;
}

int fs_engine_evaluate(fs_engine *e, fs_round_result *res, fs_err *err)
{
    int every = e->s->eval.every_rounds;
    if (e->round % every != 0 && e->round != e->s->server.rounds) return FS_OK;
    double t0 = fs_wall_seconds();
    int rc = fs_evaluator_run(e->eval, e->w, &res->evals, &res->n_evals, &e->last_accuracy, err);
    e->eval_s += fs_wall_seconds() - t0;
    return rc;
}

int64_t fs_engine_time_limit(const fs_scenario *s)
{
    if (s->server.max_virtual_hours <= 0) return INT64_MAX;
    return llround(s->server.max_virtual_hours * (double)FS_US_PER_H);
}

int fs_engine_run(const fs_engine_cfg *cfg, fs_real *out_w, fs_engine_stats *out_stats, fs_err *err)
{
    fs_engine e;
    int rc = engine_init(&e, cfg, err);
    if (!rc) rc = run_loop(&e, err);
    if (out_w && e.w) memcpy(out_w, e.w, e.n_params * sizeof *out_w);
    if (out_stats)
        *out_stats = (fs_engine_stats){.rounds = e.round - 1 < 0 ? 0 : e.round - 1,
                                       .t_end = e.now,
                                       .events = e.q.n_popped,
                                       .final_accuracy = e.last_accuracy,
                                       .train_s = e.train_s,
                                       .eval_s = e.eval_s,
                                       .select_s = e.select_s,
                                       .aggregate_s = e.aggregate_s,
                                       .record_s = e.record_s,
                                       .trained_here = e.trainer.trained_here};
    engine_fini(&e);
    return rc;
}
