/* fs_compress: top-k, random-k and stochastic quantization of a client's update, with optional
 * error feedback. The update is rewritten into exactly what the server decodes, so aggregation
 * sees the compression error; the encoded size comes from fs_compress_bytes.
 *
 * Wire layouts (little-endian; n = coordinates carried: n_params dense, nnz sparse;
 * k = max(1, ceil(fraction * n)), at most n, 0 when n == 0):
 *   none      dense : n x float32 value                                   = 4n bytes
 *             sparse: n x (uint32 index, float32 value)                   = 8n bytes
 *   top-k     k x (uint32 index, float32 value), either input             = 8k bytes
 *   random-k  dense : uint64 seed, k x float32 value; the server replays the seed to regenerate
 *                     the k indices                                       = 8 + 4k bytes
 *             sparse: k x (uint32 index, float32 value); the nnz support is unknown to the
 *                     server, so the seed alone cannot name the indices   = 8k bytes
 *   quantize  float32 norm, then n codes of `bits` bits (any width 2..8) packed LSB-first into
 *             bytes: a (bits-1)-bit level in 0..s, s = 2^(bits-1) - 1, in the code's low bits
 *             and the sign in its top bit; code i fills stream bits [i bits, (i+1) bits), stream
 *             bit b being bit b % 8 of byte b / 8, the last byte zero-padded
 *             dense : 4 + ceil(n * bits / 8) bytes; sparse: plus n x uint32 index.
 * Updates are float32 (fs_real), as the wire carries them; quantize sends its norm as a float32
 * too.
 *
 * Decisions:
 * - Top-k keeps the k largest |v|, ties to the lower index (a strict total order, so the result
 *   is deterministic). One pass buffers candidates above the current k-th best and cuts the
 *   buffer back to k with quickselect whenever it reaches 2k: O(n) worst case, and on typical
 *   data only ~k ln(n/k) candidates pass the bar. A second pass emits the kept coordinates in
 *   ascending order without sorting. The buffer (2k magnitude/position pairs) lives in the
 *   update's own val/idx arrays (past nnz for sparse input), so a warm update never allocates
 *   and a sparse update never costs O(n_params).
 * - Random-k draws k distinct positions with Floyd's algorithm (Bentley & Floyd 1987) in O(k),
 *   membership in an open-addressing table that also lives in idx's spare capacity, then sorts
 *   the k positions. Without error feedback values are scaled by n/k, which makes the decoded
 *   update unbiased (E = v); with error feedback they are not scaled: EF needs a contractive
 *   compressor, ||C(v) - v||^2 <= (1 - k/n) ||v||^2 (Stich et al. 2018), which scaled rand-k is
 *   not, and the residual already carries what was not sent.
 * - Quantization is QSGD (Alistarh et al. 2017): level l = floor(|v_i| / norm * s + u), u ~ U[0,1),
 *   decoded sign(v_i) * norm * l / s, so E = v_i. The norm is rounded *up* to float32 before use,
 *   so |v_i| / norm <= 1, levels stay in 0..s and the decoder's norm is the encoder's. 2 bits
 *   gives ternary {-norm, 0, +norm}. The codes really are packed (into idx's spare capacity,
 *   like the other kinds' workspace) and the update is decoded from those bytes, so odd widths
 *   (3, 5, 6, 7 bits, codes straddling bytes) go through the same path as 2, 4 and 8.
 * - Error feedback (Karimireddy et al. 2019): v = u + residual is compressed and residual
 *   becomes v - decoded. The residual is always a dense n_params array. For a sparse update only
 *   its support is touched: v_i = u_i + residual_i there, and residual elsewhere waits until the
 *   client touches that coordinate again. This keeps a sparse client's cost O(nnz) at the price
 *   of delaying, never losing, untouched residual mass; decoded + residual = u + old residual
 *   holds on every coordinate.
 * - All memory is reserved before anything is modified: FS_ENOMEM leaves u and residual as
 *   they were. Updates are assumed finite (training reports FS_ENUMERIC first); quantization
 *   returns FS_ENUMERIC on a non-finite norm and top-k when NaNs leave fewer than k rankable
 *   coordinates, with u and residual then unspecified. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_compress.h"

#define CMP_EMPTY UINT32_MAX /* free slot of the random-k membership table */

