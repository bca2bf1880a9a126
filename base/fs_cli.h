/* fs_cli: parsing of command-line option values shared by the commands (plan, epsilon, ...). */
#ifndef FS_CLI_H
#define FS_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A finite number, the whole text (no trailing characters). */
bool fs_cli_parse_real(const char *s, double *out);

/* A decimal integer in [lo, hi], the whole text. */
bool fs_cli_parse_int(const char *s, long lo, long hi, int *out);

/* An integral-valued number in [0, max] written as scenario integers may be: 10000, 1e4,
 * 1.0e4 (no sign, no fraction). */
bool fs_cli_parse_count(const char *s, double max, uint64_t *out);

/* Whether argv[1..] is a request for help: a single "--help" or "-h". */
bool fs_cli_wants_help(int argc, char **argv);
/* The signal that asked the process to stop (SIGINT, SIGTERM or SIGHUP), 0 while none did. */
extern volatile sig_atomic_t fs_cli_stop_signal;

/* SIGINT, SIGTERM and SIGHUP set fs_cli_stop_signal: `run` stops after the current round with
 * status interrupted, like Ctrl-C. SIGHUP stays ignored when it was (nohup). SIGPIPE is
 * ignored. */
void fs_cli_catch_stop_signals(void);

/* "SIGINT", "SIGTERM", "SIGHUP" (static text). */
const char *fs_cli_signal_name(int sig);

/* Exit code of a process stopped by sig: 128 + sig (130 for SIGINT), 130 when sig is 0. */
int fs_cli_signal_exit_code(int sig);

/* Writes " ARG" to out, single-quoted for a POSIX shell when it needs quoting, so a printed
 * command line can be pasted back. */
void fs_cli_fput_arg(const char *arg, FILE *out);

/* CPUs this process may run on: its affinity mask (taskset, a batch system's cgroup, or
 * mpirun, which binds each rank to one core by default), at least 1. */
int fs_cli_cpus(void);
/* This process's share of the CPUs it may run on when `sharing` processes of one job have the
 * same affinity (fs_mpi_local_sharing): fs_cli_cpus() / sharing, at least 1. */
int fs_cli_cpu_share(int sharing);

#endif
