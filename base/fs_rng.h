/* fs_rng: derived random streams. Every random draw in fedsim comes from a stream named by
 * (run seed, purpose, client, round), hashed with SplitMix64 into the 256-bit state of a
 * xoshiro256** generator exposed as a GSL rng type, so gsl_ran_* distributions work on it.
 * Streams never depend on the order in which clients are processed. Purposes are a closed,
 * numbered enum: adding one never shifts the others. */
#ifndef FS_RNG_H
#define FS_RNG_H

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>

enum fs_rng_purpose {
    FS_RNG_DATA = 1,      /* dataset generation (per client for procedural generators) */
    FS_RNG_PARTITION = 2, /* assigning samples to clients */
    FS_RNG_DEVICE = 3,    /* device speed, bandwidth, latency, time zone */
    FS_RNG_AVAIL = 4,     /* availability state at selection time */
    FS_RNG_SELECT = 5,    /* server's choice among available clients */
    FS_RNG_FAILURE = 6,   /* crash and go-offline times during a participation */
    FS_RNG_TRAIN = 7,     /* minibatch order in local training */
    FS_RNG_INIT = 8,      /* global model initialisation */
    FS_RNG_CONSENT = 9,   /* whether a client opted out */
    FS_RNG_COMPRESS = 10, /* random-k choices and stochastic quantization of an update */
    FS_RNG_DP_NOISE = 11, /* the server's Gaussian noise of DP-FedAvg, per round */
    FS_RNG_REPLICATE = 12, /* the seeds of a sweep's replicate r (round argument = r) */
    FS_RNG_CHARGE = 13,    /* a client's charging sessions of one local day (round = day) */
    FS_RNG_NETWORK = 14,   /* Wi-Fi at home (round NONE), Wi-Fi away on one day (round = day) */
    FS_RNG_ENERGY = 15,    /* device class and initial battery level */
    FS_RNG_CELL_LINK = 16, /* the client's cellular uplink, downlink and latency */
    FS_RNG_TRACE = 17,     /* a client's trace key (fs_trace_assign_key: a hash, no stream) */
    FS_RNG_ADVERSARY = 18, /* whether a client is an attacker (population_seed, round NONE) */
    FS_RNG_ATTACK = 19     /* an attacker's own draws in one round (gaussian noise) */
};

#define FS_RNG_NONE UINT64_MAX /* client or round argument that does not apply */

/* The 64-bit seed of stream (seed, purpose, client, round): a pure function of its inputs. */
uint64_t fs_rng_seed(uint64_t seed, uint32_t purpose, uint64_t client, uint64_t round);

/* xoshiro256** (Blackman & Vigna 2018) as a gsl_rng_type; gsl_rng_set() expands the 64-bit seed
 * with SplitMix64, so every seed (including 0) gives a valid state. */
extern const gsl_rng_type *fs_rng_xoshiro;

/* A new generator of type fs_rng_xoshiro; free with gsl_rng_free. NULL when out of memory. */
gsl_rng *fs_rng_new(void);

/* Re-seeds `r` (any GSL type, normally fs_rng_xoshiro) to stream (seed, purpose, client, round).
 * Cheap enough to call once per client per round. */
void fs_rng_reseed(gsl_rng *r, uint64_t seed, uint32_t purpose, uint64_t client, uint64_t round);

/* One SplitMix64 step (Steele et al. 2014). Inline: a million-client run calls it tens of
 * millions of times (every stream seed is four steps), and as a call it was 3% of the samples. */
