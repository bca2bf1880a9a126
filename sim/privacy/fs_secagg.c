/* fs_secagg: the arithmetic of Bonawitz et al. 2017 secure aggregation, reproduced exactly, and
 * its communication cost. No cryptographic security is claimed: mask seeds come from the run
 * seed instead of a Diffie-Hellman agreement, and the PRG is SplitMix64, not AES-CTR. What is
 * exact is what a simulation needs: every masked vector, the cancellation of the masks in the
 * sum, the recovery after dropouts, and the bytes and round trips the protocol adds. */
#include "fs_secagg.h"

#include <math.h>
#include <stdbool.h>

#include "fs_err.h"
#include "fs_rng.h"

/* Purpose number of the pairwise mask streams in fs_rng_seed. fs_rng_purpose is a closed enum
 * of the simulator's own streams; 101 sits far outside it so it can never collide with a
 * purpose added there later. Pinned by secagg_mask_prg_is_pinned in the tests. */
#define FS_SECAGG_PURPOSE 101u

/* The SplitMix64 increment (golden ratio); the PRG is SplitMix64 in counter form. */
#define FS_SECAGG_GAMMA 0x9e3779b97f4a7c15ULL

/* Coordinates per block: the masked output block (16 KiB) stays in L1 while every peer's mask
 * is added to it, instead of streaming the whole vector once per peer. */
#define FS_SECAGG_BLOCK 2048u

static void check_cfg(const fs_secagg_cfg *c)
{
    fs_assert(c->bits >= 16 && c->bits <= 64);
    fs_assert(c->frac_bits >= 0 && c->frac_bits < c->bits);
}

static uint64_t modmask(int bits)
{
    return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

/* ---- fixed point ---------------------------------------------------------------------------- */

/* Two's complement of round(x * 2^f): arithmetic mod 2^64 agrees with arithmetic mod 2^bits on
 * the low bits, so values are reduced only once, at the end. */
static uint64_t encode_raw(double scale, double x)
{
    return (uint64_t)llround(x * scale);
}

uint64_t fs_secagg_encode(const fs_secagg_cfg *c, double x)
{
    check_cfg(c);
    return encode_raw(ldexp(1.0, c->frac_bits), x) & modmask(c->bits);
}

double fs_secagg_decode(const fs_secagg_cfg *c, uint64_t v)
{
    check_cfg(c);
    uint64_t m = modmask(c->bits);
    v &= m;
    uint64_t sign = UINT64_C(1) << (c->bits - 1);
    /* Sign-extend [2^(bits-1), 2^bits) to negatives; the int64 conversion is modular in GCC. */
    if (v & sign) v |= ~m;
    return ldexp((double)(int64_t)v, -c->frac_bits);
}

/* ---- pairwise mask PRG ---------------------------------------------------------------------- */

/* Seed of the mask between clients a and b: symmetric in (a, b) so both ends derive the same
 * stream, and distinct per round so masks never repeat across rounds. */
static uint64_t pair_seed(const fs_secagg_cfg *c, uint64_t round, uint32_t a, uint32_t b)
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return fs_rng_seed(c->seed, FS_SECAGG_PURPOSE, ((uint64_t)lo << 32) | hi, round);
}

/* Word k of the stream is the (k+1)-th output of fs_splitmix64 started at the seed, computed
 * directly from the counter: any block can be generated without the ones before it, and the
 * loop has no carried dependency, so the compiler can vectorise it. */
