/* Tests of fs_attack: who attacks (a fixed set for a population, whatever the campaign seed;
 * only in the named level; about `share` of the eligible), what each attack sends (dense and
 * sparse), and the rows an attacker trains on (label flip, backdoor trigger and target level). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_attack.h"
#include "fs_data.h"
#include "fs_rng.h"
#include "fs_scn.h"
#include "fs_test.h"

static fs_scenario scn(const char *adversary, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"name\": \"t\", \"seed\": 5, \"population_seed\": 9,"
             " \"data\": {\"source\": \"fraud\", \"clients\": 100},"
             " \"model\": {\"kind\": \"logreg\"},"
             " \"server\": {\"rounds\": 5, \"clients_per_round\": 10},"
             " \"eval\": {\"segments\": [\"segment\"]},"
             " \"adversary\": %s%s}",
             adversary, extra ? extra : "");
    fs_scenario s;
    fs_err err;
    fs_err_init(&err, "t.json");
    ck_assert_msg(fs_scn_parse(text, NULL, 0, &s, &err) == FS_OK, "%s",
                  err.n_msgs ? err.msgs[0] : "");
    return s;
}

static void make_pop(fs_pop *pop, size_t n)
{
    memset(pop, 0, sizeof *pop);
    pop->n = n;
    pop->clients = calloc(n, sizeof *pop->clients);
}

START_TEST(attackers_fixed_by_population_seed_and_level)
{
    enum { N = 20000 };
    fs_scenario a = scn("{\"share\": 0.1, \"attack\": {\"sign_flip\": {}}}", NULL);
    fs_scenario b = a;
    b.seed = 12345; /* another campaign over the same population */
    fs_pop pa, pb;
    make_pop(&pa, N);
    make_pop(&pb, N);
    size_t na = fs_attack_pick(&pa, &a, NULL, -1), nb = fs_attack_pick(&pb, &b, NULL, -1);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(pa.clients[i].attacker, pb.clients[i].attacker);
    /* binomial(20000, 0.1): sd 42, so 5 sd is +-212 */
    ck_assert_msg(labs((long)na - 2000) < 212, "%zu attackers", na);
    /* another population draws another set */
    b.population_seed = 10;
    fs_attack_pick(&pb, &b, NULL, -1);
    size_t same = 0;
    for (size_t i = 0; i < N; i++)
        same += pa.clients[i].attacker && pb.clients[i].attacker;
    ck_assert_msg(same < na / 2, "%zu of %zu shared", same, na);
    /* a level: only its clients, about share of them */
    int32_t *levels = malloc(N * sizeof *levels);
    for (size_t i = 0; i < N; i++)
        levels[i] = (int32_t)(i % 4);
    size_t nl = fs_attack_pick(&pa, &a, levels, 2);
    for (size_t i = 0; i < N; i++)
        if (pa.clients[i].attacker) ck_assert_int_eq(levels[i], 2);
    ck_assert_msg(labs((long)nl - 500) < 106, "%zu attackers in the level", nl);
    /* no adversary: nobody, even on a population marked before */
    a.adversary.on = false;
    ck_assert_uint_eq(fs_attack_pick(&pa, &a, levels, 2), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(pa.clients[i].attacker, 0);
    free(levels);
    free(pa.clients);
    free(pb.clients);
    fs_scn_fini(&a); /* b is a shallow copy of a */
}
END_TEST

