/* fedsim_model.h: the ABI of a fedsim model plugin, for researchers who bring their own model
 * without editing fedsim. Self-contained (C99, standard headers only); installed with
 * `meson install` and found with `pkg-config --cflags fedsim-model`.
 *
 * A plugin is a shared object that exports one table, `const fedsim_model_ops
 * fedsim_model_plugin`, whose abi_version is FEDSIM_MODEL_ABI_VERSION. A scenario loads it with
 *     "model": {"kind": "plugin", "plugin": {"path": "./my_model.so", "config": {...}}}
 * fedsim links nothing into the plugin and exports nothing to it: the plugin is self-contained
 * (it may link its own libraries, e.g. -lm or a BLAS).
 *
 * The model is a function of one flat parameter vector w (n_params floats) that fedsim owns,
 * trains (minibatch SGD and the federated algorithms), aggregates, checkpoints and stores. The
 * plugin holds only shapes and hyperparameters: loss_grad and predict are called concurrently
 * from several threads with the same `self` and a separate scratch each, so they must not write
 * to `self` or to any global. Every value they return must be finite; fedsim checks the initial
 * parameters, one loss, gradient and prediction before training, and treats a non-finite local
 * loss or gradient later as a diverged client (its update is rejected). See models/README.md,
 * "Bring your own model". */
#ifndef FEDSIM_MODEL_H
#define FEDSIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct below changes layout or meaning; fedsim refuses any other version.
 * Version 2: parameters, gradients and scratch are float (version 1 had double). */
#define FEDSIM_MODEL_ABI_VERSION 2
/* The name of the exported table. */
#define FEDSIM_MODEL_SYMBOL "fedsim_model_plugin"

/* Rows a plugin accepts (fedsim_model_ops.flags). */
#define FEDSIM_MODEL_DENSE 1u  /* dense float rows (x) */
#define FEDSIM_MODEL_SPARSE 2u /* sparse CSR rows (ptr, idx, val) */

/* A read-only view of a dataset. Functions receive row ids into it: rows[0..n) < n_rows. Rows
 * are dense (x != NULL) or sparse (ptr != NULL), never both. Labels y are 0 .. n_classes-1. */
typedef struct fedsim_data {
    size_t n_rows;
    size_t n_features;
    int n_classes;
    const float *x;      /* dense: n_rows * n_features, row-major; NULL when sparse */
    const size_t *ptr;   /* sparse: n_rows + 1 offsets into idx/val; NULL when dense */
    const uint32_t *idx; /* sparse: feature indices, ascending within a row */
    const float *val;    /* sparse: feature values */
    const int32_t *y;    /* n_rows class labels */
} fedsim_data;

/* fedsim's random stream for init: draw from it (never from rand() or your own seed) and runs
 * stay reproducible from the scenario's seed. */
typedef struct fedsim_rng {
    void *state;
    double (*uniform)(void *state);             /* in [0, 1) */
    double (*gaussian)(void *state, double sd); /* normal, mean 0, standard deviation sd */
} fedsim_rng;

/* What create is told. */
typedef struct fedsim_model_shape {
    size_t n_features;
    int n_classes;      /* >= 2 */
    int sparse;         /* 1 when rows are sparse */
    size_t max_batch;   /* largest n passed to loss_grad and predict */
    const char *config; /* model.plugin.config as compact JSON text ("{}" when not given) */
} fedsim_model_shape;

/* What create reports. */
typedef struct fedsim_model_info {
    size_t n_params;         /* length of w and of the gradient (>= 1) */
    size_t scratch_floats;  /* per-thread scratch loss_grad and predict need for max_batch rows */
    double flops_per_sample; /* forward-pass FLOPs per dense row (simulated device time) */
} fedsim_model_info;

typedef struct fedsim_model_ops {
    uint32_t abi_version; /* FEDSIM_MODEL_ABI_VERSION; first, so fedsim reads it before the rest */
    uint32_t flags;       /* FEDSIM_MODEL_DENSE and/or FEDSIM_MODEL_SPARSE */
    const char *name;     /* short name for messages */
    /* Builds the model for these data: 0 with *self and *info set, or non-zero with a message
     * (NUL-terminated, at most err_len bytes) in err. */
    int (*create)(const fedsim_model_shape *shape, void **self, fedsim_model_info *info, char *err,
                  size_t err_len);
    void (*destroy)(void *self);
    /* Initial parameters into w (n_params). */
    void (*init)(const void *self, float *w, const fedsim_rng *rng);
    /* Mean loss over rows[0..n) of data; grad (n_params) := its gradient. n may be 0. */
    double (*loss_grad)(const void *self, const float *w, const fedsim_data *data,
                        const uint32_t *rows, size_t n, float *grad, float *scratch);
    /* Class probabilities of rows[0..n) into probs (n * n_classes, row-major, each row sums
     * to 1). */
    void (*predict)(const void *self, const float *w, const fedsim_data *data,
                    const uint32_t *rows, size_t n, double *probs, float *scratch);
} fedsim_model_ops;

#ifdef __cplusplus
}
#endif

#endif