static inline uint64_t prg_word(uint64_t seed, uint64_t k)
{
    uint64_t z = seed + (k + 1) * FS_SECAGG_GAMMA;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void prg_add(uint64_t *v, size_t len, uint64_t seed, uint64_t k0)
{
    for (size_t i = 0; i < len; i++)
        v[i] += prg_word(seed, k0 + i);
}

static void prg_sub(uint64_t *v, size_t len, uint64_t seed, uint64_t k0)
{
    for (size_t i = 0; i < len; i++)
        v[i] -= prg_word(seed, k0 + i);
}

/* Client `self` adds the mask shared with `other` with sign + if self < other, - otherwise
 * (Bonawitz et al. 2017, section 3), so the pair's two contributions cancel. `undo` applies
 * the opposite sign: what the server does to remove a survivor's mask with a dropped client. */
static void apply_pair(const fs_secagg_cfg *c, uint64_t round, uint32_t self, uint32_t other,
                       bool undo, uint64_t *v, size_t len, uint64_t k0)
{
    uint64_t seed = pair_seed(c, round, self, other);
    if ((self < other) != undo)
        prg_add(v, len, seed, k0);
    else
        prg_sub(v, len, seed, k0);
}

static void reduce(const fs_secagg_cfg *c, uint64_t *v, size_t n)
{
    uint64_t m = modmask(c->bits);
    if (m == UINT64_MAX) return;
    for (size_t i = 0; i < n; i++)
        v[i] &= m;
}

/* ---- client and server ---------------------------------------------------------------------- */

/* A peer equal to `self` is skipped: the contract excludes it, and a self-pair has no partner
 * whose mask would cancel it. */
void fs_secagg_mask(const fs_secagg_cfg *c, uint64_t round, uint32_t self, const uint32_t *peers,
                    size_t n_peers, const double *x, size_t n, uint64_t *out)
{
    check_cfg(c);
    double scale = ldexp(1.0, c->frac_bits);
    for (size_t i = 0; i < n; i++)
        out[i] = encode_raw(scale, x[i]);
    for (size_t b0 = 0; b0 < n; b0 += FS_SECAGG_BLOCK) {
        size_t len = n - b0 < FS_SECAGG_BLOCK ? n - b0 : FS_SECAGG_BLOCK;
        for (size_t p = 0; p < n_peers; p++) {
            if (peers[p] == self) continue;
            apply_pair(c, round, self, peers[p], false, out + b0, len, b0);
        }
    }
    reduce(c, out, n);
}

/* In the real protocol the server reconstructs each dropped client's key-agreement secret from
 * t Shamir shares and recomputes its masks with the survivors; here it re-derives the same
 * pair seeds. Survivors' self-masks b_u are not simulated: they are removed exactly in the
 * protocol, so leaving them out changes no bit of the result (their cost is counted). */
void fs_secagg_unmask(const fs_secagg_cfg *c, uint64_t round, const uint32_t *survivors,
                      size_t n_survivors, const uint32_t *dropped, size_t n_dropped, uint64_t *sum,
                      size_t n)
{
    check_cfg(c);
    for (size_t b0 = 0; b0 < n; b0 += FS_SECAGG_BLOCK) {
        size_t len = n - b0 < FS_SECAGG_BLOCK ? n - b0 : FS_SECAGG_BLOCK;
        for (size_t s = 0; s < n_survivors; s++) {
            for (size_t d = 0; d < n_dropped; d++) {
                if (survivors[s] == dropped[d]) continue;
                apply_pair(c, round, survivors[s], dropped[d], true, sum + b0, len, b0);
            }
        }
    }
    reduce(c, sum, n);
}

/* ---- cost ----------------------------------------------------------------------------------- */

/* Message sizes of the four rounds of Bonawitz et al. 2017 (figure 4, honest-but-curious
 * version; sizes after their section 7: 256-bit keys and secrets, AES-GCM):
 *   K  = 32  bytes, a public key (two per client: c_pk for encryption, s_pk for masks);
 *   S  = 32  bytes, one Shamir share of a 32-byte secret (field element; x-coordinate implied
 *            by the recipient);
 *   ID = 4   bytes, a client id;
 *   CT = 2 ID + 2 S + 28 = 100 bytes, the ciphertext u || v || share(s_sk) || share(b_u) under
 *            AES-GCM (12-byte nonce + 16-byte tag).
 * Round 0 AdvertiseKeys: up 2K; down the list of all n clients' (ID, c_pk, s_pk).
 * Round 1 ShareKeys:     up (n-1) CT; down the (n-1) CT addressed to this client.
 * Round 2 MaskedInput:   up the masked vector (reported as masked_bytes, replacing the plain
 *                        update); down the list of the n clients still present (ID each).
 * Round 3 Unmasking:     up one share per other client, (n-1) S (b share for survivors, s_sk
 *                        share for dropped ones).
 * Lists and shares follow the order of the round-0 list, so they carry no per-item ids.
 * Downloads assume nobody drops (upper bound); the cost is per client and excludes the
 * server's O(n^2) work. Round trips: 4 rounds, the masked input replacing the plain upload. */
enum {
    FS_SECAGG_KEY = 32,
    FS_SECAGG_SHARE = 32,
    FS_SECAGG_ID = 4,
    FS_SECAGG_AEAD = 28,
    FS_SECAGG_CT = 2 * FS_SECAGG_ID + 2 * FS_SECAGG_SHARE + FS_SECAGG_AEAD,
};

fs_secagg_cost fs_secagg_cost_of(const fs_secagg_cfg *c, size_t n_clients, size_t n)
{
    check_cfg(c);
    double nc = (double)n_clients;
    double others = n_clients > 0 ? nc - 1.0 : 0.0;
    fs_secagg_cost r;
    r.extra_bytes_up = 2.0 * FS_SECAGG_KEY + others * FS_SECAGG_CT + others * FS_SECAGG_SHARE;
    r.extra_bytes_down =
        nc * (FS_SECAGG_ID + 2 * FS_SECAGG_KEY) + others * FS_SECAGG_CT + nc * FS_SECAGG_ID;
    r.masked_bytes = (double)n * c->bits / 8.0;
    r.extra_round_trips = 3;
    return r;
}
