/* fs_agg: server aggregation with DP-FedAvg (McMahan et al. 2018), secure aggregation
 * (Bonawitz et al. 2017), server optimizers (Reddi et al. 2021), q-FFL (Li et al. 2020) and
 * SCAFFOLD's server control variate (Karimireddy et al. 2020).
 *
 * DP-FedAvg here: each client clips its delta to norm S; the server sums, adds N(0, (z S)^2)
 * per coordinate and divides by the fixed expected count clients_per_round (a fixed denominator
 * keeps the sensitivity of the mean at S / K). The accountant treats each round as one sampled
 * Gaussian step with sampling rate q = reports aggregated / consenting clients: the share of the
 * eligible population whose data actually entered the sum, after availability, dropout and
 * deadline (an approximation: selection is uniform among available clients, not Poisson). */
#include "fs_agg.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_rng.h"
#include "fs_secagg.h"

int fs_agg_init(fs_aggregator *a, const fs_scenario *s, size_t n_params, size_t n_eligible,
                fs_err *err)
{
    memset(a, 0, sizeof *a);
    a->scn = s;
    a->n_params = n_params;
    a->n_eligible = n_eligible;
    a->epsilon = s->privacy.dp ? 0 : NAN;
    fs_rdp_init(&a->rdp);
    a->secagg = (fs_secagg_cfg){
        .bits = s->privacy.secagg_bits, .frac_bits = s->privacy.secagg_frac_bits, .seed = s->seed};
    fs_serveropt_cfg oc = fs_serveropt_cfg_of(s);
    a->sum = calloc(n_params, sizeof *a->sum);
    a->delta = calloc(n_params, sizeof *a->delta);
    a->noise = fs_rng_new();
    bool ok = a->sum && a->delta && a->noise && fs_serveropt_init(&a->opt, &oc, n_params) == FS_OK;
    if (ok && s->privacy.secure_aggregation)
        ok = (a->fixed = calloc(n_params + 1, sizeof *a->fixed)) != NULL;
    if (ok && s->server.algorithm == FS_ALG_SCAFFOLD)
        ok = (a->control = calloc(n_params, sizeof *a->control)) != NULL;
    if (ok) return FS_OK;
    fs_agg_fini(a);
    fs_err_add(err, NULL, "out of memory for the aggregator (%zu parameters)", n_params);
    return FS_ENOMEM;
}

void fs_agg_fini(fs_aggregator *a)
{
    fs_serveropt_fini(&a->opt);
    free(a->sum);
    free(a->delta);
    free(a->fixed);
    free(a->control);
    gsl_rng_free(a->noise);
    memset(a, 0, sizeof *a);
}

void fs_agg_clip(fs_update *u, double clip)
{
    double *v = u->sparse ? u->val : u->dense;
    size_t n = u->sparse ? u->nnz : u->n_params;
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        norm += v[i] * v[i];
    norm = sqrt(norm);
    if (norm <= clip) return;
    double scale = clip / norm;
    for (size_t i = 0; i < n; i++)
        v[i] *= scale;
}

/* ---- sums ---- */

static void add_scaled(double *acc, const fs_update *u, double weight)
{
    if (u->sparse)
        for (size_t i = 0; i < u->nnz; i++)
            acc[u->idx[i]] += weight * u->val[i];
    else
        for (size_t j = 0; j < u->n_params; j++)
            acc[j] += weight * u->dense[j];
}

/* Plain floating-point sum in report order. */
static void sum_plain(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights)
{
    memset(a->sum, 0, a->n_params * sizeof *a->sum);
    for (size_t k = 0; k < n; k++)
        add_scaled(a->sum, r[k].update, weights[k] * r[k].scale);
}

/* Secure aggregation's result: every client encodes weight * delta in fixed point (and its
 * weight, so the server can divide); the server learns only the integer sums. Masks cancel
 * exactly, so summing the plain encodings gives the very same integers (verify_masks runs the
 * masked protocol and checks it). */
static void sum_fixed(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights)
{
    size_t np = a->n_params;
    uint64_t mask = a->secagg.bits == 64 ? UINT64_MAX : (UINT64_C(1) << a->secagg.bits) - 1;
    memset(a->fixed, 0, (np + 1) * sizeof *a->fixed);
    for (size_t k = 0; k < n; k++) {
        const fs_update *u = r[k].update;
        size_t nz = u->sparse ? u->nnz : np;
        for (size_t i = 0; i < nz; i++) {
            size_t j = u->sparse ? u->idx[i] : i;
            double x = weights[k] * r[k].scale * (u->sparse ? u->val[i] : u->dense[i]);
            a->fixed[j] = (a->fixed[j] + fs_secagg_encode(&a->secagg, x)) & mask;
        }
        a->fixed[np] = (a->fixed[np] + fs_secagg_encode(&a->secagg, weights[k])) & mask;
    }
    for (size_t j = 0; j < np; j++)
        a->sum[j] = fs_secagg_decode(&a->secagg, a->fixed[j]);
}

