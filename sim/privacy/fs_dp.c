/* fs_dp: clipping, noise and the fixed denominator of DP-FedAvg. */
#include "fs_dp.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdbool.h>

#include "fs_rng.h"

fs_dp_cfg fs_dp_cfg_of(const fs_scenario *s, double denominator)
{
    return (fs_dp_cfg){.on = s->privacy.dp,
                       .clip = s->privacy.clip,
                       .noise_multiplier = s->privacy.noise_multiplier,
                       .denominator = denominator,
                       .seed = s->seed};
}

/* The sum of squares is taken in double. Each scaled value is rounded to fs_real, which can
 * lengthen the vector by a relative FS_REAL_EPS / 2 at most; scaling by that much less keeps the
 * clipped norm at or below clip, the sensitivity the accountant assumes. */
void fs_dp_clip(fs_update *u, double clip)
{
    fs_real *v = u->sparse ? u->val : u->dense;
    size_t n = u->sparse ? u->nnz : u->n_params;
    double norm = 0;
    for (size_t i = 0; i < n; i++)
        norm += (double)v[i] * v[i];
    norm = sqrt(norm);
    if (norm <= clip) return;
    double scale = clip / norm * (1.0 - FS_REAL_EPS);
    for (size_t i = 0; i < n; i++)
        v[i] = (fs_real)(v[i] * scale);
}

double fs_dp_weight(const fs_dp_cfg *c, double n_samples)
{
    return c->on ? 1.0 : n_samples;
}

/* Blocks of coordinates draw from streams of their own, so threads can take blocks and the noise
 * is the same on any number of them; the ziggurat (Marsaglia and Tsang 2000, GSL's) draws about
 * four times faster than the polar method. One serial polar draw per coordinate of a 2^18-feature
 * model was a sixth of ctr_private's samples, all on the engine's thread. */
int fs_dp_noise(const fs_dp_cfg *c, double *sum, size_t n, int round, int n_threads)
{
    if (!c->on) return FS_OK;
    double sd = c->noise_multiplier * c->clip;
    size_t n_blocks = (n + FS_DP_NOISE_BLOCK - 1) / FS_DP_NOISE_BLOCK;
    int threads = n_threads < 1 || n_blocks < 2 ? 1
                  : (size_t)n_threads < n_blocks ? n_threads
                                                  : (int)n_blocks;
    bool oom = false;
#pragma omp parallel num_threads(threads) reduction(|| : oom)
    {
        gsl_rng *r = fs_rng_new();
        oom = !r;
#pragma omp for schedule(static)
        for (size_t b = 0; b < n_blocks; b++) {
            if (!r) continue;
            fs_rng_reseed(r, c->seed, FS_RNG_DP_NOISE, b, (uint64_t)round);
            size_t end = (b + 1) * FS_DP_NOISE_BLOCK < n ? (b + 1) * FS_DP_NOISE_BLOCK : n;
            for (size_t j = b * FS_DP_NOISE_BLOCK; j < end; j++)
                sum[j] += gsl_ran_gaussian_ziggurat(r, sd);
        }
        if (r) gsl_rng_free(r);
    }
    return oom ? FS_ENOMEM : FS_OK;
}

double fs_dp_divisor(const fs_dp_cfg *c, double total_weight)
{
    return c->on ? c->denominator : total_weight;
}
