#!/bin/bash
# sweep.sh FEDSIM SCENARIO DBDUMP: a grid sweep runs every variant in parallel into one database
# with its label, without resume notes when it is fresh; each variant equals a standalone
# `fedsim run` with the same overrides; the database of --jobs 2 is that of --jobs 1, run ids
# included, even when a later job starts its run first; --run-id records a run under an id and
# refuses a taken one, losing nothing; an interrupted variant is rerun on resume while finished
# ones are skipped; a bad variant stops the sweep before anything runs; its runs' threads are
# the CPUs it may use (taskset), and a run given more threads than CPUs warns.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2 DUMP=$3
q() { sqlite3 "$WORK/s.sqlite" "$1"; }
"$F" sweep "$S" -o "$WORK/s.sqlite" --jobs 2 >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "sweep failed"; }
[ "$(q "select count(*) from runs where status='done'")" = 4 ] || fail "expected 4 finished runs"
# a fresh sweep has nothing to resume: no variant says that it found no run or checkpoint
! grep -E "note: .*(resume|checkpoint)" "$WORK/err" || fail "a fresh sweep printed resume notes"
labels=$(q "select variant from runs order by variant" | tr '\n' ';')
want='server.clients_per_round=4, devices.failure_prob=0;server.clients_per_round=4, devices.failure_prob=0.3;server.clients_per_round=8, devices.failure_prob=0;server.clients_per_round=8, devices.failure_prob=0.3;'
[ "$labels" = "$want" ] || fail "labels: $labels"
# a variant on its own gives the same rounds and evaluations
"$F" run "$S" -o "$WORK/one.sqlite" --quiet --set server.clients_per_round=8 \
    --set devices.failure_prob=0.3 >/dev/null
rows="select round, t_end, selected, reported, dropped, printf('%.12g', train_loss) from rounds"
a=$(q "$rows where run_id = (select run_id from runs where variant like 'server.clients_per_round=8, devices.failure_prob=0.3')")
b=$(sqlite3 "$WORK/one.sqlite" "$rows")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "variant differs from the standalone run"
# --jobs 2 gives --jobs 1's file: each job's run_id is its place in the sweep. The first job
# here loads 50 times the clients, so the second job's run used to be created first (run 1).
order='sweep={"data.clients":[2000,40]}'
for j in 1 2; do
    "$F" sweep "$S" -o "$WORK/j$j.sqlite" --jobs $j --set "$order" >/dev/null 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "sweep --jobs $j failed"; }
    "$DUMP" "$WORK/j$j.sqlite" >"$WORK/j$j.dump" || fail "dumping the --jobs $j sweep"
done
[ "$(sqlite3 "$WORK/j2.sqlite" "select group_concat(run_id || ':' || variant, ' ') from
    (select * from runs order by run_id)")" = "1:data.clients=2000 2:data.clients=40" ] ||
    fail "--jobs 2: run ids do not follow the jobs' order"
cmp -s "$WORK/j1.dump" "$WORK/j2.dump" ||
    { diff "$WORK/j1.dump" "$WORK/j2.dump" | head; fail "--jobs 1 and --jobs 2 databases differ"; }
# --run-id: the run is recorded under it; a taken id is refused and that run stays whole
"$F" run "$S" -o "$WORK/id.sqlite" --quiet --run-id 7 >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "run --run-id 7 failed"; }
[ "$(sqlite3 "$WORK/id.sqlite" "select run_id || ':' || status from runs")" = "7:done" ] ||
    fail "--run-id 7 did not record run 7"
before=$("$DUMP" "$WORK/id.sqlite")
set +e
"$F" run "$S" -o "$WORK/id.sqlite" --quiet --run-id 7 >/dev/null 2>"$WORK/err"
code=$?; set -e
[ $code -ne 0 ] || fail "a taken --run-id was accepted"
grep -q 'run_id 7 is taken by another run: nothing was written' "$WORK/err" ||
    { cat "$WORK/err"; fail "a taken --run-id: no precise message"; }
