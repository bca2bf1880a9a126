/* fs_plan: `fedsim plan`. Per variant (the latest run of each label), find the first evaluation
 * that met the command-line target, read the campaign's cost up to that round from
 * v_round_metrics (the view v_time_to_target uses, so both agree), apply the constraints, rank
 * what is left.
 *
 * The data cap is per participation, not per distinct client: (bytes up + bytes down) /
 * clients selected, summed over rounds 1..target round. It needs only the rounds table, so it
 * works for runs written with output.participation = false, and it is what one phone spends each
 * time it joins a round (downloads of clients that later dropped included). A phone selected k
 * times spends about k times that; exact per-client totals need the participation table. */
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

#include <sqlite3.h>

#include "fs_cli.h"

#include "fs_db.h"
#include "fs_err.h"
#include "fs_text.h"

#define PLAN_USAGE                                                                                 \
    "usage: fedsim plan DB --target METRIC=VALUE [--max-epsilon E] [--max-hours H]\n"              \
    "                      [--max-bytes-per-client SIZE] [--by hours|bytes|device-hours|epsilon]\n"
static const char plan_usage[] = PLAN_USAGE;
static const char plan_help[] =
    PLAN_USAGE
    "  which variant (run) in the results database DB reaches the target, and at what cost\n"
    "  (the latest run of each variant; costs count up to its first evaluation at the target)\n"
    "  --target METRIC=VALUE       e.g. auc=0.75 (at or above; at or below for loss, ece, rmse)\n"
    "  --max-epsilon E             keep variants whose epsilon there is at most E\n"
    "  --max-hours H               keep variants that get there within H virtual hours\n"
    "  --max-bytes-per-client SIZE keep variants whose bytes per participation, summed up to\n"
    "                              then, are at most SIZE (800KB, 5MB, 1.5GiB)\n"
    "  --by KEY                    rank by hours (default), bytes, device-hours or epsilon\n";

enum { OPT_TARGET, OPT_EPS, OPT_HOURS, OPT_BYTES, OPT_BY, N_OPTS };

static const struct plan_opt {
    const char *name, *expected;
} plan_opts[N_OPTS] = {
    [OPT_TARGET] = {"--target", "METRIC=VALUE with a number VALUE, e.g. auc=0.75"},
    [OPT_EPS] = {"--max-epsilon", "a number >= 0"},
    [OPT_HOURS] = {"--max-hours", "a number > 0"},
    [OPT_BYTES] = {"--max-bytes-per-client", "a size such as 800KB, 5MB or 1.5GiB"},
    [OPT_BY] = {"--by", "hours, bytes, device-hours or epsilon"},
};

enum plan_by { BY_HOURS, BY_BYTES, BY_DEVICE_H, BY_EPSILON, N_BY };

static const char *const by_names[N_BY] = {"hours", "bytes", "device-hours", "epsilon"};

typedef struct plan_args {
    const char *db;
    char metric[64];
    double target;
    bool lower;                           /* loss, ece, rmse: reached at or below the target */
    double max_eps, max_hours, max_bytes; /* NAN: no limit */
    enum plan_by by;
    bool seen[N_OPTS];
    const char *given[N_OPTS]; /* raw values; NULL when absent or missing */
} plan_args;

typedef struct plan_run {
    int64_t run_id;
    char label[160];
    char status[16];
    int n_rounds; /* rounds recorded */
    bool reached;
    int round; /* first round whose evaluation met the target */
    double hours, device_h, eps, per_part; /* at that round; NAN when not recorded */
    int64_t bytes_up, bytes_down;          /* cumulative up to that round */
    double cost;                           /* the --by key; +inf when not recorded */
    char reason[400];                      /* why excluded; "" when feasible */
} plan_run;

typedef struct plan_ctx {
    const plan_args *a;
    sqlite3 *conn;
    sqlite3_stmt *hit, *best;
    plan_run *runs;
    size_t n_runs, cap;
    int n_superseded; /* older runs of a label, ignored */
} plan_ctx;

