/* test_load: the CSV and LIBSVM loaders on hand-written files (layouts, classes, quoting, line
 * endings, gzip, every error message) and on the committed real fixture breast_cancer.csv. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fs_load.h"
#include "fs_test.h"

static char tmpdir[64];
static char path[256];
static fs_err err;
static fs_dataset ds;

static void setup(void)
{
    strcpy(tmpdir, "/tmp/fs_test_load_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    fs_err_init(&err, NULL);
    memset(&ds, 0, sizeof ds);
}

static void teardown(void)
{
    fs_dataset_fini(&ds);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to tmpdir/name; path then holds its name. */
static const char *put(const char *name, const char *text)
{
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_csv(const char *name, const char *text, const fs_csv_opts *o)
{
    return fs_data_load_csv(put(name, text), o, &ds, &err);
}

/* The first error message must be "<path><rest>". */
static void expect_msg(const char *rest)
{
    char want[FS_ERR_MSG_LEN];
    snprintf(want, sizeof want, "%s%s", path, rest);
    ck_assert_int_ge(err.n_msgs, 1);
    ck_assert_str_eq(err.msgs[0], want);
}

static const char *const NUMS_CSV = "a,b,y\n"
                                    "1.5,-2,no\n"
                                    "0.25,3e2,yes\n"
                                    "-0,7,no\n";

START_TEST(csv_numeric_columns_load_dense_and_exact)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("n.csv", NUMS_CSV, &o), FS_OK);
    ck_assert(!fs_dataset_is_sparse(&ds));
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.d, 2);
    const float want[] = {1.5f, -2.0f, 0.25f, 300.0f, 0.0f, 7.0f};
    for (int i = 0; i < 6; i++) ck_assert(ds.x[i] == want[i]);
    ck_assert_int_eq(ds.n_classes, 2);
    ck_assert_ptr_null(ds.target);
    ck_assert_uint_eq(err.n_msgs, 0);
}
END_TEST

START_TEST(csv_label_classes_are_sorted_texts)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("c.csv", "x,y\n1,pear\n2,apple\n3,fig\n4,apple\n", &o), FS_OK);
    ck_assert_int_eq(ds.n_classes, 3);
    const int32_t want[] = {2, 0, 1, 0}; /* apple < fig < pear */
    for (int i = 0; i < 4; i++) ck_assert_int_eq(ds.y[i], want[i]);
}
END_TEST

START_TEST(csv_numeric_labels_sort_by_value_and_equal_values_merge)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("c.csv", "x,y\n1,10\n2,2\n3,-1\n4,2.0\n5,10\n", &o), FS_OK);
    ck_assert_int_eq(ds.n_classes, 3);
    const int32_t want[] = {2, 1, 0, 1, 2}; /* -1 < 2 == 2.0 < 10, not "10" < "2" */
    for (int i = 0; i < 5; i++) ck_assert_int_eq(ds.y[i], want[i]);
}
END_TEST

START_TEST(csv_positive_label_is_class_one)
{
    fs_csv_opts o = {.label = "y", .positive = "yes"};
    ck_assert_int_eq(load_csv("p.csv", "x,y\n1,no\n2,yes\n3,maybe\n", &o), FS_OK);
    ck_assert_int_eq(ds.n_classes, 2);
    ck_assert_int_eq(ds.y[0], 0);
    ck_assert_int_eq(ds.y[1], 1);
    ck_assert_int_eq(ds.y[2], 0);
}
END_TEST

START_TEST(csv_positive_label_never_seen_is_an_error)
{
    fs_csv_opts o = {.label = "y", .positive = "Yes"};
    ck_assert_int_eq(load_csv("p.csv", "x,y\n1,no\n2,yes\n", &o), FS_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "positive: expected label 'Yes' in column 'y'"));
    ck_assert_ptr_null(ds.x);
}
END_TEST

START_TEST(csv_regression_target_is_numeric)
{
    fs_csv_opts o = {.label = "rating", .regression = true};
    ck_assert_int_eq(load_csv("r.csv", "user,rating\n1,3.5\n2,4\n3,0.5\n", &o), FS_OK);
    ck_assert_int_eq(ds.n_classes, 0);
    ck_assert_ptr_null(ds.y);
    ck_assert_ptr_nonnull(ds.target);
    ck_assert(ds.target[0] == 3.5f && ds.target[1] == 4.0f && ds.target[2] == 0.5f);
    ck_assert(ds.x[0] == 1.0f && ds.x[2] == 3.0f);
}
END_TEST

START_TEST(csv_groups_have_sorted_levels_and_names)
{
    const char *const groups[] = {"region"};
    fs_csv_opts o = {.label = "y", .groups = groups, .n_groups = 1};
    ck_assert_int_eq(load_csv("g.csv",
                              "region,x,y\n"
                              "south,1,0\n"
                              "north,2,1\n"
                              "a-region-name-longer-than-31-bytes,3,0\n"
                              "south,4,1\n",
                              &o),
                     FS_OK);
    ck_assert_uint_eq(ds.d, 1); /* the group is not a feature */
    ck_assert(ds.x[0] == 1.0f && ds.x[3] == 4.0f);
    ck_assert_uint_eq(ds.n_groups, 1);
    int g = fs_dataset_find_group(&ds, "region");
    ck_assert_int_eq(g, 0);
    const fs_group *gr = &ds.groups[g];
    ck_assert_uint_eq(gr->n_levels, 3);
    ck_assert_str_eq(gr->level_names[0], "a-region-name-longer-than-31-bytes"); /* whole */
    ck_assert_str_eq(gr->level_names[1], "north");
    ck_assert_str_eq(gr->level_names[2], "south");
    const uint32_t want[] = {2, 1, 0, 2};
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(gr->level[i], want[i]);
}
END_TEST

