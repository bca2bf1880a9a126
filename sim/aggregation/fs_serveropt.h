/* fs_serveropt: the server's update rule applied to the aggregated client delta (Reddi et al.
 * 2021, "Adaptive Federated Optimization", Algorithm 2, no bias correction): plain SGD (FedAvg
 * when the server learning rate is 1), momentum (FedAvgM, Hsu et al. 2019), Adam, Yogi and
 * Adagrad; and q-FFL aggregation (Li et al. 2020, "Fair Resource Allocation in Federated
 * Learning", q-FedAvg). Owns the optimizer's state vectors. */
#ifndef FS_SERVEROPT_H
#define FS_SERVEROPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"
#include "fs_scn.h"

typedef struct fs_serveropt_cfg {
    enum fs_optimizer kind; /* the scenario's server.optimizer (FS_SOPT_*) */
    double lr;     /* server learning rate eta */
    double beta1;  /* momentum / first-moment decay */
    double beta2;  /* second-moment decay (adam, yogi) */
    double tau;    /* adaptivity epsilon (adam, yogi, adagrad) */
    double v0;     /* initial second moment (Algorithm 2 asks v0 >= tau^2; their code used 0) */
} fs_serveropt_cfg;

typedef struct fs_serveropt {
    fs_serveropt_cfg cfg;
    size_t n;
    double *m, *v;  /* moments (allocated as the kind needs) */
} fs_serveropt;

/* The configuration production runs for scenario s: server.optimizer and its values (their
 * defaults, with sources, are the schema's: fs_scn_tables.c), v0 = tau^2. */
fs_serveropt_cfg fs_serveropt_cfg_of(const fs_scenario *s);

/* Allocates the state the kind needs (m for all but sgd, v for adam/yogi/adagrad) with m = 0,
 * v = v0. FS_ENOMEM (o left empty, fini still safe). fini frees; safe on a zeroed o. */
int fs_serveropt_init(fs_serveropt *o, const fs_serveropt_cfg *cfg, size_t n_params);
void fs_serveropt_fini(fs_serveropt *o);

/* w += the rule's step for the aggregated delta (the weighted mean of client deltas):
 *   sgd:      w += lr * delta
 *   momentum: m = beta1 m + delta;                                  w += lr m
 *   adam:     m = beta1 m + (1-beta1) delta; v = beta2 v + (1-beta2) delta^2;
 *                                                                   w += lr m / (sqrt v + tau)
 *   yogi:     m as adam; v = v - (1-beta2) delta^2 sign(v - delta^2);  w as adam
 *   adagrad:  m as adam (Algorithm 2 keeps beta1); v = v + delta^2;     w as adam
 * v starts at v0, m at 0; sign(0) = 0 (yogi leaves v alone where delta^2 == v). Coordinates are
 * independent, so the result does not depend on evaluation order. */
void fs_serveropt_step(fs_serveropt *o, fs_real *w, const double *delta);

/* Whether the step is plain SGD (w += lr * delta, no state): then a coordinate whose delta is 0
 * keeps its w, and fs_serveropt_step_at may step only the coordinates idx[0..n). */
bool fs_serveropt_is_sgd(const fs_serveropt *o);
void fs_serveropt_step_at(fs_serveropt *o, fs_real *w, const double *delta, const uint32_t *idx,
                          size_t n);

/* q-FFL (q-FedAvg, Li et al. 2020, Algorithm 2) from the clients' deltas and their losses F_k
 * at the current global model, with L = 1 / client learning rate:
 *   dw_k = -L * delta_k;  D_k = F_k^q dw_k;  h_k = q F_k^(q-1) ||dw_k||^2 + L F_k^q;
 *   w -= sum_k D_k / sum_k h_k,
 * accumulated in client order, then coordinate order, through `acc` (n_params scratch). Updates
 * may be dense or sparse (same result). q = 0 gives the plain mean of the deltas (all clients
 * weighted equally, whatever their losses). Losses must be finite and >= 0.
 * Zero loss (F_k = 0, q > 0): F_k^q = 0, so D_k = 0; the Lipschitz term q F_k^(q-1) ||dw_k||^2
 * takes its limit where finite (0 for q > 1, ||dw_k||^2 for q = 1) and is defined as 0 for
 * q < 1, where it diverges: the client drops out of both sums instead of stalling the round.
 * (The authors' code, litian96/fair_flearn qffedavg.py, adds 1e-10 to every loss instead.)
 * When sum_k h_k is 0 (no clients, or every loss 0 with q > 1) w is left unchanged. */
void fs_qffl_step(fs_real *w, const fs_update *const *updates, const double *losses, size_t n,
                  double q, double L, double *acc);

#endif
