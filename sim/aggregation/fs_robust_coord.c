/* fs_robust_coord: the coordinate-wise rules of server.robust, median and trimmed_mean (Yin et al.
 * 2018, "Byzantine-robust distributed learning: towards optimal statistical rates"), both
 * unweighted. Each coordinate's n values (each report's scale x delta) are ranked; median takes the
 * middle one, or the mean of the two middle ones when n is even; trimmed_mean drops the
 * floor(beta n) smallest and largest and averages the rest (beta < 1/2 always leaves one). Dense
 * rounds gather each coordinate's column; rounds with a sparse update sort the explicit (index,
 * value) pairs by coordinate and count the reports that did not touch it as zeros. */
#include "fs_robust_coord.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs_agg.h"
#include "fs_robust.h"

/* ---- order statistics with implicit zeros ------------------------------------------------- */

/* Value of rank r (0-based) among n values: v[0..c) ascending, then n - c zeros placed between
 * the negatives (v[0..neg)) and the rest. */
static double at_rank(const double *v, size_t c, size_t n, size_t neg, size_t r)
{
    size_t zeros = n - c;
    if (r < neg) return v[r];
    if (r < neg + zeros) return 0;
    return v[r - zeros];
}

static size_t n_negative(const double *v, size_t c)
{
    size_t neg = 0;
    while (neg < c && v[neg] < 0)
        neg++;
    return neg;
}

double fs_robust_median(const double *v, size_t c, size_t n)
{
    size_t neg = n_negative(v, c);
    if (n % 2) return at_rank(v, c, n, neg, n / 2);
    return 0.5 * (at_rank(v, c, n, neg, n / 2 - 1) + at_rank(v, c, n, neg, n / 2));
}

double fs_robust_trimmed_mean(const double *v, size_t c, size_t n, double beta)
{
    /* floor(beta n), forgiving the rounding of a decimal beta (0.29 x 100 = 28.999...) */
    size_t t = (size_t)floor(beta * (double)n + 1e-9), neg = n_negative(v, c), zeros = n - c;
    if (2 * t >= n) t = (n - 1) / 2; /* a beta within 1e-9 of 1/2: keep one value */
    double sum = 0; /* ascending: the same additions whether the zeros are given or implicit */
    for (size_t i = 0; i < c; i++) {
        size_t r = i < neg ? i : i + zeros;
        if (r >= t && r < n - t) sum += v[i];
    }
    return sum / (double)(n - 2 * t);
}

/* ---- coordinate-wise rules ---------------------------------------------------------------- */

typedef double (*coord_stat)(const fs_scenario *s, const double *v, size_t c, size_t n);

static double median_stat(const fs_scenario *s, const double *v, size_t c, size_t n)
{
    (void)s;
    return fs_robust_median(v, c, n);
}

static double trimmed_stat(const fs_scenario *s, const double *v, size_t c, size_t n)
{
    return fs_robust_trimmed_mean(v, c, n, s->server.robust_beta);
}

/* A total order on doubles: equal values are interchangeable, so any sort gives the same array. */
int fs_robust_cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

typedef struct pair {
    uint32_t idx;
    double val;
} pair;

static int cmp_pair(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->idx != b->idx) return a->idx < b->idx ? -1 : 1;
    return fs_robust_cmp_double(&a->val, &b->val);
}

static bool all_dense(const fs_agg_report *r, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (r[k].update->sparse) return false;
    return true;
}

/* Dense rounds: each coordinate's n values gathered, sorted, reduced. */
static int coords_dense(const fs_scenario *s, const fs_agg_report *r, size_t n, const double *scale,
                        size_t np, double *delta, coord_stat stat)
{
    double *col = malloc(n * sizeof *col);
    if (!col) return FS_ENOMEM;
    for (size_t j = 0; j < np; j++) {
        for (size_t k = 0; k < n; k++)
            col[k] = scale[k] * r[k].update->dense[j];
        qsort(col, n, sizeof *col, fs_robust_cmp_double);
        delta[j] = stat(s, col, n, n);
    }
    free(col);
    return FS_OK;
}

/* The (index, value) pairs a report carries explicitly: a sparse update's entries, a dense
 * update's nonzero coordinates (a round may mix both). Appends to p; returns the new count. */
static size_t gather(const fs_agg_report *r, double scale, pair *p, size_t at)
{
    const fs_update *u = r->update;
    if (u->sparse) {
        for (size_t i = 0; i < u->nnz; i++)
            p[at++] = (pair){u->idx[i], scale * u->val[i]};
    } else {
        for (size_t j = 0; j < u->n_params; j++)
            if (u->dense[j] != 0) p[at++] = (pair){(uint32_t)j, scale * u->dense[j]};
    }
    return at;
}

static size_t n_explicit(const fs_update *u)
{
    size_t c = 0;
    if (u->sparse) return u->nnz;
    for (size_t j = 0; j < u->n_params; j++)
        c += u->dense[j] != 0;
    return c;
}

/* Sparse rounds: every explicit pair sorted by (coordinate, value); each coordinate's run holds
 * the values given, the other reports count as zeros. Untouched coordinates stay 0 (the median
 * and the trimmed mean of zeros), so the work is O(total nnz log), never reports x parameters. */
static int coords_sparse(const fs_scenario *s, const fs_agg_report *r, size_t n,
                         const double *scale, size_t np, double *delta, coord_stat stat)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += n_explicit(r[k].update);
    pair *p = malloc((total ? total : 1) * sizeof *p);
    double *run = malloc(n * sizeof *run);
    if (!p || !run) {
        free(p), free(run);
        return FS_ENOMEM;
    }
    size_t at = 0;
    for (size_t k = 0; k < n; k++)
        at = gather(&r[k], scale[k], p, at);
    qsort(p, total, sizeof *p, cmp_pair);
    memset(delta, 0, np * sizeof *delta);
    for (size_t i = 0; i < total;) {
        size_t c = 0, j = p[i].idx;
        while (i < total && p[i].idx == j && c < n) /* one entry per report and coordinate */
            run[c++] = p[i++].val;
        delta[j] = stat(s, run, c, n);
    }
    free(p), free(run);
    return FS_OK;
}

static int coordinatewise(const fs_scenario *s, const fs_agg_report *r, size_t n,
                          const double *scale, size_t np, double *delta, coord_stat stat)
{
    return all_dense(r, n) ? coords_dense(s, r, n, scale, np, delta, stat)
                           : coords_sparse(s, r, n, scale, np, delta, stat);
}

static int median_combine(const fs_scenario *s, const fs_agg_report *r, size_t n,
                          const double *weight, const double *scale, size_t np, double *delta)
{
    (void)weight;
    return coordinatewise(s, r, n, scale, np, delta, median_stat);
}

static int trimmed_combine(const fs_scenario *s, const fs_agg_report *r, size_t n,
                           const double *weight, const double *scale, size_t np, double *delta)
{
    (void)weight;
    return coordinatewise(s, r, n, scale, np, delta, trimmed_stat);
}

const fs_robust fs_robust_median_row = {.name = "median",
                                        .noun = "a coordinate-wise median",
                                        .needs = FS_ROBUST_SEES_UPDATES,
                                        .combine = median_combine};
const fs_robust fs_robust_trimmed_mean_row = {.name = "trimmed_mean",
                                              .noun = "a coordinate-wise trimmed mean",
                                              .needs = FS_ROBUST_SEES_UPDATES,
                                              .combine = trimmed_combine};
