/* fs_logreg: binary logistic regression, the "logreg" model ops, on dense or sparse (CSR) rows.
 * Parameters: w (n_features) then b; p = sigmoid(w.x + b); loss = mean log loss + l2/2 ||w||^2
 * (b is not penalised). flops_per_sample is the dense cost 2 * n_features: the model never sees
 * the data, so whoever pairs it with sparse data should overwrite the field with
 * 2 * (mean non-zeros per row + 1), or simulated compute time is n_features / nnz too large.
 * train_sparse runs fs_sgd_train's minibatches and arithmetic on local copies of only the
 * client's features, in time and memory O(client non-zeros), in a workspace of about 4 nnz + 2 n
 * entries (the thread's scratch, or out's idx/val without one; never O(n_features)); the update
 * holds the touched features only. With l2 > 0 the penalty is lazy: the
 * client's features decay every step as in dense SGD (caught up by decay^gap when next touched),
 * the other weights are not decayed and are absent from the update, and mean_loss penalises the
 * client's features only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"
#include "fs_sparse_local.h"

#define LR_PENDING UINT32_C(0x80000000) /* stamp bit: slot caught up, its step not yet applied */
#define LR_POW_TABLE 64           /* decay^gap from a table below this gap, pow() above */

typedef struct lr_model {
    fs_model base; /* first, so an fs_model * is an lr_model * */
    double l2;
} lr_model;

static double lr_l2(const fs_model *m)
{
    return ((const lr_model *)m)->l2;
}

/* One row as (idx, val, len). A dense row has idx NULL: its entry e is feature e, zeros kept, so
 * dense and sparse storage of the same data give the same sums. */
typedef struct lr_row {
    const uint32_t *idx;
    const float *val;
    size_t len;
} lr_row;

static lr_row lr_row_at(const fs_dataset *ds, uint32_t r)
{
    if (!fs_dataset_is_sparse(ds)) return (lr_row){NULL, ds->x + (size_t)r * ds->d, ds->d};
    size_t a = ds->ptr[r];
    return (lr_row){ds->idx + a, ds->val + a, ds->ptr[r + 1] - a};
}

static double lr_dot(const fs_real *w, lr_row x)
{
    double acc = 0;
    if (x.idx)
        for (size_t e = 0; e < x.len; e++) acc += w[x.idx[e]] * x.val[e];
    else
        for (size_t e = 0; e < x.len; e++) acc += w[e] * x.val[e];
    return acc;
}

static void lr_axpy(double c, lr_row x, fs_real *g)
{
    if (x.idx)
        for (size_t e = 0; e < x.len; e++) g[x.idx[e]] += c * x.val[e];
    else
        for (size_t e = 0; e < x.len; e++) g[e] += c * x.val[e];
}

/* -log p(y | z) = softplus(z) - y z = max(s, 0) + log1p(exp(-|z|)) with s = z (y = 0) or -z
 * (y = 1): exact for any |z|, where log(sigmoid(z)) would round to log(0) past |z| ~ 745. Sets
 * *out_scale = dL/dz / n, the factor of x in the row's share of the mean gradient. */
static double lr_row_eval(double z, int32_t y, double inv_n, double *out_scale)
{
    fs_assert(y == 0 || y == 1);
    double e = exp(-fabs(z)), p = fs_nn_sigmoid_exp(z, e); /* one exponential for both */
    *out_scale = (p - (double)y) * inv_n;
    double s = y ? -z : z;
    return (s > 0 ? s : 0) + log1p(e);
}

static void lr_check(const fs_model *m, const fs_dataset *ds, size_t n)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features);
    fs_assert(!ds->x8); /* lr_row_at reads x: compact rows are expanded first (reads_u8) */
}

/* Zeros: deterministic, and the usual start for a convex model (loss = log 2). */
static void lr_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    memset(w, 0, m->n_params * sizeof *w);
}

static double lr_penalty(double l2, const fs_real *w, size_t d)
{
    if (!(l2 > 0)) return 0;
    double sq = 0;
    for (size_t j = 0; j < d; j++) sq += w[j] * w[j];
    return 0.5 * l2 * sq;
}

