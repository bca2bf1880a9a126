#!/bin/bash
# cache.sh FEDSIM DBDUMP SCENARIO: a Fashion-MNIST run gives the same database with the cache
# off, cold (entries written) and warm (entries mapped), feature skew included (it writes to the
# mapped rows: the entries must not see it); FEDSIM_CACHE=off makes no cache folder.
source "$(dirname "$0")/lib.sh"
F=$1 DBDUMP=$2 SCN=$3
export XDG_CACHE_HOME="$WORK/xdg"
run() { # run NAME [env...]: one short run, its dump in $WORK/NAME.dump
    env "${@:2}" "$F" run "$SCN" -o "$WORK/$1.sqlite" --quiet --set server.rounds=3 \
        --set data.train_samples=6000 --set data.test_samples=1000 \
        --set data.feature_skew.scale_sigma=0.5 >/dev/null
    "$DBDUMP" "$WORK/$1.sqlite" >"$WORK/$1.dump"
}
run off FEDSIM_CACHE=off
[ ! -e "$XDG_CACHE_HOME" ] || fail "FEDSIM_CACHE=off made $XDG_CACHE_HOME"
run cold
n=$(ls "$XDG_CACHE_HOME/fedsim/decoded" | wc -l)
[ "$n" -eq 2 ] || fail "expected 2 cache entries (train, test), found $n"
inodes=$(stat -c %i "$XDG_CACHE_HOME"/fedsim/decoded/*)
run warm
run warm2
[ "$(stat -c %i "$XDG_CACHE_HOME"/fedsim/decoded/*)" = "$inodes" ] ||
    fail "warm runs rewrote the entries"
for r in cold warm warm2; do
    diff -q "$WORK/off.dump" "$WORK/$r.dump" >/dev/null || {
        diff -u "$WORK/off.dump" "$WORK/$r.dump" | head -20; fail "cache $r differs from off"; }
done
echo "identical off, cold, warm: $(wc -l <"$WORK/off.dump") rows"
