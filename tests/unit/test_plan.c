/* test_plan: `fedsim plan` on results databases built with fs_db calls (constructed rounds and
 * evaluations, nothing simulated). stdout and stderr are captured with dup2 into temporary files
 * and checked line by line: ranking by each cost, every constraint with its exclusion reason,
 * the recommendation, and the exit codes 0/1/2/3. */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_db.h"
#include "fs_plan.h"
#include "fs_sweep_int.h"
#include "fs_test.h"

#define US_PER_H 3600000000.0

static char tmpdir[256];
static char dbpath[300];
static char out[16384], errout[4096];

static void setup(void)
{
    fs_test_db_dir(tmpdir, sizeof tmpdir, dbpath, sizeof dbpath, "fedsim_test_plan_", "sweep.sqlite");
}

static void teardown(void)
{
    fs_test_db_dir_remove(tmpdir, dbpath);
}

/* ---- building a sweep */

typedef struct variant_spec {
    const char *label, *status;
    double hours_per_round;
    int64_t up, down;  /* bytes per round */
    double eps;        /* ε added per round; NaN: no differential privacy */
    double compute_s;  /* device-seconds per round; NaN: not recorded */
    double auc[8];     /* auc after each round; 0 ends the list */
    double loss[8];    /* loss after each round; 0: not evaluated */
} variant_spec;

static void write_variant(fs_db *db, const variant_spec *v)
{
    fs_db_run run = {.name = "sweep", .scenario_json = "{}", .seed = 1, .variant = v->label,
                     .fedsim_version = "test", .threads = 1, .host = "h"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    for (int n = 1; n <= 8 && v->auc[n - 1] > 0; n++) {
        fs_db_round r = {.round = n, .t_start = (int64_t)((n - 1) * v->hours_per_round * US_PER_H),
                         .t_end = (int64_t)(n * v->hours_per_round * US_PER_H), .selected = 10,
                         .reported = 8, .dropped = 2, .bytes_up = v->up, .bytes_down = v->down,
                         .train_loss = NAN, .epsilon = isnan(v->eps) ? NAN : n * v->eps,
                         .compute_s = v->compute_s, .online_share = 0.5, .wall_s = 0.0};
        fs_db_eval e[2] = {{"all", "auc", v->auc[n - 1]}, {"all", "loss", v->loss[n - 1]}};
        ck_assert_int_eq(fs_db_write_round(db, id, &r, NULL, 0, e, v->loss[n - 1] > 0 ? 2 : 1,
                                           &err),
                         FS_OK);
    }
    ck_assert_int_eq(fs_db_finish_run(db, id, v->status, 1.0, &err), FS_OK);
}

/* Against auc >= 0.75 (per participation = cumulative bytes / (10 x rounds)):
 *   fast   round 3, 3 h, 600 B up + 3.0 kB down, ε 1.5, 3 device-h, 120 B per participation
 *   lean   round 5 (exactly 0.75), 5 h, 250 B + 1.0 kB, ε 2, 2.5 device-h, 25 B
 *   leaky  round 2, 2 h, ε 4.1, 4 device-h
 *   slow   round 3, 30 h (10 h rounds), ε 0.3, 0.5 device-h
 *   weak   never (best 0.731 after 6 rounds)
 *   cut    interrupted
 *   nodp   round 1, 1 h, no ε, no device time
 * plus an older "fast" run (first, superseded) that would win everything. */
static const variant_spec sweep[] = {
    {"fast", "done", 0.1, 1, 1, 0.01, 1, {0.9}, {0}},
    {"fast", "done", 1, 200, 1000, 0.5, 3600, {0.6, 0.7, 0.76, 0.8}, {1.0, 0.6, 0.4, 0.3504}},
    {"lean", "done", 1, 50, 200, 0.4, 1800, {0.5, 0.6, 0.7, 0.74, 0.75}, {0}},
    {"leaky", "done", 1, 1000, 5000, 2.05, 7200, {0.7, 0.8}, {0}},
    {"slow", "done", 10, 100, 100, 0.1, 600, {0.6, 0.7, 0.76}, {0}},
    {"weak", "done", 1, 100, 100, 0.1, 600, {0.6, 0.7, 0.731, 0.72, 0.73, 0.7}, {0}},
    {"cut", "interrupted", 1, 100, 100, 0.1, 600, {0.9}, {0}},
    {"nodp", "done", 1, 100, 100, NAN, NAN, {0.8}, {0}},
};

static void build_sweep(void)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_OK);
    for (size_t i = 0; i < sizeof sweep / sizeof *sweep; i++) write_variant(db, &sweep[i]);
    fs_db_close(db);
}

static void sweep_setup(void)
{
    setup();
    build_sweep();
}

/* ---- running the command */

/* fs_plan_cli("plan", args..., NULL) with stdout in `out` and stderr in `errout`. */
static int plan(const char *first, ...)
{
    char *argv[32] = {"plan"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    return fs_test_capture(fs_plan_cli, argc, argv, out, sizeof out, errout, sizeof errout);
}

#define ck_has(hay, needle)                                                                     \
    ck_assert_msg(strstr(hay, needle), "missing \"%s\" in:\n%s", needle, hay)

/* One "excluded" line: label padded to the widest label ("variant", 7), then the reason. */
static void ck_excluded(const char *label, const char *reason)
{
    char want[256];
    snprintf(want, sizeof want, "\n  %-7s  %s\n", label, reason);
    ck_has(out, want);
}

/* Labels of the feasible table, in printed order, as one string "a,b,". */
static void table_order(char *buf, size_t n)
{
    buf[0] = '\0';
    const char *p = strstr(out, "device h  "); /* the table header, not "device hours" */
    ck_assert_ptr_nonnull(p);
    for (p = strchr(p, '\n') + 1; (*p == '*' || *p == ' ') && p[1] == ' ' && p[2] != ' ';
         p = strchr(p, '\n') + 1) {
        char label[32];
        ck_assert_int_eq(sscanf(p + 2, "%31s", label), 1);
        strncat(buf, label, n - strlen(buf) - 2);
        strcat(buf, ",");
    }
}

/* ---- tests */

START_TEST(plan_ranks_by_hours_with_constraints)
{
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-epsilon", "3", "--max-hours",
                          "24", NULL),
                     0);
    ck_assert_str_eq(errout, "");
    char q[512];
    snprintf(q, sizeof q,
             "question: which variant reaches auc >= 0.75 in the fewest virtual hours, with"
             " ε <= 3 and at most 24 virtual hours?\nresults:  %s (7 variants, latest run of"
             " each)\n",
             dbpath);
    ck_assert_msg(strncmp(out, q, strlen(q)) == 0, "got:\n%s", out);
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "fast,lean,");
    ck_has(out, "\n* fast          3       3.00       600 B      3.0 kB       3.0     1.5\n");
    ck_has(out, "\n  lean          5       5.00       250 B      1.0 kB       2.5       2\n");
    ck_has(out, "\n* recommended: fast: reaches auc 0.75 in 3.0 virtual hours, the fewest of 2"
                " feasible variants\n");
    ck_has(out, "\nexcluded:\n");
    ck_excluded("leaky", "ε 4.1 > 3");
    ck_excluded("slow", "30.0 virtual hours > 24");
    ck_excluded("weak", "never reached auc 0.75 (best 0.731 after 6 rounds)");
    ck_excluded("cut", "not finished (status interrupted)");
    ck_excluded("nodp", "no ε recorded (differential privacy off), --max-epsilon 3");
    ck_has(out, "(1 older run of the same variants ignored)");
}
END_TEST

