#!/usr/bin/env bash
# Every shipped scenario (scenarios/*.json) validates: a scenario added or a key renamed without
# updating the shipped files fails here, before a user meets it.
source "$(dirname "$0")/lib.sh"
F=$1 DIR=$2
n=0
for s in "$DIR"/*.json; do
    "$F" validate "$s" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "$s does not validate"; }
    grep -q ": ok$" "$WORK/out" || fail "$s: no ok line"
    n=$((n + 1))
done
[ $n -ge 20 ] || fail "only $n scenarios found in $DIR"
echo "shipped scenarios: $n validate"
