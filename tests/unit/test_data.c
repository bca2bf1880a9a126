/* test_data: the IDX loader (real Fashion-MNIST files and hand-made broken ones), the
 * FedProx synthetic generator (per-client determinism, sizes, train/test split) and feature
 * standardization against hand-computed statistics. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fs_data.h"
#include "fs_test.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define TRAIN_IMG FMNIST "train-images-idx3-ubyte.gz"
#define TRAIN_LBL FMNIST "train-labels-idx1-ubyte.gz"
#define TEST_IMG FMNIST "t10k-images-idx3-ubyte.gz"
#define TEST_LBL FMNIST "t10k-labels-idx1-ubyte.gz"

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/fs_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes a plain IDX file: magic, dims (big-endian), then n_bytes payload bytes (value i % 7). */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int n_dims,
                      size_t n_bytes)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint32_t words[4] = {magic};
    for (int i = 0; i < n_dims; i++) words[i + 1] = dims[i];
    for (int i = 0; i <= n_dims; i++) {
        unsigned char b[4] = {words[i] >> 24, words[i] >> 16, words[i] >> 8, words[i]};
        fwrite(b, 1, 4, f);
    }
    for (size_t i = 0; i < n_bytes; i++) fputc((int)(i % 7), f);
    fclose(f);
}

START_TEST(idx_loads_fashion_mnist_train)
{
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx(TRAIN_IMG, TRAIN_LBL, 0, &ds, &err), FS_OK);
    ck_assert_uint_eq(ds.n, 60000);
    ck_assert_uint_eq(ds.d, 784);
    ck_assert_int_eq(ds.n_classes, 10);
    ck_assert_int_eq(ds.y[0], 9); /* the first training image is an ankle boot */
    size_t per_class[10] = {0};
    for (size_t i = 0; i < ds.n; i++) {
        ck_assert(ds.y[i] >= 0 && ds.y[i] <= 9);
        per_class[ds.y[i]]++;
    }
    for (int c = 0; c < 10; c++) ck_assert_uint_eq(per_class[c], 6000);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < ds.n * ds.d; i++) {
        lo = ds.x[i] < lo ? ds.x[i] : lo;
        hi = ds.x[i] > hi ? ds.x[i] : hi;
    }
    ck_assert(lo == 0.0f && hi == 1.0f);
    fs_dataset_fini(&ds);
    ck_assert_ptr_null(ds.x);
}
END_TEST

START_TEST(idx_max_rows_keeps_the_first_rows)
{
    fs_dataset a, b;
    ck_assert_int_eq(fs_data_load_idx(TEST_IMG, TEST_LBL, 100, &a, NULL), FS_OK);
    ck_assert_int_eq(fs_data_load_idx(TEST_IMG, TEST_LBL, 0, &b, NULL), FS_OK);
    ck_assert_uint_eq(a.n, 100);
    ck_assert_uint_eq(b.n, 10000);
    ck_assert_mem_eq(a.x, b.x, 100 * 784 * sizeof(float));
    ck_assert_mem_eq(a.y, b.y, 100 * sizeof(int32_t));
    fs_dataset_fini(&a);
    fs_dataset_fini(&b);
}
END_TEST

/* The first n * 784 pixels of a gzip IDX image file, read here without fs_idx. */
static unsigned char *raw_pixels(const char *path, size_t n)
{
    gzFile f = gzopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char head[16], *p = malloc(n * 784);
    ck_assert_int_eq(gzread(f, head, 16), 16);
    ck_assert_int_eq(gzread(f, p, (unsigned)(n * 784)), (int)(n * 784));
    gzclose(f);
    return p;
}

/* The compact load keeps the file's pixels (x8, no floats); fs_dataset_expand turns them into
 * (float)p / 255.0f, the floats fs_data_load_idx gives, and a second call changes nothing. */
