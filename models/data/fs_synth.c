/* fs_synth: the FedProx Synthetic(alpha, beta) generator (Li et al. 2020, after Shamir et al.
 * 2014). Client k draws everything from its own stream (seed, FS_RNG_DATA, k), so its rows are
 * identical whatever n_clients is. Train rows of all clients are stored contiguously in client
 * order, likewise test rows; the returned partitions are therefore contiguous ranges. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_data.h"
#include "fs_rng.h"

#define SYN_D 60
#define SYN_C 10

/* One client's generating model. */
typedef struct synth_client {
    double w[SYN_C][SYN_D];
    double b[SYN_C];
    double v[SYN_D];
    double sd[SYN_D]; /* per-feature standard deviation of x */
} synth_client;

static int synth_check(const fs_synth_cfg *cfg, fs_err *err)
{
    int bad = 0;
    if (cfg->n_clients == 0 || cfg->n_clients > UINT32_MAX) {
        fs_err_add(err, "synthetic.n_clients", "expected 1 .. %u, found %zu", UINT32_MAX,
                   cfg->n_clients);
        bad++;
    }
    if (!(cfg->alpha >= 0 && isfinite(cfg->alpha))) {
        fs_err_add(err, "synthetic.alpha", "expected a finite number >= 0, found %g", cfg->alpha);
        bad++;
    }
    if (!(cfg->beta >= 0 && isfinite(cfg->beta))) {
        fs_err_add(err, "synthetic.beta", "expected a finite number >= 0, found %g", cfg->beta);
        bad++;
    }
    if (!(cfg->train_fraction >= 0 && cfg->train_fraction <= 1)) {
        fs_err_add(err, "synthetic.train_fraction", "expected 0 .. 1, found %g",
                   cfg->train_fraction);
        bad++;
    }
    return bad ? FS_ESCENARIO : FS_OK;
}

/* The first draw of client k's stream: floor(lognormal(4, 2)) + 50 as in FedProx's
 * np.random.lognormal(4, 2).astype(int) + 50, capped so one client stays addressable. */
static size_t synth_size(gsl_rng *r, const fs_synth_cfg *cfg)
{
    double cap = cfg->max_per_client ? (double)cfg->max_per_client : (double)UINT32_MAX;
    double n = floor(gsl_ran_lognormal(r, 4.0, 2.0)) + 50.0;
    return (size_t)(n < cap ? n : cap);
}

/* Reads "N(m, s)" in fs_data.h as mean and *variance*, as in the paper's notation
 * (u_k ~ N(0, alpha)), so the GSL standard deviation is sqrt(alpha). FedProx's script passes
 * alpha as numpy's scale (a standard deviation): the two agree for alpha, beta in {0, 1}
 * (the paper's settings (0,0) and (1,1)) and differ by sqrt for (0.5, 0.5). */
static void synth_model(gsl_rng *r, const fs_synth_cfg *cfg, synth_client *c)
{
    double u = gsl_ran_gaussian(r, sqrt(cfg->alpha));
    double big_b = gsl_ran_gaussian(r, sqrt(cfg->beta));
    for (int i = 0; i < SYN_C; i++)
        for (int j = 0; j < SYN_D; j++) c->w[i][j] = u + gsl_ran_gaussian(r, 1.0);
    for (int i = 0; i < SYN_C; i++) c->b[i] = u + gsl_ran_gaussian(r, 1.0);
    for (int j = 0; j < SYN_D; j++) c->v[j] = big_b + gsl_ran_gaussian(r, 1.0);
    for (int j = 0; j < SYN_D; j++) c->sd[j] = pow(j + 1.0, -0.6); /* sqrt of (j+1)^-1.2 */
}

/* One sample. The label is computed from the float-rounded features actually stored, so
 * y = argmax(W x + b) holds exactly for the data the model sees; softmax is monotone, so the
 * argmax of the logits is the argmax of the probabilities (ties: lowest class, like numpy). */
static int32_t synth_row(gsl_rng *r, const synth_client *c, float *x)
{
    for (int j = 0; j < SYN_D; j++) x[j] = (float)(c->v[j] + gsl_ran_gaussian(r, c->sd[j]));
    int32_t best = 0;
    double best_z = -INFINITY;
    for (int i = 0; i < SYN_C; i++) {
        double z = c->b[i];
        for (int j = 0; j < SYN_D; j++) z += c->w[i][j] * x[j];
        if (z > best_z) best_z = z, best = i;
    }
    return best;
}

