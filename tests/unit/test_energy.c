/* Tests of fs_energy and eligibility: a participation's energy is the documented formula; the
 * parametric charging follows its local-time window (quarter-hour offsets included); the battery
 * refills while charging and a participation drains it; selection never returns an ineligible
 * client; a quarter-hour offset shifts the diurnal curve by exactly that; a capacity trace
 * sets the links and training speed (fs_pop); the device state follows population_seed only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_avail.h"
#include "fs_device.h"
#include "fs_energy.h"
#include "fs_pop.h"
#include "fs_rng.h"
#include "fs_trace.h"
#include "fs_test.h"
#include "fs_test_scn.h"

#define H FS_US_PER_H

static void scenario(const char *devices, fs_scenario *s)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"e\", \"seed\": 3, \"data\": {\"source\": \"synthetic\", \"clients\": "
             "400}, \"model\": {\"kind\": \"softmax\"}, \"server\": {\"rounds\": 1, "
             "\"clients_per_round\": 1}, \"devices\": %s}",
             devices);
    fs_test_scenario(text, s);
}

START_TEST(energy_of_participation_equals_formula)
{
    fs_energy_class k = {.j_per_gflop = 0.3, .wifi_tx_w = 0.55, .wifi_rx_w = 0.8,
                         .cell_tx_w = 2.0, .cell_rx_w = 1.5, .cell_tail_w = 1.06,
                         .cell_tail_s = 11.6, .battery_wh = 15};
    /* 40 GFLOP, 3 s down, 2 s up: by hand 0.3*40 + 0.8*3 + 0.55*2 = 12 + 2.4 + 1.1 = 15.5 J */
    ck_assert_double_eq_tol(fs_energy_part_j(&k, false, 40, 3, 2, 2), 15.5, 1e-12);
    /* cellular: 12 + 1.5*3 + 2*2 + 1.06*11.6*2 = 12 + 4.5 + 4 + 24.592 = 45.092 J */
    ck_assert_double_eq_tol(fs_energy_part_j(&k, true, 40, 3, 2, 2), 45.092, 1e-12);
    /* dropped during the download: one burst, no training */
    ck_assert_double_eq_tol(fs_energy_part_j(&k, true, 0, 1, 0, 1), 1.5 + 1.06 * 11.6, 1e-12);
}
END_TEST

START_TEST(charging_follows_local_window_and_quarter_offsets)
{
    fs_scenario s;
    scenario("{\"charging\": {\"share\": 1, \"day_prob\": 0, \"evening_start_h\": 22, "
             "\"morning_end_h\": 7}}",
             &s);
    fs_devstate_src src = fs_energy_param_source(&s);
    for (uint32_t c = 0; c < 50; c++) {
        ck_assert(src.state_at(src.ctx, c, 0, 23 * H, FS_DEVSTATE_ALL) & FS_DEVSTATE_CHARGING);
        /* 06:00 day 2 */
        ck_assert(src.state_at(src.ctx, c, 0, 30 * H, FS_DEVSTATE_ALL) & FS_DEVSTATE_CHARGING);
        ck_assert(
            !(src.state_at(src.ctx, c, 0, 12 * H, FS_DEVSTATE_ALL) & FS_DEVSTATE_CHARGING));
        /* India, +5.5 h: 16:29 UTC is 21:59 local (not yet), 16:31 UTC is 22:01 (charging) */
        int64_t m = H / 60;
        ck_assert(!(src.state_at(src.ctx, c, 22, 16 * H + 29 * m, FS_DEVSTATE_ALL) &
                    FS_DEVSTATE_CHARGING));
        ck_assert(src.state_at(src.ctx, c, 22, 16 * H + 31 * m, FS_DEVSTATE_ALL) &
                  FS_DEVSTATE_CHARGING);
        /* without devices.network every phone is on Wi-Fi */
        ck_assert(src.state_at(src.ctx, c, 0, 12 * H, FS_DEVSTATE_ALL) & FS_DEVSTATE_WIFI);
        /* nine hours of charging a night */
        ck_assert_double_eq_tol(src.charging_s(src.ctx, c, 0, 12 * H, 36 * H), 9 * 3600.0, 1e-6);
    }
    fs_scn_fini(&s);
}
END_TEST

