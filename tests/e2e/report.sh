#!/bin/bash
# report.sh FEDSIM SCENARIO: `fedsim report` on a database of two runs draws every plot that has
# data (PNG and SVG), writes a self-contained report.html with the summary tables, still writes
# the tables without gnuplot (warning, exit 0), passes gnuplot's own error text on (exit 3),
# refuses a missing database without creating anything, and never modifies the database.
source "$(dirname "$0")/lib.sh"
F=$(realpath "$1") S=$2 # absolute: one check runs from another folder
DB=$WORK/two.sqlite
"$F" run "$S" -o "$DB" --quiet --set server.rounds=4 >/dev/null
"$F" run "$S" -o "$DB" --quiet --set server.rounds=4 --set seed=2 >/dev/null
# the engine records energy: first a file without any, as a version 4 file upgraded reads
cp "$DB" "$WORK/real_energy.sqlite"
sqlite3 "$DB" "update rounds set energy_j = null; update participation set energy_j = null;
  delete from client_energy_rounds;"
sum_before=$(md5sum <"$DB")

report() { # report EXPECTED_CODE OUTDIR [env assignments...]: runs fedsim report on $DB
    local code=$1 out=$2; shift 2
    set +e; env "$@" "$F" report "$DB" -o "$out" >"$WORK/out" 2>"$WORK/err"; local got=$?; set -e
    [ $got -eq "$code" ] || { cat "$WORK/err"; fail "report to $out exited $got, expected $code"; }
}

# ---- without gnuplot: data files and tables, a warning, exit 0
report 0 "$WORK/nogp" FEDSIM_GNUPLOT=/nonexistent
grep -qx "fedsim: warning: gnuplot not found; wrote data files and report.html tables only" \
    "$WORK/err" || { cat "$WORK/err"; fail "no gnuplot warning"; }
