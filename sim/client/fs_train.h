/* fs_train: real local training of the clients dispatched together, in parallel with OpenMP,
 * with the algorithm's client hooks (fs_algo) and DP's clipping (fs_dp), then compression. The
 * aggregation is fs_agg's. Results never depend on the number of threads: each client trains
 * alone on its own RNG stream (seed, TRAIN, client, round), and every sum runs in a fixed
 * order. Per-thread scratch is allocated once and reused. */
#ifndef FS_TRAIN_H
#define FS_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_algo.h"
#include "fs_cstate.h"
#include "fs_gen.h"
#include "fs_model.h"
#include "fs_scn.h"
#include "fs_train_job.h"
#include "fs_world.h"

typedef struct fs_thread_scratch {
    fs_model_scratch *model;
    fs_real *grad;
    fs_real *w_local;    /* dense path: the client's private copy of the model */
    fs_real *algo;       /* the algorithm's scratch (control_variate: SCAFFOLD's c - c_i) */
    uint32_t *order;
    fs_gen_scratch data; /* on demand: the client's generated rows, reused client after client */
} fs_thread_scratch;

typedef struct fs_trainer {
    const fs_world *world;
    const fs_scenario *scn;
    const fs_algo *algo;
    int n_threads;
    fs_thread_scratch *scratch;  /* n_threads */
    uint32_t *identity;          /* on-demand data, attackers' rows: row list 0 .. max rows - 1 */
    int32_t bd_level;            /* the backdoor's target level (fs_attack_rows), -1 none */
    const double *control;       /* SCAFFOLD: the server's c (borrowed), else NULL */
    fs_cstate *client_control;   /* SCAFFOLD: every client's c_i (borrowed, read only here) */
    double global_norm;          /* ||w_global||_2 for the poisoned-update bound; NaN = compute
                                    it at the next run (callers reset it whenever w changes) */
    long trained_here;           /* clients trained by this process so far (its share of them
                                    across MPI ranks) */
} fs_trainer;

/* An update is poisoned, i.e. rejected rather than averaged, when its local loss or any of its
 * coordinates is not finite, or its L2 norm exceeds FS_TRAIN_MAX_UPDATE_RATIO x max(1,
 * ||w_global||): no SGD from a sane start moves a model a million times its own size, but
 * features near FLT_MAX (3e38) or a diverging step do. */
#define FS_TRAIN_MAX_UPDATE_RATIO 1e6

int fs_trainer_init(fs_trainer *t, const fs_world *w, const fs_scenario *s, int n_threads,
                    fs_err *err);
void fs_trainer_fini(fs_trainer *t);

/* Trains every job with train = true from w_global, in parallel, then (per client) clips and
 * compresses its update, or marks it rejected when it is poisoned (bound above; then bytes_up is
 * the size it would have had, ctrl_delta is 0 and the residual and personal parameters are left
 * as they were): one client's bad data or divergence never stops the run. */
int fs_trainer_run(fs_trainer *t, const fs_real *w_global, fs_train_job *jobs, size_t n_jobs,
                   int round, fs_err *err);

/* Bytes of an update on the wire: float32 values, plus a uint32 index each when sparse. */
double fs_update_bytes(const fs_update *u);

#endif
