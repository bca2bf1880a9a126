/* fs_round_queue: rounds kept in memory, in order, until the database can take them. A run's
 * rows are written on a thread of their own (fs_db_writer): at a million clients the clients
 * table takes a second and more, several rounds' worth, and the rounds played meanwhile wait
 * here instead of stopping the engine. Each entry is a deep copy of what
 * fs_db_write_round_ckpt is given (the round's row, its participations, its evaluations), so
 * the engine may reuse its arrays at once, and takes the checkpoint itself (a million clients'
 * state is 33 MB, which a copy would fault in and move again), and the names of its mix and
 * evaluations are copied too (the engine's mix is gone when the run's last rounds are
 * flushed); a participation's outcome and network are string literals and are not. Flushing
 * writes the entries with the statements a direct write would have issued, in the same order.
 * Not thread-safe: fs_db_writer locks around it. */
#ifndef FS_ROUND_QUEUE_H
#define FS_ROUND_QUEUE_H

#include <stddef.h>

#include "fs_db.h"

typedef struct fs_round_queue {
    struct fs_queued_round *head, *tail;
    size_t n, bytes;
} fs_round_queue;

/* Appends a copy of one round; parts are recorded as participation rows only when
 * with_participation (a round's participations always feed its energy rows, those with energy),
 * and copied only when some row comes from them. *checkpoint (malloc'd, or NULL: none) becomes
 * the queue's, and *checkpoint NULL. FS_ENOMEM (said in err) leaves the queue as it was and
 * *checkpoint the caller's. */
int fs_round_queue_push(fs_round_queue *q, const fs_db_round *row, const fs_db_part *parts,
                        size_t n_parts, bool with_participation, const fs_db_eval *evals,
                        size_t n_evals, void **checkpoint, size_t checkpoint_len, fs_err *err);

/* Writes every queued round in order (fs_db_write_round_ckpt; several in one transaction,
 * fs_db_rounds_begin) and empties the queue; on a failure the file holds exactly the rounds
 * before the failed one, the rest are dropped and the error is returned. */
int fs_round_queue_flush(fs_round_queue *q, fs_db *db, int64_t run_id, fs_err *err);

/* Moves every entry of src, in order, to the end of dst; src is left empty. */
void fs_round_queue_append(fs_round_queue *dst, fs_round_queue *src);

/* Drops whatever is queued. Safe on a zeroed queue. */
void fs_round_queue_fini(fs_round_queue *q);

#endif
