/* fs_report_plot: the report plots (the replicate bands and the epsilon plot are in
 * fs_report_bands.c). Each writer queries the database (the v_* views of
 * results/README.md, so the report reads what a planner would query), writes a tab-separated
 * data file (a '#' header, then rows; one block per run separated by two blank lines where the
 * plot has one line per run, addressed with gnuplot's `index`) and the body of a gnuplot script.
 * Numbers are written %.9g so the data files round-trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_metrics.h"
#include "fs_report_int.h"
#include "fs_stats.h"

#define US_PER_S 1e6

/* ---- text helpers */

/* A gnuplot single-quoted string: only ' needs escaping (doubled); a control character would
 * end the command, so it becomes a space. */
void fs_report_gp_str(FILE *gp, const char *s)
{
    fputc('\'', gp);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', gp);
        fputc((unsigned char)*s < 0x20 ? ' ' : *s, gp);
    }
    fputc('\'', gp);
}

/* A text column of a data file: a tab or newline would split the row and a leading " would make
 * gnuplot read a quoted string, so those become spaces and '. */
void fs_report_dat_str(FILE *dat, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 ? ' ' : *s == '"' ? '\'' : *s, dat);
}

/* The comment opening a run's block of a data file: "# index K: run_id N, <label> (<metric>)". */
static void dat_block(FILE *dat, size_t index, const fs_report_run *run, const char *metric)
{
    fprintf(dat, "# index %zu: run_id %lld, ", index, (long long)run->run_id);
    fs_report_dat_str(dat, run->label);
    if (metric) {
        fputs(" (", dat);
        fs_report_dat_str(dat, metric);
        fputc(')', dat);
    }
    fputc('\n', dat);
}

/* which: 1 = name for a title, 2 = axis label (the metric table's). NULL (runs differ) gives a
 * generic text; a name the table does not know, itself. */
const char *fs_report_metric_text(const char *metric, int which)
{
    if (!metric) return which == 1 ? "Headline metric" : "headline metric of each run (see legend)";
    const fs_metric_info *mi = fs_metric_info_of(fs_metric_from_name(metric));
    return !mi ? metric : which == 1 ? mi->title : mi->axis;
}

static const char *metric_axis(const char *metric)
{
    return fs_report_metric_text(metric, 2);
}

static const fs_report_run *find_run(const fs_report *r, int64_t run_id)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].run_id == run_id) return &r->runs[i];
    return NULL;
}

/* False for a replicate rerun into the same file and replaced by its later run. */
static bool in_group(const fs_report *r, const fs_report_run *run)
{
    const fs_report_group *grp = &r->groups[run->group];
    for (size_t k = 0; k < grp->n_runs; k++)
        if (&r->runs[grp->runs[k]] == run) return true;
    return false;
}

/* Legend text of a run: its label, plus its metric when runs measure different things. */
static const char *run_title(const fs_report *r, const fs_report_run *run, char *buf, size_t n)
{
    if (r->metric || !run->metric) return run->label;
    snprintf(buf, n, "%s (%s)", run->label, run->metric);
    return buf;
}

static void gp_run_title(FILE *gp, const fs_report *r, const fs_report_run *run)
{
    char buf[640];
    fs_report_gp_str(gp, run_title(r, run, buf, sizeof buf));
}

void fs_report_gp_set(FILE *gp, const char *what, const char *text)
{
    fprintf(gp, "  set %s ", what);
    fs_report_gp_str(gp, text);
    fputc('\n', gp);
}

/* Starts the n-th clause of a plot command ("plot" first, then a continued list). */
void fs_report_gp_clause(FILE *gp, size_t n)
{
    fputs(n ? ", \\\n       " : "  plot ", gp);
}

void fs_report_skip(fs_report_plot *p, const char *why)
{
    p->has_data = false;
    snprintf(p->note, sizeof p->note, "%s", why);
}

/* Key text is 9-point, about 6.5 pixels a character, plus some 70 pixels of line sample and
 * padding: titles up to 40 characters leave the plot area more than 60% of the 1000 pixels at
 * the right; longer ones go below the plot, where gnuplot spreads them over columns. */
void fs_report_gp_key(FILE *gp, size_t max_chars)
{
    /* "height 1": gnuplot sizes the key rows by the 11-point font and would overlap the axis
     * title with the 9-point text otherwise */
    if (max_chars <= 40)
        fputs("  set key outside right top vertical Left reverse font \",9\" samplen 2\n", gp);
    else
        fputs("  set key outside below center horizontal Left reverse font \",9\" samplen 2"
              " height 1\n",
              gp);
}

