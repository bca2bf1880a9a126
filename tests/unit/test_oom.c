/* Allocation-failure injection: our code's allocations (malloc, calloc, realloc, linked with
 * --wrap) fail from the N-th on, for many N, while a whole small campaign runs into a results
 * database. Every run must end with FS_OK or FS_ENOMEM and a message, never crash (and, in the
 * sanitizer build, never leak). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_db.h"
#include "fs_run.h"
#include "fs_scn.h"
#include "fs_test.h"
#include "fs_test_scn.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long budget = -1; /* allocations left before they fail; -1 = unlimited */
static long count;

static int allowed(void)
{
    count++;
    if (budget < 0) return 1;
    return budget-- > 0;
}

void *__wrap_malloc(size_t n)
{
    return allowed() ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
    return allowed() ? __real_calloc(n, size) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
    return allowed() ? __real_realloc(p, n) : NULL;
}

/* Sync rounds on sparse data with DP, secure aggregation, compression, FedAdam, segments and
 * checkpoints; then FedBuff with on-demand data and matrix factorization's personal factors;
 * then Multi-Krum's scratch (server.robust). */
static const char *const scenarios[] = {"oom_sync_sparse_private", "oom_async_ratings_mf",
                                        "oom_sync_krum"};

/* One campaign with allocations failing from the n-th on (n < 0: never). */
static int campaign(const char *scenario, long n, const char *db, fs_err *err)
{
    fs_scenario s;
    fs_err_init(err, "oom.json");
    budget = -1;
    int rc = fs_scn_parse(scenario, NULL, 0, &s, err);
    ck_assert_int_eq(rc, FS_OK);
    remove(db);
    budget = n;
    fs_run_opts opts = {.db_path = db, .n_threads = 1};
    fs_run_summary sum;
    rc = fs_run_scenario(&s, &opts, &sum, err);
    budget = -1;
    fs_scn_fini(&s);
    return rc;
}

START_TEST(every_failing_allocation_ends_cleanly)
{
    char *scenario = fs_test_fixture(scenarios[_i]); /* tests/fixtures/scenarios/ */
    char dir[256], db[300];
    fs_test_db_dir(dir, sizeof dir, db, sizeof db, "fedsim_test_oom_", "oom.sqlite");
    fs_err err;
    count = 0;
    ck_assert_int_eq(campaign(scenario, -1, db, &err), FS_OK);
    long total = count;
    ck_assert_int_gt(total, 50);
    /* every allocation point early on, then a spread over the rest of the run */
    long step = total > 3000 ? total / 1500 : 1;
    int failures = 0;
    for (long n = 0; n < total; n += n < 300 ? 1 : step) {
        int rc = campaign(scenario, n, db, &err);
        ck_assert_msg(rc == FS_OK || rc == FS_ENOMEM,
                      "allocation %ld of %ld failing gave %s: %s", n, total, fs_strerror(rc),
                      err.n_msgs ? err.msgs[0] : "(no message)");
        if (rc == FS_ENOMEM) {
            failures++;
            ck_assert_msg(err.n_msgs > 0, "allocation %ld: FS_ENOMEM without a message", n);
        }
    }
    ck_assert_int_gt(failures, 0);
    fs_test_db_dir_remove(dir, db);
    free(scenario);
}
END_TEST

/* The results file's statements of many rows are built in memory of our own (fs_db.c,
 * prepare_rows), at open and at their first use: a failing allocation there is reported as out
 * of memory, never as a database error, and writes nothing half. 300 clients and a round of 300
 * participations take the bulk statements. */
START_TEST(bulk_statements_report_out_of_memory)
{
    enum { N = 300 };
    char dir[256], db_path[300];
    fs_test_db_dir(dir, sizeof dir, db_path, sizeof db_path, "fedsim_test_oom_db_", "b.sqlite");
    fs_db_client *c = calloc(N, sizeof *c);
    fs_db_part *p = calloc(N, sizeof *p);
    ck_assert(c && p);
    for (int i = 0; i < N; i++) {
        c[i] = (fs_db_client){.client_id = (uint32_t)i, .consent = 1};
        p[i] = (fs_db_part){.client_id = (uint32_t)i, .outcome = "reported", .energy_j = 1};
    }
    fs_db_run run = {.name = "t", .scenario_json = "{}", .variant = "", .fedsim_version = "test",
                     .host = "h", .precision = "float32"};
    int failures = 0;
    for (long n = 0; n < 60; n++) {
        remove(db_path);
        fs_err err;
        fs_err_init(&err, NULL);
        fs_db *db = NULL;
        int64_t id = 0;
        budget = n;
        int rc = fs_db_open(db_path, &db, &err);
        if (!rc) rc = fs_db_begin_run(db, &run, &id, &err);
        if (!rc) rc = fs_db_write_clients(db, id, c, N, &err);
        fs_db_round r = {.round = 1, .energy_parts = p, .n_energy_parts = N};
        if (!rc) rc = fs_db_write_round(db, id, &r, p, N, NULL, 0, &err);
        budget = -1;
        ck_assert_msg(rc == FS_OK || rc == FS_ENOMEM, "allocation %ld failing gave %s: %s", n,
                      fs_strerror(rc), err.n_msgs ? err.msgs[0] : "(no message)");
        if (rc == FS_ENOMEM) {
            failures++;
            ck_assert_msg(err.n_msgs && strstr(err.msgs[0], "out of memory"), "allocation %ld: %s",
                          n, err.n_msgs ? err.msgs[0] : "(no message)");
        }
        fs_db_close(db);
    }
    ck_assert_int_gt(failures, 0);
    free(c), free(p);
    fs_test_db_dir_remove(dir, db_path);
}
END_TEST

static Suite *oom_suite(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, every_failing_allocation_ends_cleanly, 0,
                        (int)(sizeof scenarios / sizeof *scenarios));
    tcase_add_test(tc, bulk_statements_report_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(oom_suite)
