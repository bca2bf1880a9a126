/* fs_gen: procedural data generators. A generator produces client k's training and test rows
 * from (seed, k) alone, byte-identical whatever order clients are generated in and however many
 * there are, so a population of a million clients needs no stored data. Each generator is a
 * documented generative model (scenarios/README.md, "Data generators"). The configurations have
 * no defaults here: a scenario's data.<source> keys fill them (fs_world_*_cfg), so the schema
 * (sim/scenario/fs_scn_tables.c) is the only place a default lives. */
#ifndef FS_GEN_H
#define FS_GEN_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_data.h"
#include "fs_err.h"

typedef struct fs_gen fs_gen;

/* Bounds of the generators' parameters, shared with the scenario schema so that a scenario that
 * validates is one the generators accept. */
#define FS_GEN_MAX_MU 20.0    /* |lognormal mu| of impressions, transactions, ratings per client */
#define FS_GEN_MAX_SIGMA 10.0 /* lognormal sigmas, shifts, noise and popularity exponents */
#define FS_FRAUD_MAX_RATE 0.5 /* fraud_rate in (0, 0.5]: fraud stays the rare class */
#define FS_FRAUD_N_DENSE 5    /* fraud's features before the one-hot blocks (see below) */
#define FS_RATINGS_MAX_FACTORS (1u << 28) /* n_items x latent_dim: 2 GB of item factors */

/* One thread's room for one client's datasets at a time (data.on_demand): the arrays grow to the
 * largest client seen and are reused for the next, so a warm scratch generates a client without
 * allocating. Zero-initialise; release with fs_gen_scratch_fini. */
typedef struct fs_gen_scratch {
    fs_dataset train, test;
    size_t cap_rows[2], cap_nnz[2]; /* room of train [0] and test [1] */
    gsl_rng *rng;                   /* the client streams' generator, made at first use */
    void *aux;                      /* a generator's per-client working memory */
    size_t aux_size;
} fs_gen_scratch;

/* What the population needs of a client without its rows: the on-demand counting pass. */
typedef struct fs_gen_sizes {
    size_t n_train, n_test;
    size_t nnz_train;                   /* non-zeros of the training rows (n_train * d if dense) */
    uint32_t level[FS_DATA_MAX_GROUPS]; /* each group's level on the first training row */
} fs_gen_sizes;

typedef struct fs_gen_ops {
    /* Client k's rows into out_train and out_test (fresh datasets, freed by the caller), with the
     * generator's group columns filled. */
    int (*client)(const fs_gen *g, uint64_t k, fs_dataset *out_train, fs_dataset *out_test,
                  fs_err *err);
    /* Optional: the same rows into s->train and s->test, reusing their arrays. */
    int (*client_into)(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err);
    /* Optional, with client_into: the training rows alone (s->test left with none), for a
     * generator whose test rows come last in the client's stream: local training never reads
     * them, and at the default test_fraction they are a fifth of the draws. */
    int (*train_into)(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err);
    /* Optional: client k's sizes without writing its rows (same values as generating it). */
    int (*sizes)(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out);
    /* Optional, with sizes: the same but nnz_train (FS_GEN_NNZ_LATER), when it is most of the
     * cost (every training row's features drawn): wanted only for the clients that train. */
    int (*heads)(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out);
    void (*free)(fs_gen *g);
} fs_gen_ops;

struct fs_gen {
    const fs_gen_ops *ops;
    const char *name;
    size_t d;          /* feature-space size */
    int n_classes;     /* 2 for click/fraud; 0 for ratings (regression) */
    bool sparse;
    uint64_t seed;
    void *impl;
};

/* Marketing clicks/conversions: one client = one user (a phone or browser) with a region, device
 * type, age band and interest segments; the user sees lognormal(exposure_mu, exposure_sigma)
 * impressions of campaigns (each with a category and creative); click ~ Bernoulli(sigmoid(
 * logit(base_rate) + user x ad affinity + region-specific category shift)). Features are hashed
 * into 2^hash_bits buckets (user, ad and cross features; sparse rows). Groups: region, device,
 * age_band. */
typedef struct fs_marketing_cfg {
    uint64_t seed;
    size_t n_regions, n_devices, n_age_bands, n_interests, n_campaigns, n_categories;
    unsigned hash_bits;
    double base_rate;          /* overall positive rate, e.g. 0.02 */
    double exposure_mu, exposure_sigma;
    double region_shift;       /* std of the per-region category shift (concept shift) */
    double test_fraction;
} fs_marketing_cfg;
fs_gen *fs_gen_marketing_new(const fs_marketing_cfg *cfg, fs_err *err);
/* How the marketing generator places a row's features: vector compares in 16 lanes (AVX-512) or
 * in two 8-lane halves (AVX2), or a scalar rank sort and merge; the rows are the same either
 * way. By default the fastest the CPU has (FS_MK_PLACE_BEST). For tests, which check every
 * path: false (nothing changed) when this CPU lacks it. */
