/* bench_gemm: OpenBLAS sgemm and dgemm throughput at the GEMM shapes one training step of the
 * McMahan 2NN and CNN calls (batch 10), with 1 and 2 threads, and the throughput the MLP and CNN
 * model ops actually reach per training step (3 x forward FLOPs per sample x batch / time).
 * Usage: bench_gemm [SECONDS_PER_FIGURE]. Prints one line per shape (sgemm and dgemm), one line
 * per model with the rate of its whole step's GEMMs (total FLOPs / total time), then the model
 * op's rate: each the best of REPEATS timing windows, since on a shared machine interference only
 * ever slows a window down. Wall-clock: compare figures from one run. tools/bench runs it. */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs_blas.h"
#include "fs_clock.h"
#include "fs_model.h"
#include "fs_rng.h"

void openblas_set_num_threads(int num_threads);

#define BATCH 10
#define REPEATS 5

/* One GEMM C (m x n) = op(A) op(B) with inner dimension k, as a layer of a model calls it. */
typedef struct gemm_shape {
    const char *what;
    bool ta, tb;
    int m, n, k;
} gemm_shape;

/* Forward: Z = X W^T. Backward: dW = D^T X (inner dimension = rows), dX = D W; the first layer
 * needs no dX. A convolution is the same dense layer over its im2col patches: BATCH * h * w rows
 * of 5 * 5 * cin columns (fs_cnn.c). */
static const gemm_shape mlp_shapes[] = {
    {"fwd   layer1 Z = X W^T", false, true, BATCH, 200, 784},
    {"fwd   layer2 Z = X W^T", false, true, BATCH, 200, 200},
    {"fwd   layer3 Z = X W^T", false, true, BATCH, 10, 200},
    {"grad  layer1 dW = D^T X", true, false, 200, 784, BATCH},
    {"grad  layer2 dW = D^T X", true, false, 200, 200, BATCH},
    {"grad  layer3 dW = D^T X", true, false, 10, 200, BATCH},
    {"delta layer2 dX = D W", false, false, BATCH, 200, 200},
    {"delta layer3 dX = D W", false, false, BATCH, 200, 10},
};
static const gemm_shape cnn_shapes[] = {
    {"fwd   conv1 Z = X W^T", false, true, BATCH * 28 * 28, 32, 25},
    {"fwd   conv2 Z = X W^T", false, true, BATCH * 14 * 14, 64, 800},
    {"fwd   fc1 Z = X W^T", false, true, BATCH, 512, 3136},
    {"fwd   fc2 Z = X W^T", false, true, BATCH, 10, 512},
    {"grad  conv1 dW = D^T X", true, false, 32, 25, BATCH * 28 * 28},
    {"grad  conv2 dW = D^T X", true, false, 64, 800, BATCH * 14 * 14},
    {"grad  fc1 dW = D^T X", true, false, 512, 3136, BATCH},
    {"grad  fc2 dW = D^T X", true, false, 10, 512, BATCH},
    {"delta conv2 dX = D W", false, false, BATCH * 14 * 14, 800, 64},
    {"delta fc1 dX = D W", false, false, BATCH, 3136, 512},
    {"delta fc2 dX = D W", false, false, BATCH, 512, 10},
};

/* A precision: how to fill an operand and how to run `reps` GEMMs of a shape. */
typedef struct gemm_kind {
    const char *name;
    size_t elem;
    void (*fill)(void *a, size_t n, gsl_rng *r);
    void (*run)(const gemm_shape *g, const void *a, const void *b, void *c, size_t reps);
} gemm_kind;

static void fill_float(void *a, size_t n, gsl_rng *r)
{
    for (size_t i = 0; i < n; i++)
        ((float *)a)[i] = (float)(gsl_rng_uniform(r) - 0.5);
}

static void fill_double(void *a, size_t n, gsl_rng *r)
{
    for (size_t i = 0; i < n; i++)
        ((double *)a)[i] = gsl_rng_uniform(r) - 0.5;
}

/* Row-major: A is m x k, stored k x m when transposed; B is k x n, stored n x k when
 * transposed. */
#define GEMM_ARGS(g)                                                                               \
    CblasRowMajor, (g)->ta ? CblasTrans : CblasNoTrans, (g)->tb ? CblasTrans : CblasNoTrans,       \
        (g)->m, (g)->n, (g)->k
#define GEMM_LDA(g) ((g)->ta ? (g)->m : (g)->k)
#define GEMM_LDB(g) ((g)->tb ? (g)->k : (g)->n)

static void run_sgemm(const gemm_shape *g, const void *a, const void *b, void *c, size_t reps)
{
    for (size_t i = 0; i < reps; i++)
        cblas_sgemm(GEMM_ARGS(g), 1.0f, a, GEMM_LDA(g), b, GEMM_LDB(g), 0.0f, c, g->n);
}

static void run_dgemm(const gemm_shape *g, const void *a, const void *b, void *c, size_t reps)
{
    for (size_t i = 0; i < reps; i++)
        cblas_dgemm(GEMM_ARGS(g), 1.0, a, GEMM_LDA(g), b, GEMM_LDB(g), 0.0, c, g->n);
}

