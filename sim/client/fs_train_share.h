/* fs_train_share: one run across MPI ranks. Every rank runs the whole engine (same selection,
 * same streams, keyed by client and round, never by rank), but trains only the clients it owns
 * (client id mod ranks); then every job's outcome goes from its owner to every rank, in job
 * order. Each rank then holds exactly the updates a one-process run computes, and aggregates
 * them in client order itself: the sum, dense or sparse, is the one-process sum bit for bit,
 * whatever the number of ranks (no floating-point reduction across ranks at all).
 *
 * Why whole batches: a CTR round trains thousands of clients of a few hundred bytes each, and a
 * broadcast costs a latency whatever its size (1 us between two ranks of one machine, several
 * across a network). A broadcast per field of each job made 2 ranks slower than one process; an
 * owner's outcomes now go in one broadcast of their fixed-size heads, and their updates in one
 * more (fs_mpi_bcast_iov), for the whole batch.
 *
 * Why agree first: a rank that cannot hold what it is about to receive must not leave the
 * others waiting in a broadcast it never joins (a hang). Every rank sizes and allocates
 * everything first, and one reduction tells all of them whether any could not, before any
 * update moves. */
#ifndef FS_TRAIN_SHARE_H
#define FS_TRAIN_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_err.h"
#include "fs_train_job.h"

/* Before training: the jobs another rank owns get train = false and elsewhere = true. */
void fs_train_share_split(fs_train_job *jobs, size_t n_jobs);

/* After training: every rank's jobs (train restored) hold their owner's outcome, of a model of
 * n_params parameters and n_personal personal ones. `oom`: this
 * rank ran out of memory outside any job (its training threads' generators). FS_ENOMEM on every
 * rank when any rank lacked memory (named in err), FS_EIO on an MPI failure, else FS_OK (job
 * failures travel in the jobs' rc). */
int fs_train_share(fs_train_job *jobs, size_t n_jobs, size_t n_params, size_t n_personal,
                   bool oom, int round, fs_err *err);

#endif
