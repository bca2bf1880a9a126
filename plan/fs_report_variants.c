/* fs_report_variants: the per-variant sections of report.html. "Parameters that differ between
 * variants" maps each legend label to the JSON paths and values that tell the variants apart
 * (fs_report_groups.c found them in runs.scenario_json). For replicated reports, "Variants over
 * replicates" gives per variant the final headline metric, the share of replicates that reached
 * the target and the time (virtual hours) and traffic to the target as mean ± 95% Student-t
 * half-width (n), computed with fs_stats from the per-run views v_run_summary and
 * v_time_to_target, so the table also covers files whose variant_stats were never filled. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_plan.h"
#include "fs_db.h"
#include "fs_report_int.h"
#include "fs_stats.h"

/* ---- parameters that differ */

static void param_table(const fs_report *r, FILE *html)
{
    fputs("<h2 id=\"variant_params\">Parameters that differ between variants</h2>\n"
          "<p class=\"files\">Each variant's effective scenario (<code>runs.scenario_json</code>"
          " of its first run) compared leaf by leaf with every other variant's; paths that also"
          " vary between the replicates of one variant (seeds) are left out. The legend labels"
          " name each path by its last part.</p>\n<div class=\"wide\"><table>\n<thead><tr>"
          "<th>legend label</th><th>variant (<code>runs.variant</code>)</th><th>runs</th>",
          html);
    for (size_t i = 0; i < r->n_params; i++) {
        fputs("<th><code>", html);
        fs_report_html_esc(html, r->params[i].path);
        fputs("</code></th>", html);
    }
    fputs("</tr></thead>\n<tbody>\n", html);
    for (size_t g = 0; g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        if (!grp->is_variant) continue;
        fputs("<tr><td>", html);
        fs_report_html_esc(html, grp->label);
        fputs("</td><td>", html);
        fs_report_html_esc(html, r->runs[grp->runs[0]].variant);
        fprintf(html, "</td><td class=\"num\">%zu</td>", grp->n_runs);
        for (size_t i = 0; i < r->n_params; i++) {
            const char *v = r->params[i].values[g];
            if (!v) {
                fputs("<td class=\"null\">(not set)</td>", html);
                continue;
            }
            fputs("<td><code>", html);
            fs_report_html_esc(html, v);
            fputs("</code></td>", html);
        }
        fputs("</tr>\n", html);
    }
    fputs("</tbody></table></div>\n", html);
}

/* ---- summary over replicates */

typedef struct run_values {
    double final, epsilon;    /* v_run_summary.final_value, epsilon */
    double reached, hours, mb; /* v_time_to_target: 1/0 (NaN: no target), t_h, MB up + down */
} run_values;

static const fs_report_run *run_by_id(const fs_report *r, int64_t id, size_t *out_i)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].run_id == id) return *out_i = i, &r->runs[i];
    return NULL;
}

static int read_values(fs_report *r, run_values *v)
{
    for (size_t i = 0; i < r->n_runs; i++)
        v[i] = (run_values){NAN, NAN, NAN, NAN, NAN};
    static const char *const sql[] = {
        "SELECT run_id, final_value, epsilon FROM v_run_summary",
        "SELECT run_id, reached, t_h, (bytes_up + bytes_down) / 1e6 FROM v_time_to_target"};
    static const char *const what[] = {"reading v_run_summary", "reading v_time_to_target"};
    for (int q = 0; q < 2; q++) {
        sqlite3_stmt *st;
        int rc = fs_report_prepare(r, sql[q], what[q], &st);
        if (rc) return rc;
        int s;
        while ((s = fs_report_step(r, st, what[q])) == SQLITE_ROW) {
            size_t i;
            if (!run_by_id(r, sqlite3_column_int64(st, 0), &i)) continue;
            double col[3];
            for (int c = 0; c < 3; c++)
                col[c] = fs_db_column_real(st, c + 1);
            if (q == 0) {
                v[i].final = col[0], v[i].epsilon = col[1];
            } else {
                v[i].reached = col[0];
                v[i].hours = col[0] > 0 ? col[1] : NAN, v[i].mb = col[0] > 0 ? col[2] : NAN;
            }
        }
        sqlite3_finalize(st);
        if (s < 0) return FS_EDB;
    }
    return FS_OK;
}

/* "mean ± half-width (n)", "mean (1)" or a dash, in a table cell. */
static void stat_cell(FILE *html, fs_stats_summary s)
{
    if (!s.n)
        fputs("<td class=\"null\">&ndash;</td>", html);
    else if (isnan(s.half_width))
        fprintf(html, "<td class=\"num\">%.4g (%zu)</td>", s.mean, s.n);
    else
        fprintf(html, "<td class=\"num\">%.4g &plusmn; %.2g (%zu)</td>", s.mean, s.half_width,
                s.n);
}

/* Summary of field f (an offset into run_values) over the runs of grp. */
static fs_stats_summary group_stat(const fs_report_group *grp, const run_values *v, size_t f,
                                   double *scratch)
{
    for (size_t k = 0; k < grp->n_runs; k++)
        scratch[k] = *(const double *)((const char *)&v[grp->runs[k]] + f);
    return fs_stats_summarize(scratch, grp->n_runs);
}

