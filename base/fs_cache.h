/* fs_cache: files derived from slow-to-read sources (a decoded dataset), kept in the user's
 * cache folder ($XDG_CACHE_HOME/fedsim/decoded, else ~/.cache/fedsim/decoded) and mapped
 * instead of rebuilt.
 * An entry is named by a key: the text of everything it was built from (the kind and format
 * version, the sources' absolute paths, sizes and modification times in ns, parameters). The
 * entry holds that key whole and a checksum of its payload, and is used only when both match
 * and its size is exact, so a stale, truncated, corrupted or foreign file is a miss, to be
 * rebuilt. Entries are written to a temporary file in the same folder and renamed, so a reader
 * sees a whole entry or none. Every failure is silent (the cache only saves time, it never
 * causes an error); FEDSIM_CACHE=off disables reading and writing. */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_CACHE_KEY_MAX 8192
#define FS_CACHE_SETTLE_S 2

typedef struct fs_cache_key {
    char kind[16]; /* names the entry's file: <kind>-<name_hash>.bin */
    char text[FS_CACHE_KEY_MAX];
    size_t len;
    bool ok; /* false once a source cannot be stat'ed or the text overflows: no caching */
    int64_t newest_mtime_ns; /* of the sources added */
    uint64_t name_hash;      /* of the kind, paths and parameters: not of versions, sizes or
                                times, so a rebuilt entry replaces the stale one */
} fs_cache_key;

/* Starts a key for entries of one kind ("idx") at a format version; bump the version whenever
 * the payload layout or what produces it changes. */
void fs_cache_key_init(fs_cache_key *k, const char *kind, unsigned version);
/* Adds a source file: its absolute path, size and modification time (ns). */
void fs_cache_key_file(fs_cache_key *k, const char *path);
void fs_cache_key_u64(fs_cache_key *k, const char *name, uint64_t value);

/* A mapped entry: the whole file, private and writable (writes stay in this process and never
 * reach the file), payload page-aligned inside it. */
typedef struct fs_cache_map {
    void *base;
    size_t size;
    void *payload;
    size_t len;
    uint64_t digest; /* the payload's checksum, verified on open: fs_cache_digest of its parts */
} fs_cache_map;

/* Maps the entry of key. False (m zeroed) when the cache is off, the key is not ok, or there is
 * no valid entry. */
bool fs_cache_open(const fs_cache_key *k, fs_cache_map *m);
void fs_cache_unmap(fs_cache_map *m);

typedef struct fs_cache_part {
    const void *data;
    size_t len;
} fs_cache_part;

/* Stores the concatenated parts as the entry of key, replacing any. True when stored; false
 * when the cache is off, the key is not ok, the folder or file cannot be written, or a source
 * was modified less than FS_CACHE_SETTLE_S seconds ago (or in the future): a file rewritten
 * within one tick of the file system's clock keeps its modification time, so an entry made
 * from a young file could outlive a change that the key does not see. */
bool fs_cache_store(const fs_cache_key *k, const fs_cache_part *parts, size_t n_parts);

/* The checksum an entry stores for the concatenated parts (a 4-lane Fletcher sum, ~6 GB/s):
 * what fs_cache_map.digest holds after the entry is mapped, so a caller can fingerprint data it
 * decoded itself exactly as data it mapped. */
uint64_t fs_cache_digest(const fs_cache_part *parts, size_t n_parts);

/* The entry's file name for key into buf (for tests and diagnostics); false when the cache is
 * off or has no folder (neither XDG_CACHE_HOME nor HOME is set to an absolute path). */
bool fs_cache_entry_path(const fs_cache_key *k, char *buf, size_t n);

#endif
