/* fs_db_stats: the replicate statistics tables of a sweep (variant_stats, variant_round_stats;
 * schema in fs_db_schema.c). Reads each variant's done runs through the planning views, so the
 * numbers agree with v_run_summary and v_time_to_target, and summarises them with fs_stats
 * (GSL). Rows are grouped by streaming over a query sorted by the group key: memory is one group
 * of values (at most the replicate count), whatever the number of variants or rounds. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs_db_int.h"
#include "fs_stats.h"

/* The latest done run of each (variant, replicate) of the sweep: the runs the statistics use. */
#define SELECTED_RUNS                                                                              \
    "(SELECT variant, replicate, max(run_id) AS run_id FROM runs WHERE name = ?1"                  \
    " AND status = 'done' AND variant <> '' GROUP BY variant, replicate)"

static const char variant_sql[] =
    "SELECT r.variant, s.final_metric, s.final_value, t.target_metric, t.target_value,"
    " t.reached, t.t_h, t.bytes_up + t.bytes_down, t.epsilon, t.energy_j FROM " SELECTED_RUNS " r"
    " JOIN v_run_summary s ON s.run_id = r.run_id"
    " LEFT JOIN v_time_to_target t ON t.run_id = r.run_id ORDER BY r.variant, r.replicate";

static const char round_sql[] =
    "SELECT r.variant, m.metric, m.round, m.value, m.t_end_h,"
    " m.cum_bytes_up + m.cum_bytes_down, m.epsilon FROM " SELECTED_RUNS " r"
    " JOIN v_round_metrics m ON m.run_id = r.run_id AND m.metric IS NOT NULL"
    " ORDER BY r.variant, m.metric, m.round, r.replicate";

static const char insert_variant_sql[] =
    "INSERT INTO variant_stats(name, variant, n_replicates, final_metric, mean_final, sd_final,"
    " ci_low_final, ci_high_final, target_metric, target_value, n_reached, reach_share,"
    " mean_hours_to_target, ci_low_hours, ci_high_hours, mean_bytes_to_target, ci_low_bytes,"
    " ci_high_bytes, mean_epsilon_at_target, updated_at, mean_energy_to_target, ci_low_energy,"
    " ci_high_energy)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
    " ?19, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?20, ?21, ?22)";

static const char insert_round_sql[] =
    "INSERT INTO variant_round_stats(name, variant, round, metric, n, mean, sd, ci_low, ci_high,"
    " mean_t_h, mean_cum_bytes, mean_epsilon) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
    " ?11, ?12)";

/* Columns of one group, each a growable array of doubles (NaN = no value). */
#define MAX_COLS 6

typedef struct group {
    double *col[MAX_COLS];
    size_t n, cap;
    char key[3][256]; /* texts identifying the group (variant, metric, ...) */
} group;

static bool group_push(group *g, const double *v, size_t n_cols)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        for (size_t c = 0; c < n_cols; c++) {
            double *p = realloc(g->col[c], cap * sizeof *p);
            if (!p) return false;
            g->col[c] = p;
        }
        g->cap = cap;
    }
    for (size_t c = 0; c < n_cols; c++)
        g->col[c][g->n] = v[c];
    g->n++;
    return true;
}

static void group_free(group *g)
{
    for (size_t c = 0; c < MAX_COLS; c++)
        free(g->col[c]);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    snprintf(out, n, "%s", t ? t : "");
}

static double mean_of(const double *x, size_t n)
{
    return fs_stats_summarize(x, n).mean;
}

/* NaN binds as NULL: an interval over one replicate, or hours of a variant that never reached. */
static int bind_real(sqlite3_stmt *st, int i, double v)
{
    return isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
}

