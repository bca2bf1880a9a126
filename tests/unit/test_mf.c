/* test_mf: biased matrix factorization. Gradients against finite differences (federated through
 * loss_grad, personal through one full-batch step of train_sparse), train_sparse against a plain
 * dense SGD written here, learning on generated ratings, and the hit rate on hand-made cases. */
#include <check.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"
#include "fs_model.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_grad.h"
#ifndef FS_REAL_DOUBLE
#include "fs_test_scn.h"
#endif

/* The ratings generator at the scenario schema's defaults (data.ratings with seed = seed),
 * written out because this suite also runs against the models alone (test_mf_f64, built without
 * the scenario parser); mf_ratings_defaults_match_the_schema holds them to the schema. */
static fs_ratings_cfg ratings_defaults(uint64_t seed)
{
    return (fs_ratings_cfg){.seed = seed,
                            .n_items = 2000,
                            .latent_dim = 8,
                            .popularity_s = 1.0,
                            .activity_mu = 3,
                            .activity_sigma = 1,
                            .noise_sigma = 0.5,
                            .test_fraction = 0.2};
}

#ifndef FS_REAL_DOUBLE
START_TEST(mf_ratings_defaults_match_the_schema)
{
    fs_ratings_cfg want, got = ratings_defaults(4);
    fs_test_ratings_cfg(4, &want);
    ck_assert_uint_eq(got.seed, want.seed);
    ck_assert_uint_eq(got.n_items, want.n_items);
    ck_assert_uint_eq(got.latent_dim, want.latent_dim);
    ck_assert_double_eq(got.popularity_s, want.popularity_s);
    ck_assert_double_eq(got.activity_mu, want.activity_mu);
    ck_assert_double_eq(got.activity_sigma, want.activity_sigma);
    ck_assert_double_eq(got.noise_sigma, want.noise_sigma);
    ck_assert_double_eq(got.test_fraction, want.test_fraction);
}
END_TEST
#endif

/* Ratings data by hand: user u owns rows [u * per_user, (u + 1) * per_user), each one item drawn
 * uniformly (repeats allowed, so a batch may touch an item twice), rating uniform in [1, 5]. The
 * group "user" (index 0) names the user; part is the natural partition. */
static void toy_ratings(fs_dataset *ds, fs_partition *part, size_t n_users, size_t per_user,
                        size_t n_items, uint64_t seed)
{
    size_t n = n_users * per_user, gi;
    ck_assert_int_eq(fs_dataset_alloc_sparse(ds, n, n_items, n, 0), FS_OK);
    ck_assert_int_eq(fs_dataset_add_group(ds, "user", n_users, &gi), FS_OK);
    ck_assert_uint_eq(gi, 0);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < n; i++) {
        ds->idx[i] = (uint32_t)gsl_rng_uniform_int(r, n_items);
        ds->val[i] = 1.0f;
        ds->ptr[i + 1] = i + 1;
        ds->target[i] = (float)(1 + 4 * gsl_rng_uniform(r));
        ds->groups[0].level[i] = (uint32_t)(i / per_user);
    }
    part->n_clients = n_users;
    part->offset = malloc((n_users + 1) * sizeof *part->offset);
    part->rows = malloc((n ? n : 1) * sizeof *part->rows);
    for (size_t u = 0; u <= n_users; u++)
        part->offset[u] = u * per_user;
    for (size_t i = 0; i < n; i++)
        part->rows[i] = (uint32_t)i;
    gsl_rng_free(r);
}

/* Federated parameters from init, biases and mu perturbed so that no term is trivially zero, and
 * a personal table of every user from init_personal with b_u perturbed. */
static void random_params(const fs_model *m, fs_real *w, fs_real *table, size_t n_users,
                          uint64_t seed)
{
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    size_t nq = m->n_params - m->n_features - 1;
    for (size_t i = nq; i < m->n_params; i++)
        w[i] += gsl_ran_gaussian(r, 0.3);
    for (size_t u = 0; u < n_users; u++) {
        fs_real *p = table + u * m->n_personal;
        m->ops->init_personal(m, p, r);
        p[m->n_personal - 1] = gsl_ran_gaussian(r, 0.3);
    }
    gsl_rng_free(r);
}