START_TEST(csv_onehot_columns_follow_feature_order_and_sorted_categories)
{
    const char *const feats[] = {"color", "w"};
    const char *const cats[] = {"color"};
    fs_csv_opts o = {.label = "y", .features = feats, .n_features = 2, .categorical = cats,
                     .n_categorical = 1};
    ck_assert_int_eq(load_csv("o.csv", "w,color,y,unused\n5,red,1,x\n6,blue,0,x\n7,green,1,x\n",
                              &o),
                     FS_OK);
    ck_assert(!fs_dataset_is_sparse(&ds));
    ck_assert_uint_eq(ds.d, 4); /* blue, green, red, then w */
    const float want[] = {0, 0, 1, 5, /**/ 1, 0, 0, 6, /**/ 0, 1, 0, 7};
    for (int i = 0; i < 12; i++) ck_assert(ds.x[i] == want[i]);
}
END_TEST

static uint32_t fnv_bucket(const char *s, size_t buckets)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return (uint32_t)(h % buckets);
}

START_TEST(csv_hashed_categories_give_sparse_rows_after_documented_layout)
{
    const char *const cats[] = {"site", "app"};
    enum { B = 1000 };
    fs_csv_opts o = {.label = "click", .categorical = cats, .n_categorical = 2,
                     .encoding = FS_CAT_HASH, .hash_buckets = B};
    ck_assert_int_eq(load_csv("h.csv", "click,site,price,app,hour\n1,s1,2.5,a9,0\n0,s2,0,a9,3\n",
                              &o),
                     FS_OK);
    ck_assert(fs_dataset_is_sparse(&ds));
    ck_assert_ptr_null(ds.x);
    ck_assert_uint_eq(ds.d, B + 2); /* buckets, then price (B), hour (B + 1) */
    uint32_t s1 = fnv_bucket("site=s1", B), s2 = fnv_bucket("site=s2", B),
             a9 = fnv_bucket("app=a9", B);
    ck_assert(s1 != a9 && s2 != a9);
    /* row 0: s1, a9 (sorted), price 2.5; hour 0 is not stored */
    ck_assert_uint_eq(ds.ptr[1] - ds.ptr[0], 3);
    uint32_t lo = s1 < a9 ? s1 : a9, hi = s1 < a9 ? a9 : s1;
    ck_assert_uint_eq(ds.idx[0], lo);
    ck_assert_uint_eq(ds.idx[1], hi);
    ck_assert_uint_eq(ds.idx[2], B);
    ck_assert(ds.val[0] == 1.0f && ds.val[1] == 1.0f && ds.val[2] == 2.5f);
    /* row 1: s2, a9, hour 3 at B + 1; price 0 not stored */
    ck_assert_uint_eq(ds.ptr[2] - ds.ptr[1], 3);
    ck_assert_uint_eq(ds.idx[ds.ptr[2] - 1], B + 1);
    ck_assert(ds.val[ds.ptr[2] - 1] == 3.0f);
    for (size_t k = ds.ptr[1] + 1; k < ds.ptr[2]; k++) ck_assert_uint_lt(ds.idx[k - 1], ds.idx[k]);
    ck_assert_int_eq(ds.y[0], 1);
}
END_TEST

START_TEST(csv_hash_collisions_within_a_row_add_up)
{
    const char *const cats[] = {"a", "b"};
    fs_csv_opts o = {.label = "y", .categorical = cats, .n_categorical = 2,
                     .encoding = FS_CAT_HASH, .hash_buckets = 1};
    ck_assert_int_eq(load_csv("h.csv", "a,b,y\nu,v,0\n", &o), FS_OK);
    ck_assert_uint_eq(ds.ptr[1], 1);
    ck_assert_uint_eq(ds.idx[0], 0);
    ck_assert(ds.val[0] == 2.0f);
}
END_TEST

static const char *const MIXED_CSV = "size,color,w,shape,y\n"
                                     "s,red,0,round,1\n"
                                     "m,blue,2.5,square,0\n"
                                     "l,green,-0,round,1\n"
                                     "s,blue,-1e3,oval,0\n"
                                     "xl,red,7,square,1\n";

START_TEST(csv_index_encoding_equals_dense_onehot_layout)
{
    const char *const cats[] = {"size", "color", "shape"};
    fs_csv_opts o = {.label = "y", .categorical = cats, .n_categorical = 3};
    fs_dataset dense;
    ck_assert_int_eq(fs_data_load_csv(put("m.csv", MIXED_CSV), &o, &dense, &err), FS_OK);
    o.encoding = FS_CAT_INDEX;
    ck_assert_int_eq(fs_data_load_csv(path, &o, &ds, &err), FS_OK);
    ck_assert(!fs_dataset_is_sparse(&dense) && fs_dataset_is_sparse(&ds));
    ck_assert_ptr_null(ds.x);
    ck_assert_uint_eq(ds.n, dense.n);
    ck_assert_uint_eq(ds.d, dense.d);
    ck_assert_uint_eq(ds.d, 4 + 3 + 1 + 3); /* l m s xl, blue green red, w, oval round square */
    ck_assert_int_eq(ds.n_classes, dense.n_classes);
    ck_assert_uint_eq(ds.ptr[0], 0);
    for (size_t r = 0; r < ds.n; r++) {
        const float *x = dense.x + r * dense.d;
        size_t k = ds.ptr[r], nz = 0;
        for (size_t j = 0; j < ds.d; j++) {
            if (x[j] == 0) continue;
            ck_assert_uint_lt(k, ds.ptr[r + 1]);
            ck_assert_uint_eq(ds.idx[k], j); /* same index, so ascending like the dense row */
            ck_assert(ds.val[k] == x[j]);
            k++, nz++;
        }
        ck_assert_uint_eq(ds.ptr[r + 1] - ds.ptr[r], nz); /* no stored zeros */
        ck_assert_int_eq(ds.y[r], dense.y[r]);
    }
    fs_dataset_fini(&dense);
    ck_assert_uint_eq(err.n_msgs, 0);
}
END_TEST

