/* fs_report: `fedsim report DB [-o DIR]`, plots and a self-contained HTML report of every run in
 * a results database. Reads the database only (opened read-only, never created); writes data
 * files, gnuplot scripts, PNG/SVG plots and report.html into DIR. Draws with an external
 * gnuplot (FEDSIM_GNUPLOT, else gnuplot on PATH); without one it still writes the data files
 * and the HTML tables. */
#ifndef FS_REPORT_H
#define FS_REPORT_H

/* argv[0] = "report". Returns a process exit code: 0 ok, 2 bad arguments, 3 missing database,
 * I/O error or gnuplot failure. Messages go to stderr. */
int fs_report_cli(int argc, char **argv);

#endif