static const gemm_kind kinds[] = {
    {"sgemm", sizeof(float), fill_float, run_sgemm},
    {"dgemm", sizeof(double), fill_double, run_dgemm},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static double gemm_flops(const gemm_shape *g)
{
    return 2.0 * g->m * g->n * g->k;
}

/* Runs the shape for REPEATS windows of about secs / REPEATS; returns the best GFLOP/s, or 0
 * when out of memory. The clock is read once per about a MFLOP of GEMMs, so reading it costs
 * nothing measurable even at the smallest shapes. */
static double time_gemm(const gemm_kind *kd, const gemm_shape *g, double secs, gsl_rng *r)
{
    size_t mk = (size_t)g->m * (size_t)g->k, kn = (size_t)g->k * (size_t)g->n;
    void *a = malloc(mk * kd->elem), *b = malloc(kn * kd->elem);
    void *c = calloc((size_t)g->m * (size_t)g->n, kd->elem);
    double rate = 0;
    if (!a || !b || !c) goto done;
    kd->fill(a, mk, r), kd->fill(b, kn, r);
    size_t batch = (size_t)(1e6 / gemm_flops(g)) + 1;
    for (int w = 0; w < REPEATS; w++) {
        size_t reps = 0;
        double t0 = fs_wall_seconds(), dt;
        do {
            kd->run(g, a, b, c, batch);
            reps += batch;
            dt = fs_wall_seconds() - t0;
        } while (dt < secs / REPEATS);
        double x = gemm_flops(g) * (double)reps / dt / 1e9;
        rate = x > rate ? x : rate;
    }
done:
    free(a), free(b), free(c);
    return rate;
}

/* Prints each shape's sgemm and dgemm rate, then the rate of the whole step's GEMMs: total
 * FLOPs over the sum of each shape's time at its own rate. Returns nonzero when out of memory. */
static int time_shapes(const char *model, const gemm_shape *shapes, size_t n, double secs,
                       int threads, gsl_rng *r)
{
    double total = 0, secs_at[N_KINDS] = {0};
    const char *ts = threads > 1 ? "s" : " ";
    for (size_t i = 0; i < n; i++) {
        const gemm_shape *g = &shapes[i];
        printf("%s %-24s %5dx%4dx%5d, %d thread%s:", model, g->what, g->m, g->n, g->k, threads, ts);
        for (size_t j = 0; j < N_KINDS; j++) {
            double rate = time_gemm(&kinds[j], g, secs, r);
            if (rate == 0) return 1;
            printf(" %s %6.2f", kinds[j].name, rate);
            secs_at[j] += gemm_flops(g) / rate;
        }
        printf(" GFLOP/s\n");
        total += gemm_flops(g);
    }
    printf("%s step GEMMs batch %d, %d thread%s:", model, BATCH, threads, ts);
    for (size_t j = 0; j < N_KINDS; j++)
        printf(" %s %6.2f", kinds[j].name, total / secs_at[j]);
    printf(" GFLOP/s\n");
    return 0;
}

/* Seconds per SGD step on BATCH rows (cycling through the dataset), best of REPEATS windows of
 * about secs / REPEATS: the fused sgd_step when the model has one (what fs_sgd_train runs for
 * FedAvg), else loss_grad then the axpy. */
static double time_steps(const fs_model *m, fs_real *w, const fs_dataset *ds, double secs,
                         fs_real *g, fs_model_scratch *s)
{
    uint32_t rows[BATCH];
    size_t steps = 0;
    double best = INFINITY;
    for (int win = 0; win < REPEATS; win++) {
        size_t n_win = 0;
        double t0 = fs_wall_seconds(), dt;
        do {
            for (size_t i = 0; i < BATCH; i++)
                rows[i] = (uint32_t)((steps * BATCH + i) % ds->n);
            if (m->ops->sgd_step && BATCH <= m->step_max_batch) {
                m->ops->sgd_step(m, w, ds, rows, BATCH, 1e-6, s);
            } else {
                m->ops->loss_grad(m, w, ds, rows, BATCH, g, s);
                fs_real_axpy(m->n_params, (fs_real)-1e-6, g, w);
            }
            steps++, n_win++;
            dt = fs_wall_seconds() - t0;
        } while (dt < secs / REPEATS);
        best = dt / (double)n_win < best ? dt / (double)n_win : best;
    }
    return best;
}

/* Prints the GFLOP/s a training step reaches on random data (counting 3 x forward FLOPs per sample,
 * the usual convention) and the time per step. Returns nonzero when out of memory. */
static int time_model(const char *name, fs_model *m, double secs, int threads, gsl_rng *r)
{
    fs_dataset ds = {0};
    fs_model_scratch *s = NULL;
    fs_real *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    int rc = 1;
    if (!w || !g || fs_dataset_alloc(&ds, 1000, m->n_features, m->n_classes) != FS_OK ||
        !(s = fs_model_scratch_new(m)))
        goto fail;
    for (size_t i = 0; i < ds.n * ds.d; i++)
        ds.x[i] = (float)gsl_rng_uniform(r);
    for (size_t i = 0; i < ds.n; i++)
        ds.y[i] = (int32_t)gsl_rng_uniform_int(r, 10);
    m->ops->init(m, w, r);
    double dt = time_steps(m, w, &ds, secs, g, s);
    printf("%s %s step batch %d, %d thread%s: %.2f GFLOP/s, %.3f ms per step\n", name,
           m->ops->sgd_step ? "fused" : "loss_grad+axpy", BATCH,
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
    fs_blas_init(argv);
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
        if (time_shapes("2NN", mlp_shapes, sizeof mlp_shapes / sizeof mlp_shapes[0], secs, threads,
                        r) ||
            time_shapes("CNN", cnn_shapes, sizeof cnn_shapes / sizeof cnn_shapes[0], secs, threads,
                        r))
            goto fail;
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
