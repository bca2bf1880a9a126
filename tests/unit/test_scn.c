/* test_scn: scenario loading (sim/scenario/fs_scn.c). Defaults against scenarios/README.md, a full
 * scenario into the struct, --set overrides, error collection and wording, the effective JSON
 * and syntax-error positions. Scenarios of more than a line are files in
 * tests/fixtures/scenarios/; one-line snippets stay next to the key they test.
 * The exact messages of whole files are pinned by the bad-input cases in tests/bad. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_algo.h"
#include "fs_scn.h"
#include "fs_real.h"
#include "fs_scn_int.h"
#include "fs_test.h"
#include "fs_test_scn.h"
#include "fs_world.h"

#define MINIMAL                                                                                 \
    "{\"name\": \"t\", \"data\": {\"source\": \"fashion-mnist\", \"clients\": 100},"             \
    " \"server\": {\"rounds\": 5, \"clients_per_round\": 10}}"

static fs_err err;
static fs_scenario s;

static void setup(void)
{
    fs_err_init(&err, "t.json");
    memset(&s, 0, sizeof s);
}

static void teardown(void)
{
    fs_scn_fini(&s);
}

static int parse(const char *text, const char *const *sets, size_t n_sets)
{
    fs_scn_fini(&s);
    fs_err_clear(&err);
    return fs_scn_parse(text, sets, n_sets, &s, &err);
}

/* True when some message equals `want` exactly. */
static bool has_msg(const char *want)
{
    for (int i = 0; i < err.n_msgs; i++)
        if (strcmp(err.msgs[i], want) == 0) return true;
    return false;
}

static void dump_msgs(void)
{
    for (int i = 0; i < err.n_msgs; i++) fprintf(stderr, "  msg: %s\n", err.msgs[i]);
}

#define ck_assert_msg_present(want)                                                             \
    do {                                                                                        \
        if (!has_msg(want)) dump_msgs();                                                        \
        ck_assert_msg(has_msg(want), "missing message: %s", want);                              \
    } while (0)

/* ---- defaults: the schema (sim/scenario/fs_scn_tables.c) is their only source; scenarios/README.md
 * documents them. This test reads every "| key | type | default | meaning |" table of the
 * README and checks each documented JSON default against the effective scenario, so neither
 * can change without the other. Defaults are not restated here. */

/* Effective scenarios in which documented keys are looked up: the first that has the key
 * counts, except in a data.<source> section, which is looked up in that source's scenario. */
static const struct readme_base {
    const char *source; /* data.source, for the data.<source> sections */
    const char *fixture; /* tests/fixtures/scenarios/NAME.json; NULL: MINIMAL */
} readme_bases[] = {
    {"fashion-mnist", NULL}, /* MINIMAL */
    {"synthetic", "defaults_synthetic"}, /* with diurnal availability */
    {"marketing", "defaults_marketing"},
    {"fraud", "defaults_fraud"},
    {"ratings", "defaults_ratings"},
    {"csv", "defaults_csv"},
    {"libsvm", "defaults_libsvm"},
};
enum { N_BASES = sizeof readme_bases / sizeof *readme_bases };

/* The value at a dotted path ("server.async.concurrency") of an effective scenario, or NULL. */
static const cJSON *json_at(const cJSON *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok(buf, "."); part && j; part = strtok(NULL, "."))
        j = cJSON_GetObjectItemCaseSensitive(j, part);
    return j;
}

/* Splits the backticked items of a README cell ("`a`, `b` (text)") into items; returns how many.
 * A cell that does not start with a backtick ("**required**", "none", "all defaults") has none. */
static int backticked(char *cell, char **items, int max)
{
    int n = 0;
    while (*cell == ' ') cell++;
    while (*cell == '`' && n < max) {
        char *close = strchr(cell + 1, '`');
        if (!close) break;
        *close = '\0';
        items[n++] = cell + 1;
        cell = close + 1;
        if (strncmp(cell, ", `", 3) != 0) break;
        cell += 2;
    }
    return n;
}