/* ---- arguments */

bool fs_plan_parse_size(const char *s, double *out_bytes)
{
    static const struct {
        const char *unit;
        double mult;
    } units[] = {{"", 1.0},           {"b", 1.0},           {"kb", 1e3},
                 {"mb", 1e6},         {"gb", 1e9},          {"tb", 1e12},
                 {"kib", 1024.0},     {"mib", 1048576.0},   {"gib", 1073741824.0},
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

static bool metric_lower_better(const char *m)
{
    return !strcmp(m, "loss") || !strcmp(m, "ece") || !strcmp(m, "rmse");
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
    a->lower = metric_lower_better(a->metric);
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
    case OPT_TARGET: return parse_target(v, a);
    case OPT_EPS: return fs_cli_parse_real(v, &a->max_eps) && a->max_eps >= 0.0;
    case OPT_HOURS: return fs_cli_parse_real(v, &a->max_hours) && a->max_hours > 0.0;
    case OPT_BYTES: return fs_plan_parse_size(v, &a->max_bytes);
    default: return parse_by(v, a);
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
static int collect_opt(int argc, char **argv, int *i, plan_args *a, fs_err *err)
{
    const char *arg = argv[*i], *eq = strchr(arg, '=');
    int k = opt_find(arg);
    if (k < 0)
        return arg_bad(err, "plan",
                       "--target, --max-epsilon, --max-hours, --max-bytes-per-client or --by",
                       arg);
    const char *v = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
    if (a->seen[k]) {
        fs_err_add(err, NULL, "%s: expected once, found twice", plan_opts[k].name);
        return 1;
    }
    a->seen[k] = true;
    a->given[k] = v;
    return 0;
}

/* Collects and checks every argument; returns the number of errors (all reported). */
static int parse_args(int argc, char **argv, plan_args *a, fs_err *err)
{
    memset(a, 0, sizeof *a);
    a->max_eps = a->max_hours = a->max_bytes = NAN;
    int n_bad = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            n_bad += collect_opt(argc, argv, &i, a, err);
        else if (!a->db)
            a->db = argv[i];
        else
            n_bad += arg_bad(err, "plan", "one results database", argv[i]);
    }
    if (!a->db) n_bad += arg_bad(err, "plan", "a results database (DB)", NULL);
    for (int k = 0; k < N_OPTS; k++) {
        if (!a->seen[k] && k != OPT_TARGET) continue;
        if (a->given[k] && opt_value_ok(k, a->given[k], a)) continue;
        n_bad += arg_bad(err, plan_opts[k].name, plan_opts[k].expected, a->given[k]);
    }
    return n_bad;
}

/* ---- formatting */

static const char *fmt_bytes(char *buf, size_t n, double b)
{
    static const char *const unit[] = {"kB", "MB", "GB", "TB"};
    if (b < 1000.0) {
        snprintf(buf, n, "%.0f B", b);
        return buf;
    }
    int u = 0;
    for (b /= 1000.0; b >= 1000.0 && u < 3; u++) b /= 1000.0;
    snprintf(buf, n, "%.1f %s", b, unit[u]);
    return buf;
}

/* v with `digits` decimals (fixed) or significant digits, plus as many more as it takes for
 * the printed number to differ from ref: never "reached 0.75 (best 0.75)" or "24.0 > 24". */
static const char *fmt_apart(char *buf, size_t n, double v, double ref, bool fixed, int digits)
{
    for (int d = digits; d < 12; d++) {
        snprintf(buf, n, fixed ? "%.*f" : "%.*g", d, v);
        if (v == ref || strtod(buf, NULL) != ref) break;
    }
    return buf;
}

static void add_reason(plan_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one reason; several are joined with "; ". */
static void add_reason(plan_run *r, const char *fmt, ...)
{
    size_t used = strlen(r->reason);
    if (used && used + 2 < sizeof r->reason) {
        memcpy(r->reason + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason + used, sizeof r->reason - used, fmt, ap);
    va_end(ap);
}

/* ---- database */

static int db_fail(plan_ctx *c, const char *what, fs_err *err)
{
    fs_err_add(err, NULL, "%s: %s: %s", c->a->db, what, sqlite3_errmsg(c->conn));
    return FS_EDB;
}

/* Runs are labelled by variant (by scenario name for plain runs; name/variant when the file
 * mixes scenarios); only the latest run of a label counts: it reflects the current scenario. */
static const char runs_sql[] =
    "SELECT run_id, label, status, n FROM (SELECT run_id, status, label,"
    " row_number() OVER (PARTITION BY label ORDER BY run_id DESC) AS k,"
    " count(*) OVER (PARTITION BY label) AS n FROM (SELECT run_id, status,"
    "  CASE WHEN coalesce(variant, '') = '' THEN coalesce(name, '')"
    "  WHEN (SELECT count(DISTINCT name) FROM runs) > 1 THEN name || '/' || variant"
    "  ELSE variant END AS label FROM runs))"
    " WHERE k = 1 ORDER BY run_id";

/* ?1 run, ?2 metric, ?3 target, ?4 lower is better. A NULL value never meets the target. */
static const char hit_sql[] =
    "SELECT m.round, m.t_end_h, m.cum_bytes_up, m.cum_bytes_down, m.cum_device_h, m.epsilon,"
    " (SELECT sum(r.selected) FROM rounds r WHERE r.run_id = m.run_id AND r.round <= m.round)"
    " FROM v_round_metrics m WHERE m.run_id = ?1 AND m.metric = ?2"
    " AND CASE WHEN ?4 THEN m.value <= ?3 ELSE m.value >= ?3 END ORDER BY m.round LIMIT 1";

static const char best_sql[] =
    "SELECT (SELECT count(*) FROM rounds WHERE run_id = ?1),"
    " (SELECT CASE WHEN ?4 THEN min(value) ELSE max(value) END FROM evals"
    "  WHERE run_id = ?1 AND segment = 'all' AND metric = ?2),"
    " (SELECT group_concat(metric, ', ') FROM (SELECT DISTINCT metric FROM evals"
    "  WHERE run_id = ?1 AND segment = 'all' ORDER BY metric))";

static plan_run *push_run(plan_ctx *c)
{
    if (c->n_runs == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        plan_run *p = realloc(c->runs, cap * sizeof *p);
        if (!p) return NULL;
        c->runs = p;
        c->cap = cap;
    }
    plan_run *r = &c->runs[c->n_runs++];
    memset(r, 0, sizeof *r);
    r->hours = r->device_h = r->eps = r->per_part = NAN;
    return r;
}

static int load_runs(plan_ctx *c, fs_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->conn, runs_sql, -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        plan_run *r = push_run(c);
        if (!r) {
            sqlite3_finalize(st);
            fs_err_add(err, NULL, "%s: reading runs: out of memory", c->a->db);
            return FS_ENOMEM;
        }
        r->run_id = sqlite3_column_int64(st, 0);
        /* labels come from a database anyone may have edited: printed escaped */
        const char *lab = (const char *)sqlite3_column_text(st, 1);
        char esc[4 * sizeof r->label];
        lab = fs_text_term(lab ? lab : "", esc, sizeof esc);
        snprintf(r->label, sizeof r->label, "%.*s", (int)fs_text_utf8_cut(lab, sizeof r->label - 1),
                 lab);
        snprintf(r->status, sizeof r->status, "%s", (const char *)sqlite3_column_text(st, 2));
        c->n_superseded += sqlite3_column_int(st, 3) - 1;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? FS_OK : db_fail(c, "reading runs", err);
}

static void bind_query(sqlite3_stmt *st, const plan_ctx *c, const plan_run *r)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, r->run_id);
    sqlite3_bind_text(st, 2, c->a->metric, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, c->a->target);
    sqlite3_bind_int(st, 4, c->a->lower);
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Fills the costs at the first round that met the target; leaves r->reached false if none. */
static int find_hit(plan_ctx *c, plan_run *r)
{
    sqlite3_stmt *st = c->hit;
    bind_query(st, c, r);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? SQLITE_OK : rc;
    r->reached = true;
    r->round = sqlite3_column_int(st, 0);
    r->hours = col_real(st, 1);
    r->bytes_up = sqlite3_column_int64(st, 2);
    r->bytes_down = sqlite3_column_int64(st, 3);
    r->device_h = col_real(st, 4);
    r->eps = col_real(st, 5);
    double sel = col_real(st, 6);
    if (sel > 0) r->per_part = (double)(r->bytes_up + r->bytes_down) / sel;
    return SQLITE_OK;
}

/* Why a finished run never met the target: its best value, or what it evaluated instead. */
static int explain_miss(plan_ctx *c, plan_run *r)
{
    sqlite3_stmt *st = c->best;
    bind_query(st, c, r);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) return rc;
    r->n_rounds = sqlite3_column_int(st, 0);
    double best = col_real(st, 1);
    const char *others = (const char *)sqlite3_column_text(st, 2);
    char b[32];
    if (!isnan(best))
        add_reason(r, "never reached %s %g (best %s after %d rounds)", c->a->metric,
                   c->a->target, fmt_apart(b, sizeof b, best, c->a->target, false, 3),
                   r->n_rounds);
    else
        add_reason(r, "%s never evaluated on the whole test set (evaluated: %s)", c->a->metric,
                   others ? others : "nothing");
    return SQLITE_OK;
}

static void apply_constraints(const plan_args *a, plan_run *r)
{
    char v[32], w[32];
    if (!isnan(a->max_eps) && isnan(r->eps))
        add_reason(r, "no ε recorded (differential privacy off), --max-epsilon %g", a->max_eps);
    else if (r->eps > a->max_eps)
        add_reason(r, "ε %s > %g", fmt_apart(v, sizeof v, r->eps, a->max_eps, false, 3),
                   a->max_eps);
    if (r->hours > a->max_hours)
        add_reason(r, "%s virtual hours > %g",
                   fmt_apart(v, sizeof v, r->hours, a->max_hours, true, 1), a->max_hours);
    if (!isnan(a->max_bytes) && isnan(r->per_part))
        add_reason(r, "bytes per participation unknown (no client selected)");
    else if (r->per_part > a->max_bytes)
        add_reason(r, "%s per participation > %s", fmt_bytes(v, sizeof v, r->per_part),
                   fmt_bytes(w, sizeof w, a->max_bytes));
}

static double run_cost(enum plan_by by, const plan_run *r)
{
    double v = by == BY_HOURS      ? r->hours
               : by == BY_BYTES    ? (double)(r->bytes_up + r->bytes_down)
               : by == BY_DEVICE_H ? r->device_h
                                   : r->eps;
    return isnan(v) ? INFINITY : v; /* not recorded ranks last */
}

static int assess_run(plan_ctx *c, plan_run *r, fs_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "reading run %lld", (long long)r->run_id);
    if (strcmp(r->status, "done") != 0) {
        add_reason(r, "not finished (status %s)", r->status);
        return FS_OK;
    }
    if (find_hit(c, r) != SQLITE_OK) return db_fail(c, what, err);
    if (!r->reached) return explain_miss(c, r) == SQLITE_OK ? FS_OK : db_fail(c, what, err);
    apply_constraints(c->a, r);
    r->cost = run_cost(c->a->by, r);
    return FS_OK;
}

static int assess_all(plan_ctx *c, fs_err *err)
{
    if (sqlite3_prepare_v2(c->conn, hit_sql, -1, &c->hit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->conn, best_sql, -1, &c->best, NULL) != SQLITE_OK)
        return db_fail(c, "reading rounds", err);
    for (size_t i = 0; i < c->n_runs; i++) {
        int rc = assess_run(c, &c->runs[i], err);
        if (rc) return rc;
    }
    return FS_OK;
}

/* ---- ranking and output */

/* Cheapest first; ties by virtual hours, then bytes, then run order, so output is stable. */
static int cmp_feasible(const void *pa, const void *pb)
{
    const plan_run *x = pa, *y = pb;
    if (x->cost != y->cost) return x->cost < y->cost ? -1 : 1;
    if (x->hours != y->hours) return x->hours < y->hours ? -1 : 1;
    int64_t bx = x->bytes_up + x->bytes_down, by = y->bytes_up + y->bytes_down;
    if (bx != by) return bx < by ? -1 : 1;
    return x->run_id < y->run_id ? -1 : 1;
}

/* Moves the feasible runs to the front, ranked; returns how many there are. */
static size_t rank_feasible(plan_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_runs; i++) {
        if (c->runs[i].reason[0]) continue;
        plan_run t = c->runs[n];
        c->runs[n++] = c->runs[i];
        c->runs[i] = t;
    }
    if (n > 1) qsort(c->runs, n, sizeof *c->runs, cmp_feasible); /* runs is NULL when empty */
    /* excluded runs back in run order after the swaps */
    for (size_t i = n + 1; i < c->n_runs; i++)
        for (size_t j = i; j > n && c->runs[j - 1].run_id > c->runs[j].run_id; j--) {
            plan_run t = c->runs[j];
            c->runs[j] = c->runs[j - 1];
            c->runs[j - 1] = t;
        }
    return n;
}