START_TEST(idx_u8_keeps_pixels_and_expands_to_the_quotients)
{
    fs_dataset c, f;
    unsigned char *raw = raw_pixels(TEST_IMG, 100);
    ck_assert_int_eq(fs_data_load_idx_u8(TEST_IMG, TEST_LBL, 100, &c, NULL), FS_OK);
    ck_assert_int_eq(fs_data_load_idx(TEST_IMG, TEST_LBL, 100, &f, NULL), FS_OK);
    ck_assert(c.x8 && !c.x && !f.x8 && f.x);
    ck_assert_mem_eq(c.x8, raw, 100 * 784);
    ck_assert_mem_eq(c.y, f.y, 100 * sizeof *c.y);
    ck_assert_int_eq(fs_dataset_expand(&c), FS_OK);
    ck_assert(!c.x8 && c.x);
    for (size_t i = 0; i < 100 * 784; i++) {
        float want = (float)raw[i] / 255.0f;
        ck_assert_msg(memcmp(&c.x[i], &want, sizeof want) == 0, "pixel %zu", i);
    }
    ck_assert_mem_eq(c.x, f.x, 100 * 784 * sizeof *c.x);
    float *x = c.x;
    ck_assert_int_eq(fs_dataset_expand(&c), FS_OK);
    ck_assert(c.x == x && !c.x8);
    ck_assert_mem_eq(c.x, f.x, 100 * 784 * sizeof *c.x);
    fs_dataset_fini(&c);
    fs_dataset_fini(&f);
    free(raw);
}
END_TEST

/* Every conversion this CPU has gives every pixel's quotient bit for bit, at every length and
 * offset (the vector bodies, masked or divided tails of 1..15, unaligned starts), and writes
 * nothing past the end. */
START_TEST(pixels_f32_is_the_division_on_every_path)
{
    uint8_t p[256 + 48];
    for (size_t i = 0; i < sizeof p; i++) p[i] = (uint8_t)(i * 7 + i / 256); /* every value */
    float out[256 + 49];
    const fs_pixels_path paths[] = {FS_PIXELS_DIV, FS_PIXELS_FMA8, FS_PIXELS_FMA16};
    int tried = 0;
    for (size_t k = 0; k < sizeof paths / sizeof *paths; k++) {
        if (!fs_pixels_use(paths[k])) continue;
        tried++;
        for (size_t start = 0; start < 3; start++)
            for (size_t len = 0; len + start <= sizeof p; len += len < 40 ? 1 : 37) {
                const float canary = -1.5f;
                for (size_t i = 0; i <= len; i++) out[i] = canary;
                fs_pixels_f32(p + start, len, out);
                for (size_t i = 0; i < len; i++) {
                    float want = (float)p[start + i] / 255.0f;
                    ck_assert_msg(memcmp(&out[i], &want, sizeof want) == 0,
                                  "path %d, start %zu, len %zu: pixel %u gave %a, want %a",
                                  (int)paths[k], start, len, p[start + i], (double)out[i],
                                  (double)want);
                }
                ck_assert_msg(out[len] == canary, "path %d, len %zu: wrote past the end",
                              (int)paths[k], len);
            }
    }
    ck_assert(fs_pixels_use(FS_PIXELS_BEST));
    /* the division is always there; an x86-64 CPU with AVX2 has FMA */
    ck_assert_int_ge(tried, __builtin_cpu_supports("avx2") ? 2 : 1);
}
END_TEST

/* A take of compact rows is float (an attacker writes its copy's x); float and sparse data are
 * left alone by fs_dataset_expand. */
START_TEST(take_of_compact_rows_is_float_and_expand_leaves_others)
{
    fs_dataset c, f, t, sp;
    ck_assert_int_eq(fs_data_load_idx_u8(TEST_IMG, TEST_LBL, 50, &c, NULL), FS_OK);
    ck_assert_int_eq(fs_data_load_idx(TEST_IMG, TEST_LBL, 50, &f, NULL), FS_OK);
    uint32_t rows[] = {49, 3, 3, 0};
    ck_assert_int_eq(fs_dataset_take(&c, rows, 4, &t), FS_OK);
    ck_assert(t.x && !t.x8);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_mem_eq(t.x + i * 784, f.x + rows[i] * 784, 784 * sizeof *t.x);
        ck_assert_int_eq(t.y[i], f.y[rows[i]]);
    }
    float *x = f.x;
    ck_assert_int_eq(fs_dataset_expand(&f), FS_OK);
    ck_assert(f.x == x && !f.x8);
    ck_assert_int_eq(fs_dataset_alloc_sparse(&sp, 3, 4, 2, 2), FS_OK);
    ck_assert_int_eq(fs_dataset_expand(&sp), FS_OK);
    ck_assert(!sp.x && !sp.x8 && sp.ptr);
    fs_dataset_fini(&sp);
    fs_dataset_fini(&t);
    fs_dataset_fini(&c);
    fs_dataset_fini(&f);
}
END_TEST

