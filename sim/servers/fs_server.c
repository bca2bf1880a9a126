/* fs_server: the table of server policies, indexed by server.mode, and the words of
 * server.mode. Adding a policy: its file with its entry, its value in enum fs_server_mode, and
 * its row and word here. */
#include "fs_server.h"

static const fs_server_ops *const servers[] = {
    [FS_SERVER_SYNC] = &fs_server_sync,
    [FS_SERVER_ASYNC] = &fs_server_async,
};
const char *const fs_server_names[] = {[FS_SERVER_SYNC] = "sync", [FS_SERVER_ASYNC] = "async",
                                       NULL};

_Static_assert(sizeof servers / sizeof *servers + 1 ==
                   sizeof fs_server_names / sizeof *fs_server_names,
               "one word per server policy");

const fs_server_ops *fs_server_of(enum fs_server_mode mode)
{
    fs_assert((size_t)mode < sizeof servers / sizeof *servers && servers[mode]);
    return servers[mode];
}
