/* fs_gen: generator lifetime and fs_gen_materialize. Clients are generated in parallel chunks,
 * each into its own temporary datasets, then appended in client order, so the pooled dataset is
 * byte-identical for any thread count. The generators themselves live in fs_gen_marketing.c,
 * fs_gen_fraud.c and fs_gen_ratings.c (models/README.md, "Data generators"). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"

/* Clients per parallel pass: large enough to keep both cores busy with dynamic scheduling,
 * small enough that the temporary per-client datasets (a few hundred bytes of bookkeeping each
 * plus their rows) stay a small fraction of the output. */
#define GEN_CHUNK 4096

void fs_gen_free(fs_gen *g)
{
    if (g) g->ops->free(g);
}

/* ---- one client at a time, into a reusable scratch ---- */

static int grow(void **p, size_t n, size_t size)
{
    void *q = realloc(*p, (n ? n : 1) * size);
    if (!q) return FS_ENOMEM;
    *p = q;
    return FS_OK;
}

int fs_gen_client_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    if (g->ops->client_into) return g->ops->client_into(g, k, s, err);
    fs_dataset_fini(&s->train);
    fs_dataset_fini(&s->test);
    memset(s->cap_rows, 0, sizeof s->cap_rows);
    memset(s->cap_nnz, 0, sizeof s->cap_nnz);
    return g->ops->client(g, k, &s->train, &s->test, err);
}

int fs_gen_client_train_into(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_err *err)
{
    return g->ops->train_into ? g->ops->train_into(g, k, s, err) : fs_gen_client_into(g, k, s, err);
}

int fs_gen_client_sizes(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out)
{
    if (g->ops->sizes) return g->ops->sizes(g, k, s, out);
    int rc = fs_gen_client_into(g, k, s, NULL);
    if (rc) return rc;
    const fs_dataset *tr = &s->train;
    *out = (fs_gen_sizes){.n_train = tr->n,
                          .n_test = s->test.n,
                          .nnz_train = tr->ptr ? tr->ptr[tr->n] : tr->n * tr->d};
    for (size_t i = 0; i < FS_DATA_MAX_GROUPS; i++)
        out->level[i] = i < tr->n_groups && tr->n ? tr->groups[i].level[0] : UINT32_MAX;
    return FS_OK;
}

int fs_gen_client_heads(const fs_gen *g, uint64_t k, fs_gen_scratch *s, fs_gen_sizes *out)
{
    return g->ops->heads ? g->ops->heads(g, k, s, out) : fs_gen_client_sizes(g, k, s, out);
}

void fs_gen_scratch_fini(fs_gen_scratch *s)
{
    fs_dataset_fini(&s->train);
    fs_dataset_fini(&s->test);
    if (s->rng) gsl_rng_free(s->rng);
    free(s->aux);
    memset(s, 0, sizeof *s);
}

/* Room for n rows of labels (or targets) and group levels. */
static int reserve_rows(fs_dataset *ds, size_t *cap_rows, size_t n, int n_classes)
{
    if (n_classes > 0 && grow((void **)&ds->y, n, sizeof *ds->y)) return FS_ENOMEM;
    if (n_classes == 0 && grow((void **)&ds->target, n, sizeof *ds->target)) return FS_ENOMEM;
    for (size_t i = 0; i < ds->n_groups; i++)
        if (grow((void **)&ds->groups[i].level, n, sizeof *ds->groups[i].level)) return FS_ENOMEM;
    *cap_rows = n;
    return FS_OK;
}

int fs_gen_reserve_sparse(fs_gen_scratch *s, int which, size_t n, size_t d, size_t nnz,
                          int n_classes)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    size_t *cap_nnz = &s->cap_nnz[which];
    if (!ds->ptr || n > s->cap_rows[which]) {
        if (grow((void **)&ds->ptr, n + 1, sizeof *ds->ptr)) return FS_ENOMEM;
        if (reserve_rows(ds, &s->cap_rows[which], n, n_classes)) return FS_ENOMEM;
    }
    if (nnz > *cap_nnz) {
        if (grow((void **)&ds->idx, nnz, sizeof *ds->idx)) return FS_ENOMEM;
        if (grow((void **)&ds->val, nnz, sizeof *ds->val)) return FS_ENOMEM;
        *cap_nnz = nnz;
    }
    ds->n = n, ds->d = d, ds->n_classes = n_classes;
    ds->ptr[0] = 0;
    return FS_OK;
}

