/* fs_data: the in-memory dataset every source fills and every model reads: float features,
 * dense or sparse (CSR), or compact pixels (uint8, scaled when read: x8), integer labels or
 * regression targets, and group columns (region, user, ...) with their level names; row
 * subsets, the expansion of pixels to floats, the train/test split and standardization; and two
 * sources, the Fashion-MNIST IDX loader and the FedProx Synthetic(alpha, beta) generator (the
 * other sources are fs_load.h and fs_gen.h). A dataset owns its arrays (allocated, or mapped
 * from a cache entry: see map); rows are addressed by uint32 index, so 4e9 samples at most. */
#ifndef FS_DATA_H
#define FS_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

#define FS_DATA_MAX_GROUPS 8
#define FS_DATA_NAME_LEN 32   /* group (column) names and generators' fixed level tables */
#define FS_DATA_LEVEL_MAX 255 /* bytes of a level name (a CSV group value), NUL excluded */

/* A group column: an integer level per row (region, device type, user id, ...), used for natural
 * partitions and per-segment metrics. Level names are stored whole (never cut), in one block:
 * the n_levels pointers followed by the text they point into. */
typedef struct fs_group {
    char name[FS_DATA_NAME_LEN];
    uint32_t *level;          /* n entries in 0 .. n_levels-1 */
    size_t n_levels;
    char **level_names;       /* n_levels names, or NULL: levels print as numbers */
    size_t level_names_size;  /* bytes of the block level_names heads */
} fs_group;

/* Rows are dense (x), compact dense (x8) or sparse CSR (ptr/idx/val), one of the three.
 * Classification datasets carry labels y in 0 .. n_classes-1 (binary tasks have n_classes = 2);
 * regression datasets (ratings) have n_classes = 0 and carry target instead. Compact rows are
 * an image loader's pixels, a quarter of the floats' memory: a model reads them through
 * fs_dataset_row_f32 (feature = fs_pixel(p)) and says so (fs_model_ops.reads_u8); any other
 * reader is given fs_dataset_expand's floats, the same values. */
typedef struct fs_dataset {
    size_t n;         /* rows */
    size_t d;         /* features per row (dense width, or sparse feature-space size) */
    int n_classes;    /* labels are 0 .. n_classes-1; 0 for regression */
    float *x;         /* n * d, row-major; NULL when sparse or compact */
    uint8_t *x8;      /* compact: n * d pixels, row-major, feature fs_pixel(p); else NULL */
    size_t *ptr;      /* sparse: n + 1 offsets into idx/val; NULL when dense */
    uint32_t *idx;    /* sparse: feature indices, ascending within a row */
    float *val;       /* sparse: feature values */
    int32_t *y;       /* n labels; NULL for regression */
    float *target;    /* n regression targets; NULL for classification */
    size_t n_groups;
    fs_group groups[FS_DATA_MAX_GROUPS];
    /* When set, x8 and y point into this private writable file mapping (a cache entry, see
     * fs_data_load_idx): fs_dataset_fini unmaps it instead of freeing them. Writes stay in the
     * process. No other array lives in a mapping (x, after fs_dataset_expand, is allocated). */
    void *map;
    size_t map_size;
    /* A fingerprint of the rows as the source gave them, when the loader has one for free (the
     * IDX loader: its cache entry's checksum, the same whether mapped or decoded), else 0.
     * What the rows became afterwards (feature skew) is the scenario's, not the source's. */
    uint64_t digest;
} fs_dataset;

/* Allocates n*d features and n labels (zeroed). FS_ENOMEM on failure (dataset left empty). */
int fs_dataset_alloc(fs_dataset *ds, size_t n, size_t d, int n_classes);

/* Allocates a sparse dataset of n rows with room for nnz non-zeros (ptr zeroed: every row empty
 * until filled), labels when n_classes > 0, targets when n_classes == 0. */
int fs_dataset_alloc_sparse(fs_dataset *ds, size_t n, size_t d, size_t nnz, int n_classes);

/* Adds a group column with n_levels levels (levels zeroed, no names: set them with
 * fs_group_set_names). Returns its index in *out_index. FS_ESCENARIO when FS_DATA_MAX_GROUPS are
 * already there or the name exists, FS_ENOMEM. */
int fs_dataset_add_group(fs_dataset *ds, const char *name, size_t n_levels, size_t *out_index);

/* Copies names[0 .. g->n_levels) as g's level names (replacing any). FS_ESCENARIO when a name is
 * longer than FS_DATA_LEVEL_MAX bytes (callers check first, to name the file and line),
 * FS_ENOMEM. */
