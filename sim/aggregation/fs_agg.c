/* fs_agg: server aggregation with DP-FedAvg (McMahan et al. 2018; clipping, noise and the fixed
 * denominator are fs_dp's), secure aggregation (Bonawitz et al. 2017), server optimizers (Reddi
 * et al. 2021) and the algorithms' server hooks (fs_algo: q-FFL's step, SCAFFOLD's control
 * variate, FedNova's normalization).
 *
 * DP accounting: the accountant treats each round as one sampled
 * Gaussian step with sampling rate q = reports aggregated / consenting clients: the share of the
 * eligible population whose data actually entered the sum, after availability, dropout and
 * deadline (an approximation: selection is uniform among available clients, not Poisson). */
#include "fs_agg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_secagg.h"

int fs_agg_init(fs_aggregator *a, const fs_scenario *s, const fs_agg_cfg *cfg, fs_err *err)
{
    size_t n_params = cfg->n_params;
    memset(a, 0, sizeof *a);
    a->scn = s;
    a->algo = fs_algo_of(s);
    a->robust = fs_robust_of(s);
    a->dp = fs_dp_cfg_of(s, cfg->dp_denominator);
    a->n_params = n_params;
    a->n_eligible = cfg->n_eligible;
    a->n_threads = cfg->n_threads > 0 ? cfg->n_threads : 1;
    a->epsilon = s->privacy.dp ? 0 : NAN;
    fs_rdp_init(&a->rdp);
    a->secagg = (fs_secagg_cfg){
        .bits = s->privacy.secagg_bits, .frac_bits = s->privacy.secagg_frac_bits, .seed = s->seed};
    fs_serveropt_cfg oc = fs_serveropt_cfg_of(s);
    a->sum = calloc(n_params, sizeof *a->sum);
    a->delta = calloc(n_params, sizeof *a->delta);
    bool ok = a->sum && a->delta && fs_serveropt_init(&a->opt, &oc, n_params) == FS_OK;
    if (ok && s->privacy.secure_aggregation)
        ok = (a->fixed = calloc(n_params + 1, sizeof *a->fixed)) != NULL;
    if (ok && a->algo->control_variate)
        ok = (a->control = calloc(n_params, sizeof *a->control)) != NULL;
    if (ok) return FS_OK;
    fs_agg_fini(a);
    fs_err_add(err, NULL, "out of memory for the aggregator (%zu parameters)", n_params);
    return FS_ENOMEM;
}

int fs_agg_set_ipw(fs_aggregator *a, const int32_t *level, const uint64_t *population,
                   size_t stride, size_t n_levels)
{
    a->ipw_level = level;
    a->ipw_n_levels = n_levels;
    a->ipw_population = calloc(n_levels ? n_levels : 1, sizeof *a->ipw_population);
    a->ipw_reports = calloc(n_levels ? n_levels : 1, sizeof *a->ipw_reports);
    if (!a->ipw_population || !a->ipw_reports) return FS_ENOMEM;
    for (size_t l = 0; l < n_levels; l++)
        a->ipw_population[l] = (double)population[l * stride];
    return FS_OK;
}

double fs_agg_report_weight(const fs_aggregator *a, uint32_t client, double n_samples)
{
    switch (a->scn->server.aggregation_weights) {
    case FS_AGGW_UNIFORM:
        return 1;
    case FS_AGGW_IPW:
        break;
    default:
        return n_samples;
    }
    int32_t l = a->ipw_level ? a->ipw_level[client] : -1;
    double reports = 0, population = 0;
    for (size_t k = 0; k < a->ipw_n_levels; k++) {
        reports += (double)a->ipw_reports[k];
        population += a->ipw_population[k];
    }
    if (l < 0 || (size_t)l >= a->ipw_n_levels || reports == 0 || a->ipw_population[l] == 0)
        return n_samples;
    double rho = ((double)a->ipw_reports[l] / reports) / (a->ipw_population[l] / population);
    double floor = a->scn->server.ipw_floor;
    return n_samples / (rho > floor ? rho : floor);
}

