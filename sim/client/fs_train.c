/* fs_train: OpenMP-parallel local training of the dispatched clients. */
#include "fs_train.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_attack.h"
#include "fs_compress.h"
#include "fs_dp.h"
#include "fs_mpi.h"
#include "fs_rng.h"
#include "fs_train_share.h"

int fs_trainer_init(fs_trainer *t, const fs_world *w, const fs_scenario *s, int n_threads,
                    fs_err *err)
{
    memset(t, 0, sizeof *t);
    t->world = w;
    t->scn = s;
    t->algo = fs_algo_of(s);
    t->n_threads = n_threads > 0 ? n_threads : 1;
    t->global_norm = NAN;
    t->scratch = calloc((size_t)t->n_threads, sizeof *t->scratch);
    if (!t->scratch) goto nomem;
    size_t rows = fs_world_max_client_rows(w);
    /* on demand, a client's rows are its own dataset's 0 .. n-1, and so are an attacker's */
    bool target = fs_attack_has_backdoor(s) && s->eval.n_segments;
    t->bd_level =
        target ? fs_attack_level_index(&w->train, s->eval.segments[0], s->adversary.bd_segment)
               : -1;
    bool own_rows = w->gen || fs_attack_alters_rows(s);
    if (own_rows && !(t->identity = malloc((rows ? rows : 1) * sizeof *t->identity))) goto nomem;
    for (size_t i = 0; own_rows && i < rows; i++) t->identity[i] = (uint32_t)i;
    for (int i = 0; i < t->n_threads; i++) {
        fs_thread_scratch *ts = &t->scratch[i];
        ts->model = fs_model_scratch_new(w->model);
        ts->grad = malloc(w->model->n_params * sizeof *ts->grad);
        ts->w_local = w->sparse_updates ? NULL : malloc(w->model->n_params * sizeof *ts->w_local);
        ts->order = malloc((rows ? rows : 1) * sizeof *ts->order);
        bool cv = t->algo->control_variate;
        if (cv) ts->algo = malloc(w->model->n_params * sizeof *ts->algo);
        if (!ts->model || !ts->grad || !ts->order || (!w->sparse_updates && !ts->w_local) ||
            (cv && !ts->algo))
            goto nomem;
    }
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
        free(t->scratch[i].w_local);
        free(t->scratch[i].algo);
        free(t->scratch[i].order);
        fs_gen_scratch_fini(&t->scratch[i].data);
    }
    free(t->scratch);
    free(t->identity);
    memset(t, 0, sizeof *t);
}

/* What the algorithm's client hooks see of this job. */
static fs_algo_client algo_client(const fs_trainer *t, const fs_train_job *job,
                                  const fs_real *w_global, fs_thread_scratch *ts)
{
    return (fs_algo_client){
        .scn = t->scn,
        .n_params = t->world->model->n_params,
        .w_global = w_global,
        .control = t->control,
        .client_control = t->algo->control_variate ? t->client_control->vec[job->client] : NULL,
        .scratch = ts->algo};
}

static int train_dense(fs_trainer *t, const fs_real *w_global, fs_train_job *job,
                       const fs_dataset *ds, const uint32_t *rows, size_t n, gsl_rng *r,
                       fs_thread_scratch *ts)
{
    const fs_world *w = t->world;
    const fs_model *m = w->model;
    fs_update *u = job->update;
    /* the slot may hold last round's top-k / random-k output, which is sparse */
    u->sparse = false;
    u->nnz = 0;
    fs_algo_client ac = algo_client(t, job, w_global, ts);
    fs_sgd_cfg cfg = {.epochs = t->scn->train.epochs, .batch_size = t->scn->train.batch_size,
                      .lr = t->scn->train.lr, .max_steps = job->max_steps};
    if (t->algo->configure) t->algo->configure(&ac, &cfg);
    memcpy(ts->w_local, w_global, m->n_params * sizeof *w_global);
    int rc = fs_sgd_train(m, ts->w_local, ds, rows, n, &cfg, r, ts->order, ts->grad, ts->model,
                          &job->result);
    for (size_t j = 0; j < m->n_params; j++) u->dense[j] = ts->w_local[j] - w_global[j];
    job->update_norm = fs_vec_norm(u->dense, m->n_params);
    if (!rc && t->algo->finish) t->algo->finish(&ac, u, job->result.steps, job->ctrl_delta);
    return rc;
}

