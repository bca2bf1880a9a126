/* fs_plugin: dlopen'd models (see fs_plugin.h and include/fedsim/fedsim_model.h). The fs_model
 * ops below translate fedsim's types into the plugin's plain-C view (fs_dataset -> fedsim_data,
 * gsl_rng -> fedsim_rng) on every call; nothing is copied but a few pointers. A non-finite
 * gradient is reported to the trainer as a non-finite loss, the one signal fs_sgd_train checks,
 * so a plugin's NaN never reaches the global model. */
#include "fs_plugin.h"

#include <dlfcn.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fedsim/fedsim_model.h"
#include "fs_rng.h"

struct fs_plugin {
    void *dl;
    const fedsim_model_ops *table;
    char path[512];
};

typedef struct plugin_impl {
    fs_plugin *plugin;
    void *self;
} plugin_impl;

/* ---- loading ------------------------------------------------------------------------------ */

static int refuse(fs_plugin *p, char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(fs_plugin *p, char *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, FS_PLUGIN_MSG_LEN, fmt, ap);
    va_end(ap);
    fs_plugin_close(p);
    return FS_ESCENARIO;
}

/* The table must name every function fedsim calls. */
static const char *missing_function(const fedsim_model_ops *t)
{
    return !t->create      ? "create"
           : !t->destroy   ? "destroy"
           : !t->init      ? "init"
           : !t->loss_grad ? "loss_grad"
           : !t->predict   ? "predict"
                           : NULL;
}

int fs_plugin_open(const char *path, fs_plugin **out, char msg[FS_PLUGIN_MSG_LEN])
{
    *out = NULL;
    fs_plugin *p = calloc(1, sizeof *p);
    if (!p) return snprintf(msg, FS_PLUGIN_MSG_LEN, "out of memory"), FS_ENOMEM;
    /* "x.so" means ./x.so: a scenario never loads whatever the library path holds */
    snprintf(p->path, sizeof p->path, "%s%s", strchr(path, '/') ? "" : "./", path);
    struct stat st;
    if (stat(p->path, &st) || !S_ISREG(st.st_mode))
        return refuse(p, msg, "expected a plugin file (a shared object), found no file \"%.300s\"",
                      path);
    dlerror();
    /* RTLD_LOCAL: the plugin's symbols stay its own; RTLD_NOW: a missing one fails here */
    if (!(p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL))) {
        const char *why = dlerror();
        return refuse(p, msg, "expected a shared object, found \"%.300s\" (%s)", path,
                      why ? why : "dlopen failed");
    }
    dlerror();
    p->table = dlsym(p->dl, FEDSIM_MODEL_SYMBOL);
    if (!p->table)
        return refuse(p, msg,
                      "expected \"%.300s\" to export the table " FEDSIM_MODEL_SYMBOL
                      " (see models/README.md), found no such symbol",
                      path);
    if (p->table->abi_version != FEDSIM_MODEL_ABI_VERSION)
        return refuse(p, msg, "expected a plugin of ABI version %d, found version %u in \"%.300s\"",
                      FEDSIM_MODEL_ABI_VERSION, p->table->abi_version, path);
    const char *fn = missing_function(p->table);
    if (fn)
        return refuse(p, msg, "expected a table with a %s function, found NULL in \"%.300s\"", fn,
                      path);
    if (!(p->table->flags & (FEDSIM_MODEL_DENSE | FEDSIM_MODEL_SPARSE)))
        return refuse(p, msg,
                      "expected flags FEDSIM_MODEL_DENSE and/or FEDSIM_MODEL_SPARSE, "
                      "found %u in \"%.300s\"",
                      p->table->flags, path);
    *out = p;
    return FS_OK;
}

void fs_plugin_close(fs_plugin *p)
{
    if (!p) return;
    if (p->dl) dlclose(p->dl);
    free(p);
}

bool fs_plugin_accepts(const fs_plugin *p, bool sparse)
{
    return p->table->flags & (sparse ? FEDSIM_MODEL_SPARSE : FEDSIM_MODEL_DENSE);
}

/* ---- the ops ------------------------------------------------------------------------------ */

static const fedsim_model_ops *table_of(const fs_model *m)
{
    return ((const plugin_impl *)m->impl)->plugin->table;
}

static const void *self_of(const fs_model *m)
{
    return ((const plugin_impl *)m->impl)->self;
}

static fedsim_data view_of(const fs_dataset *ds)
{
    fs_assert(!ds->x8); /* the ABI's rows are float: compact rows are expanded first */
    return (fedsim_data){.n_rows = ds->n,
                         .n_features = ds->d,
                         .n_classes = ds->n_classes,
                         .x = ds->x,
                         .ptr = ds->ptr,
                         .idx = ds->idx,
                         .val = ds->val,
                         .y = ds->y};
}

static double rng_uniform(void *r)
{
    return gsl_rng_uniform(r);
}

static double rng_gaussian(void *r, double sd)
{
    return gsl_ran_gaussian(r, sd);
}

static void pl_init(const fs_model *m, fs_real *w, gsl_rng *r)
{
    fedsim_rng rng = {.state = r, .uniform = rng_uniform, .gaussian = rng_gaussian};
    table_of(m)->init(self_of(m), w, &rng);
}

