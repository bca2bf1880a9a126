#!/bin/bash
# report_replicated.sh FEDSIM PRIVATE_SCENARIO FRAUD_SCENARIO V2_DUMP: `fedsim report` on a
# database of 3 sweep variants x 3 replicates (runs.replicate set) draws one mean line and one
# 95% band (filledcurves) per variant against rounds, hours and traffic, a target line and
# epsilon per round; lists exactly the parameters that differ between the variants (read from
# runs.scenario_json, not the seed that differs between replicates) and names the legend entries
# by their short form; keeps at least 60% of each plot's width for the plot area; summarises
# each variant as mean ± half-width (n). The headline of a binary task without a target is AUC
# (issue 8), single-run reports draw no bands, and a version 2 file still reports.
source "$(dirname "$0")/lib.sh"
F=$1 S=$2 FRAUD=$3 V2=$4
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 is not installed"; exit 77; }
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot is not installed"; exit 77; }
DB=$WORK/rep.sqlite
# variants differ in clients_per_round and noise_multiplier; replicates in seed (and with it
# population_seed), which is not a parameter of the comparison
for v in "30 0.8" "60 0.8" "30 1.2"; do
    read -r cpr z <<<"$v"
    for k in 1 2 3; do
        "$F" run "$S" -o "$DB" --quiet --threads 1 --set server.rounds=4 --set eval.every_rounds=1 \
            --set server.clients_per_round="$cpr" --set privacy.dp.noise_multiplier="$z" \
            --set 'eval.target={"metric":"auc","value":0.9}' --set seed="$k" \
            --variant "server.clients_per_round=$cpr, privacy.dp.noise_multiplier=$z" >/dev/null
        sqlite3 "$DB" "UPDATE runs SET replicate = $k WHERE run_id = (SELECT max(run_id) FROM runs)"
    done
done
set +e; "$F" report "$DB" -o "$WORK/rep" >"$WORK/out" 2>"$WORK/err"; got=$?; set -e
[ $got -eq 0 ] || { cat "$WORK/err"; fail "report of the replicated database exited $got"; }
R=$WORK/rep H=$WORK/rep/report.html
png() { [ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e47 ] || fail "$1: not a PNG"; }

