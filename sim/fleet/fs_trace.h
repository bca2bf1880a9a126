/* fs_trace: device traces loaded from the two documented CSV formats (scenarios/README.md):
 * availability intervals (`# fedsim-avail v1`) and device capacity (`# fedsim-capacity v1`).
 * Owns the loaded rows: all intervals in one array with per-key offsets (no per-key
 * allocation), queried by binary search in virtual microseconds. Never reads a line longer than
 * FS_TRACE_MAX_LINE bytes; every bad input is a `file:line: expected ..., found ...` error. */
#ifndef FS_TRACE_H
#define FS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

#define FS_TRACE_MAX_LINE 4096
#define FS_TRACE_MAX_KEY 64

/* State bits of fs_trace_state_at. KNOWN: the interval's state column was given. */
enum {
    FS_TRACE_ONLINE = 1u << 0,
    FS_TRACE_CHARGING = 1u << 1,
    FS_TRACE_UNMETERED = 1u << 2,
    FS_TRACE_IDLE = 1u << 3,
    FS_TRACE_KNOWN = 1u << 4
};

enum fs_trace_kind { FS_TRACE_AVAIL, FS_TRACE_CAPACITY };
enum fs_trace_assign { FS_TRACE_HASH, FS_TRACE_MODULO };

typedef struct fs_trace_iv {
    int64_t start, end; /* [start, end) in microseconds within the period */
    int64_t off;        /* when the contiguous run holding this interval ends (may pass the
                         * period when it wraps; INT64_MAX: online for ever) */
    uint8_t state;      /* FS_TRACE_* bits but ONLINE */
} fs_trace_iv;

typedef struct fs_trace_cap {
    double compute_ms_per_sample; /* FedScale's inference latency: training is 3x per sample */
    double uplink_kbps, downlink_kbps;
    size_t model_off; /* device model name in names, SIZE_MAX when not given */
} fs_trace_cap;

typedef struct fs_trace {
    enum fs_trace_kind kind;
    size_t n_keys;
    char *names;     /* every key name (and device model), NUL-terminated, back to back */
    size_t *key_off; /* key i's name: names + key_off[i] */
    int64_t period_us; /* 0: no wrap */
    fs_trace_iv *iv;
    size_t n_iv;
    size_t *iv_off;    /* key i's intervals: iv[iv_off[i] .. iv_off[i + 1]) */
    fs_trace_cap *cap; /* capacity: one per key */
} fs_trace;

/* Loads `path` as a trace of `kind`. FS_EIO (unreadable file) or FS_ESCENARIO (bad content)
 * with messages in err naming path and line; FS_ENOMEM. On failure *out holds nothing to free.
 * Free with fs_trace_fini. */
int fs_trace_load(const char *path, enum fs_trace_kind kind, fs_trace *out, fs_err *err);
void fs_trace_fini(fs_trace *t);

const char *fs_trace_key_name(const fs_trace *t, uint32_t key);

/* A capacity key's device_model column, NULL when the row has none. */
const char *fs_trace_cap_model(const fs_trace *t, uint32_t key);

/* For each key of `from`, the key of `to` with the same name (UINT32_MAX: none), in a new
 * array of from->n_keys entries the caller frees; NULL when out of memory. Sorts names once:
 * O((n + m) log m). */
uint32_t *fs_trace_key_map_new(const fs_trace *from, const fs_trace *to);

/* The key of a virtual client: hash = fs_rng_seed(population seed, FS_RNG_TRACE, client)
 * (SplitMix64 mixing) mod n_keys; modulo = client mod n_keys. Independent of thread count and
 * population size. */
uint32_t fs_trace_assign_key(const fs_trace *t, enum fs_trace_assign how, uint64_t pop_seed,
                             uint64_t client);

/* A trace path as the scenario gives it, relative to the scenario file's folder (absolute
 * paths, and scenarios read from text, "" file, are kept). Returns buf. */
const char *fs_trace_resolve(const char *scenario_file, const char *path, char *buf, size_t n);

/* Availability queries at virtual time t (microseconds, >= 0). */
bool fs_trace_online(const fs_trace *t, uint32_t key, int64_t t_us);
unsigned fs_trace_state_at(const fs_trace *t, uint32_t key, int64_t t_us);
/* For a key online at t: when it goes offline (absolute; INT64_MAX never). */
int64_t fs_trace_offline_at(const fs_trace *t, uint32_t key, int64_t t_us);
/* The first time >= t the key is online (INT64_MAX never). */
int64_t fs_trace_next_online(const fs_trace *t, uint32_t key, int64_t t_us);
/* Seconds of [t0_us, t1_us) that key spends in intervals whose state has every bit of `bits`
 * (FS_TRACE_CHARGING for the battery's refill), across the wrap. */
double fs_trace_seconds_in(const fs_trace *t, uint32_t key, unsigned bits, int64_t t0_us,
                           int64_t t1_us);
/* Does any interval carry a state column (FS_TRACE_KNOWN)? */
bool fs_trace_has_states(const fs_trace *t);

#endif
