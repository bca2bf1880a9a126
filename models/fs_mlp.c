/* fs_mlp: multi-layer perceptron model ops (ReLU hidden layers; softmax output, or one sigmoid
 * unit for binary tasks). Parameters: for each layer W (out x in, row-major) then b. Every
 * product of a step is one cblas_dgemm over the whole minibatch; activations and the two
 * back-propagated delta buffers live in the caller's scratch, so loss_grad and predict never
 * allocate. The model object holds only shapes. */
#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"

/* One fully connected layer: its shape, where its W and b sit in the parameter vector, and
 * where its output (max_batch x out, row-major) sits in the scratch. */
typedef struct mlp_layer {
    size_t in, out;
    size_t w, b; /* parameter offsets */
    size_t act;  /* scratch offset of this layer's output */
} mlp_layer;

typedef struct mlp_impl {
    bool sigmoid;    /* one output unit with log loss instead of softmax */
    size_t n_layers; /* hidden layers + the output layer */
    size_t x;        /* scratch offset of the batch as doubles (max_batch x n_features) */
    size_t delta[2]; /* ping-pong buffers for hidden-layer deltas (max_batch x widest hidden) */
    mlp_layer layer[];
} mlp_impl;

/* He/Kaiming-uniform, U(-sqrt(6/in), sqrt(6/in)), for layers followed by a ReLU (gain 2 keeps
 * activation variance constant through the ReLUs); LeCun-uniform, sqrt(3/in), for the output
 * layer, which has no ReLU after it, so initial logits are O(1) and the loss starts near
 * log(n_classes). Biases are 0. Draws run in parameter order, so w depends only on r. */
static void mlp_init(const fs_model *m, double *w, gsl_rng *r)
{
    const mlp_impl *im = m->impl;
    for (size_t l = 0; l < im->n_layers; l++) {
        const mlp_layer *ly = &im->layer[l];
        bool last = l + 1 == im->n_layers;
        double bound = sqrt((last ? 3.0 : 6.0) / (double)ly->in);
        for (size_t i = 0; i < ly->in * ly->out; i++)
            w[ly->w + i] = bound * (2.0 * gsl_rng_uniform(r) - 1.0);
        memset(w + ly->b, 0, ly->out * sizeof *w);
    }
}

/* x (n x d doubles) := the selected rows; BLAS needs one precision for both operands. */
static void mlp_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, double *x)
{
    size_t d = ds->d;
    for (size_t i = 0; i < n; i++) {
        const float *src = ds->x + (size_t)rows[i] * d;
        double *dst = x + i * d;
        for (size_t j = 0; j < d; j++) dst[j] = src[j];
    }
}

/* out (n x ly->out) := in W^T + b, then ReLU unless this is the output layer. b is copied into
 * every row first so one dgemm with beta = 1 adds the product. */
static void mlp_layer_forward(const mlp_layer *ly, const double *w, const double *in, size_t n,
                              bool relu, double *out)
{
    for (size_t i = 0; i < n; i++) memcpy(out + i * ly->out, w + ly->b, ly->out * sizeof *out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)ly->out, (int)ly->in, 1.0,
                in, (int)ly->in, w + ly->w, (int)ly->in, 1.0, out, (int)ly->out);
    if (!relu) return;
    for (size_t i = 0; i < n * ly->out; i++) out[i] = out[i] > 0 ? out[i] : 0;
}

/* Forward pass of rows[0..n); returns the output layer's pre-activations (n x out) in scratch. */
static double *mlp_forward(const fs_model *m, const double *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, double *buf)
{
    const mlp_impl *im = m->impl;
    const double *in = buf + im->x;
    mlp_gather(ds, rows, n, buf + im->x);
    for (size_t l = 0; l < im->n_layers; l++) {
        const mlp_layer *ly = &im->layer[l];
        mlp_layer_forward(ly, w, in, n, l + 1 < im->n_layers, buf + ly->act);
        in = buf + ly->act;
    }
    return buf + im->layer[im->n_layers - 1].act;
}