START_TEST(mf_shapes_and_init)
{
    fs_model *m = fs_mf_new(50, 4, 0.1, 32);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->n_features, 50);
    ck_assert_int_eq(m->n_classes, 0);
    ck_assert_uint_eq(m->n_params, 50 * 4 + 50 + 1);
    ck_assert_uint_eq(m->n_personal, 5);
    ck_assert_int_eq(m->user_group, -1);
    ck_assert_ptr_null(m->personal_table);
    ck_assert(m->flops_per_sample >= 8 && m->flops_per_sample < 16);
    fs_real *w = malloc(m->n_params * sizeof *w), p[5];
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    double sq = 0;
    for (size_t i = 0; i < 200; i++)
        sq += w[i] * w[i];
    ck_assert(sqrt(sq / 200) > 0.07 && sqrt(sq / 200) < 0.13); /* q ~ N(0, 0.1^2) */
    for (size_t i = 200; i < 250; i++)
        ck_assert(w[i] == 0);
    ck_assert(w[250] == 3.0);
    m->ops->init_personal(m, p, r);
    ck_assert(p[0] != 0 && fabs(p[0]) < 1 && p[4] == 0);
    gsl_rng_free(r);
    free(w);
    fs_model_free(m);
    ck_assert_ptr_null(fs_mf_new(UINT32_MAX / 2, 4, 0, 1)); /* indices would overflow uint32 */
}
END_TEST

START_TEST(mf_loss_grad_matches_finite_diff)
{
    enum { USERS = 5, PER = 6, ITEMS = 7, K = 3 };
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, USERS, PER, ITEMS, 11);
    fs_model *m = fs_mf_new(ITEMS, K, 0.3, USERS * PER);
    fs_real *w = malloc(m->n_params * sizeof *w), table[USERS * (K + 1)];
    random_params(m, w, table, USERS, 3);
    fs_model_set_personal(m, table, 0);
    fs_test_grad gc;
    fs_test_grad_init(&gc, m, w, &ds, part.rows, ds.n, FS_TEST_TOL(1e-6, 1e-2));
    double worst = 0;
    for (size_t j = 0; j < m->n_params; j++) {
        double fd = fs_test_grad_fd(&gc, w, j), g = gc.g[j];
        worst = fmax(worst, fabs(fd - g) / fmax(1e-2, fabs(g)));
    }
    /* f32: the loss is quadratic, so h = 1e-2 costs no truncation; what is left is the float32
     * rounding of the parameters' products; measured 2.9e-7 */
    fs_test_err_lt("mf grad worst", worst, FS_TEST_TOL(1e-6, 3e-6));
    fs_test_grad_fini(&gc);
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

/* Mean loss of user u's rows with personal vector p (placed in the table). */
static double user_loss(fs_model *m, const fs_real *w, const fs_dataset *ds, const uint32_t *rows,
                        size_t n, fs_real *table, size_t u, const fs_real *p, fs_real *grad)
{
    memcpy(table + u * m->n_personal, p, m->n_personal * sizeof *p);
    return m->ops->loss_grad(m, w, ds, rows, n, grad, NULL);
}

