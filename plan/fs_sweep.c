/* fs_sweep: expansion of sweep objects into variants, and the sweep command (parallel child
 * `fedsim run` processes, resume by skipping finished variants). The sweep, not its children,
 * numbers the runs (fs_sweep_run_ids, passed as --run-id): children that insert their runs row
 * in whatever order they reach it would make the file depend on --jobs and on the machine. */
#include "fs_sweep.h"
#include "fs_sweep_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_cli.h"
#include "fs_clock.h"
#include "fs_db.h"
#include "fs_files.h"
#include "fs_mpi.h"
#include "fs_rng.h"
#include "fs_scn.h"
#include "fs_text.h"

extern char **environ;

/* ---- expansion ---- */

static int add_set(fs_variant *v, const char *path, const cJSON *value)
{
    char *text = cJSON_PrintUnformatted(value);
    if (!text || v->n_sets == FS_SWEEP_MAX_SETS) {
        cJSON_free(text);
        return text ? FS_ESCENARIO : FS_ENOMEM;
    }
    size_t len = strlen(path) + strlen(text) + 2;
    char *set = malloc(len);
    if (set) snprintf(set, len, "%s=%s", path, text);
    cJSON_free(text);
    if (!set) return FS_ENOMEM;
    v->sets[v->n_sets++] = set;
    return FS_OK;
}

static void append_label(fs_variant *v, const char *path, const cJSON *value)
{
    char *text = cJSON_PrintUnformatted(value);
    size_t at = strlen(v->label);
    snprintf(v->label + at, sizeof v->label - at, "%s%s=%s", at ? ", " : "", path,
             text ? text : "?");
    cJSON_free(text);
}

/* A seed in a grid or a variant would make the planner rank random draws as if they were
 * decisions (and pair nothing): replicates are asked for, and reported, separately. */
static bool is_seed_path(const char *path)
{
    return !strcmp(path, "seed") || !strcmp(path, "population_seed");
}

static void seed_axis_error(fs_err *err, const char *path)
{
    fs_err_add(err, path,
               "expected a setting to compare, found a seed: seeds are not decisions; use "
               "\"replications\": {\"count\": N} in the sweep object for replicates");
}

static const char *const vary_words[] = {
    [FS_VARY_BOTH] = "both", [FS_VARY_CAMPAIGN] = "campaign", [FS_VARY_POPULATION] = "population"};

static void replications_bad(fs_err *err, const char *key, const char *expected, const cJSON *found)
{
    char path[64], *text = found ? cJSON_PrintUnformatted(found) : NULL;
    snprintf(path, sizeof path, "sweep.replications%s%s", key ? "." : "", key ? key : "");
    fs_err_add(err, path, "expected %s, found %s", expected, text ? text : "nothing");
    cJSON_free(text);
}

static int parse_vary(const cJSON *vary, enum fs_sweep_vary *out, fs_err *err)
{
    for (size_t i = 0; vary && cJSON_IsString(vary) && i < 3; i++)
        if (!strcmp(vary->valuestring, vary_words[i])) return *out = (enum fs_sweep_vary)i, FS_OK;
    if (!vary) return *out = FS_VARY_BOTH, FS_OK;
    replications_bad(err, "vary", "one of \"both\", \"campaign\", \"population\"", vary);
    return FS_ESCENARIO;
}

/* "replications": {"count": 1..1000, "vary": "both" | "campaign" | "population"}. */
static int parse_replications(const cJSON *rep, fs_sweep *out, fs_err *err)
{
    if (!cJSON_IsObject(rep)) {
        replications_bad(err, NULL, "{\"count\": N, \"vary\": \"both\"}", rep);
        return FS_ESCENARIO;
    }
    static const char *const keys[] = {"count", "vary"};
    int rc = FS_OK;
    for (const cJSON *kv = rep->child; kv; kv = kv->next)
        if (strcmp(kv->string, keys[0]) && strcmp(kv->string, keys[1])) {
            char path[300];
            snprintf(path, sizeof path, "sweep.replications.%s", kv->string);
            const char *nearest = fs_scn_nearest_key(kv->string, keys, 2);
            if (nearest)
                fs_err_add(err, path, "unknown key; did you mean \"%s\"?", nearest);
            else
                fs_err_add(err, path, "unknown key (valid keys: count, vary)");
            rc = FS_ESCENARIO;
        }
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(rep, "count");
    double n = cJSON_IsNumber(count) ? count->valuedouble : -1;
    if (!(n >= 1 && n <= FS_SWEEP_MAX_REPLICATES && n == (int)n)) {
        replications_bad(err, "count", "an integer from 1 to 1000", count);
        rc = FS_ESCENARIO;
    } else {
        out->n_replicates = (int)n;
    }
    if (parse_vary(cJSON_GetObjectItemCaseSensitive(rep, "vary"), &out->vary, err))
        rc = FS_ESCENARIO;
    return rc;
}

