/* fs_mf: biased matrix factorization for explicit ratings, the "mf" model ops (Koren, Bell &
 * Volinsky 2009, eq. 4-5), federated as in Ammad-ud-din et al. 2019: item factors and biases and
 * the global mean are aggregated, each user's p_u and b_u stay on the device. The L2 penalty is
 * per rating, as in Koren's SGD, so only the items in a minibatch are regularised: train_sparse
 * needs no lazy decay and equals dense SGD on the federated parameters exactly. Every row holds
 * one non-zero, its item (the value is ignored: rows are one-hot). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_rng.h"
#include "fs_sparse_local.h"

/* Factor initialisation: small, so p.q starts near 0, but not 0, a saddle where neither factor
 * gets a gradient. */
#define MF_INIT_SD 0.1
/* The middle of the 1..5 scale: a data-free prior for the global mean. */
#define MF_INIT_MU 3.0
/* Round argument of the hit-rate negatives stream (fs_model.h). */
#define MF_HR_ROUND 2
#define MF_SET_EMPTY UINT32_MAX

typedef struct mf_model {
    fs_model base; /* first, so an fs_model * is an mf_model * */
    size_t n_items, k;
    double l2;
    fs_real *zero; /* k + 1 zeros: the personal vector of a row whose user is unknown */
} mf_model;

static const mf_model *mf_of(const fs_model *m)
{
    return (const mf_model *)m;
}

/* ---- shared arithmetic: loss_grad, predict and train_sparse use these, so they agree ---- */

/* mu + b_u + b_i + p_u . q_i; p holds p_u then b_u. */
static double mf_pred(double mu, double b_i, const fs_real *q, const fs_real *p, size_t k)
{
    double dot = 0;
    for (size_t j = 0; j < k; j++)
        dot += p[j] * q[j];
    return mu + p[k] + b_i + dot;
}

/* (pred - r)^2 / 2 + l2/2 (||p_u||^2 + ||q_i||^2): one rating's share of the loss. */
static double mf_row_loss(double e, const fs_real *q, const fs_real *p, size_t k, double l2)
{
    double sq = 0;
    for (size_t j = 0; j < k; j++)
        sq += p[j] * p[j] + q[j] * q[j];
    return 0.5 * e * e + 0.5 * l2 * sq;
}

/* Adds one rating's share of the mean gradient: c = e / n, cl = l2 / n. gq gets q_i's k entries
 * then b_i's at gq_b; gp (p_u then b_u) may be NULL when personal gradients are not wanted. */
static void mf_row_grad(double c, double cl, const fs_real *q, const fs_real *p, size_t k, fs_real *gq,
                        fs_real *gq_b, fs_real *gp)
{
    for (size_t j = 0; j < k; j++)
        gq[j] += c * p[j] + cl * q[j];
    *gq_b += c;
    if (!gp) return;
    for (size_t j = 0; j < k; j++)
        gp[j] += c * q[j] + cl * p[j];
    gp[k] += c;
}

static uint32_t mf_item(const fs_dataset *ds, uint32_t row)
{
    fs_assert(ds->ptr[row + 1] - ds->ptr[row] == 1);
    return ds->idx[ds->ptr[row]];
}

/* The personal vector of a row's user from the caller's table; zeros when the model has no table
 * or no user column, so a model without personal state predicts from item terms alone. */
static const fs_real *mf_personal_of(const fs_model *m, const fs_dataset *ds, uint32_t row)
{
    if (!m->personal_table || m->user_group < 0) return mf_of(m)->zero;
    return m->personal_table + (size_t)ds->groups[m->user_group].level[row] * m->n_personal;
}

static void mf_check(const fs_model *m, const fs_dataset *ds, size_t n)
{
    fs_assert(n <= m->max_batch);
    fs_assert(ds->d == m->n_features && fs_dataset_is_sparse(ds) && ds->target);
    fs_assert(m->user_group < 0 || !m->personal_table || (size_t)m->user_group < ds->n_groups);
}

