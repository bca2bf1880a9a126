/* fs_engine: a federated-learning campaign in virtual time. The server policy of server.mode
 * (fs_server.h: synchronous rounds, Bonawitz et al. 2019, or FedBuff, Nguyen et al. 2022)
 * selects available clients; the engine plans every participation (download, training, upload,
 * and when the client would go offline or crash), trains the clients dispatched together eagerly
 * in parallel, then lets the event queue play them out: reports arrive, clients drop, the
 * policy's timers fire, and the policy aggregates. The engine knows nothing of SQLite: each
 * closed round is handed to a callback as plain rows. */
#ifndef FS_ENGINE_H
#define FS_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_avail.h"
#include "fs_db.h"
#include "fs_err.h"
#include "fs_eval.h"
#include "fs_evq.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_train.h"
#include "fs_world.h"

/* Everything the engine reports about one closed round. Borrowed for the callback only, but
 * for the checkpoint, which the callback may take (see below). */
typedef struct fs_round_result {
    fs_db_round row;
    const fs_db_part *parts;
    size_t n_parts;
    const fs_db_eval *evals; /* empty when the round was not evaluated */
    size_t n_evals;
    double accuracy; /* latest headline metric (first of eval.metrics; NaN before the first) */
    /* the engine's state after this round (NULL when none), malloc'd: the callback may take it
     * and set this to NULL (the results writer keeps it until written: a million clients'
     * state is 33 MB that a copy would fault in and move again); the engine frees the rest */
    unsigned char *checkpoint;
    size_t checkpoint_len;
} fs_round_result;

typedef int (*fs_engine_round_fn)(void *ctx, fs_round_result *res, fs_err *err);

typedef struct fs_engine_cfg {
    const fs_scenario *scn;
    fs_world *world;
    fs_pop *pop;
    int n_threads;
    fs_engine_round_fn on_round; /* may be NULL */
    void *ctx;
    volatile sig_atomic_t
        *stop;                /* set asynchronously to stop after the current round; may be NULL */
    fs_evaluator *eval;       /* borrowed; NULL: the engine makes its own from the scenario */
    int checkpoint_every;     /* hand a state snapshot to on_round every N rounds (policies
                                 whose fs_server_ops entry is checkpointable: sync) */
    double checkpoint_min_interval_s; /* ... at most one per this many wall seconds, except
                                         the rounds checkpoint_due (fs_engine.c) always keeps;
                                         0: every due round */
    const void *resume_state; /* a snapshot to continue from (checkpointable policies), or NULL */
    size_t resume_len;
    int resume_round;         /* the round the database says resume_state was taken after */
    const char *resume_origin; /* names resume_state in messages ("db: run 3"); may be NULL */
    uint64_t data_fingerprint; /* fs_ckpt_fingerprint of the world: stamped on every snapshot,
                                  a snapshot with another one is refused */
    /* called once resume_state was checked and restored, before the first round (the caller
     * takes the run over only then, so a refused snapshot leaves its run as it was); may be
     * NULL */
    int (*on_resumed)(void *ctx, fs_err *err);
    /* train every participation at launch, never when due (fs_engine_train.c): the same
     * results, more training; tests compare the two */
    bool train_at_launch;
} fs_engine_cfg;

typedef struct fs_engine_stats {
    int rounds;
    int64_t t_end;         /* virtual microseconds */
    uint64_t events;       /* events popped (tombstones excluded) */
    double final_accuracy; /* headline metric at the end; NaN when never evaluated */
    double train_s, eval_s; /* wall seconds spent training clients and evaluating the model:
                             * what is left of a run's time is the engine's own overhead */
    /* Three parts of that overhead, in wall seconds, timed around calls a policy makes once per
     * round or dispatch (FedBuff selects once per participation), never per event: selection
     * (fs_engine_select: availability queries, and the non-zeros of on-demand clients met for
     * the first time, whose data that generates), aggregation (fs_engine_aggregate) and
     * recording (fs_engine_deliver: the round's rows and checkpoint handed to the writer, or
     * written when there is none, a wait for room in its queue, the progress line; across MPI
     * ranks the agreement after each round). The rest is the participations' planning, events
     * and accounting. */
    double select_s, aggregate_s, record_s;
    long trained_here;     /* clients this process trained (across MPI ranks: its share) */
} fs_engine_stats;

/* FS_ESCENARIO, naming the key, when the scenario asks for a combination the engine cannot
 * simulate faithfully with these data (e.g. SCAFFOLD on a sparse model). fs_engine_run checks it
 * too; callers run it before creating any output. */
int fs_engine_check(const fs_scenario *s, const fs_world *w, fs_err *err);

/* Runs the campaign to server.rounds or server.max_virtual_hours. out_w (n_params, may be NULL)
 * receives the final global model. Returns FS_EINTERRUPTED when *stop was set (the rounds
 * before it were delivered complete), or the first error of training or of the callback. */
int fs_engine_run(const fs_engine_cfg *cfg, fs_real *out_w, fs_engine_stats *out_stats, fs_err *err);

#endif
