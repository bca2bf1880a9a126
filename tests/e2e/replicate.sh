#!/bin/bash
# replicate.sh FEDSIM SCENARIO: the two seeds and replicated sweeps.
# - changing seed with population_seed fixed leaves the clients table identical and changes
#   participation; changing population_seed changes the clients;
# - replicate r of two variants that differ only in train.lr select the same clients in round 1
#   (common random numbers), and different replicates select different ones;
# - replications.vary: campaign keeps one world (clients) and redraws seed, population the
#   reverse, both redraws both;
# - --jobs 1 and --jobs 2 give identical results; an interrupted replicated sweep, resumed,
#   equals an uninterrupted one (statistics tables included);
# - fedsim run --replicate R reproduces replicate R of the sweep on its own;
# - bad replications, seeds in a grid, --replicate misuse: exit 2, no database, from fedsim
#   sweep and from fedsim run (which runs a sweep file's base scenario, or one replicate).
source "$(dirname "$0")/lib.sh"
F=$1 S=$2
q() { sqlite3 "$1" "$2"; }
run() { "$F" run "$S" --quiet "$@" >/dev/null; }

# ---- two seeds
run -o "$WORK/a.sqlite" --set seed=11 --set population_seed=5
run -o "$WORK/b.sqlite" --set seed=12 --set population_seed=5
run -o "$WORK/c.sqlite" --set seed=11 --set population_seed=6
clients="select * from clients order by client_id"
parts="select round, client_id, outcome, t_reported from participation order by round, client_id"
[ "$(q "$WORK/a.sqlite" "$clients")" = "$(q "$WORK/b.sqlite" "$clients")" ] ||
    fail "clients differ although population_seed is the same"
[ "$(q "$WORK/a.sqlite" "$parts")" != "$(q "$WORK/b.sqlite" "$parts")" ] ||
    fail "participation is the same although seed changed"
[ "$(q "$WORK/a.sqlite" "$clients")" != "$(q "$WORK/c.sqlite" "$clients")" ] ||
    fail "clients are the same although population_seed changed"
[ "$(q "$WORK/a.sqlite" "select seed || ',' || population_seed from runs")" = "11,5" ] ||
    fail "runs does not record both seeds"

# ---- common random numbers across variants
grid='sweep={"train.lr":[0.05,0.1],"replications":{"count":3}}'
"$F" sweep "$S" -o "$WORK/j1.sqlite" --jobs 1 --set "$grid" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "replicated sweep failed"; }
[ "$(q "$WORK/j1.sqlite" "select count(*) from runs where status = 'done'")" = 6 ] ||
    fail "expected 6 runs (2 variants x 3 replicates)"
sel() { # sel DB LR REPLICATE: the clients selected in round 1
    q "$1" "select group_concat(client_id) from (select p.client_id from participation p
        join runs u on u.run_id = p.run_id where p.round = 1 and u.variant = 'train.lr=$2'
        and u.replicate = $3 order by p.client_id)"
}
for r in 1 2 3; do
    [ "$(sel "$WORK/j1.sqlite" 0.05 $r)" = "$(sel "$WORK/j1.sqlite" 0.1 $r)" ] ||
        fail "replicate $r of the two variants selected different clients in round 1"
done
[ "$(sel "$WORK/j1.sqlite" 0.05 1)" != "$(sel "$WORK/j1.sqlite" 0.05 2)" ] ||
    fail "replicates 1 and 2 selected the same clients"
[ "$(q "$WORK/j1.sqlite" "select count(distinct seed) from runs")" = 3 ] ||
    fail "expected one seed per replicate"
[ "$(q "$WORK/j1.sqlite" "select count(*) from runs where variant like '%seed%'")" = 0 ] ||
    fail "a variant label names a seed"

# ---- vary: campaign keeps the world and redraws seed, population the reverse
worlds() { # distinct clients tables among the runs of DB
    q "$1" "select count(distinct h) from (select group_concat(client_id || ':' || n_train || ':'
        || quote(gflops) || ':' || quote(uplink_mbps), ',') h from
        (select * from clients order by run_id, client_id) group by run_id)"
}
for vary in campaign population; do
    "$F" sweep "$S" -o "$WORK/$vary.sqlite" --jobs 1 \
        --set "sweep={\"train.lr\":[0.05,0.1],\"replications\":{\"count\":3,\"vary\":\"$vary\"}}" \
        >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "vary $vary: the sweep failed"; }
