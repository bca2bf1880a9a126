/* fs_robust_norm_bound: server.robust's norm_bound (Sun et al. 2019, "Can you really backdoor
 * federated learning?"): every update scaled to L2 norm <= max_norm, then FedAvg. It is the
 * client's clip of what it sends (after compression), which it can prove in zero knowledge, so it
 * composes with secure aggregation (the clipped update is what the client encodes) and with DP (a
 * second clip: the sensitivity becomes min(clip, max_norm) / K, below what the noise assumes).
 * The simulator applies it to the decoded update, the same vector, as a factor on its scale. */
#include <math.h>

#include "fs_agg.h"
#include "fs_robust.h"

static void norm_bound(const fs_scenario *s, const fs_agg_report *r, size_t n, double *scale)
{
    double c = s->server.robust_max_norm;
    for (size_t k = 0; k < n; k++) {
        double norm = fs_update_norm(r[k].update);
        if (norm > c) scale[k] *= c / norm;
    }
}

const fs_robust fs_robust_norm_bound_row = {
    .name = "norm_bound", .noun = "a norm bound", .bound = norm_bound};
