/* fs_run: one run of a validated scenario, end to end: world (data, model), population, results
 * database, engine, progress line and summary. Owns the order of side effects: data are loaded
 * before the database is created, so a missing dataset leaves no file behind; once the run row
 * exists it always ends with status done, failed or interrupted. */
#ifndef FS_RUN_H
#define FS_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs_err.h"
#include "fs_scn.h"

typedef struct fs_run_opts {
    const char *db_path;           /* overrides output.db when not NULL */
    const char *variant;           /* sweep variant label recorded in runs.variant, or NULL */
    int replicate;                 /* 1-based replicate recorded in runs.replicate, 0 = none */
    int64_t run_id;                /* a new run's run_id (--run-id); 0 = the next free one */
    bool run_id_or_next;           /* a taken run_id gives the next free one (a sweep's child) */
    int n_threads;                 /* >= 1 */
    int n_ranks;                   /* MPI ranks of the job, recorded in runs.ranks (0: 1) */
    bool progress;                 /* progress line on stderr */
    volatile sig_atomic_t *stop;   /* may be NULL */
    bool resume;                   /* continue the latest unfinished run of this scenario (and
                                      variant) from its checkpoint when there is one */
} fs_run_opts;

typedef struct fs_run_summary {
    int64_t run_id;
    int resumed_from;              /* round of the checkpoint a resumed run continued from, or 0 */
    int rounds;
    int64_t t_end;                 /* virtual microseconds */
    const char *headline;          /* name of the headline metric ("accuracy", "auc", ...) */
    double first_accuracy, final_accuracy; /* headline metric at the first and last evaluation */
    int64_t bytes_up, bytes_down;
    long selected, reported, dropped, late, aborted, rejected;
    double epsilon;                /* ε after the last round (NaN without DP) */
    double compute_s;              /* device-seconds of local training in this session */
    uint64_t events;
    double wall_s;
    double setup_s, train_s, eval_s, engine_s; /* wall_s's parts: before round 1, training the
                                                * clients, evaluating, and the rest of the rounds
                                                * (selection, events, aggregation, recording);
                                                * what is left is waiting for the writer */
    double select_s, aggregate_s, record_s; /* engine_s's parts (fs_engine_stats) */
    int ranks;                     /* MPI ranks that computed the run (1: one process) */
    long trained_by_rank[8];       /* clients each of the first 8 ranks trained */
    double mb_out_by_rank[8];      /* MB each of the first 8 ranks sent the others (fs_mpi) */
} fs_run_summary;

int fs_run_scenario(const fs_scenario *s, const fs_run_opts *opts, fs_run_summary *out,
                    fs_err *err);

/* What fs_run_scenario checks before it creates any output, without creating any: the data
 * loaded, the population drawn, every rule that needs them (fedsim validate, and fedsim sweep
 * for each variant before any runs). Nothing across MPI ranks: one process calls it. */
int fs_run_check(const fs_scenario *s, fs_err *err);

/* Seconds left, extrapolated from this session's pace: `elapsed` wall seconds for rounds
 * resumed_from+1 .. done (a resumed run's earlier rounds took no time in this session), over the
 * rounds left, or over the virtual time left when server.max_virtual_hours (max_virtual_us > 0)
 * ends the campaign sooner; t_start is the virtual time this session's first round began.
 * NaN before the session has a round. */
double fs_run_eta(double elapsed, int done, int resumed_from, int total, int64_t t_start,
                  int64_t t_now, double max_virtual_us);

#endif
