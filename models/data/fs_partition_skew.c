/* fs_partition_skew: the non-IID partitioners beyond Dirichlet: pathological label shards,
 * quantity skew (lognormal or power-law client sizes), natural partitions by a group column, and
 * feature skew (a per-client affine map of the features, applied in place). Every row goes to
 * exactly one client. Results are pure functions of (data, params, seed): pooled shuffles use
 * stream (seed, FS_RNG_PARTITION), client k's own draws stream (seed, FS_RNG_PARTITION, k). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_data.h"
#include "fs_partition_int.h"
#include "fs_rng.h"

/* ---- shared helpers */

/* Offsets zeroed and room for n_rows rows; the caller fills both. */
static int skew_alloc(fs_partition *p, size_t n_clients, size_t n_rows)
{
    memset(p, 0, sizeof *p);
    p->offset = calloc(n_clients + 1, sizeof *p->offset);
    p->rows = malloc((n_rows ? n_rows : 1) * sizeof *p->rows);
    if (!p->offset || !p->rows) {
        fs_partition_fini(p);
        return FS_ENOMEM;
    }
    p->n_clients = n_clients;
    return FS_OK;
}

/* Rows 0 .. n-1 in a uniform random order from the pooled stream (seed, PARTITION). */
static void skew_shuffled_rows(gsl_rng *r, uint64_t seed, uint32_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) rows[i] = (uint32_t)i;
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, FS_RNG_NONE, FS_RNG_NONE);
    fs_rng_shuffle_u32(r, rows, n);
}

static int skew_nomem(fs_err *err)
{
    fs_err_add(err, "partition", "out of memory");
    return FS_ENOMEM;
}

/* ---- pathological shards (McMahan et al. 2017) */

/* Labels are required and must lie in 0 .. n_classes-1. */
static int shards_check_labels(const fs_dataset *ds, fs_err *err)
{
    if (!ds->y || ds->n_classes <= 0) {
        fs_err_add(err, "partition", "shards need a classification dataset, found one without "
                                     "labels");
        return FS_ESCENARIO;
    }
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->y[i] < 0 || ds->y[i] >= ds->n_classes) {
            fs_err_add(err, "partition", "row %zu: expected a label in 0 .. %d, found %d", i,
                       ds->n_classes - 1, (int)ds->y[i]);
            return FS_ESCENARIO;
        }
    }
    return FS_OK;
}

/* Reports every bad argument, not only the first. */
static int shards_check(const fs_dataset *ds, size_t n_clients, size_t spc, fs_err *err)
{
    int rc = fs_partition_check_clients(ds, n_clients, err);
    if (spc == 0) {
        fs_err_add(err, "partition.shards_per_client", "expected an integer >= 1, found 0");
        rc = FS_ESCENARIO;
    } else if (rc == FS_OK && (spc > ds->n / n_clients)) {
        fs_err_add(err, "partition.shards_per_client",
                   "expected n_clients * shards_per_client <= %zu (the number of rows), found "
                   "%zu * %zu",
                   ds->n, n_clients, spc);
        rc = FS_ESCENARIO;
    }
    if (shards_check_labels(ds, err) != FS_OK) rc = FS_ESCENARIO;
    return rc;
}

/* Stable counting sort of the (shuffled) rows by label: equal labels keep the random order. */
static int shards_sort_by_label(const fs_dataset *ds, const uint32_t *in, uint32_t *out)
{
    size_t *start = calloc((size_t)ds->n_classes + 1, sizeof *start);
    if (!start) return FS_ENOMEM;
    for (size_t i = 0; i < ds->n; i++) start[ds->y[i] + 1]++;
    for (int c = 0; c < ds->n_classes; c++) start[c + 1] += start[c];
    for (size_t i = 0; i < ds->n; i++) out[start[ds->y[in[i]]]++] = in[i];
    free(start);
    return FS_OK;
}

/* Shard s covers sorted[s*q + min(s, rem) ..) of near-equal size; client k takes shards
 * perm[k*spc .. (k+1)*spc) in that order. */
