/* test_partition: the IID and Dirichlet partitioners: coverage (each row exactly once), sizes,
 * determinism, the label skew that defines the Dirichlet variant, and argument errors. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_data.h"
#include "fs_test.h"

/* n rows, one feature, labels i % n_classes (balanced). */
static void labelled(fs_dataset *ds, size_t n, int n_classes)
{
    ck_assert_int_eq(fs_dataset_alloc(ds, n, 1, n_classes), FS_OK);
    for (size_t i = 0; i < n; i++) ds->y[i] = (int32_t)(i % (size_t)n_classes);
}

static void assert_covers_once(const fs_partition *p, size_t n)
{
    ck_assert_uint_eq(p->offset[0], 0);
    ck_assert_uint_eq(p->offset[p->n_clients], n);
    unsigned char *seen = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(p->rows[i], n);
        ck_assert_uint_eq(seen[p->rows[i]], 0);
        seen[p->rows[i]] = 1;
    }
    free(seen);
}

static void assert_sizes_within_one(const fs_partition *p)
{
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t k = 0; k < p->n_clients; k++) {
        size_t s = fs_partition_size(p, k);
        lo = s < lo ? s : lo;
        hi = s > hi ? s : hi;
    }
    ck_assert_uint_ge(lo, 1);
    ck_assert_uint_le(hi - lo, 1);
}

static bool same_partition(const fs_partition *a, const fs_partition *b)
{
    return a->n_clients == b->n_clients &&
           memcmp(a->offset, b->offset, (a->n_clients + 1) * sizeof *a->offset) == 0 &&
           memcmp(a->rows, b->rows, a->offset[a->n_clients] * sizeof *a->rows) == 0;
}

