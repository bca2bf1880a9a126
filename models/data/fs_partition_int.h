/* fs_partition_int: what the partitioner files (fs_partition.c, fs_partition_skew.c) share and
 * nothing else calls: the validation of a client count against a dataset, so every partitioner
 * rejects a bad n_clients with the same message. */
#ifndef FS_PARTITION_INT_H
#define FS_PARTITION_INT_H

#include <stddef.h>

#include "fs_data.h"
#include "fs_err.h"

/* Rows are addressed by uint32 and every client must be able to get a row: FS_ESCENARIO, with the
 * error added to err, when ds has more than UINT32_MAX rows or n_clients is not in 1 .. ds->n. */
int fs_partition_check_clients(const fs_dataset *ds, size_t n_clients, fs_err *err);

#endif
