#!/bin/bash
# layers.sh CHECK ROOT: the source tree keeps its layering (app -> plan -> sim -> models -> base,
# no include cycle between modules), and the check itself catches an upward include and a cycle
# (on a copy of the tree, so a check that always passed would fail here).
source "$(dirname "$0")/lib.sh"
C=$1 R=$2
"$C" "$R" >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "the source tree breaks its layering"; }
for d in base models sim plan app; do cp -r "$R/$d" "$WORK/"; done
# an upward include: base may not know a results database
echo '#include "fs_db.h"' >>"$WORK/base/fs_text.c"
set +e; "$C" "$WORK" >/dev/null 2>"$WORK/err"; code=$?; set -e
[ $code -eq 1 ] && grep -q "base/fs_text.c (base) includes fs_db.h (sim): against the layering" \
    "$WORK/err" || { cat "$WORK/err"; fail "an upward include was not caught (exit $code)"; }
sed -i '$d' "$WORK/base/fs_text.c"
# a cycle inside one layer: the event queue including the engine that includes it
echo '#include "fs_engine.h"' >>"$WORK/sim/engine/fs_evq.h"
set +e; "$C" "$WORK" >/dev/null 2>"$WORK/err"; code=$?; set -e
[ $code -eq 1 ] && grep -q "include cycle between modules" "$WORK/err" &&
    grep -q "fs_evq" "$WORK/err" || { cat "$WORK/err"; fail "a cycle was not caught (exit $code)"; }
echo "layers: one way, no cycle; an upward include and a cycle are caught"
