/* fs_report_bands: plots over the replicates of each group (fs_report_groups.c): the headline
 * metric's mean with its 95% Student-t band against rounds, mean virtual hours and mean traffic,
 * and the epsilon spent against rounds. The statistics come from fs_stats (GSL), so the report
 * shows the intervals `fedsim plan` and the v_variant_* views compute. A round some replicates
 * did not reach (a run stopped by max_virtual_hours, or failed) is summarised over those that
 * did, with n saying how many. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_db.h"
#include "fs_report_int.h"
#include "fs_stats.h"

#define BAND_COLS 3 /* values per row besides the round */

typedef struct band_row {
    int64_t round;
    size_t rep; /* index of the run within its group */
    double v[BAND_COLS];
} band_row;

typedef struct band_rows {
    band_row *v;
    size_t n;
} band_rows;

static int cmp_row(const void *a, const void *b)
{
    const band_row *x = a, *y = b;
    if (x->round != y->round) return x->round < y->round ? -1 : 1;
    return x->rep < y->rep ? -1 : x->rep > y->rep;
}

/* The rows of every run of grp: st selects round and n_cols values for run_id ?1 (and metric ?2
 * when metric is set). Sorted by round, then replicate. */
static int collect(fs_report *r, sqlite3_stmt *st, const fs_report_group *grp,
                   const char *metric, size_t n_cols, band_rows *out)
{
    *out = (band_rows){0};
    size_t cap = 0;
    for (size_t k = 0; k < grp->n_runs; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, r->runs[grp->runs[k]].run_id);
        if (metric) sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
        int s;
        while ((s = fs_report_step(r, st, "reading rounds")) == SQLITE_ROW) {
            if (out->n == cap) {
                band_row *grown = realloc(out->v, (cap = 2 * cap + 64) * sizeof *grown);
                if (!grown) return FS_ENOMEM;
                out->v = grown;
            }
            band_row *row = &out->v[out->n++];
            row->round = sqlite3_column_int64(st, 0);
            row->rep = k;
            for (size_t c = 0; c < n_cols; c++)
                row->v[c] = fs_db_column_real(st, (int)c + 1);
        }
        if (s < 0) return FS_EDB;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_row); /* v is NULL without rows */
    return FS_OK;
}

/* Summaries of each column over the replicates at the round starting at rows->v[*at]; advances
 * *at past that round. scratch holds n_reps values. */
static int64_t next_round(const band_rows *rows, size_t *at, size_t n_reps, size_t n_cols,
                          double *scratch, fs_stats_summary *out)
{
    int64_t round = rows->v[*at].round;
    size_t end = *at;
    while (end < rows->n && rows->v[end].round == round)
        end++;
    for (size_t c = 0; c < n_cols; c++) {
        for (size_t k = 0; k < n_reps; k++)
            scratch[k] = NAN;
        for (size_t i = *at; i < end; i++)
            scratch[rows->v[i].rep] = rows->v[i].v[c];
        out[c] = fs_stats_summarize(scratch, n_reps);
    }
    *at = end;
    return round;
}

static size_t max_group_runs(const fs_report *r)
{
    size_t n = 1;
    for (size_t g = 0; g < r->n_groups; g++)
        if (r->groups[g].n_runs > n) n = r->groups[g].n_runs;
    return n;
}

static void dat_group(FILE *dat, size_t index, const fs_report_group *grp, const char *metric)
{
    fprintf(dat, "# index %zu: %zu replicate%s, ", index, grp->n_runs, grp->n_runs == 1 ? "" : "s");
    fs_report_dat_str(dat, grp->label);
    if (metric) {
        fputs(" (", dat);
        fs_report_dat_str(dat, metric);
        fputc(')', dat);
    }
    fputc('\n', dat);
}

static void gp_group_title(FILE *gp, const fs_report *r, const fs_report_group *grp)
{
    char buf[640];
    if (!r->metric && grp->metric) snprintf(buf, sizeof buf, "%s (%s)", grp->label, grp->metric);
    fs_report_gp_str(gp, !r->metric && grp->metric ? buf : grp->label);
}

/* One group's block (round, mean h, mean MB, mean, ci low, ci high, n); false when empty. */
static bool band_block(const band_rows *rows, size_t n_reps, double *scratch, FILE *dat)
{
    size_t at = 0;
    while (at < rows->n) {
        fs_stats_summary s[BAND_COLS];
        int64_t round = next_round(rows, &at, n_reps, BAND_COLS, scratch, s);
        fprintf(dat, "%lld\t%.9g\t%.9g\t%.9g\t%.9g\t%.9g\t%zu\n", (long long)round, s[0].mean,
                s[1].mean, s[2].mean, fs_stats_ci_low(&s[2]), fs_stats_ci_high(&s[2]), s[2].n);
    }
    fputs("\n\n", dat);
    return rows->n > 0;
}

