/* test_logreg: binary logistic regression on dense and sparse rows (gradient, loss, predict),
 * its sparse local training against fs_sgd_train on a full copy of the model, and the
 * fs_update storage it fills. */
#include <check.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"
#include "fs_sparse_local.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_grad.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* n sparse rows over d features, each with 1..max_nnz distinct ascending features, values
 * ~ N(0,1). Labels are sign(w_true . x) for a hidden w_true ~ N(0,1) when separable, else
 * Bernoulli(1/2). */
static void sparse_dataset(fs_dataset *ds, size_t n, size_t d, size_t max_nnz, bool separable,
                           uint64_t seed)
{
    ck_assert_int_eq(fs_dataset_alloc_sparse(ds, n, d, n * max_nnz, 2), FS_OK);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_DATA, 0, FS_RNG_NONE);
    double *w_true = malloc(d * sizeof *w_true);
    for (size_t j = 0; j < d; j++) w_true[j] = gsl_ran_gaussian(r, 1.0);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 1 + gsl_rng_uniform_int(r, max_nnz), len = 0;
        uint32_t *f = ds->idx + at;
        for (size_t e = 0; e < k; e++) f[e] = (uint32_t)gsl_rng_uniform_int(r, d);
        qsort(f, k, sizeof *f, cmp_u32);
        for (size_t e = 0; e < k; e++)
            if (len == 0 || f[len - 1] != f[e]) f[len++] = f[e];
        double z = 0;
        for (size_t e = 0; e < len; e++) {
            ds->val[at + e] = (float)gsl_ran_gaussian(r, 1.0);
            z += w_true[f[e]] * ds->val[at + e];
        }
        ds->y[i] = separable ? z > 0 : (int32_t)gsl_rng_uniform_int(r, 2);
        at += len;
        ds->ptr[i + 1] = at;
    }
    free(w_true);
    gsl_rng_free(r);
}

/* The same rows stored densely. */
static void densify(const fs_dataset *sp, fs_dataset *out)
{
    ck_assert_int_eq(fs_dataset_alloc(out, sp->n, sp->d, 2), FS_OK);
    for (size_t i = 0; i < sp->n; i++) {
        for (size_t e = sp->ptr[i]; e < sp->ptr[i + 1]; e++)
            out->x[i * sp->d + sp->idx[e]] = sp->val[e];
        out->y[i] = sp->y[i];
    }
}


START_TEST(logreg_grad_matches_finite_diff_dense)
{
    fs_dataset sp, ds;
    sparse_dataset(&sp, 9, 6, 6, false, 1);
    densify(&sp, &ds);
    fs_model *m = fs_logreg_new(6, 0.3, 9);
    fs_real *w = fs_test_random_weights(m->n_params, 0.7, 2);
    /* f32: finite differences of a float32 loss (h = 1e-2); measured 1.1e-6 */
    fs_test_err_lt("logreg dense grad rel_norm", fs_test_grad_check(m, w, &ds, ds.n).rel_norm,
                   FS_TEST_TOL(1e-6, 2e-5));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_dataset_fini(&sp);
}
END_TEST

