/* fs_sweep_ranks: `mpirun -n N fedsim sweep`. Rank 0 hands out the (variant, replicate) jobs in
 * order, one at a time to each rank that is free, itself included (rank 0 runs up to --jobs at
 * a time, every other rank one); each rank runs its job as the same child `fedsim run` as a
 * plain sweep, into a private results file in its temporary folder, and sends that file to
 * rank 0, which copies the run
 * into the database (fs_db_copy) in job order: SQLite keeps one writer, no rank needs a file
 * system shared with rank 0, and run ids, hence the whole file, are those of --jobs 1. A run
 * that finished out of order waits for the ones before it; one whose predecessor never comes
 * back (its rank died) is dropped rather than given an id --jobs 1 would not give it, and the
 * rerun computes it again. An unfinished run of the database (a resume) travels the other way
 * first: rank 0 copies it into the file the job's rank continues.
 *
 * Why files and not rows over MPI: the child run already writes a complete, checked results
 * file, checkpoints and all, and a copy between two files of one schema is one INSERT ... SELECT
 * per table; rows over MPI would need a second serialisation of every table kept in step with
 * the schema. The cost, a run's file sent once, is small next to computing it. */
#include "fs_sweep_int.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs_cli.h"
#include "fs_clock.h"
#include "fs_db.h"
#include "fs_db_copy.h"
#include "fs_mpi.h"

enum { TAG_JOB = 11, TAG_DONE = 12, TAG_STOP = 13 };

#define MAX_LOCAL 256
#define POLL_NS 5000000L /* 5 ms between looks at the children and the messages */

typedef struct local_run {
    pid_t pid;
    size_t job;
    double started;
} local_run;

/* ---- shared by both sides */

static void nap(void)
{
    struct timespec ts = {0, POLL_NS};
    nanosleep(&ts, NULL);
}

/* Threads per run: this rank's share of its CPUs (the core mpirun bound it to, by default, or
 * the machine's cores over the ranks that share them) over the runs it has at once. */
static int run_threads(int runs_at_once)
{
    int share = fs_cli_cpu_share(fs_mpi_local_sharing());
    return share > runs_at_once ? share / runs_at_once : 1;
}

static int make_dir(char *dir, size_t n, fs_err *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, n, "%s/fedsim-sweep-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir)) return FS_OK;
    fs_err_add(err, NULL, "%s: cannot create a temporary folder: %s", dir, strerror(errno));
    return FS_EIO;
}

