/* Tests of fs_trace: look-ups at interval edges (start inclusive, end exclusive) and across the
 * wrap of a periodic trace, the client-to-key mapping, capacity rows, and every bad-trace case
 * with its exact message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_trace.h"
#include "fs_test.h"

#define S INT64_C(1000000)

static char path[64];

static const char *write_file(const char *text, size_t len)
{
    snprintf(path, sizeof path, "trace_test_%d.csv", (int)getpid());
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

static int load(const char *text, enum fs_trace_kind kind, fs_trace *t, fs_err *err)
{
    fs_err_init(err, NULL);
    return fs_trace_load(write_file(text, strlen(text)), kind, t, err);
}

/* The first message a bad trace gives, with the temporary file's name replaced by "T". */
static void expect_error(const char *text, size_t len, enum fs_trace_kind kind, const char *msg)
{
    fs_trace t;
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_trace_load(write_file(text, len), kind, &t, &err);
    ck_assert_int_ne(rc, FS_OK);
    ck_assert_int_ge(err.n_msgs, 1); /* a row's every bad field is reported: check the first */
    size_t n = strlen(path);
    ck_assert_msg(!strncmp(err.msgs[0], path, n), "%s", err.msgs[0]);
    char got[FS_ERR_MSG_LEN];
    snprintf(got, sizeof got, "T%s", err.msgs[0] + n);
    ck_assert_str_eq(got, msg);
    remove(path);
}
#define BAD_AVAIL(text, msg) expect_error(text, strlen(text), FS_TRACE_AVAIL, msg)
#define BAD_CAP(text, msg) expect_error(text, strlen(text), FS_TRACE_CAPACITY, msg)

START_TEST(trace_edges_start_inclusive_end_exclusive)
{
    fs_trace t;
    fs_err err;
    ck_assert_int_eq(load("# fedsim-avail v1\na,10,20,charging\na,30,40.5\nb,0,5,charging+wifi\n",
                          FS_TRACE_AVAIL, &t, &err),
                     FS_OK);
    ck_assert_uint_eq(t.n_keys, 2);
    ck_assert_str_eq(fs_trace_key_name(&t, 1), "b");
    ck_assert(!fs_trace_online(&t, 0, 10 * S - 1));
    ck_assert(fs_trace_online(&t, 0, 10 * S));
    ck_assert(fs_trace_online(&t, 0, 20 * S - 1));
    ck_assert(!fs_trace_online(&t, 0, 20 * S));
    ck_assert(fs_trace_online(&t, 0, 40 * S + S / 2 - 1));
    ck_assert(!fs_trace_online(&t, 0, 40 * S + S / 2));
    ck_assert_int_eq(fs_trace_offline_at(&t, 0, 15 * S), 20 * S);
    ck_assert_int_eq(fs_trace_next_online(&t, 0, 20 * S), 30 * S);
    ck_assert_int_eq(fs_trace_next_online(&t, 0, 0), 10 * S);
    ck_assert_int_eq(fs_trace_next_online(&t, 0, 50 * S), INT64_MAX); /* no period: never */
    ck_assert_uint_eq(fs_trace_state_at(&t, 0, 12 * S),
                      FS_TRACE_ONLINE | FS_TRACE_CHARGING | FS_TRACE_KNOWN);
    ck_assert_uint_eq(fs_trace_state_at(&t, 0, 35 * S), FS_TRACE_ONLINE); /* state unknown */
    ck_assert_uint_eq(fs_trace_state_at(&t, 1, 0),
                      FS_TRACE_ONLINE | FS_TRACE_CHARGING | FS_TRACE_UNMETERED | FS_TRACE_KNOWN);
    ck_assert_uint_eq(fs_trace_state_at(&t, 1, 5 * S), 0);
    fs_trace_fini(&t);
    remove(path);
}
END_TEST

