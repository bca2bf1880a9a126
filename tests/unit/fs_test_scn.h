/* fs_test_scn: building small in-memory scenarios and worlds for engine-level tests. */
#ifndef FS_TEST_SCN_H
#define FS_TEST_SCN_H

#include <check.h>
#include <stdio.h>

#include <stdlib.h>

#include "fs_engine.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_world.h"

/* Parses a scenario text; the test fails with the collected messages on error. */
static inline void fs_test_scenario(const char *text, fs_scenario *out)
{
    fs_err err;
    fs_err_init(&err, "test");
    int rc = fs_scn_parse(text, NULL, 0, out, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
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

static inline void fs_test_setup_fini(fs_test_setup *t)
{
    fs_pop_fini(&t->pop);
    fs_world_fini(&t->w);
    fs_scn_fini(&t->s);
}

/* Runs a scenario text through the engine (on_round may be NULL); the test fails on any error.
 * Returns the final model (caller frees); *out_n_params (may be NULL) gets its size. */
static inline double *fs_test_run_engine(const char *text, int threads, fs_engine_round_fn on_round,
                                         void *ctx, size_t *out_n_params)
{
    fs_test_setup t;
    fs_test_setup_init(&t, text);
    double *out = calloc(t.w.model->n_params, sizeof *out);
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
