/* fs_model_kinds: the table of model kinds, one descriptor per model.kind word (the list is
 * FS_MODEL_KINDS in fs_scn.h). Everything fedsim needs to know about a kind beyond its own
 * model file lives in its row: what data it trains on (the scenario rules derive their checks
 * from it), how many parameters it will have (the memory estimate), whether it trains sparse
 * updates or keeps private parameters, and its constructor (the world). Adding a model is a
 * models/fs_<name>.c file, a word in FS_MODEL_KINDS and a row here. */
#ifndef FS_MODEL_KINDS_H
#define FS_MODEL_KINDS_H

#include "fs_model.h"
#include "fs_scn.h"

enum fs_model_rows { FS_ROWS_ANY, FS_ROWS_DENSE };                   /* rows the kind accepts */
/* the labels a model kind predicts */
enum fs_model_labels { FS_LABELS_ANY, FS_LABELS_CLASSES, FS_LABELS_BINARY };

typedef struct fs_model_desc {
    const char *name; /* the model.kind word */
    enum fs_model_rows rows;
    const char *dense_hint; /* appended to "<name> needs dense features" */
    enum fs_model_labels task;
    /* Optional: why the kind cannot train on data of shape d beyond rows and task (checked
     * between the two), or NULL. */
    const char *(*misfit)(const fs_scenario *s, const fs_scn_shape *d);
    /* Optional: checks needing more than the shape (a plugin's file), adding messages to err
     * naming the key at fault. FS_OK or an error code. */
    int (*check)(const fs_scenario *s, const fs_scn_shape *d, fs_err *err);
    bool sparse_updates; /* trains sparse updates on sparse rows (train_sparse) */
    bool recommender;    /* ranks items per client (hit rate) given per-client test rows */
    /* Parameters on data of d features and k classes (k >= 1; 1 for regression); 0: unknown. */
    double (*params)(const fs_scenario *s, double d, double k);
    /* Optional: private parameters per client (personal vectors). */
    double (*personal)(const fs_scenario *s);
    const char *size_key; /* the key that sets its size, named when it does not fit in memory */
    /* The model for training data ds and minibatches up to max_batch: FS_OK with *out, FS_ENOMEM,
     * or another code with messages in err. */
    int (*make)(const fs_scenario *s, const fs_dataset *ds, size_t max_batch, fs_model **out,
                fs_err *err);
} fs_model_desc;

/* The row of s's model.kind. */
const fs_model_desc *fs_model_kind_of(const fs_scenario *s);

/* Whether the scenario's model trains sparse updates on data of this sparsity (1, 0 or
 * FS_SCN_UNKNOWN). */
bool fs_model_kind_sparse_updates(const fs_scenario *s, int sparse);

/* The group column naming each row's client, where personal parameters (mf) find their owner:
 * the natural partition's group, else "user" (the generators'). */
const char *fs_model_user_group(const fs_scenario *s);

#endif
