/* fs_stats: the statistics of replicated experiments. Means, standard deviations and 95%
 * Student-t confidence intervals over replicates (GSL's gsl_stats_* and gsl_cdf_tdist_Pinv, not
 * formulas by hand), and paired comparisons of two variants on the replicates both ran (common
 * random numbers: replicate r of every variant sees the same seeds). No I/O, no allocation. */
#ifndef FS_STATS_H
#define FS_STATS_H

#include <stdbool.h>
#include <stddef.h>

#define FS_STATS_LEVEL 0.95 /* every interval fedsim reports is a 95% interval */

/* Summary of n values. sd is the sample standard deviation (n - 1 in the denominator) and
 * half_width the half-width of the two-sided 95% t interval, mean ± t(0.975, n-1) sd / sqrt(n).
 * n = 1: sd and half_width are NaN (one draw says nothing of the spread); n = 0: all NaN. */
typedef struct fs_stats_summary {
    size_t n;
    double mean, sd, half_width;
} fs_stats_summary;

/* Summary of x[0..n), skipping NaN values (n counts the values kept). */
fs_stats_summary fs_stats_summarize(const double *x, size_t n);

/* Low and high ends of the interval (NaN when half_width is). */
double fs_stats_ci_low(const fs_stats_summary *s);
double fs_stats_ci_high(const fs_stats_summary *s);

/* The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1), NaN for df < 1. */
double fs_stats_t975(size_t df);

/* Paired difference a[i] - b[i] over the indices where both are non-NaN: its summary. The two
 * are indistinguishable at 95% when the difference's interval contains 0 (or when fewer than
 * two pairs exist, so no interval can be formed). */
fs_stats_summary fs_stats_paired(const double *a, const double *b, size_t n);
bool fs_stats_indistinguishable(const fs_stats_summary *diff);

#endif
