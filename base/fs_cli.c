/* fs_cli: option value parsing, stop signals, shell quoting, the CPUs a process may use. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "fs_cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- stopping on signals: the handler only records the signal; the engine polls it between
 * rounds, so a run always stops on a round boundary with its database consistent. */

volatile sig_atomic_t fs_cli_stop_signal = 0;

static void on_stop_signal(int sig)
{
    fs_cli_stop_signal = sig;
}

void fs_cli_catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* nohup (or a sweep started under it) ignores SIGHUP on purpose: keep it ignored */
    struct sigaction old;
    if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &sa, NULL);
    /* A dropped ssh session also kills a `| tee` on stderr; the next progress line must not
     * kill the run by SIGPIPE in the middle of a round. */
    signal(SIGPIPE, SIG_IGN);
}

const char *fs_cli_signal_name(int sig)
{
    return sig == SIGINT    ? "SIGINT"
           : sig == SIGTERM ? "SIGTERM"
           : sig == SIGHUP  ? "SIGHUP"
                            : "a signal";
}

int fs_cli_signal_exit_code(int sig)
{
    return sig > 0 ? 128 + sig : 130;
}

/* Characters a POSIX shell reads literally outside quotes. */
static bool shell_plain(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_-./=:,+@%", *s)) return false;
    return true;
}

void fs_cli_fput_arg(const char *arg, FILE *out)
{
    fputc(' ', out);
    if (shell_plain(arg)) {
        fputs(arg, out);
        return;
    }
    fputc('\'', out);
    for (const char *s = arg; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

int fs_cli_cpus(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n > 0) return n;
    long online = sysconf(_SC_NPROCESSORS_ONLN); /* no mask to read: every CPU */
    return online > 0 ? (int)online : 1;
}

int fs_cli_cpu_share(int sharing)
{
    int share = fs_cli_cpus() / (sharing > 1 ? sharing : 1);
    return share > 0 ? share : 1;
}