/* ---- ops on the dense parameter vector ---- */

static void mf_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    const mf_model *mf = mf_of(m);
    size_t nq = mf->n_items * mf->k;
    for (size_t i = 0; i < nq; i++)
        w[i] = gsl_ran_gaussian(r, MF_INIT_SD);
    memset(w + nq, 0, mf->n_items * sizeof *w);
    w[nq + mf->n_items] = MF_INIT_MU;
}

/* Same distribution as the item factors (symmetric roles in p.q); the user bias starts at 0. */
static void mf_init_personal(const fs_model *m, fs_real *personal, gsl_rng *r)
{
    size_t k = mf_of(m)->k;
    for (size_t j = 0; j < k; j++)
        personal[j] = gsl_ran_gaussian(r, MF_INIT_SD);
    personal[k] = 0;
}

/* Gradient with respect to the federated parameters only: the personal vectors are read from the
 * table as constants (train_sparse alone trains them). */
static double mf_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    mf_check(m, ds, n);
    const mf_model *mf = mf_of(m);
    size_t k = mf->k, nq = mf->n_items * k, mu_at = nq + mf->n_items;
    double l2 = mf->l2, loss = 0, inv_n = n ? 1.0 / (double)n : 0, cl = l2 * inv_n;
    memset(grad, 0, m->n_params * sizeof *grad);
    for (size_t i = 0; i < n; i++) {
        uint32_t item = mf_item(ds, rows[i]);
        const fs_real *q = w + (size_t)item * k, *p = mf_personal_of(m, ds, rows[i]);
        double e = mf_pred(w[mu_at], w[nq + item], q, p, k) - ds->target[rows[i]];
        loss += mf_row_loss(e, q, p, k, l2);
        mf_row_grad(e * inv_n, cl, q, p, k, grad + (size_t)item * k, grad + nq + item, NULL);
        grad[mu_at] += e * inv_n;
    }
    return loss * inv_n;
}

/* One predicted rating per row (n_classes = 0: one column), unclamped. */
static void mf_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, double *out, fs_model_scratch *s)
{
    mf_check(m, ds, n);
    const mf_model *mf = mf_of(m);
    size_t k = mf->k, nq = mf->n_items * k, mu_at = nq + mf->n_items;
    for (size_t i = 0; i < n; i++) {
        uint32_t item = mf_item(ds, rows[i]);
        out[i] = mf_pred(w[mu_at], w[nq + item], w + (size_t)item * k,
                         mf_personal_of(m, ds, rows[i]), k);
    }
}

/* ---- train_sparse: one client's SGD on local copies of the items it rated ---- */

/* Local state of one client, all of it inside out's arrays. idx: the output region (n (k + 1) + 1
 * at most), then slot (n), order (n), two merge-sort buffers (n each) and feat (n). val: the local
 * values laid out as the update will be (q rows of the n_local items, their b_i, mu), then their
 * gradients in the same layout, then the personal gradient (k + 1). Gradients are zero between
 * steps, which lets a step apply each slot's gradient once however often the batch repeats it. */
typedef struct mf_local {
    const fs_dataset *ds;
    const uint32_t *rows;
    size_t n, k, n_local, n_out;
    uint32_t *slot;  /* n: local slot of each client row (its item's rank among the client's) */
    uint32_t *order; /* n: local row ids, shuffled every epoch */
    uint32_t *sort_a, *sort_b;
    uint32_t *feat; /* n_local: the client's distinct items ascending */
    fs_real *v, *g;  /* n_out each: values and gradients; q at s k, b_i at n_local k + s, mu last */
    fs_real *p, *gp; /* k + 1: personal vector (out->personal, trained in place) and gradient */
    double l2, lr;
} mf_local;

/* Lays the workspace out in out's arrays and builds the client's local item index: rows
 * merge-sorted by item (O(n log n) whatever the catalogue size), equal items one slot. */