static void shards_deal(const uint32_t *sorted, size_t n, const uint32_t *perm, size_t spc,
                        fs_partition *out)
{
    size_t n_shards = out->n_clients * spc, q = n / n_shards, rem = n % n_shards, pos = 0;
    for (size_t k = 0; k < out->n_clients; k++) {
        out->offset[k] = pos;
        for (size_t j = 0; j < spc; j++) {
            size_t s = perm[k * spc + j], lo = s * q + (s < rem ? s : rem);
            size_t len = q + (s < rem);
            memcpy(out->rows + pos, sorted + lo, len * sizeof *sorted);
            pos += len;
        }
    }
    out->offset[out->n_clients] = pos;
}

int fs_partition_shards(const fs_dataset *ds, size_t n_clients, size_t shards_per_client,
                        uint64_t seed, fs_partition *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = shards_check(ds, n_clients, shards_per_client, err);
    if (rc != FS_OK) return rc;
    size_t n_shards = n_clients * shards_per_client;
    uint32_t *sorted = malloc(ds->n * sizeof *sorted);
    uint32_t *perm = malloc(n_shards * sizeof *perm);
    gsl_rng *r = fs_rng_new();
    rc = FS_ENOMEM;
    if (!sorted || !perm || !r || skew_alloc(out, n_clients, ds->n) != FS_OK) goto fail;
    skew_shuffled_rows(r, seed, out->rows, ds->n); /* out->rows is scratch until dealt */
    if (shards_sort_by_label(ds, out->rows, sorted) != FS_OK) goto fail;
    for (size_t s = 0; s < n_shards; s++) perm[s] = (uint32_t)s;
    fs_rng_shuffle_u32(r, perm, n_shards); /* continues the pooled stream */
    shards_deal(sorted, ds->n, perm, shards_per_client, out);
    rc = FS_OK;
fail:
    if (rc != FS_OK) {
        skew_nomem(err);
        fs_partition_fini(out);
    }
    free(sorted);
    free(perm);
    if (r) gsl_rng_free(r);
    return rc;
}

/* ---- quantity skew */

static int quantity_check(const fs_dataset *ds, size_t n_clients, enum fs_quantity_kind kind,
                          double param, size_t min_per_client, fs_err *err)
{
    int rc = fs_partition_check_clients(ds, n_clients, err);
    if (kind != FS_QUANTITY_LOGNORMAL && kind != FS_QUANTITY_POWERLAW) {
        fs_err_add(err, "partition.kind", "expected lognormal or powerlaw, found %d", (int)kind);
        rc = FS_ESCENARIO;
    }
    if (!(param > 0 && isfinite(param))) {
        fs_err_add(err, "partition.param", "expected a finite number > 0, found %g", param);
        rc = FS_ESCENARIO;
    }
    if (n_clients > 0 && min_per_client > ds->n / n_clients) {
        fs_err_add(err, "partition.min_per_client",
                   "expected n_clients * min_per_client <= %zu (the number of rows), found "
                   "%zu * %zu",
                   ds->n, n_clients, min_per_client);
        rc = FS_ESCENARIO;
    }
    return rc;
}

/* Client k's log-weight from its own stream, so a client's draw does not depend on how many
 * clients there are. Drawn in log space (lognormal: N(0, param^2); Pareto: -log(U) / param)
 * because U^(-1/param) overflows for small tail exponents. */
static double quantity_log_weight(gsl_rng *r, uint64_t seed, size_t k,
                                  enum fs_quantity_kind kind, double param)
{
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, k, FS_RNG_NONE);
    if (kind == FS_QUANTITY_LOGNORMAL) return gsl_ran_gaussian(r, param);
    return -log(gsl_rng_uniform_pos(r)) / param;
}

typedef struct quantity_rem {
    double rem;
    size_t k;
} quantity_rem;

