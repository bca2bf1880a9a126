/* fs_world: dataset loading/generation, partitioning and model construction per scenario.
 * Checks that need the data (label count, feature width, group names) happen here, before any
 * output file exists, and name the scenario key at fault. */
#include "fs_world.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"
#include "fs_load.h"
#include "fs_model_kinds.h"
#include "fs_rng.h"

/* Largest minibatch a model must accept: training batches and evaluation chunks. */
static size_t max_batch(const fs_scenario *s)
{
    return s->train.batch_size > 256 ? s->train.batch_size : 256;
}

/* ---- pooled sources: one dataset split over clients by a partitioner ---- */

static int load_fashion_mnist(fs_world *w, const fs_scenario *s, fs_err *err)
{
    char img[600], lab[600];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", s->data.path);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", s->data.path);
    int rc = fs_data_load_idx_u8(img, lab, s->data.train_samples, &w->train, err);
    if (rc) return rc;
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", s->data.path);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", s->data.path);
    /* compact rows: expanded once the model is known, unless it reads them (rows_for_model) */
    return fs_data_load_idx_u8(img, lab, s->data.test_samples, &w->test, err);
}

/* "~/x" means $HOME/x, so scenarios can name the tools/fetch-datasets cache portably. */
static const char *expand_home(const char *path, char *buf, size_t n)
{
    const char *home = getenv("HOME");
    if (strncmp(path, "~/", 2) || !home) return path;
    snprintf(buf, n, "%s/%s", home, path + 2);
    return buf;
}

static void names_view(const char (*names)[FS_SCN_NAME_LEN], size_t n, const char **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = names[i];
}

static int load_csv(fs_world *w, const fs_scenario *s, fs_err *err)
{
    const typeof(s->data.csv) *c = &s->data.csv;
    const char *features[FS_SCN_MAX_COLUMNS], *groups[FS_SCN_MAX_NAMES],
        *categorical[FS_SCN_MAX_COLUMNS];
    names_view(c->features, c->n_features, features);
    names_view(c->groups, c->n_groups, groups);
    names_view(c->categorical, c->n_categorical, categorical);
    fs_csv_opts o = {.label = c->label,
                     .features = c->n_features ? features : NULL,
                     .n_features = c->n_features,
                     .groups = groups,
                     .n_groups = c->n_groups,
                     .categorical = categorical,
                     .n_categorical = c->n_categorical,
                     .encoding = c->encoding == FS_ENC_HASH    ? FS_CAT_HASH
                                 : c->encoding == FS_ENC_INDEX ? FS_CAT_INDEX
                                                               : FS_CAT_ONEHOT,
                     .hash_buckets = c->hash_buckets,
                     .positive = c->positive[0] ? c->positive : NULL,
                     .regression = c->regression};
    fs_dataset all = {0};
    char buf[1024];
    const char *path = expand_home(c->path, buf, sizeof buf);
    int rc = fs_data_load_csv(path, &o, &all, err);
    if (!rc) rc = fs_dataset_split(&all, c->test_fraction, s->population_seed, &w->train, &w->test);
    if (!rc && c->standardize) rc = fs_dataset_standardize(&w->train, &w->test); /* train stats */
    fs_dataset_fini(&all);
    return rc == FS_ENOMEM ? (fs_err_add(err, NULL, "out of memory loading %s", path), rc) : rc;
}

static int load_libsvm(fs_world *w, const fs_scenario *s, fs_err *err)
{
    fs_dataset all = {0};
    char buf[1024];
    int rc = fs_data_load_libsvm(expand_home(s->data.libsvm.path, buf, sizeof buf),
                                 s->data.libsvm.n_features, s->data.libsvm.zero_based, &all, err);
    if (!rc)
        rc = fs_dataset_split(&all, s->data.libsvm.test_fraction, s->population_seed, &w->train,
                              &w->test);
    fs_dataset_fini(&all);
    return rc;
}