START_TEST(logreg_grad_matches_finite_diff_sparse)
{
    fs_dataset ds;
    sparse_dataset(&ds, 15, 40, 8, false, 3);
    fs_model *m = fs_logreg_new(40, 0.2, 16);
    fs_real *w = fs_test_random_weights(m->n_params, 0.7, 4);
    /* f32: as above; measured 2.0e-6 */
    fs_test_err_lt("logreg sparse grad rel_norm", fs_test_grad_check(m, w, &ds, ds.n).rel_norm,
                   FS_TEST_TOL(1e-6, 2e-5));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(logreg_dense_and_sparse_loss_grad_agree)
{
    fs_dataset sp, ds;
    sparse_dataset(&sp, 12, 10, 5, false, 5);
    densify(&sp, &ds);
    fs_model *m = fs_logreg_new(10, 0.1, 12);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_weights(m->n_params, 1.0, 6);
    fs_real gs[11], gd[11];
    uint32_t rows[5] = {7, 0, 3, 11, 3};
    double ls = m->ops->loss_grad(m, w, &sp, rows, 5, gs, s);
    double ld = m->ops->loss_grad(m, w, &ds, rows, 5, gd, s);
    double worst = 0;
    for (size_t j = 0; j < 11; j++)
        worst = fmax(worst, fabs(gs[j] - gd[j]));
    /* the same sums in the same order in either precision */
    fs_test_err_lt("logreg sparse vs dense loss", fabs(ls - ld), 1e-14);
    fs_test_err_lt("logreg sparse vs dense grad", worst, 1e-14);
    free(w);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_dataset_fini(&sp);
}
END_TEST

START_TEST(logreg_zero_weights_loss_is_log2_and_shapes)
{
    fs_dataset ds;
    sparse_dataset(&ds, 20, 30, 4, false, 7);
    fs_model *m = fs_logreg_new(30, 0.5, 32);
    ck_assert_str_eq(m->ops->name, "logreg");
    ck_assert_uint_eq(m->n_params, 31);
    ck_assert_int_eq(m->n_classes, 2);
    ck_assert_double_eq(m->flops_per_sample, 2.0 * 30);
    ck_assert_ptr_nonnull(m->ops->train_sparse);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real w[31], g[31];
    for (size_t i = 0; i < 31; i++) w[i] = 123; /* init must overwrite everything */
    m->ops->init(m, w, NULL);
    uint32_t *rows = fs_test_all_rows(20);
    fs_test_err_lt("logreg loss at zero weights",
                   fabs(m->ops->loss_grad(m, w, &ds, rows, 20, g, s) - log(2.0)), 1e-15);
    free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(logreg_loss_is_finite_for_huge_logits)
{
    fs_dataset ds;
    sparse_dataset(&ds, 4, 3, 3, false, 8);
    fs_model *m = fs_logreg_new(3, 0, 4);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real w[4] = {0, 0, 0, 1e4}, g[4]; /* z = 1e4 for every row: p = 1 in fs_real */
    uint32_t rows[4] = {0, 1, 2, 3};
    double n1 = 0;
    for (int i = 0; i < 4; i++) n1 += ds.y[i] == 0;
    double loss = m->ops->loss_grad(m, w, &ds, rows, 4, g, s);
    fs_test_err_lt("logreg huge logit loss", fabs(loss - 1e4 * n1 / 4), 1e-9);
    fs_test_err_lt("logreg huge logit grad", fabs(g[3] - n1 / 4), 1e-15);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* Both columns come from one exponential (lr_predict): they must be fs_nn_sigmoid(-z) and
 * fs_nn_sigmoid(z) bit for bit, on either side of 0, at 0 itself and where exp underflows (a
 * NaN logit gives NaNs). Row i holds feature i with value 1, so its logit is exactly w[i]. */
START_TEST(logreg_predict_is_the_sigmoid_bit_for_bit)
{
    static const float zs[] = {0.0f,  -0.0f, 1e-8f, -1e-8f, 0.5f,  -3.0f,   20.0f, -20.0f,
                               40.0f, -40.0f, 700.0f, -700.0f, 745.5f, -760.0f, NAN};
    enum { N = sizeof zs / sizeof *zs };
    fs_dataset ds;
    ck_assert_int_eq(fs_dataset_alloc_sparse(&ds, N, N, N, 2), FS_OK);
    for (size_t i = 0; i < N; i++) {
        ds.idx[i] = (uint32_t)i;
        ds.val[i] = 1.0f;
        ds.ptr[i + 1] = i + 1;
        ds.y[i] = (int32_t)(i % 2);
    }
    fs_model *m = fs_logreg_new(N, 0, N);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real w[N + 1];
    for (size_t i = 0; i < N; i++) w[i] = zs[i];
    w[N] = 0;
    double p[2 * N];
    uint32_t *rows = fs_test_all_rows(N);
    m->ops->predict(m, w, &ds, rows, N, p, s);
    for (size_t i = 0; i < N; i++) {
        double z = (double)zs[i] + 0.0, want[2] = {fs_nn_sigmoid(-z), fs_nn_sigmoid(z)};
        if (isnan(z)) { /* a NaN's sign means nothing */
            ck_assert(isnan(p[2 * i]) && isnan(p[2 * i + 1]));
            continue;
        }
        ck_assert_msg(memcmp(&p[2 * i], want, sizeof want) == 0, "z = %g: (%a, %a), not (%a, %a)",
                      z, p[2 * i], p[2 * i + 1], want[0], want[1]);
    }
    free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(logreg_predict_columns_sum_to_one)
{
    fs_dataset ds;
    sparse_dataset(&ds, 16, 25, 6, false, 9);
    fs_model *m = fs_logreg_new(25, 0, 16);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_weights(m->n_params, 3.0, 10);
    double p[32];
    uint32_t *rows = fs_test_all_rows(16);
    m->ops->predict(m, w, &ds, rows, 16, p, s);
    double worst = 0;
    for (size_t i = 0; i < 16; i++) {
        worst = fmax(worst, fabs(p[2 * i] + p[2 * i + 1] - 1.0));
        ck_assert(p[2 * i] >= 0 && p[2 * i + 1] >= 0);
    }
    fs_test_err_lt("logreg row sum", worst, 1e-15); /* probabilities are double */
    free(w), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* One client's training both ways, from the same RNG stream: the generic path (copy of
 * w_global, fs_sgd_train) into w_dense, and train_sparse into u. */
typedef struct both_ways {
    fs_real *w_dense;
    fs_update u;
    fs_sgd_result rd, rs;
} both_ways;

static void train_both_ways(const fs_model *m, const fs_real *w_global, const fs_dataset *ds,
                            const uint32_t *rows, size_t n, const fs_sgd_cfg *cfg,
                            both_ways *out)
{
    fs_model_scratch *s = fs_model_scratch_new(m);
    gsl_rng *r = fs_rng_new();
    uint32_t *order = malloc(n * sizeof *order);
    fs_real *grad = malloc(m->n_params * sizeof *grad);
    out->w_dense = malloc(m->n_params * sizeof *out->w_dense);
    memcpy(out->w_dense, w_global, m->n_params * sizeof *w_global);
    fs_rng_reseed(r, 77, FS_RNG_TRAIN, 3, 1);
    ck_assert_int_eq(fs_sgd_train(m, out->w_dense, ds, rows, n, cfg, r, order, grad, s, &out->rd),
                     FS_OK);
    ck_assert_int_eq(fs_update_init(&out->u, m->n_params, true, 0), FS_OK);
    fs_rng_reseed(r, 77, FS_RNG_TRAIN, 3, 1);
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, ds, rows, n, cfg, r, s, &out->u, &out->rs),
                     FS_OK);
    free(order), free(grad);
    gsl_rng_free(r);
    fs_model_scratch_free(s);
}

static void both_ways_fini(both_ways *b)
{
    free(b->w_dense);
    fs_update_fini(&b->u);
}

/* Distinct features of the client's rows, into a caller array of d flags. */
static size_t mark_features(const fs_dataset *ds, const uint32_t *rows, size_t n, bool *seen)
{
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t e = ds->ptr[rows[i]]; e < ds->ptr[rows[i] + 1]; e++)
            if (!seen[ds->idx[e]]) seen[ds->idx[e]] = true, distinct++;
    return distinct;
}

/* The update lists exactly the client's features then the bias, ascending. */
static void check_update_support(const fs_update *u, const bool *seen, size_t distinct, size_t d)
{
    ck_assert(u->sparse);
    ck_assert_uint_eq(u->n_params, d + 1);
    ck_assert_uint_eq(u->nnz, distinct + 1);
    ck_assert_uint_eq(u->idx[u->nnz - 1], d);
    for (size_t q = 0; q + 1 < u->nnz; q++) {
        ck_assert_uint_lt(u->idx[q], u->idx[q + 1]);
        ck_assert(seen[u->idx[q]]);
    }
}

/* check_update_support for the client's rows; returns their feature flags (d, caller frees). */
static bool *check_client_support(const fs_update *u, const fs_dataset *ds, const uint32_t *rows,
                                  size_t n, size_t d)
{
    bool *seen = calloc(d, sizeof *seen);
    check_update_support(u, seen, mark_features(ds, rows, n, seen), d);
    return seen;
}

/* Largest |sparse delta - dense delta| over the update's entries; *out_scale := the largest
 * |dense delta| among them. */
static double update_error(const both_ways *b, const fs_real *w_global, double *out_scale)
{
    double scale = 0, err = 0;
    for (size_t q = 0; q < b->u.nnz; q++) {
        double dn = (double)b->w_dense[b->u.idx[q]] - w_global[b->u.idx[q]];
        scale = fmax(scale, fabs(dn));
        err = fmax(err, fabs(b->u.val[q] - dn));
    }
    *out_scale = scale;
    return err;
}

/* The ~50-row client: rows scattered over a 200-row dataset, in a non-sorted order. */
static uint32_t *client_rows(size_t n, size_t stride, size_t n_total)
{
    uint32_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)((i * stride + 5) % n_total);
    return rows;
}