/* Longest legend title among the groups (run_title adds the metric when runs differ). */
size_t fs_report_max_title(const fs_report *r)
{
    size_t n = 24; /* the target line's title */
    for (size_t g = 0; g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        size_t len = strlen(grp->label) + (!r->metric && grp->metric ? strlen(grp->metric) + 3 : 0);
        if (len > n) n = len;
    }
    return n;
}

bool fs_report_gp_target(FILE *gp, const fs_report *r, const char *metric, size_t n)
{
    if (!r->target_metric || !metric || strcmp(r->target_metric, metric)) return false;
    char title[128];
    snprintf(title, sizeof title, "target: %s %s %g", fs_report_metric_text(metric, 1),
             r->target_lower_better ? "<=" : ">=", r->target_value);
    fs_report_gp_clause(gp, n);
    fprintf(gp, "%.9g with lines dt 2 lw 1.5 lc rgb '#404040' title ", r->target_value);
    fs_report_gp_str(gp, title);
    return true;
}

const char *fs_report_traffic_unit(double max_mb, double *out_per_mb)
{
    static const struct {
        const char *name;
        double per_mb, below; /* used while max_mb < below */
    } units[] = {{"KB", 1e3, 1}, {"MB", 1, 1e4}, {"GB", 1e-3, 1e7}, {"TB", 1e-6, INFINITY}};
    size_t u = 0;
    while (!(max_mb < units[u].below))
        u++;
    *out_per_mb = units[u].per_mb;
    return units[u].name;
}

/* One number from an aggregate query; 0 when NULL (no rows). */
static int query_double(fs_report *r, const char *sql, const char *what, double *out)
{
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    int s = fs_report_step(r, st, what);
    *out = s == SQLITE_ROW ? sqlite3_column_double(st, 0) : 0;
    sqlite3_finalize(st);
    return s < 0 ? FS_EDB : FS_OK;
}

static int query_int(fs_report *r, const char *sql, int64_t *out)
{
    double v = 0;
    int rc = query_double(r, sql, "reading rounds", &v);
    *out = (int64_t)v;
    return rc;
}

/* ---- 1-3: headline metric per run against rounds, virtual hours and traffic */

/* x: the gnuplot using expression of the x axis (a column, or traffic scaled to its unit). */
static int write_metric_runs(fs_report *r, const fs_report_plot *p, FILE *dat, FILE *gp,
                             const char *x, size_t *out_blocks)
{
    static const char sql[] = "SELECT round, t_end_h, (cum_bytes_up + cum_bytes_down) / 1e6,"
                              " value FROM v_round_metrics WHERE run_id = ? AND metric = ?"
                              " AND value IS NOT NULL ORDER BY round";
    const char *what = "reading v_round_metrics";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    size_t blocks = 0;
    for (size_t i = 0; !rc && i < r->n_runs; i++) {
        const fs_report_run *run = &r->runs[i];
        if (!run->metric) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run->run_id);
        sqlite3_bind_text(st, 2, run->metric, -1, SQLITE_STATIC);
        size_t n = 0;
        int s;
        while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
            if (!n++) dat_block(dat, blocks, run, run->metric);
            fprintf(dat, "%d\t%.9g\t%.9g\t%.9g\n", sqlite3_column_int(st, 0),
                    sqlite3_column_double(st, 1), sqlite3_column_double(st, 2),
                    sqlite3_column_double(st, 3));
        }
        if (s < 0) rc = FS_EDB;
        if (!n) continue;
        fputs("\n\n", dat);
        fs_report_gp_clause(gp, blocks);
        fprintf(gp, "'%s.dat' index %zu using %s:4 with linespoints lc %zu pt 7 ps 0.6 lw 2 title ",
                p->name, blocks, x, run->group % 10 + 1);
        gp_run_title(gp, r, run);
        blocks++;
    }
    sqlite3_finalize(st);
    *out_blocks = blocks;
    return rc;
}