static bool all_finite(const fs_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static double pl_loss_grad(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                           const uint32_t *rows, size_t n, fs_real *grad, fs_model_scratch *s)
{
    fedsim_data d = view_of(ds);
    double loss = table_of(m)->loss_grad(self_of(m), w, &d, rows, n, grad, s->buf);
    return all_finite(grad, m->n_params) ? loss : NAN;
}

static void pl_predict(const fs_model *m, const fs_real *w, const fs_dataset *ds,
                       const uint32_t *rows, size_t n, double *out, fs_model_scratch *s)
{
    fedsim_data d = view_of(ds);
    table_of(m)->predict(self_of(m), w, &d, rows, n, out, s->buf);
}

static void pl_free(fs_model *m)
{
    plugin_impl *impl = m->impl;
    if (impl->self) impl->plugin->table->destroy(impl->self);
    fs_plugin_close(impl->plugin);
    free(impl);
    free(m);
}

static const fs_model_ops plugin_ops = {.name = "plugin",
                                        .init = pl_init,
                                        .loss_grad = pl_loss_grad,
                                        .predict = pl_predict,
                                        .free = pl_free};

/* ---- building and probing ----------------------------------------------------------------- */

/* Sizes fedsim will allocate on the plugin's word: bounded, so a wild value is an error rather
 * than an out-of-memory exit (2^31 parameters: 16 GiB a copy). */
#define FS_PLUGIN_MAX_PARAMS ((size_t)1 << 31)
#define FS_PLUGIN_MAX_SCRATCH ((size_t)1 << 31)

int fs_plugin_model_new(fs_plugin *p, size_t n_features, int n_classes, bool sparse,
                        size_t max_batch, const char *config, fs_model **out,
                        char msg[FS_PLUGIN_MSG_LEN])
{
    *out = NULL;
    fs_model *m = calloc(1, sizeof *m);
    plugin_impl *impl = calloc(1, sizeof *impl);
    if (!m || !impl) {
        free(m), free(impl);
        return refuse(p, msg, "out of memory"), FS_ENOMEM;
    }
    impl->plugin = p;
    *m = (fs_model){.ops = &plugin_ops,
                    .n_features = n_features,
                    .n_classes = n_classes,
                    .max_batch = max_batch,
                    .impl = impl};
    fedsim_model_shape shape = {.n_features = n_features,
                                .n_classes = n_classes,
                                .sparse = sparse,
                                .max_batch = max_batch,
                                .config = config && *config ? config : "{}"};
    fedsim_model_info info = {0};
    char why[FS_PLUGIN_MSG_LEN] = "";
    int rc = p->table->create(&shape, &impl->self, &info, why, sizeof why);
    why[sizeof why - 1] = '\0';
    if (rc) {
        impl->self = NULL;
        snprintf(msg, FS_PLUGIN_MSG_LEN, "the plugin \"%.150s\" refused the model: %.200s", p->path,
                 why[0] ? why : "no reason given");
    } else if (info.n_params < 1 || info.n_params > FS_PLUGIN_MAX_PARAMS ||
               info.scratch_floats > FS_PLUGIN_MAX_SCRATCH || !isfinite(info.flops_per_sample) ||
               info.flops_per_sample < 0) {
        snprintf(msg, FS_PLUGIN_MSG_LEN,
                 "expected n_params in [1, 2^31], scratch_floats <= 2^31 and finite "
                 "flops_per_sample >= 0 from \"%.200s\", found %zu, %zu and %g",
                 p->path, info.n_params, info.scratch_floats, info.flops_per_sample);
        rc = 1;
    }
    m->n_params = info.n_params;
    m->scratch_reals = info.scratch_floats;
    m->flops_per_sample = info.flops_per_sample;
    if (rc) {
        pl_free(m);
        return FS_ESCENARIO;
    }
    *out = m;
    return FS_OK;
}

static int probe_fail(char *msg, const fs_model *m, const char *what)
{
    snprintf(msg, FS_PLUGIN_MSG_LEN, "the plugin \"%.300s\" returned %s",
             ((const plugin_impl *)m->impl)->plugin->path, what);
    return FS_ENUMERIC;
}

static bool probabilities_ok(const double *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1)) return false;
    return true;
}

int fs_plugin_probe(const fs_model *m, const fs_dataset *ds, const uint32_t *rows, size_t n,
                    uint64_t seed, char msg[FS_PLUGIN_MSG_LEN])
{
    fs_assert(n >= 1 && n <= m->max_batch);
    fs_real *w = malloc(m->n_params * sizeof *w), *g = malloc(m->n_params * sizeof *g);
    double *probs = malloc(n * (size_t)m->n_classes * sizeof *probs);
    fs_model_scratch *s = fs_model_scratch_new(m);
    gsl_rng *r = fs_rng_new();
    int rc = FS_OK;
    if (!w || !g || !probs || !s || !r) {
        snprintf(msg, FS_PLUGIN_MSG_LEN, "out of memory");
        rc = FS_ENOMEM;
        goto done;
    }
    fs_rng_reseed(r, seed, FS_RNG_INIT, FS_RNG_NONE, FS_RNG_NONE);
    m->ops->init(m, w, r);
    if (!all_finite(w, m->n_params)) {
        rc = probe_fail(msg, m, "non-finite initial parameters (init)");
        goto done;
    }
    fedsim_data d = view_of(ds);
    double loss = table_of(m)->loss_grad(self_of(m), w, &d, rows, n, g, s->buf);
    if (!isfinite(loss) || !all_finite(g, m->n_params)) {
        rc = probe_fail(msg, m,
                        !isfinite(loss) ? "a non-finite loss (loss_grad)"
                                        : "a non-finite gradient (loss_grad)");
        goto done;
    }
    m->ops->predict(m, w, ds, rows, n, probs, s);
    if (!probabilities_ok(probs, n * (size_t)m->n_classes))
        rc = probe_fail(msg, m, "probabilities outside [0, 1] or not finite (predict)");
done:
    free(w), free(g), free(probs);
    fs_model_scratch_free(s);
    gsl_rng_free(r);
    return rc;
}
