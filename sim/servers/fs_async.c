/* fs_async: buffered asynchronous aggregation, FedBuff (Nguyen et al. 2022). The server keeps
 * `concurrency` clients in flight, each trained from the model version current at its dispatch;
 * every arriving update goes into a buffer with its staleness tau (versions published since its
 * dispatch), updates staler than max_staleness are discarded (outcome "late"), and every
 * buffer_size arrivals the server applies
 *     w <- opt(w, sum_k n_k s(tau_k) delta_k / sum_k n_k),   s = 1 or 1/sqrt(1 + tau),
 * which is one "round" (one rounds row, with the participations that ended since the last one).
 * A finished or dropped client's slot is refilled at once from the available clients. The
 * campaign ends with a round: at server.rounds, or at server.max_virtual_hours with the buffer
 * as it is; the clients still in flight then are cut off (aborted) and recorded with it, so that
 * every selection has its row. The fs_server_async entry: the engine plays the participations. */
#include "fs_clock.h"
#include "fs_engine_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct buffered {
    fs_update u;
    uint32_t client;
    double n_samples, scale, local_loss;
} buffered;

typedef struct ended_key {
    uint32_t client;
    size_t pos; /* in `ended`: the order participations ended */
} ended_key;

typedef struct async_server {
    fs_engine *e;
    uint64_t version, batches;
    uint64_t *slot_version;
    size_t *free_slots; /* min-heap of the idle slots: refilled lowest first, as a scan
                         * would, but in O(log n) per slot instead of O(concurrency) per
                         * event */
    size_t n_free;
    size_t *batch_slots; /* max_sel: the slots one dispatch fills (heap: sized by input) */
    bool *busy;          /* max_sel: the slot's participation is in flight */
    buffered *buf;
    size_t n_buf;
    fs_agg_report *reports; /* buffer_size: the buffer as one step's reports (the engine's
                             * reports array has only max_sel, which may be fewer) */
    fs_db_part *ended;    /* participations that ended since the last aggregation */
    ended_key *by_client; /* cap_ended: `ended` sorted by client, to number repeats */
    size_t n_ended, cap_ended;
    fs_db_round row; /* counters since the last aggregation */
    double wall_start;
    bool retry_pending;
    int64_t t_waiting; /* since when no client could be found (or -1) */
} async_server;

static double staleness_scale(const fs_scenario *s, uint64_t tau)
{
    return s->server.staleness == FS_STALE_SQRT ? 1.0 / sqrt(1.0 + (double)tau) : 1.0;
}

static size_t async_slots(const fs_scenario *s)
{
    return s->server.concurrency;
}

/* DP's denominator: a FedBuff step sums buffer_size clipped updates (clients_per_round has no
 * effect in async mode) */
static double async_step_reports(const fs_scenario *s)
{
    return (double)s->server.buffer_size;
}

static int async_init(void *pol, fs_engine *e, fs_err *err)
{
    async_server *a = pol;
    a->e = e;
    a->t_waiting = -1;
    e->round = 1;
    a->row = (fs_db_round){.epsilon = NAN};
    a->wall_start = fs_wall_seconds();
    size_t k = e->s->server.buffer_size;
    a->slot_version = calloc(e->max_sel, sizeof *a->slot_version);
    a->free_slots = malloc((e->max_sel ? e->max_sel : 1) * sizeof *a->free_slots);
    a->batch_slots = calloc(e->max_sel, sizeof *a->batch_slots);
    a->busy = calloc(e->max_sel ? e->max_sel : 1, sizeof *a->busy);
    a->buf = calloc(k, sizeof *a->buf);
    a->reports = calloc(k, sizeof *a->reports);
    bool ok = a->slot_version && a->free_slots && a->batch_slots && a->busy && a->buf &&
              a->reports;
    for (size_t i = 0; ok && i < e->max_sel; i++) /* ascending: already a heap */
        a->free_slots[a->n_free++] = i;
    for (size_t i = 0; ok && i < k; i++)
        ok = fs_update_init(&a->buf[i].u, e->n_params, e->cfg->world->sparse_updates, 0) == FS_OK;
    if (ok) return FS_OK;
    fs_err_add(err, NULL, "out of memory for the asynchronous buffer (%zu updates)", k);
    return FS_ENOMEM;
}

static void async_fini(void *pol)
{
    async_server *a = pol;
    for (size_t i = 0; a->buf && i < a->e->s->server.buffer_size; i++)
        fs_update_fini(&a->buf[i].u);
    free(a->buf);
    free(a->reports);
    free(a->slot_version);
    free(a->free_slots);
    free(a->batch_slots);
    free(a->busy);
    free(a->ended);
    free(a->by_client);
}

/* ---- idle slots ---- */

static void free_push(async_server *a, size_t slot)
{
    size_t *h = a->free_slots, i = a->n_free++;
    for (; i > 0 && h[(i - 1) / 2] > slot; i = (i - 1) / 2)
        h[i] = h[(i - 1) / 2];
    h[i] = slot;
}

static void free_pop(async_server *a)
{
    size_t *h = a->free_slots, n = --a->n_free, last = h[n], i = 0;
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (h[c] >= last) break;
        h[i] = h[c];
    }
    h[i] = last;
}

