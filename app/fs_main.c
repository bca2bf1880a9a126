/* fedsim command line: run, validate, help, version. Parses arguments, loads and validates the
 * scenario (all errors at once, before any file is written), then hands over to fs_run. Exit
 * codes follow fs_exit_code: 0 ok, 2 bad input, 3 I/O or database, 70 bug, 71 memory,
 * 130 interrupted (128 + signal for SIGTERM, SIGHUP). */
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_blas.h"
#include "fs_cli.h"
#include "fs_device.h"
#include "fs_epsilon.h"
#include "fs_files.h"
#include "fs_mpi.h"
#include "fs_plan.h"
#include "fs_report.h"
#include "fs_run.h"
#include "fs_scn.h"
#include "fs_sweep.h"

#ifndef FEDSIM_VERSION
#define FEDSIM_VERSION "unknown"
#endif

#define MAX_SETS 256


static const char usage[] =
    "usage: fedsim run SCENARIO [-o DB] [--set path=value]... [--threads N] [--quiet]\n"
    "                  [--variant LABEL] [--replicate R] [--resume] [--run-id N]\n"
    "       fedsim sweep SCENARIO [-o DB] [--jobs N] [--set path=value]...\n"
    "       fedsim validate SCENARIO... [--set path=value]...\n"
    "       fedsim epsilon --q Q --sigma Z --steps T --delta D\n"
    "       fedsim report DB [-o DIR]\n"
    "       fedsim plan DB --target METRIC=VALUE [--sustain K] [--max-epsilon E] [--max-hours H]\n"
    "                  [--max-bytes-per-client SIZE] [--min-reach SHARE]\n"
    "                  [--by hours|bytes|device-hours|epsilon]\n"
    "       fedsim COMMAND --help | fedsim --help | --version\n";

#define RUN_USAGE                                                                                  \
    "usage: fedsim run SCENARIO [-o DB] [--set path=value]... [--threads N] [--quiet]\n"          \
    "                  [--variant LABEL] [--replicate R] [--resume] [--run-id N]\n"
static const char run_usage[] = RUN_USAGE;
static const char run_help[] =
    RUN_USAGE
    "  simulate the campaign described by SCENARIO (JSON) and write the results database\n"
    "  (output.db, default results/<name>.sqlite)\n"
    "  -o, --output DB   write to DB instead of output.db (appends a run if DB exists)\n"
    "  --set PATH=VALUE  override a scenario key, e.g. --set server.rounds=10 (repeatable)\n"
    "  --threads N       train clients on N threads (default: the CPUs this process may\n"
    "                    use, shared out among MPI ranks of one machine that share them);\n"
    "                    results do not depend on N\n"
    "  --quiet           no progress line\n"
    "  --variant LABEL   record the run as this sweep variant\n"
    "  --replicate R     run replicate R (1-based) of the sweep's \"replications\": its seeds\n"
    "  --resume          continue the latest unfinished run of this scenario in DB from its\n"
    "                    last checkpoint (output.checkpoint_every and\n"
    "                    output.checkpoint_min_interval_s); a new run when none\n"
    "  --run-id N        record a new run as run_id N (refused when DB has that run);\n"
    "                    a sweep gives each of its runs the id of its place in the sweep,\n"
    "                    whichever of its parallel jobs starts first\n"
    "  environment: FEDSIM_MAX_MEMORY=SIZE (e.g. 8G) caps the memory a scenario may need\n";

#define VALIDATE_USAGE "usage: fedsim validate SCENARIO... [--set path=value]...\n"
static const char validate_usage[] = VALIDATE_USAGE;
static const char validate_help[] =
    VALIDATE_USAGE
    "  check scenario files and report every error, as fedsim run would before it starts:\n"
    "  keys, bounds, combinations, the model against the data's shape, the memory the run\n"
    "  needs, and every variant of a sweep\n"
    "  --set PATH=VALUE  override a key in every file first (repeatable)\n";