/* replicated: the sweep had "replications", which alone leave nothing to compare (a
 * one-value axis replicates one configuration). */
static int check_grid(const cJSON *root, bool replicated, size_t *out_n, fs_err *err)
{
    size_t n = 1;
    int rc = FS_OK;
    for (const cJSON *axis = root->child; axis; axis = axis->next) {
        char path[300];
        snprintf(path, sizeof path, "sweep.%s", axis->string);
        if (is_seed_path(axis->string)) {
            seed_axis_error(err, path);
            rc = FS_ESCENARIO;
            continue;
        }
        int k = cJSON_GetArraySize(axis);
        if (!cJSON_IsArray(axis) || k < 1) {
            fs_err_add(err, path, "expected a non-empty array of values for %s", axis->string);
            rc = FS_ESCENARIO;
            continue;
        }
        n *= (size_t)k;
        if (n > FS_SWEEP_MAX_VARIANTS) {
            fs_err_add(err, "sweep", "expected at most %d variants, found more",
                       FS_SWEEP_MAX_VARIANTS);
            return FS_ESCENARIO;
        }
    }
    if (!root->child) {
        fs_err_add(err, "sweep",
                   replicated ? "expected at least one path to vary beside \"replications\" "
                                "(a one-value axis replicates one configuration), found none"
                              : "expected at least one path to vary, found none");
        rc = FS_ESCENARIO;
    }
    *out_n = n;
    return rc;
}

/* Variant i of the grid: digits of i in the mixed radix of the axes' lengths, last axis fastest. */
static int grid_variant(const cJSON *root, size_t i, fs_variant *v)
{
    size_t n_axes = (size_t)cJSON_GetArraySize(root), pick[FS_SWEEP_MAX_SETS] = {0}, a = n_axes;
    if (n_axes > FS_SWEEP_MAX_SETS) return FS_ESCENARIO;
    const cJSON *axes[FS_SWEEP_MAX_SETS];
    size_t j = 0;
    for (const cJSON *axis = root->child; axis; axis = axis->next)
        axes[j++] = axis;
    while (a-- > 0) {
        size_t len = (size_t)cJSON_GetArraySize(axes[a]);
        pick[a] = i % len;
        i /= len;
    }
    for (a = 0; a < n_axes; a++) {
        const cJSON *value = cJSON_GetArrayItem(axes[a], (int)pick[a]);
        int rc = add_set(v, axes[a]->string, value);
        if (rc) return rc;
        append_label(v, axes[a]->string, value);
    }
    return FS_OK;
}

static int explicit_variant(const cJSON *item, size_t i, fs_variant *v, fs_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "sweep.variants[%zu]", i);
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(item, "label");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(item, "set");
    if (!cJSON_IsObject(item) || !cJSON_IsString(label) || !label->valuestring[0] ||
        !cJSON_IsObject(set) || cJSON_GetArraySize(item) != 2) {
        fs_err_add(err, path,
                   "expected {\"label\": \"...\", \"set\": {\"json.path\": value, ...}}");
        return FS_ESCENARIO;
    }
    snprintf(v->label, sizeof v->label, "%s", label->valuestring);
    for (const cJSON *kv = set->child; kv; kv = kv->next) {
        if (is_seed_path(kv->string)) {
            char at[400];
            snprintf(at, sizeof at, "%s.set.%s", path, kv->string);
            seed_axis_error(err, at);
            return FS_ESCENARIO;
        }
        int rc = add_set(v, kv->string, kv);
        if (rc) return rc;
    }
    return FS_OK;
}

static int expand(const cJSON *root, bool replicated, fs_sweep *out, fs_err *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "variants");
    size_t n = 0;
    int rc;
    if (list) {
        if (cJSON_GetArraySize(root) != 1 || !cJSON_IsArray(list) || !cJSON_GetArraySize(list)) {
            fs_err_add(err, "sweep", "expected {\"variants\": [...]} alone, or a grid of paths");
            return FS_ESCENARIO;
        }
        n = (size_t)cJSON_GetArraySize(list);
    } else if ((rc = check_grid(root, replicated, &n, err))) {
        return rc;
    }
    out->variants = calloc(n, sizeof *out->variants);
    if (!out->variants) return FS_ENOMEM;
    out->n = n;
    rc = FS_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = list ? explicit_variant(cJSON_GetArrayItem(list, (int)i), i, &out->variants[i], err)
                  : grid_variant(root, i, &out->variants[i]);
    for (size_t i = 0; i < n && !rc; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->variants[i].label, out->variants[j].label)) {
                fs_err_add(err, "sweep", "expected distinct labels, found \"%s\" twice",
                           out->variants[i].label);
                rc = FS_ESCENARIO;
            }
    return rc;
}

