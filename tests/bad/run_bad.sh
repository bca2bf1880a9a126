#!/bin/bash
# run_bad.sh FEDSIM CASE: bad-input test. Runs `FEDSIM validate CASE.json` from this folder (so
# messages name `CASE.json`) and compares the exit code and stderr with CASE.err, whose first
# line is `exit <code>` and the rest the exact expected stderr. CASE.json may be absent on
# purpose (the missing-file case). Exit 0 when both match, 1 otherwise with a diff.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 FEDSIM CASE" >&2
    exit 1
fi
fedsim=$1
name=$2
# Resolve a relative binary path before leaving the caller's folder.
case $fedsim in
    */*) fedsim=$(cd "$(dirname "$fedsim")" && pwd)/$(basename "$fedsim") ;;
esac
cd "$(dirname "$0")" || exit 1

if [ ! -f "$name.err" ]; then
    echo "run_bad: $name.err not found" >&2
    exit 1
fi
want_exit=$(head -n 1 "$name.err" | sed -n 's/^exit \([0-9][0-9]*\)$/\1/p')
if [ -z "$want_exit" ]; then
    echo "run_bad: $name.err: first line must be 'exit <code>'" >&2
    exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
tail -n +2 "$name.err" > "$tmp/want"
# CASE.env, when present, holds VAR=value words for the environment (e.g. a memory limit)
vars=()
[ -f "$name.env" ] && read -r -a vars < "$name.env"
env "${vars[@]}" "$fedsim" validate "$name.json" > /dev/null 2> "$tmp/got"
got_exit=$?

status=0
if [ "$got_exit" != "$want_exit" ]; then
    echo "$name: exit code $got_exit, expected $want_exit"
    status=1
fi
if ! diff -u "$tmp/want" "$tmp/got" > "$tmp/diff"; then
    echo "$name: stderr differs from $name.err (- expected, + got):"
    tail -n +3 "$tmp/diff"
    status=1
fi
[ $status -eq 0 ] && echo "$name: ok"
exit $status
