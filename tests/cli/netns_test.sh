#!/usr/bin/env bash
# Several hosts on one machine: two learner ranks and a rollout worker, each in its own network
# namespace with nothing but loopback and one veth link to a bridge (10.77.N.0/24), so they talk
# only over those links, as on a cluster: the ranks rendezvous and all-reduce across them, the
# worker leases and submits across them, authenticated with the job's tokens. Needs root.
# Usage: netns_test.sh DSARL_BINARY
set -u
DSARL="$1"
D="$(mktemp -d)"
TAG="d$$"
NS=("${TAG}r0" "${TAG}r1" "${TAG}w" "${TAG}sw")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$D"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$D"/*.log; do echo "== $f"; tail -n 15 "$f"; done; exit 1; }
skip() {
  case "${CI:-}" in
    true | 1) echo "FAIL: missing prerequisite (CI=true makes this a failure): $1"; exit 1 ;;
  esac
  echo "SKIP: $1"; exit 77
}
# shellcheck source=tests/cli/require.sh
source "$(dirname "${BASH_SOURCE[0]}")/require.sh"
require ip "iproute2 (apt-get install iproute2)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"

# The "switch": a namespace holding a bridge; each host is a namespace with one veth into it.
SUBNET="10.77.$(( $$ % 200 + 20 ))"
ip netns add "${TAG}sw" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN?)"
ip -n "${TAG}sw" link add br0 type bridge || fail "bridge"
ip -n "${TAG}sw" link set br0 up
i=1
for h in r0 r1 w; do
  ip netns add "${TAG}$h" || fail "netns $h"
  ip link add "${TAG}$h" type veth peer name "${TAG}${h}p" || fail "veth $h"
  ip link set "${TAG}$h" netns "${TAG}$h"
  ip link set "${TAG}${h}p" netns "${TAG}sw"
  ip -n "${TAG}sw" link set "${TAG}${h}p" master br0 up
  ip -n "${TAG}$h" addr add "$SUBNET.$i/24" dev "${TAG}$h"
  ip -n "${TAG}$h" link set "${TAG}$h" up
  ip -n "${TAG}$h" link set lo up
  i=$((i + 1))
done
R0="$SUBNET.1"
echo "ok: three hosts on $SUBNET.0/24"

CFG="$(dirname "$0")/../../configs/quickstart.textproto"
CFG="$(cd "$(dirname "$CFG")" && pwd)/$(basename "$CFG")"
STEPS=4
SETS=(--set "output_dir=$D/job" --set name=netns --set model.d_model=64 --set model.n_layers=2
      --set model.intermediate_size=128 --set model.max_position_embeddings=256
      --set envs.categories=arithmetic --set envs.envs_per_category=2 --set envs.tasks_per_env=16
      --set envs.max_difficulty=0 --set rollout.group_size=4 --set rollout.max_new_tokens=8
      --set rollout.max_batch=16 --set learner.prompts_per_step=4 --set learner.total_steps=$STEPS
      --set learner.checkpoint_every=2 --set learner.max_staleness=2 --set learner.threads=1
      --set sft.steps=0 --set eval.num_tasks=0 --set cluster.learner_world_size=2
      --set cluster.collective_timeout_s=30 --set learner.skip_uniform_groups=false)
"$DSARL" envs synthesize --out "$D/job/store" --categories arithmetic --envs-per-category 2 \
  --tasks-per-env 16 --max-level 0 >/dev/null || fail "synthesize"
(umask 077; "$DSARL" token new >"$D/job.secret") || fail "token new"
(umask 077; "$DSARL" token worker w0 --token-file "$D/job.secret" >"$D/w0.token") || fail "token"
for r in 0 1; do
  # No TLS between the hosts of this test: the token authenticates every call (--insecure only
  # lifts the TLS requirement).
  ip netns exec "${TAG}r$r" env RANK=$r LOCAL_RANK=0 WORLD_SIZE=2 MASTER_ADDR="$R0" \
    MASTER_PORT=29500 "$DSARL" learner --config "$CFG" "${SETS[@]}" --listen "$R0:50051" \
    --token-file "$D/job.secret" --insecure >>"$D/rank$r.log" 2>&1 &
  PIDS+=("$!")
done
wait_for 120 "rank 0 did not listen" grep -q "learner listening on 50051" "$D/rank0.log"
ip netns exec "${TAG}w" env DSARL_TOKEN_FILE="$D/w0.token" "$DSARL" rollout --config "$CFG" \
  "${SETS[@]}" --learner "$R0:50051" --give-up-after 60 >>"$D/worker.log" 2>&1 &
PIDS+=("$!")
wait_for 300 "the job did not finish" grep -q "learner finished at step $STEPS" "$D/rank0.log"
wait_for 60 "rank 1 did not finish" grep -q "learner rank 1 finished" "$D/rank1.log"
grep -q "gloo, 2 ranks" "$D/rank1.log" || fail "rank 1 did not use Gloo over 2 ranks"
wait_for 60 "the worker did not finish" grep -q "groups submitted" "$D/worker.log"
grep -q "rollout w0: 0 groups" "$D/worker.log" && fail "the worker submitted nothing"
grep -h "gloo, 2 ranks" "$D/rank1.log" | tail -1
grep -h "groups submitted" "$D/worker.log" | tail -1
echo "ok: $STEPS steps over two ranks on two hosts, fed by a worker on a third"
echo "netns test passed"
