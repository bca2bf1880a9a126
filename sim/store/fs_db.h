/* fs_db: the results recorder. Owns the SQLite schema (DESIGN.md section 8) and every write to
 * it. WAL mode; one transaction per round (round row, its participations and evaluations land
 * together or not at all), so a killed run keeps every completed round. runs.status goes
 * running -> done | failed | interrupted. Rows are plain structs: the recorder knows nothing of
 * the engine's types. Every SQLite failure is reported with sqlite3_errmsg and what was being
 * written, and returns FS_EDB. */
#ifndef FS_DB_H
#define FS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"

typedef struct fs_db fs_db;

typedef struct fs_db_run {
    const char *name;
    const char *scenario_json;
    uint64_t seed;
    const char *variant;        /* "" for a plain run */
    const char *fedsim_version;
    const char *target_metric;  /* eval.target: metric name, or NULL/"" when none */
    double target_value;
    int target_lower_better;    /* 1 when the target is reached by going at or below the value */
    int target_sustain;         /* evaluations the target must hold for (eval.target.sustain) */
    uint64_t population_seed;   /* the seed of everything drawn once per client */
    int replicate;              /* 1-based replicate of a replicated sweep; 0 = none (NULL) */
    const char *headline_metric; /* first of eval.metrics: the run's headline */
    const char *precision;       /* what the models trained in: FS_REAL_NAME ("float32") */
    int threads;                /* metadata: never influences results */
    int ranks;                  /* metadata: MPI ranks of the job that ran it (<= 0: 1) */
    const char *host;           /* metadata */
    int64_t run_id;             /* the run_id to record the run under (a sweep's, so that ids do
                                   not follow which child started first); 0: the next free one */
    bool run_id_or_next;        /* a taken run_id means the next free one (the id returned
                                   differs), not a failure: a sweep's child when another process
                                   writes the same file */
} fs_db_run;

typedef struct fs_db_client {
    uint32_t client_id;
    uint32_t n_train, n_test;
    const char *segment;        /* e.g. "utc+1"; may be NULL */
    double gflops, uplink_mbps, downlink_mbps, latency_ms;
    int consent;                /* 1 = may participate */
    const char *trace_key;      /* availability trace key name; NULL without a trace */
    const char *device_class;   /* low|mid|high, or the capacity trace's device_model */
    const char *network;        /* "wifi" (Wi-Fi at home) or "cellular" */
    bool has_utc_offset;        /* diurnal availability: the client has a time zone */
    int utc_offset_min;         /* its offset from UTC in minutes (+330 for utc+5.5) */
    int attacker;               /* 1 = runs adversary.attack */
} fs_db_client;

/* One participation_mix row: n clients of level `level` of group column `grp` at `stage`
 * (population, consenting: round 0; online, selected, reported: the round). */
typedef struct fs_db_mix {
    int round;
    const char *grp, *level, *stage;
    int64_t n;
} fs_db_mix;

typedef struct fs_db_round {
    int round;                  /* 1-based */
    int64_t t_start, t_end;     /* virtual microseconds since campaign start */
    int selected, reported, dropped, late, aborted;
    int64_t bytes_up, bytes_down;
    double train_loss;          /* sample-weighted mean local loss of aggregated clients;
                                 * NaN if none */
    double epsilon;             /* NaN when no DP */
    double compute_s;           /* device-seconds of local training in the round, including the
                                   work of clients that dropped or were cut off */
    double online_share;        /* measured at selection: available / clients examined (NaN when
                                   nobody was examined) */
    double wall_s;              /* metadata: wall seconds spent on the round */
    int rejected;               /* reports refused as non-finite or exploding (not aggregated) */
    double energy_j;            /* sum of the round's participations' energy_j, drops included */
    /* Every participation of the round, whether or not output.participation records them: their
     * energy goes to client_energy_rounds (NULL/0: none). Not a column. */
    const struct fs_db_part *energy_parts;
    size_t n_energy_parts;
    /* Who trains (NULL: nothing recorded): the round's participation_mix rows, and with them its
     * selection_rounds row (Jain's index and the never-selected share after the round). Not
     * columns of rounds. */
    const fs_db_mix *mix;
    size_t n_mix;
    double jain, never_selected;
} fs_db_round;

/* outcome: "reported" (aggregated), "dropped" (went offline or crashed), "late" (arrived after
 * the deadline), "aborted" (still in flight when the round had enough reports), "rejected"
 * (arrived, but its update was non-finite or exploding and was not aggregated). Times are
 * virtual microseconds, -1 when the stage was not reached. */
