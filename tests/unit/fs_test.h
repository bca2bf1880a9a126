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
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[1024];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(p, sizeof p, "%s%s", db, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

#define FS_TEST_MAIN(suite_fn)                                                                  \
    int main(void)                                                                              \
    {                                                                                           \
        return fs_test_run(suite_fn());                                                         \
    }

#endif
