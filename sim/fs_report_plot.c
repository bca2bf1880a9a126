/* fs_report_plot: the eight report plots. Each writer queries the database (the v_* views of
 * results/README.md, so the report reads what a planner would query), writes a tab-separated
 * data file (a '#' header, then rows; one block per run separated by two blank lines where the
 * plot has one line per run, addressed with gnuplot's `index`) and the body of a gnuplot script.
 * Numbers are written %.9g so the data files round-trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_report_int.h"

#define US_PER_S 1e6

/* ---- text helpers */

/* A gnuplot single-quoted string: only ' needs escaping (doubled); a control character would
 * end the command, so it becomes a space. */
static void gp_str(FILE *gp, const char *s)
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
static void dat_str(FILE *dat, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 ? ' ' : *s == '"' ? '\'' : *s, dat);
}

/* The comment opening a run's block of a data file: "# index K: run_id N, <label> (<metric>)". */
static void dat_block(FILE *dat, size_t index, const fs_report_run *run, const char *metric)
{
    fprintf(dat, "# index %zu: run_id %lld, ", index, (long long)run->run_id);
    dat_str(dat, run->label);
    if (metric) {
        fputs(" (", dat);
        dat_str(dat, metric);
        fputc(')', dat);
    }
    fputc('\n', dat);
}

/* Title name [1] and axis label with unit [2] of a metric (results/README.md, evals.metric). */
static const char *const metric_names[][3] = {
    {"accuracy", "accuracy", "test accuracy (fraction correct)"},
    {"auc", "AUC", "test ROC AUC"},
    {"loss", "loss", "test loss (mean log loss, nats; MSE for ratings)"},
    {"ece", "ECE", "expected calibration error (0-1)"},
    {"rmse", "RMSE", "RMSE (rating units)"},
    {"hr10", "HR@10", "hit rate at 10 (fraction)"},
};

/* which: 1 = name for a title, 2 = axis label. NULL (runs differ) gives a generic text. */
static const char *metric_text(const char *metric, int which)
{
    if (!metric) return which == 1 ? "Headline metric" : "headline metric of each run (see legend)";
    for (size_t i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++)
        if (!strcmp(metric, metric_names[i][0])) return metric_names[i][which];
    return metric;
}

static const char *metric_axis(const char *metric)
{
    return metric_text(metric, 2);
}

static const fs_report_run *find_run(const fs_report *r, int64_t run_id)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].run_id == run_id) return &r->runs[i];
    return NULL;
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
    gp_str(gp, run_title(r, run, buf, sizeof buf));
}

static void gp_set(FILE *gp, const char *what, const char *text)
{
    fprintf(gp, "  set %s ", what);
    gp_str(gp, text);
    fputc('\n', gp);
}

/* Starts the n-th clause of a plot command ("plot" first, then a continued list). */
static void gp_clause(FILE *gp, size_t n)
{
    fputs(n ? ", \\\n       " : "  plot ", gp);
}

static void skip(fs_report_plot *p, const char *why)
{
    p->has_data = false;
    snprintf(p->note, sizeof p->note, "%s", why);
}

/* One integer from an aggregate query over rounds; 0 when NULL (no rounds). */
static int query_int(fs_report *r, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, "reading rounds", &st);
    if (rc) return rc;
    int s = fs_report_step(r, st, "reading rounds");
    *out = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return s < 0 ? FS_EDB : FS_OK;
}

/* ---- 1-3: headline metric per run against rounds, virtual hours and traffic */

static int write_metric_runs(fs_report *r, const fs_report_plot *p, FILE *dat, FILE *gp, int xcol,
                             size_t *out_blocks)
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
        gp_clause(gp, blocks);
        fprintf(gp, "'%s.dat' index %zu using %d:4 with linespoints pt 7 ps 0.6 lw 2 title ",
                p->name, blocks, xcol);
        gp_run_title(gp, r, run);
        blocks++;
    }
    sqlite3_finalize(st);
    fputc('\n', gp);
    *out_blocks = blocks;
    return rc;
}

