/* fs_db: the results recorder (DESIGN.md section 8). Owns the schema (its text is in
 * fs_db_schema.c: version check, then creation, on every open), the prepared statements
 * (prepared once in fs_db_open, reset and reused for every row) and the transaction ladder:
 * every multi-row write is BEGIN IMMEDIATE ... COMMIT, and any failure is reported with what was
 * being written, then rolled back, so the file never holds half a round. */
#include "fs_db.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fs_db_schema.h"

/* ISO 8601 UTC with milliseconds, computed by SQLite so we need no POSIX time functions. */
#define FS_DB_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_RUN,
    ST_CLIENT,
    ST_ROUND,
    ST_PART,
    ST_EVAL,
    ST_FINISH,
    ST_STATUS,
    ST_N
};

/* BEGIN IMMEDIATE takes the write lock up front: two processes writing one file (a sweep) wait
 * on the busy timeout instead of deadlocking on a read-to-write lock upgrade. */
static const char *const stmt_sql[ST_N] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_RUN] = "INSERT INTO runs(name, scenario_json, seed, variant, target_metric,"
               " target_value, target_lower_better, fedsim_version, status, started_at, threads,"
               " host) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'running', " FS_DB_NOW ", ?, ?)",
    [ST_CLIENT] = "INSERT INTO clients VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_ROUND] = "INSERT INTO rounds(run_id, round, t_start, t_end, selected, reported, dropped,"
                 " late, aborted, bytes_up, bytes_down, train_loss, epsilon, compute_s,"
                 " online_share, wall_s, rejected)"
                 " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_PART] = "INSERT INTO participation VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_EVAL] = "INSERT INTO evals VALUES(?, ?, ?, ?, ?, ?)",
    [ST_FINISH] = "UPDATE runs SET status = ?, finished_at = " FS_DB_NOW ", wall_s = ?"
                  " WHERE run_id = ?",
    [ST_STATUS] = "UPDATE runs SET status = ? WHERE run_id = ?",
};

struct fs_db {
    sqlite3 *conn;
    char *path;
    sqlite3_stmt *st[ST_N];
};

/* ---- binding: a cursor over one statement's parameters that keeps the first error, so a row
 * is bound in straight-line code and checked once. */

typedef struct fs_db_bind {
    sqlite3_stmt *st;
    int i;
    int rc;
} fs_db_bind;

static fs_db_bind bind_start(fs_db *db, int which)
{
    return (fs_db_bind){.st = db->st[which], .i = 0, .rc = SQLITE_OK};
}

static void bind_i64(fs_db_bind *b, int64_t v)
{
    if (b->rc == SQLITE_OK) b->rc = sqlite3_bind_int64(b->st, ++b->i, v);
}

/* NaN means "no value" in the row structs and becomes SQL NULL, so aggregates skip it. */
static void bind_real(fs_db_bind *b, double v)
{
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc = isnan(v) ? sqlite3_bind_null(b->st, b->i) : sqlite3_bind_double(b->st, b->i, v);
}

/* Virtual times: -1 (any negative) means "stage not reached" and becomes NULL. */
static void bind_time(fs_db_bind *b, int64_t t)
{
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc = t < 0 ? sqlite3_bind_null(b->st, b->i) : sqlite3_bind_int64(b->st, b->i, t);
}

/* SQLITE_STATIC is safe: the string is borrowed for the call and bind_exec clears the bindings
 * before returning. */
