/* fs_scn_rules: the rules that combine a scenario with the shape of its data (see fs_scn.h).
 * Each rule is written once, here; validation and the run call the same function, so `fedsim
 * validate` refuses what `fedsim run` would refuse as soon as it has read the data. A rule
 * whose inputs are not known yet (a CSV file's classes, say) is left for the run. */
#include "fs_scn.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs_algo.h"
#include "fs_attack.h"
#include "fs_gen.h"
#include "fs_metrics.h"
#include "fs_model_kinds.h"
#include "fs_world.h"
#include "fs_robust.h"
#include "fs_server.h"

#define KNOWN(x) ((x) != FS_SCN_UNKNOWN)

int fs_scn_bad_key(const fs_scenario *s, fs_err *err, const char *path, const char *fmt, ...)
{
    if (!err) return FS_ESCENARIO;
    const char *file = err->file;
    if (s->file[0]) err->file = s->file;
    va_list ap;
    va_start(ap, fmt);
    fs_err_vadd(err, path, fmt, ap);
    va_end(ap);
    err->file = file;
    return FS_ESCENARIO;
}

/* ---- the shape a scenario implies --------------------------------------------------------- */

static void add_group(fs_scn_shape *d, const char *name)
{
    if (d->n_groups < FS_SCN_SHAPE_MAX_GROUPS) d->groups[d->n_groups++] = name;
}

void fs_scn_shape_of(const fs_scenario *s, fs_scn_shape *out)
{
    *out = (fs_scn_shape){.sparse = FS_SCN_UNKNOWN, .n_classes = FS_SCN_UNKNOWN};
    fs_scn_shape *d = out;
    switch (s->data.source) {
    case FS_SRC_FASHION_MNIST:
        *d = (fs_scn_shape){.sparse = 0, .n_classes = 10, .n_features = 784, .groups_known = true};
        break;
    case FS_SRC_SYNTHETIC: /* Li et al.'s synthetic(alpha, beta): 60 features, 10 classes */
        *d = (fs_scn_shape){.sparse = 0,
                            .n_classes = 10,
                            .n_features = 60,
                            .groups_known = true,
                            .client_test = true};
        break;
    case FS_SRC_MARKETING:
        *d = (fs_scn_shape){.sparse = 1,
                            .n_classes = 2,
                            .groups_known = true,
                            .client_test = true,
                            .n_features = (size_t)1 << s->data.marketing.hash_bits};
        add_group(d, "region"), add_group(d, "device"), add_group(d, "age_band");
        break;
    case FS_SRC_FRAUD:
        *d = (fs_scn_shape){.sparse = 0,
                            .n_classes = 2,
                            .groups_known = true,
                            .client_test = true,
                            .n_features = FS_FRAUD_N_DENSE + s->data.fraud.n_merchant_categories +
                                          s->data.fraud.n_segments};
        add_group(d, "segment");
        break;
    case FS_SRC_RATINGS:
        *d = (fs_scn_shape){.sparse = 1,
                            .n_classes = 0,
                            .groups_known = true,
                            .client_test = true,
                            .n_features = s->data.ratings.n_items};
        add_group(d, "user");
        break;
    case FS_SRC_CSV: {
        const typeof(s->data.csv) *c = &s->data.csv;
        /* categorical columns hashed or indexed make sparse rows; one-hot ones stay dense */
        d->sparse = c->encoding != FS_ENC_ONEHOT && c->n_categorical > 0;
        if (c->regression)
            d->n_classes = 0;
        else if (c->positive[0])
            d->n_classes = 2;
        d->groups_known = true;
        for (size_t i = 0; i < c->n_groups; i++)
            add_group(d, c->groups[i]);
        d->client_test = s->data.partition == FS_PART_NATURAL;
        break;
    }
    case FS_SRC_LIBSVM:
        d->sparse = 1;
        d->groups_known = true; /* LIBSVM rows have no group columns */
        d->n_features = s->data.libsvm.n_features;
        break;
    }
}

/* ---- the rules ---------------------------------------------------------------------------- */

static bool has_group(const fs_scn_shape *d, const char *name)
{
    for (size_t i = 0; i < d->n_groups; i++)
        if (!strcmp(d->groups[i], name)) return true;
    return false;
}

/* Why the model cannot train on these data, or NULL: the kind's rows, its own rule, its task
 * (fs_model_kinds.c). */
