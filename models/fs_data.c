/* fs_data: storage of datasets and partitions (allocation and release only).
 * Loaders live in fs_idx.c and fs_synth.c, partitioners in fs_partition.c. An empty dataset
 * (n == 0 or d == 0) holds NULL arrays, so callers never depend on malloc(0). */
#include "fs_data.h"

#include <stdio.h>
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

int fs_dataset_alloc_sparse(fs_dataset *ds, size_t n, size_t d, size_t nnz, int n_classes)
{
    memset(ds, 0, sizeof *ds);
    if (!(ds->ptr = calloc(n + 1, sizeof *ds->ptr))) goto fail;
    if (nnz && (!(ds->idx = malloc(nnz * sizeof *ds->idx)) ||
                !(ds->val = malloc(nnz * sizeof *ds->val))))
        goto fail;
    if (n && n_classes > 0 && !(ds->y = calloc(n, sizeof *ds->y))) goto fail;
    if (n && n_classes == 0 && !(ds->target = calloc(n, sizeof *ds->target))) goto fail;
    ds->n = n;
    ds->d = d;
    ds->n_classes = n_classes;
    return FS_OK;
fail:
    fs_dataset_fini(ds);
    return FS_ENOMEM;
}

int fs_dataset_add_group(fs_dataset *ds, const char *name, size_t n_levels, bool with_names,
                         size_t *out_index)
{
    if (ds->n_groups == FS_DATA_MAX_GROUPS || fs_dataset_find_group(ds, name) >= 0)
        return FS_ESCENARIO;
    fs_group *g = &ds->groups[ds->n_groups];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->n_levels = n_levels;
    g->level = calloc(ds->n ? ds->n : 1, sizeof *g->level);
    if (with_names) g->level_names = calloc(n_levels ? n_levels : 1, sizeof *g->level_names);
    if (!g->level || (with_names && !g->level_names)) {
        free(g->level);
        free(g->level_names);
        memset(g, 0, sizeof *g);
        return FS_ENOMEM;
    }
    *out_index = ds->n_groups++;
    return FS_OK;
}

int fs_dataset_find_group(const fs_dataset *ds, const char *name)
{
    for (size_t i = 0; i < ds->n_groups; i++)
        if (!strcmp(ds->groups[i].name, name)) return (int)i;
    return -1;
}

void fs_dataset_fini(fs_dataset *ds)
{
    free(ds->x);
    free(ds->ptr);
    free(ds->idx);
    free(ds->val);
    free(ds->y);
    free(ds->target);
    for (size_t i = 0; i < ds->n_groups; i++) {
        free(ds->groups[i].level);
        free(ds->groups[i].level_names);
    }
    memset(ds, 0, sizeof *ds);
}

void fs_partition_fini(fs_partition *p)
{
    free(p->offset);
    free(p->rows);
    memset(p, 0, sizeof *p);
}
