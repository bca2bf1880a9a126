/* fs_cli: parsing of command-line option values shared by the commands (plan, epsilon, ...). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <stdbool.h>
#include <stdint.h>

/* A finite number, the whole text (no trailing characters). */
bool fs_cli_parse_real(const char *s, double *out);

/* A decimal integer in [lo, hi], the whole text. */
bool fs_cli_parse_int(const char *s, long lo, long hi, int *out);

/* An integral-valued number in [0, max] written as scenario integers may be: 10000, 1e4,
 * 1.0e4 (no sign, no fraction). */
bool fs_cli_parse_count(const char *s, double max, uint64_t *out);

/* Whether argv[1..] is a request for help: a single "--help" or "-h". */
bool fs_cli_wants_help(int argc, char **argv);

#endif
