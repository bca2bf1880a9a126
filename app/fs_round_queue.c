/* fs_round_queue: deep copies of rounds waiting for the database (see fs_round_queue.h). */
#include "fs_round_queue.h"

#include <stdlib.h>
#include <string.h>

typedef struct fs_queued_round {
    struct fs_queued_round *next;
    fs_db_round row; /* energy_parts and mix point into the copies below */
    fs_db_part *parts;
    size_t n_parts;
    bool with_participation;
    fs_db_mix *mix;
    fs_db_eval *evals;
    size_t n_evals;
    void *checkpoint;
    size_t checkpoint_len;
    char *strings; /* the mix's and evaluations' names, copied: the engine's die with it */
} fs_queued_round;

/* A copy of n elements of `size` bytes (NULL for none); *ok turns false when out of memory. */
static void *copy_of(const void *src, size_t n, size_t size, size_t *bytes, bool *ok)
{
    if (!src || !n) return NULL;
    void *dst = malloc(n * size);
    if (!dst) return *ok = false, NULL;
    *bytes += n * size;
    return memcpy(dst, src, n * size);
}

/* Bytes of the mix's and evaluations' names, terminators included. */
static size_t names_size(const fs_db_mix *mix, size_t n_mix, const fs_db_eval *evals,
                         size_t n_evals)
{
    size_t n = 0;
    for (size_t i = 0; i < n_mix; i++)
        n += strlen(mix[i].grp) + strlen(mix[i].level) + strlen(mix[i].stage) + 3;
    for (size_t i = 0; i < n_evals; i++)
        n += strlen(evals[i].segment) + strlen(evals[i].metric) + 2;
    return n;
}

/* Copies *name to *at and points *name there; returns the end of the copy. */
static char *keep_name(const char **name, char *at)
{
    size_t n = strlen(*name) + 1;
    memcpy(at, *name, n);
    *name = at;
    return at + n;
}

/* The entry's mix and evaluations point to names of its own (e->strings). */
static bool keep_names(fs_queued_round *e, size_t *bytes)
{
    size_t n = names_size(e->mix, e->row.n_mix, e->evals, e->n_evals);
    if (!n) return true;
    char *at = e->strings = malloc(n);
    if (!at) return false;
    *bytes += n;
    for (size_t i = 0; i < e->row.n_mix; i++) {
        at = keep_name(&e->mix[i].grp, at);
        at = keep_name(&e->mix[i].level, at);
        at = keep_name(&e->mix[i].stage, at);
    }
    for (size_t i = 0; i < e->n_evals; i++) {
        at = keep_name(&e->evals[i].segment, at);
        at = keep_name(&e->evals[i].metric, at);
    }
    return true;
}

static void free_entry(fs_queued_round *e)
{
    free(e->strings);
    free(e->parts);
    free(e->mix);
    free(e->evals);
    free(e->checkpoint);
    free(e);
}

/* Whether any of the n participations gives a client_energy_rounds row. */
static bool any_energy(const fs_db_part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fs_db_part_has_energy(&parts[i])) return true;
    return false;
}

/* The participations passed in are the round's energy parts too, one array (fs_run.c). They
 * are copied only when some row will be written from them: without participation rows and
 * without energy, 13,000 of them a round (1.5 MB) were the largest part of recording a round. */
int fs_round_queue_push(fs_round_queue *q, const fs_db_round *row, const fs_db_part *parts,
                        size_t n_parts, bool with_participation, const fs_db_eval *evals,
                        size_t n_evals, void **checkpoint, size_t checkpoint_len, fs_err *err)
{
    fs_queued_round *e = calloc(1, sizeof *e);
    if (!e) goto nomem;
    bool ok = true;
    size_t bytes = sizeof *e;
    e->row = *row;
    if (!with_participation && !any_energy(parts, n_parts)) n_parts = 0;
    e->parts = copy_of(parts, n_parts, sizeof *parts, &bytes, &ok);
    e->n_parts = n_parts;
    e->with_participation = with_participation;
    e->mix = copy_of(row->mix, row->n_mix, sizeof *row->mix, &bytes, &ok);
    e->evals = copy_of(evals, n_evals, sizeof *evals, &bytes, &ok);
    e->n_evals = n_evals;
    if (!ok || !keep_names(e, &bytes)) goto nomem;
    if (checkpoint && *checkpoint) { /* taken only now: a failure above leaves it the caller's */
        e->checkpoint = *checkpoint;
        e->checkpoint_len = checkpoint_len;
        bytes += checkpoint_len;
        *checkpoint = NULL;
    }
    e->row.energy_parts = e->parts;
    e->row.n_energy_parts = e->n_parts;
    e->row.mix = e->mix;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->n++;
    q->bytes += bytes;
    return FS_OK;
nomem:
    if (e) free_entry(e);
    fs_err_add(err, NULL, "out of memory keeping round %d until the database is free",
               row->round);
    return FS_ENOMEM;
}

static int write_entry(const fs_queued_round *e, fs_db *db, int64_t run_id, fs_err *err)
{
    return fs_db_write_round_ckpt(db, run_id, &e->row, e->with_participation ? e->parts : NULL,
                                  e->with_participation ? e->n_parts : 0, e->evals, e->n_evals,
                                  e->checkpoint, e->checkpoint_len, err);
}

/* The entries from e on, one transaction each, up to the first that fails. */
static int write_one_by_one(const fs_queued_round *e, fs_db *db, int64_t run_id, fs_err *err)
{
    int rc = FS_OK;
    for (; e && !rc; e = e->next)
        rc = write_entry(e, db, run_id, err);
    return rc;
}

/* Several rounds go in one transaction (fs_db_rounds_begin). A BEGIN that fails (another
 * process's lock, past the busy timeout) is the failure of the first round, as it is for a
 * direct write. When the batch is lost after it began (a round failed, which rolls it back, or
 * its COMMIT failed), its rounds are written again one by one, which stops at the first that
 * cannot be written: either way the file ends with exactly the rounds before it, and only the
 * messages of the writes that stand are told. Failures are rare, and end the run. */
static int write_batch(const fs_queued_round *head, fs_db *db, int64_t run_id, fs_err *err)
{
    int rc = fs_db_rounds_begin(db, head->row.round, err);
    if (rc) return rc;
    fs_err tried;
    fs_err_init(&tried, NULL);
    for (const fs_queued_round *e = head; e && !rc; e = e->next)
        rc = write_entry(e, db, run_id, &tried);
    bool lost = fs_db_rounds_end(db, &tried) != FS_OK; /* a failed round rolls the batch back */
    fs_err_clear(&tried); /* what failed fails again below, and says so there */
    return lost ? write_one_by_one(head, db, run_id, err) : rc;
}

int fs_round_queue_flush(fs_round_queue *q, fs_db *db, int64_t run_id, fs_err *err)
{
    int rc = !q->head   ? FS_OK
             : q->n > 1 ? write_batch(q->head, db, run_id, err)
                        : write_one_by_one(q->head, db, run_id, err);
    fs_round_queue_fini(q);
    return rc;
}

void fs_round_queue_append(fs_round_queue *dst, fs_round_queue *src)
{
    if (!src->head) return;
    if (dst->tail)
        dst->tail->next = src->head;
    else
        dst->head = src->head;
    dst->tail = src->tail;
    dst->n += src->n;
    dst->bytes += src->bytes;
    *src = (fs_round_queue){0};
}

void fs_round_queue_fini(fs_round_queue *q)
{
    while (q->head) {
        fs_queued_round *e = q->head;
        q->head = e->next;
        free_entry(e);
    }
    *q = (fs_round_queue){0};
}