static int mf_local_build(mf_local *lc, fs_update *out)
{
    size_t n = lc->n, k = lc->k, out_max = n * (k + 1) + 1;
    fs_assert(n < UINT32_MAX);
    size_t need_idx = out_max + 5 * n, need_val = 2 * out_max + k + 1;
    int rc = fs_update_reserve(out, need_idx > need_val ? need_idx : need_val);
    if (rc) return rc;
    lc->slot = out->idx + out_max;
    lc->order = lc->slot + n;
    lc->sort_a = lc->order + n;
    lc->sort_b = lc->sort_a + n;
    lc->feat = lc->sort_b + n;
    for (size_t i = 0; i < n; i++)
        lc->slot[i] = mf_item(lc->ds, lc->rows[i]);
    const uint32_t *sorted = fs_sparse_local_merge_sort(lc->slot, n, lc->sort_a, lc->sort_b);
    lc->n_local = fs_sparse_local_assign_slots(lc->slot, sorted, n, lc->feat);
    lc->n_out = lc->n_local * (k + 1) + 1;
    lc->v = out->val;
    lc->g = lc->v + lc->n_out;
    lc->gp = lc->g + lc->n_out;
    return FS_OK;
}

static void mf_local_load(mf_local *lc, const fs_real *w_global, size_t n_items)
{
    size_t k = lc->k, nl = lc->n_local, nq = n_items * k;
    for (size_t s = 0; s < nl; s++) {
        memcpy(lc->v + s * k, w_global + (size_t)lc->feat[s] * k, k * sizeof *lc->v);
        lc->v[nl * k + s] = w_global[nq + lc->feat[s]];
    }
    lc->v[lc->n_out - 1] = w_global[nq + n_items];
    memset(lc->g, 0, (lc->n_out + k + 1) * sizeof *lc->g); /* g and gp are contiguous */
}

/* The batch's mean loss; accumulates its gradients (mf_loss_grad's order and arithmetic). */
static double mf_step_data(mf_local *lc, const uint32_t *batch, size_t b)
{
    size_t k = lc->k, bi_at = lc->n_local * k, mu_at = lc->n_out - 1;
    double loss = 0, inv_b = 1.0 / (double)b, cl = lc->l2 * inv_b;
    for (size_t i = 0; i < b; i++) {
        uint32_t s = lc->slot[batch[i]], row = lc->rows[batch[i]];
        const fs_real *q = lc->v + (size_t)s * k;
        double e = mf_pred(lc->v[mu_at], lc->v[bi_at + s], q, lc->p, k) - lc->ds->target[row];
        loss += mf_row_loss(e, q, lc->p, k, lc->l2);
        mf_row_grad(e * inv_b, cl, q, lc->p, k, lc->g + (size_t)s * k, lc->g + bi_at + s, lc->gp);
        lc->g[mu_at] += e * inv_b;
    }
    return loss * inv_b;
}

/* x -= lr * g, and g := 0 so a slot the batch repeats is stepped once. */
static void mf_apply(double lr, fs_real *x, fs_real *g, size_t len)
{
    for (size_t j = 0; j < len; j++) {
        x[j] += -lr * g[j];
        g[j] = 0;
    }
}

static void mf_step_apply(mf_local *lc, const uint32_t *batch, size_t b)
{
    size_t k = lc->k, bi_at = lc->n_local * k, mu_at = lc->n_out - 1;
    for (size_t i = 0; i < b; i++) {
        size_t s = lc->slot[batch[i]];
        mf_apply(lc->lr, lc->v + s * k, lc->g + s * k, k);
        mf_apply(lc->lr, lc->v + bi_at + s, lc->g + bi_at + s, 1);
    }
    mf_apply(lc->lr, lc->v + mu_at, lc->g + mu_at, 1);
    mf_apply(lc->lr, lc->p, lc->gp, k + 1);
}

