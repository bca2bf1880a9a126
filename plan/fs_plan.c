/* fs_plan: `fedsim plan`, its arguments and its reading of the results file. Per variant label,
 * the latest run of each replicate (one run outside replications); per run, the first
 * evaluation that met the command-line target and kept meeting it for `sustain` consecutive
 * evaluations (the v_time_to_target rule), with the campaign's cost up to that round read from
 * v_round_metrics (so both agree). Feasibility, statistics and ranking are fs_plan_rank.c's.
 *
 * The data cap is per participation, not per distinct client: (bytes up + bytes down) /
 * clients selected, summed over rounds 1..target round. It needs only the rounds table, so it
 * works for runs written with output.participation = false, and it is what one phone spends each
 * time it joins a round (downloads of clients that later dropped included). A phone selected k
 * times spends about k times that; exact per-client totals need the participation table.
 *
 * The energy cap is per device and virtual day: the p95 (nearest rank) of client_energy over the
 * client-days up to the target round's day, i.e. what 95% of the days a phone worked cost it at
 * most. Like the data cap it describes the typical phone's burden rather than the unluckiest
 * one (the max is printed beside it when a variant is excluded). Files without energy (version 4
 * and older, or runs that modelled none) have no figure: the cap then excludes the variant with
 * "no energy recorded", as --max-epsilon does without ε.
 *
 * Version 2 files have no replicate or target_sustain column: the queries select NULL for them
 * there (every run is its own replicate-less variant run, sustain 1). */
#include "fs_plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "fs_cli.h"

#include "fs_db.h"
#include "fs_err.h"
#include "fs_metrics.h"
#include "fs_plan_int.h"
#include "fs_text.h"

#define PLAN_USAGE                                                                                 \
    "usage: fedsim plan DB --target METRIC=VALUE [--sustain K] [--max-epsilon E] [--max-hours "    \
    "H]\n"                                                                                         \
    "                      [--max-bytes-per-client SIZE] [--max-energy-per-device J]\n"            \
    "                      [--max-bias TVD] [--min-reach SHARE]\n"                                 \
    "                      [--by hours|bytes|device-hours|epsilon|energy]\n"
static const char plan_usage[] = PLAN_USAGE;
static const char plan_help[] = PLAN_USAGE
    "  which variant in the results database DB reaches the target, and at what cost (the\n"
    "  latest run of each variant and replicate; costs count up to its first evaluation at\n"
    "  the target)\n"
    "  --target METRIC=VALUE       e.g. auc=0.75 (at or above; at or below where lower is better)\n"
    "  --sustain K                 the target must hold for K evaluations in a row (default:\n"
    "                              the runs' eval.target.sustain for their own target, else 1)\n"
    "  --max-epsilon E             keep variants whose epsilon there is at most E\n"
    "  --max-hours H               keep variants that get there within H virtual hours\n"
    "  --max-bytes-per-client SIZE keep variants whose bytes per participation, summed up to\n"
    "                              then, are at most SIZE (800KB, 5MB, 1.5GiB)\n"
    "  --max-energy-per-device J   keep variants whose per-device daily energy (p95 over the\n"
    "                              days each phone worked, up to then) is at most J joules\n"
    "  --max-bias TVD              keep variants whose reports, over the whole run, differ\n"
    "                              from the population by at most TVD (total variation, 0 to 1)\n"
    "                              over the first eval.segments group (v_run_bias)\n"
    "  --min-reach SHARE           with replicates: feasible when the limits hold in at least\n"
    "                              this share of them (default 0.9)\n"
    "  --by KEY                    rank by hours (default), bytes, device-hours, epsilon or\n"
    "                              energy (joules of the whole campaign up to then)\n";

enum {
    OPT_TARGET, OPT_EPS, OPT_HOURS, OPT_BYTES, OPT_ENERGY, OPT_BY, OPT_MIN_REACH, OPT_SUSTAIN,
    OPT_BIAS, N_OPTS
};

