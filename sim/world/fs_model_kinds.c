/* fs_model_kinds: one row per model kind (see fs_model_kinds.h). The parameter counts follow
 * the layouts in models/fs_*.c; the rules' messages name the kind by its word. */
#include "fs_model_kinds.h"

#include <stdlib.h>
#include <string.h>

#include "fs_plugin.h"

#define KNOWN(x) ((x) != FS_SCN_UNKNOWN)
#define PLUGIN_KEY "model.plugin.path"

/* Models whose constructor fails only for want of memory. */
#define MADE(expr) ((*out = (expr)) ? FS_OK : FS_ENOMEM)

/* ---- softmax, logreg ---- */

static double softmax_params(const fs_scenario *s, double d, double k)
{
    return k * d + k;
}

static int softmax_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                        fs_err *err)
{
    return MADE(fs_softmax_new(ds->d, ds->n_classes, mb));
}

static double logreg_params(const fs_scenario *s, double d, double k)
{
    return d + 1;
}

static int logreg_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                       fs_err *err)
{
    return MADE(fs_logreg_new(ds->d, s->model.l2, mb));
}

/* ---- mlp ---- */

static const char *mlp_misfit(const fs_scenario *s, const fs_scn_shape *d)
{
    /* k < 2 is the task rule's to report */
    bool multiclass = KNOWN(d->n_classes) && d->n_classes > 2;
    return s->model.sigmoid_output && multiclass ? "sigmoid_output needs 2 classes" : NULL;
}

static double mlp_params(const fs_scenario *s, double d, double k)
{
    double p = 0, in = d;
    for (size_t i = 0; i < s->model.n_hidden; i++) {
        p += in * s->model.hidden[i] + s->model.hidden[i];
        in = s->model.hidden[i];
    }
    return p + in * k + k;
}

static int mlp_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                    fs_err *err)
{
    size_t hidden[FS_SCN_MAX_LAYERS];
    for (size_t i = 0; i < s->model.n_hidden; i++)
        hidden[i] = (size_t)s->model.hidden[i];
    return MADE(
        fs_mlp_new(ds->d, hidden, s->model.n_hidden, ds->n_classes, s->model.sigmoid_output, mb));
}

/* ---- cnn ---- */

static const char *cnn_misfit(const fs_scenario *s, const fs_scn_shape *d)
{
    size_t px = s->model.height * s->model.width * s->model.channels;
    if (d->sparse == 1 || (d->n_features && px != d->n_features) || s->model.height % 4 ||
        s->model.width % 4)
        return "cnn needs dense images of model.height x width x channels (multiples of 4) "
               "features";
    return NULL;
}

/* 5x5 convolutions of 32 and 64 channels, 512 hidden units */
static double cnn_params(const fs_scenario *s, double d, double k)
{
    double h = (double)s->model.height, w = (double)s->model.width;
    double c = (double)s->model.channels;
    return 32 * 25 * c + 32 + 64 * 25 * 32 + 64 + (h / 4) * (w / 4) * 64 * 512 + 512 + 512 * k + k;
}

static int cnn_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                    fs_err *err)
{
    return MADE(fs_cnn_new(s->model.height, s->model.width, s->model.channels, ds->n_classes, mb));
}

/* ---- mf ---- */

const char *fs_model_user_group(const fs_scenario *s)
{
    return s->data.partition == FS_PART_NATURAL && s->data.source >= FS_SRC_CSV
               ? s->data.natural_group
               : "user";
}

static bool has_group(const fs_scn_shape *d, const char *name)
{
    for (size_t i = 0; i < d->n_groups; i++)
        if (!strcmp(d->groups[i], name)) return true;
    return false;
}

static const char *mf_misfit(const fs_scenario *s, const fs_scn_shape *d)
{
    if (d->sparse == 0 || (KNOWN(d->n_classes) && d->n_classes != 0) ||
        (d->groups_known && !has_group(d, fs_model_user_group(s))))
        return "mf needs ratings: sparse item rows, a rating target and a user group "
               "(\"user\", or the natural partition's group)";
    return NULL;
}

static double mf_params(const fs_scenario *s, double d, double k)
{
    return d * ((double)s->model.factors + 1) + 1;
}

static double mf_personal(const fs_scenario *s)
{
    return (double)s->model.factors + 1; /* p_u and b_u */
}

static int mf_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                   fs_err *err)
{
    return MADE(fs_mf_new(ds->d, s->model.factors, s->model.l2, mb));
}

/* ---- plugin: a shared object (fs_plugin) ---- */