int fs_gen_reserve_dense(fs_gen_scratch *s, int which, size_t n, size_t d, int n_classes)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    if (!ds->x || n > s->cap_rows[which]) {
        if (grow((void **)&ds->x, n * d, sizeof *ds->x)) return FS_ENOMEM;
        if (reserve_rows(ds, &s->cap_rows[which], n, n_classes)) return FS_ENOMEM;
    }
    memset(ds->x, 0, n * d * sizeof *ds->x);
    ds->n = n, ds->d = d, ds->n_classes = n_classes;
    return FS_OK;
}

int fs_gen_add_group(fs_gen_scratch *s, int which, const char *name, size_t n_levels,
                     size_t *out_index)
{
    fs_dataset *ds = which ? &s->test : &s->train;
    size_t n = ds->n;
    ds->n = s->cap_rows[which] > n ? s->cap_rows[which] : n; /* add_group makes ds->n levels */
    int rc = fs_dataset_add_group(ds, name, n_levels, out_index);
    ds->n = n;
    return rc;
}

void fs_gen_scratch_drop(fs_gen_scratch *s, int which)
{
    fs_dataset_fini(which ? &s->test : &s->train);
    s->cap_rows[which] = s->cap_nnz[which] = 0;
}

void *fs_gen_scratch_aux(fs_gen_scratch *s, size_t bytes)
{
    if (bytes > s->aux_size) {
        if (grow(&s->aux, bytes, 1)) return NULL;
        s->aux_size = bytes;
    }
    return s->aux;
}

int fs_gen_client_fresh(const fs_gen *g, uint64_t k, fs_dataset *out_train, fs_dataset *out_test,
                        fs_err *err)
{
    fs_gen_scratch s = {0};
    int rc = g->ops->client_into(g, k, &s, err);
    if (rc) fs_gen_scratch_fini(&s);
    *out_train = s.train, *out_test = s.test;
    if (s.rng) gsl_rng_free(s.rng);
    free(s.aux);
    return rc;
}

/* A dataset under construction: the final fs_dataset plus capacities, grown by doubling so a
 * million clients cost O(log) reallocations, never one per client. */
typedef struct gen_acc {
    fs_dataset ds;
    size_t cap_rows, cap_nnz;
    fs_partition part;
} gen_acc;

/* Ensures room for `rows` rows and `nnz` non-zeros in total. */
static int acc_reserve(gen_acc *a, size_t rows, size_t nnz)
{
    fs_dataset *ds = &a->ds;
    if (rows > a->cap_rows) {
        size_t cap = a->cap_rows * 2 > rows ? a->cap_rows * 2 : rows;
        if (ds->d && !ds->ptr && grow((void **)&ds->x, cap * ds->d, sizeof *ds->x)) goto fail;
        if (ds->ptr && grow((void **)&ds->ptr, cap + 1, sizeof *ds->ptr)) goto fail;
        if (ds->y && grow((void **)&ds->y, cap, sizeof *ds->y)) goto fail;
        if (ds->target && grow((void **)&ds->target, cap, sizeof *ds->target)) goto fail;
        for (size_t i = 0; i < ds->n_groups; i++)
            if (grow((void **)&ds->groups[i].level, cap, sizeof *ds->groups[i].level)) goto fail;
        a->cap_rows = cap;
    }
    if (ds->ptr && nnz > a->cap_nnz) {
        size_t cap = a->cap_nnz * 2 > nnz ? a->cap_nnz * 2 : nnz;
        if (grow((void **)&ds->idx, cap, sizeof *ds->idx)) goto fail;
        if (grow((void **)&ds->val, cap, sizeof *ds->val)) goto fail;
        a->cap_nnz = cap;
    }
    return FS_OK;
fail:
    return FS_ENOMEM;
}

