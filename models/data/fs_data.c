/* fs_data: storage of datasets and partitions (allocation and release), row copies, the
 * expansion of compact pixels to floats, the train/test split and standardization.
 * Loaders live in fs_idx.c and fs_synth.c, partitioners in fs_partition.c. An empty dataset
 * (n == 0 or d == 0) holds NULL arrays, so callers never depend on malloc(0). */
#include "fs_data.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

#include "fs_cpu.h"
#include "fs_rng.h"

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
    if (nnz &&
        (!(ds->idx = malloc(nnz * sizeof *ds->idx)) || !(ds->val = malloc(nnz * sizeof *ds->val))))
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

int fs_dataset_add_group(fs_dataset *ds, const char *name, size_t n_levels, size_t *out_index)
{
    if (ds->n_groups == FS_DATA_MAX_GROUPS || fs_dataset_find_group(ds, name) >= 0)
        return FS_ESCENARIO;
    fs_group *g = &ds->groups[ds->n_groups];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->n_levels = n_levels;
    if (!(g->level = calloc(ds->n ? ds->n : 1, sizeof *g->level))) {
        memset(g, 0, sizeof *g);
        return FS_ENOMEM;
    }
    *out_index = ds->n_groups++;
    return FS_OK;
}

/* One block (pointers, then text) so that copying a group's names, which generators do for
 * every client they build, is one allocation and one memcpy. */
static int set_names(fs_group *g, const char *(*at)(const void *, size_t), const void *names)
{
    size_t n = g->n_levels, text = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(at(names, i));
        if (len > FS_DATA_LEVEL_MAX) return FS_ESCENARIO;
        text += len + 1;
    }
    size_t size = (n ? n : 1) * sizeof(char *) + text;
    char **p = malloc(size);
    if (!p) return FS_ENOMEM;
    char *o = (char *)(p + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(at(names, i)) + 1;
        p[i] = memcpy(o, at(names, i), len);
        o += len;
    }
    free(g->level_names);
    g->level_names = p;
    g->level_names_size = size;
    return FS_OK;
}

static const char *name_ptr(const void *names, size_t i)
{
    return ((const char *const *)names)[i];
}

static const char *name_fixed(const void *names, size_t i)
{
    return ((const char (*)[FS_DATA_NAME_LEN])names)[i];
}

int fs_group_set_names(fs_group *g, const char *const *names)
{
    return set_names(g, name_ptr, names);
}

int fs_group_set_names_fixed(fs_group *g, const char (*names)[FS_DATA_NAME_LEN])
{
    return set_names(g, name_fixed, names);
}

int fs_group_copy_names(fs_group *dst, const fs_group *src)
{
    free(dst->level_names);
    dst->level_names = NULL, dst->level_names_size = 0;
    if (!src->level_names) return FS_OK;
    char **p = malloc(src->level_names_size);
    if (!p) return FS_ENOMEM;
    memcpy(p, src->level_names, src->level_names_size);
    for (size_t i = 0; i < src->n_levels; i++) /* rebase into the copy */
        p[i] = (char *)p + (src->level_names[i] - (char *)src->level_names);
    dst->level_names = p;
    dst->level_names_size = src->level_names_size;
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
    free(ds->x); /* never in a mapping */
    if (ds->map) {
        munmap(ds->map, ds->map_size);
    } else {
        free(ds->x8);
        free(ds->y);
    }
    free(ds->ptr);
    free(ds->idx);
    free(ds->val);
    free(ds->target);
    for (size_t i = 0; i < ds->n_groups; i++) {
        free(ds->groups[i].level);
        free(ds->groups[i].level_names);
    }
    memset(ds, 0, sizeof *ds);
}

