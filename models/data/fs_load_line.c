/* fs_load_line: the physical-line reader the text loaders share (plain or gzip files through
 * zlib's gz* calls), and their one warning about extreme magnitudes. */
#include <stdint.h>
#include <string.h>

#include "fs_load_int.h"
#include "fs_text.h"

int fs_load_getline(gzFile f, const char *path, size_t line_no, char **buf, size_t *cap,
                    size_t *len, bool *eof, fs_err *err)
{
    size_t start = *len;
    *eof = false;
    for (;;) {
        if (fs_array_grow(buf, cap, *len + 2, 1)) return FS_ENOMEM;
        size_t room = *cap - *len;
        if (room > INT32_MAX) room = INT32_MAX;
        char *at = *buf + *len;
        if (!gzgets(f, at, (int)room)) {
            int zerr = Z_OK;
            const char *msg = gzerror(f, &zerr);
            if (zerr < 0 && zerr != Z_STREAM_END) {
                fs_err_add(err, path, "expected readable data, found a read error (%s)", msg);
                return FS_EIO;
            }
            *eof = *len == start;
            (*buf)[*len] = '\0';
            return FS_OK;
        }
        size_t got = strlen(at);
        /* gzgets stops after a newline, at the end, or when the buffer is full; a string that
         * ends sooner was cut by a NUL byte */
        bool newline = got > 0 && at[got - 1] == '\n', full = got + 1 == room;
        if (!newline && !full && !gzeof(f)) {
            fs_err_add(err, path, "line %zu: expected text, found a NUL byte (a binary file?)",
                       line_no);
            return FS_EIO;
        }
        *len += got;
        if (*len > FS_LOAD_MAX_LINE) {
            fs_err_add(err, NULL, "%s:%zu: expected a line of at most %u bytes, found a longer "
                       "one", path, line_no, FS_LOAD_MAX_LINE);
            return FS_EIO;
        }
        if (!full || newline) return FS_OK;
        if (fs_array_grow(buf, cap, *cap * 2, 1)) return FS_ENOMEM;
    }
}

void fs_load_warn_large(const char *path, const char *what, const fs_load_large *l,
                        const char *remedy)
{
    if (!l->n_rows) return;
    char p[1024], w[512];
    fprintf(stderr, "fedsim: warning: %s: %s: %zu row%s with |value| > %g (first at line %zu, "
            "largest %g): unscaled or corrupt data dominates training%s\n",
            fs_text_term(path, p, sizeof p), fs_text_term(what, w, sizeof w), l->n_rows,
            l->n_rows == 1 ? "" : "s", FS_LOAD_LARGE_VALUE, l->first_line, l->max_abs, remedy);
}