START_TEST(idx_missing_file_is_eio_naming_the_file)
{
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx("/nonexistent/imgs.gz", TRAIN_LBL, 0, &ds, &err), FS_EIO);
    ck_assert_int_eq(err.n_msgs, 1);
    ck_assert_str_eq(err.msgs[0], "/nonexistent/imgs.gz: expected a readable IDX file, found: "
                                  "No such file or directory");
    ck_assert_ptr_null(ds.x);
    fs_err_clear(&err);
    ck_assert_int_eq(fs_data_load_idx(TRAIN_IMG, "/nonexistent/lbl", 0, &ds, &err), FS_EIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "/nonexistent/lbl: "));
}
END_TEST

START_TEST(idx_bad_magic_is_eio)
{
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    /* labels file given as the images file */
    ck_assert_int_eq(fs_data_load_idx(TRAIN_LBL, TRAIN_LBL, 0, &ds, &err), FS_EIO);
    ck_assert_str_eq(err.msgs[0], TRAIN_LBL ": expected IDX magic number 0x00000803 (uint8 images, "
                                  "3 dimensions), found 0x00000801");
}
END_TEST

START_TEST(idx_truncated_plain_file_is_eio)
{
    make_tmpdir();
    char img[128], lbl[128];
    snprintf(img, sizeof img, "%s/img", tmpdir);
    snprintf(lbl, sizeof lbl, "%s/lbl", tmpdir);
    uint32_t idims[3] = {10, 28, 28}, ldims[1] = {10};
    write_idx(img, 0x803, idims, 3, 1000);
    write_idx(lbl, 0x801, ldims, 1, 10);
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx(img, lbl, 0, &ds, &err), FS_EIO);
    char want[256];
    snprintf(want, sizeof want, "%s: truncated: expected 7840 bytes of pixel data, found 1000",
             img);
    ck_assert_str_eq(err.msgs[0], want);
    /* with max_rows 1 the 784 bytes present are enough */
    ck_assert_int_eq(fs_data_load_idx(img, lbl, 1, &ds, NULL), FS_OK);
    ck_assert_uint_eq(ds.n, 1);
    ck_assert(ds.x[1] == 1.0f / 255.0f && ds.y[0] == 0);
    fs_dataset_fini(&ds);
    remove_tmpdir();
}
END_TEST

START_TEST(idx_count_mismatch_and_bad_label_are_eio)
{
    make_tmpdir();
    char img[128], lbl[128], want[512];
    snprintf(img, sizeof img, "%s/img", tmpdir);
    snprintf(lbl, sizeof lbl, "%s/lbl", tmpdir);
    uint32_t idims[3] = {10, 2, 2}, ldims[1] = {9};
    write_idx(img, 0x803, idims, 3, 40);
    write_idx(lbl, 0x801, ldims, 1, 9);
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx(img, lbl, 0, &ds, &err), FS_EIO);
    snprintf(want, sizeof want, "%s: expected 10 labels (the image count of %s), found 9", lbl,
             img);
    ck_assert_str_eq(err.msgs[0], want);
    ldims[0] = 10;
    write_idx(lbl, 0x801, ldims, 1, 7);                            /* 7 labels: truncated */
    fs_err_clear(&err);
    ck_assert_int_eq(fs_data_load_idx(img, lbl, 0, &ds, &err), FS_EIO);
    snprintf(want, sizeof want, "%s: truncated: expected 10 bytes of labels, found 7", lbl);
    ck_assert_str_eq(err.msgs[0], want);
    FILE *f = fopen(lbl, "ab"); /* the 7 labels so far, then 2 more and an out-of-range 12 */
    fputc(0, f), fputc(1, f), fputc(12, f);
    fclose(f);
    fs_err_clear(&err);
    ck_assert_int_eq(fs_data_load_idx(img, lbl, 0, &ds, &err), FS_EIO);
    snprintf(want, sizeof want, "%s: label 9: expected 0 .. 9, found 12", lbl);
    ck_assert_str_eq(err.msgs[0], want);
    remove_tmpdir();
}
END_TEST

