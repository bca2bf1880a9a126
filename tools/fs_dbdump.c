/* fedsim-dbdump: prints a results database in a canonical text form for golden and determinism
 * tests. Tables in a fixed order, rows ordered by primary key, one line per row:
 *     table|col=value|col=value...
 * Integers in decimal, floats with %.9g, NULL as NULL, text with \\ \| \n \r \t and \xHH
 * escapes (so a row stays one line), blobs as blob:<bytes>:<FNV-1a 64 hex>. Columns that differ
 * between identical runs (wall-clock times, host, threads, version) are skipped, so two runs of
 * one (scenario, seed) dump identically. Every column of a table is dumped (`SELECT *`), so
 * columns added to the schema (runs.target_*, rounds.compute_s and online_share in version 2)
 * appear without changes here. Views (v_*) are derived from the tables and never dumped: the
 * list below names tables only. Exit 0, 2 on bad usage, 3 on any database error. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

typedef struct dump_table {
    const char *name;
    const char *order_by; /* the primary key */
} dump_table;

static const dump_table tables[] = {
    {"meta", "key"},
    {"runs", "run_id"},
    {"clients", "run_id, client_id"},
    {"rounds", "run_id, round"},
    {"participation", "run_id, round, client_id, seq"},
    {"evals", "run_id, round, segment, metric"},
    {"checkpoints", "run_id, round"},
};

/* Metadata: wall-clock, host and build facts, never a function of (scenario, seed).
 * rounds.compute_s and online_share are virtual-time facts of the simulation and stay. */
static const char *const skipped[] = {
    "runs.started_at", "runs.finished_at", "runs.wall_s",  "runs.threads",
    "runs.host",       "runs.fedsim_version", "rounds.wall_s",
};

static int is_skipped(const char *table, const char *col)
{
    size_t tl = strlen(table);
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++) {
        const char *s = skipped[i];
        if (strncmp(s, table, tl) == 0 && s[tl] == '.' && strcmp(s + tl + 1, col) == 0) return 1;
    }
    return 0;
}

static void put_text(const unsigned char *s, FILE *out)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': fputs("\\\\", out); break;
        case '|': fputs("\\|", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*s < 0x20 || *s == 0x7f)
                fprintf(out, "\\x%02x", *s);
            else
                fputc(*s, out);
        }
    }
}

/* Model blobs are large; their length and a 64-bit FNV-1a hash pin them down exactly enough. */
static void put_blob(const unsigned char *p, int n, FILE *out)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    fprintf(out, "blob:%d:%016" PRIx64, n, h);
}

static void put_value(sqlite3_stmt *st, int i, FILE *out)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: fprintf(out, "%.9g", sqlite3_column_double(st, i)); break;
    case SQLITE_TEXT: put_text(sqlite3_column_text(st, i), out); break;
    case SQLITE_BLOB:
        put_blob(sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), out);
        break;
    default: fputs("NULL", out);
    }
}

static int dump_table_rows(sqlite3 *db, const dump_table *t, FILE *out)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY %s", t->name, t->order_by);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    int n_cols = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputs(t->name, out);
        for (int i = 0; i < n_cols; i++) {
            const char *col = sqlite3_column_name(st, i);
            if (is_skipped(t->name, col)) continue;
            fprintf(out, "|%s=", col);
            put_value(st, i, out);
        }
        fputc('\n', out);
    }
    sqlite3_finalize(st); /* repeats the step's error code, already in rc */
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fedsim-dbdump DB\n");
        return 2;
    }
    const char *path = argv[1];
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 5000);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof tables / sizeof *tables; i++)
        rc = dump_table_rows(db, &tables[i], stdout);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "fedsim-dbdump: error: %s: %s\n", path,
                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return 3;
    }
    if (sqlite3_close(db) != SQLITE_OK || fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "fedsim-dbdump: error: writing the dump failed\n");
        return 3;
    }
    return 0;
}