START_TEST(mf_personal_grad_matches_finite_diff)
{
    enum { USERS = 3, PER = 9, ITEMS = 5, K = 4, U = 1 };
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, USERS, PER, ITEMS, 12);
    fs_model *m = fs_mf_new(ITEMS, K, 0.2, PER);
    fs_real *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    fs_real table[USERS * (K + 1)], p0[K + 1], p[K + 1];
    random_params(m, w, table, USERS, 4);
    fs_model_set_personal(m, table, 0);
    memcpy(p0, table + U * (K + 1), sizeof p0);
    const uint32_t *rows = part.rows + part.offset[U];
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, K + 1), FS_OK);
    memcpy(u.personal, p0, sizeof p0);
    /* one full-batch step: (p0 - p) / lr is the gradient at p0 whatever lr is; in float32 a
     * step of 1e-7 would be lost in p's rounding */
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = PER, .lr = FS_TEST_TOL(1e-7, 1e-2)};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    ck_assert_int_eq(m->ops->train_sparse(m, w, &ds, rows, PER, &cfg, r, NULL, &u, &res), FS_OK);
    ck_assert_uint_eq(res.steps, 1);
    const double h = FS_TEST_TOL(1e-6, 1e-2);
    double worst = 0;
    for (size_t j = 0; j <= K; j++) {
        memcpy(p, p0, sizeof p);
        p[j] = (fs_real)(p0[j] + h);
        double up = p[j], lp = user_loss(m, w, &ds, rows, PER, table, U, p, g);
        p[j] = (fs_real)(p0[j] - h);
        double lm = user_loss(m, w, &ds, rows, PER, table, U, p, g);
        double fd = (lp - lm) / (up - p[j]), step = ((double)p0[j] - u.personal[j]) / cfg.lr;
        worst = fmax(worst, fabs(step - fd) / fmax(1e-2, fabs(fd)));
    }
    /* f32: the step's gradient comes from p0 - p, both float32 (relative rounding 6e-8 / lr);
     * measured 4.4e-5 */
    fs_test_err_lt("mf personal grad worst", worst, FS_TEST_TOL(1e-6, 4e-4));
    gsl_rng_free(r);
    fs_update_fini(&u);
    free(w), free(g);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

/* Plain minibatch SGD on a full copy of the federated parameters and the personal vector p, in
 * fs_sgd_train's order: one shuffle of the row ids per epoch, then batches in order. */
static void reference_sgd(size_t n_items, size_t k, double l2, fs_real *w, fs_real *p,
                          const fs_dataset *ds, const uint32_t *rows, size_t n,
                          const fs_sgd_cfg *cfg, gsl_rng *r)
{
    size_t nq = n_items * k, n_params = nq + n_items + 1;
    double *g = malloc(n_params * sizeof *g), *gp = malloc((k + 1) * sizeof *gp);
    uint32_t *order = malloc(n * sizeof *order);
    for (int ep = 0; ep < cfg->epochs; ep++) {
        memcpy(order, rows, n * sizeof *order);
        fs_rng_shuffle_u32(r, order, n);
        for (size_t at = 0; at < n; at += cfg->batch_size) {
            size_t b = n - at < cfg->batch_size ? n - at : cfg->batch_size;
            memset(g, 0, n_params * sizeof *g);
            memset(gp, 0, (k + 1) * sizeof *gp);
            for (size_t i = at; i < at + b; i++) {
                uint32_t item = ds->idx[ds->ptr[order[i]]];
                const fs_real *q = w + item * k;
                double dot = 0;
                for (size_t j = 0; j < k; j++)
                    dot += (double)p[j] * q[j];
                double e = w[n_params - 1] + p[k] + w[nq + item] + dot - ds->target[order[i]];
                for (size_t j = 0; j < k; j++) {
                    g[item * k + j] += e / (double)b * p[j] + l2 / (double)b * q[j];
                    gp[j] += e / (double)b * q[j] + l2 / (double)b * p[j];
                }
                g[nq + item] += e / (double)b;
                g[n_params - 1] += e / (double)b;
                gp[k] += e / (double)b;
            }
            for (size_t j = 0; j < n_params; j++)
                w[j] -= cfg->lr * g[j];
            for (size_t j = 0; j <= k; j++)
                p[j] -= cfg->lr * gp[j];
        }
    }
    free(g), free(gp), free(order);
}

/* Distinct items among rows[0..n). */
static size_t distinct_items(const fs_dataset *ds, const uint32_t *rows, size_t n, size_t n_items)
{
    bool *seen = calloc(n_items, sizeof *seen);
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t item = ds->idx[ds->ptr[rows[i]]];
        d += !seen[item];
        seen[item] = true;
    }
    free(seen);
    return d;
}

