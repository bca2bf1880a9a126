/* bench_engine: throughput of the event queue and of the whole engine on a large population.
 * Usage: bench_engine [CLIENTS [ROUNDS [CLIENTS_PER_ROUND]]]. Prints one line per figure; run
 * as `meson test --benchmark` or directly. Figures are wall-clock, so compare ratios measured in
 * one run rather than absolute numbers across machines. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fs_blas.h"
#include "fs_clock.h"
#include "fs_engine.h"
#include "fs_evq.h"
#include "fs_pop.h"
#include "fs_rng.h"
#include "fs_robust_coord.h"
#include "fs_scn.h"
#include "fs_world.h"

/* This thread's CPU seconds: on a shared machine the wall clock also counts the time other
 * processes held the core, the CPU clock does not. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Classic "hold" model: keep `pending` events queued; each op pops the earliest and pushes one
 * a random delay later. The delays are drawn before the clock starts, into a ring of
 * DELAY_RING (reused: a 512 KB table stays in cache), so the figure is the queue's alone: a
 * bounded draw (gsl_rng_uniform_int, an integer division) per op was a fifth of the time.
 * HOLD_REPS runs of the same workload on a fresh queue each, reported as the median and the
 * range: on a shared machine one run ranged from 9 to 13 M/s. */
enum { DELAY_RING = 1 << 16, HOLD_REPS = 5 };

/* One hold run on the workload of every earlier build: a fresh generator's stream gives the
 * pending times, then the delays. Pop+push per wall and per CPU second. */
static void hold_run(size_t pending, size_t ops, int64_t *delay, double *wall_rate,
                     double *cpu_rate)
{
    gsl_rng *r = fs_rng_new();
    if (!r) {
        fprintf(stderr, "bench_engine: out of memory\n");
        exit(1);
    }
    fs_evq q;
    fs_evq_init(&q);
    for (size_t i = 0; i < pending; i++) {
        fs_event e = {.t = (int64_t)gsl_rng_uniform_int(r, 1000000)};
        fs_evq_push(&q, &e);
    }
    for (size_t i = 0; i < DELAY_RING; i++)
        delay[i] = 1 + (int64_t)gsl_rng_uniform_int(r, 1000000);
    double t0 = fs_wall_seconds(), c0 = cpu_seconds();
    fs_event e;
    for (size_t i = 0; i < ops; i++) {
        fs_evq_pop(&q, &e);
        e.t += delay[i % DELAY_RING];
        fs_evq_push(&q, &e);
    }
    *wall_rate = ops / (fs_wall_seconds() - t0);
    *cpu_rate = ops / (cpu_seconds() - c0);
    fs_evq_fini(&q);
    gsl_rng_free(r);
}

static void bench_evq(size_t pending, size_t ops)
{
    int64_t *delay = malloc(DELAY_RING * sizeof *delay);
    if (!delay) {
        fprintf(stderr, "bench_engine: out of memory\n");
        exit(1);
    }
    double wall[HOLD_REPS], cpu[HOLD_REPS];
    for (int k = 0; k < HOLD_REPS; k++) hold_run(pending, ops, delay, &wall[k], &cpu[k]);
    qsort(wall, HOLD_REPS, sizeof *wall, fs_robust_cmp_double);
    qsort(cpu, HOLD_REPS, sizeof *cpu, fs_robust_cmp_double);
    printf("evq hold model: %zu pending, %.2f M pop+push per second (median of %d runs, %.2f to "
           "%.2f; %.2f M per CPU second)\n",
           pending, wall[HOLD_REPS / 2] / 1e6, HOLD_REPS, wall[0] / 1e6,
           wall[HOLD_REPS - 1] / 1e6, cpu[HOLD_REPS / 2] / 1e6);
    free(delay);
}

static int bench_engine(size_t clients, int rounds, size_t per_round)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\":\"bench\",\"seed\":1,"
             "\"data\":{\"source\":\"synthetic\",\"clients\":%zu,"
             "\"synthetic\":{\"max_samples_per_client\":20}},"
             "\"train\":{\"batch_size\":10,\"lr\":0.05},"
             "\"server\":{\"rounds\":%d,\"clients_per_round\":%zu,\"round_interval_s\":600},"
             "\"devices\":{\"availability\":{\"diurnal\":{\"utc_offsets_h\":[-8,-5,0,1,8]}},"
             "\"failure_prob\":0.05},\"eval\":{\"every_rounds\":%d},"
             "\"output\":{\"participation\":false}}",
             clients, rounds, per_round, rounds);
    fs_err err;
    fs_err_init(&err, "bench");
    fs_scenario s;
    fs_world w;
    fs_pop pop;
    if (fs_scn_parse(text, NULL, 0, &s, &err) || fs_world_init(&w, &s, &err)) goto fail;
    double t0 = fs_wall_seconds();
    if (fs_pop_init(&pop, &s, w.n_train, w.n_test, NULL, &err)) goto fail;
    double t_pop = fs_wall_seconds() - t0;
    fs_engine_cfg cfg = {.scn = &s, .world = &w, .pop = &pop, .n_threads = omp_get_max_threads()};
    fs_engine_stats st;
    t0 = fs_wall_seconds();
    if (fs_engine_run(&cfg, NULL, &st, &err)) goto fail;
    double dt = fs_wall_seconds() - t0;
    printf("population: %zu clients set up in %.3f s; %zu bytes per idle client "
           "(record %zu + permutation 4)\n",
           clients, t_pop, sizeof(fs_client) + 4, sizeof(fs_client));
    printf("engine: %d rounds x %zu clients/round, %.2f virtual h: %.3f s wall, "
           "%.0f events/s, %.1f rounds/s, final accuracy %.3f (%d threads)\n",
           st.rounds, per_round, (double)st.t_end / 3.6e9, dt, (double)st.events / dt,
           st.rounds / dt, st.final_accuracy, cfg.n_threads);
    double own = dt - st.train_s - st.eval_s;
    printf("engine without training and evaluation: %.3f s wall (training %.3f s, evaluation "
           "%.3f s), %.0f events/s\n",
           own, st.train_s, st.eval_s, (double)st.events / own);
    fs_pop_fini(&pop);
    fs_world_fini(&w);
    fs_scn_fini(&s);
    return 0;
fail:
    fs_err_print(&err, stderr);
    return 1;
}

int main(int argc, char **argv)
{
    fs_blas_init(argv);
    size_t clients = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 100;
    size_t per_round = argc > 3 ? strtoul(argv[3], NULL, 10) : 500;
    bench_evq(100000, 2000000);
    return bench_engine(clients, rounds, per_round);
}