typedef struct fs_db_part {
    uint32_t client_id;
    const char *outcome;
    int64_t t_selected, t_downloaded, t_trained, t_reported;
    uint32_t n_samples;
    uint32_t steps;
    double local_loss;          /* NaN when training did not happen */
    double update_norm;         /* L2 norm of (local - global); NaN when not trained */
    int64_t bytes_up, bytes_down;
    int staleness;              /* rounds; 0 in sync mode */
    int seq;                    /* the client's participation number within the round: 0, or
                                 * 1, 2, ... when it took part again in one async window */
    double energy_j;            /* fs_energy_part_j of what it did until it ended */
    const char *network;        /* "wifi" | "cellular" */
} fs_db_part;

/* Whether a participation gives a client_energy_rounds row: it spent energy (NaN or 0: none). */
static inline bool fs_db_part_has_energy(const fs_db_part *p)
{
    return p->energy_j > 0;
}

typedef struct fs_db_eval {
    const char *segment;        /* "all" for the whole test set */
    const char *metric;         /* "accuracy", "loss", ... */
    double value;
} fs_db_eval;

/* Opens or creates the database (parent folder must exist), creates the schema if missing
 * (an existing file gets new runs appended). Before writing anything (no table, no WAL switch)
 * it refuses, with FS_EDB, a file with another schema_version and a file that has tables but no
 * meta.schema_version (another application's database). Waits up to 60 s for another process's
 * lock (env FEDSIM_BUSY_TIMEOUT_MS: milliseconds; a bad value is FS_ESCENARIO).
 * *out is NULL on failure; the caller frees with fs_db_close. */
int fs_db_open(const char *path, fs_db **out, fs_err *err);

/* fs_db_open, giving a file it creates pages of page_size bytes (a power of two in 512..65536;
 * 0 for SQLite's 4096). An existing file keeps its own: a page size is fixed once a table is
 * written. */
int fs_db_open_paged(const char *path, int page_size, fs_db **out, fs_err *err);

/* The page size for a new file whose runs have `clients` clients: 64 KiB (SQLite's largest)
 * from 100,000 on, where the clients table (a million rows, ~80 MB) is most of what the run
 * writes and fewer WAL frames (two write calls each) and b-tree pages cost less (4096 -> 16 KiB:
 * 1M-user ctr_regions 2.8 -> 2.5 s; 16 -> 64 KiB: the writer's CPU 1.15 -> 1.00 s there, 0.21 ->
 * 0.19 s on the shipped 100,000-user one); SQLite's 4096 below, where a round's commit of a few
 * pages is most of it and a bigger page only writes more (64 KiB made the 1,000-client softmax
 * run 40 ms slower). */
int fs_db_page_size_for(size_t clients);

/* The one way to open a results database for reading (report, plan, sweep): never creates or
 * writes the file, works without write access to the file or its folder (read-only media: an
 * immutable open, refused when a -wal file with content would be ignored), and refuses a file
 * that is not a fedsim database of FS_DB_SCHEMA_VERSION. FS_EIO when the file is missing or not
 * a regular file, FS_EDB otherwise; *out (caller closes with sqlite3_close) is NULL on
 * failure. */
struct sqlite3;
int fs_db_open_readonly(const char *path, struct sqlite3 **out, fs_err *err);

/* Steps a one-row query on any connection and copies its first column into out ("" when NULL
 * or no row). SQLITE_OK or the SQLite error code (the message stays on the connection). */
int fs_db_query_text(struct sqlite3 *c, const char *sql, char *out, size_t n);

/* Column i of the current row as a double, NaN for SQL NULL: the inverse of the recorder's
 * NaN -> NULL mapping, for every reader of the file. */
struct sqlite3_stmt;
double fs_db_column_real(struct sqlite3_stmt *st, int i);
void fs_db_close(fs_db *db); /* NULL is a no-op; rolls back a transaction left open */
const char *fs_db_path(const fs_db *db); /* borrowed, lives as long as db */

/* Inserts a runs row with status 'running' and started_at = now (UTC ISO 8601). The seed is
 * stored as a signed 64-bit INTEGER (seeds >= 2^63 read back negative; cast to uint64_t).
 * The run is claimed by this connection until fs_db_close (a lock in the file DB-lock, see
 * results/README.md), as is a run continued by fs_db_resume. Its run_id is run->run_id when
 * given; a taken one is FS_EDB with nothing written, unless run->run_id_or_next. */
int fs_db_begin_run(fs_db *db, const fs_db_run *run, int64_t *out_run_id, fs_err *err);

/* All clients of a run, in one transaction. */
int fs_db_write_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                        fs_err *err);

/* One round: its rounds row, participations (may be NULL/0 when not recorded) and evaluations
 * (t of the evals = r->t_end), in one transaction: on failure nothing of the round is kept and
 * the message reads "<db path>: writing round <n>: <sqlite message>". In every row struct a NaN
 * float and a negative virtual time are stored as NULL. */