/* ---- the buffer ---- */

static int copy_update(fs_update *dst, const fs_update *src)
{
    dst->sparse = src->sparse;
    if (!src->sparse) {
        memcpy(dst->dense, src->dense, src->n_params * sizeof *dst->dense);
        return FS_OK;
    }
    if (fs_update_reserve(dst, src->nnz)) return FS_ENOMEM;
    memcpy(dst->idx, src->idx, src->nnz * sizeof *dst->idx);
    memcpy(dst->val, src->val, src->nnz * sizeof *dst->val);
    dst->nnz = src->nnz;
    return FS_OK;
}

static int buffer_update(async_server *a, size_t slot, uint64_t tau, fs_err *err)
{
    fs_engine *e = a->e;
    buffered *b = &a->buf[a->n_buf++];
    b->client = e->parts[slot].client;
    b->n_samples = (double)e->cfg->pop->clients[b->client].n_train;
    b->scale = staleness_scale(e->s, tau);
    b->local_loss = e->jobs[slot].result.mean_loss;
    if (e->jobs[slot].update->sparse && !b->u.sparse && b->u.dense) {
        /* a dense model's update made sparse by compression: store it sparse */
        free(b->u.dense);
        b->u.dense = NULL;
    }
    if (!e->jobs[slot].update->sparse && !b->u.dense &&
        !(b->u.dense = malloc(e->n_params * sizeof *b->u.dense)))
        return fs_err_add(err, NULL, "out of memory buffering an update"), FS_ENOMEM;
    if (copy_update(&b->u, e->jobs[slot].update))
        return fs_err_add(err, NULL, "out of memory buffering an update"), FS_ENOMEM;
    return FS_OK;
}

/* ---- ending a participation ---- */

static int record_end(async_server *a, size_t slot, uint64_t tau, fs_err *err)
{
    fs_engine *e = a->e;
    if (a->n_ended == a->cap_ended) {
        size_t cap = a->cap_ended ? 2 * a->cap_ended : 64;
        fs_db_part *p = realloc(a->ended, cap * sizeof *p);
        if (p) a->ended = p;
        ended_key *o = realloc(a->by_client, cap * sizeof *o);
        if (o) a->by_client = o;
        if (!p || !o)
            return fs_err_add(err, NULL, "out of memory recording participations"), FS_ENOMEM;
        a->cap_ended = cap;
    }
    fs_engine_account_part(e, slot, &a->row);
    e->rows[slot].staleness = (int)tau;
    a->ended[a->n_ended++] = e->rows[slot];
    a->busy[slot] = false;
    free_push(a, slot);
    return FS_OK;
}

/* versions published since the slot's dispatch */
static uint64_t staleness(const async_server *a, size_t slot)
{
    return a->version - a->slot_version[slot];
}

static bool async_accepts(void *pol, uint32_t slot)
{
    async_server *a = pol;
    return staleness(a, slot) <= (uint64_t)a->e->s->server.max_staleness;
}

/* Only reports enter the buffer (not stale, not poisoned); every end is recorded. */
static int async_on_end(void *pol, uint32_t slot, fs_err *err)
{
    async_server *a = pol;
    uint64_t tau = staleness(a, slot);
    int rc = a->e->parts[slot].stage == ST_REPORTED ? buffer_update(a, slot, tau, err) : FS_OK;
    return rc ? rc : record_end(a, slot, tau, err);
}

/* ---- aggregation: one round ---- */

/* The campaign ends at e->now: the participations still in flight are cut off there (outcome
 * aborted) and recorded with the last window, so that every selection has its row. */
static int abort_in_flight(async_server *a, fs_err *err)
{
    fs_engine *e = a->e;
    int rc = FS_OK;
    for (size_t s = 0; s < e->max_sel && !rc; s++) {
        if (!a->busy[s]) continue;
        fs_engine_abort(e, s, ST_ABORTED, e->now);
        rc = record_end(a, s, staleness(a, s), err);
    }
    return rc;
}

