#!/usr/bin/env bash
# A dsarl RL job on one machine with several learner ranks, started the way torchrun starts
# ranks: each `dsarl learner` gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Then
# rollout workers, each with its own token. Waits for all of them and exits with the learner's
# status; Ctrl-C stops every rank and worker cleanly (the learner checkpoints, the same command
# resumes).
#
#   WORLD_SIZE=2 configs/slurm/torchrun_style.sh configs/quickstart.textproto --set sft.steps=0
#
# Settings (environment):
#   DSARL          the dsarl binary (default: dsarl on PATH, else build/cli/dsarl)
#   WORLD_SIZE     learner ranks (default 2)
#   DSARL_WORKERS  rollout workers (default: the config's rollout.num_workers)
#   MASTER_ADDR    rendezvous host (default 127.0.0.1); MASTER_PORT its port (default 29500)
#
# Each rank and each worker gets learner.threads / rollout.threads of this machine's CPUs split
# between them, unless the config (or a --set) names a count. Files: OUTPUT_DIR/local/: job.secret,
# worker-I.token, job.textproto (the effective config), learner-R.log, worker-I.log.
set -euo pipefail

die() { echo "torchrun_style.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: torchrun_style.sh CONFIG [--set field=value ...]"
CONFIG="$1"
shift
SETS=("$@")
if [ -z "${DSARL:-}" ]; then
  DSARL=$(command -v dsarl || echo build/cli/dsarl)
fi
[ -x "$DSARL" ] || die "no dsarl binary at '$DSARL' (set DSARL)"
FULL=$("$DSARL" config print "$CONFIG" "${SETS[@]}") || die "config print $CONFIG failed"
field() {  # field SECTION NAME: a field's value in the full config ('' for a top-level one)
  awk -v sec="$1" -v name="$2:" '
    sec == "" && $1 == name && /^[^ ]/ { v = $2; exit }
    sec != "" && $0 == sec " {" { in_sec = 1; next }
    in_sec && /^}/ { in_sec = 0 }
    in_sec && /^  [^ ]/ && $1 == name { v = $2; exit }
    END { gsub(/^"|"$/, "", v); print v }' <<<"$FULL"
}
export WORLD_SIZE="${WORLD_SIZE:-2}" MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
export MASTER_PORT="${MASTER_PORT:-29500}"
WORKERS="${DSARL_WORKERS:-$(field rollout num_workers)}"
OUT=$(field "" output_dir)
JOB="$OUT/local"
mkdir -p "$JOB"
chmod 700 "$JOB"
# The effective config (the file and the overrides) in one file that every command reads.
"$DSARL" config print "$CONFIG" "${SETS[@]}" --brief >"$JOB/job.textproto"
CONFIG="$JOB/job.textproto"
SETS=()

# Threads: the machine's CPUs split between the ranks and the workers.
share=$(($(nproc) / (WORLD_SIZE + WORKERS)))
share=$((share > 0 ? share : 1))
LEARNER_SETS=() WORKER_SETS=()
[ "$(field learner threads)" = 0 ] && LEARNER_SETS+=(--set "learner.threads=$share")
[ "$(field rollout threads)" = 0 ] && WORKER_SETS+=(--set "rollout.threads=$share")

# Environments and the SFT warm start, once per output directory (as `dsarl run` does).
if ! "$DSARL" store stats "$OUT/store" 2>/dev/null | grep -Eq 'records +[1-9][0-9]* envs'; then
  "$DSARL" envs synthesize --config "$CONFIG" --out "$OUT/store" --seed "$(field "" seed)" \
    || die "envs synthesize failed"
fi
if [ "$(field sft steps)" -gt 0 ] 2>/dev/null && [ -z "$(field model checkpoint)" ]; then
  if [ ! -e "$OUT/sft/model.safetensors" ]; then
    "$DSARL" sft --config "$CONFIG" "${LEARNER_SETS[@]}" --out "$OUT/sft" \
      || die "sft failed"
  fi
  SETS+=(--set "model.checkpoint=$OUT/sft")
fi
(
  umask 077
  "$DSARL" token new >"$JOB/job.secret"
  for ((i = 0; i < WORKERS; i++)); do
    "$DSARL" token worker "worker-$i" --token-file "$JOB/job.secret" >"$JOB/worker-$i.token"
  done
)

RANKS=() WORKER_PIDS=()
# shellcheck disable=SC2317  # called by the traps
stop_all() {  # SIGTERM: the learner checkpoints, workers return their leases
  kill -TERM "${RANKS[@]}" "${WORKER_PIDS[@]}" 2>/dev/null || true
}
trap 'stop_all; wait; exit 130' INT TERM
trap 'stop_all' EXIT
for ((r = 0; r < WORLD_SIZE; r++)); do
  RANK=$r LOCAL_RANK=$r "$DSARL" learner --config "$CONFIG" "${SETS[@]}" "${LEARNER_SETS[@]}" \
    --token-file "$JOB/job.secret" --listen 127.0.0.1:0 >"$JOB/learner-$r.log" 2>&1 &
  RANKS+=($!)
done
PORT=""
while :; do
  PORT=$(sed -n 's/^learner listening on \([0-9]*\)$/\1/p' "$JOB/learner-0.log" | tail -n 1) \
    || true
  [ -n "$PORT" ] && break
  kill -0 "${RANKS[0]}" 2>/dev/null || {
    tail -n 20 "$JOB/learner-0.log" >&2
    die "learner rank 0 exited before it listened (log: $JOB/learner-0.log)"
  }
  sleep 0.5
done
echo "torchrun_style.sh: $WORLD_SIZE learner ranks, rank 0 on 127.0.0.1:$PORT; $WORKERS workers;" \
  "logs in $JOB"
for ((i = 0; i < WORKERS; i++)); do
  DSARL_TOKEN_FILE="$JOB/worker-$i.token" "$DSARL" rollout --config "$CONFIG" "${SETS[@]}" \
    "${WORKER_SETS[@]}" --learner "127.0.0.1:$PORT" --give-up-after 300 \
    >"$JOB/worker-$i.log" 2>&1 &
  WORKER_PIDS+=($!)
done

# Rank 0's status is the job's; the other ranks exit with it.
status=0
wait "${RANKS[0]}" || status=$?
for p in "${RANKS[@]:1}"; do wait "$p" || status=$((status ? status : $?)); done
# Workers that heard "finished" have exited; the others are told by signal.
for ((t = 0; t < 10; t++)); do
  kill -0 "${WORKER_PIDS[@]}" 2>/dev/null || break
  sleep 1
done
kill -TERM "${WORKER_PIDS[@]}" 2>/dev/null || true
wait "${WORKER_PIDS[@]}" 2>/dev/null || true
trap - EXIT
tail -n 2 "$JOB/learner-0.log"
exit "$status"
