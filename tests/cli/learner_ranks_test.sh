#!/usr/bin/env bash
# Two learner ranks and a rollout worker as processes on loopback, launched torchrun-style
# (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). The job trains; rank 1 is SIGKILLed mid-run:
# rank 0 stops within cluster.collective_timeout_s, naming rank 1, and exits non-zero. Both ranks
# are started again: rank 0 resumes from its checkpoint, rank 1 takes its state, the job finishes,
# and the store holds every trained group once, each step exactly prompts_per_step of them.
# Usage: learner_ranks_test.sh DSARL_BINARY
set -u
DSARL="$1"
D="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$D"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$D"/rank*.log "$D"/worker.log; do echo "== $f"; tail -n 15 "$f"; done; exit 1; }
# shellcheck source=tests/cli/require.sh
source "$(dirname "${BASH_SOURCE[0]}")/require.sh"
require python3 "python3 (apt-get install python3)"

# The learner's port, held for the whole test (bound with SO_REUSEPORT, never listening), so that
# the restarted rank 0 finds it free at the same number for the worker; the rendezvous port is
# picked free (the ranks alone use it, and each start of rank 0 binds it anew).
python3 -c '
import signal, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", 0))
f = socket.socket()
f.bind(("127.0.0.1", 0))
print(s.getsockname()[1], f.getsockname()[1], flush=True)
f.close()
signal.pause()
' >"$D/ports" &
PIDS+=("$!")
wait_for 30 "the port holder did not start" test -s "$D/ports"
read -r PORT MASTER_PORT <"$D/ports"
STEPS=10
TIMEOUT=10
SETS=(--set "output_dir=$D/job" --set name=ranks --set model.d_model=64 --set model.n_layers=2
      --set model.intermediate_size=128 --set model.max_position_embeddings=256
      --set envs.categories=arithmetic --set envs.envs_per_category=2 --set envs.tasks_per_env=16
      --set envs.max_difficulty=0 --set rollout.group_size=4 --set rollout.max_new_tokens=8
      --set rollout.max_batch=16 --set learner.prompts_per_step=4 --set learner.total_steps=$STEPS
      --set learner.checkpoint_every=2 --set learner.lease_timeout_s=3 --set learner.max_staleness=2
      --set learner.lr=1e-4 --set sft.steps=0 --set eval.num_tasks=0 --set learner.threads=1
      --set cluster.learner_world_size=2 --set cluster.collective_timeout_s=$TIMEOUT
      --set learner.skip_uniform_groups=false)
CFG="$(dirname "$0")/../../configs/quickstart.textproto"
"$DSARL" envs synthesize --out "$D/job/store" --categories arithmetic --envs-per-category 2 \
  --tasks-per-env 16 --max-level 0 >/dev/null || fail "synthesize"
(umask 077; "$DSARL" token new >"$D/job.secret") || fail "token new"
(umask 077; "$DSARL" token worker w0 --token-file "$D/job.secret" >"$D/w0.token") \
  || fail "token worker"

start_rank() {  # start_rank R
  RANK=$1 LOCAL_RANK=$1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$MASTER_PORT \
    "$DSARL" learner --config "$CFG" "${SETS[@]}" --listen "127.0.0.1:$PORT" \
    --token-file "$D/job.secret" >>"$D/rank$1.log" 2>&1 &
  PIDS+=("$!")
  eval "R$1=$!"
}
log_has() { grep -q "$2" "$D/rank$1.log" 2>/dev/null; }
exited() { ! kill -0 "$1" 2>/dev/null; }

start_rank 0
start_rank 1
wait_for 120 "rank 0 did not listen" log_has 0 "learner listening on $PORT"
start_worker() {
  DSARL_TOKEN_FILE="$D/w0.token" "$DSARL" rollout --config "$CFG" "${SETS[@]}" \
    --learner "127.0.0.1:$PORT" --give-up-after 60 >>"$D/worker.log" 2>&1 &
  PIDS+=("$!")
  W=$!
}
start_worker
wait_for 300 "step 3 never came" log_has 0 "step 3/$STEPS"
kill -9 "$R1"
T0=$SECONDS
echo "ok: rank 1 killed after step 3"
wait_for $((TIMEOUT + 20)) "rank 0 did not stop after rank 1 died" exited "$R0"
wait "$R0"
RC=$?
echo "ok: rank 0 stopped $((SECONDS - T0)) s after rank 1 died, exit $RC"
[ "$RC" -ne 0 ] || fail "rank 0 exited 0 although rank 1 died"
grep -q "rank 1 (host" "$D/rank0.log" || fail "rank 0's error does not name rank 1"
grep "rank 1 (host" "$D/rank0.log" | tail -1
# The job is run again as a whole, as a scheduler reruns it: both ranks and the worker (which
# stopped when rank 0's service went away mid-call).
kill -9 "$W" 2>/dev/null
wait "$W" 2>/dev/null
start_rank 0
start_rank 1
start_worker
wait_for 120 "no resume" log_has 0 "resumed"
echo "ok: rank 0 resumed"
wait_for 120 "run did not finish" log_has 0 "learner finished at step $STEPS"
wait_for 60 "rank 1 did not finish" log_has 1 "learner rank 1 finished"
wait "$R0" || fail "rank 0 exited non-zero at the end"
wait "$R1" || fail "rank 1 exited non-zero at the end"
echo "ok: both ranks finished"
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
if dup or bad:
    print("FAIL: duplicate groups", dup, "steps without exactly 4 groups", bad)
    sys.exit(1)
print("ok: every group stored once; every step trained exactly 4 groups")
PY
echo "learner ranks test passed"