static int write_metric(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp, int xcol,
                        const char *xlabel, const char *per)
{
    fputs("# columns: round, virtual hours at the evaluation, cumulative MB (uplink + downlink),"
          " headline metric; one block per run\n",
          dat);
    char title[256];
    snprintf(title, sizeof title, "%s%s %s, one line per run", r->metric ? "Test " : "",
             metric_text(r->metric, 1), per);
    gp_set(gp, "title", title);
    gp_set(gp, "xlabel", xlabel);
    gp_set(gp, "ylabel", metric_axis(r->metric));
    int64_t rounds = 0;
    int rc = xcol == 1 ? query_int(r, "SELECT max(round) FROM rounds", &rounds) : FS_OK;
    if (rounds && rounds <= 20) fputs("  set xtics 1\n", gp); /* no ticks between rounds */
    size_t blocks = 0;
    if (!rc) rc = write_metric_runs(r, p, dat, gp, xcol, &blocks);
    if (!rc && !blocks) skip(p, "no run has an evaluation of its headline metric");
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
    return write_metric(r, p, dat, gp, 3, "cumulative traffic, uplink + downlink (MB)",
                        "against network traffic");
}

/* ---- 4: clients per round by outcome, latest run */

static int plot_clients(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    int64_t id = 0;
    int rc = query_int(r, "SELECT max(run_id) FROM rounds", &id);
    const fs_report_run *run = find_run(r, id);
    if (rc || !run) {
        if (!rc) skip(p, "no run has a completed round");
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
    snprintf(title, sizeof title, "Selected clients per round by outcome, stacked (latest run: %s)",
             run->label);
    gp_set(gp, "title", title);
    gp_set(gp, "xlabel", "round");
    gp_set(gp, "ylabel", "clients");
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
    gp_set(gp, "title", "Share of examined clients online at selection, by hour of day (all runs)");
    gp_set(gp, "xlabel", "hour of day at round start (virtual hours mod 24)");
    gp_set(gp, "ylabel", "online share (fraction of examined clients)");
    fprintf(gp, "  set xrange [0:24]\n  set xtics 0,3,24\n  set yrange [0:1]\n");
    fputs("# columns: run, round, hour of day at round start, online share; one block per run\n",
          dat);
    size_t blocks = 0;
    int64_t prev = -1;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const fs_report_run *run = find_run(r, id);
        if (!run) continue;
        if (id != prev) {
            if (blocks) fputs("\n\n", dat);
            dat_block(dat, blocks, run, NULL);
            gp_clause(gp, blocks);
            fprintf(gp, "'%s.dat' index %zu using 3:4 with points pt %d ps 0.8 title ", p->name,
                    blocks, point_types[blocks % n_point_types]);
            blocks++;
            gp_str(gp, run->label);
            prev = id;
        }
        fprintf(dat, "%lld\t%d\t%.9g\t%.9g\n", (long long)id, sqlite3_column_int(st, 1),
                fmod(sqlite3_column_double(st, 2), 24.0), sqlite3_column_double(st, 3));
    }
    fputc('\n', gp);
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    p->has_data = blocks > 0;
    if (!blocks) skip(p, "no round recorded an online share");
    return FS_OK;
}

/* ---- 6: headline metric per segment at each run's last evaluation */

typedef struct seg_row {
    size_t col; /* index among the runs that have segment rows */
    char *segment;
    double value;
} seg_row;

typedef struct seg_table {
    seg_row *rows;
    size_t n_rows;
    const fs_report_run **cols; /* runs with segment rows, in run order */
    size_t n_cols;
    const char **segments; /* distinct segments, sorted; borrowed from rows */
    size_t n_segments;
} seg_table;

static int seg_add(seg_table *t, size_t col, const char *segment, double value)
{
    seg_row *grown = realloc(t->rows, (t->n_rows + 1) * sizeof *grown);
    if (!grown) return FS_ENOMEM;
    t->rows = grown;
    t->rows[t->n_rows] = (seg_row){col, strdup(segment), value};
    return t->rows[t->n_rows++].segment ? FS_OK : FS_ENOMEM;
}