/* grad_w starts at l2 * w and each row adds (p - y) / n * x, in row order; train_sparse repeats
 * these exact steps so the two paths agree. */
static double lr_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    lr_check(m, ds, n);
    fs_assert(ds->y || n == 0);
    size_t d = m->n_features;
    double l2 = lr_l2(m), loss = 0, gb = 0, inv_n = n ? 1.0 / (double)n : 0;
    for (size_t j = 0; j < d; j++) grad[j] = l2 * w[j];
    for (size_t i = 0; i < n; i++) {
        lr_row x = lr_row_at(ds, rows[i]);
        double c;
        loss += lr_row_eval(lr_dot(w, x) + w[d], ds->y[rows[i]], inv_n, &c);
        lr_axpy(c, x, grad);
        gb += c;
    }
    grad[d] = gb;
    return loss * inv_n + lr_penalty(l2, w, d);
}

/* Both columns from sigmoid(+-z) rather than 1 - p: a tiny probability keeps its relative
 * precision, which the log loss of fs_model_evaluate needs. */
static void lr_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, double *out_probs, fs_model_scratch *s)
{
    lr_check(m, ds, n);
    for (size_t i = 0; i < n; i++) {
        double z = lr_dot(w, lr_row_at(ds, rows[i])) + w[m->n_features];
        double e = exp(-fabs(z)); /* both columns' exponential: half the calls to exp */
        out_probs[2 * i] = fs_nn_sigmoid_exp(-z, e);
        out_probs[2 * i + 1] = fs_nn_sigmoid_exp(z, e);
    }
}

/* ---- train_sparse: one client's SGD on local copies of its features only ---- */

/* Local state of one client. Every array is a view into a workspace: the thread's scratch
 * (fs_model_scratch_reserve), or out->idx / out->val without one. Its idx holds feat (nnz + 1),
 * slot (nnz), start (n + 1), order (n), then 2 nnz of radix-sort buffers that are reused for
 * stamp once the index is built; its val holds w (nnz + 1) then g (nnz). The update is the
 * first n_local + 1 entries of feat and w. */
typedef struct lr_local {
    const fs_dataset *ds;
    const uint32_t *rows;
    size_t n, nnz, n_local;
    uint32_t *feat;           /* n_local distinct features ascending: becomes out->idx */
    uint32_t *slot;           /* nnz: local slot of each entry, the client's rows concatenated */
    uint32_t *start;          /* n + 1: each client row's first entry in slot */
    uint32_t *order;          /* n: local row ids, shuffled every epoch */
    uint32_t *sort_a, *sort_b;
    uint32_t *stamp;          /* n_local: step at which w[s] is current, | LR_PENDING */
    fs_real *w, *g;            /* n_local: local weights (become out->val) and gradient */
    double wb, gb;            /* the bias and its gradient */
    double l2, lr, decay;     /* decay = 1 - lr * l2: one step of penalty alone */
    double sumsq;             /* sum of w^2 over the client's features at step t */
    double decay_pow[LR_POW_TABLE]; /* decay^k by repeated products, as dense steps compound */
    uint32_t t;               /* steps applied */
} lr_local;

static size_t lr_client_nnz(const fs_dataset *ds, const uint32_t *rows, size_t n)
{
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) nnz += lr_row_at(ds, rows[i]).len;
    return nnz;
}

/* Row offsets into start, and each entry's feature into slot (replaced by its slot later). */
static void lr_gather_keys(lr_local *lc)
{
    size_t at = 0;
    for (size_t i = 0; i < lc->n; i++) {
        lr_row x = lr_row_at(lc->ds, lc->rows[i]);
        lc->start[i] = (uint32_t)at;
        for (size_t e = 0; e < x.len; e++) lc->slot[at + e] = x.idx ? x.idx[e] : (uint32_t)e;
        at += x.len;
    }
    lc->start[lc->n] = (uint32_t)at;
}

/* The client's workspace of `need` entries: the thread's own when it has scratch, which a
 * million-client fleet reuses for every client of the thread (per-update workspaces grew each
 * of thousands of updates to the largest client they met, page by fresh page). */
