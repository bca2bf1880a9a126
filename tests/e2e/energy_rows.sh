#!/bin/bash
# energy_rows.sh FEDSIM SCENARIO: the energy the phones spent is recorded whether or not the
# run keeps participation rows, under the synchronous server and FedBuff: client_energy_rounds
# holds the same rows either way, and they add up to the rounds' energy_j.
source "$(dirname "$0")/lib.sh"
rows() { # DB: the energy rows, in a fixed order
    sqlite3 "$1" "select round, client_id, day, energy_j from client_energy_rounds
                  order by round, client_id, day"
}
for mode in sync async; do
    for keep in true false; do
        "$1" run "$2" -o "$WORK/$mode-$keep.sqlite" --quiet --set server.mode=$mode \
            --set server.async.concurrency=30 --set server.async.buffer_size=20 \
            --set output.participation=$keep >/dev/null
    done
    [ "$(rows "$WORK/$mode-true.sqlite" | wc -l)" -gt 20 ] || fail "$mode: too few energy rows"
    [ "$(rows "$WORK/$mode-true.sqlite")" = "$(rows "$WORK/$mode-false.sqlite")" ] ||
        fail "$mode: energy rows differ without participation rows"
    [ "$(sqlite3 "$WORK/$mode-false.sqlite" "select count(*) from participation")" = 0 ] ||
        fail "$mode: participation rows written though output.participation is false"
    sqlite3 "$WORK/$mode-false.sqlite" "select abs((select sum(energy_j) from rounds) -
        (select sum(energy_j) from client_energy_rounds)) < 1e-9" | grep -qx 1 ||
        fail "$mode: the energy rows do not add up to the rounds' energy_j"
done
echo "energy_rows: the same energy rows with and without participation rows, sync and async"
