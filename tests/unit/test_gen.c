/* test_gen: the procedural generators (marketing, fraud, ratings) and fs_gen_materialize:
 * per-client determinism whatever the order or thread count, calibrated class rates, lognormal
 * row counts, group columns, the documented feature hashing, concept shift, segment patterns,
 * Zipf popularity, and learnability by a small logistic regression written here. */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"
#include "fs_rng.h"
#include "fs_test.h"
#include "fs_test_scn.h"

enum { MARKETING, FRAUD, RATINGS, N_KINDS };

static fs_gen *make_gen(int kind, uint64_t seed)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_gen *g = NULL;
    if (kind == MARKETING) {
        fs_marketing_cfg c;
        fs_test_marketing_cfg(seed, &c);
        g = fs_gen_marketing_new(&c, &err);
    } else if (kind == FRAUD) {
        fs_fraud_cfg c;
        fs_test_fraud_cfg(seed, &c);
        g = fs_gen_fraud_new(&c, &err);
    } else {
        fs_ratings_cfg c;
        fs_test_ratings_cfg(seed, &c);
        g = fs_gen_ratings_new(&c, &err);
    }
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(err.n_msgs, 0);
    return g;
}

/* A materialized population: train and test with their partitions. */
typedef struct pop {
    fs_dataset tr, te;
    fs_partition ptr, pte;
} pop;

static void pop_make(const fs_gen *g, size_t n_clients, int n_threads, pop *p)
{
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(
        fs_gen_materialize(g, n_clients, n_threads, &p->tr, &p->ptr, &p->te, &p->pte, &err), FS_OK);
    ck_assert_uint_eq(p->ptr.n_clients, n_clients);
    ck_assert_uint_eq(p->ptr.offset[n_clients], p->tr.n);
    ck_assert_uint_eq(p->pte.offset[n_clients], p->te.n);
}

static void pop_free(pop *p)
{
    fs_dataset_fini(&p->tr);
    fs_dataset_fini(&p->te);
    fs_partition_fini(&p->ptr);
    fs_partition_fini(&p->pte);
}

/* Byte comparison of rows a[a0 .. a0+n) and b[b0 .. b0+n): features, labels or targets, group
 * levels, group names and level names. */
static void same_rows(const fs_dataset *a, size_t a0, const fs_dataset *b, size_t b0, size_t n)
{
    ck_assert_uint_eq(a->d, b->d);
    ck_assert_int_eq(fs_dataset_is_sparse(a), fs_dataset_is_sparse(b));
    if (fs_dataset_is_sparse(a)) {
        for (size_t i = 0; i < n; i++) {
            size_t na = a->ptr[a0 + i + 1] - a->ptr[a0 + i],
                   nb = b->ptr[b0 + i + 1] - b->ptr[b0 + i];
            ck_assert_uint_eq(na, nb);
            ck_assert(!memcmp(a->idx + a->ptr[a0 + i], b->idx + b->ptr[b0 + i], na * 4));
            ck_assert(!memcmp(a->val + a->ptr[a0 + i], b->val + b->ptr[b0 + i], na * 4));
        }
    } else if (n) {
        ck_assert(!memcmp(a->x + a0 * a->d, b->x + b0 * b->d, n * a->d * sizeof(float)));
    }
    if (a->y && n) ck_assert(!memcmp(a->y + a0, b->y + b0, n * sizeof *a->y));
    if (a->target && n) ck_assert(!memcmp(a->target + a0, b->target + b0, n * sizeof(float)));
    ck_assert_uint_eq(a->n_groups, b->n_groups);
    for (size_t j = 0; j < a->n_groups; j++) {
        const fs_group *ga = &a->groups[j], *gb = &b->groups[j];
        ck_assert_str_eq(ga->name, gb->name);
        if (n) ck_assert(!memcmp(ga->level + a0, gb->level + b0, n * sizeof *ga->level));
        ck_assert_int_eq(ga->level_names != NULL, gb->level_names != NULL);
        size_t nl = ga->n_levels < gb->n_levels ? ga->n_levels : gb->n_levels;
        for (size_t l = 0; ga->level_names && l < nl; l++)
            ck_assert_str_eq(ga->level_names[l], gb->level_names[l]);
    }
}

