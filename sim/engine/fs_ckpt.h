/* fs_ckpt: the engine's state between two rounds, as one byte string: the global
 * model, the server optimizer's moments, the privacy accountant, SCAFFOLD's control variate,
 * every client's changing state (busy, availability), the selection permutation and how often
 * each client was selected, ipw's per-level report counts, the devices'
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

#include "fs_agg.h"
#include "fs_cstate.h"
#include "fs_pop.h"
#include "fs_scn.h"
#include "fs_world.h"

/* What a snapshot holds, borrowed from its owner: the engine fills it from itself
 * (fs_engine.c), so this module needs none of the engine's internals. Arrays are saved from and
 * restored into in place; the scalars are saved from the struct and restored into it. */
typedef struct fs_ckpt_state {
    const fs_scenario *s;
    fs_pop *pop;
    fs_world *world;
    fs_aggregator *agg; /* optimizer moments, accountant, SCAFFOLD's control variate */
    fs_real *w;         /* the global model, n_params */
    size_t n_params;
    fs_cstate *client_control, *client_residual;
    int64_t now;
    uint64_t pass;
    double last_accuracy;
    int round;                 /* save: the round just closed; load: the one expected */
    uint64_t data_fingerprint; /* save: stamped; load: the only one accepted */
    uint32_t *times_selected;  /* per client: selections so far (fs_mix), pop->n entries */
} fs_ckpt_state;

/* A fingerprint of the data a run trains and evaluates on, as loaded: a CRC-32 of the contents
 * of the train and test datasets (features, labels, targets, group levels) for the file sources
 * (fashion-mnist, csv, libsvm). A content hash rather than the files' size and mtime: copying a
 * results folder or touching a file keeps it, any edit that changes what the run would train on
 * changes it. 0 for generated sources, whose data are a function of the scenario (hashed
 * separately). Computed once per run by fs_run (a pass over the data). */
uint64_t fs_ckpt_fingerprint(const fs_scenario *s, const fs_world *w);
/* The effective scenario's length and CRC-32 (s->json): what a snapshot was taken under. */
uint64_t fs_ckpt_scenario_hash(const fs_scenario *s);

/* A new buffer (caller frees) holding the state after round st->round, stamped with
 * st->data_fingerprint; NULL when out of memory. */
unsigned char *fs_ckpt_save(const fs_ckpt_state *st, size_t *out_len);

/* Restores a state saved by fs_ckpt_save into one built from the same scenario, after checking
 * the header (version, length, checksum, scenario hash, data fingerprint against
 * st->data_fingerprint, round against st->round) and every section. Messages start with
 * `origin` (e.g. "results.sqlite: run 3"; may be NULL) and say what is wrong and what to do.
 * FS_EDB when the snapshot is damaged, edited or does not belong to this run and its data (the
 * state is then half-restored and must be discarded), FS_ENOMEM. */
int fs_ckpt_load(fs_ckpt_state *st, const unsigned char *buf, size_t len, const char *origin,
                 fs_err *err);

/* Recomputes the checksum of a snapshot in place (tests and the fuzzer edit snapshots and
 * reseal them, to reach the checks behind the checksum). No-op when len is below the header. */
void fs_ckpt_reseal(unsigned char *buf, size_t len);

/* Offset and length of the payload of the section with the 4-letter tag (e.g. "PERM"), for
 * tests that damage one section. false when the snapshot has no such section. */
bool fs_ckpt_find(const unsigned char *buf, size_t len, const char *tag, size_t *out_off,
                  size_t *out_len);

#endif