/* k for a fraction of n coordinates. The relative slack (~45 ulps, < 1e-4 absolute for any
 * uint32 n) stops products such as 0.07 * 100 = 7.000000000000001 from rounding up to an extra
 * coordinate. */
static size_t cmp_k(double fraction, size_t n)
{
    if (n == 0) return 0;
    double x = fraction * (double)n;
    double k = ceil(x - 1e-14 * fabs(x));
    if (!(k >= 1)) return 1;
    return k >= (double)n ? n : (size_t)k;
}

double fs_compress_bytes(const fs_compress_cfg *cfg, size_t n, bool dense)
{
    double dn = (double)n;
    switch (cfg->kind) {
    case FS_COMP_TOPK:
        return 8.0 * (double)cmp_k(cfg->fraction, n);
    case FS_COMP_RANDK: {
        double k = (double)cmp_k(cfg->fraction, n);
        return dense ? 8.0 + 4.0 * k : 8.0 * k;
    }
    case FS_COMP_QUANTIZE: {
        double codes = (double)fs_compress_packed_bytes(n, cfg->bits);
        return 4.0 + codes + (dense ? 0.0 : 4.0 * dn);
    }
    case FS_COMP_NONE:
    default:
        return dense ? 4.0 * dn : 8.0 * dn;
    }
}

/* Smallest power of two >= 2k: the membership table of Floyd's algorithm, load <= 1/2. */
static size_t cmp_table_size(size_t k)
{
    size_t h = 2;
    while (h < 2 * k)
        h <<= 1;
    return h;
}

/* ---- error feedback ---- */

/* u := u + residual and residual := the same v, on u's support. */
static void ef_add(fs_update *u, fs_real *residual)
{
    if (u->sparse) {
        for (size_t j = 0; j < u->nnz; j++) {
            residual[u->idx[j]] += u->val[j];
            u->val[j] = residual[u->idx[j]];
        }
        return;
    }
    for (size_t i = 0; i < u->n_params; i++) {
        residual[i] += u->dense[i];
        u->dense[i] = residual[i];
    }
}

/* residual (holding v) := v - decoded, on the decoded update's support. */
static void ef_subtract(const fs_update *u, fs_real *residual)
{
    if (u->sparse) {
        for (size_t j = 0; j < u->nnz; j++)
            residual[u->idx[j]] -= u->val[j];
        return;
    }
    for (size_t i = 0; i < u->n_params; i++)
        residual[i] -= u->dense[i];
}

/* ---- top-k ---- */

/* Candidates are (magnitude, position) pairs in parallel arrays. Strict total order "a ranks
 * above b": larger magnitude, then lower position. */
static inline bool rank_above(const fs_real *mag, const uint32_t *pos, size_t a, size_t b)
{
    return mag[a] > mag[b] || (mag[a] == mag[b] && pos[a] < pos[b]);
}

static inline void swap_pair(fs_real *mag, uint32_t *pos, size_t a, size_t b)
{
    fs_real m = mag[a];
    mag[a] = mag[b], mag[b] = m;
    uint32_t p = pos[a];
    pos[a] = pos[b], pos[b] = p;
}

/* Lomuto partition of [lo, hi) around the median of three, moved to hi - 1; returns where the
 * pivot lands: [lo, s) ranks above it, (s, hi) below. */
static size_t partition_pairs(fs_real *mag, uint32_t *pos, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (rank_above(mag, pos, mid, lo)) swap_pair(mag, pos, mid, lo);
    if (rank_above(mag, pos, last, lo)) swap_pair(mag, pos, last, lo);
    if (rank_above(mag, pos, mid, last)) swap_pair(mag, pos, mid, last);
    size_t s = lo;
    for (size_t i = lo; i < last; i++)
        if (rank_above(mag, pos, i, last)) swap_pair(mag, pos, i, s++);
    swap_pair(mag, pos, s, last);
    return s;
}