/* The round's reports join the history the next round's ipw weights come from. */
static void ipw_record(fs_aggregator *a, const fs_agg_report *r, size_t n)
{
    for (size_t k = 0; a->ipw_level && k < n; k++) {
        int32_t l = a->ipw_level[r[k].client];
        if (l >= 0 && (size_t)l < a->ipw_n_levels) a->ipw_reports[l]++;
    }
}

void fs_agg_fini(fs_aggregator *a)
{
    free(a->ipw_population);
    free(a->ipw_reports);
    fs_serveropt_fini(&a->opt);
    free(a->sum);
    free(a->delta);
    free(a->fixed);
    free(a->control);
    free(a->touched);
    memset(a, 0, sizeof *a);
}

/* ---- sums ---- */

void fs_agg_add_scaled(double *acc, const fs_update *u, double weight)
{
    if (u->sparse)
        for (size_t i = 0; i < u->nnz; i++)
            acc[u->idx[i]] += weight * u->val[i];
    else
        for (size_t j = 0; j < u->n_params; j++)
            acc[j] += weight * u->dense[j];
}

/* Plain floating-point sum in report order. */
static void sum_plain(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights,
                      const double *scale)
{
    memset(a->sum, 0, a->n_params * sizeof *a->sum);
    for (size_t k = 0; k < n; k++)
        fs_agg_add_scaled(a->sum, r[k].update, weights[k] * scale[k]);
}

/* Secure aggregation's result: every client encodes weight * delta in fixed point (and its
 * weight, so the server can divide); the server learns only the integer sums. Masks cancel
 * exactly, so summing the plain encodings gives the very same integers (verify_masks runs the
 * masked protocol and checks it). */
static void sum_fixed(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights,
                      const double *scale)
{
    size_t np = a->n_params;
    uint64_t mask = a->secagg.bits == 64 ? UINT64_MAX : (UINT64_C(1) << a->secagg.bits) - 1;
    memset(a->fixed, 0, (np + 1) * sizeof *a->fixed);
    for (size_t k = 0; k < n; k++) {
        const fs_update *u = r[k].update;
        size_t nz = u->sparse ? u->nnz : np;
        for (size_t i = 0; i < nz; i++) {
            size_t j = u->sparse ? u->idx[i] : i;
            double x = weights[k] * scale[k] * (u->sparse ? u->val[i] : u->dense[i]);
            a->fixed[j] = (a->fixed[j] + fs_secagg_encode(&a->secagg, x)) & mask;
        }
        a->fixed[np] = (a->fixed[np] + fs_secagg_encode(&a->secagg, weights[k])) & mask;
    }
    for (size_t j = 0; j < np; j++)
        a->sum[j] = fs_secagg_decode(&a->secagg, a->fixed[j]);
}

/* The real protocol on small runs: mask every report, sum, unmask the dropped, compare. */
static int verify_masks(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights,
                        const double *scale, const uint32_t *selected, size_t n_sel, int round,
                        fs_err *err)
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
        fs_agg_add_scaled(plain, r[k].update, weights[k] * scale[k]);
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

/* ---- sparse rounds: only the coordinates some report touched ---- */

/* Between sparse rounds every sum holds this NaN (no arithmetic makes its payload): a report's
 * first term on a coordinate finds it there and lists the coordinate. It replaced an array of
 * marks, whose load missed the cache as often as the sum's (a third of the sum's time). */
#define SUM_UNTOUCHED UINT64_C(0x7ff4fed5a9b1c3e7)

static bool untouched(const double *x)
{
    uint64_t bits;
    memcpy(&bits, x, sizeof bits);
    return bits == SUM_UNTOUCHED;
}

/* Asks for report k's entries before they are summed: an update is a few hundred bytes, too
 * short for the hardware's prefetch to start before it ends, and was just written by training. */
