/* fs_rng: SplitMix64 stream derivation and a xoshiro256** GSL generator type. */
#include "fs_rng.h"

#include <string.h>

uint64_t fs_rng_seed(uint64_t seed, uint32_t purpose, uint64_t client, uint64_t round)
{
    return fs_rng_seed_inline(seed, purpose, client, round);
}

/* The state, step and outputs are fs_rng.h's (fs_xoshiro_next, _u32, _double), which the
 * inline fs_xo_ draws share: both give the same values by construction. */
static void xoshiro_set(void *vstate, unsigned long int seed)
{
    fs_xoshiro_state *st = vstate;
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) st->s[i] = fs_splitmix64(&sm);
}

/* GSL's `get` returns an unsigned long in [min, max] (max 2^32 - 1: fs_xoshiro_u32). */
static unsigned long int xoshiro_get(void *vstate)
{
    return fs_xoshiro_u32(vstate);
}

static double xoshiro_get_double(void *vstate)
{
    return fs_xoshiro_double(vstate);
}

static const gsl_rng_type xoshiro_type = {
    "fs_xoshiro256ss", 0xffffffffUL, 0, sizeof(fs_xoshiro_state),
    &xoshiro_set, &xoshiro_get, &xoshiro_get_double,
};

const gsl_rng_type *fs_rng_xoshiro = &xoshiro_type;

gsl_rng *fs_rng_new(void)
{
    return gsl_rng_alloc(fs_rng_xoshiro);
}

void fs_rng_reseed(gsl_rng *r, uint64_t seed, uint32_t purpose, uint64_t client, uint64_t round)
{
    gsl_rng_set(r, (unsigned long int)fs_rng_seed(seed, purpose, client, round));
}

void fs_rng_shuffle_u32(gsl_rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = gsl_rng_uniform_int(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