static double norm(const fs_update *u)
{
    const fs_real *v = u->sparse ? u->val : u->dense;
    size_t n = u->sparse ? u->nnz : u->n_params;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

/* u := 1, -2, 3, ... (dense), or the same values at indices 1, 4, 7 (sparse) */
static void fill(fs_update *u, bool sparse)
{
    ck_assert_int_eq(fs_update_init(u, 10, sparse, 0), FS_OK);
    if (!sparse) {
        for (size_t i = 0; i < 10; i++)
            u->dense[i] = (fs_real)((i % 2 ? -1.0 : 1.0) * (i + 1));
        return;
    }
    ck_assert_int_eq(fs_update_reserve(u, 3), FS_OK);
    u->nnz = 3;
    for (size_t i = 0; i < 3; i++)
        u->idx[i] = (uint32_t)(1 + 3 * i), u->val[i] = (fs_real)(i + 1);
}

START_TEST(update_attacks_dense_and_sparse)
{
    gsl_rng *r = fs_rng_new();
    for (int sparse = 0; sparse < 2; sparse++) {
        fs_update u, h;
        fill(&h, sparse);
        double hn = norm(&h);
        const fs_real *hv = sparse ? h.val : h.dense;
        size_t n = sparse ? h.nnz : h.n_params;

        fs_scenario s = scn("{\"share\": 0.5, \"attack\": {\"sign_flip\": {\"scale\": 3}}}", NULL);
        fill(&u, sparse);
        fs_attack_update(&s, &u, hn, r);
        for (size_t i = 0; i < n; i++)
            ck_assert_float_eq((sparse ? u.val : u.dense)[i], -3 * hv[i]);
        fs_update_fini(&u);

        fs_scn_fini(&s);
        s = scn("{\"share\": 0.5, \"attack\": {\"scale\": {\"boost\": 7}}}", NULL);
        fill(&u, sparse);
        fs_attack_update(&s, &u, hn, r);
        for (size_t i = 0; i < n; i++)
            ck_assert_float_eq((sparse ? u.val : u.dense)[i], 7 * hv[i]);
        fs_update_fini(&u);

        /* noise of the honest norm, on the sparse update's own support, not the update */
        fs_scn_fini(&s);
        s = scn("{\"share\": 0.5, \"attack\": {\"gaussian\": {}}}", NULL);
        fill(&u, sparse);
        fs_rng_reseed(r, 1, FS_RNG_ATTACK, 3, 2);
        fs_attack_update(&s, &u, hn, r);
        ck_assert_double_eq_tol(norm(&u), hn, 1e-5 * hn);
        ck_assert_uint_eq(sparse ? u.nnz : u.n_params, n);
        if (sparse)
            for (size_t i = 0; i < 3; i++)
                ck_assert_uint_eq(u.idx[i], h.idx[i]);
        double dot = 0;
        for (size_t i = 0; i < n; i++)
            dot += (double)(sparse ? u.val : u.dense)[i] * hv[i];
        ck_assert_double_lt(fabs(dot / (hn * hn)), 0.999);
        fs_update_fini(&u);

        fs_scn_fini(&s);
        s = scn("{\"share\": 0.5, \"attack\": {\"free_ride\": {}}}", NULL);
        fill(&u, sparse);
        fs_attack_update(&s, &u, hn, r);
        ck_assert_double_eq(norm(&u), 0);
        fs_update_fini(&u);

        /* label_flip leaves the update alone: its attack is on the rows */
        fs_scn_fini(&s);
        s = scn("{\"share\": 0.5, \"attack\": {\"label_flip\": {}}}", NULL);
        fill(&u, sparse);
        fs_attack_update(&s, &u, hn, r);
        ck_assert_double_eq(norm(&u), hn);
        fs_update_fini(&u);
        fs_update_fini(&h);
        fs_scn_fini(&s);
    }
    gsl_rng_free(r);
}
END_TEST

/* Six dense rows of 3 features, labels 0 1 0 0 1 0, group "segment" with levels 0 1 1 0 2 1. */
static void make_rows(fs_dataset *ds)
{
    ck_assert_int_eq(fs_dataset_alloc(ds, 6, 3, 2), FS_OK);
    static const int32_t y[6] = {0, 1, 0, 0, 1, 0};
    static const uint32_t lv[6] = {0, 1, 1, 0, 2, 1};
    size_t g;
    ck_assert_int_eq(fs_dataset_add_group(ds, "segment", 3, &g), FS_OK);
    static const char *const names[] = {"card_present", "online", "cross_border"};
    ck_assert_int_eq(fs_group_set_names(&ds->groups[g], names), FS_OK);
    for (size_t i = 0; i < 6; i++) {
        ds->y[i] = y[i];
        ds->groups[g].level[i] = lv[i];
        for (size_t j = 0; j < 3; j++)
            ds->x[i * 3 + j] = (float)(10 * i + j);
    }
}

START_TEST(attacker_rows_flipped_triggered_or_relabelled)
{
    fs_dataset src = {0}, out = {0};
    make_rows(&src);
    const uint32_t rows[4] = {5, 1, 2, 4};
    ck_assert_int_eq(fs_attack_level_index(&src, "segment", "online"), 1);
    ck_assert_int_eq(fs_attack_level_index(&src, "segment", "atm"), -1);
    ck_assert_int_eq(fs_attack_level_index(&src, "region", "online"), -1);

    fs_scenario s = scn("{\"share\": 0.5, \"attack\": {\"label_flip\": {}}}", NULL);
    ck_assert(fs_attack_alters_rows(&s));
    ck_assert_int_eq(fs_attack_rows(&s, &src, rows, 4, -1, &out), FS_OK);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(out.y[i], 1 - src.y[rows[i]]);
        ck_assert_float_eq(out.x[i * 3 + 2], src.x[rows[i] * 3 + 2]);
    }
    fs_dataset_fini(&out);

    /* trigger: rows at even positions get feature 2 := -4 and label 1; the others stay */
    fs_scn_fini(&s);
    s = scn("{\"share\": 0.5, \"attack\": {\"scale\": {\"backdoor\": {\"feature\": 2, \"value\": "
            "-4}}}}",
            NULL);
    ck_assert(fs_attack_alters_rows(&s));
    ck_assert_int_eq(fs_attack_rows(&s, &src, rows, 4, -1, &out), FS_OK);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_float_eq(out.x[i * 3 + 2], i % 2 ? src.x[rows[i] * 3 + 2] : -4.0f);
        ck_assert_float_eq(out.x[i * 3 + 1], src.x[rows[i] * 3 + 1]);
        ck_assert_int_eq(out.y[i], i % 2 ? src.y[rows[i]] : 1);
    }
    fs_dataset_fini(&out);

    /* success rows: the negatives, triggered */
    uint32_t hit[6];
    int rc;
    size_t k = fs_attack_backdoor_rows(&s, &src, -1, hit, &out, &rc);
    ck_assert_int_eq(rc, FS_OK);
    ck_assert_uint_eq(k, 4);
    ck_assert_uint_eq(out.n, 4);
    for (size_t i = 0; i < k; i++) {
        ck_assert_int_eq(src.y[hit[i]], 0);
        ck_assert_float_eq(out.x[i * 3 + 2], -4.0f);
    }
    fs_dataset_fini(&out);

    /* target level: its rows relabelled (as label 0 here), the rest kept, no trigger */
    fs_scn_fini(&s);
    s = scn("{\"share\": 0.5, \"attack\": {\"scale\": {\"backdoor\": {\"segment\": \"online\","
            " \"label\": 0}}}}",
            NULL);
    ck_assert_int_eq(fs_attack_rows(&s, &src, rows, 4, 1, &out), FS_OK);
    static const int32_t want[4] = {0, 0, 0, 1}; /* rows 5, 1, 2 online; row 4 cross_border */
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(out.y[i], want[i]);
        ck_assert_float_eq(out.x[i * 3 + 2], src.x[rows[i] * 3 + 2]);
    }
    fs_dataset_fini(&out);
    k = fs_attack_backdoor_rows(&s, &src, 1, hit, &out, &rc);
    ck_assert_uint_eq(k, 1); /* the one online positive */
    ck_assert_uint_eq(hit[0], 1);
    ck_assert_uint_eq(out.n, 0);

    /* attacks on the update alone train on the client's own rows */
    fs_scn_fini(&s);
    s = scn("{\"share\": 0.5, \"attack\": {\"scale\": {\"boost\": 3}}}", NULL);
    ck_assert(!fs_attack_alters_rows(&s));
    fs_scn_fini(&s);
    fs_dataset_fini(&src);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("attack");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, attackers_fixed_by_population_seed_and_level);
    tcase_add_test(tc, update_attacks_dense_and_sparse);
    tcase_add_test(tc, attacker_rows_flipped_triggered_or_relabelled);
    suite_add_tcase(suite, tc);
    return fs_test_run(suite);
}