static int lr_workspace(fs_model_scratch *s, fs_update *out, size_t need, uint32_t **idx,
                        fs_real **val)
{
    int rc = s ? fs_model_scratch_reserve(s, need) : fs_update_reserve(out, need);
    *idx = s ? s->work_idx : out->idx;
    *val = s ? s->work_val : out->val;
    return rc;
}

/* The index's scratch costs about 1.5 bits a feature per thread: 48 KiB for CTR's 2^18 hashed
 * features, 48 MiB at most. */
#define LR_INDEX_MAX_FEATURES ((size_t)1 << 28)

/* Lays the workspace out and builds the client's local feature index: equal features one slot,
 * slots in feature order. Through the thread's bitmap when there is scratch (no sort:
 * fs_sparse_local_index), else by radix-sorting every entry (many entries over a hashed 2^18
 * space). */
static int lr_local_build(lr_local *lc, size_t n_features, fs_model_scratch *s, fs_update *out)
{
    size_t n = lc->n, nnz = lr_client_nnz(lc->ds, lc->rows, n);
    /* offsets and slots are uint32 */
    fs_assert(n < UINT32_MAX / 4 && nnz < (UINT32_MAX - 2 * n - 2) / 4);
    uint32_t *idx;
    fs_real *val;
    int rc = lr_workspace(s, out, 4 * nnz + 2 * n + 2, &idx, &val);
    if (rc) return rc;
    lc->nnz = nnz;
    lc->feat = idx;
    lc->slot = lc->feat + nnz + 1;
    lc->start = lc->slot + nnz;
    lc->order = lc->start + n + 1;
    lc->sort_a = lc->order + n;
    lc->sort_b = lc->sort_a + nnz;
    lc->w = val;
    lc->g = lc->w + nnz + 1;
    lr_gather_keys(lc);
    if (s && n_features <= LR_INDEX_MAX_FEATURES &&
        fs_sparse_local_reserve(s, n_features) == FS_OK) {
        lc->n_local = fs_sparse_local_index(lc->slot, nnz, n_features, s->key_first,
                                            s->key_bits, lc->feat);
    } else { /* no thread scratch, or no memory for its bitmap: sort every entry */
        const uint32_t *sorted =
            fs_sparse_local_radix_sort(lc->slot, nnz, n_features, lc->sort_a, lc->sort_b);
        lc->n_local = fs_sparse_local_assign_slots(lc->slot, sorted, nnz, lc->feat);
    }
    lc->stamp = lc->sort_a; /* the sort buffers are free from here on */
    return FS_OK;
}

static void lr_local_load(lr_local *lc, const fs_real *w_global, size_t n_features)
{
    lc->sumsq = 0;
    for (size_t s = 0; s < lc->n_local; s++) {
        lc->w[s] = w_global[lc->feat[s]];
        lc->g[s] = 0;
        lc->stamp[s] = 0;
        lc->sumsq += lc->w[s] * lc->w[s];
    }
    lc->wb = w_global[n_features];
    lc->t = 0;
    lc->decay_pow[0] = 1;
    for (size_t k = 1; k < LR_POW_TABLE; k++) lc->decay_pow[k] = lc->decay_pow[k - 1] * lc->decay;
}

/* Between stamp[s] and t, w[s]'s feature was in no batch, so each dense step did only
 * w -= lr * l2 * w; one multiplication by decay^gap does them all (equal up to rounding). Gaps
 * are mostly short, and the table spares a pow() per slot per step (half the time at l2 > 0). */
static void lr_catch_up(lr_local *lc, uint32_t s)
{
    uint32_t gap = lc->t - lc->stamp[s];
    if (gap && lc->l2 > 0)
        lc->w[s] *= gap < LR_POW_TABLE ? lc->decay_pow[gap] : pow(lc->decay, (double)gap);
    lc->stamp[s] = lc->t;
}

/* Brings each slot of the batch to step t, once, marks it pending and starts its gradient at
 * l2 * w as lr_loss_grad does. Returns the sum of their squares before the step when with_sq
 * (only a penalty needs it: lr_step). */
