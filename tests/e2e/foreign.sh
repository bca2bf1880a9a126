#!/bin/bash
# foreign.sh FEDSIM SCENARIO SWEEP_SCENARIO: a results path that holds another application's
# SQLite file is refused by run and sweep before anything is written (exit 3: the file stays
# byte for byte the same, not switched to WAL, no fedsim table); a fedsim database of a newer
# schema version is refused by run, sweep, report and plan (exit 3), unchanged.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2 SW=$3
expect3() { # DESCRIPTION COMMAND...: exit 3
    local what=$1
    shift
    set +e; "$@" >/dev/null 2>"$WORK/err"; local code=$?; set -e
    [ $code -eq 3 ] || { cat "$WORK/err"; fail "$what: exit $code, expected 3"; }
}
db=$WORK/contacts.sqlite
sqlite3 "$db" "create table contacts(name text, phone text); insert into contacts values('Ann', '555');"
sum=$(md5sum <"$db")
msg="fedsim: error: $db: not a fedsim results database (it has tables but no meta.schema_version); fedsim adds nothing to another application's file: use a new file"
expect3 "run on a foreign file" "$F" run "$S" -o "$db" --quiet
grep -qxF "$msg" "$WORK/err" || { cat "$WORK/err"; fail "run: no clear message"; }
expect3 "sweep on a foreign file" "$F" sweep "$SW" -o "$db"
grep -qxF "$msg" "$WORK/err" || { cat "$WORK/err"; fail "sweep: no clear message"; }
[ "$(md5sum <"$db")" = "$sum" ] || fail "the foreign file was modified"
[ "$(sqlite3 "$db" "pragma journal_mode")" = delete ] || fail "the foreign file was switched to WAL"
[ "$(sqlite3 "$db" "select group_concat(name) from sqlite_schema")" = contacts ] ||
    fail "fedsim tables were added"
[ ! -e "$db-wal" ] && [ ! -e "$db-lock" ] || fail "files left next to the foreign file"
expect3 "report on a foreign file" "$F" report "$db" -o "$WORK/rep"
grep -q "not a fedsim results database (no meta table)" "$WORK/err" || fail "report: message"

# a newer schema version
new=$WORK/new.sqlite
"$F" run "$S" -o "$new" --quiet --set server.rounds=2 >/dev/null
sqlite3 "$new" "update meta set value = '99' where key = 'schema_version'"
sum=$(md5sum <"$new")
for cmd in "run $S -o $new --quiet" "sweep $SW -o $new" "report $new -o $WORK/rep2" \
    "plan $new --target accuracy=0.5"; do
    expect3 "$cmd on schema 99" "$F" $cmd
    grep -q "$new: results database has schema version 99, this fedsim \(writes version [0-9]* (and upgrades versions 2 to 5)\|reads versions 2 to [0-9]*\) (written by a newer fedsim)" "$WORK/err" ||
        { cat "$WORK/err"; fail "$cmd: no clear message"; }
done
[ "$(md5sum <"$new")" = "$sum" ] || fail "the newer database was modified"
[ "$(sqlite3 "$new" "select count(*) from runs")" -eq 1 ] || fail "a run was added"
echo "foreign: other applications' files and newer schemas are refused untouched"
