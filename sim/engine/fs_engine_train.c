/* fs_engine_train: when the engine's participations are trained. A launch trains its clients
 * together, in parallel (fs_trainer); under a policy that says how many reports its round still
 * waits for (fs_server_ops.reports_wanted: sync), a participation is instead deferred until its
 * training ends in virtual time, and then trained together with the deferred ones due soonest,
 * as many as the round can still use and a margin. A client the round cuts off before its
 * training ends (over-selection's surplus: most of them are still downloading) is then never
 * trained at all: at 1.3x over-selection a fifth of the work of a round.
 *
 * Nothing in the run depends on when a client is trained: a client's training is a function of
 * the round's global model and its own streams, and nothing before its training ends reads what
 * training produces, except the upload size through a planned crash (a crash falls at its
 * fraction of the whole participation, upload included): such participations, and those of
 * policies without reports_wanted, are trained at launch. Results are the same bit for bit. */
#include <stdlib.h>

#include "fs_clock.h"
#include "fs_engine_int.h"

/* Trains e->batch[0..n) and hands each job back to its slot. */
static int train_batch(fs_engine *e, size_t n, fs_err *err)
{
    double t0 = fs_wall_seconds();
    int rc = fs_trainer_run(&e->trainer, e->w, e->batch, n, (int)e->stream_round, err);
    e->train_s += fs_wall_seconds() - t0;
    for (size_t i = 0; i < n && !rc; i++)
        e->jobs[e->batch_slot[i]] = e->batch[i];
    return rc;
}

/* What a deferred participation's plan holds until it is trained: no crash is planned, so it
 * can only drop by going offline, and the report time waits for the update's size. */
static void defer_plan(fs_part *p)
{
    p->deferred = true;
    p->offline_drop = true;
    p->t_drop = p->t_off;
    p->d_train = p->t_tr - p->t_dl;
    p->t_rep = INT64_MAX;
    p->d_up = 0;
    p->bytes_up = 0;
}

static bool can_defer(const fs_engine *e, const fs_part *p, const fs_train_job *job)
{
    return e->ops->reports_wanted && !e->cfg->train_at_launch && job->train && p->crash_at < 0;
}

int fs_engine_launch(fs_engine *e, const size_t *slots, size_t n, fs_err *err)
{
    size_t now = 0;
    for (size_t i = 0; i < n; i++) {
        size_t s = slots ? slots[i] : i;
        fs_part *p = &e->parts[s];
        if (can_defer(e, p, &e->jobs[s])) {
            defer_plan(p);
            continue;
        }
        e->batch_slot[now] = s;
        e->batch[now++] = e->jobs[s];
    }
    int rc = train_batch(e, now, err);
    for (size_t i = 0; i < now && !rc; i++) {
        size_t s = e->batch_slot[i];
        fs_engine_finish_plan(e, &e->parts[s], &e->updates[s], e->jobs[s].train);
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = fs_engine_push_next(e, (uint32_t)(slots ? slots[i] : i), err);
    return rc;
}

static bool due_before(const fs_due *x, const fs_due *y)
{
    return x->t != y->t ? x->t < y->t : x->slot < y->slot; /* slots differ: a total order */
}

static int by_due(const void *a, const void *b)
{
    return due_before(a, b) ? -1 : due_before(b, a) ? 1 : 0;
}

static void swap_due(fs_due *d, size_t i, size_t j)
{
    fs_due t = d[i];
    d[i] = d[j];
    d[j] = t;
}

/* Partitions d[lo, hi) around the median of its first, middle and last entries; returns the
 * pivot's place: smaller entries before it, later ones after. */
static size_t partition_due(fs_due *d, size_t lo, size_t hi)
{
    size_t a = lo, b = lo + (hi - lo) / 2, c = hi - 1, m;
    if (due_before(&d[a], &d[b]))
        m = due_before(&d[b], &d[c]) ? b : due_before(&d[a], &d[c]) ? c : a;
    else
        m = due_before(&d[a], &d[c]) ? a : due_before(&d[b], &d[c]) ? c : b;
    swap_due(d, m, hi - 1);
    size_t at = lo;
    for (size_t i = lo; i + 1 < hi; i++)
        if (due_before(&d[i], &d[hi - 1])) swap_due(d, i, at++);
    swap_due(d, at, hi - 1);
    return at;
}

/* Quickselect, then a sort of what is left when the range gets small or the partitions keep
 * coming out lopsided. */
void fs_engine_keep_earliest(fs_due *d, size_t n, size_t k)
{
    size_t lo = 0, hi = n; /* d[0, lo) are among the k earliest, d[hi, n) are not */
    for (int tries = 64; hi - lo > 16 && tries > 0; tries--) {
        size_t at = partition_due(d, lo, hi);
        if (at == k || at + 1 == k) return;
        if (at > k)
            hi = at;
        else
            lo = at + 1;
    }
    qsort(d + lo, hi - lo, sizeof *d, by_due);
}

/* How many deferred participations to train now: the reports the round still wants, a
 * sixteenth more for those that will drop or be cut off during their upload, and enough to
 * keep every thread busy. */
static size_t wave_size(const fs_engine *e)
{
    size_t want = e->ops->reports_wanted(e->pol);
    return want + want / 16 + 8 * (size_t)e->wave_threads;
}

int fs_engine_train_due(fs_engine *e, uint32_t slot, fs_err *err)
{
    size_t n = 0;
    for (size_t s = 0; s < e->max_sel; s++)
        if (e->parts[s].deferred && s != slot)
            e->due[n++] = (fs_due){.t = e->parts[s].t_tr, .slot = (uint32_t)s};
    size_t w = wave_size(e);
    if (n > w - 1) {
        fs_engine_keep_earliest(e->due, n, w - 1);
        n = w - 1;
    }
    e->batch_slot[0] = slot;
    e->batch[0] = e->jobs[slot];
    for (size_t i = 0; i < n; i++) {
        e->batch_slot[i + 1] = e->due[i].slot;
        e->batch[i + 1] = e->jobs[e->due[i].slot];
    }
    int rc = train_batch(e, n + 1, err);
    for (size_t i = 0; i <= n && !rc; i++) {
        fs_part *p = &e->parts[e->batch_slot[i]];
        p->deferred = false;
        fs_engine_finish_plan(e, p, &e->updates[e->batch_slot[i]], true);
    }
    return rc;
}
