/* fs_mpi: the one module that calls MPI. Everything else asks it for the rank, the job's size
 * and point-to-point byte messages, and never sees an #ifdef: built without MPI (meson -Dmpi),
 * every call is the one-rank answer (rank 0 of 1; sends are bugs). MPI starts only under a
 * launcher (mpirun, srun: its environment says so), so a plain `fedsim run` pays nothing and
 * forks no singleton daemon. Calls come from the main thread only (MPI_THREAD_FUNNELED). */
#ifndef FS_MPI_H
#define FS_MPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

/* True when this fedsim was built with MPI. */
bool fs_mpi_built(void);

/* Starts MPI when a launcher started this process, then checks that the job MPI sees is the
 * job the launcher started: an MPI build started by another MPI's mpirun (Open MPI's fedsim
 * under MPICH's mpiexec), or a build without MPI under any mpirun, would silently be N one-rank
 * jobs writing N databases. That is refused (FS_ESCENARIO, the message names the variable
 * seen). Safe to call once; fs_mpi_finalize ends it. */
int fs_mpi_init(int *argc, char ***argv, fs_err *err);
void fs_mpi_finalize(void);

/* Processes started from here on (a sweep's `fedsim run` children) are not ranks: their
 * fs_mpi_init does nothing, whatever launcher variables they inherit. */
void fs_mpi_mark_children(void);

/* The MPI library built in ("Open MPI 4.1.4", "MPICH 4.0"), or "none". */
const char *fs_mpi_library(void);

/* True between fs_mpi_init and fs_mpi_finalize when a launcher started this process (a job of
 * one rank included: mpirun -n 1). */
bool fs_mpi_started(void);
int fs_mpi_rank(void); /* 0 without MPI */
int fs_mpi_size(void); /* 1 without MPI */
/* Ranks of this job on this machine (they share its cores); 1 without MPI. */
int fs_mpi_local_size(void);
/* Ranks of this machine whose CPU affinity mask is this rank's, this one included: each one's
 * share of those CPUs is the mask over this number (1 for a rank mpirun bound to its own core,
 * fs_mpi_local_size() for unbound ranks); 1 without MPI. */
int fs_mpi_local_sharing(void);

/* Ends every rank of the job (MPI_Abort), or exit(code) without MPI. */
_Noreturn void fs_mpi_abort(int code);

/* Blocking byte messages to / from one rank, any length (sent in pieces MPI's int counts can
 * hold). Messages between two ranks with one tag arrive in the order they were sent. FS_OK or
 * FS_EIO (the MPI error named in err). */
int fs_mpi_send(int dest, int tag, const void *buf, size_t n, fs_err *err);
int fs_mpi_recv(int src, int tag, void *buf, size_t n, fs_err *err);

/* Collectives, called by every rank in the same order: root's n bytes into every rank's buf (in
 * pieces, as fs_mpi_send); the largest v of all ranks. One rank: nothing to do, v. */
int fs_mpi_bcast(void *buf, size_t n, int root, fs_err *err);
int fs_mpi_max_int(int v);

/* One buffer of a gathered broadcast: n bytes at p. */
typedef struct fs_mpi_iov {
    void *p;
    size_t n;
} fs_mpi_iov;

/* Collective: root's bytes at each v[i].p into every rank's v[i].p, the lengths the same on
 * every rank. Many buffers go in one broadcast (an MPI datatype over them, no copy here), up to
 * 64 MiB or FS_MPI_IOV_GROUP buffers a broadcast: a broadcast each of thousands of small
 * updates costs a latency each. FS_OK or FS_EIO. */
#define FS_MPI_IOV_GROUP 256
int fs_mpi_bcast_iov(const fs_mpi_iov *v, size_t n, int root, fs_err *err);

/* Payload bytes this rank has originated: sent, or broadcast as the root (each broadcast counted
 * once, however the library relays it). For the traffic figures of a run across ranks. */
uint64_t fs_mpi_bytes_out(void);

/* Whether a message from any rank is waiting (never blocks): its source and tag. */
bool fs_mpi_poll(int *out_src, int *out_tag);

/* A file's bytes as one length message and then its content; recv_file writes them to path
 * (created or truncated). A missing file is sent as length -1 and received as no file. */
int fs_mpi_send_file(int dest, int tag, const char *path, fs_err *err);
int fs_mpi_recv_file(int src, int tag, const char *path, bool *out_present, fs_err *err);

#endif
