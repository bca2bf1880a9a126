/* fs_report: the `fedsim report` command. Parses arguments, opens the results database
 * read-only, loads the runs, writes each plot's data file and gnuplot script, runs gnuplot once
 * per plot (so a failure names its plot), then writes report.html. Why one gnuplot process per
 * plot: the cost is a few tens of milliseconds each, and gnuplot's error text then belongs to
 * exactly one script the user can rerun by hand. */
#include "fs_report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_db.h"
#include "fs_report_int.h"

#define GP_TEXT_MAX 4096 /* gnuplot output kept for messages; the rest is drained */
#define GP_MSG_MAX 360   /* of which a message quotes at most this (fs_err lines are 512) */

static const char usage[] =
    "usage: fedsim report DB [-o DIR]\n"
    "  plots (PNG and SVG, drawn by gnuplot) and a self-contained report.html of every run\n"
    "  in the results database DB, with their data files and gnuplot scripts\n"
    "  -o, --output DIR  write into DIR (default results/report-<DB file name without\n"
    "                    extension>); created if missing\n"
    "  environment: FEDSIM_GNUPLOT=PROGRAM draws with PROGRAM instead of gnuplot on PATH\n"
    "  exit codes: 0 ok (also without gnuplot: tables only), 2 bad arguments, 3 missing\n"
    "              database, I/O error or gnuplot failure\n";

/* ---- shared helpers (fs_report_int.h) */

int fs_report_prepare(fs_report *r, const char *sql, const char *what, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(r->db, sql, -1, out, NULL) == SQLITE_OK) return FS_OK;
    const char *msg = sqlite3_errmsg(r->db);
    fs_err_add(r->err, NULL, "%s: %s: %s%s", r->db_path, what, msg,
               strstr(msg, "no such") ? " (a database written by an older fedsim?)" : "");
    *out = NULL;
    return FS_EDB;
}

int fs_report_step(fs_report *r, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return rc;
    fs_err_add(r->err, NULL, "%s: %s: %s", r->db_path, what, sqlite3_errmsg(r->db));
    return -1;
}

char *fs_report_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- arguments */

typedef struct report_args {
    const char *db, *dir;
    char default_dir[1024];
} report_args;

static int bad_arg(const char *what, const char *found)
{
    fprintf(stderr, "fedsim: error: %s: %s\n%s", what, found, usage);
    return 2;
}

/* results/report-<basename of db without its extension> */
static void default_dir(const char *db, char *out, size_t n)
{
    const char *base = strrchr(db, '/');
    base = base ? base + 1 : db;
    const char *dot = strrchr(base, '.');
    int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, n, "results/report-%.*s", len, base);
}

static int parse_args(int argc, char **argv, report_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (i + 1 >= argc || !argv[i + 1][0]) return bad_arg(arg, "expected a folder");
            a->dir = argv[++i];
        } else if (arg[0] == '-' && arg[1]) {
            return bad_arg(arg, "unknown option");
        } else if (!a->db) {
            a->db = arg;
        } else {
            return bad_arg(arg, "unexpected argument (one database per report)");
        }
    }
    if (!a->db || !a->db[0]) return bad_arg("report", "expected a results database");
    if (!a->dir) {
        default_dir(a->db, a->default_dir, sizeof a->default_dir);
        a->dir = a->default_dir;
    }
    return 0;
}

/* ---- database and runs */

/* fs_db_open_readonly: never creates or writes the file, works on read-only media, refuses a
 * file that is not a fedsim database of this schema version. */
static int open_db(fs_report *r)
{
    return fs_db_open_readonly(r->db_path, &r->db, r->err);
}

/* meta.schema_version; 0 when the file has none (then the newest columns are not assumed). */
static int read_schema_version(fs_report *r)
{
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, "SELECT value FROM meta WHERE key = 'schema_version'",
                               "reading meta", &st);
    if (rc) return rc;
    int s = fs_report_step(r, st, "reading meta");
    r->schema_version = s == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return s < 0 ? FS_EDB : FS_OK;
}

/* Copy of a text column; *lost is set when memory ran out (a NULL column gives NULL). */
static char *column_dup(sqlite3_stmt *st, int c, bool *lost)
{
    const char *text = (const char *)sqlite3_column_text(st, c);
    char *copy = fs_report_strdup(text);
    if (text && !copy) *lost = true;
    return copy;
}

