/* fs_scn_tables: the scenario schema. Every key of a scenario, its type, bounds, default and
 * the field it fills, as key tables walked by fs_scn_walk.c; scenarios/README.md documents the
 * same keys and must stay in sync. Defaults live here and only here. */
#include "fs_scn_int.h"

#include <stddef.h>

#include "fs_gen.h"

/* ---- the schema --------------------------------------------------------------------------- */

#define F(m) .off = offsetof(fs_scenario, m), .size = sizeof(((fs_scenario *)0)->m)
#define OBJ(keys)                                                                                  \
    {                                                                                              \
        keys, sizeof keys / sizeof keys[0]                                                         \
    }
#define POS (FS_SCN_LO | FS_SCN_LO_OPEN)          /* > 0 */
#define NONNEG FS_SCN_LO                          /* >= 0 */
#define RANGE (FS_SCN_LO | FS_SCN_HI)             /* [lo, hi] */
#define OPEN01 (POS | FS_SCN_HI | FS_SCN_HI_OPEN) /* (lo, hi) */

/* Index order matches enum fs_data_source (fs_scn_walk.c names sources with it too). */
const char *const fs_scn_sources[] = {"fashion-mnist", "synthetic", "marketing", "fraud",
                                      "ratings",       "csv",       "libsvm",    NULL};
static const char *const model_kinds[] = {"softmax", "mlp", "cnn", "logreg", "mf", NULL};
static const char *const encodings[] = {"onehot", "hash", "index", NULL};

#define ONLY(src) .sources = FS_SCN_SRC(src)
/* Pooled datasets are split over clients by a partitioner; generated ones have natural clients. */
#define POOLED                                                                                     \
    .sources = FS_SCN_SRC(FS_SRC_FASHION_MNIST) | FS_SCN_SRC(FS_SRC_CSV) | FS_SCN_SRC(FS_SRC_LIBSVM)
static const char *const server_modes[] = {"sync", "async", NULL};
static const char *const algorithms[] = {"fedavg", "fedprox", "scaffold", "qffl", NULL};
static const char *const staleness_rules[] = {"constant", "sqrt", NULL};

static const fs_scn_key dirichlet_keys[] = {
    {.name = "alpha", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | POS, F(data.dirichlet_alpha)},
};
static const fs_scn_key shards_keys[] = {
    {.name = "per_client",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 2,
     F(data.shards_per_client)},
};
static const fs_scn_key lognormal_q_keys[] = {
    {.name = "sigma", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | POS, F(data.quantity_param)},
    {.name = "min_per_client",
     .type = FS_SCN_INT,
     .flags = FS_SCN_LO,
     .lo = 1,
     .def = 1,
     F(data.quantity_min)},
};
static const fs_scn_key powerlaw_q_keys[] = {
    {.name = "exponent", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | POS, F(data.quantity_param)},
    {.name = "min_per_client",
     .type = FS_SCN_INT,
     .flags = FS_SCN_LO,
     .lo = 1,
     .def = 1,
     F(data.quantity_min)},
};
static const fs_scn_key natural_keys[] = {
    {.name = "group",
     .type = FS_SCN_STR,
     .flags = FS_SCN_REQ,
     .lo = 1,
     .hi = FS_SCN_NAME_LEN - 1,
     F(data.natural_group)},
};
static const fs_scn_obj dirichlet_obj = OBJ(dirichlet_keys), shards_obj = OBJ(shards_keys),
                        lognormal_q_obj = OBJ(lognormal_q_keys),
                        powerlaw_q_obj = OBJ(powerlaw_q_keys), natural_obj = OBJ(natural_keys);
static const fs_scn_variant partition_variants[] = {
    {"dirichlet", FS_PART_DIRICHLET, &dirichlet_obj},
    {"shards", FS_PART_SHARDS, &shards_obj},
    {"quantity_lognormal", FS_PART_QUANTITY_LOGNORMAL, &lognormal_q_obj},
    {"quantity_powerlaw", FS_PART_QUANTITY_POWERLAW, &powerlaw_q_obj},
    {"natural", FS_PART_NATURAL, &natural_obj},
};
static const fs_scn_union partition_union = {
    "iid", FS_PART_IID, partition_variants, 5,
    "\"iid\" or {\"dirichlet\" | \"shards\" | \"quantity_lognormal\" | "
    "\"quantity_powerlaw\" | \"natural\": {...}}"};

