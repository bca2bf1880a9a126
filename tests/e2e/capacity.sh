#!/bin/bash
# capacity.sh FEDSIM SCENARIO: trace_week's clients table records each phone's availability
# trace key, its capacity trace device_model and its network, and its links are its capacity
# row's kbps / 1000 (the two traces share key names: the row is that of its availability key),
# every reported participation trained 3 x compute_ms_per_sample x samples x epochs;
# a bad capacity trace is refused at validation with its file:line, exit 2.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 absent: skipped"; exit 77; }
dir=$(cd "$(dirname "$2")" && pwd)
cap="$dir/traces/example_capacity.csv"
"$1" run "$2" -o "$WORK/r.sqlite" --quiet >/dev/null || fail "run failed"
q() { sqlite3 "$WORK/r.sqlite" "$1"; }
[ "$(q "SELECT count(*) FROM clients WHERE trace_key IS NULL")" = 0 ] || fail "a client lacks its trace key"
[ "$(q "SELECT count(DISTINCT trace_key) > 250 FROM clients")" = 1 ] || fail "few trace keys used"
classes=$(q "SELECT group_concat(device_class, ' ') FROM (SELECT DISTINCT device_class FROM clients ORDER BY 1)")
[ "$classes" = "budget-phone flagship-phone mid-phone" ] || fail "device classes: $classes"
[ "$(q "SELECT count(*) FROM clients WHERE network NOT IN ('wifi', 'cellular')")" = 0 ] ||
    fail "network not wifi|cellular"
# every client's row, looked up by its trace key in the committed capacity trace
grep -v '^#' "$cap" | awk -F, '{print $1 "|" $3 "|" $4 "|" $5}' >"$WORK/cap.want"
q "SELECT DISTINCT trace_key, CAST(round(uplink_mbps * 1000) AS INTEGER),
          CAST(round(downlink_mbps * 1000) AS INTEGER), device_class FROM clients" |
    sort >"$WORK/cap.got"
bad=$(sort "$WORK/cap.got" | comm -23 - <(sort "$WORK/cap.want"))
[ -z "$bad" ] || fail "clients rows differ from their capacity rows: $(echo "$bad" | head -3)"
# each reported participation trained 3 x compute_ms_per_sample x n_train x epochs (1) ms
grep -v '^#' "$cap" | awk -F, 'BEGIN { printf "CREATE TEMP TABLE cap(k TEXT, ms REAL); INSERT INTO cap VALUES" }
    { printf "%s(\x27%s\x27, %s)", (NR > 1 ? "," : ""), $1, $2 } END { print ";" }' >"$WORK/cap.sql"
got=$( (cat "$WORK/cap.sql"; echo "SELECT count(*), count(*) - sum(p.t_trained - p.t_downloaded =
        CAST(round(3 * cap.ms * c.n_train * 1000) AS INTEGER)) FROM participation p
        JOIN clients c USING(run_id, client_id) JOIN cap ON cap.k = c.trace_key
        WHERE p.outcome = 'reported';") | sqlite3 "$WORK/r.sqlite")
case "$got" in 0\|*|*\|[1-9]*) fail "train times off the trace (participations|wrong): $got" ;; esac
# every participation records its network and its energy (no devices.network here: all Wi-Fi)
[ "$(q "SELECT count(*) FROM participation WHERE network IS NOT 'wifi' OR NOT energy_j > 0")" = 0 ] ||
    fail "participations without network = wifi or without energy"
# a bad capacity trace: validation names its file and line, exit 2, nothing runs
printf '# fedsim-capacity v1\nA,10,100,200\nB,5,-1,200\n' >"$WORK/bad.csv"
sed "s#traces/example_capacity.csv#$WORK/bad.csv#" "$2" >"$WORK/s.json"
sed -i "s#traces/example_avail.csv#$dir/traces/example_avail.csv#" "$WORK/s.json"
set +e
out=$("$1" validate "$WORK/s.json" 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "validate exit $rc, not 2: $out"
echo "$out" | grep -qF "$WORK/bad.csv:3: expected a finite number >= 0 for uplink_kbps, found \"-1\"" ||
    fail "message lacks file:line: $out"
echo ok