typedef enum {
    FS_MK_PLACE_BEST,
    FS_MK_PLACE_SCALAR,
    FS_MK_PLACE_AVX2,
    FS_MK_PLACE_AVX512
} fs_mk_place;
bool fs_gen_marketing_use_place(fs_mk_place path);
/* The levels of the marketing group column `group` ("region", "device", "age_band"; 0 for
 * another name) and the name of level i of it (as the generated data name them). */
size_t fs_gen_marketing_levels(const fs_marketing_cfg *c, const char *group);
void fs_gen_marketing_level_name(const fs_marketing_cfg *c, const char *group, size_t i,
                                 char *buf, size_t n);

/* Fraud: one client = one card holder (or store) with lognormal(tx_mu, tx_sigma) transactions;
 * dense features (log amount, hour of day as sin/cos, merchant category one-hot, distance from
 * home, velocity); rare positives at fraud_rate, whose pattern differs by segment (card-present
 * vs online vs cross-border). Group: segment. */
typedef struct fs_fraud_cfg {
    uint64_t seed;
    size_t n_segments, n_merchant_categories;
    double fraud_rate;         /* 0.001 .. 0.02 */
    double tx_mu, tx_sigma;
    double test_fraction;
} fs_fraud_cfg;
fs_gen *fs_gen_fraud_new(const fs_fraud_cfg *cfg, fs_err *err);
/* The name of fraud segment (channel) s: the templates' names, then "segment_<s>". */
void fs_gen_fraud_segment_name(size_t s, char *buf, size_t n);

/* Ratings: one client = one user; items have latent factors and Zipf(popularity_s) popularity;
 * user k rates lognormal(activity_mu, activity_sigma) distinct items, rating = clamp(mu + b_u +
 * b_i + p_u . q_i + noise, 1, 5). Rows are sparse one-hot items (d = n_items), target = rating;
 * group "user" (level = client id mod 2^32). */
typedef struct fs_ratings_cfg {
    uint64_t seed;
    size_t n_items, latent_dim;
    double popularity_s, activity_mu, activity_sigma, noise_sigma;
    double test_fraction;
} fs_ratings_cfg;
fs_gen *fs_gen_ratings_new(const fs_ratings_cfg *cfg, fs_err *err);

void fs_gen_free(fs_gen *g); /* NULL is a no-op */

/* Client k's rows into s->train and s->test (valid until the next call on s): through the
 * generator's client_into when it has one, else a fresh client replacing the previous one. */
int fs_gen_client_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err);

/* Client k's training rows into s->train, the same as fs_gen_client_into's; s->test may be left
 * empty (the generator's train_into) or not. */
int fs_gen_client_train_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err);

/* Client k's sizes (its sizes op, else generated into s and measured). Group levels are
 * UINT32_MAX when the client has no training row. */
int fs_gen_client_sizes(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out);

/* fs_gen_client_sizes, except that nnz_train may be left FS_GEN_NNZ_LATER (the generator's heads
 * op): fs_gen_client_sizes then gives it when it is needed. */
#define FS_GEN_NNZ_LATER SIZE_MAX
int fs_gen_client_heads(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out);

void fs_gen_scratch_fini(fs_gen_scratch *s);

/* For generators: shapes s's train (which = 0) or test (1) dataset as a sparse one of n rows with
 * room for nnz non-zeros, reusing its arrays and group columns (levels grown to n). Only ptr[0]
 * is set; the generator writes every row. On FS_ENOMEM the dataset keeps its old arrays. */
int fs_gen_reserve_sparse(fs_gen_scratch *s, int which, size_t n, size_t d, size_t nnz,
                          int n_classes);

/* The same for a dense dataset of n rows of d features, all zero. */
int fs_gen_reserve_dense(fs_gen_scratch *s, int which, size_t n, size_t d, int n_classes);

/* fs_dataset_add_group on s's dataset `which`, its levels as long as the rows' room (a reserve
 * that failed after growing the rows leaves more room than rows). */
int fs_gen_add_group(fs_gen_scratch *s, int which, const char *name, size_t n_levels,
                     size_t *out_index);

/* Frees s's dataset `which` and its room, for a generator that failed half-way through adding its
 * group columns: the next client starts from nothing rather than from columns missing or shorter
 * than the rows' room. */
void fs_gen_scratch_drop(fs_gen_scratch *s, int which);

/* At least `bytes` of s's working memory (aligned as malloc's), or NULL when out of memory. */
void *fs_gen_scratch_aux(fs_gen_scratch *s, size_t bytes);

/* A generator's `client` op through its client_into: a scratch of the client's own, handed over
 * as fresh datasets (their arrays exactly the client's size). */
int fs_gen_client_fresh(const fs_gen *g, uint64_t k, fs_dataset *out_train, fs_dataset *out_test,
                        fs_err *err);

/* Generates clients 0..n_clients-1 and concatenates them (train rows of client k contiguous,
 * partitions filled), using up to n_threads threads; identical output for any n_threads. */
int fs_gen_materialize(const fs_gen *g, size_t n_clients, int n_threads, fs_dataset *train,
                       fs_partition *train_part, fs_dataset *test, fs_partition *test_part,
                       fs_err *err);

#endif
