/* fs_gen: generator lifetime and fs_gen_materialize. Clients are generated in chunks, each
 * thread a contiguous range of the chunk into its own buffers, which are then laid end to end in
 * thread order: the pooled dataset is the clients' rows in client order, byte-identical for any
 * thread count. The generators themselves live in fs_gen_marketing.c, fs_gen_fraud.c and
 * fs_gen_ratings.c (models/README.md, "Data generators"). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_gen.h"

/* Clients per parallel pass: large enough that each thread's contiguous range evens out the
 * clients' varying sizes, small enough that the threads' buffers stay a small fraction of the
 * output. */
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

/* Shapes the accumulator's dataset after a client's (client 0's for the output): the same kind
 * of rows, the same group columns with their level names (its partition is the caller's).
 * Arrays start at one element so they are never NULL-by-malloc(0) and realloc can grow them. */
static int acc_init(gen_acc *a, const fs_gen *g, const fs_dataset *tmpl)
{
    fs_dataset *ds = &a->ds;
    memset(ds, 0, sizeof *ds);
    ds->d = g->d;
    ds->n_classes = g->n_classes;
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

/* Copies src's rows to rows row0.. and non-zeros nnz0.. of a's dataset (room reserved): ptr is
 * rebased, and ptr[row0] belongs to the rows before, so disjoint copies may run in parallel. */
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

/* Appends src after a's rows, growing a: a thread's buffer takes its clients one by one.
 * FS_EINTERNAL when src's kind of rows or group columns differ from a's; FS_ENOMEM. */
static int acc_append(gen_acc *a, const fs_dataset *src)
{
    fs_dataset *ds = &a->ds;
    if (!acc_groups_match(ds, src) || fs_dataset_is_sparse(src) != (ds->ptr != NULL))
        return FS_EINTERNAL;
    size_t nnz = ds->ptr ? ds->ptr[ds->n] : 0;
    size_t add = src->ptr ? src->ptr[src->n] : 0;
    if (acc_reserve(a, ds->n + src->n, nnz + add)) return FS_ENOMEM;
    acc_copy(a, src, ds->n, nnz);
    ds->n += src->n;
    /* a group's level count may grow with the client id (ratings' "user") */
    for (size_t j = 0; j < ds->n_groups; j++)
        if (src->groups[j].n_levels > ds->groups[j].n_levels)
            ds->groups[j].n_levels = src->groups[j].n_levels;
    return FS_OK;
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

/* One thread's share of a chunk: a contiguous range of its clients, each generated into the
 * thread's reused scratch and appended, in client order, to the thread's own buffers. Laid end
 * to end in thread order, the buffers are the chunk in client order, whatever the split: the
 * pooled dataset is byte-identical for any thread count, and no client costs an allocation
 * (each had its own datasets, a dozen mallocs and frees: a sixth of a 100,000-client start). */
typedef struct gen_part {
    fs_gen_scratch s;
    gen_acc tr, te;       /* this chunk's rows of the part's clients; capacity kept */
    bool shaped;          /* tr/te shaped (acc_init) after the part's first client */
    int rc;               /* the first failure, at client `bad` */
    size_t bad;
    size_t row0_tr, nnz0_tr, row0_te, nnz0_te; /* where the buffers go in the output */
} gen_part;

static void part_reset(gen_part *p)
{
    p->tr.ds.n = p->te.ds.n = 0;
    if (p->tr.ds.ptr) p->tr.ds.ptr[0] = 0;
    if (p->te.ds.ptr) p->te.ds.ptr[0] = 0;
    p->rc = FS_OK;
}

static void part_fini(gen_part *p)
{
    fs_gen_scratch_fini(&p->s);
    acc_fini(&p->tr);
    acc_fini(&p->te);
}

/* Client k into part p, its train and test row counts into the output partitions' offsets
 * (cumulated by gen_place). */
static int part_client(const fs_gen *g, gen_part *p, uint64_t k, gen_acc *atr, gen_acc *ate)
{
    int rc = fs_gen_client_into(g, k, &p->s, NULL);
    if (rc == FS_OK && !p->shaped) {
        rc = acc_init(&p->tr, g, &p->s.train);
        if (rc == FS_OK) rc = acc_init(&p->te, g, &p->s.test);
        p->shaped = rc == FS_OK;
    }
    if (rc == FS_OK) rc = acc_append(&p->tr, &p->s.train);
    if (rc == FS_OK) rc = acc_append(&p->te, &p->s.test);
    atr->part.offset[k + 1] = p->s.train.n;
    ate->part.offset[k + 1] = p->s.test.n;
    return rc;
}

/* Thread t of n_parts generates clients [lo, hi) of the chunk base .. base+m-1. */
static void part_generate(const fs_gen *g, gen_part *p, size_t base, size_t m, int t,
                          int n_parts, gen_acc *atr, gen_acc *ate)
{
    size_t lo = m * (size_t)t / (size_t)n_parts, hi = m * (size_t)(t + 1) / (size_t)n_parts;
    part_reset(p);
    for (size_t i = lo; i < hi && p->rc == FS_OK; i++)
        if ((p->rc = part_client(g, p, base + i, atr, ate)) != FS_OK) p->bad = base + i;
}

/* Serial: the output's shape (after client 0, the first part's template), each part's place,
 * the partition offsets cumulated, the room reserved. */
static int gen_place(const fs_gen *g, gen_part *parts, int n_parts, size_t base, size_t m,
                     gen_acc *atr, gen_acc *ate)
{
    if (base == 0) {
        int rc = acc_init(atr, g, &parts[0].tr.ds);
        if (rc == FS_OK) rc = acc_init(ate, g, &parts[0].te.ds);
        if (rc != FS_OK) return rc;
    }
    size_t n_tr = atr->ds.n, n_te = ate->ds.n;
    size_t nnz_tr = atr->ds.ptr ? atr->ds.ptr[n_tr] : 0;
    size_t nnz_te = ate->ds.ptr ? ate->ds.ptr[n_te] : 0;
    for (int t = 0; t < n_parts; t++) {
        gen_part *p = &parts[t];
        if (!p->shaped && p->tr.ds.n == 0 && p->te.ds.n == 0) continue; /* no clients */
        if (!acc_groups_match(&atr->ds, &p->tr.ds) || !acc_groups_match(&ate->ds, &p->te.ds) ||
            (p->tr.ds.ptr != NULL) != (atr->ds.ptr != NULL))
            return FS_EINTERNAL;
        p->row0_tr = n_tr, p->nnz0_tr = nnz_tr, p->row0_te = n_te, p->nnz0_te = nnz_te;
        n_tr += p->tr.ds.n, n_te += p->te.ds.n;
        nnz_tr += p->tr.ds.ptr ? p->tr.ds.ptr[p->tr.ds.n] : 0;
        nnz_te += p->te.ds.ptr ? p->te.ds.ptr[p->te.ds.n] : 0;
        for (size_t j = 0; j < atr->ds.n_groups; j++)
            if (p->tr.ds.groups[j].n_levels > atr->ds.groups[j].n_levels)
                atr->ds.groups[j].n_levels = p->tr.ds.groups[j].n_levels;
        for (size_t j = 0; j < ate->ds.n_groups; j++)
            if (p->te.ds.groups[j].n_levels > ate->ds.groups[j].n_levels)
                ate->ds.groups[j].n_levels = p->te.ds.groups[j].n_levels;
    }
    for (size_t k = base; k < base + m; k++) {
        atr->part.offset[k + 1] += atr->part.offset[k];
        ate->part.offset[k + 1] += ate->part.offset[k];
    }
    if (n_tr > UINT32_MAX || n_te > UINT32_MAX) return FS_ESCENARIO;
    if (acc_reserve(atr, n_tr, nnz_tr) || acc_reserve(ate, n_te, nnz_te)) return FS_ENOMEM;
    atr->ds.n = n_tr, ate->ds.n = n_te;
    return FS_OK;
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

/* The first failure of the chunk, by client order (a generator's own error is replayed
 * serially for its message: fs_err is not thread-safe). */
static int gen_chunk_failure(const fs_gen *g, const gen_part *parts, int n_parts, size_t base,
                             size_t m, fs_err *err)
{
    for (int t = 0; t < n_parts; t++) {
        const gen_part *p = &parts[t];
        if (p->rc == FS_OK) continue;
        if (p->rc == FS_EINTERNAL) return gen_layout_error(g, p->rc, base, base + m - 1, err);
        return p->rc == FS_ENOMEM ? FS_ENOMEM : gen_replay_error(g, p->bad, p->rc, err);
    }
    return FS_OK;
}

static int gen_all(const fs_gen *g, size_t n_clients, int n_threads, gen_acc *atr, gen_acc *ate,
                   fs_err *err)
{
    gen_part *parts = calloc((size_t)n_threads, sizeof *parts);
    atr->part.n_clients = ate->part.n_clients = n_clients;
    atr->part.offset = calloc(n_clients + 1, sizeof *atr->part.offset);
    ate->part.offset = calloc(n_clients + 1, sizeof *ate->part.offset);
    int rc = parts && atr->part.offset && ate->part.offset ? FS_OK : FS_ENOMEM;
    for (size_t base = 0; rc == FS_OK && base < n_clients; base += GEN_CHUNK) {
        size_t m = n_clients - base < GEN_CHUNK ? n_clients - base : GEN_CHUNK;
        int n_parts = (size_t)n_threads < m ? n_threads : (int)m;
#pragma omp parallel num_threads(n_parts)
        part_generate(g, &parts[omp_get_thread_num()], base, m, omp_get_thread_num(), n_parts,
                      atr, ate);
        if ((rc = gen_chunk_failure(g, parts, n_parts, base, m, err)) != FS_OK) break;
        rc = gen_place(g, parts, n_parts, base, m, atr, ate);
        if (rc != FS_OK) {
            if (rc != FS_ENOMEM) gen_layout_error(g, rc, base, base + m - 1, err);
            break;
        }
#pragma omp parallel for num_threads(n_parts)
        for (int t = 0; t < n_parts; t++) {
            acc_copy(atr, &parts[t].tr.ds, parts[t].row0_tr, parts[t].nnz0_tr);
            acc_copy(ate, &parts[t].te.ds, parts[t].row0_te, parts[t].nnz0_te);
        }
    }
    if (rc == FS_ENOMEM)
        fs_err_add(err, g->name, "out of memory generating %zu clients", n_clients);
    for (int t = 0; parts && t < n_threads; t++)
        part_fini(&parts[t]);
    free(parts);
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