static void prefetch_update(const fs_update *u, size_t from)
{
    enum { LINES = 8, PER_LINE = 64 / sizeof(uint32_t) };
    for (size_t i = from, l = 0; i < u->nnz && l < LINES; i += PER_LINE, l++) {
        __builtin_prefetch(&u->idx[i]);
        __builtin_prefetch(&u->val[i]);
    }
}

/* A round need visit only its reports' coordinates when every report is sparse and nothing in
 * the step is dense: no DP noise, a plain SGD server step, no algorithm hook after it. On a
 * coordinate no report touched the dense path computes sum 0, delta +0 and w += lr * +0, which
 * leaves w as it was (a -0 would become +0; no w is -0: models start from +0 or drawn values,
 * and a sum is -0 only when both terms are). A CTR model of 2^18 features takes ~500 reports of
 * ~100 features a round: the dense passes (clear, divide, step, check) were a third of the
 * engine's time on the shipped ctr_regions. Returns false (the dense path then runs) when the
 * round is not such or its lists cannot be had. */
static bool sparse_round(fs_aggregator *a, const fs_agg_report *r, size_t n)
{
    if (a->dp.on || !fs_serveropt_is_sgd(&a->opt) || a->algo->after_step) return false;
    for (size_t k = 0; k < n; k++)
        if (!r[k].update->sparse) return false;
    if (!a->touched && !(a->touched = malloc(a->n_params * sizeof *a->touched))) return false;
    if (!a->sum_untouched) { /* after a dense round, or the first */
        for (size_t j = 0; j < a->n_params; j++)
            memcpy(&a->sum[j], &(uint64_t){SUM_UNTOUCHED}, sizeof a->sum[j]);
        a->sum_untouched = true;
    }
    return true;
}

/* The first of the ascending idx[0..n) that is >= lo (n when none). */
static size_t first_at_or_after(const uint32_t *idx, size_t n, uint32_t lo)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (idx[m] < lo) a = m + 1;
        else b = m;
    }
    return a;
}

/* sum_plain on the touched coordinates in [lo, hi): each starts at 0 where a report first
 * touches it and takes the reports' terms in report order, as there. Lists them in touched
 * (room for hi - lo) and returns how many. */
static size_t sum_sparse_range(fs_aggregator *a, const fs_agg_report *r, size_t n,
                               const double *weights, const double *scale, uint32_t lo,
                               uint32_t hi, uint32_t *touched)
{
    size_t nt = 0;
    size_t next = n ? (lo ? first_at_or_after(r[0].update->idx, r[0].update->nnz, lo) : 0) : 0;
    for (size_t k = 0; k < n; k++) {
        const fs_update *u = r[k].update;
        double weight = weights[k] * scale[k];
        size_t i = next;
        if (k + 1 < n) {
            const fs_update *v = r[k + 1].update;
            next = lo ? first_at_or_after(v->idx, v->nnz, lo) : 0;
            prefetch_update(v, next);
        }
        for (; i < u->nnz && u->idx[i] < hi; i++) {
            uint32_t j = u->idx[i];
            if (untouched(&a->sum[j])) touched[nt++] = j, a->sum[j] = 0;
            a->sum[j] += weight * u->val[i];
        }
    }
    return nt;
}

/* Below this many report entries in a round the sum stays on one thread (a parallel region
 * costs tens of microseconds). */
#define SPARSE_PARALLEL_MIN 65536
enum { SPARSE_MAX_THREADS = 64 };

/* The first coordinate of thread t's range when n_params are split among `threads`. */
static uint32_t range_start(size_t n_params, int t, int threads)
{
    return (uint32_t)(n_params * (size_t)t / (size_t)threads);
}