static fs_compress_cfg compress_cfg(const fs_scenario *s)
{
    return (fs_compress_cfg){.kind = s->train.compression,
                             .fraction = s->train.compress_fraction,
                             .bits = s->train.compress_bits,
                             .error_feedback = s->train.error_feedback};
}

/* What leaves the device: clipped for DP, then compressed (with the client's error feedback). */
static int finish_update(fs_trainer *t, fs_train_job *job, int round, gsl_rng *r)
{
    const fs_scenario *s = t->scn;
    fs_update *u = job->update;
    if (s->privacy.dp) fs_dp_clip(u, s->privacy.clip);
    if (s->train.compression == FS_COMP_NONE) {
        job->bytes_up = fs_update_bytes(u);
        return FS_OK;
    }
    fs_compress_cfg cc = compress_cfg(s);
    fs_rng_reseed(r, s->seed, FS_RNG_COMPRESS, job->client, (uint64_t)round);
    return fs_compress_apply(&cc, u, job->residual, r, &job->bytes_up);
}

/* A poisoned update is still uploaded (the server learns it is bad on arrival), at the size its
 * encoding would have had, but it changes nothing on the device: its control variates, the error
 * feedback residual (never touched: compression did not run) and personal parameters stay. */
static void reject_update(fs_trainer *t, fs_train_job *job)
{
    const fs_scenario *s = t->scn;
    const fs_world *w = t->world;
    fs_update *u = job->update;
    job->rejected = true;
    fs_compress_cfg cc = compress_cfg(s);
    job->bytes_up = s->train.compression == FS_COMP_NONE
                        ? fs_update_bytes(u)
                        : fs_compress_bytes(&cc, u->sparse ? u->nnz : u->n_params, !u->sparse);
    if (job->ctrl_delta) memset(job->ctrl_delta, 0, w->model->n_params * sizeof *job->ctrl_delta);
    size_t k = w->model->n_personal;
    if (k) memcpy(u->personal, w->personal + job->client * k, k * sizeof *u->personal);
}

static void train_client(fs_trainer *t, const fs_real *w_global, fs_train_job *job, int round,
                         gsl_rng *r, fs_thread_scratch *ts, const fs_dataset *ds,
                         const uint32_t *rows, size_t n)
{
    const fs_world *w = t->world;
    const fs_model *m = w->model;
    fs_update *u = job->update;
    if (t->algo->loss_at_global) {
        fs_eval_result at_global;
        fs_model_evaluate(m, w_global, ds, rows, n, ts->model, &at_global);
        job->loss_at_global = at_global.loss;
    }
    fs_rng_reseed(r, t->scn->seed, FS_RNG_TRAIN, job->client, (uint64_t)round);
    if (m->n_personal)
        memcpy(u->personal, w->personal + job->client * m->n_personal,
               m->n_personal * sizeof *u->personal);
    if (w->sparse_updates) {
        job->rc = m->ops->train_sparse(m, w_global, ds, rows, n, &(fs_sgd_cfg){
            .epochs = t->scn->train.epochs, .batch_size = t->scn->train.batch_size,
            .lr = t->scn->train.lr}, r, ts->model, u, &job->result);
        job->update_norm = fs_vec_norm(u->val, u->nnz);
    } else {
        job->rc = train_dense(t, w_global, job, ds, rows, n, r, ts);
    }
    if (!job->rc && job->attack) {
        fs_rng_reseed(r, t->scn->seed, FS_RNG_ATTACK, job->client, (uint64_t)round);
        fs_attack_update(t->scn, u, job->update_norm, r);
        job->update_norm = fs_update_norm(u);
    }
    /* FS_ENUMERIC is a non-finite local loss; a NaN or Inf coordinate makes the norm non-finite,
     * and so do finite ones whose squares overflow */
    double bound = FS_TRAIN_MAX_UPDATE_RATIO * fmax(1.0, t->global_norm);
    if (job->rc == FS_ENUMERIC || (!job->rc && !(job->update_norm <= bound))) {
        job->rc = FS_OK;
        reject_update(t, job);
        return;
    }
    if (!job->rc) job->rc = finish_update(t, job, round, r);
}

