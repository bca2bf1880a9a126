#!/bin/bash
# readonly.sh FEDSIM SCENARIO: report and plan read a results database in a folder the user
# cannot write (as on read-only media): a cleanly closed one (read through SQLite's immutable
# mode, also under a name that needs URI escaping), and one copied with its -wal and -shm files
# from a killed run (every committed round visible). One copied with its -wal but without its
# -shm cannot be read without write access: refused with a clear message, not read stale.
# Tests run as root, whom file modes do not stop, so as root the commands run as user nobody
# (setpriv) in a folder owned by root with mode 755: a real "folder the user cannot write".
# Otherwise the folder is made read-only with chmod.
source "$(dirname "$0")/lib.sh"
F=$(realpath "$1") S=$2
chmod 755 "$WORK"
ro=$WORK/ro out=$WORK/out
mkdir "$ro" "$out"
chmod 777 "$out"
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || { echo "SKIP: no setpriv to drop root"; exit 77; }
    as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
    as_user test -w "$ro" && fail "nobody can write $ro"
    as_user test -x "$F" || { echo "SKIP: user nobody cannot run $F"; exit 77; }
else
    as_user() { "$@"; }
fi
lock_folder() { [ "$(id -u)" -eq 0 ] || chmod 555 "$ro"; }
unlock_folder() { chmod 755 "$ro"; rm -f "$ro"/*; }
expect() { # CODE COMMAND...
    local want=$1
    shift
    set +e; as_user "$@" >"$WORK/stdout" 2>"$WORK/err"; local code=$?; set -e
    [ $code -eq "$want" ] || { cat "$WORK/err"; fail "$*: exit $code, expected $want"; }
}
# a finished run, cleanly closed (no -wal, no -shm)
"$F" run "$S" -o "$WORK/done.sqlite" --quiet >/dev/null
for name in done.sqlite 'my results?#%.sqlite'; do
    cp "$WORK/done.sqlite" "$ro/$name"
    lock_folder
    expect 0 "$F" report "$ro/$name" -o "$out/r1"
    grep -q "<td>done</td>" "$out/r1/report.html" || fail "report of $name: no done run"
    expect 0 "$F" plan "$ro/$name" --target accuracy=0.01
    grep -q "golden-small" "$WORK/stdout" || fail "plan of $name: no variant"
    [ "$(ls "$ro")" = "$name" ] || fail "files created next to $name: $(ls "$ro")"
    unlock_folder
done

# a run killed mid-way: its rounds are in the -wal file
"$F" run "$S" -o "$WORK/k.sqlite" --quiet --set server.rounds=100000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
    sleep 0.1
    [ "$(sqlite3 -readonly "$WORK/k.sqlite" "select count(*) from rounds" 2>/dev/null || echo 0)" -ge 20 ] && break
done
kill -9 $pid
{ wait $pid || true; } 2>/dev/null
[ -s "$WORK/k.sqlite-wal" ] || fail "the killed run left no -wal file"
cp "$WORK/k.sqlite" "$WORK/k.sqlite-wal" "$WORK/k.sqlite-shm" "$ro/"
n=$(sqlite3 -readonly "$WORK/k.sqlite" "select count(*) from rounds")
lock_folder
expect 0 "$F" report "$ro/k.sqlite" -o "$out/r2"
grep -q "<td>running</td><td class=\"num\">$n</td>" "$out/r2/report.html" ||
    fail "report of the killed run does not show its $n rounds"
unlock_folder
cp "$WORK/k.sqlite" "$WORK/k.sqlite-wal" "$ro/"
lock_folder
expect 3 "$F" report "$ro/k.sqlite" -o "$out/r3"
grep -q "$ro/k.sqlite: reading results database: .* (its -wal file holds rounds that only a connection allowed to create $ro/k.sqlite-shm can read: copy the database with its -wal and -shm files to a folder you can write)" "$WORK/err" ||
    { cat "$WORK/err"; fail "no clear message for a -wal without its -shm"; }
unlock_folder
echo "readonly: report and plan read databases in a folder the user cannot write"
