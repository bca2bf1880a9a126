/* fedsim-dbdump: prints a results database in a canonical text form for golden and determinism
 * tests. Tables in a fixed order, rows ordered by primary key, one line per row:
 *     table|col=value|col=value...
 * Integers in decimal; floats as the shortest text that reads back as the same double (so two
 * dumps are equal exactly when the doubles are), always with a '.' or an exponent ("1.0", not
 * "1") so that fedsim-dumpcmp can tell a float from an integer; NULL as NULL; text with \\ \|
 * \n \r \t and \xHH escapes (so a row stays one line); blobs as blob:<bytes>:<FNV-1a 64 hex>.
 *
 * runs.scenario_json, the effective scenario, is dumped as hash:<bytes>:<FNV-1a 64 hex> plus the
 * few fields that say which code ran (scenario.data.source, model.kind, server.mode,
 * server.algorithm): the full text holds every key of the schema with its default, so printing
 * it made every golden change whenever a key was added. The hash still pins the scenario for
 * the identity tests (threads, resume), which compare dumps exactly; the golden comparison
 * (tests/golden/README) ignores it, and the results rows pin everything the scenario changed.
 *
 * Columns that differ between identical runs (wall-clock times, host, threads, ranks, version) are
 * skipped, so two runs of one (scenario, seed) dump identically. Every column of a table is
 * dumped (`SELECT *`), so columns added to the schema appear without changes here. Views (v_*)
 * are derived from the tables and never dumped: the list below names tables only. The file is
 * opened with fs_db_open_readonly (the schema version checked, nothing written); a table newer
 * than the file's version (participation_mix in a version 5 file) is left out, a missing one of
 * its version is an error. Exit 0, 2 on
 * bad usage, 3 on any database or output error, each reported. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fs_db.h"
#include "fs_dump_col.h"

typedef struct dump_table {
    const char *name;
    const char *order_by; /* the primary key */
    const char *extra;    /* further result columns after `*` (SQL), or NULL */
    int since;            /* the schema version that added the table (0: version 2 or before) */
} dump_table;

/* json_valid first: a damaged scenario_json still dumps (as NULL fields) instead of failing. */
#define SCN_FIELD(path)                                                                            \
    ", CASE WHEN json_valid(scenario_json) THEN json_extract(scenario_json, '$." path              \
    "') END AS \"scenario." path "\""
static const dump_table tables[] = {
    {"meta", "key", NULL, 0},
    {"runs", "run_id",
     SCN_FIELD("data.source") SCN_FIELD("model.kind") SCN_FIELD("server.mode")
         SCN_FIELD("server.algorithm"), 0},
    {"clients", "run_id, client_id", NULL, 0},
    {"rounds", "run_id, round", NULL, 0},
    {"participation", "run_id, round, client_id, seq", NULL, 0},
    {"evals", "run_id, round, segment, metric", NULL, 0},
    {"client_energy_rounds", "run_id, round, client_id, day", NULL, 5},
    {"participation_mix", "run_id, round, grp, level, stage", NULL, 6},
    {"selection_rounds", "run_id, round", NULL, 6},
    {"checkpoints", "run_id, round", NULL, 0},
    {"checkpoint_chunks", "run_id, round, seq", NULL, 0},
    {"variant_stats", "name, variant", NULL, 0},
    {"variant_round_stats", "name, variant, round, metric", NULL, 0},
};

/* Metadata: wall-clock, host and build facts, never a function of (scenario, seed).
 * rounds.compute_s and online_share are virtual-time facts of the simulation and stay. */
static const char *const skipped[] = {
    "runs.started_at", "runs.finished_at",    "runs.wall_s",   "runs.threads",
    "runs.host",       "runs.fedsim_version", "rounds.wall_s", "variant_stats.updated_at",
    "runs.ranks",
};

/* Text columns dumped as their length and hash (see the header comment). */
static const char *const hashed[] = {"runs.scenario_json"};

static int listed(const char *const *list, size_t n, const char *table, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (fs_dump_col_is(list[i], table, col)) return 1;
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
static void put_hash(const char *kind, const unsigned char *p, int n, FILE *out)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    fprintf(out, "%s:%d:%016" PRIx64, kind, n, h);
}

/* The shortest %.*g that reads back as x (17 digits always do), marked as a float. Below 1e17
 * at least as many digits as the integer part has, so 80 reads "80.0", not "8e+01". */
static void put_real(double x, FILE *out)
{
    char buf[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    int int_digits = fabs(x) >= 1 && fabs(x) < 1e17 ? (int)floor(log10(fabs(x))) + 1 : 0;
    snprintf(buf, sizeof buf, "%.*g", prec > int_digits ? prec : int_digits, x);
    fputs(buf, out);
    if (isfinite(x) && !strpbrk(buf, ".e")) fputs(".0", out);
}

static void put_value(sqlite3_stmt *st, int i, int hash_text, FILE *out)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: fprintf(out, "%lld", (long long)sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: put_real(sqlite3_column_double(st, i), out); break;
    case SQLITE_TEXT:
        if (hash_text)
            put_hash("hash", sqlite3_column_text(st, i), sqlite3_column_bytes(st, i), out);
        else
            put_text(sqlite3_column_text(st, i), out);
        break;
    case SQLITE_BLOB:
        put_hash("blob", sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), out);
        break;
    default: fputs("NULL", out);
    }
}

static int dump_table_rows(sqlite3 *db, const char *path, const dump_table *t, FILE *out,
                           fs_err *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT *%s FROM %s ORDER BY %s", t->extra ? t->extra : "",
             t->name, t->order_by);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: reading table %s: %s", path, t->name, sqlite3_errmsg(db));
        return FS_EDB;
    }
    int n_cols = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fputs(t->name, out);
        for (int i = 0; i < n_cols; i++) {
            const char *col = sqlite3_column_name(st, i);
            if (listed(skipped, sizeof skipped / sizeof *skipped, t->name, col)) continue;
            fprintf(out, "|%s=", col);
            put_value(st, i, listed(hashed, sizeof hashed / sizeof *hashed, t->name, col), out);
        }
        fputc('\n', out);
    }
    if (rc != SQLITE_DONE)
        fs_err_add(err, NULL, "%s: reading table %s: %s", path, t->name, sqlite3_errmsg(db));
    sqlite3_finalize(st); /* repeats the step's error code, already reported */
    return rc == SQLITE_DONE ? FS_OK : FS_EDB;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fedsim-dbdump DB\n");
        return 2;
    }
    const char *path = argv[1];
    fs_err err;
    fs_err_init(&err, NULL);
    sqlite3 *db = NULL;
    int rc = fs_db_open_readonly(path, &db, &err);
    char version[16] = "";
    if (rc == FS_OK &&
        fs_db_query_text(db, "SELECT value FROM meta WHERE key = 'schema_version'", version,
                         sizeof version) != SQLITE_OK)
        *version = '\0';
    for (size_t i = 0; rc == FS_OK && i < sizeof tables / sizeof *tables; i++)
        if (atoi(version) >= tables[i].since) /* an older file lacks the newer tables */
            rc = dump_table_rows(db, path, &tables[i], stdout, &err);
    if (db && sqlite3_close(db) != SQLITE_OK && rc == FS_OK) {
        fs_err_add(&err, NULL, "%s: closing results database: %s", path, sqlite3_errmsg(db));
        rc = FS_EDB;
    }
    if (rc == FS_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        fs_err_add(&err, NULL, "writing the dump to standard output failed");
        rc = FS_EIO;
    }
    if (rc) fs_err_print(&err, stderr);
    return fs_exit_code(rc);
}
