/* test_mlp: the MLP model ops: gradients against central finite differences (softmax and
 * sigmoid heads), shapes of the McMahan 2NN, probabilities, agreement with the softmax model
 * when there is no hidden layer, and SGD on a problem no linear model can solve. Also the fused
 * SGD step (sgd_step) of the mlp, softmax and cnn models against loss_grad and an axpy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_grad.h"

START_TEST(mlp_grad_matches_finite_diff)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 7, 6, 3, 11);
    const size_t hidden[2] = {5, 4};
    fs_model *m = fs_mlp_new(6, hidden, 2, 3, false, 8);
    ck_assert_uint_eq(m->n_params, 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
    fs_real *w = fs_test_random_params(m, 5);
    /* f32: worst coordinate of finite differences of a float32 loss through two layers
     * (h = 1e-2); measured 3.9e-4 */
    fs_test_err_lt("mlp grad worst", fs_test_grad_check(m, w, &ds, 7).worst,
                   FS_TEST_TOL(1e-5, 4e-3));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(mlp_sigmoid_grad_matches_finite_diff)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 9, 5, 2, 12);
    const size_t hidden[1] = {6};
    fs_model *m = fs_mlp_new(5, hidden, 1, 2, true, 9);
    ck_assert_uint_eq(m->n_params, 5 * 6 + 6 + 6 * 1 + 1); /* one output unit */
    fs_real *w = fs_test_random_params(m, 6);
    /* f32: as above; measured 2.6e-4 */
    fs_test_err_lt("mlp sigmoid grad worst", fs_test_grad_check(m, w, &ds, 9).worst,
                   FS_TEST_TOL(1e-5, 3e-3));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(mlp_2nn_shapes_and_flops)
{
    const size_t hidden[2] = {200, 200};
    fs_model *m = fs_mlp_new(784, hidden, 2, 10, false, 10);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->ops->name, "mlp");
    ck_assert_uint_eq(m->n_params, 199210);
    ck_assert_double_eq(m->flops_per_sample, 2.0 * (784 * 200 + 200 * 200 + 200 * 10));
    ck_assert_double_eq(m->flops_per_sample, 397600.0);
    fs_model_free(m);
    /* sigmoid_output only applies to two classes: ten classes keep the softmax head. */
    m = fs_mlp_new(784, hidden, 2, 10, true, 10);
    ck_assert_uint_eq(m->n_params, 199210);
    fs_model_free(m);
}
END_TEST

START_TEST(mlp_init_is_deterministic_and_scaled)
{
    const size_t hidden[1] = {50};
    fs_model *m = fs_mlp_new(40, hidden, 1, 3, false, 4);
    fs_real *a = malloc(m->n_params * sizeof *a), *b = malloc(m->n_params * sizeof *b);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 3, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, a, r);
    fs_rng_reseed(r, 3, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, b, r);
    double bound1 = sqrt(6.0 / 40), bound2 = sqrt(3.0 / 50), max1 = 0;
    for (size_t i = 0; i < m->n_params; i++) ck_assert(a[i] == b[i]);
    for (size_t i = 0; i < 40 * 50; i++) {
        ck_assert(fabs(a[i]) <= bound1);
        max1 = fmax(max1, fabs(a[i]));
    }
    ck_assert_double_gt(max1, 0.9 * bound1); /* He-uniform fills its range */
    for (size_t i = 2000; i < 2050; i++) ck_assert(a[i] == 0);           /* b1 */
    for (size_t i = 2050; i < 2200; i++) ck_assert(fabs(a[i]) <= bound2); /* W2 */
    for (size_t i = 2200; i < 2203; i++) ck_assert(a[i] == 0);           /* b2 */
    gsl_rng_free(r);
    free(a), free(b);
    fs_model_free(m);
}
END_TEST

