/* fs_gen_marketing: the marketing click generator (models/README.md, "Marketing clicks").
 * Global structure (population shares, campaigns, affinities, the per-region concept shift and
 * the calibrated intercept) is drawn once at _new from streams (seed, DATA, client NONE,
 * round = MK_SUB_*); client k's user and impressions come from stream (seed, DATA, k, NONE)
 * alone. Rows are sparse hashed features, ascending within a row. */
#include <gsl/gsl_randist.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_err.h"
#include "fs_gen.h"
#include "fs_rng.h"

#define MK_CREATIVES 4 /* creative formats: image, video, carousel, text */
#define MK_POSITIONS 4 /* ad slots 0 (top) .. 3 */
#define MK_MAX_INTERESTS 8
#define MK_MAX_ROWS 1048576.0 /* impressions per user: keeps one client addressable */
#define MK_MAX_LEVELS (1u << 24)
#define MK_CALIB_SAMPLES (1u << 17)
#define MK_MAX_TABLE ((size_t)1 << 22)        /* entries of one hash table (16 MB) */
#define MK_MAX_ROW (9 + 2 * MK_MAX_INTERESTS) /* features of one impression before merging */

/* Model constants, documented in models/README.md; changing one changes every dataset. */
#define MK_SHARE_ALPHA 2.0     /* Dirichlet concentration of region/device/age shares */
#define MK_INTEREST_ALPHA 1.0  /* Dirichlet concentration of interest popularity */
#define MK_INTEREST_MEAN 2.0   /* interests per user: 1 + Poisson(2) */
#define MK_SD_QUALITY 0.6      /* campaign (creative) quality */
#define MK_SD_DELIVERY 1.0     /* log of a campaign's share of impressions */
#define MK_SD_CATEGORY 0.3     /* category main effect */
#define MK_SD_AFFINITY 0.8     /* interest x category affinity */
#define MK_SD_AGE_CATEGORY 0.3 /* age band x category */
#define MK_SD_DEVICE_CREATIVE 0.3
#define MK_SD_USER 0.4           /* a user's own click propensity (not in the features) */
#define MK_POSITION_EFFECT -0.25 /* log-odds per slot below the top */

/* The `round` argument of the global streams, used as a sub-purpose index. */
enum { MK_SUB_STRUCTURE = 0, MK_SUB_CALIBRATION = 1 };

/* Hashed feature fields. The number enters the hash key, so renumbering changes every index. */
enum {
    MK_F_REGION = 1,
    MK_F_DEVICE = 2,
    MK_F_AGE = 3,
    MK_F_INTEREST = 4,
    MK_F_CAMPAIGN = 5,
    MK_F_CATEGORY = 6,
    MK_F_CREATIVE = 7,
    MK_F_POSITION = 8,
    MK_F_INTEREST_X_CATEGORY = 9,
    MK_F_DEVICE_X_CREATIVE = 10,
    MK_F_AGE_X_CATEGORY = 11
};

typedef char mk_name[FS_DATA_NAME_LEN];

/* The hashes of field `field` for keys (a, b), a < n_a and b < n_b, in a table of n_a * n_b, or
 * h == NULL when that would pass MK_MAX_TABLE entries (then they are computed on the spot). */
typedef struct mk_htab {
    uint32_t *h;
    uint64_t field;
    size_t n_b;
} mk_htab;

typedef struct mk_impl {
    fs_marketing_cfg cfg;
    double intercept; /* calibrated so the expected click rate is base_rate */
    gsl_ran_discrete_t *region_d, *device_d, *age_d, *interest_d, *campaign_d;
    uint32_t *camp_category;
    uint32_t *camp_creative;
    double *camp_quality;
    double *cat_effect;   /* n_categories */
    double *affinity;     /* n_interests x n_categories */
    double *age_cat;      /* n_age_bands x n_categories */
    double *dev_creative; /* n_devices x MK_CREATIVES */
    double *shift;        /* n_regions x n_categories: the concept shift */
    mk_name *region_names, *device_names, *age_names;
    /* Every row hashes its campaign-side features; these tables hold them (mk_tabulate). */
    mk_htab h_campaign, h_category, h_creative, h_position, h_dev_creative, h_age_category,
        h_interest_category;
} mk_impl;

typedef struct mk_user {
    uint32_t region, device, age;
    uint32_t n_interests;
    uint32_t interest[MK_MAX_INTERESTS];
    double inv_sqrt_m; /* interest features carry 1/sqrt(m) so the affinity term has unit scale */
    double propensity;
} mk_user;

/* Feature index: the SplitMix64 output for state key = field<<56 | a<<28 | b, top hash_bits
 * bits. A fixed hash (not seeded) so the same feature lands in the same bucket in every run. */
static inline uint32_t mk_hash(unsigned bits, uint64_t field, uint64_t a, uint64_t b)
{
    uint64_t s = field << 56 | a << 28 | b;
    return (uint32_t)(fs_splitmix64(&s) >> (64 - bits));
}

/* The same value as mk_hash(bits, t->field, a, b), from the table when there is one. */
static inline uint32_t mk_h(const mk_htab *t, unsigned bits, uint32_t a, uint32_t b)
{
    return t->h ? t->h[(size_t)a * t->n_b + b] : mk_hash(bits, t->field, a, b);
}

static int mk_tabulate(mk_htab *t, unsigned bits, uint64_t field, size_t n_a, size_t n_b)
{
    *t = (mk_htab){.field = field, .n_b = n_b};
    if (n_a * n_b > MK_MAX_TABLE) return FS_OK;
    if (!(t->h = malloc(n_a * n_b * sizeof *t->h))) return FS_ENOMEM;
    for (size_t a = 0; a < n_a; a++)
        for (size_t b = 0; b < n_b; b++)
            t->h[a * n_b + b] = mk_hash(bits, field, a, b);
    return FS_OK;
}

