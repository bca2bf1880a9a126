/* test_db: the results recorder. Each test gets a fresh temporary folder (mkdtemp), writes
 * through the fs_db API and checks the file with plain SQLite queries: schema, NULL mapping,
 * run status transitions, all-or-nothing rounds and error messages. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_db.h"
#include "fs_db_schema.h"
#include "fs_db_writer.h"
#include "fs_metrics.h"
#include "fs_round_queue.h"
#include "fs_test.h"

static char tmpdir[256];
static char dbpath[300];

static void setup(void)
{
    fs_test_db_dir(tmpdir, sizeof tmpdir, dbpath, sizeof dbpath, "fedsim_test_db_", "results.db");
}

static void teardown(void)
{
    fs_test_db_dir_remove(tmpdir, dbpath);
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
                     .fedsim_version = "test", .threads = 2, .host = "h", .precision = "float32"};
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

static double peek_real(const char *sql)
{
    sqlite3 *c = peek_open();
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(c));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
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
                                       "evals", "checkpoints", "v_rounds", "v_evals",
                                       "v_round_metrics", "v_time_to_target", "v_run_summary",
                                       "variant_stats", "variant_round_stats",
                                       "v_variant_summary", "v_variant_rounds"};
    sqlite3 *c = peek_open();
    char sql[200];
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", objs[i]);
        ck_assert_msg(q_int(c, sql) == 1, "missing %s", objs[i]);
    }
    ck_assert_int_eq(q_int(c, "SELECT value FROM meta WHERE key = 'schema_version'"),
                     FS_DB_SCHEMA_VERSION);
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

/* ---- fs_round_queue: rounds kept while the clients rows are written */

/* Round n of the queue tests: participations with energy, a mix, evaluations on even rounds and
 * a checkpoint on odd ones. */
typedef struct queued_fixture {
    fs_db_round row;
    fs_db_part parts[3];
    fs_db_mix mix[2];
    fs_db_eval evals[2];
    char state[32];
    char grp[8], level[2][8], segment[8]; /* names the engine frees when it ends */
} queued_fixture;

static void queued_fixture_fill(queued_fixture *f, int n)
{
    f->row = round_n(n);
    f->parts[0] = part_c(1, "reported"), f->parts[1] = part_c(2, "aborted");
    f->parts[2] = part_c(3, "dropped");
    for (int i = 0; i < 3; i++) f->parts[i].energy_j = 1.5 * (i + n), f->parts[i].network = "wifi";
    strcpy(f->grp, "region"), strcpy(f->level[0], "r1"), strcpy(f->level[1], "r2");
    strcpy(f->segment, "all");
    f->mix[0] = (fs_db_mix){.round = n, .grp = f->grp, .level = f->level[0], .stage = "selected",
                            .n = n};
    f->mix[1] = (fs_db_mix){.round = n, .grp = f->grp, .level = f->level[1], .stage = "reported",
                            .n = 2};
    f->row.mix = f->mix, f->row.n_mix = 2, f->row.jain = 0.5, f->row.never_selected = 0.25;
    f->row.energy_parts = f->parts, f->row.n_energy_parts = 3;
    f->evals[0] = (fs_db_eval){f->segment, "accuracy", 0.5 + 0.01 * n};
    f->evals[1] = (fs_db_eval){f->segment, "loss", 1.0 / n};
    snprintf(f->state, sizeof f->state, "state of round %d", n);
}

/* Every row of `table` for run_id, run_id left out, sorted: a table's content to compare. */
static char *table_rows(sqlite3 *c, const char *table, int64_t run_id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE run_id = %lld", table, (long long)run_id);
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK, "%s", sql);
    size_t cap = 1 << 16, at = 0;
    char *out = calloc(1, cap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int k = 0; k < sqlite3_column_count(st); k++) {
            if (!strcmp(sqlite3_column_name(st, k), "run_id")) continue;
            const char *v = (const char *)sqlite3_column_text(st, k);
            at += (size_t)snprintf(out + at, cap - at, "%s|", v ? v : "NULL");
        }
        at += (size_t)snprintf(out + at, cap - at, "\n");
        ck_assert(at < cap);
    }
    sqlite3_finalize(st);
    return out;
}

START_TEST(db_round_queue_writes_what_direct_writes_write)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t direct = begin_ok(db), queued = begin_ok(db);
    fs_db_set_ckpt_chunk(db, 5); /* checkpoints in several rows */
    fs_round_queue q = {0};
    for (int n = 1; n <= 4; n++) {
        queued_fixture f;
        queued_fixture_fill(&f, n);
        size_t n_evals = n % 2 ? 0 : 2, state_len = n % 2 ? strlen(f.state) : 0;
        const void *state = state_len ? f.state : NULL;
        bool with_parts = n != 3; /* output.participation off: energy rows only */
        ck_assert_int_eq(fs_db_write_round_ckpt(db, direct, &f.row, with_parts ? f.parts : NULL,
                                                with_parts ? 3 : 0, f.evals, n_evals, state,
                                                state_len, &err),
                         FS_OK);
        /* the checkpoint is taken, not copied: the queue owns it and the caller's is NULL */
        void *taken = state ? strdup(state) : NULL;
        ck_assert_int_eq(fs_round_queue_push(&q, &f.row, f.parts, 3, with_parts, f.evals,
                                             n_evals, &taken, state_len, &err),
                         FS_OK);
        ck_assert_ptr_null(taken);
        /* the engine reuses its arrays at once: the queue must hold copies */
        memset(&f.row, 0x55, sizeof f.row);
        for (int i = 0; i < 3; i++) f.parts[i].energy_j = f.parts[i].local_loss = -7;
        f.mix[0].n = f.mix[1].n = -7;
        f.evals[0].value = f.evals[1].value = -7;
        memset(f.state, 'x', sizeof f.state - 1);
        strcpy(f.grp, "gone"), strcpy(f.level[0], "gone"), strcpy(f.level[1], "gone");
        strcpy(f.segment, "gone");
    }
    ck_assert_uint_eq(q.n, 4);
    ck_assert_uint_gt(q.bytes, 4 * sizeof(fs_db_part));
    ck_assert_int_eq(fs_round_queue_flush(&q, db, queued, &err), FS_OK);
    ck_assert_uint_eq(q.n, 0);
    ck_assert_ptr_null(q.head);
    fs_db_close(db);
    sqlite3 *c = peek_open();
    static const char *const tables[] = {"rounds",      "participation",     "evals",
                                         "checkpoints", "checkpoint_chunks", "participation_mix",
                                         "selection_rounds", "client_energy_rounds"};
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
        char *a = table_rows(c, tables[t], direct), *b = table_rows(c, tables[t], queued);
        ck_assert_msg(a[0], "%s: the direct run wrote nothing", tables[t]);
        ck_assert_msg(!strcmp(a, b), "%s differs:\n%s---\n%s", tables[t], a, b);
        free(a);
        free(b);
    }
    sqlite3_close(c);
}
END_TEST

/* A round whose participations give no row (no participation rows, no energy spent) keeps no
 * copy of them; one with energy keeps them all, and writes its energy rows. */
START_TEST(db_round_queue_copies_only_parts_it_writes)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = begin_ok(db);
    fs_round_queue q = {0};
    size_t bytes[2];
    for (int n = 1; n <= 2; n++) {
        queued_fixture f;
        queued_fixture_fill(&f, n);
        for (int i = 0; n == 1 && i < 3; i++) f.parts[i].energy_j = 0;
        size_t before = q.bytes;
        ck_assert_int_eq(fs_round_queue_push(&q, &f.row, f.parts, 3, false, NULL, 0, NULL, 0,
                                             &err),
                         FS_OK);
        bytes[n - 1] = q.bytes - before;
    }
    ck_assert_uint_eq(bytes[1] - bytes[0], 3 * sizeof(fs_db_part));
    ck_assert_int_eq(fs_round_queue_flush(&q, db, id, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy_rounds WHERE round = 1"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy_rounds WHERE round = 2"), 3);
}
END_TEST

START_TEST(db_round_queue_failure_drops_the_rest)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = begin_ok(db);
    fs_round_queue q = {0};
    write_round_ok(db, id, 2);
    for (int n = 1; n <= 3; n++) { /* round 2 is there already: its write fails */
        queued_fixture f;
        queued_fixture_fill(&f, n);
        ck_assert_int_eq(fs_round_queue_push(&q, &f.row, f.parts, 3, true, NULL, 0, NULL, 0, &err),
                         FS_OK);
    }
    ck_assert_int_ne(fs_round_queue_flush(&q, db, id, &err), FS_OK);
    ck_assert_int_gt(err.n_msgs, 0);
    ck_assert_ptr_null(q.head);
    ck_assert_uint_eq(q.n, 0);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 2); /* round 3 never written */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE round = 3"), 0);
    fs_round_queue_fini(&q); /* safe on an empty queue */
}
END_TEST

/* ---- fs_db_writer: a run's rows written on a thread of their own */

/* Tables a run's rounds and clients fill, to compare two runs of one file. */
static const char *const run_tables[] = {"clients",           "rounds",
                                         "participation",     "evals",
                                         "checkpoints",       "checkpoint_chunks",
                                         "participation_mix", "selection_rounds",
                                         "client_energy_rounds"};

