#!/bin/bash
# dbdump.sh FEDSIM DBDUMP DUMPCMP SCENARIO GOLDEN_DUMP: fedsim-dbdump reads through
# fs_db_open_readonly (no -wal/-shm left behind, foreign or damaged files refused with the
# reason), dumps checkpoint_chunks, and stores the effective scenario as a hash, so a key added
# to the schema with its default leaves the golden comparison unchanged.
source "$(dirname "$0")/lib.sh"
F=$1 D=$2 C=$3 S=$4 G=$5
db=$WORK/r.sqlite
"$F" run "$S" -o "$db" --quiet >/dev/null
"$D" "$db" >"$WORK/a.dump"
leftover=$(ls "$WORK" | grep -E -- '-(wal|shm)$' || true)
[ -z "$leftover" ] || fail "the dump left $leftover behind"
grep -q '^runs|run_id=1|name=golden-small|scenario_json=hash:[0-9]*:[0-9a-f]\{16\}|' \
    "$WORK/a.dump" || fail "runs.scenario_json is not dumped as a hash"
grep -q '|scenario.data.source=synthetic|scenario.model.kind=softmax|scenario.server.mode=sync|scenario.server.algorithm=fedavg$' \
    "$WORK/a.dump" || fail "the scenario's fields are missing"
# a new defaulted key changes the effective scenario (and its hash), not the golden comparison
sqlite3 "$db" "update runs set scenario_json = json_set(scenario_json, '\$.train.new_key', 0)"
"$D" "$db" >"$WORK/b.dump"
! diff -q "$WORK/a.dump" "$WORK/b.dump" >/dev/null || fail "the hash ignored a changed scenario"
"$C" --ignore runs.scenario_json --ignore meta.value "$G" "$WORK/b.dump" || fail "a new key changed the golden comparison"
# checkpoint_chunks rows (a checkpoint above 256 MiB) are dumped like every table
sqlite3 "$db" "insert into checkpoint_chunks values(1, 6, 1, x'0102')"
"$D" "$db" | grep -x 'checkpoint_chunks|run_id=1|round=6|seq=1|data=blob:2:082f2407b4e8902a' >/dev/null ||
    fail "checkpoint_chunks not dumped"
# errors: exit 3 with the reason, the file named
expect_error() { # DB MESSAGE
    set +e; "$D" "$1" >/dev/null 2>"$WORK/err"; code=$?; set -e
    [ $code -eq 3 ] || fail "dumping $1 exited $code, expected 3"
    grep -qF "$2" "$WORK/err" || { cat "$WORK/err"; fail "no message: $2"; }
}
expect_error "$WORK/none.sqlite" "fedsim: error: $WORK/none.sqlite: cannot open results database: No such file or directory"
cp "$db" "$WORK/old.sqlite"
sqlite3 "$WORK/old.sqlite" "update meta set value = '1' where key = 'schema_version'"
expect_error "$WORK/old.sqlite" "$WORK/old.sqlite: results database has schema version 1"
sqlite3 "$db" "drop table evals"
expect_error "$db" "fedsim: error: $db: reading table evals: no such table: evals"
set +e; "$D" 2>/dev/null; code=$?; set -e
[ $code -eq 2 ] || fail "no argument exited $code, expected 2"
echo "dbdump: read-only open, checkpoint_chunks, scenario hash, errors"