static int partition_natural(fs_world *w, const fs_scenario *s, fs_err *err)
{
    int g = fs_dataset_find_group(&w->train, s->data.natural_group);
    if (g < 0) {
        return fs_scn_bad_key(s, err, "data.partition.natural.group",
                              "expected a group column of the data, found \"%s\"",
                              s->data.natural_group);
    }
    size_t levels = w->train.groups[g].n_levels;
    if (levels != s->data.clients) {
        return fs_scn_bad_key(s, err, "data.clients",
                              "expected %zu (one client per level of \"%s\"), found %zu", levels,
                              s->data.natural_group, s->data.clients);
    }
    int rc = fs_partition_natural(&w->train, (size_t)g, &w->train_part, err);
    /* the held-out rows keep their owner too, for per-client metrics (worst clients, hit rate) */
    int gt = fs_dataset_find_group(&w->test, s->data.natural_group);
    if (!rc && gt >= 0 && w->test.n)
        rc = fs_partition_natural(&w->test, (size_t)gt, &w->test_part, err);
    return rc;
}

/* ---- partitioners: one row per data.partition variant (FS_PART_*), each taking the k clients'
 * training rows from the scenario's own keys */

typedef int (*partition_fn)(fs_world *w, const fs_scenario *s, size_t k, fs_err *err);

static int part_iid(fs_world *w, const fs_scenario *s, size_t k, fs_err *err)
{
    return fs_partition_iid(&w->train, k, s->population_seed, &w->train_part, err);
}

static int part_dirichlet(fs_world *w, const fs_scenario *s, size_t k, fs_err *err)
{
    return fs_partition_dirichlet(&w->train, k, s->data.dirichlet_alpha, s->population_seed,
                                  &w->train_part, err);
}

static int part_shards(fs_world *w, const fs_scenario *s, size_t k, fs_err *err)
{
    return fs_partition_shards(&w->train, k, s->data.shards_per_client, s->population_seed,
                               &w->train_part, err);
}

static int part_quantity(fs_world *w, const fs_scenario *s, size_t k, fs_err *err)
{
    enum fs_quantity_kind q = s->data.partition == FS_PART_QUANTITY_LOGNORMAL
                                  ? FS_QUANTITY_LOGNORMAL
                                  : FS_QUANTITY_POWERLAW;
    return fs_partition_quantity(&w->train, k, q, s->data.quantity_param, s->data.quantity_min,
                                 s->population_seed, &w->train_part, err);
}

static int part_natural(fs_world *w, const fs_scenario *s, size_t k, fs_err *err)
{
    (void)k;
    return partition_natural(w, s, err);
}

static const struct partitioner {
    partition_fn fn;
    bool row_per_client; /* every client needs a training row of its own */
} partitioners[] = {
    [FS_PART_IID] = {part_iid, true},
    [FS_PART_DIRICHLET] = {part_dirichlet, true},
    [FS_PART_SHARDS] = {part_shards, true},
    [FS_PART_QUANTITY_LOGNORMAL] = {part_quantity, true},
    [FS_PART_QUANTITY_POWERLAW] = {part_quantity, true},
    [FS_PART_NATURAL] = {part_natural, false},
};
_Static_assert(sizeof partitioners / sizeof *partitioners == FS_PART_NATURAL + 1,
               "a row per enum fs_partition_kind");

static int partition(fs_world *w, const fs_scenario *s, fs_err *err)
{
    const fs_dataset *ds = &w->train;
    size_t k = s->data.clients;
    const struct partitioner *p = &partitioners[s->data.partition];
    if (p->row_per_client && ds->n < k) {
        return fs_scn_bad_key(s, err, "data.clients",
                              "expected at most %zu clients (one training row each), found %zu",
                              ds->n, k);
    }
    return p->fn(w, s, k, err);
}

static int load_pooled(fs_world *w, const fs_scenario *s, fs_err *err)
{
    int rc = s->data.source == FS_SRC_CSV      ? load_csv(w, s, err)
             : s->data.source == FS_SRC_LIBSVM ? load_libsvm(w, s, err)
                                               : load_fashion_mnist(w, s, err);
    if (!rc) rc = partition(w, s, err);
    if (!rc && (s->data.skew_scale_sigma > 0 || s->data.skew_shift_sigma > 0))
        rc = fs_partition_feature_skew(&w->train, &w->train_part, s->data.skew_scale_sigma,
                                       s->data.skew_shift_sigma, s->population_seed, err);
    return rc;
}

