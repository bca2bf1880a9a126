/* fs_scn: scenario files. Parses a scenario JSON file (with cJSON), applies --set overrides and
 * validates everything into a typed fs_scenario before any other file is opened. Every problem
 * is reported at once, each naming the file and JSON path, what was expected and what was found;
 * unknown keys are errors that suggest the nearest valid key. Defaults live here and only here. */
#ifndef FS_SCN_H
#define FS_SCN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

/* Device classes of the energy model (devices.classes), in this order: low, mid, high. */
#define FS_SCN_N_DEV_CLASSES 3

/* A scalar drawn per client: a constant, lognormal(mu, sigma) of the natural log, or
 * uniform(min, max). JSON: 12.5 | {"lognormal": {"mu": 1, "sigma": 0.6}} |
 * {"uniform": {"min": 1, "max": 4}}. */
enum fs_dist_kind { FS_DIST_CONST, FS_DIST_LOGNORMAL, FS_DIST_UNIFORM };
typedef struct fs_dist {
    enum fs_dist_kind kind;
    double a; /* const value | mu | min */
    double b; /* unused | sigma | max */
} fs_dist;

/* Order matters: fs_scn's tables index words by these values. */
enum fs_data_source {
    FS_SRC_FASHION_MNIST,
    FS_SRC_SYNTHETIC,
    FS_SRC_MARKETING,
    FS_SRC_FRAUD,
    FS_SRC_RATINGS,
    FS_SRC_CSV,
    FS_SRC_LIBSVM
};
enum fs_partition_kind {
    FS_PART_IID,
    FS_PART_DIRICHLET,
    FS_PART_SHARDS,
    FS_PART_QUANTITY_LOGNORMAL,
    FS_PART_QUANTITY_POWERLAW,
    FS_PART_NATURAL
};
enum fs_avail_kind { FS_AVAIL_ALWAYS, FS_AVAIL_MARKOV, FS_AVAIL_DIURNAL, FS_AVAIL_TRACE };
/* Model kinds, each with its model.kind word, in one list: the enum and the schema's words are
 * made from it, and sim/world/fs_model_kinds.c describes each kind (what it needs, its constructor). */
#define FS_MODEL_KINDS(X)                                                                          \
    X(FS_MODEL_SOFTMAX, "softmax")                                                                 \
    X(FS_MODEL_MLP, "mlp")                                                                         \
    X(FS_MODEL_CNN, "cnn")                                                                         \
    X(FS_MODEL_LOGREG, "logreg")                                                                   \
    X(FS_MODEL_MF, "mf")                                                                           \
    X(FS_MODEL_PLUGIN, "plugin")
#define FS_MODEL_ENUM_(kind, word) kind,
enum fs_model_kind { FS_MODEL_KINDS(FS_MODEL_ENUM_) FS_MODEL_N_KINDS };
#undef FS_MODEL_ENUM_
enum fs_csv_encoding { FS_ENC_ONEHOT, FS_ENC_HASH, FS_ENC_INDEX };
enum fs_server_mode { FS_SERVER_SYNC, FS_SERVER_ASYNC };
/* also fs_serveropt_cfg.kind */
enum fs_optimizer { FS_SOPT_SGD, FS_SOPT_MOMENTUM, FS_SOPT_ADAM, FS_SOPT_YOGI, FS_SOPT_ADAGRAD };
enum fs_selection { FS_SELECT_UNIFORM, FS_SELECT_FASTEST };
/* server.aggregation_weights: a report's weight is its sample count, 1, or its sample count over
 * its segment level's participation rate (fs_agg.h) */
