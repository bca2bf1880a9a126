/* bench_load: seconds until Fashion-MNIST (training and test sets) is in memory, ready to train,
 * with the decoded-data cache off (FEDSIM_CACHE=off: inflate), cold (an empty cache folder:
 * decode, then write the entries) and warm (map the entries), as compact pixels
 * (fs_data_load_idx_u8: what softmax, mlp and cnn runs load); "f32" is warm and expanded to
 * floats (fs_data_load_idx: what any other model is given). Usage:
 * bench_load [FOLDER [REPEATS]] (default /usr/share/datasets/fashion-mnist, 5). The modes
 * alternate within each repeat, each in a fresh cache folder under $TMPDIR (never ~/.cache);
 * prints the median and the best of each. Wall-clock: compare figures from one run. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_clock.h"
#include "fs_data.h"

enum { OFF, COLD, WARM, F32, N_MODES };
static const char *const mode_names[N_MODES] = {"off", "cold", "warm", "f32"};

static double load_both(const char *folder, bool expand)
{
    static const char *const sets[2][2] = {
        {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
        {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}};
    fs_dataset ds[2];
    double t0 = fs_wall_seconds();
    for (int s = 0; s < 2; s++) {
        char img[1024], lbl[1024];
        fs_err err;
        fs_err_init(&err, NULL);
        snprintf(img, sizeof img, "%s/%s", folder, sets[s][0]);
        snprintf(lbl, sizeof lbl, "%s/%s", folder, sets[s][1]);
        if ((expand ? fs_data_load_idx : fs_data_load_idx_u8)(img, lbl, 0, &ds[s], &err)) {
            fs_err_print(&err, stderr);
            exit(1);
        }
    }
    double t = fs_wall_seconds() - t0;
    fs_dataset_fini(&ds[0]);
    fs_dataset_fini(&ds[1]);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    if (repeats < 1 || repeats > 100) repeats = 5;
    const char *tmp = getenv("TMPDIR");
    double t[N_MODES][100];
    for (int r = 0; r < repeats; r++) {
        char dir[512], cmd[600];
        snprintf(dir, sizeof dir, "%s/bench_load_XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) return perror(dir), 1;
        setenv("XDG_CACHE_HOME", dir, 1);
        setenv("FEDSIM_CACHE", "off", 1);
        t[OFF][r] = load_both(folder, false);
        unsetenv("FEDSIM_CACHE");
        t[COLD][r] = load_both(folder, false);
        t[WARM][r] = load_both(folder, false);
        t[F32][r] = load_both(folder, true);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) return 1;
    }
    printf("Fashion-MNIST train + test in memory (%s), %d repeats:\n", folder, repeats);
    for (int m = 0; m < N_MODES; m++) {
        qsort(t[m], (size_t)repeats, sizeof t[m][0], cmp_double);
        printf("  cache %-4s  median %.3f s  best %.3f s\n", mode_names[m], t[m][repeats / 2],
               t[m][0]);
    }
    return 0;
}
