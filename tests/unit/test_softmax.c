/* test_softmax: the softmax model ops (gradient, loss, predict) and the generic SGD and
 * evaluation routines (fs_sgd.c, fs_model.c), on small hand-built datasets. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_nn.h"
#include "fs_nn_small.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_grad.h"

/* ||fd - g|| / ||g|| over every parameter, at weights ~ N(0, 0.5^2); the gradient is asserted
 * not to be (nearly) zero. */
START_TEST(softmax_grad_matches_finite_diff)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 7, 5, 3, 11);
    fs_model *m = fs_softmax_new(5, 3, 7);
    fs_real *w = fs_test_random_weights(m->n_params, 0.5, 5);
    /* f32: finite differences of a float32 loss (h = 1e-2); measured 5.2e-6 */
    fs_test_err_lt("softmax grad rel_norm", fs_test_grad_check(m, w, &ds, 7).rel_norm,
                   FS_TEST_TOL(1e-6, 5e-5));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(softmax_zero_weights_loss_is_log_n_classes)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 20, 4, 6, 3);
    fs_model *m = fs_softmax_new(4, 6, 32);
    ck_assert_str_eq(m->ops->name, "softmax");
    ck_assert_uint_eq(m->n_params, 6 * 4 + 6);
    ck_assert_double_eq(m->flops_per_sample, 2.0 * 4 * 6);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    for (size_t i = 0; i < m->n_params; i++) w[i] = 123; /* init must overwrite everything */
    m->ops->init(m, w, NULL);
    uint32_t *rows = fs_test_all_rows(20);
    double loss = m->ops->loss_grad(m, w, &ds, rows, 20, g, s);
    fs_test_err_lt("softmax loss at zero weights", fabs(loss - log(6.0)), 1e-12);
    free(w), free(g), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* Three well separated blobs: class c centred at 4 * e_c. */
static void blobs(fs_dataset *ds, size_t n)
{
    fs_test_random_dataset(ds, n, 3, 3, 21);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < 3; j++) ds->x[i * 3 + j] *= 0.5f;
        ds->x[i * 3 + (size_t)ds->y[i]] += 4.0f;
    }
}

START_TEST(sgd_reduces_loss_on_separable_data)
{
    fs_dataset ds;
    blobs(&ds, 300);
    fs_model *m = fs_softmax_new(3, 3, 16);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = calloc(m->n_params, sizeof *w);
    uint32_t *rows = fs_test_all_rows(300);
    fs_eval_result before, after;
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &before), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 5, .batch_size = 16, .lr = 0.5};
    fs_sgd_result res = fs_test_sgd(m, w, &ds, 300, &cfg, 1, s);
    ck_assert_uint_eq(res.steps, 5 * 19); /* ceil(300 / 16) = 19 per epoch */
    ck_assert(isfinite(res.mean_loss) && res.mean_loss < before.loss);
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, rows, 300, s, &after), FS_OK);
    ck_assert_uint_eq(after.n, 300);
    ck_assert_double_lt(after.loss, 0.1 * before.loss);
    ck_assert_double_gt(after.accuracy, 0.97);
    free(w), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(sgd_nonfinite_loss_is_enumeric_and_keeps_w)
{
    fs_dataset ds;
    blobs(&ds, 10);
    fs_model *m = fs_softmax_new(3, 3, 4);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = calloc(m->n_params, sizeof *w), *g = malloc(m->n_params * sizeof *g);
    w[0] = NAN;
    uint32_t *rows = fs_test_all_rows(10), order[10];
    gsl_rng *r = fs_rng_new();
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = 4, .lr = 0.1};
    fs_sgd_result res;
    ck_assert_int_eq(fs_sgd_train(m, w, &ds, rows, 10, &cfg, r, order, g, s, &res), FS_ENUMERIC);
    ck_assert_uint_eq(res.steps, 0);
    for (size_t i = 1; i < m->n_params; i++) ck_assert_double_eq(w[i], 0);
    gsl_rng_free(r);
    free(w), free(g), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(softmax_predict_rows_sum_to_one)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 9, 5, 4, 8);
    fs_model *m = fs_softmax_new(5, 4, 9);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = malloc(m->n_params * sizeof *w);
    double p[9 * 4];
    for (size_t i = 0; i < m->n_params; i++) w[i] = 3.0 * sin((double)i); /* large logits */
    uint32_t *rows = fs_test_all_rows(9);
    m->ops->predict(m, w, &ds, rows, 9, p, s);
    double worst = 0;
    for (size_t i = 0; i < 9; i++) {
        double sum = 0;
        for (size_t k = 0; k < 4; k++) {
            ck_assert(p[i * 4 + k] >= 0 && p[i * 4 + k] <= 1);
            sum += p[i * 4 + k];
        }
        worst = fmax(worst, fabs(sum - 1.0));
    }
    fs_test_err_lt("softmax row sum", worst, 1e-12); /* probabilities are double */
    free(w), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* One feature, two classes, W = [1, -1], b = 0: p(class 0 | x) = 1 / (1 + exp(-2x)).
 * Rows (x, y): (1, 0) right; (-1, 0) wrong; (2, 1) wrong; (100, 1) wrong with p[y] ~ 1e-87,
 * clamped to 1e-15. max_batch 3 forces two chunks. */
