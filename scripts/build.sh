#!/usr/bin/env bash
# Configures and builds dsarl (Release, all cores) into build/. Extra arguments go to cmake,
# e.g. scripts/build.sh -DDSARL_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${DSARL_BUILD_DIR:-build}"
GEN=()
if command -v ninja >/dev/null 2>&1; then GEN=(-G Ninja); fi
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release "$@"
elif [ "$#" -gt 0 ]; then
  cmake "$BUILD_DIR" "$@"
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