/* Shapes the accumulator after client 0's dataset: the same kind of rows, the same group
 * columns with their level names. Arrays start at one element so they are never NULL-by-malloc(0)
 * and realloc can grow them. */
static int acc_init(gen_acc *a, const fs_gen *g, const fs_dataset *tmpl, size_t n_clients)
{
    memset(a, 0, sizeof *a);
    fs_dataset *ds = &a->ds;
    ds->d = g->d;
    ds->n_classes = g->n_classes;
    if (!(a->part.offset = calloc(n_clients + 1, sizeof *a->part.offset))) return FS_ENOMEM;
    a->part.n_clients = n_clients;
    if (g->sparse && !(ds->ptr = calloc(2, sizeof *ds->ptr))) return FS_ENOMEM;
    if (!g->sparse && ds->d && !(ds->x = malloc(ds->d * sizeof *ds->x))) return FS_ENOMEM;
    if (g->n_classes > 0 && !(ds->y = malloc(sizeof *ds->y))) return FS_ENOMEM;
    if (g->n_classes == 0 && !(ds->target = malloc(sizeof *ds->target))) return FS_ENOMEM;
    for (size_t i = 0; i < tmpl->n_groups; i++) {
        const fs_group *src = &tmpl->groups[i];
        fs_group *dst = &ds->groups[ds->n_groups++];
        memcpy(dst->name, src->name, sizeof dst->name);
        dst->n_levels = src->n_levels;
        if (!(dst->level = malloc(sizeof *dst->level))) return FS_ENOMEM;
        if (fs_group_copy_names(dst, src)) return FS_ENOMEM;
    }
    a->cap_rows = 1;
    a->cap_nnz = 0;
    return FS_OK;
}

/* Group columns of every client must match client 0's (same names, same order): a generator
 * that broke this would silently mislabel segments. */
static bool acc_groups_match(const fs_dataset *acc, const fs_dataset *src)
{
    if (acc->n_groups != src->n_groups) return false;
    for (size_t i = 0; i < acc->n_groups; i++)
        if (strcmp(acc->groups[i].name, src->groups[i].name)) return false;
    return true;
}

/* Serial pass over a chunk: checks each client's group columns, gives it its first row and
 * first non-zero in the output (row0/nnz0), records the partition, grows n_levels where it grows
 * with the client id (ratings' "user"), and reserves the room the copy pass will fill. */
static int acc_layout(gen_acc *a, const fs_dataset *src, size_t m, size_t base, size_t *row0,
                      size_t *nnz0)
{
    fs_dataset *ds = &a->ds;
    size_t n = ds->n, nnz = ds->ptr ? ds->ptr[n] : 0;
    for (size_t i = 0; i < m; i++) {
        if (!acc_groups_match(ds, &src[i]) || fs_dataset_is_sparse(&src[i]) != (ds->ptr != NULL))
            return FS_EINTERNAL;
        row0[i] = n, nnz0[i] = nnz;
        n += src[i].n;
        nnz += src[i].ptr ? src[i].ptr[src[i].n] : 0;
        a->part.offset[base + i + 1] = n;
        for (size_t j = 0; j < ds->n_groups; j++)
            if (src[i].groups[j].n_levels > ds->groups[j].n_levels)
                ds->groups[j].n_levels = src[i].groups[j].n_levels;
    }
    if (n > UINT32_MAX) return FS_ESCENARIO;
    return acc_reserve(a, n, nnz);
}

/* Copies one client's rows to their place; clients write disjoint ranges (ptr[row0] belongs to
 * the previous client, or is the initial 0), so the copy pass runs in parallel. */
