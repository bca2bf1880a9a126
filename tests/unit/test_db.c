/* test_db: the results recorder. Each test gets a fresh temporary folder (mkdtemp), writes
 * through the fs_db API and checks the file with plain SQLite queries: schema, NULL mapping,
 * run status transitions, all-or-nothing rounds and error messages. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_db.h"
#include "fs_test.h"

static char tmpdir[256];
static char dbpath[300];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/fedsim_test_db_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/results.db", tmpdir);
}

static void teardown(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[320];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    rmdir(tmpdir);
}

/* ---- helpers */

static fs_db *open_ok(void)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    int rc = fs_db_open(dbpath, &db, &err);
    ck_assert_msg(rc == FS_OK, "open: %s", err.n_msgs ? err.msgs[0] : "?");
    ck_assert_ptr_nonnull(db);
    return db;
}

static int64_t begin_ok(fs_db *db)
{
    fs_db_run run = {.name = "t", .scenario_json = "{\"seed\": 7}", .seed = 7, .variant = "",
                     .fedsim_version = "test", .threads = 2, .host = "h"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = -1;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    return id;
}

/* A second read-only connection: what any other reader of the file would see. */
static sqlite3 *peek_open(void)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return c;
}

static int64_t q_int(sqlite3 *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(c));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t peek_int(const char *sql)
{
    sqlite3 *c = peek_open();
    int64_t v = q_int(c, sql);
    sqlite3_close(c);
    return v;
}

/* Copies the first column of the first row as text ("NULL" for NULL). */
static void peek_text(const char *sql, char *out, size_t n)
{
    sqlite3 *c = peek_open();
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s", sql);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    const char *v = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, n, "%s", v ? v : "NULL");
    sqlite3_finalize(st);
    sqlite3_close(c);
}

static fs_db_round round_n(int n)
{
    return (fs_db_round){.round = n, .t_start = 1000000LL * n, .t_end = 1000000LL * n + 500000,
                         .selected = 3, .reported = 2, .dropped = 1, .late = 0, .aborted = 0,
                         .bytes_up = 300, .bytes_down = 600, .train_loss = 0.5,
                         .epsilon = NAN, .wall_s = 0.01};
}

static fs_db_part part_c(uint32_t client, const char *outcome)
{
    return (fs_db_part){.client_id = client, .outcome = outcome, .t_selected = 10,
                        .t_downloaded = 20, .t_trained = 30, .t_reported = 40, .n_samples = 100,
                        .steps = 4, .local_loss = 0.25, .update_norm = 1.5, .bytes_up = 100,
                        .bytes_down = 200, .staleness = 0};
}

static void write_round_ok(fs_db *db, int64_t run_id, int n)
{
    fs_db_round r = round_n(n);
    fs_db_part p[3] = {part_c(1, "reported"), part_c(2, "reported"), part_c(3, "dropped")};
    fs_db_eval e[2] = {{"all", "accuracy", 0.5 + 0.01 * n}, {"all", "loss", 1.0}};
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_db_write_round(db, run_id, &r, p, 3, e, 2, &err);
    ck_assert_msg(rc == FS_OK, "write_round: %s", err.n_msgs ? err.msgs[0] : "?");
}

/* ---- tests */

