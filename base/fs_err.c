/* fs_err: the fixed-slot error collector and status-code helpers. */
#include "fs_err.h"

#include <stdlib.h>
#include <string.h>

#include "fs_text.h"

void fs_err_init(fs_err *err, const char *file)
{
    memset(err, 0, sizeof *err);
    err->file = file;
}

void fs_err_clear(fs_err *err)
{
    fs_err_init(err, err->file);
}

int fs_err_vadd(fs_err *err, const char *path, const char *fmt, va_list ap)
{
    if (!err) return 0;
    err->n_total++;
    if (err->n_msgs >= FS_ERR_MAX_MSGS) return err->n_total;
    char *m = err->msgs[err->n_msgs++];
    int used = 0;
    if (err->file) used += snprintf(m + used, FS_ERR_MSG_LEN - used, "%s: ", err->file);
    if (path && *path && used < FS_ERR_MSG_LEN)
        used += snprintf(m + used, FS_ERR_MSG_LEN - used, "%s: ", path);
    if (used < FS_ERR_MSG_LEN) vsnprintf(m + used, FS_ERR_MSG_LEN - used, fmt, ap);
    return err->n_total;
}

int fs_err_add(fs_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fs_err_vadd(err, path, fmt, ap);
    va_end(ap);
    return n;
}

void fs_err_print(const fs_err *err, FILE *out)
{
    /* messages quote file contents and names: control characters print escaped */
    char buf[4 * FS_ERR_MSG_LEN];
    for (int i = 0; i < err->n_msgs; i++)
        fprintf(out, "fedsim: error: %s\n", fs_text_term(err->msgs[i], buf, sizeof buf));
    if (err->n_total > err->n_msgs)
        fprintf(out, "fedsim: error: ... and %d more errors\n", err->n_total - err->n_msgs);
}

const char *fs_strerror(int code)
{
    switch (code) {
    case FS_OK: return "ok";
    case FS_ENOMEM: return "out of memory";
    case FS_EIO: return "input/output error";
    case FS_ESCENARIO: return "bad scenario";
    case FS_EDB: return "database error";
    case FS_ENUMERIC: return "numerical error";
    case FS_EINTERNAL: return "internal error";
    case FS_EINTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

int fs_exit_code(int code)
{
    switch (code) {
    case FS_OK: return 0;
    case FS_ESCENARIO: return 2;
    case FS_EIO:
    case FS_EDB: return 3;
    case FS_ENOMEM: return 71;
    case FS_EINTERRUPTED: return 130;
    default: return 70;
    }
}

void fs_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fedsim: internal error: %s:%d: assertion failed: %s\n", file, line, what);
    exit(70);
}
