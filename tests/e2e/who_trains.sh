#!/bin/bash
# who_trains.sh FEDSIM SCENARIO: on a real run, the participation mix is consistent in the plain
# sqlite3 shell: per group column and level reported <= selected <= online <= consenting <=
# population, every group's population adds up to the clients table and its selected / reported
# to the rounds rows, and the bias views answer (TVD in [0, 1], Jain in (0, 1]).
source "$(dirname "$0")/lib.sh"
F=$1 S=$2
"$F" run "$S" -o "$WORK/r.sqlite" --quiet >/dev/null
q() { sqlite3 "$WORK/r.sqlite" "$1"; }
n() { # STAGE: the count of (run, round, grp, level) at STAGE, 0 when absent
    echo "coalesce((SELECT n FROM participation_mix x WHERE x.run_id = m.run_id AND"
    echo " x.round = $2 AND x.grp = m.grp AND x.level = m.level AND x.stage = '$1'), 0)"
}
bad=$(q "SELECT count(*) FROM (SELECT DISTINCT run_id, round, grp, level FROM participation_mix
    WHERE round > 0) m WHERE $(n reported m.round) > $(n selected m.round)
    OR $(n selected m.round) > $(n online m.round)
    OR $(n online m.round) > $(n consenting 0) OR $(n consenting 0) > $(n population 0)")
[ "$bad" = 0 ] || fail "$bad (round, level) rows where the stages do not nest"
[ "$(q "SELECT count(DISTINCT grp) FROM participation_mix")" -ge 2 ] || fail "too few groups"
bad=$(q "SELECT count(*) FROM (SELECT grp, sum(n) AS s FROM participation_mix
    WHERE round = 0 AND stage = 'population' GROUP BY grp)
    WHERE s <> (SELECT count(*) FROM clients WHERE n_train > 0)")
[ "$bad" = 0 ] || fail "a group's population does not add up to the clients"
bad=$(q "SELECT count(*) FROM rounds r JOIN (SELECT round, grp,
    sum(CASE WHEN stage = 'selected' THEN n ELSE 0 END) AS sel,
    sum(CASE WHEN stage = 'reported' THEN n ELSE 0 END) AS rep
    FROM participation_mix WHERE round > 0 GROUP BY round, grp) m ON m.round = r.round
    WHERE m.sel <> r.selected OR m.rep <> r.reported")
[ "$bad" = 0 ] || fail "selected or reported per group differ from the rounds rows"
[ "$(q "SELECT count(*) FROM selection_rounds")" = "$(q "SELECT count(*) FROM rounds")" ] ||
    fail "not one selection_rounds row per round"
bad=$(q "SELECT count(*) FROM v_selection_bias WHERE NOT (tvd BETWEEN 0 AND 1 AND kl >= 0
    AND jain > 0 AND jain <= 1 AND never_selected BETWEEN 0 AND 1)")
[ "$bad" = 0 ] || fail "impossible bias figures"
[ "$(q "SELECT count(*) FROM v_run_bias")" -ge 2 ] || fail "v_run_bias is empty"
echo "who trains: stages nest, totals add up, views answer ($(q "SELECT count(*) FROM participation_mix") mix rows)"
