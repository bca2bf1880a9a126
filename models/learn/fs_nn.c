/* fs_nn: layers and output head shared by fs_softmax, fs_mlp and fs_cnn (see fs_nn.h). fs_cnn's
 * convolutions are im2col followed by these dense layers, so one copy of each GEMM call, bias
 * sum and loss serves every network. */
#include <math.h>
#include <string.h>

#include "fs_nn.h"

#include "fs_exp.h"
#include "fs_nn_small.h"

void fs_nn_check(const fs_model *m, const fs_dataset *ds, size_t n, const fs_model_scratch *s)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features && (ds->x || ds->x8));
    fs_assert(s->n >= m->scratch_reals);
}

/* A training batch's rows lie anywhere in a set larger than the cache (47 MB of pixels): each
 * is a miss to memory, a dozen lines long. Asking for all of them first overlaps the misses
 * instead of waiting for each row in turn (a third off the softmax run's training samples).
 * Evaluation asks for its next block of rows while it predicts this one (fs_nn_predict_rows). */
static void prefetch_rows(const uint8_t *base, size_t row_bytes, const uint32_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t off = 0; off < row_bytes; off += 64)
            __builtin_prefetch(base + (size_t)rows[i] * row_bytes + off);
}

/* Features are float: when fs_real is too, a row is one memcpy or one convert (fs_data's, the
 * same floats fs_dataset_expand gives); the double build widens those same floats. */
void fs_nn_gather(const fs_dataset *ds, const uint32_t *rows, size_t n, fs_real *x)
{
    size_t d = ds->d;
    if (ds->x8 && n > 1 && rows[n - 1] != rows[0] + n - 1) {
        prefetch_rows(ds->x8, d, rows, n);
        /* the loss reads the batch's labels after the forward pass: scattered too, each was a
         * miss there (nine tenths of fs_nn_softmax_xent's own time) */
        if (ds->y)
            for (size_t i = 0; i < n; i++) __builtin_prefetch(&ds->y[rows[i]]);
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        fs_real *dst = x + i * d;
        if (sizeof *dst == sizeof(float))
            fs_dataset_row_f32(ds, r, (float *)(void *)dst);
        else if (ds->x8)
            for (size_t j = 0; j < d; j++)
                dst[j] = fs_pixel(ds->x8[r * d + j]);
        else
            for (size_t j = 0; j < d; j++)
                dst[j] = ds->x[r * d + j];
    }
}

/* Evaluating a test set in chunks of consecutive rows would otherwise copy all of it every time
 * (31 MB for Fashion-MNIST's floats). Compact rows are always converted into x. */
const fs_real *fs_nn_rows(const fs_dataset *ds, const uint32_t *rows, size_t n, fs_real *x)
{
    bool run = ds->x && sizeof *x == sizeof *ds->x && n > 0;
    for (size_t i = 1; run && i < n; i++) run = rows[i] == rows[0] + i;
    if (run) return (const fs_real *)(const void *)(ds->x + (size_t)rows[0] * ds->d);
    fs_nn_gather(ds, rows, n, x);
    return x;
}

/* He: gain 2 keeps the activation variance constant through a ReLU; biases 0. */
void fs_nn_init_layer(fs_real *w, size_t fan_in, size_t n_out, bool relu, gsl_rng *r)
{
    double bound = sqrt((relu ? 6.0 : 3.0) / (double)fan_in);
    for (size_t i = 0; i < fan_in * n_out; i++)
        w[i] = (fs_real)(bound * (2.0 * gsl_rng_uniform(r) - 1.0));
    memset(w + fan_in * n_out, 0, n_out * sizeof *w);
}

/* b is copied into every row first, so one GEMM with beta = 1 adds the product; or the direct
 * kernel, where it is the faster (fs_nn_small_trains). */