/* A point's charging state (charging_at: the sessions covering the instant, the day before's
 * drawn only when its night can still run) agrees with the hours of charging in the microsecond
 * that follows, at every hour of three weeks and every zone, for night sessions that cross
 * midnight and ones that do not, with and without day sessions. */
START_TEST(charging_state_agrees_with_charging_hours)
{
    static const char *const windows[] = {
        "{\"charging\": {\"share\": 0.7, \"day_prob\": 0.4, \"evening_start_h\": 22, "
        "\"morning_end_h\": 7, \"day_session_h\": 1.5}}",
        "{\"charging\": {\"share\": 0.5, \"day_prob\": 0.6, \"evening_start_h\": 19.25, "
        "\"morning_end_h\": 23.5, \"day_session_h\": 2}}",
        "{\"charging\": {\"share\": 0.9, \"day_prob\": 0, \"evening_start_h\": 0, "
        "\"morning_end_h\": 0}}",
    };
    for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
        fs_scenario s;
        scenario(windows[w], &s);
        fs_devstate_src src = fs_energy_param_source(&s);
        size_t on = 0, n = 0;
        for (uint32_t c = 0; c < 40; c++)
            for (int64_t t = 0; t < 21 * 24 * H; t += H / 4 + 7 * c + 1) {
                int q = (int)(c % 9) * 7 - 28;
                bool state =
                    src.state_at(src.ctx, c, q, t, FS_DEVSTATE_CHARGING) & FS_DEVSTATE_CHARGING;
                bool next_us = src.charging_s(src.ctx, c, q, t, t + 1) > 0;
                ck_assert_msg(state == next_us,
                              "window %zu, client %u, zone %d, t %lld: %d, not %d", w, c, q,
                              (long long)t, state, next_us);
                on += state, n++;
            }
        ck_assert(on > 0 && on < n); /* both answers were asked */
        fs_scn_fini(&s);
    }
}
END_TEST

START_TEST(battery_refills_while_charging_capped_at_full)
{
    fs_scenario s;
    scenario("{\"charging\": {\"share\": 1, \"day_prob\": 0, \"rate_per_h\": 0.5}}", &s);
    fs_devstate_src src = fs_energy_param_source(&s);
    /* no charging between 12:00 and 22:00, then 0.5 per hour */
    ck_assert_double_eq_tol(fs_energy_battery_at(&src, &s, 1, 0, 0.2, 12 * H, 22 * H), 0.2, 1e-12);
    ck_assert_double_eq_tol(fs_energy_battery_at(&src, &s, 1, 0, 0.2, 12 * H, 23 * H), 0.7, 1e-9);
    ck_assert_double_eq_tol(fs_energy_battery_at(&src, &s, 1, 0, 0.2, 12 * H, 40 * H), 1.0, 1e-12);
    fs_scn_fini(&s);
}
END_TEST

