/* fedsim-dumpcmp: compares two fedsim-dbdump outputs field by field, for the golden tests.
 *     fedsim-dumpcmp [--rel R] [--abs A] [--ignore TABLE.COL]... [--stats] EXPECTED ACTUAL
 * The dumps must have the same lines, tables and columns in the same order, except that a row of
 * ACTUAL may end in NULL columns EXPECTED lacks (columns the schema gained since). Table names,
 * column names, integers, text, NULL and blob hashes compare exactly. Floats (values the dump
 * writes with a '.' or an exponent, in both files) compare within a tolerance:
 *     |e - a| <= A + R * max(|e|, |a|)      (defaults R = 1e-6, A = 1e-12)
 * because the last bits of BLAS results depend on the kernels OpenBLAS picks for the CPU at
 * hand, and those bits travel through the rounds (tests/golden/README has the measurements).
 * Identity tests (threads, resume) must not use this tool: they diff dumps exactly.
 * --ignore skips a column wherever it appears in a table (e.g. runs.scenario_json, whose hash
 * changes whenever the schema gains a key). --stats prints the largest relative float difference.
 * Exit 0 when equal within the tolerance, 1 when not (the first differences are listed), 2 on
 * bad usage, 3 when a file cannot be read. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_dump_col.h"

#define MAX_IGNORED 16
#define MAX_REPORTED 20

typedef struct cmp_opts {
    double rel, abs;
    const char *ignored[MAX_IGNORED];
    int n_ignored;
    bool stats;
} cmp_opts;

typedef struct cmp_state {
    long line;
    long n_diff;
    double max_rel;      /* largest relative float difference seen */
    char max_where[200]; /* where it was */
} cmp_state;

/* Cuts one '|'-separated field at *s (the dump escapes '|' in text as "\|"), returns it and
 * moves *s past it; NULL at the end of the line. */
static char *next_field(char **s)
{
    if (!*s) return NULL;
    char *f = *s, *p = f;
    while (*p && *p != '|') p += (p[0] == '\\' && p[1]) ? 2 : 1;
    *s = *p ? p + 1 : NULL;
    *p = '\0';
    return f;
}

/* A float as fedsim-dbdump writes it: a whole strtod parse with '.', 'e' or inf in it. */
static bool as_real(const char *v, double *out)
{
    if (!strpbrk(v, ".einf")) return false;
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    return end != v && *end == '\0' && errno == 0;
}

static bool ignored(const cmp_opts *o, const char *table, const char *col)
{
    for (int i = 0; i < o->n_ignored; i++)
        if (fs_dump_col_is(o->ignored[i], table, col)) return true;
    return false;
}

static void differ(cmp_state *st, const char *what, const char *e, const char *a)
{
    if (st->n_diff++ < MAX_REPORTED)
        printf("line %ld: %s: expected %s, found %s\n", st->line, what, e, a);
}

/* One "col=value" pair of each file; col names must agree. */
static void cmp_field(const cmp_opts *o, cmp_state *st, const char *table, char *fe, char *fa)
{
    char *ve = strchr(fe, '='), *va = strchr(fa, '=');
    if (!ve || !va || ve - fe != va - fa || strncmp(fe, fa, (size_t)(ve - fe)) != 0) {
        differ(st, table, fe, fa);
        return;
    }
    *ve++ = '\0';
    va++;
    if (ignored(o, table, fe)) return;
    char what[160];
    snprintf(what, sizeof what, "%s.%s", table, fe);
    double e, a;
    if (!as_real(ve, &e) || !as_real(va, &a)) {
        if (strcmp(ve, va) != 0) differ(st, what, ve, va);
        return;
    }
    if (e == a) return; /* infinities too */
    double diff = fabs(e - a), scale = fmax(fabs(e), fabs(a));
    double rel = scale > 0 ? diff / scale : 0;
    if (!(rel <= st->max_rel)) {
        st->max_rel = rel;
        snprintf(st->max_where, sizeof st->max_where, "line %ld, %s", st->line, what);
    }
    if (!(diff <= o->abs + o->rel * scale)) {
        char found[80];
        snprintf(found, sizeof found, "%s (relative difference %.3g)", va, rel);
        differ(st, what, ve, found);
    }
}

