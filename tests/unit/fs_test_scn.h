/* fs_test_scn: building small in-memory scenarios and worlds for engine-level tests. */
#ifndef FS_TEST_SCN_H
#define FS_TEST_SCN_H

#include <check.h>
#include <stdio.h>

#include "fs_scn.h"
#include "fs_world.h"

/* Parses a scenario text; the test fails with the collected messages on error. */
static inline void fs_test_scenario(const char *text, fs_scenario *out)
{
    fs_err err;
    fs_err_init(&err, "test");
    int rc = fs_scn_parse(text, NULL, 0, out, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
}

static inline void fs_test_world(const fs_scenario *s, fs_world *out)
{
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_world_init(out, s, &err);
    if (rc) fs_err_print(&err, stderr);
    ck_assert_int_eq(rc, FS_OK);
}

#endif