/* The hash tables of the campaign-side features. Campaign, category, creative and position
 * are one-key fields (b = 0). */
static int mk_tables(mk_impl *im)
{
    const fs_marketing_cfg *c = &im->cfg;
    unsigned bits = c->hash_bits;
    size_t nc = c->n_categories;
    int rc = mk_tabulate(&im->h_campaign, bits, MK_F_CAMPAIGN, c->n_campaigns, 1);
    if (!rc) rc = mk_tabulate(&im->h_category, bits, MK_F_CATEGORY, nc, 1);
    if (!rc) rc = mk_tabulate(&im->h_creative, bits, MK_F_CREATIVE, MK_CREATIVES, 1);
    if (!rc) rc = mk_tabulate(&im->h_position, bits, MK_F_POSITION, MK_POSITIONS, 1);
    if (!rc)
        rc = mk_tabulate(&im->h_dev_creative, bits, MK_F_DEVICE_X_CREATIVE, c->n_devices,
                         MK_CREATIVES);
    if (!rc) rc = mk_tabulate(&im->h_age_category, bits, MK_F_AGE_X_CATEGORY, c->n_age_bands, nc);
    if (!rc)
        rc = mk_tabulate(&im->h_interest_category, bits, MK_F_INTEREST_X_CATEGORY, c->n_interests,
                         nc);
    return rc;
}