/* Checks one table row "| key | type | default | meaning |" of section `sec`; returns the
 * number of defaults checked. */
static int check_readme_row(char *row, const char *sec, cJSON *const *eff, int line)
{
    char *cells[5];
    int n_cells = 0;
    for (char *c = strtok(row + 1, "|"); c && n_cells < 5; c = strtok(NULL, "|"))
        cells[n_cells++] = c;
    if (n_cells < 4) return 0;
    char *keys[8], *defs[8];
    int nk = backticked(cells[0], keys, 8), nd = backticked(cells[2], defs, 8);
    if (nk == 0 || nd == 0) return 0;
    ck_assert_msg(nd == nk, "scenarios/README.md:%d: %d keys, %d defaults", line, nk, nd);
    int only = -1; /* a data.<source> section: that source's scenario only */
    for (int b = 0; b < N_BASES; b++)
        if (strncmp(sec, "data.", 5) == 0 && strcmp(sec + 5, readme_bases[b].source) == 0) only = b;
    int checked = 0;
    for (int k = 0; k < nk; k++) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", sec, *sec ? "." : "", keys[k]);
        const cJSON *have = NULL;
        for (int b = 0; b < N_BASES && !have; b++)
            if (only < 0 || b == only) have = json_at(eff[b], path);
        if (!have) continue; /* a variant's key (train.compression.topk...): not in the bases */
        char want_text[256];
        snprintf(want_text, sizeof want_text, "%s", defs[k]);
        char *name = strstr(want_text, "<name>"); /* output.db: "results/<name>.sqlite" */
        if (name) memmove(name + 1, name + 6, strlen(name + 6) + 1), name[0] = 't';
        cJSON *want = cJSON_Parse(want_text);
        ck_assert_msg(want, "scenarios/README.md:%d: default of %s is not JSON: %s", line, path,
                      defs[k]);
        char *got = cJSON_PrintUnformatted(have);
        ck_assert_msg(cJSON_Compare(want, have, true),
                      "scenarios/README.md:%d: %s documented as %s, the schema has %s", line, path,
                      defs[k], got);
        free(got);
        cJSON_Delete(want);
        checked++;
    }
    return checked;
}

START_TEST(scn_defaults_are_what_the_readme_documents)
{
    cJSON *eff[N_BASES];
    for (int b = 0; b < N_BASES; b++) {
        char *text = readme_bases[b].fixture ? fs_test_fixture(readme_bases[b].fixture) : NULL;
        if (parse(text ? text : MINIMAL, NULL, 0)) dump_msgs();
        free(text);
        ck_assert_int_eq(err.n_total, 0);
        eff[b] = cJSON_Parse(s.json);
        ck_assert_ptr_nonnull(eff[b]);
    }
    char readme[512];
    const char *root = getenv("FEDSIM_SOURCE_ROOT");
    snprintf(readme, sizeof readme, "%s/scenarios/README.md", root ? root : ".");
    FILE *f = fopen(readme, "r");
    ck_assert_msg(f, "cannot open %s", readme);
    char line[8192], sec[128] = "";
    bool key_table = false;
    int n_line = 0, checked = 0;
    while (fgets(line, sizeof line, f)) {
        n_line++;
        if (line[0] == '#') { /* "## `server`", "### `data.fraud` (...)", "## Top level" */
            char *tick = strchr(line, '`'), *end = tick ? strchr(tick + 1, '`') : NULL;
            if (end) *end = '\0';
            snprintf(sec, sizeof sec, "%s", end ? tick + 1 : "");
            key_table = false;
        } else if (strncmp(line, "| key | type | default |", 24) == 0) {
            key_table = true;
        } else if (line[0] != '|') {
            key_table = false;
        } else if (key_table) {
            checked += check_readme_row(line, sec, eff, n_line);
        }
    }
    fclose(f);
    for (int b = 0; b < N_BASES; b++) cJSON_Delete(eff[b]);
    /* the parser itself must not silently stop finding tables */
    ck_assert_msg(checked >= 80, "only %d documented defaults checked", checked);
    fprintf(stderr, "scn: %d documented defaults equal the schema's\n", checked);
}
END_TEST