/* One minibatch step (an fs_sparse_local_step_fn), applied only when its loss is finite. */
static double mf_step(void *ctx, const uint32_t *batch, size_t b)
{
    mf_local *lc = ctx;
    double loss = mf_step_data(lc, batch, b);
    if (isfinite(loss)) mf_step_apply(lc, batch, b);
    return loss;
}

/* Turns the local values into deltas in place and writes their indices: q rows (item k + j), then
 * b_i (n_items k + item), then mu, which is ascending because feat is. */
static void mf_local_store(mf_local *lc, const fs_real *w_global, size_t n_items, fs_update *out)
{
    size_t k = lc->k, nl = lc->n_local, nq = n_items * k;
    for (size_t s = 0; s < nl; s++) {
        size_t base = (size_t)lc->feat[s] * k;
        for (size_t j = 0; j < k; j++) {
            out->idx[s * k + j] = (uint32_t)(base + j);
            lc->v[s * k + j] -= w_global[base + j];
        }
        out->idx[nl * k + s] = (uint32_t)(nq + lc->feat[s]);
        lc->v[nl * k + s] -= w_global[nq + lc->feat[s]];
    }
    out->idx[lc->n_out - 1] = (uint32_t)(nq + n_items);
    lc->v[lc->n_out - 1] -= w_global[nq + n_items];
    out->nnz = lc->n_out;
}

/* All rows are the client's own: its personal vector comes from out->personal (the table is not
 * read) and is trained in place. On FS_ENUMERIC out and out->personal hold the last finite
 * parameters (fs_sgd_train's contract); on FS_ENOMEM out is empty and personal untouched. */
static int mf_train_sparse(const fs_model *m, const fs_real *w_global, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, const fs_sgd_cfg *cfg, gsl_rng *r,
                           fs_model_scratch *s, fs_update *out, fs_sgd_result *res)
{
    mf_check(m, ds, 0);
    fs_assert(cfg->batch_size >= 1 && cfg->batch_size <= m->max_batch);
    fs_assert(out->personal);
    const mf_model *mf = mf_of(m);
    *res = (fs_sgd_result){0};
    out->nnz = 0;
    out->n_params = m->n_params;
    out->sparse = true;
    mf_local lc = {.ds = ds,
                   .rows = rows,
                   .n = n,
                   .k = mf->k,
                   .p = out->personal,
                   .l2 = mf->l2,
                   .lr = cfg->lr};
    int rc = mf_local_build(&lc, out);
    if (rc) return rc;
    mf_local_load(&lc, w_global, mf->n_items);
    rc = fs_sparse_local_train(n, lc.order, cfg, r, mf_step, &lc, res);
    mf_local_store(&lc, w_global, mf->n_items, out);
    return rc;
}

/* ---- hit rate ---- */

/* A small open-addressing set of item ids (Fibonacci hashing). */
typedef struct mf_set {
    uint32_t *slot;
    size_t mask;
} mf_set;

