#!/bin/bash
# sweep_progress.sh FEDSIM SWEEP: on a terminal (a pty from script(1)) a sweep shows progress
# inside its running variants: a redrawn line with the rounds each running child has recorded;
# without a terminal it prints none.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "script(1) missing: skipped"; exit 77; }
cmd="'$1' sweep '$2' -o '$WORK/p.sqlite' --jobs 2 --set server.rounds=600"
script -qec "$cmd" "$WORK/typescript" >/dev/null
lines=$(tr '\r' '\n' <"$WORK/typescript" | grep -a "running, rounds so far: [0-9]" || true)
[ -n "$lines" ] || { cat -v "$WORK/typescript" | head; fail "no progress line on a terminal"; }
grep -aq "running, rounds so far: [1-9][0-9]*" <<<"$lines" || fail "progress never counted a round"
tr '\r' '\n' <"$WORK/typescript" | grep -aq "sweep-small: 4 variants (4 run now" ||
    fail "the sweep did not finish"
"$1" sweep "$2" -o "$WORK/q.sqlite" --jobs 2 --set server.rounds=600 >/dev/null 2>"$WORK/err"
! grep -q "rounds so far" "$WORK/err" || fail "progress line written to a file"
echo "sweep progress: $(wc -l <<<"$lines") progress lines on a terminal, none in a file"
