/* fs_serveropt: server update rules (Reddi et al. 2021, Algorithm 2) and q-FedAvg aggregation
 * (Li et al. 2020, Algorithm 2). Every rule is coordinate-wise, so loops run in index order and a
 * step is a pure function of (state, w, delta): no reduction across coordinates except q-FFL's
 * norms and sums, which run in client order, then coordinate order. */
#include "fs_serveropt.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs_err.h"

fs_serveropt_cfg fs_serveropt_cfg_of(const fs_scenario *s)
{
    return (fs_serveropt_cfg){.kind = s->server.optimizer,
                              .lr = s->server.server_lr,
                              .beta1 = s->server.beta1,
                              .beta2 = s->server.beta2,
                              .tau = s->server.tau,
                              .v0 = s->server.tau * s->server.tau};
}

static bool needs_m(enum fs_optimizer kind)
{
    return kind != FS_SOPT_SGD;
}

static bool needs_v(enum fs_optimizer kind)
{
    return kind == FS_SOPT_ADAM || kind == FS_SOPT_YOGI || kind == FS_SOPT_ADAGRAD;
}

int fs_serveropt_init(fs_serveropt *o, const fs_serveropt_cfg *cfg, size_t n_params)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n_params;
    size_t n_alloc = n_params ? n_params : 1;
    if (needs_m(cfg->kind) && !(o->m = calloc(n_alloc, sizeof *o->m))) goto fail;
    if (needs_v(cfg->kind)) {
        if (!(o->v = malloc(n_alloc * sizeof *o->v))) goto fail;
        for (size_t i = 0; i < n_params; i++)
            o->v[i] = cfg->v0;
    }
    return FS_OK;
fail:
    fs_serveropt_fini(o);
    return FS_ENOMEM;
}

void fs_serveropt_fini(fs_serveropt *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

static void step_sgd(const fs_serveropt *o, fs_real *w, const double *delta)
{
    const double lr = o->cfg.lr;
    for (size_t i = 0; i < o->n; i++)
        w[i] += lr * delta[i];
}

/* FedAvgM (Hsu et al. 2019): the heavy-ball buffer sums past deltas without the (1 - beta1)
 * damping, the form Keras SGD(momentum) applies when the pseudo-gradient is -delta. */
static void step_momentum(fs_serveropt *o, fs_real *w, const double *delta)
{
    const double lr = o->cfg.lr, b1 = o->cfg.beta1;
    double *m = o->m;
    for (size_t i = 0; i < o->n; i++) {
        m[i] = b1 * m[i] + delta[i];
        w[i] += lr * m[i];
    }
}

static double sign(double x)
{
    return (double)((x > 0) - (x < 0));
}

/* Algorithm 2's three second-moment rules. Yogi's change is additive, (1 - beta2) delta^2 in
 * the direction of delta^2, so a large v forgets slowly; Adam's is multiplicative toward
 * delta^2; Adagrad's only grows. */
static double second_moment(enum fs_optimizer kind, double v, double d2, double beta2)
{
    switch (kind) {
    case FS_SOPT_ADAM:
        return beta2 * v + (1.0 - beta2) * d2;
    case FS_SOPT_YOGI:
        return v - (1.0 - beta2) * d2 * sign(v - d2);
    default:
        return v + d2;
    }
}

/* No bias correction, as in Algorithm 2 (the paper's Keras runs did correct Adam's moments). */
static void step_adaptive(fs_serveropt *o, fs_real *w, const double *delta)
{
    const fs_serveropt_cfg *c = &o->cfg;
    double *m = o->m, *v = o->v;
    for (size_t i = 0; i < o->n; i++) {
        double d = delta[i];
        m[i] = c->beta1 * m[i] + (1.0 - c->beta1) * d;
        v[i] = second_moment(c->kind, v[i], d * d, c->beta2);
        w[i] += c->lr * m[i] / (sqrt(v[i]) + c->tau);
    }
}

bool fs_serveropt_is_sgd(const fs_serveropt *o)
{
    return o->cfg.kind == FS_SOPT_SGD;
}

void fs_serveropt_step_at(fs_serveropt *o, fs_real *w, const double *delta, const uint32_t *idx,
                          size_t n)
{
    fs_assert(o->cfg.kind == FS_SOPT_SGD);
    const double lr = o->cfg.lr;
    for (size_t t = 0; t < n; t++)
        w[idx[t]] += lr * delta[idx[t]];
}

void fs_serveropt_step(fs_serveropt *o, fs_real *w, const double *delta)
{
    switch (o->cfg.kind) {
    case FS_SOPT_SGD:
        step_sgd(o, w, delta);
        break;
    case FS_SOPT_MOMENTUM:
        step_momentum(o, w, delta);
        break;
    case FS_SOPT_ADAM:
    case FS_SOPT_YOGI:
    case FS_SOPT_ADAGRAD:
        step_adaptive(o, w, delta);
        break;
    }
}

/* F^q with F^0 = 1 even for F = 0 (pow's convention), so q = 0 weighs every client 1. */
static double loss_pow(double F, double q)
{
    return pow(F, q);
}

/* q F^(q-1) ||dw||^2: dropped when q = 0 (it would be 0 * inf at F = 0), its limit at F = 0
 * for q >= 1, and 0 at F = 0 for q < 1 where it diverges (header: zero-loss clients). */
static double lipschitz_term(double F, double q, double dw_norm2)
{
    if (q == 0.0) return 0.0;
    if (F > 0.0) return q * pow(F, q - 1.0) * dw_norm2;
    return q == 1.0 ? dw_norm2 : 0.0;
}

/* acc += weight * delta in coordinate order; returns ||delta||^2. The dense path adds exact
 * zeros where a sparse update has no entry, so both paths give bit-identical sums. */
static double accumulate(const fs_update *u, double weight, double *acc)
{
    double norm2 = 0.0;
    if (u->sparse) {
        for (size_t t = 0; t < u->nnz; t++) {
            acc[u->idx[t]] += weight * u->val[t];
            norm2 += (double)u->val[t] * u->val[t];
        }
    } else {
        for (size_t j = 0; j < u->n_params; j++) {
            acc[j] += weight * u->dense[j];
            norm2 += (double)u->dense[j] * u->dense[j];
        }
    }
    return norm2;
}

/* With dw_k = -L delta_k, sum_k D_k = -L sum_k F_k^q delta_k, so w -= sum D / sum h becomes
 * w += (L / sum h) * acc with acc = sum_k F_k^q delta_k. */
void fs_qffl_step(fs_real *w, const fs_update *const *updates, const double *losses, size_t n,
                  double q, double L, double *acc)
{
    if (n == 0) return;
    size_t n_params = updates[0]->n_params;
    memset(acc, 0, n_params * sizeof *acc);
    double h_sum = 0.0;
    for (size_t k = 0; k < n; k++) {
        fs_assert(updates[k]->n_params == n_params);
        double F = losses[k], Fq = loss_pow(F, q);
        double norm2 = accumulate(updates[k], Fq, acc);
        h_sum += lipschitz_term(F, q, L * L * norm2) + L * Fq;
    }
    if (h_sum == 0.0) return; /* a NaN loss still reaches w, where the caller's check sees it */
    double scale = L / h_sum;
    for (size_t j = 0; j < n_params; j++)
        w[j] += scale * acc[j];
}