/* Records one validation error and counts it (fs_err_add's return is 0 when err is NULL). */
static int mk_bad(fs_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int mk_bad(fs_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_err_vadd(err, path, fmt, ap);
    va_end(ap);
    return 1;
}

static int mk_check_count(size_t v, const char *path, fs_err *err)
{
    if (v >= 1 && v <= MK_MAX_LEVELS) return 0;
    return mk_bad(err, path, "expected 1 .. %u, found %zu", MK_MAX_LEVELS, v);
}

static int mk_check(const fs_marketing_cfg *c, fs_err *err)
{
    int bad = mk_check_count(c->n_regions, "marketing.n_regions", err);
    bad += mk_check_count(c->n_devices, "marketing.n_devices", err);
    bad += mk_check_count(c->n_age_bands, "marketing.n_age_bands", err);
    bad += mk_check_count(c->n_interests, "marketing.n_interests", err);
    bad += mk_check_count(c->n_campaigns, "marketing.n_campaigns", err);
    bad += mk_check_count(c->n_categories, "marketing.n_categories", err);
    if (c->hash_bits < 1 || c->hash_bits > 32)
        bad += mk_bad(err, "marketing.hash_bits", "expected 1 .. 32, found %u", c->hash_bits);
    if (!(c->base_rate > 0 && c->base_rate < 1))
        bad +=
            mk_bad(err, "marketing.base_rate", "expected a rate in (0, 1), found %g", c->base_rate);
    if (!(fabs(c->exposure_mu) <= 20))
        bad += mk_bad(err, "marketing.exposure_mu", "expected -20 .. 20, found %g", c->exposure_mu);
    if (!(c->exposure_sigma >= 0 && c->exposure_sigma <= 10))
        bad += mk_bad(err, "marketing.exposure_sigma", "expected 0 .. 10, found %g",
                      c->exposure_sigma);
    if (!(c->region_shift >= 0 && c->region_shift <= 10))
        bad += mk_bad(err, "marketing.region_shift", "expected 0 .. 10, found %g", c->region_shift);
    if (!(c->test_fraction >= 0 && c->test_fraction <= 1))
        bad +=
            mk_bad(err, "marketing.test_fraction", "expected 0 .. 1, found %g", c->test_fraction);
    return bad ? FS_ESCENARIO : FS_OK;
}

/* Category shares ~ Dirichlet(alpha, ..., alpha) as an alias table for O(1) draws. */
static gsl_ran_discrete_t *mk_shares(gsl_rng *r, size_t k, double alpha)
{
    double *a = malloc(2 * k * sizeof *a);
    if (!a) return NULL;
    for (size_t i = 0; i < k; i++)
        a[i] = alpha;
    gsl_ran_dirichlet(r, k, a, a + k);
    gsl_ran_discrete_t *d = gsl_ran_discrete_preproc(k, a + k);
    free(a);
    return d;
}

static void mk_gaussians(gsl_rng *r, double *out, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        out[i] = sd * gsl_ran_ugaussian(r);
}

/* Campaigns: category, creative format, quality and delivery weight, drawn campaign by campaign.
 * Returns the impression-share alias table (NULL when out of memory). */
static gsl_ran_discrete_t *mk_campaigns(mk_impl *im, gsl_rng *r)
{
    const fs_marketing_cfg *c = &im->cfg;
    double *w = malloc(c->n_campaigns * sizeof *w);
    if (!w) return NULL;
    for (size_t j = 0; j < c->n_campaigns; j++) {
        im->camp_category[j] = (uint32_t)gsl_rng_uniform_int(r, c->n_categories);
        im->camp_creative[j] = (uint32_t)gsl_rng_uniform_int(r, MK_CREATIVES);
        im->camp_quality[j] = MK_SD_QUALITY * gsl_ran_ugaussian(r);
        w[j] = gsl_ran_lognormal(r, 0.0, MK_SD_DELIVERY);
    }
    gsl_ran_discrete_t *d = gsl_ran_discrete_preproc(c->n_campaigns, w);
    free(w);
    return d;
}

/* The global structure, in the order models/README.md lists it. Effects are sd * N(0,1), so the
 * concept shift is region_shift times the same standard normals whatever region_shift is. */
static int mk_structure(mk_impl *im, gsl_rng *r)
{
    const fs_marketing_cfg *c = &im->cfg;
    fs_rng_reseed(r, c->seed, FS_RNG_DATA, FS_RNG_NONE, MK_SUB_STRUCTURE);
    if (!(im->region_d = mk_shares(r, c->n_regions, MK_SHARE_ALPHA))) return FS_ENOMEM;
    if (!(im->device_d = mk_shares(r, c->n_devices, MK_SHARE_ALPHA))) return FS_ENOMEM;
    if (!(im->age_d = mk_shares(r, c->n_age_bands, MK_SHARE_ALPHA))) return FS_ENOMEM;
    if (!(im->interest_d = mk_shares(r, c->n_interests, MK_INTEREST_ALPHA))) return FS_ENOMEM;
    if (!(im->campaign_d = mk_campaigns(im, r))) return FS_ENOMEM;
    size_t nc = c->n_categories;
    mk_gaussians(r, im->cat_effect, nc, MK_SD_CATEGORY);
    mk_gaussians(r, im->affinity, c->n_interests * nc, MK_SD_AFFINITY);
    mk_gaussians(r, im->age_cat, c->n_age_bands * nc, MK_SD_AGE_CATEGORY);
    mk_gaussians(r, im->dev_creative, c->n_devices * MK_CREATIVES, MK_SD_DEVICE_CREATIVE);
    mk_gaussians(r, im->shift, c->n_regions * nc, c->region_shift);
    return FS_OK;
}

static bool mk_has(const mk_user *u, uint32_t i)
{
    for (uint32_t j = 0; j < u->n_interests; j++)
        if (u->interest[j] == i) return true;
    return false;
}

/* m = 1 + Poisson(2) distinct interests (at most 8 and at most n_interests), each drawn by
 * popularity among those not yet held (rejection from the popularity alias table). Past 64*m
 * rejections (only when a few interests hold almost all popularity) the lowest unused ids are
 * taken, so the loop always ends. */
static void mk_interests(const mk_impl *im, gsl_rng *r, mk_user *u)
{
    size_t cap = im->cfg.n_interests < MK_MAX_INTERESTS ? im->cfg.n_interests : MK_MAX_INTERESTS;
    size_t m = 1 + gsl_ran_poisson(r, MK_INTEREST_MEAN);
    if (m > cap) m = cap;
    u->n_interests = 0;
    for (size_t tries = 0; u->n_interests < m; tries++) {
        uint32_t i = (uint32_t)fs_xo_discrete(r, im->interest_d);
        if (tries >= 64 * m)
            for (i = 0; mk_has(u, i); i++)
                continue;
        if (!mk_has(u, i)) u->interest[u->n_interests++] = i;
    }
    u->inv_sqrt_m = 1.0 / sqrt((double)m);
}

/* The user's group levels, the first draws of its stream after the impression count. */
static void mk_user_groups(const mk_impl *im, gsl_rng *r, mk_user *u)
{
    u->region = (uint32_t)fs_xo_discrete(r, im->region_d);
    u->device = (uint32_t)fs_xo_discrete(r, im->device_d);
    u->age = (uint32_t)fs_xo_discrete(r, im->age_d);
}

static void mk_user_draw(const mk_impl *im, gsl_rng *r, mk_user *u)
{
    mk_user_groups(im, r, u);
    mk_interests(im, r, u);
    u->propensity = MK_SD_USER * gsl_ran_ugaussian(r);
}

/* The click log-odds of user u seeing campaign j in slot pos, without the intercept. */
static double mk_logit(const mk_impl *im, const mk_user *u, uint32_t j, uint32_t pos)
{
    size_t nc = im->cfg.n_categories;
    uint32_t cat = im->camp_category[j], cre = im->camp_creative[j];
    double aff = 0;
    for (uint32_t i = 0; i < u->n_interests; i++)
        aff += im->affinity[u->interest[i] * nc + cat];
    return u->propensity + im->camp_quality[j] + im->cat_effect[cat] + aff * u->inv_sqrt_m +
           im->age_cat[u->age * nc + cat] + im->dev_creative[u->device * MK_CREATIVES + cre] +
           im->shift[u->region * nc + cat] + MK_POSITION_EFFECT * pos;
}

/* Newton's method on mean(sigmoid(b + z_i)) = p, which is increasing and smooth in b; steps
 * are capped so a poor start cannot overshoot into the flat tails. */
static double mk_solve_intercept(const double *z, size_t n, double p)
{
    double b = log(p / (1 - p));
    for (int it = 0; it < 100; it++) {
        double f = 0, fp = 0;
        for (size_t i = 0; i < n; i++) {
            double s = 1.0 / (1.0 + exp(-(b + z[i])));
            f += s;
            fp += s * (1 - s);
        }
        double step = (f / (double)n - p) / (fp / (double)n);
        step = step > 2 ? 2 : step < -2 ? -2 : step;
        b -= step;
        if (fabs(step) < 1e-12) break;
    }
    return b;
}

/* The intercept makes the expected click rate per impression equal base_rate, computed once
 * from 2^17 (user, impression) pairs of the calibration stream. A user's impression count is
 * independent of everything in the logit, so one impression per user is an unbiased sample. */
static int mk_calibrate(mk_impl *im, gsl_rng *r)
{
    double *z = malloc(MK_CALIB_SAMPLES * sizeof *z);
    if (!z) return FS_ENOMEM;
    fs_rng_reseed(r, im->cfg.seed, FS_RNG_DATA, FS_RNG_NONE, MK_SUB_CALIBRATION);
    for (size_t i = 0; i < MK_CALIB_SAMPLES; i++) {
        mk_user u;
        mk_user_draw(im, r, &u);
        uint32_t j = (uint32_t)fs_xo_discrete(r, im->campaign_d);
        uint32_t pos = (uint32_t)fs_xo_uniform_int(r, MK_POSITIONS);
        z[i] = mk_logit(im, &u, j, pos);
    }
    im->intercept = mk_solve_intercept(z, MK_CALIB_SAMPLES, im->cfg.base_rate);
    free(z);
    return FS_OK;
}

/* Level names: standard device kinds first; the usual six age bands when there are six. */
static const char *const mk_devices[] = {"android", "ios", "desktop", "tablet"};
static const char *const mk_ages[] = {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"};

size_t fs_gen_marketing_levels(const fs_marketing_cfg *c, const char *group)
{
    return !strcmp(group, "region")     ? c->n_regions
           : !strcmp(group, "device")   ? c->n_devices
           : !strcmp(group, "age_band") ? c->n_age_bands
                                        : 0;
}

void fs_gen_marketing_level_name(const fs_marketing_cfg *c, const char *group, size_t i,
                                 char *buf, size_t n)
{
    if (!strcmp(group, "region"))
        snprintf(buf, n, "region_%zu", i);
    else if (!strcmp(group, "device"))
        i < 4 ? snprintf(buf, n, "%s", mk_devices[i]) : snprintf(buf, n, "device_%zu", i);
    else if (c->n_age_bands == 6)
        snprintf(buf, n, "%s", mk_ages[i]);
    else
        snprintf(buf, n, "age_band_%zu", i);
}

static int mk_fill_names(const fs_marketing_cfg *c, mk_name **out, const char *group)
{
    size_t n = fs_gen_marketing_levels(c, group);
    if (!(*out = calloc(n, sizeof **out))) return FS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        fs_gen_marketing_level_name(c, group, i, (*out)[i], FS_DATA_NAME_LEN);
    return FS_OK;
}

static int mk_names(mk_impl *im)
{
    const fs_marketing_cfg *c = &im->cfg;
    if (mk_fill_names(c, &im->region_names, "region")) return FS_ENOMEM;
    if (mk_fill_names(c, &im->device_names, "device")) return FS_ENOMEM;
    return mk_fill_names(c, &im->age_names, "age_band");
}

static void mk_free(fs_gen *g)
{
    mk_impl *im = g->impl;
    if (im) {
        gsl_ran_discrete_t *d[] = {im->region_d, im->device_d, im->age_d, im->interest_d,
                                   im->campaign_d};
        for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
            if (d[i]) gsl_ran_discrete_free(d[i]);
        free(im->camp_category);
        free(im->camp_creative);
        free(im->camp_quality);
        free(im->cat_effect);
        free(im->affinity);
        free(im->age_cat);
        free(im->dev_creative);
        free(im->shift);
        free(im->region_names);
        free(im->device_names);
        free(im->age_names);
        mk_htab *t[] = {&im->h_campaign,         &im->h_category,     &im->h_creative,
                        &im->h_position,         &im->h_dev_creative, &im->h_age_category,
                        &im->h_interest_category};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            free(t[i]->h);
        free(im);
    }
    free(g);
}

/* Impressions per user: round(lognormal(mu, sigma)), at least 1 (every client trains), capped. */
static size_t mk_count(gsl_rng *r, double mu, double sigma)
{
    double x = round(gsl_ran_lognormal(r, mu, sigma));
    return x < 1 ? 1 : x > MK_MAX_ROWS ? (size_t)MK_MAX_ROWS : (size_t)x;
}

/* The group columns region, device, age_band with their level names, added to a dataset once
 * (a reused one keeps them). */
static int mk_groups(const mk_impl *im, fs_gen_scratch *s, int which)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    const fs_marketing_cfg *c = &im->cfg;
    const char *names[] = {"region", "device", "age_band"};
    size_t levels[] = {c->n_regions, c->n_devices, c->n_age_bands};
    const mk_name *level_names[] = {im->region_names, im->device_names, im->age_names};
    for (size_t i = 0; i < 3; i++) {
        size_t gi;
        int rc = fs_gen_add_group(s, which, names[i], levels[i], &gi);
        if (rc == FS_OK) rc = fs_group_set_names_fixed(&ds->groups[gi], level_names[i]);
        if (rc != FS_OK) return rc;
    }
    return FS_OK;
}

/* Dataset `which` of s (0 train, 1 test): room for n rows of at most per_row features, groups
 * constant over the user's rows. */
static int mk_alloc(const fs_gen *g, const mk_user *u, fs_gen_scratch *s, int which, size_t n,
                    size_t per_row)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    int rc = fs_gen_reserve_sparse(s, which, n, g->d, n * per_row, 2);
    if (rc == FS_OK && !ds->n_groups && (rc = mk_groups(g->impl, s, which)))
        fs_gen_scratch_drop(s, which);
    if (rc != FS_OK) return rc;
    const uint32_t level[] = {u->region, u->device, u->age};
    for (size_t gi = 0; gi < 3; gi++)
        for (size_t i = 0; i < n; i++)
            ds->groups[gi].level[i] = level[gi];
    return FS_OK;
}