static int add_run(fs_report *r, sqlite3_stmt *st)
{
    fs_report_run *grown = realloc(r->runs, (r->n_runs + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    r->runs = grown;
    fs_report_run *run = &r->runs[r->n_runs++];
    bool lost = false;
    *run = (fs_report_run){.run_id = sqlite3_column_int64(st, 0)};
    run->name = column_dup(st, 1, &lost);
    const char *variant = (const char *)sqlite3_column_text(st, 2);
    run->variant = strdup(variant ? variant : "");
    run->metric = column_dup(st, 3, &lost);
    run->scenario_json = column_dup(st, 4, &lost);
    run->target_metric = column_dup(st, 5, &lost);
    run->target_value = sqlite3_column_double(st, 6);
    run->replicate = sqlite3_column_int64(st, 7);
    run->target_lower_better = sqlite3_column_int(st, 8) != 0;
    return lost || !run->variant ? FS_ENOMEM : FS_OK;
}

/* The headline metric all evaluated runs share, so axes can name it; NULL when they differ. */
static const char *common_metric(const fs_report *r)
{
    const char *m = NULL;
    for (size_t i = 0; i < r->n_runs; i++) {
        const char *mi = r->runs[i].metric;
        if (!mi) continue;
        if (m && strcmp(m, mi)) return NULL;
        m = mi;
    }
    return m;
}

/* The target every run with one shares (metric and value), so plots can draw it as a line. */
static void common_target(fs_report *r)
{
    const fs_report_run *first = NULL;
    for (size_t i = 0; i < r->n_runs; i++) {
        const fs_report_run *run = &r->runs[i];
        if (!run->target_metric) continue;
        if (first && (strcmp(first->target_metric, run->target_metric) ||
                      first->target_value != run->target_value ||
                      first->target_lower_better != run->target_lower_better))
            return;
        if (!first) first = run;
    }
    if (!first) return;
    r->target_metric = first->target_metric;
    r->target_value = first->target_value;
    r->target_lower_better = first->target_lower_better;
}

/* Version 2 files have no runs.replicate: every run there is a single draw. */
static int load_runs(fs_report *r)
{
    static const char sql_v3[] =
        "SELECT r.run_id, r.name, r.variant, s.final_metric, r.scenario_json,"
        " r.target_metric, r.target_value, r.replicate, r.target_lower_better FROM runs r"
        " LEFT JOIN v_run_summary s ON s.run_id = r.run_id ORDER BY r.run_id";
    static const char sql_v2[] =
        "SELECT r.run_id, r.name, r.variant, s.final_metric, r.scenario_json,"
        " r.target_metric, r.target_value, NULL, r.target_lower_better FROM runs r"
        " LEFT JOIN v_run_summary s ON s.run_id = r.run_id ORDER BY r.run_id";
    int rc = read_schema_version(r);
    sqlite3_stmt *st;
    if (!rc)
        rc = fs_report_prepare(r, r->schema_version >= 3 ? sql_v3 : sql_v2, "reading runs", &st);
    if (rc) return rc;
    int s;
    while (rc == FS_OK && (s = fs_report_step(r, st, "reading runs")) == SQLITE_ROW)
        rc = add_run(r, st);
    if (rc == FS_OK && s < 0) rc = FS_EDB;
    sqlite3_finalize(st);
    r->metric = common_metric(r);
    common_target(r);
    return rc ? rc : fs_report_group_runs(r);
}

static void free_runs(fs_report *r)
{
    fs_report_free_groups(r);
    for (size_t i = 0; i < r->n_runs; i++) {
        fs_report_run *run = &r->runs[i];
        free(run->label);
        free(run->metric);
        free(run->name);
        free(run->variant);
        free(run->scenario_json);
        free(run->target_metric);
    }
    free(r->runs);
}

/* ---- output folder and files */

static int make_dirs(fs_report *r)
{
    char dir[1024];
    if (snprintf(dir, sizeof dir, "%s", r->dir) >= (int)sizeof dir) {
        fs_err_add(r->err, NULL, "%s: folder name too long", r->dir);
        return FS_EIO;
    }
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0777) && errno != EEXIST) break;
        *p = '/';
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fs_err_add(r->err, NULL, "%s: cannot create folder: %s", r->dir, strerror(errno));
        return FS_EIO;
    }
    return FS_OK;
}