static const fs_scn_key skew_keys[] = {
    {.name = "scale_sigma", .type = FS_SCN_NUM, .flags = NONNEG, F(data.skew_scale_sigma)},
    {.name = "shift_sigma", .type = FS_SCN_NUM, .flags = NONNEG, F(data.skew_shift_sigma)},
};
static const fs_scn_obj skew_obj = OBJ(skew_keys);

#define TEST_FRACTION(m, d)                                                                        \
    {                                                                                              \
        .name = "test_fraction", .type = FS_SCN_NUM, .flags = RANGE | FS_SCN_HI_OPEN, .hi = 1,     \
        .def = d, F(m)                                                                             \
    }
static const fs_scn_key marketing_keys[] = {
    {.name = "regions",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 8,
     F(data.marketing.n_regions)},
    {.name = "device_types",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 100,
     .def = 3,
     F(data.marketing.n_devices)},
    {.name = "age_bands",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 100,
     .def = 6,
     F(data.marketing.n_age_bands)},
    {.name = "interests",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 10000,
     .def = 20,
     F(data.marketing.n_interests)},
    {.name = "campaigns",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1e6,
     .def = 200,
     F(data.marketing.n_campaigns)},
    {.name = "categories",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 10000,
     .def = 30,
     F(data.marketing.n_categories)},
    {.name = "hash_bits",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 8,
     .hi = 26,
     .def = 18,
     F(data.marketing.hash_bits)},
    {.name = "base_rate",
     .type = FS_SCN_NUM,
     .flags = OPEN01,
     .hi = 1,
     .def = 0.02,
     F(data.marketing.base_rate)},
    {.name = "exposure_mu",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = -FS_GEN_MAX_MU,
     .hi = FS_GEN_MAX_MU,
     .def = 3,
     F(data.marketing.exposure_mu)},
    {.name = "exposure_sigma",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 1,
     F(data.marketing.exposure_sigma)},
    {.name = "region_shift",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 0.5,
     F(data.marketing.region_shift)},
    TEST_FRACTION(data.marketing.test_fraction, 0.2),
};
static const fs_scn_key fraud_keys[] = {
    {.name = "segments",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 100,
     .def = 3,
     F(data.fraud.n_segments)},
    {.name = "merchant_categories",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 12,
     F(data.fraud.n_merchant_categories)},
    {.name = "fraud_rate",
     .type = FS_SCN_NUM,
     .flags = POS | FS_SCN_HI,
     .hi = FS_FRAUD_MAX_RATE,
     .def = 0.01,
     F(data.fraud.fraud_rate)},
    {.name = "tx_mu",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = -FS_GEN_MAX_MU,
     .hi = FS_GEN_MAX_MU,
     .def = 3,
     F(data.fraud.tx_mu)},
    {.name = "tx_sigma",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 1,
     F(data.fraud.tx_sigma)},
    TEST_FRACTION(data.fraud.test_fraction, 0.2),
};
static const fs_scn_key ratings_keys[] = {
    {.name = "items",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1e7,
     .def = 2000,
     F(data.ratings.n_items)},
    {.name = "latent_dim",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 8,
     F(data.ratings.latent_dim)},
    {.name = "popularity_s",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 1.0,
     F(data.ratings.popularity_s)},
    {.name = "activity_mu",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = -FS_GEN_MAX_MU,
     .hi = FS_GEN_MAX_MU,
     .def = 3,
     F(data.ratings.activity_mu)},
    {.name = "activity_sigma",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 1,
     F(data.ratings.activity_sigma)},
    {.name = "noise_sigma",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .hi = FS_GEN_MAX_SIGMA,
     .def = 0.5,
     F(data.ratings.noise_sigma)},
    TEST_FRACTION(data.ratings.test_fraction, 0.2),
};
static const fs_scn_key csv_keys[] = {
    {.name = "path", .type = FS_SCN_STR, .flags = FS_SCN_REQ, .lo = 1, .hi = 511, F(data.csv.path)},
    {.name = "label",
     .type = FS_SCN_STR,
     .flags = FS_SCN_REQ,
     .lo = 1,
     .hi = FS_SCN_NAME_LEN - 1,
     F(data.csv.label)},
    {.name = "features",
     .type = FS_SCN_STR_ARRAY,
     F(data.csv.features),
     .off2 = offsetof(fs_scenario, data.csv.n_features)},
    {.name = "groups",
     .type = FS_SCN_STR_ARRAY,
     F(data.csv.groups),
     .off2 = offsetof(fs_scenario, data.csv.n_groups)},
    {.name = "categorical",
     .type = FS_SCN_STR_ARRAY,
     F(data.csv.categorical),
     .off2 = offsetof(fs_scenario, data.csv.n_categorical)},
    {.name = "encoding",
     .type = FS_SCN_ENUM,
     .def = FS_ENC_ONEHOT,
     .aux = encodings,
     F(data.csv.encoding)},
    {.name = "hash_buckets",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1 << 26,
     .def = 1 << 16,
     F(data.csv.hash_buckets)},
    {.name = "positive",
     .type = FS_SCN_STR,
     .hi = FS_SCN_NAME_LEN - 1,
     .def_str = "",
     F(data.csv.positive)},
    {.name = "regression", .type = FS_SCN_BOOL, F(data.csv.regression)},
    TEST_FRACTION(data.csv.test_fraction, 0.2),
    {.name = "standardize", .type = FS_SCN_BOOL, F(data.csv.standardize)},
};
static const fs_scn_key libsvm_keys[] = {
    {.name = "path",
     .type = FS_SCN_STR,
     .flags = FS_SCN_REQ,
     .lo = 1,
     .hi = 511,
     F(data.libsvm.path)},
    {.name = "features", /* at most FS_LOAD_MAX_FEATURES (fs_load.h) */
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 0,
     .hi = 1 << 26,
     F(data.libsvm.n_features)},
    {.name = "zero_based", .type = FS_SCN_BOOL, F(data.libsvm.zero_based)},
    TEST_FRACTION(data.libsvm.test_fraction, 0.2),
};
static const fs_scn_obj marketing_obj = OBJ(marketing_keys), fraud_obj = OBJ(fraud_keys),
                        ratings_obj = OBJ(ratings_keys), csv_obj = OBJ(csv_keys),
                        libsvm_obj = OBJ(libsvm_keys);

