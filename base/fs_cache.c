/* fs_cache: the entry format, its validation, the folder and the atomic write.
 * An entry file is: a head (magic, key length, payload offset, length and checksum), the key
 * text, zero padding to a 4 KiB boundary, the payload. The checksum is a 4-lane Fletcher sum
 * over 32-bit words, which runs at memory speed (its lanes in registers: see sum_block_lanes),
 * so checking it on every open costs less than any decode it replaces. */
#include "fs_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs_files.h"

#define CACHE_MAGIC "FSCACHE\n"
#define CACHE_ALIGN 4096u
#define CACHE_PATH_MAX 1024 /* fs_files_make_parent_dirs' limit */

typedef struct entry_head {
    char magic[8];
    uint64_t key_len;
    uint64_t payload_off;
    uint64_t payload_len;
    uint64_t checksum;
} entry_head;

/* ---- the key ---- */

/* FNV-1a over s and its NUL, continuing from h (so "ab","c" and "a","bc" differ). */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    do
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    while (*s++);
    return h;
}

static void key_add(fs_cache_key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void key_add(fs_cache_key *k, const char *fmt, ...)
{
    if (!k->ok) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(k->text + k->len, sizeof k->text - k->len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof k->text - k->len)
        k->ok = false;
    else
        k->len += (size_t)w;
}

void fs_cache_key_init(fs_cache_key *k, const char *kind, unsigned version)
{
    k->len = 0;
    k->newest_mtime_ns = INT64_MIN;
    k->name_hash = fnv1a(0xcbf29ce484222325ull, kind);
    k->ok = strlen(kind) < sizeof k->kind;
    snprintf(k->kind, sizeof k->kind, "%s", kind);
    /* the payload is raw memory: another byte order or float format must not read it */
    key_add(k, "fedsim cache\nkind=%s\nversion=%u\nhost=%s float=%zu\n", kind, version,
            __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "little-endian" : "big-endian",
            sizeof(float));
}

void fs_cache_key_file(fs_cache_key *k, const char *path)
{
    char abs[PATH_MAX];
    struct stat st;
    if (!k->ok) return;
    if (!realpath(path, abs) || stat(abs, &st) || !S_ISREG(st.st_mode)) {
        k->ok = false;
        return;
    }
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (mtime > k->newest_mtime_ns) k->newest_mtime_ns = mtime;
    k->name_hash = fnv1a(k->name_hash, abs);
    key_add(k, "file=%s\nsize=%lld\nmtime_ns=%lld\n", abs, (long long)st.st_size, (long long)mtime);
}

void fs_cache_key_u64(fs_cache_key *k, const char *name, uint64_t value)
{
    char text[64];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    k->name_hash = fnv1a(fnv1a(k->name_hash, name), text);
    key_add(k, "%s=%s\n", name, text);
}

/* ---- the folder and the file name ---- */

static bool cache_enabled(void)
{
    const char *v = getenv("FEDSIM_CACHE");
    return !v || strcmp(v, "off") != 0;
}

/* $XDG_CACHE_HOME/fedsim/decoded, else $HOME/.cache/fedsim/decoded (beside tools/fetch-datasets'
 * data/, which is not derived and must not be deleted with it); relative values are ignored, as
 * the XDG base directory specification requires. */
static bool cache_dir(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w = -1;
    if (xdg && xdg[0] == '/')
        w = snprintf(buf, n, "%s/fedsim/decoded", xdg);
    else if (home && home[0] == '/')
        w = snprintf(buf, n, "%s/.cache/fedsim/decoded", home);
    return w > 0 && (size_t)w < n;
}

bool fs_cache_entry_path(const fs_cache_key *k, char *buf, size_t n)
{
    char dir[CACHE_PATH_MAX];
    if (!cache_enabled() || !cache_dir(dir, sizeof dir)) return false;
    size_t cap = n < CACHE_PATH_MAX ? n : CACHE_PATH_MAX;
    int w = snprintf(buf, cap, "%s/%s-%016llx.bin", dir, k->kind, (unsigned long long)k->name_hash);
    return w > 0 && (size_t)w < cap;
}

/* ---- the checksum, fed in pieces of any length ---- */

typedef struct sum_state {
    uint64_t a[4], b[4], n;
    unsigned char pend[16];
    size_t fill;
} sum_state;

/* One 16-byte block into the lanes a and b (locals of the caller, not the state: stores
 * through s could alias the bytes being summed, so the compiler would write all eight lanes
 * back to memory after every block, which made the sum store-bound at ~4x memory time). */
static inline void sum_block_lanes(uint64_t a[4], uint64_t b[4], const unsigned char *p)
{
    for (int l = 0; l < 4; l++) {
        uint32_t w;
        memcpy(&w, p + 4 * l, 4);
        a[l] += w;
        b[l] += a[l];
    }
}

static void sum_block(sum_state *s, const unsigned char *p)
{
    sum_block_lanes(s->a, s->b, p);
}

/* The whole 16-byte blocks of p into lanes a and b, held in locals (see sum_block_lanes). */
static void sum_run(uint64_t a_io[4], uint64_t b_io[4], const unsigned char *p, size_t n_blocks)
{
    uint64_t a[4], b[4];
    memcpy(a, a_io, sizeof a);
    memcpy(b, b_io, sizeof b);
    for (size_t i = 0; i < n_blocks; i++) sum_block_lanes(a, b, p + 16 * i);
    memcpy(a_io, a, sizeof a);
    memcpy(b_io, b, sizeof b);
}

/* A run this long is summed in two halves at once, the second on a thread of its own: a cached
 * Fashion-MNIST (219 MB) is checked on every open, and one core reads ~13 GB/s of it. */
#define SUM_SPLIT_BLOCKS ((size_t)1 << 19) /* 8 MiB */

typedef struct sum_half {
    const unsigned char *p;
    size_t n_blocks;
    uint64_t a[4], b[4]; /* from zero */
} sum_half;

static void *sum_half_main(void *arg)
{
    sum_half *h = arg;
    sum_run(h->a, h->b, h->p, h->n_blocks);
    return NULL;
}

/* The sums are linear in the words, so the halves join exactly: after the first half's lanes
 * (a1, b1), the second's n2 blocks summed from zero (a2, b2) give a = a1 + a2 and
 * b = b1 + b2 + n2 a1 (every one of its n2 running sums also holds a1); mod 2^64 throughout. */
static void sum_blocks(sum_state *s, const unsigned char *p, size_t n_blocks)
{
    sum_half second = {.n_blocks = n_blocks / 2};
    size_t first = n_blocks - second.n_blocks;
    second.p = p + 16 * first;
    pthread_t t;
    if (n_blocks < SUM_SPLIT_BLOCKS || pthread_create(&t, NULL, sum_half_main, &second) != 0) {
        sum_run(s->a, s->b, p, n_blocks);
        return;
    }
    sum_run(s->a, s->b, p, first);
    pthread_join(t, NULL);
    for (int l = 0; l < 4; l++) {
        s->b[l] += second.b[l] + (uint64_t)second.n_blocks * s->a[l];
        s->a[l] += second.a[l];
    }
}

static void sum_feed(sum_state *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->n += len;
    if (s->fill) {
        size_t take = len < 16 - s->fill ? len : 16 - s->fill;
        memcpy(s->pend + s->fill, p, take);
        s->fill += take, p += take, len -= take;
        if (s->fill < 16) return;
        sum_block(s, s->pend);
        s->fill = 0;
    }
    sum_blocks(s, p, len / 16);
    p += len / 16 * 16, len %= 16;
    memcpy(s->pend, p, len);
    s->fill = len;
}

static uint64_t sum_final(sum_state *s)
{
    if (s->fill) {
        memset(s->pend + s->fill, 0, 16 - s->fill);
        sum_block(s, s->pend);
    }
    uint64_t h = s->n;
    for (int l = 0; l < 4; l++)
        h = (h ^ s->a[l]) * 0x9e3779b97f4a7c15ull ^ s->b[l];
    return h;
}

static uint64_t payload_offset(size_t key_len)
{
    uint64_t end = sizeof(entry_head) + key_len;
    return (end + CACHE_ALIGN - 1) / CACHE_ALIGN * CACHE_ALIGN;
}

/* ---- reading ---- */

static bool entry_valid(const unsigned char *base, size_t size, const fs_cache_key *k,
                        uint64_t *out_digest)
{
    entry_head h;
    if (size < sizeof h + k->len) return false;
    memcpy(&h, base, sizeof h);
    if (memcmp(h.magic, CACHE_MAGIC, sizeof h.magic) || h.key_len != k->len ||
        memcmp(base + sizeof h, k->text, k->len) || h.payload_off != payload_offset(k->len) ||
        h.payload_off > size || h.payload_len != size - h.payload_off)
        return false;
    sum_state s = {0};
    sum_feed(&s, base + h.payload_off, h.payload_len);
    *out_digest = h.checksum;
    return sum_final(&s) == h.checksum;
}

uint64_t fs_cache_digest(const fs_cache_part *parts, size_t n_parts)
{
    sum_state s = {0};
    for (size_t i = 0; i < n_parts; i++) sum_feed(&s, parts[i].data, parts[i].len);
    return sum_final(&s);
}

bool fs_cache_open(const fs_cache_key *k, fs_cache_map *m)
{
    char path[CACHE_PATH_MAX];
    memset(m, 0, sizeof *m);
    if (!k->ok || !fs_cache_entry_path(k, path, sizeof path)) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO there must not block */
    if (fd < 0) return false;
    struct stat st;
    void *base = MAP_FAILED;
    /* a file shorter than its head is never mapped: reading past its end would be SIGBUS */
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= sizeof(entry_head))
        base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return false;
    size_t size = (size_t)st.st_size;
    madvise(base, size, MADV_WILLNEED); /* read ahead: the checksum reads it all */
    uint64_t digest = 0;
    if (!entry_valid(base, size, k, &digest)) {
        munmap(base, size);
        return false;
    }
    uint64_t off = payload_offset(k->len);
    *m = (fs_cache_map){base, size, (unsigned char *)base + off, size - off, digest};
    return true;
}

