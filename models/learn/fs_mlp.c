/* fs_mlp: multi-layer perceptron model ops (ReLU hidden layers; softmax output, or one sigmoid
 * unit for binary tasks). Parameters: for each layer W (out x in, row-major) then b. Every
 * product of a step is one GEMM over the whole minibatch (fs_nn's layers); activations and the two
 * back-propagated delta buffers live in the caller's scratch, so loss_grad and predict never
 * allocate. The model object holds only shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"

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
    size_t x;        /* scratch offset of the batch (max_batch x n_features) */
    size_t delta[2]; /* ping-pong buffers for hidden-layer deltas (max_batch x widest hidden) */
    mlp_layer layer[];
} mlp_impl;

/* He-uniform for the hidden layers (each followed by a ReLU), LeCun-uniform for the output
 * layer, so the loss starts near log(n_classes); biases 0 (fs_nn_init_layer). Draws run in
 * parameter order, so w depends only on r. */
static void mlp_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    const mlp_impl *im = m->impl;
    for (size_t l = 0; l < im->n_layers; l++) {
        const mlp_layer *ly = &im->layer[l];
        fs_nn_init_layer(w + ly->w, ly->in, ly->out, l + 1 < im->n_layers, r);
    }
}

/* Forward pass of rows[0..n), a ReLU after every layer but the output layer; returns the output
 * layer's pre-activations (n x out) in scratch. Training gathers the batch into scratch, where
 * the backward pass finds it; prediction reads consecutive rows in place (fs_nn_rows) and
 * takes fs_nn_dense_predict's layers. */
static fs_real *mlp_forward(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *buf, bool in_place)
{
    const mlp_impl *im = m->impl;
    const fs_real *in = buf + im->x;
    if (in_place)
        in = fs_nn_rows(ds, rows, n, buf + im->x);
    else
        fs_nn_gather(ds, rows, n, buf + im->x);
    for (size_t l = 0; l < im->n_layers; l++) {
        const mlp_layer *ly = &im->layer[l];
        bool relu = l + 1 < im->n_layers;
        (in_place ? fs_nn_dense_predict : fs_nn_dense_forward)(w + ly->w, w + ly->b, in, n, ly->in,
                                                               ly->out, relu, buf + ly->act);
        in = buf + ly->act;
    }
    return buf + im->layer[im->n_layers - 1].act;
}

/* Turns the output pre-activations z (n x units) into dL/dz of the mean loss, in place, and
 * returns the summed loss. Softmax: loss = lse(z) - z_y, dL/dz = (p - onehot(y)) / n. Sigmoid:
 * loss = softplus(z) - y z (exact even where p underflows), dL/dz = (sigma(z) - y) / n. */
static double mlp_head(const fs_model *m, const fs_dataset *ds, const uint32_t *rows, size_t n,
                       fs_real *z)
{
    const mlp_impl *im = m->impl;
    size_t c = (size_t)m->n_classes;
    double inv_n = 1.0 / (double)n, loss = 0;
    if (!im->sigmoid) return fs_nn_softmax_xent(ds, rows, n, c, inv_n, z);
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->y[rows[i]];
        fs_assert(y >= 0 && (size_t)y < c);
        double zi = z[i], e = exp(-fabs(zi)); /* the loss's and the sigmoid's exponential */
        loss += (zi > 0 ? zi : 0) + log1p(e) - (double)y * zi;
        z[i] = (fs_real)((fs_nn_sigmoid_exp(zi, e) - (double)y) * inv_n);
    }
    return loss;
}

/* Backward from the output layer down, layer l's input being layer l-1's activation (or the
 * gathered batch for l = 0): the delta below each layer comes from its weights, then the layer
 * learns as how says (gradient or fused step). delta, the output layer's dL/dz, overwrote the
 * output pre-activations, which are not needed again. */
static void mlp_backward(const fs_model *m, const fs_real *w, fs_real *buf, fs_real *delta,
                         size_t n, const fs_nn_learn *how)
{
    const mlp_impl *im = m->impl;
    for (size_t l = im->n_layers; l-- > 0;) {
        const mlp_layer *ly = &im->layer[l];
        const fs_real *in = buf + (l ? im->layer[l - 1].act : im->x);
        /* the delta below: (delta W) through the ReLU whose output is in */
        fs_real *below = l ? buf + im->delta[l % 2] : NULL;
        if (below) {
            fs_nn_dense_backprop(w + ly->w, delta, n, ly->in, ly->out, below);
            fs_nn_relu_mask(below, in, n * ly->in);
        }
        fs_nn_dense_learn(how, delta, in, n, ly->in, ly->out, ly->w, ly->b);
        delta = below;
    }
}

/* Mean cross-entropy and its gradient. */
static double mlp_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                            const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) {
        memset(grad, 0, m->n_params * sizeof *grad);
        return 0;
    }
    fs_real *buf = s->buf, *delta = mlp_forward(m, w, ds, rows, n, buf, false);
    double loss = mlp_head(m, ds, rows, n, delta);
    mlp_backward(m, w, buf, delta, n, &(fs_nn_learn){.grad = grad, .beta = 0});
    return loss / (double)n;
}

/* The same pass with each layer's step taken in place (fs_model_ops.sgd_step). */
static double mlp_sgd_step(const fs_model *m, fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, double lr, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) return 0;
    fs_real *buf = s->buf, *delta = mlp_forward(m, w, ds, rows, n, buf, false);
    double loss = mlp_head(m, ds, rows, n, delta) / (double)n;
    if (isfinite(loss)) mlp_backward(m, w, buf, delta, n, &(fs_nn_learn){.step = w, .lr = lr});
    return loss;
}

/* Probabilities: softmax rows, or (1 - p, p) with 1 - p computed as sigma(-z) so it keeps full
 * precision when p is near 1. */
static void mlp_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    fs_nn_check(m, ds, n, s);
    if (n == 0) return;
    const mlp_impl *im = m->impl;
    size_t c = (size_t)m->n_classes;
    const fs_real *z = mlp_forward(m, w, ds, rows, n, s->buf, true);
    if (!im->sigmoid) {
        fs_nn_softmax_probs(z, n, c, out_probs);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double zi = z[i], e = exp(-fabs(zi)); /* both columns' exponential */
        out_probs[2 * i] = fs_nn_sigmoid_exp(-zi, e);
        out_probs[2 * i + 1] = fs_nn_sigmoid_exp(zi, e);
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
    .sgd_step = mlp_sgd_step,
    .reads_u8 = true, /* rows only through fs_nn_gather / fs_nn_rows */
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
    m->scratch_reals = scratch + 2 * nb * widest;
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
    m->step_max_batch = max_batch;
    m->impl = im;
    if (!mlp_layout(m, im, hidden, im->sigmoid ? 1 : (size_t)n_classes)) goto fail;
    return m;
fail:
    free(im);
    free(m);
    return NULL;
}
