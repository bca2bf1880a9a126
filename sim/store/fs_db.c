/* fs_db: the results recorder (DESIGN.md section 8). Owns the schema (its text is in
 * fs_db_schema.c: version check, then creation, on every open), the prepared statements
 * (prepared once in fs_db_open, reset and reused for every row) and the transaction ladder:
 * every multi-row write is BEGIN IMMEDIATE ... COMMIT, and any failure is reported with what was
 * being written, then rolled back, so the file never holds half a round. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "fs_db.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fs_cli.h"
#include "fs_db_int.h"
#include "fs_db_schema.h"

/* ISO 8601 UTC with milliseconds, computed by SQLite so we need no POSIX time functions. */
#define FS_DB_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_RUN,
    ST_ROUND,
    ST_PART,  /* a participation row (rows_sql) */
    ST_PARTS, /* BULK_ROWS of them */
    ST_EVAL,
    ST_ENERGY,   /* a client_energy_rounds row (rows_sql) */
    ST_ENERGIES, /* BULK_ROWS of them */
    ST_MIX,
    ST_SELECTION,
    ST_FINISH,
    ST_STATUS,
    ST_N
};

/* a client taking part twice in one async window on one day adds up (in a statement of many
 * rows too: they are inserted in order) */
#define ENERGY_UPSERT " ON CONFLICT DO UPDATE SET energy_j = energy_j + excluded.energy_j"

/* BEGIN IMMEDIATE takes the write lock up front: two processes writing one file (a sweep) wait
 * on the busy timeout instead of deadlocking on a read-to-write lock upgrade. */
static const char *const stmt_sql[ST_N] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_RUN] = "INSERT INTO runs(run_id, name, scenario_json, seed, variant, target_metric,"
               " target_value, target_lower_better, target_sustain, fedsim_version, status,"
               " started_at, threads, host, population_seed, replicate, headline_metric,"
               " precision, ranks)"
               " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', " FS_DB_NOW ", ?, ?, ?, ?, ?, ?,"
               " ?)",
    [ST_ROUND] = "INSERT INTO rounds(run_id, round, t_start, t_end, selected, reported, dropped,"
                 " late, aborted, bytes_up, bytes_down, train_loss, epsilon, compute_s,"
                 " online_share, wall_s, rejected, energy_j)"
                 " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_EVAL] = "INSERT INTO evals VALUES(?, ?, ?, ?, ?, ?)",
    [ST_MIX] = "INSERT INTO participation_mix(run_id, round, grp, level, stage, n)"
               " VALUES(?, ?, ?, ?, ?, ?)",
    [ST_SELECTION] = "INSERT INTO selection_rounds(run_id, round, jain, never_selected)"
                     " VALUES(?, ?, ?, ?)",
    [ST_FINISH] = "UPDATE runs SET status = ?, finished_at = " FS_DB_NOW ", wall_s = ?"
                  " WHERE run_id = ?",
    [ST_STATUS] = "UPDATE runs SET status = ? WHERE run_id = ?",
};

struct fs_db {
    sqlite3 *conn;
    char *path;
    sqlite3_stmt *st[ST_N];
    size_t ckpt_chunk; /* checkpoint bytes per row (0: FS_DB_CKPT_CHUNK) */
    int busy_ms;       /* busy timeout, for messages */
    int lock_fd;       /* DB-lock, holding this connection's run claims; -1 until the first */
    bool oom;          /* our own allocation for a statement failed (prepare_rows): the
                        * connection's error says nothing, db_fail says out of memory */
    bool in_batch;     /* between fs_db_rounds_begin and fs_db_rounds_end */
};

/* A checkpoint is stored in rows of at most this many bytes: SQLite refuses a blob above its
 * length limit (10^9 bytes by default), and SCAFFOLD's per-client control variates of a large
 * population exceed that. */
#define FS_DB_CKPT_CHUNK ((size_t)256 << 20)

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

static void bind_opt_i64(fs_db_bind *b, bool present, int64_t v)
{
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc = present ? sqlite3_bind_int64(b->st, b->i, v) : sqlite3_bind_null(b->st, b->i);
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
    if (db->oom) {
        db->oom = false;
        fs_err_add(err, NULL, "%s: %s: out of memory", db->path, what);
        db_rollback(db, err);
        return FS_ENOMEM;
    }
    if ((sqlite3_errcode(db->conn) & 0xff) == SQLITE_BUSY)
        fs_err_add(err, NULL,
                   "%s: %s: %s (another process held the lock for more than %d ms;"
                   " FEDSIM_BUSY_TIMEOUT_MS sets how long to wait)",
                   db->path, what, sqlite3_errmsg(db->conn), db->busy_ms);
    else
        fs_err_add(err, NULL, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->conn));
    db_rollback(db, err);
    return FS_EDB;
}

/* ---- open / close */

/* How long a statement waits for another process's lock before giving up. The writers of one
 * file (a sweep's children) hold it for one round's commit; a reader's snapshot, a user's
 * sqlite3 session or a backup may hold it much longer, and giving up fails the run, so the wait
 * is generous. FEDSIM_BUSY_TIMEOUT_MS overrides it (0: fail at once). */
#define FS_DB_BUSY_DEFAULT_MS 60000
#define FS_DB_BUSY_MAX_MS 86400000

static int busy_timeout_ms(int *out, fs_err *err)
{
    const char *env = getenv("FEDSIM_BUSY_TIMEOUT_MS");
    *out = FS_DB_BUSY_DEFAULT_MS;
    if (!env || fs_cli_parse_int(env, 0, FS_DB_BUSY_MAX_MS, out)) return FS_OK;
    fs_err_add(err, NULL,
               "FEDSIM_BUSY_TIMEOUT_MS: expected milliseconds from 0 to %d, found \"%s\"",
               FS_DB_BUSY_MAX_MS, env);
    return FS_ESCENARIO;
}