/* Contiguous partition: client k owns the next counts[k] rows, in order. */
static int synth_part_alloc(fs_partition *p, size_t n_clients, const size_t *counts)
{
    memset(p, 0, sizeof *p);
    if (!(p->offset = malloc((n_clients + 1) * sizeof *p->offset))) goto fail;
    p->n_clients = n_clients;
    p->offset[0] = 0;
    for (size_t k = 0; k < n_clients; k++) p->offset[k + 1] = p->offset[k] + counts[k];
    size_t n = p->offset[n_clients];
    if (n > 0 && !(p->rows = malloc(n * sizeof *p->rows))) goto fail;
    for (size_t i = 0; i < n; i++) p->rows[i] = (uint32_t)i;
    return FS_OK;
fail:
    fs_partition_fini(p);
    return FS_ENOMEM;
}

/* Pass 1: per-client train and test counts (first draw of each stream only). */
static int synth_sizes(gsl_rng *r, const fs_synth_cfg *cfg, size_t *n_tr, size_t *n_te,
                       fs_err *err)
{
    size_t total = 0;
    for (size_t k = 0; k < cfg->n_clients; k++) {
        fs_rng_reseed(r, cfg->seed, FS_RNG_DATA, k, FS_RNG_NONE);
        size_t n = synth_size(r, cfg);
        size_t tr = (size_t)llround(cfg->train_fraction * (double)n);
        n_tr[k] = tr < 1 ? 1 : tr > n ? n : tr;
        n_te[k] = n - n_tr[k];
        total += n;
        if (total > UINT32_MAX) {
            fs_err_add(err, "synthetic.max_per_client",
                       "expected a cap keeping the total under 2^32 rows, found %zu rows by "
                       "client %zu",
                       total, k);
            return FS_ESCENARIO;
        }
    }
    return FS_OK;
}

/* Pass 2: replays each client's stream from the start and writes its rows. */
static void synth_fill(gsl_rng *r, const fs_synth_cfg *cfg, const fs_partition *ptr,
                       const fs_partition *pte, fs_dataset *tr, fs_dataset *te)
{
    synth_client c;
    for (size_t k = 0; k < cfg->n_clients; k++) {
        fs_rng_reseed(r, cfg->seed, FS_RNG_DATA, k, FS_RNG_NONE);
        (void)synth_size(r, cfg);
        synth_model(r, cfg, &c);
        for (size_t i = ptr->offset[k]; i < ptr->offset[k + 1]; i++)
            tr->y[i] = synth_row(r, &c, tr->x + i * SYN_D);
        for (size_t i = pte->offset[k]; i < pte->offset[k + 1]; i++)
            te->y[i] = synth_row(r, &c, te->x + i * SYN_D);
    }
}

int fs_data_synthetic(const fs_synth_cfg *cfg, fs_dataset *out_train, fs_partition *out_train_part,
                      fs_dataset *out_test, fs_partition *out_test_part, fs_err *err)
{
    memset(out_train, 0, sizeof *out_train);
    memset(out_test, 0, sizeof *out_test);
    memset(out_train_part, 0, sizeof *out_train_part);
    memset(out_test_part, 0, sizeof *out_test_part);
    int rc = synth_check(cfg, err);
    if (rc != FS_OK) return rc;
    size_t *counts = malloc(2 * cfg->n_clients * sizeof *counts);
    gsl_rng *r = fs_rng_new();
    rc = FS_ENOMEM;
    if (!counts || !r) goto fail;
    size_t *n_tr = counts, *n_te = counts + cfg->n_clients;
    if ((rc = synth_sizes(r, cfg, n_tr, n_te, err)) != FS_OK) goto fail;
    if ((rc = synth_part_alloc(out_train_part, cfg->n_clients, n_tr)) != FS_OK) goto fail;
    if ((rc = synth_part_alloc(out_test_part, cfg->n_clients, n_te)) != FS_OK) goto fail;
    size_t ntr = out_train_part->offset[cfg->n_clients];
    size_t nte = out_test_part->offset[cfg->n_clients];
    if ((rc = fs_dataset_alloc(out_train, ntr, SYN_D, SYN_C)) != FS_OK) goto fail;
    if ((rc = fs_dataset_alloc(out_test, nte, SYN_D, SYN_C)) != FS_OK) goto fail;
    synth_fill(r, cfg, out_train_part, out_test_part, out_train, out_test);
    free(counts);
    gsl_rng_free(r);
    return FS_OK;
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, "synthetic", "out of memory generating the data");
    free(counts);
    if (r) gsl_rng_free(r);
    fs_dataset_fini(out_train);
    fs_dataset_fini(out_test);
    fs_partition_fini(out_train_part);
    fs_partition_fini(out_test_part);
    return rc;
}
