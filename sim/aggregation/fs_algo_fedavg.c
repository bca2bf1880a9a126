/* fs_algo_fedavg: FedAvg (McMahan et al. 2017), the default: local SGD, and the server's weighted
 * mean of the deltas (fs_agg) with no extra state. Stragglers are dropped. */
#include "fs_algo.h"

const fs_algo fs_algo_fedavg = {.name = "fedavg"};