static const char *model_misfit(const fs_scenario *s, const fs_scn_shape *d, char *buf, size_t n)
{
    const fs_model_desc *mk = fs_model_kind_of(s);
    int k = d->n_classes;
    if (mk->rows == FS_ROWS_DENSE && d->sparse == 1) {
        snprintf(buf, n, "%s needs dense features%s", mk->name,
                 mk->dense_hint ? mk->dense_hint : "");
        return buf;
    }
    const char *why = mk->misfit ? mk->misfit(s, d) : NULL;
    if (why) return why;
    if (mk->task == FS_LABELS_CLASSES && KNOWN(k) && k < 2)
        snprintf(buf, n, "%s needs a classification task", mk->name);
    else if (mk->task == FS_LABELS_BINARY && KNOWN(k) && k != 2)
        snprintf(buf, n, "%s needs a binary task (2 classes)", mk->name);
    else
        return NULL;
    return buf;
}

static int check_model(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    char buf[160];
    const char *why = model_misfit(s, d, buf, sizeof buf);
    if (!why) {
        const fs_model_desc *mk = fs_model_kind_of(s);
        return mk->check ? mk->check(s, d, err) : FS_OK;
    }
    if (d->n_features && KNOWN(d->sparse) && KNOWN(d->n_classes))
        return fs_scn_bad_key(s, err, "model.kind",
                              "%s; the data have %zu %s features and %d classes", why,
                              d->n_features, d->sparse ? "sparse" : "dense", d->n_classes);
    return fs_scn_bad_key(s, err, "model.kind", "%s", why);
}

/* The algorithms whose needs include (or, when !with, exclude) `need`, as an English list joined
 * by `last` ("a, b and c"), into buf. */
static const char *algo_list(unsigned need, bool with, const char *last, char *buf, size_t n)
{
    size_t count = 0, total = 0, len = 0;
    for (size_t i = 0; fs_algo_at(i); i++)
        total += !(fs_algo_at(i)->needs & need) != with;
    buf[0] = 0;
    for (size_t i = 0; fs_algo_at(i) && len < n; i++) {
        if (!(fs_algo_at(i)->needs & need) == with) continue;
        const char *sep = count == 0 ? "" : count + 1 == total ? last : ", ";
        len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, fs_algo_at(i)->name);
        count++;
    }
    return buf;
}

/* Combinations the engine cannot simulate faithfully: an algorithm's needs (fs_algo.h) and the
 * rest. The first that applies is reported. */
static int check_engine(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    const fs_algo *alg = fs_algo_of(s);
    char list[256];
    /* logistic regression and matrix factorization train sparse updates on sparse rows */
    bool sparse_updates = fs_model_kind_sparse_updates(s, d->sparse);
    bool compressed = s->train.compression != FS_COMP_NONE;
    if (sparse_updates && (alg->needs & FS_ALGO_DENSE))
        return fs_scn_bad_key(s, err, "server.algorithm",
                              "%s need a dense model (this one trains sparse updates)",
                              algo_list(FS_ALGO_DENSE, true, " and ", list, sizeof list));
    if ((alg->needs & FS_ALGO_CLASSES) && d->n_classes == 0)
        return fs_scn_bad_key(s, err, "server.algorithm", "%s needs a classification task",
                              alg->name);
    if ((alg->needs & FS_ALGO_NO_PRIVACY) && (s->privacy.dp || s->privacy.secure_aggregation))
        return fs_scn_bad_key(s, err, "server.algorithm",
                              "%s cannot be combined with privacy.dp or privacy.secure_aggregation",
                              alg->name);
    if (s->server.mode == FS_SERVER_ASYNC &&
        ((alg->needs & FS_ALGO_SYNC) || s->privacy.secure_aggregation))
        return fs_scn_bad_key(s, err, "server.mode",
                              "async (FedBuff) runs %s, without secure aggregation",
                              algo_list(FS_ALGO_SYNC, false, " or ", list, sizeof list));
    if (sparse_updates && s->train.error_feedback && compressed)
        return fs_scn_bad_key(s, err, "train.compression",
                              "error feedback needs a dense model (a residual of every parameter "
                              "per client)");
    return FS_OK;
}

/* server.robust (fs_robust.h): the combinations its aggregator cannot work in, then its
 * preconditions on the n reports one server step aggregates. The first that applies is reported. */