/* The touched coordinates' sums, each exactly sum_plain's (its terms in report order, whoever
 * sums it): with several threads each takes a range of coordinates, finding its part of every
 * report (whose idx ascend) by bisection, and lists its coordinates in its own part of
 * a->touched, which are then closed up in thread order. Step and check treat every touched
 * coordinate alone, so the list's order changes nothing. */
static void sum_sparse(fs_aggregator *a, const fs_agg_report *r, size_t n, const double *weights,
                       const double *scale)
{
    size_t entries = 0;
    for (size_t k = 0; k < n; k++) entries += r[k].update->nnz;
    int threads = entries >= SPARSE_PARALLEL_MIN ? a->n_threads : 1;
    if (threads <= 1) {
        a->n_touched = sum_sparse_range(a, r, n, weights, scale, 0, (uint32_t)a->n_params,
                                        a->touched);
        return;
    }
    size_t counts[SPARSE_MAX_THREADS];
    threads = threads < SPARSE_MAX_THREADS ? threads : SPARSE_MAX_THREADS;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; t++) {
        uint32_t lo = range_start(a->n_params, t, threads);
        uint32_t hi = range_start(a->n_params, t + 1, threads);
        counts[t] = sum_sparse_range(a, r, n, weights, scale, lo, hi, a->touched + lo);
    }
    size_t nt = counts[0];
    for (int t = 1; t < threads; t++) {
        memmove(a->touched + nt, a->touched + range_start(a->n_params, t, threads),
                counts[t] * sizeof *a->touched);
        nt += counts[t];
    }
    a->n_touched = nt;
}

/* The dense step's division and SGD step, on the touched coordinates. */
static void step_sparse(fs_aggregator *a, fs_real *w, double total)
{
    for (size_t t = 0; t < a->n_touched; t++) {
        uint32_t j = a->touched[t];
        a->delta[j] = a->sum[j] / total;
        memcpy(&a->sum[j], &(uint64_t){SUM_UNTOUCHED}, sizeof a->sum[j]);
    }
    fs_serveropt_step_at(&a->opt, w, a->delta, a->touched, a->n_touched);
}

/* ---- the round ---- */

/* Each report's weight (fs_dp's rule) and the factor on its delta: the policy's scale (FedBuff's
 * staleness discount), then the algorithm's (FedNova's normalization). Returns the total weight. */
static double weights_of(const fs_aggregator *a, const fs_agg_report *r, size_t n, double *w,
                         double *scale)
{
    double total = 0;
    for (size_t k = 0; k < n; k++) {
        total += w[k] = fs_dp_weight(&a->dp, fs_agg_report_weight(a, r[k].client, r[k].n_samples));
        scale[k] = r[k].scale;
    }
    if (a->algo->rescale) a->algo->rescale(r, n, scale);
    return total;
}

static void account(fs_aggregator *a, size_t n_reports)
{
    if (!a->scn->privacy.dp) return;
    double q = a->n_eligible ? (double)n_reports / (double)a->n_eligible : 0;
    fs_rdp_add(&a->rdp, q, a->scn->privacy.noise_multiplier, 1);
    a->epsilon = fs_rdp_epsilon(&a->rdp, a->scn->privacy.delta, FS_RDP_IMPROVED, NULL);
}

/* server.robust's combine in place of the weighted mean (never with DP or secure aggregation:
 * fs_scn_rules.c). Frees weights (and the scale after it). */
static int robust_round(fs_aggregator *a, fs_real *w, const fs_agg_report *r, size_t n,
                        double *weights, int round, fs_err *err)
{
    int rc = a->robust->combine(a->scn, r, n, weights, weights + n, a->n_params, a->delta);
    free(weights);
    if (rc == FS_ROBUST_SKIPPED) { /* too few reports to rank: the model stays */
        a->robust_skipped++;
        return FS_OK;
    }
    if (rc) return fs_err_add(err, NULL, "out of memory aggregating round %d", round), rc;
    fs_serveropt_step(&a->opt, w, a->delta);
    return FS_OK;
}

