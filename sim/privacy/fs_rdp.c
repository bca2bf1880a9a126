/* fs_rdp: RDP of the sampled Gaussian mechanism and its conversion to (epsilon, delta), after
 * Mironov, Talwar & Zhang 2019 ("Rényi Differential Privacy of the Sampled Gaussian Mechanism")
 * and TF Privacy's rdp_accountant. Everything runs in log space: A_alpha overflows a double as
 * soon as (alpha^2 - alpha) / (2 sigma^2) passes ~709, which sigma = 0.3 reaches at order 12. */
#include "fs_rdp.h"

#include <errno.h>
#include <gsl/gsl_sf_erf.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fractional series stops once a term falls below e^-30, as TF Privacy does. The cap only
 * guards against a series that never gets there (it is not reached at any sane input). */
#define LOG_TERM_FLOOR (-30.0)
#define MAX_FRAC_TERMS 10000000u

/* ---- log-space arithmetic ---- */

static double log_add(double log_x, double log_y)
{
    double lo = fmin(log_x, log_y), hi = fmax(log_x, log_y);
    if (lo == -INFINITY) return hi;
    return hi + log1p(exp(lo - hi));
}

/* log(x - y). The fractional series alternates; when rounding would make a partial sum
 * negative (TF Privacy raises there) we take it as 0, since the integral it tracks is >= 0. */
static double log_sub(double log_x, double log_y)
{
    if (log_y == -INFINITY) return log_x;
    if (log_x <= log_y) return -INFINITY;
    return log_x + log1p(-exp(log_y - log_x)); /* no overflow however far apart x and y are */
}

/* log erfc(x) for every x. GSL's gsl_sf_log_erfc returns NaN once |x| passes ~1e77, which
 * sigma >= ~1e77 reaches (the arguments grow like sigma log(1/q)); a NaN term never fell below
 * the floor, so the series ran to its cap: ~60 s per round at sigma = 1e100. Beyond 1e8 the
 * asymptotic series is exact to double precision: erfc(x) = e^-x^2 / (x sqrt pi)
 * (1 - 1/(2x^2) + ...), and for x <= -1e8 erfc(x) = 2 - erfc(-x) rounds to 2. */
static double log_erfc(double x)
{
    if (isnan(x)) return NAN;
    if (x < -1e8) return M_LN2;
    if (x > 1e8) return -x * x - log(x) - 0.5 * log(M_PI); /* -Inf once x^2 overflows */
    return gsl_sf_log_erfc(x);
}

/* ---- A_alpha = E_{z ~ mu0} [(mu(z) / mu0(z))^alpha], mu = (1 - q) mu0 + q mu1 ---- */

/* Integer alpha: the exact binomial expansion (MTZ19, Sec. 3.3),
 * A = sum_i C(alpha, i) q^i (1 - q)^(alpha - i) exp((i^2 - i) / (2 sigma^2)). The cost is
 * O(alpha), so orders in the millions are slow but still exact. */
static double log_a_int(double q, double sigma, unsigned alpha)
{
    double log_a = -INFINITY, log_q = log(q), log_1mq = log1p(-q);
    double two_s2 = 2.0 * sigma * sigma;
    for (unsigned i = 0; i <= alpha; i++) {
        double di = (double)i;
        double log_coef = gsl_sf_lnchoose(alpha, i) + di * log_q + (alpha - di) * log_1mq;
        log_a = log_add(log_a, log_coef + di * (di - 1.0) / two_s2);
    }
    return log_a;
}

/* One index i of the fractional series: the generalised binomial term of each of the two
 * integrals, over (-inf, z0] and [z0, inf), where z0 is the point at which q mu1 = (1 - q) mu0
 * (MTZ19, Sec. 3.3). */
typedef struct frac_series {
    double alpha, log_q, log_1mq, z0, two_s2, root2_sigma;
} frac_series;

static void frac_terms(const frac_series *f, double i, double log_coef, double *out_s0,
                       double *out_s1)
{
    double j = f->alpha - i;
    double log_t0 = log_coef + i * f->log_q + j * f->log_1mq;
    double log_t1 = log_coef + j * f->log_q + i * f->log_1mq;
    /* log(erfc(x) / 2) = log Pr[N(0, 1) > x sqrt 2]; GSL keeps it accurate far into the tail. */
    double log_e0 = log_erfc((i - f->z0) / f->root2_sigma) - M_LN2;
    double log_e1 = log_erfc((f->z0 - j) / f->root2_sigma) - M_LN2;
    *out_s0 = log_t0 + i * (i - 1.0) / f->two_s2 + log_e0;
    *out_s1 = log_t1 + j * (j - 1.0) / f->two_s2 + log_e1;
}

