/* fs_evq: binary min-heap on (t, cls, seq) with a tombstone set for lazy cancellation
 * (as in libuv's timer heap and Redis's ae.c: cancelled timers are skipped when reached). */
#include "fs_evq.h"

#include <stdlib.h>
#include <string.h>

void fs_evq_init(fs_evq *q)
{
    memset(q, 0, sizeof *q);
    q->next_seq = 1;
}

void fs_evq_fini(fs_evq *q)
{
    free(q->heap);
    free(q->dead);
    memset(q, 0, sizeof *q);
}

static bool ev_before(const fs_event *a, const fs_event *b)
{
    if (a->t != b->t) return a->t < b->t;
    if (a->cls != b->cls) return a->cls < b->cls;
    return a->seq < b->seq;
}

static void sift_up(fs_event *h, size_t i)
{
    fs_event ev = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&ev, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = ev;
}

static void sift_down(fs_event *h, size_t n, size_t i)
{
    fs_event ev = h[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && ev_before(&h[child + 1], &h[child])) child++;
        if (!ev_before(&h[child], &ev)) break;
        h[i] = h[child];
        i = child;
    }
    h[i] = ev;
}

static bool dead_grow(fs_evq *q);

uint64_t fs_evq_push(fs_evq *q, const fs_event *ev)
{
    /* room for every queued event to become a tombstone (load <= 1/2), reserved here where
     * failing is reportable, so fs_evq_cancel never has to allocate */
    while (2 * (q->n + 1) > q->dead_cap)
        if (!dead_grow(q)) return 0;
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        fs_event *h = realloc(q->heap, cap * sizeof *h);
        if (!h) return 0;
        q->heap = h;
        q->cap = cap;
    }
    q->heap[q->n] = *ev;
    q->heap[q->n].seq = q->next_seq++;
    sift_up(q->heap, q->n++);
    return q->next_seq - 1;
}

/* Tombstone set: linear probing over seqs (never 0, so 0 marks an empty slot; removal uses
 * backward-shift deletion so no deleted markers accumulate). */
static size_t dead_slot(uint64_t seq, size_t cap)
{
    uint64_t h = seq * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & (cap - 1);
}

static bool dead_grow(fs_evq *q)
{
    size_t cap = q->dead_cap ? 2 * q->dead_cap : 64;
    uint64_t *d = calloc(cap, sizeof *d);
    if (!d) return false;
    for (size_t i = 0; i < q->dead_cap; i++) {
        if (!q->dead[i]) continue;
        size_t j = dead_slot(q->dead[i], cap);
        while (d[j]) j = (j + 1) & (cap - 1);
        d[j] = q->dead[i];
    }
    free(q->dead);
    q->dead = d;
    q->dead_cap = cap;
    return true;
}

bool fs_evq_cancel(fs_evq *q, uint64_t seq)
{
    /* push reserved the room: n_dead < n, so this never allocates for a queued event */
    if (2 * (q->n_dead + 1) > q->dead_cap && !dead_grow(q)) return false;
    size_t j = dead_slot(seq, q->dead_cap);
    while (q->dead[j] && q->dead[j] != seq) j = (j + 1) & (q->dead_cap - 1);
    if (!q->dead[j]) {
        q->dead[j] = seq;
        q->n_dead++;
    }
    return true;
}

/* Removes seq from the tombstone set if present; true when it was there. */
static bool dead_take(fs_evq *q, uint64_t seq)
{
    if (!q->n_dead) return false;
    size_t mask = q->dead_cap - 1, j = dead_slot(seq, q->dead_cap);
    while (q->dead[j] && q->dead[j] != seq) j = (j + 1) & mask;
    if (!q->dead[j]) return false;
    q->dead[j] = 0;
    q->n_dead--;
    for (size_t k = (j + 1) & mask; q->dead[k]; k = (k + 1) & mask) {
        size_t home = dead_slot(q->dead[k], q->dead_cap);
        /* move k back into the hole j if its home does not lie cyclically in (j, k] */
        bool in_range = (j < k) ? (home > j && home <= k) : (home > j || home <= k);
        if (!in_range) {
            q->dead[j] = q->dead[k];
            q->dead[k] = 0;
            j = k;
        }
    }
    return true;
}

static void drop_top(fs_evq *q)
{
    q->heap[0] = q->heap[--q->n];
    if (q->n) sift_down(q->heap, q->n, 0);
}

bool fs_evq_peek(fs_evq *q, fs_event *out)
{
    while (q->n) {
        if (!dead_take(q, q->heap[0].seq)) {
            *out = q->heap[0];
            return true;
        }
        q->n_skipped++;
        drop_top(q);
    }
    return false;
}

bool fs_evq_pop(fs_evq *q, fs_event *out)
{
    if (!fs_evq_peek(q, out)) return false;
    drop_top(q);
    q->n_popped++;
    return true;
}
