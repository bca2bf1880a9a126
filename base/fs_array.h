/* fs_array: growing a heap array by doubling, for the loaders that read rows of unknown count
 * (models/data, sim/fleet/fs_trace.c); zeroed arrays whose pages are written up front. */
#ifndef FS_ARRAY_H
#define FS_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* n zeroed elements of elem bytes (at least one), or NULL. Unlike calloc's, every page is
 * written now: calloc leaves a large block's fresh pages untouched, and the kernel maps each to
 * its shared zero page on a first read, so an array whose elements are read, then written, at
 * random (counters) took two faults a page, the second a copy-on-write whose TLB shootdown
 * interrupts every other thread of the process. explicit_bzero, because GCC turns malloc and
 * memset into calloc. */
static inline void *fs_array_zeroed(size_t n, size_t elem)
{
    if (n == 0) n = 1;
    if (elem && n > SIZE_MAX / elem) return NULL;
    void *p = malloc(n * elem);
    if (p) explicit_bzero(p, n * elem);
    return p;
}

#endif
