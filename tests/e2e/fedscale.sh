#!/bin/bash
# fedscale.sh FEDSIM CONVERTER SCENARIO: a hand-made FedScale pickle converts to the exact
# expected traces, and fedsim validates a scenario using both. Skipped without python3.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "python3 absent: skipped"; exit 77; }
python3 - "$WORK" <<'PY'
import pickle, sys
w = sys.argv[1]
pickle.dump({2: {'active': [10, 50], 'inactive': [20, 60.5], 'finish_time': 100},
             1: {'active': [0], 'inactive': [30], 'finish_time': 80}}, open(w + '/b.pkl', 'wb'))
pickle.dump({1: {'computation': 12.5, 'communication': 800}}, open(w + '/c.pkl', 'wb'))
PY
"$2" --behave "$WORK/b.pkl" --avail-out "$WORK/a.csv" --capacity "$WORK/c.pkl" \
    --capacity-out "$WORK/c.csv" || fail "converter failed"
printf '# fedsim-avail v1\n# period_s=100\n1,0,30\n2,10,20\n2,50,60.5\n' >"$WORK/a.want"
printf '# fedsim-capacity v1\n1,12.5,800,800\n' >"$WORK/c.want"
diff -u "$WORK/a.want" "$WORK/a.csv" || fail "availability trace differs"
diff -u "$WORK/c.want" "$WORK/c.csv" || fail "capacity trace differs"
sed -e "s#traces/example_avail.csv#$WORK/a.csv#" -e "s#traces/example_capacity.csv#$WORK/c.csv#" \
    "$3" >"$WORK/s.json"
"$1" validate "$WORK/s.json" | grep -q "s.json: ok" || fail "validate refused the converted trace"
echo ok
