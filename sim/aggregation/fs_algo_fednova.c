/* fs_algo_fednova: FedNova (Wang et al. 2020, "Tackling the objective inconsistency problem in
 * heterogeneous federated optimization"), normalized averaging. Client i's delta after tau_i
 * local steps is divided by tau_i, and the weighted sum of the normalized deltas is rescaled by
 * tau_eff = sum_i p_i tau_i (p_i = n_i / N):  w += sum_i p_i (tau_eff / tau_i) delta_i.
 * FedAvg's mean over-weights the clients that took more steps (larger datasets, and the
 * stragglers' partial work, which FedNova keeps as FedProx does), so it optimizes a different
 * objective; FedNova removes that bias. The factor is computed as (sum_j n_j tau_j) / (N tau_i):
 * with integer counts both products are exact, so equal steps give exactly 1 and FedNova is
 * FedAvg bit for bit. Not with DP (the factor would scale clipped updates past the sensitivity
 * bound) nor secure aggregation, nor FedBuff (no round whose steps to normalize by). */
#include "fs_algo.h"

#include "fs_agg.h"

static void rescale(const fs_agg_report *r, size_t n, double *scale)
{
    double n_tau = 0, total = 0;
    for (size_t k = 0; k < n; k++) {
        n_tau += r[k].n_samples * r[k].steps;
        total += r[k].n_samples;
    }
    for (size_t k = 0; k < n; k++) /* no step: the delta is 0 and its factor irrelevant */
        if (r[k].steps > 0) scale[k] *= n_tau / (total * r[k].steps);
}

const fs_algo fs_algo_fednova = {.name = "fednova",
                                 .needs = FS_ALGO_NO_PRIVACY | FS_ALGO_SYNC | FS_ALGO_OWN_MEAN,
                                 .partial_work = true,
                                 .rescale = rescale};
