/* fs_evq: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan 1990) in front of a 4-ary min-heap of
 * 16-byte keys, over a slab of event records, with tombstones for lazy cancellation (as in
 * libuv's timer heap and Redis's ae.c: cancelled timers are skipped when reached).
 *
 * Why two parts: a simulation pops in time order and pushes at or after the last popped time, so
 * the queue is monotone. Once the queue has held FS_EVQ_RADIX_MIN keys (below that the heap fits
 * the cache and is faster alone), keys after t_last wait unsorted in 64 buckets by the highest
 * bit in which their time differs from t_last. When the lowest bucket's earliest time is no later
 * than the heap's, that bucket is spread out: t_last moves to its earliest time, whose keys go to
 * the heap and the others to lower buckets (a bucket of a few keys goes to the heap whole). A key
 * only ever moves down, each move a sequential append, instead of a walk through a heap much
 * larger than the cache. The heap holds the keys at or before t_last (the ties of one instant,
 * and any push earlier than t_last, which stays correct if not monotone), those pushed before the
 * buckets started, those of a small spread bucket, and any a bucket had no memory for; it orders
 * them by the full key (t, class, seq), so the pop order is exactly that of a single heap. A pop
 * leaves its key's place as a hole that a following push at or before t_last fills with one walk
 * down (heapreplace).
 *
 * In the heap, the four children of a node share one 64-byte cache line; a pop moves the hole
 * to a leaf along the smaller children and sifts the last key up from there (Floyd's bottom-up
 * variant: the last key almost always belongs near the bottom, so this saves the comparison
 * against it at every level). */
#include "fs_evq.h"

#include <stdlib.h>
#include <string.h>

enum { ARITY = 4, PAD = 3 }; /* PAD keys before heap[0] put heap[1 + 4k] on a line boundary */

#define NO_REC UINT32_MAX
/* A key landing in buckets 1..8 fires within 256 us of t_last, usually within a few pops: its
 * record, which the pop reads, is fetched then. */
enum { PREFETCH_BUCKETS = 8 };

_Static_assert(sizeof(fs_evq_key) == 16, "four keys to a cache line");

void fs_evq_init(fs_evq *q)
{
    memset(q, 0, sizeof *q);
    q->next_seq = 1;
    q->free_rec = NO_REC;
    q->radix_min = FS_EVQ_RADIX_MIN;
}

void fs_evq_fini(fs_evq *q)
{
    if (q->heap) free(q->heap - PAD);
    free(q->recs);
    for (int b = 0; b < 64; b++) free(q->bucket[b].keys);
    memset(q, 0, sizeof *q);
}

/* Equal times are rare: the class, then the records' insertion order, decide them. */
static bool tie_before(const fs_evq_rec *recs, fs_evq_key a, fs_evq_key b)
{
    if (a.cls != b.cls) return a.cls < b.cls;
    return recs[a.rec].seq < recs[b.rec].seq;
}

/* (t, cls, seq), written so that the usual case (times differ) compiles without a branch. */
static inline bool key_before(const fs_evq_rec *recs, fs_evq_key a, fs_evq_key b)
{
    if (__builtin_expect(a.t == b.t, 0)) return tie_before(recs, a, b);
    return a.t < b.t;
}