void fs_cache_unmap(fs_cache_map *m)
{
    if (m->base) munmap(m->base, m->size);
    memset(m, 0, sizeof *m);
}

/* ---- writing ---- */

static bool write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w, len -= (size_t)w;
    }
    return true;
}

/* The payload after a zeroed head, then the head with the payload's length and checksum. */
static bool write_entry(int fd, const fs_cache_key *k, const fs_cache_part *parts, size_t n_parts)
{
    static const unsigned char zeros[CACHE_ALIGN];
    entry_head h = {.key_len = k->len, .payload_off = payload_offset(k->len)};
    size_t pad = h.payload_off - sizeof h - k->len;
    if (!write_all(fd, &h, sizeof h) || !write_all(fd, k->text, k->len) ||
        !write_all(fd, zeros, pad))
        return false;
    sum_state s = {0};
    for (size_t i = 0; i < n_parts; i++) {
        if (!write_all(fd, parts[i].data, parts[i].len)) return false;
        sum_feed(&s, parts[i].data, parts[i].len);
        h.payload_len += parts[i].len;
    }
    memcpy(h.magic, CACHE_MAGIC, sizeof h.magic);
    h.checksum = sum_final(&s);
    return pwrite(fd, &h, sizeof h, 0) == (ssize_t)sizeof h;
}

static bool sources_settled(const fs_cache_key *k)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    return k->newest_mtime_ns <= now_ns - (int64_t)FS_CACHE_SETTLE_S * 1000000000;
}

bool fs_cache_store(const fs_cache_key *k, const fs_cache_part *parts, size_t n_parts)
{
    char path[CACHE_PATH_MAX], tmp[CACHE_PATH_MAX + 8];
    if (!k->ok || !sources_settled(k) || !fs_cache_entry_path(k, path, sizeof path)) return false;
    if (fs_files_make_parent_dirs(path)) return false;
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return false;
    bool ok = write_entry(fd, k, parts, n_parts);
    ok = !close(fd) && ok && !rename(tmp, path);
    if (!ok) unlink(tmp);
    return ok;
}