/* Steps a one-row query and copies its first column (empty when NULL or no row). */
int fs_db_query_text(struct sqlite3 *c, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    snprintf(out, n, "%s", v ? v : "");
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* What a file holds, read before anything is written to it. A file without any schema object
 * is new. A file of another fedsim version would be misread; a file with tables but no
 * meta.schema_version belongs to another application and must get neither our tables nor WAL
 * mode. The version check runs before the schema script, which would otherwise add views over
 * columns an old file does not have, i.e. modify a file we are about to refuse. */
static int check_schema(sqlite3 *c, const char *path, bool writing, fs_err *err)
{
    char n_objects[32], n_meta[32], v[64] = "";
    int rc = fs_db_query_text(c, "SELECT count(*) FROM sqlite_schema", n_objects, sizeof n_objects);
    if (rc == SQLITE_OK)
        rc = fs_db_query_text(
            c, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'", n_meta,
            sizeof n_meta);
    if (rc != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: %s: %s", path,
                   writing ? "cannot open results database" : "reading results database",
                   sqlite3_errmsg(c));
        return FS_EDB;
    }
    bool has_meta = strcmp(n_meta, "0") != 0;
    if (has_meta && fs_db_query_text(c, "SELECT value FROM meta WHERE key = 'schema_version'", v,
                                     sizeof v) != SQLITE_OK)
        *v = '\0'; /* a meta table of another shape: not ours */
    if (writing && !has_meta && strcmp(n_objects, "0") == 0) return FS_OK;
    if (!*v) {
        if (writing)
            fs_err_add(err, NULL,
                       "%s: not a fedsim results database (it has tables but no"
                       " meta.schema_version); fedsim adds nothing to another application's"
                       " file: use a new file",
                       path);
        else
            fs_err_add(err, NULL, "%s: not a fedsim results database (%s)", path,
                       has_meta ? "no schema_version in its meta table" : "no meta table");
        return FS_EDB;
    }
    /* versions 2 to 5 are read as they are, and upgraded in place before anything is written
     * to them */
    char want[16];
    snprintf(want, sizeof want, "%d", FS_DB_SCHEMA_VERSION);
    if (strcmp(v, want) == 0 || strcmp(v, "2") == 0 || strcmp(v, "3") == 0 ||
        strcmp(v, "4") == 0 || strcmp(v, "5") == 0)
        return FS_OK;
    char *end;
    long found = strtol(v, &end, 10);
    bool newer = end != v && !*end && found > FS_DB_SCHEMA_VERSION;
    fs_err_add(err, NULL, "%s: results database has schema version %s, this fedsim %s %s%s%s%s",
               path, v, writing ? "writes version" : "reads versions 2 to", want,
               writing ? " (and upgrades versions 2 to 5)" : "",
               newer ? " (written by a newer fedsim)" : "", writing ? "; use a new file" : "");
    return FS_EDB;
}

/* SQLite counts every allocation under a global mutex for sqlite3_memory_used(), which fedsim
 * never asks: without the count a million clients rows insert about 9% faster. The setting
 * only takes before SQLite initialises (afterwards it is refused, harmlessly). */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int fs_db_page_size_for(size_t clients)
{
    return clients >= 100000 ? 65536 : 0;
}

/* PRAGMA page_size on a file that has no table yet (a no-op on one that has). */
static int set_page_size(sqlite3 *conn, int page_size)
{
    if (page_size <= 0) return SQLITE_OK;
    char sql[48];
    snprintf(sql, sizeof sql, "PRAGMA page_size = %d", page_size);
    return sqlite3_exec(conn, sql, NULL, NULL, NULL);
}

static int db_connect(fs_db *db, int page_size, fs_err *err)
{
    pthread_once(&sqlite_configured, configure_sqlite);
    int rc = busy_timeout_ms(&db->busy_ms, err);
    if (rc) return rc;
    int src =
        sqlite3_open_v2(db->path, &db->conn,
                        /* one thread uses a connection: SQLite's own mutexes only cost */
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src == SQLITE_OK) src = sqlite3_busy_timeout(db->conn, db->busy_ms);
    if (src == SQLITE_OK)
        src = sqlite3_exec(db->conn, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (src == SQLITE_OK) src = set_page_size(db->conn, page_size);
    if (src != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: cannot open results database: %s", db->path,
                   db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(src));
        return FS_EDB;
    }
    if ((rc = check_schema(db->conn, db->path, true, err))) return rc;
    /* Only now that the file is known to be new or ours: WAL is a lasting property of the file.
     * synchronous=NORMAL in WAL keeps the file consistent after a crash; a power cut may lose
     * the last few committed rounds, which a resumed run recomputes. */
    if (sqlite3_exec(db->conn, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", NULL,
                     NULL, NULL) == SQLITE_OK)
        return FS_OK;
    fs_err_add(err, NULL, "%s: cannot open results database: %s", db->path,
               sqlite3_errmsg(db->conn));
    return FS_EDB;
}

/* The rounds' big tables' rows go in BULK_ROWS a statement, spending a 256th of the
 * per-statement cost (parsing nothing, but stepping, halting and resetting): for a million
 * clients rows 64 a statement took a third of the time of row by row, 256 took 2-9% less than
 * 64 again (1M-user ctr_regions, 6 alternating runs), and the rounds' energy rows so took the
 * writer ~13% less CPU. (The clients rows have since gone in one INSERT ... SELECT:
 * fs_db_clients.c.) Bulk statements are prepared at their first use: the clients one's 3,840
 * parameters took 0.76 ms to prepare (the participation one has 4,608), and a run with fewer
 * rows never pays for them. */
#define BULK_ROWS 256

/* The big tables' inserts, a row (`one`, prepared with the others) or BULK_ROWS rows (the
 * entry's own, prepared at first use) a statement: "head(?, ...), ... tail", cols parameters a
 * row. */
static const struct {
    int one;
    const char *head, *tail;
    int cols;
} rows_sql[ST_N] = {
    [ST_PARTS] = {ST_PART, "INSERT INTO participation VALUES", "", 18},
    [ST_ENERGIES] = {ST_ENERGY,
                     "INSERT INTO client_energy_rounds(run_id, round, client_id, day, energy_j)"
                     " VALUES",
                     ENERGY_UPSERT, 5},
};

/* rows_sql[many] with `rows` rows, prepared into *st. */
static int prepare_rows(fs_db *db, int many, size_t rows, sqlite3_stmt **st)
{
    int cols = rows_sql[many].cols;
    size_t size = strlen(rows_sql[many].head) + strlen(rows_sql[many].tail) +
                  rows * (3 * (size_t)cols + 4) + 1;
    char *sql = malloc(size);
    if (!sql) return db->oom = true, SQLITE_NOMEM;
    size_t at = (size_t)snprintf(sql, size, "%s", rows_sql[many].head);
    for (size_t r = 0; r < rows; r++) {
        at += (size_t)snprintf(sql + at, size - at, "%s(?", r ? "," : "");
        for (int c = 1; c < cols; c++) at += (size_t)snprintf(sql + at, size - at, ",?");
        at += (size_t)snprintf(sql + at, size - at, ")");
    }
    at += (size_t)snprintf(sql + at, size - at, "%s", rows_sql[many].tail);
    fs_assert(at < size);
    int rc = sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    free(sql);
    return rc;
}

/* Statement `many` of rows_sql, prepared when first needed. */
static int bulk_statement(fs_db *db, int many)
{
    return db->st[many] ? SQLITE_OK : prepare_rows(db, many, BULK_ROWS, &db->st[many]);
}

/* What insert_rows binds: the columns of row i, at b's next parameters. */
typedef void bind_row_fn(fs_db_bind *b, void *ctx, size_t i);

/* Rows 0..n) of a table, in order: BULK_ROWS a statement through rows_sql[many] while that
 * many are left, the rest one at a time. */