static const char *const by_question[N_BY] = {
    "in the fewest virtual hours", "with the fewest bytes transferred",
    "with the fewest device hours", "at the lowest ε"};

static void print_question(const plan_ctx *c)
{
    const plan_args *a = c->a;
    char lim[3][64], b[32];
    int n = 0;
    if (!isnan(a->max_eps)) snprintf(lim[n++], sizeof lim[0], "ε <= %g", a->max_eps);
    if (!isnan(a->max_hours))
        snprintf(lim[n++], sizeof lim[0], "at most %g virtual hours", a->max_hours);
    if (!isnan(a->max_bytes))
        snprintf(lim[n++], sizeof lim[0], "at most %s per participation",
                 fmt_bytes(b, sizeof b, a->max_bytes));
    printf("question: which variant reaches %s %s %g %s", a->metric, a->lower ? "<=" : ">=",
           a->target, by_question[a->by]);
    for (int i = 0; i < n; i++) printf("%s%s", i == 0 ? ", with " : i == n - 1 ? " and " : ", ",
                                       lim[i]);
    printf("?\nresults:  %s (%zu variant%s, latest run of each)\n", a->db, c->n_runs,
           c->n_runs == 1 ? "" : "s");
}

static int label_width(const plan_ctx *c)
{
    size_t w = strlen("variant");
    for (size_t i = 0; i < c->n_runs; i++)
        if (strlen(c->runs[i].label) > w) w = strlen(c->runs[i].label);
    return (int)w;
}