static const fs_scn_key synthetic_keys[] = {
    {.name = "alpha", .type = FS_SCN_NUM, .flags = NONNEG, .def = 1, F(data.synth_alpha)},
    {.name = "beta", .type = FS_SCN_NUM, .flags = NONNEG, .def = 1, F(data.synth_beta)},
    {.name = "max_samples_per_client",
     .type = FS_SCN_INT,
     .flags = NONNEG,
     F(data.synth_max_per_client)},
    {.name = "train_fraction",
     .type = FS_SCN_NUM,
     .flags = OPEN01,
     .hi = 1,
     .def = 0.9,
     F(data.synth_train_fraction)},
};
static const fs_scn_obj synthetic_obj = OBJ(synthetic_keys);

static const fs_scn_key data_keys[] = {
    {.name = "source",
     .type = FS_SCN_ENUM,
     .flags = FS_SCN_REQ,
     .aux = fs_scn_sources,
     F(data.source)},
    {.name = "clients",
     .type = FS_SCN_INT,
     .flags = FS_SCN_REQ | RANGE,
     .lo = 1,
     .hi = 1e7,
     F(data.clients)},
    {.name = "path",
     .type = FS_SCN_STR,
     ONLY(FS_SRC_FASHION_MNIST),
     .lo = 1,
     .hi = 511,
     .def_str = "/usr/share/datasets/fashion-mnist",
     F(data.path)},
    {.name = "train_samples",
     .type = FS_SCN_INT,
     .flags = NONNEG,
     ONLY(FS_SRC_FASHION_MNIST),
     F(data.train_samples)},
    {.name = "test_samples",
     .type = FS_SCN_INT,
     .flags = NONNEG,
     ONLY(FS_SRC_FASHION_MNIST),
     F(data.test_samples)},
    {.name = "partition",
     .type = FS_SCN_UNION,
     POOLED,
     .def = FS_PART_IID,
     .aux = &partition_union,
     .na_note = " (its clients are natural)",
     F(data.partition)},
    {.name = "feature_skew", .type = FS_SCN_OBJ, POOLED, .aux = &skew_obj},
    {.name = "on_demand",
     .type = FS_SCN_BOOL,
     .sources =
         FS_SCN_SRC(FS_SRC_MARKETING) | FS_SCN_SRC(FS_SRC_FRAUD) | FS_SCN_SRC(FS_SRC_RATINGS),
     F(data.on_demand)},
    {.name = "synthetic", .type = FS_SCN_OBJ, ONLY(FS_SRC_SYNTHETIC), .aux = &synthetic_obj},
    {.name = "marketing", .type = FS_SCN_OBJ, ONLY(FS_SRC_MARKETING), .aux = &marketing_obj},
    {.name = "fraud", .type = FS_SCN_OBJ, ONLY(FS_SRC_FRAUD), .aux = &fraud_obj},
    {.name = "ratings", .type = FS_SCN_OBJ, ONLY(FS_SRC_RATINGS), .aux = &ratings_obj},
    {.name = "csv", .type = FS_SCN_OBJ, .flags = FS_SCN_REQ, ONLY(FS_SRC_CSV), .aux = &csv_obj},
    {.name = "libsvm",
     .type = FS_SCN_OBJ,
     .flags = FS_SCN_REQ,
     ONLY(FS_SRC_LIBSVM),
     .aux = &libsvm_obj},
};