START_TEST(logreg_train_sparse_equals_dense_sgd)
{
    const size_t d = (size_t)1 << 18, n = 50;
    fs_dataset ds;
    sparse_dataset(&ds, 200, d, 40, false, 11);
    fs_model *m = fs_logreg_new(d, 0, 16);
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.3, 12);
    uint32_t *rows = client_rows(n, 37, 200);
    fs_sgd_cfg cfg = {.epochs = 3, .batch_size = 8, .lr = 0.5}; /* last batch has 2 rows */
    both_ways b = {0};
    train_both_ways(m, w_global, &ds, rows, n, &cfg, &b);
    bool *seen = check_client_support(&b.u, &ds, rows, n, d);
    double scale, err = update_error(&b, w_global, &scale);
    ck_assert_double_gt(scale, 1e-3);
    /* f32: the sparse and dense paths round their float32 steps differently (the dense delta
     * is w_local - w_global, the sparse one accumulated); measured 6.3e-8 of the scale */
    fs_test_err_lt("logreg train_sparse vs dense update (relative)", err / scale,
                   FS_TEST_TOL(1e-12, 6e-7));
    for (size_t j = 0; j < d; j++)
        if (!seen[j]) ck_assert(b.w_dense[j] == w_global[j]); /* nothing lost by omission */
    ck_assert_uint_eq(b.rs.steps, b.rd.steps);
    ck_assert_uint_eq(b.rs.steps, 3 * 7);
    fs_test_err_lt("logreg train_sparse vs dense mean_loss (relative)",
                   fabs(b.rs.mean_loss - b.rd.mean_loss) / b.rd.mean_loss,
                   FS_TEST_TOL(1e-12, 6e-10)); /* f32: measured 6.0e-11 */
    both_ways_fini(&b);
    free(seen), free(rows), free(w_global);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* Lazy L2: on the client's features and the bias the update is dense SGD's (up to rounding of
 * the pow() catch-up); every other weight, which dense SGD shrinks by (1 - lr l2) a step, is
 * left out, and mean_loss lacks exactly the penalty on those weights. */
