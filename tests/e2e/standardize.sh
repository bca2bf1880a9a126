#!/bin/bash
# standardize.sh FEDSIM BREAST_CANCER_CSV: raw columns of very different scales (area ~1000,
# smoothness ~0.1) train badly; data.csv.standardize: true (training rows' mean and sd) lifts the
# final test AUC of the same short run by a wide margin.
source "$(dirname "$0")/lib.sh"
cat > "$WORK/bc.json" <<JSON
{"name": "bc", "seed": 1,
 "data": {"source": "csv", "clients": 10,
          "csv": {"path": "$2", "label": "diagnosis", "positive": "malignant",
                  "test_fraction": 0.3}},
 "model": {"kind": "logreg"}, "train": {"epochs": 1, "batch_size": 10, "lr": 0.05},
 "server": {"rounds": 10, "clients_per_round": 5}, "eval": {"every_rounds": 10}}
JSON
auc() {
    "$1" run "$WORK/bc.json" --set "data.csv.standardize=$2" -o "$WORK/$2.sqlite" --quiet >/dev/null
    sqlite3 "$WORK/$2.sqlite" "select value from evals where metric='auc' and segment='all'
                               order by round desc limit 1"
}
raw=$(auc "$1" false)
std=$(auc "$1" true)
echo "test auc: raw $raw, standardized $std"
awk -v a="$raw" -v b="$std" 'BEGIN { exit !(b >= 0.95 && b - a >= 0.2) }' ||
    fail "standardize did not lift the AUC (raw $raw, standardized $std)"
