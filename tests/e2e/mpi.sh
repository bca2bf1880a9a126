#!/bin/bash
# mpi.sh FEDSIM DBDUMP SCENARIO: `mpirun -n N fedsim sweep` at 1, 2 and 3 ranks (3: more ranks
# than CI's 2 cores, and not a power of two) gives the database of `--jobs 1`, byte for byte in
# fedsim-dbdump; runs.ranks records the job's size; a job that fails before its run exists and
# a run interrupted before its first checkpoint leave the database --jobs 1 leaves; a rank killed
# mid-sweep fails the job naming the variant it ran, and the rerun resumes to the same database;
# a launcher that announces N processes to a job MPI sees as 1 is refused.
source "$(dirname "$0")/lib.sh"
F=$1 D=$2 S=$3
if ! "$F" --version | grep -q 'MPI: [^n]' || ! command -v mpirun >/dev/null; then
    echo "SKIP: MPI not built (fedsim --version: $("$F" --version))"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export TMPDIR=$WORK # the ranks' private files, and those a killed rank leaves
mpi_leak_env
mpi() { mpirun --oversubscribe --allow-run-as-root -n "$@"; }
REP='sweep.replications={"count":2}'
"$F" sweep "$S" -o "$WORK/j1.sqlite" --set "$REP" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "sweep --jobs 1"; }
"$D" "$WORK/j1.sqlite" >"$WORK/j1.dump"
for n in 1 2 3; do
    mpi $n "$F" sweep "$S" -o "$WORK/m$n.sqlite" --set "$REP" >"$WORK/out" 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "mpirun -n $n sweep failed"; }
    "$D" "$WORK/m$n.sqlite" >"$WORK/m$n.dump"
    cmp -s "$WORK/j1.dump" "$WORK/m$n.dump" || { diff "$WORK/j1.dump" "$WORK/m$n.dump" | head; fail "$n ranks differ from --jobs 1"; }
    [ "$(sqlite3 "$WORK/m$n.sqlite" "select count(*) from runs where ranks = $n")" = 8 ] ||
        fail "runs.ranks is not $n at $n ranks"
done
grep -q "in .* s on 3 ranks; results in" "$WORK/out" || { cat "$WORK/out"; fail "the summary does not say 3 ranks"; }
# a job that fails before its run exists (replicate 3's population: nobody consents) leaves the
# gap in the run ids that --jobs leaves: the runs after it keep the ids --jobs gives them
G=(--set 'sweep.replications={"count":3,"vary":"population"}' --set privacy.consent.share=0.02)
set +e
"$F" sweep "$S" -o "$WORK/g1.sqlite" "${G[@]}" >/dev/null 2>"$WORK/err"
c1=$?
mpi 2 "$F" sweep "$S" -o "$WORK/g2.sqlite" "${G[@]}" >/dev/null 2>"$WORK/err"
c2=$?
set -e
[ $c1 -eq 3 ] && [ $c2 -eq 3 ] || fail "a sweep with failed replicates: exit $c1 and $c2, expected 3"
[ "$(sqlite3 "$WORK/g1.sqlite" "select count(*) || ' ' || max(run_id) from runs")" = "8 11" ] ||
    fail "the failing replicates did not fail as this test expects"
cmp -s <("$D" "$WORK/g1.sqlite") <("$D" "$WORK/g2.sqlite") ||
    fail "after a job that failed before its run, 2 ranks numbered the runs unlike --jobs 1"
# a run interrupted before any checkpoint is run again, on 2 ranks as with --jobs 1
X=(--set 'sweep={"server.clients_per_round": [4]}' --set server.rounds=5000
   --set output.checkpoint_every=0 --set eval.every_rounds=1000)
"$F" sweep "$S" -o "$WORK/x.sqlite" "${X[@]}" >/dev/null 2>&1 &
job=$!
for _ in $(seq 400); do
    [ "$(sqlite3 "$WORK/x.sqlite" "select count(*) from rounds" 2>/dev/null || echo 0)" -gt 0 ] &&
        break
    sleep 0.05
