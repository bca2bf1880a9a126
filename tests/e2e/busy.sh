#!/bin/bash
# busy.sh FEDSIM SCENARIO: another process (a sqlite3 session in BEGIN EXCLUSIVE) holding the
# results database's write lock mid-run: the run waits it out (default busy timeout 60 s); with
# a short FEDSIM_BUSY_TIMEOUT_MS it gives up with a clear message (exit 3) and marks the run
# failed once the lock is free, or says that the run stays marked running when it never is.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2
# hold DB SECONDS: takes the write lock for SECONDS (in the background); returns once it is held
hold() {
    rm -f "$WORK/held"
    printf '.timeout 10000\nBEGIN EXCLUSIVE;\n.shell touch %s\n.shell sleep %s\nCOMMIT;\n' \
        "$WORK/held" "$2" | sqlite3 "$1" >/dev/null &
    for _ in $(seq 100); do [ -e "$WORK/held" ] && return 0; sleep 0.05; done
    fail "sqlite3 did not get the lock"
}
started() { # DB: until round 3 is committed
    for _ in $(seq 200); do
        [ "$(sqlite3 "$1" "select count(*) from rounds" 2>/dev/null || echo 0)" -ge 3 ] && return 0
        sleep 0.05
    done
    fail "$1: the run did not start"
}
# run_locked NAME ROUNDS SECONDS [env...]: starts a run, holds the lock SECONDS mid-run
run_locked() {
    local db=$WORK/$1.sqlite rounds=$2 secs=$3
    shift 3
    env "$@" "$F" run "$S" -o "$db" --quiet --set server.rounds="$rounds" >/dev/null \
        2>"$WORK/err" &
    local pid=$!
    started "$db"
    hold "$db" "$secs"
    set +e; wait $pid; code=$?; set -e
    wait # the sqlite3 session
    status=$(sqlite3 "$db" "select status from runs")
}
run_locked wait 300 6 # longer than the 5 s fedsim used to wait
[ $code -eq 0 ] && [ "$status" = done ] || { cat "$WORK/err"; fail "waiting: exit $code, $status"; }
[ "$(sqlite3 "$WORK/wait.sqlite" "select count(*) from rounds")" -eq 300 ] || fail "rounds lost"

run_locked giveup 100000 2.5 FEDSIM_BUSY_TIMEOUT_MS=1500
[ $code -eq 3 ] || { cat "$WORK/err"; fail "giving up: exit $code, expected 3"; }
grep -q "writing round [0-9]*: database is locked (another process held the lock for more than 1500 ms; FEDSIM_BUSY_TIMEOUT_MS sets how long to wait)" "$WORK/err" ||
    { cat "$WORK/err"; fail "giving up: no clear message"; }
[ "$status" = failed ] || fail "giving up: status $status, expected failed"

run_locked stuck 100000 3 FEDSIM_BUSY_TIMEOUT_MS=300
[ $code -eq 3 ] || { cat "$WORK/err"; fail "stuck: exit $code, expected 3"; }
grep -q "run 1 stays marked running (its completed rounds are kept" "$WORK/err" ||
    { cat "$WORK/err"; fail "stuck: no message about the status"; }
[ "$status" = running ] || fail "stuck: status $status"

set +e; FEDSIM_BUSY_TIMEOUT_MS=soon "$F" run "$S" -o "$WORK/x.sqlite" --quiet 2>"$WORK/err"
code=$?; set -e
[ $code -eq 2 ] && grep -q 'FEDSIM_BUSY_TIMEOUT_MS: expected milliseconds from 0 to 86400000, found "soon"' "$WORK/err" ||
    { cat "$WORK/err"; fail "bad FEDSIM_BUSY_TIMEOUT_MS: exit $code"; }
echo "busy: a held lock is waited out, or the run fails with a clear message and is marked"