/* fa and the fields left in rest are all "col=NULL". */
static bool trailing_nulls(const char *fa, char *rest)
{
    for (const char *f = fa; f; f = next_field(&rest)) {
        const char *v = strchr(f, '=');
        if (!v || strcmp(v, "=NULL") != 0) return false;
    }
    return true;
}

static void cmp_line(const cmp_opts *o, cmp_state *st, char *le, char *la)
{
    char *te = next_field(&le), *ta = next_field(&la);
    if (strcmp(te, ta) != 0) {
        differ(st, "table", te, ta);
        return;
    }
    for (;;) {
        char *fe = next_field(&le), *fa = next_field(&la);
        if (!fe && !fa) return;
        /* a trailing NULL column the expected dump lacks: a column the schema gained since,
         * unused by this run (what golden files must tolerate without regeneration) */
        if (!fe && trailing_nulls(fa, la)) return;
        if (!fe || !fa) {
            differ(st, te, fe ? fe : "end of row", fa ? fa : "end of row");
            return;
        }
        cmp_field(o, st, te, fe, fa);
    }
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') s[n - 1] = '\0';
}

static int cmp_files(const cmp_opts *o, const char *pe, const char *pa, cmp_state *st)
{
    FILE *fe = fopen(pe, "r"), *fa = fopen(pa, "r");
    if (!fe || !fa) {
        fprintf(stderr, "fedsim-dumpcmp: error: %s: %s\n", fe ? pa : pe, strerror(errno));
        if (fe) fclose(fe);
        if (fa) fclose(fa);
        return 3;
    }
    char *le = NULL, *la = NULL;
    size_t ne = 0, na = 0;
    for (;;) {
        ssize_t re = getline(&le, &ne, fe), ra = getline(&la, &na, fa);
        st->line++;
        if (re < 0 || ra < 0) {
            if (re >= 0 || ra >= 0)
                differ(st, "lines", re >= 0 ? "more lines" : "the end of the dump",
                       ra >= 0 ? "more lines" : "the end of the dump");
            break;
        }
        chomp(le);
        chomp(la);
        cmp_line(o, st, le, la);
    }
    int bad = ferror(fe) || ferror(fa);
    free(le);
    free(la);
    fclose(fe);
    fclose(fa);
    if (bad) {
        fprintf(stderr, "fedsim-dumpcmp: error: reading %s or %s failed\n", pe, pa);
        return 3;
    }
    return st->n_diff ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: fedsim-dumpcmp [--rel R] [--abs A] [--ignore TABLE.COL]... [--stats]"
                    " EXPECTED ACTUAL\n");
    return 2;
}

static bool parse_tol(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && *out >= 0 && isfinite(*out);
}

int main(int argc, char **argv)
{
    cmp_opts o = {.rel = 1e-6, .abs = 1e-12};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--stats") == 0) {
            o.stats = true;
            continue;
        }
        if (i + 1 >= argc) return usage();
        const char *arg = argv[++i];
        if (strcmp(opt, "--rel") == 0) {
            if (!parse_tol(arg, &o.rel)) return usage();
        } else if (strcmp(opt, "--abs") == 0) {
            if (!parse_tol(arg, &o.abs)) return usage();
        } else if (strcmp(opt, "--ignore") == 0 && o.n_ignored < MAX_IGNORED) {
            o.ignored[o.n_ignored++] = arg;
        } else {
            return usage();
        }
    }
    if (argc - i != 2) return usage();
    cmp_state st = {0};
    int rc = cmp_files(&o, argv[i], argv[i + 1], &st);
    if (rc == 3) return rc;
    if (st.n_diff > MAX_REPORTED) printf("... %ld differences in all\n", st.n_diff);
    if (o.stats || rc)
        printf("largest relative float difference: %.3g%s%s (tolerance %g relative, %g"
               " absolute)\n",
               st.max_rel, *st.max_where ? " at " : "", st.max_where, o.rel, o.abs);
    return rc;
}