START_TEST(logreg_train_sparse_lazy_l2_skips_untouched_coordinates)
{
    const size_t d = (size_t)1 << 12, n = 30;
    const double l2 = 0.05, lr = 0.4;
    fs_dataset ds;
    sparse_dataset(&ds, 100, d, 20, false, 13);
    fs_model *m = fs_logreg_new(d, l2, 16);
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.3, 14);
    uint32_t *rows = client_rows(n, 7, 100);
    fs_sgd_cfg cfg = {.epochs = 4, .batch_size = 7, .lr = lr};
    both_ways b = {0};
    train_both_ways(m, w_global, &ds, rows, n, &cfg, &b);
    bool *seen = check_client_support(&b.u, &ds, rows, n, d);
    double scale, err = update_error(&b, w_global, &scale);
    /* f32: as in train_sparse_equals_dense_sgd; measured 2.2e-7 */
    fs_test_err_lt("logreg lazy l2 update (relative)", err / scale, FS_TEST_TOL(1e-12, 2e-6));
    /* Untouched weights: dense decays them, the penalty on them is what mean_loss lacks. */
    double f = 1 - lr * l2, sq_out = 0, missing = 0, decay_err = 0;
    for (size_t j = 0; j < d; j++) {
        if (seen[j]) continue;
        double steps = (double)b.rd.steps;
        decay_err = fmax(decay_err, fabs(b.w_dense[j] - w_global[j] * pow(f, steps)));
        sq_out += (double)w_global[j] * w_global[j];
    }
    /* f32: dense SGD rounds each weight to float32 at each of its 20 steps; measured 1.9e-7 */
    fs_test_err_lt("logreg lazy l2 decay of untouched weights", decay_err,
                   FS_TEST_TOL(1e-14, 2e-6));
    for (size_t t = 0; t < b.rd.steps; t++) {
        size_t k = (t % 5 == 4) ? 2 : 7; /* 30 rows: batches 7, 7, 7, 7, 2 each epoch */
        missing += k * 0.5 * l2 * sq_out * pow(f, 2.0 * (double)t);
    }
    missing /= (double)(cfg.epochs * n);
    fs_test_err_lt("logreg lazy l2 missing penalty (relative)",
                   fabs(b.rd.mean_loss - b.rs.mean_loss - missing) / b.rd.mean_loss,
                   FS_TEST_TOL(1e-12, 1.2e-7)); /* f32: losses at rounded weights; 1.2e-8 */
    both_ways_fini(&b);
    free(seen), free(rows), free(w_global);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* Cost O(client non-zeros): w_global is NaN outside the client's features and bias, so any read
 * beyond them would show up in the update, and the workspace never grows with n_features. */