START_TEST(trace_wraps_modulo_the_period)
{
    fs_trace t;
    fs_err err;
    /* a: online over the wrap (90..100 then 0..10); b: adjacent intervals form one session;
     * c: online the whole period */
    ck_assert_int_eq(load("# fedsim-avail v1\n# period_s=100\na,0,10\na,50,60\na,90,100\n"
                          "b,20,30,idle\nb,30,40,charging\nc,0,100\n",
                          FS_TRACE_AVAIL, &t, &err),
                     FS_OK);
    ck_assert_int_eq(t.period_us, 100 * S);
    ck_assert(fs_trace_online(&t, 0, 205 * S));
    ck_assert(!fs_trace_online(&t, 0, 210 * S));
    ck_assert_int_eq(fs_trace_offline_at(&t, 0, 195 * S), 210 * S); /* across the wrap */
    ck_assert_int_eq(fs_trace_offline_at(&t, 0, 255 * S), 260 * S);
    ck_assert_int_eq(fs_trace_next_online(&t, 0, 165 * S), 190 * S);
    ck_assert_int_eq(fs_trace_offline_at(&t, 1, 125 * S), 140 * S); /* adjacent: one session */
    ck_assert_uint_eq(fs_trace_state_at(&t, 1, 135 * S),
                      FS_TRACE_ONLINE | FS_TRACE_CHARGING | FS_TRACE_KNOWN);
    ck_assert_int_eq(fs_trace_next_online(&t, 1, 145 * S), 220 * S); /* next period */
    ck_assert_int_eq(fs_trace_offline_at(&t, 2, 12345 * S), INT64_MAX);
    fs_trace_fini(&t);
    remove(path);
}
END_TEST

/* The battery's refill reads the charging seconds of an interval of time: exact overlaps, also
 * across the wrap, and only of intervals whose state says charging. */
START_TEST(trace_charging_seconds_across_the_wrap)
{
    fs_trace t;
    fs_err err;
    ck_assert_int_eq(load("# fedsim-avail v1\n# period_s=50\na,10,20,charging\na,30,40,wifi\n"
                          "b,0,50,charging+wifi\n",
                          FS_TRACE_AVAIL, &t, &err),
                     FS_OK);
    ck_assert(fs_trace_has_states(&t));
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_CHARGING, 0, 50 * S), 10.0);
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_CHARGING, 15 * S, 35 * S), 5.0);
    /* 15..20, then 60..70 and 110..112 in the next periods */
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_CHARGING, 15 * S, 112 * S), 17.0);
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_UNMETERED, 0, 100 * S), 20.0);
    ck_assert_double_eq(fs_trace_seconds_in(&t, 1, FS_TRACE_CHARGING, 25 * S, 75 * S), 50.0);
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_CHARGING, 40 * S, 40 * S), 0.0);
    fs_trace_fini(&t);
    ck_assert_int_eq(load("# fedsim-avail v1\na,10,20\n", FS_TRACE_AVAIL, &t, &err), FS_OK);
    ck_assert(!fs_trace_has_states(&t));
    ck_assert_double_eq(fs_trace_seconds_in(&t, 0, FS_TRACE_CHARGING, 0, 100 * S), 0.0);
    fs_trace_fini(&t);
    remove(path);
}
END_TEST

START_TEST(trace_capacity_rows_and_models)
{
    fs_trace t;
    fs_err err;
    ck_assert_int_eq(load("# fedsim-capacity v1\n7,35.5,1200,4800,Pixel 3\n9,80,300,900\n",
                          FS_TRACE_CAPACITY, &t, &err),
                     FS_OK);
    ck_assert_uint_eq(t.n_keys, 2);
    ck_assert_double_eq(t.cap[0].compute_ms_per_sample, 35.5);
    ck_assert_double_eq(t.cap[0].downlink_kbps, 4800);
    ck_assert_str_eq(t.names + t.cap[0].model_off, "Pixel 3");
    ck_assert_uint_eq(t.cap[1].model_off, SIZE_MAX);
    fs_trace_fini(&t);
    remove(path);
}
END_TEST

START_TEST(trace_mapping_is_stable)
{
    fs_trace t;
    fs_err err;
    ck_assert_int_eq(load("# fedsim-avail v1\na,0,1\nb,0,1\nc,0,1\n", FS_TRACE_AVAIL, &t, &err),
                     FS_OK);
    ck_assert_uint_eq(fs_trace_assign_key(&t, FS_TRACE_MODULO, 5, 7), 1);
    int seen[3] = {0};
    for (uint64_t c = 0; c < 3000; c++) {
        uint32_t k = fs_trace_assign_key(&t, FS_TRACE_HASH, 42, c);
        ck_assert_uint_lt(k, 3);
        ck_assert_uint_eq(k, fs_trace_assign_key(&t, FS_TRACE_HASH, 42, c)); /* pure */
        seen[k]++;
    }
    for (int k = 0; k < 3; k++) ck_assert_int_gt(seen[k], 900); /* about uniform */
    fs_trace_fini(&t);
    remove(path);
}
END_TEST

