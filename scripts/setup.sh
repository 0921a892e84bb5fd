#!/usr/bin/env bash
# Installs everything dsarl needs to build and test, from Debian packages (and the few pip
# packages the tests use as independent references). Safe to run again: it skips what is present.
set -euo pipefail

DEB_PACKAGES=(
  build-essential cmake pkg-config ninja-build clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev librocksdb-dev rocksdb-tools libseccomp-dev libgloo-dev libpcre2-dev libsqlite3-dev sqlite3
  slurmctld slurmd slurm-client munge iproute2
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-openmp-dev libspdlog-dev libfmt-dev
  python3-torch python3-numpy python3-grpcio python3-protobuf
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi

# Reference tools the tests use (never the product): they prove our files and services work with
# the tools users already have. They go to the python3 first on PATH; PyTorch comes from Debian
# (python3-torch above) and tests call it through /usr/bin/python3.
PY=python3
pip_missing=()
for spec in numpy:numpy safetensors:safetensors tensorboard:tensorboard grpcio:grpc protobuf:google.protobuf \
    tokenizers:tokenizers; do
  pkg="${spec%%:*}"; mod="${spec#*:}"
  if ! "$PY" -c "import $mod" >/dev/null 2>&1; then pip_missing+=("$pkg"); fi
done
if [ "${#pip_missing[@]}" -gt 0 ]; then
  echo "setup: installing pip packages: ${pip_missing[*]}"
  "$PY" -m pip install -q "${pip_missing[@]}"
else
  echo "setup: pip packages already installed"
fi
echo "setup: done"