START_TEST(csv_index_rows_are_ascending_and_numeric_zeros_not_stored)
{
    const char *const feats[] = {"color", "w"}; /* not file order */
    const char *const cats[] = {"color"};
    fs_csv_opts o = {.label = "y", .features = feats, .n_features = 2, .categorical = cats,
                     .n_categorical = 1, .encoding = FS_CAT_INDEX};
    ck_assert_int_eq(load_csv("i.csv", "w,color,y\n0,red,1\n2.5,blue,0\n-0,green,1\n", &o),
                     FS_OK);
    ck_assert_uint_eq(ds.d, 4); /* blue, green, red, then w */
    const size_t want_ptr[] = {0, 1, 3, 4};
    const uint32_t want_idx[] = {2, /**/ 0, 3, /**/ 1};
    const float want_val[] = {1, /**/ 1, 2.5f, /**/ 1};
    for (int r = 0; r <= 3; r++) ck_assert_uint_eq(ds.ptr[r], want_ptr[r]);
    for (int k = 0; k < 4; k++) {
        ck_assert_uint_eq(ds.idx[k], want_idx[k]);
        ck_assert(ds.val[k] == want_val[k]);
    }
}
END_TEST

START_TEST(csv_index_movielens_like_ratings_one_entry_per_row)
{
    const char *const groups[] = {"userId"};
    const char *const cats[] = {"movieId"};
    fs_csv_opts o = {.label = "rating", .groups = groups, .n_groups = 1, .categorical = cats,
                     .n_categorical = 1, .encoding = FS_CAT_INDEX, .regression = true};
    ck_assert_int_eq(load_csv("ml.csv",
                              "userId,movieId,rating\n"
                              "1,31,2.5\n"
                              "1,1029,3\n"
                              "2,31,4.5\n"
                              "7,2,0.5\n"
                              "2,1029,5\n"
                              "7,10,4\n",
                              &o),
                     FS_OK);
    ck_assert_int_eq(ds.n_classes, 0);
    ck_assert_ptr_null(ds.y);
    const float want_t[] = {2.5f, 3, 4.5f, 0.5f, 5, 4};
    for (int r = 0; r < 6; r++) ck_assert(ds.target[r] == want_t[r]);
    ck_assert_uint_eq(ds.d, 4); /* movies in strcmp order: "10" "1029" "2" "31" */
    const uint32_t want_idx[] = {3, 1, 3, 2, 1, 0};
    for (int r = 0; r < 6; r++) {
        ck_assert_uint_eq(ds.ptr[r + 1] - ds.ptr[r], 1);
        ck_assert_uint_eq(ds.idx[ds.ptr[r]], want_idx[r]);
        ck_assert(ds.val[ds.ptr[r]] == 1.0f);
    }
    ck_assert_uint_eq(ds.n_groups, 1);
    const fs_group *g = &ds.groups[0];
    ck_assert_str_eq(g->name, "userId");
    ck_assert_uint_eq(g->n_levels, 3);
    ck_assert_str_eq(g->level_names[0], "1");
    ck_assert_str_eq(g->level_names[2], "7");
    const uint32_t want_lv[] = {0, 0, 1, 2, 1, 2};
    for (int r = 0; r < 6; r++) ck_assert_uint_eq(g->level[r], want_lv[r]);
}
END_TEST

START_TEST(csv_quoted_fields_keep_delimiters_quotes_newlines_and_utf8)
{
    const char *const cats[] = {"name"};
    const char *const groups[] = {"city"};
    fs_csv_opts o = {.label = "y", .categorical = cats, .n_categorical = 1, .groups = groups,
                     .n_groups = 1};
    ck_assert_int_eq(load_csv("q.csv",
                              "\xEF\xBB\xBF\"name\",city,\"y\"\n"
                              "\"a,b\",\"Z\xC3\xBCrich\",1\n"
                              "\"say \"\"hi\"\"\",\"two\nlines\",0\n"
                              "plain,\"\",\"1\"\n",
                              &o),
                     FS_OK);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.d, 3); /* "a,b" < "plain" < "say \"hi\"" */
    ck_assert(ds.x[0] == 1.0f && ds.x[3 + 2] == 1.0f && ds.x[6 + 1] == 1.0f);
    const fs_group *g = &ds.groups[0];
    ck_assert_uint_eq(g->n_levels, 3);
    ck_assert_str_eq(g->level_names[0], "");
    ck_assert_str_eq(g->level_names[1], "Z\xC3\xBCrich");
    ck_assert_str_eq(g->level_names[2], "two\nlines");
    ck_assert_uint_eq(g->level[1], 2);
    ck_assert_int_eq(ds.y[0], 1);
    ck_assert_int_eq(ds.y[1], 0);
}
END_TEST