static const struct plan_opt {
    const char *name, *expected;
} plan_opts[N_OPTS] = {
    [OPT_TARGET] = {"--target", "METRIC=VALUE with a number VALUE, e.g. auc=0.75"},
    [OPT_EPS] = {"--max-epsilon", "a number >= 0"},
    [OPT_HOURS] = {"--max-hours", "a number > 0"},
    [OPT_BYTES] = {"--max-bytes-per-client", "a size such as 800KB, 5MB or 1.5GiB"},
    [OPT_ENERGY] = {"--max-energy-per-device", "a number of joules > 0"},
    [OPT_BY] = {"--by", "hours, bytes, device-hours, epsilon or energy"},
    [OPT_MIN_REACH] = {"--min-reach", "a share > 0 and <= 1, e.g. 0.9"},
    [OPT_SUSTAIN] = {"--sustain", "an integer >= 1"},
    [OPT_BIAS] = {"--max-bias", "a total variation distance in [0, 1]"},
};

static const char *const by_names[N_BY] = {"hours", "bytes", "device-hours", "epsilon", "energy"};

typedef struct plan_cmd {
    plan_args a;
    bool seen[N_OPTS];
    const char *given[N_OPTS]; /* raw values; NULL when absent or missing */
} plan_cmd;

/* ---- arguments */

bool fs_plan_parse_size(const char *s, double *out_bytes)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1.0},
                 {"b", 1.0},
                 {"kb", 1e3},
                 {"mb", 1e6},
                 {"gb", 1e9},
                 {"tb", 1e12},
                 {"kib", 1024.0},
                 {"mib", 1048576.0},
                 {"gib", 1073741824.0},
                 {"tib", 1099511627776.0}};
    if (!isdigit((unsigned char)*s) && *s != '.') return false; /* no sign, inf or nan */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v)) return false;
    if (*end == ' ' && end[1]) end++;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        if (strcasecmp(end, units[i].unit) != 0) continue;
        *out_bytes = v * units[i].mult;
        return true;
    }
    return false;
}

/* METRIC=VALUE; metric names are identifiers (what evals.metric holds). */
static bool parse_target(const char *s, plan_args *a)
{
    const char *eq = strchr(s, '=');
    size_t len = eq ? (size_t)(eq - s) : 0;
    if (len == 0 || len >= sizeof a->metric) return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    if (!fs_cli_parse_real(eq + 1, &a->target)) return false;
    memcpy(a->metric, s, len);
    a->metric[len] = '\0';
    a->lower = fs_metric_lower_is_better(fs_metric_from_name(a->metric));
    return true;
}

static bool parse_by(const char *s, plan_args *a)
{
    for (int k = 0; k < N_BY; k++) {
        if (strcmp(s, by_names[k]) != 0) continue;
        a->by = (enum plan_by)k;
        return true;
    }
    return false;
}

static bool opt_value_ok(int k, const char *v, plan_args *a)
{
    switch (k) {
    case OPT_TARGET:
        return parse_target(v, a);
    case OPT_EPS:
        return fs_cli_parse_real(v, &a->max_eps) && a->max_eps >= 0.0;
    case OPT_HOURS:
        return fs_cli_parse_real(v, &a->max_hours) && a->max_hours > 0.0;
    case OPT_BYTES:
        return fs_plan_parse_size(v, &a->max_bytes);
    case OPT_ENERGY:
        return fs_cli_parse_real(v, &a->max_energy) && a->max_energy > 0.0;
    case OPT_MIN_REACH:
        return fs_cli_parse_real(v, &a->min_reach) && a->min_reach > 0.0 && a->min_reach <= 1.0;
    case OPT_SUSTAIN:
        return fs_cli_parse_int(v, 1, 1000000, &a->sustain);
    case OPT_BIAS:
        return fs_cli_parse_real(v, &a->max_bias) && a->max_bias >= 0.0 && a->max_bias <= 1.0;
    default:
        return parse_by(v, a);
    }
}

static int arg_bad(fs_err *err, const char *what, const char *expected, const char *found)
{
    if (found)
        fs_err_add(err, NULL, "%s: expected %s, found \"%s\"", what, expected, found);
    else
        fs_err_add(err, NULL, "%s: expected %s, found nothing", what, expected);
    return 1;
}

static int opt_find(const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (int k = 0; k < N_OPTS; k++)
        if (strlen(plan_opts[k].name) == len && !strncmp(arg, plan_opts[k].name, len)) return k;
    return -1;
}