/* The real protocol on small runs: mask every report, sum, unmask the dropped, compare. */
static int verify_masks(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights,
                        const uint32_t *selected, size_t n_sel, int round, fs_err *err)
{
    size_t np = a->n_params;
    uint64_t *masked = malloc(np * sizeof *masked), *total = calloc(np, sizeof *total);
    double *plain = malloc(np * sizeof *plain);
    uint32_t *peers = malloc((n_sel ? n_sel : 1) * sizeof *peers),
             *survivors = malloc((n ? n : 1) * sizeof *survivors);
    uint32_t *dropped = malloc((n_sel ? n_sel : 1) * sizeof *dropped);
    int rc = FS_ENOMEM;
    if (!masked || !total || !plain || !peers || !survivors || !dropped) goto done;
    uint64_t mask = a->secagg.bits == 64 ? UINT64_MAX : (UINT64_C(1) << a->secagg.bits) - 1;
    size_t n_drop = 0;
    for (size_t k = 0; k < n; k++)
        survivors[k] = r[k].client;
    for (size_t i = 0; i < n_sel; i++) {
        bool reported = false;
        for (size_t k = 0; k < n && !reported; k++)
            reported = r[k].client == selected[i];
        if (!reported) dropped[n_drop++] = selected[i];
    }
    for (size_t k = 0; k < n; k++) {
        size_t n_peers = 0;
        for (size_t i = 0; i < n_sel; i++)
            if (selected[i] != r[k].client) peers[n_peers++] = selected[i];
        memset(plain, 0, np * sizeof *plain);
        add_scaled(plain, r[k].update, weights[k] * r[k].scale);
        fs_secagg_mask(&a->secagg, (uint64_t)round, r[k].client, peers, n_peers, plain, np, masked);
        for (size_t j = 0; j < np; j++)
            total[j] = (total[j] + masked[j]) & mask;
    }
    fs_secagg_unmask(&a->secagg, (uint64_t)round, survivors, n, dropped, n_drop, total, np);
    rc = memcmp(total, a->fixed, np * sizeof *total) ? FS_EINTERNAL : FS_OK;
    if (rc)
        fs_err_add(err, NULL,
                   "round %d: secure aggregation's masked sum differs from the plain sum", round);
done:
    if (rc == FS_ENOMEM) fs_err_add(err, NULL, "out of memory verifying secure aggregation");
    free(masked), free(total), free(plain), free(peers), free(survivors), free(dropped);
    return rc;
}

/* ---- the round ---- */

static double weights_of(const fs_aggregator *a, const fs_agg_report *r, size_t n, double *w)
{
    double total = 0;
    for (size_t k = 0; k < n; k++)
        total += w[k] = a->scn->privacy.dp ? 1.0 : r[k].n_samples;
    return total;
}

static void add_noise(fs_aggregator *a, int round)
{
    double sd = a->scn->privacy.noise_multiplier * a->scn->privacy.clip;
    fs_rng_reseed(a->noise, a->scn->seed, FS_RNG_DP_NOISE, FS_RNG_NONE, (uint64_t)round);
    for (size_t j = 0; j < a->n_params; j++)
        a->sum[j] += gsl_ran_gaussian(a->noise, sd);
}

static void update_control(fs_aggregator *a, const fs_agg_report *r, size_t n, size_t n_clients)
{
    /* c += (1/N) sum over reporting clients of (c_i+ - c_i)   (Karimireddy et al., Alg. 1) */
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < a->n_params; j++)
            a->control[j] += r[k].ctrl_delta[j] / (double)n_clients;
}

static void account(fs_aggregator *a, size_t n_reports)
{
    if (!a->scn->privacy.dp) return;
    double q = a->n_eligible ? (double)n_reports / (double)a->n_eligible : 0;
    fs_rdp_add(&a->rdp, q, a->scn->privacy.noise_multiplier, 1);
    a->epsilon = fs_rdp_epsilon(&a->rdp, a->scn->privacy.delta, FS_RDP_IMPROVED, NULL);
}

int fs_agg_round(fs_aggregator *a, double *w, const fs_agg_report *reports, size_t n_reports,
                 const uint32_t *selected, size_t n_selected, int round, fs_err *err)
{
    const fs_scenario *s = a->scn;
    account(a, n_reports);
    if (n_reports == 0) return FS_OK;
    if (s->server.algorithm == FS_ALG_QFFL) {
        /* on the heap: the number of reports is the scenario's, not bounded by the stack */
        const fs_update **ups = malloc(n_reports * sizeof *ups);
        double *losses = malloc(n_reports * sizeof *losses);
        if (ups && losses) {
            for (size_t k = 0; k < n_reports; k++)
                ups[k] = reports[k].update, losses[k] = reports[k].loss_at_global;
            fs_qffl_step(w, ups, losses, n_reports, s->server.q, 1.0 / s->train.lr, a->sum);
        }
        int rc = ups && losses ? FS_OK : FS_ENOMEM;
        free(ups);
        free(losses);
        if (rc) fs_err_add(err, NULL, "out of memory aggregating round %d", round);
        return rc;
    }
    double *weights = malloc(n_reports * sizeof *weights);
    if (!weights)
        return fs_err_add(err, NULL, "out of memory aggregating round %d", round), FS_ENOMEM;
    double total = weights_of(a, reports, n_reports, weights);
    int rc = FS_OK;
    if (s->privacy.secure_aggregation) {
        sum_fixed(a, reports, n_reports, weights);
        total = fs_secagg_decode(&a->secagg, a->fixed[a->n_params]);
        if (s->privacy.secagg_verify)
            rc = verify_masks(a, reports, n_reports, weights, selected, n_selected, round, err);
    } else {
        sum_plain(a, reports, n_reports, weights);
    }
    free(weights);
    if (rc) return rc;
    if (s->privacy.dp) {
        add_noise(a, round);
        total = (double)s->server.clients_per_round;
    }
    for (size_t j = 0; j < a->n_params; j++)
        a->delta[j] = a->sum[j] / total;
    fs_serveropt_step(&a->opt, w, a->delta);
    if (a->control) update_control(a, reports, n_reports, s->data.clients);
    return FS_OK;
}
