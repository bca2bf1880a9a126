/* fs_sync: the synchronous server (Bonawitz et al. 2019), the fs_server_sync entry. Each round
 * selects ceil(clients_per_round x over_selection) available clients, dispatches them together,
 * plays the round's events until the clients_per_round-th report or the deadline, aggregates the
 * reports, evaluates and records, then waits for the next paced round. The round being played is
 * this policy's own state; the engine plays the participations. */
#include "fs_clock.h"
#include "fs_engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sync_server {
    fs_engine *e;
    int64_t t_limit; /* server.max_virtual_hours: no round starts at or after it */
    bool over;       /* the campaign ended (rounds played, time limit, nobody to select) */
    /* the round being played: slots 0..n_sel-1 */
    bool open, closed;
    size_t n_sel;
    int reported, n_final; /* reports, participations ended */
    int64_t t_start, t_close;
    uint64_t deadline_handle; /* 0 once fired or cancelled */
    double wall_start;
} sync_server;

static size_t sync_slots(const fs_scenario *s)
{
    return (size_t)ceil((double)s->server.clients_per_round * s->server.over_selection);
}

/* DP's denominator: a round aggregates at most clients_per_round reports */
static double sync_step_reports(const fs_scenario *s)
{
    return (double)s->server.clients_per_round;
}

static int sync_init(void *pol, fs_engine *e, fs_err *err)
{
    (void)err;
    sync_server *y = pol;
    y->e = e;
    y->t_limit = fs_engine_time_limit(e->s);
    return FS_OK;
}

static void sync_fini(void *pol)
{
    (void)pol;
}

static bool sync_done(const void *pol)
{
    return ((const sync_server *)pol)->over;
}

/* When the round started at t_start closes at the latest. */
static int64_t round_deadline(const sync_server *y)
{
    return y->t_start + llround(y->e->s->server.deadline_s * 1e6);
}

/* ---- playing a round ---- */

static void close_round(sync_server *y, int64_t t, bool by_deadline)
{
    fs_engine *e = y->e;
    y->closed = true;
    y->t_close = t;
    if (!by_deadline && y->deadline_handle) fs_engine_cancel_timer(e, y->deadline_handle);
    y->deadline_handle = 0;
    for (size_t i = 0; i < y->n_sel; i++)
        if (e->parts[i].stage <= ST_UPLOADING)
            fs_engine_abort(e, i, by_deadline ? ST_LATE : ST_ABORTED, t);
}

/* A rejected report is refused: the round still waits for good ones. */
static int sync_on_end(void *pol, uint32_t slot, fs_err *err)
{
    (void)err;
    sync_server *y = pol;
    const fs_part *p = &y->e->parts[slot];
    y->n_final++;
    if (p->stage == ST_REPORTED && ++y->reported == (int)y->e->s->server.clients_per_round)
        close_round(y, p->t_end, false);
    if (!y->closed && y->n_final == (int)y->n_sel) close_round(y, p->t_end, false);
    return FS_OK;
}

/* The only timer is the deadline. */
static int sync_on_timer(void *pol, fs_err *err)
{
    (void)err;
    sync_server *y = pol;
    y->deadline_handle = 0;
    close_round(y, y->e->now, true);
    return FS_OK;
}

/* ---- dispatch: select, plan, launch (training when due: sync_reports_wanted) ---- */

/* Selects clients at e->now, waiting server.retry_s at a time while nobody is available.
 * Returns FS_OK with n_sel == 0 only when the campaign's time limit was reached. */
static int select_clients(sync_server *y, fs_err *err)
{
    fs_engine *e = y->e;
    int64_t waited = 0, retry = llround(e->s->server.retry_s * 1e6);
    for (;;) {
        y->n_sel = fs_engine_select(e, e->max_sel, err);
        if (y->n_sel > 0 || e->now >= y->t_limit) return FS_OK;
        if (waited >= WAIT_LIMIT_US) {
            fs_err_add(err, NULL,
                       "round %d: no client became available in 30 virtual days "
                       "(check devices.availability)",
                       e->round);
            return FS_ESCENARIO;
        }
        fs_engine_wait_until(e, e->now + retry);
        waited += retry;
    }
}

/* A million clients' records are far larger than the cache, and the selected ones are spread
 * over all of them: their lines are asked for this many clients ahead of their planning and of
 * their accounting. */
#define PREPARE_AHEAD 8

static int dispatch(sync_server *y, fs_err *err)
{
    fs_engine *e = y->e;
    int64_t deadline = round_deadline(y);
    int rc = FS_OK;
    e->stream_round = (uint64_t)e->round;
    e->trainer.global_norm = NAN; /* the model changed since the last dispatch */
    for (size_t i = 0; i < y->n_sel && !rc; i++) {
        size_t ahead = i + PREPARE_AHEAD;
        if (ahead < y->n_sel) fs_engine_prefetch(e, ahead, e->ids[ahead]);
        rc = fs_engine_prepare(e, i, e->ids[i], deadline, err);
    }
    if (!rc) rc = fs_engine_launch(e, NULL, y->n_sel, err);
    y->open = true;
    y->closed = false;
    y->reported = y->n_final = 0;
    if (!rc && !(y->deadline_handle = fs_engine_push_timer(e, deadline, err))) rc = FS_ENOMEM;
    return rc;
}

