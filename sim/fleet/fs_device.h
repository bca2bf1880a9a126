/* fs_device: device and network characteristics and the time model of one participation.
 * Pure arithmetic on integer microseconds: transfer = latency + bytes / bandwidth;
 * compute = training FLOPs / device speed. No state, no I/O. */
#ifndef FS_DEVICE_H
#define FS_DEVICE_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "fs_scn.h"

#define FS_US_PER_S INT64_C(1000000)
#define FS_US_PER_H INT64_C(3600000000)

/* One draw from a scenario distribution. */
double fs_dist_draw(const fs_dist *d, gsl_rng *r);

/* Microseconds to move `bytes` over a link of `mbps` megabits/s (1e6 bit/s) after `latency_ms`,
 * rounded to the nearest microsecond. */
int64_t fs_time_transfer_us(double bytes, double mbps, double latency_ms);

/* Microseconds for `flops` floating-point operations on a device of `gflops` GFLOP/s. */
int64_t fs_time_compute_us(double flops, double gflops);

/* FLOPs of local training: `epochs` passes over data whose forward pass costs `forward_flops`
 * (fs_world_client_flops); every sample costs a forward and a backward pass, taken as 3x the
 * forward FLOPs (backward ~ 2x forward). The engine's only source of training cost. */
double fs_train_flops(double epochs, double forward_flops);

/* Microseconds of local training on a device of `gflops` GFLOP/s (fs_train_flops). */
int64_t fs_time_train_us(double epochs, double forward_flops, double gflops);

/* Microseconds of local training on a capacity-trace device: FedScale's convention, its
 * compute_ms_per_sample is an inference latency and training costs 3x per sample, so
 * 3 * ms_per_sample * samples * epochs milliseconds. */
int64_t fs_time_train_trace_us(double epochs, double samples, double ms_per_sample);

#endif