START_TEST(logreg_train_sparse_cost_is_independent_of_model_size)
{
    const size_t d = (size_t)1 << 18, n = 20;
    fs_dataset ds;
    sparse_dataset(&ds, 60, d, 30, false, 15);
    fs_model *m = fs_logreg_new(d, 0.01, 32);
    fs_model_scratch *s = fs_model_scratch_new(m);
    uint32_t *rows = client_rows(n, 11, 60);
    bool *seen = calloc(d, sizeof *seen);
    size_t distinct = mark_features(&ds, rows, n, seen), client_nnz = 0;
    for (size_t i = 0; i < n; i++) client_nnz += ds.ptr[rows[i] + 1] - ds.ptr[rows[i]];
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.3, 16);
    for (size_t j = 0; j < d; j++)
        if (!seen[j]) w_global[j] = NAN;
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, 0), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 5, .batch_size = 4, .lr = 0.3};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, n, &cfg, r, s, &u, &res), FS_OK);
    check_update_support(&u, seen, distinct, d);
    for (size_t q = 0; q < u.nnz; q++) ck_assert(isfinite(u.val[q]));
    ck_assert(isfinite(res.mean_loss));
    ck_assert_uint_le(u.cap, 4 * client_nnz + 2 * n + 2);
    fs_update_fini(&u);
    gsl_rng_free(r);
    free(seen), free(rows), free(w_global);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* One update reused for clients of growing and shrinking size, as a per-thread buffer is. */
