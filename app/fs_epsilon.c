/* fs_epsilon: the `fedsim epsilon --q Q --sigma Z --steps T --delta D` command, so a user can
 * check a privacy budget without writing a scenario: parses the options and prints both of the
 * accountant's (fs_rdp) conversions. */
#include "fs_epsilon.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fs_cli.h"
#include "fs_rdp.h"

static const char cli_usage[] = "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D\n";
static const char cli_help[] =
    "usage: fedsim epsilon --q Q --sigma Z --steps T --delta D\n"
    "  privacy budget of T steps of the sampled Gaussian mechanism (RDP accountant; classic and\n"
    "  improved conversions to (epsilon, delta))\n"
    "  --q Q      sampling rate in [0, 1] (clients per round / consenting clients)\n"
    "  --sigma Z  noise multiplier > 0 (privacy.dp.noise_multiplier)\n"
    "  --steps T  number of steps (rounds), an integer >= 0 such as 14062 or 1e4\n"
    "  --delta D  target delta in (0, 1)\n";

enum { OPT_Q, OPT_SIGMA, OPT_STEPS, OPT_DELTA, N_OPTS };

static const struct cli_opt {
    const char *name, *expected;
} cli_opts[N_OPTS] = {
    [OPT_Q] = {"--q", "a number in [0, 1]"},
    [OPT_SIGMA] = {"--sigma", "a number > 0"},
    [OPT_STEPS] = {"--steps", "an integer >= 0"},
    [OPT_DELTA] = {"--delta", "a number in (0, 1)"},
};

typedef struct cli_args {
    double q, sigma, delta;
    uint64_t steps;
    const char *given[N_OPTS]; /* the raw value of each option, NULL when absent */
} cli_args;

static bool cli_value_ok(int opt, const char *s, cli_args *a)
{
    switch (opt) {
    case OPT_Q:
        return fs_cli_parse_real(s, &a->q) && a->q >= 0.0 && a->q <= 1.0;
    case OPT_SIGMA:
        return fs_cli_parse_real(s, &a->sigma) && a->sigma > 0.0; /* 0: no privacy at all */
    case OPT_STEPS:
        return fs_cli_parse_count(s, 1e15, &a->steps);
    default:
        return fs_cli_parse_real(s, &a->delta) && a->delta > 0.0 && a->delta < 1.0;
    }
}

static int cli_bad(const char *what, const char *expected, const char *found)
{
    if (found)
        fprintf(stderr, "fedsim: error: %s: expected %s, found \"%s\"\n", what, expected, found);
    else
        fprintf(stderr, "fedsim: error: %s: expected %s, found nothing\n", what, expected);
    return 1;
}

static int cli_find(const char *arg, size_t len)
{
    for (int k = 0; k < N_OPTS; k++)
        if (strlen(cli_opts[k].name) == len && !strncmp(arg, cli_opts[k].name, len)) return k;
    return -1;
}

/* Collects the options, `--name value` or `--name=value`; returns the number of errors. */
static int cli_collect(int argc, char **argv, cli_args *a)
{
    int n_bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        int k = cli_find(arg, eq ? (size_t)(eq - arg) : strlen(arg));
        if (k < 0) {
            n_bad += cli_bad("epsilon", "--q, --sigma, --steps or --delta", arg);
            continue;
        }
        /* a missing value leaves the option absent: cli_parse reports it, once */
        const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!a->given[k]) {
            a->given[k] = v;
            continue;
        }
        fprintf(stderr, "fedsim: error: %s: expected once, found twice\n", cli_opts[k].name);
        n_bad++;
    }
    return n_bad;
}

static int cli_parse(int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    int n_bad = cli_collect(argc, argv, a);
    for (int k = 0; k < N_OPTS; k++) {
        if (a->given[k] && cli_value_ok(k, a->given[k], a)) continue;
        n_bad += cli_bad(cli_opts[k].name, cli_opts[k].expected, a->given[k]);
    }
    return n_bad;
}

int fs_epsilon_cli(int argc, char **argv)
{
    if (fs_cli_wants_help(argc, argv)) {
        fputs(cli_help, stdout);
        return 0;
    }
    cli_args a;
    if (cli_parse(argc, argv, &a)) {
        fputs(cli_usage, stderr);
        return 2;
    }
    fs_rdp acc;
    fs_rdp_init(&acc);
    fs_rdp_add(&acc, a.q, a.sigma, a.steps);
    double order_c, order_i;
    double eps_c = fs_rdp_epsilon(&acc, a.delta, FS_RDP_CLASSIC, &order_c);
    double eps_i = fs_rdp_epsilon(&acc, a.delta, FS_RDP_IMPROVED, &order_i);
    printf("epsilon (classic RDP conversion):  %.4f at order %g\n", eps_c, order_c);
    printf("epsilon (improved conversion):     %.4f at order %g\n", eps_i, order_i);
    return 0;
}
