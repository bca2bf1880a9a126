/* fs_cli: option value parsing. */
#include "fs_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool fs_cli_parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool fs_cli_parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

bool fs_cli_parse_count(const char *s, double max, uint64_t *out)
{
    double v;
    if (*s < '0' || *s > '9' || !fs_cli_parse_real(s, &v)) return false; /* no sign */
    if (v != floor(v) || v > max || v > 9007199254740992.0) return false; /* exact in a double */
    *out = (uint64_t)v;
    return true;
}

bool fs_cli_wants_help(int argc, char **argv)
{
    return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}
