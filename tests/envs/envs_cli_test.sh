#!/usr/bin/env bash
# `dsarl envs ...` as a user runs them: list; synthesize the full set (counts, time) and a smaller
# one twice (same digest, same records); list/show a store; play tasks with `try` by typing the
# reference solution, a malformed turn and a wrong answer; a plugin category; `try`'s exit codes
# with a plugin that fails (throws, answers too much, calls exit(0)); a checkpoint of NaN weights
# refused by the pass@k filter and by `model score`.
# Usage: envs_cli_test.sh DSARL_BINARY WORD_SUM_PLUGIN FAULTY_PLUGIN
set -u
DSARL="$1"
PLUGIN="$2"
FAULTY="$3"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
fail=0
check() {  # check NAME CONDITION-RESULT
  if [ "$2" -ne 0 ]; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi
}

"$DSARL" envs list >"$TMP/list.txt"; check "envs list" $?
grep -q "^arithmetic .*reasoning" "$TMP/list.txt" && grep -q "^code_interpreter .*code" "$TMP/list.txt"
check "envs list shows the categories" $?
"$DSARL" envs list --plugin "$PLUGIN" | grep -q "^word_sum .*plugin:"; check "envs list --plugin" $?

# The full set, timed. The budget is on CPU time (user + system, all threads), which a busy
# machine does not stretch the way it stretches wall time; wall time is printed beside it.
TIMEFORMAT='%R %U %S'
{ time "$DSARL" envs synthesize --out "$TMP/full" >"$TMP/full.txt" 2>"$TMP/full.err"; } \
  2>"$TMP/time.txt"