/* Replaces a row of logits by its softmax and returns log-sum-exp. Subtracting the max keeps
 * every exp() in (0, 1], so nothing overflows. */
static double mlp_softmax_row(double *z, size_t c)
{
    double mx = z[0];
    for (size_t k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
    double sum = 0;
    for (size_t k = 0; k < c; k++) sum += z[k] = exp(z[k] - mx);
    double inv = 1.0 / sum;
    for (size_t k = 0; k < c; k++) z[k] *= inv;
    return mx + log(sum);
}

/* sigma(z) in the form whose exp() cannot overflow. */
static double mlp_sigmoid(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* Turns the output pre-activations z (n x units) into dL/dz of the mean loss, in place, and
 * returns the summed loss. Softmax: loss = lse(z) - z_y, dL/dz = (p - onehot(y)) / n. Sigmoid:
 * loss = softplus(z) - y z (exact even where p underflows), dL/dz = (sigma(z) - y) / n. */
static double mlp_head(const fs_model *m, const fs_dataset *ds, const uint32_t *rows, size_t n,
                       double *z)
{
    const mlp_impl *im = m->impl;
    size_t c = (size_t)m->n_classes;
    double inv_n = 1.0 / (double)n, loss = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->y[rows[i]];
        fs_assert(y >= 0 && (size_t)y < c);
        if (im->sigmoid) {
            double zi = z[i];
            loss += (zi > 0 ? zi : 0) + log1p(exp(-fabs(zi))) - (double)y * zi;
            z[i] = (mlp_sigmoid(zi) - (double)y) * inv_n;
            continue;
        }
        double *zi = z + i * c, zy = zi[y];
        loss += mlp_softmax_row(zi, c) - zy;
        zi[y] -= 1.0;
        for (size_t k = 0; k < c; k++) zi[k] *= inv_n;
    }
    return loss;
}

/* Layer gradients from its delta (n x out) and input (n x in): grad_W = delta^T in,
 * grad_b = column sums of delta. */
static void mlp_layer_grad(const mlp_layer *ly, const double *delta, const double *in, size_t n,
                           double *grad)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ly->out, (int)ly->in, (int)n, 1.0,
                delta, (int)ly->out, in, (int)ly->in, 0.0, grad + ly->w, (int)ly->in);
    double *gb = grad + ly->b;
    memset(gb, 0, ly->out * sizeof *gb);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < ly->out; k++) gb[k] += delta[i * ly->out + k];
}

/* Delta of the layer below: (delta W) masked by the ReLU, whose derivative is 1 exactly where
 * the stored (post-ReLU) activation is positive. */
static void mlp_delta_below(const mlp_layer *ly, const double *w, const double *delta,
                            const double *act_below, size_t n, double *out)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)ly->in, (int)ly->out, 1.0,
                delta, (int)ly->out, w + ly->w, (int)ly->in, 0.0, out, (int)ly->in);
    for (size_t i = 0; i < n * ly->in; i++) out[i] = act_below[i] > 0 ? out[i] : 0;
}

static void mlp_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features && ds->x);
    fs_assert(s->n >= m->scratch_doubles);
}

/* Mean cross-entropy; backward from the output layer down, layer l's input being layer l-1's
 * activation (or the gathered batch for l = 0). The output delta overwrites the output
 * pre-activations, which are not needed again. */
static double mlp_loss_grad(const fs_model *m, const double *w, const fs_dataset *ds,
                            const uint32_t *rows, size_t n, double *grad, fs_model_scratch *s)
{
    mlp_check(m, ds, n, s);
    if (n == 0) {
        memset(grad, 0, m->n_params * sizeof *grad);
        return 0;
    }
    const mlp_impl *im = m->impl;
    double *buf = s->buf, *delta = mlp_forward(m, w, ds, rows, n, buf);
    double loss = mlp_head(m, ds, rows, n, delta);
    for (size_t l = im->n_layers; l-- > 0;) {
        const mlp_layer *ly = &im->layer[l];
        const double *in = buf + (l ? im->layer[l - 1].act : im->x);
        mlp_layer_grad(ly, delta, in, n, grad);
        if (l == 0) break;
        double *below = buf + im->delta[l % 2];
        mlp_delta_below(ly, w, delta, in, n, below);
        delta = below;
    }
    return loss / (double)n;
}

