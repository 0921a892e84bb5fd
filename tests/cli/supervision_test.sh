#!/usr/bin/env bash
# `dsarl run` when its workers fail, as a user meets it. A tiny job on a plugin category whose
# reset fails on request (tests/cli/failing_plugin.cc, FAILING_PLUGIN_FAULT):
#   - crash loop: every worker crashes in reset; the run stops within the failure window, exits
#     non-zero, and shows the worker's own last lines;
#   - every episode an infrastructure error: the run fails, naming the cause (a control run with
#     a working plugin, same settings, succeeds);
#   - SIGKILL of `dsarl run`: its workers are gone within a few seconds;
#   - each mechanism alone: a `dsarl rollout` whose lifeline pipe closes exits; one without a
#     lifeline dies with its SIGKILLed parent (parent-death signal); one whose parent is not the
#     pid it was given refuses to start.
# Usage: supervision_test.sh DSARL_BINARY FAILING_PLUGIN SOURCE_DIR
set -u
DSARL="$1"
PLUGIN="$2"
SRC="$3"
D="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$D"; }
trap cleanup EXIT
fail=0
# check NAME CONDITION-RESULT. Take the result into a variable first when NAME has a $(...): the
# substitution runs before $? is read and would report its own status.
check() {
  if [ "$2" -ne 0 ]; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi
}
die() { echo "FAIL: $*"; exit 1; }
# shellcheck source=tests/cli/require.sh
source "$(dirname "${BASH_SOURCE[0]}")/require.sh"
require timeout "timeout (coreutils)"
require pgrep "pgrep (apt-get install procps)"
ulimit -c 0  # the crashing workers leave no core files
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }
# Running and not a zombie (a zombie answers kill -0 until its new parent reaps it).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

CFG="$SRC/configs/quickstart.textproto"
SETS=(--set model.d_model=64 --set model.n_layers=2 --set model.intermediate_size=128
      --set model.max_position_embeddings=512 --set envs.categories=failing
      --set "envs.plugin_paths=$PLUGIN" --set envs.envs_per_category=1 --set envs.tasks_per_env=8
      --set envs.max_difficulty=0 --set envs.heldout_fraction=0 --set rollout.group_size=2
      --set rollout.max_new_tokens=4 --set rollout.max_batch=4 --set rollout.num_workers=1
      --set rollout.threads=1 --set learner.threads=1 --set learner.prompts_per_step=2
      --set learner.skip_uniform_groups=false --set learner.checkpoint_every=0
      --set sft.steps=0 --set eval.num_tasks=0)
# One store of the working plugin's tasks; each job below starts from a copy.
env -u FAILING_PLUGIN_FAULT "$DSARL" envs synthesize --out "$D/store" --plugin "$PLUGIN" \
  --categories failing --envs-per-category 1 --tasks-per-env 8 --max-level 0 --heldout 0 \
  >"$D/synth.log" 2>&1 || die "synthesize: $(tail -5 "$D/synth.log")"
job() {  # job NAME: a fresh output dir holding a copy of the store
  mkdir -p "$D/$1" && cp -r "$D/store" "$D/$1/store"
  echo --set "output_dir=$D/$1" --set "name=$1"
}

# 1. Crash loop. 3 failures within 60 s stop the run; without the supervisor it never ends.
t0=$(now)
FAILING_PLUGIN_FAULT=crash timeout 120 "$DSARL" run --config "$CFG" "${SETS[@]}" $(job crash) \
  --set rollout.max_worker_failures=3 --set rollout.worker_failure_window_s=60 \
  --set learner.total_steps=1000 >"$D/crash.out" 2>&1
rc=$?
took=$(since "$t0")
[ $rc -ne 0 ] && [ $rc -ne 124 ]; check "crash loop: dsarl run exits non-zero by itself (rc $rc)" $?
grep -q "worker-0 failed 3 times" "$D/crash.out"; check "crash loop: names the worker and its failures" $?
grep -q "signal 11" "$D/crash.out"; check "crash loop: says how the worker died" $?
grep -q "failing plugin: reset of seed .* crashes" "$D/crash.out"
check "crash loop: shows the worker's own last lines" $?
awk -v t="$took" 'BEGIN {exit !(t < 60)}'; check "crash loop: stopped within the window ($took s)" $?
[ $fail -eq 0 ] || tail -30 "$D/crash.out"
sed -n '/^dsarl run:/,$p' "$D/crash.out"  # the error as a user sees it
echo "crash loop: dsarl run stopped after 3 worker failures in $took s (rc $rc)"

# 2. Every episode an infrastructure error: 2 steps on 0 tokens, then a loud failure.
t0=$(now)
FAILING_PLUGIN_FAULT=error timeout 200 "$DSARL" run --config "$CFG" "${SETS[@]}" $(job zero) \
  --set learner.total_steps=2 >"$D/zero.out" 2>&1