static FILE *open_out(fs_report *r, const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s%s", r->dir, name, ext);
    FILE *f = fopen(path, "w");
    if (!f) fs_err_add(r->err, NULL, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* fclose that reports a write error (disk full shows up here) as "<path>: cannot write". */
static int close_out(fs_report *r, FILE *f, const char *name, const char *ext)
{
    bool bad = ferror(f);
    bad = fclose(f) != 0 || bad;
    if (!bad) return FS_OK;
    fs_err_add(r->err, NULL, "%s/%s%s: cannot write: %s", r->dir, name, ext, strerror(errno));
    return FS_EIO;
}

static void remove_out(const fs_report *r, const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s%s", r->dir, name, ext);
    unlink(path);
}

/* One script draws its plot twice, PNG then SVG, both 1000x600; noenhanced so labels with _ or
 * ^ print as written. The writer's body goes inside the loop. Line types 1-10 get ten distinct
 * colours (matplotlib's tab10; gnuplot's own cycle has a pale yellow), so variant k keeps colour
 * k + 1 in every plot. */
static void gp_begin(FILE *gp, const fs_report_plot *p)
{
    static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                          "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                          "#bcbd22", "#17becf"};
    fprintf(gp, "# fedsim report: %s\n# Data: %s.dat. Rerun from this folder: gnuplot %s.gp\n",
            p->heading, p->name, p->name);
    for (size_t i = 0; i < sizeof colours / sizeof *colours; i++)
        fprintf(gp, "set linetype %zu lc rgb '%s'\n", i + 1, colours[i]);
    fprintf(gp,
            "set linetype cycle %zu\n"
            "set datafile separator \"\\t\"\n"
            "set grid\n"
            "set key outside right top\n"
            "do for [fmt in \"png svg\"] {\n"
            "  if (fmt eq \"png\") {\n"
            "    set terminal pngcairo size 1000,600 noenhanced font \",11\"\n"
            "  } else {\n"
            "    set terminal svg size 1000,600 noenhanced dynamic font \",11\"\n"
            "  }\n"
            "  set output \"%s.\" . fmt\n",
            sizeof colours / sizeof *colours, p->name);
}

static int write_plot_files(fs_report *r, fs_report_plot *p)
{
    FILE *dat = open_out(r, p->name, ".dat");
    FILE *gp = dat ? open_out(r, p->name, ".gp") : NULL;
    if (!gp) {
        if (dat) fclose(dat);
        return FS_EIO;
    }
    fprintf(dat, "# fedsim report: %s (from %s)\n", p->heading, r->db_path);
    gp_begin(gp, p);
    int rc = p->write(r, p, dat, gp);
    fputs("  unset output\n}\n", gp);
    int rc_dat = close_out(r, dat, p->name, ".dat");
    int rc_gp = close_out(r, gp, p->name, ".gp");
    if (!rc) rc = rc_dat ? rc_dat : rc_gp;
    if (rc == FS_OK && !p->has_data) {
        remove_out(r, p->name, ".dat");
        remove_out(r, p->name, ".gp");
    }
    return rc;
}

/* ---- gnuplot */

/* The program found as an absolute path in out (PATH_MAX bytes): gnuplot runs in the output
 * folder, where a relative path would no longer lead to it. */
static const char *absolute_exe(const char *prog, char *out)
{
    if (access(prog, X_OK)) return NULL;
    if (prog[0] == '/') return strcpy(out, prog);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    bool fits = snprintf(out, PATH_MAX, "%s/%s", cwd, prog) < PATH_MAX;
    return fits ? out : NULL;
}

/* FEDSIM_GNUPLOT (a path, or a name looked up on PATH), else gnuplot on PATH. NULL when that
 * program does not exist or is not executable. out holds PATH_MAX bytes. */
static const char *find_gnuplot(char *out)
{
    const char *prog = getenv("FEDSIM_GNUPLOT");
    if (!prog || !prog[0]) prog = "gnuplot";
    if (strchr(prog, '/')) return absolute_exe(prog, out);
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char cand[PATH_MAX];
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(cand, sizeof cand, "%.*s/%s", (int)len, len ? path : ".", prog);
        if (absolute_exe(cand, out)) return out;
        path += len + (path[len] == ':');
    }
    return NULL;
}

/* Reads the child's output until EOF, keeping the first GP_TEXT_MAX - 1 bytes. */
static void drain(int fd, char *text, size_t cap)
{
    size_t n = 0;
    char chunk[512];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) != 0) {
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        size_t take = (size_t)got < cap - 1 - n ? (size_t)got : cap - 1 - n;
        memcpy(text + n, chunk, take);
        n += take;
    }
    text[n] = '\0';
}

