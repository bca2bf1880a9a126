/* fs_sweep_int: what the sweep command shares with its MPI scheduler (fs_sweep_ranks.c): the
 * parsed arguments, the (variant, replicate) jobs, the child `fedsim run` and the tally. */
#ifndef FS_SWEEP_INT_H
#define FS_SWEEP_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fs_sweep.h"

typedef struct sweep_args {
    const char *scenario, *db;
    const char *sets[256];
    size_t n_sets;
    int jobs;
    fs_sweep_data_check check; /* each variant's data, before any runs (NULL: rules only) */
} sweep_args;

/* How the variants of this session ended, for the closing line. */
typedef struct sweep_tally {
    size_t todo, started, done, interrupted, failed;
    int child_signal_code; /* exit code of an interrupted child (128 + signal), or 0 */
} sweep_tally;

/* What the database holds of each (variant, replicate): nothing (a fresh start, no --resume and
 * so no "no checkpoint" note), an unfinished run (resumed from its checkpoint), or a done run
 * (skipped). */
enum { FS_SWEEP_NEW, FS_SWEEP_UNFINISHED, FS_SWEEP_DONE };

/* The runs of a sweep: every variant times every replicate (replicate-major within a variant,
 * so a variant's replicates finish together). Replicate 0 means "no replications" (NULL). */
size_t fs_sweep_n_jobs(const fs_sweep *sw);
const fs_variant *fs_sweep_job_variant(const fs_sweep *sw, size_t j);
int fs_sweep_job_replicate(const fs_sweep *sw, size_t j);
/* A job's name in messages: the label (control characters escaped) and its replicate. */
const char *fs_sweep_job_name(const fs_sweep *sw, size_t j, char *buf, size_t n);

/* Fills state[j] for every job from db_path, and *max_run_id with the database's largest run_id
 * (0 when it has no run); exit-3 errors: guessing would rerun done work. */
int fs_sweep_finished(const char *db_path, const char *name, const fs_sweep *sw,
                      unsigned char *state, int64_t *max_run_id, fs_err *err);

/* The run_id each job's new run gets (ids[j], 0 for a done job), so that they depend on the
 * jobs alone and not on which of the parallel children starts first: the new jobs, in job
 * order, take the ids after max_run_id, which are those --jobs 1 gave them one at a time (and
 * an MPI sweep's merge gives them); an unfinished job keeps its run when it resumes it, and the
 * ids after those are the ones it starts a new run under when it cannot. */
void fs_sweep_run_ids(const unsigned char *state, size_t n_jobs, int64_t max_run_id,
                      int64_t *ids);

/* Starts `fedsim run ... -o db --variant ... [--resume] [--run-id N]` for job (v, replicate),
 * its stdout on /dev/null, dying with the caller; -1 when it cannot. run_id 0: none given. */
pid_t fs_sweep_spawn(const sweep_args *a, const fs_variant *v, int replicate, const char *db,
                     int threads, bool resume, int64_t run_id, const sigset_t *child_mask);
bool fs_sweep_interrupted_code(int code);
/* Counts one ended run in t by its exit code; returns "done", "interrupted" or "failed". */
const char *fs_sweep_tally_end(sweep_tally *t, int code);

/* The sweep across the ranks of an MPI job (fs_mpi_size() > 1). On rank 0, with the jobs'
 * state read from db and their new runs' ids (fs_sweep_run_ids): runs the jobs on every rank,
 * gathers each run into db in job order, under the id --jobs gives it (so a job that fails
 * before its run exists leaves the same gap), and returns the exit code, tallying into t. On the
 * other ranks (sw and a as rank 0 parsed them, db and state unused): runs what rank 0 sends
 * until it says stop; returns 0 or the code of a failure of its own. */
int fs_sweep_ranks_lead(const sweep_args *a, const fs_sweep *sw, const unsigned char *state,
                        const int64_t *run_ids, const char *db, const char *name,
                        sweep_tally *t);
int fs_sweep_ranks_work(const sweep_args *a, const fs_sweep *sw);
/* Rank 0 tells the other ranks there is nothing to run (a bad scenario, an unreadable db). */
void fs_sweep_ranks_release(void);

#endif