static const char help[] =
    "fedsim: discrete-event federated learning simulator\n\n"
    "commands (fedsim COMMAND --help for one):\n"
    "  run SCENARIO       simulate the campaign described by SCENARIO (JSON) and write the\n"
    "                     results database (output.db, default results/<name>.sqlite)\n"
    "  sweep SCENARIO     run every variant of the scenario's \"sweep\" object into one database,\n"
    "                     --jobs at a time; run it again to resume an interrupted sweep\n"
    "  validate FILE...   check scenario files and report every error\n"
    "  report DB [-o DIR] gnuplot plots (PNG, SVG) and a self-contained report.html of every run\n"
    "  plan DB            which variant reaches a target under constraints, ranked by cost\n"
    "  epsilon            privacy budget of the sampled Gaussian mechanism: sampling rate Q,\n"
    "                     noise multiplier Z, T steps, at delta D (RDP accountant; classic and\n"
    "                     improved conversions)\n\n"
    "exit codes: 0 ok, 2 bad input, 3 I/O or database error, 70 internal error,\n"
    "            71 out of memory, 130 interrupted by Ctrl-C, 128 + signal by SIGTERM or\n"
    "            SIGHUP (completed rounds are kept)\n"
    "scenario keys: scenarios/README.md; database schema: results/README.md; man fedsim\n";

typedef struct run_args {
    const char *scenario, *db;
    const char *sets[MAX_SETS];
    size_t n_sets;
    int threads;
    bool threads_given; /* --threads on the command line, not the default */
    bool quiet, resume;
    const char *variant;
    int replicate; /* 0: none */
    int run_id;    /* 0: the next free one */
} run_args;

/* A usage error: one line, then the usage of the command at fault. */
static int usage_error(const char *cmd_usage, const char *what, const char *found)
{
    fprintf(stderr, "fedsim: error: %s: %s\n%s", what, found, cmd_usage);
    return 2;
}

static int bad_arg(const char *what, const char *found)
{
    return usage_error(run_usage, what, found);
}

static int parse_run_args(int argc, char **argv, run_args *a)
{
    memset(a, 0, sizeof *a);
    a->threads = omp_get_max_threads();
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        bool has_value = i + 1 < argc;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(run_help, stdout);
            return -1;
        } else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (!has_value) return bad_arg(arg, "expected a database path");
            a->db = argv[++i];
        } else if (!strcmp(arg, "--set")) {
            if (!has_value) return bad_arg(arg, "expected path=value");
            if (a->n_sets == MAX_SETS) return bad_arg(arg, "too many overrides");
            a->sets[a->n_sets++] = argv[++i];
        } else if (!strcmp(arg, "--threads")) {
            if (!has_value || !fs_cli_parse_int(argv[++i], 1, 1024, &a->threads))
                return bad_arg("--threads", "expected an integer from 1 to 1024");
            a->threads_given = true;
        } else if (!strcmp(arg, "--variant")) {
            if (!has_value) return bad_arg(arg, "expected a label");
            a->variant = argv[++i];
        } else if (!strcmp(arg, "--replicate")) {
            if (!has_value ||
                !fs_cli_parse_int(argv[++i], 1, FS_SWEEP_MAX_REPLICATES, &a->replicate))
                return bad_arg("--replicate", "expected an integer from 1 to 1000");
        } else if (!strcmp(arg, "--run-id")) {
            if (!has_value || !fs_cli_parse_int(argv[++i], 1, INT_MAX, &a->run_id))
                return bad_arg("--run-id", "expected an integer from 1 to 2147483647");
        } else if (!strcmp(arg, "--resume")) {
            a->resume = true;
        } else if (!strcmp(arg, "--quiet")) {
            a->quiet = true;
        } else if (arg[0] == '-' && arg[1]) {
            return bad_arg(arg, "unknown option");
        } else if (!a->scenario) {
            a->scenario = arg;
        } else {
            return bad_arg(arg, "unexpected argument (one scenario per run)");
        }
    }
    if (!a->scenario) return bad_arg("run", "expected a scenario file");
    return 0;
}

/* Virtual durations in the unit that keeps them readable: a 60-round campaign of 10-second
 * rounds is "10.0 virtual minutes", not "0.00 virtual hours". */
