/* fs_nn_small: the direct forward kernel of fully connected layers with at most
 * FS_NN_SMALL_OUT_MAX outputs, for prediction (fs_nn_dense_predict) and, where it is the faster,
 * for training (fs_nn_dense_forward, fs_nn_small_trains); see fs_nn_small.c for why and for its
 * fixed summation order. */
#ifndef FS_NN_SMALL_H
#define FS_NN_SMALL_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_model.h"

#define FS_NN_SMALL_OUT_MAX 16

/* out (n x n_out) := in W^T + b, W n_out x n_in, row-major; n_out <= FS_NN_SMALL_OUT_MAX. */
void fs_nn_small_forward(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                         size_t n_in, size_t n_out, fs_real *out);

/* Whether training's forward pass of a layer (fs_nn_dense_forward) takes fs_nn_small_forward
 * rather than sgemm on this CPU: see fs_nn_small.c for the measurements behind the rule. */
bool fs_nn_small_trains(size_t n_in, size_t n_out);

/* fs_nn_small_forward in a chosen register layout: 64-byte blocks (halves false, what AVX-512
 * runs) or 8-lane halves (what other CPUs run). Both give the same bits on one CPU level; tests
 * check it. */
void fs_nn_small_forward_as(const fs_real *W, const fs_real *b, const fs_real *in, size_t n,
                            size_t n_in, size_t n_out, bool halves, fs_real *out);

#endif