START_TEST(eligibility_never_selects_an_ineligible_client)
{
    fs_scenario s;
    scenario("{\"eligibility\": {\"charging\": true, \"unmetered\": true, \"min_battery\": 0.5},"
             " \"network\": {\"wifi_share\": 0.6},"
             " \"availability\": {\"diurnal\": {\"utc_offsets_h\": [-3.5, 0, 5.5, 5.75]}}}",
             &s);
    size_t n = s.data.clients;
    size_t *n_train = calloc(n, sizeof *n_train);
    fs_pop pop;
    fs_err err;
    fs_err_init(&err, "test");
    ck_assert_int_eq(fs_pop_init(&pop, &s, n_train, NULL, NULL, &err), FS_OK);
    fs_avail avail;
    fs_avail_init(&avail, &s);
    gsl_rng *r1 = fs_rng_new();
    uint32_t *ids = malloc(n * sizeof *ids);
    size_t total = 0;
    for (int pass = 0; pass < 200; pass++) {
        int64_t t = (int64_t)pass * 37 * 60 * FS_US_PER_S; /* every 37 minutes, ~5 days */
        size_t got = fs_pop_select(&pop, &avail, 9, (uint64_t)pass, t, 20, r1, ids, NULL);
        for (size_t i = 0; i < got; i++) {
            unsigned st = pop.state.state_at(pop.state.ctx, ids[i],
                                             pop.clients[ids[i]].avail.utc_offset_q, t,
                                             FS_DEVSTATE_ALL);
            ck_assert(st & FS_DEVSTATE_CHARGING);
            ck_assert(st & FS_DEVSTATE_WIFI);
            ck_assert(fs_pop_battery_at(&pop, ids[i], t) >= 0.5);
        }
        total += got;
    }
    ck_assert_uint_gt(total, 0); /* some were eligible: the test is not vacuous */
    gsl_rng_free(r1);
    free(ids);
    free(n_train);
    fs_pop_fini(&pop);
    fs_scn_fini(&s);
}
END_TEST

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A capacity row gives the client's links (kbps -> Mbit/s) and per-sample milliseconds; with an
 * availability trace of the same key names, the row is that of the client's availability key,
 * and a key the capacity trace lacks falls back to the client's own assignment. */
START_TEST(capacity_trace_sets_links_and_follows_the_avail_key)
{
    char av[64], cp[64], devices[400];
    snprintf(av, sizeof av, "/tmp/fs_test_av_%d.csv", (int)getpid());
    snprintf(cp, sizeof cp, "/tmp/fs_test_cap_%d.csv", (int)getpid());
    write_text(av, "# fedsim-avail v1\nA,0,10\nB,0,10\nZ,0,10\n");
    write_text(cp, "# fedsim-capacity v1\nB,20,3000,6000,mid-phone\nA,10,1500,2500\n");
    snprintf(devices, sizeof devices,
             "{\"availability\": {\"trace\": {\"path\": \"%s\"}},"
             " \"capacity\": {\"trace\": {\"path\": \"%s\", \"assign\": \"modulo\"}}}", av,
             cp);
    fs_scenario s;
    scenario(devices, &s);
    size_t n = s.data.clients;
    size_t *n_train = calloc(n, sizeof *n_train);
    fs_pop pop;
    fs_err err;
    fs_err_init(&err, "test");
    ck_assert_int_eq(fs_pop_init(&pop, &s, n_train, NULL, NULL, &err), FS_OK);
    int seen_z = 0;
    for (uint32_t i = 0; i < n; i++) {
        const fs_client *c = &pop.clients[i];
        const char *name = fs_trace_key_name(pop.avail_trace, c->avail.trace_key);
        uint32_t k = fs_pop_cap_key(&pop, i);
        if (!strcmp(name, "Z")) { /* no row named Z: client i mod 2 */
            seen_z++;
            ck_assert_uint_eq(k, i % 2);
        } else {
            ck_assert_str_eq(fs_trace_key_name(pop.cap_trace, k), name);
        }
        bool b = !strcmp(fs_trace_key_name(pop.cap_trace, k), "B");
        ck_assert_float_eq(c->uplink_mbps, b ? 3.0f : 1.5f);
        ck_assert_float_eq(c->downlink_mbps, b ? 6.0f : 2.5f);
        ck_assert_float_eq(c->train_ms_per_sample, b ? 20.0f : 10.0f);
        if (b)
            ck_assert_str_eq(fs_trace_cap_model(pop.cap_trace, k), "mid-phone");
        else
            ck_assert_ptr_null(fs_trace_cap_model(pop.cap_trace, k));
    }
    ck_assert_int_gt(seen_z, 0);
    free(n_train);
    fs_pop_fini(&pop);
    fs_scn_fini(&s);
    remove(av);
    remove(cp);
}
END_TEST

