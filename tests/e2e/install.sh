#!/bin/bash
# install.sh MESON BUILDDIR SOURCEDIR: `meson install` into a staging folder (DESTDIR) puts the
# binary, the man page, bash completion, the shipped scenarios and the model plugin header with
# its pkg-config file in place, and each of them works there: the example plugin builds from the
# installed header alone (pkg-config --cflags fedsim-model) and the installed fedsim trains it.
source "$(dirname "$0")/lib.sh"
meson=$1 build=$2 src=$3
D=$WORK/stage
DESTDIR=$D "$meson" install -C "$build" --no-rebuild --quiet >"$WORK/log" 2>&1 ||
    { cat "$WORK/log"; fail "meson install failed"; }
find_one() { # find_one PATH-PATTERN: the single staged file matching it
    local f; f=$(find "$D" -path "$1" -type f | head -n 1)
    [ -n "$f" ] || { find "$D" -type f; fail "nothing installed at */$1"; }
    echo "$f"
}
bin=$(find_one '*/bin/fedsim')
man=$(find_one '*/share/man/man1/fedsim.1')
comp=$(find_one '*/share/bash-completion/completions/fedsim')
scn=$(dirname "$(find_one '*/share/fedsim/scenarios/quickstart.json')")
[ -f "$scn/README.md" ] || fail "scenarios/README.md not installed"
find_one '*/share/fedsim/results/README.md' >/dev/null
"$bin" --version | grep -q '^fedsim [0-9]' || fail "the installed binary does not run"
# every shipped scenario validates where it was installed
"$bin" validate "$scn"/*.json >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "installed scenarios"; }
[ "$(grep -c ': ok$' "$WORK/out")" = "$(ls "$scn"/*.json | wc -l)" ] || fail "not every scenario ok"
# the man page renders, names the version and points at the installed scenarios
if command -v man >/dev/null; then
    MANWIDTH=80 man -l "$man" >"$WORK/man" 2>"$WORK/man.err" ||
        { cat "$WORK/man.err"; fail "man -l"; }
elif command -v groff >/dev/null; then
    groff -man -Tutf8 "$man" >"$WORK/man" || fail "groff"
else
    cp "$man" "$WORK/man"
fi
version=$("$bin" --version | cut -d' ' -f2)
grep -q "fedsim $version" "$WORK/man" || fail "man page without the version"
grep -q "FEDSIM_MAX_MEMORY" "$WORK/man" || fail "man page without the environment"
grep -q "FEDSIM_BUSY_TIMEOUT_MS" "$WORK/man" || fail "man page without the busy timeout"
grep -q "130, 143, 129" "$WORK/man" || fail "man page without the exit status of each signal"
grep -q "share/fedsim/scenarios" "$WORK/man" || fail "man page does not say where scenarios are"
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww -z "$man" 2>"$WORK/warn"
    [ ! -s "$WORK/warn" ] || { cat "$WORK/warn"; fail "groff warnings in the man page"; }
fi
# the completion loads and completes commands and options
out=$(bash -c 'source "$1"; complete -p fedsim >/dev/null || exit 1
    COMP_WORDS=(fedsim va); COMP_CWORD=1; _fedsim; echo "${COMPREPLY[*]}"
    COMP_WORDS=(fedsim plan x.sqlite --by d); COMP_CWORD=4; _fedsim; echo "${COMPREPLY[*]}"
    COMP_WORDS=(fedsim run --th); COMP_CWORD=2; _fedsim; echo "${COMPREPLY[*]}"' _ "$comp") ||
    fail "the completion does not load"
[ "$out" = "$(printf 'validate\ndevice-hours\n--threads')" ] || { echo "$out"; fail "completion"; }
# the plugin ABI: a self-contained header and the .pc that finds it
header=$(find_one '*/include/fedsim/fedsim_model.h')
pc=$(find_one '*/pkgconfig/fedsim-model.pc')
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$D
cflags=$(pkg-config --cflags fedsim-model) || fail "pkg-config does not find fedsim-model"
cflags=${cflags% }
[ "$cflags" = "-I$(dirname "$(dirname "$header")")" ] || fail "fedsim-model.pc: Cflags $cflags"
[ "$(pkg-config --modversion fedsim-model)" = "$("$bin" --version | cut -d' ' -f2)" ] ||
    fail "fedsim-model.pc: another version than the binary"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror -fPIC -shared $cflags -o "$WORK/linear.so" \
    "$src/tests/plugin/linear_plugin.c" -lm 2>"$WORK/cc" || { cat "$WORK/cc"; fail "plugin build"; }
cat >"$WORK/plugin.json" <<JSON
{"name": "installed-plugin", "data": {"source": "synthetic", "clients": 20},
 "model": {"kind": "plugin", "plugin": {"path": "$WORK/linear.so"}},
 "server": {"rounds": 3, "clients_per_round": 5}}
JSON
"$bin" run "$WORK/plugin.json" -o "$WORK/plugin.sqlite" --quiet >"$WORK/out" 2>&1 ||
    { cat "$WORK/out"; fail "the installed fedsim does not run the plugin"; }
echo "meson install puts fedsim, its man page, completion, scenarios and the plugin ABI in place"