static inline __attribute__((always_inline)) double lr_step_begin(lr_local *lc,
                                                                  const uint32_t *batch, size_t k,
                                                                  bool with_sq)
{
    double sq = 0;
    for (size_t i = 0; i < k; i++)
        for (uint32_t e = lc->start[batch[i]]; e < lc->start[batch[i] + 1]; e++) {
            uint32_t s = lc->slot[e];
            if (lc->stamp[s] & LR_PENDING) continue;
            lr_catch_up(lc, s);
            lc->g[s] = lc->l2 * lc->w[s];
            lc->stamp[s] |= LR_PENDING;
            if (with_sq) sq += lc->w[s] * lc->w[s];
        }
    return sq;
}

/* The batch's mean data loss; accumulates its gradient into g and gb (lr_loss_grad's order). */
static double lr_step_data(lr_local *lc, const uint32_t *batch, size_t k)
{
    double loss = 0, inv_k = 1.0 / (double)k;
    lc->gb = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t row = lc->rows[batch[i]];
        lr_row x = lr_row_at(lc->ds, row);
        const uint32_t *sl = lc->slot + lc->start[batch[i]];
        double acc = 0, c;
        for (size_t e = 0; e < x.len; e++) acc += lc->w[sl[e]] * x.val[e];
        loss += lr_row_eval(acc + lc->wb, lc->ds->y[row], inv_k, &c);
        for (size_t e = 0; e < x.len; e++) lc->g[sl[e]] += c * x.val[e];
        lc->gb += c;
    }
    return loss * inv_k;
}

/* w -= lr * g on each pending slot once (as fs_sgd_train's axpy); returns their new sum of
 * squares when with_sq. */
static inline __attribute__((always_inline)) double lr_step_apply(lr_local *lc,
                                                                  const uint32_t *batch, size_t k,
                                                                  bool with_sq)
{
    fs_assert(lc->t + 1 < LR_PENDING);
    double sq = 0;
    for (size_t i = 0; i < k; i++)
        for (uint32_t e = lc->start[batch[i]]; e < lc->start[batch[i] + 1]; e++) {
            uint32_t s = lc->slot[e];
            if (!(lc->stamp[s] & LR_PENDING)) continue;
            lc->w[s] += -lc->lr * lc->g[s];
            lc->stamp[s] = lc->t + 1;
            if (with_sq) sq += lc->w[s] * lc->w[s];
        }
    lc->wb += -lc->lr * lc->gb;
    lc->t++;
    return sq;
}

/* One minibatch step (an fs_sparse_local_step_fn). Returns the loss lr_loss_grad would report
 * (penalty over the client's features) and, like fs_sgd_train, applies the step only when that
 * loss is finite. */
static inline __attribute__((always_inline)) double lr_step_l2(lr_local *lc,
                                                               const uint32_t *batch, size_t k,
                                                               bool l2)
{
    double old_sq = lr_step_begin(lc, batch, k, l2);
    double loss = lr_step_data(lc, batch, k);
    if (l2) loss += 0.5 * lc->l2 * lc->sumsq;
    if (!isfinite(loss)) return loss;
    double new_sq = lr_step_apply(lc, batch, k, l2);
    /* Slots outside the batch each shrank by decay; the batch's were replaced. */
    if (l2) lc->sumsq = lc->decay * lc->decay * (lc->sumsq - old_sq) + new_sq;
    return loss;
}

/* Without a penalty nothing decays, so no slot needs catching up, stamping or marking: g starts
 * every step at 0 (lr_local_load's, then each apply's reset), and each entry of the batch applies
 * its slot's step and clears it; an entry whose slot another entry already applied adds
 * -lr * 0, which leaves w as it was. No branch a predictor must guess (CTR's l2 = 0). */
static double lr_step_plain(lr_local *lc, const uint32_t *batch, size_t k)
{
    double loss = lr_step_data(lc, batch, k);
    if (!isfinite(loss)) return loss;
    for (size_t i = 0; i < k; i++)
        for (uint32_t e = lc->start[batch[i]]; e < lc->start[batch[i] + 1]; e++) {
            uint32_t s = lc->slot[e];
            lc->w[s] += -lc->lr * lc->g[s];
            lc->g[s] = 0;
        }
    lc->wb += -lc->lr * lc->gb;
    lc->t++;
    return loss;
}

