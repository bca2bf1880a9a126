/* fs_test_grad: what the model suites share: random dense datasets and parameters, row lists,
 * gradient checks of loss_grad against central finite differences of its own loss, and an SGD
 * run. Static inline, as each suite is its own program; helpers assert (Check) what they need,
 * and the caller frees what a helper returns. */
#ifndef FS_TEST_GRAD_H
#define FS_TEST_GRAD_H

#include <check.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model.h"
#include "fs_rng.h"

/* The model suites run twice: against the double-precision reference build of the models
 * (the *_f64 suites, FS_REAL_DOUBLE), where the checks are tight, and against the float32 build
 * fedsim trains with. FS_TEST_TOL(f64, f32) picks a suite's tolerance; each f32 value is justified
 * where it is used. The finite differences of a float32 loss need a larger step: its rounding
 * (~1e-7 relative, more after a few layers) divided by 2h must stay small against the gradient,
 * while the truncation error O(h^2) grows; h = 1e-2 balances both near 1e-4 for unit-scale
 * parameters, and components below the floor are dominated by that noise. */
#define FS_TEST_F64 (sizeof(fs_real) == sizeof(double))
#define FS_TEST_TOL(f64, f32) (FS_TEST_F64 ? (f64) : (f32))
#define FS_TEST_FD_STEP FS_TEST_TOL(1e-5, 1e-2)
#define FS_TEST_FD_FLOOR FS_TEST_TOL(1e-4, 1e-2)

/* err, printed to stderr with what it is when FEDSIM_TEST_MEASURE is set in the environment: how
 * the f32 tolerances were measured (FEDSIM_TEST_MEASURE=1 meson test -v NAME NAME_f64). */
static inline double fs_test_measured(const char *what, double err)
{
    if (getenv("FEDSIM_TEST_MEASURE"))
        fprintf(stderr, "measured %s %s: %.3g\n", FS_REAL_NAME, what, err);
    return err;
}

/* Asserts err < tol, printing err first (fs_test_measured); `what` names the check in both. */
static inline void fs_test_err_lt(const char *what, double err, double tol)
{
    fs_test_measured(what, err);
    ck_assert_msg(err < tol, "%s: error %g, expected below %g", what, err, tol);
}

/* Row ids 0..n-1 (a valid allocation even for n = 0). */
static inline uint32_t *fs_test_all_rows(size_t n)
{
    uint32_t *rows = malloc((n ? n : 1) * sizeof *rows);
    for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)i;
    return rows;
}

/* n dense random rows of d features ~ N(0,1), labels i % n_classes, from stream (seed, DATA). */
static inline void fs_test_random_dataset(fs_dataset *ds, size_t n, size_t d, int n_classes,
                                          uint64_t seed)
{
    ck_assert_int_eq(fs_dataset_alloc(ds, n, d, n_classes), FS_OK);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_DATA, 0, FS_RNG_NONE);
    for (size_t i = 0; i < n * d; i++) ds->x[i] = (float)gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < n; i++) ds->y[i] = (int32_t)(i % (size_t)n_classes);
    gsl_rng_free(r);
}

/* n weights ~ N(0, sd^2) from stream (seed, INIT). */
static inline fs_real *fs_test_random_weights(size_t n, double sd, uint64_t seed)
{
    fs_real *w = malloc(n * sizeof *w);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    for (size_t i = 0; i < n; i++) w[i] = gsl_ran_gaussian(r, sd);
    gsl_rng_free(r);
    return w;
}

/* The model's init from stream (seed, INIT), then every entry init left 0 (the biases) drawn
 * ~ N(0, 0.1^2) from the same stream, so their gradients are checked away from the special
 * point 0 and they matter in every check. */
static inline fs_real *fs_test_random_params(const fs_model *m, uint64_t seed)
{
    fs_real *w = malloc(m->n_params * sizeof *w);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    for (size_t i = 0; i < m->n_params; i++)
        if (w[i] == 0) w[i] = gsl_ran_gaussian(r, 0.1);
    gsl_rng_free(r);
    return w;
}

/* ---- finite-difference gradient checks ---- */

/* One check: loss_grad's gradient g at w on rows[0..n) of ds, and buffers for the differences. */
typedef struct fs_test_grad {
    const fs_model *m;
    const fs_dataset *ds;
    const uint32_t *rows;
    size_t n;
    uint32_t *own_rows; /* rows when the caller gave none */
    fs_model_scratch *s;
    fs_real *g, *tmp;   /* n_params each: the gradient at w, and the one discarded per loss */
    double h;           /* the step of the central difference */
} fs_test_grad;

