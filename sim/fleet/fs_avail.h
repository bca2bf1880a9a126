/* fs_avail: per-client availability as a two-state (online/offline) continuous-time Markov
 * process, evaluated lazily: a client's state is only materialised when the engine asks, using
 * the closed-form transition probability since the last known state, so idle clients cost no
 * events. "always" is the trivial process; "markov" has constant rates; "diurnal" lets the
 * off->on rate follow the time of day so the online share tracks a 24 h curve. */
#ifndef FS_AVAIL_H
#define FS_AVAIL_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs_scn.h"
#include "fs_trace.h"

typedef struct fs_avail {
    enum fs_avail_kind kind;
    double mu_on_to_off;   /* per microsecond: 1 / mean online duration */
    double lambda_off_on;  /* per microsecond (markov) */
    double peak_hour, min_share, max_share; /* diurnal */
    const fs_trace *trace; /* trace: borrowed from the population (fs_pop), set by its owner */
} fs_avail;

/* Per-client state the process needs (kept inside the population's client record). */
typedef struct fs_avail_state {
    int64_t t_known;   /* time of the last materialised state; INT64_MIN = never (stationary) */
    uint32_t trace_key; /* trace: the client's key index (fs_trace_assign_key) */
    int8_t utc_offset_q; /* quarter hours: -48 (UTC-12) .. 56 (UTC+14); India 5.5 h = 22 */
    uint8_t online;
} fs_avail_state;

void fs_avail_init(fs_avail *a, const fs_scenario *s);

/* Long-run share of clients online at virtual time t for a client at utc_offset_q quarter
 * hours from UTC. Virtual time 0 is 00:00 UTC of day 1. */
double fs_avail_share(const fs_avail *a, int utc_offset_q, int64_t t);

/* Is the client online at time t (>= st->t_known)? Draws from r and updates st (a trace
 * answers from its intervals and draws nothing). */
bool fs_avail_query(const fs_avail *a, fs_avail_state *st, int64_t t, gsl_rng *r);

/* fs_avail_query for a caller that already has pi = fs_avail_share(a, st->utc_offset_q, t). */
bool fs_avail_query_share(const fs_avail *a, fs_avail_state *st, int64_t t, double pi,
                          gsl_rng *r);

/* Whether a query draws (one gsl_rng_uniform): the parametric models do, a trace and "always"
 * do not. */
bool fs_avail_query_draws(const fs_avail *a);

/* fs_avail_query_share with the query's uniform draw u already made (any value when
 * fs_avail_query_draws is false): for a caller that has it without a generator
 * (fs_rng_first_uniform). */
bool fs_avail_query_drawn(const fs_avail *a, fs_avail_state *st, int64_t t, double pi, double u);

/* The shares of one instant by time zone, each computed once: a selection asks thousands of
 * clients at one t, and they live in a handful of zones (the cosine was 6% of the engine's
 * time on ctr_regions). A direct-mapped table, a slot per quarter hour from UTC-16: the zones
 * a scenario can give (UTC-12 to UTC+14) never share one. With 16 slots by q mod 16, whole-hour
 * zones used 4 of them, and ctr_regions' UTC-8, UTC+0 and UTC+8 kept evicting each other.
 * A zone evicted by another is recomputed, the same double either way. */
#define FS_AVAIL_MEMO_SLOTS 128
#define FS_AVAIL_MEMO_BIAS 64
typedef struct fs_avail_memo {
    const fs_avail *a;
    int64_t t;
    int q[FS_AVAIL_MEMO_SLOTS];
    double share[FS_AVAIL_MEMO_SLOTS];
    bool used[FS_AVAIL_MEMO_SLOTS];
} fs_avail_memo;

void fs_avail_memo_init(fs_avail_memo *m, const fs_avail *a, int64_t t);
/* fs_avail_share(m->a, utc_offset_q, m->t). */
double fs_avail_memo_share(fs_avail_memo *m, int utc_offset_q);

/* For a client online at t: how long until it goes offline (INT64_MAX when never). The online
 * duration is exponential, so this is exact whatever the client's history (memorylessness);
 * a trace gives the time to the end of the client's interval (wrap included). */
int64_t fs_avail_online_left(const fs_avail *a, const fs_avail_state *st, int64_t t, gsl_rng *r);

/* Records that the client was seen online (online=true) or went offline at t. */
void fs_avail_observe(fs_avail_state *st, bool online, int64_t t);

#endif