/* Sorts features by index, stably (insertion sort: at most 25). */
static void mk_sort(uint32_t *idx, float *val, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t ki = idx[i];
        float vi = val[i];
        size_t j = i;
        for (; j > 0 && idx[j - 1] > ki; j--)
            idx[j] = idx[j - 1], val[j] = val[j - 1];
        idx[j] = ki, val[j] = vi;
    }
}

/* Adds up runs of equal indices in sorted features, in order, keeping one entry per index: hash
 * collisions merge by adding their values, as the hashing trick prescribes. Returns the nnz. */
static size_t mk_merge_equal(uint32_t *idx, float *val, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && idx[m - 1] == idx[i])
            val[m - 1] += val[i];
        else
            idx[m] = idx[i], val[m++] = val[i];
    }
    return m;
}

/* Sorts a row's features by index and merges its collisions. Returns the row's nnz. */
static size_t mk_sort_merge(uint32_t *idx, float *val, size_t n)
{
    mk_sort(idx, val, n);
    return mk_merge_equal(idx, val, n);
}

/* The stable sort of a[0..n) into (oi, ov) by counting each one's rank. Branch-free and
 * vectorised: at 20 hashed (random) indices it beats an insertion sort, whose branches the CPU
 * cannot guess, by far. */
static void mk_rank_sort(const uint32_t *ai, const float *av, size_t n, uint32_t *oi, float *ov)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = ai[i], r = 0; /* the smaller ones, then the equal ones before it */
        for (size_t j = 0; j < n; j++)
            r += ai[j] < x;
        for (size_t j = 0; j < i; j++)
            r += ai[j] == x;
        oi[r] = x, ov[r] = av[i];
    }
}