static bool mf_set_add(mf_set *st, uint32_t item)
{
    size_t h = (size_t)((item * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & st->mask;
    for (; st->slot[h] != MF_SET_EMPTY; h = (h + 1) & st->mask)
        if (st->slot[h] == item) return false;
    st->slot[h] = item;
    return true;
}

/* Empties the set, sized for n items at a load of at most one half: a client's clearing costs
 * its own size, not the largest client's. */
static void mf_set_clear(mf_set *st, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    st->mask = cap - 1;
    memset(st->slot, 0xff, cap * sizeof *st->slot); /* MF_SET_EMPTY everywhere */
}

/* One hit-rate evaluation: its inputs, buffers sized for the client with most ratings, and the
 * running totals. */
typedef struct mf_hr {
    const fs_model *m;
    const fs_real *w;
    const fs_dataset *train, *test;
    const fs_partition *train_part, *test_part;
    size_t top_k, n_negatives;
    uint64_t seed;
    gsl_rng *r;
    mf_set set;
    uint32_t *neg;
    double *neg_score;
    size_t hits, positives;
} mf_hr;

static int mf_hr_alloc(mf_hr *h)
{
    size_t most = 0, cap = 16, n_neg = h->n_negatives ? h->n_negatives : 1;
    for (size_t c = 0; c < h->train_part->n_clients; c++) {
        size_t nc = fs_partition_size(h->train_part, c) + fs_partition_size(h->test_part, c);
        most = nc > most ? nc : most;
    }
    while (cap < 2 * (most + h->n_negatives))
        cap *= 2;
    h->r = fs_rng_new();
    h->set.slot = malloc(cap * sizeof *h->set.slot);
    h->neg = malloc(n_neg * sizeof *h->neg);
    h->neg_score = malloc(n_neg * sizeof *h->neg_score);
    return h->r && h->set.slot && h->neg && h->neg_score ? FS_OK : FS_ENOMEM;
}

static void mf_hr_free(mf_hr *h)
{
    if (h->r) gsl_rng_free(h->r);
    free(h->set.slot);
    free(h->neg);
    free(h->neg_score);
}

/* Adds the client's rated items to the set; returns how many were new. */
static size_t mf_hr_rated(mf_hr *h, const fs_dataset *ds, const fs_partition *part, size_t c)
{
    size_t distinct = 0;
    const uint32_t *rows = part->rows + part->offset[c];
    for (size_t i = 0; i < fs_partition_size(part, c); i++)
        distinct += mf_set_add(&h->set, mf_item(ds, rows[i]));
    return distinct;
}

/* Distinct unrated items, uniform by rejection (exactly uniform sampling without replacement).
 * After 32 want + 1024 draws, reached only when the client rated most of the catalogue, the lowest
 * unrated ids are taken in order. Returns how many were drawn: n_negatives, or all the unrated
 * items when there are fewer. */
static size_t mf_hr_negatives(mf_hr *h, size_t n_items, size_t n_rated)
{
    size_t want = h->n_negatives < n_items - n_rated ? h->n_negatives : n_items - n_rated;
    size_t got = 0, draws = 0, limit = 32 * want + 1024;
    for (; got < want && draws < limit; draws++) {
        uint32_t item = (uint32_t)gsl_rng_uniform_int(h->r, n_items);
        if (mf_set_add(&h->set, item)) h->neg[got++] = item;
    }
    for (uint32_t item = 0; got < want; item++)
        if (mf_set_add(&h->set, item)) h->neg[got++] = item;
    return got;
}

static double mf_score(const mf_model *mf, const fs_real *w, const fs_real *p, uint32_t item)
{
    size_t k = mf->k, nq = mf->n_items * k;
    return mf_pred(w[nq + mf->n_items], w[nq + item], w + (size_t)item * k, p, k);
}

/* Adds client c's hits and positives (test ratings >= 4) to the totals. Negatives are drawn once
 * per client and shared by its positives; the stream is reseeded per client, so no client's
 * draws depend on another's. Client c's personal vector is row c of the table. */
static void mf_hr_client(mf_hr *h, size_t c)
{
    const mf_model *mf = mf_of(h->m);
    const uint32_t *rows = h->test_part->rows + h->test_part->offset[c];
    size_t n_test = fs_partition_size(h->test_part, c), n_pos = 0;
    for (size_t i = 0; i < n_test; i++)
        n_pos += h->test->target[rows[i]] >= 4;
    if (!n_pos) return;
    mf_set_clear(&h->set, fs_partition_size(h->train_part, c) + n_test + h->n_negatives);
    size_t n_rated = mf_hr_rated(h, h->train, h->train_part, c);
    n_rated += mf_hr_rated(h, h->test, h->test_part, c);
    fs_rng_reseed(h->r, h->seed, FS_RNG_DATA, c, MF_HR_ROUND);
    size_t n_neg = mf_hr_negatives(h, mf->n_items, n_rated);
    const fs_real *tab = h->m->personal_table;
    const fs_real *p = tab ? tab + c * h->m->n_personal : mf->zero;
    for (size_t j = 0; j < n_neg; j++)
        h->neg_score[j] = mf_score(mf, h->w, p, h->neg[j]);
    for (size_t i = 0; i < n_test; i++) {
        if (!(h->test->target[rows[i]] >= 4)) continue;
        double s = mf_score(mf, h->w, p, mf_item(h->test, rows[i]));
        size_t higher = 0;
        for (size_t j = 0; j < n_neg; j++)
            higher += h->neg_score[j] > s;
        h->hits += higher < h->top_k;
    }
    h->positives += n_pos;
}

/* Without a personal table every user is p_u = 0, b_u = 0 and the ranking is by item terms alone.
 * NaN also when out of memory. */
double fs_mf_hit_rate(const fs_model *m, const fs_real *w, const fs_dataset *train,
                      const fs_partition *train_part, const fs_dataset *test,
                      const fs_partition *test_part, size_t top_k, size_t n_negatives,
                      uint64_t seed, int n_threads)
{
    fs_assert(m->ops->train_sparse == mf_train_sparse); /* an mf model */
    fs_assert(train_part->n_clients == test_part->n_clients);
    mf_check(m, train, 0);
    mf_check(m, test, 0);
    size_t hits = 0, positives = 0, n_clients = test_part->n_clients;
    bool oom = false;
    /* a client's ranking draws from its own stream and the counts are integers: threads split
     * the clients and the sums are those of one */
#pragma omp parallel num_threads(n_threads > 0 ? n_threads : 1) reduction(+ : hits, positives) \
    reduction(|| : oom)
    {
        mf_hr h = {.m = m,
                   .w = w,
                   .train = train,
                   .test = test,
                   .train_part = train_part,
                   .test_part = test_part,
                   .top_k = top_k,
                   .n_negatives = n_negatives,
                   .seed = seed};
        oom = mf_hr_alloc(&h) != FS_OK;
#pragma omp for schedule(dynamic, 64)
        for (size_t c = 0; c < n_clients; c++)
            if (!oom) mf_hr_client(&h, c);
        mf_hr_free(&h);
        hits = h.hits, positives = h.positives;
    }
    return positives && !oom ? (double)hits / (double)positives : NAN;
}

/* ---- construction ---- */

static void mf_free(fs_model *m)
{
    if (!m) return;
    free(((mf_model *)m)->zero);
    free(m);
}

static const fs_model_ops mf_ops = {
    .name = "mf",
    .init = mf_init,
    .loss_grad = mf_loss_grad,
    .predict = mf_predict,
    .free = mf_free,
    .init_personal = mf_init_personal,
    .train_sparse = mf_train_sparse,
};

/* k = 0 is allowed: the biases-only baseline mu + b_u + b_i. */
fs_model *fs_mf_new(size_t n_items, size_t k, double l2, size_t max_batch)
{
    fs_assert(n_items >= 1 && max_batch >= 1 && l2 >= 0 && isfinite(l2));
    /* Every parameter index, mu's n_items (k + 1) the largest, must fit a sparse update's uint32
     * idx. */
    if (k >= UINT32_MAX || n_items >= (UINT32_MAX - 1) / (k + 1)) return NULL;
    mf_model *mf = calloc(1, sizeof *mf);
    if (!mf) return NULL;
    if (!(mf->zero = calloc(k + 1, sizeof *mf->zero))) {
        free(mf);
        return NULL;
    }
    fs_model *m = &mf->base;
    *m = (fs_model){.ops = &mf_ops,
                    .n_features = n_items,
                    .n_classes = 0,
                    .n_params = n_items * (k + 1) + 1,
                    .max_batch = max_batch,
                    /* dot product, then three additions */
                    .flops_per_sample = 2.0 * (double)k + 3.0,
                    .scratch_reals = 0,
                    .impl = mf,
                    .n_personal = k + 1,
                    .user_group = -1};
    mf->n_items = n_items;
    mf->k = k;
    mf->l2 = l2;
    return m;
}
