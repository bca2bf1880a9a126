#!/bin/bash
# sweep.sh FEDSIM SCENARIO: a grid sweep runs every variant in parallel into one database with
# its label, without resume notes when it is fresh; each variant equals a standalone `fedsim run`
# with the same overrides; an interrupted variant is rerun on resume while finished ones are
# skipped; a bad variant stops the sweep before anything runs.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2
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
echo "sweep: 4 variants, labels, reproducibility, resume and bad input all behave"