START_TEST(db_open_creates_schema)
{
    fs_db *db = open_ok();
    ck_assert_str_eq(fs_db_path(db), dbpath);
    fs_db_close(db);
    static const char *const objs[] = {"meta", "runs", "clients", "rounds", "participation",
                                       "evals", "checkpoints", "v_rounds", "v_evals"};
    sqlite3 *c = peek_open();
    char sql[200];
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", objs[i]);
        ck_assert_msg(q_int(c, sql) == 1, "missing %s", objs[i]);
    }
    ck_assert_int_eq(q_int(c, "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
    ck_assert_int_eq(q_int(c, "SELECT count(*) FROM pragma_foreign_key_list('participation')"),
                     1);
    sqlite3_close(c);
    char mode[16];
    peek_text("PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
}
END_TEST

START_TEST(db_begin_run_sets_running)
{
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 1);
    fs_db_close(db);
    char s[64];
    peek_text("SELECT status FROM runs WHERE run_id = 1", s, sizeof s);
    ck_assert_str_eq(s, "running");
    peek_text("SELECT started_at FROM runs WHERE run_id = 1", s, sizeof s);
    ck_assert_int_eq(strlen(s), 24); /* 2024-01-02T03:04:05.678Z */
    ck_assert_int_eq(s[10], 'T');
    ck_assert_int_eq(s[23], 'Z');
    ck_assert_int_eq(peek_int("SELECT finished_at IS NULL AND seed = 7 FROM runs"), 1);
}
END_TEST

START_TEST(db_write_round_writes_exact_rows)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 4);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 3);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM evals"), 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE run_id = 1 AND round = 4"
                              " AND t_start = 4000000 AND t_end = 4500000 AND selected = 3"
                              " AND reported = 2 AND dropped = 1 AND late = 0 AND aborted = 0"
                              " AND bytes_up = 300 AND bytes_down = 600 AND train_loss = 0.5"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE round = 4"
                              " AND client_id = 3 AND outcome = 'dropped' AND t_reported = 40"
                              " AND n_samples = 100 AND steps = 4 AND local_loss = 0.25"
                              " AND update_norm = 1.5 AND bytes_down = 200 AND staleness = 0"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM evals WHERE round = 4 AND t = 4500000"
                              " AND segment = 'all' AND metric = 'accuracy' AND value = 0.54"),
                     1);
    ck_assert_int_eq(peek_int("SELECT t_end_h * 1e6 FROM v_rounds"), 1250); /* 4.5 s in h */
}
END_TEST

START_TEST(db_nan_stored_as_null)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    r.train_loss = NAN;
    fs_db_part p = part_c(9, "dropped");
    p.local_loss = NAN;
    p.update_norm = NAN;
    fs_db_eval e = {"all", "accuracy", NAN};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, &p, 1, &e, 1, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT train_loss IS NULL AND epsilon IS NULL FROM rounds"), 1);
    ck_assert_int_eq(peek_int("SELECT local_loss IS NULL AND update_norm IS NULL"
                              " FROM participation"),
                     1);
    ck_assert_int_eq(peek_int("SELECT value IS NULL FROM evals"), 1);
}
END_TEST

START_TEST(db_unreached_times_stored_as_null)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    fs_db_part p = part_c(5, "dropped");
    p.t_downloaded = -1;
    p.t_trained = -1;
    p.t_reported = -1;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, &p, 1, NULL, 0, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT t_selected = 10 AND t_downloaded IS NULL AND t_trained IS"
                              " NULL AND t_reported IS NULL FROM participation"),
                     1);
}
END_TEST

START_TEST(db_finish_run_sets_done)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 1);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_finish_run(db, id, "done", 12.5, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT status = 'done' AND finished_at >= started_at"
                              " AND wall_s = 12.5 FROM runs"),
                     1);
}
END_TEST

START_TEST(db_finish_unknown_run_fails)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_finish_run(db, 42, "done", 1.0, &err), FS_EDB);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "finishing run 42: no run with run_id 42"));
    fs_db_close(db);
}
END_TEST

START_TEST(db_set_status_checks_value)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_set_status(db, id, "interrupted", &err), FS_OK);
    ck_assert_int_eq(fs_db_set_status(db, id, "paused", &err), FS_EDB);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "CHECK constraint failed"));
    fs_db_close(db);
    char s[32];
    peek_text("SELECT status FROM runs", s, sizeof s);
    ck_assert_str_eq(s, "interrupted");
}
END_TEST

START_TEST(db_duplicate_round_rolls_back)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 12);
    /* Same round number again, with clients not yet recorded: the rounds insert fails and none
     * of the new participations or evals may survive. */
    fs_db_round r = round_n(12);
    fs_db_part p[2] = {part_c(7, "reported"), part_c(8, "late")};
    fs_db_eval e = {"utc+1", "accuracy", 0.9};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, 2, &e, 1, &err), FS_EDB);
    char want[400];
    snprintf(want, sizeof want, "%s: writing round 12: UNIQUE constraint failed", dbpath);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_msg(strstr(err.msgs[0], want), "got: %s", err.msgs[0]);
    /* The connection is usable again: no transaction left open. */
    write_round_ok(db, id, 13);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE round = 12"), 3);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE client_id >= 7"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM evals WHERE segment = 'utc+1'"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 2);
}
END_TEST

