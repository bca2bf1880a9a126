/* fs_evq: the event queue. Events are ordered by the total key (t, class, seq): virtual time in
 * integer microseconds, then a fixed class order for events at the same instant, then insertion
 * order, so simultaneous events always fire in the same order.
 *
 * Layout (why it is fast): keys are 16 bytes (t, class, record index). Keys after the last popped
 * time wait unsorted in radix buckets and move only toward it; the keys of the current instant
 * (and any pushed earlier than it) sit in a 4-ary heap, four children to a cache line. An event's
 * payload and seq live in a record of a slab that never moves while the event is queued, and seq
 * is read only to break a tie of (t, class). Pushes at or after the last popped time are the fast
 * case; an earlier push is still ordered exactly. Cancellation is lazy: a cancelled event stays
 * queued as a tombstone and is skipped on pop. The queue never calls back into the engine;
 * handlers never keep pointers to events. */
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

/* Keys later than the current instant wait unsorted in radix buckets: bucket b (1..64) holds
 * those whose time differs from t_last first in bit b - 1 (see fs_evq.c). */
typedef struct fs_evq_bucket {
    fs_evq_key *keys;
    size_t n, cap;
    uint64_t min; /* the smallest time image (fs_evq.c: t_image) in the bucket */
} fs_evq_bucket;

/* Below this many keys the heap fits the cache and is faster alone. */
#define FS_EVQ_RADIX_MIN 8192

typedef struct fs_evq {
    fs_evq_key *heap; /* 4-ary min-heap of n keys (tombstones included): the keys pushed before
                       * the buckets were in use, those at or before t_last, and any a bucket
                       * had no memory for */
    fs_evq_rec *recs; /* n_recs records ever used, those of queued keys and free ones */
    size_t n, cap, n_recs; /* cap: room for every queued key in the heap and in recs */
    uint32_t free_rec;     /* head of the free records' list, UINT32_MAX when empty */
    bool hole;             /* heap[0] was popped but not yet removed: n counts it, a push fills it */
    bool radix;            /* the buckets are in use: the queue once held radix_min keys */
    size_t radix_min;      /* FS_EVQ_RADIX_MIN (tests lower it) */
    uint64_t last;         /* time image of t_last, at or before every bucket's keys; pushes after
                            * it go to the buckets, the others to the heap; it only moves forward */
    uint64_t nonempty;     /* bit b - 1 set when bucket b holds keys */
    size_t n_far;          /* keys in buckets (tombstones included) */
    fs_evq_bucket bucket[64]; /* bucket b at [b - 1] */
    uint64_t next_seq;
    size_t n_dead; /* tombstones in the heap and the buckets */
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
    return q->n + q->n_far - q->n_dead - q->hole;
}

#endif
