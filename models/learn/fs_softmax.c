/* fs_softmax: multinomial logistic regression, the "softmax" model ops: one fs_nn dense layer
 * and the softmax cross-entropy head. Parameters: W (n_classes x n_features, row-major) then b.
 * Both products of a step go through fs_real_gemm, prediction through fs_nn_predict_rows;
 * scratch holds the batch (max_batch x n_features) and the logits (max_batch x n_classes). No
 * allocation per call. */
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"

/* Zeros: deterministic and the usual start for a convex model (loss = log n_classes). */
static void sm_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    memset(w, 0, m->n_params * sizeof *w);
}

/* z (n x C) := X W^T + b: one fully connected layer without ReLU. */
static void sm_logits(const fs_model *m, const fs_real *w, const fs_real *x, size_t n, fs_real *z)
{
    size_t c = (size_t)m->n_classes, d = m->n_features;
    fs_nn_dense_forward(w, w + c * d, x, n, d, c, false, z);
}

/* Cross-entropy via log-sum-exp minus the true logit (exact even when p[y] underflows);
 * gradient dL/dz = (P - Y) / n, so grad_W = G^T X and grad_b = column sums of G, which the
 * layer accumulates or steps by as how says (a step only when the loss is finite). n >= 1. */
static double sm_learn(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, fs_model_scratch *s, const fs_nn_learn *how)
{
    size_t c = (size_t)m->n_classes, d = m->n_features;
    fs_real *x = s->buf, *g = s->buf + m->max_batch * d;
    double inv_n = 1.0 / (double)n;
    fs_nn_gather(ds, rows, n, x);
    sm_logits(m, w, x, n, g);
    double loss = fs_nn_softmax_xent(ds, rows, n, c, inv_n, g) * inv_n;
    if (how->grad || isfinite(loss)) fs_nn_dense_learn(how, g, x, n, d, c, 0, c * d);
    return loss;
}

static double sm_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) {
        memset(grad, 0, m->n_params * sizeof *grad);
        return 0;
    }
    return sm_learn(m, w, ds, rows, n, s, &(fs_nn_learn){.grad = grad, .beta = 0});
}

/* The same with the step taken by the GEMM itself (fs_model_ops.sgd_step). */
static double sm_sgd_step(const fs_model *m, fs_real *w, const fs_dataset *ds,
                          const uint32_t *rows, size_t n, double lr, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) return 0;
    return sm_learn(m, w, ds, rows, n, s, &(fs_nn_learn){.step = w, .lr = lr});
}

static void sm_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) return;
    size_t c = (size_t)m->n_classes, d = m->n_features;
    fs_real *z = s->buf + m->max_batch * d;
    fs_nn_predict_rows(w, w + c * d, ds, rows, n, c, false, s->buf, z);
    fs_nn_softmax_probs(z, n, (size_t)m->n_classes, out_probs);
}

static void sm_free(fs_model *m)
{
    free(m);
}

static const fs_model_ops sm_ops = {
    .name = "softmax",
    .init = sm_init,
    .loss_grad = sm_loss_grad,
    .predict = sm_predict,
    .free = sm_free,
    .sgd_step = sm_sgd_step,
    .reads_u8 = true, /* rows only through fs_nn_gather / fs_nn_rows */
};

fs_model *fs_softmax_new(size_t n_features, int n_classes, size_t max_batch)
{
    fs_assert(n_features >= 1 && n_classes >= 1 && max_batch >= 1);
    size_t c = (size_t)n_classes;
    /* BLAS takes int dimensions; keep every product and the scratch size representable. */
    if (n_features > INT32_MAX / c || max_batch > INT32_MAX ||
        max_batch > SIZE_MAX / sizeof(double) / (n_features + 2 * c))
        return NULL;
    fs_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->ops = &sm_ops;
    m->n_features = n_features;
    m->n_classes = n_classes;
    m->n_params = c * n_features + c;
    m->max_batch = max_batch;
    m->step_max_batch = max_batch;
    m->flops_per_sample = 2.0 * (double)n_features * (double)c;
    m->scratch_reals = max_batch * (n_features + c);
    return m;
}
