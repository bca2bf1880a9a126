/* fs_data: in-memory datasets (dense float features, integer labels) and their sources:
 * the Fashion-MNIST IDX loader and the FedProx Synthetic(alpha, beta) generator.
 * A dataset owns its arrays; rows are addressed by uint32 index, so 4e9 samples at most. */
#ifndef FS_DATA_H
#define FS_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

typedef struct fs_dataset {
    size_t n;         /* rows */
    size_t d;         /* features per row */
    int n_classes;    /* labels are 0 .. n_classes-1 */
    float *x;         /* n * d, row-major */
    int32_t *y;       /* n */
} fs_dataset;

/* Allocates n*d features and n labels (zeroed). FS_ENOMEM on failure (dataset left empty). */
int fs_dataset_alloc(fs_dataset *ds, size_t n, size_t d, int n_classes);
void fs_dataset_fini(fs_dataset *ds); /* frees arrays; safe on a zeroed or finished dataset */

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
 * gzip-compressed or plain, into `out` with pixels scaled to [0, 1]. `max_rows` > 0 keeps only
 * the first max_rows samples. Errors (missing file, bad magic, count mismatch, truncation) name
 * the file and return FS_EIO. */
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

#endif
