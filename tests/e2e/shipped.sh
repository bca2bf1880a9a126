#!/usr/bin/env bash
# Every shipped scenario (scenarios/*.json) validates: a scenario added or a key renamed without
# updating the shipped files fails here, before a user meets it. validate loads the data as a run
# does: a scenario whose dataset tools/fetch-datasets has not converted on this machine may only
# fail for that, the missing CSV under ~/.cache/fedsim/data (its keys were checked before).
source "$(dirname "$0")/lib.sh"
F=$1 DIR=$2
n=0 unfetched=0
UNFETCHED='/\.cache/fedsim/data/[a-z_]+\.csv: expected a readable CSV file, found: No such file'
UNFETCHED+=' or directory$'
for s in "$DIR"/*.json; do
    if "$F" validate "$s" >"$WORK/out" 2>&1; then
        grep -q ": ok$" "$WORK/out" || fail "$s: no ok line"
    elif [ "$(wc -l <"$WORK/out")" = 1 ] && grep -Eq "^fedsim: error: [^ ]+: [^ ]*$UNFETCHED" \
        "$WORK/out"; then
        unfetched=$((unfetched + 1))
    else
        cat "$WORK/out"
        fail "$s does not validate"
    fi
    n=$((n + 1))
done
[ $n -ge 20 ] || fail "only $n scenarios found in $DIR"
[ $unfetched -le 2 ] ||
    fail "$unfetched scenarios miss their data: only coil_insurance and movielens_mf need it"
echo "shipped scenarios: $n validate ($unfetched but for a dataset not converted here)"
