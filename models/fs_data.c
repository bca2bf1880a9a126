/* fs_data: storage of datasets and partitions (allocation and release only).
 * Loaders live in fs_idx.c and fs_synth.c, partitioners in fs_partition.c. An empty dataset
 * (n == 0 or d == 0) holds NULL arrays, so callers never depend on malloc(0). */
#include "fs_data.h"

#include <stdlib.h>
#include <string.h>

int fs_dataset_alloc(fs_dataset *ds, size_t n, size_t d, int n_classes)
{
    memset(ds, 0, sizeof *ds);
    if (d != 0 && n > SIZE_MAX / sizeof(float) / d) return FS_ENOMEM;
    if (n * d > 0 && !(ds->x = calloc(n * d, sizeof *ds->x))) goto fail;
    if (n > 0 && !(ds->y = calloc(n, sizeof *ds->y))) goto fail;
    ds->n = n;
    ds->d = d;
    ds->n_classes = n_classes;
    return FS_OK;
fail:
    fs_dataset_fini(ds);
    return FS_ENOMEM;
}

void fs_dataset_fini(fs_dataset *ds)
{
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

void fs_partition_fini(fs_partition *p)
{
    free(p->offset);
    free(p->rows);
    memset(p, 0, sizeof *p);
}