START_TEST(csv_crlf_line_endings_and_blank_lines)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("w.csv", "a,y\r\n1.5,x\r\n\r\n2,\"z\"\r\n", &o), FS_OK);
    ck_assert_uint_eq(ds.n, 2);
    ck_assert(ds.x[0] == 1.5f && ds.x[1] == 2.0f);
    ck_assert_int_eq(ds.y[1], 1);
}
END_TEST

START_TEST(csv_options_delimiter_feature_subset_and_max_rows)
{
    const char *const feats[] = {"c", "a"};
    fs_csv_opts o = {.label = "y", .features = feats, .n_features = 2, .delimiter = ';',
                     .max_rows = 2};
    ck_assert_int_eq(load_csv("s.csv", "a;b;c;y\n1;2;3;0\n4;5;6;1\n7;8;oops;2\n", &o), FS_OK);
    ck_assert_uint_eq(ds.n, 2); /* the bad third row is never read */
    ck_assert_uint_eq(ds.d, 2);
    const float want[] = {3, 1, 6, 4};
    for (int i = 0; i < 4; i++) ck_assert(ds.x[i] == want[i]);
    ck_assert_int_eq(ds.n_classes, 2);
}
END_TEST

START_TEST(csv_gzip_file_loads_like_plain)
{
    snprintf(path, sizeof path, "%s/n.csv.gz", tmpdir);
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    gzputs(f, NUMS_CSV);
    gzclose(f);
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(fs_data_load_csv(path, &o, &ds, &err), FS_OK);
    ck_assert_uint_eq(ds.n, 3);
    ck_assert(ds.x[3] == 300.0f);
}
END_TEST

START_TEST(csv_missing_label_column_names_it)
{
    fs_csv_opts o = {.label = "Churn"};
    ck_assert_int_eq(load_csv("m.csv", "x,churn\n1,0\n", &o), FS_ESCENARIO);
    expect_msg(": label: expected a column named 'Churn', found none among 2 (did you mean "
               "'churn'?)");
    ck_assert_ptr_null(ds.x);
    ck_assert_ptr_null(ds.y);
}
END_TEST

START_TEST(csv_missing_feature_and_group_columns_are_all_reported)
{
    const char *const feats[] = {"nope"};
    const char *const groups[] = {"zzz"};
    fs_csv_opts o = {.label = "y", .features = feats, .n_features = 1, .groups = groups,
                     .n_groups = 1};
    ck_assert_int_eq(load_csv("m.csv", "x,y\n1,0\n", &o), FS_ESCENARIO);
    ck_assert_int_eq(err.n_msgs, 2);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "groups: expected a column named 'zzz'"));
    ck_assert_ptr_nonnull(strstr(err.msgs[1], "features: expected a column named 'nope'"));
}
END_TEST

START_TEST(csv_bad_number_names_file_line_and_column)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("b.csv", "x,y\n1,0\nabc,1\n", &o), FS_EIO);
    expect_msg(":3: column 'x': expected a number, found 'abc'");
    ck_assert_ptr_null(ds.x);
}
END_TEST

START_TEST(csv_empty_nan_inf_and_trailing_text_are_rejected_each_reported)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("b.csv", "x,y\n,0\nNaN,1\n-inf,0\n1.5kg,1\n 2 ,0\n", &o), FS_EIO);
    ck_assert_int_eq(err.n_msgs, 4); /* " 2 " is fine: blanks around a number are allowed */
    char want[FS_ERR_MSG_LEN];
    snprintf(want, sizeof want, "%s:2: column 'x': expected a number, found ''", path);
    ck_assert_str_eq(err.msgs[0], want);
    snprintf(want, sizeof want, "%s:3: column 'x': expected a finite number, found 'NaN'", path);
    ck_assert_str_eq(err.msgs[1], want);
    snprintf(want, sizeof want, "%s:4: column 'x': expected a finite number, found '-inf'", path);
    ck_assert_str_eq(err.msgs[2], want);
    snprintf(want, sizeof want, "%s:5: column 'x': expected a number, found '1.5kg'", path);
    ck_assert_str_eq(err.msgs[3], want);
}
END_TEST

START_TEST(csv_ragged_row_names_its_line)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("r.csv", "a,b,y\n1,2,0\n1,2\n", &o), FS_EIO);
    expect_msg(":3: expected 3 fields (as in the header), found 2");
}
END_TEST

START_TEST(csv_unterminated_quote_and_text_after_quote_are_errors)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("u.csv", "x,y\n1,\"a\"b\n2,\"open\n", &o), FS_EIO);
    ck_assert_int_eq(err.n_msgs, 2);
    char want[FS_ERR_MSG_LEN];
    snprintf(want, sizeof want,
             "%s:2: expected the delimiter or the end of the line after a closing '\"', found "
             "'b'",
             path);
    ck_assert_str_eq(err.msgs[0], want);
    snprintf(want, sizeof want, "%s:3: expected a closing '\"', found the end of the file", path);
    ck_assert_str_eq(err.msgs[1], want);
}
END_TEST

START_TEST(csv_empty_file_header_only_and_missing_file_are_errors)
{
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(load_csv("e.csv", "", &o), FS_EIO);
    expect_msg(": expected a header row, found an empty file");
    fs_err_clear(&err);
    ck_assert_int_eq(load_csv("h.csv", "x,y\n", &o), FS_EIO);
    expect_msg(": expected 1 .. 4294967295 data rows, found 0");
    fs_err_clear(&err);
    snprintf(path, sizeof path, "%s/absent.csv", tmpdir);
    ck_assert_int_eq(fs_data_load_csv(path, &o, &ds, &err), FS_EIO);
    expect_msg(": expected a readable CSV file, found: No such file or directory");
}
END_TEST

