/* fuzz_load: libFuzzer harness for the text loaders: arbitrary bytes as a CSV file (dense,
 * hashed and index encodings) and as a LIBSVM file. Must never crash or read out of bounds: a
 * NUL byte at a line start once read before the line buffer. Run with tools/fuzz loaders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fs_load.h"
int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz_load_%d.csv", getpid());
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
    fs_err err;
    fs_dataset ds;
    const char *groups[] = {"g"}, *cats[] = {"c"};
    fs_csv_opts o[3] = {
        {.label = "y"},
        {.label = "y", .groups = groups, .n_groups = 1, .categorical = cats, .n_categorical = 1,
         .encoding = FS_CAT_HASH, .hash_buckets = 64},
        {.label = "y", .categorical = cats, .n_categorical = 1, .encoding = FS_CAT_INDEX,
         .regression = true},
    };
    for (int i = 0; i < 3; i++) {
        fs_err_init(&err, NULL);
        if (fs_data_load_csv(path, &o[i], &ds, &err) == FS_OK) fs_dataset_fini(&ds);
    }
    fs_err_init(&err, NULL);
    if (fs_data_load_libsvm(path, 0, false, &ds, &err) == FS_OK) fs_dataset_fini(&ds);
    unlink(path);
    return 0;
}