/* Probabilities: softmax rows, or (1 - p, p) with 1 - p computed as sigma(-z) so it keeps full
 * precision when p is near 1. */
static void mlp_predict(const fs_model *m, const double *w, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    mlp_check(m, ds, n, s);
    if (n == 0) return;
    const mlp_impl *im = m->impl;
    size_t c = (size_t)m->n_classes;
    const double *z = mlp_forward(m, w, ds, rows, n, s->buf);
    for (size_t i = 0; i < n; i++) {
        double *p = out_probs + i * c;
        if (im->sigmoid) {
            p[0] = mlp_sigmoid(-z[i]);
            p[1] = mlp_sigmoid(z[i]);
            continue;
        }
        memcpy(p, z + i * c, c * sizeof *p);
        mlp_softmax_row(p, c);
    }
}

static void mlp_free(fs_model *m)
{
    if (!m) return;
    free(m->impl);
    free(m);
}

static const fs_model_ops mlp_ops = {
    .name = "mlp",
    .init = mlp_init,
    .loss_grad = mlp_loss_grad,
    .predict = mlp_predict,
    .free = mlp_free,
};

/* Lays out parameters and scratch; false when a size would overflow BLAS's int dimensions or
 * size_t. Scratch: batch, every layer's output, then the two delta buffers. */
static bool mlp_layout(fs_model *m, mlp_impl *im, const size_t *hidden, size_t units)
{
    size_t nb = m->max_batch, in = m->n_features, params = 0, widest = 0, flops = 0;
    size_t scratch = nb * in;
    for (size_t l = 0; l < im->n_layers; l++) {
        size_t out = l + 1 < im->n_layers ? hidden[l] : units;
        if (out == 0 || in > INT32_MAX / out || nb > INT32_MAX / out || out > SIZE_MAX / 4 / nb)
            return false;
        im->layer[l] = (mlp_layer){.in = in, .out = out, .w = params, .b = params + in * out,
                                   .act = scratch};
        params += in * out + out;
        flops += in * out;
        scratch += nb * out;
        widest = l + 1 < im->n_layers && out > widest ? out : widest;
        in = out;
    }
    im->delta[0] = scratch;
    im->delta[1] = scratch + nb * widest;
    m->n_params = params;
    m->scratch_doubles = scratch + 2 * nb * widest;
    m->flops_per_sample = 2.0 * (double)flops;
    return true;
}

fs_model *fs_mlp_new(size_t n_features, const size_t *hidden, size_t n_hidden, int n_classes,
                     bool sigmoid_output, size_t max_batch)
{
    fs_assert(n_features >= 1 && n_classes >= 1 && max_batch >= 1);
    fs_assert(n_hidden == 0 || hidden);
    if (n_features > INT32_MAX || max_batch > INT32_MAX / n_features) return NULL;
    fs_model *m = calloc(1, sizeof *m);
    mlp_impl *im = calloc(1, sizeof *im + (n_hidden + 1) * sizeof im->layer[0]);
    if (!m || !im) goto fail;
    im->sigmoid = sigmoid_output && n_classes == 2;
    im->n_layers = n_hidden + 1;
    m->ops = &mlp_ops;
    m->n_features = n_features;
    m->n_classes = n_classes;
    m->max_batch = max_batch;
    m->impl = im;
    if (!mlp_layout(m, im, hidden, im->sigmoid ? 1 : (size_t)n_classes)) goto fail;
    return m;
fail:
    free(im);
    free(m);
    return NULL;
}
