/* fs_nn_small: the forward product of a fully connected layer with few outputs (n_out <= 16:
 * softmax regression, the output layer of the MLP and the CNN) over many rows, written out
 * instead of calling sgemm: evaluation. On a 256-row chunk of Fashion-MNIST into 10 classes
 * OpenBLAS packs the whole chunk before it multiplies; this loop reads it in place, twice as
 * fast. Training batches (10 rows) stay on sgemm where its small-matrix kernels win, on AVX-512
 * CPUs (1.8 us against 2.6 us for the forward; the weight update, written the same way, was 6x
 * slower); elsewhere they take this kernel from 256 inputs on (fs_nn_small_trains).
 *
 * Determinism: every sum runs in an order fixed by n_in alone. A dot product keeps FS_NN_LANES
 * partial sums, lane j taking the terms k = j mod FS_NN_LANES in increasing k, and adds the
 * lanes 0..FS_NN_LANES-1 at the end, then the bias: a row's outputs do not depend on the other
 * rows of the call, nor on how rows are split across calls or threads. The lanes are held as
 * one 64-byte vector with AVX-512, as two 32-byte halves elsewhere (the same sums: see "in
 * halves" below). The functions are compiled
 * for three CPU levels (target_clones, chosen once at load): the lane layout is the same on
 * each, but FMA contraction exists only on the two upper ones, so results may differ between
 * machines in the last bit, as OpenBLAS's own kernels do. */
#include "fs_nn_small.h"

#include <stdbool.h>
#include <string.h>

#include "fs_cpu.h"

#define FS_NN_CLONES FS_CPU_CLONES

/* Inlined into each clone, so they are compiled for its CPU level: a call would land in code
 * for the default level. The vector ABI warning is about such calls, which never happen. */
#define FS_NN_INLINE inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"

/* One vector of partial sums: FS_NN_LANES lanes of fs_real, 64 bytes. */
typedef fs_real fs_vreal __attribute__((vector_size(64), aligned(4)));
#define FS_NN_LANES (64 / (int)sizeof(fs_real))

static FS_NN_INLINE fs_vreal vload(const fs_real *p)
{
    fs_vreal v;
    memcpy(&v, p, sizeof v); /* unaligned: rows start anywhere */
    return v;
}

/* The first len (< FS_NN_LANES) entries of p, zeros after: a row's tail in its own lanes. */
static FS_NN_INLINE fs_vreal vload_tail(const fs_real *p, size_t len)
{
    fs_vreal v = {0};
    memcpy(&v, p, len * sizeof *p);
    return v;
}

static FS_NN_INLINE double vsum(fs_vreal v)
{
    fs_real s = v[0];
    for (int j = 1; j < FS_NN_LANES; j++)
        s += v[j];
    return s;
}

/* Rows of the input taken together (each output's weights are read once per block) and outputs
 * taken together (each input chunk once per group): 20 vectors of partial sums, which the 32
 * AVX-512 registers hold with the loads. 4 x 5 was the fastest of ten shapes on this machine's
 * 256 x 784 -> 10 evaluation chunks (46 us against sgemm's 100 us; 4 x 2: 97 us). */
#define ROWS 4
#define OUTS 5

/* out[r * n_out + o] := b[o] + dot(in row r, W row o) for the R (<= ROWS) rows at in and the O
 * (<= OUTS) outputs at W; R and O are constants wherever this is inlined. */
static FS_NN_INLINE void dot_block(const fs_real *W, const fs_real *b, const fs_real *in,
                                   size_t n_in, size_t n_out, int R, int O, fs_real *out)
{
    fs_vreal acc[ROWS][OUTS];
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++)
            acc[r][o] = (fs_vreal){0};
    size_t k = 0;
    for (; k + FS_NN_LANES <= n_in; k += FS_NN_LANES)
        for (int o = 0; o < O; o++) {
            fs_vreal w = vload(W + o * n_in + k);
            for (int r = 0; r < R; r++)
                acc[r][o] += vload(in + r * n_in + k) * w;
        }
    if (k < n_in)
        for (int o = 0; o < O; o++) {
            fs_vreal w = vload_tail(W + o * n_in + k, n_in - k);
            for (int r = 0; r < R; r++)
                acc[r][o] += vload_tail(in + r * n_in + k, n_in - k) * w;
        }
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++)
            out[r * n_out + o] = (fs_real)(b[o] + vsum(acc[r][o]));
}

/* The R rows at in, every output, OUTS at a time: those rows stay in L1 while W streams. */
static FS_NN_INLINE void rows_all_outputs(const fs_real *W, const fs_real *b, const fs_real *in,
                                          size_t n_in, size_t n_out, int R, fs_real *out)
{
    size_t o = 0;
    for (; o + OUTS <= n_out; o += OUTS)
        dot_block(W + o * n_in, b + o, in, n_in, n_out, R, OUTS, out + o);
    for (; o < n_out; o++)
        dot_block(W + o * n_in, b + o, in, n_in, n_out, R, 1, out + o);
}

