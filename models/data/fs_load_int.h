/* fs_load_int: what the text loaders (fs_csv.c, fs_libsvm.c) share and nothing else calls:
 * reading lines of bounded length; their line, field and row buffers grow by doubling
 * (fs_array_grow), so reading a file costs amortised O(1) reallocations per byte and never
 * shrinks a buffer. */
#ifndef FS_LOAD_INT_H
#define FS_LOAD_INT_H

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "fs_array.h"
#include "fs_err.h"
#include "fs_load.h"

/* Appends one physical line of f (with its '\n', if any) to (*buf)[*len ..], growing *buf and
 * NUL-terminating it; *eof is set when nothing was left. FS_EIO, naming path and the 1-based
 * line_no, on a read error, a NUL byte (binary data) or when *len would pass FS_LOAD_MAX_LINE
 * (so *buf never grows past twice that); FS_ENOMEM. */
int fs_load_getline(gzFile f, const char *path, size_t line_no, char **buf, size_t *cap,
                    size_t *len, bool *eof, fs_err *err);

/* Rows of one column (feature) whose values pass FS_LOAD_LARGE_VALUE in magnitude. */
typedef struct fs_load_large {
    size_t n_rows, first_line;
    double max_abs;
} fs_load_large;

/* Counts value v of a row at line line_no into *l (once per row: callers pass a row's largest
 * magnitude, or call once per column). */
static inline void fs_load_note(fs_load_large *l, double v, size_t line_no)
{
    double a = v < 0 ? -v : v;
    if (!(a > FS_LOAD_LARGE_VALUE)) return;
    if (!l->n_rows++) l->first_line = line_no;
    if (a > l->max_abs) l->max_abs = a;
}

/* Prints "fedsim: warning: <path>: <what>: N rows with |value| > 1e+06 ..." on stderr when l
 * counted any row; what names the column ("column 'income'", "feature 7"), escaped. */
void fs_load_warn_large(const char *path, const char *what, const fs_load_large *l,
                        const char *remedy);

#endif
