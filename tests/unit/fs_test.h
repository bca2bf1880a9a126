/* fs_test: the one main() every Check suite shares. No fork: libgomp is not fork-safe and a
 * forked child after an OpenMP region hangs (TOOLCHAIN.md). */
#ifndef FS_TEST_H
#define FS_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline int fs_test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A fresh folder <TMPDIR>/<prefix>XXXXXX in dir, and db = <dir>/<file> (a database path). */
static inline void fs_test_db_dir(char *dir, size_t n_dir, char *db, size_t n_db, const char *prefix,
                                  const char *file)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, n_dir, "%s/%sXXXXXX", base && *base ? base : "/tmp", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, n_db, "%s/%s", dir, file);
}

/* Removes the database with its WAL companions, then the folder. */
static inline void fs_test_db_dir_remove(const char *dir, const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", "-lock"};
    char p[1024];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

static inline void fs_test_slurp(FILE *f, char *buf, size_t n)
{
    rewind(f);
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
    fclose(f);
}

/* Calls a command's entry point (fs_plan_cli, fs_epsilon_cli, ...) with stdout and stderr captured
 * into out and err (NUL-terminated, truncated to their sizes); returns its exit code. */
static inline int fs_test_capture(int (*cli)(int, char **), int argc, char **argv, char *out,
                                  size_t n_out, char *err, size_t n_err)
{
    FILE *fo = tmpfile(), *fe = tmpfile();
    ck_assert(fo && fe);
    fflush(stdout);
    fflush(stderr);
    int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
    dup2(fileno(fo), STDOUT_FILENO);
    dup2(fileno(fe), STDERR_FILENO);
    int rc = cli(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    fs_test_slurp(fo, out, n_out);
    fs_test_slurp(fe, err, n_err);
    return rc;
}

#define FS_TEST_MAIN(suite_fn)                                                                  \
    int main(void)                                                                              \
    {                                                                                           \
        return fs_test_run(suite_fn());                                                         \
    }

#endif
