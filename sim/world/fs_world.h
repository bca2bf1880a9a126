/* fs_world: the data side of a scenario. Loads or generates the dataset named by the scenario,
 * partitions it over the clients and builds the model, so the engine sees only "client c owns
 * these training rows" and "evaluate on this test set". Owns all data memory of a run. */
#ifndef FS_WORLD_H
#define FS_WORLD_H

#include <stdbool.h>

#include "fs_data.h"
#include "fs_model.h"
#include "fs_scn.h"

typedef struct fs_world {
    fs_dataset train, test;
    fs_partition train_part;  /* one slice of train rows per client */
    fs_partition test_part;   /* per-client test rows (synthetic); n_clients = 0 when none */
    size_t *n_train, *n_test; /* per-client sizes, n_test all 0 without per-client test data */
    fs_model *model;
    bool sparse_updates;      /* clients train and report sparse deltas (model's train_sparse) */
    /* data.on_demand: clients' data are generated when they train; train/train_part and
     * test/test_part then hold only the evaluation sample (the first eval.sample_clients) */
    struct fs_gen *gen;
    size_t model_clients;     /* clients in the population (data.clients) */
    uint32_t *nnz;            /* non-zeros of each client's training rows: on demand,
                                 FS_WORLD_NNZ_LATER until fs_world_need_nnz asked for them;
                                 pooled sparse rows, counted at start (or NULL) */
    int32_t *levels[FS_DATA_MAX_GROUPS]; /* on demand: each client's level of group column g
                                           * of the generator, for the columns the run needs
                                           * (privacy.consent.group, eval.segments), else NULL */
    fs_real *personal;        /* n_clients * model->n_personal private parameters, or NULL:
                                 what each device keeps to itself (e.g. a user's factors) */
} fs_world;

/* FS_EIO when a data file is missing or corrupt, FS_ESCENARIO when the data cannot be
 * partitioned as asked, FS_ENOMEM. On failure the world holds nothing. */
int fs_world_init(fs_world *w, const fs_scenario *s, fs_err *err);
void fs_world_fini(fs_world *w);

/* The configuration of a generated source's generator (data.marketing, data.fraud,
 * data.ratings; seed = population_seed), for the world and for tests that build generators:
 * every parameter and default comes from the scenario schema. */
struct fs_marketing_cfg;
struct fs_fraud_cfg;
struct fs_ratings_cfg;
void fs_world_marketing_cfg(const fs_scenario *s, struct fs_marketing_cfg *out);
void fs_world_fraud_cfg(const fs_scenario *s, struct fs_fraud_cfg *out);
void fs_world_ratings_cfg(const fs_scenario *s, struct fs_ratings_cfg *out);

/* The shape of the loaded data, for the scenario's rules (fs_scn_check_shape). */
void fs_world_shape(const fs_world *w, fs_scn_shape *out);

/* Bytes of a model (or of an update) on the wire: float32 per parameter. */
double fs_world_model_bytes(const fs_world *w);

/* The most training rows any client has. */
size_t fs_world_max_client_rows(const fs_world *w);

/* Client's training data: a borrowed slice of the world's dataset, or, on demand, freshly
 * generated into *scratch (a thread's, reused client after client: valid until its next use;
 * the caller releases it with fs_gen_scratch_fini). FS_ENOMEM. */
struct fs_gen_scratch;
int fs_world_client_data(const fs_world *w, size_t client, struct fs_gen_scratch *scratch,
                         const uint32_t *identity, const fs_dataset **out_ds,
                         const uint32_t **out_rows, size_t *out_n);

/* Forward FLOPs of one pass over client's training rows (the time model multiplies by 3 and by
 * the epochs). */
double fs_world_client_flops(const fs_world *w, size_t client);
/* Asks for the per-client sizes fs_world_client_flops reads (n_train, and nnz or else the
 * partition's offsets), ahead of that call. */
void fs_world_prefetch_client(const fs_world *w, size_t client);

/* On demand, the counting pass leaves out the non-zeros when the generator can give them apart
 * (its heads op): most clients never train. fs_world_client_flops needs them: the engine asks
 * for those of the clients it considers, before timing them. The same values in any order and
 * on any thread count (each is a function of the client alone). FS_ENOMEM. */
#define FS_WORLD_NNZ_LATER UINT32_MAX
int fs_world_need_nnz(fs_world *w, const uint32_t *ids, size_t n, fs_err *err);

/* Each client's level of group column `group` (that of its first training row; -1 for clients
 * without rows), in a new array the caller frees. NULL with FS_ESCENARIO in *out_rc when the
 * data have no such column (the message names scenario key `path`), FS_ENOMEM. On demand, only
 * the columns privacy.consent.group and eval.segments name are kept per client. */
int32_t *fs_world_client_levels_new(const fs_world *w, const char *group, const char *path,
                                    int *out_rc, fs_err *err);

#endif
