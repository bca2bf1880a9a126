#!/bin/bash
# signals.sh FEDSIM SCENARIO SWEEP_SCENARIO: SIGINT, SIGTERM and SIGHUP each stop a running
# `fedsim run` after its current round (or the next: fs_engine.c's checkpoint_due; status
# interrupted, exit 128 + signal, the command that continues printed, and that command resumes
# the same run); sent to the sweep process alone, each stops the sweep and every variant it
# runs the same way (forwarded), with the sweep's exit code following the same rule and an
# honest count of what ran. An ignored SIGHUP (nohup) stays ignored.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2 SW=$3
# The runs SIGHUP must stop start with its default action: a test suite started under nohup
# (as a CI job may be) passes SIGHUP on ignored, and bash cannot reset an inherited ignore.
HUP_DEFAULT=(env --default-signal=HUP)
# wait_rounds DB N [RUNS]: until RUNS runs (default 1) each have >= N rounds (10 s at most)
wait_rounds() {
    for _ in $(seq 100); do
        sleep 0.1
        n=$(sqlite3 "$1" "select count(*) from (select run_id from rounds group by run_id
            having count(*) >= $2)" 2>/dev/null || echo 0)
        [ "${n:-0}" -ge "${3:-1}" ] && return 0
    done
    fail "$1: fewer than ${3:-1} runs with $2 rounds after 10 s"
}
declare -A num=([INT]=2 [HUP]=1 [TERM]=15)
for sig in INT TERM HUP; do
    db=$WORK/run-$sig.sqlite
    "${HUP_DEFAULT[@]}" "$F" run "$S" -o "$db" --quiet --set server.rounds=100000 \
        --set output.checkpoint_every=1 >/dev/null 2>"$WORK/err" &
    pid=$!
    wait_rounds "$db" 3
    kill -$sig $pid
    set +e; wait $pid; code=$?; set -e
    [ $code -eq $((128 + num[$sig])) ] || { cat "$WORK/err"; fail "run, SIG$sig: exit $code"; }
    grep -q "interrupted after round [0-9]* (SIG$sig)" "$WORK/err" || fail "run, SIG$sig: no message"
    want="fedsim: to continue: fedsim run $S -o $db --resume --set server.rounds=100000 --set output.checkpoint_every=1"
    grep -qxF "$want" "$WORK/err" || { cat "$WORK/err"; fail "run, SIG$sig: no resume command"; }
    [ "$(sqlite3 "$db" "select status from runs")" = interrupted ] || fail "run, SIG$sig: status"
done
# the printed command continues the same run
cmd=$(sed -n 's/^fedsim: to continue: fedsim //p' "$WORK/err")
before=$(sqlite3 "$db" "select count(*) from rounds")
eval "exec \"\$F\" $cmd --quiet" >/dev/null 2>"$WORK/err2" &
pid=$!
wait_rounds "$db" $((before + 3))
kill -INT $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 130 ] || { cat "$WORK/err2"; fail "printed resume command: exit $code"; }
[ "$(sqlite3 "$db" "select count(*) || ' ' || max(status) from runs")" = "1 interrupted" ] ||
    fail "the printed command did not continue run 1"

# nohup: SIGHUP ignored at start stays ignored
db=$WORK/nohup.sqlite
(trap '' HUP; exec "$F" run "$S" -o "$db" --quiet --set server.rounds=100000 >/dev/null 2>&1) &
pid=$!
wait_rounds "$db" 3
kill -HUP $pid
sleep 0.5
kill -0 $pid 2>/dev/null || fail "an ignored SIGHUP (nohup) stopped the run"
kill -TERM $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 143 ] || fail "nohup run, SIGTERM: exit $code"

# a sweep: the signal goes to the sweep process only; --jobs 2 of 4 variants
for sig in INT TERM HUP; do
    db=$WORK/sweep-$sig.sqlite
    "${HUP_DEFAULT[@]}" "$F" sweep "$SW" -o "$db" --jobs 2 --set server.rounds=100000 \
        >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    wait_rounds "$db" 3 2
    kill -$sig $pid
    set +e; wait $pid; code=$?; set -e
    [ $code -eq $((128 + num[$sig])) ] || { cat "$WORK/err"; fail "sweep, SIG$sig: exit $code"; }
    q="select group_concat(status) from runs"
    [ "$(sqlite3 "$db" "$q")" = "interrupted,interrupted" ] ||
        fail "sweep, SIG$sig: runs $(sqlite3 "$db" "$q")"
    [ "$(grep -c "interrupted after round [0-9]* (SIG$sig)" "$WORK/err")" -eq 2 ] ||
        { cat "$WORK/err"; fail "sweep, SIG$sig: the variants did not get SIG$sig"; }
    grep -q "4 variants (0 done now, 2 interrupted, 0 failed, 2 not started, 0 already done)" \
        "$WORK/out" || { cat "$WORK/out"; fail "sweep, SIG$sig: wrong count"; }
    grep -qxF "fedsim: to continue: fedsim sweep $SW -o $db --set server.rounds=100000" \
        "$WORK/err" || { cat "$WORK/err"; fail "sweep, SIG$sig: no resume command"; }
    ! grep -q "fedsim: to continue: fedsim run" "$WORK/err" ||
        fail "sweep, SIG$sig: the variants printed their own resume commands"
done
echo "signals: SIGINT, SIGTERM and SIGHUP stop run and sweep after a round, exit 128+signal"