static void assert_runs_equal(int64_t a_id, int64_t b_id)
{
    sqlite3 *c = peek_open();
    for (size_t t = 0; t < sizeof run_tables / sizeof *run_tables; t++) {
        char *a = table_rows(c, run_tables[t], a_id), *b = table_rows(c, run_tables[t], b_id);
        ck_assert_msg(a[0], "%s: the direct run wrote nothing", run_tables[t]);
        ck_assert_msg(!strcmp(a, b), "%s differs:\n%s---\n%s", run_tables[t], a, b);
        free(a);
        free(b);
    }
    sqlite3_close(c);
}

/* Three clients rows in malloc'ed memory (the writer frees them), a name kept in `owned`. */
static fs_db_client *writer_clients(char **owned)
{
    fs_db_client *c = calloc(3, sizeof *c);
    *owned = strdup("utc+1");
    for (uint32_t i = 0; i < 3; i++)
        c[i] = (fs_db_client){.client_id = i, .n_train = 10 * i, .segment = *owned,
                              .gflops = 1.5, .device_class = "mid", .network = "wifi"};
    return c;
}

/* Rounds 1..4 of queued_fixture, written directly to direct and through a writer (with the
 * clients rows first) to the other run: the tables must be equal. bytes_max 1 makes the engine
 * wait for every round; the default lets rounds pile up behind the clients rows. */
static void writer_matches_direct(size_t bytes_max)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t direct = begin_ok(db), queued = begin_ok(db);
    fs_db_set_ckpt_chunk(db, 5);
    char *name;
    fs_db_client *c = writer_clients(&name);
    ck_assert_int_eq(fs_db_write_clients(db, direct, c, 3, &err), FS_OK);
    for (int n = 1; n <= 4; n++) {
        queued_fixture f;
        queued_fixture_fill(&f, n);
        bool with_parts = n != 3;
        ck_assert_int_eq(fs_db_write_round_ckpt(db, direct, &f.row, with_parts ? f.parts : NULL,
                                                with_parts ? 3 : 0, n % 2 ? NULL : f.evals,
                                                n % 2 ? 0 : 2, n % 2 ? f.state : NULL,
                                                n % 2 ? strlen(f.state) : 0, &err),
                         FS_OK);
    }
    /* while the writer runs, the database is its alone */
    fs_db_writer *w = fs_db_writer_start(db, queued, c, 3, name, bytes_max);
    ck_assert_ptr_nonnull(w);
    for (int n = 1; n <= 4; n++) {
        queued_fixture f;
        queued_fixture_fill(&f, n);
        bool with_parts = n != 3;
        fs_db_round row = f.row;
        row.energy_parts = NULL; /* the writer takes the parts as the energy rows */
        void *state = n % 2 ? strdup(f.state) : NULL; /* the writer's once handed over */
        ck_assert_int_eq(fs_db_writer_round(w, &row, f.parts, 3, with_parts,
                                            n % 2 ? NULL : f.evals, n % 2 ? 0 : 2, &state,
                                            n % 2 ? strlen(f.state) : 0, &err),
                         FS_OK);
        ck_assert_ptr_null(state);
        memset(&f, 0x55, sizeof f); /* the engine reuses its arrays at once */
    }
    ck_assert_int_eq(fs_db_writer_finish(w, &err), FS_OK);
    ck_assert_int_eq(err.n_msgs, 0);
    fs_db_close(db);
    assert_runs_equal(direct, queued);
}

START_TEST(db_writer_writes_what_direct_writes_write)
{
    writer_matches_direct(FS_DB_WRITER_BYTES_MAX);
    teardown(), setup();
    writer_matches_direct(1);
}
END_TEST

/* Round 2 is in the file already, so the writer's second round fails: the failure comes back
 * from a later call (with the writer's message, once), nothing after it is written, and
 * finish hands the database back usable. */
START_TEST(db_writer_failure_stops_and_comes_back)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 2);
    fs_db_writer *w = fs_db_writer_start(db, id, NULL, 0, NULL, 1);
    ck_assert_ptr_nonnull(w);
    int rc = FS_OK, n = 0;
    while (!rc && n < 100) { /* bytes_max 1: each call waits for the one before */
        queued_fixture f;
        queued_fixture_fill(&f, n == 0 ? 1 : n + 1);
        rc = fs_db_writer_round(w, &f.row, f.parts, 3, true, NULL, 0, NULL, 0, &err);
        n++;
    }
    ck_assert_int_eq(rc, FS_EDB);
    ck_assert_int_le(n, 3); /* round 2 failed; the call after it (at the latest) says so */
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_int_eq(fs_db_writer_finish(w, &err), FS_EDB);
    ck_assert_int_eq(err.n_msgs, 1); /* said once */
    write_round_ok(db, id, 7); /* the connection is the caller's again */
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 3); /* 1, 2 (before), 7 */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE round = 3"), 0);
    ck_assert_int_eq(fs_db_writer_finish(NULL, &err), FS_OK);
}
END_TEST

/* Rounds in a batch are committed together, and seen only then; a round that fails (a
 * participation listed twice, after its rounds row went in) rolls the whole batch back, which
 * fs_db_rounds_end reports; the connection is usable after, and a later batch commits. */
START_TEST(db_rounds_batch_commits_together_or_not_at_all)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_rounds_begin(db, 1, &err), FS_OK);
    write_round_ok(db, id, 1);
    write_round_ok(db, id, 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 0); /* not committed yet */
    ck_assert_int_eq(fs_db_rounds_end(db, &err), FS_OK);
    ck_assert_int_eq(err.n_msgs, 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 2);
    ck_assert_int_eq(fs_db_rounds_begin(db, 3, &err), FS_OK);
    write_round_ok(db, id, 3);
    fs_db_round r = round_n(4);
    fs_db_part twice[2] = {part_c(5, "reported"), part_c(5, "reported")};
    ck_assert_int_eq(fs_db_write_round(db, id, &r, twice, 2, NULL, 0, &err), FS_EDB);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "writing round 4"));
    ck_assert_int_eq(fs_db_rounds_end(db, &err), FS_EDB);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 6);
    ck_assert_int_eq(fs_db_rounds_begin(db, 3, &err), FS_OK);
    write_round_ok(db, id, 3);
    ck_assert_int_eq(fs_db_rounds_end(db, &err), FS_OK);
    write_round_ok(db, id, 4); /* and one on its own again */
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 4);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 12);
}
END_TEST

/* A batch that cannot start (another process holds the write lock past the busy timeout) says
 * so as its first round would; nothing is half-open after it. */
START_TEST(db_rounds_batch_refused_by_a_lock)
{
    setenv("FEDSIM_BUSY_TIMEOUT_MS", "0", 1); /* read when the connection opens */
    fs_db *db = open_ok();
    unsetenv("FEDSIM_BUSY_TIMEOUT_MS");
    int64_t id = begin_ok(db);
    sqlite3 *other = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_rounds_begin(db, 1, &err), FS_EDB);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "writing round 1: database is locked"));
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "FEDSIM_BUSY_TIMEOUT_MS"));
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    write_round_ok(db, id, 1); /* not in a batch: a transaction of its own */
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 1);
}
END_TEST

/* Rounds handed over together go in one batch; round 3 is in the file already, so the batch
 * keeps 1 and 2, drops 3 and everything after it, and the failure comes back once. */
START_TEST(db_writer_batch_failure_keeps_the_rounds_before)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    write_round_ok(db, id, 3);
    fs_db_writer *w = fs_db_writer_start(db, id, NULL, 0, NULL, FS_DB_WRITER_BYTES_MAX);
    ck_assert_ptr_nonnull(w);
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = FS_OK;
    for (int n = 1; n <= 6 && !rc; n++) { /* far within FS_DB_WRITER_GATHER_MS, mostly */
        queued_fixture f;
        queued_fixture_fill(&f, n);
        rc = fs_db_writer_round(w, &f.row, f.parts, 3, true, NULL, 0, NULL, 0, &err);
    }
    int rc_finish = fs_db_writer_finish(w, &err);
    ck_assert_int_eq(rc ? rc : rc_finish, FS_EDB);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "writing round 3"));
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 3); /* 1, 2 and the first 3 */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE round > 3"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE round <= 2"), 6);
}
END_TEST

/* What the pusher thread of db_writer_waits_past_rounds_max hands over, and how far it got. */
typedef struct pusher {
    fs_db_writer *w;
    int n_rounds, rc;
    int done; /* rounds handed over so far (atomic) */
} pusher;

static void *push_rounds(void *arg)
{
    pusher *p = arg;
    fs_err err;
    fs_err_init(&err, NULL);
    for (int n = 1; n <= p->n_rounds && !p->rc; n++) {
        queued_fixture f;
        queued_fixture_fill(&f, n);
        p->rc = fs_db_writer_round(p->w, &f.row, f.parts, 3, false, NULL, 0, NULL, 0, &err);
        if (!p->rc) __atomic_add_fetch(&p->done, 1, __ATOMIC_SEQ_CST);
    }
    fs_err_clear(&err);
    return NULL;
}

/* While another connection holds the file's write lock, the writer cannot write: the engine may
 * hand over FS_DB_WRITER_ROUNDS_MAX rounds and then waits (small rounds once ran a whole run
 * ahead of its file, bytes_max aside). Once the lock goes, every round is written. */
