/* test_cache: fs_cache entries through their one user, fs_data_load_idx: a hit maps the same
 * pixels (kept compact, or expanded to floats) and labels a fresh decode gives; a changed
 * source, a truncated, corrupted, foreign or older-layout entry is rebuilt; FEDSIM_CACHE=off,
 * an unwritable folder and a young source write nothing; the folder follows XDG_CACHE_HOME,
 * else HOME. Every test has its own folder (never the real ~/.cache); the sources are small
 * IDX files made here, aged past FS_CACHE_SETTLE_S. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_cache.h"
#include "fs_data.h"
#include "fs_test.h"

#define N_ROWS 50
#define SIDE 6

static char dir[256], img[300], lbl[300], xdg[300];

/* A plain IDX file: magic and dims big-endian, then payload bytes (seed + 31 i) % mod. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int n_dims,
                      size_t n_bytes, unsigned seed, unsigned mod)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = -1; i < n_dims; i++) {
        uint32_t w = i < 0 ? magic : dims[i];
        unsigned char b[4] = {w >> 24, w >> 16, w >> 8, w};
        fwrite(b, 1, 4, f);
    }
    for (size_t i = 0; i < n_bytes; i++)
        fputc((int)((seed + 31 * i) % mod), f);
    fclose(f);
}

/* Sets path's modification time to `age` seconds ago. */
static void age(const char *path, long age_s)
{
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= age_s;
    t[1] = t[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void write_sources(unsigned seed)
{
    uint32_t idims[3] = {N_ROWS, SIDE, SIDE}, ldims[1] = {N_ROWS};
    write_idx(img, 0x803, idims, 3, N_ROWS * SIDE * SIDE, seed, 256);
    write_idx(lbl, 0x801, ldims, 1, N_ROWS, seed, 10);
    age(img, 3600);
    age(lbl, 3600);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fs_test_cache_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(img, sizeof img, "%s/img", dir);
    snprintf(lbl, sizeof lbl, "%s/lbl", dir);
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    setenv("XDG_CACHE_HOME", xdg, 1);
    unsetenv("FEDSIM_CACHE");
    write_sources(0);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The entries in folder (ignores everything else); *path gets the last one's path. */
static int entries(const char *folder, char *path, size_t n)
{
    DIR *d = opendir(folder);
    if (!d) return 0;
    int count = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            count++;
            if (path) ck_assert_int_lt(snprintf(path, n, "%s/%s", folder, e->d_name), (int)n);
        }
    closedir(d);
    return count;
}

static int xdg_entries(char *path, size_t n)
{
    char folder[400];
    snprintf(folder, sizeof folder, "%s/fedsim/decoded", xdg);
    return entries(folder, path, n);
}

/* Loads img/lbl; *mapped says whether the rows came from a cache entry. */
static void load(size_t max_rows, fs_dataset *ds, bool mapped)
{
    fs_err err;
    fs_err_init(&err, NULL);
    ck_assert_int_eq(fs_data_load_idx(img, lbl, max_rows, ds, &err), FS_OK);
    ck_assert_msg((ds->map != NULL) == mapped, "expected %s, found %s",
                  mapped ? "a cache hit" : "a decode", ds->map ? "a cache hit" : "a decode");
}

static void assert_same(const fs_dataset *a, const fs_dataset *b)
{
    ck_assert_uint_eq(a->n, b->n);
    ck_assert_uint_eq(a->d, b->d);
    ck_assert_int_eq(a->n_classes, b->n_classes);
    ck_assert_int_eq(memcmp(a->x, b->x, a->n * a->d * sizeof *a->x), 0);
    ck_assert_int_eq(memcmp(a->y, b->y, a->n * sizeof *a->y), 0);
    /* the checkpoint fingerprint's digest: the same decoded or mapped, cache on or off */
    ck_assert_uint_ne(a->digest, 0);
    ck_assert_uint_eq(a->digest, b->digest);
}

/* The decode with the cache off: the reference every hit must equal. */
static void decode(size_t max_rows, fs_dataset *ds)
{
    setenv("FEDSIM_CACHE", "off", 1);
    load(max_rows, ds, false);
    unsetenv("FEDSIM_CACHE");
}

START_TEST(hit_is_bit_identical_to_a_decode)
{
    fs_dataset fresh, cold, warm;
    decode(0, &fresh);
    load(0, &cold, false);
    ck_assert_int_eq(xdg_entries(NULL, 0), 1);
    load(0, &warm, true);
    assert_same(&fresh, &cold);
    assert_same(&fresh, &warm);
    ck_assert(warm.x[1] == 31.0f / 255.0f && warm.y[1] == 1);
    fs_dataset_fini(&warm);
    load(7, &warm, false); /* max_rows is part of the key: its own entry */
    fs_dataset_fini(&warm);
    load(7, &warm, true);
    ck_assert_uint_eq(warm.n, 7);
    ck_assert_uint_ne(warm.digest, fresh.digest); /* other rows, another digest */
    ck_assert_int_eq(memcmp(warm.x, fresh.x, 7 * fresh.d * sizeof *fresh.x), 0);
    ck_assert_int_eq(xdg_entries(NULL, 0), 2);
    fs_dataset_fini(&fresh);
    fs_dataset_fini(&cold);
    fs_dataset_fini(&warm);
}
END_TEST

/* The real Fashion-MNIST test set, 10,000 images through a cache entry. */
START_TEST(hit_is_bit_identical_on_fashion_mnist)
{
    snprintf(img, sizeof img, "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
    snprintf(lbl, sizeof lbl, "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
    fs_dataset fresh, cold, warm;
    decode(0, &fresh);
    load(0, &cold, false);
    load(0, &warm, true);
    ck_assert_uint_eq(warm.n, 10000);
    assert_same(&fresh, &cold);
    assert_same(&fresh, &warm);
    fs_dataset_fini(&fresh);
    fs_dataset_fini(&cold);
    fs_dataset_fini(&warm);
}
END_TEST

START_TEST(changed_source_is_rebuilt)
{
    fs_dataset ds, fresh;
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    write_sources(5); /* same sizes, other pixels and labels, another (old) mtime */
    age(img, 7200);
    age(lbl, 7200);
    load(0, &ds, false);
    decode(0, &fresh);
    assert_same(&fresh, &ds);
    fs_dataset_fini(&ds);
    load(0, &ds, true);
    assert_same(&fresh, &ds);
    fs_dataset_fini(&ds);
    age(lbl, 100); /* touched only: the labels' mtime alone is enough */
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(xdg_entries(NULL, 0), 1); /* the entry was replaced, not added to */
    fs_dataset_fini(&fresh);
}
END_TEST

/* Cuts the entry at path to `cut` bytes (cut >= 0), flips a bit of byte flip_at (>= 0). */
static void damage(const char *path, long cut, long flip_at)
{
    if (cut >= 0) ck_assert_int_eq(truncate(path, cut), 0);
    if (flip_at >= 0) {
        FILE *f = fopen(path, "r+b");
        ck_assert_ptr_nonnull(f);
        fseek(f, flip_at, SEEK_SET);
        int c = fgetc(f);
        fseek(f, flip_at, SEEK_SET);
        fputc(c ^ 0x10, f);
        fclose(f);
    }
}

START_TEST(truncated_corrupted_or_foreign_entry_is_rebuilt)
{
    fs_dataset ds, fresh;
    char entry[600];
    struct stat st;
    decode(0, &fresh);
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(xdg_entries(entry, sizeof entry), 1);
    ck_assert_int_eq(stat(entry, &st), 0);
    long size = (long)st.st_size;
    const long cases[][2] = {
        {size / 2, -1},                        /* truncated in the payload */
        {size - 1, -1},                        /* one byte short */
        {10, -1},                              /* shorter than the head */
        {0, -1},                               /* empty */
        {-1, size - 300},                      /* a pixel bit flipped */
        {-1, size - N_ROWS * SIDE * SIDE - 1}, /* a label bit flipped (labels, then pixels) */
        {-1, 2},                               /* the magic */
        {-1, 60},                              /* the key text */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        damage(entry, cases[i][0], cases[i][1]);
        load(0, &ds, false);
        assert_same(&fresh, &ds);
        fs_dataset_fini(&ds);
        ck_assert_int_eq(stat(entry, &st), 0);
        ck_assert_int_eq(st.st_size, size); /* rebuilt whole */
        load(0, &ds, true);
        fs_dataset_fini(&ds);
    }
    FILE *f = fopen(entry, "wb"); /* a foreign file of the right size */
    for (long i = 0; i < size; i++)
        fputc('x', f);
    fclose(f);
    load(0, &ds, false);
    assert_same(&fresh, &ds);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(unlink(entry), 0); /* a FIFO in its place: no hang, replaced */
    ck_assert_int_eq(mkfifo(entry, 0600), 0);
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    load(0, &ds, true);
    fs_dataset_fini(&ds);
    fs_dataset_fini(&fresh);
}
END_TEST

/* Loads img/lbl compact (fs_data_load_idx_u8): the pixels the file holds, (31 i) % 256. */
static void load_u8(fs_dataset *ds, bool mapped)
{
    ck_assert_int_eq(fs_data_load_idx_u8(img, lbl, 0, ds, NULL), FS_OK);
    ck_assert_msg((ds->map != NULL) == mapped, "expected %s", mapped ? "a hit" : "a decode");
    ck_assert(ds->x8 && !ds->x && ds->n == N_ROWS && ds->d == SIDE * SIDE);
    for (size_t i = 0; i < N_ROWS * SIDE * SIDE; i++)
        ck_assert_uint_eq(ds->x8[i], 31 * i % 256);
    for (size_t i = 0; i < N_ROWS; i++)
        ck_assert_int_eq(ds->y[i], 31 * i % 10);
}

/* Pixels stay one byte each through the entry: decoded with the cache off, stored, mapped; the
 * same bytes and digest every way, and the entry is a quarter of the floats' size. */
START_TEST(compact_rows_through_the_cache)
{
    fs_dataset off, cold, warm;
    setenv("FEDSIM_CACHE", "off", 1);
    load_u8(&off, false);
    unsetenv("FEDSIM_CACHE");
    load_u8(&cold, false);
    load_u8(&warm, true);
    ck_assert(off.digest == cold.digest && cold.digest == warm.digest && off.digest);
    char entry[600];
    struct stat st;
    ck_assert_int_eq(xdg_entries(entry, sizeof entry), 1);
    ck_assert_int_eq(stat(entry, &st), 0);
    ck_assert_int_lt(st.st_size, 8192 + 64 + N_ROWS * (SIDE * SIDE + 4)); /* head + payload */
    fs_dataset_fini(&off);
    fs_dataset_fini(&cold);
    fs_dataset_fini(&warm);
}
END_TEST

/* The key of fs_idx.c's entries for img/lbl at a format version. */
static void idx_key(fs_cache_key *k, unsigned version)
{
    fs_cache_key_init(k, "idx", version);
    fs_cache_key_file(k, img);
    fs_cache_key_file(k, lbl);
    fs_cache_key_u64(k, "max_rows", 0);
}

/* Stores img/lbl's rows as version 1 laid them out: meta, float pixels, labels. */
static void store_float_layout(const fs_cache_key *k)
{
    fs_dataset f;
    decode(0, &f);
    uint64_t meta[8] = {f.n, f.d};
    fs_cache_part parts[] = {
        {meta, sizeof meta}, {f.x, f.n * f.d * sizeof *f.x}, {f.y, f.n * sizeof *f.y}};
    ck_assert(fs_cache_store(k, parts, 3));
    fs_dataset_fini(&f);
}

/* A version-1 entry (float pixels) is never read: its key text differs, so it is a miss, and
 * it is replaced (the file name leaves the version out). The float layout stored under the new
 * key fails the size check. Both are decoded and rebuilt. */
START_TEST(entry_of_the_float_layout_is_rebuilt)
{
    fs_cache_key k;
    fs_dataset ds;
    for (unsigned version = 1; version <= 2; version++) {
        idx_key(&k, version);
        store_float_layout(&k);
        ck_assert_int_eq(xdg_entries(NULL, 0), 1);
        load_u8(&ds, false);
        fs_dataset_fini(&ds);
        load_u8(&ds, true);
        fs_dataset_fini(&ds);
        ck_assert_int_eq(xdg_entries(NULL, 0), 1);
    }
}
END_TEST

START_TEST(off_unwritable_or_young_writes_nothing)
{
    fs_dataset ds;
    setenv("FEDSIM_CACHE", "off", 1);
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(entries(dir, NULL, 0), 2); /* img and lbl: no folder made */
    load(0, &ds, false);                        /* and nothing read */
    fs_dataset_fini(&ds);
    unsetenv("FEDSIM_CACHE");
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    setenv("FEDSIM_CACHE", "off", 1); /* an entry exists, off does not read it */
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    unsetenv("FEDSIM_CACHE");
    snprintf(xdg, sizeof xdg, "%s/lbl/below", dir); /* under a file: mkdir fails */
    setenv("XDG_CACHE_HOME", xdg, 1);
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    snprintf(xdg, sizeof xdg, "%s/young", dir);
    setenv("XDG_CACHE_HOME", xdg, 1);
    age(img, 0); /* just written: not cached */
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    ck_assert_int_eq(xdg_entries(NULL, 0), 0);
}
END_TEST

START_TEST(folder_is_xdg_cache_home_else_home)
{
    fs_dataset ds;
    char home[400], folder[450];
    snprintf(home, sizeof home, "%s/home", dir);
    ck_assert_int_eq(mkdir(home, 0700), 0);
    const char *old_home = getenv("HOME");
    char saved[512];
    snprintf(saved, sizeof saved, "%s", old_home ? old_home : "");
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", "relative/dir", 1); /* not absolute: ignored */
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    snprintf(folder, sizeof folder, "%s/.cache/fedsim/decoded", home);
    ck_assert_int_eq(entries(folder, NULL, 0), 1);
    unsetenv("XDG_CACHE_HOME");
    load(0, &ds, true);
    fs_dataset_fini(&ds);
    if (old_home)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
}
END_TEST

/* Writes to a mapped dataset stay in the process; its rows can be taken like any other. */
START_TEST(mapped_rows_are_private_and_taken_like_others)
{
    fs_dataset ds, fresh, part;
    decode(0, &fresh);
    load(0, &ds, false);
    fs_dataset_fini(&ds);
    load(0, &ds, true);
    ds.x[0] = 42.0f, ds.y[0] = 9;
    uint32_t rows[] = {3, 0, 49};
    ck_assert_int_eq(fs_dataset_take(&ds, rows, 3, &part), FS_OK);
    ck_assert_ptr_null(part.map);
    ck_assert(part.x[ds.d] == 42.0f && part.y[1] == 9);
    ck_assert_int_eq(memcmp(part.x, fresh.x + 3 * ds.d, ds.d * sizeof *ds.x), 0);
    ck_assert_int_eq(memcmp(part.x + 2 * ds.d, fresh.x + 49 * ds.d, ds.d * sizeof *ds.x), 0);
    fs_dataset_fini(&ds);
    ck_assert_ptr_null(ds.map);
    load(0, &ds, true);
    assert_same(&fresh, &ds); /* the entry never saw the writes */
    fs_dataset_fini(&ds);
    fs_dataset_fini(&part);
    fs_dataset_fini(&fresh);
}
END_TEST

/* The checksum of a long run is taken in two halves on two threads (fs_cache.c): it must equal
 * the one-thread sum of the same bytes fed in pieces below the split size, of odd lengths so
 * the 16-byte blocks straddle them, and change with one flipped bit in either half. */
START_TEST(digest_in_two_halves_equals_digest_in_pieces)
{
    size_t len = ((size_t)40 << 20) + 13; /* above the 8 MiB split; its blocks split unevenly */
    unsigned char *p = malloc(len);
    ck_assert_ptr_nonnull(p);
    uint64_t x = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    uint64_t whole = fs_cache_digest(&(fs_cache_part){p, len}, 1);
    size_t n = 0, at = 0;
    fs_cache_part pieces[64];
    while (at < len) { /* 42 pieces */
        size_t piece = len - at < 1000003 ? len - at : 1000003; /* < 1 MiB, odd */
        ck_assert_uint_lt(n, 64);
        pieces[n++] = (fs_cache_part){p + at, piece};
        at += piece;
    }
    ck_assert_uint_eq(fs_cache_digest(pieces, n), whole);
    p[len / 4] ^= 1;
    ck_assert_uint_ne(fs_cache_digest(&(fs_cache_part){p, len}, 1), whole);
    p[len / 4] ^= 1, p[3 * len / 4] ^= 0x80;
    ck_assert_uint_ne(fs_cache_digest(&(fs_cache_part){p, len}, 1), whole);
    free(p);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cache");
    TCase *tc = tcase_create("idx");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hit_is_bit_identical_to_a_decode);
    tcase_add_test(tc, hit_is_bit_identical_on_fashion_mnist);
    tcase_add_test(tc, changed_source_is_rebuilt);
    tcase_add_test(tc, truncated_corrupted_or_foreign_entry_is_rebuilt);
    tcase_add_test(tc, off_unwritable_or_young_writes_nothing);
    tcase_add_test(tc, folder_is_xdg_cache_home_else_home);
    tcase_add_test(tc, mapped_rows_are_private_and_taken_like_others);
    tcase_add_test(tc, compact_rows_through_the_cache);
    tcase_add_test(tc, entry_of_the_float_layout_is_rebuilt);
    tcase_add_test(tc, digest_in_two_halves_equals_digest_in_pieces);
    suite_add_tcase(su, tc);
    return fs_test_run(su);
}