static const int default_hidden[] = {200, 200}; /* McMahan et al. 2017's 2NN */
static const fs_scn_key model_keys[] = {
    {.name = "kind",
     .type = FS_SCN_ENUM,
     .def = FS_MODEL_SOFTMAX,
     .aux = model_kinds,
     F(model.kind)},
    {.name = "hidden",
     .type = FS_SCN_INT_ARRAY,
     .flags = RANGE,
     .lo = 1,
     .hi = 65536,
     .def = 2,
     .aux = default_hidden,
     F(model.hidden),
     .off2 = offsetof(fs_scenario, model.n_hidden)},
    {.name = "sigmoid_output", .type = FS_SCN_BOOL, F(model.sigmoid_output)},
    {.name = "height",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 4,
     .hi = 4096,
     .def = 28,
     F(model.height)},
    {.name = "width",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 4,
     .hi = 4096,
     .def = 28,
     F(model.width)},
    {.name = "channels",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 64,
     .def = 1,
     F(model.channels)},
    {.name = "l2", .type = FS_SCN_NUM, .flags = NONNEG, F(model.l2)},
    {.name = "factors",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1024,
     .def = 16,
     F(model.factors)},
};

static const fs_scn_key topk_keys[] = {
    {.name = "fraction",
     .type = FS_SCN_NUM,
     .flags = POS | FS_SCN_HI,
     .hi = 1,
     .def = 0.01,
     F(train.compress_fraction)},
    {.name = "error_feedback", .type = FS_SCN_BOOL, .def = 1, F(train.error_feedback)},
};
static const fs_scn_key quantize_keys[] = {
    {.name = "bits",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 2,
     .hi = 8,
     .def = 8,
     F(train.compress_bits)},
    {.name = "error_feedback", .type = FS_SCN_BOOL, F(train.error_feedback)},
};
static const fs_scn_obj topk_obj = OBJ(topk_keys), quantize_obj = OBJ(quantize_keys);
static const fs_scn_variant compression_variants[] = {
    {"topk", FS_COMP_TOPK, &topk_obj},
    {"randk", FS_COMP_RANDK, &topk_obj},
    {"quantize", FS_COMP_QUANTIZE, &quantize_obj},
};
static const fs_scn_union compression_union = {
    "none", FS_COMP_NONE, compression_variants, 3,
    "\"none\" or {\"topk\" | \"randk\" | \"quantize\": {...}}"};

