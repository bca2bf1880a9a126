/* fs_report_html: report.html, one self-contained page: a header, the run summary
 * (v_run_summary) and time-to-target (v_time_to_target) tables, then every plot with its SVG
 * inlined and its PNG, data file and script named. The same two tables are written as
 * tab-separated files for spreadsheets. Every text from the database is HTML-escaped; the SVGs
 * come from gnuplot, which escapes its own text, and get their ids prefixed so the plots' <defs>
 * do not collide once they share one page. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_report_int.h"

/* Sized for a 1400-pixel window: the page uses up to 1360 pixels, tables scroll sideways in
 * their own box rather than widening the page, headers break after an underscore, numbers do
 * not break, and the plots keep their drawn size. Headers are not bold and cells tightly
 * padded because the run summary's 24 columns are as wide as their headers: so the table fits
 * 1360 pixels in Chromium (1306 at least, 1466 with bold headers and .35em padding). */
static const char style[] =
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1360px;padding:0 .5em;"
    "color:#222}\n"
    "pre.plan{overflow-x:auto;font-size:80%;background:#fafafa;padding:.5em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:75%}\n"
    "th,td{border:1px solid #ccc;padding:.2em .25em;vertical-align:top}"
    "th{background:#f2f2f2;font-weight:normal}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.null{color:#999}\n"
    ".wide{overflow-x:auto;max-width:100%}figure{margin:0;max-width:1100px}"
    "figure svg{width:100%;height:auto}\n"
    ".note{color:#8a5a00}.files{font-size:90%;color:#555;max-width:1100px}\n";

void fs_report_html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Escaped, with a line-break opportunity after each _ (column names, scenario names), so narrow
 * columns wrap instead of widening the table. */
static void esc_wrap(FILE *html, const char *s)
{
    for (; s && *s; s++) {
        char one[2] = {*s, '\0'};
        fs_report_html_esc(html, one);
        if (*s == '_') fputs("<wbr>", html);
    }
}

/* TSV cell: tabs and newlines would break the row. */
static void tsv_str(FILE *f, const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static FILE *open_out(fs_report *r, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    FILE *f = fopen(path, "w");
    if (!f) fs_err_add(r->err, NULL, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static int close_out(fs_report *r, FILE *f, const char *name)
{
    bool bad = ferror(f);
    bad = fclose(f) != 0 || bad;
    if (!bad) return FS_OK;
    fs_err_add(r->err, NULL, "%s/%s: cannot write: %s", r->dir, name, strerror(errno));
    return FS_EIO;
}

/* ---- tables: every column of a view, bytes shown in MB, reached as yes/no */

static bool is_bytes(const char *col)
{
    return !strncmp(col, "bytes", 5);
}

static void html_header_row(FILE *html, sqlite3_stmt *st, FILE *tsv)
{
    fputs("<thead><tr>", html);
    fputc('#', tsv);
    for (int c = 0; c < sqlite3_column_count(st); c++) {
        const char *col = sqlite3_column_name(st, c);
        fputs("<th>", html);
        esc_wrap(html, col);
        fputs(is_bytes(col) ? " (MB)</th>" : "</th>", html);
        fprintf(tsv, "%s%s", c ? "\t" : " ", col);
    }
    fputs("</tr></thead>\n<tbody>\n", html);
    fputc('\n', tsv);
}

/* The legend label of the row's run (column 0 is run_id) when it is a sweep variant's short
 * form, else NULL: the tables then show what the plots show, with the full label on hover and
 * in the TSV files. */
static const char *short_variant(const fs_report *r, sqlite3_stmt *st)
{
    int64_t id = sqlite3_column_int64(st, 0);
    for (size_t i = 0; i < r->n_runs; i++) {
        const fs_report_run *run = &r->runs[i];
        if (run->run_id == id)
            return run->variant[0] && strcmp(run->label, run->variant) ? run->label : NULL;
    }
    return NULL;
}

/* Megabytes to four significant digits, whole above 1000 (the TSV files keep every byte). */
static void mb_cell(FILE *html, double mb)
{
    fprintf(html, mb >= 1000 ? "<td class=\"num\">%.0f</td>" : "<td class=\"num\">%.4g</td>", mb);
}

static void html_cell(const fs_report *r, FILE *html, sqlite3_stmt *st, int c)
{
    const char *col = sqlite3_column_name(st, c);
    const char *label = !strcmp(col, "variant") ? short_variant(r, st) : NULL;
    if (label && sqlite3_column_type(st, c) == SQLITE_TEXT) {
        fputs("<td title=\"", html);
        fs_report_html_esc(html, (const char *)sqlite3_column_text(st, c));
        fputs("\">", html);
        fs_report_html_esc(html, label);
        fputs("</td>", html);
        return;
    }
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
        fputs("<td class=\"null\">&ndash;</td>", html);
        return;
    case SQLITE_INTEGER:
        if (!strcmp(col, "reached"))
            fputs(sqlite3_column_int64(st, c) ? "<td>yes</td>" : "<td>no</td>", html);
        else if (is_bytes(col))
            mb_cell(html, sqlite3_column_double(st, c) / 1e6);
        else
            fprintf(html, "<td class=\"num\">%lld</td>", (long long)sqlite3_column_int64(st, c));
        return;
    case SQLITE_FLOAT:
        fprintf(html, "<td class=\"num\">%.4g</td>",
                sqlite3_column_double(st, c) / (is_bytes(col) ? 1e6 : 1.0));
        return;
    default:
        fputs("<td>", html);
        esc_wrap(html, (const char *)sqlite3_column_text(st, c));
        fputs("</td>", html);
    }
}

static void tsv_cell(FILE *tsv, sqlite3_stmt *st, int c)
{
    if (c) fputc('\t', tsv);
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER:
        fprintf(tsv, "%lld", (long long)sqlite3_column_int64(st, c));
        return;
    case SQLITE_FLOAT:
        fprintf(tsv, "%.9g", sqlite3_column_double(st, c));
        return;
    default:
        tsv_str(tsv, (const char *)sqlite3_column_text(st, c));
    }
}

static int table_rows(fs_report *r, sqlite3_stmt *st, const char *what, const char *empty,
                      FILE *html, FILE *tsv)
{
    html_header_row(html, st, tsv);
    size_t n = 0;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        fputs("<tr>", html);
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            html_cell(r, html, st, c);
            tsv_cell(tsv, st, c);
        }
        fputs("</tr>\n", html);
        fputc('\n', tsv);
        n++;
    }
    if (!n) {
        fprintf(html, "<tr><td colspan=\"%d\">", sqlite3_column_count(st));
        fs_report_html_esc(html, empty);
        fputs("</td></tr>\n", html);
    }
    fputs("</tbody></table></div>\n", html);
    return s < 0 ? FS_EDB : FS_OK;
}

