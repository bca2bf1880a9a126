/* fs_db_int: what the recorder's own modules share beyond the public fs_db API (the SQLite
 * connection), so derived tables (fs_db_stats) live in their own file. Only sim/store/fs_db*.c
 * include it. */
#ifndef FS_DB_INT_H
#define FS_DB_INT_H

#include <sqlite3.h>

#include "fs_db.h"

/* The recorder's connection, borrowed: never closed or kept by the caller. */
sqlite3 *fs_db_conn(fs_db *db);

#endif
