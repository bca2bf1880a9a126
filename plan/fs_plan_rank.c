/* fs_plan_rank: the answer of `fedsim plan` once every run's cost at its target round is known.
 * A variant is feasible when its replicates reach the target within the limits in at least
 * --min-reach of them, and its ε holds in every one (ε is a property of the configuration, not
 * luck). Feasible variants are ranked by mean cost over the replicates that reached; the
 * leader is then compared with each runner-up on the same replicates (paired differences: common
 * random numbers make replicate r of every variant see the same seeds), and among the leader and
 * the runners-up whose interval contains 0 the recommendation goes to the lowest ε, then the
 * fewest bytes. With one run per variant there is no spread to compare against: the ranking is
 * by cost (exact ties by ε, then bytes) and a warning says so. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fs_plan_int.h"

static const char *const by_names[N_BY] = {"hours", "bytes", "device-hours", "epsilon", "energy"};

/* ---- formatting */

const char *fs_plan_fmt_bytes(char *buf, size_t n, double b)
{
    static const char *const unit[] = {"kB", "MB", "GB", "TB"};
    if (b < 1000.0) {
        snprintf(buf, n, "%.0f B", b);
        return buf;
    }
    int u = 0;
    for (b /= 1000.0; b >= 1000.0 && u < 3; u++)
        b /= 1000.0;
    snprintf(buf, n, "%.1f %s", b, unit[u]);
    return buf;
}

/* Joules with an SI prefix (powers of 1000), as sizes are printed: "850 J", "1.2 kJ". */
static const char *fmt_joules(char *buf, size_t n, double j)
{
    static const char *const unit[] = {"kJ", "MJ", "GJ", "TJ"};
    if (fabs(j) < 1000.0) {
        snprintf(buf, n, "%.3g J", j);
        return buf;
    }
    int u = 0;
    for (j /= 1000.0; fabs(j) >= 1000.0 && u < 3; u++)
        j /= 1000.0;
    snprintf(buf, n, "%.3g %s", j, unit[u]);
    return buf;
}

/* v with `digits` decimals (fixed) or significant digits, plus as many more as it takes for
 * the printed number to differ from ref: never "reached 0.75 (best 0.75)" or "24.0 > 24". */
static const char *fmt_apart(char *buf, size_t n, double v, double ref, bool fixed, int digits)
{
    for (int d = digits; d < 12; d++) {
        snprintf(buf, n, fixed ? "%.*f" : "%.*g", d, v);
        if (v == ref || strtod(buf, NULL) != ref) break;
    }
    return buf;
}

/* One value of a cost dimension as the tables print it; "-" when not recorded. */
static const char *fmt_dim(char *buf, size_t n, enum plan_dim d, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else if (d == DIM_BYTES || d == DIM_PER_PART)
        fs_plan_fmt_bytes(buf, n, v);
    else if (d == DIM_HOURS)
        snprintf(buf, n, "%.2f", v);
    else if (d == DIM_EPS)
        snprintf(buf, n, "%.3g", v);
    else if (d == DIM_ENERGY || d == DIM_DAY_P95 || d == DIM_DAY_MAX)
        fmt_joules(buf, n, v);
    else if (d == DIM_DEVICE_H && v != 0 && fabs(v) < 0.1)
        snprintf(buf, n, "%.2g", v); /* sparse models train in device-seconds: not "0.0" */
    else
        snprintf(buf, n, "%.1f", v);
    return buf;
}

/* "mean ± half-width (n)"; "mean (1)" when one value has no spread; "-" when none. */
static const char *fmt_summary(char *buf, size_t n, enum plan_dim d, const fs_stats_summary *s)
{
    char m[32], h[32];
    if (s->n == 0 || isnan(s->mean))
        snprintf(buf, n, "-");
    else if (isnan(s->half_width))
        snprintf(buf, n, "%s (%zu)", fmt_dim(m, sizeof m, d, s->mean), s->n);
    else
        snprintf(buf, n, "%s ± %s (%zu)", fmt_dim(m, sizeof m, d, s->mean),
                 fmt_dim(h, sizeof h, d, s->half_width), s->n);
    return buf;
}

/* Columns on screen: UTF-8 continuation bytes ("±", "ε") take none. */
static int display_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void put_cell(FILE *out, const char *s, int width, bool left)
{
    int pad = width - display_width(s);
    if (!left)
        for (; pad > 0; pad--)
            fputc(' ', out);
    fputs(s, out);
    if (left)
        for (; pad > 0; pad--)
            fputc(' ', out);
}