/* Softmax rows sum to one even with huge logits; predict agrees with the loss of loss_grad. */
START_TEST(mlp_predict_rows_sum_to_one)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 9, 5, 4, 8);
    const size_t hidden[1] = {7};
    fs_model *m = fs_mlp_new(5, hidden, 1, 4, false, 9);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    double p[9 * 4];
    for (size_t i = 0; i < m->n_params; i++) w[i] = 3.0 * sin((double)i);
    uint32_t *rows = fs_test_all_rows(9);
    m->ops->predict(m, w, &ds, rows, 9, p, s);
    double nll = 0, worst = 0;
    for (size_t i = 0; i < 9; i++) {
        double sum = 0;
        for (size_t k = 0; k < 4; k++) {
            ck_assert(p[i * 4 + k] >= 0 && p[i * 4 + k] <= 1);
            sum += p[i * 4 + k];
        }
        worst = fmax(worst, fabs(sum - 1.0));
        nll -= log(p[i * 4 + (size_t)ds.y[i]]);
    }
    fs_test_err_lt("mlp row sum", worst, 1e-12); /* probabilities and losses are double */
    /* float32: predict's output layer (fs_nn_dense_predict's direct kernel) sums each logit in
     * another order than loss_grad's sgemm, so the logits (|z| < 30 here) differ by a few of
     * their ulps (2e-6 each) and the mean loss by as much; measured 1.2e-7. */
    fs_test_err_lt("mlp loss vs predict",
                   fabs(m->ops->loss_grad(m, w, &ds, rows, 9, g, s) - nll / 9),
                   FS_TEST_TOL(1e-9, 1e-5));
    free(w), free(g), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(mlp_sigmoid_predict_is_two_columns)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 6, 3, 2, 9);
    const size_t hidden[1] = {4};
    fs_model *m = fs_mlp_new(3, hidden, 1, 2, true, 6);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_params(m, 2), *g = malloc(m->n_params * sizeof *g);
    double p[6 * 2];
    uint32_t *rows = fs_test_all_rows(6);
    m->ops->predict(m, w, &ds, rows, 6, p, s);
    double nll = 0, worst = 0;
    for (size_t i = 0; i < 6; i++) {
        ck_assert(p[2 * i] > 0 && p[2 * i + 1] > 0);
        worst = fmax(worst, fabs(p[2 * i] + p[2 * i + 1] - 1.0));
        nll -= log(p[2 * i + (size_t)ds.y[i]]);
    }
    fs_test_err_lt("mlp sigmoid row sum", worst, 1e-12);
    fs_test_err_lt("mlp sigmoid loss vs predict", /* the same orders as above; measured 3.5e-9 */
                   fabs(m->ops->loss_grad(m, w, &ds, rows, 6, g, s) - nll / 6),
                   FS_TEST_TOL(1e-9, 1e-6));
    free(w), free(g), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* With no hidden layer the MLP is multinomial logistic regression with the same layout. */
START_TEST(mlp_without_hidden_layers_equals_softmax)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 11, 6, 4, 13);
    fs_model *mlp = fs_mlp_new(6, NULL, 0, 4, false, 11), *sm = fs_softmax_new(6, 4, 11);
    ck_assert_uint_eq(mlp->n_params, sm->n_params);
    fs_model_scratch *s1 = fs_model_scratch_new(mlp), *s2 = fs_model_scratch_new(sm);
    fs_real *w = fs_test_random_params(mlp, 4), *g1 = malloc(sm->n_params * sizeof *g1);
    fs_real *g2 = malloc(sm->n_params * sizeof *g2);
    uint32_t *rows = fs_test_all_rows(11);
    double l1 = mlp->ops->loss_grad(mlp, w, &ds, rows, 11, g1, s1);
    double l2 = sm->ops->loss_grad(sm, w, &ds, rows, 11, g2, s2);
    double worst = 0;
    for (size_t i = 0; i < sm->n_params; i++)
        worst = fmax(worst, fabs(g1[i] - g2[i]));
    /* the same GEMMs in the same order in either precision */
    fs_test_err_lt("mlp without hidden vs softmax loss", fabs(l1 - l2), 1e-12);
    fs_test_err_lt("mlp without hidden vs softmax grad", worst, 1e-12);
    free(w), free(g1), free(g2), free(rows);
    fs_model_scratch_free(s1);
    fs_model_scratch_free(s2);
    fs_model_free(mlp);
    fs_model_free(sm);
    fs_dataset_fini(&ds);
}
END_TEST

/* XOR of signs in 2-D: label 1 when x0 * x1 > 0. No linear model beats ~50%. */
static void xor_dataset(fs_dataset *ds, size_t n)
{
    fs_test_random_dataset(ds, n, 2, 2, 21);
    for (size_t i = 0; i < n; i++) ds->y[i] = ds->x[2 * i] * ds->x[2 * i + 1] > 0;
}

