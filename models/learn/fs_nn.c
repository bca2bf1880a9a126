/* fs_nn: layers and output head shared by fs_softmax, fs_mlp and fs_cnn (see fs_nn.h). fs_cnn's
 * convolutions are im2col followed by these dense layers, so one copy of each GEMM call, bias
 * sum and loss serves every network. */
#include <gsl/gsl_cblas.h>
#include <math.h>
#include <string.h>

#include "fs_nn.h"

void fs_nn_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features && ds->x);
    fs_assert(s->n >= m->scratch_doubles);
}

void fs_nn_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, double *x)
{
    size_t d = ds->d;
    for (size_t i = 0; i < n; i++) {
        const float *src = ds->x + (size_t)rows[i] * d;
        double *dst = x + i * d;
        for (size_t j = 0; j < d; j++) dst[j] = src[j];
    }
}

/* He: gain 2 keeps the activation variance constant through a ReLU; biases 0. */
void fs_nn_init_layer(double *w, size_t fan_in, size_t n_out, bool relu, gsl_rng *r)
{
    double bound = sqrt((relu ? 6.0 : 3.0) / (double)fan_in);
    for (size_t i = 0; i < fan_in * n_out; i++) w[i] = bound * (2.0 * gsl_rng_uniform(r) - 1.0);
    memset(w + fan_in * n_out, 0, n_out * sizeof *w);
}

/* b is copied into every row first, so one dgemm with beta = 1 adds the product. */
void fs_nn_dense_forward(const double *W, const double *b, const double *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, double *out)
{
    for (size_t i = 0; i < n; i++) memcpy(out + i * n_out, b, n_out * sizeof *out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n_out, (int)n_in, 1.0, in,
                (int)n_in, W, (int)n_in, 1.0, out, (int)n_out);
    if (relu) fs_nn_relu(out, n * n_out);
}

/* beta = 0 on a first slice spares a memset and a read of the whole gradient. */
void fs_nn_dense_grad(const double *delta, const double *in, size_t n, size_t n_in, size_t n_out,
                      double beta, double *grad_W, double *grad_b)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_out, (int)n_in, (int)n, 1.0, delta,
                (int)n_out, in, (int)n_in, beta, grad_W, (int)n_in);
    if (beta == 0) memset(grad_b, 0, n_out * sizeof *grad_b);
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < n_out; o++) grad_b[o] += delta[i * n_out + o];
}

void fs_nn_dense_backprop(const double *W, const double *delta, size_t n, size_t n_in,
                          size_t n_out, double *din)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n_in, (int)n_out, 1.0,
                delta, (int)n_out, W, (int)n_in, 0.0, din, (int)n_in);
}

void fs_nn_relu(double *a, size_t len)
{
    for (size_t i = 0; i < len; i++) a[i] = a[i] > 0 ? a[i] : 0;
}

/* The stored activation is post-ReLU, so it is positive exactly where the derivative is 1. */
void fs_nn_relu_mask(double *d, const double *act, size_t len)
{
    for (size_t i = 0; i < len; i++) d[i] = act[i] > 0 ? d[i] : 0;
}

/* Subtracting the max keeps every exp() in (0, 1], so nothing overflows and the largest term is
 * exactly 1. */
double fs_nn_softmax_row(double *z, size_t c)
{
    double mx = z[0];
    for (size_t k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < c; k++) sum += z[k] = exp(z[k] - mx);
    double inv = 1.0 / sum;
    for (size_t k = 0; k < c; k++) z[k] *= inv;
    return mx + log(sum);
}

/* Log-sum-exp minus the true logit: exact even where p[y] underflows, which log(p[y]) is not. */
double fs_nn_softmax_xent(const fs_dataset *ds, const uint32_t *rows, size_t n, size_t c,
                          double scale, double *z)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->y[rows[i]];
        fs_assert(y >= 0 && (size_t)y < c);
        double *zi = z + i * c, zy = zi[y];
        loss += fs_nn_softmax_row(zi, c) - zy;
        zi[y] -= 1.0;
        for (size_t k = 0; k < c; k++) zi[k] *= scale;
    }
    return loss;
}