/* The user's own features (region, device, age band, interests), the part every one of their
 * rows starts with, sorted and merged once per client. */
typedef struct mk_ufeat {
    uint32_t idx[3 + MK_MAX_INTERESTS];
    float val[3 + MK_MAX_INTERESTS];
    size_t n;
} mk_ufeat;

static void mk_user_features(unsigned bits, const mk_user *u, mk_ufeat *out)
{
    float w = (float)u->inv_sqrt_m;
    out->idx[0] = mk_hash(bits, MK_F_REGION, u->region, 0);
    out->idx[1] = mk_hash(bits, MK_F_DEVICE, u->device, 0);
    out->idx[2] = mk_hash(bits, MK_F_AGE, u->age, 0);
    out->val[0] = out->val[1] = out->val[2] = 1.0f;
    for (uint32_t i = 0; i < u->n_interests; i++)
        out->idx[3 + i] = mk_hash(bits, MK_F_INTEREST, u->interest[i], 0), out->val[3 + i] = w;
    out->n = mk_sort_merge(out->idx, out->val, 3 + u->n_interests);
}

/* The impression's own hashed features, unsorted, of user u seeing campaign j in slot pos:
 * interest x category, campaign, category, creative, position, device x creative, age band x
 * category. Returns how many (6 + interests). */
static size_t mk_ad_features(const mk_impl *im, const mk_user *u, uint32_t j, uint32_t pos,
                             uint32_t *idx, float *val)
{
    unsigned bits = im->cfg.hash_bits;
    uint32_t cat = im->camp_category[j], cre = im->camp_creative[j], m = u->n_interests;
    float w = (float)u->inv_sqrt_m;
    size_t n = 0;
    for (uint32_t i = 0; i < m; i++)
        idx[n] = mk_h(&im->h_interest_category, bits, u->interest[i], cat), val[n++] = w;
    idx[n] = mk_h(&im->h_campaign, bits, j, 0), val[n++] = 1.0f;
    idx[n] = mk_h(&im->h_category, bits, cat, 0), val[n++] = 1.0f;
    idx[n] = mk_h(&im->h_creative, bits, cre, 0), val[n++] = 1.0f;
    idx[n] = mk_h(&im->h_position, bits, pos, 0), val[n++] = 1.0f;
    idx[n] = mk_h(&im->h_dev_creative, bits, u->device, cre), val[n++] = 1.0f;
    idx[n] = mk_h(&im->h_age_category, bits, u->age, cat), val[n++] = 1.0f;
    return n;
}

/* The places of two sorted runs in their stable merge, u before a on equal indices: u[i] goes
 * after the a's below it, a[j] after the u's at or below it. Counting, as mk_rank_sort does, and
 * branch-free: which run the next entry comes from is a coin toss no predictor learns. */
