/* fs_db_schema: the text of the results schema (DESIGN.md section 8): tables, indexes and the
 * planning views, as one SQL script that fs_db runs on every open. Every statement is
 * IF NOT EXISTS, so running it on a current file changes nothing. The version in meta must
 * change whenever a table changes shape; fs_db and fs_plan refuse files of another version. */
#ifndef FS_DB_SCHEMA_H
#define FS_DB_SCHEMA_H

#define FS_DB_SCHEMA_VERSION 3

/* BEGIN IMMEDIATE; every CREATE ...; COMMIT. Run with sqlite3_exec on a connection whose
 * file has no meta table yet or has schema_version FS_DB_SCHEMA_VERSION. */
extern const char fs_db_schema_sql[];

#endif
