/* test_plugin: models from shared objects (models/learn/fs_plugin.c) and the model kind table
 * (sim/world/fs_model_kinds.c). The example plugin tests/plugin/linear_plugin.c is checked through
 * fedsim's plugin path: its gradient against finite differences (dense and sparse rows), its
 * loss against the built-in softmax with the same parameters, SGD on it; the broken plugins of
 * tests/plugin/bad_plugin.c are each refused with a message naming their file. The plugins are
 * found in $FEDSIM_PLUGIN_DIR (the build's tests/plugin). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_model_kinds.h"
#include "fs_plugin.h"
#include "fs_scn_int.h"
#include "fs_test.h"
#include "fs_test_grad.h"

static const char *plugin_path(const char *name)
{
    static char path[1024];
    const char *dir = getenv("FEDSIM_PLUGIN_DIR");
    ck_assert_ptr_nonnull(dir);
    snprintf(path, sizeof path, "%s/%s.so", dir, name);
    return path;
}

/* The model plugin `name` builds for data of d features and k classes; asserts success. */
static fs_model *plugin_model(const char *name, size_t d, int k, bool sparse, const char *config)
{
    fs_plugin *p;
    char msg[FS_PLUGIN_MSG_LEN];
    int rc = fs_plugin_open(plugin_path(name), &p, msg);
    ck_assert_msg(rc == FS_OK, "%s", msg);
    fs_model *m;
    rc = fs_plugin_model_new(p, d, k, sparse, 32, config, &m, msg);
    ck_assert_msg(rc == FS_OK, "%s", msg);
    return m;
}

START_TEST(linear_plugin_grad_matches_finite_diff)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 9, 5, 3, 11);
    fs_model *m = plugin_model("linear_plugin", 5, 3, false, "{\"l2\": 0.1}");
    ck_assert_str_eq(m->ops->name, "plugin");
    ck_assert_uint_eq(m->n_params, 3 * 5 + 3);
    ck_assert_double_eq(m->flops_per_sample, 2.0 * 5 * 3);
    fs_real *w = fs_test_random_params(m, 5);
    /* finite differences of the plugin's float32 loss (h = 1e-2); measured 9.0e-6 */
    fs_test_err_lt("plugin grad rel_norm", fs_test_grad_check(m, w, &ds, 9).rel_norm,
                   FS_TEST_TOL(1e-6, 1e-4));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* 8 sparse rows of a 6-feature space, two non-zeros each, 2 classes. */
static void sparse_rows(fs_dataset *ds)
{
    ck_assert_int_eq(fs_dataset_alloc_sparse(ds, 8, 6, 16, 2), FS_OK);
    for (size_t i = 0; i < 8; i++) {
        ds->ptr[i + 1] = 2 * (i + 1);
        ds->idx[2 * i] = (uint32_t)(i % 3), ds->idx[2 * i + 1] = (uint32_t)(3 + i % 3);
        ds->val[2 * i] = 1.0f + (float)i / 4, ds->val[2 * i + 1] = -0.5f * (float)(i % 2);
        ds->y[i] = (int32_t)(i % 2);
    }
}

