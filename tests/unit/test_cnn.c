/* test_cnn: the McMahan CNN model ops: forward pass against a direct loop-nest reference (which
 * pins the documented parameter layout), gradients against central finite differences on every
 * layer, slicing of large batches, probabilities, shapes and FLOPs of the 28x28x1 network, and
 * SGD on a small image task. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_grad.h"

/* Start of each parameter block (W1 b1 W2 b2 W3 b3 W4 b4) and the end, per fs_model.h. */
static void layout(size_t h, size_t w, size_t c, size_t k, size_t off[9])
{
    size_t len[8] = {32 * 25 * c, 32, 64 * 25 * 32, 64, 512 * (h / 4) * (w / 4) * 64, 512,
                     k * 512, k};
    off[0] = 0;
    for (int i = 0; i < 8; i++) off[i + 1] = off[i] + len[i];
}

/* ---- direct reference, one image, straight from the definition ---- */

static void ref_conv(const double *in, size_t h, size_t w, size_t cin, size_t cout,
                     const fs_real *W, const fs_real *b, double *out)
{
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (size_t o = 0; o < cout; o++) {
                double s = b[o];
                for (long ky = 0; ky < 5; ky++)
                    for (long kx = 0; kx < 5; kx++) {
                        long iy = (long)y + ky - 2, ix = (long)x + kx - 2;
                        if (iy < 0 || ix < 0 || iy >= (long)h || ix >= (long)w) continue;
                        for (size_t ci = 0; ci < cin; ci++)
                            s += W[o * 25 * cin + (size_t)(ky * 5 + kx) * cin + ci] *
                                 in[((size_t)iy * w + (size_t)ix) * cin + ci];
                    }
                out[(y * w + x) * cout + o] = s > 0 ? s : 0;
            }
}

static void ref_pool(const double *in, size_t h, size_t w, size_t c, double *out)
{
    for (size_t y = 0; y < h / 2; y++)
        for (size_t x = 0; x < w / 2; x++)
            for (size_t ch = 0; ch < c; ch++) {
                double mx = -INFINITY;
                for (size_t d = 0; d < 4; d++)
                    mx = fmax(mx, in[((2 * y + d / 2) * w + 2 * x + d % 2) * c + ch]);
                out[(y * (w / 2) + x) * c + ch] = mx;
            }
}

static void ref_fc(const double *in, size_t n_in, size_t n_out, const fs_real *W, const fs_real *b,
                   bool relu, double *out)
{
    for (size_t o = 0; o < n_out; o++) {
        double s = b[o];
        for (size_t i = 0; i < n_in; i++) s += W[o * n_in + i] * in[i];
        out[o] = relu && s < 0 ? 0 : s;
    }
}

/* Softmax probabilities of one image (h x w x c floats) under parameters p, computed in double
 * whatever fs_real is. */
static void ref_probs(const float *img, size_t h, size_t w, size_t c, size_t k, const fs_real *p,
                      double *probs)
{
    size_t off[9];
    layout(h, w, c, k, off);
    size_t hw = h * w, f_in = (hw / 16) * 64;
    double *x = malloc(hw * c * sizeof *x), *a1 = malloc(hw * 32 * sizeof *a1);
    double *p1 = malloc(hw / 4 * 32 * sizeof *p1), *a2 = malloc(hw / 4 * 64 * sizeof *a2);
    double *p2 = malloc(f_in * sizeof *p2), f1[512];
    for (size_t i = 0; i < hw * c; i++) x[i] = img[i];
    ref_conv(x, h, w, c, 32, p + off[0], p + off[1], a1);
    ref_pool(a1, h, w, 32, p1);
    ref_conv(p1, h / 2, w / 2, 32, 64, p + off[2], p + off[3], a2);
    ref_pool(a2, h / 2, w / 2, 64, p2);
    ref_fc(p2, f_in, 512, p + off[4], p + off[5], true, f1);
    ref_fc(f1, 512, k, p + off[6], p + off[7], false, probs);
    double mx = probs[0], sum = 0;
    for (size_t j = 1; j < k; j++) mx = fmax(mx, probs[j]);
    for (size_t j = 0; j < k; j++) sum += probs[j] = exp(probs[j] - mx);
    for (size_t j = 0; j < k; j++) probs[j] /= sum;
    free(x), free(a1), free(p1), free(a2), free(p2);
}