static const char *fmt_span(char *buf, size_t n, double seconds, const char *what)
{
    if (seconds >= 3600)
        snprintf(buf, n, "%.2f %shours", seconds / 3600, what);
    else if (seconds >= 60)
        snprintf(buf, n, "%.1f %sminutes", seconds / 60, what);
    else if (seconds >= 1 || seconds == 0)
        snprintf(buf, n, "%.1f %sseconds", seconds, what);
    else
        snprintf(buf, n, "%.3g %sms", seconds * 1e3, what);
    return buf;
}

static void print_summary(const fs_scenario *s, const char *db, const fs_run_summary *r)
{
    char span[64], dev[64];
    printf("fedsim: %s: %d rounds in %s (wall %.1f s)\n", s->name, r->rounds,
           fmt_span(span, sizeof span, (double)r->t_end / 1e6, "virtual "), r->wall_s);
    if (r->resumed_from)
        printf(
            "  resumed         run %lld continued after round %d (figures below: this session)\n",
            (long long)r->run_id, r->resumed_from);
    printf("  test %-11s %.4f after the first evaluation -> %.4f at the end\n", r->headline,
           r->first_accuracy, r->final_accuracy);
    printf("  participations  %ld selected: %ld reported, %ld dropped, %ld late, %ld aborted",
           r->selected, r->reported, r->dropped, r->late, r->aborted);
    if (r->rejected) printf(", %ld rejected", r->rejected);
    printf("\n  bytes moved     %.1f MB down, %.1f MB up\n", (double)r->bytes_down / 1e6,
           (double)r->bytes_up / 1e6);
    printf("  device time     %s of local training\n",
           fmt_span(dev, sizeof dev, r->compute_s, ""));
    if (!isnan(r->epsilon))
        printf("  privacy         epsilon %.4g at delta %g (RDP accountant, DP-FedAvg)\n",
               r->epsilon, s->privacy.delta);
    if (r->ranks > 1) {
        printf("  MPI ranks       %d; clients trained on each:", r->ranks);
        for (int k = 0; k < r->ranks && k < 8; k++)
            printf(" %ld", r->trained_by_rank[k]);
        printf("%s\n  MPI traffic     MB each rank sent the others:", r->ranks > 8 ? " ..." : "");
        for (int k = 0; k < r->ranks && k < 8; k++)
            printf(" %.1f", r->mb_out_by_rank[k]);
        printf("%s\n", r->ranks > 8 ? " ..." : "");
    }
    printf("  wall time       %.2f s: setup %.2f, training %.2f, evaluation %.2f, engine %.2f,"
           " writer %.2f\n",
           r->wall_s, r->setup_s, r->train_s, r->eval_s, r->engine_s,
           r->wall_s - r->setup_s - r->train_s - r->eval_s - r->engine_s);
    /* the parts are timed inside the engine's figure: the rest is >= 0 but for rounding */
    double rest = r->engine_s - r->select_s - r->aggregate_s - r->record_s;
    printf("  engine's parts  selection %.3f s, aggregation %.3f, recording %.3f, the rest %.3f"
           " (participations, events)\n",
           r->select_s, r->aggregate_s, r->record_s, rest > 0 ? rest : 0);
    printf("  results         %s (run %lld)\n", db, (long long)r->run_id);
    if (r->rejected)
        fprintf(stderr,
                "fedsim: warning: %ld client updates were rejected as non-finite or exploding "
                "and not aggregated (participation.outcome = 'rejected'): check train.lr and "
                "the data's magnitudes\n",
                r->rejected);
}

/* Replicate r of a replicated sweep: the scenario is loaded once for its seeds and its sweep,
 * then again with the replicate's seeds as two more overrides, so the effective scenario the run
 * records states the seeds it used. */
/* A file whose sweep is malformed (replications, seed axes, the grid's shape) is refused as
 * fedsim validate and fedsim sweep refuse it, also when only its base scenario or one replicate
 * runs; the variants themselves are validated by the sweep. Frees s on failure. */
static int check_sweep(fs_scenario *s, fs_err *err)
{
    fs_sweep sw;
    int rc = s->sweep_json ? fs_sweep_parse(s->sweep_json, &sw, err) : FS_OK;
    if (rc) fs_scn_fini(s);
    else if (s->sweep_json) fs_sweep_fini(&sw);
    return rc;
}