START_TEST(evaluate_known_tiny_case)
{
    fs_dataset ds;
    ck_assert_int_eq(fs_dataset_alloc(&ds, 4, 1, 2), FS_OK);
    const float xs[4] = {1, -1, 2, 100};
    const int32_t ys[4] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) ds.x[i] = xs[i], ds.y[i] = ys[i];
    fs_model *m = fs_softmax_new(1, 2, 3);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real w[4] = {1, -1, 0, 0};
    double want = (log1p(exp(-2.0)) + log1p(exp(2.0)) + log1p(exp(4.0)) - log(1e-15)) / 4;
    fs_eval_result all, sel;
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &all), FS_OK);
    ck_assert_uint_eq(all.n, 4);
    fs_test_err_lt("softmax tiny case loss", fabs(all.loss - want), 1e-12); /* w exact in float */
    ck_assert_double_eq_tol(all.accuracy, 0.25, 1e-15);
    uint32_t rows[2] = {2, 0}; /* (2, 1) wrong, (1, 0) right */
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, rows, 2, s, &sel), FS_OK);
    fs_test_err_lt("softmax tiny case rows loss",
                   fabs(sel.loss - (log1p(exp(4.0)) + log1p(exp(-2.0))) / 2), 1e-12);
    ck_assert_double_eq_tol(sel.accuracy, 0.5, 1e-15);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* The reference for output o of row i of a dense layer (x: rows of d, w: c rows of d, then c
 * biases), in long double. */
static long double dense_ref(const fs_real *w, const fs_real *x, size_t i, size_t o, size_t d,
                             size_t c)
{
    long double ref = w[c * d + o];
    for (size_t k = 0; k < d; k++) ref += (long double)x[i * d + k] * w[o * d + k];
    return ref;
}

/* fs_nn_dense_predict against a long double reference at shapes that exercise every part of the
 * direct kernel (rows not a multiple of its 4, outputs not a multiple of its 5, inputs not a
 * multiple of the vector lanes, and 1), and the sgemm path above 16 outputs; then, up to 16
 * outputs, each row's outputs equal bit for bit those of the row predicted alone (evaluation
 * chunks never change a softmax prediction; sgemm's rounding depends on the shape). Inputs
 * ~ N(0, 1), weights ~ N(0, 0.1^2): a logit's terms sum in float32 with an error of about
 * sqrt(n_in) * eps * (the sum of |terms|), below 1e-5 here. */
