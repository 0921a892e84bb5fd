#!/usr/bin/env bash
# Fuzzes one target of tests/fuzz for SECONDS with libFuzzer, ASan and UBSan (docs/fuzzing.md):
# configures build-fuzz/ with clang and DSARL_FUZZ=ON on first use, builds only that target, and
# runs it on a scratch copy of its seed corpus, so new inputs never land in the repository.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#
# TARGET is a tests/fuzz/TARGET_fuzz.cc (config_loader, safetensors, config_json, json,
# tool_call_parser, chat_format). The scratch corpus (build-fuzz/fuzz-corpus/TARGET) is kept
# between runs, so a second run goes on from the first. Crashes, leaks, timeouts and OOMs are
# written to build-fuzz/fuzz-crashes/TARGET/ and listed at the end; the exit status is libFuzzer's.
# DSARL_FUZZ_BUILD_JOBS sets the build's parallelism (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
TARGET=$1
SECONDS_TO_RUN=$2
shift 2
if [ ! -f "tests/fuzz/${TARGET}_fuzz.cc" ]; then
  echo "fuzz.sh: no target '$TARGET'; one of:" \
    "$(cd tests/fuzz && ls ./*_fuzz.cc | sed 's|^./||; s|_fuzz.cc$||' | tr '\n' ' ')" >&2
  exit 2
fi
BUILD_DIR=build-fuzz
# Inputs longer than this are not tried: room for every seed and a few mutations, small enough to
# keep executions fast.
case "$TARGET" in
  json) MAX_LEN=8192 ;;
  *) MAX_LEN=4096 ;;
esac

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  launcher=()
  if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  # -O1 -g without NDEBUG: asserts stay on, stacks stay readable, executions stay fast.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    "${launcher[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DDSARL_FUZZ=ON -DDSARL_BUILD_TESTS=OFF -DDSARL_BUILD_BENCH=OFF -DDSARL_CUDA=OFF
fi
cmake --build "$BUILD_DIR" --target "${TARGET}_fuzz" -j"${DSARL_FUZZ_BUILD_JOBS:-$(nproc)}"

WORK=$(pwd)/$BUILD_DIR/fuzz-corpus/$TARGET
CRASHES=$(pwd)/$BUILD_DIR/fuzz-crashes/$TARGET
mkdir -p "$WORK" "$CRASHES"
cp -n tests/fuzz/corpus/"$TARGET"/* "$WORK"/ 2>/dev/null || true
dict=()
if [ "$TARGET" = config_loader ]; then
  # Every field name of the config schema, so mutations write fields that exist.
  grep -oE '^\s*(optional|repeated|map<[^>]*>)\s+\S+\s+[a-z_0-9]+' proto/config.proto |
    awk '{print "\"" $NF ":\""}' | sort -u >"$BUILD_DIR/config_loader.dict"
  dict=(-dict="$(pwd)/$BUILD_DIR/config_loader.dict")
elif [ -f "tests/fuzz/dicts/$TARGET.dict" ]; then
  dict=(-dict="$(pwd)/tests/fuzz/dicts/$TARGET.dict")
fi
LOG=$(pwd)/$BUILD_DIR/fuzz-$TARGET.log
BIN=$(pwd)/$BUILD_DIR/tests/fuzz/${TARGET}_fuzz
# libFuzzer writes its job logs (with -jobs=N) into the current folder: one per target.
RUN_DIR=$(pwd)/$BUILD_DIR/fuzz-run/$TARGET
mkdir -p "$RUN_DIR"
rm -f "$RUN_DIR"/fuzz-*.log
echo "fuzz.sh: $TARGET for ${SECONDS_TO_RUN}s, corpus $WORK, log $LOG"
status=0
(cd "$RUN_DIR" && "$BIN" "$WORK" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -timeout=10 \
  -max_len="$MAX_LEN" -print_final_stats=1 -artifact_prefix="$CRASHES/" "${dict[@]}" "$@") \
  >"$LOG" 2>&1 || status=$?
# With -jobs the fuzzing itself is logged in the job logs, and the main log holds their copies.
summary=$(cat "$RUN_DIR"/fuzz-*.log 2>/dev/null || cat "$LOG")
echo "$summary" | grep -E '^#[0-9]+' | tail -1 || true
echo "$summary" | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' || true
echo "fuzz.sh: corpus $(find "$WORK" -maxdepth 1 -type f | wc -l) files"
if [ -n "$(ls -A "$CRASHES")" ]; then
  echo "fuzz.sh: crash files (reproduce: $BUILD_DIR/tests/fuzz/${TARGET}_fuzz FILE):"
  ls -l "$CRASHES"
  echo "$summary" | grep -E '^==[0-9]+==ERROR|SUMMARY|fuzz property broken|runtime error' |
    head -5 || true
fi
exit "$status"