static const fs_scn_key train_keys[] = {
    {.name = "epochs",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 1,
     F(train.epochs)},
    {.name = "batch_size",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 65536,
     .def = 10,
     F(train.batch_size)},
    {.name = "lr",
     .type = FS_SCN_NUM,
     .flags = POS | FS_SCN_HI,
     .hi = 100,
     .def = 0.1,
     F(train.lr)},
    {.name = "compression",
     .type = FS_SCN_UNION,
     .def = FS_COMP_NONE,
     .aux = &compression_union,
     F(train.compression)},
};

/* Server optimizers, defaults from Reddi et al. 2021 (see scenarios/README.md). */
#define OPT_KEY(nm, fld, flags_, lo_, hi_, d)                                                      \
    {                                                                                              \
        .name = nm, .type = FS_SCN_NUM, .flags = flags_, .lo = lo_, .hi = hi_, .def = d, F(fld)    \
    }
static const fs_scn_key momentum_keys[] = {
    OPT_KEY("lr", server.server_lr, POS, 0, 0, 1),
    OPT_KEY("beta1", server.beta1, RANGE | FS_SCN_HI_OPEN, 0, 1, 0.9),
};
static const fs_scn_key adam_keys[] = {
    OPT_KEY("lr", server.server_lr, POS, 0, 0, 0.01),
    OPT_KEY("beta1", server.beta1, RANGE | FS_SCN_HI_OPEN, 0, 1, 0.9),
    OPT_KEY("beta2", server.beta2, RANGE | FS_SCN_HI_OPEN, 0, 1, 0.99),
    OPT_KEY("tau", server.tau, POS, 0, 0, 1e-3),
};
static const fs_scn_key adagrad_keys[] = {
    OPT_KEY("lr", server.server_lr, POS, 0, 0, 0.01),
    OPT_KEY("beta1", server.beta1, RANGE | FS_SCN_HI_OPEN, 0, 1, 0),
    OPT_KEY("tau", server.tau, POS, 0, 0, 1e-3),
};
static const fs_scn_obj momentum_obj = OBJ(momentum_keys), adam_obj = OBJ(adam_keys),
                        adagrad_obj = OBJ(adagrad_keys);
static const fs_scn_variant optimizer_variants[] = {
    {"momentum", FS_SOPT_MOMENTUM, &momentum_obj},
    {"adam", FS_SOPT_ADAM, &adam_obj},
    {"yogi", FS_SOPT_YOGI, &adam_obj},
    {"adagrad", FS_SOPT_ADAGRAD, &adagrad_obj},
};
static const fs_scn_union optimizer_union = {
    "sgd", FS_SOPT_SGD, optimizer_variants, 4,
    "\"sgd\" or {\"momentum\" | \"adam\" | \"yogi\" | \"adagrad\": {...}}"};

static const fs_scn_key fastest_keys[] = {
    {.name = "pool",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = 1,
     .hi = 100,
     .def = 3,
     F(server.fastest_pool)},
};
static const fs_scn_obj fastest_obj = OBJ(fastest_keys);
static const fs_scn_variant selection_variants[] = {{"fastest", FS_SELECT_FASTEST, &fastest_obj}};
static const fs_scn_union selection_union = {"uniform", FS_SELECT_UNIFORM, selection_variants, 1,
                                             "\"uniform\" or {\"fastest\": {...}}"};

static const fs_scn_key async_keys[] = {
    {.name = "concurrency",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1e6,
     .def = 100,
     F(server.concurrency)},
    {.name = "buffer_size",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1e6,
     .def = 10,
     F(server.buffer_size)},
    {.name = "staleness",
     .type = FS_SCN_ENUM,
     .def = FS_STALE_SQRT,
     .aux = staleness_rules,
     F(server.staleness)},
    {.name = "max_staleness",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 0,
     .hi = 1e6,
     .def = 100,
     F(server.max_staleness)},
};
static const fs_scn_obj async_obj = OBJ(async_keys);

