#!/usr/bin/env bash
# configs/slurm/dsarl.sbatch against a real Slurm on this machine: a private munged, slurmctld
# and three slurmd, each its own node of this one host (under the backfill scheduler the
# components of a heterogeneous job cannot share a node: the pending one reserves it whole), in
# two partitions, learn (two nodes) and roll (one). Ports, key, socket and state are this test's
# own, in a temporary directory: nothing system-wide is read or touched.
# `sbatch --wait` runs a tiny job twice:
#   1. one learner rank on a learn node at 127.0.0.1 (tokens only), one worker on the roll node;
#   2. the same job submitted again with more steps: two learner ranks on the two learn nodes at
#      the nodes' address, this machine's first non-loopback IPv4 address when it has one (then
#      as on a cluster: TLS and tokens, the ranks' rendezvous beyond loopback); it resumes from
#      the checkpoint of the first and synthesizes nothing.
# Each must exit 0 with the learner at its last step and the worker's groups submitted. Every
# process started is stopped on every exit.
# Usage: slurm_test.sh DSARL_BINARY SOURCE_DIR
set -u
DSARL="$(realpath "$1")"
SRC="$(realpath "$2")"
# shellcheck source=tests/cli/require.sh
source "$(dirname "${BASH_SOURCE[0]}")/require.sh"
for tool in slurmctld slurmd munged sbatch sinfo squeue scancel scontrol setpriv python3; do
  require "$tool" "$tool (bash scripts/setup.sh installs slurmctld, slurmd, slurm-client, munge)"
done
if [ "$(id -u)" -ne 0 ]; then
  case "${CI:-}" in
    true | 1) echo "FAIL: the Slurm test starts slurmd and must run as root (CI=true)"; exit 1 ;;
  esac
  echo "SKIP: the Slurm test starts slurmd and must run as root"; exit 77
fi
id munge >/dev/null 2>&1 || { echo "FAIL: no munge user (the munge package makes it)"; exit 1; }

# A short path: the munge socket's path must fit in a sockaddr_un.
D="$(mktemp -d /tmp/dsarl-slurm.XXXXXX)"
chmod 711 "$D"  # munged, running as munge, reaches its directories below
export SLURM_CONF="$D/slurm.conf"
PIDS=()
# Stops what this test started: the jobs, then the daemons, then any process still carrying this
# test's SLURM_CONF (a step's slurmstepd or task outlives a killed slurmd).
cleanup() {
  local ctld="${PIDS[1]:-}" deadline=$((SECONDS + 20)) e p
  if [ -n "$ctld" ] && kill -0 "$ctld" 2>/dev/null; then
    scancel --quiet --user="$(id -un)" 2>/dev/null
    while [ "$SECONDS" -lt "$deadline" ] && [ -n "$(squeue -h 2>/dev/null)" ]; do sleep 0.2; done
  fi
  # Slurm's daemons, then munged (PIDS[0]), which they talk to while they stop.
  for p in "${PIDS[@]:1}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  kill "${PIDS[0]:-}" 2>/dev/null
  sleep 0.2
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for e in /proc/[0-9]*/environ; do
    e=${e#/proc/}
    e=${e%/environ}
    [ "$e" = "$$" ] && continue
    grep -qzx "SLURM_CONF=$SLURM_CONF" "/proc/$e/environ" 2>/dev/null && kill -9 "$e" 2>/dev/null
  done
  rm -rf "$D"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$D"/munge-run/munged.* "$D"/slurm/*.log "$D"/job-*.out "$D"/job/run/slurm-*/*.log; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }
  done
  exit 1
}

# munged with a fresh key, as the munge user, on a private socket.
mkdir -m 700 "$D/munge"      # key and seed
mkdir -m 755 "$D/munge-run"  # socket, pid and log: munged wants its socket's directory searchable
chown munge:munge "$D/munge" "$D/munge-run"
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none || fail "munge key"
chown munge:munge "$D/munge/munge.key"
chmod 0400 "$D/munge/munge.key"
MUNGE_SOCKET="$D/munge-run/munge.sock"
setpriv --reuid=munge --regid=munge --init-groups munged --foreground \
  --key-file="$D/munge/munge.key" --socket="$MUNGE_SOCKET" --pid-file="$D/munge-run/munged.pid" \
  --log-file="$D/munge-run/munged.log" --seed-file="$D/munge/munged.seed" \
  >"$D/munge-run/munged.out" 2>&1 &
PIDS+=("$!")
wait_for 20 "munged did not start" test -S "$MUNGE_SOCKET"

# Five free ports: slurmctld's, one per slurmd, and the learner ranks' rendezvous.
read -r CTLD_PORT PORT_L0 PORT_L1 PORT_R0 MASTER_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("", 0))
print(*(s.getsockname()[1] for s in ss))')
ADDR=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' \
  | head -n 1)