START_TEST(db_writer_waits_past_rounds_max)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    sqlite3 *other = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pusher p = {.w = fs_db_writer_start(db, id, NULL, 0, NULL, FS_DB_WRITER_BYTES_MAX),
                .n_rounds = FS_DB_WRITER_ROUNDS_MAX + 8};
    ck_assert_ptr_nonnull(p.w);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, push_rounds, &p), 0);
    for (int i = 0; i < 100 && __atomic_load_n(&p.done, __ATOMIC_SEQ_CST) < FS_DB_WRITER_ROUNDS_MAX;
         i++)
        usleep(10000);
    usleep(200000); /* time for more, were they allowed */
    ck_assert_int_eq(__atomic_load_n(&p.done, __ATOMIC_SEQ_CST), FS_DB_WRITER_ROUNDS_MAX);
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    pthread_join(t, NULL);
    ck_assert_int_eq(p.rc, FS_OK);
    ck_assert_int_eq(p.done, FS_DB_WRITER_ROUNDS_MAX + 8);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_writer_finish(p.w, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), FS_DB_WRITER_ROUNDS_MAX + 8);
}
END_TEST

/* A failure writing the clients rows stops the writer before any round. */
START_TEST(db_writer_clients_failure_writes_no_round)
{
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = begin_ok(db);
    char *name;
    fs_db_client *c = writer_clients(&name);
    c[2].client_id = 1; /* UNIQUE: the clients rows fail, all of them */
    fs_db_writer *w = fs_db_writer_start(db, id, c, 3, name, FS_DB_WRITER_BYTES_MAX);
    ck_assert_ptr_nonnull(w);
    queued_fixture f;
    queued_fixture_fill(&f, 1);
    int rc = fs_db_writer_round(w, &f.row, f.parts, 3, true, NULL, 0, NULL, 0, &err);
    int rc_end = fs_db_writer_finish(w, &err);
    ck_assert_int_eq(rc ? rc : rc_end, FS_EDB);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_msg(strstr(err.msgs[0], "clients"), "got: %s", err.msgs[0]);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 0);
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

/* Schema 3: a client may take part twice in one round (async window) as seq 0 and 1, but a
 * repeated (round, client, seq) is still refused; 'rejected' is an outcome and the round's
 * rejected count is stored. */
START_TEST(db_participation_keyed_by_seq_and_rejected_outcome)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    r.rejected = 1;
    fs_db_part p[3] = {part_c(7, "reported"), part_c(7, "rejected"), part_c(8, "dropped")};
    p[1].seq = 1;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, 3, NULL, 0, &err), FS_OK);
    r = round_n(2);
    p[1].seq = 0; /* the same participation twice */
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, 3, NULL, 0, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[0], "UNIQUE constraint failed"), "got: %s", err.msgs[0]);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE client_id = 7"), 2);
    ck_assert_int_eq(peek_int("SELECT seq FROM participation WHERE outcome = 'rejected'"), 1);
    ck_assert_int_eq(peek_int("SELECT rejected FROM rounds WHERE round = 1"), 1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 1);
}
END_TEST

/* A round's rows go in client order (fs_db.c: client_order), but a client's own rows keep
 * theirs: three participations of client 5 on one day add 96, 96 and 2^60 joules in that order,
 * 2^60 + 256 in doubles (2^60 first would leave 2^60), and the participation rows are all there
 * whatever the order. */
START_TEST(db_round_rows_in_client_order_keep_each_clients_order)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    fs_db_part p[5] = {part_c(9, "reported"), part_c(5, "reported"), part_c(3, "dropped"),
                       part_c(5, "reported"), part_c(5, "late")};
    double energy[5] = {2.0, 96.0, 0.5, 96.0, 0x1p60};
    for (int i = 0; i < 5; i++) p[i].energy_j = energy[i], p[i].seq = i;
    r.energy_parts = p, r.n_energy_parts = 5;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, 5, NULL, 0, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), 5);
    ck_assert_int_eq(peek_int("SELECT sum(seq) FROM participation WHERE client_id = 5"), 1 + 3 + 4);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy_rounds"), 3);
    ck_assert(peek_real("SELECT energy_j FROM client_energy_rounds WHERE client_id = 5") ==
              0x1p60 + 256);
    ck_assert_int_eq(peek_int("SELECT energy_j = 2 FROM client_energy_rounds WHERE client_id = 9"),
                     1);
}
END_TEST

/* Many participation and energy rows go in statements of many rows: client 7's 300
 * participations, straddling two statements, still add up in their order (96 J 299 times, then
 * 2^60: the other way round every 96 would round away), days without energy are still not rows,
 * and every other client's row is its own; every participation row is there. */
START_TEST(db_energy_rows_in_bulk_keep_their_order)
{
    enum { OTHERS = 400, SEVENS = 300, N = OTHERS + SEVENS };
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    fs_db_part *p = calloc(N, sizeof *p);
    ck_assert_ptr_nonnull(p);
    double want7 = 0;
    for (int i = 0; i < N; i++) {
        bool seven = i >= OTHERS;
        p[i] = part_c(seven ? 7 : (uint32_t)(i < 7 ? i : i + 1), "reported");
        p[i].seq = i;
        p[i].energy_j = !seven ? (i % 10 == 0 ? 0 : 1.0 + i) : i == N - 1 ? 0x1p60 : 96.0;
        if (seven) want7 += p[i].energy_j;
    }
    r.energy_parts = p, r.n_energy_parts = N;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, p, N, NULL, 0, &err), FS_OK);
    fs_db_close(db);
    free(p);
    ck_assert(want7 != 0x1p60);
    ck_assert(peek_real("SELECT energy_j FROM client_energy_rounds WHERE client_id = 7") == want7);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy_rounds"), OTHERS - 40 + 1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy_rounds WHERE client_id <> 7 AND"
                              " energy_j = 1 + (CASE WHEN client_id < 7 THEN client_id"
                              " ELSE client_id - 1 END)"),
                     OTHERS - 40);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation"), N);
    ck_assert_int_eq(peek_int("SELECT sum(seq) FROM participation"), (int64_t)N * (N - 1) / 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE client_id = 7 AND"
                              " seq >= 400 AND outcome = 'reported' AND n_samples = 100"),
                     SEVENS);
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

/* Every column of a clients row lands as the fs_db_client gives it, NULLs where it has none:
 * the insert reads the values straight from the array (fs_db_clients.c), column by column. */
START_TEST(db_write_clients_keeps_every_column)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_client c[2] = {
        {.client_id = 7, .n_train = 600, .n_test = 100, .segment = "utc+5.5", .gflops = 2.5,
         .uplink_mbps = 5.25, .downlink_mbps = 20.5, .latency_ms = 40.125, .consent = 1,
         .trace_key = "u'1\"", .device_class = "high", .network = "cellular",
         .has_utc_offset = true, .utc_offset_min = 330, .attacker = 1},
        {.client_id = 8},
    };
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_clients(db, id, c, 2, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE run_id = 1 AND client_id = 7"
                              " AND n_train = 600 AND n_test = 100 AND segment = 'utc+5.5' AND"
                              " gflops = 2.5 AND uplink_mbps = 5.25 AND downlink_mbps = 20.5 AND"
                              " latency_ms = 40.125 AND consent = 1 AND trace_key = 'u''1\"' AND"
                              " device_class = 'high' AND network = 'cellular' AND"
                              " utc_offset_min = 330 AND attacker = 1"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE client_id = 8 AND n_train = 0"
                              " AND segment IS NULL AND gflops = 0 AND consent = 0 AND"
                              " trace_key IS NULL AND device_class IS NULL AND network IS NULL"
                              " AND utc_offset_min IS NULL AND attacker = 0"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE typeof(n_train) = 'integer'"
                              " AND typeof(segment) <> 'blob' AND typeof(gflops) = 'real'"),
                     2);
    ck_assert_int_eq(err.n_msgs, 0);
}
END_TEST

/* A large clients table goes in by one INSERT ... SELECT over the rows in memory
 * (fs_db_clients.c): every row lands with its own values, and a duplicate in the middle still
 * leaves none. */
START_TEST(db_write_clients_in_bulk_keeps_every_row)
{
    enum { N = 600 };
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_client *c = calloc(N, sizeof *c);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < N; i++)
        c[i] = (fs_db_client){.client_id = (uint32_t)i, .n_train = (uint32_t)i * 3, .n_test = 1,
                              .gflops = 0.5 + i, .consent = i % 2, .segment = "utc+1"};
    fs_err err;
    fs_err_init(&err, NULL);
    c[300].client_id = 299;
    ck_assert_int_eq(fs_db_write_clients(db, id, c, N, &err), FS_EDB);
    c[300].client_id = 300;
    ck_assert_int_eq(fs_db_write_clients(db, id, c, N, &err), FS_OK);
    fs_db_close(db);
    free(c);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients"), N);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE n_train = 3 * client_id AND"
                              " gflops = 0.5 + client_id AND consent = client_id % 2 AND"
                              " n_test = 1 AND segment = 'utc+1'"),
                     N);
}
END_TEST

/* The clients insert pauses foreign-key enforcement for speed (fs_db.c): it checks the run
 * itself, and enforcement is back on after it, whether it succeeded or failed. */