/* Client k alone, in reverse order, and inside fs_gen_materialize with 1, 2 and 3 threads over
 * 5000 clients (two chunks of parallel generation): all byte-identical. */
static void check_determinism(int kind)
{
    enum { N = 40, BIG = 5000 };
    fs_gen *g = make_gen(kind, 7);
    static const uint64_t ids[N] = {0,    1,    2,    3,    4,    5,    6,    7,    8,    9,
                                    10,   11,   12,   13,   14,   15,   16,   17,   18,   19,
                                    4090, 4091, 4092, 4093, 4094, 4095, 4096, 4097, 4098, 4099,
                                    4100, 4101, 4102, 4999, 2500, 1234, 3333, 777,  4444, 99};
    fs_dataset tr[N], te[N];
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(g->ops->client(g, ids[i], &tr[i], &te[i], NULL), 0);
    for (int i = N - 1; i >= 0; i--) {
        fs_dataset a, b;
        ck_assert_int_eq(g->ops->client(g, ids[i], &a, &b, NULL), FS_OK);
        ck_assert_uint_eq(a.n, tr[i].n);
        ck_assert_uint_eq(b.n, te[i].n);
        same_rows(&a, 0, &tr[i], 0, a.n);
        same_rows(&b, 0, &te[i], 0, b.n);
        fs_dataset_fini(&a);
        fs_dataset_fini(&b);
    }
    pop p1, p2, p3;
    pop_make(g, BIG, 1, &p1);
    pop_make(g, BIG, 2, &p2);
    pop_make(g, BIG, 3, &p3); /* an odd split of each chunk's clients */
    ck_assert_uint_eq(p1.tr.n, p3.tr.n);
    ck_assert_uint_eq(p1.te.n, p3.te.n);
    same_rows(&p1.tr, 0, &p3.tr, 0, p1.tr.n);
    same_rows(&p1.te, 0, &p3.te, 0, p1.te.n);
    ck_assert(!memcmp(p1.ptr.offset, p3.ptr.offset, (BIG + 1) * sizeof(size_t)));
    ck_assert(!memcmp(p1.pte.offset, p3.pte.offset, (BIG + 1) * sizeof(size_t)));
    pop_free(&p3);
    ck_assert_uint_eq(p1.tr.n, p2.tr.n);
    ck_assert_uint_eq(p1.te.n, p2.te.n);
    same_rows(&p1.tr, 0, &p2.tr, 0, p1.tr.n);
    same_rows(&p1.te, 0, &p2.te, 0, p1.te.n);
    ck_assert(!memcmp(p1.ptr.offset, p2.ptr.offset, (BIG + 1) * sizeof(size_t)));
    for (int i = 0; i < N; i++) {
        ck_assert_uint_eq(fs_partition_size(&p2.ptr, ids[i]), tr[i].n);
        ck_assert_uint_eq(fs_partition_size(&p2.pte, ids[i]), te[i].n);
        same_rows(&p2.tr, p2.ptr.offset[ids[i]], &tr[i], 0, tr[i].n);
        same_rows(&p2.te, p2.pte.offset[ids[i]], &te[i], 0, te[i].n);
        fs_dataset_fini(&tr[i]);
        fs_dataset_fini(&te[i]);
    }
    pop_free(&p1);
    pop_free(&p2);
    fs_gen_free(g);
}

START_TEST(gen_client_identical_alone_reordered_and_materialized)
{
    for (int kind = 0; kind < N_KINDS; kind++)
        check_determinism(kind);
}
END_TEST

