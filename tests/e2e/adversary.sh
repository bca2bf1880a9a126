#!/bin/bash
# adversary.sh FEDSIM DBDUMP SCENARIO QUICKSTART: adversarial clients end to end (SCENARIO is
# adversary_small.json, 2,000 fraud card holders; QUICKSTART the Fashion-MNIST quickstart).
#  1. attackers are a fixed set of the population: the same clients under two campaign seeds
#     with population_seed fixed, recorded in clients.attacker, only in adversary.segment;
#  2. every attack gives identical databases with --threads 1 and 2;
#  3. sign-flip attackers make FedAvg's AUC fall;
#  4. model replacement (scale 10 toward a trigger backdoor, from round 16) raises the backdoor
#     success under FedAvg, and norm_bound at the clean run's 90th percentile of honest update
#     norms blunts it;
#  5. with sign-flip attackers below each rule's bound on IID Fashion-MNIST, FedAvg diverges
#     while median, trimmed mean and Krum stay within 0.04 of the clean FedAvg accuracy.
source "$(dirname "$0")/lib.sh"
fedsim=$(realpath "$1") dump=$(realpath "$2") scn=$(realpath "$3") quick=$(realpath "$4")
cd "$WORK"
q() { sqlite3 "$1" "$2"; }
final() { # DB SEGMENT METRIC ROUND: the value of the run's (only) eval row
    q "$1" "select value from evals where segment = '$2' and metric = '$3' and round = $4"; }
run() { local db=$1; shift; "$fedsim" run "$scn" -o "$db" --quiet "$@" >/dev/null || fail "run $db $*"; }

# 1. the same attackers under another campaign seed, recorded, within the segment
ring='adversary={"share": 0.2, "segment": "online", "attack": {"gaussian": {}}}'
run a.sqlite --set "$ring"
run b.sqlite --set "$ring" --set seed=2
who="select group_concat(client_id) from clients where attacker = 1"
[ -n "$(q a.sqlite "$who")" ] || fail "no attacker recorded"
[ "$(q a.sqlite "$who")" = "$(q b.sqlite "$who")" ] || fail "another seed drew other attackers"
[ "$(q a.sqlite "select count(*) from clients where attacker not in (0, 1)")" = 0 ] ||
    fail "clients.attacker is not 0/1"
run c.sqlite --set "${ring/0.2/0.5}" --set population_seed=4
[ "$(q c.sqlite "$who")" != "$(q a.sqlite "$who")" ] || fail "another population, same attackers"
# attackers are clients whose first training row is online: none is without an online row
# in the data is not checked here (rows are not stored); the unit test checks the level rule
n_att=$(q a.sqlite "select sum(attacker) from clients")

# 2. identical across thread counts, every attack (dense rows, update and row attacks)
for atk in '{"label_flip": {}}' '{"sign_flip": {"scale": 2}}' '{"gaussian": {}}' '{"free_ride": {}}' \
    '{"scale": {"boost": 5, "backdoor": {"feature": 0, "value": 0}}}' \
    '{"scale": {"boost": 5, "backdoor": {"segment": "online", "label": 0}}}'; do
    for t in 1 2; do
        rm -f t$t.sqlite*
        run t$t.sqlite --threads $t --set "adversary={\"share\": 0.2, \"start_round\": 3, \"attack\": $atk}"
        "$dump" t$t.sqlite >t$t.dump
    done
    cmp -s t1.dump t2.dump || fail "1 and 2 threads differ with $atk"
done

# 3. sign flip breaks FedAvg
run clean.sqlite
run flip.sqlite --set 'adversary={"share": 0.3, "attack": {"sign_flip": {"scale": 4}}}'
auc_clean=$(final clean.sqlite all auc 30) auc_flip=$(final flip.sqlite all auc 30)
awk -v c="$auc_clean" -v f="$auc_flip" 'BEGIN { exit !(c >= 0.7 && f <= c - 0.15) }' ||
    fail "sign flip: AUC $auc_flip vs clean $auc_clean (expected a fall of 0.15 or more)"

# 4. model replacement raises the backdoor success; norm_bound at the honest p90 blunts it
p90=$(q clean.sqlite "with n as (select update_norm u, row_number() over (order by update_norm) k,
      count(*) over () c from participation where outcome = 'reported') select u from n
      where k = (c * 9 + 9) / 10")
bd='adversary={"share": 0.1, "start_round": 16, "attack": {"scale": {"boost": 10, "backdoor": {"feature": 0, "value": 0}}}}'
run bd.sqlite --set "$bd"
run nb.sqlite --set "$bd" --set "server.robust={\"norm_bound\": {\"max_norm\": $p90}}"
before=$(final bd.sqlite backdoor success 15) after=$(final bd.sqlite backdoor success 30)
bounded=$(final nb.sqlite backdoor success 30)
awk -v b="$before" -v a="$after" -v n="$bounded" 'BEGIN { exit !(b < 0.2 && a > 0.9 && n < 0.6) }' ||
    fail "backdoor success $before (round 15) -> $after (30) under FedAvg, $bounded with norm_bound $p90"
# the boosted updates are recorded as sent (participation.update_norm, before norm_bound)
big=$(q bd.sqlite "select count(*) from participation p join clients c using (run_id, client_id)
      where c.attacker = 1 and p.round >= 16 and p.update_norm > 3 * $p90")
[ "$big" -gt 0 ] || fail "no boosted attacker update recorded"

# 5. robust rules under sign-flip attackers below their bounds (15% of clients: ~7.5 of 50
#    reports; Krum f = 12, trimmed mean beta = 0.25)
qrun() { local db=$1; shift; "$fedsim" run "$quick" -o "$db" --quiet --set 'data.partition="iid"' \
    "$@" >/dev/null || fail "quickstart $db $*"; }
qacc() { q "$1" "select value from evals where segment = 'all' and metric = 'accuracy'
                  order by round desc limit 1"; }
flip='adversary={"share": 0.15, "attack": {"sign_flip": {"scale": 8}}}'
qrun q0.sqlite
qrun q1.sqlite --set "$flip"
base=$(qacc q0.sqlite) fedavg=$(qacc q1.sqlite)
awk -v b="$base" -v f="$fedavg" 'BEGIN { exit !(f < b - 0.2) }' ||
    fail "FedAvg under sign flip: $fedavg vs clean $base (expected to fall by 0.2 or more)"
for rule in '{"median": {}}' '{"trimmed_mean": {"beta": 0.25}}' '{"krum": {"f": 12, "m": 10}}'; do
    qrun qr.sqlite --set "$flip" --set "server.robust=$rule"
    acc=$(qacc qr.sqlite)
    rm -f qr.sqlite*
    # 0.04: robust rules average fewer honest values than FedAvg (median: one per coordinate),
    # and on IID data without attackers median and trimmed mean stay within 0.02 (robust.sh)
    awk -v b="$base" -v a="$acc" 'BEGIN { exit !(a >= b - 0.04) }' ||
        fail "$rule under sign flip: accuracy $acc vs clean FedAvg $base"
    echo "$rule: $acc"
done
echo "attackers $n_att fixed across seeds; threads identical; AUC $auc_clean -> $auc_flip under sign flip;" \
    "backdoor $before -> $after, $bounded with norm_bound $p90; quickstart $base, FedAvg $fedavg"