START_TEST(scn_full_scenario_fills_every_field)
{
    char *full = fs_test_fixture("scn_full"); /* every key of a fashion-mnist run */
    ck_assert_int_eq(parse(full, NULL, 0), FS_OK);
    free(full);
    ck_assert_str_eq(s.name, "full-1");
    ck_assert_uint_eq(s.seed, 9007199254740992ull);
    ck_assert_uint_eq(s.data.clients, 200);
    ck_assert_str_eq(s.data.path, "/data/fm");
    ck_assert_uint_eq(s.data.train_samples, 6000);
    ck_assert_uint_eq(s.data.test_samples, 1000);
    ck_assert_int_eq(s.data.partition, FS_PART_DIRICHLET);
    ck_assert_double_eq(s.data.dirichlet_alpha, 0.3);
    ck_assert_int_eq(s.train.epochs, 3);
    ck_assert_uint_eq(s.train.batch_size, 32);
    ck_assert_double_eq(s.train.lr, 0.05);
    ck_assert_int_eq(s.server.rounds, 50);
    ck_assert_uint_eq(s.server.clients_per_round, 20);
    ck_assert_double_eq(s.server.over_selection, 1.5);
    ck_assert_double_eq(s.server.deadline_s, 300);
    ck_assert_double_eq(s.server.retry_s, 30);
    ck_assert_double_eq(s.server.round_interval_s, 900);
    ck_assert_double_eq(s.server.max_virtual_hours, 48);
    ck_assert_int_eq(s.devices.gflops.kind, FS_DIST_CONST);
    ck_assert_double_eq(s.devices.gflops.a, 12.5);
    ck_assert_int_eq(s.devices.uplink_mbps.kind, FS_DIST_UNIFORM);
    ck_assert_double_eq(s.devices.uplink_mbps.a, 1);
    ck_assert_double_eq(s.devices.uplink_mbps.b, 4);
    ck_assert_int_eq(s.devices.downlink_mbps.kind, FS_DIST_LOGNORMAL);
    ck_assert_double_eq(s.devices.downlink_mbps.a, 2);
    ck_assert_double_eq(s.devices.downlink_mbps.b, 0);
    ck_assert_int_eq(s.devices.latency_ms.kind, FS_DIST_UNIFORM);
    ck_assert_double_eq(s.devices.latency_ms.a, 0);
    ck_assert_double_eq(s.devices.failure_prob, 0.02);
    ck_assert_int_eq(s.devices.availability, FS_AVAIL_DIURNAL);
    ck_assert_double_eq(s.devices.peak_hour, 20.5);
    ck_assert_double_eq(s.devices.min_share, 0.1);
    ck_assert_double_eq(s.devices.max_share, 0.5);
    ck_assert_double_eq(s.devices.mean_session_min, 45);
    ck_assert_uint_eq(s.devices.n_utc_offsets, 4);
    ck_assert_int_eq(s.devices.utc_offsets_q[0], -5 * 4); /* quarter hours */
    ck_assert_int_eq(s.devices.utc_offsets_q[3], 14 * 4);
    ck_assert_int_eq(s.eval.every_rounds, 5);
    ck_assert_str_eq(s.output.db, "out/x.sqlite");
    ck_assert(!s.output.participation);
}
END_TEST

