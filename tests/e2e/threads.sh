#!/bin/bash
# threads.sh FEDSIM DBDUMP SCENARIO: databases of --threads 1 and --threads 2 are identical
# (run metadata aside).
source "$(dirname "$0")/lib.sh"
for t in 1 2; do
    "$1" run "$3" -o "$WORK/t$t.sqlite" --threads $t --quiet >/dev/null
    "$2" "$WORK/t$t.sqlite" >"$WORK/t$t.dump"
done
diff -q "$WORK/t1.dump" "$WORK/t2.dump" >/dev/null || {
    diff -u "$WORK/t1.dump" "$WORK/t2.dump" | head -20; fail "1 and 2 threads differ"; }
echo "identical: $(wc -l <"$WORK/t1.dump") rows"