/* FNV-1a over a client's rows as generated: sizes, indices, values' bits, labels, levels. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t rows_fingerprint(uint64_t h, const fs_dataset *ds)
{
    h = fnv(h, &ds->n, sizeof ds->n);
    h = fnv(h, ds->ptr, (ds->n + 1) * sizeof *ds->ptr);
    h = fnv(h, ds->idx, ds->ptr[ds->n] * sizeof *ds->idx);
    h = fnv(h, ds->val, ds->ptr[ds->n] * sizeof *ds->val);
    h = fnv(h, ds->y, ds->n * sizeof *ds->y);
    for (size_t g = 0; g < ds->n_groups; g++)
        h = fnv(h, ds->groups[g].level, ds->n * sizeof(uint32_t));
    return h;
}

static uint64_t marketing_fingerprint(const fs_marketing_cfg *c, size_t n_clients)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_gen *g = fs_gen_marketing_new(c, &err);
    ck_assert_ptr_nonnull(g);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < n_clients; k++) {
        fs_dataset tr, te;
        ck_assert_int_eq(g->ops->client(g, k, &tr, &te, NULL), FS_OK);
        h = rows_fingerprint(rows_fingerprint(h, &tr), &te);
        fs_dataset_fini(&tr);
        fs_dataset_fini(&te);
    }
    fs_gen_free(g);
    return h;
}

START_TEST(marketing_rows_are_those_of_the_reference_generator)
{
    /* fingerprints of the rows the generator made before its fast paths (hash tables, merged
     * rows; computed at commit 6ff9caf): with the default shape, with 2^8 buckets (a hash collision
     * in most rows) and with more interest x category pairs than a hash table holds (hashed on the
     * spot) */
    /* every way of placing a row's features this CPU has: AVX-512 or AVX2 compares, and the
     * scalar rank sort and merge */
    const fs_mk_place paths[] = {FS_MK_PLACE_AVX512, FS_MK_PLACE_AVX2, FS_MK_PLACE_SCALAR};
    int tried = 0;
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
        if (!fs_gen_marketing_use_place(paths[k])) continue;
        tried++;
        fs_marketing_cfg c;
        fs_test_marketing_cfg(7, &c);
        uint64_t a = marketing_fingerprint(&c, 3000);
        c.hash_bits = 8;
        uint64_t b = marketing_fingerprint(&c, 3000);
        fs_test_marketing_cfg(7, &c);
        c.n_interests = 2100, c.n_categories = 2000, c.hash_bits = 12;
        uint64_t d = marketing_fingerprint(&c, 300);
        ck_assert_uint_eq(a, 0x9b938961bf3a9ad7ULL);
        ck_assert_uint_eq(b, 0x3c3b511a6e809bddULL);
        ck_assert_uint_eq(d, 0x4a8b7a4ed0358bb9ULL);
    }
    ck_assert(fs_gen_marketing_use_place(FS_MK_PLACE_BEST));
    ck_assert_int_ge(tried, __builtin_cpu_supports("avx2") ? 2 : 1);
}
END_TEST

/* One scratch reused for clients of growing and shrinking sizes gives each its fresh rows, and
 * fs_gen_client_sizes (the generator's sizes op, or the generic measure) says what they hold;
 * fs_gen_client_heads says the same but may leave out the non-zeros. */