START_TEST(iid_covers_rows_once_in_near_equal_slices)
{
    fs_dataset ds;
    labelled(&ds, 1003, 10);
    fs_partition p;
    ck_assert_int_eq(fs_partition_iid(&ds, 10, 1, &p, NULL), FS_OK);
    ck_assert_uint_eq(p.n_clients, 10);
    assert_covers_once(&p, 1003);
    assert_sizes_within_one(&p);
    fs_partition_fini(&p);
    ck_assert_int_eq(fs_partition_iid(&ds, 1003, 1, &p, NULL), FS_OK); /* one row each */
    assert_covers_once(&p, 1003);
    assert_sizes_within_one(&p);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(iid_deterministic_per_seed)
{
    fs_dataset ds;
    labelled(&ds, 500, 10);
    fs_partition a, b, c;
    ck_assert_int_eq(fs_partition_iid(&ds, 7, 99, &a, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_iid(&ds, 7, 99, &b, NULL), FS_OK);
    ck_assert_int_eq(fs_partition_iid(&ds, 7, 100, &c, NULL), FS_OK);
    ck_assert(same_partition(&a, &b));
    ck_assert(!same_partition(&a, &c));
    fs_partition_fini(&a), fs_partition_fini(&b), fs_partition_fini(&c);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(dirichlet_covers_rows_once_and_is_deterministic)
{
    fs_dataset ds;
    labelled(&ds, 5000, 10);
    const double alphas[] = {1e-4, 0.1, 1, 100};
    for (size_t i = 0; i < sizeof alphas / sizeof *alphas; i++) {
        fs_partition a, b, c;
        ck_assert_int_eq(fs_partition_dirichlet(&ds, 37, alphas[i], 5, &a, NULL), FS_OK);
        ck_assert_int_eq(fs_partition_dirichlet(&ds, 37, alphas[i], 5, &b, NULL), FS_OK);
        ck_assert_int_eq(fs_partition_dirichlet(&ds, 37, alphas[i], 6, &c, NULL), FS_OK);
        assert_covers_once(&a, 5000);
        assert_sizes_within_one(&a);
        ck_assert(same_partition(&a, &b));
        ck_assert(!same_partition(&a, &c));
        fs_partition_fini(&a), fs_partition_fini(&b), fs_partition_fini(&c);
    }
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(dirichlet_handles_absent_and_unbalanced_classes)
{
    fs_dataset ds;
    labelled(&ds, 1000, 10);
    for (size_t i = 0; i < 1000; i++) ds.y[i] = i < 900 ? 3 : (i % 2 ? 7 : 0); /* 6 absent */
    fs_partition p;
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 20, 0.5, 1, &p, NULL), FS_OK);
    assert_covers_once(&p, 1000);
    assert_sizes_within_one(&p);
    fs_partition_fini(&p);
    fs_dataset_fini(&ds);
}
END_TEST

/* Mean over clients of the total-variation distance between a client's label distribution and
 * the global prior (uniform here). */
static double mean_tv(const fs_dataset *ds, const fs_partition *p)
{
    double sum = 0;
    for (size_t k = 0; k < p->n_clients; k++) {
        double cnt[10] = {0}, n = (double)fs_partition_size(p, k), tv = 0;
        for (size_t i = p->offset[k]; i < p->offset[k + 1]; i++) cnt[ds->y[p->rows[i]]]++;
        for (int c = 0; c < 10; c++) tv += fabs(cnt[c] / n - 0.1);
        sum += tv / 2;
    }
    return sum / (double)p->n_clients;
}

/* 100 clients of 200 rows over 10 balanced classes. Even at alpha=100 the mean TV is not small:
 * each class share has variance p(1-p)/200 from sampling 200 rows plus p(1-p)/(alpha+1) from
 * q ~ Dir(alpha p), so E[TV] ~ 5 * sqrt(2/pi) * sqrt(0.09/200 + 0.09/101) ~ 0.146, and the last
 * clients, drawing from nearly exhausted pools, are more skewed (measured 0.158 over 20 seeds;
 * 0.09 at alpha=1e6, the pure-sampling floor). Hence the bound 0.2, not 0.15. */
START_TEST(dirichlet_skew_grows_as_alpha_shrinks)
{
    fs_dataset ds;
    labelled(&ds, 20000, 10);
    const double alphas[] = {0.1, 1, 10, 100};
    double tv[4];
    for (int i = 0; i < 4; i++) {
        fs_partition p;
        ck_assert_int_eq(fs_partition_dirichlet(&ds, 100, alphas[i], 3, &p, NULL), FS_OK);
        tv[i] = mean_tv(&ds, &p);
        printf("dirichlet alpha=%g: mean TV distance to the prior %.3f\n", alphas[i], tv[i]);
        fs_partition_fini(&p);
    }
    ck_assert_double_gt(tv[0], 0.5);
    ck_assert_double_lt(tv[3], 0.2);
    for (int i = 1; i < 4; i++) ck_assert_double_lt(tv[i], tv[i - 1]);
    fs_dataset_fini(&ds);
}
END_TEST

START_TEST(bad_arguments_are_escenario)
{
    fs_dataset ds;
    labelled(&ds, 50, 10);
    fs_partition p;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_partition_iid(&ds, 0, 1, &p, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition.n_clients: expected 1 .. 50 (the number of rows in "
                                  "the dataset), found 0");
    ck_assert_int_eq(fs_partition_iid(&ds, 51, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 51, 1.0, 1, &p, &err), FS_ESCENARIO);
    fs_err_clear(&err);
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 5, 0.0, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 5, -1.0, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 5, NAN, 1, &p, &err), FS_ESCENARIO);
    ck_assert_int_eq(err.n_msgs, 3);
    ck_assert_str_eq(err.msgs[0], "partition.alpha: expected a finite number > 0, found 0");
    ck_assert_ptr_null(p.rows);
    ds.y[7] = 10;
    fs_err_clear(&err);
    ck_assert_int_eq(fs_partition_dirichlet(&ds, 5, 1.0, 1, &p, &err), FS_ESCENARIO);
    ck_assert_str_eq(err.msgs[0], "partition: row 7: expected a label in 0 .. 9, found 10");
    fs_dataset_fini(&ds);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("partition");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, iid_covers_rows_once_in_near_equal_slices);
    tcase_add_test(tc, iid_deterministic_per_seed);
    tcase_add_test(tc, dirichlet_covers_rows_once_and_is_deterministic);
    tcase_add_test(tc, dirichlet_handles_absent_and_unbalanced_classes);
    tcase_add_test(tc, dirichlet_skew_grows_as_alpha_shrinks);
    tcase_add_test(tc, bad_arguments_are_escenario);
    suite_add_tcase(su, tc);
    return fs_test_run(su);
}