/* ---- generated sources: natural clients ---- */

/* The generators' configurations come from the scenario alone: their defaults are the
 * schema's (sim/scenario/fs_scn_tables.c), never a second copy in models/. */
void fs_world_marketing_cfg(const fs_scenario *s, fs_marketing_cfg *out)
{
    const typeof(s->data.marketing) *m = &s->data.marketing;
    *out = (fs_marketing_cfg){
        .seed = s->population_seed,
        .n_regions = m->n_regions,
        .n_devices = m->n_devices,
        .n_age_bands = m->n_age_bands,
        .n_interests = m->n_interests,
        .n_campaigns = m->n_campaigns,
        .n_categories = m->n_categories,
        .hash_bits = (unsigned)m->hash_bits,
        .base_rate = m->base_rate,
        .exposure_mu = m->exposure_mu,
        .exposure_sigma = m->exposure_sigma,
        .region_shift = m->region_shift,
        .test_fraction = m->test_fraction,
    };
}

void fs_world_fraud_cfg(const fs_scenario *s, fs_fraud_cfg *out)
{
    const typeof(s->data.fraud) *f = &s->data.fraud;
    *out = (fs_fraud_cfg){
        .seed = s->population_seed,
        .n_segments = f->n_segments,
        .n_merchant_categories = f->n_merchant_categories,
        .fraud_rate = f->fraud_rate,
        .tx_mu = f->tx_mu,
        .tx_sigma = f->tx_sigma,
        .test_fraction = f->test_fraction,
    };
}

void fs_world_ratings_cfg(const fs_scenario *s, fs_ratings_cfg *out)
{
    const typeof(s->data.ratings) *r = &s->data.ratings;
    *out = (fs_ratings_cfg){
        .seed = s->population_seed,
        .n_items = r->n_items,
        .latent_dim = r->latent_dim,
        .popularity_s = r->popularity_s,
        .activity_mu = r->activity_mu,
        .activity_sigma = r->activity_sigma,
        .noise_sigma = r->noise_sigma,
        .test_fraction = r->test_fraction,
    };
}

static fs_gen *make_generator(const fs_scenario *s, fs_err *err)
{
    if (s->data.source == FS_SRC_MARKETING) {
        fs_marketing_cfg c;
        fs_world_marketing_cfg(s, &c);
        return fs_gen_marketing_new(&c, err);
    }
    if (s->data.source == FS_SRC_FRAUD) {
        fs_fraud_cfg c;
        fs_world_fraud_cfg(s, &c);
        return fs_gen_fraud_new(&c, err);
    }
    fs_ratings_cfg c;
    fs_world_ratings_cfg(s, &c);
    return fs_gen_ratings_new(&c, err);
}

/* Which of the generator's group columns (client 0's) the run needs per client: the consent
 * group and the eval.segments groups (who trains, ipw weights). want[g] is set for those. */
static int wanted_groups(const fs_gen *g, const fs_scenario *s, bool want[FS_DATA_MAX_GROUPS])
{
    memset(want, 0, FS_DATA_MAX_GROUPS * sizeof *want);
    if (!s->privacy.consent_group[0] && !s->eval.n_segments) return FS_OK;
    fs_gen_scratch gs = {0};
    int rc = fs_gen_client_into(g, 0, &gs, NULL);
    for (size_t i = 0; !rc && i <= s->eval.n_segments; i++) {
        const char *name = i < s->eval.n_segments ? s->eval.segments[i] : s->privacy.consent_group;
        int k = name[0] ? fs_dataset_find_group(&gs.train, name) : -1;
        if (k >= 0) want[k] = true;
    }
    fs_gen_scratch_fini(&gs);
    return rc;
}