START_TEST(scn_synthetic_and_markov_fill_their_fields)
{
    const char *text =
        "{\"name\": \"syn\", \"data\": {\"source\": \"synthetic\", \"clients\": 30,"
        " \"synthetic\": {\"alpha\": 0.5, \"beta\": 0, \"max_samples_per_client\": 500}},"
        " \"server\": {\"rounds\": 2, \"clients_per_round\": 3},"
        " \"devices\": {\"availability\": {\"markov\": {\"mean_on_min\": 20, \"mean_off_min\": 40}}}}";
    ck_assert_int_eq(parse(text, NULL, 0), FS_OK);
    ck_assert_int_eq(s.data.source, FS_SRC_SYNTHETIC);
    ck_assert_double_eq(s.data.synth_alpha, 0.5);
    ck_assert_double_eq(s.data.synth_beta, 0);
    ck_assert_uint_eq(s.data.synth_max_per_client, 500);
    ck_assert_double_eq(s.data.synth_train_fraction, 0.9);
    ck_assert_int_eq(s.devices.availability, FS_AVAIL_MARKOV);
    ck_assert_double_eq(s.devices.mean_on_min, 20);
    ck_assert_double_eq(s.devices.mean_off_min, 40);
    /* The effective JSON keeps only the keys of the chosen source. */
    cJSON *j = cJSON_Parse(s.json);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(data, "partition"));
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(data, "path"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(data, "synthetic"));
    cJSON_Delete(j);
}
END_TEST

START_TEST(scn_set_overrides_a_number)
{
    const char *sets[] = {"server.rounds=42", "train.lr=0.5"};
    ck_assert_int_eq(parse(MINIMAL, sets, 2), FS_OK);
    ck_assert_int_eq(s.server.rounds, 42);
    ck_assert_double_eq(s.train.lr, 0.5);
}
END_TEST

START_TEST(scn_set_falls_back_to_a_string)
{
    const char *sets[] = {"name=foo", "data.source=synthetic", "data.path=/x/y"};
    ck_assert_int_eq(parse(MINIMAL, sets, 2), FS_OK);
    ck_assert_str_eq(s.name, "foo");
    ck_assert_int_eq(s.data.source, FS_SRC_SYNTHETIC);
    ck_assert_str_eq(s.output.db, "results/foo.sqlite");
    ck_assert_int_eq(parse(MINIMAL, sets + 2, 1), FS_OK);
    ck_assert_str_eq(s.data.path, "/x/y");
}
END_TEST

START_TEST(scn_set_creates_nested_objects)
{
    const char *sets[] = {"devices.availability.markov.mean_on_min=10",
                          "devices.availability.markov.mean_off_min=20",
                          "data.partition.dirichlet.alpha=0.1"};
    ck_assert_int_eq(parse(MINIMAL, sets, 3), FS_OK);
    ck_assert_int_eq(s.devices.availability, FS_AVAIL_MARKOV);
    ck_assert_double_eq(s.devices.mean_on_min, 10);
    ck_assert_double_eq(s.devices.mean_off_min, 20);
    /* "iid" (a string) was in the way: it is replaced by the object. */
    ck_assert_int_eq(s.data.partition, FS_PART_DIRICHLET);
    ck_assert_double_eq(s.data.dirichlet_alpha, 0.1);
}
END_TEST

START_TEST(scn_set_error_names_the_json_path)
{
    const char *sets[] = {"server.clients_per_round=-3", "train.epochs=two"};
    ck_assert_int_eq(parse(MINIMAL, sets, 2), FS_ESCENARIO);
    ck_assert_msg_present("t.json: server.clients_per_round: expected integer >= 1, found -3");
    ck_assert_msg_present("t.json: train.epochs: expected integer in [1, 1000], found \"two\"");
    ck_assert_int_eq(err.n_total, 2);
}
END_TEST

START_TEST(scn_set_without_equals_is_an_error)
{
    const char *sets[] = {"server.rounds", "a..b=1", "=3"};
    ck_assert_int_eq(parse(MINIMAL, sets, 3), FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 3);
    ck_assert_str_eq(err.msgs[0], "--set: expected json.path=value, found \"server.rounds\"");
    ck_assert_str_eq(err.msgs[1], "--set: expected json.path=value, found \"a..b=1\"");
    ck_assert_str_eq(err.msgs[2], "--set: expected json.path=value, found \"=3\"");
    ck_assert_str_eq(err.file, "t.json"); /* the file prefix is back for later messages */
}
END_TEST

