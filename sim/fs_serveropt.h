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
    double v0;     /* initial second moment (Algorithm 2 asks v0 >= tau^2; their code used 0) */
} fs_serveropt_cfg;

typedef struct fs_serveropt {
    fs_serveropt_cfg cfg;
    size_t n;
    double *m, *v;  /* moments (allocated as the kind needs) */
} fs_serveropt;

/* Reddi et al.'s recommended settings for `kind` into *out (the caller may override any field).
 * Sources: [A] Reddi et al. 2021, Algorithm 2 and Section 5; [R] the paper's code and tuning notes,
 * github.com/google-research/federated optimization/README.md and docs/hyperparameters.md
 * (best server learning rates per task, log10: adam/yogi mostly -2 .. -1.5, adagrad -1.5 .. -0.5,
 * avgm and avg 0; "we recommend a starting value of 0.001" for tau, "which worked well across
 * task and optimizers").
 *   kind      lr     beta1  beta2  tau    v0      sources
 *   sgd       1      -      -      -      -       [R] FedAvg, server lr 10^0
 *   momentum  1      0.9    -      -      -       [R] FedAvgM --server_sgd_momentum=0.9, lr 10^0
 *   adam      0.01   0.9    0.99   1e-3   tau^2   [A] beta1, beta2, v0 >= tau^2; [R] lr, tau
 *   yogi      0.01   0.9    0.99   1e-3   tau^2   as adam
 *   adagrad   0.1    0      -      1e-3   tau^2   [R] lr, tau; beta1 0: the experiments ran Keras
 *                                                 Adagrad, which has no momentum
 * [R] notes that its Keras runs kept Adam/Yogi's beta2 at the Keras default 0.999 and initial
 * accumulators at 0; we keep [A]'s 0.99 and tau^2 (the difference from 0 is <= 1e-6). */
void fs_serveropt_defaults(enum fs_serveropt_kind kind, fs_serveropt_cfg *out);

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
void fs_serveropt_step(fs_serveropt *o, double *w, const double *delta);

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
void fs_qffl_step(double *w, const fs_update *const *updates, const double *losses, size_t n,
                  double q, double L, double *acc);

#endif