static void sgd_solves_xor(bool sigmoid)
{
    fs_dataset ds;
    xor_dataset(&ds, 400);
    const size_t hidden[2] = {16, 16};
    fs_model *m = fs_mlp_new(2, hidden, 2, 2, sigmoid, 16);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_params(m, 1);
    fs_eval_result before, after;
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &before), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 60, .batch_size = 16, .lr = 0.1};
    ck_assert_uint_eq(fs_test_sgd(m, w, &ds, 400, &cfg, 1, s).steps, 60 * 25);
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &after), FS_OK);
    ck_assert_double_lt(after.loss, 0.5 * before.loss);
    ck_assert_double_gt(after.accuracy, 0.93);
    free(w);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}

START_TEST(mlp_sgd_reduces_loss_on_xor)
{
    sgd_solves_xor(false);
}
END_TEST

START_TEST(mlp_sigmoid_sgd_reduces_loss_on_xor)
{
    sgd_solves_xor(true);
}
END_TEST

/* ---- the fused SGD step (fs_model_ops.sgd_step) of mlp, softmax and cnn ---- */

/* Four steps on consecutive batches of ds from the same random parameters, fused (sgd_step) and
 * as fs_sgd_train's unfused path takes them (loss_grad, then w -= lr g). Returns the largest
 * parameter difference relative to the largest distance the steps moved a parameter;
 * *loss_err := the largest difference of the batch losses the two report. */
static double fused_step_error(const fs_model *m, const fs_dataset *ds, size_t batch, double lr,
                               double *loss_err)
{
    enum { STEPS = 4 };
    ck_assert_uint_eq(ds->n, STEPS * batch);
    ck_assert_ptr_nonnull(m->ops->sgd_step);
    fs_model_scratch *s = fs_model_scratch_new(m);
    size_t np = m->n_params;
    fs_real *fused = fs_test_random_params(m, 7), *plain = malloc(np * sizeof *plain);
    fs_real *w0 = malloc(np * sizeof *w0), *g = malloc(np * sizeof *g);
    memcpy(plain, fused, np * sizeof *plain);
    memcpy(w0, fused, np * sizeof *w0);
    uint32_t *rows = fs_test_all_rows(ds->n);
    *loss_err = 0;
    for (size_t t = 0; t < STEPS; t++) {
        double lf = m->ops->sgd_step(m, fused, ds, rows + t * batch, batch, lr, s);
        double lp = m->ops->loss_grad(m, plain, ds, rows + t * batch, batch, g, s);
        fs_real_axpy(np, (fs_real)-lr, g, plain);
        ck_assert(isfinite(lf));
        *loss_err = fmax(*loss_err, fabs(lf - lp));
    }
    double diff = 0, moved = 0;
    for (size_t j = 0; j < np; j++) {
        diff = fmax(diff, fabs((double)fused[j] - plain[j]));
        moved = fmax(moved, fabs((double)plain[j] - w0[j]));
    }
    ck_assert_double_gt(moved, 1e-3); /* the steps did move the model */
    free(fused), free(plain), free(w0), free(g), free(rows);
    fs_model_scratch_free(s);
    return diff / moved;
}

/* The fused step equals loss_grad and an axpy up to rounding (fs_model.h): in f64 to a few
 * ulps (measured <= 5e-16 relative, losses <= 7e-15). In f32 it adds each layer's GEMM update
 * into the weights (beta = 1) instead of rounding a separate gradient first, so parameters
 * differ by float32 roundings, and the later batches' losses by what that moves: measured at
 * most 8.7e-7 of the distance moved (mlp sigmoid) and 3.9e-6 in the loss (cnn). */