START_TEST(scn_collects_every_error)
{
    const char *text =
        "{\"name\": \"t\", \"data\": {\"source\": \"fashion-mnist\", \"clients\": 100},"
        " \"train\": {\"epochs\": 0, \"lr\": -1},"
        " \"server\": {\"rounds\": 5, \"clients_per_round\": 10, \"mode\": \"batch\"}}";
    ck_assert_int_eq(parse(text, NULL, 0), FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 3);
    ck_assert_msg_present("t.json: train.epochs: expected integer in [1, 1000], found 0");
    ck_assert_msg_present("t.json: train.lr: expected number in (0, 100], found -1");
    ck_assert_msg_present(
        "t.json: server.mode: expected one of \"sync\", \"async\", found \"batch\"");
}
END_TEST

START_TEST(scn_unknown_key_suggests_the_nearest)
{
    const char *text =
        "{\"name\": \"t\", \"data\": {\"source\": \"fashion-mnist\", \"clients\": 100},"
        " \"server\": {\"rounds\": 5, \"clients_per_round\": 10, \"Deadline_S\": 1,"
        " \"over_selectoin\": 2}, \"devices\": {\"gflop\": 3}, \"telemetry\": {}}";
    ck_assert_int_eq(parse(text, NULL, 0), FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 4);
    ck_assert_msg_present("t.json: server.Deadline_S: unknown key; did you mean \"deadline_s\"?");
    ck_assert_msg_present(
        "t.json: server.over_selectoin: unknown key; did you mean \"over_selection\"?");
    ck_assert_msg_present("t.json: devices.gflop: unknown key; did you mean \"gflops\"?");
    ck_assert_msg_present("t.json: telemetry: unknown key (valid keys: name, description, seed, "
                          "population_seed, data, model, train, server, devices, privacy, eval, output, adversary, sweep)");
}
END_TEST

START_TEST(scn_integers_must_be_integral)
{
    const char *sets[] = {"server.clients_per_round=2.5", "seed=1e300"};
    ck_assert_int_eq(parse(MINIMAL, sets, 2), FS_ESCENARIO);
    ck_assert_msg_present("t.json: server.clients_per_round: expected integer >= 1, found 2.5");
    ck_assert_msg_present("t.json: seed: expected integer in [0, 9007199254740992], found 1e+300");
}
END_TEST

START_TEST(scn_cross_field_rules)
{
    const char *sets[] = {"server.clients_per_round=101", "data.train_samples=50",
                          "devices.availability={\"diurnal\": {\"min_share\": 0.5}}"};
    ck_assert_int_eq(parse(MINIMAL, sets, 3), FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 3);
    ck_assert_msg_present(
        "t.json: server.clients_per_round: expected integer <= data.clients (100), found 101");
    ck_assert_msg_present("t.json: data.train_samples: expected 0 (all) or integer >= "
                          "data.clients (100), found 50");
    ck_assert_msg_present("t.json: devices.availability.diurnal.min_share: expected number <= "
                          "max_share (0.4), found 0.5");
}
END_TEST