int fs_sweep_parse(const char *sweep_json, fs_sweep *out, fs_err *err)
{
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_Parse(sweep_json);
    cJSON *rep = root ? cJSON_DetachItemFromObjectCaseSensitive(root, "replications") : NULL;
    int rc = root ? FS_OK : FS_ENOMEM;
    if (rep) rc = parse_replications(rep, out, err);
    if (root) {
        int rc2 = expand(root, rep != NULL, out, err); /* all problems at once */
        if (!rc) rc = rc2;
    }
    cJSON_Delete(rep);
    cJSON_Delete(root);
    if (rc) fs_sweep_fini(out);
    return rc;
}

void fs_sweep_fini(fs_sweep *s)
{
    for (size_t i = 0; s->variants && i < s->n; i++)
        for (size_t j = 0; j < s->variants[i].n_sets; j++)
            free(s->variants[i].sets[j]);
    free(s->variants);
    memset(s, 0, sizeof *s);
}

/* ---- replicate seeds ---- */

#define SEED_MASK ((UINT64_C(1) << 53) - 1) /* scenario integers are exact up to 2^53 */

static uint64_t replicate_seed(uint64_t base, int r)
{
    return r == 1 ? base
                  : fs_rng_seed(base, FS_RNG_REPLICATE, FS_RNG_NONE, (uint64_t)r) & SEED_MASK;
}

int fs_sweep_replicate_seeds(const char *sweep_json, uint64_t seed, uint64_t population_seed, int r,
                             uint64_t *out_seed, uint64_t *out_population_seed, fs_err *err)
{
    fs_sweep sw = {0};
    fs_err quiet;
    fs_err_init(&quiet, NULL);
    int rc = sweep_json ? fs_sweep_parse(sweep_json, &sw, &quiet) : FS_ESCENARIO;
    if (rc == FS_ENOMEM) return rc;
    int count = rc ? 0 : sw.n_replicates;
    enum fs_sweep_vary vary = sw.vary;
    if (!rc) fs_sweep_fini(&sw);
    if (count == 0 || r < 1 || r > count) {
        const char *file = err->file;
        err->file = NULL;
        if (count == 0)
            fs_err_add(err, "--replicate",
                       "expected a scenario whose sweep has valid "
                       "\"replications\", found %s",
                       sweep_json ? "none" : "no sweep");
        else
            fs_err_add(err, "--replicate",
                       "expected an integer from 1 to %d (sweep.replications"
                       ".count), found %d",
                       count, r);
        err->file = file;
        return FS_ESCENARIO;
    }
    *out_seed = vary == FS_VARY_POPULATION ? seed : replicate_seed(seed, r);
    *out_population_seed =
        vary == FS_VARY_CAMPAIGN ? population_seed : replicate_seed(population_seed, r);
    return FS_OK;
}

/* ---- the command ---- */

#define SWEEP_USAGE "usage: fedsim sweep SCENARIO [-o DB] [--jobs N] [--set path=value]...\n"
static const char sweep_usage[] = SWEEP_USAGE;
static const char sweep_help[] =
    SWEEP_USAGE
    "  run every variant of the scenario's \"sweep\" object into one database, each as its own\n"
    "  `fedsim run --variant LABEL`; variants the database holds as done are skipped, so running\n"
    "  the sweep again resumes it\n"
    "  -o, --output DB   write to DB instead of output.db\n"
    "  --jobs N          run N variants at a time (default 1), sharing the cores\n"
    "  --set PATH=VALUE  override a key of the base scenario (repeatable)\n";

static int usage_error(const char *what, const char *msg)
{
    fprintf(stderr, "fedsim: error: %s: %s\n%s", what, msg, sweep_usage);
    return 2;
}

static int parse_args(int argc, char **argv, sweep_args *a)
{
    memset(a, 0, sizeof *a);
    a->jobs = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool more = i + 1 < argc;
        if ((!strcmp(arg, "-o") || !strcmp(arg, "--output")) && more)
            a->db = argv[++i];
        else if (!strcmp(arg, "--set") && more && a->n_sets < 256)
            a->sets[a->n_sets++] = argv[++i];
        else if (!strcmp(arg, "--jobs") && more) {
            if (!fs_cli_parse_int(argv[++i], 1, 256, &a->jobs))
                return usage_error("--jobs", "expected an integer from 1 to 256");
        } else if (arg[0] == '-')
            return usage_error(arg, "unknown option or missing value");
        else if (!a->scenario)
            a->scenario = arg;
        else
            return usage_error(arg, "unexpected argument (one scenario per sweep)");
    }
    return a->scenario ? 0 : usage_error("sweep", "expected a scenario file");
}

/* On a terminal, while the variants' data load (a second each for 100,000 generated users):
 * "checking sweep variant i/n", or with i = n the line cleared. */
static void check_progress(const sweep_args *a, size_t i, size_t n)
{
    if (!a->check || n < 2 || !isatty(STDERR_FILENO)) return;
    if (i < n)
        fprintf(stderr, "\rchecking sweep variant %zu/%zu", i + 1, n);
    else
        fprintf(stderr, "\r%*s\r", 48, "");
    fflush(stderr);
}

