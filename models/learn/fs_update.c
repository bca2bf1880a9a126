/* fs_update: storage for a client's update (struct in fs_model.h). A dense update owns n_params
 * fs_real values from init; a sparse one starts empty and its producer (a model's train_sparse) grows
 * idx/val with fs_update_reserve, so one update reused across rounds stops allocating once warm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_cpu.h"
#include "fs_model.h"

int fs_update_init(fs_update *u, size_t n_params, bool sparse, size_t n_personal)
{
    memset(u, 0, sizeof *u);
    u->n_params = n_params;
    u->sparse = sparse;
    if (n_personal && !(u->personal = calloc(n_personal, sizeof *u->personal))) return FS_ENOMEM;
    if (sparse) return FS_OK;
    u->dense = calloc(n_params ? n_params : 1, sizeof *u->dense);
    if (u->dense) return FS_OK;
    fs_update_fini(u);
    return FS_ENOMEM;
}

/* Safe on a zeroed or already finished update. */
void fs_update_fini(fs_update *u)
{
    free(u->dense);
    free(u->idx);
    free(u->val);
    free(u->personal);
    memset(u, 0, sizeof *u);
}

/* Exact growth, no doubling: a producer asks for its own bound (a client's workspace), and reuse
 * across clients keeps the largest. */
int fs_update_reserve(fs_update *u, size_t need)
{
    if (u->cap >= need) return FS_OK;
    uint32_t *idx = realloc(u->idx, need * sizeof *idx);
    if (idx) u->idx = idx;
    fs_real *val = realloc(u->val, need * sizeof *val);
    if (val) u->val = val;
    if (!idx || !val) return FS_ENOMEM;
    u->cap = need;
    return FS_OK;
}

/* The clones give the same bits: a float times a float is exact in double, fused or not (the
 * FS_REAL_DOUBLE reference build may differ in the last bit between CPU levels). */
FS_CPU_CLONES double fs_vec_norm(const fs_real *v, size_t n)
{
    enum { LANES = 8 };
    double lane[LANES] = {0}, s = 0;
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) lane[j] += (double)v[i + j] * v[i + j];
    for (int j = 0; j < LANES; j++) s += lane[j];
    for (; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

double fs_update_norm(const fs_update *u)
{
    return u->sparse ? fs_vec_norm(u->val, u->nnz) : fs_vec_norm(u->dense, u->n_params);
}