enum fs_agg_weights { FS_AGGW_SAMPLES, FS_AGGW_UNIFORM, FS_AGGW_IPW };
enum fs_staleness { FS_STALE_CONSTANT, FS_STALE_SQRT };
/* also fs_compress_cfg.kind */
enum fs_compression { FS_COMP_NONE, FS_COMP_TOPK, FS_COMP_RANDK, FS_COMP_QUANTIZE };
/* adversary.attack; also the rows of sim/client/fs_attack.c's table, in this order */
enum fs_attack_kind {
    FS_ATTACK_LABEL_FLIP,
    FS_ATTACK_SIGN_FLIP,
    FS_ATTACK_SCALE,
    FS_ATTACK_GAUSSIAN,
    FS_ATTACK_FREE_RIDE
};
/* server.robust: rows of fs_robust's table (sim/aggregation/fs_robust.h); NONE without the key or
 * with "none" */
enum fs_robust_kind {
    FS_ROBUST_NONE,
    FS_ROBUST_MEDIAN,
    FS_ROBUST_TRIMMED_MEAN,
    FS_ROBUST_KRUM,
    FS_ROBUST_NORM_BOUND,
    FS_ROBUST_N_KINDS
};

#define FS_SCN_MAX_OFFSETS 48
#define FS_SCN_MAX_COLUMNS 64   /* csv feature / categorical columns named in a scenario */
#define FS_SCN_MAX_NAMES 8      /* csv group columns, eval segments, eval metrics */
#define FS_SCN_MAX_LAYERS 8     /* mlp hidden layers */
#define FS_SCN_NAME_LEN 32
#define FS_SCN_MAX_LEVELS 64    /* consent shares per segment level */
#define FS_SCN_JSON_LEN 4096    /* a JSON value kept as text (model.plugin.config) */