START_TEST(plan_unconstrained_ranks_every_finisher)
{
    ck_assert_int_eq(plan(dbpath, "--target=auc=0.75", NULL), 0);
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "nodp,leaky,fast,lean,slow,");
    ck_has(out, "\n* nodp          1       1.00       100 B       100 B         -       -\n");
    ck_has(out, "recommended: nodp: reaches auc 0.75 in 1.0 virtual hours, the fewest of 5"
                " feasible variants\n");
    ck_assert_ptr_null(strstr(out, "  leaky    ε")); /* no constraint, no ε exclusion */
}
END_TEST

START_TEST(plan_ranks_by_bytes)
{
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "bytes", NULL), 0);
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "nodp,slow,lean,fast,leaky,"); /* 200 B, 600 B, 1.25 kB, ... */
    ck_has(out, "which variant reaches auc >= 0.75 with the fewest bytes transferred?");
    /* within the budget, the slower but leaner variant wins */
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "bytes", "--max-epsilon", "3",
                          "--max-hours", "24", NULL),
                     0);
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "lean,fast,");
    ck_has(out, "recommended: lean: reaches auc 0.75 with 1.2 kB transferred, the fewest of 2"
                " feasible variants\n");
}
END_TEST

START_TEST(plan_ranks_by_device_hours_and_epsilon)
{
    char order[128];
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "device-hours", NULL), 0);
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "slow,lean,fast,leaky,nodp,"); /* not recorded ranks last */
    ck_has(out, "recommended: slow: reaches auc 0.75 with 0.5 device hours, the fewest of 5");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "epsilon", NULL), 0);
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "slow,fast,lean,leaky,nodp,");
    ck_has(out, "recommended: slow: reaches auc 0.75 at ε 0.3, the lowest of 5 feasible");
}
END_TEST

START_TEST(plan_applies_bytes_per_participation_cap)
{
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-epsilon", "3", "--max-hours",
                          "24", "--max-bytes-per-client", "100B", NULL),
                     0);
    ck_has(out, "with ε <= 3, at most 24 virtual hours and at most 100 B per participation?");
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "lean,");
    ck_has(out, "per particip.\n");
    ck_has(out, "recommended: lean: reaches auc 0.75 in 5.0 virtual hours, the only feasible"
                " variant\n");
    ck_excluded("fast", "120 B per participation > 100 B");
}
END_TEST

START_TEST(plan_lists_every_failed_constraint)
{
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-epsilon", "0.2", "--max-hours",
                          "2.5", NULL),
                     1);
    ck_excluded("slow", "ε 0.3 > 0.2; 30.0 virtual hours > 2.5");
    ck_excluded("lean", "ε 2 > 0.2; 5.0 virtual hours > 2.5");
    ck_has(out, "\nno variant reaches auc 0.75 within the constraints\n");
}
END_TEST

START_TEST(plan_none_reached_exits_1)
{
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.99", NULL), 1);
    ck_has(out, "\nno variant reaches auc 0.99 within the constraints\n");
    ck_excluded("fast", "never reached auc 0.99 (best 0.8 after 4 rounds)");
    ck_assert_ptr_null(strstr(out, "recommended"));
    ck_assert_str_eq(errout, "");
}
END_TEST

START_TEST(plan_lower_is_better_target)
{
    ck_assert_int_eq(plan(dbpath, "--target", "loss=0.5", NULL), 0);
    ck_has(out, "which variant reaches loss <= 0.5 in the fewest virtual hours?");
    ck_has(out, "recommended: fast: reaches loss 0.5 in 3.0 virtual hours, the only feasible"
                " variant\n");
    ck_excluded("lean", "loss never evaluated on the whole test set (evaluated: auc)");
    /* a best value that rounds to the target gets the digits that show it missed */
    ck_assert_int_eq(plan(dbpath, "--target", "loss=0.35", NULL), 1);
    ck_excluded("fast", "never reached loss 0.35 (best 0.3504 after 4 rounds)");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.7311", NULL), 0);
    ck_excluded("weak", "never reached auc 0.7311 (best 0.731 after 6 rounds)");
}
END_TEST

/* A lower-is-better metric of the table (brier) is a target at or below: falling 0.3, 0.2, 0.1
 * reaches 0.15 in round 3, not in round 1 as a higher-is-better metric would. */
