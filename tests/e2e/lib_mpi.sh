# Sourced by tests/e2e/lib.sh and tools/bench (no side effects of its own).
# mpi_leak_env: for ranks started by mpirun in a sanitizer build, LeakSanitizer ignores Open
# MPI's own allocations left at exit (lsan_mpi.supp) and still reports fedsim's.
mpi_leak_env() {
    export OMPI_MCA_mca_base_component_disable_dlclose=1
    export LSAN_OPTIONS="suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lsan_mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
}