START_TEST(logreg_train_sparse_reuses_update_across_clients)
{
    const size_t d = 5000;
    fs_dataset ds;
    sparse_dataset(&ds, 300, d, 25, false, 17);
    fs_model *m = fs_logreg_new(d, 0, 64);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.2, 18);
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = 10, .lr = 0.1};
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, 0), FS_OK);
    gsl_rng *r = fs_rng_new();
    uint32_t *rows = fs_test_all_rows(300);
    size_t sizes[] = {3, 250, 0, 40, 1};
    for (size_t c = 0; c < 5; c++) {
        fs_sgd_result res;
        ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, sizes[c], &cfg, r, s, &u,
                                              &res), FS_OK);
        free(check_client_support(&u, &ds, rows, sizes[c], d));
        ck_assert_uint_eq(res.steps, (sizes[c] + 9) / 10);
        if (sizes[c] == 0) ck_assert(u.val[0] == 0 && res.mean_loss == 0);
    }
    fs_update_fini(&u);
    fs_update_fini(&u); /* a finished update is empty: safe again */
    gsl_rng_free(r);
    free(rows), free(w_global);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* The workspace is the thread's scratch, or the update's own arrays without scratch: the same
 * update bit for bit, either way, after a larger client left the scratch grown. */
START_TEST(logreg_train_sparse_same_update_with_or_without_scratch)
{
    size_t d = 3000;
    fs_dataset ds;
    sparse_dataset(&ds, 200, d, 20, false, 23);
    fs_model *m = fs_logreg_new(d, 0.01, 64);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.2, 24);
    fs_sgd_cfg cfg = {.epochs = 2, .batch_size = 8, .lr = 0.1};
    uint32_t *rows = fs_test_all_rows(200);
    fs_update a, b;
    ck_assert_int_eq(fs_update_init(&a, m->n_params, true, 0), FS_OK);
    ck_assert_int_eq(fs_update_init(&b, m->n_params, true, 0), FS_OK);
    gsl_rng *r = fs_rng_new();
    fs_sgd_result ra, rb;
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, 200, &cfg, r, s, &a, &ra), FS_OK);
    fs_rng_reseed(r, 5, FS_RNG_TRAIN, 1, 1);
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, 60, &cfg, r, s, &a, &ra), FS_OK);
    fs_rng_reseed(r, 5, FS_RNG_TRAIN, 1, 1);
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, 60, &cfg, r, NULL, &b, &rb),
                     FS_OK);
    ck_assert_uint_eq(a.nnz, b.nnz);
    ck_assert_uint_gt(a.nnz, 1);
    ck_assert_mem_eq(a.idx, b.idx, a.nnz * sizeof *a.idx);
    ck_assert_mem_eq(a.val, b.val, a.nnz * sizeof *a.val);
    ck_assert(ra.mean_loss == rb.mean_loss && ra.steps == rb.steps);
    ck_assert_uint_lt(a.cap, b.cap); /* with scratch the update holds the update only */
    fs_update_fini(&a), fs_update_fini(&b);
    gsl_rng_free(r);
    free(rows), free(w_global);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* On dense data train_sparse still works: every feature is touched. */
START_TEST(logreg_train_sparse_on_dense_data_equals_dense_sgd)
{
    fs_dataset sp, ds;
    sparse_dataset(&sp, 40, 12, 6, false, 19);
    densify(&sp, &ds);
    fs_model *m = fs_logreg_new(12, 0.02, 8);
    fs_real *w_global = fs_test_random_weights(m->n_params, 0.5, 20);
    uint32_t *rows = client_rows(25, 3, 40);
    fs_sgd_cfg cfg = {.epochs = 2, .batch_size = 8, .lr = 0.3};
    both_ways b = {0};
    train_both_ways(m, w_global, &ds, rows, 25, &cfg, &b);
    ck_assert_uint_eq(b.u.nnz, 13);
    double worst = 0;
    for (size_t j = 0; j < 13; j++) {
        ck_assert_uint_eq(b.u.idx[j], j);
        worst = fmax(worst, fabs(b.u.val[j] - ((double)b.w_dense[j] - w_global[j])));
    }
    /* f32: as in train_sparse_equals_dense_sgd; measured 1.5e-8 (update) and 1.7e-10 (loss) */
    fs_test_err_lt("logreg train_sparse on dense data update", worst, FS_TEST_TOL(1e-13, 1.5e-7));
    fs_test_err_lt("logreg train_sparse on dense data mean_loss",
                   fabs(b.rs.mean_loss - b.rd.mean_loss), FS_TEST_TOL(1e-13, 1.7e-9));
    both_ways_fini(&b);
    free(rows), free(w_global);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_dataset_fini(&sp);
}
END_TEST