static int agg_step(fs_aggregator *a, fs_real *w, const fs_agg_report *reports, size_t n_reports,
                    const uint32_t *selected, size_t n_selected, int round, fs_err *err)
{
    const fs_scenario *s = a->scn;
    account(a, n_reports);
    if (n_reports == 0) return FS_OK;
    if (a->algo->server_step) {
        a->sum_untouched = false;
        int rc = a->algo->server_step(s, w, reports, n_reports, a->sum);
        if (rc) fs_err_add(err, NULL, "out of memory aggregating round %d", round);
        return rc;
    }
    double *weights = malloc(2 * n_reports * sizeof *weights), *scale = weights + n_reports;
    if (!weights)
        return fs_err_add(err, NULL, "out of memory aggregating round %d", round), FS_ENOMEM;
    double total = weights_of(a, reports, n_reports, weights, scale);
    ipw_record(a, reports, n_reports);
    if (a->robust && a->robust->bound) a->robust->bound(s, reports, n_reports, scale);
    if (a->robust && a->robust->combine)
        return robust_round(a, w, reports, n_reports, weights, round, err);
    int rc = FS_OK;
    a->n_touched = SIZE_MAX;
    if (!s->privacy.secure_aggregation && sparse_round(a, reports, n_reports)) {
        sum_sparse(a, reports, n_reports, weights, scale);
        free(weights);
        step_sparse(a, w, fs_dp_divisor(&a->dp, total));
        return FS_OK;
    }
    a->sum_untouched = false; /* the dense paths write every sum */
    if (s->privacy.secure_aggregation) {
        sum_fixed(a, reports, n_reports, weights, scale);
        total = fs_secagg_decode(&a->secagg, a->fixed[a->n_params]);
        if (s->privacy.secagg_verify)
            rc = verify_masks(a, reports, n_reports, weights, scale, selected, n_selected, round,
                              err);
    } else {
        sum_plain(a, reports, n_reports, weights, scale);
    }
    free(weights);
    if (rc) return rc;
    if (fs_dp_noise(&a->dp, a->sum, a->n_params, round, a->n_threads))
        return fs_err_add(err, NULL, "out of memory adding round %d's noise", round), FS_ENOMEM;
    total = fs_dp_divisor(&a->dp, total);
    for (size_t j = 0; j < a->n_params; j++)
        a->delta[j] = a->sum[j] / total;
    fs_serveropt_step(&a->opt, w, a->delta);
    if (a->algo->after_step)
        a->algo->after_step(a->control, a->n_params, reports, n_reports, s->data.clients);
    return FS_OK;
}

/* Every report was checked finite and bounded before it came here (fs_train.c: a poisoned
 * update is rejected), so a global model that is no longer finite was made by the server's own
 * step: an optimizer whose state or learning rate blew up, or an algorithm's server step. The
 * run stops here, naming it, rather than ending `done` with every metric NaN. */
static bool model_finite(const fs_aggregator *a, const fs_real *w)
{
    if (a->n_touched != SIZE_MAX) { /* a sparse round left the others as they were */
        for (size_t t = 0; t < a->n_touched; t++)
            if (!isfinite(w[a->touched[t]])) return false;
        return true;
    }
    for (size_t j = 0; j < a->n_params; j++)
        if (!isfinite(w[j])) return false;
    return true;
}

int fs_agg_round(fs_aggregator *a, fs_real *w, const fs_agg_report *reports, size_t n_reports,
                 const uint32_t *selected, size_t n_selected, int round, fs_err *err)
{
    int rc = agg_step(a, w, reports, n_reports, selected, n_selected, round, err);
    if (rc || n_reports == 0 || model_finite(a, w)) return rc;
    fs_err_add(err, NULL,
               "round %d: the global model is not finite after the server's step (every report "
               "was finite): lower the server optimizer's learning rate (server.optimizer) or "
               "change server.algorithm",
               round);
    return FS_ESCENARIO;
}