START_TEST(csv_inconsistent_options_are_scenario_errors)
{
    const char *const cats[] = {"c"};
    fs_csv_opts o = {.label = "y", .categorical = cats, .n_categorical = 1,
                     .encoding = FS_CAT_HASH, .hash_buckets = 0};
    ck_assert_int_eq(load_csv("o.csv", "c,y\nq,0\n", &o), FS_ESCENARIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "hash_buckets: expected 1 .."));
    fs_err_clear(&err);
    const char *const feats[] = {"y"};
    fs_csv_opts o2 = {.label = "y", .features = feats, .n_features = 1};
    ck_assert_int_eq(load_csv("o.csv", "c,y\nq,0\n", &o2), FS_ESCENARIO);
    expect_msg(": features: expected columns other than the label and the groups, found 'y'");
}
END_TEST

/* Two levels that agree on their first 31 bytes once merged into one (round 1 then crashed);
 * levels are stored whole up to 255 bytes, and a multi-byte character is never split. */
START_TEST(csv_long_group_levels_are_kept_whole_and_distinct)
{
    const char *const groups[] = {"region"};
    fs_csv_opts o = {.label = "y", .groups = groups, .n_groups = 1};
    char *text = malloc(4096), l255[256];
    memset(l255, 'x', 253), memcpy(l255 + 253, "\xC3\xBC", 2), l255[255] = 0; /* ends in ü */
    snprintf(text, 4096, "region,x,y\n"
                         "a-region-name-longer-than-31-bytes-one,1,0\n"
                         "a-region-name-longer-than-31-bytes-two,2,1\n"
                         "%s,3,0\n", l255);
    ck_assert_int_eq(load_csv("g.csv", text, &o), FS_OK);
    const fs_group *gr = &ds.groups[0];
    ck_assert_uint_eq(gr->n_levels, 3);
    ck_assert_str_eq(gr->level_names[0], "a-region-name-longer-than-31-bytes-one");
    ck_assert_str_eq(gr->level_names[1], "a-region-name-longer-than-31-bytes-two");
    ck_assert_str_eq(gr->level_names[2], l255);
    ck_assert_uint_eq(gr->level[0], 0);
    ck_assert_uint_eq(gr->level[1], 1);
    /* take (the train/test split) copies the names whole */
    const uint32_t rows[] = {2, 1};
    fs_dataset t = {0};
    ck_assert_int_eq(fs_dataset_take(&ds, rows, 2, &t), FS_OK);
    ck_assert_str_eq(t.groups[0].level_names[2], l255);
    ck_assert_str_eq(t.groups[0].level_names[0], "a-region-name-longer-than-31-bytes-one");
    fs_dataset_fini(&t);
    fs_dataset_fini(&ds);
    snprintf(text, 4096, "region,x,y\nnorth,1,0\n%sy,2,1\n", l255); /* 256 bytes */
    ck_assert_int_eq(load_csv("g.csv", text, &o), FS_EIO);
    char want[400];
    snprintf(want, sizeof want, ":3: column 'region': expected a group level of at most 255 "
             "bytes, found 256 bytes ('%.40s...')", l255);
    expect_msg(want);
    free(text);
}
END_TEST

START_TEST(csv_invalid_utf8_in_a_group_value_names_file_and_line)
{
    const char *const groups[] = {"city"};
    fs_csv_opts o = {.label = "y", .groups = groups, .n_groups = 1};
    /* a lone continuation byte, a truncated sequence, an overlong '/' and a surrogate */
    const char *bad[] = {"Z\x80rich", "Z\xC3", "\xC0\xAF", "\xED\xA0\x80"};
    const size_t at[] = {2, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        char text[128], want[160];
        snprintf(text, sizeof text, "city,x,y\nBern,1,0\n%s,2,1\n", bad[i]);
        fs_err_clear(&err);
        ck_assert_int_eq(load_csv("u.csv", text, &o), FS_EIO);
        snprintf(want, sizeof want, ":3: column 'city': expected UTF-8 text, found the invalid "
                 "byte 0x%02x at byte %zu", (unsigned char)bad[i][at[i] - 1], at[i]);
        expect_msg(want);
    }
}
END_TEST

/* A quoted bad field is cut to 40 bytes, never inside a UTF-8 character. */
START_TEST(csv_quoted_bad_field_is_cut_at_a_character_boundary)
{
    fs_csv_opts o = {.label = "y"};
    /* 39 ASCII bytes, then 'é' across bytes 40-41 */
    ck_assert_int_eq(load_csv("c.csv", "x,y\n"
                              "abcdefghijklmnopqrstuvwxyz0123456789abc\xC3\xA9z,1\n", &o), FS_EIO);
    expect_msg(":2: column 'x': expected a number, found "
               "'abcdefghijklmnopqrstuvwxyz0123456789abc...'");
}
END_TEST

/* A 100 MB header once took 5.7 GB: lines and fields per line are bounded before the columns
 * are allocated. */