START_TEST(scn_json_has_defaults_and_is_a_fixed_point)
{
    const char *sets[] = {"server.rounds=7"};
    ck_assert_int_eq(parse(MINIMAL, sets, 1), FS_OK);
    cJSON *j = cJSON_Parse(s.json);
    ck_assert_ptr_nonnull(j);
    cJSON *server = cJSON_GetObjectItemCaseSensitive(j, "server");
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(server, "rounds")->valuedouble, 7);
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(server, "deadline_s")->valuedouble, 600);
    cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "devices");
    ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(dev, "latency_ms")->valuedouble, 80);
    cJSON *out = cJSON_GetObjectItemCaseSensitive(j, "output");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(out, "db")->valuestring, "results/t.sqlite");
    ck_assert_str_eq(j->child->string, "name"); /* keys in schema order */
    cJSON_Delete(j);

    /* Loading the effective JSON again gives the same effective JSON. */
    char *first = s.json;
    s.json = NULL;
    ck_assert_int_eq(parse(first, NULL, 0), FS_OK);
    ck_assert_str_eq(s.json, first);
    free(first);
    char *full = fs_test_fixture("scn_full");
    ck_assert_int_eq(parse(full, NULL, 0), FS_OK);
    free(full);
    first = s.json;
    s.json = NULL;
    ck_assert_int_eq(parse(first, NULL, 0), FS_OK);
    ck_assert_str_eq(s.json, first);
    ck_assert_ptr_nonnull(strstr(first, "\"description\":\t\"every key\""));
    free(first);
}
END_TEST

START_TEST(scn_syntax_error_gives_line_and_column)
{
    const char *text = "{\n  \"name\": \"t\",\n  \"seed\": 1\n  \"data\": {}\n}\n";
    ck_assert_int_eq(parse(text, NULL, 0), FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 1);
    ck_assert_str_eq(err.msgs[0], "t.json:4:3: invalid JSON near '\"data\": {}'");
    ck_assert_str_eq(err.file, "t.json"); /* the prefix is restored */
    ck_assert_ptr_null(s.json);
}
END_TEST

START_TEST(scn_root_must_be_an_object)
{
    ck_assert_int_eq(parse("42", NULL, 0), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "t.json: expected a JSON object, found 42");
    ck_assert_int_eq(parse(" \n", NULL, 0), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "t.json: expected a JSON object, found an empty file");
}
END_TEST

START_TEST(scn_error_leaves_nothing_in_out)
{
    const char *sets[] = {"server.rounds=0"};
    ck_assert_int_eq(parse(MINIMAL, sets, 1), FS_ESCENARIO);
    ck_assert_ptr_null(s.json);
    ck_assert_str_eq(s.name, "");
    fs_scn_fini(&s); /* still safe */
}
END_TEST

START_TEST(scn_load_reads_a_file_and_reports_a_missing_one)
{
    char path[] = "/tmp/test_scn_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(MINIMAL, f);
    fclose(f);
    fs_err_init(&err, path);
    ck_assert_int_eq(fs_scn_load(path, NULL, 0, &s, &err), FS_OK);
    ck_assert_uint_eq(s.data.clients, 100);
    fs_scn_fini(&s);
    remove(path);
    ck_assert_int_eq(fs_scn_load(path, NULL, 0, &s, &err), FS_EIO);
    char want[128];
    snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
    ck_assert_str_eq(err.msgs[0], want);
}
END_TEST

/* The shape validation assumes for a generated source must be the shape the generator makes, or
 * validate and run would disagree (fs_scn_rules.c). */
static void expect_same_shape(const char *text)
{
    fs_scenario sc;
    fs_world w;
    fs_err e;
    fs_err_init(&e, NULL);
    ck_assert_int_eq(fs_scn_parse(text, NULL, 0, &sc, &e), FS_OK);
    ck_assert_int_eq(fs_world_init(&w, &sc, &e), FS_OK);
    fs_scn_shape want, got;
    fs_scn_shape_of(&sc, &want);
    fs_world_shape(&w, &got);
    ck_assert_int_eq(want.sparse, got.sparse);
    ck_assert_int_eq(want.n_classes, got.n_classes);
    ck_assert_uint_eq(want.n_features, got.n_features);
    ck_assert_int_eq(want.client_test, got.client_test);
    ck_assert_uint_eq(want.n_groups, got.n_groups);
    for (size_t i = 0; i < want.n_groups; i++)
        ck_assert_str_eq(want.groups[i], got.groups[i]);
    fs_world_fini(&w);
    fs_scn_fini(&sc);
}