/* Quickselect (Hoare 1961): reorders [0, m) so that [0, k) holds the k top-ranked pairs. */
static void select_top(fs_real *mag, uint32_t *pos, size_t m, size_t k)
{
    size_t lo = 0, hi = m;
    while (lo + 1 < hi) {
        size_t s = partition_pairs(mag, pos, lo, hi);
        if (s == k) return;
        if (s < k)
            lo = s + 1;
        else
            hi = s;
    }
}

/* The k-th ranked position of x[0..n) (1 <= k <= n), with 2k pairs of workspace. One pass keeps
 * a buffer of candidates ranking above the current k-th best; when it holds 2k, quickselect
 * cuts it back to k and raises the bar. Each cut costs O(k) and frees k slots, so the whole is
 * O(n) even on sorted input, where a heap would pay O(n log k). A later position with the bar's
 * magnitude ranks below it, so only a strictly larger magnitude enters (NaN never does). */
static uint32_t topk_threshold(const fs_real *x, size_t n, size_t k, fs_real *mag, uint32_t *pos)
{
    size_t m = 0;
    double bar = -1.0;
    for (size_t p = 0; p < n; p++) {
        double a = fabs(x[p]);
        if (!(a > bar)) continue;
        mag[m] = a, pos[m++] = (uint32_t)p;
        if (m < 2 * k) continue;
        select_top(mag, pos, m, k);
        m = k;
        size_t worst = 0;
        for (size_t i = 1; i < k; i++)
            if (rank_above(mag, pos, worst, i)) worst = i;
        bar = mag[worst];
    }
    if (m == 0) return 0; /* all NaN: the caller sees fewer than k kept */
    if (m > k) select_top(mag, pos, m, k);
    size_t worst = 0;
    for (size_t i = 1; i < k && i < m; i++)
        if (rank_above(mag, pos, worst, i)) worst = i;
    return pos[worst];
}

/* Keeps the positions ranked at or above t, ascending, as the sparse output. For sparse input
 * the writes trail the reads (j <= p), so compaction is in place. */
static size_t topk_emit(fs_update *u, const fs_real *x, size_t n, uint32_t t)
{
    double mt = fabs(x[t]);
    size_t j = 0;
    for (size_t p = 0; p < n; p++) {
        double a = fabs(x[p]);
        if (!(a > mt || (a == mt && p <= t))) continue;
        u->idx[j] = u->sparse ? u->idx[p] : (uint32_t)p;
        u->val[j++] = x[p];
    }
    return j;
}

static int compress_topk(fs_update *u, size_t k)
{
    size_t n = u->sparse ? u->nnz : u->n_params;
    if (k > 0) {
        const fs_real *x = u->sparse ? u->val : u->dense;
        size_t base = u->sparse ? n : 0;
        uint32_t t = topk_threshold(x, n, k, u->val + base, u->idx + base);
        if (topk_emit(u, x, n, t) != k) return FS_ENUMERIC; /* NaN is never ranked */
    }
    u->sparse = true;
    u->nnz = k;
    return FS_OK;
}

/* ---- random-k ---- */