ADDR="${ADDR:-127.0.0.1}"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
NODES=(dsarl-l0 dsarl-l1 dsarl-r0)
mkdir -p "$D/slurm/state" "$D/job"
for n in "${NODES[@]}"; do mkdir -p "$D/slurm/spool-$n"; done
node() {  # node NAME PORT: a slurm.conf node of this host
  echo "NodeName=$1 NodeHostname=$HOST NodeAddr=$ADDR Port=$2 CPUs=$CPUS RealMemory=$MEM_MB"
}
cat >"$SLURM_CONF" <<EOF
ClusterName=dsarltest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$D/slurm/state
SlurmdSpoolDir=$D/slurm/spool-%n
SlurmctldPidFile=$D/slurm/slurmctld.pid
SlurmdPidFile=$D/slurm/slurmd-%n.pid
SlurmctldLogFile=$D/slurm/slurmctld.log
SlurmdLogFile=$D/slurm/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
KillWait=5
$(node dsarl-l0 "$PORT_L0")
$(node dsarl-l1 "$PORT_L1")
$(node dsarl-r0 "$PORT_R0")
PartitionName=learn Nodes=dsarl-l0,dsarl-l1 Default=YES DefaultTime=10 MaxTime=20 State=UP
PartitionName=roll Nodes=dsarl-r0 DefaultTime=10 MaxTime=20 State=UP
EOF
slurmctld -D -i >"$D/slurm/slurmctld.out" 2>&1 &
PIDS+=("$!")
for n in "${NODES[@]}"; do
  slurmd -D -N "$n" >"$D/slurm/slurmd-$n.out" 2>&1 &
  PIDS+=("$!")
done
idle() { [ "$(sinfo -h -N -t idle -o %N 2>/dev/null | sort -u | wc -l)" -eq 3 ]; }
wait_for 60 "the three nodes did not come up idle" idle
echo "ok: slurmctld and three slurmd up ($HOST, nodes at $ADDR)"

# The tiny job: a small model and one worker.
SETS="output_dir=$D/job/run name=slurm model.d_model=64 model.n_layers=2"
SETS+=" model.intermediate_size=128 model.max_position_embeddings=256"
SETS+=" envs.categories=arithmetic envs.envs_per_category=2 envs.tasks_per_env=16"
SETS+=" envs.max_difficulty=0 rollout.group_size=4 rollout.max_new_tokens=8 rollout.max_batch=16"
SETS+=" learner.prompts_per_step=4 learner.checkpoint_every=3 learner.skip_uniform_groups=false"
SETS+=" sft.steps=0 eval.num_tasks=0"
# submit STEPS RANKS [VAR=VALUE...]: runs the job to learner.total_steps STEPS with RANKS learner
# ranks, one per learn node, and one worker, by `sbatch --wait` (VAR=VALUE: more settings in its
# environment); sets JOB to its OUTPUT_DIR/slurm-JOBID and OUT to its output. Only the
# learner's status is the job's: a worker whose call the exiting learner cuts off (CANCELLED)
# exits with an error rather than hearing "finished".
submit() {
  local steps="$1" ranks="$2" t0=$SECONDS id
  shift 2
  OUT="$D/job-$steps.out"
  id=$(cd "$D/job" && env "$@" DSARL="$DSARL" DSARL_CONFIG="$SRC/configs/quickstart.textproto" \
    DSARL_SET="$SETS learner.total_steps=$steps" MASTER_PORT="$MASTER_PORT" DSARL_WORKER_GRACE=5 \
    timeout 240 sbatch --wait --parsable --output="$OUT" \
    --partition=learn --nodes="$ranks" --ntasks-per-node=1 --cpus-per-task=1 \
    : --partition=roll --ntasks=1 --cpus-per-task=1 \
    "$SRC/configs/slurm/dsarl.sbatch") || fail "sbatch --wait exited $? (job $id, output $OUT)"
  JOB="$D/job/run/slurm-${id%%;*}"
  grep -q "learner finished at step $steps" "$JOB/learner-0.log" \
    || fail "job $id: the learner did not finish step $steps"
  grep -q "learner: $ranks rank(s) on dsarl-l.*workers: 1 on dsarl-r0" "$OUT" \
    || fail "job $id: the learner and the worker did not run on their components' nodes"
  grep -Eq 'rollout worker-0: [1-9][0-9]* groups submitted' "$JOB/worker-0.log" \
    || fail "job $id: worker-0 submitted no groups under its token"
  echo "ok: job $id finished step $steps in $((SECONDS - t0)) s with $ranks learner rank(s);" \
    "worker-0 submitted groups"
}

submit 3 1 DSARL_LEARNER_ADDR=127.0.0.1
[ -e "$JOB/certs" ] && fail "a loopback learner got TLS certificates"
# Resubmitted with more steps: the worker is needed again (the groups stored ahead last time are
# too few), and the ranks meet at the first learn node's address.
submit 8 2
grep -q "synthesizing" "$OUT" && fail "the resubmitted job synthesized its environments again"
grep -q "resumed" "$JOB/learner-0.log" || fail "the resubmitted job did not resume"
grep -q "learner rank 1 finished" "$JOB/learner-1.log" || fail "learner rank 1 did not finish"
case "$ADDR" in
  127.*) ;;
  *) [ -s "$JOB/certs/server.pem" ] || fail "a learner beyond loopback got no TLS certificate" ;;
esac
echo "slurm test passed"
