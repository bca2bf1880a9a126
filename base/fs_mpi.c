/* fs_mpi: MPI start-up, the launcher check and byte messages, or their one-rank stand-ins.
 * The only file with #ifdef FS_HAVE_MPI. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "fs_mpi.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_crc32.h"

#ifdef FS_HAVE_MPI
#include <mpi.h>
#endif

/* What launchers put in the environment of the processes they start: the job's size. Open
 * MPI's mpirun, MPICH's (Hydra) mpiexec, Slurm's srun. SLURM_STEP_NUM_TASKS, not
 * SLURM_NTASKS: a batch script's own shell has the allocation's SLURM_NTASKS, and a fedsim
 * started there directly is a legitimate one-rank job. */
static const char *const size_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE",
                                        "SLURM_STEP_NUM_TASKS"};
/* Set for processes a rank starts (fs_mpi_mark_children): they are not ranks, whatever the
 * environment they inherit says. */
#define CHILD_VAR "FEDSIM_MPI_CHILD"

static int g_rank = 0, g_size = 1, g_local = 1, g_sharing = 1;
static uint64_t g_bytes_out = 0;
static bool g_started = false;

bool fs_mpi_built(void)
{
#ifdef FS_HAVE_MPI
    return true;
#else
    return false;
#endif
}

/* The first launcher variable that announces more than one process, or NULL. */
static const char *launcher_size_var(long *out_n)
{
    for (size_t i = 0; i < sizeof size_vars / sizeof *size_vars; i++) {
        const char *v = getenv(size_vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) return *out_n = n, size_vars[i];
    }
    return NULL;
}

static bool under_launcher(void)
{
    long n;
    return launcher_size_var(&n) || getenv("OMPI_COMM_WORLD_RANK") || getenv("PMI_RANK") ||
           getenv("PMIX_RANK") || getenv("SLURM_STEP_NUM_TASKS");
}

#ifdef FS_HAVE_MPI
/* The ranks of this machine whose CPU affinity is this rank's (by a hash of the mask; an
 * unreadable mask counts as every CPU): they share those CPUs. A split by colour needs no
 * buffer of the ranks' masks. */
static int mask_sharers(MPI_Comm node)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) memset(&set, 0xff, sizeof set);
    int colour = (int)(fs_crc32(0, &set, sizeof set) & 0x7fffffff), n = 1;
    MPI_Comm same;
    if (MPI_Comm_split(node, colour, 0, &same) == MPI_SUCCESS) {
        MPI_Comm_size(same, &n);
        MPI_Comm_free(&same);
    }
    return n;
}

static int start(int *argc, char ***argv, fs_err *err)
{
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fs_err_add(err, NULL, "MPI_Init failed: started by a launcher this MPI cannot talk to?");
        return FS_EIO;
    }
    g_started = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        g_sharing = mask_sharers(node);
        MPI_Comm_free(&node);
    }
    return FS_OK;
}
#else
static int start(int *argc, char ***argv, fs_err *err)
{
    (void)argc, (void)argv, (void)err;
    return FS_OK;
}
#endif

int fs_mpi_init(int *argc, char ***argv, fs_err *err)
{
    if (g_started || getenv(CHILD_VAR)) return FS_OK;
    if (fs_mpi_built() && under_launcher()) {
        int rc = start(argc, argv, err);
        if (rc) return rc;
    }
    long n = 0;
    const char *var = launcher_size_var(&n);
    if (var && g_size == 1) {
        if (fs_mpi_built())
            fs_err_add(err, NULL,
                       "%s=%ld says a launcher started %ld processes, but MPI sees a job of 1"
                       " rank: this fedsim's MPI is not the launcher's (another MPI's mpirun?),"
                       " so each process would run alone into the same database; start it with"
                       " the mpirun of the MPI it was built with (fedsim --version names it)",
                       var, n, n);
        else
            fs_err_add(err, NULL,
                       "%s=%ld says a launcher started %ld processes, but this fedsim was built"
                       " without MPI, so each would run alone into the same database; build"
                       " with MPI (meson -Dmpi=enabled) or start one process",
                       var, n, n);
        return FS_ESCENARIO;
    }
    return FS_OK;
}

void fs_mpi_mark_children(void)
{
    setenv(CHILD_VAR, "1", 1);
}

void fs_mpi_finalize(void)
{
#ifdef FS_HAVE_MPI
    if (g_started) MPI_Finalize();
#endif
    g_started = false;
}