static int check_robust(const fs_scenario *s, fs_err *err)
{
    const fs_robust *rob = fs_robust_of(s);
    if (!rob) return FS_OK;
    const fs_algo *alg = fs_algo_of(s);
    char path[64], list[256], why[320];
    snprintf(path, sizeof path, "server.robust.%s", rob->name);
    if (alg->needs & FS_ALGO_OWN_MEAN)
        return fs_scn_bad_key(s, err, "server.robust",
                              "cannot be combined with server.algorithm \"%s\" (%s build their "
                              "server step on the plain mean of the raw deltas: q-FFL replaces it, "
                              "FedNova rescales each delta by its local steps, SCAFFOLD averages "
                              "every control delta into c)",
                              alg->name,
                              algo_list(FS_ALGO_OWN_MEAN, true, " and ", list, sizeof list));
    if ((rob->needs & FS_ROBUST_SEES_UPDATES) && s->privacy.secure_aggregation)
        return fs_scn_bad_key(s, err, path,
                              "cannot be combined with privacy.secure_aggregation: the server "
                              "learns only the sum of the updates, and %s needs each one "
                              "(norm_bound composes with it: clients clip their own updates and "
                              "can prove the bound in zero knowledge)",
                              rob->noun);
    if ((rob->needs & FS_ROBUST_SEES_UPDATES) && s->privacy.dp)
        return fs_scn_bad_key(s, err, path,
                              "cannot be combined with privacy.dp: its noise is calibrated to the "
                              "mean's sensitivity (one client moves the sum by at most clip), and "
                              "%s of clipped updates can move further when one client changes "
                              "(norm_bound composes with it: a second clip)",
                              rob->noun);
    const char *key = NULL;
    size_t n = (size_t)fs_server_of(s->server.mode)->step_reports(s);
    if (rob->misfit && rob->misfit(s, n, &key, why, sizeof why)) {
        snprintf(path + strlen(path), sizeof path - strlen(path), ".%s", key);
        return fs_scn_bad_key(s, err, path, "%s", why);
    }
    return FS_OK;
}

int fs_scn_check_metric_fits(const fs_scenario *s, fs_err *err, const char *path, const char *name,
                             int n_classes, bool recommender)
{
    fs_metric m = fs_metric_from_name(name);
    if (fs_metric_fits(m, n_classes, recommender)) return FS_OK;
    if (m == FS_METRIC_HR10)
        return fs_scn_bad_key(s, err, path,
                              "expected a metric of a recommender (model.kind \"mf\") task, found "
                              "\"%s\"",
                              name);
    char fit[128];
    unsigned task = fs_metric_task_of(n_classes, recommender);
    fs_metric_list(task, fit, sizeof fit);
    return fs_scn_bad_key(s, err, path, "expected a metric of a %s task (%s), found \"%s\"",
                          task & FS_TASK_REGRESSION ? "regression"
                          : task & FS_TASK_BINARY   ? "binary"
                                                    : "multiclass",
                          fit, name);
}

static int check_metrics(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    int rc = FS_OK;
    bool recommender = fs_model_kind_of(s)->recommender && d->client_test;
    for (size_t i = 0; KNOWN(d->n_classes) && i < s->eval.n_metrics; i++) {
        char path[40];
        snprintf(path, sizeof path, "eval.metrics[%zu]", i);
        rc |= fs_scn_check_metric_fits(s, err, path, s->eval.metrics[i], d->n_classes, recommender);
    }
    if (!s->eval.has_target) return rc;
    if (KNOWN(d->n_classes) &&
        fs_scn_check_metric_fits(s, err, "eval.target.metric", s->eval.target_metric, d->n_classes,
                                 recommender))
        return FS_ESCENARIO;
    /* a target on a metric the run never computes would never be reached */
    bool listed = s->eval.n_metrics == 0;
    for (size_t i = 0; i < s->eval.n_metrics; i++)
        listed = listed || !strcmp(s->eval.metrics[i], s->eval.target_metric);
    if (!listed)
        rc = fs_scn_bad_key(s, err, "eval.target.metric",
                            "expected one of the metrics in eval.metrics, found \"%s\"",
                            s->eval.target_metric);
    return rc;
}

/* A group column the scenario names (a segment, the consent group) must be in the data. */
static int check_group(const fs_scenario *s, const fs_scn_shape *d, const char *path,
                       const char *name, fs_err *err)
{
    if (!d->groups_known || has_group(d, name)) return FS_OK;
    char have[256] = "none";
    for (size_t g = 0, at = 0; g < d->n_groups && at < sizeof have; g++)
        at += (size_t)snprintf(have + at, sizeof have - at, "%s%s", g ? ", " : "", d->groups[g]);
    return fs_scn_bad_key(s, err, path, "expected a group column of the data (%s), found \"%s\"",
                          have, name);
}

/* server.aggregation_weights other than samples. ipw weights by the first eval.segments group's
 * participation rates. DP-FedAvg's sensitivity bound (one client moves the mean by at most
 * S / K) holds only when every report weighs the same, and q-FFL weighs reports by its own
 * rule. */