static double lr_step(void *ctx, const uint32_t *batch, size_t k)
{
    lr_local *lc = ctx;
    return lc->l2 > 0 ? lr_step_l2(lc, batch, k, true) : lr_step_plain(lc, batch, k);
}

/* Catches every slot up to the last step and turns w into deltas in place; the bias goes last,
 * at index n_features, so idx stays ascending. feat and w become out's idx and val (copied when
 * the workspace is the thread's). */
static int lr_local_store(lr_local *lc, const fs_real *w_global, size_t n_features,
                          fs_update *out)
{
    size_t nl = lc->n_local;
    for (size_t s = 0; s < nl; s++) {
        lc->stamp[s] &= ~LR_PENDING; /* left by a diverged step: already current at t */
        lr_catch_up(lc, (uint32_t)s);
        lc->w[s] -= w_global[lc->feat[s]];
    }
    lc->feat[nl] = (uint32_t)n_features;
    lc->w[nl] = lc->wb - w_global[n_features];
    if (lc->feat != out->idx) {
        if (fs_update_reserve(out, nl + 1)) return FS_ENOMEM;
        memcpy(out->idx, lc->feat, (nl + 1) * sizeof *out->idx);
        memcpy(out->val, lc->w, (nl + 1) * sizeof *out->val);
    }
    out->nnz = nl + 1;
    out->n_params = n_features + 1;
    out->sparse = true;
    return FS_OK;
}

/* On FS_ENUMERIC out still holds the delta of the last finite parameters (fs_sgd_train's
 * contract); on FS_ENOMEM out is left empty. Dense data work too: every feature is then touched,
 * so the update is dense in all but form. */
static int lr_train_sparse(const fs_model *m, const fs_real *w_global, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, const fs_sgd_cfg *cfg, gsl_rng *r,
                           fs_model_scratch *s, fs_update *out, fs_sgd_result *res)
{
    lr_check(m, ds, 0);
    fs_assert(ds->y);
    fs_assert(cfg->batch_size >= 1 && cfg->batch_size <= m->max_batch);
    *res = (fs_sgd_result){0};
    out->nnz = 0;
    double l2 = lr_l2(m);
    lr_local lc = {.ds = ds, .rows = rows, .n = n, .l2 = l2, .lr = cfg->lr,
                   .decay = 1.0 - cfg->lr * l2};
    int rc = lr_local_build(&lc, m->n_features, s, out);
    if (rc) return rc;
    lr_local_load(&lc, w_global, m->n_features);
    rc = fs_sparse_local_train(n, lc.order, cfg, r, lr_step, &lc, res);
    int rc_store = lr_local_store(&lc, w_global, m->n_features, out);
    return rc_store ? rc_store : rc;
}

static void lr_free(fs_model *m)
{
    free(m);
}

static const fs_model_ops lr_ops = {
    .name = "logreg",
    .init = lr_init,
    .loss_grad = lr_loss_grad,
    .predict = lr_predict,
    .free = lr_free,
    .train_sparse = lr_train_sparse,
};

fs_model *fs_logreg_new(size_t n_features, double l2, size_t max_batch)
{
    fs_assert(n_features >= 1 && max_batch >= 1 && l2 >= 0 && isfinite(l2));
    /* The bias index n_features must fit a sparse update's uint32 idx. */
    if (n_features >= UINT32_MAX) return NULL;
    lr_model *lm = calloc(1, sizeof *lm);
    if (!lm) return NULL;
    fs_model *m = &lm->base;
    m->ops = &lr_ops;
    m->n_features = n_features;
    m->n_classes = 2;
    m->n_params = n_features + 1;
    m->max_batch = max_batch;
    m->flops_per_sample = 2.0 * (double)n_features;
    m->scratch_reals = 0; /* row by row: nothing to stage */
    m->impl = lm;
    lm->l2 = l2;
    return m;
}