/* Largest remainder first; equal remainders go to the lower client id (deterministic). */
static int quantity_cmp_rem(const void *a, const void *b)
{
    const quantity_rem *x = a, *y = b;
    if (x->rem != y->rem) return x->rem > y->rem ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

/* sizes[k] = min + the largest-remainder rounding of extra * w_k / sum(w). Weights are
 * exp(logw - max logw), so the largest is 1 and the sum never underflows to 0. */
static void quantity_sizes(const double *logw, size_t n_clients, size_t extra, size_t min,
                           quantity_rem *rems, size_t *sizes)
{
    double top = -INFINITY, total = 0;
    for (size_t k = 0; k < n_clients; k++) top = logw[k] > top ? logw[k] : top;
    for (size_t k = 0; k < n_clients; k++) total += exp(logw[k] - top);
    size_t given = 0;
    for (size_t k = 0; k < n_clients; k++) {
        double share = (double)extra * (exp(logw[k] - top) / total);
        sizes[k] = (size_t)floor(share);
        rems[k] = (quantity_rem){share - floor(share), k};
        given += sizes[k];
    }
    qsort(rems, n_clients, sizeof *rems, quantity_cmp_rem);
    /* Rounding can push the floors a row or two past `extra`: take back from the smallest
     * remainders first. Otherwise hand the leftover out from the largest. */
    for (size_t i = n_clients; given > extra && i-- > 0;)
        if (sizes[rems[i].k] > 0) sizes[rems[i].k]--, given--;
    for (size_t i = 0; given < extra; i = (i + 1) % n_clients) sizes[rems[i].k]++, given++;
    for (size_t k = 0; k < n_clients; k++) sizes[k] += min;
}

int fs_partition_quantity(const fs_dataset *ds, size_t n_clients, enum fs_quantity_kind kind,
                          double param, size_t min_per_client, uint64_t seed, fs_partition *out,
                          fs_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = quantity_check(ds, n_clients, kind, param, min_per_client, err);
    if (rc != FS_OK) return rc;
    double *logw = malloc(n_clients * sizeof *logw);
    quantity_rem *rems = malloc(n_clients * sizeof *rems);
    size_t *sizes = malloc(n_clients * sizeof *sizes);
    gsl_rng *r = fs_rng_new();
    rc = FS_ENOMEM;
    if (!logw || !rems || !sizes || !r || skew_alloc(out, n_clients, ds->n) != FS_OK) goto fail;
    for (size_t k = 0; k < n_clients; k++)
        logw[k] = quantity_log_weight(r, seed, k, kind, param);
    quantity_sizes(logw, n_clients, ds->n - n_clients * min_per_client, min_per_client, rems,
                   sizes);
    skew_shuffled_rows(r, seed, out->rows, ds->n);
    for (size_t k = 0; k < n_clients; k++) out->offset[k + 1] = out->offset[k] + sizes[k];
    rc = FS_OK;
fail:
    if (rc != FS_OK) {
        skew_nomem(err);
        fs_partition_fini(out);
    }
    free(logw);
    free(rems);
    free(sizes);
    if (r) gsl_rng_free(r);
    return rc;
}

/* ---- natural partition by a group column */

static int natural_check(const fs_dataset *ds, size_t group, fs_err *err)
{
    if (group >= ds->n_groups) {
        fs_err_add(err, "partition.group", "expected a group column index below %zu, found %zu",
                   ds->n_groups, group);
        return FS_ESCENARIO;
    }
    const fs_group *g = &ds->groups[group];
    if (ds->n > UINT32_MAX || ds->n == 0 || g->n_levels == 0) {
        fs_err_add(err, "partition.group",
                   "group '%s': expected 1 .. %u rows over at least one level, found %zu rows "
                   "and %zu levels",
                   g->name, UINT32_MAX, ds->n, g->n_levels);
        return FS_ESCENARIO;
    }
    for (size_t i = 0; i < ds->n; i++) {
        if (g->level[i] >= g->n_levels) {
            fs_err_add(err, "partition.group", "group '%s': row %zu: expected a level in 0 .. %zu, "
                                               "found %u",
                       g->name, i, g->n_levels - 1, g->level[i]);
            return FS_ESCENARIO;
        }
    }
    return FS_OK;
}

/* A stable counting sort by level: client c = level c, rows in dataset order. */
int fs_partition_natural(const fs_dataset *ds, size_t group, fs_partition *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = natural_check(ds, group, err);
    if (rc != FS_OK) return rc;
    const fs_group *g = &ds->groups[group];
    size_t *next = malloc(g->n_levels * sizeof *next);
    if (!next || skew_alloc(out, g->n_levels, ds->n) != FS_OK) {
        free(next);
        return skew_nomem(err);
    }
    for (size_t i = 0; i < ds->n; i++) out->offset[g->level[i] + 1]++;
    for (size_t c = 0; c < g->n_levels; c++) {
        out->offset[c + 1] += out->offset[c];
        next[c] = out->offset[c];
    }
    for (size_t i = 0; i < ds->n; i++) out->rows[next[g->level[i]]++] = (uint32_t)i;
    free(next);
    return FS_OK;
}

/* ---- feature skew */

/* The partition must name each row of this dataset at most once, or a row would be mapped twice
 * (or out of bounds). Checked before any row is touched, so a failure leaves the data as is. */
static int feature_check_rows(const fs_dataset *ds, const fs_partition *p, fs_err *err)
{
    size_t total = p->offset ? p->offset[p->n_clients] : 0;
    unsigned char *seen = calloc(ds->n ? ds->n : 1, 1);
    if (!seen) return skew_nomem(err);
    int rc = FS_OK;
    for (size_t i = 0; i < total && rc == FS_OK; i++) {
        uint32_t row = p->rows[i];
        if (row >= ds->n || seen[row]) {
            fs_err_add(err, "partition", "feature skew: entry %zu: expected a row below %zu "
                                         "listed once, found row %u %s",
                       i, ds->n, row, row >= ds->n ? "out of range" : "again");
            rc = FS_ESCENARIO;
        } else {
            seen[row] = 1;
        }
    }
    free(seen);
    return rc;
}

static int feature_check(const fs_dataset *ds, const fs_partition *p, double scale_sigma,
                         double shift_sigma, fs_err *err)
{
    int rc = FS_OK;
    if (fs_dataset_is_sparse(ds) || (!ds->x && !ds->x8 && ds->n * ds->d > 0)) {
        fs_err_add(err, "partition", "feature skew needs dense features, found a sparse dataset");
        rc = FS_ESCENARIO;
    }
    /* 0 is allowed: it switches that half of the skew off (a_k = 1 or b_k = 0). */
    if (!(scale_sigma >= 0 && isfinite(scale_sigma))) {
        fs_err_add(err, "partition.scale_sigma", "expected a finite number >= 0, found %g",
                   scale_sigma);
        rc = FS_ESCENARIO;
    }
    if (!(shift_sigma >= 0 && isfinite(shift_sigma))) {
        fs_err_add(err, "partition.shift_sigma", "expected a finite number >= 0, found %g",
                   shift_sigma);
        rc = FS_ESCENARIO;
    }
    if (rc == FS_OK) rc = feature_check_rows(ds, p, err);
    return rc;
}

/* Client k: a_k first, then b_k[0 .. d) from stream (seed, PARTITION, k); rows become
 * a_k * x + b_k, computed in double and stored as float. */
static void feature_client(fs_dataset *ds, const fs_partition *p, size_t k, gsl_rng *r,
                           uint64_t seed, double scale_sigma, double shift_sigma, double *b)
{
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, k, FS_RNG_NONE);
    double a = gsl_ran_lognormal(r, 0, scale_sigma);
    for (size_t j = 0; j < ds->d; j++) b[j] = gsl_ran_gaussian(r, shift_sigma);
    for (size_t i = p->offset[k]; i < p->offset[k + 1]; i++) {
        float *x = ds->x + (size_t)p->rows[i] * ds->d;
        for (size_t j = 0; j < ds->d; j++) x[j] = (float)(a * x[j] + b[j]);
    }
}

int fs_partition_feature_skew(fs_dataset *ds, const fs_partition *p, double scale_sigma,
                              double shift_sigma, uint64_t seed, fs_err *err)
{
    int rc = feature_check(ds, p, scale_sigma, shift_sigma, err);
    if (rc != FS_OK) return rc;
    if (fs_dataset_expand(ds) != FS_OK) return skew_nomem(err); /* skewed rows are not pixels */
    double *b = malloc((ds->d ? ds->d : 1) * sizeof *b);
    gsl_rng *r = fs_rng_new();
    if (!b || !r) {
        free(b);
        if (r) gsl_rng_free(r);
        return skew_nomem(err);
    }
    for (size_t k = 0; k < p->n_clients; k++)
        feature_client(ds, p, k, r, seed, scale_sigma, shift_sigma, b);
    free(b);
    gsl_rng_free(r);
    return FS_OK;
}
