/* Tests of fs_pop's selection: the draw-ahead loop picks exactly the clients, and leaves exactly
 * the permutation, of the plain partial Fisher-Yates pass it replaces, busy and non-consenting
 * clients included, whether `want` is reached early or never. */
#include <stdlib.h>
#include <string.h>

#include "fs_avail.h"
#include "fs_device.h"
#include "fs_pop.h"
#include "fs_rng.h"
#include "fs_test.h"

/* The plain pass: one draw, one swap, one query per candidate, in that order. */
static size_t ref_select(fs_pop *pop, const fs_avail *avail, uint64_t seed, uint64_t pass,
                         int64_t t, size_t want, gsl_rng *r_sel, gsl_rng *r_cli, uint32_t *out,
                         size_t *queried)
{
    fs_rng_reseed(r_sel, seed, FS_RNG_SELECT, FS_RNG_NONE, pass);
    size_t found = 0;
    *queried = 0;
    for (size_t i = 0; i < pop->n && found < want; i++) {
        size_t j = i + gsl_rng_uniform_int(r_sel, pop->n - i);
        uint32_t id = pop->perm[j];
        pop->perm[j] = pop->perm[i];
        pop->perm[i] = id;
        fs_client *c = &pop->clients[id];
        if (!c->consent || c->t_busy_until > t) continue;
        ++*queried;
        fs_rng_reseed(r_cli, seed, FS_RNG_AVAIL, id, pass);
        if (fs_avail_query(avail, &c->avail, t, r_cli)) out[found++] = id;
    }
    return found;
}

static void make_pop(fs_pop *pop, size_t n)
{
    pop->n = n;
    pop->clients = calloc(n, sizeof *pop->clients);
    pop->perm = malloc(n * sizeof *pop->perm);
    for (size_t i = 0; i < n; i++) {
        pop->perm[i] = (uint32_t)i;
        pop->clients[i] = (fs_client){.consent = i % 7 != 3,
                                      .t_busy_until = i % 5 == 1 ? INT64_MAX : 0,
                                      .avail = {.t_known = INT64_MIN}};
    }
}

START_TEST(selection_matches_the_plain_pass)
{
    enum { N = 5000 };
    fs_scenario s;
    memset(&s, 0, sizeof s);
    s.devices.availability = FS_AVAIL_MARKOV;
    s.devices.mean_on_min = 30;
    s.devices.mean_off_min = 90;
    fs_avail avail;
    fs_avail_init(&avail, &s);
    fs_pop a, b;
    make_pop(&a, N);
    make_pop(&b, N);
    gsl_rng *r1 = fs_rng_new(), *r3 = fs_rng_new(), *r4 = fs_rng_new();
    uint32_t *ids_a = malloc(N * sizeof *ids_a), *ids_b = malloc(N * sizeof *ids_b);
    /* want: a few (stops within the draw-ahead window), many, more than are online (every
     * candidate examined: the ring runs dry at the end of the permutation) */
    const size_t wants[] = {1, 3, 20, 700, N};
    for (uint64_t pass = 0; pass < 40; pass++) {
        size_t want = wants[pass % 5];
        int64_t t = (int64_t)pass * 20 * 60 * FS_US_PER_S;
        size_t qa = 0, qb = 0;
        size_t na = fs_pop_select(&a, &avail, 11, pass, t, want, r1, ids_a, &qa);
        size_t nb = ref_select(&b, &avail, 11, pass, t, want, r3, r4, ids_b, &qb);
        ck_assert_uint_eq(na, nb);
        ck_assert_uint_eq(qa, qb);
        ck_assert_uint_gt(na, 0);
        ck_assert_int_eq(memcmp(ids_a, ids_b, na * sizeof *ids_a), 0);
        ck_assert_int_eq(memcmp(a.perm, b.perm, N * sizeof *a.perm), 0);
        ck_assert_int_eq(memcmp(a.clients, b.clients, N * sizeof *a.clients), 0);
    }
    free(ids_a);
    free(ids_b);
    gsl_rng_free(r1);
    gsl_rng_free(r3);
    gsl_rng_free(r4);
    fs_pop_fini(&a);
    fs_pop_fini(&b);
}
END_TEST

static Suite *pop_suite(void)
{
    Suite *s = suite_create("pop");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, selection_matches_the_plain_pass);
    suite_add_tcase(s, tc);
    return s;
}

FS_TEST_MAIN(pop_suite)
