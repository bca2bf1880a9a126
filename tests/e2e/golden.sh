#!/bin/bash
# golden.sh FEDSIM DBDUMP SCENARIO EXPECTED_DUMP: the run's table dump equals the reviewed file.
# Regenerate with tools/regen-golden (then review the diff).
source "$(dirname "$0")/lib.sh"
"$1" run "$3" -o "$WORK/g.sqlite" --threads 2 --quiet >/dev/null
"$2" "$WORK/g.sqlite" >"$WORK/g.dump"
diff -u "$4" "$WORK/g.dump" || fail "dump of $3 differs from $4"
echo "golden dump matches ($(wc -l <"$4") lines)"
