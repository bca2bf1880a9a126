/* fs_pop: the client population. Every client's device, link and availability state lives in
 * one array of small fixed-size records (no per-client allocation), plus a permutation used for
 * uniform selection. A client's data are referenced by its id into the world's partition; the
 * population never touches data. Invariant: sizeof(fs_client) + 4 bytes per client. */
#ifndef FS_POP_H
#define FS_POP_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_avail.h"
#include "fs_energy.h"
#include "fs_err.h"
#include "fs_scn.h"

typedef struct fs_client {
    float gflops, uplink_mbps, downlink_mbps, latency_ms;
    int64_t t_busy_until; /* in a participation until then: not selectable */
    fs_avail_state avail;
    uint32_t n_train, n_test;
    uint8_t consent; /* 1 = may participate */
    uint8_t dev_class; /* devices.classes index (fs_energy.h) */
    uint8_t home_wifi; /* usual network: 1 Wi-Fi at home, 0 cellular */
    uint8_t attacker;  /* 1 = runs adversary.attack (fs_attack_pick) */
    float battery;     /* level in [0, 1] as of max(t_busy_until, 0) (fs_energy_battery_at);
                        * the initial level throughout when nothing reads it (battery_read) */
    float train_ms_per_sample; /* capacity trace: FedScale's per-sample inference latency
                                * (training is 3x it, fs_time_train_trace_us); 0 = gflops */
} fs_client;

/* A million idle clients must fit in tens of megabytes (issue 2 allows at most 256 bytes). */
_Static_assert(sizeof(fs_client) <= 64, "fs_client grew past one cache line");

typedef struct fs_pop {
    size_t n;
    fs_client *clients;
    uint32_t *perm; /* a permutation of 0..n-1, reshuffled in place by selection */
    fs_trace *avail_trace; /* devices.availability trace (NULL without), owned */
    fs_trace *cap_trace;   /* devices.capacity trace (NULL without), owned */
    uint32_t *avail_to_cap; /* both traces: availability key -> capacity key of the same name
                             * (UINT32_MAX: none), owned */
    const fs_scenario *scn; /* borrowed: eligibility and the energy model read it */
    fs_devstate_src state;  /* charging / network state: parametric, or the availability trace's
                             * state column when it has one (then it points at this fs_pop,
                             * which must not move) */
    bool eligibility;       /* any of devices.eligibility is on */
    bool battery_read;      /* devices.eligibility.min_battery is on: the one reader of the
                             * clients' battery levels, which without it stay at their initial
                             * values (the engine then spares computing them: a tenth of its
                             * time on ctr_regions) */
} fs_pop;

/* Is the client eligible at t by devices.eligibility (charging, unmetered = on Wi-Fi, battery
 * >= min_battery)? Always true when eligibility is off. Pure: changes nothing. */
bool fs_pop_eligible(const fs_pop *pop, uint32_t id, int64_t t);

/* The client's battery level at t (no earlier than its record's time). */
double fs_pop_battery_at(const fs_pop *pop, uint32_t id, int64_t t);

/* Draws every client's device (with an availability trace, loads it and maps each client to
 * its key, fs_trace_assign_key; with a capacity trace, takes the links and compute speed from
 * the client's row, fs_pop_cap_key; FS_EIO / FS_ESCENARIO on a bad trace, before anything runs)
 * from stream (seed, FS_RNG_DEVICE, client) and its consent from
 * (seed, FS_RNG_CONSENT, client): independent of n and of the order clients are created.
 * n_train/n_test give the clients' data sizes (n_test may be NULL). consent_level (may be NULL)
 * gives each client's level of privacy.consent.group, which picks its consent share from
 * percent_by_level (levels beyond the list, or -1, use privacy.consent.share). FS_ENOMEM on
 * failure (pop left empty). */
int fs_pop_init(fs_pop *pop, const fs_scenario *s, const size_t *n_train, const size_t *n_test,
                const int32_t *consent_level, fs_err *err);
void fs_pop_fini(fs_pop *pop);

/* devices.availability.diurnal.utc_offset_by: client i lives at utc_offsets_q[level[i]] (its
 * level of that group). A client without a level (-1: no training rows) keeps the time zone
 * drawn by fs_pop_init, which draws it in every case so that no stream moves. */
void fs_pop_set_utc_offsets(fs_pop *pop, const fs_scenario *s, const int32_t *level);

/* The capacity trace key of a client (cap_trace must be loaded): that of its availability
 * key's name when the availability trace has one of that name, else its own assignment by
 * devices.capacity.trace.assign (fs_trace_assign_key). */
uint32_t fs_pop_cap_key(const fs_pop *pop, uint32_t client);

/* Selects up to `want` clients that are online at t, consenting and not busy, uniformly at
 * random among them: a partial Fisher-Yates pass over the permutation queries candidates in
 * random order until `want` are found or all were examined, so the cost is about
 * want / online-share queries, not n. `pass` numbers the selection attempt (a fresh random
 * stream per attempt; r_select is a scratch generator; each candidate's availability is the
 * first draw of its own (FS_RNG_AVAIL, client, pass) stream). *out_examined (may be NULL)
 * receives how many consenting, idle clients had their availability queried. Returns how many
 * were written to out_ids. */
size_t fs_pop_select(fs_pop *pop, const fs_avail *avail, uint64_t seed, uint64_t pass, int64_t t,
                     size_t want, gsl_rng *r_select, uint32_t *out_ids, size_t *out_examined);

#endif
