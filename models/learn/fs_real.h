/* fs_real: the precision models train in. Parameters, gradients, activations and client updates
 * are fs_real (float32, as every ML framework trains); what needs more stays double: loss and
 * metric sums, the privacy accountant, and the server's aggregation sum (fs_agg), which
 * accumulates in double in a fixed order before it rounds once to the model. The BLAS calls of
 * the models go through the wrappers below, so the precision is named in this file alone.
 * FS_REAL_NAME is recorded in the results schema (runs.precision) and in every checkpoint; a
 * checkpoint written in another precision is refused. */
#ifndef FS_REAL_H
#define FS_REAL_H

#include <gsl/gsl_cblas.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef FS_REAL_DOUBLE
/* The double-precision reference build of models/learn, for the model test suites alone
 * (tests/meson.build, the *_f64 suites): the same code, checked with tight tolerances. */
typedef double fs_real;
#define FS_REAL_NAME "float64"
#define FS_REAL_BYTES 8
#define FS_REAL_EPS 0x1p-52 /* DBL_EPSILON */
#define FS_REAL_GEMM cblas_dgemm
#define FS_REAL_AXPY cblas_daxpy
#else
typedef float fs_real;
#define FS_REAL_NAME "float32"
#define FS_REAL_BYTES 4
#define FS_REAL_EPS 0x1p-23 /* FLT_EPSILON: the gap between 1 and the next fs_real */
#define FS_REAL_GEMM cblas_sgemm
#define FS_REAL_AXPY cblas_saxpy
#endif

/* C (m x n) := alpha op(A) op(B) + beta C, row-major, op = transpose when ta / tb. */
static inline void fs_real_gemm(bool ta, bool tb, int m, int n, int k, fs_real alpha,
                                const fs_real *a, int lda, const fs_real *b, int ldb, fs_real beta,
                                fs_real *c, int ldc)
{
    FS_REAL_GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                 n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* y := alpha x + y over n entries. */
static inline void fs_real_axpy(size_t n, fs_real alpha, const fs_real *x, fs_real *y)
{
    FS_REAL_AXPY((int)n, alpha, x, 1, y, 1);
}

#endif
