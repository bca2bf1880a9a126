#!/bin/bash
# cli.sh FEDSIM SCENARIO: command-line errors are clear, exit with the documented codes and
# create no database.
source "$(dirname "$0")/lib.sh"
expect() { # expect CODE PATTERN -- command...
    local code=$1 pattern=$2; shift 3
    set +e; "$@" >"$WORK/out" 2>"$WORK/err"; local got=$?; set -e
    [ $got -eq "$code" ] || { cat "$WORK/err"; fail "'$*' exited $got, expected $code"; }
    grep -q -- "$pattern" "$WORK/err" "$WORK/out" || { cat "$WORK/err"; fail "'$*': no '$pattern'"; }
}
F=$1 S=$2
expect 0 "usage: fedsim run" -- "$F" --help
expect 0 "^fedsim [0-9]" -- "$F" --version
expect 2 "unknown command" -- "$F" frobnicate
expect 2 "unknown option" -- "$F" run "$S" --bogus
expect 2 "expected an integer from 1 to 1024" -- "$F" run "$S" --threads 0
expect 2 "expected a scenario file" -- "$F" run
expect 2 "server.rounds: expected integer" -- "$F" run "$S" --set server.rounds=-1 -o "$WORK/x.sqlite"
[ ! -e "$WORK/x.sqlite" ] || fail "a database was created for a bad scenario"
expect 3 "cannot read" -- "$F" run "$WORK/missing.json"
expect 3 "x.sqlite" -- "$F" run "$S" -o /proc/x.sqlite --set server.rounds=1
expect 3 "train-images" -- "$F" run "$S" --set data.path="$WORK/nodata" -o "$WORK/y.sqlite"
[ ! -e "$WORK/y.sqlite" ] || fail "a database was created although the data were missing"
# a model that does not fit the data is bad input too, found once the data exist
expect 2 "model.kind: softmax needs dense features" -- "$F" run "$S" -o "$WORK/z.sqlite" \
    --set data='{"source":"marketing","clients":100}' --set server.clients_per_round=10
[ ! -e "$WORK/z.sqlite" ] || fail "a database was created for a model that does not fit"
expect 2 "eval.segments\[0\]: expected a group column of the data (region, device, age_band)" -- \
    "$F" run "$S" -o "$WORK/z.sqlite" --set data='{"source":"marketing","clients":100}' \
    --set server.clients_per_round=10 --set model.kind=logreg --set eval.segments='["city"]'
[ ! -e "$WORK/z.sqlite" ] || fail "a database was created for an unknown segment"
expect 2 "server.algorithm: fedprox, scaffold and qffl need a dense model" -- "$F" run "$S" \
    -o "$WORK/z.sqlite" --set data='{"source":"marketing","clients":100}' \
    --set server.clients_per_round=10 --set model.kind=logreg --set server.algorithm=scaffold
expect 2 "server.mode: async (FedBuff) runs fedavg or fedprox" -- "$F" run "$S" -o "$WORK/z.sqlite" \
    --set server.mode=async --set 'privacy.secure_aggregation={}'
[ ! -e "$WORK/z.sqlite" ] || fail "a database was created for an impossible combination"
expect 0 "epsilon (classic RDP conversion):  3.0083 at order 8.8" -- "$F" epsilon --q 0.0042666667 \
    --sigma 1.1 --steps 14062 --delta 1e-5
expect 2 "--q: expected a number in \[0, 1\]" -- "$F" epsilon --q 2 --sigma 1 --steps 1 --delta 1e-5
# every command has its own --help (stdout, exit 0) and prints only its own usage on a usage error
for c in run sweep validate plan report epsilon; do
    expect 0 "^usage: fedsim $c " -- "$F" $c --help
    [ "$(head -n 1 "$WORK/out" | grep -c "^usage: fedsim $c ")" = 1 ] || fail "$c --help: stdout"
    ! grep -E "^ *(usage: )?fedsim (run|sweep|validate|plan|report|epsilon) " "$WORK/out" |
        grep -vq "fedsim $c " || { cat "$WORK/out"; fail "$c --help shows other commands"; }
done
only_usage_of() { # only_usage_of CMD: stderr is one error line, then CMD's usage and nothing else
    [ "$(head -n 1 "$WORK/err" | grep -c '^fedsim: error: ')" = 1 ] || fail "no error line first"
    [ "$(sed -n 2p "$WORK/err" | grep -c "^usage: fedsim $1 ")" = 1 ] || fail "no $1 usage"
    ! grep -Eq "^ +fedsim (run|sweep|validate|plan|report|epsilon) " "$WORK/err" ||
        { cat "$WORK/err"; fail "$1: a usage error printed every command's usage"; }
}
expect 2 "unknown option" -- "$F" run "$S" --bogus && only_usage_of run
expect 2 "unknown option" -- "$F" validate "$S" --bogus && only_usage_of validate
expect 2 "expected at least one scenario file" -- "$F" validate && only_usage_of validate
expect 2 "unknown option" -- "$F" sweep "$S" --bogus && only_usage_of sweep
expect 2 "unknown option" -- "$F" report x.sqlite --bogus && only_usage_of report
# epsilon: integral-valued numbers count like scenario integers; sigma 0 is no privacy at all
expect 0 "epsilon (classic RDP conversion):  3.0083 at order 8.8" -- "$F" epsilon --q 0.0042666667 \
    --sigma 1.1 --steps 1.4062e4 --delta 1e-5
