/* fs_report internals shared by fs_report.c (command line, gnuplot), fs_report_groups.c (runs
 * grouped into sweep variants, the parameters that differ between variants, short legend
 * labels), fs_report_plot.c and fs_report_bands.c (data files and gnuplot scripts, one per plot;
 * bands: means and intervals over replicates), fs_report_html.c (report.html, tables) and
 * fs_report_variants.c (the per-variant tables). The report owns every string it holds; SQLite
 * statements never outlive the function that prepared them. Nothing here writes to the
 * database. */
#ifndef FS_REPORT_INT_H
#define FS_REPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "fs_err.h"

typedef struct fs_report_run {
    int64_t run_id;
    char *label;  /* legend text: its group's label (fs_report_group.label) */
    char *metric; /* headline metric (v_run_summary.final_metric); NULL if never evaluated */
    char *name, *variant; /* runs.name, runs.variant ("" when NULL) */
    char *scenario_json;  /* runs.scenario_json, the effective scenario; NULL when missing */
    char *target_metric;  /* runs.target_metric, NULL without a target */
    double target_value;
    bool target_lower_better;
    int64_t replicate; /* runs.replicate (schema 3); 0 when NULL */
    size_t group;      /* index into fs_report.groups */
} fs_report_run;

/* The runs one legend entry stands for: the replicates of a sweep variant (same name and
 * variant label, replicate set), or a single run. */
typedef struct fs_report_group {
    char *label;        /* legend text: short form (differing keys), variant, or "run N: name" */
    const char *metric; /* headline of its first evaluated run, borrowed; NULL if none */
    size_t *runs;       /* indices into fs_report.runs, in run order; one per replicate */
    size_t n_runs;
    bool is_variant; /* a sweep variant (non-empty runs.variant) */
} fs_report_group;

/* A JSON path whose value differs between the variants' effective scenarios. */
typedef struct fs_report_param {
    char *path;    /* e.g. "server.clients_per_round", "eval.segments" */
    char **values; /* per group (fs_report.n_groups), unformatted JSON; NULL when absent or the
                    * group is not a variant */
} fs_report_param;

typedef struct fs_report {
    sqlite3 *db;
    const char *db_path; /* borrowed from argv */
    const char *dir;     /* output folder, borrowed */
    fs_report_run *runs; /* in run_id order */
    size_t n_runs;
    const char *metric; /* headline metric shared by every evaluated run; NULL if they differ */
    int schema_version; /* meta.schema_version: 2 files lack runs.replicate and headline_metric */
    fs_report_group *groups; /* in order of their first run */
    size_t n_groups;
    fs_report_param *params; /* differing between variants (>= 2 variants), in the order of
                              * the scenario's keys */
    size_t n_params;
    bool replicated; /* some group holds >= 2 replicates: mean lines, bands, variant table */
    const char *target_metric; /* target shared by every run with one (borrowed), else NULL */
    double target_value;
    bool target_lower_better;
    fs_err *err;
} fs_report;

typedef struct fs_report_plot fs_report_plot;

/* Writes the plot's data rows to dat and the body of its gnuplot script (title, labels, plot
 * command; the caller writes the terminal and output lines) to gp. Sets p->has_data, or leaves
 * it false with p->note saying why the plot is skipped. FS_OK or FS_EDB with err filled. */
typedef int (*fs_report_plot_fn)(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);

struct fs_report_plot {
    const char *name;    /* file base name: <name>.dat, .gp, .png, .svg */
    const char *heading; /* section heading in report.html */
    fs_report_plot_fn write;
    bool has_data;  /* set by write */
    bool drawn;     /* gnuplot produced <name>.png and <name>.svg */
    char note[256]; /* why a plot was skipped or not drawn; "" otherwise */
};

/* The plots, in report order (fs_report_plot.c). */
extern const fs_report_plot fs_report_plots[];
extern const size_t fs_report_n_plots;

/* Prepares sql; on failure adds "<db>: <what>: <sqlite message>" and returns FS_EDB. */
int fs_report_prepare(fs_report *r, const char *sql, const char *what, sqlite3_stmt **out);
/* sqlite3_step; an error (not ROW/DONE) adds "<db>: <what>: <message>" and returns -1. */
int fs_report_step(fs_report *r, sqlite3_stmt *st, const char *what);

/* Copy of s, NULL when s is NULL or memory ran out (the caller checks when it matters). */
char *fs_report_strdup(const char *s);