START_TEST(plan_brier_is_lower_is_better)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_OK);
    fs_db_run run = {.name = "sweep",
                     .scenario_json = "{}",
                     .seed = 1,
                     .variant = "ctr",
                     .fedsim_version = "test",
                     .threads = 1,
                     .host = "h"};
    int64_t id;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    for (int n = 1; n <= 3; n++) {
        fs_db_round r = {.round = n,
                         .t_start = (int64_t)((n - 1) * US_PER_H),
                         .t_end = (int64_t)(n * US_PER_H),
                         .selected = 10,
                         .reported = 10,
                         .bytes_up = 100,
                         .bytes_down = 100,
                         .train_loss = NAN,
                         .epsilon = NAN,
                         .compute_s = NAN,
                         .online_share = 1,
                         .wall_s = 0.0};
        fs_db_eval e = {"all", "brier", 0.4 - 0.1 * n};
        ck_assert_int_eq(fs_db_write_round(db, id, &r, NULL, 0, &e, 1, &err), FS_OK);
    }
    ck_assert_int_eq(fs_db_finish_run(db, id, "done", 1.0, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "brier=0.15", NULL), 0);
    ck_has(out, "which variant reaches brier <= 0.15 in the fewest virtual hours?");
    ck_has(out, "recommended: ctr: reaches brier 0.15 in 3.0 virtual hours");
}
END_TEST

START_TEST(plan_empty_database_exits_1)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_OK);
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 1);
    ck_has(out, "(0 variants, latest run of each)");
    ck_has(out, "\nno runs in ");
}
END_TEST

/* ---- energy: rounds.energy_j and client_energy filled with sqlite on the built sweep. Per round
 * fast 100 J, lean 40 J, leaky 500 J, slow 10 J, nodp 1000 J; so to the target (round 3, 5, 2, 3,
 * 1) fast 300 J, lean 200 J, leaky 1000 J, slow 30 J, nodp 1000 J. Client-days (day 0 only, all
 * runs end within 30 h; slow's target round 3 ends at 30 h = day 1): 20 rows of k J, k = 1..20,
 * scaled per variant: p95 (nearest rank, the 19th) = 19 x scale, max = 20 x scale. Scales:
 * fast 10 (p95 190 J), lean 20 (380 J), leaky 1, slow 5 (95 J), nodp 100 (1.9 kJ). */
/* The sweep's runs record real energy: the energy tests start from a file without any. */
static void clear_energy(void)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "UPDATE rounds SET energy_j = NULL;"
                                  "UPDATE participation SET energy_j = NULL;"
                                  "DELETE FROM client_energy_rounds;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
}

static void add_energy(void)
{
    clear_energy();
    static const struct {
        const char *label;
        double per_round, scale;
    } e[] = {{"fast", 100, 10}, {"lean", 40, 20}, {"leaky", 500, 1}, {"slow", 10, 5},
             {"nodp", 1000, 100}};
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    for (size_t i = 0; i < sizeof e / sizeof *e; i++) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "UPDATE rounds SET energy_j = %g WHERE run_id IN (SELECT run_id FROM runs"
                 " WHERE variant = '%s');"
                 "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 20)"
                 " INSERT INTO client_energy_rounds(run_id, client_id, day, energy_j)"
                 " SELECT u.run_id, k.n, 0, k.n * %g FROM runs u, k"
                 " WHERE u.variant = '%s';",
                 e[i].per_round, e[i].label, e[i].scale, e[i].label);
        ck_assert_int_eq(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(c);
}

START_TEST(plan_ranks_by_energy)
{
    add_energy();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "energy", NULL), 0);
    ck_has(out, "which variant reaches auc >= 0.75 with the least energy?");
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "slow,lean,fast,leaky,nodp,"); /* 1 kJ ties: leaky has the lower ε */
    ck_has(out, "     energy  J/device/day\n");
    ck_has(out, "      30 J          95 J\n");
    ck_has(out, "recommended: slow: reaches auc 0.75 with 30 J of energy, the least of 5 feasible"
                " variants\n");
}
END_TEST

START_TEST(plan_applies_energy_per_device_cap)
{
    add_energy();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-energy-per-device", "200", NULL),
                     0);
    ck_has(out, "with at most 200 J per device per day?");
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "leaky,fast,slow,");
    ck_excluded("lean", "380 J per device per day (p95; max 400 J) > 200 J");
    ck_excluded("nodp", "1.9 kJ per device per day (p95; max 2 kJ) > 200 J");
    /* a variant without energy records cannot be shown to fit */
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "DELETE FROM client_energy_rounds WHERE run_id IN (SELECT run_id FROM"
                                  " runs WHERE variant = 'fast')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-energy-per-device=200", NULL), 0);
    ck_excluded("fast", "no per-device energy recorded, --max-energy-per-device 200");
}
END_TEST

START_TEST(plan_energy_without_records)
{
    /* no energy in the file: --by energy ranks on what else there is, the cap excludes all */
    clear_energy();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "energy", NULL), 0);
    ck_has(out, "energy not recorded; first of 5 feasible variants\n");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-energy-per-device", "1e9", NULL),
                     1);
    ck_excluded("slow", "no per-device energy recorded, --max-energy-per-device 1e+09");
}
END_TEST

/* Who trains: every run's first eval.segments group is "region", 50 A and 50 B clients; the
 * reports over the whole run are fast A 10 B 10 (TVD 0), lean A 16 B 4 (TVD 0.3), slow A 12
 * B 8 (TVD 0.1); leaky and nodp recorded no mix. */
static void add_bias(void)
{
    static const struct {
        const char *label;
        int a, b;
    } mix[] = {{"fast", 10, 10}, {"lean", 16, 4}, {"slow", 12, 8}};
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE runs SET scenario_json ="
                                     " '{\"eval\": {\"segments\": [\"region\", \"device\"]}}'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    for (size_t i = 0; i < sizeof mix / sizeof *mix; i++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "INSERT INTO participation_mix SELECT run_id, 0, 'region', l, 'population', 50"
                 " FROM runs, (SELECT 'A' AS l UNION ALL SELECT 'B') WHERE variant = '%s';"
                 "INSERT INTO participation_mix SELECT run_id, 1, 'region', 'A', 'reported', %d"
                 " FROM runs WHERE variant = '%s';"
                 "INSERT INTO participation_mix SELECT run_id, 2, 'region', 'B', 'reported', %d"
                 " FROM runs WHERE variant = '%s';"
                 /* a second group, far off: --max-bias looks at the first one only */
                 "INSERT INTO participation_mix SELECT run_id, 0, 'device', 'x', 'population', 9"
                 " FROM runs WHERE variant = '%s';"
                 "INSERT INTO participation_mix SELECT run_id, 0, 'device', 'y', 'population', 1"
                 " FROM runs WHERE variant = '%s';"
                 "INSERT INTO participation_mix SELECT run_id, 1, 'device', 'y', 'reported', 5"
                 " FROM runs WHERE variant = '%s';",
                 mix[i].label, mix[i].a, mix[i].label, mix[i].b, mix[i].label, mix[i].label,
                 mix[i].label, mix[i].label);
        ck_assert_msg(sqlite3_exec(c, sql, NULL, NULL, NULL) == SQLITE_OK, "%s",
                      sqlite3_errmsg(c));
    }
    sqlite3_close(c);
}