static inline uint64_t fs_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* fs_rng_seed, inline (fs_rng.c's is this one). Each input is folded through one SplitMix64
 * step so that nearby (client, round) pairs land on unrelated seeds; chaining (rather than XOR
 * of independent hashes) keeps argument order significant, so (client=1, round=2) and
 * (client=2, round=1) differ. */
static inline uint64_t fs_rng_seed_inline(uint64_t seed, uint32_t purpose, uint64_t client,
                                          uint64_t round)
{
    uint64_t s = seed;
    uint64_t h = fs_splitmix64(&s);
    s = h ^ ((uint64_t)purpose * 0xd1342543de82ef95ULL);
    h = fs_splitmix64(&s);
    s = h ^ client;
    h = fs_splitmix64(&s);
    s = h ^ round;
    return fs_splitmix64(&s);
}

static inline uint64_t fs_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The first gsl_rng_uniform of stream (seed, purpose, client, round) on an fs_rng_xoshiro
 * generator, without one: xoshiro256**'s first output reads only the second word of the state,
 * which gsl_rng_set fills with the second SplitMix64 step of the stream's seed. A selection asks
 * tens of thousands of candidates a round one availability draw each, from each one's own
 * stream; seeding a whole generator for it (four steps and GSL's calls) was most of the cost of
 * a query. test_rng checks the value against reseeding and drawing. */
static inline double fs_rng_first_uniform(uint64_t seed, uint32_t purpose, uint64_t client,
                                          uint64_t round)
{
    uint64_t sm = fs_rng_seed_inline(seed, purpose, client, round);
    (void)fs_splitmix64(&sm); /* the state's first word: not read by the first output */
    uint64_t s1 = fs_splitmix64(&sm);
    return (double)((fs_rotl64(s1 * 5, 7) * 9) >> 11) * 0x1.0p-53;
}

/* ---- inline draws from an fs_rng_xoshiro generator: the values gsl_rng_uniform,
 * gsl_rng_uniform_int and gsl_ran_discrete give on it, draw for draw (test_rng compares them
 * over millions of draws), without GSL's calls through the type's function pointers. A CTR
 * client's data takes ~50 draws; through GSL they were 6.7% of a 1M-user run's samples. Only
 * for a generator known to be of type fs_rng_xoshiro (fs_rng_is_xoshiro). */

typedef struct fs_xoshiro_state {
    uint64_t s[4];
} fs_xoshiro_state;

static inline bool fs_rng_is_xoshiro(const gsl_rng *r)
{
    return r->type == fs_rng_xoshiro;
}

static inline uint64_t fs_xoshiro_next(fs_xoshiro_state *st)
{
    uint64_t *s = st->s;
    const uint64_t result = fs_rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = fs_rotl64(s[3], 45);
    return result;
}

/* The type's two outputs (fs_rng_xoshiro's get and get_double, and the fs_xo_ draws): the top
 * 32 bits of a step, so that GSL distributions that assume a 32-bit range stay exact, and 53
 * random bits -> a uniform double in [0, 1). */
static inline uint32_t fs_xoshiro_u32(fs_xoshiro_state *st)
{
    return (uint32_t)(fs_xoshiro_next(st) >> 32);
}

static inline double fs_xoshiro_double(fs_xoshiro_state *st)
{
    return (double)(fs_xoshiro_next(st) >> 11) * 0x1.0p-53;
}

/* gsl_rng_uniform */
static inline double fs_xo_uniform(const gsl_rng *r)
{
    return fs_xoshiro_double(r->state);
}

/* gsl_rng_uniform_int for 0 < n <= 2^32 - 1: the type's 32-bit draws (the top half of a step),
 * divided by range / n and rejected at n or above, exactly as GSL does (no modulo bias). */
static inline unsigned long fs_xo_uniform_int(const gsl_rng *r, unsigned long n)
{
    unsigned long scale = 0xffffffffUL / n, k;
    do
        k = (unsigned long)fs_xoshiro_u32(r->state) / scale;
    while (k >= n);
    return k;
}

/* gsl_ran_discrete: Walker's alias table as GSL's preproc leaves it (F[c] holds (c + the
 * cutoff) / K, so one uniform picks the column and decides between it and its alias). */
static inline size_t fs_xo_discrete(const gsl_rng *r, const gsl_ran_discrete_t *g)
{
    double u = fs_xo_uniform(r);
    size_t c = (size_t)(u * (double)g->K);
    return u < g->F[c] ? c : g->A[c];
}

/* Uniform random permutation of a[0..n) in place (Fisher-Yates; gsl_rng_uniform_int is exact,
 * without modulo bias, for n up to 2^32). */
void fs_rng_shuffle_u32(gsl_rng *r, uint32_t *a, size_t n);

#endif
