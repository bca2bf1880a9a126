/* fs_algo_scaffold: SCAFFOLD (Karimireddy et al. 2020), option II. Each local step adds the
 * correction c - c_i to the gradient; after training the client's control variate moves by
 * c_i+ - c_i = -c - delta / (K lr) (eq. 4), uploaded with the update, and the server's moves by
 * the mean of those over all N clients (Alg. 1). c is downloaded with the model. */
#include "fs_algo.h"

#include "fs_agg.h"

static void configure(const fs_algo_client *c, fs_sgd_cfg *cfg)
{
    /* a client's c_i exists once it has taken part */
    for (size_t j = 0; j < c->n_params; j++)
        c->scratch[j] = (fs_real)(c->control[j] - (c->client_control ? c->client_control[j] : 0));
    cfg->correction = c->scratch;
}

static void finish(const fs_algo_client *c, const fs_update *u, size_t steps, fs_real *ctrl_delta)
{
    double k_lr = (double)steps * c->scn->train.lr;
    for (size_t j = 0; j < c->n_params; j++)
        ctrl_delta[j] = (fs_real)(-c->control[j] - (k_lr > 0 ? u->dense[j] / k_lr : 0));
}

static void after_step(double *control, size_t n_params, const fs_agg_report *r, size_t n,
                       size_t n_clients)
{
    /* c += (1/N) sum over reporting clients of (c_i+ - c_i) */
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < n_params; j++)
            control[j] += r[k].ctrl_delta[j] / (double)n_clients;
}

const fs_algo fs_algo_scaffold = {.name = "scaffold",
                                  .needs = FS_ALGO_DENSE | FS_ALGO_SYNC | FS_ALGO_OWN_MEAN,
                                  .control_variate = true,
                                  .configure = configure,
                                  .finish = finish,
                                  .after_step = after_step};