static bool any_target(const fs_report *r)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].target_metric) return true;
    return false;
}

static void summary_head(const fs_report *r, bool target, FILE *html)
{
    fputs("<h2 id=\"variant_summary\">Variants over replicates</h2>\n"
          "<p class=\"files\">Each cell: mean &plusmn; half-width of the 95% Student-t interval"
          " (number of replicates it is over). Hours and traffic to the target are over the"
          " replicates that reached it. An interval says how much another draw of the same"
          " settings could change the number, not how well the simulator models the"
          " field.</p>\n<div class=\"wide\"><table>\n<thead><tr><th>variant</th>"
          "<th>replicates</th><th>final ",
          html);
    fs_report_html_esc(html, r->metric ? r->metric : "headline metric");
    fputs("</th>", html);
    if (target) {
        fputs("<th>reached target", html);
        if (r->target_metric) {
            fprintf(html, " (");
            fs_report_html_esc(html, r->target_metric);
            fprintf(html, " %s %g)", r->target_lower_better ? "&le;" : "&ge;", r->target_value);
        }
        fputs("</th><th>virtual hours to target</th><th>traffic to target (MB, up + down)</th>",
              html);
    }
    fputs("<th>final epsilon</th></tr></thead>\n<tbody>\n", html);
}

static int summary_table(fs_report *r, FILE *html)
{
    size_t max_runs = 1;
    for (size_t g = 0; g < r->n_groups; g++)
        if (r->groups[g].n_runs > max_runs) max_runs = r->groups[g].n_runs;
    run_values *v = malloc((r->n_runs + 1) * sizeof *v);
    double *scratch = malloc(max_runs * sizeof *scratch);
    int rc = v && scratch ? read_values(r, v) : FS_ENOMEM;
    bool target = any_target(r);
    if (!rc) summary_head(r, target, html);
    for (size_t g = 0; !rc && g < r->n_groups; g++) {
        const fs_report_group *grp = &r->groups[g];
        fputs("<tr><td>", html);
        fs_report_html_esc(html, grp->label);
        fprintf(html, "</td><td class=\"num\">%zu</td>", grp->n_runs);
        stat_cell(html, group_stat(grp, v, offsetof(run_values, final), scratch));
        if (target) {
            fs_stats_summary reach = group_stat(grp, v, offsetof(run_values, reached), scratch);
            if (reach.n)
                fprintf(html, "<td class=\"num\">%.0f of %zu (%.0f%%)</td>",
                        reach.mean * (double)reach.n, reach.n, 100 * reach.mean);
            else
                fputs("<td class=\"null\">no target</td>", html);
            stat_cell(html, group_stat(grp, v, offsetof(run_values, hours), scratch));
            stat_cell(html, group_stat(grp, v, offsetof(run_values, mb), scratch));
        }
        stat_cell(html, group_stat(grp, v, offsetof(run_values, epsilon), scratch));
        fputs("</tr>\n", html);
    }
    if (!rc) fputs("</tbody></table></div>\n", html);
    free(v);
    free(scratch);
    return rc;
}

/* ---- the planner's answer */

/* The `fedsim plan` answer for the runs' shared eval.target, exactly as the command prints it
 * (fs_plan_answer: the ranking with mean ± half-width (n) costs and `indistinguishable` marks),
 * so the report and the command can never disagree; there is no second planner here. Exit 1
 * (nothing feasible) is an answer too; other failures show the planner's message. */
static void html_plan_answer(fs_report *r, FILE *html)
{
    if (!r->target_metric) return;
    char *text = NULL, *errs = NULL;
    size_t n_text = 0, n_errs = 0;
    FILE *out = open_memstream(&text, &n_text), *err = open_memstream(&errs, &n_errs);
    int code = out && err ? fs_plan_answer(r->db_path, r->target_metric, r->target_value, 0, out,
                                           err)
                          : -1;
    if (out) fclose(out);
    if (err) fclose(err);
    fprintf(html, "<h2>Plan: which variant reaches the target</h2>\n");
    fputs("<p>The answer of <code>fedsim plan DB --target ", html);
    fs_report_html_esc(html, r->target_metric);
    fprintf(html, "=%g</code> (the runs' <code>eval.target</code>, its sustain rule; "
                  "costs as mean &plusmn; 95%% half-width (replicates)).</p>\n",
            r->target_value);
    fputs("<pre class=\"plan\">", html);
    fs_report_html_esc(html, code >= 0 && text ? text : "");
    if (code != 0 && code != 1 && errs) fs_report_html_esc(html, errs);
    fputs("</pre>\n", html);
    free(text);
    free(errs);
}

int fs_report_write_variant_tables(fs_report *r, FILE *html)
{
    int rc = FS_OK;
    if (r->replicated) rc = summary_table(r, html);
    if (!rc && r->replicated) html_plan_answer(r, html);
    if (!rc && r->n_params) param_table(r, html);
    return rc;
}
