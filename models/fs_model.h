/* fs_model: the model interface. Parameters are one flat double vector owned by the caller; a
 * model object holds only shapes and hyperparameters, never per-client state, so one model
 * serves every thread. Per-thread temporary memory comes from fs_model_scratch. Models know
 * nothing of time, devices or clients. */
#ifndef FS_MODEL_H
#define FS_MODEL_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_data.h"

typedef struct fs_model fs_model;
typedef struct fs_model_scratch fs_model_scratch;
typedef struct fs_sgd_cfg fs_sgd_cfg;
typedef struct fs_sgd_result fs_sgd_result;

/* A client's update as a delta from the global model: dense (n_params values) or sparse (the
 * coordinates it touched, ascending, with their deltas). Caller-owned storage, reused. */
typedef struct fs_update {
    size_t n_params;
    bool sparse;
    double *dense;       /* n_params when !sparse */
    uint32_t *idx;       /* nnz ascending indices when sparse */
    double *val;         /* nnz deltas when sparse */
    size_t nnz, cap;     /* cap: capacity of idx/val (grown with realloc by the producer) */
} fs_update;

typedef struct fs_model_ops {
    const char *name;
    /* Initial parameters into w (n_params). */
    void (*init)(const fs_model *m, double *w, gsl_rng *r);
    /* Mean loss over rows[0..n) of ds; grad (n_params) := mean gradient. */
    double (*loss_grad)(const fs_model *m, const double *w, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, double *grad, fs_model_scratch *s);
    /* Class probabilities (n * n_classes, row-major) for rows[0..n). */
    void (*predict)(const fs_model *m, const double *w, const fs_dataset *ds, const uint32_t *rows,
                    size_t n, double *out_probs, fs_model_scratch *s);
    void (*free)(fs_model *m);
    /* Optional: local training that costs O(features touched), not O(n_params), for models whose
     * rows touch few parameters (sparse logistic regression). Trains from w_global (read only)
     * on rows[0..n) and writes the delta as a sparse update. NULL: the generic dense path
     * (copy, fs_sgd_train, subtract) is used. */
    int (*train_sparse)(const fs_model *m, const double *w_global, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, const fs_sgd_cfg *cfg, gsl_rng *r,
                        fs_model_scratch *s, fs_update *out, fs_sgd_result *res);
} fs_model_ops;

struct fs_model {
    const fs_model_ops *ops;
    size_t n_features;
    int n_classes;
    size_t n_params;
    size_t max_batch;         /* largest n accepted by loss_grad/predict */
    double flops_per_sample;  /* forward-pass FLOPs per sample; a training step costs ~3x */
    size_t scratch_doubles;   /* per-thread scratch size for max_batch rows */
    void *impl;               /* model-specific shapes (layers), owned by the model */
};

struct fs_model_scratch {
    size_t n;
    double *buf;
};

/* Multinomial logistic regression: logits = W x + b, W is n_classes x n_features (row-major,
 * first in w), then b. Loss is mean cross-entropy. Returns NULL when out of memory. */
fs_model *fs_softmax_new(size_t n_features, int n_classes, size_t max_batch);

/* Multi-layer perceptron: n_hidden fully connected ReLU layers of sizes hidden[], then a softmax
 * output over n_classes, or one sigmoid unit when n_classes == 2 and sigmoid_output is true
 * (predict still writes two columns, 1-p and p). Minibatch forward/backward through BLAS. The
 * McMahan et al. 2017 "2NN" is fs_mlp_new(784, {200, 200}, 2, 10, false, b): 199,210 params. */
fs_model *fs_mlp_new(size_t n_features, const size_t *hidden, size_t n_hidden, int n_classes,
                     bool sigmoid_output, size_t max_batch);

/* McMahan et al. 2017 CNN on height x width x channels images (row-major, channel-last or
 * single channel): conv 5x5 -> 32 (same padding) + ReLU, max-pool 2x2, conv 5x5 -> 64 (same) +
 * ReLU, max-pool 2x2, fully connected 512 + ReLU, softmax over n_classes; im2col + GEMM.
 * 1,663,370 parameters for 28x28x1 and 10 classes. height and width must be multiples of 4. */
fs_model *fs_cnn_new(size_t height, size_t width, size_t channels, int n_classes,
                     size_t max_batch);

/* Binary logistic regression on dense or sparse (CSR) rows of n_features: p = sigmoid(w.x + b),
 * parameters w then b. Mean log loss, optional L2 penalty l2/2 * ||w||^2. On sparse data it
 * provides train_sparse: a client's training costs O(non-zeros touched) and yields a sparse
 * update, so a 2^18-feature model is never copied per client. predict writes (1-p, p). */
fs_model *fs_logreg_new(size_t n_features, double l2, size_t max_batch);

void fs_model_free(fs_model *m); /* NULL is a no-op */

/* Update storage for a model: dense (n_params) unless sparse; FS_ENOMEM. */
int fs_update_init(fs_update *u, size_t n_params, bool sparse);
void fs_update_fini(fs_update *u);

/* Scratch for one thread; free with fs_model_scratch_free. NULL when out of memory. Holds
 * scratch_doubles for the ops plus max_batch * n_classes doubles used by fs_model_evaluate, so
 * build scratch with this function rather than by hand. */
fs_model_scratch *fs_model_scratch_new(const fs_model *m);
void fs_model_scratch_free(fs_model_scratch *s);

/* Minibatch SGD on one client's rows, in place on w. Each epoch shuffles the rows with `r`
 * and takes ceil(n/batch) steps (last batch smaller). */
struct fs_sgd_cfg {
    int epochs;
    size_t batch_size;
    double lr;
};

struct fs_sgd_result {
    size_t steps;
    double mean_loss; /* mean of minibatch losses, weighted by batch size */
};

/* `order` is caller scratch of n entries (the shuffled row list). Returns FS_ENUMERIC if the loss
 * becomes non-finite. */
int fs_sgd_train(const fs_model *m, double *w, const fs_dataset *ds, const uint32_t *rows, size_t n,
                 const fs_sgd_cfg *cfg, gsl_rng *r, uint32_t *order, double *grad,
                 fs_model_scratch *s, fs_sgd_result *out);

/* Mean cross-entropy (each probability clamped at 1e-15) and accuracy of w on rows[0..n) of ds
 * (all ds->n rows when rows is NULL; n is then ignored), evaluated in chunks of max_batch.
 * FS_ENUMERIC if the loss is not finite. */
typedef struct fs_eval_result {
    double loss;
    double accuracy;
    size_t n;
} fs_eval_result;

int fs_model_evaluate(const fs_model *m, const double *w, const fs_dataset *ds,
                      const uint32_t *rows, size_t n, fs_model_scratch *s, fs_eval_result *out);

#endif