START_TEST(mf_train_sparse_matches_reference)
{
    enum { USERS = 4, PER = 23, ITEMS = 40, K = 5, U = 2 };
    const double l2 = 0.05;
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, USERS, PER, ITEMS, 13);
    fs_model *m = fs_mf_new(ITEMS, K, l2, 8);
    size_t np = m->n_params;
    fs_real *w = malloc(np * sizeof *w), *w_ref = malloc(np * sizeof *w_ref);
    fs_real *moved = calloc(np, sizeof *moved), table[USERS * (K + 1)], p_ref[K + 1];
    random_params(m, w, table, USERS, 5);
    memcpy(w_ref, w, np * sizeof *w);
    memcpy(p_ref, table + U * (K + 1), sizeof p_ref);
    const uint32_t *rows = part.rows + part.offset[U];
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, np, true, K + 1), FS_OK);
    memcpy(u.personal, p_ref, sizeof p_ref);
    fs_sgd_cfg cfg = {.epochs = 3, .batch_size = 4, .lr = 0.05};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 7, FS_RNG_TRAIN, U, 1);
    ck_assert_int_eq(m->ops->train_sparse(m, w, &ds, rows, PER, &cfg, r, NULL, &u, &res), FS_OK);
    ck_assert_uint_eq(res.steps, 3 * 6);
    ck_assert(isfinite(res.mean_loss) && res.mean_loss > 0);
    fs_rng_reseed(r, 7, FS_RNG_TRAIN, U, 1);
    reference_sgd(ITEMS, K, l2, w_ref, p_ref, &ds, rows, PER, &cfg, r);
    /* Only federated entries: the touched items' q rows and b_i, and mu. */
    ck_assert(u.sparse);
    ck_assert_uint_eq(u.n_params, np);
    ck_assert_uint_eq(u.nnz, distinct_items(&ds, rows, PER, ITEMS) * (K + 1) + 1);
    for (size_t e = 0; e < u.nnz; e++) {
        ck_assert_uint_lt(u.idx[e], np);
        if (e) ck_assert_uint_lt(u.idx[e - 1], u.idx[e]);
        moved[u.idx[e]] = u.val[e];
    }
    ck_assert_uint_eq(u.idx[u.nnz - 1], np - 1);
    double worst = 0, worst_p = 0;
    for (size_t j = 0; j < np; j++)
        worst = fmax(worst, fabs((double)w[j] + moved[j] - w_ref[j]));
    for (size_t j = 0; j <= K; j++)
        worst_p = fmax(worst_p, fabs(u.personal[j] - p_ref[j]));
    /* f32: the model accumulates gradients in float32, the reference in double, both step
     * float32 parameters 18 times; measured 1.5e-8 (both) */
    fs_test_err_lt("mf train_sparse vs reference", worst, FS_TEST_TOL(1e-12, 1.5e-7));
    fs_test_err_lt("mf train_sparse vs reference personal", worst_p, FS_TEST_TOL(1e-12, 1.5e-7));
    gsl_rng_free(r);
    fs_update_fini(&u);
    free(w), free(w_ref), free(moved);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

/* The personal vector never reaches the update: the update's size depends on the items touched,
 * and a client with other personal values sends the same indices. A warm update reallocates
 * nothing for a client no larger than the last. */
START_TEST(mf_update_holds_no_personal_values_and_stays_warm)
{
    enum { USERS = 3, PER = 30, ITEMS = 1000, K = 16 };
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, USERS, PER, ITEMS, 14);
    fs_model *m = fs_mf_new(ITEMS, K, 0.01, 16);
    fs_real *w = malloc(m->n_params * sizeof *w), table[USERS * (K + 1)];
    random_params(m, w, table, USERS, 6);
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, K + 1), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 2, .batch_size = 8, .lr = 0.05};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    uint32_t *idx0 = NULL;
    size_t cap0 = 0;
    for (size_t c = 0; c < USERS; c++) {
        memcpy(u.personal, table + c * (K + 1), (K + 1) * sizeof *u.personal);
        fs_rng_reseed(r, 1, FS_RNG_TRAIN, c, 0);
        const uint32_t *rows = part.rows + part.offset[c];
        ck_assert_int_eq(m->ops->train_sparse(m, w, &ds, rows, PER, &cfg, r, NULL, &u, &res),
                         FS_OK);
        ck_assert_uint_eq(u.nnz, distinct_items(&ds, rows, PER, ITEMS) * (K + 1) + 1);
        if (c == 0) {
            idx0 = u.idx, cap0 = u.cap;
            ck_assert_uint_lt(cap0, 4 * PER * (K + 1)); /* O(client), never O(n_items) */
        } else {
            ck_assert_ptr_eq(u.idx, idx0);
            ck_assert_uint_eq(u.cap, cap0);
        }
    }
    /* Same client, other personal values: same indices, as many of them. */
    size_t nnz = u.nnz;
    uint32_t *idx = malloc(nnz * sizeof *idx);
    memcpy(idx, u.idx, nnz * sizeof *idx);
    for (size_t j = 0; j <= K; j++)
        u.personal[j] = 5.0 * (double)j;
    fs_rng_reseed(r, 1, FS_RNG_TRAIN, USERS - 1, 0);
    const uint32_t *rows = part.rows + part.offset[USERS - 1];
    cfg.lr = 1e-3;
    ck_assert_int_eq(m->ops->train_sparse(m, w, &ds, rows, PER, &cfg, r, NULL, &u, &res), FS_OK);
    ck_assert_uint_eq(u.nnz, nnz);
    ck_assert_mem_eq(u.idx, idx, nnz * sizeof *idx);
    free(idx);
    gsl_rng_free(r);
    fs_update_fini(&u);
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