void fs_nn_dense_forward(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, fs_real *out)
{
    if (fs_nn_small_trains(n_in, n_out)) {
        fs_nn_small_forward(W, b, in, n, n_in, n_out, out);
        if (relu) fs_nn_relu(out, n * n_out);
        return;
    }
    /* a loop, not a memcpy per row: a convolution's rows are short (32 or 64 channels) */
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < n_out; o++) out[i * n_out + o] = b[o];
    fs_real_gemm(false, true, (int)n, (int)n_out, (int)n_in, 1, in, (int)n_in, W, (int)n_in, 1,
                 out, (int)n_out);
    if (relu) fs_nn_relu(out, n * n_out);
}

void fs_nn_dense_predict(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, bool relu, fs_real *out)
{
    if (n_out > FS_NN_SMALL_OUT_MAX) {
        fs_nn_dense_forward(W, b, in, n, n_in, n_out, relu, out);
        return;
    }
    fs_nn_small_forward(W, b, in, n, n_in, n_out, out);
    if (relu) fs_nn_relu(out, n * n_out);
}

void fs_nn_predict_rows(const fs_real *W, const fs_real *b, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, size_t n_out, bool relu, fs_real *x,
                        fs_real *out)
{
    size_t d = ds->d;
    if (!ds->x8 || n_out > FS_NN_SMALL_OUT_MAX) {
        fs_nn_dense_predict(W, b, fs_nn_rows(ds, rows, n, x), n, d, n_out, relu, out);
        return;
    }
    for (size_t i = 0; i < n; i += FS_NN_PREDICT_BLOCK) {
        size_t len = n - i < FS_NN_PREDICT_BLOCK ? n - i : FS_NN_PREDICT_BLOCK;
        fs_nn_gather(ds, rows + i, len, x);
        /* the next block comes from memory while this one is multiplied (the hardware
         * prefetcher stops between blocks: their first lines missed) */
        size_t next = i + len;
        size_t ahead = n - next < FS_NN_PREDICT_BLOCK ? n - next : FS_NN_PREDICT_BLOCK;
        prefetch_rows(ds->x8, d, rows + next, ahead);
        fs_nn_dense_predict(W, b, x, len, d, n_out, relu, out + i * n_out);
    }
}

/* beta = 0 on a first slice spares a memset and a read of the whole gradient. */
void fs_nn_dense_grad(const fs_real *delta, const fs_real *in, size_t n, size_t n_in,
                      size_t n_out, fs_real beta, fs_real *grad_W, fs_real *grad_b)
{
    fs_real_gemm(true, false, (int)n_out, (int)n_in, (int)n, 1, delta, (int)n_out, in, (int)n_in,
                 beta, grad_W, (int)n_in);
    if (beta == 0) memset(grad_b, 0, n_out * sizeof *grad_b);
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < n_out; o++) grad_b[o] += delta[i * n_out + o];
}

/* Column sums of delta in double, FS_NN_SUM_BLOCK columns at a time: each column is still summed
 * in row order from 0, but the rows are read along (a convolution has tens of thousands of short
 * rows) and the block's sums vectorise. */
#define FS_NN_SUM_BLOCK 64

/* One GEMM with beta = 1 adds the step to W: no gradient written, read back and added. */
void fs_nn_dense_update(const fs_real *delta, const fs_real *in, size_t n, size_t n_in,
                        size_t n_out, double lr, fs_real *W, fs_real *b)
{
    fs_real_gemm(true, false, (int)n_out, (int)n_in, (int)n, (fs_real)-lr, delta, (int)n_out, in,
                 (int)n_in, 1, W, (int)n_in);
    for (size_t o0 = 0; o0 < n_out; o0 += FS_NN_SUM_BLOCK) {
        size_t len = n_out - o0 < FS_NN_SUM_BLOCK ? n_out - o0 : FS_NN_SUM_BLOCK;
        double sum[FS_NN_SUM_BLOCK] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t o = 0; o < len; o++) sum[o] += delta[i * n_out + o0 + o];
        for (size_t o = 0; o < len; o++) b[o0 + o] = (fs_real)(b[o0 + o] - lr * sum[o]);
    }
}