/* Starts round e->round + 1 at e->now, or ends the campaign. Stops on request only here: a
 * round started is played out. */
static int begin_round(sync_server *y, fs_err *err)
{
    fs_engine *e = y->e;
    /* e->round is 0, or the round a resumed run's checkpoint was taken after */
    if (++e->round > e->s->server.rounds) return y->over = true, FS_OK;
    if (fs_engine_stops_before(e, e->round)) return FS_EINTERRUPTED;
    if (e->now >= y->t_limit) return y->over = true, FS_OK;
    y->wall_start = fs_wall_seconds();
    int rc = select_clients(y, err);
    if (rc || y->n_sel == 0) return y->over = true, rc;
    y->t_start = e->now;
    return dispatch(y, err);
}

/* ---- closing: aggregate, account, evaluate ---- */

static int aggregate(sync_server *y, fs_db_round *row, fs_err *err)
{
    fs_engine *e = y->e;
    size_t n = 0;
    double loss = 0, samples = 0;
    for (size_t i = 0; i < y->n_sel; i++) {
        if (e->parts[i].stage != ST_REPORTED) continue;
        const fs_train_job *job = &e->jobs[i];
        double n_k = (double)e->cfg->pop->clients[e->parts[i].client].n_train;
        e->reports[n++] = (fs_agg_report){.client = e->parts[i].client,
                                          .update = job->update,
                                          .n_samples = n_k,
                                          .scale = 1,
                                          .loss_at_global = job->loss_at_global,
                                          .ctrl_delta = job->ctrl_delta,
                                          .steps = (double)job->result.steps};
        loss += n_k * job->result.mean_loss;
        samples += n_k;
    }
    row->train_loss = n ? loss / samples : NAN;
    int rc = fs_engine_aggregate(e, e->reports, n, e->ids, y->n_sel, err);
    row->epsilon = e->agg.epsilon;
    return rc;
}

static int close_and_report(sync_server *y, fs_err *err)
{
    fs_engine *e = y->e;
    fs_round_result res = {.parts = e->rows, .n_parts = y->n_sel};
    fs_db_round *row = &res.row;
    *row = (fs_db_round){.round = e->round,
                         .t_start = y->t_start,
                         .t_end = y->t_close,
                         .selected = (int)y->n_sel,
                         .epsilon = NAN,
                         .online_share = fs_engine_take_online_share(e)};
    for (size_t i = 0; i < y->n_sel; i++) {
        if (i + PREPARE_AHEAD < y->n_sel) fs_engine_prefetch_account(e, i + PREPARE_AHEAD);
        fs_engine_account_part(e, i, row);
    }
    int rc = aggregate(y, row, err);
    if (!rc) rc = fs_engine_evaluate(e, &res, err);
    if (rc) return rc;
    row->wall_s = fs_wall_seconds() - y->wall_start;
    /* pace steering (Bonawitz et al. 2019, section 2.3): the next round starts no earlier
     * than round_interval_s after this one started; set before a snapshot is taken */
    int64_t paced = y->t_start + llround(e->s->server.round_interval_s * 1e6);
    fs_engine_wait_until(e, y->t_close > paced ? y->t_close : paced);
    return fs_engine_deliver(e, &res, err);
}

/* Between two events nothing happens while a round is open; once it closed (every event of it
 * was played or cancelled), it is recorded and the next one starts. */
static int sync_step(void *pol, fs_err *err)
{
    sync_server *y = pol;
    if (y->open && !y->closed) return FS_OK;
    if (y->open) {
        fs_assert(fs_evq_size(&y->e->q) == 0);
        y->open = false;
        int rc = close_and_report(y, err);
        if (rc) return rc;
    }
    return begin_round(y, err);
}

static size_t sync_reports_wanted(const void *pol)
{
    const sync_server *y = pol;
    size_t want = (size_t)y->e->s->server.clients_per_round;
    return y->closed || (size_t)y->reported >= want ? 0 : want - (size_t)y->reported;
}

const fs_server_ops fs_server_sync = {
    .name = "sync",
    .size = sizeof(sync_server),
    .slots = sync_slots,
    .step_reports = sync_step_reports,
    .checkpointable = true,
    .stops_between_events = false,
    .init = sync_init,
    .fini = sync_fini,
    .step = sync_step,
    .done = sync_done,
    .on_end = sync_on_end,
    .on_timer = sync_on_timer,
    .reports_wanted = sync_reports_wanted,
};
