/* fs_softmax: multinomial logistic regression, the "softmax" model ops.
 * Parameters: W (n_classes x n_features, row-major) then b. Both products of a step go through
 * cblas_dgemm, which binds to OpenBLAS on our link line; scratch holds the batch as doubles
 * (max_batch x n_features) and the logits (max_batch x n_classes). No allocation per call. */
#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"

/* Zeros: deterministic and the usual start for a convex model (loss = log n_classes). */
static void sm_init(const fs_model *m, double *w, gsl_rng *r)
{
    memset(w, 0, m->n_params * sizeof *w);
}

/* x (n x d doubles) := the selected rows; BLAS needs one precision for both operands. */
static void sm_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, double *x)
{
    size_t d = ds->d;
    for (size_t i = 0; i < n; i++) {
        const float *src = ds->x + (size_t)rows[i] * d;
        double *dst = x + i * d;
        for (size_t j = 0; j < d; j++) dst[j] = src[j];
    }
}

/* z (n x C) := X W^T + b: b is copied into every row, then dgemm accumulates with beta = 1. */
static void sm_logits(const fs_model *m, const double *w, const double *x, size_t n, double *z)
{
    size_t c = (size_t)m->n_classes, d = m->n_features;
    for (size_t i = 0; i < n; i++) memcpy(z + i * c, w + c * d, c * sizeof *z);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)c, (int)d, 1.0, x, (int)d, w,
                (int)d, 1.0, z, (int)c);
}

/* Replaces a row of logits by its softmax and returns log-sum-exp. Subtracting the max keeps
 * every exp() in (0, 1], so nothing overflows and the largest term is exactly 1. */
static double sm_softmax_row(double *z, size_t c)
{
    double mx = z[0];
    for (size_t k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < c; k++) sum += z[k] = exp(z[k] - mx);
    double inv = 1.0 / sum;
    for (size_t k = 0; k < c; k++) z[k] *= inv;
    return mx + log(sum);
}

static void sm_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features);
    fs_assert(s->n >= m->scratch_doubles);
}

/* Cross-entropy via log-sum-exp minus the true logit (exact even when p[y] underflows);
 * gradient dL/dz = (P - Y) / n, so grad_W = G^T X and grad_b = column sums of G. */
static double sm_loss_grad(const fs_model *m, const double *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, double *grad, fs_model_scratch *s)
{
    sm_check(m, ds, n, s);
    size_t c = (size_t)m->n_classes, d = m->n_features;
    memset(grad, 0, m->n_params * sizeof *grad);
    if (n == 0) return 0;
    double *x = s->buf, *g = s->buf + m->max_batch * d, inv_n = 1.0 / (double)n, loss = 0;
    sm_gather(ds, rows, n, x);
    sm_logits(m, w, x, n, g);
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->y[rows[i]];
        fs_assert(y >= 0 && (size_t)y < c);
        double *gi = g + i * c, zy = gi[y];
        loss += sm_softmax_row(gi, c) - zy;
        gi[y] -= 1.0;
        for (size_t k = 0; k < c; k++) gi[k] *= inv_n;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c, (int)d, (int)n, 1.0, g, (int)c, x,
                (int)d, 0.0, grad, (int)d);
    double *gb = grad + c * d;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < c; k++) gb[k] += g[i * c + k];
    return loss * inv_n;
}

static void sm_predict(const fs_model *m, const double *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    sm_check(m, ds, n, s);
    if (n == 0) return;
    sm_gather(ds, rows, n, s->buf);
    sm_logits(m, w, s->buf, n, out_probs);
    for (size_t i = 0; i < n; i++) sm_softmax_row(out_probs + i * m->n_classes, m->n_classes);
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
    m->flops_per_sample = 2.0 * (double)n_features * (double)c;
    m->scratch_doubles = max_batch * (n_features + c);
    return m;
}