START_TEST(plan_applies_selection_bias_cap)
{
    add_bias();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-bias", "0.15", NULL), 0);
    ck_has(out, "with reports within TVD 0.15 of the population?");
    char order[128];
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "fast,slow,");
    ck_excluded("lean", "reported mix TVD 0.3 > 0.15");
    ck_excluded("leaky", "no selection bias recorded (no eval.segments, or written before schema"
                         " version 6), --max-bias 0.15");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-bias=0.05", NULL), 0);
    table_order(order, sizeof order);
    ck_assert_str_eq(order, "fast,");
    ck_excluded("slow", "reported mix TVD 0.1 > 0.05");
    static const char *const bad[] = {"-0.1", "1.5", "x"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-bias", bad[k], NULL), 2);
        char want[160];
        snprintf(want, sizeof want,
                 "fedsim: error: --max-bias: expected a total variation distance in [0, 1],"
                 " found \"%s\"\n",
                 bad[k]);
        ck_has(errout, want);
    }
}
END_TEST

START_TEST(plan_bad_energy_cap_exit_2)
{
    static const char *const bad[] = {"0", "-5", "lots", "5J"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-energy-per-device", bad[k],
                              NULL),
                         2);
        char want[160];
        snprintf(want, sizeof want,
                 "fedsim: error: --max-energy-per-device: expected a number of joules > 0,"
                 " found \"%s\"\n",
                 bad[k]);
        ck_has(errout, want);
    }
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-energy-per-device", NULL), 2);
    ck_has(errout, "fedsim: error: --max-energy-per-device: expected a number of joules > 0,"
                   " found nothing\n");
}
END_TEST

START_TEST(plan_bad_arguments_exit_2)
{
    ck_assert_int_eq(plan(dbpath, NULL), 2);
    ck_has(errout, "fedsim: error: --target: expected METRIC=VALUE with a number VALUE, e.g."
                   " auc=0.75, found nothing\n");
    ck_has(errout, "usage: fedsim plan DB --target METRIC=VALUE");
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(plan(dbpath, "--target", "auc", "--by", "speed", "--max-bytes-per-client",
                          "5XB", "--max-hours", "0", "--max-epsilon", "-1", NULL),
                     2);
    ck_has(errout, "fedsim: error: --target: expected METRIC=VALUE with a number VALUE, e.g."
                   " auc=0.75, found \"auc\"\n");
    ck_has(errout, "fedsim: error: --by: expected hours, bytes, device-hours, epsilon or energy, found"
                   " \"speed\"\n");
    ck_has(errout, "fedsim: error: --max-bytes-per-client: expected a size such as 800KB, 5MB"
                   " or 1.5GiB, found \"5XB\"\n");
    ck_has(errout, "fedsim: error: --max-hours: expected a number > 0, found \"0\"\n");
    ck_has(errout, "fedsim: error: --max-epsilon: expected a number >= 0, found \"-1\"\n");
    ck_assert_int_eq(plan("--target", "auc=0.75", "--bogus", "a.db", "b.db", "--max-hours",
                          NULL),
                     2);
    ck_has(errout, "fedsim: error: plan: expected --target, --sustain, --max-epsilon,"
                   " --max-hours, --max-bytes-per-client, --max-energy-per-device, --max-bias,"
                   " --min-reach or --by, found \"--bogus\"\n");
    ck_has(errout, "fedsim: error: plan: expected one results database, found \"b.db\"\n");
    ck_has(errout, "fedsim: error: --max-hours: expected a number > 0, found nothing\n");
    ck_assert_int_eq(plan("--target", "auc=0.75", NULL), 2);
    ck_has(errout, "fedsim: error: plan: expected a results database (DB), found nothing\n");
    ck_assert_int_eq(plan(dbpath, "--by", "hours", "--by", "bytes", "--target=x=1", NULL), 2);
    ck_has(errout, "fedsim: error: --by: expected once, found twice\n");
    ck_assert_int_eq(plan("--help", NULL), 0);
    ck_has(out, "usage: fedsim plan DB");
}
END_TEST

START_TEST(plan_missing_database_exits_3_and_creates_nothing)
{
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.sqlite", tmpdir);
    ck_assert_int_eq(plan(missing, "--target", "auc=0.75", NULL), 3);
    char want[512];
    snprintf(want, sizeof want,
             "fedsim: error: %s: cannot open results database: No such file or directory\n",
             missing);
    ck_assert_str_eq(errout, want);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(access(missing, F_OK), -1);
    ck_assert_int_eq(plan(tmpdir, "--target", "auc=0.75", NULL), 3);
    ck_has(errout, "cannot open results database: not a regular file\n");
}
END_TEST

START_TEST(plan_unreadable_database_exits_3)
{
    FILE *f = fopen(dbpath, "w");
    ck_assert_ptr_nonnull(f);
    fputs("this is not a database, just some text long enough to fill a header......\n", f);
    fclose(f);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 3);
    char want[512];
    snprintf(want, sizeof want,
             "fedsim: error: %s: reading results database: file is not a database\n", dbpath);
    ck_assert_str_eq(errout, want);
}
END_TEST

START_TEST(plan_other_schema_version_exits_3)
{
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c,
                                  "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                                  "INSERT INTO meta VALUES('schema_version', '1');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "CREATE TABLE runs(x);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 3);
    char want[512];
    snprintf(want, sizeof want,
             "fedsim: error: %s: results database has schema version 1, this fedsim reads"
             " versions 2 to 6\n",
             dbpath);
    ck_assert_str_eq(errout, want);
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "DROP TABLE meta;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 3);
    ck_has(errout, "not a fedsim results database (no meta table)\n");
}
END_TEST

