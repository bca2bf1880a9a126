/* fs_plan: `fedsim plan`, the campaign planner's question put to a results database: which
 * variant reaches a target metric first (or cheapest), within a privacy budget, a virtual-time
 * limit and a per-participation data cap, and can the difference be told from seed-to-seed
 * luck? Reads the file through SQLite read-only (never creates or changes one), version 2 or 3,
 * with the same first-hit rule (and sustain) as the v_time_to_target view. */
#ifndef FS_PLAN_H
#define FS_PLAN_H

#include <stdbool.h>
#include <stdio.h>

/* `fedsim plan DB --target METRIC=VALUE [--sustain K] [--max-epsilon E] [--max-hours H]
 *  [--max-bytes-per-client SIZE] [--min-reach SHARE] [--by hours|bytes|device-hours|epsilon]`
 * (argv[0] is "plan"; `--name=value` works too). Considers the latest run of each (variant,
 * replicate); prints the feasible variants ranked by the mean --by cost, the paired comparison
 * of the recommendation with each runner-up (replicated sweeps), the recommendation, warnings
 * and every excluded variant with its reason on stdout. Returns the exit code: 0 when a variant
 * is feasible, 1 when none is, 2 after reporting every bad argument (or a --target metric no
 * run evaluated), 3 when the database is missing, unreadable or of another schema version, 71
 * when out of memory. */
int fs_plan_cli(int argc, char **argv);

/* The same command, `fedsim plan db_path --target metric=value [--sustain sustain]` (sustain
 * <= 0: no --sustain, each run's own eval.target.sustain when the target is its own, else 1),
 * writing exactly what the command prints on stdout to `out` and its messages to `err_out`.
 * Returns the command's exit code. For embedding the answer (fedsim report). */
int fs_plan_answer(const char *db_path, const char *metric, double value, int sustain,
                   FILE *out, FILE *err_out);

/* Parses a data size: a number >= 0 with an optional unit B, KB, MB, GB, TB (powers of 1000)
 * or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, e.g. "5MB", "1.5 GiB", "800".
 * Returns false (and leaves *out_bytes alone) on anything else. */
bool fs_plan_parse_size(const char *s, double *out_bytes);

#endif