/* xcol: 1 rounds, 2 virtual hours, 3 traffic. */
static int write_metric(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp, int xcol,
                        const char *xlabel, const char *per)
{
    fputs(r->replicated
              ? "# columns: round, mean virtual hours at the evaluation, mean cumulative MB"
                " (uplink + downlink), mean headline metric, 95% t interval low and high (NaN"
                " with one replicate), replicates; one block per variant\n"
              : "# columns: round, virtual hours at the evaluation, cumulative MB (uplink +"
                " downlink), headline metric; one block per run\n",
          dat);
    char title[256], axis[160], x[64];
    snprintf(title, sizeof title, "%s%s %s, %s", r->metric ? "Test " : "",
             fs_report_metric_text(r->metric, 1), per,
             r->replicated ? "mean over replicates (band: 95% t interval)" : "one line per run");
    fs_report_gp_set(gp, "title", title);
    snprintf(x, sizeof x, "%d", xcol);
    int rc = FS_OK;
    if (xcol == 3) {
        double max_mb = 0, per_mb;
        rc = query_double(r, "SELECT max(cum_bytes_up + cum_bytes_down) / 1e6 FROM"
                             " v_round_metrics WHERE value IS NOT NULL",
                          "reading v_round_metrics", &max_mb);
        const char *unit = fs_report_traffic_unit(max_mb, &per_mb);
        snprintf(axis, sizeof axis, "%s (%s)", xlabel, unit);
        if (per_mb != 1) snprintf(x, sizeof x, "($3*%g)", per_mb);
        fs_report_gp_set(gp, "xlabel", axis);
        fputs("  set format x '%g'\n", gp);
    } else {
        fs_report_gp_set(gp, "xlabel", xlabel);
    }
    fs_report_gp_set(gp, "ylabel", metric_axis(r->metric));
    fs_report_gp_key(gp, fs_report_max_title(r));
    int64_t rounds = 0;
    if (!rc && xcol == 1) rc = query_int(r, "SELECT max(round) FROM rounds", &rounds);
    if (rounds && rounds <= 20) fputs("  set xtics 1\n", gp); /* no ticks between rounds */
    size_t blocks = 0;
    if (!rc)
        rc = r->replicated ? fs_report_write_bands(r, p, dat, gp, x, &blocks)
                           : write_metric_runs(r, p, dat, gp, x, &blocks);
    if (!rc && blocks) fs_report_gp_target(gp, r, r->metric, blocks);
    fputc('\n', gp);
    if (!rc && !blocks) fs_report_skip(p, "no run has an evaluation of its headline metric");
    p->has_data = blocks > 0;
    return rc;
}

static int plot_metric_round(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    return write_metric(r, p, dat, gp, 1, "round", "per round");
}

static int plot_metric_hours(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    return write_metric(r, p, dat, gp, 2, "virtual time since campaign start (hours)",
                        "over virtual time");
}

static int plot_metric_bytes(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    return write_metric(r, p, dat, gp, 3, "cumulative traffic, uplink + downlink",
                        "against network traffic");
}

/* ---- 4: clients per round by outcome, latest run */

static int plot_clients(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    int64_t id = 0;
    int rc = query_int(r, "SELECT max(run_id) FROM rounds", &id);
    const fs_report_run *run = find_run(r, id);
    if (rc || !run) {
        if (!rc) fs_report_skip(p, "no run has a completed round");
        return rc;
    }
    static const char sql[] = "SELECT round, reported, dropped, late, aborted FROM rounds"
                              " WHERE run_id = ? ORDER BY round";
    const char *what = "reading rounds";
    sqlite3_stmt *st;
    if ((rc = fs_report_prepare(r, sql, what, &st))) return rc;
    sqlite3_bind_int64(st, 1, id);
    dat_block(dat, 0, run, NULL);
    fputs("# round\treported\tdropped\tlate\taborted\n", dat);
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        fprintf(dat, "%d\t%d\t%d\t%d\t%d\n", sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                sqlite3_column_int(st, 2), sqlite3_column_int(st, 3), sqlite3_column_int(st, 4));
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    char title[640];
    char rep[48] = "";
    if (run->replicate > 0) snprintf(rep, sizeof rep, ", replicate %lld", (long long)run->replicate);
    snprintf(title, sizeof title,
             "Selected clients per round by outcome, stacked (latest run: %s%s)", run->label, rep);
    fs_report_gp_set(gp, "title", title);
    fs_report_gp_set(gp, "xlabel", "round");
    fs_report_gp_set(gp, "ylabel", "clients");
    fprintf(gp,
            "  set yrange [0:*]\n  set style fill solid 0.85 noborder\n"
            "  set boxwidth 0.9 relative\n"
            "  plot '%s.dat' using 1:($2+$3+$4+$5) with boxes lc rgb '#7f7f7f' title"
            " 'aborted', \\\n"
            "       '' using 1:($2+$3+$4) with boxes lc rgb '#ff7f0e' title 'late', \\\n"
            "       '' using 1:($2+$3) with boxes lc rgb '#d62728' title 'dropped', \\\n"
            "       '' using 1:2 with boxes lc rgb '#2ca02c' title 'reported'\n",
            p->name);
    p->has_data = true;
    return FS_OK;
}

/* ---- 5: online share against hour of day */

/* Filled and hollow shapes in turn, so runs whose points coincide stay visible. */
static const int point_types[] = {7, 6, 5, 4, 9, 8, 13, 12, 11, 10};
static const size_t n_point_types = sizeof point_types / sizeof point_types[0];

