/* fs_scn: scenario loading. Owns the --set overrides, JSON syntax errors, the cross-field rules
 * and the effective JSON. The schema (every key, bound and default) is in fs_scn_tables.c, the
 * generic walk over it in fs_scn_walk.c. */
#include "fs_scn_int.h"

#include "fs_gen.h"
#include "fs_metrics.h"
#include "fs_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- cross-field rules -------------------------------------------------------------------- */

#define GOOD(m) (c->good[offsetof(fs_scenario, m)])

/* Every source but synthetic holds out test rows; none held out leaves nothing to evaluate on
 * (every metric NaN), so 0 is refused here, with the reason, rather than by the bound. */
static void check_test_fraction(fs_scn_ctx *c)
{
    fs_scenario *s = c->s;
    if (!GOOD(data.source)) return;
    const double *f = NULL;
    const char *path = NULL;
    switch (s->data.source) {
    case FS_SRC_MARKETING:
        f = &s->data.marketing.test_fraction, path = "data.marketing.test_fraction";
        break;
    case FS_SRC_FRAUD:
        f = &s->data.fraud.test_fraction, path = "data.fraud.test_fraction";
        break;
    case FS_SRC_RATINGS:
        f = &s->data.ratings.test_fraction, path = "data.ratings.test_fraction";
        break;
    case FS_SRC_CSV:
        f = &s->data.csv.test_fraction, path = "data.csv.test_fraction";
        break;
    case FS_SRC_LIBSVM:
        f = &s->data.libsvm.test_fraction, path = "data.libsvm.test_fraction";
        break;
    default:
        return;
    }
    if (c->good[(const char *)f - (const char *)s] && *f == 0)
        fs_scn_bad(c, path,
                   "expected a share in (0, 1) of rows held out for evaluation (0 leaves no test "
                   "rows: every metric would be NaN), found 0");
}

