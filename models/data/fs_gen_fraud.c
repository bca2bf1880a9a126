/* fs_gen_fraud: the card-fraud generator (models/README.md, "Card fraud"). A client is a card
 * holder whose legitimate transactions follow their own habits; fraudulent ones follow the
 * pattern of their channel segment (card-present, online, cross-border). Global structure and
 * the calibrated fraud scale come from streams (seed, DATA, client NONE, round = FR_SUB_*);
 * client k's rows from stream (seed, DATA, k, NONE) alone. Rows are dense. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"
#include "fs_rng.h"

#define FR_MAX_ROWS 1048576.0 /* transactions per holder: keeps one client addressable */
#define FR_MAX_SEGMENTS 100
#define FR_MAX_MCC 4096
#define FR_CALIB_SAMPLES (1u << 16)
#define FR_CALIB_PAIRS (1u << 22) /* holders x segments in the calibration sample, at most */
#define FR_N_DENSE FS_FRAUD_N_DENSE /* log amount, hour sin, hour cos, log distance, log velocity */

/* Model constants, documented in models/README.md; changing one changes every dataset. */
#define FR_POP_ALPHA 1.0     /* merchant-category popularity ~ Dirichlet(1) */
#define FR_SD_MCC_AMOUNT 0.5 /* category's log-amount level */
#define FR_MIX_CONC 5.0      /* holder's channel mix ~ Dirichlet(5 * share) */
#define FR_MCC_CONC 10.0     /* holder's merchant mix ~ Dirichlet(10 * popularity) */
#define FR_HOUR_LO 9.0       /* holder's active-hour centre ~ U(9, 21) */
#define FR_HOUR_HI 21.0
#define FR_SD_HOUR 3.0
#define FR_AMOUNT_MU 3.3 /* holder's typical log amount ~ N(3.3, 0.6^2): about 27 */
#define FR_AMOUNT_SD 0.6
#define FR_SD_TX_AMOUNT 0.7 /* legitimate transaction around the typical amount */
#define FR_RATE_MU 0.5      /* holder's transactions per day ~ lognormal(0.5, 0.6) */
#define FR_RATE_SD 0.6
#define FR_EXPOSURE_SD 1.0 /* holder's fraud exposure ~ lognormal(-1/2, 1): mean 1 */
#define FR_SD_DIST 0.9     /* legitimate log(1 + km) around the channel's level */
#define FR_SD_FRAUD_DIST 1.2

enum { FR_SUB_STRUCTURE = 0, FR_SUB_CALIBRATION = 1 }; /* round argument of global streams */
enum { FR_HOUR_FIXED, FR_HOUR_UNIFORM, FR_HOUR_SHIFTED };

/* A channel segment: its traffic share and relative fraud risk, the legitimate distance level,
 * and the fraud pattern (amount, hour, distance, velocity burst, risky-category tilt). */
typedef struct fr_segment {
    double share, risk, dist_mu, amt_shift;
    double f_amt_shift, f_amt_sd;
    int f_hour_kind;
    double f_hour_mu, f_hour_sd;
    double f_dist_shift, f_burst, f_kappa;
} fr_segment;

static const fr_segment fr_templates[3] = {
    /* card_present: cloned or stolen cards: larger amounts, at night, far from home */
    {0.60, 0.5, 1.8, 0.0, 1.0, 0.8, FR_HOUR_FIXED, 3.0, 2.5, 2.5, 3.0, 1.0},
    /* online: card-not-present: small card tests and larger buys, any hour, bursts */
    {0.32, 2.0, 3.9, -0.2, -0.3, 1.4, FR_HOUR_UNIFORM, 0.0, 0.0, 1.5, 6.0, 1.5},
    /* cross_border: large amounts at hours shifted by a time zone */
    {0.08, 4.0, 7.0, 0.4, 1.5, 0.8, FR_HOUR_SHIFTED, 8.0, 3.0, 0.8, 2.0, 0.5},
};
static const char *const fr_template_names[3] = {"card_present", "online", "cross_border"};

void fs_gen_fraud_segment_name(size_t s, char *buf, size_t n)
{
    if (s < 3)
        snprintf(buf, n, "%s", fr_template_names[s]);
    else
        snprintf(buf, n, "segment_%zu", s);
}

typedef char fr_name[FS_DATA_NAME_LEN];

