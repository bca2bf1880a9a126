/* fs_rdp: the Rényi-DP accountant for the sampled Gaussian mechanism (Mironov, Talwar & Zhang
 * 2019), as TF Privacy's rdp_accountant computes it: at integer orders the exact binomial
 * expansion, at fractional orders the two-series bound; RDP adds up over steps. Converts to
 * (epsilon, delta) either classically (Mironov 2017: eps = rdp + log(1/delta)/(alpha - 1)) or
 * with the improved bound (Balle et al. 2020, Prop. 12: eps = rdp + log((alpha-1)/alpha)
 * - (log delta + log alpha)/(alpha - 1)), minimised over the orders. Pure numerics, no I/O. */
#ifndef FS_RDP_H
#define FS_RDP_H

#include <stddef.h>
#include <stdint.h>

#define FS_RDP_MAX_ORDERS 160

enum fs_rdp_conversion { FS_RDP_CLASSIC, FS_RDP_IMPROVED };

typedef struct fs_rdp {
    size_t n_orders;
    double orders[FS_RDP_MAX_ORDERS]; /* TF Privacy's defaults: 1 + x/10 (x = 1..99), 12..63 */
    double rdp[FS_RDP_MAX_ORDERS];    /* accumulated RDP at each order */
} fs_rdp;

void fs_rdp_init(fs_rdp *a); /* default orders, zero budget spent */

/* RDP at order alpha of one step of the sampled Gaussian mechanism with sampling rate q in
 * [0, 1] and noise multiplier sigma > 0 (noise std = sigma * sensitivity). +Inf when sigma = 0
 * and q > 0; 0 when q = 0. */
double fs_rdp_step(double q, double sigma, double alpha);

/* fs_rdp_step, and *out_terms (may be NULL) = series terms it evaluated: alpha + 1 at integer
 * orders, at fractional orders until the terms fall below e^-30; a few dozen at any sigma (0 on
 * the closed-form paths). */
double fs_rdp_step_terms(double q, double sigma, double alpha, size_t *out_terms);

/* Adds `steps` steps at (q, sigma) to every order. */
void fs_rdp_add(fs_rdp *a, double q, double sigma, uint64_t steps);

/* Smallest epsilon over the orders at the given delta in (0, 1); *out_order (may be NULL)
 * receives the minimising order. */
double fs_rdp_epsilon(const fs_rdp *a, double delta, enum fs_rdp_conversion conv,
                      double *out_order);

#endif