done
kill -INT $job
wait $job || true
[ "$(sqlite3 "$WORK/x.sqlite" "select group_concat(status) from runs")" = interrupted ] ||
    fail "the sweep's run was not interrupted (too fast?)"
cp "$WORK/x.sqlite" "$WORK/xj.sqlite" && cp "$WORK/x.sqlite" "$WORK/xm.sqlite"
"$F" sweep "$S" -o "$WORK/xj.sqlite" "${X[@]}" >/dev/null 2>&1 || fail "rerun, --jobs 1"
mpi 2 "$F" sweep "$S" -o "$WORK/xm.sqlite" "${X[@]}" >/dev/null 2>&1 || fail "rerun, 2 ranks"
cmp -s <("$D" "$WORK/xj.sqlite") <("$D" "$WORK/xm.sqlite") ||
    fail "a run interrupted without a checkpoint: rerun on 2 ranks differs from --jobs 1"
# a rank killed while its run goes: the job fails naming that run's variant; the rerun resumes
# (the reference runs uninterrupted on 3 ranks, shown above to equal --jobs 1: a --jobs 1 run
# of these longer runs trains on 2 threads and takes half a minute on 2 busy cores). Each run
# must last long enough that the kill lands inside one: at 200 rounds a run took 0.05 s, and
# rank 1's child could end between being seen and the kill, leaving no run of rank 1 to name
# (a CI failure, 2026-12-03); 1,000 rounds take about 0.2 s, four times the 50 ms between two
# looks below (3,000 made the sanitizer build's test 93 s).
K=(--set server.rounds=1000 --set output.checkpoint_every=25 --set eval.every_rounds=10)
mpi 3 "$F" sweep "$S" -o "$WORK/k1.sqlite" "${K[@]}" >/dev/null 2>&1 || fail "long sweep, 3 ranks"
set +e
mpi 2 "$F" sweep "$S" -o "$WORK/k.sqlite" "${K[@]}" >/dev/null 2>"$WORK/kerr" &
job=$!
r1=
for _ in $(seq 400); do # rank 1, once its child run has started
    for p in $(pgrep -f "^$F sweep"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && r1=$p
    done
    [ -n "$r1" ] && pgrep -P "$r1" >/dev/null && break
    sleep 0.05
done
[ -n "$r1" ] && kill -9 "$r1"
wait $job
code=$?
set -e
[ -n "$r1" ] || fail "rank 1 never started a run"
[ $code -ne 0 ] || fail "a killed rank left the job successful"
grep -q 'fedsim: error: sweep stopping (SIGTERM) with [0-9]* runs\? unfinished:.* variant "server[^"]*" on rank 1;' "$WORK/kerr" ||
    { cat "$WORK/kerr"; fail "no message naming the killed rank's variant"; }
mpi 2 "$F" sweep "$S" -o "$WORK/k.sqlite" "${K[@]}" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "rerun after the killed rank"; }
cmp -s <("$D" "$WORK/k1.sqlite") <("$D" "$WORK/k.sqlite") || fail "the resumed sweep differs from the uninterrupted one"
# launcher mismatch: MPICH's variable, this MPI sees one rank
set +e
PMI_SIZE=3 "$F" sweep "$S" -o "$WORK/mm.sqlite" 2>"$WORK/err"
code=$?
set -e
[ $code -eq 2 ] || fail "launcher mismatch: exit $code, expected 2"
grep -q "fedsim: error: PMI_SIZE=3 says a launcher started 3 processes, but MPI sees a job of 1 rank" "$WORK/err" ||
    { cat "$WORK/err"; fail "launcher mismatch message"; }
[ ! -e "$WORK/mm.sqlite" ] || fail "a database was written despite the mismatch"
echo "mpi: sweeps at 1, 2, 3 ranks equal --jobs 1, ranks recorded, killed rank named and resumed, mismatch refused"
