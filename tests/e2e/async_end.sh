#!/bin/bash
# async_end.sh FEDSIM SCENARIO: a FedBuff campaign's end loses no participation. When the last
# buffer fills, the clients still in flight are cut off (aborted) and recorded with the last
# round; at server.max_virtual_hours the open window, buffer partial, is the last round. Either
# way every selection has its outcome and its row.
source "$(dirname "$0")/lib.sh"
ASYNC=(--set server.mode=async --set server.async.concurrency=30 --set server.async.buffer_size=20)
q() { sqlite3 "$1" "$2"; }
all_accounted() { # DB WHAT
    [ "$(q "$1" "select sum(selected) = sum(reported + dropped + late + aborted + rejected)
                 and sum(selected) = (select count(*) from participation) from rounds")" = 1 ] ||
        fail "$2: selections without an outcome: $(q "$1" "select sum(selected),
              sum(reported + dropped + late + aborted + rejected),
              (select count(*) from participation) from rounds")"
    [ "$(q "$1" "select status from runs")" = done ] || fail "$2: run not done"
}
"$1" run "$2" -o "$WORK/full.sqlite" --quiet "${ASYNC[@]}" >/dev/null
all_accounted "$WORK/full.sqlite" "rounds reached"
last=$(q "$WORK/full.sqlite" "select max(round) from rounds")
[ "$(q "$WORK/full.sqlite" "select aborted > 0 from rounds where round = $last")" = 1 ] ||
    fail "the clients in flight at the end are not aborted in the last round"
[ "$(q "$WORK/full.sqlite" "select count(*) from participation where outcome = 'aborted'
     and (round != $last or t_reported >= 0)")" = 0 ] ||
    fail "an aborted row is not the last round's"
# stop halfway through window 3: the limited run is the full one up to there
t2=$(q "$WORK/full.sqlite" "select t_end from rounds where round = 2")
t3=$(q "$WORK/full.sqlite" "select t_end from rounds where round = 3")
h=$(awk -v a="$t2" -v b="$t3" 'BEGIN {printf "%.9f", (a + b) / 2 / 3.6e9}')
"$1" run "$2" -o "$WORK/cut.sqlite" --quiet "${ASYNC[@]}" --set server.rounds=1000 \
    --set server.max_virtual_hours="$h" >/dev/null
all_accounted "$WORK/cut.sqlite" "time limit"
[ "$(q "$WORK/cut.sqlite" "select max(round) from rounds")" = 3 ] || fail "expected 3 rounds"
reports() { # DB: window 3's reports before the limit
    q "$1" "select client_id, t_reported from participation where round = 3 and
            outcome = 'reported' and t_reported < $h * 3.6e9 order by client_id, t_reported"
}
[ -n "$(reports "$WORK/cut.sqlite")" ] || fail "the partial window has no report"
[ "$(reports "$WORK/cut.sqlite")" = "$(reports "$WORK/full.sqlite")" ] ||
    fail "the partial last window's reports differ from the full run's"
[ "$(q "$WORK/cut.sqlite" "select reported < 20 and aborted > 0 from rounds
     where round = 3")" = 1 ] ||
    fail "the last window should be partial, its clients in flight aborted"
echo "async_end: every selection recorded, at the last buffer and at the time limit"