# ---- bands: one filledcurves and one mean line per variant, in the three metric plots
for p in metric_vs_round metric_vs_hours metric_vs_traffic; do
    png "$R/$p.png"
    [ "$(grep -c "with filledcurves.*transparent" "$R/$p.gp")" -eq 3 ] ||
        fail "$p.gp does not draw 3 bands"
    [ "$(grep -c "using [^ ]*:4 with linespoints.*title '" "$R/$p.gp")" -eq 3 ] ||
        fail "$p.gp does not draw 3 mean lines"
    grep -q "title 'target: AUC >= 0.9'" "$R/$p.gp" || fail "$p.gp has no target line"
done
[ "$(grep -c "^# index" "$R/metric_vs_round.dat")" -eq 3 ] || fail "not one data block per variant"
grep -q "^# index 0: 3 replicates" "$R/metric_vs_round.dat" || fail "blocks do not count replicates"
png "$R/epsilon_vs_round.png"
[ "$(grep -c "with lines lc" "$R/epsilon_vs_round.gp")" -eq 3 ] ||
    fail "epsilon_vs_round.gp does not draw one line per variant"
png "$R/privacy_utility.png"
grep -q "with yerrorbars" "$R/privacy_utility.gp" || fail "privacy plot without intervals"
! grep -q "with labels" "$R/privacy_utility.gp" || fail "privacy plot still labels its points"

# ---- short legend labels: the differing keys' last path components
short="clients_per_round=30, noise_multiplier=0.8"
grep -q "title '$short'" "$R/metric_vs_round.gp" || fail "legend does not use the short label"
! grep -q "title 'server\.clients_per_round=" "$R"/*.gp || fail "a legend uses the long label"

# ---- the differing-parameters table lists exactly the two differing paths
params=$(sed -n '/<h2 id="variant_params">/,/<\/table>/p' "$H")
[ -n "$params" ] || fail "no table of the parameters that differ"
heads=$(grep -o "<th><code>[^<]*</code></th>" <<<"$params" | sed 's/<[^>]*>//g' | tr '\n' ' ')
[ "$heads" = "server.clients_per_round privacy.dp.noise_multiplier " ] ||
    fail "differing parameters: '$heads', expected server.clients_per_round and noise_multiplier"
[ "$(grep -c "<tr><td>" <<<"$params")" -eq 3 ] || fail "parameter table does not have 3 variants"
grep -q "<tr><td>$short</td>" <<<"$params" || fail "parameter table lacks the short label"

# ---- per-variant summary: mean ± half-width (n) over the 3 replicates
summary=$(sed -n '/<h2 id="variant_summary">/,/<\/table>/p' "$H")
[ "$(grep -c "&plusmn; [0-9.e-]* (3)" <<<"$summary")" -ge 3 ] ||
    fail "variant summary lacks mean ± half-width (3)"
grep -q "of 3 (" <<<"$summary" || fail "variant summary lacks the reach share"
# ---- the planner's answer for the runs' target, as `fedsim plan` prints it
grep -q "<h2>Plan: which variant reaches the target</h2>" "$H" || fail "no plan section"
plan=$(sed -n '/<pre class="plan">/,/<\/pre>/p' "$H")
grep -q "question:" <<<"$plan" || { echo "$plan"; fail "the plan section has no answer"; }
grep -q "up to 3 replicates" <<<"$plan" || { echo "$plan"; fail "the plan answer does not count 3 replicates"; }

# ---- the plot area keeps at least 60% of the width, PNG and SVG, in every plot with a key
for p in metric_vs_round metric_vs_hours metric_vs_traffic epsilon_vs_round privacy_utility \
    segment_metric online_share_by_hour; do
    sed 's/^  unset output$/  print sprintf("plot-area %.3f", (GPVAL_TERM_XMAX - GPVAL_TERM_XMIN) * GPVAL_TERM_SCALE \/ GPVAL_TERM_XSIZE)\n  unset output/' \
        "$R/$p.gp" >"$R/area.gp"
    (cd "$R" && gnuplot area.gp 2>"$WORK/area") || { cat "$WORK/area"; fail "$p: gnuplot"; }
    n=$(grep -c "^plot-area" "$WORK/area") || true
    [ "$n" -eq 2 ] || { cat "$WORK/area"; fail "$p: plot area not measured"; }
    awk '/^plot-area/ { if ($2 < 0.6) bad = 1 } END { exit bad }' "$WORK/area" ||
        { cat "$WORK/area"; fail "$p: the plot area is narrower than 60% of the width"; }
done

# ---- a binary task without a target: the headline is AUC, in tables and plots; no bands
FDB=$WORK/fraud.sqlite
"$F" run "$FRAUD" -o "$FDB" --quiet --threads 1 --set data.clients=1000 --set server.rounds=4 \
    --set server.clients_per_round=30 --set eval.every_rounds=2 >/dev/null
set +e; "$F" report "$FDB" -o "$WORK/fraud" >"$WORK/out" 2>"$WORK/err"; got=$?; set -e
[ $got -eq 0 ] || { cat "$WORK/err"; fail "report of the fraud run exited $got"; }
FR=$WORK/fraud
col=$(head -2 "$FR/run_summary.tsv" | tail -1 | tr '\t' '\n' | grep -nx "final_metric" | cut -d: -f1)
[ "$(tail -1 "$FR/run_summary.tsv" | cut -f"$col")" = auc ] || fail "fraud headline is not auc"
grep -q "set title 'Test AUC per round, one line per run'" "$FR/metric_vs_round.gp" ||
    fail "fraud metric plot is not titled AUC"
grep -q "set title 'Test AUC by segment" "$FR/segment_metric.gp" ||
    fail "fraud segment plot is not of AUC"
grep -q "(auc)$" <(grep "^# index 0" "$FR/metric_vs_round.dat") || fail "fraud data not of auc"
! grep -q "filledcurves" "$FR"/*.gp || fail "a single-run report draws bands"
! grep -q "variant_summary\|variant_params" "$FR/report.html" ||
    fail "a single-run report has variant tables"

# ---- a version 2 file (no runs.replicate, no headline_metric) still reports
sqlite3 "$WORK/v2.sqlite" <"$V2"
set +e; "$F" report "$WORK/v2.sqlite" -o "$WORK/v2" >"$WORK/out" 2>"$WORK/err"; got=$?; set -e
[ $got -eq 0 ] || { cat "$WORK/err"; fail "report of a version 2 file exited $got"; }
grep -q "<td>golden<wbr>-small</td>\|<td>golden-small</td>" "$WORK/v2/report.html" ||
    fail "version 2 report lacks its run"
png "$WORK/v2/metric_vs_round.png"
echo "report_replicated: bands, short labels, differing parameters, AUC headline, v2 file"