H=$WORK/nogp/report.html
grep -q "<table" "$H" && grep -q "Run summary" "$H" || fail "report.html without tables"
! grep -q "<svg" "$H" || fail "report.html has plots although gnuplot was missing"
[ -s "$WORK/nogp/metric_vs_round.dat" ] || fail "no data file without gnuplot"
! ls "$WORK/nogp"/*.png 2>/dev/null || fail "PNG files without gnuplot"

# ---- a gnuplot that fails: exit 3, the message names the plot and quotes gnuplot
fake=$WORK/fake-gnuplot
printf '#!/bin/sh\necho "\\"$1\\" line 7: fake gnuplot failure" >&2\nexit 1\n' >"$fake"
chmod +x "$fake"
report 3 "$WORK/badgp" FEDSIM_GNUPLOT="$fake"
grep -q "metric_vs_round.*fake gnuplot failure" "$WORK/err" ||
    { cat "$WORK/err"; fail "gnuplot's error text not reported"; }

# ---- a missing database: exit 3, no database and no report folder created
set +e; "$F" report "$WORK/missing.sqlite" -o "$WORK/never" 2>"$WORK/err"; got=$?; set -e
[ $got -eq 3 ] || fail "missing database: exit $got, expected 3"
grep -q "missing.sqlite" "$WORK/err" || fail "missing database not named"
[ ! -e "$WORK/missing.sqlite" ] && [ ! -e "$WORK/never" ] ||
    fail "files created for a missing database"
set +e; "$F" report 2>/dev/null; got=$?; set -e
[ $got -eq 2 ] || fail "report without a database: exit $got, expected 2"

# ---- with gnuplot: every plot with data as PNG and SVG, inlined in report.html
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }
set +e; (cd "$WORK" && "$F" report two.sqlite >"$WORK/out" 2>"$WORK/err"); got=$?; set -e
[ $got -eq 0 ] || { cat "$WORK/err"; fail "report exited $got"; }
[ ! -s "$WORK/err" ] || { cat "$WORK/err"; fail "report printed to stderr"; }
R=$WORK/results/report-two # the default folder
H=$R/report.html
plots="metric_vs_round metric_vs_hours metric_vs_traffic clients_per_round online_share_by_hour
       segment_metric round_durations who_trains bias_by_hour"
for p in $plots; do
    [ "$(head -c 4 "$R/$p.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
        fail "$p.png missing or not a PNG"
    grep -q "<svg" "$R/$p.svg" || fail "$p.svg missing or not an SVG"
    grep -q "^#" "$R/$p.dat" || fail "$p.dat has no header comment"
    grep -q "href=\"$p.png\"" "$H" || fail "report.html does not reference $p.png"
    grep -q "<section id=\"$p\">" "$H" || fail "report.html has no section for $p"
done
[ "$(grep -c "<svg" "$H")" -eq 9 ] || fail "report.html does not inline the 9 SVGs"
# who trains: the table beside the plots, one row per (group column, level) of the latest run
grep -q "<h2 id=\"who_trains_table\">" "$H" || fail "no who-trains table"
[ "$(grep -cv "^#" "$R/who_trains.tsv")" -eq 3 ] || fail "who_trains.tsv: not the 3 device classes"
# no run used DP: the privacy plot is skipped with a note, not an error
[ ! -e "$R/privacy_utility.png" ] || fail "privacy_utility.png drawn without any epsilon"
grep -q "Skipped (no privacy_utility.png): no run used differential privacy" "$H" ||
    fail "no note for the skipped privacy plot"
# no energy in these runs: each energy section says so in one line
for p in energy_per_round device_energy_daily; do
    [ ! -e "$R/$p.png" ] || fail "$p.png drawn without energy"
    grep -q "Skipped (no $p.png): no energy recorded in this database" "$H" ||
        fail "no note for the skipped $p plot"
done
grep -q "<h2 id=\"v_run_summary\">Run summary</h2>" "$H" || fail "no run summary table"
summary=$(sed -n '/<h2 id="v_run_summary">/,/<h2 id="v_time_to_target">/p' "$H")
[ "$(grep -c "<td>golden-small</td>" <<<"$summary")" -eq 2 ] ||
    fail "summary table does not list both runs"
grep -q "<h2 id=\"v_time_to_target\">" "$H" || fail "no time-to-target table"
[ "$(grep -cv "^#" "$R/run_summary.tsv")" -eq 2 ] || fail "run_summary.tsv does not have 2 rows"
! grep -q "src=\"\|<link\|<script" "$H" || fail "report.html is not self-contained"
[ "$(md5sum <"$DB")" = "$sum_before" ] || fail "fedsim report modified the database"
# with energy (rows as the engine writes them): both energy plots drawn, Wh on the daily axis
EDB=$WORK/energy.sqlite
cp "$DB" "$EDB"
sqlite3 "$EDB" "update rounds set energy_j = 100.0 * round + run_id;
  with recursive k(n) as (select 1 union all select n + 1 from k where n < 30)
  insert into client_energy_rounds(run_id, client_id, day, energy_j)
    select r.run_id, k.n, 0, 360.0 * k.n from runs r, k;"
"$F" report "$EDB" -o "$WORK/energy" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "energy report"; }
for p in energy_per_round device_energy_daily; do
    [ "$(head -c 4 "$WORK/energy/$p.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
        fail "$p.png missing with energy"
done
grep -q "energy per round (J)" "$WORK/energy/energy_per_round.gp" || fail "no J axis"
grep -q "(Wh)" "$WORK/energy/device_energy_daily.gp" || fail "no Wh axis"
# the energy the engine itself recorded draws both plots
"$F" report "$WORK/real_energy.sqlite" -o "$WORK/real" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "report of the engine's energy"; }
for p in energy_per_round device_energy_daily; do
    [ "$(head -c 4 "$WORK/real/$p.png" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] ||
        fail "$p.png missing for the engine's energy"
done
# a level name from the data (a CSV value) is data-file text and escaped HTML, never script
HDB=$WORK/hostile.sqlite
cp "$DB" "$HDB"
sqlite3 "$HDB" "update participation_mix set level = '<b>x'' \"y' where level = 'low'"
"$F" report "$HDB" -o "$WORK/hostile" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "hostile level"; }
grep -q "&lt;b&gt;x" "$WORK/hostile/report.html" || fail "level name not escaped in report.html"
! grep -q "<b>x" "$WORK/hostile/report.html" || fail "raw level name in report.html"
! grep -q "<b>x" "$WORK/hostile/who_trains.gp" || fail "level name in the gnuplot script"
echo "report: every plot drawn, report.html self-contained, failures reported"