/* One option, `--name value` or `--name=value`, at argv[*i]; advances *i past its value. */
static int collect_opt(int argc, char **argv, int *i, plan_cmd *p, fs_err *err)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    int k = opt_find(arg);
    if (k < 0)
        return arg_bad(err, "plan",
                       "--target, --sustain, --max-epsilon, --max-hours, --max-bytes-per-client,"
                       " --max-energy-per-device, --max-bias, --min-reach or --by",
                       arg);
    const char *v = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (p->seen[k]) {
        fs_err_add(err, NULL, "%s: expected once, found twice", plan_opts[k].name);
        return 1;
    }
    p->seen[k] = true;
    p->given[k] = v;
    return 0;
}

/* Collects and checks every argument; returns the number of errors (all reported). */
static int parse_args(int argc, char **argv, plan_cmd *p, fs_err *err)
{
    memset(p, 0, sizeof *p);
    plan_args *a = &p->a;
    a->max_eps = a->max_hours = a->max_bytes = a->max_energy = a->max_bias = NAN;
    a->min_reach = 0.9;
    int n_bad = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            n_bad += collect_opt(argc, argv, &i, p, err);
        else if (!a->db)
            a->db = argv[i];
        else
            n_bad += arg_bad(err, "plan", "one results database", argv[i]);
    }
    if (!a->db) n_bad += arg_bad(err, "plan", "a results database (DB)", NULL);
    for (int k = 0; k < N_OPTS; k++) {
        if (!p->seen[k] && k != OPT_TARGET) continue;
        if (p->given[k] && opt_value_ok(k, p->given[k], a)) continue;
        n_bad += arg_bad(err, plan_opts[k].name, plan_opts[k].expected, p->given[k]);
    }
    return n_bad;
}

/* ---- opening the file */

/* The shared reader checks the file (versions 2 and 3 only); the version picks the queries. */
static int plan_open(plan_ctx *c, fs_err *err)
{
    int rc = fs_db_open_readonly(c->a->db, &c->conn, err);
    if (rc) return rc;
    char v[16];
    if (fs_db_query_text(c->conn, "SELECT value FROM meta WHERE key = 'schema_version'", v,
                         sizeof v)) {
        fs_err_add(err, NULL, "%s: reading results database: %s", c->a->db,
                   sqlite3_errmsg(c->conn));
        return FS_EDB;
    }
    c->version = atoi(v);
    return FS_OK;
}

static int db_fail(plan_ctx *c, const char *what, fs_err *err)
{
    fs_err_add(err, NULL, "%s: %s: %s", c->a->db, what, sqlite3_errmsg(c->conn));
    return FS_EDB;
}

static int no_mem(plan_ctx *c, const char *what, fs_err *err)
{
    fs_err_add(err, NULL, "%s: %s: out of memory", c->a->db, what);
    return FS_ENOMEM;
}

/* ---- grouping runs into variants and replicates */

/* Runs are labelled by variant (by scenario name for plain runs; name/variant when the file
 * mixes scenarios), newest first. %s: the replicate and target_sustain columns (NULL in v2). */
static const char runs_sql[] =
    "SELECT run_id, CASE WHEN coalesce(variant, '') = '' THEN coalesce(name, '')"
    "  WHEN (SELECT count(DISTINCT name) FROM runs) > 1 THEN name || '/' || variant"
    "  ELSE variant END, status, %s, target_metric, target_value FROM runs ORDER BY run_id DESC";

static plan_var *find_var(plan_ctx *c, const char *label)
{
    for (size_t i = 0; i < c->n_vars; i++)
        if (!strcmp(c->vars[i].label, label)) return &c->vars[i];
    return NULL;
}

static plan_var *push_var(plan_ctx *c, const char *label, int64_t run_id)
{
    if (c->n_vars == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        plan_var *p = realloc(c->vars, cap * sizeof *p);
        if (!p) return NULL;
        c->vars = p;
        c->cap = cap;
    }
    plan_var *v = &c->vars[c->n_vars++];
    memset(v, 0, sizeof *v);
    snprintf(v->label, sizeof v->label, "%s", label);
    v->first_run = run_id;
    return v;
}

