/* fs_model: the model interface. Parameters are one flat fs_real (float32) vector owned by the caller; a
 * model object holds only shapes and hyperparameters, never per-client state, so one model
 * serves every thread. Per-thread temporary memory comes from fs_model_scratch. Models know
 * nothing of time, devices or clients. The routines generic over these ops are in fs_model.c
 * (scratch, evaluation, release) and fs_sgd.c (SGD); fs_plugin.h wraps a model from a shared
 * object (the public ABI include/fedsim/fedsim_model.h) in the same ops. */
#ifndef FS_MODEL_H
#define FS_MODEL_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_data.h"
#include "fs_real.h"

typedef struct fs_model fs_model;
typedef struct fs_model_scratch fs_model_scratch;
typedef struct fs_sgd_cfg fs_sgd_cfg;
typedef struct fs_sgd_result fs_sgd_result;

/* A client's update as a delta from the global model: dense (n_params values) or sparse (the
 * coordinates it touched, ascending, with their deltas). Caller-owned storage, reused. */
typedef struct fs_update {
    size_t n_params;
    bool sparse;
    fs_real *dense;       /* n_params when !sparse */
    uint32_t *idx;       /* nnz ascending indices when sparse */
    fs_real *val;         /* nnz deltas when sparse */
    size_t nnz, cap;     /* cap: capacity of idx/val (grown with realloc by the producer) */
    fs_real *personal;    /* n_personal: the client's private parameters; in: before training,
                            out: after. Never uploaded, never aggregated (NULL when none). */
} fs_update;

typedef struct fs_model_ops {
    const char *name;
    /* Initial parameters into w (n_params). */
    void (*init)(const fs_model *m, fs_real *w, gsl_rng *r);
    /* Mean loss over rows[0..n) of ds; grad (n_params) := mean gradient. */
    double (*loss_grad)(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s);
    /* Class probabilities (n * n_classes, row-major) for rows[0..n). */
    void (*predict)(const fs_model *m, const fs_real *w, const fs_dataset *ds, const uint32_t *rows,
                    size_t n, double *out_probs, fs_model_scratch *s);
    void (*free)(fs_model *m);
    /* Optional, for models with personal parameters: initial private vector of a client. */
    void (*init_personal)(const fs_model *m, fs_real *personal, gsl_rng *r);
    /* Optional: local training that costs O(features touched), not O(n_params), for models whose
     * rows touch few parameters (sparse logistic regression). Trains from w_global (read only)
     * on rows[0..n) and writes the delta as a sparse update. NULL: the generic dense path
     * (copy, fs_sgd_train, subtract) is used. */
    int (*train_sparse)(const fs_model *m, const fs_real *w_global, const fs_dataset *ds,
                        const uint32_t *rows, size_t n, const fs_sgd_cfg *cfg, gsl_rng *r,
                        fs_model_scratch *s, fs_update *out, fs_sgd_result *res);
    /* Optional: one plain SGD step in place, w -= lr * (mean gradient over rows[0..n)), fused
     * so that the gradient is never stored: each layer's weights take their GEMM update
     * (beta = 1) as soon as the delta below them is computed. Returns the batch's mean loss at
     * the old w and leaves w untouched when that loss is not finite. Equal to loss_grad and
     * an axpy up to rounding. fs_sgd_train uses it when no proximal term or correction applies
     * and the batch has at most step_max_batch rows; NULL: loss_grad is always used. */
    double (*sgd_step)(const fs_model *m, fs_real *w, const fs_dataset *ds, const uint32_t *rows,
                       size_t n, double lr, fs_model_scratch *s);
    /* The ops read dense rows only through fs_nn_gather / fs_nn_rows, so they take compact rows
     * (fs_dataset.x8) as they are; false: the caller expands them first (fs_dataset_expand). */
    bool reads_u8;
} fs_model_ops;

struct fs_model {
    const fs_model_ops *ops;
    size_t n_features;
    int n_classes;
    size_t n_params;
    size_t max_batch;         /* largest n accepted by loss_grad/predict */
    size_t step_max_batch;    /* largest n accepted by sgd_step (its ops set it with it) */
    double flops_per_sample;  /* forward-pass FLOPs per sample; a training step costs ~3x */
    size_t scratch_reals;     /* per-thread scratch (fs_real entries) for max_batch rows */
    void *impl;               /* model-specific shapes (layers), owned by the model */
    /* Personal parameters (n_personal > 0): each client keeps a private vector that never leaves
     * the device (e.g. a user's factors). The caller owns the table of every client's vector
     * (personal_table + client * n_personal) and points the model at it with
     * fs_model_set_personal; predict and loss_grad find a row's client through group column
     * `user_group` of the dataset (level = client id). */
    size_t n_personal;
    const fs_real *personal_table;
    int user_group;
};

