/* fs_evq: the event queue. Events are ordered by the total key (t, class, seq): virtual time in
 * integer microseconds, then a fixed class order for events at the same instant, then insertion
 * order, so simultaneous events always fire in the same order.
 *
 * Layout (why it is fast): the heap holds 16-byte keys (t, class, record index), four children
 * to a cache line, so sifting moves small entries; an event's payload and seq live in a record
 * of a slab that never moves while the event is queued, and seq is read only to break a tie of
 * (t, class). Cancellation is lazy: a cancelled event stays in the heap as a tombstone and is
 * skipped on pop. The queue never calls back into the engine; handlers never keep pointers to
 * events. */
#ifndef FS_EVQ_H
#define FS_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fs_event {
    int64_t t;        /* virtual microseconds */
    uint32_t cls;     /* tie-break class: lower fires first at equal t */
    uint32_t kind;    /* engine-defined */
    uint64_t seq;     /* assigned by the queue: insertion order */
    uint32_t client;  /* engine-defined payload */
    uint32_t slot;    /* engine-defined payload */
} fs_event;

typedef struct fs_evq_key {
    int64_t t;
    uint32_t cls;
    uint32_t rec; /* index of the event's record */
} fs_evq_key;

typedef struct fs_evq_rec {
    uint64_t seq;
    uint32_t kind, client;
    uint32_t slot;     /* the payload; while the record is free: the next free record */
    uint32_t gen_dead; /* generation << 1 | cancelled; the generation moves on when the record
                        * is freed, so a handle names one use of a record */
} fs_evq_rec;

typedef struct fs_evq {
    fs_evq_key *heap; /* 4-ary min-heap of n keys (tombstones included) */
    fs_evq_rec *recs; /* n_recs records ever used, n of them queued, the others free */
    size_t n, cap, n_recs;
    uint32_t free_rec; /* head of the free records' list, UINT32_MAX when empty */
    bool hole;         /* heap[0] was popped but not yet removed: n counts it, a push fills it */
    uint64_t next_seq;
    size_t n_dead; /* tombstones in the heap */
    uint64_t n_popped, n_skipped;
} fs_evq;

void fs_evq_init(fs_evq *q);
void fs_evq_fini(fs_evq *q);

/* Pushes a copy of ev (its seq is assigned) and returns a handle for fs_evq_cancel, or 0 when out
 * of memory (handles are never 0). */
uint64_t fs_evq_push(fs_evq *q, const fs_event *ev);

/* Pops the earliest live event into *out; false when none is left. */
bool fs_evq_pop(fs_evq *q, fs_event *out);

/* Earliest live event without removing it; false when none is left. */
bool fs_evq_peek(fs_evq *q, fs_event *out);

/* Marks the event with this handle as cancelled; true when it was queued and live. Cancelling an
 * event that already fired or was already cancelled does nothing and returns false. Never
 * allocates, so it cannot fail. */
bool fs_evq_cancel(fs_evq *q, uint64_t handle);

/* Live events (pushed, not popped, not cancelled). */
static inline size_t fs_evq_size(const fs_evq *q)
{
    return q->n - q->n_dead - q->hole;
}

#endif
