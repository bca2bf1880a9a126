#!/bin/bash
# tz_level.sh FEDSIM DBDUMP SCENARIO: time zones by level (devices.availability.diurnal.
# utc_offset_by) end to end. SCENARIO is scenarios/ctr_timezone_ipw.json (4 regions, one time
# zone each), shortened here.
#  1. every client is at its region's offset: the population's count of each region equals the
#     count of clients at that region's offset (a uniform draw, as without the key, would not
#     match: the marketing regions have unequal sizes), and only the listed offsets occur;
#  2. identical databases with --threads 1 and 2;
#  3. the low-availability region (region_2, morning during the campaign) is under-represented
#     among reports;
#  4. a CSV file's levels, not known at validation, are counted at run start: a wrong list length
#     is refused there with exit 2 and the exact message, before any output exists.
source "$(dirname "$0")/lib.sh"
fedsim=$(realpath "$1") dump=$(realpath "$2") scn=$(realpath "$3")
cd "$WORK"
q() { sqlite3 "$1" "$2"; }
short=(--set server.rounds=12)
run() { local db=$1; shift; "$fedsim" run "$scn" -o "$db" --quiet "${short[@]}" "$@" >/dev/null ||
    fail "run $db $*"; }

# 1. each region at its own offset (utc_offsets_h [-8, -5, 5, -2] h)
run a.sqlite --threads 1
offsets=(-480 -300 300 -120)
for i in 0 1 2 3; do
    n_region=$(q a.sqlite "select n from participation_mix where round = 0 and
               stage = 'population' and grp = 'region' and level = 'region_$i'")
    n_tz=$(q a.sqlite "select count(*) from clients where utc_offset_min = ${offsets[$i]}")
    [ -n "$n_region" ] && [ "$n_region" -gt 0 ] || fail "region_$i has no clients"
    [ "$n_region" = "$n_tz" ] ||
        fail "region_$i: $n_region clients, but $n_tz at its offset ${offsets[$i]} min"
done
[ "$(q a.sqlite "select count(*) from clients where utc_offset_min not in (-480, -300, 300, -120)
     or utc_offset_min is null")" = 0 ] || fail "a client outside the listed offsets"
# without the key the same population draws its time zones uniformly: the counts differ
run u.sqlite --set devices.availability.diurnal.utc_offset_by='""'
same=1
for i in 0 1 2 3; do
    [ "$(q u.sqlite "select count(*) from clients where utc_offset_min = ${offsets[$i]}")" = \
      "$(q a.sqlite "select count(*) from clients where utc_offset_min = ${offsets[$i]}")" ] ||
        same=0
done
[ $same = 0 ] || fail "utc_offset_by changed no client's time zone"

# 2. thread counts
run b.sqlite --threads 2
"$dump" a.sqlite >a.dump
"$dump" b.sqlite >b.dump
cmp -s a.dump b.dump || fail "1 and 2 threads differ"

# 3. region_2's phones are rarely online: well under half their share among reports
ratio=$(q a.sqlite "select ratio from v_participation_by_segment where grp = 'region' and
        level = 'region_2' and stage = 'reported'")
awk -v r="$ratio" 'BEGIN { exit !(r < 0.5) }' || fail "region_2 report ratio $ratio (expected < 0.5)"

# 4. a CSV file's levels are counted when it is loaded: by validate as by run
{
    echo "zone,x,y"
    for i in $(seq 1 200); do echo "z$((i % 3)),$((i % 7)),$((i % 2))"; done
} >zones.csv
cat >csv.json <<'JSON'
{"name": "zones", "data": {"source": "csv", "clients": 20,
  "csv": {"path": "zones.csv", "label": "y", "groups": ["zone"]}},
 "model": {"kind": "logreg"}, "server": {"rounds": 2, "clients_per_round": 5},
 "devices": {"availability": {"diurnal": {"utc_offsets_h": [0, 5], "utc_offset_by": "zone"}}}}
JSON
want='fedsim: error: csv.json: devices.availability.diurnal.utc_offsets_h: expected 3 offsets, one per level of "zone" (utc_offset_by), found 2'
set +e
"$fedsim" validate csv.json >/dev/null 2>err.txt
rc=$?
set -e
[ $rc = 2 ] || fail "validate, CSV with 3 zones and 2 offsets: exit $rc (expected 2)"
[ "$(cat err.txt)" = "$want" ] || fail "validate's CSV message: $(cat err.txt)"
set +e
"$fedsim" run csv.json -o csv.sqlite --quiet >/dev/null 2>err.txt
rc=$?
set -e
[ $rc = 2 ] || fail "CSV with 3 zones and 2 offsets: exit $rc (expected 2)"
[ "$(cat err.txt)" = "$want" ] || fail "CSV message: $(cat err.txt)"
[ ! -e csv.sqlite ] || fail "a refused run left csv.sqlite behind"
"$fedsim" run csv.json -o csv3.sqlite --quiet --set devices.availability.diurnal.utc_offsets_h='[0, 5, 9]' \
    >/dev/null || fail "CSV with 3 offsets did not run"
echo ok