int fs_group_set_names(fs_group *g, const char *const *names);
/* The same from a generator's fixed table of g->n_levels names. */
int fs_group_set_names_fixed(fs_group *g, const char (*names)[FS_DATA_NAME_LEN]);
/* dst's level names become a copy of src's (none when src has none); n_levels must match. */
int fs_group_copy_names(fs_group *dst, const fs_group *src);

/* Index of the group column called name, or -1. */
int fs_dataset_find_group(const fs_dataset *ds, const char *name);

/* A new dataset holding copies of rows[0..n) of src (features, labels or targets, group columns
 * with their level names), in that order. Compact rows are copied as floats (fs_pixel), so the
 * copy's x can be written (an attacker's trigger). FS_ENOMEM. */
int fs_dataset_take(const fs_dataset *src, const uint32_t *rows, size_t n, fs_dataset *out);

/* Splits src's rows at random into a test set of round(test_fraction * n) rows and a training
 * set of the rest (each keeping src's row order), from stream (seed, PARTITION, -, 1). */
int fs_dataset_split(const fs_dataset *src, double test_fraction, uint64_t seed,
                     fs_dataset *out_train, fs_dataset *out_test);

/* Standardizes features with statistics of train alone (so nothing of the test rows leaks into
 * training): per feature j, the mean m_j and the population standard deviation s_j
 * (sqrt(sum (x - m_j)^2 / n), n = train rows) over train's rows, accumulated in double in row
 * order. Dense rows of train and test (test may be NULL) become (x - m_j) / s_j, or x - m_j
 * when s_j = 0 (a constant feature is left centred). Sparse rows are scaled only, x / s_j with
 * m_j and s_j counting absent entries as 0 (centring would store every feature of every row);
 * s_j = 0 leaves the feature as it is. A test value whose result passes float range becomes
 * +-FLT_MAX. FS_ENOMEM (nothing changed). */
int fs_dataset_standardize(fs_dataset *train, fs_dataset *test);

static inline bool fs_dataset_is_sparse(const fs_dataset *ds)
{
    return ds->ptr != NULL;
}

/* The feature of pixel p: an IEEE division, correctly rounded, so the float is the same whoever
 * computes it (a table of the 256 values, a vector divide); p * (1 / 255.0f) is not. */
static inline float fs_pixel(uint8_t p)
{
    return (float)p / 255.0f;
}

/* out[0 .. len) := fs_pixel(p[0 .. len)), bit for bit: an exact FMA form of the division in
 * 16-lane vectors on AVX-512 CPUs, in 8-lane vectors on AVX2 ones, the division elsewhere. */
void fs_pixels_f32(const uint8_t *p, size_t len, float *out);

/* For tests: fs_pixels_use(path) makes fs_pixels_f32 take that path, false (nothing changed) if
 * this CPU lacks it; FS_PIXELS_BEST goes back to the fastest the CPU has. */
typedef enum { FS_PIXELS_BEST, FS_PIXELS_DIV, FS_PIXELS_FMA8, FS_PIXELS_FMA16 } fs_pixels_path;
bool fs_pixels_use(fs_pixels_path path);

/* out[0 .. d) := the features of dense row r, from x or converted from x8. */
void fs_dataset_row_f32(const fs_dataset *ds, size_t r, float *out);

/* Compact rows become float rows (x allocated, x8 released: freed, or left to the mapping that
 * still holds y), for readers of x. No-op on float or sparse rows, and so idempotent.
 * FS_ENOMEM (nothing changed). */
int fs_dataset_expand(fs_dataset *ds);

/* Frees the arrays (unmaps a mapping); safe on a zeroed or finished dataset. */
void fs_dataset_fini(fs_dataset *ds);

/* Client partition of a dataset: client c owns rows[offset[c] .. offset[c+1]). */
typedef struct fs_partition {
    size_t n_clients;
    size_t *offset;   /* n_clients + 1 */
    uint32_t *rows;   /* offset[n_clients] entries */
} fs_partition;

void fs_partition_fini(fs_partition *p);
static inline size_t fs_partition_size(const fs_partition *p, size_t client)
{
    return p->offset[client + 1] - p->offset[client];
}

/* Reads an IDX image file (magic 0x00000803, uint8 pixels) and its label file (0x00000801),
 * gzip-compressed or plain, into `out` as compact rows (x8: features fs_pixel(p), in [0, 1]).
 * `max_rows` > 0 keeps only the first max_rows samples. Errors (missing file, bad magic, count
 * mismatch, truncation) name the file and return FS_EIO. The decoded rows are kept in the
 * fs_cache folder (keyed by both files' paths, sizes and modification times and max_rows) and
 * later loads map that entry instead of decoding: the same pixels and labels, bit for bit. */
