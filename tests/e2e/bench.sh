#!/bin/bash
# tools/bench's plumbing on tiny workloads (-s): every section prints its figures as numbers,
# and without PyTorch it says so and prints fedsim's alone (this test never needs torch).
# Usage: bench.sh TOOLS_BENCH BUILD_DIR
. "$(dirname "$0")/lib.sh"
BENCH=$1 BUILD=$2
PYTHON=/nonexistent/python3 "$BENCH" -s -n 1 "$BUILD" >"$WORK/out" 2>"$WORK/err" ||
    fail "tools/bench -s failed: $(cat "$WORK/err")"
has() { grep -Eq "$1" "$WORK/out" || fail "no line matching '$1' in: $(cat "$WORK/out")"; }
N='[0-9]+(\.[0-9]+)?'
has "^machine: [0-9]+ cores, .*, OpenBLAS core [A-Za-z0-9]+"
has "^PyTorch: not installed for /nonexistent/python3"
for t in "1 thread " "2 threads"; do
    [ "$(grep -Ec "^  fedsim $t: +$N s, accuracy 0\.[0-9]{4}$" "$WORK/out")" = 2 ] ||
        fail "expected a fedsim $t line for each of 2NN and LR: $(cat "$WORK/out")"
    for m in 2NN CNN; do
        has "^$m step GEMMs batch 10, $t: sgemm +$N dgemm +$N GFLOP/s$"
        has "^$m scenario, $t: $N s per round, $N GFLOP/s"
    done
done
grep -v "^PyTorch" "$WORK/out" | grep -Eq "^  torch|ratio:" && fail "torch figures without torch"
has "^  (2NN|CNN): the scenario reaches $N% of the 2-thread sgemm rate"
has "^  600 reported of [0-9]+ selected in $N s wall: [0-9]+ reports/s end to end"
has "^  inside rounds: $N s in all, [0-9]+ participations/s"
has "^  peak RSS [1-9][0-9]* MiB"
has "^  engine \(selection, events, aggregation, recording\): $N s, $N% of the wall$"
has "^  shipped ctr_regions.json \(smoke: 2,000 users, 10 rounds\): $N s wall, engine $N s = $N%"
[ "$(grep -Ec "^    its parts \(medians\): selection $N s, aggregation $N, recording $N,\
 the rest $N$" "$WORK/out")" = 2 ] ||
    fail "expected the engine's parts under each engine line: $(cat "$WORK/out")"
has "^  evq hold model: [0-9]+ pending, $N M pop\+push per second"
has "^  engine: 3 rounds x 20 clients/round, .* $N s wall, [0-9]+ events/s"
has "^  (1 rank: $N s; 2 ranks: $N s: ${N}x|MPI: not built)"
if ! grep -q "MPI: not built" "$WORK/out"; then
    has "^  one CNN run, [0-9]+ rounds: 1 rank x 2 threads $N s, 2 ranks x 1 thread $N s: ${N}x$"
    has "^  one shipped ctr_regions run \(.*\): 1 rank x 2 threads $N s, 2 ranks x 1 thread $N s: ${N}x$"
    has "^  2NN \(10 clients per round\) on 2 ranks: $N and $N MB per round"
    has "^  ctr_regions, [0-9]+ users, [0-9]+ per round on 2 ranks: $N and $N MB per round"
fi
# no figure is missing or degenerate
grep -Eqi "\b(nan|inf)\b| 0\.00 GFLOP| 0 reports" "$WORK/out" && fail "a degenerate figure: $(cat "$WORK/out")"
exit 0