/* fs_pixels_f32 runs on every batch and every evaluation of an image model: a quarter of a small
 * softmax run. Where the CPU has FMA, q = p * RN(1/255) corrected by one Newton step on the
 * residual p - 255 q (exact in an FMA) gives the correctly rounded quotient for every p in
 * 0..255 (test_data checks all 256 against the division on every path this CPU has): 16 pixels
 * at a time with AVX-512, a tail shorter than 16 in one masked vector; 8 at a time with AVX2,
 * a tail by the division (the same floats). Without FMA, the division, its loop written 16 at
 * a time, which the compiler turns into whole vectors (the plain loop it vectorised in 4-lane
 * steps plus a scalar tail). On an AVX2 EPYC (Zen 3) the division was 12% of the softmax run
 * (perf): its 8-lane divide issues once every 3.5 cycles, the FMA form's three operations
 * twice a cycle. */
#define PIXEL_LANES 16

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PIXELS_HAVE_FMA 1
#define PIXELS_FMA16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define PIXELS_FMA8_TARGET __attribute__((target("avx2,fma")))

/* The pixels of p that lanes selects (16, or a tail's first few) through the exact FMA form. */
PIXELS_FMA16_TARGET static inline __attribute__((always_inline)) void
pixels16_fma(const uint8_t *p, __mmask16 lanes, float *out)
{
    const __m512 r = _mm512_set1_ps(1.0f / 255.0f), k = _mm512_set1_ps(255.0f);
    __m512 a = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lanes, p)));
    __m512 q = _mm512_mul_ps(a, r);
    __m512 e = _mm512_fnmadd_ps(q, k, a); /* a - 255 q, exact */
    _mm512_mask_storeu_ps(out, lanes, _mm512_fmadd_ps(e, r, q));
}

PIXELS_FMA16_TARGET static void pixels_fma16(const uint8_t *p, size_t len, float *out)
{
    size_t i = 0;
    for (; i + PIXEL_LANES <= len; i += PIXEL_LANES) pixels16_fma(p + i, 0xffff, out + i);
    if (i < len) pixels16_fma(p + i, (__mmask16)((1u << (len - i)) - 1), out + i);
}

PIXELS_FMA8_TARGET static void pixels_fma8(const uint8_t *p, size_t len, float *out)
{
    const __m256 r = _mm256_set1_ps(1.0f / 255.0f), k = _mm256_set1_ps(255.0f);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 a = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const void *)(p + i))));
        __m256 q = _mm256_mul_ps(a, r);
        __m256 e = _mm256_fnmadd_ps(q, k, a); /* a - 255 q, exact */
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(e, r, q));
    }
    for (; i < len; i++) out[i] = fs_pixel(p[i]);
}
#else
#define PIXELS_HAVE_FMA 0
static void pixels_no_fma(const uint8_t *p, size_t len, float *out)
{
    (void)p, (void)len, (void)out;
    fs_assert(0);
}
#define pixels_fma16 pixels_no_fma
#define pixels_fma8 pixels_no_fma
#endif

FS_CPU_CLONES static void pixels_div(const uint8_t *p, size_t len, float *out)
{
    size_t i = 0;
    for (; i + PIXEL_LANES <= len; i += PIXEL_LANES)
        for (int j = 0; j < PIXEL_LANES; j++) out[i + j] = fs_pixel(p[i + j]);
    for (; i < len; i++) out[i] = fs_pixel(p[i]);
}

/* After the constructors (libgcc's among them) __builtin_cpu_supports is a load and a test. */
static bool cpu_has(fs_pixels_path path)
{
    switch (path) {
    case FS_PIXELS_DIV: return true;
#if PIXELS_HAVE_FMA
    case FS_PIXELS_FMA8: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FS_PIXELS_FMA16:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
#endif
    default: return false;
    }
}

static fs_pixels_path best_path(void)
{
    return cpu_has(FS_PIXELS_FMA16) ? FS_PIXELS_FMA16
           : cpu_has(FS_PIXELS_FMA8) ? FS_PIXELS_FMA8
                                     : FS_PIXELS_DIV;
}

static fs_pixels_path g_pixels_forced = FS_PIXELS_BEST; /* tests force each path in turn */

