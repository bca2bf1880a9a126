/* fs_link: one shared server link (the ingress or the egress) of capacity C bytes/us, shared by
 * its active transfers by processor sharing with max-min fairness (water-filling): every transfer
 * gets min(its own cap, L), where the level L is the largest value with sum_i min(cap_i, L) <= C.
 * Owns the transfers' remaining bytes and rates; never touches the event queue (the engine keeps
 * one pending event per link at fs_link_next's time and re-pushes it when the set changes).
 * Transfers are named by a caller's id below max_id (the engine's slot); time never goes back. */
#ifndef FS_LINK_H
#define FS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fs_link_xfer {
    uint32_t id;
    double left;   /* bytes still to move at the link's clock */
    double cap;    /* the transfer's own rate, bytes/us */
    double rate;   /* its share, bytes/us (valid while the link is clean) */
    int64_t t_fin; /* when it finishes at that rate (valid while clean) */
} fs_link_xfer;

typedef struct fs_link {
    double capacity;   /* bytes/us */
    fs_link_xfer *x;   /* the n active transfers, in no particular (but deterministic) order */
    uint32_t *pos;     /* id -> index in x plus 1; 0: not on the link */
    size_t n, max_id;
    int64_t t;         /* the link's clock: remaining bytes are as of t */
    bool dirty;        /* the set changed at t: rates and t_fin must be recomputed */
    double level;      /* the water level L of the last recomputation (INFINITY: unsaturated) */
    size_t next;       /* index in x of the next finish (valid while the link is clean) */
    uint64_t n_recomputes;
} fs_link;

/* Capacity in bytes/us (> 0), ids below max_id. FS_OK or FS_ENOMEM. */
int fs_link_init(fs_link *l, double capacity, size_t max_id);
void fs_link_fini(fs_link *l);

/* Starts transfer `id` (not on the link) of `bytes` > 0 at own rate `cap` > 0 bytes/us at time t
 * (>= the link's clock, and no later than fs_link_next's time). Cannot fail: storage is
 * preallocated for max_id transfers. */
void fs_link_add(fs_link *l, int64_t t, uint32_t id, double bytes, double cap);

/* Takes transfer `id` off the link at t (same bounds as add) and returns its bytes still unsent
 * (0 when it finished at t). */
double fs_link_remove(fs_link *l, int64_t t, uint32_t id);

bool fs_link_has(const fs_link *l, uint32_t id);

/* The transfer that finishes first under the current shares, and when (ties: lowest id); false
 * when the link is idle. Finishing times are whole microseconds, rounded up: a transfer
 * finishes at the first microsecond at which its remaining bytes reach 0. */
bool fs_link_next(fs_link *l, int64_t *out_t, uint32_t *out_id);

#endif