START_TEST(cnn_forward_matches_direct_reference)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 4, 8 * 12 * 2, 3, 31);
    fs_model *m = fs_cnn_new(8, 12, 2, 3, 4);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_params(m, 7);
    double p[4 * 3], want[3];
    uint32_t rows[4] = {2, 0, 3, 1};
    m->ops->predict(m, w, &ds, rows, 4, p, s);
    double worst = 0;
    for (size_t i = 0; i < 4; i++) {
        ref_probs(ds.x + rows[i] * ds.d, 8, 12, 2, 3, w, want);
        for (size_t j = 0; j < 3; j++)
            worst = fmax(worst, fabs(p[i * 3 + j] - want[j]));
    }
    /* f32: float32 activations through four layers against the double reference on the same
     * parameters; measured 2.3e-7 */
    fs_test_err_lt("cnn forward vs reference", worst, FS_TEST_TOL(1e-12, 3e-6));
    free(w);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* 25 random coordinates of each of the 8 parameter blocks (W and b of every layer), checked
 * one by one: |fd - g| / max(|fd|, |g|, FS_TEST_FD_FLOOR) < 1e-5 (f64). */
START_TEST(cnn_grad_matches_finite_diff)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 3, 8 * 8 * 2, 3, 41);
    fs_model *m = fs_cnn_new(8, 8, 2, 3, 3);
    size_t off[9];
    layout(8, 8, 2, 3, off);
    ck_assert_uint_eq(m->n_params, off[8]);
    fs_real *w = fs_test_random_params(m, 8);
    double worst = 0;
    fs_test_grad gc;
    /* f32: h = 1e-3, not FS_TEST_FD_STEP: the float32 loss's rounding noise grows as 1 / h, and
     * at h >= 3e-3 the ReLU and max-pool kinks inside the step dominate (even in f64, worst
     * 0.3 at h = 3e-3); at 1e-3 the worst of the 200 coordinates measured 0.017,
     * which still fails any wrong layer gradient by orders of magnitude */
    fs_test_grad_init(&gc, m, w, &ds, NULL, 3, FS_TEST_TOL(1e-5, 1e-3));
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 2, FS_RNG_TRAIN, 0, 0);
    size_t checked = 0;
    for (int blk = 0; blk < 8; blk++)
        for (int t = 0; t < 25; t++, checked++) {
            size_t i = off[blk] + gsl_rng_uniform_int(r, off[blk + 1] - off[blk]);
            worst = fmax(worst, fs_test_grad_coord_error(&gc, w, i));
        }
    ck_assert_uint_eq(checked, 200);
    fs_test_err_lt("cnn grad worst", worst, FS_TEST_TOL(1e-5, 0.25));
    /* The blocks are not silently zero: each has some sizeable gradient. */
    for (int blk = 0; blk < 8; blk++) {
        double mx = 0;
        for (size_t i = off[blk]; i < off[blk + 1]; i++) mx = fmax(mx, fabs(gc.g[i]));
        ck_assert_double_gt(mx, 1e-4);
    }
    gsl_rng_free(r);
    fs_test_grad_fini(&gc);
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(cnn_mcmahan_shapes_and_flops)
{
    fs_model *m = fs_cnn_new(28, 28, 1, 10, 10);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->ops->name, "cnn");
    ck_assert_uint_eq(m->n_params, 1663370);
    ck_assert_uint_eq(m->n_features, 784);
    double macs = 28.0 * 28 * 32 * 25 + 14.0 * 14 * 64 * 25 * 32 + 7.0 * 7 * 64 * 512 + 512 * 10;
    ck_assert_double_eq(m->flops_per_sample, 2 * macs);
    ck_assert_double_eq(m->flops_per_sample, 24546304.0);
    fs_model_free(m);
}
END_TEST

/* A batch larger than one internal slice: the loss and gradient are the means of the per-image
 * ones, and predict matches image-at-a-time predictions. */
