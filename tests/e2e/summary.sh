#!/bin/bash
# summary.sh FEDSIM SMALL PRIVATE CTR: the end-of-run summary says what the run did in readable
# units: a 5-minute campaign is not "0.00 virtual hours", device time has a unit that shows it
# (the sparse CTR model trains for well under a second: milliseconds, not "0.0 hours"), and a DP
# run prints its ε.
source "$(dirname "$0")/lib.sh"
"$1" run "$2" -o "$WORK/a.sqlite" --quiet >"$WORK/a.out"
grep -q "^fedsim: golden-small: 6 rounds in 5.0 virtual minutes" "$WORK/a.out" ||
    { cat "$WORK/a.out"; fail "short campaign not in minutes"; }
grep -q "^  device time     16.0 seconds of local training" "$WORK/a.out" ||
    { cat "$WORK/a.out"; fail "device time missing or without a unit"; }
! grep -q "epsilon" "$WORK/a.out" || fail "a run without DP prints an epsilon"
"$1" run "$3" -o "$WORK/b.sqlite" --quiet >"$WORK/b.out"
eps=$(sqlite3 "$WORK/b.sqlite" "select printf('%.4g', epsilon) from rounds order by round desc limit 1")
grep -q "^  privacy         epsilon $eps at delta 1e-05" "$WORK/b.out" ||
    { cat "$WORK/b.out"; fail "DP run does not print its epsilon ($eps)"; }
grep -q "virtual seconds" "$WORK/b.out" || { cat "$WORK/b.out"; fail "seconds-long campaign"; }
"$1" run "$4" -o "$WORK/c.sqlite" --quiet >"$WORK/c.out"
ms=$(sqlite3 "$WORK/c.sqlite" "select printf('%.3g', 1000 * sum(compute_s)) from rounds")
grep -q "^  device time     $ms ms of local training" "$WORK/c.out" ||
    { cat "$WORK/c.out"; fail "sparse model's device time not in ms ($ms)"; }
# the engine's split: three timed parts and the rest, which together are the engine's figure
# (it printed to 0.01 s, they to 0.001 s: 0.005 + 4 x 0.0005 apart at most)
parts=$(sed -n "s/^  engine's parts  selection \([0-9.]*\) s, aggregation \([0-9.]*\),\
 recording \([0-9.]*\), the rest \([0-9.]*\) (participations, events)$/\1 \2 \3 \4/p" "$WORK/c.out")
engine=$(sed -n 's/^  wall time .* engine \([0-9.]*\), writer .*/\1/p' "$WORK/c.out")
[ -n "$parts" ] && [ -n "$engine" ] || { cat "$WORK/c.out"; fail "no engine's parts line"; }
awk -v e="$engine" -v p="$parts" 'BEGIN {split(p, x, " ")
    exit !(x[1] >= 0 && x[2] >= 0 && x[3] >= 0 && x[4] >= 0 &&
           x[1] + x[2] + x[3] + x[4] <= e + 0.0075 && x[1] + x[2] + x[3] + x[4] >= e - 0.0075)}' ||
    { cat "$WORK/c.out"; fail "the engine's parts do not make up its $engine s"; }
echo "summary: minutes, seconds, device time (also in ms) and epsilon as expected"
