/* fs_blas: OpenBLAS kernels and threads (see fs_blas.h). */
#include "fs_blas.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

/* OpenBLAS's own API (openblas_config.h declares them, but cblas.h is not always the one
 * found first). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);
/* OpenBLAS's dynamic-architecture entry points (driver/others/dynamic.c, exported by the
 * DYNAMIC_ARCH builds Debian ships): quit forgets the kernel table, init picks one again,
 * reading OPENBLAS_CORETYPE. Weak: a build without them restarts instead. */
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

#define REEXEC_MARK "FEDSIM_BLAS_REEXEC"

/* The kernel family the CPU's features allow, best first; NULL when nothing beats the fallback.
 * These are OpenBLAS's own OPENBLAS_CORETYPE names. */
static const char *core_for_cpu(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
    return NULL;
}

static bool under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload");
}

/* OpenBLAS fell back to its generic x86-64 kernels although the CPU can do better. */
static const char *better_core(void)
{
    const char *now = openblas_get_corename();
    if (!now || strcmp(now, "Prescott") != 0) return NULL;
    return core_for_cpu();
}

/* Sets name=value unless the user chose the variable; true when it was set here. */
static bool choose(const char *name, const char *value)
{
    return value && !getenv(name) && setenv(name, value, 1) == 0;
}

/* OpenMP's idle threads spin 3,000 times after a parallel region before they sleep (33 us on the
 * Xeon it was measured on, where a pause takes 11 ns; the pause's latency differs between CPUs),
 * instead of libgomp's 300,000 (3 ms there): between the engine's parallel regions such an idle
 * thread took the core the database writer (fs_run.c) and other processes need, and at 2 threads a
 * softmax run used twice the CPU of one thread for no gain. Sleeping at once
 * (OMP_WAIT_POLICY=passive, before 2026-12-04) made every round's training region wait for a futex
 * wake-up instead: a tenth of a 0.1 s softmax run's samples were in the kernel's wake-up path, and
 * its wall was 101.5 ms against 93.8 ms with this spin (median of 15 alternating runs; 1,000,000
 * CTR users: no change). A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is left alone. */
#define IDLE_SPINS "3000"

static bool choose_idle_spin(void)
{
    return !getenv("OMP_WAIT_POLICY") && choose("GOMP_SPINCOUNT", IDLE_SPINS);
}

/* path names the very file this process runs (not a rebuilt one, not "... (deleted)"). */
static bool names_this_binary(const char *path)
{
    struct stat running, named;
    return path && stat("/proc/self/exe", &running) == 0 && stat(path, &named) == 0 &&
           running.st_dev == named.st_dev && running.st_ino == named.st_ino;
}

/* Runs this program again with the same arguments, or returns if it cannot. The kernel names a
 * process after the file it executes: through /proc/self/exe every fedsim showed as "exe" in ps
 * and top, and pgrep fedsim found nothing. So the binary is run by the path it was started with
 * (AT_EXECFN: a symlink keeps its own name), else by its resolved path, and only then by
 * /proc/self/exe, the image itself whatever its path became. */
static void restart(char **argv)
{
    const char *started = (const char *)getauxval(AT_EXECFN);
    if (names_this_binary(started)) execv(started, argv);
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0 && (size_t)len < sizeof self - 1) {
        self[len] = '\0';
        if (names_this_binary(self)) execv(self, argv);
    }
    execv("/proc/self/exe", argv);
}

/* fs_blas_early_env ran: libgomp and OpenBLAS read the environment it chose. */
static bool chosen_early;

/* Both libraries are linked into the program and read their settings in constructors that run
 * after this one (fs_main.c: FS_STATIC_RUNTIMES), so what a restart would set is set here, with
 * no restart. OPENBLAS_NUM_THREADS=1 (unless the user chose it) keeps OpenBLAS from starting
 * its own thread pool, whose threads would spin on sched_yield until their timeout even after
 * openblas_set_num_threads(1): 13% of the CPU samples of a 0.25 s softmax run at 2 threads. */
void fs_blas_early_env(void)
{
    chosen_early = true;
    choose_idle_spin();
    choose("OPENBLAS_NUM_THREADS", "1");
}

/* Sets OPENBLAS_CORETYPE when OpenBLAS fell back to its generic kernels, and has OpenBLAS pick
 * its kernels again from it when it can. Returns whether the choice still needs a restart. */
static bool better_kernels(void)
{
    if (!choose("OPENBLAS_CORETYPE", better_core())) return false;
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return true;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    return false;
}

/* A restart happens only for what the running process cannot take any more: the wait policy
 * when libgomp read its environment before fs_blas_early_env could set it (the shared library,
 * in the test programs), the kernels without OpenBLAS's entry points. It also sets
 * OPENBLAS_NUM_THREADS=1 (see fs_blas_early_env). */
void fs_blas_init(char **argv)
{
    if (argv && argv[0] && !getenv(REEXEC_MARK) && !under_valgrind()) {
        bool core_restart = better_kernels();
        bool wait = !chosen_early && choose_idle_spin();
        bool one = (core_restart || wait) && choose("OPENBLAS_NUM_THREADS", "1");
        if ((core_restart || wait) && setenv(REEXEC_MARK, "1", 1) == 0) restart(argv);
        /* execv failed: carry on as we are, and let no program fedsim starts inherit a choice
         * that did not take effect here */
        if (core_restart) unsetenv("OPENBLAS_CORETYPE");
        if (wait) unsetenv("GOMP_SPINCOUNT");
        if (one) unsetenv("OPENBLAS_NUM_THREADS");
    }
    unsetenv(REEXEC_MARK);
    openblas_set_num_threads(1);
}

const char *fs_blas_core(void)
{
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}