/* One pass over every client for the sizes the population and the time model need (the
 * generator's sizes op: nothing stored); then the evaluation sample, kept. Memory: 24 bytes per
 * client, and 4 per group column the run needs per client (wanted_groups). */
static int count_clients(fs_world *w, const fs_scenario *s, fs_err *err)
{
    size_t n = s->data.clients;
    bool want[FS_DATA_MAX_GROUPS];
    int rc = wanted_groups(w->gen, s, want);
    w->n_train = calloc(n, sizeof *w->n_train);
    w->n_test = calloc(n, sizeof *w->n_test);
    w->nnz = calloc(n, sizeof *w->nnz);
    bool ok = w->n_train && w->n_test && w->nnz;
    for (size_t g = 0; g < FS_DATA_MAX_GROUPS; g++)
        if (want[g]) ok = ok && (w->levels[g] = malloc(n * sizeof *w->levels[g]));
    if (!ok) {
        fs_err_add(err, NULL, "out of memory for %zu clients", n);
        return FS_ENOMEM;
    }
#pragma omp parallel if (!rc)
    {
        fs_gen_scratch gs = {0};
#pragma omp for schedule(dynamic, 1024)
        for (size_t c = 0; c < n; c++) {
            fs_gen_sizes z;
            int crc = fs_gen_client_heads(w->gen, c, &gs, &z);
            if (crc) {
#pragma omp atomic write
                rc = crc;
                continue;
            }
            w->n_train[c] = z.n_train;
            w->n_test[c] = z.n_test;
            w->nnz[c] = z.nnz_train == FS_GEN_NNZ_LATER ? FS_WORLD_NNZ_LATER
                                                        : (uint32_t)z.nnz_train;
            for (size_t g = 0; g < FS_DATA_MAX_GROUPS; g++)
                if (w->levels[g]) w->levels[g][c] = z.n_train ? (int32_t)z.level[g] : -1;
        }
        fs_gen_scratch_fini(&gs);
    }
    if (rc) fs_err_add(err, NULL, "generating the clients' data: %s", fs_strerror(rc));
    return rc;
}

int fs_world_need_nnz(fs_world *w, const uint32_t *ids, size_t n, fs_err *err)
{
    if (!w->gen) return FS_OK;
    size_t missing = 0;
    for (size_t i = 0; i < n && !missing; i++)
        missing = w->nnz[ids[i]] == FS_WORLD_NNZ_LATER;
    if (!missing) return FS_OK; /* after the first rounds, most often */
    int rc = FS_OK;
#pragma omp parallel if (n >= 64)
    {
        fs_gen_scratch gs = {0};
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < n; i++) {
            uint32_t c = ids[i];
            fs_gen_sizes z;
            uint32_t known;
#pragma omp atomic read
            known = w->nnz[c];
            if (known != FS_WORLD_NNZ_LATER) continue;
            int crc = fs_gen_client_sizes(w->gen, c, &gs, &z);
            if (crc) {
#pragma omp atomic write
                rc = crc;
                continue;
            }
            /* a client listed twice is written twice with the same value */
#pragma omp atomic write
            w->nnz[c] = (uint32_t)z.nnz_train;
        }
        fs_gen_scratch_fini(&gs);
    }
    if (rc) fs_err_add(err, NULL, "generating the clients' data: %s", fs_strerror(rc));
    return rc;
}

static int load_on_demand(fs_world *w, const fs_scenario *s, fs_err *err)
{
    int rc = count_clients(w, s, err);
    if (rc) return rc;
    size_t k = s->eval.sample_clients < s->data.clients ? s->eval.sample_clients : s->data.clients;
    /* clients are independent draws, so the first k are a uniform sample */
    return fs_gen_materialize(w->gen, k, omp_get_max_threads(), &w->train, &w->train_part, &w->test,
                              &w->test_part, err);
}