static int seg_query(fs_report *r, sqlite3_stmt *st, const fs_report_run *run, seg_table *t)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run->run_id);
    sqlite3_bind_text(st, 2, run->metric, -1, SQLITE_STATIC);
    size_t before = t->n_rows;
    int rc = FS_OK, s;
    while ((s = fs_report_step(r, st, "reading evals")) == SQLITE_ROW) {
        if (!rc)
            rc = seg_add(t, t->n_cols, (const char *)sqlite3_column_text(st, 0),
                         sqlite3_column_double(st, 1));
    }
    if (s < 0) return FS_EDB;
    if (!rc && t->n_rows > before) t->cols[t->n_cols++] = run;
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
    t->cols = rc ? NULL : calloc(r->n_runs + 1, sizeof *t->cols);
    if (!rc && !t->cols) rc = FS_ENOMEM;
    for (size_t i = 0; !rc && i < r->n_runs; i++)
        if (r->runs[i].metric) rc = seg_query(r, st, &r->runs[i], t);
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

/* One row per segment, one column per run; NaN where a run has no value for a segment. */
static void seg_write(const seg_table *t, FILE *dat)
{
    fputs("# segment", dat);
    for (size_t c = 0; c < t->n_cols; c++)
        fprintf(dat, "\trun %lld", (long long)t->cols[c]->run_id);
    fputc('\n', dat);
    for (size_t s = 0; s < t->n_segments; s++) {
        dat_str(dat, t->segments[s]);
        for (size_t c = 0; c < t->n_cols; c++) {
            double v = NAN;
            for (size_t i = 0; i < t->n_rows; i++)
                if (t->rows[i].col == c && !strcmp(t->rows[i].segment, t->segments[s]))
                    v = t->rows[i].value;
            fprintf(dat, "\t%.9g", v);
        }
        fputc('\n', dat);
    }
}

static void seg_script(const fs_report *r, const fs_report_plot *p, const seg_table *t, FILE *gp)
{
    char title[256];
    snprintf(title, sizeof title, "%s%s by segment at each run's last evaluation",
             r->metric ? "Test " : "", metric_text(r->metric, 1));
    gp_set(gp, "title", title);
    gp_set(gp, "xlabel", "segment (eval.segments level; worst10_clients = worst 10% of clients)");
    gp_set(gp, "ylabel", metric_axis(r->metric));
    fputs("  set style data histograms\n  set style histogram clustered gap 1\n"
          "  set style fill solid 0.85 border -1\n  set yrange [0:*]\n",
          gp);
    size_t chars = 0; /* rotate the segment names when they would overlap side by side */
    for (size_t i = 0; i < t->n_segments; i++)
        chars += strlen(t->segments[i]) + 2;
    if (chars > 60) fputs("  set xtics rotate by -30\n", gp);
    for (size_t c = 0; c < t->n_cols; c++) {
        gp_clause(gp, c);
        if (c)
            fprintf(gp, "'' using %zu title ", c + 2);
        else
            fprintf(gp, "'%s.dat' using 2:xtic(1) title ", p->name);
        gp_run_title(gp, r, t->cols[c]);
    }
    fputc('\n', gp);
}

static int plot_segments(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    seg_table t = {0};
    int rc = seg_collect(r, &t);
    if (!rc && t.n_cols) {
        seg_write(&t, dat);
        seg_script(r, p, &t, gp);
        p->has_data = true;
    } else if (!rc) {
        skip(p, "no run has per-segment evaluations of its headline metric");
    }
    seg_free(&t);
    return rc;
}

/* ---- 7: privacy against utility */

/* Sets a range with a margin; gnuplot would warn about an empty range for a single value. */
static void gp_range(FILE *gp, const char *axis, double lo, double hi)
{
    double pad = hi > lo ? 0.1 * (hi - lo) : fmax(0.05 * fabs(hi), 0.01);
    fprintf(gp, "  set %srange [%.9g:%.9g]\n", axis, lo - pad, hi + pad);
}