START_TEST(mf_train_sparse_reports_divergence)
{
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, 1, 20, 6, 15);
    fs_model *m = fs_mf_new(6, 2, 0, 20);
    fs_real *w = malloc(m->n_params * sizeof *w), table[3];
    random_params(m, w, table, 1, 7);
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, 3), FS_OK);
    memcpy(u.personal, table, sizeof table);
    fs_sgd_cfg cfg = {.epochs = 200, .batch_size = 5, .lr = 50};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    ck_assert_int_eq(m->ops->train_sparse(m, w, &ds, part.rows, 20, &cfg, r, NULL, &u, &res),
                     FS_ENUMERIC);
    ck_assert(!isfinite(res.mean_loss));
    gsl_rng_free(r);
    fs_update_fini(&u);
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

START_TEST(mf_predict_without_table_uses_zero_personal)
{
    fs_dataset ds;
    fs_partition part;
    toy_ratings(&ds, &part, 2, 3, 4, 16);
    fs_model *m = fs_mf_new(4, 2, 0, 8);
    fs_real *w = malloc(m->n_params * sizeof *w), table[6];
    double out[6];
    random_params(m, w, table, 2, 8);
    m->ops->predict(m, w, &ds, part.rows, 6, out, NULL);
    for (size_t i = 0; i < 6; i++) {
        uint32_t item = ds.idx[i];
        ck_assert(out[i] == w[m->n_params - 1] + 0.0 + w[8 + item]); /* mu + b_i */
    }
    fs_model_set_personal(m, table, 0);
    m->ops->predict(m, w, &ds, part.rows, 6, out, NULL);
    double worst = 0;
    for (size_t i = 0; i < 6; i++) {
        uint32_t item = ds.idx[i];
        const fs_real *p = table + (i / 3) * 3;
        double want = (double)w[m->n_params - 1] + p[2] + w[8 + item] + (double)p[0] * w[2 * item] +
                      (double)p[1] * w[2 * item + 1];
        worst = fmax(worst, fabs(out[i] - want));
    }
    /* f32: the model multiplies p_u . q_i in float32, the check in double; measured 5.2e-10 */
    fs_test_err_lt("mf predict with table", worst, FS_TEST_TOL(1e-14, 5e-9));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
    fs_partition_fini(&part);
}
END_TEST

/* Root mean squared error of predictions over every row of ds. */
static double rmse(const fs_model *m, const fs_real *w, const fs_dataset *ds)
{
    double sq = 0, out[64];
    uint32_t rows[64];
    for (size_t at = 0; at < ds->n; at += 64) {
        size_t b = ds->n - at < 64 ? ds->n - at : 64;
        for (size_t i = 0; i < b; i++)
            rows[i] = (uint32_t)(at + i);
        m->ops->predict(m, w, ds, rows, b, out, NULL);
        for (size_t i = 0; i < b; i++)
            sq += (out[i] - ds->target[at + i]) * (out[i] - ds->target[at + i]);
    }
    return sqrt(sq / (double)ds->n);
}

static double rmse_of_constant(const fs_dataset *ds, double c)
{
    double sq = 0;
    for (size_t i = 0; i < ds->n; i++)
        sq += (c - ds->target[i]) * (c - ds->target[i]);
    return sqrt(sq / (double)ds->n);
}