/* The client's rows: a slice of the world's data, or (on demand) generated just now into the
 * thread's reused buffers; an attacker that alters its rows trains on its own copy (a malloc per
 * attacking participation, not per client: attackers are few, and fs_dataset_take already
 * copies every kind of row and group). */
static void train_one(fs_trainer *t, const fs_real *w_global, fs_train_job *job, int round,
                      gsl_rng *r, fs_thread_scratch *ts)
{
    const fs_dataset *ds;
    const uint32_t *rows;
    size_t n;
    job->rc = fs_world_client_data(t->world, job->client, &ts->data, t->identity, &ds, &rows, &n);
    if (job->rc) return;
    if (!job->attack || !fs_attack_alters_rows(t->scn)) {
        train_client(t, w_global, job, round, r, ts, ds, rows, n);
        return;
    }
    fs_dataset own = {0};
    if ((job->rc = fs_attack_rows(t->scn, ds, rows, n, t->bd_level, &own))) return;
    train_client(t, w_global, job, round, r, ts, &own, t->identity, n);
    fs_dataset_fini(&own);
}

static int job_failure(const fs_train_job *jobs, size_t n_jobs, bool oom, int round, fs_err *err);
static bool train_all(fs_trainer *t, const fs_real *w_global, fs_train_job *jobs, size_t n_jobs,
                      int round);

/* Across MPI ranks each rank trains the clients it owns, then the outcomes are shared
 * (fs_train_share.h): a failure, shared with them, is every rank's. */
int fs_trainer_run(fs_trainer *t, const fs_real *w_global, fs_train_job *jobs, size_t n_jobs,
                   int round, fs_err *err)
{
    bool across = fs_mpi_size() > 1 && n_jobs;
    if (across) fs_train_share_split(jobs, n_jobs);
    bool oom = train_all(t, w_global, jobs, n_jobs, round);
    if (across) {
        const fs_model *m = t->world->model;
        int rc = fs_train_share(jobs, n_jobs, m->n_params, m->n_personal, oom, round, err);
        if (rc) return rc;
    }
    return job_failure(jobs, n_jobs, oom, round, err);
}

/* The first failed job's error (jobs trained elsewhere report their owner's), or FS_OK. */
static int job_failure(const fs_train_job *jobs, size_t n_jobs, bool oom, int round, fs_err *err)
{
    for (size_t i = 0; i < n_jobs; i++) {
        if (!jobs[i].train || jobs[i].rc == FS_OK) continue;
        if (oom || jobs[i].rc == FS_ENOMEM) {
            fs_err_add(err, NULL, "out of memory while training round %d", round);
            return FS_ENOMEM;
        }
        fs_err_add(err, NULL, "round %d: client %u: %s", round, jobs[i].client,
                   fs_strerror(jobs[i].rc));
        return jobs[i].rc;
    }
    return FS_OK;
}

/* Trains the jobs with train = true; true when a thread had no memory for its generator (its
 * jobs fail FS_ENOMEM). */
static bool train_all(fs_trainer *t, const fs_real *w_global, fs_train_job *jobs, size_t n_jobs,
                      int round)
{
    int oom = 0;
    if (isnan(t->global_norm)) t->global_norm = fs_vec_norm(w_global, t->world->model->n_params);
    for (size_t i = 0; i < n_jobs; i++)
        jobs[i].rejected = false;
    /* no more threads than jobs: FedBuff launches one client at a time, and an idle OpenMP
     * thread spins between launches (31.5 s of CPU for 2.1 s of work, measured) */
    int threads = n_jobs < (size_t)t->n_threads ? (int)(n_jobs ? n_jobs : 1) : t->n_threads;
    for (size_t i = 0; i < n_jobs; i++)
        t->trained_here += jobs[i].train;
#pragma omp parallel num_threads(threads)
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
    return oom;
}

double fs_update_bytes(const fs_update *u)
{
    return u->sparse ? 8.0 * (double)u->nnz : 4.0 * (double)u->n_params;
}
