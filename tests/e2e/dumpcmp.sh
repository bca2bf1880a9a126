#!/bin/bash
# dumpcmp.sh DUMPCMP GOLDEN_DUMP: fedsim-dumpcmp passes float differences within its tolerance
# and nothing else: integers, text, NULL, the float/integer distinction, columns and lines
# compare exactly; --ignore skips one column.
source "$(dirname "$0")/lib.sh"
C=$1 G=$2
# edit FIELD AWK_EXPR: a copy of the golden with the first rounds row's FIELD set to AWK_EXPR of
# its value v (printed %.17g when numeric)
edit() {
    awk -v f="$1" -v fmt="$3" 'BEGIN { FS = OFS = "|" }
        /^rounds\|/ && !done { for (i = 1; i <= NF; i++) if (index($i, f "=") == 1) {
            v = substr($i, length(f) + 2); '"$2"'; $i = f "=" sprintf(fmt, v) }
            done = 1 } { print }' "$G" >"$WORK/e.dump"
}
ok() { "$C" "$@" >"$WORK/out" || { cat "$WORK/out"; fail "$C $* reported a difference"; }; }
differs() {
    set +e; "$C" "$@" >"$WORK/out"; code=$?; set -e
    [ $code -eq 1 ] || { cat "$WORK/out"; fail "$C $* exited $code, expected 1"; }
}
ok "$G" "$G"
edit train_loss 'v = v * (1 + 3e-7)' %.17g
ok "$G" "$WORK/e.dump"
edit train_loss 'v = v * (1 + 3e-6)' %.17g
differs "$G" "$WORK/e.dump"
grep -q "^line 43: rounds.train_loss: expected 0.7153308382129071, found 0.7153329842" "$WORK/out" ||
    { cat "$WORK/out"; fail "the difference is not named"; }
grep -q "largest relative float difference: 3e-06 at line 43, rounds.train_loss" "$WORK/out" ||
    { cat "$WORK/out"; fail "no largest difference"; }
ok --rel 1e-5 "$G" "$WORK/e.dump"
sed '3s/|downlink_mbps=1.0|/|downlink_mbps=1|/' "$G" >"$WORK/e.dump" # the float 1, an integer
differs "$G" "$WORK/e.dump"
edit bytes_up 'v = v + 1' %d
differs "$G" "$WORK/e.dump"
ok --ignore rounds.bytes_up "$G" "$WORK/e.dump"
edit epsilon 'v = 0.5' %.17g # NULL -> a number
differs "$G" "$WORK/e.dump"
sed '2s/status=done/status=dune/' "$G" >"$WORK/e.dump"
differs "$G" "$WORK/e.dump"
sed '$d' "$G" >"$WORK/e.dump"
differs "$G" "$WORK/e.dump"
grep -q "expected more lines, found the end of the dump" "$WORK/out" || fail "a missing line"
sed '3s/|attacker=0$//' "$G" >"$WORK/e.dump"
differs "$G" "$WORK/e.dump"
set +e
"$C" --rel x "$G" "$G" 2>/dev/null; [ $? -eq 2 ] || fail "a bad tolerance is not a usage error"
"$C" "$G" "$WORK/missing" 2>"$WORK/err"; [ $? -eq 3 ] || fail "a missing file is not exit 3"
set -e
grep -q "fedsim-dumpcmp: error: $WORK/missing: No such file or directory" "$WORK/err" ||
    { cat "$WORK/err"; fail "the missing file is not named"; }
echo "dumpcmp: tolerance, exact fields and errors as documented"