static void print_row(const plan_ctx *c, const plan_run *r, bool first, int w)
{
    char up[32], down[32], dev[32] = "-", eps[32] = "-", pp[32];
    if (!isnan(r->device_h)) snprintf(dev, sizeof dev, "%.1f", r->device_h);
    if (!isnan(r->eps)) snprintf(eps, sizeof eps, "%.3g", r->eps);
    printf("%s %-*s  %6d  %9.2f  %10s  %10s  %8s  %6s", first ? "*" : " ", w, r->label, r->round,
           r->hours, fmt_bytes(up, sizeof up, (double)r->bytes_up),
           fmt_bytes(down, sizeof down, (double)r->bytes_down), dev, eps);
    if (!isnan(c->a->max_bytes)) printf("  %14s", fmt_bytes(pp, sizeof pp, r->per_part));
    printf("\n");
}

static void print_table(const plan_ctx *c, size_t n_feasible)
{
    int w = label_width(c);
    /* "ε" is two bytes wide for printf but one column on screen */
    printf("\n  %-*s  %6s  %9s  %10s  %10s  %8s  %7s", w, "variant", "rounds", "virtual h",
           "bytes up", "bytes down", "device h", "ε");
    if (!isnan(c->a->max_bytes)) printf("  %14s", "per particip.");
    printf("\n");
    for (size_t i = 0; i < n_feasible; i++) print_row(c, &c->runs[i], i == 0, w);
}