typedef struct fs_scenario {
    char name[128];
    uint64_t seed;            /* everything drawn during the campaign (see models/README.md) */
    uint64_t population_seed; /* everything drawn once per client before it (default: seed) */

    struct {
        enum fs_data_source source;
        size_t clients;
        char path[512];        /* fashion-mnist: folder with the four IDX .gz files */
        size_t train_samples;  /* fashion-mnist: keep first N training images, 0 = all */
        size_t test_samples;   /* fashion-mnist: keep first N test images, 0 = all */
        enum fs_partition_kind partition;
        double dirichlet_alpha;
        double synth_alpha, synth_beta;   /* synthetic */
        size_t synth_max_per_client;      /* synthetic, 0 = no cap */
        double synth_train_fraction;      /* synthetic */
        /* partitions beyond iid/dirichlet */
        size_t shards_per_client;
        double quantity_param;            /* lognormal sigma | power-law exponent */
        size_t quantity_min;
        char natural_group[FS_SCN_NAME_LEN];
        double skew_scale_sigma, skew_shift_sigma; /* feature skew, 0 = none */
        bool on_demand;                   /* generated sources: make a client's data when needed */
        /* generators (names as in models/data/fs_gen.h) */
        struct {
            size_t n_regions, n_devices, n_age_bands, n_interests, n_campaigns, n_categories;
            int hash_bits;
            double base_rate, exposure_mu, exposure_sigma, region_shift, test_fraction;
        } marketing;
        struct {
            size_t n_segments, n_merchant_categories;
            double fraud_rate, tx_mu, tx_sigma, test_fraction;
        } fraud;
        struct {
            size_t n_items, latent_dim;
            double popularity_s, activity_mu, activity_sigma, noise_sigma, test_fraction;
        } ratings;
        /* files */
        struct {
            char path[512];
            char label[FS_SCN_NAME_LEN];
            char features[FS_SCN_MAX_COLUMNS][FS_SCN_NAME_LEN];
            size_t n_features;
            char groups[FS_SCN_MAX_NAMES][FS_SCN_NAME_LEN];
            size_t n_groups;
            char categorical[FS_SCN_MAX_COLUMNS][FS_SCN_NAME_LEN];
            size_t n_categorical;
            enum fs_csv_encoding encoding;
            size_t hash_buckets;
            char positive[FS_SCN_NAME_LEN]; /* "" = classes from distinct labels */
            bool regression;
            double test_fraction;
            bool standardize; /* features scaled by the training rows' mean and sd */
        } csv;
        struct {
            char path[512];
            size_t n_features;
            bool zero_based;
            double test_fraction;
        } libsvm;
    } data;

    struct {
        enum fs_model_kind kind;
        int hidden[FS_SCN_MAX_LAYERS];   /* mlp */
        size_t n_hidden;
        bool sigmoid_output;             /* mlp, binary tasks */
        size_t height, width, channels;  /* cnn */
        double l2;                       /* logreg, mf */
        size_t factors;                  /* mf: latent dimension */
        char plugin_path[512];           /* plugin: the shared object */
        char plugin_config[FS_SCN_JSON_LEN]; /* plugin: model.plugin.config as compact JSON */
    } model;

    struct {
        int epochs;
        size_t batch_size;
        double lr;
        enum fs_compression compression;
        double compress_fraction;        /* topk, randk */
        int compress_bits;               /* quantize */
        bool error_feedback;
    } train;

    struct {
        enum fs_server_mode mode;
        int algorithm;             /* row of fs_algo's table: fs_algo_names[algorithm] */
        int rounds;
        size_t clients_per_round;
        double over_selection;     /* >= 1: select ceil(clients_per_round * over_selection) */
        double deadline_s;         /* round closes at this virtual duration at the latest */
        double retry_s;            /* wait when nobody is available */
        double round_interval_s;   /* pace steering: rounds start at least this far apart */
        double max_virtual_hours;  /* stop the campaign at this virtual time (0 = no limit) */
        double ingress_mbps;       /* shared server links (fs_link.h); 0 = unlimited */
        double egress_mbps;
        bool has_ingress, has_egress; /* the keys were given */
        double mu;                 /* fedprox proximal weight */
        double q;                  /* qffl fairness exponent */
        enum fs_optimizer optimizer;
        double server_lr, beta1, beta2, tau;
        enum fs_selection selection;
        double fastest_pool;       /* fastest: candidates examined per client wanted */
        size_t concurrency, buffer_size;  /* async (FedBuff) */
        enum fs_staleness staleness;
        int max_staleness;
        enum fs_robust_kind robust;  /* server.robust (fs_robust.h) */
        bool has_robust;             /* the key was given */
        double robust_beta;          /* trimmed_mean: share trimmed at each end */
        size_t krum_f, krum_m;       /* krum: tolerated attackers, reports averaged */
        double robust_max_norm;      /* norm_bound: L2 bound of every update */
        enum fs_agg_weights aggregation_weights;
        double ipw_floor;          /* ipw: the relative rate a weight divides by at least */
    } server;

    struct {
        bool on;                   /* the adversary key was given */
        double share;              /* share of the eligible clients that are attackers */
        char segment[FS_SCN_NAME_LEN]; /* "": any client; else a level of eval.segments[0] */
        int start_round;           /* attacks from this round on (honest before) */
        enum fs_attack_kind attack;
        double sign_scale;         /* sign_flip: lambda, sends -lambda x the honest update */
        double boost;              /* scale: gamma */
        bool backdoor;             /* scale.backdoor given */
        int bd_feature;            /* backdoor trigger: this feature (dense) := bd_value; -1 none */
        double bd_value;
        char bd_segment[FS_SCN_NAME_LEN]; /* backdoor target: rows of this level; "" none */
        int bd_label;              /* the class the backdoor makes the model predict */
    } adversary;

    struct {
        bool dp;
        double clip, noise_multiplier, delta;
        bool secure_aggregation;
        int secagg_bits, secagg_frac_bits;
        bool secagg_verify;        /* run the real masking protocol and check it (small runs) */
        double consent_share;      /* share of clients who consent */
        char consent_group[FS_SCN_NAME_LEN]; /* per-level shares by this group column */
        int consent_percent[FS_SCN_MAX_LEVELS];
        size_t n_consent_percent;
    } privacy;

    struct {
        fs_dist gflops, uplink_mbps, downlink_mbps, latency_ms;
        double failure_prob;       /* per participation */
        enum fs_avail_kind availability;
        double mean_on_min, mean_off_min;              /* markov */
        double peak_hour, min_share, max_share;        /* diurnal */
        double mean_session_min;                       /* diurnal */
        int utc_offsets_q[FS_SCN_MAX_OFFSETS]; /* diurnal: quarter hours (5.5 h = 22), drawn
                                                * uniformly per client */
        size_t n_utc_offsets;
        char utc_offset_by[FS_SCN_NAME_LEN]; /* diurnal: "" or a group column: level i of it
                                              * lives at utc_offsets_q[i] */
        char avail_trace[512];   /* trace: availability file (relative: to the scenario's folder) */
        int avail_assign;        /* trace: fs_trace_assign, client -> key */
        bool cap_on;             /* devices.capacity given: links and compute from its trace */
        char cap_trace[512];     /* capacity trace file (relative: to the scenario's folder) */
        int cap_assign;          /* fs_trace_assign, client -> capacity key */
        fs_dist cell_uplink_mbps, cell_downlink_mbps, cell_latency_ms; /* devices.cellular */
        struct {
            double evening_start_h, morning_end_h; /* overnight charging window, local time */
            double share;                          /* share of nights a phone charges */
            double day_prob, day_session_h;        /* one daytime session a day, by chance */
            double rate_per_h;                     /* battery share refilled per hour */
        } charging;
        struct {
            bool on;                           /* devices.network given: else always Wi-Fi */
            double wifi_share;                 /* share of clients with Wi-Fi at home */
            double home_start_h, home_end_h;   /* home hours, local time */
            double away_wifi_share;            /* chance a day's away hours are on Wi-Fi */
        } network;
        struct {
            bool charging, unmetered;
            double min_battery;
        } eligibility;
        fs_dist battery_initial; /* initial battery level, clamped to [0, 1] */
        struct fs_scn_dev_class {
            double share, j_per_gflop, wifi_tx_w, wifi_rx_w, cell_tx_w, cell_rx_w, cell_tail_w,
                cell_tail_s, battery_wh;
        } classes[FS_SCN_N_DEV_CLASSES]; /* devices.classes.low, .mid, .high */
    } devices;

    struct {
        int every_rounds;
        char metrics[FS_SCN_MAX_NAMES][FS_SCN_NAME_LEN]; /* empty: chosen by the task */
        size_t n_metrics;
        char segments[FS_SCN_MAX_NAMES][FS_SCN_NAME_LEN]; /* group columns to break down by */
        size_t n_segments;
        bool worst_clients;  /* worst-10% client metric (needs per-client test data) */
        bool train_metrics;  /* also evaluate on the training data (segment "train") */
        size_t sample_clients; /* data.on_demand: evaluate on these clients' test rows */
        bool has_target;     /* eval.target given */
        char target_metric[FS_SCN_NAME_LEN];
        double target_value;
        int target_sustain;  /* evaluations in a row the target must hold for (>= 1) */
    } eval;

    struct {
        char db[512];
        bool participation;
        int checkpoint_every;  /* sync: keep the engine's state every N rounds, 0 = never */
        double checkpoint_min_interval_s; /* ... at most once per this many wall seconds */
    } output;

    char file[512];   /* the scenario file as the user named it ("" from text): messages about
                         its keys found after validation (fs_scn_bad_key) still name it */
    char *json;       /* the effective scenario (file + overrides + defaults filled in), owned */
    char *sweep_json; /* the "sweep" object as written (NULL when none), owned; not part of json:
                         each variant's run records its own effective scenario */
} fs_scenario;