static void sift_up(fs_evq_key *h, const fs_evq_rec *recs, size_t i, fs_evq_key k)
{
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (!key_before(recs, k, h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = k;
}

/* The smallest of the children first..first+count-1 (count >= 1). A full set of four, the
 * usual case, is a tournament of selects rather than of jumps: which child wins is a coin toss
 * the branch predictor cannot learn. */
static inline size_t min_child(const fs_evq_key *h, const fs_evq_rec *recs, size_t first,
                               size_t count)
{
    if (count == ARITY) {
        size_t a = first + key_before(recs, h[first + 1], h[first]);
        size_t b = first + 2 + key_before(recs, h[first + 3], h[first + 2]);
        return key_before(recs, h[b], h[a]) ? b : a;
    }
    size_t best = first;
    for (size_t c = first + 1; c < first + count; c++)
        if (key_before(recs, h[c], h[best])) best = c;
    return best;
}

/* heap[0] is a hole: it walks down along the smaller children to a leaf, then k fills it from
 * below. The first step names the next root, whose record the next pop reads: it is fetched
 * while the rest of the walk goes on (on a large queue that read would otherwise miss). */
static void fill_root(fs_evq *q, fs_evq_key k)
{
    fs_evq_key *h = q->heap;
    size_t n = q->n, i = 0;
    for (;;) {
        size_t first = ARITY * i + 1;
        if (first >= n) break;
        /* the next level's line is one of four: fetch them all while these four are compared */
        const fs_evq_key *g = h + ARITY * first + 1;
        __builtin_prefetch(g);
        __builtin_prefetch(g + ARITY);
        __builtin_prefetch(g + 2 * ARITY);
        __builtin_prefetch(g + 3 * ARITY);
        size_t c = min_child(h, q->recs, first, n - first < ARITY ? n - first : ARITY);
        h[i] = h[c];
        if (i == 0) __builtin_prefetch(&q->recs[h[0].rec]);
        i = c;
    }
    sift_up(h, q->recs, i, k);
}

/* Removes heap[0]: the last key fills the hole. */
static void remove_top(fs_evq *q)
{
    if (--q->n) fill_root(q, q->heap[q->n]);
}

/* A pop leaves its key's place as a hole for the next push to fill (see fs_evq.hole); anything
 * else that looks at the heap first closes it the ordinary way. */
static void close_hole(fs_evq *q)
{
    if (!q->hole) return;
    q->hole = false;
    remove_top(q);
}

static bool grow(fs_evq *q)
{
    size_t cap = q->cap ? 2 * q->cap : 64;
    if (cap >= NO_REC) return false; /* handles hold record index + 1 in 32 bits */
    /* 64-byte aligned, PAD keys ahead of heap[0] (see PAD), one more to round the size to whole
     * lines as aligned_alloc wants */
    fs_evq_key *base = aligned_alloc(64, (cap + PAD + 1) * sizeof *base);
    fs_evq_rec *recs = realloc(q->recs, cap * sizeof *recs);
    if (recs) q->recs = recs;
    if (!base || !recs) {
        free(base);
        return false;
    }
    if (q->heap) {
        memcpy(base + PAD, q->heap, q->n * sizeof *base);
        free(q->heap - PAD);
    }
    q->heap = base + PAD;
    q->cap = cap;
    return true;
}

static uint32_t take_rec(fs_evq *q)
{
    uint32_t r = q->free_rec;
    if (r == NO_REC) {
        r = (uint32_t)q->n_recs++;
        q->recs[r].gen_dead = 0;
    } else {
        q->free_rec = q->recs[r].slot;
    }
    return r;
}

/* The record goes back to the free list, its generation moves on (old handles stop matching). */
static void free_rec(fs_evq *q, uint32_t r)
{
    fs_evq_rec *rec = &q->recs[r];
    rec->gen_dead = (rec->gen_dead | 1u) + 1u;
    rec->slot = q->free_rec;
    q->free_rec = r;
}

/* Times as unsigned integers in the same order, so that bit patterns compare as times. */
static inline uint64_t t_image(int64_t t)
{
    return (uint64_t)t ^ (UINT64_C(1) << 63);
}

/* The bucket (1..64) of a key after t_last: the highest bit in which its time differs. */
static inline int bucket_of(uint64_t last, uint64_t u)
{
    return 64 - __builtin_clzll(u ^ last);
}

static bool bucket_reserve(fs_evq_bucket *bk)
{
    if (bk->n < bk->cap) return true;
    size_t cap = bk->cap ? 2 * bk->cap : 16;
    fs_evq_key *keys = realloc(bk->keys, cap * sizeof *keys);
    if (!keys) return false;
    bk->keys = keys;
    bk->cap = cap;
    return true;
}

static inline void bucket_add(fs_evq *q, int b, uint64_t u, fs_evq_key k)
{
    fs_evq_bucket *bk = &q->bucket[b - 1];
    bk->min = !bk->n || u < bk->min ? u : bk->min;
    bk->keys[bk->n++] = k;
    q->nonempty |= UINT64_C(1) << (b - 1);
    if (b <= PREFETCH_BUCKETS) __builtin_prefetch(&q->recs[k.rec]);
}

/* Into the heap, which always has room (cap covers every queued key); after a pop the new key
 * fills the popped one's place with one walk down (heapreplace) instead of a removal and a sift
 * up. */
static void heap_add(fs_evq *q, fs_evq_key k)
{
    if (q->hole) {
        q->hole = false;
        fill_root(q, k);
    } else {
        sift_up(q->heap, q->recs, q->n++, k);
    }
}

/* The queue has grown past radix_min: later keys go to the buckets. The heap's keys stay where
 * they are (the pop compares the heap's earliest time with the buckets'), so this costs nothing. */
static void start_radix(fs_evq *q)
{
    close_hole(q);
    q->radix = true;
    q->last = q->n ? t_image(q->heap[0].t) : 0;
}

/* The lowest bucket holds the earliest keys of all buckets (each differs from t_last in a lower
 * bit than any key of a higher bucket). */
static inline uint64_t buckets_min(const fs_evq *q)
{
    return q->bucket[__builtin_ctzll(q->nonempty)].min;
}

uint64_t fs_evq_push(fs_evq *q, const fs_event *ev)
{
    uint64_t u = t_image(ev->t);
    if (!q->radix && q->n >= q->radix_min) start_radix(q);
    int b = q->radix && u > q->last ? bucket_of(q->last, u) : 0;
    if (b && !bucket_reserve(&q->bucket[b - 1])) b = 0; /* the heap orders it as well */
    if (b) close_hole(q);
    if (!q->hole && q->n + q->n_far == q->cap && !grow(q)) return 0;
    uint32_t r = take_rec(q);
    fs_evq_rec *rec = &q->recs[r];
    rec->seq = q->next_seq++;
    rec->kind = ev->kind;
    rec->client = ev->client;
    rec->slot = ev->slot;
    fs_evq_key k = {.t = ev->t, .cls = ev->cls, .rec = r};
    if (b) {
        bucket_add(q, b, u, k);
        q->n_far++;
    } else {
        heap_add(q, k);
    }
    return (uint64_t)(rec->gen_dead >> 1) << 32 | (r + 1u);
}

/* A lowest bucket of at most this many keys goes straight to the heap rather than to lower
 * buckets: those keys would be spread again and again on their way down, and a heap of a few
 * keys orders them in a step or two (best of 3 hold-model runs, 100,000 pending: 1, 2, 4, 8, 16,
 * 32, 64 tried; 8 was fastest, +18% on the median of 5 over moving every key down). The heap
 * orders any key exactly, so this changes no pop. */
enum { SPREAD_TO_HEAP = 8 };

/* The buckets hold a key no later than the heap's earliest: t_last moves to the smallest time of
 * the lowest bucket, whose keys go to the heap (those at the new t_last) or to lower buckets (the
 * others: each now differs from t_last in a lower bit). A bucket that cannot grow leaves its key
 * in the heap, which orders it exactly as well, so spreading never fails. */
static void spread_lowest(fs_evq *q)
{
    int b = __builtin_ctzll(q->nonempty) + 1;
    fs_evq_bucket *src = &q->bucket[b - 1];
    uint64_t last = src->min;
    q->last = last;
    q->nonempty &= ~(UINT64_C(1) << (b - 1));
    size_t n = src->n, n_far = q->n_far - n; /* a local: the stores into buckets could alias it */
    src->n = 0;
    if (n <= SPREAD_TO_HEAP) {
        for (size_t j = 0; j < n; j++) {
            __builtin_prefetch(&q->recs[src->keys[j].rec]);
            heap_add(q, src->keys[j]);
        }
        q->n_far = n_far;
        return;
    }
    for (size_t j = 0; j < n; j++) {
        fs_evq_key k = src->keys[j];
        uint64_t u = t_image(k.t);
        int c = u == last ? 0 : bucket_of(last, u);
        if (c && bucket_reserve(&q->bucket[c - 1])) {
            bucket_add(q, c, u, k);
            n_far++;
        } else {
            __builtin_prefetch(&q->recs[k.rec]); /* the pop reads it next */
            heap_add(q, k);
        }
    }
    q->n_far = n_far;
}

bool fs_evq_cancel(fs_evq *q, uint64_t handle)
{
    uint64_t r = (handle & 0xffffffffu) - 1;
    if (r >= q->n_recs) return false;
    fs_evq_rec *rec = &q->recs[r];
    /* a live use of the record has the handle's generation and no cancelled bit */
    if ((uint64_t)rec->gen_dead != (handle >> 32) << 1) return false;
    rec->gen_dead |= 1u;
    q->n_dead++;
    return true;
}

bool fs_evq_peek(fs_evq *q, fs_event *out)
{
    close_hole(q);
    for (;;) {
        if (q->nonempty && (!q->n || buckets_min(q) <= t_image(q->heap[0].t))) {
            spread_lowest(q);
            continue;
        }
        if (!q->n) return false;
        fs_evq_key k = q->heap[0];
        const fs_evq_rec *rec = &q->recs[k.rec];
        if (!(rec->gen_dead & 1u)) {
            *out = (fs_event){.t = k.t,
                              .cls = k.cls,
                              .kind = rec->kind,
                              .seq = rec->seq,
                              .client = rec->client,
                              .slot = rec->slot};
            return true;
        }
        q->n_skipped++;
        q->n_dead--;
        remove_top(q);
        free_rec(q, k.rec);
    }
}

bool fs_evq_pop(fs_evq *q, fs_event *out)
{
    if (!fs_evq_peek(q, out)) return false;
    free_rec(q, q->heap[0].rec);
    q->hole = true;
    q->n_popped++;
    return true;
}