/* Every variant must be a valid scenario before any runs, its data included: all problems at
 * once. */
static int validate_variants(const sweep_args *a, const fs_sweep *sw)
{
    int worst = FS_OK;
    for (size_t i = 0; i < sw->n; i++) {
        check_progress(a, i, sw->n);
        const fs_variant *v = &sw->variants[i];
        const char *sets[256 + FS_SWEEP_MAX_SETS];
        size_t n = 0;
        for (size_t j = 0; j < a->n_sets; j++)
            sets[n++] = a->sets[j];
        for (size_t j = 0; j < v->n_sets; j++)
            sets[n++] = v->sets[j];
        fs_err err;
        fs_err_init(&err, NULL); /* the file goes first, then the variant, then the key */
        fs_scenario s;
        int rc = fs_scn_load(a->scenario, sets, n, &s, &err);
        if (!rc && a->check && (rc = a->check(&s, &err))) fs_scn_fini(&s);
        char lb[4 * sizeof v->label], mb[4 * FS_ERR_MSG_LEN];
        if (err.n_msgs) check_progress(a, sw->n, sw->n);
        for (int m = 0; m < err.n_msgs; m++)
            fprintf(stderr, "fedsim: error: %s: sweep variant \"%s\": %s\n", a->scenario,
                    fs_text_term(v->label, lb, sizeof lb),
                    fs_text_term(err.msgs[m], mb, sizeof mb));
        if (rc)
            worst = rc;
        else
            fs_scn_fini(&s);
    }
    check_progress(a, sw->n, sw->n);
    return worst;
}

/* The runs of a sweep: every variant times every replicate (replicate-major within a variant,
 * so a variant's replicates finish together). Replicate 0 means "no replications" (NULL). */
size_t fs_sweep_n_jobs(const fs_sweep *sw)
{
    return sw->n * (size_t)(sw->n_replicates > 0 ? sw->n_replicates : 1);
}

const fs_variant *fs_sweep_job_variant(const fs_sweep *sw, size_t j)
{
    return &sw->variants[j / (size_t)(sw->n_replicates > 0 ? sw->n_replicates : 1)];
}

int fs_sweep_job_replicate(const fs_sweep *sw, size_t j)
{
    return sw->n_replicates > 0 ? (int)(j % (size_t)sw->n_replicates) + 1 : 0;
}

/* A job's name in messages: the label (control characters escaped) and its replicate. */
const char *fs_sweep_job_name(const fs_sweep *sw, size_t j, char *buf, size_t n)
{
    char lb[4 * sizeof sw->variants[0].label];
    const char *label = fs_text_term(fs_sweep_job_variant(sw, j)->label, lb, sizeof lb);
    if (fs_sweep_job_replicate(sw, j))
        snprintf(buf, n, "%s [replicate %d]", label, fs_sweep_job_replicate(sw, j));
    else
        snprintf(buf, n, "%s", label);
    return buf;
}

/* Fills state[j] for every job; a database that cannot be read stops the sweep (exit 3):
 * guessing "nothing done" would rerun finished variants. */
int fs_sweep_finished(const char *db_path, const char *name, const fs_sweep *sw,
                      unsigned char *state, int64_t *max_run_id, fs_err *err)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = fs_db_open_readonly(db_path, &db, err);
    if (rc) return rc;
    int src = sqlite3_prepare_v2(db,
                                 "SELECT coalesce(max(status = 'done'), 0), count(*) FROM runs"
                                 " WHERE name = ?1 AND variant = ?2 AND replicate IS ?3",
                                 -1, &st, NULL);
    for (size_t i = 0; src == SQLITE_OK && i < fs_sweep_n_jobs(sw); i++) {
        int r = fs_sweep_job_replicate(sw, i);
        src = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (src == SQLITE_OK)
            src = sqlite3_bind_text(st, 2, fs_sweep_job_variant(sw, i)->label, -1, SQLITE_STATIC);
        if (src == SQLITE_OK) src = r ? sqlite3_bind_int(st, 3, r) : sqlite3_bind_null(st, 3);
        if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
            state[i] = sqlite3_column_int(st, 0)   ? FS_SWEEP_DONE
                       : sqlite3_column_int(st, 1) ? FS_SWEEP_UNFINISHED
                                                   : FS_SWEEP_NEW;
            src = SQLITE_OK;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, "SELECT coalesce(max(run_id), 0) FROM runs", -1, &st, NULL);
    if (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        *max_run_id = sqlite3_column_int64(st, 0);
        src = SQLITE_OK;
    }
    if (src != SQLITE_OK) {
        fs_err_add(err, NULL, "%s: reading which variants are done: %s", db_path,
                   sqlite3_errmsg(db));
        rc = FS_EDB;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

void fs_sweep_run_ids(const unsigned char *state, size_t n_jobs, int64_t max_run_id,
                      int64_t *ids)
{
    int64_t next = max_run_id;
    for (size_t j = 0; j < n_jobs; j++)
        ids[j] = state[j] == FS_SWEEP_NEW ? ++next : 0;
    for (size_t j = 0; j < n_jobs; j++)
        if (state[j] == FS_SWEEP_UNFINISHED) ids[j] = ++next;
}

typedef struct child {
    pid_t pid;
    size_t job; /* index into the (variant, replicate) runs */
    double started;
} child;

/* After fork, before exec: only async-signal-safe calls. The sweep's handlers and blocked mask
 * are undone (an ignored SIGHUP, from nohup, stays ignored), and the child asks for SIGTERM
 * when the sweep dies, however it dies (kill -9 included): it then stops after its current
 * round, status interrupted, instead of racing a rerun of the sweep. getppid() after the prctl
 * closes the window in which the sweep died before the request. */
static _Noreturn void exec_child(const char *self, char **argv, pid_t sweep,
                                 const sigset_t *mask)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGCHLD, &dfl, NULL);
    if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &dfl, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != sweep) _exit(128 + SIGTERM);
    sigprocmask(SIG_SETMASK, mask, NULL);
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0 && fd != STDOUT_FILENO) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    execv(self, argv);
    _exit(127);
}