/* Writes "<h2 id=id>heading</h2>", a line naming where the rows come from (`source`, HTML), the
 * table of every row of sql (empty: the text shown when it has none), and the same rows to
 * tsv_name. */
static int write_query(fs_report *r, FILE *html, const char *id, const char *heading,
                       const char *source, const char *sql, const char *empty,
                       const char *tsv_name)
{
    char what[128];
    snprintf(what, sizeof what, "reading %s", id);
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    FILE *tsv = open_out(r, tsv_name);
    if (!tsv) {
        sqlite3_finalize(st);
        return FS_EIO;
    }
    fprintf(tsv, "# fedsim report: %s (%s in %s)\n", heading, id, r->db_path);
    fprintf(html,
            "<h2 id=\"%s\">%s</h2>\n<p class=\"files\">%s; also in "
            "<a href=\"%s\">%s</a>.</p>\n<div class=\"wide\"><table>\n",
            id, heading, source, tsv_name, tsv_name);
    rc = table_rows(r, st, what, empty, html, tsv);
    sqlite3_finalize(st);
    int rc_tsv = close_out(r, tsv, tsv_name);
    return rc ? rc : rc_tsv;
}

/* Every row of a view, by run. */
static int write_table(fs_report *r, FILE *html, const char *view, const char *heading,
                       const char *empty, const char *tsv_name)
{
    char sql[128], source[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY run_id", view);
    snprintf(source, sizeof source, "View <code>%s</code>", view);
    return write_query(r, html, view, heading, source, sql, empty, tsv_name);
}

/* ---- inlined SVG */

/* Reads a whole file; the caller frees. NULL with err filled on failure. */
static char *read_all(fs_report *r, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    while (f) {
        if (n + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = 2 * cap + 8192);
            if (!grown) break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    bool ok = f && !ferror(f) && buf;
    if (f) fclose(f);
    if (ok) {
        buf[n] = '\0';
        return buf;
    }
    free(buf);
    fs_err_add(r->err, NULL, "%s: cannot read: %s", path, f ? "read error" : strerror(errno));
    return NULL;
}

/* Copies svg from its <svg element on, prefixing every id and every reference to one. */
static void inline_svg(FILE *html, const char *svg, size_t k)
{
    static const char *const refs[] = {" id=\"", " id='", "href=\"#", "href='#", "url(#"};
    const char *s = strstr(svg, "<svg");
    if (!s) return;
    while (*s) {
        size_t matched = 0;
        for (size_t i = 0; i < sizeof refs / sizeof refs[0] && !matched; i++)
            if (!strncmp(s, refs[i], strlen(refs[i]))) matched = strlen(refs[i]);
        if (matched) {
            fprintf(html, "%.*sp%zu-", (int)matched, s, k);
            s += matched;
        } else {
            fputc(*s++, html);
        }
    }
}

static void file_links(FILE *html, const fs_report_plot *p)
{
    fprintf(html,
            "<p class=\"files\">PNG: <a href=\"%s.png\">%s.png</a> &middot; SVG: "
            "<a href=\"%s.svg\">%s.svg</a> &middot; data: <a href=\"%s.dat\">%s.dat</a> "
            "&middot; gnuplot script: <a href=\"%s.gp\">%s.gp</a></p>\n",
            p->name, p->name, p->name, p->name, p->name, p->name, p->name, p->name);
}

static int write_plot(fs_report *r, FILE *html, const fs_report_plot *p, size_t k,
                      const char *gnuplot_note)
{
    fprintf(html, "<section id=\"%s\">\n<h3>", p->name);
    fs_report_html_esc(html, p->heading);
    fputs("</h3>\n", html);
    if (!p->has_data) {
        fprintf(html, "<p class=\"note\">Skipped (no %s.png): ", p->name);
        fs_report_html_esc(html, p->note);
        fputs(".</p>\n</section>\n", html);
        return FS_OK;
    }
    if (!p->drawn) {
        fprintf(html, "<p class=\"note\">%s.png ", p->name);
        fs_report_html_esc(html, gnuplot_note ? gnuplot_note : "not drawn");
        fprintf(html, "; run <code>gnuplot %s.gp</code> in this folder to draw it.</p>\n", p->name);
        file_links(html, p);
        fputs("</section>\n", html);
        return FS_OK;
    }
    char name[600];
    snprintf(name, sizeof name, "%s.svg", p->name);
    char *svg = read_all(r, name);
    if (!svg) return FS_EIO;
    fputs("<figure>\n", html);
    inline_svg(html, svg, k);
    fputs("</figure>\n", html);
    free(svg);
    file_links(html, p);
    fputs("</section>\n", html);
    return FS_OK;
}

/* ---- the page */

static void write_head(const fs_report *r, FILE *html, const fs_report_plot *plots, size_t n)
{
    char now[64];
    time_t t = time(NULL);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<title>fedsim report: ",
          html);
    fs_report_html_esc(html, r->db_path);
    fprintf(html, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>fedsim report</h1>\n",
            style);
    fputs("<p>Database <code>", html);
    fs_report_html_esc(html, r->db_path);
    fprintf(html, "</code> &middot; %zu run%s &middot; generated %s</p>\n<nav><ul>\n", r->n_runs,
            r->n_runs == 1 ? "" : "s", now);
    if (r->replicated) fputs("<li><a href=\"#variant_summary\">Variants over replicates</a></li>\n", html);
    if (r->n_params)
        fputs("<li><a href=\"#variant_params\">Parameters that differ between variants</a></li>\n",
              html);
    fputs("<li><a href=\"#v_run_summary\">Run summary</a></li>\n"
          "<li><a href=\"#v_time_to_target\">Time to target</a></li>\n",
          html);
    for (size_t i = 0; i < n; i++) {
        fprintf(html, "<li><a href=\"#%s\">", plots[i].name);
        fs_report_html_esc(html, plots[i].heading);
        fputs("</a></li>\n", html);
    }
    fputs("</ul></nav>\n", html);
}

int fs_report_write_html(fs_report *r, const fs_report_plot *plots, size_t n_plots,
                         const char *gnuplot_note)
{
    FILE *html = open_out(r, "report.html");
    if (!html) return FS_EIO;
    write_head(r, html, plots, n_plots);
    int rc = fs_report_write_variant_tables(r, html);
    if (!rc)
        rc = write_table(r, html, "v_run_summary", "Run summary", "no runs in this database",
                         "run_summary.tsv");
    if (!rc)
        rc = write_table(r, html, "v_time_to_target", "Time to target",
                         "no run has a target (eval.target in its scenario)", "time_to_target.tsv");
    if (!rc) fputs("<h2>Plots</h2>\n", html);
    if (!rc && gnuplot_note) {
        fputs("<p class=\"note\">Plots ", html);
        fs_report_html_esc(html, gnuplot_note);
        fputs(": the data files and gnuplot scripts are in this folder.</p>\n", html);
    }
    for (size_t i = 0; !rc && i < n_plots; i++)
        rc = write_plot(r, html, &plots[i], i, gnuplot_note);
    /* after the who-trains plots: the shares and the metric per segment, side by side */
    if (!rc && r->schema_version >= 6)
        rc = write_query(r, html, "who_trains_table",
                         "Who trains: participation and the metric per segment (latest run)",
                         "Views <code>v_participation_by_segment</code> and <code>evals</code>; "
                         "shares over the whole run, ratio = reported share / population share",
                         fs_report_who_sql, "no run recorded a participation mix",
                         "who_trains.tsv");
    fputs("</body>\n</html>\n", html);
    int rc_close = close_out(r, html, "report.html");
    return rc ? rc : rc_close;
}