static int plot_online(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    static const char sql[] = "SELECT DISTINCT run_id, round, t_start_h, online_share"
                              " FROM v_round_metrics WHERE online_share IS NOT NULL"
                              " ORDER BY run_id, round";
    const char *what = "reading v_round_metrics";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fs_report_gp_set(gp, "title", "Share of examined clients online at selection, by hour of day (all runs)");
    fs_report_gp_set(gp, "xlabel", "hour of day at round start (virtual hours mod 24)");
    fs_report_gp_set(gp, "ylabel", "online share (fraction of examined clients)");
    fprintf(gp, "  set xrange [0:24]\n  set xtics 0,3,24\n  set yrange [0:1]\n");
    fs_report_gp_key(gp, fs_report_max_title(r));
    fputs("# columns: run, round, hour of day at round start, online share; one block per run\n",
          dat);
    size_t blocks = 0;
    int64_t prev = -1;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const fs_report_run *run = find_run(r, id);
        if (!run || !in_group(r, run)) continue;
        if (id != prev) {
            if (blocks) fputs("\n\n", dat);
            dat_block(dat, blocks, run, NULL);
            fs_report_gp_clause(gp, blocks);
            /* one shape, colour and legend entry per group: replicates share them */
            fprintf(gp, "'%s.dat' index %zu using 3:4 with points lc %zu pt %d ps 0.8 ", p->name,
                    blocks, run->group % 10 + 1, point_types[run->group % n_point_types]);
            blocks++;
            if (&r->runs[r->groups[run->group].runs[0]] == run) {
                fputs("title ", gp);
                fs_report_gp_str(gp, run->label);
            } else {
                fputs("notitle", gp);
            }
            prev = id;
        }
        fprintf(dat, "%lld\t%d\t%.9g\t%.9g\n", (long long)id, sqlite3_column_int(st, 1),
                fmod(sqlite3_column_double(st, 2), 24.0), sqlite3_column_double(st, 3));
    }
    fputc('\n', gp);
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    p->has_data = blocks > 0;
    if (!blocks) fs_report_skip(p, "no round recorded an online share");
    return FS_OK;
}

/* ---- 6: headline metric per segment at each run's last evaluation */

typedef struct seg_row {
    size_t col; /* index among the groups that have segment rows */
    char *segment;
    double value;
} seg_row;

typedef struct seg_table {
    seg_row *rows;
    size_t n_rows;
    const fs_report_group **cols; /* groups with segment rows, in group order */
    size_t n_cols;
    const char **segments; /* distinct segments, sorted; borrowed from rows */
    size_t n_segments;
    size_t max_runs; /* most runs of one group, for the replicate scratch */
} seg_table;

static int seg_add(seg_table *t, size_t col, const char *segment, double value)
{
    seg_row *grown = realloc(t->rows, (t->n_rows + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    t->rows = grown;
    t->rows[t->n_rows] = (seg_row){col, strdup(segment), value};
    return t->rows[t->n_rows++].segment ? FS_OK : FS_ENOMEM;
}

/* The last evaluation's segment rows of every run of group grp, as column t->n_cols. */
static int seg_query(fs_report *r, sqlite3_stmt *st, const fs_report_group *grp, seg_table *t)
{
    size_t before = t->n_rows;
    int rc = FS_OK;
    for (size_t k = 0; !rc && k < grp->n_runs; k++) {
        const fs_report_run *run = &r->runs[grp->runs[k]];
        if (!run->metric) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run->run_id);
        sqlite3_bind_text(st, 2, run->metric, -1, SQLITE_STATIC);
        int s;
        while ((s = fs_report_step(r, st, "reading evals")) == SQLITE_ROW) {
            if (!rc)
                rc = seg_add(t, t->n_cols, (const char *)sqlite3_column_text(st, 0),
                             sqlite3_column_double(st, 1));
        }
        if (s < 0) return FS_EDB;
    }
    if (!rc && t->n_rows > before) {
        t->cols[t->n_cols++] = grp;
        if (grp->n_runs > t->max_runs) t->max_runs = grp->n_runs;
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int seg_collect(fs_report *r, seg_table *t)
{
    static const char sql[] =
        "SELECT segment, value FROM evals e WHERE run_id = ?1 AND metric = ?2"
        " AND segment <> 'all' AND value IS NOT NULL AND round = (SELECT max(round) FROM evals"
        " WHERE run_id = ?1 AND metric = ?2 AND segment <> 'all' AND value IS NOT NULL)";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, "reading evals", &st);
    t->cols = rc ? NULL : calloc(r->n_groups + 1, sizeof *t->cols);
    if (!rc && !t->cols) rc = FS_ENOMEM;
    for (size_t g = 0; !rc && g < r->n_groups; g++)
        rc = seg_query(r, st, &r->groups[g], t);
    sqlite3_finalize(st);
    t->segments = rc ? NULL : malloc((t->n_rows + 1) * sizeof *t->segments);
    if (!rc && !t->segments) rc = FS_ENOMEM;
    if (rc) return rc;
    for (size_t i = 0; i < t->n_rows; i++)
        t->segments[i] = t->rows[i].segment;
    qsort(t->segments, t->n_rows, sizeof *t->segments, cmp_str);
    for (size_t i = 0; i < t->n_rows; i++)
        if (!t->n_segments || strcmp(t->segments[t->n_segments - 1], t->segments[i]))
            t->segments[t->n_segments++] = t->segments[i];
    return FS_OK;
}

static void seg_free(seg_table *t)
{
    for (size_t i = 0; i < t->n_rows; i++)
        free(t->rows[i].segment);
    free(t->rows);
    free(t->cols);
    free(t->segments);
}

/* Column c's value for segment s: the mean over its replicates, with the 95% half-width. */
static fs_stats_summary seg_value(const seg_table *t, size_t s, size_t c, double *scratch)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_rows && n < t->max_runs; i++)
        if (t->rows[i].col == c && !strcmp(t->rows[i].segment, t->segments[s]))
            scratch[n++] = t->rows[i].value;
    return fs_stats_summarize(scratch, n);
}

