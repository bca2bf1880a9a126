/* fs_report internals shared by fs_report.c (command line, gnuplot), fs_report_plot.c (data
 * files and gnuplot scripts, one per plot) and fs_report_html.c (report.html, tables). The
 * report owns every string it holds; SQLite statements never outlive the function that
 * prepared them. Nothing here writes to the database. */
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
    char *label;  /* legend text: the variant label, or "run N: name" for a plain run */
    char *metric; /* headline metric (v_run_summary.final_metric); NULL if never evaluated */
} fs_report_run;

typedef struct fs_report {
    sqlite3 *db;
    const char *db_path; /* borrowed from argv */
    const char *dir;     /* output folder, borrowed */
    fs_report_run *runs; /* in run_id order */
    size_t n_runs;
    const char *metric; /* headline metric shared by every evaluated run; NULL if they differ */
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

/* The eight plots, in report order (fs_report_plot.c). */
extern const fs_report_plot fs_report_plots[];
extern const size_t fs_report_n_plots;

/* Prepares sql; on failure adds "<db>: <what>: <sqlite message>" and returns FS_EDB. */
int fs_report_prepare(fs_report *r, const char *sql, const char *what, sqlite3_stmt **out);
/* sqlite3_step; an error (not ROW/DONE) adds "<db>: <what>: <message>" and returns -1. */
int fs_report_step(fs_report *r, sqlite3_stmt *st, const char *what);

/* Copy of s, NULL when s is NULL or memory ran out (the caller checks when it matters). */
char *fs_report_strdup(const char *s);

/* Writes report.html into r->dir from the plots' states and the summary views; also writes
 * run_summary.tsv and time_to_target.tsv. gnuplot_note: why plots were not drawn, or NULL.
 * FS_OK, FS_EDB or FS_EIO with err filled. */
int fs_report_write_html(fs_report *r, const fs_report_plot *plots, size_t n_plots,
                         const char *gnuplot_note);

#endif
