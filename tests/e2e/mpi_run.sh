#!/bin/bash
# mpi_run.sh FEDSIM DBDUMP SMALL PRIVATE ASYNC: one run across 2 and 3 MPI ranks (3: more than
# CI's 2 cores, not a power of two) gives the database of the one-process run, byte for byte in
# fedsim-dbdump, for dense FedAvg (SMALL), SCAFFOLD (SMALL) and sparse logistic regression with
# DP, secure aggregation and top-k (PRIVATE); another seed differs; every rank trains a share of
# the clients; a run checkpointed and stopped on 3 ranks (one rank signalled) resumes on 2 to the
# uninterrupted database; runs.ranks says 3; FedBuff on 2 ranks is refused; ranks of different thread counts
# give the one-process database too, as do MF, quantisation with error feedback, FedNova, Krum,
# attackers, on-demand data, q-FFL, Adam, ipw, rejected updates and ctr_charging's batteries and
# shared link on 2 ranks, and every kind of evaluation row (predictions split across ranks) on
# 2 and 3; runs stopped on 1 and on 2 ranks resume on 2 and on 1; ranks that
# loaded another scenario or other data are refused; a rank mpirun bound to one core of a larger
# machine says so, and unbound ranks share the machine's CPUs out.
source "$(dirname "$0")/lib.sh"
F=$1 D=$2 SMALL=$3 PRIVATE=$4 ASYNC=$5
if ! "$F" --version | grep -q 'MPI: [^n]' || ! command -v mpirun >/dev/null; then
    echo "SKIP: MPI not built (fedsim --version: $("$F" --version))"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_leak_env
mpi() { mpirun --oversubscribe --allow-run-as-root -n "$@"; }
same() { cmp -s <("$D" "$1") <("$D" "$2") || { diff <("$D" "$1") <("$D" "$2") | head; fail "$3"; }; }
check() { # NAME SCENARIO [--set ...]: one process, then 2 and 3 ranks
    local name=$1 scn=$2; shift 2
    "$F" run "$scn" -o "$WORK/$name-1.sqlite" --quiet --threads 1 "$@" >/dev/null
    for n in 2 3; do
        mpi $n "$F" run "$scn" -o "$WORK/$name-$n.sqlite" --threads 1 "$@" >"$WORK/out$n" 2>"$WORK/err" ||
            { cat "$WORK/err"; fail "$name on $n ranks failed"; }
        same "$WORK/$name-1.sqlite" "$WORK/$name-$n.sqlite" "$name: $n ranks differ from one process"
    done
}
# ranks with different thread counts, rounds too large for one wave of deferred training: every
# rank must train the same waves (a hang, once, when each sized them by its own threads)
W=(--set server.clients_per_round=200 --set server.over_selection=1.5)
"$F" run "$PRIVATE" -o "$WORK/waves-1.sqlite" --quiet --threads 1 "${W[@]}" >/dev/null
timeout 120 mpirun --oversubscribe --allow-run-as-root \
    -n 1 "$F" run "$PRIVATE" -o "$WORK/waves-2.sqlite" --quiet --threads 1 "${W[@]}" : \
    -n 1 "$F" run "$PRIVATE" -o "$WORK/waves-2.sqlite" --quiet --threads 3 "${W[@]}" \
    >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "ranks of 1 and 3 threads failed or hung"; }
same "$WORK/waves-1.sqlite" "$WORK/waves-2.sqlite" "ranks of 1 and 3 threads differ from one process"
# a rank that loaded another scenario or other data is refused before anything is written
refused() { # WHAT: the run just tried exited 2 naming rank 1's WHAT, and wrote no file
    [ "$rc" = 2 ] || { cat "$WORK/err" >&2; fail "ranks with different $1: exit $rc, expected 2"; }
    grep -q "rank 1's $1 differs from rank 0's" "$WORK/err" || { cat "$WORK/err"; fail "no message"; }
    [ ! -e "$WORK/refused.sqlite" ] || fail "ranks with different $1: a database was written"
}
rc=0
mpirun --oversubscribe --allow-run-as-root -n 1 "$F" run "$SMALL" -o "$WORK/refused.sqlite" : \
    -n 1 "$F" run "$SMALL" -o "$WORK/refused.sqlite" --set seed=9 >/dev/null 2>"$WORK/err" || rc=$?
refused "effective scenario"
CSV=$(cd "$(dirname "$0")/../fixtures" && pwd)/breast_cancer.csv
mkdir -p "$WORK/a" "$WORK/b"
head -300 "$CSV" >"$WORK/a/x.csv"
{ head -1 "$CSV"; sed -n '302,600p' "$CSV"; } >"$WORK/b/x.csv"
for d in a b; do # the same file, relative paths: only the data differ
    printf '{"name": "t", "data": {"source": "csv", "clients": 10, "csv": {"path": "x.csv",
      "label": "diagnosis"}}, "server": {"rounds": 1, "clients_per_round": 1}}\n' >"$WORK/$d/s.json"