START_TEST(db_write_clients_checks_its_run_and_restores_foreign_keys)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_client c[2] = {{.client_id = 0, .consent = 1}, {.client_id = 0}};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_clients(db, id + 1, c, 1, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[0], "writing clients: run 2 is not in the runs table"),
                  "got: %s", err.msgs[0]);
    ck_assert_int_eq(fs_db_write_clients(db, id, c, 2, &err), FS_EDB); /* a duplicate */
    fs_db_round r = round_n(1);
    ck_assert_int_eq(fs_db_write_round(db, 99, &r, NULL, 0, NULL, 0, &err), FS_EDB);
    ck_assert_msg(strstr(err.msgs[err.n_msgs - 1], "FOREIGN KEY constraint failed"), "got: %s",
                  err.msgs[err.n_msgs - 1]);
    int before = err.n_msgs;
    ck_assert_int_eq(fs_db_write_clients(db, id, c, 1, &err), FS_OK);
    ck_assert_int_eq(fs_db_write_round(db, 99, &r, NULL, 0, NULL, 0, &err), FS_EDB);
    ck_assert_int_eq(err.n_msgs, before + 1);
    ck_assert_msg(strstr(err.msgs[before], "FOREIGN KEY constraint failed"), "got: %s",
                  err.msgs[before]);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients"), 1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 0);
}
END_TEST

/* A new file takes the page size it is opened with; an existing file keeps its own (it cannot
 * change once a table is written), and still opens. */
START_TEST(db_open_paged_sets_a_new_files_page_size_only)
{
    ck_assert_int_eq(fs_db_page_size_for(99999), 0);
    ck_assert_int_eq(fs_db_page_size_for(100000), 65536);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open_paged(dbpath, 16384, &db, &err), FS_OK);
    begin_ok(db);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("PRAGMA page_size"), 16384);
    ck_assert_int_eq(fs_db_open_paged(dbpath, 4096, &db, &err), FS_OK);
    begin_ok(db);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("PRAGMA page_size"), 16384);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs"), 2);
    unlink(dbpath);
    db = open_ok();
    fs_db_close(db);
    ck_assert_int_eq(peek_int("PRAGMA page_size"), 4096);
    ck_assert_int_eq(err.n_msgs, 0);
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
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE meta SET value = '7'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msgs[0], "has schema version 7, this fedsim writes version 6"),
                  "got: %s", err.msgs[0]);
}
END_TEST

/* A file written by the first fedsim (schema 1: no target or compute columns, no planning
 * views) is refused with the exact message, and left exactly as it was. */
START_TEST(db_open_refuses_version_1_untouched)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                                  "INSERT INTO meta VALUES('schema_version', '1');"
                                  "CREATE TABLE runs(run_id INTEGER PRIMARY KEY, name TEXT);"
                                  "CREATE TABLE rounds(run_id INTEGER, round INTEGER,"
                                  " bytes_up INTEGER);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    char want[512];
    snprintf(want, sizeof want,
             "%s: results database has schema version 1, this fedsim writes version 6"
             " (and upgrades versions 2 to 5); use a new file",
             dbpath);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_str_eq(err.msgs[0], want);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM sqlite_schema"), 4); /* 3 tables + index */
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

/* Another application's SQLite file: refused with the exact message before anything is
 * written (no fedsim table, still in rollback-journal mode). */
START_TEST(db_open_refuses_foreign_file_untouched)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "CREATE TABLE contacts(name TEXT)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    char want[512];
    snprintf(want, sizeof want,
             "%s: not a fedsim results database (it has tables but no meta.schema_version);"
             " fedsim adds nothing to another application's file: use a new file",
             dbpath);
    ck_assert_str_eq(err.msgs[0], want);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM sqlite_schema"), 1);
    c = peek_open();
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(c);
}
END_TEST

/* The read-only open refuses what is not a fedsim database of this version, and reads one. */
START_TEST(db_open_readonly_checks_schema)
{
    fs_err err;
    fs_err_init(&err, NULL);
    sqlite3 *c = (sqlite3 *)1;
    ck_assert_int_eq(fs_db_open_readonly(dbpath, &c, &err), FS_EIO); /* missing */
    ck_assert_ptr_null(c);
    ck_assert_int_eq(access(dbpath, F_OK), -1);
    fs_db_close(open_ok());
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_open_readonly(dbpath, &c, &err), FS_OK);
    ck_assert_int_eq(q_int(c, "SELECT count(*) FROM runs"), 0);
    ck_assert_int_ne(sqlite3_exec(c, "DELETE FROM runs", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    sqlite3 *w = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(w, "UPDATE meta SET value = '99'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(w);
    ck_assert_int_eq(fs_db_open_readonly(dbpath, &c, &err), FS_EDB);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err.msgs[0], "has schema version 99, this fedsim reads version") &&
                      strstr(err.msgs[0], "(written by a newer fedsim)"),
                  "got: %s", err.msgs[0]);
}
END_TEST

/* One writer per run: a second connection (as a second process would) cannot resume a run
 * that the first is writing; once the first is closed it can. */
START_TEST(db_resume_refuses_run_held_by_another_connection)
{
    fs_db_run run = {.name = "t", .scenario_json = "{\"seed\": 7}", .seed = 7, .variant = "",
                     .fedsim_version = "test", .threads = 2, .host = "h"};
    fs_db *a = open_ok();
    int64_t id = begin_ok(a);
    fs_db_round r = round_n(1);
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round_ckpt(a, id, &r, NULL, 0, NULL, 0, "state", 5, &err), FS_OK);
    fs_db *b = open_ok();
    int64_t got = -1;
    int round = -1;
    void *state = NULL;
    size_t len = 0;
    ck_assert_int_eq(fs_db_resume(b, &run, &got, &round, &state, &len, &err), FS_EDB);
    ck_assert_ptr_null(state);
    char want[512];
    snprintf(want, sizeof want,
             "%s: run 1 is being written by another fedsim process (a run, or a variant of a"
             " sweep, still going); let it finish or stop it, then try again",
             dbpath);
    ck_assert_str_eq(err.msgs[0], want);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 1); /* not truncated */
    fs_db_close(a);
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_resume(b, &run, &got, &round, &state, &len, &err), FS_OK);
    ck_assert_ptr_nonnull(state);
    ck_assert_int_eq(got, id);
    ck_assert_int_eq(round, 1);
    free(state);
    fs_db_close(b);
}
END_TEST

/* A run that stopped before its first checkpoint is run again under its own id (so a resumed
 * sweep holds exactly what an uninterrupted one holds); from another scenario it stays. */
START_TEST(db_resume_without_checkpoint_reruns_same_id)
{
    fs_db *a = open_ok();
    int64_t id = begin_ok(a);
    fs_db_round r = round_n(1);
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db_client cl = {.client_id = 0, .n_train = 5, .n_test = 1, .gflops = 1};
    ck_assert_int_eq(fs_db_write_clients(a, id, &cl, 1, &err), FS_OK);
    ck_assert_int_eq(fs_db_write_round(a, id, &r, NULL, 0, NULL, 0, &err), FS_OK);
    ck_assert_int_eq(fs_db_finish_run(a, id, "interrupted", 1.0, &err), FS_OK);
    fs_db_close(a);
    fs_db *b = open_ok();
    fs_db_run other = {.name = "t", .scenario_json = "{\"seed\": 8}", .variant = ""};
    int64_t got = -1;
    int round = -1;
    void *state = NULL;
    size_t len = 0;
    ck_assert_int_eq(fs_db_resume(b, &other, &got, &round, &state, &len, &err), FS_OK);
    ck_assert_ptr_null(state);
    ck_assert_int_eq(got, 0);
    fs_db_run same = {.name = "t", .scenario_json = "{\"seed\": 7}", .variant = ""};
    ck_assert_int_eq(fs_db_resume(b, &same, &got, &round, &state, &len, &err), FS_OK);
    ck_assert_ptr_null(state);
    ck_assert_int_eq(got, id);
    ck_assert_int_eq(round, 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 1); /* nothing changed yet */
    ck_assert_int_eq(fs_db_resume_claim(b, id, 0, &err), FS_OK);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE status = 'running'"), 1);
    fs_db_close(b);
}
END_TEST

/* v_run_summary's best value follows each metric's direction from the metric table: the
 * minimum for lower-is-better metrics (loss, ece, rmse, brier), the maximum for the others. */
START_TEST(db_best_value_follows_the_metric_table)
{
    const char *metrics[] = {"brier", "loss", "auc"};
    fs_db *db = open_ok();
    fs_err err;
    fs_err_init(&err, NULL);
    for (size_t k = 0; k < 3; k++) {
        fs_db_run run = {.name = metrics[k], .scenario_json = "{}", .variant = "",
                         .fedsim_version = "test", .threads = 1, .host = "h",
                         .headline_metric = metrics[k]};
        int64_t id = -1;
        ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
        const double v[] = {0.3, 0.2, 0.25};
        for (int r = 1; r <= 3; r++) {
            fs_db_round row = round_n(r);
            fs_db_eval e = {.segment = "all", .metric = metrics[k], .value = v[r - 1]};
            ck_assert_int_eq(fs_db_write_round(db, id, &row, NULL, 0, &e, 1, &err), FS_OK);
        }
        char q[160];
        snprintf(q, sizeof q, "SELECT best_value * 100 FROM v_run_summary WHERE run_id = %lld",
                 (long long)id);
        ck_assert_int_eq(peek_int(q), fs_metric_lower_is_better(fs_metric_from_name(metrics[k]))
                                          ? 20
                                          : 30);
    }
    fs_db_close(db);
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

/* ---- new columns and planning views, on constructed runs (nothing simulated) */

#define US_PER_H 3600000000LL

static int64_t begin_target(fs_db *db, const char *variant, const char *metric, double value,
                             int lower)
{
    fs_db_run run = {.name = "views", .scenario_json = "{}", .seed = 1, .variant = variant,
                     .fedsim_version = "test", .target_metric = metric,
                     .target_value = value, .target_lower_better = lower, .threads = 1,
                     .host = "h"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = -1;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    return id;
}

/* Round n of a run whose rounds last one virtual hour each: 10 selected, 7 reported,
 * 2 dropped, 1 late; 100 n bytes up, 1000 down; 30 device-minutes; ε = eps (NaN: none). */
static void put_round(fs_db *db, int64_t run, int n, double eps, const fs_db_eval *e,
                      size_t n_e)
{
    fs_db_round r = {.round = n, .t_start = (n - 1) * US_PER_H, .t_end = n * US_PER_H,
                     .selected = 10, .reported = 7, .dropped = 2, .late = 1, .aborted = 0,
                     .bytes_up = 100 * n, .bytes_down = 1000, .train_loss = 0.5,
                     .epsilon = eps, .compute_s = 1800.0, .online_share = 0.25 * n,
                     .wall_s = 0.01};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, run, &r, NULL, 0, e, n_e, &err), FS_OK);
}