/* The first 100 KB of the real gzip file: a gzip stream cut mid-way. */
START_TEST(idx_truncated_gzip_is_eio)
{
    make_tmpdir();
    char img[128];
    snprintf(img, sizeof img, "%s/img.gz", tmpdir);
    FILE *in = fopen(TRAIN_IMG, "rb"), *out = fopen(img, "wb");
    ck_assert(in && out);
    static char buf[100000];
    size_t got = fread(buf, 1, sizeof buf, in);
    ck_assert_uint_eq(got, sizeof buf);
    fwrite(buf, 1, got, out);
    fclose(in);
    fclose(out);
    fs_dataset ds;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx(img, TRAIN_LBL, 0, &ds, &err), FS_EIO);
    ck_assert_ptr_nonnull(strstr(err.msgs[0], img));
    ck_assert_ptr_nonnull(strstr(err.msgs[0], "truncated: expected 47040000 bytes of pixel data"));
    ck_assert_ptr_null(ds.x);
    fs_err_print(&err, stdout); /* shows the zlib detail in the test log */
    remove_tmpdir();
}
END_TEST

static fs_synth_cfg synth_cfg(size_t n_clients, uint64_t seed)
{
    return (fs_synth_cfg){.alpha = 1, .beta = 1, .n_clients = n_clients,
                          .max_per_client = 2000, .train_fraction = 0.9, .seed = seed};
}

typedef struct synth_out {
    fs_dataset tr, te;
    fs_partition ptr, pte;
} synth_out;

static void synth_make(const fs_synth_cfg *cfg, synth_out *o)
{
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_data_synthetic(cfg, &o->tr, &o->ptr, &o->te, &o->pte, &err);
    ck_assert_msg(rc == FS_OK, "%s", err.msgs[0]);
}

static void synth_free(synth_out *o)
{
    fs_dataset_fini(&o->tr);
    fs_dataset_fini(&o->te);
    fs_partition_fini(&o->ptr);
    fs_partition_fini(&o->pte);
}

/* Client k's rows of dataset ds under partition p must equal client k's rows in (ds2, p2). */
static void assert_same_client(const fs_dataset *a, const fs_partition *pa, const fs_dataset *b,
                               const fs_partition *pb, size_t k)
{
    size_t n = fs_partition_size(pa, k);
    ck_assert_uint_eq(n, fs_partition_size(pb, k));
    for (size_t i = 0; i < n; i++) {
        uint32_t ra = pa->rows[pa->offset[k] + i], rb = pb->rows[pb->offset[k] + i];
        ck_assert_mem_eq(a->x + ra * a->d, b->x + rb * b->d, a->d * sizeof(float));
        ck_assert_int_eq(a->y[ra], b->y[rb]);
    }
}

START_TEST(synth_client_data_independent_of_n_clients)
{
    fs_synth_cfg c3 = synth_cfg(3, 42), c10 = synth_cfg(10, 42);
    synth_out a, b;
    synth_make(&c3, &a);
    synth_make(&c10, &b);
    assert_same_client(&a.tr, &a.ptr, &b.tr, &b.ptr, 2);
    assert_same_client(&a.te, &a.pte, &b.te, &b.pte, 2);
    synth_free(&a);
    synth_free(&b);
}
END_TEST

START_TEST(synth_sizes_split_and_labels)
{
    fs_synth_cfg cfg = synth_cfg(30, 7);
    cfg.max_per_client = 0; /* uncapped: lognormal(4, 2) + 50 */
    synth_out o;
    synth_make(&cfg, &o);
    ck_assert_uint_eq(o.tr.d, 60);
    ck_assert_int_eq(o.tr.n_classes, 10);
    ck_assert_uint_eq(o.ptr.n_clients, 30);
    ck_assert_uint_eq(o.ptr.offset[30], o.tr.n);
    ck_assert_uint_eq(o.pte.offset[30], o.te.n);
    for (size_t k = 0; k < 30; k++) {
        size_t ntr = fs_partition_size(&o.ptr, k), nte = fs_partition_size(&o.pte, k);
        ck_assert_uint_ge(ntr + nte, 50);
        ck_assert_uint_eq(ntr, (size_t)llround(0.9 * (double)(ntr + nte)));
        for (size_t i = 0; i < ntr; i++) /* contiguous, in client order */
            ck_assert_uint_eq(o.ptr.rows[o.ptr.offset[k] + i], o.ptr.offset[k] + i);
    }
    size_t seen[10] = {0};
    for (size_t i = 0; i < o.tr.n; i++) {
        ck_assert(o.tr.y[i] >= 0 && o.tr.y[i] < 10);
        seen[o.tr.y[i]]++;
    }
    for (size_t i = 0; i < o.te.n; i++) ck_assert(o.te.y[i] >= 0 && o.te.y[i] < 10);
    size_t classes = 0;
    for (int c = 0; c < 10; c++) classes += seen[c] > 0;
    ck_assert_uint_ge(classes, 3);
    synth_free(&o);
}
END_TEST

