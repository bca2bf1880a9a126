/* fs_sweep: what-if sweeps. Expands a scenario's "sweep" object into variants (a grid over JSON
 * paths, or an explicit list), validates every variant before anything runs, and runs each as its
 * own `fedsim run --variant LABEL --set ...` child process into one database, up to --jobs at a
 * time, skipping variants the database already holds as done (resume). A variant is therefore
 * reproducible on its own with fedsim run and the same overrides. */
#ifndef FS_SWEEP_H
#define FS_SWEEP_H

#include <stddef.h>

#include "fs_err.h"

#define FS_SWEEP_MAX_VARIANTS 1000
#define FS_SWEEP_MAX_SETS 32

typedef struct fs_variant {
    char label[512];
    char *sets[FS_SWEEP_MAX_SETS]; /* "json.path=value", owned */
    size_t n_sets;
} fs_variant;

typedef struct fs_sweep {
    fs_variant *variants;
    size_t n;
} fs_sweep;

/* Grid: {"server.clients_per_round": [100, 500], "privacy.dp.noise_multiplier": [0.5, 1]} gives
 * every combination (the last path varies fastest), labelled "path=value, path=value".
 * Explicit: {"variants": [{"label": "wifi", "set": {"devices.uplink_mbps": 20}}, ...]}.
 * Errors name sweep.<path> (FS_ESCENARIO); FS_ENOMEM. */
int fs_sweep_parse(const char *sweep_json, fs_sweep *out, fs_err *err);
void fs_sweep_fini(fs_sweep *s);

/* Checks every variant of `sweep_json` (the scenario's "sweep") as fedsim sweep does before
 * running any: the scenario with `sets` and then the variant's overrides. Prints every problem
 * to stderr, naming the variant; returns FS_OK or the worst code. */
int fs_sweep_validate(const char *scenario, const char *const *sets, size_t n_sets,
                      const char *sweep_json);

/* fedsim sweep SCENARIO [-o DB] [--jobs N] [--set path=value]... (argv[0] = "sweep"). */
int fs_sweep_cli(int argc, char **argv);

#endif
