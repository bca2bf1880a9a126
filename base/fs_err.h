/* fs_err: status codes and the error collector shared by every module.
 * A fallible function returns FS_OK or an FS_E* code and appends human-readable details to a
 * caller-owned fs_err. The collector never allocates (fixed slots), so it still works when
 * memory has run out; past FS_ERR_MAX_MSGS it only counts. */
#ifndef FS_ERR_H
#define FS_ERR_H

#include <stdarg.h>
#include <stdio.h>

enum {
    FS_OK = 0,
    FS_ENOMEM,      /* out of memory */
    FS_EIO,         /* file missing, unreadable, corrupt */
    FS_ESCENARIO,   /* bad scenario or bad command-line input */
    FS_EDB,         /* SQLite failure */
    FS_ENUMERIC,    /* NaN/Inf or GSL failure in the numerics */
    FS_EINTERNAL,   /* a bug: an invariant did not hold */
    FS_EINTERRUPTED /* stopped by a signal; results so far kept */
};

#define FS_ERR_MAX_MSGS 32
#define FS_ERR_MSG_LEN 512

typedef struct fs_err {
    const char *file; /* borrowed: prefix for every message (scenario file), may be NULL */
    int n_msgs;       /* messages stored (<= FS_ERR_MAX_MSGS) */
    int n_total;      /* messages added, including those past the cap */
    char msgs[FS_ERR_MAX_MSGS][FS_ERR_MSG_LEN];
} fs_err;

void fs_err_init(fs_err *err, const char *file);
void fs_err_clear(fs_err *err);

/* Appends "<file>: <path>: <message>" (file and path omitted when NULL). Returns the number of
 * messages so far. `err` may be NULL (the message is dropped). */
int fs_err_add(fs_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int fs_err_vadd(fs_err *err, const char *path, const char *fmt, va_list ap);

/* Prints every message as "fedsim: error: <message>" (control characters escaped, see
 * fs_text_term) and a count of those past the cap. */
void fs_err_print(const fs_err *err, FILE *out);

const char *fs_strerror(int code);

/* Process exit code for a status: 0 ok, 2 bad input, 3 I/O or database, 70 internal,
 * 71 out of memory, 130 interrupted. */
int fs_exit_code(int code);

/* Cheap invariant checks stay on in release builds: a broken invariant is a bug (exit 70). */
#define fs_assert(cond)                                                                         \
    do {                                                                                        \
        if (!(cond)) fs_assert_fail(#cond, __FILE__, __LINE__);                                 \
    } while (0)
_Noreturn void fs_assert_fail(const char *what, const char *file, int line);

#endif
