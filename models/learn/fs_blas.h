/* fs_blas: the BLAS the models train on, set up once per process: which OpenBLAS kernels run and
 * how many threads OpenBLAS itself may start. */
#ifndef FS_BLAS_H
#define FS_BLAS_H

/* Call first thing in main, before any other thread exists. Two libraries read settings only as
 * they load. OpenBLAS picks its kernels by CPU model; a model newer than the library (Debian 12's
 * OpenBLAS 0.3.21 on a 5th-generation Xeon) gets the generic "Prescott" kernels, several times
 * slower: unless the user chose OPENBLAS_CORETYPE, this sets it from the CPU's own features and
 * has OpenBLAS choose again. libgomp reads how long its idle threads spin: unless the user chose
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT, GOMP_SPINCOUNT=3000 (see fs_blas.c); and
 * OPENBLAS_NUM_THREADS=1 unless the user chose it (no OpenBLAS thread pool is started). Where
 * fs_blas_early_env could not set those in time (the shared libraries had loaded), the program
 * restarts (execv of its own binary, by the path it was started with so the process keeps its
 * name, with the same argv), once. The programs it starts inherit all three. Not under valgrind,
 * whose child would run without it. Either way OpenBLAS is then told to use one thread: clients
 * already train in parallel under OpenMP. */
void fs_blas_init(char **argv);

/* For a program into which OpenBLAS and libgomp are linked statically: called from a
 * constructor that runs before theirs, it sets what fs_blas_init would restart for
 * (GOMP_SPINCOUNT, OPENBLAS_NUM_THREADS), so fs_blas_init need not restart. */
void fs_blas_early_env(void);

/* The kernels OpenBLAS runs ("SkylakeX", "Haswell", ...), for --version and benchmarks. */
const char *fs_blas_core(void);

#endif