static void check_scratch_and_sizes(const fs_gen *g, size_t n_clients)
{
    fs_gen_scratch s = {0};
    for (size_t i = 0; i < n_clients; i++) {
        uint64_t k = i % 2 ? n_clients - i : i; /* interleaved from both ends */
        fs_dataset tr, te;
        ck_assert_int_eq(g->ops->client(g, k, &tr, &te, NULL), FS_OK);
        fs_gen_sizes z;
        ck_assert_int_eq(fs_gen_client_sizes(g, k, &s, &z), FS_OK);
        ck_assert_uint_eq(z.n_train, tr.n);
        ck_assert_uint_eq(z.n_test, te.n);
        ck_assert_uint_eq(z.nnz_train, (tr.ptr ? tr.ptr[tr.n] : tr.n * tr.d));
        for (size_t j = 0; j < tr.n_groups; j++)
            ck_assert_uint_eq(z.level[j], tr.n ? tr.groups[j].level[0] : UINT32_MAX);
        /* the counting pass's heads: the same, the non-zeros possibly left for later */
        fs_gen_sizes h;
        ck_assert_int_eq(fs_gen_client_heads(g, k, &s, &h), FS_OK);
        ck_assert_uint_eq(h.n_train, z.n_train);
        ck_assert_uint_eq(h.n_test, z.n_test);
        ck_assert(h.nnz_train == z.nnz_train ||
                  (g->ops->heads && h.nnz_train == FS_GEN_NNZ_LATER));
        ck_assert_mem_eq(h.level, z.level, sizeof h.level);
        ck_assert_int_eq(fs_gen_client_into(g, k, &s, NULL), FS_OK);
        ck_assert_uint_eq(s.train.n, tr.n);
        ck_assert_uint_eq(s.test.n, te.n);
        same_rows(&s.train, 0, &tr, 0, tr.n);
        same_rows(&s.test, 0, &te, 0, te.n);
        /* the training rows alone (what local training asks for): the same rows, alternating
         * with whole clients on one scratch */
        ck_assert_int_eq(fs_gen_client_train_into(g, k, &s, NULL), FS_OK);
        ck_assert_uint_eq(s.train.n, tr.n);
        ck_assert(s.test.n == te.n || (g->ops->train_into && s.test.n == 0));
        same_rows(&s.train, 0, &tr, 0, tr.n);
        fs_dataset_fini(&tr);
        fs_dataset_fini(&te);
    }
    fs_gen_scratch_fini(&s);
}

START_TEST(gen_scratch_reused_and_sizes_match_the_rows)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        fs_gen *g = make_gen(kind, 11);
        check_scratch_and_sizes(g, 400);
        fs_gen_free(g);
    }
    fs_marketing_cfg c; /* collisions in most rows: the sizes op's exact count */
    fs_test_marketing_cfg(11, &c);
    c.hash_bits = 8;
    fs_err err;
    fs_err_init(&err, NULL);
    fs_gen *g = fs_gen_marketing_new(&c, &err);
    check_scratch_and_sizes(g, 400);
    fs_gen_free(g);
}
END_TEST

static double positive_rate(const pop *p)
{
    size_t pos = 0;
    for (size_t i = 0; i < p->tr.n; i++)
        pos += p->tr.y[i] == 1;
    for (size_t i = 0; i < p->te.n; i++)
        pos += p->te.y[i] == 1;
    return (double)pos / (double)(p->tr.n + p->te.n);
}