expect 2 "--steps: expected an integer >= 0" -- "$F" epsilon --q 0.01 --sigma 1 --steps 1.5 \
    --delta 1e-5
expect 2 "--sigma: expected a number > 0, found \"0\"" -- "$F" epsilon --q 0.01 --sigma 0 \
    --steps 100 --delta 1e-5
grep -q inf "$WORK/out" && fail "epsilon --sigma 0 printed inf"
# validate applies --set (to every file) before checking
expect 0 ": ok" -- "$F" validate "$S" --set server.rounds=3
expect 2 "server.rounds: expected integer in \[1, 10000000\], found -1" -- "$F" validate "$S" \
    --set server.rounds=-1
expect 2 "eval.target.value: expected a number in \[0, 1\] (accuracy is a share" -- "$F" validate \
    "$S" --set 'eval.target={"metric":"accuracy","value":70}'
# a check that needs the data's shape: refused by validate as run would, with the file's name
expect 2 "quickstart.json: model.kind: softmax needs dense features" -- "$F" validate "$S" \
    --set data='{"source":"marketing","clients":100}' --set server.clients_per_round=10
# what only the data tell (a CSV file's classes) is refused by validate, which loads them as a run
# does, and by run with the same rules, naming the scenario file, before any database exists
printf 'g,x,y\n' > "$WORK/c.csv"
for i in $(seq 1 60); do echo "c$((i % 6)),$i,$((i % 3))" >> "$WORK/c.csv"; done
cat > "$WORK/c.json" <<EOF
{"name": "c", "data": {"source": "csv", "clients": 6, "csv": {"path": "$WORK/c.csv", "label": "y",
 "groups": ["g"]}, "partition": {"natural": {"group": "g"}}}, "model": {"kind": "logreg"},
 "server": {"rounds": 2, "clients_per_round": 3}}
EOF
expect 2 "c.json: model.kind: logreg needs a binary task (2 classes); the data have 1 dense" -- \
    "$F" validate "$WORK/c.json"
expect 2 "c.json: model.kind: logreg needs a binary task (2 classes); the data have 1 dense" -- \
    "$F" run "$WORK/c.json" -o "$WORK/c.sqlite"
[ ! -e "$WORK/c.sqlite" ] || fail "a database was created for a model that does not fit the file"
expect 2 "c.json: privacy.consent: expected at least one consenting client, found none of 6" -- \
    "$F" validate "$WORK/c.json" --set model.kind=softmax --set privacy.consent.share=0.01
expect 0 "c.json: ok" -- "$F" validate "$WORK/c.json" --set model.kind=softmax
expect 2 "c.json: privacy.consent: expected at least one consenting client, found none of 6" -- \
    "$F" run "$WORK/c.json" -o "$WORK/c.sqlite" --set model.kind=softmax \
    --set privacy.consent.share=0.01
[ ! -e "$WORK/c.sqlite" ] || fail "a database was created although nobody consents"
# and so is a sweep's variant that only its data refuse: by validate, and by sweep before any run
cat > "$WORK/cs.json" <<EOF
{"name": "cs", "data": {"source": "csv", "clients": 6, "csv": {"path": "$WORK/c.csv", "label": "y",
 "groups": ["g"]}, "partition": {"natural": {"group": "g"}}}, "model": {"kind": "softmax"},
 "server": {"rounds": 2, "clients_per_round": 3}, "sweep": {"privacy.consent.share": [0.5, 0.01]}}
EOF
nobody='sweep variant "privacy.consent.share=0.01": privacy.consent: expected at least one'
expect 2 "$nobody" -- "$F" validate "$WORK/cs.json"
grep -q '"privacy.consent.share=0.5"' "$WORK/err" && fail "validate refused the variant that runs"
grep -q "checking sweep variant" "$WORK/err" && fail "a progress line where stderr is no terminal"
expect 2 "$nobody" -- "$F" sweep "$WORK/cs.json" -o "$WORK/cs.sqlite"
# on a terminal (script(1) gives one) the variants' check shows where it is
script -qec "$F validate $WORK/cs.json" /dev/null >"$WORK/tty" || true
grep -q "checking sweep variant 2/2" "$WORK/tty" && grep -q "$nobody" "$WORK/tty" ||
    { cat -v "$WORK/tty"; fail "no progress of the variants' check on a terminal"; }
[ ! -e "$WORK/cs.sqlite" ] || fail "a sweep with a variant nobody consents to created a database"
# ipw weights by a group of more levels than the participation mix tracks: refused by validate,
# and by run before its database exists
printf 'u,x,y\n' > "$WORK/u.csv"
for i in $(seq 1 2300); do echo "u$((i % 1100)),$i,$((i % 2))" >> "$WORK/u.csv"; done
cat > "$WORK/u.json" <<EOF
{"name": "u", "data": {"source": "csv", "clients": 50, "csv": {"path": "$WORK/u.csv", "label": "y",
 "groups": ["u"]}}, "model": {"kind": "logreg"}, "eval": {"segments": ["u"]},
 "server": {"rounds": 2, "clients_per_round": 5, "aggregation_weights": "ipw"}}
EOF
ipw='u.json: server.aggregation_weights: expected "samples" or "uniform" when eval.segments'
expect 2 "$ipw" -- "$F" validate "$WORK/u.json"
expect 2 "$ipw" -- "$F" run "$WORK/u.json" -o "$WORK/u.sqlite"
[ ! -e "$WORK/u.sqlite" ] || fail "a database was created for ipw over 1100 levels"
echo "all command-line error cases behave"
