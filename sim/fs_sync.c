/* fs_sync: the synchronous server (Bonawitz et al. 2019): each round selects
 * ceil(clients_per_round x over_selection) available clients, dispatches them together, plays the
 * round's events until the clients_per_round-th report or the deadline, aggregates the reports,
 * evaluates and records, then waits for the next paced round. */
#include "fs_ckpt.h"
#include "fs_clock.h"
#include "fs_engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_device.h"

static void close_round(fs_engine *e, int64_t t, bool by_deadline)
{
    e->closed = true;
    e->by_deadline = by_deadline;
    e->t_close = t;
    if (!by_deadline && e->deadline_handle) fs_evq_cancel(&e->q, e->deadline_handle);
    e->deadline_handle = 0;
    for (size_t i = 0; i < e->n_sel; i++) {
        fs_part *p = &e->parts[i];
        if (p->stage > ST_UPLOADING) continue;
        fs_evq_cancel(&e->q, p->handle);
        p->handle = 0;
        p->stage = by_deadline ? ST_LATE : ST_ABORTED;
        p->t_end = t;
    }
}


static int handle_event(fs_engine *e, const fs_event *ev, fs_err *err)
{
    fs_part *p = ev->kind == EV_DEADLINE ? NULL : &e->parts[ev->slot];
    switch (ev->kind) {
    case EV_TRAINED: {
        int rc = fs_engine_keep_state(e, ev->slot, err);
        if (rc) return rc;
    }
        /* fall through */
    case EV_DOWNLOADED:
        p->stage++;
        p->progress++;
        return fs_engine_push_next(e, ev->slot, err);
    case EV_ARRIVED:
        p->progress++;
        if (e->jobs[ev->slot].rejected) { /* refused: the round still waits for good reports */
            fs_engine_finish_part(e, p, ST_REJECTED, ev->t);
            break;
        }
        fs_engine_finish_part(e, p, ST_REPORTED, ev->t);
        if (++e->reported == (int)e->s->server.clients_per_round) close_round(e, ev->t, false);
        break;
    case EV_DROPPED:
        fs_engine_finish_part(e, p, ST_DROPPED, ev->t);
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


/* When the round started at e->now closes at the latest. */
static int64_t round_deadline(const fs_engine *e)
{
    return e->now + llround(e->s->server.deadline_s * 1e6);
}

static int play_round(fs_engine *e, fs_err *err)
{
    e->reported = e->n_final = 0;
    e->closed = false;
    int64_t deadline = round_deadline(e);
    int rc = fs_engine_push_event(e, EV_DEADLINE, deadline, 0, err);
    for (uint32_t i = 0; i < e->n_sel && !rc; i++) rc = fs_engine_push_next(e, i, err);
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
static int select_clients(fs_engine *e, int64_t t_limit, fs_err *err)
{
    int64_t waited = 0, retry = llround(e->s->server.retry_s * 1e6);
    for (;;) {
        e->n_sel = fs_engine_select(e, e->max_sel, err);
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


static int dispatch(fs_engine *e, fs_err *err)
{
    int64_t deadline = round_deadline(e);
    int rc = FS_OK;
    e->stream_round = (uint64_t)e->round;
    e->trainer.global_norm = NAN; /* the model changed since the last dispatch */
    for (size_t i = 0; i < e->n_sel && !rc; i++) {
        fs_part *p = &e->parts[i];
        fs_engine_plan(e, p, e->ids[i], e->now);
        size_t budget = fs_engine_partial_budget(e, p, deadline);
        /* train only clients still online when training ends, before the deadline: the others'
         * updates could never be used (a crash found later only wastes wall time) */
        e->jobs[i] = (fs_train_job){
            .client = p->client, .train = p->t_off >= p->t_tr && p->t_tr <= deadline,
            .max_steps = budget, .update = &e->updates[i],
            .ctrl_delta = e->ctrl_deltas ? e->ctrl_deltas + i * e->n_params : NULL,
            .residual = e->residuals ? e->residuals + i * e->n_params : NULL};
        if (e->residuals) rc = fs_engine_load_residual(e, i, p->client, err);
        e->cfg->pop->clients[p->client].t_busy_until = INT64_MAX;
    }
    if (!rc) rc = fs_trainer_run(&e->trainer, e->w, e->jobs, e->n_sel, e->round, err);
    for (size_t i = 0; !rc && i < e->n_sel; i++)
        fs_engine_finish_plan(e, &e->parts[i], &e->updates[i], e->jobs[i].train);
    return rc;
}

/* ---- closing: aggregate, account, evaluate ---- */


static int aggregate(fs_engine *e, fs_db_round *row, fs_err *err)
{
    size_t n = 0;
    double loss = 0, samples = 0;
    for (size_t i = 0; i < e->n_sel; i++) {
        if (e->parts[i].stage != ST_REPORTED) continue;
        const fs_train_job *job = &e->jobs[i];
        double n_k = (double)e->cfg->pop->clients[e->parts[i].client].n_train;
        e->reports[n++] = (fs_agg_report){.client = e->parts[i].client, .update = job->update,
                                          .n_samples = n_k, .scale = 1,
                                          .loss_at_global = job->loss_at_global,
                                          .ctrl_delta = job->ctrl_delta,
                                          .steps = (double)job->result.steps};
        loss += n_k * job->result.mean_loss;
        samples += n_k;
    }
    row->train_loss = n ? loss / samples : NAN;
    int rc = fs_agg_round(&e->agg, e->w, e->reports, n, e->ids, e->n_sel, e->round, err);
    row->epsilon = e->agg.epsilon;
    return rc;
}


static int close_and_report(fs_engine *e, int64_t t_start, double wall_start, fs_err *err)
{
    fs_round_result res = {.parts = e->rows, .n_parts = e->n_sel};
    fs_db_round *row = &res.row;
    *row = (fs_db_round){.round = e->round, .t_start = t_start, .t_end = e->t_close,
                         .selected = (int)e->n_sel, .epsilon = NAN,
                         .online_share = fs_engine_take_online_share(e)};
    for (size_t i = 0; i < e->n_sel; i++) fs_engine_account_part(e, i, row);
    int rc = aggregate(e, row, err);
    if (!rc) rc = fs_engine_evaluate(e, &res, err);
    if (rc) return rc;
    res.accuracy = e->last_accuracy;
    row->wall_s = fs_wall_seconds() - wall_start;
    /* pace steering (Bonawitz et al. 2019, section 2.3): the next round starts no earlier
     * than round_interval_s after this one started; set before a snapshot is taken */
    int64_t paced = t_start + llround(e->s->server.round_interval_s * 1e6);
    e->now = e->t_close > paced ? e->t_close : paced;
    int every = e->cfg->checkpoint_every;
    unsigned char *snap = NULL;
    if (every > 0 && e->round % every == 0 && e->round < e->s->server.rounds) {
        if (!(snap = fs_ckpt_save(e, &res.checkpoint_len)))
            return fs_err_add(err, NULL, "out of memory saving a checkpoint"), FS_ENOMEM;
        res.checkpoint = snap;
    }
    rc = e->cfg->on_round ? e->cfg->on_round(e->cfg->ctx, &res, err) : FS_OK;
    free(snap);
    return rc;
}


int fs_sync_run(fs_engine *e, fs_err *err)
{
    int64_t t_limit = fs_engine_time_limit(e->s);
    /* e->round is 0, or the round a resumed run's checkpoint was taken after */
    for (e->round++; e->round <= e->s->server.rounds; e->round++) {
        if (e->cfg->stop && *e->cfg->stop) return FS_EINTERRUPTED;
        if (e->now >= t_limit) break;
        double wall_start = fs_wall_seconds();
        int rc = select_clients(e, t_limit, err);
        if (rc || e->n_sel == 0) return rc;
        int64_t t_start = e->now;
        if ((rc = dispatch(e, err)) || (rc = play_round(e, err)) ||
            (rc = close_and_report(e, t_start, wall_start, err)))
            return rc;
    }
    return FS_OK;
}