START_TEST(synth_cap_and_minimum_train_row)
{
    fs_synth_cfg cfg = synth_cfg(5, 3);
    cfg.max_per_client = 1;
    synth_out o;
    synth_make(&cfg, &o);
    ck_assert_uint_eq(o.tr.n, 5);
    ck_assert_uint_eq(o.te.n, 0);
    synth_free(&o);
    cfg.max_per_client = 60;
    cfg.train_fraction = 0;
    synth_make(&cfg, &o);
    for (size_t k = 0; k < 5; k++) {
        ck_assert_uint_eq(fs_partition_size(&o.ptr, k), 1); /* at least one train row */
        ck_assert_uint_eq(fs_partition_size(&o.pte, k), 59);
    }
    synth_free(&o);
}
END_TEST

START_TEST(synth_different_seeds_differ)
{
    fs_synth_cfg c1 = synth_cfg(4, 1), c2 = synth_cfg(4, 2);
    synth_out a, b, a2;
    synth_make(&c1, &a);
    synth_make(&c2, &b);
    synth_make(&c1, &a2);
    size_t n = a.tr.n < b.tr.n ? a.tr.n : b.tr.n;
    ck_assert(a.tr.n != b.tr.n || memcmp(a.tr.x, b.tr.x, n * 60 * sizeof(float)) != 0);
    ck_assert_uint_eq(a.tr.n, a2.tr.n);
    ck_assert_mem_eq(a.tr.x, a2.tr.x, a.tr.n * 60 * sizeof(float));
    synth_free(&a);
    synth_free(&b);
    synth_free(&a2);
}
END_TEST

START_TEST(synth_bad_config_is_escenario)
{
    fs_synth_cfg cfg = synth_cfg(0, 1);
    cfg.alpha = -1;
    cfg.train_fraction = 1.5;
    synth_out o;
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_synthetic(&cfg, &o.tr, &o.ptr, &o.te, &o.pte, &err), FS_ESCENARIO);
    ck_assert_int_eq(err.n_msgs, 3);
    ck_assert_str_eq(err.msgs[0], "synthetic.n_clients: expected 1 .. 4294967295, found 0");
    ck_assert_str_eq(err.msgs[1], "synthetic.alpha: expected a finite number >= 0, found -1");
    ck_assert_str_eq(err.msgs[2], "synthetic.train_fraction: expected 0 .. 1, found 1.5");
}
END_TEST

/* ---- standardize: statistics of the training rows only ---------------------------------- */

/* Hand-computed: feature 0 = {1, 2, 3}: mean 2, population sd sqrt(2/3); feature 1 constant 5:
 * sd 0, left centred; feature 2 = {0, 10, 20}: mean 10, sd sqrt(200/3). The test row
 * {4, 7, -10} uses the training statistics: {2/sqrt(2/3), 7 - 5, -20/sqrt(200/3)}. */