static int load_replicate(run_args *a, fs_scenario *s, fs_err *err)
{
    int rc = fs_scn_load(a->scenario, a->sets, a->n_sets, s, err);
    if (!rc) rc = check_sweep(s, err);
    if (rc) return rc;
    uint64_t seed, pop_seed;
    rc = fs_sweep_replicate_seeds(s->sweep_json, s->seed, s->population_seed, a->replicate, &seed,
                                  &pop_seed, err);
    fs_scn_fini(s);
    if (rc) return rc;
    if (a->n_sets + 2 > MAX_SETS) {
        fs_err_add(err, "--set", "expected at most %d overrides with --replicate", MAX_SETS - 2);
        return FS_ESCENARIO;
    }
    char set_seed[48], set_pop[48];
    snprintf(set_seed, sizeof set_seed, "seed=%llu", (unsigned long long)seed);
    snprintf(set_pop, sizeof set_pop, "population_seed=%llu", (unsigned long long)pop_seed);
    a->sets[a->n_sets++] = set_seed;
    a->sets[a->n_sets++] = set_pop;
    rc = fs_scn_load(a->scenario, a->sets, a->n_sets, s, err);
    a->n_sets -= 2; /* the buffers die with this call */
    return rc;
}

/* The command that continues an interrupted run: same scenario, database, variant and
 * overrides. A sweep's variant says nothing: the sweep prints `fedsim sweep ...` once
 * (FEDSIM_SWEEP_CHILD is set by fs_sweep for its children). */
static void print_resume_hint(const run_args *a, const char *db, int checkpoint_every)
{
    if (getenv("FEDSIM_SWEEP_CHILD")) return;
    fputs("fedsim: to continue: fedsim run", stderr);
    fs_cli_fput_arg(a->scenario, stderr);
    fs_cli_fput_arg("-o", stderr);
    fs_cli_fput_arg(db, stderr);
    if (a->variant) {
        fs_cli_fput_arg("--variant", stderr);
        fs_cli_fput_arg(a->variant, stderr);
    }
    if (a->replicate) {
        char r[16];
        snprintf(r, sizeof r, "%d", a->replicate);
        fs_cli_fput_arg("--replicate", stderr);
        fs_cli_fput_arg(r, stderr);
    }
    fs_cli_fput_arg("--resume", stderr);
    for (size_t i = 0; i < a->n_sets; i++) {
        fs_cli_fput_arg("--set", stderr);
        fs_cli_fput_arg(a->sets[i], stderr);
    }
    fputc('\n', stderr);
    if (checkpoint_every == 0)
        fputs("fedsim: note: output.checkpoint_every is 0, so --resume starts the run over\n",
              stderr);
}

/* The job's ranks: this process's, or for a run of an MPI sweep the sweep's (its child runs
 * are not ranks themselves; fs_sweep passes the number on). */
static int run_ranks(void)
{
    const char *sweep = getenv("FEDSIM_SWEEP_RANKS");
    int n;
    return sweep && fs_cli_parse_int(sweep, 1, 1 << 20, &n) ? n : fs_mpi_size();
}

/* Threads that would take turns on fewer CPUs, or a rank bound to less than its share of the
 * machine (mpirun binds each rank to one core unless told otherwise): the results are the same,
 * the run is slower than it need be, and nothing else would say why. */
static void check_cpus(const run_args *a)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cpus = fs_cli_cpus(), share = (int)(online / fs_mpi_local_size());
    int sharing = fs_mpi_local_sharing(), mine = fs_cli_cpu_share(sharing);
    bool alone = sharing == 1; /* its own mask: mpirun's binding, not taskset's */
    const char *why = "(its affinity: taskset, a batch system, or mpirun, which binds each rank "
                      "to one core unless run with --bind-to none)";
    char shared[64] = "";
    if (!alone) snprintf(shared, sizeof shared, " shared by %d ranks, %d each", sharing, mine);
    if (a->threads_given && a->threads > mine)
        fprintf(stderr,
                "fedsim: warning: --threads %d, but this process may run on %d CPU%s%s %s: its "
                "threads will take turns; the results are the same\n",
                a->threads, cpus, cpus == 1 ? "" : "s", shared, why);
    else if (fs_mpi_started() && !getenv("FEDSIM_SWEEP_CHILD") && alone && cpus < share)
        fprintf(stderr,
                "fedsim: note: MPI rank 0 may run on %d of this machine's %ld CPUs, fewer than "
                "its share of %d (mpirun binds each rank to one core by default), with %d "
                "training thread%s: mpirun --bind-to none, or --map-by slot:PE=%d, gives each "
                "rank its share\n",
                cpus, online, share, a->threads, a->threads == 1 ? "" : "s", share);
}