/* Loads, overrides and validates. `sets` are "json.path=value" strings (value parsed as JSON,
 * or taken as a string when it is not valid JSON). On any error returns FS_ESCENARIO (FS_EIO when
 * the file cannot be read, FS_ENOMEM) with every message in err, and `out` holds nothing to free.
 * err->file should be the scenario path as the user gave it. */
int fs_scn_load(const char *path, const char *const *sets, size_t n_sets, fs_scenario *out,
                fs_err *err);

/* Same, from text in memory (err->file names it in messages). */
int fs_scn_parse(const char *text, const char *const *sets, size_t n_sets, fs_scenario *out,
                 fs_err *err);

void fs_scn_fini(fs_scenario *s);

/* ---- rules that combine the scenario with the shape of its data (fs_scn_rules.c) ----------
 * One place for every rule that needs to know what the data look like: the model fits the data,
 * the algorithm and server fit the model, metrics and the target fit the task, named group
 * columns exist. `fedsim validate` applies them to the shape the scenario alone implies
 * (generated sources and Fashion-MNIST are known in full, CSV and LIBSVM files in part); the run
 * applies them again, before any output exists, to the shape of the loaded data. */

#define FS_SCN_UNKNOWN (-1)
#define FS_SCN_SHAPE_MAX_GROUPS 16