/* The band first (semi-transparent, no border, outside the legend), then the mean line over it
 * in the same colour. */
static void band_clauses(const fs_report *r, const fs_report_plot *p, const char *x, size_t g,
                         size_t block, size_t *clause, FILE *gp)
{
    size_t colour = g % 10 + 1;
    if (r->groups[g].n_runs >= 2) {
        fs_report_gp_clause(gp, (*clause)++);
        fprintf(gp,
                "'%s.dat' index %zu using %s:5:6 with filledcurves lc %zu"
                " fs transparent solid 0.2 noborder notitle",
                p->name, block, x, colour);
    }
    fs_report_gp_clause(gp, (*clause)++);
    fprintf(gp, "'%s.dat' index %zu using %s:4 with linespoints lc %zu pt 7 ps 0.5 lw 2 title ",
            p->name, block, x, colour);
    gp_group_title(gp, r, &r->groups[g]);
}

int fs_report_write_bands(fs_report *r, const fs_report_plot *p, FILE *dat, FILE *gp,
                          const char *x, size_t *out_blocks)
{
    static const char sql[] = "SELECT round, t_end_h, (cum_bytes_up + cum_bytes_down) / 1e6,"
                              " value FROM v_round_metrics WHERE run_id = ?1 AND metric = ?2"
                              " AND value IS NOT NULL";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, "reading v_round_metrics", &st);
    double *scratch = rc ? NULL : malloc(max_group_runs(r) * sizeof *scratch);
    if (!rc && !scratch) rc = FS_ENOMEM;
    size_t blocks = 0, clauses = 0;
    for (size_t g = 0; !rc && g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        if (!grp->metric) continue;
        band_rows rows;
        rc = collect(r, st, grp, grp->metric, BAND_COLS, &rows);
        if (!rc && rows.n) {
            dat_group(dat, blocks, grp, grp->metric);
            band_block(&rows, grp->n_runs, scratch, dat);
            band_clauses(r, p, x, g, blocks++, &clauses, gp);
        }
        free(rows.v);
    }
    sqlite3_finalize(st);
    free(scratch);
    *out_blocks = clauses;
    return rc;
}

/* ---- epsilon against rounds */

int fs_report_plot_epsilon(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    static const char sql[] = "SELECT round, epsilon FROM rounds WHERE run_id = ?1"
                              " AND epsilon IS NOT NULL";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, "reading rounds", &st);
    double *scratch = rc ? NULL : malloc(max_group_runs(r) * sizeof *scratch);
    if (!rc && !scratch) rc = FS_ENOMEM;
    fputs(r->replicated ? "# columns: round, mean epsilon over replicates, replicates; one block"
                          " per variant\n"
                        : "# columns: round, epsilon, 1; one block per run\n",
          dat);
    fs_report_gp_set(gp, "title",
                     r->replicated ? "Privacy budget spent: epsilon per round, mean over "
                                     "replicates (DP runs)"
                                   : "Privacy budget spent: epsilon per round, one line per DP run");
    fs_report_gp_set(gp, "xlabel", "round");
    fs_report_gp_set(gp, "ylabel", "epsilon spent so far (at the run's delta)");
    fs_report_gp_key(gp, fs_report_max_title(r));
    fputs("  set yrange [0:*]\n", gp);
    size_t blocks = 0;
    for (size_t g = 0; !rc && g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        band_rows rows;
        rc = collect(r, st, grp, NULL, 1, &rows);
        if (!rc && rows.n) {
            dat_group(dat, blocks, grp, NULL);
            for (size_t at = 0; at < rows.n;) {
                fs_stats_summary s;
                int64_t round = next_round(&rows, &at, grp->n_runs, 1, scratch, &s);
                fprintf(dat, "%lld\t%.9g\t%zu\n", (long long)round, s.mean, s.n);
            }
            fputs("\n\n", dat);
            fs_report_gp_clause(gp, blocks);
            fprintf(gp, "'%s.dat' index %zu using 1:2 with lines lc %zu lw 2 title ", p->name,
                    blocks++, g % 10 + 1);
            gp_group_title(gp, r, grp);
        }
        free(rows.v);
    }
    fputc('\n', gp);
    sqlite3_finalize(st);
    free(scratch);
    if (!rc && !blocks)
        fs_report_skip(p, "no run used differential privacy (epsilon is NULL in every round)");
    p->has_data = !rc && blocks > 0;
    return rc;
}