static int cmd_run(int argc, char **argv)
{
    run_args a;
    int bad = parse_run_args(argc, argv, &a);
    if (bad) return bad < 0 ? 0 : bad;
    fs_err err;
    fs_err_init(&err, a.scenario);
    fs_scenario s;
    int rc = a.replicate ? load_replicate(&a, &s, &err)
                         : fs_scn_load(a.scenario, a.sets, a.n_sets, &s, &err);
    if (!rc && !a.replicate) rc = check_sweep(&s, &err);
    if (rc) goto out;
    if (fs_mpi_size() > 1 && s.server.mode == FS_SERVER_ASYNC) {
        fs_err_add(&err, "server.mode",
                   "expected \"sync\" on %d MPI ranks, found \"async\": FedBuff trains one"
                   " client at a time as the buffer drains, which is not split across ranks"
                   " yet; run it on one rank (no mpirun, or mpirun -n 1)",
                   fs_mpi_size());
        rc = FS_ESCENARIO;
        fs_scn_fini(&s);
        goto out;
    }
    /* ranks of one machine that share their CPUs (unbound, or bound to one socket) share them
     * out, rather than each taking them all */
    if (fs_mpi_started() && !a.threads_given) a.threads = fs_cli_cpu_share(fs_mpi_local_sharing());
    check_cpus(&a);
    const char *db = a.db ? a.db : s.output.db;
    if (s.sweep_json && !a.variant && a.replicate)
        fprintf(stderr,
                "fedsim: note: %s has a sweep; running replicate %d of its base scenario (with "
                "the --set overrides) only\n",
                a.scenario, a.replicate);
    else if (s.sweep_json && !a.variant)
        fprintf(stderr,
                "fedsim: note: %s has a sweep; running its base scenario only (use "
                "fedsim sweep for the variants)\n",
                a.scenario);
    fs_err_init(&err, NULL);
    if (fs_files_make_parent_dirs(db)) {
        fs_err_add(&err, NULL, "%s: cannot create its folder: %s", db, strerror(errno));
        rc = FS_EIO;
        fs_scn_fini(&s);
        goto out;
    }
    fs_cli_catch_stop_signals();
    fs_run_opts opts = {.db_path = db,
                        .n_threads = a.threads,
                        .n_ranks = run_ranks(),
                        .variant = a.variant,
                        .replicate = a.replicate,
                        .run_id = a.run_id,
                        /* a sweep's id is taken only when another process writes the file */
                        .run_id_or_next = getenv("FEDSIM_SWEEP_CHILD") != NULL,
                        .resume = a.resume,
                        .progress = !a.quiet && isatty(STDERR_FILENO),
                        .stop = &fs_cli_stop_signal};
    fs_run_summary sum;
    rc = fs_run_scenario(&s, &opts, &sum, &err);
    if (rc == FS_OK) print_summary(&s, db, &sum);
    if (rc == FS_EINTERRUPTED)
        fs_err_add(&err, NULL, "interrupted after round %d (%s); completed rounds are in %s",
                   sum.rounds, fs_cli_signal_name(fs_cli_stop_signal), db);
    if (rc) fs_err_print(&err, stderr);
    if (rc == FS_EINTERRUPTED) print_resume_hint(&a, db, s.output.checkpoint_every);
    fs_scn_fini(&s);
    return rc == FS_EINTERRUPTED ? fs_cli_signal_exit_code(fs_cli_stop_signal) : fs_exit_code(rc);
out:
    if (rc) fs_err_print(&err, stderr);
    return fs_exit_code(rc);
}