static const fs_scn_key server_keys[] = {
    {.name = "mode",
     .type = FS_SCN_ENUM,
     .def = FS_SERVER_SYNC,
     .aux = server_modes,
     F(server.mode)},
    {.name = "algorithm",
     .type = FS_SCN_ENUM,
     .def = FS_ALG_FEDAVG,
     .aux = algorithms,
     F(server.algorithm)},
    {.name = "rounds",
     .type = FS_SCN_INT,
     .flags = FS_SCN_REQ | RANGE,
     .lo = 1,
     .hi = 1e7,
     F(server.rounds)},
    {.name = "clients_per_round",
     .type = FS_SCN_INT,
     .flags = FS_SCN_REQ | FS_SCN_LO,
     .lo = 1,
     F(server.clients_per_round)},
    {.name = "over_selection",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = 1,
     .hi = 10,
     .def = 1.3,
     F(server.over_selection)},
    {.name = "deadline_s", .type = FS_SCN_NUM, .flags = POS, .def = 600, F(server.deadline_s)},
    {.name = "retry_s", .type = FS_SCN_NUM, .flags = POS, .def = 60, F(server.retry_s)},
    {.name = "round_interval_s", .type = FS_SCN_NUM, .flags = NONNEG, F(server.round_interval_s)},
    {.name = "max_virtual_hours", .type = FS_SCN_NUM, .flags = NONNEG, F(server.max_virtual_hours)},
    {.name = "mu", .type = FS_SCN_NUM, .flags = NONNEG, .def = 0.01, F(server.mu)},
    {.name = "q", .type = FS_SCN_NUM, .flags = NONNEG, .def = 1, F(server.q)},
    {.name = "optimizer",
     .type = FS_SCN_UNION,
     .def = FS_SOPT_SGD,
     .aux = &optimizer_union,
     F(server.optimizer)},
    {.name = "selection",
     .type = FS_SCN_UNION,
     .def = FS_SELECT_UNIFORM,
     .aux = &selection_union,
     F(server.selection)},
    {.name = "async", .type = FS_SCN_OBJ, .aux = &async_obj},
};

static const fs_scn_key dp_keys[] = {
    {.name = "clip", .type = FS_SCN_NUM, .flags = POS, .def = 1, F(privacy.clip)},
    {.name = "noise_multiplier",
     .type = FS_SCN_NUM,
     .flags = NONNEG,
     .def = 1,
     F(privacy.noise_multiplier)},
    {.name = "delta", .type = FS_SCN_NUM, .flags = OPEN01, .hi = 1, .def = 1e-5, F(privacy.delta)},
};
static const fs_scn_key secagg_keys[] = {
    {.name = "bits",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 16,
     .hi = 64,
     .def = 64,
     F(privacy.secagg_bits)},
    {.name = "frac_bits",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 40,
     .def = 24,
     F(privacy.secagg_frac_bits)},
    {.name = "verify_masks", .type = FS_SCN_BOOL, F(privacy.secagg_verify)},
};
static const int no_percent[1] = {0};
static const fs_scn_key consent_keys[] = {
    {.name = "share",
     .type = FS_SCN_NUM,
     .flags = RANGE,
     .lo = 0,
     .hi = 1,
     .def = 1,
     F(privacy.consent_share)},
    {.name = "group",
     .type = FS_SCN_STR,
     .hi = FS_SCN_NAME_LEN - 1,
     .def_str = "",
     F(privacy.consent_group)},
    {.name = "percent_by_level",
     .type = FS_SCN_INT_ARRAY,
     .flags = RANGE,
     .lo = 0,
     .hi = 100,
     .def = 0,
     .aux = no_percent,
     F(privacy.consent_percent),
     .off2 = offsetof(fs_scenario, privacy.n_consent_percent)},
};
static const fs_scn_obj dp_obj = OBJ(dp_keys), secagg_obj = OBJ(secagg_keys),
                        consent_obj = OBJ(consent_keys);