#define GEN(src, model, extra)                                                                   \
    "{\"name\": \"t\", \"data\": {\"source\": \"" src "\", \"clients\": 20" extra "},"            \
    " \"model\": {\"kind\": \"" model "\"}, \"server\": {\"rounds\": 1, \"clients_per_round\": 5}}"

START_TEST(scn_shape_of_generated_sources_matches_their_data)
{
    expect_same_shape(GEN("marketing", "logreg", ", \"marketing\": {\"hash_bits\": 10}"));
    expect_same_shape(GEN("fraud", "logreg", ", \"fraud\": {\"merchant_categories\": 7}"));
    expect_same_shape(GEN("ratings", "mf", ", \"ratings\": {\"items\": 50}"));
    expect_same_shape(GEN("synthetic", "softmax", ""));
    expect_same_shape(GEN("marketing", "logreg", ", \"on_demand\": true"));
}
END_TEST

/* Rules whose inputs a file would give are left for the run; the others apply at once. */
START_TEST(scn_shape_rules_skip_what_is_not_known)
{
    fs_scenario sc = {0};
    sc.data.source = FS_SRC_CSV;
    sc.model.kind = FS_MODEL_LOGREG;
    fs_scn_shape d;
    fs_scn_shape_of(&sc, &d);
    ck_assert_int_eq(d.n_classes, FS_SCN_UNKNOWN);
    ck_assert_int_eq(fs_scn_check_shape(&sc, &d, &err), FS_OK);
    d.n_classes = 3, d.n_features = 4;
    ck_assert_int_eq(fs_scn_check_shape(&sc, &d, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "t.json: model.kind: logreg needs a binary task (2 classes); "
                                  "the data have 4 dense features and 3 classes");
}
END_TEST

/* A union's "expected" text comes from its variants: the texts the hand-written strings had. */
START_TEST(scn_union_texts_from_variants)
{
    const char *json =
        "{\"name\": \"t\", \"data\": {\"source\": \"fashion-mnist\", \"clients\": 100,"
        " \"partition\": 3}, \"train\": {\"compression\": 3},"
        " \"server\": {\"rounds\": 5, \"clients_per_round\": 10, \"optimizer\": 3,"
        " \"selection\": 3}, \"devices\": {\"availability\": 3, \"latency_ms\": \"x\"}}";
    ck_assert_int_eq(parse(json, NULL, 0), FS_ESCENARIO);
    ck_assert_msg_present("t.json: data.partition: expected \"iid\" or {\"dirichlet\" | "
                          "\"shards\" | \"quantity_lognormal\" | \"quantity_powerlaw\" | "
                          "\"natural\": {...}}, found 3");
    ck_assert_msg_present("t.json: train.compression: expected \"none\" or {\"topk\" | "
                          "\"randk\" | \"quantize\": {...}}, found 3");
    ck_assert_msg_present("t.json: server.optimizer: expected \"sgd\" or {\"momentum\" | "
                          "\"adam\" | \"yogi\" | \"adagrad\": {...}}, found 3");
    ck_assert_msg_present("t.json: server.selection: expected \"uniform\" or {\"fastest\": "
                          "{...}}, found 3");
    ck_assert_msg_present("t.json: devices.availability: expected \"always\" or {\"markov\" | "
                          "\"diurnal\" | \"trace\": {...}}, found 3");
    ck_assert_msg_present("t.json: devices.latency_ms: expected number >= 0, {\"lognormal\": "
                          "{...}} or {\"uniform\": {...}}, found \"x\"");
    char buf[24];
    fs_scn_union u = {NULL, -1, NULL, 0};
    fs_scn_union_expect(&u, NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "");
}
END_TEST

/* Brier is a metric of binary tasks: with auc on click-through data, refused on 10 classes with
 * the metrics that do fit. */
#define WITH_METRICS(src, model, metrics)                                                          \
    "{\"name\": \"t\", \"data\": {\"source\": \"" src "\", \"clients\": 20},"                      \
    " \"model\": {\"kind\": \"" model                                                              \
    "\"}, \"server\": {\"rounds\": 1, \"clients_per_round\": 5},"                                  \
    " \"eval\": {\"metrics\": " metrics "}}"

START_TEST(scn_brier_fits_binary_tasks_only)
{
    fs_scn_shape d;
    ck_assert_int_eq(parse(WITH_METRICS("marketing", "logreg", "[\"auc\", \"brier\"]"), NULL, 0),
                     FS_OK);
    fs_scn_shape_of(&s, &d);
    ck_assert_int_eq(fs_scn_check_shape(&s, &d, &err), FS_OK);
    /* a generated source's shape is known, so parsing applies the rule */
    ck_assert_int_eq(
        parse(WITH_METRICS("synthetic", "softmax", "[\"accuracy\", \"brier\"]"), NULL, 0),
        FS_ESCENARIO);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_str_eq(err.msgs[0], "t.json: eval.metrics[1]: expected a metric of a multiclass task "
                                  "(\"accuracy\", \"loss\", \"ece\"), found \"brier\"");
}
END_TEST

/* The estimate grows with what the engine keeps per client in flight. */
START_TEST(scn_memory_estimate_counts_copies_in_flight)
{
    ck_assert_int_eq(fs_scn_parse(MINIMAL, NULL, 0, &s, &err), FS_OK);
    fs_scn_shape d;
    fs_scn_shape_of(&s, &d);
    fs_scn_mem m1, m2;
    fs_scn_mem_estimate(&s, &d, 1, &m1);
    ck_assert_double_eq(m1.n_params, 10 * 784 + 10);         /* softmax */
    ck_assert_double_eq(m1.copies, ceil(10 * 1.3) + 3 + 6); /* in flight, thread, server */
    s.server.clients_per_round = 20;
    fs_scn_mem_estimate(&s, &d, 1, &m2);
    ck_assert_double_eq(m2.model - m1.model, 13 * m1.n_params * FS_REAL_BYTES); /* fs_real updates */
}
END_TEST

static Suite *scn_suite(void)
{
    Suite *suite = suite_create("scn");
    TCase *tc = tcase_create("scn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, scn_defaults_are_what_the_readme_documents);
    tcase_add_test(tc, scn_full_scenario_fills_every_field);
    tcase_add_test(tc, scn_synthetic_and_markov_fill_their_fields);
    tcase_add_test(tc, scn_set_overrides_a_number);
    tcase_add_test(tc, scn_set_falls_back_to_a_string);
    tcase_add_test(tc, scn_set_creates_nested_objects);
    tcase_add_test(tc, scn_set_error_names_the_json_path);
    tcase_add_test(tc, scn_set_without_equals_is_an_error);
    tcase_add_test(tc, scn_collects_every_error);
    tcase_add_test(tc, scn_unknown_key_suggests_the_nearest);
    tcase_add_test(tc, scn_integers_must_be_integral);
    tcase_add_test(tc, scn_cross_field_rules);
    tcase_add_test(tc, scn_json_has_defaults_and_is_a_fixed_point);
    tcase_add_test(tc, scn_syntax_error_gives_line_and_column);
    tcase_add_test(tc, scn_root_must_be_an_object);
    tcase_add_test(tc, scn_error_leaves_nothing_in_out);
    tcase_add_test(tc, scn_load_reads_a_file_and_reports_a_missing_one);
    tcase_add_test(tc, scn_shape_of_generated_sources_matches_their_data);
    tcase_add_test(tc, scn_shape_rules_skip_what_is_not_known);
    tcase_add_test(tc, scn_brier_fits_binary_tasks_only);
    tcase_add_test(tc, scn_union_texts_from_variants);
    tcase_add_test(tc, scn_memory_estimate_counts_copies_in_flight);
    suite_add_tcase(suite, tc);
    return suite;
}

FS_TEST_MAIN(scn_suite)