static void bind_text(fs_db_bind *b, const char *s)
{
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc =
        s ? sqlite3_bind_text(b->st, b->i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(b->st, b->i);
}

/* Steps a bound write statement to completion. Returns SQLITE_OK or the failing code; the
 * connection's error message stays set for the caller to report. sqlite3_reset only repeats the
 * step's error code, and sqlite3_clear_bindings always succeeds. */
static int bind_exec(fs_db_bind *b)
{
    if (b->rc != SQLITE_OK) {
        sqlite3_clear_bindings(b->st);
        return b->rc;
    }
    int rc = sqlite3_step(b->st);
    sqlite3_reset(b->st);
    sqlite3_clear_bindings(b->st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int run_stmt(fs_db *db, int which)
{
    fs_db_bind b = bind_start(db, which);
    return bind_exec(&b);
}

/* ---- failure handling: the message is taken before ROLLBACK, which would overwrite it.
 * ROLLBACK goes through sqlite3_exec because it is rare and must also work while the schema is
 * being created, before any statement is prepared. */

static void db_rollback(fs_db *db, fs_err *err)
{
    if (sqlite3_get_autocommit(db->conn)) return; /* no transaction open (or SQLite ended it) */
    if (sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
        fs_err_add(err, NULL, "%s: rolling back: %s", db->path, sqlite3_errmsg(db->conn));
}

static int db_fail(fs_db *db, fs_err *err, const char *what)
{
    fs_err_add(err, NULL, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->conn));
    db_rollback(db, err);
    return FS_EDB;
}

/* ---- open / close */

static int db_connect(fs_db *db, fs_err *err)
{
    int rc = sqlite3_open_v2(db->path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db->conn, 5000);
    /* synchronous=NORMAL in WAL keeps the file consistent after a crash; a power cut may lose
     * the last few committed rounds, which a resumed run recomputes. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->conn,
                          "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;"
                          " PRAGMA synchronous = NORMAL;",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK) return FS_OK;
    fs_err_add(err, NULL, "%s: cannot open results database: %s", db->path,
               db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
    return FS_EDB;
}

static int db_create_schema(fs_db *db, fs_err *err)
{
    if (sqlite3_exec(db->conn, fs_db_schema_sql, NULL, NULL, NULL) == SQLITE_OK) return FS_OK;
    return db_fail(db, err, "creating schema");
}

static int db_prepare(fs_db *db, fs_err *err)
{
    for (int i = 0; i < ST_N; i++) {
        if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                               NULL) != SQLITE_OK)
            return db_fail(db, err, "preparing statements");
    }
    return FS_OK;
}

/* Steps a one-row query and copies its first column (empty when NULL or no row). */
static int query_text(fs_db *db, const char *sql, char *out, size_t n, fs_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fs_err_add(err, NULL, "%s: reading schema version: %s", db->path, sqlite3_errmsg(db->conn));
        sqlite3_finalize(st);
        return FS_EDB;
    }
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    snprintf(out, n, "%s", v ? v : "");
    sqlite3_finalize(st);
    return FS_OK;
}

/* A file written by a newer (or older) fedsim would be misread, so refuse it. Checked before
 * the schema script runs: that script would otherwise add views over columns an old file does
 * not have, i.e. modify a file we are about to refuse. A file without a meta table is new. */
static int db_check_version(fs_db *db, fs_err *err)
{
    char v[64];
    int rc = query_text(db,
                        "SELECT count(*) FROM sqlite_schema"
                        " WHERE type = 'table' AND name = 'meta'",
                        v, sizeof v, err);
    if (rc != FS_OK || strcmp(v, "0") == 0) return rc;
    rc = query_text(db, "SELECT value FROM meta WHERE key = 'schema_version'", v, sizeof v, err);
    if (rc != FS_OK) return rc;
    char want[16];
    snprintf(want, sizeof want, "%d", FS_DB_SCHEMA_VERSION);
    if (strcmp(v, want) == 0) return FS_OK;
    fs_err_add(err, NULL,
               "%s: results database has schema version %s, this fedsim writes version %d;"
               " use a new file",
               db->path, *v ? v : "(none)", FS_DB_SCHEMA_VERSION);
    return FS_EDB;
}

int fs_db_open(const char *path, fs_db **out, fs_err *err)
{
    *out = NULL;
    fs_db *db = calloc(1, sizeof *db);
    char *p = strdup(path);
    if (!db || !p) {
        free(db);
        free(p);
        fs_err_add(err, NULL, "%s: cannot open results database: out of memory", path);
        return FS_ENOMEM;
    }
    db->path = p;
    int rc = db_connect(db, err);
    if (rc == FS_OK) rc = db_check_version(db, err);
    if (rc == FS_OK) rc = db_create_schema(db, err);
    if (rc == FS_OK) rc = db_prepare(db, err);
    if (rc != FS_OK) goto fail;
    *out = db;
    return FS_OK;
fail:
    fs_db_close(db);
    return rc;
}

/* Every statement is finalized first, so sqlite3_close can only fail on a bug here; it also
 * rolls back a transaction left open and checkpoints the WAL. */
void fs_db_close(fs_db *db)
{
    if (!db) return;
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(db->st[i]);
    int rc = sqlite3_close(db->conn);
    fs_assert(rc == SQLITE_OK);
    free(db->path);
    free(db);
}

const char *fs_db_path(const fs_db *db)
{
    return db->path;
}

/* ---- runs */

/* No target (NULL or "" metric) is three NULLs, so v_time_to_target leaves the run out. */
static void bind_target(fs_db_bind *b, const fs_db_run *run)
{
    const char *m = run->target_metric;
    bool none = !m || !*m;
    bind_text(b, none ? NULL : m);
    bind_real(b, none ? NAN : run->target_value);
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc = none ? sqlite3_bind_null(b->st, b->i)
                 : sqlite3_bind_int(b->st, b->i, run->target_lower_better ? 1 : 0);
}

int fs_db_begin_run(fs_db *db, const fs_db_run *run, int64_t *out_run_id, fs_err *err)
{
    fs_assert(db && run && out_run_id);
    fs_db_bind b = bind_start(db, ST_RUN);
    bind_text(&b, run->name);
    bind_text(&b, run->scenario_json);
    bind_i64(&b, (int64_t)run->seed); /* two's complement for seeds >= 2^63 */
    bind_text(&b, run->variant);
    bind_target(&b, run);
    bind_text(&b, run->fedsim_version);
    bind_i64(&b, run->threads);
    bind_text(&b, run->host);
    if (bind_exec(&b) != SQLITE_OK) return db_fail(db, err, "starting run");
    *out_run_id = sqlite3_last_insert_rowid(db->conn);
    return FS_OK;
}

/* Shared by finish and set_status: an UPDATE of one runs row that must exist. */
static int update_run(fs_db *db, fs_db_bind *b, int64_t run_id, const char *what, fs_err *err)
{
    if (bind_exec(b) != SQLITE_OK) return db_fail(db, err, what);
    if (sqlite3_changes(db->conn) == 1) return FS_OK;
    fs_err_add(err, NULL, "%s: %s: no run with run_id %lld", db->path, what, (long long)run_id);
    return FS_EDB;
}

int fs_db_finish_run(fs_db *db, int64_t run_id, const char *status, double wall_s, fs_err *err)
{
    fs_assert(db && status);
    db_rollback(db, err); /* a write cut short by the interruption must not stay open */
    char what[64];
    snprintf(what, sizeof what, "finishing run %lld", (long long)run_id);
    fs_db_bind b = bind_start(db, ST_FINISH);
    bind_text(&b, status);
    bind_real(&b, wall_s);
    bind_i64(&b, run_id);
    return update_run(db, &b, run_id, what, err);
}

int fs_db_set_status(fs_db *db, int64_t run_id, const char *status, fs_err *err)
{
    fs_assert(db && status);
    char what[64];
    snprintf(what, sizeof what, "setting status of run %lld", (long long)run_id);
    fs_db_bind b = bind_start(db, ST_STATUS);
    bind_text(&b, status);
    bind_i64(&b, run_id);
    return update_run(db, &b, run_id, what, err);
}

/* ---- clients */

static int insert_client(fs_db *db, int64_t run_id, const fs_db_client *c)
{
    fs_db_bind b = bind_start(db, ST_CLIENT);
    bind_i64(&b, run_id);
    bind_i64(&b, c->client_id);
    bind_i64(&b, c->n_train);
    bind_i64(&b, c->n_test);
    bind_text(&b, c->segment);
    bind_real(&b, c->gflops);
    bind_real(&b, c->uplink_mbps);
    bind_real(&b, c->downlink_mbps);
    bind_real(&b, c->latency_ms);
    bind_i64(&b, c->consent);
    return bind_exec(&b);
}

int fs_db_write_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                        fs_err *err)
{
    fs_assert(db && (clients || n == 0));
    if (run_stmt(db, ST_BEGIN) != SQLITE_OK) goto fail;
    for (size_t i = 0; i < n; i++)
        if (insert_client(db, run_id, &clients[i]) != SQLITE_OK) goto fail;
    if (run_stmt(db, ST_COMMIT) != SQLITE_OK) goto fail;
    return FS_OK;
fail:
    return db_fail(db, err, "writing clients");
}

/* ---- rounds */

static int insert_round(fs_db *db, int64_t run_id, const fs_db_round *r)
{
    fs_db_bind b = bind_start(db, ST_ROUND);
    bind_i64(&b, run_id);
    bind_i64(&b, r->round);
    bind_time(&b, r->t_start);
    bind_time(&b, r->t_end);
    bind_i64(&b, r->selected);
    bind_i64(&b, r->reported);
    bind_i64(&b, r->dropped);
    bind_i64(&b, r->late);
    bind_i64(&b, r->aborted);
    bind_i64(&b, r->bytes_up);
    bind_i64(&b, r->bytes_down);
    bind_real(&b, r->train_loss);
    bind_real(&b, r->epsilon);
    bind_real(&b, r->compute_s);
    bind_real(&b, r->online_share);
    bind_real(&b, r->wall_s);
    bind_i64(&b, r->rejected);
    return bind_exec(&b);
}

static int insert_part(fs_db *db, int64_t run_id, int round, const fs_db_part *p)
{
    fs_db_bind b = bind_start(db, ST_PART);
    bind_i64(&b, run_id);
    bind_i64(&b, round);
    bind_i64(&b, p->client_id);
    bind_text(&b, p->outcome);
    bind_time(&b, p->t_selected);
    bind_time(&b, p->t_downloaded);
    bind_time(&b, p->t_trained);
    bind_time(&b, p->t_reported);
    bind_i64(&b, p->n_samples);
    bind_i64(&b, p->steps);
    bind_real(&b, p->local_loss);
    bind_real(&b, p->update_norm);
    bind_i64(&b, p->bytes_up);
    bind_i64(&b, p->bytes_down);
    bind_i64(&b, p->staleness);
    bind_i64(&b, p->seq);
    return bind_exec(&b);
}

static int insert_eval(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_eval *e)
{
    fs_db_bind b = bind_start(db, ST_EVAL);
    bind_i64(&b, run_id);
    bind_i64(&b, r->round);
    bind_time(&b, r->t_end);
    bind_text(&b, e->segment);
    bind_text(&b, e->metric);
    bind_real(&b, e->value);
    return bind_exec(&b);
}

/* The run's only checkpoint becomes this one (older ones are useless once a later exists). */
static int replace_checkpoint(fs_db *db, int64_t run_id, int round, const void *state, size_t len)
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    int rc =
        sqlite3_prepare_v2(db->conn, "DELETE FROM checkpoints WHERE run_id = ?1", -1, &del, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(del, 1, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_step(del) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db->conn,
                                "INSERT INTO checkpoints(run_id, round, server_state) "
                                "VALUES(?1, ?2, ?3)",
                                -1, &ins, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(ins, 1, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(ins, 2, round);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob64(ins, 3, state, len, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    return rc;
}

int fs_db_write_round(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                      size_t n_parts, const fs_db_eval *evals, size_t n_evals, fs_err *err)
{
    return fs_db_write_round_ckpt(db, run_id, r, parts, n_parts, evals, n_evals, NULL, 0, err);
}

int fs_db_write_round_ckpt(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                           size_t n_parts, const fs_db_eval *evals, size_t n_evals,
                           const void *state, size_t state_len, fs_err *err)
{
    fs_assert(db && r && (parts || n_parts == 0) && (evals || n_evals == 0));
    if (run_stmt(db, ST_BEGIN) != SQLITE_OK) goto fail;
    if (insert_round(db, run_id, r) != SQLITE_OK) goto fail;
    for (size_t i = 0; i < n_parts; i++)
        if (insert_part(db, run_id, r->round, &parts[i]) != SQLITE_OK) goto fail;
    for (size_t i = 0; i < n_evals; i++)
        if (insert_eval(db, run_id, r, &evals[i]) != SQLITE_OK) goto fail;
    if (state && replace_checkpoint(db, run_id, r->round, state, state_len) != SQLITE_OK) goto fail;
    if (run_stmt(db, ST_COMMIT) != SQLITE_OK) goto fail;
    return FS_OK;
fail:;
    char what[48];
    snprintf(what, sizeof what, "writing round %d", r->round);
    return db_fail(db, err, what);
}

/* ---- resuming */

static int find_resumable(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                          void **out_state, size_t *out_len, char **out_json)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db->conn,
        "SELECT r.run_id, c.round, c.server_state, r.scenario_json FROM runs r "
        "JOIN checkpoints c ON c.run_id = r.run_id WHERE r.name = ?1 AND r.variant = ?2 "
        "AND r.status <> 'done' ORDER BY r.run_id DESC, c.round DESC LIMIT 1",
        -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, run->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, run->variant ? run->variant : "", -1, SQLITE_STATIC);
    int step = rc == SQLITE_OK ? sqlite3_step(st) : rc;
    if (step == SQLITE_ROW) {
        *out_run_id = sqlite3_column_int64(st, 0);
        *out_round = sqlite3_column_int(st, 1);
        *out_len = (size_t)sqlite3_column_bytes(st, 2);
        *out_state = malloc(*out_len ? *out_len : 1);
        *out_json = strdup((const char *)sqlite3_column_text(st, 3));
        if (*out_state) memcpy(*out_state, sqlite3_column_blob(st, 2), *out_len);
        rc = *out_state && *out_json ? SQLITE_ROW : SQLITE_NOMEM;
    } else {
        rc = step == SQLITE_DONE ? SQLITE_DONE : step;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Forgets what a run recorded after its checkpoint (it will be recorded again, identically). */
static int truncate_run(fs_db *db, int64_t run_id, int round)
{
    static const char *const sql[] = {
        "DELETE FROM participation WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM evals WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM rounds WHERE run_id = ?1 AND round > ?2",
        "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?1 AND ?2 >= 0"};
    int rc = sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db->conn, sql[i], -1, &st, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, round);
        if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL);
    return rc;
}

int fs_db_resume(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                 void **out_state, size_t *out_len, fs_err *err)
{
    char *json = NULL;
    *out_state = NULL;
    int rc = find_resumable(db, run, out_run_id, out_round, out_state, out_len, &json);
    if (rc == SQLITE_DONE) return FS_OK; /* nothing to resume: *out_state stays NULL */
    if (rc != SQLITE_ROW) {
        free(json);
        return db_fail(db, err, "finding a run to resume");
    }
    if (strcmp(json, run->scenario_json)) {
        fs_err_add(err, NULL,
                   "%s: run %lld was started from a different effective scenario; "
                   "resume needs the same scenario and overrides",
                   db->path, (long long)*out_run_id);
        rc = FS_ESCENARIO;
    } else {
        rc = truncate_run(db, *out_run_id, *out_round) == SQLITE_OK
                 ? FS_OK
                 : db_fail(db, err, "truncating the run to its checkpoint");
    }
    free(json);
    if (rc) {
        free(*out_state);
        *out_state = NULL;
    }
    return rc;
}
