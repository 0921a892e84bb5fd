#!/usr/bin/env bash
# Round trip of dsarl checkpoints with Hugging Face transformers, both ways (scripts/check_hf.py).
# Makes (or reuses) a virtual environment with torch, transformers and safetensors from PyPI, a few
# GB, so it is not part of CI; CI checks transformers' saves from committed files instead
# (tests/model/hf_fixture_test.cc).
#
#   scripts/check_hf.sh [--venv DIR] [--dsarl PATH]
#
# Defaults: --venv .venv-hf (in the repository), --dsarl build/cli/dsarl.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-hf
DSARL=build/cli/dsarl
while [ $# -gt 0 ]; do
  case "$1" in
    --venv) VENV="$2"; shift 2 ;;
    --dsarl) DSARL="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "check_hf.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [ ! -x "$DSARL" ]; then
  echo "check_hf.sh: $DSARL is not an executable; build first (cmake --build build)" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "check_hf.sh: creating $VENV (torch, transformers, safetensors from PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch transformers safetensors
fi
exec "$VENV/bin/python" scripts/check_hf.py --dsarl "$(realpath "$DSARL")"
