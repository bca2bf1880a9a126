/* fs_train_job: one client's training in a launch, what the engine hands fs_trainer_run and
 * what comes back (fs_train.h trains it; across MPI ranks fs_train_share.h hands it from the rank
 * that trained it to the others). */
#ifndef FS_TRAIN_JOB_H
#define FS_TRAIN_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"

typedef struct fs_train_job {
    uint32_t client;
    bool train;          /* false: the client drops before finishing training, skip it */
    size_t max_steps;    /* straggler's budget of local steps (partial work), 0 = all */
    bool attack;         /* an attacker past adversary.start_round: runs the attack (fs_attack.h) */
    fs_update *update;   /* out: w_local - w_global, dense or sparse (caller storage), then
                            clipped (DP) and compressed as the scenario says */
    fs_real *ctrl_delta; /* SCAFFOLD, out: c_i+ - c_i (n_params, caller storage) */
    fs_real *residual;   /* error feedback, in: the client's residual, out: its new one */
    fs_sgd_result result;
    double update_norm;  /* ||update sent||_2 before clipping and compression: w_local -
                            w_global, or what an attacker made of it */
    double loss_at_global; /* q-FFL: mean loss of the global model on the client's rows */
    double bytes_up;     /* encoded size of the update (after compression) */
    bool rejected;       /* out: poisoned (see fs_trainer_run); not clipped, compressed or
                            aggregated, and the device keeps its previous state */
    bool elsewhere;      /* across MPI ranks, during a run: another rank trains it
                            (fs_train_share) */
    int rc;
} fs_train_job;

#endif