typedef struct fs_scn_shape {
    int sparse;        /* 1 sparse rows, 0 dense, FS_SCN_UNKNOWN until a file is read */
    int n_classes;     /* 0 regression, >= 2 classes, FS_SCN_UNKNOWN */
    size_t n_features; /* 0 when not known */
    bool groups_known; /* groups lists every group column of the data */
    const char *groups[FS_SCN_SHAPE_MAX_GROUPS]; /* borrowed */
    size_t n_groups;
    bool client_test;  /* test rows belong to clients (hit rate, per-client metrics) */
} fs_scn_shape;

/* The shape of the data as far as the scenario says. Borrows names from s. */
void fs_scn_shape_of(const fs_scenario *s, fs_scn_shape *out);

/* Applies every rule whose inputs are known: FS_ESCENARIO with each failure in err (naming the
 * scenario's file and key), FS_OK. */
int fs_scn_check_shape(const fs_scenario *s, const fs_scn_shape *d, fs_err *err);

/* Metric `name` at `path` (eval.metrics[i], eval.target.metric) must be defined on a task of
 * n_classes (0: regression), a recommender being model "mf" with per-client test rows: FS_OK, or
 * FS_ESCENARIO with "expected a metric of a <task> task (<the metrics that are>), found ...". */
int fs_scn_check_metric_fits(const fs_scenario *s, fs_err *err, const char *path,
                             const char *name, int n_classes, bool recommender);

/* devices.availability.diurnal.utc_offset_by names a group of n_levels levels: utc_offsets_h
 * must list one offset per level. FS_OK, or FS_ESCENARIO naming utc_offsets_h. */
int fs_scn_check_utc_levels(const fs_scenario *s, size_t n_levels, fs_err *err);

/* ---- memory (fs_scn_mem.c) ---- */

/* What a scenario is expected to need, in bytes, before anything is allocated. */
typedef struct fs_scn_mem {
    double n_params;  /* of the model (0 when the feature count is not known yet) */
    double copies;    /* model-sized buffers alive at once (in flight, per thread, server) */
    double model;     /* those copies and per-client algorithm state */
    double data;      /* materialised rows (every client's, or the evaluation sample's) */
    double clients;   /* population records (and a recommender's private factors) */
    double total;
} fs_scn_mem;

void fs_scn_mem_estimate(const fs_scenario *s, const fs_scn_shape *d, int n_threads,
                         fs_scn_mem *out);

/* Refuses (FS_ESCENARIO, naming the key to change, the estimate and the remedy) a scenario whose
 * estimate exceeds FEDSIM_MAX_MEMORY (e.g. "8G") or else the machine's memory (MemTotal). */
int fs_scn_check_memory(const fs_scenario *s, const fs_scn_shape *d, fs_err *err);

/* Appends a message about scenario key `path`, prefixed by s->file like validation messages
 * (for checks that need the data, made after fs_scn_load). Returns FS_ESCENARIO. */
int fs_scn_bad_key(const fs_scenario *s, fs_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The valid key an unknown `key` most likely misspells (case-insensitive edit distance within
 * max(2, length / 3)), for "did you mean" messages; NULL when none is that close. */
const char *fs_scn_nearest_key(const char *key, const char *const *names, size_t n_names);

#endif
