/* fs_db_schema: tables and views of the results database. Documented column by column in
 * results/README.md; a change here is a change there (and, for tables, a new schema version).
 *
 * Views are the planner's interface: they turn per-round rows into "when, at what cost". They
 * compute on read (nothing is stored twice) and use window functions for running totals
 * (SQLite >= 3.25). None of them has an ORDER BY: callers sort, and the views stay cheap to
 * filter. */
#include "fs_db_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_err.h"
#include "fs_metrics.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Microseconds per hour, for the *_h columns. */
#define US_PER_H "3600000000.0"

/* Statistics over the replicates of each sweep variant (sweep.replications), computed by fedsim
 * with GSL (sim/store/fs_db_stats.c) when a sweep finishes and recomputed when it is resumed: SQLite
 * has no t quantile, and the views must answer in the plain sqlite3 shell, so the numbers are
 * stored rather than computed on read. Keyed by the scenario name and the variant label. */
#define STATS_TABLES_SQL                                                                        \
    "CREATE TABLE IF NOT EXISTS variant_stats("                                                 \
    " name TEXT NOT NULL, variant TEXT NOT NULL, n_replicates INTEGER, final_metric TEXT,"      \
    " mean_final REAL, sd_final REAL, ci_low_final REAL, ci_high_final REAL,"                  \
    " target_metric TEXT, target_value REAL, n_reached INTEGER, reach_share REAL,"              \
    " mean_hours_to_target REAL, ci_low_hours REAL, ci_high_hours REAL,"                        \
    " mean_bytes_to_target REAL, ci_low_bytes REAL, ci_high_bytes REAL,"                        \
    " mean_epsilon_at_target REAL, updated_at TEXT, mean_energy_to_target REAL,"                \
    " ci_low_energy REAL, ci_high_energy REAL, PRIMARY KEY(name, variant));"                    \
    "CREATE TABLE IF NOT EXISTS variant_round_stats("                                           \
    " name TEXT NOT NULL, variant TEXT NOT NULL, round INTEGER NOT NULL, metric TEXT NOT NULL,"  \
    " n INTEGER, mean REAL, sd REAL, ci_low REAL, ci_high REAL, mean_t_h REAL,"                 \
    " mean_cum_bytes REAL, mean_epsilon REAL, PRIMARY KEY(name, variant, round, metric));"

/* Who trains (version 6; sim/engine/fs_mix.c fills them). participation_mix counts clients per
 * group column (every eval.segments group, device_class, and utc_offset under diurnal
 * availability), level and stage. The population and consenting counts do not change during a
 * run: they are stored once, as round 0, with every level (zeros included). The per-round stages
 * (online: examined at selection and found online and eligible; selected; reported) are
 * stored only where n > 0: a missing row is a zero. selection_rounds holds, after each round,
 * Jain's fairness index of the per-client selection counts so far over the consenting
 * population, and the share of it never selected so far. */