/* One row per segment, one column per group (two with replicates: mean and 95% half-width, 0
 * with one replicate); NaN where a group has no value for a segment. *out_lo and *out_hi: the
 * span of the bars and their error bars. */
static int seg_write(const fs_report *r, const seg_table *t, FILE *dat, double *out_lo,
                     double *out_hi)
{
    double *scratch = malloc((t->max_runs + 1) * sizeof *scratch);
    if (!scratch) return FS_ENOMEM;
    fputs("# segment", dat);
    for (size_t c = 0; c < t->n_cols; c++) {
        fputc('\t', dat);
        fs_report_dat_str(dat, t->cols[c]->label);
        if (r->replicated) fputs("\t(95% half-width)", dat);
    }
    fputc('\n', dat);
    *out_lo = INFINITY, *out_hi = -INFINITY;
    for (size_t s = 0; s < t->n_segments; s++) {
        fs_report_dat_str(dat, t->segments[s]);
        for (size_t c = 0; c < t->n_cols; c++) {
            fs_stats_summary v = seg_value(t, s, c, scratch);
            double hw = isnan(v.half_width) ? 0 : v.half_width;
            fprintf(dat, "\t%.9g", v.mean);
            if (r->replicated) fprintf(dat, "\t%.9g", hw);
            if (isnan(v.mean)) continue;
            *out_lo = fmin(*out_lo, v.mean - hw), *out_hi = fmax(*out_hi, v.mean + hw);
        }
        fputc('\n', dat);
    }
    free(scratch);
    return FS_OK;
}

/* The tick text of a segment: its level without the "key=" prefix (as seg_using's xtic). */
static size_t seg_tick_len(const char *seg)
{
    const char *eq = strchr(seg, '=');
    return strlen(eq ? eq + 1 : seg);
}

/* Slanted ticks hang to the left of their bar, and gnuplot does not widen the left margin for
 * them: a long first level was cut at the image's edge. The model of seg_axis: the plot starts
 * some 85 pixels from the left and is some 650 wide (735 in all); segment i's bar is at the
 * fraction f = (i + 1) / (n + 1) of it; a slanted 9-point character spans some 5 pixels across
 * (4.6 measured: 166 pixels for 36 characters). A margin L leaves segment i's tick at
 * L + (735 - L) f, which must exceed its text's width plus 10 pixels; the margin is capped at
 * 45% of the 1000-pixel image. */
static void seg_left_margin(const seg_table *t, FILE *gp)
{
    double need = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        double f = (double)(i + 1) / (double)(t->n_segments + 1);
        double w = 5.0 * (double)seg_tick_len(t->segments[i]) + 10;
        need = fmax(need, (w - 735 * f) / (1 - f));
    }
    if (need > 85) fprintf(gp, "  set lmargin at screen %.3f\n", fmin(need, 450) / 1000);
}

/* The x axis names the eval.segments keys once ("region, channel"); the ticks then show each
 * level without its "key=" prefix, in a smaller font and slanted when they would collide. */
