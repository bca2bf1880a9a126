#include "fs_engine_int.h"
int fs_async_run(fs_engine *e, fs_err *err) { (void)e; fs_err_add(err, "server.mode", "async: not yet"); return FS_ESCENARIO; }
