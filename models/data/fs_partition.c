/* fs_partition: assigning the rows of a pooled dataset to clients (IID and Dirichlet label
 * skew). Every row goes to exactly one client; every client gets >= 1 row. Results are pure
 * functions of (labels, n_clients, params, seed): shuffles use stream (seed, FS_RNG_PARTITION),
 * client k's class mix uses stream (seed, FS_RNG_PARTITION, k). */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs_data.h"
#include "fs_partition_int.h"
#include "fs_rng.h"

int fs_partition_check_clients(const fs_dataset *ds, size_t n_clients, fs_err *err)
{
    if (ds->n > UINT32_MAX) {
        fs_err_add(err, "partition", "expected at most %u rows, found %zu", UINT32_MAX, ds->n);
        return FS_ESCENARIO;
    }
    if (n_clients == 0 || n_clients > ds->n) {
        fs_err_add(err, "partition.n_clients",
                   "expected 1 .. %zu (the number of rows in the dataset), found %zu", ds->n,
                   n_clients);
        return FS_ESCENARIO;
    }
    return FS_OK;
}

/* Offsets of n rows cut into n_clients near-equal slices (the first n % n_clients get +1);
 * rows are allocated but not filled. */
static int part_alloc(fs_partition *p, size_t n_clients, size_t n)
{
    memset(p, 0, sizeof *p);
    p->offset = malloc((n_clients + 1) * sizeof *p->offset);
    p->rows = malloc(n * sizeof *p->rows);
    if (!p->offset || !p->rows) {
        fs_partition_fini(p);
        return FS_ENOMEM;
    }
    p->n_clients = n_clients;
    size_t q = n / n_clients, rem = n % n_clients;
    for (size_t k = 0; k <= n_clients; k++) p->offset[k] = k * q + (k < rem ? k : rem);
    return FS_OK;
}

int fs_partition_iid(const fs_dataset *ds, size_t n_clients, uint64_t seed, fs_partition *out,
                     fs_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = fs_partition_check_clients(ds, n_clients, err);
    if (rc != FS_OK) return rc;
    gsl_rng *r = fs_rng_new();
    if (!r || (rc = part_alloc(out, n_clients, ds->n)) != FS_OK) goto fail;
    for (size_t i = 0; i < ds->n; i++) out->rows[i] = (uint32_t)i;
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, FS_RNG_NONE, FS_RNG_NONE);
    fs_rng_shuffle_u32(r, out->rows, ds->n);
    gsl_rng_free(r);
    return FS_OK;
fail:
    fs_err_add(err, "partition", "out of memory");
    if (r) gsl_rng_free(r);
    return FS_ENOMEM;
}

/* Class pools for the Dirichlet partitioner, over the classes present in the data only (an
 * absent class would get a Dirichlet parameter of 0, which is not a valid distribution). */
typedef struct part_pools {
    size_t n_cls;  /* classes present */
    size_t *next;  /* per class: cursor into rows */
    size_t *end;   /* per class: end of its pool in rows */
    double *param; /* per class: alpha * prior */
    double *q;     /* per class: this client's proportions */
    uint32_t *rows; /* rows grouped by class, each pool shuffled */
} part_pools;

static void part_pools_fini(part_pools *pp)
{
    free(pp->next);
    free(pp->end);
    free(pp->param);
    free(pp->q);
    free(pp->rows);
    memset(pp, 0, sizeof *pp);
}

/* Labels must be 0 .. n_classes-1; returns per-label counts in cnt (n_classes entries). */
static int part_count_labels(const fs_dataset *ds, size_t *cnt, fs_err *err)
{
    for (size_t i = 0; i < ds->n; i++) {
        if (ds->y[i] < 0 || ds->y[i] >= ds->n_classes) {
            fs_err_add(err, "partition", "row %zu: expected a label in 0 .. %d, found %d", i,
                       ds->n_classes - 1, (int)ds->y[i]);
            return FS_ESCENARIO;
        }
        cnt[ds->y[i]]++;
    }
    return FS_OK;
}

/* Groups rows by class with a stable counting sort, then shuffles each pool with `r`, so taking
 * pool entries in order is sampling that class without replacement. */
