/* fs_server: the table of server policies, indexed by server.mode. */
#include "fs_server.h"

static const fs_server_ops *const servers[] = {
    [FS_SERVER_SYNC] = &fs_server_sync,
    [FS_SERVER_ASYNC] = &fs_server_async,
};

const fs_server_ops *fs_server_of(enum fs_server_mode mode)
{
    fs_assert((size_t)mode < sizeof servers / sizeof *servers && servers[mode]);
    return servers[mode];
}