START_TEST(plan_parse_size_units)
{
    double b = -1;
    ck_assert(fs_plan_parse_size("800", &b) && b == 800);
    ck_assert(fs_plan_parse_size("5MB", &b) && b == 5e6);
    ck_assert(fs_plan_parse_size("5 mb", &b) && b == 5e6);
    ck_assert(fs_plan_parse_size("2KiB", &b) && b == 2048);
    ck_assert(fs_plan_parse_size("1.5GiB", &b) && b == 1.5 * 1073741824.0);
    ck_assert(fs_plan_parse_size("3GB", &b) && b == 3e9);
    ck_assert(fs_plan_parse_size("7B", &b) && b == 7);
    b = 42;
    ck_assert(!fs_plan_parse_size("-1MB", &b));
    ck_assert(!fs_plan_parse_size("5XB", &b));
    ck_assert(!fs_plan_parse_size("MB", &b));
    ck_assert(!fs_plan_parse_size("", &b));
    ck_assert(!fs_plan_parse_size("inf", &b));
    ck_assert(!fs_plan_parse_size("5 ", &b));
    ck_assert(b == 42);
}
END_TEST

/* ---- replicated sweeps */

/* One run of a (variant, replicate): rounds of equal length `hours` and bytes, auc after each
 * round (0 ends the list), ε per round (NaN: none). */
typedef struct rep_run {
    const char *label;
    int replicate;
    double hours;
    int64_t bytes;
    double eps;
    double auc[8];
    const char *json;          /* scenario_json; NULL: "{}" */
    const char *target_metric; /* the run's own eval.target, NULL: none */
    double target_value;
    int sustain;
} rep_run;

#define REP(label, r, hours, bytes, eps, ...)                                                   \
    {label, r, hours, bytes, eps, {__VA_ARGS__}, NULL, NULL, 0, 0}

static void write_rep(fs_db *db, const rep_run *v)
{
    fs_db_run run = {.name = "sweep", .scenario_json = v->json ? v->json : "{}", .seed = 1,
                     .variant = v->label, .fedsim_version = "test", .threads = 1, .host = "h",
                     .replicate = v->replicate, .population_seed = 1,
                     .target_metric = v->target_metric, .target_value = v->target_value,
                     .target_sustain = v->sustain, .headline_metric = "auc"};
    fs_err err;
    fs_err_init(&err, NULL);
    int64_t id;
    ck_assert_int_eq(fs_db_begin_run(db, &run, &id, &err), FS_OK);
    for (int n = 1; n <= 8 && v->auc[n - 1] > 0; n++) {
        fs_db_round r = {.round = n, .t_start = llround((n - 1) * v->hours * US_PER_H),
                         .t_end = llround(n * v->hours * US_PER_H), .selected = 10,
                         .reported = 10, .bytes_up = v->bytes / 2, .bytes_down = v->bytes / 2,
                         .train_loss = NAN, .epsilon = isnan(v->eps) ? NAN : n * v->eps,
                         .compute_s = 360.0, .online_share = 0.5, .wall_s = 0.0};
        fs_db_eval e = {"all", "auc", v->auc[n - 1]};
        ck_assert_int_eq(fs_db_write_round(db, id, &r, NULL, 0, &e, 1, &err), FS_OK);
    }
    ck_assert_int_eq(fs_db_finish_run(db, id, "done", 1.0, &err), FS_OK);
}

static fs_db *open_db(void)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    ck_assert_int_eq(fs_db_open(dbpath, &db, &err), FS_OK);
    return db;
}

/* Seed-to-seed spread (the world each replicate draws) shared by every variant, and small
 * noise of each variant's own. */
static const double world[10] = {5.25, -4.25, 1.0, 7.5, -6.5, 3.0, -0.75, -2.75, 6.0, -2.25};
static const double own_a[10] = {0.05, -0.08, 0.02, -0.01, -0.04, 0.01, -0.07, 0.06, -0.02, 0.03};
static const double own_b[10] = {-0.03, 0.06, -0.09, 0.02, 0.08, -0.05, 0.04, -0.01, 0.07, -0.06};

/* Per replicate, every variant reaches auc 0.75 after one round of `hours`:
 *   leaky   10 + world + own_a, ε 2.89   \  the same distribution: leaky leads on the mean
 *   private 10 + world + own_b, ε 0.755  /  by a hair, private wins on ε
 *   slow    14 + world, ε 0.5              clearly slower, in every replicate */
static void build_replicated(void)
{
    fs_db *db = open_db();
    for (int r = 1; r <= 10; r++) {
        rep_run v[3] = {
            REP("leaky", r, 10 + world[r - 1] + own_a[r - 1], 1000, 2.89, 0.8, 0.8),
            REP("private", r, 10 + world[r - 1] + own_b[r - 1], 1000, 0.755, 0.8, 0.8),
            REP("slow", r, 14 + world[r - 1], 1000, 0.5, 0.8, 0.8),
        };
        for (int k = 0; k < 3; k++) write_rep(db, &v[k]);
    }
    fs_db_close(db);
}

START_TEST(plan_replicates_same_distribution_indistinguishable)
{
    build_replicated();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_assert_str_eq(errout, "");
    char want[2048];
    snprintf(want, sizeof want,
             "question: which variant reaches auc >= 0.75 in the fewest virtual hours?\n"
             "results:  %s (3 variants, up to 10 replicates, latest run of each variant and"
             " replicate)\n"
             "feasible: within the limits in at least 90%% of its replicates (--min-reach 0.9),"
             " ε in all; costs: mean ± 95%% half-width (replicates that reached)\n"
             "\n"
             "  variant  reached  rounds          virtual h              bytes        device h"
             "               ε\n"
             "* private    10/10     1.0  10.63 ± 3.36 (10)  1.0 kB ± 0 B (10)  0.1 ± 0.0 (10)"
             "  0.755 ± 0 (10)\n"
             "  leaky      10/10     1.0  10.62 ± 3.38 (10)  1.0 kB ± 0 B (10)  0.1 ± 0.0 (10)"
             "   2.89 ± 0 (10)\n"
             "  slow       10/10     1.0  14.62 ± 3.37 (10)  1.0 kB ± 0 B (10)  0.1 ± 0.0 (10)"
             "    0.5 ± 0 (10)\n"
             "\n"
             "compared with private on the same replicates (difference in virtual hours, mean ±"
             " 95%% half-width (pairs)):\n"
             "  leaky    -0.01 ± 0.07 (10)  indistinguishable; ε decides: 2.89 vs 0.755\n"
             "  slow     +4.00 ± 0.04 (10)\n"
             "\n"
             "* recommended: private: reaches auc 0.75 in 10.63 ± 3.36 virtual hours (10 of 10"
             " replicates), indistinguishable from the fewest of 3 feasible variants (leaky) and"
             " at a lower ε\n",
             dbpath);
    ck_assert_str_eq(out, want);
    /* leaky leads on the mean, by less than the paired spread: never the recommendation */
    ck_assert_ptr_null(strstr(out, "warning: one run per variant"));
}
END_TEST

