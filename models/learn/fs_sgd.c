/* fs_sgd: minibatch SGD over the fs_model ops, with FedProx's proximal term, SCAFFOLD's
 * correction and a step budget. The model-generic helpers (scratch, evaluation, release) are in
 * fs_model.c. Sums run in row order, so results never depend on threads or timing. */
#include <math.h>
#include <string.h>

#include "fs_model.h"
#include "fs_rng.h"

/* FedProx's proximal pull towards the anchor and SCAFFOLD's drift correction. */
static void adjust_gradient(const fs_model *m, const fs_sgd_cfg *cfg, const fs_real *w,
                            fs_real *grad)
{
    if (cfg->prox_mu > 0)
        for (size_t j = 0; j < m->n_params; j++) grad[j] += (fs_real)(cfg->prox_mu * (w[j] - cfg->anchor[j]));
    if (cfg->correction) fs_real_axpy(m->n_params, 1, cfg->correction, grad);
}

/* The loss is checked before its step is applied, so on FS_ENUMERIC w holds the last parameters
 * that gave a finite loss (never a half-applied NaN update); out reports the steps completed. */
int fs_sgd_train(const fs_model *m, fs_real *w, const fs_dataset *ds, const uint32_t *rows, size_t n,
                 const fs_sgd_cfg *cfg, gsl_rng *r, uint32_t *order, fs_real *grad,
                 fs_model_scratch *s, fs_sgd_result *out)
{
    fs_assert(cfg->batch_size >= 1 && cfg->batch_size <= m->max_batch);
    double loss_sum = 0;
    size_t seen = 0;
    /* the fused step has nowhere to add a proximal term or a correction to the gradient */
    bool fused = m->ops->sgd_step && cfg->batch_size <= m->step_max_batch &&
                 !(cfg->prox_mu > 0) && !cfg->correction;
    *out = (fs_sgd_result){0};
    for (int e = 0; e < cfg->epochs; e++) {
        memcpy(order, rows, n * sizeof *order);
        fs_rng_shuffle_u32(r, order, n);
        for (size_t at = 0; at < n; at += cfg->batch_size) {
            size_t k = n - at < cfg->batch_size ? n - at : cfg->batch_size;
            double loss = fused ? m->ops->sgd_step(m, w, ds, order + at, k, cfg->lr, s)
                                : m->ops->loss_grad(m, w, ds, order + at, k, grad, s);
            if (!isfinite(loss)) {
                out->mean_loss = loss;
                return FS_ENUMERIC;
            }
            if (!fused) {
                adjust_gradient(m, cfg, w, grad);
                fs_real_axpy(m->n_params, (fs_real)-cfg->lr, grad, w);
            }
            loss_sum += loss * (double)k;
            seen += k;
            if (++out->steps == cfg->max_steps) goto done;
        }
    }
done:
    out->mean_loss = seen ? loss_sum / (double)seen : 0;
    return FS_OK;
}