static void mk_merge_runs(const uint32_t *ui, const float *uv, size_t nu, const uint32_t *ai,
                          const float *av, size_t na, uint32_t *oi, float *ov)
{
    for (size_t i = 0; i < nu; i++) {
        size_t r = i;
        for (size_t j = 0; j < na; j++)
            r += ai[j] < ui[i];
        oi[r] = ui[i], ov[r] = uv[i];
    }
    for (size_t j = 0; j < na; j++) {
        size_t r = j;
        for (size_t i = 0; i < nu; i++)
            r += ui[i] <= ai[j];
        oi[r] = ai[j], ov[r] = av[j];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MK_SIMD 1
/* Both runs fit one vector of 16 indices each. */
_Static_assert(3 + MK_MAX_INTERESTS <= 16 && 6 + MK_MAX_INTERESTS <= 16, "a run is one vector");

/* mk_rank_sort and mk_merge_runs in one: each entry's place in the merged row counted with
 * AVX-512 compares against both runs at once, the impression's unsorted (how many of its
 * entries lie below one does not depend on their order). The places, hence the row, are those
 * of the scalar pair. Returns whether two entries share an index (the user's run has none). */
__attribute__((target("avx512f,popcnt"))) static bool
mk_place_avx512(const mk_ufeat *uf, const uint32_t *ai, const float *av, size_t na, uint32_t *oi,
                float *ov)
{
    size_t nu = uf->n;
    __mmask16 mu = (__mmask16)((1u << nu) - 1), ma = (__mmask16)((1u << na) - 1);
    __m512i U = _mm512_maskz_loadu_epi32(mu, uf->idx), A = _mm512_maskz_loadu_epi32(ma, ai);
    unsigned clash = 0;
    for (size_t i = 0; i < nu; i++) {
        __m512i x = _mm512_set1_epi32((int)uf->idx[i]);
        size_t r = i + (size_t)_mm_popcnt_u32(_mm512_mask_cmplt_epu32_mask(ma, A, x));
        oi[r] = uf->idx[i], ov[r] = uf->val[i];
    }
    for (size_t j = 0; j < na; j++) {
        __m512i x = _mm512_set1_epi32((int)ai[j]);
        unsigned eq_a = _mm512_mask_cmpeq_epu32_mask(ma, A, x) & ~(1u << j);
        size_t r = (size_t)_mm_popcnt_u32(_mm512_mask_cmplt_epu32_mask(ma, A, x)) +
                   (size_t)_mm_popcnt_u32(eq_a & ((1u << j) - 1)) +
                   (size_t)_mm_popcnt_u32(_mm512_mask_cmple_epu32_mask(mu, U, x));
        clash |= eq_a | _mm512_mask_cmpeq_epu32_mask(mu, U, x);
        oi[r] = ai[j], ov[r] = av[j];
    }
    return clash != 0;
}

/* mk_place_avx512 in 8-lane halves for AVX2 CPUs, which compare signed lanes only: indices are
 * compared with their top bit flipped, which orders them as unsigned. The same places, hence
 * the same rows (test_gen's fingerprints). On an AVX2 EPYC (Zen 3) the scalar rank sort and
 * merge were the top symbol of a million-client CTR run (11% of its samples). */
#define MK_BIAS 0x80000000u

/* The lanes of the 16-lane run (lo, hi) below x, as a bit mask. */
__attribute__((target("avx2"))) static inline unsigned mk_below(__m256i lo, __m256i hi, __m256i x)
{
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(x, lo))) |
           (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(x, hi))) << 8;
}

__attribute__((target("avx2"))) static inline unsigned mk_equal(__m256i lo, __m256i hi, __m256i x)
{
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(x, lo))) |
           (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(x, hi))) << 8;
}

__attribute__((target("avx2,popcnt"))) static bool
mk_place_avx2(const mk_ufeat *uf, const uint32_t *ai, const float *av, size_t na, uint32_t *oi,
              float *ov)
{
    size_t nu = uf->n;
    unsigned mu = (1u << nu) - 1, ma = (1u << na) - 1;
    uint32_t ub[16] = {0}, ab[16] = {0}; /* biased; lanes past a run's end are masked off */
    for (size_t i = 0; i < nu; i++) ub[i] = uf->idx[i] ^ MK_BIAS;
    for (size_t j = 0; j < na; j++) ab[j] = ai[j] ^ MK_BIAS;
    __m256i U0 = _mm256_loadu_si256((const void *)ub);
    __m256i U1 = _mm256_loadu_si256((const void *)(ub + 8));
    __m256i A0 = _mm256_loadu_si256((const void *)ab);
    __m256i A1 = _mm256_loadu_si256((const void *)(ab + 8));
    unsigned clash = 0;
    for (size_t i = 0; i < nu; i++) {
        __m256i x = _mm256_set1_epi32((int)ub[i]);
        size_t r = i + (size_t)_mm_popcnt_u32(mk_below(A0, A1, x) & ma);
        oi[r] = uf->idx[i], ov[r] = uf->val[i];
    }
    for (size_t j = 0; j < na; j++) {
        __m256i x = _mm256_set1_epi32((int)ab[j]);
        unsigned eq_a = mk_equal(A0, A1, x) & ma & ~(1u << j), eq_u = mk_equal(U0, U1, x) & mu;
        unsigned le_u = (mk_below(U0, U1, x) & mu) | eq_u;
        size_t r = (size_t)_mm_popcnt_u32(mk_below(A0, A1, x) & ma) +
                   (size_t)_mm_popcnt_u32(eq_a & ((1u << j) - 1)) + (size_t)_mm_popcnt_u32(le_u);
        clash |= eq_a | eq_u;
        oi[r] = ai[j], ov[r] = av[j];
    }
    return clash != 0;
}

/* Chosen by the first fs_gen_marketing_new (before any thread generates), unless a test chose
 * first: the CPU cannot change, and tests force each path in turn. */
static int mk_simd = -1; /* an fs_mk_place; -1: not chosen yet */

static bool mk_cpu_has(fs_mk_place path)
{
    switch (path) {
    case FS_MK_PLACE_SCALAR: return true;
    case FS_MK_PLACE_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case FS_MK_PLACE_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("popcnt");
    default: return false;
    }
}

bool fs_gen_marketing_use_place(fs_mk_place path)
{
    if (path == FS_MK_PLACE_BEST)
        path = mk_cpu_has(FS_MK_PLACE_AVX512) ? FS_MK_PLACE_AVX512
               : mk_cpu_has(FS_MK_PLACE_AVX2) ? FS_MK_PLACE_AVX2
                                              : FS_MK_PLACE_SCALAR;
    if (!mk_cpu_has(path)) return false;
    mk_simd = (int)path;
    return true;
}
#else
bool fs_gen_marketing_use_place(fs_mk_place path)
{
    return path == FS_MK_PLACE_BEST || path == FS_MK_PLACE_SCALAR;
}
#endif