START_TEST(csv_lines_and_columns_beyond_the_limits_are_refused)
{
    fs_csv_opts o = {.label = "y"};
    size_t n = 2 * FS_LOAD_MAX_COLUMNS + 8;
    char *text = malloc(n + 16);
    for (size_t i = 0; i < FS_LOAD_MAX_COLUMNS; i++) text[2 * i] = 'a', text[2 * i + 1] = ',';
    strcpy(text + 2 * FS_LOAD_MAX_COLUMNS, "y\n1,2\n");
    ck_assert_int_eq(load_csv("wide.csv", text, &o), FS_EIO);
    expect_msg(":1: expected at most 65536 fields, found more");
    free(text);
    fs_err_clear(&err);
    snprintf(path, sizeof path, "%s/long.csv", tmpdir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("x,y\n1,0\n", f);
    char chunk[4096];
    memset(chunk, '7', sizeof chunk);
    for (size_t w = 0; w <= FS_LOAD_MAX_LINE; w += sizeof chunk) fwrite(chunk, 1, sizeof chunk, f);
    fputs(",1\n", f);
    fclose(f);
    ck_assert_int_eq(fs_data_load_csv(path, &o, &ds, &err), FS_EIO);
    expect_msg(":3: expected a line of at most 16777216 bytes, found a longer one");
}
END_TEST

/* Values beyond FS_LOAD_LARGE_VALUE load, with one warning per column on stderr. */
START_TEST(csv_extreme_magnitudes_load_with_a_warning_per_column)
{
    char log[300];
    snprintf(log, sizeof log, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_ptr_nonnull(freopen(log, "w", stderr));
    fs_csv_opts o = {.label = "y"};
    int rc = load_csv("big.csv", "a,b,y\n1,3e38,0\n2,-2e6,1\n3,4,0\n1e7,5,1\n", &o);
    fflush(stderr);
    dup2(saved, 2), close(saved);
    ck_assert_int_eq(rc, FS_OK);
    ck_assert(ds.x[1] == 3e38f && ds.x[3 * 2] == 1e7f);
    FILE *f = fopen(log, "r");
    char got[2][700] = {"", ""};
    ck_assert_ptr_nonnull(fgets(got[0], sizeof got[0], f));
    ck_assert_ptr_nonnull(fgets(got[1], sizeof got[1], f));
    fclose(f);
    char want[700];
    snprintf(want, sizeof want, "fedsim: warning: %s: column 'a': 1 row with |value| > 1e+06 "
             "(first at line 5, largest 1e+07): unscaled or corrupt data dominates training "
             "(data.csv.standardize rescales it)\n", path);
    ck_assert_str_eq(got[0], want);
    snprintf(want, sizeof want, "fedsim: warning: %s: column 'b': 2 rows with |value| > 1e+06 "
             "(first at line 2, largest 3e+38): unscaled or corrupt data dominates training "
             "(data.csv.standardize rescales it)\n", path);
    ck_assert_str_eq(got[1], want);
}
END_TEST

/* ---- LIBSVM ------------------------------------------------------------------------------ */

static int load_svm(const char *text, size_t n_features, bool zero_based)
{
    return fs_data_load_libsvm(put("d.svm", text), n_features, zero_based, &ds, &err);
}

/* A 1 KB file naming feature 2^31 once asked for a 16 GiB model: refused before any allocation
 * sized by it, with the estimate and the remedy (exit 2). */
START_TEST(libsvm_index_beyond_the_feature_limit_is_refused_with_an_estimate)
{
    ck_assert_int_eq(load_svm("1 1:0.5\n-1 2147483648:1\n", 0, false), FS_ESCENARIO);
    expect_msg(":2: expected a feature index <= 67108864, found 2147483648 (a model of "
               "2147483648 features needs 16.0 GiB per copy; renumber or hash the features)");
    fs_dataset_fini(&ds);
    fs_err_clear(&err);
    ck_assert_int_eq(load_svm("1 67108864:0.5\n", 0, false), FS_OK); /* the limit itself */
    ck_assert_uint_eq(ds.d, FS_LOAD_MAX_FEATURES);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(fs_data_load_libsvm(path, FS_LOAD_MAX_FEATURES + 1, false, &ds, &err),
                     FS_ESCENARIO);
}
END_TEST

START_TEST(libsvm_non_finite_values_name_their_lines)
{
    ck_assert_int_eq(load_svm("1 1:0.5\n-1 2:inf\n1 3:nan\n1 4:1e39\n", 0, false), FS_EIO);
    ck_assert_int_eq(err.n_msgs, 3);
    expect_msg(":2: expected a finite number after ':', found '2:inf'");
    char want[600];
    snprintf(want, sizeof want, "%s:4: expected a finite number after ':', found '4:1e39'", path);
    ck_assert_str_eq(err.msgs[2], want);
}
END_TEST

START_TEST(libsvm_basic_file_loads_sparse_rows)
{
    ck_assert_int_eq(load_svm("# header comment\n"
                              "+1 1:0.5 3:-2 # trailing comment\n"
                              "\n"
                              "-1 2:1e-3\t7:4\n"
                              "-1\n",
                              0, false),
                     FS_OK);
    ck_assert(fs_dataset_is_sparse(&ds));
    ck_assert_uint_eq(ds.n, 3);
    ck_assert_uint_eq(ds.d, 7);
    ck_assert_int_eq(ds.n_classes, 2);
    const size_t ptr[] = {0, 2, 4, 4};
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(ds.ptr[i], ptr[i]);
    const uint32_t idx[] = {0, 2, 1, 6};
    const float val[] = {0.5f, -2.0f, 1e-3f, 4.0f};
    for (int i = 0; i < 4; i++) ck_assert(ds.idx[i] == idx[i] && ds.val[i] == val[i]);
    ck_assert_int_eq(ds.y[0], 1);
    ck_assert_int_eq(ds.y[1], 0);
    ck_assert_int_eq(ds.y[2], 0);
}
END_TEST

START_TEST(libsvm_zero_one_labels_are_binary)
{
    ck_assert_int_eq(load_svm("0 1:1\n1 2:1\n1 1:2\n", 0, false), FS_OK);
    ck_assert_int_eq(ds.n_classes, 2);
    ck_assert(ds.y[0] == 0 && ds.y[1] == 1 && ds.y[2] == 1);
}
END_TEST

START_TEST(libsvm_other_labels_become_sorted_classes)
{
    ck_assert_int_eq(load_svm("3 1:1\n1 1:1\n7 1:1\n3 1:1\n-1 1:1\n", 0, false), FS_OK);
    ck_assert_int_eq(ds.n_classes, 4); /* -1, 1, 3, 7 */
    const int32_t want[] = {2, 1, 3, 2, 0};
    for (int i = 0; i < 5; i++) ck_assert_int_eq(ds.y[i], want[i]);
}
END_TEST

START_TEST(libsvm_zero_based_indices_and_fixed_width)
{
    ck_assert_int_eq(load_svm("1 0:1 4:2\n0 2:3\n", 10, true), FS_OK);
    ck_assert_uint_eq(ds.d, 10);
    ck_assert_uint_eq(ds.idx[0], 0);
    ck_assert_uint_eq(ds.idx[1], 4);
    ck_assert_uint_eq(ds.idx[2], 2);
}
END_TEST

START_TEST(libsvm_index_beyond_n_features_is_an_error)
{
    ck_assert_int_eq(load_svm("1 1:1\n1 2:1 6:1\n", 5, false), FS_EIO);
    expect_msg(":2: expected an index <= 5 (n_features 5), found '6:1'");
    ck_assert_ptr_null(ds.ptr);
}
END_TEST

START_TEST(libsvm_malformed_tokens_name_their_lines)
{
    ck_assert_int_eq(load_svm("1 1:1\n1 abc\n2.5 1:1\n1 0:1\n1 3:x\n", 0, false), FS_EIO);
    ck_assert_int_eq(err.n_msgs, 4);
    char want[FS_ERR_MSG_LEN];
    snprintf(want, sizeof want, "%s:2: expected 'index:value', found 'abc'", path);
    ck_assert_str_eq(err.msgs[0], want);
    snprintf(want, sizeof want, "%s:3: expected an integer label, found '2.5'", path);
    ck_assert_str_eq(err.msgs[1], want);
    snprintf(want, sizeof want, "%s:4: expected an index >= 1 in 'index:value', found '0:1'",
             path);
    ck_assert_str_eq(err.msgs[2], want);
    snprintf(want, sizeof want, "%s:5: expected a finite number after ':', found '3:x'", path);
    ck_assert_str_eq(err.msgs[3], want);
}
END_TEST

START_TEST(libsvm_unordered_indices_are_sorted_and_repeats_rejected)
{
    ck_assert_int_eq(load_svm("1 5:5 2:2 9:9\n", 0, false), FS_OK);
    ck_assert(ds.idx[0] == 1 && ds.idx[1] == 4 && ds.idx[2] == 8);
    ck_assert(ds.val[0] == 2.0f && ds.val[1] == 5.0f && ds.val[2] == 9.0f);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(load_svm("1 5:5 2:2 5:1\n", 0, false), FS_EIO);
    expect_msg(":1: expected each index once per line, found 5 twice");
}
END_TEST

START_TEST(libsvm_qid_tokens_are_ignored)
{
    ck_assert_int_eq(load_svm("1 qid:3 1:1 2:2\n-1 qid:3 2:1\n", 0, false), FS_OK);
    ck_assert_uint_eq(ds.ptr[1], 2);
    ck_assert_uint_eq(ds.d, 2);
}
END_TEST

START_TEST(libsvm_empty_file_is_an_error)
{
    ck_assert_int_eq(load_svm("# nothing\n\n", 0, false), FS_EIO);
    expect_msg(": expected 1 .. 4294967295 data lines, found 0");
}
END_TEST

/* ---- real fixture ------------------------------------------------------------------------- */

START_TEST(breast_cancer_fixture_loads_569_rows)
{
    const char *root = getenv("FEDSIM_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s/tests/fixtures/breast_cancer.csv", root ? root : ".");
    fs_csv_opts o = {.label = "diagnosis", .positive = "malignant"};
    ck_assert_int_eq(fs_data_load_csv(path, &o, &ds, &err), FS_OK);
    ck_assert_uint_eq(ds.n, 569);
    ck_assert_uint_eq(ds.d, 30);
    ck_assert_int_eq(ds.n_classes, 2);
    size_t pos = 0;
    for (size_t i = 0; i < ds.n; i++) pos += ds.y[i] == 1;
    ck_assert_uint_eq(pos, 212);
    ck_assert(ds.x[0] == 17.99f);       /* mean_radius of the first row */
    ck_assert(ds.x[29] == 0.1189f);     /* worst_fractal_dimension of the first row */
    fs_dataset_fini(&ds);
    fs_csv_opts o2 = {.label = "diagnosis"}; /* sorted: benign = 0, malignant = 1 */
    ck_assert_int_eq(fs_data_load_csv(path, &o2, &ds, &err), FS_OK);
    size_t ones = 0;
    for (size_t i = 0; i < ds.n; i++) ones += ds.y[i] == 1;
    ck_assert_uint_eq(ones, 212);
    ck_assert_uint_eq(ds.n - ones, 357);
}
END_TEST

/* Binary data (a NUL byte) in a text file: a clear error, never a read past the buffer (found
 * by fuzzing: a NUL at the start of a line). */
static const char *put_bytes(const char *name, const char *bytes, size_t n)
{
    const char *file = put(name, "");
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(bytes, 1, n, f);
    fclose(f);
    return file;
}

START_TEST(nul_bytes_are_an_error_not_a_crash)
{
    static const char csv[] = "y,x\n1,2\n\0\0oops\n0,3\n";
    fs_csv_opts o = {.label = "y"};
    ck_assert_int_eq(fs_data_load_csv(put_bytes("z.csv", csv, sizeof csv - 1), &o, &ds, &err),
                     FS_EIO);
    ck_assert_msg(strstr(err.msgs[0], "line 3: expected text, found a NUL byte"), "%s",
                  err.msgs[0]);
    fs_err_init(&err, NULL);
    static const char svm[] = "+1 1:1\n\0 2:1\n";
    ck_assert_int_eq(fs_data_load_libsvm(put_bytes("z.svm", svm, sizeof svm - 1), 0, false, &ds,
                                         &err),
                     FS_EIO);
    ck_assert_msg(strstr(err.msgs[0], "line 2: expected text, found a NUL byte"), "%s",
                  err.msgs[0]);
}
END_TEST

static Suite *load_suite(void)
{
    Suite *s = suite_create("load");
    TCase *csv = tcase_create("csv");
    tcase_add_checked_fixture(csv, setup, teardown);
    tcase_add_test(csv, csv_numeric_columns_load_dense_and_exact);
    tcase_add_test(csv, csv_label_classes_are_sorted_texts);
    tcase_add_test(csv, csv_numeric_labels_sort_by_value_and_equal_values_merge);
    tcase_add_test(csv, csv_positive_label_is_class_one);
    tcase_add_test(csv, csv_positive_label_never_seen_is_an_error);
    tcase_add_test(csv, csv_regression_target_is_numeric);
    tcase_add_test(csv, csv_groups_have_sorted_levels_and_names);
    tcase_add_test(csv, csv_onehot_columns_follow_feature_order_and_sorted_categories);
    tcase_add_test(csv, csv_hashed_categories_give_sparse_rows_after_documented_layout);
    tcase_add_test(csv, csv_hash_collisions_within_a_row_add_up);
    tcase_add_test(csv, csv_index_encoding_equals_dense_onehot_layout);
    tcase_add_test(csv, csv_index_rows_are_ascending_and_numeric_zeros_not_stored);
    tcase_add_test(csv, csv_index_movielens_like_ratings_one_entry_per_row);
    tcase_add_test(csv, csv_quoted_fields_keep_delimiters_quotes_newlines_and_utf8);
    tcase_add_test(csv, csv_crlf_line_endings_and_blank_lines);
    tcase_add_test(csv, csv_options_delimiter_feature_subset_and_max_rows);
    tcase_add_test(csv, csv_gzip_file_loads_like_plain);
    tcase_add_test(csv, csv_missing_label_column_names_it);
    tcase_add_test(csv, csv_missing_feature_and_group_columns_are_all_reported);
    tcase_add_test(csv, csv_bad_number_names_file_line_and_column);
    tcase_add_test(csv, csv_empty_nan_inf_and_trailing_text_are_rejected_each_reported);
    tcase_add_test(csv, csv_ragged_row_names_its_line);
    tcase_add_test(csv, csv_unterminated_quote_and_text_after_quote_are_errors);
    tcase_add_test(csv, csv_empty_file_header_only_and_missing_file_are_errors);
    tcase_add_test(csv, csv_inconsistent_options_are_scenario_errors);
    tcase_add_test(csv, csv_long_group_levels_are_kept_whole_and_distinct);
    tcase_add_test(csv, csv_invalid_utf8_in_a_group_value_names_file_and_line);
    tcase_add_test(csv, csv_quoted_bad_field_is_cut_at_a_character_boundary);
    tcase_add_test(csv, csv_lines_and_columns_beyond_the_limits_are_refused);
    tcase_add_test(csv, csv_extreme_magnitudes_load_with_a_warning_per_column);
    suite_add_tcase(s, csv);
    TCase *svm = tcase_create("libsvm");
    tcase_add_checked_fixture(svm, setup, teardown);
    tcase_add_test(svm, libsvm_basic_file_loads_sparse_rows);
    tcase_add_test(svm, libsvm_index_beyond_the_feature_limit_is_refused_with_an_estimate);
    tcase_add_test(svm, libsvm_non_finite_values_name_their_lines);
    tcase_add_test(svm, libsvm_zero_one_labels_are_binary);
    tcase_add_test(svm, libsvm_other_labels_become_sorted_classes);
    tcase_add_test(svm, libsvm_zero_based_indices_and_fixed_width);
    tcase_add_test(svm, libsvm_index_beyond_n_features_is_an_error);
    tcase_add_test(svm, libsvm_malformed_tokens_name_their_lines);
    tcase_add_test(svm, libsvm_unordered_indices_are_sorted_and_repeats_rejected);
    tcase_add_test(svm, libsvm_qid_tokens_are_ignored);
    tcase_add_test(svm, libsvm_empty_file_is_an_error);
    tcase_add_test(svm, nul_bytes_are_an_error_not_a_crash);
    suite_add_tcase(s, svm);
    TCase *real = tcase_create("real");
    tcase_add_checked_fixture(real, setup, teardown);
    tcase_add_test(real, breast_cancer_fixture_loads_569_rows);
    suite_add_tcase(s, real);
    return s;
}

FS_TEST_MAIN(load_suite)
