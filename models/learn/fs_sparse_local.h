/* fs_sparse_local: the machinery a model's train_sparse shares (fs_logreg, fs_mf): a local index
 * of the features a client's entries touch (by sorting the entries, or through a thread's bitmap
 * over the features), and fs_sgd_train's epoch and minibatch loop over shuffled local row ids.
 * Everything costs O(client non-zeros), plus for the bitmap a walk over n_features / 4096 words,
 * and works in caller-provided buffers (a train_sparse lays them out in its fs_update's idx/val,
 * grown by fs_update_reserve); only fs_sparse_local_reserve allocates: the thread's bitmap, about
 * 1.5 bits a feature, kept for its next clients. */
#ifndef FS_SPARSE_LOCAL_H
#define FS_SPARSE_LOCAL_H

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"
#include "fs_rng.h"

/* Stable sorts of ids 0..n-1 by key[id], ping-ponging between the caller's buffers a and b (n
 * each); each returns the one (a or b) holding the sorted ids. Radix: O(n + 2^11) a pass, with as
 * few passes as keys below key_bound need (2 for 2^18), for many entries over a hashed feature
 * space. Merge: O(n log n) whatever the key range, for few entries over a large catalogue. */
const uint32_t *fs_sparse_local_radix_sort(const uint32_t *key, size_t n, size_t key_bound,
                                           uint32_t *a, uint32_t *b);
const uint32_t *fs_sparse_local_merge_sort(const uint32_t *key, size_t n, uint32_t *a,
                                           uint32_t *b);

/* slot[0..n) holds each entry's key on entry and its local slot on exit; equal keys share a slot,
 * slots numbered in key order, so out_feat (the distinct keys) comes out ascending. sorted is the
 * ids ordered by key (from a sort above). Returns the number of slots. */
size_t fs_sparse_local_assign_slots(uint32_t *slot, const uint32_t *sorted, size_t n,
                                    uint32_t *out_feat);

/* The slots fs_sparse_local_assign_slots gives after a sort, without sorting: every entry's key
 * sets its bit in a two-level bitmap (bits: FS_SPARSE_LOCAL_BITS(key_bound) words, all zero on
 * entry and again on return); a walk over the set words, lowest first, writes the distinct keys
 * ascending to out_feat and each word's first slot to first (FS_SPARSE_LOCAL_WORDS(key_bound)
 * entries of scratch, read only where written); a key's slot is then its word's first plus the
 * set bits below it. For 2^18 keys the scratch is 48 KiB, against a sort's passes over every
 * entry. Returns the number of slots. */
#define FS_SPARSE_LOCAL_WORDS(key_bound) (((key_bound) + 63) / 64)
#define FS_SPARSE_LOCAL_BITS(key_bound)                                                        \
    (FS_SPARSE_LOCAL_WORDS(key_bound) + ((key_bound) + 4095) / 4096)
size_t fs_sparse_local_index(uint32_t *slot, size_t n, size_t key_bound, uint32_t *first,
                             uint64_t *bits, uint32_t *out_feat);
/* The thread scratch's key_first and key_bits, for keys below at least key_bound. */
int fs_sparse_local_reserve(fs_model_scratch *s, size_t key_bound);

/* One minibatch step on local state ctx over local row ids batch[0..k): returns the batch's loss
 * and applies the step only when that loss is finite. */
typedef double (*fs_sparse_local_step_fn)(void *ctx, const uint32_t *batch, size_t k);

/* fs_sgd_train's loop on local row ids 0..n-1: each epoch refills order (n, caller scratch) and
 * shuffles it with r, which gives fs_sgd_train's permutation (Fisher-Yates draws depend only on
 * n, never on the values moved), then steps through it in batches of cfg->batch_size. Sets res
 * (steps, mean_loss); FS_ENUMERIC, with res->mean_loss the non-finite loss, at the first batch
 * whose loss is not finite. As there, a step counts only once its loss is finite, so the local
 * state then holds the last finite parameters. Only epochs and batch_size are read: max_steps,
 * prox_mu and correction belong to fs_sgd_train's dense path (the engine passes none here).
 * Inline so that a constant step is inlined into the model's train_sparse and its local state
 * never escapes: passed to an out-of-line loop, every write through the state's arrays could
 * alias its fields, which made logreg's training 18% slower. */
static inline int fs_sparse_local_train(size_t n, uint32_t *order, const fs_sgd_cfg *cfg,
                                        gsl_rng *r, fs_sparse_local_step_fn step, void *ctx,
                                        fs_sgd_result *res)
{
    double loss_sum = 0;
    size_t seen = 0;
    *res = (fs_sgd_result){0};
    for (int ep = 0; ep < cfg->epochs; ep++) {
        for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
        fs_rng_shuffle_u32(r, order, n);
        for (size_t at = 0; at < n; at += cfg->batch_size) {
            size_t k = n - at < cfg->batch_size ? n - at : cfg->batch_size;
            double loss = step(ctx, order + at, k);
            if (!isfinite(loss)) {
                res->mean_loss = loss;
                return FS_ENUMERIC;
            }
            loss_sum += loss * (double)k;
            seen += k;
            res->steps++;
        }
    }
    res->mean_loss = seen ? loss_sum / (double)seen : 0;
    return FS_OK;
}

#endif