START_TEST(linear_plugin_grad_on_sparse_rows)
{
    fs_dataset ds;
    sparse_rows(&ds);
    fs_model *m = plugin_model("linear_plugin", 6, 2, true, NULL);
    fs_real *w = fs_test_random_params(m, 3);
    /* as above; measured 4.8e-6 */
    fs_test_err_lt("plugin sparse grad rel_norm", fs_test_grad_check(m, w, &ds, 8).rel_norm,
                   FS_TEST_TOL(1e-6, 1e-4));
    free(w);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* Same layout as fedsim's softmax (W then b): the same loss and gradient up to rounding. */
START_TEST(linear_plugin_agrees_with_builtin_softmax)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 20, 4, 3, 7);
    fs_model *pm = plugin_model("linear_plugin", 4, 3, false, "{}");
    fs_model *sm = fs_softmax_new(4, 3, 32);
    fs_real *w = fs_test_random_weights(pm->n_params, 0.5, 9), gp[15], gs[15];
    fs_model_scratch *sp = fs_model_scratch_new(pm), *ss = fs_model_scratch_new(sm);
    uint32_t *rows = fs_test_all_rows(20);
    double lp = pm->ops->loss_grad(pm, w, &ds, rows, 20, gp, sp);
    double ls = sm->ops->loss_grad(sm, w, &ds, rows, 20, gs, ss);
    double worst = 0;
    for (size_t i = 0; i < 15; i++)
        worst = fmax(worst, fabs(gp[i] - gs[i]));
    /* the plugin sums logits in double, the softmax in float32 GEMMs; measured 1.2e-8 (loss),
     * 6.0e-8 (gradient) */
    fs_test_err_lt("plugin vs softmax loss", fabs(lp - ls), FS_TEST_TOL(1e-12, 1.2e-7));
    fs_test_err_lt("plugin vs softmax grad", worst, FS_TEST_TOL(1e-12, 6e-7));
    fs_eval_result ep, es;
    ck_assert_int_eq(fs_model_evaluate(pm, w, &ds, NULL, 0, sp, &ep), FS_OK);
    ck_assert_int_eq(fs_model_evaluate(sm, w, &ds, NULL, 0, ss, &es), FS_OK);
    /* measured 9.4e-9 */
    fs_test_err_lt("plugin vs softmax eval loss", fabs(ep.loss - es.loss),
                   FS_TEST_TOL(1e-12, 1e-7));
    ck_assert_double_eq(ep.accuracy, es.accuracy);
    free(w), free(rows);
    fs_model_scratch_free(sp), fs_model_scratch_free(ss);
    fs_model_free(pm), fs_model_free(sm);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(sgd_trains_a_plugin_model)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 60, 3, 3, 21);
    for (size_t i = 0; i < 60; i++)
        ds.x[i * 3 + (size_t)ds.y[i]] += 4.0f; /* separable blobs */
    fs_model *m = plugin_model("linear_plugin", 3, 3, false, NULL);
    fs_real *w = fs_test_random_params(m, 1);
    fs_model_scratch *s = fs_model_scratch_new(m);
    fs_eval_result before, after;
    fs_model_evaluate(m, w, &ds, NULL, 0, s, &before);
    fs_sgd_cfg cfg = {.epochs = 5, .batch_size = 10, .lr = 0.5};
    fs_test_sgd(m, w, &ds, 60, &cfg, 3, s);
    fs_model_evaluate(m, w, &ds, NULL, 0, s, &after);
    ck_assert_double_lt(after.loss, before.loss / 4);
    ck_assert_double_ge(after.accuracy, 0.95);
    free(w);
    fs_model_scratch_free(s);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* fs_plugin_open's refusal of `name`, which must mention `want`. */
static void refused(const char *path, const char *want)
{
    fs_plugin *p = (fs_plugin *)1;
    char msg[FS_PLUGIN_MSG_LEN] = "";
    ck_assert_int_eq(fs_plugin_open(path, &p, msg), FS_ESCENARIO);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(msg, want) && strstr(msg, path), "message: %s", msg);
}

START_TEST(broken_plugins_are_refused_on_open)
{
    char missing[1100];
    snprintf(missing, sizeof missing, "%s", plugin_path("no_such_plugin"));
    refused(missing, "found no file");
    refused(getenv("FEDSIM_PLUGIN_DIR"), "found no file"); /* a folder is no plugin */
    FILE *f = fopen("not_a_plugin.so", "w");
    fputs("hello\n", f);
    fclose(f);
    refused("not_a_plugin.so", "expected a shared object");
    remove("not_a_plugin.so");
    refused(plugin_path("bad_plugin_no_symbol"), "export the table fedsim_model_plugin");
    refused(plugin_path("bad_plugin_abi"), "expected a plugin of ABI version 2, found version 100");
    /* ABI 1 had double parameters: a plugin built for it must not be handed floats */
    refused(plugin_path("bad_plugin_abi1"), "expected a plugin of ABI version 2, found version 1");
}
END_TEST

