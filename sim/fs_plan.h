/* fs_plan: `fedsim plan`, the campaign planner's question put to a results database: which
 * variant reaches a target metric first (or cheapest), within a privacy budget, a virtual-time
 * limit and a per-participation data cap? Reads the file through SQLite read-only (never
 * creates or changes one) and the same first-hit rule as the v_time_to_target view. */
#ifndef FS_PLAN_H
#define FS_PLAN_H

#include <stdbool.h>

/* `fedsim plan DB --target METRIC=VALUE [--max-epsilon E] [--max-hours H]
 *  [--max-bytes-per-client SIZE] [--by hours|bytes|device-hours|epsilon]` (argv[0] is "plan";
 * `--name=value` works too). Considers the latest run of each variant; prints the feasible
 * variants ranked by the --by cost, the recommendation and every excluded variant with its
 * reason on stdout. Returns the exit code: 0 when a variant is feasible, 1 when none is, 2 after
 * reporting every bad argument, 3 when the database is missing, unreadable or of another
 * schema version, 71 when out of memory. */
int fs_plan_cli(int argc, char **argv);

/* Parses a data size: a number >= 0 with an optional unit B, KB, MB, GB, TB (powers of 1000)
 * or KiB, MiB, GiB, TiB (powers of 1024), case-insensitive, e.g. "5MB", "1.5 GiB", "800".
 * Returns false (and leaves *out_bytes alone) on anything else. */
bool fs_plan_parse_size(const char *s, double *out_bytes);

#endif
