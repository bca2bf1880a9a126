/* fs_nn: building blocks of the dense-row networks (fs_softmax, fs_mlp, fs_cnn): batch gathering,
 * fully connected layers through cblas_dgemm, ReLU, the softmax cross-entropy head, the safe
 * sigmoid (also fs_logreg's) and uniform initialisation. Stateless and allocation-free: every
 * buffer is the caller's. Matrices are row-major; a layer's W is n_out x n_in, b follows it. */
#ifndef FS_NN_H
#define FS_NN_H

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"

/* Asserts what loss_grad and predict of a dense network need: n <= max_batch, dense rows of
 * n_features, and scratch of at least scratch_doubles. */
void fs_nn_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s);

/* x (n x ds->d doubles) := the selected rows; BLAS needs one precision for both operands. */
void fs_nn_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, double *x);

/* n_out x fan_in weights ~ U(-bound, bound), then n_out zero biases right after them. bound is
 * He's sqrt(6 / fan_in) for a layer followed by a ReLU, LeCun's sqrt(3 / fan_in) otherwise (the
 * output layer, so initial logits are O(1)). Draws run in parameter order. */
void fs_nn_init_layer(double *w, size_t fan_in, size_t n_out, bool relu, gsl_rng *r);

/* Fully connected layer over n rows. Forward: out (n x n_out) := in W^T + b, ReLU'd when relu.
 * Grad: grad_W := beta grad_W + delta^T in, and grad_b likewise with delta's column sums (beta 0
 * or 1). Backprop: din (n x n_in) := delta W, not masked (the caller knows what sits below). */
void fs_nn_dense_forward(const double *W, const double *b, const double *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, double *out);
void fs_nn_dense_grad(const double *delta, const double *in, size_t n, size_t n_in, size_t n_out,
                      double beta, double *grad_W, double *grad_b);
void fs_nn_dense_backprop(const double *W, const double *delta, size_t n, size_t n_in,
                          size_t n_out, double *din);

/* a := max(a, 0); d := d where act > 0, else 0 (the ReLU's derivative, from its output act). */
void fs_nn_relu(double *a, size_t len);
void fs_nn_relu_mask(double *d, const double *act, size_t len);

/* Replaces a row of c logits by its softmax; returns their log-sum-exp. */
double fs_nn_softmax_row(double *z, size_t c);

/* Softmax cross-entropy of n rows of logits z (n x c) against ds->y[rows[i]]: returns the summed
 * loss lse(z) - z_y, and z becomes scale * (p - onehot(y)), the gradient when scale is 1 / (the
 * batch size the loss is a mean over). */
double fs_nn_softmax_xent(const fs_dataset *ds, const uint32_t *rows, size_t n, size_t c,
                          double scale, double *z);

/* sigma(z) with exp() only of -|z|: nothing overflows and each tail keeps its relative precision.
 * Inline: the per-row hot path of fs_logreg's sparse training. */
static inline double fs_nn_sigmoid(double z)
{
    if (z >= 0) return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

#endif
