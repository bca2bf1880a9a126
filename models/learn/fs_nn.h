/* fs_nn: building blocks of the dense-row networks (fs_softmax, fs_mlp, fs_cnn): batch gathering,
 * fully connected layers through fs_real_gemm (cblas_sgemm; fs_nn_small's kernel for predicting
 * into few outputs), ReLU, the softmax cross-entropy head, the safe sigmoid (also fs_logreg's)
 * and uniform initialisation. Stateless and allocation-free: every buffer is the caller's.
 * Matrices are row-major; a layer's W is n_out x n_in, b follows it. */
#ifndef FS_NN_H
#define FS_NN_H

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"

/* Asserts what loss_grad and predict of a dense network need: n <= max_batch, dense rows
 * (float or compact) of n_features, and scratch of at least scratch_reals. */
void fs_nn_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s);

/* x (n x ds->d) := the selected rows, contiguous for BLAS; compact rows (x8) are converted,
 * each feature the float fs_pixel gives. */
void fs_nn_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, fs_real *x);
/* The selected rows as one contiguous n x ds->d block: the dataset's own rows when they already
 * are one (consecutive ids, as evaluation passes them, and float features when fs_real is
 * float), else gathered into x (compact rows always are). */
const fs_real *fs_nn_rows(const fs_dataset *ds, const uint32_t *rows, size_t n, fs_real *x);

/* n_out x fan_in weights ~ U(-bound, bound), then n_out zero biases right after them. bound is
 * He's sqrt(6 / fan_in) for a layer followed by a ReLU, LeCun's sqrt(3 / fan_in) otherwise (the
 * output layer, so initial logits are O(1)). Draws run in parameter order. */
void fs_nn_init_layer(fs_real *w, size_t fan_in, size_t n_out, bool relu, gsl_rng *r);

/* Fully connected layer over n rows. Forward: out (n x n_out) := in W^T + b, ReLU'd when relu.
 * Grad: grad_W := beta grad_W + delta^T in, and grad_b likewise with delta's column sums (beta 0
 * or 1). Backprop: din (n x n_in) := delta W, not masked (the caller knows what sits below). */
void fs_nn_dense_forward(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, fs_real *out);
/* The forward pass of prediction: fs_nn_dense_forward's result, through fs_nn_small's direct
 * kernel when n_out <= FS_NN_SMALL_OUT_MAX (twice as fast on evaluation chunks; each row's
 * outputs then depend on that row alone, not on the rows predicted with it). */
void fs_nn_dense_predict(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, fs_real *out);
/* fs_nn_dense_predict of the selected rows of ds, read as fs_nn_rows would (x: scratch of
 * n x ds->d). Compact rows feeding the small kernel are converted FS_NN_PREDICT_BLOCK at a time,
 * each block predicted while it is still in L1 and the next block's pixels are fetched: the same
 * outputs, as each row's depend on that row alone, without writing and reading back a chunk of
 * floats four times the pixels' size. */
#define FS_NN_PREDICT_BLOCK 8
void fs_nn_predict_rows(const fs_real *W, const fs_real *b, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, size_t n_out, bool relu, fs_real *x,
                        fs_real *out);
void fs_nn_dense_grad(const fs_real *delta, const fs_real *in, size_t n, size_t n_in, size_t n_out,
                      fs_real beta, fs_real *grad_W, fs_real *grad_b);
/* The fused SGD step of a layer: W -= lr delta^T in, b -= lr (column sums of delta). */
void fs_nn_dense_update(const fs_real *delta, const fs_real *in, size_t n, size_t n_in,
                        size_t n_out, double lr, fs_real *W, fs_real *b);

/* What one backward pass does with each layer's delta and input, so that loss_grad and the
 * fused sgd_step share it: accumulate the gradient (grad != NULL: fs_nn_dense_grad into grad
 * with beta) or step the parameters in place (step: fs_nn_dense_update with lr). A pass
 * computes each layer's delta below from its weights before it learns, which both need. */
typedef struct fs_nn_learn {
    fs_real *grad;
    fs_real beta;
    fs_real *step; /* the parameter vector itself, when grad is NULL */
    double lr;
} fs_nn_learn;

/* The layer whose W and b sit at offsets wo and bo of the parameter vector learns from delta
 * and in (n rows), as how says. */
void fs_nn_dense_learn(const fs_nn_learn *how, const fs_real *delta, const fs_real *in, size_t n,
                       size_t n_in, size_t n_out, size_t wo, size_t bo);
void fs_nn_dense_backprop(const fs_real *W, const fs_real *delta, size_t n, size_t n_in,
                          size_t n_out, fs_real *din);

/* a := max(a, 0); d := d where act > 0, else 0 (the ReLU's derivative, from its output act). */
void fs_nn_relu(fs_real *a, size_t len);
void fs_nn_relu_mask(fs_real *d, const fs_real *act, size_t len);

/* Replaces a row of c logits by its softmax; returns their log-sum-exp. */
double fs_nn_softmax_row(fs_real *z, size_t c);
/* probs (n x c doubles) := the softmax of each row of logits z: predictions keep double
 * probabilities from fs_real logits (the metrics need their tails). */
void fs_nn_softmax_probs(const fs_real *z, size_t n, size_t c, double *probs);

/* Softmax cross-entropy of n rows of logits z (n x c) against ds->y[rows[i]]: returns the summed
 * loss lse(z) - z_y, and z becomes scale * (p - onehot(y)), the gradient when scale is 1 / (the
 * batch size the loss is a mean over). */
double fs_nn_softmax_xent(const fs_dataset *ds, const uint32_t *rows, size_t n, size_t c,
                          double scale, fs_real *z);

/* sigma(z) from e = exp(-|z|), the one exponential it takes on either side of 0: a caller that
 * also needs sigma(-z) = fs_nn_sigmoid_exp(-z, e) or log1p(e) (the log loss) takes it once. */
static inline double fs_nn_sigmoid_exp(double z, double e)
{
    return z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* sigma(z) with exp() only of -|z|: nothing overflows and each tail keeps its relative precision.
 * Inline: the per-row hot path of fs_logreg's sparse training. */
static inline double fs_nn_sigmoid(double z)
{
    return fs_nn_sigmoid_exp(z, exp(-fabs(z)));
}

#endif