static plan_rep *push_rep(plan_var *v)
{
    if (v->n_reps == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4;
        plan_rep *p = realloc(v->reps, cap * sizeof *p);
        if (!p) return NULL;
        v->reps = p;
        v->cap = cap;
    }
    plan_rep *r = &v->reps[v->n_reps++];
    memset(r, 0, sizeof *r);
    for (int d = 0; d < N_DIM; d++)
        r->cost[d] = NAN;
    for (int d = 0; d < N_RATE; d++)
        r->rate[d] = NAN;
    r->best = NAN;
    return r;
}

/* The newest run of a label decides its shape: a plain run stands alone (older runs of the
 * label are superseded); a replicate brings the newest run of every other replicate index with
 * it (plain runs of the label are then superseded). */
static bool superseded(const plan_var *v, int replicate)
{
    if (v->reps[0].replicate == 0 || replicate == 0) return true;
    for (size_t i = 0; i < v->n_reps; i++)
        if (v->reps[i].replicate == replicate) return true;
    return false;
}

/* The sustain a run is judged with: --sustain, else its own eval.target.sustain when the
 * command-line target is the run's own target (what the run and v_time_to_target used), else 1.
 * Columns of runs_sql: 3 replicate, 4 target_sustain, 5 target_metric, 6 target_value. */
static int run_sustain(const plan_args *a, sqlite3_stmt *st)
{
    if (a->sustain > 0) return a->sustain;
    const char *m = (const char *)sqlite3_column_text(st, 5);
    bool own = m && !strcmp(m, a->metric) && sqlite3_column_type(st, 6) != SQLITE_NULL &&
               sqlite3_column_double(st, 6) == a->target;
    int k = sqlite3_column_type(st, 4) == SQLITE_NULL ? 1 : sqlite3_column_int(st, 4);
    return own && k > 1 ? k : 1;
}

static int add_run(plan_ctx *c, sqlite3_stmt *st, fs_err *err)
{
    int64_t id = sqlite3_column_int64(st, 0);
    /* labels come from a database anyone may have edited: kept and printed escaped */
    const char *raw = (const char *)sqlite3_column_text(st, 1);
    char esc[4 * sizeof c->vars[0].label], cut[sizeof c->vars[0].label];
    const char *term = fs_text_term(raw ? raw : "", esc, sizeof esc);
    snprintf(cut, sizeof cut, "%.*s", (int)fs_text_utf8_cut(term, sizeof cut - 1), term);
    const char *label = cut;
    int replicate = sqlite3_column_int(st, 3); /* NULL reads as 0 */
    plan_var *v = find_var(c, label ? label : "");
    if (v && superseded(v, replicate)) {
        c->n_superseded++;
        return FS_OK;
    }
    if (!v && !(v = push_var(c, label ? label : "", id))) return no_mem(c, "reading runs", err);
    plan_rep *r = push_rep(v);
    if (!r) return no_mem(c, "reading runs", err);
    r->run_id = id;
    r->replicate = replicate;
    if (replicate > c->max_replicate) c->max_replicate = replicate;
    snprintf(r->status, sizeof r->status, "%s", (const char *)sqlite3_column_text(st, 2));
    r->sustain = run_sustain(c->a, st);
    /* the question line names the sustain when every run shares one */
    if (c->n_vars == 1 && v->n_reps == 1)
        c->sustain_shown = r->sustain;
    else if (c->sustain_shown != r->sustain)
        c->sustain_shown = 0;
    return FS_OK;
}

/* Variants in run order (their newest run), as the runs were written. */
static int cmp_var_order(const void *pa, const void *pb)
{
    const plan_var *x = pa, *y = pb;
    return x->first_run < y->first_run ? -1 : x->first_run > y->first_run;
}

