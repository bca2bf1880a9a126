/* fs_stats: means, sample standard deviations and t intervals over replicates, with GSL. */
#include "fs_stats.h"

#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>

/* Replications are capped at 1000 per variant (sweep.replications.count), so the values fit on
 * the stack in a fixed-size buffer; larger inputs are summarised over their first FS_STATS_MAX
 * values, which no caller reaches. */
#define FS_STATS_MAX 1024

double fs_stats_t975(size_t df)
{
    return df < 1 ? NAN : gsl_cdf_tdist_Pinv(0.5 + FS_STATS_LEVEL / 2, (double)df);
}

static fs_stats_summary summarize_dense(const double *v, size_t n)
{
    fs_stats_summary s = {.n = n, .mean = NAN, .sd = NAN, .half_width = NAN};
    if (n == 0) return s;
    s.mean = gsl_stats_mean(v, 1, n);
    if (n < 2) return s;
    s.sd = gsl_stats_sd_m(v, 1, n, s.mean);
    s.half_width = fs_stats_t975(n - 1) * s.sd / sqrt((double)n);
    return s;
}

fs_stats_summary fs_stats_summarize(const double *x, size_t n)
{
    double v[FS_STATS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k < FS_STATS_MAX; i++)
        if (!isnan(x[i])) v[k++] = x[i];
    return summarize_dense(v, k);
}

double fs_stats_ci_low(const fs_stats_summary *s)
{
    return s->mean - s->half_width;
}

double fs_stats_ci_high(const fs_stats_summary *s)
{
    return s->mean + s->half_width;
}

fs_stats_summary fs_stats_paired(const double *a, const double *b, size_t n)
{
    double d[FS_STATS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k < FS_STATS_MAX; i++)
        if (!isnan(a[i]) && !isnan(b[i])) d[k++] = a[i] - b[i];
    return summarize_dense(d, k);
}

bool fs_stats_indistinguishable(const fs_stats_summary *diff)
{
    if (diff->n < 2 || isnan(diff->half_width)) return true;
    /* identical paired values (sd 0) differ exactly by the mean: distinguishable iff it is not 0 */
    return fabs(diff->mean) <= diff->half_width;
}