static const fs_scn_key privacy_keys[] = {
    {.name = "dp",
     .type = FS_SCN_OBJ,
     .aux = &dp_obj,
     .present_off = offsetof(fs_scenario, privacy.dp)},
    {.name = "secure_aggregation",
     .type = FS_SCN_OBJ,
     .aux = &secagg_obj,
     .present_off = offsetof(fs_scenario, privacy.secure_aggregation)},
    {.name = "consent", .type = FS_SCN_OBJ, .aux = &consent_obj},
};

static const fs_scn_key markov_keys[] = {
    {.name = "mean_on_min", .type = FS_SCN_NUM, .flags = FS_SCN_REQ | POS, F(devices.mean_on_min)},
    {.name = "mean_off_min",
     .type = FS_SCN_NUM,
     .flags = FS_SCN_REQ | POS,
     F(devices.mean_off_min)},
};
static const fs_scn_key diurnal_keys[] = {
    {.name = "peak_hour",
     .type = FS_SCN_NUM,
     .flags = RANGE | FS_SCN_HI_OPEN,
     .hi = 24,
     .def = 21,
     F(devices.peak_hour)},
    {.name = "min_share",
     .type = FS_SCN_NUM,
     .flags = OPEN01,
     .hi = 1,
     .def = 0.05,
     F(devices.min_share)},
    {.name = "max_share",
     .type = FS_SCN_NUM,
     .flags = OPEN01,
     .hi = 1,
     .def = 0.4,
     F(devices.max_share)},
    {.name = "mean_session_min",
     .type = FS_SCN_NUM,
     .flags = POS,
     .def = 30,
     F(devices.mean_session_min)},
    {.name = "utc_offsets_h",
     .type = FS_SCN_INT_ARRAY,
     .flags = RANGE,
     .lo = -12,
     .hi = 14,
     .def = 0,
     F(devices.utc_offsets_h),
     .off2 = offsetof(fs_scenario, devices.n_utc_offsets)},
};
static const fs_scn_obj markov_obj = OBJ(markov_keys);
static const fs_scn_obj diurnal_obj = OBJ(diurnal_keys);
static const fs_scn_variant avail_variants[] = {
    {"markov", FS_AVAIL_MARKOV, &markov_obj},
    {"diurnal", FS_AVAIL_DIURNAL, &diurnal_obj},
};
static const fs_scn_union avail_union = {"always", FS_AVAIL_ALWAYS, avail_variants, 2,
                                         "\"always\", {\"markov\": {...}} or {\"diurnal\": {...}}"};

static const fs_dist def_gflops = {FS_DIST_LOGNORMAL, 1, 0.6};
static const fs_dist def_uplink = {FS_DIST_LOGNORMAL, 1.5, 0.8};
static const fs_dist def_downlink = {FS_DIST_LOGNORMAL, 3, 0.8};
static const fs_dist def_latency = {FS_DIST_CONST, 80, 0};

static const fs_scn_key devices_keys[] = {
    {.name = "gflops", .type = FS_SCN_DIST, .flags = POS, .aux = &def_gflops, F(devices.gflops)},
    {.name = "uplink_mbps",
     .type = FS_SCN_DIST,
     .flags = POS,
     .aux = &def_uplink,
     F(devices.uplink_mbps)},
    {.name = "downlink_mbps",
     .type = FS_SCN_DIST,
     .flags = POS,
     .aux = &def_downlink,
     F(devices.downlink_mbps)},
    {.name = "latency_ms",
     .type = FS_SCN_DIST,
     .flags = NONNEG,
     .aux = &def_latency,
     F(devices.latency_ms)},
    {.name = "failure_prob",
     .type = FS_SCN_NUM,
     .flags = RANGE | FS_SCN_HI_OPEN,
     .hi = 1,
     F(devices.failure_prob)},
    {.name = "availability",
     .type = FS_SCN_UNION,
     .def = FS_AVAIL_ALWAYS,
     .aux = &avail_union,
     F(devices.availability)},
};

