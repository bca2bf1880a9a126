/* fs_clock: wall-clock seconds for run metadata, progress and benchmarks. Never feeds virtual
 * time or any result: a run's outcome must not depend on how fast the machine is. */
#ifndef FS_CLOCK_H
#define FS_CLOCK_H

#include <time.h>

static inline double fs_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
