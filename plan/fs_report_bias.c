/* fs_report_bias: the "Who trains" plots of `fedsim report` (schema version 6): each level's
 * share of the population, of the consenting clients and of the reports (latest run with a
 * participation mix), and the selection bias (TVD of the round's reports against the population,
 * v_selection_bias) over the hour of day, one series per group column. The table beside them
 * (participation and the metric per segment) is fs_report_html.c's, from fs_report_who_sql. A
 * file without a mix (version 5 and older) gets a note instead, through fs_report_skip. Level
 * names come from the data (CSV values): they reach gnuplot only as data-file text through
 * fs_report_dat_str, never as script text. */
#include <stdio.h>
#include <string.h>

#include "fs_report_int.h"

static const char no_mix[] = "no participation mix recorded in this database (written before "
                             "schema version 6)";

/* The latest run with a mix: the one the shares describe. */
#define LATEST_MIX "(SELECT max(run_id) FROM participation_mix)"

const char fs_report_who_sql[] =
    "WITH p AS (SELECT * FROM v_participation_by_segment WHERE run_id = " LATEST_MIX "),"
    " h AS (SELECT u.run_id, coalesce(u.headline_metric, u.target_metric) AS metric FROM runs u"
    "  WHERE u.run_id = " LATEST_MIX "),"
    " last AS (SELECT e.segment, e.value FROM evals e JOIN h ON e.run_id = h.run_id"
    "  AND e.metric = h.metric WHERE e.round = (SELECT max(round) FROM evals x"
    "  WHERE x.run_id = h.run_id AND x.metric = h.metric))"
    " SELECT p.run_id, p.grp AS \"group\", p.level, (SELECT metric FROM h) AS metric,"
    "  (SELECT value FROM last WHERE segment = p.grp || '=' || p.level) AS metric_at_last_eval,"
    "  round(max(p.share_population), 4) AS population_share,"
    "  round(max(CASE WHEN p.stage = 'consenting' THEN p.share END), 4) AS consenting_share,"
    "  round(max(CASE WHEN p.stage = 'online' THEN p.share END), 4) AS online_share,"
    "  round(max(CASE WHEN p.stage = 'reported' THEN p.share END), 4) AS reported_share,"
    "  round(max(CASE WHEN p.stage = 'reported' THEN p.ratio END), 3) AS reported_ratio"
    " FROM p GROUP BY p.run_id, p.grp, p.level ORDER BY p.grp, p.level";

int fs_report_plot_who_trains(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    if (r->schema_version < 6) return fs_report_skip(p, no_mix), FS_OK;
    static const char sql[] = "SELECT grp, level, max(share_population),"
                              " max(CASE WHEN stage = 'consenting' THEN share END),"
                              " max(CASE WHEN stage = 'reported' THEN share END)"
                              " FROM v_participation_by_segment WHERE run_id = " LATEST_MIX
                              " GROUP BY grp, level ORDER BY grp, level";
    const char *what = "reading v_participation_by_segment";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fputs("# group: level\tpopulation share\tconsenting share\treported share (whole run)\n", dat);
    int s, n = 0;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        fputc('"', dat);
        fs_report_dat_str(dat, (const char *)sqlite3_column_text(st, 0));
        fputs(": ", dat);
        fs_report_dat_str(dat, (const char *)sqlite3_column_text(st, 1));
        fprintf(dat, "\"\t%.9g\t%.9g\t%.9g\n", sqlite3_column_double(st, 2),
                sqlite3_column_double(st, 3), sqlite3_column_double(st, 4));
        n++;
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    if (!n) return fs_report_skip(p, "no run recorded a participation mix"), FS_OK;
    p->has_data = true;
    fs_report_gp_set(gp, "title",
                     "Who trains: each level's share of the population, of the "
                     "consenting clients and of the reports (latest run)");
    fs_report_gp_set(gp, "ylabel", "share within its group column");
    fs_report_gp_set(gp, "xlabel", "group column: level");
    fputs("  set datafile separator '\\t'\n  set style data histograms\n"
          "  set style histogram clustered gap 1\n  set style fill solid 0.85 border -1\n"
          "  set yrange [0:*]\n  set xtics rotate by 30 right font \",9\"\n",
          gp);
    fs_report_gp_key(gp, 20);
    fprintf(gp,
            "  plot '%s.dat' using 2:xtic(1) lc rgb '#7f7f7f' title 'population', \\\n"
            "       '' using 3 lc rgb '#1f77b4' title 'consenting', \\\n"
            "       '' using 4 lc rgb '#d62728' title 'reported'\n",
            p->name);
    return FS_OK;
}

int fs_report_plot_bias_by_hour(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    if (r->schema_version < 6) return fs_report_skip(p, no_mix), FS_OK;
    static const char sql[] =
        "SELECT b.grp, (r.t_start % 86400000000) / 3600000000.0, b.tvd FROM v_selection_bias b"
        " JOIN rounds r ON r.run_id = b.run_id AND r.round = b.round"
        " WHERE b.run_id = " LATEST_MIX " AND b.tvd IS NOT NULL ORDER BY b.grp, b.round";
    const char *what = "reading v_selection_bias";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fs_report_gp_set(gp, "title",
                     "Who trains: selection bias of each round's reports by hour of "
                     "day (latest run)");
    fs_report_gp_set(gp, "xlabel", "hour of day at round start (virtual hours mod 24)");
    fs_report_gp_set(gp, "ylabel", "total variation distance, reports vs population");
    fputs("  set xrange [0:24]\n  set xtics 0,3,24\n  set yrange [0:*]\n", gp);
    fs_report_gp_key(gp, 16);
    fputs("# columns: hour of day at round start, TVD of the round's reports; a block per group"
          " column\n",
          dat);
    char prev[256] = "";
    size_t blocks = 0;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        const char *grp = (const char *)sqlite3_column_text(st, 0);
        if (blocks == 0 || strcmp(grp, prev) != 0) {
            if (blocks) fputs("\n\n", dat);
            fprintf(dat, "# index %zu: ", blocks);
            fs_report_dat_str(dat, grp);
            fputc('\n', dat);
            fs_report_gp_clause(gp, blocks);
            fprintf(gp, "'%s.dat' index %zu using 1:2 with points pt 7 ps 0.6 lc %zu title ",
                    p->name, blocks, blocks % 10 + 1);
            fs_report_gp_str(gp, grp);
            snprintf(prev, sizeof prev, "%s", grp);
            blocks++;
        }
        fprintf(dat, "%.9g\t%.9g\n", sqlite3_column_double(st, 1), sqlite3_column_double(st, 2));
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    if (blocks) fputc('\n', gp);
    p->has_data = blocks > 0;
    if (!blocks) fs_report_skip(p, "no round recorded a participation mix with reports");
    return FS_OK;
}
