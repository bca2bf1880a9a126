/* fs_algo: the table of algorithms, in the order of the words of server.algorithm. Adding an
 * algorithm: its file fs_algo_<name>.c, its row in both lists below, and sim/meson.build. */
#include "fs_algo.h"

extern const fs_algo fs_algo_fedavg, fs_algo_fedprox, fs_algo_scaffold, fs_algo_qffl,
    fs_algo_fednova;

static const fs_algo *const table[] = {&fs_algo_fedavg, &fs_algo_fedprox, &fs_algo_scaffold,
                                       &fs_algo_qffl, &fs_algo_fednova};
const char *const fs_algo_names[] = {"fedavg", "fedprox", "scaffold", "qffl", "fednova", NULL};

_Static_assert(sizeof table / sizeof *table + 1 == sizeof fs_algo_names / sizeof *fs_algo_names,
               "one name per algorithm");

const fs_algo *fs_algo_at(size_t i)
{
    return i < sizeof table / sizeof *table ? table[i] : NULL;
}

const fs_algo *fs_algo_of(const fs_scenario *s)
{
    return table[s->server.algorithm];
}
