/* fs_test_scn: building small in-memory scenarios and worlds for engine-level tests. */
#ifndef FS_TEST_SCN_H
#define FS_TEST_SCN_H

#include <check.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

#include "fs_engine.h"
#include "fs_gen.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_world.h"

/* Test scenarios are JSON files in tests/fixtures/scenarios/ (found through FEDSIM_SOURCE_ROOT,
 * which meson sets): the text of NAME.json, caller frees. The test fails if it cannot be read. */
static inline char *fs_test_fixture(const char *name)
{
    const char *root = getenv("FEDSIM_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/scenarios/%s.json", root ? root : ".", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *text = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n + 4096 + 1 > cap) text = realloc(text, cap = 2 * cap + 4096 + 1);
        ck_assert_ptr_nonnull(text);
        n += got = fread(text + n, 1, cap - n - 1, f);
    } while (got > 0);
    ck_assert_msg(!ferror(f), "cannot read %s", path);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* Parses a scenario text; the test fails with the collected messages on error. */
static inline void fs_test_scenario(const char *text, fs_scenario *out)
{
    fs_err err;
    fs_err_init(&err, "test");
    int rc = fs_scn_parse(text, NULL, 0, out, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
}

/* The generator configuration production derives from a scenario of a generated source with
 * every data.<source> key at its schema default (seed = population_seed = seed): tests start
 * from it and change what they study, so no test restates the defaults. */
static inline void fs_test_gen_scenario(const char *source, uint64_t seed, fs_scenario *out)
{
    char text[256];
    snprintf(
        text, sizeof text,
        "{\"name\": \"gen\", \"seed\": %llu, \"data\": {\"source\": \"%s\", \"clients\": 1},"
        " \"model\": {\"kind\": \"%s\"}, \"server\": {\"rounds\": 1, \"clients_per_round\": 1}}",
        (unsigned long long)seed, source, strcmp(source, "ratings") == 0 ? "mf" : "logreg");
    fs_test_scenario(text, out);
}

static inline void fs_test_marketing_cfg(uint64_t seed, fs_marketing_cfg *out)
{
    fs_scenario s;
    fs_test_gen_scenario("marketing", seed, &s);
    fs_world_marketing_cfg(&s, out);
    fs_scn_fini(&s);
}

static inline void fs_test_fraud_cfg(uint64_t seed, fs_fraud_cfg *out)
{
    fs_scenario s;
    fs_test_gen_scenario("fraud", seed, &s);
    fs_world_fraud_cfg(&s, out);
    fs_scn_fini(&s);
}

static inline void fs_test_ratings_cfg(uint64_t seed, fs_ratings_cfg *out)
{
    fs_scenario s;
    fs_test_gen_scenario("ratings", seed, &s);
    fs_world_ratings_cfg(&s, out);
    fs_scn_fini(&s);
}

static inline void fs_test_world(const fs_scenario *s, fs_world *out)
{
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_world_init(out, s, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
}

/* A scenario with its world and population, for tests that drive the engine themselves. */
typedef struct fs_test_setup {
    fs_scenario s;
    fs_world w;
    fs_pop pop;
} fs_test_setup;

static inline void fs_test_setup_init(fs_test_setup *t, const char *text)
{
    fs_test_scenario(text, &t->s);
    fs_test_world(&t->s, &t->w);
    ck_assert_int_eq(fs_pop_init(&t->pop, &t->s, t->w.n_train, t->w.n_test, NULL, NULL), FS_OK);
}

/* fs_test_setup_init from tests/fixtures/scenarios/NAME.json. */
static inline void fs_test_setup_fixture(fs_test_setup *t, const char *name)
{
    char *text = fs_test_fixture(name);
    fs_test_setup_init(t, text);
    free(text);
}

static inline void fs_test_setup_fini(fs_test_setup *t)
{
    fs_pop_fini(&t->pop);
    fs_world_fini(&t->w);
    fs_scn_fini(&t->s);
}

/* Runs a scenario text through the engine (on_round may be NULL); the test fails on any error.
 * Returns the final model (caller frees); *out_n_params (may be NULL) gets its size. */
static inline fs_real *fs_test_run_engine(const char *text, int threads,
                                          fs_engine_round_fn on_round, void *ctx,
                                          size_t *out_n_params)
{
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    fs_real *out = calloc(t.w.model->n_params, sizeof *out);
    fs_engine_cfg cfg = {.scn = &t.s, .world = &t.w, .pop = &t.pop, .n_threads = threads,
                         .on_round = on_round, .ctx = ctx};
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_engine_run(&cfg, out, NULL, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
    if (out_n_params) *out_n_params = t.w.model->n_params;
    fs_test_setup_fini(&t);
    return out;
}

#endif
