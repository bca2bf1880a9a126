/* fs_db_writer: a run's rows written on a thread of their own (see fs_db_writer.h). */
#include "fs_db_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "fs_round_queue.h"

struct fs_db_writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work; /* the writer waits here for rounds or the end */
    pthread_cond_t room; /* the engine waits here for the queue to shrink */
    fs_db *db;
    int64_t run_id;
    fs_db_client *rows; /* the clients rows, freed once written */
    size_t n_rows;
    void *owned;
    size_t bytes_max;
    /* under mu */
    fs_round_queue queue; /* handed over, not yet taken by the writer */
    size_t busy_bytes;    /* taken, being written */
    size_t busy_rounds;
    bool closing;
    int rc;     /* the first failure; the writer writes nothing after it */
    bool told;  /* its messages went to a caller's err */
    fs_err err; /* the writer's messages: only it writes them, and only before rc is set */
};

/* Enough rounds wait to be written at once: half the queue's room (call under mu). */
static bool gathered(const fs_db_writer *w)
{
    return w->queue.n >= FS_DB_WRITER_ROUNDS_MAX / 2 || w->queue.bytes >= w->bytes_max / 2;
}

/* Once a round is queued, the writer waits up to FS_DB_WRITER_GATHER_MS for more (or until
 * gathered(), or the end) before it writes: rounds that come together are one transaction
 * (fs_round_queue_flush), whose commit appends each page they share to the WAL once. Called
 * under mu. */
static void gather(fs_db_writer *w)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    long ns = until.tv_nsec + FS_DB_WRITER_GATHER_MS * 1000000L;
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    while (!w->closing && !w->rc && !gathered(w) &&
           pthread_cond_timedwait(&w->work, &w->mu, &until) == 0)
        continue;
}

/* Writes what the engine queued, a batch at a time, until told to close and nothing is left. */
static void write_rounds(fs_db_writer *w)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->queue.head && !w->closing)
            pthread_cond_wait(&w->work, &w->mu);
        if (!w->queue.head) break;
        gather(w);
        fs_round_queue batch = w->queue;
        w->queue = (fs_round_queue){0};
        w->busy_bytes = batch.bytes;
        w->busy_rounds = batch.n;
        bool failed = w->rc != FS_OK;
        pthread_mutex_unlock(&w->mu);
        int rc = FS_OK;
        if (failed)
            fs_round_queue_fini(&batch);
        else
            rc = fs_round_queue_flush(&batch, w->db, w->run_id, &w->err);
        pthread_mutex_lock(&w->mu);
        if (!w->rc) w->rc = rc;
        w->busy_bytes = w->busy_rounds = 0;
        pthread_cond_broadcast(&w->room);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    fs_db_writer *w = arg;
    int rc = w->n_rows ? fs_db_write_clients(w->db, w->run_id, w->rows, w->n_rows, &w->err) : FS_OK;
    free(w->rows);
    free(w->owned);
    w->rows = w->owned = NULL;
    pthread_mutex_lock(&w->mu);
    w->rc = rc;
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    write_rounds(w);
    return NULL;
}

static void writer_free(fs_db_writer *w)
{
    pthread_cond_destroy(&w->room);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    fs_round_queue_fini(&w->queue);
    free(w);
}

fs_db_writer *fs_db_writer_start(fs_db *db, int64_t run_id, fs_db_client *rows, size_t n,
                                 void *owned, size_t bytes_max)
{
    fs_db_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    *w = (fs_db_writer){.db = db,
                        .run_id = run_id,
                        .rows = rows,
                        .n_rows = n,
                        .owned = owned,
                        .bytes_max = bytes_max};
    fs_err_init(&w->err, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t monotonic; /* the gathering's deadline must not jump with the clock */
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&w->work, &monotonic);
    pthread_condattr_destroy(&monotonic);
    pthread_cond_init(&w->room, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        w->rows = w->owned = NULL; /* still the caller's */
        writer_free(w);
        return NULL;
    }
    return w;
}

/* The writer's failure, its messages moved into err the first time (call under mu). */
static int failure(fs_db_writer *w, fs_err *err)
{
    if (w->rc && !w->told) {
        for (int i = 0; i < w->err.n_msgs; i++)
            fs_err_add(err, NULL, "%s", w->err.msgs[i]);
        w->told = true;
    }
    return w->rc;
}

int fs_db_writer_round(fs_db_writer *w, const fs_db_round *row, const fs_db_part *parts,
                       size_t n_parts, bool with_participation, const fs_db_eval *evals,
                       size_t n_evals, void **checkpoint, size_t checkpoint_len, fs_err *err)
{
    fs_round_queue one = {0}; /* copied before the lock: the writer need not wait for it */
    int rc = fs_round_queue_push(&one, row, parts, n_parts, with_participation, evals, n_evals,
                                 checkpoint, checkpoint_len, err);
    if (rc) return rc;
    pthread_mutex_lock(&w->mu);
    while (!w->rc && (w->queue.bytes + w->busy_bytes >= w->bytes_max ||
                      w->queue.n + w->busy_rounds >= FS_DB_WRITER_ROUNDS_MAX))
        pthread_cond_wait(&w->room, &w->mu);
    rc = failure(w, err);
    if (!rc) {
        /* the writer waits for a first round, or gathers more until gathered(): a round in
         * between wakes it only to wait again, a context switch the engine paid for each round
         * (half of recording a round of the shipped ctr_regions) */
        bool was_empty = !w->queue.head;
        fs_round_queue_append(&w->queue, &one);
        if (was_empty || gathered(w)) pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    fs_round_queue_fini(&one); /* what a failed writer will not write */
    return rc;
}

int fs_db_writer_finish(fs_db_writer *w, fs_err *err)
{
    if (!w) return FS_OK;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    int rc = failure(w, err);
    writer_free(w);
    return rc;
}