START_TEST(quarter_hour_offset_shifts_diurnal_curve_exactly)
{
    fs_scenario s;
    scenario("{\"availability\": {\"diurnal\": {\"utc_offsets_h\": [5.75]}}}", &s);
    fs_avail a;
    fs_avail_init(&a, &s);
    ck_assert_int_eq(s.devices.utc_offsets_q[0], 23);
    for (int64_t t = 0; t < 48 * H; t += H / 7)
        ck_assert_double_eq_tol(fs_avail_share(&a, 23, t), fs_avail_share(&a, 0, t + 23 * H / 4),
                                1e-12);
    fs_scn_fini(&s);
}
END_TEST

/* The device state belongs to the population: charging sessions (CHARGE), home and away Wi-Fi
 * (NETWORK), device class and initial battery (ENERGY) come from population_seed, so changing
 * the campaign seed alone leaves every one of them, at every hour of a week, as it was; a new
 * population_seed redraws them. */
static void seeded(uint64_t seed, uint64_t population_seed, fs_scenario *s)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"e\", \"seed\": %llu, \"population_seed\": %llu, \"data\": "
             "{\"source\": \"synthetic\", \"clients\": 400}, \"model\": {\"kind\": "
             "\"softmax\"}, \"server\": {\"rounds\": 1, \"clients_per_round\": 1}, "
             "\"devices\": {\"charging\": {\"share\": 0.6, \"day_prob\": 0.4}, "
             "\"network\": {\"wifi_share\": 0.5, \"away_wifi_share\": 0.3}}}",
             (unsigned long long)seed, (unsigned long long)population_seed);
    fs_test_scenario(text, s);
}

/* Client c's state word over a week (bit 0 charging, bit 1 Wi-Fi, per hour) folded with its
 * home Wi-Fi, class and battery into one comparable value. */
static uint64_t device_history(const fs_scenario *s, uint32_t c)
{
    fs_devstate_src src = fs_energy_param_source(s);
    uint64_t h = (uint64_t)fs_energy_home_wifi(s, c) | (uint64_t)fs_energy_class_of(s, c) << 1;
    h = h * 1000003u + (uint64_t)llround(fs_energy_initial_battery(s, c) * 1e6);
    for (int64_t t = 0; t < 7 * 24 * H; t += H)
        h = h * 31u + src.state_at(src.ctx, c, 0, t, FS_DEVSTATE_ALL);
    return h;
}

START_TEST(device_state_follows_population_seed_only)
{
    fs_scenario a, b, w;
    seeded(3, 5, &a);
    seeded(4, 5, &b); /* another campaign, the same world */
    seeded(3, 6, &w); /* another world */
    size_t differ = 0;
    for (uint32_t c = 0; c < 400; c++) {
        ck_assert_msg(device_history(&a, c) == device_history(&b, c),
                      "client %u: the campaign seed moved its device state", c);
        differ += device_history(&a, c) != device_history(&w, c);
    }
    /* every history draws home Wi-Fi, class, battery and 7 days of sessions anew: nearly all
     * 400 differ (a repeat of the whole week by chance is far below 1 in 400) */
    ck_assert_uint_ge(differ, 390);
    fs_scn_fini(&a);
    fs_scn_fini(&b);
    fs_scn_fini(&w);
}
END_TEST

static Suite *energy_suite(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, energy_of_participation_equals_formula);
    tcase_add_test(tc, charging_follows_local_window_and_quarter_offsets);
    tcase_add_test(tc, charging_state_agrees_with_charging_hours);
    tcase_add_test(tc, battery_refills_while_charging_capped_at_full);
    tcase_add_test(tc, eligibility_never_selects_an_ineligible_client);
    tcase_add_test(tc, quarter_hour_offset_shifts_diurnal_curve_exactly);
    tcase_add_test(tc, capacity_trace_sets_links_and_follows_the_avail_key);
    tcase_add_test(tc, device_state_follows_population_seed_only);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(energy_suite)