/* One pass over the users in order: each trains from the current model and its delta is applied
 * at once, its personal vector written back to the table. */
static void train_pass(const fs_model *m, fs_real *w, fs_real *table, const fs_dataset *tr,
                       const fs_partition *tp, fs_update *u, int pass)
{
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = 4, .lr = 0.05};
    fs_sgd_result res;
    gsl_rng *r = fs_rng_new();
    for (size_t c = 0; c < tp->n_clients; c++) {
        fs_real *p = table + c * m->n_personal;
        memcpy(u->personal, p, m->n_personal * sizeof *p);
        fs_rng_reseed(r, 5, FS_RNG_TRAIN, c, (uint64_t)pass);
        ck_assert_int_eq(m->ops->train_sparse(m, w, tr, tp->rows + tp->offset[c],
                                              fs_partition_size(tp, c), &cfg, r, NULL, u, &res),
                         FS_OK);
        for (size_t e = 0; e < u->nnz; e++)
            w[u->idx[e]] += u->val[e];
        memcpy(p, u->personal, m->n_personal * sizeof *p);
    }
    gsl_rng_free(r);
}

START_TEST(mf_learns_ratings)
{
    enum { USERS = 300, K = 8 };
    fs_ratings_cfg rc = ratings_defaults(0);
    rc.n_items = 200;
    rc.seed = 21;
    fs_err err;
    fs_err_init(&err, NULL);
    fs_gen *g = fs_gen_ratings_new(&rc, &err);
    ck_assert_ptr_nonnull(g);
    fs_dataset tr, te;
    fs_partition tp, ep;
    ck_assert_int_eq(fs_gen_materialize(g, USERS, 1, &tr, &tp, &te, &ep, &err), FS_OK);
    fs_model *m = fs_mf_new(rc.n_items, K, 0.02, 64);
    fs_real *w = malloc(m->n_params * sizeof *w), *table = malloc(USERS * (K + 1) * sizeof *table);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 5, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    for (size_t c = 0; c < USERS; c++)
        m->ops->init_personal(m, table + c * (K + 1), r);
    fs_model_set_personal(m, table, fs_dataset_find_group(&tr, "user"));
    double mean = 0;
    for (size_t i = 0; i < tr.n; i++)
        mean += tr.target[i] / (double)tr.n;
    double base = rmse_of_constant(&te, mean), before = rmse(m, w, &te);
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, K + 1), FS_OK);
    for (int pass = 0; pass < 30; pass++)
        train_pass(m, w, table, &tr, &tp, &u, pass);
    double after = rmse(m, w, &te);
    ck_assert_msg(after < 0.8 * base, "test RMSE %.4f (before %.4f), mean baseline %.4f", after,
                  before, base);
    fs_update_fini(&u);
    gsl_rng_free(r);
    free(w), free(table);
    fs_model_free(m);
    fs_dataset_fini(&tr), fs_dataset_fini(&te);
    fs_partition_fini(&tp), fs_partition_fini(&ep);
    fs_gen_free(g);
}
END_TEST

/* One user, 6 items, k = 1, biases 0, item factors q = (0, 2, -9, 1, 1, 1): train rates item 0,
 * test rates item 1 (at `rating`) and item 2 (at 2, not a positive). Asking for 10 negatives
 * gets the 3 unrated items 3, 4, 5. With the user's factor p, item 1 scores 2p against p for each
 * negative; items 0 and 2 (0 and -9p) would change the count if rated items were drawn. */
static double tiny_hit_rate(double p_u, float rating, size_t top_k)
{
    fs_dataset tr, te;
    fs_partition tp, ep;
    toy_ratings(&tr, &tp, 1, 1, 6, 1);
    toy_ratings(&te, &ep, 1, 2, 6, 1);
    tr.idx[0] = 0, tr.target[0] = 3;
    te.idx[0] = 1, te.target[0] = rating;
    te.idx[1] = 2, te.target[1] = 2;
    fs_model *m = fs_mf_new(6, 1, 0, 8);
    fs_real w[6 + 6 + 1] = {0, 2, -9, 1, 1, 1}, table[2] = {p_u, 0.25};
    w[12] = 3.5;
    fs_model_set_personal(m, table, 0);
    double hr = fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, top_k, 10, 9, 1);
    fs_model_free(m);
    fs_dataset_fini(&tr), fs_dataset_fini(&te);
    fs_partition_fini(&tp), fs_partition_fini(&ep);
    return hr;
}