static void seg_axis(const seg_table *t, FILE *gp)
{
    char keys[200] = "";
    bool worst = false;
    size_t longest = 0, at = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        const char *seg = t->segments[i], *eq = strchr(seg, '=');
        size_t len = seg_tick_len(seg);
        if (len > longest) longest = len;
        if (!eq) {
            worst = worst || !strncmp(seg, "worst", 5);
            continue;
        }
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq - seg < 63 ? eq - seg : 63), seg);
        if (!strstr(keys, key) && at + strlen(key) + 3 < sizeof keys)
            at += (size_t)snprintf(keys + at, sizeof keys - at, "%s%s", at ? ", " : "", key);
    }
    char xlabel[400];
    snprintf(xlabel, sizeof xlabel, "%s%s%s%s", at ? "level of " : "segment", keys,
             at ? " (eval.segments)" : "",
             worst ? "; worst10_clients = worst 10% of clients" : "");
    fs_report_gp_set(gp, "xlabel", xlabel);
    /* Each segment gets the plot width (some 650 pixels with the key at the right) over the
     * number of segments; a 9-point character is about 7 pixels wide. */
    if ((longest + 1) * 7 * t->n_segments > 640) {
        fputs("  set xtics rotate by 30 right font \",9\"\n", gp);
        seg_left_margin(t, gp);
    } else
        fputs("  set xtics font \",9\"\n", gp);
}

/* The using clause of column c: mean (and half-width) columns, the first with the tick text. */
static void seg_using(const fs_report *r, const fs_report_plot *p, size_t c, FILE *gp)
{
    size_t col = 2 + c * (r->replicated ? 2 : 1);
    if (c)
        fprintf(gp, "'' using %zu", col);
    else
        fprintf(gp, "'%s.dat' using %zu", p->name, col);
    if (r->replicated) fprintf(gp, ":%zu", col + 1);
    if (!c) fputs(":xtic(stringcolumn(1)[strstrt(stringcolumn(1), '=') + 1:])", gp);
}

static void seg_script(const fs_report *r, const fs_report_plot *p, const seg_table *t,
                       double lo, double hi, FILE *gp)
{
    char title[256];
    snprintf(title, sizeof title, "%s%s by segment at each %s last evaluation%s",
             r->metric ? "Test " : "", fs_report_metric_text(r->metric, 1),
             r->replicated ? "replicate's" : "run's",
             r->replicated ? ", mean over replicates (bars: 95% t interval)" : "");
    fs_report_gp_set(gp, "title", title);
    fs_report_gp_set(gp, "ylabel", metric_axis(r->metric));
    seg_axis(t, gp);
    fs_report_gp_key(gp, fs_report_max_title(r));
    fprintf(gp, "  set style data histograms\n  set style histogram %s gap 1\n"
                "  set style fill solid 0.85 border -1\n",
            r->replicated ? "errorbars lw 1" : "clustered");
    /* Around the data, not from 0: segments differ by 0.01-0.1, which bars from 0 flatten. The
     * bars then rise from the bottom of the plot; the axis shows where that is. */
    double pad = hi > lo ? 0.15 * (hi - lo) : fmax(0.05 * fabs(hi), 0.01);
    double bottom = lo >= 0 && lo - 2 * pad < 0 ? 0 : lo - 2 * pad; /* no negative AUC axis */
    fprintf(gp, "  set yrange [%.9g:%.9g]\n", bottom, hi + pad);
    for (size_t c = 0; c < t->n_cols; c++) {
        fs_report_gp_clause(gp, c);
        seg_using(r, p, c, gp);
        fprintf(gp, " lc %zu title ", (size_t)(t->cols[c] - r->groups) % 10 + 1);
        char buf[640];
        const fs_report_group *grp = t->cols[c];
        if (!r->metric && grp->metric) snprintf(buf, sizeof buf, "%s (%s)", grp->label, grp->metric);
        fs_report_gp_str(gp, !r->metric && grp->metric ? buf : grp->label);
    }
    fputc('\n', gp);
}

static int plot_segments(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    seg_table t = {0};
    int rc = seg_collect(r, &t);
    double lo, hi;
    if (!rc && t.n_cols) {
        rc = seg_write(r, &t, dat, &lo, &hi);
        if (!rc) seg_script(r, p, &t, lo, hi, gp);
        p->has_data = !rc;
    } else if (!rc) {
        fs_report_skip(p, "no run has per-segment evaluations of its headline metric");
    }
    seg_free(&t);
    return rc;
}

/* ---- 7: privacy against utility */

/* Sets a range with a margin; gnuplot would warn about an empty range for a single value. */
void fs_report_gp_range(FILE *gp, const char *axis, double lo, double hi)
{
    double pad = hi > lo ? 0.1 * (hi - lo) : fmax(0.05 * fabs(hi), 0.01);
    fprintf(gp, "  set %srange [%.9g:%.9g]\n", axis, lo - pad, hi + pad);
}