done
[ "$(worlds "$WORK/campaign.sqlite")" = 1 ] || fail "vary campaign drew more than one world"
[ "$(q "$WORK/campaign.sqlite" "select count(distinct seed) || ',' || count(distinct population_seed)
    from runs")" = "3,1" ] || fail "vary campaign: expected 3 seeds and 1 population_seed"
[ "$(worlds "$WORK/population.sqlite")" = 3 ] || fail "vary population: expected one world per replicate"
[ "$(q "$WORK/population.sqlite" "select count(distinct seed) || ',' || count(distinct population_seed)
    from runs")" = "1,3" ] || fail "vary population: expected 1 seed and 3 population_seeds"
[ "$(worlds "$WORK/j1.sqlite")" = 3 ] || fail "vary both: expected one world per replicate"

# ---- identical for any --jobs; every table keyed by (variant, replicate) instead of run_id
content() {
    q "$1" "select u.variant, u.replicate, u.seed, u.population_seed, r.round, r.t_end,
        r.selected, r.reported, r.bytes_up, printf('%.12g', r.train_loss)
        from rounds r join runs u using(run_id) order by 1, 2, 5"
    q "$1" "select u.variant, u.replicate, e.round, e.segment, e.metric, printf('%.12g', e.value)
        from evals e join runs u using(run_id) order by 1, 2, 3, 4, 5"
    q "$1" "select u.variant, u.replicate, p.round, p.client_id, p.outcome, p.t_reported
        from participation p join runs u using(run_id) order by 1, 2, 3, 4"
    # every column but updated_at (the wall-clock time of the refresh)
    q "$1" "select name, variant, n_replicates, final_metric, mean_final, sd_final, ci_low_final,
        ci_high_final, target_metric, target_value, n_reached, reach_share, mean_hours_to_target,
        ci_low_hours, ci_high_hours, mean_bytes_to_target, ci_low_bytes, ci_high_bytes,
        mean_epsilon_at_target, mean_energy_to_target, ci_low_energy, ci_high_energy
        from variant_stats order by 1, 2"
    q "$1" "select * from variant_round_stats order by 1, 2, 3, 4"
}
"$F" sweep "$S" -o "$WORK/j2.sqlite" --jobs 2 --set "$grid" >/dev/null 2>&1
[ "$(content "$WORK/j1.sqlite")" = "$(content "$WORK/j2.sqlite")" ] ||
    fail "--jobs 1 and --jobs 2 differ"
[ "$(q "$WORK/j1.sqlite" "select count(*) from v_variant_summary where n_replicates = 3")" = 2 ] ||
    fail "v_variant_summary does not hold both variants with 3 replicates"

# ---- fedsim run --replicate R is replicate R of the sweep
"$F" run "$S" -o "$WORK/one.sqlite" --quiet --replicate 2 --set "$grid" --set train.lr=0.1 \
    >/dev/null 2>"$WORK/err"
grep -qF 'has a sweep; running replicate 2 of its base scenario' "$WORK/err" ||
    { cat "$WORK/err"; fail "fedsim run --replicate 2 does not say which replicate it runs"; }
one="select r.round, r.t_end, r.selected, r.reported, printf('%.12g', r.train_loss) from rounds r"
[ "$(q "$WORK/one.sqlite" "$one")" = "$(q "$WORK/j1.sqlite" "$one join runs u using(run_id)
    where u.variant = 'train.lr=0.1' and u.replicate = 2")" ] ||
    fail "fedsim run --replicate 2 differs from the sweep's replicate 2"

# ---- interrupted and resumed equals uninterrupted
long=(--set server.rounds=60 --set output.checkpoint_every=7
      --set 'sweep={"train.lr":[0.05,0.1],"replications":{"count":2}}')
