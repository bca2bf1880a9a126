/* fs_sparse_local: the local feature index shared by the train_sparse of fs_logreg and fs_mf
 * (see fs_sparse_local.h), built once per client by sorting entry ids by feature. The training
 * loop is inline in the header. */
#include <string.h>

#include "fs_sparse_local.h"

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
