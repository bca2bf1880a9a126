/* fs_idx: the IDX file reader (LeCun's MNIST format, also used by Fashion-MNIST) and its
 * cache entries. Reads through zlib's gz* calls, which pass plain files through unchanged, so
 * .gz and raw files both work. Every error names the file and says what was expected and what
 * was found (FS_EIO); on error the output dataset is left empty.
 * Pixels are kept as uint8 (fs_dataset.x8), scaled by whoever reads a row (fs_pixel), so the
 * decode is the inflate (most of its 0.25 s for both sets on 2 shared cores, cache off) into
 * 55 MB, and the entry it stores (meta, labels, pixels: 47 MB + 8 MB) is mapped afterwards in
 * 0.003 s, most of it the entry's checksum (build/tools/bench_load; the float entries of
 * version 1 were 219 MB, 0.012 s). fs_data_load_idx expands to floats for readers of x. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fs_cache.h"
#include "fs_data.h"

#define IDX_MAGIC_LABELS 0x00000801u /* uint8 data, 1 dimension */
#define IDX_MAGIC_IMAGES 0x00000803u /* uint8 data, 3 dimensions */
#define IDX_N_CLASSES 10
#define IDX_CHUNK 65536u
#define IDX_MAX_FEATURES (1u << 24)

static int idx_open(const char *path, gzFile *out, fs_err *err)
{
    errno = 0;
    *out = gzopen(path, "rb");
    if (!*out) {
        if (errno == 0) return FS_ENOMEM; /* zlib's documented meaning of NULL without errno */
        fs_err_add(err, path, "expected a readable IDX file, found: %s", strerror(errno));
        return FS_EIO;
    }
    gzbuffer(*out, 1u << 18); /* larger than the 8 KiB default: fewer read(2) calls */
    return FS_OK;
}

