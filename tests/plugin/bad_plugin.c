/* bad_plugin: plugins that break the contract, one per build (-DBAD_<WHAT>), for the tests that
 * fedsim refuses each with a message naming model.plugin.path rather than crashing. The model
 * itself is the smallest there is: class biases b only (softmax(b) for every row), dense rows
 * only (so sparse data are refused too). Without a BAD_ flag it is a working plugin. */
#include <fedsim/fedsim_model.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BAD_ABI
#define ABI (FEDSIM_MODEL_ABI_VERSION + 98)
#elif defined BAD_ABI1
#define ABI 1 /* built for ABI 1, whose parameters were double */
#else
#define ABI FEDSIM_MODEL_ABI_VERSION
#endif
#ifdef BAD_NO_SYMBOL
#define TABLE_NAME some_other_name
#else
#define TABLE_NAME fedsim_model_plugin
#endif

static int b_create(const fedsim_model_shape *shape, void **self, fedsim_model_info *info,
                    char *err, size_t err_len)
{
    if (shape->n_classes > 64) return snprintf(err, err_len, "at most 64 classes"), 1;
    size_t *c = malloc(sizeof *c);
    if (!c) return snprintf(err, err_len, "out of memory"), 1;
    *c = (size_t)shape->n_classes;
    *self = c;
    info->n_params = *c;
    info->scratch_floats = 0;
    info->flops_per_sample = (double)*c;
    return 0;
}

static void b_destroy(void *self)
{
    free(self);
}

static void b_init(const void *self, float *w, const fedsim_rng *rng)
{
    size_t c = *(const size_t *)self;
    for (size_t k = 0; k < c; k++)
        w[k] = 0;
#ifdef BAD_NAN_INIT
    w[c - 1] = NAN;
#endif
}

static void softmax(const float *b, size_t c, double *p)
{
    double sum = 0;
    for (size_t k = 0; k < c; k++)
        sum += (p[k] = exp(b[k]));
    for (size_t k = 0; k < c; k++)
        p[k] /= sum;
}

static double b_loss_grad(const void *self, const float *w, const fedsim_data *data,
                          const uint32_t *rows, size_t n, float *grad, float *scratch)
{
    size_t c = *(const size_t *)self;
    double p[64], loss = 0;
    softmax(w, c, p);
    memset(grad, 0, c * sizeof *grad);
    for (size_t i = 0; i < n; i++) {
        int32_t y = data->y[rows[i]];
        loss -= log(p[y]) / (double)n;
        for (size_t k = 0; k < c; k++)
            grad[k] += (float)((p[k] - (k == (size_t)y)) / (double)n);
    }
#ifdef BAD_NAN_GRAD
    grad[0] = INFINITY;
#endif
#ifdef BAD_NAN_LOSS
    loss = NAN;
#endif
    return loss;
}

static void b_predict(const void *self, const float *w, const fedsim_data *data,
                      const uint32_t *rows, size_t n, double *probs, float *scratch)
{
    size_t c = *(const size_t *)self;
    for (size_t i = 0; i < n; i++) {
        softmax(w, c, probs + i * c);
#ifdef BAD_PROBS
        probs[i * c] = NAN;
#endif
    }
}

const fedsim_model_ops TABLE_NAME = {
    .abi_version = ABI,
    .flags = FEDSIM_MODEL_DENSE,
    .name = "bias-only",
    .create = b_create,
    .destroy = b_destroy,
    .init = b_init,
    .loss_grad = b_loss_grad,
    .predict = b_predict,
};
