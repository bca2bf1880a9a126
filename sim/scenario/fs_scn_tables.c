/* fs_scn_tables: the scenario schema. Every key of a scenario, its type, bounds, default and
 * the field it fills, as key tables walked by fs_scn_walk.c; scenarios/README.md documents the
 * same keys and must stay in sync. Defaults live here and only here. */
#include "fs_scn_int.h"

#include <stddef.h>

#include "fs_algo.h"
#include "fs_gen.h"
#include "fs_server.h"

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
#define NAMELEN (FS_SCN_NAME_LEN - 1)

/* One row per key: the name, what it holds and the field it fills, then what is particular to
 * that key (.sources, .na_note, PRESENT(...)). Fields not given are 0. */
// clang-format off
#define KEY(nm, ty, m, ...) {.name = nm, .type = ty, F(m), __VA_ARGS__}
#define KINT(nm, fl, lo_, hi_, d, m, ...)                                                   \
    KEY(nm, FS_SCN_INT, m, .flags = fl, .lo = lo_, .hi = hi_, .def = d, ##__VA_ARGS__)
#define KNUM(nm, fl, lo_, hi_, d, m, ...)                                                   \
    KEY(nm, FS_SCN_NUM, m, .flags = fl, .lo = lo_, .hi = hi_, .def = d, ##__VA_ARGS__)
#define KBOOL(nm, d, m, ...) KEY(nm, FS_SCN_BOOL, m, .def = d, ##__VA_ARGS__)
#define KENUM(nm, words, d, m, ...) KEY(nm, FS_SCN_ENUM, m, .aux = words, .def = d, ##__VA_ARGS__)
#define KSTR(nm, fl, lo_, hi_, d, m, ...)                                                   \
    KEY(nm, FS_SCN_STR, m, .flags = fl, .lo = lo_, .hi = hi_, .def_str = d, ##__VA_ARGS__)
#define KSTRS(nm, count, m, ...)                                                            \
    KEY(nm, FS_SCN_STR_ARRAY, m, .off2 = offsetof(fs_scenario, count), ##__VA_ARGS__)
#define KINTS(nm, fl, lo_, hi_, d, defaults, count, m, ...)                                 \
    KEY(nm, FS_SCN_INT_ARRAY, m, .flags = fl, .lo = lo_, .hi = hi_, .def = d, .aux = defaults, \
        .off2 = offsetof(fs_scenario, count), ##__VA_ARGS__)
#define KUNION(nm, d, un, m, ...) KEY(nm, FS_SCN_UNION, m, .def = d, .aux = un, ##__VA_ARGS__)
#define KDIST(nm, fl, dist, m, ...) KEY(nm, FS_SCN_DIST, m, .flags = fl, .aux = dist, ##__VA_ARGS__)
#define KOBJ(nm, fl, obj, ...) {.name = nm, .type = FS_SCN_OBJ, .flags = fl, .aux = obj, __VA_ARGS__}
#define KJSON(nm, d, m, ...) KEY(nm, FS_SCN_JSON, m, .def_str = d, ##__VA_ARGS__)
#define PRESENT(m) .present_off = offsetof(fs_scenario, m)

/* Index order matches enum fs_data_source (fs_scn_walk.c names sources with it too). */
const char *const fs_scn_sources[] = {"fashion-mnist", "synthetic", "marketing", "fraud",
                                      "ratings",       "csv",       "libsvm",    NULL};
#define FS_MODEL_WORD_(kind, word) word,
const char *const fs_scn_model_kinds[] = {FS_MODEL_KINDS(FS_MODEL_WORD_) NULL};
#undef FS_MODEL_WORD_
static const char *const encodings[] = {"onehot", "hash", "index", NULL};

#define ONLY(src) .sources = FS_SCN_SRC(src)
/* Pooled datasets are split over clients by a partitioner; generated ones have natural clients. */
#define POOLED                                                                                     \
    .sources = FS_SCN_SRC(FS_SRC_FASHION_MNIST) | FS_SCN_SRC(FS_SRC_CSV) | FS_SCN_SRC(FS_SRC_LIBSVM)
static const char *const staleness_rules[] = {"constant", "sqrt", NULL};
/* Index order matches enum fs_agg_weights. */
static const char *const agg_weight_names[] = {"samples", "uniform", "ipw", NULL};

static const fs_scn_key dirichlet_keys[] = {
    KNUM("alpha", FS_SCN_REQ | POS, 0, 0, 0, data.dirichlet_alpha),
};
static const fs_scn_key shards_keys[] = {
    KINT("per_client", RANGE, 1, 1000, 2, data.shards_per_client),
};
static const fs_scn_key lognormal_q_keys[] = {
    KNUM("sigma", FS_SCN_REQ | POS, 0, 0, 0, data.quantity_param),
    KINT("min_per_client", FS_SCN_LO, 1, 0, 1, data.quantity_min),
};
static const fs_scn_key powerlaw_q_keys[] = {
    KNUM("exponent", FS_SCN_REQ | POS, 0, 0, 0, data.quantity_param),
    KINT("min_per_client", FS_SCN_LO, 1, 0, 1, data.quantity_min),
};
static const fs_scn_key natural_keys[] = {
    KSTR("group", FS_SCN_REQ, 1, NAMELEN, NULL, data.natural_group),
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
static const fs_scn_union partition_union =
    FS_SCN_UNION_OF("iid", FS_PART_IID, partition_variants);

static const fs_scn_key skew_keys[] = {
    KNUM("scale_sigma", NONNEG, 0, 0, 0, data.skew_scale_sigma),
    KNUM("shift_sigma", NONNEG, 0, 0, 0, data.skew_shift_sigma),
};
static const fs_scn_obj skew_obj = OBJ(skew_keys);

#define TEST_FRACTION(m, d)                                                                        \
    {                                                                                              \
        .name = "test_fraction", .type = FS_SCN_NUM, .flags = RANGE | FS_SCN_HI_OPEN, .hi = 1,     \
        .def = d, F(m)                                                                             \
    }
static const fs_scn_key marketing_keys[] = {
    KINT("regions", RANGE, 1, 1000, 8, data.marketing.n_regions),
    KINT("device_types", RANGE, 1, 100, 3, data.marketing.n_devices),
    KINT("age_bands", RANGE, 1, 100, 6, data.marketing.n_age_bands),
    KINT("interests", RANGE, 1, 10000, 20, data.marketing.n_interests),
    KINT("campaigns", RANGE, 1, 1e6, 200, data.marketing.n_campaigns),
    KINT("categories", RANGE, 1, 10000, 30, data.marketing.n_categories),
    KINT("hash_bits", RANGE, 8, 26, 18, data.marketing.hash_bits),
    KNUM("base_rate", OPEN01, 0, 1, 0.02, data.marketing.base_rate),
    KNUM("exposure_mu", RANGE, -FS_GEN_MAX_MU, FS_GEN_MAX_MU, 3, data.marketing.exposure_mu),
    KNUM("exposure_sigma", RANGE, 0, FS_GEN_MAX_SIGMA, 1, data.marketing.exposure_sigma),
    KNUM("region_shift", RANGE, 0, FS_GEN_MAX_SIGMA, 0.5, data.marketing.region_shift),
    TEST_FRACTION(data.marketing.test_fraction, 0.2),
};
static const fs_scn_key fraud_keys[] = {
    KINT("segments", RANGE, 1, 100, 3, data.fraud.n_segments),
    KINT("merchant_categories", RANGE, 1, 1000, 12, data.fraud.n_merchant_categories),
    KNUM("fraud_rate", POS | FS_SCN_HI, 0, FS_FRAUD_MAX_RATE, 0.01, data.fraud.fraud_rate),
    KNUM("tx_mu", RANGE, -FS_GEN_MAX_MU, FS_GEN_MAX_MU, 3, data.fraud.tx_mu),
    KNUM("tx_sigma", RANGE, 0, FS_GEN_MAX_SIGMA, 1, data.fraud.tx_sigma),
    TEST_FRACTION(data.fraud.test_fraction, 0.2),
};
static const fs_scn_key ratings_keys[] = {
    KINT("items", RANGE, 1, 1e7, 2000, data.ratings.n_items),
    KINT("latent_dim", RANGE, 1, 1000, 8, data.ratings.latent_dim),
    KNUM("popularity_s", RANGE, 0, FS_GEN_MAX_SIGMA, 1.0, data.ratings.popularity_s),
    KNUM("activity_mu", RANGE, -FS_GEN_MAX_MU, FS_GEN_MAX_MU, 3, data.ratings.activity_mu),
    KNUM("activity_sigma", RANGE, 0, FS_GEN_MAX_SIGMA, 1, data.ratings.activity_sigma),
    KNUM("noise_sigma", RANGE, 0, FS_GEN_MAX_SIGMA, 0.5, data.ratings.noise_sigma),
    TEST_FRACTION(data.ratings.test_fraction, 0.2),
};
static const fs_scn_key csv_keys[] = {
    KSTR("path", FS_SCN_REQ, 1, 511, NULL, data.csv.path),
    KSTR("label", FS_SCN_REQ, 1, NAMELEN, NULL, data.csv.label),
    KSTRS("features", data.csv.n_features, data.csv.features),
    KSTRS("groups", data.csv.n_groups, data.csv.groups),
    KSTRS("categorical", data.csv.n_categorical, data.csv.categorical),
    KENUM("encoding", encodings, FS_ENC_ONEHOT, data.csv.encoding),
    KINT("hash_buckets", RANGE, 1, 1 << 26, 1 << 16, data.csv.hash_buckets),
    KSTR("positive", 0, 0, NAMELEN, "", data.csv.positive),
    KBOOL("regression", 0, data.csv.regression),
    TEST_FRACTION(data.csv.test_fraction, 0.2),
    KBOOL("standardize", 0, data.csv.standardize),
};
static const fs_scn_key libsvm_keys[] = {
    KSTR("path", FS_SCN_REQ, 1, 511, NULL, data.libsvm.path),
    /* at most FS_LOAD_MAX_FEATURES (fs_load.h) */
    KINT("features", RANGE, 0, 1 << 26, 0, data.libsvm.n_features),
    KBOOL("zero_based", 0, data.libsvm.zero_based),
    TEST_FRACTION(data.libsvm.test_fraction, 0.2),
};
static const fs_scn_obj marketing_obj = OBJ(marketing_keys), fraud_obj = OBJ(fraud_keys),
                        ratings_obj = OBJ(ratings_keys), csv_obj = OBJ(csv_keys),
                        libsvm_obj = OBJ(libsvm_keys);

static const fs_scn_key synthetic_keys[] = {
    KNUM("alpha", NONNEG, 0, 0, 1, data.synth_alpha),
    KNUM("beta", NONNEG, 0, 0, 1, data.synth_beta),
    KINT("max_samples_per_client", NONNEG, 0, 0, 0, data.synth_max_per_client),
    KNUM("train_fraction", OPEN01, 0, 1, 0.9, data.synth_train_fraction),
};
static const fs_scn_obj synthetic_obj = OBJ(synthetic_keys);

static const fs_scn_key data_keys[] = {
    KENUM("source", fs_scn_sources, 0, data.source, .flags = FS_SCN_REQ),
    KINT("clients", FS_SCN_REQ | RANGE, 1, 1e7, 0, data.clients),
    KSTR("path", 0, 1, 511, "/usr/share/datasets/fashion-mnist", data.path,
          ONLY(FS_SRC_FASHION_MNIST)),
    KINT("train_samples", NONNEG, 0, 0, 0, data.train_samples, ONLY(FS_SRC_FASHION_MNIST)),
    KINT("test_samples", NONNEG, 0, 0, 0, data.test_samples, ONLY(FS_SRC_FASHION_MNIST)),
    KUNION("partition", FS_PART_IID, &partition_union, data.partition,
          .na_note = " (its clients are natural)", POOLED),
    KOBJ("feature_skew", 0, &skew_obj, POOLED),
    KBOOL("on_demand", 0, data.on_demand,
          .sources = FS_SCN_SRC(FS_SRC_MARKETING) | FS_SCN_SRC(FS_SRC_FRAUD) |
                     FS_SCN_SRC(FS_SRC_RATINGS)),
    KOBJ("synthetic", 0, &synthetic_obj, ONLY(FS_SRC_SYNTHETIC)),
    KOBJ("marketing", 0, &marketing_obj, ONLY(FS_SRC_MARKETING)),
    KOBJ("fraud", 0, &fraud_obj, ONLY(FS_SRC_FRAUD)),
    KOBJ("ratings", 0, &ratings_obj, ONLY(FS_SRC_RATINGS)),
    KOBJ("csv", FS_SCN_REQ, &csv_obj, ONLY(FS_SRC_CSV)),
    KOBJ("libsvm", FS_SCN_REQ, &libsvm_obj, ONLY(FS_SRC_LIBSVM)),
};

/* A model from a shared object (models/README.md, "Bring your own model"). */
static const fs_scn_key plugin_keys[] = {
    KSTR("path", FS_SCN_REQ, 1, 511, NULL, model.plugin_path),
    KJSON("config", "{}", model.plugin_config),
};
static const fs_scn_obj plugin_obj = OBJ(plugin_keys);

static const int default_hidden[] = {200, 200}; /* McMahan et al. 2017's 2NN */
static const fs_scn_key model_keys[] = {
    KENUM("kind", fs_scn_model_kinds, FS_MODEL_SOFTMAX, model.kind), /* first: plugin needs it */
    KINTS("hidden", RANGE, 1, 65536, 2, default_hidden, model.n_hidden, model.hidden),
    KBOOL("sigmoid_output", 0, model.sigmoid_output),
    KINT("height", RANGE, 4, 4096, 28, model.height),
    KINT("width", RANGE, 4, 4096, 28, model.width),
    KINT("channels", RANGE, 1, 64, 1, model.channels),
    KNUM("l2", NONNEG, 0, 0, 0, model.l2),
    KINT("factors", RANGE, 1, 1024, 16, model.factors),
    KOBJ("plugin", FS_SCN_REQ, &plugin_obj, .models = FS_SCN_MODEL(FS_MODEL_PLUGIN)),
};

static const fs_scn_key topk_keys[] = {
    KNUM("fraction", POS | FS_SCN_HI, 0, 1, 0.01, train.compress_fraction),
    KBOOL("error_feedback", 1, train.error_feedback),
};
static const fs_scn_key quantize_keys[] = {
    KINT("bits", RANGE, 2, 8, 8, train.compress_bits),
    KBOOL("error_feedback", 0, train.error_feedback),
};
static const fs_scn_obj topk_obj = OBJ(topk_keys), quantize_obj = OBJ(quantize_keys);
static const fs_scn_variant compression_variants[] = {
    {"topk", FS_COMP_TOPK, &topk_obj},
    {"randk", FS_COMP_RANDK, &topk_obj},
    {"quantize", FS_COMP_QUANTIZE, &quantize_obj},
};
static const fs_scn_union compression_union =
    FS_SCN_UNION_OF("none", FS_COMP_NONE, compression_variants);

static const fs_scn_key train_keys[] = {
    KINT("epochs", RANGE, 1, 1000, 1, train.epochs),
    KINT("batch_size", RANGE, 1, 65536, 10, train.batch_size),
    KNUM("lr", POS | FS_SCN_HI, 0, 100, 0.1, train.lr),
    KUNION("compression", FS_COMP_NONE, &compression_union, train.compression),
};

/* Server optimizers, defaults from Reddi et al. 2021 (see scenarios/README.md); fs_serveropt_cfg_of
 * hands them to the optimizer as they are, v0 = tau^2.
 * Sources: [A] Reddi et al. 2021, Algorithm 2 and Section 5; [R] the paper's code and tuning notes,
 * github.com/google-research/federated optimization/README.md and docs/hyperparameters.md
 * (best server learning rates per task, log10: adam/yogi mostly -2 .. -1.5, adagrad -1.5 .. -0.5,
 * avgm and avg 0; "we recommend a starting value of 0.001" for tau, "which worked well across
 * task and optimizers").
 *   kind      lr     beta1  beta2  tau    v0      sources
 *   sgd       1      -      -      -      -       [R] FedAvg, server lr 10^0 (fs_scn.c forces 1)
 *   momentum  1      0.9    -      -      -       [R] FedAvgM --server_sgd_momentum=0.9, lr 10^0
 *   adam      0.01   0.9    0.99   1e-3   tau^2   [A] beta1, beta2, v0 >= tau^2; [R] lr, tau
 *   yogi      0.01   0.9    0.99   1e-3   tau^2   as adam
 *   adagrad   0.01   0      -      1e-3   tau^2   [R] tau; beta1 0: the experiments ran Keras
 *                                                 Adagrad, which has no momentum. lr 0.01 is
 *                                                 below [R]'s range (an unused copy of this
 *                                                 table in fs_serveropt said 0.1)
 * [R] notes that its Keras runs kept Adam/Yogi's beta2 at the Keras default 0.999 and initial
 * accumulators at 0; we keep [A]'s 0.99 and tau^2 (the difference from 0 is <= 1e-6). */
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
static const fs_scn_union optimizer_union =
    FS_SCN_UNION_OF("sgd", FS_SOPT_SGD, optimizer_variants);

static const fs_scn_key fastest_keys[] = {
    KNUM("pool", RANGE, 1, 100, 3, server.fastest_pool),
};
static const fs_scn_obj fastest_obj = OBJ(fastest_keys);
static const fs_scn_variant selection_variants[] = {{"fastest", FS_SELECT_FASTEST, &fastest_obj}};
static const fs_scn_union selection_union =
    FS_SCN_UNION_OF("uniform", FS_SELECT_UNIFORM, selection_variants);

static const fs_scn_key async_keys[] = {
    KINT("concurrency", RANGE, 1, 1e6, 100, server.concurrency),
    KINT("buffer_size", RANGE, 1, 1e6, 10, server.buffer_size),
    KENUM("staleness", staleness_rules, FS_STALE_SQRT, server.staleness),
    KINT("max_staleness", RANGE, 0, 1e6, 100, server.max_staleness),
};
static const fs_scn_obj async_obj = OBJ(async_keys);

/* server.robust (sim/aggregation/fs_robust.h); the rules that combine it are fs_robust's checks,
 * run by fs_scn_rules.c */
static const fs_scn_key trimmed_mean_keys[] = {
    KNUM("beta", FS_SCN_REQ | RANGE | FS_SCN_HI_OPEN, 0, 0.5, 0, server.robust_beta),
};
static const fs_scn_key krum_keys[] = {
    KINT("f", FS_SCN_REQ | RANGE, 0, 1e6, 0, server.krum_f),
    KINT("m", RANGE, 1, 1e6, 1, server.krum_m),
};
static const fs_scn_key norm_bound_keys[] = {
    KNUM("max_norm", FS_SCN_REQ | POS, 0, 0, 0, server.robust_max_norm),
};
static const fs_scn_obj no_keys_obj = {NULL, 0}, trimmed_mean_obj = OBJ(trimmed_mean_keys),
                        krum_obj = OBJ(krum_keys), norm_bound_obj = OBJ(norm_bound_keys);
static const fs_scn_variant robust_variants[] = {
    {"median", FS_ROBUST_MEDIAN, &no_keys_obj},
    {"trimmed_mean", FS_ROBUST_TRIMMED_MEAN, &trimmed_mean_obj},
    {"krum", FS_ROBUST_KRUM, &krum_obj},
    {"norm_bound", FS_ROBUST_NORM_BOUND, &norm_bound_obj},
};
static const fs_scn_union robust_union = FS_SCN_UNION_OF("none", FS_ROBUST_NONE, robust_variants);

static const fs_scn_key server_keys[] = {
    KENUM("mode", fs_server_names, FS_SERVER_SYNC, server.mode),
    KENUM("algorithm", fs_algo_names, 0, server.algorithm),
    KINT("rounds", FS_SCN_REQ | RANGE, 1, 1e7, 0, server.rounds),
    KINT("clients_per_round", FS_SCN_REQ | FS_SCN_LO, 1, 0, 0, server.clients_per_round),
    KNUM("over_selection", RANGE, 1, 10, 1.3, server.over_selection),
    KNUM("deadline_s", POS, 0, 0, 600, server.deadline_s),
    KNUM("retry_s", POS, 0, 0, 60, server.retry_s),
    KNUM("round_interval_s", NONNEG, 0, 0, 0, server.round_interval_s),
    KNUM("max_virtual_hours", NONNEG, 0, 0, 0, server.max_virtual_hours),
    KNUM("ingress_mbps", POS, 0, 0, 0, server.ingress_mbps, PRESENT(server.has_ingress)),
    KNUM("egress_mbps", POS, 0, 0, 0, server.egress_mbps, PRESENT(server.has_egress)),
    KNUM("mu", NONNEG, 0, 0, 0.01, server.mu),
    KNUM("q", NONNEG, 0, 0, 1, server.q),
    KUNION("optimizer", FS_SOPT_SGD, &optimizer_union, server.optimizer),
    KUNION("selection", FS_SELECT_UNIFORM, &selection_union, server.selection),
    KOBJ("async", 0, &async_obj),
    KUNION("robust", FS_ROBUST_NONE, &robust_union, server.robust, PRESENT(server.has_robust)),
    KENUM("aggregation_weights", agg_weight_names, FS_AGGW_SAMPLES, server.aggregation_weights),
    KNUM("ipw_floor", POS | FS_SCN_HI, 0, 1, 0.1, server.ipw_floor),
};

static const fs_scn_key dp_keys[] = {
    KNUM("clip", POS, 0, 0, 1, privacy.clip),
    KNUM("noise_multiplier", NONNEG, 0, 0, 1, privacy.noise_multiplier),
    KNUM("delta", OPEN01, 0, 1, 1e-5, privacy.delta),
};
static const fs_scn_key secagg_keys[] = {
    KINT("bits", RANGE, 16, 64, 64, privacy.secagg_bits),
    KINT("frac_bits", RANGE, 1, 40, 24, privacy.secagg_frac_bits),
    KBOOL("verify_masks", 0, privacy.secagg_verify),
};
static const int no_percent[1] = {0};
static const fs_scn_key consent_keys[] = {
    KNUM("share", RANGE, 0, 1, 1, privacy.consent_share),
    KSTR("group", 0, 0, NAMELEN, "", privacy.consent_group),
    KINTS("percent_by_level", RANGE, 0, 100, 0, no_percent, privacy.n_consent_percent,
          privacy.consent_percent),
};
static const fs_scn_obj dp_obj = OBJ(dp_keys), secagg_obj = OBJ(secagg_keys),
                        consent_obj = OBJ(consent_keys);
static const fs_scn_key privacy_keys[] = {
    KOBJ("dp", 0, &dp_obj, PRESENT(privacy.dp)),
    KOBJ("secure_aggregation", 0, &secagg_obj, PRESENT(privacy.secure_aggregation)),
    KOBJ("consent", 0, &consent_obj),
};

static const fs_scn_key markov_keys[] = {
    KNUM("mean_on_min", FS_SCN_REQ | POS, 0, 0, 0, devices.mean_on_min),
    KNUM("mean_off_min", FS_SCN_REQ | POS, 0, 0, 0, devices.mean_off_min),
};
static const fs_scn_key diurnal_keys[] = {
    KNUM("peak_hour", RANGE | FS_SCN_HI_OPEN, 0, 24, 21, devices.peak_hour),
    KNUM("min_share", OPEN01, 0, 1, 0.05, devices.min_share),
    KNUM("max_share", OPEN01, 0, 1, 0.4, devices.max_share),
    KNUM("mean_session_min", POS, 0, 0, 30, devices.mean_session_min),
    KINTS("utc_offsets_h", RANGE | FS_SCN_QUARTERS, -12, 14, 0, NULL, devices.n_utc_offsets,
          devices.utc_offsets_q),
    KSTR("utc_offset_by", 0, 0, NAMELEN, "", devices.utc_offset_by),
};
static const char *const trace_assigns[] = {"hash", "modulo", NULL}; /* fs_trace_assign */
static const fs_scn_key avail_trace_keys[] = {
    KSTR("path", FS_SCN_REQ, 1, 511, NULL, devices.avail_trace),
    KENUM("assign", trace_assigns, 0, devices.avail_assign),
};
static const fs_scn_obj avail_trace_obj = OBJ(avail_trace_keys);
/* devices.capacity: a capacity trace replaces the gflops and link distributions */
static const fs_scn_key cap_trace_keys[] = {
    KSTR("path", FS_SCN_REQ, 1, 511, NULL, devices.cap_trace),
    KENUM("assign", trace_assigns, 0, devices.cap_assign),
};
static const fs_scn_obj cap_trace_obj = OBJ(cap_trace_keys);
static const fs_scn_key capacity_keys[] = {
    KOBJ("trace", FS_SCN_REQ, &cap_trace_obj),
};
static const fs_scn_obj capacity_obj = OBJ(capacity_keys);
static const fs_scn_obj markov_obj = OBJ(markov_keys);
static const fs_scn_obj diurnal_obj = OBJ(diurnal_keys);
static const fs_scn_variant avail_variants[] = {
    {"markov", FS_AVAIL_MARKOV, &markov_obj},
    {"diurnal", FS_AVAIL_DIURNAL, &diurnal_obj},
    {"trace", FS_AVAIL_TRACE, &avail_trace_obj},
};
static const fs_scn_union avail_union =
    FS_SCN_UNION_OF("always", FS_AVAIL_ALWAYS, avail_variants);

static const fs_dist def_gflops = {FS_DIST_LOGNORMAL, 1, 0.6};
static const fs_dist def_uplink = {FS_DIST_LOGNORMAL, 1.5, 0.8};
static const fs_dist def_downlink = {FS_DIST_LOGNORMAL, 3, 0.8};
static const fs_dist def_latency = {FS_DIST_CONST, 80, 0};

/* Energy and battery (sim/fleet/fs_energy.h); scenarios/README.md gives every default's source
 * and range. The cellular link: LTE as measured by Huang et al. (MobiSys 2012, median uplink
 * ~5 Mbit/s, downlink ~13 Mbit/s, RTT ~70 ms), spread as the Wi-Fi defaults are. */
static const fs_dist def_cell_uplink = {FS_DIST_LOGNORMAL, 1.2, 0.8};
static const fs_dist def_cell_downlink = {FS_DIST_LOGNORMAL, 2.3, 0.8};
static const fs_dist def_cell_latency = {FS_DIST_CONST, 70, 0};
static const fs_dist def_battery = {FS_DIST_UNIFORM, 0.2, 1};
static const fs_scn_key cellular_keys[] = {
    KDIST("uplink_mbps", POS, &def_cell_uplink, devices.cell_uplink_mbps),
    KDIST("downlink_mbps", POS, &def_cell_downlink, devices.cell_downlink_mbps),
    KDIST("latency_ms", NONNEG, &def_cell_latency, devices.cell_latency_ms),
};
static const fs_scn_key charging_keys[] = {
    KNUM("evening_start_h", RANGE | FS_SCN_HI_OPEN, 0, 24, 22, devices.charging.evening_start_h),
    KNUM("morning_end_h", RANGE | FS_SCN_HI_OPEN, 0, 24, 7, devices.charging.morning_end_h),
    KNUM("share", RANGE, 0, 1, 0.7, devices.charging.share),
    KNUM("day_prob", RANGE, 0, 1, 0.3, devices.charging.day_prob),
    KNUM("day_session_h", RANGE, 0, 12, 1, devices.charging.day_session_h),
    KNUM("rate_per_h", POS, 0, 0, 0.5, devices.charging.rate_per_h),
};
static const fs_scn_key network_keys[] = {
    KNUM("wifi_share", RANGE, 0, 1, 0.8, devices.network.wifi_share),
    KNUM("home_start_h", RANGE | FS_SCN_HI_OPEN, 0, 24, 19, devices.network.home_start_h),
    KNUM("home_end_h", RANGE | FS_SCN_HI_OPEN, 0, 24, 8, devices.network.home_end_h),
    KNUM("away_wifi_share", RANGE, 0, 1, 0.2, devices.network.away_wifi_share),
};
static const fs_scn_key eligibility_keys[] = {
    KBOOL("charging", 0, devices.eligibility.charging),
    KBOOL("unmetered", 0, devices.eligibility.unmetered),
    KNUM("min_battery", RANGE, 0, 1, 0, devices.eligibility.min_battery),
};
static const fs_scn_key battery_keys[] = {
    KDIST("initial", NONNEG, &def_battery, devices.battery_initial),
};
/* One table per class: their defaults differ. Radio powers from Huang et al.'s power model at
 * the default link rates, the same for every class; SoC energy and battery grow apart. */
#define DEV_CLASS_KEYS(name, i, share_, jpg, wh)                                                 \
    static const fs_scn_key name[] = {                                                          \
        KNUM("share", RANGE, 0, 1, share_, devices.classes[i].share),                           \
        KNUM("j_per_gflop", NONNEG, 0, 0, jpg, devices.classes[i].j_per_gflop),                 \
        KNUM("wifi_tx_w", NONNEG, 0, 0, 0.55, devices.classes[i].wifi_tx_w),                    \
        KNUM("wifi_rx_w", NONNEG, 0, 0, 0.8, devices.classes[i].wifi_rx_w),                     \
        KNUM("cell_tx_w", NONNEG, 0, 0, 2.0, devices.classes[i].cell_tx_w),                     \
        KNUM("cell_rx_w", NONNEG, 0, 0, 1.5, devices.classes[i].cell_rx_w),                     \
        KNUM("cell_tail_w", NONNEG, 0, 0, 1.06, devices.classes[i].cell_tail_w),                \
        KNUM("cell_tail_s", RANGE, 0, 60, 11.6, devices.classes[i].cell_tail_s),                \
        KNUM("battery_wh", POS, 0, 0, wh, devices.classes[i].battery_wh),                       \
    }
DEV_CLASS_KEYS(class_low_keys, 0, 0.3, 0.6, 11);
DEV_CLASS_KEYS(class_mid_keys, 1, 0.5, 0.3, 15);
DEV_CLASS_KEYS(class_high_keys, 2, 0.2, 0.15, 19);
static const fs_scn_obj class_low_obj = OBJ(class_low_keys), class_mid_obj = OBJ(class_mid_keys),
                        class_high_obj = OBJ(class_high_keys);
static const fs_scn_key classes_keys[] = {
    KOBJ("low", 0, &class_low_obj),
    KOBJ("mid", 0, &class_mid_obj),
    KOBJ("high", 0, &class_high_obj),
};
static const fs_scn_obj cellular_obj = OBJ(cellular_keys), charging_obj = OBJ(charging_keys),
                        network_obj = OBJ(network_keys), eligibility_obj = OBJ(eligibility_keys),
                        battery_obj = OBJ(battery_keys), classes_obj = OBJ(classes_keys);

static const fs_scn_key devices_keys[] = {
    KDIST("gflops", POS, &def_gflops, devices.gflops),
    KDIST("uplink_mbps", POS, &def_uplink, devices.uplink_mbps),
    KDIST("downlink_mbps", POS, &def_downlink, devices.downlink_mbps),
    KDIST("latency_ms", NONNEG, &def_latency, devices.latency_ms),
    KNUM("failure_prob", RANGE | FS_SCN_HI_OPEN, 0, 1, 0, devices.failure_prob),
    KUNION("availability", FS_AVAIL_ALWAYS, &avail_union, devices.availability),
    KOBJ("capacity", 0, &capacity_obj, PRESENT(devices.cap_on)),
    KOBJ("cellular", 0, &cellular_obj),
    KOBJ("charging", 0, &charging_obj),
    KOBJ("network", 0, &network_obj, PRESENT(devices.network.on)),
    KOBJ("eligibility", 0, &eligibility_obj),
    KOBJ("battery", 0, &battery_obj),
    KOBJ("classes", 0, &classes_obj),
};

static const fs_scn_key target_keys[] = {
    KSTR("metric", FS_SCN_REQ, 1, NAMELEN, NULL, eval.target_metric),
    KNUM("value", FS_SCN_REQ, 0, 0, 0, eval.target_value),
    KINT("sustain", RANGE, 1, 1000, 1, eval.target_sustain),
};
static const fs_scn_obj target_obj = OBJ(target_keys);

static const fs_scn_key eval_keys[] = {
    KINT("every_rounds", FS_SCN_LO, 1, 0, 1, eval.every_rounds),
    KSTRS("metrics", eval.n_metrics, eval.metrics),
    KSTRS("segments", eval.n_segments, eval.segments),
    KBOOL("worst_clients", 1, eval.worst_clients),
    KBOOL("train_metrics", 0, eval.train_metrics),
    KINT("sample_clients", RANGE, 1, 1e7, 10000, eval.sample_clients),
    KOBJ("target", 0, &target_obj, PRESENT(eval.has_target)),
};

static const fs_scn_key output_keys[] = {
    /* No default here: "results/<name>.sqlite" is filled in once the name is known. */
    KSTR("db", 0, 1, 511, NULL, output.db),
    KBOOL("participation", 1, output.participation),
    KINT("checkpoint_every", RANGE, 0, 1e7, 10, output.checkpoint_every),
    KNUM("checkpoint_min_interval_s", RANGE, 0, 1e7, 10, output.checkpoint_min_interval_s),
};

/* Adversarial clients (sim/client/fs_attack.h): who attacks, from when, and how. The combination
 * rules (share, segment, task) are fs_scn_rules.c's. */
static const fs_scn_key backdoor_keys[] = {
    KINT("feature", RANGE, -1, 1e7, -1, adversary.bd_feature),
    KNUM("value", 0, 0, 0, 1, adversary.bd_value),
    KSTR("segment", 0, 0, NAMELEN, "", adversary.bd_segment),
    KINT("label", RANGE, 0, 1, 1, adversary.bd_label),
};
static const fs_scn_obj backdoor_obj = OBJ(backdoor_keys);
static const fs_scn_key no_keys[1];
static const fs_scn_obj empty_obj = {no_keys, 0};
static const fs_scn_key sign_flip_keys[] = {
    KNUM("scale", POS, 0, 0, 1, adversary.sign_scale),
};
static const fs_scn_key scale_keys[] = {
    KNUM("boost", POS, 0, 0, 10, adversary.boost),
    KOBJ("backdoor", 0, &backdoor_obj, PRESENT(adversary.backdoor)),
};
static const fs_scn_obj sign_flip_obj = OBJ(sign_flip_keys), scale_obj = OBJ(scale_keys);
static const fs_scn_variant attack_variants[] = {
    {"label_flip", FS_ATTACK_LABEL_FLIP, &empty_obj},
    {"sign_flip", FS_ATTACK_SIGN_FLIP, &sign_flip_obj},
    {"scale", FS_ATTACK_SCALE, &scale_obj},
    {"gaussian", FS_ATTACK_GAUSSIAN, &empty_obj},
    {"free_ride", FS_ATTACK_FREE_RIDE, &empty_obj},
};
static const fs_scn_union attack_union = FS_SCN_UNION_OF(NULL, -1, attack_variants);
static const fs_scn_key adversary_keys[] = {
    KNUM("share", FS_SCN_REQ | OPEN01, 0, 1, 0, adversary.share),
    KSTR("segment", 0, 0, NAMELEN, "", adversary.segment),
    KINT("start_round", RANGE, 1, 1e7, 1, adversary.start_round),
    KUNION("attack", -1, &attack_union, adversary.attack, .flags = FS_SCN_REQ),
};
static const fs_scn_obj adversary_obj = OBJ(adversary_keys);

static const fs_scn_obj data_obj = OBJ(data_keys), model_obj = OBJ(model_keys),
                        train_obj = OBJ(train_keys), server_obj = OBJ(server_keys),
                        devices_obj = OBJ(devices_keys), eval_obj = OBJ(eval_keys),
                        output_obj = OBJ(output_keys), privacy_obj = OBJ(privacy_keys);

static const fs_scn_key top_keys[] = {
    KSTR("name", FS_SCN_REQ | FS_SCN_IDENT, 1, 100, NULL, name),
    {.name = "description", .type = FS_SCN_KEEP},
    KINT("seed", RANGE, 0, FS_SCN_INT_LIMIT, 1, seed),
    /* default: seed (fs_scn.c default_population_seed fills it in before the walk) */
    KINT("population_seed", RANGE, 0, FS_SCN_INT_LIMIT, 1, population_seed),
    KOBJ("data", FS_SCN_REQ, &data_obj),
    KOBJ("model", 0, &model_obj),
    KOBJ("train", 0, &train_obj),
    KOBJ("server", FS_SCN_REQ, &server_obj),
    KOBJ("devices", 0, &devices_obj),
    KOBJ("privacy", 0, &privacy_obj),
    KOBJ("eval", 0, &eval_obj),
    KOBJ("output", 0, &output_obj),
    KOBJ("adversary", 0, &adversary_obj, PRESENT(adversary.on)),
    {.name = "sweep", .type = FS_SCN_RAW},
};
const fs_scn_obj fs_scn_top_obj = OBJ(top_keys);
// clang-format on
