/* fs_cpu: compiling one function for several x86-64 levels (AVX-512, AVX2, baseline), chosen
 * once at load by the dynamic linker (GCC's target_clones). The build targets the baseline so
 * that one binary runs everywhere; hot loops that vectorise opt in with FS_CPU_CLONES.
 *
 * A clone may contract a*b + c into an FMA where the baseline cannot, so a loop with that shape
 * may differ in the last bit between machines (as OpenBLAS's kernels do); a loop without it
 * (a convert, a divide) gives the same bits on every level. */
#ifndef FS_CPU_H
#define FS_CPU_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FS_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FS_CPU_CLONES
#endif

#endif