START_TEST(cnn_large_batch_is_mean_of_single_images)
{
    enum { N = 45 };
    fs_dataset ds;
    fs_test_random_dataset(&ds, N, 28 * 28, 10, 51);
    fs_model *m = fs_cnn_new(28, 28, 1, 10, N);
    fs_model_scratch *s = fs_model_scratch_new(m);
    ck_assert_uint_lt(m->scratch_reals, (size_t)N * 150000); /* sliced, not sized for N */
    size_t np = m->n_params;
    fs_real *w = fs_test_random_params(m, 9), *g = malloc(np * sizeof *g);
    double *sum = calloc(np, sizeof *sum);
    fs_real *g1 = malloc(np * sizeof *g1);
    double p[N * 10], p1[10], loss1 = 0;
    uint32_t *rows = fs_test_all_rows(N);
    double loss = m->ops->loss_grad(m, w, &ds, rows, N, g, s), worst_p = 0, worst_g = 0;
    m->ops->predict(m, w, &ds, rows, N, p, s);
    for (size_t i = 0; i < N; i++) {
        loss1 += m->ops->loss_grad(m, w, &ds, rows + i, 1, g1, s);
        for (size_t j = 0; j < np; j++) sum[j] += g1[j];
        m->ops->predict(m, w, &ds, rows + i, 1, p1, s);
        for (size_t k = 0; k < 10; k++)
            worst_p = fmax(worst_p, fabs(p[i * 10 + k] - p1[k]));
    }
    for (size_t j = 0; j < np; j++)
        worst_g = fmax(worst_g, fabs(g[j] - sum[j] / N));
    /* f32: slices and single images run the float32 GEMMs with other shapes, which sum in
     * another order, and the order depends on OpenBLAS's kernels: probabilities differed by
     * 4.9e-9 with the Cooper Lake kernels (AMD EPYC) and 4.4e-7 with the generic Prescott ones
     * (a Xeon OpenBLAS 0.3.21 does not recognise). A logit near 10 has a float32 ulp of 1e-6, so
     * the bound allows two such ulps; a wrong slice offset moves probabilities by 1e-2 or more.
     * The loss (about 2.3, ulp 2.4e-7) differed by 1.4e-9 (Cooper Lake) and 1.2e-7 (Prescott):
     * four ulps allowed. Gradient: 6.2e-7 (the sum of 45 single-image float32 gradients). */
    fs_test_err_lt("cnn sliced predict", worst_p, FS_TEST_TOL(1e-13, 2e-6));
    fs_test_err_lt("cnn sliced loss", fabs(loss - loss1 / N), FS_TEST_TOL(1e-12, 1e-6));
    fs_test_err_lt("cnn sliced grad", worst_g, FS_TEST_TOL(1e-12, 6e-6));
    free(w), free(g), free(sum), free(g1), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* predict takes its FC layers over up to 256 images at once, past however many convolution
 * slices those span: 300 images are two such chunks, the second partial, each of several slices
 * and a partial last one. Every image's probabilities match its own single-image prediction. */
START_TEST(cnn_predict_in_fc_chunks_matches_single_images)
{
    enum { N = 300 };
    fs_dataset ds;
    fs_test_random_dataset(&ds, N, 28 * 28, 10, 53);
    fs_model *m = fs_cnn_new(28, 28, 1, 10, N);
    ck_assert_uint_lt(m->step_max_batch, 256 / 2); /* several slices per FC chunk */
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_params(m, 12);
    double *p = malloc(N * 10 * sizeof *p), p1[10], worst = 0;
    uint32_t *rows = fs_test_all_rows(N);
    m->ops->predict(m, w, &ds, rows, N, p, s);
    for (size_t i = 0; i < N; i++) {
        m->ops->predict(m, w, &ds, rows + i, 1, p1, s);
        for (size_t k = 0; k < 10; k++) worst = fmax(worst, fabs(p[i * 10 + k] - p1[k]));
    }
    /* f32: the same bound as cnn_large_batch_is_mean_of_single_images, whose reasons hold here
     * (0 measured with the Cooper Lake kernels); a wrong chunk or slice offset moves
     * probabilities by 1e-2 or more */
    fs_test_err_lt("cnn chunked predict", worst, FS_TEST_TOL(1e-13, 2e-6));
    free(w), free(p), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(cnn_predict_rows_sum_to_one)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 5, 4 * 8 * 3, 4, 61);
    fs_model *m = fs_cnn_new(4, 8, 3, 4, 5);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = fs_test_random_params(m, 10), *g = malloc(m->n_params * sizeof *g);
    double p[5 * 4], nll = 0;
    for (size_t i = 0; i < m->n_params; i++) w[i] *= 2; /* logits in the tens */
    uint32_t *rows = fs_test_all_rows(5);
    m->ops->predict(m, w, &ds, rows, 5, p, s);
    double worst = 0;
    for (size_t i = 0; i < 5; i++) {
        double sum = 0;
        for (size_t k = 0; k < 4; k++) {
            ck_assert(p[i * 4 + k] >= 0 && p[i * 4 + k] <= 1);
            sum += p[i * 4 + k];
        }
        worst = fmax(worst, fabs(sum - 1.0));
        nll -= log(fmax(p[i * 4 + (size_t)ds.y[i]], 1e-300));
    }
    fs_test_err_lt("cnn row sum", worst, 1e-12); /* probabilities and losses are double */
    double loss = m->ops->loss_grad(m, w, &ds, rows, 5, g, s);
    ck_assert(isfinite(loss));
    fs_test_err_lt("cnn loss vs predict (relative)", fabs(loss - nll / 5) / fmax(1, loss), 1e-6);
    free(w), free(g), free(rows);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* 8x8 images of a bar at a random position: vertical (class 0) or horizontal (class 1), in
 * noise. A translated bar is exactly what convolution plus pooling generalise over. */
static void bars(fs_dataset *ds, size_t n)
{
    fs_test_random_dataset(ds, n, 64, 2, 71);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 72, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < n; i++) {
        float *img = ds->x + i * 64;
        size_t at = gsl_rng_uniform_int(r, 8);
        for (size_t j = 0; j < 64; j++) img[j] *= 0.3f;
        for (size_t t = 0; t < 8; t++) img[ds->y[i] ? at * 8 + t : t * 8 + at] += 1.5f;
    }
    gsl_rng_free(r);
}

