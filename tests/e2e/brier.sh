#!/bin/bash
# brier.sh FEDSIM CTR: eval.metrics ["auc", "brier"] on a click-through run records the Brier
# score in evals (overall and per segment, within [0, 1]) without changing any other value: the
# AUCs equal those of the run with the default metrics.
source "$(dirname "$0")/lib.sh"
"$1" run "$2" -o "$WORK/a.sqlite" --quiet >/dev/null
"$1" run "$2" -o "$WORK/b.sqlite" --quiet --set 'eval.metrics=["auc","brier"]' >/dev/null
q() { sqlite3 "$1" "$2"; }
n=$(q "$WORK/b.sqlite" "select count(*) from evals where metric = 'brier'")
segs=$(q "$WORK/b.sqlite" "select count(distinct segment) from evals where metric = 'auc'")
[ "$n" -ge 2 ] && [ "$n" = "$segs" ] || fail "brier in $n rows, auc in $segs segments"
bad=$(q "$WORK/b.sqlite" "select count(*) from evals where metric = 'brier' and
                          not (value >= 0 and value <= 1)")
[ "$bad" = 0 ] || fail "$bad Brier scores outside [0, 1]"
auc="select round, segment, printf('%.17g', value) from evals where metric = 'auc'
     order by round, segment"
[ "$(q "$WORK/a.sqlite" "$auc")" = "$(q "$WORK/b.sqlite" "$auc")" ] ||
    fail "asking for brier changed the AUCs"
echo "brier: $n rows in [0, 1], AUCs unchanged"