static int insert_rows(fs_db *db, int many, size_t n, bind_row_fn *bind_row, void *ctx)
{
    int rc = n >= BULK_ROWS ? bulk_statement(db, many) : SQLITE_OK;
    for (size_t i = 0; i < n && rc == SQLITE_OK;) {
        size_t rows = n - i >= BULK_ROWS ? BULK_ROWS : 1;
        fs_db_bind b = bind_start(db, rows > 1 ? many : rows_sql[many].one);
        for (size_t end = i + rows; i < end; i++) bind_row(&b, ctx, i);
        rc = bind_exec(&b);
    }
    return rc;
}

static int db_prepare(fs_db *db, fs_err *err)
{
    for (int i = 0; i < ST_N; i++) {
        int rc = SQLITE_OK;
        if (stmt_sql[i])
            rc = sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                    &db->st[i], NULL);
        else if (rows_sql[i].head) /* its BULK_ROWS form waits for bulk_statement */
            rc = prepare_rows(db, i, 1, &db->st[rows_sql[i].one]);
        if (rc != SQLITE_OK) return db_fail(db, err, "preparing statements");
    }
    return FS_OK;
}

/* The file's schema version inside the open transaction: 0 for a new file (no meta table), else
 * meta's value (-1 when it is not a number). */
static int db_read_version(fs_db *db, int *out_version, fs_err *err)
{
    char v[64];
    *out_version = 0;
    int rc = fs_db_query_text(
        db->conn, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'", v,
        sizeof v);
    if (rc == SQLITE_OK && strcmp(v, "0") != 0)
        rc = fs_db_query_text(db->conn, "SELECT value FROM meta WHERE key = 'schema_version'", v,
                              sizeof v);
    if (rc != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: reading schema version: %s", db->path, sqlite3_errmsg(db->conn));
        return FS_EDB;
    }
    if (strcmp(v, "0") == 0) return FS_OK;
    char *end;
    long n = strtol(v, &end, 10);
    *out_version = *v && !*end && n > 0 && n < 1000 ? (int)n : -1;
    return FS_OK;
}

/* Adds each column of a version's list (fs_db_v5_columns, fs_db_v6_columns) to its table when
 * the table exists and lacks it (ALTER TABLE has no IF NOT EXISTS). */
static int add_columns(fs_db *db, const char *const (*cols)[3])
{
    int rc = SQLITE_OK;
    for (size_t i = 0; cols[i][0] && rc == SQLITE_OK; i++) {
        const char *const *c = cols[i];
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master m WHERE m.type = 'table' AND m.name = '%s'"
                 " AND NOT EXISTS (SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s')",
                 c[0], c[0], c[1]);
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
        bool add = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK || !add) continue;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", c[0], c[1], c[2]);
        rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    }
    return rc;
}

/* The schema script in one write transaction, after upgrading a version 2 or 3 file in the same
 * transaction: a failure (full disk, another writer's lock) leaves the file as it was, never
 * half upgraded. The version is read again inside the transaction, since another process may
 * have upgraded the file since check_schema. */