/* Each rule runs only when the fields it compares passed their own checks. */
static void check_cross(fs_scn_ctx *c)
{
    fs_scenario *s = c->s;
    char a[32], b[32];
    if (GOOD(devices.availability) && s->devices.availability == FS_AVAIL_DIURNAL &&
        s->devices.min_share > s->devices.max_share) {
        fs_scn_fmt_num(s->devices.max_share, a, sizeof a);
        fs_scn_fmt_num(s->devices.min_share, b, sizeof b);
        fs_scn_bad(c, "devices.availability.diurnal.min_share",
                   "expected number <= max_share (%s), found %s", a, b);
    }
    double class_total = 0;
    for (int i = 0; i < FS_SCN_N_DEV_CLASSES; i++)
        class_total += s->devices.classes[i].share;
    if (GOOD(devices.classes[0].share) && GOOD(devices.classes[1].share) &&
        GOOD(devices.classes[2].share) && class_total <= 0)
        fs_scn_bad(c, "devices.classes",
                   "expected shares of low, mid and high with a positive sum, found all 0");
    if (GOOD(data.clients) && GOOD(server.clients_per_round) &&
        s->server.clients_per_round > s->data.clients)
        fs_scn_bad(c, "server.clients_per_round",
                   "expected integer <= data.clients (%zu), found %zu", s->data.clients,
                   s->server.clients_per_round);
    if (GOOD(data.source) && s->data.source == FS_SRC_FASHION_MNIST && GOOD(data.clients) &&
        GOOD(data.train_samples) && s->data.train_samples != 0 &&
        s->data.train_samples < s->data.clients)
        fs_scn_bad(c, "data.train_samples",
                   "expected 0 (all) or integer >= data.clients (%zu), found %zu", s->data.clients,
                   s->data.train_samples);
    char all[128];
    fs_metric_list(~0u, all, sizeof all);
    for (size_t i = 0; GOOD(eval.metrics) && i < s->eval.n_metrics; i++) {
        if (fs_metric_from_name(s->eval.metrics[i]) != FS_METRIC_COUNT) continue;
        char path[64];
        snprintf(path, sizeof path, "eval.metrics[%zu]", i);
        fs_scn_bad(c, path, "expected one of %s, found \"%s\"", all, s->eval.metrics[i]);
    }
    if (GOOD(server.optimizer) && s->server.optimizer == FS_SOPT_SGD) s->server.server_lr = 1;
    const fs_metric_info *target = fs_metric_info_of(fs_metric_from_name(s->eval.target_metric));
    if (s->eval.has_target && GOOD(eval.target_metric) && !target)
        fs_scn_bad(c, "eval.target.metric", "expected one of %s, found \"%s\"", all,
                   s->eval.target_metric);
    if (s->eval.has_target && GOOD(eval.target_metric) && GOOD(eval.target_value) && target) {
        double v = s->eval.target_value;
        fs_scn_fmt_num(v, a, sizeof a);
        if (target->share && !(v >= 0 && v <= 1))
            fs_scn_bad(c, "eval.target.value",
                       "expected a number in [0, 1] (%s is a share, not a percentage), found %s",
                       s->eval.target_metric, a);
        else if (!target->share && v < 0)
            fs_scn_bad(c, "eval.target.value", "expected a number >= 0 (%s), found %s",
                       s->eval.target_metric, a);
    }
    check_test_fraction(c);
    if (GOOD(data.source) && s->data.source == FS_SRC_CSV && GOOD(data.csv.regression) &&
        GOOD(data.csv.positive) && s->data.csv.regression && s->data.csv.positive[0])
        fs_scn_bad(c, "data.csv.positive",
                   "expected \"\" with data.csv.regression true (a numeric target has no positive "
                   "class), found \"%s\"",
                   s->data.csv.positive);
    if (GOOD(data.source) && s->data.source == FS_SRC_RATINGS && GOOD(data.ratings.n_items) &&
        GOOD(data.ratings.latent_dim) &&
        (double)s->data.ratings.n_items * (double)s->data.ratings.latent_dim >
            FS_RATINGS_MAX_FACTORS)
        fs_scn_bad(c, "data.ratings.latent_dim",
                   "expected data.ratings.items x latent_dim <= 2^28 (%u), found %zu x %zu",
                   FS_RATINGS_MAX_FACTORS, s->data.ratings.n_items, s->data.ratings.latent_dim);
    /* Consent is drawn per client with these shares: all zero, and nobody can ever take part. */
    bool any_percent = false;
    for (size_t i = 0; i < s->privacy.n_consent_percent; i++)
        any_percent = any_percent || s->privacy.consent_percent[i] > 0;
    if (GOOD(privacy.consent_share) && GOOD(privacy.consent_percent) &&
        s->privacy.consent_share == 0 && !any_percent)
        fs_scn_bad(c, "privacy.consent.share",
                   "expected a share > 0 (with 0 and no percent_by_level above 0, no client "
                   "consents and none can ever be selected), found 0");
    if (GOOD(privacy.consent_percent) && s->privacy.n_consent_percent &&
        !s->privacy.consent_group[0])
        fs_scn_bad(c, "privacy.consent.group",
                   "expected the group column that percent_by_level refers to, found \"\"");
    if (GOOD(name) && s->output.db[0] == '\0')
        snprintf(s->output.db, sizeof s->output.db, "results/%s.sqlite", s->name);
}

/* ---- --set overrides ---------------------------------------------------------------------- */

/* --set problems are not in the file: their messages name "--set" instead. */
static void set_bad(fs_scn_ctx *c, const char *set, bool too_long)
{
    const char *file = c->err ? c->err->file : NULL;
    if (c->err) c->err->file = NULL;
    if (too_long)
        fs_scn_bad(c, "--set", "expected a json.path of at most %d characters, found \"%.40s...\"",
                   FS_SCN_PATH_LEN - 1, set);
    else
        fs_scn_bad(c, "--set", "expected json.path=value, found \"%.100s\"", set);
    if (c->err) c->err->file = file;
}

/* Puts `item` (owned) under `key` in obj, replacing what was there. */
static cJSON *put(cJSON *obj, const char *key, cJSON *item)
{
    if (!item) return NULL;
    /* ReplaceItemInObject, unlike ReplaceItemViaPointer, gives the new item its key. */
    bool ok = cJSON_GetObjectItemCaseSensitive(obj, key)
                  ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)
                  : cJSON_AddItemToObject(obj, key, item);
    if (!ok) cJSON_Delete(item);
    return ok ? item : NULL;
}

/* Applies "a.b.c=value": objects along the path are created (a non-object in the way is
 * replaced), the value is JSON or else a string. */