static int load_generated(fs_world *w, const fs_scenario *s, fs_err *err)
{
    int before = err ? err->n_total : 0;
    fs_gen *g = make_generator(s, err);
    if (!g) {
        /* the constructors report through err only: an allocation failure says so */
        bool oom = err && err->n_total > before && err->n_msgs > 0 &&
                   strstr(err->msgs[err->n_msgs - 1], "out of memory");
        return oom ? FS_ENOMEM : FS_ESCENARIO;
    }
    if (s->data.on_demand) {
        w->gen = g;
        return load_on_demand(w, s, err);
    }
    int rc = fs_gen_materialize(g, s->data.clients, omp_get_max_threads(), &w->train,
                                &w->train_part, &w->test, &w->test_part, err);
    fs_gen_free(g);
    return rc;
}

static int load_synthetic(fs_world *w, const fs_scenario *s, fs_err *err)
{
    fs_synth_cfg cfg = {
        .alpha = s->data.synth_alpha,
        .beta = s->data.synth_beta,
        .n_clients = s->data.clients,
        .max_per_client = s->data.synth_max_per_client,
        .train_fraction = s->data.synth_train_fraction,
        .seed = s->population_seed,
    };
    return fs_data_synthetic(&cfg, &w->train, &w->train_part, &w->test, &w->test_part, err);
}

/* ---- model ---- */

void fs_world_shape(const fs_world *w, fs_scn_shape *out)
{
    const fs_dataset *ds = &w->train;
    *out = (fs_scn_shape){.sparse = fs_dataset_is_sparse(ds),
                          .n_classes = ds->n_classes,
                          .n_features = ds->d,
                          .groups_known = true,
                          .client_test = w->test_part.n_clients > 0};
    for (size_t g = 0; g < ds->n_groups && g < FS_SCN_SHAPE_MAX_GROUPS; g++)
        out->groups[out->n_groups++] = ds->groups[g].name;
}

/* Every client's private vector, from its own stream (seed, INIT, client), and the model pointed
 * at the table through the data's "user" group (the same column in train and test). */
static int init_personal(fs_world *w, const fs_scenario *s, fs_err *err)
{
    fs_model *m = w->model;
    size_t n = s->data.clients, k = m->n_personal;
    const char *name = fs_model_user_group(s);
    int g = fs_dataset_find_group(&w->train, name);
    if (g < 0 || g != fs_dataset_find_group(&w->test, name)) {
        return fs_scn_bad_key(s, err, "model.kind",
                              "expected a \"%s\" group in the training and test data", name);
    }
    gsl_rng *r = fs_rng_new();
    w->personal = malloc(n * k * sizeof *w->personal);
    if (!r || !w->personal) {
        gsl_rng_free(r);
        fs_err_add(err, NULL, "out of memory for %zu clients' private parameters", n);
        return FS_ENOMEM;
    }
    for (size_t c = 0; c < n; c++) {
        fs_rng_reseed(r, s->seed, FS_RNG_INIT, c, FS_RNG_NONE);
        m->ops->init_personal(m, w->personal + c * k, r);
    }
    gsl_rng_free(r);
    fs_model_set_personal(m, w->personal, g);
    return FS_OK;
}

/* ---- the world ---- */

/* Compact rows (Fashion-MNIST's pixels) stay compact for a model whose ops read them, a quarter
 * of the floats' memory; any other model is given the floats. */
static int rows_for_model(fs_world *w, fs_err *err)
{
    if (w->model->ops->reads_u8) return FS_OK;
    int rc = fs_dataset_expand(&w->train);
    if (!rc) rc = fs_dataset_expand(&w->test);
    if (rc) fs_err_add(err, NULL, "out of memory expanding the pixels to floats");
    return rc;
}

/* Each client's training non-zeros, once: the time model asks for them at every selection, and
 * summing a client's scattered rows each time was a sixth of a ctr_regions run's engine. Left
 * NULL (summed on each call) when out of memory or when a client's count would not fit. */