static void print_recommendation(const plan_ctx *c, size_t n_feasible)
{
    const plan_args *a = c->a;
    const plan_run *r = &c->runs[0];
    char cost[64], b[32];
    if (a->by == BY_BYTES)
        snprintf(cost, sizeof cost, "with %s transferred",
                 fmt_bytes(b, sizeof b, (double)(r->bytes_up + r->bytes_down)));
    else if (a->by == BY_DEVICE_H && !isnan(r->device_h))
        snprintf(cost, sizeof cost, "with %.1f device hours", r->device_h);
    else if (a->by == BY_EPSILON && !isnan(r->eps))
        snprintf(cost, sizeof cost, "at ε %.3g", r->eps);
    else
        snprintf(cost, sizeof cost, "in %.1f virtual hours", r->hours);
    printf("\n* recommended: %s: reaches %s %g %s, ", r->label, a->metric, a->target, cost);
    if (n_feasible == 1)
        printf("the only feasible variant\n");
    else if (isinf(r->cost)) /* nobody recorded the --by cost */
        printf("%s not recorded; first of %zu feasible variants\n", by_names[a->by], n_feasible);
    else
        printf("the %s of %zu feasible variants\n", a->by == BY_EPSILON ? "lowest" : "fewest",
               n_feasible);
}