done
rc=0 FA=$(realpath "$F") # the ranks start in their own folders
mpirun --oversubscribe --allow-run-as-root -n 1 -wdir "$WORK/a" "$FA" run s.json \
    -o "$WORK/refused.sqlite" : -n 1 -wdir "$WORK/b" "$FA" run s.json -o "$WORK/refused.sqlite" \
    >/dev/null 2>"$WORK/err" || rc=$?
refused data
# features whose state or inputs cross ranks, on 2 ranks: MF personal factors, quantisation's
# error-feedback residuals, FedNova's partial work, Krum, attackers, on-demand data
two() { # NAME SCENARIO [--set ...]: one process, then 2 ranks
    local name=$1 scn=$2; shift 2
    "$F" run "$scn" -o "$WORK/$name-1.sqlite" --quiet --threads 1 "$@" >/dev/null
    mpi 2 "$F" run "$scn" -o "$WORK/$name-2.sqlite" --threads 1 "$@" >/dev/null 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "$name on 2 ranks failed"; }
    same "$WORK/$name-1.sqlite" "$WORK/$name-2.sqlite" "$name: 2 ranks differ from one process"
}
GOLDEN=$(dirname "$SMALL")
two recsys "$GOLDEN/recsys_small.json"
two quantize_ef "$SMALL" --set 'train.compression={"quantize":{"bits":4,"error_feedback":true}}'
two fednova "$SMALL" --set server.algorithm=fednova --set server.deadline_s=5
two krum "$SMALL" --set 'server.robust={"krum":{"f":1}}'
two attackers "$SMALL" --set 'adversary={"share":0.2,"attack":{"sign_flip":{}}}'
two on_demand "$GOLDEN/ctr_small.json" --set data.on_demand=true
two qffl "$SMALL" --set server.algorithm=qffl
two adam "$SMALL" --set 'server.optimizer={"adam":{}}'
two ipw "$GOLDEN/ctr_small.json" --set server.aggregation_weights=ipw
# updates rejected as exploding (an attacker's boost): every rank must reject the same ones
two rejected "$SMALL" --set 'adversary={"share":0.2,"attack":{"scale":{"boost":1e9}}}'
[ "$(sqlite3 "$WORK/rejected-2.sqlite" "select sum(rejected) > 0 from rounds")" = 1 ] ||
    fail "the boosted attackers' updates were not rejected: the case tests nothing"
# charging, Wi-Fi and battery eligibility, batteries drained by energy, a shared server link
two charging "$(dirname "$0")/../../scenarios/ctr_charging.json" --set data.clients=3000 \
    --set server.rounds=6 --set server.clients_per_round=50
check fedavg "$SMALL"
# the evaluation's predictions are split across the ranks and gathered on rank 0: test rows,
# training rows (train_metrics), a triggered backdoor's own rows, per segment and worst clients
check evaluation "$(dirname "$0")/adversary_small.json" --set eval.train_metrics=true \
    --set 'adversary={"share":0.1,"attack":{"scale":{"boost":5,"backdoor":{"feature":0,"value":0}}}}'
[ "$(sqlite3 "$WORK/evaluation-3.sqlite" "select count(distinct segment) from evals
    where segment in ('train', 'backdoor', 'worst10_clients', 'segment=online')")" = 4 ] ||
    fail "the evaluation case lacks the rows it is there to check"
check scaffold "$SMALL" --set server.algorithm=scaffold
check private "$PRIVATE"
# the last runs: on 2 and on 3 ranks each rank trained some clients, and together as many
shares() { sed -n "s/^  MPI ranks       $1; clients trained on each: //p" "$WORK/out$1"; }
read -r a b <<<"$(shares 2)"
read -r c d e <<<"$(shares 3)"
[ "${a:-0}" -gt 0 ] && [ "${b:-0}" -gt 0 ] || { cat "$WORK/out2"; fail "2 ranks: a rank trained nothing"; }
[ "${c:-0}" -gt 0 ] && [ "${d:-0}" -gt 0 ] && [ "${e:-0}" -gt 0 ] || { cat "$WORK/out3"; fail "3 ranks: a rank trained nothing"; }
[ $((a + b)) = $((c + d + e)) ] || fail "2 ranks trained $((a + b)) clients, 3 ranks $((c + d + e))"
[ "$(sqlite3 "$WORK/private-3.sqlite" "select ranks from runs")" = 3 ] || fail "runs.ranks is not 3"
mpi 3 "$F" run "$SMALL" -o "$WORK/seed.sqlite" --threads 1 --set seed=8 >/dev/null 2>&1
cmp -s <("$D" "$WORK/fedavg-1.sqlite") <("$D" "$WORK/seed.sqlite") && fail "another seed gave the same database"
# checkpointed on FROM ranks, stopped, resumed on TO (1: one process, no mpirun)
R=(--set server.rounds=300 --set output.checkpoint_every=2 --set server.algorithm=scaffold
   --set output.checkpoint_min_interval_s=0) # one process too: a checkpoint to stop after
