/* fs_exp: the exponential of many doubles at once (see fs_exp.c). */
#ifndef FS_EXP_H
#define FS_EXP_H

#include <stddef.h>

/* out[i] := exp(x[i]) for i < n, within 1 ulp of the true value (out may be x). exp(-inf) = 0,
 * exp(+inf) = +inf, NaN stays NaN; results below 2^-1074 / 2 are 0, above DBL_MAX +inf. The same
 * bits on every CPU level and thread count: every operation is a single IEEE operation, FMAs
 * written out. */
void fs_exp_many(const double *x, size_t n, double *out);

#endif
