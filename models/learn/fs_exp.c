/* fs_exp: exp over arrays, for the softmax probabilities evaluation takes (a 100-round softmax
 * run on Fashion-MNIST asks for two million exponentials: 7% of its CPU went to libm's scalar
 * exp and its wrapper). One loop without branches, which the compiler turns into 8-lane
 * AVX-512 code in the upper clone:
 *     x = (k + j/16) ln 2 + r, |r| <= ln 2 / 32, k = floor(n / 16), j = n mod 16,
 *     n = round(16 x / ln 2)
 *     exp(x) = 2^k * 2^(j/16) * (1 + p(r)),
 * with p the degree-7 Taylor polynomial of exp(r) - 1 (truncation below 2e-18 relative), the
 * reduction in two FMAs against ln 2 / 16 split in a high part with 21 trailing zero bits and a
 * low part, and 2^(j/16) from a table of 16 double pairs (high and low parts, computed in
 * 60-digit decimal), the low part added before the last rounding: 99.4% of results are the
 * nearest double and the rest 1 ulp away (test_exp).
 * 2^k is applied in two halves, each a normal double, so no factor under- or overflows (a
 * subnormal result is rounded twice, after the table step and on the last scaling: still within
 * 1 ulp).
 *
 * Every multiply-add is an explicit fma() and no other product feeds an addition, so the
 * compiler has nothing to contract: each clone computes the same bits. Below the v3 level fma()
 * is libm's exact software one, slow but equal. */
#include "fs_exp.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fs_cpu.h"

/* 2^(j/16) = two_j16[j] + two_j16_lo[j], the high part the nearest double; both in 60 digits */
static const double two_j16[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0,
};
static const double two_j16_lo[16] = {
    0x0p+0,                 0x1.8a62e4adc610bp-54,  -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54,
    0x1.6f46ad23182e4p-55,  0x1.ada0911f09ebcp-55,  0x1.d4397afec42e2p-56,  0x1.6324c054647adp-54,
    -0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54,  0x1.c7c46b071f2bep-56,
    0x1.7a1cd345dcc81p-54,  0x1.11065895048ddp-55,  0x1.2ed02d75b3707p-55,  -0x1.e9c23179c2893p-54,
};

#define INV_LN2_16 0x1.71547652b82fep+4  /* 16 / ln 2 */
#define LN2_16_HI 0x1.62e42fee00000p-5   /* ln 2 / 16, high part: n * HI is exact */
#define LN2_16_LO 0x1.a39ef35793c76p-37  /* ln 2 / 16 - HI */
#define ROUND_SHIFT 0x1.8p52             /* x + 1.5 * 2^52 rounds x to an integer */
#define X_MAX 0x1.62e42fefa39efp+9       /* 709.78...: above it exp overflows */
#define X_MIN -0x1.74910d52d3052p+9      /* -745.13...: at and below it exp rounds to 0 */

static inline double from_bits(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double exp_one(double x)
{
    double xc = x > X_MAX ? X_MAX : x < X_MIN ? X_MIN : x; /* NaN passes through: fixed below */
    xc = xc == xc ? xc : 0;
    double t = fma(xc, INV_LN2_16, ROUND_SHIFT);
    int64_t n = (int64_t)(to_bits(t) - to_bits(ROUND_SHIFT));
    double nd = t - ROUND_SHIFT;
    double r = fma(-nd, LN2_16_HI, xc);
    r = fma(-nd, LN2_16_LO, r);
    double p = fma(r, 1.0 / 5040, 1.0 / 720);
    p = fma(p, r, 1.0 / 120);
    p = fma(p, r, 1.0 / 24);
    p = fma(p, r, 1.0 / 6);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = p * r;
    double tj = two_j16[n & 15], tj_lo = two_j16_lo[n & 15];
    int64_t k = n >> 4; /* floor: n = 16 k + (n & 15) for negative n too */
    int64_t k1 = k >> 1, k2 = k - k1;
    double e = tj + fma(tj, p, tj_lo); /* the table's low part before the one rounding */
    e = e * from_bits((uint64_t)(k1 + 1023) << 52);
    e = e * from_bits((uint64_t)(k2 + 1023) << 52);
    e = x > X_MAX ? HUGE_VAL : e;
    e = x <= X_MIN ? 0.0 : e;
    return x == x ? e : x;
}

FS_CPU_CLONES void fs_exp_many(const double *x, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = exp_one(x[i]);
}
