/* fs_model: the model interface. Parameters are one flat double vector owned by the caller; a
 * model object holds only shapes and hyperparameters, never per-client state, so one model
 * serves every thread. Per-thread temporary memory comes from fs_model_scratch. Models know
 * nothing of time, devices or clients. */
#ifndef FS_MODEL_H
#define FS_MODEL_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_data.h"

typedef struct fs_model fs_model;
typedef struct fs_model_scratch fs_model_scratch;

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
} fs_model_ops;

struct fs_model {
    const fs_model_ops *ops;
    size_t n_features;
    int n_classes;
    size_t n_params;
    size_t max_batch;         /* largest n accepted by loss_grad/predict */
    double flops_per_sample;  /* forward-pass FLOPs per sample; a training step costs ~3x */
    size_t scratch_doubles;   /* per-thread scratch size for max_batch rows */
};

struct fs_model_scratch {
    size_t n;
    double *buf;
};

/* Multinomial logistic regression: logits = W x + b, W is n_classes x n_features (row-major,
 * first in w), then b. Loss is mean cross-entropy. Returns NULL when out of memory. */
fs_model *fs_softmax_new(size_t n_features, int n_classes, size_t max_batch);

void fs_model_free(fs_model *m); /* NULL is a no-op */

/* Scratch for one thread; free with fs_model_scratch_free. NULL when out of memory. Holds
 * scratch_doubles for the ops plus max_batch * n_classes doubles used by fs_model_evaluate, so
 * build scratch with this function rather than by hand. */
fs_model_scratch *fs_model_scratch_new(const fs_model *m);
void fs_model_scratch_free(fs_model_scratch *s);

/* Minibatch SGD on one client's rows, in place on w. Each epoch shuffles the rows with `r`
 * and takes ceil(n/batch) steps (last batch smaller). */
typedef struct fs_sgd_cfg {
    int epochs;
    size_t batch_size;
    double lr;
} fs_sgd_cfg;

typedef struct fs_sgd_result {
    size_t steps;
    double mean_loss; /* mean of minibatch losses, weighted by batch size */
} fs_sgd_result;

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
