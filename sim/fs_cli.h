/* fs_cli: parsing of command-line option values shared by the commands (plan, epsilon, ...). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <stdbool.h>

/* A finite number, the whole text (no trailing characters). */
bool fs_cli_parse_real(const char *s, double *out);

/* A decimal integer in [lo, hi], the whole text. */
bool fs_cli_parse_int(const char *s, long lo, long hi, int *out);

#endif
