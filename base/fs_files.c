/* fs_files: mkdir -p for output paths, so `-o results/new/x.sqlite` just works. */
#include "fs_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int fs_files_make_parent_dirs(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0777) && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(dir, 0777) && errno != EEXIST ? -1 : 0;
}