/* A row: the user's features followed by the impression's, sorted and merged (mk_sort_merge of
 * the whole row), into idx/val. The user's part comes sorted and merged already, so only the
 * impression's is sorted, then the two are merged: the order a stable sort of the whole row
 * gives, so summing the user's part first adds the same values in the same order. Collisions,
 * rare, are summed after the merge. Returns the row's nnz. */
static size_t mk_merge_row(const mk_ufeat *uf, const uint32_t *ai, const float *av, size_t na,
                           uint32_t *idx, float *val)
{
    size_t m = uf->n + na;
#ifdef MK_SIMD
    if (mk_simd == FS_MK_PLACE_AVX512)
        return mk_place_avx512(uf, ai, av, na, idx, val) ? mk_merge_equal(idx, val, m) : m;
    if (mk_simd == FS_MK_PLACE_AVX2)
        return mk_place_avx2(uf, ai, av, na, idx, val) ? mk_merge_equal(idx, val, m) : m;
#endif
    uint32_t si[MK_MAX_ROW];
    float sv[MK_MAX_ROW];
    mk_rank_sort(ai, av, na, si, sv);
    mk_merge_runs(uf->idx, uf->val, uf->n, si, sv, na, idx, val);
    bool equal = false;
    for (size_t k = 1; k < m; k++)
        equal |= idx[k] == idx[k - 1];
    return equal ? mk_merge_equal(idx, val, m) : m;
}

/* One impression into row `row` of ds: campaign by delivery share, slot uniform, click by the
 * logistic model; then its hashed features. */
static void mk_row(const mk_impl *im, gsl_rng *r, const mk_user *u, const mk_ufeat *uf,
                   fs_dataset *ds, size_t row)
{
    uint32_t j = (uint32_t)fs_xo_discrete(r, im->campaign_d);
    uint32_t pos = (uint32_t)fs_xo_uniform_int(r, MK_POSITIONS);
    double p = 1.0 / (1.0 + exp(-(im->intercept + mk_logit(im, u, j, pos))));
    ds->y[row] = fs_xo_uniform(r) < p;
    uint32_t ai[MK_MAX_ROW];
    float av[MK_MAX_ROW];
    size_t na = mk_ad_features(im, u, j, pos, ai, av);
    size_t at = ds->ptr[row];
    ds->ptr[row + 1] = at + mk_merge_row(uf, ai, av, na, ds->idx + at, ds->val + at);
}

/* Bits of a 4096-bit map of features' low 12 bits: the user's are set once per client, so a
 * row whose impression features find their bits clear (almost every row) has no collision. */
typedef struct mk_seen {
    uint64_t w[64];
} mk_seen;

static bool mk_seen_set(mk_seen *s, uint32_t k)
{
    uint64_t bit = (uint64_t)1 << (k & 63), *w = &s->w[(k & 4095) >> 6];
    bool was = *w & bit;
    *w |= bit;
    return was;
}

/* The non-zeros of the next impression, with the same draws as mk_row (the click's uniform is
 * drawn and not used: the rows after it must see the same stream). `seen` holds the user's
 * features' bits and is returned so. */
static size_t mk_row_nnz(const mk_impl *im, gsl_rng *r, const mk_user *u, const mk_ufeat *uf,
                         mk_seen *seen)
{
    uint32_t j = (uint32_t)fs_xo_discrete(r, im->campaign_d);
    uint32_t pos = (uint32_t)fs_xo_uniform_int(r, MK_POSITIONS);
    (void)fs_xo_uniform(r);
    uint32_t ai[MK_MAX_ROW], idx[MK_MAX_ROW];
    float av[MK_MAX_ROW], val[MK_MAX_ROW];
    size_t na = mk_ad_features(im, u, j, pos, ai, av), set = 0;
    bool clash = false;
    uint32_t mine[MK_MAX_ROW]; /* the bits this row set, cleared again below */
    for (size_t i = 0; i < na; i++) {
        if (mk_seen_set(seen, ai[i]))
            clash = true;
        else
            mine[set++] = ai[i];
    }
    for (size_t i = 0; i < set; i++)
        seen->w[(mine[i] & 4095) >> 6] &= ~((uint64_t)1 << (mine[i] & 63));
    return clash ? mk_merge_row(uf, ai, av, na, idx, val) : uf->n + na;
}

/* The start of client k's stream: its impression count and the training share of it, then
 * the user (only its group levels when `whole` is false: what the counting pass needs, and the
 * draws after them are never read there). The impressions follow the whole user. */
static void mk_head(const mk_impl *im, gsl_rng *r, uint64_t k, size_t *n, size_t *n_tr,
                    mk_user *u, bool whole)
{
    fs_assert(fs_rng_is_xoshiro(r)); /* the fs_xo_ draws below: every rng here is fs_rng_new's */
    fs_rng_reseed(r, im->cfg.seed, FS_RNG_DATA, k, FS_RNG_NONE);
    *n = mk_count(r, im->cfg.exposure_mu, im->cfg.exposure_sigma);
    double n_round = round((1 - im->cfg.test_fraction) * (double)*n);
    *n_tr = n_round < 1 ? 1 : n_round > (double)*n ? *n : (size_t)n_round;
    if (whole)
        mk_user_draw(im, r, u);
    else
        mk_user_groups(im, r, u);
}

