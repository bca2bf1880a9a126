/* fs_engine_int: the engine's internals shared by its three files: fs_engine.c (state, the life
 * cycle of one participation, accounting), fs_sync.c (synchronous rounds) and fs_async.c
 * (buffered asynchronous aggregation, FedBuff). Not part of the public API. */
#ifndef FS_ENGINE_INT_H
#define FS_ENGINE_INT_H

#include "fs_agg.h"
#include "fs_cstate.h"
#include "fs_device.h"
#include "fs_engine.h"

/* Event kinds double as tie-break classes: at one instant a drop is seen before progress, and a
 * report arriving exactly at the deadline still counts. */
enum { EV_DROPPED, EV_DOWNLOADED, EV_TRAINED, EV_ARRIVED, EV_DEADLINE, EV_RETRY };

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
    uint64_t handle;       /* pending event, 0 when none */
} fs_part;

typedef struct fs_engine {
    const fs_engine_cfg *cfg;
    const fs_scenario *s;
    fs_evq q;
    fs_avail avail;
    fs_trainer trainer;
    gsl_rng *r_sel, *r_cli;
    size_t n_params, max_sel, n_sel;
    double *w;
    fs_update *updates;    /* max_sel slots, one per in-flight client */
    double *ctrl_deltas;   /* SCAFFOLD: max_sel * n_params */
    double *residuals;     /* error feedback: max_sel * n_params */
    fs_part *parts;
    fs_train_job *jobs;
    fs_db_part *rows;
    uint32_t *ids;
    fs_agg_report *reports;
    fs_aggregator agg;
    fs_cstate client_control, client_residual; /* per-client device state (lazy) */
    fs_secagg_cost secagg;  /* per-client protocol overhead, when enabled */
    double model_bytes;     /* what a client downloads (model, plus c for SCAFFOLD) */
    int64_t now;
    uint64_t pass;
    /* the round being played */
    int round, reported, n_final;
    size_t queried, online; /* availability queries at selection since the last round row */
    uint64_t stream_round;  /* names this dispatch's random streams: the round (sync) or the
                             * dispatch batch (async, where a round has many dispatches) */
    bool closed, by_deadline;
    int64_t t_close;
    uint64_t deadline_handle;
    fs_evaluator own_eval, *eval;
    double last_accuracy;
} fs_engine;

/* ---- one participation (fs_engine.c) ---- */

void fs_engine_plan(fs_engine *e, fs_part *p, uint32_t id, int64_t t0);
void fs_engine_finish_plan(fs_engine *e, fs_part *p, const fs_update *u, bool trained);
int fs_engine_push_event(fs_engine *e, int kind, int64_t t, uint32_t slot, fs_err *err);
int fs_engine_push_next(fs_engine *e, uint32_t slot, fs_err *err);
void fs_engine_finish_part(fs_engine *e, fs_part *p, int stage, int64_t t);
int fs_engine_keep_state(fs_engine *e, uint32_t slot, fs_err *err);
/* Selects up to `want` clients available at e->now into e->ids by server.selection, counts the
 * availability queries for the round's online share, and advances the selection pass. */
size_t fs_engine_select(fs_engine *e, size_t want, fs_err *err);
size_t fs_engine_partial_budget(fs_engine *e, fs_part *p, int64_t deadline);
int fs_engine_load_residual(fs_engine *e, size_t slot, uint32_t client, fs_err *err);
void fs_engine_account_part(fs_engine *e, size_t i, fs_db_round *row);
int fs_engine_evaluate(fs_engine *e, fs_round_result *res, fs_err *err);
double fs_engine_take_online_share(fs_engine *e);
int64_t fs_engine_time_limit(const fs_scenario *s);
int fs_sync_run(fs_engine *e, fs_err *err);

/* ---- servers ---- */

int fs_async_run(fs_engine *e, fs_err *err);

#endif