START_TEST(gen_positive_rates_match_base_and_fraud_rates)
{
    pop p;
    fs_gen *g = make_gen(MARKETING, 11);
    pop_make(g, 2000, 2, &p);
    double mk = positive_rate(&p);
    printf("marketing click rate over 2000 clients (%zu rows): %.5f (base_rate 0.02)\n",
           p.tr.n + p.te.n, mk);
    ck_assert_double_eq_tol(mk, 0.02, 0.0035);
    pop_free(&p);
    fs_gen_free(g);
    g = make_gen(FRAUD, 11);
    pop_make(g, 10000, 2, &p);
    double fr = positive_rate(&p);
    printf("fraud rate over 10000 clients (%zu rows): %.5f (fraud_rate 0.01)\n", p.tr.n + p.te.n,
           fr);
    ck_assert_double_eq_tol(fr, 0.01, 0.0015);
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

/* Client sizes are round(lognormal(mu, sigma)) >= 1: mean and sd of log sizes match, and the
 * split is max(1, round((1 - test_fraction) n)) train rows. */
static void check_counts(int kind, double mu, double sigma)
{
    enum { N = 3000 };
    fs_gen *g = make_gen(kind, 5 + (uint64_t)kind); /* same seed: same first draw */
    pop p;
    pop_make(g, N, 2, &p);
    double s = 0, s2 = 0;
    for (size_t k = 0; k < N; k++) {
        size_t ntr = fs_partition_size(&p.ptr, k), n = ntr + fs_partition_size(&p.pte, k);
        ck_assert_uint_ge(ntr, 1);
        double want = round(0.8 * (double)n);
        ck_assert_uint_eq(ntr, want < 1 ? 1 : (size_t)want);
        s += log((double)n);
        s2 += log((double)n) * log((double)n);
    }
    double mean = s / N, sd = sqrt(s2 / N - mean * mean);
    printf("%s: mean log count %.3f (mu %.2f), sd %.3f (sigma %.2f)\n", g->name, mean, mu, sd,
           sigma);
    ck_assert_double_eq_tol(mean, mu, 0.08);
    ck_assert_double_eq_tol(sd, sigma, 0.08);
    pop_free(&p);
    fs_gen_free(g);
}

START_TEST(gen_counts_follow_their_lognormal)
{
    check_counts(MARKETING, 3.0, 1.0);
    check_counts(FRAUD, 3.0, 1.0);
    check_counts(RATINGS, 3.0, 1.0);
}
END_TEST

static void check_groups(const fs_dataset *ds, const char *const *names, size_t n_names)
{
    ck_assert_uint_eq(ds->n_groups, n_names);
    for (size_t j = 0; j < n_names; j++) {
        const fs_group *gr = &ds->groups[j];
        ck_assert_str_eq(gr->name, names[j]);
        for (size_t i = 0; i < ds->n; i++)
            ck_assert_uint_lt(gr->level[i], gr->n_levels);
        if (!strcmp(gr->name, "user")) continue; /* ratings users print as numbers */
        ck_assert_ptr_nonnull(gr->level_names);
        for (size_t l = 0; l < gr->n_levels; l++)
            ck_assert_uint_gt(strlen(gr->level_names[l]), 0);
    }
}

START_TEST(gen_groups_in_range_with_names)
{
    static const char *const mk[] = {"region", "device", "age_band"};
    static const char *const fr[] = {"segment"};
    static const char *const rt[] = {"user"};
    pop p;
    fs_gen *g = make_gen(MARKETING, 3);
    pop_make(g, 500, 2, &p);
    check_groups(&p.tr, mk, 3);
    check_groups(&p.te, mk, 3);
    ck_assert_str_eq(p.tr.groups[1].level_names[0], "android");
    ck_assert_str_eq(p.tr.groups[2].level_names[5], "65+");
    pop_free(&p);
    fs_gen_free(g);
    g = make_gen(FRAUD, 3);
    pop_make(g, 500, 2, &p);
    check_groups(&p.tr, fr, 1);
    ck_assert_str_eq(p.tr.groups[0].level_names[2], "cross_border");
    pop_free(&p);
    fs_gen_free(g);
    g = make_gen(RATINGS, 3);
    pop_make(g, 500, 2, &p);
    check_groups(&p.tr, rt, 1);
    ck_assert_uint_eq(p.tr.groups[0].n_levels, 500);
    for (size_t k = 0; k < 500; k++)
        for (size_t i = p.ptr.offset[k]; i < p.ptr.offset[k + 1]; i++)
            ck_assert_uint_eq(p.tr.groups[0].level[i], k);
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

START_TEST(marketing_indices_in_range_and_ascending)
{
    fs_gen *g = make_gen(MARKETING, 4);
    ck_assert_uint_eq(g->d, 1u << 18);
    ck_assert(g->sparse);
    pop p;
    pop_make(g, 1000, 2, &p);
    const fs_dataset *ds[2] = {&p.tr, &p.te};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < ds[s]->n; i++) {
            size_t a = ds[s]->ptr[i], b = ds[s]->ptr[i + 1];
            ck_assert_uint_ge(b - a, 11); /* 9 + 2m features, m >= 1, rare collisions */
            for (size_t j = a; j < b; j++) {
                ck_assert_uint_lt(ds[s]->idx[j], g->d);
                ck_assert(ds[s]->val[j] > 0);
                if (j > a) ck_assert_uint_lt(ds[s]->idx[j - 1], ds[s]->idx[j]);
            }
        }
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

/* The category feature's index as models/README.md documents it: SplitMix64 of
 * field << 56 | value << 28 (field 6 = category), top hash_bits bits. */
static uint32_t category_bucket(uint32_t c, unsigned bits)
{
    uint64_t s = (uint64_t)6 << 56 | (uint64_t)c << 28;
    return (uint32_t)(fs_splitmix64(&s) >> (64 - bits));
}

static bool row_has(const fs_dataset *ds, size_t i, uint32_t f)
{
    for (size_t j = ds->ptr[i]; j < ds->ptr[i + 1]; j++)
        if (ds->idx[j] == f) return true;
    return false;
}

static double logit(double p)
{
    return log(p / (1 - p));
}

/* Largest spread over regions, for any category, of the category's click log-odds relative to
 * its region's: zero in expectation without concept shift, whatever the region main effects. */
static double shift_spread(double region_shift)
{
    enum { R = 3, C = 4 };
    fs_marketing_cfg c;
    fs_test_marketing_cfg(0, &c);
    c.seed = 21, c.n_regions = R, c.n_categories = C, c.region_shift = region_shift;
    fs_gen *g = fs_gen_marketing_new(&c, NULL);
    pop p;
    pop_make(g, 12000, 2, &p);
    double rows[R][C + 1] = {{0}}, clicks[R][C + 1] = {{0}};
    for (size_t i = 0; i < p.tr.n; i++) {
        uint32_t r = p.tr.groups[0].level[i];
        rows[r][C]++, clicks[r][C] += p.tr.y[i];
        for (uint32_t k = 0; k < C; k++)
            if (row_has(&p.tr, i, category_bucket(k, c.hash_bits)))
                rows[r][k]++, clicks[r][k] += p.tr.y[i];
    }
    double best = 0;
    for (int k = 0; k < C; k++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int r = 0; r < R; r++) {
            ck_assert_double_gt(clicks[r][k], 20);
            double d = logit(clicks[r][k] / rows[r][k]) - logit(clicks[r][C] / rows[r][C]);
            lo = fmin(lo, d), hi = fmax(hi, d);
        }
        best = fmax(best, hi - lo);
    }
    pop_free(&p);
    fs_gen_free(g);
    return best;
}

START_TEST(marketing_concept_shift_is_real)
{
    double with = shift_spread(0.8), without = shift_spread(0.0);
    printf("marketing: largest regional spread of a category's relative click log-odds: "
           "%.3f with region_shift 0.8, %.3f without\n",
           with, without);
    ck_assert_double_gt(with, 0.8);
    ck_assert_double_lt(without, 0.45);
}
END_TEST

START_TEST(fraud_pattern_differs_by_segment)
{
    fs_gen *g = make_gen(FRAUD, 8);
    ck_assert_uint_eq(g->d, 5 + 12 + 3);
    ck_assert(!g->sparse);
    pop p;
    pop_make(g, 20000, 2, &p);
    double n[3] = {0}, nf[3] = {0}, amt_f[3] = {0}, amt_l[3] = {0};
    for (size_t i = 0; i < p.tr.n; i++) {
        uint32_t s = p.tr.groups[0].level[i];
        const float *x = p.tr.x + i * p.tr.d;
        ck_assert(x[17 + s] == 1.0f); /* segment one-hot matches the group column */
        n[s]++;
        if (p.tr.y[i])
            nf[s]++, amt_f[s] += x[0];
        else
            amt_l[s] += x[0];
    }
    double rate[3], mf[3], ml[3];
    for (int s = 0; s < 3; s++) {
        rate[s] = nf[s] / n[s], mf[s] = amt_f[s] / nf[s], ml[s] = amt_l[s] / (n[s] - nf[s]);
        printf("fraud segment %s: %.0f tx, fraud rate %.5f, mean log amount fraud %.2f legit "
               "%.2f\n",
               p.tr.groups[0].level_names[s], n[s], rate[s], mf[s], ml[s]);
    }
    ck_assert_double_gt(rate[1], 2.5 * rate[0]);   /* online riskier than card-present */
    ck_assert_double_gt(rate[2], 1.3 * rate[1]);   /* cross-border riskiest */
    ck_assert_double_gt(mf[2] - ml[2], 1.2);       /* cross-border fraud: large amounts */
    ck_assert_double_lt(fabs(mf[1] - ml[1]), 0.6); /* online fraud: amounts look normal */
    ck_assert_double_gt(mf[2] - mf[1], 1.5);
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

START_TEST(ratings_in_range_zipf_popular_and_distinct)
{
    fs_gen *g = make_gen(RATINGS, 9);
    ck_assert_int_eq(g->n_classes, 0);
    pop p;
    pop_make(g, 3000, 2, &p);
    size_t *count = calloc(g->d, sizeof *count), total = 0;
    char *seen = calloc(g->d, 1);
    const fs_dataset *ds[2] = {&p.tr, &p.te};
    const fs_partition *pt[2] = {&p.ptr, &p.pte};
    for (size_t k = 0; k < 3000; k++) {
        for (int s = 0; s < 2; s++)
            for (size_t i = pt[s]->offset[k]; i < pt[s]->offset[k + 1]; i++) {
                ck_assert_uint_eq(ds[s]->ptr[i + 1] - ds[s]->ptr[i], 1);
                uint32_t item = ds[s]->idx[ds[s]->ptr[i]];
                ck_assert(ds[s]->target[i] >= 1.0f && ds[s]->target[i] <= 5.0f);
                ck_assert_int_eq(seen[item], 0); /* a user rates an item once */
                seen[item] = 1, count[item]++, total++;
            }
        for (int s = 0; s < 2; s++) /* reset this user's marks */
            for (size_t i = pt[s]->offset[k]; i < pt[s]->offset[k + 1]; i++)
                seen[ds[s]->idx[ds[s]->ptr[i]]] = 0;
    }
    size_t top = 0;
    for (int i = 0; i < 10; i++)
        top += count[i]; /* item ids are in popularity order */
    printf("ratings: top-10 items hold %.1f%% of %zu ratings (uniform: 0.5%%)\n",
           100.0 * (double)top / (double)total, total);
    ck_assert_double_gt((double)top / (double)total, 0.10);
    ck_assert_uint_gt(count[0], count[99]);
    free(count);
    free(seen);
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

/* --- a small logistic regression, to show the features carry the signal --- */

static double lr_score(const fs_dataset *ds, size_t i, const double *w)
{
    double z = w[ds->d];
    if (ds->ptr)
        for (size_t j = ds->ptr[i]; j < ds->ptr[i + 1]; j++)
            z += ds->val[j] * w[ds->idx[j]];
    else
        for (size_t j = 0; j < ds->d; j++)
            z += ds->x[i * ds->d + j] * w[j];
    return z;
}

static void lr_step(const fs_dataset *ds, size_t i, double *w, double lr)
{
    double g = 1.0 / (1.0 + exp(-lr_score(ds, i, w))) - ds->y[i];
    w[ds->d] -= lr * g;
    if (ds->ptr)
        for (size_t j = ds->ptr[i]; j < ds->ptr[i + 1]; j++)
            w[ds->idx[j]] -= lr * g * ds->val[j];
    else
        for (size_t j = 0; j < ds->d; j++)
            w[j] -= lr * g * ds->x[i * ds->d + j];
}

typedef struct scored {
    double s;
    int y;
} scored;

static int by_score(const void *a, const void *b)
{
    double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    return (x > y) - (x < y);
}

/* AUC by the rank-sum (Mann-Whitney) formula with average ranks for ties. */
static double auc(scored *v, size_t n)
{
    qsort(v, n, sizeof *v, by_score);
    double rank_sum = 0, n_pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        for (size_t k = i; k < j; k++)
            if (v[k].y) rank_sum += 0.5 * (double)(i + j + 1), n_pos++;
        i = j;
    }
    double n_neg = (double)n - n_pos;
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

/* SGD in a fixed random order on the train rows, AUC on the test rows. */
static double lr_test_auc(const pop *p, int epochs, double lr)
{
    double *w = calloc(p->tr.d + 1, sizeof *w);
    uint32_t *order = malloc(p->tr.n * sizeof *order);
    for (size_t i = 0; i < p->tr.n; i++)
        order[i] = (uint32_t)i;
    gsl_rng *r = fs_rng_new();
    fs_rng_reseed(r, 1, FS_RNG_TRAIN, 0, 0);
    for (int e = 0; e < epochs; e++) {
        fs_rng_shuffle_u32(r, order, p->tr.n);
        for (size_t i = 0; i < p->tr.n; i++)
            lr_step(&p->tr, order[i], w, lr);
    }
    scored *v = malloc(p->te.n * sizeof *v);
    for (size_t i = 0; i < p->te.n; i++)
        v[i] = (scored){lr_score(&p->te, i, w), p->te.y[i]};
    double a = auc(v, p->te.n);
    free(v);
    free(order);
    free(w);
    gsl_rng_free(r);
    return a;
}

START_TEST(marketing_and_fraud_are_learnable)
{
    fs_gen *g = make_gen(MARKETING, 12);
    pop p;
    pop_make(g, 10000, 2, &p);
    double a_mk = lr_test_auc(&p, 3, 0.05);
    pop_free(&p);
    fs_gen_free(g);
    g = make_gen(FRAUD, 12);
    pop_make(g, 5000, 2, &p);
    double a_fr = lr_test_auc(&p, 3, 0.01);
    printf("logistic regression test AUC: marketing %.3f, fraud %.3f\n", a_mk, a_fr);
    ck_assert_double_gt(a_mk, 0.70);
    ck_assert_double_gt(a_fr, 0.90);
    pop_free(&p);
    fs_gen_free(g);
}
END_TEST

START_TEST(gen_rejects_bad_config_with_every_error)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_marketing_cfg m;
    fs_test_marketing_cfg(0, &m);
    m.hash_bits = 0, m.base_rate = 1.5, m.n_regions = 0;
    ck_assert_ptr_null(fs_gen_marketing_new(&m, &err));
    ck_assert_int_eq(err.n_msgs, 3);
    ck_assert_str_eq(err.msgs[0], "marketing.n_regions: expected 1 .. 16777216, found 0");
    ck_assert_str_eq(err.msgs[1], "marketing.hash_bits: expected 1 .. 32, found 0");
    ck_assert_str_eq(err.msgs[2], "marketing.base_rate: expected a rate in (0, 1), found 1.5");
    fs_err_clear(&err);
    fs_fraud_cfg f;
    fs_test_fraud_cfg(0, &f);
    f.fraud_rate = 0;
    ck_assert_ptr_null(fs_gen_fraud_new(&f, &err));
    ck_assert_str_eq(err.msgs[0], "fraud.fraud_rate: expected a rate in (0, 0.5], found 0");
    fs_err_clear(&err);
    fs_ratings_cfg r;
    fs_test_ratings_cfg(0, &r);
    r.n_items = 0, r.test_fraction = -1;
    ck_assert_ptr_null(fs_gen_ratings_new(&r, &err));
    ck_assert_int_eq(err.n_msgs, 2);
    fs_gen *g = make_gen(RATINGS, 1);
    fs_dataset a, b;
    fs_partition pa, pb;
    fs_err_clear(&err);
    ck_assert_int_eq(fs_gen_materialize(g, 0, 1, &a, &pa, &b, &pb, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "ratings: expected 1 .. 4294967295 clients, found 0");
    fs_gen_free(g);
    fs_gen_free(NULL);
}
END_TEST

static Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gen_client_identical_alone_reordered_and_materialized);
    tcase_add_test(tc, marketing_rows_are_those_of_the_reference_generator);
    tcase_add_test(tc, gen_scratch_reused_and_sizes_match_the_rows);
    tcase_add_test(tc, gen_positive_rates_match_base_and_fraud_rates);
    tcase_add_test(tc, gen_counts_follow_their_lognormal);
    tcase_add_test(tc, gen_groups_in_range_with_names);
    tcase_add_test(tc, marketing_indices_in_range_and_ascending);
    tcase_add_test(tc, marketing_concept_shift_is_real);
    tcase_add_test(tc, fraud_pattern_differs_by_segment);
    tcase_add_test(tc, ratings_in_range_zipf_popular_and_distinct);
    tcase_add_test(tc, marketing_and_fraud_are_learnable);
    tcase_add_test(tc, gen_rejects_bad_config_with_every_error);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(gen_suite)
