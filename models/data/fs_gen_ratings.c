/* fs_gen_ratings: the ratings generator for recommendations (models/README.md, "Ratings").
 * Items carry a bias, latent factors (drawn once from stream (seed, DATA, client NONE, round
 * RT_SUB_STRUCTURE)) and Zipf popularity by id (item 0 most popular); user k's biases, factors
 * and rated items come from stream (seed, DATA, k, NONE) alone. Rows are one-hot items. */
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"
#include "fs_rng.h"

#define RT_MAX_ROWS 1048576.0 /* ratings per user: keeps one client addressable */
#define RT_MAX_ITEMS (1u << 26)
#define RT_MAX_LATENT 1000
#define RT_MAX_FACTORS FS_RATINGS_MAX_FACTORS
#define RT_EMPTY UINT32_MAX

/* Model constants, documented in models/README.md; changing one changes every dataset. */
#define RT_MU 3.6 /* global mean rating (MovieLens is about 3.5) */
#define RT_SD_USER_BIAS 0.4
#define RT_SD_ITEM_BIAS 0.4
#define RT_SD_DOT 0.6 /* standard deviation of p_u . q_i */

enum { RT_SUB_STRUCTURE = 0 }; /* round argument of the global stream */

typedef struct rt_impl {
    fs_ratings_cfg cfg;
    double factor_sd;        /* per component, so that sd(p . q) = RT_SD_DOT */
    double *item_bias;       /* n_items */
    double *item_f;          /* n_items x latent_dim */
    gsl_ran_discrete_t *pop; /* Zipf(popularity_s) over item ids */
} rt_impl;

