/* fs_test: the one main() every Check suite shares. No fork: libgomp is not fork-safe and a
 * forked child after an OpenMP region hangs (TOOLCHAIN.md). */
#ifndef FS_TEST_H
#define FS_TEST_H

#include <check.h>
#include <stdlib.h>

static inline int fs_test_run(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define FS_TEST_MAIN(suite_fn)                                                                  \
    int main(void)                                                                              \
    {                                                                                           \
        return fs_test_run(suite_fn());                                                         \
    }

#endif