START_TEST(logreg_train_sparse_reports_divergence)
{
    fs_dataset ds;
    sparse_dataset(&ds, 10, 50, 5, false, 21);
    fs_model *m = fs_logreg_new(50, 0, 10);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w_global = fs_test_random_weights(m->n_params, 1.0, 22);
    w_global[50] = INFINITY; /* the bias: every row's logit is infinite */
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, 0), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = 5, .lr = 0.1};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    uint32_t *rows = fs_test_all_rows(10);
    ck_assert_int_eq(m->ops->train_sparse(m, w_global, &ds, rows, 10, &cfg, r, s, &u, &res),
                     FS_ENUMERIC);
    ck_assert_uint_eq(res.steps, 0);
    ck_assert(!isfinite(res.mean_loss));
    for (size_t q = 0; q + 1 < u.nnz; q++) ck_assert(u.val[q] == 0); /* no step applied */
    fs_update_fini(&u);
    gsl_rng_free(r);
    free(rows), free(w_global);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* A linearly separable sparse problem: both training paths drive the log loss down. */
START_TEST(logreg_sgd_reaches_low_loss_on_separable_sparse)
{
    const size_t d = 2000, n = 400;
    fs_dataset ds;
    sparse_dataset(&ds, n, d, 12, true, 23);
    fs_model *m = fs_logreg_new(d, 0, 20);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = calloc(m->n_params, sizeof *w), *grad = malloc(m->n_params * sizeof *grad);
    uint32_t *rows = fs_test_all_rows(n), *order = malloc(n * sizeof *order);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_TRAIN, 0, 0);
    fs_sgd_cfg cfg = {.epochs = 100, .batch_size = 10, .lr = 4.0};
    fs_sgd_result res;
    ck_assert_int_eq(fs_sgd_train(m, w, &ds, rows, n, &cfg, r, order, grad, s, &res), FS_OK);
    fs_eval_result ev;
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &ev), FS_OK);
    ck_assert_double_lt(ev.loss, 0.1);
    ck_assert_double_ge(ev.accuracy, 0.99);
    /* The sparse path from zero weights: its update is the whole model. */
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, 0), FS_OK);
    fs_real *w0 = calloc(m->n_params, sizeof *w0);
    ck_assert_int_eq(m->ops->train_sparse(m, w0, &ds, rows, n, &cfg, r, s, &u, &res), FS_OK);
    for (size_t q = 0; q < u.nnz; q++) w0[u.idx[q]] += u.val[q];
    ck_assert_int_eq(fs_model_evaluate(m, w0, &ds, NULL, 0, s, &ev), FS_OK);
    ck_assert_double_lt(ev.loss, 0.1);
    fs_update_fini(&u);
    gsl_rng_free(r);
    free(w), free(w0), free(grad), free(rows), free(order);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* The bitmap index hands out the slots a sort of every entry gives (distinct keys ascending,
 * equal keys one slot) for any mix of repeats, keys at both ends of the range and key bounds that
 * are not whole words, and leaves its bitmap zero for the next client. */
