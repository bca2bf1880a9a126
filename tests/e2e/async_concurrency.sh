#!/bin/bash
# async_concurrency.sh FEDSIM SCENARIO: FedBuff with 120,000 clients in flight runs to done on a
# 512 KiB stack. Arrays sized by server.async.concurrency used to live on the stack and
# segfaulted (exit 139) even at the default 8 MiB; the refill also scanned every slot per event.
source "$(dirname "$0")/lib.sh"
( ulimit -s 512 && exec "$1" run "$2" -o "$WORK/a.sqlite" --quiet ) || fail "exit $?"
q() { sqlite3 "$WORK/a.sqlite" "$1"; }
[ "$(q "select status from runs")" = done ] || fail "run is not done"
[ "$(q "select count(*) from rounds")" = 2 ] || fail "expected 2 rounds"
sel=$(q "select selected from rounds where round = 1")
[ "$sel" -ge 120000 ] || fail "round 1 dispatched $sel clients, expected >= 120000 in flight"
echo "120,000 in flight: done ($sel dispatched in round 1)"
