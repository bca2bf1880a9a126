/* fs_link: processor sharing on one shared link, with max-min fair shares (water-filling).
 *
 * Why water-filling rather than min(own cap, C / active), the first sketch: with that
 * rule a transfer capped below C/n leaves its unused share idle, so the link can sit below its
 * capacity while others wait; max-min fairness hands the leftover to the others (it is the
 * work-conserving version, and what TCP-like fair sharing converges to). The two agree when no
 * transfer is capped below C/n.
 *
 * Bookkeeping: rates only change when the set of transfers changes. A change at time t marks the
 * link dirty; the next query recomputes the level and every transfer's finishing time
 * t_fin = t + ceil(left / rate) once. Advancing the clock to t' subtracts rate * (t' - t) from
 * each transfer, and one whose t_fin <= t' is set to exactly 0, so a finish is decided by the
 * integer t_fin, never by a rounding residue of `left`. All sums run in the array's order, which
 * depends only on the sequence of adds and removes: results do not depend on threads.
 *
 * Cost: add and remove are O(1) plus an O(n) advance; each recomputation is O(n * k), k the
 * rounds of the level's fixed point (below: k <= distinct caps + 1, in practice 1-3). A round of
 * n uploads that finish one by one thus costs O(n^2) over the round, O(n) per event. */
#include "fs_link.h"

#include <math.h>
#include <stdlib.h>

#include "fs_err.h"

int fs_link_init(fs_link *l, double capacity, size_t max_id)
{
    *l = (fs_link){.capacity = capacity, .max_id = max_id, .level = INFINITY};
    l->x = malloc((max_id ? max_id : 1) * sizeof *l->x);
    l->pos = calloc(max_id ? max_id : 1, sizeof *l->pos);
    return l->x && l->pos ? FS_OK : FS_ENOMEM;
}

void fs_link_fini(fs_link *l)
{
    free(l->x);
    free(l->pos);
    l->x = NULL;
    l->pos = NULL;
}

bool fs_link_has(const fs_link *l, uint32_t id)
{
    return id < l->max_id && l->pos[id] != 0;
}

/* Whole microseconds to move `left` bytes at `rate`, rounded up (0 when nothing is left). The
 * rounding up is by hand: the baseline x86-64 build has no rounding instruction, and ceil() as a
 * call was a third of this loop's time on a shared link of 650 transfers. Below 4e18 doubles
 * are spaced at most 512 apart, so one under it is at most 4e18 - 512 and its ceiling is too:
 * the results are ceil()'s. */
static int64_t ceil_us(double left, double rate)
{
    if (left <= 0) return 0;
    double q = left / rate;
    if (!(q < 4e18)) return INT64_MAX / 2;
    int64_t whole = (int64_t)q; /* q >= 0: truncation is the floor */
    return whole + ((double)whole < q);
}

/* The water level: L with sum_i min(cap_i, L) = C, or INFINITY when the caps fit in C. The fixed
 * point L_{k+1} = (C - sum_{cap_i < L_k} cap_i) / #{cap_i >= L_k}, from L_0 = C / n, only grows
 * (more transfers become capped as L rises) and stops when the capped set stops growing. The
 * total of the caps and the first round's sum below L_0 share one pass, each still summed in
 * array order, and the comparisons are selects (adding +0.0 leaves a sum of positive caps as it
 * was): the sums' dependent adds then overlap instead of waiting on each other and on
 * mispredicted branches (this function was a tenth of the shipped ctr_charging run). */
static double water_level(const fs_link *l)
{
    double all = 0, below = 0, level = l->capacity / (double)l->n;
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        double cap = l->x[i].cap;
        all += cap;
        below += cap < level ? cap : 0.0;
        k += cap < level;
    }
    if (all <= l->capacity) return INFINITY;
    for (size_t n_capped = 0; k != n_capped;) {
        /* k < n: were every cap below the level, the caps would sum to less than C */
        level = (l->capacity - below) / (double)(l->n - k);
        n_capped = k;
        below = 0, k = 0;
        for (size_t i = 0; i < l->n; i++) {
            double cap = l->x[i].cap;
            below += cap < level ? cap : 0.0;
            k += cap < level;
        }
    }
    return level;
}

/* The earliest finish, the lower id on a tie: which transfer fs_link_next names. */
static bool finishes_before(const fs_link_xfer *a, const fs_link_xfer *b)
{
    return a->t_fin < b->t_fin || (a->t_fin == b->t_fin && a->id < b->id);
}

/* Rates and finishing times, and the next finish found on the way: a link event otherwise
 * scanned the transfers once more for it, twice (before and after its removal). */
static void recompute(fs_link *l)
{
    l->level = l->n ? water_level(l) : INFINITY;
    l->next = 0;
    for (size_t i = 0; i < l->n; i++) {
        fs_link_xfer *x = &l->x[i];
        x->rate = x->cap < l->level ? x->cap : l->level;
        x->t_fin = l->t + ceil_us(x->left, x->rate);
        if (finishes_before(x, &l->x[l->next])) l->next = i;
    }
    l->dirty = false;
    l->n_recomputes++;
}

/* Moves the clock to t under the rates in force since the last change. */
static void advance(fs_link *l, int64_t t)
{
    fs_assert(t >= l->t);
    if (t == l->t) return;
    if (l->dirty) recompute(l);
    double dt = (double)(t - l->t);
    for (size_t i = 0; i < l->n; i++) {
        fs_link_xfer *x = &l->x[i];
        fs_assert(x->t_fin >= t); /* the engine takes finished transfers off in time */
        /* fmax's value (the floor is not NaN), as a compare: fmax is a call in this build */
        double left = x->left - x->rate * dt;
        x->left = x->t_fin == t ? 0 : left > 0x1p-30 ? left : 0x1p-30;
    }
    l->t = t;
}

void fs_link_add(fs_link *l, int64_t t, uint32_t id, double bytes, double cap)
{
    fs_assert(id < l->max_id && !l->pos[id] && bytes > 0 && cap > 0);
    advance(l, t);
    l->x[l->n++] = (fs_link_xfer){.id = id, .left = bytes, .cap = cap};
    l->pos[id] = (uint32_t)l->n;
    l->dirty = true;
}

double fs_link_remove(fs_link *l, int64_t t, uint32_t id)
{
    fs_assert(fs_link_has(l, id));
    advance(l, t);
    size_t i = l->pos[id] - 1;
    double left = l->x[i].left;
    l->x[i] = l->x[--l->n]; /* the last one takes its place: O(1), order still deterministic */
    l->pos[l->x[i].id] = (uint32_t)(i + 1);
    l->pos[id] = 0;
    l->dirty = true;
    return left;
}

bool fs_link_next(fs_link *l, int64_t *out_t, uint32_t *out_id)
{
    if (l->n == 0) return false;
    if (l->dirty) recompute(l);
    const fs_link_xfer *best = &l->x[l->next]; /* clean: advance moved no finishing time */
    *out_t = best->t_fin;
    *out_id = best->id;
    return true;
}
