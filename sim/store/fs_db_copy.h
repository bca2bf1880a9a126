/* fs_db_copy: moves whole runs between results files, every row of every table keyed by run_id
 * (runs, clients, rounds, participation, evals, energy, checkpoints). What `mpirun fedsim
 * sweep` uses to gather the runs its ranks computed into the one database rank 0 writes, and to
 * hand an unfinished run to the rank that resumes it. Never touches meta or the variant stats. */
#ifndef FS_DB_COPY_H
#define FS_DB_COPY_H

#include <stdint.h>

#include "fs_err.h"

/* Copies the runs of src (only run `only` when > 0) into dst (created with the schema when
 * missing), in run_id order, in one transaction of dst: run `keep` (> 0) replaces dst's run of
 * that id, rows and all; every other run gets run_id `first_new`, then first_new + 1, ... (> 0:
 * the ids a sweep gave its jobs, fs_sweep_run_ids), or, when dst has a run of that id or
 * first_new is 0, the next free run_id of dst (max + 1, the id fs_db_begin_run would have given
 * it). *out_n (may be NULL): runs copied. FS_EDB on SQLite failure (nothing changed in dst). */
int fs_db_copy_runs(const char *src, const char *dst, int64_t only, int64_t keep,
                    int64_t first_new, int *out_n, fs_err *err);

/* Folds a closed results file's write-ahead log into the file itself, so that the file alone
 * (sent elsewhere, copied) holds every committed row. */
int fs_db_copy_settle(const char *path, fs_err *err);

#endif