/* fork + exec rather than posix_spawn: posix_spawn cannot set the parent-death signal. The
 * children stay in the sweep's process group, so a terminal's Ctrl-C or hangup reaches all of
 * them at once; the sweep does not make a group of its own, which would take it out of the
 * terminal's foreground group when started from a script (Ctrl-C would then miss it). */
pid_t fs_sweep_spawn(const sweep_args *a, const fs_variant *v, int replicate, const char *db,
                     int threads, bool resume, int64_t run_id, const sigset_t *child_mask)
{
    char self[4096], th[16], rep[16], id[24];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return -1;
    self[len] = '\0';
    snprintf(th, sizeof th, "%d", threads);
    char *argv[20 + 2 * (256 + FS_SWEEP_MAX_SETS)];
    size_t n = 0;
    const char *fixed[] = {self,     "run",       a->scenario, "-o",      db,       "--variant",
                           v->label, "--threads", th,          "--quiet", "--resume"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed - !resume; i++)
        argv[n++] = (char *)fixed[i];
    snprintf(rep, sizeof rep, "%d", replicate);
    if (replicate) argv[n++] = "--replicate", argv[n++] = rep;
    snprintf(id, sizeof id, "%lld", (long long)run_id);
    if (run_id > 0) argv[n++] = "--run-id", argv[n++] = id;
    for (size_t i = 0; i < a->n_sets; i++)
        argv[n++] = "--set", argv[n++] = (char *)a->sets[i];
    for (size_t i = 0; i < v->n_sets; i++)
        argv[n++] = "--set", argv[n++] = v->sets[i];
    argv[n] = NULL;
    pid_t sweep = getpid();
    pid_t pid = fork();
    if (pid == 0) exec_child(self, argv, sweep, child_mask);
    return pid;
}

bool fs_sweep_interrupted_code(int code)
{
    return code == 128 + SIGINT || code == 128 + SIGTERM || code == 128 + SIGHUP;
}

/* Collects one child that has ended, without waiting; prints its line. False when none has. */
/* Counts one ended run by its exit code and says how it ended: "done", "interrupted" (a stop
 * signal: the sweep remembers the code to exit with) or "failed". */
const char *fs_sweep_tally_end(sweep_tally *t, int code)
{
    if (code == 0) return t->done++, "done";
    if (fs_sweep_interrupted_code(code))
        return t->interrupted++, t->child_signal_code = code, "interrupted";
    return t->failed++, "failed";
}

static bool reap(child *kids, size_t *n_kids, const fs_sweep *sw, sweep_tally *t)
{
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return false;
    for (size_t k = 0; k < *n_kids; k++) {
        if (kids[k].pid != pid) continue;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        const char *outcome = fs_sweep_tally_end(t, code);
        char name[4 * sizeof sw->variants[0].label + 32];
        fprintf(stderr, "fedsim: sweep [%zu/%zu] %s: %s (%.1f s)\n",
                t->done + t->interrupted + t->failed, t->todo,
                fs_sweep_job_name(sw, kids[k].job, name, sizeof name), outcome,
                fs_wall_seconds() - kids[k].started);
        kids[k] = kids[--*n_kids];
        return true;
    }
    return true; /* not one of ours: nothing to count */
}

static void on_child(int sig)
{
    (void)sig; /* only wakes sigsuspend */
}

/* Sends a stop signal the sweep received to every child, once per distinct signal: `kill PID`
 * of the sweep alone must stop the variants too (a terminal's signals reach them directly as
 * well; a second copy changes nothing). */
static void forward_stop(const child *kids, size_t n_kids, int *sent)
{
    int sig = fs_cli_stop_signal;
    if (!sig || sig == *sent) return;
    for (size_t k = 0; k < n_kids; k++)
        kill(kids[k].pid, sig);
    *sent = sig;
}