static int load_runs(plan_ctx *c, fs_err *err)
{
    char sql[sizeof runs_sql + 64];
    snprintf(sql, sizeof sql, runs_sql,
             c->version >= 3 ? "replicate, target_sustain" : "NULL, NULL");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->conn, sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = add_run(c, st, err);
        if (r) {
            sqlite3_finalize(st);
            return r;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_fail(c, "reading runs", err);
    if (c->n_vars > 1) qsort(c->vars, c->n_vars, sizeof *c->vars, cmp_var_order);
    return FS_OK;
}

/* A metric no run evaluated is a mistyped question, not an answer "nobody reached it". */
static int check_metric(plan_ctx *c, fs_err *err)
{
    static const char count_sql[] =
        "SELECT count(*) FROM evals WHERE segment = 'all' AND metric = ?1";
    static const char list_sql[] =
        "SELECT group_concat(metric, ', ') FROM (SELECT DISTINCT metric FROM evals"
        " WHERE segment = 'all' ORDER BY metric)";
    if (c->n_vars == 0) return FS_OK;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->conn, count_sql, -1, &st, NULL);
    if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, c->a->metric, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return db_fail(c, "reading evaluations", err);
    if (n > 0) return FS_OK;
    char list[FS_ERR_MSG_LEN / 2];
    if (fs_db_query_text(c->conn, list_sql, list, sizeof list) != SQLITE_OK)
        return db_fail(c, "reading evaluations", err);
    fs_err_add(err, NULL,
               "%s: --target: expected a metric evaluated on the whole test set (%s), found"
               " \"%s\"",
               c->a->db, *list ? list : "none was", c->a->metric);
    return FS_ESCENARIO;
}

/* ---- the cost of each run at its target round */

/* ?1 run, ?2 metric: every whole-test-set evaluation with the running totals at its round.
 * %s: cum_energy_j (NULL before version 5). */
static const char evals_sql[] =
    "SELECT round, t_end_h, cum_bytes_up, cum_bytes_down, cum_device_h, epsilon, value, %s"
    " FROM v_round_metrics WHERE run_id = ?1 AND metric = ?2 ORDER BY round";

/* ?1 run, ?2 the target round's end (virtual µs): the p95 (nearest rank) and the max of the
 * per-device daily energy over the client-days up to that day. Version 5 only. */
static const char daily_sql[] =
    "WITH d AS (SELECT energy_j, row_number() OVER (ORDER BY energy_j) AS k,"
    " count(*) OVER () AS n FROM client_energy WHERE run_id = ?1 AND energy_j IS NOT NULL"
    " AND day <= ?2 / 86400000000)"
    " SELECT (SELECT energy_j FROM d WHERE k = (n * 95 + 99) / 100), (SELECT max(energy_j) FROM d)";

/* ?1 run, ?2 target round (0 when not reached): rounds recorded, the campaign's per-round
 * costs (its span from the first start to the last end, so pacing between rounds counts),
 * clients selected up to the target round. */
static const char rounds_sql[] =
    "SELECT count(*), (max(t_end) - min(t_start)) / 3600000000.0 / count(*),"
    " 1.0 * sum(bytes_up + bytes_down) / count(*), sum(compute_s) / 3600.0 / count(*),"
    " sum(CASE WHEN round <= ?2 THEN selected END) FROM rounds WHERE run_id = ?1";

/* ?1 run: the whole run's reported mix against the population, over its first eval.segments
 * group (the group v_selection_bias readers look at first). Version 6 only. */
static const char bias_sql[] =
    "SELECT b.tvd FROM runs u JOIN v_run_bias b ON b.run_id = u.run_id"
    " AND b.grp = json_extract(u.scenario_json, '$.eval.segments[0]') WHERE u.run_id = ?1";

static const char evaluated_sql[] =
    "SELECT group_concat(metric, ', ') FROM (SELECT DISTINCT metric FROM evals"
    " WHERE run_id = ?1 AND segment = 'all' ORDER BY metric)";

typedef struct plan_stmts {
    sqlite3_stmt *evals, *rounds, *evaluated, *daily; /* daily: NULL before version 5 */
    sqlite3_stmt *bias;                               /* NULL before version 6 */
} plan_stmts;

static void take_hit(sqlite3_stmt *st, plan_rep *r)
{
    r->reached = true;
    r->cost[DIM_ROUNDS] = sqlite3_column_int(st, 0);
    r->cost[DIM_HOURS] = fs_db_column_real(st, 1);
    r->bytes_up = sqlite3_column_int64(st, 2);
    r->bytes_down = sqlite3_column_int64(st, 3);
    r->cost[DIM_BYTES] = (double)(r->bytes_up + r->bytes_down);
    r->cost[DIM_DEVICE_H] = fs_db_column_real(st, 4);
    r->cost[DIM_EPS] = fs_db_column_real(st, 5);
    r->cost[DIM_ENERGY] = fs_db_column_real(st, 7);
    r->t_hit_us = (int64_t)llround(fs_db_column_real(st, 1) * 3600000000.0);
}

