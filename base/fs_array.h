/* fs_array: growing a heap array by doubling, for the loaders that read rows of unknown count
 * (models/data, sim/fleet/fs_trace.c). */
#ifndef FS_ARRAY_H
#define FS_ARRAY_H

#include <stddef.h>
#include <stdlib.h>

#include "fs_err.h"

/* Ensures *pp (an array of *cap elements of elem bytes, possibly NULL) holds at least need:
 * doubles from 64, updating *pp and *cap. FS_ENOMEM leaves both as they were. */
static inline int fs_array_grow(void *pp, size_t *cap, size_t need, size_t elem)
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

#endif
