#!/bin/bash
# hostile_data.sh FEDSIM: small hostile data files end with a clear message, never an OOM kill or
# a crash: a LIBSVM index of 2^31 (a 16 GiB model) exits 2 naming file and line; a 17 MiB CSV
# header exits 3; both within a 2 GiB address space and before any database exists. Group levels
# sharing a 31-byte prefix, or with a multi-byte character across byte 31, stay whole and
# distinct through a run (which used to crash in round 1) and the report's SVGs; invalid UTF-8 in
# a level is refused with file:line; extreme magnitudes load with a warning naming the column.
# Eight 36-character levels get slanted ticks inside the segment plot's PNG (the first one used
# to be cut at the image's left edge).
source "$(dirname "$0")/lib.sh"
F=$1
scn() { # scn NAME SOURCE-BLOCK: a small logreg scenario over the given data block
    cat >"$WORK/$1.json" <<J
{"name": "$1", "seed": 1, "data": $2, "model": {"kind": "logreg"},
 "train": {"epochs": 1, "batch_size": 10, "lr": 0.1},
 "server": {"rounds": 2, "clients_per_round": 2}, "eval": {"every_rounds": 1${3:-}}}
J
}
# AddressSanitizer reserves terabytes of address space for its shadow: no limit under it
limit=2097152
# (the whole of ldd's output is read: under pipefail, grep -q could stop ldd with SIGPIPE and
# make the check fail at random)
case "$(ldd "$F" 2>/dev/null)" in *libasan*) limit=unlimited ;; esac
run() { # run NAME EXPECTED_EXIT: fedsim run under a 2 GiB address-space limit
    set +e
    (ulimit -v $limit; "$F" run "$WORK/$1.json" -o "$WORK/$1.sqlite" --quiet) \
        >"$WORK/$1.out" 2>"$WORK/$1.err"
    local got=$?; set -e
    [ $got -eq "$2" ] || { cat "$WORK/$1.err"; fail "$1: exit $got, expected $2"; }
}

printf '1 1:0.5 3:1\n-1 2147483648:1\n' >"$WORK/big.svm"
scn svm "{\"source\": \"libsvm\", \"clients\": 2, \"libsvm\": {\"path\": \"$WORK/big.svm\"}}"
run svm 2
grep -qF "big.svm:2: expected a feature index <= 67108864, found 2147483648 (a model of \
2147483648 features needs 16.0 GiB per copy; renumber or hash the features)" "$WORK/svm.err" ||
    { cat "$WORK/svm.err"; fail "no model-size estimate for the LIBSVM index"; }
[ ! -e "$WORK/svm.sqlite" ] || fail "a database was created for a refused LIBSVM file"

{ head -c $((17 << 20)) /dev/zero | tr '\0' 'a'; printf ',y\n1,0\n'; } >"$WORK/head.csv"
scn head "{\"source\": \"csv\", \"clients\": 2,
          \"csv\": {\"path\": \"$WORK/head.csv\", \"label\": \"y\"}}"
run head 3
grep -qF "head.csv:1: expected a line of at most 16777216 bytes, found a longer one" \
    "$WORK/head.err" || { cat "$WORK/head.err"; fail "no line-length message"; }

# 30 bytes + 'é' (2 bytes) puts a character across byte 31; two levels share 31+ bytes
p=abcdefghijklmnopqrstuvwxyz0123
{ echo "x,region,y"
  for i in $(seq 1 60); do
      case $((i % 3)) in 0) l="${p}X-north" ;; 1) l="${p}X-south" ;; 2) l="${p}é" ;; esac
      echo "$((i % 7)).5,$l,$((i % 2))"
  done; } >"$WORK/lv.csv"
scn lv "{\"source\": \"csv\", \"clients\": 3, \"csv\": {\"path\": \"$WORK/lv.csv\", \"label\": \
\"y\", \"groups\": [\"region\"]}, \"partition\": \"natural\"}" ', "segments": ["region"]'
sed -i 's/"partition": "natural"/"partition": {"natural": {"group": "region"}}/' "$WORK/lv.json"
run lv 0
got=$(sqlite3 "$WORK/lv.sqlite" "select distinct segment from evals where segment like 'region=%'
                                  order by 1")
want=$(printf 'region=%sX-north\nregion=%sX-south\nregion=%sé' "$p" "$p" "$p" | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "segments not kept whole: $got"
if command -v gnuplot >/dev/null && command -v xmllint >/dev/null; then
    "$F" report "$WORK/lv.sqlite" -o "$WORK/rep" >/dev/null 2>&1 || fail "report failed"
    for svg in "$WORK"/rep/*.svg; do xmllint --noout "$svg" || fail "$svg is not valid XML"; done
fi

if command -v gnuplot >/dev/null; then
    { echo "x,region,y"
      for i in $(seq 1 800); do
          echo "$((i % 7)).5,hospital-$((i % 8))-university-medical-centre,$((i / 8 % 2))"
      done; } >"$WORK/sites.csv"
    sed "s|lv.csv|sites.csv|; s|\"clients\": 3|\"clients\": 8|" "$WORK/lv.json" >"$WORK/sites.json"
    run sites 0
    "$F" report "$WORK/sites.sqlite" -o "$WORK/srep" >/dev/null 2>&1 || fail "sites: report failed"
    grep -q "rotate by 30" "$WORK/srep/segment_metric.gp" || fail "sites: ticks not slanted"
    edge=$(python3 "$(dirname "$0")/png_edge.py" "$WORK/srep/segment_metric.png" 2)
    [ "$edge" = 0 ] || fail "sites: $edge dark pixels at segment_metric.png's left edge (tick cut)"
fi

printf 'x,region,y\n1,north,0\n2,s\xc3,1\n' >"$WORK/bad8.csv"
sed "s|lv.csv|bad8.csv|" "$WORK/lv.json" >"$WORK/bad8.json"
run bad8 3
grep -qF "bad8.csv:3: column 'region': expected UTF-8 text, found the invalid byte 0xc3 at byte 2" \
    "$WORK/bad8.err" || { cat "$WORK/bad8.err"; fail "invalid UTF-8 not refused with file:line"; }

{ echo "x,z,y"; for i in $(seq 1 40); do
      if [ "$i" -le 5 ]; then echo "3e38,$i,$((i % 2))"; else echo "0.$i,$i,$((i % 2))"; fi
  done; } >"$WORK/mag.csv"
scn mag "{\"source\": \"csv\", \"clients\": 2,
          \"csv\": {\"path\": \"$WORK/mag.csv\", \"label\": \"y\"}}"
run mag 0
grep -qF "mag.csv: column 'x': 5 rows with |value| > 1e+06 (first at line 2, largest 3e+38)" \
    "$WORK/mag.err" || { cat "$WORK/mag.err"; fail "no warning about extreme magnitudes"; }
! grep -q "column 'z'" "$WORK/mag.err" || fail "a warning for an ordinary column"
echo "hostile data: refused with estimates and file:line, levels whole, magnitudes warned"