bool fs_pixels_use(fs_pixels_path path)
{
    if (path != FS_PIXELS_BEST && !cpu_has(path)) return false;
    g_pixels_forced = path;
    return true;
}

void fs_pixels_f32(const uint8_t *p, size_t len, float *out)
{
    fs_pixels_path path = g_pixels_forced == FS_PIXELS_BEST ? best_path() : g_pixels_forced;
    if (path == FS_PIXELS_FMA16)
        pixels_fma16(p, len, out);
    else if (path == FS_PIXELS_FMA8)
        pixels_fma8(p, len, out);
    else
        pixels_div(p, len, out);
}

void fs_dataset_row_f32(const fs_dataset *ds, size_t r, float *out)
{
    size_t d = ds->d;
    if (ds->x8)
        fs_pixels_f32(ds->x8 + r * d, d, out);
    else
        memcpy(out, ds->x + r * d, d * sizeof *out);
}

int fs_dataset_expand(fs_dataset *ds)
{
    if (!ds->x8) return FS_OK;
    size_t len = ds->n * ds->d; /* x8 is set only when it is > 0 */
    if (len > SIZE_MAX / sizeof(float)) return FS_ENOMEM;
    float *x = malloc(len * sizeof *x);
    if (!x) return FS_ENOMEM;
    fs_pixels_f32(ds->x8, len, x);
    if (!ds->map) free(ds->x8); /* else the pages go with the mapping, which y still needs */
    ds->x8 = NULL;
    ds->x = x;
    return FS_OK;
}

void fs_partition_fini(fs_partition *p)
{
    free(p->offset);
    free(p->rows);
    memset(p, 0, sizeof *p);
}

static size_t rows_nnz(const fs_dataset *src, const uint32_t *rows, size_t n)
{
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++)
        nnz += src->ptr[rows[i] + 1] - src->ptr[rows[i]];
    return nnz;
}

static void copy_features(const fs_dataset *src, const uint32_t *rows, size_t n, fs_dataset *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t r = rows[i];
        if (src->x || src->x8) fs_dataset_row_f32(src, r, out->x + i * src->d);
        if (src->ptr) {
            size_t from = src->ptr[r], len = src->ptr[r + 1] - from, at = out->ptr[i];
            memcpy(out->idx + at, src->idx + from, len * sizeof *src->idx);
            memcpy(out->val + at, src->val + from, len * sizeof *src->val);
            out->ptr[i + 1] = at + len;
        }
        if (src->y) out->y[i] = src->y[r];
        if (src->target) out->target[i] = src->target[r];
    }
}

static int copy_groups(const fs_dataset *src, const uint32_t *rows, size_t n, fs_dataset *out)
{
    for (size_t g = 0; g < src->n_groups; g++) {
        const fs_group *sg = &src->groups[g];
        size_t at;
        int rc = fs_dataset_add_group(out, sg->name, sg->n_levels, &at);
        if (rc) return rc;
        fs_group *og = &out->groups[at];
        for (size_t i = 0; i < n; i++)
            og->level[i] = sg->level[rows[i]];
        if ((rc = fs_group_copy_names(og, sg))) return rc;
    }
    return FS_OK;
}