int fs_data_load_idx_u8(const char *images_path, const char *labels_path, size_t max_rows,
                        fs_dataset *out, fs_err *err);
/* The same, expanded to float rows (fs_dataset_expand); y stays in the mapping of a hit. */
int fs_data_load_idx(const char *images_path, const char *labels_path, size_t max_rows,
                     fs_dataset *out, fs_err *err);

/* FedProx Synthetic(alpha, beta) (Li et al. 2020, MLSys; Shamir et al. 2014): 60 features,
 * 10 classes. For client k: u_k ~ N(0, alpha), B_k ~ N(0, beta); W_k[i][j] ~ N(u_k, 1),
 * b_k[i] ~ N(u_k, 1); v_k[j] ~ N(B_k, 1); x ~ N(v_k, Sigma) with Sigma diagonal,
 * Sigma_jj = j^-1.2 (j = 1..60); y = argmax softmax(W_k x + b_k). Sample count per client:
 * floor(lognormal(4, 2)) + 50, capped at max_per_client (0: no cap). The first
 * round(train_fraction * n_k) samples of client k are its training data, the rest its test data.
 * Client k's data depend only on (seed, k). */
typedef struct fs_synth_cfg {
    double alpha, beta;
    size_t n_clients;
    size_t max_per_client;
    double train_fraction; /* FedProx uses 0.9 */
    uint64_t seed;
} fs_synth_cfg;

int fs_data_synthetic(const fs_synth_cfg *cfg, fs_dataset *out_train, fs_partition *out_train_part,
                      fs_dataset *out_test, fs_partition *out_test_part, fs_err *err);

/* Partitioners of a pooled dataset over n_clients. Both give every client at least one row when
 * ds->n >= n_clients, and are pure functions of (ds labels, n_clients, params, seed). */

/* IID: a uniform random permutation cut into n_clients near-equal slices. */
int fs_partition_iid(const fs_dataset *ds, size_t n_clients, uint64_t seed, fs_partition *out,
                     fs_err *err);

/* Dirichlet label skew, variant "q ~ Dir(alpha * p)" (Hsu et al. 2019): p is the dataset's class
 * prior; each client k draws class proportions q_k ~ Dir(alpha * p) and fills a quota of
 * near-equal size n / n_clients by sampling labels from q_k without replacement from the class
 * pools; when a class pool is exhausted, q_k is renormalised over the classes that remain. */
int fs_partition_dirichlet(const fs_dataset *ds, size_t n_clients, double alpha, uint64_t seed,
                           fs_partition *out, fs_err *err);

/* Pathological shards (McMahan et al. 2017): rows sorted by label (ties in a random order),
 * cut into n_clients * shards_per_client shards of near-equal size, and each client receives
 * shards_per_client shards drawn at random without replacement. */
int fs_partition_shards(const fs_dataset *ds, size_t n_clients, size_t shards_per_client,
                        uint64_t seed, fs_partition *out, fs_err *err);

/* Quantity skew: client k's share of the (shuffled) rows is proportional to a weight drawn
 * lognormal(0, param) or power law (Pareto, weight = U^(-1/param), param = tail exponent > 0),
 * with at least min_per_client rows each (largest-remainder rounding so sizes sum to n). */
enum fs_quantity_kind { FS_QUANTITY_LOGNORMAL, FS_QUANTITY_POWERLAW };
int fs_partition_quantity(const fs_dataset *ds, size_t n_clients, enum fs_quantity_kind kind,
                          double param, size_t min_per_client, uint64_t seed, fs_partition *out,
                          fs_err *err);

/* Natural: one client per level of group column `group` (client c = level c), rows in dataset
 * order. Levels without rows give empty clients; FS_ESCENARIO if every client would be empty. */
int fs_partition_natural(const fs_dataset *ds, size_t group, fs_partition *out, fs_err *err);

/* Feature skew, applied in place to a dense dataset: client k's rows become a_k * x + b_k with
 * a_k ~ lognormal(0, scale_sigma) and b_k[j] ~ N(0, shift_sigma^2) per feature, from stream
 * (seed, PARTITION, k). Compact rows are expanded first. FS_ESCENARIO on sparse data. */
int fs_partition_feature_skew(fs_dataset *ds, const fs_partition *p, double scale_sigma,
                              double shift_sigma, uint64_t seed, fs_err *err);

#endif