static int plugin_open(const fs_scenario *s, int sparse, fs_plugin **out, fs_err *err)
{
    char msg[FS_PLUGIN_MSG_LEN];
    int rc = fs_plugin_open(s->model.plugin_path, out, msg);
    if (rc) return fs_scn_bad_key(s, err, PLUGIN_KEY, "%s", msg), rc;
    if (!KNOWN(sparse) || fs_plugin_accepts(*out, sparse == 1)) return FS_OK;
    fs_plugin_close(*out);
    *out = NULL;
    return fs_scn_bad_key(s, err, PLUGIN_KEY,
                          "expected a plugin that accepts %s rows (FEDSIM_MODEL_%s), found "
                          "\"%s\" without that flag",
                          sparse ? "sparse" : "dense", sparse ? "SPARSE" : "DENSE",
                          s->model.plugin_path);
}

/* `fedsim validate` loads the plugin: a missing file, another ABI or rows it refuses are caught
 * before training. */
static int plugin_check(const fs_scenario *s, const fs_scn_shape *d, fs_err *err)
{
    fs_plugin *p;
    int rc = plugin_open(s, d->sparse, &p, err);
    fs_plugin_close(p);
    return rc;
}

/* Unknown until the plugin has seen the data: the memory estimate leaves the model out. */
static double plugin_params(const fs_scenario *s, double d, double k)
{
    return 0;
}

/* The probe's rows: a float copy of the first n (compact rows are expanded only after the
 * model is made, and a plugin reads floats). */
static int probe_rows(const fs_model *m, const fs_dataset *ds, size_t n, uint64_t seed,
                      char msg[FS_PLUGIN_MSG_LEN])
{
    uint32_t *rows = malloc(n * sizeof *rows);
    fs_dataset first = {0};
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = (uint32_t)i;
    int rc = rows ? fs_dataset_take(ds, rows, n, &first) : FS_ENOMEM;
    if (!rc) rc = fs_plugin_probe(m, &first, rows, n, seed, msg);
    fs_dataset_fini(&first);
    free(rows);
    return rc;
}

/* Built, then run once on the first training rows (fs_plugin_probe), so a plugin returning NaN
 * fails here, before any output exists, naming its file. */
static int plugin_make(const fs_scenario *s, const fs_dataset *ds, size_t mb, fs_model **out,
                       fs_err *err)
{
    fs_plugin *p;
    bool sparse = fs_dataset_is_sparse(ds);
    int rc = plugin_open(s, sparse, &p, err);
    if (rc) return rc;
    char msg[FS_PLUGIN_MSG_LEN];
    rc = fs_plugin_model_new(p, ds->d, ds->n_classes, sparse, mb, s->model.plugin_config, out, msg);
    size_t n = ds->n < mb ? ds->n : mb;
    if (!rc && n) {
        rc = probe_rows(*out, ds, n, s->seed, msg);
        if (rc) fs_model_free(*out), *out = NULL;
    }
    if (rc == FS_ENOMEM) return rc;
    return rc ? fs_scn_bad_key(s, err, PLUGIN_KEY, "%s", msg) : FS_OK;
}

/* ---- the table ---- */

static const fs_model_desc kinds[FS_MODEL_N_KINDS] = {
    [FS_MODEL_SOFTMAX] = {.name = "softmax",
                          .rows = FS_ROWS_DENSE,
                          .dense_hint = " (use logreg for sparse data)",
                          .task = FS_LABELS_CLASSES,
                          .params = softmax_params,
                          .make = softmax_make},
    [FS_MODEL_MLP] = {.name = "mlp",
                      .rows = FS_ROWS_DENSE,
                      .task = FS_LABELS_CLASSES,
                      .misfit = mlp_misfit,
                      .params = mlp_params,
                      .size_key = "model.hidden",
                      .make = mlp_make},
    [FS_MODEL_CNN] = {.name = "cnn",
                      .task = FS_LABELS_CLASSES,
                      .misfit = cnn_misfit,
                      .params = cnn_params,
                      .make = cnn_make},
    [FS_MODEL_LOGREG] = {.name = "logreg",
                         .task = FS_LABELS_BINARY,
                         .sparse_updates = true,
                         .params = logreg_params,
                         .make = logreg_make},
    [FS_MODEL_MF] = {.name = "mf",
                     .misfit = mf_misfit,
                     .sparse_updates = true,
                     .recommender = true,
                     .params = mf_params,
                     .personal = mf_personal,
                     .size_key = "model.factors",
                     .make = mf_make},
    [FS_MODEL_PLUGIN] = {.name = "plugin",
                         .task = FS_LABELS_CLASSES,
                         .check = plugin_check,
                         .params = plugin_params,
                         .make = plugin_make},
};

const fs_model_desc *fs_model_kind_of(const fs_scenario *s)
{
    fs_assert((unsigned)s->model.kind < FS_MODEL_N_KINDS);
    return &kinds[s->model.kind];
}

bool fs_model_kind_sparse_updates(const fs_scenario *s, int sparse)
{
    return sparse == 1 && fs_model_kind_of(s)->sparse_updates;
}