struct fs_model_scratch {
    size_t n;      /* entries of buf */
    fs_real *buf;  /* the ops' scratch */
    double *probs; /* max_batch * n_classes: fs_model_evaluate's probabilities of a chunk */
    /* a client's workspace for train_sparse, grown by fs_model_scratch_reserve and kept for the
     * thread's next clients; empty until then */
    uint32_t *work_idx;
    fs_real *work_val;
    size_t work_cap;
    /* fs_sparse_local_index's scratch for keys below key_bound: key_first
     * (FS_SPARSE_LOCAL_WORDS(key_bound) entries) and key_bits (FS_SPARSE_LOCAL_BITS(key_bound)
     * words, zero between clients), grown by fs_sparse_local_reserve */
    uint32_t *key_first;
    uint64_t *key_bits;
    size_t key_bound;
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

/* Matrix factorization for explicit ratings (Koren et al. 2009), federated as in Ammad-ud-din et
 * al. 2019: rating ~ mu + b_u + b_i + p_u . q_i. Federated parameters: q (n_items x k, row-major),
 * then b_i (n_items), then mu. Personal parameters: p_u (k) then b_u. Rows are sparse with one
 * non-zero (the item) and a regression target; the dataset's group "user" names the client.
 * Loss: mean of (pred - r)^2 / 2 plus l2/2 (||p_u||^2 + ||q_i||^2) per rating. train_sparse
 * trains q_i, b_i, mu of the items the client rated (sparse update) and the client's own p_u,
 * b_u (written back to update->personal). predict writes one predicted rating per row. */
fs_model *fs_mf_new(size_t n_items, size_t k, double l2, size_t max_batch);

/* Hit rate @ top_k (He et al. 2017's leave-out protocol): for every test rating >= 4 of a
 * client, the item is ranked by predicted score among n_negatives items the client rated neither
 * in train nor test, drawn from stream (seed, DATA, client, 2); a hit when fewer than top_k
 * negatives score higher. Mean over those test ratings; NaN when there are none (or when out of
 * memory). Clients are ranked on n_threads threads; the result does not depend on how many. */
double fs_mf_hit_rate(const fs_model *m, const fs_real *w, const fs_dataset *train,
                      const fs_partition *train_part, const fs_dataset *test,
                      const fs_partition *test_part, size_t top_k, size_t n_negatives,
                      uint64_t seed, int n_threads);

/* Points a model with personal parameters at the caller's table (see fs_model). */
void fs_model_set_personal(fs_model *m, const fs_real *table, int user_group);

void fs_model_free(fs_model *m); /* NULL is a no-op */

/* Update storage for a model: dense (n_params) unless sparse, plus n_personal private values
 * when n_personal > 0; FS_ENOMEM. */
int fs_update_init(fs_update *u, size_t n_params, bool sparse, size_t n_personal);
void fs_update_fini(fs_update *u);
/* Grows idx and val together to at least need entries (contents kept, nnz untouched); FS_ENOMEM
 * keeps whichever array grew, and cap still tells the smaller size. */
int fs_update_reserve(fs_update *u, size_t need);
/* L2 norm of n values: squares summed in double in 8 lanes of fixed order (lane j takes
 * i = j mod 8, then the lanes in turn, then the tail), so it vectorises and the value depends on
 * n and v alone. A serial sum was a dependent add per coordinate: 4% of a softmax run's CPU, a
 * tenth of the shipped ctr_regions engine's. */
double fs_vec_norm(const fs_real *v, size_t n);
/* fs_vec_norm of the update's values (dense: n_params, sparse: its nnz). */
double fs_update_norm(const fs_update *u);

/* Scratch for one thread; free with fs_model_scratch_free. NULL when out of memory. Holds
 * scratch_reals fs_real entries for the ops and max_batch * n_classes doubles (probs) for
 * fs_model_evaluate, so build scratch with this function rather than by hand. */
fs_model_scratch *fs_model_scratch_new(const fs_model *m);
void fs_model_scratch_free(fs_model_scratch *s);

/* Makes s->work_idx and s->work_val hold at least `need` entries each. Their content is not
 * kept: a workspace is laid out afresh for each client. FS_ENOMEM leaves both empty. */
int fs_model_scratch_reserve(fs_model_scratch *s, size_t need);

/* Minibatch SGD on one client's rows, in place on w. Each epoch shuffles the rows with `r`
 * and takes ceil(n/batch) steps (last batch smaller). Optional, for federated algorithms:
 *  - FedProx (Li et al. 2020): with prox_mu > 0 every gradient gets + prox_mu (w - anchor), the
 *    gradient of the proximal term prox_mu/2 ||w - anchor||^2 (anchor = the global model);
 *  - SCAFFOLD (Karimireddy et al. 2020): with correction != NULL every step uses
 *    grad + correction (= c - c_i, the control-variate difference);
 *  - partial work: max_steps > 0 stops after that many steps (a straggler's budget). */
struct fs_sgd_cfg {
    int epochs;
    size_t batch_size;
    double lr;
    double prox_mu;
    const fs_real *anchor;      /* n_params, needed when prox_mu > 0 */
    const fs_real *correction;  /* n_params or NULL */
    size_t max_steps;          /* 0 = no limit */
};

struct fs_sgd_result {
    size_t steps;
    double mean_loss; /* mean of minibatch losses, weighted by batch size */
};

/* `order` is caller scratch of n entries (the shuffled row list). Returns FS_ENUMERIC if the loss
 * becomes non-finite. */
int fs_sgd_train(const fs_model *m, fs_real *w, const fs_dataset *ds, const uint32_t *rows, size_t n,
                 const fs_sgd_cfg *cfg, gsl_rng *r, uint32_t *order, fs_real *grad,
                 fs_model_scratch *s, fs_sgd_result *out);

/* Mean cross-entropy (each probability clamped at 1e-15) and accuracy of w on rows[0..n) of ds
 * (all ds->n rows when rows is NULL; n is then ignored), evaluated in chunks of max_batch.
 * FS_ENUMERIC if the loss is not finite. */
typedef struct fs_eval_result {
    double loss;
    double accuracy;
    size_t n;
} fs_eval_result;

int fs_model_evaluate(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                      const uint32_t *rows, size_t n, fs_model_scratch *s, fs_eval_result *out);

#endif
