/* fs_engine_int: what the server policies (fs_server.h; fs_sync.c, fs_async.c) may use of the
 * engine: its state, read by them and written only through the functions below or where a
 * comment says so, and the steps of a participation's life cycle, which fs_engine.c plays. Not
 * part of the public API. */
#ifndef FS_ENGINE_INT_H
#define FS_ENGINE_INT_H

#include "fs_agg.h"
#include "fs_cstate.h"
#include "fs_device.h"
#include "fs_engine.h"
#include "fs_link.h"
#include "fs_mix.h"
#include "fs_server.h"

/* Event kinds double as tie-break classes: at one instant a drop is seen before progress, and a
 * report arriving exactly at a policy's timer (the sync deadline) still counts. The shared-link
 * kinds sit between the arrival and the timer so that the older kinds keep their relative order
 * (runs without a link are unchanged): EV_JOIN, a transfer's latency is over and its bytes start
 * flowing on the link; EV_LINK, the next finish on a link (one pending per link, slot = LINK_*). */
enum { EV_DROPPED, EV_DOWNLOADED, EV_TRAINED, EV_ARRIVED, EV_JOIN, EV_LINK, EV_TIMER };

/* The shared server links (fs_link.h): the egress carries downloads, the ingress uploads. */
enum { LINK_DOWN, LINK_UP, N_LINKS };

/* Where a participation's current transfer stands on its link (when the stage has one). */
enum { XF_WAIT, XF_ON, XF_DONE };

enum {
    ST_DOWNLOADING, ST_TRAINING, ST_UPLOADING,
    ST_REPORTED, ST_DROPPED, ST_LATE, ST_ABORTED,
    ST_REJECTED /* arrived, but its update was poisoned (fs_train.h): not aggregated */
};

#define WAIT_LIMIT_US (30 * 24 * FS_US_PER_H)

typedef struct fs_part {
    uint32_t client;
    int stage;
    int progress;          /* stages completed: 1 downloaded, 2 trained, 3 reported */
    bool offline_drop;     /* the planned drop is the client going offline (not a crash) */
    int64_t t_sel, t_dl, t_tr, t_rep, t_drop, t_end;
    int64_t t_off;         /* when the client goes offline (INT64_MAX: not during this round) */
    double crash_at;       /* crash at this fraction of the participation; < 0: no crash */
    double bytes_up;       /* size of its update on the wire */
    bool cellular;         /* on cellular at selection (devices.network): its link below */
    double up_mbps, down_mbps, latency_ms; /* the link of this participation */
    uint64_t handle;       /* pending event, 0 when none */
    /* with a shared link: the current stage's transfer (XF_*), the planned training and upload
     * durations (the stages after a shared transfer move with its finish) and the bytes each
     * link transfer moved */
    int xfer;
    int64_t d_train, d_up;
    double moved[N_LINKS];
    bool deferred;         /* trained only when its training is due (fs_engine_train.c) */
} fs_part;

/* A deferred participation and when its training ends, as planned now (fs_engine_train.c). */
typedef struct fs_due {
    int64_t t;
    uint32_t slot;
} fs_due;

typedef struct fs_engine {
    const fs_engine_cfg *cfg;
    const fs_scenario *s;
    const fs_server_ops *ops; /* the policy of server.mode, and its state */
    void *pol;
    fs_evq q;
    fs_avail avail;
    fs_trainer trainer;
    gsl_rng *r_sel, *r_cli;
    size_t n_params, max_sel;
    fs_real *w;
    fs_update *updates;    /* max_sel slots, one per in-flight client */
    fs_real *ctrl_deltas;  /* SCAFFOLD: max_sel * n_params */
    fs_real *residuals;    /* error feedback: max_sel * n_params */
    fs_part *parts;
    fs_link links[N_LINKS];          /* the server's egress and ingress, when limited */
    bool link_on[N_LINKS], link_changed[N_LINKS];
    uint64_t link_handle[N_LINKS];   /* the link's pending EV_LINK, 0 when none */
    fs_train_job *jobs;
    fs_train_job *batch;   /* max_sel: the jobs of one launch, contiguous for the trainer */
    size_t *batch_slot;    /* max_sel: the slot of each of them */
    fs_due *due;           /* max_sel: deferred participations by due time (fs_engine_train.c) */
    fs_db_part *rows;
    uint32_t *ids;
    fs_agg_report *reports;
    fs_aggregator agg;
    fs_cstate client_control, client_residual; /* per-client device state (lazy) */
    fs_secagg_cost secagg;  /* per-client protocol overhead, when enabled */
    double model_bytes;     /* what a client downloads (model, plus c for SCAFFOLD) */
    int64_t now;            /* virtual time: events set it, policies only wait (wait_until) */
    uint64_t pass;
    int round;              /* the round being played (written by the policy) */
    size_t queried, online; /* availability queries at selection since the last round row */
    uint64_t stream_round;  /* names a dispatch's random streams (set by the policy): the round
                             * (sync) or the dispatch batch (async, many per round) */
    fs_mix mix;             /* who trains: counted at selection, report and delivery */
    fs_evaluator own_eval, *eval;
    double last_accuracy;
    double train_s, eval_s; /* wall seconds in the trainer and the evaluator (fs_engine_stats) */
    double select_s, aggregate_s, record_s; /* the engine's own parts (fs_engine_stats) */
    /* the threads a wave of deferred training keeps busy (fs_engine_train.c): the most any
     * rank has, the same on every rank, since every rank must train the same wave */
    int wave_threads;
    double wall_checkpoint; /* when the last snapshot was taken (the engine's start before one) */
    int kept_round;         /* the round of the last snapshot (the resumed one, 0 before one) */
} fs_engine;