static void finish(fs_db *db, int64_t run)
{
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_finish_run(db, run, "done", 2.5, &err), FS_OK);
}

/* run 1 "a": target auc >= 0.75, met at round 3 (round 1 not evaluated; a segment row above
 *   the target at round 2 must not count); ε NULL in round 4.
 * run 2 "b": target auc >= 0.9, never met; auc 0.6, 0.7, 0.65.
 * run 3 "c": target loss <= 0.3, met at round 2 (0.29).
 * run 4 "d": no target; accuracy and auc evaluated -> headline accuracy.
 * run 5 "e": no target; loss and rmse -> headline rmse, best = lowest.
 * run 6 "f": target auc >= 0.5, no rounds at all (status running). */
static void build_views_db(void)
{
    fs_db *db = open_ok();
    int64_t a = begin_target(db, "a", "auc", 0.75, 0);
    put_round(db, a, 1, 0.5, NULL, 0);
    fs_db_eval a2[3] = {{"all", "auc", 0.70}, {"all", "accuracy", 0.6}, {"region=x", "auc", 0.9}};
    put_round(db, a, 2, 1.0, a2, 3);
    fs_db_eval a3[2] = {{"all", "auc", 0.76}, {"all", "accuracy", 0.65}};
    put_round(db, a, 3, 1.5, a3, 2);
    fs_db_eval a4[2] = {{"all", "auc", 0.80}, {"all", "accuracy", 0.7}};
    put_round(db, a, 4, NAN, a4, 2);
    finish(db, a);
    int64_t b = begin_target(db, "b", "auc", 0.9, 0);
    for (int n = 1; n <= 3; n++) {
        fs_db_eval e = {"all", "auc", n == 1 ? 0.6 : n == 2 ? 0.7 : 0.65};
        put_round(db, b, n, NAN, &e, 1);
    }
    finish(db, b);
    int64_t c = begin_target(db, "c", "loss", 0.3, 1);
    for (int n = 1; n <= 3; n++) {
        fs_db_eval e = {"all", "loss", n == 1 ? 0.5 : n == 2 ? 0.29 : 0.2};
        put_round(db, c, n, NAN, &e, 1);
    }
    finish(db, c);
    int64_t d = begin_target(db, "d", NULL, 0.0, 0);
    fs_db_eval d1[2] = {{"all", "auc", 0.7}, {"all", "accuracy", 0.8}};
    put_round(db, d, 1, NAN, d1, 2);
    finish(db, d);
    int64_t e = begin_target(db, "e", "", 0.0, 0);
    fs_db_eval e1[2] = {{"all", "loss", 0.9}, {"all", "rmse", 1.2}};
    put_round(db, e, 1, NAN, e1, 2);
    fs_db_eval e2[2] = {{"all", "loss", 0.8}, {"all", "rmse", 1.3}};
    put_round(db, e, 2, NAN, e2, 2);
    finish(db, e);
    begin_target(db, "f", "auc", 0.5, 0);
    fs_db_close(db);
}

static void views_setup(void)
{
    setup();
    build_views_db();
}

START_TEST(db_stores_target_and_round_costs)
{
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE run_id = 1 AND"
                              " target_metric = 'auc' AND target_value = 0.75 AND"
                              " target_lower_better = 0"),
                     1);
    ck_assert_int_eq(peek_int("SELECT target_lower_better FROM runs WHERE run_id = 3"), 1);
    /* no target, given as NULL or as "": three NULLs either way */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE target_metric IS NULL AND"
                              " target_value IS NULL AND target_lower_better IS NULL"),
                     2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE run_id = 1 AND round = 2 AND"
                              " compute_s = 1800 AND online_share = 0.5"),
                     1);
}
END_TEST

START_TEST(db_nan_costs_stored_as_null)
{
    fs_db *db = open_ok();
    int64_t id = begin_ok(db);
    fs_db_round r = round_n(1);
    r.compute_s = NAN;
    r.online_share = NAN;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_round(db, id, &r, NULL, 0, NULL, 0, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT compute_s IS NULL AND online_share IS NULL FROM rounds"),
                     1);
    ck_assert_int_eq(peek_int("SELECT cum_device_h IS NULL FROM v_round_metrics"), 1);
}
END_TEST

START_TEST(db_round_metrics_cumulates_per_run)
{
    /* run 1: round 1 without evaluation (one NULL row), rounds 2-4 with two 'all' metrics;
     * the region row is not a whole-test-set value */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_round_metrics WHERE run_id = 1"), 7);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_round_metrics WHERE run_id = 1"
                              " AND round = 1 AND metric IS NULL AND value IS NULL"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_round_metrics WHERE run_id = 1"
                              " AND value = 0.9"),
                     0);
    /* cumulative over rounds, not over metric rows: 100 + 200 + 300 up, 3 x 1000 down */
    ck_assert_int_eq(peek_int("SELECT cum_bytes_up FROM v_round_metrics WHERE run_id = 1"
                              " AND round = 3 AND metric = 'auc'"),
                     600);
    ck_assert_int_eq(peek_int("SELECT cum_bytes_down FROM v_round_metrics WHERE run_id = 1"
                              " AND round = 3 AND metric = 'accuracy'"),
                     3000);
    ck_assert_double_eq_tol(peek_real("SELECT cum_device_h FROM v_round_metrics WHERE"
                                      " run_id = 1 AND round = 4 AND metric = 'auc'"),
                            2.0, 1e-12);
    /* each run restarts its totals */
    ck_assert_int_eq(peek_int("SELECT cum_bytes_up FROM v_round_metrics WHERE run_id = 2"
                              " AND round = 1"),
                     100);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_round_metrics WHERE run_id = 1"
                              " AND round = 2 AND variant = 'a' AND t_start_h = 1.0"
                              " AND t_end_h = 2.0 AND selected = 10 AND reported = 7"
                              " AND dropped = 2 AND late = 1 AND aborted = 0"
                              " AND bytes_up = 200 AND bytes_down = 1000 AND epsilon = 1.0"
                              " AND online_share = 0.5 AND train_loss = 0.5"),
                     2);
}
END_TEST

START_TEST(db_time_to_target_first_hit)
{
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_time_to_target"), 4); /* a, b, c, f */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_time_to_target WHERE run_id = 1"
                              " AND name = 'views' AND variant = 'a' AND target_metric = 'auc'"
                              " AND target_value = 0.75 AND reached = 1 AND round = 3"
                              " AND t_h = 3.0 AND bytes_up = 600 AND bytes_down = 3000"
                              " AND epsilon = 1.5"),
                     1);
    ck_assert_double_eq_tol(peek_real("SELECT device_h FROM v_time_to_target WHERE run_id = 1"),
                            1.5, 1e-12);
}
END_TEST

START_TEST(db_time_to_target_never_reached_is_null)
{
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_time_to_target WHERE run_id = 2"
                              " AND reached = 0 AND round IS NULL AND t_h IS NULL"
                              " AND bytes_up IS NULL AND bytes_down IS NULL"
                              " AND device_h IS NULL AND epsilon IS NULL"),
                     1);
    ck_assert_int_eq(peek_int("SELECT reached = 0 AND round IS NULL FROM v_time_to_target"
                              " WHERE run_id = 6"),
                     1);
}
END_TEST

START_TEST(db_time_to_target_lower_is_better)
{
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_time_to_target WHERE run_id = 3"
                              " AND target_metric = 'loss' AND reached = 1 AND round = 2"
                              " AND t_h = 2.0 AND bytes_up = 300 AND bytes_down = 2000"
                              " AND epsilon IS NULL"),
                     1);
}
END_TEST

START_TEST(db_run_summary_totals)
{
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_run_summary"), 6);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_run_summary WHERE run_id = 1"
                              " AND name = 'views' AND variant = 'a' AND status = 'done'"
                              " AND rounds = 4 AND virtual_h = 4.0 AND bytes_up = 1000"
                              " AND bytes_down = 4000 AND selected = 40 AND reported = 28"
                              " AND dropped = 8 AND late = 4 AND aborted = 0"
                              " AND dropout_share = 0.2 AND wall_s = 2.5 AND threads = 1"),
                     1);
    ck_assert_double_eq_tol(peek_real("SELECT device_h FROM v_run_summary WHERE run_id = 1"),
                            2.0, 1e-12);
    /* ε: the last recorded value (round 4 has none) */
    ck_assert_double_eq_tol(peek_real("SELECT epsilon FROM v_run_summary WHERE run_id = 1"),
                            1.5, 1e-12);
    ck_assert_int_eq(peek_int("SELECT epsilon IS NULL FROM v_run_summary WHERE run_id = 2"), 1);
    /* a run without rounds: zero totals, NULL times and values */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_run_summary WHERE run_id = 6"
                              " AND status = 'running' AND rounds = 0 AND virtual_h IS NULL"
                              " AND bytes_up = 0 AND selected = 0 AND dropout_share IS NULL"
                              " AND final_metric = 'auc' AND final_value IS NULL"),
                     1);
}
END_TEST

