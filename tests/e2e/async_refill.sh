#!/bin/bash
# async_refill.sh FEDSIM SCENARIO: FedBuff with concurrency >> buffer on a small population (300
# clients, 200 in flight, buffer 50): a client that ends, is picked again at once and ends again
# within one aggregation window used to hit participation's primary key (exit 3, run failed).
# Now each participation is one row, numbered by seq, and the rows add up to the rounds' counts.
source "$(dirname "$0")/lib.sh"
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
echo "async refill: done, $repeats repeat participations, rows add up"