START_TEST(standardize_dense_uses_training_mean_and_population_sd)
{
    fs_dataset tr = {0}, te = {0};
    ck_assert_int_eq(fs_dataset_alloc(&tr, 3, 3, 2), FS_OK);
    ck_assert_int_eq(fs_dataset_alloc(&te, 1, 3, 2), FS_OK);
    const float x[] = {1, 5, 0, 2, 5, 10, 3, 5, 20}, t[] = {4, 7, -10};
    memcpy(tr.x, x, sizeof x);
    memcpy(te.x, t, sizeof t);
    ck_assert_int_eq(fs_dataset_standardize(&tr, &te), FS_OK);
    const double s0 = sqrt(2.0 / 3), s2 = sqrt(200.0 / 3);
    const double want[] = {-1 / s0, 0, -10 / s2, 0, 0, 0, 1 / s0, 0, 10 / s2};
    for (int i = 0; i < 9; i++) ck_assert_double_eq_tol(tr.x[i], want[i], 1e-6);
    ck_assert_double_eq_tol(te.x[0], 2 / s0, 1e-6);
    ck_assert_double_eq_tol(te.x[1], 2, 1e-6);
    ck_assert_double_eq_tol(te.x[2], -20 / s2, 1e-6);
    ck_assert_double_eq_tol(tr.x[0], -1.224744871, 1e-6); /* the same, written out */
    fs_dataset_fini(&tr);
    fs_dataset_fini(&te);
}
END_TEST

/* Sparse rows are scaled only: feature 0 = {2, -, 4, -} (absent = 0): mean 1.5, sd
 * sqrt(11/4); feature 1 = 3 in every row: sd 0, unchanged. */
START_TEST(standardize_sparse_scales_without_centring)
{
    fs_dataset tr = {0}, te = {0};
    ck_assert_int_eq(fs_dataset_alloc_sparse(&tr, 4, 2, 6, 2), FS_OK);
    ck_assert_int_eq(fs_dataset_alloc_sparse(&te, 1, 2, 1, 2), FS_OK);
    const size_t ptr[] = {0, 2, 3, 5, 6};
    const uint32_t idx[] = {0, 1, 1, 0, 1, 1};
    const float val[] = {2, 3, 3, 4, 3, 3};
    memcpy(tr.ptr, ptr, sizeof ptr);
    memcpy(tr.idx, idx, sizeof idx);
    memcpy(tr.val, val, sizeof val);
    te.ptr[1] = 1, te.idx[0] = 0, te.val[0] = -1;
    ck_assert_int_eq(fs_dataset_standardize(&tr, &te), FS_OK);
    const double s0 = sqrt(11.0 / 4);
    const double want[] = {2 / s0, 3, 3, 4 / s0, 3, 3};
    for (int i = 0; i < 6; i++) ck_assert_double_eq_tol(tr.val[i], want[i], 1e-6);
    ck_assert_double_eq_tol(te.val[0], -1 / s0, 1e-6);
    fs_dataset_fini(&tr);
    fs_dataset_fini(&te);
}
END_TEST

int main(void)
{
    setenv("FEDSIM_CACHE", "off", 1); /* these test the decoder; test_cache tests the cache */
    Suite *su = suite_create("data");
    TCase *idx = tcase_create("idx"), *syn = tcase_create("synthetic");
    tcase_set_timeout(idx, 60);
    tcase_add_test(idx, idx_loads_fashion_mnist_train);
    tcase_add_test(idx, idx_max_rows_keeps_the_first_rows);
    tcase_add_test(idx, idx_u8_keeps_pixels_and_expands_to_the_quotients);
    tcase_add_test(idx, take_of_compact_rows_is_float_and_expand_leaves_others);
    tcase_add_test(idx, pixels_f32_is_the_division_on_every_path);
    tcase_add_test(idx, idx_missing_file_is_eio_naming_the_file);
    tcase_add_test(idx, idx_bad_magic_is_eio);
    tcase_add_test(idx, idx_truncated_plain_file_is_eio);
    tcase_add_test(idx, idx_count_mismatch_and_bad_label_are_eio);
    tcase_add_test(idx, idx_truncated_gzip_is_eio);
    tcase_add_test(syn, synth_client_data_independent_of_n_clients);
    tcase_add_test(syn, synth_sizes_split_and_labels);
    tcase_add_test(syn, synth_cap_and_minimum_train_row);
    tcase_add_test(syn, synth_different_seeds_differ);
    tcase_add_test(syn, synth_bad_config_is_escenario);
    TCase *st = tcase_create("standardize");
    tcase_add_test(st, standardize_dense_uses_training_mean_and_population_sd);
    tcase_add_test(st, standardize_sparse_scales_without_centring);
    suite_add_tcase(su, st);
    suite_add_tcase(su, idx);
    suite_add_tcase(su, syn);
    return fs_test_run(su);
}
