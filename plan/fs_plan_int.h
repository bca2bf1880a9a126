/* fs_plan_int: what fs_plan.c (arguments, reading the results file, the cost of each run at its
 * target round) hands fs_plan_rank.c (feasibility over replicates, statistics, ranking, paired
 * comparisons, the printed answer). Private to the two; nothing here is a public API. */
#ifndef FS_PLAN_INT_H
#define FS_PLAN_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fs_stats.h"

enum plan_by { BY_HOURS, BY_BYTES, BY_DEVICE_H, BY_EPSILON, BY_ENERGY, N_BY };

/* The costs of one replicate at its target round (and their summaries over a variant's
 * replicates). The first five are the --by keys, in enum plan_by order. DIM_ENERGY is the
 * campaign's joules up to the target round; DIM_DAY_P95 the p95 of per-device daily energy over
 * the client-days up to the target round's day (what --max-energy-per-device limits); DIM_BIAS
 * the total-variation distance between the whole run's reported mix and the population over the
 * first eval.segments group (v_run_bias: what --max-bias limits). */
enum plan_dim {
    DIM_HOURS, DIM_BYTES, DIM_DEVICE_H, DIM_EPS, DIM_ENERGY, DIM_ROUNDS, DIM_PER_PART, DIM_DAY_P95,
    DIM_DAY_MAX, DIM_BIAS, N_DIM
};

/* Costs the campaign spends per round on average (for the evaluation-interval warning). */
enum plan_rate { RATE_HOURS, RATE_BYTES, RATE_DEVICE_H, N_RATE };

typedef struct plan_args {
    const char *db;
    char metric[64];
    double target;
    bool lower;                           /* loss, ece, rmse: reached at or below the target */
    double max_eps, max_hours, max_bytes; /* NAN: no limit */
    double max_energy;                    /* J per device per day (p95); NAN: no limit */
    double max_bias;                      /* TVD of the reported mix (v_run_bias); NAN: none */
    double min_reach;                     /* share of replicates that must meet the limits */
    int sustain;                          /* --sustain; 0: each run's own (see fs_plan.h) */
    enum plan_by by;
} plan_args;

/* The question is about energy (--by energy, --max-energy-per-device): only then are the
 * per-device daily figures shown, and read (a window over client_energy per run: 0.5 s each on
 * a 50,000-phone sweep, most of plan's time when nobody asked). */
static inline bool plan_shows_energy(const plan_args *a)
{
    return a->by == BY_ENERGY || !isnan(a->max_energy);
}

/* One run: the latest of its (variant label, replicate). */
typedef struct plan_rep {
    int64_t run_id;
    int replicate; /* 1-based; 0 outside replications */
    char status[16];
    int sustain;   /* evaluations the target must hold for */
    bool reached;
    double cost[N_DIM]; /* at the first round that met the target; NAN when not recorded */
    int64_t bytes_up, bytes_down; /* cumulative up to that round */
    int64_t t_hit_us;             /* end of that round, virtual µs */
    int n_rounds;                 /* rounds recorded */
    double best;                  /* best value of the metric; NAN when never evaluated */
    char evaluated[128];          /* the metrics it did evaluate, when best is NAN */
    double rate[N_RATE];          /* per round, over every recorded round; NAN when unknown */
} plan_rep;

typedef struct plan_var {
    char label[160];
    int64_t first_run; /* smallest run_id: output order for equal costs */
    int every_rounds;  /* eval.every_rounds of its scenario; 0 when unknown */
    plan_rep *reps;
    size_t n_reps, cap;
    char reason[600]; /* why excluded; "" when feasible */
    /* filled by fs_plan_rank */
    fs_stats_summary sum[N_DIM]; /* over the replicates that reached */
    size_t n_ok;                 /* replicates that reached within every limit */
    double rate[N_RATE];         /* means over the replicates */
    double by_key;               /* mean --by cost, +inf when not recorded (qsort's key) */
} plan_var;

typedef struct plan_ctx {
    const plan_args *a;
    FILE *out;
    struct sqlite3 *conn;
    int version; /* schema version of the file: 2 to 6 */
    plan_var *vars;
    size_t n_vars, cap;
    int n_superseded;  /* older runs of a (label, replicate), ignored */
    int max_replicate; /* largest replicate index in the file; 0 when none */
    int sustain_shown; /* sustain for the question line: 0 mixed, else the one value */
} plan_ctx;

/* Feasibility, ranking and the printed answer (fs_plan_rank.c). Returns the exit code: 0 when a
 * variant is feasible, 1 when none is, 71 when out of memory (message on err_out). */
int fs_plan_rank_report(plan_ctx *c, FILE *err_out);

/* "1.2 kB"-style sizes (powers of 1000), shared by reasons and tables. */
const char *fs_plan_fmt_bytes(char *buf, size_t n, double b);

#endif