START_TEST(a_plugin_may_refuse_its_config)
{
    fs_plugin *p;
    char msg[FS_PLUGIN_MSG_LEN];
    ck_assert_int_eq(fs_plugin_open(plugin_path("linear_plugin"), &p, msg), FS_OK);
    ck_assert(fs_plugin_accepts(p, true) && fs_plugin_accepts(p, false));
    fs_plugin *dense_only;
    ck_assert_int_eq(fs_plugin_open(plugin_path("bad_plugin_ok"), &dense_only, msg), FS_OK);
    ck_assert(fs_plugin_accepts(dense_only, false) && !fs_plugin_accepts(dense_only, true));
    fs_plugin_close(dense_only);
    fs_model *m = (fs_model *)1;
    ck_assert_int_eq(fs_plugin_model_new(p, 4, 2, false, 8, "{\"l2\": -1}", &m, msg), FS_ESCENARIO);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(msg, "refused the model: config.l2: expected a number >= 0"), "%s", msg);
}
END_TEST

/* The probe before training catches each non-finite output and names it. */
START_TEST(probe_catches_non_finite_outputs)
{
    static const struct {
        const char *name, *want;
    } cases[] = {
        {"bad_plugin_ok", NULL},
        {"bad_plugin_nan_init", "non-finite initial parameters (init)"},
        {"bad_plugin_nan_loss", "a non-finite loss (loss_grad)"},
        {"bad_plugin_nan_grad", "a non-finite gradient (loss_grad)"},
        {"bad_plugin_probs", "probabilities outside [0, 1] or not finite (predict)"},
    };
    fs_dataset ds;
    fs_test_random_dataset(&ds, 10, 3, 4, 1);
    uint32_t *rows = fs_test_all_rows(10);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fs_model *m = plugin_model(cases[i].name, 3, 4, false, NULL);
        char msg[FS_PLUGIN_MSG_LEN] = "";
        int rc = fs_plugin_probe(m, &ds, rows, 10, 1, msg);
        if (!cases[i].want) {
            ck_assert_msg(rc == FS_OK, "%s", msg);
        } else {
            ck_assert_int_eq(rc, FS_ENUMERIC);
            ck_assert_msg(strstr(msg, cases[i].want) && strstr(msg, cases[i].name), "%s", msg);
        }
        fs_model_free(m);
    }
    free(rows);
    fs_dataset_fini(&ds);
}
END_TEST

/* A non-finite gradient reaches SGD as a non-finite loss: the step is never applied. */
START_TEST(non_finite_gradient_stops_sgd)
{
    fs_dataset ds;
    fs_test_random_dataset(&ds, 10, 3, 4, 1);
    fs_model *m = plugin_model("bad_plugin_nan_grad", 3, 4, false, NULL);
    fs_real w[4] = {0}, g[4];
    uint32_t *rows = fs_test_all_rows(10), order[10];
    fs_model_scratch *s = fs_model_scratch_new(m);
    gsl_rng *r = fs_rng_new();
    fs_sgd_result res;
    fs_sgd_cfg cfg = {.epochs = 1, .batch_size = 5, .lr = 0.1};
    ck_assert_int_eq(fs_sgd_train(m, w, &ds, rows, 10, &cfg, r, order, g, s, &res), FS_ENUMERIC);
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq(w[i], 0);
    gsl_rng_free(r);
    fs_model_scratch_free(s);
    free(rows);
    fs_model_free(m);
    fs_dataset_fini(&ds);
}
END_TEST

