#!/bin/bash
# plugin.sh FEDSIM DBDUMP PLUGIN_DIR: a model from a shared object (model.kind "plugin", the
# example tests/plugin/linear_plugin.c) validates, trains (accuracy rises), is identical on 1
# and 2 threads, resumes from a checkpoint exactly and runs beside a built-in model in a sweep;
# each broken plugin of bad_plugin.c, a
# file that is no shared object and a dense-only plugin on sparse data are refused with exit 2
# and a message naming model.plugin.path and the file, before any results file exists.
source "$(dirname "$0")/lib.sh"
F=$1 D=$2 P=$3
here=$(dirname "$0")
S=$WORK/plugin.json
cat >"$S" <<JSON
{
  "name": "plugin-small",
  "seed": 3,
  "data": {"source": "synthetic", "clients": 30,
           "synthetic": {"alpha": 0.5, "beta": 0.5, "max_samples_per_client": 100}},
  "model": {"kind": "plugin",
            "plugin": {"path": "$P/linear_plugin.so", "config": {"l2": 0.001}}},
  "train": {"epochs": 1, "batch_size": 10, "lr": 0.1},
  "server": {"rounds": 30, "clients_per_round": 10},
  "eval": {"every_rounds": 5}
}
JSON
"$F" validate "$S" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "the plugin scenario does not validate"; }
"$F" run "$S" -o "$WORK/r.sqlite" --quiet
q() { sqlite3 "$WORK/r.sqlite" "$1"; }
[ "$(q "select status from runs")" = done ] || fail "run status is not done"
acc="select value from evals where metric='accuracy' and segment='all' order by round"
first=$(q "$acc limit 1") last=$(q "$acc desc limit 1")
echo "plugin model: accuracy $first -> $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b - a >= 0.05) }' || fail "accuracy did not rise"
q "select scenario_json from runs" | tr -d ' \t\n' |
    grep -q '"plugin":{"path":"[^"]*linear_plugin.so","config":{"l2":0.001}}' ||
    fail "the effective scenario does not hold model.plugin"
"$here/threads.sh" "$F" "$D" "$S" || fail "plugin runs differ between 1 and 2 threads"
"$here/resume.sh" "$F" "$D" "$S" || fail "a plugin run does not resume exactly"
# a sweep compares a built-in model with the plugin (the variant sets kind and path)
cat >"$WORK/sweep.json" <<JSON
{"name": "plugin-vs-softmax", "data": {"source": "synthetic", "clients": 20},
 "server": {"rounds": 3, "clients_per_round": 5},
 "sweep": {"variants": [{"label": "softmax", "set": {"model.kind": "softmax"}},
                        {"label": "plugin", "set": {"model.kind": "plugin",
                                                    "model.plugin.path": "$P/linear_plugin.so"}}]}}
JSON
"$F" sweep "$WORK/sweep.json" -o "$WORK/sweep.sqlite" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "sweep"; }
[ "$(sqlite3 "$WORK/sweep.sqlite" "select group_concat(v) from (select variant || ':' || status v from runs order by run_id)")" = \
    "softmax:done,plugin:done" ] || fail "the sweep did not run both models"

# refused(WHAT, EXPECTED-TEXT, --set ...): validate or run exits 2 naming the key and the file
refused() {
    local cmd=$1 want=$2; shift 2
    set +e
    if [ "$cmd" = run ]; then
        "$F" run "${SCN:-$S}" -o "$WORK/bad.sqlite" --quiet "$@" >/dev/null 2>"$WORK/err"
    else
        "$F" validate "${SCN:-$S}" "$@" >/dev/null 2>"$WORK/err"
    fi
    local code=$?
    set -e
    [ $code -eq 2 ] || { cat "$WORK/err"; fail "$cmd $* exited $code, expected 2"; }
    grep -qF "model.plugin.path: " "$WORK/err" || { cat "$WORK/err"; fail "no model.plugin.path"; }
    grep -qF "$want" "$WORK/err" || { cat "$WORK/err"; fail "expected: $want"; }
    [ ! -e "$WORK/bad.sqlite" ] || fail "$cmd $* left a results file"
}
refused validate "found no file \"$P/none.so\"" --set model.plugin.path="$P/none.so"
refused validate "expected a shared object, found \"$S\"" --set model.plugin.path="$S"
refused validate "export the table fedsim_model_plugin" \
    --set model.plugin.path="$P/bad_plugin_no_symbol.so"
refused validate "expected a plugin of ABI version 2, found version 100" \
    --set model.plugin.path="$P/bad_plugin_abi.so"
refused run "found version 100" --set model.plugin.path="$P/bad_plugin_abi.so"
# a plugin built for ABI 1 (double parameters) is refused rather than handed floats
refused run "expected a plugin of ABI version 2, found version 1 in" \
    --set model.plugin.path="$P/bad_plugin_abi1.so"
refused run "bad_plugin_nan_init.so\" returned non-finite initial parameters" \
    --set model.plugin.path="$P/bad_plugin_nan_init.so"
refused run "bad_plugin_nan_loss.so\" returned a non-finite loss" \
    --set model.plugin.path="$P/bad_plugin_nan_loss.so"
refused run "bad_plugin_nan_grad.so\" returned a non-finite gradient" \
    --set model.plugin.path="$P/bad_plugin_nan_grad.so"
refused run "bad_plugin_probs.so\" returned probabilities outside [0, 1]" \
    --set model.plugin.path="$P/bad_plugin_probs.so"
refused run "refused the model: config.l2: expected a number >= 0" \
    --set model.plugin.config='{"l2": -1}'
# sparse rows (marketing) for a plugin that takes dense rows only
cat >"$WORK/sparse.json" <<JSON
{"name": "plugin-sparse", "data": {"source": "marketing", "clients": 20},
 "model": {"kind": "plugin", "plugin": {"path": "$P/bad_plugin_ok.so"}},
 "server": {"rounds": 2, "clients_per_round": 5}}
JSON
SCN=$WORK/sparse.json refused validate \
    "expected a plugin that accepts sparse rows (FEDSIM_MODEL_SPARSE), found \"$P/bad_plugin_ok.so\""
echo "broken plugins refused with exit 2, naming model.plugin.path and the file"
