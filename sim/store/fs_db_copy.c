/* fs_db_copy: run copies between results files, by ATTACH and INSERT ... SELECT. The tables
 * are found, not listed: every table of dst with a run_id column, runs first (the others
 * reference it), so a table the schema gains is copied without a change here. Columns are
 * named, so files whose columns were added in another order (upgrades) copy correctly. */
#include "fs_db_copy.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_db.h"
#include "fs_db_int.h"

#define MAX_TABLES 32
#define MAX_SQL 4096

typedef struct copy_ctx {
    sqlite3 *c;
    const char *dst;
    char tables[MAX_TABLES][64];
    char cols[MAX_TABLES][1024]; /* "a, b, c" without run_id */
    int n_tables;
} copy_ctx;

static int copy_fail(copy_ctx *x, fs_err *err, const char *what)
{
    fs_err_add(err, NULL, "%s: %s: %s", x->dst, what, sqlite3_errmsg(x->c));
    sqlite3_exec(x->c, "ROLLBACK", NULL, NULL, NULL);
    return FS_EDB;
}

/* The tables keyed by run_id and their other columns, from dst's own schema. */
static int find_tables(copy_ctx *x)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        x->c,
        "SELECT m.name, (SELECT group_concat('\"' || p.name || '\"', ', ') FROM"
        " pragma_table_info(m.name) p WHERE p.name <> 'run_id') FROM main.sqlite_schema m"
        " WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name)"
        " WHERE name = 'run_id') ORDER BY m.name <> 'runs', m.name",
        -1, &st, NULL);
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && x->n_tables < MAX_TABLES) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        const char *c = (const char *)sqlite3_column_text(st, 1);
        if (!t || !c || strlen(t) >= sizeof x->tables[0] || strlen(c) >= sizeof x->cols[0]) {
            rc = SQLITE_TOOBIG;
            break;
        }
        snprintf(x->tables[x->n_tables], sizeof x->tables[0], "%s", t);
        snprintf(x->cols[x->n_tables], sizeof x->cols[0], "%s", c);
        x->n_tables++;
    }
    sqlite3_finalize(st);
    return rc;
}

static int exec2(sqlite3 *c, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, a);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 1) rc = sqlite3_bind_int64(st, 2, b);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

/* Run `from` of src as run `to` of main, after whatever main held under `to`. */
static int copy_one(copy_ctx *x, int64_t from, int64_t to)
{
    char sql[MAX_SQL];
    int rc = SQLITE_OK;
    for (int t = x->n_tables - 1; t >= 0 && rc == SQLITE_OK; t--) { /* children first */
        snprintf(sql, sizeof sql, "DELETE FROM main.\"%s\" WHERE run_id = ?1", x->tables[t]);
        rc = exec2(x->c, sql, to, 0);
    }
    for (int t = 0; t < x->n_tables && rc == SQLITE_OK; t++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO main.\"%s\"(run_id, %s) SELECT ?2, %s FROM src.\"%s\""
                 " WHERE run_id = ?1",
                 x->tables[t], x->cols[t], x->cols[t], x->tables[t]);
        rc = exec2(x->c, sql, from, to);
    }
    return rc;
}

/* `wanted` when main has no run of that id (and wanted > 0), else main's next free run_id;
 * -1 on SQLite failure. */
static int64_t new_id(sqlite3 *c, int64_t wanted)
{
    sqlite3_stmt *st = NULL;
    int64_t id = -1;
    if (sqlite3_prepare_v2(c,
                           "SELECT CASE WHEN ?1 > 0 AND NOT EXISTS (SELECT 1 FROM main.runs"
                           " WHERE run_id = ?1) THEN ?1 ELSE coalesce(max(run_id), 0) + 1 END"
                           " FROM main.runs",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_int64(st, 1, wanted) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

static int copy_all(copy_ctx *x, int64_t only, int64_t keep, int64_t first_new, int *out_n)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(x->c,
                                "SELECT run_id FROM src.runs WHERE ?1 <= 0 OR run_id = ?1"
                                " ORDER BY run_id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, only);
    int64_t ids[64];
    int n = 0;
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        if (n < 64) ids[n++] = sqlite3_column_int64(st, 0); else rc = SQLITE_TOOBIG;
    sqlite3_finalize(st);
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        int64_t to = ids[i] == keep ? keep : new_id(x->c, first_new > 0 ? first_new++ : 0);
        rc = to > 0 ? copy_one(x, ids[i], to) : SQLITE_ERROR;
    }
    *out_n = n;
    return rc;
}

int fs_db_copy_runs(const char *src, const char *dst, int64_t only, int64_t keep,
                    int64_t first_new, int *out_n, fs_err *err)
{
    fs_db *db = NULL;
    int n = 0, rc = fs_db_open(dst, &db, err); /* creates or upgrades the schema */
    if (out_n) *out_n = 0;
    if (rc) return rc;
    copy_ctx x = {.c = fs_db_conn(db), .dst = dst};
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(x.c, "ATTACH ?1 AS src", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK && sqlite3_step(st) != SQLITE_DONE) rc = SQLITE_ERROR;
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: attaching %s to copy its runs: %s", dst, src,
                   sqlite3_errmsg(x.c));
        fs_db_close(db);
        return FS_EDB;
    }
    if (find_tables(&x) != SQLITE_OK) rc = copy_fail(&x, err, "listing the tables to copy");
    else if (sqlite3_exec(x.c, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        rc = copy_fail(&x, err, "copying runs");
    else if (copy_all(&x, only, keep, first_new, &n) != SQLITE_OK ||
             sqlite3_exec(x.c, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        char what[1200];
        snprintf(what, sizeof what, "copying the runs of %s", src);
        rc = copy_fail(&x, err, what);
    }
    sqlite3_exec(x.c, "DETACH src", NULL, NULL, NULL);
    fs_db_close(db);
    if (out_n && !rc) *out_n = n;
    return rc;
}

int fs_db_copy_settle(const char *path, fs_err *err)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fs_err_add(err, NULL, "%s: folding its write-ahead log: %s", path,
                   c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
    sqlite3_close(c);
    return rc == SQLITE_OK ? FS_OK : FS_EDB;
}
