#!/bin/bash
# injection.sh FEDSIM: names, labels and CSV values carrying gnuplot, HTML, SQL and shell payloads
# go through a sweep and `fedsim report` and come out as data: nothing is executed (a payload
# would create /tmp/fedsim_pwned_<pid>.*), report.html and the SVGs hold the text escaped (and
# parse as XML), the database holds the exact bytes, and the terminal never receives a raw
# control character (ESC sequences print as \x1b).
source "$(dirname "$0")/lib.sh"
F=$1
MARK=/tmp/fedsim_pwned_$$
trap 'rm -rf "$WORK" "$MARK".*' EXIT
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }

# Positive controls: this gnuplot and this shell do run such payloads when they are code, so
# the absence of a marker below means the payloads stayed data.
gnuplot -e "system(\"touch $MARK.control\")" && [ -e "$MARK.control" ] ||
    fail "gnuplot system() did not run: the test could not see an injection"
rm -f "$MARK.control"

# ---- payloads: one CSV group level each (gnuplot, HTML, SQL, shell)
cat >"$WORK/payloads" <<'P'
x'; system("touch @MARK@.g1"); print '
`touch @MARK@.g2`
back\' ; system('touch @MARK@.g3') #
<script>alert(1)</script> & "q" 'q'
x'); DROP TABLE runs; --
"; DROP TABLE evals; --
$(touch @MARK@.s1)
; touch @MARK@.s2; echo
| touch @MARK@.s3
P
sed -i "s|@MARK@|$MARK|g" "$WORK/payloads"
# 300 rows, levels in turn, quoted as RFC 4180 fields; the label depends on x1 + x2
awk 'NR == FNR { gsub(/"/, "\"\"", $0); p[n++] = "\"" $0 "\""; next }
     END { print "x1,x2,region,y"; s = 12345
           for (i = 0; i < 300; i++) {
               s = (s * 1103515245 + 12345) % 2147483648; a = s / 2147483648
               s = (s * 1103515245 + 12345) % 2147483648; b = s / 2147483648
               printf "%.4f,%.4f,%s,%d\n", a, b, p[i % n], (a + b > 1) } }' \
    "$WORK/payloads" /dev/null >"$WORK/d.csv"

# ---- sweep variant labels with payloads (JSON-escaped here), one with an ESC sequence
sed "s|@MARK@|$MARK|g; s|@CSV@|$WORK/d.csv|" >"$WORK/s.json" <<'J'
{"name": "injection", "seed": 1,
 "data": {"source": "csv", "clients": 6,
          "csv": {"path": "@CSV@", "label": "y", "groups": ["region"], "test_fraction": 0.3}},
 "model": {"kind": "logreg"}, "train": {"epochs": 1, "batch_size": 10, "lr": 0.1},
 "server": {"rounds": 2, "clients_per_round": 3},
 "eval": {"every_rounds": 1, "segments": ["region"]},
 "sweep": {"variants": [
   {"label": "g: x'; system(\"touch @MARK@.v1\"); print '", "set": {"train.lr": 0.11}},
   {"label": "h: <script>alert(2)</script> &amp; \"dq\" 'sq'", "set": {"train.lr": 0.12}},
   {"label": "q: x'); DROP TABLE rounds; --", "set": {"train.lr": 0.13}},
   {"label": "s: $(touch @MARK@.v2) `touch @MARK@.v3`; touch @MARK@.v4 \u001b[31mred\u001b[0m",
    "set": {"train.lr": 0.14}}]}}
J
DB=$WORK/inj.sqlite
"$F" sweep "$WORK/s.json" -o "$DB" --jobs 2 >"$WORK/out" 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "sweep failed"; }
"$F" report "$DB" -o "$WORK/rep" >>"$WORK/out" 2>>"$WORK/err" ||
    { cat "$WORK/err"; fail "report failed"; }

# ---- shell and gnuplot: nothing ran
if ls "$MARK".* >/dev/null 2>&1; then fail "a payload was executed: $(ls "$MARK".*)"; fi

# ---- SQL: the tables are intact and hold the exact bytes
q() { sqlite3 "$DB" "$1"; }
[ "$(q "select count(*) from runs where status = 'done'")" = 4 ] || fail "not 4 done runs"
[ "$(q "select count(distinct run_id) from rounds")" = 4 ] || fail "rounds table damaged"
q "select distinct segment from evals where segment like 'region=%' order by 1" >"$WORK/got"
sed 's/^/region=/' "$WORK/payloads" | LC_ALL=C sort >"$WORK/want"
cmp -s "$WORK/got" "$WORK/want" || { diff "$WORK/want" "$WORK/got" >&2; fail "segments differ"; }
[ "$(q "select variant from runs where variant like 'q:%'")" = "q: x'); DROP TABLE rounds; --" ] ||
    fail "SQL payload label not stored exactly"
esc_label="'s: \$(touch $MARK.v2) \`touch $MARK.v3\`; touch $MARK.v4 '
           || char(27) || '[31mred' || char(27) || '[0m'"
[ "$(q "select count(*) from runs where variant = $esc_label")" = 1 ] ||
    fail "ESC label not stored exactly"

# ---- HTML: escaped text (tables by fedsim, inlined SVG text by gnuplot), no markup from the
# data; every SVG is well-formed XML
H=$WORK/rep/report.html
# (segment names reach report.html only as gnuplot's SVG text, which it escapes itself; whether
# the tick labels fit depends on the layout, so only their escaping is asserted)
! grep -qF 'region=<script' "$H" || fail "HTML payload (segment) not escaped in the SVGs"
grep -qF 'h: &lt;script&gt;alert(2)&lt;/script&gt; &amp;amp; &quot;dq&quot; &#39;sq&#39;' "$H" ||
    fail "HTML payload (label) not escaped in report.html"
! grep -q '<script' "$H" || fail "report.html contains a <script> element"
for svg in "$WORK"/rep/*.svg; do
    xmllint --noout "$svg" 2>>"$WORK/err" || fail "$(basename "$svg") is not well-formed XML"
done

# ---- terminal: a label with ESC prints escaped; a CSV error quoting ESC and BEL does too
! grep -q $'\x1b' "$WORK/err" "$WORK/out" || fail "raw ESC reached the terminal"
grep -qF 's: $(touch' "$WORK/err" && grep -qF '\x1b[31mred\x1b[0m' "$WORK/err" ||
    { cat "$WORK/err"; fail "the ESC label was not printed escaped"; }
printf 'x1,y\n1,0\n\x1b]0;pwned\x07,1\n' >"$WORK/bad.csv"
cat >"$WORK/bad.json" <<J
{"name": "bad", "data": {"source": "csv", "clients": 1, "csv": {"path": "$WORK/bad.csv",
 "label": "y"}}, "model": {"kind": "logreg"}, "server": {"rounds": 1, "clients_per_round": 1}}
J
set +e; "$F" run "$WORK/bad.json" -o "$WORK/bad.sqlite" --quiet >"$WORK/out2" 2>"$WORK/err2"
code=$?; set -e
[ $code -eq 3 ] || { cat "$WORK/err2"; fail "bad CSV: exit $code, expected 3"; }
! grep -q $'[\x1b\x07]' "$WORK/err2" || fail "raw control characters in an error message"
grep -qF "bad.csv:3: column 'x1': expected a number, found '\\x1b]0;pwned\\x07'" "$WORK/err2" ||
    { cat "$WORK/err2"; fail "the bad field was not quoted escaped"; }
echo "injection: gnuplot, HTML, SQL and shell payloads stayed data; terminal output escaped"
