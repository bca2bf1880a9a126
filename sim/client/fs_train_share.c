/* fs_train_share: the trained jobs' outcomes from their owner ranks to every rank (see the
 * header): per owner one broadcast of heads, then one of updates, after the ranks agree that
 * each can hold them. */
#include "fs_train_share.h"

#include <stdint.h>
#include <stdlib.h>

#include "fs_mpi.h"

/* What a job's training produced besides its buffers: the same bytes on every rank. */
typedef struct share_head {
    int64_t rc, rejected, steps, sparse, nnz;
    double mean_loss, update_norm, loss_at_global, bytes_up;
} share_head;

/* The update (dense, or sparse indices and values), the personal parameters, the control
 * delta and the residual. */
#define MAX_BUFFERS_PER_JOB 5

static int owner_of(const fs_train_job *job)
{
    return (int)(job->client % (uint32_t)fs_mpi_size());
}

void fs_train_share_split(fs_train_job *jobs, size_t n_jobs)
{
    for (size_t i = 0; i < n_jobs; i++) {
        jobs[i].elsewhere = jobs[i].train && owner_of(&jobs[i]) != fs_mpi_rank();
        if (jobs[i].elsewhere) jobs[i].train = false;
    }
}

static share_head head_of(const fs_train_job *job)
{
    const fs_update *u = job->update;
    return (share_head){.rc = job->rc,
                        .rejected = job->rejected,
                        .steps = (int64_t)job->result.steps,
                        .sparse = u->sparse,
                        .nnz = (int64_t)u->nnz,
                        .mean_loss = job->result.mean_loss,
                        .update_norm = job->update_norm,
                        .loss_at_global = job->loss_at_global,
                        .bytes_up = job->bytes_up};
}

static void take_head(fs_train_job *job, const share_head *h)
{
    job->rc = (int)h->rc, job->rejected = h->rejected, job->result.steps = (size_t)h->steps;
    job->result.mean_loss = h->mean_loss, job->update_norm = h->update_norm;
    job->loss_at_global = h->loss_at_global, job->bytes_up = h->bytes_up;
    if (job->rc) return; /* every rank reports the owner's failure; no update follows */
    job->update->sparse = h->sparse;
    job->update->nnz = (size_t)h->nnz;
}

/* The buffers of a job's outcome, in a fixed order, at v; their count (none for a failure). */
static size_t job_buffers(const fs_train_job *job, size_t n_params, size_t n_personal,
                          fs_mpi_iov *v)
{
    if (job->rc) return 0;
    fs_update *u = job->update;
    size_t k = 0;
    if (u->sparse) {
        v[k++] = (fs_mpi_iov){u->idx, u->nnz * sizeof *u->idx};
        v[k++] = (fs_mpi_iov){u->val, u->nnz * sizeof *u->val};
    } else {
        fs_assert(u->dense);
        v[k++] = (fs_mpi_iov){u->dense, n_params * sizeof *u->dense};
    }
    if (n_personal) v[k++] = (fs_mpi_iov){u->personal, n_personal * sizeof *u->personal};
    if (job->ctrl_delta)
        v[k++] = (fs_mpi_iov){job->ctrl_delta, n_params * sizeof *job->ctrl_delta};
    if (job->residual) v[k++] = (fs_mpi_iov){job->residual, n_params * sizeof *job->residual};
    return k;
}

/* Whether any rank lacked memory, decided by all of them together. */
static int agree(bool short_here, const char *doing, int round, fs_err *err)
{
    int worst = fs_mpi_max_int(short_here ? fs_mpi_rank() + 1 : 0);
    if (!worst) return FS_OK;
    fs_err_add(err, NULL, "out of memory on MPI rank %d while %s round %d", worst - 1, doing,
               round);
    return FS_ENOMEM;
}

/* Owner by owner, the heads of its jobs in job order, into the other ranks' jobs. */
static int share_heads(fs_train_job *jobs, size_t n_jobs, share_head *heads, fs_err *err)
{
    int me = fs_mpi_rank(), rc = FS_OK;
    for (int r = 0; r < fs_mpi_size() && !rc; r++) {
        size_t k = 0;
        for (size_t i = 0; i < n_jobs; i++)
            if (jobs[i].train && owner_of(&jobs[i]) == r) {
                if (r == me) heads[k] = head_of(&jobs[i]);
                k++;
            }
        if (!k || (rc = fs_mpi_bcast(heads, k * sizeof *heads, r, err))) continue;
        k = 0;
        for (size_t i = 0; i < n_jobs && r != me; i++)
            if (jobs[i].train && owner_of(&jobs[i]) == r) take_head(&jobs[i], &heads[k++]);
    }
    return rc;
}

/* Room for every update this rank receives: FS_OK, or FS_ENOMEM (a sparse update grows). */
static bool reserve_received(fs_train_job *jobs, size_t n_jobs)
{
    bool short_of = false;
    for (size_t i = 0; i < n_jobs; i++) {
        fs_update *u = jobs[i].update;
        if (jobs[i].train && owner_of(&jobs[i]) != fs_mpi_rank() && !jobs[i].rc && u->sparse)
            short_of |= fs_update_reserve(u, u->nnz) != FS_OK;
    }
    return short_of;
}

static int share_updates(fs_train_job *jobs, size_t n_jobs, size_t n_params, size_t n_personal,
                         fs_mpi_iov *v, fs_err *err)
{
    int rc = FS_OK;
    for (int r = 0; r < fs_mpi_size() && !rc; r++) {
        size_t k = 0;
        for (size_t i = 0; i < n_jobs; i++)
            if (jobs[i].train && owner_of(&jobs[i]) == r)
                k += job_buffers(&jobs[i], n_params, n_personal, v + k);
        rc = fs_mpi_bcast_iov(v, k, r, err);
    }
    return rc;
}

int fs_train_share(fs_train_job *jobs, size_t n_jobs, size_t n_params, size_t n_personal,
                   bool oom, int round, fs_err *err)
{
    size_t n_shared = 0;
    for (size_t i = 0; i < n_jobs; i++) {
        if (jobs[i].elsewhere) jobs[i].train = true, jobs[i].elsewhere = false;
        n_shared += jobs[i].train;
    }
    size_t room = n_shared ? n_shared : 1;
    share_head *heads = malloc(room * sizeof *heads);
    fs_mpi_iov *v = malloc(room * MAX_BUFFERS_PER_JOB * sizeof *v);
    int rc = agree(oom || !heads || !v, "training", round, err);
    if (!rc) rc = share_heads(jobs, n_jobs, heads, err);
    if (!rc) rc = agree(reserve_received(jobs, n_jobs), "receiving the updates of", round, err);
    if (!rc) rc = share_updates(jobs, n_jobs, n_params, n_personal, v, err);
    free(heads);
    free(v);
    return rc;
}
