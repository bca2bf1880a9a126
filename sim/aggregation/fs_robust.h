/* fs_robust: the robust aggregators of server.robust behind one table. A row is a descriptor:
 * its name, what it needs (the combination rules in fs_scn_rules.c read it), its preconditions
 * on the round size (checked at validation), and one of two hooks into fs_agg's round: `bound`
 * rescales every report before the weighted mean (norm_bound: a client-side clip, so it composes
 * with secure aggregation and DP), `combine` replaces the weighted mean of the round's deltas
 * (coordinate-wise median, trimmed mean, Krum / Multi-Krum). The server optimizer applies after
 * either; fs_agg.c calls the two hooks and nothing else.
 *
 * combine reads each report's delta times its scale (FedBuff's staleness discount, 1 in sync
 * rounds): dense or sparse, a coordinate a sparse update does not carry is 0. Sparse rounds are
 * never densified to reports x parameters: the (index, value) pairs are sorted by coordinate and
 * the untouched reports are counted as implicit zeros. Median and trimmed mean do not depend on
 * the order of the reports; Krum breaks ties by client id and sums in report order (fixed by the
 * engine, as for FedAvg); nothing depends on --threads: the aggregator runs on one thread. */
#ifndef FS_ROBUST_H
#define FS_ROBUST_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_scn.h"

struct fs_agg_report;

/* What a robust aggregator needs; fs_scn_rules.c refuses the scenarios that lack it. */
enum fs_robust_need {
    /* the server reads every update on its own: not under secure aggregation (it sees only the
       sum) nor DP (its noise is calibrated to the mean's sensitivity, see fs_robust.c) */
    FS_ROBUST_SEES_UPDATES = 1u << 0,
};

/* fs_robust_combine's outcome besides FS_OK and FS_ENOMEM: too few reports for the rule (Krum
 * with n <= 2f + 2): the round leaves the model unchanged. */
#define FS_ROBUST_SKIPPED (-1)

typedef struct fs_robust {
    const char *name;
    const char *noun; /* for messages: "a coordinate-wise median" */
    unsigned needs;   /* enum fs_robust_need */
    /* validation: why the scenario's parameters cannot work with n reports per server step
       (into buf, with the offending key of the variant's object in *key), or NULL */
    const char *(*misfit)(const fs_scenario *s, size_t n, const char **key, char *buf, size_t len);
    /* before the weighted mean: multiplies each report's delta by a factor in scale[0..n) */
    void (*bound)(const fs_scenario *s, const struct fs_agg_report *r, size_t n, double *scale);
    /* replaces the weighted mean: delta (n_params) := the robust aggregate of the n reports'
       scale[k] x delta_k (weight[k]: their FedAvg weights). Returns FS_OK, FS_ENOMEM or
       FS_ROBUST_SKIPPED. */
    int (*combine)(const fs_scenario *s, const struct fs_agg_report *r, size_t n,
                   const double *weight, const double *scale, size_t n_params, double *delta);
} fs_robust;

/* The scenario's aggregator, NULL without server.robust. */
const fs_robust *fs_robust_of(const fs_scenario *s);

#endif