/* ---- dispatch ---- */

/* Selects up to `want` clients available at e->now into e->ids by server.selection, counts the
 * availability queries for the round's online share, and advances the selection pass. */
size_t fs_engine_select(fs_engine *e, size_t want, fs_err *err);
/* Puts `client` in `slot` at e->now: plans its participation (streams of e->stream_round),
 * sets up its training job (clients that cannot finish training online before `deadline` are
 * not trained; INT64_MAX: no deadline) and marks it busy. */
int fs_engine_prepare(fs_engine *e, size_t slot, uint32_t client, int64_t deadline, fs_err *err);
/* Asks for the memory fs_engine_prepare(e, slot, client, ...) will touch, some calls ahead. */
void fs_engine_prefetch(const fs_engine *e, size_t slot, uint32_t client);
/* Launches the n prepared slots (slots NULL: 0..n-1): trains them together, finishes their plans
 * and queues their first events; under a policy with reports_wanted, a participation whose
 * upload size alone decides nothing before its training ends is trained only when that is due
 * (fs_engine_train.c). */
int fs_engine_launch(fs_engine *e, const size_t *slots, size_t n, fs_err *err);
/* A deferred participation's training is due now: trains it with the deferred ones due soonest
 * and finishes their plans. */
int fs_engine_train_due(fs_engine *e, uint32_t slot, fs_err *err);
/* Moves the k earliest of d[0..n) (k < n; by time, then slot) to its front, in no particular
 * order: a wave trains a set, and the order its batch lists the jobs in changes nothing (each
 * job is its client's own). The first wave of a 500-report round takes 546 of 649: sorting them
 * all was 8% of the engine's time on ctr_regions. */
void fs_engine_keep_earliest(fs_due *d, size_t n, size_t k);
/* Upload time from the update's real size, then the drop time (fs_engine.c). */
void fs_engine_finish_plan(fs_engine *e, fs_part *p, const fs_update *u, bool trained);
/* Queues the participation's next event: its next stage, or its drop if that comes first. */
int fs_engine_push_next(fs_engine *e, uint32_t slot, fs_err *err);
size_t fs_engine_partial_budget(fs_engine *e, fs_part *p, int64_t deadline);
int fs_engine_load_residual(fs_engine *e, size_t slot, uint32_t client, fs_err *err);

/* ---- the clock: timers and waits ---- */

/* A policy timer at t (fires as EV_TIMER, after every participation event of the same instant):
 * its handle, 0 with a message when out of memory. */
uint64_t fs_engine_push_timer(fs_engine *e, int64_t t, fs_err *err);
void fs_engine_cancel_timer(fs_engine *e, uint64_t handle);
/* Moves the clock to t >= e->now with nothing happening in between (waiting for clients,
 * pacing). */
void fs_engine_wait_until(fs_engine *e, int64_t t);
bool fs_engine_stop_requested(const fs_engine *e);
/* Whether a checkpointing policy stops before playing round `round`: a stop was requested and
 * the state after round - 1 is kept, or need not be (checkpoint_due's rules); otherwise that
 * round is played and kept, so that --resume loses nothing. */
bool fs_engine_stops_before(const fs_engine *e, int round);
int64_t fs_engine_time_limit(const fs_scenario *s);

/* ---- ending participations, round rows ---- */

/* The server cuts a participation still in flight off at t: its pending event is cancelled. */
void fs_engine_abort(fs_engine *e, size_t slot, int stage, int64_t t);
void fs_engine_account_part(fs_engine *e, size_t i, fs_db_round *row);
/* Asks for the memory fs_engine_account_part(e, i, ...) will touch, some calls ahead. */
void fs_engine_prefetch_account(const fs_engine *e, size_t i);
int fs_engine_evaluate(fs_engine *e, fs_round_result *res, fs_err *err);
/* The server's step from the n reports (fs_agg_round; selected: the round's n_sel clients, NULL
 * when the policy has no round of selected clients). */
int fs_engine_aggregate(fs_engine *e, const fs_agg_report *reports, size_t n,
                        const uint32_t *selected, size_t n_sel, fs_err *err);
double fs_engine_take_online_share(fs_engine *e);
/* Hands a closed round to cfg->on_round with the headline metric, and with a snapshot when the
 * policy is checkpointable and the round is due (output.checkpoint_every and
 * checkpoint_min_interval_s, fs_engine.c's checkpoint_due). */
int fs_engine_deliver(fs_engine *e, fs_round_result *res, fs_err *err);

#endif
