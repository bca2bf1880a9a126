/* fs_db_clients: the clients rows inserted in one INSERT ... SELECT from a table-valued function
 * over the rows in memory, fs_client_rows(rows, n), instead of binding 15 parameters a row.
 * SQLite then reads each value straight from the fs_db_client array (no parameter is bound,
 * copied or cleared), and one statement steps through all the rows. A million rows took the
 * writer thread 1.02 s of CPU in 256-row INSERT ... VALUES statements, 0.86 s so (1M-user
 * ctr_regions, 16 KiB pages): CPU the rounds share on 2 cores. The array is passed with
 * sqlite3_bind_pointer, which SQL text cannot forge; the function is registered on the
 * connection only for the one insert. */
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "fs_db.h"
#include "fs_db_int.h"
#include "fs_err.h"

/* The function's columns: the clients table's, run_id first (a parameter, not a column here),
 * then the two hidden arguments. */
enum {
    COL_CLIENT_ID,
    COL_N_TRAIN,
    COL_N_TEST,
    COL_SEGMENT,
    COL_GFLOPS,
    COL_UPLINK,
    COL_DOWNLINK,
    COL_LATENCY,
    COL_CONSENT,
    COL_TRACE_KEY,
    COL_DEVICE_CLASS,
    COL_NETWORK,
    COL_UTC_OFFSET,
    COL_ATTACKER,
    COL_ROWS, /* hidden: the array */
    COL_N     /* hidden: its length */
};

#define ROWS_POINTER_TYPE "fs_db_client"

typedef struct rows_cursor {
    sqlite3_vtab_cursor base;
    const fs_db_client *rows;
    sqlite3_int64 n, i;
} rows_cursor;

/* size zeroed bytes from SQLite's allocator (the vtab and its cursors are freed by it), or NULL */
static void *sqlite_zeroed(size_t size)
{
    void *p = sqlite3_malloc64(size);
    if (p) memset(p, 0, size);
    return p;
}

static int rows_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err)
{
    (void)aux, (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(
        db, "CREATE TABLE x(client_id, n_train, n_test, segment, gflops, uplink_mbps,"
            " downlink_mbps, latency_ms, consent, trace_key, device_class, network,"
            " utc_offset_min, attacker, rows HIDDEN, n HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab *v = sqlite_zeroed(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    *out = v;
    return SQLITE_OK;
}

static int rows_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

/* Only a call with both arguments given (=) can be answered: without them there are no rows. */
static int rows_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    int at[2] = {-1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn < COL_ROWS || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        if (!c->usable) return SQLITE_CONSTRAINT;
        at[c->iColumn - COL_ROWS] = i;
    }
    if (at[0] < 0 || at[1] < 0) return SQLITE_CONSTRAINT;
    for (int k = 0; k < 2; k++) {
        info->aConstraintUsage[at[k]].argvIndex = k + 1;
        info->aConstraintUsage[at[k]].omit = 1;
    }
    info->estimatedCost = 1;
    return SQLITE_OK;
}

static int rows_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    (void)v;
    rows_cursor *c = sqlite_zeroed(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    *out = &c->base;
    return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int rows_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                       sqlite3_value **argv)
{
    (void)idx, (void)idx_str;
    rows_cursor *c = (rows_cursor *)cur;
    fs_assert(argc == 2);
    c->rows = sqlite3_value_pointer(argv[0], ROWS_POINTER_TYPE);
    c->n = c->rows ? sqlite3_value_int64(argv[1]) : 0; /* no rows unless bound as ours */
    c->i = 0;
    return SQLITE_OK;
}

static int rows_next(sqlite3_vtab_cursor *cur)
{
    ((rows_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int rows_eof(sqlite3_vtab_cursor *cur)
{
    const rows_cursor *c = (const rows_cursor *)cur;
    return c->i >= c->n;
}

static void result_text(sqlite3_context *ctx, const char *s)
{
    if (s)
        sqlite3_result_text(ctx, s, -1, SQLITE_STATIC); /* the rows outlive the statement */
    else
        sqlite3_result_null(ctx);
}

static int rows_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    const rows_cursor *c = (const rows_cursor *)cur;
    const fs_db_client *r = &c->rows[c->i];
    switch (col) {
    case COL_CLIENT_ID: sqlite3_result_int64(ctx, r->client_id); break;
    case COL_N_TRAIN: sqlite3_result_int64(ctx, r->n_train); break;
    case COL_N_TEST: sqlite3_result_int64(ctx, r->n_test); break;
    case COL_SEGMENT: result_text(ctx, r->segment); break;
    case COL_GFLOPS: sqlite3_result_double(ctx, r->gflops); break;
    case COL_UPLINK: sqlite3_result_double(ctx, r->uplink_mbps); break;
    case COL_DOWNLINK: sqlite3_result_double(ctx, r->downlink_mbps); break;
    case COL_LATENCY: sqlite3_result_double(ctx, r->latency_ms); break;
    case COL_CONSENT: sqlite3_result_int64(ctx, r->consent); break;
    case COL_TRACE_KEY: result_text(ctx, r->trace_key); break;
    case COL_DEVICE_CLASS: result_text(ctx, r->device_class); break;
    case COL_NETWORK: result_text(ctx, r->network); break;
    case COL_UTC_OFFSET:
        if (r->has_utc_offset)
            sqlite3_result_int64(ctx, r->utc_offset_min);
        else
            sqlite3_result_null(ctx);
        break;
    case COL_ATTACKER: sqlite3_result_int64(ctx, r->attacker); break;
    default: sqlite3_result_null(ctx); /* the hidden arguments are never read back */
    }
    return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((const rows_cursor *)cur)->i;
    return SQLITE_OK;
}

/* Eponymous only (no CREATE VIRTUAL TABLE can name it) and read-only. */
static const sqlite3_module rows_module = {
    .iVersion = 0,
    .xCreate = NULL,
    .xConnect = rows_connect,
    .xBestIndex = rows_best_index,
    .xDisconnect = rows_disconnect,
    .xDestroy = rows_disconnect,
    .xOpen = rows_open,
    .xClose = rows_close,
    .xFilter = rows_filter,
    .xNext = rows_next,
    .xEof = rows_eof,
    .xColumn = rows_column,
    .xRowid = rows_rowid,
};

int fs_db_clients_insert(sqlite3 *conn, int64_t run_id, const fs_db_client *rows, size_t n)
{
    if (n == 0) return SQLITE_OK;
    int rc = sqlite3_create_module(conn, "fs_client_rows", &rows_module, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(conn,
                                "INSERT INTO clients SELECT ?3, client_id, n_train, n_test,"
                                " segment, gflops, uplink_mbps, downlink_mbps, latency_ms,"
                                " consent, trace_key, device_class, network, utc_offset_min,"
                                " attacker FROM fs_client_rows(?1, ?2)",
                                -1, &st, NULL);
    /* the array is the caller's: no destructor */
    if (rc == SQLITE_OK) rc = sqlite3_bind_pointer(st, 1, (void *)rows, ROWS_POINTER_TYPE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, run_id);
    if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(conn);
    sqlite3_finalize(st);
    /* unregistered again: the connection keeps no module that could be called later */
    sqlite3_create_module(conn, "fs_client_rows", NULL, NULL);
    return rc;
}