static int db_create_schema(fs_db *db, fs_err *err)
{
    int v = 0;
    if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "creating schema");
    int rc = db_read_version(db, &v, err);
    if (rc != FS_OK) return db_rollback(db, err), rc;
    if (v == 2 && sqlite3_exec(db->conn, fs_db_upgrade_v2_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "upgrading schema version 2 to 3");
    if ((v == 2 || v == 3) &&
        sqlite3_exec(db->conn, fs_db_upgrade_v3_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "upgrading schema version 3 to 4");
    if (v >= 2 && v <= 4 && (add_columns(db, fs_db_v5_columns) != SQLITE_OK ||
                             sqlite3_exec(db->conn, fs_db_upgrade_v4_sql, NULL, NULL, NULL) !=
                                 SQLITE_OK))
        return db_fail(db, err, "upgrading schema version 4 to 5");
    if (v >= 2 && v <= 5 && (add_columns(db, fs_db_v6_columns) != SQLITE_OK ||
                             sqlite3_exec(db->conn, fs_db_upgrade_v5_sql, NULL, NULL, NULL) !=
                                 SQLITE_OK))
        return db_fail(db, err, "upgrading schema version 5 to 6");
    char *schema = fs_db_schema_new();
    if (!schema) {
        db_rollback(db, err);
        fs_err_add(err, NULL, "%s: out of memory creating the schema", db->path);
        return FS_ENOMEM;
    }
    rc = sqlite3_exec(db->conn, schema, NULL, NULL, NULL);
    free(schema);
    if (rc != SQLITE_OK) return db_fail(db, err, "creating schema");
    if (v == 2 && sqlite3_exec(db->conn, fs_db_upgrade_v2_post_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "upgrading schema version 2 to 3");
    if (sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "creating schema");
    return FS_OK;
}

int fs_db_open(const char *path, fs_db **out, fs_err *err)
{
    return fs_db_open_paged(path, 0, out, err);
}

int fs_db_open_paged(const char *path, int page_size, fs_db **out, fs_err *err)
{
    fs_assert(page_size == 0 || (page_size >= 512 && page_size <= 65536 &&
                                 !(page_size & (page_size - 1))));
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
    db->lock_fd = -1;
    int rc = db_connect(db, page_size, err);
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
 * rolls back a transaction left open and checkpoints the WAL. The run claims go last: the run's
 * final status is committed before another process may take it over. */
void fs_db_close(fs_db *db)
{
    if (!db) return;
    for (int i = 0; i < ST_N; i++)
        sqlite3_finalize(db->st[i]);
    int rc = sqlite3_close(db->conn);
    fs_assert(rc == SQLITE_OK);
    if (db->lock_fd >= 0) close(db->lock_fd);
    free(db->path);
    free(db);
}

const char *fs_db_path(const fs_db *db)
{
    return db->path;
}

/* ---- reading only (report, plan, the sweep's finished check) */

/* A read-only media fallback must not hide rounds: with immutable=1 SQLite ignores the -wal
 * file, so a -wal with content (copied along from a live or killed writer) means that path
 * would read an older state. */
static bool wal_has_content(const char *path)
{
    size_t n = strlen(path) + sizeof "-wal";
    char *wal = malloc(n);
    if (!wal) return true; /* do not risk it */
    snprintf(wal, n, "%s-wal", path);
    struct stat sb;
    bool content = stat(wal, &sb) == 0 && sb.st_size > 0;
    free(wal);
    return content;
}

/* file: URI for a path: every byte but unreserved ones and '/' percent-encoded, so '?', '#'
 * and '%' in file names stay part of the name. Caller frees. */
static char *immutable_uri(const char *path)
{
    size_t n = strlen(path);
    char *uri = malloc(3 * n + sizeof "file://?immutable=1");
    if (!uri) return NULL;
    /* "file:///abs" for absolute paths: "file://x" would make x an authority */
    char *o = uri + sprintf(uri, path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if (isalnum(*s) || strchr("/-._~", *s))
            *o++ = (char)*s;
        else
            o += sprintf(o, "%%%02X", *s);
    }
    strcpy(o, "?immutable=1");
    return uri;
}

/* Opens and makes the first read, which is where a missing or uncreatable -shm shows. */
static int ro_attempt(const char *name, int flags, int busy_ms, sqlite3 **out)
{
    int rc = sqlite3_open_v2(name, out, flags, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(*out, busy_ms);
    if (rc == SQLITE_OK && (flags & SQLITE_OPEN_READWRITE))
        rc = sqlite3_exec(*out, "PRAGMA query_only = 1", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(*out, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    return rc;
}

/* Errors that mean "this connection may not write next to the file", not "bad file". */
static bool needs_other_mode(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY || rc == SQLITE_PERM;
}

/* Three ways in, each only when the one before cannot work:
 * 1. read-write without CREATE, with query_only=1 (refuses every write): the only kind of
 *    connection that, closing last, removes the -wal and -shm files a WAL database needs while
 *    open, so none are left behind;
 * 2. SQLITE_OPEN_READONLY: a file we may not write;
 * 3. file:...?immutable=1: read-only media or a folder we cannot write, where neither of the
 *    above can create the -shm file. No locks, no -wal: refused when a -wal with content exists
 *    (see wal_has_content), and a writer cannot be at work in a folder nobody can write. */
int fs_db_open_readonly(const char *path, sqlite3 **out, fs_err *err)
{
    *out = NULL;
    struct stat sb;
    const char *why = stat(path, &sb) != 0   ? strerror(errno)
                      : !S_ISREG(sb.st_mode) ? "not a regular file"
                                             : NULL;
    if (why) {
        fs_err_add(err, NULL, "%s: cannot open results database: %s", path, why);
        return FS_EIO;
    }
    int busy_ms;
    int rc = busy_timeout_ms(&busy_ms, err);
    if (rc) return rc;
    static const int modes[] = {SQLITE_OPEN_READWRITE, SQLITE_OPEN_READONLY};
    sqlite3 *c = NULL;
    char first[256] = "";
    int src = SQLITE_OK;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        src = ro_attempt(path, modes[i], busy_ms, &c);
        if (src == SQLITE_OK || !needs_other_mode(src)) break;
        if (!*first)
            snprintf(first, sizeof first, "%s", c ? sqlite3_errmsg(c) : sqlite3_errstr(src));
        sqlite3_close(c);
        c = NULL;
    }
    if (src != SQLITE_OK && needs_other_mode(src)) {
        if (wal_has_content(path)) {
            fs_err_add(err, NULL,
                       "%s: reading results database: %s (its -wal file holds rounds that"
                       " only a connection allowed to create %s-shm can read: copy the"
                       " database with its -wal and -shm files to a folder you can write)",
                       path, first, path);
            return FS_EDB;
        }
        char *uri = immutable_uri(path);
        if (!uri) {
            fs_err_add(err, NULL, "%s: reading results database: out of memory", path);
            return FS_ENOMEM;
        }
        src = ro_attempt(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, busy_ms, &c);
        free(uri);
    }
    if (src != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: reading results database: %s", path,
                   *first ? first
                   : c    ? sqlite3_errmsg(c)
                          : sqlite3_errstr(src));
        sqlite3_close(c);
        return FS_EDB;
    }
    if ((rc = check_schema(c, path, false, err))) {
        sqlite3_close(c);
        return rc;
    }
    *out = c;
    return FS_OK;
}

/* ---- run claims: one writer per run
 *
 * A run is written by the process that holds an exclusive lock on byte run_id of the file
 * DB-lock next to the database, from fs_db_begin_run or fs_db_resume until fs_db_close. Why a
 * lock file and not an owner pid or lease in the runs table: the kernel drops the lock the
 * moment its process dies, however it dies (SIGKILL, crash, power cut), so there is no stale
 * claim to detect or expire, no clock and no pid reuse to trust. Open-file-description locks
 * (F_OFD_SETLK), not POSIX process locks, so two connections in one process also exclude each
 * other, and O_CLOEXEC so a child never inherits a claim. Local file systems only (as SQLite's
 * own locking). */

static int claim_run(fs_db *db, int64_t run_id, fs_err *err)
{
    if (db->lock_fd < 0) {
        size_t n = strlen(db->path) + sizeof "-lock";
        char *p = malloc(n);
        if (!p) {
            fs_err_add(err, NULL, "%s: claiming run %lld: out of memory", db->path,
                       (long long)run_id);
            return FS_ENOMEM;
        }
        snprintf(p, n, "%s-lock", db->path);
        db->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (db->lock_fd < 0)
            fs_err_add(err, NULL, "%s: claiming run %lld: cannot open %s: %s", db->path,
                       (long long)run_id, p, strerror(errno));
        free(p);
        if (db->lock_fd < 0) return FS_EIO;
    }
    struct flock fl = {
        .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)run_id, .l_len = 1};
    if (fcntl(db->lock_fd, F_OFD_SETLK, &fl) == 0) return FS_OK;
    if (errno == EAGAIN || errno == EACCES)
        fs_err_add(err, NULL,
                   "%s: run %lld is being written by another fedsim process (a run, or a"
                   " variant of a sweep, still going); let it finish or stop it, then try again",
                   db->path, (long long)run_id);
    else
        fs_err_add(err, NULL, "%s: claiming run %lld: locking %s-lock: %s", db->path,
                   (long long)run_id, db->path, strerror(errno));
    return FS_EDB;
}

static void release_run(fs_db *db, int64_t run_id)
{
    struct flock fl = {
        .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = (off_t)run_id, .l_len = 1};
    if (db->lock_fd >= 0) fcntl(db->lock_fd, F_OFD_SETLK, &fl);
}

/* ---- runs */

/* No target (NULL or "" metric) is four NULLs, so v_time_to_target leaves the run out. */
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
    if (b->rc != SQLITE_OK) return;
    b->i++;
    b->rc = none ? sqlite3_bind_null(b->st, b->i)
                 : sqlite3_bind_int(b->st, b->i, run->target_sustain > 1 ? run->target_sustain : 1);
}

/* Whether the runs table holds run_id: a new run's asked-for id must not, and the clients
 * rows' one parent must. */
static int run_exists(fs_db *db, int64_t run_id, bool *yes)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, "SELECT 1 FROM runs WHERE run_id = ?", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    *yes = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

/* The run_id to insert the run under: run->run_id when free, checked inside the insert's
 * transaction (a second process cannot take it in between); 0 (SQLite's next rowid) when none
 * was asked for, or when it is taken and run_id_or_next allows it. -1 (said in err, the
 * transaction rolled back) when it is taken otherwise, or cannot be looked up. */
static int64_t run_id_to_use(fs_db *db, const fs_db_run *run, fs_err *err)
{
    if (run->run_id <= 0) return 0;
    bool taken;
    if (run_exists(db, run->run_id, &taken) != SQLITE_OK)
        fs_err_add(err, NULL, "%s: starting run: %s", db->path, sqlite3_errmsg(db->conn));
    else if (!taken)
        return run->run_id;
    else if (run->run_id_or_next)
        return 0;
    else
        fs_err_add(err, NULL, "%s: run_id %lld is taken by another run: nothing was written",
                   db->path, (long long)run->run_id);
    db_rollback(db, err);
    return -1;
}

int fs_db_begin_run(fs_db *db, const fs_db_run *run, int64_t *out_run_id, fs_err *err)
{
    fs_assert(db && run && out_run_id);
    /* claimed before the row is committed: no other process ever sees it unclaimed */
    if (run_stmt(db, ST_BEGIN) != SQLITE_OK) return db_fail(db, err, "starting run");
    int64_t id = run_id_to_use(db, run, err);
    if (id < 0) return FS_EDB;
    fs_db_bind b = bind_start(db, ST_RUN);
    bind_opt_i64(&b, id > 0, id); /* NULL: SQLite's next rowid */
    bind_text(&b, run->name);
    bind_text(&b, run->scenario_json);
    bind_i64(&b, (int64_t)run->seed); /* two's complement for seeds >= 2^63 */
    bind_text(&b, run->variant);
    bind_target(&b, run);
    bind_text(&b, run->fedsim_version);
    bind_i64(&b, run->threads);
    bind_text(&b, run->host);
    bind_i64(&b, (int64_t)run->population_seed);
    bind_opt_i64(&b, run->replicate > 0, run->replicate); /* NULL outside replications */
    bind_text(&b, run->headline_metric && *run->headline_metric ? run->headline_metric : NULL);
    bind_text(&b, run->precision);
    bind_i64(&b, run->ranks > 0 ? run->ranks : 1);
    if (bind_exec(&b) != SQLITE_OK) return db_fail(db, err, "starting run");
    *out_run_id = sqlite3_last_insert_rowid(db->conn);
    int rc = claim_run(db, *out_run_id, err);
    if (rc) {
        db_rollback(db, err);
        return rc;
    }
    if (run_stmt(db, ST_COMMIT) != SQLITE_OK) return db_fail(db, err, "starting run");
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
    int rc = update_run(db, &b, run_id, what, err);
    if (rc && (sqlite3_errcode(db->conn) & 0xff) == SQLITE_BUSY)
        fs_err_add(err, NULL,
                   "%s: run %lld stays marked running (its completed rounds are kept; fedsim run"
                   " --resume continues it from its last checkpoint)",
                   db->path, (long long)run_id);
    return rc;
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

/* Enforcing the foreign key checks each row against runs, a b-tree seek per client: 15% of the
 * time a million rows take. All of them name one run, so the transaction checks it once, under
 * its write lock (no other writer can delete the run before the rows are in), and enforcement
 * pauses for the insert; the pragma does nothing inside a transaction, so it is set around it.
 * *missing tells a run not in the table. */
static int insert_all_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                              bool *missing)
{
    if (run_stmt(db, ST_BEGIN) != SQLITE_OK) return SQLITE_ERROR;
    bool parent = false;
    if (run_exists(db, run_id, &parent) != SQLITE_OK) return SQLITE_ERROR;
    if ((*missing = !parent)) return SQLITE_ERROR;
    if (fs_db_clients_insert(db->conn, run_id, clients, n) != SQLITE_OK) return SQLITE_ERROR;
    return run_stmt(db, ST_COMMIT);
}

int fs_db_write_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                        fs_err *err)
{
    fs_assert(db && (clients || n == 0));
    if (sqlite3_exec(db->conn, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "writing clients");
    bool missing = false;
    int rc = insert_all_clients(db, run_id, clients, n, &missing) == SQLITE_OK ? FS_OK : FS_EDB;
    if (rc && missing) {
        db_rollback(db, err);
        fs_err_add(err, NULL, "%s: writing clients: run %lld is not in the runs table", db->path,
                   (long long)run_id);
    } else if (rc) {
        rc = db_fail(db, err, "writing clients"); /* rolls back before enforcement resumes */
    }
    if (sqlite3_exec(db->conn, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK && !rc)
        rc = db_fail(db, err, "writing clients");
    return rc;
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
    bind_real(&b, r->energy_j);
    return bind_exec(&b);
}

static void bind_part(fs_db_bind *b, int64_t run_id, int round, const fs_db_part *p)
{
    bind_i64(b, run_id);
    bind_i64(b, round);
    bind_i64(b, p->client_id);
    bind_text(b, p->outcome);
    bind_time(b, p->t_selected);
    bind_time(b, p->t_downloaded);
    bind_time(b, p->t_trained);
    bind_time(b, p->t_reported);
    bind_i64(b, p->n_samples);
    bind_i64(b, p->steps);
    bind_real(b, p->local_loss);
    bind_real(b, p->update_norm);
    bind_i64(b, p->bytes_up);
    bind_i64(b, p->bytes_down);
    bind_i64(b, p->staleness);
    bind_i64(b, p->seq);
    bind_real(b, p->energy_j);
    bind_text(b, p->network);
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

/* The round's who-trains rows: participation_mix, then its selection_rounds row. */
static int insert_mix(fs_db *db, int64_t run_id, const fs_db_round *r)
{
    if (!r->mix) return SQLITE_OK;
    for (size_t i = 0; i < r->n_mix; i++) {
        const fs_db_mix *m = &r->mix[i];
        fs_db_bind b = bind_start(db, ST_MIX);
        bind_i64(&b, run_id);
        bind_i64(&b, m->round);
        bind_text(&b, m->grp);
        bind_text(&b, m->level);
        bind_text(&b, m->stage);
        bind_i64(&b, m->n);
        int rc = bind_exec(&b);
        if (rc != SQLITE_OK) return rc;
    }
    fs_db_bind b = bind_start(db, ST_SELECTION);
    bind_i64(&b, run_id);
    bind_i64(&b, r->round);
    bind_real(&b, r->jain);
    bind_real(&b, r->never_selected);
    return bind_exec(&b);
}

/* Steps a prepared statement with (run_id, round) bound as ?1, ?2 to completion. */
static int exec_run_round(fs_db *db, const char *sql, int64_t run_id, int round)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, round);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE) rc = SQLITE_OK;
    sqlite3_finalize(st);
    return rc;
}

size_t fs_db_ckpt_chunk(const fs_db *db)
{
    size_t chunk = db->ckpt_chunk ? db->ckpt_chunk : FS_DB_CKPT_CHUNK;
    int limit = sqlite3_limit(db->conn, SQLITE_LIMIT_LENGTH, -1);
    return limit > 0 && (size_t)limit < chunk ? (size_t)limit : chunk;
}

void fs_db_set_ckpt_chunk(fs_db *db, size_t bytes)
{
    db->ckpt_chunk = bytes;
}

/* The run's only checkpoint becomes this one (older ones are useless once a later exists): its
 * first chunk in checkpoints.server_state, the rest in checkpoint_chunks(seq = 1, 2, ...). */
static int replace_checkpoint(fs_db *db, int64_t run_id, int round, const void *state, size_t len)
{
    const unsigned char *p = state;
    size_t chunk = fs_db_ckpt_chunk(db), first = len < chunk ? len : chunk;
    sqlite3_stmt *ins = NULL;
    int rc = exec_run_round(db, "DELETE FROM checkpoint_chunks WHERE run_id = ?1 AND ?2 >= 0",
                            run_id, round);
    if (rc == SQLITE_OK)
        rc = exec_run_round(db, "DELETE FROM checkpoints WHERE run_id = ?1 AND ?2 >= 0", run_id,
                            round);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db->conn,
                                "INSERT INTO checkpoints(run_id, round, server_state) "
                                "VALUES(?1, ?2, ?3)",
                                -1, &ins, NULL);
    for (size_t at = 0, seq = 0; rc == SQLITE_OK && (at < len || seq == 0); seq++) {
        size_t n = seq == 0 ? first : (len - at < chunk ? len - at : chunk);
        if (seq == 1) {
            sqlite3_finalize(ins);
            ins = NULL;
            rc = sqlite3_prepare_v2(db->conn,
                                    "INSERT INTO checkpoint_chunks(run_id, round, seq, data) "
                                    "VALUES(?1, ?2, ?4, ?3)",
                                    -1, &ins, NULL);
        }
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(ins, 1, run_id);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(ins, 2, round);
        if (rc == SQLITE_OK) rc = sqlite3_bind_blob64(ins, 3, p + at, n, SQLITE_STATIC);
        if (rc == SQLITE_OK && seq > 0) rc = sqlite3_bind_int64(ins, 4, (int64_t)seq);
        if (rc == SQLITE_OK && (rc = sqlite3_step(ins)) == SQLITE_DONE) rc = SQLITE_OK;
        if (rc == SQLITE_OK) rc = sqlite3_reset(ins);
        at += n;
    }
    sqlite3_finalize(ins);
    return rc;
}

