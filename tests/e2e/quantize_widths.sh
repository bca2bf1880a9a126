#!/bin/bash
# quantize_widths.sh FEDSIM SCENARIO: every documented quantization width runs to done (3, 5, 6
# and 7 bits used to end round 1 with an internal error), and the uplink carries the exact packed
# size: a float32 norm + ceil(n_params * bits / 8) bytes per reported dense update.
source "$(dirname "$0")/lib.sh"
q() { sqlite3 "$WORK/$1.sqlite" "$2"; }
"$1" run "$2" --set 'train.compression={"quantize":{"bits":6}}' -o "$WORK/q6.sqlite" --quiet \
    || fail "bits 6: exit $?"
[ "$(q q6 "select status from runs")" = done ] || fail "bits 6: run is not done"
for bits in 2 3 4 5 7 8; do
    "$1" run "$2" --set server.rounds=2 --set "train.compression={\"quantize\":{\"bits\":$bits}}" \
        -o "$WORK/q$bits.sqlite" --quiet || fail "bits $bits: exit $?"
    [ "$(q q$bits "select status from runs")" = done ] || fail "bits $bits: run is not done"
    # softmax on Fashion-MNIST: 784 x 10 + 10 = 7850 parameters
    want=$(( 4 + (7850 * bits + 7) / 8 ))
    got=$(q q$bits "select distinct bytes_up from participation where outcome = 'reported'")
    [ "$got" = "$want" ] || fail "bits $bits: reported updates carried '$got' bytes, expected $want"
done
echo "quantize 2..8 bits: done, exact sizes"
