/* test_ckpt: checkpoints are not trusted. A checksum can be recomputed by whoever edits a
 * results file, so these tests damage one section of a real checkpoint, reseal it (a valid
 * CRC-32) and resume: each edit is refused with its exact message and FS_EDB (exit 3), the run
 * is left interrupted with all its rounds, and nothing crashes (run under the sanitizer build
 * too). Also: checkpoints larger than one row are stored in chunks and read back whole. */
#include <check.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_ckpt.h"
#include "fs_db.h"
#include "fs_run.h"
#include "fs_test.h"
#include "fs_test_scn.h"

static char tmpdir[256];
static char dbpath[300];

static void setup(void)
{
    fs_test_db_dir(tmpdir, sizeof tmpdir, dbpath, sizeof dbpath, "fedsim_test_ckpt_", "r.sqlite");
}

static void teardown(void)
{
    fs_test_db_dir_remove(tmpdir, dbpath);
}

/* tests/fixtures/scenarios/ckpt_markov_synthetic.json (40 clients, 12 rounds, a checkpoint
 * every 5: the last one is of round 10) with one --set override (`set`, NULL: none). */
static int run(const char *set, bool resume, fs_err *err)
{
    char *text = fs_test_fixture("ckpt_markov_synthetic");
    fs_scenario s;
    fs_err_init(err, "ckpt.json");
    ck_assert_int_eq(fs_scn_parse(text, set ? &set : NULL, set ? 1 : 0, &s, err), FS_OK);
    free(text);
    fs_err_init(err, NULL);
    fs_run_opts opts = {.db_path = dbpath, .n_threads = 1, .resume = resume};
    fs_run_summary sum;
    int rc = fs_run_scenario(&s, &opts, &sum, err);
    fs_scn_fini(&s);
    return rc;
}

static sqlite3 *conn(void)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    return c;
}

