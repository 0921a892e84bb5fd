#!/usr/bin/env bash
# Sets up a machine, builds dsarl, and runs every test (CTest). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/setup.sh
bash scripts/build.sh
built=$(date +%s)
echo "test.sh: build finished in $((built - start)) s"
cd "${DSARL_BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" --timeout 900
echo "test.sh: tests finished in $(( $(date +%s) - built )) s"
