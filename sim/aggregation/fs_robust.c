/* fs_robust: the table of server.robust's aggregators, one file each (fs_robust_<name>.c; median
 * and trimmed_mean share fs_robust_coord.c). Adding one: its file, its row below, its word in
 * enum fs_robust_kind (fs_scn.h), its variant in fs_scn_tables.c, and sim/meson.build.
 *
 * What the rules do to DP's sensitivity, and why only norm_bound is allowed with privacy.dp:
 * DP-FedAvg's noise z S / K is calibrated to the mean's sensitivity (one client moves the mean by
 * at most S / K). When one client changes, each coordinate's median can step to a neighbouring
 * order statistic of the others, at most twice the largest of their values; over all coordinates
 * that is at most 2 S sqrt(n - 1) in L2 (the others' squares sum to at most (n - 1) S^2). The
 * trimmed mean divides that step by the n - 2 floor(beta n) values it keeps, and Krum's pick can
 * jump from one report to another (up to 2S). Each exceeds S / K by a factor growing with n: the
 * noise would no longer buy the epsilon the accountant reports. norm_bound is a second clip:
 * sensitivity min(S, max_norm) / K, at most what the noise assumes, so the reported epsilon stays
 * an upper bound. */
#include "fs_robust.h"

extern const fs_robust fs_robust_median_row, fs_robust_trimmed_mean_row, fs_robust_krum_row,
    fs_robust_norm_bound_row;

static const fs_robust *const table[FS_ROBUST_N_KINDS] = {
    [FS_ROBUST_MEDIAN] = &fs_robust_median_row,
    [FS_ROBUST_TRIMMED_MEAN] = &fs_robust_trimmed_mean_row,
    [FS_ROBUST_KRUM] = &fs_robust_krum_row,
    [FS_ROBUST_NORM_BOUND] = &fs_robust_norm_bound_row,
};

const fs_robust *fs_robust_of(const fs_scenario *s)
{
    return s->server.robust == FS_ROBUST_NONE ? NULL : table[s->server.robust];
}
