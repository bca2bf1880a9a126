/* fs_serveropt: the server's update rule applied to the aggregated client delta (Reddi et al.
 * 2021, "Adaptive Federated Optimization", Algorithm 2, no bias correction): plain SGD (FedAvg
 * when the server learning rate is 1), momentum (FedAvgM, Hsu et al. 2019), Adam, Yogi and
 * Adagrad; and q-FFL aggregation (Li et al. 2020, "Fair Resource Allocation in Federated
 * Learning", q-FedAvg). Owns the optimizer's state vectors. */
#ifndef FS_SERVEROPT_H
#define FS_SERVEROPT_H

#include <stddef.h>

#include "fs_model.h"

enum fs_serveropt_kind {
    FS_OPT_SGD,
    FS_OPT_MOMENTUM,
    FS_OPT_ADAM,
    FS_OPT_YOGI,
    FS_OPT_ADAGRAD
};

typedef struct fs_serveropt_cfg {
    enum fs_serveropt_kind kind;
    double lr;     /* server learning rate eta */
    double beta1;  /* momentum / first-moment decay */
    double beta2;  /* second-moment decay (adam, yogi) */
    double tau;    /* adaptivity epsilon (adam, yogi, adagrad) */
    double v0;     /* initial second moment (Reddi et al. use tau^2) */
} fs_serveropt_cfg;

typedef struct fs_serveropt {
    fs_serveropt_cfg cfg;
    size_t n;
    double *m, *v;  /* moments (allocated as the kind needs) */
} fs_serveropt;

int fs_serveropt_init(fs_serveropt *o, const fs_serveropt_cfg *cfg, size_t n_params); /* FS_ENOMEM */
void fs_serveropt_fini(fs_serveropt *o);

/* w += the rule's step for the aggregated delta (the weighted mean of client deltas):
 *   sgd:      w += lr * delta
 *   momentum: m = beta1 * m + delta;                         w += lr * m
 *   adam:     m = beta1 m + (1-beta1) delta; v = beta2 v + (1-beta2) delta^2;   w += lr m / (sqrt v + tau)
 *   yogi:     m as adam; v = v - (1-beta2) delta^2 sign(v - delta^2);           w += lr m / (sqrt v + tau)
 *   adagrad:  m as adam with beta1 (Reddi et al. keep momentum); v = v + delta^2; w += lr m / (sqrt v + tau)
 * v starts at v0, m at 0. */
void fs_serveropt_step(fs_serveropt *o, double *w, const double *delta);

/* q-FFL (q-FedAvg, Li et al. 2020, Algorithm 2) from the clients' deltas and their losses F_k
 * at the current global model, with L = 1 / client learning rate:
 *   dw_k = -L * delta_k;  D_k = F_k^q dw_k;  h_k = q F_k^(q-1) ||dw_k||^2 + L F_k^q;
 *   w -= sum_k D_k / sum_k h_k,
 * accumulated in index order through `acc` (n_params scratch). q = 0 gives the plain mean of
 * the deltas (all clients weighted equally). */
void fs_qffl_step(double *w, const fs_update *const *updates, const double *losses, size_t n,
                  double q, double L, double *acc);

#endif