static const fs_scn_key target_keys[] = {
    {.name = "metric",
     .type = FS_SCN_STR,
     .flags = FS_SCN_REQ,
     .lo = 1,
     .hi = FS_SCN_NAME_LEN - 1,
     F(eval.target_metric)},
    {.name = "value", .type = FS_SCN_NUM, .flags = FS_SCN_REQ, F(eval.target_value)},
    {.name = "sustain",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1000,
     .def = 1,
     F(eval.target_sustain)},
};
static const fs_scn_obj target_obj = OBJ(target_keys);

static const fs_scn_key eval_keys[] = {
    {.name = "every_rounds",
     .type = FS_SCN_INT,
     .flags = FS_SCN_LO,
     .lo = 1,
     .def = 1,
     F(eval.every_rounds)},
    {.name = "metrics",
     .type = FS_SCN_STR_ARRAY,
     F(eval.metrics),
     .off2 = offsetof(fs_scenario, eval.n_metrics)},
    {.name = "segments",
     .type = FS_SCN_STR_ARRAY,
     F(eval.segments),
     .off2 = offsetof(fs_scenario, eval.n_segments)},
    {.name = "worst_clients", .type = FS_SCN_BOOL, .def = 1, F(eval.worst_clients)},
    {.name = "train_metrics", .type = FS_SCN_BOOL, F(eval.train_metrics)},
    {.name = "sample_clients",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 1,
     .hi = 1e7,
     .def = 10000,
     F(eval.sample_clients)},
    {.name = "target",
     .type = FS_SCN_OBJ,
     .aux = &target_obj,
     .present_off = offsetof(fs_scenario, eval.has_target)},
};

static const fs_scn_key output_keys[] = {
    /* No default here: "results/<name>.sqlite" is filled in once the name is known. */
    {.name = "db", .type = FS_SCN_STR, .lo = 1, .hi = 511, F(output.db)},
    {.name = "participation", .type = FS_SCN_BOOL, .def = 1, F(output.participation)},
    {.name = "checkpoint_every",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .lo = 0,
     .hi = 1e7,
     .def = 10,
     F(output.checkpoint_every)},
};

static const fs_scn_obj data_obj = OBJ(data_keys), model_obj = OBJ(model_keys),
                        train_obj = OBJ(train_keys), server_obj = OBJ(server_keys),
                        devices_obj = OBJ(devices_keys), eval_obj = OBJ(eval_keys),
                        output_obj = OBJ(output_keys), privacy_obj = OBJ(privacy_keys);

static const fs_scn_key top_keys[] = {
    {.name = "name",
     .type = FS_SCN_STR,
     .flags = FS_SCN_REQ | FS_SCN_IDENT,
     .lo = 1,
     .hi = 100,
     F(name)},
    {.name = "description", .type = FS_SCN_KEEP},
    {.name = "seed", .type = FS_SCN_INT, .flags = RANGE, .hi = FS_SCN_INT_LIMIT, .def = 1, F(seed)},
    /* default: seed (fs_scn.c default_population_seed fills it in before the walk) */
    {.name = "population_seed",
     .type = FS_SCN_INT,
     .flags = RANGE,
     .hi = FS_SCN_INT_LIMIT,
     .def = 1,
     F(population_seed)},
    {.name = "data", .type = FS_SCN_OBJ, .flags = FS_SCN_REQ, .aux = &data_obj},
    {.name = "model", .type = FS_SCN_OBJ, .aux = &model_obj},
    {.name = "train", .type = FS_SCN_OBJ, .aux = &train_obj},
    {.name = "server", .type = FS_SCN_OBJ, .flags = FS_SCN_REQ, .aux = &server_obj},
    {.name = "devices", .type = FS_SCN_OBJ, .aux = &devices_obj},
    {.name = "privacy", .type = FS_SCN_OBJ, .aux = &privacy_obj},
    {.name = "eval", .type = FS_SCN_OBJ, .aux = &eval_obj},
    {.name = "output", .type = FS_SCN_OBJ, .aux = &output_obj},
    {.name = "sweep", .type = FS_SCN_RAW},
};
const fs_scn_obj fs_scn_top_obj = OBJ(top_keys);
