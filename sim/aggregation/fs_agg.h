/* fs_agg: the server's aggregation of one round's reports. Weights the deltas (sample counts, or
 * equal under DP: fs_dp), lets the algorithm rescale them (fs_algo), sums them (in fixed point
 * through secure aggregation when enabled: the same integers the masked protocol would produce),
 * adds DP's noise, divides, and applies the server optimizer (or the algorithm's own server
 * step); server.robust bounds the reports first or replaces the weighted mean (fs_robust); keeps
 * the algorithm's server control variates and the privacy accountant. Owns the optimizer state and
 * scratch vectors. */
#ifndef FS_AGG_H
#define FS_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "fs_algo.h"
#include "fs_dp.h"
#include "fs_err.h"
#include "fs_model.h"
#include "fs_rdp.h"
#include "fs_robust.h"
#include "fs_scn.h"
#include "fs_secagg.h"
#include "fs_serveropt.h"

/* One aggregated report. */
typedef struct fs_agg_report {
    uint32_t client;
    const fs_update *update;   /* the (clipped, compressed) delta the server decodes */
    double n_samples;
    double scale;              /* multiplies the delta, not its weight: FedBuff's staleness
                                  discount s(tau) (1 in synchronous rounds) */
    double loss_at_global;     /* q-FFL: the client's loss at the global model */
    const fs_real *ctrl_delta; /* SCAFFOLD: c_i+ - c_i (n_params), else NULL */
    double steps;              /* local steps the client took (FedNova's tau_i) */
} fs_agg_report;

/* What the server policy tells the aggregator. */
typedef struct fs_agg_cfg {
    size_t n_params;
    size_t n_eligible;         /* consenting clients: the population DP samples from */
    double dp_denominator;     /* updates one server step sums by design: DP's K (fs_dp.h) */
    int n_threads;             /* for the DP noise (0: 1) */
} fs_agg_cfg;

typedef struct fs_aggregator {
    const fs_scenario *scn;
    const fs_algo *algo;
    const fs_robust *robust;   /* server.robust, else NULL */
    size_t robust_skipped;     /* rounds the robust rule could not aggregate (too few reports) */
    fs_dp_cfg dp;
    size_t n_params;
    size_t n_eligible;         /* consenting clients: the population DP samples from */
    int n_threads;
    fs_serveropt opt;
    fs_rdp rdp;
    fs_secagg_cfg secagg;
    double *sum, *delta;       /* n_params scratch */
    bool sum_untouched;        /* sparse rounds: every sum holds fs_agg.c's SUM_UNTOUCHED; the */
    uint32_t *touched;         /* coordinates the round's reports touched (allocated at the */
    size_t n_touched;          /* first), n_touched of them; SIZE_MAX after a dense round */
    uint64_t *fixed;           /* n_params + 1 fixed-point accumulators (secure aggregation) */
    double *control;           /* the algorithm's server control variate (SCAFFOLD's c,
                                  n_params), else NULL */
    double epsilon;            /* spent so far (NaN without DP) */
    /* server.aggregation_weights = ipw (fs_agg_set_ipw): each client's level of the weighting
     * group (borrowed), and per level its clients in the population and the reports aggregated
     * so far (owned; a checkpoint carries ipw_reports) */
    const int32_t *ipw_level;
    size_t ipw_n_levels;
    double *ipw_population;
    uint64_t *ipw_reports;
} fs_aggregator;

/* acc += weight * u (dense or sparse), coordinate by coordinate. */
void fs_agg_add_scaled(double *acc, const fs_update *u, double weight);

int fs_agg_init(fs_aggregator *a, const fs_scenario *s, const fs_agg_cfg *cfg, fs_err *err);
void fs_agg_fini(fs_aggregator *a);

/* Inverse-probability weights (server.aggregation_weights = ipw, as in FedIPW): level[c] is
 * client c's level of the weighting group (-1: none; borrowed, must outlive a),
 * population[l * stride] the clients of level l in the population. FS_ENOMEM. */
int fs_agg_set_ipw(fs_aggregator *a, const int32_t *level, const uint64_t *population,
                   size_t stride, size_t n_levels);

/* A report's weight before fs_dp's rule: samples; 1 (uniform); or, for ipw, samples /
 * max(ipw_floor, rho_l). rho_l is the rate at which a member of the population of level l
 * reported so far, reports_l / (population_l x rounds), over the mean rate of everyone,
 * reports / (population x rounds), i.e. (reports_l / reports) / (population_l / population),
 * counted over the rounds aggregated before this one; 1 before the first report, for a level
 * without clients and for a client without a level. The population, not the consenting
 * clients, is the denominator: a level that mostly opted out (enrollment bias) is corrected as
 * much as one that is rarely online (participation bias), so the weighted mean estimates the
 * population's. Normalised by the mean rate, rho is free of the round count and of
 * clients_per_round, so the floor reads the same in every scenario: 0.1 lets a level weigh at
 * most 10 times its share of samples. */
double fs_agg_report_weight(const fs_aggregator *a, uint32_t client, double n_samples);

/* Aggregates the round's reports into w, summing in double in report order and rounding to
 * fs_real once, when the server step writes w (n_reports may be 0: the model stays, a DP round still
 * counts with sampling rate 0). selected[0..n_selected) are every client that took part in the
 * key exchange (secure aggregation: those that did not report are the dropped ones whose masks
 * are recovered). Returns FS_EINTERNAL if verify_masks finds the masked protocol disagreeing. */
int fs_agg_round(fs_aggregator *a, fs_real *w, const fs_agg_report *reports, size_t n_reports,
                 const uint32_t *selected, size_t n_selected, int round, fs_err *err);

#endif