/* Client k's rows; with_test false stops after the training rows (the test dataset gets none). */
static int mk_generate(const fs_gen *g, uint64_t k, fs_gen_scratch *s, bool with_test, fs_err *err)
{
    const mk_impl *im = g->impl;
    if (!s->rng && !(s->rng = fs_rng_new())) goto nomem;
    size_t n, n_tr;
    mk_user u;
    mk_head(im, s->rng, k, &n, &n_tr, &u, true);
    size_t per_row = 9 + 2 * (size_t)u.n_interests;
    if (!with_test) n = n_tr;
    if (mk_alloc(g, &u, s, 0, n_tr, per_row) || mk_alloc(g, &u, s, 1, n - n_tr, per_row))
        goto nomem;
    mk_ufeat uf;
    mk_user_features(im->cfg.hash_bits, &u, &uf);
    for (size_t i = 0; i < n; i++)
        mk_row(im, s->rng, &u, &uf, i < n_tr ? &s->train : &s->test, i < n_tr ? i : i - n_tr);
    return FS_OK;
nomem:
    fs_err_add(err, "marketing", "out of memory generating client %llu", (unsigned long long)k);
    return FS_ENOMEM;
}

static int mk_client_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    return mk_generate(g, k, s, true, err);
}

static int mk_train_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    return mk_generate(g, k, s, false, err);
}

/* The sizes known from the start of client k's stream (mk_head): all but the non-zeros. */
static void mk_head_sizes(size_t n, size_t n_tr, const mk_user *u, fs_gen_sizes *out)
{
    *out = (fs_gen_sizes){.n_train = n_tr, .n_test = n - n_tr, .nnz_train = FS_GEN_NNZ_LATER};
    for (size_t i = 0; i < FS_DATA_MAX_GROUPS; i++)
        out->level[i] = UINT32_MAX;
    out->level[0] = u->region, out->level[1] = u->device, out->level[2] = u->age;
}

/* The counting pass's part: the user only, no impression drawn. */
static int mk_heads(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out)
{
    if (!s->rng && !(s->rng = fs_rng_new())) return FS_ENOMEM;
    size_t n, n_tr;
    mk_user u;
    mk_head(g->impl, s->rng, k, &n, &n_tr, &u, false);
    mk_head_sizes(n, n_tr, &u, out);
    return FS_OK;
}

/* The training rows' count and non-zeros without storing them; the test rows, last in the
 * stream, need not be drawn. */
static int mk_sizes(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out)
{
    const mk_impl *im = g->impl;
    if (!s->rng && !(s->rng = fs_rng_new())) return FS_ENOMEM;
    size_t n, n_tr;
    mk_user u;
    mk_head(im, s->rng, k, &n, &n_tr, &u, true);
    mk_ufeat uf;
    mk_user_features(im->cfg.hash_bits, &u, &uf);
    mk_seen seen = {{0}};
    for (size_t i = 0; i < uf.n; i++)
        mk_seen_set(&seen, uf.idx[i]);
    size_t nnz = 0;
    for (size_t i = 0; i < n_tr; i++)
        nnz += mk_row_nnz(im, s->rng, &u, &uf, &seen);
    mk_head_sizes(n, n_tr, &u, out);
    out->nnz_train = nnz;
    return FS_OK;
}

static const fs_gen_ops mk_ops = {.client = fs_gen_client_fresh,
                                  .client_into = mk_client_into,
                                  .train_into = mk_train_into,
                                  .sizes = mk_sizes,
                                  .heads = mk_heads,
                                  .free = mk_free};

static int mk_alloc_impl(mk_impl *im)
{
    const fs_marketing_cfg *c = &im->cfg;
    size_t nc = c->n_categories;
    im->camp_category = malloc(c->n_campaigns * sizeof *im->camp_category);
    im->camp_creative = malloc(c->n_campaigns * sizeof *im->camp_creative);
    im->camp_quality = malloc(c->n_campaigns * sizeof *im->camp_quality);
    im->cat_effect = malloc(nc * sizeof *im->cat_effect);
    im->affinity = malloc(c->n_interests * nc * sizeof *im->affinity);
    im->age_cat = malloc(c->n_age_bands * nc * sizeof *im->age_cat);
    im->dev_creative = malloc(c->n_devices * MK_CREATIVES * sizeof *im->dev_creative);
    im->shift = malloc(c->n_regions * nc * sizeof *im->shift);
    bool ok = im->camp_category && im->camp_creative && im->camp_quality && im->cat_effect &&
              im->affinity && im->age_cat && im->dev_creative && im->shift;
    return ok && !mk_names(im) ? mk_tables(im) : FS_ENOMEM;
}

fs_gen *fs_gen_marketing_new(const fs_marketing_cfg *cfg, fs_err *err)
{
    if (mk_check(cfg, err) != FS_OK) return NULL;
#ifdef MK_SIMD
    if (mk_simd < 0) fs_gen_marketing_use_place(FS_MK_PLACE_BEST);
#endif
    fs_gen *g = calloc(1, sizeof *g);
    mk_impl *im = calloc(1, sizeof *im);
    gsl_rng *r = fs_rng_new();
    if (!g || !im || !r) goto fail;
    *g = (fs_gen){.ops = &mk_ops,
                  .name = "marketing",
                  .d = (size_t)1 << cfg->hash_bits,
                  .n_classes = 2,
                  .sparse = true,
                  .seed = cfg->seed,
                  .impl = im};
    im->cfg = *cfg;
    if (mk_alloc_impl(im) || mk_structure(im, r) || mk_calibrate(im, r)) goto fail;
    gsl_rng_free(r);
    return g;
fail:
    fs_err_add(err, "marketing", "out of memory building the generator");
    if (r) gsl_rng_free(r);
    if (g && im)
        mk_free(g);
    else
        free(g), free(im);
    return NULL;
}