static void acc_copy(gen_acc *a, const fs_dataset *src, size_t row0, size_t nnz0)
{
    fs_dataset *ds = &a->ds;
    size_t n = src->n, nnz = src->ptr ? src->ptr[n] : 0;
    if (n == 0) return;
    if (ds->x) memcpy(ds->x + row0 * ds->d, src->x, n * ds->d * sizeof *ds->x);
    if (ds->ptr) {
        if (nnz) memcpy(ds->idx + nnz0, src->idx, nnz * sizeof *ds->idx);
        if (nnz) memcpy(ds->val + nnz0, src->val, nnz * sizeof *ds->val);
        for (size_t i = 0; i < n; i++)
            ds->ptr[row0 + i + 1] = nnz0 + src->ptr[i + 1];
    }
    if (ds->y) memcpy(ds->y + row0, src->y, n * sizeof *ds->y);
    if (ds->target) memcpy(ds->target + row0, src->target, n * sizeof *ds->target);
    for (size_t j = 0; j < ds->n_groups; j++)
        memcpy(ds->groups[j].level + row0, src->groups[j].level, n * sizeof(uint32_t));
}

/* Contiguous partition rows 0..n-1 and the accumulated dataset handed to the caller. */
static int acc_finish(gen_acc *a, fs_dataset *out, fs_partition *out_part)
{
    size_t n = a->ds.n;
    if (!(a->part.rows = malloc((n ? n : 1) * sizeof *a->part.rows))) return FS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        a->part.rows[i] = (uint32_t)i;
    *out = a->ds;
    *out_part = a->part;
    memset(a, 0, sizeof *a);
    return FS_OK;
}

static void acc_fini(gen_acc *a)
{
    fs_dataset_fini(&a->ds);
    fs_partition_fini(&a->part);
}

/* Generates clients base .. base+m-1 into tr/te. Errors are collected without an fs_err (it is
 * not thread-safe); the caller replays the first failing client serially to get the message. */
static void gen_chunk(const fs_gen *g, uint64_t base, size_t m, int n_threads, fs_dataset *tr,
                      fs_dataset *te, int *rc)
{
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 16)
    for (size_t i = 0; i < m; i++)
        rc[i] = g->ops->client(g, base + i, &tr[i], &te[i], NULL);
}

static int gen_replay_error(const fs_gen *g, uint64_t k, int rc, fs_err *err)
{
    fs_dataset tr = {0}, te = {0};
    int rc2 = g->ops->client(g, k, &tr, &te, err);
    fs_dataset_fini(&tr);
    fs_dataset_fini(&te);
    if (rc2 == FS_OK)
        fs_err_add(err, g->name, "client %llu failed (code %d)", (unsigned long long)k, rc);
    return rc;
}

/* Scratch of one chunk: the temporary per-client datasets, their status codes and their places
 * in the output. */
typedef struct gen_chunk_buf {
    fs_dataset *tr, *te;
    int *rc;
    size_t *row0_tr, *nnz0_tr, *row0_te, *nnz0_te;
} gen_chunk_buf;

static int gen_layout_error(const fs_gen *g, int rc, size_t first, size_t last, fs_err *err)
{
    if (rc == FS_EINTERNAL)
        fs_err_add(err, g->name, "one of clients %zu .. %zu has different group columns", first,
                   last);
    if (rc == FS_ESCENARIO)
        fs_err_add(err, g->name,
                   "expected at most 2^32 rows, found more by client %zu: use fewer clients", last);
    return rc;
}

/* Appends a generated chunk in client order (layout serially, copies in parallel) and frees
 * the temporary datasets. */