"$F" sweep "$S" -o "$WORK/full.sqlite" --jobs 1 "${long[@]}" >/dev/null 2>&1
"$F" sweep "$S" -o "$WORK/cut.sqlite" --jobs 1 "${long[@]}" >/dev/null 2>&1 &
sweep_pid=$!
for _ in $(seq 300); do
    n=$(q "$WORK/cut.sqlite" "select count(*) from rounds where run_id = 3" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 20 ] && break
    sleep 0.02
done
pkill -INT -P "$sweep_pid" || true
set +e; wait $sweep_pid; code=$?; set -e
if [ $code -ne 130 ]; then
    # every run beat the signal: simulate a crash of replicate 3 after its checkpoint instead
    q "$WORK/cut.sqlite" "update runs set status = 'interrupted' where run_id = 3"
fi
[ "$(q "$WORK/cut.sqlite" "select count(*) from runs where status = 'done'")" -lt 4 ] ||
    fail "nothing was left to resume"
"$F" sweep "$S" -o "$WORK/cut.sqlite" --jobs 2 "${long[@]}" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "resuming the sweep failed"; }
[ "$(content "$WORK/full.sqlite")" = "$(content "$WORK/cut.sqlite")" ] ||
    fail "the resumed replicated sweep differs from the uninterrupted one"

# ---- bad input: exit 2, no database
bad() { # bad WHAT EXPECTED_MESSAGE ARGS...
    local what=$1 want=$2
    shift 2
    set +e
    "$@" >/dev/null 2>"$WORK/err"
    local code=$?
    set -e
    [ $code -eq 2 ] || { cat "$WORK/err"; fail "$what: exit $code, expected 2"; }
    grep -qF -- "$want" "$WORK/err" || { cat "$WORK/err"; fail "$what: no message '$want'"; }
    [ ! -e "$WORK/bad.sqlite" ] || fail "$what: a database was created"
}
sw() { echo "sweep={\"train.lr\":[0.05,0.1],\"replications\":$1}"; }
bad "count 0" 'sweep.replications.count: expected an integer from 1 to 1000, found 0' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":0}')"
bad "count 1001" 'sweep.replications.count: expected an integer from 1 to 1000, found 1001' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":1001}')"
bad "vary misspelt" \
    'sweep.replications.vary: expected one of "both", "campaign", "population", found "campain"' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":2,"vary":"campain"}')"
bad "misspelt key" 'sweep.replications.cout: unknown key; did you mean "count"?' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":2,"cout":3}')"
bad "unknown key" 'sweep.replications.seeds: unknown key (valid keys: count, vary)' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":2,"seeds":[1,2]}')"
bad "replications alone" 'sweep: expected at least one path to vary beside "replications"' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set 'sweep={"replications":{"count":3}}'
bad "seed in a grid" 'sweep.seed: expected a setting to compare, found a seed' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" --set 'sweep={"seed":[1,2,3]}'
bad "population_seed in a variant" \
    'sweep.variants[0].set.population_seed: expected a setting to compare, found a seed' \
    "$F" sweep "$S" -o "$WORK/bad.sqlite" \
    --set 'sweep={"variants":[{"label":"x","set":{"population_seed":3}}]}'
bad "run of a file with bad replications" \
    'sweep.replications.count: expected an integer from 1 to 1000, found 0' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --set "$(sw '{"count":0}')"
bad "--replicate of a file with bad replications" \
    'sweep.replications.vary: expected one of "both", "campaign", "population", found "x"' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --replicate 1 --set "$(sw '{"count":2,"vary":"x"}')"
bad "run of a file with a seed axis" 'sweep.seed: expected a setting to compare, found a seed' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --set 'sweep={"seed":[1,2,3]}'
bad "--replicate without replications" \
    'fedsim: error: --replicate: expected a scenario whose sweep has valid "replications"' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --replicate 1
bad "--replicate out of range" \
    '--replicate: expected an integer from 1 to 3 (sweep.replications.count), found 4' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --replicate 4 --set "$grid"
bad "--replicate 0" '--replicate: expected an integer from 1 to 1000' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --replicate 0
bad "sustain 0" 'eval.target.sustain: expected integer' \
    "$F" run "$S" -o "$WORK/bad.sqlite" --set 'eval.target={"metric":"accuracy","value":0.5,"sustain":0}'
echo "replications: seeds split, common random numbers, jobs-independent, resumable, bad input refused"