static double log_a_frac(double q, double sigma, double alpha, size_t *out_terms)
{
    frac_series f = {.alpha = alpha, .log_q = log(q), .log_1mq = log1p(-q)};
    f.z0 = sigma * sigma * (f.log_1mq - f.log_q) + 0.5;
    f.two_s2 = 2.0 * sigma * sigma;
    f.root2_sigma = M_SQRT2 * sigma;
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    /* log |C(alpha, i)| and its sign, carried by C(alpha, i+1) = C(alpha, i) (alpha-i) / (i+1):
     * no lgamma of negative arguments, and past i = alpha the signs alternate. */
    double log_coef = 0.0;
    bool positive = true;
    unsigned i = 0;
    for (; i < MAX_FRAC_TERMS; i++) {
        double di = (double)i, s0, s1;
        frac_terms(&f, di, log_coef, &s0, &s1);
        if (isnan(s0) || isnan(s1)) { /* an undefined term: no bound rather than a wrong one */
            *out_terms = i + 1;
            return NAN;
        }
        log_a0 = positive ? log_add(log_a0, s0) : log_sub(log_a0, s0);
        log_a1 = positive ? log_add(log_a1, s1) : log_sub(log_a1, s1);
        if (fmax(s0, s1) < LOG_TERM_FLOOR) break;
        log_coef += log(fabs(alpha - di)) - log(di + 1.0);
        if (alpha - di < 0) positive = !positive;
    }
    *out_terms = i < MAX_FRAC_TERMS ? i + 1 : i;
    return log_add(log_a0, log_a1);
}

double fs_rdp_step_terms(double q, double sigma, double alpha, size_t *out_terms)
{
    size_t terms = 0;
    double rdp;
    if (!(q >= 0.0 && q <= 1.0) || !(sigma >= 0.0) || !(alpha > 1.0))
        rdp = NAN;
    else if (q == 0.0)
        rdp = 0.0;
    else if (sigma == 0.0 || isinf(alpha))
        rdp = INFINITY;
    else if (isinf(sigma * sigma))
        rdp = 0.0; /* RDP ~ q^2 alpha / sigma^2 (MTZ19), below the smallest double */
    else if (q == 1.0)
        rdp = alpha / (2.0 * sigma * sigma); /* plain Gaussian mechanism */
    else {
        bool integer = alpha == floor(alpha) && alpha < (double)UINT32_MAX;
        double log_a;
        if (integer)
            log_a = log_a_int(q, sigma, (unsigned)alpha), terms = (size_t)alpha + 1;
        else
            log_a = log_a_frac(q, sigma, alpha, &terms);
        /* A_alpha >= 1, so RDP >= 0; clamp the last-bit rounding of a tiny q. */
        rdp = isnan(log_a) ? NAN : fmax(0.0, log_a / (alpha - 1.0));
    }
    if (out_terms) *out_terms = terms;
    return rdp;
}

double fs_rdp_step(double q, double sigma, double alpha)
{
    return fs_rdp_step_terms(q, sigma, alpha, NULL);
}

/* ---- the accountant ---- */

void fs_rdp_init(fs_rdp *a)
{
    size_t n = 0;
    for (int x = 1; x < 100; x++)
        a->orders[n++] = 1.0 + x / 10.0;
    for (int x = 12; x < 64; x++)
        a->orders[n++] = x;
    a->n_orders = n;
    for (size_t i = 0; i < n; i++)
        a->rdp[i] = 0.0;
}

void fs_rdp_add(fs_rdp *a, double q, double sigma, uint64_t steps)
{
    if (steps == 0) return; /* 0 * Inf would poison the budget with NaN */
    for (size_t i = 0; i < a->n_orders; i++)
        a->rdp[i] += (double)steps * fs_rdp_step(q, sigma, a->orders[i]);
}

/* Mironov 2017, Prop. 3. */
static double eps_classic(double alpha, double rdp, double delta)
{
    if (!(alpha > 1.0)) return INFINITY;
    return rdp - log(delta) / (alpha - 1.0);
}

/* Balle et al. 2020, Prop. 12, with TF Privacy's two guards: when delta^2 >= 1 - exp(-rdp) the
 * KL bound delta <= sqrt(1 - exp(-KL)) already gives epsilon 0; below order 1.01 the formula
 * is numerically unstable (and never the minimum), so such orders are skipped. */
static double eps_improved(double alpha, double rdp, double delta)
{
    if (delta * delta + expm1(-rdp) >= 0.0) return 0.0;
    if (!(alpha > 1.01)) return INFINITY;
    return rdp + log1p(-1.0 / alpha) - (log(delta) + log(alpha)) / (alpha - 1.0);
}

double fs_rdp_epsilon(const fs_rdp *a, double delta, enum fs_rdp_conversion conv, double *out_order)
{
    double best = INFINITY, best_order = a->n_orders ? a->orders[0] : NAN;
    for (size_t i = 0; i < a->n_orders; i++) {
        double e = conv == FS_RDP_CLASSIC ? eps_classic(a->orders[i], a->rdp[i], delta)
                                          : eps_improved(a->orders[i], a->rdp[i], delta);
        if (e < best) best = e, best_order = a->orders[i]; /* first minimum; NaN never wins */
    }
    if (conv == FS_RDP_IMPROVED) best = fmax(0.0, best);
    if (out_order) *out_order = best_order;
    return best;
}
