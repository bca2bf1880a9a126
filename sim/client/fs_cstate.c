/* fs_cstate: lazily allocated per-client state vectors. */
#include "fs_cstate.h"

#include <stdlib.h>
#include <string.h>

#include "fs_err.h"

int fs_cstate_init(fs_cstate *s, size_t n_clients, size_t len)
{
    memset(s, 0, sizeof *s);
    s->vec = calloc(n_clients ? n_clients : 1, sizeof *s->vec);
    if (!s->vec) return FS_ENOMEM;
    s->n_clients = n_clients;
    s->len = len;
    return FS_OK;
}

void fs_cstate_fini(fs_cstate *s)
{
    for (size_t i = 0; s->vec && i < s->n_clients; i++) free(s->vec[i]);
    free(s->vec);
    memset(s, 0, sizeof *s);
}

fs_real *fs_cstate_get(fs_cstate *s, size_t client)
{
    if (!s->vec[client]) s->vec[client] = calloc(s->len ? s->len : 1, sizeof **s->vec);
    return s->vec[client];
}