START_TEST(plan_replicates_clearly_separated_are_not_indistinguishable)
{
    build_replicated();
    /* ε <= 1 leaves private and slow: 4 h apart in every replicate */
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-epsilon", "1", NULL), 0);
    ck_has(out, "\n  slow     +4.00 ± 0.04 (10)\n");
    ck_assert_ptr_null(strstr(out, "indistinguishable"));
    ck_has(out, "* recommended: private: reaches auc 0.75 in 10.63 ± 3.36 virtual hours (10 of"
                " 10 replicates), the fewest of 2 feasible variants\n");
    ck_has(out, "\nexcluded:\n  leaky    ε 2.89 > 1 in 10 of 10 replicates\n");
    /* the unpaired intervals overlap (10.63 ± 3.36 vs 14.62 ± 3.37): only pairing separates */
}
END_TEST

/* "reach" reaches in replicates 1-8 only; "sure" in all ten but slower. */
static void build_reach(void)
{
    fs_db *db = open_db();
    for (int r = 1; r <= 10; r++) {
        rep_run reach = REP("reach", r, 1.0, 100, NAN, r <= 8 ? 0.8 : 0.6, 0.7);
        rep_run sure = REP("sure", r, 3.0, 100, NAN, 0.8, 0.8);
        write_rep(db, &reach);
        write_rep(db, &sure);
    }
    fs_db_close(db);
}

START_TEST(plan_min_reach_decides_feasibility)
{
    build_reach();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_has(out, "* recommended: sure: reaches auc 0.75 in 3.00 ± 0.00 virtual hours (10 of 10"
                " replicates), the only feasible variant\n");
    ck_has(out, "\nexcluded:\n  reach    within the limits in 8 of 10 replicates, --min-reach 0.9"
                " needs 9; never reached auc 0.75 in 2\n");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--min-reach", "0.8", NULL), 0);
    ck_has(out, "\n* reach       8/10     1.0   1.00 ± 0.00 (8)   100 B ± 0 B (8)   0.1 ± 0.0 (8)"
                "  -\n");
    ck_has(out, "* recommended: reach: reaches auc 0.75 in 1.00 ± 0.00 virtual hours (8 of 10"
                " replicates), the fewest of 2 feasible variants\n");
    ck_assert_ptr_null(strstr(out, "excluded"));
    /* the limits count per replicate too: 3 h > 2.5 everywhere for sure */
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-hours", "2.5", NULL), 1);
    ck_has(out, "  sure     within the limits in 0 of 10 replicates, --min-reach 0.9 needs 9;"
                " 3.0 virtual hours > 2.5 in 10 of 10 replicates\n");
}
END_TEST

/* Two single runs that differ only in ε: identical rounds, hours and bytes. The leakier one is
 * written first, so run order alone would pick it. */
START_TEST(plan_exact_ties_go_to_lower_epsilon)
{
    fs_db *db = open_db();
    rep_run v[2] = {REP("z=0.8", 0, 1.0, 500, 2.89 / 3, 0.6, 0.7, 0.8),
                    REP("z=2.0", 0, 1.0, 500, 0.755 / 3, 0.6, 0.7, 0.8)};
    write_rep(db, &v[0]);
    write_rep(db, &v[1]);
    fs_db_close(db);
    static const char *const by[] = {"hours", "bytes", "device-hours"};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(plan(dbpath, "--target", "auc=0.8", "--by", by[k], NULL), 0);
        ck_has(out, "\n* z=2.0  ");
        ck_has(out, "* recommended: z=2.0: ");
        /* the answer says that ε, not the cost, decided */
        ck_has(out, " feasible variants, tied with z=0.8 and at a lower ε\n");
    }
    ck_has(out, "\n* z=2.0         3       3.00       750 B       750 B       0.3   0.755\n");
}
END_TEST

START_TEST(plan_single_runs_warn_about_seed_spread)
{
    build_sweep();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_has(out, "recommended: nodp: reaches auc 0.75 in 1.0 virtual hours, the fewest of 5"
                " feasible variants\nwarning: one run per variant: differences smaller than the"
                " seed-to-seed spread cannot be detected; give the sweep \"replications\":"
                " {\"count\": 5} (sweep.replications) to measure it\n");
    /* no comparison, no warning with a single feasible variant */
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--max-epsilon", "3", "--max-hours",
                          "24", "--max-bytes-per-client", "100B", NULL),
                     0);
    ck_assert_ptr_null(strstr(out, "warning"));
}
END_TEST

/* eval.every_rounds 4 with 1-hour rounds: the target is seen every 4 hours. */
START_TEST(plan_warns_when_lead_is_below_one_evaluation_interval)
{
    static const char json[] = "{\"eval\": {\"every_rounds\": 4}}";
    fs_db *db = open_db();
    rep_run v[3] = {REP("a", 0, 1.0, 100, NAN, 0.6, 0.6, 0.6, 0.8),
                    REP("b", 0, 1.5, 100, NAN, 0.6, 0.6, 0.8),
                    REP("c", 0, 4.0, 100, NAN, 0.6, 0.8)};
    for (int k = 0; k < 3; k++) {
        v[k].json = json;
        write_rep(db, &v[k]);
    }
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    /* a at 4 h, b at 4.5 h; b's interval is 4 x 1.5 h */
    ck_has(out, "warning: a and b differ by 0.50 virtual hours, less than one evaluation"
                " interval (eval.every_rounds 4 × 1.50 virtual hours per round = 6.00 virtual"
                " hours)\n");
    /* bytes: a 400 B at the target, b 300 B, c 200 B; 4 x 100 B per evaluation */
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--by", "bytes", NULL), 0);
    ck_has(out, "warning: c and b differ by 100 B, less than one evaluation interval"
                " (eval.every_rounds 4 × 100 B per round = 400 B)\n");
    /* 3 h apart with 2-hour evaluation intervals: no warning */
    teardown();
    setup();
    db = open_db();
    rep_run w[2] = {REP("e", 0, 1.0, 100, NAN, 0.8),
                    REP("f", 0, 1.0, 100, NAN, 0.6, 0.6, 0.6, 0.8)};
    for (int k = 0; k < 2; k++) {
        w[k].json = "{\"eval\": {\"every_rounds\": 2}}";
        write_rep(db, &w[k]);
    }
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_has(out, "recommended: e: ");
    ck_assert_ptr_null(strstr(out, "evaluation interval"));
}
END_TEST

