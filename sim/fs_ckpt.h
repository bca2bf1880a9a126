/* fs_ckpt: the engine's state between two synchronous rounds, as one byte string: the global
 * model, the server optimizer's moments, the privacy accountant, SCAFFOLD's control variate,
 * every client's changing state (busy, availability) and the selection permutation, the devices'
 * private state (personal parameters, control variates, compression residuals), the virtual
 * clock and counters. Random streams are derived, never stateful, and device draws are redrawn
 * from the seed, so this is all a resumed run needs to continue exactly.
 * A snapshot comes from a file users copy and edit, so it is never trusted: a header carries the
 * format version, the total length, a CRC-32 of everything after it, a hash of the effective
 * scenario, a fingerprint of the input data and the round; every section is tagged and
 * length-checked, and every index and value is checked before it reaches the engine. Snapshots
 * are tied to one fedsim format version: not an interchange format. */
#ifndef FS_CKPT_H
#define FS_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "fs_engine_int.h"

/* A fingerprint of the data a run trains and evaluates on, as loaded: a CRC-32 of the contents
 * of the train and test datasets (features, labels, targets, group levels) for the file sources
 * (fashion-mnist, csv, libsvm). A content hash rather than the files' size and mtime: copying a
 * results folder or touching a file keeps it, any edit that changes what the run would train on
 * changes it. 0 for generated sources, whose data are a function of the scenario (hashed
 * separately). Computed once per run by fs_run (a pass over the data). */
uint64_t fs_ckpt_fingerprint(const fs_scenario *s, const fs_world *w);

/* A new buffer (caller frees) holding the state after round e->round, stamped with
 * e->cfg->data_fingerprint; NULL when out of memory. */
unsigned char *fs_ckpt_save(const fs_engine *e, size_t *out_len);

/* Restores a state saved by fs_ckpt_save into an engine initialised from the same scenario,
 * after checking the header (version, length, checksum, scenario hash, data fingerprint against
 * e->cfg->data_fingerprint, round against e->cfg->resume_round) and every section. Messages
 * start with e->cfg->resume_origin (e.g. "results.sqlite: run 3") and say what is wrong and what
 * to do. FS_EDB when the snapshot is damaged, edited or does not belong to this run and its
 * data (the engine is then half-restored and must be discarded), FS_ENOMEM. */
int fs_ckpt_load(fs_engine *e, const unsigned char *buf, size_t len, fs_err *err);

/* Recomputes the checksum of a snapshot in place (tests and the fuzzer edit snapshots and
 * reseal them, to reach the checks behind the checksum). No-op when len is below the header. */
void fs_ckpt_reseal(unsigned char *buf, size_t len);

/* Offset and length of the payload of the section with the 4-letter tag (e.g. "PERM"), for
 * tests that damage one section. false when the snapshot has no such section. */
bool fs_ckpt_find(const unsigned char *buf, size_t len, const char *tag, size_t *out_off,
                  size_t *out_len);

#endif
