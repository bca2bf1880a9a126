/* fs_evq: the event queue. A binary min-heap of events ordered by the total key
 * (t, class, seq): virtual time in integer microseconds, then a fixed class order for events at
 * the same instant, then insertion order, so simultaneous events always fire in the same order.
 * Cancellation is lazy: a cancelled event stays in the heap as a tombstone and is skipped on pop.
 * The queue never calls back into the engine; handlers never keep pointers to events. */
#ifndef FS_EVQ_H
#define FS_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fs_event {
    int64_t t;        /* virtual microseconds */
    uint32_t cls;     /* tie-break class: lower fires first at equal t */
    uint32_t kind;    /* engine-defined */
    uint64_t seq;     /* assigned by the queue: insertion order, also the cancel handle */
    uint32_t client;  /* engine-defined payload */
    uint32_t slot;    /* engine-defined payload */
} fs_event;

typedef struct fs_evq {
    fs_event *heap;
    size_t n, cap;
    uint64_t next_seq;
    uint64_t *dead;   /* open-addressing set of cancelled seqs still in the heap */
    size_t n_dead, dead_cap;
    uint64_t n_popped, n_skipped;
} fs_evq;

void fs_evq_init(fs_evq *q);
void fs_evq_fini(fs_evq *q);

/* Pushes a copy of ev (its seq is assigned) and returns the seq handle, or 0 when out of
 * memory (handles start at 1). */
uint64_t fs_evq_push(fs_evq *q, const fs_event *ev);

/* Pops the earliest live event into *out; false when none is left. */
bool fs_evq_pop(fs_evq *q, fs_event *out);

/* Earliest live event without removing it; false when none is left. */
bool fs_evq_peek(fs_evq *q, fs_event *out);

/* Marks the event with handle seq as cancelled. Cancelling an event that already fired or was
 * already cancelled is a caller bug and is not detected. Never allocates for a queued event
 * (push reserved the room), so it cannot fail then. */
bool fs_evq_cancel(fs_evq *q, uint64_t seq);

/* Live events (pushed, not popped, not cancelled). */
static inline size_t fs_evq_size(const fs_evq *q)
{
    return q->n - q->n_dead;
}

#endif