START_TEST(db_run_summary_final_metric_rule)
{
    char m[32];
    /* the target metric, even when accuracy is also evaluated */
    peek_text("SELECT final_metric FROM v_run_summary WHERE run_id = 1", m, sizeof m);
    ck_assert_str_eq(m, "auc");
    ck_assert_int_eq(peek_int("SELECT final_value = 0.8 AND best_value = 0.8"
                              " FROM v_run_summary WHERE run_id = 1"),
                     1);
    /* final = last, best = highest */
    ck_assert_int_eq(peek_int("SELECT final_value = 0.65 AND best_value = 0.7"
                              " FROM v_run_summary WHERE run_id = 2"),
                     1);
    /* lower-is-better target: best = lowest */
    ck_assert_int_eq(peek_int("SELECT final_metric = 'loss' AND best_value = 0.2"
                              " FROM v_run_summary WHERE run_id = 3"),
                     1);
    /* no target: accuracy before auc */
    peek_text("SELECT final_metric FROM v_run_summary WHERE run_id = 4", m, sizeof m);
    ck_assert_str_eq(m, "accuracy");
    /* no target, no accuracy or auc: rmse before loss; lower is better for rmse */
    ck_assert_int_eq(peek_int("SELECT final_metric = 'rmse' AND final_value = 1.3"
                              " AND best_value = 1.2 FROM v_run_summary WHERE run_id = 5"),
                     1);
}
END_TEST

/* ---- schema version 3: sustained targets, the headline metric, upgrading version 2 files */

/* A run targeting auc >= 0.75 with `sustain`, evaluated at rounds 1..5 with the values given. */
static int64_t sustained_run(fs_db *db, const char *variant, int sustain, const double *auc)
{
    fs_db_run run = {.name = "sustain", .scenario_json = "{}", .seed = 1, .variant = variant,
                     .fedsim_version = "test", .target_metric = "auc", .target_value = 0.75,
                     .target_sustain = sustain, .threads = 1, .host = "h"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = -1;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    for (int n = 1; n <= 5; n++) {
        fs_db_eval e = {"all", "auc", auc[n - 1]};
        put_round(db, id, n, NAN, &e, isnan(auc[n - 1]) ? 0 : 1);
    }
    finish(db, id);
    return id;
}

START_TEST(db_time_to_target_sustained)
{
    fs_db *db = open_ok();
    const double auc[5] = {0.8, 0.7, 0.8, 0.8, 0.8};
    const double gap[5] = {0.8, 0.8, NAN, 0.8, 0.7}; /* round 3 not evaluated */
    sustained_run(db, "s1", 1, auc); /* round 1: the first hit */
    sustained_run(db, "s2", 2, auc); /* round 1 is followed by a miss: round 3 */
    sustained_run(db, "s3", 3, auc); /* rounds 3, 4, 5 */
    sustained_run(db, "s4", 4, auc); /* never four in a row */
    sustained_run(db, "g3", 3, gap); /* evaluations 1, 2, 4 hold: round 1 (gaps are no miss) */
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT round FROM v_time_to_target WHERE variant = 's1'"), 1);
    ck_assert_int_eq(peek_int("SELECT round FROM v_time_to_target WHERE variant = 's2'"), 3);
    ck_assert_int_eq(peek_int("SELECT round FROM v_time_to_target WHERE variant = 's3'"), 3);
    ck_assert_int_eq(peek_int("SELECT reached = 0 AND round IS NULL AND target_sustain = 4"
                              " FROM v_time_to_target WHERE variant = 's4'"),
                     1);
    ck_assert_int_eq(peek_int("SELECT round FROM v_time_to_target WHERE variant = 'g3'"), 1);
    ck_assert_int_eq(peek_int("SELECT t_h = 3.0 AND bytes_up = 600 FROM v_time_to_target"
                              " WHERE variant = 's3'"),
                     1);
}
END_TEST

START_TEST(db_headline_is_first_eval_metric)
{
    fs_db *db = open_ok();
    /* a binary task evaluated on auc then accuracy, without a target: the headline is auc,
     * not accuracy (which would be the base rate for rare positives) */
    fs_db_run run = {.name = "h", .scenario_json = "{}", .seed = 1, .variant = "",
                     .fedsim_version = "test", .headline_metric = "auc", .threads = 1,
                     .host = "h", .population_seed = 9, .replicate = 2};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = -1;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    fs_db_eval e[2] = {{"all", "auc", 0.9}, {"all", "accuracy", 0.99}};
    put_round(db, id, 1, NAN, e, 2);
    finish(db, id);
    fs_db_close(db);
    char m[32];
    peek_text("SELECT final_metric FROM v_run_summary", m, sizeof m);
    ck_assert_str_eq(m, "auc");
    ck_assert_int_eq(peek_int("SELECT final_value = 0.9 AND replicate = 2 FROM v_run_summary"),
                     1);
    ck_assert_int_eq(peek_int("SELECT population_seed = 9 AND replicate = 2 AND"
                              " target_sustain IS NULL FROM runs"),
                     1);
}
END_TEST

/* tests/fixtures/results_v2.sql: `.dump` of a 3-round run written by the version 2 fedsim. */
static void load_v2_fixture(const char *extra_sql)
{
    char path[512], *sql = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(sql);
    snprintf(path, sizeof path, "%s/tests/fixtures/results_v2.sql",
             getenv("FEDSIM_SOURCE_ROOT") ? getenv("FEDSIM_SOURCE_ROOT") : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fs_test_slurp(f, sql, 1 << 16); /* closes f */
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    if (extra_sql) ck_assert_int_eq(sqlite3_exec(c, extra_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    free(sql);
}

START_TEST(db_appending_upgrades_version_2_in_place)
{
    load_v2_fixture(NULL);
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    /* the added columns come last, in the order of a new file: the bulk insert fills them */
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db_client row = {.client_id = 0, .consent = 1, .trace_key = "k7", .device_class = "mid",
                        .network = "cellular"};
    ck_assert_int_eq(fs_db_write_clients(db, 2, &row, 1, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"),
                     FS_DB_SCHEMA_VERSION);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE run_id = 2 AND trace_key = 'k7'"
                              " AND device_class = 'mid' AND network = 'cellular'"),
                     1);
    /* version 2 trained in double; the new run says what it trained in */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE run_id = 1"
                              " AND precision = 'float64'"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE run_id = 2"
                              " AND precision = 'float32'"),
                     1);
    /* the old run keeps its rows, gains NULL replicate and population_seed = seed */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE run_id = 1 AND replicate IS NULL"
                              " AND population_seed = seed AND seed = 7 AND status = 'done'"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM rounds WHERE run_id = 1"), 3);
    /* participation rebuilt with seq in its key: every row kept, seq 0, the index back */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM participation WHERE seq = 0"), 36);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM pragma_table_info('participation')"
                              " WHERE name = 'seq' AND pk = 4"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM sqlite_schema WHERE name IN"
                              " ('participation_client', 'participation_v2')"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM pragma_table_info('rounds')"
                              " WHERE name = 'rejected'"),
                     1);
    /* the recreated views answer for it: sustain 1, old headline rule */
    ck_assert_int_eq(peek_int("SELECT reached AND round = 2 AND target_sustain = 1"
                              " FROM v_time_to_target WHERE run_id = 1"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_run_summary WHERE run_id = 1"
                              " AND final_metric = 'accuracy' AND rounds = 3"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_variant_summary"), 0);
}
END_TEST

/* A version 3 file (every run trained in double) gains runs.precision = 'float64' for its runs
 * when a run is appended; nothing else of it changes. */
START_TEST(db_appending_upgrades_version_3_in_place)
{
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 1);
    fs_db_close(db);
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "ALTER TABLE runs DROP COLUMN precision;"
                                  "UPDATE meta SET value = '3' WHERE key = 'schema_version';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"),
                     FS_DB_SCHEMA_VERSION);
    ck_assert_int_eq(peek_int("SELECT group_concat(run_id || precision, ',') = '1float64,2float32'"
                              " FROM runs"),
                     1);
}
END_TEST

/* A version 4 file (no energy columns, no client_energy, no clients device columns) gains them
 * in place; its old runs read
 * as "no energy" (NULL), not 0. The old views go first: SQLite will not drop a column a view
 * names, and the upgrade recreates them anyway. */