int fs_mpi_rank(void)
{
    return g_rank;
}

int fs_mpi_size(void)
{
    return g_size;
}

bool fs_mpi_started(void)
{
    return g_started;
}

int fs_mpi_local_size(void)
{
    return g_local;
}

int fs_mpi_local_sharing(void)
{
    return g_sharing;
}

uint64_t fs_mpi_bytes_out(void)
{
    return g_bytes_out;
}

const char *fs_mpi_library(void)
{
#if defined(FS_HAVE_MPI) && defined(OMPI_MAJOR_VERSION)
    static char name[32];
    snprintf(name, sizeof name, "Open MPI %d.%d.%d", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION,
             OMPI_RELEASE_VERSION);
    return name;
#elif defined(FS_HAVE_MPI) && defined(MPICH_VERSION)
    return "MPICH " MPICH_VERSION;
#elif defined(FS_HAVE_MPI)
    return "MPI";
#else
    return "none";
#endif
}

_Noreturn void fs_mpi_abort(int code)
{
#ifdef FS_HAVE_MPI
    if (g_started) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

/* ---- messages: pieces of at most 64 MiB, under MPI's int count and small enough that a
 * receiver never needs more than one piece's buffer beyond the destination */
#define PIECE ((size_t)64 << 20)

#ifdef FS_HAVE_MPI
static int mpi_fail(fs_err *err, const char *what, int peer, int code)
{
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, msg, &len);
    fs_err_add(err, NULL, "MPI: %s rank %d: %s", what, peer, msg);
    return FS_EIO;
}

int fs_mpi_send(int dest, int tag, const void *buf, size_t n, fs_err *err)
{
    const char *p = buf;
    g_bytes_out += n;
    for (size_t at = 0; at < n || at == 0; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        int rc = MPI_Send(p + at, k, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "sending to", dest, rc);
        if (n == 0) break;
    }
    return FS_OK;
}

int fs_mpi_recv(int src, int tag, void *buf, size_t n, fs_err *err)
{
    char *p = buf;
    for (size_t at = 0; at < n || at == 0; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        int rc = MPI_Recv(p + at, k, MPI_BYTE, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "receiving from", src, rc);
        if (n == 0) break;
    }
    return FS_OK;
}

int fs_mpi_bcast(void *buf, size_t n, int root, fs_err *err)
{
    char *p = buf;
    if (g_size == 1) return FS_OK;
    if (root == g_rank) g_bytes_out += n;
    for (size_t at = 0; at < n; at += PIECE) {
        int k = (int)(n - at < PIECE ? n - at : PIECE);
        int rc = MPI_Bcast(p + at, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, "broadcasting from", root, rc);
    }
    return FS_OK;
}

/* v[*at].p + *off onward: at most FS_MPI_IOV_GROUP blocks and PIECE bytes as one hindexed
 * datatype (a buffer longer than what is left is cut, and continues in the next group), then
 * one broadcast of it. Every rank cuts the same groups: they follow from the lengths alone. */
static int bcast_group(const fs_mpi_iov *v, size_t n, size_t *at, size_t *off, int root,
                       fs_err *err)
{
    int lens[FS_MPI_IOV_GROUP];
    MPI_Aint where[FS_MPI_IOV_GROUP];
    int k = 0;
    size_t bytes = 0;
    while (*at < n && k < FS_MPI_IOV_GROUP && bytes < PIECE) {
        size_t left = v[*at].n - *off, take = left < PIECE - bytes ? left : PIECE - bytes;
        if (take) {
            MPI_Get_address((char *)v[*at].p + *off, &where[k]);
            lens[k++] = (int)take;
            bytes += take;
        }
        *off += take;
        if (*off == v[*at].n) ++*at, *off = 0;
    }
    if (!k) return FS_OK;
    if (root == g_rank) g_bytes_out += bytes;
    MPI_Datatype t;
    int rc = MPI_Type_create_hindexed(k, lens, where, MPI_BYTE, &t);
    if (rc != MPI_SUCCESS) return mpi_fail(err, "describing the buffers broadcast from", root, rc);
    rc = MPI_Type_commit(&t);
    if (rc == MPI_SUCCESS) rc = MPI_Bcast(MPI_BOTTOM, 1, t, root, MPI_COMM_WORLD);
    MPI_Type_free(&t);
    return rc == MPI_SUCCESS ? FS_OK : mpi_fail(err, "broadcasting from", root, rc);
}