/* ---- progress inside the running variants: the children run --quiet, so on a terminal the
 * sweep redraws one line a second with the rounds each running child has recorded (read from
 * the database, which readers may query while the children write). */

#define PROGRESS_WIDTH 100

typedef struct sweep_progress {
    bool on;      /* stderr is a terminal */
    bool drawn;   /* a progress line is on screen */
    const char *db, *name;
} sweep_progress;

static void on_alarm(int sig)
{
    (void)sig; /* only wakes sigsuspend */
}

/* Rounds the latest run of job j has recorded (0 before it has any). */
static long job_rounds(sqlite3 *c, const fs_sweep *sw, const char *name, size_t j)
{
    sqlite3_stmt *st = NULL;
    long n = 0;
    int r = fs_sweep_job_replicate(sw, j);
    if (sqlite3_prepare_v2(c,
                           "SELECT count(*) FROM rounds WHERE run_id = (SELECT max(run_id) FROM"
                           " runs WHERE name = ?1 AND variant = ?2 AND replicate IS ?3)",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_text(st, 2, fs_sweep_job_variant(sw, j)->label, -1, SQLITE_STATIC) == SQLITE_OK &&
        (r ? sqlite3_bind_int(st, 3, r) : sqlite3_bind_null(st, 3)) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void progress_clear(sweep_progress *p)
{
    if (!p->drawn) return;
    fprintf(stderr, "\r%*s\r", PROGRESS_WIDTH, "");
    p->drawn = false;
}

static void progress_draw(sweep_progress *p, const fs_sweep *sw, const child *kids, size_t n_kids,
                          const sweep_tally *t)
{
    if (!p->on || !n_kids) return;
    sqlite3 *c = NULL;
    fs_err quiet;
    fs_err_init(&quiet, NULL);
    if (fs_db_open_readonly(p->db, &c, &quiet)) return;
    char line[PROGRESS_WIDTH + 1];
    int at = snprintf(line, sizeof line, "sweep %zu/%zu finished; running, rounds so far:",
                      t->done + t->interrupted + t->failed, t->todo);
    for (size_t k = 0; k < n_kids && at > 0 && (size_t)at < sizeof line; k++)
        at += snprintf(line + at, sizeof line - (size_t)at, " %ld",
                       job_rounds(c, sw, p->name, kids[k].job));
    sqlite3_close(c);
    fprintf(stderr, "\r%-*.*s", PROGRESS_WIDTH - 1, PROGRESS_WIDTH - 1, line);
    fflush(stderr);
    p->drawn = true;
}

/* The stop signals and SIGCHLD are blocked except inside sigsuspend, so a signal that arrives
 * between two checks is never lost: the loop sleeps only when nothing is left to do. */
static int run_all(const sweep_args *a, const fs_sweep *sw, const unsigned char *state,
                   const int64_t *run_ids, const char *db, const char *name, sweep_tally *t)
{
    sweep_progress prog = {.on = isatty(STDERR_FILENO), .db = db, .name = name};
    int cores = fs_cli_cpus(); /* those this process may run on: taskset, mpirun -n 1 */
    int threads = cores > a->jobs ? cores / a->jobs : 1;
    size_t n_kids = 0, n = fs_sweep_n_jobs(sw);
    for (size_t i = 0; i < n; i++)
        t->todo += state[i] != FS_SWEEP_DONE;
    setenv("FEDSIM_SWEEP_CHILD", "1", 1); /* the children leave the resume hint to the sweep */
    fs_mpi_mark_children(); /* under mpirun -n 1 too: they are not ranks */
    sigset_t block, old_mask, wait_mask;
    sigemptyset(&block);
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM};
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++)
        sigaddset(&block, sigs[k]);
    struct sigaction sa = {.sa_handler = on_child}, old_chld, al = {.sa_handler = on_alarm},
                     old_alrm;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&al.sa_mask);
    sigaction(SIGCHLD, &sa, &old_chld);
    sigaction(SIGALRM, &al, &old_alrm);
    struct itimerval tick = {.it_interval = {1, 0}, .it_value = {1, 0}}, no_tick = {0};
    if (prog.on) setitimer(ITIMER_REAL, &tick, NULL);
    sigprocmask(SIG_BLOCK, &block, &old_mask);
    wait_mask = old_mask;
    for (size_t k = 0; k < sizeof sigs / sizeof *sigs; k++)
        sigdelset(&wait_mask, sigs[k]);
    child kids[256];
    int code = 0, sent = 0;
    for (size_t i = 0;;) {
        forward_stop(kids, n_kids, &sent);
        bool stopping = fs_cli_stop_signal || t->child_signal_code;
        if (!stopping && i < n && state[i] == FS_SWEEP_DONE) {
            i++;
            continue;
        }
        if (!stopping && i < n && n_kids < (size_t)a->jobs) {
            pid_t pid = fs_sweep_spawn(a, fs_sweep_job_variant(sw, i), fs_sweep_job_replicate(sw, i), db, threads,
                                      state[i] == FS_SWEEP_UNFINISHED, run_ids[i], &old_mask);
            if (pid < 0) {
                char jn[4 * sizeof sw->variants[0].label + 32];
                fprintf(stderr, "fedsim: error: cannot start fedsim for variant \"%s\": %s\n",
                        fs_sweep_job_name(sw, i, jn, sizeof jn), strerror(errno));
                code = 70;
                fs_cli_stop_signal = SIGTERM; /* stop the others, then report */
                continue;
            }
            kids[n_kids++] = (child){pid, i, fs_wall_seconds()};
            t->started++;
            i++;
            continue;
        }
        progress_clear(&prog); /* reap's line replaces it */
        if (reap(kids, &n_kids, sw, t)) continue;
        if (!n_kids) break;
        progress_draw(&prog, sw, kids, n_kids, t);
        sigsuspend(&wait_mask);
    }
    progress_clear(&prog);
    if (prog.on) setitimer(ITIMER_REAL, &no_tick, NULL);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigaction(SIGALRM, &old_alrm, NULL);
    unsetenv("FEDSIM_SWEEP_CHILD");
    if (code) return code;
    if (fs_cli_stop_signal) return fs_cli_signal_exit_code(fs_cli_stop_signal);
    if (t->child_signal_code) return t->child_signal_code;
    return t->failed ? 3 : 0;
}