START_TEST(trace_bad_cases_have_exact_messages)
{
    BAD_AVAIL("", "T:1: expected the header \"# fedsim-avail v1\", found \"\"");
    BAD_AVAIL("# fedsim-capacity v1\n",
              "T:1: expected the header \"# fedsim-avail v1\", found \"# fedsim-capacity v1\"");
    BAD_AVAIL("# fedsim-avail v1\n", "T:2: expected at least one row, found none");
    BAD_AVAIL("# fedsim-avail v1\na,10,20\na,5,8\n",
              "T:3: expected start_s >= 10 (rows sorted by key, then start_s), found 5");
    BAD_AVAIL("# fedsim-avail v1\na,10,20\na,15,30\n",
              "T:3: expected start_s >= 20 (the end of key \"a\"'s previous interval: intervals "
              "must not overlap), found 15");
    BAD_AVAIL("# fedsim-avail v1\na,0,1\nb,0,1\na,5,6\n",
              "T:4: expected the rows of key \"a\" together (sorted by key, then start_s), found "
              "it again after other keys (first at line 2)");
    BAD_AVAIL("# fedsim-avail v1\na,-1,20\n",
              "T:2: expected a finite number >= 0 for start_s, found \"-1\"");
    BAD_AVAIL("# fedsim-avail v1\na,0,inf\n",
              "T:2: expected a finite number >= 0 for end_s, found \"inf\"");
    BAD_AVAIL("# fedsim-avail v1\na,20,20\n", "T:2: expected end_s > start_s (20), found 20");
    BAD_AVAIL("# fedsim-avail v1\na,1,2,3,4\n",
              "T:2: expected 3 or 4 columns (key,start_s,end_s[,state]), found more");
    BAD_AVAIL("# fedsim-avail v1\nkey,start_s,end_s\n",
              "T:2: expected a finite number >= 0 for start_s, found \"start_s\"");
    BAD_AVAIL("# fedsim-avail v1\na,0,1,sleeping\n",
              "T:2: expected a state of charging, wifi, idle (joined by '+') or empty, found "
              "\"sleeping\"");
    BAD_AVAIL("# fedsim-avail v1\n# period_s=50\na,0,60\n",
              "T:3: expected end_s <= period_s (50), found 60");
    static const char binary[] = "# fedsim-avail v1\na,0\0\1,1\n";
    expect_error(binary, sizeof binary - 1, FS_TRACE_AVAIL,
                 "T:2: expected text, found a control byte 0x00 (a binary file?)");
    char *longline = malloc(10 << 20);
    ck_assert_ptr_nonnull(longline);
    strcpy(longline, "# fedsim-avail v1\n");
    size_t h = strlen(longline);
    memset(longline + h, 'x', (10 << 20) - h - 1);
    longline[(10 << 20) - 1] = '\0';
    BAD_AVAIL(longline, "T:2: expected a line of at most 4096 bytes, found a longer one");
    free(longline);
    BAD_CAP("# fedsim-capacity v1\na,10,0,5\n",
            "T:2: expected compute_ms_per_sample, uplink_kbps and downlink_kbps > 0, found 10, "
            "0, 5");
    BAD_CAP("# fedsim-capacity v1\na,10,1,5\na,3,1,5\n",
            "T:3: expected each key once, found \"a\" again (first at line 2)");
    BAD_CAP("# fedsim-capacity v1\na,10,1\n",
            "T:2: expected 4 or 5 columns (key,compute_ms_per_sample,uplink_kbps,downlink_kbps"
            "[,device_model]), found 3");
}
END_TEST

START_TEST(trace_missing_file_is_io_error)
{
    fs_trace t;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_trace_load("/nonexistent/x.csv", FS_TRACE_AVAIL, &t, &err), FS_EIO);
    ck_assert_str_eq(err.msgs[0],
                     "/nonexistent/x.csv: expected a readable trace file, found none (No such "
                     "file or directory)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, trace_edges_start_inclusive_end_exclusive);
    tcase_add_test(tc, trace_wraps_modulo_the_period);
    tcase_add_test(tc, trace_capacity_rows_and_models);
    tcase_add_test(tc, trace_charging_seconds_across_the_wrap);
    tcase_add_test(tc, trace_mapping_is_stable);
    tcase_add_test(tc, trace_bad_cases_have_exact_messages);
    tcase_add_test(tc, trace_missing_file_is_io_error);
    suite_add_tcase(s, tc);
    return fs_test_run(s);
}
