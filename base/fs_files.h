/* fs_files: small file-system helpers shared by the commands. */
#ifndef FS_FILES_H
#define FS_FILES_H

/* mkdir -p of the folder holding `path` (nothing when path has no folder part). 0 on success,
 * -1 with errno set. */
int fs_files_make_parent_dirs(const char *path);

#endif
