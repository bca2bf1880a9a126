/* fs_db_schema: the text of the results schema (DESIGN.md section 8): tables, indexes and the
 * planning views, as one SQL script that fs_db runs on every open. Every statement is
 * IF NOT EXISTS, so running it on a current file changes nothing. The version in meta must
 * change whenever a table changes shape; fs_db and fs_plan refuse files of another version. */
#ifndef FS_DB_SCHEMA_H
#define FS_DB_SCHEMA_H

#define FS_DB_SCHEMA_VERSION 6

/* Every CREATE ... IF NOT EXISTS, as a new string (caller frees; NULL: out of memory), with
 * the metric table's lower-is-better names in the views that pick a run's best value. Run with
 * sqlite3_exec inside a write transaction on a connection whose file has no meta table yet or
 * has schema_version FS_DB_SCHEMA_VERSION. */
char *fs_db_schema_new(void);

/* Turns a version 2 file into version 3 (run in the same transaction, before
 * fs_db_schema_new): appending to an old file upgrades it in place, all or nothing. */
extern const char fs_db_upgrade_v2_sql[];

/* ... and this after fs_db_schema_new, still in that transaction. */
extern const char fs_db_upgrade_v2_post_sql[];

/* Turns a version 3 file (or a version 2 file once fs_db_upgrade_v2_sql ran) into version 4,
 * before fs_db_schema_new in the same transaction. */
extern const char fs_db_upgrade_v3_sql[];
/* Version 4 -> 5: view drops and the version; fs_db_v5_columns lists the columns it adds (table,
 * column, type; ended by a NULL row), added where the table exists without them. */
extern const char fs_db_upgrade_v4_sql[];
extern const char *const fs_db_v5_columns[][3];
/* Version 5 -> 6: the version; fs_db_v6_columns lists the columns it adds, as for version 5. */
extern const char fs_db_upgrade_v5_sql[];
extern const char *const fs_db_v6_columns[][3];

#endif