/* ---- the same sums in halves: 16 lanes as two 8-lane vectors, for CPUs without AVX-512 ----
 *
 * With 16 vector registers of 32 bytes (AVX2), the 64-byte blocks above spill every
 * accumulator: 390 us for the 256 x 784 -> 10 chunk on an AVX2 EPYC, where these take 71 us.
 * Lane j of the pair (lo: 0-7, hi: 8-15) takes the same terms in the same order, and the lanes
 * are added 0..15 as vsum does: the bits are those of the 64-byte path on the same CPU level.
 * The half type keeps its natural alignment: an under-aligned vector (aligned(4)) made GCC copy
 * every load through the stack (2.6 ms). */
typedef fs_real fs_vhalf __attribute__((vector_size(32)));
#define HALF_LANES (32 / (int)sizeof(fs_real))
_Static_assert(2 * HALF_LANES == FS_NN_LANES, "two halves make the lanes of fs_vreal");

static FS_NN_INLINE fs_vhalf hload(const fs_real *p, size_t len) /* len <= HALF_LANES */
{
    fs_vhalf v = {0};
    memcpy(&v, p, len * sizeof *p);
    return v;
}

/* 1 row x 5 outputs: the fastest of seven shapes on that EPYC (2 x 2: 81 us, 2 x 3: 108 us). */
#define HALF_OUTS 5

/* dot_block for one row and O (<= HALF_OUTS) outputs, in halves. */
static FS_NN_INLINE void dot_halves(const fs_real *W, const fs_real *b, const fs_real *in,
                                    size_t n_in, int O, fs_real *out)
{
    fs_vhalf lo[HALF_OUTS], hi[HALF_OUTS];
    for (int o = 0; o < O; o++)
        lo[o] = hi[o] = (fs_vhalf){0};
    size_t k = 0;
    for (; k + FS_NN_LANES <= n_in; k += FS_NN_LANES) {
        fs_vhalf x_lo = hload(in + k, HALF_LANES), x_hi = hload(in + k + HALF_LANES, HALF_LANES);
        for (int o = 0; o < O; o++) {
            lo[o] += x_lo * hload(W + o * n_in + k, HALF_LANES);
            hi[o] += x_hi * hload(W + o * n_in + k + HALF_LANES, HALF_LANES);
        }
    }
    if (k < n_in) {
        size_t left = n_in - k, n_lo = left < HALF_LANES ? left : HALF_LANES, n_hi = left - n_lo;
        fs_vhalf x_lo = hload(in + k, n_lo), x_hi = hload(in + k + n_lo, n_hi);
        for (int o = 0; o < O; o++) {
            lo[o] += x_lo * hload(W + o * n_in + k, n_lo);
            hi[o] += x_hi * hload(W + o * n_in + k + n_lo, n_hi);
        }
    }
    for (int o = 0; o < O; o++) {
        fs_real s = lo[o][0];
        for (int j = 1; j < HALF_LANES; j++)
            s += lo[o][j];
        for (int j = 0; j < HALF_LANES; j++)
            s += hi[o][j];
        out[o] = (fs_real)(b[o] + (double)s);
    }
}

static FS_NN_INLINE void row_in_halves(const fs_real *W, const fs_real *b, const fs_real *in,
                                       size_t n_in, size_t n_out, fs_real *out)
{
    size_t o = 0;
    for (; o + HALF_OUTS <= n_out; o += HALF_OUTS)
        dot_halves(W + o * n_in, b + o, in, n_in, HALF_OUTS, out + o);
    for (; o < n_out; o++)
        dot_halves(W + o * n_in, b + o, in, n_in, 1, out + o);
}

FS_NN_CLONES
void fs_nn_small_forward_as(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                            size_t n_in, size_t n_out, bool halves, fs_real *out)
{
    fs_assert(n_out <= FS_NN_SMALL_OUT_MAX);
    if (halves) {
        for (size_t i = 0; i < n; i++)
            row_in_halves(W, b, in + i * n_in, n_in, n_out, out + i * n_out);
        return;
    }
    size_t i = 0;
    for (; i + ROWS <= n; i += ROWS)
        rows_all_outputs(W, b, in + i * n_in, n_in, n_out, ROWS, out + i * n_out);
    for (; i < n; i++)
        rows_all_outputs(W, b, in + i * n_in, n_in, n_out, 1, out + i * n_out);
}

static bool use_halves(void)
{
    return !__builtin_cpu_supports("avx512f");
}

void fs_nn_small_forward(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, fs_real *out)
{
    fs_nn_small_forward_as(W, b, in, n, n_in, n_out, use_halves(), out);
}

/* On the AVX2 EPYC (Zen 3), single thread, microseconds for n x n_in -> 10 (sgemm / halves):
 *
 *   10 x 256: 2.6 / 1.1    10 x 512: 5.1 / 2.5    10 x 784: 7.8 / 2.7    50 x 512: 14.5 / 9.2
 *   32 x 512: 9.4 / 8.2    64 x 784: 26.1 / 18.0  256 x 784: 101 / 71    10 x 200: 2.0 / 2.1
 *
 * OpenBLAS's Zen kernels pack both operands for every call, which is most of a 10-row batch's
 * time. Under 256 inputs the row's tail (200 = 12 x 16 + 8) costs the halves their lead. Training
 * bits change with the kernel, as they do with OpenBLAS's own kernels from one CPU to another;
 * a batch is one call, so nothing depends on how rows are split. */
bool fs_nn_small_trains(size_t n_in, size_t n_out)
{
    return n_out <= FS_NN_SMALL_OUT_MAX && n_in >= 256 && use_halves();
}