static int check_weights(const fs_scenario *s, fs_err *err)
{
    static const char path[] = "server.aggregation_weights";
    enum fs_agg_weights w = s->server.aggregation_weights;
    if (w == FS_AGGW_SAMPLES) return FS_OK;
    const char *name = w == FS_AGGW_IPW ? "ipw" : "uniform";
    if (w == FS_AGGW_IPW && s->eval.n_segments == 0)
        return fs_scn_bad_key(s, err, path,
                              "expected \"samples\" or \"uniform\" without eval.segments (ipw "
                              "weights reports by the participation of the first eval.segments "
                              "group), found \"ipw\"");
    if (w == FS_AGGW_IPW && s->privacy.dp)
        return fs_scn_bad_key(s, err, path,
                              "expected \"samples\" or \"uniform\" with privacy.dp (DP-FedAvg "
                              "weighs every report equally: its noise is calibrated to one "
                              "client moving the mean by at most clip / K), found \"ipw\"");
    if (fs_algo_of(s)->server_step)
        return fs_scn_bad_key(s, err, path,
                              "expected \"samples\" with server.algorithm %s (it weighs reports "
                              "by its own rule), found \"%s\"",
                              fs_algo_of(s)->name, name);
    return FS_OK;
}

/* ---- levels of group columns: time zones by level, the adversary's segment ---- */

/* How many levels group column `group` has as far as the scenario says (mc receives the
 * marketing generator's configuration), 0 when not known before the data are read. The
 * generators' levels follow from the scenario alone. */
static size_t known_levels(const fs_scenario *s, const char *group, fs_marketing_cfg *mc)
{
    if (s->data.source == FS_SRC_FRAUD && !strcmp(group, "segment"))
        return s->data.fraud.n_segments;
    if (s->data.source != FS_SRC_MARKETING) return 0;
    fs_world_marketing_cfg(s, mc);
    return fs_gen_marketing_levels(mc, group);
}

int fs_scn_check_utc_levels(const fs_scenario *s, size_t n_levels, fs_err *err)
{
    if (n_levels == s->devices.n_utc_offsets) return FS_OK;
    return fs_scn_bad_key(s, err, "devices.availability.diurnal.utc_offsets_h",
                          "expected %zu offsets, one per level of \"%s\" (utc_offset_by), "
                          "found %zu",
                          n_levels, s->devices.utc_offset_by, s->devices.n_utc_offsets);
}

/* devices.availability.diurnal.utc_offset_by: a group column of the data, with one offset per
 * level where the levels are known (fs_run checks the rest once the data are read). */
static int check_utc_offset_by(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    const char *group = s->devices.utc_offset_by;
    if (!group[0] || s->devices.availability != FS_AVAIL_DIURNAL) return FS_OK;
    if (check_group(s, d, "devices.availability.diurnal.utc_offset_by", group, err))
        return FS_ESCENARIO;
    fs_marketing_cfg mc;
    size_t levels = known_levels(s, group, &mc);
    return levels ? fs_scn_check_utc_levels(s, levels, err) : FS_OK;
}

/* Whether `name` is a level of group column `group` as far as the scenario says: 1 yes, 0 no
 * (with the levels listed in `have`), -1 not known before the data are read (fs_run checks those
 * levels then). The generators' level names follow from the scenario alone. */
static int known_level(const fs_scenario *s, const char *group, const char *name, char *have,
                       size_t n)
{
    fs_marketing_cfg mc;
    size_t levels = known_levels(s, group, &mc);
    if (!levels) return -1;
    size_t at = 0;
    have[0] = 0;
    for (size_t i = 0; i < levels && at < n; i++) {
        char lv[FS_SCN_NAME_LEN];
        if (s->data.source == FS_SRC_FRAUD)
            fs_gen_fraud_segment_name(i, lv, sizeof lv);
        else
            fs_gen_marketing_level_name(&mc, group, i, lv, sizeof lv);
        if (!strcmp(lv, name)) return 1;
        at += (size_t)snprintf(have + at, n - at, "%s\"%s\"", i ? ", " : "", lv);
    }
    return 0;
}

/* A level named at `path` (adversary.segment, the backdoor's segment) of eval.segments[0]. */
static int check_level(const fs_scenario *s, const char *path, const char *name, fs_err *err)
{
    if (!s->eval.n_segments)
        return fs_scn_bad_key(s, err, path,
                              "expected a level of eval.segments[0], found \"%s\" with no "
                              "eval.segments (name the group column there)",
                              name);
    char have[512];
    if (known_level(s, s->eval.segments[0], name, have, sizeof have) != 0) return FS_OK;
    return fs_scn_bad_key(s, err, path, "expected a level of \"%s\" (eval.segments[0]: %s), found "
                          "\"%s\"", s->eval.segments[0], have, name);
}

