/* fs_epsilon: the `fedsim epsilon` command (the accountant itself is fs_rdp). */
#ifndef FS_EPSILON_H
#define FS_EPSILON_H

/* `fedsim epsilon --q Q --sigma Z --steps T --delta D` (argv[0] is "epsilon"; `--name=value`
 * works too): prints epsilon under both conversions, with the minimising orders, on stdout.
 * Returns the exit code: 0, or 2 after reporting every bad or missing option on stderr. */
int fs_epsilon_cli(int argc, char **argv);

#endif