int fs_mpi_bcast_iov(const fs_mpi_iov *v, size_t n, int root, fs_err *err)
{
    if (g_size == 1) return FS_OK;
    size_t at = 0, off = 0;
    int rc = FS_OK;
    while (!rc && at < n)
        rc = bcast_group(v, n, &at, &off, root, err);
    return rc;
}

int fs_mpi_max_int(int v)
{
    int out = v;
    if (g_size > 1) MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

bool fs_mpi_poll(int *out_src, int *out_tag)
{
    int flag = 0;
    MPI_Status st;
    if (!g_started || MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) !=
                          MPI_SUCCESS || !flag)
        return false;
    *out_src = st.MPI_SOURCE;
    *out_tag = st.MPI_TAG;
    return true;
}
#else
int fs_mpi_send(int dest, int tag, const void *buf, size_t n, fs_err *err)
{
    (void)dest, (void)tag, (void)buf, (void)n, (void)err;
    fs_assert_fail("fs_mpi_send without MPI", __FILE__, __LINE__);
}

int fs_mpi_recv(int src, int tag, void *buf, size_t n, fs_err *err)
{
    (void)src, (void)tag, (void)buf, (void)n, (void)err;
    fs_assert_fail("fs_mpi_recv without MPI", __FILE__, __LINE__);
}

bool fs_mpi_poll(int *out_src, int *out_tag)
{
    (void)out_src, (void)out_tag;
    return false;
}

int fs_mpi_bcast(void *buf, size_t n, int root, fs_err *err)
{
    (void)buf, (void)n, (void)root, (void)err;
    return FS_OK; /* one rank: root's bytes are already there */
}

int fs_mpi_max_int(int v)
{
    return v;
}

int fs_mpi_bcast_iov(const fs_mpi_iov *v, size_t n, int root, fs_err *err)
{
    (void)v, (void)n, (void)root, (void)err;
    return FS_OK;
}
#endif

int fs_mpi_send_file(int dest, int tag, const char *path, fs_err *err)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    int64_t len = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) len = ftell(f), rewind(f);
    int rc = fs_mpi_send(dest, tag, &len, sizeof len, err);
    char *buf = len > 0 ? malloc(PIECE) : NULL;
    if (!rc && len > 0 && !buf) {
        fs_err_add(err, NULL, "%s: out of memory sending it to rank %d", path, dest);
        rc = FS_ENOMEM; /* the receiver waits for bytes that never come: the caller aborts */
    }
    for (int64_t at = 0; !rc && at < len; at += (int64_t)PIECE) {
        size_t k = (size_t)(len - at) < PIECE ? (size_t)(len - at) : PIECE;
        if (fread(buf, 1, k, f) != k) {
            fs_err_add(err, NULL, "%s: reading it to send to rank %d: %s", path, dest,
                       strerror(errno));
            rc = FS_EIO;
        } else {
            rc = fs_mpi_send(dest, tag, buf, k, err);
        }
    }
    free(buf);
    if (f) fclose(f);
    return rc;
}

int fs_mpi_recv_file(int src, int tag, const char *path, bool *out_present, fs_err *err)
{
    int64_t len = -1;
    *out_present = false;
    int rc = fs_mpi_recv(src, tag, &len, sizeof len, err);
    if (rc || len < 0) return rc;
    FILE *f = fopen(path, "wb");
    char *buf = malloc(PIECE);
    if (!f || !buf) {
        fs_err_add(err, NULL, "%s: cannot write what rank %d sends: %s", path, src,
                   f ? "out of memory" : strerror(errno));
        rc = f ? FS_ENOMEM : FS_EIO;
    }
    for (int64_t at = 0; !rc && at < len; at += (int64_t)PIECE) {
        size_t k = (size_t)(len - at) < PIECE ? (size_t)(len - at) : PIECE;
        rc = fs_mpi_recv(src, tag, buf, k, err);
        if (!rc && fwrite(buf, 1, k, f) != k) {
            fs_err_add(err, NULL, "%s: writing what rank %d sent: %s", path, src,
                       strerror(errno));
            rc = FS_EIO;
        }
    }
    free(buf);
    if (f && fclose(f) && !rc) {
        fs_err_add(err, NULL, "%s: writing what rank %d sent: %s", path, src, strerror(errno));
        rc = FS_EIO;
    }
    *out_present = rc == FS_OK;
    return rc;
}
