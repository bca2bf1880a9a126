#!/bin/bash
# poisoned_client.sh FEDSIM BREAST_CANCER_CSV: the breast-cancer rows dealt to 9 sites plus a
# 10th site whose 50 rows hold 3e38 (<= FLT_MAX, so the CSV loads) in every feature. Its updates
# (norm ~1e38) used to be averaged in and left the global AUC at 0.5 for the whole run. Now each
# one is recorded as 'rejected' and counted in rounds.rejected, the run ends done, and the model
# is exactly the one trained without that site: every clean site's AUC equals that of a run in
# which the poisoned site never takes part (consent 0).
source "$(dirname "$0")/lib.sh"
fedsim=$(realpath "$1") fixture=$(realpath "$2")
cd "$WORK"
awk -F, 'NR == 1 { print $0 ",site"; next } { print $0 ",s" (NR - 2) % 9 }' "$fixture" >poisoned.csv
for i in $(seq 0 49); do
    printf '3e38%.0s,' $(seq 30); echo "$([ $((i % 2)) = 0 ] && echo malignant || echo benign),s9"
done >>poisoned.csv
cat >poisoned.json <<'JSON'
{
  "name": "poisoned-client",
  "seed": 4,
  "data": {"source": "csv", "clients": 10, "partition": {"natural": {"group": "site"}},
           "csv": {"path": "poisoned.csv", "label": "diagnosis", "positive": "malignant",
                   "groups": ["site"], "test_fraction": 0.2}},
  "model": {"kind": "logreg"},
  "train": {"epochs": 2, "batch_size": 10, "lr": 0.00001},
  "server": {"rounds": 5, "clients_per_round": 10, "over_selection": 1, "deadline_s": 3600},
  "eval": {"every_rounds": 5, "metrics": ["auc"], "segments": ["site"]},
  "output": {"participation": true}
}
JSON
"$fedsim" run poisoned.json -o p.sqlite --quiet >/dev/null || fail "poisoned run: exit $?"
"$fedsim" run poisoned.json --set server.clients_per_round=9 \
    --set 'privacy.consent={"group":"site","percent_by_level":[100,100,100,100,100,100,100,100,100,0]}' \
    -o x.sqlite --quiet >/dev/null || fail "reference run: exit $?"
q() { sqlite3 "$1.sqlite" "$2"; }
[ "$(q p "select status from runs")" = done ] || fail "poisoned run is not done"
[ "$(q p "select group_concat(distinct outcome) from participation where client_id = 9")" = rejected ] \
    || fail "the poisoned site's participations are not all 'rejected'"
[ "$(q p "select count(*) from participation where client_id = 9")" = 5 ] || fail "expected 5"
[ "$(q p "select sum(rejected) from rounds")" = 5 ] || fail "rounds.rejected does not add up to 5"
[ "$(q p "select count(*) from participation where client_id <> 9 and outcome <> 'reported'")" = 0 ] \
    || fail "a clean site was not aggregated"
clean="select group_concat(segment || '=' || value, ' ') from (select segment, value from evals
       where segment like 'site=%' and segment <> 'site=s9' order by segment)"
[ "$(q p "$clean")" = "$(q x "$clean")" ] || fail "the model differs from the run without the site:
  $(q p "$clean")
  $(q x "$clean")"
auc=$(q p "select value from evals where segment = 'all' and round = 5")
awk -v a="$auc" 'BEGIN { exit !(a >= 0.9) }' || fail "global AUC $auc < 0.9"
echo "poisoned site rejected 5 times; global AUC $auc; clean sites identical to the run without it"