static char *q_text(sqlite3 *c, const char *sql)
{
    static char out[256];
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

typedef void (*edit_fn)(unsigned char *buf, size_t len);

/* A finished run made resumable (as after a crash), its checkpoint edited by `edit` and
 * resealed; then --resume. Returns the resume's status; *msg its first message. */
static int damage_and_resume(const char *set, edit_fn edit, char *msg, size_t n_msg)
{
    fs_err err;
    ck_assert_int_eq(run(set, false, &err), FS_OK);
    sqlite3 *c = conn();
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE runs SET status = 'interrupted'", 0, 0, 0), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, "SELECT server_state FROM checkpoints", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    unsigned char *buf = malloc(len);
    memcpy(buf, sqlite3_column_blob(st, 0), len);
    sqlite3_finalize(st);
    edit(buf, len);
    fs_ckpt_reseal(buf, len);
    ck_assert_int_eq(
        sqlite3_prepare_v2(c, "UPDATE checkpoints SET server_state = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, buf, (int)len, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    free(buf);
    int rc = run(set, true, &err);
    snprintf(msg, n_msg, "%s", err.n_msgs ? err.msgs[0] : "");
    /* refused: the run is as it was */
    ck_assert_str_eq(q_text(c, "SELECT status FROM runs"), "interrupted");
    ck_assert_str_eq(q_text(c, "SELECT count(*) FROM rounds"), "12");
    sqlite3_close(c);
    return rc;
}

static unsigned char *section(unsigned char *buf, size_t len, const char *tag, size_t *n)
{
    size_t off = 0;
    ck_assert_msg(fs_ckpt_find(buf, len, tag, &off, n), "no section %s", tag);
    return buf + off;
}

static void expect(const char *set, edit_fn edit, const char *why)
{
    char msg[FS_ERR_MSG_LEN], want[FS_ERR_MSG_LEN];
    int rc = damage_and_resume(set, edit, msg, sizeof msg);
    snprintf(want, sizeof want,
             "%s: run 1: checkpoint of round 10: %s; refusing to resume (use another results "
             "file to start afresh)",
             dbpath, why);
    ck_assert_str_eq(msg, want);
    ck_assert_int_eq(rc, FS_EDB);
    ck_assert_int_eq(fs_exit_code(rc), 3);
}

static void perm_too_big(unsigned char *buf, size_t len)
{
    size_t n;
    uint32_t v = 40;
    memcpy(section(buf, len, "PERM", &n) + 4 * 7, &v, 4);
}

static void perm_huge(unsigned char *buf, size_t len)
{
    size_t n;
    uint32_t v = 4000000000u;
    memcpy(section(buf, len, "PERM", &n), &v, 4);
}

static void perm_twice(unsigned char *buf, size_t len)
{
    size_t n;
    unsigned char *p = section(buf, len, "PERM", &n);
    memcpy(p + 4, p, 4);
}

/* MODL holds the model's fs_real parameters (FS_REAL_BYTES each). */
static void weight_nan(unsigned char *buf, size_t len)
{
    size_t n;
    fs_real v = NAN;
    memcpy(section(buf, len, "MODL", &n) + FS_REAL_BYTES * 3, &v, FS_REAL_BYTES);
}

static void weight_inf(unsigned char *buf, size_t len)
{
    size_t n;
    fs_real v = -INFINITY;
    memcpy(section(buf, len, "MODL", &n), &v, FS_REAL_BYTES);
}

static void client_state(unsigned char *buf, size_t len)
{
    size_t n;
    uint64_t online = 7;
    memcpy(section(buf, len, "CLNT", &n) + 24 * 5 + 16, &online, 8);
}

static size_t model_bytes;

static void model_shorter(unsigned char *buf, size_t len)
{
    size_t n;
    unsigned char *p = section(buf, len, "MODL", &n);
    model_bytes = n;
    uint64_t shorter = n - FS_REAL_BYTES; /* the payload length precedes the payload */
    memcpy(p - 8, &shorter, 8);
}

static void set_header_word(unsigned char *buf, size_t word, uint64_t v)
{
    memcpy(buf + 8 * word, &v, 8);
}

static void version_1(unsigned char *buf, size_t len)
{
    (void)len;
    set_header_word(buf, 1, 1);
}

/* Version 2 is what fedsim wrote while it trained in float64. */
static void version_2(unsigned char *buf, size_t len)
{
    (void)len;
    set_header_word(buf, 1, 2);
}

/* Header word 7: the bits of a model parameter. */
static void precision_64(unsigned char *buf, size_t len)
{
    (void)len;
    set_header_word(buf, 7, 64);
}

static void precision_16(unsigned char *buf, size_t len)
{
    (void)len;
    set_header_word(buf, 7, 16);
}

static void other_scenario(unsigned char *buf, size_t len)
{
    (void)len;
    buf[32] ^= 1;
}

static void virtual_time(unsigned char *buf, size_t len)
{
    size_t n;
    int64_t t = -5;
    memcpy(section(buf, len, "CNTR", &n), &t, 8);
}

/* SCAFFOLD keeps a control variate per client that took part: ids must be in range. */
static void control_client(unsigned char *buf, size_t len)
{
    size_t n;
    unsigned char *p = section(buf, len, "CCTL", &n);
    uint64_t count, id = 1000;
    memcpy(&count, p, 8);
    ck_assert_uint_gt(count, 0);
    memcpy(p + 8, &id, 8);
}

START_TEST(resealed_permutation_index_out_of_range_is_refused)
{
    expect(NULL, perm_too_big, "section PERM: entry 7 is 40, expected a client id below 40");
}
END_TEST

START_TEST(resealed_huge_permutation_index_is_refused)
{
    expect(NULL, perm_huge, "section PERM: entry 0 is 4000000000, expected a client id below 40");
}
END_TEST

START_TEST(resealed_permutation_with_a_repeat_is_refused)
{
    char why[128]; /* the repeated id is whatever the permutation holds first */
    fs_err err;
    ck_assert_int_eq(run(NULL, false, &err), FS_OK);
    sqlite3 *c = conn();
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, "SELECT server_state FROM checkpoints", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    size_t len = (size_t)sqlite3_column_bytes(st, 0), off, n;
    const unsigned char *b = sqlite3_column_blob(st, 0);
    ck_assert(fs_ckpt_find(b, len, "PERM", &off, &n));
    uint32_t first;
    memcpy(&first, b + off, 4);
    sqlite3_finalize(st);
    sqlite3_close(c);
    unlink(dbpath);
    snprintf(why, sizeof why, "section PERM: client %u appears twice", first);
    expect(NULL, perm_twice, why);
}
END_TEST

START_TEST(resealed_nan_weight_is_refused)
{
    expect(NULL, weight_nan, "section MODL: value 3 is nan, expected a finite number");
}
END_TEST

START_TEST(resealed_infinite_weight_is_refused)
{
    expect(NULL, weight_inf, "section MODL: value 0 is -inf, expected a finite number");
}
END_TEST

START_TEST(resealed_impossible_client_state_is_refused)
{
    expect(NULL, client_state, "section CLNT: client 5 has an impossible state");
}
END_TEST

START_TEST(resealed_section_of_the_wrong_size_is_refused)
{
    /* the model section claims one weight fewer than the model has */
    char msg[FS_ERR_MSG_LEN], want[FS_ERR_MSG_LEN];
    ck_assert_int_eq(damage_and_resume(NULL, model_shorter, msg, sizeof msg), FS_EDB);
    snprintf(want, sizeof want,
             "%s: run 1: checkpoint of round 10: section MODL: expected %zu bytes, found %zu; "
             "refusing to resume (use another results file to start afresh)",
             dbpath, model_bytes, model_bytes - FS_REAL_BYTES);
    ck_assert_str_eq(msg, want);
}
END_TEST

START_TEST(resealed_old_format_version_is_refused)
{
    expect(NULL, version_1, "format version 1, this fedsim reads version 4");
}
END_TEST

START_TEST(resealed_float64_checkpoint_is_refused)
{
    expect(NULL, version_2,
           "written by an earlier fedsim that trained in float64 (format version 2); this "
           "fedsim trains in " FS_REAL_NAME " and cannot continue it: run again without --resume");
}
END_TEST

START_TEST(resealed_checkpoint_of_another_precision_is_refused)
{
    ck_assert_int_eq(8 * FS_REAL_BYTES, 32); /* fedsim's own word, which the edits replace */
    expect(NULL, precision_64,
           "its parameters are 64-bit floats; this fedsim trains in " FS_REAL_NAME
           " and cannot continue it: run again without --resume");
    unlink(dbpath);
    expect(NULL, precision_16,
           "its parameters are 16-bit floats; this fedsim trains in " FS_REAL_NAME
           " and cannot continue it: run again without --resume");
}
END_TEST

START_TEST(resealed_checkpoint_of_another_scenario_is_refused)
{
    expect(NULL, other_scenario, "taken from a different effective scenario than the run's");
}
END_TEST

START_TEST(resealed_negative_virtual_time_is_refused)
{
    expect(NULL, virtual_time, "section CNTR: virtual time -5 is impossible");
}
END_TEST

START_TEST(resealed_control_variate_of_unknown_client_is_refused)
{
    expect("server.algorithm=scaffold", control_client,
           "section CCTL: client 1000 out of order or range (40 clients)");
}
END_TEST

/* MIXS holds each client's selections so far (uint32): more than there were selection passes
 * is impossible. */
static void selected_too_often(unsigned char *buf, size_t len)
{
    size_t n;
    uint32_t v = 1000000;
    memcpy(section(buf, len, "MIXS", &n) + 4 * 3, &v, 4);
}

START_TEST(resealed_impossible_selection_count_is_refused)
{
    char msg[FS_ERR_MSG_LEN];
    ck_assert_int_eq(damage_and_resume(NULL, selected_too_often, msg, sizeof msg), FS_EDB);
    ck_assert_msg(strstr(msg, "checkpoint of round 10: section MIXS: client 3 was selected "
                              "1000000 times, impossible in "),
                  "got: %s", msg);
}
END_TEST

/* The checks refuse nothing fedsim wrote: a SCAFFOLD run (control variates) resumes. */
START_TEST(unedited_checkpoint_resumes)
{
    fs_err err;
    ck_assert_int_eq(run("server.algorithm=scaffold", false, &err), FS_OK);
    sqlite3 *c = conn();
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE runs SET status = 'interrupted'", 0, 0, 0), SQLITE_OK);
    sqlite3_close(c);
    ck_assert_int_eq(run("server.algorithm=scaffold", true, &err), FS_OK);
    c = conn();
    ck_assert_str_eq(q_text(c, "SELECT status || count(*) FROM runs JOIN rounds USING(run_id)"),
                     "done12");
    sqlite3_close(c);
}
END_TEST

/* ---- large checkpoints: stored in chunks, read back whole */

static fs_db *open_db(void)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_OK);
    return db;
}

static const fs_db_run chunk_run = {.name = "t",
                                    .scenario_json = "{}",
                                    .variant = "",
                                    .fedsim_version = "test",
                                    .threads = 1,
                                    .host = "h"};

/* One round with a 1000-byte state in 64-byte chunks; returns the run id. */
static int64_t write_chunked(fs_db *db, unsigned char *state)
{
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id;
    ck_assert_int_eq(fs_db_begin_run(db, &chunk_run, &id, &err), FS_OK);
    for (int i = 0; i < 1000; i++)
        state[i] = (unsigned char)(i * 7 + 3);
    fs_db_set_ckpt_chunk(db, 64);
    ck_assert_uint_eq(fs_db_ckpt_chunk(db), 64);
    fs_db_round r = {.round = 1,
                     .t_start = 0,
                     .t_end = 5,
                     .train_loss = NAN,
                     .epsilon = NAN,
                     .compute_s = NAN,
                     .online_share = NAN,
                     .wall_s = NAN};
    ck_assert_int_eq(fs_db_write_round_ckpt(db, id, &r, NULL, 0, NULL, 0, state, 1000, &err),
                     FS_OK);
    ck_assert_int_eq(fs_db_set_status(db, id, "interrupted", &err), FS_OK);
    return id;
}

START_TEST(large_checkpoint_is_stored_in_chunks_and_read_back_whole)
{
    fs_db *db = open_db();
    unsigned char state[1000];
    write_chunked(db, state);
    sqlite3 *c = conn();
    ck_assert_str_eq(q_text(c, "SELECT length(server_state) FROM checkpoints"), "64");
    ck_assert_str_eq(q_text(c, "SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) || ' ' ||"
                               " sum(length(data)) FROM checkpoint_chunks"),
                     "15 1 15 936");
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id;
    int round;
    void *got = NULL;
    size_t len = 0;
    ck_assert_int_eq(fs_db_resume(db, &chunk_run, &id, &round, &got, &len, &err), FS_OK);
    ck_assert_uint_eq(len, 1000);
    ck_assert_int_eq(round, 1);
    ck_assert_int_eq(memcmp(got, state, 1000), 0);
    free(got);
    /* the next checkpoint replaces every chunk of the previous one */
    fs_db_set_ckpt_chunk(db, 0);
    ck_assert_uint_eq(fs_db_ckpt_chunk(db), (size_t)256 << 20);
    fs_db_round r = {.round = 2,
                     .t_start = 5,
                     .t_end = 9,
                     .train_loss = NAN,
                     .epsilon = NAN,
                     .compute_s = NAN,
                     .online_share = NAN,
                     .wall_s = NAN};
    ck_assert_int_eq(fs_db_write_round_ckpt(db, id, &r, NULL, 0, NULL, 0, state, 1000, &err),
                     FS_OK);
    c = conn();
    ck_assert_str_eq(q_text(c, "SELECT count(*) FROM checkpoint_chunks"), "0");
    ck_assert_str_eq(q_text(c, "SELECT length(server_state) FROM checkpoints"), "1000");
    sqlite3_close(c);
    fs_db_close(db);
}
END_TEST

START_TEST(missing_chunk_is_refused)
{
    fs_db *db = open_db();
    unsigned char state[1000];
    write_chunked(db, state);
    sqlite3 *c = conn();
    ck_assert_int_eq(sqlite3_exec(c, "DELETE FROM checkpoint_chunks WHERE seq = 4", 0, 0, 0),
                     SQLITE_OK);
    sqlite3_close(c);
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id;
    int round;
    void *got = NULL;
    size_t len = 0;
    ck_assert_int_eq(fs_db_resume(db, &chunk_run, &id, &round, &got, &len, &err), FS_EDB);
    ck_assert_ptr_null(got);
    char want[FS_ERR_MSG_LEN];
    snprintf(want, sizeof want,
             "%s: run 1: checkpoint after round 1: a chunk of it is missing or out of order in "
             "checkpoint_chunks; refusing to resume (use another results file to start afresh)",
             dbpath);
    ck_assert_str_eq(err.msgs[0], want);
    fs_db_close(db);
}
END_TEST

static Suite *ckpt_suite(void)
{
    Suite *s = suite_create("ckpt");
    TCase *tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resealed_permutation_index_out_of_range_is_refused);
    tcase_add_test(tc, resealed_huge_permutation_index_is_refused);
    tcase_add_test(tc, resealed_permutation_with_a_repeat_is_refused);
    tcase_add_test(tc, resealed_nan_weight_is_refused);
    tcase_add_test(tc, resealed_infinite_weight_is_refused);
    tcase_add_test(tc, resealed_impossible_client_state_is_refused);
    tcase_add_test(tc, resealed_section_of_the_wrong_size_is_refused);
    tcase_add_test(tc, resealed_old_format_version_is_refused);
    tcase_add_test(tc, resealed_float64_checkpoint_is_refused);
    tcase_add_test(tc, resealed_checkpoint_of_another_precision_is_refused);
    tcase_add_test(tc, resealed_checkpoint_of_another_scenario_is_refused);
    tcase_add_test(tc, resealed_negative_virtual_time_is_refused);
    tcase_add_test(tc, resealed_control_variate_of_unknown_client_is_refused);
    tcase_add_test(tc, resealed_impossible_selection_count_is_refused);
    tcase_add_test(tc, unedited_checkpoint_resumes);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("chunks");
    tcase_add_checked_fixture(tl, setup, teardown);
    tcase_add_test(tl, large_checkpoint_is_stored_in_chunks_and_read_back_whole);
    tcase_add_test(tl, missing_chunk_is_refused);
    suite_add_tcase(s, tl);
    return s;
}

FS_TEST_MAIN(ckpt_suite)
