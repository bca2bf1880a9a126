/* fs_sweep: what-if sweeps. Expands a scenario's "sweep" object into variants (a grid over JSON
 * paths, or an explicit list), validates every variant before anything runs, and runs each as its
 * own `fedsim run --variant LABEL --set ...` child process into one database, up to --jobs at a
 * time, skipping variants the database already holds as done (resume). A variant is therefore
 * reproducible on its own with fedsim run and the same overrides. */
#ifndef FS_SWEEP_H
#define FS_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "fs_err.h"
#include "fs_scn.h"

#define FS_SWEEP_MAX_VARIANTS 1000
#define FS_SWEEP_MAX_SETS 32

typedef struct fs_variant {
    char label[512];
    char *sets[FS_SWEEP_MAX_SETS]; /* "json.path=value", owned */
    size_t n_sets;
} fs_variant;

/* What a replicate redraws (sweep.replications.vary): the campaign's randomness (seed), the
 * population (population_seed), or both. */
enum fs_sweep_vary { FS_VARY_BOTH, FS_VARY_CAMPAIGN, FS_VARY_POPULATION };

#define FS_SWEEP_MAX_REPLICATES 1000

typedef struct fs_sweep {
    fs_variant *variants;
    size_t n;
    int n_replicates;        /* sweep.replications.count; 0 when the sweep has no replications */
    enum fs_sweep_vary vary;
} fs_sweep;

/* Grid: {"server.clients_per_round": [100, 500], "privacy.dp.noise_multiplier": [0.5, 1]} gives
 * every combination (the last path varies fastest), labelled "path=value, path=value".
 * Explicit: {"variants": [{"label": "wifi", "set": {"devices.uplink_mbps": 20}}, ...]}.
 * Either may add "replications": {"count": N, "vary": "both" | "campaign" | "population"}.
 * A seed is never a grid axis nor a variant's setting: replicates are not decisions.
 * Errors name sweep.<path> (FS_ESCENARIO); FS_ENOMEM. */
int fs_sweep_parse(const char *sweep_json, fs_sweep *out, fs_err *err);
void fs_sweep_fini(fs_sweep *s);

/* The seeds of replicate r (1-based) of a scenario whose sweep has replications: replicate 1
 * keeps the scenario's own seed and population_seed (so a one-replicate sweep is the plain
 * sweep), replicate r > 1 derives each seed that `vary` redraws from the scenario's own with
 * stream (seed, FS_RNG_REPLICATE, -, r), cut to 53 bits so the effective scenario can state it.
 * Every variant of the sweep gets the same seeds for the same r: common random numbers.
 * Errors: no sweep.replications, r outside 1..count (FS_ESCENARIO, naming "--replicate"). */
int fs_sweep_replicate_seeds(const char *sweep_json, uint64_t seed, uint64_t population_seed,
                             int r, uint64_t *out_seed, uint64_t *out_population_seed,
                             fs_err *err);

/* What a run refuses only once it has loaded a variant's data (the consent that draws nobody,
 * more clients than rows, ...): the command line passes fs_run_check, which this library, that
 * knows runs only through their database, cannot name. NULL checks the scenario's rules only. */
typedef int (*fs_sweep_data_check)(const fs_scenario *s, fs_err *err);

/* Checks every variant of `sweep_json` (the scenario's "sweep") as fedsim sweep does before
 * running any: the scenario with `sets` and then the variant's overrides, its rules, then
 * `check` on it (with the scenario's own seeds: a replicate's could still differ). Prints every
 * problem to stderr, naming the variant; returns FS_OK or the worst code. */
int fs_sweep_validate(const char *scenario, const char *const *sets, size_t n_sets,
                      const char *sweep_json, fs_sweep_data_check check);

/* fedsim sweep SCENARIO [-o DB] [--jobs N] [--set path=value]... (argv[0] = "sweep"). */
int fs_sweep_cli(int argc, char **argv, fs_sweep_data_check check);

#endif