/* The first evaluation followed by sustain - 1 more that all meet the target: a run of hits is
 * tracked, and its first evaluation is kept until the run is long enough (or broken). A NULL
 * value never meets the target. */
static int find_hit(plan_ctx *c, sqlite3_stmt *st, plan_rep *r)
{
    const plan_args *a = c->a;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_text(st, 2, a->metric, -1, SQLITE_STATIC);
    int streak = 0, rc;
    plan_rep first = *r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        double v = fs_db_column_real(st, 6);
        if (!isnan(v) && (isnan(r->best) || (a->lower ? v < r->best : v > r->best))) r->best = v;
        bool ok = !isnan(v) && (a->lower ? v <= a->target : v >= a->target);
        if (!ok) {
            streak = 0;
            continue;
        }
        if (streak++ == 0) take_hit(st, &first);
        if (streak < r->sustain || r->reached) continue;
        double best = r->best;
        *r = first;
        r->best = best;
    }
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_rounds(sqlite3_stmt *st, plan_rep *r)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_int(st, 2, r->reached ? (int)r->cost[DIM_ROUNDS] : 0);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc;
    r->n_rounds = sqlite3_column_int(st, 0);
    for (int k = 0; k < N_RATE; k++)
        r->rate[k] = fs_db_column_real(st, 1 + k);
    double sel = fs_db_column_real(st, 4);
    if (r->reached && sel > 0) r->cost[DIM_PER_PART] = r->cost[DIM_BYTES] / sel;
    return SQLITE_OK;
}

/* The daily energy figures up to the target round; left NAN when nothing was recorded. */
static int read_daily(sqlite3_stmt *st, plan_rep *r)
{
    if (!st || !r->reached) return SQLITE_OK;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_int64(st, 2, r->t_hit_us);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc;
    r->cost[DIM_DAY_P95] = fs_db_column_real(st, 0);
    r->cost[DIM_DAY_MAX] = fs_db_column_real(st, 1);
    return SQLITE_OK;
}

/* The run's selection bias; left NAN when nothing was recorded (no eval.segments, or a file
 * before version 6). A bias over the whole run, not up to the target round: the model keeps
 * learning from the same skewed mix, and a planner asks whether the campaign as run is fair. */
static int read_bias(sqlite3_stmt *st, plan_rep *r)
{
    if (!st) return SQLITE_OK;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) r->cost[DIM_BIAS] = fs_db_column_real(st, 0);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int read_evaluated(sqlite3_stmt *st, plan_rep *r)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc;
    const char *m = (const char *)sqlite3_column_text(st, 0);
    snprintf(r->evaluated, sizeof r->evaluated, "%s", m ? m : "nothing");
    return SQLITE_OK;
}

static int assess_rep(plan_ctx *c, const plan_stmts *q, plan_rep *r, fs_err *err)
{
    if (strcmp(r->status, "done") != 0) return FS_OK; /* excluded as unfinished */
    int rc = find_hit(c, q->evals, r);
    if (rc == SQLITE_OK) rc = read_rounds(q->rounds, r);
    if (rc == SQLITE_OK) rc = read_daily(q->daily, r);
    if (rc == SQLITE_OK) rc = read_bias(q->bias, r);
    if (rc == SQLITE_OK && isnan(r->best)) rc = read_evaluated(q->evaluated, r);
    if (rc == SQLITE_OK) return FS_OK;
    char what[64];
    snprintf(what, sizeof what, "reading run %lld", (long long)r->run_id);
    return db_fail(c, what, err);
}

/* eval.every_rounds from the variant's stored scenario (the resolved one fedsim ran, defaults
 * included); 0 when it is missing or unreadable: no evaluation-interval warning then. */
