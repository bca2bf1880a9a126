/* bench_gemm: OpenBLAS dgemm throughput at the McMahan 2NN's minibatch shapes (batch 10) with
 * 1 and 2 threads, and the throughput the MLP and CNN model ops actually reach per training step
 * (3 x forward FLOPs per sample x batch / time). Usage: bench_gemm [SECONDS_PER_FIGURE].
 * Prints one line per figure: the best of REPEATS timing windows, since on a shared machine
 * interference only ever slows a window down. Wall-clock: compare figures from one run. */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs_clock.h"
#include "fs_model.h"
#include "fs_rng.h"

void openblas_set_num_threads(int num_threads);

#define BATCH 10
#define REPEATS 5

/* One dgemm C (m x n) = op(A) op(B) with inner dimension k, as a layer of the 2NN calls it. */
typedef struct gemm_shape {
    const char *what;
    bool ta, tb;
    int m, n, k;
} gemm_shape;

/* Forward: Z = X W^T. Backward: dW = D^T X (inner dimension = batch), dX = D W. */
static const gemm_shape shapes[] = {
    {"fwd   layer1 Z = X W^T", false, true, BATCH, 200, 784},
    {"fwd   layer2 Z = X W^T", false, true, BATCH, 200, 200},
    {"fwd   layer3 Z = X W^T", false, true, BATCH, 10, 200},
    {"grad  layer1 dW = D^T X", true, false, 200, 784, BATCH},
    {"grad  layer2 dW = D^T X", true, false, 200, 200, BATCH},
    {"grad  layer3 dW = D^T X", true, false, 10, 200, BATCH},
    {"delta layer2 dX = D W", false, false, BATCH, 200, 200},
    {"delta layer3 dX = D W", false, false, BATCH, 200, 10},
};

static double *random_doubles(size_t n, gsl_rng *r)
{
    double *a = malloc(n * sizeof *a);
    for (size_t i = 0; a && i < n; i++) a[i] = gsl_rng_uniform(r) - 0.5;
    return a;
}

/* Runs op(A) op(B) for REPEATS windows of about secs / REPEATS; returns the best GFLOP/s.
 * Row-major: A is m x k, stored k x m when transposed; B is k x n, stored n x k when
 * transposed. */
static double time_gemm(const gemm_shape *g, double secs, gsl_rng *r)
{
    size_t mk = (size_t)g->m * (size_t)g->k, kn = (size_t)g->k * (size_t)g->n;
    double *a = random_doubles(mk, r), *b = random_doubles(kn, r);
    double *c = calloc((size_t)g->m * (size_t)g->n, sizeof *c), rate = 0;
    if (!a || !b || !c) goto done;
    int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
    for (int w = 0; w < REPEATS; w++) {
        size_t reps = 0;
        double t0 = fs_wall_seconds(), dt;
        do {
            for (int i = 0; i < 100; i++, reps++)
                cblas_dgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                            g->tb ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0, a, lda, b,
                            ldb, 0.0, c, g->n);
            dt = fs_wall_seconds() - t0;
        } while (dt < secs / REPEATS);
        double x = 2.0 * g->m * g->n * g->k * (double)reps / dt / 1e9;
        rate = x > rate ? x : rate;
    }
done:
    free(a), free(b), free(c);
    return rate;
}

/* Seconds per loss_grad call on BATCH rows (cycling through the dataset), best of REPEATS
 * windows of about secs / REPEATS. */
static double time_steps(const fs_model *m, const double *w, const fs_dataset *ds, double secs,
                         double *g, fs_model_scratch *s)
{
    uint32_t rows[BATCH];
    size_t steps = 0;
    double best = INFINITY;
    for (int win = 0; win < REPEATS; win++) {
        size_t n_win = 0;
        double t0 = fs_wall_seconds(), dt;
        do {
            for (size_t i = 0; i < BATCH; i++) rows[i] = (uint32_t)((steps * BATCH + i) % ds->n);
            m->ops->loss_grad(m, w, ds, rows, BATCH, g, s);
            steps++, n_win++;
            dt = fs_wall_seconds() - t0;
        } while (dt < secs / REPEATS);
        best = dt / (double)n_win < best ? dt / (double)n_win : best;
    }
    return best;
}

/* Prints the GFLOP/s loss_grad reaches on random data (counting 3 x forward FLOPs per sample,
 * the usual convention) and the time per step. Returns nonzero when out of memory. */
static int time_model(const char *name, fs_model *m, double secs, int threads, gsl_rng *r)
{
    fs_dataset ds = {0};
    fs_model_scratch *s = NULL;
    double *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    int rc = 1;
    if (!w || !g || fs_dataset_alloc(&ds, 1000, m->n_features, m->n_classes) != FS_OK ||
        !(s = fs_model_scratch_new(m)))
        goto fail;
    for (size_t i = 0; i < ds.n * ds.d; i++) ds.x[i] = (float)gsl_rng_uniform(r);
    for (size_t i = 0; i < ds.n; i++) ds.y[i] = (int32_t)gsl_rng_uniform_int(r, 10);
    m->ops->init(m, w, r);
    double dt = time_steps(m, w, &ds, secs, g, s);
    printf("%s loss_grad batch %d, %d thread%s: %.2f GFLOP/s, %.3f ms per step\n", name, BATCH,
           threads, threads > 1 ? "s" : " ", 3.0 * m->flops_per_sample * BATCH / dt / 1e9,
           1e3 * dt);
    rc = 0;
fail:
    fs_model_scratch_free(s);
    fs_dataset_fini(&ds);
    free(w), free(g);
    return rc;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    const size_t hidden[2] = {200, 200};
    gsl_rng *r = fs_rng_new();
    fs_model *mlp = fs_mlp_new(784, hidden, 2, 10, false, BATCH);
    fs_model *cnn = fs_cnn_new(28, 28, 1, 10, BATCH);
    int rc = 1;
    if (!r || !mlp || !cnn) goto fail;
    fs_rng_reseed(r, 1, FS_RNG_DATA, FS_RNG_NONE, FS_RNG_NONE);
    for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            printf("dgemm %-24s %4dx%4dx%4d, %d thread%s: %.2f GFLOP/s\n", shapes[i].what,
                   shapes[i].m, shapes[i].n, shapes[i].k, threads, threads > 1 ? "s" : " ",
                   time_gemm(&shapes[i], secs, r));
        if (time_model("2NN mlp", mlp, secs, threads, r) ||
            time_model("CNN 28x28x1", cnn, 4 * secs, threads, r))
            goto fail;
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "bench_gemm: out of memory\n");
    fs_model_free(mlp);
    fs_model_free(cnn);
    gsl_rng_free(r);
    return rc;
}