START_TEST(dense_predict_matches_reference_and_is_row_independent)
{
    const size_t shapes[][3] = {{1, 1, 1},   {7, 17, 3},  {9, 784, 10}, {5, 33, 16},
                                {4, 16, 5},  {13, 15, 7}, {6, 40, 17},  {3, 200, 2}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        size_t n = shapes[t][0], d = shapes[t][1], c = shapes[t][2];
        fs_dataset ds;
        fs_test_random_dataset(&ds, n, d, 2, 40 + t);
        fs_real *x = malloc(n * d * sizeof *x), *z = malloc(n * c * sizeof *z), one[17];
        for (size_t i = 0; i < n * d; i++) x[i] = (fs_real)ds.x[i];
        fs_real *w = fs_test_random_weights(c * d + c, 0.1, 50 + t);
        fs_nn_dense_predict(w, w + c * d, x, n, d, c, false, z);
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            fs_nn_dense_predict(w, w + c * d, x + i * d, 1, d, c, false, one);
            for (size_t o = 0; o < c; o++) {
                long double ref = dense_ref(w, x, i, o, d, c);
                worst = fmax(worst, fabs((double)(z[i * c + o] - ref)));
                ck_assert_msg(c > 16 || memcmp(&one[o], &z[i * c + o], sizeof one[o]) == 0,
                              "shape %zu: row %zu output %zu alone differs", t, i, o);
            }
        }
        fs_test_err_lt("dense predict vs long double", worst, FS_TEST_TOL(1e-13, 1e-5));
        free(x), free(z), free(w);
        fs_dataset_fini(&ds);
    }
}
END_TEST

/* Training's forward pass (fs_nn_dense_forward) against a long double reference on both sides of
 * fs_nn_small_trains's rule (255 and 256 inputs, a tail of 12 lanes, 16 and 17 outputs), ReLU
 * on and off; where the rule takes the direct kernel the result is its bits, bias and ReLU
 * included. Tolerance as in the test above. */
