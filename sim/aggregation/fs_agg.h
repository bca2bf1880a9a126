/* fs_agg: the server's aggregation of one round's reports. Weights the deltas (sample counts, or
 * equal under DP: fs_dp), lets the algorithm rescale them (fs_algo), sums them (in fixed point
 * through secure aggregation when enabled: the same integers the masked protocol would produce),
 * adds DP's noise, divides, and applies the server optimizer (or the algorithm's own server
 * step); server.robust bounds the reports first or replaces the weighted mean (fs_robust); keeps
 * the algorithm's server control variates and the privacy accountant. Owns the optimizer state and
 * scratch vectors. */
#ifndef FS_AGG_H
#define FS_AGG_H

#include <gsl/gsl_rng.h>
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
} fs_agg_cfg;

typedef struct fs_aggregator {
    const fs_scenario *scn;
    const fs_algo *algo;
    const fs_robust *robust;   /* server.robust, else NULL */
    size_t robust_skipped;     /* rounds the robust rule could not aggregate (too few reports) */
    fs_dp_cfg dp;
    size_t n_params;
    size_t n_eligible;         /* consenting clients: the population DP samples from */
    fs_serveropt opt;
    fs_rdp rdp;
    fs_secagg_cfg secagg;
    double *sum, *delta;       /* n_params scratch */
    uint64_t *fixed;           /* n_params + 1 fixed-point accumulators (secure aggregation) */
    double *control;           /* the algorithm's server control variate (SCAFFOLD's c,
                                  n_params), else NULL */
    gsl_rng *noise;
    double epsilon;            /* spent so far (NaN without DP) */
} fs_aggregator;

/* acc += weight * u (dense or sparse), coordinate by coordinate. */
void fs_agg_add_scaled(double *acc, const fs_update *u, double weight);

int fs_agg_init(fs_aggregator *a, const fs_scenario *s, const fs_agg_cfg *cfg, fs_err *err);
void fs_agg_fini(fs_aggregator *a);

/* Aggregates the round's reports into w, summing in double in report order and rounding to
 * fs_real once, when the server step writes w (n_reports may be 0: the model stays, a DP round still
 * counts with sampling rate 0). selected[0..n_selected) are every client that took part in the
 * key exchange (secure aggregation: those that did not report are the dropped ones whose masks
 * are recovered). Returns FS_EINTERNAL if verify_masks finds the masked protocol disagreeing. */
int fs_agg_round(fs_aggregator *a, fs_real *w, const fs_agg_report *reports, size_t n_reports,
                 const uint32_t *selected, size_t n_selected, int round, fs_err *err);

#endif
