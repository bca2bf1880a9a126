/* fs_train: OpenMP-parallel local training, FedAvg and chunked evaluation. */
#include "fs_train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_rng.h"

#define EVAL_CHUNK 256

static size_t largest_client(const fs_world *w)
{
    size_t best = 0;
    for (size_t c = 0; c < w->train_part.n_clients; c++) {
        size_t n = fs_partition_size(&w->train_part, c);
        if (n > best) best = n;
    }
    return best;
}

int fs_trainer_init(fs_trainer *t, const fs_world *w, const fs_scenario *s, int n_threads,
                    fs_err *err)
{
    memset(t, 0, sizeof *t);
    t->world = w;
    t->scn = s;
    t->n_threads = n_threads > 0 ? n_threads : 1;
    t->scratch = calloc((size_t)t->n_threads, sizeof *t->scratch);
    t->eval_rows = malloc((w->test.n ? w->test.n : 1) * sizeof *t->eval_rows);
    if (!t->scratch || !t->eval_rows) goto nomem;
    size_t rows = largest_client(w);
    for (int i = 0; i < t->n_threads; i++) {
        fs_thread_scratch *ts = &t->scratch[i];
        ts->model = fs_model_scratch_new(w->model);
        ts->grad = malloc(w->model->n_params * sizeof *ts->grad);
        ts->order = malloc((rows ? rows : 1) * sizeof *ts->order);
        if (!ts->model || !ts->grad || !ts->order) goto nomem;
    }
    for (size_t i = 0; i < w->test.n; i++) t->eval_rows[i] = (uint32_t)i;
    return FS_OK;
nomem:
    fs_trainer_fini(t);
    fs_err_add(err, NULL, "out of memory for training buffers (%d threads)", n_threads);
    return FS_ENOMEM;
}

void fs_trainer_fini(fs_trainer *t)
{
    for (int i = 0; t->scratch && i < t->n_threads; i++) {
        fs_model_scratch_free(t->scratch[i].model);
        free(t->scratch[i].grad);
        free(t->scratch[i].order);
    }
    free(t->scratch);
    free(t->eval_rows);
    memset(t, 0, sizeof *t);
}

static double distance(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

static void train_one(fs_trainer *t, const double *w_global, fs_train_job *job, int round,
                      gsl_rng *r, fs_thread_scratch *ts)
{
    const fs_world *w = t->world;
    const fs_model *m = w->model;
    fs_sgd_cfg cfg = {.epochs = t->scn->train.epochs,
                      .batch_size = t->scn->train.batch_size,
                      .lr = t->scn->train.lr};
    const fs_partition *p = &w->train_part;
    fs_rng_reseed(r, t->scn->seed, FS_RNG_TRAIN, job->client, (uint64_t)round);
    memcpy(job->w_local, w_global, m->n_params * sizeof *w_global);
    job->rc = fs_sgd_train(m, job->w_local, &w->train, p->rows + p->offset[job->client],
                           fs_partition_size(p, job->client), &cfg, r, ts->order, ts->grad,
                           ts->model, &job->result);
    job->update_norm = distance(job->w_local, w_global, m->n_params);
}

int fs_trainer_run(fs_trainer *t, const double *w_global, fs_train_job *jobs, size_t n_jobs,
                   int round, fs_err *err)
{
    int oom = 0;
#pragma omp parallel num_threads(t->n_threads)
    {
        gsl_rng *r = fs_rng_new();
        fs_thread_scratch *ts = &t->scratch[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (size_t i = 0; i < n_jobs; i++) {
            if (!jobs[i].train) continue;
            if (!r) {
                jobs[i].rc = FS_ENOMEM;
                continue;
            }
            train_one(t, w_global, &jobs[i], round, r, ts);
        }
        if (!r) {
#pragma omp atomic write
            oom = 1;
        }
        gsl_rng_free(r);
    }
    for (size_t i = 0; i < n_jobs; i++) {
        if (!jobs[i].train || jobs[i].rc == FS_OK) continue;
        if (oom || jobs[i].rc == FS_ENOMEM) {
            fs_err_add(err, NULL, "out of memory while training round %d", round);
            return FS_ENOMEM;
        }
        fs_err_add(err, NULL, "round %d: client %u: local training diverged (loss is not "
                   "finite); lower train.lr", round, jobs[i].client);
        return jobs[i].rc;
    }
    return FS_OK;
}

void fs_fedavg(const double *const *w_locals, const double *n_samples, size_t n_models,
               size_t n_params, double *out_w)
{
    double total = 0;
    for (size_t k = 0; k < n_models; k++) total += n_samples[k];
    for (size_t j = 0; j < n_params; j++) out_w[j] = 0;
    for (size_t k = 0; k < n_models; k++) {
        double share = n_samples[k] / total;
        const double *wk = w_locals[k];
        for (size_t j = 0; j < n_params; j++) out_w[j] += share * wk[j];
    }
}

int fs_trainer_evaluate(fs_trainer *t, const double *w, fs_eval_result *out, fs_err *err)
{
    const fs_world *wd = t->world;
    size_t n = wd->test.n, n_chunks = (n + EVAL_CHUNK - 1) / EVAL_CHUNK;
    fs_eval_result *parts = calloc(n_chunks ? n_chunks : 1, sizeof *parts);
    if (!parts) {
        fs_err_add(err, NULL, "out of memory evaluating the model");
        return FS_ENOMEM;
    }
#pragma omp parallel for num_threads(t->n_threads) schedule(static)
    for (size_t c = 0; c < n_chunks; c++) {
        size_t start = c * EVAL_CHUNK, len = n - start < EVAL_CHUNK ? n - start : EVAL_CHUNK;
        fs_model_evaluate(wd->model, w, &wd->test, t->eval_rows + start, len,
                          t->scratch[omp_get_thread_num()].model, &parts[c]);
    }
    double loss = 0, correct = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        loss += parts[c].loss * (double)parts[c].n;
        correct += parts[c].accuracy * (double)parts[c].n;
    }
    free(parts);
    *out = (fs_eval_result){.loss = n ? loss / (double)n : NAN,
                            .accuracy = n ? correct / (double)n : NAN,
                            .n = n};
    return FS_OK;
}
