/* fs_world: dataset loading/generation, partitioning and model construction per scenario. */
#include "fs_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest minibatch a model must accept: training batches and evaluation chunks. */
static size_t max_batch(const fs_scenario *s)
{
    return s->train.batch_size > 256 ? s->train.batch_size : 256;
}

static int load_fashion_mnist(fs_world *w, const fs_scenario *s, fs_err *err)
{
    char img[600], lab[600];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", s->data.path);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", s->data.path);
    int rc = fs_data_load_idx(img, lab, s->data.train_samples, &w->train, err);
    if (rc) return rc;
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", s->data.path);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", s->data.path);
    rc = fs_data_load_idx(img, lab, s->data.test_samples, &w->test, err);
    if (rc) return rc;
    if (w->train.n < s->data.clients) {
        fs_err_add(err, "data.clients", "expected at most %zu clients (one training image each), "
                   "found %zu", w->train.n, s->data.clients);
        return FS_ESCENARIO;
    }
    if (s->data.partition == FS_PART_DIRICHLET)
        return fs_partition_dirichlet(&w->train, s->data.clients, s->data.dirichlet_alpha, s->seed,
                                      &w->train_part, err);
    return fs_partition_iid(&w->train, s->data.clients, s->seed, &w->train_part, err);
}

static int load_synthetic(fs_world *w, const fs_scenario *s, fs_err *err)
{
    fs_synth_cfg cfg = {
        .alpha = s->data.synth_alpha,
        .beta = s->data.synth_beta,
        .n_clients = s->data.clients,
        .max_per_client = s->data.synth_max_per_client,
        .train_fraction = s->data.synth_train_fraction,
        .seed = s->seed,
    };
    return fs_data_synthetic(&cfg, &w->train, &w->train_part, &w->test, &w->test_part, err);
}

static int fill_sizes(fs_world *w, size_t n_clients, fs_err *err)
{
    w->n_train = calloc(n_clients, sizeof *w->n_train);
    w->n_test = calloc(n_clients, sizeof *w->n_test);
    if (!w->n_train || !w->n_test) {
        fs_err_add(err, NULL, "out of memory for %zu clients", n_clients);
        return FS_ENOMEM;
    }
    for (size_t c = 0; c < n_clients; c++) {
        w->n_train[c] = fs_partition_size(&w->train_part, c);
        if (w->test_part.n_clients) w->n_test[c] = fs_partition_size(&w->test_part, c);
    }
    return FS_OK;
}

int fs_world_init(fs_world *w, const fs_scenario *s, fs_err *err)
{
    memset(w, 0, sizeof *w);
    int rc = s->data.source == FS_SRC_SYNTHETIC ? load_synthetic(w, s, err)
                                                 : load_fashion_mnist(w, s, err);
    if (rc) goto fail;
    rc = fill_sizes(w, s->data.clients, err);
    if (rc) goto fail;
    w->model = fs_softmax_new(w->train.d, w->train.n_classes, max_batch(s));
    if (!w->model) {
        rc = FS_ENOMEM;
        fs_err_add(err, NULL, "out of memory creating the model");
        goto fail;
    }
    return FS_OK;
fail:
    fs_world_fini(w);
    return rc;
}

void fs_world_fini(fs_world *w)
{
    fs_dataset_fini(&w->train);
    fs_dataset_fini(&w->test);
    fs_partition_fini(&w->train_part);
    fs_partition_fini(&w->test_part);
    free(w->n_train);
    free(w->n_test);
    fs_model_free(w->model);
    memset(w, 0, sizeof *w);
}

double fs_world_model_bytes(const fs_world *w)
{
    return 4.0 * (double)w->model->n_params;
}