static int apply_set(fs_scn_ctx *c, cJSON *root, const char *set)
{
    const char *eq = strchr(set, '=');
    char path[FS_SCN_PATH_LEN];
    size_t len = eq ? (size_t)(eq - set) : 0;
    if (len == 0 || len >= sizeof path) {
        set_bad(c, set, len >= sizeof path);
        return FS_OK;
    }
    memcpy(path, set, len);
    path[len] = '\0';
    if (path[0] == '.' || path[len - 1] == '.' || strstr(path, "..")) {
        set_bad(c, set, false);
        return FS_OK;
    }
    cJSON *node = root;
    char *key = path;
    for (char *dot; (dot = strchr(key, '.')); key = dot + 1) {
        *dot = '\0';
        cJSON *next = cJSON_GetObjectItemCaseSensitive(node, key);
        if (!cJSON_IsObject(next)) next = put(node, key, cJSON_CreateObject());
        if (!next) return FS_ENOMEM;
        node = next;
    }
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithOpts(eq + 1, &end, 1);
    if (!value) value = cJSON_CreateString(eq + 1);
    return put(node, key, value) ? FS_OK : FS_ENOMEM;
}

/* ---- syntax errors ------------------------------------------------------------------------ */

/* A few characters at the error, or just before it when its line ends there; "" when none. */
static void near_text(const char *text, size_t pos, char *buf, size_t n)
{
    size_t from = pos, to = pos;
    while (text[to] && text[to] != '\n' && to - pos < 12)
        to++;
    if (to == pos)
        while (from > 0 && text[from - 1] != '\n' && pos - from < 12)
            from--;
    size_t j = 0;
    for (size_t i = from; i < to && j + 1 < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        buf[j++] = ch == '\t' ? ' ' : ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    buf[j] = '\0';
}

static void syntax_error(fs_scn_ctx *c, const char *text, size_t pos)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    char near[32], what[48];
    near_text(text, pos, near, sizeof near);
    if (near[0])
        snprintf(what, sizeof what, "near '%s'", near);
    else
        snprintf(what, sizeof what, "at end of %s", text[pos] ? "line" : "file");
    /* The position joins the file name, so the prefix is built here rather than by fs_err. */
    const char *file = c->err ? c->err->file : NULL;
    if (c->err) c->err->file = NULL;
    fs_scn_bad(c, NULL, "%s:%zu:%zu: invalid JSON %s", file ? file : "<input>", line, col, what);
    if (c->err) c->err->file = file;
}

static bool is_blank(const char *text)
{
    return text[strspn(text, " \t\r\n")] == '\0';
}

/* ---- loading ------------------------------------------------------------------------------ */

/* population_seed defaults to seed (after the overrides, so --set seed=7 moves both). The copy
 * is made only of a valid seed: an invalid one is reported once, under "seed". */
static int default_population_seed(cJSON *root)
{
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_GetObjectItemCaseSensitive(root, "population_seed") || !cJSON_IsNumber(seed))
        return FS_OK;
    double v = seed->valuedouble;
    if (!(v >= 0 && v <= FS_SCN_INT_LIMIT && v == (double)(uint64_t)v)) return FS_OK;
    cJSON *copy = cJSON_CreateNumber(v);
    if (!copy || !cJSON_AddItemToObject(root, "population_seed", copy)) {
        cJSON_Delete(copy);
        return FS_ENOMEM;
    }
    return FS_OK;
}

static int emit_json(fs_scn_ctx *c, const cJSON *root)
{
    const cJSON *sweep = cJSON_GetObjectItemCaseSensitive(root, "sweep");
    if (sweep && !(c->s->sweep_json = cJSON_PrintUnformatted(sweep))) return FS_ENOMEM;
    cJSON *eff = fs_scn_emit(c, &fs_scn_top_obj, c->s, root);
    if (!eff) return FS_ENOMEM;
    c->s->json = cJSON_Print(eff);
    cJSON_Delete(eff);
    return c->s->json ? FS_OK : FS_ENOMEM;
}

/* Loads one trace the scenario names (relative to the scenario's folder) only to find its
 * errors: each one is counted as a bad key, FS_ENOMEM goes to *rc. */
