/* linear_plugin: an example fedsim model plugin, multinomial logistic regression (softmax) on
 * dense or sparse rows, written against include/fedsim/fedsim_model.h alone. Parameters: W
 * (n_classes x n_features, row-major) then b (n_classes). Loss: mean cross-entropy plus
 * l2/2 ||W||^2, with l2 from model.plugin.config ({"l2": 0.01}; default 0). Build it with
 *     cc -shared -fPIC -O2 linear_plugin.c $(pkg-config --cflags fedsim-model) -lm -o linear.so
 * The tests use it for a gradient check through fedsim's plugin path and an end-to-end run. */
#include <fedsim/fedsim_model.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct linear {
    size_t d, c;
    double l2;
} linear;

/* The number after "l2": in the config text (a full JSON parser is not needed for one key). */
static int read_l2(const char *config, double *out, char *err, size_t err_len)
{
    const char *at = strstr(config, "\"l2\"");
    *out = 0;
    if (!at) return 0;
    at = strchr(at + 4, ':');
    char *end = NULL;
    double v = at ? strtod(at + 1, &end) : NAN;
    if (!at || end == at + 1 || !(v >= 0) || !isfinite(v)) {
        snprintf(err, err_len, "config.l2: expected a number >= 0");
        return 1;
    }
    *out = v;
    return 0;
}

static int lin_create(const fedsim_model_shape *shape, void **self, fedsim_model_info *info,
                      char *err, size_t err_len)
{
    linear *m = calloc(1, sizeof *m);
    if (!m) return snprintf(err, err_len, "out of memory"), 1;
    m->d = shape->n_features;
    m->c = (size_t)shape->n_classes;
    if (read_l2(shape->config, &m->l2, err, err_len)) {
        free(m);
        return 1;
    }
    *self = m;
    info->n_params = m->c * m->d + m->c;
    info->scratch_floats = m->c; /* one row's logits */
    info->flops_per_sample = 2.0 * (double)(m->c * m->d);
    return 0;
}

static void lin_destroy(void *self)
{
    free(self);
}

static void lin_init(const void *self, float *w, const fedsim_rng *rng)
{
    const linear *m = self;
    for (size_t i = 0; i < m->c * m->d; i++)
        w[i] = (float)rng->gaussian(rng->state, 0.01);
    memset(w + m->c * m->d, 0, m->c * sizeof *w);
}

/* Logit k of a row, W_k x_row + b_k, summed in double. */
static double row_logit(const linear *m, const float *w, const fedsim_data *data, uint32_t row,
                        size_t k)
{
    const float *wk = w + k * m->d;
    double z = w[m->c * m->d + k];
    if (data->x) {
        const float *x = data->x + (size_t)row * m->d;
        for (size_t j = 0; j < m->d; j++)
            z += (double)wk[j] * x[j];
    } else {
        for (size_t e = data->ptr[row]; e < data->ptr[row + 1]; e++)
            z += (double)wk[data->idx[e]] * data->val[e];
    }
    return z;
}

/* p (n_classes) := softmax(W x_row + b), shifted by the largest logit so exp never overflows. */
static void row_probs(const linear *m, const float *w, const fedsim_data *data, uint32_t row,
                      double *p)
{
    for (size_t k = 0; k < m->c; k++)
        p[k] = row_logit(m, w, data, row, k);
    double top = p[0], sum = 0;
    for (size_t k = 1; k < m->c; k++)
        top = p[k] > top ? p[k] : top;
    for (size_t k = 0; k < m->c; k++)
        sum += (p[k] = exp(p[k] - top));
    for (size_t k = 0; k < m->c; k++)
        p[k] /= sum;
}

/* grad_W[k] += g_k x_row */
static void add_outer(const linear *m, const fedsim_data *data, uint32_t row, const float *g,
                      float *grad)
{
    for (size_t k = 0; k < m->c; k++) {
        float *gk = grad + k * m->d;
        if (data->x) {
            const float *x = data->x + (size_t)row * m->d;
            for (size_t j = 0; j < m->d; j++)
                gk[j] += g[k] * x[j];
        } else {
            for (size_t e = data->ptr[row]; e < data->ptr[row + 1]; e++)
                gk[data->idx[e]] += g[k] * data->val[e];
        }
    }
}

/* The scratch (n_classes floats) holds one row's logits, then its dL/dz. The row's loss is
 * log-sum-exp minus the label's logit, which needs no clamp. */
static double lin_loss_grad(const void *self, const float *w, const fedsim_data *data,
                            const uint32_t *rows, size_t n, float *grad, float *scratch)
{
    const linear *m = self;
    size_t nw = m->c * m->d;
    double loss = 0, inv_n = n ? 1.0 / (double)n : 0;
    memset(grad, 0, (nw + m->c) * sizeof *grad);
    for (size_t i = 0; i < n; i++) {
        float *g = scratch;
        double top = -INFINITY, sum = 0;
        for (size_t k = 0; k < m->c; k++) {
            g[k] = (float)row_logit(m, w, data, rows[i], k);
            top = g[k] > top ? g[k] : top;
        }
        for (size_t k = 0; k < m->c; k++)
            sum += exp(g[k] - top);
        size_t y = (size_t)data->y[rows[i]];
        loss += top + log(sum) - g[y];
        for (size_t k = 0; k < m->c; k++) {
            g[k] = (float)((exp(g[k] - top) / sum - (k == y)) * inv_n); /* dL/dz */
            grad[nw + k] += g[k];
        }
        add_outer(m, data, rows[i], g, grad);
    }
    double penalty = 0;
    for (size_t j = 0; m->l2 > 0 && j < nw; j++) {
        penalty += (double)w[j] * w[j];
        grad[j] += (float)(m->l2 * w[j]);
    }
    return loss * inv_n + 0.5 * m->l2 * penalty;
}

static void lin_predict(const void *self, const float *w, const fedsim_data *data,
                        const uint32_t *rows, size_t n, double *probs, float *scratch)
{
    const linear *m = self;
    (void)scratch; /* each row's probabilities are computed in place */
    for (size_t i = 0; i < n; i++)
        row_probs(m, w, data, rows[i], probs + i * m->c);
}

const fedsim_model_ops fedsim_model_plugin = {
    .abi_version = FEDSIM_MODEL_ABI_VERSION,
    .flags = FEDSIM_MODEL_DENSE | FEDSIM_MODEL_SPARSE,
    .name = "linear",
    .create = lin_create,
    .destroy = lin_destroy,
    .init = lin_init,
    .loss_grad = lin_loss_grad,
    .predict = lin_predict,
};