static int check_backdoor(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    const char *path = "adversary.attack.scale.backdoor";
    bool feature = s->adversary.bd_feature >= 0, segment = s->adversary.bd_segment[0] != 0;
    if (feature == segment)
        return fs_scn_bad_key(s, err, path,
                              "expected exactly one of \"feature\" (a trigger) or \"segment\" "
                              "(a target level), found %s",
                              feature ? "both" : "neither");
    if (segment) return check_level(s, "adversary.attack.scale.backdoor.segment",
                                    s->adversary.bd_segment, err);
    if (d->n_features && (size_t)s->adversary.bd_feature >= d->n_features)
        return fs_scn_bad_key(s, err, "adversary.attack.scale.backdoor.feature",
                              "expected a feature index below %zu (the data's features), found %d",
                              d->n_features, s->adversary.bd_feature);
    return FS_OK;
}

/* The attack fits the task (its table row's misfit), the levels it names exist, and it starts
 * within the campaign. */
static int check_adversary(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    if (!s->adversary.on) return FS_OK;
    const fs_attack *a = fs_attack_of(s);
    char path[64], buf[160];
    snprintf(path, sizeof path, "adversary.attack.%s%s", a->name,
             fs_attack_has_backdoor(s) ? ".backdoor" : "");
    const char *why = a->misfit ? a->misfit(s, d->n_classes, d->sparse, buf, sizeof buf) : NULL;
    int rc = why ? fs_scn_bad_key(s, err, path, "%s", why) : FS_OK;
    if (s->adversary.start_round > s->server.rounds)
        rc |= fs_scn_bad_key(s, err, "adversary.start_round",
                             "expected integer <= server.rounds (%d): the attack would never "
                             "start, found %d",
                             s->server.rounds, s->adversary.start_round);
    if (s->adversary.segment[0] && s->data.on_demand)
        rc |= fs_scn_bad_key(s, err, "adversary.segment",
                             "expected \"\" with data.on_demand (clients' levels are not kept for "
                             "on-demand data), found \"%s\"",
                             s->adversary.segment);
    else if (s->adversary.segment[0])
        rc |= check_level(s, "adversary.segment", s->adversary.segment, err);
    if (!why && fs_attack_has_backdoor(s)) rc |= check_backdoor(s, d, err);
    return rc;
}

/* DP noise of std noise_multiplier x clip per coordinate of the sum (fs_dp.c): beyond ~1e38 it
 * overflows the float32 model to infinity in the first round, so every metric would be NaN.
 * 1e30 leaves room for the Gaussian's tail and the server's step; any noise that large has
 * already drowned every update (epsilon is 0 to printing precision long before). */
#define DP_NOISE_MAX 1e30

static int check_dp_noise(const fs_scenario *s, fs_err *err)
{
    if (!s->privacy.dp) return FS_OK;
    double noise = s->privacy.noise_multiplier * s->privacy.clip;
    if (noise <= DP_NOISE_MAX) return FS_OK;
    return fs_scn_bad_key(s, err, "privacy.dp.noise_multiplier",
                          "expected noise_multiplier x clip <= %g (larger noise overflows the "
                          "float32 model in the first round), found %g x %g = %g",
                          DP_NOISE_MAX, s->privacy.noise_multiplier, s->privacy.clip, noise);
}

int fs_scn_check_shape(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    int rc = check_model(s, d, err);
    rc |= check_dp_noise(s, err);
    rc |= check_weights(s, err);
    rc |= check_engine(s, d, err);
    rc |= check_robust(s, err);
    rc |= check_metrics(s, d, err);
    for (size_t i = 0; i < s->eval.n_segments; i++) {
        char path[40];
        snprintf(path, sizeof path, "eval.segments[%zu]", i);
        rc |= check_group(s, d, path, s->eval.segments[i], err);
    }
    if (s->privacy.consent_group[0])
        rc |= check_group(s, d, "privacy.consent.group", s->privacy.consent_group, err);
    rc |= check_adversary(s, d, err);
    rc |= check_utc_offset_by(s, d, err);
    if (s->data.partition == FS_PART_NATURAL) /* pooled sources only: others stay iid */
        rc |= check_group(s, d, "data.partition.natural.group", s->data.natural_group, err);
    return rc ? FS_ESCENARIO : FS_OK;
}
