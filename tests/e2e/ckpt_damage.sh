#!/bin/bash
# ckpt_damage.sh FEDSIM SCENARIO CSV: a results file is something users copy and edit, and
# `fedsim sweep` always resumes. Each kind of damage to a resumable run (edited with sqlite3)
# is refused with its exact message and exit 3, never a crash or a silently wrong run, and the
# run is left exactly as it was (status interrupted, every round kept): a bad checksum, a NaN
# or shifted weight, a truncated checkpoint, a mismatched checkpoints.round, an empty or NULL
# scenario_json, an edited clients row (gflops = 0), a missing clients row or round, and a
# data file changed between the interruption and the resume. The undamaged file still resumes.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2 CSV=$3
args=(--set server.rounds=20 --set output.checkpoint_every=5 --quiet)
"$F" run "$S" -o "$WORK/base.sqlite" "${args[@]}" >/dev/null
# the run "crashed" after its last round: resumable from the checkpoint of round 15
sqlite3 "$WORK/base.sqlite" "update runs set status = 'interrupted'"
[ "$(sqlite3 "$WORK/base.sqlite" "select round from checkpoints")" = 15 ] || fail "no checkpoint"
before=$(sqlite3 "$WORK/base.sqlite" "select count(*) from rounds")

# expect_refusal DB SCENARIO MESSAGE [ARGS...]: resuming exits 3 with exactly MESSAGE and
# leaves the run interrupted with its rounds
expect_refusal() {
    local db=$1 scn=$2 msg=$3 rounds
    shift 3
    set +e
    "$F" run "$scn" -o "$db" "$@" --resume >/dev/null 2>"$WORK/err"
    local code=$?
    set -e
    [ $code -eq 3 ] || { cat "$WORK/err"; fail "$msg: exit $code, expected 3"; }
    [ "$(cat "$WORK/err")" = "fedsim: error: $msg" ] || {
        echo "expected: fedsim: error: $msg"; echo "got:      $(cat "$WORK/err")"; fail "message"; }
    [ "$(sqlite3 "$db" "select status from runs")" = interrupted ] || fail "$msg: status changed"
}

# damage SQL: a copy of the base file edited by SQL
damage() {
    cp "$WORK/base.sqlite" "$WORK/t.sqlite"
    sqlite3 "$WORK/t.sqlite" "$1"
}

# poke OFFSET HEXBYTES: overwrite bytes of the checkpoint blob (the checksum is left as it was)
poke() {
    cp "$WORK/base.sqlite" "$WORK/t.sqlite"
    (cd "$WORK" && sqlite3 t.sqlite "select writefile('blob', server_state) from checkpoints" >/dev/null)
    printf "$2" | dd of="$WORK/blob" bs=1 seek="$1" conv=notrunc 2>/dev/null
    (cd "$WORK" && sqlite3 t.sqlite "update checkpoints set server_state = readfile('blob')")
}

T=$WORK/t.sqlite
tail="refusing to resume (use another results file to start afresh)"
# byte 120 is the first model weight, a float32 (header 64 bytes, counters 16 + 24, model tag 16)
poke 120 '\x00\x00\xc0\x7f' # NaN
h=$(sqlite3 "$WORK/base.sqlite" "select lower(hex(substr(server_state, 25, 4))) from checkpoints")
stored=${h:6:2}${h:4:2}${h:2:2}${h:0:2} # the checksum field, little-endian
# the computed checksum depends on the damage; check the message shape and the stored value
set +e; "$F" run "$S" -o "$T" "${args[@]}" --resume >/dev/null 2>"$WORK/err"; code=$?; set -e
[ $code -eq 3 ] || fail "NaN weight: exit $code"
grep -qx "fedsim: error: $T: run 1: checkpoint of round 15: checksum mismatch (stored $stored, computed [0-9a-f]\{8\}): the checkpoint was damaged or edited; refusing to resume (use another results file to start afresh)" "$WORK/err" || { cat "$WORK/err"; fail "NaN weight message"; }
[ "$(sqlite3 "$T" "select status from runs")" = interrupted ] || fail "NaN weight: status changed"
echo "ok: NaN weight refused by the checksum"

