#!/bin/bash
# golden.sh FEDSIM DBDUMP DUMPCMP SCENARIO EXPECTED_DUMP: the run's table dump equals the
# reviewed file: integers and text exactly, floats to the tolerance of fedsim-dumpcmp (the last
# bits of BLAS results vary with the CPU), the effective scenario's hash and the schema version
# aside (they change when the schema gains a key or a version). tests/golden/README says why.
# Regenerate with tools/regen-golden (then review the diff).
source "$(dirname "$0")/lib.sh"
"$1" run "$4" -o "$WORK/g.sqlite" --threads 2 --quiet >/dev/null
"$2" "$WORK/g.sqlite" >"$WORK/g.dump"
"$3" --ignore runs.scenario_json --ignore meta.value "$5" "$WORK/g.dump" || fail "dump of $4 differs from $5"
echo "golden dump matches ($(wc -l <"$5") lines)"
