#!/bin/bash
# quickstart.sh FEDSIM SCENARIO: the quick start runs to the end and its test accuracy rises by
# at least 10 points from round 1 to the last round.
source "$(dirname "$0")/lib.sh"
"$1" run "$2" -o "$WORK/q.sqlite" --quiet
q() { sqlite3 "$WORK/q.sqlite" "$1"; }
[ "$(q "select status from runs")" = done ] || fail "run status is not done"
rounds=$(q "select count(*) from rounds")
first=$(q "select value from evals where metric='accuracy' and segment='all' order by round limit 1")
last=$(q "select value from evals where metric='accuracy' and segment='all' order by round desc limit 1")
echo "rounds $rounds, accuracy $first -> $last"
[ "$rounds" -ge 30 ] || fail "expected at least 30 rounds, found $rounds"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b - a >= 0.10) }' || fail "accuracy rose less than 10 points"
