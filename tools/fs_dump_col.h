/* fs_dump_col: the "table.col" names shared by fedsim-dbdump (columns it skips or hashes) and
 * fedsim-dumpcmp (columns --ignore skips). */
#ifndef FS_DUMP_COL_H
#define FS_DUMP_COL_H

#include <stdbool.h>
#include <string.h>

/* Whether entry ("runs.scenario_json") names column col of table. */
static inline bool fs_dump_col_is(const char *entry, const char *table, const char *col)
{
    size_t tl = strlen(table);
    return strncmp(entry, table, tl) == 0 && entry[tl] == '.' && strcmp(entry + tl + 1, col) == 0;
}

#endif
