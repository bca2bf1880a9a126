#!/bin/bash
# resume.sh FEDSIM DBDUMP SCENARIO: a run interrupted mid-campaign and continued with --resume
# from its last checkpoint gives exactly the database an uninterrupted run gives (every table,
# the final checkpoint included, which is the last due round's, 294, on any machine); the round
# the stop ended is the checkpoint; a changed scenario is refused.
source "$(dirname "$0")/lib.sh"
F=$1 D=$2 S=$3
set_args=(--set server.rounds=300 --set output.checkpoint_every=7 --quiet)
"$F" run "$S" -o "$WORK/full.sqlite" "${set_args[@]}" >/dev/null
"$F" run "$S" -o "$WORK/cut.sqlite" "${set_args[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
    n=$(sqlite3 "$WORK/cut.sqlite" "select count(*) from rounds" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 30 ] && break
    sleep 0.02
done
# the run may have finished meanwhile (a fast scenario on an idle machine): handled below
kill -INT $pid 2>/dev/null || true
set +e; wait $pid; code=$?; set -e
q() { sqlite3 "$WORK/cut.sqlite" "$1"; }
if [ $code -eq 130 ]; then
    [ "$(q "select status from runs")" = interrupted ] || fail "status is not interrupted"
    cut=$(q "select max(round) from rounds")
    [ "$cut" -lt 300 ] || fail "the run finished before it could be interrupted"
    # output.checkpoint_min_interval_s (10 s) skips the due rounds of so short a run, but the
    # round a stop ends is kept (or, past it, the last due round: 294)
    want=$((cut < 294 ? cut : 294))
    [ "$(q "select round from checkpoints")" = $want ] ||
        fail "interrupted after round $cut: checkpoint of round $(q "select round from checkpoints"), expected $want"
else
    [ $code -eq 0 ] || fail "the interrupted run exited $code, expected 130 (or 0 if it beat the signal)"
    # the run beat the signal: simulate the crash instead (rounds after a checkpoint lost)
    q "update runs set status='interrupted'"
    cut=300
fi
[ "$(sqlite3 "$WORK/full.sqlite" "select round from checkpoints")" = 294 ] ||
    fail "the uninterrupted run's checkpoint is not the last due round's (294)"
echo "interrupted after round $cut; checkpoint at round $(q "select round from checkpoints")"
# a different scenario cannot take the run over
set +e
"$F" run "$S" -o "$WORK/cut.sqlite" "${set_args[@]}" --set train.lr=0.01 --resume 2>"$WORK/err" >/dev/null
code=$?
set -e
[ $code -eq 2 ] || fail "resuming with a changed scenario exited $code, expected 2"
grep -q "started from a different effective scenario" "$WORK/err" || { cat "$WORK/err"; fail "no clear refusal"; }
[ "$(q "select count(*) from runs")" = 1 ] || fail "the refused resume left a run behind"
"$F" run "$S" -o "$WORK/cut.sqlite" "${set_args[@]}" --resume >"$WORK/out"
grep -q "resumed" "$WORK/out" || { cat "$WORK/out"; fail "the run was not resumed"; }
"$D" "$WORK/full.sqlite" >"$WORK/full.dump"
"$D" "$WORK/cut.sqlite" >"$WORK/cut.dump"
diff -q "$WORK/full.dump" "$WORK/cut.dump" >/dev/null || {
    diff "$WORK/full.dump" "$WORK/cut.dump" | head -10; fail "resumed run differs"; }
echo "resumed run identical to the uninterrupted one ($(wc -l <"$WORK/full.dump") rows)"
