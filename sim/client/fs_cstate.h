/* fs_cstate: per-client state vectors that persist across rounds on the device (SCAFFOLD's
 * control variate c_i, error-feedback residuals). Allocated lazily, zeroed, on a client's first
 * participation, so idle clients cost one pointer. Owns every vector. */
#ifndef FS_CSTATE_H
#define FS_CSTATE_H

#include <stddef.h>

#include "fs_real.h"

typedef struct fs_cstate {
    size_t n_clients, len;
    fs_real **vec; /* n_clients pointers, NULL until first use */
} fs_cstate;

int fs_cstate_init(fs_cstate *s, size_t n_clients, size_t len); /* FS_ENOMEM */
void fs_cstate_fini(fs_cstate *s);

/* Client's vector (len fs_real values), created zeroed on first use; NULL when out of memory. Not
 * thread-safe for the same client; distinct clients may be served concurrently only if their
 * vectors already exist. */
fs_real *fs_cstate_get(fs_cstate *s, size_t client);

#endif