START_TEST(plan_target_never_evaluated_exits_2_with_the_list)
{
    build_sweep();
    ck_assert_int_eq(plan(dbpath, "--target", "accuracy=0.9", NULL), 2);
    char want[512];
    snprintf(want, sizeof want,
             "fedsim: error: %s: --target: expected a metric evaluated on the whole test set"
             " (auc, loss), found \"accuracy\"\n",
             dbpath);
    ck_assert_str_eq(errout, want);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(plan_bad_min_reach_and_sustain_exit_2)
{
    build_sweep();
    static const char *const bad[] = {"0", "1.5", "-0.2", "x", "nan"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--min-reach", bad[k], NULL), 2);
        char want[256];
        snprintf(want, sizeof want,
                 "fedsim: error: --min-reach: expected a share > 0 and <= 1, e.g. 0.9, found"
                 " \"%s\"\n",
                 bad[k]);
        ck_has(errout, want);
        ck_assert_str_eq(out, "");
    }
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--sustain", "0", "--min-reach=1",
                          NULL),
                     2);
    ck_assert_str_eq(errout, "fedsim: error: --sustain: expected an integer >= 1, found \"0\"\n"
                             "usage: fedsim plan DB --target METRIC=VALUE [--sustain K]"
                             " [--max-epsilon E] [--max-hours H]\n"
                             "                      [--max-bytes-per-client SIZE]"
                             " [--max-energy-per-device J]\n"
                             "                      [--max-bias TVD] [--min-reach SHARE]\n"
                             "                      [--by hours|bytes|device-hours|epsilon|energy]"
                             "\n");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--sustain=1.5", NULL), 2);
    ck_has(errout, "--sustain: expected an integer >= 1, found \"1.5\"\n");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--min-reach", "1", NULL), 0);
}
END_TEST

/* auc 0.76, 0.7, 0.76, 0.77, 0.78: one evaluation holds at round 1, two or three from round 3,
 * four never. The run's own target is auc >= 0.75 for 2 evaluations. */
START_TEST(plan_sustain_needs_consecutive_evaluations)
{
    fs_db *db = open_db();
    rep_run v = REP("s", 0, 1.0, 100, NAN, 0.76, 0.7, 0.76, 0.77, 0.78);
    v.target_metric = "auc";
    v.target_value = 0.75;
    v.sustain = 2;
    write_rep(db, &v);
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0); /* the run's own: 2 */
    ck_has(out, "question: which variant reaches auc >= 0.75 for 2 evaluations in a row in the"
                " fewest virtual hours?\n");
    ck_has(out, "\n* s             3       3.00");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--sustain", "1", NULL), 0);
    ck_has(out, "question: which variant reaches auc >= 0.75 in the fewest virtual hours?\n");
    ck_has(out, "\n* s             1       1.00");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.76", NULL), 0); /* not its own target: 1 */
    ck_has(out, "\n* s             1       1.00");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--sustain", "3", NULL), 0);
    ck_has(out, "\n* s             3       3.00");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", "--sustain", "4", NULL), 1);
    ck_has(out, "\n  s        never reached auc 0.75 (best 0.78 after 5 rounds)\n");
    /* runs asking for different sustains: each is judged by its own */
    db = open_db();
    rep_run t = REP("t", 0, 1.0, 100, NAN, 0.76, 0.7, 0.76, 0.77, 0.78);
    t.target_metric = "auc";
    t.target_value = 0.75;
    t.sustain = 3;
    write_rep(db, &t);
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_has(out, "question: which variant reaches auc >= 0.75 (held as long as each run's"
                " eval.target.sustain asks) in the fewest virtual hours?\n");
    ck_has(out, "\n* s             3       3.00");
    ck_has(out, "\n  t             3       3.00");
}
END_TEST

/* tests/fixtures/results_v2.sql: `.dump` of a 3-round run written by the version 2 fedsim
 * (accuracy 0.2056 at round 2, 0.2157 at round 3; no replicate or sustain columns). */