START_TEST(dense_forward_matches_reference_on_either_kernel)
{
    const size_t shapes[][3] = {{10, 255, 10}, {10, 256, 10}, {10, 784, 10},
                                {7, 300, 16},  {3, 784, 17},  {33, 512, 3}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
        for (int relu = 0; relu < 2; relu++) {
            size_t n = shapes[t][0], d = shapes[t][1], c = shapes[t][2];
            fs_real *x = fs_test_random_weights(n * d, 1.0, 90 + t);
            fs_real *w = fs_test_random_weights(c * d + c, 0.1, 100 + t);
            fs_real *z = malloc(n * c * sizeof *z), *direct = malloc(n * c * sizeof *direct);
            ck_assert(z && direct);
            fs_nn_dense_forward(w, w + c * d, x, n, d, c, relu, z);
            double worst = 0;
            for (size_t i = 0; i < n; i++)
                for (size_t o = 0; o < c; o++) {
                    long double ref = dense_ref(w, x, i, o, d, c);
                    if (relu && ref < 0) ref = 0;
                    worst = fmax(worst, fabs((double)(z[i * c + o] - ref)));
                }
            fs_test_err_lt("dense forward vs long double", worst, FS_TEST_TOL(1e-13, 1e-5));
            if (fs_nn_small_trains(d, c)) {
                fs_nn_small_forward(w, w + c * d, x, n, d, c, direct);
                if (relu) fs_nn_relu(direct, n * c);
                ck_assert_msg(memcmp(z, direct, n * c * sizeof *z) == 0,
                              "shape %zu: the forward is not the direct kernel's", t);
            }
            free(x), free(w), free(z), free(direct);
        }
    /* the rule itself: never above 16 outputs, never under 256 inputs */
    ck_assert(!fs_nn_small_trains(784, 17) && !fs_nn_small_trains(255, 10));
    ck_assert(fs_nn_small_trains(784, 10) == !__builtin_cpu_supports("avx512f"));
}
END_TEST

/* The direct kernel holds its 16 lanes as one 64-byte vector on AVX-512 and as two 8-lane halves
 * elsewhere (fs_nn_small.c): the same terms in the same order, so on this CPU both layouts give
 * the same bits, for any rows, any outputs up to 16 and input widths around the lane count. */
START_TEST(small_forward_layouts_give_the_same_bits)
{
    const size_t shapes[][3] = {{1, 1, 1},  {7, 17, 3},  {9, 784, 10}, {5, 33, 16},
                                {4, 16, 5}, {13, 15, 7}, {6, 8, 11},   {3, 200, 2}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        size_t n = shapes[t][0], d = shapes[t][1], c = shapes[t][2];
        fs_real *x = fs_test_random_weights(n * d, 1.0, 70 + t);
        fs_real *w = fs_test_random_weights(c * d + c, 0.1, 80 + t);
        fs_real *a = malloc(n * c * sizeof *a), *b = malloc(n * c * sizeof *b);
        ck_assert(a && b);
        fs_nn_small_forward_as(w, w + c * d, x, n, d, c, false, a);
        fs_nn_small_forward_as(w, w + c * d, x, n, d, c, true, b);
        for (size_t i = 0; i < n * c; i++)
            ck_assert_msg(memcmp(&a[i], &b[i], sizeof a[i]) == 0,
                          "shape %zu: output %zu: %.9g (64-byte) vs %.9g (halves)", t, i,
                          (double)a[i], (double)b[i]);
        free(x), free(w), free(a), free(b);
    }
}
END_TEST

/* Every pixel value gathers as (fs_real)((float)p / 255.0f), bit for bit, whether the rows are
 * scattered (fs_nn_gather) or consecutive (fs_nn_rows, which must not read x in place). */
START_TEST(gathered_pixels_are_the_exact_quotients)
{
    fs_dataset c = {.n = 2, .d = 256, .n_classes = 2};
    ck_assert_ptr_nonnull(c.x8 = malloc(2 * 256));
    for (size_t i = 0; i < 2 * 256; i++)
        c.x8[i] = (uint8_t)(i < 256 ? i : 511 - i);
    fs_real got[2 * 256], want[2 * 256];
    for (size_t i = 0; i < 2 * 256; i++)
        want[i] = (fs_real)((float)c.x8[i] / 255.0f);
    uint32_t back[2] = {1, 0}, run[2] = {0, 1};
    fs_nn_gather(&c, back, 2, got);
    ck_assert_int_eq(memcmp(got, want + 256, 256 * sizeof *got), 0);
    ck_assert_int_eq(memcmp(got + 256, want, 256 * sizeof *got), 0);
    memset(got, 0, sizeof got);
    ck_assert_ptr_eq(fs_nn_rows(&c, run, 2, got), got);
    ck_assert_int_eq(memcmp(got, want, sizeof got), 0);
    ck_assert(got[255] == 1 && got[0] == 0);
    fs_dataset_fini(&c);
}
END_TEST

START_TEST(softmax_on_pixels_equals_softmax_on_their_floats)
{
    fs_model *m = fs_softmax_new(20, 5, 6);
    fs_test_model_on_pixels(m, fs_test_random_weights(m->n_params, 0.5, 8));
}
END_TEST

int main(void)
{
    Suite *su = suite_create("softmax");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, softmax_grad_matches_finite_diff);
    tcase_add_test(tc, softmax_zero_weights_loss_is_log_n_classes);
    tcase_add_test(tc, sgd_reduces_loss_on_separable_data);
    tcase_add_test(tc, sgd_nonfinite_loss_is_enumeric_and_keeps_w);
    tcase_add_test(tc, softmax_predict_rows_sum_to_one);
    tcase_add_test(tc, evaluate_known_tiny_case);
    tcase_add_test(tc, dense_predict_matches_reference_and_is_row_independent);
    tcase_add_test(tc, dense_forward_matches_reference_on_either_kernel);
    tcase_add_test(tc, small_forward_layouts_give_the_same_bits);
    tcase_add_test(tc, gathered_pixels_are_the_exact_quotients);
    tcase_add_test(tc, softmax_on_pixels_equals_softmax_on_their_floats);
    suite_add_tcase(su, tc);
    return fs_test_run(su);
}