/* A scenario naming the example plugin, with model text `model` and the plugin folder spliced. */
static int parse_plugin(const char *model_fmt, const char *arg, fs_scenario *s, fs_err *err)
{
    char model[6000], text[7000];
    snprintf(model, sizeof model, model_fmt, arg);
    snprintf(text, sizeof text,
             "{\"name\": \"p\", \"data\": {\"source\": \"synthetic\", \"clients\": 10}, "
             "\"model\": %s, \"server\": {\"rounds\": 1, \"clients_per_round\": 2}}",
             model);
    fs_err_init(err, "p.json");
    return fs_scn_parse(text, NULL, 0, s, err);
}

/* model.plugin.config is kept as compact JSON and handed on; model.plugin is in the effective
 * scenario of a plugin run only. */
START_TEST(plugin_keys_in_the_scenario)
{
    fs_scenario s;
    fs_err err;
    int rc = parse_plugin("{\"kind\": \"plugin\", \"plugin\": {\"path\": \"%s\", "
                          "\"config\": {\"l2\": 0.5, \"layers\": [1, 2]}}}",
                          plugin_path("linear_plugin"), &s, &err);
    ck_assert_msg(rc == FS_OK, "%s", err.msgs[0]);
    ck_assert_str_eq(s.model.plugin_config, "{\"l2\":0.5,\"layers\":[1,2]}");
    ck_assert_str_eq(s.model.plugin_path, plugin_path("linear_plugin"));
    ck_assert_ptr_nonnull(strstr(s.json, "\"config\":"));
    fs_scn_fini(&s);
    ck_assert_int_eq(parse_plugin("{\"kind\": \"plugin\", \"plugin\": {\"path\": \"%s\"}}",
                                  plugin_path("linear_plugin"), &s, &err),
                     FS_OK);
    ck_assert_str_eq(s.model.plugin_config, "{}");
    fs_scn_fini(&s);
    ck_assert_int_eq(parse_plugin("{\"kind\": \"mlp\"%s}", "", &s, &err), FS_OK);
    ck_assert_ptr_null(strstr(s.json, "plugin"));
    fs_scn_fini(&s);
}
END_TEST

START_TEST(plugin_config_too_long)
{
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fs_scenario s;
    fs_err err;
    ck_assert_int_eq(parse_plugin("{\"kind\": \"plugin\", \"plugin\": {\"path\": \"x.so\", "
                                  "\"config\": {\"k\": \"%s\"}}}",
                                  big, &s, &err),
                     FS_ESCENARIO);
    ck_assert_int_eq(err.n_total, 1);
    ck_assert_str_eq(err.msgs[0], "p.json: model.plugin.config: expected an object of at most "
                                  "4095 characters as JSON, found 5007");
}
END_TEST

/* The table's rows are the schema's model.kind words, in enum order. */
START_TEST(model_kind_table_matches_the_words)
{
    fs_scenario s = {0};
    size_t n = 0;
    for (; fs_scn_model_kinds[n]; n++) {
        s.model.kind = (enum fs_model_kind)n;
        const fs_model_desc *mk = fs_model_kind_of(&s);
        ck_assert_str_eq(mk->name, fs_scn_model_kinds[n]);
        ck_assert(mk->make && mk->params);
    }
    ck_assert_uint_eq(n, FS_MODEL_N_KINDS);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("plugin");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, linear_plugin_grad_matches_finite_diff);
    tcase_add_test(tc, linear_plugin_grad_on_sparse_rows);
    tcase_add_test(tc, linear_plugin_agrees_with_builtin_softmax);
    tcase_add_test(tc, sgd_trains_a_plugin_model);
    tcase_add_test(tc, broken_plugins_are_refused_on_open);
    tcase_add_test(tc, a_plugin_may_refuse_its_config);
    tcase_add_test(tc, probe_catches_non_finite_outputs);
    tcase_add_test(tc, non_finite_gradient_stops_sgd);
    tcase_add_test(tc, model_kind_table_matches_the_words);
    tcase_add_test(tc, plugin_keys_in_the_scenario);
    tcase_add_test(tc, plugin_config_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fs_test_run(suite());
}