/* A results file and the files SQLite and the run claims keep beside it. */
static void remove_db(const char *path)
{
    static const char *const ends[] = {"", "-wal", "-shm", "-journal", "-lock"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
        snprintf(p, sizeof p, "%s%s", path, ends[i]);
        unlink(p);
    }
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* The child's exit code, 128 + signal when a signal ended it; -1 while it runs. */
static int child_code(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, WNOHANG) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Rank 0 runs up to --jobs runs at once beside handing out jobs; another rank, one. */
static pid_t start_run(const sweep_args *a, const fs_sweep *sw, size_t j, const char *path,
                       bool resume)
{
    sigset_t mask;
    sigprocmask(SIG_SETMASK, NULL, &mask);
    int threads = run_threads(fs_mpi_rank() == 0 ? a->jobs : 1);
    return fs_sweep_spawn(a, fs_sweep_job_variant(sw, j), fs_sweep_job_replicate(sw, j), path,
                          threads, resume, 0, &mask); /* the merge numbers the runs */
}

/* The environment the child runs see: a sweep's child (no resume hint of its own), not a rank
 * (fs_mpi), and the job's size for runs.ranks. */
static void child_env(void)
{
    char n[16];
    snprintf(n, sizeof n, "%d", fs_mpi_size());
    setenv("FEDSIM_SWEEP_CHILD", "1", 1);
    setenv("FEDSIM_SWEEP_RANKS", n, 1);
    fs_mpi_mark_children();
}

/* ---- the other ranks */

static int send_done(int64_t job, int code, const char *path, fs_err *err)
{
    int64_t msg[2] = {job, code};
    int rc = exists(path) ? fs_db_copy_settle(path, err) : FS_OK;
    if (rc) fs_err_print(err, stderr), fs_err_clear(err); /* the file still goes; rank 0 judges */
    rc = fs_mpi_send(0, TAG_DONE, msg, sizeof msg, err);
    return rc ? rc : fs_mpi_send_file(0, TAG_DONE, path, err);
}

/* Runs job j into path until it ends, passing on a stop from rank 0 or a signal of our own. */
static int work_one(const sweep_args *a, const fs_sweep *sw, size_t j, const char *path,
                    bool resume)
{
    pid_t pid = start_run(a, sw, j, path, resume);
    if (pid < 0) return 70;
    int code, sent = 0, src, tag;
    while ((code = child_code(pid)) < 0) {
        int sig = fs_cli_stop_signal;
        if (fs_mpi_poll(&src, &tag) && src == 0 && tag == TAG_STOP) {
            char ignored;
            fs_mpi_recv(0, TAG_STOP, &ignored, 1, NULL);
            sig = SIGTERM;
        }
        if (sig && sig != sent) kill(pid, sig), sent = sig;
        nap();
    }
    return code;
}

int fs_sweep_ranks_work(const sweep_args *a, const fs_sweep *sw)
{
    fs_err err;
    fs_err_init(&err, NULL);
    char dir[PATH_MAX - 32], path[PATH_MAX];
    int rc = make_dir(dir, sizeof dir, &err);
    if (rc) fs_err_print(&err, stderr), fs_mpi_abort(3);
    snprintf(path, sizeof path, "%s/job.sqlite", dir);
    child_env();
    for (;;) {
        int src, tag;
        if (!fs_mpi_poll(&src, &tag) || src != 0) {
            nap();
            continue;
        }
        int64_t msg[2];
        char ignored;
        if (tag == TAG_STOP) { /* nothing running here */
            fs_mpi_recv(0, TAG_STOP, &ignored, 1, &err);
            continue;
        }
        if ((rc = fs_mpi_recv(0, TAG_JOB, msg, sizeof msg, &err))) break;
        if (msg[0] < 0) break;
        remove_db(path);
        bool resume = msg[1] != 0, present;
        if (resume && (rc = fs_mpi_recv_file(0, TAG_JOB, path, &present, &err))) break;
        int code = work_one(a, sw, (size_t)msg[0], path, resume);
        if ((rc = send_done(msg[0], code, path, &err))) break;
        remove_db(path);
    }
    remove_db(path);
    rmdir(dir);
    if (rc) fs_err_print(&err, stderr), fs_mpi_abort(3); /* rank 0 would wait for us forever */
    return 0;
}

void fs_sweep_ranks_release(void)
{
    int64_t quit[2] = {-1, 0};
    for (int r = 1; r < fs_mpi_size(); r++)
        fs_mpi_send(r, TAG_JOB, quit, sizeof quit, NULL);
}

/* ---- rank 0 */

enum { RES_NONE, RES_READY, RES_MERGED };

typedef struct lead {
    const sweep_args *a;
    const fs_sweep *sw;
    const unsigned char *state;
    const int64_t *run_ids; /* per job: the id of its new run, as --jobs gives it */
    const char *db, *name;
    sweep_tally *t;
    char dir[PATH_MAX - 32];
    size_t n, next, merge_at;
    unsigned char *res;   /* per job: RES_* */
    int64_t *keep;        /* per job: the run id it continues (0: a new run) */
    int *on_rank;         /* per job: the rank running it, -1 */
    double *started;      /* per job: wall clock when it started */
    int *busy;            /* per rank > 0: its job, -1 when free */
    local_run kids[MAX_LOCAL];
    size_t n_kids;
    size_t in_flight;
    int code;             /* a failure of the sweep itself (database, MPI): stop and report */
    int stopping;         /* the signal or failure that stops the sweep, once told */
    bool drawn;           /* a progress line is on the terminal */
    double drawn_at;
} lead;

static void job_path(const lead *l, size_t j, char *out, size_t n)
{
    snprintf(out, n, "%s/job-%zu.sqlite", l->dir, j);
}

static void progress_clear(lead *l)
{
    if (l->drawn) fprintf(stderr, "\r%*s\r", 99, "");
    l->drawn = false;
}

static void progress_draw(lead *l)
{
    double now = fs_wall_seconds();
    if (!isatty(STDERR_FILENO) || now - l->drawn_at < 1) return;
    sweep_tally *t = l->t;
    fprintf(stderr, "\rsweep %zu/%zu finished on %d ranks; %zu running", t->done +
            t->interrupted + t->failed, t->todo, fs_mpi_size(), l->in_flight);
    fflush(stderr);
    l->drawn = true;
    l->drawn_at = now;
}

/* The latest unfinished run of job j in the database: what a resume continues. */
static int64_t unfinished_run(const lead *l, size_t j, fs_err *err)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int r = fs_sweep_job_replicate(l->sw, j);
    if (fs_db_open_readonly(l->db, &c, err)) return -1;
    if (sqlite3_prepare_v2(c,
                           "SELECT coalesce(max(run_id), 0) FROM runs WHERE name = ?1 AND"
                           " variant = ?2 AND replicate IS ?3 AND status <> 'done'",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, l->name, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, fs_sweep_job_variant(l->sw, j)->label, -1, SQLITE_STATIC) ==
            SQLITE_OK &&
        (r ? sqlite3_bind_int(st, 3, r) : sqlite3_bind_null(st, 3)) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    else
        fs_err_add(err, NULL, "%s: finding the run to resume: %s", l->db, sqlite3_errmsg(c)),
            id = -1;
    sqlite3_finalize(st);
    sqlite3_close(c);
    return id;
}

/* Job j's file, holding the run it resumes (when it does). False on failure (l->code set). */
static bool prepare(lead *l, size_t j, const char *path, fs_err *err)
{
    remove_db(path);
    l->keep[j] = 0;
    if (l->state[j] != FS_SWEEP_UNFINISHED) return true;
    int64_t id = unfinished_run(l, j, err);
    if (id > 0 && !fs_db_copy_runs(l->db, path, id, id, 0, NULL, err)) l->keep[j] = id;
    if (id < 0 || (id > 0 && !l->keep[j])) l->code = 3;
    return l->code == 0;
}

static void started(lead *l, size_t j, int rank)
{
    l->on_rank[j] = rank;
    l->started[j] = fs_wall_seconds();
    l->t->started++;
    l->in_flight++;
}

/* Starts job l->next here or on a free rank; false when there is no room. */
static bool dispatch(lead *l, fs_err *err)
{
    size_t j = l->next;
    char path[PATH_MAX];
    job_path(l, j, path, sizeof path);
    if (l->n_kids < (size_t)l->a->jobs && l->n_kids < MAX_LOCAL) {
        if (!prepare(l, j, path, err)) return false;
        pid_t pid = start_run(l->a, l->sw, j, path, l->state[j] == FS_SWEEP_UNFINISHED);
        if (pid < 0) {
            fs_err_add(err, NULL, "cannot start fedsim for a sweep run: %s", strerror(errno));
            l->code = 70;
            return false;
        }
        l->kids[l->n_kids++] = (local_run){pid, j, fs_wall_seconds()};
        started(l, j, 0);
        l->next++;
        return true;
    }
    for (int r = 1; r < fs_mpi_size(); r++) {
        if (l->busy[r] >= 0) continue;
        if (!prepare(l, j, path, err)) return false;
        int64_t msg[2] = {(int64_t)j, l->state[j] == FS_SWEEP_UNFINISHED};
        if (fs_mpi_send(r, TAG_JOB, msg, sizeof msg, err) ||
            (msg[1] && fs_mpi_send_file(r, TAG_JOB, path, err))) {
            l->code = 3;
            return false;
        }
        remove_db(path); /* the rank sends the job's file back */
        l->busy[r] = (int)j;
        started(l, j, r);
        l->next++;
        return true;
    }
    return false;
}

static void ended(lead *l, size_t j, int code)
{
    sweep_tally *t = l->t;
    const char *outcome = fs_sweep_tally_end(t, code);
    char name[4 * sizeof l->sw->variants[0].label + 32];
    progress_clear(l);
    fprintf(stderr, "fedsim: sweep [%zu/%zu] %s: %s on rank %d (%.1f s)\n",
            t->done + t->interrupted + t->failed, t->todo,
            fs_sweep_job_name(l->sw, j, name, sizeof name), outcome, l->on_rank[j],
            fs_wall_seconds() - l->started[j]);
    l->res[j] = RES_READY;
    l->on_rank[j] = -1;
    l->in_flight--;
}

/* Collects what ended: a local child, or a rank's message. True when something did. */
static bool collect(lead *l, fs_err *err)
{
    for (size_t k = 0; k < l->n_kids; k++) {
        int code = child_code(l->kids[k].pid);
        if (code < 0) continue;
        ended(l, l->kids[k].job, code);
        l->kids[k] = l->kids[--l->n_kids];
        return true;
    }
    int src, tag;
    if (!fs_mpi_poll(&src, &tag) || tag != TAG_DONE) return false;
    int64_t msg[2];
    bool present;
    char path[PATH_MAX];
    if (fs_mpi_recv(src, TAG_DONE, msg, sizeof msg, err) || msg[0] < 0 ||
        (size_t)msg[0] >= l->n || l->busy[src] != (int)msg[0]) {
        fs_err_add(err, NULL, "MPI: rank %d sent an unexpected result", src);
        return l->code = 3, true;
    }
    job_path(l, (size_t)msg[0], path, sizeof path);
    if (fs_mpi_recv_file(src, TAG_DONE, path, &present, err)) return l->code = 3, true;
    l->busy[src] = -1;
    ended(l, (size_t)msg[0], (int)msg[1]);
    return true;
}

/* Copies the results that are next in job order into the database. */
static void merge(lead *l, fs_err *err)
{
    while (l->merge_at < l->n && !l->code) {
        size_t j = l->merge_at;
        if (l->state[j] != FS_SWEEP_DONE) {
            if (l->res[j] != RES_READY) return;
            char path[PATH_MAX];
            job_path(l, j, path, sizeof path);
            if (exists(path) &&
                fs_db_copy_runs(path, l->db, 0, l->keep[j], l->run_ids[j], NULL, err))
                l->code = 3;
            remove_db(path);
            l->res[j] = RES_MERGED;
        }
        l->merge_at++;
    }
}

/* Once, when the sweep must stop: what is unfinished, then every run is told to stop. */
static void stop_all(lead *l)
{
    int sig = fs_cli_stop_signal;
    if (l->stopping || (!sig && !l->code && !l->t->child_signal_code)) return;
    l->stopping = sig ? sig : -1;
    if (!sig && !l->code) return; /* a run was interrupted: start no more, as a plain sweep */
    progress_clear(l);
    if (l->in_flight) {
        fprintf(stderr, "fedsim: error: sweep stopping (%s) with %zu run%s unfinished:",
                sig ? fs_cli_signal_name(sig) : "an error", l->in_flight,
                l->in_flight == 1 ? "" : "s");
        for (size_t j = 0; j < l->n; j++) {
            char name[4 * sizeof l->sw->variants[0].label + 32];
            if (l->on_rank[j] >= 0)
                fprintf(stderr, " variant \"%s\" on rank %d;",
                        fs_sweep_job_name(l->sw, j, name, sizeof name), l->on_rank[j]);
        }
        fputs(sig == SIGTERM ? " (mpirun sends every rank SIGTERM on Ctrl-C, and when a rank"
                               " dies: its own message then names that rank); rerun to resume\n"
                             : " rerun to resume\n",
              stderr);
    }
    for (size_t k = 0; k < l->n_kids; k++)
        kill(l->kids[k].pid, sig ? sig : SIGTERM);
    char one = 0;
    for (int r = 1; r < fs_mpi_size(); r++)
        if (l->busy[r] >= 0) fs_mpi_send(r, TAG_STOP, &one, 1, NULL);
}

static int lead_loop(lead *l, fs_err *err)
{
    for (;;) {
        stop_all(l);
        bool busy = false;
        while (!l->stopping && l->next < l->n && l->state[l->next] == FS_SWEEP_DONE)
            l->next++;
        if (!l->stopping && l->next < l->n) busy = dispatch(l, err);
        if (!busy) busy = collect(l, err);
        merge(l, err);
        if (l->code) stop_all(l);
        if (!l->in_flight && (l->stopping || l->next == l->n)) break;
        if (!busy) progress_draw(l), nap();
    }
    progress_clear(l);
    return l->code;
}

int fs_sweep_ranks_lead(const sweep_args *a, const fs_sweep *sw, const unsigned char *state,
                        const int64_t *run_ids, const char *db, const char *name,
                        sweep_tally *t)
{
    lead l = {.a = a, .sw = sw, .state = state, .run_ids = run_ids, .db = db, .name = name,
              .t = t, .n = fs_sweep_n_jobs(sw)};
    fs_err err;
    fs_err_init(&err, NULL);
    for (size_t i = 0; i < l.n; i++)
        t->todo += state[i] != FS_SWEEP_DONE;
    l.res = calloc(l.n, 1);
    l.keep = calloc(l.n, sizeof *l.keep);
    l.on_rank = malloc(l.n * sizeof *l.on_rank);
    l.started = calloc(l.n, sizeof *l.started);
    l.busy = malloc((size_t)fs_mpi_size() * sizeof *l.busy);
    int code = 71;
    if (l.res && l.keep && l.on_rank && l.started && l.busy &&
        !(code = make_dir(l.dir, sizeof l.dir, &err) ? 3 : 0)) {
        for (size_t i = 0; i < l.n; i++)
            l.on_rank[i] = -1;
        for (int r = 0; r < fs_mpi_size(); r++)
            l.busy[r] = -1;
        child_env();
        code = lead_loop(&l, &err);
        for (size_t j = 0; j < l.n; j++) { /* those that could not be merged in order */
            char path[PATH_MAX];
            job_path(&l, j, path, sizeof path);
            remove_db(path);
        }
        rmdir(l.dir);
    }
    fs_sweep_ranks_release();
    if (err.n_total) fs_err_print(&err, stderr);
    free(l.res), free(l.keep), free(l.on_rank), free(l.started), free(l.busy);
    if (code) return code;
    if (fs_cli_stop_signal) return fs_cli_signal_exit_code(fs_cli_stop_signal);
    if (t->child_signal_code) return t->child_signal_code;
    return t->failed ? 3 : 0;
}
