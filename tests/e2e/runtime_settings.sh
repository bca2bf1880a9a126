#!/bin/bash
# runtime_settings.sh FEDSIM: the settings fs_blas chooses for libgomp and OpenBLAS take effect,
# a user's own win, and a fedsim linked to the static runtimes (meson.build) gets them without
# restarting itself. libgomp prints its settings as it loads (OMP_DISPLAY_ENV=verbose): once per
# start of the program, so a restart shows twice.
source "$(dirname "$0")/lib.sh"
F=$1
spins() { # [ENV=VALUE...]: the GOMP_SPINCOUNT lines libgomp printed as fedsim started
    env -u OPENBLAS_NUM_THREADS -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_CORETYPE \
        OMP_DISPLAY_ENV=verbose "$@" "$F" --version 2>&1 >/dev/null |
        sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p"
}
# a short spin: idle OpenMP threads sleep after 3,000 spins, not libgomp's 300,000
[ "$(spins | tail -1)" = 3000 ] ||
    fail "fedsim's idle OpenMP threads spin GOMP_SPINCOUNT $(spins | tail -1) times, not 3000"
# a user's choice wins
[ "$(spins OMP_WAIT_POLICY=active | tail -1)" -gt 3000 ] || fail "OMP_WAIT_POLICY=active was overridden"
[ "$(spins OMP_WAIT_POLICY=passive | tail -1)" = 0 ] || fail "OMP_WAIT_POLICY=passive was overridden"
[ "$(spins GOMP_SPINCOUNT=1234 | tail -1)" = 1234 ] || fail "GOMP_SPINCOUNT=1234 was overridden"
core=$(env OPENBLAS_CORETYPE=Haswell "$F" --version | sed -n 's/.*OpenBLAS kernels: \([^;)]*\).*/\1/p')
[ "$core" = Haswell ] || fail "OPENBLAS_CORETYPE=Haswell gave kernels '$core'"
# the generic kernels only where the CPU has nothing better
core=$("$F" --version | sed -n 's/.*OpenBLAS kernels: \([^;)]*\).*/\1/p')
if grep -qw avx2 /proc/cpuinfo; then
    [ "$core" != Prescott ] || fail "an AVX2 CPU runs OpenBLAS's generic Prescott kernels"
fi
if ! ldd "$F" | grep -q 'libgomp\|libopenblas'; then
    # static runtimes: set before they loaded, so no restart
    [ "$(spins | wc -l)" = 1 ] || fail "fedsim restarted itself: libgomp loaded $(spins | wc -l) times"
    # and no OpenBLAS thread pool: the process has a single thread
    env -u OPENBLAS_NUM_THREADS "$F" run "$(dirname "$0")/../golden/small.json" -o "$WORK/t.db" \
        --quiet --threads 1 --set server.rounds=100000 >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 50); do [ -s "$WORK/t.db" ] && break; sleep 0.1; done
    sleep 0.3
    n=$(ls "/proc/$pid/task" | wc -l)
    kill -INT $pid; wait $pid || true
    # the run's own threads: main and the database writer
    [ "$n" -le 2 ] || fail "a 1-thread run has $n threads (an OpenBLAS pool?)"
fi
echo ok
