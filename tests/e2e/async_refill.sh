#!/bin/bash
# async_refill.sh FEDSIM SCENARIO: FedBuff with concurrency >> buffer on a small population (300
# clients, 200 in flight, buffer 50): a client that ends, is picked again at once and ends again
# within one aggregation window used to hit participation's primary key (exit 3, run failed).
# Now each participation is one row, numbered by seq, and the rows add up to the rounds' counts.
# The other way round, a buffer larger than the concurrency or the population fills and is
# aggregated every time (it used to overflow the heap).
source "$(dirname "$0")/lib.sh"
F=$1 S=$2
"$1" run "$2" --set data.clients=300 --set server.rounds=12 --set server.mode=async \
    --set 'server.async={"concurrency":200,"buffer_size":50}' --threads 1 \
    -o "$WORK/a.sqlite" --quiet || fail "exit $?"
q() { sqlite3 "$WORK/a.sqlite" "$1"; }
[ "$(q "select status from runs")" = done ] || fail "run is not done"
[ "$(q "select count(*) from rounds")" = 12 ] || fail "expected 12 rounds"
repeats=$(q "select count(*) from participation where seq > 0")
[ "$repeats" -gt 0 ] || fail "no client took part twice in one window: the case is not exercised"
# seq numbers each client's participations of a round 0, 1, ... without gaps
gaps=$(q "select count(*) from (select round, client_id, max(seq) m, count(*) c
          from participation group by round, client_id) where m + 1 <> c")
[ "$gaps" = 0 ] || fail "$gaps (round, client) groups with gaps in seq"
bad=$(q "select count(*) from rounds r where
           r.reported <> (select count(*) from participation p where p.round = r.round and p.outcome = 'reported')
        or r.dropped  <> (select count(*) from participation p where p.round = r.round and p.outcome = 'dropped')
        or r.late     <> (select count(*) from participation p where p.round = r.round and p.outcome = 'late')
        or r.aborted  <> (select count(*) from participation p where p.round = r.round and p.outcome = 'aborted')
        or r.rejected <> (select count(*) from participation p where p.round = r.round and p.outcome = 'rejected')")
[ "$bad" = 0 ] || fail "$bad rounds whose counts differ from their participation rows"
[ "$(q "select count(*) from rounds where reported <> 50")" = 0 ] || fail "a round did not aggregate 50"
# a buffer larger than the clients in flight (5 in flight, buffer 50), and larger than the
# population (30 clients, so only 30 of the 1000 slots exist): each step's 50 reports used to be
# written into the engine's array of in-flight slots (heap overflow: exit 139 or 134)
for cfg in "5 50 300" "1000 50 30"; do
    set -- $cfg
    db=$WORK/b$1.sqlite
    set +e
    "$F" run "$S" --set data.clients=$3 --set server.clients_per_round=10 --set server.rounds=3 \
        --set server.mode=async --set "server.async={\"concurrency\":$1,\"buffer_size\":$2}" \
        -o "$db" --quiet >/dev/null 2>"$WORK/err"
    code=$?
    set -e
    [ $code -eq 0 ] || { cat "$WORK/err"; fail "concurrency $1, buffer $2, $3 clients: exit $code"; }
    [ "$(sqlite3 "$db" "select status || ' ' || group_concat(reported) from runs, rounds")" = "done 50,50,50" ] ||
        fail "concurrency $1, buffer $2: $(sqlite3 "$db" "select status, reported from runs, rounds")"
done
echo "async refill: done, $repeats repeat participations, rows add up; buffer > concurrency and > population"
