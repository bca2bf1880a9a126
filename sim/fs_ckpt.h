/* fs_ckpt: the engine's state between two synchronous rounds, as one byte string: the global
 * model, the server optimizer's moments, the privacy accountant, SCAFFOLD's control variate,
 * every client's record and the selection permutation, the devices' private state (personal
 * parameters, control variates, compression residuals), the virtual clock and counters. Random
 * streams are derived, never stateful, so this is all a resumed run needs to continue exactly.
 * Snapshots are tied to one fedsim build (raw structs): not an interchange format. */
#ifndef FS_CKPT_H
#define FS_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "fs_engine_int.h"

/* A new buffer (caller frees) holding the state after round e->round; NULL when out of memory. */
unsigned char *fs_ckpt_save(const fs_engine *e, size_t *out_len);

/* Restores a state saved by fs_ckpt_save into an engine initialised from the same scenario.
 * FS_ESCENARIO naming what does not match (a different scenario or build), FS_ENOMEM. */
int fs_ckpt_load(fs_engine *e, const unsigned char *buf, size_t len, fs_err *err);

#endif