START_TEST(sparse_local_index_equals_sorting_every_entry)
{
    const size_t bounds[] = {1, 63, 64, 65, 4095, 4097, 1u << 18};
    uint64_t lcg = 7;
    for (size_t bi = 0; bi < sizeof bounds / sizeof *bounds; bi++) {
        size_t kb = bounds[bi], nw = FS_SPARSE_LOCAL_BITS(kb);
        uint64_t *bits = calloc(nw, sizeof *bits);
        uint32_t *first = malloc(FS_SPARSE_LOCAL_WORDS(kb) * sizeof *first);
        ck_assert(bits && first);
        for (size_t n = 0; n < 700; n += n < 10 ? 1 : 97) {
            uint32_t key[700], s1[700], s2[700], f1[701], f2[701], a[700], b[700];
            size_t pool = 1 + n / 3;
            for (size_t i = 0; i < n; i++) {
                lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
                uint64_t x = lcg >> 33;
                key[i] = x % 5 == 0   ? (uint32_t)(kb - 1)
                         : x % 7 == 0 ? 0
                                      : (uint32_t)((x % pool) * 2654435761u % kb);
            }
            memcpy(s1, key, n * sizeof *key);
            memcpy(s2, key, n * sizeof *key);
            const uint32_t *sorted = fs_sparse_local_radix_sort(s1, n, kb, a, b);
            size_t k1 = fs_sparse_local_assign_slots(s1, sorted, n, f1);
            size_t k2 = fs_sparse_local_index(s2, n, kb, first, bits, f2);
            ck_assert_uint_eq(k1, k2);
            ck_assert_mem_eq(f1, f2, k1 * sizeof *f1);
            ck_assert_mem_eq(s1, s2, n * sizeof *s1);
            for (size_t w = 0; w < nw; w++)
                ck_assert_msg(bits[w] == 0, "bound %zu: word %zu left set", kb, w);
        }
        free(bits);
        free(first);
    }
}
END_TEST

START_TEST(update_init_dense_is_zeroed_and_sparse_is_empty)
{
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, 5, false, 0), FS_OK);
    ck_assert(!u.sparse);
    ck_assert_uint_eq(u.n_params, 5);
    for (size_t i = 0; i < 5; i++) ck_assert(u.dense[i] == 0);
    fs_update_fini(&u);
    ck_assert_ptr_null(u.dense);
    ck_assert_int_eq(fs_update_init(&u, 1u << 20, true, 0), FS_OK);
    ck_assert(u.sparse);
    ck_assert_uint_eq(u.nnz, 0);
    ck_assert_uint_eq(u.cap, 0);
    ck_assert_ptr_null(u.dense);
    fs_update_fini(&u);
}
END_TEST

static Suite *logreg_suite(void)
{
    Suite *s = suite_create("logreg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, logreg_grad_matches_finite_diff_dense);
    tcase_add_test(tc, logreg_grad_matches_finite_diff_sparse);
    tcase_add_test(tc, logreg_dense_and_sparse_loss_grad_agree);
    tcase_add_test(tc, logreg_zero_weights_loss_is_log2_and_shapes);
    tcase_add_test(tc, logreg_loss_is_finite_for_huge_logits);
    tcase_add_test(tc, logreg_predict_columns_sum_to_one);
    tcase_add_test(tc, logreg_predict_is_the_sigmoid_bit_for_bit);
    tcase_add_test(tc, logreg_train_sparse_equals_dense_sgd);
    tcase_add_test(tc, logreg_train_sparse_lazy_l2_skips_untouched_coordinates);
    tcase_add_test(tc, logreg_train_sparse_cost_is_independent_of_model_size);
    tcase_add_test(tc, logreg_train_sparse_reuses_update_across_clients);
    tcase_add_test(tc, logreg_train_sparse_same_update_with_or_without_scratch);
    tcase_add_test(tc, logreg_train_sparse_on_dense_data_equals_dense_sgd);
    tcase_add_test(tc, logreg_train_sparse_reports_divergence);
    tcase_add_test(tc, logreg_sgd_reaches_low_loss_on_separable_sparse);
    tcase_add_test(tc, update_init_dense_is_zeroed_and_sparse_is_empty);
    tcase_add_test(tc, sparse_local_index_equals_sorting_every_entry);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(logreg_suite)