static void check_trace(fs_scn_ctx *c, const char *path, enum fs_trace_kind kind, fs_err *err,
                        int *rc)
{
    fs_trace t;
    char p[1100];
    int trc = fs_trace_load(fs_trace_resolve(err && err->file ? err->file : "", path, p, sizeof p),
                            kind, &t, err);
    if (trc == FS_ENOMEM) *rc = FS_ENOMEM;
    if (trc) c->n_bad++;
    fs_trace_fini(&t);
}

/* Parses text whose length is known, so a NUL byte inside is a syntax error too. */
static int parse_n(const char *text, size_t len, const char *const *sets, size_t n_sets,
                   fs_scenario *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    fs_scn_ctx *c = calloc(1, sizeof *c);
    if (!c) return FS_ENOMEM;
    c->err = err;
    c->s = out;
    int rc = FS_ESCENARIO;
    const char *end = NULL;
    cJSON *root = NULL;
    if (is_blank(text)) {
        fs_scn_bad(c, NULL, "expected a JSON object, found an empty file");
        goto fail;
    }
    root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root || strlen(text) != len) {
        syntax_error(c, text, root || !end ? strlen(text) : (size_t)(end - text));
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        char got[96];
        fs_scn_render(root, got, sizeof got);
        fs_scn_bad(c, NULL, "expected a JSON object, found %s", got);
        goto fail;
    }
    for (size_t i = 0; i < n_sets; i++)
        if ((rc = apply_set(c, root, sets[i])) != FS_OK) goto fail;
    if ((rc = default_population_seed(root)) != FS_OK) goto fail;
    fs_scn_walk(c, root, "", &fs_scn_top_obj, out);
    check_cross(c);
    /* the rules that need the data's shape compare many fields: only once each one is valid */
    if (!c->n_bad) {
        fs_scn_shape shape;
        fs_scn_shape_of(out, &shape);
        if (fs_scn_check_shape(out, &shape, err) || fs_scn_check_memory(out, &shape, err))
            c->n_bad++;
    }
    /* a bad trace is bad input: found here, so neither validate nor a run gets past it */
    if (!c->n_bad && out->devices.availability == FS_AVAIL_TRACE)
        check_trace(c, out->devices.avail_trace, FS_TRACE_AVAIL, err, &rc);
    if (!c->n_bad && out->devices.cap_on)
        check_trace(c, out->devices.cap_trace, FS_TRACE_CAPACITY, err, &rc);
    if (rc == FS_OK) rc = c->n_bad ? FS_ESCENARIO : emit_json(c, root);
    if (rc == FS_OK) snprintf(out->file, sizeof out->file, "%s", err && err->file ? err->file : "");
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, NULL, "out of memory while reading the scenario");
    if (rc != FS_OK) fs_scn_fini(out);
    cJSON_Delete(root);
    free(c);
    return rc;
}

int fs_scn_parse(const char *text, const char *const *sets, size_t n_sets, fs_scenario *out,
                 fs_err *err)
{
    return parse_n(text, strlen(text), sets, n_sets, out, err);
}

/* Reads a whole file (or pipe) into a NUL-terminated buffer the caller frees. */
static int read_all(const char *path, char **out_text, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno ? errno : EIO;
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    int e = 0;
    while (text && !e) {
        len += fread(text + len, 1, cap - len - 1, f);
        if (ferror(f))
            e = errno ? errno : EIO;
        else if (feof(f))
            break;
        else if (len + 1 == cap) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger) free(text);
            text = bigger;
        }
    }
    fclose(f);
    if (!text) return ENOMEM;
    if (e) {
        free(text);
        return e;
    }
    text[len] = '\0';
    *out_text = text;
    *out_len = len;
    return 0;
}

int fs_scn_load(const char *path, const char *const *sets, size_t n_sets, fs_scenario *out,
                fs_err *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    errno = 0;
    int e = read_all(path, &text, &len);
    if (e == ENOMEM) {
        fs_err_add(err, NULL, "out of memory while reading the scenario");
        return FS_ENOMEM;
    }
    if (e) {
        fs_err_add(err, NULL, "cannot read: %s", strerror(e));
        return FS_EIO;
    }
    int rc = parse_n(text, len, sets, n_sets, out, err);
    free(text);
    return rc;
}

void fs_scn_fini(fs_scenario *s)
{
    if (!s) return;
    cJSON_free(s->json);
    cJSON_free(s->sweep_json);
    memset(s, 0, sizeof *s);
}