START_TEST(mf_hit_rate_tiny_cases)
{
    ck_assert(tiny_hit_rate(1.0, 5, 1) == 1.0);    /* 2 against 1, 1, 1: ranked first */
    ck_assert(tiny_hit_rate(-1.0, 4, 3) == 0.0);   /* -2 against -1, -1, -1: ranked last */
    ck_assert(tiny_hit_rate(-1.0, 4, 4) == 1.0);   /* last of 4 is within the top 4, unless
                                                      item 0 (0) or item 2 (9) were negatives */
    ck_assert(isnan(tiny_hit_rate(1.0, 3.9f, 1))); /* no test rating >= 4 */
}
END_TEST

START_TEST(mf_hit_rate_is_deterministic_and_learned)
{
    enum { USERS = 200, K = 8 };
    fs_ratings_cfg rc = ratings_defaults(0);
    rc.n_items = 1000;
    rc.seed = 22;
    fs_gen *g = fs_gen_ratings_new(&rc, NULL);
    fs_dataset tr, te;
    fs_partition tp, ep;
    ck_assert_int_eq(fs_gen_materialize(g, USERS, 1, &tr, &tp, &te, &ep, NULL), FS_OK);
    fs_model *m = fs_mf_new(rc.n_items, K, 0.02, 64);
    fs_real *w = malloc(m->n_params * sizeof *w), *table = malloc(USERS * (K + 1) * sizeof *table);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 6, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    for (size_t c = 0; c < USERS; c++)
        m->ops->init_personal(m, table + c * (K + 1), r);
    fs_model_set_personal(m, table, 0);
    double h0 = fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, 10, 100, 3, 1);
    ck_assert(h0 >= 0 && h0 <= 1);
    ck_assert(h0 == fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, 10, 100, 3, 1));
    /* clients split over threads: the same hits and positives */
    ck_assert(h0 == fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, 10, 100, 3, 3));
    fs_update u;
    ck_assert_int_eq(fs_update_init(&u, m->n_params, true, K + 1), FS_OK);
    for (int pass = 0; pass < 10; pass++)
        train_pass(m, w, table, &tr, &tp, &u, pass);
    double h1 = fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, 10, 100, 3, 1);
    ck_assert(h1 == fs_mf_hit_rate(m, w, &tr, &tp, &te, &ep, 10, 100, 3, 2));
    /* A random ranking hits 10 / 101 of the time; 1000 items leave every user 100 negatives. */
    ck_assert_msg(h1 > 0.2 && h1 > 2 * h0, "hit rate @10 %.3f before training, %.3f after", h0, h1);
    fs_update_fini(&u);
    gsl_rng_free(r);
    free(w), free(table);
    fs_model_free(m);
    fs_dataset_fini(&tr), fs_dataset_fini(&te);
    fs_partition_fini(&tp), fs_partition_fini(&ep);
    fs_gen_free(g);
}
END_TEST

static Suite *mf_suite(void)
{
    Suite *s = suite_create("mf");
    TCase *tc = tcase_create("core");
#ifndef FS_REAL_DOUBLE
    tcase_add_test(tc, mf_ratings_defaults_match_the_schema);
#endif
    tcase_add_test(tc, mf_shapes_and_init);
    tcase_add_test(tc, mf_loss_grad_matches_finite_diff);
    tcase_add_test(tc, mf_personal_grad_matches_finite_diff);
    tcase_add_test(tc, mf_train_sparse_matches_reference);
    tcase_add_test(tc, mf_update_holds_no_personal_values_and_stays_warm);
    tcase_add_test(tc, mf_train_sparse_reports_divergence);
    tcase_add_test(tc, mf_predict_without_table_uses_zero_personal);
    tcase_add_test(tc, mf_learns_ratings);
    tcase_add_test(tc, mf_hit_rate_tiny_cases);
    tcase_add_test(tc, mf_hit_rate_is_deterministic_and_learned);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(mf_suite)
