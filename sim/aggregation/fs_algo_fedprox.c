/* fs_algo_fedprox: FedProx (Li et al. 2020): local SGD with the proximal term
 * (mu / 2) ||w - w_global||^2, and a straggler's partial work is kept: a client that cannot do all
 * its local steps before the deadline does as many as fit and reports in time (the engine computes
 * the budget, fs_engine_partial_budget). The server averages as FedAvg does. */
#include "fs_algo.h"

static void configure(const fs_algo_client *c, fs_sgd_cfg *cfg)
{
    cfg->prox_mu = c->scn->server.mu;
    cfg->anchor = c->w_global;
}

const fs_algo fs_algo_fedprox = {
    .name = "fedprox", .needs = FS_ALGO_DENSE, .partial_work = true, .configure = configure};
