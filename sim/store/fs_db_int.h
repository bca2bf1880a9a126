/* fs_db_int: what the recorder's own modules share beyond the public fs_db API (the SQLite
 * connection; the clients rows' insert), so derived tables (fs_db_stats) and the clients insert
 * (fs_db_clients) live in their own files. Only sim/store/fs_db*.c include it. */
#ifndef FS_DB_INT_H
#define FS_DB_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "fs_db.h"

/* The recorder's connection, borrowed: never closed or kept by the caller. */
sqlite3 *fs_db_conn(fs_db *db);

/* Inserts rows[0..n) as run run_id's clients rows, in order, in one statement on conn
 * (fs_db_clients.c says how), inside the caller's transaction. Returns the SQLite result code
 * (the connection's error message says what failed). */
int fs_db_clients_insert(sqlite3 *conn, int64_t run_id, const fs_db_client *rows, size_t n);

#endif