static int read_every_rounds(plan_ctx *c, plan_var *v, fs_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->conn, "SELECT scenario_json FROM runs WHERE run_id = ?1", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) sqlite3_bind_int64(st, 1, v->reps[0].run_id);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(st, 0);
        cJSON *root = json ? cJSON_Parse(json) : NULL;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "eval");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "every_rounds");
        if (cJSON_IsNumber(n) && n->valuedouble >= 1) v->every_rounds = n->valueint;
        cJSON_Delete(root);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? FS_OK : db_fail(c, "reading runs", err);
}

static int assess_all(plan_ctx *c, fs_err *err)
{
    plan_stmts q = {0};
    int rc = FS_OK;
    char sql[sizeof evals_sql + 32];
    snprintf(sql, sizeof sql, evals_sql, c->version >= 5 ? "cum_energy_j" : "NULL");
    if (sqlite3_prepare_v2(c->conn, sql, -1, &q.evals, NULL) != SQLITE_OK ||
        (c->version >= 5 && plan_shows_energy(c->a) &&
         sqlite3_prepare_v2(c->conn, daily_sql, -1, &q.daily, NULL) != SQLITE_OK) ||
        (c->version >= 6 &&
         sqlite3_prepare_v2(c->conn, bias_sql, -1, &q.bias, NULL) != SQLITE_OK) ||
        sqlite3_prepare_v2(c->conn, rounds_sql, -1, &q.rounds, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->conn, evaluated_sql, -1, &q.evaluated, NULL) != SQLITE_OK)
        rc = db_fail(c, "reading rounds", err);
    for (size_t i = 0; i < c->n_vars && rc == FS_OK; i++) {
        plan_var *v = &c->vars[i];
        for (size_t j = 0; j < v->n_reps && rc == FS_OK; j++)
            rc = assess_rep(c, &q, &v->reps[j], err);
        if (rc == FS_OK) rc = read_every_rounds(c, v, err);
    }
    sqlite3_finalize(q.evals);
    sqlite3_finalize(q.rounds);
    sqlite3_finalize(q.evaluated);
    sqlite3_finalize(q.daily);
    sqlite3_finalize(q.bias);
    return rc;
}

/* ---- entry points */

/* The whole command after argument parsing: the one path of fs_plan_cli and fs_plan_answer. */
static int plan_run(const plan_args *a, FILE *out, FILE *err_out)
{
    fs_err err;
    fs_err_init(&err, NULL);
    plan_ctx c = {.a = a, .out = out};
    int rc = plan_open(&c, &err);
    if (rc == FS_OK) rc = load_runs(&c, &err);
    if (rc == FS_OK) rc = check_metric(&c, &err);
    if (rc == FS_OK) rc = assess_all(&c, &err);
    int code = rc == FS_OK ? fs_plan_rank_report(&c, err_out) : fs_exit_code(rc);
    if (rc) fs_err_print(&err, err_out);
    sqlite3_close(c.conn);
    for (size_t i = 0; i < c.n_vars; i++)
        free(c.vars[i].reps);
    free(c.vars);
    fflush(out);
    return code;
}

static int plan_main(int argc, char **argv, FILE *out, FILE *err_out)
{
    if (fs_cli_wants_help(argc, argv)) {
        fputs(plan_help, out);
        return 0;
    }
    fs_err err;
    fs_err_init(&err, NULL);
    plan_cmd p;
    if (parse_args(argc, argv, &p, &err)) {
        fs_err_print(&err, err_out);
        fputs(plan_usage, err_out);
        return 2;
    }
    return plan_run(&p.a, out, err_out);
}

int fs_plan_cli(int argc, char **argv)
{
    return plan_main(argc, argv, stdout, stderr);
}

int fs_plan_answer(const char *db_path, const char *metric, double value, int sustain, FILE *out,
                   FILE *err_out)
{
    /* through the argument parser, so a bad metric name is reported as the command would */
    char target[128], k[32];
    snprintf(target, sizeof target, "--target=%s=%.17g", metric ? metric : "", value);
    snprintf(k, sizeof k, "--sustain=%d", sustain);
    char *argv[] = {"plan", (char *)(db_path ? db_path : ""), target, k, NULL};
    return plan_main(sustain > 0 ? 4 : 3, argv, out, err_out);
}