static int plot_privacy(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    static const char sql[] = "SELECT run_id, epsilon, final_value FROM v_run_summary"
                              " WHERE epsilon IS NOT NULL AND final_value IS NOT NULL"
                              " ORDER BY run_id";
    const char *what = "reading v_run_summary";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fputs("# run\tfinal epsilon\tfinal headline metric\tlabel\n", dat);
    double x_hi = 0, y_lo = INFINITY, y_hi = -INFINITY;
    size_t n = 0, label_hi = 0; /* label length of the point furthest right */
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        const fs_report_run *run = find_run(r, sqlite3_column_int64(st, 0));
        if (!run) continue;
        double eps = sqlite3_column_double(st, 1), v = sqlite3_column_double(st, 2);
        char buf[640];
        fprintf(dat, "%lld\t%.9g\t%.9g\t", (long long)run->run_id, eps, v);
        const char *label = run_title(r, run, buf, sizeof buf);
        dat_str(dat, label);
        fputc('\n', dat);
        if (eps >= x_hi) x_hi = eps, label_hi = strlen(label);
        y_lo = fmin(y_lo, v), y_hi = fmax(y_hi, v);
        n++;
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    if (!n) {
        skip(p, "no run used differential privacy (epsilon is NULL in every run), so there is no "
                "privacy-utility trade-off to show");
        return FS_OK;
    }
    gp_set(gp, "title", "Privacy against utility: final epsilon and final metric of each DP run");
    gp_set(gp, "xlabel", "privacy budget spent, epsilon (final, at the run's delta)");
    gp_set(gp, "ylabel", r->metric ? metric_axis(r->metric) : "final headline metric (see labels)");
    /* Room on the right for the last label: about 7 pixels a character (11-point font) of the
     * some 830 pixels the plot area spans. */
    double room = fmin(0.6, (double)(label_hi * 7 + 30) / 830.0);
    fprintf(gp, "  set xrange [0:%.9g]\n", (x_hi > 0 ? x_hi : 1) / (1 - room));
    gp_range(gp, "y", y_lo, y_hi);
    fprintf(gp,
            "  plot '%s.dat' using 2:3 with points pt 7 ps 1.2 notitle, \\\n"
            "       '' using 2:3:4 with labels left offset char 1,0.6 notitle\n",
            p->name);
    p->has_data = true;
    return FS_OK;
}

/* ---- 8: round durations */

/* 1, 2 or 5 times a power of ten, at least x: readable histogram bins. */
static double nice_step(double x)
{
    double p = pow(10, floor(log10(x)));
    return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
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
        skip(p, "no completed rounds");
        return FS_OK;
    }
    double bw = hi > lo ? nice_step((hi - lo) / 20) : fmax(fabs(hi) / 10, 1e-3);
    char title[128];
    snprintf(title, sizeof title, "Distribution of round durations (all runs, %zu rounds)", n);
    gp_set(gp, "title", title);
    gp_set(gp, "xlabel", "round duration, t_end - t_start (seconds)");
    gp_set(gp, "ylabel", "rounds");
    fprintf(gp,
            "  bw = %.9g\n  bin(x) = bw * (floor(x / bw) + 0.5)\n"
            "  set boxwidth bw * 0.95 absolute\n  set style fill solid 0.85 border -1\n"
            "  set yrange [0:*]\n",
            bw);
    gp_range(gp, "x", floor(lo / bw) * bw, (floor(hi / bw) + 1) * bw);
    fprintf(gp,
            "  plot '%s.dat' using (bin($3)):(1) smooth frequency with boxes"
            " lc rgb '#1f77b4' title sprintf('bin width %%g s', bw)\n",
            p->name);
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
    {.name = "privacy_utility", .heading = "Privacy against utility", .write = plot_privacy},
    {.name = "round_durations",
     .heading = "Distribution of round durations",
     .write = plot_durations},
};
const size_t fs_report_n_plots = sizeof fs_report_plots / sizeof fs_report_plots[0];