rc=$?
check "envs synthesize (full set) exits 0" $rc
cat "$TMP/full.txt"
read -r envs tasks < <(awk '$1 == "total" {print $2, $3}' "$TMP/full.txt")
[ "${envs:-0}" -ge 1800 ]; check "at least 1,800 environments (${envs:-?})" $?
[ "${tasks:-0}" -ge 85000 ]; check "at least 85,000 tasks (${tasks:-?})" $?
read -r wall user sys <"$TMP/time.txt"
cpu_ms=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%d", (u + s) * 1000}')
echo "full synthesis took ${wall} s wall, $((cpu_ms / 1000)) s CPU"
[ "$cpu_ms" -lt 90000 ]; check "full synthesis well within budget (${cpu_ms} ms of CPU)" $?
# The synthesized environments of the full set all differ in schema and toolset, and each has
# every task family; one of them opens in the sqlite3 shell.
"$DSARL" envs stats --store "$TMP/full" --json >"$TMP/stats.json" 2>/dev/null
check "envs stats (full set)" $?
python3 - "$TMP/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["categories"] if c["category"] == "synthesized"][0]
assert c["environments"] >= 500, c
assert c["distinct_schemas"] == c["environments"], c
assert c["distinct_toolsets"] == c["environments"], c
assert c["families"] == 4, c
print("synthesized:", c)
PY
check "every synthesized environment has its own schema and toolset" $?
first=$(awk '$2 == "synthesized" {print $1; exit}' <("$DSARL" envs list --store "$TMP/full" --category synthesized --limit 1 2>/dev/null))
"$DSARL" envs db "${first:-0}" --store "$TMP/full" --out "$TMP/env.db" >/dev/null 2>&1
check "envs db writes a synthesized environment's database" $?
if command -v sqlite3 >/dev/null; then
  [ "$(sqlite3 "$TMP/env.db" "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'")" -ge 5 ]
  check "the database opens in sqlite3 with its tables" $?
fi
"$DSARL" envs db 1 --store "$TMP/full" --out "$TMP/no.db" >/dev/null 2>&1; rc=$?
[ $rc -ne 0 ]; check "envs db refuses an environment without a database" $?
"$DSARL" envs synthesize --out "$TMP/full" >/dev/null 2>&1; rc=$?
[ $rc -ne 0 ]; check "refuses to synthesize into a store that has environments" $?

# Same seed, same environments and tasks.
for run in a b; do
  "$DSARL" envs synthesize --out "$TMP/$run" --envs-per-category 3 --tasks-per-env 10 --seed 5 \
    --threads $([ $run = a ] && echo 1 || echo 2) >"$TMP/$run.txt" 2>/dev/null
  check "small synthesis $run" $?
done
digest() { sed -n 's/.*digest \([0-9a-f]*\)).*/\1/p' "$1"; }
[ -n "$(digest "$TMP/a.txt")" ] && [ "$(digest "$TMP/a.txt")" = "$(digest "$TMP/b.txt")" ]
check "same seed, same digest ($(digest "$TMP/a.txt"))" $?
"$DSARL" store export "$TMP/a" --cf prompts >"$TMP/a.jsonl" 2>/dev/null
"$DSARL" store export "$TMP/b" --cf prompts >"$TMP/b.jsonl" 2>/dev/null
[ -s "$TMP/a.jsonl" ] && cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl"; check "same seed, same stored prompts" $?
"$DSARL" envs synthesize --out "$TMP/c" --envs-per-category 3 --tasks-per-env 10 --seed 6 \
  >"$TMP/c.txt" 2>/dev/null
[ "$(digest "$TMP/a.txt")" != "$(digest "$TMP/c.txt")" ]; check "another seed, another digest" $?

"$DSARL" envs list --store "$TMP/a" --category logic_grid >"$TMP/stored.txt"
check "envs list --store" $?
[ "$(grep -c ' logic_grid ' "$TMP/stored.txt")" -eq 3 ]; check "envs list --store shows 3 logic_grid envs" $?
"$DSARL" envs show 1 --store "$TMP/a" >"$TMP/show.txt"; check "envs show" $?
grep -q "level 4:" "$TMP/show.txt" && grep -q "solution: </think>" "$TMP/show.txt"
check "envs show prints the ladder and solutions" $?

# Play a trip-planning task: a malformed turn, an unknown tool, then the reference solution.
"$DSARL" envs try trip_planning --env-seed 3 --seed 5 --level 4 --solution </dev/null \
  >"$TMP/try0.txt" 2>&1
grep -A1 -- "--- reference solution turn" "$TMP/try0.txt" | grep '<eos>$' >"$TMP/solution.txt"
[ "$(wc -l <"$TMP/solution.txt")" -ge 3 ]; check "try --solution prints the solution turns" $?
{
  echo '<invoke name="get_all_cities"></invoke><eos>'
  echo '<function_calls><invoke name="no_such_tool"></invoke></function_calls><eos>'
  cat "$TMP/solution.txt"
} | "$DSARL" envs try trip_planning --env-seed 3 --seed 5 --level 4 >"$TMP/try1.txt" 2>&1
rc=$?
check "try with the reference solution exits 0" $rc
grep -q "parse error" "$TMP/try1.txt"; check "try reports a parse error" $?
grep -q "<result>error: there is no tool 'no_such_tool'" "$TMP/try1.txt"
check "try shows the unknown tool as an error observation" $?
grep -q "verdict: score 1 " "$TMP/try1.txt"; check "try verdict is 1" $?
echo "not the answer<eos>" | "$DSARL" envs try trip_planning --env-seed 3 --seed 5 --level 2 \
  >"$TMP/try2.txt" 2>&1
[ $? -eq 1 ] && grep -q "verdict: score 0 " "$TMP/try2.txt"; check "a wrong answer scores 0, exit 1" $?

# A plugin category, played by hand.
"$DSARL" envs try word_sum --plugin "$PLUGIN" --level 1 --solution </dev/null >"$TMP/p0.txt" 2>&1
grep -A1 -- "--- reference solution turn" "$TMP/p0.txt" | grep '<eos>$' >"$TMP/psol.txt"
"$DSARL" envs try word_sum --plugin "$PLUGIN" --level 1 <"$TMP/psol.txt" >"$TMP/p1.txt" 2>&1
check "try a plugin category with its solution" $?

# `try`'s exit codes: 0 passed, 1 failed, 2 usage, 3 the environment failed. The faulty plugin's
# echo tool answers its text; the task (seed 1) is to echo "hello 1" and answer it.
try_faulty() {  # try_faulty NAME TURN...: plays the turns; output in $TMP/NAME.txt, returns the code
  local name="$1"; shift
  printf '%s\n' "$@" | "$DSARL" envs try faulty --plugin "$FAULTY" >"$TMP/$name.txt" 2>&1
}
call() { echo "<function_calls><invoke name=\"$1\">$2</invoke></function_calls><eos>"; }
try_faulty pass "$(call echo '<parameter name="text">hello 1</parameter>')" "hello 1<eos>"; rc=$?
[ $rc -eq 0 ] && grep -q "verdict: score 1 " "$TMP/pass.txt"; check "try: a pass exits 0 (rc $rc)" $?
try_faulty wrong "nope<eos>"; rc=$?
[ $rc -eq 1 ]; check "try: a wrong answer exits 1 (rc $rc)" $?
"$DSARL" envs try no_such_category --plugin "$FAULTY" </dev/null \
  >"$TMP/usage.txt" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "no category 'no_such_category'" "$TMP/usage.txt"
check "try: an unknown category exits 2 (rc $rc)" $?
try_faulty boom "$(call boom '')"; rc=$?
[ $rc -eq 3 ] && grep -q "environment failure: .*tool boom exploded" "$TMP/boom.txt"
check "try: a plugin that throws exits 3 (rc $rc)" $?
try_faulty huge "$(call huge '<parameter name="bytes">314572800</parameter>')"; rc=$?
[ $rc -eq 3 ] && grep -q "its output of 314572800 bytes is over the 4 MiB bound" "$TMP/huge.txt"
check "try: a 300 MiB tool output exits 3 (rc $rc)" $?
try_faulty exit "$(call exit '')"; rc=$?
[ $rc -eq 3 ] && grep -q "ended with exit status 0 during the step of category faulty" "$TMP/exit.txt"
check "try: a plugin calling exit(0) inside a call exits 3 (rc $rc)" $?
grep -- "dsarl envs try:" "$TMP/exit.txt"
! grep -q "verdict:" "$TMP/exit.txt"; check "try: no verdict is printed after exit(0)" $?

# The pass@k filter with a (random, tiny) checkpoint: it plays the model and keeps what it solves.
"$DSARL" model init --config "$SRC/configs/quickstart.textproto" --out "$TMP/ck" >/dev/null 2>&1
check "model init" $?
"$DSARL" envs synthesize --out "$TMP/f" --categories arithmetic --envs-per-category 1 \
  --tasks-per-env 3 --max-level 0 --filter-checkpoint "$TMP/ck" --k 2 --max-new-tokens 8 \
  >"$TMP/f.txt" 2>&1
check "synthesize --filter-checkpoint" $?
grep -q "pass@2 filter with .*: kept [0-3] tasks, removed [0-3]" "$TMP/f.txt"
check "the filter reports what it kept ($(grep 'pass@' "$TMP/f.txt"))" $?

# A checkpoint whose first weight is NaN (float32 0x7fc00000, at the start of the tensor data, after
# the 8-byte header length and the header): refused at load, naming the checkpoint and the tensor.
cp -r "$TMP/ck" "$TMP/nan"
header=$(od -An -tu8 -N8 "$TMP/nan/model.safetensors" | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of="$TMP/nan/model.safetensors" bs=1 seek=$((8 + header)) \
  conv=notrunc status=none
echo "hello" >"$TMP/lines.txt"
"$DSARL" model score --checkpoint "$TMP/nan" --input "$TMP/lines.txt" >"$TMP/nan.out" \
  2>"$TMP/nan.txt"; rc=$?
[ $rc -ne 0 ] && grep -q "$TMP/nan/model.safetensors: tensor .* has 1 non-finite value" "$TMP/nan.txt"
check "model score refuses a NaN checkpoint (rc $rc: $(tail -1 "$TMP/nan.txt"))" $?
[ ! -s "$TMP/nan.out" ]; check "model score prints no scores for it" $?
"$DSARL" envs synthesize --out "$TMP/fnan" --categories arithmetic --envs-per-category 1 \
  --tasks-per-env 3 --max-level 0 --filter-checkpoint "$TMP/nan" --k 2 --max-new-tokens 8 \
  >"$TMP/fnan.txt" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "non-finite value" "$TMP/fnan.txt"
check "the pass@k filter refuses a NaN checkpoint (rc $rc)" $?

if [ $fail -ne 0 ]; then echo "envs cli test FAILED"; exit 1; fi
echo "envs cli test passed"