/* Final epsilon and headline value of every run (NaN when it has none), by run index. */
static int privacy_values(fs_report *r, double *eps, double *val)
{
    static const char sql[] = "SELECT run_id, epsilon, final_value FROM v_run_summary"
                              " WHERE epsilon IS NOT NULL AND final_value IS NOT NULL";
    const char *what = "reading v_run_summary";
    for (size_t i = 0; i < r->n_runs; i++)
        eps[i] = val[i] = NAN;
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        const fs_report_run *run = find_run(r, sqlite3_column_int64(st, 0));
        if (!run) continue;
        eps[run - r->runs] = sqlite3_column_double(st, 1);
        val[run - r->runs] = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return s < 0 ? FS_EDB : FS_OK;
}

typedef struct privacy_point {
    fs_stats_summary eps, value; /* over the group's DP runs; value.n = 0: no point */
} privacy_point;

static void privacy_summaries(const fs_report *r, const double *eps, const double *val,
                              double *scratch, privacy_point *pts)
{
    for (size_t g = 0; g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        for (size_t k = 0; k < grp->n_runs; k++)
            scratch[k] = eps[grp->runs[k]];
        pts[g].eps = fs_stats_summarize(scratch, grp->n_runs);
        for (size_t k = 0; k < grp->n_runs; k++)
            scratch[k] = isnan(eps[grp->runs[k]]) ? NAN : val[grp->runs[k]];
        pts[g].value = fs_stats_summarize(scratch, grp->n_runs);
    }
}

/* Epsilon from 0 to past the furthest point; the metric around the points and their bars. */
static void privacy_ranges(const fs_report *r, const privacy_point *pts, FILE *gp)
{
    double x_hi = 0, y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t g = 0; g < r->n_groups; g++) {
        if (!pts[g].value.n) continue;
        double hw = isnan(pts[g].value.half_width) ? 0 : pts[g].value.half_width;
        x_hi = fmax(x_hi, pts[g].eps.mean);
        y_lo = fmin(y_lo, pts[g].value.mean - hw), y_hi = fmax(y_hi, pts[g].value.mean + hw);
    }
    fprintf(gp, "  set xrange [0:%.9g]\n", (x_hi > 0 ? x_hi : 1) * 1.08);
    fs_report_gp_range(gp, "y", y_lo, y_hi);
}

/* One point per group, each its own legend entry (labels beside the points overlapped); with
 * replicates the mean of both coordinates and the 95% interval of the metric as an error bar. */
static size_t privacy_points(const fs_report *r, const fs_report_plot *p,
                             const privacy_point *pts, FILE *dat, FILE *gp)
{
    size_t blocks = 0;
    for (size_t g = 0; g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        const fs_stats_summary *v = &pts[g].value;
        if (!v->n) continue;
        fprintf(dat, "# index %zu: ", blocks);
        fs_report_dat_str(dat, grp->label);
        fprintf(dat, "\n%.9g\t%.9g\t%.9g\t%zu\n\n\n", pts[g].eps.mean, v->mean,
                isnan(v->half_width) ? 0 : v->half_width, v->n);
        fs_report_gp_clause(gp, blocks);
        fprintf(gp, "'%s.dat' index %zu using 1:2%s with %s lc %zu pt %d ps 1.4 lw 1.5 title ",
                p->name, blocks, r->replicated ? ":3" : "",
                r->replicated ? "yerrorbars" : "points", g % 10 + 1,
                point_types[g % n_point_types]);
        char buf[640];
        if (!r->metric && grp->metric)
            snprintf(buf, sizeof buf, "%s (%s)", grp->label, grp->metric);
        fs_report_gp_str(gp, !r->metric && grp->metric ? buf : grp->label);
        blocks++;
    }
    fputc('\n', gp);
    return blocks;
}

static int plot_privacy(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    double *eps = malloc((3 * r->n_runs + 1) * sizeof *eps);
    double *val = eps ? eps + r->n_runs : NULL, *scratch = eps ? val + r->n_runs : NULL;
    privacy_point *pts = malloc((r->n_groups + 1) * sizeof *pts);
    int rc = eps && pts ? privacy_values(r, eps, val) : FS_ENOMEM;
    if (rc) goto done;
    privacy_summaries(r, eps, val, scratch, pts);
    size_t n = 0;
    for (size_t g = 0; g < r->n_groups; g++)
        n += pts[g].value.n > 0;
    if (!n) {
        fs_report_skip(p, "no run used differential privacy (epsilon is NULL in every run), so "
                          "there is no privacy-utility trade-off to show");
        goto done;
    }
    fputs(r->replicated ? "# mean final epsilon\tmean final headline metric\t95% half-width (0"
                          " with one replicate)\treplicates; one block per variant\n"
                        : "# final epsilon\tfinal headline metric\t0\t1; one block per run\n",
          dat);
    fs_report_gp_set(gp, "title",
                     r->replicated ? "Privacy against utility: final epsilon and final metric,"
                                     " mean over replicates (bars: 95% t interval)"
                                   : "Privacy against utility: final epsilon and final metric of"
                                     " each DP run");
    fs_report_gp_set(gp, "xlabel", "privacy budget spent, epsilon (final, at the run's delta)");
    fs_report_gp_set(gp, "ylabel",
                     r->metric ? metric_axis(r->metric) : "final headline metric (see legend)");
    fs_report_gp_key(gp, fs_report_max_title(r));
    privacy_ranges(r, pts, gp);
    privacy_points(r, p, pts, dat, gp);
    p->has_data = true;
done:
    free(eps);
    free(pts);
    return rc;
}

