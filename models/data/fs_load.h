/* fs_load: loaders of real datasets in common text formats into fs_dataset: CSV (header row,
 * label column, chosen feature and group columns, categorical features one-hot, hashed, or
 * one-hot indices stored sparse) and LIBSVM/SVMlight (sparse). Every error names the file, the
 * line (and column name) and what was expected and found, and returns FS_EIO (unreadable or
 * malformed) or FS_ESCENARIO (options that do not match the file, e.g. a label column that does
 * not exist). */
#ifndef FS_LOAD_H
#define FS_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_data.h"
#include "fs_err.h"

/* Documented input bounds, checked while reading and before anything is sized by the data, so a
 * small hostile file can never demand gigabytes:
 *  - FS_LOAD_MAX_LINE: bytes of one line (a CSV record spanning quoted line breaks counts whole);
 *  - FS_LOAD_MAX_COLUMNS: fields of a CSV line (the header included);
 *  - FS_LOAD_MAX_FEATURES: the feature space d (a LIBSVM index, a CSV one-hot layout); a model
 *    holds 8 bytes per feature per copy, so 2^26 features is 512 MiB a copy. Beyond it the error
 *    gives the estimate and the remedy (hash or renumber the features) and is FS_ESCENARIO.
 * Values with |x| > FS_LOAD_LARGE_VALUE are loaded but counted, and the loader prints one warning
 * per column (file, column, rows) on stderr: such magnitudes usually mean unscaled or corrupt
 * data and dominate an average of client updates. NaN, Inf and text beyond float range are
 * errors naming file and line. */
#define FS_LOAD_MAX_LINE (16u << 20)
#define FS_LOAD_MAX_COLUMNS 65536
#define FS_LOAD_MAX_FEATURES ((size_t)1 << 26)
#define FS_LOAD_LARGE_VALUE 1e6

/* ONEHOT: dense, K features for K distinct values. HASH: sparse, values hashed into
 * hash_buckets (distinct values may share one). INDEX: sparse, the exact ONEHOT layout and d with
 * one stored entry per categorical column, for id columns with thousands of values. */
enum fs_cat_encoding { FS_CAT_ONEHOT, FS_CAT_HASH, FS_CAT_INDEX };

typedef struct fs_csv_opts {
    const char *label;                 /* label column (required) */
    const char *const *features;       /* feature columns; NULL = every column that is not the
                                          label or a group */
    size_t n_features;
    const char *const *groups;         /* group columns: kept as fs_group levels, not features */
    size_t n_groups;
    const char *const *categorical;    /* feature columns holding categories (strings) */
    size_t n_categorical;
    enum fs_cat_encoding encoding;     /* how categorical columns become features */
    size_t hash_buckets;               /* FS_CAT_HASH: buckets shared by all categorical columns */
    const char *positive;              /* binary: label text of class 1 (others are class 0);
                                          NULL: classes are the distinct label texts, sorted
                                          (numerically when all are numbers) */
    bool regression;                   /* label is a numeric target (n_classes = 0) */
    char delimiter;                    /* ',' when 0 */
    size_t max_rows;                   /* 0 = all */
} fs_csv_opts;

/* Dense output when every feature is numeric or one-hot; sparse (CSR) output with FS_CAT_HASH or
 * FS_CAT_INDEX (numeric zeros are not stored).
 * Quoted fields ("a,b", "" escapes) are supported; empty numeric fields are an error naming the
 * line and column. */
int fs_data_load_csv(const char *path, const fs_csv_opts *opts, fs_dataset *out, fs_err *err);

/* LIBSVM/SVMlight: "label idx:val idx:val ..." per line, '#' comments. Labels -1/+1 or 0/1 give a
 * binary task (class 1 = +1/1); other integer labels become classes in sorted order. Indices are
 * 1-based unless zero_based. n_features 0 = largest index seen. Sparse output. */
int fs_data_load_libsvm(const char *path, size_t n_features, bool zero_based, fs_dataset *out,
                        fs_err *err);

#endif