/* The command that continues this sweep: same scenario, database and overrides. */
static void print_sweep_resume_hint(const sweep_args *a, const char *db)
{
    fputs("fedsim: to continue: fedsim sweep", stderr);
    fs_cli_fput_arg(a->scenario, stderr);
    fs_cli_fput_arg("-o", stderr);
    fs_cli_fput_arg(db, stderr);
    for (size_t i = 0; i < a->n_sets; i++) {
        fs_cli_fput_arg("--set", stderr);
        fs_cli_fput_arg(a->sets[i], stderr);
    }
    fputc('\n', stderr);
}

/* Replicate statistics (variant_stats, variant_round_stats) over whatever is done, also after
 * an interruption: a resumed sweep recomputes them. Returns an exit code. */
static int refresh_stats(const char *db_path, const char *name)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_db *db = NULL;
    int rc = fs_db_open(db_path, &db, &err);
    if (!rc) rc = fs_db_refresh_variant_stats(db, name, &err);
    fs_db_close(db);
    if (rc) fs_err_print(&err, stderr);
    return rc ? fs_exit_code(rc) : 0;
}

static int lead_scenario(const sweep_args *a, const fs_scenario *s, fs_sweep *sw);
static void quiet_stderr(bool on);
static int sweep_cli(int argc, char **argv, fs_sweep_data_check check);

static int sweep_scenario(const sweep_args *a, const fs_scenario *s)
{
    fs_err err;
    fs_err_init(&err, a->scenario);
    fs_sweep sw;
    if (!s->sweep_json) {
        fs_err_add(&err, "sweep", "missing: nothing to sweep (use fedsim run)");
        fs_err_print(&err, stderr);
        return 2;
    }
    int rc = fs_sweep_parse(s->sweep_json, &sw, &err);
    if (rc) return fs_err_print(&err, stderr), fs_exit_code(rc);
    if (fs_mpi_rank() > 0) { /* the rest is rank 0's: the others run what it sends */
        quiet_stderr(false);
        rc = fs_sweep_ranks_work(a, &sw);
        fs_sweep_fini(&sw);
        return rc;
    }
    rc = lead_scenario(a, s, &sw);
    if (rc < 0) rc = 70;
    fs_sweep_fini(&sw);
    return rc;
}

/* Rank 0 (or the only process) from the parsed sweep on. A failure before the runs start
 * releases the other ranks, which wait for jobs. */
