#!/usr/bin/env bash
# The checks that need a GPU, for a machine that has one but none of our Debian packages:
#   scripts/device_check.sh pack DIR   (here, after a build) copies the GPU test binaries and every
#                                      shared library they load into DIR, but the C library, the
#                                      CUDA driver and the CUDA toolkit's own (NCCL, 200+ MB: the
#                                      GPU machine has the toolkit), to fit a 64 MiB carry
#   scripts/device_check.sh run DIR    (on the GPU machine) runs them with DIR's libraries and
#                                      prints each test's result; exit 1 when any failed
# The binaries: the NCCL backend's world-of-one collectives and a GRPO step whose gradient goes
# through it (tests/learner/nccl_test), and the model's CUDA tests when built.
set -euo pipefail
BUILD="${BUILD:-build}"
TESTS=(tests/learner/nccl_test)
case "${1:-}" in
  pack)
    out="$2"
    mkdir -p "$out/bin" "$out/lib"
    for t in "${TESTS[@]}"; do
      [ -x "$BUILD/$t" ] || { echo "device_check: $BUILD/$t is not built"; exit 1; }
      cp "$BUILD/$t" "$out/bin/"
      ldd "$BUILD/$t" | awk '/=> \//{print $3}' | while read -r lib; do
        case "$lib" in /usr/local/cuda*) continue ;; esac
        case "$(basename "$lib")" in
          libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux*) ;;
          libcuda.so* | libnvidia*) ;;  # the GPU machine's driver
          *) cp -L "$lib" "$out/lib/" ;;
        esac
      done
    done
    cp "$0" "$out/"
    echo "device_check: packed ${#TESTS[@]} binaries and $(ls "$out/lib" | wc -l) libraries in $out"
    ;;
  run)
    dir="$2"
    export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    rc=0
    for b in "$dir"/bin/*; do
      echo "== $(basename "$b")"
      "$b" --gtest_brief=1 || rc=1
    done
    exit "$rc"
    ;;
  *)
    echo "usage: scripts/device_check.sh pack DIR | run DIR" >&2
    exit 2
    ;;
esac