poke 123 '\x40' # the first weight's exponent byte: shifted far from its value
set +e; "$F" run "$S" -o "$T" "${args[@]}" --resume >/dev/null 2>"$WORK/err"; code=$?; set -e
[ $code -eq 3 ] && grep -q "checksum mismatch (stored $stored, computed" "$WORK/err" || {
    cat "$WORK/err"; fail "shifted weight not refused"; }
echo "ok: shifted weight refused by the checksum"

damage "update checkpoints set server_state = substr(server_state, 1, 1000)"
expect_refusal "$T" "$S" "$T: run 1: checkpoint of round 15: truncated or extended: 1000 bytes, its header says $(sqlite3 "$WORK/base.sqlite" "select length(server_state) from checkpoints"); $tail" "${args[@]}"
echo "ok: truncated checkpoint"

damage "update checkpoints set server_state = substr(server_state, 1, 20)"
expect_refusal "$T" "$S" "$T: run 1: checkpoint of round 15: truncated to 20 bytes (a header needs 64); $tail" "${args[@]}"
echo "ok: checkpoint shorter than its header"

damage "update checkpoints set round = 3"
expect_refusal "$T" "$S" "$T: run 1: checkpoint of round 3: its header says round 15 (checkpoints.round was edited, or the checkpoint comes from another run); $tail" "${args[@]}"
echo "ok: mismatched checkpoints.round"

damage "update runs set scenario_json = ''"
expect_refusal "$T" "$S" "$T: run 1: runs.scenario_json is empty, so the run's scenario is unknown; $tail" "${args[@]}"
damage "update runs set scenario_json = NULL"
expect_refusal "$T" "$S" "$T: run 1: runs.scenario_json is NULL, so the run's scenario is unknown; $tail" "${args[@]}"
echo "ok: empty and NULL scenario_json"

damage "update clients set gflops = 0 where client_id = 3"
expect_refusal "$T" "$S" "$T: run 1: clients row 3: gflops is 0.0, not the device the scenario draws for client 3 (the database was edited); $tail" "${args[@]}"
damage "delete from clients where client_id = 39"
expect_refusal "$T" "$S" "$T: run 1: the clients table holds fewer rows than the 40 clients of the scenario; $tail" "${args[@]}"
echo "ok: edited and missing clients rows"

damage "delete from rounds where round = 2"
expect_refusal "$T" "$S" "$T: run 1: checkpoint after round 15, but the rounds table holds 14 of rounds 1..15; $tail" "${args[@]}"
echo "ok: a round before the checkpoint missing"

# a data file changed between the interruption and the resume
cp "$CSV" "$WORK/data.csv"
cat >"$WORK/csv.json" <<EOF
{"name": "ckpt-csv", "seed": 5,
 "data": {"source": "csv", "clients": 20,
          "csv": {"path": "$WORK/data.csv", "label": "diagnosis", "positive": "malignant",
                  "test_fraction": 0.3}},
 "model": {"kind": "logreg"}, "train": {"epochs": 1, "batch_size": 16, "lr": 0.05},
 "server": {"rounds": 8, "clients_per_round": 5}, "eval": {"every_rounds": 2},
 "output": {"checkpoint_every": 3}}
EOF
C=$WORK/c.sqlite
"$F" run "$WORK/csv.json" -o "$C" --quiet >/dev/null
sqlite3 "$C" "update runs set status = 'interrupted'"
sed -i '2s/^17.99,/27.99,/' "$WORK/data.csv"
expect_refusal "$C" "$WORK/csv.json" "$C: run 1: checkpoint of round 6: the input data differ from those the run was started with (a data file changed since the checkpoint: restore it); $tail" --quiet
cp "$CSV" "$WORK/data.csv"
touch "$WORK/data.csv" # same content, new mtime: still the same data
"$F" run "$WORK/csv.json" -o "$C" --quiet --resume >/dev/null
[ "$(sqlite3 "$C" "select status || ' ' || count(*) from runs join rounds using(run_id)")" = "done 8" ] ||
    fail "restored data file did not resume"
echo "ok: changed data file refused, restored one resumed"

# the undamaged file resumes to the same rounds
cp "$WORK/base.sqlite" "$T"
"$F" run "$S" -o "$T" "${args[@]}" --resume >/dev/null
[ "$(sqlite3 "$T" "select status from runs")" = done ] || fail "undamaged file did not resume"
[ "$(sqlite3 "$T" "select count(*) from rounds")" = "$before" ] || fail "rounds lost"
echo "ok: undamaged checkpoint resumes"
