/* fs_report_energy: the energy plots of `fedsim report` (schema version 5): joules per round of
 * each run (rounds.energy_j) and the distribution of per-device daily energy in Wh
 * (client_energy). A file without energy (version 4 and older, or every energy_j NULL) gets a
 * one-line note instead of an empty plot, through fs_report_skip. Strings reaching gnuplot go
 * through fs_report_gp_str / fs_report_gp_set, data-file labels through fs_report_dat_str. */
#include <math.h>
#include <stdio.h>

#include "fs_report_int.h"

static const char no_energy[] = "no energy recorded in this database (runs without energy "
                                "accounting, or written before schema version 5)";

/* One data block per run with energy; a legend entry per group (replicates share it). */
static int energy_blocks(fs_report *r, const fs_report_plot *p, FILE *dat, FILE *gp,
                         size_t *out_blocks)
{
    static const char sql[] = "SELECT round, energy_j FROM rounds WHERE run_id = ?1"
                              " AND energy_j IS NOT NULL ORDER BY round";
    const char *what = "reading rounds";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    size_t blocks = 0;
    for (size_t g = 0; g < r->n_groups; g++) {
        for (size_t k = 0; k < r->groups[g].n_runs; k++) {
            const fs_report_run *run = &r->runs[r->groups[g].runs[k]];
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, run->run_id);
            int s, n = 0;
            while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
                if (n++ == 0) {
                    if (blocks) fputs("\n\n", dat);
                    fprintf(dat, "# index %zu: run_id %lld, ", blocks, (long long)run->run_id);
                    fs_report_dat_str(dat, run->label);
                    fputc('\n', dat);
                }
                fprintf(dat, "%d\t%.9g\n", sqlite3_column_int(st, 0), sqlite3_column_double(st, 1));
            }
            if (s < 0) {
                sqlite3_finalize(st);
                return FS_EDB;
            }
            if (!n) continue;
            fs_report_gp_clause(gp, blocks);
            fprintf(gp, "'%s.dat' index %zu using 1:2 with lines lw 1.5 lc %zu ", p->name, blocks,
                    g % 10 + 1);
            if (k == 0) {
                fputs("title ", gp);
                fs_report_gp_str(gp, run->label);
            } else {
                fputs("notitle", gp);
            }
            blocks++;
        }
    }
    sqlite3_finalize(st);
    if (blocks) fputc('\n', gp);
    *out_blocks = blocks;
    return FS_OK;
}

int fs_report_plot_energy_round(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    if (r->schema_version < 5) {
        fs_report_skip(p, no_energy);
        return FS_OK;
    }
    fputs("# round\tenergy spent on the devices in the round (J); one block per run\n", dat);
    fs_report_gp_set(gp, "title", "Energy spent on the devices per round (training, radio and"
                                  " cellular tail, all participations)");
    fs_report_gp_set(gp, "xlabel", "round");
    fs_report_gp_set(gp, "ylabel", "energy per round (J)");
    fputs("  set yrange [0:*]\n", gp);
    fs_report_gp_key(gp, fs_report_max_title(r));
    size_t blocks = 0;
    int rc = energy_blocks(r, p, dat, gp, &blocks);
    if (rc) return rc;
    if (!blocks) fs_report_skip(p, no_energy);
    p->has_data = blocks > 0;
    return FS_OK;
}

/* 1, 2 or 5 times a power of ten, at least x: readable bins. */
int fs_report_plot_energy_daily(fs_report *r, fs_report_plot *p, FILE *dat, FILE *gp)
{
    if (r->schema_version < 5) {
        fs_report_skip(p, no_energy);
        return FS_OK;
    }
    static const char sql[] = "SELECT run_id, client_id, day, energy_j / 3600.0 FROM"
                              " client_energy WHERE energy_j IS NOT NULL"
                              " ORDER BY run_id, client_id, day";
    const char *what = "reading client_energy";
    sqlite3_stmt *st;
    int rc = fs_report_prepare(r, sql, what, &st);
    if (rc) return rc;
    fputs("# run\tclient\tday\tenergy that day (Wh)\n", dat);
    double lo = INFINITY, hi = -INFINITY;
    size_t n = 0;
    int s;
    while ((s = fs_report_step(r, st, what)) == SQLITE_ROW) {
        double wh = sqlite3_column_double(st, 3);
        fprintf(dat, "%lld\t%lld\t%d\t%.9g\n", (long long)sqlite3_column_int64(st, 0),
                (long long)sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2), wh);
        lo = fmin(lo, wh), hi = fmax(hi, wh), n++;
    }
    sqlite3_finalize(st);
    if (s < 0) return FS_EDB;
    if (!n) {
        fs_report_skip(p, no_energy);
        return FS_OK;
    }
    char title[160];
    snprintf(title, sizeof title,
             "Distribution of per-device daily energy (all runs, %zu device-days with energy)", n);
    fs_report_gp_set(gp, "title", title);
    fs_report_gp_set(gp, "xlabel", "energy one device spent in one virtual day (Wh)");
    fs_report_gp_set(gp, "ylabel", "device-days");
    fs_report_gp_histogram(gp, p->name, 4, lo, hi, 1e-6, "#2ca02c", "Wh");
    p->has_data = true;
    return FS_OK;
}