static int lead_scenario(const sweep_args *a, const fs_scenario *s, fs_sweep *swp)
{
    fs_err err;
    fs_err_init(&err, NULL);
    fs_sweep sw = *swp;
    int rc;
    if ((rc = validate_variants(a, &sw))) return fs_sweep_ranks_release(), fs_exit_code(rc);
    const char *db = a->db ? a->db : s->output.db;
    /* create the database (and folder) here: concurrent first opens by the children would race
     * to set up the schema; its page size is the one a run of the base scenario would give it */
    fs_db *created = NULL;
    fs_err_init(&err, NULL);
    if (fs_files_make_parent_dirs(db))
        fs_err_add(&err, NULL, "%s: cannot create its folder: %s", db, strerror(errno));
    else if (!fs_db_open_paged(db, fs_db_page_size_for(s->data.clients), &created, &err))
        fs_db_close(created);
    if (err.n_total) return fs_err_print(&err, stderr), fs_sweep_ranks_release(), 3;
    size_t n = fs_sweep_n_jobs(&sw);
    unsigned char *state = calloc(n ? n : 1, 1);
    int64_t *run_ids = calloc(n ? n : 1, sizeof *run_ids), max_run_id = 0;
    if (!state || !run_ids) return free(state), free(run_ids), fs_sweep_ranks_release(), 71;
    if ((rc = fs_sweep_finished(db, s->name, &sw, state, &max_run_id, &err)))
        return fs_err_print(&err, stderr), free(state), free(run_ids), fs_sweep_ranks_release(),
               fs_exit_code(rc);
    fs_sweep_run_ids(state, n, max_run_id, run_ids);
    size_t skipped = 0;
    for (size_t i = 0; i < n; i++)
        skipped += state[i] == FS_SWEEP_DONE;
    char shape[96];
    if (sw.n_replicates)
        snprintf(shape, sizeof shape, "%zu variants x %d replicates = %zu runs", sw.n,
                 sw.n_replicates, n);
    else
        snprintf(shape, sizeof shape, "%zu variants", sw.n);
    char ranks[32] = "";
    if (fs_mpi_size() > 1) snprintf(ranks, sizeof ranks, " on %d ranks", fs_mpi_size());
    fprintf(stderr, "fedsim: sweep %s: %s, %zu already done in %s%s\n", s->name, shape, skipped,
            db, ranks);
    double t0 = fs_wall_seconds();
    sweep_tally t = {0};
    int code = fs_mpi_size() > 1 ? fs_sweep_ranks_lead(a, &sw, state, run_ids, db, s->name, &t)
                                 : run_all(a, &sw, state, run_ids, db, s->name, &t);
    int stats = refresh_stats(db, s->name);
    if (!code && stats) code = stats;
    if (t.done == t.todo)
        printf("fedsim: sweep %s: %s (%zu run now, %zu already done) in %.1f s%s;"
               " results in %s\n",
               s->name, shape, t.done, skipped, fs_wall_seconds() - t0, ranks, db);
    else
        printf("fedsim: sweep %s: %s (%zu done now, %zu interrupted, %zu failed,"
               " %zu not started, %zu already done) in %.1f s%s; results in %s\n",
               s->name, shape, t.done, t.interrupted, t.failed, t.todo - t.started, skipped,
               fs_wall_seconds() - t0, ranks, db);
    fflush(stdout);
    if (t.done != t.todo) print_sweep_resume_hint(a, db);
    free(state);
    free(run_ids);
    return code;
}

/* Ranks other than 0 parse what rank 0 parses, silently: rank 0 alone reports bad input. */
static int quiet_fd = -1;

static void quiet_stderr(bool on)
{
    fflush(stderr);
    if (on && quiet_fd < 0 && fs_mpi_rank() > 0) {
        int nul = open("/dev/null", O_WRONLY);
        quiet_fd = dup(STDERR_FILENO);
        if (nul >= 0) dup2(nul, STDERR_FILENO), close(nul);
    } else if (!on && quiet_fd >= 0) {
        dup2(quiet_fd, STDERR_FILENO);
        close(quiet_fd);
        quiet_fd = -1;
    }
}

int fs_sweep_cli(int argc, char **argv, fs_sweep_data_check check)
{
    quiet_stderr(true);
    int code = sweep_cli(argc, argv, check);
    quiet_stderr(false);
    return code;
}

static int sweep_cli(int argc, char **argv, fs_sweep_data_check check)
{
    if (fs_cli_wants_help(argc, argv)) return fputs(sweep_help, stdout), 0;
    sweep_args a;
    int bad = parse_args(argc, argv, &a);
    if (bad) return bad;
    a.check = check;
    fs_err err;
    fs_err_init(&err, a.scenario);
    fs_scenario s;
    int rc = fs_scn_load(a.scenario, a.sets, a.n_sets, &s, &err);
    if (rc) return fs_err_print(&err, stderr), fs_exit_code(rc);
    /* SIGINT, SIGTERM, SIGHUP: no new variant starts, the running ones are told to stop after
     * their current round (see run_all), and the sweep exits 128 + signal */
    fs_cli_catch_stop_signals();
    int code = sweep_scenario(&a, &s);
    fs_scn_fini(&s);
    return code;
}

/* ---- for fedsim validate ---- */

int fs_sweep_validate(const char *scenario, const char *const *sets, size_t n_sets,
                      const char *sweep_json, fs_sweep_data_check check)
{
    sweep_args a = {.scenario = scenario, .check = check};
    for (size_t i = 0; i < n_sets && a.n_sets < sizeof a.sets / sizeof *a.sets; i++)
        a.sets[a.n_sets++] = sets[i];
    fs_err err;
    fs_err_init(&err, scenario);
    fs_sweep sw;
    int rc = fs_sweep_parse(sweep_json, &sw, &err);
    if (rc) {
        fs_err_print(&err, stderr);
        return rc;
    }
    rc = validate_variants(&a, &sw);
    fs_sweep_fini(&sw);
    return rc;
}