static int rt_bad(fs_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rt_bad(fs_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fs_err_vadd(err, path, fmt, ap);
    va_end(ap);
    return 1;
}

static int rt_check(const fs_ratings_cfg *c, fs_err *err)
{
    int bad = 0;
    if (c->n_items < 1 || c->n_items > RT_MAX_ITEMS)
        bad +=
            rt_bad(err, "ratings.n_items", "expected 1 .. %u, found %zu", RT_MAX_ITEMS, c->n_items);
    if (c->latent_dim > RT_MAX_LATENT)
        bad += rt_bad(err, "ratings.latent_dim", "expected 0 .. %d, found %zu", RT_MAX_LATENT,
                      c->latent_dim);
    else if (c->n_items >= 1 && c->n_items <= RT_MAX_ITEMS &&
             c->n_items * c->latent_dim > RT_MAX_FACTORS)
        bad += rt_bad(err, "ratings.latent_dim",
                      "expected items x latent_dim <= 2^28, found %zu x %zu", c->n_items,
                      c->latent_dim);
    if (!(c->popularity_s >= 0 && c->popularity_s <= 10))
        bad += rt_bad(err, "ratings.popularity_s", "expected 0 .. 10, found %g", c->popularity_s);
    if (!(fabs(c->activity_mu) <= 20))
        bad += rt_bad(err, "ratings.activity_mu", "expected -20 .. 20, found %g", c->activity_mu);
    if (!(c->activity_sigma >= 0 && c->activity_sigma <= 10))
        bad +=
            rt_bad(err, "ratings.activity_sigma", "expected 0 .. 10, found %g", c->activity_sigma);
    if (!(c->noise_sigma >= 0 && c->noise_sigma <= 10))
        bad += rt_bad(err, "ratings.noise_sigma", "expected 0 .. 10, found %g", c->noise_sigma);
    if (!(c->test_fraction >= 0 && c->test_fraction <= 1))
        bad += rt_bad(err, "ratings.test_fraction", "expected 0 .. 1, found %g", c->test_fraction);
    return bad ? FS_ESCENARIO : FS_OK;
}

/* Item biases, then item factors row by row; popularity (i + 1)^-s needs no randomness. */
static int rt_structure(rt_impl *im, gsl_rng *r)
{
    const fs_ratings_cfg *c = &im->cfg;
    size_t n = c->n_items, L = c->latent_dim;
    im->item_bias = malloc(n * sizeof *im->item_bias);
    im->item_f = malloc((n * L > 0 ? n * L : 1) * sizeof *im->item_f);
    double *w = malloc(n * sizeof *w);
    if (!im->item_bias || !im->item_f || !w) goto nomem;
    im->factor_sd = L ? pow(RT_SD_DOT * RT_SD_DOT / (double)L, 0.25) : 0.0;
    fs_rng_reseed(r, c->seed, FS_RNG_DATA, FS_RNG_NONE, RT_SUB_STRUCTURE);
    for (size_t i = 0; i < n; i++)
        im->item_bias[i] = RT_SD_ITEM_BIAS * gsl_ran_ugaussian(r);
    for (size_t i = 0; i < n * L; i++)
        im->item_f[i] = im->factor_sd * gsl_ran_ugaussian(r);
    for (size_t i = 0; i < n; i++)
        w[i] = pow((double)(i + 1), -c->popularity_s);
    if (!(im->pop = gsl_ran_discrete_preproc(n, w))) goto nomem;
    free(w);
    return FS_OK;
nomem:
    free(w);
    return FS_ENOMEM;
}

static void rt_free(fs_gen *g)
{
    rt_impl *im = g->impl;
    if (im) {
        free(im->item_bias);
        free(im->item_f);
        if (im->pop) gsl_ran_discrete_free(im->pop);
        free(im);
    }
    free(g);
}

/* A small open-addressing set of the items a user has rated (Fibonacci hashing). */
typedef struct rt_set {
    uint32_t *slot;
    size_t mask;
} rt_set;

/* Slots for n items: a power of two at least 2n (at least 16). */
static size_t rt_set_cap(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

static void rt_set_init(rt_set *s, uint32_t *slot, size_t cap)
{
    s->slot = slot;
    s->mask = cap - 1;
    memset(s->slot, 0xff, cap * sizeof *s->slot); /* RT_EMPTY everywhere */
}

/* Inserts item; false when it was already there. */
static bool rt_set_add(rt_set *s, uint32_t item)
{
    size_t h = (size_t)((item * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & s->mask;
    for (; s->slot[h] != RT_EMPTY; h = (h + 1) & s->mask)
        if (s->slot[h] == item) return false;
    s->slot[h] = item;
    return true;
}

/* The next item not yet rated: a Zipf draw among unrated items, by rejection (exactly successive
 * sampling without replacement). After 32 n + 1024 draws in total, which only a user rating
 * most of a steep catalogue reaches, the most popular unrated ids are taken in order. */
static uint32_t rt_next_item(const rt_impl *im, gsl_rng *r, rt_set *s, size_t *draws, size_t limit,
                             uint32_t *cursor)
{
    while (*draws < limit) {
        ++*draws;
        uint32_t item = (uint32_t)gsl_ran_discrete(r, im->pop);
        if (rt_set_add(s, item)) return item;
    }
    while (!rt_set_add(s, *cursor))
        ++*cursor;
    return *cursor;
}

/* Ratings per user: round(lognormal(mu, sigma)), 1 .. n_items (items are distinct). */
static size_t rt_count(gsl_rng *r, const fs_ratings_cfg *c)
{
    double cap = (double)c->n_items < RT_MAX_ROWS ? (double)c->n_items : RT_MAX_ROWS;
    double x = round(gsl_ran_lognormal(r, c->activity_mu, c->activity_sigma));
    return x < 1 ? 1 : x > cap ? (size_t)cap : (size_t)x;
}

/* Dataset `which` of s: n rows, group "user" (levels 0 .. k: the id grows with the client). */
static int rt_alloc(const fs_gen *g, uint64_t k, fs_gen_scratch *s, int which, size_t n)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    size_t gi = 0, levels = (size_t)(uint32_t)k + 1;
    int rc = fs_gen_reserve_sparse(s, which, n, g->d, n, 0);
    if (rc == FS_OK && !ds->n_groups && (rc = fs_gen_add_group(s, which, "user", levels, &gi)))
        fs_gen_scratch_drop(s, which);
    if (rc != FS_OK) return rc;
    ds->groups[gi].n_levels = levels;
    for (size_t i = 0; i < n; i++)
        ds->groups[gi].level[i] = (uint32_t)k;
    return FS_OK;
}

/* rating = clamp(mu + b_u + b_i + p_u . q_i + noise, 1, 5) into row `row`. */
static void rt_row(const rt_impl *im, gsl_rng *r, double b_u, const double *p_u, uint32_t item,
                   fs_dataset *ds, size_t row)
{
    size_t L = im->cfg.latent_dim;
    const double *q = im->item_f + (size_t)item * L;
    double dot = 0;
    for (size_t j = 0; j < L; j++)
        dot += p_u[j] * q[j];
    double v = RT_MU + b_u + im->item_bias[item] + dot + im->cfg.noise_sigma * gsl_ran_ugaussian(r);
    ds->target[row] = (float)(v < 1 ? 1 : v > 5 ? 5 : v);
    ds->idx[row] = item;
    ds->val[row] = 1.0f;
    ds->ptr[row + 1] = row + 1;
}

static int rt_client_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    const rt_impl *im = g->impl;
    const fs_ratings_cfg *c = &im->cfg;
    if (!s->rng && !(s->rng = fs_rng_new())) goto nomem;
    gsl_rng *r = s->rng;
    fs_rng_reseed(r, c->seed, FS_RNG_DATA, k, FS_RNG_NONE);
    size_t n = rt_count(r, c);
    double n_round = round((1 - c->test_fraction) * (double)n);
    size_t n_tr = n_round < 1 ? 1 : n_round > (double)n ? n : (size_t)n_round;
    size_t cap = rt_set_cap(n), L = c->latent_dim;
    /* the user's factors, then the set's slots */
    double *p_u = fs_gen_scratch_aux(s, L * sizeof *p_u + cap * sizeof(uint32_t));
    if (!p_u) goto nomem;
    double b_u = RT_SD_USER_BIAS * gsl_ran_ugaussian(r);
    for (size_t j = 0; j < L; j++)
        p_u[j] = im->factor_sd * gsl_ran_ugaussian(r);
    rt_set seen;
    rt_set_init(&seen, (uint32_t *)(p_u + L), cap);
    if (rt_alloc(g, k, s, 0, n_tr) || rt_alloc(g, k, s, 1, n - n_tr)) goto nomem;
    size_t draws = 0, limit = 32 * n + 1024;
    uint32_t cursor = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t item = rt_next_item(im, r, &seen, &draws, limit, &cursor);
        rt_row(im, r, b_u, p_u, item, i < n_tr ? &s->train : &s->test, i < n_tr ? i : i - n_tr);
    }
    return FS_OK;
nomem:
    fs_err_add(err, "ratings", "out of memory generating client %llu", (unsigned long long)k);
    return FS_ENOMEM;
}

static const fs_gen_ops rt_ops = {
    .client = fs_gen_client_fresh, .client_into = rt_client_into, .free = rt_free};

fs_gen *fs_gen_ratings_new(const fs_ratings_cfg *cfg, fs_err *err)
{
    if (rt_check(cfg, err) != FS_OK) return NULL;
    fs_gen *g = calloc(1, sizeof *g);
    rt_impl *im = calloc(1, sizeof *im);
    gsl_rng *r = fs_rng_new();
    if (!g || !im || !r) goto fail;
    *g = (fs_gen){.ops = &rt_ops,
                  .name = "ratings",
                  .d = cfg->n_items,
                  .n_classes = 0,
                  .sparse = true,
                  .seed = cfg->seed,
                  .impl = im};
    im->cfg = *cfg;
    if (rt_structure(im, r)) goto fail;
    gsl_rng_free(r);
    return g;
fail:
    fs_err_add(err, "ratings", "out of memory building the generator");
    if (r) gsl_rng_free(r);
    if (g && im)
        rt_free(g);
    else
        free(g), free(im);
    return NULL;
}
