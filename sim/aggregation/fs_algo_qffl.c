/* fs_algo_qffl: q-FFL (Li et al. 2020, "Fair resource allocation in federated learning"): each
 * client reports its loss at the global model, and the server's step weights the deltas by
 * loss^q (fs_qffl_step, with L = 1 / lr) instead of the weighted mean and server optimizer. */
#include "fs_algo.h"

#include <stdlib.h>

#include "fs_agg.h"
#include "fs_serveropt.h"

static int server_step(const fs_scenario *s, fs_real *w, const fs_agg_report *r, size_t n,
                       double *scratch)
{
    /* on the heap: the number of reports is the scenario's, not bounded by the stack */
    const fs_update **ups = malloc(n * sizeof *ups);
    double *losses = malloc(n * sizeof *losses);
    int rc = ups && losses ? FS_OK : FS_ENOMEM;
    if (!rc) {
        for (size_t k = 0; k < n; k++)
            ups[k] = r[k].update, losses[k] = r[k].loss_at_global;
        fs_qffl_step(w, ups, losses, n, s->server.q, 1.0 / s->train.lr, scratch);
    }
    free(ups);
    free(losses);
    return rc;
}

const fs_algo fs_algo_qffl = {.name = "qffl",
                              .needs = FS_ALGO_DENSE | FS_ALGO_CLASSES | FS_ALGO_NO_PRIVACY |
                                       FS_ALGO_SYNC | FS_ALGO_OWN_MEAN,
                              .loss_at_global = true,
                              .server_step = server_step};
