/* fs_mix: who trains. Counts clients per group column (every eval.segments group, device_class,
 * and utc_offset under diurnal availability), level and stage (population, consenting, online at
 * selection, selected, reported), and the per-client selection counts behind Jain's fairness
 * index. The population and consenting counts are taken once, in one pass at the start; after
 * that every call costs O(clients counted), never O(population). Owns its arrays; knows nothing
 * of SQLite (it hands rows as fs_db_mix). */
#ifndef FS_MIX_H
#define FS_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "fs_db.h"
#include "fs_err.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_world.h"

enum fs_mix_stage {
    FS_MIX_POPULATION,
    FS_MIX_CONSENTING, /* constant over a run: round 0 */
    FS_MIX_ONLINE,
    FS_MIX_SELECTED,
    FS_MIX_REPORTED,
    FS_MIX_N_STAGES
};
extern const char *const fs_mix_stage_names[FS_MIX_N_STAGES];

#define FS_MIX_MAX_GROUPS (FS_SCN_MAX_NAMES + 2)
/* A group column with more levels (e.g. a user id) is not tracked: its rows would outnumber
 * the clients of a round. */
#define FS_MIX_MAX_LEVELS 1024

typedef struct fs_mix_group {
    char name[FS_SCN_NAME_LEN];
    int32_t *level; /* per client, -1: none (a client without rows); owned */
    size_t n_levels;
    char **level_names; /* n_levels names, owned */
    uint64_t *count;    /* n_levels x FS_MIX_N_STAGES; the round stages since the last rows */
} fs_mix_group;

typedef struct fs_mix {
    fs_mix_group groups[FS_MIX_MAX_GROUPS]; /* eval.segments' first, in order */
    size_t n_groups;
    size_t n_clients, n_consenting;
    uint32_t *times_selected; /* per client, so far (a checkpoint carries it) */
    double sum1, sum2;        /* sum of times_selected and of its squares */
    size_t n_ever;            /* clients selected at least once */
    fs_db_mix *rows;          /* the rows of the last fs_mix_take_rows, owned */
    size_t cap_rows;
} fs_mix;

/* Builds the groups from the world's group columns and the population's devices, and counts the
 * population and the consenting clients. FS_ESCENARIO naming eval.segments[i] when the data
 * have no such column, FS_ENOMEM. fini of a zeroed or failed fs_mix is safe. */
int fs_mix_init(fs_mix *m, const fs_scenario *s, const fs_world *w, const fs_pop *pop, fs_err *err);
void fs_mix_fini(fs_mix *m);

/* Counts clients ids[0..n) at stage (online, selected or reported); selected also adds to
 * their selection counts. */
void fs_mix_count(fs_mix *m, int stage, const uint32_t *ids, size_t n);
void fs_mix_count_one(fs_mix *m, int stage, uint32_t id);
/* Asks for the entries fs_mix_count_one(m, stage, id) will touch, ahead of that call. */
void fs_mix_prefetch(const fs_mix *m, int stage, uint32_t id);

/* The round's rows (population and consenting as round 0 too, when with_population), Jain's
 * index (sum x)^2 / (N sum x^2) over the N consenting clients' selection counts x (NaN before
 * anyone was selected) and the share of them never selected; resets the round's counts. The
 * rows are borrowed until the next call. FS_ENOMEM. */
int fs_mix_take_rows(fs_mix *m, int round, bool with_population, const fs_db_mix **out_rows,
                     size_t *out_n, double *out_jain, double *out_never);

/* After a checkpoint restored times_selected: recomputes the sums from it. */
void fs_mix_restored(fs_mix *m);

/* A client's time-zone name: "utc+5" for whole hours, "utc+5.5", "utc-3.75" otherwise (q: quarter
 * hours). */
void fs_mix_tz_name(int q, char *out, size_t n);

#endif