static void print_excluded(const plan_ctx *c, size_t n_feasible)
{
    int w = label_width(c);
    if (n_feasible < c->n_runs) printf("\nexcluded:\n");
    for (size_t i = n_feasible; i < c->n_runs; i++)
        printf("  %-*s  %s\n", w, c->runs[i].label, c->runs[i].reason);
    if (c->n_superseded)
        printf("\n(%d older run%s of the same variants ignored)\n", c->n_superseded,
               c->n_superseded == 1 ? "" : "s");
}

static int report(plan_ctx *c)
{
    print_question(c);
    size_t n = rank_feasible(c);
    if (c->n_runs == 0)
        printf("\nno runs in %s\n", c->a->db);
    else if (n == 0)
        printf("\nno variant reaches %s %g within the constraints\n", c->a->metric,
               c->a->target);
    else {
        print_table(c, n);
        print_recommendation(c, n);
    }
    print_excluded(c, n);
    return n ? 0 : 1;
}

int fs_plan_cli(int argc, char **argv)
{
    if (fs_cli_wants_help(argc, argv)) {
        fputs(plan_help, stdout);
        return 0;
    }
    fs_err err;
    fs_err_init(&err, NULL);
    plan_args a;
    if (parse_args(argc, argv, &a, &err)) {
        fs_err_print(&err, stderr);
        fputs(plan_usage, stderr);
        return 2;
    }
    plan_ctx c = {.a = &a};
    int rc = fs_db_open_readonly(a.db, &c.conn, &err);
    if (rc == FS_OK) rc = load_runs(&c, &err);
    if (rc == FS_OK) rc = assess_all(&c, &err);
    int code = rc == FS_OK ? report(&c) : fs_exit_code(rc);
    if (rc) fs_err_print(&err, stderr);
    sqlite3_finalize(c.hit);
    sqlite3_finalize(c.best);
    sqlite3_close(c.conn);
    free(c.runs);
    fflush(stdout);
    return code;
}