static int validate_bad(const char *what, const char *found)
{
    return usage_error(validate_usage, what, found);
}

/* One file: the scenario with the overrides, then every variant of its sweep. */
static int validate_one(const char *file, const char *const *sets, size_t n_sets)
{
    fs_err err;
    fs_err_init(&err, file);
    fs_scenario s;
    int rc = fs_scn_load(file, sets, n_sets, &s, &err);
    if (rc) {
        fs_err_print(&err, stderr);
        return rc;
    }
    /* what a run refuses only once it has the data: load them as the run would */
    if ((rc = fs_run_check(&s, &err))) fs_err_print(&err, stderr);
    if (!rc && s.sweep_json) rc = fs_sweep_validate(file, sets, n_sets, s.sweep_json, fs_run_check);
    if (!rc) printf("%s: ok\n", file);
    fs_scn_fini(&s);
    return rc;
}

static int cmd_validate(int argc, char **argv)
{
    const char *sets[MAX_SETS];
    size_t n_sets = 0, n_files = 0;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return fputs(validate_help, stdout), 0;
        if (!strcmp(arg, "--set")) {
            if (i + 1 >= argc) return validate_bad(arg, "expected path=value");
            if (n_sets == MAX_SETS) return validate_bad(arg, "too many overrides");
            sets[n_sets++] = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            return validate_bad(arg, "unknown option");
        } else {
            n_files++;
        }
    }
    if (!n_files) return validate_bad("validate", "expected at least one scenario file");
    int worst = FS_OK;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--set")) {
            i++;
            continue;
        }
        int rc = validate_one(argv[i], sets, n_sets);
        if (rc && (worst == FS_OK || fs_exit_code(rc) > fs_exit_code(worst))) worst = rc;
    }
    return fs_exit_code(worst);
}

/* Ranks other than 0 of a run: stdout and stderr to /dev/null. */
static void silence(void)
{
    int nul = open("/dev/null", O_WRONLY);
    fflush(stdout), fflush(stderr);
    if (nul < 0) return;
    dup2(nul, STDOUT_FILENO), dup2(nul, STDERR_FILENO);
    close(nul);
}

/* run and sweep, the commands mpirun may start: MPI (when a launcher started us) around them. In
 * a run across ranks, rank 0 speaks for all: the others compute the same run (fs_train splits
 * the training by client) and print nothing, their errors reach rank 0 as a status. */
static int cmd_mpi(int argc, char **argv)
{
    fs_err err;
    fs_err_init(&err, NULL);
    int rc = fs_mpi_init(&argc, &argv, &err);
    if (rc) {
        if (fs_mpi_rank() == 0) fs_err_print(&err, stderr);
        fs_mpi_finalize();
        return fs_exit_code(rc);
    }
    int code;
    if (!strcmp(argv[1], "sweep")) {
        code = fs_sweep_cli(argc - 1, argv + 1, fs_run_check);
    } else {
        if (fs_mpi_rank() > 0) silence();
        code = cmd_run(argc, argv);
    }
    fs_mpi_finalize();
    return code;
}

#ifdef FS_STATIC_RUNTIMES
/* OpenBLAS and libgomp are linked into this program (meson.build): their constructors, of the
 * default priority, run after this one and read what it chose. */
__attribute__((constructor(101))) static void choose_runtime_settings(void)
{
    fs_blas_early_env();
}
#endif

int main(int argc, char **argv)
{
    fs_blas_init(argv);
    gsl_set_error_handler_off();
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(help, stdout);
        fputs("\n", stdout);
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fedsim %s (OpenBLAS kernels: %s; MPI: %s)\n", FEDSIM_VERSION, fs_blas_core(),
               fs_mpi_library());
        return 0;
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "sweep")) return cmd_mpi(argc, argv);
    if (!strcmp(cmd, "validate")) return cmd_validate(argc, argv);
    if (!strcmp(cmd, "epsilon")) return fs_epsilon_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "plan")) return fs_plan_cli(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return fs_report_cli(argc - 1, argv + 1);
    return usage_error(usage, cmd, "unknown command");
}