static void add_reason(plan_var *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends one reason; several are joined with "; ". */
static void add_reason(plan_var *v, const char *fmt, ...)
{
    size_t used = strlen(v->reason);
    if (used && used + 2 < sizeof v->reason) {
        memcpy(v->reason + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->reason + used, sizeof v->reason - used, fmt, ap);
    va_end(ap);
}

/* ---- feasibility */

/* What one replicate broke; a replicate that reached and broke nothing is within the limits. */
typedef struct plan_fails {
    size_t miss, eps_none, eps, hours, bytes_none, bytes, energy_none, energy, bias_none, bias;
    double worst_eps, worst_hours, worst_bytes, worst_energy, worst_bias; /* largest over it */
    double worst_energy_max; /* the largest daily max among replicates over the energy limit */
} plan_fails;

static void count_fails(const plan_args *a, const plan_rep *r, plan_fails *f, size_t *n_ok)
{
    if (!r->reached) {
        f->miss++;
        return;
    }
    bool ok = true;
    double eps = r->cost[DIM_EPS], h = r->cost[DIM_HOURS], b = r->cost[DIM_PER_PART];
    if (!isnan(a->max_eps) && isnan(eps))
        f->eps_none++, ok = false;
    else if (eps > a->max_eps)
        f->eps++, ok = false, f->worst_eps = fmax(f->worst_eps, eps);
    if (h > a->max_hours) f->hours++, ok = false, f->worst_hours = fmax(f->worst_hours, h);
    if (!isnan(a->max_bytes) && isnan(b))
        f->bytes_none++, ok = false;
    else if (b > a->max_bytes)
        f->bytes++, ok = false, f->worst_bytes = fmax(f->worst_bytes, b);
    double e = r->cost[DIM_DAY_P95];
    if (!isnan(a->max_energy) && isnan(e))
        f->energy_none++, ok = false;
    else if (e > a->max_energy)
        f->energy++, ok = false, f->worst_energy = fmax(f->worst_energy, e),
            f->worst_energy_max = fmax(f->worst_energy_max, r->cost[DIM_DAY_MAX]);
    double tvd = r->cost[DIM_BIAS];
    if (!isnan(a->max_bias) && isnan(tvd))
        f->bias_none++, ok = false;
    else if (tvd > a->max_bias)
        f->bias++, ok = false, f->worst_bias = fmax(f->worst_bias, tvd);
    *n_ok += ok;
}

/* Why no replicate reached: the best value over the replicates, or what was evaluated instead. */
static void explain_miss(const plan_args *a, plan_var *v)
{
    const plan_rep *best = NULL;
    for (size_t i = 0; i < v->n_reps; i++)
        if (!isnan(v->reps[i].best) &&
            (!best || (a->lower ? v->reps[i].best < best->best : v->reps[i].best > best->best)))
            best = &v->reps[i];
    char b[32], in[48] = "";
    if (v->n_reps > 1) snprintf(in, sizeof in, " in %zu replicates", v->n_reps);
    if (best)
        add_reason(v, "never reached %s %g%s (best %s after %d rounds)", a->metric, a->target, in,
                   fmt_apart(b, sizeof b, best->best, a->target, false, 3), best->n_rounds);
    else
        add_reason(v, "%s never evaluated on the whole test set (evaluated: %s)", a->metric,
                   v->reps[0].evaluated);
}

/* "in 2 of 10 replicates" for replicated variants, nothing for a single run. */
static const char *in_reps(char *buf, size_t n, size_t k, size_t of)
{
    if (of > 1)
        snprintf(buf, n, " in %zu of %zu replicates", k, of);
    else
        buf[0] = '\0';
    return buf;
}

static void limit_reasons(const plan_args *a, plan_var *v, const plan_fails *f)
{
    char x[32], y[32], in[64];
    size_t n = v->n_reps;
    if (f->eps_none)
        add_reason(v, "no ε recorded (differential privacy off), --max-epsilon %g", a->max_eps);
    if (f->eps) /* ε must hold in every replicate */
        add_reason(v, "ε %s > %g%s", fmt_apart(x, sizeof x, f->worst_eps, a->max_eps, false, 3),
                   a->max_eps, in_reps(in, sizeof in, f->eps, n));
    size_t needed = (size_t)ceil(a->min_reach * (double)n - 1e-9);
    /* a replicated variant out on ε needs no share of the other limits */
    if (v->n_ok >= needed || (n > 1 && (f->eps || f->eps_none))) return;
    if (n > 1)
        add_reason(v, "within the limits in %zu of %zu replicates, --min-reach %g needs %zu",
                   v->n_ok, n, a->min_reach, needed);
    if (f->miss && n > 1)
        add_reason(v, "never reached %s %g in %zu", a->metric, a->target, f->miss);
    if (f->hours)
        add_reason(v, "%s virtual hours > %g%s",
                   fmt_apart(x, sizeof x, f->worst_hours, a->max_hours, true, 1), a->max_hours,
                   in_reps(in, sizeof in, f->hours, n));
    if (f->bytes_none)
        add_reason(v, "bytes per participation unknown (no client selected)%s",
                   in_reps(in, sizeof in, f->bytes_none, n));
    if (f->bytes)
        add_reason(v, "%s per participation > %s%s", fs_plan_fmt_bytes(x, sizeof x, f->worst_bytes),
                   fs_plan_fmt_bytes(y, sizeof y, a->max_bytes),
                   in_reps(in, sizeof in, f->bytes, n));
    if (f->energy_none)
        add_reason(v, "no per-device energy recorded, --max-energy-per-device %g%s",
                   a->max_energy, in_reps(in, sizeof in, f->energy_none, n));
    if (f->energy)
        add_reason(v, "%s per device per day (p95; max %s) > %g J%s",
                   fmt_joules(x, sizeof x, f->worst_energy),
                   fmt_joules(y, sizeof y, f->worst_energy_max), a->max_energy,
                   in_reps(in, sizeof in, f->energy, n));
    if (f->bias_none)
        add_reason(v, "no selection bias recorded (no eval.segments, or written before schema "
                      "version 6), --max-bias %g%s",
                   a->max_bias, in_reps(in, sizeof in, f->bias_none, n));
    if (f->bias)
        add_reason(v, "reported mix TVD %s > %g%s",
                   fmt_apart(x, sizeof x, f->worst_bias, a->max_bias, false, 3), a->max_bias,
                   in_reps(in, sizeof in, f->bias, n));
}

static void judge(const plan_args *a, plan_var *v)
{
    size_t n_unfinished = 0;
    const char *status = NULL;
    for (size_t i = 0; i < v->n_reps; i++)
        if (strcmp(v->reps[i].status, "done") != 0) {
            n_unfinished++;
            if (!status) status = v->reps[i].status;
        }
    if (n_unfinished) {
        if (v->n_reps == 1)
            add_reason(v, "not finished (status %s)", status);
        else
            add_reason(v, "not finished (status %s in %zu of %zu replicates)", status, n_unfinished,
                       v->n_reps);
        return;
    }
    plan_fails f = {.worst_eps = -INFINITY,
                    .worst_hours = -INFINITY,
                    .worst_bytes = -INFINITY,
                    .worst_energy = -INFINITY,
                    .worst_energy_max = -INFINITY};
    v->n_ok = 0;
    for (size_t i = 0; i < v->n_reps; i++)
        count_fails(a, &v->reps[i], &f, &v->n_ok);
    if (f.miss == v->n_reps)
        explain_miss(a, v);
    else
        limit_reasons(a, v, &f);
}

/* Summaries over the replicates that reached (costs) and over all of them (per-round rates). */
static int summarize(plan_var *v)
{
    double *x = malloc((v->n_reps ? v->n_reps : 1) * sizeof *x);
    if (!x) return -1;
    for (int d = 0; d < N_DIM; d++) {
        for (size_t i = 0; i < v->n_reps; i++)
            x[i] = v->reps[i].cost[d];
        v->sum[d] = fs_stats_summarize(x, v->n_reps);
    }
    for (int k = 0; k < N_RATE; k++) {
        for (size_t i = 0; i < v->n_reps; i++)
            x[i] = v->reps[i].rate[k];
        v->rate[k] = fs_stats_summarize(x, v->n_reps).mean;
    }
    free(x);
    return 0;
}

/* ---- ranking */

/* A mean cost for ordering: not recorded ranks last (no DP counts as ε = inf: no guarantee). */
static double key(const plan_var *v, enum plan_dim d)
{
    double m = v->sum[d].n ? v->sum[d].mean : NAN;
    return isnan(m) ? INFINITY : m;
}

static int cmp_dbl(double x, double y)
{
    return x < y ? -1 : x > y;
}

/* Cheapest first; exact ties by ε, then bytes, then hours, then run order (stable output). */
static int cmp_feasible(const void *pa, const void *pb)
{
    const plan_var *x = pa, *y = pb;
    static const enum plan_dim then[] = {DIM_EPS, DIM_BYTES, DIM_HOURS};
    int c = cmp_dbl(x->by_key, y->by_key);
    for (size_t i = 0; !c && i < sizeof then / sizeof *then; i++)
        c = cmp_dbl(key(x, then[i]), key(y, then[i]));
    return c ? c : cmp_dbl((double)x->first_run, (double)y->first_run);
}

static int cmp_order(const void *pa, const void *pb)
{
    const plan_var *x = pa, *y = pb;
    return cmp_dbl((double)x->first_run, (double)y->first_run);
}

/* Moves the feasible variants to the front, ranked, the rest after them in run order; returns
 * how many are feasible. */
static size_t rank_feasible(plan_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_vars; i++) {
        if (c->vars[i].reason[0]) continue;
        plan_var t = c->vars[n];
        c->vars[n++] = c->vars[i];
        c->vars[i] = t;
    }
    for (size_t i = 0; i < n; i++)
        c->vars[i].by_key = key(&c->vars[i], (enum plan_dim)c->a->by);
    if (n > 1) qsort(c->vars, n, sizeof *c->vars, cmp_feasible);
    if (c->n_vars - n > 1) qsort(c->vars + n, c->n_vars - n, sizeof *c->vars, cmp_order);
    return n;
}

/* The --by cost of each replicate, indexed by replicate (NAN where it did not reach). */
static void by_replicate(const plan_ctx *c, const plan_var *v, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
    for (size_t i = 0; i < v->n_reps; i++) {
        size_t r = v->reps[i].replicate > 0 ? (size_t)v->reps[i].replicate - 1 : 0;
        if (r < n) x[r] = v->reps[i].cost[c->a->by];
    }
}

/* Paired difference x - y of the --by cost on the replicates both reached; buf holds 2n. */
static fs_stats_summary paired(const plan_ctx *c, const plan_var *x, const plan_var *y, double *buf,
                               size_t n)
{
    by_replicate(c, x, buf, n);
    by_replicate(c, y, buf + n, n);
    return fs_stats_paired(buf, buf + n, n);
}

/* Lower ε, then fewer bytes: what settles costs that cannot be told apart. */
static bool settles_better(const plan_var *x, const plan_var *y)
{
    int e = cmp_dbl(key(x, DIM_EPS), key(y, DIM_EPS));
    return e < 0 || (e == 0 && key(x, DIM_BYTES) < key(y, DIM_BYTES));
}

/* Among the leader and the runners-up indistinguishable from it, the one settles_better picks
 * moves to the front; returns its rank before the move (0: the leader stays). */
static size_t settle(plan_ctx *c, size_t n_feasible, double *buf, size_t n)
{
    size_t pick = 0;
    for (size_t i = 1; i < n_feasible; i++) {
        fs_stats_summary d = paired(c, &c->vars[i], &c->vars[0], buf, n);
        if (fs_stats_indistinguishable(&d) && settles_better(&c->vars[i], &c->vars[pick])) pick = i;
    }
    if (pick) {
        plan_var t = c->vars[pick];
        memmove(c->vars + 1, c->vars, pick * sizeof *c->vars);
        c->vars[0] = t;
    }
    return pick;
}

/* ---- output */

static const char *const by_question[N_BY] = {
    "in the fewest virtual hours", "with the fewest bytes transferred",
    "with the fewest device hours", "at the lowest ε", "with the least energy"};

static const char *const dim_names[N_DIM] = {
    "virtual hours", "bytes", "device hours", "ε", "energy", "rounds", "bytes per participation",
    "energy per device per day (p95)", "energy per device per day (max)",
    "selection bias (TVD)"};

static bool replicated(const plan_ctx *c)
{
    for (size_t i = 0; i < c->n_vars; i++)
        if (c->vars[i].n_reps > 1) return true;
    return false;
}

static void print_question(const plan_ctx *c, bool reps)
{
    const plan_args *a = c->a;
    FILE *out = c->out;
    char lim[5][64], b[32];
    int n = 0;
    if (!isnan(a->max_eps)) snprintf(lim[n++], sizeof lim[0], "ε <= %g", a->max_eps);
    if (!isnan(a->max_hours))
        snprintf(lim[n++], sizeof lim[0], "at most %g virtual hours", a->max_hours);
    if (!isnan(a->max_bytes))
        snprintf(lim[n++], sizeof lim[0], "at most %s per participation",
                 fs_plan_fmt_bytes(b, sizeof b, a->max_bytes));
    if (!isnan(a->max_energy))
        snprintf(lim[n++], sizeof lim[0], "at most %g J per device per day", a->max_energy);
    if (!isnan(a->max_bias))
        snprintf(lim[n++], sizeof lim[0], "reports within TVD %g of the population",
                 a->max_bias);
    fprintf(out, "question: which variant reaches %s %s %g", a->metric,
            a->lower ? "<=" : ">=", a->target);
    if (c->sustain_shown > 1)
        fprintf(out, " for %d evaluations in a row", c->sustain_shown);
    else if (c->sustain_shown == 0 && c->n_vars)
        fprintf(out, " (held as long as each run's eval.target.sustain asks)");
    fprintf(out, " %s", by_question[a->by]);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%s", i == 0 ? ", with " : i == n - 1 ? " and " : ", ", lim[i]);
    if (!reps) {
        fprintf(out, "?\nresults:  %s (%zu variant%s, latest run of each)\n", a->db, c->n_vars,
                c->n_vars == 1 ? "" : "s");
        return;
    }
    fprintf(out,
            "?\nresults:  %s (%zu variant%s, up to %d replicates, latest run of each variant"
            " and replicate)\n",
            a->db, c->n_vars, c->n_vars == 1 ? "" : "s", c->max_replicate);
    fprintf(out,
            "feasible: within the limits in at least %g%% of its replicates (--min-reach %g),"
            " ε in all; costs: mean ± 95%% half-width (replicates that reached)\n",
            100.0 * a->min_reach, a->min_reach);
}

static int label_width(const plan_ctx *c)
{
    int w = display_width("variant");
    for (size_t i = 0; i < c->n_vars; i++)
        if (display_width(c->vars[i].label) > w) w = display_width(c->vars[i].label);
    return w;
}

/* One run per variant: the table as it always was, plus energy when asked about. */
static void print_single_row(const plan_ctx *c, const plan_var *v, bool first, int w)
{
    const plan_rep *r = &v->reps[0];
    char up[32], down[32], dev[32] = "-", eps[32] = "-", pp[32];
    if (!isnan(r->cost[DIM_DEVICE_H]))
        fmt_dim(dev, sizeof dev, DIM_DEVICE_H, r->cost[DIM_DEVICE_H]);
    if (!isnan(r->cost[DIM_EPS])) snprintf(eps, sizeof eps, "%.3g", r->cost[DIM_EPS]);
    fprintf(c->out, "%s ", first ? "*" : " ");
    put_cell(c->out, v->label, w, true);
    fprintf(c->out, "  %6d  %9.2f  %10s  %10s  %8s  %6s", (int)r->cost[DIM_ROUNDS],
            r->cost[DIM_HOURS], fs_plan_fmt_bytes(up, sizeof up, (double)r->bytes_up),
            fs_plan_fmt_bytes(down, sizeof down, (double)r->bytes_down), dev, eps);
    if (!isnan(c->a->max_bytes))
        fprintf(c->out, "  %14s", fs_plan_fmt_bytes(pp, sizeof pp, r->cost[DIM_PER_PART]));
    if (plan_shows_energy(c->a))
        fprintf(c->out, "  %9s  %12s", fmt_dim(pp, sizeof pp, DIM_ENERGY, r->cost[DIM_ENERGY]),
                fmt_dim(dev, sizeof dev, DIM_DAY_P95, r->cost[DIM_DAY_P95]));
    fprintf(c->out, "\n");
}

static void print_single_table(const plan_ctx *c, size_t n_feasible)
{
    int w = label_width(c);
    fprintf(c->out, "\n  ");
    put_cell(c->out, "variant", w, true);
    /* "ε" is two bytes wide for printf but one column on screen */
    fprintf(c->out, "  %6s  %9s  %10s  %10s  %8s  %7s", "rounds", "virtual h", "bytes up",
            "bytes down", "device h", "ε");
    if (!isnan(c->a->max_bytes)) fprintf(c->out, "  %14s", "per particip.");
    if (plan_shows_energy(c->a)) fprintf(c->out, "  %9s  %12s", "energy", "J/device/day");
    fprintf(c->out, "\n");
    for (size_t i = 0; i < n_feasible; i++)
        print_single_row(c, &c->vars[i], i == 0, w);
}

/* Replicated variants: every cost as mean ± half-width (n). Columns are as wide as their
 * widest cell. */
enum {
    COL_REACHED, COL_ROUNDS, COL_HOURS, COL_BYTES, COL_DEVICE_H, COL_EPS, COL_PER_PART, COL_ENERGY,
    COL_DAY_P95, N_COL
};

typedef char plan_cells[N_COL][96];

static void fill_cells(const plan_var *v, plan_cells cell)
{
    snprintf(cell[COL_REACHED], sizeof cell[0], "%zu/%zu", v->n_ok, v->n_reps);
    fmt_dim(cell[COL_ROUNDS], sizeof cell[0], DIM_ROUNDS, v->sum[DIM_ROUNDS].mean);
    static const enum plan_dim dims[] = {DIM_HOURS, DIM_BYTES,    DIM_DEVICE_H, DIM_EPS,
                                         DIM_PER_PART, DIM_ENERGY, DIM_DAY_P95};
    for (int k = 0; k < 7; k++)
        fmt_summary(cell[COL_HOURS + k], sizeof cell[0], dims[k], &v->sum[dims[k]]);
}

/* cells: room for n_feasible rows */
static void print_rep_table(const plan_ctx *c, size_t n_feasible, plan_cells *cells)
{
    static const char *const head[N_COL] = {"reached", "rounds",        "virtual h", "bytes",
                                            "device h", "ε",            "per particip.",
                                            "energy",  "J/device/day"};
    int width[N_COL];
    for (int k = 0; k < N_COL; k++)
        width[k] = display_width(head[k]);
    for (size_t i = 0; i < n_feasible; i++) {
        fill_cells(&c->vars[i], cells[i]);
        for (int k = 0; k < N_COL; k++)
            if (display_width(cells[i][k]) > width[k]) width[k] = display_width(cells[i][k]);
    }
    int w = label_width(c);
    bool on[N_COL];
    for (int k = 0; k < N_COL; k++)
        on[k] = k < COL_PER_PART || (k == COL_PER_PART && !isnan(c->a->max_bytes)) ||
                (k > COL_PER_PART && plan_shows_energy(c->a));
    fprintf(c->out, "\n  ");
    put_cell(c->out, "variant", w, true);
    for (int k = 0; k < N_COL; k++) {
        if (!on[k]) continue;
        fputs("  ", c->out);
        put_cell(c->out, head[k], width[k], false);
    }
    for (size_t i = 0; i < n_feasible; i++) {
        fprintf(c->out, "\n%s ", i == 0 ? "*" : " ");
        put_cell(c->out, c->vars[i].label, w, true);
        for (int k = 0; k < N_COL; k++) {
            if (!on[k]) continue;
            fputs("  ", c->out);
            put_cell(c->out, cells[i][k], width[k], false);
        }
    }
    fputc('\n', c->out);
}

/* The first of ε, bytes, device hours, rounds (not the --by cost itself) in which two variants
 * differ; -1 when none does. */
static int decider(const plan_ctx *c, const plan_var *x, const plan_var *y)
{
    static const enum plan_dim order[] = {DIM_EPS, DIM_BYTES, DIM_DEVICE_H, DIM_ROUNDS};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if ((int)order[i] != (int)c->a->by && key(x, order[i]) != key(y, order[i]))
            return (int)order[i];
    return -1;
}

/* A signed difference in the --by cost's unit. */
static const char *fmt_diff(char *buf, size_t n, enum plan_dim d, double v)
{
    char m[32];
    snprintf(buf, n, "%s%s", v < 0 ? "-" : "+", fmt_dim(m, sizeof m, d, fabs(v)));
    return buf;
}

/* Each runner-up against the recommendation, replicate by replicate. */
static void print_paired(const plan_ctx *c, size_t n_feasible, double *buf, size_t n)
{
    const plan_var *rec = &c->vars[0];
    enum plan_dim d = (enum plan_dim)c->a->by;
    int w = label_width(c);
    fprintf(c->out,
            "\ncompared with %s on the same replicates (difference in %s, mean ± 95%%"
            " half-width (pairs)):\n",
            rec->label, dim_names[d]);
    for (size_t i = 1; i < n_feasible; i++) {
        const plan_var *v = &c->vars[i];
        fs_stats_summary s = paired(c, v, rec, buf, n);
        char m[48], h[32], x[32], y[32];
        fputs("  ", c->out);
        put_cell(c->out, v->label, w, true);
        if (s.n == 0)
            fprintf(c->out, "  no replicate reached by both");
        else if (isnan(s.half_width))
            fprintf(c->out, "  %s (%zu)", fmt_diff(m, sizeof m, d, s.mean), s.n);
        else
            fprintf(c->out, "  %s ± %s (%zu)", fmt_diff(m, sizeof m, d, s.mean),
                    fmt_dim(h, sizeof h, d, s.half_width), s.n);
        if (fs_stats_indistinguishable(&s)) {
            int e = decider(c, v, rec);
            fprintf(c->out, "  indistinguishable");
            if (e < 0)
                fprintf(c->out, "; nothing else tells them apart");
            else
                fprintf(c->out, "; %s decide%s: %s vs %s", dim_names[e], e == DIM_EPS ? "s" : "",
                        fmt_dim(x, sizeof x, (enum plan_dim)e, v->sum[e].mean),
                        fmt_dim(y, sizeof y, (enum plan_dim)e, rec->sum[e].mean));
        }
        fputc('\n', c->out);
    }
}

/* "in 3.0 virtual hours", "with 1.2 kB transferred", ...; m is the printed cost. */
static void cost_phrase(char *buf, size_t n, enum plan_by by, const char *m)
{
    if (by == BY_BYTES)
        snprintf(buf, n, "with %s transferred", m);
    else if (by == BY_DEVICE_H)
        snprintf(buf, n, "with %s device hours", m);
    else if (by == BY_EPSILON)
        snprintf(buf, n, "at ε %s", m);
    else if (by == BY_ENERGY)
        snprintf(buf, n, "with %s of energy", m);
    else
        snprintf(buf, n, "in %s virtual hours", m);
}

static void print_recommendation(const plan_ctx *c, size_t n_feasible, size_t settled, bool reps)
{
    const plan_args *a = c->a;
    const plan_var *v = &c->vars[0];
    const plan_rep *r = &v->reps[0];
    char cost[128], m[80], h[32];
    enum plan_by by = a->by;
    if (!reps) {
        /* a cost that was not recorded reads as the hours, as it always did */
        double x = r->cost[by];
        if (isnan(x)) by = BY_HOURS, x = r->cost[DIM_HOURS];
        if (by == BY_BYTES || by == BY_ENERGY)
            fmt_dim(m, sizeof m, (enum plan_dim)by, x);
        else
            snprintf(m, sizeof m, by == BY_EPSILON ? "%.3g" : "%.1f", x);
    } else if (isnan(v->sum[by].half_width)) {
        fmt_dim(m, sizeof m, (enum plan_dim)by, v->sum[by].mean);
    } else {
        char mm[32];
        snprintf(m, sizeof m, "%s ± %s", fmt_dim(mm, sizeof mm, (enum plan_dim)by, v->sum[by].mean),
                 fmt_dim(h, sizeof h, (enum plan_dim)by, v->sum[by].half_width));
    }
    cost_phrase(cost, sizeof cost, by, m);
    fprintf(c->out, "\n* recommended: %s: reaches %s %g %s", v->label, a->metric, a->target, cost);
    if (reps) fprintf(c->out, " (%zu of %zu replicates)", v->n_ok, v->n_reps);
    fputs(", ", c->out);
    const char *most = a->by == BY_EPSILON ? "lowest" : a->by == BY_ENERGY ? "least" : "fewest";
    if (n_feasible == 1)
        fprintf(c->out, "the only feasible variant\n");
    else if (isinf(key(v, (enum plan_dim)a->by))) /* nobody recorded the --by cost */
        fprintf(c->out, "%s not recorded; first of %zu feasible variants\n", by_names[a->by],
                n_feasible);
    else if (settled)
        fprintf(c->out, "indistinguishable from the %s of %zu feasible variants (%s) and %s\n",
                most, n_feasible, c->vars[1].label,
                key(v, DIM_EPS) < key(&c->vars[1], DIM_EPS) ? "at a lower ε" : "with fewer bytes");
    else if (key(v, (enum plan_dim)a->by) == key(&c->vars[1], (enum plan_dim)a->by) &&
             settles_better(v, &c->vars[1])) /* an exact tie, which ε or bytes broke */
        fprintf(c->out, "the %s of %zu feasible variants, tied with %s and %s\n", most,
                n_feasible, c->vars[1].label,
                key(v, DIM_EPS) < key(&c->vars[1], DIM_EPS) ? "at a lower ε" : "with fewer bytes");
    else
        fprintf(c->out, "the %s of %zu feasible variants\n", most, n_feasible);
}

/* The target is checked every eval.every_rounds rounds, so a time (or traffic) to target is
 * known only to within one evaluation interval: a smaller lead is not a finding. */
static void warn_interval(const plan_ctx *c)
{
    const plan_var *x = &c->vars[0], *y = &c->vars[1];
    enum plan_dim d = (enum plan_dim)c->a->by;
    /* ε is computed, not sampled at evaluations; energy per round is not read (no rate) */
    if (d == DIM_EPS || d == DIM_ENERGY) return;
    double gap = fabs(key(x, d) - key(y, d));
    const plan_var *wide = x;
    double step = x->every_rounds * x->rate[d];
    if (!(step >= y->every_rounds * y->rate[d])) wide = y, step = y->every_rounds * y->rate[d];
    if (!isfinite(gap) || !(step > 0) || gap >= step) return;
    char g[32], s[32], p[32];
    static const char *const unit[] = {" virtual hours", "", " device hours"};
    fprintf(c->out,
            "warning: %s and %s differ by %s%s, less than one evaluation interval"
            " (eval.every_rounds %d × %s%s per round = %s%s)\n",
            x->label, y->label, fmt_dim(g, sizeof g, d, gap), unit[d], wide->every_rounds,
            fmt_dim(p, sizeof p, d, wide->rate[d]), unit[d], fmt_dim(s, sizeof s, d, step),
            unit[d]);
}

static void print_excluded(const plan_ctx *c, size_t n_feasible)
{
    int w = label_width(c);
    if (n_feasible < c->n_vars) fprintf(c->out, "\nexcluded:\n");
    for (size_t i = n_feasible; i < c->n_vars; i++) {
        fputs("  ", c->out);
        put_cell(c->out, c->vars[i].label, w, true);
        fprintf(c->out, "  %s\n", c->vars[i].reason);
    }
    if (c->n_superseded)
        fprintf(c->out, "\n(%d older run%s of the same variants ignored)\n", c->n_superseded,
                c->n_superseded == 1 ? "" : "s");
}

static void answer(plan_ctx *c, size_t n, bool reps, double *buf, size_t n_buf, plan_cells *cells)
{
    size_t settled = reps ? settle(c, n, buf, n_buf) : 0;
    if (!reps)
        print_single_table(c, n);
    else
        print_rep_table(c, n, cells);
    if (reps && n > 1) print_paired(c, n, buf, n_buf);
    print_recommendation(c, n, settled, reps);
    if (n > 1 && !reps)
        fprintf(c->out,
                "warning: one run per variant: differences smaller than the seed-to-seed"
                " spread cannot be detected; give the sweep \"replications\": {\"count\": 5}"
                " (sweep.replications) to measure it\n");
    if (n > 1) warn_interval(c);
}

int fs_plan_rank_report(plan_ctx *c, FILE *err_out)
{
    /* everything allocated before the first line is printed: no half answer on stdout */
    size_t n_buf = c->max_replicate > 0 ? (size_t)c->max_replicate : 1;
    double *buf = malloc(2 * n_buf * sizeof *buf);
    plan_cells *cells = malloc((c->n_vars ? c->n_vars : 1) * sizeof *cells);
    bool oom = !buf || !cells;
    for (size_t i = 0; i < c->n_vars && !oom; i++) {
        judge(c->a, &c->vars[i]);
        oom = summarize(&c->vars[i]) != 0;
    }
    if (oom) {
        free(buf);
        free(cells);
        fprintf(err_out, "fedsim: error: %s: planning: out of memory\n", c->a->db);
        return 71;
    }
    bool reps = replicated(c);
    print_question(c, reps);
    size_t n = rank_feasible(c);
    if (c->n_vars == 0)
        fprintf(c->out, "\nno runs in %s\n", c->a->db);
    else if (n == 0)
        fprintf(c->out, "\nno variant reaches %s %g within the constraints\n", c->a->metric,
                c->a->target);
    else
        answer(c, n, reps, buf, n_buf, cells);
    print_excluded(c, n);
    free(buf);
    free(cells);
    return n ? 0 : 1;
}