START_TEST(db_failing_participation_rolls_back_round)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(5);
    fs_db_part p[3] = {part_c(1, "reported"), part_c(2, "reported"), part_c(3, "vanished")};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, 3, NULL, 0, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[0], "writing round 5: CHECK constraint failed"), "got: %s",
                  err.msgs[0]);
    ck_assert_int_eq(fs_db_finish_run(db, id, "failed", NAN, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 0);
    ck_assert_int_eq(peek_int("SELECT status = 'failed' AND wall_s IS NULL FROM runs"), 1);
}
END_TEST

START_TEST(db_round_of_unknown_run_fails)
{
    fs_db *db = open_ok();
    fs_db_round r = round_n(1);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, 99, &r, NULL, 0, NULL, 0, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[0], "writing round 1: FOREIGN KEY constraint failed"),
                  "got: %s", err.msgs[0]);
    fs_db_close(db);
}
END_TEST

START_TEST(db_write_clients_all_or_nothing)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_client c[3] = {
        {.client_id = 0, .n_train = 600, .n_test = 100, .segment = "utc+1", .gflops = 2.5,
         .uplink_mbps = 5, .downlink_mbps = 20, .latency_ms = 40, .consent = 1},
        {.client_id = 1, .n_train = 10, .segment = NULL, .gflops = NAN, .consent = 0},
        {.client_id = 1},
    };
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_clients(db, id, c, 3, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[0], "writing clients: UNIQUE"), "got: %s", err.msgs[0]);
    ck_assert_int_eq(fs_db_write_clients(db, id, c, 2, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients"), 2);
    ck_assert_int_eq(peek_int("SELECT segment IS NULL AND gflops IS NULL FROM clients"
                              " WHERE client_id = 1"),
                     1);
    ck_assert_int_eq(peek_int("SELECT n_train = 600 AND uplink_mbps = 5 AND consent = 1"
                              " FROM clients WHERE client_id = 0"),
                     1);
}
END_TEST

START_TEST(db_open_missing_dir_fails)
{
    char bad[400];
    snprintf(bad, sizeof bad, "%s/no/such/dir/results.db", tmpdir);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = (fs_db *)1;
    ck_assert_int_eq(fs_db_open(bad, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    char want[450];
    snprintf(want, sizeof want, "%s: cannot open results database: ", bad);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_msg(strncmp(err.msgs[0], want, strlen(want)) == 0, "got: %s", err.msgs[0]);
}
END_TEST

START_TEST(db_open_rejects_other_schema_version)
{
    fs_db_close(open_ok());
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE meta SET value = '2'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msgs[0], "has schema version 2, expected 1"), "got: %s",
                  err.msgs[0]);
}
END_TEST

START_TEST(db_open_rejects_non_database)
{
    FILE *f = fopen(dbpath, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a database, just some text long enough to fill a header......\n", f);
    fclose(f);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msgs[0], dbpath) && strstr(err.msgs[0], "not a database"),
                  "got: %s", err.msgs[0]);
}
END_TEST

START_TEST(db_reopen_appends_run_2)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 1);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_finish_run(db, id, "done", 1.0, &err), FS_OK);
    fs_db_close(db);
    db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    write_round_ok(db, 2, 1);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs"), 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE round = 1"), 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM meta"), 1);
}
END_TEST

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, db_open_creates_schema);
    tcase_add_test(tc, db_begin_run_sets_running);
    tcase_add_test(tc, db_write_round_writes_exact_rows);
    tcase_add_test(tc, db_nan_stored_as_null);
    tcase_add_test(tc, db_unreached_times_stored_as_null);
    tcase_add_test(tc, db_finish_run_sets_done);
    tcase_add_test(tc, db_finish_unknown_run_fails);
    tcase_add_test(tc, db_set_status_checks_value);
    tcase_add_test(tc, db_duplicate_round_rolls_back);
    tcase_add_test(tc, db_failing_participation_rolls_back_round);
    tcase_add_test(tc, db_round_of_unknown_run_fails);
    tcase_add_test(tc, db_write_clients_all_or_nothing);
    tcase_add_test(tc, db_open_missing_dir_fails);
    tcase_add_test(tc, db_open_rejects_other_schema_version);
    tcase_add_test(tc, db_open_rejects_non_database);
    tcase_add_test(tc, db_reopen_appends_run_2);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(db_suite)