/* rows NULL: rows 0..n-1. */
static inline void fs_test_grad_init(fs_test_grad *gc, const fs_model *m, const fs_real *w,
                                     const fs_dataset *ds, const uint32_t *rows, size_t n,
                                     double h)
{
    gc->m = m;
    gc->ds = ds;
    gc->own_rows = rows ? NULL : fs_test_all_rows(n);
    gc->rows = rows ? rows : gc->own_rows;
    gc->n = n;
    gc->s = fs_model_scratch_new(m);
    gc->g = malloc(m->n_params * sizeof *gc->g);
    gc->tmp = malloc(m->n_params * sizeof *gc->tmp);
    gc->h = h;
    m->ops->loss_grad(m, w, ds, gc->rows, n, gc->g, gc->s);
}

static inline void fs_test_grad_fini(fs_test_grad *gc)
{
    free(gc->g), free(gc->tmp), free(gc->own_rows);
    fs_model_scratch_free(gc->s);
}

/* (L(w + h e_i) - L(w - h e_i)) / 2h; w[i] is restored. The step is the one w[i] really
 * took once rounded to fs_real. */
static inline double fs_test_grad_fd(fs_test_grad *gc, fs_real *w, size_t i)
{
    const fs_model *m = gc->m;
    fs_real wi = w[i], up = (fs_real)(wi + gc->h), down = (fs_real)(wi - gc->h);
    w[i] = up;
    double lp = m->ops->loss_grad(m, w, gc->ds, gc->rows, gc->n, gc->tmp, gc->s);
    w[i] = down;
    double lm = m->ops->loss_grad(m, w, gc->ds, gc->rows, gc->n, gc->tmp, gc->s);
    w[i] = wi;
    return (lp - lm) / ((double)up - (double)down);
}

/* |fd - g| / max(|fd|, |g|, FS_TEST_FD_FLOOR): the floor keeps tiny components, dominated by
 * rounding in fd, from failing a check. */
static inline double fs_test_grad_rel(double fd, double g)
{
    return fabs(fd - g) / fmax(fmax(fabs(fd), fabs(g)), FS_TEST_FD_FLOOR);
}

/* Coordinate i's relative error. */
static inline double fs_test_grad_coord_error(fs_test_grad *gc, fs_real *w, size_t i)
{
    return fs_test_grad_rel(fs_test_grad_fd(gc, w, i), gc->g[i]);
}

/* Errors of a check over every parameter: the largest coordinate error, and the whole vector's
 * ||fd - g|| / ||g||. */
typedef struct fs_test_grad_err {
    double worst, rel_norm;
} fs_test_grad_err;

/* Every parameter, h = FS_TEST_FD_STEP, rows 0..n-1. Asserts ||g||^2 > 1e-6: a (nearly) zero gradient would
 * pass any check. */
static inline fs_test_grad_err fs_test_grad_check(const fs_model *m, fs_real *w,
                                                  const fs_dataset *ds, size_t n)
{
    fs_test_grad gc;
    fs_test_grad_init(&gc, m, w, ds, NULL, n, FS_TEST_FD_STEP);
    double worst = 0, diff2 = 0, norm2 = 0;
    for (size_t i = 0; i < m->n_params; i++) {
        double fd = fs_test_grad_fd(&gc, w, i), g = gc.g[i];
        worst = fmax(worst, fs_test_grad_rel(fd, g));
        diff2 += (fd - g) * (fd - g);
        norm2 += g * g;
    }
    ck_assert_double_gt(norm2, 1e-6);
    fs_test_grad_fini(&gc);
    return (fs_test_grad_err){.worst = worst, .rel_norm = sqrt(diff2 / norm2)};
}

/* ---- training ---- */

/* fs_sgd_train of w, in place, on rows 0..n-1 of ds with stream (seed, TRAIN, 0, 0); asserts
 * FS_OK and returns its result. */
static inline fs_sgd_result fs_test_sgd(const fs_model *m, fs_real *w, const fs_dataset *ds,
                                        size_t n, const fs_sgd_cfg *cfg, uint64_t seed,
                                        fs_model_scratch *s)
{
    fs_real *g = malloc(m->n_params * sizeof *g);
    uint32_t *rows = fs_test_all_rows(n), *order = malloc((n ? n : 1) * sizeof *order);
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, seed, FS_RNG_TRAIN, 0, 0);
    fs_sgd_result res;
    ck_assert_int_eq(fs_sgd_train(m, w, ds, rows, n, cfg, r, order, g, s, &res), FS_OK);
    gsl_rng_free(r);
    free(g), free(rows), free(order);
    return res;
}