#define MIX_TABLES_SQL                                                                          \
    "CREATE TABLE IF NOT EXISTS participation_mix("                                             \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, grp TEXT NOT NULL, level TEXT NOT NULL, stage TEXT NOT NULL,"     \
    " n INTEGER NOT NULL, PRIMARY KEY(run_id, round, grp, level, stage)) WITHOUT ROWID;"        \
    "CREATE TABLE IF NOT EXISTS selection_rounds("                                              \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, jain REAL, never_selected REAL,"                                  \
    " PRIMARY KEY(run_id, round)) WITHOUT ROWID;"

/* IF NOT EXISTS everywhere: opening an existing results file appends runs to it. Children
 * reference runs(run_id) ON DELETE CASCADE so deleting a run (e.g. to redo a sweep variant)
 * removes all its rows. No separate index on participation(run_id, round): the primary key
 * (run_id, round, client_id, seq) already serves that prefix; the extra index is for per-client
 * history queries. seq numbers a client's participations within one round (0, then 1, 2, ...):
 * in async mode a client that ends, is picked again at once and ends again before the buffer
 * fills takes part twice in one aggregation window. The target columns of runs are all NULL
 * when the scenario set no target. A checkpoint above 256 MiB continues from
 * checkpoints.server_state into checkpoint_chunks (SQLite refuses blobs above 10^9 bytes).
 * clients and participation, the two big tables (a row per client, per participation), are
 * WITHOUT ROWID: a row is stored once, in its primary key's b-tree, instead of in a rowid table
 * plus the key's index (since version 4; 1,000,000 clients were 1 s of a 4 s run). Files
 * upgraded from older versions keep their rowid tables: same columns, same queries. */
#define TABLES_SQL                                                                              \
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"                        \
    "INSERT OR IGNORE INTO meta(key, value)"                                                    \
    " VALUES('schema_version', '" STR(FS_DB_SCHEMA_VERSION) "');"                               \
    "CREATE TABLE IF NOT EXISTS runs("                                                          \
    " run_id INTEGER PRIMARY KEY, name TEXT, scenario_json TEXT, seed INTEGER, variant TEXT,"   \
    " target_metric TEXT, target_value REAL, target_lower_better INTEGER, fedsim_version TEXT," \
    " status TEXT NOT NULL CHECK(status IN ('running','done','failed','interrupted')),"         \
    " started_at TEXT, finished_at TEXT, wall_s REAL, threads INTEGER, host TEXT,"             \
    " population_seed INTEGER, replicate INTEGER, target_sustain INTEGER,"                      \
    " headline_metric TEXT, precision TEXT, ranks INTEGER);"                                  \
    "CREATE TABLE IF NOT EXISTS clients("                                                       \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " client_id INTEGER NOT NULL, n_train INTEGER, n_test INTEGER, segment TEXT, gflops REAL,"  \
    " uplink_mbps REAL, downlink_mbps REAL, latency_ms REAL, consent INTEGER, trace_key TEXT,"  \
    " device_class TEXT, network TEXT, utc_offset_min INTEGER, attacker INTEGER,"                \
    " PRIMARY KEY(run_id, client_id)) WITHOUT ROWID;"                                           \
    "CREATE TABLE IF NOT EXISTS rounds("                                                        \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, t_start INTEGER, t_end INTEGER, selected INTEGER,"                \
    " reported INTEGER, dropped INTEGER, late INTEGER, aborted INTEGER, bytes_up INTEGER,"      \
    " bytes_down INTEGER, train_loss REAL, epsilon REAL, compute_s REAL, online_share REAL,"    \
    " wall_s REAL, rejected INTEGER, energy_j REAL, PRIMARY KEY(run_id, round));"               \
    "CREATE TABLE IF NOT EXISTS participation("                                                 \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, client_id INTEGER NOT NULL,"                                      \
    " outcome TEXT NOT NULL"                                                                   \
    "  CHECK(outcome IN ('reported','dropped','late','aborted','rejected')),"                   \
    " t_selected INTEGER, t_downloaded INTEGER, t_trained INTEGER, t_reported INTEGER,"         \
    " n_samples INTEGER, steps INTEGER, local_loss REAL, update_norm REAL, bytes_up INTEGER,"   \
    " bytes_down INTEGER, staleness INTEGER, seq INTEGER NOT NULL DEFAULT 0, energy_j REAL,"    \
    " network TEXT,"                                                                           \
    " PRIMARY KEY(run_id, round, client_id, seq)) WITHOUT ROWID;"                               \
    "CREATE TABLE IF NOT EXISTS client_energy_rounds("                                          \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL DEFAULT 0, client_id INTEGER NOT NULL, day INTEGER NOT NULL,"     \
    " energy_j REAL, PRIMARY KEY(run_id, round, client_id, day)) WITHOUT ROWID;"               \
    "CREATE VIEW IF NOT EXISTS client_energy AS SELECT run_id, client_id, day,"                 \
    " sum(energy_j) AS energy_j FROM client_energy_rounds GROUP BY run_id, client_id, day;"     \
    "CREATE INDEX IF NOT EXISTS participation_client"                                           \
    " ON participation(run_id, client_id, round);"                                              \
    "CREATE TABLE IF NOT EXISTS evals("                                                         \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, t INTEGER, segment TEXT NOT NULL, metric TEXT NOT NULL,"          \
    " value REAL, PRIMARY KEY(run_id, round, segment, metric));"                                \
    "CREATE TABLE IF NOT EXISTS checkpoints("                                                   \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, model BLOB, server_state BLOB,"                                   \
    " PRIMARY KEY(run_id, round));"                                                             \
    "CREATE TABLE IF NOT EXISTS checkpoint_chunks("                                             \
    " run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,"                       \
    " round INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,"                        \
    " PRIMARY KEY(run_id, round, seq));"                                                        \
    MIX_TABLES_SQL                                                                              \
    STATS_TABLES_SQL

/* Plain unit conversions. `SELECT *` is expanded when the view is used, so new rounds columns
 * show up in v_rounds without recreating it. */
#define UNIT_VIEWS_SQL                                                                          \
    "CREATE VIEW IF NOT EXISTS v_rounds AS SELECT *,"                                           \
    " t_start / " US_PER_H " AS t_start_h, t_end / " US_PER_H " AS t_end_h FROM rounds;"        \
    "CREATE VIEW IF NOT EXISTS v_evals AS SELECT *, t / " US_PER_H " AS t_h FROM evals;"

/* One row per (run, round, whole-test-set metric); the running totals are taken over rounds
 * before the evals join, so a round evaluated on three metrics is not counted three times.
 * sum() rather than total(): device hours stay NULL for files whose engine recorded no
 * compute time, instead of a misleading 0. */
#define ROUND_METRICS_SQL                                                                       \
    "CREATE VIEW IF NOT EXISTS v_round_metrics AS"                                              \
    " WITH c AS (SELECT r.run_id, u.variant, u.replicate, r.round,"                            \
    "  r.t_start / " US_PER_H " AS t_start_h, r.t_end / " US_PER_H " AS t_end_h,"               \
    "  r.selected, r.reported, r.dropped, r.late, r.aborted, r.bytes_up, r.bytes_down,"         \
    "  sum(r.bytes_up) OVER w AS cum_bytes_up, sum(r.bytes_down) OVER w AS cum_bytes_down,"     \
    "  sum(r.compute_s) OVER w / 3600.0 AS cum_device_h,"                                       \
    "  r.energy_j, sum(r.energy_j) OVER w AS cum_energy_j,"                                     \
    "  r.epsilon, r.online_share, r.train_loss"                                                 \
    "  FROM rounds r JOIN runs u ON u.run_id = r.run_id"                                        \
    "  WINDOW w AS (PARTITION BY r.run_id ORDER BY r.round))"                                   \
    " SELECT c.*, e.metric, e.value FROM c LEFT JOIN evals e"                                   \
    "  ON e.run_id = c.run_id AND e.round = c.round AND e.segment = 'all';"

/* The first evaluation that met the run's own target (runs.target_*) and kept meeting it for
 * target_sustain consecutive evaluations (eval.target.sustain; NULL, as in version 2 files,
 * means 1). A NULL value never meets it. For each evaluation, next_fail is the index of the next
 * evaluation at or after it that misses the target; the run of hits starting there is
 * next_fail - i long (up to the last evaluation when none misses). An evaluation near the end
 * of the run without `sustain` evaluations after it does not count: the target was not shown to
 * hold. Runs without a target are left out; runs that never met it keep one row with
 * reached = 0 and NULL costs. */
#define TIME_TO_TARGET_SQL                                                                      \
    "CREATE VIEW IF NOT EXISTS v_time_to_target AS"                                             \
    " WITH ev AS (SELECT m.*, CASE WHEN m.value IS NULL THEN 0"                                 \
    "   WHEN u.target_lower_better THEN m.value <= u.target_value"                              \
    "   ELSE m.value >= u.target_value END AS ok,"                                              \
    "  row_number() OVER (PARTITION BY m.run_id ORDER BY m.round) AS i,"                        \
    "  coalesce(u.target_sustain, 1) AS sustain"                                                \
    "  FROM v_round_metrics m JOIN runs u ON u.run_id = m.run_id"                               \
    "  WHERE m.metric = u.target_metric),"                                                      \
    " nx AS (SELECT ev.*, min(CASE WHEN NOT ok THEN i END) OVER (PARTITION BY run_id"           \
    "  ORDER BY i ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_fail,"              \
    "  max(i) OVER (PARTITION BY run_id) AS last_i FROM ev),"                                   \
    " hit AS (SELECT nx.*, row_number() OVER (PARTITION BY run_id ORDER BY i) AS k FROM nx"     \
    "  WHERE ok AND coalesce(next_fail, last_i + 1) - i >= sustain)"                            \
    " SELECT u.run_id, u.name, u.variant, u.replicate, u.target_metric, u.target_value,"        \
    "  coalesce(u.target_sustain, 1) AS target_sustain,"                                        \
    "  h.round IS NOT NULL AS reached, h.round, h.t_end_h AS t_h, h.cum_bytes_up AS bytes_up,"  \
    "  h.cum_bytes_down AS bytes_down, h.cum_device_h AS device_h, h.epsilon,"                  \
    "  h.cum_energy_j AS energy_j"                                                              \
    " FROM runs u LEFT JOIN hit h ON h.run_id = u.run_id AND h.k = 1"                           \
    " WHERE u.target_metric IS NOT NULL;"

/* The headline metric of a run: the first of its eval.metrics (runs.headline_metric, the metric
 * the run line printed); in version 2 files, which lack it, the target metric, else the first of
 * accuracy, auc, rmse evaluated on the whole test set, else the alphabetically first one.
 * "Best" follows the target's direction for the target metric, else the metric table's
 * (fs_metrics.h): LOWER_IS_BETTER stands for its lower-is-better names, filled in by
 * fs_db_schema_new. */
#define RUN_FINAL_METRIC_SQL                                                                    \
    " fm AS (SELECT u.run_id, coalesce(u.headline_metric, u.target_metric,"                    \
    "   (SELECT e.metric FROM evals e WHERE e.run_id = u.run_id AND e.segment = 'all'"          \
    "    ORDER BY CASE e.metric WHEN 'accuracy' THEN 0 WHEN 'auc' THEN 1 WHEN 'rmse' THEN 2"    \
    "    ELSE 3 END, e.metric LIMIT 1)) AS metric,"                                             \
    "  u.target_metric, u.target_lower_better FROM runs u),"                                    \
    " fd AS (SELECT run_id, metric, CASE WHEN metric = target_metric THEN target_lower_better"  \
    "  ELSE metric IN (" LOWER_IS_BETTER ") END AS lower FROM fm),"                              \
    " fv AS (SELECT f.run_id, f.metric,"                                                        \
    "  (SELECT e.value FROM evals e WHERE e.run_id = f.run_id AND e.segment = 'all'"            \
    "   AND e.metric = f.metric AND e.value IS NOT NULL ORDER BY e.round DESC LIMIT 1)"         \
    "   AS final_value,"                                                                        \
    "  (SELECT CASE WHEN f.lower THEN min(e.value) ELSE max(e.value) END FROM evals e"          \
    "   WHERE e.run_id = f.run_id AND e.segment = 'all' AND e.metric = f.metric)"               \
    "   AS best_value FROM fd f)"

/* One row per run, rounds or not: totals over its rounds, the last ε (cumulative already). */
#define RUN_SUMMARY_SQL                                                                         \
    "CREATE VIEW IF NOT EXISTS v_run_summary AS"                                                \
    " WITH tot AS (SELECT run_id, count(*) AS rounds, max(t_end) / " US_PER_H " AS virtual_h,"  \
    "  sum(bytes_up) AS bytes_up, sum(bytes_down) AS bytes_down,"                               \
    "  sum(compute_s) / 3600.0 AS device_h, sum(selected) AS selected,"                         \
    "  sum(reported) AS reported, sum(dropped) AS dropped, sum(late) AS late,"                  \
    "  sum(aborted) AS aborted, sum(energy_j) AS energy_j FROM rounds GROUP BY run_id),"        \
    " eps AS (SELECT run_id, epsilon FROM (SELECT run_id, epsilon,"                             \
    "  row_number() OVER (PARTITION BY run_id ORDER BY round DESC) AS k"                        \
    "  FROM rounds WHERE epsilon IS NOT NULL) WHERE k = 1),"                                    \
    RUN_FINAL_METRIC_SQL                                                                        \
    " SELECT u.run_id, u.name, u.variant, u.replicate, u.status,"                               \
    "  coalesce(t.rounds, 0) AS rounds,"           \
    "  t.virtual_h, v.metric AS final_metric, v.final_value, v.best_value,"                     \
    "  coalesce(t.bytes_up, 0) AS bytes_up, coalesce(t.bytes_down, 0) AS bytes_down,"           \
    "  t.device_h, p.epsilon, coalesce(t.selected, 0) AS selected,"                             \
    "  coalesce(t.reported, 0) AS reported, coalesce(t.dropped, 0) AS dropped,"                 \
    "  coalesce(t.late, 0) AS late, coalesce(t.aborted, 0) AS aborted,"                         \
    "  1.0 * t.dropped / nullif(t.selected, 0) AS dropout_share, u.wall_s, u.threads,"          \
    "  t.energy_j, t.energy_j / nullif(t.rounds, 0) AS energy_per_round_j"                      \
    " FROM runs u JOIN fv v ON v.run_id = u.run_id"                                             \
    " LEFT JOIN tot t ON t.run_id = u.run_id LEFT JOIN eps p ON p.run_id = u.run_id;"

/* Replicate statistics, one row per sweep variant / per variant, round and metric, straight
 * from the tables fedsim fills (see STATS_TABLES_SQL). */
#define VARIANT_VIEWS_SQL                                                                       \
    "CREATE VIEW IF NOT EXISTS v_variant_summary AS SELECT name, variant, n_replicates,"        \
    " n_reached, reach_share, final_metric, mean_final, sd_final, ci_low_final, ci_high_final,"  \
    " target_metric, target_value, mean_hours_to_target, ci_low_hours, ci_high_hours,"          \
    " mean_bytes_to_target, ci_low_bytes, ci_high_bytes, mean_epsilon_at_target,"               \
    " mean_energy_to_target, ci_low_energy, ci_high_energy FROM variant_stats;"                 \
    "CREATE VIEW IF NOT EXISTS v_variant_rounds AS SELECT name, variant, round, metric,"        \
    " n AS n_replicates, mean, sd, ci_low, ci_high, mean_t_h, mean_cum_bytes, mean_epsilon"     \
    " FROM variant_round_stats;"

/* Version 2 -> 3, in the caller's transaction before the script above: the new runs and rounds
 * columns (NULL in old rows: no replicate, sustain 1, headline by the old rule, rejected
 * unknown), the views whose text changed are dropped so the script recreates them, and
 * participation, whose primary key gained seq, is set aside to be rebuilt: SQLite cannot change
 * a primary key in place, so the script creates the new table and UPGRADE_V2_POST_SQL copies
 * the old rows into it (seq 0: version 2 could not record a client twice in one round). */
#define UPGRADE_V2_SQL                                                                          \
    "ALTER TABLE runs ADD COLUMN population_seed INTEGER;"                                      \
    "ALTER TABLE runs ADD COLUMN replicate INTEGER;"                                            \
    "ALTER TABLE runs ADD COLUMN target_sustain INTEGER;"                                       \
    "ALTER TABLE runs ADD COLUMN headline_metric TEXT;"                                         \
    "UPDATE runs SET population_seed = seed;"                                                   \
    "ALTER TABLE rounds ADD COLUMN rejected INTEGER;"                                           \
    "DROP INDEX IF EXISTS participation_client;"                                                \
    "ALTER TABLE participation RENAME TO participation_v2;"                                     \
    "DROP VIEW IF EXISTS v_run_summary; DROP VIEW IF EXISTS v_time_to_target;"                 \
    "DROP VIEW IF EXISTS v_round_metrics;"                                                      \
    "UPDATE meta SET value = '" STR(FS_DB_SCHEMA_VERSION) "' WHERE key = 'schema_version';"

/* Version 3 -> 4 (after UPGRADE_V2_SQL for a version 2 file): runs.precision, the floating
 * point type the models trained in. Every run before version 4 trained in double. */
#define UPGRADE_V3_SQL                                                                          \
    "ALTER TABLE runs ADD COLUMN precision TEXT;"                                               \
    "UPDATE runs SET precision = 'float64';"                                                    \
    "UPDATE meta SET value = '" STR(FS_DB_SCHEMA_VERSION) "' WHERE key = 'schema_version';"

/* Per-device daily energy. client_energy holds a row per client and virtual day on which the
 * client spent energy (day = floor(t / 24 h) of the engine's clock), so days a phone stayed idle
 * are not rows and do not pull the mean or the p95 towards 0: the figures describe the phones
 * that worked that day. p95 is the nearest-rank quantile (the ceil(0.95 n)-th smallest), which
 * plain SQLite can compute and which is always a value some device really spent. */
#define ENERGY_VIEWS_SQL                                                                        \
    "CREATE VIEW IF NOT EXISTS v_device_energy_daily AS SELECT run_id, client_id, day,"         \
    " energy_j, energy_j / 3600.0 AS energy_wh FROM client_energy;"                             \
    "CREATE VIEW IF NOT EXISTS v_run_energy AS"                                                 \
    " WITH d AS (SELECT run_id, energy_j, row_number() OVER (PARTITION BY run_id"              \
    "  ORDER BY energy_j) AS k, count(*) OVER (PARTITION BY run_id) AS n FROM client_energy"    \
    "  WHERE energy_j IS NOT NULL),"                                                            \
    " r AS (SELECT run_id, count(*) AS rounds, sum(energy_j) AS energy_j FROM rounds"           \
    "  GROUP BY run_id)"                                                                        \
    " SELECT u.run_id, u.name, u.variant, u.replicate, r.energy_j,"                             \
    "  r.energy_j / nullif(r.rounds, 0) AS energy_per_round_j,"                                 \
    "  (SELECT count(*) FROM d WHERE d.run_id = u.run_id) AS device_days,"                      \
    "  (SELECT avg(energy_j) FROM d WHERE d.run_id = u.run_id) AS device_daily_mean_j,"         \
    "  (SELECT energy_j FROM d WHERE d.run_id = u.run_id AND d.k = (d.n * 95 + 99) / 100)"      \
    "   AS device_daily_p95_j,"                                                                 \
    "  (SELECT max(energy_j) FROM d WHERE d.run_id = u.run_id) AS device_daily_max_j"           \
    " FROM runs u LEFT JOIN r ON r.run_id = u.run_id;"

/* Version 4 -> 5 (after the older upgrades): energy accounting. The new columns are added by
 * fs_db.c from fs_db_v5_columns, each only to a table that exists without it (a version 2 file
 * has no variant_stats yet and its participation is being rebuilt); they are NULL in old rows
 * (no energy was modelled). The views that gained energy columns are dropped so the script
 * recreates them; client_energy is created by the script. */
#define UPGRADE_V4_SQL                                                                          \
    "DROP VIEW IF EXISTS v_run_summary; DROP VIEW IF EXISTS v_time_to_target;"                 \
    "DROP VIEW IF EXISTS v_round_metrics; DROP VIEW IF EXISTS v_variant_summary;"               \
    "UPDATE meta SET value = '" STR(FS_DB_SCHEMA_VERSION) "' WHERE key = 'schema_version';"

/* Selection bias (version 6). Shares are taken within a (run, group column, stage): a level's
 * count over the count of every level. v_participation_by_segment sums each stage over the
 * whole run (rounds 1..last; population and consenting are round 0) and sets it against the
 * population share: ratio < 1 means under-represented. v_selection_bias compares, per round and
 * group column, the mix of the round's reports p with the population's q: tvd = 1/2 sum |p - q|,
 * kl = KL(p || q) = sum over levels with p > 0 of p ln(p / q) (a level without reports adds 0,
 * and q > 0 wherever p > 0, since a level without clients has no reports); a round without
 * reports has NULL grp, tvd and kl. v_run_bias is the same over the whole run's reports (what
 * fedsim plan --max-bias limits). ln() needs SQLite's math functions (built in since 3.35). */
#define BIAS_VIEWS_SQL                                                                          \
    "CREATE VIEW IF NOT EXISTS v_participation_by_segment AS"                                   \
    " WITH pop AS (SELECT run_id, grp, level, n, sum(n) OVER (PARTITION BY run_id, grp) AS tot" \
    "  FROM participation_mix WHERE round = 0 AND stage = 'population'),"                       \
    " st AS (SELECT run_id, grp, level, stage, sum(n) AS n FROM participation_mix"              \
    "  GROUP BY run_id, grp, level, stage),"                                                    \
    " tot AS (SELECT run_id, grp, stage, sum(n) AS tot FROM st GROUP BY run_id, grp, stage)"    \
    " SELECT p.run_id, p.grp, p.level, t.stage, 1.0 * p.n / nullif(p.tot, 0) AS share_population,"\
    "  1.0 * coalesce(s.n, 0) / nullif(t.tot, 0) AS share,"                                     \
    "  (1.0 * coalesce(s.n, 0) / nullif(t.tot, 0)) / nullif(1.0 * p.n / nullif(p.tot, 0), 0)"   \
    "   AS ratio"                                                                               \
    " FROM pop p JOIN tot t ON t.run_id = p.run_id AND t.grp = p.grp"                           \
    " LEFT JOIN st s ON s.run_id = p.run_id AND s.grp = p.grp AND s.level = p.level"            \
    "  AND s.stage = t.stage;"                                                                  \
    "CREATE VIEW IF NOT EXISTS v_selection_bias AS"                                             \
    " WITH pop AS (SELECT run_id, grp, level,"                                                  \
    "  1.0 * n / nullif(sum(n) OVER (PARTITION BY run_id, grp), 0) AS q"                        \
    "  FROM participation_mix WHERE round = 0 AND stage = 'population'),"                       \
    " rep AS (SELECT run_id, round, grp, level, n, sum(n) OVER (PARTITION BY run_id, round, grp)"\
    "  AS tot FROM participation_mix WHERE round > 0 AND stage = 'reported'),"                  \
    " rt AS (SELECT DISTINCT run_id, round, grp FROM rep),"                                     \
    " d AS (SELECT t.run_id, t.round, t.grp, p.q, coalesce(1.0 * r.n / r.tot, 0) AS p"          \
    "  FROM rt t JOIN pop p ON p.run_id = t.run_id AND p.grp = t.grp"                           \
    "  LEFT JOIN rep r ON r.run_id = t.run_id AND r.round = t.round AND r.grp = t.grp"          \
    "   AND r.level = p.level),"                                                                \
    " b AS (SELECT run_id, round, grp, 0.5 * sum(abs(p - q)) AS tvd,"                           \
    "  sum(CASE WHEN p > 0 THEN p * ln(p / q) ELSE 0 END) AS kl FROM d"                         \
    "  GROUP BY run_id, round, grp)"                                                            \
    " SELECT s.run_id, s.round, b.grp, b.tvd, b.kl, s.jain, s.never_selected"                   \
    " FROM selection_rounds s LEFT JOIN b ON b.run_id = s.run_id AND b.round = s.round;"        \
    "CREATE VIEW IF NOT EXISTS v_run_bias AS"                                                   \
    " SELECT run_id, grp, 0.5 * sum(abs(share - share_population)) AS tvd,"                     \
    "  sum(CASE WHEN share > 0 THEN share * ln(share / share_population) ELSE 0 END) AS kl"     \
    " FROM v_participation_by_segment WHERE stage = 'reported' GROUP BY run_id, grp;"

/* Version 5 -> 6 (after the older upgrades): the who-trains tables (created by the script),
 * clients.utc_offset_min and clients.attacker (added by fs_db.c from fs_db_v6_columns, NULL in
 * old rows: no time zone recorded, no adversary modelled), runs.ranks (NULL in old rows, which ran
 * as one process). */
#define UPGRADE_V5_SQL                                                                          \
    "UPDATE meta SET value = '" STR(FS_DB_SCHEMA_VERSION) "' WHERE key = 'schema_version';"

#define LOWER_IS_BETTER "@lower_is_better@"

static const char schema_sql[] = TABLES_SQL UNIT_VIEWS_SQL ROUND_METRICS_SQL TIME_TO_TARGET_SQL
    RUN_SUMMARY_SQL VARIANT_VIEWS_SQL ENERGY_VIEWS_SQL BIAS_VIEWS_SQL;

char *fs_db_schema_new(void)
{
    char names[512] = "";
    size_t at = 0;
    for (int m = 0; m < FS_METRIC_COUNT; m++) {
        if (!fs_metric_lower_is_better((fs_metric)m)) continue;
        at += (size_t)snprintf(names + at, sizeof names - at, "%s'%s'", at ? ", " : "",
                               fs_metric_name((fs_metric)m));
        fs_assert(at < sizeof names); /* before the next write: sizeof names - at stays > 0 */
    }
    const char *mark = strstr(schema_sql, LOWER_IS_BETTER);
    fs_assert(mark && !strstr(mark + 1, LOWER_IS_BETTER));
    size_t head = (size_t)(mark - schema_sql), tail = strlen(mark + strlen(LOWER_IS_BETTER));
    char *out = malloc(head + at + tail + 1);
    if (!out) return NULL;
    memcpy(out, schema_sql, head);
    memcpy(out + head, names, at);
    memcpy(out + head + at, mark + strlen(LOWER_IS_BETTER), tail + 1);
    return out;
}

#define UPGRADE_V2_POST_SQL                                                                     \
    "INSERT INTO participation SELECT *, 0, NULL, NULL FROM participation_v2;"                  \
    "DROP TABLE participation_v2;"

const char fs_db_upgrade_v2_sql[] = UPGRADE_V2_SQL;
const char fs_db_upgrade_v2_post_sql[] = UPGRADE_V2_POST_SQL;
const char fs_db_upgrade_v3_sql[] = UPGRADE_V3_SQL;
const char fs_db_upgrade_v4_sql[] = UPGRADE_V4_SQL;
const char fs_db_upgrade_v5_sql[] = UPGRADE_V5_SQL;
const char *const fs_db_v5_columns[][3] = {{"rounds", "energy_j", "REAL"},
                                           {"participation", "energy_j", "REAL"},
                                           {"participation", "network", "TEXT"},
                                           {"variant_stats", "mean_energy_to_target", "REAL"},
                                           {"variant_stats", "ci_low_energy", "REAL"},
                                           {"variant_stats", "ci_high_energy", "REAL"},
                                           {"clients", "trace_key", "TEXT"},
                                           {"clients", "device_class", "TEXT"},
                                           {"clients", "network", "TEXT"},
                                           {NULL, NULL, NULL}};
const char *const fs_db_v6_columns[][3] = {{"clients", "utc_offset_min", "INTEGER"},
                                           {"clients", "attacker", "INTEGER"},
                                           {"runs", "ranks", "INTEGER"},
                                           {NULL, NULL, NULL}};