void fs_nn_dense_learn(const fs_nn_learn *how, const fs_real *delta, const fs_real *in, size_t n,
                       size_t n_in, size_t n_out, size_t wo, size_t bo)
{
    if (how->grad)
        fs_nn_dense_grad(delta, in, n, n_in, n_out, how->beta, how->grad + wo, how->grad + bo);
    else
        fs_nn_dense_update(delta, in, n, n_in, n_out, how->lr, how->step + wo, how->step + bo);
}

void fs_nn_dense_backprop(const fs_real *W, const fs_real *delta, size_t n, size_t n_in,
                          size_t n_out, fs_real *din)
{
    fs_real_gemm(false, false, (int)n, (int)n_in, (int)n_out, 1, delta, (int)n_out, W, (int)n_in,
                 0, din, (int)n_in);
}

void fs_nn_relu(fs_real *a, size_t len)
{
    for (size_t i = 0; i < len; i++) a[i] = a[i] > 0 ? a[i] : 0;
}

/* The stored activation is post-ReLU, so it is positive exactly where the derivative is 1. */
void fs_nn_relu_mask(fs_real *d, const fs_real *act, size_t len)
{
    for (size_t i = 0; i < len; i++) d[i] = act[i] > 0 ? d[i] : 0;
}

/* Subtracting the max keeps every exp() in (0, 1], so nothing overflows and the largest term is
 * exactly 1. The exponentials and their sum are taken in double although the row is fs_real: a
 * handful per row, and the log-sum-exp is a loss term. */
double fs_nn_softmax_row(fs_real *z, size_t c)
{
    double mx = z[0], sum = 0;
    for (size_t k = 1; k < c; k++) mx = z[k] > mx ? z[k] : mx;
    for (size_t k = 0; k < c; k++) {
        double e = exp((double)z[k] - mx);
        z[k] = (fs_real)e;
        sum += e;
    }
    double inv = 1.0 / sum;
    for (size_t k = 0; k < c; k++) z[k] = (fs_real)(z[k] * inv);
    return mx + log(sum);
}

/* fs_nn_softmax_row's steps in double for every row, with the exponentials of all rows taken
 * together (fs_exp_many): the shifts by each row's max first, then one pass of exp, then each
 * row's sum in class order and its scaling. */
void fs_nn_softmax_probs(const fs_real *z, size_t n, size_t c, double *probs)
{
    for (size_t i = 0; i < n; i++) {
        const fs_real *zi = z + i * c;
        double mx = zi[0];
        for (size_t k = 1; k < c; k++) mx = zi[k] > mx ? zi[k] : mx;
        for (size_t k = 0; k < c; k++) probs[i * c + k] = (double)zi[k] - mx;
    }
    fs_exp_many(probs, n * c, probs);
    for (size_t i = 0; i < n; i++) {
        double *pi = probs + i * c, sum = 0;
        for (size_t k = 0; k < c; k++) sum += pi[k];
        double inv = 1.0 / sum;
        for (size_t k = 0; k < c; k++) pi[k] *= inv;
    }
}

/* Log-sum-exp minus the true logit: exact even where p[y] underflows, which log(p[y]) is not. */
double fs_nn_softmax_xent(const fs_dataset *ds, const uint32_t *rows, size_t n, size_t c,
                          double scale, fs_real *z)
{
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->y[rows[i]];
        fs_assert(y >= 0 && (size_t)y < c);
        fs_real *zi = z + i * c;
        double zy = zi[y];
        loss += fs_nn_softmax_row(zi, c) - zy;
        zi[y] -= 1;
        for (size_t k = 0; k < c; k++) zi[k] = (fs_real)(zi[k] * scale);
    }
    return loss;
}
