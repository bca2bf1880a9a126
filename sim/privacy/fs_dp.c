/* fs_dp: clipping, noise and the fixed denominator of DP-FedAvg. */
#include "fs_dp.h"

#include <gsl/gsl_randist.h>
#include <math.h>

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

void fs_dp_noise(const fs_dp_cfg *c, gsl_rng *r, double *sum, size_t n, int round)
{
    if (!c->on) return;
    double sd = c->noise_multiplier * c->clip;
    fs_rng_reseed(r, c->seed, FS_RNG_DP_NOISE, FS_RNG_NONE, (uint64_t)round);
    for (size_t j = 0; j < n; j++)
        sum[j] += gsl_ran_gaussian(r, sd);
}

double fs_dp_divisor(const fs_dp_cfg *c, double total_weight)
{
    return c->on ? c->denominator : total_weight;
}