static void count_pooled_nnz(fs_world *w, size_t n_clients)
{
    const fs_partition *p = &w->train_part;
    if (!fs_dataset_is_sparse(&w->train) || !(w->nnz = malloc(n_clients * sizeof *w->nnz)))
        return;
    for (size_t c = 0; c < n_clients; c++) {
        const uint32_t *rows = p->rows + p->offset[c];
        size_t nnz = 0, n = fs_partition_size(p, c);
        for (size_t i = 0; i < n; i++)
            nnz += w->train.ptr[rows[i] + 1] - w->train.ptr[rows[i]];
        if (nnz >= FS_WORLD_NNZ_LATER) {
            free(w->nnz);
            w->nnz = NULL;
            return;
        }
        w->nnz[c] = (uint32_t)nnz;
    }
}

static int fill_sizes(fs_world *w, size_t n_clients, fs_err *err)
{
    if (w->gen) return FS_OK; /* on demand: counted while loading */
    w->n_train = calloc(n_clients, sizeof *w->n_train);
    w->n_test = calloc(n_clients, sizeof *w->n_test);
    if (!w->n_train || !w->n_test) {
        fs_err_add(err, NULL, "out of memory for %zu clients", n_clients);
        return FS_ENOMEM;
    }
    for (size_t c = 0; c < n_clients; c++) {
        w->n_train[c] = fs_partition_size(&w->train_part, c);
        if (w->test_part.n_clients) w->n_test[c] = fs_partition_size(&w->test_part, c);
    }
    count_pooled_nnz(w, n_clients);
    return FS_OK;
}

static int load_data(fs_world *w, const fs_scenario *s, fs_err *err)
{
    switch (s->data.source) {
    case FS_SRC_SYNTHETIC:
        return load_synthetic(w, s, err);
    case FS_SRC_MARKETING:
    case FS_SRC_FRAUD:
    case FS_SRC_RATINGS:
        return load_generated(w, s, err);
    default:
        return load_pooled(w, s, err);
    }
}

int fs_world_init(fs_world *w, const fs_scenario *s, fs_err *err)
{
    memset(w, 0, sizeof *w);
    w->model_clients = s->data.clients;
    int rc = load_data(w, s, err);
    if (rc) goto fail;
    if ((rc = fill_sizes(w, s->data.clients, err))) goto fail;
    fs_scn_shape shape;
    fs_world_shape(w, &shape);
    /* the scenario's rules again, now that the data's shape is known (a file's classes, width) */
    if ((rc = fs_scn_check_shape(s, &shape, err)) || (rc = fs_scn_check_memory(s, &shape, err)))
        goto fail;
    /* through the kind's row (fs_model_kinds.c); the rules above say the model fits the data */
    if ((rc = fs_model_kind_of(s)->make(s, &w->train, max_batch(s), &w->model, err))) {
        if (rc == FS_ENOMEM) fs_err_add(err, NULL, "out of memory creating the model");
        goto fail;
    }
    if ((rc = rows_for_model(w, err))) goto fail;
    w->sparse_updates = w->model->ops->train_sparse && fs_dataset_is_sparse(&w->train);
    if (w->model->n_personal && (rc = init_personal(w, s, err))) goto fail;
    return FS_OK;
fail:
    fs_world_fini(w);
    return rc;
}

void fs_world_fini(fs_world *w)
{
    fs_dataset_fini(&w->train);
    fs_dataset_fini(&w->test);
    fs_partition_fini(&w->train_part);
    fs_partition_fini(&w->test_part);
    free(w->n_train);
    free(w->n_test);
    free(w->personal);
    free(w->nnz);
    for (size_t g = 0; g < FS_DATA_MAX_GROUPS; g++)
        free(w->levels[g]);
    fs_gen_free(w->gen);
    fs_model_free(w->model);
    memset(w, 0, sizeof *w);
}

double fs_world_model_bytes(const fs_world *w)
{
    return 4.0 * (double)w->model->n_params;
}

size_t fs_world_max_client_rows(const fs_world *w)
{
    size_t best = 0;
    for (size_t c = 0; c < w->model_clients; c++) {
        size_t k = w->gen ? w->n_train[c] : fs_partition_size(&w->train_part, c);
        best = k > best ? k : best;
    }
    return best;
}