/* ---- compact rows (fs_dataset.x8) ---- */

/* A compact dataset of n rows of d pixels (each row a run of p = 37 i + 11 j mod 256, so every
 * value occurs when n * d >= 256) and its float twin, built here with (float)p / 255.0f, not
 * through fs_data: a conversion that drifts from that float fails the comparisons below. */
static inline void fs_test_pixel_pair(fs_dataset *c, fs_dataset *f, size_t n, size_t d,
                                      int n_classes)
{
    ck_assert_int_eq(fs_dataset_alloc(f, n, d, n_classes), FS_OK);
    ck_assert_int_eq(fs_dataset_alloc(c, n, d, n_classes), FS_OK);
    free(c->x);
    c->x = NULL;
    ck_assert_ptr_nonnull(c->x8 = malloc(n * d));
    for (size_t i = 0; i < n * d; i++) {
        c->x8[i] = (uint8_t)((37 * (i / d) + 11 * (i % d)) % 256);
        f->x[i] = (float)c->x8[i] / 255.0f;
    }
    for (size_t i = 0; i < n; i++)
        c->y[i] = f->y[i] = (int32_t)(i % (size_t)n_classes);
}

/* loss_grad, predict and sgd_step (when it takes k rows) of m on rows[0..k) give the same bits
 * on the compact dataset c as on its float twin f (fs_test_pixel_pair). */
static inline void fs_test_same_rows(const fs_model *m, const fs_real *w, const fs_dataset *c,
                                     const fs_dataset *f, const uint32_t *rows, size_t k)
{
    fs_model_scratch *s = fs_model_scratch_new(m);
    size_t np = m->n_params, nc = (size_t)m->n_classes;
    fs_real *g = malloc(np * sizeof *g), *h = malloc(np * sizeof *h);
    double *pc = malloc(k * nc * sizeof *pc), *pf = malloc(k * nc * sizeof *pf);
    double lc = m->ops->loss_grad(m, w, c, rows, k, g, s);
    double lf = m->ops->loss_grad(m, w, f, rows, k, h, s);
    ck_assert_msg(memcmp(&lc, &lf, sizeof lc) == 0, "loss %.17g on pixels, %.17g on floats", lc,
                  lf);
    ck_assert_int_eq(memcmp(g, h, np * sizeof *g), 0);
    m->ops->predict(m, w, c, rows, k, pc, s);
    m->ops->predict(m, w, f, rows, k, pf, s);
    ck_assert_int_eq(memcmp(pc, pf, k * nc * sizeof *pc), 0);
    if (m->ops->sgd_step && k <= m->step_max_batch) { /* the fused step training takes */
        memcpy(g, w, np * sizeof *g), memcpy(h, w, np * sizeof *h);
        lc = m->ops->sgd_step(m, g, c, rows, k, 0.1, s);
        lf = m->ops->sgd_step(m, h, f, rows, k, 0.1, s);
        ck_assert(memcmp(&lc, &lf, sizeof lc) == 0 && memcmp(g, h, np * sizeof *g) == 0);
    }
    free(g), free(h), free(pc), free(pf);
    fs_model_scratch_free(s);
}

/* The same on consecutive rows (prediction's in-place path for floats, fs_nn_rows) and on
 * scattered ones (a training batch): c and f have at least 40 rows, m takes batches of 6. */
static inline void fs_test_same_on_pixels(const fs_model *m, const fs_real *w, const fs_dataset *c,
                                          const fs_dataset *f)
{
    ck_assert(c->n >= 40 && m->max_batch >= 6);
    uint32_t run[6] = {5, 6, 7, 8, 9, 10}, scattered[6] = {3, 17, 4, 39, 0, 22};
    fs_test_same_rows(m, w, c, f, run, 6);
    fs_test_same_rows(m, w, c, f, scattered, 6);
}

/* fs_test_same_on_pixels for m with parameters w (both freed here) on 40 compact rows of its
 * n_features pixels and their float twin. */
static inline void fs_test_model_on_pixels(fs_model *m, fs_real *w)
{
    fs_dataset c, f;
    fs_test_pixel_pair(&c, &f, 40, m->n_features, m->n_classes);
    fs_test_same_on_pixels(m, w, &c, &f);
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&c);
    fs_dataset_fini(&f);
}

#endif