START_TEST(db_appending_upgrades_version_4_in_place)
{
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 1);
    fs_db_close(db);
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "DROP VIEW v_run_energy; DROP VIEW v_device_energy_daily;"
                                  "DROP VIEW v_run_summary; DROP VIEW v_time_to_target;"
                                  "DROP VIEW v_round_metrics; DROP VIEW v_variant_summary;"
                                  "DROP VIEW client_energy; DROP TABLE client_energy_rounds;"
                                  "ALTER TABLE rounds DROP COLUMN energy_j;"
                                  "ALTER TABLE participation DROP COLUMN energy_j;"
                                  "ALTER TABLE variant_stats DROP COLUMN mean_energy_to_target;"
                                  "ALTER TABLE variant_stats DROP COLUMN ci_low_energy;"
                                  "ALTER TABLE variant_stats DROP COLUMN ci_high_energy;"
                                  "ALTER TABLE clients DROP COLUMN trace_key;"
                                  "ALTER TABLE clients DROP COLUMN device_class;"
                                  "ALTER TABLE clients DROP COLUMN network;"
                                  "ALTER TABLE clients DROP COLUMN attacker;"
                                  "UPDATE meta SET value = '4' WHERE key = 'schema_version';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"),
                     FS_DB_SCHEMA_VERSION);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM pragma_table_info('rounds')"
                              " WHERE name = 'energy_j'"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM pragma_table_info('participation')"
                              " WHERE name = 'energy_j'"),
                     1);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM client_energy"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_run_energy WHERE energy_j IS NULL"
                              " AND device_days = 0"),
                     2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_variant_summary"), 0);
}
END_TEST

/* ---- who trains (version 6): the bias views on a constructed run with known shares */

/* Population of "region": A 60, B 30, C 10 (q = 0.6, 0.3, 0.1). Reports: round 1 A 8, B 2
 * (p = 0.8, 0.2, 0); round 2 A 3, B 3, C 4; round 3 none. */
static void write_mix_rounds(fs_db *db, int64_t id)
{
    const fs_db_mix r1[] = {
        {0, "region", "A", "population", 60}, {0, "region", "B", "population", 30},
        {0, "region", "C", "population", 10}, {0, "region", "A", "consenting", 60},
        {0, "region", "B", "consenting", 20}, {0, "region", "C", "consenting", 10},
        {1, "region", "A", "selected", 9},    {1, "region", "B", "selected", 3},
        {1, "region", "A", "reported", 8},    {1, "region", "B", "reported", 2}};
    const fs_db_mix r2[] = {{2, "region", "A", "reported", 3},
                            {2, "region", "B", "reported", 3},
                            {2, "region", "C", "reported", 4}};
    const fs_db_mix *mixes[] = {r1, r2, r2};
    size_t n_mix[] = {sizeof r1 / sizeof *r1, sizeof r2 / sizeof *r2, 0};
    double jain[] = {0.45, 0.5, 0.6}, never[] = {0.9, 0.8, 0.7};
    for (int r = 0; r < 3; r++) {
        fs_db_round row = {.round = r + 1, .t_start = r, .t_end = r + 1, .mix = mixes[r],
                           .n_mix = n_mix[r], .jain = jain[r], .never_selected = never[r]};
        fs_err err;
        fs_err_init(&err, NULL);
        ck_assert_int_eq(fs_db_write_round(db, id, &row, NULL, 0, NULL, 0, &err), FS_OK);
    }
}

START_TEST(db_bias_views_match_hand_computed_shares)
{
    fs_db *db = open_ok();
    write_mix_rounds(db, begin_ok(db));
    fs_db_close(db);
    /* round 1: TVD 1/2 (0.2 + 0.1 + 0.1), KL 0.8 ln(0.8/0.6) + 0.2 ln(0.2/0.3) (C adds 0) */
    const char *bias = "SELECT %s FROM v_selection_bias WHERE run_id = 1 AND round = %d";
    char sql[160];
    snprintf(sql, sizeof sql, bias, "tvd", 1);
    ck_assert_double_eq_tol(peek_real(sql), 0.2, 1e-12);
    snprintf(sql, sizeof sql, bias, "kl", 1);
    ck_assert_double_eq_tol(peek_real(sql), 0.8 * log(0.8 / 0.6) + 0.2 * log(0.2 / 0.3), 1e-12);
    snprintf(sql, sizeof sql, bias, "tvd", 2);
    ck_assert_double_eq_tol(peek_real(sql), 0.3, 1e-12);
    snprintf(sql, sizeof sql, bias, "kl", 2);
    ck_assert_double_eq_tol(peek_real(sql), 0.3 * log(0.5) + 0.4 * log(4), 1e-12);
    snprintf(sql, sizeof sql, bias, "jain", 2);
    ck_assert_double_eq(peek_real(sql), 0.5);
    /* a round without reports: no mix to compare, the fairness figures stay */
    snprintf(sql, sizeof sql, bias, "tvd", 3);
    ck_assert(isnan(peek_real(sql)));
    snprintf(sql, sizeof sql, bias, "never_selected", 3);
    ck_assert_double_eq(peek_real(sql), 0.7);
    /* the whole run: reports A 11, B 5, C 4 of 20 */
    const char *seg = "SELECT %s FROM v_participation_by_segment WHERE run_id = 1 AND"
                      " grp = 'region' AND level = '%s' AND stage = '%s'";
    snprintf(sql, sizeof sql, seg, "share", "A", "reported");
    ck_assert_double_eq_tol(peek_real(sql), 0.55, 1e-12);
    snprintf(sql, sizeof sql, seg, "ratio", "A", "reported");
    ck_assert_double_eq_tol(peek_real(sql), 0.55 / 0.6, 1e-12);
    snprintf(sql, sizeof sql, seg, "ratio", "C", "reported");
    ck_assert_double_eq_tol(peek_real(sql), 2, 1e-12);
    snprintf(sql, sizeof sql, seg, "share_population", "C", "selected");
    ck_assert_double_eq_tol(peek_real(sql), 0.1, 1e-12);
    snprintf(sql, sizeof sql, seg, "share", "C", "selected"); /* no row: a zero */
    ck_assert_double_eq(peek_real(sql), 0);
    snprintf(sql, sizeof sql, seg, "share", "B", "consenting");
    ck_assert_double_eq_tol(peek_real(sql), 20.0 / 90, 1e-12);
    ck_assert_double_eq_tol(peek_real("SELECT tvd FROM v_run_bias WHERE grp = 'region'"), 0.1,
                            1e-12);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_participation_by_segment"), 3 * 4);
}
END_TEST

/* A version 5 file gains the who-trains tables, clients.utc_offset_min and clients.attacker
 * in place (NULL in its old rows; both columns last, in that order, so the positional client
 * insert still lines up); its runs have no mix (the views return nothing for them). */
START_TEST(db_appending_upgrades_version_5_in_place)
{
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 1);
    fs_db_client c = {.client_id = 0, .segment = "utc+1", .device_class = "mid",
                      .network = "wifi", .has_utc_offset = true, .utc_offset_min = 60};
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_write_clients(db, 1, &c, 1, &err), FS_OK);
    fs_db_close(db);
    sqlite3 *conn = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &conn), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(conn,
                                  "DROP VIEW v_run_bias; DROP VIEW v_selection_bias;"
                                  "DROP VIEW v_participation_by_segment;"
                                  "DROP TABLE participation_mix; DROP TABLE selection_rounds;"
                                  "ALTER TABLE clients DROP COLUMN attacker;"
                                  "ALTER TABLE clients DROP COLUMN utc_offset_min;"
                                  "UPDATE meta SET value = '5' WHERE key = 'schema_version';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(conn);
    db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    c.utc_offset_min = -300;
    c.attacker = 1;
    ck_assert_int_eq(fs_db_write_clients(db, 2, &c, 1, &err), FS_OK);
    write_mix_rounds(db, 2);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"), 6);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE run_id = 1"
                              " AND utc_offset_min IS NULL"),
                     1);
    ck_assert_int_eq(peek_int("SELECT utc_offset_min FROM clients WHERE run_id = 2"), -300);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_selection_bias WHERE run_id = 1"), 0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_selection_bias WHERE run_id = 2"), 3);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM clients WHERE run_id = 1 AND attacker IS NULL"),
                     1);
    ck_assert_int_eq(peek_int("SELECT attacker FROM clients WHERE run_id = 2"), 1);
}
END_TEST

/* A version 5 file gains runs.ranks in place: NULL in its old runs (one process ran them), the
 * job's size in new ones (1 when the caller says nothing). */
START_TEST(db_appending_upgrades_version_5_ranks)
{
    fs_db *db = open_ok();
    ck_assert_int_eq(begin_ok(db), 1);
    fs_db_close(db);
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "ALTER TABLE runs DROP COLUMN ranks;"
                                  "UPDATE meta SET value = '5' WHERE key = 'schema_version';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    db = open_ok();
    ck_assert_int_eq(begin_ok(db), 2);
    fs_db_run run = {.name = "t", .scenario_json = "{}", .variant = "", .ranks = 3};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = 0;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"),
                     FS_DB_SCHEMA_VERSION);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM runs WHERE run_id = 1 AND ranks IS NULL"), 1);
    ck_assert_int_eq(peek_int("SELECT ranks FROM runs WHERE run_id = 2"), 1);
    ck_assert_int_eq(peek_int("SELECT ranks FROM runs WHERE run_id = 3"), 3);
}
END_TEST

/* An upgrade that fails half way (here: a column the upgrade adds already exists) leaves the
 * file exactly a version 2 file: no new column, no new table, version 2. */
START_TEST(db_failed_upgrade_leaves_version_2)
{
    load_v2_fixture("ALTER TABLE runs ADD COLUMN headline_metric TEXT;");
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_EDB);
    ck_assert_ptr_null(db);
    ck_assert_msg(strstr(err.msgs[0], "upgrading schema version 2 to 3: duplicate column name"),
                  "got: %s", err.msgs[0]);
    ck_assert_int_eq(peek_int("SELECT value FROM meta WHERE key = 'schema_version'"), 2);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM pragma_table_info('runs')"
                              " WHERE name = 'population_seed'"),
                     0);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM sqlite_schema WHERE name = 'variant_stats'"),
                     0);
}
END_TEST