/* Groups r->runs into r->groups (replicates of one variant together; a rerun replicate replaces
 * the earlier run), finds the parameters that differ between variants (r->params) and sets each
 * group's legend label: the differing keys' last path components with their values (e.g.
 * "clients_per_round=200, noise_multiplier=1.2") when they tell the variants apart, else the
 * variant label. FS_OK or FS_ENOMEM (fs_report_groups.c). */
int fs_report_group_runs(fs_report *r);
void fs_report_free_groups(fs_report *r);

/* Shared gnuplot and data-file text (fs_report_plot.c). */
void fs_report_gp_str(FILE *gp, const char *s);  /* single-quoted, ' doubled */
void fs_report_gp_set(FILE *gp, const char *what, const char *text);
void fs_report_gp_clause(FILE *gp, size_t n); /* "plot " or a continuation */
void fs_report_dat_str(FILE *dat, const char *s);
/* which: 1 = name for a title ("AUC"), 2 = axis label; NULL metric: generic text. */
const char *fs_report_metric_text(const char *metric, int which);
/* Places the key so the plot area keeps at least 60% of the width: at the right when the
 * longest title (max_chars) is short, else below the plot; small font either way. */
void fs_report_gp_key(FILE *gp, size_t max_chars);
/* The longest legend title a plot of every group can have, for fs_report_gp_key. */
size_t fs_report_max_title(const fs_report *r);
/* When the runs share a target on `metric`, adds a plot clause (the n-th) drawing it as a
 * dashed horizontal line and returns true. */
bool fs_report_gp_target(FILE *gp, const fs_report *r, const char *metric, size_t n);
/* Sets a range with a margin; gnuplot would warn about an empty range for a single value. */
void fs_report_gp_range(FILE *gp, const char *axis, double lo, double hi);
/* A histogram of column `column` of name.dat, whose values span [lo, hi]: about 20 bins of a
 * 1-2-5 width (min_width when all values are equal and near 0), boxes in `color`, the bin width
 * in `unit` as the key. */
void fs_report_gp_histogram(FILE *gp, const char *name, int column, double lo, double hi,
                            double min_width, const char *color, const char *unit);
/* Skips plot p with the reason why. */
void fs_report_skip(fs_report_plot *p, const char *why);
/* Traffic axis: the unit ("KB", "MB", "GB", "TB") that keeps max_mb's digits few, and the
 * factor from MB to it. */
const char *fs_report_traffic_unit(double max_mb, double *out_per_mb);

/* Replicated reports (fs_report_bands.c): the data blocks and plot clauses of the headline
 * metric per group (mean over its replicates, with its 95% t band) against x, the gnuplot using
 * expression of the x axis over the columns round (1), mean virtual hours (2) and mean MB (3);
 * *out_blocks is the number of groups drawn. */
int fs_report_write_bands(fs_report *r, const fs_report_plot *p, FILE *dat, FILE *gp,
                          const char *x, size_t *out_blocks);
/* The epsilon spent against rounds, one (mean) line per group of DP runs. */
int fs_report_plot_epsilon(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);

/* Per-variant tables in report.html (fs_report_variants.c): the parameters that differ between
 * variants (with >= 2 variants), and for replicated reports the summary over replicates
 * (mean ± 95% half-width (n)) of the final headline metric, the reach share and the time to
 * target. FS_OK, FS_EDB or FS_ENOMEM with err filled. */
int fs_report_write_variant_tables(fs_report *r, FILE *html);
/* HTML-escaped text (fs_report_html.c). */
void fs_report_html_esc(FILE *html, const char *s);

/* The energy plots (fs_report_energy.c): energy per round, per-device daily energy (Wh). */
int fs_report_plot_energy_round(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);
int fs_report_plot_energy_daily(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);

/* The "Who trains" plots (fs_report_bias.c): shares per level of the latest run with a
 * participation mix, and the selection bias over the hour of day; the query of the table
 * beside them (participation and the headline metric per segment, latest run). */
int fs_report_plot_who_trains(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);
int fs_report_plot_bias_by_hour(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp);
extern const char fs_report_who_sql[];

/* Writes report.html into r->dir from the plots' states and the summary views; also writes
 * run_summary.tsv and time_to_target.tsv. gnuplot_note: why plots were not drawn, or NULL.
 * FS_OK, FS_EDB or FS_EIO with err filled. */
int fs_report_write_html(fs_report *r, const fs_report_plot *plots, size_t n_plots,
                         const char *gnuplot_note);

#endif