[ "$("$DUMP" "$WORK/id.sqlite")" = "$before" ] || fail "a refused --run-id changed the database"
# a sweep's child whose id another process took meanwhile takes the next free one, and says so
FEDSIM_SWEEP_CHILD=1 "$F" run "$S" -o "$WORK/id.sqlite" --quiet --run-id 7 >/dev/null \
    2>"$WORK/err" || { cat "$WORK/err"; fail "a sweep child with a taken id failed"; }
grep -q "note: run_id 7 was taken in .*id.sqlite (another process writes it): this run is run 8" \
    "$WORK/err" || { cat "$WORK/err"; fail "a sweep child with a taken id: no note"; }
[ "$(sqlite3 "$WORK/id.sqlite" "select group_concat(run_id || ':' || status) from runs")" = \
    "7:done,8:done" ] || fail "a sweep child with a taken id did not become run 8"
for bad in 0 -3 x 2147483648; do
    set +e
    "$F" run "$S" -o "$WORK/id.sqlite" --run-id "$bad" >/dev/null 2>"$WORK/err"
    code=$?; set -e
    [ $code -eq 2 ] && grep -q -- '--run-id: expected an integer from 1 to 2147483647' \
        "$WORK/err" || { cat "$WORK/err"; fail "--run-id $bad: exit $code, expected 2"; }
done
# resume: a variant left interrupted is rerun, the others are skipped
q "update runs set status='interrupted' where variant like '%=4, devices.failure_prob=0'"
"$F" sweep "$S" -o "$WORK/s.sqlite" --jobs 2 >"$WORK/out" 2>"$WORK/err" || fail "resume failed"
grep -q "4 variants, 3 already done" "$WORK/err" || { cat "$WORK/err"; fail "resume did not skip the finished variants"; }
# it had no checkpoint: it is run again under its own run_id, so the file holds 4 runs again
[ "$(q "select count(*) from runs")" = 4 ] || fail "expected 4 runs after resume"
[ "$(q "select count(*) from runs where status='done'")" = 4 ] || fail "expected 4 done after resume"
[ "$(q "select count(*) from rounds where run_id = (select run_id from runs
      where variant like '%=4, devices.failure_prob=0')")" = 3 ] ||
    fail "the variant run again does not hold exactly its 3 rounds"
# a bad variant is reported before anything runs, and nothing is written
set +e
"$F" sweep "$S" -o "$WORK/bad.sqlite" --set 'sweep={"server.rounds":[2,-1]}' 2>"$WORK/err"
code=$?; set -e
[ $code -eq 2 ] || fail "bad variant: exit $code, expected 2"
grep -q 'sweep variant "server.rounds=-1": .*server.rounds: expected integer' "$WORK/err" || { cat "$WORK/err"; fail "no precise message"; }
[ ! -e "$WORK/bad.sqlite" ] || fail "a database was created for a bad sweep"
# the runs' threads are the CPUs the sweep may run on over --jobs (taskset: one), not the
# machine's, and a run given more threads than that says so
taskset -c 0 "$F" sweep "$S" -o "$WORK/one_cpu.sqlite" >/dev/null 2>&1 || fail "sweep on 1 CPU"
[ "$(sqlite3 "$WORK/one_cpu.sqlite" "select group_concat(distinct threads) from runs")" = 1 ] ||
    fail "a sweep on one CPU gave its runs more threads"
taskset -c 0 "$F" run "$S" -o "$WORK/t2.sqlite" --quiet --threads 2 >/dev/null 2>"$WORK/err" ||
    fail "run on 1 CPU"
grep -q "fedsim: warning: --threads 2, but this process may run on 1 CPU (its affinity" \
    "$WORK/err" || { cat "$WORK/err"; fail "no warning for 2 threads on 1 CPU"; }
"$F" run "$S" -o "$WORK/t1.sqlite" --quiet --threads 1 >/dev/null 2>"$WORK/err" || fail "run"
! grep -q "CPU" "$WORK/err" || { cat "$WORK/err"; fail "a warning for 1 thread"; }
echo "sweep: 4 variants, labels, reproducibility, resume and bad input all behave"