/* ---- replicate statistics (fs_db_refresh_variant_stats) on constructed replicates */

/* Replicate `rep` of variant `label`: target auc >= 0.75, evaluated at rounds 1..3 with the
 * values given (the last one is the final value). */
static void replicate_run(fs_db *db, const char *label, int rep, const double auc[3],
                          const char *status)
{
    fs_db_run run = {.name = "rep", .scenario_json = "{}", .seed = 1, .variant = label,
                     .fedsim_version = "test", .target_metric = "auc", .target_value = 0.75,
                     .target_sustain = 1, .threads = 1, .host = "h", .replicate = rep,
                     .headline_metric = "auc"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id = -1;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    for (int n = 1; n <= 3; n++) {
        fs_db_eval e = {"all", "auc", auc[n - 1]};
        put_round(db, id, n, 0.5 * n, &e, 1);
    }
    ck_assert_int_eq(fs_db_finish_run(db, id, status, 1.0, &err), FS_OK);
}

START_TEST(db_variant_stats_match_hand_computed_values)
{
    fs_db *db = open_ok();
    /* variant a, final auc 0.70 0.72 0.74 0.76 0.78; reaches 0.75 at round 3 in the last two
     * replicates only. Variant b: one replicate. A failed run and a superseded one are not
     * counted. */
    const double a[5][3] = {{0.6, 0.65, 0.70}, {0.6, 0.7, 0.72}, {0.6, 0.7, 0.74},
                            {0.6, 0.7, 0.76}, {0.6, 0.7, 0.78}};
    replicate_run(db, "a", 1, (double[3]){0.9, 0.9, 0.9}, "failed");
    for (int r = 0; r < 5; r++)
        replicate_run(db, "a", r + 1, a[r], "done");
    replicate_run(db, "b", 1, (double[3]){0.8, 0.8, 0.8}, "done");
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_db_refresh_variant_stats(db, "rep", &err), FS_OK);
    ck_assert_int_eq(fs_db_refresh_variant_stats(db, "rep", &err), FS_OK); /* idempotent */
    fs_db_close(db);
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_variant_summary"), 2);
    ck_assert_int_eq(peek_int("SELECT n_replicates = 5 AND n_reached = 2 AND reach_share = 0.4"
                              " AND final_metric = 'auc' AND target_metric = 'auc'"
                              " FROM v_variant_summary WHERE variant = 'a'"),
                     1);
    /* mean 0.74, sd = sqrt(0.001) = 0.0316228, half-width = t(0.975, 4) sd / sqrt(5)
     * = 2.776445 * 0.0316228 / 2.236068 = 0.0392649 */
    ck_assert_double_eq_tol(peek_real("SELECT mean_final FROM v_variant_summary"
                                      " WHERE variant = 'a'"),
                            0.74, 1e-12);
    ck_assert_double_eq_tol(peek_real("SELECT sd_final FROM v_variant_summary"
                                      " WHERE variant = 'a'"),
                            0.0316227766016838, 1e-12);
    ck_assert_double_eq_tol(peek_real("SELECT ci_low_final FROM v_variant_summary"
                                      " WHERE variant = 'a'"),
                            0.74 - 0.0392648633559, 1e-9);
    ck_assert_double_eq_tol(peek_real("SELECT ci_high_final FROM v_variant_summary"
                                      " WHERE variant = 'a'"),
                            0.74 + 0.0392648633559, 1e-9);
    /* both reaching replicates reach at round 3: 3 h, 600 + 3000 bytes, ε 1.5; sd 0 */
    ck_assert_int_eq(peek_int("SELECT mean_hours_to_target = 3.0 AND ci_low_hours = 3.0"
                              " AND mean_bytes_to_target = 3600 AND mean_epsilon_at_target = 1.5"
                              " FROM v_variant_summary WHERE variant = 'a'"),
                     1);
    /* one replicate: a mean, no spread */
    ck_assert_int_eq(peek_int("SELECT n_replicates = 1 AND mean_final = 0.8 AND sd_final IS NULL"
                              " AND ci_low_final IS NULL AND n_reached = 1"
                              " AND mean_hours_to_target = 1.0 FROM v_variant_summary"
                              " WHERE variant = 'b'"),
                     1);
    /* per round: round 2 of a is 0.65, 0.7 x4 -> mean 0.69, sd sqrt(0.0005) */
    ck_assert_int_eq(peek_int("SELECT count(*) FROM v_variant_rounds"), 6);
    ck_assert_double_eq_tol(peek_real("SELECT mean FROM v_variant_rounds WHERE variant = 'a'"
                                      " AND round = 2 AND metric = 'auc'"),
                            0.69, 1e-12);
    ck_assert_double_eq_tol(peek_real("SELECT sd FROM v_variant_rounds WHERE variant = 'a'"
                                      " AND round = 2"),
                            sqrt(0.0005), 1e-12);
    ck_assert_int_eq(peek_int("SELECT n_replicates = 5 AND mean_t_h = 2.0"
                              " AND mean_cum_bytes = 2300 AND mean_epsilon = 1.0"
                              " FROM v_variant_rounds WHERE variant = 'a' AND round = 2"),
                     1);
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
    tcase_add_test(tc, db_round_queue_writes_what_direct_writes_write);
    tcase_add_test(tc, db_round_queue_copies_only_parts_it_writes);
    tcase_add_test(tc, db_round_queue_failure_drops_the_rest);
    tcase_add_test(tc, db_writer_writes_what_direct_writes_write);
    tcase_add_test(tc, db_writer_failure_stops_and_comes_back);
    tcase_add_test(tc, db_rounds_batch_commits_together_or_not_at_all);
    tcase_add_test(tc, db_rounds_batch_refused_by_a_lock);
    tcase_add_test(tc, db_writer_batch_failure_keeps_the_rounds_before);
    tcase_add_test(tc, db_writer_clients_failure_writes_no_round);
    tcase_add_test(tc, db_writer_waits_past_rounds_max);
    tcase_add_test(tc, db_nan_stored_as_null);
    tcase_add_test(tc, db_unreached_times_stored_as_null);
    tcase_add_test(tc, db_finish_run_sets_done);
    tcase_add_test(tc, db_finish_unknown_run_fails);
    tcase_add_test(tc, db_set_status_checks_value);
    tcase_add_test(tc, db_duplicate_round_rolls_back);
    tcase_add_test(tc, db_failing_participation_rolls_back_round);
    tcase_add_test(tc, db_participation_keyed_by_seq_and_rejected_outcome);
    tcase_add_test(tc, db_round_of_unknown_run_fails);
    tcase_add_test(tc, db_write_clients_all_or_nothing);
    tcase_add_test(tc, db_write_clients_keeps_every_column);
    tcase_add_test(tc, db_round_rows_in_client_order_keep_each_clients_order);
    tcase_add_test(tc, db_energy_rows_in_bulk_keep_their_order);
    tcase_add_test(tc, db_write_clients_checks_its_run_and_restores_foreign_keys);
    tcase_add_test(tc, db_write_clients_in_bulk_keeps_every_row);
    tcase_add_test(tc, db_open_paged_sets_a_new_files_page_size_only);
    tcase_add_test(tc, db_open_missing_dir_fails);
    tcase_add_test(tc, db_open_rejects_other_schema_version);
    tcase_add_test(tc, db_open_refuses_version_1_untouched);
    tcase_add_test(tc, db_open_rejects_non_database);
    tcase_add_test(tc, db_reopen_appends_run_2);
    tcase_add_test(tc, db_open_refuses_foreign_file_untouched);
    tcase_add_test(tc, db_open_readonly_checks_schema);
    tcase_add_test(tc, db_resume_refuses_run_held_by_another_connection);
    tcase_add_test(tc, db_resume_without_checkpoint_reruns_same_id);
    tcase_add_test(tc, db_best_value_follows_the_metric_table);
    tcase_add_test(tc, db_nan_costs_stored_as_null);
    tcase_add_test(tc, db_time_to_target_sustained);
    tcase_add_test(tc, db_headline_is_first_eval_metric);
    tcase_add_test(tc, db_appending_upgrades_version_2_in_place);
    tcase_add_test(tc, db_failed_upgrade_leaves_version_2);
    tcase_add_test(tc, db_appending_upgrades_version_3_in_place);
    tcase_add_test(tc, db_appending_upgrades_version_4_in_place);
    tcase_add_test(tc, db_appending_upgrades_version_5_in_place);
    tcase_add_test(tc, db_bias_views_match_hand_computed_shares);
    tcase_add_test(tc, db_appending_upgrades_version_5_ranks);
    tcase_add_test(tc, db_variant_stats_match_hand_computed_values);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("views");
    tcase_add_checked_fixture(tv, views_setup, teardown);
    tcase_add_test(tv, db_stores_target_and_round_costs);
    tcase_add_test(tv, db_round_metrics_cumulates_per_run);
    tcase_add_test(tv, db_time_to_target_first_hit);
    tcase_add_test(tv, db_time_to_target_never_reached_is_null);
    tcase_add_test(tv, db_time_to_target_lower_is_better);
    tcase_add_test(tv, db_run_summary_totals);
    tcase_add_test(tv, db_run_summary_final_metric_rule);
    suite_add_tcase(s, tv);
    return s;
}

FS_TEST_MAIN(db_suite)
