/* fs_train: real local training of the clients dispatched together, in parallel with OpenMP,
 * FedAvg aggregation and evaluation of the global model. Results never depend on the number of
 * threads: each client trains alone on its own RNG stream (seed, TRAIN, client, round), and
 * every sum runs in a fixed order. Per-thread scratch is allocated once and reused. */
#ifndef FS_TRAIN_H
#define FS_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"
#include "fs_scn.h"
#include "fs_world.h"

typedef struct fs_train_job {
    uint32_t client;
    bool train;          /* false: the client drops before finishing training, skip it */
    double *w_local;     /* n_params: the client's model after local training (caller storage) */
    fs_sgd_result result;
    double update_norm;  /* ||w_local - w_global||_2 */
    int rc;
} fs_train_job;

typedef struct fs_thread_scratch {
    fs_model_scratch *model;
    double *grad;
    uint32_t *order;
} fs_thread_scratch;

typedef struct fs_trainer {
    const fs_world *world;
    const fs_scenario *scn;
    int n_threads;
    fs_thread_scratch *scratch;  /* n_threads */
    uint32_t *eval_rows;         /* 0 .. test.n-1 */
} fs_trainer;

int fs_trainer_init(fs_trainer *t, const fs_world *w, const fs_scenario *s, int n_threads,
                    fs_err *err);
void fs_trainer_fini(fs_trainer *t);

/* Trains every job with train = true from w_global, in parallel. FS_ENUMERIC (naming the client
 * and round) when a client's loss diverges. */
int fs_trainer_run(fs_trainer *t, const double *w_global, fs_train_job *jobs, size_t n_jobs,
                   int round, fs_err *err);

/* FedAvg (McMahan et al. 2017): out = sum_k (n_k / N) w_k over the given models, summed in
 * index order. With one model out equals it exactly. n_models must be >= 1. */
void fs_fedavg(const double *const *w_locals, const double *n_samples, size_t n_models,
               size_t n_params, double *out_w);

/* Loss and accuracy of w on the world's test set, chunked across threads and reduced in chunk
 * order. */
int fs_trainer_evaluate(fs_trainer *t, const double *w, fs_eval_result *out, fs_err *err);

#endif
