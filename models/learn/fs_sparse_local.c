/* fs_sparse_local: the local feature index shared by the train_sparse of fs_logreg and fs_mf
 * (see fs_sparse_local.h), built once per client: by sorting entry ids by feature, or (logreg
 * with thread scratch) through a bitmap of the features, 2.2x faster than the radix sort on
 * CTR-like clients (1,000 entries over 450 features of 2^18: 4.4 against 9.5 us). The training
 * loop is inline in the header. */
#include <stdlib.h>
#include <string.h>

#include "fs_sparse_local.h"

#include "fs_cpu.h"

#define SL_RADIX_BITS 11 /* widest radix-sort digit: 8 KiB of counters on the stack */

/* LSD radix sort. The bits keys below key_bound use are split into the fewest digits of at most
 * 11 bits, equally wide (2 passes of 9 bits for 2^18): no comparisons, and a pass costs the
 * entries plus 2^width counters, so a small client's index costs little. */
const uint32_t *fs_sparse_local_radix_sort(const uint32_t *key, size_t n, size_t key_bound,
                                           uint32_t *a, uint32_t *b)
{
    unsigned bits = 0;
    while (bits < 32 && ((key_bound - 1) >> bits) != 0) bits++;
    unsigned passes = (bits + SL_RADIX_BITS - 1) / SL_RADIX_BITS;
    unsigned width = passes ? (bits + passes - 1) / passes : 0;
    uint32_t mask = (UINT32_C(1) << width) - 1;
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (unsigned p = 0, sh = 0; p < passes; p++, sh += width) {
        uint32_t count[1u << SL_RADIX_BITS], sum = 0;
        memset(count, 0, (mask + 1) * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(key[a[i]] >> sh) & mask]++;
        for (uint32_t k = 0; k <= mask; k++) {
            uint32_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) b[count[(key[a[i]] >> sh) & mask]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    return a;
}

/* Bottom-up merge sort: where a radix sort would pay for a counter per key bucket on every small
 * client of a large catalogue. Takes the left element on ties, hence stable. */
const uint32_t *fs_sparse_local_merge_sort(const uint32_t *key, size_t n, uint32_t *a,
                                           uint32_t *b)
{
    for (size_t i = 0; i < n; i++) a[i] = (uint32_t)i;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) b[o++] = key[a[j]] < key[a[i]] ? a[j++] : a[i++];
            while (i < mid) b[o++] = a[i++];
            while (j < hi) b[o++] = a[j++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    return a;
}

/* Walks the entries in key order. slot is overwritten in place: sorted is a permutation, so each
 * key is read just before its own cell is written, never after. */
size_t fs_sparse_local_assign_slots(uint32_t *slot, const uint32_t *sorted, size_t n,
                                    uint32_t *out_feat)
{
    size_t n_local = 0;
    for (size_t q = 0; q < n; q++) {
        uint32_t e = sorted[q], f = slot[e];
        if (n_local == 0 || out_feat[n_local - 1] != f) out_feat[n_local++] = f;
        slot[e] = (uint32_t)(n_local - 1);
    }
    return n_local;
}

/* Two levels of bits over the keys: level 0 a bit a key, level 1 a bit per level-0 word. */
static inline uint64_t *index_level1(uint64_t *bits, size_t key_bound)
{
    return bits + (key_bound + 63) / 64;
}

/* A key's slot is its rank among the set bits: the keys of the words before its own (first[],
 * written for the words in use), plus the set bits below it in its word. */
FS_CPU_CLONES size_t fs_sparse_local_index(uint32_t *slot, size_t n, size_t key_bound,
                                           uint32_t *first, uint64_t *bits, uint32_t *out_feat)
{
    uint64_t *b1 = index_level1(bits, key_bound);
    for (size_t e = 0; e < n; e++) {
        uint32_t f = slot[e];
        bits[f >> 6] |= UINT64_C(1) << (f & 63);
        b1[f >> 12] |= UINT64_C(1) << ((f >> 6) & 63);
    }
    size_t n_keys = 0, n_b1 = (key_bound + 4095) / 4096;
    for (size_t w1 = 0; w1 < n_b1; w1++)
        for (uint64_t m1 = b1[w1]; m1; m1 &= m1 - 1) {
            size_t w0 = w1 * 64 + (size_t)__builtin_ctzll(m1);
            first[w0] = (uint32_t)n_keys;
            for (uint64_t m0 = bits[w0]; m0; m0 &= m0 - 1)
                out_feat[n_keys++] = (uint32_t)(w0 * 64 + (size_t)__builtin_ctzll(m0));
        }
    for (size_t e = 0; e < n; e++) {
        uint32_t f = slot[e];
        uint64_t below = bits[f >> 6] & ((UINT64_C(1) << (f & 63)) - 1);
        slot[e] = first[f >> 6] + (uint32_t)__builtin_popcountll(below);
    }
    for (size_t w1 = 0; w1 < n_b1; w1++) { /* clear behind: only the words in use */
        for (uint64_t m1 = b1[w1]; m1; m1 &= m1 - 1)
            bits[w1 * 64 + (size_t)__builtin_ctzll(m1)] = 0;
        b1[w1] = 0;
    }
    return n_keys;
}

int fs_sparse_local_reserve(fs_model_scratch *s, size_t key_bound)
{
    if (s->key_bound >= key_bound) return FS_OK;
    uint32_t *first = malloc(FS_SPARSE_LOCAL_WORDS(key_bound) * sizeof *first);
    uint64_t *bits = calloc(FS_SPARSE_LOCAL_BITS(key_bound), sizeof *bits);
    if (!first || !bits) {
        free(first), free(bits);
        return FS_ENOMEM;
    }
    free(s->key_first), free(s->key_bits);
    s->key_first = first, s->key_bits = bits, s->key_bound = key_bound;
    return FS_OK;
}
