/* fs_device: scenario distributions and the participation time model. */
#include "fs_device.h"

#include <gsl/gsl_randist.h>
#include <math.h>

double fs_dist_draw(const fs_dist *d, gsl_rng *r)
{
    switch (d->kind) {
    case FS_DIST_LOGNORMAL: return gsl_ran_lognormal(r, d->a, d->b);
    case FS_DIST_UNIFORM: return d->a + (d->b - d->a) * gsl_rng_uniform(r);
    case FS_DIST_CONST:
    default: return d->a;
    }
}

int64_t fs_time_transfer_us(double bytes, double mbps, double latency_ms)
{
    /* bytes * 8 bit / (mbps * 1e6 bit/s) seconds = bytes * 8 / mbps microseconds */
    return llround(latency_ms * 1e3 + bytes * 8.0 / mbps);
}

int64_t fs_time_compute_us(double flops, double gflops)
{
    return llround(flops / (gflops * 1e3));
}

double fs_train_flops(double epochs, double forward_flops)
{
    return 3.0 * (epochs * forward_flops);
}

int64_t fs_time_train_us(double epochs, double forward_flops, double gflops)
{
    return fs_time_compute_us(fs_train_flops(epochs, forward_flops), gflops);
}

int64_t fs_time_train_trace_us(double epochs, double samples, double ms_per_sample)
{
    return llround(3.0 * ms_per_sample * samples * epochs * 1e3);
}