/* ---- 8: round durations */

/* 1, 2 or 5 times a power of ten, at least x: readable histogram bins. */
static double nice_step(double x)
{
    double p = pow(10, floor(log10(x)));
    return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

void fs_report_gp_histogram(FILE *gp, const char *name, int column, double lo, double hi,
                            double min_width, const char *color, const char *unit)
{
    double bw = hi > lo ? nice_step((hi - lo) / 20) : fmax(fabs(hi) / 10, min_width);
    fprintf(gp,
            "  bw = %.9g\n  bin(x) = bw * (floor(x / bw) + 0.5)\n"
            "  set boxwidth bw * 0.95 absolute\n  set style fill solid 0.85 border -1\n"
            "  set yrange [0:*]\n",
            bw);
    fs_report_gp_range(gp, "x", floor(lo / bw) * bw, (floor(hi / bw) + 1) * bw);
    fprintf(gp,
            "  plot '%s.dat' using (bin($%d)):(1) smooth frequency with boxes"
            " lc rgb '%s' title sprintf('bin width %%g %s', bw)\n",
            name, column, color, unit);
}

static int plot_durations(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    static const char sql[] = "SELECT run_id, round, (t_end - t_start) / 1e6 FROM rounds"
                              " WHERE t_end IS NOT NULL AND t_start IS NOT NULL"
                              " ORDER BY run_id, round";
    const char *what = "reading rounds";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fputs("# run\tround\tduration t_end - t_start (seconds)\n", dat);
    double lo = INFINITY, hi = -INFINITY;
    size_t n = 0;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        double d = sqlite3_column_double(st, 2);
        fprintf(dat, "%lld\t%d\t%.9g\n", (long long)sqlite3_column_int64(st, 0),
                sqlite3_column_int(st, 1), d);
        lo = fmin(lo, d), hi = fmax(hi, d), n++;
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    if (!n) {
        fs_report_skip(p, "no completed rounds");
        return FS_OK;
    }
    char title[128];
    snprintf(title, sizeof title, "Distribution of round durations (all runs, %zu rounds)", n);
    fs_report_gp_set(gp, "title", title);
    fs_report_gp_set(gp, "xlabel", "round duration, t_end - t_start (seconds)");
    fs_report_gp_set(gp, "ylabel", "rounds");
    fs_report_gp_histogram(gp, p->name, 3, lo, hi, 1e-3, "#1f77b4", "s");
    p->has_data = true;
    return FS_OK;
}

const fs_report_plot fs_report_plots[] = {
    {.name = "metric_vs_round", .heading = "Headline metric per round", .write = plot_metric_round},
    {.name = "metric_vs_hours",
     .heading = "Headline metric over virtual time",
     .write = plot_metric_hours},
    {.name = "metric_vs_traffic",
     .heading = "Headline metric against cumulative traffic",
     .write = plot_metric_bytes},
    {.name = "clients_per_round",
     .heading = "Clients per round by outcome (latest run)",
     .write = plot_clients},
    {.name = "online_share_by_hour", .heading = "Online share over the day", .write = plot_online},
    {.name = "segment_metric",
     .heading = "Metric by segment at the last evaluation",
     .write = plot_segments},
    {.name = "epsilon_vs_round",
     .heading = "Privacy budget spent per round",
     .write = fs_report_plot_epsilon},
    {.name = "privacy_utility", .heading = "Privacy against utility", .write = plot_privacy},
    {.name = "round_durations",
     .heading = "Distribution of round durations",
     .write = plot_durations},
    {.name = "energy_per_round",
     .heading = "Energy per round",
     .write = fs_report_plot_energy_round},
    {.name = "device_energy_daily",
     .heading = "Per-device daily energy",
     .write = fs_report_plot_energy_daily},
    /* the "Who trains" section: fs_report_html.c puts its table after these two */
    {.name = "who_trains",
     .heading = "Who trains: participation share against population share",
     .write = fs_report_plot_who_trains},
    {.name = "bias_by_hour",
     .heading = "Who trains: selection bias over the day",
     .write = fs_report_plot_bias_by_hour},
};
const size_t fs_report_n_plots = sizeof fs_report_plots / sizeof fs_report_plots[0];