static int gen_append_chunk(const fs_gen *g, size_t base, size_t m, int n_threads, gen_chunk_buf *b,
                            gen_acc *atr, gen_acc *ate, fs_err *err)
{
    int rc = acc_layout(atr, b->tr, m, base, b->row0_tr, b->nnz0_tr);
    if (rc == FS_OK) rc = acc_layout(ate, b->te, m, base, b->row0_te, b->nnz0_te);
    if (rc != FS_OK) return gen_layout_error(g, rc, base, base + m - 1, err);
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 64)
    for (size_t i = 0; i < m; i++) {
        acc_copy(atr, &b->tr[i], b->row0_tr[i], b->nnz0_tr[i]);
        acc_copy(ate, &b->te[i], b->row0_te[i], b->nnz0_te[i]);
        fs_dataset_fini(&b->tr[i]);
        fs_dataset_fini(&b->te[i]);
    }
    atr->ds.n = atr->part.offset[base + m];
    ate->ds.n = ate->part.offset[base + m];
    return FS_OK;
}

static int gen_buf_alloc(gen_chunk_buf *b, size_t chunk)
{
    b->tr = calloc(2 * chunk, sizeof *b->tr);
    b->rc = calloc(chunk, sizeof *b->rc);
    b->row0_tr = calloc(4 * chunk, sizeof *b->row0_tr);
    if (!b->tr || !b->rc || !b->row0_tr) return FS_ENOMEM;
    b->te = b->tr + chunk;
    b->nnz0_tr = b->row0_tr + chunk;
    b->row0_te = b->row0_tr + 2 * chunk;
    b->nnz0_te = b->row0_tr + 3 * chunk;
    return FS_OK;
}

static void gen_buf_free(gen_chunk_buf *b, size_t chunk)
{
    for (size_t i = 0; b->tr && i < 2 * chunk; i++)
        fs_dataset_fini(&b->tr[i]);
    free(b->tr);
    free(b->rc);
    free(b->row0_tr);
}

static int gen_all(const fs_gen *g, size_t n_clients, int n_threads, gen_acc *atr, gen_acc *ate,
                   fs_err *err)
{
    size_t chunk = n_clients < GEN_CHUNK ? n_clients : GEN_CHUNK;
    gen_chunk_buf b = {0};
    int rc = gen_buf_alloc(&b, chunk);
    for (size_t base = 0; rc == FS_OK && base < n_clients; base += chunk) {
        size_t m = n_clients - base < chunk ? n_clients - base : chunk;
        gen_chunk(g, base, m, n_threads, b.tr, b.te, b.rc);
        for (size_t i = 0; i < m && rc == FS_OK; i++)
            if (b.rc[i] != FS_OK) rc = gen_replay_error(g, base + i, b.rc[i], err);
        if (rc == FS_OK && base == 0 && (rc = acc_init(atr, g, &b.tr[0], n_clients)) == FS_OK)
            rc = acc_init(ate, g, &b.te[0], n_clients);
        if (rc == FS_OK) rc = gen_append_chunk(g, base, m, n_threads, &b, atr, ate, err);
    }
    if (rc == FS_ENOMEM)
        fs_err_add(err, g->name, "out of memory generating %zu clients", n_clients);
    gen_buf_free(&b, chunk);
    return rc;
}

int fs_gen_materialize(const fs_gen *g, size_t n_clients, int n_threads, fs_dataset *train,
                       fs_partition *train_part, fs_dataset *test, fs_partition *test_part,
                       fs_err *err)
{
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    memset(train_part, 0, sizeof *train_part);
    memset(test_part, 0, sizeof *test_part);
    if (n_clients == 0 || n_clients > UINT32_MAX) {
        fs_err_add(err, g->name, "expected 1 .. %u clients, found %zu", UINT32_MAX, n_clients);
        return FS_ESCENARIO;
    }
    gen_acc atr = {0}, ate = {0};
    int rc = gen_all(g, n_clients, n_threads < 1 ? 1 : n_threads, &atr, &ate, err);
    if (rc == FS_OK && ((rc = acc_finish(&atr, train, train_part)) != FS_OK ||
                        (rc = acc_finish(&ate, test, test_part)) != FS_OK)) {
        fs_err_add(err, g->name, "out of memory generating %zu clients", n_clients);
        fs_dataset_fini(train);
        fs_partition_fini(train_part);
    }
    acc_fini(&atr);
    acc_fini(&ate);
    return rc;
}