START_TEST(plan_reads_version_2_file)
{
    char path[512], *sql = calloc(1, 1 << 16);
    ck_assert_ptr_nonnull(sql);
    snprintf(path, sizeof path, "%s/tests/fixtures/results_v2.sql",
             getenv("FEDSIM_SOURCE_ROOT") ? getenv("FEDSIM_SOURCE_ROOT") : ".");
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fs_test_slurp(f, sql, 1 << 16);
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    free(sql);
    ck_assert_int_eq(plan(dbpath, "--target", "accuracy=0.2", NULL), 0);
    ck_assert_str_eq(errout, "");
    ck_has(out, "(1 variant, latest run of each)\n");
    ck_has(out, "\n* golden-small       2       0.02");
    ck_has(out, "* recommended: golden-small: reaches accuracy 0.2 in 0.0 virtual hours, the"
                " only feasible variant\n");
    ck_assert_int_eq(plan(dbpath, "--target", "accuracy=0.21", "--sustain", "2", NULL), 1);
    ck_has(out, "never reached accuracy 0.21 (best 0.216 after 3 rounds)");
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.7", NULL), 2);
    ck_has(errout, "(accuracy, loss), found \"auc\"\n");
    /* still version 2: plan never writes */
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(c, "SELECT value FROM meta WHERE key = 'schema_version'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "2");
    sqlite3_finalize(st);
    sqlite3_close(c);
}
END_TEST

/* A latest replicate that is unfinished excludes the variant; older runs of a (variant,
 * replicate) are superseded by the newer one. */
START_TEST(plan_replicates_latest_run_and_unfinished)
{
    fs_db *db = open_db();
    for (int r = 1; r <= 3; r++) {
        rep_run a = REP("a", r, 1.0 + 0.1 * r, 100, NAN, 0.8);
        write_rep(db, &a);
    }
    rep_run redo = REP("a", 2, 5.0, 100, NAN, 0.8); /* replicate 2 again, slower */
    write_rep(db, &redo);
    fs_db_close(db);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    ck_has(out, "\n* a            3/3     1.0  2.47 ± 5.46 (3)"); /* 1.1, 5.0 (the redo), 1.3 */
    ck_has(out, "(1 older run of the same variants ignored)");
    sqlite3 *c = NULL;
    ck_assert_int_eq(sqlite3_open(dbpath, &c), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(c, "UPDATE runs SET status = 'interrupted' WHERE run_id = 4",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 1);
    ck_has(out, "\n  a        not finished (status interrupted in 1 of 3 replicates)\n");
}
END_TEST

/* fs_plan_answer writes exactly what the command prints. */
START_TEST(plan_answer_matches_the_command)
{
    build_replicated();
    ck_assert_int_eq(plan(dbpath, "--target", "auc=0.75", NULL), 0);
    FILE *fo = tmpfile(), *fe = tmpfile();
    ck_assert(fo && fe);
    ck_assert_int_eq(fs_plan_answer(dbpath, "auc", 0.75, 0, fo, fe), 0);
    static char got[16384], gerr[512];
    fs_test_slurp(fo, got, sizeof got);
    fs_test_slurp(fe, gerr, sizeof gerr);
    ck_assert_str_eq(got, out);
    ck_assert_str_eq(gerr, "");
    fo = tmpfile();
    fe = tmpfile();
    ck_assert_int_eq(fs_plan_answer(dbpath, "rmse", 0.8, 2, fo, fe), 2);
    fs_test_slurp(fo, got, sizeof got);
    fs_test_slurp(fe, gerr, sizeof gerr);
    ck_assert_str_eq(got, "");
    ck_has(gerr, "--target: expected a metric evaluated on the whole test set (auc), found"
                 " \"rmse\"\n");
}
END_TEST

/* A sweep's run ids depend on the jobs alone: new jobs take the ids after the file's largest
 * in job order (what --jobs 1 gave them), done ones none, unfinished ones (which keep their run
 * when they resume it) the ids after those, so that no two children can ever ask for one id. */
START_TEST(sweep_run_ids_follow_job_order)
{
    unsigned char state[] = {FS_SWEEP_DONE, FS_SWEEP_NEW, FS_SWEEP_UNFINISHED, FS_SWEEP_NEW,
                             FS_SWEEP_UNFINISHED, FS_SWEEP_NEW};
    int64_t ids[6], want[6] = {0, 10, 13, 11, 14, 12};
    fs_sweep_run_ids(state, 6, 9, ids);
    for (int j = 0; j < 6; j++)
        ck_assert_int_eq(ids[j], want[j]);
    unsigned char fresh[] = {FS_SWEEP_NEW, FS_SWEEP_NEW, FS_SWEEP_NEW};
    fs_sweep_run_ids(fresh, 3, 0, ids); /* a new file: 1, 2, 3 */
    for (int j = 0; j < 3; j++)
        ck_assert_int_eq(ids[j], j + 1);
}
END_TEST

static Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("sweep");
    tcase_add_checked_fixture(tc, sweep_setup, teardown);
    tcase_add_test(tc, plan_ranks_by_hours_with_constraints);
    tcase_add_test(tc, sweep_run_ids_follow_job_order);
    tcase_add_test(tc, plan_unconstrained_ranks_every_finisher);
    tcase_add_test(tc, plan_ranks_by_bytes);
    tcase_add_test(tc, plan_ranks_by_device_hours_and_epsilon);
    tcase_add_test(tc, plan_applies_bytes_per_participation_cap);
    tcase_add_test(tc, plan_ranks_by_energy);
    tcase_add_test(tc, plan_applies_energy_per_device_cap);
    tcase_add_test(tc, plan_energy_without_records);
    tcase_add_test(tc, plan_bad_energy_cap_exit_2);
    tcase_add_test(tc, plan_applies_selection_bias_cap);
    tcase_add_test(tc, plan_lists_every_failed_constraint);
    tcase_add_test(tc, plan_none_reached_exits_1);
    tcase_add_test(tc, plan_lower_is_better_target);
    tcase_add_test(tc, plan_bad_arguments_exit_2);
    suite_add_tcase(s, tc);
    TCase *te = tcase_create("files");
    tcase_add_checked_fixture(te, setup, teardown);
    tcase_add_test(te, plan_brier_is_lower_is_better);
    tcase_add_test(te, plan_empty_database_exits_1);
    tcase_add_test(te, plan_missing_database_exits_3_and_creates_nothing);
    tcase_add_test(te, plan_unreadable_database_exits_3);
    tcase_add_test(te, plan_other_schema_version_exits_3);
    tcase_add_test(te, plan_parse_size_units);
    suite_add_tcase(s, te);
    TCase *tr = tcase_create("replicates");
    tcase_add_checked_fixture(tr, setup, teardown);
    tcase_add_test(tr, plan_replicates_same_distribution_indistinguishable);
    tcase_add_test(tr, plan_replicates_clearly_separated_are_not_indistinguishable);
    tcase_add_test(tr, plan_min_reach_decides_feasibility);
    tcase_add_test(tr, plan_exact_ties_go_to_lower_epsilon);
    tcase_add_test(tr, plan_single_runs_warn_about_seed_spread);
    tcase_add_test(tr, plan_warns_when_lead_is_below_one_evaluation_interval);
    tcase_add_test(tr, plan_target_never_evaluated_exits_2_with_the_list);
    tcase_add_test(tr, plan_bad_min_reach_and_sustain_exit_2);
    tcase_add_test(tr, plan_sustain_needs_consecutive_evaluations);
    tcase_add_test(tr, plan_reads_version_2_file);
    tcase_add_test(tr, plan_replicates_latest_run_and_unfinished);
    tcase_add_test(tr, plan_answer_matches_the_command);
    suite_add_tcase(s, tr);
    return s;
}

FS_TEST_MAIN(plan_suite)
