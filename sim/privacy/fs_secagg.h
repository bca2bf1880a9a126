/* fs_secagg: secure aggregation (Bonawitz et al. 2017) simulated exactly. Each client encodes
 * its update in fixed point modulo 2^bits and adds pairwise masks: for every other participant j,
 * + PRG(s_ij) if i < j and - PRG(s_ij) if i > j, with s_ij derived from (seed, round, min(i,j),
 * max(i,j)); masks cancel in the sum. When clients drop after masking, the server recovers their
 * pairwise masks with the survivors (from the secret shares in the real protocol; here from the
 * same derivation) and removes them. Integer sums are order-independent, so the aggregate is
 * exactly reproducible. Also the protocol's cost: extra bytes and round trips per client. */
#ifndef FS_SECAGG_H
#define FS_SECAGG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_secagg_cfg {
    int bits;       /* modulus 2^bits, 16..64 */
    int frac_bits;  /* fixed-point scale 2^frac_bits */
    uint64_t seed;  /* run seed: pairwise mask seeds derive from it */
} fs_secagg_cfg;

/* Fixed point: round(x * 2^frac_bits) mod 2^bits (two's complement); decoding maps sums in
 * [2^(bits-1), 2^bits) to negatives. The caller keeps |sum of x| * 2^frac_bits < 2^(bits-1). */
uint64_t fs_secagg_encode(const fs_secagg_cfg *c, double x);
double fs_secagg_decode(const fs_secagg_cfg *c, uint64_t v);

/* Encodes x[0..n) into out[0..n) and adds client `self`'s pairwise masks with `peers` (the
 * other clients that received the round's keys, self excluded), all mod 2^bits. */
void fs_secagg_mask(const fs_secagg_cfg *c, uint64_t round, uint32_t self, const uint32_t *peers,
                    size_t n_peers, const double *x, size_t n, uint64_t *out);

/* Server side: sum[0..n) holds the mod-2^bits sum of the survivors' masked vectors. Removes the
 * masks between every survivor and every dropped client (which never cancelled), leaving the
 * survivors' plain fixed-point sum. */
void fs_secagg_unmask(const fs_secagg_cfg *c, uint64_t round, const uint32_t *survivors,
                      size_t n_survivors, const uint32_t *dropped, size_t n_dropped,
                      uint64_t *sum, size_t n);

/* Protocol cost for one client among n_clients with an n-coordinate vector (Bonawitz et al.
 * 2017, section 7 figures: 32-byte public keys, Shamir shares of two 32-byte secrets per peer
 * encrypted with 28 bytes overhead, masked vector of n * bits / 8 bytes): bytes uploaded and
 * downloaded beyond the plain update, and the number of extra network round trips (4 rounds:
 * advertise keys, share keys, masked input, unmasking; the masked input replaces the plain
 * upload, so 3 extra). */
typedef struct fs_secagg_cost {
    double extra_bytes_up, extra_bytes_down;
    double masked_bytes;  /* the masked vector itself: replaces the plain update's bytes */
    int extra_round_trips;
} fs_secagg_cost;
fs_secagg_cost fs_secagg_cost_of(const fs_secagg_cfg *c, size_t n_clients, size_t n);

#endif