/* Inserts v into the open-addressing table h (size a power of two); false if present. */
static bool table_insert(uint32_t *h, size_t size, uint32_t v)
{
    size_t mask = size - 1;
    size_t at = (size_t)((v * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
    while (h[at] != CMP_EMPTY) {
        if (h[at] == v) return false;
        at = (at + 1) & mask;
    }
    h[at] = v;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* k distinct positions of 0..n-1, uniform over k-subsets, ascending in pos[0..k): Floyd's
 * algorithm; table is table_size(k) entries of workspace. */
static void floyd_sample(gsl_rng *r, size_t n, size_t k, uint32_t *pos, uint32_t *table)
{
    size_t size = cmp_table_size(k);
    memset(table, 0xff, size * sizeof *table);
    size_t m = 0;
    for (size_t j = n - k; j < n; j++) {
        uint32_t t = (uint32_t)gsl_rng_uniform_int(r, (unsigned long)j + 1);
        if (!table_insert(table, size, t)) {
            t = (uint32_t)j;
            table_insert(table, size, t);
        }
        pos[m++] = t;
    }
    qsort(pos, k, sizeof *pos, cmp_u32);
}

static int compress_randk(fs_update *u, size_t k, bool scaled, gsl_rng *r)
{
    size_t n = u->sparse ? u->nnz : u->n_params;
    if (k > 0) {
        uint32_t *pos = u->idx + (u->sparse ? n : 0);
        floyd_sample(r, n, k, pos, pos + k);
        double scale = scaled ? (double)n / (double)k : 1.0;
        const fs_real *x = u->sparse ? u->val : u->dense;
        for (size_t j = 0; j < k; j++) { /* pos[j] >= j: in place for sparse input */
            uint32_t p = pos[j];
            u->idx[j] = u->sparse ? u->idx[p] : p;
            u->val[j] = (fs_real)(x[p] * scale);
        }
    }
    u->sparse = true;
    u->nnz = k;
    return FS_OK;
}

/* ---- quantization ---- */

/* The bit stream of the codes: code i fills stream bits [i * bits, (i + 1) * bits), LSB first,
 * stream bit b being bit b % 8 of byte b / 8; the last byte's unused high bits are 0. A 64-bit
 * accumulator holds at most 7 + 8 bits between flushes, so any width 1..8 packs the same way. */
typedef struct bit_writer {
    unsigned char *out;
    uint64_t acc;
    unsigned n_acc;
} bit_writer;

static inline void bits_put(bit_writer *w, unsigned code, unsigned bits)
{
    w->acc |= (uint64_t)code << w->n_acc;
    w->n_acc += bits;
    while (w->n_acc >= 8) {
        *w->out++ = (unsigned char)w->acc;
        w->acc >>= 8;
        w->n_acc -= 8;
    }
}

static inline void bits_flush(bit_writer *w)
{
    if (w->n_acc) *w->out++ = (unsigned char)w->acc;
    w->acc = 0, w->n_acc = 0;
}

typedef struct bit_reader {
    const unsigned char *in;
    uint64_t acc;
    unsigned n_acc;
} bit_reader;

static inline unsigned bits_get(bit_reader *r, unsigned bits)
{
    while (r->n_acc < bits) {
        r->acc |= (uint64_t)*r->in++ << r->n_acc;
        r->n_acc += 8;
    }
    unsigned code = (unsigned)(r->acc & ((1u << bits) - 1));
    r->acc >>= bits;
    r->n_acc -= bits;
    return code;
}

size_t fs_compress_packed_bytes(size_t n, int bits)
{
    return (n / 8) * (size_t)bits + ((n % 8) * (size_t)bits + 7) / 8; /* no overflow of n*bits */
}

void fs_compress_pack(const uint8_t *codes, size_t n, int bits, unsigned char *out)
{
    bit_writer w = {.out = out};
    for (size_t i = 0; i < n; i++)
        bits_put(&w, codes[i] & ((1u << bits) - 1), (unsigned)bits);
    bits_flush(&w);
}

void fs_compress_unpack(const unsigned char *in, size_t n, int bits, uint8_t *codes)
{
    bit_reader r = {.in = in};
    for (size_t i = 0; i < n; i++)
        codes[i] = (uint8_t)bits_get(&r, (unsigned)bits);
}

/* The float32 the wire carries for norm, rounded up so that |x_i| / norm <= 1. */
static double norm_f32_up(double norm)
{
    float f = (float)norm;
    if ((double)f < norm) f = nextafterf(f, INFINITY);
    return (double)f;
}

/* Encodes x into `wire` (fs_compress_packed_bytes(n, bits) bytes) and decodes it back from
 * there, so what the server aggregates is what the packed bytes say. A code is the level in
 * its low bits - 1 bits and the sign in its top bit. */
static int compress_quantize(fs_update *u, int bits, gsl_rng *r, unsigned char *wire)
{
    size_t n = u->sparse ? u->nnz : u->n_params;
    fs_real *x = u->sparse ? u->val : u->dense;
    double sq = 0;
    for (size_t i = 0; i < n; i++)
        sq += (double)x[i] * x[i];
    double norm = norm_f32_up(sqrt(sq));
    if (!isfinite(norm)) return FS_ENUMERIC;
    if (norm == 0) { /* zero vector, or squares that underflowed: the decoder sees norm 0 */
        memset(x, 0, n * sizeof *x);
        return FS_OK;
    }
    unsigned ub = (unsigned)bits, sign_bit = 1u << (ub - 1);
    double s = (double)(sign_bit - 1);
    bit_writer w = {.out = wire};
    for (size_t i = 0; i < n; i++) {
        double level = floor(fabs(x[i]) / norm * s + gsl_rng_uniform(r));
        if (level > s) level = s; /* s + (1 - 2^-53) can round up to s + 1 */
        bits_put(&w, (unsigned)level | (x[i] < 0 ? sign_bit : 0), ub);
    }
    bits_flush(&w);
    bit_reader rd = {.in = wire};
    for (size_t i = 0; i < n; i++) {
        unsigned code = bits_get(&rd, ub), level = code & (sign_bit - 1);
        double v = norm * (double)level / s;
        x[i] = (fs_real)(level == 0 ? 0.0 : code & sign_bit ? -v : v);
    }
    return FS_OK;
}

/* ---- entry point ---- */

static bool cfg_valid(const fs_compress_cfg *cfg, const fs_real *residual)
{
    if (cfg->error_feedback && !residual) return false;
    switch (cfg->kind) {
    case FS_COMP_NONE:
        return true;
    case FS_COMP_TOPK:
    case FS_COMP_RANDK:
        return cfg->fraction > 0 && cfg->fraction <= 1;
    case FS_COMP_QUANTIZE:
        return cfg->bits >= FS_COMPRESS_MIN_BITS && cfg->bits <= FS_COMPRESS_MAX_BITS;
    }
    return false;
}

/* idx/val capacity the kind needs: output plus workspace past the sparse input (quantize: the
 * packed codes, in whole uint32 words). */
static size_t cmp_need(const fs_compress_cfg *cfg, const fs_update *u, size_t n, size_t k)
{
    size_t base = u->sparse ? u->nnz : 0;
    if (cfg->kind == FS_COMP_TOPK) return base + 2 * k;
    if (cfg->kind == FS_COMP_RANDK) return base + k + cmp_table_size(k);
    if (cfg->kind == FS_COMP_QUANTIZE)
        return base + (fs_compress_packed_bytes(n, cfg->bits) + 3) / 4;
    return 0;
}

int fs_compress_apply(const fs_compress_cfg *cfg, fs_update *u, fs_real *residual, gsl_rng *r,
                      double *out_bytes)
{
    if (!cfg_valid(cfg, residual)) return FS_EINTERNAL;
    size_t n = u->sparse ? u->nnz : u->n_params;
    bool dense = !u->sparse;
    size_t k = cmp_k(cfg->fraction, n);
    int rc = fs_update_reserve(u, cmp_need(cfg, u, n, k));
    if (rc != FS_OK) return rc;
    if (cfg->error_feedback) ef_add(u, residual);
    switch (cfg->kind) {
    case FS_COMP_TOPK:
        rc = compress_topk(u, k);
        break;
    case FS_COMP_RANDK:
        rc = compress_randk(u, k, !cfg->error_feedback, r);
        break;
    case FS_COMP_QUANTIZE:
        rc = compress_quantize(u, cfg->bits, r, (unsigned char *)(u->idx + (dense ? 0 : n)));
        break;
    case FS_COMP_NONE:
        break;
    }
    if (rc != FS_OK) return rc;
    if (cfg->error_feedback) ef_subtract(u, residual);
    if (out_bytes) *out_bytes = fs_compress_bytes(cfg, n, dense);
    return FS_OK;
}
