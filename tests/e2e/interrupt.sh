#!/bin/bash
# interrupt.sh FEDSIM SCENARIO: SIGINT mid-run exits 130, marks the run interrupted and keeps
# every completed round whole (each recorded round has its participation rows).
source "$(dirname "$0")/lib.sh"
"$1" run "$2" -o "$WORK/i.sqlite" --quiet --set server.rounds=100000 >/dev/null 2>"$WORK/err" &
pid=$!
for _ in $(seq 100); do
    sleep 0.1
    n=$(sqlite3 "$WORK/i.sqlite" "select count(*) from rounds" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 3 ] && break
done
kill -INT $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 130 ] || fail "exit code $code, expected 130"
grep -q "interrupted after round" "$WORK/err" || fail "no interruption message"
q() { sqlite3 "$WORK/i.sqlite" "$1"; }
[ "$(q "select status from runs")" = interrupted ] || fail "status is not interrupted"
bad=$(q "select count(*) from rounds r where selected != (select count(*) from participation p where p.round = r.round)")
[ "$bad" -eq 0 ] || fail "$bad rounds without all their participation rows"
echo "interrupted after $(q "select count(*) from rounds") complete rounds"