"$F" run "$SMALL" -o "$WORK/whole.sqlite" --quiet --threads 1 "${R[@]}" >/dev/null
on() { # N fedsim-args...: on N ranks, or in one process
    local n=$1; shift
    if [ "$n" = 1 ]; then "$F" "$@"; else mpi "$n" "$F" "$@"; fi
}
cut_and_resume() { # FROM TO
    local db=$WORK/cut-$1-$2.sqlite
    on "$1" run "$SMALL" -o "$db" --threads 1 "${R[@]}" >/dev/null 2>"$WORK/err" &
    local job=$!
    for _ in $(seq 600); do
        [ "$(sqlite3 "$db" "select count(*) from checkpoints" 2>/dev/null || echo 0)" -ge 1 ] && break
        sleep 0.02
    done
    # SIGTERM to one rank itself (mpirun of a script's background job ignores SIGINT, and its
    # own SIGTERM kills the ranks before they can end their round): the ranks agree to stop
    # together, at the same round (each stopping on its own flag once left the others in its
    # broadcasts)
    local pids=($(pgrep -f "^$F run $SMALL -o $db"))
    kill -TERM "${pids[-1]}"
    wait $job || true
    [ "$(sqlite3 "$db" "select status from runs")" = interrupted ] ||
        { cat "$WORK/err"; fail "the run on $1 ranks was not interrupted (too fast?)"; }
    on "$2" run "$SMALL" -o "$db" --threads 1 --resume "${R[@]}" >"$WORK/out" 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "resume on $2 ranks failed"; }
    grep -q "resumed         run 1 continued after round" "$WORK/out" || fail "$1 -> $2: no resume"
    same "$WORK/whole.sqlite" "$db" "stopped on $1 ranks, resumed on $2: differs from uninterrupted"
}
cut_and_resume 3 2
cut_and_resume 1 2
cut_and_resume 2 1
# mpirun binds a rank to one core by default: where the machine has more, rank 0 says so, and
# how to give it its share
if [ "$(nproc)" -ge 2 ]; then
    mpirun --allow-run-as-root -n 1 "$F" run "$SMALL" -o "$WORK/bound.sqlite" --quiet \
        >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "a run on 1 bound rank failed"; }
    grep -q "fedsim: note: MPI rank 0 may run on 1 of this machine's $(nproc) CPUs.*--bind-to none" \
        "$WORK/err" || { cat "$WORK/err"; fail "no note for a rank bound to one core"; }
    mpirun --allow-run-as-root --bind-to none -n 1 "$F" run "$SMALL" -o "$WORK/unbound.sqlite" \
        --quiet >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "an unbound rank failed"; }
    ! grep -q "CPUs" "$WORK/err" || { cat "$WORK/err"; fail "a note for an unbound rank"; }
    # unbound ranks of one machine share its CPUs out instead of each taking them all
    mpirun --allow-run-as-root --bind-to none -n 2 "$F" run "$SMALL" -o "$WORK/shared.sqlite" \
        --quiet >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "2 unbound ranks failed"; }
    [ "$(sqlite3 "$WORK/shared.sqlite" "select threads from runs")" = $(($(nproc) / 2)) ] ||
        fail "2 unbound ranks did not take half the CPUs each"
    # and each asked for all of them is told they share
    mpirun --allow-run-as-root --bind-to none -n 2 "$F" run "$SMALL" -o "$WORK/over.sqlite" \
        --quiet --threads "$(nproc)" >/dev/null 2>"$WORK/err" || fail "2 ranks, all threads"
    grep -q "fedsim: warning: --threads $(nproc), but .* CPUs shared by 2 ranks" "$WORK/err" ||
        { cat "$WORK/err"; fail "no warning for 2 ranks taking every CPU each"; }
fi
set +e
mpi 2 "$F" run "$ASYNC" -o "$WORK/async.sqlite" --quiet >/dev/null 2>"$WORK/err"
code=$?
set -e
[ $code -ne 0 ] && grep -q 'server.mode: expected "sync" on 2 MPI ranks, found "async"' "$WORK/err" ||
    { cat "$WORK/err"; fail "async on 2 ranks not refused"; }
echo "mpi run: FedAvg, SCAFFOLD, sparse DP+secagg identical on 1, 2, 3 ranks; shares; resume 3 -> 2, 1 -> 2, 2 -> 1; async refused"