/* Reads up to len bytes, stopping only at end of file or a zlib error; returns bytes read. */
static size_t idx_read(gzFile f, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* A short read is truncation, or a corrupt gzip stream when zlib says so. */
static int idx_short(gzFile f, const char *path, const char *what, size_t expected, size_t found,
                     fs_err *err)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    size_t plen = strlen(path);
    if (strncmp(zmsg, path, plen) == 0 && strncmp(zmsg + plen, ": ", 2) == 0)
        zmsg += plen + 2; /* zlib prefixes the path, which the message already starts with */
    char detail[200] = "";
    if (zerr != Z_OK) snprintf(detail, sizeof detail, " (zlib: %s)", zmsg);
    fs_err_add(err, path, "truncated: expected %zu bytes of %s, found %zu%s", expected, what, found,
               detail);
    return FS_EIO;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the magic number and n_dims big-endian dimension sizes. */
static int idx_header(gzFile f, const char *path, uint32_t magic, int n_dims, uint32_t *dims,
                      fs_err *err)
{
    unsigned char h[16];
    size_t len = 4 + 4 * (size_t)n_dims;
    size_t got = idx_read(f, h, len);
    if (got < len) return idx_short(f, path, "IDX header", len, got, err);
    uint32_t found = be32(h);
    if (found != magic) {
        fs_err_add(err, path, "expected IDX magic number 0x%08x (%s), found 0x%08x", magic,
                   magic == IDX_MAGIC_IMAGES ? "uint8 images, 3 dimensions"
                                             : "uint8 labels, 1 dimension",
                   found);
        return FS_EIO;
    }
    for (int i = 0; i < n_dims; i++) dims[i] = be32(h + 4 + 4 * i);
    return FS_OK;
}

/* Image dimensions must give a non-empty row of sane size. */
static int idx_check_dims(const char *path, const uint32_t *dims, fs_err *err)
{
    if (dims[0] == 0 || dims[1] == 0 || dims[2] == 0 ||
        (uint64_t)dims[1] * dims[2] > IDX_MAX_FEATURES) {
        fs_err_add(err, path,
                   "expected image count >= 1 and 1 .. %u pixels per image, found %u images "
                   "of %u x %u",
                   IDX_MAX_FEATURES, dims[0], dims[1], dims[2]);
        return FS_EIO;
    }
    return FS_OK;
}

/* The pixels are kept as they are (x8): scaling happens when a model gathers its rows. */
static int idx_read_pixels(gzFile f, const char *path, fs_dataset *ds, fs_err *err)
{
    size_t total = ds->n * ds->d, got = idx_read(f, ds->x8, total);
    return got < total ? idx_short(f, path, "pixel data", total, got, err) : FS_OK;
}

static int idx_read_labels(gzFile f, const char *path, fs_dataset *ds, fs_err *err)
{
    unsigned char buf[IDX_CHUNK];
    size_t done = 0;
    while (done < ds->n) {
        size_t want = ds->n - done < IDX_CHUNK ? ds->n - done : IDX_CHUNK;
        size_t got = idx_read(f, buf, want);
        for (size_t i = 0; i < got; i++) {
            if (buf[i] >= IDX_N_CLASSES) {
                fs_err_add(err, path, "label %zu: expected 0 .. %d, found %u", done + i,
                           IDX_N_CLASSES - 1, buf[i]);
                return FS_EIO;
            }
            ds->y[done + i] = buf[i];
        }
        done += got;
        if (got < want) return idx_short(f, path, "labels", ds->n, done, err);
    }
    return FS_OK;
}

/* Labels are all written by idx_read_labels, pixels by idx_read_pixels: nothing to clear. */
static int idx_alloc(fs_dataset *ds, size_t n, size_t d)
{
    memset(ds, 0, sizeof *ds);
    ds->x8 = malloc(n * d);
    ds->y = malloc(n * sizeof *ds->y);
    ds->n = n, ds->d = d, ds->n_classes = IDX_N_CLASSES;
    return ds->x8 && ds->y ? FS_OK : FS_ENOMEM;
}

static int idx_decode(const char *images_path, const char *labels_path, size_t max_rows,
                      fs_dataset *out, fs_err *err)
{
    gzFile fi = NULL, fl = NULL;
    uint32_t idims[3] = {0}, ldims[1] = {0};
    memset(out, 0, sizeof *out);
    int rc = idx_open(images_path, &fi, err);
    if (rc == FS_OK) rc = idx_header(fi, images_path, IDX_MAGIC_IMAGES, 3, idims, err);
    if (rc == FS_OK) rc = idx_check_dims(images_path, idims, err);
    if (rc != FS_OK) goto fail;
    if ((rc = idx_open(labels_path, &fl, err)) != FS_OK) goto fail;
    if ((rc = idx_header(fl, labels_path, IDX_MAGIC_LABELS, 1, ldims, err)) != FS_OK) goto fail;
    if (ldims[0] != idims[0]) {
        fs_err_add(err, labels_path, "expected %u labels (the image count of %s), found %u",
                   idims[0], images_path, ldims[0]);
        rc = FS_EIO;
        goto fail;
    }
    size_t n = max_rows > 0 && max_rows < idims[0] ? max_rows : idims[0];
    if ((rc = idx_alloc(out, n, (size_t)idims[1] * idims[2])) != FS_OK) goto fail;
    if ((rc = idx_read_pixels(fi, images_path, out, err)) != FS_OK) goto fail;
    if ((rc = idx_read_labels(fl, labels_path, out, err)) != FS_OK) goto fail;
    gzclose(fi);
    gzclose(fl);
    return FS_OK;
fail:
    if (rc == FS_ENOMEM) fs_err_add(err, images_path, "out of memory while loading");
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    fs_dataset_fini(out);
    return rc;
}

/* ---- cache entries: a meta block, then y (n int32), then x8 (n * d bytes), as in memory: y
 * first, so it stays aligned whatever n * d is ---- */

#define IDX_CACHE_VERSION 2 /* bump when the decode or the layout below changes (1: float x) */

typedef struct idx_meta {
    uint64_t n, d;
    uint64_t reserved[6]; /* 64 bytes: keeps y aligned for vector loads */
} idx_meta;

static void idx_cache_key(fs_cache_key *k, const char *images_path, const char *labels_path,
                          size_t max_rows)
{
    fs_cache_key_init(k, "idx", IDX_CACHE_VERSION);
    fs_cache_key_file(k, images_path);
    fs_cache_key_file(k, labels_path);
    fs_cache_key_u64(k, "max_rows", max_rows);
}

/* An entry whose checksum matched was written by idx_cache_store, but its shape and labels
 * are still checked: the cache is never trusted with anything that could index out of bounds. */
static bool idx_cache_fits(const fs_cache_map *m, size_t max_rows, idx_meta *meta)
{
    if (m->len < sizeof *meta) return false;
    memcpy(meta, m->payload, sizeof *meta);
    uint64_t n = meta->n, d = meta->d;
    if (n == 0 || n > UINT32_MAX || (max_rows > 0 && n > max_rows) || d == 0 ||
        d > IDX_MAX_FEATURES || m->len != sizeof *meta + n * sizeof(int32_t) + n * d)
        return false;
    const int32_t *y = (const int32_t *)((const char *)m->payload + sizeof *meta);
    for (uint64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= IDX_N_CLASSES) return false;
    return true;
}

static bool idx_cache_load(const fs_cache_key *k, size_t max_rows, fs_dataset *out)
{
    fs_cache_map m;
    idx_meta meta;
    if (!fs_cache_open(k, &m)) return false;
    if (!idx_cache_fits(&m, max_rows, &meta)) {
        fs_cache_unmap(&m);
        return false;
    }
    memset(out, 0, sizeof *out);
    out->n = meta.n, out->d = meta.d, out->n_classes = IDX_N_CLASSES;
    out->y = (int32_t *)((char *)m.payload + sizeof meta);
    out->x8 = (uint8_t *)(out->y + meta.n);
    out->map = m.base, out->map_size = m.size;
    out->digest = m.digest;
    return true;
}

/* Stores a decoded dataset, and gives it the digest its entry has (cache on or off). */
static void idx_cache_store(const fs_cache_key *k, fs_dataset *ds)
{
    idx_meta meta = {.n = ds->n, .d = ds->d};
    fs_cache_part parts[] = {
        {&meta, sizeof meta}, {ds->y, ds->n * sizeof *ds->y}, {ds->x8, ds->n * ds->d}};
    ds->digest = fs_cache_digest(parts, sizeof parts / sizeof *parts);
    fs_cache_store(k, parts, sizeof parts / sizeof *parts);
}

int fs_data_load_idx_u8(const char *images_path, const char *labels_path, size_t max_rows,
                        fs_dataset *out, fs_err *err)
{
    fs_cache_key k;
    idx_cache_key(&k, images_path, labels_path, max_rows);
    if (idx_cache_load(&k, max_rows, out)) return FS_OK;
    int rc = idx_decode(images_path, labels_path, max_rows, out, err);
    if (rc == FS_OK) idx_cache_store(&k, out);
    return rc;
}

int fs_data_load_idx(const char *images_path, const char *labels_path, size_t max_rows,
                     fs_dataset *out, fs_err *err)
{
    int rc = fs_data_load_idx_u8(images_path, labels_path, max_rows, out, err);
    if (rc == FS_OK && (rc = fs_dataset_expand(out)) != FS_OK) {
        fs_err_add(err, images_path, "out of memory while loading");
        fs_dataset_fini(out);
    }
    return rc;
}