int fs_dataset_take(const fs_dataset *src, const uint32_t *rows, size_t n, fs_dataset *out)
{
    int rc = src->ptr
                 ? fs_dataset_alloc_sparse(out, n, src->d, rows_nnz(src, rows, n), src->n_classes)
                 : fs_dataset_alloc(out, n, src->d, src->n_classes);
    if (rc) return rc;
    if (!src->ptr && src->n_classes == 0 && n) {
        /* dense regression: fs_dataset_alloc made labels, the data have targets */
        free(out->y);
        out->y = NULL;
        if (!(out->target = calloc(n, sizeof *out->target))) goto nomem;
    }
    copy_features(src, rows, n, out);
    if ((rc = copy_groups(src, rows, n, out))) goto fail;
    return FS_OK;
nomem:
    rc = FS_ENOMEM;
fail:
    fs_dataset_fini(out);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int fs_dataset_split(const fs_dataset *src, double test_fraction, uint64_t seed,
                     fs_dataset *out_train, fs_dataset *out_test)
{
    size_t n = src->n, n_test = (size_t)llround(test_fraction * (double)n);
    uint32_t *perm = malloc((n ? n : 1) * sizeof *perm);
    gsl_rng *r = fs_rng_new();
    int rc = FS_ENOMEM;
    memset(out_test, 0, sizeof *out_test);
    if (!perm || !r) goto done;
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    fs_rng_reseed(r, seed, FS_RNG_PARTITION, FS_RNG_NONE, 1);
    fs_rng_shuffle_u32(r, perm, n);
    /* keep each side in dataset order: row order can carry meaning (time) */
    qsort(perm, n_test, sizeof *perm, cmp_u32);
    qsort(perm + n_test, n - n_test, sizeof *perm, cmp_u32);
    if ((rc = fs_dataset_take(src, perm, n_test, out_test))) goto done;
    if ((rc = fs_dataset_take(src, perm + n_test, n - n_test, out_train)))
        fs_dataset_fini(out_test);
done:
    free(perm);
    gsl_rng_free(r);
    return rc;
}

/* Mean and population sd of every feature of ds (absent sparse entries count as 0): two passes,
 * so the sum of squares is of deviations (no cancellation for features far from 0). */
static void feature_moments(const fs_dataset *ds, double *mean, double *sd)
{
    size_t n = ds->n, d = ds->d;
    fs_assert(!ds->x8); /* reads and writes x: expand compact rows first */
    memset(mean, 0, d * sizeof *mean);
    memset(sd, 0, d * sizeof *sd);
    if (!ds->ptr) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) mean[j] += ds->x[i * d + j];
        for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                double e = ds->x[i * d + j] - mean[j];
                sd[j] += e * e;
            }
    } else {
        size_t nnz = ds->ptr[n];
        for (size_t k = 0; k < nnz; k++) mean[ds->idx[k]] += ds->val[k];
        for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
        /* sd[] first counts absent entries' (0 - m)^2 as n * m^2, then corrects the present */
        for (size_t j = 0; j < d; j++) sd[j] = (double)n * mean[j] * mean[j];
        for (size_t k = 0; k < nnz; k++) {
            double m = mean[ds->idx[k]], e = ds->val[k] - m;
            sd[ds->idx[k]] += e * e - m * m;
        }
    }
    for (size_t j = 0; j < d; j++) sd[j] = sd[j] > 0 ? sqrt(sd[j] / (double)n) : 0;
}

static float scaled(double x, double m, double s)
{
    double z = s > 0 ? (x - m) / s : x - m;
    return z > FLT_MAX ? FLT_MAX : z < -FLT_MAX ? -FLT_MAX : (float)z;
}

static void apply_scaling(fs_dataset *ds, const double *mean, const double *sd)
{
    if (!ds || !ds->n) return;
    fs_assert(!ds->x8);
    if (!ds->ptr) {
        for (size_t i = 0; i < ds->n; i++)
            for (size_t j = 0; j < ds->d; j++)
                ds->x[i * ds->d + j] = scaled(ds->x[i * ds->d + j], mean[j], sd[j]);
        return;
    }
    for (size_t k = 0; k < ds->ptr[ds->n]; k++)
        if (sd[ds->idx[k]] > 0) ds->val[k] = scaled(ds->val[k], 0, sd[ds->idx[k]]);
}

int fs_dataset_standardize(fs_dataset *train, fs_dataset *test)
{
    if (!train->n || !train->d) return FS_OK;
    double *mean = malloc(train->d * sizeof *mean), *sd = malloc(train->d * sizeof *sd);
    if (!mean || !sd) {
        free(mean), free(sd);
        return FS_ENOMEM;
    }
    feature_moments(train, mean, sd);
    apply_scaling(train, mean, sd);
    apply_scaling(test, mean, sd);
    free(mean), free(sd);
    return FS_OK;
}