int fs_db_write_round(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                      size_t n_parts, const fs_db_eval *evals, size_t n_evals, fs_err *err)
{
    return fs_db_write_round_ckpt(db, run_id, r, parts, n_parts, evals, n_evals, NULL, 0, err);
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* A round's participations in client order: the primary keys of participation and
 * client_energy_rounds then grow within the round, so each row is appended to its b-tree
 * instead of splitting pages in its middle (260,000 participation-shaped rows, 20 rounds of
 * 13,000 random clients: 1.48 -> 0.90 s; energy rows alone: 0.29 -> 0.26 s). A client's rows
 * keep their order, so two participations on one day add their energy as they came. The keys
 * hold client and position (n < 2^32, fs_db_part's uint32 client_id); NULL, the given order,
 * without memory for them. */
static uint64_t *client_order(const fs_db_part *parts, size_t n)
{
    uint64_t *key = n > 1 ? malloc(n * sizeof *key) : NULL;
    if (!key) return NULL;
    for (size_t i = 0; i < n; i++) key[i] = (uint64_t)parts[i].client_id << 32 | (uint64_t)i;
    qsort(key, n, sizeof *key, by_u64);
    return key;
}

/* The i-th of parts in `order` (from client_order, or NULL: as given). */
static const fs_db_part *nth_part(const fs_db_part *parts, const uint64_t *order, size_t i)
{
    return &parts[order ? (size_t)(order[i] & UINT32_MAX) : i];
}

/* The participation's energy on the virtual day it started (day = floor(t_selected / 24 h)). */
static void bind_energy(fs_db_bind *b, int64_t run_id, int round, const fs_db_part *p)
{
    bind_i64(b, run_id);
    bind_i64(b, round);
    bind_i64(b, p->client_id);
    bind_i64(b, p->t_selected / (24 * INT64_C(3600000000)));
    bind_real(b, p->energy_j);
}

/* A round's participations (or its energy rows: `next` walks past the days without energy,
 * which are not rows), in `order` (client_order's, or NULL). */
typedef struct part_rows {
    int64_t run_id;
    int round;
    const fs_db_part *parts;
    const uint64_t *order;
    size_t next;
} part_rows;

static void bind_part_row(fs_db_bind *b, void *ctx, size_t i)
{
    const part_rows *r = ctx;
    bind_part(b, r->run_id, r->round, nth_part(r->parts, r->order, i));
}

/* Rows are bound in order, so the i-th energy row is the next participation with energy. */
static void bind_energy_row(fs_db_bind *b, void *ctx, size_t i)
{
    (void)i;
    part_rows *r = ctx;
    const fs_db_part *p;
    do p = nth_part(r->parts, r->order, r->next++);
    while (!fs_db_part_has_energy(p));
    bind_energy(b, r->run_id, r->round, p);
}

static int insert_parts(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                        size_t n_parts)
{
    uint64_t *order = client_order(parts, n_parts);
    size_t n_energy = 0;
    for (size_t i = 0; i < r->n_energy_parts; i++)
        n_energy += fs_db_part_has_energy(&r->energy_parts[i]);
    /* the energy rows are the same participations, as fs_run.c hands them; no energy rows:
     * nothing to sort */
    uint64_t *energy_order = r->energy_parts == parts && r->n_energy_parts == n_parts ? order
                             : n_energy ? client_order(r->energy_parts, r->n_energy_parts)
                                        : NULL;
    part_rows rows = {run_id, r->round, parts, order, 0};
    int rc = insert_rows(db, ST_PARTS, n_parts, bind_part_row, &rows);
    part_rows energy = {run_id, r->round, r->energy_parts, energy_order, 0};
    if (rc == SQLITE_OK)
        rc = insert_rows(db, ST_ENERGIES, n_energy, bind_energy_row, &energy);
    if (energy_order != order) free(energy_order);
    free(order);
    return rc;
}

/* db_fail for round `round`: "<db path>: writing round <round>: ..." */
static int round_fail(fs_db *db, fs_err *err, int round)
{
    char what[48];
    snprintf(what, sizeof what, "writing round %d", round);
    return db_fail(db, err, what);
}

int fs_db_write_round_ckpt(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                           size_t n_parts, const fs_db_eval *evals, size_t n_evals,
                           const void *state, size_t state_len, fs_err *err)
{
    fs_assert(db && r && (parts || n_parts == 0) && (evals || n_evals == 0));
    if (!db->in_batch && run_stmt(db, ST_BEGIN) != SQLITE_OK) goto fail;
    if (insert_round(db, run_id, r) != SQLITE_OK) goto fail;
    if (insert_parts(db, run_id, r, parts, n_parts) != SQLITE_OK) goto fail;
    for (size_t i = 0; i < n_evals; i++)
        if (insert_eval(db, run_id, r, &evals[i]) != SQLITE_OK) goto fail;
    if (insert_mix(db, run_id, r) != SQLITE_OK) goto fail;
    if (state && replace_checkpoint(db, run_id, r->round, state, state_len) != SQLITE_OK) goto fail;
    if (!db->in_batch && run_stmt(db, ST_COMMIT) != SQLITE_OK) goto fail;
    return FS_OK;
fail:
    return round_fail(db, err, r->round); /* in a batch: the whole batch is rolled back */
}

int fs_db_rounds_begin(fs_db *db, int first_round, fs_err *err)
{
    fs_assert(db && !db->in_batch);
    if (run_stmt(db, ST_BEGIN) != SQLITE_OK) return round_fail(db, err, first_round);
    db->in_batch = true;
    return FS_OK;
}

int fs_db_rounds_end(fs_db *db, fs_err *err)
{
    fs_assert(db && db->in_batch);
    db->in_batch = false;
    if (sqlite3_get_autocommit(db->conn)) { /* a round failed: the batch was rolled back */
        fs_err_add(err, NULL, "%s: writing rounds: the transaction was rolled back", db->path);
        return FS_EDB;
    }
    return run_stmt(db, ST_COMMIT) == SQLITE_OK ? FS_OK : db_fail(db, err, "writing rounds");
}

/* ---- resuming: a results file is something users copy, share and edit, and `fedsim sweep`
 * always resumes, so every row a resume reads is checked before it is used, and nothing is
 * changed until the engine has accepted the checkpoint (fs_db_resume_claim). */

/* The latest unfinished run of (name, variant, replicate): its id, its latest checkpoint's round
 * (-1 when it stopped before its first checkpoint) and the run's scenario text (NULL when the
 * column is NULL). SQLITE_ROW, SQLITE_DONE (none) or an SQLite error. */
static int find_resumable(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                          char **out_json)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db->conn,
        "SELECT r.run_id, coalesce(c.round, -1), r.scenario_json FROM runs r "
        "LEFT JOIN checkpoints c ON c.run_id = r.run_id WHERE r.name = ?1 AND r.variant = ?2 "
        "AND r.replicate IS ?3 AND r.status <> 'done' ORDER BY r.run_id DESC, c.round DESC "
        "LIMIT 1",
        -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(st, 1, run->name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, run->variant ? run->variant : "", -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc =
            run->replicate > 0 ? sqlite3_bind_int(st, 3, run->replicate) : sqlite3_bind_null(st, 3);
    int step = rc == SQLITE_OK ? sqlite3_step(st) : rc;
    if (step == SQLITE_ROW) {
        *out_run_id = sqlite3_column_int64(st, 0);
        *out_round = sqlite3_column_int(st, 1);
        const char *json = (const char *)sqlite3_column_text(st, 2);
        *out_json = json ? strdup(json) : NULL;
        rc = !json || *out_json ? SQLITE_ROW : SQLITE_NOMEM;
    } else {
        rc = step == SQLITE_DONE ? SQLITE_DONE : step;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The checkpoint's bytes: checkpoints.server_state, then checkpoint_chunks in seq order
 * (1, 2, ... without gaps), into a new buffer. SQLITE_CORRUPT when a chunk is missing. */
static int read_checkpoint(fs_db *db, int64_t run_id, int round, void **out, size_t *out_len)
{
    static const char *const sql[] = {
        "SELECT (SELECT coalesce(sum(length(server_state)), 0) FROM checkpoints"
        " WHERE run_id = ?1 AND round = ?2) + (SELECT coalesce(sum(length(data)), 0)"
        " FROM checkpoint_chunks WHERE run_id = ?1 AND round = ?2)",
        "SELECT 0, server_state FROM checkpoints WHERE run_id = ?1 AND round = ?2",
        "SELECT seq, data FROM checkpoint_chunks WHERE run_id = ?1 AND round = ?2 ORDER BY seq"};
    unsigned char *buf = NULL;
    size_t total = 0, at = 0;
    int64_t seq = 0; /* the seq the next row must have */
    int rc = SQLITE_OK;
    for (int q = 0; q < 3 && rc == SQLITE_OK; q++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(db->conn, sql[q], -1, &st, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
        if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, round);
        while (rc == SQLITE_OK) {
            int step = sqlite3_step(st);
            if (step == SQLITE_DONE) break;
            if (step != SQLITE_ROW) {
                rc = step;
            } else if (q == 0) {
                total = (size_t)sqlite3_column_int64(st, 0);
                if (!(buf = malloc(total ? total : 1))) rc = SQLITE_NOMEM;
            } else {
                const void *p = sqlite3_column_blob(st, 1);
                size_t n = (size_t)sqlite3_column_bytes(st, 1);
                if (sqlite3_column_int64(st, 0) != seq++ || n > total - at)
                    rc = SQLITE_CORRUPT;
                else if (n)
                    memcpy(buf + at, p, n);
                at += n;
            }
        }
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK && at != total) rc = SQLITE_CORRUPT;
    if (rc != SQLITE_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = total;
    return SQLITE_OK;
}

/* One integer from a query over (run_id, round) as ?1, ?2; -1 on failure. */
static int64_t query_run_round(fs_db *db, const char *sql, int64_t run_id, int round)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(st, 2, round);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int refuse_resume(fs_db *db, int64_t run_id, fs_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse_resume(fs_db *db, int64_t run_id, fs_err *err, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fs_err_add(err, NULL,
               "%s: run %lld: %s; refusing to resume (use another results file to start afresh)",
               db->path, (long long)run_id, why);
    return FS_EDB;
}

/* find_resumable, then claim the run found and look again: the process that held the run may
 * have recorded more, or finished it, before letting go. The look after the claim is the one
 * that counts. *out_refused: another live process holds the run (message in err). Bounded: each
 * retry means yet another run changed hands in between. */
static int find_claimed(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                        char **out_json, bool *out_refused, fs_err *err)
{
    int64_t claimed = -1;
    *out_refused = false;
    for (int tries = 0; tries < 16; tries++) {
        int rc = find_resumable(db, run, out_run_id, out_round, out_json);
        if (rc == SQLITE_ROW && *out_run_id == claimed) return rc;
        if (claimed >= 0) release_run(db, claimed);
        if (rc != SQLITE_ROW) return rc;
        free(*out_json);
        *out_json = NULL;
        claimed = *out_run_id;
        if (claim_run(db, claimed, err)) {
            *out_refused = true;
            return SQLITE_ERROR;
        }
    }
    fs_err_add(err, NULL, "%s: the runs to resume kept changing hands; try again", db->path);
    *out_refused = true;
    return SQLITE_ERROR;
}

int fs_db_resume(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                 void **out_state, size_t *out_len, fs_err *err)
{
    char *json = NULL;
    *out_state = NULL;
    int64_t id = 0;
    int round = 0;
    bool refused;
    *out_run_id = 0;
    int rc = find_claimed(db, run, &id, &round, &json, &refused, err);
    if (rc == SQLITE_DONE) return FS_OK; /* nothing to resume: *out_state stays NULL */
    if (refused) return FS_EDB;
    if (rc != SQLITE_ROW) return db_fail(db, err, "finding a run to resume");
    if (round < 0) { /* stopped before its first checkpoint: run it again under its own id */
        if (json && !strcmp(json, run->scenario_json)) *out_run_id = id, *out_round = 0;
        else release_run(db, id); /* another scenario: it keeps its rows, a new run starts */
        free(json);
        return FS_OK;
    }
    *out_run_id = id;
    *out_round = round;
    if (!json || !*json) {
        rc = refuse_resume(db, id, err,
                           "runs.scenario_json is %s, so the run's scenario is "
                           "unknown",
                           json ? "empty" : "NULL");
    } else if (strcmp(json, run->scenario_json)) {
        fs_err_add(err, NULL,
                   "%s: run %lld was started from a different effective scenario; "
                   "resume needs the same scenario and overrides",
                   db->path, (long long)id);
        rc = FS_ESCENARIO;
    } else if (round < 1) {
        rc = refuse_resume(db, id, err, "checkpoints.round is %d, expected a round >= 1", round);
    } else {
        /* the rounds before the checkpoint stay and are not recomputed: all must be there */
        int64_t kept = query_run_round(db,
                                       "SELECT count(*) FROM rounds WHERE run_id = ?1"
                                       " AND round BETWEEN 1 AND ?2",
                                       id, round);
        if (kept != round)
            rc = refuse_resume(db, id, err,
                               "checkpoint after round %d, but the rounds table "
                               "holds %lld of rounds 1..%d",
                               round, (long long)kept, round);
        else if ((rc = read_checkpoint(db, id, round, out_state, out_len)) == SQLITE_OK)
            rc = FS_OK;
        else if (rc == SQLITE_CORRUPT)
            rc = refuse_resume(db, id, err,
                               "checkpoint after round %d: a chunk of it is "
                               "missing or out of order in checkpoint_chunks",
                               round);
        else if (rc != SQLITE_NOMEM)
            rc = db_fail(db, err, "reading the checkpoint");
        else {
            fs_err_add(err, NULL, "%s: out of memory reading the checkpoint of run %lld", db->path,
                       (long long)id);
            rc = FS_ENOMEM;
        }
    }
    free(json);
    return rc;
}

/* Forgets what a run recorded after its checkpoint (it will be recorded again, identically);
 * from round 0 its clients rows too, since they are written again as by a new run. */
int fs_db_resume_claim(fs_db *db, int64_t run_id, int round, fs_err *err)
{
    static const char *const sql[] = {
        "DELETE FROM clients WHERE run_id = ?1 AND ?2 = 0",
        "DELETE FROM participation WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM evals WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM client_energy_rounds WHERE run_id = ?1 AND round > ?2",
        "DELETE FROM rounds WHERE run_id = ?1 AND round > ?2",
        /* round 0 (the population) is the run's start: kept unless the run restarts */
        "DELETE FROM participation_mix WHERE run_id = ?1 AND (round > ?2 OR ?2 = 0)",
        "DELETE FROM selection_rounds WHERE run_id = ?1 AND round > ?2",
        "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?1 AND ?2 >= 0"};
    int rc = run_stmt(db, ST_BEGIN);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sql / sizeof *sql; i++)
        rc = exec_run_round(db, sql[i], run_id, round);
    if (rc == SQLITE_OK) rc = run_stmt(db, ST_COMMIT);
    return rc == SQLITE_OK ? FS_OK : db_fail(db, err, "truncating the run to its checkpoint");
}

/* A stored float column against the value the scenario draws (NaN: NULL). */
static bool same_real(sqlite3_stmt *st, int col, double want)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) return isnan(want);
    return sqlite3_column_type(st, col) == SQLITE_FLOAT && sqlite3_column_double(st, col) == want;
}

static bool same_int(sqlite3_stmt *st, int col, int64_t want)
{
    return sqlite3_column_type(st, col) == SQLITE_INTEGER && sqlite3_column_int64(st, col) == want;
}

static const char *const client_cols[] = {"client_id",     "n_train",    "n_test",
                                          "segment",       "gflops",     "uplink_mbps",
                                          "downlink_mbps", "latency_ms", "consent",
                                          "trace_key",     "device_class", "network",
                                          "attacker"};

/* A text column as recorded: a NULL one of the device columns is a file upgraded from version
 * 4, whose rows never held them, and matches anything. */
static bool same_text(sqlite3_stmt *st, int i, const char *want, bool null_matches)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    if (!v) return null_matches || !want;
    return want && !strcmp(v, want);
}

/* The first column of a clients row that differs from c, or -1. */
static int client_mismatch(sqlite3_stmt *st, const fs_db_client *c)
{
    bool same[] = {same_int(st, 0, c->client_id),
                   same_int(st, 1, c->n_train),
                   same_int(st, 2, c->n_test),
                   same_text(st, 3, c->segment, false),
                   same_real(st, 4, c->gflops),
                   same_real(st, 5, c->uplink_mbps),
                   same_real(st, 6, c->downlink_mbps),
                   same_real(st, 7, c->latency_ms),
                   same_int(st, 8, c->consent),
                   same_text(st, 9, c->trace_key, true),
                   same_text(st, 10, c->device_class, true),
                   same_text(st, 11, c->network, true),
                   /* NULL: a file upgraded from version 5, which modelled no attackers */
                   sqlite3_column_type(st, 12) == SQLITE_NULL ? c->attacker == 0
                                                              : same_int(st, 12, c->attacker)};
    for (int i = 0; i < (int)(sizeof same / sizeof *same); i++)
        if (!same[i]) return i;
    return -1;
}

/* A resume redraws every device from the seed (the checkpoint does not carry them) and keeps
 * the clients rows the run wrote at its start: they must be those devices, or the run's results
 * would describe devices it never simulated. */
int fs_db_check_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                        fs_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn,
                                "SELECT client_id, n_train, n_test, segment, gflops, uplink_mbps,"
                                " downlink_mbps, latency_ms, consent, trace_key, device_class,"
                                " network, attacker FROM clients"
                                " WHERE run_id = ?1 ORDER BY client_id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, run_id);
    size_t i = 0;
    int bad = -1, step = SQLITE_DONE;
    char found[64] = "";
    while (rc == SQLITE_OK && (step = sqlite3_step(st)) == SQLITE_ROW && i < n) {
        if ((bad = client_mismatch(st, &clients[i])) >= 0) {
            const char *v = (const char *)sqlite3_column_text(st, bad);
            snprintf(found, sizeof found, "%s", v ? v : "NULL");
            break;
        }
        i++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (step != SQLITE_DONE && step != SQLITE_ROW))
        return db_fail(db, err, "reading the run's clients");
    if (bad >= 0)
        return refuse_resume(db, run_id, err,
                             "clients row %zu: %s is %s, not the device the scenario draws for "
                             "client %zu (the database was edited)",
                             i, client_cols[bad], found, i);
    if (step == SQLITE_ROW || i != n)
        return refuse_resume(db, run_id, err,
                             "the clients table holds %s rows than the %zu "
                             "clients of the scenario",
                             step == SQLITE_ROW ? "more" : "fewer", n);
    return FS_OK;
}

double fs_db_column_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

sqlite3 *fs_db_conn(fs_db *db)
{
    return db->conn;
}