START_TEST(cnn_sgd_reduces_loss_on_bars)
{
    fs_dataset ds;
    bars(&ds, 200);
    fs_model *m = fs_cnn_new(8, 8, 1, 2, 10);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_real *w = malloc(m->n_params * sizeof *w);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    gsl_rng_free(r);
    fs_eval_result before, after;
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &before), FS_OK);
    fs_sgd_cfg cfg = {.epochs = 3, .batch_size = 10, .lr = 0.05};
    ck_assert_uint_eq(fs_test_sgd(m, w, &ds, 200, &cfg, 1, s).steps, 60);
    ck_assert_int_eq(fs_model_evaluate(m, w, &ds, NULL, 0, s, &after), FS_OK);
    ck_assert_double_lt(after.loss, 0.3 * before.loss);
    ck_assert_double_gt(after.accuracy, 0.95);
    free(w);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(cnn_on_pixels_equals_cnn_on_their_floats)
{
    fs_model *m = fs_cnn_new(4, 4, 2, 5, 6); /* 4 x 4 x 2: 32 features */
    fs_test_model_on_pixels(m, fs_test_random_params(m, 8));
}
END_TEST

static Suite *cnn_suite(void)
{
    Suite *s = suite_create("cnn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, cnn_forward_matches_direct_reference);
    tcase_add_test(tc, cnn_grad_matches_finite_diff);
    tcase_add_test(tc, cnn_mcmahan_shapes_and_flops);
    tcase_add_test(tc, cnn_large_batch_is_mean_of_single_images);
    tcase_add_test(tc, cnn_predict_in_fc_chunks_matches_single_images);
    tcase_add_test(tc, cnn_predict_rows_sum_to_one);
    tcase_add_test(tc, cnn_sgd_reduces_loss_on_bars);
    tcase_add_test(tc, cnn_on_pixels_equals_cnn_on_their_floats);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(cnn_suite)