/* Runs `gnuplot <name>.gp` in the output folder with stdout and stderr captured in text.
 * Returns the wait status, or -1 if the process could not be started. */
static int spawn_gnuplot(const fs_report *r, const char *gnuplot, const char *name, char *text)
{
    int fds[2];
    if (pipe(fds)) return -1;
    char script[512];
    snprintf(script, sizeof script, "%s.gp", name);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (chdir(r->dir)) {
            fprintf(stderr, "cannot enter %s: %s\n", r->dir, strerror(errno));
            _exit(126);
        }
        execl(gnuplot, gnuplot, script, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", gnuplot, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    drain(fds[0], text, GP_TEXT_MAX);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return status;
}

static bool has_error_text(const char *text)
{
    for (const char *s = text; *s; s++)
        if (!strncasecmp(s, "error", 5)) return true;
    return false;
}

static void trim_end(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static bool file_exists(const fs_report *r, const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s%s", r->dir, name, ext);
    return access(path, F_OK) == 0;
}

/* Draws one plot. Failure: "<dir>/<name>.gp: plot <name>: gnuplot <what>: <its text>", quoting
 * the end of gnuplot's output, where its error message is. */
static int draw(fs_report *r, const char *gnuplot, fs_report_plot *p)
{
    char text[GP_TEXT_MAX];
    text[0] = '\0';
    int status = spawn_gnuplot(r, gnuplot, p->name, text);
    trim_end(text);
    char what[600];
    if (status == -1)
        snprintf(what, sizeof what, "could not be started (%s)", strerror(errno));
    else if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "was killed by signal %d", WTERMSIG(status));
    else if (WEXITSTATUS(status))
        snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(status));
    else if (has_error_text(text))
        snprintf(what, sizeof what, "reported an error");
    else if (!file_exists(r, p->name, ".png") || !file_exists(r, p->name, ".svg"))
        snprintf(what, sizeof what, "exited without writing %s.png and %s.svg", p->name, p->name);
    else {
        p->drawn = true;
        return FS_OK;
    }
    size_t n = strlen(text);
    const char *quote = n > GP_MSG_MAX ? text + n - GP_MSG_MAX : text;
    fs_err_add(r->err, NULL, "%s/%s.gp: plot %s: gnuplot %s%s%s", r->dir, p->name, p->name, what,
               quote[0] ? ": " : "", quote);
    return FS_EIO;
}

/* ---- the command */

static int make_report(fs_report *r, fs_report_plot *plots)
{
    int rc = open_db(r);
    if (!rc) rc = load_runs(r);
    if (!rc) rc = make_dirs(r);
    for (size_t i = 0; !rc && i < fs_report_n_plots; i++)
        rc = write_plot_files(r, &plots[i]);
    if (rc) return rc;
    char buf[PATH_MAX];
    const char *gnuplot = find_gnuplot(buf);
    if (!gnuplot)
        fputs("fedsim: warning: gnuplot not found; wrote data files and report.html tables "
              "only\n",
              stderr);
    for (size_t i = 0; gnuplot && !rc && i < fs_report_n_plots; i++)
        if (plots[i].has_data) rc = draw(r, gnuplot, &plots[i]);
    if (rc) return rc;
    return fs_report_write_html(r, plots, fs_report_n_plots,
                                gnuplot ? NULL : "not drawn: gnuplot was not found");
}

int fs_report_cli(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    report_args a;
    int bad = parse_args(argc, argv, &a);
    if (bad) return bad;
    fs_err err;
    fs_err_init(&err, NULL);
    fs_report r = {.db_path = a.db, .dir = a.dir, .err = &err};
    fs_report_plot plots[16];
    fs_assert(fs_report_n_plots <= sizeof plots / sizeof *plots);
    memcpy(plots, fs_report_plots, fs_report_n_plots * sizeof *plots);
    int rc = make_report(&r, plots);
    if (rc == FS_ENOMEM && !err.n_total) fs_err_add(&err, NULL, "out of memory");
    free_runs(&r);
    sqlite3_close(r.db);
    if (rc) {
        fs_err_print(&err, stderr);
        return fs_exit_code(rc);
    }
    printf("fedsim: report of %zu run%s in %s/report.html\n", r.n_runs, r.n_runs == 1 ? "" : "s",
           a.dir);
    return 0;
}
