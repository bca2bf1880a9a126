/* fs_db_writer: the thread that writes a run's rows while the engine plays on. A new run's
 * clients rows (a million take over a second of SQLite) and then every round the engine
 * records go to the database from this thread, in the order they were handed over, with the
 * statements a direct write issues: the file ends up the same, but the engine no longer waits
 * for SQLite (at 1M clients x 10,000 per round, a round's 13,000 energy rows took 14 ms and a
 * checkpoint of the fleet 0.3 s, all on the engine's critical path). A round is deep-copied
 * when handed over (fs_round_queue), so the engine reuses its arrays at once; past bytes_max
 * or FS_DB_WRITER_ROUNDS_MAX rounds waiting, the engine waits for the writer. Rounds that arrive
 * together (within FS_DB_WRITER_GATHER_MS) are written in one transaction.
 *
 * While a writer exists nothing else may use its database: fs_db_writer_finish hands the
 * connection back. A write that fails stops the writer: what was queued after it is dropped,
 * and the failure comes back from the next fs_db_writer_round or from fs_db_writer_finish,
 * with the writer's messages, so the run stops and the file holds exactly the rounds before. */
#ifndef FS_DB_WRITER_H
#define FS_DB_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_db.h"

typedef struct fs_db_writer fs_db_writer;

/* Rounds waiting in memory by default before the engine waits: a few rounds of participation
 * rows at a million clients, and a fleet checkpoint. */
#define FS_DB_WRITER_BYTES_MAX ((size_t)256 << 20)
/* Rounds waiting at most: the file (what a planner watches in SQL, and what survives a kill -9)
 * stays within a few rounds of the engine even when rounds are small and commits are not (a
 * 2,000-round sweep variant ran to its end while its file showed round 5). */
#define FS_DB_WRITER_ROUNDS_MAX 32
/* How long the writer waits for more rounds once one is queued, so that rounds coming together
 * share one commit (a 100-round LR run: 4x fewer writes; 2,000 small rounds: 5.5x fewer, 16%
 * less CPU); the file then trails the engine by at most this much more. */
#define FS_DB_WRITER_GATHER_MS 20

/* Starts a writer for run_id of db. With n > 0 it first writes the clients rows: rows and owned
 * (what the rows' strings point into, or NULL) become the writer's and are freed once written.
 * NULL when out of memory or no thread could be started; the caller keeps rows and owned and
 * writes directly. */
fs_db_writer *fs_db_writer_start(fs_db *db, int64_t run_id, fs_db_client *rows, size_t n,
                                 void *owned, size_t bytes_max);

/* Hands over a copy of one round and the checkpoint itself (fs_round_queue_push's arguments:
 * *checkpoint becomes the writer's and NULL, unless it could not be queued), waiting while
 * bytes_max are queued. Returns FS_OK, FS_ENOMEM (said in err), or the failure the writer met
 * (its messages moved into err, once). */
int fs_db_writer_round(fs_db_writer *w, const fs_db_round *row, const fs_db_part *parts,
                       size_t n_parts, bool with_participation, const fs_db_eval *evals,
                       size_t n_evals, void **checkpoint, size_t checkpoint_len, fs_err *err);

/* Waits until everything handed over is written, ends the thread and frees w; the database is
 * the caller's again. Returns FS_OK or the writer's failure (messages into err unless a round
 * call moved them already). NULL: FS_OK. */
int fs_db_writer_finish(fs_db_writer *w, fs_err *err);

#endif
