/* fs_dp: what DP-FedAvg (McMahan et al. 2018) does to the updates, in one place. The client clips
 * its delta to L2 norm S (clip); the server weights every report equally, adds N(0, (z S)^2) per
 * coordinate to the sum and divides by a fixed denominator K: the number of updates one server
 * step sums by design (clients_per_round in synchronous rounds, buffer_size under FedBuff), given
 * by the server policy. That is the sensitivity rule: whatever the others send, one client moves
 * the mean by at most S / K, and the noise's z S / K is calibrated to it. The privacy accountant
 * (fs_rdp) stays with the aggregator. */
#ifndef FS_DP_H
#define FS_DP_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_model.h"
#include "fs_scn.h"

typedef struct fs_dp_cfg {
    bool on;
    double clip;              /* S */
    double noise_multiplier;  /* z */
    double denominator;       /* K */
    uint64_t seed;            /* the noise's streams: (seed, DP_NOISE, block, round) */
} fs_dp_cfg;

/* The scenario's privacy.dp with the server policy's denominator. */
fs_dp_cfg fs_dp_cfg_of(const fs_scenario *s, double denominator);

/* Client side: scales u to L2 norm at most clip (dense or sparse). */
void fs_dp_clip(fs_update *u, double clip);

/* A report's weight in the sum: equal under DP (the sensitivity rule), else its sample count. */
double fs_dp_weight(const fs_dp_cfg *c, double n_samples);

/* Server side: adds the round's Gaussian noise N(0, (noise_multiplier * clip)^2) to each of the n
 * coordinates of sum when DP is on: coordinates j of block b = j / FS_DP_NOISE_BLOCK from stream
 * (seed, DP_NOISE, b, round), in order, on up to n_threads threads (the same noise on any
 * number). FS_ENOMEM (the sum then partly noised: the round must fail). */
#define FS_DP_NOISE_BLOCK 8192
int fs_dp_noise(const fs_dp_cfg *c, double *sum, size_t n, int round, int n_threads);

/* What the sum is divided by: the fixed K under DP, else the total weight. */
double fs_dp_divisor(const fs_dp_cfg *c, double total_weight);

#endif