static int part_pools_init(part_pools *pp, const fs_dataset *ds, double alpha, gsl_rng *r,
                           fs_err *err)
{
    size_t n_lab = ds->n_classes > 0 ? (size_t)ds->n_classes : 1;
    size_t *cnt = calloc(n_lab, sizeof *cnt), *cls = malloc(n_lab * sizeof *cls);
    memset(pp, 0, sizeof *pp);
    pp->next = malloc(n_lab * sizeof *pp->next);
    pp->end = malloc(n_lab * sizeof *pp->end);
    pp->param = malloc(n_lab * sizeof *pp->param);
    pp->q = malloc(n_lab * sizeof *pp->q);
    pp->rows = malloc(ds->n * sizeof *pp->rows);
    int rc = FS_ENOMEM;
    if (!cnt || !cls || !pp->next || !pp->end || !pp->param || !pp->q || !pp->rows) goto fail;
    if ((rc = part_count_labels(ds, cnt, err)) != FS_OK) goto fail;
    for (size_t l = 0, start = 0; l < n_lab; l++) {
        if (cnt[l] == 0) continue;
        cls[l] = pp->n_cls;
        pp->next[pp->n_cls] = start;
        pp->end[pp->n_cls] = start += cnt[l];
        pp->param[pp->n_cls++] = alpha * (double)cnt[l] / (double)ds->n;
    }
    for (size_t i = 0; i < ds->n; i++) pp->rows[pp->next[cls[ds->y[i]]]++] = (uint32_t)i;
    for (size_t c = 0; c < pp->n_cls; c++) { /* pools are contiguous: rewind each cursor */
        pp->next[c] = c ? pp->end[c - 1] : 0;
        fs_rng_shuffle_u32(r, pp->rows + pp->next[c], pp->end[c] - pp->next[c]);
    }
    free(cnt);
    free(cls);
    return FS_OK;
fail:
    free(cnt);
    free(cls);
    part_pools_fini(pp);
    return rc;
}

/* Weight of class c for the next draw: the client's proportion, or, when every class it wants
 * is exhausted (or q underflowed to all zeros at tiny alpha), the remaining pool size, which is
 * the renormalised prior of what is left. */
static double part_weight(const part_pools *pp, size_t c, bool by_size)
{
    if (pp->next[c] >= pp->end[c]) return 0;
    return by_size ? (double)(pp->end[c] - pp->next[c]) : pp->q[c];
}

/* Draws a class with a non-empty pool from q renormalised over those pools. */
static size_t part_pick(const part_pools *pp, gsl_rng *r)
{
    bool by_size = false;
    double total = 0;
    for (size_t c = 0; c < pp->n_cls; c++) total += part_weight(pp, c, false);
    if (!(total > 0)) {
        by_size = true;
        total = 0;
        for (size_t c = 0; c < pp->n_cls; c++) total += part_weight(pp, c, true);
    }
    double u = gsl_rng_uniform(r) * total;
    size_t last = 0;
    for (size_t c = 0; c < pp->n_cls; c++) {
        double w = part_weight(pp, c, by_size);
        if (w <= 0) continue;
        last = c;
        if ((u -= w) < 0) return c;
    }
    return last; /* u landed on the rounding slack at the top: take the last eligible class */
}

/* Client's proportions q ~ Dir(alpha * p), then quota rows drawn class by class. */
static void part_client(part_pools *pp, gsl_rng *r, uint32_t *dst, size_t quota)
{
    gsl_ran_dirichlet(r, pp->n_cls, pp->param, pp->q);
    for (size_t c = 0; c < pp->n_cls; c++)
        if (!isfinite(pp->q[c]) || pp->q[c] < 0) pp->q[c] = 0;
    for (size_t s = 0; s < quota; s++) {
        size_t c = part_pick(pp, r);
        dst[s] = pp->rows[pp->next[c]++];
    }
}

int fs_partition_dirichlet(const fs_dataset *ds, size_t n_clients, double alpha, uint64_t seed,
                           fs_partition *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = fs_partition_check_clients(ds, n_clients, err);
    if (!(alpha > 0 && isfinite(alpha))) {
        fs_err_add(err, "partition.alpha", "expected a finite number > 0, found %g", alpha);
        rc = FS_ESCENARIO;
    }
    if (rc != FS_OK) return rc;
    part_pools pp = {0};
    gsl_rng *r = fs_rng_new();
    rc = FS_ENOMEM;
    if (!r) goto fail;
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, FS_RNG_NONE, FS_RNG_NONE);
    if ((rc = part_pools_init(&pp, ds, alpha, r, err)) != FS_OK) goto fail;
    if ((rc = part_alloc(out, n_clients, ds->n)) != FS_OK) goto fail;
    for (size_t k = 0; k < n_clients; k++) {
        fs_rng_reseed(r, seed, FS_RNG_PARTITION, k, FS_RNG_NONE);
        part_client(&pp, r, out->rows + out->offset[k], fs_partition_size(out, k));
    }
    part_pools_fini(&pp);
    gsl_rng_free(r);
    return FS_OK;
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, "partition", "out of memory");
    part_pools_fini(&pp);
    if (r) gsl_rng_free(r);
    fs_partition_fini(out);
    return rc;
}
