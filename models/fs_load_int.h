/* fs_load_int: what the text loaders (fs_csv.c, fs_libsvm.c) share and nothing else calls:
 * growing their line, field and row buffers by doubling, so reading a file costs amortised O(1)
 * reallocations per byte and never shrinks a buffer. */
#ifndef FS_LOAD_INT_H
#define FS_LOAD_INT_H

#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "fs_err.h"

/* Ensures *pp (an array of *cap elements of elem bytes, possibly NULL) holds at least need:
 * doubles from 64, updating *pp and *cap. FS_ENOMEM leaves both as they were. */
static inline int fs_load_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return FS_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*(void **)pp, c * elem);
    if (!p) return FS_ENOMEM;
    *(void **)pp = p;
    *cap = c;
    return FS_OK;
}

/* Appends one physical line of f (with its '\n', if any) to (*buf)[*len ..], growing *buf and
 * NUL-terminating it; *eof is set when nothing was left. FS_EIO, naming path and the 1-based
 * line_no, on a read error or a NUL byte (binary data); FS_ENOMEM. */
int fs_load_getline(gzFile f, const char *path, size_t line_no, char **buf, size_t *cap,
                    size_t *len, bool *eof, fs_err *err);

#endif