static int bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    return *s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int step_insert(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- one row per variant. Group columns: final value, reached, hours, bytes, ε, energy (J up
 * to the target, NULL without energy accounting); keys:
 * variant, final metric, target metric (+ target value kept aside). */

enum { V_FINAL, V_REACHED, V_HOURS, V_BYTES, V_EPS, V_ENERGY, V_N };

typedef struct variant_acc {
    group g;
    double target_value;
} variant_acc;

static int write_variant(sqlite3_stmt *ins, const char *name, const variant_acc *a)
{
    const group *g = &a->g;
    size_t n_reached = 0;
    for (size_t i = 0; i < g->n; i++)
        n_reached += g->col[V_REACHED][i] == 1;
    fs_stats_summary fin = fs_stats_summarize(g->col[V_FINAL], g->n);
    /* hours and bytes of the replicates that reached: NaN elsewhere */
    fs_stats_summary h = fs_stats_summarize(g->col[V_HOURS], g->n);
    fs_stats_summary b = fs_stats_summarize(g->col[V_BYTES], g->n);
    fs_stats_summary e = fs_stats_summarize(g->col[V_ENERGY], g->n);
    bool has_target = g->key[2][0] != '\0';
    int rc = sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
    if (!rc) rc = sqlite3_bind_text(ins, 2, g->key[0], -1, SQLITE_TRANSIENT);
    if (!rc) rc = sqlite3_bind_int64(ins, 3, (sqlite3_int64)g->n);
    if (!rc) rc = bind_text_or_null(ins, 4, g->key[1]);
    double fin_v[4] = {fin.mean, fin.sd, fs_stats_ci_low(&fin), fs_stats_ci_high(&fin)};
    for (int k = 0; k < 4 && !rc; k++)
        rc = bind_real(ins, 5 + k, fin_v[k]);
    if (!rc) rc = bind_text_or_null(ins, 9, g->key[2]);
    if (!rc) rc = bind_real(ins, 10, has_target ? a->target_value : NAN);
    if (!rc && has_target) rc = sqlite3_bind_int64(ins, 11, (sqlite3_int64)n_reached);
    if (!rc) rc = bind_real(ins, 12, has_target ? (double)n_reached / (double)g->n : NAN);
    double hb[6] = {h.mean, fs_stats_ci_low(&h), fs_stats_ci_high(&h),
                    b.mean, fs_stats_ci_low(&b), fs_stats_ci_high(&b)};
    for (int k = 0; k < 6 && !rc; k++)
        rc = bind_real(ins, 13 + k, hb[k]);
    if (!rc) rc = bind_real(ins, 19, mean_of(g->col[V_EPS], g->n));
    double ev[3] = {e.mean, fs_stats_ci_low(&e), fs_stats_ci_high(&e)};
    for (int k = 0; k < 3 && !rc; k++)
        rc = bind_real(ins, 20 + k, ev[k]);
    return rc ? rc : step_insert(ins);
}

static int variant_rows(sqlite3 *db, const char *name)
{
    sqlite3_stmt *q = NULL, *ins = NULL;
    variant_acc a = {0};
    int rc = sqlite3_prepare_v2(db, variant_sql, -1, &q, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, insert_variant_sql, -1, &ins, NULL);
    if (!rc) rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int step;
    while (!rc && (step = sqlite3_step(q)) == SQLITE_ROW) {
        char variant[256];
        col_text(q, 0, variant, sizeof variant);
        if (a.g.n && strcmp(variant, a.g.key[0])) {
            rc = write_variant(ins, name, &a);
            a.g.n = 0;
        }
        if (a.g.n == 0) {
            snprintf(a.g.key[0], sizeof a.g.key[0], "%s", variant);
            col_text(q, 1, a.g.key[1], sizeof a.g.key[1]);
            col_text(q, 3, a.g.key[2], sizeof a.g.key[2]);
            a.target_value = fs_db_column_real(q, 4);
        }
        bool reached = sqlite3_column_int(q, 5) == 1;
        double v[V_N] = {
            fs_db_column_real(q, 2), reached ? 1 : 0, reached ? fs_db_column_real(q, 6) : NAN,
            reached ? fs_db_column_real(q, 7) : NAN, reached ? fs_db_column_real(q, 8) : NAN,
            reached ? fs_db_column_real(q, 9) : NAN};
        if (!rc && !group_push(&a.g, v, V_N)) rc = SQLITE_NOMEM;
    }
    if (!rc && step != SQLITE_DONE) rc = step;
    if (!rc && a.g.n) rc = write_variant(ins, name, &a);
    group_free(&a.g);
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    return rc;
}

/* ---- one row per variant, metric and round. Group columns: value, hours, bytes, ε. */

enum { R_VALUE, R_HOURS, R_BYTES, R_EPS, R_N };

static int write_round(sqlite3_stmt *ins, const char *name, const group *g, int round)
{
    fs_stats_summary v = fs_stats_summarize(g->col[R_VALUE], g->n);
    int rc = sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
    if (!rc) rc = sqlite3_bind_text(ins, 2, g->key[0], -1, SQLITE_TRANSIENT);
    if (!rc) rc = sqlite3_bind_int(ins, 3, round);
    if (!rc) rc = sqlite3_bind_text(ins, 4, g->key[1], -1, SQLITE_TRANSIENT);
    if (!rc) rc = sqlite3_bind_int64(ins, 5, (sqlite3_int64)v.n);
    double vals[7] = {v.mean,
                      v.sd,
                      fs_stats_ci_low(&v),
                      fs_stats_ci_high(&v),
                      mean_of(g->col[R_HOURS], g->n),
                      mean_of(g->col[R_BYTES], g->n),
                      mean_of(g->col[R_EPS], g->n)};
    for (int k = 0; k < 7 && !rc; k++)
        rc = bind_real(ins, 6 + k, vals[k]);
    return rc ? rc : step_insert(ins);
}

static int round_rows(sqlite3 *db, const char *name)
{
    sqlite3_stmt *q = NULL, *ins = NULL;
    group g = {0};
    int round = 0, step;
    int rc = sqlite3_prepare_v2(db, round_sql, -1, &q, NULL);
    if (!rc) rc = sqlite3_prepare_v2(db, insert_round_sql, -1, &ins, NULL);
    if (!rc) rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    while (!rc && (step = sqlite3_step(q)) == SQLITE_ROW) {
        char variant[256], metric[256];
        col_text(q, 0, variant, sizeof variant);
        col_text(q, 1, metric, sizeof metric);
        int r = sqlite3_column_int(q, 2);
        if (g.n && (r != round || strcmp(variant, g.key[0]) || strcmp(metric, g.key[1]))) {
            rc = write_round(ins, name, &g, round);
            g.n = 0;
        }
        if (g.n == 0) {
            snprintf(g.key[0], sizeof g.key[0], "%s", variant);
            snprintf(g.key[1], sizeof g.key[1], "%s", metric);
            round = r;
        }
        double v[R_N] = {fs_db_column_real(q, 3), fs_db_column_real(q, 4), fs_db_column_real(q, 5),
                         fs_db_column_real(q, 6)};
        if (!rc && !group_push(&g, v, R_N)) rc = SQLITE_NOMEM;
    }
    if (!rc && step != SQLITE_DONE) rc = step;
    if (!rc && g.n) rc = write_round(ins, name, &g, round);
    group_free(&g);
    sqlite3_finalize(q);
    sqlite3_finalize(ins);
    return rc;
}

static int clear_rows(sqlite3 *db, const char *name)
{
    static const char *const sql[] = {"DELETE FROM variant_stats WHERE name = ?1",
                                      "DELETE FROM variant_round_stats WHERE name = ?1"};
    int rc = SQLITE_OK;
    for (size_t i = 0; i < 2 && !rc; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL);
        if (!rc) rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (!rc) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_finalize(st);
    }
    return rc;
}

int fs_db_refresh_variant_stats(fs_db *db, const char *name, fs_err *err)
{
    sqlite3 *c = fs_db_conn(db);
    int rc = sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (!rc) rc = clear_rows(c, name);
    if (!rc) rc = variant_rows(c, name);
    if (!rc) rc = round_rows(c, name);
    if (!rc) rc = sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    if (!rc) return FS_OK;
    fs_err_add(err, NULL, "%s: computing replicate statistics of \"%s\": %s", fs_db_path(db), name,
               rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(c));
    if (!sqlite3_get_autocommit(c)) sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return rc == SQLITE_NOMEM ? FS_ENOMEM : FS_EDB;
}