int fs_db_write_round(fs_db *db, int64_t run_id, const fs_db_round *r, const fs_db_part *parts,
                      size_t n_parts, const fs_db_eval *evals, size_t n_evals, fs_err *err);

/* fs_db_write_round plus, in the same transaction, the engine's state after the round as the
 * run's only checkpoint (state NULL: none), in rows of at most fs_db_ckpt_chunk bytes
 * (checkpoints.server_state, then checkpoint_chunks). */
int fs_db_write_round_ckpt(fs_db *db, int64_t run_id, const fs_db_round *r,
                           const fs_db_part *parts, size_t n_parts, const fs_db_eval *evals,
                           size_t n_evals, const void *state, size_t state_len, fs_err *err);

/* Rounds in one transaction: between fs_db_rounds_begin and fs_db_rounds_end each
 * fs_db_write_round(_ckpt) only adds its rows, and one commit appends each page the rounds
 * share to the WAL once (the writer thread's rounds: 2,000 small rounds took 5.8x fewer WAL
 * writes). No savepoint per round: SQLite writes a savepoint's undo pages to a temporary file,
 * as many writes as the WAL saved. So a round that fails rolls the whole batch back (its
 * message as outside a batch), and fs_db_rounds_end then returns FS_EDB with nothing of the
 * batch in the file: the caller writes those rounds again one by one (fs_round_queue_flush).
 * fs_db_rounds_end fails so too when the COMMIT does. fs_db_rounds_begin fails as the BEGIN of
 * its first round would (another process's lock: "<db path>: writing round <first_round>:
 * ..."), having written nothing. Nothing else may use db between the two. */
int fs_db_rounds_begin(fs_db *db, int first_round, fs_err *err);
int fs_db_rounds_end(fs_db *db, fs_err *err);

/* Bytes of a checkpoint per row: 256 MiB, or SQLite's blob limit when lower. The setter is for
 * tests (0 restores the default). */
size_t fs_db_ckpt_chunk(const fs_db *db);
void fs_db_set_ckpt_chunk(fs_db *db, size_t bytes);

/* Finds the latest unfinished run with run->name, run->variant and run->replicate and reads its
 * latest checkpoint, changing nothing: *out_state (caller frees) receives the checkpoint's bytes.
 * With FS_OK and *out_state NULL: *out_run_id is the run to run again from round 0 (it stopped
 * before its first checkpoint; fs_db_resume_claim(db, id, 0, ...) takes it over), or 0 when
 * there is none (or it was started from another scenario: it stays as it is). FS_ESCENARIO (with the reason) when the run
 * was started from another effective scenario (run->scenario_json); FS_EDB, naming the database
 * and run, when the rows are damaged (scenario_json NULL or empty, a round before the checkpoint
 * missing, a chunk missing, or another live process holds (is writing) that run); FS_ENOMEM. The bytes themselves are checked by fs_ckpt_load. */
int fs_db_resume(fs_db *db, const fs_db_run *run, int64_t *out_run_id, int *out_round,
                 void **out_state, size_t *out_len, fs_err *err);

/* Takes a run over once its checkpoint was accepted: deletes what it recorded after `round`
 * (round 0: everything, clients rows included) and marks it running, in one transaction. */
int fs_db_resume_claim(fs_db *db, int64_t run_id, int round, fs_err *err);

/* FS_OK when the run's clients rows are exactly `clients` (the devices a resume redraws from
 * the seed); otherwise FS_EDB naming the first row and column that differ. */
int fs_db_check_clients(fs_db *db, int64_t run_id, const fs_db_client *clients, size_t n,
                        fs_err *err);

/* status: "done", "failed" or "interrupted"; sets finished_at and wall_s (NaN: NULL). Safe
 * after a failed or cut-short write: it first rolls back any transaction still open, so the
 * run keeps exactly its committed rounds. Not async-signal-safe: a signal handler only sets a
 * flag, and the main loop calls this. FS_EDB if no such run. */
int fs_db_finish_run(fs_db *db, int64_t run_id, const char *status, double wall_s, fs_err *err);

/* Sets runs.status alone (e.g. back to "running" when a run is resumed). FS_EDB if no such
 * run or status is not one of the four allowed. */
int fs_db_set_status(fs_db *db, int64_t run_id, const char *status, fs_err *err);

/* Recomputes the replicate statistics of every variant of sweep `name` (tables variant_stats
 * and variant_round_stats, read by v_variant_summary and v_variant_rounds) from its done runs:
 * the latest run of each (variant, replicate). One transaction; FS_EDB with the reason. */
int fs_db_refresh_variant_stats(fs_db *db, const char *name, fs_err *err);

#endif