static int by_client_then_end(const void *x, const void *y)
{
    const ended_key *a = x, *b = y;
    if (a->client != b->client) return a->client < b->client ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* A slot freed by a client that ends is refilled at once, so the same client can be picked
 * again and end again before the buffer fills: its participations in one window get seq 0, 1,
 * ... in the order they ended (one row each, keyed (round, client, seq)). */
static void number_repeats(async_server *a)
{
    size_t n = a->n_ended;
    ended_key *k = a->by_client;
    for (size_t i = 0; i < n; i++)
        k[i] = (ended_key){a->ended[i].client_id, i};
    qsort(k, n, sizeof *k, by_client_then_end);
    for (size_t i = 0; i < n; i++)
        a->ended[k[i].pos].seq =
            i > 0 && k[i - 1].client == k[i].client ? a->ended[k[i - 1].pos].seq + 1 : 0;
}

/* One window's step and row; `last` when the campaign ends with it (server.rounds reached, or
 * server.max_virtual_hours with the buffer not full: FedBuff's last partial buffer). */
static int aggregate(async_server *a, bool last, fs_err *err)
{
    fs_engine *e = a->e;
    int rc = last ? abort_in_flight(a, err) : FS_OK;
    if (rc) return rc;
    double loss = 0, samples = 0;
    for (size_t k = 0; k < a->n_buf; k++) {
        const buffered *b = &a->buf[k];
        a->reports[k] = (fs_agg_report){
            .client = b->client, .update = &b->u, .n_samples = b->n_samples, .scale = b->scale};
        loss += b->n_samples * b->local_loss;
        samples += b->n_samples;
    }
    fs_db_round *row = &a->row;
    row->round = e->round;
    row->t_end = e->now;
    row->train_loss = samples > 0 ? loss / samples : NAN;
    row->online_share = fs_engine_take_online_share(e);
    rc = fs_engine_aggregate(e, a->reports, a->n_buf, NULL, 0, err);
    e->trainer.global_norm = NAN; /* w changed */
    row->epsilon = e->agg.epsilon;
    number_repeats(a);
    /* every participation, recorded or not: their energy goes to client_energy_rounds */
    fs_round_result res = {.parts = a->ended, .n_parts = a->n_ended};
    if (!rc) rc = fs_engine_evaluate(e, &res, err);
    if (rc) return rc;
    res.row = *row;
    res.row.wall_s = fs_wall_seconds() - a->wall_start;
    rc = fs_engine_deliver(e, &res, err);
    a->version++;
    a->n_buf = a->n_ended = 0;
    a->row = (fs_db_round){.t_start = e->now, .epsilon = NAN};
    a->wall_start = fs_wall_seconds();
    e->round++;
    return rc;
}

/* ---- dispatch ---- */

static bool pick_one(fs_engine *e, uint32_t *out_id, fs_err *err)
{
    size_t n = fs_engine_select(e, 1, err);
    *out_id = e->ids[0];
    return n == 1;
}

static int schedule_retry(async_server *a, fs_err *err)
{
    fs_engine *e = a->e;
    if (a->t_waiting < 0) a->t_waiting = e->now;
    if (e->now - a->t_waiting >= WAIT_LIMIT_US) {
        fs_err_add(err, NULL,
                   "round %d: no client became available in 30 virtual days "
                   "(check devices.availability)",
                   e->round);
        return FS_ESCENARIO;
    }
    a->retry_pending = true;
    int64_t t = e->now + llround(e->s->server.retry_s * 1e6);
    return fs_engine_push_timer(e, t, err) ? FS_OK : FS_ENOMEM;
}

/* The only timer is the retry: the next step tries to fill the slots again. */
static int async_on_timer(void *pol, fs_err *err)
{
    (void)err;
    ((async_server *)pol)->retry_pending = false;
    return FS_OK;
}

static int fill_slots(async_server *a, fs_err *err)
{
    fs_engine *e = a->e;
    size_t *slots = a->batch_slots, n = 0;
    e->stream_round = a->batches + 1; /* a batch number is used only if someone is dispatched */
    int rc = FS_OK;
    while (a->n_free > 0 && !rc) {
        uint32_t id;
        size_t s = a->free_slots[0];
        if (!pick_one(e, &id, err)) {
            if (!a->retry_pending) rc = schedule_retry(a, err);
            break;
        }
        free_pop(a);
        a->t_waiting = -1;
        rc = fs_engine_prepare(e, s, id, INT64_MAX, err); /* no deadline */
        a->slot_version[s] = a->version;
        a->row.selected++;
        a->busy[s] = true;
        slots[n++] = s;
    }
    if (n) a->batches++;
    return rc || !n ? rc : fs_engine_launch(e, slots, n, err);
}

/* ---- the policy's turn ---- */

static bool async_done(const void *pol)
{
    const async_server *a = pol;
    return a->e->round > a->e->s->server.rounds;
}

/* After every event: a full buffer is aggregated, then free slots are refilled. */
static int async_step(void *pol, fs_err *err)
{
    async_server *a = pol;
    const fs_scenario *s = a->e->s;
    int rc = a->n_buf == s->server.buffer_size
                 ? aggregate(a, a->e->round == (int)s->server.rounds, err)
                 : FS_OK;
    return rc || async_done(a) ? rc : fill_slots(a, err);
}

/* server.max_virtual_hours came between two windows' ends: what the open one has is its last
 * round (none when nothing ended since the last and nothing is in flight). */
static int async_on_time_limit(void *pol, fs_err *err)
{
    async_server *a = pol;
    bool open = a->n_ended > 0;
    for (size_t s = 0; s < a->e->max_sel && !open; s++) open = a->busy[s];
    return open ? aggregate(a, true, err) : FS_OK;
}


const fs_server_ops fs_server_async = {
    .name = "async",
    .size = sizeof(async_server),
    .slots = async_slots,
    .step_reports = async_step_reports,
    .checkpointable = false,
    .stops_between_events = true,
    .init = async_init,
    .fini = async_fini,
    .step = async_step,
    .done = async_done,
    .accepts = async_accepts,
    .on_end = async_on_end,
    .on_timer = async_on_timer,
    .on_time_limit = async_on_time_limit,
};