typedef struct fr_impl {
    fs_fraud_cfg cfg;
    double scale;       /* calibrated: P(fraud) = min(1, scale * risk_s * exposure_k) */
    fr_segment *seg;    /* n_segments */
    double *mix_alpha;  /* n_segments */
    double *mcc_alpha;  /* n_merchant_categories */
    double *mcc_risk;   /* n_merchant_categories */
    double *mcc_amount; /* n_merchant_categories */
    double *fraud_cdf;  /* n_segments x n_merchant_categories, cumulative */
    fr_name *seg_names;
} fr_impl;

/* A card holder's habits. The two cumulative distributions point into one buffer. */
typedef struct fr_holder {
    double *mix_cdf; /* n_segments */
    double *mcc_cdf; /* n_merchant_categories */
    double hour, log_amount, daily_rate, exposure;
} fr_holder;

static int fr_bad(fs_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fr_bad(fs_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_err_vadd(err, path, fmt, ap);
    va_end(ap);
    return 1;
}

static int fr_check(const fs_fraud_cfg *c, fs_err *err)
{
    int bad = 0;
    if (c->n_segments < 1 || c->n_segments > FR_MAX_SEGMENTS)
        bad += fr_bad(err, "fraud.n_segments", "expected 1 .. %d, found %zu", FR_MAX_SEGMENTS,
                      c->n_segments);
    if (c->n_merchant_categories < 1 || c->n_merchant_categories > FR_MAX_MCC)
        bad += fr_bad(err, "fraud.n_merchant_categories", "expected 1 .. %d, found %zu", FR_MAX_MCC,
                      c->n_merchant_categories);
    if (!(c->fraud_rate > 0 && c->fraud_rate <= FS_FRAUD_MAX_RATE))
        bad += fr_bad(err, "fraud.fraud_rate", "expected a rate in (0, %g], found %g",
                      FS_FRAUD_MAX_RATE, c->fraud_rate);
    if (!(fabs(c->tx_mu) <= 20))
        bad += fr_bad(err, "fraud.tx_mu", "expected -20 .. 20, found %g", c->tx_mu);
    if (!(c->tx_sigma >= 0 && c->tx_sigma <= 10))
        bad += fr_bad(err, "fraud.tx_sigma", "expected 0 .. 10, found %g", c->tx_sigma);
    if (!(c->test_fraction >= 0 && c->test_fraction <= 1))
        bad += fr_bad(err, "fraud.test_fraction", "expected 0 .. 1, found %g", c->test_fraction);
    return bad ? FS_ESCENARIO : FS_OK;
}

/* Segments past the three named channels get a pattern of their own from the structure
 * stream, in this order (README): risk, distance level, legit and fraud amounts, fraud hour,
 * distance shift, burst, category tilt. */
static void fr_generic_segment(gsl_rng *r, fr_segment *s)
{
    s->share = 0.08;
    s->risk = gsl_ran_lognormal(r, 0.0, 0.7);
    s->dist_mu = gsl_ran_flat(r, 1.5, 7.0);
    s->amt_shift = 0.3 * gsl_ran_ugaussian(r);
    s->f_amt_shift = 0.7 + 0.6 * gsl_ran_ugaussian(r);
    s->f_amt_sd = gsl_ran_flat(r, 0.7, 1.4);
    s->f_hour_kind = FR_HOUR_FIXED;
    s->f_hour_mu = gsl_ran_flat(r, 0.0, 24.0);
    s->f_hour_sd = 3.0;
    s->f_dist_shift = gsl_ran_flat(r, 0.5, 2.5);
    s->f_burst = gsl_ran_flat(r, 1.0, 6.0);
    s->f_kappa = gsl_ran_flat(r, 0.5, 1.5);
}

/* In place: weights -> cumulative distribution (last entry exactly 1). */
static void fr_cumulate(double *w, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        w[i] = (acc += w[i]) / sum;
    w[n - 1] = 1.0;
}

/* First i with u < cdf[i] (binary search). */
static size_t fr_pick(const double *cdf, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u < cdf[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Global structure: category popularity, risk and amount level, extra segments; then the
 * derived mixes and each segment's fraud category distribution ∝ pop_c * exp(kappa_s * risk_c),
 * which tilts fraud toward risky categories (electronics, gift cards, travel...). */
static void fr_structure(fr_impl *im, gsl_rng *r)
{
    const fs_fraud_cfg *c = &im->cfg;
    size_t nm = c->n_merchant_categories, ns = c->n_segments;
    fs_rng_reseed(r, c->seed, FS_RNG_DATA, FS_RNG_NONE, FR_SUB_STRUCTURE);
    double *pop = im->mcc_alpha;
    for (size_t i = 0; i < nm; i++)
        pop[i] = FR_POP_ALPHA;
    gsl_ran_dirichlet(r, nm, pop, pop);
    for (size_t i = 0; i < nm; i++)
        im->mcc_risk[i] = gsl_ran_ugaussian(r);
    for (size_t i = 0; i < nm; i++)
        im->mcc_amount[i] = FR_SD_MCC_AMOUNT * gsl_ran_ugaussian(r);
    double share_sum = 0;
    for (size_t s = 0; s < ns; s++) {
        if (s < 3)
            im->seg[s] = fr_templates[s];
        else
            fr_generic_segment(r, &im->seg[s]);
        share_sum += im->seg[s].share;
    }
    for (size_t s = 0; s < ns; s++) {
        im->seg[s].share /= share_sum;
        im->mix_alpha[s] = FR_MIX_CONC * im->seg[s].share;
        double *cdf = im->fraud_cdf + s * nm;
        for (size_t i = 0; i < nm; i++)
            cdf[i] = pop[i] * exp(im->seg[s].f_kappa * im->mcc_risk[i]);
        fr_cumulate(cdf, nm);
    }
    for (size_t i = 0; i < nm; i++)
        pop[i] *= FR_MCC_CONC;
}

/* A holder's habits, in stream order: channel mix, active hour, typical amount, activity,
 * fraud exposure; then (fr_holder_draw) the merchant mix, which calibration does not need. */
static void fr_holder_core(const fr_impl *im, gsl_rng *r, fr_holder *h)
{
    gsl_ran_dirichlet(r, im->cfg.n_segments, im->mix_alpha, h->mix_cdf);
    h->hour = gsl_ran_flat(r, FR_HOUR_LO, FR_HOUR_HI);
    h->log_amount = FR_AMOUNT_MU + FR_AMOUNT_SD * gsl_ran_ugaussian(r);
    h->daily_rate = gsl_ran_lognormal(r, FR_RATE_MU, FR_RATE_SD);
    h->exposure = gsl_ran_lognormal(r, -0.5 * FR_EXPOSURE_SD * FR_EXPOSURE_SD, FR_EXPOSURE_SD);
}

static void fr_holder_draw(const fr_impl *im, gsl_rng *r, fr_holder *h)
{
    fr_holder_core(im, r, h);
    gsl_ran_dirichlet(r, im->cfg.n_merchant_categories, im->mcc_alpha, h->mcc_cdf);
}

/* Expected fraud share over the calibration holders at a given scale. */
static double fr_mean_prob(const fr_impl *im, const double *expo, const float *mix, size_t m,
                           double scale)
{
    size_t ns = im->cfg.n_segments;
    double sum = 0;
    for (size_t k = 0; k < m; k++)
        for (size_t s = 0; s < ns; s++)
            sum += mix[k * ns + s] * fmin(1.0, scale * im->seg[s].risk * expo[k]);
    return sum / (double)m;
}

/* The scale solving mean_k sum_s mix_ks * min(1, scale * risk_s * exposure_k) = fraud_rate over
 * the holders of the calibration stream (65,536, or 2^22 / n_segments when that is fewer), by
 * the fixed point scale <- scale * rate / mean. The mean is concave in scale, so the iterates
 * rise monotonically to the root; without the cap at 1 the first step is already exact. */
static int fr_calibrate(fr_impl *im, gsl_rng *r, fr_holder *h)
{
    size_t ns = im->cfg.n_segments, m = FR_CALIB_PAIRS / ns;
    m = m < FR_CALIB_SAMPLES ? m : FR_CALIB_SAMPLES;
    double *expo = malloc(m * sizeof *expo);
    float *mix = malloc(m * ns * sizeof *mix);
    if (!expo || !mix) goto nomem;
    fs_rng_reseed(r, im->cfg.seed, FS_RNG_DATA, FS_RNG_NONE, FR_SUB_CALIBRATION);
    for (size_t k = 0; k < m; k++) {
        fr_holder_core(im, r, h);
        expo[k] = h->exposure;
        for (size_t s = 0; s < ns; s++)
            mix[k * ns + s] = (float)h->mix_cdf[s]; /* still the mix, not yet cumulated */
    }
    double scale = 1.0;
    for (int it = 0; it < 500; it++) {
        double next = scale * im->cfg.fraud_rate / fr_mean_prob(im, expo, mix, m, scale);
        bool done = fabs(next - scale) <= 1e-13 * scale;
        scale = next;
        if (done) break;
    }
    im->scale = scale;
    free(expo);
    free(mix);
    return FS_OK;
nomem:
    free(expo);
    free(mix);
    return FS_ENOMEM;
}

static void fr_free(fs_gen *g)
{
    fr_impl *im = g->impl;
    if (im) {
        free(im->seg);
        free(im->mix_alpha);
        free(im->mcc_alpha);
        free(im->mcc_risk);
        free(im->mcc_amount);
        free(im->fraud_cdf);
        free(im->seg_names);
        free(im);
    }
    free(g);
}

static double fr_wrap_hour(double h)
{
    h = fmod(h, 24.0);
    return h < 0 ? h + 24.0 : h;
}

static double fr_fraud_hour(gsl_rng *r, const fr_segment *s, const fr_holder *h)
{
    switch (s->f_hour_kind) {
    case FR_HOUR_UNIFORM:
        return gsl_ran_flat(r, 0.0, 24.0);
    case FR_HOUR_SHIFTED:
        return fr_wrap_hour(h->hour + s->f_hour_mu + s->f_hour_sd * gsl_ran_ugaussian(r));
    default:
        return fr_wrap_hour(s->f_hour_mu + s->f_hour_sd * gsl_ran_ugaussian(r));
    }
}

/* One transaction into row `row` of ds (features zeroed by fr_alloc). Draw order: channel,
 * label, category, amount, hour, distance, velocity. */
static void fr_row(const fr_impl *im, gsl_rng *r, const fr_holder *h, fs_dataset *ds, size_t row)
{
    size_t ns = im->cfg.n_segments, nm = im->cfg.n_merchant_categories;
    size_t s = fr_pick(h->mix_cdf, ns, gsl_rng_uniform(r));
    const fr_segment *seg = &im->seg[s];
    bool fraud = gsl_rng_uniform(r) < fmin(1.0, im->scale * seg->risk * h->exposure);
    size_t c = fr_pick(fraud ? im->fraud_cdf + s * nm : h->mcc_cdf, nm, gsl_rng_uniform(r));
    double amt = h->log_amount + im->mcc_amount[c] + seg->amt_shift +
                 (fraud ? seg->f_amt_shift + seg->f_amt_sd * gsl_ran_ugaussian(r)
                        : FR_SD_TX_AMOUNT * gsl_ran_ugaussian(r));
    double hour = fraud ? fr_fraud_hour(r, seg, h)
                        : fr_wrap_hour(h->hour + FR_SD_HOUR * gsl_ran_ugaussian(r));
    double dist = fraud ? seg->dist_mu + seg->f_dist_shift + FR_SD_FRAUD_DIST * gsl_ran_ugaussian(r)
                        : seg->dist_mu + FR_SD_DIST * gsl_ran_ugaussian(r);
    unsigned vel = gsl_ran_poisson(r, h->daily_rate + (fraud ? seg->f_burst : 0.0));
    float *x = ds->x + row * ds->d;
    x[0] = (float)amt;
    x[1] = (float)sin(2 * M_PI * hour / 24);
    x[2] = (float)cos(2 * M_PI * hour / 24);
    x[3] = (float)(dist > 0 ? dist : 0);
    x[4] = (float)log1p(vel);
    x[FR_N_DENSE + c] = 1.0f;
    x[FR_N_DENSE + nm + s] = 1.0f;
    ds->y[row] = fraud;
    ds->groups[0].level[row] = (uint32_t)s;
}

/* Dataset `which` of s: n zeroed rows, group "segment" with its names (added once). */
static int fr_alloc(const fs_gen *g, fs_gen_scratch *s, int which, size_t n)
{
    const fr_impl *im = g->impl;
    fs_dataset *ds = which ? &s->test : &s->train;
    size_t gi;
    int rc = fs_gen_reserve_dense(s, which, n, g->d, 2);
    if (rc != FS_OK || ds->n_groups) return rc;
    rc = fs_gen_add_group(s, which, "segment", im->cfg.n_segments, &gi);
    if (rc == FS_OK) rc = fs_group_set_names_fixed(&ds->groups[gi], im->seg_names);
    if (rc != FS_OK) fs_gen_scratch_drop(s, which);
    return rc;
}

/* Transactions per holder: round(lognormal(tx_mu, tx_sigma)), at least 1, capped. */
static size_t fr_count(gsl_rng *r, double mu, double sigma)
{
    double x = round(gsl_ran_lognormal(r, mu, sigma));
    return x < 1 ? 1 : x > FR_MAX_ROWS ? (size_t)FR_MAX_ROWS : (size_t)x;
}

/* Holder k's transactions; with_test false stops after the training ones (the test dataset gets
 * none). */
static int fr_generate(const fs_gen *g, uint64_t k, fs_gen_scratch *s, bool with_test, fs_err *err)
{
    const fr_impl *im = g->impl;
    size_t ns = im->cfg.n_segments, nm = im->cfg.n_merchant_categories;
    double *buf = fs_gen_scratch_aux(s, (ns + nm) * sizeof *buf);
    if (!buf || (!s->rng && !(s->rng = fs_rng_new()))) goto nomem;
    gsl_rng *r = s->rng;
    fs_rng_reseed(r, im->cfg.seed, FS_RNG_DATA, k, FS_RNG_NONE);
    size_t n = fr_count(r, im->cfg.tx_mu, im->cfg.tx_sigma);
    double n_round = round((1 - im->cfg.test_fraction) * (double)n);
    size_t n_tr = n_round < 1 ? 1 : n_round > (double)n ? n : (size_t)n_round;
    fr_holder h = {.mix_cdf = buf, .mcc_cdf = buf + ns};
    fr_holder_draw(im, r, &h);
    fr_cumulate(h.mix_cdf, ns);
    fr_cumulate(h.mcc_cdf, nm);
    if (!with_test) n = n_tr;
    if (fr_alloc(g, s, 0, n_tr) || fr_alloc(g, s, 1, n - n_tr)) goto nomem;
    for (size_t i = 0; i < n; i++)
        fr_row(im, r, &h, i < n_tr ? &s->train : &s->test, i < n_tr ? i : i - n_tr);
    return FS_OK;
nomem:
    fs_err_add(err, "fraud", "out of memory generating client %llu", (unsigned long long)k);
    return FS_ENOMEM;
}

static int fr_client_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    return fr_generate(g, k, s, true, err);
}

static int fr_train_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    return fr_generate(g, k, s, false, err);
}

static const fs_gen_ops fr_ops = {.client = fs_gen_client_fresh,
                                  .client_into = fr_client_into,
                                  .train_into = fr_train_into,
                                  .free = fr_free};

static int fr_alloc_impl(fr_impl *im)
{
    size_t ns = im->cfg.n_segments, nm = im->cfg.n_merchant_categories;
    im->seg = calloc(ns, sizeof *im->seg);
    im->mix_alpha = malloc(ns * sizeof *im->mix_alpha);
    im->mcc_alpha = malloc(nm * sizeof *im->mcc_alpha);
    im->mcc_risk = malloc(nm * sizeof *im->mcc_risk);
    im->mcc_amount = malloc(nm * sizeof *im->mcc_amount);
    im->fraud_cdf = malloc(ns * nm * sizeof *im->fraud_cdf);
    im->seg_names = calloc(ns, sizeof *im->seg_names);
    if (!im->seg || !im->mix_alpha || !im->mcc_alpha || !im->mcc_risk || !im->mcc_amount ||
        !im->fraud_cdf || !im->seg_names)
        return FS_ENOMEM;
    for (size_t s = 0; s < ns; s++)
        fs_gen_fraud_segment_name(s, im->seg_names[s], FS_DATA_NAME_LEN);
    return FS_OK;
}

fs_gen *fs_gen_fraud_new(const fs_fraud_cfg *cfg, fs_err *err)
{
    if (fr_check(cfg, err) != FS_OK) return NULL;
    fs_gen *g = calloc(1, sizeof *g);
    fr_impl *im = calloc(1, sizeof *im);
    gsl_rng *r = fs_rng_new();
    double *buf = malloc((cfg->n_segments + cfg->n_merchant_categories) * sizeof *buf);
    if (!g || !im || !r || !buf) goto fail;
    size_t d = FR_N_DENSE + cfg->n_merchant_categories + cfg->n_segments;
    *g = (fs_gen){.ops = &fr_ops,
                  .name = "fraud",
                  .d = d,
                  .n_classes = 2,
                  .sparse = false,
                  .seed = cfg->seed,
                  .impl = im};
    im->cfg = *cfg;
    if (fr_alloc_impl(im)) goto fail;
    fr_structure(im, r);
    fr_holder h = {.mix_cdf = buf, .mcc_cdf = buf + cfg->n_segments};
    if (fr_calibrate(im, r, &h)) goto fail;
    free(buf);
    gsl_rng_free(r);
    return g;
fail:
    fs_err_add(err, "fraud", "out of memory building the generator");
    free(buf);
    if (r) gsl_rng_free(r);
    if (g && im)
        fr_free(g);
    else
        free(g), free(im);
    return NULL;
}
