#!/usr/bin/env bash
# Fault test of a cluster job on loopback: a learner and two rollout workers as processes. One
# worker is SIGKILLed mid-run: its leases come back and the run goes on. Then the learner is
# SIGKILLed and started again: it resumes from its checkpoint. At the end the store holds every
# trained group exactly once and every step trained exactly prompts_per_step groups.
# Usage: fault_test.sh DSARL_BINARY
set -u
DSARL="$1"
D="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$D"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$D"/learner*.log; exit 1; }
# shellcheck source=tests/cli/require.sh
source "$(dirname "${BASH_SOURCE[0]}")/require.sh"
require python3 "python3 (apt-get install python3)"

# The learner's port, held for the whole test: a socket bound with SO_REUSEPORT that never
# listens. The learner binds the same port (gRPC sets SO_REUSEPORT too) and takes every
# connection, and no other process can take the port, not even in the moment between the
# learner's SIGKILL and its restart, when workers must find it at the same address again.
python3 -c '
import signal, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
signal.pause()
' >"$D/port" &
PIDS+=("$!")
wait_for 30 "the port holder did not start" test -s "$D/port"
PORT=$(cat "$D/port")
STEPS=12
SETS=(--set "output_dir=$D/job" --set name=fault --set model.d_model=64 --set model.n_layers=2
      --set model.intermediate_size=128 --set model.max_position_embeddings=256
      --set envs.categories=arithmetic --set envs.envs_per_category=2 --set envs.tasks_per_env=16
      --set envs.max_difficulty=0 --set rollout.group_size=4 --set rollout.max_new_tokens=8
      --set rollout.max_batch=16 --set learner.prompts_per_step=4 --set learner.total_steps=$STEPS
      --set learner.checkpoint_every=3 --set learner.lease_timeout_s=3 --set learner.max_staleness=2
      --set learner.lr=1e-4 --set sft.steps=0 --set eval.num_tasks=0
      # Every drawn group is trained, so each step accounts for exactly prompts_per_step groups.
      --set learner.skip_uniform_groups=false)
CFG="$(dirname "$0")/../../configs/quickstart.textproto"

"$DSARL" envs synthesize --out "$D/job/store" --config "$CFG" "${SETS[@]}" >/dev/null 2>&1 \
  || "$DSARL" envs synthesize --out "$D/job/store" --categories arithmetic --envs-per-category 2 \
       --tasks-per-env 16 --max-level 0 >/dev/null || fail "synthesize"

# The job's secret stays with the learner; each worker gets its own token of it, in a file.
(umask 077; "$DSARL" token new >"$D/job.secret") || fail "token new"
for w in 0 1; do
  (umask 077; "$DSARL" token worker "w$w" --token-file "$D/job.secret" >"$D/w$w.token") \
    || fail "token worker"
done
start_learner() {
  "$DSARL" learner --config "$CFG" "${SETS[@]}" --listen "127.0.0.1:$PORT" \
    --token-file "$D/job.secret" >>"$D/learner.log" 2>&1 &
  LEARNER=$!
  PIDS+=("$LEARNER")
}
start_worker() {
  DSARL_TOKEN_FILE="$D/w$1.token" "$DSARL" rollout --config "$CFG" "${SETS[@]}" \
    --learner "127.0.0.1:$PORT" --give-up-after 20 >>"$D/worker$1.log" 2>&1 &
  PIDS+=("$!")
  eval "W$1=$!"
}
log_has() { grep -q "$1" "$D/learner.log" 2>/dev/null; }
wait_step() {  # wait_step N: until the learner log shows step N
  wait_for 300 "step $1 never came" log_has "step $1/$STEPS"
}

start_learner
wait_for 120 "the learner did not listen on $PORT" log_has "learner listening on $PORT"
start_worker 0
start_worker 1
wait_step 3
kill -9 "$W1"; echo "ok: worker 1 killed after step 3"
wait_step 5
kill -9 "$LEARNER"; wait "$LEARNER" 2>/dev/null; echo "ok: learner killed after step 5"
start_learner
wait_for 120 "no resume" log_has "resumed"
echo "ok: learner resumed"
start_worker 1
wait_for 300 "run did not finish" log_has "learner finished at step $STEPS"
echo "ok: run finished"
kill -9 "$LEARNER" 2>/dev/null
wait "$LEARNER" 2>/dev/null  # its store lock goes with it
"$DSARL" store export "$D/job/store" --cf groups --format jsonl --out "$D/groups.jsonl" >/dev/null \
  || fail "export"
python3 - "$D/groups.jsonl" "$STEPS" <<'PY' || exit 1
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = int(sys.argv[2])
keys = collections.Counter((int(r.get("prompt_id", 0)), int(r.get("attempt", 0))) for r in rows)
dup = [k for k, n in keys.items() if n > 1]
per_step = collections.Counter(int(r.get("step", 0)) for r in rows)
bad = {s: per_step[s] for s in range(1, steps + 1) if per_step[s] != 4}
print(f"groups stored: {len(rows)}; trained per step: {dict(sorted(per_step.items()))}")
# The learner names each group's worker by its token, not by anything the worker wrote.
workers = set(r.get("worker_id", "") for r in rows)
if not workers or not workers <= {"w0", "w1"}:
    print("FAIL: groups from workers", workers, "not named by their tokens w0, w1")
    sys.exit(1)
if dup or bad:
    print("FAIL: duplicate groups", dup, "steps without exactly 4 groups", bad)
    sys.exit(1)
print("ok: every group stored once; every step trained exactly 4 groups")
PY
echo "fault test passed"