int fs_world_client_data(const fs_world *w, size_t client, fs_gen_scratch *scratch,
                         const uint32_t *identity, const fs_dataset **out_ds,
                         const uint32_t **out_rows, size_t *out_n)
{
    if (!w->gen) {
        const fs_partition *p = &w->train_part;
        *out_ds = &w->train;
        *out_rows = p->rows + p->offset[client];
        *out_n = fs_partition_size(p, client);
        return FS_OK;
    }
    int rc = fs_gen_client_train_into(w->gen, client, scratch, NULL);
    *out_ds = &scratch->train;
    *out_rows = identity;
    *out_n = rc ? 0 : scratch->train.n;
    return rc;
}

void fs_world_prefetch_client(const fs_world *w, size_t client)
{
    if (w->n_train) __builtin_prefetch(&w->n_train[client]);
    if (w->nnz) __builtin_prefetch(&w->nnz[client]);
    else if (w->train_part.offset) __builtin_prefetch(&w->train_part.offset[client]);
}

/* Dense models cost their fixed figure per sample. On sparse rows a model only touches the
 * parameters of the non-zeros: about n_params / n_features of them per non-zero (1 for logistic
 * regression, k + 1 for matrix factorization), two FLOPs each. */
double fs_world_client_flops(const fs_world *w, size_t client)
{
    const fs_partition *p = &w->train_part;
    const fs_model *m = w->model;
    double per_nnz = (double)m->n_params / (double)(m->n_features ? m->n_features : 1);
    double per_entry = 2.0 * (per_nnz > 1 ? per_nnz : 1);
    if (w->gen && !fs_dataset_is_sparse(&w->train))
        return (double)w->n_train[client] * m->flops_per_sample;
    /* sparse rows' non-zeros: a generator's (always kept), or a partition's (the same integer as
     * the sum below, exact in a double either way), asked before the partition's offsets, which
     * are another miss per client (8% of the engine on ctr_regions) */
    if (w->nnz) {
        fs_assert(w->nnz[client] != FS_WORLD_NNZ_LATER); /* fs_world_need_nnz first */
        return (double)w->nnz[client] * per_entry;
    }
    size_t n = fs_partition_size(p, client);
    if (!fs_dataset_is_sparse(&w->train)) return (double)n * m->flops_per_sample;
    const uint32_t *rows = p->rows + p->offset[client];
    double nnz = 0;
    for (size_t i = 0; i < n; i++)
        nnz += (double)(w->train.ptr[rows[i] + 1] - w->train.ptr[rows[i]]);
    return nnz * per_entry;
}

int32_t *fs_world_client_levels_new(const fs_world *w, const char *group, const char *path,
                                    int *out_rc, fs_err *err)
{
    int g = fs_dataset_find_group(&w->train, group);
    if (g < 0) {
        fs_err_add(err, path, "expected a group column of the data, found \"%s\"", group);
        *out_rc = FS_ESCENARIO;
        return NULL;
    }
    if (w->gen) { /* on demand: the evaluation sample has the generator's columns */
        int32_t *copy = w->levels[g] ? malloc(w->model_clients * sizeof *copy) : NULL;
        if (copy)
            memcpy(copy, w->levels[g], w->model_clients * sizeof *copy);
        else
            *out_rc = w->levels[g] ? FS_ENOMEM : FS_EINTERNAL,
            fs_err_add(err, NULL, "%s for clients' levels of \"%s\"",
                       w->levels[g] ? "out of memory" : "no per-client record", group);
        return copy;
    }
    const fs_partition *p = &w->train_part;
    int32_t *levels = malloc((p->n_clients ? p->n_clients : 1) * sizeof *levels);
    if (!levels) {
        fs_err_add(err, NULL, "out of memory for %zu clients", p->n_clients);
        *out_rc = FS_ENOMEM;
        return NULL;
    }
    for (size_t c = 0; c < p->n_clients; c++)
        levels[c] =
            fs_partition_size(p, c) ? (int32_t)w->train.groups[g].level[p->rows[p->offset[c]]] : -1;
    return levels;
}
