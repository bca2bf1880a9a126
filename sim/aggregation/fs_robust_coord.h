/* fs_robust_coord: server.robust's median and trimmed_mean (rows of fs_robust's table) and the
 * order statistics they reduce each coordinate with (exposed for the tests; Krum sorts with the
 * same comparator). */
#ifndef FS_ROBUST_COORD_H
#define FS_ROBUST_COORD_H

#include <stddef.h>

/* The median and the beta-trimmed mean (floor(beta n) dropped at each end) of n values of which
 * c are given in v (ascending) and the other n - c are implicit zeros. */
double fs_robust_median(const double *v, size_t c, size_t n);
double fs_robust_trimmed_mean(const double *v, size_t c, size_t n, double beta);

/* qsort's comparator for doubles, a total order on finite values (updates are finite: fs_train
 * rejects the others): equal values are interchangeable, so any sort gives the same array. */
int fs_robust_cmp_double(const void *a, const void *b);

#endif