rc=$?
took=$(since "$t0")
[ $rc -ne 0 ] && [ $rc -ne 124 ]; check "0 tokens: dsarl run exits non-zero (rc $rc, $took s)" $?
grep -q "trained 0 tokens in 2 steps" "$D/zero.out"; check "0 tokens: says it trained nothing" $?
grep -q "every one of the [0-9]* episodes was an infrastructure error" "$D/zero.out"
check "0 tokens: names the cause" $?
grep -q "reset fails on purpose" "$D/zero.out"; check "0 tokens: shows an example error" $?
[ $fail -eq 0 ] || tail -30 "$D/zero.out"
# The control: the same job with a working plugin trains tokens and succeeds, run from a copy of
# the binary that is deleted once it started (a rebuild or an upgrade during a run): its workers
# still start, from /proc/self/exe.
cp "$DSARL" "$D/dsarl-copy"
env -u FAILING_PLUGIN_FAULT timeout 200 "$D/dsarl-copy" run --config "$CFG" "${SETS[@]}" \
  $(job good) --set learner.total_steps=2 >"$D/good.out" 2>&1 &
good_pid=$!
sleep 0.3
rm -f "$D/dsarl-copy"
wait $good_pid
rc=$?
check "control: the same job with a working plugin exits 0 (rc $rc)" $rc
[ $rc -eq 0 ] || tail -30 "$D/good.out"

# 3. SIGKILL of dsarl run: its workers go with it (parent-death signal and lifeline).
env -u FAILING_PLUGIN_FAULT "$DSARL" run --config "$CFG" "${SETS[@]}" $(job orphan) \
  --set rollout.num_workers=2 --set learner.total_steps=100000 >"$D/orphan.out" 2>&1 &
RUN=$!
PIDS+=("$RUN")
disown "$RUN"  # no "Killed" notice from this shell
deadline=$((SECONDS + 120))
until [ "$(grep -l connecting "$D"/orphan/worker-*.log 2>/dev/null | wc -l)" -eq 2 ]; do
  [ $SECONDS -lt $deadline ] || die "the workers never started: $(tail -5 "$D/orphan.out")"
  alive "$RUN" || die "dsarl run exited: $(tail -5 "$D/orphan.out")"
  sleep 0.2
done
mapfile -t WORKERS < <(pgrep -P "$RUN")
PIDS+=("${WORKERS[@]}")
[ ${#WORKERS[@]} -eq 2 ]; check "orphan: dsarl run has 2 worker processes (${WORKERS[*]})" $?
kill -9 "$RUN"
t0=$(now)
deadline=$((SECONDS + 5))
left=("${WORKERS[@]}")
while [ ${#left[@]} -gt 0 ] && [ $SECONDS -lt $deadline ]; do
  still=()
  for w in "${left[@]}"; do alive "$w" && still+=("$w"); done
  left=("${still[@]+"${still[@]}"}")
  sleep 0.05
done
[ ${#left[@]} -eq 0 ]; rc=$?
check "orphan: workers gone within 5 s of kill -9 of dsarl run (took $(since "$t0") s)" $rc

# 4. The lifeline alone. The parent (this shell) stays alive, so the parent-death signal never
# fires; the pipe's writer (a sleep) ends after 2 s, and the worker must exit on EOF, well before
# its --give-up-after of 60 s.
exec 3< <(sleep 2)
DSARL_PARENT_PID=$$ DSARL_PARENT_FD=3 "$DSARL" rollout --config "$CFG" "${SETS[@]}" $(job pipe) \
  --learner 127.0.0.1:1 --give-up-after 60 >"$D/pipe.out" 2>&1 &
P=$!
PIDS+=("$P")
exec 3<&-
sleep 1
alive "$P"; check "lifeline: the worker runs while the pipe is open" $?
t0=$(now)
deadline=$((SECONDS + 10))
while alive "$P" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
! alive "$P"; rc=$?
check "lifeline: the worker exits on EOF, within 10 s (took $(since "$t0") s)" $rc
grep -q "is gone (its lifeline closed)" "$D/pipe.out"; check "lifeline: the worker says why" $?
# 5. The parent-death signal alone: a worker with no lifeline, whose parent shell is SIGKILLed.
PIDFILE="$D/pdeath.pid" bash -c 'DSARL_PARENT_PID=$$ "$@" & echo $! >"$PIDFILE"; wait' _ "$DSARL" rollout --config "$CFG" \
  "${SETS[@]}" --learner 127.0.0.1:1 --give-up-after 60 >"$D/pdeath.out" 2>&1 &
SH=$!
PIDS+=("$SH")
disown "$SH"
deadline=$((SECONDS + 60))
until grep -q connecting "$D/pdeath.out" 2>/dev/null; do  # past the prctl
  [ $SECONDS -lt $deadline ] || die "the worker never started: $(tail -5 "$D/pdeath.out")"
  sleep 0.1
done
W=$(cat "$D/pdeath.pid")
PIDS+=("$W")
kill -9 "$SH"
t0=$(now)
deadline=$((SECONDS + 5))
while alive "$W" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
! alive "$W"; rc=$?
check "parent-death signal: the worker dies within 5 s of its parent (took $(since "$t0") s)" $rc

# A worker whose parent is not the one named (it died before the worker set its signal) stops.
DSARL_PARENT_PID=999999 "$DSARL" rollout --config "$CFG" "${SETS[@]}" --learner 127.0.0.1:1 \
  --give-up-after 60 >"$D/ppid.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "(pid 999999) is gone" "$D/ppid.out"
check "lifeline: a worker whose parent is gone refuses to start (rc $rc)" $?
exit $fail