START_TEST(fused_sgd_step_equals_loss_grad_and_axpy)
{
    static const size_t hidden[2] = {5, 4};
    struct {
        const char *name;
        fs_model *m;
        size_t d, batch;
    } cases[] = {
        {"mlp", fs_mlp_new(6, hidden, 2, 3, false, 8), 6, 8},
        {"mlp sigmoid", fs_mlp_new(6, hidden, 1, 2, true, 8), 6, 8},
        {"softmax", fs_softmax_new(6, 3, 8), 6, 8},
        {"cnn", fs_cnn_new(8, 8, 2, 3, 4), 8 * 8 * 2, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        fs_dataset ds;
        fs_test_random_dataset(&ds, 4 * cases[c].batch, cases[c].d, cases[c].m->n_classes, 30 + c);
        double loss_err, err = fused_step_error(cases[c].m, &ds, cases[c].batch, 0.1, &loss_err);
        char what[64];
        snprintf(what, sizeof what, "%s fused step params (relative)", cases[c].name);
        fs_test_err_lt(what, err, FS_TEST_TOL(1e-12, 1e-5));
        snprintf(what, sizeof what, "%s fused step loss", cases[c].name);
        fs_test_err_lt(what, loss_err, FS_TEST_TOL(1e-12, 4e-5));
        fs_model_free(cases[c].m);
        fs_dataset_fini(&ds);
    }
}
END_TEST

/* A CNN whose batch is larger than one slice cannot take the fused step (each layer's delta must
 * come from the weights before the step): fs_sgd_train takes such a batch through loss_grad and
 * the axpy, bit for bit. One whose batch fits a slice offers the fused step. */
START_TEST(cnn_sliced_batch_is_not_fused)
{
    enum { N = 45 }; /* more than one slice of 28x28 images (cnn_large_batch_is_mean_...) */
    fs_model *big = fs_cnn_new(28, 28, 1, 10, N), *small = fs_cnn_new(28, 28, 1, 10, 4);
    ck_assert_ptr_nonnull(small->ops->sgd_step);
    fs_dataset ds;
    fs_test_random_dataset(&ds, N, 28 * 28, 10, 52);
    size_t np = big->n_params;
    fs_model_scratch *s = fs_model_scratch_new(big);
    fs_real *w = fs_test_random_params(big, 11), *ref = malloc(np * sizeof *ref);
    fs_real *g = malloc(np * sizeof *g);
    memcpy(ref, w, np * sizeof *ref);
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = N, .lr = 0.05};
    ck_assert_uint_eq(fs_test_sgd(big, w, &ds, N, &cfg, 4, s).steps, 1);
    /* the same step unfused: fs_test_sgd's stream, fs_sgd_train's shuffle of the rows */
    uint32_t *order = fs_test_all_rows(N);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 4, FS_RNG_TRAIN, 0, 0);
    fs_rng_shuffle_u32(r, order, N);
    big->ops->loss_grad(big, ref, &ds, order, N, g, s);
    fs_real_axpy(np, (fs_real)-cfg.lr, g, ref);
    ck_assert_mem_eq(w, ref, np * sizeof *w);
    gsl_rng_free(r);
    free(w), free(ref), free(g), free(order);
    fs_model_scratch_free(s);
    fs_dataset_fini(&ds);
    fs_model_free(big);
    fs_model_free(small);
}
END_TEST

START_TEST(mlp_on_pixels_equals_mlp_on_their_floats)
{
    size_t hidden[2] = {8, 6};
    fs_model *m = fs_mlp_new(20, hidden, 2, 5, false, 6);
    fs_test_model_on_pixels(m, fs_test_random_params(m, 8));
}
END_TEST

static Suite *mlp_suite(void)
{
    Suite *s = suite_create("mlp");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, mlp_grad_matches_finite_diff);
    tcase_add_test(tc, mlp_sigmoid_grad_matches_finite_diff);
    tcase_add_test(tc, mlp_2nn_shapes_and_flops);
    tcase_add_test(tc, mlp_init_is_deterministic_and_scaled);
    tcase_add_test(tc, mlp_predict_rows_sum_to_one);
    tcase_add_test(tc, mlp_sigmoid_predict_is_two_columns);
    tcase_add_test(tc, mlp_without_hidden_layers_equals_softmax);
    tcase_add_test(tc, mlp_sgd_reduces_loss_on_xor);
    tcase_add_test(tc, mlp_sigmoid_sgd_reduces_loss_on_xor);
    tcase_add_test(tc, fused_sgd_step_equals_loss_grad_and_axpy);
    tcase_add_test(tc, cnn_sliced_batch_is_not_fused);
    tcase_add_test(tc, mlp_on_pixels_equals_mlp_on_their_floats);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(mlp_suite)
